//! The Worker's door to the sandbox (`SANDBOX=true`): the `aftersale-sandbox` crate when the
//! Worker is built with its `sandbox` feature. A build without it (production) answers
//! `SANDBOX=true` with an error saying so, and carries none of the simulator.

pub use door::{account, answer, examples_json};

#[cfg(feature = "sandbox")]
mod door {
    use aftersale::account::Account;
    use aftersale::http::{Request, Response};
    use aftersale::Platform;

    use crate::api_error::ApiError;

    /// The sandbox's answer to an upstream request.
    pub fn answer(request: &Request, now_ms: u64) -> Result<Response, String> {
        Ok(aftersale_sandbox::answer(request, now_ms))
    }

    /// The sandbox's account serving `platform`.
    pub fn account(platform: Platform) -> Result<Account, ApiError> {
        aftersale_sandbox::sandbox_account(platform)
            .ok_or_else(|| ApiError::invalid_request("platform", format!("the sandbox does not simulate {platform}")))
    }

    /// `{"range":{"from","to"},"orders":[...]}` on the day of `now_ms`.
    pub fn examples_json(now_ms: u64) -> Result<String, ApiError> {
        serde_json::to_string(&aftersale_sandbox::examples(now_ms)).map_err(|e| ApiError::internal(e.to_string()))
    }
}

#[cfg(not(feature = "sandbox"))]
mod door {
    use aftersale::account::Account;
    use aftersale::http::{Request, Response};
    use aftersale::Platform;

    use crate::api_error::ApiError;

    const NOT_BUILT: &str = "SANDBOX=true, but this build of the Worker has no sandbox (cargo feature `sandbox`): \
        build it with WORKER_FEATURES=sandbox scripts/build-worker.sh (as `make dev` does), or set SANDBOX=false";

    pub fn answer(_: &Request, _: u64) -> Result<Response, String> {
        Err(NOT_BUILT.into())
    }

    pub fn account(_: Platform) -> Result<Account, ApiError> {
        Err(ApiError::internal(NOT_BUILT))
    }

    pub fn examples_json(_: u64) -> Result<String, ApiError> {
        Err(ApiError::internal(NOT_BUILT))
    }
}

#[cfg(test)]
mod tests {
    #[cfg(not(feature = "sandbox"))]
    #[test]
    fn without_the_feature_sandbox_mode_is_a_clear_error() {
        let err = super::account(aftersale::Platform::Xiaoe).unwrap_err();
        assert_eq!(err.code, aftersale::ErrorCode::Internal);
        for part in ["SANDBOX=true", "no sandbox", "WORKER_FEATURES=sandbox", "SANDBOX=false"] {
            assert!(err.message.contains(part), "{part:?} missing from {:?}", err.message);
        }
        assert_eq!(super::examples_json(0).unwrap_err().message, err.message);
        let request = aftersale::http::Request {
            method: aftersale::http::Method::Get,
            url: "https://example.invalid/token".into(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        assert_eq!(super::answer(&request, 0).unwrap_err(), err.message);
    }

    #[cfg(feature = "sandbox")]
    #[test]
    fn with_the_feature_the_door_serves_the_sandbox() {
        assert!(super::account(aftersale::Platform::Xiaoe).is_ok());
        assert!(super::account(aftersale::Platform::WechatChannels).is_ok());
        let now_ms = 1_760_000_000_000; // 2025-10-09 in China: the range ends tomorrow
        let examples: serde_json::Value = serde_json::from_str(&super::examples_json(now_ms).unwrap()).unwrap();
        assert_eq!(examples["range"], serde_json::json!({"from": "2025-03-13", "to": "2025-10-10"}));
        assert!(examples["orders"].as_array().is_some_and(|o| !o.is_empty()));
    }
}
