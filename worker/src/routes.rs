//! The proxy's routes (SPEC.md §3), each a handler that reads like the route it serves: parse
//! and check the request, let the core plan the upstream calls, make them under the account
//! object's leases, normalize, answer.

use std::time::Duration;

use aftersale::call::CallSpec;
use aftersale::cursor;
use aftersale::lease::{LeaseAnswer, LeasedCall, Step};
use aftersale::paginate::Pager;
use aftersale::query::ListQuery;
use aftersale::upstream::{Lookup, LookupKind, OrderRef};
use aftersale::{normalize_order_of, normalize_page, AfterSale, NormalizeOptions, Platform};

use futures_util::future::{FutureExt, RemoteHandle};
use futures_util::stream;
use worker::{Env, Headers, Method, Request, RequestInit, Response};

use crate::account_object::LeaseAsk;
use crate::api_error::ApiError;
use crate::config::Config;
use crate::scope::Caller;
use crate::transport;

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
    let problems = if config.problems.is_empty() {
        String::new()
    } else {
        format!(r#","config_problems":{}"#, serde_json::to_string(&config.problems).unwrap_or_default())
    };
    json_response(format!(
        r#"{{"ok":true,"version":"{}","sandbox":{}{problems}}}"#,
        env!("CARGO_PKG_VERSION"),
        config.sandbox
    ))
}

/// Subrequests one upstream call may take at worst: a lease request and a fetch per attempt.
const CALL_RESERVE: u32 = 2 * 6;
/// Kept back for the reports an invocation sends at its end (one per account it leased from).
const REPORT_RESERVE: u32 = 1;

fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

fn random_u32() -> u32 {
    (js_sys::Math::random() * f64::from(u32::MAX)) as u32
}

/// One upstream call under the account object's lease: ask for a lease (handing in what this
/// invocation owes the account), fetch the upstream directly, classify, retry; the outcome is
/// reported with the next lease request or at the end of the invocation. The raw body comes
/// back, to be normalized by the caller. The one function handlers make upstream calls with.
pub async fn call_account(env: &Env, config: &Config, platform: Platform, spec: CallSpec) -> Result<String, ApiError> {
    let account = config.account(platform)?;
    let key = account.key();
    let namespace = env.durable_object("UPSTREAM_ACCOUNT")?;
    let stub = namespace.id_from_name(&key)?.get_stub()?;
    let mut call = LeasedCall::new(spec);
    loop {
        match call.poll(&account, now_ms()) {
            Step::Lease { prior } => {
                // Room for this attempt's lease and fetch, and for the reports at the end.
                if config.subrequests_left() < 2 + REPORT_RESERVE {
                    if let Some(p) = prior {
                        config.queue_report(&key, platform, p);
                    }
                    return Err(budget_spent(config));
                }
                config.spend("a lease")?;
                let ask = LeaseAsk { platform, reports: config.take_reports(&key), prior };
                let answer = match ask_account(&stub, "lease", &ask).await {
                    Ok(a) => a,
                    Err(e) => {
                        // The reports may not have arrived: they are owed again.
                        for r in ask.reports.into_iter().chain(ask.prior) {
                            config.queue_report(&key, platform, r);
                        }
                        return Err(e);
                    }
                };
                call.granted(now_ms(), Ok(answer));
            }
            Step::Send(request, timeout_ms) => {
                if !config.sandbox {
                    config.spend_anyway(); // counted in the lease's room
                }
                let answer =
                    transport::send(&request, config.sandbox, now_ms(), Duration::from_millis(timeout_ms)).await;
                call.handle_response(now_ms(), random_u32(), answer);
            }
            Step::Wait { until_ms } => {
                let wait = until_ms.saturating_sub(now_ms()).max(1);
                worker::Delay::from(Duration::from_millis(wait)).await;
            }
            Step::Done(result, report) => {
                if let Some(r) = report {
                    config.queue_report(&key, platform, r);
                }
                return result.map(|r| r.body).map_err(ApiError::from);
            }
        }
    }
}

fn budget_spent(config: &Config) -> ApiError {
    ApiError::new(
        aftersale::ErrorCode::UpstreamUnavailable,
        format!(
            "this request used its {} subrequests (SUBREQUEST_BUDGET) before the upstream answered; ask again",
            config.subrequest_budget
        ),
    )
}

/// One message to the account object: its lease answer, or its error.
async fn ask_account(stub: &worker::Stub, route: &str, ask: &LeaseAsk) -> Result<LeaseAnswer, ApiError> {
    let message = serde_json::to_string(ask).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(message.into()));
    let request = Request::new_with_init(&format!("https://upstream-account.internal/{route}"), &init)?;
    let mut response = stub.fetch_with_request(request).await?;
    let status = response.status_code();
    if status == 204 {
        return Ok(LeaseAnswer::RefusedAgain); // a report's answer: nothing to read
    }
    let body = response.text().await?;
    if status == 200 {
        serde_json::from_str(&body).map_err(|e| ApiError::internal(format!("the account object's lease: {e}")))
    } else {
        let retry = response.headers().get("retry-after").ok().flatten().and_then(|v| v.parse().ok());
        Err(ApiError::from_json(status, &body, retry))
    }
}

/// Sends every report this invocation still owes (those that free a slot, drop a token or
/// block the pacer), one message per account. Called once the invocation has nothing more to
/// ask; `REPORT_RESERVE` kept room for it.
pub async fn flush_reports(env: &Env, config: &Config) {
    let owed = config.take_owed();
    if owed.is_empty() {
        return;
    }
    let Ok(namespace) = env.durable_object("UPSTREAM_ACCOUNT") else { return };
    for (key, platform, reports) in owed {
        let Ok(stub) = namespace.id_from_name(&key).and_then(|id| id.get_stub()) else { continue };
        config.spend_anyway();
        // A report that does not arrive costs only time: the lease runs out on its own.
        let _ = ask_account(&stub, "report", &LeaseAsk { platform, reports, prior: None }).await;
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
    // `source=live` (SPEC.md §9) only says what the default for one platform already is; the
    // mirror took every other value before this point.
    if single(pairs, "platform").is_some_and(|p| p == "all" || p.contains(',')) {
        return Err(ApiError::invalid_request("source", "live reads one platform; several are read from the mirror"));
    }
    let pairs: Vec<(String, String)> = pairs.iter().filter(|(k, _)| k != "source").cloned().collect();
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
    for read in 0..MAX_UPSTREAM_PAGES_PER_ANSWER {
        // Past the first page, read on only while the worst case fits the subrequest budget:
        // a page may be short, even empty, with a cursor (the caller follows it).
        if read > 0 && config.subrequests_left() < CALL_RESERVE + REPORT_RESERVE {
            break;
        }
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
/// While a page is normalized and streamed, the next upstream call is already leased and in
/// flight when the pager can tell which it will be (`Pager::speculative_next`). An export that
/// would pass its subrequest budget ends with `{"continue":"<cursor>"}` instead: the same route
/// with `cursor=<cursor>` goes on from there, nothing lost or repeated.
pub async fn export_aftersales(req: &Request, env: &Env, config: &Config) -> Answer {
    let pairs = query_pairs(req)?;
    // `platform=all`, a list, or `source=mirror`: the mirror's rows (SPEC.md §9), as the list.
    if crate::mirror::wants_mirror(&pairs) {
        return crate::mirror::export(&pairs, env, config).await;
    }
    let (query, state) = list_query(&pairs, config)?;
    if crate::walk::serves(&query) {
        return crate::walk::export(env, config, query, state).await;
    }
    config.account(query.platform)?;
    config.cursor_key()?; // a continuation needs one
    let platform = query.platform;
    let opts = options(&query);
    let pager = match state {
        Some(s) => Pager::resume_export(query, s)?,
        None => Pager::for_export(query)?,
    };
    let mut ex = Export {
        pager,
        env: env.clone(),
        config: config.clone(),
        platform,
        opts,
        count: 0,
        calls: 0,
        pending: None,
        prefetch: None,
        finished: false,
    };
    match ex.read_page().await {
        Ok(Flow::Chunk(chunk)) => ex.pending = Some(chunk),
        Ok(flow) => ex.pending = Some(ex.end(flow).await),
        Err(e) => {
            ex.settle().await;
            return Err(e);
        }
    }
    let lines = stream::unfold(ex, |mut ex| async move {
        if let Some(chunk) = ex.pending.take() {
            return Some((Ok::<Vec<u8>, worker::Error>(chunk.into_bytes()), ex));
        }
        if ex.finished {
            return None;
        }
        loop {
            let line = match ex.read_page().await {
                Ok(Flow::Chunk(chunk)) if chunk.is_empty() => continue,
                Ok(Flow::Chunk(chunk)) => chunk,
                Ok(flow) => ex.end(flow).await,
                Err(e) => {
                    ex.settle().await;
                    ex.finished = true;
                    format!("{}\n", e.to_json())
                }
            };
            return Some((Ok(line.into_bytes()), ex));
        }
    });
    ndjson_response(lines)
}

/// A streamed NDJSON answer, never cached.
pub(crate) fn ndjson_response<S>(lines: S) -> Answer
where
    S: futures_util::Stream<Item = Result<Vec<u8>, worker::Error>> + 'static,
{
    Ok(Response::from_stream(lines)?.with_headers(ndjson_headers()?))
}

/// The headers of every NDJSON answer.
pub(crate) fn ndjson_headers() -> Result<Headers, worker::Error> {
    let headers = Headers::new();
    headers.set("content-type", "application/x-ndjson; charset=utf-8")?;
    headers.set("cache-control", "no-store")?;
    Ok(headers)
}

/// What reading the next page gave.
enum Flow {
    /// NDJSON lines of its records (none when repeats and filters left nothing).
    Chunk(String),
    /// No page left.
    Done,
    /// The subrequest budget leaves no room for another page.
    Continue,
}

/// An export in progress: the pager, what to stream next, and the call in flight for the page
/// after the current one.
struct Export {
    pager: Pager,
    env: Env,
    config: Config,
    platform: Platform,
    opts: NormalizeOptions,
    count: usize,
    /// Upstream calls this invocation started.
    calls: u32,
    pending: Option<String>,
    prefetch: Option<(CallSpec, RemoteHandle<Result<String, ApiError>>)>,
    finished: bool,
}

impl Export {
    async fn read_page(&mut self) -> Result<Flow, ApiError> {
        let Some(spec) = self.pager.next_call() else { return Ok(Flow::Done) };
        let prefetched = match self.prefetch.take() {
            Some((guess, handle)) if guess == spec => Some(handle),
            Some((_, handle)) => {
                // A wrong guess (the list changed): its answer is dropped unread, but the call
                // runs to its end, so a slot it holds is reported rather than left to time out.
                let _ = handle.await;
                None
            }
            None => None,
        };
        let answer = match prefetched {
            Some(handle) => handle.await,
            None => {
                // The first call always goes; later ones only with room for their worst case.
                if self.calls > 0 && self.config.subrequests_left() < CALL_RESERVE + REPORT_RESERVE {
                    return Ok(Flow::Continue);
                }
                self.calls += 1;
                call_account(&self.env, &self.config, self.platform, spec).await
            }
        };
        if let Some(next) = self.pager.speculative_next() {
            // Only when the budget can also pay for the page after it, so a prefetched call is
            // never left unread by a continuation.
            if self.config.subrequests_left() >= 2 * CALL_RESERVE + REPORT_RESERVE {
                self.calls += 1;
                self.prefetch = Some((next.clone(), self.fetch_in_background(next)));
                yield_now().await; // let it send its lease request before this page is normalized
            }
        }
        let body = answer?;
        let page = normalize_page(self.platform, &body, self.opts)?;
        let mut chunk = String::new();
        for r in self.pager.handle_page(page) {
            ndjson_line(&mut chunk, &r)?;
            self.count += 1;
        }
        Ok(Flow::Chunk(chunk))
    }

    /// The last line: `done` with the count, or the continuation's cursor.
    async fn end(&mut self, flow: Flow) -> String {
        self.finished = true;
        self.settle().await;
        match flow {
            Flow::Continue => match self.config.cursor_key() {
                Ok(key) => {
                    format!("{{\"continue\":\"{}\"}}\n", cursor::seal(key, self.pager.query(), self.pager.state()))
                }
                Err(e) => format!("{}\n", e.to_json()),
            },
            _ => format!("{{\"done\":true,\"count\":{}}}\n", self.count),
        }
    }

    /// Lets a call still in flight finish, then sends the reports the invocation owes.
    async fn settle(&mut self) {
        if let Some((_, handle)) = self.prefetch.take() {
            let _ = handle.await;
        }
        flush_reports(&self.env, &self.config).await;
        worker::console_log!(
            "export ended: {} records, {} upstream calls, {} subrequests",
            self.count,
            self.calls,
            self.config.subrequests()
        );
    }

    /// Starts a call that runs on its own (an unpolled future would do nothing) until its
    /// handle is awaited or dropped.
    fn fetch_in_background(&self, spec: CallSpec) -> RemoteHandle<Result<String, ApiError>> {
        let (env, config, platform) = (self.env.clone(), self.config.clone(), self.platform);
        let (run, handle) = async move { call_account(&env, &config, platform, spec).await }.remote_handle();
        wasm_bindgen_futures::spawn_local(run);
        handle
    }
}

/// Gives queued tasks (a call just spawned) a turn before synchronous work.
async fn yield_now() {
    let _ = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&wasm_bindgen::JsValue::UNDEFINED)).await;
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
