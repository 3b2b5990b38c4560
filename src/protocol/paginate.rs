//! Pagination as a poll loop over one [`ListQuery`]: which upstream page to ask for next, and what
//! a page's answer means — records delivered once, windows advanced, a changing total handled.
//!
//! Upstreams page by offset or by page number over a list sorted by the queried
//! date, newest first. Between two pages the list can change:
//! - it grows (a new after-sale sorts to the front): the next page repeats records already seen,
//!   which are dropped by id; the new ones are fetched by a catch-up pass over the front;
//! - it shrinks (records leave the range): the position steps back by the shrinkage, so nothing
//!   slides past unseen, and the repeats are again dropped by id.
//!
//! The page state fits in a cursor (ids of the last page as 64-bit hashes); an export keeps every
//! id it has seen.

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;

use crate::model::time::Date;
use crate::model::AfterSale;
use crate::model::DateField;
use crate::parse::normalize::Page;
use crate::protocol::call::CallSpec;
use crate::protocol::query::ListQuery;
use crate::protocol::upstream::{IdPage, ListPage, ListScheme, Lookup, Paging};
use crate::Error;

/// Where a pagination stands; small enough to travel in a cursor.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct PagerState {
    /// Index into the query's date windows.
    pub window: u32,
    /// Upstream records of this window already covered.
    pub offset: u64,
    /// The window's total as last reported.
    pub known_total: Option<u64>,
    /// Records the window gained since its first page: that many at the front are unseen.
    pub grown: u64,
    /// In the catch-up pass over the window's front: records still to cover.
    pub catch_up: Option<u64>,
    /// Hashes of the ids delivered by the last page, to drop repeats at a page boundary.
    pub recent: Vec<u64>,
    /// [`Paging::NextKey`]: the key of the window's next page; `None` on its first.
    pub next_key: Option<String>,
    pub done: bool,
}

/// The largest position, total or growth a state may hold: far beyond any upstream's list, far
/// below where arithmetic on it could overflow.
pub const MAX_POSITION: u64 = 1 << 40;
/// The most ids a state may remember from one page (Lingxing's records hold several lines).
pub const MAX_RECENT: usize = 20_000;

impl PagerState {
    /// Checks a state that came from outside (a cursor): every field within what a pagination
    /// can reach, so a forged or corrupted state is an error, never a panic or an absurd call.
    pub fn check(&self, windows: usize) -> Result<(), Error> {
        let bad =
            |why: &str| Err(Error::invalid_request("cursor", alloc::format!("holds an impossible position: {why}")));
        if self.window as usize > windows {
            return bad("window beyond the query's range");
        }
        if self.offset > MAX_POSITION || self.known_total.is_some_and(|t| t > MAX_POSITION) || self.grown > MAX_POSITION
        {
            return bad("offset, total or growth too large");
        }
        if self.catch_up.is_some_and(|c| c > self.grown) {
            return bad("catch-up longer than the growth");
        }
        if self.recent.len() > MAX_RECENT {
            return bad("too many remembered ids");
        }
        Ok(())
    }
}

/// A pagination over one query.
#[derive(Debug, Clone)]
pub struct Pager {
    query: ListQuery,
    scheme: &'static ListScheme,
    page_size: u32,
    windows: Vec<(Date, Date)>,
    state: PagerState,
    /// Exports remember every id, so no repeat gets through however the list moves.
    seen: Option<BTreeSet<u64>>,
    /// Sum of finished windows' totals, and whether each was known.
    finished_total: Option<u64>,
}

/// The query's `[from, to)` split into the upstream's longest windows, newest first (the order
/// the upstreams sort in).
fn windows(query: &ListQuery, scheme: &ListScheme) -> Vec<(Date, Date)> {
    match scheme.max_window_days {
        Some(days) => {
            let mut out = Vec::new();
            let mut end = query.to;
            while end > query.from {
                let start = end.add_days(-days.max(1)).max(query.from);
                out.push((start, end));
                end = start;
            }
            out
        }
        None => alloc::vec![(query.from, query.to)],
    }
}

/// FNV-1a: a stable 64-bit hash of an id, the same on every platform and build.
pub fn id_hash(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn record_hash(record: &AfterSale<'_>) -> u64 {
    // The platform is fixed per query, so the upstream key alone identifies a record.
    id_hash(&record.aftersale_id)
}

impl Pager {
    /// A pagination serving one page per call, its page size the caller's `limit`. Fails for a
    /// query its platform cannot list (see [`ListQuery::validate`]).
    pub fn new(query: ListQuery) -> Result<Pager, Error> {
        Pager::resume(query, PagerState::default())
    }

    /// Resumes from a cursor's state, checked like the query (see [`PagerState::check`]).
    pub fn resume(query: ListQuery, state: PagerState) -> Result<Pager, Error> {
        let page_size = query.limit;
        let pager = Pager::build(query, Some(page_size), state, None)?;
        pager.state.check(pager.windows.len())?;
        Ok(pager)
    }

    /// A pagination that follows every page with the upstream's export page and remembers every id.
    pub fn for_export(query: ListQuery) -> Result<Pager, Error> {
        Pager::build(query, None, PagerState::default(), Some(BTreeSet::new()))
    }

    /// An export resumed from a cursor's state (an export that stopped at its subrequest budget
    /// hands one out): the upstream's export page again, ids remembered from there on.
    pub fn resume_export(query: ListQuery, state: PagerState) -> Result<Pager, Error> {
        Pager::build(query, None, state, Some(BTreeSet::new()))
    }

    fn build(
        query: ListQuery,
        page_size: Option<u32>,
        state: PagerState,
        seen: Option<BTreeSet<u64>>,
    ) -> Result<Pager, Error> {
        query.validate()?;
        let scheme = query.list_scheme()?;
        if scheme.paging == Paging::NextKey {
            return Err(Error::invalid_request(
                "platform",
                alloc::format!("{} lists ids by next_key: walk it with IdWalk, not Pager", query.platform),
            ));
        }
        let page_size = page_size.unwrap_or(scheme.export_page_size).clamp(1, scheme.max_page_size.max(1));
        let windows = windows(&query, scheme);
        let mut pager = Pager { query, scheme, page_size, windows, state, seen, finished_total: Some(0) };
        if pager.state.window as usize >= pager.windows.len() {
            pager.state.done = true;
        }
        Ok(pager)
    }

    pub fn query(&self) -> &ListQuery {
        &self.query
    }

    pub fn state(&self) -> &PagerState {
        &self.state
    }

    pub fn is_done(&self) -> bool {
        self.state.done
    }

    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// The number of records the whole query yields, when the upstream's count says so exactly:
    /// one window, no local filters, one record per upstream record (not Lingxing's lines).
    pub fn total(&self) -> Option<u64> {
        if self.windows.len() != 1 || self.query.has_local_filters() || self.scheme.records_hold_several {
            return None;
        }
        self.state.known_total
    }

    /// The upstream call for the next page, or `None` when the query is exhausted.
    pub fn next_call(&self) -> Option<CallSpec> {
        if self.state.done {
            return None;
        }
        let offset = if self.state.catch_up.is_some() { self.catch_up_offset() } else { self.state.offset };
        self.call_at(self.state.window, offset)
    }

    /// The call that will follow [`Pager::next_call`]'s if that page comes back full and the
    /// total unchanged — so a driver can fetch it while it processes the current page. `None`
    /// when that cannot be known yet (no total seen in this window, a catch-up pass, the end).
    /// A driver must still compare it with `next_call()` after `handle_page`, and drop the
    /// prefetched answer when they differ.
    pub fn speculative_next(&self) -> Option<CallSpec> {
        let total = self.state.known_total?;
        if self.state.done || self.state.catch_up.is_some() {
            return None;
        }
        let size = u64::from(self.page_size);
        let covered = match self.scheme.paging {
            Paging::PageNumber => size - self.state.offset % size,
            Paging::Offset | Paging::NextKey => size,
        };
        let offset = self.state.offset.saturating_add(covered);
        if offset < total {
            return self.call_at(self.state.window, offset);
        }
        if self.state.grown > 0 || self.state.window as usize + 1 >= self.windows.len() {
            return None; // a catch-up pass or the end comes next
        }
        self.call_at(self.state.window + 1, 0)
    }

    fn call_at(&self, window: u32, offset: u64) -> Option<CallSpec> {
        let (from, to) = *self.windows.get(window as usize)?;
        let q = &self.query;
        let page = ListPage {
            from,
            to,
            date_field: q.date_field,
            offset,
            page_size: self.page_size,
            kind: q.kind,
            order_id: q.order_id.clone(),
            next_key: None,
            seconds: None,
        };
        Some(CallSpec::list_page(q.platform, page))
    }

    /// The catch-up pass reads the window's front from 0 up to what it grew by.
    fn catch_up_offset(&self) -> u64 {
        let remaining = self.state.catch_up.unwrap_or(0);
        self.state.grown.saturating_sub(remaining)
    }

    /// Records of the page's answer that the caller has not had yet and that match its filters.
    pub fn handle_page<'a>(&mut self, page: Page<'a>) -> Vec<AfterSale<'a>> {
        if self.state.done {
            return Vec::new();
        }
        let requested_offset = if self.state.catch_up.is_some() { self.catch_up_offset() } else { self.state.offset };
        let n = page.upstream_count as u64;
        let catching_up = self.state.catch_up.is_some();

        if !catching_up {
            if let (Some(old), Some(new)) = (self.state.known_total, page.total) {
                if new < old && self.state.offset > 0 {
                    // Records left the range before our position: step back so none slides past.
                    self.state.offset = self.state.offset.saturating_sub(old - new);
                    self.state.known_total = Some(new);
                    return Vec::new();
                }
                if new > old {
                    self.state.grown = self.state.grown.saturating_add(new - old).min(MAX_POSITION);
                }
            }
            if page.total.is_some() {
                self.state.known_total = page.total;
            }
        }

        // Page-numbered upstreams answer whole pages: skip what lies before the offset.
        let skip = match self.scheme.paging {
            Paging::PageNumber => (requested_offset % u64::from(self.page_size)) as usize,
            Paging::Offset | Paging::NextKey => 0,
        };
        // A catch-up pass wants only the front the window grew by; past it lie records seen before.
        let end = match self.state.catch_up {
            Some(remaining) => skip.saturating_add(usize::try_from(remaining).unwrap_or(usize::MAX)),
            None => usize::MAX,
        };
        let positions: Vec<usize> = (0..page.records.len()).map(|i| page.upstream_position(i)).collect();
        let mut fresh = Vec::with_capacity(page.records.len());
        let mut page_hashes = Vec::with_capacity(page.records.len());
        for (record, pos) in page.records.into_iter().zip(positions) {
            if pos < skip || pos >= end {
                continue;
            }
            let h = record_hash(&record);
            page_hashes.push(h);
            let repeat = self.state.recent.contains(&h) || self.seen.as_ref().is_some_and(|s| s.contains(&h));
            if repeat {
                continue;
            }
            if let Some(seen) = self.seen.as_mut() {
                seen.insert(h);
            }
            if self.query.matches(&record) {
                fresh.push(record);
            }
        }
        let covered = n.saturating_sub(skip as u64);
        // Keep the last page's ids, and on catch-up also the ones before, to drop repeats.
        if catching_up {
            self.state.recent.extend(page_hashes);
        } else {
            self.state.recent = page_hashes;
        }

        if let Some(remaining) = self.state.catch_up {
            let left = remaining.saturating_sub(covered);
            if left == 0 || n < u64::from(self.page_size) {
                self.next_window();
            } else {
                self.state.catch_up = Some(left);
            }
            return fresh;
        }

        self.state.offset = self.state.offset.saturating_add(covered);
        let short_page = n < u64::from(self.page_size);
        let past_total = self.state.known_total.is_some_and(|t| self.state.offset >= t);
        if short_page || past_total || n == 0 {
            if self.state.grown > 0 {
                self.state.catch_up = Some(self.state.grown);
            } else {
                self.next_window();
            }
        }
        fresh
    }

    fn next_window(&mut self) {
        self.finished_total = match (self.finished_total, self.state.known_total) {
            (Some(a), Some(b)) => a.checked_add(b),
            _ => None,
        };
        self.state.window = self.state.window.saturating_add(1);
        self.state.offset = 0;
        self.state.known_total = None;
        self.state.grown = 0;
        self.state.catch_up = None;
        self.state.recent.clear();
        if self.state.window as usize >= self.windows.len() {
            self.state.done = true;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The id walk: ids by window and next_key, then one lookup per id

/// Hashes of delivered ids a cursor keeps: a record changed during the walk is listed again
/// further on, and this many recent deliveries are recognised (an export remembers all).
pub const WALK_RECENT: usize = 512;
/// Ids a list page of a walk is expected to hold before one has been listed (the upstream's
/// page size is its own; drivers use the largest page seen after the first). A wrong guess
/// loses nothing: it only decides whether a budget is thought to hold a page's lookups.
pub const EXPECTED_PAGE_IDS: u32 = 10;

/// China time, where the day windows of [`Paging::NextKey`] upstreams begin and end.
const CHINA_OFFSET_S: i64 = 8 * 3600;

const DAY_S: i64 = 86_400;

/// Unix seconds of a China-time date's midnight.
pub fn china_midnight_s(d: Date) -> i64 {
    d.days_since_epoch() * DAY_S - CHINA_OFFSET_S
}

/// The China-time date of a unix instant.
pub fn china_date_of(unix_s: i64) -> Date {
    Date::from_days_since_epoch((unix_s + CHINA_OFFSET_S).div_euclid(DAY_S))
}

/// A walk of an id-listing upstream ([`Paging::NextKey`]): list a window's ids page by page,
/// look each id up, keep the records that are still in the window and not yet delivered.
///
/// ```text
/// while let Some(list) = walk.next_list_call() {
///     let ids = upstream.parse_ids(send(list))?;
///     for lookup in walk.handle_ids(ids) {            // the ids not delivered yet
///         match send(lookup) {
///             Err(e) if upstream.is_gone(code(e)) => {} // deleted since it was listed
///             Err(e) => return Err(e),
///             Ok(body) => if let Some(r) = walk.accept_detail(normalize(body)?) { deliver(r) },
///         }
///     }
///     // only now is `walk.state()` safe to put in a cursor
/// }
/// ```
///
/// Windows are China-time days (the upstream takes at most 24 h), walked OLDEST first: a record
/// that changes during the walk gets a later update time, so it moves forward into the window
/// being walked or one still ahead, where it is listed again. Dropping a detail whose time has
/// left the window being walked (checked half-open, so a record on a midnight belongs to one
/// window whichever way the upstream reads a window's end) and dropping ids already delivered
/// then gives every record exactly once, as it was when last fetched.
#[derive(Debug, Clone)]
pub struct IdWalk {
    query: ListQuery,
    windows: Vec<(Date, Date)>,
    /// The same windows in unix seconds, half-open.
    seconds: Vec<(i64, i64)>,
    /// Whether the list calls name the windows to the second (a sync) or by day.
    exact: bool,
    state: PagerState,
    seen: Option<BTreeSet<u64>>,
    /// The window of the page whose ids were handed out, for checking their details.
    checking: Option<(i64, i64)>,
}

impl IdWalk {
    pub fn new(query: ListQuery) -> Result<IdWalk, Error> {
        IdWalk::build(query, PagerState::default(), None)
    }

    /// An export going on from a continuation cursor: it remembers every id from here on, and
    /// the cursor's recent ones from before.
    pub fn resume_export(query: ListQuery, state: PagerState) -> Result<IdWalk, Error> {
        let seen = state.recent.iter().copied().collect();
        IdWalk::build(query, state, Some(seen))
    }

    /// Resumes from a cursor's state.
    pub fn resume(query: ListQuery, state: PagerState) -> Result<IdWalk, Error> {
        IdWalk::build(query, state, None)
    }

    /// A walk that remembers every id it delivered.
    pub fn for_export(query: ListQuery) -> Result<IdWalk, Error> {
        IdWalk::build(query, PagerState::default(), Some(BTreeSet::new()))
    }

    fn build(query: ListQuery, state: PagerState, seen: Option<BTreeSet<u64>>) -> Result<IdWalk, Error> {
        query.validate()?;
        let scheme = query.list_scheme()?;
        if scheme.paging != Paging::NextKey {
            return Err(Error::invalid_request(
                "platform",
                alloc::format!("{} pages by position: list it with Pager, not IdWalk", query.platform),
            ));
        }
        let days = scheme.max_window_days.unwrap_or(1).max(1);
        let mut windows = Vec::new();
        let mut start = query.from;
        while start < query.to {
            let end = start.add_days(days).min(query.to);
            windows.push((start, end));
            start = end;
        }
        let seconds = windows.iter().map(|&(a, b)| (china_midnight_s(a), china_midnight_s(b))).collect();
        let mut walk = IdWalk { query, windows, seconds, exact: false, state, seen, checking: None };
        if walk.state.window as usize >= walk.windows.len() {
            walk.state.done = true;
        }
        Ok(walk)
    }

    /// A walk of the exact range `[begin_s, end_s)` (unix seconds) in windows as long as the
    /// upstream takes, oldest first — the sync's, which reads a few minutes past its watermark
    /// rather than whole days. `query` names the days the range touches (and the date field);
    /// `state` is a checkpoint of this same walk, checked.
    pub fn for_range(query: ListQuery, begin_s: i64, end_s: i64, state: PagerState) -> Result<IdWalk, Error> {
        let mut walk = IdWalk::build(query, state, None)?;
        let (first, last) = (china_midnight_s(walk.query.from), china_midnight_s(walk.query.to));
        if begin_s >= end_s || begin_s < first || end_s > last {
            return Err(Error::invalid_request(
                "to",
                alloc::format!("the range {begin_s}..{end_s} is empty or outside the days its query names"),
            ));
        }
        let step = walk.query.list_scheme()?.max_window_days.unwrap_or(1).max(1) * DAY_S;
        walk.seconds.clear();
        walk.windows.clear();
        let mut start = begin_s;
        while start < end_s {
            let end = start.saturating_add(step).min(end_s);
            walk.seconds.push((start, end));
            walk.windows.push((china_date_of(start), china_date_of(end - 1).add_days(1)));
            start = end;
        }
        walk.exact = true;
        walk.state.check(walk.windows.len())?;
        walk.state.done = walk.state.window as usize >= walk.windows.len();
        Ok(walk)
    }

    pub fn query(&self) -> &ListQuery {
        &self.query
    }

    pub fn state(&self) -> &PagerState {
        &self.state
    }

    pub fn is_done(&self) -> bool {
        self.state.done
    }

    /// The windows, oldest first, as half-open China-time dates.
    pub fn windows(&self) -> &[(Date, Date)] {
        &self.windows
    }

    /// The list call for the next page of ids, or `None` when the walk is over.
    pub fn next_list_call(&self) -> Option<CallSpec> {
        if self.state.done {
            return None;
        }
        let (from, to) = *self.windows.get(self.state.window as usize)?;
        let q = &self.query;
        let page = ListPage {
            from,
            to,
            date_field: q.date_field,
            offset: 0,
            page_size: 0,
            kind: q.kind,
            order_id: q.order_id.clone(),
            next_key: self.state.next_key.clone(),
            seconds: self.exact.then(|| self.seconds[self.state.window as usize]),
        };
        Some(CallSpec::list_page(q.platform, page))
    }

    /// Takes the answer to [`IdWalk::next_list_call`] and returns the lookups to make: one per
    /// id not delivered yet, in list order, each id once. Moves the walk on to the next page (or
    /// window); the state is whole again once every lookup has been handed to
    /// [`IdWalk::accept_detail`] or skipped as gone.
    pub fn handle_ids(&mut self, page: IdPage<'_>) -> Vec<CallSpec> {
        self.handle_id_page(page).into_iter().map(|id| self.lookup(id)).collect()
    }

    /// The lookup of one listed id.
    pub fn lookup(&self, aftersale_id: String) -> CallSpec {
        CallSpec::lookup(self.query.platform, Lookup::AfterSale { aftersale_id })
    }

    /// [`IdWalk::handle_ids`] as ids: those to look up, in list order, each once.
    pub fn handle_id_page(&mut self, page: IdPage<'_>) -> Vec<String> {
        if self.state.done {
            return Vec::new();
        }
        let Some(&window) = self.seconds.get(self.state.window as usize) else {
            self.state.done = true;
            return Vec::new();
        };
        self.checking = Some(window);
        let mut asked = BTreeSet::new();
        let mut calls = Vec::with_capacity(page.ids.len());
        for id in &page.ids {
            let h = id_hash(id);
            if self.delivered(h) || !asked.insert(h) {
                continue;
            }
            calls.push(String::from(&**id));
        }
        match page.next_key.filter(|_| page.has_more) {
            // A key equal to the one just sent would loop forever: treat it as the end.
            Some(key) if self.state.next_key.as_deref() != Some(&*key) => {
                self.state.next_key = Some(key.into_owned());
            }
            _ => self.next_window(),
        }
        calls
    }

    /// A looked-up record: `Some` when it is still in the window its id was listed in, was not
    /// delivered before, and matches the query's filters (checked here, on the detail).
    pub fn accept_detail<'a>(&mut self, record: AfterSale<'a>) -> Option<AfterSale<'a>> {
        let (begin, end) = self.checking?;
        let time = match self.query.date_field {
            DateField::Updated => record.updated_at,
            DateField::Created | DateField::Refunded => record.created_at,
        };
        // Left the window (changed since it was listed): it is listed again in a later one.
        let t = time.and_then(|t| t.unix())?;
        if t < begin || t >= end {
            return None;
        }
        let h = record_hash(&record);
        // The id list filters by nothing but time: the order filter is checked here too.
        let order_ok = self.query.order_id.as_deref().is_none_or(|o| record.order_id.as_deref() == Some(o));
        if self.delivered(h) || !order_ok || !self.query.matches(&record) {
            return None;
        }
        self.state.recent.push(h);
        if self.state.recent.len() > WALK_RECENT {
            let excess = self.state.recent.len() - WALK_RECENT;
            self.state.recent.drain(..excess);
        }
        if let Some(seen) = self.seen.as_mut() {
            seen.insert(h);
        }
        Some(record)
    }

    /// Whether a lookup's error means the id is gone (deleted after it was listed): skip it.
    pub fn is_gone(&self, error: &Error) -> bool {
        matches!(error, Error::Upstream(u) if self.query.platform.upstream().is_gone(&u.code))
    }

    fn delivered(&self, h: u64) -> bool {
        self.state.recent.contains(&h) || self.seen.as_ref().is_some_and(|s| s.contains(&h))
    }

    fn next_window(&mut self) {
        self.state.window += 1;
        self.state.next_key = None;
        // `recent` is kept: a record delivered here may be listed again in the next window.
        if self.state.window as usize >= self.windows.len() {
            self.state.done = true;
        }
    }
}
