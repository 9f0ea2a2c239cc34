//! Planner tests: each case is one line of input → expected actions.

use chrono::{DateTime, NaiveDate, Utc};

use super::*;
use crate::calendar::{midnight, parse_partition_expr, partition_name, period_containing};
use crate::catalog::{PartitionInfo, TableCatalog};
use crate::config::Config;
use crate::policy::{CleanupMode, Retention};

mod cleanup;
mod create;
mod quick;
mod upkeep;

/// `2025-10-01` (UTC midnight) or an RFC 3339 instant.
fn t(s: &str) -> DateTime<Utc> {
    match DateTime::parse_from_rfc3339(s) {
        Ok(t) => t.with_timezone(&Utc),
        Err(_) => midnight(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()),
    }
}

/// Our partition of `table` for the period holding `date`.
fn ours(table: ManagedTable, date: &str) -> PartitionInfo {
    let b = period_containing(table.period(), t(date).date_naive());
    PartitionInfo::range(1000, partition_name(table, &b), b)
}

/// Our partitions for every period from `first` up to and including the one holding `last`.
fn ours_range(table: ManagedTable, first: &str, last: &str) -> Vec<PartitionInfo> {
    crate::calendar::periods_intersecting(
        table.period(),
        t(first).date_naive(),
        t(last).date_naive(),
    )
    .into_iter()
    .map(|b| PartitionInfo::range(1000, partition_name(table, &b), b))
    .collect()
}

/// A partition as the catalog reads it from `pg_get_expr` text.
fn raw(name: &str, expr: &str) -> PartitionInfo {
    PartitionInfo {
        bound: parse_partition_expr(expr).ok().and_then(|b| b.range()),
        raw_bound: expr.to_string(),
        ..PartitionInfo::range(
            2000,
            name,
            PartitionBound::new(t("2000-01-01"), t("2000-01-02")),
        )
    }
}

fn table(table: ManagedTable, partitions: Vec<PartitionInfo>) -> TableCatalog {
    TableCatalog {
        partitions,
        ..TableCatalog::empty(table, 16_000 + table.index() as u32)
    }
}

fn snap(tables: Vec<TableCatalog>) -> CatalogSnapshot {
    CatalogSnapshot {
        taken_at: t("2025-10-01"),
        server_version_num: 150_004,
        tables,
    }
}

fn only(t: ManagedTable, opts: PlanOptions) -> PlanOptions {
    PlanOptions {
        tables: vec![t],
        ..opts
    }
}

/// `verb name` of every action, in order.
fn steps(p: &Plan) -> Vec<String> {
    p.actions
        .iter()
        .map(|a| format!("{} {}", a.kind.tag(), a.kind.partition_name()))
        .collect()
}

fn held(p: &Plan) -> Vec<String> {
    p.held
        .iter()
        .map(|h| format!("{:?} {}", h.hold, h.kind.partition_name()))
        .collect()
}

fn notes(p: &Plan, kind: NoteKind) -> Vec<&str> {
    p.notes
        .iter()
        .filter(|n| n.kind == kind)
        .map(|n| n.message.as_str())
        .collect()
}

fn with_policy(table: ManagedTable, retention: Retention, cleanup: CleanupMode) -> Config {
    let mut cfg = Config::default();
    for p in &mut cfg.policies {
        if p.table == table {
            p.retention = retention;
            p.cleanup = cleanup;
        }
    }
    cfg
}

#[test]
fn missing_and_unpartitioned_tables_are_noted_not_planned() {
    let mut plain = table(ManagedTable::Sessions, vec![]);
    plain.is_partitioned = false;
    let absent = TableCatalog {
        oid: 0,
        is_partitioned: false,
        ..TableCatalog::empty(ManagedTable::RateLimits, 0)
    };
    let s = snap(vec![plain, absent]);
    let p = plan(
        &Config::default(),
        &s,
        t("2025-10-01"),
        &PlanOptions::maintenance(),
    );
    assert!(p.actions.is_empty(), "{:?}", steps(&p));
    assert_eq!(notes(&p, NoteKind::NotPartitioned).len(), 1);
    // auth_audit_log and refresh_tokens are not in the snapshot; rate_limits does not exist.
    assert_eq!(notes(&p, NoteKind::MissingTable).len(), 3);
    assert_eq!(p.table_oids, vec![(ManagedTable::Sessions, 16_001)]);
}

#[test]
fn actions_are_grouped_by_table_in_guide_order() {
    let s = snap(
        ManagedTable::ALL
            .into_iter()
            .rev()
            .map(|t| table(t, vec![]))
            .collect(),
    );
    let p = plan(
        &Config::default(),
        &s,
        t("2025-10-01T10:00:00Z"),
        &PlanOptions::create(),
    );
    let mut order: Vec<ManagedTable> = p.actions.iter().map(|a| a.table).collect();
    order.dedup();
    assert_eq!(order, ManagedTable::ALL.to_vec());
    assert_eq!(p.actions.len(), 7 + 15 + 5 + 8);
    assert_eq!(
        p.fingerprint(),
        crate::fingerprint::of_actions_with_oids(&p.actions, &p.table_oids)
    );
    let p2 = plan(
        &Config::default(),
        &s,
        t("2025-10-01T11:00:00Z"),
        &PlanOptions::create(),
    );
    assert_eq!(
        p.fingerprint(),
        p2.fingerprint(),
        "same work an hour later: same fingerprint"
    );
}
