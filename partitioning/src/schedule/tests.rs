//! Table-driven tests of the schedule arithmetic at the UTC edges: midnight, month and year ends,
//! leap day, Sundays.

use chrono::{DateTime, Duration, Utc, Weekday};

use super::{Job, Schedule};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("a test timestamp")
        .with_timezone(&Utc)
}

const SUN_0200: Schedule = Schedule::GUIDE_CLEANUP;
const DAILY_0100: Schedule = Schedule::GUIDE_CREATE;

#[test]
fn parses_the_documented_forms_and_refuses_the_rest() {
    let ok = [
        ("off", Schedule::Off),
        ("OFF", Schedule::Off),
        ("daily@01:00", DAILY_0100),
        ("sun@02:00", SUN_0200),
        ("Sunday@02:00", SUN_0200),
        ("daily@0:05", Schedule::Daily { hour: 0, minute: 5 }),
        (
            "wed@23:59",
            Schedule::Weekly {
                day: Weekday::Wed,
                hour: 23,
                minute: 59,
            },
        ),
    ];
    for (text, want) in ok {
        assert_eq!(Schedule::parse(text), Ok(want), "{text}");
    }
    for bad in [
        "",
        "daily",
        "daily@24:00",
        "daily@1:60",
        "daily@1:5",
        "sunday",
        "funday@01:00",
        "daily@01:00:00",
        "0 1 * * *",
        "daily@-1:00",
    ] {
        assert!(Schedule::parse(bad).is_err(), "{bad} should be refused");
    }
}

#[test]
fn display_round_trips() {
    for s in [Schedule::Off, DAILY_0100, SUN_0200] {
        assert_eq!(Schedule::parse(&s.to_string()), Ok(s));
    }
    assert_eq!(SUN_0200.to_string(), "sun@02:00");
}

#[test]
fn next_and_latest_runs_at_the_edges() {
    // (schedule, now, latest at or before now, next strictly after now)
    let cases = [
        (
            DAILY_0100,
            "2025-10-15T00:59:59Z",
            "2025-10-14T01:00:00Z",
            "2025-10-15T01:00:00Z",
        ),
        (
            DAILY_0100,
            "2025-10-15T01:00:00Z",
            "2025-10-15T01:00:00Z",
            "2025-10-16T01:00:00Z",
        ),
        (
            DAILY_0100,
            "2025-10-31T23:00:00Z",
            "2025-10-31T01:00:00Z",
            "2025-11-01T01:00:00Z",
        ),
        (
            DAILY_0100,
            "2025-12-31T12:00:00Z",
            "2025-12-31T01:00:00Z",
            "2026-01-01T01:00:00Z",
        ),
        (
            DAILY_0100,
            "2024-02-28T02:00:00Z",
            "2024-02-28T01:00:00Z",
            "2024-02-29T01:00:00Z",
        ),
        (
            DAILY_0100,
            "2025-03-01T00:30:00Z",
            "2025-02-28T01:00:00Z",
            "2025-03-01T01:00:00Z",
        ),
        // 2025-10-19 is a Sunday; 2025-10-26 too (the European DST change: irrelevant in UTC).
        (
            SUN_0200,
            "2025-10-19T01:59:59Z",
            "2025-10-12T02:00:00Z",
            "2025-10-19T02:00:00Z",
        ),
        (
            SUN_0200,
            "2025-10-19T02:00:00Z",
            "2025-10-19T02:00:00Z",
            "2025-10-26T02:00:00Z",
        ),
        (
            SUN_0200,
            "2025-10-22T12:00:00Z",
            "2025-10-19T02:00:00Z",
            "2025-10-26T02:00:00Z",
        ),
        (
            SUN_0200,
            "2025-10-25T23:59:59Z",
            "2025-10-19T02:00:00Z",
            "2025-10-26T02:00:00Z",
        ),
        // Across a year end: 2025-12-28 and 2026-01-04 are Sundays.
        (
            SUN_0200,
            "2025-12-31T00:00:00Z",
            "2025-12-28T02:00:00Z",
            "2026-01-04T02:00:00Z",
        ),
        // A Monday run just after midnight.
        (
            Schedule::Weekly {
                day: Weekday::Mon,
                hour: 0,
                minute: 0,
            },
            "2025-12-29T00:00:00Z",
            "2025-12-29T00:00:00Z",
            "2026-01-05T00:00:00Z",
        ),
    ];
    for (s, now, latest, next) in cases {
        assert_eq!(
            s.latest_at_or_before(t(now)),
            Some(t(latest)),
            "{s} latest at {now}"
        );
        assert_eq!(s.next_after(t(now)), Some(t(next)), "{s} next after {now}");
    }
    assert_eq!(Schedule::Off.next_after(t("2025-10-15T00:00:00Z")), None);
}

#[test]
fn a_missed_run_is_made_up_only_within_its_grace() {
    let now = t("2025-10-15T09:00:00Z");
    assert_eq!(
        DAILY_0100.due(now, Job::Create.grace()),
        Some(t("2025-10-15T01:00:00Z"))
    );
    // Sunday 02:00 was three days ago: a Wednesday start does not drop anything.
    assert_eq!(SUN_0200.due(now, Job::Cleanup.grace()), None);
    let sunday = t("2025-10-19T02:30:00Z");
    assert_eq!(
        SUN_0200.due(sunday, Job::Cleanup.grace()),
        Some(t("2025-10-19T02:00:00Z"))
    );
    assert_eq!(
        SUN_0200.due(sunday + Duration::hours(1), Job::Cleanup.grace()),
        None
    );
    assert_eq!(Schedule::Off.due(now, Duration::days(30)), None);
}

#[test]
fn cron_expressions_match_the_guide() {
    assert_eq!(DAILY_0100.cron_expr().as_deref(), Some("0 1 * * *"));
    assert_eq!(SUN_0200.cron_expr().as_deref(), Some("0 2 * * 0"));
    assert_eq!(Schedule::Off.cron_expr(), None);
}
