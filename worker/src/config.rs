//! The Worker's configuration (SPEC.md §4), read from vars and secrets. Each upstream's
//! variables come from its own description (credential fields, base-URL override), so this file
//! names no upstream. Secrets never reach a `Debug` print: the core's `Secret` and `CursorKey`
//! redact themselves.

use std::collections::BTreeMap;

use aftersale::account::{Account, Credentials, Secret};
use aftersale::cursor::CursorKey;
use aftersale::Platform;
use worker::Env;

use crate::api_error::ApiError;
use crate::sandbox;

#[derive(Debug, Clone)]
pub struct Config {
    pub sandbox: bool,
    client_keys: Vec<Secret>,
    pub cursor_key: Option<CursorKey>,
    pub allowed_origins: Vec<String>,
    /// Every upstream's credential and base-URL variables that are set, by name.
    upstream_vars: BTreeMap<&'static str, Secret>,
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
    pub fn from_env(env: &Env) -> Config {
        let sandbox = read(env, "SANDBOX").is_some_and(|v| matches!(v.as_str(), "true" | "1" | "yes"));
        let cursor_secret = read(env, "CURSOR_SECRET");
        // The sandbox needs no setup: a fixed cursor key is fine there, and only there.
        let cursor_key = match (&cursor_secret, sandbox) {
            (Some(s), _) => Some(CursorKey::new(s.as_bytes())),
            (None, true) => Some(CursorKey::new(b"aftersale-sandbox-cursor-key")),
            (None, false) => None,
        };
        Config {
            sandbox,
            client_keys: list(read(env, "CLIENT_KEYS")).into_iter().map(Secret::new).collect(),
            cursor_key,
            allowed_origins: list(read(env, "ALLOWED_ORIGINS")),
            upstream_vars: upstream_var_names()
                .filter_map(|name| read(env, name).map(|v| (name, Secret::new(v))))
                .collect(),
            sync: SyncConfig {
                max_calls: read(env, "SYNC_MAX_CALLS").and_then(|v| v.parse().ok()).filter(|n| *n > 0),
                overlap_s: read(env, "SYNC_OVERLAP_S").and_then(|v| v.parse().ok()).filter(|n| *n >= 0),
                lag_s: read(env, "SYNC_LAG_S").and_then(|v| v.parse().ok()).filter(|n| *n >= 0),
                from: read(env, "SYNC_FROM").and_then(|v| aftersale::Date::parse(&v)),
            },
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
}

impl Config {
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
