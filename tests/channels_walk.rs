//! The id walk of WeChat Channels (`Paging::NextKey`) driven against a scripted upstream in
//! simulated time: day windows of at most 24 h oldest first, `next_key` pages, one lookup per
//! id, and records added, changed and deleted while the walk runs — every record exactly once,
//! as it was when last fetched, both readings of a window's end, and cursors resumed mid-walk.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use aftersale::account::{Account, Credentials};
use aftersale::call::{AccountState, CallSpec};
use aftersale::cursor::{self, CursorKey};
use aftersale::http::{Request, Response};
use aftersale::pacing::RateLimit;
use aftersale::paginate::{china_midnight_s, IdWalk, PagerState};
use aftersale::query::{DateField, ListQuery};
use aftersale::{normalize_page, Date, NormalizeOptions, Platform};
use serde_json::{json, Value};

const P: Platform = Platform::WechatChannels;
const DAY: i64 = 86_400;

fn date(s: &str) -> Date {
    Date::parse(s).unwrap()
}

#[derive(Clone, Debug)]
struct Rec {
    id: String,
    create: i64,
    update: i64,
    status: &'static str,
}

/// A scripted `channels/ec` shop: stable tokens, the id list with a keyset `next_key`, the
/// detail by id, faults, and mutations applied right after a given list call is answered.
struct Shop {
    recs: Vec<Rec>,
    page_size: usize,
    /// Ends inclusive (the simulator's default) or exclusive: §13 does not say.
    inclusive_end: bool,
    token: u32,
    token_uses: u32,
    token_max_uses: u32,
    token_fetches: u32,
    list_calls: u32,
    detail_calls: u32,
    throttle_next: u32,
    fail_next: u32,
    /// (after this many list calls, change the page's first, delete its last, add n).
    mutate_at: Vec<(u32, usize)>,
    /// Every window as sent: (begin, end).
    windows: Vec<(i64, i64)>,
    next_id: u64,
    latency_ms: u64,
    /// Rate window the shop enforces itself: (limit, window_ms) over every data call.
    limit: Option<(usize, u64)>,
    sends: Vec<u64>,
    throttled: u32,
}

impl Shop {
    /// `n` records from 2024-03-01 China time over 3 days, some exactly at midnights, ids of
    /// 19 digits (beyond 2^53, consecutive ones collide as floats).
    fn new(n: usize) -> Shop {
        let start = china_midnight_s(date("2024-03-01"));
        let mut shop = Shop {
            recs: Vec::new(),
            page_size: 4,
            inclusive_end: true,
            token: 0,
            token_uses: 0,
            token_max_uses: u32::MAX,
            token_fetches: 0,
            list_calls: 0,
            detail_calls: 0,
            throttle_next: 0,
            fail_next: 0,
            mutate_at: Vec::new(),
            windows: Vec::new(),
            next_id: 9_007_199_254_740_993_000,
            latency_ms: 5,
            limit: None,
            sends: Vec::new(),
            throttled: 0,
        };
        for i in 0..n as i64 {
            // Every seventh record sits exactly on a midnight: the window boundary.
            let create = if i % 7 == 0 { start + (i % 3) * DAY } else { start + (i * 7919) % (3 * DAY) };
            let update =
                if i % 5 == 0 { start + ((i % 3) + 1) * DAY } else { (create + i * 61).min(start + 3 * DAY - 1) };
            shop.add(create, update.max(create));
        }
        shop
    }

    fn add(&mut self, create: i64, update: i64) {
        self.next_id += 1;
        self.recs.push(Rec { id: self.next_id.to_string(), create, update, status: "MERCHANT_PROCESSING" });
    }

    fn time(rec: &Rec, field: DateField) -> i64 {
        if field == DateField::Updated {
            rec.update
        } else {
            rec.create
        }
    }

    /// What a walk of `[from, to)` must give: ids with their update time, as they are now.
    fn truth(&self, q: &ListQuery) -> BTreeMap<String, i64> {
        let (b, e) = (china_midnight_s(q.from), china_midnight_s(q.to));
        self.recs
            .iter()
            .filter(|r| (b..e).contains(&Shop::time(r, q.date_field)))
            .map(|r| (r.id.clone(), r.update))
            .collect()
    }

    fn err(code: i64) -> Response {
        Response::ok(json!({"errcode": code, "errmsg": format!("error rid: 1-2-3")}).to_string())
    }

    fn answer(&mut self, now: u64, req: &Request) -> Response {
        let path = req.url.split('?').next().unwrap().to_string();
        if path.ends_with("/cgi-bin/stable_token") {
            self.token_fetches += 1;
            self.token += 1;
            self.token_uses = 0;
            return Response::ok(json!({"access_token": format!("T{}", self.token), "expires_in": 7200}).to_string());
        }
        if let Some((limit, window)) = self.limit {
            self.sends.retain(|&t| t + window > now);
            if self.sends.len() >= limit {
                self.throttled += 1;
                return Shop::err(45011);
            }
            self.sends.push(now);
        }
        if self.fail_next > 0 {
            self.fail_next -= 1;
            return Response { status: 502, body: "<html>502 Bad Gateway</html>".into(), retry_after_ms: None };
        }
        if self.throttle_next > 0 {
            self.throttle_next -= 1;
            return Shop::err(45011);
        }
        let token = req.url.split("access_token=").nth(1).unwrap_or("");
        if token != format!("T{}", self.token) {
            return Shop::err(40001);
        }
        self.token_uses += 1;
        if self.token_uses > self.token_max_uses {
            return Shop::err(42001);
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        if path.ends_with("/getaftersalelist") {
            self.list(&body)
        } else {
            self.detail(&body)
        }
    }

    fn list(&mut self, body: &Value) -> Response {
        let (field, b, e) = match (body.get("begin_update_time"), body.get("end_update_time")) {
            (Some(b), Some(e)) => (DateField::Updated, b.as_i64().unwrap(), e.as_i64().unwrap()),
            _ => (
                DateField::Created,
                body["begin_create_time"].as_i64().unwrap(),
                body["end_create_time"].as_i64().unwrap(),
            ),
        };
        self.windows.push((b, e));
        if e - b > DAY || e < b {
            return Shop::err(10020004);
        }
        // The keyset: the last (time, id) served, bound to its window.
        let after: Option<(i64, String)> = body.get("next_key").map(|k| {
            let k = k.as_str().unwrap();
            let (w, rest) = k.split_once('|').unwrap();
            assert_eq!(w, format!("{b}-{e}"), "a next_key of another window");
            let (t, id) = rest.split_once(':').unwrap();
            (t.parse().unwrap(), id.to_string())
        });
        let mut hits: Vec<(i64, String)> = self
            .recs
            .iter()
            .map(|r| (Shop::time(r, field), r.id.clone()))
            .filter(|(t, _)| *t >= b && if self.inclusive_end { *t <= e } else { *t < e })
            .filter(|k| after.as_ref().is_none_or(|a| k > a))
            .collect();
        hits.sort();
        let more = hits.len() > self.page_size;
        hits.truncate(self.page_size);
        self.list_calls += 1;
        let next_key = hits.last().map(|(t, id)| format!("{b}-{e}|{t}:{id}")).unwrap_or_default();
        let ids: Vec<&str> = hits.iter().map(|(_, id)| id.as_str()).collect();
        let answer = json!({"errcode": 0, "errmsg": "ok", "after_sale_order_id_list": ids, "has_more": more, "next_key": next_key});
        let calls = self.list_calls;
        let due: Vec<usize> = self.mutate_at.iter().filter(|(at, _)| *at == calls).map(|(_, n)| *n).collect();
        for add in due {
            if let Some((_, first)) = hits.first() {
                // A change: a later update time, a step on; in an update-time walk it moves
                // forward, past the cursor or into the next day.
                let r = self.recs.iter_mut().find(|r| &r.id == first).unwrap();
                r.update += DAY / 3;
                r.status = "USER_WAIT_RETURN";
            }
            if hits.len() > 1 {
                let last = hits.last().unwrap().1.clone();
                self.recs.retain(|r| r.id != last);
            }
            // New after-sales are the newest: just past this window (its end may be served,
            // inclusive), where the walk is still to go.
            for k in 0..add as i64 {
                self.add(e + 5 + k, e + 5 + k);
            }
        }
        Response::ok(answer.to_string())
    }

    fn detail(&mut self, body: &Value) -> Response {
        self.detail_calls += 1;
        let id = body["after_sale_order_id"].as_str().expect("the id goes out as a string");
        let Some(r) = self.recs.iter().find(|r| r.id == id) else { return Shop::err(10021050) };
        Response::ok(
            json!({"errcode": 0, "errmsg": "ok", "after_sale_order": {
                "after_sale_order_id": r.id, "status": r.status, "order_id": "3705115058471208928",
                "create_time": r.create, "update_time": r.update, "type": "REFUND",
                "refund_info": {"amount": 100}, "product_info": {"product_id": "1", "sku_id": "2", "count": 1}
            }})
            .to_string(),
        )
    }
}

fn account() -> Account {
    Account::new(P, Credentials::new().with("appid", "wxshop").with("secret", "S")).with_base_url("http://127.0.0.1:1")
}

fn drive(
    acct: &mut AccountState,
    shop: &mut Shop,
    spec: CallSpec,
    now: &mut u64,
) -> Result<Response, aftersale::Error> {
    let latency = shop.latency_ms;
    common::drive_leased(acct, spec, now, latency, |t, req| shop.answer(t, req))
}

/// One list page and its details, as one proxy answer; returns (id, update time) delivered.
fn step(walk: &mut IdWalk, acct: &mut AccountState, shop: &mut Shop, now: &mut u64) -> Vec<(String, i64)> {
    let spec = walk.next_list_call().unwrap();
    let body = drive(acct, shop, spec, now).expect("list call").body;
    let ids = P.upstream().parse_ids(&body).unwrap().into_owned();
    let mut out = Vec::new();
    for lookup in walk.handle_ids(ids) {
        match drive(acct, shop, lookup, now) {
            Err(e) if walk.is_gone(&e) => {}
            Err(e) => panic!("detail failed: {e}"),
            Ok(resp) => {
                let page = normalize_page(P, &resp.body, NormalizeOptions::default()).unwrap();
                for r in page.records {
                    if let Some(r) = walk.accept_detail(r) {
                        out.push((r.aftersale_id.to_string(), r.updated_at.unwrap().unix().unwrap()));
                    }
                }
            }
        }
    }
    out
}

fn walk_all(mut walk: IdWalk, acct: &mut AccountState, shop: &mut Shop) -> Vec<(String, i64)> {
    let mut now = 1_000_000;
    let mut out = Vec::new();
    while !walk.is_done() {
        out.extend(step(&mut walk, acct, shop, &mut now));
    }
    out
}

/// Exactly the truth: no id twice, none missing, each with the update time it has now.
fn assert_truth(delivered: &[(String, i64)], truth: &BTreeMap<String, i64>) {
    let mut seen = BTreeMap::new();
    for (id, t) in delivered {
        assert!(seen.insert(id.clone(), *t).is_none(), "{id} delivered twice");
    }
    let missing: Vec<_> = truth.keys().filter(|k| !seen.contains_key(*k)).collect();
    let ghosts: Vec<_> = seen.keys().filter(|k| !truth.contains_key(*k)).collect();
    assert!(missing.is_empty() && ghosts.is_empty(), "missing {missing:?}, ghosts {ghosts:?}");
    assert_eq!(&seen, truth, "a delivered record is not as the upstream has it now");
}

fn query(field: DateField) -> ListQuery {
    let mut q = ListQuery::new(P, date("2024-02-29"), date("2024-03-05"));
    q.date_field = field;
    q
}

fn assert_windows_within_a_day(shop: &Shop) {
    for &(b, e) in &shop.windows {
        assert!(e - b <= DAY && e >= b, "window {b}..{e} over 24 h");
        // Whole China days: they start on a China midnight.
        assert_eq!((b + 8 * 3600) % DAY, 0, "window {b} not on a China midnight");
    }
}

#[test]
fn windows_are_china_days_oldest_first_and_never_over_24_h() {
    let walk = IdWalk::new(query(DateField::Created)).unwrap();
    let w = walk.windows();
    assert_eq!(w.len(), 5);
    assert_eq!(w[0], (date("2024-02-29"), date("2024-03-01")), "oldest first");
    assert!(w.windows(2).all(|p| p[0].1 == p[1].0), "no gap, no overlap");
    assert_eq!(china_midnight_s(date("2024-03-01")), 1_709_222_400); // 2024-03-01T00:00+08:00
    let mut shop = Shop::new(60);
    let mut acct = AccountState::new(account());
    let out = walk_all(walk, &mut acct, &mut shop);
    assert_truth(&out, &shop.truth(&query(DateField::Created)));
    assert_windows_within_a_day(&shop);
    assert!(shop.windows.windows(2).all(|p| p[0].0 <= p[1].0), "windows walked oldest first");
}

#[test]
fn both_readings_of_the_window_end_give_each_midnight_record_once() {
    for inclusive in [true, false] {
        for field in [DateField::Created, DateField::Updated] {
            let mut shop = Shop::new(80);
            shop.inclusive_end = inclusive;
            let mut acct = AccountState::new(account());
            let out = walk_all(IdWalk::new(query(field)).unwrap(), &mut acct, &mut shop);
            assert_truth(&out, &shop.truth(&query(field)));
        }
    }
}

#[test]
fn changes_additions_and_deletions_during_the_walk_are_neither_lost_nor_doubled() {
    for field in [DateField::Updated, DateField::Created] {
        let mut shop = Shop::new(90);
        shop.mutate_at = vec![(2, 2), (5, 1), (9, 3), (14, 0)];
        let mut acct = AccountState::new(account());
        let out = walk_all(IdWalk::for_export(query(field)).unwrap(), &mut acct, &mut shop);
        assert_truth(&out, &shop.truth(&query(field)));
        assert_windows_within_a_day(&shop);
        // Deleted ids were asked for and skipped, not fatal.
        assert!(shop.detail_calls as usize > out.len(), "{field:?}");
    }
}

#[test]
fn faults_token_expiry_throttling_and_5xx_lose_nothing() {
    let mut shop = Shop::new(70);
    shop.token_max_uses = 9;
    shop.mutate_at = vec![(3, 1)];
    let mut acct = AccountState::new(account());
    let q = query(DateField::Updated);
    let mut walk = IdWalk::new(q.clone()).unwrap();
    let mut now = 1_000_000;
    let mut out = Vec::new();
    let mut i = 0;
    while !walk.is_done() {
        i += 1;
        if i % 3 == 0 {
            shop.throttle_next = 2;
        }
        if i % 4 == 0 {
            shop.fail_next = 1;
        }
        out.extend(step(&mut walk, &mut acct, &mut shop, &mut now));
    }
    assert_truth(&out, &shop.truth(&q));
    assert!(shop.token_fetches > 3, "tokens expired and were renewed ({})", shop.token_fetches);
}

#[test]
fn cursors_resume_mid_walk_with_the_window_and_next_key() {
    let mut shop = Shop::new(90);
    shop.mutate_at = vec![(3, 2), (7, 1)];
    let mut acct = AccountState::new(account());
    let key = CursorKey::new(b"cursor-key");
    let q = query(DateField::Updated);
    let mut walk = IdWalk::new(q.clone()).unwrap();
    let mut now = 1_000_000;
    let mut out = Vec::new();
    let mut saw_key = false;
    while !walk.is_done() {
        out.extend(step(&mut walk, &mut acct, &mut shop, &mut now));
        saw_key |= walk.state().next_key.is_some();
        if walk.is_done() {
            break; // the last answer's cursor is null
        }
        // Every answer ends in a cursor; the next request starts from it alone.
        let c = cursor::seal(&key, walk.query(), walk.state());
        let (q2, state) = cursor::open(&key, &c).unwrap();
        assert_eq!(&state, walk.state());
        walk = IdWalk::resume(q2, state).unwrap();
    }
    assert!(saw_key, "pages within a window went by next_key");
    assert_truth(&out, &shop.truth(&q));
}

#[test]
fn the_pacer_keeps_lookups_under_the_rate_limit() {
    let mut shop = Shop::new(120);
    shop.latency_ms = 2;
    let (limit, window_ms) = (20usize, 1_000u64);
    shop.limit = Some((limit, window_ms));
    let mut acct = AccountState::new(account()).with_rate_limit(RateLimit::Window { limit: limit as u32, window_ms });
    let q = query(DateField::Created);
    let mut now = 1_000_000;
    let start = now;
    let mut walk = IdWalk::new(q.clone()).unwrap();
    let mut out = Vec::new();
    while !walk.is_done() {
        out.extend(step(&mut walk, &mut acct, &mut shop, &mut now));
    }
    assert_truth(&out, &shop.truth(&q));
    assert_eq!(shop.throttled, 0, "the pacer kept under the limit");
    let calls = u64::from(shop.list_calls + shop.detail_calls);
    let minimum = (calls.div_ceil(limit as u64) - 1) * window_ms;
    assert!(
        (now - start) as f64 <= minimum as f64 * 1.2 + 200.0,
        "took {} ms; the limit allows {minimum}",
        now - start
    );
}

#[test]
fn filters_are_checked_on_the_details() {
    let mut shop = Shop::new(40);
    for (i, r) in shop.recs.iter_mut().enumerate() {
        if i % 2 == 0 {
            r.status = "MERCHANT_REFUND_SUCCESS";
        }
    }
    let mut q = query(DateField::Created);
    q.statuses = vec![aftersale::Status::Completed];
    let mut acct = AccountState::new(account());
    let out = walk_all(IdWalk::new(q.clone()).unwrap(), &mut acct, &mut shop);
    let want: BTreeMap<String, i64> = shop
        .truth(&q)
        .into_iter()
        .filter(|(id, _)| shop.recs.iter().any(|r| &r.id == id && r.status == "MERCHANT_REFUND_SUCCESS"))
        .collect();
    assert!(!want.is_empty());
    assert_truth(&out, &want);
    // An order filter: the list cannot apply it, the details are checked.
    let mut q = query(DateField::Created);
    q.order_id = Some("3705115058471208928".into());
    assert_eq!(walk_all(IdWalk::new(q.clone()).unwrap(), &mut acct, &mut shop).len(), shop.truth(&q).len());
    q.order_id = Some("1".into());
    assert!(walk_all(IdWalk::new(q).unwrap(), &mut acct, &mut shop).is_empty());
}

#[test]
fn repeated_ids_in_a_page_and_a_stuck_next_key_do_not_loop_or_double() {
    let mut walk = IdWalk::new(query(DateField::Created)).unwrap();
    fn page(ids: &[&'static str], key: Option<&'static str>) -> aftersale::upstream::IdPage<'static> {
        aftersale::upstream::IdPage {
            ids: ids.iter().map(|s| (*s).into()).collect(),
            next_key: key.map(Into::into),
            has_more: key.is_some(),
        }
    }
    assert_eq!(walk.handle_ids(page(&["1", "1", "2"], Some("K"))).len(), 2);
    assert_eq!(walk.state().next_key.as_deref(), Some("K"));
    // The same key again would ask for the same page for ever: the window ends instead.
    walk.handle_ids(page(&["3"], Some("K")));
    assert_eq!((walk.state().window, walk.state().next_key.as_deref()), (1, None));
}

#[test]
fn the_list_request_never_spans_more_than_a_day() {
    // A hand-built page over two days is refused before anything is sent (10020004 is ours).
    let page = aftersale::upstream::ListPage {
        from: date("2024-03-01"),
        to: date("2024-03-03"),
        date_field: DateField::Updated,
        offset: 0,
        page_size: 0,
        kind: None,
        order_id: None,
        next_key: None,
    };
    let e = P.upstream().list_request(&account(), "T", &page, 0).unwrap_err();
    assert!(e.to_string().contains("86400"), "{e}");
    let _ = PagerState::default();
    let _: BTreeSet<u8> = BTreeSet::new();
}
