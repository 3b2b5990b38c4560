//! What the protocol knows about an upstream, as one trait each upstream folder implements:
//! where it lives, its credentials, how it grants tokens, how fast it may be called, how its
//! answers are classified, how it pages and over which windows, and how its bodies are read.
//! `call`, `token`, `paginate`, `query` and the adapters go through it, so a new upstream is a
//! new folder and one line in the registry (`crate::upstreams`), not edits across the tree.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{UpstreamClass, UpstreamError};
use crate::model::time::Date;
use crate::model::{DateField, Kind, Order, Platform};
use crate::parse::envelope;
use crate::parse::normalize::{NormalizeOptions, Page};
use crate::protocol::account::{Account, Credentials};
use crate::protocol::http::{Request, Response};
use crate::protocol::pacing::RateLimit;
use crate::Error;

/// One credential an upstream account needs, and the Worker variable it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CredentialField {
    /// The name the upstream's request builders look it up by (`app_id`).
    pub key: &'static str,
    /// The configuration variable (`XIAOE_APP_ID`).
    pub var: &'static str,
    /// Secrets print as `[redacted]` and never leave the Worker.
    pub secret: bool,
}

/// How an upstream's list is addressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paging {
    /// Whole pages by number: a position inside a page is reached by skipping its front.
    PageNumber,
    /// Any record offset.
    Offset,
    /// Ids only, page after page by the upstream's opaque `next_key`, in windows walked oldest
    /// first; each id's record is then fetched by its own lookup (WeChat Channels).
    NextKey,
}

/// An upstream's after-sale list by date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListScheme {
    pub paging: Paging,
    /// The largest page the upstream serves.
    pub max_page_size: u32,
    /// The page size exports use.
    pub export_page_size: u32,
    /// The longest date window one upstream query may span; longer ranges are split.
    pub max_window_days: Option<i64>,
    /// The date fields it can filter by.
    pub date_fields: &'static [DateField],
    /// One upstream record can hold several after-sales (Lingxing's order lines), so the
    /// upstream's total counts records, not after-sales.
    pub records_hold_several: bool,
}

/// Which order a lookup names.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderRef {
    OrderId(String),
    OutOrderId(String),
}

/// The lookups an upstream serves besides its list (the proxy's order routes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupKind {
    /// The after-sales of one order; `needs_buyer`: the upstream looks them up per buyer.
    OrderAfterSales { needs_buyer: bool },
    /// One order with its after-sale references.
    Order,
    /// One after-sale by its id.
    AfterSale,
}

/// One page of an upstream's list, in the protocol's terms; each upstream turns it into its
/// own request (page numbers, date-type codes, the inclusive or half-open range it takes).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ListPage {
    /// The window, half-open `[from, to)`.
    pub from: Date,
    pub to: Date,
    pub date_field: DateField,
    /// Upstream records before this page's first one.
    pub offset: u64,
    pub page_size: u32,
    /// Filters the upstream may apply itself (checked again on what comes back).
    pub kind: Option<Kind>,
    pub order_id: Option<String>,
    /// [`Paging::NextKey`]: the previous page's key; `None` on a window's first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_key: Option<String>,
    /// The exact window in unix seconds, half-open, for upstreams that take seconds (the sync
    /// of an id list): it replaces `from`/`to`, which then only name the days it touches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<(i64, i64)>,
}

/// One page of an id list ([`Paging::NextKey`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdPage<'a> {
    pub ids: Vec<Cow<'a, str>>,
    /// The cursor for the next page; `None` when the upstream gave none or an empty one.
    pub next_key: Option<Cow<'a, str>>,
    /// Whether to ask again: only with a `next_key` to ask with.
    pub has_more: bool,
}

impl IdPage<'_> {
    pub fn into_owned(self) -> IdPage<'static> {
        IdPage {
            ids: self.ids.into_iter().map(|c| Cow::Owned(c.into_owned())).collect(),
            next_key: self.next_key.map(|c| Cow::Owned(c.into_owned())),
            has_more: self.has_more,
        }
    }
}

/// What a verified push asks of the proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushEvent {
    /// The upstream checks the callback URL: answer this text as it came.
    UrlCheck { echostr: String },
    /// An after-sale changed: fetch it by id. `status` is the push's own, for the log.
    AfterSaleChanged { aftersale_id: String, status: Option<String> },
    /// A verified message of another kind: acknowledged, nothing to do.
    Other { event: String },
}

/// A push request as received: method, decoded query pairs and body.
#[derive(Clone, Copy, Debug)]
pub struct PushRequest<'a> {
    pub method_is_post: bool,
    pub query: &'a [(String, String)],
    pub body: &'a str,
    /// Unix seconds now: timestamps more than [`PUSH_MAX_SKEW_S`] away are refused (replay).
    pub now_unix_s: i64,
}

/// How far a push's timestamp may be from now (SPEC §8: five minutes).
pub const PUSH_MAX_SKEW_S: i64 = 5 * 60;
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "lookup", rename_all = "snake_case")]
pub enum Lookup {
    OrderAfterSales { order: OrderRef, buyer: Option<String> },
    Order { order_id: String },
    AfterSale { aftersale_id: String },
}

/// What a token fetch should ask for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenAsk<'a> {
    /// A refresh token still alive, for upstreams that refresh.
    pub refresh_token: Option<&'a str>,
    /// The current token was refused: ask for a new one, not the cached one.
    pub force_refresh: bool,
    /// The preferred endpoint is missing ([`Upstream::token_fallback_on`]): use the other one.
    pub fallback: bool,
}

/// A token request, and whether it spends a refresh token.
#[derive(Debug)]
pub struct TokenFetch {
    pub request: Request,
    pub is_refresh: bool,
}

/// How often a new token may be forced (WeChat's stable token: 30 s apart, 20 a day).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForceRefreshLimit {
    pub min_interval_ms: u64,
    pub per_day: u32,
}

/// Everything the protocol and the adapters need to know about one platform.
pub trait Upstream: Sync {
    fn platform(&self) -> Platform;

    /// Platforms answering the same kind share one account: one token, one rate limit.
    fn account_kind(&self) -> &'static str {
        self.platform().as_str()
    }
    fn default_base_url(&self) -> &'static str;
    /// The variable that overrides the base URL (tests, simulators).
    fn base_url_var(&self) -> &'static str;
    fn credentials(&self) -> &'static [CredentialField];
    /// Checks what the variables' presence cannot (a key's length).
    fn check_credentials(&self, _credentials: &Credentials) -> Result<(), Error> {
        Ok(())
    }

    fn rate_limit(&self) -> RateLimit;

    fn token_request(&self, account: &Account, ask: TokenAsk<'_>) -> Result<TokenFetch, Error>;
    /// Whether a token answer with this HTTP status means "use the fallback endpoint".
    fn token_fallback_on(&self, _status: u16) -> bool {
        false
    }
    /// How long before expiry a token is renewed.
    fn renew_before_ms(&self, lifetime_ms: u64) -> u64 {
        (5 * 60 * 1000).min(lifetime_ms / 10)
    }
    fn force_refresh_limit(&self) -> Option<ForceRefreshLimit> {
        None
    }

    /// What an answer's envelope code means: `None` is success.
    fn classify(&self, code: &str) -> Option<UpstreamClass>;
    /// How long a throttled answer asks us to wait, when its code says (a per-minute limit).
    fn throttle_wait_ms(&self, _code: &str, _now_ms: u64) -> Option<u64> {
        None
    }

    /// Its list by date, or why it has none (pointing the caller to what it does have).
    fn list(&self) -> Result<&'static ListScheme, &'static str>;
    fn list_request(&self, _account: &Account, _token: &str, _page: &ListPage, _now_ms: u64) -> Result<Request, Error> {
        Err(self.not_served("a list by date"))
    }
    fn lookups(&self) -> &'static [LookupKind] {
        &[]
    }
    fn lookup_request(
        &self,
        _account: &Account,
        _token: &str,
        _lookup: &Lookup,
        _now_ms: u64,
    ) -> Result<Request, Error> {
        Err(self.not_served("this lookup"))
    }

    /// Reads one page of an id list ([`Paging::NextKey`]).
    fn parse_ids<'a>(&self, _body: &'a str) -> Result<IdPage<'a>, Error> {
        Err(self.not_served("a list of ids"))
    }
    /// Whether an upstream error code on a lookup by id means "no such record" (deleted between
    /// the list and the lookup): the walk skips the id instead of failing.
    fn is_gone(&self, _upstream_code: &str) -> bool {
        false
    }

    /// The credentials that verify this upstream's pushes (none: it pushes nothing).
    fn push_keys(&self) -> &'static [CredentialField] {
        &[]
    }
    /// Verifies (signature, timestamp, addressee) and reads a push. `keys` holds the account's
    /// credentials and [`Upstream::push_keys`]; every failure of proof is `Error::Push`.
    fn open_push(&self, _keys: &Credentials, _request: PushRequest<'_>) -> Result<PushEvent, Error> {
        Err(self.not_served("pushes"))
    }

    /// Normalizes a list (or lookup) answer into after-sales.
    fn parse_page<'a>(&self, _body: &'a str, _options: NormalizeOptions) -> Result<Page<'a>, Error> {
        Err(self.not_served("after-sales to normalize (it answers with orders: normalize it as an order)"))
    }
    /// Normalizes an order answer.
    fn parse_order<'a>(&self, _body: &'a str, _options: NormalizeOptions) -> Result<Order<'a>, Error> {
        Err(self.not_served("orders to normalize"))
    }

    /// Whether a mini program's buyer can sign in with a login code (SPEC.md §10,
    /// `POST /v1/sessions/{account_kind}`): the code is exchanged for the buyer's id.
    fn serves_login(&self) -> bool {
        false
    }
    /// The request exchanging a login `code` for the buyer's id (sent as it is, no token).
    fn login_request(&self, _account: &Account, _code: &str) -> Result<Request, Error> {
        Err(self.not_served("buyer sign-in by login code"))
    }
    /// The buyer's id in a login answer (anything else in it, like a session key, is dropped).
    fn parse_login(&self, _body: &str) -> Result<String, Error> {
        Err(self.not_served("buyer sign-in by login code"))
    }

    /// The error for something this upstream does not have.
    fn not_served(&self, what: &str) -> Error {
        Error::invalid_request("platform", alloc::format!("{} has no {what}", self.platform()))
    }
}

/// An HTTP-level failure, with a short excerpt of the body for the message.
pub fn http_upstream_error(platform: Platform, response: &Response) -> UpstreamError {
    let class = match response.status {
        429 => UpstreamClass::RateLimited,
        500..=599 => UpstreamClass::Transient,
        _ => UpstreamClass::Other,
    };
    let excerpt: String = response.body.chars().take(160).collect();
    UpstreamError { platform, code: alloc::format!("HTTP {}", response.status), message: excerpt, class }
}

/// Whether an upstream answer is a success, read from the HTTP status and the envelope's code
/// alone (the body is normalized later, once).
pub fn classify_response(upstream: &dyn Upstream, response: &Response) -> Result<(), UpstreamError> {
    let platform = upstream.platform();
    if !(200..300).contains(&response.status) {
        return Err(http_upstream_error(platform, response));
    }
    let status = envelope::status(&response.body);
    let Some(code) = status.code else { return Ok(()) };
    match upstream.classify(code) {
        None => Ok(()),
        Some(class) => Err(UpstreamError {
            platform,
            code: String::from(code),
            message: status.message.unwrap_or_default(),
            class,
        }),
    }
}

/// Reads an integer envelope code for upstreams whose codes are numbers: `None` when it is not
/// one (then the answer is an error of class `Other`).
pub fn numeric_code(code: &str) -> Option<i64> {
    code.trim().parse().ok()
}
