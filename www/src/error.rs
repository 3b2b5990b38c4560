//! The one error shape the package throws: a code of SPEC.md §3, a message that says what was wrong
//! and where, and for proxy answers the HTTP status and the proxy's `upstream` member.
//! Turning it into a JavaScript `Error` happens in `interop`.

use aftersale::ErrorCode;

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

#[cfg(test)]
mod tests {
    use super::*;

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
