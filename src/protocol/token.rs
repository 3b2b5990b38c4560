//! Upstream access tokens as a state machine: when to fetch, renewal ahead of expiry, one fetch
//! at a time for every caller, and a refresh on an auth error only if the token that failed is
//! still the current one — so a burst of failures costs one refresh, not a storm.

use alloc::string::String;

use serde::{Deserialize, Serialize};

use crate::account::{Account, Credentials, Secret};
use crate::error::{ProtocolError, UpstreamClass, UpstreamError};
use crate::http::{Request, Response};
use crate::model::Platform;
use crate::normalize;
use crate::wire::{wire_struct, Int, Text};
use crate::{lingxing, wechat, xiaoe, Error};

/// Renew this long before expiry (WeChat and Xiaoe tokens live 7200 s).
pub const RENEW_BEFORE_MS: u64 = 5 * 60 * 1000;
/// A fetch that has not answered by then is presumed lost; another caller may try.
pub const FETCH_TIMEOUT_MS: u64 = 15_000;
/// Lingxing refresh tokens live two hours; stop using one a minute early.
const REFRESH_TOKEN_LIFETIME_MS: u64 = 2 * 3600 * 1000 - 60_000;
/// How often a caller waiting on another's fetch looks again.
pub const WAIT_POLL_MS: u64 = 25;

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
    /// Another caller is fetching, or a failed fetch is backing off: look again then.
    Wait {
        until_ms: u64,
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

/// Reads a token endpoint's answer.
pub fn parse_grant(platform: Platform, body: &str) -> Result<TokenGrant, Error> {
    let answer: TokenAnswer<'_> = normalize::parse_body(platform, body)?;
    if let Some(Int(code)) = answer.errcode.filter(|c| c.0 != 0) {
        return Err(normalize::upstream_error(platform, code, answer.errmsg, wechat::classify(code)));
    }
    if let Some(code) = answer.code.as_ref().map(|c| c.0.trim()) {
        if code != "0" && code != "200" {
            let class = match platform {
                Platform::Xiaoe => code.parse().map(xiaoe::classify).unwrap_or(UpstreamClass::Other),
                Platform::Lingxing => lingxing::classify(code),
                _ => UpstreamClass::Other,
            };
            // A token endpoint refusing credentials is an auth problem whatever its code says.
            let class = if class == UpstreamClass::Other { UpstreamClass::Auth } else { class };
            return Err(normalize::upstream_error(platform, code, answer.msg, class));
        }
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
    LingxingRefresh,
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
    /// WeChat's stable token returns the same token until told to force a new one.
    force_next: bool,
    /// The stable-token endpoint is missing (HTTP 404): use the classic one.
    wechat_classic: bool,
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
            wechat_classic: false,
            failures: 0,
            retry_at_ms: 0,
            last_failure: None,
            fetch_count: 0,
        }
    }

    pub fn account(&self) -> &Account {
        &self.account
    }

    /// Use WeChat's classic token endpoint from the start.
    pub fn prefer_classic_wechat_token(&mut self) {
        self.wechat_classic = true;
    }

    pub fn current(&self) -> Option<&AccessToken> {
        self.current.as_ref()
    }

    fn renew_margin(lifetime_ms: u64) -> u64 {
        RENEW_BEFORE_MS.min(lifetime_ms / 10)
    }

    pub fn poll(&mut self, now_ms: u64) -> TokenPoll<'_> {
        if let Some((started, _)) = self.fetching {
            if now_ms >= started + FETCH_TIMEOUT_MS {
                self.fetching = None; // lost; let someone try again
            }
        }
        let valid = self.current.as_ref().is_some_and(|t| now_ms < t.expires_at_ms);
        if valid {
            let t = self.current.as_ref().expect("checked");
            let lifetime = t.expires_at_ms.saturating_sub(t.issued_at_ms);
            let renew_due = now_ms + Self::renew_margin(lifetime) >= t.expires_at_ms;
            if renew_due && self.fetching.is_none() && now_ms >= self.retry_at_ms {
                return TokenPoll::Fetch(self.start_fetch(now_ms));
            }
            return TokenPoll::Ready(self.current.as_ref().expect("checked"));
        }
        self.current = None;
        if self.fetching.is_some() {
            return TokenPoll::Wait { until_ms: now_ms + WAIT_POLL_MS };
        }
        if now_ms < self.retry_at_ms {
            return match &self.last_failure {
                Some(e) if is_permanent(e) => TokenPoll::Failed(e.clone()),
                _ => TokenPoll::Wait { until_ms: self.retry_at_ms },
            };
        }
        TokenPoll::Fetch(self.start_fetch(now_ms))
    }

    fn start_fetch(&mut self, now_ms: u64) -> Request {
        self.fetch_count += 1;
        let base = self.account.base_url.as_str();
        let (kind, request) = match &self.account.credentials {
            Credentials::Wechat { appid, secret } if self.wechat_classic => {
                (FetchKind::Fresh, wechat::request::classic_token_request(base, appid, secret))
            }
            Credentials::Wechat { appid, secret } => {
                (FetchKind::Fresh, wechat::request::stable_token_request(base, appid, secret, self.force_next))
            }
            Credentials::Xiaoe { app_id, client_id, secret_key } => {
                (FetchKind::Fresh, xiaoe::request::token_request(base, app_id, client_id, secret_key))
            }
            Credentials::Lingxing { app_id, app_secret } => match &self.refresh {
                Some((rt, expires)) if now_ms < *expires => {
                    (FetchKind::LingxingRefresh, lingxing::request::refresh_request(base, app_id, rt.expose()))
                }
                _ => (FetchKind::Fresh, lingxing::request::token_request(base, app_id, app_secret)),
            },
        };
        self.fetching = Some((now_ms, kind));
        request
    }

    fn platform(&self) -> Platform {
        match self.account.credentials {
            Credentials::Wechat { .. } => Platform::WechatShop,
            Credentials::Xiaoe { .. } => Platform::Xiaoe,
            Credentials::Lingxing { .. } => Platform::Lingxing,
        }
    }

    /// The token endpoint's answer.
    pub fn handle_response(&mut self, now_ms: u64, response: &Response) -> Result<(), Error> {
        let kind = self.fetching.take().map(|(_, k)| k);
        if matches!(self.account.credentials, Credentials::Wechat { .. })
            && !self.wechat_classic
            && response.status == 404
        {
            // No stable-token endpoint here: fall back to the classic one at once.
            self.wechat_classic = true;
            self.retry_at_ms = now_ms;
            return Err(Error::Protocol(ProtocolError::BadTokenResponse {
                platform: self.platform(),
                message: String::from("stable_token endpoint not found; falling back to the classic token"),
            }));
        }
        let result = if response.status >= 500 || response.status == 429 {
            Err(crate::call::http_error(self.platform(), response))
        } else {
            parse_grant(self.platform(), &response.body)
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
                if kind == Some(FetchKind::LingxingRefresh) {
                    // A spent or expired refresh token: fetch a new pair straight away.
                    self.refresh = None;
                    if matches!(&e, Error::Upstream(u) if u.class == UpstreamClass::RefreshTokenRejected) {
                        self.retry_at_ms = now_ms;
                        return Err(e);
                    }
                }
                self.failures += 1;
                self.retry_at_ms = now_ms + crate::retry::RetryPolicy::default().delay_ms(self.failures, 0);
                self.last_failure = Some(e.clone());
                Err(e)
            }
        }
    }

    /// The token fetch never got an answer (network error, timeout).
    pub fn fetch_failed(&mut self, now_ms: u64) {
        self.fetching = None;
        self.failures += 1;
        self.retry_at_ms = now_ms + crate::retry::RetryPolicy::default().delay_ms(self.failures, 0);
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
