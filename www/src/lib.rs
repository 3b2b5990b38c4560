//! `aftersale-wasm`: the wasm-bindgen surface of the `aftersale` npm package (SPEC.md §5): the
//! normalizers and the Lingxing sign. The proxy client is plain JavaScript (`js/client.js`, the
//! `aftersale/client` entry): see there for why.
//!
//! Normalization hands JSON text across the boundary and lets `JSON.parse` build the objects,
//! which is faster than building them from Rust. Every conversion from and to JavaScript values
//! lives in [`interop`].

use wasm_bindgen::prelude::*;

pub mod error;
pub mod interop;

use error::ApiError;

/// The options of `normalize*` with the clock filled in: WeChat Channels' overdue flag depends
/// on "now", which the core does not read itself.
fn options_now(options: &JsValue) -> Result<aftersale::NormalizeOptions, ApiError> {
    let mut options = interop::normalize_options(options)?;
    options.now_unix_s = Some((js_sys::Date::now() / 1000.0).floor() as i64);
    Ok(options)
}

/// Normalizes an upstream list body into the JSON array of `AfterSale` (SPEC.md §2): the fast path.
#[wasm_bindgen(js_name = normalizeJson)]
pub fn normalize_json(platform: JsValue, text: JsValue, options: JsValue) -> Result<String, ApiError> {
    let platform = interop::platform_arg(&platform, "platform")?;
    let text = interop::string_arg(&text, "text (the upstream response body)")?;
    Ok(aftersale::normalize_json(platform, &text, options_now(&options)?)?)
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
    let order = aftersale::normalize_order(&text, options_now(&options)?)?;
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
