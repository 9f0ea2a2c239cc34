//! Calendar math of partitions: periods, bounds (UTC midnights), partition names, and reading
//! the bounds PostgreSQL prints (`pg_get_expr(relpartbound)`), whatever the session TimeZone.

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Days, FixedOffset, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Utc,
};
use serde::{Deserialize, Serialize};

use crate::table::ManagedTable;

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

/// A partition's bound as PostgreSQL states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundExpr {
    /// `FOR VALUES FROM ('…') TO ('…')` with two finite instants.
    Range(PartitionBound),
    /// The default partition.
    Default,
    /// A range open on one side (`MINVALUE`, `MAXVALUE`, `'-infinity'`, `'infinity'`): `None` is open.
    Unbounded {
        lower: Option<DateTime<Utc>>,
        upper: Option<DateTime<Utc>>,
    },
}

impl BoundExpr {
    pub fn range(&self) -> Option<PartitionBound> {
        match self {
            BoundExpr::Range(b) => Some(*b),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("cannot read partition bound `{expr}`: {reason}")]
pub struct BoundParseError {
    pub expr: String,
    pub reason: String,
}

/// Reads `pg_get_expr(relpartbound, oid)` of a range partition on one `timestamptz` column.
/// Literals carry the session's UTC offset (`'2025-09-30 20:00:00-04'`), which is honoured, so
/// the result does not depend on `TimeZone`. A literal without offset (a `timestamp` key, not one
/// of ours) is read as UTC. Needs `DateStyle` ISO (PostgreSQL's default), as psql and sqlx use.
pub fn parse_partition_expr(expr: &str) -> Result<BoundExpr, BoundParseError> {
    let fail = |reason: &str| BoundParseError {
        expr: expr.to_string(),
        reason: reason.to_string(),
    };
    let text = expr.trim();
    if text == "DEFAULT" {
        return Ok(BoundExpr::Default);
    }
    let rest = text.strip_prefix("FOR VALUES FROM").ok_or_else(|| {
        fail("not a range partition bound (expected FOR VALUES FROM (…) TO (…) or DEFAULT)")
    })?;
    let (from, rest) = value_list(rest).map_err(|r| fail(&r))?;
    let rest = rest
        .trim_start()
        .strip_prefix("TO")
        .ok_or_else(|| fail("expected TO after the lower bound"))?;
    let (to, rest) = value_list(rest).map_err(|r| fail(&r))?;
    if !rest.trim().is_empty() {
        return Err(fail("unexpected text after the upper bound"));
    }
    let lower = bound_value(&from, true).map_err(|r| fail(&r))?;
    let upper = bound_value(&to, false).map_err(|r| fail(&r))?;
    match (lower, upper) {
        (Some(l), Some(u)) if l < u => Ok(BoundExpr::Range(PartitionBound::new(l, u))),
        (Some(_), Some(_)) => Err(fail("the lower bound is not below the upper bound")),
        (lower, upper) => Ok(BoundExpr::Unbounded { lower, upper }),
    }
}

/// One item of a bound list: a quoted literal, or a bare word such as MINVALUE.
enum Value {
    Literal(String),
    Word(String),
}

/// Parses `( value )` at the start of `s`; returns the value and what follows.
fn value_list(s: &str) -> Result<(Value, &str), String> {
    let s = s.trim_start();
    let s = s.strip_prefix('(').ok_or("expected `(`")?;
    let (value, rest) = if let Some(body) = s.strip_prefix('\'') {
        // A literal ends at a quote not followed by another quote ('' is an escaped quote).
        let mut out = String::new();
        let mut chars = body.char_indices().peekable();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if chars.peek().map(|(_, n)| *n) == Some('\'') {
                    out.push('\'');
                    chars.next();
                } else {
                    end = Some(i + 1);
                    break;
                }
            } else {
                out.push(c);
            }
        }
        let end = end.ok_or("unterminated literal")?;
        (Value::Literal(out), &body[end..])
    } else {
        let len = s
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .unwrap_or(s.len());
        (Value::Word(s[..len].to_string()), &s[len..])
    };
    let rest = rest.trim_start();
    if rest.starts_with(',') {
        return Err("multi-column bound: the managed tables are partitioned on one column".into());
    }
    let rest = rest.strip_prefix(')').ok_or("expected `)`")?;
    Ok((value, rest))
}

/// `None` is an open end (MINVALUE below, MAXVALUE above, or ±infinity).
fn bound_value(v: &Value, is_lower: bool) -> Result<Option<DateTime<Utc>>, String> {
    match v {
        Value::Word(w) if w.eq_ignore_ascii_case("MINVALUE") && is_lower => Ok(None),
        Value::Word(w) if w.eq_ignore_ascii_case("MAXVALUE") && !is_lower => Ok(None),
        Value::Word(w) => Err(format!("unexpected `{w}` in a bound")),
        Value::Literal(l) if l == "-infinity" || l == "infinity" => Ok(None),
        Value::Literal(l) => parse_timestamptz(l).map(Some),
    }
}

/// `YYYY-MM-DD[ HH:MM:SS[.ffffff]][±HH[:MM[:SS]]]`, as PostgreSQL prints with DateStyle ISO.
fn parse_timestamptz(text: &str) -> Result<DateTime<Utc>, String> {
    let bad =
        |why: &str| format!("`{text}` is not a timestamp PostgreSQL prints in ISO style: {why}");
    if text.ends_with(" BC") {
        return Err(bad("years before the common era are not partitioned here"));
    }
    // The offset sign comes after the date's own dashes (position 10 on).
    let sign_at = text
        .char_indices()
        .skip(10)
        .find(|(_, c)| *c == '+' || *c == '-')
        .map(|(i, _)| i);
    let (local, offset) = match sign_at {
        Some(i) => (&text[..i], Some(&text[i..])),
        None => (text, None),
    };
    let naive = if local.len() == 10 {
        NaiveDate::parse_from_str(local, "%Y-%m-%d")
            .map(|d| d.and_time(NaiveTime::MIN))
            .map_err(|e| bad(&e.to_string()))?
    } else {
        NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M:%S%.f")
            .map_err(|e| bad(&e.to_string()))?
    };
    let Some(offset) = offset else {
        return Ok(naive.and_utc());
    };
    let seconds = parse_offset(offset).ok_or_else(|| bad("bad UTC offset"))?;
    let tz = FixedOffset::east_opt(seconds).ok_or_else(|| bad("UTC offset out of range"))?;
    tz.from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| bad("not a valid local time"))
}

/// `+05`, `-04`, `+05:30`, `+00:19:32` (local mean time offsets) → seconds east of UTC.
fn parse_offset(text: &str) -> Option<i32> {
    let (sign, digits) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let mut seconds = 0;
    let mut parts = 0;
    for (i, part) in digits.split(':').enumerate() {
        if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_digit()) || i > 2 {
            return None;
        }
        let n: i32 = part.parse().ok()?;
        seconds += n * [3600, 60, 1][i];
        parts += 1;
    }
    (parts > 0).then_some(sign * seconds)
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
