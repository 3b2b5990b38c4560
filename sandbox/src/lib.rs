//! The sandbox upstream (`SANDBOX=true`, SPEC.md §4): every platform served from a built-in,
//! deterministic simulator of the upstreams' RAW answers, so the core's real request building,
//! signing, token handling, pagination, cursors and normalization run with no credentials and no
//! network. [`answer`] takes the [`Request`] the core built and returns the [`Response`] the real
//! upstream would have sent; the Worker calls it instead of `fetch` when it is built with its
//! `sandbox` feature.
//!
//! # Routing
//! By URL path, the host (and any prefix before the known path) ignored:
//! WeChat `/cgi-bin/token`, `/cgi-bin/stable_token`, `/shop/aftersale/get`, `/product/order/get`;
//! Xiaoe `/token`, `/xe.ecommerce.after_sale.list/1.0.0`; Lingxing
//! `/api/auth-server/oauth/access-token`, `/api/auth-server/oauth/refresh`,
//! `/erp/sc/routing/amzod/order/afterSaleList`. Token endpoints accept any non-empty
//! credentials; data endpoints accept any non-empty token (Lingxing's signature is checked for
//! real, with [`aftersale::lingxing::sign`], and must be at most 120 s away from `now_ms`).
//!
//! # Data: living, from the clock
//! Every record is born in a *slot* of an absolute China-time day (a fixed number of slots per
//! weekday per platform): its identity, creation time and whole life follow from the seed and
//! that slot alone, so they never move as days pass. The sandbox never reads a clock: `now_ms`
//! is passed in, and decides three things only. The window served is the [`SPAN_DAYS`] days
//! before the China day of `now_ms` and that day up to `now_ms` ([`range`]; `to` is tomorrow),
//! so "the last 30 days" always has answers. A record exists once its creation time is at or
//! before `now_ms`, so new after-sales appear during the day. And a record's status is where its
//! life stands at `now_ms`: each record goes through its platform's states at fixed instants
//! after its creation (applied, accepted or agreed to a return, goods sent back, received,
//! refunded; or rejected, cancelled, closed), its update time being its last transition at or
//! before `now_ms`, its refund amount and time appearing when it reaches refunded. Everything
//! that comes with a status is drawn from streams of its own, so a record whose update time has
//! not moved has not changed at all. The same `now_ms` gives the same bytes; a later one gives
//! the same records (same ids, same creation times) plus new ones and moved statuses. No
//! creation, update or refund time is ever after `now_ms` (deadlines such as Xiaoe's
//! `invalid_time` may be). Order placement and Amazon purchase times may precede the window.
//! - Xiaoe (`xiaoe.rs`): 20 after-sales a week (about 600 in the window; seed 001 shape with
//!   `goods_list`), CNY fen, every state 0–19 and every `sale_type` across the window (a
//!   record's last state drawn per kind, its path to it from the table WeChat shares,
//!   `calendar::shared_path`); about one record in five omits `sale_type` and keeps only
//!   `sale_type_name`; some orders carry two after-sales.
//! - Lingxing (`lingxing.rs`): 12 Amazon orders a week (about 360; seed 003 envelope), 1–3
//!   `item_list` lines each, a later line appearing when its after-sale is made, each line's
//!   `return_status` moving Pending → Approved → In transit → Received → Completed (or
//!   Cancelled, Rejected, Closed, Refunded), `gmt_modified` the latest line's change; US (`$`),
//!   UK (`£`), DE and FR (`€`) marketplaces, money strings with 2, 3, 4 or 6 decimals, some
//!   `""`; `item_identifier` unique per line, missing or empty on some lines (then `md5_v2` is
//!   the key); `data[].id` deliberately repeats.
//! - WeChat (`wechat.rs`): an order every four days; the [`WECHAT_ORDERS`] newest placed by
//!   `now_ms` are served ([`sandbox_orders`]), each both a transaction-component order
//!   (`/shop/aftersale/get`, 0–3 after-sales made over the days after delivery, their statuses
//!   moving through codes 0–19, types 1–3) and a Mini Store order (`/product/order/get`, its
//!   status moving from unpaid to paid, shipped, done or cancelled; every status 10–250 present
//!   at any clock) whose `aftersale_order_list` names the same after-sales.
//! - WeChat Channels (`wechat_channels.rs`): 8 after-sales a week (about 240), walking every
//!   (type, last status) pair of the facts document's table in turn, from
//!   `MERCHANT_PROCESSING`; 19-digit ids, some created or moving on exactly at a China
//!   midnight; `/channels/ec/aftersale/getaftersalelist` (one time pair, at most 24 h, else
//!   10020004; ends included; 10 ids a page with a keyset `next_key` bound to its window) and
//!   `/channels/ec/aftersale/getaftersaleorder` (id as a JSON string; unknown or not yet made:
//!   10021050).
//!
//! # Approach: derived, not stored
//! There is no table and no global state: record `i` of a platform is a pure function of a fixed
//! seed and `i`, through a splitmix64 stream per (purpose, index) (`rng.rs`), read at `now_ms`.
//! Each record has a cheap *skeleton* (its dates, kind, life, line types: a handful of integer
//! operations, no strings) and a full rendering. A list call computes the skeletons of the
//! window's records (a few hundred, some microseconds), filters them by the requested date range
//! and filters, sorts the matches as the upstream does (newest first by the queried date; ties
//! by Xiaoe's `aftersale_id`, by index for Lingxing), and renders only the requested page. A
//! WeChat order is found by computing the ids of the window's orders and rendering only the
//! match. Answers are `Serialize` structs whose field order follows the seeds; the same request
//! at the same `now_ms` gives the same bytes.
//!
//! # Upstream semantics simulated
//! - Xiaoe: `created_at` is `"YYYY-MM-DD||YYYY-MM-DD"`, both days included, at most 31 days;
//!   `date_type` `created_at` (default) | `updated_at` | `refund_time` (only refunded records) |
//!   `apply_time` (= created_at); `page_index` from 1; `page_size` 1–100; optional `order_id`;
//!   `row_count` = matches. Errors: code 2002 with a message naming the parameter, 2007 token
//!   missing, 2055 wrong method.
//! - Lingxing: `start_date`/`end_date` half-open on the `Y-m-d` part; `date_type` 1 `deal_time`
//!   (default), 2 `purchase_time`, 3 `gmt_modified`; `offset` (0) / `length` (1000, at most 5000);
//!   optional `sid`, `after_type` (a record matches if one of its lines has one of the types) and
//!   `amazon_order_id_list` (≤ 50); `total` = matching records. Errors: 3001001 missing common
//!   parameter, 2001007 stale timestamp, 2001006 bad sign, 102 invalid parameter; HTTP 405 for GET.
//! - WeChat: `/shop/aftersale/get` takes `order_id` (JSON number, or digit string) or
//!   `out_order_id`, plus `openid`, which must be the order's; `/product/order/get` takes
//!   `order_id`. Unknown order or wrong openid: errcode 9401020. Missing token: 41001; GET: 43002.

use aftersale::account::{Account, Credentials};
use aftersale::http::{Request, Response};
use aftersale::time::Date;
use aftersale::Platform;
use serde::Serialize;

mod calendar;
mod lingxing;
mod request;
mod rng;
mod wechat;
mod wechat_channels;
mod xiaoe;

#[cfg(test)]
mod tests;

use calendar::Calendar;
use request::Ctx;

/// The base URL of the sandbox accounts; never contacted (routing ignores hosts).
pub const SANDBOX_BASE_URL: &str = "https://sandbox.aftersale.invalid";
pub const SANDBOX_WECHAT_APPID: &str = "wx_sandbox";
pub const SANDBOX_WECHAT_SECRET: &str = "wx_sandbox_secret";
pub const SANDBOX_XIAOE_APP_ID: &str = "sandbox";
pub const SANDBOX_XIAOE_CLIENT_ID: &str = "xop_sandbox";
pub const SANDBOX_XIAOE_SECRET_KEY: &str = "xiaoe_sandbox_secret";
/// 16 bytes: Lingxing's appId is also the AES key of its signature.
pub const SANDBOX_LINGXING_APP_ID: &str = "ak_sandbox000001";
pub const SANDBOX_LINGXING_APP_SECRET: &str = "lingxing_sandbox_secret";
/// The Channels shop's own AppID (not the mini program's).
pub const SANDBOX_CHANNELS_APPID: &str = "wx_sandbox_channels";
pub const SANDBOX_CHANNELS_SECRET: &str = "wx_sandbox_channels_secret";

/// Days of data before today (China time): the window is these days and today up to the
/// caller's clock.
pub const SPAN_DAYS: i64 = 210;

/// WeChat orders (both the transaction component and the Mini Store) in the window: the newest
/// placed by the caller's clock, one every four days.
pub const WECHAT_ORDERS: usize = 40;

/// The days the data covers, as the proxy's ranges are written: China-time dates, `to` excluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Range {
    pub from: Date,
    pub to: Date,
}

/// The data's range for a caller whose clock reads `now_ms` (unix milliseconds): the
/// [`SPAN_DAYS`] days before today and today, China time (`to` is tomorrow).
pub fn range(now_ms: u64) -> Range {
    let cal = Calendar::at(now_ms);
    Range { from: Date::from_days_since_epoch(cal.first_day), to: Date::from_days_since_epoch(cal.end_day) }
}

/// One WeChat order of the sandbox, for the console and tests: an order of both `wechat_shop`
/// (with its buyer's `openid`) and `wechat_store`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SandboxOrder {
    pub order_id: String,
    pub out_order_id: String,
    pub openid: String,
    /// How many after-sales the order has (some have none).
    pub aftersales: usize,
}

/// The WeChat orders of the sandbox at `now_ms`: the [`WECHAT_ORDERS`] newest placed by then,
/// with the after-sales each has by then.
pub fn sandbox_orders(now_ms: u64) -> Vec<SandboxOrder> {
    wechat::orders(Calendar::at(now_ms))
}

/// What a newcomer needs to try the sandbox: its date range and its example orders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Examples {
    pub range: Range,
    pub orders: Vec<SandboxOrder>,
}

pub fn examples(now_ms: u64) -> Examples {
    Examples { range: range(now_ms), orders: sandbox_orders(now_ms) }
}

/// The sandbox account serving `platform`, with the sandbox credentials; `None` for a
/// platform the sandbox does not simulate.
pub fn sandbox_account(platform: Platform) -> Option<Account> {
    let credentials = match platform {
        Platform::WechatShop | Platform::WechatStore => {
            Credentials::new().with("appid", SANDBOX_WECHAT_APPID).with("secret", SANDBOX_WECHAT_SECRET)
        }
        Platform::Xiaoe => Credentials::new()
            .with("app_id", SANDBOX_XIAOE_APP_ID)
            .with("client_id", SANDBOX_XIAOE_CLIENT_ID)
            .with("secret_key", SANDBOX_XIAOE_SECRET_KEY),
        Platform::Lingxing => {
            Credentials::new().with("app_id", SANDBOX_LINGXING_APP_ID).with("app_secret", SANDBOX_LINGXING_APP_SECRET)
        }
        Platform::WechatChannels => {
            Credentials::new().with("appid", SANDBOX_CHANNELS_APPID).with("secret", SANDBOX_CHANNELS_SECRET)
        }
    };
    Some(Account::new(platform, credentials).with_base_url(SANDBOX_BASE_URL))
}

/// Answers an upstream request as the real upstream would, from deterministic data.
pub fn answer(request: &Request, now_ms: u64) -> Response {
    let (path, query) = request::split_url(&request.url);
    let query = request::parse_pairs(query);
    let ctx = Ctx { request, query: &query, now_ms, cal: Calendar::at(now_ms) };
    match route(path) {
        Some(Endpoint::WechatToken) => wechat::token(&ctx, false),
        Some(Endpoint::WechatStableToken) => wechat::token(&ctx, true),
        Some(Endpoint::WechatShopAfterSales) => wechat::shop_aftersales(&ctx),
        Some(Endpoint::WechatStoreOrder) => wechat::store_order(&ctx),
        Some(Endpoint::WechatLogin) => wechat::jscode2session(&ctx),
        Some(Endpoint::XiaoeToken) => xiaoe::token(&ctx),
        Some(Endpoint::XiaoeList) => xiaoe::list(&ctx),
        Some(Endpoint::LingxingToken) => lingxing::token(&ctx, false),
        Some(Endpoint::LingxingRefresh) => lingxing::token(&ctx, true),
        Some(Endpoint::LingxingList) => lingxing::list(&ctx),
        Some(Endpoint::ChannelsList) => wechat_channels::list(&ctx),
        Some(Endpoint::ChannelsDetail) => wechat_channels::detail(&ctx),
        None => request::reply(
            404,
            &wechat::Error { errcode: 404, errmsg: &format!("sandbox: no upstream endpoint at {path}") },
        ),
    }
}

/// The kind of an after-sale, with WeChat's and Xiaoe's code for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum K {
    Refund,
    Return,
    Exchange,
}

impl K {
    const fn code(self) -> i64 {
        match self {
            K::Refund => 1,
            K::Return => 2,
            K::Exchange => 3,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    WechatToken,
    WechatStableToken,
    WechatShopAfterSales,
    WechatStoreOrder,
    WechatLogin,
    XiaoeToken,
    XiaoeList,
    LingxingToken,
    LingxingRefresh,
    LingxingList,
    ChannelsList,
    ChannelsDetail,
}

/// Longest paths first, so `/cgi-bin/token` is matched before Xiaoe's `/token`.
const ROUTES: &[(&str, Endpoint)] = &[
    ("/channels/ec/aftersale/getaftersaleorder", Endpoint::ChannelsDetail),
    ("/channels/ec/aftersale/getaftersalelist", Endpoint::ChannelsList),
    ("/erp/sc/routing/amzod/order/afterSaleList", Endpoint::LingxingList),
    ("/api/auth-server/oauth/access-token", Endpoint::LingxingToken),
    ("/xe.ecommerce.after_sale.list/1.0.0", Endpoint::XiaoeList),
    ("/api/auth-server/oauth/refresh", Endpoint::LingxingRefresh),
    ("/cgi-bin/stable_token", Endpoint::WechatStableToken),
    ("/shop/aftersale/get", Endpoint::WechatShopAfterSales),
    ("/product/order/get", Endpoint::WechatStoreOrder),
    ("/sns/jscode2session", Endpoint::WechatLogin),
    ("/cgi-bin/token", Endpoint::WechatToken),
    ("/token", Endpoint::XiaoeToken),
];

fn route(path: &str) -> Option<Endpoint> {
    let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    ROUTES.iter().find(|(p, _)| path == *p).or_else(|| ROUTES.iter().find(|(p, _)| path.ends_with(p))).map(|(_, e)| *e)
}
