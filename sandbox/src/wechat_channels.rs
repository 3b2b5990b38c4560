//! WeChat Channels shop (`channels/ec`): the after-sale id list by time (windows of at most
//! 24 h, `next_key`) and one after-sale by id, on the calendar like the other upstreams. The
//! token is WeChat's stable token (`wechat::token`, shared path).
//!
//! Record `i` (a slot of an absolute day) is a pure function of `i`; the caller's clock decides
//! whether it exists yet and how far its status has moved. The list is ascending by the queried
//! time, then id; a window's ends are both included (the facts document leaves it open, §13),
//! so a record exactly on a midnight is listed in two adjacent windows, as the real one may do.
//! `next_key` is a keyset cursor (the last time and index served) bound to its window.

use serde::Serialize;
use serde_json::Value;

use aftersale::http::Response;

use crate::calendar::{moment_in, slot_of, Calendar, Life, Week, CHINA, DAY};
use crate::request::{int_of, ok, Ctx};
use crate::rng::{stream, Rng};
use crate::wechat::Error;

/// After-sales created per day of the week: eight a week, about 240 in the window.
pub(crate) const CHANNELS_WEEK: Week = [1, 1, 2, 1, 1, 1, 1];

/// Ids a list page holds (not settable on the real API either).
const PAGE_SIZE: usize = 10;
const MAX_WINDOW_S: i64 = 86_400;
/// Ids are 19 digits, beyond 2^53: neighbours collide when read as floats.
const ID_BASE: u64 = 3_712_345_678_900_000_000;

/// Every status of §5.5, each present in the data; finished ones carry a `complete_time`.
const STATUSES: &[(&str, bool)] = &[
    ("USER_CANCELD", true),
    ("MERCHANT_PROCESSING", false),
    ("MERCHANT_REJECT_REFUND", true),
    ("MERCHANT_REJECT_RETURN", true),
    ("USER_WAIT_RETURN", false),
    ("RETURN_CLOSED", true),
    ("MERCHANT_WAIT_RECEIPT", false),
    ("MERCHANT_OVERDUE_REFUND", false),
    ("MERCHANT_REFUND_SUCCESS", true),
    ("MERCHANT_RETURN_SUCCESS", true),
    ("PLATFORM_REFUNDING", false),
    ("PLATFORM_REFUND_FAIL", false),
    ("USER_WAIT_CONFIRM", false),
    ("MERCHANT_REFUND_RETRY_FAIL", true),
    ("MERCHANT_FAIL", true),
    ("USER_WAIT_CONFIRM_UPDATE", false),
    ("USER_WAIT_HANDLE_MERCHANT_AFTER_SALE", false),
    ("WAIT_PACKAGE_INTERCEPT", false),
    ("MERCHANT_REJECT_EXCHANGE", true),
    ("MERCHANT_REJECT_RESHIP", true),
    ("USER_WAIT_RECEIPT", false),
    ("MERCHANT_EXCHANGE_SUCCESS", true),
    ("PLATFORM_PROCESSING", false),
];

const TYPES: [&str; 3] = ["REFUND", "RETURN", "EXCHANGE"];

const REASONS: &[(&str, &str)] = &[
    ("INCORRECT_SELECTION", "拍错/多拍"),
    ("NO_LONGER_WANT", "不想要了"),
    ("QUALITY_ISSUE", "质量问题"),
    ("NOT_MATCH_PRODUCT_DESC", "与商品描述不符"),
    ("8", "少件/漏发"),
];

/// A record's dates and kind: cheap, for filtering and sorting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CSkel {
    pub index: u64,
    /// Unix seconds.
    pub create: i64,
    /// The time of its status at the caller's clock.
    pub update: i64,
    /// Its status at the caller's clock, an index of [`STATUSES`].
    pub status: usize,
    pub kind: usize,
}

pub(crate) fn c_id(i: u64) -> String {
    (ID_BASE + i * 1_000_003).to_string()
}

/// The slot index an id names, if it names one.
fn index_of(id: &str) -> Option<u64> {
    let n: u64 = id.parse().ok()?;
    let off = n.checked_sub(ID_BASE)?;
    let i = off / 1_000_003;
    (off % 1_000_003 == 0 && slot_of(&CHANNELS_WEEK, i).is_some()).then_some(i)
}

/// The way to a last status (indices of [`STATUSES`]): the merchant processes the request, the
/// buyer sends the goods back, the merchant receives them, the money or the new goods go out.
fn path(last: u8) -> &'static [u8] {
    const PROCESSING: u8 = 1;
    match last {
        PROCESSING => &[PROCESSING],
        4 => &[PROCESSING, 4],
        5 => &[PROCESSING, 4, 5],
        6 => &[PROCESSING, 4, 6],
        9 => &[PROCESSING, 4, 6, 9],
        19 => &[PROCESSING, 4, 6, 19],
        20 => &[PROCESSING, 4, 6, 20],
        21 => &[PROCESSING, 4, 6, 20, 21],
        8 => &[PROCESSING, 10, 8],
        11 => &[PROCESSING, 10, 11],
        13 => &[PROCESSING, 10, 11, 13],
        0 => &[PROCESSING, 0],
        2 => &[PROCESSING, 2],
        3 => &[PROCESSING, 3],
        7 => &[PROCESSING, 7],
        10 => &[PROCESSING, 10],
        12 => &[PROCESSING, 12],
        14 => &[PROCESSING, 14],
        15 => &[PROCESSING, 15],
        16 => &[PROCESSING, 16],
        17 => &[PROCESSING, 17],
        18 => &[PROCESSING, 18],
        _ => &[PROCESSING, 22],
    }
}

/// Record `i` (a slot index) as it stands at `now` (China-local seconds); `None` for an index
/// no slot has.
pub(crate) fn c_skel(now: i64, i: u64) -> Option<CSkel> {
    let slot = slot_of(&CHANNELS_WEEK, i)?;
    let mut r = Rng::new(stream::C_RECORD, i);
    // Local seconds, China time; every 11th record exactly on a midnight (window boundaries).
    let created_local = if slot.seq % 11 == 0 { slot.day * DAY } else { moment_in(&mut r, slot.day) };
    // Every 13th moves on exactly at the next midnight.
    let on_midnight = slot.seq % 13 == 0;
    let mut first_step = true;
    let delay = |r: &mut Rng, _| {
        if std::mem::take(&mut first_step) && on_midnight {
            (created_local.div_euclid(DAY) + 1) * DAY - created_local
        } else {
            r.between(10 * 60, 2 * DAY)
        }
    };
    // The records walk every (type, last status) pair in turn.
    let pair = (slot.seq % (STATUSES.len() * TYPES.len()) as u64) as usize;
    let life = Life::new(&mut r, created_local, path((pair % STATUSES.len()) as u8), delay);
    let (status, updated_local) = life.at(now);
    Some(CSkel {
        index: i,
        create: created_local - CHINA,
        update: updated_local - CHINA,
        status: usize::from(status),
        kind: pair / STATUSES.len() % TYPES.len(),
    })
}

/// The records of the window that exist at its clock.
pub(crate) fn skeletons(cal: Calendar) -> impl Iterator<Item = CSkel> {
    cal.slots(&CHANNELS_WEEK, 0)
        .filter_map(move |s| c_skel(cal.now, s.index))
        .filter(move |s| s.create + CHINA <= cal.now)
}

fn error(errcode: i64, errmsg: &str) -> Response {
    ok(&Error { errcode, errmsg: &format!("{errmsg} rid: 5a1d0c3e-sandbox") })
}

/// Data calls need POST and a token (any non-empty one: the sandbox checks no issuance).
fn check_call(ctx: &Ctx<'_>) -> Result<serde_json::Map<String, Value>, Response> {
    if !ctx.is_post() {
        return Err(error(43002, "require POST method"));
    }
    if ctx.param("access_token").is_none_or(str::is_empty) {
        return Err(error(41001, "access_token missing"));
    }
    if ctx.request.body.is_empty() {
        return Err(error(44002, "empty post data"));
    }
    ctx.json_body().ok_or_else(|| error(47001, "data format error"))
}

#[derive(Serialize)]
struct ListAnswer {
    errcode: i64,
    errmsg: &'static str,
    after_sale_order_id_list: Vec<String>,
    has_more: bool,
    next_key: String,
}

/// `POST /channels/ec/aftersale/getaftersalelist`.
pub(crate) fn list(ctx: &Ctx<'_>) -> Response {
    let body = match check_call(ctx) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let pair = |b: &str, e: &str| match (body.get(b), body.get(e)) {
        (None, None) => Ok(None),
        (Some(bv), Some(ev)) => match (int_of(bv), int_of(ev)) {
            (Some(bs), Some(es)) if bv.is_number() && ev.is_number() => Ok(Some((bs, es))),
            _ => Err(error(47001, &format!("data format error: {b}/{e} must be integers"))),
        },
        _ => Err(error(47001, &format!("data format error: {b} and {e} go together"))),
    };
    let (created, updated) =
        match (pair("begin_create_time", "end_create_time"), pair("begin_update_time", "end_update_time")) {
            (Ok(c), Ok(u)) => (c, u),
            (Err(r), _) | (_, Err(r)) => return r,
        };
    let (by_update, (begin, end)) = match (created, updated) {
        (Some(w), None) => (false, w),
        (None, Some(w)) => (true, w),
        _ => return error(47001, "data format error: send one time pair"),
    };
    if end < begin || end - begin > MAX_WINDOW_S {
        return error(10020004, "非法的时间区间，不得大于24小时");
    }
    let window = format!("{begin}-{end}-{}", u8::from(by_update));
    let after = match body.get("next_key") {
        None => None,
        Some(Value::String(k)) if k.is_empty() => None,
        Some(Value::String(k)) => match parse_key(k, &window) {
            Some(pos) => Some(pos),
            None => return error(47001, "data format error: next_key is not this window's"),
        },
        Some(_) => return error(47001, "data format error: next_key must be a string"),
    };
    let time = |s: &CSkel| if by_update { s.update } else { s.create };
    let mut hits: Vec<(i64, u64)> = skeletons(ctx.cal)
        .filter(|s| (begin..=end).contains(&time(s)))
        .map(|s| (time(&s), s.index))
        .filter(|k| after.is_none_or(|a| *k > a))
        .collect();
    hits.sort_unstable();
    let has_more = hits.len() > PAGE_SIZE;
    hits.truncate(PAGE_SIZE);
    let next_key = hits.last().map(|(t, i)| format!("{window}.{t}.{i}")).unwrap_or_default();
    ok(&ListAnswer {
        errcode: 0,
        errmsg: "ok",
        after_sale_order_id_list: hits.iter().map(|&(_, i)| c_id(i)).collect(),
        has_more,
        next_key,
    })
}

fn parse_key(key: &str, window: &str) -> Option<(i64, u64)> {
    let rest = key.strip_prefix(window)?.strip_prefix('.')?;
    let (t, i) = rest.split_once('.')?;
    Some((t.parse().ok()?, i.parse().ok()?))
}

#[derive(Serialize)]
struct OrderAnswer {
    errcode: i64,
    errmsg: &'static str,
    after_sale_order: Value,
}

/// `POST /channels/ec/aftersale/getaftersaleorder {after_sale_order_id}`: the id must be a
/// JSON string (a number would lose digits); unknown: 10021050.
pub(crate) fn detail(ctx: &Ctx<'_>) -> Response {
    let body = match check_call(ctx) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let id = match body.get("after_sale_order_id") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return error(47001, "data format error: after_sale_order_id must be a string"),
        None => return error(47001, "data format error: after_sale_order_id missing"),
    };
    // Any record born by now, in the window or before it (a mirror looks old ones up too).
    match index_of(&id).and_then(|i| c_skel(ctx.cal.now, i)).filter(|s| s.create + CHINA <= ctx.cal.now) {
        Some(s) => ok(&OrderAnswer { errcode: 0, errmsg: "ok", after_sale_order: render(s) }),
        None => error(10021050, "售后单不存在"),
    }
}

/// The full `after_sale_order` (§5.3), fields by status as the facts document describes.
pub(crate) fn render(s: CSkel) -> Value {
    let mut r = Rng::new(stream::C_DETAIL, s.index);
    let (status, finished) = STATUSES[s.status];
    let kind = TYPES[s.kind];
    let count = 1 + r.below(3) as i64;
    let unit = 990 + r.below(40_000) as i64;
    let (reason, reason_text) = r.pick(REASONS);
    let shipped =
        kind != "REFUND" && !matches!(status, "MERCHANT_PROCESSING" | "USER_WAIT_RETURN" | "MERCHANT_REJECT_RETURN");
    let (waybill, delivery_id, delivery_name) = if shipped {
        (format!("SF{}", 1_400_000_000_000u64 + s.index * 7919), "SF", "顺丰速运")
    } else {
        (String::new(), "", "")
    };
    let deadline = match status {
        "MERCHANT_PROCESSING" => s.update + 2 * DAY,
        "MERCHANT_WAIT_RECEIPT" => s.update + 7 * DAY,
        _ => 0,
    };
    let mut rec = serde_json::json!({
        "after_sale_order_id": c_id(s.index),
        "status": status,
        "openid": format!("o9AgO5Sandbox{:014}", s.index * 37),
        "unionid": format!("oUnion{:016}", s.index * 53),
        "product_info": {"product_id": (10_000_000_000u64 + s.index % 17).to_string(), "sku_id": (20_000_000_000u64 + s.index % 29).to_string(), "count": count},
        "details": {"desc": "商品与描述不符，申请售后", "receive_product": shipped, "prove_imgs": []},
        "refund_info": {"amount": unit * count, "refund_reason": 1},
        "return_info": {"waybill_id": waybill, "delivery_id": delivery_id, "delivery_name": delivery_name},
        "merchant_upload_info": {"reject_reason": if status.starts_with("MERCHANT_REJECT") { "商品已影响二次销售" } else { "" }, "refund_certificates": []},
        "create_time": s.create,
        "update_time": s.update,
        "reason": reason,
        "reason_text": reason_text,
        "type": kind,
        "order_id": (3_705_115_058_000_000_000u64 + s.index * 131).to_string(),
    });
    if deadline > 0 {
        rec["deadline"] = deadline.into();
    }
    if finished {
        rec["complete_time"] = s.update.into();
    }
    rec
}
