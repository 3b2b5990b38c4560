use std::collections::{BTreeMap, BTreeSet};

use aftersale::error::UpstreamError;
use aftersale::lingxing::request::{signed_post, LingxingAfterSaleList, LIST_PATH};
use aftersale::model::{OrderStatus, StatusRaw};
use aftersale::paginate::Pager;
use aftersale::query::{DateField, ListQuery};
use aftersale::token::{parse_grant, TokenManager, TokenPoll};
use aftersale::wechat::request::{OrderRef, WechatShopAfterSales, WechatStoreOrderGet};
use aftersale::xiaoe::request::XiaoeAfterSaleList;
use aftersale::{normalize_order, normalize_page, Error, NormalizeOptions, Platform, Status};

use aftersale::http::Method;
use serde_json::Value;

use super::*;
use crate::calendar::{day_of, Calendar};
use crate::lingxing::LSkel;
use crate::request::{form_decode, split_url};
use crate::wechat_channels::CSkel;
use crate::xiaoe::{select, XDateField, XQuery, XSkel};

mod calendar;
mod lingxing;
mod living;
mod wechat;
mod wechat_channels;
mod xiaoe;

/// 2025-10-09T08:53:20Z.
const NOW: u64 = 1_760_000_000_000;
const TOKEN: &str = "sandbox-test-token";
const RAW: NormalizeOptions = NormalizeOptions { include_raw: true, now_unix_s: None };

fn date(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn cal() -> Calendar {
    Calendar::at(NOW)
}

/// The first day of the data at [`NOW`] (2025-03-13).
fn from() -> Date {
    range(NOW).from
}

/// The day after the last day of the data at [`NOW`] (2025-10-10, the day after `NOW`).
fn to() -> Date {
    range(NOW).to
}

/// The Xiaoe records that exist at [`NOW`].
fn xiaoe_skels() -> Vec<XSkel> {
    crate::xiaoe::skeletons(cal()).collect()
}

/// The Lingxing records that exist at [`NOW`].
fn lingxing_skels() -> Vec<LSkel> {
    crate::lingxing::skeletons(cal()).collect()
}

/// The Channels records that exist at `now`.
fn channels_skels(now: u64) -> Vec<CSkel> {
    crate::wechat_channels::skeletons(Calendar::at(now)).collect()
}

/// After-sale lines of the Lingxing records at [`NOW`] (each line is one normalized record).
fn lingxing_lines() -> usize {
    lingxing_skels().iter().map(|s| s.lines.len()).sum()
}

fn json(r: &Response) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.body))
}

fn upstream_code(e: Error) -> String {
    match e {
        Error::Upstream(UpstreamError { code, .. }) => code,
        other => panic!("expected an upstream error, got {other:?}"),
    }
}

fn xiaoe_req(from: Date, to: Date, date_field: DateField, page_index: u64, page_size: u32) -> Request {
    XiaoeAfterSaleList { from, to, date_field, page_index, page_size, order_id: None }
        .to_request(SANDBOX_BASE_URL, TOKEN)
}

fn xiaoe_raw(body: Value) -> Response {
    let req = Request {
        method: Method::Post,
        url: format!("{SANDBOX_BASE_URL}/xe.ecommerce.after_sale.list/1.0.0"),
        headers: vec![("content-type", "application/json".into())],
        body: serde_json::to_vec(&body).unwrap(),
    };
    answer(&req, NOW)
}

fn lingxing_req(from: Date, to: Date, date_field: DateField, offset: u64, length: u32) -> Request {
    LingxingAfterSaleList { from, to, date_field, offset, length, kind: None, amazon_order_id: None }
        .to_request(SANDBOX_BASE_URL, SANDBOX_LINGXING_APP_ID, TOKEN, NOW / 1000)
        .unwrap()
}

fn lingxing_body(body: Value, now_s: u64) -> Request {
    let Value::Object(map) = body else { panic!("object expected") };
    signed_post(SANDBOX_BASE_URL, LIST_PATH, map, SANDBOX_LINGXING_APP_ID, TOKEN, now_s).unwrap()
}

/// Every 31-day window of `[from, to)` as the core sends it (newest first).
fn xiaoe_windows() -> Vec<(Date, Date)> {
    let mut out = Vec::new();
    let mut end = to();
    while end > from() {
        let start = end.add_days(-31).max(from());
        out.push((start, end));
        end = start;
    }
    out
}

/// Walks every page of one Xiaoe window; checks each page normalizes (plain and raw) and
/// returns the ids and raw records in order.
fn walk_xiaoe(from: Date, to: Date, field: DateField, page_size: u32) -> Vec<Value> {
    let mut all = Vec::new();
    let mut total = None;
    for page_index in 1.. {
        let resp = answer(&xiaoe_req(from, to, field, page_index, page_size), NOW);
        let page = normalize_page(Platform::Xiaoe, &resp.body, NormalizeOptions::default())
            .unwrap_or_else(|e| panic!("page {page_index} of {from}..{to}: {e}"));
        normalize_page(Platform::Xiaoe, &resp.body, RAW).unwrap();
        let v = json(&resp);
        let list = v["data"]["list"].as_array().unwrap().clone();
        assert_eq!(page.records.len(), list.len());
        let row_count = v["data"]["row_count"].as_u64().unwrap();
        assert_eq!(*total.get_or_insert(row_count), row_count, "row_count changed between pages");
        assert_eq!(page.total, Some(row_count));
        if list.is_empty() {
            break;
        }
        assert!(list.len() <= page_size as usize);
        all.extend(list);
    }
    assert_eq!(all.len() as u64, total.unwrap());
    all
}

fn xiaoe_field(field: DateField) -> XDateField {
    match field {
        DateField::Created => XDateField::Created,
        DateField::Updated => XDateField::Updated,
        DateField::Refunded => XDateField::Refunded,
    }
}

#[test]
fn determinism_same_request_same_bytes() {
    let orders = sandbox_orders(NOW);
    let SandboxOrder { order_id, openid, .. } = &orders[0];
    let requests = vec![
        xiaoe_req(from().add_days(40), from().add_days(71), DateField::Created, 2, 50),
        lingxing_req(from(), to(), DateField::Updated, 20, 40),
        WechatShopAfterSales { order: OrderRef::OrderId(order_id.clone()), openid: openid.clone() }
            .to_request(SANDBOX_BASE_URL, TOKEN),
        WechatStoreOrderGet { order_id: order_id.clone() }.to_request(SANDBOX_BASE_URL, TOKEN),
    ];
    for req in &requests {
        let a = answer(req, NOW);
        let b = answer(req, NOW);
        assert_eq!(a, b, "{req:?}");
        assert_eq!(a.status, 200);
    }
}

#[test]
fn tokens_through_the_core() {
    for platform in [Platform::WechatShop, Platform::Xiaoe, Platform::Lingxing] {
        let account = sandbox_account(platform).expect("simulated");
        let mut tokens = TokenManager::new(account.clone());
        let TokenPoll::Fetch(req) = tokens.poll(NOW) else { panic!("fetch expected") };
        let resp = answer(&req, NOW);
        let grant = parse_grant(platform.upstream(), &resp.body).unwrap();
        assert!(!grant.access_token.is_empty());
        assert_eq!(grant.expires_in_s, if platform == Platform::Lingxing { 7199 } else { 7200 });
        assert_eq!(grant.refresh_token.is_some(), platform == Platform::Lingxing);
        tokens.handle_response(NOW, &resp).unwrap();
        let generation = tokens.current().unwrap().generation;
        // A rejected token is fetched anew (Lingxing: with the refresh token).
        assert!(tokens.invalidate(generation));
        let TokenPoll::Fetch(again) = tokens.poll(NOW + 1000) else { panic!("fetch expected") };
        if platform == Platform::Lingxing {
            assert!(again.url.ends_with("/api/auth-server/oauth/refresh"));
        }
        tokens.handle_response(NOW + 1000, &answer(&again, NOW + 1000)).unwrap();
        assert!(matches!(tokens.poll(NOW + 2000), TokenPoll::Ready(_)));
    }
    // The classic WeChat token too.
    let mut tokens = TokenManager::new(sandbox_account(Platform::WechatShop).expect("simulated"));
    tokens.prefer_fallback_token();
    let TokenPoll::Fetch(req) = tokens.poll(NOW) else { panic!("fetch expected") };
    assert!(req.url.contains("/cgi-bin/token?"));
    tokens.handle_response(NOW, &answer(&req, NOW)).unwrap();
    // Missing credentials are refused.
    let bad = aftersale::xiaoe::request::token_request(SANDBOX_BASE_URL, "", "c", "s");
    assert_eq!(json(&answer(&bad, NOW))["code"], 2002);
}

/// Drives the core's pager over the whole data set, as the Worker's export does.
fn drive(platform: Platform, field: DateField, limit: u32, export: bool) -> Vec<String> {
    let mut query = ListQuery::new(platform, from(), to());
    query.date_field = field;
    query.limit = limit;
    let records = drive_at(NOW, query, export);
    records.iter().map(|r| r["aftersale_id"].as_str().unwrap().to_string()).collect()
}

/// Every record of `query` through the core's pager, at `now`, as normalized JSON.
fn drive_at(now: u64, query: ListQuery, export: bool) -> Vec<Value> {
    let platform = query.platform;
    let account = sandbox_account(platform).expect("simulated");
    let mut pager = if export { Pager::for_export(query).unwrap() } else { Pager::new(query).unwrap() };
    let mut records = Vec::new();
    let mut calls = 0;
    while let Some(spec) = pager.next_call() {
        calls += 1;
        assert!(calls < 1000, "runaway pagination");
        let req = spec.to_request(&account, TOKEN, now).unwrap();
        assert!(matches!(spec.call, aftersale::call::Call::ListPage(_)));
        let resp = answer(&req, now);
        let page = normalize_page(platform, &resp.body, NormalizeOptions::default())
            .unwrap_or_else(|e| panic!("{platform:?} call {calls}: {e}"));
        records.extend(pager.handle_page(page).iter().map(|r| serde_json::to_value(r).unwrap()));
    }
    records
}

#[test]
fn the_core_pager_sees_every_record_once() {
    let lines = lingxing_lines();
    let xiaoe = xiaoe_skels().len();
    assert!((550..650).contains(&xiaoe), "about 600 Xiaoe records: {xiaoe}");
    for (platform, field, limit, export, expected) in [
        (Platform::Xiaoe, DateField::Created, 50, false, xiaoe),
        (Platform::Xiaoe, DateField::Updated, 100, true, xiaoe),
        (Platform::Lingxing, DateField::Created, 30, false, lines),
        (Platform::Lingxing, DateField::Updated, 100, true, lines),
    ] {
        let ids = drive(platform, field, limit, export);
        let unique: BTreeSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{platform:?} {field:?}: repeats");
        assert_eq!(ids.len(), expected, "{platform:?} {field:?}");
    }
}

#[test]
fn coverage_of_statuses_kinds_and_money() {
    let mut statuses = BTreeSet::new();
    let mut xiaoe_codes = BTreeSet::new();
    let mut xiaoe_kinds = BTreeSet::new();
    let mut name_only = 0;
    for (wfrom, wto) in xiaoe_windows() {
        let resp = answer(&xiaoe_req(wfrom, wto, DateField::Created, 1, 100), NOW);
        for p in 1.. {
            let resp =
                if p == 1 { resp.clone() } else { answer(&xiaoe_req(wfrom, wto, DateField::Created, p, 100), NOW) };
            let page = normalize_page(Platform::Xiaoe, &resp.body, NormalizeOptions::default()).unwrap();
            if page.records.is_empty() {
                break;
            }
            name_only +=
                json(&resp)["data"]["list"].as_array().unwrap().iter().filter(|r| r.get("sale_type").is_none()).count();
            for r in &page.records {
                statuses.insert(r.status.as_str());
                xiaoe_kinds.insert(r.kind.as_str());
                if let Some(StatusRaw::Number(n)) = r.status_raw {
                    xiaoe_codes.insert(n);
                }
                assert_eq!(r.overdue, matches!(r.status_raw, Some(StatusRaw::Number(3 | 12))));
                let refund = r.refund.as_ref().unwrap();
                assert_eq!(refund.currency.code, "CNY");
                assert!(refund.minor >= 0);
                assert!(!r.items.is_empty());
                assert!(r.created_at.is_some() && r.updated_at.is_some());
            }
        }
    }
    assert_eq!(statuses.len(), Status::ALL.len(), "xiaoe statuses: {statuses:?}");
    assert_eq!(xiaoe_codes, (0..=19).collect());
    assert_eq!(xiaoe_kinds.len(), 3);
    assert!(name_only > xiaoe_skels().len() / 10, "records without sale_type: {name_only}");

    let resp = answer(&lingxing_req(from(), to(), DateField::Created, 0, 1000), NOW);
    let page = normalize_page(Platform::Lingxing, &resp.body, NormalizeOptions::default()).unwrap();
    let lx_statuses: BTreeSet<&str> = page.records.iter().map(|r| r.status.as_str()).collect();
    for s in [
        Status::Pending,
        Status::AwaitingBuyerReturn,
        Status::AwaitingMerchantReceipt,
        Status::Refunding,
        Status::Completed,
        Status::Rejected,
        Status::Cancelled,
        Status::Closed,
        Status::Unknown,
    ] {
        assert!(lx_statuses.contains(s.as_str()), "lingxing lacks {s:?}");
    }
    let lx_kinds: BTreeSet<&str> = page.records.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(lx_kinds.len(), 3);
    let currencies: BTreeSet<_> =
        page.records.iter().filter_map(|r| r.refund.as_ref()).map(|m| m.currency.code).collect();
    assert_eq!(currencies, BTreeSet::from(["EUR", "GBP", "USD"]));
    let decimals: BTreeSet<usize> = page
        .records
        .iter()
        .filter_map(|r| r.refund.as_ref())
        .map(|m| m.decimal_string().split('.').nth(1).map_or(0, str::len))
        .collect();
    assert_eq!(decimals, BTreeSet::from([2, 3, 4, 6]));
    assert!(page.records.iter().any(|r| r.refund.is_none()));
    assert!(page.records.iter().any(|r| r.return_logistics.is_some()));
    assert!(page.records.iter().any(|r| r.exchange_order_id.is_some()));
    for market in ["\"8p-US 美国\"", "\"UK 英国\"", "\"DE 德国\"", "\"FR 法国\""] {
        assert!(resp.body.contains(market));
    }
    assert!(resp.body.contains("\"refund_amount\":\"\""));
    statuses.extend(lx_statuses.iter().copied());
    assert_eq!(statuses.len(), Status::ALL.len());
}

#[test]
fn routing_ignores_hosts_and_prefixes() {
    assert_eq!(route("/token"), Some(Endpoint::XiaoeToken));
    assert_eq!(route("/cgi-bin/token"), Some(Endpoint::WechatToken));
    assert_eq!(route("/xiaoe/token"), Some(Endpoint::XiaoeToken));
    assert_eq!(route("/wechat/cgi-bin/token"), Some(Endpoint::WechatToken));
    assert_eq!(route("/cgi-bin/stable_token"), Some(Endpoint::WechatStableToken));
    assert_eq!(route("/x"), None);
    assert_eq!(split_url("http://127.0.0.1:9/a/b?x=1#f"), ("/a/b", "x=1"));
    assert_eq!(split_url("https://h?x=1"), ("/", "x=1"));
    assert_eq!(split_url("/p"), ("/p", ""));
    assert_eq!(form_decode("a%2Bb+c%3D%zz"), "a+b c=%zz");
    assert_eq!(form_decode("%E5%B0%8F%e9%b9%85+%"), "小鹅 %");
    assert_eq!(form_decode("%FF"), "\u{fffd}", "bytes that are not UTF-8 are replaced, not a panic");
}

/// Timings, printed (`cargo test --release pages_are_cheap -- --nocapture`); the best of
/// several runs, since test machines are shared.
#[test]
fn pages_are_cheap() {
    fn best(mut f: impl FnMut()) -> std::time::Duration {
        (0..15)
            .map(|_| {
                let t = std::time::Instant::now();
                f();
                t.elapsed()
            })
            .min()
            .unwrap()
    }
    let xiaoe_req = xiaoe_req(from().add_days(60), from().add_days(91), DateField::Updated, 1, 100);
    let xiaoe = best(|| assert_eq!(answer(&xiaoe_req, NOW).status, 200));
    let lx_req = lingxing_req(from(), to(), DateField::Created, 0, 1000);
    let lx_page = lingxing_req(from(), to(), DateField::Created, 100, 100);
    let lingxing = best(|| assert_eq!(answer(&lx_req, NOW).status, 200));
    let lingxing_100 = best(|| assert_eq!(answer(&lx_page, NOW).status, 200));
    let body = answer(&lx_req, NOW).body;
    let core = best(|| {
        normalize_page(Platform::Lingxing, &body, NormalizeOptions::default()).unwrap();
    });
    let select = best(|| {
        select(
            cal(),
            &XQuery {
                from_day: cal().first_day,
                to_day_inclusive: cal().first_day + 30,
                field: XDateField::Created,
                page_index: 1,
                page_size: 100,
                order_id: None,
            },
        );
    });
    eprintln!(
        "xiaoe page of 100: {xiaoe:?} (selection {select:?}); lingxing page of 100: {lingxing_100:?}, all {} records \
         ({} bytes): {lingxing:?}; the core normalizing those: {core:?}",
        lingxing_skels().len(),
        body.len()
    );
}
