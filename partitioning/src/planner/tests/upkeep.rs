use super::*;
use ManagedTable::*;

#[test]
fn analyze_current_and_previous_when_missing_or_stale() {
    let now = "2025-10-15T10:00:00Z";
    let part = |d: &str, rows: i64, analyzed: Option<&str>| PartitionInfo {
        est_rows: rows,
        last_analyzed: analyzed.map(t),
        ..ours(AuthAuditLog, d)
    };
    // (current Oct, previous Sep, older Aug, analyzed)
    let cases: [([PartitionInfo; 3], &[&str]); 6] = [
        (
            [
                part("2025-10-01", 0, None),
                part("2025-09-01", 0, None),
                part("2025-08-01", 0, None),
            ],
            &[
                "analyze auth_audit_log_2025_09",
                "analyze auth_audit_log_2025_10",
            ],
        ),
        (
            [
                part("2025-10-01", 5, Some("2025-10-14")),
                part("2025-09-01", 9, Some("2025-10-02")),
                part("2025-08-01", 9, None),
            ],
            &[],
        ),
        // current analyzed 8 days ago with rows: stale; the previous one analyzed before it closed.
        (
            [
                part("2025-10-01", 5, Some("2025-10-07")),
                part("2025-09-01", 9, Some("2025-09-30T12:00:00Z")),
                part("2025-08-01", 0, None),
            ],
            &[
                "analyze auth_audit_log_2025_09",
                "analyze auth_audit_log_2025_10",
            ],
        ),
        // stale but empty: nothing to learn.
        (
            [
                part("2025-10-01", 0, Some("2025-10-01")),
                part("2025-09-01", 0, Some("2025-09-02")),
                part("2025-08-01", 0, None),
            ],
            &[],
        ),
        // exactly 7 days: not yet stale.
        (
            [
                part("2025-10-01", 5, Some("2025-10-08T10:00:00Z")),
                part("2025-09-01", 0, Some("2025-10-01")),
                part("2025-08-01", 0, None),
            ],
            &[],
        ),
        (
            [
                part("2025-10-01", 5, Some("2025-10-08T09:59:59Z")),
                part("2025-09-01", 0, Some("2025-10-01")),
                part("2025-08-01", 0, None),
            ],
            &["analyze auth_audit_log_2025_10"],
        ),
    ];
    for (i, (parts, want)) in cases.into_iter().enumerate() {
        let opts = PlanOptions {
            analyze: true,
            ..Default::default()
        };
        let p = plan(
            &Config::default(),
            &snap(vec![table(AuthAuditLog, parts.to_vec())]),
            t(now),
            &opts,
        );
        assert_eq!(steps(&p), want, "case {i}");
    }
}

#[test]
fn seal_closed_audit_partitions_a_day_after_they_close() {
    let sealed = |d: &str| PartitionInfo {
        sealed: true,
        ..ours(AuthAuditLog, d)
    };
    let parts = || {
        vec![
            sealed("2025-08-01"),
            ours(AuthAuditLog, "2025-09-01"),
            ours(AuthAuditLog, "2025-10-01"),
        ]
    };
    // (now, seals)
    let cases: [(&str, &[&str]); 3] = [
        ("2025-10-01T23:59:59Z", &[]),
        ("2025-10-02T00:00:00Z", &["seal auth_audit_log_2025_09"]),
        (
            "2025-11-03T00:00:00Z",
            &["seal auth_audit_log_2025_09", "seal auth_audit_log_2025_10"],
        ),
    ];
    for (now, want) in cases {
        let opts = PlanOptions {
            seal: true,
            ..Default::default()
        };
        let p = plan(
            &Config::default(),
            &snap(vec![table(AuthAuditLog, parts())]),
            t(now),
            &opts,
        );
        assert_eq!(steps(&p), want, "{now}");
    }
    // Only the audit log is sealed, and only when asked.
    let p = plan(
        &Config::default(),
        &snap(vec![
            table(Sessions, ours_range(Sessions, "2025-09-01", "2025-09-30")),
            table(AuthAuditLog, parts()),
        ]),
        t("2025-11-03"),
        &PlanOptions {
            seal: true,
            ..Default::default()
        },
    );
    assert!(p.actions.iter().all(|a| a.table == AuthAuditLog));
    let p = plan(
        &Config::default(),
        &snap(vec![table(AuthAuditLog, parts())]),
        t("2025-11-03"),
        &PlanOptions::maintenance(),
    );
    assert!(p.actions.iter().all(|a| a.kind.verb() != "seal"));
}
