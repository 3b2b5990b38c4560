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
//!         SyncStep::ListIds(spec) => run.handle_ids(parse_ids(send(spec)?)?),
//!         SyncStep::Lookups(specs) => { let answers = send_each(specs); // Found or Gone, in order
//!                                       let records = run.handle_lookups(answers);
//!                                       store(records, run.checkpoint()) /* atomically */ }
//!         SyncStep::OutOfBudget | SyncStep::CaughtUp => break,
//!     }
//! }
//! ```
//!
//! Position-paged upstreams filter by whole days, so their passes cover whole China-time days
//! and re-read the overlap; the mirror's upsert changes a row (and logs a change) only when the
//! record's content hash changed, which makes re-reading harmless.
//!
//! Id lists ([`Paging::NextKey`], the Channels shop) take windows in seconds, so their passes
//! cover the exact range, in windows of at most the upstream's 24 h, oldest first. The ids a
//! list page names wait in the checkpoint (`pending`) until each is looked up: a budget may
//! stop the run between any two lookups. Every looked-up record is kept as it is now, even one
//! whose update time has moved past the window it was listed in: it is the upstream's current
//! content (what the mirror must equal), and when it is listed again later — in a later window
//! or pass — its unchanged hash makes that reading change nothing. Dropping it instead would
//! lose a change: the walk's dedupe would skip it in the later window. An id whose lookup says
//! it is unknown was deleted after it was listed: it is skipped.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::model::{AfterSale, DateField, Platform};
use crate::parse::normalize::Page;
use crate::protocol::call::CallSpec;
use crate::protocol::paginate::{china_midnight_s, id_hash, IdWalk, Pager, PagerState, EXPECTED_PAGE_IDS};
use crate::protocol::query::{ListQuery, MAX_LIMIT, MAX_RANGE_DAYS};
use crate::protocol::upstream::{IdPage, Paging};
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
    /// An id walk's exact start (unix seconds): it reads `[begin_s, target_s)`. `None` for a
    /// position pager's pass of whole days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub begin_s: Option<i64>,
    /// Ids listed and not looked up yet, in list order: the next lookups, before any list call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<String>,
    /// The pass ends short of now minus the lag (a gap longer than one query spans): the next
    /// pass follows at once. One that is not cut ends the run caught up.
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub cut: bool,
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
    /// List a page of ids and hand it to [`SyncRun::handle_ids`] (nothing to store yet: its ids
    /// are pending until looked up).
    ListIds(CallSpec),
    /// Look these ids up and hand the answers, in order, to [`SyncRun::handle_lookups`]; a
    /// failed one ends the answers there (the rest stay pending).
    Lookups(Vec<CallSpec>),
    /// The invocation's budget is spent; the checkpoint says where the next one goes on.
    OutOfBudget,
    /// The mirror holds everything up to now minus the lag.
    CaughtUp,
}

/// A lookup's answer, for [`SyncRun::handle_lookups`].
#[derive(Debug)]
pub enum LookupAnswer<'a> {
    /// The record, normalized.
    Found(Page<'a>),
    /// The upstream does not know the id (deleted since it was listed): skipped.
    Gone,
}

/// How a pass reads its upstream.
#[derive(Debug)]
enum Reader {
    Pages(Pager),
    Ids(IdWalk),
}

/// One invocation's sync of one platform account.
#[derive(Debug)]
pub struct SyncRun {
    state: SyncState,
    reader: Option<Reader>,
    calls_left: u32,
    calls_made: u32,
    /// The most ids one list page held in this run, once one was listed.
    largest_page: Option<u32>,
    now_s: i64,
    settings: SyncSettings,
}

const DAY_S: i64 = 86_400;

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
            reader: None,
            calls_left: settings.max_calls,
            calls_made: 0,
            largest_page: None,
            now_s: (now_ms / 1000) as i64,
            settings: *settings,
        };
        run.reader = match run.state.pass.clone() {
            Some(pass) => Some(run.reader_for(&pass)?),
            None => run.begin_pass()?,
        };
        Ok(run)
    }

    /// Whether `platform` is synced by updated time: a list by position, or of ids by
    /// `next_key` (each then looked up).
    pub fn supports(platform: Platform) -> bool {
        platform.upstream().list().is_ok_and(|l| l.date_fields.contains(&DateField::Updated))
    }

    /// Lowers what this invocation may still call (the driver's own budget, such as the
    /// request's subrequests, can be tighter than `max_calls`).
    pub fn cap_calls(&mut self, most: u32) {
        self.calls_left = self.calls_left.min(most);
    }

    fn reader_for(&self, pass: &SyncPass) -> Result<Reader, Error> {
        let q = self.query(pass)?;
        Ok(match pass.begin_s {
            Some(begin) => Reader::Ids(IdWalk::for_range(q, begin, pass.target_s, pass.pager.clone())?),
            None => Reader::Pages(Pager::resume(q, pass.pager.clone())?),
        })
    }

    fn query(&self, pass: &SyncPass) -> Result<ListQuery, Error> {
        let mut q = ListQuery::new(self.state.platform, pass.from, pass.to);
        q.date_field = DateField::Updated;
        q.limit = MAX_LIMIT;
        q.validate()?;
        Ok(q)
    }

    /// A new pass from the watermark, or `None` when there is nothing new to read yet.
    fn begin_pass(&mut self) -> Result<Option<Reader>, Error> {
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
        if self.state.platform.upstream().list().is_ok_and(|l| l.paging == Paging::NextKey) {
            return self.begin_id_pass(target_s);
        }
        let start = match self.state.watermark_s {
            Some(w) if w >= target_s => return Ok(None),
            Some(w) => china_date(w - self.settings.overlap_s),
            None => self.settings.from,
        };
        // Upstream ranges are whole days, half-open: through the target's day.
        let end = china_date(target_s).add_days(1);
        // A longer gap goes in passes of the longest range a query may span, oldest first, each
        // moving the watermark to its own end.
        let cut = end.days_since_epoch() - start.days_since_epoch() > MAX_RANGE_DAYS;
        let (to, target_s) = if cut {
            let to = start.add_days(MAX_RANGE_DAYS);
            (to, to.china_midnight_unix())
        } else {
            (end, target_s)
        };
        let pass = SyncPass {
            from: start,
            to,
            target_s,
            pager: PagerState::default(),
            begin_s: None,
            pending: Vec::new(),
            cut,
        };
        let pager = Pager::for_export(self.query(&pass)?)?;
        self.state.pass = Some(pass);
        Ok(Some(Reader::Pages(pager)))
    }

    /// An id walk's pass: the exact range from the watermark minus the overlap (or `from`'s
    /// midnight) to `target_s`, at most a query's longest range at a time, oldest first.
    fn begin_id_pass(&mut self, target_s: i64) -> Result<Option<Reader>, Error> {
        let begin = match self.state.watermark_s {
            Some(w) if w >= target_s => return Ok(None),
            Some(w) => w - self.settings.overlap_s,
            None => china_midnight_s(self.settings.from),
        };
        if begin >= target_s {
            return Ok(None);
        }
        // The query's days must hold the range and stay within its longest span.
        let end = target_s.min(begin + (MAX_RANGE_DAYS - 1) * DAY_S);
        let from = china_date(begin);
        let to = china_date(end - 1).add_days(1);
        let pass = SyncPass {
            from,
            to,
            target_s: end,
            pager: PagerState::default(),
            begin_s: Some(begin),
            pending: Vec::new(),
            cut: end < target_s,
        };
        let reader = self.reader_for(&pass)?;
        self.state.pass = Some(pass);
        Ok(Some(reader))
    }

    pub fn next_step(&mut self) -> SyncStep {
        loop {
            match self.reader.as_ref() {
                None => return SyncStep::CaughtUp,
                Some(Reader::Pages(pager)) => {
                    if let Some(spec) = pager.next_call() {
                        return self.spend(1).map_or(SyncStep::OutOfBudget, |_| SyncStep::Call(spec));
                    }
                }
                Some(Reader::Ids(walk)) => {
                    let pending = self.state.pass.as_ref().map_or(&[][..], |p| &p.pending[..]);
                    if !pending.is_empty() {
                        let n = pending.len().min(self.calls_left as usize);
                        let specs = pending[..n].iter().map(|id| walk.lookup(id.clone())).collect();
                        return self.spend(n as u32).map_or(SyncStep::OutOfBudget, |_| SyncStep::Lookups(specs));
                    }
                    if let Some(spec) = walk.next_list_call() {
                        // A page only when the budget holds its lookups too — except as the
                        // run's first call, so that a budget smaller than a page still moves on.
                        let need = 1 + self.largest_page.unwrap_or(EXPECTED_PAGE_IDS);
                        if self.calls_made > 0 && self.calls_left < need {
                            return SyncStep::OutOfBudget;
                        }
                        return self.spend(1).map_or(SyncStep::OutOfBudget, |_| SyncStep::ListIds(spec));
                    }
                }
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
                if !pass.cut {
                    self.reader = None;
                    return SyncStep::CaughtUp;
                }
            }
            self.reader = match self.begin_pass() {
                Ok(p) => p,
                Err(e) => {
                    self.state.last_error = Some(alloc::format!("{e}"));
                    None
                }
            };
        }
    }

    /// Takes `n` calls from the budget, or `None` (nothing taken) when fewer are left or `n` is 0.
    fn spend(&mut self, n: u32) -> Option<()> {
        if n == 0 || self.calls_left < n {
            return None;
        }
        self.calls_left -= n;
        self.calls_made += n;
        Some(())
    }

    /// The records of the page just read, to upsert together with [`SyncRun::checkpoint`].
    pub fn handle_page<'a>(&mut self, page: Page<'a>) -> Vec<AfterSale<'a>> {
        let Some(Reader::Pages(pager)) = self.reader.as_mut() else { return Vec::new() };
        let records = pager.handle_page(page);
        if let Some(pass) = self.state.pass.as_mut() {
            pass.pager = pager.state().clone();
        }
        records
    }

    /// A page of ids just listed: they wait in the checkpoint as pending lookups, and the walk
    /// moves on to the next page. Storing this checkpoint is optional — unstored, the next run
    /// lists the same page again.
    pub fn handle_ids(&mut self, page: IdPage<'_>) {
        let Some(Reader::Ids(walk)) = self.reader.as_mut() else { return };
        let ids = u32::try_from(page.ids.len()).unwrap_or(u32::MAX);
        self.largest_page = Some(self.largest_page.map_or(ids, |l| l.max(ids)));
        let ids = walk.handle_id_page(page);
        if let Some(pass) = self.state.pass.as_mut() {
            pass.pending.extend(ids);
            pass.pager = walk.state().clone();
        }
    }

    /// The answers to the first lookups of the last [`SyncStep::Lookups`], in order: those ids
    /// leave the pending ones, and their records (every one, as the upstream has it now) are
    /// what to upsert together with [`SyncRun::checkpoint`].
    pub fn handle_lookups<'a>(&mut self, answers: Vec<LookupAnswer<'a>>) -> Vec<AfterSale<'a>> {
        let Some(pass) = self.state.pass.as_mut() else { return Vec::new() };
        let n = answers.len().min(pass.pending.len());
        pass.pending.drain(..n);
        answers
            .into_iter()
            .take(n)
            .flat_map(|a| match a {
                LookupAnswer::Found(page) => page.records,
                LookupAnswer::Gone => Vec::new(),
            })
            .collect()
    }

    /// The call failed: the checkpoint stays where it was, and why is kept for the status.
    pub fn fail(&mut self, why: impl core::fmt::Display) {
        self.state.last_error = Some(alloc::format!("{why}"));
        self.reader = None;
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
