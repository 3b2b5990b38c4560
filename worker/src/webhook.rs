//! `POST/GET /v1/webhooks/{platform}`: pushes from upstreams that push (WeChat Channels), for
//! any platform whose description has push keys. No bearer key: the upstream's signature is the
//! proof, checked by the core's `Upstream::open_push` with the clock (a timestamp more than five
//! minutes from now is a replay). Whatever fails to prove itself is 401 and changes nothing.

use aftersale::call::CallSpec;
use aftersale::upstream::{Lookup, PushEvent, PushRequest};
use aftersale::{normalize_page, NormalizeOptions, Platform};
use worker::{Env, Headers, Method, Request, Response};

use crate::api_error::ApiError;
use crate::config::Config;
use crate::routes::call_account;

type Answer = Result<Response, ApiError>;

fn text(body: &str) -> Answer {
    let headers = Headers::new();
    headers.set("content-type", "text/plain; charset=utf-8")?;
    Ok(Response::ok(body)?.with_headers(headers))
}

pub async fn handle(req: &Request, env: &Env, config: &Config, platform: &str) -> Answer {
    let platform: Platform = platform.parse()?;
    let upstream = platform.upstream();
    if upstream.push_keys().is_empty() {
        return Err(ApiError::not_found(format!("{platform} pushes nothing: there is no webhook for it")));
    }
    let method = req.method();
    if method != Method::Get && method != Method::Post {
        return Err(ApiError::not_found(format!("the webhook answers GET and POST only, not {}", method.as_ref())));
    }
    let keys = config.push_credentials(platform)?;
    let query: Vec<(String, String)> =
        req.url()?.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let body = if method == Method::Post { req.clone()?.text().await? } else { String::new() };
    let now_unix_s = (worker::Date::now().as_millis() / 1000) as i64;
    let request = PushRequest { method_is_post: method == Method::Post, query: &query, body: &body, now_unix_s };
    let event = upstream.open_push(&keys, request).map_err(|e| {
        // Never the body or the query: they are the sender's, and proven to be nothing.
        worker::console_log!("webhook {platform}: refused: {e}");
        ApiError::from(e)
    })?;
    match event {
        PushEvent::UrlCheck { echostr } => text(&echostr),
        PushEvent::AfterSaleChanged { aftersale_id, status } => {
            // Fetched now so the push is checked against the upstream's record, and upserted
            // into the mirror (SPEC §9), whose change feed then has it once. A failed fetch or
            // store is an error answer, so the upstream pushes again later.
            let spec = CallSpec::lookup(platform, Lookup::AfterSale { aftersale_id: aftersale_id.clone() });
            match call_account(env, config, platform, spec).await {
                Ok(body) => {
                    let opts = NormalizeOptions { include_raw: false, now_unix_s: Some(now_unix_s) };
                    let page = normalize_page(platform, &body, opts)?;
                    crate::mirror::keep(env, &page.records).await?;
                    for r in &page.records {
                        worker::console_log!(
                            "webhook {platform}: after-sale {} is {} (pushed status {})",
                            r.aftersale_id,
                            r.status.as_str(),
                            status.as_deref().unwrap_or("-")
                        );
                    }
                }
                Err(e) if e.upstream.as_ref().is_some_and(|u| upstream.is_gone(&u.code)) => {
                    worker::console_log!("webhook {platform}: after-sale {aftersale_id} is gone");
                }
                Err(e) => return Err(e),
            }
            text("success")
        }
        PushEvent::Other { event } => {
            worker::console_log!("webhook {platform}: event {event} acknowledged");
            text("success")
        }
    }
}
