//! The Worker's configuration (SPEC.md §4), read from vars and secrets. Each upstream's
//! variables come from its own description (credential fields, base-URL override, rate limit),
//! so this file names no upstream. Secrets never reach a `Debug` print: the core's `Secret` and
//! `CursorKey` redact themselves.
//!
//! The variables are read once per isolate ([`Settings`], kept while the isolate is handed the
//! same environment object) and shared by the handlers and the account object; a [`Config`] is
//! one invocation's view of them plus what belongs to that invocation alone: its subrequest
//! budget and the lease reports it still owes the account objects.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::ops::Deref;
use std::rc::Rc;

use aftersale::account::{Account, Credentials, Secret};
use aftersale::cursor::CursorKey;
use aftersale::lease::{LeaseReport, LEASE_TIMEOUT_MS};
use aftersale::pacing::RateLimit;
use aftersale::Platform;
use wasm_bindgen::JsValue;
use worker::Env;

use crate::api_error::ApiError;
use crate::sandbox;

/// Subrequests one invocation may make on Cloudflare's free plan.
pub const FREE_PLAN_SUBREQUESTS: u32 = 50;

/// The variables, parsed.
#[derive(Debug)]
pub struct Settings {
    pub sandbox: bool,
    client_keys: Vec<Secret>,
    pub cursor_key: Option<CursorKey>,
    pub allowed_origins: Vec<String>,
    /// Every upstream's credential and base-URL variables that are set, by name.
    upstream_vars: BTreeMap<&'static str, Secret>,
    /// `SUBREQUEST_BUDGET`: object calls and upstream fetches one invocation may make.
    pub subrequest_budget: u32,
    /// `LEASE_TIMEOUT_MS`: how long a lease lives (tests shorten it).
    pub lease_timeout_ms: u64,
    /// `<PLATFORM>_RATE_LIMIT` overrides (`300/6s`), for benchmarks and tests.
    rate_limits: BTreeMap<Platform, RateLimit>,
    /// Variables that were set but could not be read (their defaults apply): /healthz lists them.
    pub problems: Vec<String>,
    pub sync: SyncConfig,
}

/// The mirror's sync settings (SPEC.md §9); unset ones take the core's defaults.
#[derive(Debug, Clone, Default)]
pub struct SyncConfig {
    /// `SYNC_MAX_CALLS`: upstream calls per platform per invocation.
    pub max_calls: Option<u32>,
    /// `SYNC_OVERLAP_S`, `SYNC_LAG_S`.
    pub overlap_s: Option<i64>,
    pub lag_s: Option<i64>,
    /// `SYNC_FROM` (YYYY-MM-DD): where the first run starts.
    pub from: Option<aftersale::Date>,
    /// `SYNC_LEASE_S`: how long an account's sync lease lives past its last stored page.
    pub lease_s: Option<i64>,
}

/// One invocation's configuration: the isolate's settings, its subrequest budget, and the
/// lease reports it owes the account objects (by account key), sent with its next lease
/// request to that account or at the end of the invocation.
#[derive(Debug, Clone)]
pub struct Config {
    settings: Rc<Settings>,
    spent: Rc<Cell<u32>>,
    outbox: Rc<RefCell<Vec<(String, Platform, LeaseReport)>>>,
}

impl Deref for Config {
    type Target = Settings;
    fn deref(&self) -> &Settings {
        &self.settings
    }
}

/// Environment objects remembered per isolate: the handlers' and the account object's are two.
const CACHED_ENVS: usize = 4;

thread_local! {
    /// The settings of the environment objects this isolate was handed lately, newest first.
    static CACHE: RefCell<Vec<(JsValue, Rc<Settings>)>> = const { RefCell::new(Vec::new()) };
}

/// A var or a secret (wrangler's `--var` and `.dev.vars` both land in one of the two), non-empty.
pub(crate) fn read(env: &Env, name: &str) -> Option<String> {
    let value = env.secret(name).map(|s| s.to_string()).or_else(|_| env.var(name).map(|v| v.to_string())).ok()?;
    let value = value.trim().to_string();
    (!value.is_empty()).then_some(value)
}

fn list(value: Option<String>) -> Vec<String> {
    value.map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()).unwrap_or_default()
}

impl Config {
    /// The invocation's configuration: the isolate's settings, read again only when the
    /// environment object changed (a new deployment or new secrets come as a new one).
    pub fn from_env(env: &Env) -> Config {
        Config { settings: Settings::cached(env), spent: Rc::default(), outbox: Rc::default() }
    }

    pub fn settings(&self) -> &Rc<Settings> {
        &self.settings
    }

    /// Subrequests this invocation has made.
    pub fn subrequests(&self) -> u32 {
        self.spent.get()
    }

    pub fn subrequests_left(&self) -> u32 {
        self.subrequest_budget.saturating_sub(self.spent.get())
    }

    /// Counts one subrequest, or refuses it when the budget is spent.
    pub fn spend(&self, what: &str) -> Result<(), ApiError> {
        if self.spent.get() >= self.subrequest_budget {
            return Err(ApiError::new(
                aftersale::ErrorCode::UpstreamUnavailable,
                format!(
                    "this request used its {} subrequests (SUBREQUEST_BUDGET) before {what}; ask again with the cursor",
                    self.subrequest_budget
                ),
            ));
        }
        self.spent.set(self.spent.get() + 1);
        Ok(())
    }

    /// Counts a subrequest that must go out whatever the budget (a report freeing a slot):
    /// callers keep room for it.
    pub fn spend_anyway(&self) {
        self.spent.set(self.spent.get() + 1);
    }

    pub fn queue_report(&self, account_key: &str, platform: Platform, report: LeaseReport) {
        self.outbox.borrow_mut().push((account_key.to_string(), platform, report));
    }

    /// The reports owed to one account, taken out of the outbox.
    pub fn take_reports(&self, account_key: &str) -> Vec<LeaseReport> {
        let mut outbox = self.outbox.borrow_mut();
        let mut taken = Vec::new();
        outbox.retain(|(k, _, r)| {
            if k == account_key {
                taken.push(r.clone());
                false
            } else {
                true
            }
        });
        taken
    }

    /// Every account that is owed a report that matters, with its reports.
    pub fn take_owed(&self) -> Vec<(String, Platform, Vec<LeaseReport>)> {
        let mut by_account: BTreeMap<String, (Platform, Vec<LeaseReport>)> = BTreeMap::new();
        for (k, p, r) in self.outbox.borrow_mut().drain(..) {
            if r.must_send() {
                by_account.entry(k).or_insert_with(|| (p, Vec::new())).1.push(r);
            }
        }
        by_account.into_iter().map(|(k, (p, r))| (k, p, r)).collect()
    }
}

impl Settings {
    fn cached(env: &Env) -> Rc<Settings> {
        let js: &JsValue = env.as_ref();
        let hit = CACHE.with(|c| c.borrow().iter().find(|(e, _)| e == js).map(|(_, s)| Rc::clone(s)));
        if let Some(s) = hit {
            return s;
        }
        let settings = Rc::new(Settings::from_env(env));
        CACHE.with(|c| {
            let mut c = c.borrow_mut();
            c.insert(0, (js.clone(), Rc::clone(&settings)));
            c.truncate(CACHED_ENVS);
        });
        settings
    }

    pub fn from_env(env: &Env) -> Settings {
        let sandbox = read(env, "SANDBOX").is_some_and(|v| matches!(v.as_str(), "true" | "1" | "yes"));
        let cursor_secret = read(env, "CURSOR_SECRET");
        // The sandbox needs no setup: a fixed cursor key is fine there, and only there.
        let cursor_key = match (&cursor_secret, sandbox) {
            (Some(s), _) => Some(CursorKey::new(s.as_bytes())),
            (None, true) => Some(CursorKey::new(b"aftersale-sandbox-cursor-key")),
            (None, false) => None,
        };
        let mut problems = Vec::new();
        let mut number = |name: &str, default: u64| match read(env, name) {
            None => default,
            Some(v) => v.parse::<u64>().ok().filter(|n| *n > 0).unwrap_or_else(|| {
                problems.push(format!("{name}={v:?} is not a positive integer"));
                default
            }),
        };
        let subrequest_budget =
            number("SUBREQUEST_BUDGET", u64::from(FREE_PLAN_SUBREQUESTS)).min(u64::from(u32::MAX)) as u32;
        let lease_timeout_ms = number("LEASE_TIMEOUT_MS", LEASE_TIMEOUT_MS);
        let mut rate_limits = BTreeMap::new();
        for platform in Platform::ALL {
            let var = rate_limit_var(platform);
            if let Some(v) = read(env, &var) {
                match parse_rate_limit(&v) {
                    Some(limit) => {
                        rate_limits.insert(platform, limit);
                    }
                    None => problems.push(format!("{var}={v:?} is not a limit like 300/60s")),
                }
            }
        }
        Settings {
            sandbox,
            client_keys: list(read(env, "CLIENT_KEYS")).into_iter().map(Secret::new).collect(),
            cursor_key,
            allowed_origins: list(read(env, "ALLOWED_ORIGINS")),
            upstream_vars: upstream_var_names()
                .filter_map(|name| read(env, name).map(|v| (name, Secret::new(v))))
                .collect(),
            subrequest_budget,
            lease_timeout_ms,
            rate_limits,
            problems,
            sync: SyncConfig {
                max_calls: read(env, "SYNC_MAX_CALLS").and_then(|v| v.parse().ok()).filter(|n| *n > 0),
                overlap_s: read(env, "SYNC_OVERLAP_S").and_then(|v| v.parse().ok()).filter(|n| *n >= 0),
                lag_s: read(env, "SYNC_LAG_S").and_then(|v| v.parse().ok()).filter(|n| *n >= 0),
                from: read(env, "SYNC_FROM").and_then(|v| aftersale::Date::parse(&v)),
                lease_s: read(env, "SYNC_LEASE_S").and_then(|v| v.parse().ok()).filter(|n| *n > 0),
            },
        }
    }

    /// The rate limit the account's pacer keeps: the upstream's own, or a configured window
    /// (only a window limit can be rescaled: a serial upstream stays serial).
    pub fn rate_limit(&self, platform: Platform) -> RateLimit {
        let own = platform.upstream().rate_limit();
        match (own, self.rate_limits.get(&platform)) {
            (RateLimit::Window { .. }, Some(limit)) => *limit,
            _ => own,
        }
    }

    pub fn client_keys(&self) -> &[Secret] {
        &self.client_keys
    }

    /// Callers need no key only in the sandbox with no `CLIENT_KEYS` set (SPEC.md §7).
    pub fn open_access(&self) -> bool {
        self.sandbox && self.client_keys.is_empty()
    }

    pub fn cursor_key(&self) -> Result<&CursorKey, ApiError> {
        self.cursor_key
            .as_ref()
            .ok_or_else(|| ApiError::internal("CURSOR_SECRET is not set: paged listing needs it to sign cursors"))
    }

    /// The upstream account serving `platform`, or a 400 naming the missing variables.
    pub fn account(&self, platform: Platform) -> Result<Account, ApiError> {
        if self.sandbox {
            return sandbox::account(platform);
        }
        let upstream = platform.upstream();
        let mut credentials = Credentials::new();
        let mut missing = Vec::new();
        for field in upstream.credentials() {
            match self.upstream_vars.get(field.var) {
                Some(value) => credentials = credentials.with(field.key, value.expose()),
                None => missing.push(field.var),
            }
        }
        if !missing.is_empty() {
            return Err(ApiError::invalid_request(
                "platform",
                format!("{platform} is not configured on this proxy: set {}", missing.join(", ")),
            ));
        }
        upstream.check_credentials(&credentials).map_err(|e| ApiError::internal(format!("{platform}: {e}")))?;
        let account = Account::new(platform, credentials);
        Ok(match self.upstream_vars.get(upstream.base_url_var()) {
            Some(url) => account.with_base_url(url.expose()),
            None => account,
        })
    }

    /// What verifies `platform`'s pushes: its credentials and its push keys, read from the
    /// variables even in the sandbox (a push is proven by these keys, never by sandbox ones).
    /// Unset keys refuse every push (401), naming the variables.
    pub fn push_credentials(&self, platform: Platform) -> Result<Credentials, ApiError> {
        let upstream = platform.upstream();
        let mut credentials = Credentials::new();
        let mut missing = Vec::new();
        for field in upstream.credentials().iter().chain(upstream.push_keys()) {
            match self.upstream_vars.get(field.var) {
                Some(value) => credentials = credentials.with(field.key, value.expose()),
                None => missing.push(field.var),
            }
        }
        if !missing.is_empty() {
            return Err(ApiError::new(
                aftersale::ErrorCode::Unauthorized,
                format!("{platform} pushes are not accepted: this proxy has no {}", missing.join(", ")),
            ));
        }
        Ok(credentials)
    }
}

/// `<PLATFORM>_RATE_LIMIT`, e.g. for a platform `xyz`: `XYZ_RATE_LIMIT`.
pub fn rate_limit_var(platform: Platform) -> String {
    format!("{}_RATE_LIMIT", platform.as_str().to_ascii_uppercase())
}

/// `N/Ws`, `N/Wms` or `N/Wm`: at most N calls in any window of W.
fn parse_rate_limit(v: &str) -> Option<RateLimit> {
    let (n, w) = v.split_once('/')?;
    let limit: u32 = n.trim().parse().ok().filter(|n| *n > 0)?;
    let w = w.trim();
    let (digits, unit) = w.split_at(w.find(|c: char| !c.is_ascii_digit()).unwrap_or(w.len()));
    let amount: u64 = digits.parse().ok().filter(|n| *n > 0)?;
    let window_ms = match unit {
        "ms" => amount,
        "s" => amount * 1000,
        "m" | "min" => amount * 60_000,
        _ => return None,
    };
    Some(RateLimit::Window { limit, window_ms })
}

/// The variables every registered upstream reads.
fn upstream_var_names() -> impl Iterator<Item = &'static str> {
    Platform::ALL.into_iter().flat_map(|p| {
        let upstream = p.upstream();
        upstream
            .credentials()
            .iter()
            .chain(upstream.push_keys())
            .map(|f| f.var)
            .chain(core::iter::once(upstream.base_url_var()))
    })
}
