//! An upstream account: which upstream, where it lives, and the credentials to reach it.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::model::Platform;
use crate::Error;

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

/// An account's credentials, by the keys of its upstream's [`CredentialField`](crate::protocol::upstream::CredentialField)s.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials(Vec<(&'static str, Secret)>);

impl Credentials {
    pub fn new() -> Credentials {
        Credentials(Vec::new())
    }

    pub fn with(mut self, key: &'static str, value: impl Into<String>) -> Credentials {
        self.0.retain(|(k, _)| *k != key);
        self.0.push((key, Secret::new(value)));
        self
    }

    /// The value of `key`, or an error naming it (a builder asking for a key its upstream
    /// does not declare is a bug, reported rather than a panic).
    pub fn get(&self, key: &'static str) -> Result<&str, Error> {
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.expose())
            .ok_or_else(|| Error::invalid_request("credentials", alloc::format!("`{key}` is not set")))
    }
}

/// One upstream account: the unit that owns a token and a rate limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The platform whose upstream builds this account's tokens; every platform of the same
    /// account kind shares the account.
    pub platform: Platform,
    pub credentials: Credentials,
    /// Overridable so tests and the sandbox can point at a simulator on loopback.
    pub base_url: String,
}

impl Account {
    /// The account of `platform`'s kind; every platform of one kind gives the same account.
    pub fn new(platform: Platform, credentials: Credentials) -> Account {
        let kind = platform.upstream().account_kind();
        let platform = Platform::ALL.into_iter().find(|p| p.upstream().account_kind() == kind).unwrap_or(platform);
        let base_url = String::from(platform.upstream().default_base_url());
        Account { platform, credentials, base_url }
    }

    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Account {
        self.base_url = base_url.into();
        self
    }

    /// Whether this account serves `platform`.
    pub fn serves(&self, platform: Platform) -> bool {
        platform.upstream().account_kind() == self.platform.upstream().account_kind()
    }

    /// A name for the account that reveals no secret: one Durable Object per value. The first
    /// credential that is not secret (an app id) tells accounts of one kind apart.
    pub fn key(&self) -> String {
        let upstream = self.platform.upstream();
        let id = upstream
            .credentials()
            .iter()
            .find(|f| !f.secret)
            .and_then(|f| self.credentials.get(f.key).ok())
            .unwrap_or_default();
        alloc::format!("{}:{id}", upstream.account_kind())
    }
}
