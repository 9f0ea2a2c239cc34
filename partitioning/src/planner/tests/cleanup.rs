use super::*;
use ManagedTable::*;

fn cleanup(cfg: &Config, cat: TableCatalog, now: &str) -> Plan {
    plan(cfg, &snap(vec![cat]), t(now), &PlanOptions::cleanup())
}

#[test]
fn cutoff_exactly_at_the_boundary() {
    let parts = || ours_range(Sessions, "2025-07-01", "2025-07-03");
    // (now, actions): 90 days before 2025-10-01T00:00Z is 2025-07-03T00:00Z.
    let cases: [(&str, &[&str]); 3] = [
        // upper 2025-07-03 == cutoff: dropped; 07-01 before it too.
        (
            "2025-10-01T00:00:00Z",
            &[
                "detach sessions_2025_07_01",
                "drop sessions_2025_07_01",
                "detach sessions_2025_07_02",
                "drop sessions_2025_07_02",
            ],
        ),
        // one second earlier, the cutoff is 2025-07-02T23:59:59Z: 07_02's upper is one second after it.
        (
            "2025-09-30T23:59:59Z",
            &["detach sessions_2025_07_01", "drop sessions_2025_07_01"],
        ),
        ("2025-09-29T23:59:59Z", &[]),
    ];
    for (now, want) in cases {
        let p = cleanup(&Config::default(), table(Sessions, parts()), now);
        assert_eq!(steps(&p), want, "{now}");
    }
    let p = cleanup(
        &Config::default(),
        table(Sessions, parts()),
        "2025-10-01T00:00:00Z",
    );
    assert_eq!(
        p.actions[3].reason,
        "past retention: upper bound 2025-07-03 equals the cutoff 2025-07-03 (90 days)"
    );
    assert_eq!(
        p.actions[0].reason,
        "past retention: upper bound 2025-07-02 is before the cutoff 2025-07-03 (90 days)"
    );
    let ActionKind::Drop {
        est_rows, bytes, ..
    } = p.actions[1].kind
    else {
        panic!()
    };
    assert_eq!((est_rows, bytes), (0, 0));
}

#[test]
fn audit_drops_wait_for_approval_and_the_hipaa_floor() {
    let now = "2025-11-25T10:00:00Z";
    let parts = || -> Vec<PartitionInfo> {
        [
            "2018-10-01",
            "2018-11-01",
            "2019-10-01",
            "2019-11-01",
            "2024-06-01",
            "2025-11-01",
        ]
        .iter()
        .map(|d| ours(AuthAuditLog, d))
        .collect()
    };
    let forged = with_policy(AuthAuditLog, Retention::Years(1), CleanupMode::Auto);
    let forged_days = with_policy(AuthAuditLog, Retention::Days(20), CleanupMode::Auto);
    let seven_auto = with_policy(AuthAuditLog, Retention::Years(7), CleanupMode::Auto);
    // (config, actions, held)
    let cases: [(&Config, &[&str], &[&str]); 4] = [
        (
            &Config::default(),
            &[],
            &["ApprovalRequired auth_audit_log_2018_10"],
        ),
        (
            &seven_auto,
            &[
                "detach auth_audit_log_2018_10",
                "drop auth_audit_log_2018_10",
            ],
            &[],
        ),
        // A forged 1-year policy: the 6-year floor still holds 2019-11 (ends 2019-12-01, after
        // 2019-11-25) and 2024-06; 2018-10, 2018-11 and 2019-10 are older than 6 years.
        (
            &forged,
            &[
                "detach auth_audit_log_2018_10",
                "drop auth_audit_log_2018_10",
                "detach auth_audit_log_2018_11",
                "drop auth_audit_log_2018_11",
                "detach auth_audit_log_2019_10",
                "drop auth_audit_log_2019_10",
            ],
            &[
                "RetentionGuard auth_audit_log_2019_11",
                "RetentionGuard auth_audit_log_2024_06",
            ],
        ),
        (
            &forged_days,
            &[
                "detach auth_audit_log_2018_10",
                "drop auth_audit_log_2018_10",
                "detach auth_audit_log_2018_11",
                "drop auth_audit_log_2018_11",
                "detach auth_audit_log_2019_10",
                "drop auth_audit_log_2019_10",
            ],
            &[
                "RetentionGuard auth_audit_log_2019_11",
                "RetentionGuard auth_audit_log_2024_06",
                "RetentionGuard auth_audit_log_2025_10",
            ],
        ),
    ];
    for (i, (cfg, want, want_held)) in cases.into_iter().enumerate() {
        let mut cat = table(AuthAuditLog, parts());
        if i == 3 {
            cat.partitions.push(ours(AuthAuditLog, "2025-10-01"));
        }
        let p = cleanup(cfg, cat, now);
        assert_eq!(steps(&p), want, "case {i}");
        assert_eq!(held(&p), want_held, "case {i}");
        for a in &p.actions {
            let b = a.kind.bound().copied().unwrap();
            assert!(crate::policy::hipaa_guard_allows_drop(
                AuthAuditLog,
                &b,
                &Retention::Years(6),
                t(now)
            )
            .is_ok());
        }
    }
    let p = cleanup(&Config::default(), table(AuthAuditLog, parts()), now);
    assert!(
        p.held[0].reason.contains("two-person approval"),
        "{}",
        p.held[0].reason
    );
    assert!(
        p.held[0].reason.contains("compliance officer"),
        "{}",
        p.held[0].reason
    );
    assert_eq!(p.approval_actions().len(), 1);
    assert_ne!(p.approval_fingerprint(), p.fingerprint());
    let p = cleanup(&forged, table(AuthAuditLog, parts()), now);
    assert!(
        p.held[0].reason.contains("HIPAA floor"),
        "{}",
        p.held[0].reason
    );
    assert!(p.approval_actions().is_empty());
}

#[test]
fn pending_detaches_and_leftovers() {
    let now = "2025-10-01T10:00:00Z";
    let pending = |d: &str| PartitionInfo {
        detach_pending: true,
        ..ours(Sessions, d)
    };
    let leftover = |d: &str| PartitionInfo {
        bound: None,
        raw_bound: String::new(),
        ..ours(Sessions, d)
    };
    let odd_leftover = PartitionInfo {
        name: "sessions_2025_02_30".into(),
        ..leftover("2025-06-01")
    };
    let open = raw(
        "sessions_old",
        "FOR VALUES FROM (MINVALUE) TO ('2025-01-01 00:00:00+00')",
    );
    let garbled = PartitionInfo {
        bound: None,
        raw_bound: "FOR VALUES FROM ('x') TO ('y')".into(),
        ..ours(Sessions, "2025-06-02")
    };
    // (attached, detached, actions, notes of kind Leftover + PendingWithinRetention + UnreadableBound)
    type Case = (
        Vec<PartitionInfo>,
        Vec<PartitionInfo>,
        Vec<&'static str>,
        usize,
    );
    let cases: Vec<Case> = vec![
        (
            vec![pending("2025-06-01")],
            vec![],
            vec![
                "finalize_detach sessions_2025_06_01",
                "drop sessions_2025_06_01",
            ],
            0,
        ),
        (
            vec![pending("2025-09-01")],
            vec![],
            vec!["finalize_detach sessions_2025_09_01"],
            1,
        ),
        (
            vec![],
            vec![leftover("2025-06-01")],
            vec!["drop_detached sessions_2025_06_01"],
            0,
        ),
        (vec![], vec![leftover("2025-09-01")], vec![], 1),
        (vec![], vec![odd_leftover], vec![], 1),
        (vec![open], vec![], vec![], 1),
        (vec![garbled.clone()], vec![], vec![], 1),
        (
            vec![PartitionInfo {
                detach_pending: true,
                ..garbled
            }],
            vec![],
            vec!["finalize_detach sessions_2025_06_02"],
            2,
        ),
    ];
    for (i, (attached, detached, want, n_notes)) in cases.into_iter().enumerate() {
        let mut cat = table(Sessions, attached);
        cat.detached = detached;
        let p = cleanup(&Config::default(), cat, now);
        assert_eq!(steps(&p), want, "case {i}");
        let n = [
            NoteKind::Leftover,
            NoteKind::PendingWithinRetention,
            NoteKind::UnreadableBound,
        ]
        .iter()
        .map(|k| notes(&p, *k).len())
        .sum::<usize>();
        assert_eq!(n, n_notes, "case {i}: {:?}", p.notes);
        assert!(p
            .actions
            .iter()
            .all(|a| a.kind.verb() != "drop" || a.kind.bound().is_some()));
    }
    // An approval table's leftover is held, not dropped.
    let mut cat = table(AuthAuditLog, vec![]);
    cat.detached = vec![PartitionInfo {
        bound: None,
        raw_bound: String::new(),
        ..ours(AuthAuditLog, "2017-01-01")
    }];
    let p = cleanup(&Config::default(), cat, now);
    assert!(p.actions.is_empty());
    assert_eq!(held(&p), ["ApprovalRequired auth_audit_log_2017_01"]);
    assert_eq!(p.held[0].kind.tag(), "drop_detached");
}

#[test]
fn past_gaps_are_noted_inside_retention_only() {
    let mut parts = ours_range(Sessions, "2025-06-01", "2025-06-03"); // past retention
    parts.extend(ours_range(Sessions, "2025-06-10", "2025-06-12")); // gap 06-04..06-10 crosses the cutoff
    parts.extend(ours_range(Sessions, "2025-09-01", "2025-09-02"));
    parts.extend(ours_range(Sessions, "2025-09-05", "2025-10-15"));
    let p = plan(
        &Config::default(),
        &snap(vec![table(Sessions, parts)]),
        t("2025-10-01T00:00:00Z"),
        &PlanOptions::default(),
    );
    assert_eq!(
        notes(&p, NoteKind::Gap),
        [
            "gap: no partition covers [2025-07-03, 2025-09-01); rows with these times are refused",
            "gap: no partition covers [2025-09-03, 2025-09-05); rows with these times are refused",
        ]
    );
}
