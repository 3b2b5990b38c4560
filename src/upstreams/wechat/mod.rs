//! WeChat: the transaction component's after-sales (`shop`, seed 000) and the Mini Store's order
//! details (`store`, seed 002). Both share one appid, one access token and one error table.

use crate::error::UpstreamClass;
use crate::model::{Order, Platform};
use crate::parse::normalize::{self, NormalizeOptions, Page};
use crate::parse::wire::{wire_struct, Int, Text};
use crate::protocol::account::Account;
use crate::protocol::http::Request;
use crate::protocol::pacing::RateLimit;
use crate::protocol::upstream::{
    numeric_code, CredentialField, ForceRefreshLimit, ListScheme, Lookup, LookupKind, TokenAsk, TokenFetch, Upstream,
};
use crate::Error;

pub mod request;
pub mod shop;
pub mod store;

/// One of the two WeChat platforms. Both share one appid, one access token and one rate
/// limit (the account kind `wechat`); neither has a list by date in the seeds, only lookups.
pub struct WechatUpstream {
    platform: Platform,
    lookups: &'static [LookupKind],
    no_list: &'static str,
}

/// The transaction component's after-sales of one order, per buyer (seed 000).
pub const WECHAT_SHOP: WechatUpstream = WechatUpstream {
    platform: Platform::WechatShop,
    lookups: &[LookupKind::OrderAfterSales { needs_buyer: true }],
    no_list: "has no after-sale list by date: use /v1/orders/{order_id}/aftersales?platform=wechat_shop&openid=...",
};

/// The Mini Store's order details with their after-sale ids (seed 002).
pub const WECHAT_STORE: WechatUpstream = WechatUpstream {
    platform: Platform::WechatStore,
    lookups: &[LookupKind::Order],
    no_list: "has no after-sale list by date: use /v1/orders/{order_id}?platform=wechat_store",
};

pub const BASE_URL: &str = "https://api.weixin.qq.com";

const CREDENTIALS: &[CredentialField] = &[
    CredentialField { key: "appid", var: "WECHAT_APPID", secret: false },
    CredentialField { key: "secret", var: "WECHAT_SECRET", secret: true },
];

/// WeChat's per-API minute limits vary by API and account; stay well under the usual ones.
const RATE_LIMIT: RateLimit = RateLimit::Window { limit: 1000, window_ms: 60_000 };

/// The stable token may be forced anew at most once every 30 s and 20 times a day.
pub const STABLE_TOKEN_FORCE_LIMIT: ForceRefreshLimit = ForceRefreshLimit { min_interval_ms: 30_000, per_day: 20 };

/// The stable token answers the same token until its last five minutes, and a new one within
/// them: renewing inside that span (4 minutes ahead) is what gets the next token.
pub const STABLE_TOKEN_RENEW_BEFORE_MS: u64 = 4 * 60 * 1000;

impl Upstream for WechatUpstream {
    fn platform(&self) -> Platform {
        self.platform
    }
    fn account_kind(&self) -> &'static str {
        "wechat"
    }
    fn default_base_url(&self) -> &'static str {
        BASE_URL
    }
    fn base_url_var(&self) -> &'static str {
        "WECHAT_BASE_URL"
    }
    fn credentials(&self) -> &'static [CredentialField] {
        CREDENTIALS
    }
    fn rate_limit(&self) -> RateLimit {
        RATE_LIMIT
    }
    fn token_request(&self, account: &Account, ask: TokenAsk<'_>) -> Result<TokenFetch, Error> {
        Ok(TokenFetch { request: token_request(account, "appid", "secret", ask)?, is_refresh: false })
    }
    fn token_fallback_on(&self, status: u16) -> bool {
        status == 404
    }
    fn renew_before_ms(&self, lifetime_ms: u64) -> u64 {
        STABLE_TOKEN_RENEW_BEFORE_MS.min(lifetime_ms / 10)
    }
    fn force_refresh_limit(&self) -> Option<ForceRefreshLimit> {
        Some(STABLE_TOKEN_FORCE_LIMIT)
    }
    fn classify(&self, code: &str) -> Option<UpstreamClass> {
        classify_code(code)
    }
    fn throttle_wait_ms(&self, code: &str, now_ms: u64) -> Option<u64> {
        minute_limit_wait(code, now_ms)
    }
    fn list(&self) -> Result<&'static ListScheme, &'static str> {
        Err(self.no_list)
    }
    fn lookups(&self) -> &'static [LookupKind] {
        self.lookups
    }
    fn lookup_request(&self, account: &Account, token: &str, lookup: &Lookup, _now_ms: u64) -> Result<Request, Error> {
        match (self.platform, lookup) {
            (Platform::WechatShop, Lookup::OrderAfterSales { order, buyer: Some(openid) }) => {
                Ok(request::WechatShopAfterSales { order: order.clone(), openid: openid.clone() }
                    .to_request(&account.base_url, token))
            }
            (Platform::WechatShop, Lookup::OrderAfterSales { buyer: None, .. }) => {
                Err(Error::invalid_request("openid", "is required: WeChat looks after-sales up per buyer"))
            }
            (Platform::WechatStore, Lookup::Order { order_id }) => {
                Ok(request::WechatStoreOrderGet { order_id: order_id.clone() }.to_request(&account.base_url, token))
            }
            _ => Err(self.not_served("such a lookup")),
        }
    }
    fn serves_login(&self) -> bool {
        true
    }
    fn login_request(&self, account: &Account, code: &str) -> Result<Request, Error> {
        let code = code.trim();
        if code.is_empty() || code.len() > 256 || !code.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::invalid_request("code", "is not a wx.login() code (1 to 256 printable characters)"));
        }
        let (appid, secret) = (account.credentials.get("appid")?, account.credentials.get("secret")?);
        Ok(request::jscode2session_request(&account.base_url, appid, secret, code))
    }
    fn parse_login(&self, body: &str) -> Result<alloc::string::String, Error> {
        parse_login(self.platform, body)
    }
    fn parse_page<'a>(&self, body: &'a str, options: NormalizeOptions) -> Result<Page<'a>, Error> {
        match self.platform {
            Platform::WechatShop => shop::parse_page(body, options),
            _ => Err(Error::invalid_request(
                "platform",
                "wechat_store answers with an order and its after-sale ids, not after-sales: normalize it as an order",
            )),
        }
    }
    fn parse_order<'a>(&self, body: &'a str, options: NormalizeOptions) -> Result<Order<'a>, Error> {
        match self.platform {
            Platform::WechatStore => store::parse_order(body, options),
            _ => Err(self.not_served("orders to normalize")),
        }
    }
}

wire_struct! {
    /// `jscode2session`'s answer; its `session_key` is read by no one and never kept.
    pub struct LoginAnswer<'a> {
        openid: Text<'a>,
        errcode: Int,
        errmsg: Text<'a>,
    }
}

/// The buyer's openid of a `jscode2session` answer, or the upstream's error (40029: the code is
/// invalid or already used; 45011: too many sign-ins; 40226: a high-risk user).
pub fn parse_login(platform: Platform, body: &str) -> Result<alloc::string::String, Error> {
    let answer = normalize::parse_body::<LoginAnswer<'_>>(platform, body)?;
    // The buyer's code is the caller's input: a refused one is the caller's error, not the
    // upstream's (40029 invalid or expired, 40163 already used).
    if let Some(Int(40029 | 40163)) = answer.errcode {
        return Err(Error::invalid_request(
            "code",
            "was refused: invalid, expired or already used; call wx.login() again",
        ));
    }
    check_status(platform, answer.errcode, answer.errmsg)?;
    match answer.openid {
        Some(o) if !o.0.trim().is_empty() => Ok(alloc::string::String::from(o.0.trim())),
        _ => Err(Error::invalid_request("code", "the sign-in answer carries no openid")),
    }
}

/// The access token of a WeChat appid: the stable token, or the classic one where the stable
/// endpoint is missing. Shared with every WeChat product line (the Channels shop too), each
/// naming its own credential keys.
pub fn token_request(
    account: &Account,
    appid_key: &'static str,
    secret_key: &'static str,
    ask: TokenAsk<'_>,
) -> Result<Request, Error> {
    let (appid, secret) = (account.credentials.get(appid_key)?, account.credentials.get(secret_key)?);
    Ok(if ask.fallback {
        request::classic_token_request(&account.base_url, appid, secret)
    } else {
        request::stable_token_request(&account.base_url, appid, secret, ask.force_refresh)
    })
}

/// An `errcode` as the protocol classifies it: 0 is success.
pub fn classify_code(code: &str) -> Option<UpstreamClass> {
    match numeric_code(code) {
        Some(0) => None,
        Some(c) => Some(classify(c)),
        None => Some(UpstreamClass::Other),
    }
}

/// 45011 is a per-minute limit: the next minute is the earliest useful retry.
pub fn minute_limit_wait(code: &str, now_ms: u64) -> Option<u64> {
    (code.trim() == "45011").then(|| 60_000 - now_ms % 60_000)
}

/// WeChat's `errcode` table (UPSTREAMS.md and seed 002).
pub fn classify(errcode: i64) -> UpstreamClass {
    match errcode {
        -1 => UpstreamClass::Transient,
        // "Frequence limit overflow": the stable token's own throttling.
        30000 => UpstreamClass::RateLimited,
        40001 | 42001 | 40014 => UpstreamClass::TokenRejected,
        -2 | 40013 | 40125 | 48001 | 61004 | 45035 | 40164 => UpstreamClass::Auth,
        45011 => UpstreamClass::RateLimited,
        45009 => UpstreamClass::QuotaExhausted,
        9401020 | 47001 | 40097 => UpstreamClass::InvalidParameter,
        _ => UpstreamClass::Other,
    }
}

wire_struct! {
    /// `{errcode, errmsg}`: read alone when the full shape does not parse, so an upstream error
    /// is reported as itself rather than as a parse error.
    pub struct WechatStatus<'a> {
        errcode: Int,
        errmsg: Text<'a>,
    }
}

/// `errcode` 0 or absent is success (WeChat omits it on some successful answers).
pub(crate) fn check_status(platform: Platform, errcode: Option<Int>, errmsg: Option<Text<'_>>) -> Result<(), Error> {
    match errcode {
        None | Some(Int(0)) => Ok(()),
        Some(Int(c)) => Err(normalize::upstream_error(platform, c, errmsg, classify(c))),
    }
}

/// On a body that does not parse as the success shape, report the upstream's error if it is one.
pub(crate) fn error_or_parse(platform: Platform, body: &str, parse: crate::error::ParseError) -> Error {
    match normalize::parse_body::<WechatStatus<'_>>(platform, body) {
        Ok(s) if s.errcode.is_some_and(|c| c.0 != 0) => check_status(platform, s.errcode, s.errmsg).unwrap_err(),
        _ => Error::Parse(parse),
    }
}
