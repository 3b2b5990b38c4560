//! WeChat: the transaction component's after-sales (`shop`, seed 000) and the Mini Store's order
//! details (`store`, seed 002). Both share one appid, one access token and one error table.

use crate::error::UpstreamClass;
use crate::model::Platform;
use crate::normalize;
use crate::wire::{wire_struct, Int, Text};
use crate::Error;

pub mod request;
pub mod shop;
pub mod store;

/// WeChat's `errcode` table (UPSTREAMS.md and seed 002).
pub fn classify(errcode: i64) -> UpstreamClass {
    match errcode {
        -1 => UpstreamClass::Transient,
        40001 | 42001 | 40014 => UpstreamClass::TokenRejected,
        -2 | 40013 | 40125 | 48001 | 61004 | 45035 | 40164 => UpstreamClass::Auth,
        45011 => UpstreamClass::RateLimited,
        45009 => UpstreamClass::QuotaExhausted,
        9401020 | 47001 | 40097 => UpstreamClass::InvalidParameter,
        _ => UpstreamClass::Other,
    }
}

wire_struct! {
    /// `{errcode, errmsg}`: read alone when the full shape does not parse, so an upstream error
    /// is reported as itself rather than as a parse error.
    pub struct WechatStatus<'a> {
        errcode: Int,
        errmsg: Text<'a>,
    }
}

/// `errcode` 0 or absent is success (WeChat omits it on some successful answers).
pub(crate) fn check_status(platform: Platform, errcode: Option<Int>, errmsg: Option<Text<'_>>) -> Result<(), Error> {
    match errcode {
        None | Some(Int(0)) => Ok(()),
        Some(Int(c)) => Err(normalize::upstream_error(platform, c, errmsg, classify(c))),
    }
}

/// On a body that does not parse as the success shape, report the upstream's error if it is one.
pub(crate) fn error_or_parse(platform: Platform, body: &str, parse: crate::error::ParseError) -> Error {
    match normalize::parse_body::<WechatStatus<'_>>(platform, body) {
        Ok(s) if s.errcode.is_some_and(|c| c.0 != 0) => check_status(platform, s.errcode, s.errmsg).unwrap_err(),
        _ => Error::Parse(parse),
    }
}
