//! The aftersale proxy as a Cloudflare Worker (SPEC.md §3–§4): a thin driver of the core. It
//! checks who calls, hands list queries to the core's pager, has the account's Durable Object
//! make each upstream call, and answers the normalized JSON. Mapping, signing, pagination,
//! tokens and pacing all live in the `aftersale` crate.

mod access;
mod account_object;
mod api_error;
mod config;
mod routes;
mod sandbox;
mod transport;

pub use account_object::UpstreamAccount;

use worker::{event, Context, Env, Headers, Method, Request, Response, Result};

use crate::api_error::ApiError;
use crate::config::Config;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let config = Config::from_env(&env);
    let method = req.method();
    let path = req.path();
    let origin = match access::check_origin(&req, &config) {
        Ok(o) => o,
        // A foreign origin gets an error and no CORS grant, so its page cannot read even that.
        Err(e) => return e.to_response(),
    };
    let mut response = match dispatch(&req, &env, &config, &path).await {
        Ok(r) => r,
        Err(e) => e.to_response()?,
    };
    // Reports the invocation still owes the account objects (an export's stream sends its own).
    routes::flush_reports(&env, &config).await;
    // Object calls and upstream fetches this invocation made (an export's stream logs its own).
    let _ = response.headers_mut().set("x-subrequests", &config.subrequests().to_string());
    if let Some(origin) = origin {
        let headers = response.headers_mut();
        if method == Method::Options {
            access::preflight_headers(headers, &origin)?;
        } else {
            access::cors_headers(headers, &origin)?;
        }
    }
    // One line a request; the path carries no secret (keys and tokens travel in headers/bodies).
    worker::console_log!("{} {} {}", method.as_ref(), path, response.status_code());
    Ok(response)
}

/// Percent-decodes one path segment (order ids may be escaped); bytes that are not UTF-8 become
/// U+FFFD, and a `%` not followed by two hex digits stays as it is.
fn decode_segment(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

async fn dispatch(req: &Request, env: &Env, config: &Config, path: &str) -> std::result::Result<Response, ApiError> {
    let segments: Vec<String> =
        path.trim_matches('/').split('/').filter(|s| !s.is_empty()).map(decode_segment).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method();
    if method == Method::Options {
        // Preflight: answered without a key (the CORS headers are added by the caller).
        return Ok(Response::empty()?.with_status(204).with_headers(Headers::new()));
    }
    let known = matches!(
        segments.as_slice(),
        ["healthz"]
            | ["v1", "aftersales"]
            | ["v1", "aftersales", "export"]
            | ["v1", "aftersales", _]
            | ["v1", "orders", _]
            | ["v1", "orders", _, "aftersales"]
            | ["v1", "sandbox", "orders"]
    );
    if !known {
        return Err(ApiError::not_found(format!(
            "no route {path}; see /healthz, /v1/aftersales, /v1/aftersales/export, /v1/orders/{{order_id}}"
        )));
    }
    if method != Method::Get && method != Method::Head {
        return Err(ApiError::new(
            aftersale::ErrorCode::NotFound,
            format!("{path} answers GET only, not {}", method.as_ref()),
        ));
    }
    if segments != ["healthz"] {
        access::authorize(req, config)?;
    }
    match segments.as_slice() {
        ["healthz"] => routes::health(config),
        ["v1", "aftersales"] => routes::list_aftersales(req, env, config).await,
        ["v1", "aftersales", "export"] => routes::export_aftersales(req, env, config).await,
        ["v1", "aftersales", aftersale_id] => routes::aftersale(req, env, config, aftersale_id).await,
        ["v1", "orders", order_id, "aftersales"] => routes::order_aftersales(req, env, config, order_id).await,
        ["v1", "orders", order_id] => routes::order(req, env, config, order_id).await,
        ["v1", "sandbox", "orders"] => routes::sandbox_orders(config),
        _ => Err(ApiError::not_found(format!("no route {path}"))),
    }
}
