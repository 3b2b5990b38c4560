//! An upstream account: which upstream, where it lives, and the credentials to reach it.

use alloc::string::String;
use core::fmt;

use crate::model::Platform;

/// A secret string: `Debug` and `Display` print `[redacted]`, so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The secret itself, for building a request; nothing else should call this.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Credentials per upstream (SPEC.md §4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// Both WeChat platforms share one appid and one access token.
    Wechat {
        appid: String,
        secret: Secret,
    },
    Xiaoe {
        app_id: String,
        client_id: Secret,
        secret_key: Secret,
    },
    /// `app_id` is also the AES key of the sign, so it must be 16 bytes.
    Lingxing {
        app_id: String,
        app_secret: Secret,
    },
}

pub const WECHAT_BASE_URL: &str = "https://api.weixin.qq.com";
pub const XIAOE_BASE_URL: &str = "https://api.xiaoe-tech.com";
pub const LINGXING_BASE_URL: &str = "https://openapi.lingxing.com";

/// One upstream account: the unit that owns a token and a rate limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub credentials: Credentials,
    /// Overridable so tests and the sandbox can point at a simulator on loopback.
    pub base_url: String,
}

impl Account {
    pub fn new(credentials: Credentials) -> Account {
        let base_url = String::from(match credentials {
            Credentials::Wechat { .. } => WECHAT_BASE_URL,
            Credentials::Xiaoe { .. } => XIAOE_BASE_URL,
            Credentials::Lingxing { .. } => LINGXING_BASE_URL,
        });
        Account { credentials, base_url }
    }

    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Account {
        self.base_url = base_url.into();
        self
    }

    /// Whether this account serves `platform`.
    pub fn serves(&self, platform: Platform) -> bool {
        matches!(
            (&self.credentials, platform),
            (Credentials::Wechat { .. }, Platform::WechatShop | Platform::WechatStore)
                | (Credentials::Xiaoe { .. }, Platform::Xiaoe)
                | (Credentials::Lingxing { .. }, Platform::Lingxing)
        )
    }

    /// A name for the account that reveals no secret: one Durable Object per value.
    pub fn key(&self) -> String {
        match &self.credentials {
            Credentials::Wechat { appid, .. } => alloc::format!("wechat:{appid}"),
            Credentials::Xiaoe { app_id, .. } => alloc::format!("xiaoe:{app_id}"),
            Credentials::Lingxing { app_id, .. } => alloc::format!("lingxing:{app_id}"),
        }
    }
}
