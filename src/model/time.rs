//! Calendar dates and timestamps without a clock: parsing the upstreams' local times, RFC 3339
//! output, and the date arithmetic pagination needs. Time itself always comes in as an argument.

use core::fmt;

use serde::{Serialize, Serializer};

/// China time, the zone of WeChat and Xiaoe timestamps.
pub const CHINA_OFFSET_MINUTES: i16 = 8 * 60;

/// A calendar date (proleptic Gregorian).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

const fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

const fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    pub const fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        if month >= 1 && month <= 12 && day >= 1 && day <= days_in_month(year, month) {
            Some(Date { year, month, day })
        } else {
            None
        }
    }

    /// `YYYY-MM-DD`, strictly.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        Date::new(digits(&b[0..4])? as i32, digits(&b[5..7])? as u8, digits(&b[8..10])? as u8)
    }

    /// Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    pub const fn days_since_epoch(self) -> i64 {
        let y = if self.month <= 2 { self.year as i64 - 1 } else { self.year as i64 };
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let m = self.month as i64;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + self.day as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146097 + doe - 719468
    }

    pub const fn from_days_since_epoch(z: i64) -> Date {
        let z = z + 719468;
        let era = if z >= 0 { z } else { z - 146096 } / 146097;
        let doe = z - era * 146097;
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        Date { year: (if m <= 2 { y + 1 } else { y }) as i32, month: m, day: d }
    }

    pub const fn add_days(self, days: i64) -> Date {
        Date::from_days_since_epoch(self.days_since_epoch() + days)
    }

    /// Unix seconds at this date's midnight in China time.
    pub const fn china_midnight_unix(self) -> i64 {
        self.days_since_epoch() * 86_400 - CHINA_OFFSET_MINUTES as i64 * 60
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s: alloc::borrow::Cow<'de, str> = serde::Deserialize::deserialize(d)?;
        Date::parse(&s).ok_or_else(|| serde::de::Error::custom(alloc::format!("{s:?} is not a date YYYY-MM-DD")))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut v: u32 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// A wall-clock time, with its UTC offset where the upstream fixes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timestamp {
    pub date: Date,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// `None`: the zone cannot be known (a marketplace's site time when the marketplace is
    /// unknown); printed without an offset.
    pub offset_minutes: Option<i16>,
}

/// What a time field held that was not a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidTime;

impl Timestamp {
    /// `YYYY-MM-DD hh:mm:ss` (or with `T`), or a bare `YYYY-MM-DD` taken as its midnight.
    /// Empty strings and PHP's zero dates (`0000-00-00 00:00:00`, `-0001-11-30 00:00:00`) mean
    /// "no time" and give `Ok(None)`.
    pub fn parse_local(s: &str, offset_minutes: Option<i16>) -> Result<Option<Timestamp>, InvalidTime> {
        let s = s.trim_ascii();
        if s.is_empty() || s.starts_with("0000-00-00") || s.starts_with("-0001-11-30") {
            return Ok(None);
        }
        let b = s.as_bytes();
        let date = Date::parse(s.get(..10).ok_or(InvalidTime)?).ok_or(InvalidTime)?;
        let (hour, minute, second) = match b.len() {
            10 => (0, 0, 0),
            19 if (b[10] == b' ' || b[10] == b'T') && b[13] == b':' && b[16] == b':' => {
                let h = digits(&b[11..13]).ok_or(InvalidTime)?;
                let m = digits(&b[14..16]).ok_or(InvalidTime)?;
                let sec = digits(&b[17..19]).ok_or(InvalidTime)?;
                if h > 23 || m > 59 || sec > 59 {
                    return Err(InvalidTime);
                }
                (h as u8, m as u8, sec as u8)
            }
            _ => return Err(InvalidTime),
        };
        Ok(Some(Timestamp { date, hour, minute, second, offset_minutes }))
    }

    /// This wall-clock time read in `zone`: the digits kept, the offset the zone had then (in a
    /// daylight-saving gap or overlap, the offset before the transition: see [`crate::model::zone`]).
    pub fn in_zone(self, zone: &crate::model::zone::Zone) -> Timestamp {
        let local = self.date.days_since_epoch() * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        Timestamp { offset_minutes: Some(zone.offset_of_local(local)), ..self }
    }

    /// Unix seconds, shown in the given zone.
    pub fn from_unix(secs: i64, offset_minutes: i16) -> Timestamp {
        let local = secs + i64::from(offset_minutes) * 60;
        let days = local.div_euclid(86_400);
        let rem = local.rem_euclid(86_400);
        Timestamp {
            date: Date::from_days_since_epoch(days),
            hour: (rem / 3600) as u8,
            minute: (rem % 3600 / 60) as u8,
            second: (rem % 60) as u8,
            offset_minutes: Some(offset_minutes),
        }
    }

    /// Unix seconds, when the zone is known.
    pub fn unix(&self) -> Option<i64> {
        let off = i64::from(self.offset_minutes?);
        Some(
            self.date.days_since_epoch() * 86_400
                + i64::from(self.hour) * 3600
                + i64::from(self.minute) * 60
                + i64::from(self.second)
                - off * 60,
        )
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}T{:02}:{:02}:{:02}", self.date, self.hour, self.minute, self.second)?;
        if let Some(off) = self.offset_minutes {
            let sign = if off < 0 { '-' } else { '+' };
            let a = off.unsigned_abs();
            write!(f, "{sign}{:02}:{:02}", a / 60, a % 60)?;
        }
        Ok(())
    }
}

impl Timestamp {
    /// RFC 3339 written into a stack buffer: serializing times through `fmt` was a visible
    /// share of `normalize_json`. `None` for years outside 0000–9999 (use `Display` then).
    pub fn write_rfc3339<'b>(&self, buf: &'b mut [u8; 25]) -> Option<&'b str> {
        fn two(out: &mut [u8], v: u8) {
            out[0] = b'0' + v / 10;
            out[1] = b'0' + v % 10;
        }
        let year = u16::try_from(self.date.year).ok().filter(|y| *y <= 9999)?;
        two(&mut buf[0..2], (year / 100) as u8);
        two(&mut buf[2..4], (year % 100) as u8);
        buf[4] = b'-';
        two(&mut buf[5..7], self.date.month);
        buf[7] = b'-';
        two(&mut buf[8..10], self.date.day);
        buf[10] = b'T';
        two(&mut buf[11..13], self.hour);
        buf[13] = b':';
        two(&mut buf[14..16], self.minute);
        buf[16] = b':';
        two(&mut buf[17..19], self.second);
        let len = match self.offset_minutes {
            None => 19,
            Some(off) => {
                let a = off.unsigned_abs();
                if a >= 100 * 60 {
                    return None;
                }
                buf[19] = if off < 0 { b'-' } else { b'+' };
                two(&mut buf[20..22], (a / 60) as u8);
                buf[22] = b':';
                two(&mut buf[23..25], (a % 60) as u8);
                25
            }
        };
        core::str::from_utf8(&buf[..len]).ok()
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 25];
        match self.write_rfc3339(&mut buf) {
            Some(text) => s.serialize_str(text),
            None => s.collect_str(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn civil_round_trip() {
        for days in [-800_000i64, -1, 0, 1, 19_000, 20_000, 2_000_000] {
            assert_eq!(Date::from_days_since_epoch(days).days_since_epoch(), days);
        }
        assert_eq!(Date::parse("2024-02-29").unwrap().add_days(1).to_string(), "2024-03-01");
        assert!(Date::parse("2023-02-29").is_none());
        assert!(Date::parse("2023-13-01").is_none());
    }

    #[test]
    fn local_times() {
        let t = Timestamp::parse_local("2023-02-13 18:34:18", Some(480)).unwrap().unwrap();
        assert_eq!(t.to_string(), "2023-02-13T18:34:18+08:00");
        assert_eq!(t.unix(), Some(1_676_284_458));
        let naive = Timestamp::parse_local("2023-02-16 23:50:50", None).unwrap().unwrap();
        assert_eq!(naive.to_string(), "2023-02-16T23:50:50");
        assert_eq!(Timestamp::parse_local("-0001-11-30 00:00:00", Some(480)), Ok(None));
        assert_eq!(Timestamp::parse_local("", Some(480)), Ok(None));
        for bad in ["2023-02-13 24:00:00", "2023-02-13 18:34", "yesterday", "2023-02-30 00:00:00", "２０２３"] {
            assert_eq!(Timestamp::parse_local(bad, Some(480)), Err(InvalidTime), "{bad}");
        }
    }

    #[test]
    fn fast_rfc3339_matches_display() {
        let mut buf = [0u8; 25];
        for t in [
            Timestamp::from_unix(1_620_738_080, 480),
            Timestamp::from_unix(0, -570),
            Timestamp::parse_local("2023-02-16 23:50:50", None).unwrap().unwrap(),
        ] {
            assert_eq!(t.write_rfc3339(&mut buf), Some(t.to_string().as_str()));
        }
        let far = Timestamp {
            date: Date { year: 12345, month: 1, day: 1 },
            hour: 0,
            minute: 0,
            second: 0,
            offset_minutes: None,
        };
        assert_eq!(far.write_rfc3339(&mut buf), None);
    }

    #[test]
    fn local_times_read_in_a_zone() {
        let pacific = &crate::model::zone::PACIFIC;
        let t = Timestamp::parse_local("2023-02-16 23:50:50", None).unwrap().unwrap().in_zone(pacific);
        assert_eq!(t.to_string(), "2023-02-16T23:50:50-08:00");
        assert_eq!(t.unix(), Some(1_676_620_250));
        let summer = Timestamp::parse_local("2023-07-01 12:00:00", None).unwrap().unwrap().in_zone(pacific);
        assert_eq!(summer.to_string(), "2023-07-01T12:00:00-07:00");
    }

    #[test]
    fn unix_in_china_time() {
        assert_eq!(Timestamp::from_unix(1_620_738_080, 480).to_string(), "2021-05-11T21:01:20+08:00");
    }
}
