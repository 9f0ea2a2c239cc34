//! Each tip rule against a hand-made state: (what the database looks like) → (topics expected).

use chrono::{DateTime, NaiveDate, Utc};

use super::tips;
use crate::calendar::{partition_name, period_containing};
use crate::catalog::{CatalogSnapshot, PartitionInfo, TableCatalog};
use crate::config::Config;
use crate::pg::monitor::{CronJob, CronState, Performance, ServerFacts, TableStats};
use crate::planner::Plan;
use crate::table::ManagedTable;

fn now() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(2026, 3, 15)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc()
}

/// A server where every setting is right and both pg_cron jobs are scheduled.
fn good_facts() -> ServerFacts {
    let job = |f: &str| CronJob {
        name: Some(f.into()),
        schedule: "0 1 * * *".into(),
        command: format!("SELECT {f}();"),
        active: true,
    };
    ServerFacts {
        server_version_num: 150_004,
        enable_partition_pruning: true,
        constraint_exclusion: "partition".into(),
        max_parallel_workers_per_gather: 2,
        max_worker_processes: 8,
        cron: CronState {
            available: true,
            installed: true,
            preloaded: true,
            jobs: vec![
                job("create_partitions_if_needed"),
                job("drop_old_partitions"),
            ],
        },
    }
}

/// Sessions with today's partition, analyzed and empty.
fn snapshot() -> CatalogSnapshot {
    let mut t = TableCatalog::empty(ManagedTable::Sessions, 1);
    let b = period_containing(ManagedTable::Sessions.period(), now().date_naive());
    let mut p = PartitionInfo::range(2, partition_name(ManagedTable::Sessions, &b), b);
    p.last_analyzed = Some(now());
    t.partitions.push(p);
    CatalogSnapshot {
        taken_at: now(),
        server_version_num: 150_004,
        tables: vec![t],
    }
}

fn topics(
    facts: &ServerFacts,
    snap: &CatalogSnapshot,
    stats: Vec<TableStats>,
) -> Vec<&'static str> {
    let perf = Performance {
        taken_at: now(),
        tables: stats,
        probes: Vec::new(),
    };
    let plan = Plan {
        now: now(),
        actions: vec![],
        held: vec![],
        notes: vec![],
        table_oids: vec![],
    };
    tips(&Config::default(), snap, facts, &perf, &plan)
        .into_iter()
        .map(|t| t.topic)
        .collect()
}

#[test]
fn a_well_kept_database_gets_no_tips() {
    assert_eq!(
        topics(&good_facts(), &snapshot(), vec![]),
        Vec::<&str>::new()
    );
}

#[test]
fn each_rule_fires_on_its_own_state() {
    type Case = (
        &'static str,
        fn(&mut ServerFacts, &mut CatalogSnapshot, &mut Vec<TableStats>),
    );
    let cases: Vec<Case> = vec![
        ("pruning_off", |f, _, _| f.enable_partition_pruning = false),
        ("constraint_exclusion_off", |f, _, _| {
            f.constraint_exclusion = "off".into()
        }),
        ("parallel_off", |f, _, _| {
            f.max_parallel_workers_per_gather = 0
        }),
        ("old_server", |f, _, _| f.server_version_num = 130_011),
        ("pg_cron_missing", |f, _, _| f.cron = CronState::default()),
        ("pg_cron_not_created", |f, _, _| f.cron.installed = false),
        ("pg_cron_not_preloaded", |f, _, _| f.cron.preloaded = false),
        ("pg_cron_job_missing", |f, _, _| f.cron.jobs.truncate(1)),
        ("never_analyzed", |_, s, _| {
            let p = &mut s.tables[0].partitions[0];
            p.last_analyzed = None;
            p.est_rows = 500;
        }),
        ("huge_partition", |_, s, _| {
            s.tables[0].partitions[0].bytes = 11 * 1024 * 1024 * 1024
        }),
        ("default_rows", |_, s, _| {
            let mut d = s.tables[0].partitions[0].clone();
            d.name = "sessions_default".into();
            d.est_rows = 12;
            s.tables[0].default_partition = Some(d);
        }),
        ("interrupted_cleanup", |_, s, _| {
            s.tables[0].partitions[0].detach_pending = true
        }),
        ("seq_scans", |_, _, st| {
            st.push(TableStats {
                table: "sessions".into(),
                seq_scan: 90,
                idx_scan: 10,
                seq_tup_read: 50_000,
                ..Default::default()
            })
        }),
        ("dead_rows", |_, _, st| {
            st.push(TableStats {
                table: "sessions".into(),
                live_rows: 5_000,
                dead_rows: 5_000,
                ..Default::default()
            })
        }),
        ("cache_hits", |_, _, st| {
            st.push(TableStats {
                table: "sessions".into(),
                heap_blks_read: 20_000,
                heap_blks_hit: 1_000,
                ..Default::default()
            })
        }),
    ];
    for (topic, change) in cases {
        let (mut f, mut s, mut st) = (good_facts(), snapshot(), Vec::new());
        change(&mut f, &mut s, &mut st);
        let got = topics(&f, &s, st);
        assert!(got.contains(&topic), "{topic}: got {got:?}");
    }
}

#[test]
fn small_tables_scanned_sequentially_are_not_flagged() {
    let stats = vec![TableStats {
        table: "sessions".into(),
        seq_scan: 90,
        idx_scan: 1,
        seq_tup_read: 900,
        ..Default::default()
    }];
    assert!(!topics(&good_facts(), &snapshot(), stats).contains(&"seq_scans"));
}
