//! The proxy's error answers (SPEC.md §3): a status, a code, a message naming what was wrong,
//! and the upstream's own error where there was one. Built from the core's errors, so the two
//! never disagree on what a failure means.

use aftersale::{Error, ErrorCode};
use serde::Serialize;
use worker::{Headers, Response};

#[derive(Debug, Clone, Serialize)]
pub struct UpstreamDetail {
    pub platform: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub upstream: Option<UpstreamDetail>,
    /// Seconds, for 429 answers.
    pub retry_after_s: Option<u64>,
}

#[derive(Serialize)]
struct Body<'e> {
    error: Inner<'e>,
}

#[derive(Serialize)]
struct Inner<'e> {
    code: &'static str,
    message: &'e str,
    upstream: Option<&'e UpstreamDetail>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), upstream: None, retry_after_s: None }
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
        self.code.http_status()
    }

    pub fn to_json(&self) -> String {
        let body = Body {
            error: Inner { code: self.code.as_str(), message: &self.message, upstream: self.upstream.as_ref() },
        };
        serde_json::to_string(&body)
            .unwrap_or_else(|_| String::from(r#"{"error":{"code":"internal","message":"error","upstream":null}}"#))
    }

    pub fn to_response(&self) -> worker::Result<Response> {
        let headers = Headers::new();
        headers.set("content-type", "application/json; charset=utf-8")?;
        if let Some(s) = self.retry_after_s {
            headers.set("retry-after", &s.to_string())?;
        }
        Ok(Response::ok(self.to_json())?.with_status(self.status()).with_headers(headers))
    }

    /// Reads an error answer of the account object back (the inverse of `to_json`).
    pub fn from_json(status: u16, body: &str, retry_after_s: Option<u64>) -> ApiError {
        #[derive(serde::Deserialize)]
        struct B {
            error: I,
        }
        #[derive(serde::Deserialize)]
        struct I {
            code: String,
            message: String,
            upstream: Option<U>,
        }
        #[derive(serde::Deserialize)]
        struct U {
            platform: String,
            code: String,
            message: String,
        }
        match serde_json::from_str::<B>(body) {
            Ok(b) => ApiError {
                code: code_from_str(&b.error.code),
                message: b.error.message,
                upstream: b.error.upstream.map(|u| UpstreamDetail {
                    platform: u.platform,
                    code: u.code,
                    message: u.message,
                }),
                retry_after_s,
            },
            Err(_) => ApiError::internal(format!("the account object answered {status} without an error body")),
        }
    }
}

fn code_from_str(s: &str) -> ErrorCode {
    ErrorCode::from_name(s).unwrap_or(ErrorCode::Internal)
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let code = e.code();
        let upstream = e.upstream().map(|u| UpstreamDetail {
            platform: u.platform.to_string(),
            code: u.code.clone(),
            message: u.message.clone(),
        });
        let retry_after_s = (code == ErrorCode::RateLimited).then(|| match e.upstream().map(|u| u.class) {
            Some(aftersale::error::UpstreamClass::QuotaExhausted) => 3600,
            _ => 10,
        });
        ApiError { code, message: e.to_string(), upstream, retry_after_s }
    }
}

impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> ApiError {
        ApiError::internal(format!("worker runtime: {e}"))
    }
}
