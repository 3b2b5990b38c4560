//! The caller's options as the client uses them, once read from JavaScript (by `interop`):
//! plain values, so the client and the reading of options do not depend on each other.

use js_sys::Function;

pub const DEFAULT_MAX_RETRIES: u32 = 3;
pub const MAX_MAX_RETRIES: u32 = 10;

/// `Client` options, already read from the caller's object.
pub struct ClientConfig {
    pub endpoint: String,
    pub api_key: Option<String>,
    pub fetch: Option<Function>,
    pub max_retries: u32,
}

/// A list query as the caller wrote it, before validation.
#[derive(Debug, Default, Clone)]
pub struct RawListQuery {
    pub platform: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub date_field: Option<String>,
    pub status: Vec<String>,
    pub kind: Vec<String>,
    pub order_id: Option<String>,
    pub limit: Option<f64>,
    pub cursor: Option<String>,
    pub include_raw: bool,
}
