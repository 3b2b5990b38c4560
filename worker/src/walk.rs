//! The list and export of upstreams that list ids only (`Paging::NextKey`, WeChat Channels):
//! the core's `IdWalk` plans the calls — a page of ids in a day window, then one lookup per id —
//! and this file makes them through the account object, the lookups a few at a time.
//!
//! One answer of `GET /v1/aftersales` is one upstream page of ids and their records (the
//! upstream's page size is its own: `limit` does not apply); its cursor is sealed only once
//! every lookup of the page is in, so a failed answer can be retried with the same cursor.

use std::rc::Rc;

use aftersale::call::CallSpec;
use aftersale::cursor;
use aftersale::paginate::{IdWalk, PagerState, EXPECTED_PAGE_IDS};
use aftersale::query::ListQuery;
use aftersale::upstream::Paging;
use aftersale::{normalize_page, NormalizeOptions, Platform};
use futures_util::stream::{self, StreamExt};
use worker::{Env, Response};

use crate::api_error::ApiError;
use crate::config::Config;
use crate::routes::{call_account, json_response};

type Answer = Result<Response, ApiError>;

/// Lookups in flight at once for one answer: the account object paces them all anyway; this
/// bounds what one answer holds open.
const LOOKUPS_IN_FLIGHT: usize = 4;

/// Upstream pages one list answer may read looking for records (ids already delivered, details
/// that left their window and local filters can leave a page with nothing to show).
const MAX_PAGES_PER_ANSWER: usize = 5;

/// The upstream calls the request's subrequest budget still holds: a lease and a fetch each,
/// and one subrequest kept for the invocation's closing report.
pub fn calls_left(config: &Config) -> u32 {
    config.subrequests_left().saturating_sub(1) / 2
}

/// Whether the request's subrequest budget holds another page: the list call and each of its
/// lookups.
fn room_for_page(config: &Config, largest_page: usize) -> bool {
    calls_left(config) as usize > largest_page.max(EXPECTED_PAGE_IDS as usize)
}

/// The answers to these lookups of one platform, in order, a few in flight at once; `Ok(None)`
/// for an id the upstream does not know (deleted after it was listed: not an after-sale any more).
pub async fn look_up(
    env: &Env,
    config: &Config,
    platform: Platform,
    lookups: Vec<CallSpec>,
) -> Vec<Result<Option<String>, ApiError>> {
    let upstream = platform.upstream();
    stream::iter(lookups)
        .map(|spec| call_account(env, config, platform, spec))
        .buffered(LOOKUPS_IN_FLIGHT)
        .map(|answer| match answer {
            Ok(body) => Ok(Some(body)),
            Err(e) if e.upstream.as_ref().is_some_and(|u| upstream.is_gone(&u.code)) => Ok(None),
            Err(e) => Err(e),
        })
        .collect()
        .await
}

/// Whether the query's platform is listed by this walk rather than the position pager.
pub fn serves(query: &ListQuery) -> bool {
    query.list_scheme().is_ok_and(|s| s.paging == Paging::NextKey)
}

fn options(query: &ListQuery) -> NormalizeOptions {
    NormalizeOptions {
        include_raw: query.include_raw,
        now_unix_s: Some((worker::Date::now().as_millis() / 1000) as i64),
    }
}

/// One page of ids and their records, as JSON texts in list order; `largest` keeps the largest
/// page of ids seen.
async fn page(
    walk: &mut IdWalk,
    env: &Env,
    config: &Config,
    opts: NormalizeOptions,
    largest: &mut usize,
) -> Result<Vec<String>, ApiError> {
    let Some(spec) = walk.next_list_call() else { return Ok(Vec::new()) };
    let platform = spec.platform();
    let upstream = platform.upstream();
    let body = call_account(env, config, platform, spec).await?;
    let ids = upstream.parse_ids(&body)?.into_owned();
    *largest = (*largest).max(ids.ids.len());
    let lookups = walk.handle_ids(ids);
    let mut out = Vec::new();
    for answer in look_up(env, config, platform, lookups).await {
        let Some(body) = answer? else { continue };
        for record in normalize_page(platform, &body, opts)?.records {
            if let Some(record) = walk.accept_detail(record) {
                out.push(serde_json::to_string(&record).map_err(|e| ApiError::internal(e.to_string()))?);
            }
        }
    }
    Ok(out)
}

/// `GET /v1/aftersales` for a walked platform.
pub async fn list(env: &Env, config: &Config, query: ListQuery, state: Option<PagerState>) -> Answer {
    config.account(query.platform)?;
    let opts = options(&query);
    let mut walk = match state {
        Some(s) => IdWalk::resume(query, s)?,
        None => IdWalk::new(query)?,
    };
    let mut records = Vec::new();
    let mut largest = 0;
    for _ in 0..MAX_PAGES_PER_ANSWER {
        // A page past the request's subrequest budget waits for the next request (its cursor).
        if walk.is_done() || !room_for_page(config, largest) {
            break;
        }
        records.extend(page(&mut walk, env, config, opts, &mut largest).await?);
        if !records.is_empty() {
            break;
        }
    }
    let next_cursor = if walk.is_done() {
        String::from("null")
    } else {
        format!("\"{}\"", cursor::seal(config.cursor_key()?, walk.query(), walk.state()))
    };
    // No total: the upstream counts nothing.
    json_response(format!(r#"{{"data":[{}],"next_cursor":{next_cursor},"total":null}}"#, records.join(",")))
}

/// `GET /v1/aftersales/export` for a walked platform: every page, NDJSON, the same lines as the
/// position pager's export (records, then `{"done":true,"count":N}`, `{"continue":"<cursor>"}`
/// when the next page would pass the request's subrequest budget, or an `{"error":...}` line).
/// The first page is read before answering, so a failing query gets a proper error status.
pub async fn export(env: &Env, config: &Config, query: ListQuery, state: Option<PagerState>) -> Answer {
    config.account(query.platform)?;
    let key = config.cursor_key()?.clone(); // a continuation needs one
    let opts = options(&query);
    let mut walk = match state {
        Some(s) => IdWalk::resume_export(query, s)?,
        None => IdWalk::for_export(query)?,
    };
    let mut largest = 0;
    let first = page(&mut walk, env, config, opts, &mut largest).await?;
    let start = Export {
        walk,
        env: env.clone(),
        config: Rc::new(config.clone()),
        opts,
        count: first.len(),
        pending: Some(first),
        finished: false,
        largest,
        key,
    };
    let lines = stream::unfold(start, |mut ex| async move {
        loop {
            if let Some(records) = ex.pending.take().filter(|r| !r.is_empty()) {
                let mut chunk = records.join("\n");
                chunk.push('\n');
                return Some((Ok::<Vec<u8>, worker::Error>(chunk.into_bytes()), ex));
            }
            if ex.finished {
                return None;
            }
            if ex.walk.is_done() {
                ex.finished = true;
                return Some((Ok(format!("{{\"done\":true,\"count\":{}}}\n", ex.count).into_bytes()), ex));
            }
            if !room_for_page(&ex.config, ex.largest) {
                // At a page boundary: the same route with this cursor goes on from here.
                ex.finished = true;
                let cursor = cursor::seal(&ex.key, ex.walk.query(), ex.walk.state());
                return Some((Ok(format!("{{\"continue\":\"{cursor}\"}}\n").into_bytes()), ex));
            }
            match page(&mut ex.walk, &ex.env, &ex.config, ex.opts, &mut ex.largest).await {
                Ok(records) => {
                    ex.count += records.len();
                    ex.pending = Some(records);
                }
                Err(e) => {
                    ex.finished = true;
                    return Some((Ok(format!("{}\n", e.to_json()).into_bytes()), ex));
                }
            }
        }
    });
    crate::routes::ndjson_response(lines)
}

/// An export in progress.
struct Export {
    walk: IdWalk,
    env: Env,
    config: Rc<Config>,
    opts: NormalizeOptions,
    count: usize,
    pending: Option<Vec<String>>,
    finished: bool,
    largest: usize,
    key: aftersale::cursor::CursorKey,
}
