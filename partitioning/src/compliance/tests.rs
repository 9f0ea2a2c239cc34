use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

use super::*;
use crate::calendar::{partition_name, period_containing, periods_intersecting, PartitionBound};
use crate::catalog::{PartitionInfo, TableCatalog};
use crate::policy::Policy;
use crate::table::ManagedTable::{self, *};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 30, 0).unwrap()
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// A catalog holding every period of `table` from `first` through the current one.
fn full_table(table: ManagedTable, first: NaiveDate) -> TableCatalog {
    let mut t = TableCatalog::empty(table, 100 + table.index() as u32);
    for (i, b) in periods_intersecting(table.period(), first, now().date_naive())
        .into_iter()
        .enumerate()
    {
        let mut p = PartitionInfo::range(1000 + i as u32, partition_name(table, &b), b);
        p.est_rows = 10;
        t.partitions.push(p);
    }
    t
}

fn window_start(table: ManagedTable) -> NaiveDate {
    Policy::default_for(table)
        .retention
        .cutoff(now())
        .date_naive()
}

fn inputs(tables: Vec<TableCatalog>) -> ReportInputs {
    ReportInputs {
        scope: ReportScope::new(
            date("2026-01-01"),
            date("2026-11-24"),
            &[],
            now(),
            "compliance",
        )
        .unwrap(),
        policies: ManagedTable::ALL.map(Policy::default_for).to_vec(),
        snapshot: CatalogSnapshot {
            taken_at: now(),
            server_version_num: 150004,
            tables,
        },
        actions: Vec::new(),
        requests: Vec::new(),
        approvals: Vec::new(),
    }
}

fn healthy() -> Vec<TableCatalog> {
    ManagedTable::ALL
        .map(|t| full_table(t, window_start(t)))
        .to_vec()
}

fn drop_row(
    id: i64,
    table: ManagedTable,
    b: PartitionBound,
    at: DateTime<Utc>,
    request: Option<i64>,
) -> ActionRecord {
    ActionRecord {
        id,
        at,
        actor: "console:dba1".into(),
        table: table.name().into(),
        partition: partition_name(table, &b),
        action: "drop".into(),
        lower: Some(b.lower),
        upper: Some(b.upper),
        rows: Some(1234),
        bytes: Some(8192),
        outcome: "ok".into(),
        request_id: request,
    }
}

fn kinds(r: &ComplianceReport, table: ManagedTable) -> Vec<(FindingKind, Severity)> {
    r.findings
        .iter()
        .filter(|f| f.table == table)
        .map(|f| (f.kind, f.severity))
        .collect()
}

#[test]
fn a_fully_kept_database_is_compliant() {
    let r = build(&inputs(healthy()));
    assert!(r.compliant(), "{:#?}", r.findings);
    assert_eq!(r.verdicts.len(), 4);
    // 7 years of months plus the current one's neighbour: 85 audit months in the window.
    let audit = r
        .inventory
        .iter()
        .filter(|i| i.table == AuthAuditLog)
        .count();
    assert_eq!(audit, 85);
    assert_eq!(r.policies[0].governs, Governs::OrganisationalPolicy);
    assert!(r.policies[0].basis.contains("164.316(b)(2)(i)"));
    assert_eq!(r.policies[1].governs, Governs::OperationalPolicy);
}

/// (what is planted, how, the table, the findings it must raise, the inventory status it shows)
type GapCase = (
    &'static str,
    fn(&mut ReportInputs),
    ManagedTable,
    Vec<(FindingKind, Severity)>,
    InventoryStatus,
);

#[test]
fn each_gap_is_named() {
    let cases: Vec<GapCase> = vec![
        (
            "month missing in the middle",
            |i| {
                i.snapshot.tables[0]
                    .partitions
                    .retain(|p| p.name != "auth_audit_log_2024_03");
            },
            AuthAuditLog,
            vec![(FindingKind::MissingPeriod, Severity::Finding)],
            InventoryStatus::Missing,
        ),
        (
            "month dropped early (in the period)",
            |i| {
                i.snapshot.tables[0]
                    .partitions
                    .retain(|p| p.name != "auth_audit_log_2024_03");
                let b = period_containing(
                    crate::calendar::Period::Month,
                    NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
                );
                i.actions.push(drop_row(
                    1,
                    AuthAuditLog,
                    b,
                    Utc.with_ymd_and_hms(2026, 5, 2, 3, 0, 0).unwrap(),
                    None,
                ));
            },
            AuthAuditLog,
            vec![
                (FindingKind::DroppedEarly, Severity::Finding),
                (FindingKind::UnapprovedDisposal, Severity::Finding),
            ],
            InventoryStatus::DroppedEarly,
        ),
        (
            "month dropped early before the period",
            |i| {
                i.snapshot.tables[0]
                    .partitions
                    .retain(|p| p.name != "auth_audit_log_2024_03");
                let b = period_containing(
                    crate::calendar::Period::Month,
                    NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
                );
                i.actions.push(drop_row(
                    1,
                    AuthAuditLog,
                    b,
                    Utc.with_ymd_and_hms(2025, 5, 2, 3, 0, 0).unwrap(),
                    None,
                ));
            },
            AuthAuditLog,
            vec![(FindingKind::DroppedEarly, Severity::Finding)],
            InventoryStatus::DroppedEarly,
        ),
        (
            "rows in the default partition",
            |i| {
                let mut d =
                    PartitionInfo::range(9, "sessions_default", PartitionBound::new(now(), now()));
                d.bound = None;
                d.est_rows = 42;
                i.snapshot.tables[1].default_partition = Some(d);
            },
            Sessions,
            vec![(FindingKind::DefaultRows, Severity::Finding)],
            InventoryStatus::Default,
        ),
        (
            "partition past retention still kept",
            |i| {
                let b = period_containing(crate::calendar::Period::Day, date("2026-08-01"));
                i.snapshot.tables[1]
                    .partitions
                    .insert(0, PartitionInfo::range(7, partition_name(Sessions, &b), b));
            },
            Sessions,
            vec![(FindingKind::PastRetentionKept, Severity::Finding)],
            InventoryStatus::PastRetention,
        ),
        (
            "oldest months never existed",
            |i| {
                i.snapshot.tables[0].partitions.drain(..5);
            },
            AuthAuditLog,
            vec![(FindingKind::NoEarlierRecords, Severity::Note)],
            InventoryStatus::NoRecords,
        ),
        (
            "oldest months existed and vanished",
            |i| {
                let first = i.snapshot.tables[0].partitions.remove(0);
                i.actions.push(ActionRecord {
                    action: "create".into(),
                    ..drop_row(
                        3,
                        AuthAuditLog,
                        first.bound.unwrap(),
                        Utc.with_ymd_and_hms(2019, 1, 1, 0, 0, 0).unwrap(),
                        None,
                    )
                });
            },
            AuthAuditLog,
            vec![(FindingKind::MissingPeriod, Severity::Finding)],
            InventoryStatus::Missing,
        ),
        (
            "current period missing",
            |i| {
                i.snapshot.tables[3].partitions.pop();
            },
            RateLimits,
            vec![(FindingKind::MissingPeriod, Severity::Finding)],
            InventoryStatus::Missing,
        ),
        (
            "detached leftover inside retention",
            |i| {
                let p = i.snapshot.tables[2].partitions.remove(3);
                i.snapshot.tables[2].detached.push(PartitionInfo {
                    bound: None,
                    raw_bound: String::new(),
                    ..p
                });
            },
            RefreshTokens,
            vec![(FindingKind::Detached, Severity::Finding)],
            InventoryStatus::Detached,
        ),
        (
            "foreign partition",
            |i| {
                let mut p = PartitionInfo::range(
                    8,
                    "audit_manual",
                    PartitionBound::from_dates(date("2026-12-01"), date("2026-12-15")),
                );
                p.bound = Some(PartitionBound::from_dates(
                    date("2026-12-01"),
                    date("2026-12-15"),
                ));
                i.snapshot.tables[0].partitions.push(p);
            },
            AuthAuditLog,
            vec![(FindingKind::ForeignPartition, Severity::Note)],
            InventoryStatus::Foreign,
        ),
    ];
    for (name, plant, table, want, status) in cases {
        let mut i = inputs(healthy());
        plant(&mut i);
        let r = build(&i);
        assert_eq!(kinds(&r, table), want, "{name}: {:#?}", r.findings);
        assert!(
            r.inventory
                .iter()
                .any(|row| row.table == table && row.status == status),
            "{name}: no {status:?} row"
        );
        let verdict = r.verdicts.iter().find(|v| v.table == table).unwrap();
        let breach = want.iter().any(|(_, s)| *s == Severity::Finding);
        assert_eq!(verdict.compliant, !breach, "{name}: {}", verdict.summary);
        assert_eq!(
            r.verdicts.iter().filter(|v| !v.compliant).count(),
            usize::from(breach),
            "{name}: other tables"
        );
    }
}

mod disposal_and_scope;
#[cfg(feature = "report")]
mod rendering;
