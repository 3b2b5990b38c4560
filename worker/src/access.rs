//! Who may call: buyer sessions and bearer keys (compared in constant time), keys refused from
//! foreign browser pages, and CORS for browsers from the allowed origins only.

use subtle::ConstantTimeEq;
use worker::{Headers, Request};

use crate::api_error::ApiError;
use crate::config::Config;
use crate::scope::Caller;
use crate::session::{self, SessionConfig};
use aftersale::ErrorCode;

/// The bearer credential of `Authorization: Bearer <credential>`; the scheme is
/// case-insensitive (RFC 9110 §11.1), and any run of spaces may follow it.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    let credential = rest.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !credential.is_empty() && !credential.contains(' ')).then_some(credential)
}

/// Who calls (SPEC.md §10): a buyer session (verified), or a `CLIENT_KEYS` key compared in
/// full against every key, so the time taken says nothing about which key (or how much of one)
/// matched. A key sent from a browser page of another origin than this Worker's is refused
/// unless `ALLOW_SECRET_KEYS_FROM_BROWSERS=true`: a key in a page is public.
pub fn authorize(req: &Request, config: &Config, sessions: &SessionConfig, now_s: u64) -> Result<Caller, ApiError> {
    let header = req.headers().get("authorization").ok().flatten().unwrap_or_default();
    let presented = bearer(&header);
    if let Some(token) = presented.filter(|p| session::looks_like_session(p)) {
        return sessions.verify(token, now_s).map(Caller::Session);
    }
    if config.open_access() {
        return Ok(Caller::SecretKey { quota_key: String::from("open-sandbox") });
    }
    if config.client_keys().is_empty() {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "this proxy has no CLIENT_KEYS configured: no caller is accepted",
        ));
    }
    let Some(presented) = presented else {
        return Err(ApiError::new(ErrorCode::Unauthorized, "missing `Authorization: Bearer <key>` header"));
    };
    let mut matched = subtle::Choice::from(0u8);
    for key in config.client_keys() {
        let k = key.expose().as_bytes();
        // ct_eq on unequal lengths returns false at once; lengths of keys are not secret.
        matched |= k.ct_eq(presented.as_bytes());
    }
    if !bool::from(matched) {
        return Err(ApiError::new(ErrorCode::Unauthorized, "the bearer key is not one of this proxy's CLIENT_KEYS"));
    }
    if let Some(o) = origin(req).filter(|o| !is_own_origin(o, req)) {
        if !sessions.allow_keys_from_browsers {
            return Err(ApiError::new(
                ErrorCode::ForbiddenOrigin,
                format!(
                    "a secret key was sent from a browser page ({o}): a key in a page is public, so it is refused. \
                     Storefront pages send a buyer session (POST /v1/sessions from your server, or the mini program \
                     sign-in); set ALLOW_SECRET_KEYS_FROM_BROWSERS=true only for a trusted back-office page"
                ),
            ));
        }
    }
    Ok(Caller::SecretKey { quota_key: fingerprint(presented) })
}

/// A short, stable name for a key (its SHA-256, truncated): quotas count by it, and it reveals
/// nothing usable about the key.
fn fingerprint(key: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(key.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn is_own_origin(origin: &str, req: &Request) -> bool {
    req.url().ok().map(|u| u.origin().ascii_serialization()).as_deref() == Some(origin)
}

/// The request's `Origin`, when a browser sent one.
pub fn origin(req: &Request) -> Option<String> {
    req.headers().get("origin").ok().flatten().filter(|o| !o.is_empty() && o != "null")
}

/// Whether `origin` may call: listed in `ALLOWED_ORIGINS` (`*` allows any), or this Worker's own
/// origin (the console page it serves).
pub fn origin_allowed(origin: &str, req: &Request, config: &Config) -> bool {
    is_own_origin(origin, req) || config.allowed_origins.iter().any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
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
    headers.set("access-control-allow-methods", "GET, POST, OPTIONS")?;
    headers.set("access-control-allow-headers", "Authorization, Content-Type")?;
    headers.set("access-control-max-age", "600")?;
    Ok(())
}
