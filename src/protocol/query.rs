//! The caller's query (SPEC.md §3), validated with errors that name the parameter.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::model::time::Date;
pub use crate::model::DateField;
use crate::model::{AfterSale, Kind, Platform, Status};
use crate::protocol::upstream::ListScheme;
use crate::Error;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 100;
/// Longer ranges are refused: a year of after-sales is already many upstream calls.
pub const MAX_RANGE_DAYS: i64 = 366;

/// A list query: one platform, a half-open range of China-time dates, filters, a page size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListQuery {
    pub platform: Platform,
    pub from: Date,
    pub to: Date,
    pub date_field: DateField,
    /// Empty: every status.
    pub statuses: Vec<Status>,
    pub kind: Option<Kind>,
    pub order_id: Option<String>,
    pub limit: u32,
    pub include_raw: bool,
}

const PARAMETERS: &[&str] =
    &["platform", "from", "to", "date_field", "status", "kind", "order_id", "limit", "cursor", "include_raw"];

impl ListQuery {
    pub fn new(platform: Platform, from: Date, to: Date) -> ListQuery {
        ListQuery {
            platform,
            from,
            to,
            date_field: DateField::Created,
            statuses: Vec::new(),
            kind: None,
            order_id: None,
            limit: DEFAULT_LIMIT,
            include_raw: false,
        }
    }

    /// Reads the query-string parameters of `GET /v1/aftersales` (already percent-decoded).
    /// `cursor` is accepted and ignored here: the caller opens it.
    pub fn from_params<'p>(params: impl IntoIterator<Item = (&'p str, &'p str)>) -> Result<ListQuery, Error> {
        let mut platform = None;
        let mut from = None;
        let mut to = None;
        let mut date_field = DateField::Created;
        let mut statuses = Vec::new();
        let mut kind = None;
        let mut order_id = None;
        let mut limit = DEFAULT_LIMIT;
        let mut include_raw = false;
        let mut seen: Vec<&str> = Vec::new();
        for (key, value) in params {
            // A repeated parameter is ambiguous (which one wins?): refuse it rather than guess.
            if seen.contains(&key) {
                return Err(Error::invalid_request(
                    "query",
                    format!(
                        "parameter {key:?} is given more than once; give it once (status takes a comma-separated list)"
                    ),
                ));
            }
            seen.push(key);
            match key {
                "platform" => platform = Some(value.parse::<Platform>()?),
                "from" => from = Some(parse_date("from", value)?),
                "to" => to = Some(parse_date("to", value)?),
                "date_field" => {
                    date_field = match value {
                        "created" => DateField::Created,
                        "updated" => DateField::Updated,
                        "refunded" => DateField::Refunded,
                        _ => {
                            return Err(Error::invalid_request(
                                "date_field",
                                format!("{value:?} is not one of created, updated, refunded"),
                            ))
                        }
                    }
                }
                "status" => {
                    for s in value.split(',').filter(|s| !s.is_empty()) {
                        let st = s.parse::<Status>()?;
                        if !statuses.contains(&st) {
                            statuses.push(st);
                        }
                    }
                }
                "kind" => kind = Some(value.parse::<Kind>()?),
                "order_id" if value.is_empty() => return Err(Error::invalid_request("order_id", "is empty")),
                "order_id" => order_id = Some(value.to_string()),
                "limit" => {
                    limit = value.parse::<u32>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
                        Error::invalid_request(
                            "limit",
                            format!("{value:?} is not a whole number from 1 to {MAX_LIMIT}"),
                        )
                    })?
                }
                "include_raw" => {
                    include_raw = match value {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => {
                            return Err(Error::invalid_request(
                                "include_raw",
                                format!("{value:?} is not true or false"),
                            ))
                        }
                    }
                }
                "cursor" => {}
                other => {
                    return Err(Error::invalid_request(
                        "query",
                        format!("unknown parameter {other:?}; expected one of {}", PARAMETERS.join(", ")),
                    ))
                }
            }
        }
        // One order for the same set, so equal queries compare equal (cursors rely on it).
        statuses.sort_by_key(|s| Status::ALL.iter().position(|x| x == s));
        let platform = platform.ok_or_else(|| Error::invalid_request("platform", "is required"))?;
        let from = from.ok_or_else(|| Error::invalid_request("from", "is required (YYYY-MM-DD)"))?;
        let to = to.ok_or_else(|| Error::invalid_request("to", "is required (YYYY-MM-DD)"))?;
        let q = ListQuery { platform, from, to, date_field, statuses, kind, order_id, limit, include_raw };
        q.validate()?;
        Ok(q)
    }

    /// Checks what no single parameter can: the range and what the platform can list.
    pub fn validate(&self) -> Result<(), Error> {
        check_year("from", self.from)?;
        // `to` is exclusive: the first day after the last year is still a valid end.
        if self.to != Date::new(MAX_YEAR + 1, 1, 1).unwrap_or(self.to) {
            check_year("to", self.to)?;
        }
        if self.order_id.as_deref().is_some_and(|o| o.is_empty() || o.len() > 128) {
            return Err(Error::invalid_request("order_id", "must be 1 to 128 characters"));
        }
        if self.from >= self.to {
            return Err(Error::invalid_request(
                "to",
                format!("must be after from ({} >= {}); the range is [from, to)", self.from, self.to),
            ));
        }
        let days = self.to.days_since_epoch() - self.from.days_since_epoch();
        if days > MAX_RANGE_DAYS {
            return Err(Error::invalid_request(
                "to",
                format!("the range spans {days} days; at most {MAX_RANGE_DAYS} are allowed"),
            ));
        }
        if !(1..=MAX_LIMIT).contains(&self.limit) {
            return Err(Error::invalid_request("limit", format!("{} is not from 1 to {MAX_LIMIT}", self.limit)));
        }
        let scheme = self.list_scheme()?;
        if !scheme.date_fields.contains(&self.date_field) {
            let names: Vec<&str> = scheme.date_fields.iter().map(|f| f.as_str()).collect();
            return Err(Error::invalid_request(
                "date_field",
                format!(
                    "{} cannot filter by {}; it filters by {}",
                    self.platform,
                    self.date_field.as_str(),
                    names.join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// The platform's list, or a 400 saying why it has none and what to use instead.
    pub fn list_scheme(&self) -> Result<&'static ListScheme, Error> {
        self.platform
            .upstream()
            .list()
            .map_err(|why| Error::invalid_request("platform", format!("{} {why}", self.platform)))
    }

    /// Filters the upstream cannot apply itself, and those it may ignore: `order_id` is sent
    /// upstream and checked again here, so an upstream that disregards it never hands the
    /// caller other orders' records.
    pub fn matches(&self, record: &AfterSale<'_>) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&record.status))
            && self.kind.is_none_or(|k| k == record.kind)
            && self
                .order_id
                .as_deref()
                .is_none_or(|o| record.order_id.as_deref() == Some(o) || record.out_order_id.as_deref() == Some(o))
    }

    /// Whether the query filters after the upstream, so that the upstream's total over-counts.
    pub fn has_local_filters(&self) -> bool {
        !self.statuses.is_empty() || self.kind.is_some()
    }
}

/// The dates a query may name: no upstream holds after-sales outside them, and dates far from
/// today (`0000-01-01`) would only reach the upstream to be refused there.
pub const MIN_YEAR: i32 = 2000;
pub const MAX_YEAR: i32 = 2099;

fn parse_date(parameter: &'static str, value: &str) -> Result<Date, Error> {
    let date = Date::parse(value)
        .ok_or_else(|| Error::invalid_request(parameter, format!("{value:?} is not a date of the form YYYY-MM-DD")))?;
    check_year(parameter, date)?;
    Ok(date)
}

fn check_year(parameter: &'static str, date: Date) -> Result<(), Error> {
    if (MIN_YEAR..=MAX_YEAR).contains(&date.year) {
        Ok(())
    } else {
        Err(Error::invalid_request(
            parameter,
            format!("{date} is outside the years {MIN_YEAR} to {MAX_YEAR} this proxy serves"),
        ))
    }
}
