//! The sandbox's clock and calendar: records anchored in absolute China-time days, the window of
//! the last [`SPAN_DAYS`] days up to the caller's clock, the states a record goes through after
//! its creation ([`Life`]), and the upstreams' `YYYY-MM-DD HH:MM:SS` local times.
//!
//! Times are local seconds since 1970-01-01T00:00 local (China time for WeChat and Xiaoe, the
//! marketplace's unstated zone for Lingxing). A record is born in a *slot* of an absolute day:
//! its index, creation time and whole life are fixed by the seed and that slot, never by the
//! caller's clock; the clock only decides which slots are in the window, which records exist yet
//! (created at or before now) and how far along its life each one is.

use std::fmt;

use aftersale::time::Date;
use serde::{Serialize, Serializer};

use crate::rng::Rng;
use crate::SPAN_DAYS;

pub(crate) const DAY: i64 = 86_400;
pub(crate) const HOUR: i64 = 3_600;
/// China time minus UTC.
pub(crate) const CHINA: i64 = 8 * HOUR;
/// Record slots a day may hold: a record's index is `day * SLOTS + slot`.
pub(crate) const SLOTS: u64 = 8;

/// Busier in the day and evening, as shops are.
const HOURS: [i64; 27] =
    [0, 1, 7, 8, 9, 9, 10, 10, 11, 11, 12, 13, 14, 14, 15, 15, 16, 17, 18, 19, 20, 20, 21, 21, 22, 22, 23];

/// The window of the caller's clock: days `[first_day, end_day)` since the epoch, China time,
/// `end_day` being tomorrow, and `now` itself (China-local seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Calendar {
    pub first_day: i64,
    pub end_day: i64,
    pub now: i64,
}

/// Where a record is born: its absolute day, its index (the seed of everything about it) and
/// its sequence number among its platform's records (for patterns that must cycle, such as
/// "every status in turn").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub day: i64,
    pub index: u64,
    pub seq: u64,
}

/// How many records a platform creates on each day of the week (a fixed pattern, so a record's
/// sequence number is arithmetic rather than a sum over history).
pub(crate) type Week = [u64; 7];

impl Calendar {
    /// The [`SPAN_DAYS`] days before today and today up to `now_ms`.
    pub fn at(now_ms: u64) -> Calendar {
        let now = china_local(now_ms);
        let today = now.div_euclid(DAY);
        Calendar { first_day: today - SPAN_DAYS, end_day: today + 1, now }
    }

    /// The slots of the window's days from its `skip`-th day on, oldest first. Records born in
    /// them may still lie in the future (the caller filters on creation time).
    pub fn slots(&self, week: &'static Week, skip: i64) -> impl Iterator<Item = Slot> {
        (self.first_day + skip..self.end_day).flat_map(move |day| {
            let n = week[day.rem_euclid(7) as usize];
            (0..n).map(move |j| Slot { day, index: day as u64 * SLOTS + j, seq: seq_of(week, day, j) })
        })
    }
}

/// The sequence number of slot `j` of `day` for a platform creating `week` records a week.
fn seq_of(week: &Week, day: i64, j: u64) -> u64 {
    let per_week: u64 = week.iter().sum();
    let before: u64 = week[..day.rem_euclid(7) as usize].iter().sum();
    day.div_euclid(7) as u64 * per_week + before + j
}

/// The slot of an index (the inverse of [`Calendar::slots`]' numbering), if `week` fills it.
pub(crate) fn slot_of(week: &'static Week, index: u64) -> Option<Slot> {
    let (day, j) = ((index / SLOTS) as i64, index % SLOTS);
    (j < week[day.rem_euclid(7) as usize]).then(|| Slot { day, index, seq: seq_of(week, day, j) })
}

/// A moment of `day` at a shop's busy hours.
pub(crate) fn moment_in(r: &mut Rng, day: i64) -> i64 {
    day * DAY + r.pick(&HOURS) * HOUR + r.below(HOUR as u64) as i64
}

/// The states a record goes through and when: the first at its creation, each next one at a
/// fixed instant after. Where it stands is read at the caller's clock; nothing else moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Life {
    steps: [(i64, u8); 6],
    len: usize,
}

impl Life {
    /// A life through `path` (at most six states) from `born`, each step `delay(r, next)`
    /// seconds after the one before.
    pub fn new(r: &mut Rng, born: i64, path: &[u8], mut delay: impl FnMut(&mut Rng, u8) -> i64) -> Life {
        let mut steps = [(born, 0u8); 6];
        let len = path.len().clamp(1, steps.len());
        let mut t = born;
        for (k, &state) in path.iter().take(len).enumerate() {
            if k > 0 {
                t += delay(r, state).max(1);
            }
            steps[k] = (t, state);
        }
        Life { steps, len }
    }

    /// The state at `now` and the instant it was reached (the record's update time); the
    /// first state if the record is not born yet.
    pub fn at(&self, now: i64) -> (u8, i64) {
        let (t, s) = self.steps[..self.len].iter().rev().find(|(t, _)| *t <= now).copied().unwrap_or(self.steps[0]);
        (s, t)
    }

    /// The last state and when it is reached.
    pub fn last(&self) -> (u8, i64) {
        let (t, s) = self.steps[self.len - 1];
        (s, t)
    }
}

/// China-local seconds of a unix time in milliseconds.
pub(crate) fn china_local(now_ms: u64) -> i64 {
    (now_ms / 1000) as i64 + CHINA
}

pub(crate) fn parse_day(s: &str) -> Option<i64> {
    Date::parse(s.trim()).map(Date::days_since_epoch)
}

pub(crate) fn day_of(t: i64) -> Date {
    Date::from_days_since_epoch(t.div_euclid(DAY))
}

/// A local time written as the upstreams do: `2025-07-01 09:30:00`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Time(pub i64);

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.rem_euclid(DAY);
        write!(f, "{} {:02}:{:02}:{:02}", day_of(self.0), s / HOUR, s % HOUR / 60, s % 60)
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `20250701093000`, as in WeChat's prepay ids.
pub(crate) fn compact_time(t: i64) -> String {
    let d = day_of(t);
    let s = t.rem_euclid(DAY);
    format!("{:04}{:02}{:02}{:02}{:02}{:02}", d.year, d.month, d.day, s / HOUR, s % HOUR / 60, s % 60)
}

/// The path to a final code of the status table WeChat's transaction component and Xiaoe share
/// (codes 0–19): applied (0), then accepted (2) or agreed to a return (6), and so on.
pub(crate) fn shared_path(last: u8) -> &'static [u8] {
    match last {
        0 => &[0],
        1 => &[0, 1],
        2 => &[0, 2],
        3 => &[0, 3],
        4 => &[0, 4],
        5 => &[0, 5],
        6 => &[0, 6],
        7 => &[0, 6, 7],
        8 => &[0, 6, 8],
        9 => &[0, 9],
        10 => &[0, 10],
        11 => &[0, 2, 11],
        12 => &[0, 2, 11, 12],
        13 => &[0, 2, 11, 13],
        14 => &[0, 6, 8, 14],
        15 => &[0, 6, 19, 16, 17, 15],
        16 => &[0, 6, 19, 16],
        17 => &[0, 6, 19, 16, 17],
        18 => &[0, 18],
        _ => &[0, 6, 19],
    }
}

/// Seconds before the next state of the shared table: the overdue codes (3, 12) come after the
/// merchant's two days have lapsed, the others within two days.
pub(crate) fn shared_delay(r: &mut Rng, next: u8) -> i64 {
    match next {
        3 | 12 => r.between(2 * DAY, 4 * DAY),
        _ => r.between(10 * 60, 2 * DAY),
    }
}
