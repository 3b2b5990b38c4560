//! The few time zones the upstreams' local times are written in, as rules: no time-zone
//! database, no clock. Each zone is a list of eras (a standard offset and a daylight-saving rule)
//! valid up to an instant; the rules are those in force since 2015 (the upstreams' after-sales are
//! younger), and an earlier time is read with the zone's first era.
//!
//! Daylight saving is always one hour. The recurring rules:
//! - `Us`: from the second Sunday of March, 02:00 local standard time, to the first Sunday of
//!   November, 02:00 local daylight time (since 2007);
//! - `Eu`: from the last Sunday of March to the last Sunday of October, both at 01:00 UTC, in
//!   every EU zone and the UK at once (since 1996);
//! - `Australia` (southern hemisphere: daylight time spans the new year): from the first Sunday of
//!   October, 02:00 standard time, to the first Sunday of April, 03:00 daylight time (since 2008);
//! - `Egypt`: from the last Friday of April, 00:00, to the last Thursday of October, 24:00 (daylight
//!   saving restored in 2023; none from 2015 to 2022);
//! - `Periods`: explicit daylight-saving periods, for a zone whose rules ended (Brazil: the last
//!   one ended on 2019-02-17, after which Brazil abolished daylight saving).
//!
//! Historic changes since 2015 kept here: Turkey's daylight time of 2015 lasting two weeks into
//! November, and Turkey staying on +03:00 for good from 2016-09-07; Brazil's periods up to 2019;
//! Egypt's return to daylight saving in 2023.
//!
//! A local time that a transition skips (the hour the clocks jump over) or repeats (the hour
//! they fall back through) is read with **the offset in force before the transition**: in a gap
//! that is the old offset, so `02:30` on a US spring-forward day is `02:30-08:00` (10:30 UTC, what
//! a clock not yet moved on showed); in an overlap it is the first of the two readings, the
//! earlier instant (`01:30` on a US fall-back day is `01:30-07:00`). This is what JavaScript's
//! Temporal calls the "compatible" disambiguation, and RFC 5545 prescribes for iCalendar.

use crate::model::time::Date;

/// A daylight-saving rule (one hour of daylight saving where it applies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// No daylight saving.
    Fixed,
    Us,
    Eu,
    Australia,
    Egypt,
    /// Daylight saving in each half-open `[start, end)` of UTC unix seconds.
    Periods(&'static [(i64, i64)]),
}

/// A standard offset and a rule, up to `until` (UTC unix seconds, exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Era {
    pub until: i64,
    pub standard_minutes: i16,
    pub rule: Rule,
}

/// A time zone: its IANA name (for people and for tests against other implementations) and its eras.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Zone {
    pub name: &'static str,
    pub eras: &'static [Era],
}

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// Unix seconds of a UTC date and time, in constants.
const fn utc(year: i32, month: u8, day: u8, hour: i64) -> i64 {
    Date { year, month, day }.days_since_epoch() * DAY + hour * HOUR
}

const fn forever(standard_minutes: i16, rule: Rule) -> Era {
    Era { until: i64::MAX, standard_minutes, rule }
}

const fn single(name: &'static str, eras: &'static [Era]) -> Zone {
    Zone { name, eras }
}

/// Beijing (China) time, the zone of the Chinese upstreams' own timestamps.
pub const BEIJING: Zone = single("Asia/Shanghai", &[forever(480, Rule::Fixed)]);
pub const PACIFIC: Zone = single("America/Los_Angeles", &[forever(-480, Rule::Us)]);
pub const LONDON: Zone = single("Europe/London", &[forever(0, Rule::Eu)]);
/// Ireland: Irish Standard Time in summer, GMT in winter; the same instants as London.
pub const DUBLIN: Zone = single("Europe/Dublin", &[forever(0, Rule::Eu)]);
/// CET/CEST, shared by Germany, France, Italy, Spain, the Netherlands, Belgium, Sweden, Poland.
pub const CENTRAL_EUROPE: Zone = single("Europe/Paris", &[forever(60, Rule::Eu)]);
pub const ISTANBUL: Zone = single(
    "Europe/Istanbul",
    &[
        Era { until: utc(2015, 10, 25, 1), standard_minutes: 120, rule: Rule::Eu },
        // 2015: daylight time extended to 8 November for the general election.
        Era { until: utc(2015, 11, 8, 1), standard_minutes: 180, rule: Rule::Fixed },
        // 2016: summer time started as in the EU and never ended: +03:00 from 7 September on.
        Era { until: utc(2016, 9, 6, 21), standard_minutes: 120, rule: Rule::Eu },
        forever(180, Rule::Fixed),
    ],
);
/// Brazil (Brasília time): daylight saving from 00:00 standard time to 00:00 daylight time.
pub const SAO_PAULO: Zone = single(
    "America/Sao_Paulo",
    &[forever(
        -180,
        Rule::Periods(&[
            (utc(2014, 10, 19, 3), utc(2015, 2, 22, 2)),
            (utc(2015, 10, 18, 3), utc(2016, 2, 21, 2)),
            (utc(2016, 10, 16, 3), utc(2017, 2, 19, 2)),
            (utc(2017, 10, 15, 3), utc(2018, 2, 18, 2)),
            (utc(2018, 11, 4, 3), utc(2019, 2, 17, 2)),
        ]),
    )],
);
pub const TOKYO: Zone = single("Asia/Tokyo", &[forever(540, Rule::Fixed)]);
pub const SYDNEY: Zone = single("Australia/Sydney", &[forever(600, Rule::Australia)]);
pub const KOLKATA: Zone = single("Asia/Kolkata", &[forever(330, Rule::Fixed)]);
pub const SINGAPORE: Zone = single("Asia/Singapore", &[forever(480, Rule::Fixed)]);
pub const DUBAI: Zone = single("Asia/Dubai", &[forever(240, Rule::Fixed)]);
pub const RIYADH: Zone = single("Asia/Riyadh", &[forever(180, Rule::Fixed)]);
pub const CAIRO: Zone = single("Africa/Cairo", &[forever(120, Rule::Egypt)]);
pub const JOHANNESBURG: Zone = single("Africa/Johannesburg", &[forever(120, Rule::Fixed)]);

/// Every zone above, for tests that compare them with another implementation.
pub const ALL: &[Zone] = &[
    BEIJING,
    PACIFIC,
    LONDON,
    DUBLIN,
    CENTRAL_EUROPE,
    ISTANBUL,
    SAO_PAULO,
    TOKYO,
    SYDNEY,
    KOLKATA,
    SINGAPORE,
    DUBAI,
    RIYADH,
    CAIRO,
    JOHANNESBURG,
];

/// Day number (since 1970-01-01) of the `n`th (1-based) `weekday` (0 = Sunday) of a month.
fn nth_weekday(year: i32, month: u8, weekday: i64, n: i64) -> i64 {
    let first = Date { year, month, day: 1 }.days_since_epoch();
    let first_weekday = (first + 4).rem_euclid(7); // 1970-01-01 was a Thursday
    first + (weekday - first_weekday).rem_euclid(7) + 7 * (n - 1)
}

/// Day number of the last `weekday` of a month.
fn last_weekday(year: i32, month: u8, weekday: i64) -> i64 {
    let next_month =
        if month == 12 { Date { year: year + 1, month: 1, day: 1 } } else { Date { year, month: month + 1, day: 1 } };
    let last = next_month.days_since_epoch() - 1;
    last - (last + 4 - weekday).rem_euclid(7)
}

impl Rule {
    /// Whether daylight saving is in force at `unix` (UTC seconds) in a zone of this standard offset.
    fn daylight(self, unix: i64, standard_minutes: i16) -> bool {
        let year = Date::from_days_since_epoch(unix.div_euclid(DAY)).year;
        let std = i64::from(standard_minutes) * 60;
        match self {
            Rule::Fixed => false,
            Rule::Us => {
                let start = nth_weekday(year, 3, 0, 2) * DAY + 2 * HOUR - std;
                let end = nth_weekday(year, 11, 0, 1) * DAY + 2 * HOUR - (std + HOUR);
                (start..end).contains(&unix)
            }
            Rule::Eu => {
                let start = last_weekday(year, 3, 0) * DAY + HOUR;
                let end = last_weekday(year, 10, 0) * DAY + HOUR;
                (start..end).contains(&unix)
            }
            Rule::Australia => {
                let end = nth_weekday(year, 4, 0, 1) * DAY + 3 * HOUR - (std + HOUR);
                let start = nth_weekday(year, 10, 0, 1) * DAY + 2 * HOUR - std;
                unix < end || unix >= start
            }
            Rule::Egypt => {
                if year < 2023 {
                    return false;
                }
                let start = last_weekday(year, 4, 5) * DAY - std;
                let end = (last_weekday(year, 10, 4) + 1) * DAY - (std + HOUR);
                (start..end).contains(&unix)
            }
            Rule::Periods(periods) => periods.iter().any(|&(start, end)| (start..end).contains(&unix)),
        }
    }
}

impl Zone {
    /// The UTC offset, in minutes, at an instant.
    pub fn offset_at(&self, unix: i64) -> i16 {
        let era = self.eras.iter().find(|e| unix < e.until).or(self.eras.last());
        match era {
            Some(e) => e.standard_minutes + if e.rule.daylight(unix, e.standard_minutes) { 60 } else { 0 },
            None => 0,
        }
    }

    /// The offset, in minutes, of a local wall-clock time given as seconds since 1970-01-01T00:00
    /// local. In a gap or an overlap: the offset in force before the transition (module docs).
    pub fn offset_of_local(&self, local: i64) -> i16 {
        // Transitions are weeks apart, so the offsets a day either side are the two readings.
        let before = self.offset_at(local - DAY);
        let after = self.offset_at(local + DAY);
        if before == after {
            return before;
        }
        let reads_as = |offset: i16| self.offset_at(local - i64::from(offset) * 60) == offset;
        if reads_as(after) && !reads_as(before) {
            after
        } else {
            before // unambiguous before the transition, an overlap, or a gap
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(y: i32, mo: u8, d: u8, h: i64, mi: i64) -> i64 {
        Date::new(y, mo, d).unwrap().days_since_epoch() * DAY + h * HOUR + mi * 60
    }

    #[test]
    fn weekdays() {
        // 2024-03-10 and 2024-11-03 (US), 2024-03-31 and 2024-10-27 (EU).
        assert_eq!(Date::from_days_since_epoch(nth_weekday(2024, 3, 0, 2)), Date::new(2024, 3, 10).unwrap());
        assert_eq!(Date::from_days_since_epoch(nth_weekday(2024, 11, 0, 1)), Date::new(2024, 11, 3).unwrap());
        assert_eq!(Date::from_days_since_epoch(last_weekday(2024, 3, 0)), Date::new(2024, 3, 31).unwrap());
        assert_eq!(Date::from_days_since_epoch(last_weekday(2024, 10, 0)), Date::new(2024, 10, 27).unwrap());
        assert_eq!(Date::from_days_since_epoch(last_weekday(2023, 12, 0)), Date::new(2023, 12, 31).unwrap());
        // Egypt 2023: last Friday of April, last Thursday of October.
        assert_eq!(Date::from_days_since_epoch(last_weekday(2023, 4, 5)), Date::new(2023, 4, 28).unwrap());
        assert_eq!(Date::from_days_since_epoch(last_weekday(2023, 10, 4)), Date::new(2023, 10, 26).unwrap());
    }

    #[test]
    fn us_pacific_transitions() {
        // 2024-03-10 10:00 UTC: 02:00 PST becomes 03:00 PDT.
        assert_eq!(PACIFIC.offset_at(utc(2024, 3, 10, 10) - 1), -480);
        assert_eq!(PACIFIC.offset_at(utc(2024, 3, 10, 10)), -420);
        // 2024-11-03 09:00 UTC: 02:00 PDT becomes 01:00 PST.
        assert_eq!(PACIFIC.offset_at(utc(2024, 11, 3, 9) - 1), -420);
        assert_eq!(PACIFIC.offset_at(utc(2024, 11, 3, 9)), -480);
        assert_eq!(PACIFIC.offset_at(utc(2023, 1, 15, 12)), -480);
        assert_eq!(PACIFIC.offset_at(utc(2023, 7, 15, 12)), -420);
    }

    #[test]
    fn us_gap_and_overlap_take_the_offset_before() {
        assert_eq!(PACIFIC.offset_of_local(local(2024, 3, 10, 1, 59)), -480);
        assert_eq!(PACIFIC.offset_of_local(local(2024, 3, 10, 2, 30)), -480, "gap: the old offset");
        assert_eq!(PACIFIC.offset_of_local(local(2024, 3, 10, 3, 0)), -420);
        assert_eq!(PACIFIC.offset_of_local(local(2024, 11, 3, 0, 59)), -420);
        assert_eq!(PACIFIC.offset_of_local(local(2024, 11, 3, 1, 30)), -420, "overlap: the first reading");
        assert_eq!(PACIFIC.offset_of_local(local(2024, 11, 3, 2, 0)), -480);
    }

    #[test]
    fn eu_and_uk_change_at_one_utc() {
        for (zone, std) in [(CENTRAL_EUROPE, 60), (LONDON, 0), (DUBLIN, 0)] {
            assert_eq!(zone.offset_at(utc(2024, 3, 31, 1) - 1), std, "{}", zone.name);
            assert_eq!(zone.offset_at(utc(2024, 3, 31, 1)), std + 60, "{}", zone.name);
            assert_eq!(zone.offset_at(utc(2024, 10, 27, 1) - 1), std + 60, "{}", zone.name);
            assert_eq!(zone.offset_at(utc(2024, 10, 27, 1)), std, "{}", zone.name);
        }
        // Paris: 02:30 on 31 March does not exist, 02:30 on 27 October exists twice.
        assert_eq!(CENTRAL_EUROPE.offset_of_local(local(2024, 3, 31, 2, 30)), 60);
        assert_eq!(CENTRAL_EUROPE.offset_of_local(local(2024, 3, 31, 3, 0)), 120);
        assert_eq!(CENTRAL_EUROPE.offset_of_local(local(2024, 10, 27, 2, 30)), 120);
        assert_eq!(CENTRAL_EUROPE.offset_of_local(local(2024, 10, 27, 3, 0)), 60);
        // London: the same instants an hour earlier on the wall.
        assert_eq!(LONDON.offset_of_local(local(2024, 3, 31, 1, 30)), 0);
        assert_eq!(LONDON.offset_of_local(local(2024, 10, 27, 1, 30)), 60);
        assert_eq!(LONDON.offset_of_local(local(2024, 10, 27, 2, 0)), 0);
    }

    #[test]
    fn sydney_is_southern() {
        assert_eq!(SYDNEY.offset_at(utc(2024, 1, 15, 0)), 660);
        assert_eq!(SYDNEY.offset_at(utc(2024, 7, 15, 0)), 600);
        // 2024-04-07 03:00 AEDT → 02:00 AEST (16:00 UTC the day before); 2024-10-06 02:00 → 03:00.
        assert_eq!(SYDNEY.offset_at(utc(2024, 4, 6, 16) - 1), 660);
        assert_eq!(SYDNEY.offset_at(utc(2024, 4, 6, 16)), 600);
        assert_eq!(SYDNEY.offset_at(utc(2024, 10, 5, 16) - 1), 600);
        assert_eq!(SYDNEY.offset_at(utc(2024, 10, 5, 16)), 660);
        assert_eq!(SYDNEY.offset_of_local(local(2024, 4, 7, 2, 30)), 660, "overlap");
        assert_eq!(SYDNEY.offset_of_local(local(2024, 10, 6, 2, 30)), 600, "gap");
    }

    #[test]
    fn historic_changes() {
        // Brazil: the last daylight time ended 2019-02-17; none in the 2019/20 summer.
        assert_eq!(SAO_PAULO.offset_at(utc(2019, 1, 10, 12)), -120);
        assert_eq!(SAO_PAULO.offset_at(utc(2019, 2, 17, 2)), -180);
        assert_eq!(SAO_PAULO.offset_at(utc(2020, 1, 10, 12)), -180);
        assert_eq!(SAO_PAULO.offset_of_local(local(2018, 11, 4, 0, 30)), -180, "gap at midnight");
        assert_eq!(SAO_PAULO.offset_of_local(local(2019, 2, 16, 23, 30)), -120, "overlap before midnight");
        // Turkey: EU rules, daylight time to 8 November 2015, then +03:00 for good from 2016.
        assert_eq!(ISTANBUL.offset_at(utc(2015, 11, 1, 12)), 180);
        assert_eq!(ISTANBUL.offset_at(utc(2015, 12, 1, 12)), 120);
        assert_eq!(ISTANBUL.offset_at(utc(2016, 12, 1, 12)), 180);
        assert_eq!(ISTANBUL.offset_at(utc(2024, 1, 1, 12)), 180);
        // Egypt: no daylight saving in 2022, back in 2023 (28 April to 26 October).
        assert_eq!(CAIRO.offset_at(utc(2022, 7, 1, 12)), 120);
        assert_eq!(CAIRO.offset_at(utc(2023, 7, 1, 12)), 180);
        assert_eq!(CAIRO.offset_at(utc(2023, 4, 27, 22) - 1), 120);
        assert_eq!(CAIRO.offset_at(utc(2023, 4, 27, 22)), 180);
        assert_eq!(CAIRO.offset_at(utc(2023, 10, 26, 21) - 1), 180);
        assert_eq!(CAIRO.offset_at(utc(2023, 10, 26, 21)), 120);
        assert_eq!(CAIRO.offset_of_local(local(2023, 4, 28, 0, 30)), 120, "gap");
        assert_eq!(CAIRO.offset_of_local(local(2023, 10, 26, 23, 30)), 180, "overlap");
    }

    #[test]
    fn fixed_zones() {
        for (zone, minutes) in [
            (BEIJING, 480),
            (TOKYO, 540),
            (KOLKATA, 330),
            (DUBAI, 240),
            (RIYADH, 180),
            (SINGAPORE, 480),
            (JOHANNESBURG, 120),
        ] {
            for t in [utc(2015, 1, 1, 0), utc(2024, 3, 31, 1), utc(2024, 7, 1, 0), utc(2030, 11, 3, 9)] {
                assert_eq!(zone.offset_at(t), minutes, "{}", zone.name);
                assert_eq!(zone.offset_of_local(t), minutes, "{}", zone.name);
            }
        }
    }
}
