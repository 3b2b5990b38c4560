//! WeChat Channels requests: the shop's stable token, the after-sale id list by time, and one
//! after-sale by id (facts §2.3, §4.1, §5.1). Every call is a JSON `POST` with the token in the
//! query.

use alloc::format;
use alloc::string::String;

use serde_json::{Map, Value};

use crate::protocol::http::{self, Request};
use crate::Error;

/// The longest window `getaftersalelist` accepts, in seconds (§4.1; longer is error 10020004).
pub const MAX_WINDOW_S: i64 = 86_400;

/// Which time the list window filters on: the after-sale's creation or its last update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeField {
    Created,
    Updated,
}

impl TimeField {
    /// The body's key pair: one complete pair is required, never both (§4.1).
    const fn keys(self) -> (&'static str, &'static str) {
        match self {
            TimeField::Created => ("begin_create_time", "end_create_time"),
            TimeField::Updated => ("begin_update_time", "end_update_time"),
        }
    }
}

/// `POST /channels/ec/aftersale/getaftersalelist`: after-sale ids in a window of unix seconds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChannelsAfterSaleList {
    pub field: TimeField,
    pub begin_s: i64,
    pub end_s: i64,
    /// The previous page's `next_key`; `None` on the first page.
    pub next_key: Option<String>,
}

impl ChannelsAfterSaleList {
    /// Refuses a window the upstream would refuse (longer than 24 h, reversed, before 1970):
    /// sending it would only earn a 10020004.
    pub fn to_request(&self, base_url: &str, access_token: &str) -> Result<Request, Error> {
        let (begin_key, end_key) = self.field.keys();
        if self.begin_s < 0 {
            return Err(Error::invalid_request(begin_key, format!("{} is before 1970", self.begin_s)));
        }
        if self.end_s < self.begin_s {
            return Err(Error::invalid_request(
                end_key,
                format!("the window ends ({}) before it begins ({})", self.end_s, self.begin_s),
            ));
        }
        // Written so that no subtraction can overflow: begin_s is non-negative here.
        if self.end_s - self.begin_s > MAX_WINDOW_S {
            return Err(Error::invalid_request(
                end_key,
                format!(
                    "the window is {} s long; getaftersalelist takes at most {MAX_WINDOW_S} s (24 h)",
                    self.end_s - self.begin_s
                ),
            ));
        }
        let mut body = Map::new();
        body.insert(begin_key.into(), self.begin_s.into());
        body.insert(end_key.into(), self.end_s.into());
        if let Some(key) = self.next_key.as_deref().filter(|k| !k.is_empty()) {
            body.insert("next_key".into(), key.into());
        }
        Ok(post(base_url, "/channels/ec/aftersale/getaftersalelist", access_token, body))
    }
}

/// `POST /channels/ec/aftersale/getaftersaleorder`: one after-sale by its id.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChannelsAfterSaleGet {
    pub after_sale_order_id: String,
}

impl ChannelsAfterSaleGet {
    /// The id goes out as the JSON string it is (16–19 digits, beyond 2^53): never as a
    /// number, which readers of the body could round.
    pub fn to_request(&self, base_url: &str, access_token: &str) -> Result<Request, Error> {
        let id = self.after_sale_order_id.as_str();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) || id.len() > 32 {
            return Err(Error::invalid_request(
                "aftersale_id",
                format!("{id:?} is not a wechat_channels after-sale id (a string of up to 32 digits)"),
            ));
        }
        let mut body = Map::new();
        body.insert("after_sale_order_id".into(), id.into());
        Ok(post(base_url, "/channels/ec/aftersale/getaftersaleorder", access_token, body))
    }
}

fn post(base_url: &str, path: &str, access_token: &str, body: Map<String, Value>) -> Request {
    let url = http::url_with_query(base_url, path, &[("access_token", access_token)]);
    http::json_post(url, serde_json::to_vec(&Value::Object(body)).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::http::Method;
    use alloc::string::ToString;

    fn body(r: &Request) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn list_by_create_and_update_time() {
        let mut spec =
            ChannelsAfterSaleList { field: TimeField::Created, begin_s: 1658911158, end_s: 1658912158, next_key: None };
        let r = spec.to_request("https://api.weixin.qq.com", "TOKEN").unwrap();
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.url, "https://api.weixin.qq.com/channels/ec/aftersale/getaftersalelist?access_token=TOKEN");
        assert_eq!(body(&r), serde_json::json!({"begin_create_time": 1658911158, "end_create_time": 1658912158}));

        spec.field = TimeField::Updated;
        spec.next_key = Some("THE_NEXT_KEY".into());
        let r = spec.to_request("https://api.weixin.qq.com", "TOKEN").unwrap();
        assert_eq!(
            body(&r),
            serde_json::json!({"begin_update_time": 1658911158, "end_update_time": 1658912158, "next_key": "THE_NEXT_KEY"})
        );
    }

    #[test]
    fn windows_over_a_day_are_never_built() {
        let spec = |begin_s, end_s| ChannelsAfterSaleList { field: TimeField::Updated, begin_s, end_s, next_key: None };
        assert!(spec(0, MAX_WINDOW_S).to_request("http://127.0.0.1", "T").is_ok());
        let e = spec(1_700_000_000, 1_700_000_000 + MAX_WINDOW_S + 1).to_request("http://127.0.0.1", "T").unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::InvalidRequest);
        assert!(e.to_string().contains("end_update_time") && e.to_string().contains("86401"), "{e}");
        assert!(spec(10, 9).to_request("http://127.0.0.1", "T").is_err());
        assert!(spec(-1, 5).to_request("http://127.0.0.1", "T").is_err());
        assert!(spec(0, i64::MAX).to_request("http://127.0.0.1", "T").is_err());
    }

    #[test]
    fn detail_sends_the_id_as_a_string() {
        let id = "9223372036854775807123"; // beyond u64 as well as 2^53
        let r = ChannelsAfterSaleGet { after_sale_order_id: id.into() }.to_request("http://127.0.0.1:9", "T").unwrap();
        assert_eq!(r.url, "http://127.0.0.1:9/channels/ec/aftersale/getaftersaleorder?access_token=T");
        assert_eq!(core::str::from_utf8(&r.body).unwrap(), format!(r#"{{"after_sale_order_id":"{id}"}}"#));
        for bad in ["", "12a", "1 2", "-1"] {
            let e = ChannelsAfterSaleGet { after_sale_order_id: bad.into() }.to_request("http://x", "T").unwrap_err();
            assert!(e.to_string().contains("aftersale_id"), "{e}");
        }
    }

    #[test]
    fn token_uses_the_shops_appid() {
        use crate::protocol::account::{Account, Credentials};
        use crate::protocol::upstream::TokenAsk;
        let credentials = Credentials::new().with("appid", "wxshop").with("secret", "S");
        let account = Account::new(crate::Platform::WechatChannels, credentials);
        let r =
            crate::Platform::WechatChannels.upstream().token_request(&account, TokenAsk::default()).unwrap().request;
        assert_eq!(r.url, "https://api.weixin.qq.com/cgi-bin/stable_token");
        assert_eq!(
            body(&r),
            serde_json::json!({"grant_type": "client_credential", "appid": "wxshop", "secret": "S", "force_refresh": false})
        );
    }
}
