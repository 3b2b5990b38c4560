//! WeChat transaction component: after-sales of one order, `POST /shop/aftersale/get` (seed 000).

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;

use serde_json::value::RawValue;

use crate::model::{AfterSale, Buyer, Item, Kind, Platform, Status, StatusRaw};
use crate::parse::normalize::{map_records, parse_body, parse_records, text, NormalizeOptions, Page, RecordCtx};
use crate::parse::wire::{wire_struct, Int, List, Text};
use crate::Error;

const PLATFORM: Platform = Platform::WechatShop;

wire_struct! {
    /// `{errcode, errmsg, aftersale_infos}`; the seed spells the list `"aftersale_Infos "`.
    pub struct WechatShopEnvelope<'a, L> {
        errcode: Int,
        errmsg: Text<'a>,
        aftersale_infos: List<L>,
    }
}

wire_struct! {
    /// One after-sale of the order (`aftersale_infos[]`).
    pub struct WechatShopAfterSale<'a> {
        aftersale_id: Text<'a>,
        out_aftersale_id: Text<'a>,
        order_id: Text<'a>,
        out_order_id: Text<'a>,
        openid: Text<'a>,
        r#type: Int | "type",
        status: Int,
        create_time: Text<'a> | "craete_time",
        update_time: Text<'a>,
        refund: Int,
        orderamt: Int,
        refund_reason: Text<'a>,
        product_infos: List<WechatShopProduct<'a>>,
    }
}

wire_struct! {
    /// One returned product (`product_infos[]`, spelt `"product_Infos "` in the seed).
    pub struct WechatShopProduct<'a> {
        out_product_id: Text<'a> | "product_id",
        out_sku_id: Text<'a> | "sku_id",
        product_cnt: Int,
    }
}

/// Normalizes the after-sales of one order. `total` is the list's length: there is no paging.
pub fn parse_page<'a>(body: &'a str, options: NormalizeOptions) -> Result<Page<'a>, Error> {
    let records = if options.include_raw {
        let env: WechatShopEnvelope<'a, &'a RawValue> =
            parse_body(PLATFORM, body).map_err(|e| super::error_or_parse(PLATFORM, body, e))?;
        super::check_status(PLATFORM, env.errcode, env.errmsg)?;
        let list = env.aftersale_infos.map(|l| l.0).unwrap_or_default();
        let typed = parse_records::<WechatShopAfterSale<'a>>(PLATFORM, &list, "aftersale_infos")?;
        map_records(typed, |i, (rec, raw)| map_after_sale(i, rec, Some(raw)))?
    } else {
        let env: WechatShopEnvelope<'a, Box<WechatShopAfterSale<'a>>> =
            parse_body(PLATFORM, body).map_err(|e| super::error_or_parse(PLATFORM, body, e))?;
        super::check_status(PLATFORM, env.errcode, env.errmsg)?;
        let list = env.aftersale_infos.map(|l| l.0).unwrap_or_default();
        map_records(list, |i, rec| map_after_sale(i, *rec, None))?
    };
    Ok(Page { upstream_index: Vec::new(), total: Some(records.len() as u64), upstream_count: records.len(), records })
}

fn map_after_sale<'a>(
    index: usize,
    rec: WechatShopAfterSale<'a>,
    raw: Option<&'a RawValue>,
) -> Result<AfterSale<'a>, Error> {
    let order_id = text(rec.order_id);
    let out_order_id = text(rec.out_order_id);
    // The seed's example carries neither after-sale id; an order's list is stable, so the
    // order id and the position in it identify the after-sale.
    let aftersale_id = match (text(rec.aftersale_id), text(rec.out_aftersale_id)) {
        (Some(id), _) | (None, Some(id)) => id,
        (None, None) => match order_id.as_deref().or(out_order_id.as_deref()) {
            Some(order) => Cow::Owned(format!("{order}#{}", index + 1)),
            None => {
                let ctx = RecordCtx { platform: PLATFORM, index, id: None };
                return Err(ctx.invalid(
                    "aftersale_id",
                    "",
                    "missing, and so are out_aftersale_id, order_id and out_order_id",
                ));
            }
        },
    };
    let ctx = RecordCtx { platform: PLATFORM, index, id: Some(&aftersale_id) };
    let kind = match rec.r#type {
        Some(Int(1)) => Kind::Refund,
        Some(Int(2)) => Kind::ReturnRefund,
        Some(Int(3)) => Kind::Exchange,
        Some(Int(n)) => return Err(ctx.invalid("type", n, "unknown after-sale type (expected 1, 2 or 3)")),
        None => return Err(ctx.invalid("type", "", "missing")),
    };
    let (status, overdue, status_raw) = match rec.status {
        Some(Int(code)) => {
            let (s, o) = Status::from_shared_code(code);
            (s, o, Some(StatusRaw::Number(code)))
        }
        None => (Status::Unknown, false, None),
    };
    let mut items = Vec::new();
    for p in rec.product_infos.map(|l| l.0).unwrap_or_default() {
        items.push(Item {
            product_id: text(p.out_product_id),
            sku_id: text(p.out_sku_id),
            name: None,
            quantity: ctx.count("product_infos.product_cnt", p.product_cnt)?,
            unit_price: None,
            image_url: None,
            sku_info: None,
        });
    }
    Ok(AfterSale {
        platform: PLATFORM,
        order_id,
        out_order_id,
        kind,
        status,
        overdue,
        status_raw,
        refund: ctx.fen("refund", rec.refund)?,
        requested: ctx.fen("orderamt", rec.orderamt)?,
        items,
        reason: text(rec.refund_reason),
        buyer_note: None,
        merchant_note: None,
        buyer: Buyer { openid: text(rec.openid), user_id: None, nickname: None },
        return_logistics: None,
        exchange_order_id: None,
        created_at: ctx.china_time("create_time", &rec.create_time)?,
        updated_at: ctx.china_time("update_time", &rec.update_time)?,
        refunded_at: None,
        raw: raw.map(Cow::Borrowed),
        aftersale_id,
    })
}
