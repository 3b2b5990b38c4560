//! The id walk of WeChat Channels (`Paging::NextKey`) driven against a scripted upstream in
//! simulated time: day windows of at most 24 h oldest first, `next_key` pages, one lookup per
//! id, and records added, changed and deleted while the walk runs — every record exactly once,
//! as it was when last fetched, both readings of a window's end, and cursors resumed mid-walk.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use aftersale::call::AccountState;
use aftersale::cursor::{self, CursorKey};
use aftersale::pacing::RateLimit;
use aftersale::paginate::{china_midnight_s, IdWalk, PagerState};
use aftersale::query::{DateField, ListQuery};
use aftersale::{normalize_page, NormalizeOptions};
use common::channels::{account, date, drive, Shop, DAY, P};

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
        seconds: None,
    };
    let e = P.upstream().list_request(&account(), "T", &page, 0).unwrap_err();
    assert!(e.to_string().contains("86400"), "{e}");
    let _ = PagerState::default();
    let _: BTreeSet<u8> = BTreeSet::new();
}
