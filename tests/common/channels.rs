//! A scripted WeChat Channels shop (`channels/ec`) for the walk and sync tests: stable tokens,
//! the id list with a keyset `next_key` bound to its window, the detail by id, faults, and
//! mutations applied right after a given list call is answered.
#![allow(dead_code)]

use std::collections::BTreeMap;

use aftersale::account::{Account, Credentials};
use aftersale::call::{AccountState, CallSpec};
use aftersale::http::{Request, Response};
use aftersale::paginate::china_midnight_s;
use aftersale::query::{DateField, ListQuery};
use aftersale::{Date, Platform};
use serde_json::{json, Value};

pub const P: Platform = Platform::WechatChannels;
pub const DAY: i64 = 86_400;

pub fn date(s: &str) -> Date {
    Date::parse(s).unwrap()
}

#[derive(Clone, Debug)]
pub struct Rec {
    pub id: String,
    pub create: i64,
    pub update: i64,
    pub status: &'static str,
}

/// A scripted `channels/ec` shop: stable tokens, the id list with a keyset `next_key`, the
/// detail by id, faults, and mutations applied right after a given list call is answered.
pub struct Shop {
    pub recs: Vec<Rec>,
    pub page_size: usize,
    /// Ends inclusive (the simulator's default) or exclusive: §13 does not say.
    pub inclusive_end: bool,
    pub token: u32,
    pub token_uses: u32,
    pub token_max_uses: u32,
    pub token_fetches: u32,
    pub list_calls: u32,
    pub detail_calls: u32,
    pub throttle_next: u32,
    pub fail_next: u32,
    /// (after this many list calls, change the page's first, delete its last, add n).
    pub mutate_at: Vec<(u32, usize)>,
    /// Every window as sent: (begin, end).
    pub windows: Vec<(i64, i64)>,
    pub next_id: u64,
    pub latency_ms: u64,
    /// How far a mutation moves the changed record's update time on.
    pub change_by: i64,
    /// Rate window the shop enforces itself: (limit, window_ms) over every data call.
    pub limit: Option<(usize, u64)>,
    pub sends: Vec<u64>,
    pub throttled: u32,
}

impl Shop {
    /// `n` records from 2024-03-01 China time over 3 days, some exactly at midnights, ids of
    /// 19 digits (beyond 2^53, consecutive ones collide as floats).
    pub fn new(n: usize) -> Shop {
        let start = china_midnight_s(date("2024-03-01"));
        let mut shop = Shop {
            recs: Vec::new(),
            page_size: 4,
            inclusive_end: true,
            token: 0,
            token_uses: 0,
            token_max_uses: u32::MAX,
            token_fetches: 0,
            list_calls: 0,
            detail_calls: 0,
            throttle_next: 0,
            fail_next: 0,
            mutate_at: Vec::new(),
            windows: Vec::new(),
            next_id: 9_007_199_254_740_993_000,
            latency_ms: 5,
            change_by: DAY / 3,
            limit: None,
            sends: Vec::new(),
            throttled: 0,
        };
        for i in 0..n as i64 {
            // Every seventh record sits exactly on a midnight: the window boundary.
            let create = if i % 7 == 0 { start + (i % 3) * DAY } else { start + (i * 7919) % (3 * DAY) };
            let update =
                if i % 5 == 0 { start + ((i % 3) + 1) * DAY } else { (create + i * 61).min(start + 3 * DAY - 1) };
            shop.add(create, update.max(create));
        }
        shop
    }

    pub fn add(&mut self, create: i64, update: i64) {
        self.next_id += 1;
        self.recs.push(Rec { id: self.next_id.to_string(), create, update, status: "MERCHANT_PROCESSING" });
    }

    pub fn time(rec: &Rec, field: DateField) -> i64 {
        if field == DateField::Updated {
            rec.update
        } else {
            rec.create
        }
    }

    /// What a walk of `[from, to)` must give: ids with their update time, as they are now.
    pub fn truth(&self, q: &ListQuery) -> BTreeMap<String, i64> {
        let (b, e) = (china_midnight_s(q.from), china_midnight_s(q.to));
        self.recs
            .iter()
            .filter(|r| (b..e).contains(&Shop::time(r, q.date_field)))
            .map(|r| (r.id.clone(), r.update))
            .collect()
    }

    pub fn err(code: i64) -> Response {
        Response::ok(json!({"errcode": code, "errmsg": format!("error rid: 1-2-3")}).to_string())
    }

    pub fn answer(&mut self, now: u64, req: &Request) -> Response {
        let path = req.url.split('?').next().unwrap().to_string();
        if path.ends_with("/cgi-bin/stable_token") {
            self.token_fetches += 1;
            self.token += 1;
            self.token_uses = 0;
            return Response::ok(json!({"access_token": format!("T{}", self.token), "expires_in": 7200}).to_string());
        }
        if let Some((limit, window)) = self.limit {
            self.sends.retain(|&t| t + window > now);
            if self.sends.len() >= limit {
                self.throttled += 1;
                return Shop::err(45011);
            }
            self.sends.push(now);
        }
        if self.fail_next > 0 {
            self.fail_next -= 1;
            return Response { status: 502, body: "<html>502 Bad Gateway</html>".into(), retry_after_ms: None };
        }
        if self.throttle_next > 0 {
            self.throttle_next -= 1;
            return Shop::err(45011);
        }
        let token = req.url.split("access_token=").nth(1).unwrap_or("");
        if token != format!("T{}", self.token) {
            return Shop::err(40001);
        }
        self.token_uses += 1;
        if self.token_uses > self.token_max_uses {
            return Shop::err(42001);
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        if path.ends_with("/getaftersalelist") {
            self.list(&body)
        } else {
            self.detail(&body)
        }
    }

    pub fn list(&mut self, body: &Value) -> Response {
        let (field, b, e) = match (body.get("begin_update_time"), body.get("end_update_time")) {
            (Some(b), Some(e)) => (DateField::Updated, b.as_i64().unwrap(), e.as_i64().unwrap()),
            _ => (
                DateField::Created,
                body["begin_create_time"].as_i64().unwrap(),
                body["end_create_time"].as_i64().unwrap(),
            ),
        };
        self.windows.push((b, e));
        if e - b > DAY || e < b {
            return Shop::err(10020004);
        }
        // The keyset: the last (time, id) served, bound to its window.
        let after: Option<(i64, String)> = body.get("next_key").map(|k| {
            let k = k.as_str().unwrap();
            let (w, rest) = k.split_once('|').unwrap();
            assert_eq!(w, format!("{b}-{e}"), "a next_key of another window");
            let (t, id) = rest.split_once(':').unwrap();
            (t.parse().unwrap(), id.to_string())
        });
        let mut hits: Vec<(i64, String)> = self
            .recs
            .iter()
            .map(|r| (Shop::time(r, field), r.id.clone()))
            .filter(|(t, _)| *t >= b && if self.inclusive_end { *t <= e } else { *t < e })
            .filter(|k| after.as_ref().is_none_or(|a| k > a))
            .collect();
        hits.sort();
        let more = hits.len() > self.page_size;
        hits.truncate(self.page_size);
        self.list_calls += 1;
        let next_key = hits.last().map(|(t, id)| format!("{b}-{e}|{t}:{id}")).unwrap_or_default();
        let ids: Vec<&str> = hits.iter().map(|(_, id)| id.as_str()).collect();
        let answer = json!({"errcode": 0, "errmsg": "ok", "after_sale_order_id_list": ids, "has_more": more, "next_key": next_key});
        let calls = self.list_calls;
        let due: Vec<usize> = self.mutate_at.iter().filter(|(at, _)| *at == calls).map(|(_, n)| *n).collect();
        for add in due {
            if let Some((_, first)) = hits.first() {
                // A change: a later update time, a step on; in an update-time walk it moves
                // forward, past the cursor or into the next day.
                let r = self.recs.iter_mut().find(|r| &r.id == first).unwrap();
                r.update += self.change_by;
                r.status = "USER_WAIT_RETURN";
            }
            if hits.len() > 1 {
                let last = hits.last().unwrap().1.clone();
                self.recs.retain(|r| r.id != last);
            }
            // New after-sales are the newest: just past this window (its end may be served,
            // inclusive), where the walk is still to go.
            for k in 0..add as i64 {
                self.add(e + 5 + k, e + 5 + k);
            }
        }
        Response::ok(answer.to_string())
    }

    pub fn detail(&mut self, body: &Value) -> Response {
        self.detail_calls += 1;
        let id = body["after_sale_order_id"].as_str().expect("the id goes out as a string");
        let Some(r) = self.recs.iter().find(|r| r.id == id) else { return Shop::err(10021050) };
        Response::ok(
            json!({"errcode": 0, "errmsg": "ok", "after_sale_order": {
                "after_sale_order_id": r.id, "status": r.status, "order_id": "3705115058471208928",
                "create_time": r.create, "update_time": r.update, "type": "REFUND",
                "refund_info": {"amount": 100}, "product_info": {"product_id": "1", "sku_id": "2", "count": 1}
            }})
            .to_string(),
        )
    }
}

pub fn account() -> Account {
    Account::new(P, Credentials::new().with("appid", "wxshop").with("secret", "S")).with_base_url("http://127.0.0.1:1")
}

pub fn drive(
    acct: &mut AccountState,
    shop: &mut Shop,
    spec: CallSpec,
    now: &mut u64,
) -> Result<Response, aftersale::Error> {
    let latency = shop.latency_ms;
    super::drive_leased(acct, spec, now, latency, |t, req| shop.answer(t, req))
}
