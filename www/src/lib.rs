//! `aftersale-wasm`: the wasm-bindgen surface of the `aftersale` npm package (SPEC.md §5).
//!
//! Normalization hands JSON text across the boundary and lets `JSON.parse` build the objects,
//! which is faster than building them from Rust. The proxy client speaks SPEC.md §3 through
//! gloo-net. The package's JavaScript (`js/`) adds initialization, the async iterator and names.
//! Every conversion from and to JavaScript values lives in [`interop`].

use std::cell::RefCell;
use std::collections::HashSet;
use std::future::Future;
use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

pub mod client;
pub mod error;
pub mod interop;
pub mod options;

use client::{ClientInner, ListQuery};
use error::{ApiError, Failure};
use interop::CallOptions;

/// Normalizes an upstream list body into the JSON array of `AfterSale` (SPEC.md §2): the fast path.
#[wasm_bindgen(js_name = normalizeJson)]
pub fn normalize_json(platform: JsValue, text: JsValue, options: JsValue) -> Result<String, ApiError> {
    let platform = interop::platform_arg(&platform, "platform")?;
    let text = interop::string_arg(&text, "text (the upstream response body)")?;
    let options = interop::normalize_options(&options)?;
    Ok(aftersale::normalize_json(platform, &text, options)?)
}

/// Normalizes an upstream list body into `AfterSale` objects.
#[wasm_bindgen]
pub fn normalize(platform: JsValue, text: JsValue, options: JsValue) -> Result<JsValue, ApiError> {
    interop::json_parse(&normalize_json(platform, text, options)?)
}

/// Normalizes a WeChat Mini Store order-details body into an `Order`.
#[wasm_bindgen(js_name = normalizeOrder)]
pub fn normalize_order(text: JsValue, options: JsValue) -> Result<JsValue, ApiError> {
    let text = interop::string_arg(&text, "text (the upstream response body)")?;
    let options = interop::normalize_options(&options)?;
    let order = aftersale::normalize_order(&text, options)?;
    let json = serde_json::to_string(&order)
        .map_err(|e| ApiError::internal(format!("the order could not be written as JSON: {e}")))?;
    interop::json_parse(&json)
}

/// The Lingxing request sign (UPSTREAMS.md): Base64, not URL-encoded. `null` members are signed
/// (`key=null`), `undefined` members are left out, as `JSON.stringify` leaves them out of the body.
#[wasm_bindgen(js_name = signLingxing)]
pub fn sign_lingxing(params: JsValue, app_id: JsValue) -> Result<String, ApiError> {
    let params = interop::sign_params(&params)?;
    let app_id = interop::string_arg(&app_id, "appId")?;
    Ok(aftersale::lingxing::sign(&params, &app_id)?)
}

/// Runs a call of the client as a `Promise`, rejecting with its error as a JavaScript value.
fn spawn(call: impl Future<Output = Result<JsValue, Failure>> + 'static) -> Promise {
    future_to_promise(async move { call.await.map_err(JsValue::from) })
}

/// The proxy client; the package wraps it as `Client`, adding `iterate`.
#[wasm_bindgen]
pub struct WasmClient {
    inner: Rc<ClientInner>,
}

#[wasm_bindgen]
impl WasmClient {
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<WasmClient, ApiError> {
        let config = interop::client_config(&options)?;
        Ok(WasmClient { inner: Rc::new(ClientInner::new(config)) })
    }

    /// One page: `{ data, next_cursor, total }`.
    pub fn list(&self, query: JsValue) -> Promise {
        let inner = self.inner.clone();
        // Read the caller's object now: it may change before the promise runs.
        let parsed = interop::list_query(&query);
        spawn(async move {
            let (raw, options) = parsed?;
            let query = ListQuery::parse(raw)?;
            let body = inner.get(&query.path(None), options.signal.as_ref()).await?;
            client::check_page("GET /v1/aftersales", &body)?;
            Ok(interop::json_parse(&body)?)
        })
    }

    /// A stream of pages with records de-duplicated by `id` across pages, for `iterate`.
    pub fn pages(&self, query: JsValue) -> Result<WasmPages, ApiError> {
        let (raw, options) = interop::list_query(&query)?;
        let query = ListQuery::parse(raw)?;
        Ok(WasmPages {
            state: Rc::new(RefCell::new(PagesState {
                client: self.inner.clone(),
                query,
                options,
                cursor: None,
                cursors_seen: HashSet::new(),
                ids_seen: HashSet::new(),
                fetched: 0,
                done: false,
                busy: false,
            })),
        })
    }

    /// `GET /v1/orders/{orderId}`: the `Order`.
    pub fn order(&self, order_id: JsValue, options: JsValue) -> Promise {
        let inner = self.inner.clone();
        let parsed = interop::order_id_arg(&order_id).and_then(|id| Ok((id, interop::order_options(&options)?)));
        spawn(async move {
            let (id, (platform, include_raw, options)) = parsed?;
            let body = inner.get(&client::order_path(&id, platform, include_raw), options.signal.as_ref()).await?;
            Ok(interop::json_parse(client::data_member("GET /v1/orders/{order_id}", &body)?)?)
        })
    }

    /// `GET /v1/orders/{orderId}/aftersales`: the order's `AfterSale` records.
    #[wasm_bindgen(js_name = orderAfterSales)]
    pub fn order_after_sales(&self, order_id: JsValue, options: JsValue) -> Promise {
        let inner = self.inner.clone();
        let parsed =
            interop::order_id_arg(&order_id).and_then(|id| Ok((id, interop::order_aftersales_options(&options)?)));
        spawn(async move {
            let (id, o) = parsed?;
            let path = client::order_aftersales_path(
                &id,
                o.platform,
                o.openid.as_deref(),
                o.out_order_id.as_deref(),
                o.include_raw,
            );
            let body = inner.get(&path, o.call.signal.as_ref()).await?;
            let route = "GET /v1/orders/{order_id}/aftersales";
            let data = client::data_member(route, &body)?;
            if !data.trim_start().starts_with('[') {
                return Err(
                    ApiError::internal(format!("proxy answered {route} with `data` that is not an array")).into()
                );
            }
            Ok(interop::json_parse(data)?)
        })
    }
}

struct PagesState {
    client: Rc<ClientInner>,
    query: ListQuery,
    options: CallOptions,
    /// The cursor of the next page; `None` before the first (which uses the query's own).
    cursor: Option<String>,
    cursors_seen: HashSet<String>,
    ids_seen: HashSet<String>,
    fetched: u64,
    done: bool,
    busy: bool,
}

/// Pages of one listing; `next()` resolves to the next non-empty batch of new records, or
/// `undefined` after the last page.
#[wasm_bindgen]
pub struct WasmPages {
    state: Rc<RefCell<PagesState>>,
}

#[wasm_bindgen]
impl WasmPages {
    pub fn next(&self) -> Promise {
        let state = self.state.clone();
        spawn(async move {
            loop {
                let (client, path, signal) = {
                    let mut s = state.borrow_mut();
                    if s.done {
                        return Ok(JsValue::UNDEFINED);
                    }
                    if s.busy {
                        return Err(ApiError::internal("next() was called before the previous call settled").into());
                    }
                    s.busy = true;
                    (s.client.clone(), s.query.path(s.cursor.as_deref()), s.options.signal.clone())
                };
                let body = client.get(&path, signal.as_ref()).await;
                let mut s = state.borrow_mut();
                s.busy = false;
                let page = client::take_fresh("GET /v1/aftersales", &body?, &mut s.ids_seen)?;
                s.fetched += page.count as u64;
                match page.next_cursor {
                    None => s.done = true,
                    Some(next) => {
                        if !s.cursors_seen.insert(next.clone()) {
                            s.done = true;
                            return Err(ApiError::internal(format!(
                                "proxy answered GET /v1/aftersales with a cursor it had already given ({} records in): stopping rather than looping",
                                s.fetched
                            ))
                            .into());
                        }
                        s.cursor = Some(next);
                    }
                }
                let (on_progress, fetched, done) = (s.options.on_progress.clone(), s.fetched, s.done);
                drop(s);
                if let Some(callback) = on_progress {
                    interop::report_progress(&callback, fetched, page.total)?;
                }
                if page.count > 0 {
                    return Ok(interop::json_parse(&page.json)?);
                }
                if done {
                    return Ok(JsValue::UNDEFINED);
                }
            }
        })
    }
}
