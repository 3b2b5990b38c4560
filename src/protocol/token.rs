//! Upstream access tokens as a state machine: when to fetch, renewal ahead of expiry, one fetch
//! at a time for every caller, and a refresh on an auth error only if the token that failed is
//! still the current one — so a burst of failures costs one refresh, not a storm.

use alloc::string::String;

use serde::{Deserialize, Serialize};

use alloc::collections::VecDeque;

use crate::error::{ProtocolError, UpstreamClass, UpstreamError};
use crate::model::Platform;
use crate::parse::normalize;
use crate::parse::wire::{wire_struct, Int, Text};
use crate::protocol::account::{Account, Secret};
use crate::protocol::http::{Request, Response};
use crate::protocol::retry::RetryPolicy;
use crate::protocol::upstream::{http_upstream_error, TokenAsk, Upstream};
use crate::Error;

/// A fetch that has not answered by then is presumed lost; another caller may try.
pub const FETCH_TIMEOUT_MS: u64 = 15_000;
/// Refresh tokens live two hours (Lingxing's); stop using one a minute early.
const REFRESH_TOKEN_LIFETIME_MS: u64 = 2 * 3600 * 1000 - 60_000;
const DAY_MS: u64 = 24 * 3600 * 1000;

/// A usable access token and the generation it belongs to.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub value: Secret,
    pub issued_at_ms: u64,
    pub expires_at_ms: u64,
    /// Increases with every fetched token; auth failures name the generation they used.
    pub generation: u64,
}

impl core::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &self.value)
            .field("issued_at_ms", &self.issued_at_ms)
            .field("expires_at_ms", &self.expires_at_ms)
            .field("generation", &self.generation)
            .finish()
    }
}

/// What a caller should do to get a token.
#[derive(Debug)]
pub enum TokenPoll<'t> {
    Ready(&'t AccessToken),
    /// Send this and hand the answer to [`TokenManager::handle_response`].
    Fetch(Request),
    /// Another caller is fetching (look again when the account's state changes, at the latest
    /// at the fetch's deadline), or a failed fetch is backing off (look again then).
    Wait {
        until_ms: u64,
        on_account_change: bool,
    },
    /// The last fetch failed in a way that waiting will not mend (bad credentials).
    Failed(Error),
}

/// What the token endpoint granted.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub access_token: String,
    pub expires_in_s: u64,
    pub refresh_token: Option<String>,
}

wire_struct! {
    /// Every upstream's token answer in one lenient shape: WeChat's flat
    /// `{access_token, expires_in}` / `{errcode, errmsg}`, Xiaoe's `{code, msg, data}` and
    /// Lingxing's `{code: "200", msg, data: {access_token, refresh_token, expires_in}}`.
    pub struct TokenAnswer<'a> {
        errcode: Int,
        errmsg: Text<'a>,
        code: Text<'a>,
        msg: Text<'a> | "message",
        access_token: Text<'a>,
        expires_in: Int,
        refresh_token: Text<'a>,
        data: TokenData<'a>,
    }
}

wire_struct! {
    pub struct TokenData<'a> {
        access_token: Text<'a>,
        expires_in: Int,
        refresh_token: Text<'a>,
    }
}

/// Reads a token endpoint's answer, classifying an error by the upstream's own table.
pub fn parse_grant(upstream: &dyn Upstream, body: &str) -> Result<TokenGrant, Error> {
    let platform = upstream.platform();
    let answer: TokenAnswer<'_> = normalize::parse_body(platform, body)?;
    let code = match (&answer.errcode, &answer.code) {
        (Some(Int(c)), _) if *c != 0 => Some((alloc::format!("{c}"), answer.errmsg)),
        (_, Some(c)) if !matches!(c.0.trim(), "0" | "200") => Some((String::from(c.0.trim()), answer.msg)),
        _ => None,
    };
    if let Some((code, message)) = code {
        // A token endpoint refusing credentials is an auth problem whatever its code says.
        let class = match upstream.classify(&code) {
            None | Some(UpstreamClass::Other) => UpstreamClass::Auth,
            Some(class) => class,
        };
        return Err(normalize::upstream_error(platform, code, message, class));
    }
    let (token, expires, refresh) = match answer.data {
        Some(d) => (
            d.access_token.or(answer.access_token),
            d.expires_in.or(answer.expires_in),
            d.refresh_token.or(answer.refresh_token),
        ),
        None => (answer.access_token, answer.expires_in, answer.refresh_token),
    };
    let bad =
        |message: &str| Error::Protocol(ProtocolError::BadTokenResponse { platform, message: String::from(message) });
    let access_token = normalize::text(token).ok_or_else(|| bad("no access_token"))?.into_owned();
    let expires_in_s = match expires {
        Some(Int(n)) if n > 0 => n as u64,
        Some(_) => return Err(bad("expires_in is not positive")),
        None => 7200,
    };
    Ok(TokenGrant { access_token, expires_in_s, refresh_token: normalize::text(refresh).map(|c| c.into_owned()) })
}

/// What a token fetch in flight was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FetchKind {
    Fresh,
    Refresh,
}

/// A persisted token, so a restarted Durable Object keeps using it instead of fetching anew.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSnapshot {
    pub access_token: String,
    pub issued_at_ms: u64,
    pub expires_at_ms: u64,
    pub generation: u64,
    pub refresh_token: Option<String>,
    pub refresh_expires_at_ms: u64,
}

impl core::fmt::Debug for TokenSnapshot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("TokenSnapshot([redacted])")
    }
}

/// The token of one upstream account.
#[derive(Debug)]
pub struct TokenManager {
    account: Account,
    current: Option<AccessToken>,
    refresh: Option<(Secret, u64)>,
    generation: u64,
    fetching: Option<(u64, FetchKind)>,
    /// The current token was refused: ask for a new one rather than the cached one (WeChat's
    /// stable token returns the same token until told to force a new one).
    force_next: bool,
    /// When tokens were forced in the last day, for upstreams that limit forcing.
    forced_at: VecDeque<u64>,
    /// The preferred token endpoint is missing: use the fallback.
    fallback: bool,
    retry: RetryPolicy,
    failures: u32,
    retry_at_ms: u64,
    last_failure: Option<Error>,
    /// Token endpoint calls made, for tests and metrics.
    pub fetch_count: u64,
}

impl TokenManager {
    pub fn new(account: Account) -> TokenManager {
        TokenManager {
            account,
            current: None,
            refresh: None,
            generation: 0,
            fetching: None,
            force_next: false,
            forced_at: VecDeque::new(),
            fallback: false,
            retry: RetryPolicy::default(),
            failures: 0,
            retry_at_ms: 0,
            last_failure: None,
            fetch_count: 0,
        }
    }

    pub fn account(&self) -> &Account {
        &self.account
    }

    /// Backs off failed fetches by the account's policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> TokenManager {
        self.retry = retry;
        self
    }

    /// Use the upstream's fallback token endpoint from the start (WeChat's classic token).
    pub fn prefer_fallback_token(&mut self) {
        self.fallback = true;
    }

    fn upstream(&self) -> &'static dyn Upstream {
        self.account.platform.upstream()
    }

    pub fn current(&self) -> Option<&AccessToken> {
        self.current.as_ref()
    }

    pub fn poll(&mut self, now_ms: u64) -> TokenPoll<'_> {
        if let Some((started, _)) = self.fetching {
            if now_ms >= started + FETCH_TIMEOUT_MS {
                self.fetching = None; // lost; let someone try again
            }
        }
        if let Some(t) = self.current.as_ref().filter(|t| now_ms < t.expires_at_ms) {
            let lifetime = t.expires_at_ms.saturating_sub(t.issued_at_ms);
            let renew_due = now_ms + self.upstream().renew_before_ms(lifetime) >= t.expires_at_ms;
            if renew_due && self.fetching.is_none() && now_ms >= self.retry_at_ms {
                // Renewal ahead of expiry: callers go on with the current token meanwhile.
                if let Ok(request) = self.start_fetch(now_ms) {
                    return TokenPoll::Fetch(request);
                }
            }
            return TokenPoll::Ready(self.current.as_ref().expect("checked"));
        }
        self.current = None;
        if let Some((started, _)) = self.fetching {
            return TokenPoll::Wait { until_ms: started + FETCH_TIMEOUT_MS, on_account_change: true };
        }
        if now_ms < self.retry_at_ms {
            return match &self.last_failure {
                Some(e) if is_permanent(e) => TokenPoll::Failed(e.clone()),
                _ => TokenPoll::Wait { until_ms: self.retry_at_ms, on_account_change: false },
            };
        }
        if let Some(until_ms) = self.force_not_before(now_ms) {
            // A new token may not be forced yet: wait for the limit rather than fetch the
            // refused token again.
            return TokenPoll::Wait { until_ms, on_account_change: true };
        }
        match self.start_fetch(now_ms) {
            Ok(request) => TokenPoll::Fetch(request),
            Err(e) => TokenPoll::Failed(e),
        }
    }

    /// When forcing a new token is allowed again, if not now. Past the daily budget a plain
    /// fetch is made instead (another instance may have renewed the token meanwhile).
    fn force_not_before(&mut self, now_ms: u64) -> Option<u64> {
        let limit = self.upstream().force_refresh_limit()?;
        if !self.force_next {
            return None;
        }
        while self.forced_at.front().is_some_and(|&t| t + DAY_MS <= now_ms) {
            self.forced_at.pop_front();
        }
        if self.forced_at.len() >= limit.per_day as usize {
            self.force_next = false;
            return None;
        }
        let allowed = self.forced_at.back().map_or(0, |&t| t + limit.min_interval_ms);
        (now_ms < allowed).then_some(allowed)
    }

    fn start_fetch(&mut self, now_ms: u64) -> Result<Request, Error> {
        let refresh = self.refresh.as_ref().filter(|(_, expires)| now_ms < *expires).map(|(rt, _)| rt.expose());
        let ask = TokenAsk { refresh_token: refresh, force_refresh: self.force_next, fallback: self.fallback };
        let fetch = self.upstream().token_request(&self.account, ask)?;
        if self.force_next && self.upstream().force_refresh_limit().is_some() {
            self.forced_at.push_back(now_ms);
        }
        self.fetch_count += 1;
        self.fetching = Some((now_ms, if fetch.is_refresh { FetchKind::Refresh } else { FetchKind::Fresh }));
        Ok(fetch.request)
    }

    fn platform(&self) -> Platform {
        self.account.platform
    }

    /// The token endpoint's answer.
    pub fn handle_response(&mut self, now_ms: u64, response: &Response) -> Result<(), Error> {
        let kind = self.fetching.take().map(|(_, k)| k);
        if !self.fallback && self.upstream().token_fallback_on(response.status) {
            // No preferred token endpoint here (WeChat without stable_token): fall back at once.
            self.fallback = true;
            self.retry_at_ms = now_ms;
            return Err(Error::Protocol(ProtocolError::BadTokenResponse {
                platform: self.platform(),
                message: alloc::format!(
                    "the token endpoint answered HTTP {}; falling back to the other one",
                    response.status
                ),
            }));
        }
        let result = if response.status >= 500 || response.status == 429 {
            Err(Error::Upstream(http_upstream_error(self.platform(), response)))
        } else {
            parse_grant(self.upstream(), &response.body)
        };
        match result {
            Ok(grant) => {
                self.generation += 1;
                self.current = Some(AccessToken {
                    value: Secret::new(grant.access_token),
                    issued_at_ms: now_ms,
                    expires_at_ms: now_ms + grant.expires_in_s * 1000,
                    generation: self.generation,
                });
                if let Some(rt) = grant.refresh_token {
                    self.refresh = Some((Secret::new(rt), now_ms + REFRESH_TOKEN_LIFETIME_MS));
                }
                self.force_next = false;
                self.failures = 0;
                self.retry_at_ms = 0;
                self.last_failure = None;
                Ok(())
            }
            Err(e) => {
                if kind == Some(FetchKind::Refresh) {
                    // A spent or expired refresh token: fetch a new pair straight away.
                    self.refresh = None;
                    if matches!(&e, Error::Upstream(u) if u.class == UpstreamClass::RefreshTokenRejected) {
                        self.retry_at_ms = now_ms;
                        return Err(e);
                    }
                }
                self.failures += 1;
                self.retry_at_ms = now_ms + self.retry.delay_ms(self.failures, 0);
                self.last_failure = Some(e.clone());
                Err(e)
            }
        }
    }

    /// The token fetch never got an answer (network error, timeout).
    pub fn fetch_failed(&mut self, now_ms: u64) {
        self.fetching = None;
        self.failures += 1;
        self.retry_at_ms = now_ms + self.retry.delay_ms(self.failures, 0);
    }

    /// An upstream refused a token of `generation`. Only if that is still the current token is it
    /// dropped (returns true); a failure of an older token says nothing about the new one.
    pub fn invalidate(&mut self, generation: u64) -> bool {
        match &self.current {
            Some(t) if t.generation == generation => {
                self.current = None;
                self.force_next = true;
                true
            }
            _ => false,
        }
    }

    pub fn snapshot(&self) -> Option<TokenSnapshot> {
        let t = self.current.as_ref()?;
        Some(TokenSnapshot {
            access_token: String::from(t.value.expose()),
            issued_at_ms: t.issued_at_ms,
            expires_at_ms: t.expires_at_ms,
            generation: t.generation,
            refresh_token: self.refresh.as_ref().map(|(s, _)| String::from(s.expose())),
            refresh_expires_at_ms: self.refresh.as_ref().map_or(0, |(_, e)| *e),
        })
    }

    pub fn restore(&mut self, snapshot: TokenSnapshot) {
        self.generation = self.generation.max(snapshot.generation);
        self.current = Some(AccessToken {
            value: Secret::new(snapshot.access_token),
            issued_at_ms: snapshot.issued_at_ms,
            expires_at_ms: snapshot.expires_at_ms,
            generation: snapshot.generation,
        });
        self.refresh = snapshot.refresh_token.map(|r| (Secret::new(r), snapshot.refresh_expires_at_ms));
    }
}

/// Errors no amount of waiting mends: bad credentials, missing permissions.
fn is_permanent(e: &Error) -> bool {
    matches!(e, Error::Upstream(UpstreamError { class: UpstreamClass::Auth, .. }))
}
