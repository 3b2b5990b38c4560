//! The sandbox's calendar: the [`SPAN_DAYS`] days before the day of the caller's clock, and the
//! upstreams' `YYYY-MM-DD HH:MM:SS` local times.
//!
//! Times are local seconds since 1970-01-01T00:00 local (China time for WeChat and Xiaoe, the
//! marketplace's unstated zone for Lingxing). Records are laid out from the range's first day, so
//! moving to another day slides every record by the days between and changes nothing else.

use std::fmt;

use aftersale::time::Date;
use serde::{Serialize, Serializer};

use crate::rng::Rng;
use crate::SPAN_DAYS;

pub(crate) const DAY: i64 = 86_400;
pub(crate) const HOUR: i64 = 3_600;
/// China time minus UTC.
pub(crate) const CHINA: i64 = 8 * HOUR;

/// Busier in the day and evening, as shops are.
const HOURS: [i64; 27] =
    [0, 1, 7, 8, 9, 9, 10, 10, 11, 11, 12, 13, 14, 14, 15, 15, 16, 17, 18, 19, 20, 20, 21, 21, 22, 22, 23];

/// `[first_day, end_day)` in days since the epoch, China time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Calendar {
    pub first_day: i64,
    pub end_day: i64,
}

impl Calendar {
    /// The range ends at the start of today, so no record lies in the caller's future and the
    /// data does not change during the day.
    pub fn at(now_ms: u64) -> Calendar {
        let today = china_local(now_ms).div_euclid(DAY);
        Calendar { first_day: today - SPAN_DAYS, end_day: today }
    }

    pub const fn days(&self) -> i64 {
        self.end_day - self.first_day
    }

    /// The first second of the range.
    pub const fn start(&self) -> i64 {
        self.first_day * DAY
    }

    /// The first second after the range.
    pub const fn end(&self) -> i64 {
        self.end_day * DAY
    }

    /// A moment in the first `days` days of the range, at a shop's busy hours.
    pub fn random_moment(&self, r: &mut Rng, days: i64) -> i64 {
        self.start() + r.below(days as u64) as i64 * DAY + r.pick(&HOURS) * HOUR + r.below(HOUR as u64) as i64
    }

    /// `t` plus a delay in `min..=max` seconds, never reaching the end of the range.
    pub fn later(&self, r: &mut Rng, t: i64, min: i64, max: i64) -> i64 {
        let room = (self.end() - 1 - t).max(0);
        let hi = max.min(room);
        let lo = min.min(hi);
        t + r.between(lo, hi)
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
