//! Health checks of the managed tables (the guide's list, plus default rows, pending detaches and
//! leftovers): each finding has a stable check id, a severity, what was seen and what to do.
//!
//! **Partition count rule.** The guide's thresholds (warn at 100, critical at 500 partitions)
//! contradict its own policy: a correctly maintained `sessions` table holds 90 + 1 + 14 = 105 daily
//! partitions. So each threshold applies as `max(threshold, expected)`, where `expected` is the
//! count the table's policy itself calls for: the periods of the retention window + the current
//! one + the periods ahead (`Policy::expected_partitions`). A table is flagged when it holds
//! *more* partitions than that: sessions with 105 partitions is healthy under the default config,
//! with 501 critical.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::CatalogSnapshot;
use crate::config::Config;
use crate::layout::TableLayout;
use crate::table::ManagedTable;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    Warning,
    Critical,
}

impl Severity {
    /// 0 ok, 1 warning, 2 critical: the `health` command's exit code and the metric's value.
    pub fn code(self) -> u8 {
        match self {
            Severity::Ok => 0,
            Severity::Warning => 1,
            Severity::Critical => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stable ids of the checks (what alert rules and the console key on).
pub mod checks {
    pub const TABLE: &str = "table_partitioned";
    pub const FUTURE: &str = "future_partitions";
    pub const RETENTION: &str = "past_retention";
    pub const SIZE: &str = "partition_size";
    pub const COUNT: &str = "partition_count";
    pub const SETTINGS: &str = "settings";
    pub const STATISTICS: &str = "stale_statistics";
    pub const DEFAULT_ROWS: &str = "default_rows";
    pub const DETACH_PENDING: &str = "detach_pending";
    pub const LEFTOVERS: &str = "leftover_detached";
    /// Every check id.
    pub const ALL: [&str; 10] = [
        TABLE,
        FUTURE,
        RETENTION,
        SIZE,
        COUNT,
        SETTINGS,
        STATISTICS,
        DEFAULT_ROWS,
        DETACH_PENDING,
        LEFTOVERS,
    ];
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// One of [`checks::ALL`].
    pub check: &'static str,
    pub severity: Severity,
    /// `None` for server-wide findings (settings).
    pub table: Option<ManagedTable>,
    pub message: String,
    /// What to do about it; empty when nothing needs doing.
    pub remedy: String,
}

/// A `Finding` as received (the browser): its check id is mapped back onto the `&'static str`.
#[derive(Deserialize)]
struct FindingWire {
    check: String,
    severity: Severity,
    table: Option<ManagedTable>,
    message: String,
    remedy: String,
}

// Written by hand: a derived impl would demand `'de: 'static` for the `&'static str` field.
impl<'de> Deserialize<'de> for Finding {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = FindingWire::deserialize(d)?;
        let check = checks::ALL
            .into_iter()
            .find(|c| *c == w.check)
            .ok_or_else(|| {
                serde::de::Error::custom(format!("unknown health check `{}`", w.check))
            })?;
        Ok(Finding {
            check,
            severity: w.severity,
            table: w.table,
            message: w.message,
            remedy: w.remedy,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    pub checked_at: DateTime<Utc>,
    /// Problems, plus one `Ok` finding per healthy table and for healthy settings.
    pub findings: Vec<Finding>,
}

impl HealthReport {
    pub fn worst(&self) -> Severity {
        self.findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Ok)
    }

    pub fn exit_code(&self) -> u8 {
        self.worst().code()
    }

    /// The worst severity among `table`'s findings.
    pub fn table_status(&self, table: ManagedTable) -> Severity {
        self.findings
            .iter()
            .filter(|f| f.table == Some(table))
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Ok)
    }
}

/// The server settings the checks read (`SHOW enable_partition_pruning`, `SHOW constraint_exclusion`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSettings {
    pub enable_partition_pruning: bool,
    pub constraint_exclusion: String,
}

pub(crate) const GIB: i64 = 1024 * 1024 * 1024;

/// Runs every check on the tables of `snapshot` as of `now`.
pub fn check(
    config: &Config,
    snapshot: &CatalogSnapshot,
    settings: &ServerSettings,
    now: DateTime<Utc>,
) -> HealthReport {
    let mut findings = Vec::new();
    settings_findings(settings, &mut findings);
    for catalog in &snapshot.tables {
        let table = catalog.table;
        let mut f = Findings {
            table,
            list: Vec::new(),
        };
        if !catalog.exists() {
            f.push(
                checks::TABLE,
                Severity::Critical,
                "the table does not exist",
                "run the migrations (`rustcare-partitions migrate`)",
            );
        } else if !catalog.is_partitioned {
            f.push(
                checks::TABLE,
                Severity::Critical,
                "the table is not partitioned: no pruning, and cleanup would need DELETE",
                "apply migration 006: `rustcare-partitions db migrate` (or `psql $DATABASE_URL -f migrations/006_add_table_partitioning.up.sql`)",
            );
        } else {
            let layout = TableLayout::new(config.policy(table), catalog);
            tables::table_findings(config, &layout, now, &mut f);
            if f.list.is_empty() {
                let msg = format!(
                    "{} partitions, {} {}s ahead, none past retention",
                    catalog.partitions.len(),
                    layout.future_periods(now),
                    table.period()
                );
                f.push(checks::TABLE, Severity::Ok, &msg, "");
            }
        }
        findings.append(&mut f.list);
    }
    HealthReport {
        checked_at: now,
        findings,
    }
}

pub(crate) struct Findings {
    table: ManagedTable,
    list: Vec<Finding>,
}

impl Findings {
    pub(crate) fn push(
        &mut self,
        check: &'static str,
        severity: Severity,
        message: &str,
        remedy: &str,
    ) {
        self.list.push(Finding {
            check,
            severity,
            table: Some(self.table),
            message: message.to_string(),
            remedy: remedy.to_string(),
        });
    }
}

fn settings_findings(s: &ServerSettings, out: &mut Vec<Finding>) {
    let mut push = |severity, message: String, remedy: &str| {
        out.push(Finding {
            check: checks::SETTINGS,
            severity,
            table: None,
            message,
            remedy: remedy.into(),
        })
    };
    let mut fine = true;
    if !s.enable_partition_pruning {
        fine = false;
        push(
            Severity::Critical,
            "enable_partition_pruning is off: every query reads every partition".into(),
            "ALTER SYSTEM SET enable_partition_pruning = on; SELECT pg_reload_conf();",
        );
    }
    if s.constraint_exclusion.trim().eq_ignore_ascii_case("off") {
        fine = false;
        push(
            Severity::Warning,
            "constraint_exclusion is off".into(),
            "ALTER SYSTEM SET constraint_exclusion = partition; SELECT pg_reload_conf(); (partition is the default)",
        );
    }
    if fine {
        let msg = format!(
            "enable_partition_pruning on, constraint_exclusion {}",
            s.constraint_exclusion
        );
        push(Severity::Ok, msg, "");
    }
}

mod tables;
#[cfg(test)]
mod tests;
