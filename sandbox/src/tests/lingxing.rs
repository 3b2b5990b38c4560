//! Lingxing's list: half-open ranges, filters, signature and errors.

use super::*;

/// Walks every Lingxing page of `[from, to)`; checks each normalizes; returns the records.
fn walk_lingxing(from: Date, to: Date, field: DateField, length: u32) -> Vec<Value> {
    let mut all = Vec::new();
    let mut offset = 0;
    loop {
        let resp = answer(&lingxing_req(from, to, field, offset, length), NOW);
        let page = normalize_page(Platform::Lingxing, &resp.body, NormalizeOptions::default())
            .unwrap_or_else(|e| panic!("offset {offset}: {e}"));
        normalize_page(Platform::Lingxing, &resp.body, RAW).unwrap();
        let v = json(&resp);
        assert_eq!(v["code"], 0, "{v}");
        let data = v["data"].as_array().unwrap().clone();
        assert_eq!(page.upstream_count, data.len());
        let lines: usize = data.iter().map(|r| r["item_list"].as_array().unwrap().len()).sum();
        assert_eq!(page.records.len(), lines);
        let total = v["total"].as_u64().unwrap();
        offset += data.len() as u64;
        all.extend(data);
        if offset >= total {
            assert_eq!(all.len() as u64, total);
            break;
        }
    }
    all
}

fn line_key(line: &Value) -> String {
    match line.get("item_identifier").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => format!("v2:{}", line["md5_v2"].as_str().unwrap()),
    }
}

#[test]
fn lingxing_every_record_once() {
    let expected_lines = lingxing_lines();
    for (field, key) in [(DateField::Created, "deal_time"), (DateField::Updated, "gmt_modified")] {
        let records = walk_lingxing(from(), to(), field, 45);
        assert_eq!(records.len(), lingxing_skels().len());
        let mut orders = BTreeSet::new();
        let mut lines = BTreeSet::new();
        let mut prev: Option<String> = None;
        for r in &records {
            assert!(orders.insert(r["amazon_order_id"].as_str().unwrap().to_string()), "order twice");
            for l in r["item_list"].as_array().unwrap() {
                assert!(lines.insert(line_key(l)), "line key twice: {}", line_key(l));
            }
            let t = r[key].as_str().unwrap().to_string();
            if let Some(p) = &prev {
                assert!(p >= &t, "not newest first");
            }
            prev = Some(t);
        }
        assert_eq!(lines.len(), expected_lines);
    }
    // `data[].id` is not unique, as documented.
    let records = walk_lingxing(from(), to(), DateField::Created, 1000);
    let ids: BTreeSet<i64> = records.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert!(ids.len() < records.len());
    // Some lines are keyed by md5_v2 only.
    let v2_only = records
        .iter()
        .flat_map(|r| r["item_list"].as_array().unwrap().iter())
        .filter(|l| l.get("item_identifier").and_then(Value::as_str).is_none_or(str::is_empty))
        .count();
    assert!(v2_only > 20, "{v2_only}");
}

#[test]
fn lingxing_range_is_half_open() {
    let s = lingxing_skels()[5];
    let day = day_of(s.site(s.deal));
    let order = s.amazon_order_id();
    let has = |a: Date, b: Date| -> bool {
        let v = json(&answer(&lingxing_req(a, b, DateField::Created, 0, 1000), NOW));
        assert_eq!(v["code"], 0, "{v}");
        v["data"].as_array().unwrap().iter().any(|r| r["amazon_order_id"] == order.as_str())
    };
    assert!(has(day, day.add_days(1)));
    assert!(has(day.add_days(-2), day.add_days(1)));
    assert!(!has(day.add_days(-2), day), "end_date is excluded");
    assert!(!has(day.add_days(1), day.add_days(3)));
    let v = json(&answer(&lingxing_req(day, day, DateField::Created, 0, 1000), NOW));
    assert_eq!(v["total"], 0);
}

#[test]
fn lingxing_filters() {
    for (after_type, name) in [("1", "退款"), ("2", "退货"), ("3", "换货")] {
        let v = json(&answer(
            &lingxing_body(
                serde_json::json!({"start_date": from(), "end_date": to(), "date_type": 1,
                    "offset": 0, "length": 1000, "after_type": after_type}),
                NOW / 1000,
            ),
            NOW,
        ));
        let data = v["data"].as_array().unwrap();
        assert!(!data.is_empty());
        assert_eq!(v["total"], data.len());
        for r in data {
            assert!(r["item_list"].as_array().unwrap().iter().any(|l| l["after_type"] == name));
        }
    }
    let order = lingxing_skels()[42].amazon_order_id();
    let req = LingxingAfterSaleList {
        from: from(),
        to: to(),
        date_field: DateField::Created,
        offset: 0,
        length: 100,
        kind: None,
        amazon_order_id: Some(order.clone()),
    }
    .to_request(SANDBOX_BASE_URL, SANDBOX_LINGXING_APP_ID, TOKEN, NOW / 1000)
    .unwrap();
    let v = json(&answer(&req, NOW));
    assert_eq!(v["total"], 1);
    assert_eq!(v["data"][0]["amazon_order_id"], order.as_str());
}

#[test]
fn lingxing_error_envelopes() {
    let good = lingxing_req(from(), to(), DateField::Created, 0, 10);
    let code = |req: &Request| -> i64 {
        let resp = answer(req, NOW);
        let v = json(&resp);
        if v["code"] != 0 {
            assert_eq!(v["data"], serde_json::json!([]));
            assert_eq!(v["total"], 0);
            let err = normalize_page(Platform::Lingxing, &resp.body, NormalizeOptions::default()).unwrap_err();
            assert_eq!(upstream_code(err), v["code"].to_string());
        }
        v["code"].as_i64().unwrap()
    };
    assert_eq!(code(&good), 0);
    let mut tampered = good.clone();
    tampered.body =
        format!(r#"{{"start_date":"{}","end_date":"{}","date_type":1,"offset":0,"length":11}}"#, from(), to())
            .into_bytes();
    assert_eq!(code(&tampered), 2001006, "a body that is not the signed one");
    let mut no_sign = good.clone();
    no_sign.url = good.url.split("&sign=").next().unwrap().to_string();
    assert_eq!(code(&no_sign), 3001001);
    let stale = lingxing_req(from(), to(), DateField::Created, 0, 10);
    assert!(answer(&stale, NOW + 121_000).body.contains("2001007"));
    let too_long = lingxing_body(
        serde_json::json!({"start_date": from(), "end_date": to(), "offset": 0, "length": 6000}),
        NOW / 1000,
    );
    assert_eq!(code(&too_long), 102);
    let missing = lingxing_body(serde_json::json!({"end_date": to()}), NOW / 1000);
    assert_eq!(code(&missing), 102);
    assert!(answer(&missing, NOW).body.contains("start_date"));
    let bad_type =
        lingxing_body(serde_json::json!({"start_date": from(), "end_date": to(), "after_type": "4"}), NOW / 1000);
    assert_eq!(code(&bad_type), 102);
    let mut get = good.clone();
    get.method = Method::Get;
    assert_eq!(answer(&get, NOW).status, 405);
}
