//! The proxy client (SPEC.md §3): query validation, URLs, retries and pagination.
//!
//! The decisions (what to retry, how long to wait, which records are new) are plain functions,
//! tested natively; `ClientInner::get` is the only place that talks to the network.

use std::borrow::Cow;
use std::collections::HashSet;

use aftersale::error::ErrorBody;
use aftersale::time::Date;
use aftersale::{ErrorCode, Kind, Platform, Status};
use js_sys::Function;
use serde::Deserialize;
use serde_json::value::RawValue;
use web_sys::AbortSignal;

use crate::error::{code_for_status, code_from_str, ApiError, Failure};
use crate::interop;
pub use crate::options::{ClientConfig, RawListQuery};

/// First backoff; doubles on every retry up to [`MAX_BACKOFF_MS`].
const BASE_BACKOFF_MS: f64 = 250.0;
const MAX_BACKOFF_MS: f64 = 8_000.0;
/// A `Retry-After` longer than this is surfaced as an error rather than slept through.
pub const MAX_RETRY_AFTER_MS: f64 = 60_000.0;

/// A validated `GET /v1/aftersales` query.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub platform: Platform,
    pub from: String,
    pub to: String,
    pub date_field: Option<String>,
    pub status: Vec<Status>,
    pub kind: Vec<Kind>,
    pub order_id: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    pub include_raw: bool,
}

impl ListQuery {
    /// Checks what can be checked without the proxy, naming the parameter at fault.
    pub fn parse(raw: RawListQuery) -> Result<ListQuery, ApiError> {
        let platform = match raw.platform.as_deref() {
            None => {
                return Err(ApiError::invalid(format!(
                    "query.platform is required (one of {})",
                    Platform::ALL.map(Platform::as_str).join(", ")
                )))
            }
            Some(p) => parse_platform(p, "query.platform")?,
        };
        let from = required_date(raw.from, "from")?;
        let to = required_date(raw.to, "to")?;
        if from.1 >= to.1 {
            return Err(ApiError::invalid(format!(
                "query.from ({}) must be before query.to ({}): the range is half-open [from, to)",
                from.0, to.0
            )));
        }
        if let Some(field) = &raw.date_field {
            if !matches!(field.as_str(), "created" | "updated" | "refunded") {
                return Err(ApiError::invalid(format!(
                    "query.dateField {field:?} is not one of created, updated, refunded"
                )));
            }
        }
        let status = raw
            .status
            .iter()
            .map(|s| {
                s.parse::<Status>().map_err(|_| {
                    let all: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
                    ApiError::invalid(format!(
                        "query.status {s:?} is not a status; expected some of {}",
                        all.join(", ")
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let kind = raw
            .kind
            .iter()
            .map(|k| {
                k.parse::<Kind>().map_err(|_| {
                    ApiError::invalid(format!(
                        "query.kind {k:?} is not a kind; expected some of refund, return_refund, exchange"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let limit = match raw.limit {
            None => None,
            Some(n) if n.fract() == 0.0 && (1.0..=100.0).contains(&n) => Some(n as u32),
            Some(n) => return Err(ApiError::invalid(format!("query.limit must be an integer from 1 to 100, got {n}"))),
        };
        Ok(ListQuery {
            platform,
            from: from.0,
            to: to.0,
            date_field: raw.date_field,
            status,
            kind,
            order_id: raw.order_id,
            limit,
            cursor: raw.cursor,
            include_raw: raw.include_raw,
        })
    }

    /// `/v1/aftersales?...`, with `cursor` replacing the query's own when following pages. The
    /// proxy's cursor carries the whole query, so every filter is sent again unchanged.
    pub fn path(&self, cursor: Option<&str>) -> String {
        let mut q = QueryString::new("/v1/aftersales");
        q.push("platform", self.platform.as_str());
        q.push("from", &self.from);
        q.push("to", &self.to);
        if let Some(f) = &self.date_field {
            q.push("date_field", f);
        }
        if !self.status.is_empty() {
            let joined: Vec<&str> = self.status.iter().map(|s| s.as_str()).collect();
            q.push("status", &joined.join(","));
        }
        if !self.kind.is_empty() {
            let joined: Vec<&str> = self.kind.iter().map(|k| k.as_str()).collect();
            q.push("kind", &joined.join(","));
        }
        if let Some(id) = &self.order_id {
            q.push("order_id", id);
        }
        if let Some(n) = self.limit {
            q.push("limit", &n.to_string());
        }
        if let Some(c) = cursor.or(self.cursor.as_deref()) {
            q.push("cursor", c);
        }
        if self.include_raw {
            q.push("include_raw", "true");
        }
        q.finish()
    }
}

/// A platform id, or an error naming the argument (`name`) and the ids there are.
pub fn parse_platform(text: &str, name: &str) -> Result<Platform, ApiError> {
    text.parse::<Platform>().map_err(|_| {
        ApiError::invalid(format!(
            "{name} {text:?} is not a platform; expected one of {}",
            Platform::ALL.map(Platform::as_str).join(", ")
        ))
    })
}

fn required_date(value: Option<String>, name: &str) -> Result<(String, Date), ApiError> {
    let value = value.ok_or_else(|| ApiError::invalid(format!("query.{name} is required (YYYY-MM-DD, China time)")))?;
    match Date::parse(&value) {
        Some(d) => Ok((value, d)),
        None => Err(ApiError::invalid(format!("query.{name} {value:?} is not a date as YYYY-MM-DD"))),
    }
}

/// `GET /v1/orders/{order_id}?platform=P`.
pub fn order_path(order_id: &str, platform: Platform, include_raw: bool) -> String {
    let mut q = QueryString::new(&format!("/v1/orders/{}", percent_encode(order_id)));
    q.push("platform", platform.as_str());
    if include_raw {
        q.push("include_raw", "true");
    }
    q.finish()
}

/// `GET /v1/orders/{order_id}/aftersales?platform=P&openid=O&out_order_id=X`.
pub fn order_aftersales_path(
    order_id: &str,
    platform: Platform,
    openid: Option<&str>,
    out_order_id: Option<&str>,
    include_raw: bool,
) -> String {
    let mut q = QueryString::new(&format!("/v1/orders/{}/aftersales", percent_encode(order_id)));
    q.push("platform", platform.as_str());
    if let Some(o) = openid {
        q.push("openid", o);
    }
    if let Some(o) = out_order_id {
        q.push("out_order_id", o);
    }
    if include_raw {
        q.push("include_raw", "true");
    }
    q.finish()
}

struct QueryString {
    out: String,
    first: bool,
}

impl QueryString {
    fn new(path: &str) -> Self {
        QueryString { out: path.to_owned(), first: true }
    }
    fn push(&mut self, key: &str, value: &str) {
        self.out.push(if self.first { '?' } else { '&' });
        self.first = false;
        self.out.push_str(key);
        self.out.push('=');
        self.out.push_str(&percent_encode(value));
    }
    fn finish(self) -> String {
        self.out
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters (cursors carry `+/=`): the
/// core's encoder, so the client and the core escape alike.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    aftersale::http::encode_component(&mut out, s);
    out
}

/// Whether sending the same request again may succeed: 429 and 5xx, except an upstream
/// credentials failure, which no retry will fix.
pub fn should_retry(status: u16, code: ErrorCode) -> bool {
    match status {
        429 => true,
        500..=599 => code != ErrorCode::UpstreamAuth,
        _ => false,
    }
}

/// Capped exponential backoff with jitter (`jitter` in [0, 1)): half to all of the doubled base,
/// so clients that failed together do not retry together.
pub fn backoff_ms(retry: u32, jitter: f64) -> f64 {
    let exp = (BASE_BACKOFF_MS * 2f64.powi(retry.min(16) as i32)).min(MAX_BACKOFF_MS);
    exp * (0.5 + jitter.clamp(0.0, 1.0) / 2.0)
}

/// `Retry-After` in milliseconds: delta-seconds here, an HTTP date through `parse_date` (epoch
/// milliseconds, or `None`) against `now_ms`. A date in the past means "now".
pub fn retry_after_ms(value: &str, now_ms: f64, parse_date: impl Fn(&str) -> Option<f64>) -> Option<f64> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<f64>().ok().map(|s| s * 1000.0);
    }
    parse_date(value).map(|at| (at - now_ms).max(0.0))
}

/// The error a non-2xx proxy answer stands for. `route` is `GET /v1/...` without the query, so
/// messages never carry cursors or the host.
pub fn proxy_error(route: &str, status: u16, body: &str) -> ApiError {
    let parsed = serde_json::from_str::<ErrorBody<'_>>(body).ok();
    let detail = parsed.as_ref().map(|b| &b.error);
    let code = detail.and_then(|d| code_from_str(&d.code)).unwrap_or_else(|| code_for_status(status));
    let said = match detail.map(|d| &d.message) {
        Some(m) => m.to_string(),
        None => {
            let snippet: String = body.trim().chars().take(200).collect();
            if snippet.is_empty() {
                "no error body".to_owned()
            } else {
                format!("unexpected error body: {snippet}")
            }
        }
    };
    let upstream = detail.and_then(|d| d.upstream.as_ref()).and_then(|u| serde_json::to_string(u).ok());
    ApiError {
        code,
        message: format!("proxy answered HTTP {status} ({}) to {route}: {said}", code.as_str()),
        status: Some(status),
        upstream,
        retry_after: None,
    }
}

#[derive(Deserialize)]
struct PageBody<'a> {
    #[serde(borrow)]
    data: Vec<&'a RawValue>,
    #[serde(default)]
    next_cursor: Option<String>,
    #[serde(default)]
    total: Option<u64>,
}

#[derive(Deserialize)]
struct IdOnly<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
}

/// One page as `iterate` needs it: the records not seen before, as a JSON array.
#[derive(Debug, PartialEq)]
pub struct FreshRecords {
    pub json: String,
    pub count: usize,
    pub next_cursor: Option<String>,
    pub total: Option<u64>,
}

/// Checks a page body's shape and keeps the records whose `id` is not in `seen` (adding them):
/// a record that moves between pages while a listing runs is seen once.
pub fn take_fresh(route: &str, body: &str, seen: &mut HashSet<String>) -> Result<FreshRecords, ApiError> {
    let page: PageBody<'_> = serde_json::from_str(body).map_err(|e| bad_body(route, &e))?;
    let mut json = String::with_capacity(body.len());
    json.push('[');
    let mut count = 0;
    for (i, raw) in page.data.iter().enumerate() {
        let id = serde_json::from_str::<IdOnly<'_>>(raw.get())
            .map_err(|e| {
                ApiError::internal(format!("proxy answered {route} with record data[{i}] that has no string `id`: {e}"))
            })?
            .id;
        if seen.insert(id.into_owned()) {
            if count > 0 {
                json.push(',');
            }
            json.push_str(raw.get());
            count += 1;
        }
    }
    json.push(']');
    Ok(FreshRecords { json, count, next_cursor: page.next_cursor, total: page.total })
}

/// Checks that a page body has the shape of SPEC.md §3 before it is handed to the caller.
pub fn check_page(route: &str, body: &str) -> Result<(), ApiError> {
    serde_json::from_str::<PageBody<'_>>(body).map(|_| ()).map_err(|e| bad_body(route, &e))
}

/// Checks `{"data": ...}` and returns the `data` member's JSON text.
pub fn data_member<'a>(route: &str, body: &'a str) -> Result<&'a str, ApiError> {
    #[derive(Deserialize)]
    struct Data<'a> {
        #[serde(borrow)]
        data: &'a RawValue,
    }
    serde_json::from_str::<Data<'_>>(body).map(|d| d.data.get()).map_err(|e| bad_body(route, &e))
}

fn bad_body(route: &str, e: &serde_json::Error) -> ApiError {
    ApiError::internal(format!("proxy answered {route} with a body that is not the expected JSON: {e}"))
}

/// The HTTP side of the client, shared by every call and page stream of one `Client`.
pub struct ClientInner {
    base: String,
    api_key: Option<String>,
    fetch: Option<Function>,
    max_retries: u32,
}

enum Attempt {
    Answered {
        status: u16,
        retry_after: Option<String>,
        body: String,
    },
    /// The request never got an answer (connection refused, DNS, CORS refusal, ...).
    Unreachable(String),
}

impl ClientInner {
    pub fn new(config: ClientConfig) -> Self {
        ClientInner {
            base: config.endpoint.trim_end_matches('/').to_owned(),
            api_key: config.api_key,
            fetch: config.fetch,
            max_retries: config.max_retries,
        }
    }

    /// `GET {endpoint}{path}`: the 2xx body, retrying 429 and 5xx answers and unreachable
    /// proxies up to `max_retries` times.
    pub async fn get(&self, path: &str, signal: Option<&AbortSignal>) -> Result<String, Failure> {
        let route = format!("GET {}", path.split('?').next().unwrap_or(path));
        let url = format!("{}{}", self.base, path);
        let mut retry = 0;
        loop {
            interop::check_aborted(signal)?;
            let (error, wait_ms) = match self.attempt(&url, signal).await? {
                Attempt::Answered { status, body, .. } if (200..300).contains(&status) => return Ok(body),
                Attempt::Answered { status, retry_after, body } => {
                    let mut error = proxy_error(&route, status, &body);
                    if !should_retry(status, error.code) {
                        return Err(error.into());
                    }
                    let asked = retry_after
                        .as_deref()
                        .and_then(|v| retry_after_ms(v, interop::now_ms(), interop::parse_http_date));
                    if let Some(ms) = asked {
                        error.retry_after = Some((ms / 1000.0).ceil());
                        if ms > MAX_RETRY_AFTER_MS {
                            error
                                .message
                                .push_str(&format!(" (not retried: Retry-After asks for {} s)", (ms / 1000.0).ceil()));
                            return Err(error.into());
                        }
                    }
                    let wait = asked.unwrap_or_else(|| backoff_ms(retry, interop::random()));
                    (error, wait)
                }
                Attempt::Unreachable(why) => {
                    let error = ApiError::new(
                        ErrorCode::UpstreamUnavailable,
                        format!("could not reach the proxy for {route} at {}: {why} (network failure, or the proxy does not allow this origin)", self.base),
                    );
                    (error, backoff_ms(retry, interop::random()))
                }
            };
            if retry >= self.max_retries {
                let mut error = error;
                if retry > 0 {
                    error.message.push_str(&format!(" (gave up after {} attempts)", retry + 1));
                }
                return Err(error.into());
            }
            interop::sleep(wait_ms, signal).await?;
            retry += 1;
        }
    }

    async fn attempt(&self, url: &str, signal: Option<&AbortSignal>) -> Result<Attempt, Failure> {
        let mut builder = gloo_net::http::Request::get(url).header("Accept", "application/json").abort_signal(signal);
        if let Some(key) = &self.api_key {
            builder = builder.header("Authorization", &format!("Bearer {key}"));
        }
        let request: web_sys::Request =
            builder.build().map_err(|e| ApiError::invalid(format!("cannot build a request to {url}: {e}")))?.into();
        let response = match interop::fetch(self.fetch.as_ref(), &request).await {
            Ok(r) => r,
            Err(e) => {
                interop::check_aborted(signal)?;
                return match e {
                    interop::FetchError::Network(why) => Ok(Attempt::Unreachable(why)),
                    interop::FetchError::Broken(e) => Err(e.into()),
                };
            }
        };
        let response = gloo_net::http::Response::from(response);
        let status = response.status();
        let retry_after = response.headers().get("retry-after");
        let raw: web_sys::Response = response.into();
        match interop::response_text(&raw).await {
            Ok(body) => Ok(Attempt::Answered { status, retry_after, body }),
            Err(why) => {
                interop::check_aborted(signal)?;
                Ok(Attempt::Unreachable(format!("the answer (HTTP {status}) broke off: {why}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(platform: &str) -> RawListQuery {
        RawListQuery {
            platform: Some(platform.into()),
            from: Some("2023-01-14".into()),
            to: Some("2023-02-13".into()),
            ..Default::default()
        }
    }

    #[test]
    fn query_path_keeps_every_filter_and_encodes_cursors() {
        let mut r = raw("xiaoe");
        r.status = vec!["pending".into(), "refunding".into()];
        r.kind = vec!["refund".into()];
        r.date_field = Some("updated".into());
        r.limit = Some(20.0);
        r.order_id = Some("o 1&2".into());
        r.include_raw = true;
        let q = ListQuery::parse(r).unwrap();
        assert_eq!(
            q.path(Some("a+b/c=")),
            "/v1/aftersales?platform=xiaoe&from=2023-01-14&to=2023-02-13&date_field=updated\
             &status=pending%2Crefunding&kind=refund&order_id=o%201%262&limit=20&cursor=a%2Bb%2Fc%3D&include_raw=true"
        );
    }

    #[test]
    fn query_errors_name_the_parameter() {
        let msg = |r: RawListQuery| ListQuery::parse(r).unwrap_err().message;
        assert!(msg(RawListQuery::default()).contains("query.platform"));
        assert!(msg(raw("amazon")).contains("query.platform \"amazon\" is not a platform"));
        let mut r = raw("xiaoe");
        r.from = Some("2023-1-14".into());
        assert!(msg(r).contains("query.from"));
        let mut r = raw("xiaoe");
        r.to = Some("2023-01-14".into());
        assert!(msg(r).contains("half-open"));
        let mut r = raw("xiaoe");
        r.limit = Some(101.0);
        assert!(msg(r).contains("query.limit"));
        let mut r = raw("xiaoe");
        r.status = vec!["done".into()];
        assert!(msg(r).contains("query.status \"done\""));
    }

    #[test]
    fn order_paths() {
        assert_eq!(order_path("12/3", Platform::WechatStore, false), "/v1/orders/12%2F3?platform=wechat_store");
        assert_eq!(
            order_path("12", Platform::WechatStore, true),
            "/v1/orders/12?platform=wechat_store&include_raw=true"
        );
        assert_eq!(
            order_aftersales_path("9", Platform::WechatShop, Some("oT"), None, false),
            "/v1/orders/9/aftersales?platform=wechat_shop&openid=oT"
        );
        assert_eq!(
            order_aftersales_path("-", Platform::WechatShop, Some("oT"), Some("x"), true),
            "/v1/orders/-/aftersales?platform=wechat_shop&openid=oT&out_order_id=x&include_raw=true"
        );
    }

    #[test]
    fn retry_policy() {
        assert!(should_retry(429, ErrorCode::RateLimited));
        assert!(should_retry(503, ErrorCode::UpstreamUnavailable));
        assert!(should_retry(502, ErrorCode::UpstreamError));
        assert!(!should_retry(502, ErrorCode::UpstreamAuth));
        assert!(!should_retry(401, ErrorCode::Unauthorized));
        assert!(!should_retry(404, ErrorCode::NotFound));
        assert_eq!(backoff_ms(0, 1.0), 250.0);
        assert_eq!(backoff_ms(0, 0.0), 125.0);
        assert_eq!(backoff_ms(2, 1.0), 1000.0);
        assert_eq!(backoff_ms(30, 1.0), MAX_BACKOFF_MS);
    }

    #[test]
    fn retry_after_forms() {
        let no_dates = |_: &str| None;
        assert_eq!(retry_after_ms("2", 0.0, no_dates), Some(2000.0));
        assert_eq!(retry_after_ms(" 0 ", 0.0, no_dates), Some(0.0));
        assert_eq!(retry_after_ms("soon", 0.0, no_dates), None);
        let date = |_: &str| Some(10_000.0);
        assert_eq!(retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", 7_500.0, date), Some(2_500.0));
        assert_eq!(retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", 20_000.0, date), Some(0.0));
    }

    #[test]
    fn proxy_errors_keep_code_message_and_upstream() {
        let body = r#"{"error":{"code":"upstream_auth","message":"token refused","upstream":{"platform":"xiaoe","code":"2008","message":"expired"}}}"#;
        let e = proxy_error("GET /v1/aftersales", 502, body);
        assert_eq!(e.code, ErrorCode::UpstreamAuth);
        assert_eq!(e.status, Some(502));
        assert!(e.message.contains("token refused") && e.message.contains("GET /v1/aftersales"));
        assert!(e.upstream.unwrap().contains("2008"));
        let e = proxy_error("GET /x", 401, r#"{"error":{"code":"unauthorized","message":"bad key","upstream":null}}"#);
        assert_eq!((e.code, e.upstream), (ErrorCode::Unauthorized, None));
        let e = proxy_error("GET /x", 503, "<html>busy</html>");
        assert_eq!(e.code, ErrorCode::UpstreamUnavailable);
        assert!(e.message.contains("<html>busy"));
    }

    #[test]
    fn fresh_records_skip_ids_already_seen() {
        let mut seen = HashSet::new();
        let p1 = r#"{"data":[{"id":"x:1","n":1},{"id":"x:2"}],"next_cursor":"c2","total":3}"#;
        let p2 = r#"{"data":[{"id":"x:2"},{"id":"x:3"},{"id":"x:3"}],"next_cursor":null,"total":3}"#;
        let a = take_fresh("GET /v1/aftersales", p1, &mut seen).unwrap();
        assert_eq!((a.count, a.next_cursor.as_deref(), a.total), (2, Some("c2"), Some(3)));
        assert_eq!(a.json, r#"[{"id":"x:1","n":1},{"id":"x:2"}]"#);
        let b = take_fresh("GET /v1/aftersales", p2, &mut seen).unwrap();
        assert_eq!((b.json.as_str(), b.next_cursor), (r#"[{"id":"x:3"}]"#, None));
        let bad = take_fresh("GET /v1/aftersales", r#"{"data":[{"no":1}]}"#, &mut seen).unwrap_err();
        assert!(bad.message.contains("data[0]"), "{}", bad.message);
        assert!(take_fresh("GET /v1/aftersales", r#"{"items":[]}"#, &mut seen).is_err());
    }
}
