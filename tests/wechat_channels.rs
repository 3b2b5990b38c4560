//! WeChat Channels through the public API: the facts document's examples (golden), the request
//! builders, and pushes (the official vector, the after-sale event, and arbitrary input).

mod common;

use aftersale::error::PushError;
use aftersale::wechat_channels::request::{ChannelsAfterSaleGet, ChannelsAfterSaleList, TimeField};
use aftersale::wechat_channels::{self, parse_list};
use aftersale::{normalize, wechat_push, Error, ErrorCode, Kind, Platform, Status};
use common::normalized;
use proptest::prelude::*;
use serde_json::{json, Value};

macro_rules! golden {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/", $name))
    };
}

const DETAIL: &str = golden!("wechat_channels.as_written.json");
const RETURN: &str = golden!("wechat_channels_return.json");
const RETURN_EXPECTED: &str = golden!("wechat_channels_return.expected.json");
const LIST: &str = golden!("wechat_channels_list.json");

#[test]
fn the_return_fixture_normalizes_to_expected() {
    let expected: Value = serde_json::from_str(RETURN_EXPECTED).unwrap();
    assert_eq!(normalized(Platform::WechatChannels, RETURN, false).unwrap(), expected);
    let with_raw = normalized(Platform::WechatChannels, RETURN, true).unwrap();
    let upstream: Value = serde_json::from_str(RETURN).unwrap();
    assert_eq!(with_raw[0]["raw"], upstream["after_sale_order"]);
}

#[test]
fn normalize_gives_the_one_after_sale_of_a_detail_answer() {
    let records = normalize(Platform::WechatChannels, DETAIL).unwrap();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(
        (r.id().as_str(), r.kind, r.status, r.overdue),
        ("wechat_channels:123456", Kind::Refund, Status::Completed, false)
    );
    // The platform parses from and prints as its id.
    assert_eq!("wechat_channels".parse::<Platform>().unwrap(), Platform::WechatChannels);
    assert_eq!(Platform::WechatChannels.to_string(), "wechat_channels");
    assert!(Platform::ALL.contains(&Platform::WechatChannels));
}

#[test]
fn completion_is_the_refund_only_when_money_went_back() {
    let with = |status: &str, kind: &str| {
        let body = RETURN
            .replace("\"MERCHANT_WAIT_RECEIPT\"", &format!("\"{status}\""))
            .replace("\"RETURN\"", &format!("\"{kind}\""))
            .replace("\"deadline\": 1714285245", "\"complete_time\": 1714285245");
        normalized(Platform::WechatChannels, &body, false).unwrap()
    };
    let out = with("MERCHANT_RETURN_SUCCESS", "RETURN");
    assert_eq!((&out[0]["status"], &out[0]["refunded_at"]), (&json!("completed"), &json!("2024-04-28T14:20:45+08:00")));
    let out = with("MERCHANT_EXCHANGE_SUCCESS", "EXCHANGE");
    assert_eq!(
        (&out[0]["kind"], &out[0]["status"], &out[0]["refunded_at"]),
        (&json!("exchange"), &json!("completed"), &Value::Null)
    );
    let out = with("USER_WAIT_RECEIPT", "RESHIP");
    assert_eq!((&out[0]["kind"], &out[0]["status"]), (&json!("exchange"), &json!("awaiting_buyer_receipt")));
    let out = with("MERCHANT_FAIL", "REFUND");
    assert_eq!(
        (&out[0]["kind"], &out[0]["status"], &out[0]["refunded_at"]),
        (&json!("refund"), &json!("closed"), &Value::Null)
    );
}

#[test]
fn reasons_prefer_the_text_then_the_legacy_literal_then_the_code() {
    let reason = |edit: &str| {
        let body = RETURN.replace("\"reason_text\": \"大小/尺寸与商品描述不符\",", edit);
        normalized(Platform::WechatChannels, &body, false).unwrap()[0]["reason"].clone()
    };
    assert_eq!(reason("\"reason_text\": \"大小/尺寸与商品描述不符\","), json!("大小/尺寸与商品描述不符"));
    // A numeric code with no text is still better than nothing.
    assert_eq!(reason(""), json!("10000039"));
    assert_eq!(reason("\"reason_text\": \" \","), json!("10000039"));
}

#[test]
fn the_list_example_reads_as_ids_and_a_cursor() {
    let page = parse_list(LIST).unwrap();
    assert_eq!(
        page.ids,
        [
            "1934164653012121",
            "1934161104780121",
            "1934886755899121",
            "1934380526967121",
            "1934588095124121",
            "1934923837729121",
            "1934806194319121",
            "1934790256816121"
        ]
    );
    assert_eq!((page.next_key.as_deref(), page.has_more), (Some("THE_NEXT_KEY_NEW"), true));
    let last = LIST.replace("\"has_more\": true", "\"has_more\": false");
    assert!(!parse_list(&last).unwrap().has_more);
    // 19-digit ids, as numbers or strings, kept digit for digit.
    let page = parse_list(
        r#"{"errcode":0,"after_sale_order_id_list":[1934164653012121123,"9934164653012121123"],"has_more":false}"#,
    )
    .unwrap();
    assert_eq!(page.ids, ["1934164653012121123", "9934164653012121123"]);
    // Wrong types name the field; truncations say the body ends early.
    let e = parse_list(r#"{"errcode":0,"after_sale_order_id_list":[{}]}"#).unwrap_err();
    assert!(e.to_string().contains("after_sale_order_id_list[0]: invalid type"), "{e}");
    let e = parse_list(r#"{"errcode":0,"has_more":"maybe"}"#).unwrap_err();
    assert!(e.to_string().contains("has_more"), "{e}");
    for cut in 1..LIST.trim_end().len() {
        let e = parse_list(&LIST[..cut]).unwrap_err();
        assert!(matches!(e, Error::Parse(_)) && e.to_string().contains("ends early"), "cut {cut}: {e}");
    }
    let e = parse_list(r#"{"errcode":42001,"errmsg":"access_token expired rid: 1-2-3"}"#).unwrap_err();
    assert_eq!(e.code(), ErrorCode::UpstreamAuth);
}

#[test]
fn requests_carry_the_documented_fields() {
    // §4.1's official example, built.
    let list = ChannelsAfterSaleList {
        field: TimeField::Created,
        begin_s: 1658911158,
        end_s: 1658912158,
        next_key: Some("THE_NEXT_KEY".into()),
    };
    let r = list.to_request("http://127.0.0.1:8788/", "ACCESS_TOKEN").unwrap();
    assert_eq!(r.url, "http://127.0.0.1:8788/channels/ec/aftersale/getaftersalelist?access_token=ACCESS_TOKEN");
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        body,
        json!({"begin_create_time": 1658911158, "end_create_time": 1658912158, "next_key": "THE_NEXT_KEY"})
    );
    let too_long = ChannelsAfterSaleList { end_s: 1658911158 + 86_401, next_key: None, ..list };
    assert_eq!(too_long.to_request("http://127.0.0.1", "T").unwrap_err().code(), ErrorCode::InvalidRequest);

    let get = ChannelsAfterSaleGet { after_sale_order_id: "1934164653012121123".into() };
    let r = get.to_request("http://127.0.0.1", "T").unwrap();
    assert_eq!(r.body, br#"{"after_sale_order_id":"1934164653012121123"}"#);
}

// ---------------------------------------------------------------------------------------------
// Pushes

const TOKEN: &str = "AAAAA";
const KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const APPID: &str = "wxba5fad812f8e6fb9";

/// The after-sale event of facts §10.8, sealed as WeChat would and opened as the route will.
#[test]
fn an_after_sale_event_round_trips() {
    let event = r#"{"ToUserName":"gh_*","FromUserName":"OpenID","CreateTime":1662480000,"MsgType":"event","Event":"channels_ec_aftersale_update","finder_shop_aftersale_status_update":{"status":"USER_WAIT_RETURN","after_sale_order_id":"1234567","order_id":"12345","wxa_vip_discounted_price":100}}"#;
    let sealed = wechat_push::seal(TOKEN, KEY, APPID, "1662480000", "415670741", &[9; 16], event).unwrap();
    let body = sealed.body("gh_97417a04a28d");
    let opened = wechat_push::open(TOKEN, KEY, APPID, "1662480000", "415670741", &sealed.msg_signature, &body).unwrap();
    assert_eq!(opened, event);
    let v: Value = serde_json::from_str(&opened).unwrap();
    assert_eq!(v["finder_shop_aftersale_status_update"]["after_sale_order_id"], "1234567");
    assert_eq!(wechat_channels::status_of("USER_WAIT_RETURN").0, Status::AwaitingBuyerReturn);
    // Another shop's appid, another token, another timestamp: refused.
    let other =
        wechat_push::open(TOKEN, KEY, "wx0000000000000000", "1662480000", "415670741", &sealed.msg_signature, &body);
    assert!(matches!(other, Err(Error::Push(PushError::AppId))), "{other:?}");
    let e =
        wechat_push::open("BBBBB", KEY, APPID, "1662480000", "415670741", &sealed.msg_signature, &body).unwrap_err();
    assert_eq!((e.code(), e.code().http_status()), (ErrorCode::Unauthorized, 401));
    assert!(wechat_push::open(TOKEN, KEY, APPID, "1662480001", "415670741", &sealed.msg_signature, &body).is_err());
}

#[test]
fn the_official_vector_through_the_public_path() {
    let encrypt = "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04=";
    let body = json!({"ToUserName": "gh_97417a04a28d", "Encrypt": encrypt}).to_string();
    let msg = wechat_push::open(
        TOKEN,
        KEY,
        APPID,
        "1714112445",
        "415670741",
        "046e02f8204d34f8ba5fa3b1db94908f3df2e9b3",
        &body,
    )
    .unwrap();
    assert!(
        msg.starts_with(r#"{"ToUserName":"gh_97417a04a28d""#) && msg.ends_with(r#""debug_str":"hello world"}"#),
        "{msg}"
    );
    assert_eq!(msg.len(), 167);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn opening_arbitrary_input_never_panics(
        token in ".{0,8}",
        key in prop_oneof![Just(KEY.to_string()), "[A-Za-z0-9+/]{43}", ".{0,50}"],
        appid in ".{0,20}",
        timestamp in "[0-9]{0,12}",
        nonce in ".{0,12}",
        signature in prop_oneof!["[0-9a-f]{40}", ".{0,44}"],
        body in prop_oneof![".{0,300}", "[A-Za-z0-9+/=]{0,300}".prop_map(|e| format!(r#"{{"Encrypt":"{e}"}}"#))],
    ) {
        let _ = wechat_push::open(&token, &key, &appid, &timestamp, &nonce, &signature, &body);
        let _ = wechat_push::check_url(&token, &timestamp, &nonce, &signature, &body);
    }

    /// A correctly signed push of arbitrary ciphertext (a sender with the token but not the
    /// key) is refused without a panic, however it decrypts.
    #[test]
    fn signed_garbage_is_refused(ciphertext in prop::collection::vec(any::<u8>(), 0..200)) {
        use base64::Engine;
        let encrypt = base64::engine::general_purpose::STANDARD.encode(&ciphertext);
        let sig = wechat_push::signature(&mut [TOKEN, "1", "2", &encrypt]);
        let body = json!({ "Encrypt": encrypt }).to_string();
        prop_assert!(wechat_push::open(TOKEN, KEY, APPID, "1", "2", &sig, &body).is_err());
    }

    /// Whatever the message and appid, sealing then opening gives the message back, and any
    /// changed byte of the body's ciphertext is refused.
    #[test]
    fn seal_and_open_round_trip(message in ".{0,200}", random in any::<[u8; 16]>(), flip in any::<prop::sample::Index>()) {
        let sealed = wechat_push::seal(TOKEN, KEY, APPID, "1714112445", "n", &random, &message).unwrap();
        let opened = wechat_push::open(TOKEN, KEY, APPID, "1714112445", "n", &sealed.msg_signature, &sealed.body("gh")).unwrap();
        prop_assert_eq!(opened, message);
        let mut bytes = sealed.encrypt.into_bytes();
        let i = flip.index(bytes.len());
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let tampered = json!({ "Encrypt": String::from_utf8(bytes).unwrap() }).to_string();
        prop_assert!(wechat_push::open(TOKEN, KEY, APPID, "1714112445", "n", &sealed.msg_signature, &tampered).is_err());
    }
}
