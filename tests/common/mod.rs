//! Helpers shared by the integration tests.

pub mod channels;
pub mod mirror;

use aftersale::{normalize_order, normalize_page, Error, NormalizeOptions, Platform};
use serde_json::Value;

/// The normalized output as JSON: the after-sale array, or the order for `wechat_store`.
#[allow(dead_code)]
pub fn normalized(platform: Platform, body: &str, include_raw: bool) -> Result<Value, Error> {
    let options = NormalizeOptions { include_raw, ..Default::default() };
    let value = if platform == Platform::WechatStore {
        serde_json::to_value(normalize_order(body, options)?)
    } else {
        serde_json::to_value(normalize_page(platform, body, options)?.records)
    };
    Ok(value.expect("the model always serializes"))
}

/// Runs an ES-module `script` with `node` from the repository root, `input` on its stdin, and
/// returns its stdout. Tests that check the core against the independent JavaScript
/// implementations use it; without `node` they fail, unless `AFTERSALE_NO_NODE` is set.
#[allow(dead_code)]
pub fn run_node(script: &str, input: &str) -> Option<String> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let spawned = Command::new("node")
        .args(["--input-type=module", "-e", script])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if std::env::var_os("AFTERSALE_NO_NODE").is_some() => {
            eprintln!("skipped: node could not be started ({e}) and AFTERSALE_NO_NODE is set");
            return None;
        }
        Err(e) => panic!("node could not be started ({e}); set AFTERSALE_NO_NODE=1 to skip this test"),
    };
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write to node");
    let output = child.wait_with_output().expect("node ran");
    assert!(output.status.success(), "node failed");
    Some(String::from_utf8(output.stdout).expect("UTF-8 from node"))
}

/// Drives one upstream call through both sides of its lease in simulated time: the account
/// grants (fetching the token when it must), the handler sends, classifies and reports.
/// `answer(now, request)` is the scripted upstream; each answer takes `latency_ms`.
#[allow(dead_code)]
pub fn drive_leased(
    acct: &mut aftersale::call::AccountState,
    spec: aftersale::call::CallSpec,
    now: &mut u64,
    latency_ms: u64,
    mut answer: impl FnMut(u64, &aftersale::http::Request) -> aftersale::http::Response,
) -> Result<aftersale::http::Response, Error> {
    use aftersale::lease::{Grant, GrantCall, LeaseAnswer, LeasedCall, Step};
    let mut call = LeasedCall::new(spec);
    let account = acct.account().clone();
    let mut jitter = 7u32;
    for _ in 0..10_000 {
        match call.poll(&account, *now) {
            Step::Lease { prior } => {
                let mut grant = GrantCall::new(acct, *now, &[], prior);
                let granted = loop {
                    match grant.poll(acct, *now) {
                        Err(answer) => break Ok(answer),
                        Ok(Grant::Lease(lease)) => break Ok(LeaseAnswer::Lease(lease)),
                        Ok(Grant::Failed(e)) => break Err(e),
                        Ok(Grant::FetchToken(req)) => {
                            let resp = answer(*now, &req);
                            *now += latency_ms;
                            grant.handle_token_answer(acct, *now, Ok(resp));
                        }
                        Ok(Grant::Wait { until_ms, .. }) => {
                            assert!(until_ms > *now, "a wait must move time forward");
                            *now = until_ms;
                        }
                    }
                };
                call.granted(*now, granted);
            }
            Step::Send(req, _) => {
                let resp = answer(*now, &req);
                *now += latency_ms;
                jitter = jitter.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                call.handle_response(*now, jitter >> 8, Ok(resp));
            }
            Step::Wait { until_ms } => {
                assert!(until_ms > *now, "a wait must move time forward");
                *now = until_ms;
            }
            Step::Done(result, report) => {
                if let Some(report) = report {
                    acct.report(*now, &report);
                }
                return result;
            }
        }
    }
    panic!("the call did not finish");
}
