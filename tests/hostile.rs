//! Hostile inputs: truncated bodies, wrong types, values out of range, odd text, upstream error
//! envelopes, and random garbage. Normalization must answer every one of them with a typed error
//! that says what and where, or with a faithful result; it must never panic or guess.

mod common;

use aftersale::error::{InvalidValue, UpstreamError};
use aftersale::{normalize_order, normalize_page, Error, ErrorCode, NormalizeOptions, Platform};
use common::normalized as run;
use proptest::prelude::*;
use serde_json::{json, Value};

macro_rules! golden {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/", $name))
    };
}

const SHOP: &str = golden!("wechat_shop.clean.json");
const XIAOE: &str = golden!("xiaoe.clean.json");
const STORE: &str = golden!("wechat_store.clean.json");
const LINGXING: &str = golden!("lingxing.clean.json");
const STORE_AS_WRITTEN: &str = golden!("wechat_store.as_written.txt");
const CHANNELS: &str = golden!("wechat_channels.as_written.json");
const CHANNELS_RETURN: &str = golden!("wechat_channels_return.json");

const CLEAN: [(Platform, &str); 6] = [
    (Platform::WechatShop, SHOP),
    (Platform::Xiaoe, XIAOE),
    (Platform::WechatStore, STORE),
    (Platform::Lingxing, LINGXING),
    (Platform::WechatChannels, CHANNELS),
    (Platform::WechatChannels, CHANNELS_RETURN),
];

fn ok(platform: Platform, body: &str) -> Value {
    run(platform, body, false).unwrap_or_else(|e| panic!("{platform}: expected success, got: {e}"))
}

#[track_caller]
fn err(platform: Platform, body: &str) -> Error {
    match run(platform, body, false) {
        Ok(v) => panic!("{platform}: expected an error, got {v}"),
        Err(e) => e,
    }
}

#[track_caller]
fn invalid_value(platform: Platform, body: &str) -> (InvalidValue, String) {
    match err(platform, body) {
        Error::InvalidValue(iv) => {
            let msg = Error::InvalidValue(iv.clone()).to_string();
            (iv, msg)
        }
        other => panic!("{platform}: expected InvalidValue, got {other:?}: {other}"),
    }
}

#[track_caller]
fn parse_error_message(platform: Platform, body: &str) -> String {
    match err(platform, body) {
        e @ Error::Parse(_) => e.to_string(),
        other => panic!("{platform}: expected a parse error, got {other:?}: {other}"),
    }
}

/// The clean fixture of `platform` as a `Value`, changed by `edit`, as text.
fn edited(platform: Platform, edit: impl FnOnce(&mut Value)) -> String {
    let text = CLEAN.iter().find(|(p, _)| *p == platform).unwrap().1;
    let mut v: Value = serde_json::from_str(text).unwrap();
    edit(&mut v);
    v.to_string()
}

fn shop_record(v: &mut Value) -> &mut Value {
    &mut v["aftersale_Infos "][0]
}
fn xiaoe_record(v: &mut Value) -> &mut Value {
    &mut v["data"]["list"][0]
}
fn lingxing_line(v: &mut Value, i: usize) -> &mut Value {
    &mut v["data"][0]["item_list"][i]
}
fn store_order(v: &mut Value) -> &mut Value {
    &mut v["order"]
}
fn channels_record(v: &mut Value) -> &mut Value {
    &mut v["after_sale_order"]
}

// ---------------------------------------------------------------------------------------------
// Truncation

#[test]
fn every_truncation_is_an_error_that_says_the_body_ends_early() {
    let bodies = CLEAN.iter().copied().chain([(Platform::WechatStore, STORE_AS_WRITTEN)]);
    for (platform, text) in bodies {
        let mut checked = 0;
        for cut in (0..text.len()).filter(|&i| text.is_char_boundary(i)) {
            let prefix = &text[..cut];
            if prefix.trim_end() == text.trim_end() || serde_json::from_str::<Value>(prefix).is_ok() {
                continue; // the whole text, without its final newline
            }
            checked += 1;
            match run(platform, prefix, false) {
                Err(e @ Error::Parse(_)) => {
                    let msg = e.to_string();
                    assert!(msg.contains("ends early"), "{platform}, cut at {cut}: {msg}");
                }
                other => panic!("{platform}, cut at {cut}: expected a parse error, got {other:?}"),
            }
        }
        assert!(checked > 400, "{platform}: only {checked} cut points");
    }
}

// ---------------------------------------------------------------------------------------------
// Wrong types, field by field

#[derive(Clone, Debug)]
enum Seg {
    Key(String),
    Index(usize),
}

fn paths(v: &Value, prefix: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                prefix.push(Seg::Key(k.clone()));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                prefix.push(Seg::Index(i));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn at<'v>(v: &'v mut Value, path: &[Seg]) -> &'v mut Value {
    path.iter().fold(v, |v, seg| match seg {
        Seg::Key(k) => &mut v[k.as_str()],
        Seg::Index(i) => &mut v[*i],
    })
}

/// Keys the model does not read (documented, but nothing in SPEC.md §2 takes them). Anything
/// under them may hold anything.
fn ignored_keys(platform: Platform) -> &'static [&'static str] {
    match platform {
        Platform::WechatShop => &["path"],
        Platform::Xiaoe => &[
            "invalid_time",
            "resource_type_str",
            "ship_state_str",
            "state_invalid_time",
            "state_reason",
            "state_str",
            "use_collection",
            "wx_avatar",
            "goods_tag",
            "single_type",
        ],
        Platform::WechatStore => {
            &["offline_delivery_time", "offline_pickup_time", "distance", "on_aftersale_order_cnt"]
        }
        Platform::WechatChannels => &[
            "voucher_list",
            "task_id",
            "sku_code",
            "fast_refund",
            "receive_product",
            "cancel_time",
            "media_id_list",
            "tel_number",
            "wxa_vip_discounted_price",
            "refund_reason",
            "return_type",
            "refund_certificates",
            "refund_resp",
            "sub_type",
            "complaint_id",
            "gen_scene",
        ],
        Platform::Lingxing => &[
            "error_details",
            "request_id",
            "response_time",
            "id",
            "sid",
            "purchase_time",
            "deal_time",
            "gmt_modified",
            "correlation_id",
            "interval_days",
            "is_mcf_order",
            "delivery_type",
            "order_total_amount",
            "order_total_amount_currency_code",
            "order_total_amount_number",
            "total_refund_amount",
            "total_refund_amount__number",
            "total_refund_cost",
            "total_refund_cost_currency_code",
            "total_refund_cost_number",
            "after_type_tag",
            "local_name",
            "asin_url",
            "after_interval",
            "refund_cost",
            "refund_amount_details",
            "refund_cost_details",
            "inventory_attributes",
            "lpn_number",
            "rma_order_number",
            "fid",
            "row_index",
        ],
    }
}

/// The name an error uses for a documented key: trimmed, lower-cased, typos resolved.
fn field_name(key: &str) -> String {
    let k = key.trim().to_ascii_lowercase();
    match k.as_str() {
        "craete_time" => "create_time".into(),
        "beats_price" => "sale_price".into(),
        _ => k,
    }
}

fn is_ignored(platform: Platform, path: &[Seg]) -> bool {
    let ignored = ignored_keys(platform);
    path.iter().enumerate().any(|(i, seg)| match seg {
        Seg::Key(k) => {
            let record_level =
                platform == Platform::Lingxing && i == 2 && matches!(path[0], Seg::Key(ref d) if d == "data");
            ignored.contains(&k.as_str()) && !(platform == Platform::Lingxing && (k == "asin" || k == "msku"))
                || (record_level && ignored.contains(&format!("data[].{k}").as_str()))
        }
        Seg::Index(_) => false,
    })
}

#[test]
fn a_wrong_type_at_any_read_field_is_an_error_naming_it() {
    for (platform, text) in CLEAN {
        let original: Value = serde_json::from_str(text).unwrap();
        let mut all = Vec::new();
        paths(&original, &mut Vec::new(), &mut all);
        for include_raw in [false, true] {
            let baseline = run(platform, &original.to_string(), include_raw).unwrap();
            for path in &all {
                let mut v = original.clone();
                let slot = at(&mut v, path);
                // Nothing lenient takes an object for a scalar, or a string for a container.
                *slot = match slot {
                    Value::Object(_) | Value::Array(_) => json!("wrong"),
                    _ => json!({ "wrong": true }),
                };
                let shown = format!("{path:?}");
                let result = run(platform, &v.to_string(), include_raw);
                if is_ignored(platform, path) {
                    // Ignored: the output does not change at all.
                    let mut got = result.unwrap_or_else(|e| panic!("{platform} {shown}: unread key refused: {e}"));
                    if include_raw {
                        strip_raw(&mut got);
                    }
                    let mut want = baseline.clone();
                    if include_raw {
                        strip_raw(&mut want);
                    }
                    assert_eq!(got, want, "{platform} {shown}");
                    continue;
                }
                let e = match result {
                    Err(e) => e,
                    Ok(out) => panic!("{platform} {shown} (raw: {include_raw}): wrong type accepted: {out}"),
                };
                assert!(matches!(e, Error::Parse(_)), "{platform} {shown}: {e:?}");
                let msg = e.to_string();
                let name = path
                    .iter()
                    .rev()
                    .find_map(|s| match s {
                        Seg::Key(k) => Some(field_name(k)),
                        Seg::Index(_) => None,
                    })
                    .unwrap();
                assert!(msg.contains(&name), "{platform} {shown}: the message does not name `{name}`: {msg}");
                assert!(msg.contains("invalid type"), "{platform} {shown}: {msg}");
            }
        }
    }
}

fn strip_raw(v: &mut Value) {
    match v {
        Value::Array(a) => a.iter_mut().for_each(strip_raw),
        Value::Object(m) => {
            m.remove("raw");
        }
        _ => {}
    }
}

#[test]
fn nulls_anywhere_never_panic() {
    for (platform, text) in CLEAN {
        let original: Value = serde_json::from_str(text).unwrap();
        let mut all = Vec::new();
        paths(&original, &mut Vec::new(), &mut all);
        for path in &all {
            let mut v = original.clone();
            *at(&mut v, path) = Value::Null;
            let _ = run(platform, &v.to_string(), true);
            let _ = run(platform, &v.to_string(), false);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Statuses, empty lists

#[test]
fn unknown_status_codes_keep_the_raw_status() {
    let out = ok(Platform::WechatShop, &edited(Platform::WechatShop, |v| shop_record(v)["status"] = json!(99)));
    assert_eq!(
        (&out[0]["status"], &out[0]["status_raw"], &out[0]["overdue"]),
        (&json!("unknown"), &json!(99), &json!(false))
    );

    let out = ok(Platform::Xiaoe, &edited(Platform::Xiaoe, |v| xiaoe_record(v)["state"] = json!(-7)));
    assert_eq!((&out[0]["status"], &out[0]["status_raw"]), (&json!("unknown"), &json!(-7)));

    let out = ok(
        Platform::Lingxing,
        &edited(Platform::Lingxing, |v| lingxing_line(v, 0)["return_status"] = json!("Teleported")),
    );
    assert_eq!((&out[0]["status"], &out[0]["status_raw"]), (&json!("unknown"), &json!("Teleported")));

    let out = ok(Platform::WechatStore, &edited(Platform::WechatStore, |v| store_order(v)["status"] = json!(999)));
    assert_eq!((&out["status"], &out["status_raw"]), (&json!("unknown"), &json!(999)));

    // The overdue codes of the shared table.
    let out = ok(Platform::Xiaoe, &edited(Platform::Xiaoe, |v| xiaoe_record(v)["state"] = json!(12)));
    assert_eq!((&out[0]["status"], &out[0]["overdue"]), (&json!("refunding"), &json!(true)));
}

#[test]
fn empty_lists_give_empty_lists() {
    let out = ok(Platform::WechatShop, &edited(Platform::WechatShop, |v| v["aftersale_Infos "] = json!([])));
    assert_eq!(out, json!([]));
    let out = ok(Platform::WechatShop, &edited(Platform::WechatShop, |v| shop_record(v)["product_Infos "] = json!([])));
    assert_eq!(out[0]["items"], json!([]));

    let out = ok(Platform::Xiaoe, &edited(Platform::Xiaoe, |v| v["data"]["list"] = json!([])));
    assert_eq!(out, json!([]));
    let page =
        normalize_page(Platform::Xiaoe, r#"{"code":0,"msg":"","data":{"list":[],"row_count":0}}"#, Default::default())
            .unwrap();
    assert_eq!((page.records.len(), page.total, page.upstream_count), (0, Some(0), 0));
    let out = ok(
        Platform::Xiaoe,
        &edited(Platform::Xiaoe, |v| {
            let r = xiaoe_record(v).as_object_mut().unwrap();
            r.insert("goods_list".into(), json!([]));
            r.remove("goods_name");
        }),
    );
    assert_eq!(out[0]["items"], json!([]));

    let out = ok(Platform::Lingxing, &edited(Platform::Lingxing, |v| v["data"] = json!([])));
    assert_eq!(out, json!([]));

    let out = ok(
        Platform::WechatStore,
        &edited(Platform::WechatStore, |v| {
            let o = store_order(v);
            o["order_detail "]["product_Infos "] = json!([]);
            o["order_detail "]["delivery_info"]["delivery_product_info"]["product_Infos "] = json!([]);
            o["aftersale_detail "]["aftersale_order_list"] = json!([]);
        }),
    );
    assert_eq!(
        (&out["items"], &out["delivery"]["shipped_items"], &out["aftersale_ids"]),
        (&json!([]), &json!([]), &json!([]))
    );
}

#[test]
fn a_lingxing_record_with_no_lines_is_refused_by_name() {
    // Nothing identifies the after-sales of such a record (see the report to the lead).
    let (iv, msg) =
        invalid_value(Platform::Lingxing, &edited(Platform::Lingxing, |v| v["data"][0]["item_list"] = json!([])));
    assert_eq!((iv.field, iv.record, iv.record_id.as_deref()), ("item_list", Some(0), Some("113-9870855-8214638")));
    assert!(msg.contains("lingxing record #0 (113-9870855-8214638): field `item_list`"), "{msg}");
}

// ---------------------------------------------------------------------------------------------
// Numbers out of range

/// A platform, an edit of its clean fixture, and the path an error must name.
type Case = (Platform, Edit, &'static str);
type Edit = fn(&mut Value);

const BEYOND_U64: &str = "123456789012345678901234567890";

/// Puts a bare number (not representable in JSON values here) where `"__N__"` stands.
fn with_number(text: String, number: &str) -> String {
    assert!(text.contains("\"__N__\""));
    text.replace("\"__N__\"", number)
}

#[test]
fn ids_beyond_u64_are_refused_by_field() {
    let cases: [Case; 6] = [
        (
            Platform::WechatChannels,
            |v| channels_record(v)["after_sale_order_id"] = json!("__N__"),
            "after_sale_order.after_sale_order_id",
        ),
        (Platform::WechatChannels, |v| channels_record(v)["order_id"] = json!("__N__"), "after_sale_order.order_id"),
        (Platform::WechatShop, |v| shop_record(v)["aftersale_id"] = json!("__N__"), "aftersale_infos[0].aftersale_id"),
        (Platform::Xiaoe, |v| xiaoe_record(v)["order_id"] = json!("__N__"), "data.list[0].order_id"),
        (Platform::Lingxing, |v| v["data"][0]["amazon_order_id"] = json!("__N__"), "data[0].amazon_order_id"),
        (Platform::WechatStore, |v| store_order(v)["order_id"] = json!("__N__"), "order.order_id"),
    ];
    for (platform, edit, path) in cases {
        let body = with_number(edited(platform, edit), BEYOND_U64);
        let msg = parse_error_message(platform, &body);
        assert!(msg.contains(path), "{platform}: {msg}");
        assert!(msg.contains("not an exact integer id"), "{platform}: {msg}");
        // u64::MAX itself is an exact id, kept digit for digit.
        let body = with_number(edited(platform, edit), "18446744073709551615");
        let out = ok(platform, &body);
        let text = out.to_string();
        assert!(text.contains("\"18446744073709551615"), "{platform}: {text}");
    }
}

#[test]
fn money_beyond_i64_is_refused_by_field() {
    let cases: [Case; 5] = [
        (
            Platform::WechatChannels,
            |v| channels_record(v)["refund_info"]["amount"] = json!("__N__"),
            "after_sale_order.refund_info.amount",
        ),
        (Platform::WechatShop, |v| shop_record(v)["refund"] = json!("__N__"), "aftersale_infos[0].refund"),
        (Platform::Xiaoe, |v| xiaoe_record(v)["refund_money"] = json!("__N__"), "data.list[0].refund_money"),
        (
            Platform::WechatStore,
            |v| store_order(v)["order_detail "]["price_info"]["order_price"] = json!("__N__"),
            "order.order_detail.price_info.order_price",
        ),
        (
            Platform::Xiaoe,
            |v| xiaoe_record(v)["goods_list"][0]["goods_price"] = json!("__N__"),
            "data.list[0].goods_list[0].goods_price",
        ),
    ];
    for (platform, edit, path) in cases {
        for number in ["9223372036854775808", BEYOND_U64] {
            let msg = parse_error_message(platform, &with_number(edited(platform, edit), number));
            assert!(msg.contains(path), "{platform} {number}: {msg}");
        }
        // i64::MAX fen is still exact.
        let out = ok(platform, &with_number(edited(platform, edit), "9223372036854775807"));
        assert!(out.to_string().contains(r#""minor":9223372036854775807"#), "{platform}: {out}");
    }
    // Lingxing's amounts are decimal strings: too many minor units for i64.
    let (iv, msg) = invalid_value(
        Platform::Lingxing,
        &edited(Platform::Lingxing, |v| lingxing_line(v, 1)["refund_amount"] = json!("-$92233720368547758.08")),
    );
    assert_eq!(iv.field, "item_list.refund_amount");
    assert!(msg.contains("too large"), "{msg}");
    let out = ok(
        Platform::Lingxing,
        &edited(Platform::Lingxing, |v| lingxing_line(v, 1)["refund_amount"] = json!("-$92233720368547758.07")),
    );
    assert_eq!(
        out[1]["refund"],
        json!({"currency": "USD", "minor": 9223372036854775807i64, "decimal": "92233720368547758.07"})
    );
}

#[test]
fn negative_fen_is_refused_by_field() {
    let (iv, msg) =
        invalid_value(Platform::WechatShop, &edited(Platform::WechatShop, |v| shop_record(v)["refund"] = json!(-100)));
    assert_eq!((iv.field, iv.value.as_str(), iv.record), ("refund", "-100", Some(0)));
    assert!(msg.contains("wechat_shop record #0 (xxxxx#1): field `refund` = \"-100\""), "{msg}");

    let (iv, _) =
        invalid_value(Platform::Xiaoe, &edited(Platform::Xiaoe, |v| xiaoe_record(v)["refund_money"] = json!("-1")));
    assert_eq!((iv.field, iv.record_id.as_deref()), ("refund_money", Some("A1676284458_63ea122a379c4_84723683")));
    let (iv, _) = invalid_value(
        Platform::Xiaoe,
        &edited(Platform::Xiaoe, |v| xiaoe_record(v)["goods_list"][0]["goods_price"] = json!(-20)),
    );
    assert_eq!(iv.field, "goods_list.goods_price");
    let (iv, msg) = invalid_value(
        Platform::WechatStore,
        &edited(Platform::WechatStore, |v| store_order(v)["order_detail "]["price_info"]["freight"] = json!(-500)),
    );
    assert_eq!(iv.field, "price_info.freight");
    assert!(msg.contains("(12123121332)"), "{msg}");
    let (iv, _) = invalid_value(
        Platform::WechatStore,
        &edited(Platform::WechatStore, |v| {
            store_order(v)["order_detail "]["product_Infos "][0]["beats_price"] = json!(-1)
        }),
    );
    assert_eq!(iv.field, "product_infos.sale_price");
}

// ---------------------------------------------------------------------------------------------
// Times, currencies, identifiers

#[test]
fn invalid_times_are_refused_by_field() {
    let cases: [(Platform, Edit, &str, &str); 6] = [
        (
            Platform::WechatShop,
            |v| shop_record(v)["create_time"] = json!("2020-02-30 00:00:00"),
            "create_time",
            "xxxxx#1",
        ),
        (
            Platform::Xiaoe,
            |v| xiaoe_record(v)["created_at"] = json!("yesterday"),
            "created_at",
            "A1676284458_63ea122a379c4_84723683",
        ),
        (
            Platform::Xiaoe,
            |v| xiaoe_record(v)["updated_at"] = json!(1676284458),
            "updated_at",
            "A1676284458_63ea122a379c4_84723683",
        ),
        (
            Platform::Lingxing,
            |v| lingxing_line(v, 0)["after_time"] = json!("2023-13-01 00:00:00"),
            "item_list.after_time",
            "113-9870855-8214638",
        ),
        (
            Platform::WechatStore,
            |v| store_order(v)["order_detail "]["pay_info"]["pay_time"] = json!("2020-03-25 25:05:25"),
            "pay_info.pay_time",
            "12123121332",
        ),
        (
            Platform::WechatStore,
            |v| store_order(v)["order_detail "]["delivery_info"]["ship_done_time"] = json!("soon"),
            "delivery_info.ship_done_time",
            "12123121332",
        ),
    ];
    for (platform, edit, field, id) in cases {
        let (iv, msg) = invalid_value(platform, &edited(platform, edit));
        assert_eq!(iv.field, field, "{msg}");
        assert_eq!(iv.record_id.as_deref(), Some(id), "{msg}");
        assert!(msg.contains(&format!("field `{field}`")), "{msg}");
        assert!(msg.contains(id), "{msg}");
    }
}

#[test]
fn a_currency_that_cannot_be_known_is_an_error_never_a_guess() {
    let refund_error = |edit: fn(&mut Value)| {
        let (iv, msg) = invalid_value(Platform::Lingxing, &edited(Platform::Lingxing, edit));
        assert_eq!(iv.field, "item_list.refund_amount", "{msg}");
        assert_eq!(iv.record_id.as_deref(), Some("113-9870855-8214638"), "{msg}");
        msg
    };
    // `$` is five currencies: without a known marketplace it says nothing.
    let msg = refund_error(|v| v["data"][0]["seller_country"] = json!("Mars"));
    assert!(msg.contains("currency cannot be known"), "{msg}");
    let msg = refund_error(|v| {
        v["data"][0].as_object_mut().unwrap().remove("seller_country");
    });
    assert!(msg.contains("currency cannot be known"), "{msg}");
    // An unknown symbol or code.
    let msg = refund_error(|v| lingxing_line(v, 1)["refund_amount"] = json!("-XYZ4.70"));
    assert!(msg.contains("currency cannot be known"), "{msg}");
    // ¥ is yen or yuan.
    let msg = refund_error(|v| {
        v["data"][0]["seller_country"] = json!("Mars");
        lingxing_line(v, 1)["refund_amount"] = json!("-¥470");
    });
    assert!(msg.contains("currency cannot be known"), "{msg}");
    // A symbol that contradicts the marketplace.
    let msg = refund_error(|v| lingxing_line(v, 1)["refund_amount"] = json!("-£4.70"));
    assert!(msg.contains("does not match"), "{msg}");
    // No symbol, no usable fallback.
    let msg = refund_error(|v| {
        v["data"][0]["seller_country"] = json!("Mars");
        lingxing_line(v, 1)["refund_amount"] = json!("-4.70");
    });
    assert!(msg.contains("currency cannot be known"), "{msg}");
    // But an unambiguous symbol needs no marketplace.
    let out = ok(
        Platform::Lingxing,
        &edited(Platform::Lingxing, |v| {
            v["data"][0]["seller_country"] = json!("Mars");
            lingxing_line(v, 1)["refund_amount"] = json!("-€4.705");
        }),
    );
    assert_eq!(out[1]["refund"], json!({"currency": "EUR", "minor": 470, "decimal": "4.705"}));
}

#[test]
fn a_lingxing_line_with_no_identifier_is_refused() {
    let (iv, msg) = invalid_value(
        Platform::Lingxing,
        &edited(Platform::Lingxing, |v| {
            let line = lingxing_line(v, 1).as_object_mut().unwrap();
            for k in ["item_identifier", "md5_v2", "md5_new", "md5"] {
                line.remove(k);
            }
        }),
    );
    assert_eq!((iv.field, iv.record), ("item_list.item_identifier", Some(0)));
    assert!(msg.contains("113-9870855-8214638") && msg.contains("md5_v2"), "{msg}");
    // Empty strings identify nothing either.
    let (iv, _) = invalid_value(
        Platform::Lingxing,
        &edited(Platform::Lingxing, |v| {
            let line = lingxing_line(v, 0);
            for k in ["item_identifier", "md5_v2", "md5_new", "md5"] {
                line[k] = json!(" ");
            }
        }),
    );
    assert_eq!(iv.field, "item_list.item_identifier");
    // The documented keys win over the deprecated ones.
    let out = ok(
        Platform::Lingxing,
        &edited(Platform::Lingxing, |v| {
            lingxing_line(v, 0)["md5_v2"] = json!("V2");
            lingxing_line(v, 1)["item_identifier"] = json!("IDENT");
            lingxing_line(v, 1)["md5_v2"] = json!("V2b");
        }),
    );
    assert_eq!((&out[0]["id"], &out[1]["id"]), (&json!("lingxing:V2"), &json!("lingxing:IDENT")));
}

// ---------------------------------------------------------------------------------------------
// Odd text

#[test]
fn odd_text_is_kept_or_refused_never_mangled() {
    // Mojibake is somebody's text: kept byte for byte.
    let mojibake = "å¤§è\u{82}‰ä¸¸xxxx";
    let out = ok(Platform::Xiaoe, &edited(Platform::Xiaoe, |v| xiaoe_record(v)["nick_name"] = json!(mojibake)));
    assert_eq!(out[0]["buyer"]["nickname"], json!(mojibake));

    // A NUL escape is a character like any other.
    let body = XIAOE.replace("\"大肉丸xxxx\"", r#""a\u0000b""#);
    assert_eq!(ok(Platform::Xiaoe, &body)[0]["buyer"]["nickname"], json!("a\u{0}b"));
    // An escaped surrogate pair is one character.
    let body = XIAOE.replace("\"大肉丸xxxx\"", r#""\ud83d\ude00""#);
    assert_eq!(ok(Platform::Xiaoe, &body)[0]["buyer"]["nickname"], json!("😀"));

    // A lone surrogate decodes to no character at all: refused, naming the field.
    let body = XIAOE.replace("\"大肉丸xxxx\"", r#""\ud800""#);
    let msg = parse_error_message(Platform::Xiaoe, &body);
    assert!(msg.contains("data.list[0].nick_name"), "{msg}");
    for (platform, body) in [
        (Platform::WechatShop, SHOP.replace("\"oTVP50O53a7jgmawAmxKukNlq3XI\"", r#""\udc00x""#)),
        (Platform::Lingxing, LINGXING.replace("\"Love Pearl Bottom Hair Circle\"", r#""\ud800""#)),
        (Platform::WechatStore, STORE.replace("\"Fat Shun Fung\"", r#""\ud800""#)),
    ] {
        let _ = parse_error_message(platform, &body);
    }
    // ... but in a key nobody reads it costs nothing.
    let body = XIAOE.replace("\"wx_avatar\": \"http", r#""wx_avatar": "\ud800http"#);
    assert_eq!(ok(Platform::Xiaoe, &body), ok(Platform::Xiaoe, XIAOE));

    // A raw control character is not JSON; the tolerant reading escapes it and keeps it.
    let body = XIAOE.replace("\"大肉丸xxxx\"", "\"a\u{0}b\"");
    assert_eq!(ok(Platform::Xiaoe, &body)[0]["buyer"]["nickname"], json!("a\u{0}b"));

    // A byte-order mark before the body is not part of it.
    for (platform, text) in CLEAN {
        let with_bom = format!("\u{feff}{text}");
        assert_eq!(ok(platform, &with_bom), ok(platform, text), "{platform}");
    }
    // Anywhere else it is not whitespace JSON knows.
    let body = XIAOE.replacen("\"code\"", "\u{feff}\"code\"", 1);
    assert_eq!(ok(Platform::Xiaoe, &body), ok(Platform::Xiaoe, XIAOE), "the tolerant reading skips it");
    // A wrong type found after a repair names the field, without the repaired copy's positions.
    let msg = parse_error_message(Platform::Xiaoe, &XIAOE.replacen("\"state\": 13,", "'state': {},", 1));
    assert!(
        msg.ends_with(
            "data.list[0].state: invalid type: map, expected an integer (in the body read as documentation-style JSON)"
        ),
        "{msg}"
    );
    let msg = parse_error_message(Platform::Xiaoe, "\u{feff}\u{feff}{\"code\":0,\"data\":{\"list\":[");
    assert!(msg.contains("ends early"), "{msg}");
}

// ---------------------------------------------------------------------------------------------
// Upstream errors

#[track_caller]
fn upstream(platform: Platform, body: &str) -> (UpstreamError, ErrorCode, String) {
    match run(platform, body, false) {
        Err(e @ Error::Upstream(_)) => {
            let code = e.code();
            let msg = e.to_string();
            let Error::Upstream(u) = e else { unreachable!() };
            (u, code, msg)
        }
        other => panic!("{platform} {body}: expected an upstream error, got {other:?}"),
    }
}

#[test]
fn upstream_error_envelopes_are_reported_as_themselves() {
    let wechat = [
        (42001, ErrorCode::UpstreamAuth),
        (40001, ErrorCode::UpstreamAuth),
        (45011, ErrorCode::RateLimited),
        (-1, ErrorCode::UpstreamUnavailable),
        (9401020, ErrorCode::InvalidRequest),
        (12345, ErrorCode::UpstreamError),
    ];
    for platform in [Platform::WechatShop, Platform::WechatStore] {
        for (code, want) in wechat {
            let message = format!("message for {code}, rid: 6480-1a2b");
            let envelopes = [
                json!({ "errcode": code, "errmsg": message }).to_string(),
                // An error envelope whose payload has the wrong shape is still the upstream's error.
                json!({ "errcode": code, "errmsg": message, "aftersale_infos": "nope", "order": 7 }).to_string(),
                json!({ "errcode": code, "errmsg": message, "aftersale_infos": [{ "type": {} }], "order": [] })
                    .to_string(),
            ];
            for body in envelopes {
                let (u, got, msg) = upstream(platform, &body);
                assert_eq!(
                    (u.platform, u.code.as_str(), u.message.as_str()),
                    (platform, &*code.to_string(), &*message)
                );
                assert_eq!(got, want, "{platform} {code}");
                assert!(msg.contains(&code.to_string()) && msg.contains(&message), "{msg}");
            }
        }
    }

    let xiaoe = [
        (2008, ErrorCode::UpstreamAuth),
        (2054, ErrorCode::RateLimited),
        (2017, ErrorCode::UpstreamAuth),
        (9999, ErrorCode::UpstreamError),
    ];
    for (code, want) in xiaoe {
        for body in [
            json!({ "code": code, "msg": "token 已过期" }).to_string(),
            json!({ "code": code, "msg": "token 已过期", "data": [] }).to_string(),
            json!({ "code": code.to_string(), "msg": "token 已过期", "data": { "list": "nope", "row_count": -1 } })
                .to_string(),
        ] {
            let (u, got, msg) = upstream(Platform::Xiaoe, &body);
            assert_eq!(
                (u.code.as_str(), u.message.as_str(), got),
                (&*code.to_string(), "token 已过期", want),
                "{body}"
            );
            assert!(msg.starts_with(&format!("xiaoe answered error {code}: token 已过期")), "{msg}");
        }
    }

    let lingxing = [
        ("2001003", ErrorCode::UpstreamAuth),
        ("3001008", ErrorCode::RateLimited),
        ("102", ErrorCode::InvalidRequest),
        ("2001006", ErrorCode::UpstreamError),
        ("999", ErrorCode::UpstreamError),
    ];
    for (code, want) in lingxing {
        let n: i64 = code.parse().unwrap();
        for body in [
            json!({ "code": n, "message": "access token is missing or expired", "error_details": [], "data": [], "total": 0 }).to_string(),
            json!({ "code": code, "msg": "access token is missing or expired" }).to_string(),
            json!({ "code": n, "message": "access token is missing or expired", "data": { "not": "a list" }, "total": "x" }).to_string(),
        ] {
            let (u, got, msg) = upstream(Platform::Lingxing, &body);
            assert_eq!((u.code.as_str(), u.message.as_str(), got), (code, "access token is missing or expired", want), "{body}");
            assert!(msg.contains(code), "{msg}");
        }
    }

    // An error envelope written the way the documents write JSON is read as one too.
    let (u, got, _) = upstream(Platform::WechatShop, "{'errcode': 42001; 'errmsg': 'access_token expired'}");
    assert_eq!((u.code.as_str(), u.message.as_str(), got), ("42001", "access_token expired", ErrorCode::UpstreamAuth));
}

#[test]
fn a_success_code_with_a_broken_payload_is_a_parse_error() {
    // Not an upstream error, and not a panic.
    for body in [r#"{"code":"200","data":"x"}"#, r#"{"code":" 0","data":"x"}"#, r#"{"code":0,"data":{"a":1}}"#] {
        let msg = parse_error_message(Platform::Lingxing, body);
        assert!(msg.contains("data: invalid type"), "{msg}");
    }
    let msg = parse_error_message(Platform::Xiaoe, r#"{"code":0,"data":[]}"#);
    assert!(msg.contains("data: invalid type"), "{msg}");
    let msg = parse_error_message(Platform::WechatShop, r#"{"errcode":0,"aftersale_infos":{}}"#);
    assert!(msg.contains("aftersale_infos: invalid type"), "{msg}");
    let msg = parse_error_message(Platform::WechatStore, r#"{"errcode":0,"order":"x"}"#);
    assert!(msg.contains("order: invalid type"), "{msg}");
}

// ---------------------------------------------------------------------------------------------
// Random input: never a panic

fn all_platforms(body: &str) {
    for platform in [Platform::WechatShop, Platform::Xiaoe, Platform::Lingxing, Platform::WechatChannels] {
        for include_raw in [false, true] {
            let _ = normalize_page(platform, body, NormalizeOptions { include_raw, ..Default::default() });
        }
    }
    let _ = normalize_order(body, NormalizeOptions::default());
    let _ = normalize_order(body, NormalizeOptions { include_raw: true, ..Default::default() });
    // Deadlines against extreme clocks.
    for now in [i64::MIN, -1, i64::MAX] {
        let _ = normalize_page(
            Platform::WechatChannels,
            body,
            NormalizeOptions { now_unix_s: Some(now), ..Default::default() },
        );
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, String),
    Replace(usize, char),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Text that means something to a JSON reader, to reach deep into the parsers.
    let token = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(",".to_string()),
        Just(";".to_string()),
        Just(":".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("...".to_string()),
        Just("//".to_string()),
        Just("\n".to_string()),
        Just("\\u".to_string()),
        Just("\\ud800".to_string()),
        Just("-".to_string()),
        Just("1e999".to_string()),
        Just("99999999999999999999999".to_string()),
        Just("null".to_string()),
        Just("\u{feff}".to_string()),
        ".{0,4}",
    ];
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), token).prop_map(|(a, s)| Mutation::Insert(a, s)),
        (any::<usize>(), any::<char>()).prop_map(|(a, c)| Mutation::Replace(a, c)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..60).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
    ]
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for m in mutations {
        let len = chars.len();
        let pos = |a: usize| if len == 0 { 0 } else { a % (len + 1) };
        match m {
            Mutation::Delete(a, n) => {
                let s = pos(*a);
                let e = (s + n).min(len);
                chars.drain(s..e);
            }
            Mutation::Insert(a, s) => {
                let p = pos(*a);
                chars.splice(p..p, s.chars());
            }
            Mutation::Replace(a, c) if len > 0 => chars[a % len] = *c,
            Mutation::Replace(..) => {}
            Mutation::Truncate(a) => chars.truncate(pos(*a)),
            Mutation::Duplicate(a, n) => {
                let s = pos(*a);
                let e = (s + n).min(len);
                let copy: Vec<char> = chars[s..e].to_vec();
                chars.splice(e..e, copy);
            }
        }
    }
    chars.into_iter().collect()
}

const ALL_TEXTS: [&str; 8] =
    [SHOP, XIAOE, STORE, LINGXING, STORE_AS_WRITTEN, golden!("wechat_shop.as_written.txt"), CHANNELS, CHANNELS_RETURN];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(body in any::<String>()) {
        all_platforms(&body);
    }

    #[test]
    fn json_like_strings_never_panic(body in r#"[{}\[\]:,;"'0-9a-z\\. \n\-]{0,80}"#) {
        all_platforms(&body);
    }

    #[test]
    fn mutated_fixtures_never_panic(which in 0..ALL_TEXTS.len(), mutations in prop::collection::vec(mutation(), 1..6)) {
        let body = apply(ALL_TEXTS[which], &mutations);
        all_platforms(&body);
    }
}

// ---------------------------------------------------------------------------------------------
// WeChat Channels

#[test]
fn channels_19_digit_ids_as_numbers_and_strings_are_kept_digit_for_digit() {
    // Beyond 2^53 (9007199254740992): a float would round them.
    let id = "1934164653012121123";
    for quoted in [true, false] {
        let value = if quoted { format!("\"{id}\"") } else { id.to_string() };
        let body = CHANNELS_RETURN
            .replace("\"1934164653012121\"", &value)
            .replace("\"3718236871263128371\"", &value.replace("1934", "9934"))
            .replace("\"10000041234567\"", &value.replace("1934", "8934"));
        let out = ok(Platform::WechatChannels, &body);
        assert_eq!(out[0]["aftersale_id"], json!(id), "quoted: {quoted}");
        assert_eq!(out[0]["id"], json!(format!("wechat_channels:{id}")));
        assert_eq!(out[0]["order_id"], json!("9934164653012121123"));
        assert_eq!(out[0]["items"][0]["product_id"], json!("8934164653012121123"));
    }
    // A number written as a float, or with a fraction, is not an id.
    for bad in ["1.934164653012121e18", "1934164653012121.5"] {
        let body = CHANNELS_RETURN.replace("\"1934164653012121\"", bad);
        let msg = parse_error_message(Platform::WechatChannels, &body);
        assert!(
            msg.contains("after_sale_order.after_sale_order_id") && msg.contains("not an exact integer id"),
            "{msg}"
        );
    }
}

#[test]
fn channels_unknown_and_missing_statuses_and_types() {
    let out = ok(
        Platform::WechatChannels,
        &edited(Platform::WechatChannels, |v| channels_record(v)["status"] = json!("TELEPORTED")),
    );
    assert_eq!(
        (&out[0]["status"], &out[0]["status_raw"], &out[0]["overdue"]),
        (&json!("unknown"), &json!("TELEPORTED"), &json!(false))
    );
    let out = ok(
        Platform::WechatChannels,
        &edited(Platform::WechatChannels, |v| {
            channels_record(v).as_object_mut().unwrap().remove("status");
        }),
    );
    assert_eq!((&out[0]["status"], &out[0]["status_raw"]), (&json!("unknown"), &Value::Null));
    let out = ok(
        Platform::WechatChannels,
        &edited(Platform::WechatChannels, |v| channels_record(v)["status"] = json!("MERCHANT_OVERDUE_REFUND")),
    );
    assert_eq!((&out[0]["status"], &out[0]["overdue"]), (&json!("refunding"), &json!(true)));

    let (iv, msg) = invalid_value(
        Platform::WechatChannels,
        &edited(Platform::WechatChannels, |v| channels_record(v)["type"] = json!("TELEPORT")),
    );
    assert_eq!((iv.field, iv.value.as_str(), iv.record_id.as_deref()), ("type", "TELEPORT", Some("123456")));
    assert!(msg.contains("wechat_channels record #0 (123456): field `type`"), "{msg}");
    let (iv, _) = invalid_value(
        Platform::WechatChannels,
        &edited(Platform::WechatChannels, |v| {
            channels_record(v).as_object_mut().unwrap().remove("type");
        }),
    );
    assert_eq!(iv.field, "type");
    let (iv, _) = invalid_value(
        Platform::WechatChannels,
        &edited(Platform::WechatChannels, |v| channels_record(v)["after_sale_order_id"] = json!("")),
    );
    assert_eq!(iv.field, "after_sale_order_id");
}

#[test]
fn channels_values_out_of_range_are_refused_by_field() {
    for (edit, field) in [
        ((|v| channels_record(v)["refund_info"]["amount"] = json!(-1)) as Edit, "refund_info.amount"),
        (|v| channels_record(v)["product_info"]["count"] = json!(-2), "product_info.count"),
        (|v| channels_record(v)["create_time"] = json!(-5), "create_time"),
        (|v| channels_record(v)["update_time"] = json!("yesterday"), "update_time"),
        (|v| channels_record(v)["create_time"] = json!(253402300800i64), "create_time"),
    ] {
        let (iv, _) = invalid_value(Platform::WechatChannels, &edited(Platform::WechatChannels, edit));
        assert_eq!(iv.field, field);
    }
    // A success envelope without its record.
    let msg = parse_error_message(Platform::WechatChannels, r#"{"errcode":0,"errmsg":"ok"}"#);
    assert!(msg.contains("after_sale_order"), "{msg}");
    let msg = parse_error_message(Platform::WechatChannels, r#"{"errcode":0,"after_sale_order":[]}"#);
    assert!(msg.contains("after_sale_order: invalid type"), "{msg}");
}

#[test]
fn channels_error_envelopes_are_reported_as_themselves() {
    let cases = [
        (42001, ErrorCode::UpstreamAuth),
        (40001, ErrorCode::UpstreamAuth),
        (45011, ErrorCode::RateLimited),
        (45009, ErrorCode::RateLimited),
        (-1, ErrorCode::UpstreamUnavailable),
        (61004, ErrorCode::UpstreamAuth),
        (10080001, ErrorCode::UpstreamAuth),
        (10021050, ErrorCode::InvalidRequest),
        // The window is ours: a 10020004 is never the caller's fault.
        (10020004, ErrorCode::UpstreamError),
        (12345, ErrorCode::UpstreamError),
    ];
    for (code, want) in cases {
        let message = format!("message for {code} rid: 6340e7ea-780b30fa-0a9e752c");
        for body in [
            json!({ "errcode": code, "errmsg": message }).to_string(),
            json!({ "errcode": code, "errmsg": message, "after_sale_order": "nope" }).to_string(),
            json!({ "errcode": code.to_string(), "errmsg": message, "after_sale_order": { "type": {} } }).to_string(),
        ] {
            let (u, got, msg) = upstream(Platform::WechatChannels, &body);
            assert_eq!((u.code.as_str(), u.message.as_str(), got), (&*code.to_string(), &*message, want), "{body}");
            assert!(msg.starts_with(&format!("wechat_channels answered error {code}")), "{msg}");
        }
    }
}

#[test]
fn channels_deadlines_set_overdue_only_when_passed_and_the_merchants() {
    let options = |now| NormalizeOptions { now_unix_s: now, ..Default::default() };
    let overdue = |body: &str, now: Option<i64>| {
        let page = normalize_page(Platform::WechatChannels, body, options(now)).unwrap();
        page.records[0].overdue
    };
    // The return fixture waits for the merchant's receipt until 1714285245 (a unix timestamp).
    assert!(!overdue(CHANNELS_RETURN, None), "no clock, no overdue");
    assert!(!overdue(CHANNELS_RETURN, Some(1714285245)));
    assert!(overdue(CHANNELS_RETURN, Some(1714285246)));
    // Read as remaining seconds: only a negative remainder has passed.
    let remaining = |d: i64| CHANNELS_RETURN.replace("1714285245", &d.to_string());
    assert!(!overdue(&remaining(3600), Some(i64::MAX)));
    assert!(overdue(&remaining(-1), None));
    // Once the buyer holds the next step, the merchant's deadline is not what is late.
    let buyers = CHANNELS_RETURN.replace("MERCHANT_WAIT_RECEIPT", "USER_WAIT_RETURN");
    assert!(!overdue(&buyers, Some(1714285246)));
}
