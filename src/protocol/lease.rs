//! One upstream call split in two, so page bodies never pass through the account's single owner
//! (the Worker's Durable Object):
//!
//! - the **account side** ([`AccountState::grant`], [`AccountState::report`], driven by a
//!   [`GrantCall`]) keeps what must be single: the token (fetched once, renewed ahead, refreshed
//!   when refused), the pacer and a serial upstream's one slot. It grants [`Lease`]s: the token
//!   and its generation, when the holder may send, whether it holds the slot, and how long the
//!   lease lives (a holder that dies loses its slot when that time is up);
//! - the **handler side** ([`LeasedCall`]) asks for a lease, builds and sends the request itself,
//!   classifies the answer and reports the outcome ([`LeaseReport`]: done, auth refused with the
//!   token's generation, throttled until, failed), so the account refreshes, backs off or frees
//!   the slot. A report travels with the holder's next lease request where there is one.
//!
//! ```text
//! // handler                                   // account (one per upstream account)
//! loop { match call.poll(&account, now) {
//!   Step::Lease { prior } => ──── ask ───────▶ acct.report(now, r) for every report;
//!                                              GrantCall::poll → FetchToken (send it and
//!                                              hand the answer in) | Wait | Lease | Failed
//!     call.granted(answer) ◀── answer ──────┘
//!   Step::Send(req, timeout_ms) => call.handle_response(now, random, fetch(req).await),
//!   Step::Wait { until_ms } => sleep,
//!   Step::Done(result, report) => { queue `report` for the account; break result }
//! } }
//! ```

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::error::{ProtocolError, UpstreamClass, UpstreamError};
use crate::protocol::account::Account;
use crate::protocol::call::{AccountState, CallSpec};
use crate::protocol::http::{Request, Response};
use crate::protocol::pacing::{PacerSnapshot, RateLimit, Reservation};
use crate::protocol::retry::RetryPolicy;
use crate::protocol::token::{TokenPoll, FETCH_TIMEOUT_MS};
use crate::protocol::upstream::classify_response;
use crate::Error;

/// How long a lease lives by default: the holder's upstream call must be answered or given up
/// by then, and a slot whose holder never reported is free again after it.
pub const LEASE_TIMEOUT_MS: u64 = 35_000;
/// The holder stops waiting for the upstream this long before its lease ends, so a slow answer
/// never overlaps the next holder's call.
pub const LEASE_SAFETY_MS: u64 = 2_000;
/// A window limit's reservations keep a margin from the calls that leave the window: holders
/// send a little after the time they were given, each by its own delay, and the upstream counts
/// arrivals. A fortieth of the window, from 40 ms to 1 s (1 s of a minute-long window: 1.7%).
pub fn window_margin_ms(window_ms: u64) -> u64 {
    (window_ms / 40).clamp(40, 1_000)
}
/// How far ahead of its time a window slot is handed out (the lease's trip to its holder).
pub const RESERVE_AHEAD_MS: u64 = 20;
/// A call sent this much after its reservation is reported even when nothing else needs saying,
/// so the window limit counts it from when it went.
const LATE_SEND_MS: u64 = 10;
/// Token refusals one call absorbs in all, whether they count against its refresh or not.
const MAX_AUTH_REFUSALS: u32 = 24;

/// What a handler is allowed to do: one upstream call with this token, from `send_at_ms`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub id: u64,
    /// The access token to call with (never leaves the Worker).
    pub token: String,
    pub generation: u64,
    /// Not before this time (the account's clock: a window reservation, a throttle's end).
    pub send_at_ms: u64,
    /// Holds the serial upstream's one slot: must be reported, or it blocks the account until
    /// the lease ends.
    pub slot: bool,
    /// The lease's life from its grant; the holder gives up waiting for the upstream before.
    pub timeout_ms: u64,
    /// The refusal this request reported counted against its call's one refresh.
    pub charged: bool,
}

impl core::fmt::Debug for Lease {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Lease")
            .field("id", &self.id)
            .field("token", &"[redacted]")
            .field("generation", &self.generation)
            .field("send_at_ms", &self.send_at_ms)
            .field("slot", &self.slot)
            .field("timeout_ms", &self.timeout_ms)
            .field("charged", &self.charged)
            .finish()
    }
}

impl Lease {
    /// How long the holder may wait for the upstream's answer, counted from when it sends.
    pub fn answer_timeout_ms(&self, waited_ms: u64) -> u64 {
        self.timeout_ms.saturating_sub(waited_ms).saturating_sub(LEASE_SAFETY_MS).max(1)
    }
}

/// How a leased call went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Done,
    /// The upstream refused the lease's token; `charged`: the generation whose refusal the call
    /// already spent its refresh on, if it did.
    AuthRefused {
        charged: Option<u64>,
    },
    /// The upstream throttled: nobody sends before `until_ms`.
    Throttled {
        until_ms: u64,
    },
    /// No usable answer (transport error, 5xx, a fatal error code): only the slot is freed.
    Failed,
}

/// A lease's outcome, for the account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseReport {
    pub lease: u64,
    pub generation: u64,
    pub slot: bool,
    pub outcome: Outcome,
    /// When the lease said it could send, and when it did (the holder's clock; 0: never sent),
    /// so a window limit counts the call when it really went.
    #[serde(default)]
    pub reserved_at_ms: u64,
    #[serde(default)]
    pub sent_at_ms: u64,
}

impl LeaseReport {
    /// Whether the account needs this report at all: a finished call that held no slot and went
    /// on time only confirms its token worked, which the next request's report will say again.
    pub fn must_send(&self) -> bool {
        self.slot || self.outcome != Outcome::Done || self.sent_at_ms > self.reserved_at_ms + LATE_SEND_MS
    }
}

/// The account's answer to a lease request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseAnswer {
    Lease(Lease),
    /// The token the call reported was the newest, untried one, the call had already spent its
    /// refresh, and no token since the one it spent it on has served any call: the upstream
    /// refuses every token, so the call fails instead of looping.
    RefusedAgain,
}

/// Slot leases that have not been reported, and what the account learned from reports.
#[derive(Debug, Default)]
pub struct LeaseBook {
    next_id: u64,
    /// Slot leases out: (id, end of life).
    held: Vec<(u64, u64)>,
    /// The newest token generation some call succeeded with.
    served_generation: u64,
    /// Leases granted, and slots that ran out unreported (for tests and metrics).
    pub granted: u64,
    pub expired: u64,
}

/// What an account's owner must keep across restarts besides its token: the pacer's memory and
/// the slot leases out, so a restarted owner neither bursts nor grants a held slot again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseSnapshot {
    pub pacer: PacerSnapshot,
    pub held: Vec<(u64, u64)>,
    pub next_id: u64,
    pub served_generation: u64,
}

/// What the account should do to answer a lease request.
#[derive(Debug)]
pub enum Grant {
    Lease(Lease),
    /// Send this token request and hand its answer to [`GrantCall::handle_token_answer`].
    FetchToken(Request),
    /// Look again at `until_ms`, or sooner when `on_account_change` and another request changed
    /// the account (a token arrived, a slot was reported).
    Wait {
        until_ms: u64,
        on_account_change: bool,
    },
    Failed(Error),
}

impl AccountState {
    /// Takes in one report. Returns whether an auth refusal counts against its call's refresh:
    /// only a refusal of the newest token (an older one was already replaced), and only while no
    /// call has succeeded with it (a token that served calls and is then refused has expired in
    /// use, which says nothing against the call).
    pub fn report(&mut self, _now_ms: u64, report: &LeaseReport) -> bool {
        if report.sent_at_ms > report.reserved_at_ms {
            self.pacer.sent_late(report.reserved_at_ms, report.sent_at_ms);
        }
        if report.slot {
            let before = self.leases.held.len();
            self.leases.held.retain(|(id, _)| *id != report.lease);
            // A lease that ran out has had its slot freed already: never free it twice.
            if self.leases.held.len() < before {
                self.pacer.release();
            }
        }
        match report.outcome {
            Outcome::Done => {
                self.leases.served_generation = self.leases.served_generation.max(report.generation);
                false
            }
            Outcome::AuthRefused { .. } => {
                let newest = self.tokens.current().is_some_and(|t| t.generation == report.generation);
                let untried = self.leases.served_generation < report.generation;
                self.tokens.invalidate(report.generation);
                newest && untried
            }
            Outcome::Throttled { until_ms } => {
                self.pacer.block_until(until_ms);
                false
            }
            Outcome::Failed => false,
        }
    }

    pub fn lease_snapshot(&self) -> LeaseSnapshot {
        LeaseSnapshot {
            pacer: self.pacer.snapshot(),
            held: self.leases.held.clone(),
            next_id: self.leases.next_id,
            served_generation: self.leases.served_generation,
        }
    }

    /// Takes back what an earlier owner saved (with the same rate limit).
    pub fn restore_leases(&mut self, snapshot: LeaseSnapshot) {
        self.pacer.restore(snapshot.pacer);
        self.leases.held = snapshot.held;
        self.leases.next_id = self.leases.next_id.max(snapshot.next_id);
        self.leases.served_generation = self.leases.served_generation.max(snapshot.served_generation);
    }

    /// Slot leases still out, unreported and alive.
    pub fn slots_held(&self) -> usize {
        self.leases.held.len()
    }

    fn expire_leases(&mut self, now_ms: u64) {
        let before = self.leases.held.len();
        self.leases.held.retain(|(_, end)| *end > now_ms);
        for _ in self.leases.held.len()..before {
            self.pacer.release();
            self.leases.expired += 1;
        }
    }

    /// One step towards a lease: the token first, then the pacer's reservation.
    pub fn grant(&mut self, now_ms: u64, timeout_ms: u64) -> Grant {
        self.expire_leases(now_ms);
        let (token, generation) = match self.tokens.poll(now_ms) {
            TokenPoll::Ready(t) => (String::from(t.value.expose()), t.generation),
            TokenPoll::Fetch(request) => return Grant::FetchToken(request),
            TokenPoll::Wait { until_ms, on_account_change } => return Grant::Wait { until_ms, on_account_change },
            TokenPoll::Failed(e) => return Grant::Failed(e),
        };
        let margin = match self.pacer.limit() {
            RateLimit::Window { window_ms, .. } => window_margin_ms(window_ms),
            _ => 0,
        };
        // A window slot is taken only shortly before its time, so the sends reported late by
        // then have moved the window first.
        let send_at_ms = match self.pacer.reserve_within(now_ms, margin, RESERVE_AHEAD_MS) {
            Reservation::At(t) => t,
            Reservation::NotBefore(t) => {
                return Grant::Wait {
                    until_ms: t.saturating_sub(RESERVE_AHEAD_MS).max(now_ms + 1),
                    on_account_change: true,
                }
            }
            Reservation::WaitForRelease => {
                // The slot frees when its holder reports, at the latest when its lease ends.
                let until_ms = self.leases.held.iter().map(|(_, end)| *end).min().unwrap_or(now_ms + 1).max(now_ms + 1);
                return Grant::Wait { until_ms, on_account_change: true };
            }
        };
        let slot = self.pacer.is_serial();
        self.leases.next_id += 1;
        self.leases.granted += 1;
        let id = self.leases.next_id;
        if slot {
            self.leases.held.push((id, send_at_ms + timeout_ms));
        }
        let timeout_ms = timeout_ms + send_at_ms.saturating_sub(now_ms);
        Grant::Lease(Lease { id, token, generation, send_at_ms, slot, timeout_ms, charged: false })
    }
}

/// The account side of one lease request: the reports it carries, then grants, fetching the
/// token itself when it must (token answers are small; page bodies never come here).
#[derive(Debug)]
pub struct GrantCall {
    prior: Option<LeaseReport>,
    timeout_ms: u64,
    charged: bool,
    token_attempts: u32,
    fetching: bool,
    failed: Option<Error>,
}

impl GrantCall {
    /// `reports`: outcomes of earlier leases the handler collected; `prior`: the outcome of
    /// this call's own last attempt, whose auth refusal may count against its refresh.
    pub fn new(acct: &mut AccountState, now_ms: u64, reports: &[LeaseReport], prior: Option<LeaseReport>) -> GrantCall {
        for r in reports {
            acct.report(now_ms, r);
        }
        let mut call = GrantCall {
            prior: None,
            timeout_ms: LEASE_TIMEOUT_MS,
            charged: false,
            token_attempts: 0,
            fetching: false,
            failed: None,
        };
        if let Some(p) = prior {
            call.charged = acct.report(now_ms, &p);
            call.prior = Some(p);
        }
        call
    }

    pub fn with_timeout(mut self, timeout_ms: u64) -> GrantCall {
        self.timeout_ms = timeout_ms.max(1);
        self
    }

    /// The next step; `Grant::Lease` and `Grant::Failed` end the request.
    pub fn poll(&mut self, acct: &mut AccountState, now_ms: u64) -> Result<Grant, LeaseAnswer> {
        if let Some(e) = self.failed.take() {
            return Ok(Grant::Failed(e));
        }
        if let Some(LeaseReport { outcome: Outcome::AuthRefused { charged: Some(spent_on) }, .. }) = &self.prior {
            // A refusal that would count again: fail only if no token since the one the call
            // spent its refresh on has worked for anyone (tokens that work and then expire in
            // a crowd must not fail the unlucky call that kept drawing spent ones).
            if self.charged && acct.leases.served_generation < *spent_on {
                return Err(LeaseAnswer::RefusedAgain);
            }
        }
        if self.fetching {
            return Ok(Grant::Wait { until_ms: now_ms + FETCH_TIMEOUT_MS, on_account_change: true });
        }
        match acct.grant(now_ms, self.timeout_ms) {
            Grant::Lease(mut lease) => {
                lease.charged = self.charged;
                Ok(Grant::Lease(lease))
            }
            Grant::FetchToken(request) => {
                self.fetching = true;
                self.token_attempts += 1;
                Ok(Grant::FetchToken(request))
            }
            other => Ok(other),
        }
    }

    /// The token endpoint's answer to the last [`Grant::FetchToken`], or its transport error.
    pub fn handle_token_answer(&mut self, acct: &mut AccountState, now_ms: u64, answer: Result<Response, String>) {
        self.fetching = false;
        let failed = match answer {
            Ok(response) => match acct.tokens.handle_response(now_ms, &response) {
                Ok(()) => return,
                Err(e) => e,
            },
            Err(transport) => {
                acct.tokens.fetch_failed(now_ms);
                Error::Protocol(ProtocolError::RetriesExhausted {
                    attempts: self.token_attempts,
                    last: None,
                    transport: Some(transport),
                })
            }
        };
        let permanent = matches!(&failed, Error::Upstream(u) if !u.class.is_retryable() && u.class != UpstreamClass::RefreshTokenRejected);
        if permanent || self.token_attempts >= acct.retry.max_attempts {
            self.failed = Some(failed);
        }
    }
}

/// What the handler's driver should do next for a call.
#[derive(Debug)]
pub enum Step {
    /// Ask the account for a lease, handing in `prior` (this call's last outcome).
    Lease {
        prior: Option<LeaseReport>,
    },
    /// Send this, giving up on the answer after `timeout_ms`; hand the answer (or the transport
    /// error) to [`LeasedCall::handle_response`].
    Send(Request, u64),
    Wait {
        until_ms: u64,
    },
    /// The upstream's answer (its body still to be normalized) or why the call failed, and the
    /// outcome to report to the account (see [`LeaseReport::must_send`]).
    Done(Result<Response, Error>, Option<LeaseReport>),
}

#[derive(Debug)]
enum Phase {
    NeedLease,
    AwaitingLease,
    Leased { lease: Lease, received_ms: u64 },
    Sent { lease: Lease, sent_at_ms: u64 },
    Finished,
}

/// The handler side of one logical upstream call: lease, send, classify, retry.
#[derive(Debug)]
pub struct LeasedCall {
    spec: CallSpec,
    retry: RetryPolicy,
    phase: Phase,
    prior: Option<LeaseReport>,
    attempts: u32,
    auth_refusals: u32,
    /// The generation whose refusal this call spent its refresh on.
    charged: Option<u64>,
    /// The generation of the last token refused, which a lease's `charged` refers to.
    refused_generation: u64,
    not_before_ms: u64,
    last_upstream: Option<UpstreamError>,
    last_transport: Option<String>,
    result: Option<(Result<Response, Error>, Option<LeaseReport>)>,
}

impl LeasedCall {
    pub fn new(spec: CallSpec) -> LeasedCall {
        LeasedCall::with_retry(spec, RetryPolicy::default())
    }

    pub fn with_retry(spec: CallSpec, retry: RetryPolicy) -> LeasedCall {
        LeasedCall {
            spec,
            retry,
            phase: Phase::NeedLease,
            prior: None,
            attempts: 0,
            auth_refusals: 0,
            charged: None,
            refused_generation: 0,
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

    fn finish(&mut self, result: Result<Response, Error>, report: Option<LeaseReport>) {
        self.phase = Phase::Finished;
        self.result = Some((result, report));
    }

    pub fn poll(&mut self, account: &Account, now_ms: u64) -> Step {
        match core::mem::replace(&mut self.phase, Phase::Finished) {
            Phase::Finished => match self.result.take() {
                Some((r, report)) => Step::Done(r, report),
                None => Step::Done(Err(Error::Protocol(ProtocolError::PolledAfterDone)), None),
            },
            Phase::NeedLease => {
                if now_ms < self.not_before_ms {
                    self.phase = Phase::NeedLease;
                    return Step::Wait { until_ms: self.not_before_ms };
                }
                self.phase = Phase::AwaitingLease;
                Step::Lease { prior: self.prior.take() }
            }
            // Polled while the driver owes an answer: nothing to do but wait for it.
            phase @ (Phase::AwaitingLease | Phase::Sent { .. }) => {
                self.phase = phase;
                Step::Wait { until_ms: now_ms + FETCH_TIMEOUT_MS }
            }
            Phase::Leased { lease, received_ms } => {
                if now_ms < lease.send_at_ms {
                    let until_ms = lease.send_at_ms;
                    self.phase = Phase::Leased { lease, received_ms };
                    return Step::Wait { until_ms };
                }
                match self.spec.to_request(account, &lease.token, now_ms) {
                    Ok(request) => {
                        self.attempts += 1;
                        let timeout = lease.answer_timeout_ms(now_ms.saturating_sub(received_ms));
                        self.phase = Phase::Sent { lease, sent_at_ms: now_ms };
                        Step::Send(request, timeout)
                    }
                    Err(e) => {
                        let report = report_of(&lease, 0, Outcome::Failed);
                        self.finish(Err(e), Some(report));
                        self.poll(account, now_ms)
                    }
                }
            }
        }
    }

    /// The account's answer to the last [`Step::Lease`] (`now_ms` on the handler's clock).
    pub fn granted(&mut self, now_ms: u64, answer: Result<LeaseAnswer, Error>) {
        match answer {
            Ok(LeaseAnswer::Lease(lease)) => {
                if lease.charged && self.charged.is_none() {
                    self.charged = Some(self.refused_generation);
                }
                self.phase = Phase::Leased { lease, received_ms: now_ms };
            }
            Ok(LeaseAnswer::RefusedAgain) => {
                let last = self.last_upstream.take().unwrap_or_else(|| UpstreamError {
                    platform: self.spec.platform(),
                    code: String::new(),
                    message: String::from("token refused"),
                    class: UpstreamClass::TokenRejected,
                });
                self.finish(Err(Error::Protocol(ProtocolError::AuthFailedAfterRefresh(Box::new(last)))), None);
            }
            Err(e) => self.finish(Err(e), None),
        }
    }

    /// The upstream's answer to the last [`Step::Send`], or the transport error that replaced
    /// it. `random` feeds the backoff jitter.
    pub fn handle_response(&mut self, now_ms: u64, random: u32, answer: Result<Response, String>) {
        let (lease, sent_at_ms) = match core::mem::replace(&mut self.phase, Phase::NeedLease) {
            Phase::Sent { lease, sent_at_ms } => (lease, sent_at_ms),
            other => {
                self.phase = other;
                return;
            }
        };
        let response = match answer {
            Ok(r) => r,
            Err(transport) => {
                self.last_transport = Some(transport);
                self.retry_later(&lease, sent_at_ms, Outcome::Failed, now_ms, random, None);
                return;
            }
        };
        let upstream = match classify_response(self.spec.platform().upstream(), &response) {
            Ok(()) => {
                let report = report_of(&lease, sent_at_ms, Outcome::Done);
                self.finish(Ok(response), Some(report));
                return;
            }
            Err(e) => e,
        };
        match upstream.class {
            UpstreamClass::TokenRejected => {
                self.auth_refusals += 1;
                let outcome = Outcome::AuthRefused { charged: self.charged };
                self.refused_generation = lease.generation;
                if self.auth_refusals > MAX_AUTH_REFUSALS {
                    let report = report_of(&lease, sent_at_ms, outcome);
                    self.finish(
                        Err(Error::Protocol(ProtocolError::AuthFailedAfterRefresh(Box::new(upstream)))),
                        Some(report),
                    );
                    return;
                }
                // Again at once, with whatever token the account holds by then; the account
                // says whether this refusal counted against the call's refresh.
                self.last_upstream = Some(upstream);
                self.prior = Some(report_of(&lease, sent_at_ms, outcome));
            }
            UpstreamClass::RateLimited => {
                let wait = response
                    .retry_after_ms
                    .or_else(|| self.spec.platform().upstream().throttle_wait_ms(&upstream.code, now_ms));
                self.last_upstream = Some(upstream);
                self.retry_later(&lease, sent_at_ms, Outcome::Throttled { until_ms: 0 }, now_ms, random, wait);
            }
            UpstreamClass::Transient => {
                let wait = response.retry_after_ms;
                self.last_upstream = Some(upstream);
                self.retry_later(&lease, sent_at_ms, Outcome::Failed, now_ms, random, wait);
            }
            UpstreamClass::SignatureExpired => {
                // Signed too long ago (a slow queue): sign again at once.
                self.last_upstream = Some(upstream);
                self.retry_later(&lease, sent_at_ms, Outcome::Failed, now_ms, random, Some(0));
            }
            _ => {
                let report = report_of(&lease, sent_at_ms, Outcome::Failed);
                self.finish(Err(Error::Upstream(upstream)), Some(report));
            }
        }
    }

    fn retry_later(
        &mut self,
        lease: &Lease,
        sent_at_ms: u64,
        outcome: Outcome,
        now_ms: u64,
        random: u32,
        wait_ms: Option<u64>,
    ) {
        let backoff = self.retry.delay_ms(self.attempts, random);
        self.not_before_ms = now_ms + wait_ms.map_or(backoff, |w| w.max(if w == 0 { 0 } else { backoff / 4 }));
        let outcome = match outcome {
            Outcome::Throttled { .. } => Outcome::Throttled { until_ms: self.not_before_ms },
            other => other,
        };
        let report = report_of(lease, sent_at_ms, outcome);
        if self.attempts >= self.retry.max_attempts {
            let error = Error::Protocol(ProtocolError::RetriesExhausted {
                attempts: self.attempts,
                last: self.last_upstream.take().map(Box::new),
                transport: self.last_transport.take(),
            });
            self.finish(Err(error), Some(report));
            return;
        }
        self.prior = Some(report);
    }
}

fn report_of(lease: &Lease, sent_at_ms: u64, outcome: Outcome) -> LeaseReport {
    LeaseReport {
        lease: lease.id,
        generation: lease.generation,
        slot: lease.slot,
        outcome,
        reserved_at_ms: lease.send_at_ms,
        sent_at_ms,
    }
}
