//! Helpers shared by the integration tests.

use aftersale::{normalize_order, normalize_page, Error, NormalizeOptions, Platform};
use serde_json::Value;

/// The normalized output as JSON: the after-sale array, or the order for `wechat_store`.
pub fn normalized(platform: Platform, body: &str, include_raw: bool) -> Result<Value, Error> {
    let options = NormalizeOptions { include_raw, ..Default::default() };
    let value = if platform == Platform::WechatStore {
        serde_json::to_value(normalize_order(body, options)?)
    } else {
        serde_json::to_value(normalize_page(platform, body, options)?.records)
    };
    Ok(value.expect("the model always serializes"))
}
