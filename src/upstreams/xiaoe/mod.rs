//! Xiaoe-tech (小鹅通): the after-sale list, `POST /xe.ecommerce.after_sale.list/1.0.0` (seed 001).
//!
//! Wire types, mapping into the model, and the classification of Xiaoe's error codes. Request
//! building and pagination live in [`request`].

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::vec::Vec;

use serde_json::value::RawValue;

use crate::error::UpstreamClass;
use crate::model::{AfterSale, Buyer, Item, Kind, Platform, Status, StatusRaw};
use crate::parse::normalize::{self, map_records, parse_body, parse_records, text, NormalizeOptions, Page, RecordCtx};
use crate::parse::wire::{wire_struct, Int, List, Text};
use crate::protocol::account::Account;
use crate::protocol::http::Request;
use crate::protocol::pacing::RateLimit;
use crate::protocol::query::DateField;
use crate::protocol::upstream::{
    numeric_code, CredentialField, ListPage, ListScheme, Paging, TokenAsk, TokenFetch, Upstream,
};
use crate::Error;

pub mod request;

const PLATFORM: Platform = Platform::Xiaoe;

wire_struct! {
    /// `{code, msg, data: {list, row_count}}`; `L` is the list's element: typed or raw.
    pub struct XiaoeEnvelope<'a, L> {
        code: Int,
        msg: Text<'a>,
        data: XiaoeData<'a, L>,
    }
}

wire_struct! {
    pub struct XiaoeData<'a, L> {
        list: List<L>,
        row_count: Int,
    }
}

wire_struct! {
    /// One after-sale of the list (seed 001, `data.list[]`).
    pub struct XiaoeAfterSale<'a> {
        aftersale_id: Text<'a>,
        order_id: Text<'a>,
        out_order_id: Text<'a>,
        transaction_id: Text<'a>,
        actual_fee: Int,
        apply_refund_money: Int,
        refund_money: Int,
        original_price: Int,
        created_at: Text<'a>,
        updated_at: Text<'a>,
        refund_time: Text<'a>,
        apply_time: Text<'a>,
        goods_name: Text<'a>,
        img_url: Text<'a>,
        nick_name: Text<'a>,
        user_id: Text<'a> | "order_user_id",
        reason: Text<'a>,
        sale_type: Int,
        sale_type_name: Text<'a>,
        sku_info: Text<'a>,
        sku_id: Text<'a>,
        state: Int,
        remark: Text<'a>,
        merchant_remark: Text<'a>,
        goods_list: List<XiaoeGoods<'a>>,
    }
}

wire_struct! {
    /// One product of an after-sale (`goods_list[]`).
    pub struct XiaoeGoods<'a> {
        buy_num: Int,
        goods_name: Text<'a>,
        goods_price: Int,
        img_url: Text<'a>,
        sku_info: Text<'a>,
        sku_id: Text<'a>,
        resource_id: Text<'a> | "goods_id",
    }
}

wire_struct! {
    /// Just the status part of the envelope, read when the full shape does not parse, so an
    /// upstream error is reported as itself rather than as a parse error.
    pub struct XiaoeStatusOnly<'a> {
        code: Int,
        msg: Text<'a>,
    }
}

/// Xiaoe: one account of three credentials, 300 calls a minute, pages by number over windows
/// of at most 31 days.
pub struct Xiaoe;

pub const BASE_URL: &str = "https://api.xiaoe-tech.com";

const CREDENTIALS: &[CredentialField] = &[
    CredentialField { key: "app_id", var: "XIAOE_APP_ID", secret: false },
    CredentialField { key: "client_id", var: "XIAOE_CLIENT_ID", secret: true },
    CredentialField { key: "secret_key", var: "XIAOE_SECRET_KEY", secret: true },
];

const LIST: ListScheme = ListScheme {
    paging: Paging::PageNumber,
    max_page_size: request::MAX_PAGE_SIZE,
    export_page_size: request::MAX_PAGE_SIZE,
    max_window_days: Some(request::MAX_WINDOW_DAYS),
    date_fields: &[DateField::Created, DateField::Updated, DateField::Refunded],
    records_hold_several: false,
};

impl Upstream for Xiaoe {
    fn platform(&self) -> Platform {
        PLATFORM
    }
    fn default_base_url(&self) -> &'static str {
        BASE_URL
    }
    fn base_url_var(&self) -> &'static str {
        "XIAOE_BASE_URL"
    }
    fn credentials(&self) -> &'static [CredentialField] {
        CREDENTIALS
    }
    fn rate_limit(&self) -> RateLimit {
        request::RATE_LIMIT
    }
    fn token_request(&self, account: &Account, _ask: TokenAsk<'_>) -> Result<TokenFetch, Error> {
        let c = &account.credentials;
        let request =
            request::token_request(&account.base_url, c.get("app_id")?, c.get("client_id")?, c.get("secret_key")?);
        Ok(TokenFetch { request, is_refresh: false })
    }
    fn classify(&self, code: &str) -> Option<UpstreamClass> {
        match numeric_code(code) {
            Some(0) => None,
            Some(c) => Some(classify(c)),
            None => Some(UpstreamClass::Other),
        }
    }
    fn list(&self) -> Result<&'static ListScheme, &'static str> {
        Ok(&LIST)
    }
    fn list_request(&self, account: &Account, token: &str, page: &ListPage, _now_ms: u64) -> Result<Request, Error> {
        Ok(request::XiaoeAfterSaleList::for_page(page).to_request(&account.base_url, token))
    }
    fn parse_page<'a>(&self, body: &'a str, options: NormalizeOptions) -> Result<Page<'a>, Error> {
        parse_page(body, options)
    }
}

/// Xiaoe's error codes (UPSTREAMS.md; partly reported, not officially confirmed).
pub fn classify(code: i64) -> UpstreamClass {
    match code {
        2007 | 2008 => UpstreamClass::TokenRejected,
        2017 | 2051 => UpstreamClass::Auth,
        2053 | 2054 => UpstreamClass::RateLimited,
        500..=599 => UpstreamClass::Transient,
        _ => UpstreamClass::Other,
    }
}

fn check_status(code: Option<Int>, msg: Option<Text<'_>>) -> Result<(), Error> {
    match code {
        Some(Int(0)) => Ok(()),
        Some(Int(c)) => Err(normalize::upstream_error(PLATFORM, c, msg, classify(c))),
        None => Err(normalize::upstream_error(PLATFORM, "missing", msg, UpstreamClass::Other)),
    }
}

/// Normalizes one page of the after-sale list.
pub fn parse_page<'a>(body: &'a str, options: NormalizeOptions) -> Result<Page<'a>, Error> {
    if options.include_raw {
        let env: XiaoeEnvelope<'a, &'a RawValue> = parse_envelope(body)?;
        let (list, total) = unwrap_envelope(body, env)?;
        let typed = parse_records::<XiaoeAfterSale<'a>>(PLATFORM, &list, "data.list")?;
        let records = map_records(typed, |i, (rec, raw)| map_after_sale(i, rec, Some(raw)))?;
        Ok(Page { upstream_index: Vec::new(), upstream_count: records.len(), records, total })
    } else {
        // Boxed: a page holds thousands of these large structs, and a growing vector of boxes
        // moves pointers, not records.
        let env: XiaoeEnvelope<'a, Box<XiaoeAfterSale<'a>>> = parse_envelope(body)?;
        let (list, total) = unwrap_envelope(body, env)?;
        let records = map_records(list, |i, rec| map_after_sale(i, *rec, None))?;
        Ok(Page { upstream_index: Vec::new(), upstream_count: records.len(), records, total })
    }
}

fn parse_envelope<'a, L: serde::Deserialize<'a>>(body: &'a str) -> Result<XiaoeEnvelope<'a, L>, Error> {
    parse_body(PLATFORM, body).map_err(|e| match parse_body::<XiaoeStatusOnly<'_>>(PLATFORM, body) {
        Ok(s) if s.code.is_some_and(|c| c.0 != 0) => check_status(s.code, s.msg).unwrap_err(),
        _ => Error::Parse(e),
    })
}

fn unwrap_envelope<'a, L>(body: &str, env: XiaoeEnvelope<'a, L>) -> Result<(Vec<L>, Option<u64>), Error> {
    check_status(env.code, env.msg)?;
    let data = env.data.ok_or_else(|| normalize::missing(PLATFORM, body, "data"))?;
    let list = data.list.map(|l| l.0).unwrap_or_default();
    let total = match data.row_count {
        Some(Int(n)) => {
            Some(u64::try_from(n).map_err(|_| normalize::missing(PLATFORM, body, "a non-negative data.row_count"))?)
        }
        None => None,
    };
    Ok((list, total))
}

/// Kind from `sale_type`, else from `sale_type_name` (the seed's example has only the name),
/// else from an exchange-only state (15–19).
fn kind_of(ctx: &RecordCtx<'_>, rec: &XiaoeAfterSale<'_>) -> Result<Kind, Error> {
    match rec.sale_type {
        Some(Int(1)) => return Ok(Kind::Refund),
        Some(Int(2)) => return Ok(Kind::ReturnRefund),
        Some(Int(3)) => return Ok(Kind::Exchange),
        _ => {}
    }
    if let Some(Text(name)) = &rec.sale_type_name {
        if let Some(kind) = kind_from_chinese(name) {
            return Ok(kind);
        }
    }
    if let Some(Int(15..=19)) = rec.state {
        return Ok(Kind::Exchange);
    }
    match (&rec.sale_type, &rec.sale_type_name) {
        (Some(Int(n)), _) => Err(ctx.invalid("sale_type", n, "unknown after-sale type (expected 1, 2 or 3)")),
        (None, Some(Text(name))) => Err(ctx.invalid("sale_type_name", name, "unknown after-sale type name")),
        (None, None) => Err(ctx.invalid("sale_type", "", "missing: neither sale_type nor sale_type_name given")),
    }
}

/// `退款` / `仅退款` refund, `退货退款` / `退款退货` / `退货` return and refund, `换货` exchange.
pub(crate) fn kind_from_chinese(name: &str) -> Option<Kind> {
    let name = name.trim_ascii();
    if name.contains("换货") {
        Some(Kind::Exchange)
    } else if name.contains("退货") {
        Some(Kind::ReturnRefund)
    } else if name.contains("退款") {
        Some(Kind::Refund)
    } else {
        None
    }
}

fn map_after_sale<'a>(
    index: usize,
    rec: XiaoeAfterSale<'a>,
    raw: Option<&'a RawValue>,
) -> Result<AfterSale<'a>, Error> {
    let id = text(rec.aftersale_id.clone());
    let ctx = RecordCtx { platform: PLATFORM, index, id: id.as_deref() };
    let aftersale_id =
        id.clone().ok_or_else(|| ctx.invalid("aftersale_id", "", "missing: every after-sale needs its id"))?;
    let kind = kind_of(&ctx, &rec)?;
    let (status, overdue, status_raw) = match rec.state {
        Some(Int(code)) => {
            let (s, o) = Status::from_shared_code(code);
            (s, o, Some(StatusRaw::Number(code)))
        }
        None => (Status::Unknown, false, None),
    };
    let refund = ctx.fen("refund_money", rec.refund_money)?;
    let requested = ctx.fen("apply_refund_money", rec.apply_refund_money)?;
    let created_at = ctx.china_time("created_at", &rec.created_at)?;
    let updated_at = ctx.china_time("updated_at", &rec.updated_at)?;
    let refunded_at = ctx.china_time("refund_time", &rec.refund_time)?;
    let goods = rec.goods_list.map(|l| l.0).unwrap_or_default();
    let single = goods.len() == 1;
    let mut items = Vec::with_capacity(goods.len().max(1));
    for g in goods {
        items.push(Item {
            product_id: text(g.resource_id),
            sku_id: text(g.sku_id).or_else(|| if single { text(rec.sku_id.clone()) } else { None }),
            name: text(g.goods_name),
            quantity: ctx.count("goods_list.buy_num", g.buy_num)?,
            unit_price: ctx.fen("goods_list.goods_price", g.goods_price)?,
            image_url: text(g.img_url),
            sku_info: text(g.sku_info),
        });
    }
    if items.is_empty() && rec.goods_name.is_some() {
        // No goods_list: the record-level product fields describe the one product.
        items.push(Item {
            product_id: None,
            sku_id: text(rec.sku_id),
            name: text(rec.goods_name),
            quantity: None,
            unit_price: None,
            image_url: text(rec.img_url),
            sku_info: text(rec.sku_info),
        });
    }
    Ok(AfterSale {
        platform: PLATFORM,
        aftersale_id,
        order_id: text(rec.order_id),
        out_order_id: text(rec.out_order_id),
        kind,
        status,
        overdue,
        status_raw,
        refund,
        requested,
        items,
        reason: text(rec.reason),
        buyer_note: text(rec.remark),
        merchant_note: text(rec.merchant_remark),
        buyer: Buyer { openid: None, user_id: text(rec.user_id), nickname: text(rec.nick_name) },
        return_logistics: None,
        exchange_order_id: None,
        created_at,
        updated_at,
        refunded_at,
        raw: raw.map(Cow::Borrowed),
    })
}
