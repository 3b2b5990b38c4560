//! Lingxing's signature against the worked example of UPSTREAMS.md, and its properties.

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
fn empty_strings_nulls_and_sign_itself_are_left_out() {
    let mut params = worked_example();
    let expected = sign(&params, APP_ID).unwrap();
    params.insert("note".into(), json!(""));
    params.insert("missing".into(), Value::Null);
    params.insert("sign".into(), json!("previous-sign"));
    assert_eq!(sign(&params, APP_ID).unwrap(), expected);
    // ...but an empty array or a false flag is a value and is signed.
    params.insert("flag".into(), json!(false));
    assert!(sign_string(&params).unwrap().contains("flag=false"));
    assert_ne!(sign(&params, APP_ID).unwrap(), expected);
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
