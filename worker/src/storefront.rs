//! The storefront routes (SPEC.md §10): minting buyer sessions, and a session's own after-sales.
//!
//! - `POST /v1/sessions` (secret key) `{platform, openid | user_id, ttl_s?}`;
//! - `POST /v1/sessions/{kind}` (no key) `{code, platform?, ttl_s?}`: a mini program's login
//!   code, exchanged with the upstream of account kind `kind` that serves sign-in;
//! - `GET /v1/me/aftersales[?from&to&status&kind&order_id&limit&cursor]`: the session's buyer's
//!   after-sales on its platform, newest first, paged (cursors bound to the buyer).

use aftersale::cursor;
use aftersale::paginate::Pager;
use aftersale::query::ListQuery;
use aftersale::upstream::classify_response;
use aftersale::{normalize_page, Date, NormalizeOptions, Platform};
use serde::Deserialize;
use worker::{Env, Request, Response};

use crate::api_error::ApiError;
use crate::config::Config;
use crate::quota::{self, QuotaConfig};
use crate::routes::{call_account, json_response};
use crate::scope::{self, Caller};
use crate::session::{BuyerId, Session, SessionConfig, DEFAULT_TTL_S};
use crate::transport;

/// How long the login-code exchange may take.
const LOGIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

type Answer = Result<Response, ApiError>;

/// Upstream pages one `/v1/me/aftersales` answer may read looking for the buyer's records.
const MAX_UPSTREAM_PAGES: usize = 5;
/// The range `/v1/me/aftersales` covers when the caller names none: the last 90 China days.
const DEFAULT_DAYS: i64 = 90;
const MAX_BUYER_ID_LEN: usize = 128;

pub fn now_s() -> u64 {
    worker::Date::now().as_millis() / 1000
}

async fn body_json<T: for<'de> Deserialize<'de>>(req: &mut Request) -> Result<T, ApiError> {
    let text = req.text().await?;
    serde_json::from_str(&text).map_err(|e| ApiError::invalid_request("body", format!("is not the expected JSON: {e}")))
}

fn session_answer(token: &str, platform: Platform, buyer: &BuyerId, ttl_s: u64, now: u64) -> Answer {
    let body = serde_json::json!({
        "session": token,
        "platform": platform.as_str(),
        buyer.field(): buyer.value(),
        "expires_in": ttl_s,
        "expires_at": now + ttl_s,
    });
    json_response(body.to_string())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MintBody {
    platform: String,
    openid: Option<String>,
    user_id: Option<String>,
    ttl_s: Option<u64>,
}

fn buyer_id(openid: Option<String>, user_id: Option<String>) -> Result<BuyerId, ApiError> {
    let buyer = match (openid, user_id) {
        (Some(o), None) => BuyerId::Openid(o),
        (None, Some(u)) => BuyerId::UserId(u),
        (Some(_), Some(_)) => return Err(ApiError::invalid_request("openid", "give openid or user_id, not both")),
        (None, None) => {
            return Err(ApiError::invalid_request("openid", "a session is for one buyer: give openid or user_id"))
        }
    };
    let v = buyer.value();
    if v.trim().is_empty() || v.len() > MAX_BUYER_ID_LEN || v.chars().any(char::is_control) {
        return Err(ApiError::invalid_request(
            buyer.field(),
            format!("must be 1 to {MAX_BUYER_ID_LEN} printable characters"),
        ));
    }
    Ok(buyer)
}

/// `POST /v1/sessions`: the merchant's server mints a session for one of its buyers.
pub async fn mint(mut req: Request, sessions: &SessionConfig) -> Answer {
    let body: MintBody = body_json(&mut req).await?;
    let platform: Platform = body.platform.parse()?;
    let buyer = buyer_id(body.openid, body.user_id)?;
    let ttl = body.ttl_s.unwrap_or(DEFAULT_TTL_S);
    let now = now_s();
    let token = sessions.mint(platform, &buyer, ttl, now)?;
    session_answer(&token, platform, &buyer, ttl, now)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    code: String,
    platform: Option<String>,
    ttl_s: Option<u64>,
}

/// The platforms of account kind `kind` whose upstream signs buyers in by login code.
fn login_platforms(kind: &str) -> Vec<Platform> {
    Platform::ALL.into_iter().filter(|p| p.upstream().account_kind() == kind && p.upstream().serves_login()).collect()
}

/// Whether `kind` names an upstream that signs buyers in (for the router).
pub fn is_login_kind(kind: &str) -> bool {
    !login_platforms(kind).is_empty()
}

/// `POST /v1/sessions/{kind}`: a mini program's `wx.login()` code (or the like) becomes a
/// session for the buyer the upstream says it belongs to. The upstream's session key is
/// dropped unread; only the buyer's id is kept.
pub async fn login(mut req: Request, config: &Config, sessions: &SessionConfig, kind: &str) -> Answer {
    let body: LoginBody = body_json(&mut req).await?;
    let platforms = login_platforms(kind);
    let platform = match body.platform {
        None => {
            *platforms.first().ok_or_else(|| ApiError::not_found(format!("no sign-in by login code for {kind}")))?
        }
        Some(p) => {
            let p: Platform = p.parse()?;
            if !platforms.contains(&p) {
                let names: Vec<&str> = platforms.iter().map(|p| p.as_str()).collect();
                return Err(ApiError::invalid_request(
                    "platform",
                    format!("is one of {} here, not {p}", names.join(", ")),
                ));
            }
            p
        }
    };
    let ttl = body.ttl_s.unwrap_or(DEFAULT_TTL_S);
    // Checked before the code is spent: a bad ttl must not cost the buyer a sign-in.
    if ttl == 0 || ttl > crate::session::MAX_TTL_S {
        return Err(ApiError::invalid_request(
            "ttl_s",
            format!("{ttl} is not from 1 to {} seconds", crate::session::MAX_TTL_S),
        ));
    }
    let upstream = platform.upstream();
    let account = config.account(platform)?;
    let request = upstream.login_request(&account, &body.code)?;
    let now_ms = worker::Date::now().as_millis();
    let response = transport::send(&request, config.sandbox, now_ms, LOGIN_TIMEOUT)
        .await
        .map_err(|e| ApiError::new(aftersale::ErrorCode::UpstreamUnavailable, format!("{platform} sign-in: {e}")))?;
    if let Err(e) = classify_response(upstream, &response) {
        // An envelope error is read by parse_login (a refused code is the caller's 400).
        if !(200..300).contains(&response.status) {
            return Err(aftersale::Error::Upstream(e).into());
        }
    }
    let openid = upstream.parse_login(&response.body)?;
    let buyer = BuyerId::Openid(openid);
    let now = now_s();
    let token = sessions.mint(platform, &buyer, ttl, now)?;
    session_answer(&token, platform, &buyer, ttl, now)
}

/// `GET /v1/me/aftersales`: the session's buyer's after-sales, newest first, paged. Runs the
/// platform's list with the buyer's filter applied to what comes back (the upstream lists take
/// no buyer), reading at most a few upstream pages per answer; each upstream call is taken
/// from the storefront share first.
pub async fn my_aftersales(
    req: &Request,
    env: &Env,
    config: &Config,
    sessions: &SessionConfig,
    quotas: &QuotaConfig,
    caller: &Caller,
) -> Answer {
    let session = caller.session().ok_or_else(|| ApiError::internal("my_aftersales without a session"))?;
    let pairs: Vec<(String, String)> =
        req.url()?.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let (query, state) = me_query(&pairs, config, sessions, session, caller)?;
    config.account(query.platform)?;
    let platform = query.platform;
    let opts = NormalizeOptions { include_raw: false, now_unix_s: Some(now_s() as i64) };
    let mut pager = match state {
        Some(s) => Pager::resume(query, s)?,
        None => Pager::new(query)?,
    };
    let mut data = Vec::new();
    for n in 0..MAX_UPSTREAM_PAGES {
        let Some(spec) = pager.next_call() else { break };
        match quota::charge_share(env, config, quotas, caller, platform, 1).await {
            Ok(()) => {}
            // Past the first page, the share running out ends this answer early, cursor kept.
            Err(_) if n > 0 => break,
            Err(e) => return Err(e),
        }
        let body = call_account(env, config, platform, spec).await?;
        let page = normalize_page(platform, &body, opts)?;
        for mut r in pager.handle_page(page) {
            if scope::buyer_field(&r.buyer, session.buyer.field()) == Some(session.buyer.value()) {
                scope::strip_record(&mut r);
                data.push(serde_json::to_string(&r).map_err(|e| ApiError::internal(e.to_string()))?);
            }
        }
        if !data.is_empty() {
            break;
        }
    }
    let next_cursor = if pager.is_done() {
        String::from("null")
    } else {
        let sealed = cursor::seal(config.cursor_key()?, pager.query(), pager.state());
        serde_json::to_string(&sessions.bind_cursor(session, &sealed)?)
            .map_err(|e| ApiError::internal(e.to_string()))?
    };
    json_response(format!(r#"{{"data":[{}],"next_cursor":{next_cursor},"total":null}}"#, data.join(",")))
}

const ME_PARAMETERS: &[&str] =
    &["from", "to", "status", "kind", "order_id", "limit", "cursor", "platform", "include_raw"];

/// The list query of a `/v1/me/aftersales` request: the session's platform, the caller's
/// filters, and by default the last 90 days; or the query its bound cursor carries.
fn me_query(
    pairs: &[(String, String)],
    config: &Config,
    sessions: &SessionConfig,
    session: &Session,
    caller: &Caller,
) -> Result<(ListQuery, Option<aftersale::paginate::PagerState>), ApiError> {
    if let Some((k, _)) = pairs.iter().find(|(k, _)| !ME_PARAMETERS.contains(&k.as_str())) {
        return Err(ApiError::invalid_request(
            "query",
            format!("unknown parameter {k:?}; expected one of {}", ME_PARAMETERS.join(", ")),
        ));
    }
    for (k, v) in pairs {
        match k.as_str() {
            "platform" => caller.check_platform(v.parse()?)?,
            "include_raw" => caller.check_raw(v == "true" || v == "1")?,
            _ => {}
        }
    }
    if let Some((_, bound)) = pairs.iter().find(|(k, _)| k == "cursor") {
        if pairs.iter().any(|(k, _)| k != "cursor" && k != "platform") {
            return Err(ApiError::invalid_request("cursor", "send it alone: it carries the whole query"));
        }
        let inner = sessions.open_cursor(session, bound)?;
        let (query, state) = cursor::open(config.cursor_key()?, inner)?;
        caller.check_platform(query.platform)?;
        return Ok((query, Some(state)));
    }
    let today = china_today();
    let mut params: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(k, _)| k != "platform" && k != "include_raw")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let default_to = today.add_days(1).to_string();
    let default_from = today.add_days(1 - DEFAULT_DAYS).to_string();
    if !params.iter().any(|(k, _)| *k == "to") {
        params.push(("to", &default_to));
    }
    if !params.iter().any(|(k, _)| *k == "from") {
        params.push(("from", &default_from));
    }
    let platform = session.platform.as_str();
    params.push(("platform", platform));
    Ok((ListQuery::from_params(params)?, None))
}

/// Today's date in China (UTC+8), the clock of `from`/`to`.
fn china_today() -> Date {
    let days = (worker::Date::now().as_millis() / 1000 + 8 * 3600) / 86_400;
    Date::from_days_since_epoch(days as i64)
}
