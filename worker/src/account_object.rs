//! One Durable Object per upstream account: it owns what must be single for the account — the
//! token (fetched once, renewed ahead of expiry, refreshed when refused), the pacer and a serial
//! upstream's one slot — and grants leases on them (`aftersale::lease`). Handlers fetch the
//! upstream themselves and report how it went, so page bodies never pass through here; only the
//! token endpoint's small answers do.
//!
//! `POST /lease` `LeaseAsk` → `LeaseAnswer` (or an error body); `POST /report` `LeaseAsk` with
//! reports only → 204.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use futures_util::future::{select, Either};

use aftersale::call::AccountState;
use aftersale::lease::{Grant, GrantCall, LeaseAnswer, LeaseReport};
use aftersale::token::TokenSnapshot;
use aftersale::Platform;
use serde::{Deserialize, Serialize};
use worker::{durable_object, DurableObject, Env, Headers, Request, Response, Result, State};

use crate::api_error::ApiError;
use crate::config::{Config, Settings};
use crate::transport;

/// What a handler sends the account object: the reports it owes, and for a lease request the
/// outcome of its call's last attempt.
#[derive(Serialize, Deserialize)]
pub struct LeaseAsk {
    pub platform: Platform,
    #[serde(default)]
    pub reports: Vec<LeaseReport>,
    #[serde(default)]
    pub prior: Option<LeaseReport>,
}

/// The token endpoint's answer is awaited at most this long.
const TOKEN_FETCH_TIMEOUT: Duration = Duration::from_secs(15);

const TOKEN_KEY: &str = "token";
const LEASES_KEY: &str = "leases";

#[durable_object]
pub struct UpstreamAccount {
    state: State,
    env: Env,
    /// The settings the account was built with; read again only when the environment changes.
    settings: RefCell<Option<Rc<Settings>>>,
    account: RefCell<Option<AccountState>>,
    /// Generation of the token last written to storage.
    persisted_generation: Cell<u64>,
    /// Calls waiting for another call's answer (a token, a slot) are woken when one arrives.
    changes: AccountChanges,
}

/// A counter of answers handed to the account's state, and the calls waiting for the next one.
#[derive(Default)]
struct AccountChanges {
    version: Cell<u64>,
    waiting: RefCell<Vec<Waker>>,
}

impl AccountChanges {
    fn notify(&self) {
        self.version.set(self.version.get() + 1);
        for waker in self.waiting.borrow_mut().drain(..) {
            waker.wake();
        }
    }

    /// Resolves once an answer arrived after `version` was read.
    async fn after(&self, version: u64) {
        poll_fn(|cx| {
            if self.version.get() != version {
                Poll::Ready(())
            } else {
                self.waiting.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

impl DurableObject for UpstreamAccount {
    fn new(state: State, env: Env) -> Self {
        UpstreamAccount {
            state,
            env,
            settings: RefCell::new(None),
            account: RefCell::new(None),
            persisted_generation: Cell::new(0),
            changes: AccountChanges::default(),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let ask: LeaseAsk = match req.json().await {
            Ok(m) => m,
            Err(e) => return ApiError::internal(format!("bad lease message: {e}")).to_response(),
        };
        // An object's environment is fixed for its life: its settings are read once.
        let known = self.settings.borrow().as_ref().map(Rc::clone);
        let settings = match known {
            Some(s) => s,
            None => Rc::clone(Config::from_env(&self.env).settings()),
        };
        let account = match settings.account(ask.platform) {
            Ok(a) => a,
            Err(e) => return e.to_response(),
        };
        self.prepare(&settings, account).await;
        if req.path() == "/report" {
            if let Some(state) = self.account.borrow_mut().as_mut() {
                for r in ask.reports.iter().chain(ask.prior.iter()) {
                    state.report(now_ms(), r);
                }
            }
            self.changes.notify();
            self.persist_leases().await;
            return Ok(Response::empty()?.with_status(204));
        }
        match self.lease(ask, &settings).await {
            Ok(answer) => {
                let body = serde_json::to_string(&answer).map_err(|e| worker::Error::RustError(e.to_string()))?;
                let headers = Headers::new();
                headers.set("content-type", "application/json")?;
                Ok(Response::ok(body)?.with_headers(headers))
            }
            Err(e) => ApiError::from(e).to_response(),
        }
    }
}

impl UpstreamAccount {
    /// Builds the account's state on first use, with a token saved by an earlier incarnation;
    /// rebuilds it if the configured account changed (rotated credentials, another base URL).
    async fn prepare(&self, settings: &Rc<Settings>, account: aftersale::account::Account) {
        let same_settings = self.settings.borrow().as_ref().is_some_and(|s| Rc::ptr_eq(s, settings));
        let stale = !same_settings || self.account.borrow().as_ref().is_none_or(|s| *s.account() != account);
        if !stale {
            return;
        }
        *self.settings.borrow_mut() = Some(Rc::clone(settings));
        let limit = settings.rate_limit(account.platform);
        if let Some(state) = self.account.borrow_mut().as_mut().filter(|s| *s.account() == account) {
            // New settings, same account: keep its token and leases; only the limit may change.
            if state.pacer.limit() != limit {
                state.pacer = aftersale::pacing::Pacer::new(limit);
            }
            return;
        }
        let mut fresh = AccountState::new(account.clone()).with_rate_limit(limit);
        if let Ok(Some(saved)) = self.state.storage().get::<SavedToken>(TOKEN_KEY).await {
            if saved.account_key == account.key() && saved.base_url == account.base_url {
                self.persisted_generation.set(saved.token.generation);
                fresh.tokens.restore(saved.token);
            }
        }
        // An object evicted while idle (handlers wait and fetch on their own now, so it often is)
        // comes back with the pacer's memory and the slot leases still out.
        if let Ok(Some(saved)) = self.state.storage().get::<SavedLeases>(LEASES_KEY).await {
            if saved.account_key == account.key() && saved.limit == format!("{limit:?}") {
                fresh.restore_leases(saved.leases);
            }
        }
        // Another request may have prepared the same account while storage was read: keep
        // its state (and any token fetch it has under way) rather than replace it.
        if self.account.borrow().as_ref().is_some_and(|s| *s.account() == account) {
            return;
        }
        *self.account.borrow_mut() = Some(fresh);
    }

    /// Takes the ask's reports in, then grants a lease: waits for the token (fetching it when
    /// it is this request's turn) and, on a serial upstream, for the slot.
    async fn lease(&self, ask: LeaseAsk, settings: &Settings) -> std::result::Result<LeaseAnswer, aftersale::Error> {
        let mut grant = {
            let mut guard = self.account.borrow_mut();
            let Some(state) = guard.as_mut() else {
                return Err(aftersale::Error::Protocol(aftersale::error::ProtocolError::PolledAfterDone));
            };
            GrantCall::new(state, now_ms(), &ask.reports, ask.prior).with_timeout(settings.lease_timeout_ms)
        };
        // A report may have freed the slot or dropped the token others wait on.
        self.changes.notify();
        loop {
            let version = self.changes.version.get();
            let step = {
                let mut guard = self.account.borrow_mut();
                let Some(state) = guard.as_mut() else {
                    return Err(aftersale::Error::Protocol(aftersale::error::ProtocolError::PolledAfterDone));
                };
                grant.poll(state, now_ms())
            };
            match step {
                Err(answer) => return Ok(answer),
                Ok(Grant::Lease(lease)) => {
                    self.persist_leases().await;
                    return Ok(LeaseAnswer::Lease(lease));
                }
                Ok(Grant::Failed(e)) => return Err(e),
                Ok(Grant::FetchToken(request)) => {
                    let answer = transport::send(&request, settings.sandbox, now_ms(), TOKEN_FETCH_TIMEOUT).await;
                    if let Some(state) = self.account.borrow_mut().as_mut() {
                        grant.handle_token_answer(state, now_ms(), answer);
                    }
                    self.changes.notify();
                    self.persist_token().await;
                }
                Ok(Grant::Wait { until_ms, on_account_change }) => {
                    let wait = until_ms.saturating_sub(now_ms()).max(1);
                    let deadline = worker::Delay::from(Duration::from_millis(wait));
                    if on_account_change {
                        let changed = Box::pin(self.changes.after(version));
                        if let Either::Right(((), _)) = select(deadline, changed).await {
                            continue;
                        }
                    } else {
                        deadline.await;
                    }
                }
            }
        }
    }

    /// Saves the pacer's memory and the slot leases out, before the lease is answered.
    async fn persist_leases(&self) {
        let saved = {
            let guard = self.account.borrow();
            let Some(state) = guard.as_ref() else { return };
            SavedLeases {
                account_key: state.account().key(),
                limit: format!("{:?}", state.pacer.limit()),
                leases: state.lease_snapshot(),
            }
        };
        let _ = self.state.storage().put(LEASES_KEY, saved).await;
    }

    /// Saves a newly fetched token, so a restarted object does not fetch (and, for WeChat's
    /// classic token, invalidate) another one.
    async fn persist_token(&self) {
        let saved = {
            let guard = self.account.borrow();
            let Some(state) = guard.as_ref() else { return };
            let Some(snapshot) = state.tokens.snapshot() else { return };
            if snapshot.generation == self.persisted_generation.get() {
                return;
            }
            self.persisted_generation.set(snapshot.generation);
            SavedToken {
                account_key: state.account().key(),
                base_url: state.account().base_url.clone(),
                token: snapshot,
            }
        };
        let _ = self.state.storage().put(TOKEN_KEY, saved).await;
    }
}

#[derive(Serialize, Deserialize)]
struct SavedLeases {
    account_key: String,
    limit: String,
    leases: aftersale::lease::LeaseSnapshot,
}

#[derive(Serialize, Deserialize)]
struct SavedToken {
    account_key: String,
    base_url: String,
    token: TokenSnapshot,
}
