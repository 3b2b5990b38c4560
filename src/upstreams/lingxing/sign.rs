//! Lingxing's request signature (UPSTREAMS.md): the sorted `key=value` string of every query and
//! body parameter, MD5 as upper-case hex, AES-128-ECB with PKCS#5 padding keyed by the appId,
//! standard Base64. The caller URL-encodes the result into the query.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use aes::cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use aes::Aes128;
use base64::Engine as _;
use md5::{Digest, Md5};
use serde_json::{Map, Value};

use crate::error::SignError;
use crate::Error;

/// The string that is hashed: keys in byte order, empty strings left out, `null` written as
/// `key=null` (Lingxing's guide: null values take part in the sign), arrays and objects as
/// compact JSON with sorted keys, nothing URL-encoded.
pub fn sign_string(params: &Map<String, Value>) -> Result<String, Error> {
    let mut keys: Vec<&String> = params.keys().collect();
    sort_bytewise(&mut keys);
    let mut out = String::new();
    for key in keys {
        let value = &params[key.as_str()];
        if key == "sign" {
            continue;
        }
        if matches!(value, Value::String(s) if s.is_empty()) {
            continue;
        }
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        match value {
            Value::String(s) => out.push_str(s),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Null => out.push_str("null"),
            Value::Array(_) | Value::Object(_) => write_sorted_json(&mut out, value, key)?,
        }
    }
    Ok(out)
}

/// Compact JSON with object keys in byte order, written out here rather than trusting
/// `serde_json::Map`'s order, which a `preserve_order` feature elsewhere in a build would change.
fn write_sorted_json(out: &mut String, value: &Value, key: &str) -> Result<(), Error> {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sorted_json(out, item, key)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            sort_bytewise(&mut keys);
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_scalar_json(out, &Value::String(k.clone()), key)?;
                out.push(':');
                write_sorted_json(out, &map[k.as_str()], key)?;
            }
            out.push('}');
        }
        scalar => write_scalar_json(out, scalar, key)?,
    }
    Ok(())
}

fn write_scalar_json(out: &mut String, value: &Value, key: &str) -> Result<(), Error> {
    let json = serde_json::to_string(value).map_err(|_| SignError::UnsignableValue { key: String::from(key) })?;
    out.push_str(&json);
    Ok(())
}

/// Byte-order sort of a handful of keys. Insertion sort: parameter lists are short, and the
/// standard library's sorts weigh ~7 KB in the wasm.
fn sort_bytewise(keys: &mut [&String]) {
    for i in 1..keys.len() {
        let mut j = i;
        while j > 0 && keys[j - 1].as_bytes() > keys[j].as_bytes() {
            keys.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// MD5 of the sign string as upper-case hex.
pub fn md5_upper_hex(s: &str) -> String {
    let digest = Md5::digest(s.as_bytes());
    let mut hex = String::with_capacity(32);
    for b in digest {
        let _ = write!(hex, "{b:02X}");
    }
    hex
}

/// The Base64 sign of `params` (every signed key: `access_token`, `app_key`, `timestamp` and the
/// request's own parameters), not URL-encoded.
pub fn sign(params: &Map<String, Value>, app_id: &str) -> Result<String, Error> {
    let key: [u8; 16] = app_id.as_bytes().try_into().map_err(|_| SignError::AppIdLength { len: app_id.len() })?;
    let hex = md5_upper_hex(&sign_string(params)?);
    let cipher = Aes128::new(GenericArray::from_slice(&key));
    // PKCS#5/7: always pad, with the pad length as the pad byte.
    let mut data = hex.into_bytes();
    let pad = 16 - data.len() % 16;
    data.resize(data.len() + pad, pad as u8);
    for block in data.chunks_exact_mut(16) {
        cipher.encrypt_block(GenericArray::from_mut_slice(block));
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(&data))
}
