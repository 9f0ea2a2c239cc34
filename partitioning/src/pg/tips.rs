//! `monitor tips`: advice drawn from this database's actual state (settings, pg_cron, default
//! partitions, sizes, statistics, scan patterns, pending work), never a fixed text. A pure function
//! of what `monitor` and `catalog` read, so each rule is tested without a server.

use serde::Serialize;

use crate::catalog::CatalogSnapshot;
use crate::config::Config;
use crate::overview::human_bytes;
use crate::pg::monitor::{Performance, ServerFacts};
use crate::planner::Plan;
use crate::table::ManagedTable;

#[cfg(test)]
mod tests;

/// One piece of advice: what was seen, and what to do about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tip {
    /// Stable id of the rule, e.g. `pruning_off`.
    pub topic: &'static str,
    pub table: Option<ManagedTable>,
    pub finding: String,
    pub advice: String,
}

/// Rows scanned sequentially before seq scans are worth a tip: small tables are best scanned.
const SEQ_SCAN_MIN_ROWS: i64 = 10_000;
const GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Every tip that applies, most important first.
pub fn tips(
    config: &Config,
    snapshot: &CatalogSnapshot,
    facts: &ServerFacts,
    perf: &Performance,
    plan: &Plan,
) -> Vec<Tip> {
    let mut out = Vec::new();
    settings(facts, &mut out);
    for t in &snapshot.tables {
        let table = t.table;
        if let Some(d) = &t.default_partition {
            if d.est_rows > 0 {
                out.push(tip("default_rows", Some(table), format!(
                    "the default partition {} holds about {} rows: they escape retention and slow every ATTACH",
                    d.name, d.est_rows),
                    "run `manage-partitions.sh maintenance` to move them into proper partitions".into()));
            }
            out.push(tip("default_partition", Some(table), format!(
                "{table} has a default partition: DETACH ... CONCURRENTLY is refused and each ATTACH scans the default"),
                format!("keep it only as a safety net; set {}_DEFAULT_PARTITION=no and drop it once empty to detach without blocking",
                    table.config_prefix())));
        }
        let warn_bytes = config.thresholds.warn_size_gb as f64 * GB;
        if let Some(big) = t.partitions.iter().max_by_key(|p| p.bytes) {
            if big.bytes as f64 >= warn_bytes && big.bytes > 0 {
                out.push(tip("huge_partition", Some(table), format!(
                    "{} is {}, over the {} GB warning threshold", big.name, human_bytes(big.bytes),
                    config.thresholds.warn_size_gb),
                    "check its dead rows (VACUUM) and whether a burst of writes landed there; a shorter period keeps partitions small".into()));
            }
        }
        let unanalyzed: Vec<&str> = t
            .partitions
            .iter()
            .filter(|p| p.est_rows != 0 && p.last_analyzed.is_none())
            .map(|p| p.name.as_str())
            .collect();
        if let Some(first) = unanalyzed.first() {
            out.push(tip("never_analyzed", Some(table), format!(
                "{} partition(s) of {table} were never analyzed (e.g. {first}): the planner guesses their row counts",
                unanalyzed.len()),
                "run `manage-partitions.sh maintenance` (it analyzes them) or ANALYZE them by hand".into()));
        }
        if !t.detached.is_empty() || t.partitions.iter().any(|p| p.detach_pending) {
            out.push(tip("interrupted_cleanup", Some(table), format!(
                "an earlier cleanup of {table} was interrupted (detach pending or detached tables left over)"),
                "run `manage-partitions.sh cleanup --force` to finish it".into()));
        }
    }
    for s in &perf.tables {
        let Ok(table) = ManagedTable::parse(&s.table) else {
            continue;
        };
        if s.seq_tup_read >= SEQ_SCAN_MIN_ROWS && s.seq_scan > s.idx_scan {
            out.push(tip(
                "seq_scans",
                Some(table),
                format!(
                    "{} of {} scans on {table} were sequential ({} rows read that way)",
                    s.seq_scan,
                    s.seq_scan + s.idx_scan,
                    s.seq_tup_read
                ),
                format!(
                    "make sure queries filter on {} (the partition key) and on an indexed column",
                    table.partition_column()
                ),
            ));
        }
        if s.dead_ratio().is_some_and(|r| r > 0.2) && s.dead_rows > 1_000 {
            out.push(tip("dead_rows", Some(table), format!(
                "{} dead rows on {table} ({:.0}% of its rows)", s.dead_rows,
                s.dead_ratio().unwrap_or(0.0) * 100.0),
                "autovacuum is behind: lower autovacuum_vacuum_scale_factor for this table or VACUUM it".into()));
        }
        let reads = s.heap_blks_read + s.idx_blks_read;
        if reads > 10_000 && s.cache_hit_ratio().is_some_and(|r| r < 0.9) {
            out.push(tip(
                "cache_hits",
                Some(table),
                format!(
                    "only {:.0}% of {table}'s block reads come from shared buffers",
                    s.cache_hit_ratio().unwrap_or(0.0) * 100.0
                ),
                "queries touch too many partitions or shared_buffers is small for the working set"
                    .into(),
            ));
        }
    }
    for p in &perf.probes {
        let Ok(table) = ManagedTable::parse(&p.table) else {
            continue;
        };
        // One partition of slack: CURRENT_DATE follows the session's TimeZone.
        let unpruned = p
            .partitions_expected
            .is_some_and(|e| p.partitions_scanned > e + 1);
        if p.filters_on_key && p.error.is_none() && unpruned {
            out.push(tip("probe_not_pruned", Some(table), format!(
                "\"{}\" filters on the partition key yet scans {} partitions where {} hold its range",
                p.label, p.partitions_scanned, p.partitions_expected.unwrap_or(0)),
                "check enable_partition_pruning and that the filter compares the key column itself, not an expression of it".into()));
        } else if !p.filters_on_key && p.partitions_total > 1 {
            out.push(tip(
                "query_without_key",
                Some(table),
                format!(
                    "\"{}\" scans {} of {} partitions",
                    p.label, p.partitions_scanned, p.partitions_total
                ),
                format!(
                    "add a range on {} to such queries (the guide's poor-query example)",
                    table.partition_column()
                ),
            ));
        }
    }
    pending_work(plan, &mut out);
    cron(facts, &mut out);
    out
}

fn tip(topic: &'static str, table: Option<ManagedTable>, finding: String, advice: String) -> Tip {
    Tip {
        topic,
        table,
        finding,
        advice,
    }
}

fn settings(f: &ServerFacts, out: &mut Vec<Tip>) {
    if !f.enable_partition_pruning {
        out.push(tip(
            "pruning_off",
            None,
            "enable_partition_pruning is off: every query scans every partition".into(),
            "ALTER SYSTEM SET enable_partition_pruning = on; SELECT pg_reload_conf(); (and ALTER DATABASE/ROLE ... RESET enable_partition_pruning where it was set)".into(),
        ));
    }
    if f.constraint_exclusion == "off" {
        out.push(tip(
            "constraint_exclusion_off",
            None,
            "constraint_exclusion is off".into(),
            "set it back to 'partition' (the default); partition pruning itself does not need it"
                .into(),
        ));
    }
    if f.max_parallel_workers_per_gather == 0 {
        out.push(tip(
            "parallel_off",
            None,
            "max_parallel_workers_per_gather is 0: scans of many partitions run on one core".into(),
            "set it to 2-4 (the guide suggests 4), no more than half the server's cores".into(),
        ));
    }
    if f.server_version_num < 140_000 {
        out.push(tip(
            "old_server",
            None,
            format!(
                "PostgreSQL {} cannot DETACH PARTITION CONCURRENTLY",
                f.server_version_num / 10_000
            ),
            "cleanup detaches with a short ACCESS EXCLUSIVE lock instead; PostgreSQL 14+ avoids it"
                .into(),
        ));
    }
}

fn pending_work(plan: &Plan, out: &mut Vec<Tip>) {
    for table in ManagedTable::ALL {
        let creates = plan
            .actions
            .iter()
            .filter(|a| a.table == table && a.kind.verb() == "create")
            .count();
        if creates > 0 {
            out.push(tip(
                "missing_partitions",
                Some(table),
                format!("{creates} partition(s) of {table} the policy calls for do not exist yet"),
                "run `manage-partitions.sh create` (cron: daily, as in the guide)".into(),
            ));
        }
        let held = plan.held.iter().filter(|h| h.table == table).count();
        if held > 0 {
            out.push(tip("approval_waiting", Some(table), format!(
                "{held} partition(s) of {table} are past retention and need a two-person approval"),
                "file the cleanup request in the console; a DBA and a compliance officer approve it".into()));
        }
        let drops = plan
            .actions
            .iter()
            .filter(|a| a.table == table && matches!(a.kind.verb(), "drop"))
            .count();
        if drops > 0 {
            out.push(tip(
                "retention_not_enforced",
                Some(table),
                format!("{drops} partition(s) of {table} are past retention"),
                "run `manage-partitions.sh cleanup --force` (cron: weekly, as in the guide)".into(),
            ));
        }
    }
}

fn cron(f: &ServerFacts, out: &mut Vec<Tip>) {
    let c = &f.cron;
    if !c.available {
        out.push(tip("pg_cron_missing", None,
            "pg_cron is not installed on this server: nothing creates partitions unless the crontab runs the scripts".into(),
            "install postgresql-NN-cron, set shared_preload_libraries = 'pg_cron' and cron.database_name, or keep the guide's crontab lines".into()));
        return;
    }
    if !c.installed {
        out.push(tip(
            "pg_cron_not_created",
            None,
            "pg_cron is available but not created in this database".into(),
            format!(
                "CREATE EXTENSION pg_cron;{}",
                if c.preloaded {
                    ""
                } else {
                    " (first add pg_cron to shared_preload_libraries and restart)"
                }
            ),
        ));
        return;
    }
    if !c.preloaded {
        out.push(tip(
            "pg_cron_not_preloaded",
            None,
            "pg_cron is created but not in shared_preload_libraries: its jobs never run".into(),
            "add pg_cron to shared_preload_libraries and restart PostgreSQL".into(),
        ));
    }
    let scheduled = |f: &str| c.jobs.iter().any(|j| j.active && j.command.contains(f));
    for (function, name, schedule) in [
        (
            "create_partitions_if_needed",
            "create-partitions",
            "0 1 * * *",
        ),
        ("drop_old_partitions", "drop-old-partitions", "0 2 * * 0"),
    ] {
        if !scheduled(function) {
            out.push(tip(
                "pg_cron_job_missing",
                None,
                format!("no active pg_cron job runs {function}()"),
                format!("SELECT cron.schedule('{name}', '{schedule}', 'SELECT {function}();');"),
            ));
        }
    }
}
