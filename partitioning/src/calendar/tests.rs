use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use super::*;
use crate::table::ManagedTable::{self, *};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn t(s: &str) -> DateTime<Utc> {
    match DateTime::parse_from_rfc3339(s) {
        Ok(t) => t.with_timezone(&Utc),
        Err(_) => midnight(d(s)),
    }
}

#[test]
fn period_containing_edges() {
    // (period, date, lower, upper)
    let cases = [
        (Period::Day, "2025-10-01", "2025-10-01", "2025-10-02"),
        (Period::Day, "2024-02-28", "2024-02-28", "2024-02-29"),
        (Period::Day, "2024-02-29", "2024-02-29", "2024-03-01"),
        (Period::Day, "2025-02-28", "2025-02-28", "2025-03-01"),
        (Period::Day, "2025-12-31", "2025-12-31", "2026-01-01"),
        (Period::Month, "2025-10-17", "2025-10-01", "2025-11-01"),
        (Period::Month, "2024-02-29", "2024-02-01", "2024-03-01"),
        (Period::Month, "2025-02-28", "2025-02-01", "2025-03-01"),
        (Period::Month, "2025-12-31", "2025-12-01", "2026-01-01"),
        (Period::Month, "2026-01-01", "2026-01-01", "2026-02-01"),
        (Period::Month, "2025-04-30", "2025-04-01", "2025-05-01"),
        (Period::Month, "2025-01-31", "2025-01-01", "2025-02-01"),
        (Period::Week, "2025-10-01", "2025-09-29", "2025-10-06"), // Wednesday
        (Period::Week, "2025-09-29", "2025-09-29", "2025-10-06"), // Monday itself
        (Period::Week, "2025-10-05", "2025-09-29", "2025-10-06"), // Sunday
        (Period::Week, "2026-12-28", "2026-12-28", "2027-01-04"), // ISO week 53 of 2026
        (Period::Week, "2027-01-03", "2026-12-28", "2027-01-04"), // still 2026-W53
        (Period::Week, "2020-12-28", "2020-12-28", "2021-01-04"), // ISO week 53 of 2020
        (Period::Week, "2021-01-01", "2020-12-28", "2021-01-04"),
        (Period::Week, "2024-02-29", "2024-02-26", "2024-03-04"), // leap day mid-week
        (Period::Week, "2025-12-31", "2025-12-29", "2026-01-05"), // Dec→Jan
    ];
    for (period, date, lower, upper) in cases {
        let got = period_containing(period, d(date));
        assert_eq!(
            got,
            PartitionBound::from_dates(d(lower), d(upper)),
            "{period} of {date}"
        );
        assert!(got.contains(t(date)), "{period} {date}");
        assert!(is_whole_period(period, &got));
    }
}

#[test]
fn next_and_previous_periods_cross_year_and_leap_edges() {
    // (period, date in a period, lower of the next, lower of the previous)
    let cases = [
        (Period::Month, "2025-12-15", "2026-01-01", "2025-11-01"),
        (Period::Month, "2024-01-31", "2024-02-01", "2023-12-01"),
        (Period::Month, "2024-03-01", "2024-04-01", "2024-02-01"),
        (Period::Week, "2026-12-30", "2027-01-04", "2026-12-21"),
        (Period::Day, "2024-02-28", "2024-02-29", "2024-02-27"),
        (Period::Day, "2026-01-01", "2026-01-02", "2025-12-31"),
    ];
    for (period, date, next, prev) in cases {
        let b = period_containing(period, d(date));
        assert_eq!(next_period(period, &b).lower, t(next), "{period} {date}");
        assert_eq!(
            previous_period(period, &b).lower,
            t(prev),
            "{period} {date}"
        );
    }
}

#[test]
fn periods_intersecting_a_day_range() {
    // (period, first, last, count, first lower, last lower)
    let cases = [
        (
            Period::Day,
            "2025-10-01",
            "2025-11-30",
            61,
            "2025-10-01",
            "2025-11-30",
        ),
        (
            Period::Week,
            "2025-10-01",
            "2025-11-30",
            9,
            "2025-09-29",
            "2025-11-24",
        ),
        (
            Period::Month,
            "2025-10-01",
            "2025-11-30",
            2,
            "2025-10-01",
            "2025-11-01",
        ),
        (
            Period::Month,
            "2025-12-31",
            "2026-01-01",
            2,
            "2025-12-01",
            "2026-01-01",
        ),
        (
            Period::Day,
            "2024-02-28",
            "2024-03-01",
            3,
            "2024-02-28",
            "2024-03-01",
        ),
        (
            Period::Day,
            "2025-10-01",
            "2025-10-01",
            1,
            "2025-10-01",
            "2025-10-01",
        ),
    ];
    for (period, first, last, n, lo, hi) in cases {
        let got = periods_intersecting(period, d(first), d(last));
        assert_eq!(got.len(), n, "{period} {first}..{last}");
        assert_eq!(got[0].lower, t(lo));
        assert_eq!(got[n - 1].lower, t(hi));
        assert!(
            got.windows(2).all(|w| w[0].upper == w[1].lower),
            "contiguous"
        );
    }
}

#[test]
fn names_round_trip() {
    // (table, date inside the period, name)
    let cases: [(ManagedTable, &str, &str); 9] = [
        (AuthAuditLog, "2025-10-17", "auth_audit_log_2025_10"),
        (AuthAuditLog, "2024-02-29", "auth_audit_log_2024_02"),
        (AuthAuditLog, "2025-12-31", "auth_audit_log_2025_12"),
        (Sessions, "2024-02-29", "sessions_2024_02_29"),
        (Sessions, "2026-01-01", "sessions_2026_01_01"),
        (RateLimits, "2025-10-01", "rate_limits_2025_10_01"),
        (RefreshTokens, "2025-10-01", "refresh_tokens_2025_09_29"),
        (RefreshTokens, "2027-01-03", "refresh_tokens_2026_12_28"),
        (RefreshTokens, "2021-01-01", "refresh_tokens_2020_12_28"),
    ];
    for (table, date, name) in cases {
        let bound = period_containing(table.period(), d(date));
        assert_eq!(partition_name(table, &bound), name);
        assert_eq!(parse_partition_name(table, name), Some(bound), "{name}");
    }
}

#[test]
fn names_the_tool_would_not_give_are_refused() {
    let cases: [(ManagedTable, &str); 12] = [
        (Sessions, "sessions_2025_10_1"),  // no zero padding
        (Sessions, "sessions_2025_02_30"), // no such date
        (Sessions, "sessions_2025_10"),    // month shape on a daily table
        (Sessions, "sessions_p20251001"),  // pg_partman style
        (Sessions, "sessions_2025_10_01_old"),
        (Sessions, "rate_limits_2025_10_01"), // another table's
        (Sessions, "sessions_default"),
        (AuthAuditLog, "auth_audit_log_2025_13"),
        (AuthAuditLog, "auth_audit_log_2025_10_01"),
        (RefreshTokens, "refresh_tokens_2025_10_01"), // a Wednesday
        (RefreshTokens, "refresh_tokens_+025_10_06"),
        (Sessions, "sessions_2025_1o_01"),
    ];
    for (table, name) in cases {
        assert_eq!(parse_partition_name(table, name), None, "{name}");
    }
}

#[test]
fn partition_exprs() {
    let r = |lo: &str, hi: &str| BoundExpr::Range(PartitionBound::new(t(lo), t(hi)));
    // (pg_get_expr text, expected)
    let cases = [
        (
            "FOR VALUES FROM ('2025-10-01 00:00:00+00') TO ('2025-11-01 00:00:00+00')",
            r("2025-10-01", "2025-11-01"),
        ),
        // Session TimeZone America/New_York prints our UTC midnights with -04.
        (
            "FOR VALUES FROM ('2025-09-30 20:00:00-04') TO ('2025-10-31 20:00:00-04')",
            r("2025-10-01", "2025-11-01"),
        ),
        // ... and a bound written without offset under that TimeZone is 04:00 UTC: not ours.
        (
            "FOR VALUES FROM ('2025-10-01 00:00:00-04') TO ('2025-11-01 00:00:00-04')",
            r("2025-10-01T04:00:00Z", "2025-11-01T04:00:00Z"),
        ),
        (
            "FOR VALUES FROM ('2025-10-01 05:30:00+05:30') TO ('2025-10-02 05:30:00+05:30')",
            r("2025-10-01", "2025-10-02"),
        ),
        (
            "FOR VALUES FROM ('2025-10-01 00:19:32+00:19:32') TO ('2025-10-02 00:19:32+00:19:32')",
            r("2025-10-01", "2025-10-02"),
        ),
        (
            "FOR VALUES FROM ('2025-10-01 00:00:00.5+00') TO ('2025-10-02 00:00:00+00')",
            r("2025-10-01T00:00:00.5Z", "2025-10-02"),
        ),
        (
            "FOR VALUES FROM ('2025-10-01') TO ('2025-10-02')",
            r("2025-10-01", "2025-10-02"),
        ),
        (
            "  FOR VALUES FROM ('2024-02-29 00:00:00+00') TO ('2024-03-01 00:00:00+00')\n",
            r("2024-02-29", "2024-03-01"),
        ),
        ("DEFAULT", BoundExpr::Default),
        (
            "FOR VALUES FROM (MINVALUE) TO ('2025-01-01 00:00:00+00')",
            BoundExpr::Unbounded {
                lower: None,
                upper: Some(t("2025-01-01")),
            },
        ),
        (
            "FOR VALUES FROM ('2025-01-01 00:00:00+00') TO (MAXVALUE)",
            BoundExpr::Unbounded {
                lower: Some(t("2025-01-01")),
                upper: None,
            },
        ),
        (
            "FOR VALUES FROM ('-infinity') TO ('infinity')",
            BoundExpr::Unbounded {
                lower: None,
                upper: None,
            },
        ),
    ];
    for (expr, want) in cases {
        assert_eq!(parse_partition_expr(expr), Ok(want), "{expr}");
    }
}

#[test]
fn partition_exprs_refused() {
    let cases = [
        ("FOR VALUES IN ('a')", "not a range"),
        ("FOR VALUES WITH (modulus 4, remainder 0)", "not a range"),
        (
            "FOR VALUES FROM ('2025-10-01 00:00:00+00', 1) TO ('2025-11-01 00:00:00+00', 1)",
            "multi-column",
        ),
        (
            "FOR VALUES FROM ('2025-11-01 00:00:00+00') TO ('2025-10-01 00:00:00+00')",
            "not below",
        ),
        (
            "FOR VALUES FROM ('2025-10-01 00:00:00+00') TO ('2025-11-01 00:00:00+00'",
            "expected `)`",
        ),
        (
            "FOR VALUES FROM ('2025-10-01 25:00:00+00') TO ('2025-11-01 00:00:00+00')",
            "timestamp",
        ),
        (
            "FOR VALUES FROM ('Wed Oct 01 00:00:00 2025 UTC') TO ('2025-11-01 00:00:00+00')",
            "ISO",
        ),
        (
            "FOR VALUES FROM ('2025-10-01 00:00:00+0x') TO ('2025-11-01 00:00:00+00')",
            "offset",
        ),
        (
            "FOR VALUES FROM (MAXVALUE) TO ('2025-11-01 00:00:00+00')",
            "MAXVALUE",
        ),
        (
            "FOR VALUES FROM ('0001-10-01 00:00:00+00 BC') TO ('2025-11-01 00:00:00+00')",
            "common era",
        ),
        ("", "not a range"),
    ];
    for (expr, needle) in cases {
        let err = parse_partition_expr(expr).unwrap_err().to_string();
        assert!(err.contains(needle), "{expr}: {err}");
    }
}

#[test]
fn literals_and_display() {
    let oct = t("2025-10-01");
    assert_eq!(bound_literal(oct), "'2025-10-01 00:00:00+00'");
    assert_eq!(
        bound_literal(Utc.with_ymd_and_hms(2025, 10, 1, 4, 0, 0).unwrap()),
        "'2025-10-01 04:00:00+00'"
    );
    let b = PartitionBound::new(oct, t("2025-11-01"));
    assert_eq!(
        for_values(&b),
        "FOR VALUES FROM ('2025-10-01 00:00:00+00') TO ('2025-11-01 00:00:00+00')"
    );
    assert_eq!(
        parse_partition_expr(&for_values(&b)).unwrap().range(),
        Some(b)
    );
    assert_eq!(b.to_string(), "[2025-10-01, 2025-11-01)");
    assert_eq!(
        human_instant(t("2025-10-01T13:05:09Z")),
        "2025-10-01 13:05:09 UTC"
    );
    assert!(!b.contains(t("2025-11-01")) && b.contains(t("2025-10-31T23:59:59Z")));
    assert_eq!("Week".parse::<Period>(), Ok(Period::Week));
    assert!("fortnight".parse::<Period>().is_err());
}
