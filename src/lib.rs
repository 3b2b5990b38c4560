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

pub use protocol::{account, call, cursor, http, lease, pacing, paginate, query, retry, token, upstream};

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

/// Normalizes one upstream page, with the upstream's total where it gives one.
pub fn normalize_page(platform: Platform, body: &str, options: NormalizeOptions) -> Result<Page<'_>, Error> {
    let body = strip_bom(body);
    match parse_page(platform, body, options) {
        Err(Error::Parse(e)) => {
            read_tolerantly(body, e, |repaired| parse_page(platform, repaired, options).map(Page::into_owned))
        }
        other => other,
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
    // Syntactically valid JSON failed on its content (a wrong type, a missing member): there
    // is nothing to repair. This second parse runs on the error path only.
    if serde_json::from_str::<serde::de::IgnoredAny>(body).is_ok() {
        return Err(Error::Parse(strict));
    }
    match parse::tolerant::repair(body) {
        Ok(repaired) => normalize(&repaired).map_err(|e| match e {
            // Positions and text would be those of the repaired copy: point at the original.
            Error::Parse(mut p) => {
                let message = parse::wire::strip_position(&p.message);
                p.message = alloc::format!("{message} (in the body read as documentation-style JSON)");
                p.offset = None;
                p.body = String::from(body);
                Error::Parse(p)
            }
            other => other,
        }),
        Err(why) => {
            let mut strict = strict;
            strict.message = alloc::format!(
                "{}; the tolerant reading of documentation-style JSON failed too: {why}",
                strict.message
            );
            Err(Error::Parse(strict))
        }
    }
}

/// Normalizes a list body straight into the JSON array of SPEC.md §2: the fast path for the
/// Worker and the npm module, which hand text across their boundaries.
pub fn normalize_json(platform: Platform, body: &str, options: NormalizeOptions) -> Result<String, Error> {
    let page = normalize_page(platform, body, options)?;
    write_json(&page.records, body.len())
}

/// The records as a JSON array. With `std`, into a buffer sized up front: the output is about
/// as long as the input, and growing a 10 MB string by doubling copies it twice over
/// (serde_json's writer API exists only with its `std` feature).
#[cfg(feature = "std")]
fn write_json(records: &[AfterSale<'_>], size_hint: usize) -> Result<String, Error> {
    let mut out = Vec::with_capacity(size_hint + size_hint / 4);
    let mut serializer = serde_json::Serializer::new(&mut out);
    serde::Serialize::serialize(records, &mut serializer).map_err(serialization)?;
    // serde_json writes only valid UTF-8.
    String::from_utf8(out).map_err(|_| Error::Serialize(String::from("the output is not UTF-8")))
}

#[cfg(not(feature = "std"))]
fn write_json(records: &[AfterSale<'_>], _size_hint: usize) -> Result<String, Error> {
    serde_json::to_string(records).map_err(serialization)
}

fn serialization(e: serde_json::Error) -> Error {
    Error::Serialize(alloc::string::ToString::to_string(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

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
