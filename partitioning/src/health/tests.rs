use chrono::NaiveDate;

use super::*;
use crate::calendar::{midnight, partition_name, periods_intersecting, PartitionBound};
use crate::catalog::{PartitionInfo, TableCatalog};
use ManagedTable::*;

fn t(s: &str) -> DateTime<Utc> {
    match DateTime::parse_from_rfc3339(s) {
        Ok(t) => t.with_timezone(&Utc),
        Err(_) => midnight(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()),
    }
}

const NOW: &str = "2025-10-01T10:00:00Z";

fn range(table: ManagedTable, first: &str, last: &str) -> Vec<PartitionInfo> {
    periods_intersecting(table.period(), t(first).date_naive(), t(last).date_naive())
        .into_iter()
        .map(|b| PartitionInfo::range(1, partition_name(table, &b), b))
        .collect()
}

/// Sessions kept exactly as the default policy says at NOW: 07-03 (its upper bound 07-04 is after
/// the cutoff 07-03 10:00) through 10-15 (14 days ahead): 105 partitions.
fn healthy_sessions() -> TableCatalog {
    TableCatalog {
        partitions: range(Sessions, "2025-07-03", "2025-10-15"),
        ..TableCatalog::empty(Sessions, 7)
    }
}

fn settings() -> ServerSettings {
    ServerSettings {
        enable_partition_pruning: true,
        constraint_exclusion: "partition".into(),
    }
}

fn run(cat: TableCatalog, cfg: &Config) -> HealthReport {
    let snap = CatalogSnapshot {
        taken_at: t(NOW),
        server_version_num: 150_000,
        tables: vec![cat],
    };
    check(cfg, &snap, &settings(), t(NOW))
}

/// (check id, severity) of every problem.
fn problems(r: &HealthReport) -> Vec<(&'static str, Severity)> {
    r.findings
        .iter()
        .filter(|f| f.severity != Severity::Ok)
        .map(|f| (f.check, f.severity))
        .collect()
}

fn with(mut cat: TableCatalog, f: impl FnOnce(&mut TableCatalog)) -> TableCatalog {
    f(&mut cat);
    cat
}

#[test]
fn count_rule_uses_what_the_policy_calls_for() {
    assert_eq!(healthy_sessions().partitions.len(), 105);
    let extra = |n: usize| {
        with(healthy_sessions(), |c| {
            // Foreign partitions far in the future: they count, and cover nothing the checks want.
            for i in 0..n {
                let lower = t("2030-01-01") + chrono::Duration::days(i as i64);
                let b = PartitionBound::new(lower, lower + chrono::Duration::days(1));
                c.partitions
                    .push(PartitionInfo::range(9, format!("sessions_x{i}"), b));
            }
        })
    };
    let default = Config::default();
    let strict = Config {
        thresholds: crate::config::Thresholds {
            warn_count: 50,
            critical_count: 60,
            ..Default::default()
        },
        ..Config::default()
    };
    // (catalog, config, problems)
    type Case<'a> = (TableCatalog, &'a Config, Vec<(&'static str, Severity)>);
    let cases: Vec<Case> = vec![
        (healthy_sessions(), &default, vec![]),
        (extra(1), &default, vec![(checks::COUNT, Severity::Warning)]),
        (
            extra(395),
            &default,
            vec![(checks::COUNT, Severity::Warning)],
        ),
        (
            extra(396),
            &default,
            vec![(checks::COUNT, Severity::Critical)],
        ), // 501
        // Thresholds below the policy's own need never flag a correctly kept table.
        (healthy_sessions(), &strict, vec![]),
        (extra(1), &strict, vec![(checks::COUNT, Severity::Critical)]),
    ];
    for (i, (cat, cfg, want)) in cases.into_iter().enumerate() {
        let r = run(cat, cfg);
        assert_eq!(problems(&r), want, "case {i}: {:#?}", r.findings);
    }
    let r = run(healthy_sessions(), &Config::default());
    assert_eq!((r.worst(), r.exit_code()), (Severity::Ok, 0));
    assert_eq!(r.findings.len(), 2, "settings ok + sessions ok");
    assert!(
        r.findings[1]
            .message
            .starts_with("105 partitions, 14 days ahead"),
        "{}",
        r.findings[1].message
    );
}

#[test]
fn each_check() {
    let set = |name: &str, f: fn(&mut PartitionInfo)| {
        let name = name.to_string();
        with(healthy_sessions(), move |c| {
            c.partitions
                .iter_mut()
                .filter(|p| p.name == name)
                .for_each(f)
        })
    };
    let drop_named = |name: &'static str| {
        with(healthy_sessions(), move |c| {
            c.partitions.retain(|p| p.name != name)
        })
    };
    // (catalog, problems)
    let cases: Vec<(TableCatalog, Vec<(&str, Severity)>)> = vec![
        (
            drop_named("sessions_2025_10_01"),
            vec![(checks::FUTURE, Severity::Critical)],
        ),
        (
            drop_named("sessions_2025_10_15"),
            vec![(checks::FUTURE, Severity::Warning)],
        ),
        (
            with(healthy_sessions(), |c| {
                c.partitions
                    .extend(range(Sessions, "2025-07-01", "2025-07-02"))
            }),
            vec![
                (checks::RETENTION, Severity::Warning),
                (checks::COUNT, Severity::Warning),
            ],
        ),
        (
            set("sessions_2025_09_01", |p| p.bytes = 10 * 1024 * 1024 * 1024),
            vec![(checks::SIZE, Severity::Warning)],
        ),
        (
            set("sessions_2025_09_01", |p| p.bytes = 50 * 1024 * 1024 * 1024),
            vec![(checks::SIZE, Severity::Critical)],
        ),
        (
            set("sessions_2025_09_01", |p| {
                p.bytes = 10 * 1024 * 1024 * 1024 - 1
            }),
            vec![],
        ),
        (
            set("sessions_2025_09_01", |p| p.est_rows = 5),
            vec![(checks::STATISTICS, Severity::Warning)],
        ),
        (
            set("sessions_2025_10_01", |p| {
                p.est_rows = 5;
                p.last_analyzed = Some(t("2025-09-20"))
            }),
            vec![(checks::STATISTICS, Severity::Warning)],
        ),
        (
            set("sessions_2025_09_01", |p| {
                p.est_rows = 5;
                p.last_analyzed = Some(t("2025-09-02"))
            }),
            vec![],
        ),
        (
            set("sessions_2025_07_03", |p| p.detach_pending = true),
            vec![(checks::DETACH_PENDING, Severity::Warning)],
        ),
        (
            with(healthy_sessions(), |c| {
                c.default_partition = Some(PartitionInfo {
                    est_rows: 3,
                    ..PartitionInfo::range(
                        2,
                        "sessions_default",
                        PartitionBound::new(t("2000-01-01"), t("2000-01-02")),
                    )
                })
            }),
            vec![(checks::DEFAULT_ROWS, Severity::Warning)],
        ),
        (
            with(healthy_sessions(), |c| {
                c.detached = range(Sessions, "2025-06-01", "2025-06-01")
            }),
            vec![(checks::LEFTOVERS, Severity::Warning)],
        ),
        (
            with(healthy_sessions(), |c| c.is_partitioned = false),
            vec![(checks::TABLE, Severity::Critical)],
        ),
        (
            TableCatalog {
                oid: 0,
                ..healthy_sessions()
            },
            vec![(checks::TABLE, Severity::Critical)],
        ),
    ];
    for (i, (cat, want)) in cases.into_iter().enumerate() {
        let r = run(cat, &Config::default());
        assert_eq!(problems(&r), want, "case {i}: {:#?}", r.findings);
        assert_eq!(r.exit_code(), r.worst().code());
        assert_eq!(r.table_status(Sessions), r.worst(), "case {i}");
        for f in r.findings.iter().filter(|f| f.severity != Severity::Ok) {
            assert!(
                !f.remedy.is_empty() && f.table == Some(Sessions),
                "case {i}: {f:?}"
            );
        }
    }
}

#[test]
fn settings_and_round_trip() {
    // (pruning, constraint_exclusion, problems)
    let cases = [
        (true, "partition", vec![]),
        (
            false,
            "partition",
            vec![(checks::SETTINGS, Severity::Critical)],
        ),
        (true, "off", vec![(checks::SETTINGS, Severity::Warning)]),
        (true, "on", vec![]),
    ];
    for (pruning, ce, want) in cases {
        let s = ServerSettings {
            enable_partition_pruning: pruning,
            constraint_exclusion: ce.into(),
        };
        let snap = CatalogSnapshot {
            taken_at: t(NOW),
            server_version_num: 150_000,
            tables: vec![healthy_sessions()],
        };
        let r = check(&Config::default(), &snap, &s, t(NOW));
        assert_eq!(problems(&r), want, "{pruning} {ce}");
        assert_eq!(r.table_status(Sessions), Severity::Ok);
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<HealthReport>(&json).unwrap(), r);
    }
    assert!(serde_json::from_str::<Finding>(
        r#"{"check":"nope","severity":"ok","table":null,"message":"","remedy":""}"#
    )
    .is_err());
}
