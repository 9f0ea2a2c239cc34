//! What the partition commands print: the per-table status built from a snapshot and a plan, plan
//! listings, and a plain text table (numbers right-aligned) for the terminal.

use chrono::{DateTime, Utc};
use partitioning::catalog::CatalogSnapshot;
use partitioning::config::Config;
use partitioning::overview::human_bytes;
use partitioning::planner::{Action, Plan};
use partitioning::table::ManagedTable;
use serde::Serialize;

/// One managed table at a glance.
#[derive(Debug, Clone, Serialize)]
pub struct TableStatus {
    pub table: ManagedTable,
    pub partitioned: bool,
    pub partitions: usize,
    pub oldest: Option<DateTime<Utc>>,
    /// Upper bound of the newest partition: rows up to here have a home.
    pub covered_until: Option<DateTime<Utc>>,
    pub est_rows: i64,
    pub bytes: i64,
    pub default_partition: Option<String>,
    pub default_rows: i64,
    pub detach_pending: Vec<String>,
    pub leftovers: Vec<String>,
    /// Partitions whose name or bounds the tool would not give (reported, left alone).
    pub foreign: Vec<String>,
    pub retention: String,
    pub ahead: u32,
    pub cleanup: &'static str,
    pub to_create: usize,
    pub to_drop: usize,
    pub held_for_approval: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub taken_at: DateTime<Utc>,
    pub server_version_num: i32,
    pub tables: Vec<TableStatus>,
    pub notes: Vec<String>,
}

/// Builds the status of `tables` from a snapshot and the maintenance plan made from it.
pub fn status(
    config: &Config,
    snapshot: &CatalogSnapshot,
    plan: &Plan,
    tables: &[ManagedTable],
) -> StatusReport {
    let mut out = Vec::new();
    for t in snapshot.tables.iter().filter(|t| tables.contains(&t.table)) {
        let policy = config.policy(t.table);
        let count = |verb: &str| {
            plan.actions
                .iter()
                .filter(|a| a.table == t.table && a.kind.verb() == verb)
                .count()
        };
        let prefix = format!("{}_", t.table.name());
        let foreign = t
            .partitions
            .iter()
            .filter(|p| p.bound.is_none() || !p.name.starts_with(&prefix))
            .map(|p| p.name.clone())
            .collect();
        out.push(TableStatus {
            table: t.table,
            partitioned: t.is_partitioned,
            partitions: t.partitions.len(),
            oldest: t
                .partitions
                .iter()
                .filter_map(|p| p.bound.map(|b| b.lower))
                .min(),
            covered_until: t
                .partitions
                .iter()
                .filter_map(|p| p.bound.map(|b| b.upper))
                .max(),
            est_rows: t.partitions.iter().map(|p| p.est_rows.max(0)).sum(),
            bytes: t.partitions.iter().map(|p| p.bytes).sum(),
            default_partition: t.default_partition.as_ref().map(|d| d.name.clone()),
            default_rows: t
                .default_partition
                .as_ref()
                .map(|d| d.est_rows.max(0))
                .unwrap_or(0),
            detach_pending: t
                .partitions
                .iter()
                .filter(|p| p.detach_pending)
                .map(|p| p.name.clone())
                .collect(),
            leftovers: t.detached.iter().map(|p| p.name.clone()).collect(),
            foreign,
            retention: policy.retention.to_string(),
            ahead: policy.ahead,
            cleanup: policy.cleanup.as_str(),
            to_create: count("create"),
            to_drop: count("drop"),
            held_for_approval: plan.held.iter().filter(|h| h.table == t.table).count(),
        });
    }
    StatusReport {
        taken_at: snapshot.taken_at,
        server_version_num: snapshot.server_version_num,
        tables: out,
        notes: plan.notes.iter().map(|n| n.to_string()).collect(),
    }
}

pub fn status_text(r: &StatusReport) -> String {
    let rows = r
        .tables
        .iter()
        .map(|t| {
            vec![
                t.table.name().to_string(),
                if t.partitioned {
                    t.partitions.to_string()
                } else {
                    "not partitioned".into()
                },
                day(t.oldest),
                day(t.covered_until),
                t.est_rows.to_string(),
                human_bytes(t.bytes),
                format!("{} / {} ahead / {}", t.retention, t.ahead, t.cleanup),
                t.to_create.to_string(),
                t.to_drop.to_string(),
                t.held_for_approval.to_string(),
            ]
        })
        .collect();
    let mut s = format!(
        "Partitions as of {} (PostgreSQL {})\n\n",
        r.taken_at.format("%Y-%m-%d %H:%M:%S UTC"),
        r.server_version_num / 10_000
    );
    s.push_str(&text_table(
        &[
            "table",
            "partitions",
            "oldest",
            "covered until",
            "rows (est.)",
            "size",
            "policy",
            "to create",
            "to drop",
            "held",
        ],
        rows,
        &[1, 4, 5, 7, 8, 9],
    ));
    for t in &r.tables {
        if let Some(d) = &t.default_partition {
            s.push_str(&format!(
                "\n{}: default partition {d} holds ~{} rows",
                t.table, t.default_rows
            ));
        }
        for p in &t.detach_pending {
            s.push_str(&format!("\n{}: {p} is detach-pending (an interrupted cleanup; the next cleanup finishes it)", t.table));
        }
        for p in &t.leftovers {
            s.push_str(&format!(
                "\n{}: {p} is detached and left over (the next cleanup --force drops it)",
                t.table
            ));
        }
        if !t.foreign.is_empty() {
            s.push_str(&format!(
                "\n{}: not created by this tool, left alone: {}",
                t.table,
                t.foreign.join(", ")
            ));
        }
        if t.held_for_approval > 0 {
            s.push_str(&format!(
                "\n{}: {} partition(s) past retention need a two-person approval in the console",
                t.table, t.held_for_approval
            ));
        }
    }
    for n in &r.notes {
        s.push_str(&format!("\nnote: {n}"));
    }
    s.push('\n');
    s
}

/// One planned action, for listings and JSON.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedAction {
    pub table: ManagedTable,
    pub action: &'static str,
    pub partition: String,
    pub lower: Option<DateTime<Utc>>,
    pub upper: Option<DateTime<Utc>>,
    pub est_rows: Option<i64>,
    pub bytes: Option<i64>,
    pub reason: String,
}

pub fn planned(a: &Action) -> PlannedAction {
    let (est_rows, bytes) = a.kind.size();
    PlannedAction {
        table: a.table,
        action: a.kind.verb(),
        partition: a.kind.partition_name().to_string(),
        lower: a.kind.bound().map(|b| b.lower),
        upper: a.kind.bound().map(|b| b.upper),
        est_rows,
        bytes,
        reason: a.reason.clone(),
    }
}

pub fn actions_text(actions: &[PlannedAction]) -> String {
    let rows = actions
        .iter()
        .map(|a| {
            vec![
                a.action.to_string(),
                a.partition.clone(),
                match (a.lower, a.upper) {
                    (Some(l), Some(u)) => {
                        format!("{} .. {}", l.format("%Y-%m-%d"), u.format("%Y-%m-%d"))
                    }
                    _ => String::new(),
                },
                a.est_rows.map(|r| r.to_string()).unwrap_or_default(),
                a.bytes.map(human_bytes).unwrap_or_default(),
                a.reason.clone(),
            ]
        })
        .collect();
    text_table(
        &[
            "action",
            "partition",
            "bounds (UTC)",
            "rows (est.)",
            "size",
            "why",
        ],
        rows,
        &[3, 4],
    )
}

fn day(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "-".into())
}

/// A plain table: header, rule, rows; the columns in `right` right-aligned.
pub fn text_table(headers: &[&str], rows: Vec<Vec<String>>, right: &[usize]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let render = |cells: Vec<String>| -> String {
        let line: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let w = widths.get(i).copied().unwrap_or(0);
                if right.contains(&i) {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect();
        line.join("  ").trim_end().to_string()
    };
    let mut out = render(headers.iter().map(|h| h.to_string()).collect());
    out.push('\n');
    out.push_str(&render(widths.iter().map(|w| "-".repeat(*w)).collect()));
    for row in rows {
        out.push('\n');
        out.push_str(&render(row));
    }
    out.push('\n');
    out
}
