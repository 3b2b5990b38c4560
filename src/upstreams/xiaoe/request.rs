//! Xiaoe requests: the token and the after-sale list.

use crate::model::time::Date;
use crate::protocol::http::{self, Method, Request};
use crate::protocol::pacing::RateLimit;
use crate::protocol::query::DateField;
use crate::protocol::upstream::ListPage;

/// `GET /token?app_id&client_id&secret_key&grant_type=client_credential`.
pub fn token_request(base_url: &str, app_id: &str, client_id: &str, secret_key: &str) -> Request {
    let url = http::url_with_query(
        base_url,
        "/token",
        &[
            ("app_id", app_id),
            ("client_id", client_id),
            ("secret_key", secret_key),
            ("grant_type", "client_credential"),
        ],
    );
    Request { method: Method::Get, url, headers: alloc::vec![], body: alloc::vec![] }
}

/// 300 a minute, paced over 61 s: the upstream counts arrivals, we count departures, and a
/// request that spends longer in transit than the one 300 before it would otherwise land as
/// the 301st of some minute (seen end to end). The second costs under 2 %.
pub const RATE_LIMIT: RateLimit = RateLimit::Window { limit: 300, window_ms: 61_000 };

/// Xiaoe's largest page.
pub const MAX_PAGE_SIZE: u32 = 100;
/// Xiaoe's longest time window, in days (assumed from its order list, UPSTREAMS.md).
pub const MAX_WINDOW_DAYS: i64 = 31;

/// One page of `POST /xe.ecommerce.after_sale.list/1.0.0`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct XiaoeAfterSaleList {
    /// Half-open `[from, to)`; sent as the inclusive `from||to-1day`.
    pub from: Date,
    pub to: Date,
    pub date_field: DateField,
    /// 1-based.
    pub page_index: u64,
    pub page_size: u32,
    pub order_id: Option<alloc::string::String>,
}

impl XiaoeAfterSaleList {
    /// The page holding the record at `page.offset` (pages are numbered from 1).
    pub fn for_page(page: &ListPage) -> XiaoeAfterSaleList {
        let size = page.page_size.max(1);
        XiaoeAfterSaleList {
            from: page.from,
            to: page.to,
            date_field: page.date_field,
            page_index: page.offset / u64::from(size) + 1,
            page_size: size,
            order_id: page.order_id.clone(),
        }
    }

    pub fn to_request(&self, base_url: &str, access_token: &str) -> Request {
        let range = alloc::format!("{}||{}", self.from, self.to.add_days(-1));
        let date_type = match self.date_field {
            DateField::Created => "created_at",
            DateField::Updated => "updated_at",
            DateField::Refunded => "refund_time",
        };
        let mut body = serde_json::Map::new();
        body.insert("access_token".into(), access_token.into());
        body.insert("page_size".into(), self.page_size.into());
        body.insert("page_index".into(), self.page_index.into());
        body.insert("created_at".into(), range.into());
        body.insert("date_type".into(), date_type.into());
        if let Some(order_id) = &self.order_id {
            body.insert("order_id".into(), order_id.as_str().into());
        }
        let url = http::url_with_query(base_url, "/xe.ecommerce.after_sale.list/1.0.0", &[]);
        http::json_post(url, serde_json::to_vec(&body).unwrap_or_default())
    }
}
