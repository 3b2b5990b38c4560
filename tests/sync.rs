//! The sync engine in simulated time against a scripted Xiaoe that lists by updated time: a
//! backfill, incremental runs, invocations cut short by their budget or killed before their
//! last page was stored, and records changing between runs. The mirror and its change log are
//! modelled as the Worker keeps them (upsert by content hash, a change per content change).

mod common;

use std::collections::BTreeMap;

use aftersale::account::{Account, Credentials};
use aftersale::call::{AccountState, CallSpec};
use aftersale::http::{Request, Response};
use aftersale::protocol::sync::{MirrorRow, SyncRun, SyncSettings, SyncState, SyncStep};
use aftersale::time::Date;
use aftersale::{normalize_page, NormalizeOptions, Platform};
use common::mirror::Mirror;
use serde_json::{json, Value};

const DAY: i64 = 86_400;
/// 2024-06-01 00:00 in China.
const T0: i64 = 1_717_171_200;

fn china(unix: i64) -> String {
    let t = unix + 8 * 3600;
    let d = Date::from_days_since_epoch(t.div_euclid(DAY));
    let s = t.rem_euclid(DAY);
    format!("{d} {:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

#[derive(Clone)]
struct Rec {
    id: String,
    updated_s: i64,
    state: i64,
}

/// Xiaoe's list by `updated_at` (inclusive China days), newest first, 100 a page at most.
struct ScriptedXiaoe {
    records: Vec<Rec>,
    data_calls: u32,
}

impl ScriptedXiaoe {
    fn new(n: usize) -> Self {
        // Spread over the 60 days before T0 + 60 days.
        let records = (0..n)
            .map(|i| Rec { id: format!("A{i:05}"), updated_s: T0 + (i as i64 * 7919) % (60 * DAY), state: 0 })
            .collect();
        ScriptedXiaoe { records, data_calls: 0 }
    }

    fn answer(&mut self, req: &Request) -> Response {
        if req.url.contains("/token") {
            return Response::ok(json!({"code":0,"data":{"access_token":"T","expires_in":7200}}).to_string());
        }
        self.data_calls += 1;
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(body["date_type"], "updated_at", "sync lists by updated time");
        let (a, b) = body["created_at"].as_str().unwrap().split_once("||").unwrap();
        let (from, to) = (Date::parse(a).unwrap(), Date::parse(b).unwrap());
        let page_index = body["page_index"].as_u64().unwrap() as usize;
        let page_size = body["page_size"].as_u64().unwrap() as usize;
        let mut hits: Vec<&Rec> = self
            .records
            .iter()
            .filter(|r| {
                let d = Date::from_days_since_epoch((r.updated_s + 8 * 3600).div_euclid(DAY));
                from <= d && d <= to
            })
            .collect();
        hits.sort_by(|x, y| y.updated_s.cmp(&x.updated_s).then(x.id.cmp(&y.id)));
        let total = hits.len();
        let list: Vec<Value> = hits
            .into_iter()
            .skip((page_index - 1) * page_size)
            .take(page_size)
            .map(|r| {
                json!({"aftersale_id": r.id, "sale_type": 1, "state": r.state, "refund_money": 100,
                       "created_at": china(T0 - 30 * DAY), "updated_at": china(r.updated_s)})
            })
            .collect();
        Response::ok(json!({"code":0,"msg":"ok","data":{"list":list,"row_count":total}}).to_string())
    }

    fn truth(&self) -> BTreeMap<String, i64> {
        self.records.iter().map(|r| (format!("xiaoe:{}", r.id), r.state)).collect()
    }
}

fn account() -> AccountState {
    let credentials = Credentials::new().with("app_id", "app").with("client_id", "c").with("secret_key", "k");
    AccountState::new(Account::new(Platform::Xiaoe, credentials).with_base_url("http://127.0.0.1:1"))
}

fn call(acct: &mut AccountState, up: &mut ScriptedXiaoe, spec: CallSpec, now_ms: u64) -> Response {
    let mut now = now_ms;
    common::drive_leased(acct, spec, &mut now, 0, |_, req| up.answer(req)).unwrap()
}

/// How an invocation ends in these tests.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    AsItMay,
    /// Killed after reading this many pages, the last one's records and checkpoint not stored.
    KilledAfter(usize),
}

/// One invocation: pages until caught up, out of budget, or killed.
fn invoke(
    up: &mut ScriptedXiaoe,
    acct: &mut AccountState,
    mirror: &mut Mirror,
    now_s: i64,
    max_calls: u32,
    ending: Ending,
) -> SyncStep {
    let settings = SyncSettings {
        overlap_s: 300,
        lag_s: 180,
        from: Date::from_days_since_epoch((T0 + 8 * 3600).div_euclid(DAY) - 5),
        max_calls,
    };
    let state = mirror.state.clone().unwrap_or_else(|| SyncState::new(Platform::Xiaoe));
    let now_ms = (now_s * 1000) as u64;
    let mut run = SyncRun::start(state, &settings, now_ms).unwrap();
    let mut pages = 0;
    loop {
        match run.next_step() {
            SyncStep::Call(spec) => {
                let body = call(acct, up, spec, now_ms).body;
                let page = normalize_page(Platform::Xiaoe, &body, NormalizeOptions::default()).unwrap();
                let records = run.handle_page(page);
                pages += 1;
                if ending == Ending::KilledAfter(pages) {
                    return SyncStep::OutOfBudget;
                }
                let rows = records.iter().map(|r| MirrorRow::from_record(r).unwrap()).collect();
                mirror.commit(rows, run.checkpoint());
            }
            other => {
                mirror.state = Some(run.checkpoint().clone());
                return other;
            }
        }
    }
}

#[test]
fn backfill_then_increments_give_every_change_once() {
    let mut up = ScriptedXiaoe::new(1200);
    let (mut acct, mut mirror) = (account(), Mirror::default());
    let now = T0 + 61 * DAY;
    assert_eq!(invoke(&mut up, &mut acct, &mut mirror, now, 1000, Ending::AsItMay), SyncStep::CaughtUp);
    assert_eq!(mirror.states(), up.truth());
    assert_eq!(mirror.created(), 1200);
    assert!(mirror.state.as_ref().unwrap().watermark_s.is_some_and(|w| w == now - 180));

    // Nothing changed upstream: re-reading the overlap changes nothing.
    let calls = up.data_calls;
    assert_eq!(invoke(&mut up, &mut acct, &mut mirror, now + 600, 1000, Ending::AsItMay), SyncStep::CaughtUp);
    assert_eq!(mirror.changes.len(), 1200);
    assert!(up.data_calls - calls <= 4, "an increment reads the recent days only ({} calls)", up.data_calls - calls);

    // 30 records move on, 10 appear; an hour later each shows up once.
    for r in up.records.iter_mut().step_by(40) {
        r.state = 13;
        r.updated_s = now + 1200;
    }
    for i in 0..10 {
        up.records.push(Rec { id: format!("NEW{i}"), updated_s: now + 1500 + i, state: 2 });
    }
    let later = now + 3600;
    assert_eq!(invoke(&mut up, &mut acct, &mut mirror, later, 1000, Ending::AsItMay), SyncStep::CaughtUp);
    assert_eq!(mirror.states(), up.truth());
    let updated = mirror.changes.iter().filter(|(_, c)| *c == "updated").count();
    assert_eq!((mirror.created(), updated), (1210, 30));
    mirror.assert_each_change_once();
}

#[test]
fn invocations_cut_by_budget_or_killed_resume_with_nothing_lost_or_doubled() {
    let mut up = ScriptedXiaoe::new(1500);
    let (mut acct, mut mirror) = (account(), Mirror::default());
    let now = T0 + 61 * DAY;
    let mut invocations = 0;
    loop {
        invocations += 1;
        assert!(invocations < 200, "the sync never caught up");
        // Every third invocation is killed after its second page, before storing it.
        let ending = if invocations % 3 == 0 { Ending::KilledAfter(2) } else { Ending::AsItMay };
        // The upstream moves on while the runs go: a record changes now and then.
        if invocations % 4 == 0 {
            let i = invocations * 37 % up.records.len();
            up.records[i].state = 11;
            up.records[i].updated_s = now - 3600 + invocations as i64;
        }
        if invoke(&mut up, &mut acct, &mut mirror, now + invocations as i64, 3, ending) == SyncStep::CaughtUp {
            break;
        }
    }
    assert!(invocations > 5, "the budget cut the sync into several invocations ({invocations})");
    // The changes are written an hour back (behind the lag): one a pass had read past is the next
    // run's, which re-reads the recent whole days.
    let next = now + invocations as i64 + 600;
    assert_eq!(invoke(&mut up, &mut acct, &mut mirror, next, 3, Ending::AsItMay), SyncStep::CaughtUp);
    assert_eq!(mirror.states(), up.truth());
    assert_eq!(mirror.created(), 1500);
    mirror.assert_each_change_once();
}

#[test]
fn a_day_longer_than_an_invocation_ends_in_a_run_that_caught_up() {
    // 900 records updated today, read 3 pages an invocation, back to back a second apart: the
    // pass over today spans several invocations, and once it is complete the run has caught up
    // instead of starting over on the same day.
    let mut up = ScriptedXiaoe::new(0);
    let (mut acct, mut mirror) = (account(), Mirror::default());
    let now = T0 + 61 * DAY;
    assert_eq!(invoke(&mut up, &mut acct, &mut mirror, now, 1000, Ending::AsItMay), SyncStep::CaughtUp);
    for i in 0..900 {
        up.records.push(Rec { id: format!("TODAY{i:04}"), updated_s: now + 10 + i, state: 1 });
    }
    let calls = up.data_calls;
    let mut invocations = 0;
    loop {
        invocations += 1;
        assert!(invocations <= 4, "a run that read the whole day should have caught up");
        if invoke(&mut up, &mut acct, &mut mirror, now + 1200 + invocations as i64, 3, Ending::AsItMay)
            == SyncStep::CaughtUp
        {
            break;
        }
    }
    assert_eq!(up.data_calls - calls, 9, "one pass over today's nine pages, not more");
    assert_eq!(mirror.states(), up.truth());
    mirror.assert_each_change_once();
    // With one call an invocation, a run that finishes the pass an earlier run began has caught up.
    let calls = up.data_calls;
    assert_eq!(invoke(&mut up, &mut acct, &mut mirror, now + 1300, 1, Ending::AsItMay), SyncStep::OutOfBudget);
    assert_eq!(invoke(&mut up, &mut acct, &mut mirror, now + 1301, 1, Ending::AsItMay), SyncStep::OutOfBudget);
    let mut runs = 2;
    while invoke(&mut up, &mut acct, &mut mirror, now + 1300 + runs, 1, Ending::AsItMay) != SyncStep::CaughtUp {
        runs += 1;
        assert!(runs < 20, "one call an invocation never caught up");
    }
    assert_eq!(up.data_calls - calls, 9);
}

#[test]
fn a_record_inside_the_lag_is_read_by_a_later_run() {
    let mut up = ScriptedXiaoe::new(50);
    let (mut acct, mut mirror) = (account(), Mirror::default());
    let now = T0 + 61 * DAY;
    invoke(&mut up, &mut acct, &mut mirror, now, 1000, Ending::AsItMay);
    // Written 60 s before "now": inside the lag, not promised by this run; the next one has it.
    up.records.push(Rec { id: "LATE".into(), updated_s: now + 540, state: 6 });
    invoke(&mut up, &mut acct, &mut mirror, now + 600, 1000, Ending::AsItMay);
    invoke(&mut up, &mut acct, &mut mirror, now + 1200, 1000, Ending::AsItMay);
    assert!(mirror.rows.contains_key("xiaoe:LATE"));
    assert_eq!(mirror.states(), up.truth());
}

#[test]
fn platforms_without_a_list_by_updated_time_say_so() {
    let settings = SyncSettings::defaults((T0 * 1000) as u64, 10);
    let e = SyncRun::start(SyncState::new(Platform::WechatShop), &settings, (T0 * 1000) as u64).unwrap_err();
    assert!(format!("{e}").contains("lookups and pushes"), "{e}");
    assert!(SyncRun::supports(Platform::Xiaoe) && SyncRun::supports(Platform::Lingxing));
    // Ids by next_key are synced too (tests/channels_sync.rs).
    assert!(SyncRun::supports(Platform::WechatChannels));
}

#[test]
fn rows_carry_what_queries_filter_on_and_a_hash_of_the_content_alone() {
    let body = json!({"code":0,"data":{"list":[{"aftersale_id":"A1","order_id":"O9","sale_type":2,"state":12,
        "refund_money":1990,"created_at":"2024-06-01 10:00:00","updated_at":"2024-06-02 11:00:00",
        "goods_list":[{"goods_name":"Book One","buy_num":1,"goods_price":1990}]}],"row_count":1}})
    .to_string();
    let plain = normalize_page(Platform::Xiaoe, &body, NormalizeOptions::default()).unwrap();
    let raw =
        normalize_page(Platform::Xiaoe, &body, NormalizeOptions { include_raw: true, ..Default::default() }).unwrap();
    let row = MirrorRow::from_record(&plain.records[0]).unwrap();
    assert_eq!(row.id, "xiaoe:A1");
    assert_eq!((row.status, row.kind), ("refunding", "return_refund"));
    assert_eq!(row.updated_s, Some(1_717_297_200));
    assert_eq!((row.refund_minor, row.refund_currency.as_deref()), (Some(1990), Some("CNY")));
    assert!(row.search.contains("book one") && row.search.contains("o9"));
    // The raw upstream record is not content: the same row either way.
    assert_eq!(MirrorRow::from_record(&raw.records[0]).unwrap(), row);
    assert!(!row.json.contains("\"raw\""));
}
