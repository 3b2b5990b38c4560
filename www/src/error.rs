//! The one error shape the package throws: a code of SPEC.md §3, a message that says what was wrong
//! and where, and for proxy answers the HTTP status and the proxy's `upstream` member.
//! Turning it into a JavaScript `Error` happens in `interop`.

use aftersale::ErrorCode;
use wasm_bindgen::JsValue;

/// Reads the proxy's `error.code` back into an [`ErrorCode`].
pub fn code_from_str(code: &str) -> Option<ErrorCode> {
    ErrorCode::from_name(code)
}

/// The code a proxy answer means when its body does not say (a load balancer's 502, ...).
pub fn code_for_status(status: u16) -> ErrorCode {
    match status {
        400 | 405 | 409 | 413 | 414 | 422 => ErrorCode::InvalidRequest,
        401 => ErrorCode::Unauthorized,
        403 => ErrorCode::ForbiddenOrigin,
        404 | 410 => ErrorCode::NotFound,
        429 => ErrorCode::RateLimited,
        502 => ErrorCode::UpstreamError,
        503 | 504 => ErrorCode::UpstreamUnavailable,
        _ => ErrorCode::Internal,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// The proxy's HTTP status, for errors the proxy answered.
    pub status: Option<u16>,
    /// The `upstream` member (`{platform, code, message}`) as JSON text, when there is one.
    pub upstream: Option<String>,
    /// Seconds the proxy asked to wait (`Retry-After`), when the client stopped retrying.
    pub retry_after: Option<f64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), status: None, upstream: None, retry_after: None }
    }

    /// A bad argument from the caller.
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::InvalidRequest, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::Internal, message)
    }
}

impl From<aftersale::Error> for ApiError {
    fn from(e: aftersale::Error) -> Self {
        // The body type's member order is SPEC.md's.
        let upstream = e.to_body().error.upstream.and_then(|u| serde_json::to_string(&u).ok());
        ApiError { code: e.code(), message: e.to_string(), status: None, upstream, retry_after: None }
    }
}

/// What an async call fails with: our own error, or a value the caller's code produced (their
/// `AbortSignal`'s reason, an exception from their `onProgress` or `fetch`), passed on untouched.
#[derive(Debug)]
pub enum Failure {
    Api(ApiError),
    Thrown(JsValue),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Api(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back() {
        for code in ErrorCode::ALL {
            assert_eq!(code_from_str(code.as_str()), Some(code));
        }
        assert_eq!(code_from_str("teapot"), None);
    }

    #[test]
    fn status_fallbacks() {
        assert_eq!(code_for_status(401), ErrorCode::Unauthorized);
        assert_eq!(code_for_status(429), ErrorCode::RateLimited);
        assert_eq!(code_for_status(503), ErrorCode::UpstreamUnavailable);
        assert_eq!(code_for_status(500), ErrorCode::Internal);
    }

    #[test]
    fn core_errors_keep_code_and_upstream() {
        let e: ApiError = "nope".parse::<aftersale::Platform>().unwrap_err().into();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.message.contains("platform"), "{}", e.message);
        let body = r#"{"code":2008,"msg":"token expired","data":null}"#;
        let e: ApiError = aftersale::normalize(aftersale::Platform::Xiaoe, body).unwrap_err().into();
        let upstream: serde_json::Value = serde_json::from_str(e.upstream.as_deref().unwrap()).unwrap();
        assert_eq!(upstream["platform"], "xiaoe");
        assert_eq!(upstream["code"], "2008");
    }
}
