//! The sandbox upstream (`SANDBOX=true`, SPEC.md §4): every platform served from a built-in,
//! deterministic simulator of the upstreams' RAW answers, so the core's real request building,
//! signing, token handling, pagination, cursors and normalization run with no credentials and no
//! network. [`answer`] takes the [`Request`] the core built and returns the [`Response`] the real
//! upstream would have sent; the Worker calls it instead of `fetch`.
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
//! # Data
//! A fixed calendar, China time: `[2025-05-01, 2025-12-01)` ([`SANDBOX_FROM`], [`SANDBOX_TO`]);
//! every date of every record (created, updated, refunded, after-sale, update time) lies inside
//! it, so one range shows everything whatever the date field. Order placement and Amazon purchase
//! times may precede it.
//! - Xiaoe: [`XIAOE_RECORDS`] after-sales (seed 001 shape with `goods_list`), CNY fen, every state
//!   0–19 and every `sale_type`; about one record in five omits `sale_type` and keeps only
//!   `sale_type_name`; some orders carry two after-sales.
//! - Lingxing: [`LINGXING_RECORDS`] Amazon orders (seed 003 envelope), 1–3 `item_list` lines each,
//!   in the US (`$`), UK (`£`), DE and FR (`€`) marketplaces, money strings with 2, 3, 4 or 6
//!   decimals, some `""`; `item_identifier` unique per line, missing or empty on some lines (then
//!   `md5_v2` is the key); `data[].id` deliberately repeats.
//! - WeChat: [`WECHAT_ORDERS`] orders ([`sandbox_orders`]), each both a transaction-component order
//!   (`/shop/aftersale/get`, 0–3 after-sales, statuses 0–19 and types 1–3 all present) and a Mini
//!   Store order (`/product/order/get`, every order status 10–250 present) whose
//!   `aftersale_order_list` names the same after-sales.
//!
//! # Approach: derived, not stored
//! There is no table and no global state: record `i` of a platform is a pure function of a fixed
//! seed and `i`, through a splitmix64 stream per (purpose, index). Each record has a cheap
//! *skeleton* (its dates, kind, state, line types: a handful of integer operations, no strings) and
//! a full JSON rendering. A list call computes the skeletons of all records (a few hundred, some
//! microseconds), filters them by the requested date range and filters, sorts the matches as the
//! upstream does (newest first by the queried date; ties by Xiaoe's `aftersale_id`, by index for
//! Lingxing), and renders only the requested page. A WeChat order is found by computing the
//! ids of the few dozen orders and rendering only the match. JSON is written by hand, so field
//! order follows the seeds and no `serde_json` map order matters; the same request at the same
//! `now_ms` gives the same bytes (only token values, `request_id` and `response_time` depend on
//! `now_ms`).
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

use std::fmt::Write as _;

use aftersale::account::{Account, Credentials};
use aftersale::http::{Method, Request, Response};
use aftersale::time::Date;
use aftersale::Platform;
use serde_json::{Map, Value};

// ---------------------------------------------------------------------------------------------
// Public constants and helpers
// ---------------------------------------------------------------------------------------------

/// The base URL the Worker may give its sandbox accounts; never contacted (routing ignores hosts).
#[allow(dead_code)] // Public API for the console, tests and docs; the Worker may not use it.
pub const SANDBOX_BASE_URL: &str = "https://sandbox.aftersale.invalid";
pub const SANDBOX_WECHAT_APPID: &str = "wx_sandbox";
#[allow(dead_code)] // Public API for the console, tests and docs; the Worker may not use it.
pub const SANDBOX_WECHAT_SECRET: &str = "wx_sandbox_secret";
pub const SANDBOX_XIAOE_APP_ID: &str = "sandbox";
#[allow(dead_code)] // Public API for the console, tests and docs; the Worker may not use it.
pub const SANDBOX_XIAOE_CLIENT_ID: &str = "xop_sandbox";
#[allow(dead_code)] // Public API for the console, tests and docs; the Worker may not use it.
pub const SANDBOX_XIAOE_SECRET_KEY: &str = "xiaoe_sandbox_secret";
/// 16 bytes: Lingxing's appId is also the AES key of its signature.
pub const SANDBOX_LINGXING_APP_ID: &str = "ak_sandbox000001";
#[allow(dead_code)] // Public API for the console, tests and docs; the Worker may not use it.
pub const SANDBOX_LINGXING_APP_SECRET: &str = "lingxing_sandbox_secret";

/// First day of the sandbox's data (China time).
#[allow(dead_code)] // Public API for the console, tests and docs; the Worker may not use it.
pub const SANDBOX_FROM: &str = "2025-05-01";
/// The day after the last day of the sandbox's data: `[SANDBOX_FROM, SANDBOX_TO)` holds it all.
#[allow(dead_code)] // Public API for the console, tests and docs; the Worker may not use it.
pub const SANDBOX_TO: &str = "2025-12-01";

/// Xiaoe after-sales in the data set.
pub const XIAOE_RECORDS: usize = 600;
/// Lingxing records (Amazon orders, each with 1–3 after-sale lines) in the data set.
pub const LINGXING_RECORDS: usize = 360;
/// WeChat orders (both the transaction component and the Mini Store) in the data set.
pub const WECHAT_ORDERS: usize = 40;

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
        Platform::WechatChannels => return None,
    };
    Some(Account::new(platform, credentials).with_base_url(SANDBOX_BASE_URL))
}

/// The WeChat orders of the sandbox: `(order_id, out_order_id, openid)`, for the console and
/// tests. Each is an order of both `wechat_shop` (with its openid) and `wechat_store`; some have
/// no after-sales.
#[allow(dead_code)] // Public API for the console, tests and docs; the Worker may not use it.
pub fn sandbox_orders() -> Vec<(String, String, String)> {
    (0..WECHAT_ORDERS).map(|k| (w_order_id(k).to_string(), w_out_order_id(k), w_openid(w_buyer(k)))).collect()
}

/// Answers an upstream request as the real upstream would, from deterministic data.
pub fn answer(request: &Request, now_ms: u64) -> Response {
    let (path, query) = split_url(&request.url);
    let query = parse_pairs(query);
    let ctx = Ctx { request, query: &query, now_ms };
    match route(path) {
        Some(Endpoint::WechatToken) => wechat_token(&ctx, false),
        Some(Endpoint::WechatStableToken) => wechat_token(&ctx, true),
        Some(Endpoint::WechatShopAfterSales) => wechat_shop(&ctx),
        Some(Endpoint::WechatStoreOrder) => wechat_store(&ctx),
        Some(Endpoint::XiaoeToken) => xiaoe_token(&ctx),
        Some(Endpoint::XiaoeList) => xiaoe_list(&ctx),
        Some(Endpoint::LingxingToken) => lingxing_token(&ctx, false),
        Some(Endpoint::LingxingRefresh) => lingxing_token(&ctx, true),
        Some(Endpoint::LingxingList) => lingxing_list(&ctx),
        None => {
            let mut out = String::new();
            let mut o = Obj::open(&mut out);
            o.n("errcode", 404).s("errmsg", &format!("sandbox: no upstream endpoint at {path}"));
            o.close();
            Response { status: 404, body: out, retry_after_ms: None }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Routing and request parsing
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    WechatToken,
    WechatStableToken,
    WechatShopAfterSales,
    WechatStoreOrder,
    XiaoeToken,
    XiaoeList,
    LingxingToken,
    LingxingRefresh,
    LingxingList,
}

/// Longest paths first, so `/cgi-bin/token` is matched before Xiaoe's `/token`.
const ROUTES: &[(&str, Endpoint)] = &[
    ("/erp/sc/routing/amzod/order/afterSaleList", Endpoint::LingxingList),
    ("/api/auth-server/oauth/access-token", Endpoint::LingxingToken),
    ("/xe.ecommerce.after_sale.list/1.0.0", Endpoint::XiaoeList),
    ("/api/auth-server/oauth/refresh", Endpoint::LingxingRefresh),
    ("/cgi-bin/stable_token", Endpoint::WechatStableToken),
    ("/shop/aftersale/get", Endpoint::WechatShopAfterSales),
    ("/product/order/get", Endpoint::WechatStoreOrder),
    ("/cgi-bin/token", Endpoint::WechatToken),
    ("/token", Endpoint::XiaoeToken),
];

fn route(path: &str) -> Option<Endpoint> {
    let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    ROUTES.iter().find(|(p, _)| path == *p).or_else(|| ROUTES.iter().find(|(p, _)| path.ends_with(p))).map(|(_, e)| *e)
}

/// `(path, query)` of an absolute or relative URL; the fragment dropped.
fn split_url(url: &str) -> (&str, &str) {
    let url = url.split('#').next().unwrap_or("");
    let rest = match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            match after.find(['/', '?']) {
                Some(j) => &after[j..],
                None => "",
            }
        }
        None => url,
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    (if path.is_empty() { "/" } else { path }, query)
}

/// `application/x-www-form-urlencoded` pairs (a query string or a form body), decoded.
fn parse_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex_val(b[i + 1]), hex_val(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

struct Ctx<'r> {
    request: &'r Request,
    query: &'r [(String, String)],
    now_ms: u64,
}

impl Ctx<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn json_body(&self) -> Option<Map<String, Value>> {
        match serde_json::from_slice::<Value>(&self.request.body) {
            Ok(Value::Object(m)) => Some(m),
            _ => None,
        }
    }

    fn is_post(&self) -> bool {
        self.request.method == Method::Post
    }

    /// A per-request 64-bit value: the same request at the same time gives the same one.
    fn nonce(&self) -> u64 {
        mix(hash_bytes(self.request.url.as_bytes()) ^ mix(hash_bytes(&self.request.body) ^ self.now_ms))
    }
}

fn ok(body: String) -> Response {
    Response { status: 200, body, retry_after_ms: None }
}

/// A JSON value as an integer: a number, or a string of digits.
fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A JSON value as text: a string, or a number's digits.
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// PRNG, hashing, time
// ---------------------------------------------------------------------------------------------

const SEED: u64 = 0xAF7E_25A1_E5A4_D805;
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64's finalizer.
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn hash_bytes(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in b {
        h ^= u64::from(c);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// Streams: one per purpose, so a record's cheap skeleton never depends on its rendering.
mod stream {
    pub const X_ORDER: u64 = 1;
    pub const X_PAIR: u64 = 2;
    pub const X_RECORD: u64 = 3;
    pub const X_DETAIL: u64 = 4;
    pub const X_USER: u64 = 5;
    pub const L_RECORD: u64 = 11;
    pub const L_DETAIL: u64 = 12;
    pub const L_LINE: u64 = 13;
    pub const L_ASIN: u64 = 14;
    pub const W_ID: u64 = 21;
    pub const W_ORDER: u64 = 22;
    pub const W_AFTERSALE: u64 = 23;
    pub const W_BUYER: u64 = 24;
    pub const W_PRODUCT: u64 = 25;
    pub const TOKEN: u64 = 31;
}

/// splitmix64 over (seed, stream, index).
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(stream: u64, index: u64) -> Rng {
        Rng(mix(SEED ^ mix(stream.wrapping_mul(GOLDEN) ^ mix(index.wrapping_add(GOLDEN)))))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    fn pct(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }

    fn push_from(&mut self, out: &mut String, n: usize, alphabet: &[u8]) {
        for _ in 0..n {
            out.push(alphabet[self.below(alphabet.len() as u64) as usize] as char);
        }
    }

    fn push_hex(&mut self, out: &mut String, n: usize) {
        self.push_from(out, n, b"0123456789abcdef");
    }

    fn push_digits(&mut self, out: &mut String, n: usize) {
        self.push_from(out, n, b"0123456789");
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const OPENID_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;
/// China time minus UTC.
const CHINA: i64 = 8 * HOUR;

const fn day_number(y: i32, m: u8, d: u8) -> i64 {
    match Date::new(y, m, d) {
        Some(date) => date.days_since_epoch(),
        None => panic!("not a date"),
    }
}

const FIRST_DAY: i64 = day_number(2025, 5, 1);
const END_DAY: i64 = day_number(2025, 12, 1);
const SPAN_DAYS: i64 = END_DAY - FIRST_DAY;
/// Times are local seconds since 1970-01-01T00:00 local (China time for WeChat and Xiaoe,
/// the marketplace's unstated zone for Lingxing).
const START: i64 = FIRST_DAY * DAY;
/// Exclusive.
const END: i64 = END_DAY * DAY;

/// Busier in the day and evening, as shops are.
const HOURS: [i64; 27] =
    [0, 1, 7, 8, 9, 9, 10, 10, 11, 11, 12, 13, 14, 14, 15, 15, 16, 17, 18, 19, 20, 20, 21, 21, 22, 22, 23];

fn random_moment(r: &mut Rng, days: i64) -> i64 {
    START + r.below(days as u64) as i64 * DAY + r.pick(&HOURS) * HOUR + r.below(HOUR as u64) as i64
}

/// `t` plus a delay in `min..=max` seconds, never reaching [`END`].
fn later(r: &mut Rng, t: i64, min: i64, max: i64) -> i64 {
    let room = (END - 1 - t).max(0);
    let hi = max.min(room);
    let lo = min.min(hi);
    t + r.between(lo, hi)
}

fn push_time(out: &mut String, t: i64) {
    let d = Date::from_days_since_epoch(t.div_euclid(DAY));
    let s = t.rem_euclid(DAY);
    let _ = write!(out, "{} {:02}:{:02}:{:02}", d, s / HOUR, s % HOUR / 60, s % 60);
}

/// China-local seconds of a unix time in milliseconds.
fn china_local(now_ms: u64) -> i64 {
    (now_ms / 1000) as i64 + CHINA
}

fn parse_day(s: &str) -> Option<i64> {
    Date::parse(s.trim()).map(Date::days_since_epoch)
}

// ---------------------------------------------------------------------------------------------
// JSON writing
// ---------------------------------------------------------------------------------------------

fn esc(out: &mut String, s: &str) {
    out.push('"');
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON object being written: members in the order they are added.
struct Obj<'o> {
    out: &'o mut String,
    first: bool,
}

impl<'o> Obj<'o> {
    fn open(out: &'o mut String) -> Obj<'o> {
        out.push('{');
        Obj { out, first: true }
    }

    fn key(&mut self, k: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        esc(self.out, k);
        self.out.push(':');
        self.out
    }

    fn s(&mut self, k: &str, v: &str) -> &mut Self {
        let o = self.key(k);
        esc(o, v);
        self
    }

    fn n(&mut self, k: &str, v: i64) -> &mut Self {
        let o = self.key(k);
        let _ = write!(o, "{v}");
        self
    }

    fn u(&mut self, k: &str, v: u64) -> &mut Self {
        let o = self.key(k);
        let _ = write!(o, "{v}");
        self
    }

    fn b(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k).push_str(if v { "true" } else { "false" });
        self
    }

    fn null(&mut self, k: &str) -> &mut Self {
        self.key(k).push_str("null");
        self
    }

    fn t(&mut self, k: &str, time: i64) -> &mut Self {
        let o = self.key(k);
        o.push('"');
        push_time(o, time);
        o.push('"');
        self
    }

    fn strs(&mut self, k: &str, items: &[&str]) -> &mut Self {
        let o = self.key(k);
        o.push('[');
        for (i, s) in items.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            esc(o, s);
        }
        o.push(']');
        self
    }

    fn close(self) {
        self.out.push('}');
    }
}

/// Writes `[f(item), ...]`.
fn push_array<T>(out: &mut String, items: impl IntoIterator<Item = T>, mut f: impl FnMut(&mut String, T)) {
    out.push('[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        f(out, item);
    }
    out.push(']');
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

/// A token string of `n` characters from `alphabet`, fixed by (what, credential, time).
fn token_value(what: &str, credential: &str, now_ms: u64, n: usize, alphabet: &[u8]) -> String {
    let mut r = Rng::new(stream::TOKEN, hash_bytes(what.as_bytes()) ^ mix(hash_bytes(credential.as_bytes()) ^ now_ms));
    let mut s = String::with_capacity(n);
    r.push_from(&mut s, n, alphabet);
    s
}

fn uuid(r: &mut Rng, upper: bool) -> String {
    let mut s = String::with_capacity(36);
    for (i, n) in [8, 4, 4, 4, 12].into_iter().enumerate() {
        if i > 0 {
            s.push('-');
        }
        r.push_hex(&mut s, n);
    }
    if upper {
        s.make_ascii_uppercase();
    }
    s
}

fn wechat_error(errcode: i64, errmsg: &str) -> Response {
    let mut out = String::new();
    let mut o = Obj::open(&mut out);
    o.n("errcode", errcode).s("errmsg", errmsg);
    o.close();
    ok(out)
}

/// `GET /cgi-bin/token?grant_type=client_credential&appid&secret`, or
/// `POST /cgi-bin/stable_token {grant_type, appid, secret, force_refresh}`.
fn wechat_token(ctx: &Ctx<'_>, stable: bool) -> Response {
    let get = |name: &str| -> String {
        if stable {
            ctx.json_body().and_then(|b| b.get(name).and_then(text_of)).unwrap_or_default()
        } else {
            ctx.param(name).unwrap_or("").to_string()
        }
    };
    if stable && !ctx.is_post() {
        return wechat_error(43002, "require POST method");
    }
    if stable && ctx.json_body().is_none() {
        return wechat_error(47001, "data format error");
    }
    let grant_type = get("grant_type");
    let appid = get("appid");
    let secret = get("secret");
    if appid.is_empty() {
        return wechat_error(41002, "appid missing");
    }
    if secret.is_empty() {
        return wechat_error(41004, "appsecret missing");
    }
    if grant_type != "client_credential" {
        return wechat_error(40002, "invalid grant_type");
    }
    let mut token = String::from("86_");
    token.push_str(&token_value(
        if stable { "wechat-stable" } else { "wechat" },
        &appid,
        ctx.now_ms,
        104,
        OPENID_CHARS,
    ));
    let mut out = String::new();
    let mut o = Obj::open(&mut out);
    o.s("access_token", &token).n("expires_in", 7200);
    o.close();
    ok(out)
}

/// `GET /token?app_id&client_id&secret_key&grant_type=client_credential`.
fn xiaoe_token(ctx: &Ctx<'_>) -> Response {
    for name in ["app_id", "client_id", "secret_key", "grant_type"] {
        if ctx.param(name).unwrap_or("").is_empty() {
            return xiaoe_error(2002, &format!("参数错误: {name} 不能为空"));
        }
    }
    if ctx.param("grant_type") != Some("client_credential") {
        return xiaoe_error(2002, "参数错误: grant_type 只能是 client_credential");
    }
    let token = token_value("xiaoe", ctx.param("app_id").unwrap_or(""), ctx.now_ms, 32, b"0123456789abcdef");
    let mut out = String::new();
    let mut o = Obj::open(&mut out);
    o.n("code", 0).s("msg", "ok");
    let mut d = Obj::open(o.key("data"));
    d.s("access_token", &token).n("expires_in", 7200);
    d.close();
    o.close();
    ok(out)
}

fn lingxing_auth_error(code: &str, msg: &str) -> Response {
    let mut out = String::new();
    let mut o = Obj::open(&mut out);
    o.s("code", code).s("msg", msg).null("data");
    o.close();
    ok(out)
}

/// `POST /api/auth-server/oauth/access-token` (`appId`, `appSecret`) or
/// `/api/auth-server/oauth/refresh` (`appId`, `refreshToken`): form fields or query parameters.
fn lingxing_token(ctx: &Ctx<'_>, refresh: bool) -> Response {
    if !ctx.is_post() {
        return lingxing_auth_error("405", "Request method 'GET' not supported");
    }
    let form = parse_pairs(std::str::from_utf8(&ctx.request.body).unwrap_or(""));
    let field = |name: &str| -> String {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| ctx.param(name).map(str::to_string))
            .unwrap_or_default()
    };
    let app_id = field("appId");
    if app_id.is_empty() {
        return lingxing_auth_error("2001001", "appId 不能为空");
    }
    if refresh {
        if field("refreshToken").is_empty() {
            return lingxing_auth_error("2001009", "refreshToken 无效");
        }
    } else if field("appSecret").is_empty() {
        return lingxing_auth_error("2001002", "appSecret 不能为空");
    }
    let mut r = Rng::new(stream::TOKEN, hash_bytes(app_id.as_bytes()) ^ mix(ctx.now_ms ^ u64::from(refresh)));
    let access = uuid(&mut r, false);
    let refresh_token = uuid(&mut r, false);
    let mut out = String::new();
    let mut o = Obj::open(&mut out);
    o.s("code", "200").s("msg", "OK");
    let mut d = Obj::open(o.key("data"));
    d.s("access_token", &access).s("refresh_token", &refresh_token).n("expires_in", 7199);
    d.close();
    o.close();
    ok(out)
}

// ---------------------------------------------------------------------------------------------
// Xiaoe
// ---------------------------------------------------------------------------------------------

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

struct XGoods {
    name: &'static str,
    tag: &'static str,
    resource_type: i64,
    /// Fen.
    price: i64,
    physical: bool,
    img: &'static str,
    skus: &'static [&'static str],
}

const fn course(name: &'static str, tag: &'static str, resource_type: i64, price: i64, img: &'static str) -> XGoods {
    XGoods { name, tag, resource_type, price, physical: false, img, skus: &[] }
}

const fn goods(name: &'static str, price: i64, img: &'static str, skus: &'static [&'static str]) -> XGoods {
    XGoods { name, tag: "实物商品", resource_type: 21, price, physical: true, img, skus }
}

const XIAOE_GOODS: &[XGoods] = &[
    course("21天Python编程入门训练营", "训练营", 25, 19900, "python-camp"),
    course("零基础水彩画入门课（32节）", "视频", 3, 9900, "watercolor"),
    course("高效时间管理：从拖延到自律", "音频", 2, 2990, "time-management"),
    course("《小王子》逐章精读", "音频", 2, 1990, "little-prince"),
    course("职场Excel实战技巧100讲", "专栏", 6, 6900, "excel-100"),
    course("育儿心理学50讲", "专栏", 6, 9900, "parenting-50"),
    course("播音主持声音训练营", "训练营", 25, 29900, "voice-camp"),
    course("Lightroom摄影后期调色精讲", "视频", 3, 12800, "lightroom"),
    course("考研英语词汇精讲班", "视频", 3, 39900, "kaoyan-english"),
    course("30天瑜伽晨练计划", "视频", 3, 4900, "yoga-30"),
    course("HX付费图文关联作业", "图文", 1, 20, "hx-homework"),
    course("家庭理财入门：小白也能学会的记账法", "图文", 1, 990, "family-finance"),
    course("年度会员（全站课程畅学）", "会员", 5, 36500, "annual-member"),
    course("直播回放：短视频运营实战", "直播", 4, 1990, "short-video-live"),
    course("《认知觉醒》精读电子书", "电子书", 20, 3990, "ebook-awakening"),
    course("AI绘画入门：Midjourney实战", "视频", 3, 15900, "ai-painting"),
    goods("课程配套练习册（全3册）", 6800, "workbook", &["规格:全3册", "规格:单册-上", "规格:单册-下"]),
    goods("A5皮面定制笔记本", 5900, "notebook-a5", &["颜色:棕色;尺寸:A5", "颜色:黑色;尺寸:A5", "颜色:墨绿;尺寸:B5"]),
    goods("手冲咖啡入门套装", 25900, "pour-over-kit", &["颜色:白色", "颜色:黑色"]),
    goods("书法练字字帖套装", 3990, "calligraphy", &["字体:楷书", "字体:行书"]),
    goods("正念冥想坐垫", 12900, "meditation-cushion", &["颜色:燕麦色", "颜色:灰蓝色"]),
    goods("24色固体水彩颜料套装", 8900, "watercolor-set", &["规格:24色", "规格:36色"]),
    goods("加厚防滑瑜伽垫 6mm", 9900, "yoga-mat", &["颜色:香芋紫", "颜色:岩石灰"]),
    goods("儿童英语点读笔礼盒", 39900, "reading-pen", &["版本:标准版", "版本:升级版(32G)"]),
];
const XIAOE_COURSES: usize = 16;

const NICKS: &[&str] = &[
    "大肉丸",
    "小鹅同学",
    "Lily🌸",
    "阿杰",
    "晴天",
    "木子李",
    "一只鱼",
    "Kevin_W",
    "向日葵",
    "橙子味的夏天",
    "张老师",
    "momo",
    "陈小姐",
    "追光的人",
    "Yuki",
    "不吃香菜",
    "王大锤",
    "静待花开",
    "Tony",
    "小太阳☀",
    "林间有风",
    "三金",
    "Amy妈妈",
    "路人甲",
    "😊",
    "欧阳",
    "糖糖",
    "北方的狼",
    "苏苏",
    "学无止境",
];

const XIAOE_REFUND_STATES: &[u8] = &[0, 0, 1, 1, 2, 3, 4, 4, 9, 10, 11, 12, 13, 13, 13, 13, 13, 13];
const XIAOE_RETURN_STATES: &[u8] = &[0, 1, 2, 3, 5, 5, 6, 6, 7, 8, 8, 11, 12, 14, 14, 14, 14, 14];
const XIAOE_EXCHANGE_STATES: &[u8] = &[0, 1, 2, 6, 8, 15, 15, 15, 15, 16, 16, 17, 17, 18, 19, 19];

/// The order an after-sale belongs to: its own, or (for about one odd record in eight) the
/// previous record's, so some orders carry two after-sales.
fn x_owner(i: usize) -> usize {
    if i % 2 == 1 && Rng::new(stream::X_PAIR, (i / 2) as u64).pct(12) {
        i - 1
    } else {
        i
    }
}

#[derive(Clone, Copy, Debug)]
struct XLine {
    goods: usize,
    sku: usize,
    qty: i64,
}

#[derive(Clone, Copy, Debug)]
struct XOrder {
    placed: i64,
    first_aftersale: i64,
    lines: [Option<XLine>; 2],
    user: u64,
    usec: u32,
    suffix: u32,
    coupon: i64,
}

fn x_order(owner: usize) -> XOrder {
    let mut r = Rng::new(stream::X_ORDER, owner as u64);
    let first_aftersale = random_moment(&mut r, SPAN_DAYS);
    let placed = first_aftersale - r.between(600, 20 * DAY);
    let physical = r.pct(40);
    let line = |r: &mut Rng| {
        let goods = if physical {
            XIAOE_COURSES + r.below((XIAOE_GOODS.len() - XIAOE_COURSES) as u64) as usize
        } else {
            r.below(XIAOE_COURSES as u64) as usize
        };
        let g = &XIAOE_GOODS[goods];
        let sku = if g.skus.is_empty() { 0 } else { r.below(g.skus.len() as u64) as usize };
        let qty = if physical { r.pick(&[1, 1, 1, 2, 2, 3]) } else { 1 };
        XLine { goods, sku, qty }
    };
    let first = line(&mut r);
    let second = if physical && r.pct(15) { Some(line(&mut r)).filter(|l| l.goods != first.goods) } else { None };
    let user = r.below(180);
    let usec = r.below(1_000_000) as u32;
    let suffix = r.between(10_000_000, 99_999_999) as u32;
    let coupon = if r.pct(30) { r.pick(&[300, 500, 1000, 2000]) } else { 0 };
    XOrder { placed, first_aftersale, lines: [Some(first), second], user, usec, suffix, coupon }
}

/// What filtering and sorting need of a Xiaoe record: no strings.
#[derive(Clone, Copy, Debug)]
struct XSkel {
    index: usize,
    order: XOrder,
    kind: K,
    state: u8,
    created: i64,
    updated: i64,
    refunded: Option<i64>,
    usec: u32,
    suffix: u32,
}

fn x_skel(i: usize) -> XSkel {
    let owner = x_owner(i);
    let order = x_order(owner);
    let mut r = Rng::new(stream::X_RECORD, i as u64);
    let created = if owner == i { order.first_aftersale } else { later(&mut r, order.first_aftersale, HOUR, 5 * DAY) };
    let physical = order.lines[0].is_some_and(|l| XIAOE_GOODS[l.goods].physical);
    let kind = if !physical {
        K::Refund
    } else {
        match r.below(100) {
            0..=24 => K::Refund,
            25..=69 => K::Return,
            _ => K::Exchange,
        }
    };
    let state = r.pick(match kind {
        K::Refund => XIAOE_REFUND_STATES,
        K::Return => XIAOE_RETURN_STATES,
        K::Exchange => XIAOE_EXCHANGE_STATES,
    });
    let updated = match state {
        0 => later(&mut r, created, 0, 2 * HOUR),
        3 | 12 => later(&mut r, created, 2 * DAY, 9 * DAY),
        _ => later(&mut r, created, 10 * 60, 15 * DAY),
    };
    let refunded = matches!(state, 13 | 14).then_some(updated);
    let usec = r.below(1_000_000) as u32;
    let suffix = r.between(10_000_000, 99_999_999) as u32;
    XSkel { index: i, order, kind, state, created, updated, refunded, usec, suffix }
}

impl XSkel {
    fn aftersale_id(&self) -> String {
        let unix = self.created - CHINA;
        format!("A{unix}_{unix:08x}{:05x}_{:08}", self.usec, self.suffix)
    }

    fn order_id(&self) -> String {
        let unix = self.order.placed - CHINA;
        format!("o_{unix}_{unix:08x}{:05x}_{:08}", self.order.usec, self.order.suffix)
    }

    /// Sorts exactly as `aftersale_id` does as text (fixed widths: 10-digit unix, hex, 8 digits).
    fn id_key(&self) -> (i64, u32, u32) {
        (self.created, self.usec, self.suffix)
    }

    fn date(&self, field: XDateField) -> Option<i64> {
        match field {
            XDateField::Created => Some(self.created),
            XDateField::Updated => Some(self.updated),
            XDateField::Refunded => self.refunded,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum XDateField {
    Created,
    Updated,
    Refunded,
}

fn xiaoe_error(code: i64, msg: &str) -> Response {
    let mut out = String::new();
    let mut o = Obj::open(&mut out);
    o.n("code", code).s("msg", msg).null("data");
    o.close();
    ok(out)
}

/// The validated list query.
struct XQuery {
    from_day: i64,
    to_day_inclusive: i64,
    field: XDateField,
    page_index: u64,
    page_size: u64,
    order_id: Option<String>,
}

fn xiaoe_query(body: &Map<String, Value>) -> Result<XQuery, String> {
    let int = |name: &str| -> Result<Option<i64>, String> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => int_of(v).map(Some).ok_or_else(|| format!("参数错误: {name} 必须是整数")),
        }
    };
    let page_size = int("page_size")?.ok_or("参数错误: page_size 不能为空")?;
    if !(1..=100).contains(&page_size) {
        return Err(format!("参数错误: page_size 取值范围为 1-100, 收到 {page_size}"));
    }
    let page_index = int("page_index")?.ok_or("参数错误: page_index 不能为空")?;
    if page_index < 1 {
        return Err(format!("参数错误: page_index 必须大于等于 1, 收到 {page_index}"));
    }
    let range = match body.get("created_at") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim(),
        _ => return Err("参数错误: created_at 不能为空, 格式 YYYY-MM-DD||YYYY-MM-DD".into()),
    };
    let (a, b) = range
        .split_once("||")
        .ok_or_else(|| format!("参数错误: created_at 格式应为 YYYY-MM-DD||YYYY-MM-DD, 收到 {range:?}"))?;
    let (Some(from_day), Some(to_day)) = (parse_day(a), parse_day(b)) else {
        return Err(format!("参数错误: created_at 日期无效: {range:?}"));
    };
    if to_day < from_day {
        return Err(format!("参数错误: created_at 开始日期晚于结束日期: {range:?}"));
    }
    if to_day - from_day + 1 > 31 {
        return Err(format!("参数错误: created_at 时间跨度不能超过31天: {range:?}"));
    }
    let field = match body.get("date_type") {
        None | Some(Value::Null) => XDateField::Created,
        Some(Value::String(s)) => match s.as_str() {
            "" | "created_at" | "apply_time" => XDateField::Created,
            "updated_at" => XDateField::Updated,
            "refund_time" => XDateField::Refunded,
            other => return Err(format!("参数错误: date_type 取值无效: {other:?}")),
        },
        Some(other) => return Err(format!("参数错误: date_type 取值无效: {other}")),
    };
    let order_id = match body.get("order_id") {
        None | Some(Value::Null) => None,
        Some(v) => match text_of(v) {
            Some(s) if s.is_empty() => None,
            Some(s) => Some(s),
            None => return Err("参数错误: order_id 必须是字符串".into()),
        },
    };
    Ok(XQuery {
        from_day,
        to_day_inclusive: to_day,
        field,
        page_index: page_index as u64,
        page_size: page_size as u64,
        order_id,
    })
}

/// The matching records in the upstream's order: newest first by the queried date, ties by
/// `aftersale_id` ascending.
fn xiaoe_select(q: &XQuery) -> Vec<XSkel> {
    let mut hits: Vec<(i64, XSkel)> = (0..XIAOE_RECORDS)
        .map(x_skel)
        .filter_map(|s| {
            let t = s.date(q.field)?;
            let day = t.div_euclid(DAY);
            (q.from_day..=q.to_day_inclusive).contains(&day).then_some((t, s))
        })
        .filter(|(_, s)| q.order_id.as_ref().is_none_or(|o| *o == s.order_id()))
        .collect();
    hits.sort_by(|(ta, a), (tb, b)| tb.cmp(ta).then_with(|| a.id_key().cmp(&b.id_key())));
    hits.into_iter().map(|(_, s)| s).collect()
}

/// `POST /xe.ecommerce.after_sale.list/1.0.0`.
fn xiaoe_list(ctx: &Ctx<'_>) -> Response {
    if !ctx.is_post() {
        return xiaoe_error(2055, "请求方法错误, 请使用 POST");
    }
    let Some(body) = ctx.json_body() else {
        return xiaoe_error(2002, "参数错误: 请求体必须是 JSON 对象");
    };
    match body.get("access_token").and_then(text_of) {
        Some(t) if !t.trim().is_empty() => {}
        _ => return xiaoe_error(2007, "access_token 缺失"),
    }
    let q = match xiaoe_query(&body) {
        Ok(q) => q,
        Err(msg) => return xiaoe_error(2002, &msg),
    };
    let hits = xiaoe_select(&q);
    let start = (q.page_index - 1).saturating_mul(q.page_size);
    let page = hits.iter().skip(usize::try_from(start).unwrap_or(usize::MAX)).take(q.page_size as usize);
    let mut out = String::with_capacity(256 + 1600 * q.page_size.min(hits.len() as u64) as usize);
    let mut o = Obj::open(&mut out);
    o.n("code", 0).s("msg", "操作成功");
    let mut d = Obj::open(o.key("data"));
    push_array(d.key("list"), page, xiaoe_record);
    d.u("row_count", hits.len() as u64);
    d.close();
    o.close();
    ok(out)
}

fn xiaoe_state_str(state: u8) -> &'static str {
    match state {
        0 | 3 => "待商家处理",
        13..=15 => "售后成功",
        1 => "已撤销",
        4 | 5 | 7 | 18 => "售后关闭",
        _ => "售后中",
    }
}

fn xiaoe_state_reason(r: &mut Rng, state: u8) -> &'static str {
    match state {
        0 => "买家申请售后",
        1 => "买家撤销售后申请",
        2 => "商家已受理",
        3 => "商家逾期未处理",
        4 => r.pick(&["商家拒绝退款：课程已学习超过50%", "商家拒绝退款：已超过退款期限"]),
        5 => "商家拒绝退货退款：商品已影响二次销售",
        6 => "商家同意退货，等待买家寄回",
        7 => "买家逾期未寄回，售后关闭",
        8 => "买家已寄回，等待商家收货",
        11 => "商家同意退款，退款处理中",
        12 => "商家逾期未退款",
        13 => r.pick(&["商家同意退款", "商家主动发起售后", "系统自动退款"]),
        14 => "商家确认收货并退款",
        15 => "换货完成",
        16 => "商家已收到退货，待发出换货",
        17 => "换货已发出，待买家确认收货",
        18 => "商家拒绝换货：商品无质量问题",
        19 => "商家已收到退货",
        _ => "",
    }
}

fn x_user(user: u64) -> (String, String, String) {
    let mut r = Rng::new(stream::X_USER, user);
    let base = NICKS[(user % NICKS.len() as u64) as usize];
    let nick = if user < NICKS.len() as u64 { base.to_string() } else { format!("{base}{}", r.between(1, 9999)) };
    let mut user_id = String::from("u_");
    r.push_hex(&mut user_id, 13);
    user_id.push('_');
    r.push_from(&mut user_id, 10, ALNUM);
    let mut avatar = String::from("https://avatar.example.com/xiaoe/");
    r.push_hex(&mut avatar, 24);
    avatar.push_str(".png");
    (nick, user_id, avatar)
}

fn xiaoe_record(out: &mut String, s: &XSkel) {
    let mut r = Rng::new(stream::X_DETAIL, s.index as u64);
    let lines: Vec<XLine> = s.order.lines.iter().flatten().copied().collect();
    let first = &XIAOE_GOODS[lines[0].goods];
    let original: i64 = lines.iter().map(|l| XIAOE_GOODS[l.goods].price * l.qty).sum();
    let actual = (original - s.order.coupon).max(original.min(1));
    let requested = match s.kind {
        K::Exchange => 0,
        _ if r.pct(70) => actual,
        _ => actual * r.between(30, 90) / 100,
    };
    let refund = if matches!(s.state, 13 | 14) { requested } else { 0 };
    let (nick, user_id, avatar) = x_user(s.order.user);
    let sku_info = if first.skus.is_empty() { "--" } else { first.skus[lines[0].sku] };
    let sku_id = |l: &XLine| {
        if XIAOE_GOODS[l.goods].physical {
            format!("SKU_{:08x}{:02}", mix(l.goods as u64 + 1) as u32, l.sku)
        } else {
            String::new()
        }
    };
    let reason = match s.kind {
        K::Refund => r.pick(&[
            "",
            "不想学了",
            "拍错了/多拍了",
            "课程内容与描述不符",
            "重复购买",
            "七天无理由退款",
            "老师讲得太快跟不上",
        ]),
        K::Return => r.pick(&["", "七天无理由退货", "质量问题", "商品破损", "与描述不符", "发错货了"]),
        K::Exchange => r.pick(&["尺寸/规格不合适", "颜色不喜欢", "质量问题", "发错规格"]),
    };
    let remark = if r.pct(40) {
        r.pick(&["麻烦尽快处理，谢谢", "已经联系过客服", "包装还没拆", "请换成黑色", "课程只看了一节"])
    } else {
        ""
    };
    let merchant_remark = if r.pct(30) {
        r.pick(&["已电话沟通", "客服小美跟进", "退回运费由商家承担", "VIP客户优先处理"])
    } else {
        ""
    };
    let ship_state = if !first.physical {
        "无需发货"
    } else if s.kind == K::Refund {
        r.pick(&["待发货", "已发货", "已签收"])
    } else {
        "已签收"
    };
    let open = matches!(s.state, 0 | 2 | 3 | 6 | 8 | 11 | 12 | 16 | 17 | 19);

    let mut o = Obj::open(out);
    o.n("actual_fee", actual).s("aftersale_id", &s.aftersale_id()).n("apply_refund_money", requested);
    o.t("created_at", s.created);
    push_array(o.key("goods_list"), &lines, |out, l| {
        let g = &XIAOE_GOODS[l.goods];
        let mut go = Obj::open(out);
        go.n("buy_num", l.qty).s("goods_name", g.name).n("goods_price", g.price).s("goods_tag", g.tag);
        go.s("img_url", &format!("https://img.example.com/xiaoe/goods/{}.png", g.img));
        go.s("resource_id", &format!("{}_{:08x}", if g.physical { "p" } else { "i" }, mix(l.goods as u64) as u32));
        go.n("resource_type", g.resource_type).n("single_type", 0);
        if g.skus.is_empty() {
            go.null("sku_info");
        } else {
            go.s("sku_id", &sku_id(l)).s("sku_info", g.skus[l.sku]);
        }
        go.close();
    });
    o.s("goods_name", first.name).s("img_url", &format!("https://img.example.com/xiaoe/goods/{}.png", first.img));
    o.t("invalid_time", s.created + 7 * DAY).s("merchant_remark", merchant_remark).s("nick_name", &nick);
    o.s("order_id", &s.order_id()).n("original_price", original).s("reason", reason).n("refund_money", refund);
    if let Some(t) = s.refunded {
        o.t("refund_time", t);
    }
    o.s("remark", remark).s("resource_type_str", first.tag);
    // About one record in five says only the type's name, as seed 001's example does.
    let name_only = Rng::new(stream::X_DETAIL ^ 0xff, s.index as u64).pct(20);
    if !name_only {
        o.n("sale_type", s.kind.code());
    }
    let type_name = match s.kind {
        K::Refund => r.pick(&["仅退款", "仅退款", "退款"]),
        K::Return => "退货退款",
        K::Exchange => "换货",
    };
    o.s("sale_type_name", type_name).s("ship_state_str", ship_state).s("sku_id", &sku_id(&lines[0]));
    o.s("sku_info", sku_info).n("state", i64::from(s.state));
    if open {
        o.t("state_invalid_time", s.updated + if s.state == 3 || s.state == 12 { DAY } else { 2 * DAY });
    } else {
        o.s("state_invalid_time", "-0001-11-30 00:00:00");
    }
    o.s("state_reason", xiaoe_state_reason(&mut r, s.state)).s("state_str", xiaoe_state_str(s.state));
    o.t("updated_at", s.updated).n("use_collection", 0).s("user_id", &user_id).s("wx_avatar", &avatar);
    o.close();
}

// ---------------------------------------------------------------------------------------------
// Lingxing
// ---------------------------------------------------------------------------------------------

struct Market {
    country: &'static str,
    symbol: &'static str,
    sid: i64,
    domain: &'static str,
    prefixes: &'static [u32],
    decimals: &'static [u32],
    /// Price level against USD, in percent.
    rate: u64,
    carriers: &'static [&'static str],
}

const MARKETS: [Market; 4] = [
    Market {
        country: "8p-US 美国",
        symbol: "$",
        sid: 101,
        domain: "www.amazon.com",
        prefixes: &[111, 112, 113, 114],
        decimals: &[2, 3, 3, 4],
        rate: 100,
        carriers: &["USPS", "UPS", "FedEx"],
    },
    Market {
        country: "UK 英国",
        symbol: "£",
        sid: 102,
        domain: "www.amazon.co.uk",
        prefixes: &[202, 203, 204, 205, 206],
        decimals: &[2],
        rate: 80,
        carriers: &["Royal Mail", "Evri", "DPD"],
    },
    Market {
        country: "DE 德国",
        symbol: "€",
        sid: 103,
        domain: "www.amazon.de",
        prefixes: &[302, 303, 304, 305, 306],
        decimals: &[2, 6],
        rate: 92,
        carriers: &["DHL", "Hermes", "DPD"],
    },
    Market {
        country: "FR 法国",
        symbol: "€",
        sid: 104,
        domain: "www.amazon.fr",
        prefixes: &[402, 403, 404, 405, 407],
        decimals: &[2, 3],
        rate: 92,
        carriers: &["La Poste", "Colissimo", "Chronopost"],
    },
];
/// US half the records, UK and DE a fifth each, FR a tenth.
const MARKET_WEIGHTS: [usize; 10] = [0, 0, 0, 0, 0, 1, 1, 2, 2, 3];

struct AItem {
    name: &'static str,
    local_name: &'static str,
    local_sku: &'static str,
    msku: &'static str,
    /// US cents.
    price: u64,
}

const fn item(
    name: &'static str,
    local_name: &'static str,
    local_sku: &'static str,
    msku: &'static str,
    price: u64,
) -> AItem {
    AItem { name, local_name, local_sku, msku, price }
}

const AMAZON_ITEMS: &[AItem] = &[
    item("Love Pearl Bottom Hair Circle", "自动010", "auto010", "Pink_Head_Rope_12", 235),
    item(
        "Wireless Earbuds Bluetooth 5.3 Headphones with Charging Case, IPX7 Waterproof",
        "[演示数据]无线蓝牙耳机",
        "EAR-BT53-BK",
        "EAR-BT53-Black",
        2999,
    ),
    item(
        "Kids Headphones Over Ear with 85dB Volume Limit, Foldable",
        "[演示数据]Sony儿童耳机",
        "KH-085-BL",
        "MSKU52FB8CE",
        1999,
    ),
    item(
        "Stainless Steel Insulated Water Bottle 32oz, Leak Proof Lid",
        "保温水杯 1L",
        "WB-32-SS",
        "WB32-Steel-Blue",
        2499,
    ),
    item("Silicone Kitchen Utensil Set, 12 Pieces with Holder", "硅胶厨具12件套", "KU-12-GR", "KU12-Gray", 3299),
    item("LED Desk Lamp with USB Charging Port, 5 Color Modes", "LED护眼台灯", "DL-LED-05", "DeskLamp-5Mode-W", 3599),
    item("Yoga Mat Non Slip 6mm Thick with Carrying Strap", "加厚防滑瑜伽垫", "YM-6MM-PU", "YogaMat-6mm-Purple", 2299),
    item(
        "Clear Phone Case for iPhone 15 Pro, Shockproof Bumper",
        "iPhone15Pro透明手机壳",
        "PC-IP15P-CL",
        "Case-IP15Pro-Clear",
        999,
    ),
    item("Resistance Bands Set of 5 with Door Anchor and Handles", "弹力带5件套", "RB-5SET", "ResBand-5Set", 1599),
    item("Bamboo Cutting Board Set of 3 with Juice Groove", "竹制砧板三件套", "CB-BAM-3", "BambooBoard-3", 2799),
    item("Magnetic Car Phone Holder Mount for Dashboard", "磁吸车载支架", "CH-MAG-01", "CarMount-Mag-01", 1499),
    item(
        "Pet Grooming Brush, Self Cleaning Slicker for Dogs and Cats",
        "宠物除毛梳",
        "PB-SC-01",
        "PetBrush-SelfClean",
        1299,
    ),
    item("Portable Blender USB Rechargeable 380ml", "便携榨汁杯", "PBL-380-PK", "Blender380-Pink", 2599),
    item("Ceramic Coffee Mugs Set of 4, 12oz", "陶瓷马克杯4只装", "MUG-12-4", "Mug12oz-Set4", 2899),
    item(
        "Packing Cubes for Travel, 6 Set Luggage Organizers",
        "旅行收纳袋6件套",
        "PC-6SET-NV",
        "PackCube-6-Navy",
        1899,
    ),
    item("Electric Milk Frother Handheld with Stand", "电动打奶器", "MF-HH-01", "Frother-Stand-BK", 1099),
];

fn asin(item: usize) -> String {
    let mut r = Rng::new(stream::L_ASIN, item as u64);
    let mut s = String::from("B0");
    r.push_from(&mut s, 8, UPPER_ALNUM);
    s
}

/// Line types of a record: 1 refund (退款), 2 return (退货), 3 exchange (换货).
const PATTERNS: &[&[u8]] =
    &[&[1], &[1], &[1], &[1], &[1], &[1, 1], &[2, 1], &[2, 1], &[2, 1], &[2], &[2, 1, 1], &[3], &[3], &[3, 2], &[2]];

#[derive(Clone, Copy, Debug)]
struct LSkel {
    index: usize,
    market: usize,
    lines: &'static [u8],
    purchase: i64,
    deal: i64,
    modified: i64,
    after: [i64; 3],
    update: [i64; 3],
}

fn l_skel(i: usize) -> LSkel {
    let mut r = Rng::new(stream::L_RECORD, i as u64);
    let market = r.pick(&MARKET_WEIGHTS);
    let lines = r.pick(PATTERNS);
    let deal = random_moment(&mut r, SPAN_DAYS);
    let mut after = [deal; 3];
    let mut update = [deal; 3];
    for j in 0..lines.len() {
        if j > 0 {
            after[j] = later(&mut r, after[j - 1], 0, 2 * DAY);
        }
        update[j] = later(&mut r, after[j], HOUR, 10 * DAY);
    }
    let modified = update[..lines.len()].iter().copied().max().unwrap_or(deal);
    let purchase = deal - r.between(DAY / 2, 40 * DAY);
    LSkel { index: i, market, lines, purchase, deal, modified, after, update }
}

impl LSkel {
    fn amazon_order_id(&self) -> String {
        let mut r = Rng::new(stream::L_DETAIL ^ 0xa0, self.index as u64);
        let prefix = r.pick(MARKETS[self.market].prefixes);
        format!("{prefix:03}-{:07}-{:07}", r.below(10_000_000), r.below(10_000_000))
    }

    fn date(&self, date_type: i64) -> i64 {
        match date_type {
            2 => self.purchase,
            3 => self.modified,
            _ => self.deal,
        }
    }
}

fn lingxing_envelope(
    ctx: &Ctx<'_>,
    code: i64,
    message: &str,
    details: &[&str],
    records: &[LSkel],
    total: u64,
) -> Response {
    let mut r = Rng::new(stream::TOKEN ^ 0x1d, ctx.nonce());
    let mut out = String::with_capacity(512 + 2600 * records.len());
    let mut o = Obj::open(&mut out);
    o.n("code", code).s("message", message).strs("error_details", details);
    o.s("request_id", &uuid(&mut r, true)).t("response_time", china_local(ctx.now_ms));
    push_array(o.key("data"), records, lingxing_record);
    o.u("total", total);
    o.close();
    ok(out)
}

fn lingxing_error(ctx: &Ctx<'_>, code: i64, message: &str) -> Response {
    lingxing_envelope(ctx, code, message, &[message], &[], 0)
}

struct LQuery {
    start_day: i64,
    end_day: i64,
    date_type: i64,
    offset: u64,
    length: u64,
    after_types: Vec<u8>,
    sids: Vec<i64>,
    order_ids: Vec<String>,
}

fn lingxing_query(body: &Map<String, Value>) -> Result<LQuery, String> {
    let day = |name: &str| -> Result<i64, String> {
        match body.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => {
                parse_day(s).ok_or_else(|| format!("{name} 格式错误, 应为 Y-m-d: {s:?}"))
            }
            _ => Err(format!("{name} 不能为空")),
        }
    };
    let int = |name: &str, default: i64| -> Result<i64, String> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => int_of(v).ok_or_else(|| format!("{name} 必须是整数")),
        }
    };
    let start_day = day("start_date")?;
    let end_day = day("end_date")?;
    if end_day < start_day {
        return Err("end_date 不能早于 start_date".into());
    }
    let date_type = int("date_type", 1)?;
    if !(1..=3).contains(&date_type) {
        return Err(format!("date_type 取值无效: {date_type}"));
    }
    let offset = int("offset", 0)?;
    if offset < 0 {
        return Err(format!("offset 不能为负数: {offset}"));
    }
    let length = int("length", 1000)?;
    if !(1..=5000).contains(&length) {
        return Err(format!("length 取值范围为 1-5000, 收到 {length}"));
    }
    let list = |name: &str| -> Result<Vec<String>, String> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(v) => match text_of(v) {
                Some(s) => Ok(s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()),
                None => Err(format!("{name} 必须是以英文逗号分隔的字符串")),
            },
        }
    };
    let after_types = list("after_type")?
        .iter()
        .map(|t| match t.as_str() {
            "1" => Ok(1),
            "2" => Ok(2),
            "3" => Ok(3),
            other => Err(format!("after_type 取值无效: {other:?}")),
        })
        .collect::<Result<Vec<u8>, String>>()?;
    let sids = list("sid")?
        .iter()
        .map(|s| s.parse::<i64>().map_err(|_| format!("sid 取值无效: {s:?}")))
        .collect::<Result<Vec<i64>, String>>()?;
    let order_ids = match body.get("amazon_order_id_list") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            if items.len() > 50 {
                return Err(format!("amazon_order_id_list 上限50, 收到 {}", items.len()));
            }
            items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.trim().to_string()),
                    _ => Err("amazon_order_id_list 必须是字符串数组".to_string()),
                })
                .collect::<Result<Vec<String>, String>>()?
        }
        Some(_) => return Err("amazon_order_id_list 必须是数组".into()),
    };
    Ok(LQuery {
        start_day,
        end_day,
        date_type,
        offset: offset as u64,
        length: length as u64,
        after_types,
        sids,
        order_ids,
    })
}

/// The matching records, newest first by the queried date, ties in record order.
fn lingxing_select(q: &LQuery) -> Vec<LSkel> {
    let mut hits: Vec<(i64, LSkel)> = (0..LINGXING_RECORDS)
        .map(l_skel)
        .filter_map(|s| {
            let t = s.date(q.date_type);
            (q.start_day..q.end_day).contains(&t.div_euclid(DAY)).then_some((t, s))
        })
        .filter(|(_, s)| q.after_types.is_empty() || s.lines.iter().any(|t| q.after_types.contains(t)))
        .filter(|(_, s)| q.sids.is_empty() || q.sids.contains(&MARKETS[s.market].sid))
        .filter(|(_, s)| q.order_ids.is_empty() || q.order_ids.contains(&s.amazon_order_id()))
        .collect();
    hits.sort_by(|(ta, a), (tb, b)| tb.cmp(ta).then_with(|| a.index.cmp(&b.index)));
    hits.into_iter().map(|(_, s)| s).collect()
}

/// `POST /erp/sc/routing/amzod/order/afterSaleList?access_token&app_key&timestamp&sign`.
fn lingxing_list(ctx: &Ctx<'_>) -> Response {
    if !ctx.is_post() {
        let mut out = String::new();
        let mut o = Obj::open(&mut out);
        o.n("code", 405).s("message", "Request method 'GET' not supported");
        o.close();
        return Response { status: 405, body: out, retry_after_ms: None };
    }
    for name in ["access_token", "app_key", "timestamp", "sign"] {
        if ctx.param(name).is_none_or(|v| v.trim().is_empty()) {
            return lingxing_error(ctx, 3001001, &format!("缺少公共参数: {name}"));
        }
    }
    let app_key = ctx.param("app_key").unwrap_or("");
    let timestamp = ctx.param("timestamp").unwrap_or("");
    match timestamp.parse::<i64>() {
        Ok(ts) if (ts - (ctx.now_ms / 1000) as i64).abs() <= 120 => {}
        _ => return lingxing_error(ctx, 2001007, "签名已过期, timestamp 与服务器时间相差超过 120 秒"),
    }
    let body = if ctx.request.body.iter().all(u8::is_ascii_whitespace) { Some(Map::new()) } else { ctx.json_body() };
    let Some(body) = body else {
        return lingxing_error(ctx, 102, "请求体必须是 JSON 对象");
    };
    let mut signed = body.clone();
    for (k, v) in ctx.query.iter().filter(|(k, _)| k != "sign") {
        signed.insert(k.clone(), Value::String(v.clone()));
    }
    match aftersale::lingxing::sign(&signed, app_key) {
        Ok(expected) if expected == ctx.param("sign").unwrap_or("") => {}
        _ => return lingxing_error(ctx, 2001006, "签名错误"),
    }
    let q = match lingxing_query(&body) {
        Ok(q) => q,
        Err(msg) => return lingxing_error(ctx, 102, &msg),
    };
    let hits = lingxing_select(&q);
    let start = usize::try_from(q.offset).unwrap_or(usize::MAX).min(hits.len());
    let end = start.saturating_add(q.length as usize).min(hits.len());
    lingxing_envelope(ctx, 0, "success", &[], &hits[start..end], hits.len() as u64)
}

/// `units` of 10^-decimals as `-$4.700` (sign, symbol, digits).
fn push_amount(out: &mut String, negative: bool, symbol: &str, units: u64, decimals: u32) {
    if negative {
        out.push('-');
    }
    out.push_str(symbol);
    let scale = 10u64.pow(decimals);
    let _ = write!(out, "{}", units / scale);
    if decimals > 0 {
        let _ = write!(out, ".{:0width$}", units % scale, width = decimals as usize);
    }
}

fn amount(negative: bool, symbol: &str, units: u64, decimals: u32) -> String {
    let mut s = String::new();
    push_amount(&mut s, negative, symbol, units, decimals);
    s
}

/// One rendered after-sale line, before it is written.
struct LLine {
    kind: u8,
    item: usize,
    qty: u64,
    status: &'static str,
    refund: Vec<(&'static str, u64)>,
    cost: Vec<(&'static str, u64)>,
}

fn l_lines(s: &LSkel, decimals: u32) -> Vec<LLine> {
    let m = &MARKETS[s.market];
    let mut r = Rng::new(stream::L_DETAIL, s.index as u64);
    let main = r.below(AMAZON_ITEMS.len() as u64) as usize;
    let mut lines = Vec::with_capacity(s.lines.len());
    for (j, &kind) in s.lines.iter().enumerate() {
        let mut lr = Rng::new(stream::L_LINE, (s.index * 4 + j) as u64);
        // Two refund lines in a row are two products; a refund after a return is the same one.
        let item = if j > 0 && kind == 1 && s.lines[j - 1] == 1 {
            (main + 1 + lr.below(AMAZON_ITEMS.len() as u64 - 1) as usize) % AMAZON_ITEMS.len()
        } else {
            main
        };
        let qty = lr.pick(&[1, 1, 1, 1, 2, 3]);
        let (status, refunded) = match kind {
            1 if lr.pct(80) => (lr.pick(&["", "", "", "", "Refunded"]), true),
            1 => (lr.pick(&["", "Pending", "Cancelled", "Rejected"]), false),
            2 => {
                let st = lr.pick(&[
                    "Pending",
                    "Approved",
                    "Approved",
                    "In transit",
                    "Received",
                    "Unit returned to inventory",
                    "Completed",
                    "Completed",
                    "Closed",
                    "Rejected",
                    "Cancelled",
                ]);
                (st, st == "Completed" && lr.pct(50))
            }
            _ => (lr.pick(&["Pending", "Approved", "In transit", "Completed", "Closed"]), false),
        };
        let mut refund = Vec::new();
        let mut cost = Vec::new();
        if refunded {
            let scale = 10u64.pow(decimals - 2);
            let price = AMAZON_ITEMS[item].price * m.rate / 100;
            let mut principal = price * qty * scale;
            if decimals == 6 {
                principal -= lr.below(scale);
            }
            refund.push(("Principal", principal));
            if lr.pct(30) {
                refund.push(("ShippingCharge", lr.between(99, 599) as u64 * scale));
            }
            if lr.pct(10) {
                refund.push(("Goodwill", lr.between(100, 500) as u64 * scale));
            }
            let total: u64 = refund.iter().map(|(_, u)| u).sum();
            cost.push(("Commission", total * lr.between(8, 15) as u64 / 100));
            if lr.pct(40) {
                cost.push(("RefundCommission", lr.between(10, 120) as u64 * scale));
            }
        }
        lines.push(LLine { kind, item, qty, status, refund, cost });
    }
    lines
}

fn lingxing_record(out: &mut String, s: &LSkel) {
    let m = &MARKETS[s.market];
    let mut r = Rng::new(stream::L_DETAIL ^ 0x5c, s.index as u64);
    let decimals = r.pick(m.decimals);
    let lines = l_lines(s, decimals);
    let order_id = s.amazon_order_id();
    let main = &AMAZON_ITEMS[lines[0].item];
    let main_asin = asin(lines[0].item);
    let order_total: u64 = lines.iter().map(|l| AMAZON_ITEMS[l.item].price * m.rate / 100 * l.qty).sum();
    let refund_total: u64 = lines.iter().flat_map(|l| l.refund.iter().map(|(_, u)| *u)).sum();
    let cost_total: u64 = lines.iter().flat_map(|l| l.cost.iter().map(|(_, u)| *u)).sum();
    let mut tags: Vec<&str> = Vec::new();
    for l in &lines {
        let tag = after_type_name(l.kind);
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }

    let mut o = Obj::open(out);
    // `id` is documented as not unique: neighbouring records share one.
    o.n("id", 10 + s.index as i64 / 3).s("asin", &main_asin).s("msku", main.msku).s("amazon_order_id", &order_id);
    o.n("sid", m.sid).t("purchase_time", s.purchase).t("deal_time", s.deal).t("gmt_modified", s.modified);
    o.n("correlation_id", r.between(1, 9)).n("interval_days", (s.deal - s.purchase) / DAY);
    o.n("is_mcf_order", if r.pct(10) { 2 } else { 1 }).s("seller_country", m.country);
    o.s("delivery_type", if r.pct(70) { "FBA" } else { "FBM" });
    o.s("order_total_amount", &amount(false, m.symbol, order_total, 2)).s("order_total_amount_currency_code", m.symbol);
    o.s("order_total_amount_number", &amount(false, "", order_total, 2));
    if refund_total > 0 {
        o.s("total_refund_amount", &amount(true, m.symbol, refund_total, decimals));
        o.s("total_refund_amount_currency_code", m.symbol);
        o.s("total_refund_amount_number", &amount(true, "", refund_total, decimals));
        o.s("total_refund_cost", &amount(false, m.symbol, cost_total, decimals));
        o.s("total_refund_cost_currency_code", m.symbol);
        o.s("total_refund_cost_number", &amount(false, "", cost_total, decimals));
    } else {
        for k in [
            "total_refund_amount",
            "total_refund_amount_currency_code",
            "total_refund_amount_number",
            "total_refund_cost",
            "total_refund_cost_currency_code",
            "total_refund_cost_number",
        ] {
            o.s(k, "");
        }
    }
    o.strs("after_type_tag", &tags);
    let key = o.key("item_list");
    push_array(key, lines.iter().enumerate(), |out, (j, l)| lingxing_line(out, s, m, j, l, decimals));
    o.close();
}

fn after_type_name(kind: u8) -> &'static str {
    match kind {
        1 => "退款",
        2 => "退货",
        _ => "换货",
    }
}

fn lingxing_line(out: &mut String, s: &LSkel, m: &Market, j: usize, l: &LLine, decimals: u32) {
    let mut r = Rng::new(stream::L_LINE ^ 0x77, (s.index * 4 + j) as u64);
    let it = &AMAZON_ITEMS[l.item];
    let asin = asin(l.item);
    let refund_total: u64 = l.refund.iter().map(|(_, u)| u).sum();
    let cost_total: u64 = l.cost.iter().map(|(_, u)| u).sum();
    // Now and then the amount comes without its symbol, which is then in refund_currency_icon.
    let bare = refund_total > 0 && r.pct(10);
    let symbol = if bare { "" } else { m.symbol };
    let after_days = (s.after[j] - s.purchase) / DAY;
    let shipped_back = l.kind != 1 && !matches!(l.status, "Pending" | "Approved" | "Cancelled" | "Rejected");
    let received = matches!(l.status, "Received" | "Unit returned to inventory" | "Completed");

    let mut o = Obj::open(out);
    o.s("small_image_url", &format!("https://images.example.com/amazon/{asin}.jpg")).s("item_name", it.name);
    o.s("local_sku", it.local_sku).s("local_name", it.local_name).s("asin", &asin);
    o.s("asin_url", &format!("https://{}/dp/{asin}", m.domain)).s("msku", it.msku);
    if r.pct(30) {
        let mut fid = String::new();
        r.push_from(&mut fid, 13, UPPER_ALNUM);
        o.s("fid", &fid);
    }
    o.s("after_type", after_type_name(l.kind)).t("after_time", s.after[j]).t("data_update_time", s.update[j]);
    o.s("after_interval", &format!("{after_days}天"));
    if refund_total > 0 {
        o.s("refund_amount", &amount(true, symbol, refund_total, decimals));
        push_array(o.key("refund_amount_details"), &l.refund, |out, (t, u)| {
            let mut d = Obj::open(out);
            d.s("type", t).s("amount", &amount(true, m.symbol, *u, decimals));
            d.close();
        });
        o.s("refund_cost", &amount(false, symbol, cost_total, decimals));
        push_array(o.key("refund_cost_details"), &l.cost, |out, (t, u)| {
            let mut d = Obj::open(out);
            d.s("type", t).s("amount", &amount(false, m.symbol, *u, decimals));
            d.close();
        });
    } else {
        o.s("refund_amount", "").s("refund_cost", "");
    }
    o.s("refund_currency_icon", if bare || (refund_total > 0 && r.pct(50)) { m.symbol } else { "" });
    o.u("after_quantity", l.qty);
    let reason = match l.kind {
        1 => r.pick(&[
            "",
            "",
            "CR-UNWANTED_ITEM",
            "CR-MISSED_ESTIMATED_DELIVERY",
            "CR-DAMAGED_BY_CARRIER",
            "AMZ-PG-BAD-DESC",
        ]),
        _ => r.pick(&[
            "CR-ORDERED_WRONG_ITEM",
            "CR-DEFECTIVE",
            "CR-UNWANTED_ITEM",
            "CR-NOT_AS_DESCRIBED",
            "CR-SWITCHEROO",
            "CR-QUALITY_UNACCEPTABLE",
            "CR-FOUND_BETTER_PRICE",
            "CR-NO_REASON_GIVEN",
        ]),
    };
    o.s("after_reason", reason).s("return_status", l.status);
    o.s("inventory_attributes", if received { r.pick(&["SELLABLE", "DEFECTIVE", "CUSTOMER_DAMAGED"]) } else { "" });
    let mut lpn = String::new();
    if received {
        lpn.push_str("LPN");
        r.push_from(&mut lpn, 10, UPPER_ALNUM);
    }
    o.s("lpn_number", &lpn);
    let note = if r.pct(35) {
        r.pick(&[
            "Item arrived damaged, box was crushed.",
            "Wrong color sent.",
            "No longer needed.",
            "Stopped working after two days.",
            "自动化备注",
            "Size too small.",
            "Ordered by mistake.",
        ])
    } else {
        ""
    };
    o.s("buyers_note", note);
    let (mut rma, mut waybill) = (String::new(), String::new());
    let carrier = if shipped_back || (l.kind != 1 && l.status == "Approved") {
        r.push_from(&mut rma, 8, ALNUM);
        rma.push_str("RMA");
        if shipped_back {
            r.push_digits(&mut waybill, 22);
            r.pick(m.carriers)
        } else {
            ""
        }
    } else {
        ""
    };
    o.s("rma_order_number", &rma).s("carriers", carrier).s("waybill_number", &waybill);
    let exchange = if l.kind == 3 && matches!(l.status, "Approved" | "In transit" | "Completed") {
        let p = r.pick(m.prefixes);
        format!("{p:03}-{:07}-{:07}", r.below(10_000_000), r.below(10_000_000))
    } else {
        String::new()
    };
    o.s("exchange_order_number", &exchange);
    let mut hex = String::new();
    r.push_hex(&mut hex, 32);
    o.s("md5", &hex);
    hex.clear();
    r.push_hex(&mut hex, 32);
    o.s("md5_new", &hex);
    // The key: item_identifier, except on some lines that carry only md5_v2.
    let mut id = Rng::new(stream::L_LINE ^ 0x1d, (s.index * 4 + j) as u64);
    let mut identifier = String::new();
    id.push_hex(&mut identifier, 32);
    let mut md5_v2 = String::new();
    id.push_hex(&mut md5_v2, 24);
    match id.below(12) {
        0 | 1 => {}
        2 => {
            o.s("item_identifier", "");
        }
        _ => {
            o.s("item_identifier", &identifier);
        }
    }
    o.s("md5_v2", &md5_v2);
    o.n("orderDateYear", i64::from(Date::from_days_since_epoch(s.purchase.div_euclid(DAY)).year));
    o.u("row_index", j as u64 + 1);
    o.close();
}

// ---------------------------------------------------------------------------------------------
// WeChat
// ---------------------------------------------------------------------------------------------

struct WGoods {
    title: &'static str,
    price: i64,
    attrs: &'static [(&'static str, &'static str)],
}

const WECHAT_GOODS: &[WGoods] = &[
    WGoods {
        title: "智能健身环 体感运动游戏", price: 29900, attrs: &[("颜色", "雾霾蓝"), ("颜色", "樱花粉")]
    },
    WGoods {
        title: "主动降噪无线蓝牙耳机", price: 49900, attrs: &[("颜色", "曜石黑"), ("颜色", "珍珠白")]
    },
    WGoods {
        title: "316不锈钢保温杯 500ml", price: 12900, attrs: &[("颜色", "奶白"), ("颜色", "深空灰")]
    },
    WGoods {
        title: "空气炸锅 家用4.5L大容量",
        price: 39900,
        attrs: &[("规格", "4.5L 触屏款"), ("规格", "4.5L 旋钮款")],
    },
    WGoods { title: "新疆长绒棉四件套", price: 45900, attrs: &[("尺寸", "1.5m床"), ("尺寸", "1.8m床")] },
    WGoods {
        title: "儿童绘本套装（全10册）", price: 9900, attrs: &[("版本", "平装"), ("版本", "精装")]
    },
    WGoods {
        title: "运动速干T恤 男款", price: 7900, attrs: &[("尺码", "M"), ("尺码", "L"), ("尺码", "XL")]
    },
    WGoods { title: "护手霜礼盒 5支装", price: 8800, attrs: &[("香型", "混合香型")] },
    WGoods { title: "声波电动牙刷", price: 19900, attrs: &[("颜色", "白色"), ("颜色", "黑色")] },
    WGoods {
        title: "手冲咖啡壶套装 600ml", price: 16800, attrs: &[("颜色", "银色"), ("颜色", "哑光黑")]
    },
    WGoods { title: "五常有机大米 5kg", price: 8990, attrs: &[("规格", "5kg")] },
    WGoods { title: "磁吸车载手机支架", price: 5900, attrs: &[("颜色", "黑色")] },
];

const ADDRESSES: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("广东省", "广州市", "海珠区", "新港中路397号", "440105", "510220"),
    ("浙江省", "杭州市", "西湖区", "文三路478号华星时代广场", "330106", "310012"),
    ("上海市", "上海市", "浦东新区", "张杨路500号", "310115", "200120"),
    ("北京市", "北京市", "朝阳区", "建国路88号SOHO现代城", "110105", "100022"),
    ("四川省", "成都市", "武侯区", "天府大道北段1700号", "510107", "610041"),
    ("江苏省", "南京市", "鼓楼区", "中山北路30号", "320106", "210008"),
    ("湖北省", "武汉市", "洪山区", "珞喻路1037号", "420111", "430074"),
];

const SURNAMES: &[&str] = &["陈", "李", "王", "张", "刘", "杨", "黄", "赵", "周", "吴"];

/// After-sales per order, by `k % 10` (12 per ten orders).
const W_AFTERSALES: [usize; 10] = [1, 2, 0, 1, 3, 1, 0, 2, 1, 1];
const W_AFTERSALES_BEFORE: [usize; 10] = [0, 1, 3, 3, 4, 7, 8, 8, 10, 11];
/// Statuses of the orders with no after-sale (`k % 10` is 2 or 6): every pre-sale status.
const W_PLAIN_STATUS: [i64; 8] = [10, 250, 15, 16, 17, 20, 30, 100];

fn w_order_id(k: usize) -> u64 {
    let mut r = Rng::new(stream::W_ID, k as u64);
    let digits = [16u32, 17, 18, 19][k % 4];
    let low = 10u64.pow(digits - 1);
    // 19-digit ids stay below i64::MAX, as WeChat's do.
    let span = if digits == 19 { 8 * low } else { 9 * low };
    low + r.below(span)
}

fn w_buyer(k: usize) -> u64 {
    (k % 29) as u64
}

fn w_openid(buyer: u64) -> String {
    let mut r = Rng::new(stream::W_BUYER, buyer);
    let mut s = String::from("oTVP5");
    r.push_from(&mut s, 23, OPENID_CHARS);
    s
}

fn w_created(k: usize) -> i64 {
    random_moment(&mut Rng::new(stream::W_ORDER, k as u64), SPAN_DAYS - 25)
}

fn w_out_order_id(k: usize) -> String {
    let t = w_created(k);
    let d = Date::from_days_since_epoch(t.div_euclid(DAY));
    let s = t.rem_euclid(DAY);
    format!(
        "SO{:04}{:02}{:02}{:02}{:02}{:02}{:04}",
        d.year,
        d.month,
        d.day,
        s / HOUR,
        s % HOUR / 60,
        s % 60,
        1000 + k * 7
    )
}

fn w_product_ids(goods: usize, attr: usize) -> (u64, u64) {
    let mut r = Rng::new(stream::W_PRODUCT, goods as u64);
    let product = 10_000_000_000 + r.below(9_000_000_000);
    (product, product % 100_000_000 * 100 + attr as u64 + 1)
}

struct WLine {
    goods: usize,
    attr: usize,
    qty: i64,
}

struct WAfter {
    id: u64,
    out_id: Option<String>,
    kind: K,
    status: u8,
    line: usize,
    qty: i64,
    requested: i64,
    refund: i64,
    reason: &'static str,
    created: i64,
    updated: i64,
}

impl WAfter {
    fn open(&self) -> bool {
        matches!(self.status, 0 | 2 | 3 | 6 | 8 | 9 | 10 | 11 | 12 | 16 | 17 | 19)
    }
    fn finished(&self) -> bool {
        matches!(self.status, 13..=15)
    }
}

struct WOrder {
    k: usize,
    order_id: u64,
    out_order_id: String,
    buyer: u64,
    openid: String,
    status: i64,
    created: i64,
    paid: Option<i64>,
    shipped: Option<i64>,
    done: Option<i64>,
    updated: i64,
    lines: Vec<WLine>,
    freight: i64,
    discount: i64,
    aftersales: Vec<WAfter>,
}

fn w_order(k: usize) -> WOrder {
    let mut r = Rng::new(stream::W_ORDER ^ 0x3f, k as u64);
    let created = w_created(k);
    let n_lines = if r.pct(30) { 2 } else { 1 };
    let mut lines: Vec<WLine> = Vec::with_capacity(n_lines);
    while lines.len() < n_lines {
        let goods = r.below(WECHAT_GOODS.len() as u64) as usize;
        if lines.iter().any(|l| l.goods == goods) {
            continue;
        }
        let attr = r.below(WECHAT_GOODS[goods].attrs.len() as u64) as usize;
        lines.push(WLine { goods, attr, qty: r.pick(&[1, 1, 1, 2, 3]) });
    }
    let n_after = W_AFTERSALES[k % 10];
    // Enough units for every after-sale, so no line has more units in after-sales than bought.
    for l in &mut lines {
        l.qty = l.qty.max(n_after as i64);
    }
    // Statuses of the after-sales: the g-th after-sale of the data set has code 7g mod 20, so the
    // first twenty cover every code 0–19.
    let first_global = 12 * (k / 10) + W_AFTERSALES_BEFORE[k % 10];
    let codes: Vec<u8> = (0..n_after).map(|j| ((first_global + j) * 7 % 20) as u8).collect();
    let kinds: Vec<K> = codes
        .iter()
        .map(|&c| match c {
            15..=19 => K::Exchange,
            5..=8 | 14 => K::Return,
            _ if r.pct(30) => K::Return,
            _ => K::Refund,
        })
        .collect();
    let status = if n_after == 0 {
        W_PLAIN_STATUS[(k / 10) * 2 + usize::from(k % 10 == 6)]
    } else if kinds.iter().any(|&k| k != K::Refund) {
        [30, 100, 21][k % 3]
    } else {
        [20, 21, 100, 200, 30][k % 5]
    };
    let paid = (status != 10 && status != 250).then(|| created + r.between(15, 900));
    let shipped = matches!(status, 21 | 30 | 100).then(|| paid.unwrap_or(created) + r.between(2 * HOUR, 3 * DAY));
    let done = (status == 100).then(|| shipped.unwrap_or(created) + r.between(DAY, 4 * DAY));
    let product_price: i64 = lines.iter().map(|l| WECHAT_GOODS[l.goods].price * l.qty).sum();
    let freight = if product_price < 9900 { 800 } else { 0 };
    let discount = if r.pct(35) { r.pick(&[500, 1000, 2000, 3000]).min(product_price / 2) } else { 0 };

    let mut aftersales = Vec::with_capacity(n_after);
    let mut t = done.or(shipped).or(paid).unwrap_or(created);
    for (j, (&code, &kind)) in codes.iter().zip(&kinds).enumerate() {
        let mut ar = Rng::new(stream::W_AFTERSALE, (k * 4 + j) as u64);
        let line = ar.below(lines.len() as u64) as usize;
        let qty = if n_after > 1 { 1 } else { ar.between(1, lines[line].qty) };
        let requested = if kind == K::Exchange { 0 } else { WECHAT_GOODS[lines[line].goods].price * qty };
        let refund = if matches!(code, 11..=14) { requested } else { 0 };
        let created = later(&mut ar, t, 30 * 60, 3 * DAY);
        let updated = if code == 0 { created } else { later(&mut ar, created, 10 * 60, 6 * DAY) };
        t = created;
        let id = 1_000_000_000_000_000 + ar.below(9_000_000_000_000_000);
        let out_id = ar.pct(75).then(|| format!("AS{}{:02}", &w_out_order_id(k)[2..], j + 1));
        let reason = match kind {
            K::Refund => ar.pick(&["不想要了", "拍错了/多拍了", "未按约定时间发货", "协商一致退款", "其他"]),
            K::Return => ar.pick(&["七天无理由退货", "质量问题", "商品破损/少件", "与商品描述不符"]),
            K::Exchange => ar.pick(&["尺码不合适", "颜色/款式不喜欢", "商品有瑕疵"]),
        };
        aftersales.push(WAfter {
            id,
            out_id,
            kind,
            status: code,
            line,
            qty,
            requested,
            refund,
            reason,
            created,
            updated,
        });
    }
    let updated = aftersales
        .iter()
        .map(|a| a.updated)
        .chain([created, paid.unwrap_or(0), shipped.unwrap_or(0), done.unwrap_or(0)])
        .max()
        .unwrap_or(created);
    let buyer = w_buyer(k);
    WOrder {
        k,
        order_id: w_order_id(k),
        out_order_id: w_out_order_id(k),
        buyer,
        openid: w_openid(buyer),
        status,
        created,
        paid,
        shipped,
        done,
        updated,
        lines,
        freight,
        discount,
        aftersales,
    }
}

/// The WeChat data endpoints' common checks: POST, a token, a JSON object body.
fn wechat_data_request(ctx: &Ctx<'_>) -> Result<Map<String, Value>, Response> {
    if !ctx.is_post() {
        return Err(wechat_error(43002, "require POST method"));
    }
    if ctx.param("access_token").is_none_or(|t| t.trim().is_empty()) {
        return Err(wechat_error(41001, "access_token missing"));
    }
    ctx.json_body().ok_or_else(|| wechat_error(47001, "data format error"))
}

/// An order id from the body: a JSON number (as WeChat sends them) or a string of digits.
fn order_id_of(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn invalid_order() -> Response {
    wechat_error(9401020, "invalid parameter: order not found for this openid")
}

/// `POST /shop/aftersale/get?access_token=T` `{order_id | out_order_id, openid}` (seed 000).
fn wechat_shop(ctx: &Ctx<'_>) -> Response {
    let body = match wechat_data_request(ctx) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let openid = body.get("openid").and_then(Value::as_str).unwrap_or("");
    if openid.is_empty() {
        return wechat_error(9401020, "invalid parameter: openid missing");
    }
    let k = if let Some(id) = order_id_of(body.get("order_id")) {
        (0..WECHAT_ORDERS).find(|&k| w_order_id(k) == id)
    } else if let Some(out) = body.get("out_order_id").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        (0..WECHAT_ORDERS).find(|&k| w_out_order_id(k) == out)
    } else {
        return wechat_error(9401020, "invalid parameter: order_id or out_order_id required");
    };
    let Some(k) = k.filter(|&k| w_openid(w_buyer(k)) == openid) else {
        return invalid_order();
    };
    let order = w_order(k);
    let mut out = String::with_capacity(512 + 700 * order.aftersales.len());
    let mut o = Obj::open(&mut out);
    o.n("errcode", 0).s("errmsg", "ok");
    push_array(o.key("aftersale_infos"), &order.aftersales, |out, a| {
        let line = &order.lines[a.line];
        let (product_id, sku_id) = w_product_ids(line.goods, line.attr);
        let mut ao = Obj::open(out);
        ao.s("aftersale_id", &a.id.to_string());
        if let Some(out_id) = &a.out_id {
            ao.s("out_aftersale_id", out_id);
        }
        ao.u("order_id", order.order_id).s("out_order_id", &order.out_order_id).s("openid", &order.openid);
        ao.n("type", a.kind.code()).t("create_time", a.created).t("update_time", a.updated);
        ao.s("path", &format!("/pages/aftersale/detail?aftersale_id={}", a.id)).n("status", i64::from(a.status));
        ao.n("refund", a.refund).n("orderamt", a.requested).s("refund_reason", a.reason);
        if a.kind != K::Refund {
            let addr = ADDRESSES[order.k % ADDRESSES.len()];
            ao.s("refund_address", &format!("{}{}{}{}", addr.0, addr.1, addr.2, addr.3));
        }
        push_array(ao.key("product_infos"), [()], |out, ()| {
            let mut p = Obj::open(out);
            p.s("out_product_id", &product_id.to_string()).s("out_sku_id", &sku_id.to_string()).n("product_cnt", a.qty);
            p.close();
        });
        ao.close();
    });
    o.close();
    ok(out)
}

/// `POST /product/order/get?access_token=T` `{order_id}` (seed 002).
fn wechat_store(ctx: &Ctx<'_>) -> Response {
    let body = match wechat_data_request(ctx) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let Some(id) = order_id_of(body.get("order_id")) else {
        return wechat_error(9401020, "invalid parameter: order_id required");
    };
    let Some(k) = (0..WECHAT_ORDERS).find(|&k| w_order_id(k) == id) else {
        return wechat_error(9401020, "invalid parameter: order not found");
    };
    let order = w_order(k);
    let mut out = String::with_capacity(4096);
    let mut o = Obj::open(&mut out);
    o.n("errcode", 0).s("errmsg", "ok");
    let mut ord = Obj::open(o.key("order"));
    write_store_order(&mut ord, &order);
    ord.close();
    o.close();
    ok(out)
}

fn write_store_order(o: &mut Obj<'_>, order: &WOrder) {
    let mut r = Rng::new(stream::W_ORDER ^ 0x51, order.k as u64);
    o.u("order_id", order.order_id).s("out_order_id", &order.out_order_id).n("status", order.status);
    o.t("create_time", order.created).t("update_time", order.updated);
    let product_price: i64 = order.lines.iter().map(|l| WECHAT_GOODS[l.goods].price * l.qty).sum();
    let mut detail = Obj::open(o.key("order_detail"));
    push_array(detail.key("product_infos"), order.lines.iter().enumerate(), |out, (i, l)| {
        let g = &WECHAT_GOODS[l.goods];
        let (product_id, sku_id) = w_product_ids(l.goods, l.attr);
        let on: i64 = order.aftersales.iter().filter(|a| a.line == i && a.open()).map(|a| a.qty).sum();
        let finished: i64 = order.aftersales.iter().filter(|a| a.line == i && a.finished()).map(|a| a.qty).sum();
        let mut p = Obj::open(out);
        p.u("product_id", product_id).u("sku_id", sku_id).n("sku_cnt", l.qty);
        p.n("on_aftersale_sku_cnt", on.min(l.qty)).n("finish_aftersale_sku_cnt", finished.min(l.qty));
        p.s("title", g.title).s("thumb_img", &format!("https://img.example.com/wxstore/{product_id}.jpg"));
        let (key, value) = g.attrs[l.attr];
        push_array(p.key("sku_attrs"), [()], |out, ()| {
            let mut a = Obj::open(out);
            a.s("attr_key", key).s("attr_value", value);
            a.close();
        });
        p.n("sale_price", g.price);
        p.close();
    });
    if let Some(paid) = order.paid {
        let mut pay = Obj::open(detail.key("pay_info"));
        let mut prepay = String::from("wx");
        push_time_compact(&mut prepay, paid);
        r.push_hex(&mut prepay, 20);
        let mut transaction = String::from("4200002");
        r.push_digits(&mut transaction, 21);
        pay.s("pay_method", "微信支付").s("prepay_id", &prepay).s("transaction_id", &transaction);
        pay.t("prepay_time", paid - r.between(5, 60)).t("pay_time", paid);
        pay.close();
    }
    let mut price = Obj::open(detail.key("price_info"));
    price.n("product_price", product_price).n("order_price", product_price + order.freight - order.discount);
    price.n("freight", order.freight).n("discounted_price", order.discount).b("is_discounted", order.discount > 0);
    price.close();
    let mut delivery = Obj::open(detail.key("delivery_info"));
    delivery.s("delivery_method", "express");
    match order.shipped {
        Some(t) => {
            delivery.t("delivery_time", t);
            let carrier = r.pick(&["SF", "YTO", "ZTO", "STO", "YD", "JD"]);
            let mut waybill = String::from(carrier);
            r.push_digits(&mut waybill, 13);
            let mut dp = Obj::open(delivery.key("delivery_product_info"));
            dp.s("waybill_id", &waybill).s("delivery_id", carrier);
            push_array(dp.key("product_infos"), &order.lines, |out, l| {
                let (product_id, sku_id) = w_product_ids(l.goods, l.attr);
                let mut p = Obj::open(out);
                p.u("product_id", product_id).u("sku_id", sku_id).n("product_cnt", l.qty);
                p.close();
            });
            dp.close();
        }
        None => {
            delivery.s("delivery_time", "");
        }
    }
    let addr = ADDRESSES[order.k % ADDRESSES.len()];
    let mut phone = String::from("1");
    phone.push(r.pick(&['3', '5', '7', '8', '9']));
    r.push_digits(&mut phone, 9);
    let name = format!(
        "{}{}",
        SURNAMES[(order.buyer % SURNAMES.len() as u64) as usize],
        r.pick(&["先生", "女士", "小姐", "同学"])
    );
    let mut a = Obj::open(delivery.key("address_info"));
    a.s("user_name", &name).s("postal_code", addr.5).s("province_name", addr.0).s("city_name", addr.1);
    a.s("county_name", addr.2).s("detail_info", addr.3).s("national_code", addr.4).s("tel_number", &phone);
    a.close();
    push_array(delivery.key("express_fee"), [()], |out, ()| {
        let mut e = Obj::open(out);
        e.s("shipping_method", "ShippingMethod_Express").n("distance", 0);
        e.close();
    });
    delivery.n("offline_delivery_time", 0).n("offline_pickup_time", 0);
    if let Some(done) = order.done {
        delivery.s("ship_done_time", &(done - CHINA).to_string());
    }
    delivery.close();
    detail.close();
    let mut asd = Obj::open(o.key("aftersale_detail"));
    push_array(asd.key("aftersale_order_list"), &order.aftersales, |out, a| {
        let mut x = Obj::open(out);
        x.u("aftersale_order_id", a.id);
        x.close();
    });
    asd.u("on_aftersale_order_cnt", order.aftersales.iter().filter(|a| a.open()).count() as u64);
    asd.close();
    o.s("openid", &order.openid);
    let mut ext = Obj::open(o.key("ext_info"));
    let customer = if r.pct(40) {
        r.pick(&["请尽快发货", "放门口即可", "工作日送货", "礼物，请不要放发票"])
    } else {
        ""
    };
    let merchant = match order.status {
        200 | 250 => r.pick(&["库存不足，取消", "买家申请取消"]),
        _ if r.pct(25) => r.pick(&["已备注加急", "赠品已放入"]),
        _ => "",
    };
    ext.s("customer_notes", customer).s("merchant_notes", merchant);
    ext.close();
}

fn push_time_compact(out: &mut String, t: i64) {
    let d = Date::from_days_since_epoch(t.div_euclid(DAY));
    let s = t.rem_euclid(DAY);
    let _ = write!(out, "{:04}{:02}{:02}{:02}{:02}{:02}", d.year, d.month, d.day, s / HOUR, s % HOUR / 60, s % 60);
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use aftersale::call::CallSpec;
    use aftersale::error::UpstreamError;
    use aftersale::lingxing::request::{signed_post, LingxingAfterSaleList, LIST_PATH};
    use aftersale::model::{OrderStatus, StatusRaw};
    use aftersale::paginate::Pager;
    use aftersale::query::{DateField, ListQuery};
    use aftersale::token::{parse_grant, TokenManager, TokenPoll};
    use aftersale::wechat::request::{OrderRef, WechatShopAfterSales, WechatStoreOrderGet};
    use aftersale::xiaoe::request::XiaoeAfterSaleList;
    use aftersale::{normalize_order, normalize_page, Error, NormalizeOptions, Platform, Status};

    use super::*;

    /// 2025-10-09T08:53:20Z.
    const NOW: u64 = 1_760_000_000_000;
    const TOKEN: &str = "sandbox-test-token";
    const RAW: NormalizeOptions = NormalizeOptions { include_raw: true, now_unix_s: None };

    fn date(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    fn from() -> Date {
        date(SANDBOX_FROM)
    }

    fn to() -> Date {
        date(SANDBOX_TO)
    }

    fn json(r: &Response) -> Value {
        serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.body))
    }

    fn day_of(t: i64) -> Date {
        Date::from_days_since_epoch(t.div_euclid(DAY))
    }

    fn upstream_code(e: Error) -> String {
        match e {
            Error::Upstream(UpstreamError { code, .. }) => code,
            other => panic!("expected an upstream error, got {other:?}"),
        }
    }

    fn xiaoe_req(from: Date, to: Date, date_field: DateField, page_index: u64, page_size: u32) -> Request {
        XiaoeAfterSaleList { from, to, date_field, page_index, page_size, order_id: None }
            .to_request(SANDBOX_BASE_URL, TOKEN)
    }

    fn xiaoe_raw(body: Value) -> Response {
        let req = Request {
            method: Method::Post,
            url: format!("{SANDBOX_BASE_URL}/xe.ecommerce.after_sale.list/1.0.0"),
            headers: vec![("content-type", "application/json".into())],
            body: serde_json::to_vec(&body).unwrap(),
        };
        answer(&req, NOW)
    }

    fn lingxing_req(from: Date, to: Date, date_field: DateField, offset: u64, length: u32) -> Request {
        LingxingAfterSaleList { from, to, date_field, offset, length, kind: None, amazon_order_id: None }
            .to_request(SANDBOX_BASE_URL, SANDBOX_LINGXING_APP_ID, TOKEN, NOW / 1000)
            .unwrap()
    }

    fn lingxing_body(body: Value, now_s: u64) -> Request {
        let Value::Object(map) = body else { panic!("object expected") };
        signed_post(SANDBOX_BASE_URL, LIST_PATH, map, SANDBOX_LINGXING_APP_ID, TOKEN, now_s).unwrap()
    }

    /// Every 31-day window of `[from, to)` as the core sends it (newest first).
    fn xiaoe_windows() -> Vec<(Date, Date)> {
        let mut out = Vec::new();
        let mut end = to();
        while end > from() {
            let start = end.add_days(-31).max(from());
            out.push((start, end));
            end = start;
        }
        out
    }

    /// Walks every page of one Xiaoe window; checks each page normalizes (plain and raw) and
    /// returns the ids and raw records in order.
    fn walk_xiaoe(from: Date, to: Date, field: DateField, page_size: u32) -> Vec<Value> {
        let mut all = Vec::new();
        let mut total = None;
        for page_index in 1.. {
            let resp = answer(&xiaoe_req(from, to, field, page_index, page_size), NOW);
            let page = normalize_page(Platform::Xiaoe, &resp.body, NormalizeOptions::default())
                .unwrap_or_else(|e| panic!("page {page_index} of {from}..{to}: {e}"));
            normalize_page(Platform::Xiaoe, &resp.body, RAW).unwrap();
            let v = json(&resp);
            let list = v["data"]["list"].as_array().unwrap().clone();
            assert_eq!(page.records.len(), list.len());
            let row_count = v["data"]["row_count"].as_u64().unwrap();
            assert_eq!(*total.get_or_insert(row_count), row_count, "row_count changed between pages");
            assert_eq!(page.total, Some(row_count));
            if list.is_empty() {
                break;
            }
            assert!(list.len() <= page_size as usize);
            all.extend(list);
        }
        assert_eq!(all.len() as u64, total.unwrap());
        all
    }

    fn xiaoe_field(field: DateField) -> XDateField {
        match field {
            DateField::Created => XDateField::Created,
            DateField::Updated => XDateField::Updated,
            DateField::Refunded => XDateField::Refunded,
        }
    }

    #[test]
    fn determinism_same_request_same_bytes() {
        let orders = sandbox_orders();
        let (order_id, _, openid) = &orders[0];
        let requests = vec![
            xiaoe_req(date("2025-07-01"), date("2025-08-01"), DateField::Created, 2, 50),
            lingxing_req(from(), to(), DateField::Updated, 20, 40),
            WechatShopAfterSales { order: OrderRef::OrderId(order_id.clone()), openid: openid.clone() }
                .to_request(SANDBOX_BASE_URL, TOKEN),
            WechatStoreOrderGet { order_id: order_id.clone() }.to_request(SANDBOX_BASE_URL, TOKEN),
        ];
        for req in &requests {
            let a = answer(req, NOW);
            let b = answer(req, NOW);
            assert_eq!(a, b, "{req:?}");
            assert_eq!(a.status, 200);
        }
        // The data does not depend on the clock; only request_id and response_time do.
        let a = json(&answer(&requests[0], NOW));
        let b = json(&answer(&requests[0], NOW + 3_600_000));
        assert_eq!(a, b);
    }

    #[test]
    fn xiaoe_every_record_once_per_date_field() {
        for field in [DateField::Created, DateField::Updated, DateField::Refunded] {
            let mut seen = BTreeMap::new();
            for (wfrom, wto) in xiaoe_windows() {
                let records = walk_xiaoe(wfrom, wto, field, 37);
                let key = match field {
                    DateField::Created => "created_at",
                    DateField::Updated => "updated_at",
                    DateField::Refunded => "refund_time",
                };
                let mut prev: Option<(String, String)> = None;
                for r in &records {
                    let t = r[key].as_str().unwrap().to_string();
                    let id = r["aftersale_id"].as_str().unwrap().to_string();
                    let day = date(&t[..10]);
                    assert!(wfrom <= day && day < wto, "{t} outside [{wfrom}, {wto})");
                    if let Some((pt, pid)) = &prev {
                        assert!(pt > &t || (pt == &t && pid < &id), "not newest first: {pt} {pid} then {t} {id}");
                    }
                    assert!(seen.insert(id.clone(), ()).is_none(), "{id} twice");
                    prev = Some((t, id));
                }
            }
            let expected = (0..XIAOE_RECORDS).filter(|&i| x_skel(i).date(xiaoe_field(field)).is_some()).count();
            assert_eq!(seen.len(), expected, "{field:?}");
            if field != DateField::Refunded {
                assert_eq!(seen.len(), XIAOE_RECORDS);
            } else {
                assert!(expected > 100, "refunded records: {expected}");
            }
        }
    }

    #[test]
    fn xiaoe_range_is_inclusive_both_ends() {
        let s = x_skel(17);
        let day = day_of(s.created);
        let id = s.aftersale_id();
        let ids = |range: String| -> Vec<String> {
            let v = json(&xiaoe_raw(serde_json::json!({
                "access_token": TOKEN, "page_size": 100, "page_index": 1, "created_at": range, "date_type": "created_at"
            })));
            assert_eq!(v["code"], 0, "{v}");
            v["data"]["list"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["aftersale_id"].as_str().unwrap().to_string())
                .collect()
        };
        assert!(ids(format!("{day}||{day}")).contains(&id));
        assert!(ids(format!("{}||{day}", day.add_days(-3))).contains(&id), "the last day is included");
        assert!(ids(format!("{day}||{}", day.add_days(3))).contains(&id), "the first day is included");
        assert!(!ids(format!("{}||{}", day.add_days(-3), day.add_days(-1))).contains(&id));
        assert!(!ids(format!("{}||{}", day.add_days(1), day.add_days(3))).contains(&id));
        // The core's half-open [day, day+1) arrives as day||day.
        let resp = answer(&xiaoe_req(day, day.add_days(1), DateField::Created, 1, 100), NOW);
        let page = aftersale::normalize(Platform::Xiaoe, &resp.body).unwrap();
        assert!(page.iter().any(|r| r.aftersale_id == id));
        assert!(page.iter().all(|r| r.created_at.unwrap().date == day));
        // A 31-day window both ends included is allowed; 32 days is not.
        let ok31 = xiaoe_raw(serde_json::json!({
            "access_token": TOKEN, "page_size": 10, "page_index": 1, "created_at": "2025-07-01||2025-07-31"
        }));
        assert_eq!(json(&ok31)["code"], 0);
    }

    #[test]
    fn xiaoe_error_envelopes() {
        let base = serde_json::json!({
            "access_token": TOKEN, "page_size": 10, "page_index": 1, "created_at": "2025-07-01||2025-07-10"
        });
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            b
        };
        let cases = [
            (with("page_size", 101.into()), 2002, "page_size"),
            (with("page_size", 0.into()), 2002, "page_size"),
            (with("page_index", 0.into()), 2002, "page_index"),
            (with("created_at", "2025-07-01||2025-08-01".into()), 2002, "created_at"),
            (with("created_at", "2025-07-10||2025-07-01".into()), 2002, "created_at"),
            (with("created_at", "yesterday".into()), 2002, "created_at"),
            (with("date_type", "paid_at".into()), 2002, "date_type"),
            (with("access_token", "".into()), 2007, "access_token"),
        ];
        for (body, code, names) in cases {
            let resp = xiaoe_raw(body.clone());
            let v = json(&resp);
            assert_eq!(v["code"], code, "{body} -> {v}");
            assert!(v["msg"].as_str().unwrap().contains(names), "{v}");
            let err = normalize_page(Platform::Xiaoe, &resp.body, NormalizeOptions::default()).unwrap_err();
            assert_eq!(upstream_code(err), code.to_string());
        }
        let mut get = xiaoe_req(from(), from().add_days(5), DateField::Created, 1, 10);
        get.method = Method::Get;
        assert_eq!(json(&answer(&get, NOW))["code"], 2055);
        // The core's own request with a page too large is refused the same way.
        let resp = answer(&xiaoe_req(from(), from().add_days(5), DateField::Created, 1, 101), NOW);
        assert_eq!(json(&resp)["code"], 2002);
        // An unknown path.
        let mut other = get.clone();
        other.url = format!("{SANDBOX_BASE_URL}/nowhere");
        assert_eq!(answer(&other, NOW).status, 404);
    }

    #[test]
    fn xiaoe_order_filter_and_shared_orders() {
        let mut by_order: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for i in 0..XIAOE_RECORDS {
            by_order.entry(x_skel(i).order_id()).or_default().push(i);
        }
        let shared: Vec<_> = by_order.iter().filter(|(_, v)| v.len() > 1).collect();
        assert!(shared.len() >= 10, "orders with two after-sales: {}", shared.len());
        let (order_id, members) = shared[0];
        let first = x_skel(members[0]);
        let last = x_skel(*members.last().unwrap());
        let range = format!("{}||{}", day_of(first.created), day_of(first.created).add_days(30));
        let v = json(&xiaoe_raw(serde_json::json!({
            "access_token": TOKEN, "page_size": 100, "page_index": 1, "created_at": range, "order_id": order_id
        })));
        let list = v["data"]["list"].as_array().unwrap();
        assert!(list.iter().all(|r| r["order_id"] == order_id.as_str()));
        assert_eq!(v["data"]["row_count"], list.len());
        if day_of(last.created) <= day_of(first.created).add_days(30) {
            assert_eq!(list.len(), members.len());
        }
        assert!(!list.is_empty());
    }

    /// Walks every Lingxing page of `[from, to)`; checks each normalizes; returns the records.
    fn walk_lingxing(from: Date, to: Date, field: DateField, length: u32) -> Vec<Value> {
        let mut all = Vec::new();
        let mut offset = 0;
        loop {
            let resp = answer(&lingxing_req(from, to, field, offset, length), NOW);
            let page = normalize_page(Platform::Lingxing, &resp.body, NormalizeOptions::default())
                .unwrap_or_else(|e| panic!("offset {offset}: {e}"));
            normalize_page(Platform::Lingxing, &resp.body, RAW).unwrap();
            let v = json(&resp);
            assert_eq!(v["code"], 0, "{v}");
            let data = v["data"].as_array().unwrap().clone();
            assert_eq!(page.upstream_count, data.len());
            let lines: usize = data.iter().map(|r| r["item_list"].as_array().unwrap().len()).sum();
            assert_eq!(page.records.len(), lines);
            let total = v["total"].as_u64().unwrap();
            offset += data.len() as u64;
            all.extend(data);
            if offset >= total {
                assert_eq!(all.len() as u64, total);
                break;
            }
        }
        all
    }

    fn line_key(line: &Value) -> String {
        match line.get("item_identifier").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => format!("v2:{}", line["md5_v2"].as_str().unwrap()),
        }
    }

    #[test]
    fn lingxing_every_record_once() {
        let expected_lines: usize = (0..LINGXING_RECORDS).map(|i| l_skel(i).lines.len()).sum();
        for (field, key) in [(DateField::Created, "deal_time"), (DateField::Updated, "gmt_modified")] {
            let records = walk_lingxing(from(), to(), field, 45);
            assert_eq!(records.len(), LINGXING_RECORDS);
            let mut orders = BTreeSet::new();
            let mut lines = BTreeSet::new();
            let mut prev: Option<String> = None;
            for r in &records {
                assert!(orders.insert(r["amazon_order_id"].as_str().unwrap().to_string()), "order twice");
                for l in r["item_list"].as_array().unwrap() {
                    assert!(lines.insert(line_key(l)), "line key twice: {}", line_key(l));
                }
                let t = r[key].as_str().unwrap().to_string();
                if let Some(p) = &prev {
                    assert!(p >= &t, "not newest first");
                }
                prev = Some(t);
            }
            assert_eq!(lines.len(), expected_lines);
        }
        // `data[].id` is not unique, as documented.
        let records = walk_lingxing(from(), to(), DateField::Created, 1000);
        let ids: BTreeSet<i64> = records.iter().map(|r| r["id"].as_i64().unwrap()).collect();
        assert!(ids.len() < records.len());
        // Some lines are keyed by md5_v2 only.
        let v2_only = records
            .iter()
            .flat_map(|r| r["item_list"].as_array().unwrap().iter())
            .filter(|l| l.get("item_identifier").and_then(Value::as_str).is_none_or(str::is_empty))
            .count();
        assert!(v2_only > 20, "{v2_only}");
    }

    #[test]
    fn lingxing_range_is_half_open() {
        let s = l_skel(5);
        let day = day_of(s.deal);
        let order = s.amazon_order_id();
        let has = |a: Date, b: Date| -> bool {
            let v = json(&answer(&lingxing_req(a, b, DateField::Created, 0, 1000), NOW));
            assert_eq!(v["code"], 0, "{v}");
            v["data"].as_array().unwrap().iter().any(|r| r["amazon_order_id"] == order.as_str())
        };
        assert!(has(day, day.add_days(1)));
        assert!(has(day.add_days(-2), day.add_days(1)));
        assert!(!has(day.add_days(-2), day), "end_date is excluded");
        assert!(!has(day.add_days(1), day.add_days(3)));
        let v = json(&answer(&lingxing_req(day, day, DateField::Created, 0, 1000), NOW));
        assert_eq!(v["total"], 0);
    }

    #[test]
    fn lingxing_filters() {
        for (after_type, name) in [("1", "退款"), ("2", "退货"), ("3", "换货")] {
            let v = json(&answer(
                &lingxing_body(
                    serde_json::json!({"start_date": SANDBOX_FROM, "end_date": SANDBOX_TO, "date_type": 1,
                        "offset": 0, "length": 1000, "after_type": after_type}),
                    NOW / 1000,
                ),
                NOW,
            ));
            let data = v["data"].as_array().unwrap();
            assert!(!data.is_empty());
            assert_eq!(v["total"], data.len());
            for r in data {
                assert!(r["item_list"].as_array().unwrap().iter().any(|l| l["after_type"] == name));
            }
        }
        let order = l_skel(42).amazon_order_id();
        let req = LingxingAfterSaleList {
            from: from(),
            to: to(),
            date_field: DateField::Created,
            offset: 0,
            length: 100,
            kind: None,
            amazon_order_id: Some(order.clone()),
        }
        .to_request(SANDBOX_BASE_URL, SANDBOX_LINGXING_APP_ID, TOKEN, NOW / 1000)
        .unwrap();
        let v = json(&answer(&req, NOW));
        assert_eq!(v["total"], 1);
        assert_eq!(v["data"][0]["amazon_order_id"], order.as_str());
    }

    #[test]
    fn lingxing_error_envelopes() {
        let good = lingxing_req(from(), to(), DateField::Created, 0, 10);
        let code = |req: &Request| -> i64 {
            let resp = answer(req, NOW);
            let v = json(&resp);
            if v["code"] != 0 {
                assert_eq!(v["data"], serde_json::json!([]));
                assert_eq!(v["total"], 0);
                let err = normalize_page(Platform::Lingxing, &resp.body, NormalizeOptions::default()).unwrap_err();
                assert_eq!(upstream_code(err), v["code"].to_string());
            }
            v["code"].as_i64().unwrap()
        };
        assert_eq!(code(&good), 0);
        let mut tampered = good.clone();
        tampered.body =
            br#"{"start_date":"2025-05-01","end_date":"2025-12-01","date_type":1,"offset":0,"length":11}"#.to_vec();
        assert_eq!(code(&tampered), 2001006, "a body that is not the signed one");
        let mut no_sign = good.clone();
        no_sign.url = good.url.split("&sign=").next().unwrap().to_string();
        assert_eq!(code(&no_sign), 3001001);
        let stale = lingxing_req(from(), to(), DateField::Created, 0, 10);
        assert!(answer(&stale, NOW + 121_000).body.contains("2001007"));
        let too_long = lingxing_body(
            serde_json::json!({"start_date": SANDBOX_FROM, "end_date": SANDBOX_TO, "offset": 0, "length": 6000}),
            NOW / 1000,
        );
        assert_eq!(code(&too_long), 102);
        let missing = lingxing_body(serde_json::json!({"end_date": SANDBOX_TO}), NOW / 1000);
        assert_eq!(code(&missing), 102);
        assert!(answer(&missing, NOW).body.contains("start_date"));
        let bad_type = lingxing_body(
            serde_json::json!({"start_date": SANDBOX_FROM, "end_date": SANDBOX_TO, "after_type": "4"}),
            NOW / 1000,
        );
        assert_eq!(code(&bad_type), 102);
        let mut get = good.clone();
        get.method = Method::Get;
        assert_eq!(answer(&get, NOW).status, 405);
    }

    #[test]
    fn wechat_orders_and_aftersales() {
        let orders = sandbox_orders();
        assert_eq!(orders.len(), WECHAT_ORDERS);
        let ids: BTreeSet<_> = orders.iter().map(|o| o.0.clone()).collect();
        assert_eq!(ids.len(), orders.len());
        let digits: BTreeSet<usize> = orders.iter().map(|o| o.0.len()).collect();
        assert_eq!(digits, BTreeSet::from([16, 17, 18, 19]));
        let mut codes = BTreeSet::new();
        let mut kinds = BTreeSet::new();
        let mut order_statuses = BTreeSet::new();
        let mut empty = 0;
        for (order_id, out_order_id, openid) in &orders {
            let by_id = WechatShopAfterSales { order: OrderRef::OrderId(order_id.clone()), openid: openid.clone() }
                .to_request(SANDBOX_BASE_URL, TOKEN);
            assert!(std::str::from_utf8(&by_id.body).unwrap().contains(&format!("\"order_id\":{order_id}")));
            let resp = answer(&by_id, NOW);
            let page = normalize_page(Platform::WechatShop, &resp.body, NormalizeOptions::default())
                .unwrap_or_else(|e| panic!("{order_id}: {e}"));
            normalize_page(Platform::WechatShop, &resp.body, RAW).unwrap();
            let by_out =
                WechatShopAfterSales { order: OrderRef::OutOrderId(out_order_id.clone()), openid: openid.clone() }
                    .to_request(SANDBOX_BASE_URL, TOKEN);
            assert_eq!(answer(&by_out, NOW).body, resp.body);
            // The raw order id keeps every digit.
            assert!(resp.body.contains(&format!("\"order_id\":{order_id}")) || page.records.is_empty());
            for r in &page.records {
                assert_eq!(r.order_id.as_deref(), Some(order_id.as_str()));
                assert_eq!(r.buyer.openid.as_deref(), Some(openid.as_str()));
                if let Some(StatusRaw::Number(n)) = r.status_raw {
                    codes.insert(n);
                }
                kinds.insert(r.kind.as_str());
            }
            empty += usize::from(page.records.is_empty());
            let store =
                answer(&WechatStoreOrderGet { order_id: order_id.clone() }.to_request(SANDBOX_BASE_URL, TOKEN), NOW);
            let order =
                normalize_order(&store.body, NormalizeOptions::default()).unwrap_or_else(|e| panic!("{order_id}: {e}"));
            normalize_order(&store.body, RAW).unwrap();
            assert_eq!(order.order_id, order_id.as_str());
            assert_eq!(order.buyer.openid.as_deref(), Some(openid.as_str()));
            let shop_ids: Vec<&str> = page.records.iter().map(|r| r.aftersale_id.as_ref()).collect();
            let store_ids: Vec<&str> = order.aftersale_ids.iter().map(|c| c.as_ref()).collect();
            assert_eq!(shop_ids, store_ids);
            assert_ne!(order.status, OrderStatus::Unknown);
            if let Some(StatusRaw::Number(n)) = order.status_raw {
                order_statuses.insert(n);
            }
            // Someone else's openid, or none: refused.
            let other =
                WechatShopAfterSales { order: OrderRef::OrderId(order_id.clone()), openid: "oTVP5nobody".into() }
                    .to_request(SANDBOX_BASE_URL, TOKEN);
            assert_eq!(json(&answer(&other, NOW))["errcode"], 9401020);
        }
        assert_eq!(codes, (0..=19).collect(), "after-sale status codes");
        assert_eq!(kinds.len(), 3);
        assert_eq!(order_statuses, BTreeSet::from([10, 15, 16, 17, 20, 21, 30, 100, 200, 250]));
        assert!(empty > 0);
        // Unknown orders.
        let unknown = WechatStoreOrderGet { order_id: "1234567890123456".into() }.to_request(SANDBOX_BASE_URL, TOKEN);
        let resp = answer(&unknown, NOW);
        assert_eq!(json(&resp)["errcode"], 9401020);
        assert_eq!(upstream_code(normalize_order(&resp.body, NormalizeOptions::default()).unwrap_err()), "9401020");
        let (order_id, _, openid) = &orders[3];
        let unknown = WechatShopAfterSales { order: OrderRef::OutOrderId("SO-nope".into()), openid: openid.clone() }
            .to_request(SANDBOX_BASE_URL, TOKEN);
        let resp = answer(&unknown, NOW);
        assert_eq!(
            upstream_code(normalize_page(Platform::WechatShop, &resp.body, NormalizeOptions::default()).unwrap_err()),
            "9401020"
        );
        // No token.
        let no_token = WechatStoreOrderGet { order_id: order_id.clone() }.to_request(SANDBOX_BASE_URL, "");
        assert_eq!(json(&answer(&no_token, NOW))["errcode"], 41001);
    }

    #[test]
    fn tokens_through_the_core() {
        for account in sandbox_accounts() {
            let platform = match account.credentials {
                Credentials::Wechat { .. } => Platform::WechatShop,
                Credentials::Xiaoe { .. } => Platform::Xiaoe,
                Credentials::Lingxing { .. } => Platform::Lingxing,
            };
            let mut tokens = TokenManager::new(account.clone());
            let TokenPoll::Fetch(req) = tokens.poll(NOW) else { panic!("fetch expected") };
            let resp = answer(&req, NOW);
            let grant = parse_grant(platform, &resp.body).unwrap();
            assert!(!grant.access_token.is_empty());
            assert_eq!(grant.expires_in_s, if platform == Platform::Lingxing { 7199 } else { 7200 });
            assert_eq!(grant.refresh_token.is_some(), platform == Platform::Lingxing);
            tokens.handle_response(NOW, &resp).unwrap();
            let generation = tokens.current().unwrap().generation;
            // A rejected token is fetched anew (Lingxing: with the refresh token).
            assert!(tokens.invalidate(generation));
            let TokenPoll::Fetch(again) = tokens.poll(NOW + 1000) else { panic!("fetch expected") };
            if platform == Platform::Lingxing {
                assert!(again.url.ends_with("/api/auth-server/oauth/refresh"));
            }
            tokens.handle_response(NOW + 1000, &answer(&again, NOW + 1000)).unwrap();
            assert!(matches!(tokens.poll(NOW + 2000), TokenPoll::Ready(_)));
        }
        // The classic WeChat token too.
        let mut tokens = TokenManager::new(sandbox_accounts()[0].clone());
        tokens.prefer_classic_wechat_token();
        let TokenPoll::Fetch(req) = tokens.poll(NOW) else { panic!("fetch expected") };
        assert!(req.url.contains("/cgi-bin/token?"));
        tokens.handle_response(NOW, &answer(&req, NOW)).unwrap();
        // Missing credentials are refused.
        let bad = aftersale::xiaoe::request::token_request(SANDBOX_BASE_URL, "", &Secret::new("c"), &Secret::new("s"));
        assert_eq!(json(&answer(&bad, NOW))["code"], 2002);
    }

    /// Drives the core's pager over the whole data set, as the Worker's export does.
    fn drive(platform: Platform, field: DateField, limit: u32, export: bool) -> Vec<String> {
        let account = sandbox_accounts().into_iter().find(|a| a.serves(platform)).unwrap();
        let mut query = ListQuery::new(platform, from(), to());
        query.date_field = field;
        query.limit = limit;
        let mut pager = if export { Pager::for_export(query) } else { Pager::new(query) };
        let mut ids = Vec::new();
        let mut calls = 0;
        while let Some(spec) = pager.next_call() {
            calls += 1;
            assert!(calls < 1000, "runaway pagination");
            let req = spec.to_request(&account, TOKEN, NOW).unwrap();
            assert!(matches!(spec, CallSpec::XiaoeList(_) | CallSpec::LingxingList(_)));
            let resp = answer(&req, NOW);
            let page = normalize_page(platform, &resp.body, NormalizeOptions::default())
                .unwrap_or_else(|e| panic!("{platform:?} call {calls}: {e}"));
            ids.extend(pager.handle_page(page).into_iter().map(|r| r.aftersale_id.into_owned()));
        }
        ids
    }

    #[test]
    fn the_core_pager_sees_every_record_once() {
        let lines: usize = (0..LINGXING_RECORDS).map(|i| l_skel(i).lines.len()).sum();
        for (platform, field, limit, export, expected) in [
            (Platform::Xiaoe, DateField::Created, 50, false, XIAOE_RECORDS),
            (Platform::Xiaoe, DateField::Updated, 100, true, XIAOE_RECORDS),
            (Platform::Lingxing, DateField::Created, 30, false, lines),
            (Platform::Lingxing, DateField::Updated, 100, true, lines),
        ] {
            let ids = drive(platform, field, limit, export);
            let unique: BTreeSet<_> = ids.iter().collect();
            assert_eq!(unique.len(), ids.len(), "{platform:?} {field:?}: repeats");
            assert_eq!(ids.len(), expected, "{platform:?} {field:?}");
        }
    }

    #[test]
    fn coverage_of_statuses_kinds_and_money() {
        let mut statuses = BTreeSet::new();
        let mut xiaoe_codes = BTreeSet::new();
        let mut xiaoe_kinds = BTreeSet::new();
        let mut name_only = 0;
        for (wfrom, wto) in xiaoe_windows() {
            let resp = answer(&xiaoe_req(wfrom, wto, DateField::Created, 1, 100), NOW);
            for p in 1.. {
                let resp =
                    if p == 1 { resp.clone() } else { answer(&xiaoe_req(wfrom, wto, DateField::Created, p, 100), NOW) };
                let page = normalize_page(Platform::Xiaoe, &resp.body, NormalizeOptions::default()).unwrap();
                if page.records.is_empty() {
                    break;
                }
                name_only += json(&resp)["data"]["list"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| r.get("sale_type").is_none())
                    .count();
                for r in &page.records {
                    statuses.insert(r.status.as_str());
                    xiaoe_kinds.insert(r.kind.as_str());
                    if let Some(StatusRaw::Number(n)) = r.status_raw {
                        xiaoe_codes.insert(n);
                    }
                    assert_eq!(r.overdue, matches!(r.status_raw, Some(StatusRaw::Number(3 | 12))));
                    let refund = r.refund.as_ref().unwrap();
                    assert_eq!(refund.currency.code, "CNY");
                    assert!(refund.minor >= 0);
                    assert!(!r.items.is_empty());
                    assert!(r.created_at.is_some() && r.updated_at.is_some());
                }
            }
        }
        assert_eq!(statuses.len(), Status::ALL.len(), "xiaoe statuses: {statuses:?}");
        assert_eq!(xiaoe_codes, (0..=19).collect());
        assert_eq!(xiaoe_kinds.len(), 3);
        assert!(name_only > XIAOE_RECORDS / 10, "records without sale_type: {name_only}");

        let resp = answer(&lingxing_req(from(), to(), DateField::Created, 0, 1000), NOW);
        let page = normalize_page(Platform::Lingxing, &resp.body, NormalizeOptions::default()).unwrap();
        let lx_statuses: BTreeSet<&str> = page.records.iter().map(|r| r.status.as_str()).collect();
        for s in [
            Status::Pending,
            Status::AwaitingBuyerReturn,
            Status::AwaitingMerchantReceipt,
            Status::Refunding,
            Status::Completed,
            Status::Rejected,
            Status::Cancelled,
            Status::Closed,
            Status::Unknown,
        ] {
            assert!(lx_statuses.contains(s.as_str()), "lingxing lacks {s:?}");
        }
        let lx_kinds: BTreeSet<&str> = page.records.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(lx_kinds.len(), 3);
        let currencies: BTreeSet<_> =
            page.records.iter().filter_map(|r| r.refund.as_ref()).map(|m| m.currency.code).collect();
        assert_eq!(currencies, BTreeSet::from(["EUR", "GBP", "USD"]));
        let decimals: BTreeSet<usize> = page
            .records
            .iter()
            .filter_map(|r| r.refund.as_ref())
            .map(|m| m.decimal_string().split('.').nth(1).map_or(0, str::len))
            .collect();
        assert_eq!(decimals, BTreeSet::from([2, 3, 4, 6]));
        assert!(page.records.iter().any(|r| r.refund.is_none()));
        assert!(page.records.iter().any(|r| r.return_logistics.is_some()));
        assert!(page.records.iter().any(|r| r.exchange_order_id.is_some()));
        for market in ["\"8p-US 美国\"", "\"UK 英国\"", "\"DE 德国\"", "\"FR 法国\""] {
            assert!(resp.body.contains(market));
        }
        assert!(resp.body.contains("\"refund_amount\":\"\""));
        statuses.extend(lx_statuses.iter().copied());
        assert_eq!(statuses.len(), Status::ALL.len());
    }

    #[test]
    fn routing_ignores_hosts_and_prefixes() {
        assert_eq!(route("/token"), Some(Endpoint::XiaoeToken));
        assert_eq!(route("/cgi-bin/token"), Some(Endpoint::WechatToken));
        assert_eq!(route("/xiaoe/token"), Some(Endpoint::XiaoeToken));
        assert_eq!(route("/wechat/cgi-bin/token"), Some(Endpoint::WechatToken));
        assert_eq!(route("/cgi-bin/stable_token"), Some(Endpoint::WechatStableToken));
        assert_eq!(route("/x"), None);
        assert_eq!(split_url("http://127.0.0.1:9/a/b?x=1#f"), ("/a/b", "x=1"));
        assert_eq!(split_url("https://h?x=1"), ("/", "x=1"));
        assert_eq!(split_url("/p"), ("/p", ""));
        assert_eq!(percent_decode("a%2Bb+c%3D%zz"), "a+b c=%zz");
    }

    /// Timings, printed (`cargo test --release pages_are_cheap -- --nocapture`); the best of
    /// several runs, since test machines are shared.
    #[test]
    fn pages_are_cheap() {
        fn best(mut f: impl FnMut()) -> std::time::Duration {
            (0..15)
                .map(|_| {
                    let t = std::time::Instant::now();
                    f();
                    t.elapsed()
                })
                .min()
                .unwrap()
        }
        let xiaoe_req = xiaoe_req(date("2025-08-01"), date("2025-09-01"), DateField::Updated, 1, 100);
        let xiaoe = best(|| assert_eq!(answer(&xiaoe_req, NOW).status, 200));
        let lx_req = lingxing_req(from(), to(), DateField::Created, 0, 1000);
        let lx_page = lingxing_req(from(), to(), DateField::Created, 100, 100);
        let lingxing = best(|| assert_eq!(answer(&lx_req, NOW).status, 200));
        let lingxing_100 = best(|| assert_eq!(answer(&lx_page, NOW).status, 200));
        let body = answer(&lx_req, NOW).body;
        let core = best(|| {
            normalize_page(Platform::Lingxing, &body, NormalizeOptions::default()).unwrap();
        });
        let select = best(|| {
            xiaoe_select(&XQuery {
                from_day: FIRST_DAY,
                to_day_inclusive: FIRST_DAY + 30,
                field: XDateField::Created,
                page_index: 1,
                page_size: 100,
                order_id: None,
            });
        });
        eprintln!(
            "xiaoe page of 100: {xiaoe:?} (selection {select:?}); lingxing page of 100: {lingxing_100:?}, all {} records \
             ({} bytes): {lingxing:?}; the core normalizing those: {core:?}",
            LINGXING_RECORDS,
            body.len()
        );
    }
}
