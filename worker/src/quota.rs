//! Caller quotas (SPEC.md §10), checked before any upstream call is spent:
//! - a token bucket per caller (a key's fingerprint, or a session's buyer) of
//!   `CALLER_QUOTA_PER_MIN` requests a minute (sessions: 60 when unset; keys: unlimited unless set);
//! - for sessions, a share of each upstream account's rate limit (`STOREFRONT_SHARE`, 0.5 when
//!   unset): storefront traffic together spends at most that share of the account's calls per
//!   window, so the rest stays for the merchant's secret keys whatever the storefront does.
//!
//! Beyond either: 429 `rate_limited` with `Retry-After`. Each bucket lives in one `CallerQuota`
//! Durable Object (named by the bucket), so every isolate counts against the same one. Chosen
//! over the Workers Rate Limiting binding (which local wrangler does simulate): it answers only
//! yes or no, with no time to put in `Retry-After`; it counts in fixed 10 or 60 s windows, per
//! Cloudflare location in production; and the storefront share is a fraction of each upstream
//! description's limit, not one number in wrangler.toml.

use std::cell::RefCell;

use aftersale::pacing::RateLimit;
use aftersale::{ErrorCode, Platform};
use serde::{Deserialize, Serialize};
use worker::{durable_object, DurableObject, Env, Method, Request, RequestInit, Response, Result, State};

use crate::api_error::ApiError;
use crate::config::{self, Config};
use crate::scope::Caller;

const DEFAULT_SESSION_QUOTA_PER_MIN: u32 = 60;
const DEFAULT_STOREFRONT_SHARE: f64 = 0.5;
/// Lingxing-style upstreams allow one call in flight rather than a count per window; their
/// share is counted as if a call took a second.
const SERIAL_CALLS_PER_MIN: u32 = 60;

#[derive(Clone, Debug)]
pub struct QuotaConfig {
    per_min: Option<u32>,
    share: f64,
}

impl QuotaConfig {
    pub fn from_env(env: &Env) -> Result<QuotaConfig, ApiError> {
        let per_min = match config::read(env, "CALLER_QUOTA_PER_MIN") {
            None => None,
            Some(v) => Some(v.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                ApiError::internal(format!("CALLER_QUOTA_PER_MIN={v:?} is not a whole number of at least 1"))
            })?),
        };
        let share = match config::read(env, "STOREFRONT_SHARE") {
            None => DEFAULT_STOREFRONT_SHARE,
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|s| (0.0..=1.0).contains(s))
                .ok_or_else(|| ApiError::internal(format!("STOREFRONT_SHARE={v:?} is not a number from 0 to 1")))?,
        };
        Ok(QuotaConfig { per_min, share })
    }

    fn caller_per_min(&self, caller: &Caller) -> Option<u32> {
        match caller {
            Caller::Session(_) => Some(self.per_min.unwrap_or(DEFAULT_SESSION_QUOTA_PER_MIN)),
            Caller::SecretKey { .. } => self.per_min,
        }
    }
}

/// A bucket to draw from: its size and how fast it refills.
#[derive(Serialize, Deserialize, Clone, Copy, Debug)]
struct Bucket {
    capacity: f64,
    /// Tokens added per millisecond.
    refill_per_ms: f64,
    cost: f64,
}

/// The object's answer: allowed, or how long until the cost fits.
#[derive(Serialize, Deserialize)]
struct Verdict {
    allowed: bool,
    retry_after_ms: u64,
}

/// Takes one request from the caller's own bucket.
pub async fn charge_caller(env: &Env, quota: &QuotaConfig, caller: &Caller) -> Result<(), ApiError> {
    let Some(per_min) = quota.caller_per_min(caller) else { return Ok(()) };
    let bucket = Bucket { capacity: f64::from(per_min), refill_per_ms: f64::from(per_min) / 60_000.0, cost: 1.0 };
    draw(env, &format!("caller:{}", caller.quota_key()), bucket, "this caller's quota (CALLER_QUOTA_PER_MIN)").await
}

/// Takes one sign-in from the bucket of the client address (the login route has no caller yet;
/// it gets the sessions' quota).
pub async fn charge_login(env: &Env, quota: &QuotaConfig, address: &str) -> Result<(), ApiError> {
    let per_min = quota.per_min.unwrap_or(DEFAULT_SESSION_QUOTA_PER_MIN);
    let bucket = Bucket { capacity: f64::from(per_min), refill_per_ms: f64::from(per_min) / 60_000.0, cost: 1.0 };
    draw(env, &format!("login:{address}"), bucket, "this address's sign-in quota (CALLER_QUOTA_PER_MIN)").await
}

/// For a session, takes `calls` upstream calls from the storefront share of the account
/// serving `platform`; secret keys are not counted against it (the share is kept for them).
pub async fn charge_share(
    env: &Env,
    config: &Config,
    quota: &QuotaConfig,
    caller: &Caller,
    platform: Platform,
    calls: u32,
) -> Result<(), ApiError> {
    if caller.session().is_none() || calls == 0 {
        return Ok(());
    }
    let (limit, window_ms) = match platform.upstream().rate_limit() {
        RateLimit::Window { limit, window_ms } => (limit, window_ms),
        RateLimit::Serial => (SERIAL_CALLS_PER_MIN, 60_000),
        RateLimit::Unlimited => return Ok(()),
    };
    let capacity = (f64::from(limit) * quota.share).floor();
    if capacity < 1.0 {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            format!("storefront sessions get no share of {platform}'s upstream calls (STOREFRONT_SHARE)"),
        )
        .with_retry_after(60));
    }
    let bucket = Bucket { capacity, refill_per_ms: capacity / window_ms.max(1) as f64, cost: f64::from(calls) };
    let account = config.account(platform)?;
    draw(env, &format!("share:{}", account.key()), bucket, "the storefront share of this upstream's rate limit").await
}

async fn draw(env: &Env, name: &str, bucket: Bucket, what: &str) -> Result<(), ApiError> {
    let namespace = env.durable_object("CALLER_QUOTA")?;
    let stub = namespace.id_from_name(name)?.get_stub()?;
    let body = serde_json::to_string(&bucket).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let request = Request::new_with_init("https://caller-quota.internal/draw", &init)?;
    let mut response = stub.fetch_with_request(request).await?;
    let verdict: Verdict = response.json().await.map_err(|e| ApiError::internal(format!("quota object: {e}")))?;
    if verdict.allowed {
        Ok(())
    } else {
        let seconds = verdict.retry_after_ms.div_ceil(1000).max(1);
        Err(ApiError::new(ErrorCode::RateLimited, format!("over {what}: retry in {seconds} s"))
            .with_retry_after(seconds))
    }
}

/// One token bucket. Its state is written to the object's storage on every draw: an object
/// idle for a few seconds is evicted from memory, and a bucket that came back full each time
/// would let a patient caller through at many times its quota.
#[durable_object]
pub struct CallerQuota {
    state: State,
    bucket: RefCell<Option<(f64, u64)>>,
}

const BUCKET_KEY: &str = "bucket";

#[derive(Serialize, Deserialize)]
struct SavedBucket {
    tokens: f64,
    at_ms: u64,
}

impl DurableObject for CallerQuota {
    fn new(state: State, _env: Env) -> Self {
        CallerQuota { state, bucket: RefCell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let bucket: Bucket = match req.json().await {
            Ok(b) => b,
            Err(e) => return ApiError::internal(format!("bad quota message: {e}")).to_response(),
        };
        if self.bucket.borrow().is_none() {
            if let Ok(Some(saved)) = self.state.storage().get::<SavedBucket>(BUCKET_KEY).await {
                // Another draw may have filled it while storage was read: that one is newer.
                self.bucket.borrow_mut().get_or_insert((saved.tokens, saved.at_ms));
            }
        }
        let now = worker::Date::now().as_millis();
        let (verdict, saved) = {
            let mut guard = self.bucket.borrow_mut();
            let verdict = take(&mut guard, bucket, now);
            (verdict, guard.map(|(tokens, at_ms)| SavedBucket { tokens, at_ms }))
        };
        if let Some(saved) = saved {
            // The object's input gate holds other draws until this write is done.
            self.state.storage().put(BUCKET_KEY, saved).await?;
        }
        Response::from_json(&verdict)
    }
}

/// Refills the bucket for the time passed, then takes `cost` if it is there.
fn take(state: &mut Option<(f64, u64)>, b: Bucket, now_ms: u64) -> Verdict {
    let (tokens, at) = state.unwrap_or((b.capacity, now_ms));
    let elapsed = now_ms.saturating_sub(at) as f64;
    let tokens = (tokens + elapsed * b.refill_per_ms).min(b.capacity);
    if tokens >= b.cost {
        *state = Some((tokens - b.cost, now_ms));
        Verdict { allowed: true, retry_after_ms: 0 }
    } else {
        *state = Some((tokens, now_ms));
        let missing = (b.cost.min(b.capacity) - tokens).max(0.0);
        let wait = if b.refill_per_ms > 0.0 { (missing / b.refill_per_ms).ceil() as u64 } else { 60_000 };
        Verdict { allowed: false, retry_after_ms: wait.max(1) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refills_and_refuses() {
        let b = Bucket { capacity: 2.0, refill_per_ms: 2.0 / 60_000.0, cost: 1.0 };
        let mut s = None;
        assert!(take(&mut s, b, 0).allowed);
        assert!(take(&mut s, b, 0).allowed);
        let v = take(&mut s, b, 0);
        assert!(!v.allowed);
        assert_eq!(v.retry_after_ms, 30_000);
        assert!(take(&mut s, b, 30_000).allowed);
    }
}
