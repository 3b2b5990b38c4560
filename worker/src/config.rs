//! The Worker's configuration (SPEC.md §4), read from vars and secrets. Secrets never reach a
//! `Debug` print: the core's `Secret` and `CursorKey` redact themselves.

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
    env: EnvSnapshot,
}

/// The variables that make up the accounts, read once per request.
#[derive(Debug, Default, Clone)]
struct EnvSnapshot {
    wechat_appid: Option<String>,
    wechat_secret: Option<Secret>,
    xiaoe_app_id: Option<String>,
    xiaoe_client_id: Option<Secret>,
    xiaoe_secret_key: Option<Secret>,
    lingxing_app_id: Option<String>,
    lingxing_app_secret: Option<Secret>,
    wechat_base_url: Option<String>,
    xiaoe_base_url: Option<String>,
    lingxing_base_url: Option<String>,
}

/// A var or a secret (wrangler's `--var` and `.dev.vars` both land in one of the two), non-empty.
fn read(env: &Env, name: &str) -> Option<String> {
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
            env: EnvSnapshot {
                wechat_appid: read(env, "WECHAT_APPID"),
                wechat_secret: read(env, "WECHAT_SECRET").map(Secret::new),
                xiaoe_app_id: read(env, "XIAOE_APP_ID"),
                xiaoe_client_id: read(env, "XIAOE_CLIENT_ID").map(Secret::new),
                xiaoe_secret_key: read(env, "XIAOE_SECRET_KEY").map(Secret::new),
                lingxing_app_id: read(env, "LINGXING_APP_ID"),
                lingxing_app_secret: read(env, "LINGXING_APP_SECRET").map(Secret::new),
                wechat_base_url: read(env, "WECHAT_BASE_URL"),
                xiaoe_base_url: read(env, "XIAOE_BASE_URL"),
                lingxing_base_url: read(env, "LINGXING_BASE_URL"),
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
            return sandbox_account(platform);
        }
        let e = &self.env;
        let missing = |names: &[(&str, bool)]| {
            let absent: Vec<&str> = names.iter().filter(|(_, present)| !present).map(|(n, _)| *n).collect();
            ApiError::invalid_request(
                "platform",
                format!("{platform} is not configured on this proxy: set {}", absent.join(", ")),
            )
        };
        let (account, base) = match platform {
            Platform::WechatShop | Platform::WechatStore => match (&e.wechat_appid, &e.wechat_secret) {
                (Some(appid), Some(secret)) => {
                    (Credentials::Wechat { appid: appid.clone(), secret: secret.clone() }, &e.wechat_base_url)
                }
                (a, s) => return Err(missing(&[("WECHAT_APPID", a.is_some()), ("WECHAT_SECRET", s.is_some())])),
            },
            Platform::Xiaoe => match (&e.xiaoe_app_id, &e.xiaoe_client_id, &e.xiaoe_secret_key) {
                (Some(app_id), Some(client_id), Some(secret_key)) => (
                    Credentials::Xiaoe {
                        app_id: app_id.clone(),
                        client_id: client_id.clone(),
                        secret_key: secret_key.clone(),
                    },
                    &e.xiaoe_base_url,
                ),
                (a, c, s) => {
                    return Err(missing(&[
                        ("XIAOE_APP_ID", a.is_some()),
                        ("XIAOE_CLIENT_ID", c.is_some()),
                        ("XIAOE_SECRET_KEY", s.is_some()),
                    ]))
                }
            },
            Platform::Lingxing => match (&e.lingxing_app_id, &e.lingxing_app_secret) {
                (Some(app_id), Some(secret)) => {
                    if app_id.len() != 16 {
                        return Err(ApiError::internal(format!(
                            "LINGXING_APP_ID must be 16 bytes (it is the AES key of Lingxing's sign); it has {}",
                            app_id.len()
                        )));
                    }
                    (Credentials::Lingxing { app_id: app_id.clone(), app_secret: secret.clone() }, &e.lingxing_base_url)
                }
                (a, s) => {
                    return Err(missing(&[("LINGXING_APP_ID", a.is_some()), ("LINGXING_APP_SECRET", s.is_some())]))
                }
            },
        };
        let account = Account::new(account);
        Ok(match base {
            Some(url) => account.with_base_url(url.clone()),
            None => account,
        })
    }
}

/// The sandbox's account for `platform`, or an error when this build has no sandbox.
fn sandbox_account(platform: Platform) -> Result<Account, ApiError> {
    let [wechat, xiaoe, lingxing] = sandbox::accounts()?;
    Ok(match platform {
        Platform::WechatShop | Platform::WechatStore => wechat,
        Platform::Xiaoe => xiaoe,
        Platform::Lingxing => lingxing,
    })
}
