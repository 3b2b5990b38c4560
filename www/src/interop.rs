//! Every conversion between JavaScript values and Rust: reading the caller's arguments (with
//! errors that name the argument), the values handed back and the `Error` objects thrown.

use aftersale::{NormalizeOptions, Platform};
use js_sys::{Array, Function, Object, Reflect, JSON};
use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::ApiError;

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

/// The upstream's body: a string, or its UTF-8 bytes (`Uint8Array`, as `response.bytes()` or
/// `arrayBuffer()` gives them), which skips decoding them into a string only to encode it again
/// into wasm memory.
pub fn body_arg(value: &JsValue, name: &str) -> Result<String, ApiError> {
    if let Some(bytes) = value.dyn_ref::<js_sys::Uint8Array>() {
        return String::from_utf8(bytes.to_vec()).map_err(|e| {
            ApiError::invalid(format!("{name} is not UTF-8: invalid byte at offset {}", e.utf8_error().valid_up_to()))
        });
    }
    value.as_string().ok_or_else(|| {
        ApiError::invalid(format!("{name} must be a string or a Uint8Array of UTF-8, got {}", describe_type(value)))
    })
}

pub fn platform_arg(value: &JsValue, name: &str) -> Result<Platform, ApiError> {
    let text = string_arg(value, name)?;
    text.parse::<Platform>().map_err(|_| {
        ApiError::invalid(format!(
            "{name} {text:?} is not a platform; expected one of {}",
            Platform::ALL.map(Platform::as_str).join(", ")
        ))
    })
}

/// `{ includeRaw }` as the caller wrote it (`include_raw` too).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NormalizeArgs {
    #[serde(default, alias = "include_raw", deserialize_with = "include_raw")]
    include_raw: bool,
    /// Every other key, refused by name. Not `deny_unknown_fields`: serde-wasm-bindgen reads a
    /// struct field by field (`Reflect::get`), so it never sees the keys it was not asked for;
    /// `flatten` makes serde read the object as a map, every entry included.
    #[serde(flatten)]
    other: BTreeMap<String, IgnoredAny>,
}

const NORMALIZE_KEYS: &str = "includeRaw (or include_raw)";

/// serde-wasm-bindgen's type errors do not say where: this one names the option.
fn include_raw<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    <Option<bool>>::deserialize(d)
        .map(Option::unwrap_or_default)
        .map_err(|e| serde::de::Error::custom(format_args!("options.includeRaw: {e}")))
}

/// A serde-wasm-bindgen error's text: a JavaScript `Error`, whose `toString` adds `Error: `.
fn serde_message(e: serde_wasm_bindgen::Error) -> String {
    e.to_string().replace("Error: ", "")
}

/// The options of `normalize*`, read by serde-wasm-bindgen; `undefined`/`null` is the defaults.
pub fn normalize_options(value: &JsValue) -> Result<NormalizeOptions, ApiError> {
    if value.is_undefined() || value.is_null() {
        return Ok(NormalizeOptions::default());
    }
    if !value.is_object() || Array::is_array(value) || value.is_function() {
        return Err(ApiError::invalid(format!("options must be an object, got {}", describe_type(value))));
    }
    let args: NormalizeArgs = serde_wasm_bindgen::from_value(value.clone()).map_err(|e| {
        let e = serde_message(e);
        ApiError::invalid(if e.starts_with("options.") { e } else { format!("options: {e}") })
    })?;
    if let Some(key) = args.other.keys().next() {
        return Err(ApiError::invalid(format!("options.{key} is not an option here; expected {NORMALIZE_KEYS}")));
    }
    Ok(NormalizeOptions { include_raw: args.include_raw, ..NormalizeOptions::default() })
}

/// The Lingxing parameters as a JSON map, for `aftersale::lingxing::sign`.
///
/// Read member by member rather than through `JSON.stringify`, which would turn `NaN`, a
/// function or an `undefined` array element into a `null` that then gets signed, and rather
/// than through serde-wasm-bindgen, whose `deserialize_any` reads `null` and `undefined` alike
/// (both `visit_unit`) and a `NaN` as a number: the sign must tell each apart. The rules:
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

// ---------------------------------------------------------------- values handed back

/// JSON text to a JavaScript value: one `JSON.parse`, the fastest way across the boundary.
pub fn json_parse(json: &str) -> Result<JsValue, ApiError> {
    JSON::parse(json)
        .map_err(|e| ApiError::internal(format!("could not hand the result to JavaScript: {}", describe_thrown(&e))))
}
