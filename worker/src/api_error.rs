//! The proxy's error answers (SPEC.md §3): a status, a code, a message naming what was wrong,
//! and the upstream's own error where there was one. Built from the core's errors, so the two
//! never disagree on what a failure means.

use std::borrow::Cow;

use aftersale::error::{ErrorBody, ErrorDetail, UpstreamDetail};
use aftersale::{Error, ErrorCode};
use worker::{Headers, Response};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub upstream: Option<UpstreamDetail<'static>>,
    /// Seconds, for 429 answers.
    pub retry_after_s: Option<u64>,
    /// A status other than the code's own (405 for a method a route does not serve), with the
    /// `Allow` header it calls for.
    pub method_not_allowed: Option<Allow>,
}

/// What a route answers instead, for a 405's `Allow` header (a small enum keeps `ApiError` small).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allow {
    Read,
    Post,
}

impl Allow {
    pub fn header(self) -> &'static str {
        match self {
            Allow::Read => "GET, HEAD, OPTIONS",
            Allow::Post => "POST, OPTIONS",
        }
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), upstream: None, retry_after_s: None, method_not_allowed: None }
    }
    pub fn with_retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after_s = Some(seconds);
        self
    }
    /// 405: the route exists but not for this method; `allow` lists those it serves.
    pub fn method_not_allowed(message: impl Into<String>, allow: Allow) -> ApiError {
        let mut e = ApiError::new(ErrorCode::InvalidRequest, message);
        e.method_not_allowed = Some(allow);
        e
    }
    pub fn invalid_request(parameter: &str, reason: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::InvalidRequest, format!("parameter `{parameter}`: {}", reason.into()))
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Internal, message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::NotFound, message)
    }

    pub fn status(&self) -> u16 {
        if self.method_not_allowed.is_some() {
            return 405;
        }
        self.code.http_status()
    }

    pub fn to_json(&self) -> String {
        ErrorBody {
            error: ErrorDetail {
                code: Cow::Borrowed(self.code.as_str()),
                message: Cow::Borrowed(&self.message),
                upstream: self.upstream.clone(),
            },
        }
        .to_json()
    }

    pub fn to_response(&self) -> worker::Result<Response> {
        let headers = Headers::new();
        headers.set("content-type", "application/json; charset=utf-8")?;
        if let Some(s) = self.retry_after_s {
            headers.set("retry-after", &s.to_string())?;
        }
        if let Some(allow) = self.method_not_allowed {
            headers.set("allow", allow.header())?;
        }
        Ok(Response::ok(self.to_json())?.with_status(self.status()).with_headers(headers))
    }

    /// Reads an error answer of the account object back (the inverse of `to_json`).
    pub fn from_json(status: u16, body: &str, retry_after_s: Option<u64>) -> ApiError {
        match serde_json::from_str::<ErrorBody<'_>>(body) {
            Ok(b) => ApiError {
                code: ErrorCode::from_name(&b.error.code).unwrap_or(ErrorCode::Internal),
                message: b.error.message.into_owned(),
                upstream: b.error.upstream.map(|u| UpstreamDetail {
                    platform: Cow::Owned(u.platform.into_owned()),
                    code: Cow::Owned(u.code.into_owned()),
                    message: Cow::Owned(u.message.into_owned()),
                }),
                retry_after_s,
                method_not_allowed: None,
            },
            Err(_) => ApiError::internal(format!("the account object answered {status} without an error body")),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let code = e.code();
        let upstream = e.to_body().error.upstream;
        let retry_after_s = (code == ErrorCode::RateLimited).then(|| match e.upstream().map(|u| u.class) {
            Some(aftersale::error::UpstreamClass::QuotaExhausted) => 3600,
            _ => 10,
        });
        ApiError { code, message: e.to_string(), upstream, retry_after_s, method_not_allowed: None }
    }
}

impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> ApiError {
        ApiError::internal(format!("worker runtime: {e}"))
    }
}
