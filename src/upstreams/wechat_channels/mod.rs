//! WeChat Channels shop (微信小店, `channels/ec`): after-sales listed by time, fetched one by
//! one, and pushed when they change (SPEC.md §8; facts in `upstreams/wechat_channels.md`).
//!
//! Here: the wire shapes of `getaftersalelist` (ids only) and `getaftersaleorder` (one
//! after-sale), their mapping into the model, and the classification of Channels error codes.
//! Requests live in [`request`], push verification and decryption in [`push`].

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::value::RawValue;

use crate::error::{ParseError, UpstreamClass};
use crate::model::time::Timestamp;
use crate::model::DateField;
use crate::model::{AfterSale, Buyer, Item, Kind, Platform, ReturnLogistics, Status, StatusRaw};
use crate::parse::normalize::{self, parse_body, text, NormalizeOptions, Page, RecordCtx};
use crate::parse::wire::{self, wire_struct, Flag, Int, List, Text};
use crate::protocol::account::Account;
use crate::protocol::account::Credentials;
use crate::protocol::http::Request;
use crate::protocol::pacing::RateLimit;
use crate::protocol::paginate::china_midnight_s;
pub use crate::protocol::upstream::IdPage;
use crate::protocol::upstream::{
    numeric_code, CredentialField, ForceRefreshLimit, ListPage, ListScheme, Lookup, LookupKind, Paging, PushEvent,
    PushRequest, TokenAsk, TokenFetch, Upstream,
};
use crate::Error;

pub mod push;
pub mod request;

const PLATFORM: Platform = Platform::WechatChannels;

/// The Channels shop: its own AppID and AppSecret (not a mini program's), WeChat's stable
/// token, `errcode` envelopes, one after-sale per `getaftersaleorder` answer.
pub struct WechatChannels;

const CREDENTIALS: &[CredentialField] = &[
    CredentialField { key: "appid", var: "WECHAT_CHANNELS_APPID", secret: false },
    CredentialField { key: "secret", var: "WECHAT_CHANNELS_SECRET", secret: true },
];

/// No per-API figure is published (facts §9); the 小商店 community figures were 500–800 per
/// 30 s. Stay under the lower one.
const RATE_LIMIT: RateLimit = RateLimit::Window { limit: 500, window_ms: 30_000 };

/// The keys that verify pushes (SPEC.md §8): the token and EncodingAESKey set in the shop's
/// message-push settings.
const PUSH_KEYS: &[CredentialField] = &[
    CredentialField { key: "push_token", var: "WECHAT_CHANNELS_PUSH_TOKEN", secret: true },
    CredentialField { key: "aes_key", var: "WECHAT_CHANNELS_AES_KEY", secret: true },
];

/// `getaftersalelist` answers ids in windows of at most 24 h: the proxy walks China-time days,
/// oldest first, and looks each id up. Its page size is the upstream's (not settable, §4.1).
const LIST: ListScheme = ListScheme {
    paging: Paging::NextKey,
    max_page_size: 100,
    export_page_size: 100,
    max_window_days: Some(1),
    date_fields: &[DateField::Created, DateField::Updated],
    records_hold_several: false,
};

/// `getaftersaleorder`'s "no such after-sale" (unknown or deleted since it was listed).
const NOT_FOUND: &str = "10021050";

/// Its lookups: one after-sale by id (`getaftersaleorder`).
const LOOKUPS: &[LookupKind] = &[LookupKind::AfterSale];

impl Upstream for WechatChannels {
    fn platform(&self) -> Platform {
        PLATFORM
    }
    fn default_base_url(&self) -> &'static str {
        crate::upstreams::wechat::BASE_URL
    }
    fn base_url_var(&self) -> &'static str {
        "WECHAT_CHANNELS_BASE_URL"
    }
    fn credentials(&self) -> &'static [CredentialField] {
        CREDENTIALS
    }
    fn rate_limit(&self) -> RateLimit {
        RATE_LIMIT
    }
    fn token_request(&self, account: &Account, ask: TokenAsk<'_>) -> Result<TokenFetch, Error> {
        let request = crate::upstreams::wechat::token_request(account, "appid", "secret", ask)?;
        Ok(TokenFetch { request, is_refresh: false })
    }
    fn token_fallback_on(&self, status: u16) -> bool {
        status == 404
    }
    fn renew_before_ms(&self, lifetime_ms: u64) -> u64 {
        crate::upstreams::wechat::STABLE_TOKEN_RENEW_BEFORE_MS.min(lifetime_ms / 10)
    }
    fn force_refresh_limit(&self) -> Option<ForceRefreshLimit> {
        Some(crate::upstreams::wechat::STABLE_TOKEN_FORCE_LIMIT)
    }
    fn classify(&self, code: &str) -> Option<UpstreamClass> {
        match numeric_code(code) {
            Some(0) => None,
            Some(c) => Some(classify(c)),
            None => Some(UpstreamClass::Other),
        }
    }
    fn throttle_wait_ms(&self, code: &str, now_ms: u64) -> Option<u64> {
        crate::upstreams::wechat::minute_limit_wait(code, now_ms)
    }
    fn list(&self) -> Result<&'static ListScheme, &'static str> {
        Ok(&LIST)
    }
    fn list_request(&self, account: &Account, token: &str, page: &ListPage, _now_ms: u64) -> Result<Request, Error> {
        let field = match page.date_field {
            DateField::Created => request::TimeField::Created,
            DateField::Updated => request::TimeField::Updated,
            DateField::Refunded => return Err(self.not_served("list by refund time")),
        };
        // The builder refuses anything over 24 h: such a window would be a bug of the walk.
        let (begin_s, end_s) = page.seconds.unwrap_or((china_midnight_s(page.from), china_midnight_s(page.to)));
        request::ChannelsAfterSaleList { field, begin_s, end_s, next_key: page.next_key.clone() }
            .to_request(&account.base_url, token)
    }
    fn parse_ids<'a>(&self, body: &'a str) -> Result<IdPage<'a>, Error> {
        parse_list(body)
    }
    fn is_gone(&self, upstream_code: &str) -> bool {
        upstream_code.trim() == NOT_FOUND
    }
    fn push_keys(&self) -> &'static [CredentialField] {
        PUSH_KEYS
    }
    fn open_push(&self, keys: &Credentials, request: PushRequest<'_>) -> Result<PushEvent, Error> {
        push::open_request(keys.get("push_token")?, keys.get("aes_key")?, keys.get("appid")?, request)
    }
    fn lookups(&self) -> &'static [LookupKind] {
        LOOKUPS
    }
    fn lookup_request(&self, account: &Account, token: &str, lookup: &Lookup, _now_ms: u64) -> Result<Request, Error> {
        match lookup {
            Lookup::AfterSale { aftersale_id } => {
                request::ChannelsAfterSaleGet { after_sale_order_id: aftersale_id.clone() }
                    .to_request(&account.base_url, token)
            }
            _ => Err(self.not_served("such a lookup")),
        }
    }
    fn parse_page<'a>(&self, body: &'a str, options: NormalizeOptions) -> Result<Page<'a>, Error> {
        parse_page(body, options)
    }
}

// ---------------------------------------------------------------------------------------------
// Error codes

/// Channels' `errcode` table (facts §2.4, §4.3, §6, §8), WeChat's common codes included.
pub fn classify(errcode: i64) -> UpstreamClass {
    match errcode {
        // System busy / "system failure".
        -1 | 9700223 => UpstreamClass::Transient,
        40001 | 40014 | 42001 => UpstreamClass::TokenRejected,
        // Credentials, permissions, IP whitelist, a shop closing or not a merchant: no retry helps.
        40013
        | 40125
        | 40243
        | 41002
        | 41018
        | 45035
        | 48001
        | 48004
        | 50001
        | 50002
        | 61004
        | 61007
        | 10080000..=10080002 => UpstreamClass::Auth,
        // Per-minute limits, "too many users, try later", the refund action's one call a minute.
        45011 | 30000 | 10021044 | 10021059 => UpstreamClass::RateLimited,
        45009 => UpstreamClass::QuotaExhausted,
        // The caller's after-sale id: malformed, unknown, or another shop's.
        10020000 | 10021050 | 10021043 => UpstreamClass::InvalidParameter,
        // 10020004 (window over 24 h) looks like a parameter error, but the windows are ours:
        // it is a bug of the core, not the caller's, so it must not become a 400. Likewise
        // 47001 (our JSON), 44002, 43002, 40066 and 10020003.
        _ => UpstreamClass::Other,
    }
}

wire_struct! {
    /// `{errcode, errmsg}` alone, read when the full shape does not parse, so an upstream error
    /// is reported as itself rather than as a parse error.
    pub struct ChannelsStatus<'a> {
        errcode: Int,
        errmsg: Text<'a>,
    }
}

/// `errcode` 0 or absent is success (the official getaftersaleorder sample has no `errmsg`,
/// and WeChat omits `errcode` on some successes).
fn check_status(errcode: Option<Int>, errmsg: Option<Text<'_>>) -> Result<(), Error> {
    match errcode {
        None | Some(Int(0)) => Ok(()),
        Some(Int(c)) => Err(normalize::upstream_error(PLATFORM, c, errmsg, classify(c))),
    }
}

fn error_or_parse(body: &str, parse: ParseError) -> Error {
    match parse_body::<ChannelsStatus<'_>>(PLATFORM, body) {
        Ok(s) if s.errcode.is_some_and(|c| c.0 != 0) => {
            check_status(s.errcode, s.errmsg).err().unwrap_or(Error::Parse(parse))
        }
        _ => Error::Parse(parse),
    }
}

// ---------------------------------------------------------------------------------------------
// getaftersalelist (§4): ids only

wire_struct! {
    /// `{errcode, errmsg, after_sale_order_id_list, has_more, next_key}`.
    pub struct ChannelsListAnswer<'a> {
        errcode: Int,
        errmsg: Text<'a>,
        after_sale_order_id_list: List<Text<'a>>,
        has_more: Flag,
        next_key: Text<'a>,
    }
}

/// Reads a `getaftersalelist` answer. Ids are kept digit for digit (numbers too, never through
/// a float); an empty id is refused, naming its position.
pub fn parse_list(body: &str) -> Result<IdPage<'_>, Error> {
    let answer: ChannelsListAnswer<'_> = parse_body(PLATFORM, body).map_err(|e| error_or_parse(body, e))?;
    check_status(answer.errcode, answer.errmsg)?;
    let list = answer.after_sale_order_id_list.map(|l| l.0).unwrap_or_default();
    let mut ids = Vec::with_capacity(list.len());
    for (i, id) in list.into_iter().enumerate() {
        match text(Some(id)) {
            Some(id) => ids.push(id),
            None => {
                let ctx = RecordCtx { platform: PLATFORM, index: i, id: None };
                return Err(ctx.invalid("after_sale_order_id_list", "", "an empty after-sale id"));
            }
        }
    }
    let next_key = text(answer.next_key);
    let has_more = answer.has_more.is_some_and(|f| f.0) && next_key.is_some();
    Ok(IdPage { ids, next_key, has_more })
}

// ---------------------------------------------------------------------------------------------
// getaftersaleorder (§5): one after-sale

wire_struct! {
    /// `{errcode, errmsg, after_sale_order}`; `R` is the record: typed or raw.
    pub struct ChannelsOrderAnswer<'a, R> {
        errcode: Int,
        errmsg: Text<'a>,
        after_sale_order: R,
    }
}

wire_struct! {
    /// `after_sale_order` (§5.3). Fields nothing in the model takes are not declared.
    pub struct ChannelsAfterSale<'a> {
        after_sale_order_id: Text<'a>,
        status: Text<'a>,
        openid: Text<'a>,
        unionid: Text<'a>,
        order_id: Text<'a>,
        product_info: ChannelsProduct<'a>,
        details: ChannelsDetails<'a>,
        refund_info: ChannelsRefund<'a>,
        return_info: ChannelsLogistics<'a>,
        merchant_upload_info: ChannelsMerchantUpload<'a>,
        create_time: Text<'a>,
        update_time: Text<'a>,
        complete_time: Text<'a>,
        reason: Text<'a>,
        reason_text: Text<'a>,
        r#type: Text<'a> | "type",
        deadline: Int,
    }
}

wire_struct! {
    /// `product_info` (§5.4.1).
    pub struct ChannelsProduct<'a> {
        product_id: Text<'a>,
        sku_id: Text<'a>,
        count: Int,
        gift_product_list: List<ChannelsGift<'a>>,
    }
}

wire_struct! {
    /// `product_info.gift_product_list[]`: free gifts that go back with the product.
    pub struct ChannelsGift<'a> {
        product_id: Text<'a>,
        sku_id: Text<'a>,
        count: Int,
    }
}

wire_struct! {
    /// `details` (§5.4.2): the buyer's description.
    pub struct ChannelsDetails<'a> {
        desc: Text<'a>,
    }
}

wire_struct! {
    /// `refund_info` (§5.4.3): the amount in fen.
    pub struct ChannelsRefund<'a> {
        amount: Int,
    }
}

wire_struct! {
    /// `return_info` (§5.4.4): the buyer's return shipment.
    pub struct ChannelsLogistics<'a> {
        waybill_id: Text<'a>,
        delivery_id: Text<'a>,
        delivery_name: Text<'a>,
    }
}

wire_struct! {
    /// `merchant_upload_info`: the merchant's reject reason.
    pub struct ChannelsMerchantUpload<'a> {
        reject_reason: Text<'a>,
    }
}

/// The status strings of §5.5 in the model's vocabulary, with the overdue flag. The order and
/// the numbers in the comments are the facts document's.
const STATUSES: &[(&str, Status, bool)] = &[
    ("USER_CANCELD", Status::Cancelled, false),          // 1, spelt so on the wire
    ("MERCHANT_PROCESSING", Status::Processing, false),  // 2
    ("MERCHANT_REJECT_REFUND", Status::Rejected, false), // 3
    ("MERCHANT_REJECT_RETURN", Status::Rejected, false), // 4
    ("USER_WAIT_RETURN", Status::AwaitingBuyerReturn, false), // 5
    ("RETURN_CLOSED", Status::Closed, false),            // 6
    ("MERCHANT_WAIT_RECEIPT", Status::AwaitingMerchantReceipt, false), // 7
    ("MERCHANT_OVERDUE_REFUND", Status::Refunding, true), // 8: the shared table's 12
    ("MERCHANT_REFUND_SUCCESS", Status::Completed, false), // 9
    ("MERCHANT_RETURN_SUCCESS", Status::Completed, false), // 10
    ("PLATFORM_REFUNDING", Status::Refunding, false),    // 11
    // 12: the money has not reached the buyer; the merchant may have to refund offline.
    ("PLATFORM_REFUND_FAIL", Status::Refunding, false),
    ("USER_WAIT_CONFIRM", Status::Processing, false),        // 13
    ("MERCHANT_REFUND_RETRY_FAIL", Status::Closed, false),   // 14: closed by customer service
    ("MERCHANT_FAIL", Status::Closed, false),                // 15
    ("USER_WAIT_CONFIRM_UPDATE", Status::Processing, false), // 16: buyer answers a negotiation
    ("USER_WAIT_HANDLE_MERCHANT_AFTER_SALE", Status::Processing, false), // 17
    ("WAIT_PACKAGE_INTERCEPT", Status::Processing, false),   // 18
    ("MERCHANT_REJECT_EXCHANGE", Status::Rejected, false),   // 19
    ("MERCHANT_REJECT_RESHIP", Status::Rejected, false),     // 20
    ("USER_WAIT_RECEIPT", Status::AwaitingBuyerReceipt, false), // 21
    ("MERCHANT_EXCHANGE_SUCCESS", Status::Completed, false), // 22
    ("PLATFORM_PROCESSING", Status::Processing, false),      // 23
];

/// A status string in the model's vocabulary, with its overdue flag; unknown strings are
/// `unknown` (the raw string is kept by the caller).
pub fn status_of(raw: &str) -> (Status, bool) {
    let raw = raw.trim_ascii();
    STATUSES.iter().find(|(s, ..)| *s == raw).map_or((Status::Unknown, false), |&(_, st, o)| (st, o))
}

/// The statuses in which `deadline` is the merchant's: review of the application, receipt of
/// the returned goods (§5.3). Elsewhere a deadline, if any, is not the merchant's to miss.
const MERCHANT_DEADLINE_STATUSES: [&str; 2] = ["MERCHANT_PROCESSING", "MERCHANT_WAIT_RECEIPT"];

/// Values above this are unix timestamps, below it remaining seconds (§13: sources disagree).
const DEADLINE_TIMESTAMP_FLOOR: i64 = 1_000_000_000;

/// Whether `deadline` says the merchant is overdue. Read as a unix timestamp it needs "now";
/// read as remaining seconds (at the time of the answer) only a negative value has passed.
fn deadline_passed(deadline: Option<Int>, now_unix_s: Option<i64>) -> bool {
    match deadline {
        None | Some(Int(0)) => false,
        Some(Int(d)) if d > DEADLINE_TIMESTAMP_FLOOR => now_unix_s.is_some_and(|now| now > d),
        Some(Int(d)) => d < 0,
    }
}

/// The legacy English reason literals (§5.6), for records that carry no `reason_text`.
const LEGACY_REASONS: &[(&str, &str)] = &[
    ("INCORRECT_SELECTION", "拍错/多拍"),
    ("NO_LONGER_WANT", "不想要了"),
    ("NO_EXPRESS_INFO", "无快递信息"),
    ("EMPTY_PACKAGE", "包裹为空"),
    ("REJECT_RECEIVE_PACKAGE", "已拒签包裹"),
    ("NOT_DELIVERED_TOO_LONG", "快递长时间未送达"),
    ("NOT_MATCH_PRODUCT_DESC", "与商品描述不符"),
    ("QUALITY_ISSUE", "质量问题"),
    ("SEND_WRONG_GOODS", "卖家发错货"),
    ("THREE_NO_PRODUCT", "三无产品"),
    ("FAKE_PRODUCT", "假冒产品"),
    ("OTHERS", "其它"),
];

/// `reason_text` when given (new reasons are bare numeric codes); else the legacy literal's
/// text; else the code as it came, which is better than nothing.
fn reason_of<'a>(reason: Option<Text<'a>>, reason_text: Option<Text<'a>>) -> Option<Cow<'a, str>> {
    if let Some(t) = text(reason_text) {
        return Some(t);
    }
    let code = text(reason)?;
    match LEGACY_REASONS.iter().find(|(c, _)| *c == code.trim_ascii()) {
        Some((_, t)) => Some(Cow::Borrowed(t)),
        None => Some(code),
    }
}

fn kind_of(ctx: &RecordCtx<'_>, t: Option<Text<'_>>) -> Result<Kind, Error> {
    let Some(Text(t)) = t else { return Err(ctx.invalid("type", "", "missing")) };
    match t.trim_ascii() {
        "REFUND" => Ok(Kind::Refund),
        "RETURN" => Ok(Kind::ReturnRefund),
        // RESHIP (补寄, one source only): goods go out again and no money comes back, which is
        // the exchange's shape.
        "EXCHANGE" | "RESHIP" => Ok(Kind::Exchange),
        _ => Err(ctx.invalid("type", t, "unknown after-sale type (expected REFUND, RETURN or EXCHANGE)")),
    }
}

/// Normalizes one `getaftersaleorder` answer into its one after-sale.
pub fn parse_page<'a>(body: &'a str, options: NormalizeOptions) -> Result<Page<'a>, Error> {
    let record = if options.include_raw {
        let answer: ChannelsOrderAnswer<'a, &'a RawValue> =
            parse_body(PLATFORM, body).map_err(|e| error_or_parse(body, e))?;
        check_status(answer.errcode, answer.errmsg)?;
        let raw = answer.after_sale_order.ok_or_else(|| normalize::missing(PLATFORM, body, "after_sale_order"))?;
        let rec: ChannelsAfterSale<'a> = serde_json::from_str(raw.get()).map_err(|e| {
            Error::Parse(ParseError {
                platform: PLATFORM,
                message: wire::message_under("after_sale_order", &e.to_string()),
                offset: None,
                body: String::from(raw.get()),
            })
        })?;
        map_after_sale(rec, Some(raw), options)?
    } else {
        let answer: ChannelsOrderAnswer<'a, Box<ChannelsAfterSale<'a>>> =
            parse_body(PLATFORM, body).map_err(|e| error_or_parse(body, e))?;
        check_status(answer.errcode, answer.errmsg)?;
        let rec = answer.after_sale_order.ok_or_else(|| normalize::missing(PLATFORM, body, "after_sale_order"))?;
        map_after_sale(*rec, None, options)?
    };
    // One record by id: there is no total of a query to report.
    Ok(Page { records: alloc::vec![record], total: None, upstream_count: 1, upstream_index: Vec::new() })
}

fn map_after_sale<'a>(
    rec: ChannelsAfterSale<'a>,
    raw: Option<&'a RawValue>,
    options: NormalizeOptions,
) -> Result<AfterSale<'a>, Error> {
    let id = text(rec.after_sale_order_id);
    let ctx = RecordCtx { platform: PLATFORM, index: 0, id: id.as_deref() };
    let aftersale_id =
        id.clone().ok_or_else(|| ctx.invalid("after_sale_order_id", "", "missing: every after-sale needs its id"))?;
    let kind = kind_of(&ctx, rec.r#type)?;

    let raw_status = text(rec.status);
    let (status, status_overdue) = raw_status.as_deref().map_or((Status::Unknown, false), status_of);
    let deadline_is_merchants =
        raw_status.as_deref().is_some_and(|s| MERCHANT_DEADLINE_STATUSES.contains(&s.trim_ascii()));
    let deadline_overdue = deadline_is_merchants && deadline_passed(rec.deadline, options.now_unix_s);

    let created_at = ctx.unix_china_time("create_time", &rec.create_time)?;
    let updated_at = ctx.unix_china_time("update_time", &rec.update_time)?;
    let complete_time = ctx.unix_china_time("complete_time", &rec.complete_time)?;
    // Completion is the refund only when the after-sale ended with the money paid back.
    let refunded = raw_status
        .as_deref()
        .is_some_and(|s| matches!(s.trim_ascii(), "MERCHANT_REFUND_SUCCESS" | "MERCHANT_RETURN_SUCCESS"));
    let refunded_at: Option<Timestamp> = if refunded { complete_time } else { None };

    let refund = match rec.refund_info {
        Some(r) => ctx.fen("refund_info.amount", r.amount)?,
        None => None,
    };

    let mut items = Vec::new();
    if let Some(p) = rec.product_info {
        let gifts = p.gift_product_list.map(|l| l.0).unwrap_or_default();
        items.reserve(1 + gifts.len());
        items.push(Item {
            product_id: text(p.product_id),
            sku_id: text(p.sku_id),
            name: None,
            quantity: ctx.count("product_info.count", p.count)?,
            unit_price: None,
            image_url: None,
            sku_info: None,
        });
        for g in gifts {
            items.push(Item {
                product_id: text(g.product_id),
                sku_id: text(g.sku_id),
                name: None,
                quantity: ctx.count("product_info.gift_product_list.count", g.count)?,
                unit_price: None,
                image_url: None,
                sku_info: None,
            });
        }
    }

    // The sample sends an all-empty `return_info` when nothing was shipped back.
    let return_logistics = rec.return_info.and_then(|r| {
        let carrier = text(r.delivery_name).or_else(|| text(r.delivery_id));
        let waybill_id = text(r.waybill_id);
        (carrier.is_some() || waybill_id.is_some()).then_some(ReturnLogistics { carrier, waybill_id })
    });

    Ok(AfterSale {
        platform: PLATFORM,
        order_id: text(rec.order_id),
        out_order_id: None,
        kind,
        status,
        overdue: status_overdue || deadline_overdue,
        status_raw: raw_status.map(StatusRaw::Text),
        refund,
        requested: None,
        items,
        reason: reason_of(rec.reason, rec.reason_text),
        buyer_note: rec.details.and_then(|d| text(d.desc)),
        merchant_note: rec.merchant_upload_info.and_then(|m| text(m.reject_reason)),
        buyer: Buyer { openid: text(rec.openid), user_id: text(rec.unionid), nickname: None },
        return_logistics,
        // Channels names no order for the replacement: the exchange ships against this one.
        exchange_order_id: None,
        created_at,
        updated_at,
        refunded_at,
        raw: raw.map(Cow::Borrowed),
        aftersale_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_status_is_in_the_table_once() {
        assert_eq!(STATUSES.len(), 23);
        for (i, (s, ..)) in STATUSES.iter().enumerate() {
            assert!(STATUSES[i + 1..].iter().all(|(t, ..)| t != s), "{s} twice");
            assert_ne!(status_of(s).0, Status::Unknown, "{s}");
        }
        assert_eq!(status_of("MERCHANT_OVERDUE_REFUND"), (Status::Refunding, true));
        assert_eq!(status_of("USER_CANCELLED"), (Status::Unknown, false)); // the wire says CANCELD
        assert_eq!(status_of(" RETURN_CLOSED "), (Status::Closed, false));
    }

    #[test]
    fn deadlines_in_both_readings() {
        let now = Some(1_700_000_000);
        // A unix timestamp: passed only when now is known and later.
        assert!(deadline_passed(Some(Int(1_699_999_999)), now));
        assert!(!deadline_passed(Some(Int(1_700_000_000)), now));
        assert!(!deadline_passed(Some(Int(1_699_999_999)), None));
        // Remaining seconds: passed only when negative; zero is "no deadline".
        assert!(!deadline_passed(Some(Int(86_400)), now));
        assert!(deadline_passed(Some(Int(-5)), None));
        assert!(!deadline_passed(Some(Int(0)), now));
        assert!(!deadline_passed(None, now));
    }

    #[test]
    fn classification() {
        assert_eq!(classify(42001), UpstreamClass::TokenRejected);
        assert_eq!(classify(45011), UpstreamClass::RateLimited);
        assert_eq!(classify(-1), UpstreamClass::Transient);
        assert_eq!(classify(10080001), UpstreamClass::Auth);
        assert_eq!(classify(10021050), UpstreamClass::InvalidParameter);
        // Our own window bug is never blamed on the caller.
        assert_eq!(classify(10020004), UpstreamClass::Other);
        assert_eq!(classify(10020004).code(), crate::ErrorCode::UpstreamError);
    }

    #[test]
    fn list_answers() {
        let page = parse_list(
            r#"{"errcode":0,"errmsg":"ok","after_sale_order_id_list":["1934164653012121",9223372036854775807],"has_more":true,"next_key":"K"}"#,
        )
        .unwrap();
        assert_eq!(page.ids, ["1934164653012121", "9223372036854775807"]);
        assert_eq!((page.next_key.as_deref(), page.has_more), (Some("K"), true));
        // has_more without a key to ask with ends the walk.
        let page = parse_list(r#"{"errcode":0,"after_sale_order_id_list":[],"has_more":true,"next_key":""}"#).unwrap();
        assert_eq!((page.ids.len(), page.next_key, page.has_more), (0, None, false));
        let e = parse_list(r#"{"errcode":10020004,"errmsg":"invalid time range rid: 1-2-3"}"#).unwrap_err();
        assert!(matches!(&e, Error::Upstream(u) if u.code == "10020004" && u.class == UpstreamClass::Other), "{e:?}");
        let e = parse_list(r#"{"errcode":0,"after_sale_order_id_list":["1",""]}"#).unwrap_err();
        assert!(e.to_string().contains("#1") && e.to_string().contains("after_sale_order_id_list"), "{e}");
        let e = parse_list(r#"{"errcode":0,"after_sale_order_id_list":[1.5]}"#).unwrap_err();
        assert!(e.to_string().contains("after_sale_order_id_list[0]"), "{e}");
    }
}
