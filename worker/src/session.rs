//! Buyer sessions (SPEC.md §10): JWTs (RFC 7519) in the JWS compact form, signed HS256 with
//! `SESSION_SECRET`, bound to one platform and one buyer, living at most an hour.
//!
//! Written over the `hmac`/`sha2` crates the core already uses rather than a JWT crate: the
//! well-kept one (`jsonwebtoken`) needs either the native `aws-lc-rs` backend or, for pure Rust,
//! drags RSA, ECDSA, Ed25519 and `rand`/`getrandom` (which needs its own wasm backend configured)
//! into the Worker for the one algorithm used here. The format is the standard one, so any JWT
//! library verifies these tokens; only `alg: HS256` is accepted, whatever a header claims.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use aftersale::account::Secret;
use aftersale::{ErrorCode, Platform};
use worker::Env;

use crate::api_error::ApiError;
use crate::config;

/// The longest session (SPEC.md §10): a stolen token is worth an hour at most.
pub const MAX_TTL_S: u64 = 3600;
/// What a session lives when the minting call does not say.
pub const DEFAULT_TTL_S: u64 = 900;
const ISSUER: &str = "aftersale";
/// The only header this proxy issues or accepts (base64url of `{"alg":"HS256","typ":"JWT"}`).
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;
/// Tolerated clock difference between isolates, for `iat` in the future.
const LEEWAY_S: u64 = 60;

/// Which buyer a session is bound to: the platform's own id of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuyerId {
    Openid(String),
    UserId(String),
}

impl BuyerId {
    pub fn field(&self) -> &'static str {
        match self {
            BuyerId::Openid(_) => "openid",
            BuyerId::UserId(_) => "user_id",
        }
    }
    pub fn value(&self) -> &str {
        match self {
            BuyerId::Openid(v) | BuyerId::UserId(v) => v,
        }
    }
    /// The id as one string, for quotas (never logged).
    pub fn key(&self) -> String {
        format!("{}={}", self.field(), self.value())
    }
}

/// A verified session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub platform: Platform,
    pub buyer: BuyerId,
    pub expires_at_s: u64,
}

/// The claims: registered ones (`iss`, `sub`, `iat`, `exp`) and the platform and buyer field.
#[derive(Serialize, Deserialize)]
struct Claims {
    iss: String,
    /// The buyer's id.
    sub: String,
    /// `openid` or `user_id`: which of the buyer's ids `sub` is.
    bid: String,
    plt: String,
    iat: u64,
    exp: u64,
}

/// The session settings of SPEC.md §10, read from the Worker's variables.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// `SESSION_SECRET`; in the sandbox a fixed one when unset, as for cursors.
    secret: Option<Secret>,
    /// `ALLOW_SECRET_KEYS_FROM_BROWSERS=true`: secret keys accepted from any allowed origin.
    pub allow_keys_from_browsers: bool,
}

impl SessionConfig {
    pub fn from_env(env: &Env, sandbox: bool) -> SessionConfig {
        let secret = match config::read(env, "SESSION_SECRET") {
            Some(s) => Some(Secret::new(s)),
            None if sandbox => Some(Secret::new("aftersale-sandbox-session-key")),
            None => None,
        };
        let allow = config::read(env, "ALLOW_SECRET_KEYS_FROM_BROWSERS").is_some_and(|v| v == "true" || v == "1");
        SessionConfig { secret, allow_keys_from_browsers: allow }
    }

    fn key(&self) -> Result<&Secret, ApiError> {
        self.secret.as_ref().ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthorized,
                "this proxy has no SESSION_SECRET configured: buyer sessions are off",
            )
        })
    }

    /// Signs a session for `buyer` on `platform`, valid `ttl_s` seconds from `now_s`.
    pub fn mint(&self, platform: Platform, buyer: &BuyerId, ttl_s: u64, now_s: u64) -> Result<String, ApiError> {
        let secret =
            self.key().map_err(|_| ApiError::internal("SESSION_SECRET is not set: sessions cannot be minted"))?;
        if ttl_s == 0 || ttl_s > MAX_TTL_S {
            return Err(ApiError::invalid_request("ttl_s", format!("{ttl_s} is not from 1 to {MAX_TTL_S} seconds")));
        }
        let claims = Claims {
            iss: ISSUER.into(),
            sub: buyer.value().into(),
            bid: buyer.field().into(),
            plt: platform.as_str().into(),
            iat: now_s,
            exp: now_s + ttl_s,
        };
        let payload = serde_json::to_vec(&claims).map_err(|e| ApiError::internal(e.to_string()))?;
        let signing_input = format!("{}.{}", b64(HEADER.as_bytes()), b64(&payload));
        let tag = mac(secret, &signing_input).finalize().into_bytes();
        Ok(format!("{signing_input}.{}", b64(&tag)))
    }

    /// Verifies a presented session: signature first (constant time), then the claims. Every
    /// failure is a 401 saying what was wrong, never the token itself.
    pub fn verify(&self, token: &str, now_s: u64) -> Result<Session, ApiError> {
        let unauthorized = |why: &str| ApiError::new(ErrorCode::Unauthorized, format!("the session {why}"));
        let secret = self.key()?;
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(unauthorized("is not a JWT (three dot-separated parts)"));
        };
        let signature = unb64(signature).ok_or_else(|| unauthorized("signature is not base64url"))?;
        let check = mac(secret, &token[..header.len() + 1 + payload.len()]);
        check
            .verify_slice(&signature)
            .map_err(|_| unauthorized("signature is not this proxy's (forged or altered)"))?;
        // Signed by us, so the header is ours; still, accept nothing but the one we issue.
        if unb64(header).as_deref() != Some(HEADER.as_bytes()) {
            return Err(unauthorized("header is not HS256"));
        }
        let claims: Claims = unb64(payload)
            .and_then(|p| serde_json::from_slice(&p).ok())
            .ok_or_else(|| unauthorized("claims cannot be read"))?;
        if claims.iss != ISSUER {
            return Err(unauthorized("was not issued by this proxy"));
        }
        if claims.exp <= now_s {
            return Err(unauthorized("has expired: mint a new one"));
        }
        if claims.iat > now_s + LEEWAY_S || claims.exp.saturating_sub(claims.iat) > MAX_TTL_S {
            return Err(unauthorized("claims an impossible lifetime"));
        }
        let platform: Platform = claims.plt.parse().map_err(|_| unauthorized("names no known platform"))?;
        let buyer = match claims.bid.as_str() {
            "openid" => BuyerId::Openid(claims.sub),
            "user_id" => BuyerId::UserId(claims.sub),
            _ => return Err(unauthorized("names no buyer")),
        };
        if buyer.value().is_empty() {
            return Err(unauthorized("names no buyer"));
        }
        Ok(Session { platform, buyer, expires_at_s: claims.exp })
    }
}

impl SessionConfig {
    /// Binds a list cursor to one session's buyer: `<cursor>.<tag>`, the tag an HMAC under
    /// `SESSION_SECRET` of the platform, the buyer and the cursor. A cursor from any other query
    /// (a secret key's list, another buyer's session) carries no such tag and is refused.
    pub fn bind_cursor(&self, session: &Session, cursor: &str) -> Result<String, ApiError> {
        let tag = self.cursor_tag(session, cursor)?;
        Ok(format!("{cursor}.{tag}"))
    }

    /// The list cursor inside a bound one, if it was bound to this session's buyer.
    pub fn open_cursor<'c>(&self, session: &Session, bound: &'c str) -> Result<&'c str, ApiError> {
        let refused = || {
            ApiError::new(
                ErrorCode::Forbidden,
                "parameter `cursor`: was not issued to this session's buyer by /v1/me/aftersales",
            )
        };
        let (cursor, tag) = bound.rsplit_once('.').ok_or_else(refused)?;
        let expected = self.cursor_tag(session, cursor)?;
        use subtle::ConstantTimeEq as _;
        if bool::from(expected.as_bytes().ct_eq(tag.as_bytes())) {
            Ok(cursor)
        } else {
            Err(refused())
        }
    }

    fn cursor_tag(&self, session: &Session, cursor: &str) -> Result<String, ApiError> {
        let secret = self.key()?;
        let input = format!("me-cursor|{}|{}|{cursor}", session.platform, session.buyer.key());
        Ok(b64(&mac(secret, &input).finalize().into_bytes()[..16]))
    }
}

/// Whether a bearer value is shaped like a session rather than a key (`eyJ` is how every JSON
/// header starts in base64url), so a key is never run through the JWT parser and vice versa.
pub fn looks_like_session(bearer: &str) -> bool {
    bearer.starts_with("eyJ") && bearer.matches('.').count() == 2
}

fn mac(secret: &Secret, input: &str) -> Hmac<Sha256> {
    let mut m =
        <Hmac<Sha256> as Mac>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes keys of any length");
    m.update(input.as_bytes());
    m
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(secret: &str) -> SessionConfig {
        SessionConfig { secret: Some(Secret::new(secret)), allow_keys_from_browsers: false }
    }

    #[test]
    fn round_trip_and_refusals() {
        let c = config("s3cret");
        let buyer = BuyerId::Openid("o_A".into());
        let t = c.mint(Platform::WechatShop, &buyer, 600, 1_000).unwrap();
        assert!(looks_like_session(&t));
        let s = c.verify(&t, 1_100).unwrap();
        assert_eq!((s.platform, s.buyer, s.expires_at_s), (Platform::WechatShop, buyer.clone(), 1_600));
        assert!(c.verify(&t, 1_600).is_err(), "expired at exp");
        assert!(config("other").verify(&t, 1_100).is_err(), "another secret");
        // Tampered claims with the old signature.
        let parts: Vec<&str> = t.split('.').collect();
        let forged = String::from_utf8(unb64(parts[1]).unwrap()).unwrap().replace("o_A", "o_B");
        let tampered = format!("{}.{}.{}", parts[0], b64(forged.as_bytes()), parts[2]);
        assert!(c.verify(&tampered, 1_100).is_err());
        // alg=none.
        let none = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), parts[1]);
        assert!(c.verify(&none, 1_100).is_err());
        assert!(c.mint(Platform::Xiaoe, &buyer, 3601, 0).is_err());
        assert!(c.mint(Platform::Xiaoe, &buyer, 0, 0).is_err());
    }
}
