//! Which upstream call to make ([`CallSpec`]) and what every call to one upstream account
//! shares ([`AccountState`]: its token, its pacer, its leases). One call runs as two state
//! machines, the account's grants and the handler's leased call: see [`crate::protocol::lease`].

use crate::model::Platform;
use crate::protocol::account::Account;
use crate::protocol::http::Request;
use crate::protocol::lease::LeaseBook;
use crate::protocol::pacing::{Pacer, RateLimit};
use crate::protocol::retry::RetryPolicy;
use crate::protocol::token::TokenManager;
use crate::protocol::upstream::{ListPage, Lookup, Upstream};
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

/// Everything shared by the calls to one upstream account: its token, its rate limit and the
/// leases it has granted.
#[derive(Debug)]
pub struct AccountState {
    pub tokens: TokenManager,
    pub pacer: Pacer,
    pub retry: RetryPolicy,
    pub leases: LeaseBook,
}

impl AccountState {
    pub fn new(account: Account) -> AccountState {
        AccountState::with_retry(account, RetryPolicy::default())
    }

    /// With the account's own retry policy, which its token fetches back off by too.
    pub fn with_retry(account: Account, retry: RetryPolicy) -> AccountState {
        let limit = account.platform.upstream().rate_limit();
        AccountState {
            tokens: TokenManager::new(account).with_retry(retry),
            pacer: Pacer::new(limit),
            retry,
            leases: LeaseBook::default(),
        }
    }

    pub fn with_rate_limit(mut self, limit: RateLimit) -> AccountState {
        self.pacer = Pacer::new(limit);
        self
    }

    pub fn account(&self) -> &Account {
        self.tokens.account()
    }
}
