//! The aftersale proxy as a Cloudflare Worker (SPEC.md §3–§4): a thin driver of the core. It
//! checks who calls, hands list queries to the core's pager, has the account's Durable Object
//! make each upstream call, and answers the normalized JSON. Mapping, signing, pagination,
//! tokens and pacing all live in the `aftersale` crate.

mod access;
mod account_object;
mod api_error;
mod config;
mod mirror;
mod quota;
mod routes;
mod sandbox;
mod scope;
mod session;
mod storefront;
mod transport;
mod walk;
mod webhook;

pub use account_object::UpstreamAccount;
pub use quota::CallerQuota;

use worker::{event, Context, Env, Headers, Request, Response, Result, ScheduleContext, ScheduledEvent};

use crate::api_error::{Allow, ApiError};
use crate::config::Config;
use crate::quota::QuotaConfig;
use crate::scope::Route;
use crate::session::SessionConfig;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let config = Config::from_env(&env);
    let method = req.inner().method();
    let path = req.path();
    let origin = match access::check_origin(&req, &config) {
        Ok(o) => o,
        // A foreign origin gets an error and no CORS grant, so its page cannot read even that.
        Err(e) => return e.to_response(),
    };
    let mut response = match dispatch(req, &env, &config, &path).await {
        Ok(r) => r,
        Err(e) => e.to_response()?,
    };
    // Reports the invocation still owes the account objects (an export's stream sends its own).
    routes::flush_reports(&env, &config).await;
    // Object calls and upstream fetches this invocation made (an export's stream logs its own).
    let _ = response.headers_mut().set("x-subrequests", &config.subrequests().to_string());
    if let Some(origin) = origin {
        let headers = response.headers_mut();
        if method == "OPTIONS" {
            access::preflight_headers(headers, &origin)?;
        } else {
            access::cors_headers(headers, &origin)?;
        }
    }
    // One line a request; the path carries no secret (keys and tokens travel in headers/bodies).
    worker::console_log!("{} {} {}", method, path, response.status_code());
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
    routes::flush_reports(&env, &config).await;
}

/// Percent-decodes one path segment (order ids may be escaped); bytes that are not UTF-8 become
/// U+FFFD, and a `%` not followed by two hex digits stays as it is.
fn decode_segment(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// The methods a route answers: minting, signing in and starting a sync post, the rest reads.
fn allowed_methods(route: Route, segments: &[&str]) -> Allow {
    match (route, segments) {
        (Route::MintSession | Route::Login, _) | (_, ["v1", "sync"]) => Allow::Post,
        _ => Allow::Read,
    }
}

async fn dispatch(req: Request, env: &Env, config: &Config, path: &str) -> std::result::Result<Response, ApiError> {
    let segments: Vec<String> =
        path.trim_matches('/').split('/').filter(|s| !s.is_empty()).map(decode_segment).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    // The method as sent: the runtime's enum reads methods it does not know (PROPFIND) as GET.
    let method = req.inner().method().to_ascii_uppercase();
    // Webhooks carry no bearer key: the upstream's signature is their proof.
    if let ["v1", "webhooks", platform] = segments.as_slice() {
        return webhook::handle(&req, env, config, platform).await;
    }
    let route = match segments.as_slice() {
        ["healthz"] | ["v1", "sandbox", "orders"] => Route::Health,
        ["v1", "aftersales"]
        | ["v1", "aftersales", "export"]
        | ["v1", "sync"]
        | ["v1", "sync", "status"]
        | ["v1", "changes"]
        | ["v1", "changes", "stream"]
        | ["v1", "summary"] => Route::MerchantWide,
        ["v1", "aftersales", _] | ["v1", "orders", _] | ["v1", "orders", _, "aftersales"] => Route::Lookup,
        ["v1", "me", "aftersales"] => Route::Me,
        ["v1", "sessions"] => Route::MintSession,
        ["v1", "sessions", kind] if storefront::is_login_kind(kind) => Route::Login,
        _ => {
            return Err(ApiError::not_found(format!(
                "no route {path}; see /healthz, /v1/aftersales, /v1/aftersales/export, /v1/orders/{{order_id}}, /v1/me/aftersales, \
                 /v1/sessions, /v1/changes, /v1/summary, /v1/sync"
            )))
        }
    };
    if method == "OPTIONS" {
        // Preflight: answered without a key (the CORS headers are added by the caller).
        return Ok(Response::empty()?.with_status(204).with_headers(Headers::new()));
    }
    let allowed = allowed_methods(route, &segments);
    if !allowed.header().split(", ").any(|m| m == method) {
        return Err(ApiError::method_not_allowed(
            format!("{path} answers {}, not {method}", allowed.header()),
            allowed,
        ));
    }
    // One value per parameter on every route: a repeated one is ambiguous, so it is refused.
    let url = req.url()?;
    let mut seen: Vec<String> = Vec::new();
    for (k, _) in url.query_pairs() {
        if seen.iter().any(|s| *s == k) {
            return Err(ApiError::invalid_request(&k, "is given more than once; give it once"));
        }
        seen.push(k.into_owned());
    }
    let sessions = SessionConfig::from_env(env, config.sandbox);
    match route {
        Route::Health => {
            return match segments.as_slice() {
                ["healthz"] => routes::health(config),
                _ => {
                    // The sandbox's example orders name every buyer: merchant-only.
                    access::authorize(&req, config, &sessions, storefront::now_s())?
                        .allow_route(Route::MerchantWide)?;
                    routes::sandbox_orders(config)
                }
            };
        }
        Route::Login => {
            // No key: a mini program has none. Counted per client address instead.
            let quotas = QuotaConfig::from_env(env)?;
            let address = req.headers().get("cf-connecting-ip").ok().flatten().unwrap_or_else(|| String::from("local"));
            quota::charge_login(env, &quotas, &address).await?;
            let [_, _, kind] = segments.as_slice() else { return Err(ApiError::not_found(path.to_string())) };
            let kind = kind.to_string();
            return storefront::login(req, config, &sessions, &kind).await;
        }
        _ => {}
    }
    let caller = access::authorize(&req, config, &sessions, storefront::now_s())?;
    caller.allow_route(route)?;
    let quotas = QuotaConfig::from_env(env)?;
    // Both quotas are taken before any upstream call is spent.
    quota::charge_caller(env, &quotas, &caller).await?;
    if let (Route::Lookup, Some(s)) = (route, caller.session()) {
        quota::charge_share(env, config, &quotas, &caller, s.platform, 1).await?;
    }
    match segments.as_slice() {
        ["v1", "sessions"] => storefront::mint(req, &sessions).await,
        ["v1", "me", "aftersales"] => storefront::my_aftersales(&req, env, config, &sessions, &quotas, &caller).await,
        ["v1", "aftersales"] if mirror::wants_mirror(&routes::query_pairs(&req)?) => {
            mirror::list(&req, env, config).await
        }
        ["v1", "aftersales"] => routes::list_aftersales(&req, env, config).await,
        ["v1", "aftersales", "export"] => routes::export_aftersales(&req, env, config).await,
        ["v1", "aftersales", aftersale_id] => routes::aftersale(&req, env, config, &caller, aftersale_id).await,
        ["v1", "orders", order_id, "aftersales"] => {
            routes::order_aftersales(&req, env, config, &caller, order_id).await
        }
        ["v1", "orders", order_id] => routes::order(&req, env, config, &caller, order_id).await,
        ["v1", "sync"] => mirror::sync_route(&req, env, config).await,
        ["v1", "sync", "status"] => mirror::sync_status(env, config).await,
        ["v1", "changes"] => mirror::changes(&req, env).await,
        ["v1", "changes", "stream"] => mirror::changes_stream(&req, env).await,
        ["v1", "summary"] => mirror::summary(&req, env).await,
        _ => Err(ApiError::not_found(format!("no route {path}"))),
    }
}
