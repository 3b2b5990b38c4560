//! Golden tests: the seeds' own response examples, normalized, against hand-written expectations.
//!
//! For each platform `tests/golden/` holds the example as the document writes it
//! (`*.as_written.txt`), the same example as valid JSON with the document's typo'd keys kept
//! (`*.clean.json`), the same with the keys the tables intend (`*.intended.json`), and the
//! normalized output worked out by hand from the seed and SPEC.md §2 (`*.expected.json`).
//! WeChat Channels' example (facts document §5.8) is valid JSON with no typo'd key: its one
//! file serves as all three spellings.

mod common;

use aftersale::{normalize, normalize_json, normalize_page, Error, ErrorCode};
use aftersale::{NormalizeOptions, Platform};
use common::normalized;
use serde_json::Value;

macro_rules! golden {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/", $name))
    };
}

struct Fixture {
    platform: Platform,
    as_written: &'static str,
    clean: &'static str,
    intended: &'static str,
    expected: &'static str,
}

const FIXTURES: [Fixture; 5] = [
    Fixture {
        platform: Platform::WechatShop,
        as_written: golden!("wechat_shop.as_written.txt"),
        clean: golden!("wechat_shop.clean.json"),
        intended: golden!("wechat_shop.intended.json"),
        expected: golden!("wechat_shop.expected.json"),
    },
    Fixture {
        platform: Platform::Xiaoe,
        as_written: golden!("xiaoe.as_written.txt"),
        clean: golden!("xiaoe.clean.json"),
        intended: golden!("xiaoe.intended.json"),
        expected: golden!("xiaoe.expected.json"),
    },
    Fixture {
        platform: Platform::WechatStore,
        as_written: golden!("wechat_store.as_written.txt"),
        clean: golden!("wechat_store.clean.json"),
        intended: golden!("wechat_store.intended.json"),
        expected: golden!("wechat_store.expected.json"),
    },
    Fixture {
        platform: Platform::Lingxing,
        as_written: golden!("lingxing.as_written.txt"),
        clean: golden!("lingxing.clean.json"),
        intended: golden!("lingxing.intended.json"),
        expected: golden!("lingxing.expected.json"),
    },
    Fixture {
        platform: Platform::WechatChannels,
        as_written: golden!("wechat_channels.as_written.json"),
        clean: golden!("wechat_channels.as_written.json"),
        intended: golden!("wechat_channels.as_written.json"),
        expected: golden!("wechat_channels.expected.json"),
    },
];

const SHOP_CLOSED: &str = golden!("wechat_shop.as_written_closed.txt");

fn fixture(platform: Platform) -> &'static Fixture {
    FIXTURES.iter().find(|f| f.platform == platform).unwrap()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("fixture is not JSON: {e}"))
}

/// Every path where `actual` differs from `expected`, one line each.
fn diff(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = format!("{path}.{k}");
                match a.get(k) {
                    Some(av) => diff(&p, ev, av, out),
                    None => out.push(format!("{p}: missing (expected {ev})")),
                }
            }
            for (k, av) in a {
                if !e.contains_key(k) {
                    out.push(format!("{path}.{k}: unexpected member = {av}"));
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                out.push(format!("{path}: {} elements, expected {}", a.len(), e.len()));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                diff(&format!("{path}[{i}]"), ev, av, out);
            }
        }
        _ if expected != actual => out.push(format!("{path}: expected {expected}, got {actual}")),
        _ => {}
    }
}

#[track_caller]
fn assert_same(what: &str, expected: &Value, actual: &Value) {
    let mut out = Vec::new();
    diff("$", expected, actual, &mut out);
    assert!(
        out.is_empty(),
        "{what}: the normalized output differs from the expected file at {} path(s):\n  {}",
        out.len(),
        out.join("\n  ")
    );
}

fn assert_normalizes_to_expected(what: &str, f: &Fixture, body: &str) {
    let actual = normalized(f.platform, body, false)
        .unwrap_or_else(|e| panic!("{what} ({}): normalization failed: {e}", f.platform));
    assert_same(&format!("{what} ({})", f.platform), &json(f.expected), &actual);
}

#[test]
fn the_diff_names_every_differing_path() {
    // The comparison itself must be able to fail, and say where.
    let mut out = Vec::new();
    diff("$", &json(r#"{"a":[1,{"b":2}],"c":null,"d":1}"#), &json(r#"{"a":[1,{"b":3}],"c":null,"e":1}"#), &mut out);
    assert_eq!(out, ["$.a[1].b: expected 2, got 3", "$.d: missing (expected 1)", "$.e: unexpected member = 1"]);
}

#[test]
fn clean_fixtures_normalize_to_expected() {
    for f in &FIXTURES {
        assert_normalizes_to_expected("clean", f, f.clean);
    }
}

#[test]
fn intended_fixtures_normalize_to_expected() {
    for f in &FIXTURES {
        assert_normalizes_to_expected("intended", f, f.intended);
    }
}

#[test]
fn clean_and_intended_spellings_really_differ() {
    // Otherwise the two tests above would prove nothing about the typo'd keys. (Seed 001's
    // example has no typo'd key: its two fixtures are the same text.)
    for (platform, typo, intended) in [
        (Platform::WechatShop, "\"aftersale_Infos \"", "\"aftersale_infos\""),
        (Platform::WechatShop, "\"product_Infos \"", "\"product_infos\""),
        (Platform::WechatStore, "\"craete_time\"", "\"create_time\""),
        (Platform::WechatStore, "\"order_detail \"", "\"order_detail\""),
        (Platform::WechatStore, "\"product_Infos \"", "\"product_infos\""),
        (Platform::WechatStore, "\"user_Name \"", "\"username\""),
        (Platform::WechatStore, "\"aftersale_detail \"", "\"aftersale_detail\""),
        (Platform::WechatStore, "\"beats_price\"", "\"sale_price\""),
        (Platform::Lingxing, "\"total_refund_amount__number\"", "\"total_refund_amount_number\""),
    ] {
        let f = fixture(platform);
        assert!(f.clean.contains(typo), "{platform}: clean lacks {typo}");
        assert!(!f.intended.contains(typo), "{platform}: intended has {typo}");
        assert!(f.intended.contains(intended), "{platform}: intended lacks {intended}");
    }
    assert_eq!(fixture(Platform::Xiaoe).clean, fixture(Platform::Xiaoe).intended);
}

#[test]
fn include_raw_attaches_the_upstream_record() {
    for f in &FIXTURES {
        let upstream = json(f.clean);
        let with_raw = normalized(f.platform, f.clean, true).unwrap();
        let without = normalized(f.platform, f.clean, false).unwrap();
        // Without the option there is no `raw` member at all.
        let records: Vec<&Value> = match &without {
            Value::Array(a) => a.iter().collect(),
            one => vec![one],
        };
        assert!(records.iter().all(|r| r.get("raw").is_none()), "{}", f.platform);

        let mut stripped = with_raw.clone();
        let mut raws = Vec::new();
        match &mut stripped {
            Value::Array(a) => {
                for r in a {
                    raws.push(r.as_object_mut().unwrap().remove("raw"));
                }
            }
            one => raws.push(one.as_object_mut().unwrap().remove("raw")),
        }
        // Everything else is what it is without `raw`.
        assert_same(&format!("include_raw ({})", f.platform), &json(f.expected), &stripped);
        let expected_raws: Vec<&Value> = match f.platform {
            Platform::WechatShop => upstream["aftersale_Infos "].as_array().unwrap().iter().collect(),
            Platform::Xiaoe => upstream["data"]["list"].as_array().unwrap().iter().collect(),
            Platform::WechatStore => vec![&upstream["order"]],
            Platform::WechatChannels => vec![&upstream["after_sale_order"]],
            // One upstream record, two after-sale lines: both carry the whole record.
            Platform::Lingxing => {
                let data = upstream["data"].as_array().unwrap();
                assert_eq!(data.len(), 1);
                vec![&data[0], &data[0]]
            }
        };
        assert_eq!(raws.len(), expected_raws.len(), "{}", f.platform);
        for (i, (got, want)) in raws.iter().zip(expected_raws).enumerate() {
            assert_eq!(got.as_ref(), Some(want), "{} record {i}: raw", f.platform);
        }
    }
}

#[test]
fn valid_as_written_examples_normalize_strictly() {
    // Seeds 001 and 003 and the Channels example print valid JSON: no repair is involved.
    for platform in [Platform::Xiaoe, Platform::Lingxing, Platform::WechatChannels] {
        let f = fixture(platform);
        assert!(serde_json::from_str::<Value>(f.as_written).is_ok());
        assert_normalizes_to_expected("as written", f, f.as_written);
    }
}

#[test]
fn store_as_written_normalizes_after_repair() {
    let f = fixture(Platform::WechatStore);
    // Not JSON (missing commas, `...`, `'xxxxx';`): only the tolerant reading gets through.
    assert!(serde_json::from_str::<Value>(f.as_written).is_err());
    assert_normalizes_to_expected("as written", f, f.as_written);
    // What the repair read is exactly the clean fixture's order.
    let with_raw = normalized(f.platform, f.as_written, true).unwrap();
    assert_eq!(with_raw["raw"], json(f.clean)["order"]);
}

#[test]
fn shop_as_written_is_truncated() {
    let f = fixture(Platform::WechatShop);
    let err = normalize(Platform::WechatShop, f.as_written).unwrap_err();
    let Error::Parse(p) = &err else { panic!("expected a parse error, got {err:?}") };
    assert_eq!(p.platform, Platform::WechatShop);
    assert_eq!(p.body, f.as_written, "the error keeps the body as given");
    let msg = err.to_string();
    assert!(msg.starts_with("wechat_shop response could not be read"), "{msg}");
    assert!(msg.contains("ends early"), "{msg}");
    // The tolerant reading says which bracket is left open: `product_Infos ": [` on line 10.
    assert!(msg.contains("the tolerant reading of documentation-style JSON failed too"), "{msg}");
    assert!(msg.contains("2 brackets are never closed"), "{msg}");
    assert!(msg.contains("line 10, column 31"), "{msg}");
    assert_eq!(err.code(), ErrorCode::UpstreamError);
}

#[test]
fn shop_as_written_closed_normalizes_via_repair() {
    let f = fixture(Platform::WechatShop);
    // Only closing brackets were added to the text as written.
    assert_eq!(SHOP_CLOSED.strip_prefix(f.as_written).map(|rest| rest.trim()), Some("]\n    ]"));
    assert!(serde_json::from_str::<Value>(SHOP_CLOSED).is_err());
    assert_normalizes_to_expected("as written + closing brackets", f, SHOP_CLOSED);
}

#[test]
fn normalize_json_writes_the_expected_array() {
    for f in FIXTURES.iter().filter(|f| f.platform != Platform::WechatStore) {
        let text = normalize_json(f.platform, f.clean, NormalizeOptions::default()).unwrap();
        assert_same(&format!("normalize_json ({})", f.platform), &json(f.expected), &json(&text));
    }
}

#[test]
fn page_totals() {
    let page = |p: Platform| normalize_page(p, fixture(p).clean, NormalizeOptions::default()).unwrap();
    let xiaoe = page(Platform::Xiaoe);
    assert_eq!((xiaoe.total, xiaoe.upstream_count, xiaoe.records.len()), (Some(37), 1, 1));
    // Lingxing counts upstream records (one order) while it yields one after-sale per line.
    let lingxing = page(Platform::Lingxing);
    assert_eq!((lingxing.total, lingxing.upstream_count, lingxing.records.len()), (Some(1), 1, 2));
    let shop = page(Platform::WechatShop);
    assert_eq!((shop.total, shop.upstream_count, shop.records.len()), (Some(1), 1, 1));
    // One after-sale by id: no total of any query.
    let channels = page(Platform::WechatChannels);
    assert_eq!((channels.total, channels.upstream_count, channels.records.len()), (None, 1, 1));
}

#[test]
fn ids_are_platform_and_upstream_key() {
    for f in FIXTURES.iter() {
        let expected = json(f.expected);
        let records: Vec<&Value> = match &expected {
            Value::Array(a) => a.iter().collect(),
            one => vec![one],
        };
        for r in records {
            let key = r.get("aftersale_id").or_else(|| r.get("order_id")).unwrap();
            assert_eq!(r["id"].as_str().unwrap(), format!("{}:{}", f.platform, key.as_str().unwrap()));
        }
    }
}
