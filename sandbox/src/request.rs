//! What every endpoint reads of a request (path, query, form and JSON bodies) and how it writes
//! its answer.

use aftersale::http::{Method, Request, Response};
use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::calendar::Calendar;
use crate::rng::{hash_bytes, mix};

/// `(path, query)` of an absolute or relative URL; the fragment dropped.
pub(crate) fn split_url(url: &str) -> (&str, &str) {
    let url = url.split('#').next().unwrap_or("");
    let rest = match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            match after.find(['/', '?']) {
                Some(j) => &after[j..],
                None => "",
            }
        }
        None => url,
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    (if path.is_empty() { "/" } else { path }, query)
}

/// `application/x-www-form-urlencoded` pairs (a query string or a form body), decoded.
pub(crate) fn parse_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

/// One form component: `+` is a space (before decoding, so `%2B` stays a plus); a `%` not
/// followed by two hex digits is kept as it is.
pub(crate) fn form_decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
}

pub(crate) struct Ctx<'r> {
    pub request: &'r Request,
    pub query: &'r [(String, String)],
    pub now_ms: u64,
    pub cal: Calendar,
}

impl Ctx<'_> {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn json_body(&self) -> Option<Map<String, Value>> {
        match serde_json::from_slice::<Value>(&self.request.body) {
            Ok(Value::Object(m)) => Some(m),
            _ => None,
        }
    }

    pub fn is_post(&self) -> bool {
        self.request.method == Method::Post
    }

    /// A per-request 64-bit value: the same request at the same time gives the same one.
    pub fn nonce(&self) -> u64 {
        mix(hash_bytes(self.request.url.as_bytes()) ^ mix(hash_bytes(&self.request.body) ^ self.now_ms))
    }
}

/// An answer with `body` as its JSON. The sandbox's structs always serialize; should one ever
/// fail, the caller gets a 500 saying so rather than a panic.
pub(crate) fn reply<T: Serialize>(status: u16, body: &T) -> Response {
    match serde_json::to_string(body) {
        Ok(body) => Response { status, body, retry_after_ms: None },
        Err(e) => Response {
            status: 500,
            body: serde_json::json!({ "errcode": 500, "errmsg": format!("sandbox: answer not serializable: {e}") })
                .to_string(),
            retry_after_ms: None,
        },
    }
}

pub(crate) fn ok<T: Serialize>(body: &T) -> Response {
    reply(200, body)
}

/// A JSON value as an integer: a number, or a string of digits.
pub(crate) fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A JSON value as text: a string, or a number's digits.
pub(crate) fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
