//! Reading the bound text PostgreSQL prints for a partition (`pg_get_expr(relpartbound)`), in
//! whatever session TimeZone it was printed.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::PartitionBound;

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
