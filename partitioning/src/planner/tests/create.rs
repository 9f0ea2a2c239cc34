use super::*;
use ManagedTable::*;

#[test]
fn creates_cover_current_period_through_ahead_window() {
    // (table, now, --days, number of creates, first, last)
    let cases = [
        (
            Sessions,
            "2025-10-01T10:00:00Z",
            None,
            15,
            "sessions_2025_10_01",
            "sessions_2025_10_15",
        ),
        (
            Sessions,
            "2024-02-28T23:59:59Z",
            None,
            15,
            "sessions_2024_02_28",
            "sessions_2024_03_13",
        ),
        (
            RateLimits,
            "2025-12-31T00:00:00Z",
            None,
            8,
            "rate_limits_2025_12_31",
            "rate_limits_2026_01_07",
        ),
        (
            AuthAuditLog,
            "2025-12-15T08:00:00Z",
            None,
            7,
            "auth_audit_log_2025_12",
            "auth_audit_log_2026_06",
        ),
        (
            AuthAuditLog,
            "2024-02-29T12:00:00Z",
            None,
            7,
            "auth_audit_log_2024_02",
            "auth_audit_log_2024_08",
        ),
        (
            RefreshTokens,
            "2026-12-30T09:00:00Z",
            None,
            5,
            "refresh_tokens_2026_12_28",
            "refresh_tokens_2027_01_25",
        ),
        (
            RefreshTokens,
            "2021-01-01T00:00:00Z",
            None,
            5,
            "refresh_tokens_2020_12_28",
            "refresh_tokens_2021_01_25",
        ),
        (
            Sessions,
            "2025-10-01T10:00:00Z",
            Some(60),
            61,
            "sessions_2025_10_01",
            "sessions_2025_11_30",
        ),
        (
            RateLimits,
            "2025-10-01T23:00:00Z",
            Some(0),
            1,
            "rate_limits_2025_10_01",
            "rate_limits_2025_10_01",
        ),
        (
            AuthAuditLog,
            "2025-10-01T10:00:00Z",
            Some(60),
            2,
            "auth_audit_log_2025_10",
            "auth_audit_log_2025_11",
        ),
        (
            AuthAuditLog,
            "2025-12-15T10:00:00Z",
            Some(60),
            3,
            "auth_audit_log_2025_12",
            "auth_audit_log_2026_02",
        ),
        (
            RefreshTokens,
            "2025-10-01T10:00:00Z",
            Some(60),
            9,
            "refresh_tokens_2025_09_29",
            "refresh_tokens_2025_11_24",
        ),
    ];
    for (tbl, now, days, n, first, last) in cases {
        let opts = PlanOptions {
            ahead_days: days,
            ..only(tbl, PlanOptions::create())
        };
        let p = plan(
            &Config::default(),
            &snap(vec![table(tbl, vec![])]),
            t(now),
            &opts,
        );
        let names: Vec<&str> = p.actions.iter().map(|a| a.kind.partition_name()).collect();
        assert_eq!(names.len(), n, "{tbl} {now} {days:?}: {names:?}");
        assert_eq!(
            (names[0], names[n - 1]),
            (first, last),
            "{tbl} {now} {days:?}"
        );
        for a in &p.actions {
            let ActionKind::Create { name, bound } = &a.kind else {
                panic!("{a}")
            };
            assert_eq!(
                crate::calendar::parse_partition_name(tbl, name),
                Some(*bound)
            );
            assert!(a.reason.contains("window"), "{}", a.reason);
        }
        assert!(
            p.actions[0].reason.starts_with("the current"),
            "{}",
            p.actions[0].reason
        );
    }
}

#[test]
fn existing_gaps_overlaps_and_foreign_partitions() {
    let now = "2025-10-01T10:00:00Z";
    let full = || ours_range(Sessions, "2025-10-01", "2025-10-15");
    let without = |day: &str| -> Vec<PartitionInfo> {
        full()
            .into_iter()
            .filter(|p| p.name != format!("sessions_2025_10_{day}"))
            .collect()
    };
    let plus = |mut v: Vec<PartitionInfo>, extra: PartitionInfo| {
        v.push(extra);
        v
    };
    let misc = raw(
        "sessions_misc",
        "FOR VALUES FROM ('2025-10-03 12:00:00+00') TO ('2025-10-04 12:00:00+00')",
    );
    let partman = raw(
        "sessions_p20251005",
        "FOR VALUES FROM ('2025-10-05 00:00:00+00') TO ('2025-10-06 00:00:00+00')",
    );
    let open = raw(
        "sessions_old",
        "FOR VALUES FROM (MINVALUE) TO ('2025-01-01 00:00:00+00')",
    );
    // (partitions, creates, overlap notes, foreign notes, unreadable notes)
    type Case = (Vec<PartitionInfo>, Vec<&'static str>, usize, usize, usize);
    let cases: Vec<Case> = vec![
        (full(), vec![], 0, 0, 0),
        (without("05"), vec!["create sessions_2025_10_05"], 0, 0, 0),
        (without("01"), vec!["create sessions_2025_10_01"], 0, 0, 0),
        (
            without("03")
                .into_iter()
                .filter(|p| p.name != "sessions_2025_10_04")
                .chain([misc])
                .collect(),
            vec![],
            2,
            1,
            0,
        ),
        (plus(without("05"), partman), vec![], 0, 1, 0),
        (plus(full(), open), vec![], 0, 0, 1),
    ];
    for (i, (parts, creates, overlaps, foreign, unreadable)) in cases.into_iter().enumerate() {
        let p = plan(
            &Config::default(),
            &snap(vec![table(Sessions, parts)]),
            t(now),
            &PlanOptions::create(),
        );
        assert_eq!(steps(&p), creates, "case {i}");
        assert_eq!(
            notes(&p, NoteKind::Overlap).len(),
            overlaps,
            "case {i}: {:?}",
            p.notes
        );
        assert_eq!(
            notes(&p, NoteKind::Foreign).len(),
            foreign,
            "case {i}: {:?}",
            p.notes
        );
        assert_eq!(
            notes(&p, NoteKind::UnreadableBound).len(),
            unreadable,
            "case {i}: {:?}",
            p.notes
        );
    }
    let p = plan(
        &Config::default(),
        &snap(vec![table(Sessions, without("05"))]),
        t(now),
        &PlanOptions::create(),
    );
    assert!(
        p.actions[0].reason.starts_with("fills a gap"),
        "{}",
        p.actions[0].reason
    );
}

#[test]
fn non_utc_raw_bounds() {
    let now = "2025-10-15T10:00:00Z";
    // Written under TimeZone America/New_York: our UTC midnights print as 20:00-04 the day before.
    let oct = raw(
        "auth_audit_log_2025_10",
        "FOR VALUES FROM ('2025-09-30 20:00:00-04') TO ('2025-10-31 20:00:00-04')",
    );
    // Created with local midnights: 04:00/05:00 UTC. Named like ours, but not ours: left alone.
    let nov = raw(
        "auth_audit_log_2025_11",
        "FOR VALUES FROM ('2025-11-01 00:00:00-04') TO ('2025-12-01 00:00:00-05')",
    );
    let p = plan(
        &Config::default(),
        &snap(vec![table(AuthAuditLog, vec![oct, nov])]),
        t(now),
        &PlanOptions::create(),
    );
    assert_eq!(
        steps(&p),
        [
            "create auth_audit_log_2026_01",
            "create auth_audit_log_2026_02",
            "create auth_audit_log_2026_03",
            "create auth_audit_log_2026_04"
        ]
    );
    let overlaps = notes(&p, NoteKind::Overlap);
    assert_eq!(overlaps.len(), 2, "{overlaps:?}"); // November and December both meet the odd partition
    assert!(
        overlaps[0].contains(
            "auth_audit_log_2025_11 ([2025-11-01 04:00:00 UTC, 2025-12-01 05:00:00 UTC))"
        ),
        "{}",
        overlaps[0]
    );
    assert!(
        notes(&p, NoteKind::Foreign)[0].contains("TimeZone"),
        "{:?}",
        p.notes
    );
}

#[test]
fn detached_leftover_with_a_wanted_name_blocks_its_create() {
    let mut cat = table(
        RateLimits,
        ours_range(RateLimits, "2025-10-01", "2025-10-07"),
    );
    cat.detached.push(PartitionInfo {
        bound: None,
        raw_bound: String::new(),
        ..ours(RateLimits, "2025-10-08")
    });
    let p = plan(
        &Config::default(),
        &snap(vec![cat]),
        t("2025-10-01T10:00:00Z"),
        &PlanOptions::create(),
    );
    assert!(p.actions.is_empty(), "{:?}", steps(&p));
    assert_eq!(notes(&p, NoteKind::Leftover).len(), 1);
}

#[test]
fn rows_in_the_default_partition_are_moved_first() {
    let mut cat = table(Sessions, vec![]);
    cat.default_partition = Some(PartitionInfo {
        est_rows: 42,
        ..raw("sessions_default", "DEFAULT")
    });
    let p = plan(
        &Config::default(),
        &snap(vec![cat.clone()]),
        t("2025-10-01T10:00:00Z"),
        &PlanOptions::create(),
    );
    assert_eq!(steps(&p)[0], "move_default_rows sessions_default");
    assert_eq!(p.actions.len(), 16);
    assert!(p.actions[0].reason.contains("about 42 rows"));
    assert_eq!(notes(&p, NoteKind::DefaultRows).len(), 1);
    // Without create, only the note.
    let p = plan(
        &Config::default(),
        &snap(vec![cat]),
        t("2025-10-01T10:00:00Z"),
        &PlanOptions::cleanup(),
    );
    assert!(p.actions.is_empty());
    assert_eq!(notes(&p, NoteKind::DefaultRows).len(), 1);
}

#[test]
fn default_partition_against_the_policy_is_noted() {
    let with_default = {
        let mut c = table(RateLimits, vec![]);
        c.default_partition = Some(raw("rate_limits_default", "DEFAULT"));
        c
    };
    let mut wants_default = Config::default();
    wants_default.policies[RateLimits.index()].default_partition = true;
    // (config, catalog, notes)
    let cases = [
        (Config::default(), table(RateLimits, vec![]), 0),
        (Config::default(), with_default.clone(), 1),
        (wants_default.clone(), table(RateLimits, vec![]), 1),
        (wants_default, with_default, 0),
    ];
    for (i, (cfg, cat, n)) in cases.into_iter().enumerate() {
        let p = plan(
            &cfg,
            &snap(vec![cat]),
            t("2025-10-01"),
            &PlanOptions::default(),
        );
        assert_eq!(
            notes(&p, NoteKind::DefaultPartitionPolicy).len(),
            n,
            "case {i}: {:?}",
            p.notes
        );
    }
}
