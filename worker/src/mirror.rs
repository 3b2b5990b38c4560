//! The mirror (SPEC.md §9) in D1 (binding `DB`, schema in `migrations/`): the sync driver that
//! runs the core's `SyncRun` against the upstreams and stores each page with its checkpoint in
//! one batch (a D1 batch is a transaction), and the routes that read the mirror: every platform
//! at once, the change feed, the sync status. Rows change — and the change log gets an entry,
//! written by the table's own triggers — only when a record's content hash changed.

use aftersale::cursor;
use aftersale::protocol::sync::{LookupAnswer, MirrorRow, SyncRun, SyncSettings, SyncState, SyncStep};
use aftersale::time::Timestamp;
use aftersale::{normalize_page, Platform};
use futures_util::stream;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Env, Request, Response};

use crate::api_error::ApiError;
use crate::config::Config;
use crate::routes::{call_account, json_response, normalize_options, query_pairs, reject_unknown, single};
use crate::walk;

type Answer = Result<Response, ApiError>;

/// Upstream calls one sync invocation may make per platform, by default; the request's
/// subrequest budget (a lease and a fetch per call) caps them all together.
const DEFAULT_SYNC_CALLS: u32 = 10;
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

    /// Upserts `rows` in one statement over a JSON array bound as one parameter: the D1
    /// binding's cost is per statement and per bound value (a page as one statement per row,
    /// 17 values each, spent most of a sync invocation's CPU in the binding's JavaScript).
    /// SQLite reads the array with `json_each`; the table's triggers still log each row's change.
    fn upsert(&self, rows: &[&MirrorRow], now_s: i64) -> Result<D1PreparedStatement, ApiError> {
        let json = serde_json::to_string(rows).map_err(|e| ApiError::internal(e.to_string()))?;
        self.db
            .prepare(
                "INSERT INTO aftersales (id, platform, aftersale_id, order_id, status, kind, created_s, updated_s, \
                 refunded_s, refund_minor, refund_currency, openid, user_id, search, json, hash, mirrored_s) \
                 SELECT r ->> '$.id', r ->> '$.platform', r ->> '$.aftersale_id', r ->> '$.order_id', \
                 r ->> '$.status', r ->> '$.kind', r ->> '$.created_s', r ->> '$.updated_s', r ->> '$.refunded_s', \
                 r ->> '$.refund_minor', r ->> '$.refund_currency', r ->> '$.openid', r ->> '$.user_id', \
                 r ->> '$.search', r ->> '$.json', r ->> '$.hash', ?2 \
                 FROM (SELECT value AS r FROM json_each(?1) ORDER BY key) WHERE true \
                 ON CONFLICT (id) DO UPDATE SET order_id = excluded.order_id, status = excluded.status, \
                 kind = excluded.kind, created_s = excluded.created_s, updated_s = excluded.updated_s, \
                 refunded_s = excluded.refunded_s, refund_minor = excluded.refund_minor, \
                 refund_currency = excluded.refund_currency, openid = excluded.openid, user_id = excluded.user_id, \
                 search = excluded.search, json = excluded.json, hash = excluded.hash, mirrored_s = excluded.mirrored_s \
                 WHERE aftersales.hash IS NOT excluded.hash",
            )
            .bind(&[text(&json), JsValue::from_f64(now_s as f64)])
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
        let mut batch = Vec::new();
        for chunk in upsert_chunks(rows) {
            batch.push(self.upsert(&chunk, now)?);
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

/// D1 keeps a string or a bound value to 2 MB: a statement's JSON array stays well below.
const UPSERT_CHUNK_BYTES: usize = 1_000_000;

/// The rows in order, cut into groups whose JSON stays within [`UPSERT_CHUNK_BYTES`] (a row
/// larger than that goes alone, and D1 says so if it is too large even then).
fn upsert_chunks(rows: &[MirrorRow]) -> Vec<Vec<&MirrorRow>> {
    let mut chunks: Vec<Vec<&MirrorRow>> = Vec::new();
    let mut size = 0;
    for row in rows {
        // The record's JSON is escaped once more inside the array; the other columns are short.
        let row_size = row.json.len() * 5 / 4 + row.search.len() + 400;
        match chunks.last_mut() {
            Some(chunk) if size + row_size <= UPSERT_CHUNK_BYTES => chunk.push(row),
            _ => {
                chunks.push(vec![row]);
                size = 0;
            }
        }
        size += row_size;
    }
    chunks
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
    let opts = normalize_options(false);
    let step = loop {
        // The request's subrequest budget bounds the calls too: a call not made loses nothing,
        // the next invocation goes on from the last stored page.
        run.cap_calls(walk::calls_left(config));
        match run.next_step() {
            SyncStep::Call(spec) => {
                let body = match call_account(env, config, platform, spec).await {
                    Ok(body) => body,
                    Err(e) => break call_failed(config, mirror, account, &mut run, e).await?,
                };
                let records = run.handle_page(normalize_page(platform, &body, opts)?);
                store_page(mirror, account, &run, &records, progress).await?;
            }
            SyncStep::ListIds(spec) => {
                // Its ids wait in the run's checkpoint, stored with their lookups' records.
                let body = match call_account(env, config, platform, spec).await {
                    Ok(body) => body,
                    Err(e) => break call_failed(config, mirror, account, &mut run, e).await?,
                };
                run.handle_ids(platform.upstream().parse_ids(&body)?);
            }
            SyncStep::Lookups(specs) => {
                let mut bodies = Vec::with_capacity(specs.len());
                let mut failure = None;
                for answer in walk::look_up(env, config, platform, specs).await {
                    match answer {
                        Ok(body) => bodies.push(body),
                        // The answers before it are stored; the rest stay pending.
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
                let mut answers = Vec::with_capacity(bodies.len());
                for body in &bodies {
                    answers.push(match body {
                        Some(body) => LookupAnswer::Found(normalize_page(platform, body, opts)?),
                        None => LookupAnswer::Gone,
                    });
                }
                let records = run.handle_lookups(answers);
                store_page(mirror, account, &run, &records, progress).await?;
                if let Some(e) = failure {
                    break call_failed(config, mirror, account, &mut run, e).await?;
                }
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

/// A page's records and the checkpoint after it, in one batch.
async fn store_page(
    mirror: &Mirror,
    account: &str,
    run: &SyncRun,
    records: &[aftersale::AfterSale<'_>],
    progress: &mut SyncProgress,
) -> Result<(), ApiError> {
    let rows = records.iter().map(MirrorRow::from_record).collect::<Result<Vec<_>, _>>()?;
    mirror.store(&rows, Some((account, run.checkpoint()))).await?;
    progress.pages += 1;
    progress.records += rows.len() as u32;
    Ok(())
}

/// A call failed. For want of the request's subrequests (retries took more than the budget
/// foresaw) the run is out of budget: nothing upstream went wrong, and the next invocation goes
/// on. Otherwise the checkpoint stays at the last stored page, stored with the error for the
/// status, and the error ends the run (or the database's, when even that cannot be stored).
async fn call_failed(
    config: &Config,
    mirror: &Mirror,
    account: &str,
    run: &mut SyncRun,
    e: ApiError,
) -> Result<SyncStep, ApiError> {
    if walk::calls_left(config) == 0 {
        return Ok(SyncStep::OutOfBudget);
    }
    run.fail(&e.message);
    mirror.store(&[], Some((account, run.checkpoint()))).await?;
    Err(e)
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
    let limit = limit_param(pairs, DEFAULT_CHANGES_LIMIT, MAX_CHANGES_LIMIT)?;
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
    Ok(Response::ok(out)?.with_headers(crate::routes::ndjson_headers()?))
}

/// A cursor into the mirror: where the last answer stopped (`after`), bound to the query it
/// belongs to (`query`, the filters' signature), sealed with the cursor key.
#[derive(Serialize, Deserialize)]
struct MirrorCursor<P> {
    query: String,
    after: P,
}

fn seal_cursor<P: Serialize>(key: &cursor::CursorKey, query: String, after: P) -> Result<String, ApiError> {
    let bytes = serde_json::to_vec(&MirrorCursor { query, after }).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(cursor::seal_payload(key, &bytes))
}

/// Opens a cursor of `what` (a mirror listing, a mirror export); one replayed with other
/// filters, or of the other route, is refused.
fn open_cursor<P: DeserializeOwned>(
    key: &cursor::CursorKey,
    sealed: &str,
    query: &str,
    what: &str,
) -> Result<P, ApiError> {
    let bytes = cursor::open_payload(key, sealed)?;
    let carried: MirrorCursor<P> = serde_json::from_slice(&bytes)
        .map_err(|_| ApiError::invalid_request("cursor", format!("is not a cursor of {what}")))?;
    if carried.query != query {
        return Err(ApiError::invalid_request(
            "cursor",
            "was issued for a different query: repeat the query it came with",
        ));
    }
    Ok(carried.after)
}

/// Whether a list or export request is for the mirror (SPEC.md §9): `source=mirror`, or
/// several platforms. A `source` that is neither goes to the mirror too, which names it.
pub fn wants_mirror(pairs: &[(String, String)]) -> bool {
    match single(pairs, "source").as_deref() {
        Some("live") => false,
        Some(_) => true,
        None => single(pairs, "platform").is_some_and(|p| p == "all" || p.contains(',')),
    }
}

const MIRROR_PARAMETERS: &[&str] =
    &["platform", "source", "from", "to", "date_field", "status", "kind", "openid", "q", "limit", "cursor"];

/// The filters of a mirror query, as the list and the export both apply them: a WHERE clause
/// with numbered placeholders, and their values.
struct MirrorFilter {
    platforms: Vec<Platform>,
    date_field: &'static str,
    sql: String,
    args: Vec<JsValue>,
}

impl MirrorFilter {
    /// What a cursor is bound to: the route (`list 50`, `export`) and every filter's value.
    fn signature(&self, route: &str) -> String {
        let values: Vec<String> = self
            .args
            .iter()
            .map(|a| a.as_string().or_else(|| a.as_f64().map(|n| n.to_string())).unwrap_or_default())
            .collect();
        format!("{route}|{}|{}|{values:?}", self.sql, self.date_field)
    }
}

/// Reads `platform`, `source`, `from`, `to`, `date_field`, `status`, `kind`, `openid` and `q`.
fn mirror_filter(pairs: &[(String, String)]) -> Result<MirrorFilter, ApiError> {
    if single(pairs, "source").is_some_and(|s| s != "mirror" && s != "live") {
        return Err(ApiError::invalid_request("source", "is mirror or live"));
    }
    let platforms = platform_list(single(pairs, "platform").as_deref())?;
    let date_field = date_column(single(pairs, "date_field").as_deref())?;
    let (from, to) = (day_param(pairs, "from")?, day_param(pairs, "to")?);
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
        if let Some(list) = single(pairs, name) {
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
    if let Some(openid) = single(pairs, "openid") {
        arg(&mut filter, " AND openid = ?", text(&openid));
    }
    if let Some(q) = single(pairs, "q") {
        arg(&mut filter, " AND instr(search, ?) > 0", text(&q.to_lowercase()));
    }
    Ok(MirrorFilter { platforms, date_field, sql: filter, args })
}

/// A date parameter (`from`, `to`) as the unix instant of its China-time midnight.
fn day_param(pairs: &[(String, String)], name: &'static str) -> Result<Option<i64>, ApiError> {
    single(pairs, name)
        .map(|d| {
            aftersale::Date::parse(&d)
                .map(|d| d.china_midnight_unix())
                .ok_or_else(|| ApiError::invalid_request(name, format!("{d:?} is not a date of the form YYYY-MM-DD")))
        })
        .transpose()
}

/// `limit`: a whole number from 1 to `max`, `default` when absent.
fn limit_param(pairs: &[(String, String)], default: u32, max: u32) -> Result<u32, ApiError> {
    match single(pairs, "limit") {
        None => Ok(default),
        Some(l) => {
            l.parse::<u32>().ok().filter(|n| (1..=max).contains(n)).ok_or_else(|| {
                ApiError::invalid_request("limit", format!("{l:?} is not a whole number from 1 to {max}"))
            })
        }
    }
}

/// `GET /v1/aftersales?platform=all|P1,P2|P&source=mirror`: newest first by the date field,
/// keyset cursors, an exact total, and when each platform was last synced.
pub async fn list(req: &Request, env: &Env, config: &Config) -> Answer {
    let pairs = query_pairs(req)?;
    reject_unknown(&pairs, MIRROR_PARAMETERS)?;
    let filter = mirror_filter(&pairs)?;
    let limit = limit_param(&pairs, 50, 100)?;
    // The cursor names its query: replayed with other filters, it is refused.
    let signature = filter.signature(&format!("list {limit}"));
    let key = config.cursor_key()?;
    let after: Option<(Option<i64>, String)> = match single(&pairs, "cursor") {
        None => None,
        Some(c) => open_cursor(key, &c, &signature, "a mirror listing")?,
    };
    let MirrorFilter { platforms, date_field, sql: filter, args } = filter;
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
            format!("\"{}\"", seal_cursor(key, signature, Some((last.sort.map(|s| s as i64), last.id.clone())))?)
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

/// Rows one read of a mirror export takes by default, and at most (`limit`): hundreds per D1
/// query, so the free plan's 50 queries an invocation stream thousands of rows.
const DEFAULT_EXPORT_ROWS: u32 = 200;
const MAX_EXPORT_ROWS: u32 = 500;
/// Subrequests a mirror export leaves unspent: the caller's quota charge, which the
/// invocation's count does not include.
const EXPORT_RESERVE: u32 = 1;

/// `GET /v1/aftersales/export?platform=all|P1,P2|P&source=mirror`: every row the mirror list's
/// filters match, as NDJSON in the live export's lines (records, then `{"done":true,"count":N}`,
/// `{"continue":"<cursor>"}` when the invocation's budget of D1 queries runs low, or
/// `{"error":…}` when a read fails after the answer began).
///
/// Ordered by `id` ascending, read in chunks of `limit` rows by the keyset `id > last`: the id
/// (`platform:aftersale_id`, the primary key) never changes, so a row a sync updates while the
/// export runs keeps its place. Every row that matches when its turn comes is streamed exactly
/// once, across chunks and continuations alike; a row's newest content is what is streamed. A
/// keyset on the date field would not do: an update moves the row past the keyset (missed when
/// it moves behind, repeated when it moves ahead).
pub async fn export(pairs: &[(String, String)], env: &Env, config: &Config) -> Answer {
    reject_unknown(pairs, MIRROR_PARAMETERS)?;
    let filter = mirror_filter(pairs)?;
    let rows = limit_param(pairs, DEFAULT_EXPORT_ROWS, MAX_EXPORT_ROWS)?;
    let signature = filter.signature("export");
    let key = config.cursor_key()?; // a continuation needs one
    let after: Option<String> = match single(pairs, "cursor") {
        None => None,
        Some(c) => Some(open_cursor(key, &c, &signature, "a mirror export")?),
    };
    let mut ex = MirrorExport {
        mirror: Mirror::open(env)?,
        config: config.clone(),
        filter,
        signature,
        after,
        rows,
        count: 0,
        reads: 0,
        finished: false,
    };
    // The first chunk is read before answering, so a failing query gets its error status.
    let first = ex.next_lines().await?;
    let lines = stream::unfold((ex, Some(first)), |(mut ex, pending)| async move {
        let chunk = match pending {
            Some(chunk) => chunk,
            None if ex.finished => return None,
            None => ex.next_lines().await.unwrap_or_else(|e| {
                ex.finished = true;
                format!("{}\n", e.to_json())
            }),
        };
        Some((Ok::<Vec<u8>, worker::Error>(chunk.into_bytes()), (ex, None)))
    });
    crate::routes::ndjson_response(lines)
}

/// A mirror export in progress: the filters, the last id streamed, what this invocation read.
struct MirrorExport {
    mirror: Mirror,
    config: Config,
    filter: MirrorFilter,
    signature: String,
    after: Option<String>,
    rows: u32,
    count: u64,
    reads: u32,
    finished: bool,
}

impl MirrorExport {
    /// The next chunk's NDJSON lines, or the last line once the rows or the budget run out.
    async fn next_lines(&mut self) -> Result<String, ApiError> {
        // The first read always goes; later ones while the budget keeps its reserve.
        if self.reads > 0 && self.config.subrequests_left() <= EXPORT_RESERVE {
            self.finished = true;
            let key = self.config.cursor_key()?;
            let cursor = seal_cursor(key, self.signature.clone(), self.after.clone().unwrap_or_default())?;
            self.log_end("continues");
            return Ok(format!("{{\"continue\":\"{cursor}\"}}\n"));
        }
        let chunk = self.read_chunk().await?;
        let mut out = String::new();
        for row in &chunk {
            out.push_str(row.json.trim_end());
            out.push('\n');
        }
        self.count += chunk.len() as u64;
        if let Some(last) = chunk.last() {
            self.after = Some(last.id.clone());
        }
        if chunk.len() < self.rows as usize {
            self.finished = true;
            self.log_end("done");
            out.push_str(&format!("{{\"done\":true,\"count\":{}}}\n", self.count));
        }
        Ok(out)
    }

    /// Up to `rows` matching rows after the last id streamed, by id. The scan follows the
    /// primary key (`INDEXED BY` its index): chunks take disjoint id ranges, so a whole export
    /// reads each row once at most, where another index plus a sort would read every matching
    /// row again for each chunk (D1 counts rows read).
    async fn read_chunk(&mut self) -> Result<Vec<ExportRow>, ApiError> {
        let mut sql = format!(" INDEXED BY sqlite_autoindex_aftersales_1{}", self.filter.sql);
        let mut args = self.filter.args.clone();
        let mut bound = |sql: &mut String, op: &str, value: &str| {
            args.push(text(value));
            sql.push_str(&format!(" AND id {op} ?{}", args.len()));
        };
        if let Some(after) = &self.after {
            bound(&mut sql, ">", after);
        }
        if let Some((first, end)) = id_range(&self.filter.platforms) {
            bound(&mut sql, ">=", &first);
            bound(&mut sql, "<", &end);
        }
        self.config.spend_anyway(); // checked against the budget above
        self.reads += 1;
        self.mirror
            .db
            .prepare(format!("SELECT id, json FROM aftersales{sql} ORDER BY id LIMIT {}", self.rows))
            .bind(&args)
            .map_err(db_error)?
            .all()
            .await
            .map_err(db_error)?
            .results()
            .map_err(db_error)
    }

    fn log_end(&self, how: &str) {
        worker::console_log!("mirror export {how}: {} records, {} reads", self.count, self.reads);
    }
}

/// The ids of the platforms a query names lie in one range of the primary key: an id is
/// `platform:aftersale_id` (SPEC.md §2), and `;` follows `:`. The scan keeps to it; the
/// platform filter still decides.
fn id_range(platforms: &[Platform]) -> Option<(String, String)> {
    let first = platforms.iter().map(|p| p.as_str()).min()?;
    let last = platforms.iter().map(|p| p.as_str()).max()?;
    Some((format!("{first}:"), format!("{last};")))
}

#[derive(Deserialize)]
struct ExportRow {
    id: String,
    json: String,
}

/// `GET /v1/summary?from&to[&platform][&date_field]`: counts and refund totals by platform,
/// status, kind, currency, China-time day, and day and platform together (the console's chart),
/// each grouped in the database.
pub async fn summary(req: &Request, env: &Env) -> Answer {
    let pairs = query_pairs(req)?;
    reject_unknown(&pairs, &["from", "to", "platform", "date_field"])?;
    // The same filters as a mirror listing's (its platforms, range and date field), the range
    // required here.
    let MirrorFilter { date_field, sql: filter, args, .. } = mirror_filter(&pairs)?;
    let required = |name: &'static str| {
        day_param(&pairs, name)?.ok_or_else(|| ApiError::invalid_request(name, "is required (YYYY-MM-DD)"))
    };
    if required("from")? >= required("to")? {
        return Err(ApiError::invalid_request("to", "must be after from; the range is [from, to)"));
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
    // Day and platform together: two keys, so its rows name both.
    let by_day = groups[groups.len() - 1].1;
    statements.push(
        mirror
            .db
            .prepare(format!(
                "SELECT {by_day} AS day, platform, refund_currency AS currency, COUNT(*) AS count, \
                 SUM(COALESCE(refund_minor, 0)) AS refund_minor FROM aftersales{filter} \
                 GROUP BY day, platform, refund_currency ORDER BY day, platform, refund_currency"
            ))
            .bind(&args)
            .map_err(db_error)?,
    );
    #[derive(Deserialize, Serialize)]
    struct Group {
        key: Option<String>,
        currency: Option<String>,
        count: f64,
        refund_minor: f64,
    }
    #[derive(Deserialize)]
    struct DayPlatform {
        day: Option<String>,
        platform: String,
        currency: Option<String>,
        count: f64,
        refund_minor: f64,
    }
    let mut results = mirror.db.batch(statements).await.map_err(db_error)?;
    let day_platform: Vec<DayPlatform> = results
        .pop()
        .ok_or_else(|| ApiError::internal("D1 answered the summary's batch without its last statement"))?
        .results()
        .map_err(db_error)?;
    let mut out = serde_json::Map::new();
    let refund = |currency: Option<String>, minor: f64| {
        currency.map(|c| serde_json::json!({"currency": c, "minor": minor as i64}))
    };
    out.insert(
        "by_day_platform".into(),
        day_platform
            .into_iter()
            .map(|g| {
                serde_json::json!({
                    "day": g.day,
                    "platform": g.platform,
                    "count": g.count as u64,
                    "refund": refund(g.currency, g.refund_minor),
                })
            })
            .collect(),
    );
    for ((name, _), result) in groups.iter().zip(results) {
        let rows: Vec<Group> = result.results().map_err(db_error)?;
        let rows: Vec<serde_json::Value> = rows
            .into_iter()
            .map(|g| {
                serde_json::json!({
                    "key": g.key,
                    "count": g.count as u64,
                    "refund": refund(g.currency, g.refund_minor),
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
