//! Every conversion between JavaScript values and Rust: reading the caller's arguments (with
//! errors that name the argument), building the values handed back, the `Error` objects thrown,
//! and the host functions the client needs (fetch, timers, clock).

use aftersale::{NormalizeOptions, Platform};
use js_sys::{Array, Function, Object, Promise, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortSignal;

use crate::error::{ApiError, Failure};
use crate::options::{ClientConfig, RawListQuery, DEFAULT_MAX_RETRIES, MAX_MAX_RETRIES};
use aftersale::upstream::LookupKind;

#[wasm_bindgen]
extern "C" {
    // Globals in browsers, workers and Node 18+, bound directly so no `window` is needed.
    #[wasm_bindgen(catch, js_name = fetch)]
    fn global_fetch(request: &web_sys::Request) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

// ---------------------------------------------------------------- errors

impl From<ApiError> for JsValue {
    /// An `Error` named `AftersaleError` with `code`, `upstream` (object or null) and, when they
    /// apply, `status` and `retryAfter`.
    fn from(e: ApiError) -> JsValue {
        let error = js_sys::Error::new(&e.message);
        error.set_name("AftersaleError");
        set(&error, "code", &JsValue::from_str(e.code.as_str()));
        if let Some(status) = e.status {
            set(&error, "status", &JsValue::from(status));
        }
        let upstream = e.upstream.as_deref().and_then(|json| JSON::parse(json).ok()).unwrap_or(JsValue::NULL);
        set(&error, "upstream", &upstream);
        if let Some(seconds) = e.retry_after {
            set(&error, "retryAfter", &JsValue::from(seconds));
        }
        error.into()
    }
}

impl From<Failure> for JsValue {
    fn from(f: Failure) -> JsValue {
        match f {
            Failure::Api(e) => e.into(),
            Failure::Thrown(v) => v,
        }
    }
}

fn set(target: &JsValue, key: &str, value: &JsValue) {
    // Only fails on frozen or exotic targets; every target here is a fresh object.
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

/// `"a number"`, `"null"`, `"an array"`, ...: for messages about wrong argument types.
fn describe_type(v: &JsValue) -> String {
    if v.is_null() {
        "null".into()
    } else if Array::is_array(v) {
        "an array".into()
    } else {
        let t = v.js_typeof().as_string().unwrap_or_default();
        match t.as_str() {
            "object" | "undefined" => t,
            _ => format!("a {t}"),
        }
    }
}

/// A thrown or rejected value as text, with the `cause` Node's fetch hides the reason in.
fn describe_thrown(v: &JsValue) -> String {
    let Some(error) = v.dyn_ref::<js_sys::Error>() else {
        return v.as_string().unwrap_or_else(|| format!("a thrown {}", describe_type(v)));
    };
    let mut text = format!("{}: {}", String::from(error.name()), String::from(error.message()));
    let cause = error.cause();
    if let Some(cause) = cause.dyn_ref::<js_sys::Error>() {
        text.push_str(&format!(" ({})", String::from(cause.message())));
    }
    text
}

// ---------------------------------------------------------------- arguments

pub fn string_arg(value: &JsValue, name: &str) -> Result<String, ApiError> {
    value.as_string().ok_or_else(|| ApiError::invalid(format!("{name} must be a string, got {}", describe_type(value))))
}

pub fn platform_arg(value: &JsValue, name: &str) -> Result<Platform, ApiError> {
    let text = string_arg(value, name)?;
    crate::client::parse_platform(&text, name)
}

/// An order id: a string, a bigint, or a number that is a safe integer (larger ones have already
/// lost digits, and WeChat order ids are that large).
pub fn order_id_arg(value: &JsValue) -> Result<String, ApiError> {
    if let Some(s) = value.as_string() {
        if s.is_empty() {
            return Err(ApiError::invalid("orderId must not be empty"));
        }
        return Ok(s);
    }
    if value.is_bigint() {
        return Ok(String::from(
            js_sys::BigInt::unchecked_from_js_ref(value).to_string(10).unwrap_or_else(|_| "".into()),
        ));
    }
    if let Some(n) = value.as_f64() {
        if js_sys::Number::is_safe_integer(value) && n >= 0.0 {
            return Ok(format!("{n:.0}"));
        }
        return Err(ApiError::invalid(format!(
            "orderId {n} is not a safe integer: pass order ids as strings, large ones lose digits as numbers"
        )));
    }
    Err(ApiError::invalid(format!("orderId must be a string, got {}", describe_type(value))))
}

/// The keys of an options object, checked against what the function accepts so a misspelt
/// option is an error rather than silently ignored.
struct Fields {
    object: Object,
    what: &'static str,
}

impl Fields {
    /// `None` for `undefined`/`null` (all options left out).
    fn read(value: &JsValue, what: &'static str, allowed: &[&str]) -> Result<Option<Fields>, ApiError> {
        if value.is_undefined() || value.is_null() {
            return Ok(None);
        }
        if !value.is_object() || Array::is_array(value) || value.is_function() {
            return Err(ApiError::invalid(format!("{what} must be an object, got {}", describe_type(value))));
        }
        let object: Object = value.clone().unchecked_into();
        for key in Object::keys(&object).iter() {
            let key = key.as_string().unwrap_or_default();
            if !allowed.contains(&key.as_str()) {
                return Err(ApiError::invalid(format!(
                    "{what}.{key} is not an option here; expected one of: {}",
                    allowed.join(", ")
                )));
            }
        }
        Ok(Some(Fields { object, what }))
    }

    /// The first of `keys` (a camelCase name and its snake_case alias) that is set.
    fn get(&self, keys: &[&'static str]) -> Option<(JsValue, &'static str)> {
        keys.iter().find_map(|k| {
            let v = Reflect::get(&self.object, &JsValue::from_str(k)).ok()?;
            (!v.is_undefined() && !v.is_null()).then_some((v, *k))
        })
    }

    fn string(&self, keys: &[&'static str]) -> Result<Option<String>, ApiError> {
        match self.get(keys) {
            None => Ok(None),
            Some((v, k)) => string_arg(&v, &format!("{}.{k}", self.what)).map(Some),
        }
    }

    fn bool(&self, keys: &[&'static str]) -> Result<Option<bool>, ApiError> {
        match self.get(keys) {
            None => Ok(None),
            Some((v, k)) => v.as_bool().map(Some).ok_or_else(|| {
                ApiError::invalid(format!("{}.{k} must be a boolean, got {}", self.what, describe_type(&v)))
            }),
        }
    }

    fn number(&self, keys: &[&'static str]) -> Result<Option<f64>, ApiError> {
        match self.get(keys) {
            None => Ok(None),
            Some((v, k)) => v.as_f64().map(Some).ok_or_else(|| {
                ApiError::invalid(format!("{}.{k} must be a number, got {}", self.what, describe_type(&v)))
            }),
        }
    }

    /// A comma-separated string or an array of strings.
    fn strings(&self, keys: &[&'static str]) -> Result<Vec<String>, ApiError> {
        let Some((v, k)) = self.get(keys) else {
            return Ok(Vec::new());
        };
        let name = format!("{}.{k}", self.what);
        let parts: Vec<String> = if let Some(s) = v.as_string() {
            s.split(',').map(|p| p.trim().to_owned()).collect()
        } else if Array::is_array(&v) {
            Array::from(&v)
                .iter()
                .enumerate()
                .map(|(i, item)| string_arg(&item, &format!("{name}[{i}]")))
                .collect::<Result<_, _>>()?
        } else {
            return Err(ApiError::invalid(format!(
                "{name} must be a string or an array of strings, got {}",
                describe_type(&v)
            )));
        };
        Ok(parts.into_iter().filter(|p| !p.is_empty()).collect())
    }

    fn function(&self, keys: &[&'static str]) -> Result<Option<Function>, ApiError> {
        match self.get(keys) {
            None => Ok(None),
            Some((v, k)) => v.dyn_into::<Function>().map(Some).map_err(|v| {
                ApiError::invalid(format!("{}.{k} must be a function, got {}", self.what, describe_type(&v)))
            }),
        }
    }

    fn signal(&self) -> Result<Option<AbortSignal>, ApiError> {
        match self.get(&["signal"]) {
            None => Ok(None),
            Some((v, _)) => v.dyn_into::<AbortSignal>().map(Some).map_err(|v| {
                ApiError::invalid(format!("{}.signal must be an AbortSignal, got {}", self.what, describe_type(&v)))
            }),
        }
    }
}

pub fn normalize_options(value: &JsValue) -> Result<NormalizeOptions, ApiError> {
    let mut options = NormalizeOptions::default();
    if let Some(f) = Fields::read(value, "options", &["includeRaw", "include_raw"])? {
        options.include_raw = f.bool(&["includeRaw", "include_raw"])?.unwrap_or(false);
    }
    Ok(options)
}

/// The Lingxing parameters as a JSON map, for `aftersale::lingxing::sign`.
///
/// Read member by member rather than through `JSON.stringify`, which would turn `NaN`, a
/// function or an `undefined` array element into a `null` that then gets signed. The rules:
/// - `null` is a value and is signed (`key=null`), as Lingxing's guide says;
/// - a member whose value is `undefined` is skipped, at any depth: that is the JavaScript way of
///   leaving a parameter out, and `JSON.stringify` of the body sent leaves it out too, so the
///   signed string matches the body;
/// - `undefined` inside an array, functions, symbols, BigInts and non-finite numbers are refused,
///   naming the parameter: each would be written differently, or not at all, in the body;
/// - an object with `toJSON` (a `Date`) is signed as what `toJSON` returns, as in the body.
pub fn sign_params(value: &JsValue) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    let what = "params";
    if !value.is_object() || Array::is_array(value) || value.is_function() {
        return Err(ApiError::invalid(format!(
            "{what} must be an object of every signed parameter (access_token, app_key, timestamp, ...), got {}",
            describe_type(value)
        )));
    }
    match sign_value(value, what, 0)? {
        Some(serde_json::Value::Object(map)) => Ok(map),
        _ => Err(ApiError::invalid(format!("{what} must be an object of every signed parameter"))),
    }
}

/// Nesting beyond this is refused rather than followed (a cyclic object would never end).
const MAX_SIGN_DEPTH: usize = 32;

/// One value to sign; `Ok(None)` for `undefined` (the caller decides whether that may be skipped).
fn sign_value(v: &JsValue, path: &str, depth: usize) -> Result<Option<serde_json::Value>, ApiError> {
    use serde_json::Value;
    if depth > MAX_SIGN_DEPTH {
        return Err(ApiError::invalid(format!("{path} is nested more than {MAX_SIGN_DEPTH} levels deep (a cycle?)")));
    }
    if v.is_undefined() {
        return Ok(None);
    }
    if v.is_null() {
        return Ok(Some(Value::Null));
    }
    if let Some(s) = v.as_string() {
        return Ok(Some(Value::String(s)));
    }
    if let Some(b) = v.as_bool() {
        return Ok(Some(Value::Bool(b)));
    }
    if let Some(n) = v.as_f64() {
        if !n.is_finite() {
            return Err(ApiError::invalid(format!("{path} is {n}, which cannot be signed")));
        }
        // Whole numbers as integers, so 1000 is signed as `1000`, as JSON.stringify writes it.
        if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_991.0 {
            return Ok(Some(Value::from(n as i64)));
        }
        return Ok(Some(serde_json::Number::from_f64(n).map(Value::Number).unwrap_or(Value::Null)));
    }
    if v.is_function() || v.is_symbol() || v.is_bigint() {
        return Err(ApiError::invalid(format!(
            "{path} is {}, which cannot be signed: write it as a string or a number",
            describe_type(v)
        )));
    }
    if Array::is_array(v) {
        let array: &Array = v.unchecked_ref();
        let mut items = Vec::with_capacity(array.length() as usize);
        for (i, item) in array.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            match sign_value(&item, &item_path, depth + 1)? {
                Some(value) => items.push(value),
                None => {
                    return Err(ApiError::invalid(format!(
                        "{item_path} is undefined, which an array cannot leave out: use null or remove it"
                    )))
                }
            }
        }
        return Ok(Some(Value::Array(items)));
    }
    let to_json = Reflect::get(v, &JsValue::from_str("toJSON")).unwrap_or(JsValue::UNDEFINED);
    if let Some(f) = to_json.dyn_ref::<Function>() {
        let converted =
            f.call0(v).map_err(|e| ApiError::invalid(format!("{path}.toJSON() threw: {}", describe_thrown(&e))))?;
        return sign_value(&converted, path, depth + 1);
    }
    let object: &Object = v.unchecked_ref();
    let mut map = serde_json::Map::new();
    for entry in Object::entries(object).iter() {
        let pair: Array = entry.unchecked_into();
        let key = pair.get(0).as_string().unwrap_or_default();
        let member_path = format!("{path}.{key}");
        if let Some(value) = sign_value(&pair.get(1), &member_path, depth + 1)? {
            map.insert(key, value);
        }
    }
    Ok(Some(Value::Object(map)))
}

pub fn client_config(value: &JsValue) -> Result<ClientConfig, ApiError> {
    const KEYS: &[&str] = &["endpoint", "apiKey", "api_key", "fetch", "maxRetries", "max_retries"];
    let f = Fields::read(value, "options", KEYS)?
        .ok_or_else(|| ApiError::invalid("new Client(options): options.endpoint is required"))?;
    let endpoint = f
        .string(&["endpoint"])?
        .ok_or_else(|| ApiError::invalid("options.endpoint is required: the proxy's base URL"))?;
    let url = web_sys::Url::new(&endpoint)
        .map_err(|_| ApiError::invalid(format!("options.endpoint {endpoint:?} is not an absolute URL")))?;
    if !matches!(url.protocol().as_str(), "http:" | "https:") {
        return Err(ApiError::invalid(format!("options.endpoint {endpoint:?} must be an http(s) URL")));
    }
    if !url.search().is_empty() || !url.hash().is_empty() {
        return Err(ApiError::invalid(format!("options.endpoint {endpoint:?} must not carry a query or fragment")));
    }
    let api_key = f.string(&["apiKey", "api_key"])?;
    if let Some(key) = &api_key {
        // Anything else would make the Authorization header itself throw.
        if key.is_empty() || key.trim() != key || !key.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(ApiError::invalid(
                "options.apiKey must be non-empty printable ASCII without surrounding spaces",
            ));
        }
    }
    let max_retries = match f.number(&["maxRetries", "max_retries"])? {
        None => DEFAULT_MAX_RETRIES,
        Some(n) if n.fract() == 0.0 && (0.0..=MAX_MAX_RETRIES as f64).contains(&n) => n as u32,
        Some(n) => {
            return Err(ApiError::invalid(format!(
                "options.maxRetries must be an integer from 0 to {MAX_MAX_RETRIES}, got {n}"
            )))
        }
    };
    Ok(ClientConfig { endpoint, api_key, fetch: f.function(&["fetch"])?, max_retries })
}

/// What a call carries beside its query: cancellation and progress.
#[derive(Clone, Default)]
pub struct CallOptions {
    pub signal: Option<AbortSignal>,
    pub on_progress: Option<Function>,
}

pub fn list_query(value: &JsValue) -> Result<(RawListQuery, CallOptions), ApiError> {
    const KEYS: &[&str] = &[
        "platform",
        "from",
        "to",
        "dateField",
        "date_field",
        "status",
        "kind",
        "orderId",
        "order_id",
        "limit",
        "cursor",
        "includeRaw",
        "include_raw",
        "signal",
        "onProgress",
    ];
    let f = Fields::read(value, "query", KEYS)?
        .ok_or_else(|| ApiError::invalid("query is required: { platform, from, to, ... }"))?;
    let raw = RawListQuery {
        platform: f.string(&["platform"])?,
        from: f.string(&["from"])?,
        to: f.string(&["to"])?,
        date_field: f.string(&["dateField", "date_field"])?,
        status: f.strings(&["status"])?,
        kind: f.strings(&["kind"])?,
        order_id: f.string(&["orderId", "order_id"])?,
        limit: f.number(&["limit"])?,
        cursor: f.string(&["cursor"])?,
        include_raw: f.bool(&["includeRaw", "include_raw"])?.unwrap_or(false),
    };
    let options = CallOptions { signal: f.signal()?, on_progress: f.function(&["onProgress"])? };
    Ok((raw, options))
}

/// The platform an order route defaults to: the first whose upstream serves its lookup.
fn serving_platform(serves: impl Fn(&LookupKind) -> bool) -> Result<Platform, ApiError> {
    Platform::ALL
        .into_iter()
        .find(|p| p.upstream().lookups().iter().any(&serves))
        .ok_or_else(|| ApiError::invalid("options.platform is required: no platform serves this route by default"))
}

/// `order(orderId, { platform, includeRaw, signal })`; the platform defaults to the one the
/// route serves.
pub fn order_options(value: &JsValue) -> Result<(Platform, bool, CallOptions), ApiError> {
    let mut platform = serving_platform(|k| *k == LookupKind::Order)?;
    let mut include_raw = false;
    let mut options = CallOptions::default();
    if let Some(f) = Fields::read(value, "options", &["platform", "includeRaw", "include_raw", "signal"])? {
        if let Some((v, _)) = f.get(&["platform"]) {
            platform = platform_arg(&v, "options.platform")?;
        }
        include_raw = f.bool(&["includeRaw", "include_raw"])?.unwrap_or(false);
        options.signal = f.signal()?;
    }
    Ok((platform, include_raw, options))
}

pub struct OrderAfterSalesOptions {
    pub platform: Platform,
    pub openid: Option<String>,
    pub out_order_id: Option<String>,
    pub include_raw: bool,
    pub call: CallOptions,
}

/// `orderAfterSales(orderId, { platform, openid | outOrderId, signal })`.
pub fn order_aftersales_options(value: &JsValue) -> Result<OrderAfterSalesOptions, ApiError> {
    const KEYS: &[&str] = &["platform", "openid", "outOrderId", "out_order_id", "includeRaw", "include_raw", "signal"];
    let f = Fields::read(value, "options", KEYS)?.ok_or_else(|| {
        ApiError::invalid("orderAfterSales(orderId, options): options.openid or options.outOrderId is required")
    })?;
    let platform = match f.get(&["platform"]) {
        Some((v, _)) => platform_arg(&v, "options.platform")?,
        None => serving_platform(|k| matches!(k, LookupKind::OrderAfterSales { .. }))?,
    };
    let openid = f.string(&["openid"])?;
    let out_order_id = f.string(&["outOrderId", "out_order_id"])?;
    if openid.is_none() && out_order_id.is_none() {
        return Err(ApiError::invalid(
            "orderAfterSales: options.openid (the buyer's openid) or options.outOrderId is required",
        ));
    }
    Ok(OrderAfterSalesOptions {
        platform,
        openid,
        out_order_id,
        include_raw: f.bool(&["includeRaw", "include_raw"])?.unwrap_or(false),
        call: CallOptions { signal: f.signal()?, on_progress: None },
    })
}

// ---------------------------------------------------------------- values handed back

/// JSON text to a JavaScript value: one `JSON.parse`, the fastest way across the boundary.
pub fn json_parse(json: &str) -> Result<JsValue, ApiError> {
    JSON::parse(json)
        .map_err(|e| ApiError::internal(format!("could not hand the result to JavaScript: {}", describe_thrown(&e))))
}

/// Calls `onProgress({ fetched, total })`; what it throws ends the iteration as it is.
pub fn report_progress(callback: &Function, fetched: u64, total: Option<u64>) -> Result<(), Failure> {
    let progress = Object::new();
    set(&progress, "fetched", &JsValue::from(fetched as f64));
    set(&progress, "total", &total.map_or(JsValue::NULL, |t| JsValue::from(t as f64)));
    callback.call1(&JsValue::UNDEFINED, &progress).map(|_| ()).map_err(Failure::Thrown)
}

// ---------------------------------------------------------------- host

/// Rejects with the signal's own reason once it is aborted, as `fetch` does.
pub fn check_aborted(signal: Option<&AbortSignal>) -> Result<(), Failure> {
    match signal {
        Some(s) if s.aborted() => Err(Failure::Thrown(s.reason())),
        _ => Ok(()),
    }
}

pub enum FetchError {
    /// No answer: worth retrying.
    Network(String),
    /// The caller's `fetch` misbehaved, or there is none: retrying will not help.
    Broken(ApiError),
}

/// Sends `request` through the caller's `fetch`, else the global one.
pub async fn fetch(custom: Option<&Function>, request: &web_sys::Request) -> Result<web_sys::Response, FetchError> {
    let started = match custom {
        Some(f) => f.call1(&JsValue::UNDEFINED, request).map(|v| Promise::resolve(&v)),
        None => global_fetch(request),
    };
    let promise = started.map_err(|e| {
        FetchError::Broken(ApiError::internal(format!(
            "fetch could not be called (pass `fetch` in the Client options where there is no global one): {}",
            describe_thrown(&e)
        )))
    })?;
    let value = JsFuture::from(promise).await.map_err(|e| FetchError::Network(describe_thrown(&e)))?;
    // Duck-typed, so a polyfill's Response works too.
    let status = Reflect::get(&value, &JsValue::from_str("status")).unwrap_or(JsValue::UNDEFINED);
    let text = Reflect::get(&value, &JsValue::from_str("text")).unwrap_or(JsValue::UNDEFINED);
    if status.as_f64().is_none() || !text.is_function() {
        return Err(FetchError::Broken(ApiError::internal(format!(
            "fetch resolved with {}, not a Response",
            describe_type(&value)
        ))));
    }
    Ok(value.unchecked_into())
}

pub async fn response_text(response: &web_sys::Response) -> Result<String, String> {
    let promise = response.text().map_err(|e| describe_thrown(&e))?;
    let text = JsFuture::from(promise).await.map_err(|e| describe_thrown(&e))?;
    text.as_string().ok_or_else(|| "the body is not text".to_owned())
}

/// Waits `ms`, or until `signal` aborts (then fails with its reason). Uses the promise's own
/// `resolve` as both timer and abort listener, so no Rust closure outlives the wait.
pub async fn sleep(ms: f64, signal: Option<&AbortSignal>) -> Result<(), Failure> {
    check_aborted(signal)?;
    let mut resolve_fn: Option<Function> = None;
    let promise = Promise::new(&mut |resolve, _reject| resolve_fn = Some(resolve));
    let Some(resolve) = resolve_fn else {
        return Err(ApiError::internal("Promise executor did not run").into());
    };
    let timer = set_timeout(&resolve, ms.max(0.0));
    if let Some(s) = signal {
        let _ = s.add_event_listener_with_callback("abort", &resolve);
    }
    let _ = JsFuture::from(promise).await;
    clear_timeout(&timer);
    if let Some(s) = signal {
        let _ = s.remove_event_listener_with_callback("abort", &resolve);
    }
    check_aborted(signal)
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

pub fn random() -> f64 {
    js_sys::Math::random()
}

/// An HTTP date (`Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`) as epoch milliseconds.
pub fn parse_http_date(value: &str) -> Option<f64> {
    let ms = js_sys::Date::parse(value);
    (!ms.is_nan()).then_some(ms)
}
