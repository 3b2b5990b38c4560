//! One logical upstream call — a list page, an order — as a state machine over the account's
//! shared token and pacer: get a token (or wait for the caller fetching it), wait for a pacing
//! slot, send, classify the answer, and retry, refresh or give up. The driver owns the loop:
//!
//! ```text
//! loop {
//!     match call.poll(&mut account, now, random) {
//!         CallAction::Send(req) => { let resp = send(req).await; call.handle_response(&mut account, now, random, resp) }
//!         CallAction::Wait { until_ms } => sleep_until(until_ms).await,
//!         CallAction::Done(result) => break result,
//!     }
//! }
//! ```

use alloc::string::String;

use crate::account::{Account, Credentials};
use crate::error::{ProtocolError, UpstreamClass, UpstreamError};
use crate::http::{Request, Response};
use crate::lingxing::request::LingxingAfterSaleList;
use crate::model::Platform;
use crate::pacing::{Pace, Pacer, RateLimit};
use crate::retry::RetryPolicy;
use crate::token::{TokenManager, TokenPoll, WAIT_POLL_MS};
use crate::wechat::request::{WechatShopAfterSales, WechatStoreOrderGet};
use crate::xiaoe::request::XiaoeAfterSaleList;
use crate::{envelope, Error};

/// Which upstream call to make. Serializable, so a handler can ask the account's Durable Object
/// to make it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum CallSpec {
    XiaoeList(XiaoeAfterSaleList),
    LingxingList(LingxingAfterSaleList),
    WechatShopAfterSales(WechatShopAfterSales),
    WechatStoreOrder(WechatStoreOrderGet),
}

impl CallSpec {
    pub fn platform(&self) -> Platform {
        match self {
            CallSpec::XiaoeList(_) => Platform::Xiaoe,
            CallSpec::LingxingList(_) => Platform::Lingxing,
            CallSpec::WechatShopAfterSales(_) => Platform::WechatShop,
            CallSpec::WechatStoreOrder(_) => Platform::WechatStore,
        }
    }

    /// The request, built afresh for every attempt (Lingxing signs with the current time).
    pub fn to_request(&self, account: &Account, access_token: &str, now_ms: u64) -> Result<Request, Error> {
        let base = account.base_url.as_str();
        match (self, &account.credentials) {
            (CallSpec::XiaoeList(l), Credentials::Xiaoe { .. }) => Ok(l.to_request(base, access_token)),
            (CallSpec::LingxingList(l), Credentials::Lingxing { app_id, .. }) => {
                l.to_request(base, app_id, access_token, now_ms / 1000)
            }
            (CallSpec::WechatShopAfterSales(c), Credentials::Wechat { .. }) => Ok(c.to_request(base, access_token)),
            (CallSpec::WechatStoreOrder(c), Credentials::Wechat { .. }) => Ok(c.to_request(base, access_token)),
            _ => Err(Error::invalid_request("platform", "the account's credentials are for another platform")),
        }
    }
}

/// Everything shared by the calls to one upstream account: its token and its rate limit.
#[derive(Debug)]
pub struct AccountState {
    pub tokens: TokenManager,
    pub pacer: Pacer,
    pub retry: RetryPolicy,
}

impl AccountState {
    pub fn new(account: Account) -> AccountState {
        let limit = match account.credentials {
            Credentials::Wechat { .. } => RateLimit::WECHAT,
            Credentials::Xiaoe { .. } => RateLimit::XIAOE,
            Credentials::Lingxing { .. } => RateLimit::LINGXING,
        };
        AccountState { tokens: TokenManager::new(account), pacer: Pacer::new(limit), retry: RetryPolicy::default() }
    }

    pub fn with_rate_limit(mut self, limit: RateLimit) -> AccountState {
        self.pacer = Pacer::new(limit);
        self
    }

    pub fn account(&self) -> &Account {
        self.tokens.account()
    }
}

/// What the driver should do next for a call.
#[derive(Debug)]
pub enum CallAction {
    Send(Request),
    Wait {
        until_ms: u64,
    },
    /// The successful upstream answer (its body still to be normalized), or why it failed.
    Done(Result<Response, Error>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Ready,
    AwaitingToken,
    AwaitingData,
    Finished,
}

#[derive(Debug)]
pub struct UpstreamCall {
    spec: CallSpec,
    phase: Phase,
    attempts: u32,
    token_attempts: u32,
    refreshed: bool,
    used_generation: u64,
    not_before_ms: u64,
    last_upstream: Option<UpstreamError>,
    last_transport: Option<String>,
    result: Option<Result<Response, Error>>,
}

impl UpstreamCall {
    pub fn new(spec: CallSpec) -> UpstreamCall {
        UpstreamCall {
            spec,
            phase: Phase::Ready,
            attempts: 0,
            token_attempts: 0,
            refreshed: false,
            used_generation: 0,
            not_before_ms: 0,
            last_upstream: None,
            last_transport: None,
            result: None,
        }
    }

    pub fn spec(&self) -> &CallSpec {
        &self.spec
    }

    /// Data requests sent so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    fn finish(&mut self, result: Result<Response, Error>) -> CallAction {
        self.phase = Phase::Finished;
        self.result = None;
        CallAction::Done(result)
    }

    pub fn poll(&mut self, acct: &mut AccountState, now_ms: u64) -> CallAction {
        match self.phase {
            Phase::Finished => {
                return match self.result.take() {
                    Some(r) => CallAction::Done(r),
                    None => CallAction::Done(Err(Error::Protocol(ProtocolError::UnexpectedResponse))),
                }
            }
            // The driver polled while a request is out: nothing to do until it answers.
            Phase::AwaitingToken | Phase::AwaitingData => return CallAction::Wait { until_ms: now_ms + WAIT_POLL_MS },
            Phase::Ready => {}
        }
        if now_ms < self.not_before_ms {
            return CallAction::Wait { until_ms: self.not_before_ms };
        }
        let token = match acct.tokens.poll(now_ms) {
            TokenPoll::Ready(t) => t.clone(),
            TokenPoll::Fetch(request) => {
                self.phase = Phase::AwaitingToken;
                self.token_attempts += 1;
                return CallAction::Send(request);
            }
            TokenPoll::Wait { until_ms } => return CallAction::Wait { until_ms },
            TokenPoll::Failed(e) => return self.finish(Err(e)),
        };
        match acct.pacer.try_acquire(now_ms) {
            Pace::Go => {}
            Pace::WaitUntil(t) => return CallAction::Wait { until_ms: t },
            Pace::WaitForRelease => return CallAction::Wait { until_ms: now_ms + WAIT_POLL_MS },
        }
        match self.spec.to_request(acct.account(), token.value.expose(), now_ms) {
            Ok(request) => {
                self.attempts += 1;
                self.used_generation = token.generation;
                self.phase = Phase::AwaitingData;
                CallAction::Send(request)
            }
            Err(e) => {
                acct.pacer.release();
                self.finish(Err(e))
            }
        }
    }

    /// The answer to the last [`CallAction::Send`], or the transport error that replaced it.
    /// `random` feeds the backoff jitter.
    pub fn handle_response(
        &mut self,
        acct: &mut AccountState,
        now_ms: u64,
        random: u32,
        answer: Result<Response, String>,
    ) {
        match self.phase {
            Phase::AwaitingToken => self.handle_token_answer(acct, now_ms, answer),
            Phase::AwaitingData => {
                acct.pacer.release();
                self.handle_data_answer(acct, now_ms, random, answer);
            }
            Phase::Ready | Phase::Finished => {}
        }
    }

    fn handle_token_answer(&mut self, acct: &mut AccountState, now_ms: u64, answer: Result<Response, String>) {
        self.phase = Phase::Ready;
        let failed = match answer {
            Ok(response) => match acct.tokens.handle_response(now_ms, &response) {
                Ok(()) => return,
                Err(e) => e,
            },
            Err(transport) => {
                acct.tokens.fetch_failed(now_ms);
                self.last_transport = Some(transport);
                Error::Protocol(ProtocolError::RetriesExhausted {
                    attempts: self.token_attempts,
                    last: None,
                    transport: self.last_transport.clone(),
                })
            }
        };
        let permanent = matches!(&failed, Error::Upstream(u) if !u.class.is_retryable() && u.class != UpstreamClass::RefreshTokenRejected);
        if permanent || self.token_attempts >= acct.retry.max_attempts {
            self.phase = Phase::Finished;
            self.result = Some(Err(failed));
        }
    }

    fn handle_data_answer(
        &mut self,
        acct: &mut AccountState,
        now_ms: u64,
        random: u32,
        answer: Result<Response, String>,
    ) {
        self.phase = Phase::Ready;
        let response = match answer {
            Ok(r) => r,
            Err(transport) => {
                self.last_transport = Some(transport);
                self.retry_later(acct, now_ms, random, None);
                return;
            }
        };
        let upstream = match classify_response(self.spec.platform(), &response) {
            Ok(()) => {
                self.phase = Phase::Finished;
                self.result = Some(Ok(response));
                return;
            }
            Err(e) => e,
        };
        match upstream.class {
            UpstreamClass::TokenRejected => {
                acct.tokens.invalidate(self.used_generation);
                if self.refreshed {
                    self.phase = Phase::Finished;
                    self.result = Some(Err(Error::Protocol(ProtocolError::AuthFailedAfterRefresh(
                        alloc::boxed::Box::new(upstream),
                    ))));
                } else {
                    // Retry once with whatever token is current (another caller may have fetched it).
                    self.refreshed = true;
                }
            }
            UpstreamClass::RateLimited => {
                let wait = response.retry_after_ms.or_else(|| minute_limit_wait(&upstream, now_ms));
                self.last_upstream = Some(upstream);
                self.retry_later(acct, now_ms, random, wait);
                if self.phase != Phase::Finished {
                    acct.pacer.block_until(self.not_before_ms);
                }
            }
            UpstreamClass::Transient => {
                let wait = response.retry_after_ms;
                self.last_upstream = Some(upstream);
                self.retry_later(acct, now_ms, random, wait);
            }
            UpstreamClass::SignatureExpired => {
                // Signed too long ago (a slow queue): sign again at once.
                self.last_upstream = Some(upstream);
                self.retry_later(acct, now_ms, random, Some(0));
            }
            _ => {
                self.phase = Phase::Finished;
                self.result = Some(Err(Error::Upstream(upstream)));
            }
        }
    }

    fn retry_later(&mut self, acct: &AccountState, now_ms: u64, random: u32, wait_ms: Option<u64>) {
        if self.attempts >= acct.retry.max_attempts {
            self.phase = Phase::Finished;
            self.result = Some(Err(Error::Protocol(ProtocolError::RetriesExhausted {
                attempts: self.attempts,
                last: self.last_upstream.take().map(alloc::boxed::Box::new),
                transport: self.last_transport.take(),
            })));
            return;
        }
        let backoff = acct.retry.delay_ms(self.attempts, random);
        self.not_before_ms = now_ms + wait_ms.map_or(backoff, |w| w.max(if w == 0 { 0 } else { backoff / 4 }));
    }
}

/// WeChat's 45011 is a per-minute limit: the next minute is the earliest useful retry.
fn minute_limit_wait(e: &UpstreamError, now_ms: u64) -> Option<u64> {
    matches!(e.platform, Platform::WechatShop | Platform::WechatStore | Platform::WechatChannels)
        .then_some(())
        .filter(|()| e.code == "45011")
        .map(|()| 60_000 - now_ms % 60_000)
}

/// An HTTP-level failure, with a short excerpt of the body for the message.
pub(crate) fn http_error(platform: Platform, response: &Response) -> Error {
    Error::Upstream(http_upstream_error(platform, response))
}

fn http_upstream_error(platform: Platform, response: &Response) -> UpstreamError {
    let class = match response.status {
        429 => UpstreamClass::RateLimited,
        500..=599 => UpstreamClass::Transient,
        _ => UpstreamClass::Other,
    };
    let excerpt: String = response.body.chars().take(160).collect();
    UpstreamError { platform, code: alloc::format!("HTTP {}", response.status), message: excerpt, class }
}

/// Whether an upstream answer is a success, read from the HTTP status and the envelope's code
/// alone (the body is normalized later, once).
pub fn classify_response(platform: Platform, response: &Response) -> Result<(), UpstreamError> {
    if !(200..300).contains(&response.status) {
        return Err(http_upstream_error(platform, response));
    }
    let status = envelope::status(&response.body);
    let Some(code) = status.code else { return Ok(()) };
    let class = match platform {
        Platform::WechatShop | Platform::WechatStore => match code.parse::<i64>() {
            Ok(0) => return Ok(()),
            Ok(c) => crate::wechat::classify(c),
            Err(_) => UpstreamClass::Other,
        },
        Platform::Xiaoe => match code.parse::<i64>() {
            Ok(0) => return Ok(()),
            Ok(c) => crate::xiaoe::classify(c),
            Err(_) => UpstreamClass::Other,
        },
        Platform::Lingxing => match code {
            "0" | "200" => return Ok(()),
            c => crate::lingxing::classify(c),
        },
        Platform::WechatChannels => match code.parse::<i64>() {
            Ok(0) => return Ok(()),
            Ok(c) => crate::wechat_channels::classify(c),
            Err(_) => UpstreamClass::Other,
        },
    };
    Err(UpstreamError { platform, code: String::from(code), message: status.message.unwrap_or_default(), class })
}
