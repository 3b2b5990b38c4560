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
    let text = interop::body_arg(&text, "text (the upstream response body)")?;
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
    let text = interop::body_arg(&text, "text (the upstream response body)")?;
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

#[cfg(test)]
mod tests {
    use aftersale::upstream::LookupKind;
    use aftersale::{Kind, Platform, Status};

    const CLIENT_JS: &str = include_str!("../js/client.js");

    /// The quoted strings of `const NAME = ...;` in client.js.
    fn js_strings(name: &str) -> Vec<String> {
        let start = CLIENT_JS.find(&format!("const {name} = ")).unwrap_or_else(|| panic!("client.js has no {name}"));
        let rest = &CLIENT_JS[start..];
        let decl = &rest[..rest.find(';').unwrap()];
        decl.split('"').skip(1).step_by(2).map(str::to_owned).collect()
    }

    /// The JavaScript client keeps its own lists (it loads no wasm): they must be the core's.
    #[test]
    fn the_clients_lists_are_the_cores() {
        assert_eq!(js_strings("PLATFORMS"), Platform::ALL.map(|p| p.as_str().to_owned()));
        assert_eq!(js_strings("STATUSES"), Status::ALL.map(|s| s.as_str().to_owned()));
        let kinds = [Kind::Refund, Kind::ReturnRefund, Kind::Exchange];
        assert_eq!(js_strings("KINDS"), kinds.map(|k| k.as_str().to_owned()));
        assert_eq!(js_strings("DATE_FIELDS"), ["created", "updated", "refunded"]);
        let codes: Vec<String> = aftersale::ErrorCode::ALL.iter().map(|c| c.as_str().to_owned()).collect();
        let mut js_codes = js_strings("ERROR_CODES");
        js_codes.sort();
        let mut codes = codes;
        codes.sort();
        assert_eq!(js_codes, codes);
    }

    /// The order routes' default platforms are the first that serve them, as the proxy has it.
    #[test]
    fn the_clients_default_platforms_serve_their_routes() {
        let first = |serves: fn(&LookupKind) -> bool| {
            Platform::ALL.into_iter().find(|p| p.upstream().lookups().iter().any(serves)).unwrap().as_str().to_owned()
        };
        assert_eq!(js_strings("ORDER_PLATFORM"), [first(|k| *k == LookupKind::Order)]);
        assert_eq!(
            js_strings("ORDER_AFTERSALES_PLATFORM"),
            [first(|k| matches!(k, LookupKind::OrderAfterSales { .. }))]
        );
    }
}
