//! The sync of WeChat Channels (`Paging::NextKey`) in simulated time against the scripted shop
//! of tests/common/channels.rs: by update time from the watermark minus the overlap to now minus
//! the lag in exact windows of at most 24 h, pending lookups in the checkpoint, and invocations
//! cut by their budget, killed between pages or failing — the mirror equals the shop's truth,
//! every change in the change log once.

mod common;

use std::collections::BTreeMap;

use aftersale::call::AccountState;
use aftersale::protocol::sync::{LookupAnswer, MirrorRow, SyncRun, SyncSettings, SyncState, SyncStep};
use aftersale::{normalize_page, Error, NormalizeOptions};
use common::channels::{account, date, drive, Shop, DAY, P};
use common::mirror::Mirror;

/// 2024-03-01 00:00 in China: where the shop's records begin (they span three days).
const START: i64 = 1_709_222_400;
const OVERLAP: i64 = 300;
const LAG: i64 = 180;

/// How an invocation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    CaughtUp,
    OutOfBudget,
    /// A call failed past its retries: the error is in the checkpoint.
    Failed,
    /// Stopped by the test before storing.
    Killed,
}

/// Where the test stops an invocation: after this many steps (a list call or a batch of
/// lookups), before anything of that step is stored.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    AsItMay,
    KilledAfter(usize),
}

fn settings(max_calls: u32) -> SyncSettings {
    SyncSettings { overlap_s: OVERLAP, lag_s: LAG, from: date("2024-02-29"), max_calls }
}

fn is_gone(e: &Error) -> bool {
    matches!(e, Error::Upstream(u) if P.upstream().is_gone(&u.code))
}

/// The lookups' answers in order, up to the first that failed (and that failure).
fn look_up(
    acct: &mut AccountState,
    shop: &mut Shop,
    specs: Vec<aftersale::call::CallSpec>,
    now: &mut u64,
) -> (Vec<Option<String>>, Option<Error>) {
    let mut bodies = Vec::new();
    for spec in specs {
        match drive(acct, shop, spec, now) {
            Ok(resp) => bodies.push(Some(resp.body)),
            Err(e) if is_gone(&e) => bodies.push(None),
            Err(e) => return (bodies, Some(e)),
        }
    }
    (bodies, None)
}

/// One invocation as the Worker runs it: the saved state (through its JSON, as D1 keeps it),
/// list calls, lookups, each batch of lookups stored with its checkpoint.
fn invoke(
    shop: &mut Shop,
    acct: &mut AccountState,
    mirror: &mut Mirror,
    now_s: i64,
    max_calls: u32,
    ending: Ending,
) -> Outcome {
    let saved = mirror.state.clone().unwrap_or_else(|| SyncState::new(P));
    let state: SyncState = serde_json::from_str(&serde_json::to_string(&saved).unwrap()).unwrap();
    let mut run = SyncRun::start(state, &settings(max_calls), (now_s * 1000) as u64).unwrap();
    let mut now = (now_s * 1000) as u64;
    let mut steps = 0;
    loop {
        let step = run.next_step();
        if matches!(step, SyncStep::ListIds(_) | SyncStep::Lookups(_)) {
            steps += 1;
        }
        match step {
            SyncStep::ListIds(spec) => {
                let body = match drive(acct, shop, spec, &mut now) {
                    Ok(resp) => resp.body,
                    Err(e) => return fail(&mut run, mirror, &e),
                };
                run.handle_ids(P.upstream().parse_ids(&body).unwrap());
                if ending == Ending::KilledAfter(steps) {
                    return Outcome::Killed;
                }
            }
            SyncStep::Lookups(specs) => {
                let (bodies, failure) = look_up(acct, shop, specs, &mut now);
                let answers = bodies
                    .iter()
                    .map(|b| match b {
                        Some(b) => LookupAnswer::Found(normalize_page(P, b, NormalizeOptions::default()).unwrap()),
                        None => LookupAnswer::Gone,
                    })
                    .collect();
                let records = run.handle_lookups(answers);
                if ending == Ending::KilledAfter(steps) {
                    return Outcome::Killed;
                }
                let rows = records.iter().map(|r| MirrorRow::from_record(r).unwrap()).collect();
                mirror.commit(rows, run.checkpoint());
                if let Some(e) = failure {
                    return fail(&mut run, mirror, &e);
                }
            }
            SyncStep::Call(spec) => panic!("an id list has no position pages: {spec:?}"),
            SyncStep::OutOfBudget => {
                mirror.state = Some(run.checkpoint().clone());
                return Outcome::OutOfBudget;
            }
            SyncStep::CaughtUp => {
                mirror.state = Some(run.checkpoint().clone());
                return Outcome::CaughtUp;
            }
        }
    }
}

fn fail(run: &mut SyncRun, mirror: &mut Mirror, e: &Error) -> Outcome {
    run.fail(e);
    mirror.state = Some(run.checkpoint().clone());
    Outcome::Failed
}

/// Invocations until caught up (at most 200); how many it took.
fn sync_until_caught_up(
    shop: &mut Shop,
    acct: &mut AccountState,
    mirror: &mut Mirror,
    now_s: i64,
    calls: u32,
) -> usize {
    for i in 1..=200 {
        if invoke(shop, acct, mirror, now_s, calls, Ending::AsItMay) == Outcome::CaughtUp {
            return i;
        }
    }
    panic!("the sync never caught up");
}

/// The shop's records as the mirror must hold them: id → (update time, raw status).
fn truth(shop: &Shop) -> BTreeMap<String, (i64, String)> {
    shop.recs.iter().map(|r| (format!("wechat_channels:{}", r.id), (r.update, r.status.to_string()))).collect()
}

fn mirrored(mirror: &Mirror) -> BTreeMap<String, (i64, String)> {
    mirror
        .rows
        .iter()
        .map(|(id, row)| {
            let json: serde_json::Value = serde_json::from_str(&row.json).unwrap();
            (id.clone(), (row.updated_s.unwrap(), json["status_raw"].as_str().unwrap().to_string()))
        })
        .collect()
}

fn assert_mirror_is_truth(mirror: &Mirror, shop: &Shop) {
    let (have, want) = (mirrored(mirror), truth(shop));
    let missing: Vec<_> = want.keys().filter(|k| !have.contains_key(*k)).collect();
    let ghosts: Vec<_> = have.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(missing.is_empty() && ghosts.is_empty(), "missing {missing:?}, ghosts {ghosts:?}");
    assert_eq!(have, want, "a row is not as the shop has it now");
    mirror.assert_each_change_once();
}

/// Every window the shop was sent: at most 24 h, none reversed.
fn assert_windows_within_a_day(shop: &Shop) {
    assert!(!shop.windows.is_empty());
    for &(b, e) in &shop.windows {
        assert!(b < e && e - b <= DAY, "window {b}..{e} is {} s", e - b);
    }
}

/// The distinct windows sent, in order.
fn windows_sent(shop: &Shop) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &w in &shop.windows {
        if out.last() != Some(&w) {
            out.push(w);
        }
    }
    out
}

#[test]
fn a_backfill_equals_the_truth_then_increments_read_the_exact_overlap() {
    for inclusive in [true, false] {
        let mut shop = Shop::new(120);
        shop.inclusive_end = inclusive;
        let (mut acct, mut mirror) = (AccountState::new(account()), Mirror::default());
        let now = START + 3 * DAY + 7200;
        assert_eq!(invoke(&mut shop, &mut acct, &mut mirror, now, 10_000, Ending::AsItMay), Outcome::CaughtUp);
        assert_mirror_is_truth(&mirror, &shop);
        assert_eq!(mirror.created(), 120);
        assert_eq!(mirror.state.as_ref().unwrap().watermark_s, Some(now - LAG));
        // From SYNC_FROM's midnight to now minus the lag, in windows of at most a day, oldest
        // first, with no gap and no overlap.
        let w = windows_sent(&shop);
        assert_eq!(w[0].0, START - DAY);
        assert_eq!(w.last().unwrap().1, now - LAG);
        assert!(w.windows(2).all(|p| p[0].1 == p[1].0), "{w:?}");
        assert_windows_within_a_day(&shop);

        // Ten minutes on, nothing changed: one window from the watermark minus the overlap,
        // to the second, and nothing in the change log.
        shop.windows.clear();
        let later = now + 600;
        assert_eq!(invoke(&mut shop, &mut acct, &mut mirror, later, 10_000, Ending::AsItMay), Outcome::CaughtUp);
        assert_eq!(windows_sent(&shop), vec![(now - LAG - OVERLAP, later - LAG)]);
        assert_eq!(mirror.changes.len(), 120);

        // Changes and additions between runs appear once each after the next run.
        for r in shop.recs.iter_mut().step_by(10) {
            r.update = later + 100;
            r.status = "USER_WAIT_RETURN";
        }
        shop.add(later + 200, later + 200);
        shop.add(later + 300, later + 300);
        let third = later + 900;
        assert_eq!(invoke(&mut shop, &mut acct, &mut mirror, third, 10_000, Ending::AsItMay), Outcome::CaughtUp);
        assert_mirror_is_truth(&mirror, &shop);
        let updated = mirror.changes.iter().filter(|(_, c)| *c == "updated").count();
        assert_eq!((mirror.created(), updated), (122, 12));
    }
}

#[test]
fn changes_additions_and_deletions_during_the_sync_are_neither_lost_nor_doubled() {
    let mut shop = Shop::new(100);
    // After these list calls: the page's first record changes (its update time moves a third of
    // a day on, past its window and sometimes past now), its last is deleted, n are added.
    shop.mutate_at = vec![(1, 0), (2, 2), (5, 1), (9, 3), (14, 0), (20, 1)];
    let (mut acct, mut mirror) = (AccountState::new(account()), Mirror::default());
    let now = START + 3 * DAY + 7200;
    sync_until_caught_up(&mut shop, &mut acct, &mut mirror, now, 10_000);
    // Ids deleted between their list call and their lookup were skipped without an error.
    assert!(mirror.state.as_ref().unwrap().last_error.is_none());
    assert!(shop.detail_calls as usize > mirror.rows.len());
    // Records added past now - lag are the next run's; a later run has them all.
    sync_until_caught_up(&mut shop, &mut acct, &mut mirror, now + DAY, 10_000);
    assert_mirror_is_truth(&mirror, &shop);
    assert_windows_within_a_day(&shop);
}

#[test]
fn a_record_that_changed_after_its_window_is_kept_as_it_is_now() {
    let mut shop = Shop::new(0);
    // Ends exclusive, so that the first record (on a midnight) is listed in its own day only.
    shop.inclusive_end = false;
    for k in 0..6 {
        shop.add(START + 100 * k, START + 100 * k);
    }
    // Right after the list call of 2024-03-01 (the second window), its first record moves on a
    // day: its lookup shows an update time past the window it was listed in.
    shop.mutate_at = vec![(2, 0)];
    shop.change_by = DAY;
    let (mut acct, mut mirror) = (AccountState::new(account()), Mirror::default());
    let now = START + 3 * DAY + 7200;
    invoke(&mut shop, &mut acct, &mut mirror, now, 10_000, Ending::AsItMay);
    let moved = shop.recs.iter().find(|r| r.status == "USER_WAIT_RETURN").expect("a record moved").clone();
    let id = format!("wechat_channels:{}", moved.id);
    assert_eq!(moved.update, START + DAY, "it left its window");
    assert_eq!(mirror.rows[&id].updated_s, Some(moved.update), "kept with the time it has now");
    // Listed again in its new window, it changed nothing: created once, never updated.
    let entries: Vec<_> = mirror.changes.iter().filter(|(i, _)| *i == id).collect();
    assert_eq!(entries, vec![&(id.clone(), "created")]);
    assert_mirror_is_truth(&mirror, &shop);
    // The same mutation deleted that page's last record before its lookup: skipped.
    assert_eq!((mirror.created(), shop.recs.len()), (5, 5));
}

#[test]
fn a_change_to_a_stored_record_during_a_pass_is_read_in_a_later_window() {
    let mut shop = Shop::new(60);
    let (mut acct, mut mirror) = (AccountState::new(account()), Mirror::default());
    let now = START + 3 * DAY + 7200;
    // A first invocation stores part of the first days and stops at its budget.
    assert_eq!(invoke(&mut shop, &mut acct, &mut mirror, now, 12, Ending::AsItMay), Outcome::OutOfBudget);
    let (id, row) = mirror.rows.iter().next().map(|(i, r)| (i.clone(), r.clone())).expect("something stored");
    // That record changes: its new update time lies in a window this pass has still to walk.
    let raw_id = id.trim_start_matches("wechat_channels:");
    let r = shop.recs.iter_mut().find(|r| r.id == raw_id).unwrap();
    r.update = START + 2 * DAY + 600;
    r.status = "MERCHANT_REFUND_SUCCESS";
    assert!(row.updated_s.unwrap() < r.update);
    sync_until_caught_up(&mut shop, &mut acct, &mut mirror, now, 12);
    assert_mirror_is_truth(&mirror, &shop);
    let entries: Vec<_> = mirror.changes.iter().filter(|(i, _)| *i == id).map(|(_, c)| *c).collect();
    assert_eq!(entries, vec!["created", "updated"]);
}

#[test]
fn invocations_cut_by_budget_or_killed_between_pages_resume_with_nothing_lost_or_doubled() {
    // Budgets below a page (a list call and four lookups), at one page and above; kills after a
    // list call (its ids unstored) and after lookups (their records unstored).
    for (calls, kill_every) in [(3u32, 3usize), (5, 4), (7, 2), (11, 5)] {
        let mut shop = Shop::new(90);
        shop.mutate_at = vec![(3, 1), (8, 2), (13, 0)];
        let (mut acct, mut mirror) = (AccountState::new(account()), Mirror::default());
        let now = START + 3 * DAY + 7200;
        let mut invocations = 0;
        let mut killed = 0;
        let mut max_calls_seen = 0;
        loop {
            invocations += 1;
            assert!(invocations < 500, "the sync never caught up ({calls} calls)");
            let ending =
                if invocations % kill_every == 0 { Ending::KilledAfter(1 + invocations % 3) } else { Ending::AsItMay };
            let before = shop.list_calls + shop.detail_calls;
            let outcome = invoke(&mut shop, &mut acct, &mut mirror, now, calls, ending);
            max_calls_seen = max_calls_seen.max(shop.list_calls + shop.detail_calls - before);
            killed += usize::from(outcome == Outcome::Killed);
            if outcome == Outcome::CaughtUp {
                break;
            }
        }
        assert!(invocations > 5 && killed > 0, "{invocations} invocations, {killed} killed");
        assert!(max_calls_seen <= calls, "an invocation made {max_calls_seen} calls; its budget is {calls}");
        sync_until_caught_up(&mut shop, &mut acct, &mut mirror, now + DAY, calls);
        assert_mirror_is_truth(&mirror, &shop);
        assert_windows_within_a_day(&shop);
    }
}

#[test]
fn a_page_is_listed_only_when_the_budget_holds_its_lookups() {
    let mut shop = Shop::new(60);
    let (mut acct, mut mirror) = (AccountState::new(account()), Mirror::default());
    let now = START + 3 * DAY + 7200;
    // Pages of four ids: with 12 calls, the empty first day (one call), two pages and their
    // lookups (10), then no further list call (it would need five) — nothing is left pending.
    let settings = settings(12);
    let mut run = SyncRun::start(SyncState::new(P), &settings, (now * 1000) as u64).unwrap();
    let mut clock = (now * 1000) as u64;
    let mut lists = 0;
    loop {
        match run.next_step() {
            SyncStep::ListIds(spec) => {
                lists += 1;
                let body = drive(&mut acct, &mut shop, spec, &mut clock).unwrap().body;
                run.handle_ids(P.upstream().parse_ids(&body).unwrap());
            }
            SyncStep::Lookups(specs) => {
                let (bodies, failure) = look_up(&mut acct, &mut shop, specs, &mut clock);
                assert!(failure.is_none());
                let answers = bodies
                    .iter()
                    .map(|b| {
                        LookupAnswer::Found(
                            normalize_page(P, b.as_ref().unwrap(), NormalizeOptions::default()).unwrap(),
                        )
                    })
                    .collect();
                let rows = run.handle_lookups(answers).iter().map(|r| MirrorRow::from_record(r).unwrap()).collect();
                mirror.commit(rows, run.checkpoint());
            }
            other => {
                assert_eq!(other, SyncStep::OutOfBudget);
                break;
            }
        }
    }
    assert_eq!((lists, shop.detail_calls), (3, 8));
    assert!(run.checkpoint().pass.as_ref().unwrap().pending.is_empty());
    // A tighter budget of the driver's own (the request's subrequests) caps it further.
    let mut run = SyncRun::start(run.into_state(), &settings, (now * 1000) as u64).unwrap();
    run.cap_calls(0);
    assert_eq!(run.next_step(), SyncStep::OutOfBudget);
}

#[test]
fn token_expiry_throttling_and_5xx_lose_nothing_and_a_failed_run_resumes() {
    let mut shop = Shop::new(80);
    shop.token_max_uses = 9;
    shop.mutate_at = vec![(3, 1)];
    let (mut acct, mut mirror) = (AccountState::new(account()), Mirror::default());
    let now = START + 3 * DAY + 7200;
    let mut invocations = 0;
    loop {
        invocations += 1;
        assert!(invocations < 300, "the sync never caught up");
        if invocations % 3 == 0 {
            shop.throttle_next = 2;
        }
        if invocations % 4 == 0 {
            shop.fail_next = 1;
        }
        // Now and then the shop is down for longer than a call retries.
        if invocations % 7 == 0 {
            shop.fail_next = 50;
        }
        let outcome = invoke(&mut shop, &mut acct, &mut mirror, now, 9, Ending::AsItMay);
        if outcome == Outcome::Failed {
            assert!(mirror.state.as_ref().unwrap().last_error.is_some(), "the error is kept for the status");
            shop.fail_next = 0;
        }
        if outcome == Outcome::CaughtUp {
            break;
        }
    }
    sync_until_caught_up(&mut shop, &mut acct, &mut mirror, now + DAY, 9);
    assert_mirror_is_truth(&mirror, &shop);
    assert!(shop.token_fetches > 3, "tokens expired and were renewed ({})", shop.token_fetches);
    assert!(mirror.state.as_ref().unwrap().last_error.is_none(), "a pass completed clears the error");
}

#[test]
fn a_long_gap_goes_in_passes_each_moving_the_watermark() {
    let mut shop = Shop::new(20);
    let (mut acct, mut mirror) = (AccountState::new(account()), Mirror::default());
    // Four hundred days after SYNC_FROM: longer than one query may span.
    let now = START + 400 * DAY;
    sync_until_caught_up(&mut shop, &mut acct, &mut mirror, now, 100_000);
    assert_mirror_is_truth(&mirror, &shop);
    assert_eq!(mirror.state.as_ref().unwrap().watermark_s, Some(now - LAG));
    assert_windows_within_a_day(&shop);
    let w = windows_sent(&shop);
    assert!(w.windows(2).all(|p| p[0].1 == p[1].0 || p[1].0 == p[0].1 - OVERLAP), "contiguous passes");
}
