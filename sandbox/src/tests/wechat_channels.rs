//! The Channels sandbox through the core: the real request builders, the id walk and the
//! normalizer against `answer`, compared with the data set itself.

use std::collections::BTreeMap;

use aftersale::call::Call;
use aftersale::paginate::{china_midnight_s, IdWalk};
use aftersale::wechat_channels::request::{ChannelsAfterSaleGet, ChannelsAfterSaleList, TimeField};

use super::*;
use crate::wechat_channels::c_id;

fn account() -> Account {
    sandbox_account(Platform::WechatChannels).unwrap()
}

fn send(spec: &aftersale::call::CallSpec) -> Response {
    send_at(NOW, spec)
}

fn send_at(now: u64, spec: &aftersale::call::CallSpec) -> Response {
    let request = spec.to_request(&account(), TOKEN, now).unwrap();
    answer(&request, now)
}

/// Walks `[from, to)` by `field` as the proxy does; returns id → update time (unix seconds).
fn walk(field: DateField, from: Date, to: Date) -> (BTreeMap<String, i64>, usize) {
    let (records, lists) = walk_at(NOW, field, from, to);
    (records.into_iter().map(|(id, r)| (id, super::living::instant_seconds(&r, "updated_at"))).collect(), lists)
}

/// Walks `[from, to)` by `field` at `now` as the proxy does; returns id → normalized record.
pub(super) fn walk_at(now: u64, field: DateField, from: Date, to: Date) -> (BTreeMap<String, Value>, usize) {
    let mut q = ListQuery::new(Platform::WechatChannels, from, to);
    q.date_field = field;
    let mut walk = IdWalk::for_export(q).unwrap();
    let mut out = BTreeMap::new();
    let mut lists = 0;
    while let Some(list) = walk.next_list_call() {
        lists += 1;
        let body = send_at(now, &list).body;
        let ids = Platform::WechatChannels.upstream().parse_ids(&body).unwrap().into_owned();
        for lookup in walk.handle_ids(ids) {
            assert!(matches!(lookup.call, Call::Lookup(_)));
            let resp = send_at(now, &lookup);
            let page = normalize_page(Platform::WechatChannels, &resp.body, NormalizeOptions::default()).unwrap();
            for r in page.records {
                if let Some(r) = walk.accept_detail(r) {
                    let v = serde_json::to_value(&r).unwrap();
                    assert!(out.insert(r.aftersale_id.to_string(), v).is_none(), "{} twice", r.aftersale_id);
                }
            }
        }
    }
    (out, lists)
}

fn expected(field: DateField, from: Date, to: Date) -> BTreeMap<String, i64> {
    let (b, e) = (china_midnight_s(from), china_midnight_s(to));
    channels_skels(NOW)
        .into_iter()
        .filter(|s| (b..e).contains(&if field == DateField::Updated { s.update } else { s.create }))
        .map(|s| (c_id(s.index), s.update))
        .collect()
}

#[test]
fn a_walk_of_the_whole_range_gives_every_record_once_by_either_time() {
    for field in [DateField::Created, DateField::Updated] {
        let (got, lists) = walk(field, from(), to());
        assert_eq!(got.len(), channels_skels(NOW).len(), "{field:?}: every record lies in the range");
        assert_eq!(got, expected(field, from(), to()), "{field:?}");
        assert!(lists as i64 >= SPAN_DAYS, "one window a day at least");
    }
    // A part of the range: exactly the records in it.
    let (a, b) = (from().add_days(30), from().add_days(61));
    assert_eq!(walk(DateField::Updated, a, b).0, expected(DateField::Updated, a, b));
}

#[test]
fn the_data_holds_every_status_midnights_and_ids_beyond_2_pow_53() {
    let skels = channels_skels(NOW);
    assert!((220..260).contains(&skels.len()), "about 240 records: {}", skels.len());
    let mut statuses = BTreeMap::new();
    for s in &skels {
        let body = send(&aftersale::call::CallSpec::lookup(
            Platform::WechatChannels,
            aftersale::upstream::Lookup::AfterSale { aftersale_id: c_id(s.index) },
        ))
        .body;
        let page = normalize_page(Platform::WechatChannels, &body, RAW).unwrap();
        let r = &page.records[0];
        assert_eq!(r.aftersale_id, c_id(s.index));
        assert!(c_id(s.index).parse::<u64>().unwrap() > 1 << 53);
        assert_ne!(r.status, Status::Unknown, "{:?}", r.status_raw);
        *statuses.entry(format!("{:?}", r.status_raw)).or_insert(0) += 1;
        // Within the range, never in the future.
        assert!(s.create >= china_midnight_s(from()) && s.update <= (NOW / 1000) as i64 && s.update >= s.create);
    }
    assert_eq!(statuses.len(), 23, "every status of the table");
    assert!(skels.iter().filter(|s| (s.create + 8 * 3600) % 86_400 == 0).count() >= 5, "records on midnights");
}

#[test]
fn windows_over_a_day_ids_as_numbers_and_unknown_ids_are_refused() {
    let url = |path: &str| format!("{SANDBOX_BASE_URL}{path}?access_token={TOKEN}");
    let post = |path: &str, body: &str| Request {
        method: Method::Post,
        url: url(path),
        headers: Vec::new(),
        body: body.as_bytes().to_vec(),
    };
    let code = |r: Response| json(&r)["errcode"].as_i64().unwrap();
    let begin = china_midnight_s(from());
    let list = "/channels/ec/aftersale/getaftersalelist";
    let body = format!(r#"{{"begin_update_time":{begin},"end_update_time":{}}}"#, begin + 86_401);
    assert_eq!(code(answer(&post(list, &body), NOW)), 10020004);
    let body = format!(
        r#"{{"begin_update_time":{begin},"end_update_time":{},"begin_create_time":1,"end_create_time":2}}"#,
        begin + 10
    );
    assert_eq!(code(answer(&post(list, &body), NOW)), 47001);
    let body = format!(r#"{{"begin_update_time":{begin},"end_update_time":{},"next_key":"forged"}}"#, begin + 10);
    assert_eq!(code(answer(&post(list, &body), NOW)), 47001);
    let detail = "/channels/ec/aftersale/getaftersaleorder";
    assert_eq!(code(answer(&post(detail, &format!(r#"{{"after_sale_order_id":{}}}"#, c_id(1))), NOW)), 47001);
    assert_eq!(code(answer(&post(detail, r#"{"after_sale_order_id":"1"}"#), NOW)), 10021050);
    let gone = ChannelsAfterSaleGet { after_sale_order_id: "99".into() }.to_request(SANDBOX_BASE_URL, TOKEN).unwrap();
    let e = normalize_page(Platform::WechatChannels, &answer(&gone, NOW).body, RAW).unwrap_err();
    assert!(Platform::WechatChannels.upstream().is_gone(&upstream_code(e)));
    // The core's own builder never sends such a window.
    let long =
        ChannelsAfterSaleList { field: TimeField::Updated, begin_s: begin, end_s: begin + 86_401, next_key: None };
    assert!(long.to_request(SANDBOX_BASE_URL, TOKEN).is_err());
    // No token: 41001.
    let mut no_token = post(detail, r#"{"after_sale_order_id":"1"}"#);
    no_token.url = format!("{SANDBOX_BASE_URL}{detail}");
    assert_eq!(code(answer(&no_token, NOW)), 41001);
}
