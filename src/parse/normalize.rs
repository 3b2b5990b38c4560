//! What every upstream module shares when it turns a body into the model: options, the page it
//! returns, body parsing with readable errors, and per-record field conversions.

use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{InvalidValue, ParseError, UpstreamClass, UpstreamError};
use crate::model::money::Money;
use crate::model::time::{Timestamp, CHINA_OFFSET_MINUTES};
use crate::model::{AfterSale, Platform};
use crate::parse::wire::{self, Int, Text};
use crate::Error;

/// How to normalize.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NormalizeOptions {
    /// Attach each upstream record, as it came, under `raw`.
    pub include_raw: bool,
    /// "Now", in unix seconds, for upstreams whose overdue flag depends on a deadline
    /// (`wechat_channels`). The core has no clock: without it, only a status that itself says
    /// overdue sets `overdue`.
    pub now_unix_s: Option<i64>,
}

/// One upstream page, normalized.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    pub records: Vec<AfterSale<'a>>,
    /// The upstream's count of records for the whole query, where it gives one.
    pub total: Option<u64>,
    /// How many upstream records (not lines) the page held: Lingxing splits one record into
    /// several after-sale lines, and pagination counts upstream records.
    pub upstream_count: usize,
    /// For each of `records`, the position of the upstream record it came from; empty when
    /// records and upstream records correspond one to one.
    pub upstream_index: Vec<u32>,
}

impl Page<'_> {
    /// The position, in the upstream's page, of the record `records[i]` came from.
    pub fn upstream_position(&self, i: usize) -> usize {
        self.upstream_index.get(i).map_or(i, |&p| p as usize)
    }
}

impl Page<'_> {
    pub fn into_owned(self) -> Page<'static> {
        Page {
            records: self.records.into_iter().map(AfterSale::into_owned).collect(),
            total: self.total,
            upstream_count: self.upstream_count,
            upstream_index: self.upstream_index,
        }
    }
}

/// Parses a body into a wire type, turning serde's error into one that names the path.
pub(crate) fn parse_body<'a, T: Deserialize<'a>>(platform: Platform, body: &'a str) -> Result<T, ParseError> {
    serde_json::from_str(body).map_err(|e| parse_error(platform, body, &e))
}

pub(crate) fn parse_error(platform: Platform, body: &str, e: &serde_json::Error) -> ParseError {
    let msg = wire::clean_message(&e.to_string());
    let offset = byte_offset(body, e.line(), e.column());
    // An EOF inside a field comes back wrapped (with the field's path) and no longer says it
    // is one; its text still does.
    let message = if e.is_eof() || msg.contains("EOF while parsing") {
        alloc::format!("the body ends early (truncated JSON?): {msg}")
    } else if body.trim().is_empty() {
        "the body is empty".to_string()
    } else {
        msg
    };
    ParseError { platform, message, offset, body: body.to_string() }
}

fn byte_offset(body: &str, line: usize, column: usize) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let mut start = 0;
    for _ in 1..line {
        start += body[start..].find('\n')? + 1;
    }
    Some((start + column).min(body.len()))
}

/// Records in a list, typed, with their raw text kept when asked for.
pub(crate) fn parse_records<'a, T: Deserialize<'a>>(
    platform: Platform,
    raw: &[&'a RawValue],
    list_path: &str,
) -> Result<Vec<(T, &'a RawValue)>, ParseError> {
    raw.iter()
        .enumerate()
        .map(|(i, r)| {
            serde_json::from_str::<T>(r.get()).map(|t| (t, *r)).map_err(|e| ParseError {
                platform,
                message: wire::message_under(&alloc::format!("{list_path}[{i}]"), &e.to_string()),
                offset: None,
                body: r.get().to_string(),
            })
        })
        .collect()
}

/// Where a record sits, so that every field error names the record and the field.
pub(crate) struct RecordCtx<'r> {
    pub platform: Platform,
    pub index: usize,
    pub id: Option<&'r str>,
}

impl RecordCtx<'_> {
    pub fn invalid(&self, field: &'static str, value: impl ToString, reason: &'static str) -> Error {
        Error::InvalidValue(InvalidValue {
            platform: self.platform,
            record: Some(self.index),
            record_id: self.id.map(ToString::to_string),
            field,
            value: value.to_string(),
            reason,
        })
    }

    /// A `YYYY-MM-DD hh:mm:ss` time in the given zone; empty and PHP zero dates are "no time".
    pub fn time(
        &self,
        field: &'static str,
        text: &Option<Text<'_>>,
        offset: Option<i16>,
    ) -> Result<Option<Timestamp>, Error> {
        match text {
            None => Ok(None),
            Some(Text(t)) => Timestamp::parse_local(t, offset)
                .map_err(|_| self.invalid(field, t, "not a time of the form YYYY-MM-DD hh:mm:ss")),
        }
    }

    pub fn china_time(&self, field: &'static str, text: &Option<Text<'_>>) -> Result<Option<Timestamp>, Error> {
        self.time(field, text, Some(CHINA_OFFSET_MINUTES))
    }

    /// Unix seconds (number or string), shown in China time; 0 means "not yet".
    pub fn unix_china_time(&self, field: &'static str, text: &Option<Text<'_>>) -> Result<Option<Timestamp>, Error> {
        let Some(Text(t)) = text else { return Ok(None) };
        let t = t.trim();
        if t.is_empty() || t == "0" {
            return Ok(None);
        }
        match t.parse::<i64>() {
            Ok(secs) if (0..=253_402_300_799).contains(&secs) => {
                Ok(Some(Timestamp::from_unix(secs, CHINA_OFFSET_MINUTES)))
            }
            _ => Err(self.invalid(field, t, "not a unix time in seconds")),
        }
    }

    /// An amount in fen; a negative amount is refused, since these fields are never negative.
    pub fn fen(&self, field: &'static str, value: Option<Int>) -> Result<Option<Money<'static>>, Error> {
        match value {
            None => Ok(None),
            Some(Int(n)) if n < 0 => Err(self.invalid(field, n, "a negative amount where the upstream documents none")),
            Some(Int(n)) => Ok(Some(Money::cny_fen(n))),
        }
    }

    pub fn count(&self, field: &'static str, value: Option<Int>) -> Result<Option<u64>, Error> {
        match value {
            None => Ok(None),
            Some(Int(n)) => u64::try_from(n).map(Some).map_err(|_| self.invalid(field, n, "a negative count")),
        }
    }
}

/// Maps every record of a list, into a vector sized up front (records are large: growing the
/// vector by doubling would copy them over and over).
pub(crate) fn map_records<T, R>(
    list: Vec<T>,
    mut map: impl FnMut(usize, T) -> Result<R, Error>,
) -> Result<Vec<R>, Error> {
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.into_iter().enumerate() {
        out.push(map(i, item)?);
    }
    Ok(out)
}

/// Non-empty text, borrowed where the body allows.
pub(crate) fn text<'a>(t: Option<Text<'a>>) -> Option<Cow<'a, str>> {
    Text::non_empty(t)
}

/// An upstream error envelope, classified by the platform's table.
pub(crate) fn upstream_error(
    platform: Platform,
    code: impl ToString,
    message: Option<Text<'_>>,
    class: UpstreamClass,
) -> Error {
    Error::Upstream(UpstreamError {
        platform,
        code: code.to_string(),
        message: message.map(|t| t.0.into_owned()).unwrap_or_default(),
        class,
    })
}

/// A body the upstream returned with no list where one was expected.
pub(crate) fn missing(platform: Platform, body: &str, what: &str) -> Error {
    Error::Parse(ParseError {
        platform,
        message: alloc::format!("success envelope without `{what}`"),
        offset: None,
        body: String::from(body),
    })
}
