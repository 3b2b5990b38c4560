//! Lingxing's signature against the worked example of UPSTREAMS.md, and its properties.

mod common;

use aftersale::lingxing::{sign, sign_string};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const APP_ID: &str = "ak_0123456789abc";

fn worked_example() -> Map<String, Value> {
    json!({
        "access_token": "59cf5437-669b-49f5-83c4-3cc1d1404680",
        "app_key": APP_ID,
        "timestamp": "1639734344",
        "sid": "6,7,19",
        "start_date": "2022-02-01",
        "end_date": "2022-03-01",
        "date_type": 1,
        "after_type": "1,2",
        "offset": 0,
        "length": 1000,
        "amazon_order_id_list": ["113-9870855-8214638"],
    })
    .as_object()
    .unwrap()
    .clone()
}

#[test]
fn worked_example_matches_upstreams_md() {
    let params = worked_example();
    let s = sign_string(&params).unwrap();
    assert_eq!(
        s,
        "access_token=59cf5437-669b-49f5-83c4-3cc1d1404680&after_type=1,2&amazon_order_id_list=[\"113-9870855-8214638\"]&app_key=ak_0123456789abc&date_type=1&end_date=2022-03-01&length=1000&offset=0&sid=6,7,19&start_date=2022-02-01&timestamp=1639734344"
    );
    assert_eq!(aftersale::lingxing::md5_upper_hex(&s), "4C51EDFC0746A09949502E0BB02608F5");
    assert_eq!(sign(&params, APP_ID).unwrap(), "Lu9igwedngYKitw7EtBiuCJJIFXl7gQlJE0o1ZFCXqdIwVhSPzVcd0sPeLkAl3rO");
}

#[test]
fn empty_strings_and_sign_itself_are_left_out_but_nulls_are_signed() {
    let mut params = worked_example();
    let expected = sign(&params, APP_ID).unwrap();
    params.insert("note".into(), json!(""));
    params.insert("sign".into(), json!("previous-sign"));
    assert_eq!(sign(&params, APP_ID).unwrap(), expected);
    // Lingxing's guide: a null value takes part, as `key=null`.
    params.insert("missing".into(), Value::Null);
    assert!(sign_string(&params).unwrap().contains("&missing=null&"), "{}", sign_string(&params).unwrap());
    assert_ne!(sign(&params, APP_ID).unwrap(), expected);
    // ...and so do an empty array and a false flag.
    params.insert("flag".into(), json!(false));
    params.insert("ids".into(), json!([]));
    let s = sign_string(&params).unwrap();
    assert!(s.contains("flag=false") && s.contains("ids=[]"), "{s}");
}

/// Vectors computed by the simulator's signer (tests/simulator/lingxing-sign.mjs), written from
/// UPSTREAMS.md without the core; the Node suite checks that signer still gives them.
#[test]
fn matches_the_vectors_of_the_independent_node_signer() {
    let text = include_str!("simulator/lingxing-sign.vectors.json");
    let file: Value = serde_json::from_str(text).unwrap();
    let vectors = file["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 4);
    let mut with_null = 0;
    for v in vectors {
        let what = v["what"].as_str().unwrap();
        let params = v["params"].as_object().unwrap();
        with_null += usize::from(params.values().any(Value::is_null));
        let s = sign_string(params).unwrap();
        assert_eq!(s, v["string"].as_str().unwrap(), "{what}");
        assert_eq!(aftersale::lingxing::md5_upper_hex(&s), v["md5"].as_str().unwrap(), "{what}");
        assert_eq!(sign(params, v["app_id"].as_str().unwrap()).unwrap(), v["sign"].as_str().unwrap(), "{what}");
    }
    assert!(with_null >= 2, "the vectors must keep covering top-level nulls");
}

/// The same signer run live on generated parameters (nulls, empty strings, nesting) through
/// `node`, so a rule the fixed vectors miss still shows up.
#[test]
fn agrees_with_the_node_signer_on_generated_parameters() {
    let mut cases = Vec::new();
    let mut state: u64 = 0x5eed;
    let mut next = |n: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    fn leaf(r: u64) -> Value {
        match r {
            0 => Value::Null,
            1 => json!(""),
            2 => json!("a b&c=d"),
            3 => json!("名字"),
            4 => json!(true),
            5 => json!(false),
            6 => json!(0),
            7 => json!(-42),
            _ => json!("1,2"),
        }
    }
    for _ in 0..300 {
        let mut params = Map::new();
        params.insert("access_token".into(), json!("tok"));
        params.insert("app_key".into(), json!(APP_ID));
        params.insert("timestamp".into(), json!("1700000000"));
        for k in 0..next(6) {
            let key = ["sid", "B", "a_b", "z", "Z9", "é"][(next(6) as usize + k as usize) % 6];
            let value = match next(4) {
                0 => Value::Array((0..next(3)).map(|_| leaf(next(9))).collect()),
                1 => {
                    let mut m = Map::new();
                    for _ in 0..next(3) {
                        m.insert(["y", "b", "", "x1"][next(4) as usize].into(), leaf(next(9)));
                    }
                    Value::Object(m)
                }
                _ => leaf(next(9)),
            };
            params.insert(key.into(), value);
        }
        cases.push(Value::Object(params));
    }
    let script = r#"
        import { canonicalString, signLingxing } from "./tests/simulator/lingxing-sign.mjs";
        let input = "";
        for await (const chunk of process.stdin) input += chunk;
        const out = JSON.parse(input).map((p) => [canonicalString(p), signLingxing(p, "ak_0123456789abc")]);
        process.stdout.write(JSON.stringify(out));
    "#;
    let Some(stdout) = common::run_node(script, &serde_json::to_string(&cases).unwrap()) else { return };
    let answers: Vec<(String, String)> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(answers.len(), cases.len());
    let mut nulls = 0;
    for (case, (string, signed)) in cases.iter().zip(answers) {
        let params = case.as_object().unwrap();
        nulls += usize::from(string.contains("=null"));
        assert_eq!(sign_string(params).unwrap(), string, "{case}");
        assert_eq!(sign(params, APP_ID).unwrap(), signed, "{case}");
    }
    assert!(nulls > 20, "the generator must produce top-level nulls ({nulls})");
}

#[test]
fn nested_objects_sign_with_sorted_keys() {
    let mut params = Map::new();
    params.insert("filter".into(), json!({"b": 1, "a": [true, {"d": 2, "c": "x"}]}));
    assert_eq!(sign_string(&params).unwrap(), r#"filter={"a":[true,{"c":"x","d":2}],"b":1}"#);
}

#[test]
fn app_id_must_be_sixteen_bytes() {
    let err = sign(&worked_example(), "short").unwrap_err();
    assert_eq!(err.code(), aftersale::ErrorCode::InvalidRequest);
    assert!(err.to_string().contains("16 bytes"), "{err}");
    assert!(err.to_string().contains("got 5"), "{err}");
    assert!(sign(&worked_example(), "ak_0123456789abcd").is_err());
}

proptest! {
    /// The sign never depends on the order in which parameters were inserted.
    #[test]
    fn sign_is_independent_of_key_order(seed in any::<u64>(), extra in proptest::collection::btree_map("[a-z_]{1,12}", "[ -~]{0,20}", 0..8)) {
        let mut entries: Vec<(String, Value)> = worked_example().into_iter().collect();
        entries.extend(extra.into_iter().map(|(k, v)| (k, Value::String(v))));
        let reference: Map<String, Value> = entries.iter().cloned().collect();
        // Shuffle deterministically from the seed.
        let mut state = seed;
        for i in (1..entries.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            entries.swap(i, (state >> 33) as usize % (i + 1));
        }
        let shuffled: Map<String, Value> = entries.into_iter().collect();
        prop_assert_eq!(sign(&shuffled, APP_ID).unwrap(), sign(&reference, APP_ID).unwrap());
    }
}
