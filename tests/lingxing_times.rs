//! Lingxing's times (UPSTREAMS.md): `after_time` is site time, the marketplace's own clock with
//! its daylight saving; `data_update_time` is Beijing time. Across daylight-saving changes, in
//! their gaps and overlaps, and with no known marketplace.

mod common;

use aftersale::Platform;
use serde_json::{json, Value};

/// One Lingxing page of one record with one line per `(after_time, data_update_time)`.
fn page(seller_country: Option<&str>, times: &[(&str, &str)]) -> String {
    let lines: Vec<Value> = times
        .iter()
        .enumerate()
        .map(|(i, (after, updated))| {
            json!({"item_identifier": format!("line-{i}"), "after_type": "退款", "after_time": after,
                   "data_update_time": updated, "refund_amount": "-1.00", "after_quantity": 1})
        })
        .collect();
    let mut record = json!({"id": 1, "amazon_order_id": "113-0000000-0000000", "item_list": lines});
    if let Some(country) = seller_country {
        record["seller_country"] = json!(country);
    } else {
        record["total_refund_amount_currency_code"] = json!("€");
    }
    json!({"code": 0, "message": "success", "total": 1, "data": [record]}).to_string()
}

fn created(seller_country: Option<&str>, afters: &[&str]) -> Vec<String> {
    let times: Vec<(&str, &str)> = afters.iter().map(|a| (*a, "2024-01-01 00:00:00")).collect();
    let out = common::normalized(Platform::Lingxing, &page(seller_country, &times), false).unwrap();
    out.as_array().unwrap().iter().map(|r| r["created_at"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn us_site_time_across_both_changes_of_2024() {
    let got = created(
        Some("8p-US 美国"),
        &[
            "2024-03-10 01:59:59", // PST, the last second before the jump
            "2024-03-10 02:30:00", // does not exist: read with the offset before (PST)
            "2024-03-10 03:00:00", // PDT
            "2024-11-03 00:59:59", // PDT
            "2024-11-03 01:30:00", // exists twice: the first reading (PDT)
            "2024-11-03 02:00:00", // PST
        ],
    );
    assert_eq!(
        got,
        [
            "2024-03-10T01:59:59-08:00",
            "2024-03-10T02:30:00-08:00",
            "2024-03-10T03:00:00-07:00",
            "2024-11-03T00:59:59-07:00",
            "2024-11-03T01:30:00-07:00",
            "2024-11-03T02:00:00-08:00",
        ]
    );
}

#[test]
fn european_site_times_across_both_changes_of_2024() {
    let de = created(
        Some("DE 德国"),
        &[
            "2024-03-31 01:59:59",
            "2024-03-31 02:30:00",
            "2024-03-31 03:00:00",
            "2024-10-27 02:30:00",
            "2024-10-27 03:00:00",
        ],
    );
    assert_eq!(
        de,
        [
            "2024-03-31T01:59:59+01:00",
            "2024-03-31T02:30:00+01:00", // gap
            "2024-03-31T03:00:00+02:00",
            "2024-10-27T02:30:00+02:00", // overlap: the first reading
            "2024-10-27T03:00:00+01:00",
        ]
    );
    let uk = created(
        Some("UK 英国"),
        &["2024-03-31 00:59:59", "2024-03-31 01:30:00", "2024-10-27 01:30:00", "2024-10-27 02:00:00"],
    );
    assert_eq!(
        uk,
        [
            "2024-03-31T00:59:59+00:00",
            "2024-03-31T01:30:00+00:00",
            "2024-10-27T01:30:00+01:00",
            "2024-10-27T02:00:00+00:00"
        ]
    );
}

#[test]
fn other_marketplaces_have_their_own_clocks() {
    let cases = [
        ("JP 日本", "2024-07-01 12:00:00", "2024-07-01T12:00:00+09:00"),
        ("AU 澳大利亚", "2024-01-15 12:00:00", "2024-01-15T12:00:00+11:00"),
        ("AU 澳大利亚", "2024-07-15 12:00:00", "2024-07-15T12:00:00+10:00"),
        ("BR 巴西", "2019-01-15 12:00:00", "2019-01-15T12:00:00-02:00"),
        ("BR 巴西", "2020-01-15 12:00:00", "2020-01-15T12:00:00-03:00"),
        ("IN 印度", "2024-07-01 12:00:00", "2024-07-01T12:00:00+05:30"),
        ("CA 加拿大", "2024-07-01 12:00:00", "2024-07-01T12:00:00-07:00"),
        ("MX 墨西哥", "2024-01-15 12:00:00", "2024-01-15T12:00:00-08:00"),
        ("TR 土耳其", "2024-01-15 12:00:00", "2024-01-15T12:00:00+03:00"),
        ("EG 埃及", "2024-07-01 12:00:00", "2024-07-01T12:00:00+03:00"),
        ("SA 沙特", "2024-07-01 12:00:00", "2024-07-01T12:00:00+03:00"),
    ];
    for (country, local, expected) in cases {
        assert_eq!(created(Some(country), &[local]), [expected], "{country}");
    }
}

#[test]
fn update_times_are_beijing_time_whatever_the_marketplace() {
    for country in [Some("8p-US 美国"), Some("DE 德国"), None] {
        let body = page(country, &[("2024-03-10 02:30:00", "2024-03-10 18:30:00")]);
        let out = common::normalized(Platform::Lingxing, &body, false).unwrap();
        assert_eq!(out[0]["updated_at"], "2024-03-10T18:30:00+08:00", "{country:?}");
    }
}

#[test]
fn an_unknown_marketplace_leaves_site_times_without_offset() {
    // The currency comes from the symbol; the clock cannot be known.
    assert_eq!(created(None, &["2024-03-10 02:30:00"]), ["2024-03-10T02:30:00"]);
    let body = page(Some("Mars"), &[("2024-07-01 12:00:00", "2024-07-01 20:00:00")]).replace("-1.00", "-€1.00");
    let out = common::normalized(Platform::Lingxing, &body, false).unwrap();
    assert_eq!(out[0]["created_at"], "2024-07-01T12:00:00");
    assert_eq!(out[0]["refunded_at"], "2024-07-01T12:00:00");
    assert_eq!(out[0]["updated_at"], "2024-07-01T20:00:00+08:00");
}

#[test]
fn site_times_are_exact_instants() {
    // 12:00 in Los Angeles on a summer day is 03:00 the next day in Beijing.
    let body = page(Some("US"), &[("2024-07-01 12:00:00", "2024-07-02 03:00:00")]);
    let out = common::normalized(Platform::Lingxing, &body, false).unwrap();
    let instant = |s: &str| {
        let t = aftersale::Timestamp::parse_local(&s[..19], None).unwrap().unwrap();
        let sign = if &s[19..20] == "-" { -1 } else { 1 };
        let offset = sign * (s[20..22].parse::<i16>().unwrap() * 60 + s[23..25].parse::<i16>().unwrap());
        aftersale::Timestamp { offset_minutes: Some(offset), ..t }.unix().unwrap()
    };
    assert_eq!(instant(out[0]["created_at"].as_str().unwrap()), instant(out[0]["updated_at"].as_str().unwrap()));
}
