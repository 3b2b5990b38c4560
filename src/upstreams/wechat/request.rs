//! WeChat requests: the (stable or classic) access token, after-sales of an order, order details.

use alloc::string::String;

use serde_json::{Map, Value};

use crate::protocol::http::{self, Method, Request};
pub use crate::protocol::upstream::OrderRef;

/// `POST /cgi-bin/stable_token`: the token shared by every caller of the appid; fetching it does
/// not invalidate the previous one (unless `force_refresh`).
pub fn stable_token_request(base_url: &str, appid: &str, secret: &str, force_refresh: bool) -> Request {
    let mut body = Map::new();
    body.insert("grant_type".into(), "client_credential".into());
    body.insert("appid".into(), appid.into());
    body.insert("secret".into(), secret.into());
    body.insert("force_refresh".into(), force_refresh.into());
    let url = http::url_with_query(base_url, "/cgi-bin/stable_token", &[]);
    http::json_post(url, serde_json::to_vec(&Value::Object(body)).unwrap_or_default())
}

/// `GET /cgi-bin/token`: the classic token. Fetching it invalidates the previous one, which is
/// why one Durable Object owns it for every isolate.
pub fn classic_token_request(base_url: &str, appid: &str, secret: &str) -> Request {
    let url = http::url_with_query(
        base_url,
        "/cgi-bin/token",
        &[("grant_type", "client_credential"), ("appid", appid), ("secret", secret)],
    );
    Request { method: Method::Get, url, headers: alloc::vec![], body: alloc::vec![] }
}

/// Ids are numbers in WeChat's examples; send digits as a number, anything else as a string.
fn id_value(id: &str) -> Value {
    match id.parse::<u64>() {
        Ok(n) if !id.starts_with('0') || id == "0" => Value::from(n),
        _ => Value::from(id),
    }
}

/// `POST /shop/aftersale/get` (seed 000): after-sales of one order of one buyer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WechatShopAfterSales {
    pub order: OrderRef,
    pub openid: String,
}

impl WechatShopAfterSales {
    pub fn to_request(&self, base_url: &str, access_token: &str) -> Request {
        let mut body = Map::new();
        match &self.order {
            OrderRef::OrderId(id) => body.insert("order_id".into(), id_value(id)),
            OrderRef::OutOrderId(id) => body.insert("out_order_id".into(), id.as_str().into()),
        };
        body.insert("openid".into(), self.openid.as_str().into());
        let url = http::url_with_query(base_url, "/shop/aftersale/get", &[("access_token", access_token)]);
        http::json_post(url, serde_json::to_vec(&Value::Object(body)).unwrap_or_default())
    }
}

/// `POST /product/order/get` (seed 002): one Mini Store order.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WechatStoreOrderGet {
    pub order_id: String,
}

impl WechatStoreOrderGet {
    pub fn to_request(&self, base_url: &str, access_token: &str) -> Request {
        let mut body = Map::new();
        body.insert("order_id".into(), id_value(&self.order_id));
        let url = http::url_with_query(base_url, "/product/order/get", &[("access_token", access_token)]);
        http::json_post(url, serde_json::to_vec(&Value::Object(body)).unwrap_or_default())
    }
}

/// `GET /sns/jscode2session`: a mini program's `wx.login()` code for the buyer's openid. The
/// code works once and for five minutes; the secret travels in the query, as documented.
pub fn jscode2session_request(base_url: &str, appid: &str, secret: &str, code: &str) -> Request {
    let url = http::url_with_query(
        base_url,
        "/sns/jscode2session",
        &[("appid", appid), ("secret", secret), ("js_code", code), ("grant_type", "authorization_code")],
    );
    Request { method: Method::Get, url, headers: alloc::vec![], body: alloc::vec![] }
}
