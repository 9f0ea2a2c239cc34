//! The disposal log against the two-person rule, the report's period, and scope checks.

use super::*;

/// (case, approvals as (actor, role, decision), whether the disposal meets the two-person rule)
type ApprovalCase = (
    &'static str,
    Vec<(&'static str, &'static str, &'static str)>,
    bool,
);

#[test]
fn disposal_log_shows_requester_approvers_and_fingerprint() {
    let old = period_containing(crate::calendar::Period::Month, date("2019-06-01"));
    let at = Utc.with_ymd_and_hms(2026, 10, 3, 12, 0, 0).unwrap();
    let cases: Vec<ApprovalCase> = vec![
        (
            "dba and compliance approved",
            vec![
                ("dba2", "dba", "approve"),
                ("compliance", "compliance", "approve"),
            ],
            true,
        ),
        (
            "only a dba approved",
            vec![("dba2", "dba", "approve")],
            false,
        ),
        (
            "requester approved himself",
            vec![
                ("dba1", "dba", "approve"),
                ("compliance", "compliance", "approve"),
            ],
            false,
        ),
        (
            "one admin cannot be both people",
            vec![("root", "admin", "approve")],
            false,
        ),
        (
            "compliance rejected",
            vec![
                ("dba2", "dba", "approve"),
                ("compliance", "compliance", "reject"),
            ],
            false,
        ),
    ];
    for (name, approvals, ok) in cases {
        let mut i = inputs(healthy());
        i.actions.push(drop_row(5, AuthAuditLog, old, at, Some(12)));
        i.requests.push(RequestRecord {
            id: 12,
            requested_by: "dba1".into(),
            fingerprint: "ab".repeat(32),
            state: "executed".into(),
            needs_compliance: true,
            partitions: vec!["auth_audit_log_2019_06".into()],
        });
        i.approvals = approvals
            .iter()
            .map(|(a, r, d)| ApprovalRecord {
                request_id: 12,
                actor: (*a).into(),
                role: (*r).into(),
                decision: (*d).into(),
            })
            .collect();
        let r = build(&i);
        let d = &r.disposals[0];
        assert_eq!(d.partition, "auth_audit_log_2019_06", "{name}");
        assert_eq!(
            (d.requested_by.as_str(), d.request_id, d.fingerprint.len()),
            ("dba1", Some(12), 64),
            "{name}"
        );
        assert!(d.within_policy, "{name}");
        assert_eq!(
            kinds(&r, AuthAuditLog).is_empty(),
            ok,
            "{name}: {:#?}",
            r.findings
        );
    }
}

#[test]
fn automatic_drops_outside_the_period_are_not_listed() {
    let mut i = inputs(healthy());
    let b = period_containing(crate::calendar::Period::Day, date("2025-06-01"));
    i.actions.push(drop_row(
        1,
        Sessions,
        b,
        Utc.with_ymd_and_hms(2025, 12, 31, 23, 59, 59).unwrap(),
        None,
    ));
    let b2 = period_containing(crate::calendar::Period::Day, date("2026-06-01"));
    i.actions.push(drop_row(
        2,
        Sessions,
        b2,
        Utc.with_ymd_and_hms(2026, 9, 1, 2, 0, 0).unwrap(),
        None,
    ));
    let r = build(&i);
    assert_eq!(r.disposals.len(), 1);
    assert_eq!(r.disposals[0].requested_by, "policy (cleanup=auto)");
    assert!(r.compliant(), "{:#?}", r.findings);
}

#[test]
fn scope_is_checked() {
    let t = now();
    for (from, to, why) in [
        ("2026-02-01", "2026-01-01", "before it starts"),
        ("2026-01-01", "2026-11-26", "in the future"),
        ("2010-01-01", "2026-01-01", "at most"),
    ] {
        let err = ReportScope::new(date(from), date(to), &[], t, "x")
            .unwrap_err()
            .0;
        assert!(err.contains(why), "{from}..{to}: {err}");
    }
    for bad in [
        "2026-1-01",
        "01/02/2026",
        "2026-02-30",
        "",
        "2026-01-01T00:00",
    ] {
        let err = parse_date("--from", bad).unwrap_err().0;
        assert!(err.contains("YYYY-MM-DD"), "{bad}: {err}");
    }
    assert_eq!(
        parse_date("--to", " 2026-02-28 ").unwrap(),
        date("2026-02-28")
    );
    let s = ReportScope::new(
        date("2026-01-01"),
        date("2026-01-01"),
        &[RateLimits, AuthAuditLog],
        t,
        "c",
    )
    .unwrap();
    assert_eq!(s.tables, vec![AuthAuditLog, RateLimits]);
    assert_eq!(s.period_bounds().1 - s.period_bounds().0, Duration::days(1));
}

#[test]
fn a_partition_kept_past_retention_names_its_open_request() {
    let mut i = inputs(healthy());
    let b = period_containing(crate::calendar::Period::Month, date("2019-06-01"));
    i.snapshot.tables[0].partitions.insert(
        0,
        PartitionInfo::range(7, partition_name(AuthAuditLog, &b), b),
    );
    let plain = build(&i);
    let f = &plain.findings[0];
    assert_eq!(f.kind, FindingKind::PastRetentionKept);
    assert!(
        f.explanation
            .contains("waits for a two-person cleanup approval"),
        "{}",
        f.explanation
    );
    let row = plain
        .inventory
        .iter()
        .find(|r| r.status == InventoryStatus::PastRetention)
        .unwrap();
    assert_eq!(row.note, "past retention since 2026-07-01");
    for (state, named) in [("pending", true), ("approved", true), ("rejected", false)] {
        i.requests = vec![RequestRecord {
            id: 4,
            requested_by: "dba1".into(),
            fingerprint: "cd".repeat(32),
            state: state.into(),
            needs_compliance: true,
            partitions: vec!["auth_audit_log_2019_06".into()],
        }];
        let r = build(&i);
        assert_eq!(
            r.findings[0]
                .explanation
                .contains(&format!("cleanup request #4 by dba1 covers it ({state})")),
            named,
            "{state}: {}",
            r.findings[0].explanation
        );
    }
}
