//! One Durable Object per upstream account: it owns the account's token and pacer, so every
//! isolate shares one token (fetched once, renewed ahead of expiry, refreshed once on an auth
//! error) and one rate limit (Lingxing's single request in flight holds across all callers).
//! It runs the core's `UpstreamCall` state machine; the handler asks it for one call at a time
//! and gets the raw upstream body back, to normalize itself.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::task::{Poll, Waker};
use std::time::Duration;

use futures_util::future::{select, Either};

use aftersale::call::{AccountState, CallAction, CallSpec, UpstreamCall};
use aftersale::token::TokenSnapshot;
use aftersale::Platform;
use serde::{Deserialize, Serialize};
use worker::{durable_object, DurableObject, Env, Headers, Request, Response, Result, State};

use crate::api_error::ApiError;
use crate::config::Config;
use crate::transport;

/// What a handler asks of the account object.
#[derive(Serialize, Deserialize)]
pub struct CallMessage {
    pub platform: Platform,
    pub spec: CallSpec,
}

const TOKEN_KEY: &str = "token";
/// The pacer's recent sends: an object evicted and started anew (which workerd does at any
/// time) must still count them, or its first minute could send a second limit's worth.
const PACER_KEY: &str = "pacer";

#[durable_object]
pub struct UpstreamAccount {
    state: State,
    env: Env,
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
        // One line per incarnation: an object that restarts loses its pacer's memory.
        worker::console_log!("account object {} started", state.id().to_string());
        UpstreamAccount {
            state,
            env,
            account: RefCell::new(None),
            persisted_generation: Cell::new(0),
            changes: AccountChanges::default(),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let message: CallMessage = match req.json().await {
            Ok(m) => m,
            Err(e) => return ApiError::internal(format!("bad call message: {e}")).to_response(),
        };
        let config = Config::from_env(&self.env);
        let account = match config.account(message.platform) {
            Ok(a) => a,
            Err(e) => return e.to_response(),
        };
        self.prepare(account).await;
        match self.run(message.spec, config.sandbox).await {
            Ok(body) => {
                let headers = Headers::new();
                headers.set("content-type", "application/json; charset=utf-8")?;
                Ok(Response::ok(body)?.with_headers(headers))
            }
            Err(e) => ApiError::from(e).to_response(),
        }
    }
}

impl UpstreamAccount {
    /// Builds the account's state on first use, with a token saved by an earlier incarnation;
    /// rebuilds it if the configured account changed (rotated credentials, another base URL).
    async fn prepare(&self, account: aftersale::account::Account) {
        let stale = self.account.borrow().as_ref().is_none_or(|s| *s.account() != account);
        if !stale {
            return;
        }
        let mut fresh = AccountState::new(account.clone());
        if let Ok(Some(saved)) = self.state.storage().get::<SavedToken>(TOKEN_KEY).await {
            if saved.account_key == account.key() && saved.base_url == account.base_url {
                self.persisted_generation.set(saved.token.generation);
                fresh.tokens.restore(saved.token);
            }
        }
        if let Ok(Some(saved)) = self.state.storage().get::<SavedPacer>(PACER_KEY).await {
            if saved.account_key == account.key() {
                fresh.pacer.restore(&saved.pacer, now_ms());
            }
        }
        // Another request may have prepared the same account while storage was read: keep
        // its state (and any token fetch it has under way) rather than replace it.
        if self.account.borrow().as_ref().is_some_and(|s| *s.account() == account) {
            return;
        }
        *self.account.borrow_mut() = Some(fresh);
    }

    async fn run(&self, spec: CallSpec, sandboxed: bool) -> std::result::Result<String, aftersale::Error> {
        let mut call = UpstreamCall::new(spec);
        loop {
            let version = self.changes.version.get();
            let action = {
                let mut guard = self.account.borrow_mut();
                let Some(state) = guard.as_mut() else {
                    return Err(aftersale::Error::Protocol(aftersale::error::ProtocolError::PolledAfterDone));
                };
                call.poll(state, now_ms())
            };
            match action {
                CallAction::Send(request) => {
                    // Recorded before it goes: a restart during the call still counts it.
                    self.persist_pacer().await;
                    let answer = transport::send(&request, sandboxed, now_ms()).await;
                    if let Some(state) = self.account.borrow_mut().as_mut() {
                        call.handle_response(state, now_ms(), random_u32(), answer);
                    }
                    self.changes.notify();
                    self.persist_token().await;
                }
                CallAction::Wait { until_ms, on_account_change } => {
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
                CallAction::Done(result) => return result.map(|r| r.body),
            }
        }
    }

    async fn persist_pacer(&self) {
        let saved = {
            let guard = self.account.borrow();
            let Some(state) = guard.as_ref() else { return };
            SavedPacer { account_key: state.account().key(), pacer: state.pacer.snapshot() }
        };
        let _ = self.state.storage().put(PACER_KEY, saved).await;
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
struct SavedPacer {
    account_key: String,
    pacer: aftersale::pacing::PacerSnapshot,
}

#[derive(Serialize, Deserialize)]
struct SavedToken {
    account_key: String,
    base_url: String,
    token: TokenSnapshot,
}

fn random_u32() -> u32 {
    (js_sys::Math::random() * f64::from(u32::MAX)) as u32
}
