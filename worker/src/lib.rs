//! The aftersale proxy as a Cloudflare Worker (SPEC.md §3–§4): a thin driver of the core. It
//! checks who calls, hands list queries to the core's pager, has the account's Durable Object
//! make each upstream call, and answers the normalized JSON. Mapping, signing, pagination,
//! tokens and pacing all live in the `aftersale` crate.

mod access;
mod account_object;
mod api_error;
mod config;
mod mirror;
mod routes;
mod sandbox;
mod transport;
mod walk;
mod webhook;

pub use account_object::UpstreamAccount;

use worker::{event, Context, Env, Headers, Method, Request, Response, Result, ScheduleContext, ScheduledEvent};

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

/// The Cron Trigger: one sync invocation over every syncable platform, each within its budget;
/// the next trigger goes on where this one stopped.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let config = Config::from_env(&env);
    match mirror::sync_all(&env, &config, None).await {
        Ok(progress) => worker::console_log!("sync {progress}"),
        Err(e) => worker::console_log!("sync failed: {}", e.message),
    }
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
    // Webhooks carry no bearer key: the upstream's signature is their proof.
    if let ["v1", "webhooks", platform] = segments.as_slice() {
        return webhook::handle(req, env, config, platform).await;
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
            | ["v1", "sync"]
            | ["v1", "sync", "status"]
            | ["v1", "changes"]
            | ["v1", "changes", "stream"]
            | ["v1", "summary"]
    );
    if !known {
        return Err(ApiError::not_found(format!(
            "no route {path}; see /healthz, /v1/aftersales, /v1/aftersales/export, /v1/orders/{{order_id}}"
        )));
    }
    // `POST /v1/sync` starts a sync; everything else reads.
    let posts = segments == ["v1", "sync"];
    let allowed = if posts { method == Method::Post } else { method == Method::Get || method == Method::Head };
    if !allowed {
        return Err(ApiError::new(
            aftersale::ErrorCode::NotFound,
            format!("{path} answers {} only, not {}", if posts { "POST" } else { "GET" }, method.as_ref()),
        ));
    }
    if segments != ["healthz"] {
        access::authorize(req, config)?;
    }
    match segments.as_slice() {
        ["healthz"] => routes::health(config),
        ["v1", "aftersales"] if mirror::wants_mirror(&routes::query_pairs(req)?) => {
            mirror::list(req, env, config).await
        }
        ["v1", "aftersales"] => routes::list_aftersales(req, env, config).await,
        ["v1", "aftersales", "export"] => routes::export_aftersales(req, env, config).await,
        ["v1", "aftersales", aftersale_id] => routes::aftersale(req, env, config, aftersale_id).await,
        ["v1", "orders", order_id, "aftersales"] => routes::order_aftersales(req, env, config, order_id).await,
        ["v1", "orders", order_id] => routes::order(req, env, config, order_id).await,
        ["v1", "sandbox", "orders"] => routes::sandbox_orders(config),
        ["v1", "sync"] => mirror::sync_route(req, env, config).await,
        ["v1", "sync", "status"] => mirror::sync_status(env, config).await,
        ["v1", "changes"] => mirror::changes(req, env).await,
        ["v1", "changes", "stream"] => mirror::changes_stream(req, env).await,
        ["v1", "summary"] => mirror::summary(req, env).await,
        _ => Err(ApiError::not_found(format!("no route {path}"))),
    }
}
