//! The living sandbox: between two clocks the same records keep their ids and creation times,
//! new ones appear, some move on (their update time between the two clocks), nothing else
//! changes, nothing lies in the future, and a list by updated time over the interval returns
//! exactly what moved or appeared.

use super::wechat_channels::walk_at;
use super::*;

/// 2026-12-01T04:00:00Z, a noon in China.
pub(super) const LATER: u64 = 1_796_097_600_000;
const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 24 * HOUR_MS;

pub(super) fn list_at(now: u64, platform: Platform, from: Date, to: Date, field: DateField) -> Vec<Value> {
    let mut query = ListQuery::new(platform, from, to);
    query.date_field = field;
    query.limit = 100;
    drive_at(now, query, true)
}

/// The after-sales of `orders` at `now`, normalized (each order's count checked).
fn wechat_aftersales_of(now: u64, orders: &[SandboxOrder]) -> Vec<Value> {
    let mut out = Vec::new();
    for o in orders {
        let req =
            WechatShopAfterSales { order: OrderRef::OutOrderId(o.out_order_id.clone()), openid: o.openid.clone() }
                .to_request(SANDBOX_BASE_URL, TOKEN);
        let resp = answer(&req, now);
        let page = normalize_page(Platform::WechatShop, &resp.body, NormalizeOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", o.out_order_id));
        if let Some(announced) = sandbox_orders(now).iter().find(|a| a.order_id == o.order_id) {
            assert_eq!(page.records.len(), announced.aftersales, "{}", o.out_order_id);
        }
        out.extend(page.records.iter().map(|r| serde_json::to_value(r).unwrap()));
    }
    out
}

/// The after-sales of every WeChat order of the window at `now`, normalized.
pub(super) fn wechat_aftersales(now: u64) -> Vec<Value> {
    wechat_aftersales_of(now, &sandbox_orders(now))
}

pub(super) fn created_day(r: &Value) -> Date {
    date(&r["created_at"].as_str().unwrap()[..10])
}

/// Seconds of a normalized time's local date and time (its offset ignored).
fn local_seconds(r: &Value, field: &str) -> i64 {
    let text = r[field].as_str().unwrap_or_else(|| panic!("no {field} in {r}"));
    let part = |range: std::ops::Range<usize>| -> i64 { text[range].parse().unwrap() };
    date(&text[..10]).days_since_epoch() * 86_400 + part(11..13) * 3600 + part(14..16) * 60 + part(17..19)
}

/// The instant of an RFC 3339 time with its offset, in unix seconds.
pub(super) fn instant_seconds(r: &Value, field: &str) -> i64 {
    let text = r[field].as_str().unwrap_or_else(|| panic!("no {field} in {r}"));
    let minutes: i64 = match &text[19..] {
        "Z" | "" => 0,
        o => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o[1..3].parse::<i64>().unwrap() * 60 + o[4..6].parse::<i64>().unwrap())
        }
    };
    local_seconds(r, field) - minutes * 60
}

type Records = BTreeMap<String, Value>;

fn by_id(records: impl IntoIterator<Item = Value>) -> Records {
    let mut out = Records::new();
    for r in records {
        let id = r["id"].as_str().unwrap().to_string();
        assert!(out.insert(id.clone(), r).is_none(), "{id} twice");
    }
    out
}

const PLATFORMS: [Platform; 4] = [Platform::Xiaoe, Platform::Lingxing, Platform::WechatChannels, Platform::WechatShop];

/// The WeChat orders of `t`'s window still in `t2`'s (the oldest leaves as a new one comes).
fn common_orders(t: u64, t2: u64) -> Vec<SandboxOrder> {
    let later = sandbox_orders(t2);
    sandbox_orders(t).into_iter().filter(|o| later.iter().any(|l| l.order_id == o.order_id)).collect()
}

/// Every record of `platform` at `now` with its `field` date in `[from, to)` (WeChat: of the
/// orders of both windows).
fn records(
    now: u64,
    platform: Platform,
    field: DateField,
    (from, to): (Date, Date),
    orders: &[SandboxOrder],
) -> Records {
    match platform {
        Platform::WechatChannels => walk_at(now, field, from, to).0,
        Platform::WechatShop => {
            let key = if field == DateField::Updated { "updated_at" } else { "created_at" };
            let (b, e) = (from.china_midnight_unix(), to.china_midnight_unix());
            by_id(wechat_aftersales_of(now, orders).into_iter().filter(|r| (b..e).contains(&instant_seconds(r, key))))
        }
        _ => by_id(list_at(now, platform, from, to, field)),
    }
}

/// No date of a record after the clock it was read at.
fn nothing_in_the_future(records: &Records, now: u64) {
    let now_s = (now / 1000) as i64;
    for (id, r) in records {
        for field in ["created_at", "updated_at", "refunded_at"] {
            if r[field].is_string() {
                assert!(instant_seconds(r, field) <= now_s, "{id}: {field} {} is after {now_s}", r[field]);
            }
        }
        assert!(instant_seconds(r, "updated_at") >= instant_seconds(r, "created_at"), "{id}: updated before created");
    }
}

/// What changed between clocks `t` and `t2` (`t < t2`) on `platform`: the new ids and the moved
/// ones, each checked against the invariants of a living upstream.
fn changes(platform: Platform, t: u64, t2: u64) -> (BTreeSet<String>, BTreeSet<String>) {
    let (ts, ts2) = ((t / 1000) as i64, (t2 / 1000) as i64);
    // WeChat: the orders of both windows at t, every order of its window at t2.
    let (orders, orders2) = (common_orders(t, t2), sandbox_orders(t2));
    // Away from the window's first days, which the later clock no longer serves (and Lingxing
    // skips the first: a site's clock is behind China's).
    let span = (range(t2).from.add_days(2), range(t2).to);
    let before = records(t, platform, DateField::Created, span, &orders);
    let after = records(t2, platform, DateField::Created, span, &orders2);
    assert_eq!(
        after,
        records(t2, platform, DateField::Created, span, &orders2),
        "{platform:?}: the same clock, the same data"
    );
    nothing_in_the_future(&before, t);
    nothing_in_the_future(&after, t2);
    let (mut new, mut moved) = (BTreeSet::new(), BTreeSet::new());
    for (id, r) in &before {
        let r2 = after.get(id).unwrap_or_else(|| panic!("{platform:?}: {id} of {t} is gone at {t2}"));
        assert_eq!(instant_seconds(r, "created_at"), instant_seconds(r2, "created_at"), "{id}: created moved");
        let (u, u2) = (instant_seconds(r, "updated_at"), instant_seconds(r2, "updated_at"));
        if u == u2 {
            assert_eq!(r, r2, "{platform:?}: {id} changed without its update time moving");
        } else {
            assert!(ts < u2 && u2 <= ts2, "{platform:?}: {id} moved to {u2}, outside ({ts}, {ts2}]");
            moved.insert(id.clone());
        }
    }
    for (id, r2) in after.iter().filter(|(id, _)| !before.contains_key(*id)) {
        let c = instant_seconds(r2, "created_at");
        assert!(ts < c && c <= ts2, "{platform:?}: {id} is new at {t2} but was created at {c}");
        new.insert(id.clone());
    }
    // A list by updated time over the interval's days returns, after t, exactly what moved or
    // appeared.
    let days = (day_of((t / 1000) as i64 + 8 * 3600), range(t2).to);
    let recent: BTreeSet<String> = records(t2, platform, DateField::Updated, days, &orders2)
        .into_iter()
        .filter(|(_, r)| instant_seconds(r, "updated_at") > ts)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(recent, new.union(&moved).cloned().collect(), "{platform:?}: updated after {t}");
    (new, moved)
}

#[test]
fn later_the_same_records_moved_on_and_new_ones() {
    for platform in PLATFORMS {
        let (new, moved) = changes(platform, NOW, NOW + 20 * DAY_MS + 5 * HOUR_MS);
        assert!(!new.is_empty(), "{platform:?}: nothing new in twenty days");
        assert!(!moved.is_empty(), "{platform:?}: nothing moved in twenty days");
        // An hour later: whatever happened in it, the same invariants hold.
        changes(platform, NOW, NOW + HOUR_MS);
    }
    changes(Platform::Xiaoe, LATER, LATER + 40 * DAY_MS);
}

#[test]
fn new_after_sales_appear_during_today() {
    let midnight = (range(NOW).to.add_days(-1).china_midnight_unix() * 1000) as u64;
    let today = (range(NOW).to.add_days(-1), range(NOW).to);
    let count = |now: u64| list_at(now, Platform::Xiaoe, today.0, today.1, DateField::Created).len();
    let (early, noon, night) = (count(midnight + 60_000), count(midnight + 12 * HOUR_MS), count(midnight + DAY_MS - 1));
    assert!(
        early <= noon && noon <= night && early < night,
        "today's records at 00:01, 12:00, 23:59: {early}, {noon}, {night}"
    );
}

#[test]
fn statuses_move_on_towards_their_last_one() {
    // Followed for a month, a fresh record goes through more than one status, in the shared
    // table's order (applied first), and its refund time appears when it reaches "completed".
    let t = NOW;
    let mut walked = 0;
    for s in xiaoe_skels().iter().filter(|s| s.created > crate::calendar::china_local(t) - 86_400) {
        let seen: Vec<u8> = (0..30u64)
            .map(|d| crate::xiaoe::x_skel(crate::calendar::china_local(t + d * DAY_MS), s.index).state)
            .collect();
        assert_eq!(seen[0], s.state);
        let mut distinct = seen.clone();
        distinct.dedup();
        walked += usize::from(distinct.len() > 1);
        let later = crate::xiaoe::x_skel(crate::calendar::china_local(t + 30 * DAY_MS), s.index);
        assert_eq!(later.refunded.is_some(), matches!(later.state, 13 | 14), "{}", s.aftersale_id());
    }
    assert!(walked > 0, "no fresh record moved on in a month");
}
