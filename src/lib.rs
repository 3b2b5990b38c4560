//! `aftersale`: one normalized view of after-sales (refunds, returns, exchanges) across WeChat
//! Mini Program shops, the WeChat Mini Store, Xiaoe-tech and Lingxing ERP.
//!
//! The crate is sans-IO: it builds and signs upstream requests, decides pagination, pacing,
//! retries and token refresh, and normalizes responses. It never opens a socket or reads a clock;
//! time comes in as an argument. `#![no_std]` + `alloc`, so it runs the same natively, in a
//! Cloudflare Worker and in the browser.
//!
//! ```
//! use aftersale::{normalize, Platform};
//! let body = r#"{"code":0,"msg":"ok","data":{"list":[],"row_count":0}}"#;
//! let records: Vec<aftersale::AfterSale> = normalize(Platform::Xiaoe, body)?;
//! assert!(records.is_empty());
//! # Ok::<(), aftersale::Error>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

// The layers: the normalized model, reading upstream bodies, the sans-IO protocol, and one
// folder per upstream holding everything about it.
pub mod model;
mod parse;
pub mod protocol;

pub mod error;
pub mod upstreams;

// Each upstream's folder at the crate's root (`aftersale::lingxing::sign`, SPEC.md §6).
pub use upstreams::*;

// The paths of earlier releases (SPEC.md §6 and the adapters use them).
pub use model::{money, time};

pub use protocol::{account, call, cursor, http, lease, pacing, paginate, query, retry, sync, token, upstream};

use alloc::string::String;
use alloc::vec::Vec;

pub use error::{Error, ErrorCode};
pub use model::{AfterSale, Kind, Order, OrderStatus, Platform, Status};
pub use money::{Currency, Money};
pub use parse::normalize::{NormalizeOptions, Page};
pub use time::{Date, Timestamp};

/// Normalizes an upstream list body into after-sales (SPEC.md §6).
///
/// `wechat_store` answers with an order, not after-sales: use [`normalize_order`] for it.
pub fn normalize(platform: Platform, body: &str) -> Result<Vec<AfterSale<'_>>, Error> {
    normalize_page(platform, body, NormalizeOptions::default()).map(|p| p.records)
}

/// Normalizes one upstream page, with the upstream's total where it gives one. Records borrow
/// from `body`; from a body that had to be repaired (documentation-style JSON) they are copied
/// out of the repaired text. [`Body`] keeps that text for the caller and copies nothing.
pub fn normalize_page(platform: Platform, body: &str, options: NormalizeOptions) -> Result<Page<'_>, Error> {
    let body = strip_bom(body);
    match parse_page(platform, body, options) {
        Err(Error::Parse(e)) => {
            read_tolerantly(body, e, |repaired| parse_page(platform, repaired, options).map(Page::into_owned))
        }
        other => other,
    }
}

/// An upstream body as normalization reads it. When the body is documentation-style JSON (the
/// seeds' own examples) the repaired text is kept here, so the records borrow from it as they
/// would from the original, and nothing is copied record by record.
pub struct Body<'a> {
    text: &'a str,
    repaired: core::cell::OnceCell<String>,
}

impl<'a> Body<'a> {
    pub fn new(text: &'a str) -> Body<'a> {
        Body { text: strip_bom(text), repaired: core::cell::OnceCell::new() }
    }

    /// As [`normalize_page`], the records borrowing from this body or its repaired text.
    pub fn normalize_page(&self, platform: Platform, options: NormalizeOptions) -> Result<Page<'_>, Error> {
        match parse_page(platform, self.text, options) {
            Err(Error::Parse(e)) => {
                let repaired = self.repaired(e)?;
                parse_page(platform, repaired, options).map_err(|e| self.point_at_original(e))
            }
            other => other,
        }
    }

    /// As [`normalize_order_of`], the order borrowing from this body or its repaired text.
    pub fn normalize_order(&self, platform: Platform, options: NormalizeOptions) -> Result<Order<'_>, Error> {
        let upstream = platform.upstream();
        match upstream.parse_order(self.text, options) {
            Err(Error::Parse(e)) => {
                let repaired = self.repaired(e)?;
                upstream.parse_order(repaired, options).map_err(|e| self.point_at_original(e))
            }
            other => other,
        }
    }

    fn repaired(&self, strict: error::ParseError) -> Result<&str, Error> {
        if let Some(r) = self.repaired.get() {
            return Ok(r);
        }
        let repaired = repair_or_explain(self.text, strict)?;
        Ok(self.repaired.get_or_init(|| repaired))
    }

    fn point_at_original(&self, e: Error) -> Error {
        point_at_original(self.text, e)
    }
}

fn parse_page(platform: Platform, body: &str, options: NormalizeOptions) -> Result<Page<'_>, Error> {
    platform.upstream().parse_page(body, options)
}

/// Normalizes an order-details body of the platform that answers orders (the WeChat Mini
/// Store's `/product/order/get`).
pub fn normalize_order(body: &str, options: NormalizeOptions) -> Result<Order<'_>, Error> {
    let answers_orders = |p: &Platform| p.upstream().lookups().contains(&upstream::LookupKind::Order);
    match Platform::ALL.into_iter().find(answers_orders) {
        Some(platform) => normalize_order_of(platform, body, options),
        None => Err(Error::invalid_request("platform", "no platform answers orders")),
    }
}

/// Normalizes an order-details body of `platform`.
pub fn normalize_order_of(platform: Platform, body: &str, options: NormalizeOptions) -> Result<Order<'_>, Error> {
    let body = strip_bom(body);
    let upstream = platform.upstream();
    match upstream.parse_order(body, options) {
        Err(Error::Parse(e)) => {
            read_tolerantly(body, e, |repaired| upstream.parse_order(repaired, options).map(Order::into_owned))
        }
        other => other,
    }
}

/// A byte-order mark is not JSON, but servers (PHP ones especially) put one before it.
fn strip_bom(body: &str) -> &str {
    body.strip_prefix('\u{feff}').unwrap_or(body)
}

/// The second chance for a body that is not JSON: documentation-style text (the seeds' own
/// examples) is repaired by [`tolerant::repair`] and normalized again. Only syntax errors get
/// here; valid JSON of the wrong shape is reported as it is. If the repair fails too, the
/// strict error is the one returned, saying why the tolerant reading failed as well.
fn read_tolerantly<T>(
    body: &str,
    strict: error::ParseError,
    normalize: impl FnOnce(&str) -> Result<T, Error>,
) -> Result<T, Error> {
    let repaired = repair_or_explain(body, strict)?;
    normalize(&repaired).map_err(|e| point_at_original(body, e))
}

/// The repaired text of a body that is not JSON, or the strict error (saying why the tolerant
/// reading failed too). Syntactically valid JSON that failed on its content (a wrong type, a
/// missing member) has nothing to repair: its error is returned as it is. The second parse
/// here runs on the error path only.
fn repair_or_explain(body: &str, strict: error::ParseError) -> Result<String, Error> {
    if serde_json::from_str::<serde::de::IgnoredAny>(body).is_ok() {
        return Err(Error::Parse(strict));
    }
    parse::tolerant::repair(body).map_err(|why| {
        let mut strict = strict;
        strict.message =
            alloc::format!("{}; the tolerant reading of documentation-style JSON failed too: {why}", strict.message);
        Error::Parse(strict)
    })
}

/// Positions and text of an error in the repaired copy would mislead: point at the original.
fn point_at_original(body: &str, e: Error) -> Error {
    match e {
        Error::Parse(mut p) => {
            let message = parse::wire::strip_position(&p.message);
            p.message = alloc::format!("{message} (in the body read as documentation-style JSON)");
            p.offset = None;
            p.body = String::from(body);
            Error::Parse(p)
        }
        other => other,
    }
}

/// Normalizes a list body straight into the JSON array of SPEC.md §2: the fast path for the
/// Worker and the npm module, which hand text across their boundaries.
pub fn normalize_json(platform: Platform, body: &str, options: NormalizeOptions) -> Result<String, Error> {
    let body = Body::new(body);
    let page = body.normalize_page(platform, options)?;
    write_json(&page.records, body.text.len())
}

/// The records as a JSON array, written by `model::json` (the text serde_json would write) into
/// a buffer sized up front: the output is about as long as the input, and growing a 10 MB
/// buffer by doubling copies it twice over.
fn write_json(records: &[AfterSale<'_>], size_hint: usize) -> Result<String, Error> {
    let mut out = Vec::with_capacity(size_hint + size_hint / 4);
    model::json::write_after_sales(records, &mut out);
    // Only whole `&str`s and ASCII are written.
    String::from_utf8(out).map_err(|_| Error::Serialize(String::from("the output is not UTF-8")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A documentation-style body (single quotes, no commas) normalizes through `Body` to the
    /// same records as through `normalize`, borrowing from the kept repaired text.
    #[test]
    fn body_keeps_the_repaired_text_and_borrows_from_it() {
        let body = "{'code':0\n'data':{'list':[{'aftersale_id':'A1','sale_type':1,'state':13,\n\
            'created_at':'2023-02-13 18:34:18','goods_list':[]}],'row_count':1}}";
        let owned = normalize(Platform::Xiaoe, body).unwrap();
        let kept = Body::new(body);
        let page = kept.normalize_page(Platform::Xiaoe, NormalizeOptions::default()).unwrap();
        assert_eq!(serde_json::to_string(&page.records).unwrap(), serde_json::to_string(&owned).unwrap());
        assert!(matches!(page.records[0].aftersale_id, alloc::borrow::Cow::Borrowed("A1")));
        // The JSON fast path reads it the same way.
        let json = normalize_json(Platform::Xiaoe, body, NormalizeOptions::default()).unwrap();
        assert_eq!(json, serde_json::to_string(&owned).unwrap());
        // A body that is neither JSON nor repairable says both.
        let broken = Body::new("{'code':0, 'data':");
        let e = broken.normalize_page(Platform::Xiaoe, NormalizeOptions::default()).unwrap_err();
        assert!(alloc::format!("{e}").contains("tolerant reading"), "{e}");
    }

    /// Both ways of writing the array (with and without `std`) give the serializer's own text.
    #[test]
    fn normalize_json_is_the_records_as_json() {
        let body = r#"{"code":0,"data":{"list":[{"aftersale_id":"A1","sale_type":2,"state":12,"refund_money":1990,
            "created_at":"2023-02-13 18:34:18","goods_list":[{"buy_num":1,"goods_name":"书","goods_price":20}]}],"row_count":1}}"#;
        let json = normalize_json(Platform::Xiaoe, body, NormalizeOptions::default()).unwrap();
        let records = normalize(Platform::Xiaoe, body).unwrap();
        assert_eq!(json, serde_json::to_string(&records).unwrap());
        assert!(json.contains(r#""refund":{"currency":"CNY","minor":1990,"decimal":"19.90"}"#), "{json}");
        assert!(json.contains(r#""created_at":"2023-02-13T18:34:18+08:00""#), "{json}");
        assert!(json.contains(r#""id":"xiaoe:A1""#), "{json}");
    }
}
