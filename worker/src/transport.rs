//! Sends the core's plain requests: over `fetch` to the real upstreams, or to the in-process
//! sandbox. Errors never carry the URL's secrets.

use std::time::Duration;

use aftersale::http::{Method as CoreMethod, RedactedUrl, Request as CoreRequest, Response as CoreResponse};
use futures_util::future::{select, Either};
use worker::{AbortController, Delay, Fetch, Headers, Method, Request, RequestInit};

use crate::sandbox;

/// Sends `request`, giving up on its answer after `timeout` (then the call counts as failed and
/// may be retried; a leased call's timeout ends before its lease does).
pub async fn send(
    request: &CoreRequest,
    sandboxed: bool,
    now_ms: u64,
    timeout: Duration,
) -> Result<CoreResponse, String> {
    if sandboxed {
        return sandbox::answer(request, now_ms);
    }
    let headers = Headers::new();
    for (name, value) in &request.headers {
        headers.set(name, value).map_err(|_| format!("bad header {name}"))?;
    }
    let mut init = RequestInit::new();
    init.with_method(match request.method {
        CoreMethod::Get => Method::Get,
        CoreMethod::Post => Method::Post,
    })
    .with_headers(headers);
    if !request.body.is_empty() {
        init.with_body(Some(js_sys::Uint8Array::from(request.body.as_slice()).into()));
    }
    let redacted = RedactedUrl(&request.url).to_string();
    let outbound =
        Request::new_with_init(&request.url, &init).map_err(|_| format!("invalid upstream URL {redacted}"))?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(outbound);
    let sending = Box::pin(fetch.send_with_signal(&signal));
    let deadline = Box::pin(Delay::from(timeout));
    let mut response = match select(sending, deadline).await {
        Either::Left((Ok(r), _)) => r,
        Either::Left((Err(_), _)) => return Err(format!("network error reaching {redacted}")),
        Either::Right(_) => {
            controller.abort();
            return Err(format!("no answer from {redacted} within {} ms", timeout.as_millis()));
        }
    };
    let status = response.status_code();
    let retry_after_ms = response
        .headers()
        .get("retry-after")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| s * 1000);
    let body = response.text().await.map_err(|_| format!("the answer from {redacted} could not be read"))?;
    Ok(CoreResponse { status, body, retry_after_ms })
}
