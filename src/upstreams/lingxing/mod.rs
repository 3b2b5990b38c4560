//! Lingxing ERP (领星): Amazon after-sales, `POST /erp/sc/routing/amzod/order/afterSaleList` (seed 003).
//!
//! One upstream record is one Amazon order with several after-sale lines (`item_list`); each line
//! becomes one [`AfterSale`], keyed by `item_identifier`, else `md5_v2`, else the deprecated
//! `md5_new`/`md5`. `data[].id` is documented as not unique and is never used as a key.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::vec::Vec;

use serde_json::value::RawValue;

use crate::error::{SignError, UpstreamClass};
use crate::model::money::{self, Currency, Decimal, Money};
use crate::model::{AfterSale, Buyer, Item, Kind, Platform, ReturnLogistics, Status, StatusRaw};
use crate::parse::normalize::{self, parse_body, parse_records, text, NormalizeOptions, Page, RecordCtx};
use crate::parse::wire::{wire_struct, Int, List, Text};
use crate::protocol::account::{Account, Credentials};
use crate::protocol::http::Request;
use crate::protocol::pacing::RateLimit;
use crate::protocol::query::DateField;
use crate::protocol::upstream::{CredentialField, ListPage, ListScheme, Paging, TokenAsk, TokenFetch, Upstream};
use crate::Error;

pub mod marketplace;
pub mod request;
mod sign;

pub use sign::{md5_upper_hex, sign, sign_string};

const PLATFORM: Platform = Platform::Lingxing;

wire_struct! {
    /// `{code, message, data: [...], total}`; `L` is the record type: typed or raw.
    pub struct LingxingEnvelope<'a, L> {
        code: Text<'a>,
        message: Text<'a> | "msg",
        data: List<L>,
        total: Int,
    }
}

wire_struct! {
    pub struct LingxingStatusOnly<'a> {
        code: Text<'a>,
        message: Text<'a> | "msg",
    }
}

wire_struct! {
    /// One Amazon order with its after-sale lines (`data[]`).
    pub struct LingxingRecord<'a> {
        amazon_order_id: Text<'a>,
        asin: Text<'a>,
        msku: Text<'a>,
        seller_country: Text<'a>,
        total_refund_amount_currency_code: Text<'a>,
        item_list: List<LingxingLine<'a>>,
    }
}

wire_struct! {
    /// One after-sale line (`data[].item_list[]`).
    pub struct LingxingLine<'a> {
        item_identifier: Text<'a>,
        md5_v2: Text<'a>,
        md5_new: Text<'a>,
        md5: Text<'a>,
        item_name: Text<'a>,
        local_sku: Text<'a>,
        asin: Text<'a>,
        msku: Text<'a>,
        small_image_url: Text<'a>,
        after_type: Text<'a>,
        after_quantity: Int,
        after_reason: Text<'a>,
        after_time: Text<'a>,
        data_update_time: Text<'a>,
        refund_amount: Text<'a>,
        refund_currency_icon: Text<'a>,
        return_status: Text<'a>,
        buyers_note: Text<'a>,
        carriers: Text<'a>,
        waybill_number: Text<'a>,
        exchange_order_number: Text<'a>,
    }
}

/// Lingxing: an appId that is also the AES key of the sign, one request in flight per appId
/// and URL, offset paging, order records holding several after-sale lines.
pub struct Lingxing;

pub const BASE_URL: &str = "https://openapi.lingxing.com";

const CREDENTIALS: &[CredentialField] = &[
    CredentialField { key: "app_id", var: "LINGXING_APP_ID", secret: false },
    CredentialField { key: "app_secret", var: "LINGXING_APP_SECRET", secret: true },
];

const LIST: ListScheme = ListScheme {
    paging: Paging::Offset,
    max_page_size: request::MAX_PAGE_LENGTH,
    export_page_size: request::EXPORT_PAGE_LENGTH,
    max_window_days: None,
    // 1: after-sale time (deal_time), 3: update time; Lingxing has no refund-date filter.
    date_fields: &[DateField::Created, DateField::Updated],
    records_hold_several: true,
};

impl Upstream for Lingxing {
    fn platform(&self) -> Platform {
        PLATFORM
    }
    fn default_base_url(&self) -> &'static str {
        BASE_URL
    }
    fn base_url_var(&self) -> &'static str {
        "LINGXING_BASE_URL"
    }
    fn credentials(&self) -> &'static [CredentialField] {
        CREDENTIALS
    }
    fn check_credentials(&self, credentials: &Credentials) -> Result<(), Error> {
        let len = credentials.get("app_id")?.len();
        if len == 16 {
            Ok(())
        } else {
            Err(Error::Sign(SignError::AppIdLength { len }))
        }
    }
    /// A token bucket of capacity 1 per appId and URL: requests are serial.
    fn rate_limit(&self) -> RateLimit {
        RateLimit::Serial
    }
    fn token_request(&self, account: &Account, ask: TokenAsk<'_>) -> Result<TokenFetch, Error> {
        let app_id = account.credentials.get("app_id")?;
        Ok(match ask.refresh_token {
            Some(rt) => {
                TokenFetch { request: request::refresh_request(&account.base_url, app_id, rt), is_refresh: true }
            }
            None => TokenFetch {
                request: request::token_request(&account.base_url, app_id, account.credentials.get("app_secret")?),
                is_refresh: false,
            },
        })
    }
    fn classify(&self, code: &str) -> Option<UpstreamClass> {
        match code.trim() {
            "0" | "200" => None,
            c => Some(classify(c)),
        }
    }
    fn list(&self) -> Result<&'static ListScheme, &'static str> {
        Ok(&LIST)
    }
    fn list_request(&self, account: &Account, token: &str, page: &ListPage, now_ms: u64) -> Result<Request, Error> {
        let app_id = account.credentials.get("app_id")?;
        request::LingxingAfterSaleList::for_page(page).to_request(&account.base_url, app_id, token, now_ms / 1000)
    }
    fn parse_page<'a>(&self, body: &'a str, options: NormalizeOptions) -> Result<Page<'a>, Error> {
        parse_page(body, options)
    }
}

/// Lingxing's error codes (UPSTREAMS.md). Success is `0`; the token endpoint says `"200"`.
pub fn classify(code: &str) -> UpstreamClass {
    match code {
        "2001003" | "2001005" => UpstreamClass::TokenRejected,
        "2001008" | "2001009" => UpstreamClass::RefreshTokenRejected,
        "2001001" | "2001002" | "3001002" => UpstreamClass::Auth,
        "2001007" => UpstreamClass::SignatureExpired,
        "3001008" | "103" => UpstreamClass::RateLimited,
        "102" => UpstreamClass::InvalidParameter,
        _ => UpstreamClass::Other,
    }
}

pub(crate) fn check_status(code: Option<Text<'_>>, message: Option<Text<'_>>) -> Result<(), Error> {
    match code.as_ref().map(|t| t.0.trim()) {
        Some("0") | Some("200") => Ok(()),
        Some(c) => Err(normalize::upstream_error(PLATFORM, c, message, classify(c))),
        None => Err(normalize::upstream_error(PLATFORM, "missing", message, UpstreamClass::Other)),
    }
}

/// Normalizes one page of the after-sale list: one [`AfterSale`] per `item_list` line.
pub fn parse_page<'a>(body: &'a str, options: NormalizeOptions) -> Result<Page<'a>, Error> {
    let mut records = Vec::new();
    let mut upstream_index: Vec<u32> = Vec::new();
    let (upstream_count, total);
    if options.include_raw {
        let env: LingxingEnvelope<'a, &'a RawValue> = parse_envelope(body)?;
        let (list, t) = unwrap_envelope(env)?;
        total = t;
        upstream_count = list.len();
        for (i, (rec, raw)) in parse_records::<LingxingRecord<'a>>(PLATFORM, &list, "data")?.into_iter().enumerate() {
            map_record(i, rec, Some(raw), &mut records)?;
            upstream_index.resize(records.len(), i as u32);
        }
    } else {
        // Boxed, as in xiaoe: growing a vector of boxes moves pointers, not records.
        let env: LingxingEnvelope<'a, Box<LingxingRecord<'a>>> = parse_envelope(body)?;
        let (list, t) = unwrap_envelope(env)?;
        total = t;
        upstream_count = list.len();
        records.reserve(list.len() * 2);
        upstream_index.reserve(list.len() * 2);
        for (i, rec) in list.into_iter().enumerate() {
            map_record(i, *rec, None, &mut records)?;
            upstream_index.resize(records.len(), i as u32);
        }
    }
    Ok(Page { upstream_index, records, total, upstream_count })
}

fn parse_envelope<'a, L: serde::Deserialize<'a>>(body: &'a str) -> Result<LingxingEnvelope<'a, L>, Error> {
    parse_body(PLATFORM, body).map_err(|e| match parse_body::<LingxingStatusOnly<'_>>(PLATFORM, body) {
        // An error envelope is reported as itself even when its other members do not have the
        // success shape. A success code (`0`, `" 0"`, the token endpoint's `"200"`) leaves the
        // parse error as the answer.
        Ok(s) if s.code.is_some() => match check_status(s.code, s.message) {
            Err(upstream) => upstream,
            Ok(()) => Error::Parse(e),
        },
        _ => Error::Parse(e),
    })
}

fn unwrap_envelope<L>(env: LingxingEnvelope<'_, L>) -> Result<(Vec<L>, Option<u64>), Error> {
    check_status(env.code, env.message)?;
    let list = env.data.map(|l| l.0).unwrap_or_default();
    let total = env.total.and_then(|Int(n)| u64::try_from(n).ok());
    Ok((list, total))
}

/// Amazon's return states, as Lingxing passes them on, in the model's vocabulary. A refund
/// line with no return state is a refund Amazon has already paid.
fn status_of(kind: Kind, return_status: &str, refunded: bool) -> Status {
    let s = return_status.trim();
    if s.is_empty() {
        return if kind == Kind::Refund && refunded { Status::Completed } else { Status::Unknown };
    }
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "pending" | "requested" | "pendingapproval" | "pending approval" => Status::Pending,
        "approved" | "authorized" | "authorised" => Status::AwaitingBuyerReturn,
        "in transit" | "intransit" | "shipped" => Status::AwaitingMerchantReceipt,
        "received" | "unit returned to inventory" | "returned" => Status::Refunding,
        "completed" | "complete" | "closed-completed" | "refunded" | "reimbursed" => Status::Completed,
        "rejected" | "denied" | "declined" => Status::Rejected,
        "cancelled" | "canceled" => Status::Cancelled,
        "closed" => Status::Closed,
        _ => Status::Unknown,
    }
}

fn map_record<'a>(
    index: usize,
    rec: LingxingRecord<'a>,
    raw: Option<&'a RawValue>,
    out: &mut Vec<AfterSale<'a>>,
) -> Result<(), Error> {
    let order_id = text(rec.amazon_order_id);
    let ctx = RecordCtx { platform: PLATFORM, index, id: order_id.as_deref() };
    // The marketplace gives the currency of bare `$` amounts and the zone of the site times.
    let site = rec.seller_country.as_ref().map(|c| marketplace::site(&c.0)).unwrap_or_default();
    let marketplace = site.currency;
    let lines = rec.item_list.map(|l| l.0).unwrap_or_default();
    if lines.is_empty() {
        return Err(ctx.invalid(
            "item_list",
            "[]",
            "an after-sale record with no lines: nothing identifies its after-sales",
        ));
    }
    for line in lines {
        let key = text(line.item_identifier)
            .or_else(|| text(line.md5_v2))
            .or_else(|| text(line.md5_new))
            .or_else(|| text(line.md5))
            .ok_or_else(|| {
                ctx.invalid("item_list.item_identifier", "", "missing, and so are md5_v2, md5_new and md5")
            })?;
        let after_type = text(line.after_type);
        let kind = match after_type.as_deref().map(str::trim) {
            Some("1") => Kind::Refund,
            Some("2") => Kind::ReturnRefund,
            Some("3") => Kind::Exchange,
            Some(name) => crate::upstreams::xiaoe::kind_from_chinese(name).ok_or_else(|| {
                ctx.invalid("item_list.after_type", name, "unknown after-sale type (expected 退款, 退货 or 换货)")
            })?,
            None => return Err(ctx.invalid("item_list.after_type", "", "missing")),
        };
        let fallback_symbol =
            text(line.refund_currency_icon).or_else(|| text(rec.total_refund_amount_currency_code.clone()));
        let refund = match text(line.refund_amount) {
            None => None,
            Some(amount) => Some(refund_money(&ctx, amount, fallback_symbol.as_deref(), marketplace)?),
        };
        let status_text = line.return_status.map(|t| t.0).unwrap_or(Cow::Borrowed(""));
        let status = status_of(kind, &status_text, refund.as_ref().is_some_and(|m| m.minor > 0));
        // Site time: the marketplace's own clock; with no known marketplace, no offset (SPEC §2).
        let after_time = ctx.time("item_list.after_time", &line.after_time, None)?;
        let after_time = match site.zone {
            Some(zone) => after_time.map(|t| t.in_zone(zone)),
            None => after_time,
        };
        let carrier = text(line.carriers);
        let waybill = text(line.waybill_number);
        let return_logistics = if carrier.is_some() || waybill.is_some() {
            Some(ReturnLogistics { carrier, waybill_id: waybill })
        } else {
            None
        };
        out.push(AfterSale {
            platform: PLATFORM,
            aftersale_id: key,
            order_id: order_id.clone(),
            out_order_id: None,
            kind,
            status,
            overdue: false,
            status_raw: Some(StatusRaw::Text(status_text)),
            refunded_at: if kind == Kind::Refund && refund.is_some() { after_time } else { None },
            refund,
            requested: None,
            items: alloc::vec![Item {
                // A line may leave asin/msku empty where its record has them (seed 003's second line).
                product_id: text(line.asin).or_else(|| text(rec.asin.clone())),
                sku_id: text(line.msku).or_else(|| text(rec.msku.clone())).or_else(|| text(line.local_sku)),
                name: text(line.item_name),
                quantity: ctx.count("item_list.after_quantity", line.after_quantity)?,
                unit_price: None,
                image_url: text(line.small_image_url),
                sku_info: None,
            }],
            reason: text(line.after_reason),
            buyer_note: text(line.buyers_note),
            merchant_note: None,
            buyer: Buyer::default(),
            return_logistics,
            exchange_order_id: text(line.exchange_order_number),
            created_at: after_time,
            // Lingxing's own clock: Beijing time, whatever the marketplace.
            updated_at: ctx.china_time("item_list.data_update_time", &line.data_update_time)?,
            raw: raw.map(Cow::Borrowed),
        });
    }
    Ok(())
}

/// `"-$4.700"` → 4.70 USD (refunds are reported negative; the model says what the buyer gets).
fn refund_money<'a>(
    ctx: &RecordCtx<'_>,
    amount: Cow<'a, str>,
    fallback_symbol: Option<&str>,
    marketplace: Option<Currency>,
) -> Result<Money<'a>, Error> {
    match amount {
        Cow::Borrowed(s) => refund_from_str(ctx, s, fallback_symbol, marketplace),
        Cow::Owned(s) => refund_from_str(ctx, &s, fallback_symbol, marketplace).map(Money::into_owned),
    }
}

fn refund_from_str<'s>(
    ctx: &RecordCtx<'_>,
    amount: &'s str,
    fallback_symbol: Option<&str>,
    marketplace: Option<Currency>,
) -> Result<Money<'s>, Error> {
    let bad = |reason| ctx.invalid("item_list.refund_amount", amount, reason);
    let parsed = money::split_amount(amount).map_err(|e| bad(e.reason()))?;
    let symbol = if parsed.symbol.is_empty() { fallback_symbol.unwrap_or("") } else { parsed.symbol };
    let currency = money::resolve_currency(symbol, marketplace).map_err(|e| bad(e.reason()))?;
    let minor = money::to_minor(&parsed.digits, currency.exponent).map_err(|e| bad(e.reason()))?;
    Ok(Money { currency, minor, decimal: Decimal::Given(parsed.digits) })
}
