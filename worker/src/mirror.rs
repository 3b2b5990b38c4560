//! The mirror (SPEC.md §9) in D1 (binding `DB`, schema in `migrations/`): the sync driver that
//! runs the core's `SyncRun` against the upstreams and stores each page with its checkpoint in
//! one batch (a D1 batch is a transaction), and the routes that read the mirror: every platform
//! at once, the change feed, the sync status. Rows change — and the change log gets an entry,
//! written by the table's own triggers — only when a record's content hash changed.

use aftersale::cursor;
use aftersale::protocol::sync::{MirrorRow, SyncRun, SyncSettings, SyncState, SyncStep};
use aftersale::time::Timestamp;
use aftersale::{normalize_page, Platform};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Env, Headers, Request, Response};

use crate::api_error::ApiError;
use crate::config::Config;
use crate::routes::{call_account, json_response, normalize_options, query_pairs, reject_unknown, single};

type Answer = Result<Response, ApiError>;

/// Upstream calls one sync invocation may make per platform, by default: with the lease request
/// each makes, inside the free plan's 50 subrequests for two listed platforms.
const DEFAULT_SYNC_CALLS: u32 = 10;
/// A call may take a lease and a fetch, plus the invocation's closing reports: below this much
/// room the sync stops where it is, as if its own budget were spent.
const SUBREQUESTS_PER_CALL: u32 = 3;
/// How long an account's sync lease lives past its last renewal, by default (`SYNC_LEASE_S`).
/// The lease is renewed with every stored page, so it only has to outlive the time between two
/// checkpoints: one upstream call (the upstream lease gives up on it within `LEASE_TIMEOUT_MS`,
/// 35 s) and the page's store. A run that died blocks the next one this long after its last page.
pub const DEFAULT_SYNC_LEASE_S: i64 = 60;
const DEFAULT_CHANGES_LIMIT: u32 = 100;
const MAX_CHANGES_LIMIT: u32 = 1000;

fn now_s() -> i64 {
    (worker::Date::now().as_millis() / 1000) as i64
}

fn db_error(e: worker::Error) -> ApiError {
    ApiError::internal(format!("the mirror's database: {e}"))
}

fn text(s: &str) -> JsValue {
    JsValue::from_str(s)
}

fn opt_text(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, JsValue::from_str)
}

/// Integers through JavaScript numbers: exact up to 2^53, which unix seconds and minor units
/// of any refund stay far below (ids, which do not, are TEXT).
fn opt_int(n: Option<i64>) -> JsValue {
    n.map_or(JsValue::NULL, |n| JsValue::from_f64(n as f64))
}

pub struct Mirror {
    db: D1Database,
    /// The sync lease this handle took (owner, lifetime in seconds): each checkpoint it saves
    /// renews it, in the same batch, so a long run keeps it and a dead one loses it soon.
    held: std::cell::RefCell<Option<(String, i64)>>,
}

impl Mirror {
    pub fn open(env: &Env) -> Result<Mirror, ApiError> {
        env.d1("DB").map(|db| Mirror { db, held: Default::default() }).map_err(|_| {
            ApiError::internal(
                "the mirror needs a D1 binding `DB` (wrangler.toml [[d1_databases]]; see README, \"The mirror\")",
            )
        })
    }

    fn upsert(&self, row: &MirrorRow, now_s: i64) -> Result<D1PreparedStatement, ApiError> {
        self.db
            .prepare(
                "INSERT INTO aftersales (id, platform, aftersale_id, order_id, status, kind, created_s, updated_s, \
                 refunded_s, refund_minor, refund_currency, openid, user_id, search, json, hash, mirrored_s) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17) \
                 ON CONFLICT (id) DO UPDATE SET order_id = excluded.order_id, status = excluded.status, \
                 kind = excluded.kind, created_s = excluded.created_s, updated_s = excluded.updated_s, \
                 refunded_s = excluded.refunded_s, refund_minor = excluded.refund_minor, \
                 refund_currency = excluded.refund_currency, openid = excluded.openid, user_id = excluded.user_id, \
                 search = excluded.search, json = excluded.json, hash = excluded.hash, mirrored_s = excluded.mirrored_s \
                 WHERE aftersales.hash IS NOT excluded.hash",
            )
            .bind(&[
                text(&row.id),
                text(row.platform.as_str()),
                text(&row.aftersale_id),
                opt_text(row.order_id.as_deref()),
                text(row.status),
                text(row.kind),
                opt_int(row.created_s),
                opt_int(row.updated_s),
                opt_int(row.refunded_s),
                opt_int(row.refund_minor),
                opt_text(row.refund_currency.as_deref()),
                opt_text(row.openid.as_deref()),
                opt_text(row.user_id.as_deref()),
                text(&row.search),
                text(&row.json),
                text(&row.hash),
                JsValue::from_f64(now_s as f64),
            ])
            .map_err(db_error)
    }

    fn save_state(&self, account: &str, state: &SyncState) -> Result<D1PreparedStatement, ApiError> {
        let json = serde_json::to_string(state).map_err(|e| ApiError::internal(e.to_string()))?;
        let now = now_s();
        let (owner, lease_s) = self.held.borrow().clone().map_or((None, 0), |(o, s)| (Some(o), s));
        self.db
            .prepare(
                "INSERT INTO sync_state (account, platform, state, ran_s) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (account) DO UPDATE SET state = excluded.state, ran_s = excluded.ran_s, \
                 lease_until = CASE WHEN sync_state.lease_owner = ?5 THEN ?6 ELSE sync_state.lease_until END",
            )
            .bind(&[
                text(account),
                text(state.platform.as_str()),
                text(&json),
                JsValue::from_f64(now as f64),
                opt_text(owner.as_deref()),
                JsValue::from_f64((now + lease_s) as f64),
            ])
            .map_err(db_error)
    }

    /// Upserts records (from a sync page, a lookup or a push), with a checkpoint when a sync
    /// page brought them: all or nothing.
    pub async fn store(&self, rows: &[MirrorRow], checkpoint: Option<(&str, &SyncState)>) -> Result<(), ApiError> {
        let now = now_s();
        let mut batch = Vec::with_capacity(rows.len() + 1);
        for row in rows {
            batch.push(self.upsert(row, now)?);
        }
        if let Some((account, state)) = checkpoint {
            batch.push(self.save_state(account, state)?);
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.db.batch(batch).await.map_err(db_error)?;
        Ok(())
    }

    async fn load_state(&self, account: &str, platform: Platform) -> Result<SyncState, ApiError> {
        #[derive(Deserialize)]
        struct Row {
            state: String,
        }
        let row: Option<Row> = self
            .db
            .prepare("SELECT state FROM sync_state WHERE account = ?1")
            .bind(&[text(account)])
            .map_err(db_error)?
            .first(None)
            .await
            .map_err(db_error)?;
        match row {
            Some(r) => serde_json::from_str(&r.state)
                .map_err(|e| ApiError::internal(format!("the saved sync state of {account} cannot be read: {e}"))),
            None => Ok(SyncState::new(platform)),
        }
    }

    /// Takes the account's lease for `owner`, for `lease_s` seconds, unless another run holds one
    /// that has not expired: one conditional write, so two runs cannot both get it.
    async fn lease(
        &self,
        account: &str,
        platform: Platform,
        owner: &str,
        now_s: i64,
        lease_s: i64,
    ) -> Result<bool, ApiError> {
        let fresh = serde_json::to_string(&SyncState::new(platform)).map_err(|e| ApiError::internal(e.to_string()))?;
        let result = self
            .db
            .prepare(
                "INSERT INTO sync_state (account, platform, state, lease_until, lease_owner) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (account) DO UPDATE SET lease_until = excluded.lease_until, lease_owner = excluded.lease_owner \
                 WHERE sync_state.lease_until < ?6",
            )
            .bind(&[
                text(account),
                text(platform.as_str()),
                text(&fresh),
                JsValue::from_f64((now_s + lease_s) as f64),
                text(owner),
                JsValue::from_f64(now_s as f64),
            ])
            .map_err(db_error)?
            .run()
            .await
            .map_err(db_error)?;
        let taken = result.meta().map_err(db_error)?.and_then(|m| m.changes).unwrap_or(0) == 1;
        if taken {
            *self.held.borrow_mut() = Some((owner.to_string(), lease_s));
        }
        Ok(taken)
    }

    async fn release(&self, account: &str, owner: &str) -> Result<(), ApiError> {
        *self.held.borrow_mut() = None;
        self.db
            .prepare(
                "UPDATE sync_state SET lease_until = 0, lease_owner = NULL WHERE account = ?1 AND lease_owner = ?2",
            )
            .bind(&[text(account), text(owner)])
            .map_err(db_error)?
            .run()
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

/// Keeps what a lookup brought in the mirror (platforms without a list by updated time are
/// mirrored this way). Best effort: the caller's answer never waits on, or fails with, the
/// mirror; a failure is logged.
pub async fn remember(env: &Env, records: &[aftersale::AfterSale<'_>]) {
    if records.is_empty() {
        return;
    }
    if let Err(e) = keep(env, records).await {
        worker::console_log!("mirror: a lookup's records were not kept: {}", e.message);
    }
}

/// Keeps records in the mirror, or fails (a push must be answered with an error then, so the
/// upstream pushes it again).
pub async fn keep(env: &Env, records: &[aftersale::AfterSale<'_>]) -> Result<(), ApiError> {
    let mirror = Mirror::open(env)?;
    let rows = records.iter().map(MirrorRow::from_record).collect::<Result<Vec<_>, _>>()?;
    mirror.store(&rows, None).await
}

/// How one platform's sync went in this invocation.
#[derive(Serialize)]
pub struct SyncProgress {
    pub caught_up: bool,
    pub pages: u32,
    pub records: u32,
    pub watermark: Option<String>,
    /// Another run holds the account's lease: this one left it alone.
    pub busy: bool,
    pub error: Option<String>,
}

fn rfc3339(unix_s: i64) -> String {
    Timestamp::from_unix(unix_s, aftersale::time::CHINA_OFFSET_MINUTES).to_string()
}

/// The platforms a sync covers: those with a list by updated time that this proxy serves.
fn syncable(config: &Config, only: Option<Platform>) -> Vec<Platform> {
    Platform::ALL
        .into_iter()
        .filter(|p| only.is_none_or(|o| o == *p))
        .filter(|p| SyncRun::supports(*p) && config.account(*p).is_ok())
        .collect()
}

fn settings(config: &Config, now_ms: u64) -> SyncSettings {
    let mut s = SyncSettings::defaults(now_ms, config.sync.max_calls.unwrap_or(DEFAULT_SYNC_CALLS));
    if let Some(v) = config.sync.overlap_s {
        s.overlap_s = v;
    }
    if let Some(v) = config.sync.lag_s {
        s.lag_s = v;
    }
    if let Some(from) = config.sync.from {
        s.from = from;
    }
    s
}

/// One platform's sync, within the invocation's budget, under the account's lease.
async fn sync_platform(env: &Env, config: &Config, mirror: &Mirror, platform: Platform, owner: &str) -> SyncProgress {
    let mut progress =
        SyncProgress { caught_up: false, pages: 0, records: 0, watermark: None, busy: false, error: None };
    let account = match config.account(platform) {
        Ok(a) => a.key(),
        Err(e) => {
            progress.error = Some(e.message);
            return progress;
        }
    };
    let lease_s = config.sync.lease_s.unwrap_or(DEFAULT_SYNC_LEASE_S);
    match mirror.lease(&account, platform, owner, now_s(), lease_s).await {
        Ok(true) => {}
        Ok(false) => {
            progress.busy = true;
            return progress;
        }
        Err(e) => {
            progress.error = Some(e.message);
            return progress;
        }
    }
    let outcome = run_sync(env, config, mirror, platform, &account, &mut progress).await;
    if let Err(e) = outcome {
        progress.error = Some(e.message);
    }
    let _ = mirror.release(&account, owner).await;
    progress
}

async fn run_sync(
    env: &Env,
    config: &Config,
    mirror: &Mirror,
    platform: Platform,
    account: &str,
    progress: &mut SyncProgress,
) -> Result<(), ApiError> {
    let now_ms = worker::Date::now().as_millis();
    let state = mirror.load_state(account, platform).await?;
    let mut run = SyncRun::start(state, &settings(config, now_ms), now_ms)?;
    let step = loop {
        match run.next_step() {
            SyncStep::Call(_) if config.subrequests_left() < SUBREQUESTS_PER_CALL => {
                // The request's subrequest budget is spent: the next invocation goes on from the
                // last stored page (this call was not made, so nothing is lost).
                break SyncStep::OutOfBudget;
            }
            SyncStep::Call(spec) => {
                let body = match call_account(env, config, platform, spec).await {
                    Ok(body) => body,
                    Err(e) => {
                        // The checkpoint stays at the last stored page; the error is kept for the status.
                        run.fail(&aftersale::Error::Serialize(e.message.clone()));
                        mirror.store(&[], Some((account, &failed(run.checkpoint(), &e.message)))).await?;
                        return Err(e);
                    }
                };
                let page = normalize_page(platform, &body, normalize_options(false))?;
                let records = run.handle_page(page);
                let rows = records.iter().map(MirrorRow::from_record).collect::<Result<Vec<_>, _>>()?;
                mirror.store(&rows, Some((account, run.checkpoint()))).await?;
                progress.pages += 1;
                progress.records += rows.len() as u32;
            }
            other => break other,
        }
    };
    mirror.store(&[], Some((account, run.checkpoint()))).await?;
    progress.caught_up = step == SyncStep::CaughtUp;
    progress.watermark = run.checkpoint().watermark_s.map(rfc3339);
    progress.error.clone_from(&run.checkpoint().last_error);
    Ok(())
}

fn failed(state: &SyncState, why: &str) -> SyncState {
    SyncState { last_error: Some(why.to_string()), ..state.clone() }
}

/// Syncs every syncable platform (or one), each within its budget: the cron's work and
/// `POST /v1/sync`'s.
pub async fn sync_all(env: &Env, config: &Config, only: Option<Platform>) -> Result<String, ApiError> {
    let mirror = Mirror::open(env)?;
    let owner = format!("run-{}-{}", worker::Date::now().as_millis(), (js_sys::Math::random() * 1e9) as u64);
    let mut platforms = serde_json::Map::new();
    let mut done = true;
    for platform in syncable(config, only) {
        let progress = sync_platform(env, config, &mirror, platform, &owner).await;
        done &= progress.caught_up;
        platforms.insert(platform.as_str().into(), serde_json::to_value(&progress).unwrap_or_default());
    }
    serde_json::to_string(&serde_json::json!({"done": done, "platforms": platforms}))
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// `POST /v1/sync[?platform=P]`
pub async fn sync_route(req: &Request, env: &Env, config: &Config) -> Answer {
    let pairs = query_pairs(req)?;
    reject_unknown(&pairs, &["platform"])?;
    let only = match single(&pairs, "platform") {
        Some(p) => {
            let p: Platform = p.parse()?;
            if !SyncRun::supports(p) {
                return Err(ApiError::invalid_request(
                    "platform",
                    format!("{p} has no list by updated time: its mirror is fed by lookups and pushes"),
                ));
            }
            Some(p)
        }
        None => None,
    };
    json_response(sync_all(env, config, only).await?)
}

/// `GET /v1/sync/status`
pub async fn sync_status(env: &Env, config: &Config) -> Answer {
    let mirror = Mirror::open(env)?;
    #[derive(Deserialize)]
    struct Count {
        n: f64,
    }
    let mut platforms = serde_json::Map::new();
    for platform in syncable(config, None) {
        let account = config.account(platform)?.key();
        let state = mirror.load_state(&account, platform).await?;
        let rows: Option<Count> = mirror
            .db
            .prepare("SELECT COUNT(*) AS n FROM aftersales WHERE platform = ?1")
            .bind(&[text(platform.as_str())])
            .map_err(db_error)?
            .first(None)
            .await
            .map_err(db_error)?;
        let now = now_s();
        platforms.insert(
            platform.as_str().into(),
            serde_json::json!({
                "watermark": state.watermark_s.map(rfc3339),
                "lag_s": state.watermark_s.map(|w| now - w),
                "last_run": state.last_success_s.map(rfc3339),
                "in_progress": state.pass.is_some(),
                "last_error": state.last_error,
                "rows": rows.map_or(0, |c| c.n as u64),
            }),
        );
    }
    json_response(serde_json::json!({ "platforms": platforms }).to_string())
}

/// The change feed's query: after a sequence, some platforms, a page size.
struct ChangesQuery {
    after: u64,
    platforms: Vec<Platform>,
    limit: u32,
}

fn changes_query(pairs: &[(String, String)]) -> Result<ChangesQuery, ApiError> {
    reject_unknown(pairs, &["after", "platform", "limit"])?;
    let after = match single(pairs, "after") {
        None => 0,
        Some(a) => a.parse::<u64>().map_err(|_| {
            ApiError::invalid_request("after", format!("{a:?} is not a sequence number (a whole number ≥ 0)"))
        })?,
    };
    let platforms = platform_list(single(pairs, "platform").as_deref())?;
    let limit = match single(pairs, "limit") {
        None => DEFAULT_CHANGES_LIMIT,
        Some(l) => l.parse::<u32>().ok().filter(|n| (1..=MAX_CHANGES_LIMIT).contains(n)).ok_or_else(|| {
            ApiError::invalid_request("limit", format!("{l:?} is not a whole number from 1 to {MAX_CHANGES_LIMIT}"))
        })?,
    };
    Ok(ChangesQuery { after, platforms, limit })
}

/// `all`, one id or a comma-separated list; empty means every platform.
pub fn platform_list(value: Option<&str>) -> Result<Vec<Platform>, ApiError> {
    match value {
        None | Some("all") => Ok(Vec::new()),
        Some(list) => {
            let mut out = Vec::new();
            for p in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let p: Platform = p.parse()?;
                if !out.contains(&p) {
                    out.push(p);
                }
            }
            Ok(out)
        }
    }
}

#[derive(Deserialize)]
struct ChangeRow {
    seq: f64,
    change: String,
    json: String,
}

/// One page of the change feed, oldest first; `has_more` when more follow.
async fn changes_page(mirror: &Mirror, q: &ChangesQuery) -> Result<(Vec<ChangeRow>, bool), ApiError> {
    let mut sql = String::from("SELECT seq, change, json FROM changes WHERE seq > ?1");
    let mut args = vec![JsValue::from_f64(q.after as f64)];
    if !q.platforms.is_empty() {
        let marks: Vec<String> = (0..q.platforms.len()).map(|i| format!("?{}", i + 2)).collect();
        sql.push_str(&format!(" AND platform IN ({})", marks.join(", ")));
        args.extend(q.platforms.iter().map(|p| text(p.as_str())));
    }
    sql.push_str(&format!(" ORDER BY seq LIMIT {}", q.limit + 1));
    let result = mirror.db.prepare(sql).bind(&args).map_err(db_error)?.all().await.map_err(db_error)?;
    let mut rows: Vec<ChangeRow> = result.results().map_err(db_error)?;
    let has_more = rows.len() > q.limit as usize;
    rows.truncate(q.limit as usize);
    Ok((rows, has_more))
}

/// The record's JSON with its place in the feed: `{...record, "seq": N, "change": "..."}`.
fn change_json(row: &ChangeRow) -> String {
    let body = row.json.trim_end();
    let body = body.strip_suffix('}').unwrap_or(body);
    format!(r#"{body},"seq":{},"change":"{}"}}"#, row.seq as u64, row.change)
}

/// `GET /v1/changes?after=SEQ[&platform=…][&limit=N]`
pub async fn changes(req: &Request, env: &Env) -> Answer {
    let q = changes_query(&query_pairs(req)?)?;
    let mirror = Mirror::open(env)?;
    let (rows, has_more) = changes_page(&mirror, &q).await?;
    let next_after = rows.last().map_or(q.after, |r| r.seq as u64);
    let data: Vec<String> = rows.iter().map(change_json).collect();
    json_response(format!(r#"{{"data":[{}],"next_after":{next_after},"has_more":{has_more}}}"#, data.join(",")))
}

/// `GET /v1/changes/stream?after=SEQ[&platform=…]`: every change after SEQ as NDJSON, ending
/// with `{"done":true,"last_seq":N}`.
pub async fn changes_stream(req: &Request, env: &Env) -> Answer {
    let mut q = changes_query(&query_pairs(req)?)?;
    q.limit = MAX_CHANGES_LIMIT;
    let mirror = Mirror::open(env)?;
    let mut out = String::new();
    loop {
        let (rows, has_more) = changes_page(&mirror, &q).await?;
        for row in &rows {
            out.push_str(&change_json(row));
            out.push('\n');
        }
        q.after = rows.last().map_or(q.after, |r| r.seq as u64);
        if !has_more {
            break;
        }
    }
    out.push_str(&format!("{{\"done\":true,\"last_seq\":{}}}\n", q.after));
    let headers = Headers::new();
    headers.set("content-type", "application/x-ndjson; charset=utf-8")?;
    headers.set("cache-control", "no-store")?;
    Ok(Response::ok(out)?.with_headers(headers))
}

/// Where a mirror page ends: the sort value and id of its last row, and the query it belongs to.
#[derive(Serialize, Deserialize, PartialEq)]
struct MirrorCursor {
    query: String,
    after: Option<(Option<i64>, String)>,
}

/// Whether a list request is for the mirror (SPEC.md §9): `source=mirror`, or several platforms.
pub fn wants_mirror(pairs: &[(String, String)]) -> bool {
    match single(pairs, "source").as_deref() {
        Some("mirror") => true,
        Some(_) => false,
        None => single(pairs, "platform").is_some_and(|p| p == "all" || p.contains(',')),
    }
}

const MIRROR_PARAMETERS: &[&str] =
    &["platform", "source", "from", "to", "date_field", "status", "kind", "openid", "q", "limit", "cursor"];

/// `GET /v1/aftersales?platform=all|P1,P2|P&source=mirror`: newest first by the date field,
/// keyset cursors, an exact total, and when each platform was last synced.
pub async fn list(req: &Request, env: &Env, config: &Config) -> Answer {
    let pairs = query_pairs(req)?;
    reject_unknown(&pairs, MIRROR_PARAMETERS)?;
    if single(&pairs, "source").is_some_and(|s| s != "mirror" && s != "live") {
        return Err(ApiError::invalid_request("source", "is mirror or live"));
    }
    let platforms = platform_list(single(&pairs, "platform").as_deref())?;
    let date_field = date_column(single(&pairs, "date_field").as_deref())?;
    let range = |name: &'static str| -> Result<Option<i64>, ApiError> {
        single(&pairs, name)
            .map(|d| {
                aftersale::Date::parse(&d).map(|d| d.china_midnight_unix()).ok_or_else(|| {
                    ApiError::invalid_request(name, format!("{d:?} is not a date of the form YYYY-MM-DD"))
                })
            })
            .transpose()
    };
    let (from, to) = (range("from")?, range("to")?);
    let limit =
        match single(&pairs, "limit") {
            None => 50,
            Some(l) => l.parse::<u32>().ok().filter(|n| (1..=100).contains(n)).ok_or_else(|| {
                ApiError::invalid_request("limit", format!("{l:?} is not a whole number from 1 to 100"))
            })?,
        };
    let mut filter = String::from(" WHERE 1 = 1");
    let mut args: Vec<JsValue> = Vec::new();
    let mut arg = |filter: &mut String, sql: &str, value: JsValue| {
        args.push(value);
        filter.push_str(&sql.replace('?', &format!("?{}", args.len())));
    };
    if !platforms.is_empty() {
        for (i, p) in platforms.iter().enumerate() {
            arg(&mut filter, if i == 0 { " AND (platform = ?" } else { " OR platform = ?" }, text(p.as_str()));
        }
        filter.push(')');
    }
    if let Some(f) = from {
        arg(&mut filter, &format!(" AND {date_field} >= ?"), JsValue::from_f64(f as f64));
    }
    if let Some(t) = to {
        arg(&mut filter, &format!(" AND {date_field} < ?"), JsValue::from_f64(t as f64));
    }
    for (name, column) in [("status", "status"), ("kind", "kind")] {
        if let Some(list) = single(&pairs, name) {
            let values: Vec<&str> = list.split(',').filter(|v| !v.is_empty()).collect();
            for v in &values {
                match name {
                    "status" => v.parse::<aftersale::Status>().map(|_| ())?,
                    _ => v.parse::<aftersale::Kind>().map(|_| ())?,
                }
            }
            for (i, v) in values.iter().enumerate() {
                arg(&mut filter, &format!("{} {column} = ?", if i == 0 { " AND (" } else { " OR" }), text(v));
            }
            if !values.is_empty() {
                filter.push(')');
            }
        }
    }
    if let Some(openid) = single(&pairs, "openid") {
        arg(&mut filter, " AND openid = ?", text(&openid));
    }
    if let Some(q) = single(&pairs, "q") {
        arg(&mut filter, " AND instr(search, ?) > 0", text(&q.to_lowercase()));
    }
    // The cursor names its query: replayed with other filters, it is refused.
    let signature =
        format!("{filter}|{date_field}|{limit}|{:?}", args.iter().map(|a| a.as_string()).collect::<Vec<_>>());
    let key = config.cursor_key()?;
    let after = match single(&pairs, "cursor") {
        None => None,
        Some(c) => {
            let bytes = cursor::open_payload(key, &c)?;
            let carried: MirrorCursor = serde_json::from_slice(&bytes)
                .map_err(|_| ApiError::invalid_request("cursor", "is not a cursor of a mirror listing"))?;
            if carried.query != signature {
                return Err(ApiError::invalid_request(
                    "cursor",
                    "was issued for a different query: repeat the query it came with",
                ));
            }
            carried.after
        }
    };
    let mirror = Mirror::open(env)?;
    #[derive(Deserialize)]
    struct Count {
        n: f64,
    }
    let total: Option<Count> = mirror
        .db
        .prepare(format!("SELECT COUNT(*) AS n FROM aftersales{filter}"))
        .bind(&args)
        .map_err(db_error)?
        .first(None)
        .await
        .map_err(db_error)?;
    let mut page_filter = filter.clone();
    let mut page_args = args.clone();
    if let Some((value, id)) = &after {
        // Keyset: rows after (value, id) in the order (value DESC, id DESC), where SQLite puts
        // NULLs last; a row value keeps the comparison on the index.
        let n = page_args.len();
        match value {
            Some(v) => {
                page_filter.push_str(&format!(
                    " AND (({date_field}, id) < (?{a}, ?{b}) OR {date_field} IS NULL)",
                    a = n + 1,
                    b = n + 2
                ));
                page_args.push(JsValue::from_f64(*v as f64));
            }
            None => {
                page_filter.push_str(&format!(" AND {date_field} IS NULL AND id < ?{}", n + 2));
                page_args.push(JsValue::NULL);
            }
        }
        page_args.push(text(id));
    }
    #[derive(Deserialize)]
    struct Row {
        id: String,
        sort: Option<f64>,
        json: String,
    }
    let rows: Vec<Row> = mirror
        .db
        .prepare(format!(
            "SELECT id, {date_field} AS sort, json FROM aftersales{page_filter} \
             ORDER BY {date_field} DESC, id DESC LIMIT {}",
            limit + 1
        ))
        .bind(&page_args)
        .map_err(db_error)?
        .all()
        .await
        .map_err(db_error)?
        .results()
        .map_err(db_error)?;
    let more = rows.len() > limit as usize;
    let rows = &rows[..rows.len().min(limit as usize)];
    let next_cursor = match (more, rows.last()) {
        (true, Some(last)) => {
            let c = MirrorCursor { query: signature, after: Some((last.sort.map(|s| s as i64), last.id.clone())) };
            let bytes = serde_json::to_vec(&c).map_err(|e| ApiError::internal(e.to_string()))?;
            format!("\"{}\"", cursor::seal_payload(key, &bytes))
        }
        _ => String::from("null"),
    };
    let mut synced = serde_json::Map::new();
    for platform in syncable(config, None) {
        if platforms.is_empty() || platforms.contains(&platform) {
            let account = config.account(platform)?.key();
            let state = mirror.load_state(&account, platform).await?;
            synced.insert(
                platform.as_str().into(),
                serde_json::to_value(state.watermark_s.map(rfc3339)).unwrap_or_default(),
            );
        }
    }
    let data: Vec<&str> = rows.iter().map(|r| r.json.as_str()).collect();
    json_response(format!(
        r#"{{"data":[{}],"next_cursor":{next_cursor},"total":{},"source":"mirror","synced_at":{}}}"#,
        data.join(","),
        total.map_or(0, |t| t.n as u64),
        serde_json::Value::Object(synced)
    ))
}

/// `GET /v1/summary?from&to[&platform][&date_field]`: counts and refund totals by platform,
/// status, kind, currency and China-time day, each grouped in the database.
pub async fn summary(req: &Request, env: &Env) -> Answer {
    let pairs = query_pairs(req)?;
    reject_unknown(&pairs, &["from", "to", "platform", "date_field"])?;
    let date_field = date_column(single(&pairs, "date_field").as_deref())?;
    let day = |name: &'static str| -> Result<i64, ApiError> {
        let d = single(&pairs, name).ok_or_else(|| ApiError::invalid_request(name, "is required (YYYY-MM-DD)"))?;
        aftersale::Date::parse(&d)
            .map(|d| d.china_midnight_unix())
            .ok_or_else(|| ApiError::invalid_request(name, format!("{d:?} is not a date of the form YYYY-MM-DD")))
    };
    let (from, to) = (day("from")?, day("to")?);
    if from >= to {
        return Err(ApiError::invalid_request("to", "must be after from; the range is [from, to)"));
    }
    let platforms = platform_list(single(&pairs, "platform").as_deref())?;
    let mut filter = format!(" WHERE {date_field} >= ?1 AND {date_field} < ?2");
    let mut args = vec![JsValue::from_f64(from as f64), JsValue::from_f64(to as f64)];
    if !platforms.is_empty() {
        let marks: Vec<String> = (0..platforms.len()).map(|i| format!("?{}", i + 3)).collect();
        filter.push_str(&format!(" AND platform IN ({})", marks.join(", ")));
        args.extend(platforms.iter().map(|p| text(p.as_str())));
    }
    let mirror = Mirror::open(env)?;
    // The day in China time: the date of the instant shifted by eight hours.
    let groups = [
        ("by_platform", "platform"),
        ("by_status", "status"),
        ("by_kind", "kind"),
        ("by_currency", "refund_currency"),
        ("by_day", &*format!("date({date_field} + 28800, 'unixepoch')")),
    ];
    let mut statements = Vec::with_capacity(groups.len());
    for (_, key) in &groups {
        statements.push(
            mirror
                .db
                .prepare(format!(
                    "SELECT {key} AS key, refund_currency AS currency, COUNT(*) AS count, \
                     SUM(COALESCE(refund_minor, 0)) AS refund_minor FROM aftersales{filter} \
                     GROUP BY {key}, refund_currency ORDER BY {key}, refund_currency"
                ))
                .bind(&args)
                .map_err(db_error)?,
        );
    }
    #[derive(Deserialize, Serialize)]
    struct Group {
        key: Option<String>,
        currency: Option<String>,
        count: f64,
        refund_minor: f64,
    }
    let results = mirror.db.batch(statements).await.map_err(db_error)?;
    let mut out = serde_json::Map::new();
    for ((name, _), result) in groups.iter().zip(results) {
        let rows: Vec<Group> = result.results().map_err(db_error)?;
        let rows: Vec<serde_json::Value> = rows
            .into_iter()
            .map(|g| {
                serde_json::json!({
                    "key": g.key,
                    "count": g.count as u64,
                    "refund": g.currency.map(|c| serde_json::json!({"currency": c, "minor": g.refund_minor as i64})),
                })
            })
            .collect();
        out.insert((*name).into(), serde_json::Value::Array(rows));
    }
    json_response(serde_json::json!({ "data": out }).to_string())
}

/// The mirror's column for a `date_field`.
fn date_column(value: Option<&str>) -> Result<&'static str, ApiError> {
    match value {
        None | Some("updated") => Ok("updated_s"),
        Some("created") => Ok("created_s"),
        Some("refunded") => Ok("refunded_s"),
        Some(other) => {
            Err(ApiError::invalid_request("date_field", format!("{other:?} is not one of created, updated, refunded")))
        }
    }
}
