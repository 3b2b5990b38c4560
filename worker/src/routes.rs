//! The proxy's routes (SPEC.md §3), each a handler that reads like the route it serves: parse
//! and check the request, let the core plan the upstream calls, have the account object make
//! them, normalize, answer.

use aftersale::call::CallSpec;
use aftersale::cursor;
use aftersale::paginate::Pager;
use aftersale::query::ListQuery;
use aftersale::upstream::{Lookup, LookupKind, OrderRef};
use aftersale::{normalize_order_of, normalize_page, AfterSale, NormalizeOptions, Platform};
use std::rc::Rc;

use futures_util::future::{FutureExt, RemoteHandle};
use futures_util::stream;
use worker::{Env, Headers, Method, Request, RequestInit, Response};

use crate::account_object::CallMessage;
use crate::api_error::ApiError;
use crate::config::Config;
use crate::scope::Caller;

type Answer = Result<Response, ApiError>;

/// How many upstream pages one answer may read looking for records (repeats and local
/// filters can leave an upstream page with nothing to show).
const MAX_UPSTREAM_PAGES_PER_ANSWER: usize = 5;

pub fn json_response(body: String) -> Answer {
    let headers = Headers::new();
    headers.set("content-type", "application/json; charset=utf-8")?;
    Ok(Response::ok(body)?.with_headers(headers))
}

/// `GET /healthz`
pub fn health(config: &Config) -> Answer {
    json_response(format!(r#"{{"ok":true,"version":"{}","sandbox":{}}}"#, env!("CARGO_PKG_VERSION"), config.sandbox))
}

/// Asks the account's Durable Object to make one upstream call; the raw body comes back.
pub(crate) async fn call_account(
    env: &Env,
    config: &Config,
    platform: Platform,
    spec: CallSpec,
) -> Result<String, ApiError> {
    let account = config.account(platform)?;
    let namespace = env.durable_object("UPSTREAM_ACCOUNT")?;
    let stub = namespace.id_from_name(&account.key())?.get_stub()?;
    let message =
        serde_json::to_string(&CallMessage { platform, spec }).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(message.into()));
    let request = Request::new_with_init("https://upstream-account.internal/call", &init)?;
    let mut response = stub.fetch_with_request(request).await?;
    let status = response.status_code();
    let body = response.text().await?;
    if status == 200 {
        Ok(body)
    } else {
        let retry = response.headers().get("retry-after").ok().flatten().and_then(|v| v.parse().ok());
        Err(ApiError::from_json(status, &body, retry))
    }
}

pub(crate) fn query_pairs(req: &Request) -> Result<Vec<(String, String)>, ApiError> {
    Ok(req.url()?.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
}

/// The query of a list or export request: from its parameters, or from its cursor (whose query
/// the parameters, when given, must repeat exactly).
fn list_query(
    pairs: &[(String, String)],
    config: &Config,
) -> Result<(ListQuery, Option<aftersale::paginate::PagerState>), ApiError> {
    let params = || pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let cursor = pairs.iter().find(|(k, _)| k == "cursor").map(|(_, v)| v.as_str());
    match cursor {
        None => Ok((ListQuery::from_params(params())?, None)),
        Some(c) => {
            let (carried, state) = cursor::open(config.cursor_key()?, c)?;
            if pairs.iter().any(|(k, _)| k != "cursor") {
                let asked = ListQuery::from_params(params())?;
                if asked != carried {
                    return Err(ApiError::invalid_request(
                        "cursor",
                        "was issued for a different query: repeat the query it came with, or send the cursor alone",
                    ));
                }
            }
            Ok((carried, Some(state)))
        }
    }
}

fn options(query: &ListQuery) -> NormalizeOptions {
    normalize_options(query.include_raw)
}

/// With the clock, so deadlines that have passed read as overdue.
pub(crate) fn normalize_options(include_raw: bool) -> NormalizeOptions {
    NormalizeOptions { include_raw, now_unix_s: Some((worker::Date::now().as_millis() / 1000) as i64) }
}

fn push_records(out: &mut String, records: &[AfterSale<'_>], count: &mut usize) -> Result<(), ApiError> {
    for r in records {
        if *count > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(r).map_err(|e| ApiError::internal(e.to_string()))?);
        *count += 1;
    }
    Ok(())
}

/// `GET /v1/aftersales`: one page.
pub async fn list_aftersales(req: &Request, env: &Env, config: &Config) -> Answer {
    let pairs = query_pairs(req)?;
    let (query, state) = list_query(&pairs, config)?;
    if crate::walk::serves(&query) {
        return crate::walk::list(env, config, query, state).await;
    }
    config.account(query.platform)?;
    let platform = query.platform;
    let opts = options(&query);
    let mut pager = match state {
        Some(s) => Pager::resume(query, s)?,
        None => Pager::new(query)?,
    };
    let mut data = String::from("[");
    let mut count = 0;
    for _ in 0..MAX_UPSTREAM_PAGES_PER_ANSWER {
        let Some(spec) = pager.next_call() else { break };
        let body = call_account(env, config, platform, spec).await?;
        let page = normalize_page(platform, &body, opts)?;
        let records = pager.handle_page(page);
        push_records(&mut data, &records, &mut count)?;
        if count > 0 {
            break;
        }
    }
    data.push(']');
    let next_cursor = if pager.is_done() {
        String::from("null")
    } else {
        format!("\"{}\"", cursor::seal(config.cursor_key()?, pager.query(), pager.state()))
    };
    let total = pager.total().map_or(String::from("null"), |t| t.to_string());
    json_response(format!(r#"{{"data":{data},"next_cursor":{next_cursor},"total":{total}}}"#))
}

/// `GET /v1/aftersales/export`: every page, followed server-side, streamed as NDJSON. The first
/// page is read before answering, so a failing query still gets a proper error status; an
/// error after that ends the stream with an `{"error":...}` line instead of the `done` line.
/// While a page is normalized and streamed, the next one is already being fetched when the
/// pager can tell which it will be (`Pager::speculative_next`).
pub async fn export_aftersales(req: &Request, env: &Env, config: &Config) -> Answer {
    let pairs = query_pairs(req)?;
    let (query, _) = list_query(&pairs, config)?;
    if crate::walk::serves(&query) {
        return crate::walk::export(env, config, query).await;
    }
    config.account(query.platform)?;
    let platform = query.platform;
    let opts = options(&query);
    let mut pager = Pager::for_export(query)?;
    let mut first = String::new();
    let mut count = 0usize;
    if let Some(spec) = pager.next_call() {
        let body = call_account(env, config, platform, spec).await?;
        let page = normalize_page(platform, &body, opts)?;
        for r in pager.handle_page(page) {
            ndjson_line(&mut first, &r)?;
            count += 1;
        }
    }
    let start = Export {
        pager,
        env: env.clone(),
        // The stream outlives the borrowed config: it keeps its own copy (no second env read).
        config: Rc::new(config.clone()),
        platform,
        opts,
        count,
        pending: Some(first),
        prefetch: None,
        finished: false,
    };
    let lines = stream::unfold(start, |mut ex| async move {
        if let Some(chunk) = ex.pending.take() {
            if !chunk.is_empty() {
                return Some((Ok::<Vec<u8>, worker::Error>(chunk.into_bytes()), ex));
            }
        }
        if ex.finished {
            return None;
        }
        loop {
            let Some(spec) = ex.pager.next_call() else {
                ex.finished = true;
                return Some((Ok(format!("{{\"done\":true,\"count\":{}}}\n", ex.count).into_bytes()), ex));
            };
            let answer = match ex.prefetch.take() {
                Some((guess, handle)) if guess == spec => handle.await,
                // A wrong guess (the list changed): its answer is dropped unread.
                _ => call_account(&ex.env, &ex.config, ex.platform, spec).await,
            };
            if let Some(next) = ex.pager.speculative_next() {
                ex.prefetch = Some((next.clone(), ex.fetch_in_background(next)));
            }
            let page = answer.and_then(|body| {
                let page = normalize_page(ex.platform, &body, ex.opts)?;
                let mut chunk = String::new();
                let mut n = 0;
                for r in ex.pager.handle_page(page) {
                    ndjson_line(&mut chunk, &r)?;
                    n += 1;
                }
                Ok((chunk, n))
            });
            match page {
                Ok((chunk, n)) if n > 0 => {
                    ex.count += n;
                    return Some((Ok(chunk.into_bytes()), ex));
                }
                Ok(_) => continue,
                Err(e) => {
                    ex.finished = true;
                    return Some((Ok(format!("{}\n", e.to_json()).into_bytes()), ex));
                }
            }
        }
    });
    let headers = Headers::new();
    headers.set("content-type", "application/x-ndjson; charset=utf-8")?;
    headers.set("cache-control", "no-store")?;
    Ok(Response::from_stream(lines)?.with_headers(headers))
}

/// An export in progress: the pager, what to stream next, and the page being prefetched.
struct Export {
    pager: Pager,
    env: Env,
    config: Rc<Config>,
    platform: Platform,
    opts: NormalizeOptions,
    count: usize,
    pending: Option<String>,
    prefetch: Option<(CallSpec, RemoteHandle<Result<String, ApiError>>)>,
    finished: bool,
}

impl Export {
    /// Starts a call that runs on its own (an unpolled future would do nothing) until its
    /// handle is awaited or dropped.
    fn fetch_in_background(&self, spec: CallSpec) -> RemoteHandle<Result<String, ApiError>> {
        let (env, config, platform) = (self.env.clone(), Rc::clone(&self.config), self.platform);
        let (run, handle) = async move { call_account(&env, &config, platform, spec).await }.remote_handle();
        wasm_bindgen_futures::spawn_local(run);
        handle
    }
}

fn ndjson_line(out: &mut String, record: &AfterSale<'_>) -> Result<(), ApiError> {
    out.push_str(&serde_json::to_string(record).map_err(|e| ApiError::internal(e.to_string()))?);
    out.push('\n');
    Ok(())
}

pub(crate) fn single(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty())
}

/// The route's `platform`: one whose upstream serves the lookup the route makes.
fn lookup_platform(
    pairs: &[(String, String)],
    serves: impl Fn(&LookupKind) -> bool,
    route: &str,
) -> Result<(Platform, LookupKind), ApiError> {
    let serving = |p: Platform| p.upstream().lookups().iter().copied().find(&serves).map(|k| (p, k));
    let names =
        || Platform::ALL.into_iter().filter_map(serving).map(|(p, _)| p.as_str()).collect::<Vec<_>>().join(", ");
    let Some(p) = single(pairs, "platform") else {
        return Err(ApiError::invalid_request("platform", format!("is required ({} for {route})", names())));
    };
    let platform: Platform = p.parse()?;
    serving(platform).ok_or_else(|| {
        ApiError::invalid_request("platform", format!("{route} serves {} only, not {platform}", names()))
    })
}

fn include_raw(pairs: &[(String, String)]) -> Result<bool, ApiError> {
    match single(pairs, "include_raw").as_deref() {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(v) => Err(ApiError::invalid_request("include_raw", format!("{v:?} is not true or false"))),
    }
}

pub(crate) fn reject_unknown(pairs: &[(String, String)], known: &[&str]) -> Result<(), ApiError> {
    match pairs.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        Some((k, _)) => Err(ApiError::invalid_request(
            "query",
            format!("unknown parameter {k:?}; expected one of {}", known.join(", ")),
        )),
        None => Ok(()),
    }
}

/// `GET /v1/orders/{order_id}/aftersales?platform=P&openid=O`; the merchant's own order id may
/// be given instead as `out_order_id=` (with `-` as the path's order id).
pub async fn order_aftersales(req: &Request, env: &Env, config: &Config, caller: &Caller, order_id: &str) -> Answer {
    let pairs = query_pairs(req)?;
    reject_unknown(&pairs, &["platform", "openid", "out_order_id", "include_raw"])?;
    let route = "/v1/orders/{order_id}/aftersales";
    let (platform, kind) = lookup_platform(&pairs, |k| matches!(k, LookupKind::OrderAfterSales { .. }), route)?;
    caller.check_platform(platform)?;
    // A session's buyer comes from the session; naming another one is 403 (SPEC.md §10).
    let buyer = caller.buyer_filter("openid", single(&pairs, "openid"))?;
    if matches!(kind, LookupKind::OrderAfterSales { needs_buyer: true }) && buyer.is_none() {
        return Err(ApiError::invalid_request(
            "openid",
            format!("is required: {platform} looks after-sales up per buyer"),
        ));
    }
    let order = match single(&pairs, "out_order_id") {
        Some(out) if order_id == "-" || order_id == out => OrderRef::OutOrderId(out),
        Some(out) => {
            return Err(ApiError::invalid_request(
                "out_order_id",
                format!("names order {out:?} but the path names {order_id:?}; use - in the path"),
            ))
        }
        None if order_id == "-" => {
            return Err(ApiError::invalid_request("order_id", "the path's order id is - but no out_order_id was given"))
        }
        None => OrderRef::OrderId(order_id.to_string()),
    };
    let raw = include_raw(&pairs)?;
    caller.check_raw(raw)?;
    let spec = CallSpec::lookup(platform, Lookup::OrderAfterSales { order: order.clone(), buyer: buyer.clone() });
    let body = call_account(env, config, platform, spec).await?;
    let mut page = normalize_page(platform, &body, normalize_options(raw))?;
    // The upstream may ignore the buyer it was given: check it again on what came back.
    let vouched = buyer.is_some() && matches!(kind, LookupKind::OrderAfterSales { needs_buyer: true });
    caller.check_records(&mut page.records, buyer.as_deref().map(|b| ("openid", b)), vouched)?;
    // The upstream's records need not repeat the order they belong to; the request names it.
    for r in &mut page.records {
        match &order {
            OrderRef::OrderId(id) if r.order_id.is_none() => r.order_id = Some(id.as_str().into()),
            OrderRef::OutOrderId(id) if r.out_order_id.is_none() => r.out_order_id = Some(id.as_str().into()),
            _ => {}
        }
    }
    crate::mirror::remember(env, &page.records).await;
    let mut data = String::from("[");
    let mut count = 0;
    push_records(&mut data, &page.records, &mut count)?;
    data.push(']');
    json_response(format!(r#"{{"data":{data}}}"#))
}

/// `GET /v1/orders/{order_id}?platform=P`: one order of a platform that answers orders.
pub async fn order(req: &Request, env: &Env, config: &Config, caller: &Caller, order_id: &str) -> Answer {
    let pairs = query_pairs(req)?;
    reject_unknown(&pairs, &["platform", "include_raw"])?;
    let (platform, _) = lookup_platform(&pairs, |k| *k == LookupKind::Order, "/v1/orders/{order_id}")?;
    caller.check_platform(platform)?;
    let raw = include_raw(&pairs)?;
    caller.check_raw(raw)?;
    let spec = CallSpec::lookup(platform, Lookup::Order { order_id: order_id.to_string() });
    let body = call_account(env, config, platform, spec).await?;
    let mut order = normalize_order_of(platform, &body, normalize_options(raw))?;
    caller.check_order(&mut order)?;
    let json = serde_json::to_string(&order).map_err(|e| ApiError::internal(e.to_string()))?;
    json_response(format!(r#"{{"data":{json}}}"#))
}

/// `GET /v1/aftersales/{aftersale_id}?platform=P`: one after-sale of a platform that looks them
/// up by id.
pub async fn aftersale(req: &Request, env: &Env, config: &Config, caller: &Caller, aftersale_id: &str) -> Answer {
    let pairs = query_pairs(req)?;
    reject_unknown(&pairs, &["platform", "include_raw"])?;
    let (platform, _) = lookup_platform(&pairs, |k| *k == LookupKind::AfterSale, "/v1/aftersales/{aftersale_id}")?;
    caller.check_platform(platform)?;
    let raw = include_raw(&pairs)?;
    caller.check_raw(raw)?;
    let spec = CallSpec::lookup(platform, Lookup::AfterSale { aftersale_id: aftersale_id.to_string() });
    let body = call_account(env, config, platform, spec).await?;
    let mut page = normalize_page(platform, &body, normalize_options(raw))?;
    caller.check_records(&mut page.records, None, false)?;
    let Some(record) = page.records.first() else {
        return Err(ApiError::not_found(format!("{platform} has no after-sale {aftersale_id:?}")));
    };
    crate::mirror::remember(env, &page.records).await;
    let json = serde_json::to_string(record).map_err(|e| ApiError::internal(e.to_string()))?;
    json_response(format!(r#"{{"data":{json}}}"#))
}

/// `GET /v1/sandbox/orders` (sandbox mode only): the sandbox's date range today and its WeChat
/// orders, `{"range":{"from","to"},"orders":[{order_id, out_order_id, openid, aftersales}]}`, so
/// the console and newcomers need not copy them.
pub fn sandbox_orders(config: &Config) -> Answer {
    if !config.sandbox {
        return Err(ApiError::not_found("/v1/sandbox/orders exists in sandbox mode only"));
    }
    json_response(crate::sandbox::examples_json(worker::Date::now().as_millis())?)
}
