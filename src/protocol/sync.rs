//! Incremental sync into a mirror (SPEC.md §9), sans-IO like the pager it drives: for one
//! platform account, list by updated time from the watermark minus an overlap up to now minus a
//! lag, page after page, with a checkpoint after every page, so that an invocation stopped at
//! any point (a budget spent, a process killed) resumes where the last checkpoint stood with
//! nothing lost and nothing doubled. The driver owns the I/O: it sends each call, hands the
//! page back, writes the records and the checkpoint together (one transaction), and stops
//! when told.
//!
//! ```text
//! let mut run = SyncRun::start(saved_state, &settings, now_ms)?;
//! loop {
//!     match run.next_step() {
//!         SyncStep::Call(spec) => { let page = send_and_normalize(spec)?;
//!                                   let records = run.handle_page(page);
//!                                   store(records, run.checkpoint()) /* atomically */ }
//!         SyncStep::OutOfBudget | SyncStep::CaughtUp => break,
//!     }
//! }
//! ```
//!
//! Upstreams filter by whole days, so a pass covers whole China-time days and re-reads the
//! overlap; the mirror's upsert changes a row (and logs a change) only when the record's content
//! hash changed, which makes re-reading harmless.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::model::{AfterSale, DateField, Platform};
use crate::parse::normalize::Page;
use crate::protocol::call::CallSpec;
use crate::protocol::paginate::{id_hash, Pager, PagerState};
use crate::protocol::query::{ListQuery, MAX_LIMIT, MAX_RANGE_DAYS};
use crate::protocol::upstream::Paging;
use crate::time::{Date, Timestamp};
use crate::Error;

/// The settings of SPEC.md §9, as the Worker reads them (`SYNC_OVERLAP_S`, `SYNC_LAG_S`,
/// `SYNC_FROM`) plus the invocation's budget of upstream calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncSettings {
    /// Re-read this much before the watermark: an upstream's clock and indexing may lag.
    pub overlap_s: i64,
    /// Stop this far before now: the upstream may still be writing the last seconds.
    pub lag_s: i64,
    /// Where the first run starts, when the account has no watermark yet.
    pub from: Date,
    /// Upstream calls one invocation may make (the rest waits for the next one).
    pub max_calls: u32,
}

impl SyncSettings {
    pub const DEFAULT_OVERLAP_S: i64 = 300;
    pub const DEFAULT_LAG_S: i64 = 180;
    pub const DEFAULT_FROM_DAYS_AGO: i64 = 90;

    /// The defaults of SPEC.md §9 at `now_ms`: overlap 300 s, lag 180 s, from 90 days ago.
    pub fn defaults(now_ms: u64, max_calls: u32) -> SyncSettings {
        SyncSettings {
            overlap_s: Self::DEFAULT_OVERLAP_S,
            lag_s: Self::DEFAULT_LAG_S,
            from: china_date((now_ms / 1000) as i64).add_days(-Self::DEFAULT_FROM_DAYS_AGO),
            max_calls,
        }
    }
}

/// A pass in progress: the range it lists and where its pagination stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncPass {
    pub from: Date,
    pub to: Date,
    /// The watermark this pass reaches once every page is read (unix seconds).
    pub target_s: i64,
    pub pager: PagerState,
}

/// What the mirror keeps per platform account between invocations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    pub platform: Platform,
    /// Every change up to this instant (unix seconds) has been read.
    pub watermark_s: Option<i64>,
    pub pass: Option<SyncPass>,
    /// When a pass last completed (unix seconds).
    pub last_success_s: Option<i64>,
    pub last_error: Option<String>,
}

impl SyncState {
    pub fn new(platform: Platform) -> SyncState {
        SyncState { platform, watermark_s: None, pass: None, last_success_s: None, last_error: None }
    }
}

/// What the driver does next.
#[derive(Debug, PartialEq, Eq)]
pub enum SyncStep {
    /// Make this upstream call and hand its page to [`SyncRun::handle_page`].
    Call(CallSpec),
    /// The invocation's budget is spent; the checkpoint says where the next one goes on.
    OutOfBudget,
    /// The mirror holds everything up to now minus the lag.
    CaughtUp,
}

/// One invocation's sync of one platform account.
#[derive(Debug)]
pub struct SyncRun {
    state: SyncState,
    pager: Option<Pager>,
    calls_left: u32,
    now_s: i64,
    settings: SyncSettings,
}

/// The China-time date of a unix instant.
fn china_date(unix_s: i64) -> Date {
    Timestamp::from_unix(unix_s, crate::time::CHINA_OFFSET_MINUTES).date
}

impl SyncRun {
    /// Picks up `state` (a pass in progress goes on from its checkpoint; otherwise a new pass
    /// starts at the watermark minus the overlap, or at `settings.from` on the first run).
    /// Fails for a platform with no list by updated time: it is mirrored from lookups and
    /// pushes only.
    pub fn start(state: SyncState, settings: &SyncSettings, now_ms: u64) -> Result<SyncRun, Error> {
        let mut run = SyncRun {
            state,
            pager: None,
            calls_left: settings.max_calls,
            now_s: (now_ms / 1000) as i64,
            settings: *settings,
        };
        run.pager = match run.state.pass.clone() {
            Some(pass) => Some(Pager::resume(run.query(&pass)?, pass.pager)?),
            None => run.begin_pass()?,
        };
        Ok(run)
    }

    /// Whether `platform` is synced by updated time: a list the position pager walks. Lists of
    /// ids by `next_key` (the Channels shop) are not synced yet: such platforms are mirrored
    /// from their pushes and lookups.
    pub fn supports(platform: Platform) -> bool {
        platform
            .upstream()
            .list()
            .is_ok_and(|l| l.date_fields.contains(&DateField::Updated) && l.paging != Paging::NextKey)
    }

    fn query(&self, pass: &SyncPass) -> Result<ListQuery, Error> {
        let mut q = ListQuery::new(self.state.platform, pass.from, pass.to);
        q.date_field = DateField::Updated;
        q.limit = MAX_LIMIT;
        q.validate()?;
        Ok(q)
    }

    /// A new pass from the watermark, or `None` when there is nothing new to read yet.
    fn begin_pass(&mut self) -> Result<Option<Pager>, Error> {
        if !SyncRun::supports(self.state.platform) {
            return Err(Error::invalid_request(
                "platform",
                alloc::format!(
                    "{} has no list by updated time: it is mirrored from lookups and pushes",
                    self.state.platform
                ),
            ));
        }
        let target_s = self.now_s - self.settings.lag_s;
        let start = match self.state.watermark_s {
            Some(w) if w >= target_s => return Ok(None),
            Some(w) => china_date(w - self.settings.overlap_s),
            None => self.settings.from,
        };
        // Upstream ranges are whole days, half-open: through the target's day.
        let end = china_date(target_s).add_days(1);
        // A longer gap goes in passes of the longest range a query may span, oldest first, each
        // moving the watermark to its own end.
        let (to, target_s) = if end.days_since_epoch() - start.days_since_epoch() > MAX_RANGE_DAYS {
            let to = start.add_days(MAX_RANGE_DAYS);
            (to, to.china_midnight_unix())
        } else {
            (end, target_s)
        };
        let pass = SyncPass { from: start, to, target_s, pager: PagerState::default() };
        let pager = Pager::for_export(self.query(&pass)?)?;
        self.state.pass = Some(pass);
        Ok(Some(pager))
    }

    pub fn next_step(&mut self) -> SyncStep {
        loop {
            let Some(pager) = self.pager.as_ref() else { return SyncStep::CaughtUp };
            if let Some(spec) = pager.next_call() {
                if self.calls_left == 0 {
                    return SyncStep::OutOfBudget;
                }
                self.calls_left -= 1;
                return SyncStep::Call(spec);
            }
            // The pass is complete: the watermark moves to its target, and the next pass (if the
            // clock has moved on enough) starts at once — unless this one ran up to now minus the
            // lag (it was not cut at a range's end): then the run has caught up, and what came
            // since is the next run's. Starting over here would read the same whole days again
            // (upstreams filter by days): a day of more pages than one invocation reads would
            // never end in a run that caught up, and the platforms after it would get no budget.
            if let Some(pass) = self.state.pass.take() {
                self.state.watermark_s = Some(pass.target_s);
                self.state.last_success_s = Some(self.now_s);
                self.state.last_error = None;
                if pass.target_s < pass.to.china_midnight_unix() {
                    self.pager = None;
                    return SyncStep::CaughtUp;
                }
            }
            self.pager = match self.begin_pass() {
                Ok(p) => p,
                Err(e) => {
                    self.state.last_error = Some(alloc::format!("{e}"));
                    None
                }
            };
        }
    }

    /// The records of the page just read, to upsert together with [`SyncRun::checkpoint`].
    pub fn handle_page<'a>(&mut self, page: Page<'a>) -> Vec<AfterSale<'a>> {
        let Some(pager) = self.pager.as_mut() else { return Vec::new() };
        let records = pager.handle_page(page);
        if let Some(pass) = self.state.pass.as_mut() {
            pass.pager = pager.state().clone();
        }
        records
    }

    /// The call failed: the checkpoint stays where it was, and the error is kept for the status.
    pub fn fail(&mut self, error: &Error) {
        self.state.last_error = Some(alloc::format!("{error}"));
        self.pager = None;
    }

    /// What to persist with the records of the last page.
    pub fn checkpoint(&self) -> &SyncState {
        &self.state
    }

    pub fn into_state(self) -> SyncState {
        self.state
    }
}

/// One mirrored record as its row: the columns queries filter and sort on, its JSON, and a hash
/// of its content that decides whether an upsert changes anything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MirrorRow {
    pub id: String,
    pub platform: Platform,
    pub aftersale_id: String,
    pub order_id: Option<String>,
    pub status: &'static str,
    pub kind: &'static str,
    /// Unix seconds, for sorting and ranges (`None` when the zone of the time is unknown).
    pub created_s: Option<i64>,
    pub updated_s: Option<i64>,
    pub refunded_s: Option<i64>,
    pub refund_minor: Option<i64>,
    pub refund_currency: Option<String>,
    pub openid: Option<String>,
    pub user_id: Option<String>,
    /// What `q` searches: order ids, the after-sale id and product names, lower-cased.
    pub search: String,
    pub json: String,
    /// FNV-1a of `json`, in hex.
    pub hash: String,
}

impl MirrorRow {
    pub fn from_record(record: &AfterSale<'_>) -> Result<MirrorRow, Error> {
        // The mirror never keeps the raw upstream record: it is not part of the content.
        let json = if record.raw.is_some() {
            let mut without_raw = record.clone();
            without_raw.raw = None;
            serde_json::to_string(&without_raw)
        } else {
            serde_json::to_string(record)
        }
        .map_err(|e| Error::Serialize(alloc::format!("{e}")))?;
        let mut search = String::new();
        for part in [Some(record.aftersale_id.as_ref()), record.order_id.as_deref(), record.out_order_id.as_deref()]
            .into_iter()
            .flatten()
            .chain(record.items.iter().filter_map(|i| i.name.as_deref()))
        {
            search.push_str(&part.to_lowercase());
            search.push('\n');
        }
        Ok(MirrorRow {
            id: alloc::format!("{}:{}", record.platform, record.aftersale_id),
            platform: record.platform,
            aftersale_id: String::from(record.aftersale_id.as_ref()),
            order_id: record.order_id.as_deref().map(String::from),
            status: record.status.as_str(),
            kind: record.kind.as_str(),
            created_s: record.created_at.and_then(|t| t.unix()),
            updated_s: record.updated_at.and_then(|t| t.unix()),
            refunded_s: record.refunded_at.and_then(|t| t.unix()),
            refund_minor: record.refund.as_ref().map(|m| m.minor),
            refund_currency: record.refund.as_ref().map(|m| String::from(m.currency.code)),
            openid: record.buyer.openid.as_deref().map(String::from),
            user_id: record.buyer.user_id.as_deref().map(String::from),
            search,
            hash: alloc::format!("{:016x}", id_hash(&json)),
            json,
        })
    }
}
