//! Xiaoe's list: windows, both-ends-inclusive ranges, errors, orders with two after-sales.

use super::*;

#[test]
fn xiaoe_every_record_once_per_date_field() {
    for field in [DateField::Created, DateField::Updated, DateField::Refunded] {
        let mut seen = BTreeMap::new();
        for (wfrom, wto) in xiaoe_windows() {
            let records = walk_xiaoe(wfrom, wto, field, 37);
            let key = match field {
                DateField::Created => "created_at",
                DateField::Updated => "updated_at",
                DateField::Refunded => "refund_time",
            };
            let mut prev: Option<(String, String)> = None;
            for r in &records {
                let t = r[key].as_str().unwrap().to_string();
                let id = r["aftersale_id"].as_str().unwrap().to_string();
                let day = date(&t[..10]);
                assert!(wfrom <= day && day < wto, "{t} outside [{wfrom}, {wto})");
                if let Some((pt, pid)) = &prev {
                    assert!(pt > &t || (pt == &t && pid < &id), "not newest first: {pt} {pid} then {t} {id}");
                }
                assert!(seen.insert(id.clone(), ()).is_none(), "{id} twice");
                prev = Some((t, id));
            }
        }
        let expected = xiaoe_skels().iter().filter(|s| s.date(xiaoe_field(field)).is_some()).count();
        assert_eq!(seen.len(), expected, "{field:?}");
        if field != DateField::Refunded {
            assert_eq!(seen.len(), xiaoe_skels().len());
        } else {
            assert!(expected > 100, "refunded records: {expected}");
        }
    }
}

#[test]
fn xiaoe_range_is_inclusive_both_ends() {
    let s = xiaoe_skels()[17];
    let day = day_of(s.created);
    let id = s.aftersale_id();
    let ids = |range: String| -> Vec<String> {
        let v = json(&xiaoe_raw(serde_json::json!({
            "access_token": TOKEN, "page_size": 100, "page_index": 1, "created_at": range, "date_type": "created_at"
        })));
        assert_eq!(v["code"], 0, "{v}");
        v["data"]["list"].as_array().unwrap().iter().map(|r| r["aftersale_id"].as_str().unwrap().to_string()).collect()
    };
    assert!(ids(format!("{day}||{day}")).contains(&id));
    assert!(ids(format!("{}||{day}", day.add_days(-3))).contains(&id), "the last day is included");
    assert!(ids(format!("{day}||{}", day.add_days(3))).contains(&id), "the first day is included");
    assert!(!ids(format!("{}||{}", day.add_days(-3), day.add_days(-1))).contains(&id));
    assert!(!ids(format!("{}||{}", day.add_days(1), day.add_days(3))).contains(&id));
    // The core's half-open [day, day+1) arrives as day||day.
    let resp = answer(&xiaoe_req(day, day.add_days(1), DateField::Created, 1, 100), NOW);
    let page = aftersale::normalize(Platform::Xiaoe, &resp.body).unwrap();
    assert!(page.iter().any(|r| r.aftersale_id == id));
    assert!(page.iter().all(|r| r.created_at.unwrap().date == day));
    // A 31-day window both ends included is allowed; 32 days is not.
    let ok31 = xiaoe_raw(serde_json::json!({
        "access_token": TOKEN, "page_size": 10, "page_index": 1,
        "created_at": format!("{}||{}", from().add_days(40), from().add_days(70))
    }));
    assert_eq!(json(&ok31)["code"], 0);
}

#[test]
fn xiaoe_error_envelopes() {
    let (d0, d9, d31) = (from().add_days(40), from().add_days(49), from().add_days(71));
    let base = serde_json::json!({
        "access_token": TOKEN, "page_size": 10, "page_index": 1, "created_at": format!("{d0}||{d9}")
    });
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let cases = [
        (with("page_size", 101.into()), 2002, "page_size"),
        (with("page_size", 0.into()), 2002, "page_size"),
        (with("page_index", 0.into()), 2002, "page_index"),
        (with("created_at", format!("{d0}||{d31}").into()), 2002, "created_at"),
        (with("created_at", format!("{d9}||{d0}").into()), 2002, "created_at"),
        (with("created_at", "yesterday".into()), 2002, "created_at"),
        (with("date_type", "paid_at".into()), 2002, "date_type"),
        (with("access_token", "".into()), 2007, "access_token"),
    ];
    for (body, code, names) in cases {
        let resp = xiaoe_raw(body.clone());
        let v = json(&resp);
        assert_eq!(v["code"], code, "{body} -> {v}");
        assert!(v["msg"].as_str().unwrap().contains(names), "{v}");
        let err = normalize_page(Platform::Xiaoe, &resp.body, NormalizeOptions::default()).unwrap_err();
        assert_eq!(upstream_code(err), code.to_string());
    }
    let mut get = xiaoe_req(from(), from().add_days(5), DateField::Created, 1, 10);
    get.method = Method::Get;
    assert_eq!(json(&answer(&get, NOW))["code"], 2055);
    // The core's own request with a page too large is refused the same way.
    let resp = answer(&xiaoe_req(from(), from().add_days(5), DateField::Created, 1, 101), NOW);
    assert_eq!(json(&resp)["code"], 2002);
    // An unknown path.
    let mut other = get.clone();
    other.url = format!("{SANDBOX_BASE_URL}/nowhere");
    assert_eq!(answer(&other, NOW).status, 404);
}

#[test]
fn xiaoe_order_filter_and_shared_orders() {
    let mut by_order: BTreeMap<String, Vec<XSkel>> = BTreeMap::new();
    for s in xiaoe_skels() {
        by_order.entry(s.order_id()).or_default().push(s);
    }
    let shared: Vec<_> = by_order.iter().filter(|(_, v)| v.len() > 1).collect();
    assert!(shared.len() >= 10, "orders with two after-sales: {}", shared.len());
    let (order_id, members) = shared[0];
    let (first, last) = (members[0], *members.last().unwrap());
    let range = format!("{}||{}", day_of(first.created), day_of(first.created).add_days(30));
    let v = json(&xiaoe_raw(serde_json::json!({
        "access_token": TOKEN, "page_size": 100, "page_index": 1, "created_at": range, "order_id": order_id
    })));
    let list = v["data"]["list"].as_array().unwrap();
    assert!(list.iter().all(|r| r["order_id"] == order_id.as_str()));
    assert_eq!(v["data"]["row_count"], list.len());
    if day_of(last.created) <= day_of(first.created).add_days(30) {
        assert_eq!(list.len(), members.len());
    }
    assert!(!list.is_empty());
}
