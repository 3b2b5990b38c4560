//! The protocol state machines driven against scripted upstreams in simulated time: no sockets,
//! no sleeping. Each test states what it proves: exactly-once delivery under faults, the number
//! of requests and token fetches, and pacing close to the minimum a rate limit allows.

use std::collections::{BTreeMap, HashMap};

use aftersale::account::{Account, Credentials};
use aftersale::call::{AccountState, CallSpec};
use aftersale::http::{Request, Response};
use aftersale::lease::{Grant, GrantCall, LeaseAnswer, LeaseReport, LeasedCall, Step};
use aftersale::pacing::RateLimit;
use aftersale::paginate::Pager;
use aftersale::query::ListQuery;
use aftersale::{normalize_page, Date, NormalizeOptions, Platform};
use serde_json::{json, Value};

fn date(s: &str) -> Date {
    Date::parse(s).unwrap()
}

/// A scripted Xiaoe/Lingxing upstream: holds records, enforces tokens, injects faults.
struct ScriptedUpstream {
    platform: Platform,
    /// (date, id) — sorted newest first for Xiaoe.
    records: Vec<(Date, String)>,
    tokens: HashMap<String, u32>,
    token_max_uses: u32,
    next_token: u32,
    token_fetches: u32,
    data_calls: u32,
    throttle_next: u32,
    fail_next: u32,
    /// After this many data calls, insert records at the front of the sort order.
    grow_at: Option<(u32, usize)>,
    /// Latency of every answer, in ms of simulated time.
    latency_ms: u64,
    /// Window limit the upstream enforces itself: (limit, window_ms), with send times.
    window: Option<(usize, u64)>,
    sends: Vec<u64>,
    throttled: u32,
}

impl ScriptedUpstream {
    fn new(platform: Platform, n: usize) -> Self {
        let start = date("2023-01-01");
        let mut records: Vec<(Date, String)> =
            (0..n).map(|i| (start.add_days((i % 28) as i64), format!("R{i:06}"))).collect();
        records.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        ScriptedUpstream {
            platform,
            records,
            tokens: HashMap::new(),
            token_max_uses: u32::MAX,
            next_token: 0,
            token_fetches: 0,
            data_calls: 0,
            throttle_next: 0,
            fail_next: 0,
            grow_at: None,
            latency_ms: 1,
            window: None,
            sends: Vec::new(),
            throttled: 0,
        }
    }

    fn answer(&mut self, now: u64, req: &Request) -> Response {
        let path = req.url.split('?').next().unwrap().to_string();
        if path.ends_with("/token") || path.ends_with("/access-token") || path.ends_with("/refresh") {
            self.token_fetches += 1;
            self.next_token += 1;
            let token = format!("tok{}", self.next_token);
            self.tokens.insert(token.clone(), 0);
            return Response::ok(match self.platform {
                Platform::Lingxing => json!({"code":"200","msg":"OK","data":{"access_token":token,"refresh_token":format!("r{token}"),"expires_in":7199}}),
                _ => json!({"code":0,"msg":"ok","data":{"access_token":token,"expires_in":7200}}),
            }
            .to_string());
        }
        self.data_calls += 1;
        if let Some((limit, window)) = self.window {
            self.sends.retain(|&t| t + window > now);
            if self.sends.len() >= limit {
                self.throttled += 1;
                return Response::ok(json!({"code":2054,"msg":"too many requests"}).to_string());
            }
            self.sends.push(now);
        }
        if self.throttle_next > 0 {
            self.throttle_next -= 1;
            self.throttled += 1;
            return match self.platform {
                Platform::Lingxing => Response::ok(json!({"code":3001008,"message":"rate limited"}).to_string()),
                _ => Response::ok(json!({"code":2054,"msg":"too many requests"}).to_string()),
            };
        }
        if self.fail_next > 0 {
            self.fail_next -= 1;
            return Response { status: 503, body: "<html>busy</html>".into(), retry_after_ms: None };
        }
        if let Some((at, add)) = self.grow_at {
            if self.data_calls > at {
                self.grow_at = None;
                for i in 0..add {
                    // Newest date: sorts to the front.
                    self.records.insert(0, (date("2023-01-28"), format!("NEW{i:04}")));
                }
            }
        }
        let (token, params): (String, Value) = match self.platform {
            Platform::Lingxing => {
                let q = req.url.split('?').nth(1).unwrap_or("");
                let token = q.split('&').find_map(|kv| kv.strip_prefix("access_token=")).unwrap_or("").to_string();
                (token, serde_json::from_slice(&req.body).unwrap())
            }
            _ => {
                let v: Value = serde_json::from_slice(&req.body).unwrap();
                (v["access_token"].as_str().unwrap_or("").to_string(), v)
            }
        };
        let expired = match self.tokens.get_mut(&token) {
            Some(uses) if *uses < self.token_max_uses => {
                *uses += 1;
                false
            }
            _ => true,
        };
        if expired {
            return Response::ok(
                match self.platform {
                    Platform::Lingxing => json!({"code":2001003,"message":"access token is missing or expired"}),
                    _ => json!({"code":2008,"msg":"access_token expired"}),
                }
                .to_string(),
            );
        }
        match self.platform {
            Platform::Xiaoe => {
                let range = params["created_at"].as_str().unwrap();
                let (a, b) = range.split_once("||").unwrap();
                let (from, to) = (date(a), date(b));
                let in_range: Vec<&(Date, String)> =
                    self.records.iter().filter(|(d, _)| *d >= from && *d <= to).collect();
                let size = params["page_size"].as_u64().unwrap() as usize;
                let index = params["page_index"].as_u64().unwrap() as usize;
                let list: Vec<Value> = in_range
                    .iter()
                    .skip((index - 1) * size)
                    .take(size)
                    .map(|(d, id)| json!({"aftersale_id": id, "sale_type": 1, "state": 13, "created_at": format!("{d} 10:00:00"), "refund_money": 100}))
                    .collect();
                Response::ok(json!({"code":0,"msg":"ok","data":{"list":list,"row_count":in_range.len()}}).to_string())
            }
            Platform::Lingxing => {
                let from = date(params["start_date"].as_str().unwrap());
                let to = date(params["end_date"].as_str().unwrap());
                let in_range: Vec<&(Date, String)> =
                    self.records.iter().filter(|(d, _)| *d >= from && *d < to).collect();
                let offset = params["offset"].as_u64().unwrap() as usize;
                let length = params["length"].as_u64().unwrap() as usize;
                let data: Vec<Value> = in_range
                    .iter()
                    .skip(offset)
                    .take(length)
                    .map(|(d, id)| json!({"id": 1, "amazon_order_id": "113-1", "seller_country": "US 美国", "item_list": [
                        {"item_identifier": format!("{id}-a"), "after_type": "退款", "after_time": format!("{d} 10:00:00"), "refund_amount": "-$1.00"},
                        {"item_identifier": format!("{id}-b"), "after_type": "退货", "after_time": format!("{d} 10:00:00"), "refund_amount": ""}
                    ]}))
                    .collect();
                Response::ok(json!({"code":0,"message":"success","data":data,"total":in_range.len()}).to_string())
            }
            _ => unreachable!(),
        }
    }

    /// Every upstream key a full pagination of [from, to) must deliver.
    fn truth(&self, from: Date, to: Date) -> Vec<String> {
        let mut ids = Vec::new();
        for (d, id) in &self.records {
            if *d >= from && *d < to {
                match self.platform {
                    Platform::Lingxing => {
                        ids.push(format!("{id}-a"));
                        ids.push(format!("{id}-b"));
                    }
                    _ => ids.push(id.clone()),
                }
            }
        }
        ids.sort();
        ids
    }
}

fn account(platform: Platform) -> Account {
    let credentials = match platform {
        Platform::Xiaoe => {
            Credentials::new().with("app_id", "app").with("client_id", "client").with("secret_key", "key")
        }
        Platform::Lingxing => Credentials::new().with("app_id", "ak_simulator0001").with("app_secret", "s"),
        _ => unreachable!(),
    };
    Account::new(platform, credentials).with_base_url("http://127.0.0.1:1")
}

/// A deterministic "random" source for backoff jitter.
struct Jitter(u32);
impl Jitter {
    fn next(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        self.0 >> 8
    }
}

/// The account object's side of one lease request, in simulated time: takes the reports in,
/// fetches the token itself when it must (its latency passes on the account's clock), grants.
fn grant(
    acct: &mut AccountState,
    up: &mut ScriptedUpstream,
    mut now: u64,
    reports: &[LeaseReport],
    prior: Option<LeaseReport>,
) -> (Result<LeaseAnswer, aftersale::Error>, u64) {
    let mut g = GrantCall::new(acct, now, reports, prior);
    for _ in 0..10_000 {
        match g.poll(acct, now) {
            Err(answer) => return (Ok(answer), now),
            Ok(Grant::Lease(lease)) => return (Ok(LeaseAnswer::Lease(lease)), now),
            Ok(Grant::Failed(e)) => return (Err(e), now),
            Ok(Grant::FetchToken(req)) => {
                let resp = up.answer(now, &req);
                now += up.latency_ms;
                g.handle_token_answer(acct, now, Ok(resp));
            }
            Ok(Grant::Wait { until_ms, .. }) => {
                assert!(until_ms > now, "a wait must move time forward");
                now = until_ms;
            }
        }
    }
    panic!("grant did not finish");
}

/// Drives one call to completion in simulated time, handler and account side; returns the
/// response and the new clock. Every report reaches the account.
fn drive_call(
    acct: &mut AccountState,
    up: &mut ScriptedUpstream,
    spec: CallSpec,
    mut now: u64,
    jitter: &mut Jitter,
) -> (Result<Response, aftersale::Error>, u64) {
    let mut call = LeasedCall::new(spec);
    let account = acct.account().clone();
    for _ in 0..10_000 {
        match call.poll(&account, now) {
            Step::Lease { prior } => {
                let (answer, t) = grant(acct, up, now, &[], prior);
                now = t;
                call.granted(now, answer);
            }
            Step::Send(req, _) => {
                let resp = up.answer(now, &req);
                now += up.latency_ms;
                call.handle_response(now, jitter.next(), Ok(resp));
            }
            Step::Wait { until_ms } => {
                assert!(until_ms > now, "a wait must move time forward");
                now = until_ms;
            }
            Step::Done(r, report) => {
                if let Some(report) = report {
                    acct.report(now, &report);
                }
                return (r, now);
            }
        }
    }
    panic!("call did not finish");
}

/// Pages through a whole query; returns delivered upstream keys (in order) and the end time.
fn paginate(up: &mut ScriptedUpstream, acct: &mut AccountState, mut pager: Pager) -> (Vec<String>, u64) {
    let mut now = 1_000_000;
    let start = now;
    let mut jitter = Jitter(7);
    let mut delivered = Vec::new();
    while let Some(spec) = pager.next_call() {
        let (result, t) = drive_call(acct, up, spec, now, &mut jitter);
        now = t;
        let response = result.expect("page call failed");
        let page = normalize_page(up.platform, &response.body, NormalizeOptions::default()).unwrap();
        for r in pager.handle_page(page) {
            delivered.push(r.aftersale_id.into_owned());
        }
    }
    (delivered, now - start)
}

fn assert_exactly_once(delivered: &[String], truth: &[String]) {
    let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
    for id in delivered {
        *counts.entry(id).or_default() += 1;
    }
    let repeated: Vec<_> = counts.iter().filter(|(_, &c)| c > 1).collect();
    assert!(repeated.is_empty(), "repeated: {repeated:?}");
    let mut sorted = delivered.to_vec();
    sorted.sort();
    let missing: Vec<_> = truth.iter().filter(|t| !counts.contains_key(t.as_str())).collect();
    assert!(missing.is_empty(), "missing {} records, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    assert_eq!(sorted, truth);
}

fn query(platform: Platform, from: &str, to: &str, limit: u32) -> ListQuery {
    let mut q = ListQuery::new(platform, date(from), date(to));
    q.limit = limit;
    q
}

#[test]
fn xiaoe_full_pagination_under_faults_delivers_every_record_once() {
    let mut up = ScriptedUpstream::new(Platform::Xiaoe, 1000);
    up.token_max_uses = 4; // the token expires mid-pagination, repeatedly
    up.throttle_next = 3;
    let mut acct = AccountState::new(account(Platform::Xiaoe));
    let q = query(Platform::Xiaoe, "2023-01-01", "2023-02-01", 37);
    // Faults sprinkled across the run: a 5xx every so often.
    let pager = Pager::new(q.clone()).unwrap();
    up.fail_next = 2;
    let (delivered, _) = paginate(&mut up, &mut acct, pager);
    assert_exactly_once(&delivered, &up.truth(q.from, q.to));
    // 1000 records / 37 a page = 28 pages (the 31-day window holds all), plus retries.
    let pages = 1000usize.div_ceil(37) as u32;
    let expired_tokens = up.token_fetches - 1;
    assert_eq!(up.data_calls, pages + 3 + 2 + expired_tokens, "one extra call per throttle, 5xx and expired token");
    // Throttled and failed answers come before the token check, so only pages use the token.
    assert_eq!(up.token_fetches, pages.div_ceil(4), "one fetch per token lifetime of 4 uses");
}

#[test]
fn xiaoe_range_longer_than_a_window_is_split_without_gap_or_overlap() {
    let mut up = ScriptedUpstream::new(Platform::Xiaoe, 500);
    let mut acct = AccountState::new(account(Platform::Xiaoe));
    // 2023-01-01 .. 2023-03-15 spans three 31-day windows; records live in Jan 1..28.
    for (from, to) in [("2022-12-20", "2023-03-15"), ("2023-01-05", "2023-01-06"), ("2023-01-10", "2023-01-28")] {
        let q = query(Platform::Xiaoe, from, to, 50);
        let (delivered, _) = paginate(&mut up, &mut acct, Pager::new(q.clone()).unwrap());
        assert_exactly_once(&delivered, &up.truth(q.from, q.to));
    }
    // Consecutive ranges add up to the whole: no day counted twice or lost at the edges.
    let mut all = Vec::new();
    for (from, to) in [("2023-01-01", "2023-01-10"), ("2023-01-10", "2023-01-20"), ("2023-01-20", "2023-02-01")] {
        let (d, _) = paginate(&mut up, &mut acct, Pager::new(query(Platform::Xiaoe, from, to, 100)).unwrap());
        all.extend(d);
    }
    assert_exactly_once(&all, &up.truth(date("2023-01-01"), date("2023-02-01")));
}

#[test]
fn growing_total_mid_pagination_loses_nothing_and_repeats_nothing() {
    for platform in [Platform::Xiaoe, Platform::Lingxing] {
        for mode in ["pages", "export"] {
            let mut up = ScriptedUpstream::new(platform, 400);
            up.grow_at = Some((3, 17)); // after 3 calls, 17 new records sort to the front
            let mut acct = AccountState::new(account(platform));
            let q = query(platform, "2023-01-01", "2023-02-01", 30);
            let pager =
                if mode == "export" { Pager::for_export(q.clone()).unwrap() } else { Pager::new(q.clone()).unwrap() };
            let (delivered, _) = paginate(&mut up, &mut acct, pager);
            assert_exactly_once(&delivered, &up.truth(q.from, q.to));
        }
    }
}

#[test]
fn cursor_state_round_trip_mid_pagination_continues_exactly() {
    let key = aftersale::cursor::CursorKey::new(b"secret");
    let mut up = ScriptedUpstream::new(Platform::Xiaoe, 300);
    up.grow_at = Some((2, 5));
    let mut acct = AccountState::new(account(Platform::Xiaoe));
    let q = query(Platform::Xiaoe, "2023-01-01", "2023-02-01", 40);
    let mut jitter = Jitter(1);
    let mut now = 10_000;
    let mut delivered = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        // Each page is a fresh request: the pager is rebuilt from the cursor alone.
        let pager_in = match &cursor {
            None => Pager::new(q.clone()).unwrap(),
            Some(c) => {
                let (cq, state) = aftersale::cursor::open(&key, c).unwrap();
                assert_eq!(cq, q);
                Pager::resume(cq, state).unwrap()
            }
        };
        let mut pager = pager_in;
        let Some(spec) = pager.next_call() else { break };
        let (r, t) = drive_call(&mut acct, &mut up, spec, now, &mut jitter);
        now = t;
        let body = r.unwrap().body;
        let page = normalize_page(Platform::Xiaoe, &body, NormalizeOptions::default()).unwrap();
        delivered.extend(pager.handle_page(page).into_iter().map(|r| r.aftersale_id.into_owned()));
        if pager.is_done() {
            break;
        }
        cursor = Some(aftersale::cursor::seal(&key, pager.query(), pager.state()));
        assert!(cursor.as_ref().unwrap().len() < 1200, "cursor stays URL-sized");
    }
    assert_exactly_once(&delivered, &up.truth(q.from, q.to));
}

#[test]
fn lingxing_lines_are_split_and_keyed_once_each() {
    let mut up = ScriptedUpstream::new(Platform::Lingxing, 250);
    up.token_max_uses = 2;
    up.throttle_next = 2;
    let mut acct = AccountState::new(account(Platform::Lingxing));
    let q = query(Platform::Lingxing, "2023-01-01", "2023-02-01", 40);
    let (delivered, _) = paginate(&mut up, &mut acct, Pager::new(q.clone()).unwrap());
    assert_exactly_once(&delivered, &up.truth(q.from, q.to));
    // Tokens were renewed through the refresh token after the first fetch.
    assert!(up.token_fetches >= 2);
}

#[test]
fn concurrent_auth_failures_cause_one_refresh() {
    let mut up = ScriptedUpstream::new(Platform::Xiaoe, 100);
    let mut acct = AccountState::new(account(Platform::Xiaoe));
    let mut jitter = Jitter(3);
    let now = 5_000;
    let spec = Pager::new(query(Platform::Xiaoe, "2023-01-01", "2023-02-01", 10)).unwrap().next_call().unwrap();
    // Warm up: one call fetches the token.
    let (r, now) = drive_call(&mut acct, &mut up, spec.clone(), now, &mut jitter);
    r.unwrap();
    assert_eq!(up.token_fetches, 1);
    // Eight calls get their requests out with the same token; then the upstream revokes it.
    let account = acct.account().clone();
    let mut calls: Vec<LeasedCall> = (0..8).map(|_| LeasedCall::new(spec.clone())).collect();
    let mut sent = Vec::new();
    for c in calls.iter_mut() {
        let Step::Lease { prior } = c.poll(&account, now) else { panic!("expected a lease request") };
        let (answer, _) = grant(&mut acct, &mut up, now, &[], prior);
        c.granted(now, answer);
        match c.poll(&account, now) {
            Step::Send(req, _) => sent.push(req),
            other => panic!("expected a send, got {other:?}"),
        }
    }
    up.tokens.clear(); // every outstanding request now fails auth
    let answers: Vec<Response> = sent.iter().map(|r| up.answer(now, r)).collect();
    for (c, a) in calls.iter_mut().zip(answers) {
        c.handle_response(now + 1, jitter.next(), Ok(a));
    }
    // All eight retry; exactly one report drops the token, the rest find the new one.
    let mut now = now + 1;
    let mut finished = vec![false; calls.len()];
    let mut guard = 0;
    while finished.iter().any(|f| !f) {
        guard += 1;
        assert!(guard < 10_000);
        let mut next = u64::MAX;
        for (c, fin) in calls.iter_mut().zip(finished.iter_mut()) {
            if *fin {
                continue;
            }
            match c.poll(&account, now) {
                Step::Lease { prior } => {
                    let (answer, t) = grant(&mut acct, &mut up, now, &[], prior);
                    c.granted(t, answer);
                    next = next.min(now);
                }
                Step::Send(req, _) => {
                    let a = up.answer(now, &req);
                    c.handle_response(now, jitter.next(), Ok(a));
                    next = next.min(now);
                }
                Step::Wait { until_ms } => next = next.min(until_ms),
                Step::Done(r, report) => {
                    r.expect("call succeeds after one refresh");
                    if let Some(report) = report {
                        acct.report(now, &report);
                    }
                    *fin = true;
                }
            }
        }
        now = next.max(now + 1);
    }
    assert_eq!(up.token_fetches, 2, "eight concurrent auth failures, one refresh");
}

#[test]
fn auth_failure_right_after_refresh_gives_up_instead_of_looping() {
    let mut up = ScriptedUpstream::new(Platform::Xiaoe, 10);
    up.token_max_uses = 0; // every token is refused
    let mut acct = AccountState::new(account(Platform::Xiaoe));
    let spec = Pager::new(query(Platform::Xiaoe, "2023-01-01", "2023-02-01", 10)).unwrap().next_call().unwrap();
    let (r, _) = drive_call(&mut acct, &mut up, spec, 0, &mut Jitter(1));
    let e = r.unwrap_err();
    assert_eq!(e.code(), aftersale::ErrorCode::UpstreamAuth, "{e}");
    assert_eq!(up.token_fetches, 2, "one refresh, then give up");
    assert_eq!(e.upstream().map(|u| u.code.as_str()), Some("2008"));
}

#[test]
fn persistent_5xx_exhausts_retries_with_the_last_answer() {
    let mut up = ScriptedUpstream::new(Platform::Xiaoe, 10);
    up.fail_next = 100;
    let mut acct = AccountState::new(account(Platform::Xiaoe));
    let spec = Pager::new(query(Platform::Xiaoe, "2023-01-01", "2023-02-01", 10)).unwrap().next_call().unwrap();
    let (r, elapsed) = drive_call(&mut acct, &mut up, spec, 0, &mut Jitter(1));
    let e = r.unwrap_err();
    assert_eq!(e.code(), aftersale::ErrorCode::UpstreamUnavailable, "{e}");
    assert_eq!(up.data_calls, acct.retry.max_attempts);
    assert!(elapsed > 1000, "backed off between attempts (took {elapsed} ms)");
    assert!(e.to_string().contains("HTTP 503"), "{e}");
}

/// The bound this proves: paging N records through Xiaoe's 300-calls-a-minute limit takes at
/// most 1.1× the least time that limit allows, and the upstream never throttles.
#[test]
fn xiaoe_pacing_is_within_ten_percent_of_the_rate_limit_minimum() {
    // 901 pages of 100: four windows' worth of calls at 300 a window.
    let records = 900 * 100 + 50;
    let mut up = ScriptedUpstream::new(Platform::Xiaoe, records);
    let limit = 300usize;
    let window_ms = 60_000u64;
    up.window = Some((limit, window_ms));
    up.latency_ms = 20;
    let mut acct = AccountState::new(account(Platform::Xiaoe)).with_rate_limit(Platform::Xiaoe.upstream().rate_limit());
    // One 28-day window: pages = ceil(records / 100).
    let q = query(Platform::Xiaoe, "2023-01-01", "2023-01-29", 100);
    let (delivered, elapsed) = paginate(&mut up, &mut acct, Pager::new(q.clone()).unwrap());
    assert_exactly_once(&delivered, &up.truth(q.from, q.to));
    let pages = records.div_ceil(100) as u64;
    // Pages go one after another (each offset follows the last answer), so the run takes at
    // least pages × latency; and the limit lets `limit` calls start per window, so the last
    // page starts no sooner than (ceil(pages / limit) - 1) windows in. One token fetch first.
    let serial = (pages + 1) * up.latency_ms;
    let windowed = (pages.div_ceil(limit as u64) - 1) * window_ms + 2 * up.latency_ms;
    let minimum = serial.max(windowed);
    assert!(windowed > serial, "the test exercises the limit, not just latency");
    assert_eq!(up.throttled, 0, "the pacer kept under the limit");
    assert!(
        elapsed as f64 <= minimum as f64 * 1.1,
        "took {elapsed} ms for {pages} pages; the limit allows {minimum} ms"
    );
}

/// Lingxing admits one request at a time: N serial pages of latency L take at least N × L.
#[test]
fn lingxing_serial_pacing_is_within_ten_percent_of_the_minimum() {
    let mut up = ScriptedUpstream::new(Platform::Lingxing, 5000);
    up.latency_ms = 50;
    let mut acct = AccountState::new(account(Platform::Lingxing));
    let q = query(Platform::Lingxing, "2023-01-01", "2023-02-01", 100);
    let (delivered, elapsed) = paginate(&mut up, &mut acct, Pager::new(q.clone()).unwrap());
    assert_exactly_once(&delivered, &up.truth(q.from, q.to));
    let calls = u64::from(up.data_calls + up.token_fetches);
    let minimum = calls * up.latency_ms;
    assert!(elapsed as f64 <= minimum as f64 * 1.1, "took {elapsed} ms; minimum {minimum} ms");
}

/// Secrets print as `[redacted]`: credentials, tokens, token requests, cursor keys.
#[test]
fn debug_output_never_shows_secrets() {
    let credentials = Credentials::new()
        .with("app_id", "app")
        .with("client_id", "CLIENT-ID-SECRET")
        .with("secret_key", "SECRET-KEY-VALUE");
    let account = Account::new(Platform::Xiaoe, credentials).with_base_url("http://127.0.0.1:1");
    let mut acct = AccountState::new(account.clone());
    let spec = Pager::new(query(Platform::Xiaoe, "2023-01-01", "2023-02-01", 10)).unwrap().next_call().unwrap();
    let mut g = GrantCall::new(&mut acct, 0, &[], None);
    let Ok(Grant::FetchToken(token_request)) = g.poll(&mut acct, 0) else { panic!("expected the token fetch") };
    g.handle_token_answer(
        &mut acct,
        1,
        Ok(Response::ok(r#"{"code":0,"data":{"access_token":"TOKEN-VALUE-123","expires_in":7200}}"#)),
    );
    let Ok(Grant::Lease(lease)) = g.poll(&mut acct, 2) else { panic!("expected a lease") };
    let mut call = LeasedCall::new(spec);
    call.granted(2, Ok(LeaseAnswer::Lease(lease.clone())));
    let Step::Send(data_request, _) = call.poll(&account, 2) else { panic!("expected the data call") };
    let lease_json = serde_json::to_string(&lease).unwrap();
    assert!(lease_json.contains("TOKEN-VALUE-123"), "the lease carries its token to the handler");
    let printed = format!(
        "{account:?} {acct:?} {token_request:?} {data_request:?} {lease:?} {call:?} {:?} {:?}",
        acct.tokens.snapshot(),
        aftersale::cursor::CursorKey::new(b"CURSOR-KEY")
    );
    for secret in ["CLIENT-ID-SECRET", "SECRET-KEY-VALUE", "TOKEN-VALUE-123", "CURSOR-KEY"] {
        assert!(!printed.contains(secret), "{secret} leaked into Debug output: {printed}");
    }
    assert!(printed.contains("[redacted]"));
    // The request itself still carries them, of course.
    assert!(String::from_utf8_lossy(&data_request.body).contains("TOKEN-VALUE-123"));
    assert!(token_request.url.contains("SECRET-KEY-VALUE"));
}

/// The prefetch hint names exactly the call the pager asks for next whenever the page came back
/// full and unchanged, across pages and windows — and never a call past the end.
#[test]
fn speculative_next_matches_the_next_call_on_an_unchanged_list() {
    // Exports read 100 Xiaoe records or 5000 Lingxing records a page: several pages each.
    for (platform, records) in [(Platform::Xiaoe, 700), (Platform::Lingxing, 12_500)] {
        let mut up = ScriptedUpstream::new(platform, records);
        let mut acct = AccountState::new(account(platform));
        // Xiaoe: three 31-day windows; Lingxing: one window.
        let q = query(platform, "2022-12-01", "2023-03-01", 60);
        let mut pager = Pager::for_export(q.clone()).unwrap();
        let (mut now, mut jitter) = (0, Jitter(5));
        let (mut hits, mut delivered) = (0, Vec::new());
        while let Some(spec) = pager.next_call() {
            let guess = pager.speculative_next();
            let (r, t) = drive_call(&mut acct, &mut up, spec, now, &mut jitter);
            now = t;
            let body = r.unwrap().body;
            let page = normalize_page(platform, &body, NormalizeOptions::default()).unwrap();
            delivered.extend(pager.handle_page(page).into_iter().map(|r| r.aftersale_id.into_owned()));
            if let Some(g) = guess {
                assert_eq!(Some(g), pager.next_call(), "{platform}: a wrong guess on an unchanged list");
                hits += 1;
            }
        }
        assert_exactly_once(&delivered, &up.truth(q.from, q.to));
        assert!(hits > 0, "{platform}: the hint was never available");
    }
}

/// Requests are signed over their encoded form, so the escaped set must never drift: every byte
/// but RFC 3986's unreserved characters becomes uppercase `%XX`, UTF-8 byte by byte, in URLs
/// and form bodies alike.
#[test]
fn components_escape_all_but_the_unreserved_characters() {
    use aftersale::http::{encode_component, form_body, url_with_query};
    for b in 0u8..0x80 {
        let c = char::from(b);
        let mut out = String::new();
        encode_component(&mut out, &c.to_string());
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
        let expected = if unreserved { c.to_string() } else { format!("%{b:02X}") };
        assert_eq!(out, expected, "byte {b:#04x}");
    }
    let mut out = String::new();
    encode_component(&mut out, "小鹅 a+b/c=d~é");
    assert_eq!(out, "%E5%B0%8F%E9%B9%85%20a%2Bb%2Fc%3Dd~%C3%A9");
    assert_eq!(url_with_query("https://h/", "/p", &[("k y", "v&w"), ("z", "")]), "https://h/p?k%20y=v%26w&z=");
    assert_eq!(form_body(&[("appId", "a+b"), ("appSecret", "x y")]), b"appId=a%2Bb&appSecret=x%20y".to_vec());
}

/// A handler that dies holding a serial upstream's slot blocks the account only until its
/// lease ends; its late report then frees nothing (the slot is someone else's by then).
#[test]
fn a_dead_holders_slot_frees_at_the_lease_timeout_and_only_once() {
    use aftersale::lease::{Outcome, LEASE_TIMEOUT_MS};
    let mut up = ScriptedUpstream::new(Platform::Lingxing, 10);
    let mut acct = AccountState::new(account(Platform::Lingxing));
    let (answer, now) = grant(&mut acct, &mut up, 1_000, &[], None);
    let Ok(LeaseAnswer::Lease(dead)) = answer else { panic!("expected a lease, got {answer:?}") };
    assert!(dead.slot, "Lingxing's leases hold its one slot");
    // The account's owner restarts (an object evicted while idle): it keeps the slot leased.
    let mut restarted = AccountState::new(account(Platform::Lingxing));
    restarted.tokens.restore(acct.tokens.snapshot().unwrap());
    restarted.restore_leases(acct.lease_snapshot());
    let mut acct = restarted;
    // The holder never reports. The next request waits, at most until the lease's end.
    let mut next = GrantCall::new(&mut acct, now, &[], None);
    let Ok(Grant::Wait { until_ms, on_account_change: true }) = next.poll(&mut acct, now) else {
        panic!("a second lease while the slot is held")
    };
    assert_eq!(until_ms, dead.send_at_ms + LEASE_TIMEOUT_MS, "the wait ends when the dead lease does");
    assert!(matches!(next.poll(&mut acct, until_ms - 1), Ok(Grant::Wait { .. })), "not before");
    let Ok(Grant::Lease(live)) = next.poll(&mut acct, until_ms) else { panic!("the slot should be free") };
    assert_eq!(acct.leases.expired, 1);
    // The dead holder wakes up and reports: the live holder keeps the slot.
    let late = LeaseReport {
        lease: dead.id,
        generation: dead.generation,
        slot: true,
        outcome: Outcome::Done,
        reserved_at_ms: 0,
        sent_at_ms: 0,
    };
    acct.report(until_ms + 1, &late);
    let mut third = GrantCall::new(&mut acct, until_ms + 1, &[], None);
    assert!(
        matches!(third.poll(&mut acct, until_ms + 1), Ok(Grant::Wait { .. })),
        "a late report freed a slot it no longer held"
    );
    // The live holder's report frees it.
    acct.report(
        until_ms + 2,
        &LeaseReport {
            lease: live.id,
            generation: live.generation,
            slot: true,
            outcome: Outcome::Done,
            reserved_at_ms: 0,
            sent_at_ms: 0,
        },
    );
    assert!(matches!(third.poll(&mut acct, until_ms + 2), Ok(Grant::Lease(_))));
}

/// Several paginations at once on one account, in simulated time: each walker's lease
/// requests, the account's grants (and its token fetches), and the upstream's answers arrive
/// in time order. Returns each walker's delivered keys and the longest the run took.
struct Flock {
    now: u64,
    /// (send, answer) times of every data call, to check the serial upstream's one in flight.
    sends: Vec<(u64, u64)>,
}

enum Walk {
    Idle,
    Asking(LeasedCall, GrantCall, Option<Response>),
    Calling(LeasedCall, Option<Response>),
}

impl Flock {
    fn run(up: &mut ScriptedUpstream, acct: &mut AccountState, pagers: Vec<Pager>) -> (Vec<Vec<String>>, Flock) {
        let mut flock = Flock { now: 1_000_000, sends: Vec::new() };
        let account = acct.account().clone();
        let mut jitter = Jitter(11);
        let n = pagers.len();
        let mut pagers = pagers;
        let mut walks: Vec<Walk> = (0..n).map(|_| Walk::Idle).collect();
        // Staggered starts, so walkers interleave rather than march in step.
        let mut ready: Vec<u64> = (0..n as u64).map(|i| flock.now + i * 3).collect();
        let mut done = vec![false; n];
        let mut delivered = vec![Vec::new(); n];
        for _ in 0..2_000_000 {
            let Some(i) = (0..n).filter(|&i| !done[i]).min_by_key(|&i| ready[i]) else { break };
            flock.now = flock.now.max(ready[i]);
            let now = flock.now;
            walks[i] = match std::mem::replace(&mut walks[i], Walk::Idle) {
                Walk::Idle => match pagers[i].next_call() {
                    None => {
                        done[i] = true;
                        Walk::Idle
                    }
                    Some(spec) => Walk::Calling(LeasedCall::new(spec), None),
                },
                Walk::Asking(mut call, mut g, token_answer) => {
                    if let Some(resp) = token_answer {
                        g.handle_token_answer(acct, now, Ok(resp));
                    }
                    match g.poll(acct, now) {
                        Err(answer) => {
                            call.granted(now, Ok(answer));
                            ready[i] = now + 1;
                            Walk::Calling(call, None)
                        }
                        Ok(Grant::Lease(lease)) => {
                            call.granted(now, Ok(LeaseAnswer::Lease(lease)));
                            ready[i] = now + 1;
                            Walk::Calling(call, None)
                        }
                        Ok(Grant::Failed(e)) => panic!("walker {i}: lease refused: {e}"),
                        Ok(Grant::FetchToken(req)) => {
                            let resp = up.answer(now, &req);
                            ready[i] = now + up.latency_ms;
                            Walk::Asking(call, g, Some(resp))
                        }
                        Ok(Grant::Wait { until_ms, on_account_change }) => {
                            ready[i] = if on_account_change { until_ms.min(now + 2) } else { until_ms };
                            Walk::Asking(call, g, None)
                        }
                    }
                }
                Walk::Calling(mut call, answer) => {
                    if let Some(resp) = answer {
                        call.handle_response(now, jitter.next(), Ok(resp));
                    }
                    match call.poll(&account, now) {
                        Step::Lease { prior } => {
                            let g = GrantCall::new(acct, now, &[], prior);
                            ready[i] = now + 1;
                            Walk::Asking(call, g, None)
                        }
                        Step::Send(req, _) => {
                            let resp = up.answer(now, &req);
                            // Answers take the upstream's latency, give or take a few ms, so
                            // walkers overtake each other as real callers do.
                            let latency = up.latency_ms + u64::from(jitter.next() % 7);
                            flock.sends.push((now, now + latency));
                            ready[i] = now + latency;
                            Walk::Calling(call, Some(resp))
                        }
                        Step::Wait { until_ms } => {
                            ready[i] = until_ms.max(now + 1);
                            Walk::Calling(call, None)
                        }
                        Step::Done(result, report) => {
                            if let Some(report) = report {
                                acct.report(now, &report);
                            }
                            let response = result.unwrap_or_else(|e| panic!("walker {i}: a page failed: {e}"));
                            let page =
                                normalize_page(up.platform, &response.body, NormalizeOptions::default()).unwrap();
                            delivered[i]
                                .extend(pagers[i].handle_page(page).into_iter().map(|r| r.aftersale_id.into_owned()));
                            Walk::Idle
                        }
                    }
                }
            };
        }
        assert!(done.iter().all(|d| *d), "the walkers did not finish");
        (delivered, flock)
    }

    fn max_in_flight(&self) -> usize {
        let mut most = 0;
        for &(start, _) in &self.sends {
            most = most.max(self.sends.iter().filter(|&&(s, e)| s <= start && start < e).count());
        }
        most
    }
}

/// Five exports at once against tokens that expire every few uses (6, and 2, where a call that
/// counted every refusal of the newest token would fail): refusals of a token that has served
/// calls, or of one older than the account's, never spend a call's refresh, so every export
/// completes and equals the truth.
#[test]
fn concurrent_exports_survive_tokens_expiring_every_few_uses() {
    for (platform, uses) in
        [(Platform::Xiaoe, 6), (Platform::Xiaoe, 2), (Platform::Lingxing, 6), (Platform::Lingxing, 2)]
    {
        let mut up = ScriptedUpstream::new(platform, 700);
        up.token_max_uses = uses;
        up.latency_ms = 20;
        let mut acct = AccountState::new(account(platform));
        let q = query(platform, "2023-01-01", "2023-02-01", 25);
        // Pages of 25 so each export makes many calls (Lingxing: 28 calls, Xiaoe: 28).
        let pagers = (0..5).map(|_| Pager::new(q.clone()).unwrap()).collect();
        let (delivered, flock) = Flock::run(&mut up, &mut acct, pagers);
        for d in &delivered {
            assert_exactly_once(d, &up.truth(q.from, q.to));
        }
        let pages = 5 * 700usize.div_ceil(25) as u32;
        assert!(up.token_fetches >= pages / uses, "{platform}: tokens really expired ({} fetches)", up.token_fetches);
        if platform == Platform::Lingxing {
            assert_eq!(flock.max_in_flight(), 1, "Lingxing: one call in flight across all exports");
        }
    }
}

/// Ten exports at once on one Xiaoe account stay within its window limit (the upstream
/// enforces it and throttles nothing) and each equals the truth.
#[test]
fn ten_concurrent_exports_stay_within_the_window_limit() {
    let mut up = ScriptedUpstream::new(Platform::Xiaoe, 1200);
    up.window = Some((30, 1_000));
    up.latency_ms = 15;
    let mut acct =
        AccountState::new(account(Platform::Xiaoe)).with_rate_limit(RateLimit::Window { limit: 30, window_ms: 1_000 });
    let q = query(Platform::Xiaoe, "2023-01-01", "2023-01-29", 100);
    let pagers = (0..10).map(|_| Pager::for_export(q.clone()).unwrap()).collect();
    let start = 1_000_000;
    let (delivered, flock) = Flock::run(&mut up, &mut acct, pagers);
    for d in &delivered {
        assert_exactly_once(d, &up.truth(q.from, q.to));
    }
    assert_eq!(up.throttled, 0, "the leases kept every export under the limit");
    // A restarted owner remembers the window: right after the run it does not grant at once.
    let mut restarted =
        AccountState::new(account(Platform::Xiaoe)).with_rate_limit(RateLimit::Window { limit: 30, window_ms: 1_000 });
    restarted.tokens.restore(acct.tokens.snapshot().unwrap());
    restarted.restore_leases(acct.lease_snapshot());
    let at_once = (0..30)
        .filter(|_| match restarted.grant(flock.now, 10_000) {
            Grant::Lease(l) => l.send_at_ms < flock.now + 1,
            Grant::Wait { .. } => false,
            other => panic!("{other:?}"),
        })
        .count();
    assert!(at_once < 30, "a restarted owner granted a fresh window at once ({at_once} leases)");
    // 10 × 12 pages = 120 calls at 30 a second: at least 3 s, and not much more.
    let calls = u64::from(up.data_calls);
    let minimum = (calls.div_ceil(30) - 1) * 1_000;
    let elapsed = flock.now - start;
    assert!(elapsed >= minimum, "faster than the limit allows: {elapsed} ms");
    assert!(elapsed as f64 <= minimum as f64 * 1.1 + 200.0, "took {elapsed} ms; the limit allows {minimum} ms");
}
