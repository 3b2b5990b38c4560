//! Plain request and response values: the only I/O boundary of the core (as in oauth2-rs).
//! A driver (the Worker, a test harness) sends a [`Request`] however it likes and hands back
//! a [`Response`].

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// What to send upstream.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// Absolute URL, query included.
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// Query keys whose values are secrets; `Debug` never prints them.
const SECRET_KEYS: &[&str] =
    &["access_token", "secret", "secret_key", "appsecret", "sign", "refreshtoken", "client_id"];

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &RedactedUrl(&self.url))
            .field("headers", &self.headers.iter().map(|(k, _)| *k).collect::<Vec<_>>())
            .field("body", &format_args!("[{} bytes, redacted]", self.body.len()))
            .finish()
    }
}

/// A URL with secret query values replaced by `[redacted]`, for logs and errors.
pub struct RedactedUrl<'u>(pub &'u str);

impl fmt::Display for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (base, query) = match self.0.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (self.0, None),
        };
        f.write_str(base)?;
        if let Some(q) = query {
            for (i, pair) in q.split('&').enumerate() {
                f.write_str(if i == 0 { "?" } else { "&" })?;
                match pair.split_once('=') {
                    Some((k, _)) if SECRET_KEYS.iter().any(|s| k.eq_ignore_ascii_case(s)) => {
                        write!(f, "{k}=[redacted]")?
                    }
                    _ => f.write_str(pair)?,
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// What came back. Bodies are text: every upstream answers JSON (or an HTML error page).
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: String,
    /// `Retry-After`, in milliseconds, when the answer carried one.
    pub retry_after_ms: Option<u64>,
}

impl Response {
    pub fn ok(body: impl Into<String>) -> Response {
        Response { status: 200, body: body.into(), retry_after_ms: None }
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Token answers carry secrets: print the size, never the body.
        f.debug_struct("Response").field("status", &self.status).field("body_len", &self.body.len()).finish()
    }
}

/// What a query component escapes: every byte but RFC 3986's unreserved characters (ASCII
/// letters and digits, `-_.~`), as uppercase `%XX`. Signed requests are signed over this form.
pub const COMPONENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes a query component (RFC 3986 unreserved characters pass through).
pub fn encode_component(out: &mut String, s: &str) {
    out.extend(percent_encoding::utf8_percent_encode(s, COMPONENT));
}

/// `base` + `path` + `?k=v&...`, values percent-encoded.
pub fn url_with_query(base: &str, path: &str, query: &[(&str, &str)]) -> String {
    let mut url = String::with_capacity(base.len() + path.len() + 64);
    url.push_str(base.trim_end_matches('/'));
    url.push_str(path);
    for (i, (k, v)) in query.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        encode_component(&mut url, k);
        url.push('=');
        encode_component(&mut url, v);
    }
    url
}

/// `application/x-www-form-urlencoded` body.
pub fn form_body(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut s = String::new();
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            s.push('&');
        }
        encode_component(&mut s, k);
        s.push('=');
        encode_component(&mut s, v);
    }
    s.into_bytes()
}

pub(crate) fn json_post(url: String, body: Vec<u8>) -> Request {
    Request {
        method: Method::Post,
        url,
        headers: alloc::vec![("content-type", String::from("application/json"))],
        body,
    }
}
