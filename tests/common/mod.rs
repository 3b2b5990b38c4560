//! Helpers shared by the integration tests.

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
