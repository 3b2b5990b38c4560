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
use alloc::vec::Vec;

use crate::model::time::Date;
use crate::model::AfterSale;
use crate::parse::normalize::Page;
use crate::protocol::call::CallSpec;
use crate::protocol::query::ListQuery;
use crate::protocol::upstream::{ListPage, ListScheme, Paging};
use crate::Error;

/// Where a pagination stands; small enough to travel in a cursor.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
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
    pub done: bool,
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

    /// Resumes from a cursor's state.
    pub fn resume(query: ListQuery, state: PagerState) -> Result<Pager, Error> {
        let page_size = query.limit;
        Pager::build(query, Some(page_size), state, None)
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
            Paging::Offset => size,
        };
        let offset = self.state.offset + covered;
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
                    self.state.grown += new - old;
                }
            }
            if page.total.is_some() {
                self.state.known_total = page.total;
            }
        }

        // Page-numbered upstreams answer whole pages: skip what lies before the offset.
        let skip = match self.scheme.paging {
            Paging::PageNumber => (requested_offset % u64::from(self.page_size)) as usize,
            Paging::Offset => 0,
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

        self.state.offset += covered;
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
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        self.state.window += 1;
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
