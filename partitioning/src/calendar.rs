//! Calendar math of partitions: periods, bounds (UTC midnights), partition names, and reading
//! the bounds PostgreSQL prints (`pg_get_expr(relpartbound)`), whatever the session TimeZone.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::table::ManagedTable;

mod expr;
pub use expr::{parse_partition_expr, BoundExpr, BoundParseError};

/// The length of one partition. Weeks start on Monday (ISO 8601), so a week may span two years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Month,
    Week,
    Day,
}

impl Period {
    /// The word `partition_policy.period` stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Month => "month",
            Period::Week => "week",
            Period::Day => "day",
        }
    }

    /// The shortest this period can be, in days: used where a count must never be underestimated.
    pub fn min_days(self) -> u32 {
        match self {
            Period::Month => 28,
            Period::Week => 7,
            Period::Day => 1,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Period {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "month" => Ok(Period::Month),
            "week" => Ok(Period::Week),
            "day" => Ok(Period::Day),
            other => Err(format!(
                "unknown period `{other}`: expected month, week or day"
            )),
        }
    }
}

/// A half-open range `[lower, upper)` of the partition key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartitionBound {
    pub lower: DateTime<Utc>,
    pub upper: DateTime<Utc>,
}

impl PartitionBound {
    pub fn new(lower: DateTime<Utc>, upper: DateTime<Utc>) -> Self {
        Self { lower, upper }
    }

    /// `[from, to)` between two UTC midnights.
    pub fn from_dates(from: NaiveDate, to: NaiveDate) -> Self {
        Self::new(midnight(from), midnight(to))
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.lower <= t && t < self.upper
    }

    pub fn overlaps(&self, other: &PartitionBound) -> bool {
        self.lower < other.upper && other.lower < self.upper
    }
}

impl fmt::Display for PartitionBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}, {})",
            human_instant(self.lower),
            human_instant(self.upper)
        )
    }
}

/// The UTC midnight starting `date`.
pub fn midnight(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN).and_utc()
}

/// `2025-10-01` for a UTC midnight, `2025-10-01 13:05:09 UTC` otherwise: how reasons print times.
pub fn human_instant(t: DateTime<Utc>) -> String {
    if t.time() == NaiveTime::MIN {
        t.format("%Y-%m-%d").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    }
}

/// The period of `period` holding `date`. Saturates at chrono's last date rather than failing.
pub fn period_containing(period: Period, date: NaiveDate) -> PartitionBound {
    let (first, next) = match period {
        Period::Day => (date, date.checked_add_days(Days::new(1))),
        Period::Week => {
            let monday = date
                .checked_sub_days(Days::new(u64::from(date.weekday().num_days_from_monday())))
                .unwrap_or(NaiveDate::MIN);
            (monday, monday.checked_add_days(Days::new(7)))
        }
        Period::Month => {
            let first = date.with_day(1).unwrap_or(date);
            (first, first.checked_add_months(Months::new(1)))
        }
    };
    PartitionBound::from_dates(first, next.unwrap_or(NaiveDate::MAX))
}

/// The period right after `bound` (which should itself be a whole period).
pub fn next_period(period: Period, bound: &PartitionBound) -> PartitionBound {
    period_containing(period, bound.upper.date_naive())
}

/// The period right before `bound`.
pub fn previous_period(period: Period, bound: &PartitionBound) -> PartitionBound {
    let day_before = bound
        .lower
        .date_naive()
        .pred_opt()
        .unwrap_or(NaiveDate::MIN);
    period_containing(period, day_before)
}

/// Every period intersecting the closed day range `[first, last]`, oldest first.
pub fn periods_intersecting(
    period: Period,
    first: NaiveDate,
    last: NaiveDate,
) -> Vec<PartitionBound> {
    let mut out = Vec::new();
    let mut b = period_containing(period, first);
    while b.lower <= midnight(last) {
        out.push(b);
        let next = next_period(period, &b);
        if next.lower <= b.lower {
            break; // the calendar's end: chrono saturated
        }
        b = next;
    }
    out
}

/// True when `bound` is exactly one period of `period` (UTC midnights, Monday for weeks).
pub fn is_whole_period(period: Period, bound: &PartitionBound) -> bool {
    period_containing(period, bound.lower.date_naive()) == *bound
}

/// The name the tool gives the partition of `table` over `bound`: `auth_audit_log_2025_10`,
/// `sessions_2025_10_01`, `refresh_tokens_2025_09_29` (named for the Monday).
pub fn partition_name(table: ManagedTable, bound: &PartitionBound) -> String {
    let d = bound.lower.date_naive();
    match table.period() {
        Period::Month => format!("{}_{:04}_{:02}", table.name(), d.year(), d.month()),
        Period::Week | Period::Day => {
            format!(
                "{}_{:04}_{:02}_{:02}",
                table.name(),
                d.year(),
                d.month(),
                d.day()
            )
        }
    }
}

/// The bound a name given by [`partition_name`] stands for; `None` for any other name (wrong
/// table, wrong shape, not a Monday for weeks, no such date, missing zero padding).
pub fn parse_partition_name(table: ManagedTable, name: &str) -> Option<PartitionBound> {
    let rest = name.strip_prefix(table.name())?.strip_prefix('_')?;
    let parts: Vec<&str> = rest.split('_').collect();
    let number = |s: &str, len: usize| -> Option<u32> {
        if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    let date = match (table.period(), parts.as_slice()) {
        (Period::Month, [y, m]) => {
            NaiveDate::from_ymd_opt(i32::try_from(number(y, 4)?).ok()?, number(m, 2)?, 1)?
        }
        (Period::Week | Period::Day, [y, m, d]) => NaiveDate::from_ymd_opt(
            i32::try_from(number(y, 4)?).ok()?,
            number(m, 2)?,
            number(d, 2)?,
        )?,
        _ => return None,
    };
    let bound = period_containing(table.period(), date);
    (bound.lower.date_naive() == date && partition_name(table, &bound) == name).then_some(bound)
}

/// The literal the tool writes a bound as: `'2025-10-01 00:00:00+00'` (explicit offset, so the
/// session TimeZone never shifts it). The one bound formatter.
pub fn bound_literal(t: DateTime<Utc>) -> String {
    format!("'{}+00'", t.format("%Y-%m-%d %H:%M:%S%.f"))
}

/// `FOR VALUES FROM ('…+00') TO ('…+00')`: what PostgreSQL prints for `bound` with TimeZone UTC.
pub fn for_values(bound: &PartitionBound) -> String {
    format!(
        "FOR VALUES FROM ({}) TO ({})",
        bound_literal(bound.lower),
        bound_literal(bound.upper)
    )
}

#[cfg(test)]
mod tests;
