//! One logical upstream call — a list page, a lookup — as a state machine over the account's
//! shared token and pacer: get a token (or wait for the caller fetching it), wait for a pacing
//! slot, send, classify the answer, and retry, refresh or give up. The driver owns the loop and
//! the clock; `random` feeds the backoff jitter:
//!
//! ```text
//! loop {
//!     match call.poll(&mut account, now) {
//!         CallAction::Send(req) => { let resp = send(req).await; call.handle_response(&mut account, now, random, resp) }
//!         CallAction::Wait { until_ms, on_account_change } => {
//!             // Sleep until `until_ms`; with `on_account_change`, wake sooner when another
//!             // call on the same account hands in an answer (a token arrived, a slot freed).
//!         }
//!         CallAction::Done(result) => break result,
//!     }
//! }
//! ```

use alloc::string::String;

use crate::error::{ProtocolError, UpstreamClass, UpstreamError};
use crate::model::Platform;
use crate::protocol::account::Account;
use crate::protocol::http::{Request, Response};
use crate::protocol::pacing::{Pace, Pacer, RateLimit};
use crate::protocol::retry::RetryPolicy;
use crate::protocol::token::{TokenManager, TokenPoll, FETCH_TIMEOUT_MS};
use crate::protocol::upstream::{classify_response, ListPage, Lookup, Upstream};
use crate::Error;

/// Which upstream call to make: one of the platform's list pages or lookups. Serializable, so
/// a handler can hand it to the account's Durable Object.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallSpec {
    pub platform: Platform,
    pub call: Call,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Call {
    ListPage(ListPage),
    Lookup(Lookup),
}

impl CallSpec {
    pub fn list_page(platform: Platform, page: ListPage) -> CallSpec {
        CallSpec { platform, call: Call::ListPage(page) }
    }

    pub fn lookup(platform: Platform, lookup: Lookup) -> CallSpec {
        CallSpec { platform, call: Call::Lookup(lookup) }
    }

    pub fn platform(&self) -> Platform {
        self.platform
    }

    fn upstream(&self) -> &'static dyn Upstream {
        self.platform.upstream()
    }

    /// The request, built afresh for every attempt (Lingxing signs with the current time).
    pub fn to_request(&self, account: &Account, access_token: &str, now_ms: u64) -> Result<Request, Error> {
        if !account.serves(self.platform) {
            return Err(Error::invalid_request("platform", "the account's credentials are for another platform"));
        }
        let upstream = self.upstream();
        match &self.call {
            Call::ListPage(page) => upstream.list_request(account, access_token, page, now_ms),
            Call::Lookup(lookup) => upstream.lookup_request(account, access_token, lookup, now_ms),
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
        AccountState::with_retry(account, RetryPolicy::default())
    }

    /// With the account's own retry policy, which its token fetches back off by too.
    pub fn with_retry(account: Account, retry: RetryPolicy) -> AccountState {
        let limit = account.platform.upstream().rate_limit();
        AccountState { tokens: TokenManager::new(account).with_retry(retry), pacer: Pacer::new(limit), retry }
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
    /// Nothing to do before `until_ms`; with `on_account_change`, poll again as soon as any
    /// call on the same account has handed in an answer (it may have brought the token or
    /// freed the slot this call waits for).
    Wait {
        until_ms: u64,
        on_account_change: bool,
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
                    None => CallAction::Done(Err(Error::Protocol(ProtocolError::PolledAfterDone))),
                }
            }
            // The driver polled while a request is out: nothing to do until it answers.
            Phase::AwaitingToken | Phase::AwaitingData => {
                return CallAction::Wait { until_ms: now_ms + FETCH_TIMEOUT_MS, on_account_change: true }
            }
            Phase::Ready => {}
        }
        if now_ms < self.not_before_ms {
            return CallAction::Wait { until_ms: self.not_before_ms, on_account_change: false };
        }
        let token = match acct.tokens.poll(now_ms) {
            TokenPoll::Ready(t) => t.clone(),
            TokenPoll::Fetch(request) => {
                self.phase = Phase::AwaitingToken;
                self.token_attempts += 1;
                return CallAction::Send(request);
            }
            TokenPoll::Wait { until_ms, on_account_change } => return CallAction::Wait { until_ms, on_account_change },
            TokenPoll::Failed(e) => return self.finish(Err(e)),
        };
        match acct.pacer.try_acquire(now_ms) {
            Pace::Go => {}
            Pace::WaitUntil(t) => return CallAction::Wait { until_ms: t, on_account_change: false },
            // The slot frees when the call holding it answers; its deadline bounds the wait.
            Pace::WaitForRelease => {
                return CallAction::Wait { until_ms: now_ms + FETCH_TIMEOUT_MS, on_account_change: true }
            }
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
        let upstream = match classify_response(self.spec.upstream(), &response) {
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
                let wait =
                    response.retry_after_ms.or_else(|| self.spec.upstream().throttle_wait_ms(&upstream.code, now_ms));
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
