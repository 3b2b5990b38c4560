//! Lingxing requests: token, refresh, and the signed after-sale list.

use alloc::string::{String, ToString};

use serde_json::{Map, Value};

use crate::model::time::Date;
use crate::model::Kind;
use crate::protocol::http::{self, Method, Request};
use crate::protocol::query::DateField;
use crate::protocol::upstream::ListPage;
use crate::Error;

fn form_post(url: String, fields: &[(&str, &str)]) -> Request {
    Request {
        method: Method::Post,
        url,
        headers: alloc::vec![("content-type", String::from("application/x-www-form-urlencoded"))],
        body: http::form_body(fields),
    }
}

/// `POST /api/auth-server/oauth/access-token` with form fields `appId`, `appSecret`.
pub fn token_request(base_url: &str, app_id: &str, app_secret: &str) -> Request {
    let url = http::url_with_query(base_url, "/api/auth-server/oauth/access-token", &[]);
    form_post(url, &[("appId", app_id), ("appSecret", app_secret)])
}

/// `POST /api/auth-server/oauth/refresh` with `appId`, `refreshToken` (single-use).
pub fn refresh_request(base_url: &str, app_id: &str, refresh_token: &str) -> Request {
    let url = http::url_with_query(base_url, "/api/auth-server/oauth/refresh", &[]);
    form_post(url, &[("appId", app_id), ("refreshToken", refresh_token)])
}

/// The public client's cap on `length` (UPSTREAMS.md); the documented default is 1000.
pub const MAX_PAGE_LENGTH: u32 = 5000;
/// Exports ask for the largest page the upstream serves: one call in flight at a time makes
/// the number of calls what bounds an export.
pub const EXPORT_PAGE_LENGTH: u32 = MAX_PAGE_LENGTH;
pub const LIST_PATH: &str = "/erp/sc/routing/amzod/order/afterSaleList";

/// One page of `POST /erp/sc/routing/amzod/order/afterSaleList`.
///
/// `from`/`to` go out unchanged as `start_date`/`end_date`, and Lingxing reads them on the clock
/// of the field `date_field` selects (UPSTREAMS.md):
/// - [`DateField::Created`] → `date_type` 1, the after-sale time `deal_time`: dates in each
///   record's **site time** (its marketplace's local time, e.g. Los Angeles for amazon.com), not
///   China dates; one query may span shops on different clocks, so they are not converted;
/// - [`DateField::Updated`] → `date_type` 3, the update time `gmt_modified`: **Beijing** dates;
/// - [`DateField::Refunded`] has no Lingxing filter and is refused before a request is built.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LingxingAfterSaleList {
    /// Half-open `[start_date, end_date)`, as Lingxing takes it.
    pub from: Date,
    pub to: Date,
    pub date_field: DateField,
    pub offset: u64,
    pub length: u32,
    pub kind: Option<Kind>,
    pub amazon_order_id: Option<String>,
}

impl LingxingAfterSaleList {
    pub fn for_page(page: &ListPage) -> LingxingAfterSaleList {
        LingxingAfterSaleList {
            from: page.from,
            to: page.to,
            date_field: page.date_field,
            offset: page.offset,
            length: page.page_size,
            kind: page.kind,
            amazon_order_id: page.order_id.clone(),
        }
    }

    /// The JSON body's parameters.
    pub fn body(&self) -> Map<String, Value> {
        let mut body = Map::new();
        body.insert("start_date".into(), self.from.to_string().into());
        body.insert("end_date".into(), self.to.to_string().into());
        // 1: after-sale time (deal_time, site dates), 3: update time (gmt_modified, Beijing
        // dates). Refund date is refused in ListQuery.
        let date_type = match self.date_field {
            DateField::Created | DateField::Refunded => 1,
            DateField::Updated => 3,
        };
        body.insert("date_type".into(), date_type.into());
        body.insert("offset".into(), self.offset.into());
        body.insert("length".into(), self.length.into());
        if let Some(kind) = self.kind {
            let after_type = match kind {
                Kind::Refund => "1",
                Kind::ReturnRefund => "2",
                Kind::Exchange => "3",
            };
            body.insert("after_type".into(), after_type.into());
        }
        if let Some(id) = &self.amazon_order_id {
            body.insert("amazon_order_id_list".into(), Value::Array(alloc::vec![id.as_str().into()]));
        }
        body
    }

    /// The signed request: the query carries `access_token`, `app_key`, `timestamp`, `sign`.
    pub fn to_request(
        &self,
        base_url: &str,
        app_id: &str,
        access_token: &str,
        now_unix_s: u64,
    ) -> Result<Request, Error> {
        signed_post(base_url, LIST_PATH, self.body(), app_id, access_token, now_unix_s)
    }
}

/// Signs `body` together with the common query parameters and builds the POST.
pub fn signed_post(
    base_url: &str,
    path: &str,
    body: Map<String, Value>,
    app_id: &str,
    access_token: &str,
    now_unix_s: u64,
) -> Result<Request, Error> {
    let timestamp = now_unix_s.to_string();
    let mut signed = body.clone();
    signed.insert("access_token".into(), access_token.into());
    signed.insert("app_key".into(), app_id.into());
    signed.insert("timestamp".into(), timestamp.as_str().into());
    let sign = super::sign(&signed, app_id)?;
    let url = http::url_with_query(
        base_url,
        path,
        &[("access_token", access_token), ("app_key", app_id), ("timestamp", &timestamp), ("sign", &sign)],
    );
    let body = serde_json::to_vec(&Value::Object(body)).unwrap_or_default();
    Ok(http::json_post(url, body))
}
