//! The wasm exports as JavaScript sees them, in headless Chromium and in Node
//! (`scripts/test-www.sh` runs both). The proxy client is JavaScript: its tests are
//! `tests/client/cases.mjs`, run in Node and Chromium by `tests/node/package.test.mjs`.
#![cfg(target_arch = "wasm32")]

use aftersale_wasm::{normalize, normalize_json, normalize_order, sign_lingxing};
use js_sys::{Reflect, JSON};
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

const WECHAT_SHOP: &str = include_str!("fixtures/wechat_shop.json");
const WECHAT_STORE: &str = include_str!("fixtures/wechat_store.json");
const XIAOE: &str = include_str!("fixtures/xiaoe.json");
const LINGXING: &str = include_str!("fixtures/lingxing.json");

fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}

/// A JavaScript value as serde_json, to compare whole structures.
fn to_json(v: &JsValue) -> Value {
    let text = JSON::stringify(v).expect("stringify").as_string().expect("string");
    serde_json::from_str(&text).expect("JSON")
}

fn js(value: Value) -> JsValue {
    JSON::parse(&value.to_string()).expect("parse")
}

fn prop(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &s(key)).unwrap_or(JsValue::UNDEFINED)
}

/// The thrown value is an `Error` named AftersaleError with this code; returns its message.
fn expect_error(thrown: &JsValue, code: &str) -> String {
    assert!(thrown.is_instance_of::<js_sys::Error>(), "not an Error: {thrown:?}");
    assert_eq!(prop(thrown, "name").as_string().as_deref(), Some("AftersaleError"));
    assert_eq!(prop(thrown, "code").as_string().as_deref(), Some(code), "{:?}", prop(thrown, "message"));
    prop(thrown, "message").as_string().unwrap()
}

fn thrown<T: std::fmt::Debug>(r: Result<T, aftersale_wasm::error::ApiError>) -> JsValue {
    JsValue::from(r.expect_err("expected an error"))
}

// ---------------------------------------------------------------- normalization

#[wasm_bindgen_test]
fn normalizes_each_seed_example() {
    let shop = to_json(&normalize(s("wechat_shop"), s(WECHAT_SHOP), JsValue::UNDEFINED).unwrap());
    assert_eq!(shop.as_array().unwrap().len(), 1);
    assert_eq!(shop[0]["platform"], "wechat_shop");
    assert_eq!(shop[0]["out_order_id"], "xxxxx");
    assert_eq!(shop[0]["status"], "cancelled");
    assert_eq!(shop[0]["refund"], json!({"currency": "CNY", "minor": 100, "decimal": "1.00"}));
    assert_eq!(shop[0]["items"][0]["quantity"], 5);
    assert_eq!(shop[0]["created_at"], "2020-12-01T00:00:00+08:00");

    let xiaoe = to_json(&normalize(s("xiaoe"), s(XIAOE), JsValue::UNDEFINED).unwrap());
    assert_eq!(xiaoe[0]["id"], "xiaoe:A1676284458_63ea122a379c4_84723683");
    assert_eq!(xiaoe[0]["status"], "completed");
    assert_eq!(xiaoe[0]["status_raw"], 13);
    assert_eq!(xiaoe[0]["buyer"]["nickname"], "大肉丸xxxx");
    assert_eq!(xiaoe[0]["created_at"], "2023-02-13T18:34:18+08:00");

    let lingxing = to_json(&normalize(s("lingxing"), s(LINGXING), JsValue::UNDEFINED).unwrap());
    let lines = lingxing.as_array().unwrap();
    assert_eq!(lines.len(), 2, "one record per after-sale line");
    assert!(lines.iter().all(|l| l["order_id"] == "113-9870855-8214638"));
    let refund = lines.iter().find(|l| l["kind"] == "refund").unwrap();
    assert_eq!(refund["refund"], json!({"currency": "USD", "minor": 470, "decimal": "4.700"}));
    // Site time of amazon.com (US Pacific, PST in February); updates in Beijing time.
    assert_eq!(refund["created_at"], "2023-02-16T23:50:50-08:00");
    assert_eq!(refund["updated_at"], "2023-02-17T11:36:17+08:00");

    let order = to_json(&normalize_order(s(WECHAT_STORE), JsValue::UNDEFINED).unwrap());
    assert_eq!(order["id"], "wechat_store:12123121332");
    assert_eq!(order["status"], "awaiting_shipment");
    assert_eq!(order["aftersale_ids"], json!(["1234"]));
    assert_eq!(order["price"]["order_price"]["minor"], 10500);
    assert_eq!(order["address"]["name"], "Mr. Chen");
}

#[wasm_bindgen_test]
fn normalize_json_is_the_same_records_as_text() {
    // The body as UTF-8 bytes gives the same text as the body as a string.
    let bytes: JsValue = js_sys::Uint8Array::from(XIAOE.as_bytes()).into();
    assert_eq!(
        normalize_json(s("xiaoe"), bytes, JsValue::UNDEFINED).unwrap(),
        normalize_json(s("xiaoe"), s(XIAOE), JsValue::UNDEFINED).unwrap()
    );
    let text = normalize_json(s("xiaoe"), s(XIAOE), JsValue::UNDEFINED).unwrap();
    let objects = normalize(s("xiaoe"), s(XIAOE), JsValue::UNDEFINED).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), to_json(&objects));
}

#[wasm_bindgen_test]
fn include_raw_attaches_the_upstream_record() {
    let plain = to_json(&normalize(s("xiaoe"), s(XIAOE), JsValue::UNDEFINED).unwrap());
    assert!(plain[0].get("raw").is_none());
    let with_raw = to_json(&normalize(s("xiaoe"), s(XIAOE), js(json!({"includeRaw": true}))).unwrap());
    assert_eq!(with_raw[0]["raw"]["state_str"], "售后成功");
}

// ---------------------------------------------------------------- signing

fn worked_example() -> Value {
    json!({
        "access_token": "59cf5437-669b-49f5-83c4-3cc1d1404680",
        "app_key": "ak_0123456789abc",
        "timestamp": 1639734344,
        "sid": "6,7,19",
        "start_date": "2022-02-01",
        "end_date": "2022-03-01",
        "date_type": 1,
        "after_type": "1,2",
        "offset": 0,
        "length": 1000,
        "amazon_order_id_list": ["113-9870855-8214638"],
    })
}

#[wasm_bindgen_test]
fn signs_the_worked_example_of_upstreams_md() {
    let sign = sign_lingxing(js(worked_example()), s("ak_0123456789abc")).unwrap();
    assert_eq!(sign, "Lu9igwedngYKitw7EtBiuCJJIFXl7gQlJE0o1ZFCXqdIwVhSPzVcd0sPeLkAl3rO");
}

#[wasm_bindgen_test]
fn signs_nested_objects_with_sorted_keys_and_nulls() {
    // Expected value from tests/simulator/lingxing-sign.mjs, written from UPSTREAMS.md alone:
    // "nothing": null is signed as `nothing=null`, "empty": "" is left out.
    let params = json!({
        "access_token": "tok", "app_key": "ak_0123456789abc", "timestamp": 1700000000,
        "filter": {"z": 1, "a": [{"y": "2", "b": true}], "m": null},
        "empty": "", "flag": false, "price": 1.5, "name": "名字 & =", "nothing": null,
    });
    let sign = sign_lingxing(js(params), s("ak_0123456789abc")).unwrap();
    assert_eq!(sign, "gan6WyRNju87WsEChPBEZYmll63OpQsDo+a1frdKx0tIwVhSPzVcd0sPeLkAl3rO");
}

#[wasm_bindgen_test]
fn signs_the_vectors_of_the_independent_node_signer() {
    let file: Value = serde_json::from_str(include_str!("../../tests/simulator/lingxing-sign.vectors.json")).unwrap();
    for v in file["vectors"].as_array().unwrap() {
        let sign = sign_lingxing(js(v["params"].clone()), s(v["app_id"].as_str().unwrap())).unwrap();
        assert_eq!(sign, v["sign"].as_str().unwrap(), "{}", v["what"]);
    }
}

fn set(target: &JsValue, key: &str, value: &JsValue) {
    Reflect::set(target, &s(key), value).unwrap();
}

#[wasm_bindgen_test]
fn undefined_members_are_left_out_and_bad_values_refused() {
    let base = || js(worked_example());
    let reference = sign_lingxing(base(), s("ak_0123456789abc")).unwrap();
    // `undefined` is how JavaScript leaves a member out, and JSON.stringify(body) drops it too.
    let with_undefined = base();
    set(&with_undefined, "sid_or_nothing", &JsValue::UNDEFINED);
    let nested = js(json!({"k": 1}));
    set(&nested, "gone", &JsValue::UNDEFINED);
    set(&with_undefined, "nested", &nested);
    let mut expected = worked_example();
    expected["nested"] = json!({"k": 1});
    assert_eq!(
        sign_lingxing(with_undefined, s("ak_0123456789abc")).unwrap(),
        sign_lingxing(js(expected), s("ak_0123456789abc")).unwrap()
    );
    // ...but null is a value, and is signed.
    let with_null = base();
    set(&with_null, "sid", &JsValue::NULL);
    assert_ne!(sign_lingxing(with_null, s("ak_0123456789abc")).unwrap(), reference);

    let refused = |key: &str, value: JsValue| {
        let params = base();
        set(&params, key, &value);
        expect_error(&thrown(sign_lingxing(params, s("ak_0123456789abc"))), "invalid_request")
    };
    let hole = js(json!(["a"]));
    Reflect::set(&hole, &JsValue::from(1), &JsValue::UNDEFINED).unwrap();
    let m = refused("ids", hole);
    assert!(m.contains("params.ids[1]") && m.contains("undefined"), "{m}");
    let deep_nan = js(json!({"a": [1]}));
    set(&deep_nan, "b", &JsValue::from(f64::NAN));
    let m = refused("filter", deep_nan);
    assert!(m.contains("params.filter.b") && m.contains("NaN"), "{m}");
    let m = refused("callback", js_sys::Function::new_no_args("return 1").into());
    assert!(m.contains("params.callback") && m.contains("function"), "{m}");
    let m = refused("big", JsValue::bigint_from_str("12"));
    assert!(m.contains("params.big") && m.contains("bigint"), "{m}");
    let cycle = js(json!({}));
    set(&cycle, "self", &cycle);
    let m = refused("loop", cycle);
    assert!(m.contains("deep"), "{m}");

    // A Date is signed as the text JSON.stringify writes for it.
    let dated = base();
    set(&dated, "since", &js_sys::Date::new(&JsValue::from(0.0)).into());
    let mut expected = worked_example();
    expected["since"] = json!("1970-01-01T00:00:00.000Z");
    assert_eq!(
        sign_lingxing(dated, s("ak_0123456789abc")).unwrap(),
        sign_lingxing(js(expected), s("ak_0123456789abc")).unwrap()
    );
}

// ---------------------------------------------------------------- errors

#[wasm_bindgen_test]
fn bad_arguments_are_invalid_request() {
    let m = expect_error(&thrown(normalize(s("amazon"), s(XIAOE), JsValue::UNDEFINED)), "invalid_request");
    assert!(m.contains("platform") && m.contains("amazon"), "{m}");
    let m = expect_error(&thrown(normalize(s("xiaoe"), JsValue::from(5), JsValue::UNDEFINED)), "invalid_request");
    assert!(m.contains("text") && m.contains("number"), "{m}");
    let m = expect_error(
        &thrown(normalize(s("xiaoe"), js_sys::Uint8Array::from(&[0x7b, 0xff][..]).into(), JsValue::UNDEFINED)),
        "invalid_request",
    );
    assert!(m.contains("not UTF-8") && m.contains("offset 1"), "{m}");
    let m = expect_error(&thrown(normalize_json(s("xiaoe"), s(XIAOE), js(json!({"raw": true})))), "invalid_request");
    assert!(m.contains("options.raw") && m.contains("includeRaw"), "{m}");
    let m = expect_error(
        &thrown(normalize_json(s("xiaoe"), s(XIAOE), js(json!({"includeRaw": "yes"})))),
        "invalid_request",
    );
    assert!(m.contains("options.includeRaw") && m.contains("boolean") && !m.contains("Error:"), "{m}");
    let m = expect_error(&thrown(normalize_json(s("xiaoe"), s(XIAOE), s("includeRaw"))), "invalid_request");
    assert!(m.contains("options must be an object"), "{m}");
    // The snake_case alias and `null` (left out) are accepted.
    let raw = to_json(&normalize(s("xiaoe"), s(XIAOE), js(json!({"include_raw": true}))).unwrap());
    assert!(raw[0]["raw"].is_object());
    let plain = to_json(&normalize(s("xiaoe"), s(XIAOE), js(json!({"includeRaw": null}))).unwrap());
    assert!(plain[0].get("raw").is_none());
    let m = expect_error(&thrown(normalize(s("wechat_store"), s(WECHAT_STORE), JsValue::UNDEFINED)), "invalid_request");
    assert!(m.contains("order"), "{m}");
    let m = expect_error(&thrown(sign_lingxing(js(worked_example()), s("short"))), "invalid_request");
    assert!(m.contains("16 bytes"), "{m}");
    let m = expect_error(&thrown(sign_lingxing(s("a=1"), s("ak_0123456789abc"))), "invalid_request");
    assert!(m.contains("params"), "{m}");
    let m = expect_error(&thrown(sign_lingxing(js(worked_example()), JsValue::NULL)), "invalid_request");
    assert!(m.contains("appId"), "{m}");
}

#[wasm_bindgen_test]
fn unreadable_bodies_say_where() {
    let truncated = &XIAOE[..XIAOE.len() / 2];
    let e = thrown(normalize(s("xiaoe"), s(truncated), JsValue::UNDEFINED));
    let m = expect_error(&e, "upstream_error");
    assert!(m.contains("xiaoe"), "{m}");
    assert!(prop(&e, "upstream").is_null());
    let bad_state = XIAOE.replace("\"state\": 13", "\"state\": \"thirteen\"");
    let m = expect_error(&thrown(normalize(s("xiaoe"), s(&bad_state), JsValue::UNDEFINED)), "upstream_error");
    assert!(m.contains("state"), "{m}");
}

#[wasm_bindgen_test]
fn upstream_errors_keep_the_upstreams_own_code() {
    let e = thrown(normalize(s("xiaoe"), s(r#"{"code":2008,"msg":"token expired","data":null}"#), JsValue::UNDEFINED));
    expect_error(&e, "upstream_auth");
    assert_eq!(
        to_json(&prop(&e, "upstream")),
        json!({"platform": "xiaoe", "code": "2008", "message": "token expired"})
    );
    assert!(prop(&e, "status").is_undefined());
    let e = thrown(normalize(
        s("wechat_shop"),
        s(r#"{"errcode":45011,"errmsg":"api minute-quota reach limit"}"#),
        JsValue::UNDEFINED,
    ));
    expect_error(&e, "rate_limited");
}

// ---------------------------------------------------------------- WeChat Channels (SPEC.md §8)

#[wasm_bindgen_test]
fn normalizes_wechat_channels_as_the_core_does() {
    let body = include_str!("../../tests/golden/wechat_channels.as_written.json");
    let expected: Value =
        serde_json::from_str(include_str!("../../tests/golden/wechat_channels.expected.json")).unwrap();
    let records = to_json(&normalize(s("wechat_channels"), s(body), JsValue::UNDEFINED).unwrap());
    let ids = |v: &Value| -> Vec<Value> { v.as_array().unwrap().iter().map(|r| r["id"].clone()).collect() };
    let expected = if expected.is_array() { expected } else { expected["data"].clone() };
    assert_eq!(ids(&records), ids(&expected));
    assert!(ids(&records).iter().all(|id| id.as_str().unwrap().starts_with("wechat_channels:")));
}
