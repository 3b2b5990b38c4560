//! The zone rules of `aftersale::model::zone` against the IANA time-zone database as Node's
//! `Intl` has it: every change of offset from 2015 to 2030, found the same way on both sides
//! (an hourly scan, then bisection to the second), must be the same list.

mod common;

use aftersale::model::zone::{Zone, ALL};
use serde_json::Value;

const FROM: i64 = 1_420_070_400; // 2015-01-01T00:00:00Z
const TO: i64 = 1_924_992_000; // 2031-01-01T00:00:00Z

/// `[[unix, offset_minutes], ...]`: the offset at FROM, then each instant it changes.
fn changes(offset_at: impl Fn(i64) -> i16) -> Vec<(i64, i16)> {
    let mut out = vec![(FROM, offset_at(FROM))];
    let mut t = FROM;
    while t < TO {
        let next = t + 3600;
        let (a, b) = (offset_at(t), offset_at(next));
        if a != b {
            let (mut lo, mut hi) = (t, next); // offset_at(lo) == a, offset_at(hi) != a
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset_at(mid) == a {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            out.push((hi, offset_at(hi)));
        }
        t = next;
    }
    out
}

const SCRIPT: &str = r#"
let input = "";
for await (const chunk of process.stdin) input += chunk;
const { names, from, to } = JSON.parse(input);
const out = {};
for (const name of names) {
  const f = new Intl.DateTimeFormat("en-US", { timeZone: name, timeZoneName: "longOffset" });
  const offsetAt = (unix) => {
    const m = /GMT(?:([+-])(\d\d):(\d\d))?/.exec(f.format(unix * 1000));
    return m[1] ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
  };
  const list = [[from, offsetAt(from)]];
  for (let t = from; t < to; t += 3600) {
    const a = offsetAt(t);
    if (a === offsetAt(t + 3600)) continue;
    let lo = t, hi = t + 3600;
    while (hi - lo > 1) { const mid = lo + Math.floor((hi - lo) / 2); if (offsetAt(mid) === a) lo = mid; else hi = mid; }
    list.push([hi, offsetAt(hi)]);
  }
  out[name] = list;
}
process.stdout.write(JSON.stringify(out));
"#;

#[test]
fn every_offset_change_from_2015_to_2030_matches_intl() {
    let names: Vec<&str> = ALL.iter().map(|z: &Zone| z.name).collect();
    let input = serde_json::json!({"names": names, "from": FROM, "to": TO}).to_string();
    let Some(stdout) = common::run_node(SCRIPT, &input) else { return };
    let intl: Value = serde_json::from_str(&stdout).unwrap();
    let mut transitions = 0;
    for zone in ALL {
        let theirs: Vec<(i64, i16)> = serde_json::from_value(intl[zone.name].clone()).unwrap();
        let ours = changes(|t| zone.offset_at(t));
        transitions += ours.len() - 1;
        assert_eq!(ours, theirs, "{}: (unix, offset minutes) at 2015-01-01 and each change", zone.name);
    }
    assert!(transitions > 150, "the zones must include daylight saving ({transitions} changes)");
}
