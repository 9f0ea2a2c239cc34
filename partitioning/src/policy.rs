//! Each table's policy (retention, partitions ahead, cleanup mode, default partition) and the
//! HIPAA retention guard every drop passes, whatever the configuration says.

use std::fmt;

use chrono::{DateTime, Duration, Months, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{human_instant, PartitionBound, Period};
use crate::table::ManagedTable;

/// 45 CFR 164.316(b)(2)(i): documentation is kept 6 years. No audit partition younger than that
/// is ever dropped; the organisation's 7 years sits above this floor.
pub const HIPAA_MIN_RETENTION_YEARS: u32 = 6;

/// How long rows are kept. Years are calendar years (chrono month arithmetic: Feb 29 minus one
/// year is Feb 28), days are 24-hour days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Retention {
    Years(u32),
    Days(u32),
}

impl Retention {
    /// The instant before which rows are past retention: `now - retention`. A partition is past
    /// retention when its upper bound is at or before this. If the calendar cannot go that far
    /// back, the cutoff is the earliest instant, so nothing counts as past retention.
    pub fn cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let earlier = match *self {
            Retention::Years(y) => y
                .checked_mul(12)
                .and_then(|m| now.checked_sub_months(Months::new(m))),
            Retention::Days(d) => now.checked_sub_signed(Duration::days(i64::from(d))),
        };
        earlier.unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// True when this retention is `years` calendar years or more, for every `now` (day counts are
    /// compared with the longest span those years can have, leap days included).
    pub fn is_at_least_years(&self, years: u32) -> bool {
        match *self {
            Retention::Years(y) => y >= years,
            Retention::Days(d) => {
                u64::from(d) >= u64::from(years) * 365 + u64::from(years).div_ceil(4)
            }
        }
    }

    /// How many periods of `period` can overlap the retention window: never underestimated, so a
    /// count rule built on it never calls a correctly maintained table too big.
    pub fn periods(&self, period: Period) -> u32 {
        match (*self, period) {
            (Retention::Years(y), Period::Month) => y.saturating_mul(12),
            (Retention::Years(y), p) => y.saturating_mul(366).div_ceil(p.min_days()),
            (Retention::Days(d), p) => d.div_ceil(p.min_days()),
        }
    }

    /// As a PostgreSQL interval literal's text (`7 years`, `90 days`), for `partition_policy`.
    pub fn pg_interval(&self) -> String {
        match *self {
            Retention::Years(y) => format!("{y} years"),
            Retention::Days(d) => format!("{d} days"),
        }
    }
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Retention::Years(1) => f.write_str("1 year"),
            Retention::Days(1) => f.write_str("1 day"),
            Retention::Years(y) => write!(f, "{y} years"),
            Retention::Days(d) => write!(f, "{d} days"),
        }
    }
}

/// Whether expired partitions are dropped by the tool alone or need a two-person approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CleanupMode {
    Auto,
    Approval,
}

impl CleanupMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CleanupMode::Auto => "auto",
            CleanupMode::Approval => "approval",
        }
    }
}

impl fmt::Display for CleanupMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One table's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Policy {
    pub table: ManagedTable,
    pub retention: Retention,
    /// Periods created beyond the current one.
    pub ahead: u32,
    pub cleanup: CleanupMode,
    /// Keep a default partition (a safety net for rows with no partition, at the cost of
    /// concurrent detach; DOMAIN.md).
    pub default_partition: bool,
}

impl Policy {
    /// The guide's policy for `table` (what the shipped config file says).
    pub const fn default_for(table: ManagedTable) -> Policy {
        let (retention, ahead, cleanup) = match table {
            ManagedTable::AuthAuditLog => (Retention::Years(7), 6, CleanupMode::Approval),
            ManagedTable::Sessions => (Retention::Days(90), 14, CleanupMode::Auto),
            ManagedTable::RefreshTokens => (Retention::Days(60), 4, CleanupMode::Auto),
            ManagedTable::RateLimits => (Retention::Days(7), 7, CleanupMode::Auto),
        };
        Policy {
            table,
            retention,
            ahead,
            cleanup,
            default_partition: false,
        }
    }

    /// How many partitions the policy itself calls for: the periods of the retention window, the
    /// current one, and those ahead. Health count thresholds never go below this.
    pub fn expected_partitions(&self) -> u32 {
        self.retention
            .periods(self.table.period())
            .saturating_add(self.ahead)
            .saturating_add(1)
    }

    /// The cutoff a drop must respect: the policy's, and for the audit log never later than the
    /// HIPAA floor's.
    pub fn drop_cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        drop_cutoff(self.table, &self.retention, now)
    }
}

/// The later of the two limits is the binding one only if it is the earlier instant: rows are
/// dropped only when older than both the policy and (for audit) the 6-year floor.
fn drop_cutoff(table: ManagedTable, retention: &Retention, now: DateTime<Utc>) -> DateTime<Utc> {
    let cutoff = retention.cutoff(now);
    if table == ManagedTable::AuthAuditLog {
        cutoff.min(Retention::Years(HIPAA_MIN_RETENTION_YEARS).cutoff(now))
    } else {
        cutoff
    }
}

/// The last check before any drop: refuses when the partition's upper bound is after
/// `now - retention`, and for the audit log also when it is after `now - 6 years`, whatever the
/// retention passed in (a forged or mistyped policy cannot drop young audit rows).
pub fn hipaa_guard_allows_drop(
    table: ManagedTable,
    bound: &PartitionBound,
    retention: &Retention,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let cutoff = retention.cutoff(now);
    if bound.upper > cutoff {
        return Err(format!(
            "{} partition {} is within retention: its upper bound {} is after the cutoff {} ({})",
            table,
            bound,
            human_instant(bound.upper),
            human_instant(cutoff),
            retention
        ));
    }
    let floor = Retention::Years(HIPAA_MIN_RETENTION_YEARS).cutoff(now);
    if table == ManagedTable::AuthAuditLog && bound.upper > floor {
        return Err(format!(
            "HIPAA floor: audit partition {} holds rows younger than {} years (its upper bound {} is after {}); \
             45 CFR 164.316(b)(2)(i) forbids dropping it whatever the configured retention ({})",
            bound,
            HIPAA_MIN_RETENTION_YEARS,
            human_instant(bound.upper),
            human_instant(floor),
            retention
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::midnight;
    use chrono::NaiveDate;
    use ManagedTable::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn month(y: i32, m: u32) -> PartitionBound {
        crate::calendar::period_containing(Period::Month, NaiveDate::from_ymd_opt(y, m, 1).unwrap())
    }

    #[test]
    fn cutoffs() {
        // (retention, now, cutoff)
        let cases = [
            (
                Retention::Years(7),
                "2025-11-25T10:00:00Z",
                "2018-11-25T10:00:00Z",
            ),
            (
                Retention::Years(1),
                "2024-02-29T00:00:00Z",
                "2023-02-28T00:00:00Z",
            ),
            (
                Retention::Years(4),
                "2024-02-29T00:00:00Z",
                "2020-02-29T00:00:00Z",
            ),
            (
                Retention::Days(90),
                "2025-10-01T00:00:00Z",
                "2025-07-03T00:00:00Z",
            ),
            (
                Retention::Days(7),
                "2026-01-03T12:00:00Z",
                "2025-12-27T12:00:00Z",
            ),
            (
                Retention::Days(0),
                "2026-01-03T12:00:00Z",
                "2026-01-03T12:00:00Z",
            ),
            (
                Retention::Years(u32::MAX),
                "2026-01-03T12:00:00Z",
                "-262143-01-01T00:00:00Z",
            ),
        ];
        for (r, now, want) in cases {
            let want = if want.starts_with('-') {
                DateTime::<Utc>::MIN_UTC
            } else {
                t(want)
            };
            assert_eq!(r.cutoff(t(now)), want, "{r} before {now}");
        }
    }

    #[test]
    fn retention_lengths() {
        // (retention, at least 6 years?, periods of the table's period, table)
        let cases = [
            (Retention::Years(6), true, 72, AuthAuditLog),
            (Retention::Years(5), false, 60, AuthAuditLog),
            (Retention::Days(2191), false, 79, AuthAuditLog),
            (Retention::Days(2192), true, 79, AuthAuditLog),
            (Retention::Days(90), false, 90, Sessions),
            (Retention::Days(60), false, 9, RefreshTokens),
            (Retention::Years(1), false, 366, RateLimits),
        ];
        for (r, six, periods, table) in cases {
            assert_eq!(r.is_at_least_years(6), six, "{r}");
            assert_eq!(r.periods(table.period()), periods, "{r} {table}");
        }
        assert_eq!(Policy::default_for(Sessions).expected_partitions(), 105);
        assert_eq!(Policy::default_for(AuthAuditLog).expected_partitions(), 91);
        assert_eq!(Policy::default_for(RefreshTokens).expected_partitions(), 14);
        assert_eq!(Policy::default_for(RateLimits).expected_partitions(), 15);
    }

    #[test]
    fn hipaa_guard() {
        let now = t("2025-11-25T10:00:00Z");
        // (table, partition, retention, allowed, words in the refusal)
        let cases = [
            (AuthAuditLog, month(2018, 10), Retention::Years(7), true, ""),
            (
                AuthAuditLog,
                month(2018, 11),
                Retention::Years(7),
                false,
                "within retention",
            ),
            (
                AuthAuditLog,
                month(2024, 1),
                Retention::Years(1),
                false,
                "HIPAA floor",
            ),
            (AuthAuditLog, month(2019, 10), Retention::Years(1), true, ""),
            (
                AuthAuditLog,
                month(2019, 11),
                Retention::Years(1),
                false,
                "HIPAA floor",
            ),
            (
                AuthAuditLog,
                month(2019, 11),
                Retention::Days(30),
                false,
                "HIPAA floor",
            ),
            (Sessions, month(2024, 1), Retention::Years(1), true, ""),
            (
                Sessions,
                month(2025, 10),
                Retention::Days(30),
                false,
                "within retention",
            ),
        ];
        for (table, bound, r, allowed, words) in cases {
            let got = hipaa_guard_allows_drop(table, &bound, &r, now);
            assert_eq!(got.is_ok(), allowed, "{table} {bound} {r}: {got:?}");
            if let Err(e) = got {
                assert!(e.contains(words), "{e}");
            }
        }
        // Exactly at the cutoff is allowed; one second after is not.
        let cutoff = Retention::Days(90).cutoff(now);
        let at = PartitionBound::new(
            midnight(NaiveDate::from_ymd_opt(2025, 8, 26).unwrap()),
            cutoff,
        );
        assert!(hipaa_guard_allows_drop(Sessions, &at, &Retention::Days(90), now).is_ok());
        let after = PartitionBound::new(at.lower, cutoff + Duration::seconds(1));
        assert!(hipaa_guard_allows_drop(Sessions, &after, &Retention::Days(90), now).is_err());
        assert_eq!(
            Policy {
                retention: Retention::Years(1),
                ..Policy::default_for(AuthAuditLog)
            }
            .drop_cutoff(now),
            t("2019-11-25T10:00:00Z")
        );
    }
}
