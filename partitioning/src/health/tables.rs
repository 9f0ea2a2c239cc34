//! The per-table checks: future coverage, retention, size, count, statistics, default rows,
//! pending detaches, leftovers.

use chrono::{DateTime, Duration, Utc};

use super::{checks, Findings, Severity, GIB};
use crate::calendar::human_instant;
use crate::catalog::PartitionInfo;
use crate::config::Config;
use crate::layout::{TableLayout, STALE_STATS_DAYS};
use crate::policy::CleanupMode;

pub(super) fn table_findings(
    config: &Config,
    l: &TableLayout<'_>,
    now: DateTime<Utc>,
    f: &mut Findings,
) {
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
