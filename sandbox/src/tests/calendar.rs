//! The calendar relative to the caller's day: a newcomer's "last 30 days" has answers on every
//! platform, a day gives the same bytes all day, and another day slides the same records.

use super::*;

/// 2026-12-01T04:00:00Z, a noon in China.
const LATER: u64 = 1_796_097_600_000;

/// The newcomer's question: the last 30 days, today included (the range ends tomorrow).
fn last_30_days(now: u64) -> (Date, Date) {
    let today = range(now).to;
    (today.add_days(-29), today.add_days(1))
}

fn list_at(now: u64, platform: Platform, from: Date, to: Date, field: DateField) -> Vec<Value> {
    let mut query = ListQuery::new(platform, from, to);
    query.date_field = field;
    query.limit = 100;
    drive_at(now, query, true)
}

/// The after-sales of every WeChat order at `now`, normalized.
fn wechat_aftersales(now: u64) -> Vec<Value> {
    let mut out = Vec::new();
    for o in sandbox_orders(now) {
        let req = WechatShopAfterSales { order: OrderRef::OutOrderId(o.out_order_id.clone()), openid: o.openid }
            .to_request(SANDBOX_BASE_URL, TOKEN);
        let resp = answer(&req, now);
        let page = normalize_page(Platform::WechatShop, &resp.body, NormalizeOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", o.out_order_id));
        assert_eq!(page.records.len(), o.aftersales, "{}", o.out_order_id);
        out.extend(page.records.iter().map(|r| serde_json::to_value(r).unwrap()));
    }
    out
}

fn created_day(r: &Value) -> Date {
    date(&r["created_at"].as_str().unwrap()[..10])
}

/// Seconds of a normalized time's local date and time (its offset, if any, ignored: both sides
/// of a comparison have the same).
fn local_seconds(r: &Value, field: &str) -> i64 {
    let text = r[field].as_str().unwrap_or_else(|| panic!("no {field} in {r}"));
    let part = |range: std::ops::Range<usize>| -> i64 { text[range].parse().unwrap() };
    date(&text[..10]).days_since_epoch() * 86_400 + part(11..13) * 3600 + part(14..16) * 60 + part(17..19)
}

/// The instant of an RFC 3339 time with its offset, in unix seconds (Lingxing's site times move
/// with daylight saving, so the same instant a few weeks on can read another local hour).
fn instant_seconds(r: &Value, field: &str) -> i64 {
    let text = r[field].as_str().unwrap_or_else(|| panic!("no {field} in {r}"));
    let offset = &text[19..];
    let minutes: i64 = match offset {
        "Z" | "" => 0,
        o => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o[1..3].parse::<i64>().unwrap() * 60 + o[4..6].parse::<i64>().unwrap())
        }
    };
    local_seconds(r, field) - minutes * 60
}

#[test]
fn the_range_ends_at_the_start_of_today_in_china() {
    // NOW is 16:53 in China on 2025-10-09.
    assert_eq!(range(NOW), Range { from: date("2025-10-09").add_days(-SPAN_DAYS), to: date("2025-10-09") });
    // 2025-10-08T16:00:00Z is midnight in China: already the 9th there.
    let midnight = 1_759_939_200_000;
    assert_eq!(range(midnight).to, date("2025-10-09"));
    assert_eq!(range(midnight - 1).to, date("2025-10-08"));
    assert_eq!(range(LATER).to, date("2026-12-01"));
    let serialized = serde_json::to_value(examples(NOW)).unwrap();
    assert_eq!(serialized["range"], serde_json::json!({"from": "2025-03-13", "to": "2025-10-09"}));
    assert_eq!(serialized["orders"].as_array().unwrap().len(), WECHAT_ORDERS);
    assert!(serialized["orders"][0]["aftersales"].is_u64());
}

#[test]
fn every_platform_has_records_in_the_last_30_days() {
    for now in [NOW, LATER, NOW + 17 * 86_400_000 + 5_000_000] {
        let (from, to) = last_30_days(now);
        for platform in [Platform::Xiaoe, Platform::Lingxing] {
            for field in [DateField::Created, DateField::Updated] {
                let records = list_at(now, platform, from, to, field);
                assert!(records.len() >= 10, "{platform:?} {field:?} at {now}: {} records", records.len());
            }
        }
        let recent = wechat_aftersales(now).iter().filter(|r| created_day(r) >= from).count();
        assert!(recent > 0, "no WeChat after-sale in the last 30 days at {now}");
        // Nothing lies in the future: tomorrow onwards is empty.
        let today = range(now).to;
        for platform in [Platform::Xiaoe, Platform::Lingxing] {
            for &field in platform.upstream().list().expect("listed").date_fields {
                assert!(list_at(now, platform, today, today.add_days(60), field).is_empty(), "{platform:?} {field:?}");
            }
        }
    }
}

#[test]
fn the_same_day_gives_the_same_bodies() {
    let (from, to) = (range(NOW).from, range(NOW).to);
    let order = &sandbox_orders(NOW)[7];
    let requests = [
        xiaoe_req(to.add_days(-31), to, DateField::Updated, 1, 100),
        WechatShopAfterSales { order: OrderRef::OutOrderId(order.out_order_id.clone()), openid: order.openid.clone() }
            .to_request(SANDBOX_BASE_URL, TOKEN),
        WechatStoreOrderGet { order_id: order.order_id.clone() }.to_request(SANDBOX_BASE_URL, TOKEN),
    ];
    // Two runs at the same moment, and at other hours of the same China day.
    let start_of_day = (to.china_midnight_unix() * 1000) as u64;
    for req in &requests {
        let body = answer(req, NOW).body;
        assert_eq!(answer(req, NOW).body, body);
        for other in [start_of_day, start_of_day + 86_399_999] {
            assert_eq!(answer(req, other).body, body, "{req:?} at {other}");
        }
    }
    assert_eq!(sandbox_orders(start_of_day), sandbox_orders(NOW));
    assert_ne!(sandbox_orders(start_of_day - 1), sandbox_orders(NOW), "the day before is another day");
    // Lingxing's envelope carries the time of the answer; its records do not.
    let lx = |now: u64| {
        let req = LingxingAfterSaleList {
            from,
            to,
            date_field: DateField::Updated,
            offset: 0,
            length: 500,
            kind: None,
            amazon_order_id: None,
        }
        .to_request(SANDBOX_BASE_URL, SANDBOX_LINGXING_APP_ID, TOKEN, now / 1000)
        .unwrap();
        json(&answer(&req, now))
    };
    let (a, b) = (lx(NOW), lx(start_of_day + 60_000));
    assert_eq!(a["data"], b["data"]);
    assert_eq!(a["total"], LINGXING_RECORDS);
    assert_ne!(a["response_time"], b["response_time"]);
}

#[test]
fn another_day_slides_the_same_records() {
    const DAYS: i64 = 45;
    let then = NOW + DAYS as u64 * 86_400_000;
    assert_eq!(range(then).from, range(NOW).from.add_days(DAYS));
    let shift = DAYS * 86_400;
    // Xiaoe: the same records, in the same order, every time moved by the days between; the
    // ids carry the creation time, so they change with it.
    let field = DateField::Created;
    let a = list_at(NOW, Platform::Xiaoe, range(NOW).from, range(NOW).to, field);
    let b = list_at(then, Platform::Xiaoe, range(then).from, range(then).to, field);
    assert_eq!(a.len(), XIAOE_RECORDS);
    assert_eq!(b.len(), a.len());
    for (x, y) in a.iter().zip(&b) {
        for time in ["created_at", "updated_at"] {
            assert_eq!(local_seconds(y, time), local_seconds(x, time) + shift, "{time} of {} / {}", x["id"], y["id"]);
        }
        for same in ["status", "status_raw", "kind", "refund", "requested", "items", "buyer", "reason"] {
            assert_eq!(x[same], y[same], "{same} of {} / {}", x["id"], y["id"]);
        }
        assert_ne!(x["aftersale_id"], y["aftersale_id"]);
    }
    // Lingxing: same lines and keys, times moved.
    // Sorted by site-local text, records of two zones may swap places across a daylight-saving
    // change: pair them by line, not by position.
    let by_line = |mut v: Vec<Value>| {
        v.sort_by_key(|r| r["id"].as_str().unwrap_or_default().to_string());
        v
    };
    let a = by_line(list_at(NOW, Platform::Lingxing, range(NOW).from, range(NOW).to, field));
    let b = by_line(list_at(then, Platform::Lingxing, range(then).from, range(then).to, field));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x["id"], y["id"]);
        assert_eq!(x["refund"], y["refund"]);
        assert_eq!(instant_seconds(y, "created_at"), instant_seconds(x, "created_at") + shift);
    }
    // WeChat: the same orders (ids and buyers); their own order ids carry the date.
    let (oa, ob) = (sandbox_orders(NOW), sandbox_orders(then));
    for (x, y) in oa.iter().zip(&ob) {
        assert_eq!((&x.order_id, &x.openid, x.aftersales), (&y.order_id, &y.openid, y.aftersales));
        assert_ne!(x.out_order_id, y.out_order_id);
    }
    let (wa, wb) = (wechat_aftersales(NOW), wechat_aftersales(then));
    assert_eq!(wa.len(), wb.len());
    for (x, y) in wa.iter().zip(&wb) {
        assert_eq!(x["aftersale_id"], y["aftersale_id"]);
        assert_eq!(instant_seconds(y, "created_at"), instant_seconds(x, "created_at") + shift);
    }
    // A request for a fixed range sees other records on another day.
    let req = xiaoe_req(range(NOW).to.add_days(-31), range(NOW).to, field, 1, 100);
    assert_ne!(answer(&req, NOW).body, answer(&req, then).body);
}
