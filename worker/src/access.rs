//! Who may call: bearer keys compared in constant time, and CORS for browsers from the allowed
//! origins only.

use subtle::ConstantTimeEq;
use worker::{Headers, Request};

use crate::api_error::ApiError;
use crate::config::Config;
use aftersale::ErrorCode;

/// Checks `Authorization: Bearer <key>` against `CLIENT_KEYS`, comparing every key in full so the
/// time taken says nothing about which key (or how much of one) matched.
pub fn authorize(req: &Request, config: &Config) -> Result<(), ApiError> {
    if config.open_access() {
        return Ok(());
    }
    if config.client_keys().is_empty() {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "this proxy has no CLIENT_KEYS configured: no caller is accepted",
        ));
    }
    let header = req.headers().get("authorization").ok().flatten().unwrap_or_default();
    let Some(presented) = header.strip_prefix("Bearer ").map(str::trim) else {
        return Err(ApiError::new(ErrorCode::Unauthorized, "missing `Authorization: Bearer <key>` header"));
    };
    let mut matched = subtle::Choice::from(0u8);
    for key in config.client_keys() {
        let k = key.expose().as_bytes();
        // ct_eq on unequal lengths returns false at once; lengths of keys are not secret.
        matched |= k.ct_eq(presented.as_bytes());
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::Unauthorized, "the bearer key is not one of this proxy's CLIENT_KEYS"))
    }
}

/// The request's `Origin`, when a browser sent one.
pub fn origin(req: &Request) -> Option<String> {
    req.headers().get("origin").ok().flatten().filter(|o| !o.is_empty() && o != "null")
}

/// Whether `origin` may call: listed in `ALLOWED_ORIGINS` (`*` allows any), or this Worker's own
/// origin (the console page it serves).
pub fn origin_allowed(origin: &str, req: &Request, config: &Config) -> bool {
    let own = req.url().ok().map(|u| u.origin().ascii_serialization());
    own.as_deref() == Some(origin) || config.allowed_origins.iter().any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
}

pub fn check_origin(req: &Request, config: &Config) -> Result<Option<String>, ApiError> {
    match origin(req) {
        None => Ok(None),
        Some(o) if origin_allowed(&o, req, config) => Ok(Some(o)),
        Some(o) => Err(ApiError::new(ErrorCode::ForbiddenOrigin, format!("origin {o} is not in ALLOWED_ORIGINS"))),
    }
}

/// CORS headers granting `origin`.
pub fn cors_headers(headers: &Headers, origin: &str) -> worker::Result<()> {
    headers.set("access-control-allow-origin", origin)?;
    headers.set("vary", "Origin")?;
    headers.set("access-control-expose-headers", "Retry-After, Content-Type")?;
    Ok(())
}

/// The answer to a preflight from an allowed origin.
pub fn preflight_headers(headers: &Headers, origin: &str) -> worker::Result<()> {
    cors_headers(headers, origin)?;
    headers.set("access-control-allow-methods", "GET, OPTIONS")?;
    headers.set("access-control-allow-headers", "Authorization, Content-Type")?;
    headers.set("access-control-max-age", "600")?;
    Ok(())
}
