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

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::human_instant;
use crate::catalog::{CatalogSnapshot, PartitionInfo};
use crate::config::Config;
use crate::layout::{TableLayout, STALE_STATS_DAYS};
use crate::policy::CleanupMode;
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

const GIB: i64 = 1024 * 1024 * 1024;

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
                "run `./scripts/manage-partitions.sh migrate`",
            );
        } else {
            let layout = TableLayout::new(config.policy(table), catalog);
            table_findings(config, &layout, now, &mut f);
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

struct Findings {
    table: ManagedTable,
    list: Vec<Finding>,
}

impl Findings {
    fn push(&mut self, check: &'static str, severity: Severity, message: &str, remedy: &str) {
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

fn table_findings(config: &Config, l: &TableLayout<'_>, now: DateTime<Utc>, f: &mut Findings) {
    let table = l.table;
    let period = table.period();
    let policy = l.policy;

    let window = l.window(now, None);
    let missing: Vec<_> = window.iter().filter(|b| !l.covers(b)).collect();
    if let Some(first) = missing.first() {
        let current_missing = **first == l.current(now);
        let (severity, msg) = if current_missing {
            (
                Severity::Critical,
                format!("no partition for the current {period} {first}: inserts fail now"),
            )
        } else {
            let msg = format!(
                "{} of the {} {period}s of the ahead window have no partition (first {first}): inserts will fail then",
                missing.len(),
                window.len()
            );
            (Severity::Warning, msg)
        };
        f.push(
            checks::FUTURE,
            severity,
            &msg,
            "run `./scripts/manage-partitions.sh create` and check its cron job",
        );
    }

    let past = l.past_retention(now);
    if let Some(oldest) = past.first() {
        let remedy = match policy.cleanup {
            CleanupMode::Auto => "run `./scripts/manage-partitions.sh cleanup --force`",
            CleanupMode::Approval => {
                "request a cleanup in the console; a two-person approval runs it"
            }
        };
        let msg = format!(
            "{} partition(s) past retention ({}), oldest {}",
            past.len(),
            policy.retention,
            oldest.name
        );
        f.push(checks::RETENTION, Severity::Warning, &msg, remedy);
    }

    let all = || {
        l.catalog
            .partitions
            .iter()
            .chain(&l.catalog.default_partition)
    };
    if let Some(big) = all().max_by_key(|p| p.bytes) {
        let t = &config.thresholds;
        let gib = big.bytes as f64 / GIB as f64;
        let level = if big.bytes >= i64::from(t.critical_size_gb) * GIB {
            Some((Severity::Critical, t.critical_size_gb))
        } else if big.bytes >= i64::from(t.warn_size_gb) * GIB {
            Some((Severity::Warning, t.warn_size_gb))
        } else {
            None
        };
        if let Some((severity, limit)) = level {
            let msg = format!("{} is {gib:.1} GiB (threshold {limit} GiB)", big.name);
            let remedy = format!("use a shorter period than a {period}, or move old partitions to a cheaper tablespace");
            f.push(checks::SIZE, severity, &msg, &remedy);
        }
    }

    let count = u32::try_from(l.catalog.partitions.len()).unwrap_or(u32::MAX);
    let expected = policy.expected_partitions();
    let warn_at = config.thresholds.warn_count.max(expected);
    let critical_at = config.thresholds.critical_count.max(expected);
    let level = if count > critical_at {
        Some((Severity::Critical, critical_at))
    } else if count > warn_at {
        Some((Severity::Warning, warn_at))
    } else {
        None
    };
    if let Some((severity, limit)) = level {
        let msg = format!(
            "{count} partitions, over {limit} (the threshold, or the {expected} the policy calls for if more)"
        );
        f.push(
            checks::COUNT,
            severity,
            &msg,
            "run cleanup; check for foreign partitions and a too long retention",
        );
    }

    let stale_before = now
        .checked_sub_signed(Duration::days(STALE_STATS_DAYS))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let current = l.current(now);
    let stale: Vec<&PartitionInfo> = l
        .ours
        .iter()
        .copied()
        .filter(|p| {
            p.est_rows > 0
                && match p.last_analyzed {
                    None => true,
                    Some(t) => p.bound == Some(current) && t < stale_before,
                }
        })
        .collect();
    if let Some(first) = stale.first() {
        let when = first
            .last_analyzed
            .map_or("never analyzed".to_string(), |t| {
                format!("last analyzed {}", human_instant(t))
            });
        let msg = format!(
            "{} partition(s) with stale statistics, e.g. {} ({when})",
            stale.len(),
            first.name
        );
        f.push(
            checks::STATISTICS,
            Severity::Warning,
            &msg,
            "run `./scripts/manage-partitions.sh maintenance` (ANALYZE)",
        );
    }

    if let Some(d) = l
        .catalog
        .default_partition
        .as_ref()
        .filter(|d| d.est_rows > 0)
    {
        let msg = format!(
            "the default partition {} holds about {} rows",
            d.name, d.est_rows
        );
        f.push(
            checks::DEFAULT_ROWS,
            Severity::Warning,
            &msg,
            "run `./scripts/manage-partitions.sh create` (moves them)",
        );
    }

    let pending: Vec<&str> = l
        .catalog
        .partitions
        .iter()
        .filter(|p| p.detach_pending)
        .map(|p| p.name.as_str())
        .collect();
    if !pending.is_empty() {
        let msg = format!(
            "detach pending (an interrupted DETACH CONCURRENTLY): {}",
            pending.join(", ")
        );
        f.push(
            checks::DETACH_PENDING,
            Severity::Warning,
            &msg,
            "run `./scripts/manage-partitions.sh cleanup --force` (finalizes)",
        );
    }

    if !l.catalog.detached.is_empty() {
        let names: Vec<&str> = l.catalog.detached.iter().map(|p| p.name.as_str()).collect();
        let msg = format!(
            "tables named like partitions but attached to nothing: {}",
            names.join(", ")
        );
        let remedy = "past retention: cleanup drops them; otherwise re-attach them (ALTER TABLE ... ATTACH PARTITION)";
        f.push(checks::LEFTOVERS, Severity::Warning, &msg, remedy);
    }
}

#[cfg(test)]
mod tests;
