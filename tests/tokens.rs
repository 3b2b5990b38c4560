//! Token handling against the facts of UPSTREAMS.md, in simulated time: WeChat's stable token
//! is cached by the `expires_in` it answers (as little as 300 s) and renewed in time, and a new
//! one is forced at most once every 30 s and 20 times a day.

use aftersale::account::{Account, Credentials};
use aftersale::http::{Request, Response};
use aftersale::token::{TokenManager, TokenPoll};
use aftersale::upstream::classify_response;
use aftersale::Platform;
use serde_json::Value;

fn wechat() -> TokenManager {
    let credentials = Credentials::new().with("appid", "wx-app").with("secret", "wx-secret");
    TokenManager::new(Account::new(Platform::WechatShop, credentials).with_base_url("http://127.0.0.1:1"))
}

fn grant(token: &str, expires_in: u64) -> Response {
    Response::ok(format!(r#"{{"access_token":"{token}","expires_in":{expires_in}}}"#))
}

fn forced(request: &Request) -> bool {
    let body: Value = serde_json::from_slice(&request.body).expect("the stable token request is JSON");
    assert!(request.url.ends_with("/cgi-bin/stable_token"), "{}", request.url);
    body["force_refresh"] == Value::Bool(true)
}

fn expect_fetch(tokens: &mut TokenManager, now: u64) -> Request {
    match tokens.poll(now) {
        TokenPoll::Fetch(r) => r,
        other => panic!("at {now} ms expected a token fetch, got {other:?}"),
    }
}

fn expect_ready(tokens: &mut TokenManager, now: u64) -> String {
    match tokens.poll(now) {
        TokenPoll::Ready(t) => t.value.expose().to_string(),
        other => panic!("at {now} ms expected a usable token, got {other:?}"),
    }
}

#[test]
fn a_stable_token_answered_with_300_seconds_is_renewed_before_it_expires() {
    let mut tokens = wechat();
    let first = expect_fetch(&mut tokens, 0);
    assert!(!forced(&first));
    tokens.handle_response(10, &grant("T1", 300)).unwrap();
    // Cached by what was answered: usable until shortly before 300 s, not for 7200 s.
    assert_eq!(expect_ready(&mut tokens, 200_000), "T1");
    // Renewal starts ahead of expiry while the old token still serves other callers.
    let mut now = 200_000;
    let renewal = loop {
        now += 1_000;
        assert!(now < 310_010, "never renewed before the token expired");
        if let TokenPoll::Fetch(r) = tokens.poll(now) {
            break r;
        }
    };
    assert!(now < 300_010, "renewal started at {now} ms, after the token expired");
    assert!(!forced(&renewal), "renewal of a token that was not refused does not force");
    assert_eq!(expect_ready(&mut tokens, now + 1), "T1", "the old token serves while the renewal is out");
    tokens.handle_response(now + 50, &grant("T2", 7200)).unwrap();
    assert_eq!(expect_ready(&mut tokens, 300_100), "T2");
    assert_eq!(tokens.fetch_count, 2);
}

#[test]
fn a_refused_stable_token_is_forced_anew_at_most_every_30_seconds_and_20_times_a_day() {
    let mut tokens = wechat();
    expect_fetch(&mut tokens, 0);
    tokens.handle_response(0, &grant("T0", 7200)).unwrap();
    let mut now = 1_000;
    let mut last_force: Option<u64> = None;
    for n in 1..=20u32 {
        let generation = tokens.current().unwrap().generation;
        assert!(tokens.invalidate(generation));
        // Wait (with a deadline, not a poll loop) until forcing is allowed again.
        let request = match tokens.poll(now) {
            TokenPoll::Fetch(r) => r,
            TokenPoll::Wait { until_ms, .. } => {
                let earliest = last_force.expect("the first force needs no wait") + 30_000;
                assert_eq!(until_ms, earliest, "force {n}: waits exactly until 30 s after the last force");
                now = until_ms;
                expect_fetch(&mut tokens, now)
            }
            other => panic!("{other:?}"),
        };
        assert!(forced(&request), "force {n} asks for a new token");
        if let Some(last) = last_force {
            assert!(now - last >= 30_000, "forced {} ms after the last force", now - last);
        }
        last_force = Some(now);
        tokens.handle_response(now, &grant(&format!("T{n}"), 7200)).unwrap();
        now += 10_000; // the next refusal comes soon after
    }
    // The day's 20 forces are spent: the next refusal fetches without forcing.
    let generation = tokens.current().unwrap().generation;
    tokens.invalidate(generation);
    let request = match tokens.poll(now) {
        TokenPoll::Fetch(r) => r,
        TokenPoll::Wait { until_ms, .. } => expect_fetch(&mut tokens, until_ms),
        other => panic!("{other:?}"),
    };
    assert!(!forced(&request), "past 20 forces a day the token is fetched without force_refresh");
    tokens.handle_response(now, &grant("T21", 7200)).unwrap();
    // A day after the first force, forcing is allowed again.
    let generation = tokens.current().unwrap().generation;
    tokens.invalidate(generation);
    let request = expect_fetch(&mut tokens, 1_000 + 24 * 3600 * 1000 + 1);
    assert!(forced(&request));
}

#[test]
fn errcode_30000_is_throttling() {
    let answer = Response::ok(r#"{"errcode":30000,"errmsg":"Frequence limit overflow"}"#);
    let e = classify_response(Platform::WechatShop.upstream(), &answer).unwrap_err();
    assert_eq!(e.class.code(), aftersale::ErrorCode::RateLimited);
    assert!(e.class.is_retryable());
}
