//! The partition inventory of one table over its retention window (from the period holding the
//! cutoff through the current period), with every gap: missing periods, periods dropped early,
//! partitions kept past retention, detached leftovers, foreign partitions and rows in the default
//! partition. Future partitions are not listed: retention is about the past.

use chrono::{DateTime, Duration, Months, Utc};

use super::{
    ActionRecord, Finding, FindingKind, InventoryRow, InventoryStatus, RequestRecord, Severity,
};
use crate::calendar::{
    human_instant, parse_partition_name, period_containing, periods_intersecting, PartitionBound,
};
use crate::catalog::{PartitionInfo, TableCatalog};
use crate::policy::{CleanupMode, Policy, Retention, HIPAA_MIN_RETENTION_YEARS};

pub(super) struct TableInventory {
    pub rows: Vec<InventoryRow>,
    pub findings: Vec<Finding>,
}

/// The bound a log row speaks of: its recorded bounds, else its partition name's period.
pub(super) fn record_bound(policy: &Policy, a: &ActionRecord) -> Option<PartitionBound> {
    match (a.lower, a.upper) {
        (Some(l), Some(u)) => Some(PartitionBound::new(l, u)),
        _ => parse_partition_name(policy.table, &a.partition),
    }
}

/// When a partition ending at `upper` passes its retention: `upper + retention`.
pub(super) fn keep_until(policy: &Policy, upper: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match policy.retention {
        Retention::Years(y) => upper.checked_add_months(Months::new(y.saturating_mul(12))),
        Retention::Days(d) => upper.checked_add_signed(Duration::days(i64::from(d))),
    }
}

/// Why a drop was early, or None when the partition was past retention when dropped.
pub(super) fn early_drop(
    policy: &Policy,
    bound: Option<PartitionBound>,
    at: DateTime<Utc>,
) -> Option<String> {
    let cutoff = policy.drop_cutoff(at);
    match bound {
        None => Some("its bounds are not recorded and its name is not one the tool gives, so it cannot be shown to have been past retention".into()),
        Some(b) if b.upper > cutoff => {
            let floor = Retention::Years(HIPAA_MIN_RETENTION_YEARS).cutoff(at);
            let hipaa = if policy.table == crate::table::ManagedTable::AuthAuditLog && b.upper > floor {
                format!(" It was also inside the HIPAA floor of {HIPAA_MIN_RETENTION_YEARS} years (45 CFR 164.316(b)(2)(i)).")
            } else {
                String::new()
            };
            let keep_until = keep_until(policy, b.upper);
            Some(format!(
                "its period ended {}, and the retention of {} keeps it until {} (the cutoff on the day of the drop was {}).{hipaa}",
                human_instant(b.upper),
                policy.retention,
                keep_until.map(human_instant).unwrap_or_else(|| "the end of the calendar".into()),
                human_instant(cutoff)
            ))
        }
        Some(_) => None,
    }
}

pub(super) fn table_inventory(
    policy: &Policy,
    catalog: Option<&TableCatalog>,
    drops: &[&ActionRecord],
    creates: &[&ActionRecord],
    open_requests: &[RequestRecord],
    now: DateTime<Utc>,
    period: (DateTime<Utc>, DateTime<Utc>),
) -> TableInventory {
    let table = policy.table;
    let mut out = TableInventory {
        rows: Vec::new(),
        findings: Vec::new(),
    };
    let finding =
        |kind, severity, p: &str, b: Option<PartitionBound>, rows, text: String| Finding {
            table,
            kind,
            severity,
            partition: p.to_string(),
            lower: b.map(|b| b.lower),
            upper: b.map(|b| b.upper),
            rows,
            explanation: text,
        };
    let Some(cat) = catalog.filter(|c| c.exists() && c.is_partitioned) else {
        let why = if catalog.is_some_and(|c| c.exists()) {
            "is not a partitioned table (migration 006 not applied)"
        } else {
            "does not exist in this database"
        };
        out.findings.push(finding(
            FindingKind::MissingPeriod,
            Severity::Finding,
            "",
            None,
            None,
            format!("{table} {why}: no partition inventory can be taken."),
        ));
        return out;
    };
    let cutoff = policy.retention.cutoff(now);
    let window = periods_intersecting(table.period(), cutoff.date_naive(), now.date_naive());
    let current = period_containing(table.period(), now.date_naive());
    let row = |p: &PartitionInfo, status, note: String| InventoryRow {
        table,
        partition: p.name.clone(),
        lower: p.bound.map(|b| b.lower),
        upper: p.bound.map(|b| b.upper),
        status,
        rows: p.est_rows,
        bytes: p.bytes,
        note,
    };
    let due = match policy.cleanup {
        CleanupMode::Approval => "it waits for a two-person cleanup approval in the console",
        CleanupMode::Auto => "the next scheduled cleanup drops it",
    };

    // Attached partitions: ours (by bound), foreign, past retention.
    let ours: Vec<&PartitionInfo> = cat.partitions.iter().filter(|p| cat.is_ours(p)).collect();
    for p in &cat.partitions {
        let Some(b) = p.bound.filter(|_| cat.is_ours(p)) else {
            out.rows.push(row(
                p,
                InventoryStatus::Foreign,
                "not named by the tool; never touched by it".into(),
            ));
            out.findings.push(finding(FindingKind::ForeignPartition, Severity::Note, &p.name, p.bound, Some(p.est_rows),
                format!("{} ({}) is attached to {table} but is not a partition the tool would make (name or bound differs); it is reported and left alone. Its rows are retained.", p.name, p.raw_bound)));
            continue;
        };
        if b.upper <= cutoff {
            out.rows.push(row(
                p,
                InventoryStatus::PastRetention,
                format!(
                    "past retention since {}",
                    keep_until(policy, b.upper)
                        .map(human_instant)
                        .unwrap_or_default()
                ),
            ));
            // An open cleanup request naming it says the disposal is under way.
            let due = match open_requests
                .iter()
                .find(|r| r.partitions.contains(&p.name))
            {
                Some(r) => format!(
                    "cleanup request #{} by {} covers it ({})",
                    r.id, r.requested_by, r.state
                ),
                None => due.to_string(),
            };
            out.findings.push(finding(FindingKind::PastRetentionKept, Severity::Finding, &p.name, Some(b), Some(p.est_rows),
                format!("{} ended {}, at or before the retention cutoff {} ({}): it is kept longer than the policy says; {due}.", p.name, human_instant(b.upper), human_instant(cutoff), policy.retention)));
        } else if b.lower > now {
            // Ahead of time: not part of a retention inventory.
        } else if p.detach_pending {
            out.rows.push(row(
                p,
                InventoryStatus::DetachPending,
                "DETACH CONCURRENTLY interrupted".into(),
            ));
            out.findings.push(finding(FindingKind::DetachPending, Severity::Note, &p.name, Some(b), Some(p.est_rows),
                format!("{} is still attached in 'detach pending' state (an interrupted DETACH ... CONCURRENTLY); maintenance finalizes it. Its rows are retained.", p.name)));
        } else {
            let status = if p.sealed {
                InventoryStatus::Sealed
            } else {
                InventoryStatus::Present
            };
            out.rows.push(row(p, status, String::new()));
        }
    }

    // Every period of the window without a partition of ours.
    let first_present = ours
        .iter()
        .filter_map(|p| p.bound)
        .filter(|b| b.upper > cutoff)
        .map(|b| b.lower)
        .min();
    // A detached leftover still holds its period's rows: reported as detached, not as missing.
    let covered = |b: &PartitionBound| {
        cat.partitions
            .iter()
            .any(|p| p.bound.is_some_and(|pb| pb.overlaps(b)))
            || cat
                .detached
                .iter()
                .any(|p| parse_partition_name(table, &p.name).is_some_and(|pb| pb.overlaps(b)))
    };
    let mut missing: Vec<(PartitionBound, InventoryStatus, String)> = Vec::new();
    for b in window.iter().filter(|b| b.upper > cutoff && !covered(b)) {
        let name = crate::calendar::partition_name(table, b);
        let dropped = drops
            .iter()
            .find(|d| record_bound(policy, d) == Some(*b) || d.partition == name);
        if let Some(d) = dropped {
            let why = early_drop(policy, record_bound(policy, d), d.at)
                .unwrap_or_else(|| "it was past retention under the policy of the day".into());
            let text = format!(
                "{name} was dropped {} by {}: {why}",
                human_instant(d.at),
                d.actor
            );
            // A drop inside the report's period is also in the disposal log, which raises the finding.
            if !(period.0 <= d.at && d.at < period.1) {
                out.findings.push(finding(FindingKind::DroppedEarly, Severity::Finding, &name, Some(*b), d.rows, format!("{text} (dropped outside this report's period; the gap is inside the retention window)")));
            }
            missing.push((
                *b,
                InventoryStatus::DroppedEarly,
                format!("dropped {} by {}", human_instant(d.at), d.actor),
            ));
            continue;
        }
        let created = creates
            .iter()
            .find(|c| record_bound(policy, c) == Some(*b) || c.partition == name);
        if first_present.is_some_and(|f| b.lower < f) && created.is_none() && *b != current {
            missing.push((*b, InventoryStatus::NoRecords, String::new()));
        } else {
            let note = match created {
                Some(c) => format!(
                    "created {} by {}; no drop recorded",
                    human_instant(c.at),
                    c.actor
                ),
                None => String::new(),
            };
            missing.push((*b, InventoryStatus::Missing, note));
        }
    }
    // Runs of consecutive missing / no-record periods become one row and one finding.
    let mut i = 0;
    while i < missing.len() {
        let (first, status, note) = missing[i].clone();
        let mut last = first;
        let mut j = i + 1;
        while status != InventoryStatus::DroppedEarly
            && j < missing.len()
            && missing[j].1 == status
            && missing[j].0.lower == last.upper
            && missing[j].2.is_empty()
            && note.is_empty()
        {
            last = missing[j].0;
            j += 1;
        }
        let n = j - i;
        let span = PartitionBound::new(first.lower, last.upper);
        let periods = if n == 1 {
            format!("1 {}", table.period())
        } else {
            format!("{n} {}s", table.period())
        };
        let name = if n == 1 {
            crate::calendar::partition_name(table, &first)
        } else {
            String::new()
        };
        let row_note = if note.is_empty() {
            periods.clone()
        } else {
            note.clone()
        };
        out.rows.push(InventoryRow {
            table,
            partition: name.clone(),
            lower: Some(span.lower),
            upper: Some(span.upper),
            status,
            rows: 0,
            bytes: 0,
            note: row_note,
        });
        match status {
            InventoryStatus::Missing => out.findings.push(finding(FindingKind::MissingPeriod, Severity::Finding, &name, Some(span), None, format!(
                "No partition covers {span} ({periods}) inside the retention window{}: rows of that time are not in the table (an insert there fails or lands in a default partition).{}",
                if span.lower <= now && now < span.upper { ", the current period" } else { "" },
                if note.is_empty() { String::new() } else { format!(" The action log shows it was {note}: it was removed outside the tool.") }))),
            InventoryStatus::NoRecords => out.findings.push(finding(FindingKind::NoEarlierRecords, Severity::Note, "", Some(span), None, format!(
                "No partition and no record of one for {span} ({periods}): the table's data starts with its first partition. If the system held {table} data then, that data is not in this database."))),
            _ => {}
        }
        i = j;
    }

    for p in &cat.detached {
        let bound = parse_partition_name(table, &p.name);
        let past = bound.is_some_and(|b| b.upper <= cutoff);
        let mut r = row(
            p,
            if past {
                InventoryStatus::PastRetention
            } else {
                InventoryStatus::Detached
            },
            "detached from the table, not dropped".into(),
        );
        r.lower = bound.map(|b| b.lower);
        r.upper = bound.map(|b| b.upper);
        out.rows.push(r);
        let (kind, text) = if past {
            (FindingKind::PastRetentionKept, format!("{} was detached but not dropped, and is past retention: the next maintenance drops it.", p.name))
        } else {
            (FindingKind::Detached, format!("{} is detached from {table} but not dropped: its rows are kept but invisible to queries on the table. Re-attach it, or finish the cleanup once it is past retention.", p.name))
        };
        out.findings.push(finding(
            kind,
            Severity::Finding,
            &p.name,
            bound,
            Some(p.est_rows),
            text,
        ));
    }

    out.rows
        .sort_by_key(|r| (r.lower.is_none(), r.lower, r.partition.clone()));
    if let Some(d) = &cat.default_partition {
        out.rows.push(row(
            d,
            InventoryStatus::Default,
            if d.est_rows > 0 {
                format!("{} rows stranded", d.est_rows)
            } else {
                "empty".into()
            },
        ));
        if d.est_rows > 0 {
            out.findings.push(finding(FindingKind::DefaultRows, Severity::Finding, &d.name, None, Some(d.est_rows), format!(
                "{} rows of {table} sit in the default partition {}: they belong to periods without a partition, so retention cannot be applied to them per period. `rustcare-partitions create` (or maintenance) moves them into proper partitions.",
                d.est_rows, d.name)));
        }
    }
    out
}
