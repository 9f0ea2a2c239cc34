//! What `monitor performance` and `monitor tips` read from the server: per-table access statistics
//! summed over partitions, `EXPLAIN` of a typical query per table (how many partitions it touches),
//! and the server facts the tips judge (settings, pg_cron and its jobs).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::calendar::{bound_literal, midnight, period_containing, Period};
use crate::catalog::CatalogSnapshot;
use crate::table::{quote_ident, ManagedTable};

/// Access statistics of one managed table, summed over its partitions (the default included).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TableStats {
    pub table: String,
    pub partitions: i64,
    pub seq_scan: i64,
    pub seq_tup_read: i64,
    pub idx_scan: i64,
    pub live_rows: i64,
    pub dead_rows: i64,
    pub heap_blks_read: i64,
    pub heap_blks_hit: i64,
    pub idx_blks_read: i64,
    pub idx_blks_hit: i64,
    /// Partitions holding rows that were never analyzed (manually or by autovacuum).
    pub never_analyzed: i64,
}

impl TableStats {
    /// Share of scans that used an index; None before any scan.
    pub fn index_use_ratio(&self) -> Option<f64> {
        ratio(self.idx_scan, self.seq_scan + self.idx_scan)
    }
    /// Share of block reads served from shared buffers (pg_statio); None before any read.
    pub fn cache_hit_ratio(&self) -> Option<f64> {
        let hits = self.heap_blks_hit + self.idx_blks_hit;
        ratio(hits, hits + self.heap_blks_read + self.idx_blks_read)
    }
    /// Dead rows over all rows; None for an empty table.
    pub fn dead_ratio(&self) -> Option<f64> {
        ratio(self.dead_rows, self.live_rows + self.dead_rows)
    }
}

fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// A typical query of one table, planned with `EXPLAIN (FORMAT JSON)` (not run).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryProbe {
    pub table: String,
    /// What the query stands for, e.g. "one month of audit events (the guide's query)".
    pub label: String,
    pub sql: String,
    /// Whether the query filters on the partition key (so pruning should apply).
    pub filters_on_key: bool,
    /// Partitions the plan scans, after plan-time and executor-startup pruning.
    pub partitions_scanned: usize,
    /// Partitions whose range meets the query's key range (from the catalog): what perfect
    /// pruning scans. None for a query without a key filter.
    pub partitions_expected: Option<usize>,
    /// Partitions of the table (the default included).
    pub partitions_total: usize,
    pub error: Option<String>,
}

/// Everything `monitor performance` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Performance {
    pub taken_at: DateTime<Utc>,
    pub tables: Vec<TableStats>,
    pub probes: Vec<QueryProbe>,
}

const STATS_SQL: &str = r#"
SELECT m.name,
       count(i.inhrelid)::bigint,
       coalesce(sum(s.seq_scan), 0)::bigint,
       coalesce(sum(s.seq_tup_read), 0)::bigint,
       coalesce(sum(s.idx_scan), 0)::bigint,
       coalesce(sum(s.n_live_tup), 0)::bigint,
       coalesce(sum(s.n_dead_tup), 0)::bigint,
       coalesce(sum(io.heap_blks_read), 0)::bigint,
       coalesce(sum(io.heap_blks_hit), 0)::bigint,
       coalesce(sum(io.idx_blks_read), 0)::bigint,
       coalesce(sum(io.idx_blks_hit), 0)::bigint,
       count(*) FILTER (WHERE s.n_live_tup > 0 AND s.last_analyze IS NULL
                          AND s.last_autoanalyze IS NULL)::bigint
FROM unnest($1::text[]) WITH ORDINALITY AS m(name, ord)
LEFT JOIN pg_inherits i ON i.inhparent = to_regclass(quote_ident(m.name))
LEFT JOIN pg_stat_user_tables s ON s.relid = i.inhrelid
LEFT JOIN pg_statio_user_tables io ON io.relid = i.inhrelid
GROUP BY m.name, m.ord
ORDER BY m.ord
"#;

type StatsRow = (
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
);

/// Statistics and query probes of `tables` (all four when empty).
pub async fn performance(
    pool: &PgPool,
    snapshot: &CatalogSnapshot,
    tables: &[ManagedTable],
) -> Result<Performance, sqlx::Error> {
    let tables: Vec<ManagedTable> = if tables.is_empty() {
        ManagedTable::ALL.to_vec()
    } else {
        tables.to_vec()
    };
    let names: Vec<String> = tables.iter().map(|t| t.name().to_string()).collect();
    let rows: Vec<StatsRow> = sqlx::query_as(STATS_SQL)
        .bind(&names)
        .fetch_all(pool)
        .await?;
    let stats = rows
        .into_iter()
        .map(|r| TableStats {
            table: r.0,
            partitions: r.1,
            seq_scan: r.2,
            seq_tup_read: r.3,
            idx_scan: r.4,
            live_rows: r.5,
            dead_rows: r.6,
            heap_blks_read: r.7,
            heap_blks_hit: r.8,
            idx_blks_read: r.9,
            idx_blks_hit: r.10,
            never_analyzed: r.11,
        })
        .collect();
    let mut probes = Vec::new();
    for table in &tables {
        let catalog = snapshot.tables.iter().find(|t| t.table == *table);
        let total = catalog
            .map(|t| t.partitions.len() + usize::from(t.default_partition.is_some()))
            .unwrap_or(0);
        for q in typical_queries(*table, snapshot.taken_at) {
            // Partitions meeting [from, to), plus the default and any with an unreadable bound:
            // those can never be pruned by a range.
            let expected = q.key_range.map(|(from, to)| {
                catalog.map_or(0, |t| {
                    t.partitions
                        .iter()
                        .filter(|p| {
                            p.bound
                                .is_none_or(|b| b.upper > from && to.is_none_or(|to| b.lower < to))
                        })
                        .count()
                        + usize::from(t.default_partition.is_some())
                })
            });
            probes.push(probe(pool, *table, q, expected, total).await);
        }
    }
    Ok(Performance {
        taken_at: snapshot.taken_at,
        tables: stats,
        probes,
    })
}

/// One typical query: what it stands for, its SQL, and the key range it filters on.
struct TypicalQuery {
    label: &'static str,
    sql: String,
    key_range: Option<(DateTime<Utc>, Option<DateTime<Utc>>)>,
}

/// The queries the application runs most, per table. The audit pair is the guide's own example of
/// a good (key-filtered) and a poor (no key) query.
fn typical_queries(table: ManagedTable, now: DateTime<Utc>) -> Vec<TypicalQuery> {
    let key = quote_ident(table.partition_column());
    let name = quote_ident(table.name());
    let since = |label, interval: &str, from: DateTime<Utc>| TypicalQuery {
        label,
        sql: format!("SELECT count(*) FROM {name} WHERE {key} >= {interval}"),
        key_range: Some((from, None)),
    };
    match table {
        ManagedTable::AuthAuditLog => {
            let month = period_containing(Period::Month, now.date_naive());
            vec![
                TypicalQuery {
                    label: "one month of login events (the guide's query)",
                    sql: format!(
                        "SELECT * FROM {name} WHERE {key} >= {} AND {key} < {} AND event_type = 'login'",
                        bound_literal(month.lower),
                        bound_literal(month.upper)
                    ),
                    key_range: Some((month.lower, Some(month.upper))),
                },
                TypicalQuery {
                    label: "one user's events without a time filter (the guide's poor query)",
                    sql: format!(
                        "SELECT * FROM {name} WHERE user_id = '00000000-0000-0000-0000-000000000000'"
                    ),
                    key_range: None,
                },
            ]
        }
        // CURRENT_DATE is the session's date: a day of slack is allowed for when it is not UTC's.
        ManagedTable::Sessions => vec![since(
            "sessions of the last 7 days (the guide's query)",
            "CURRENT_DATE - INTERVAL '7 days'",
            midnight(now.date_naive() - chrono::Days::new(7)),
        )],
        ManagedTable::RefreshTokens => vec![since(
            "tokens issued in the last 30 days",
            "now() - interval '30 days'",
            now - chrono::Duration::days(30),
        )],
        ManagedTable::RateLimits => vec![since(
            "rate-limit windows of the last hour",
            "now() - interval '1 hour'",
            now - chrono::Duration::hours(1),
        )],
    }
}

async fn probe(
    pool: &PgPool,
    table: ManagedTable,
    q: TypicalQuery,
    partitions_expected: Option<usize>,
    partitions_total: usize,
) -> QueryProbe {
    let explained: Result<serde_json::Value, sqlx::Error> =
        sqlx::query_scalar(&format!("EXPLAIN (FORMAT JSON) {}", q.sql))
            .fetch_one(pool)
            .await;
    let (partitions_scanned, error) = match explained {
        Ok(plan) => (scanned_partitions(table, &plan), None),
        Err(e) => (0, Some(e.to_string())),
    };
    QueryProbe {
        table: table.name().to_string(),
        label: q.label.to_string(),
        sql: q.sql,
        filters_on_key: q.key_range.is_some(),
        partitions_scanned,
        partitions_expected,
        partitions_total,
        error,
    }
}

/// Distinct relations other than the parent that the plan scans: the partitions left after
/// pruning (EXPLAIN runs executor startup, so initial pruning on `now()` is already applied).
pub fn scanned_partitions(table: ManagedTable, plan: &serde_json::Value) -> usize {
    fn walk(v: &serde_json::Value, parent: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(rel)) = map.get("Relation Name") {
                    if rel != parent && !out.contains(rel) {
                        out.push(rel.clone());
                    }
                }
                map.values().for_each(|c| walk(c, parent, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|c| walk(c, parent, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(plan, table.name(), &mut out);
    out.len()
}

/// pg_cron as this database sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CronState {
    /// The extension's files are installed on the server (`pg_available_extensions`).
    pub available: bool,
    /// `CREATE EXTENSION pg_cron` was run in this database.
    pub installed: bool,
    /// `pg_cron` is in `shared_preload_libraries` (it does nothing otherwise).
    pub preloaded: bool,
    /// Scheduled jobs visible to this role: (name, schedule, command, active).
    pub jobs: Vec<CronJob>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CronJob {
    pub name: Option<String>,
    pub schedule: String,
    pub command: String,
    pub active: bool,
}

/// Server facts the tips judge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerFacts {
    pub server_version_num: i32,
    pub enable_partition_pruning: bool,
    pub constraint_exclusion: String,
    pub max_parallel_workers_per_gather: i32,
    pub max_worker_processes: i32,
    pub cron: CronState,
}

/// Reads settings and pg_cron's state. Jobs are read only when the extension is installed, and a
/// role that may not read `cron.job` simply sees none.
pub async fn server_facts(pool: &PgPool) -> Result<ServerFacts, sqlx::Error> {
    let row: (i32, String, String, i32, i32, String, bool, bool) = sqlx::query_as(
        "SELECT current_setting('server_version_num')::int, \
                current_setting('enable_partition_pruning'), current_setting('constraint_exclusion'), \
                current_setting('max_parallel_workers_per_gather')::int, \
                current_setting('max_worker_processes')::int, \
                current_setting('shared_preload_libraries'), \
                EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_cron'), \
                EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron')",
    )
    .fetch_one(pool)
    .await?;
    let mut cron = CronState {
        available: row.6,
        installed: row.7,
        preloaded: row.5.split(',').any(|l| l.trim() == "pg_cron"),
        jobs: Vec::new(),
    };
    if cron.installed {
        type JobRow = (Option<String>, String, String, bool);
        let jobs: Result<Vec<JobRow>, _> =
            sqlx::query_as("SELECT jobname::text, schedule::text, command::text, active FROM cron.job ORDER BY jobid")
                .fetch_all(pool)
                .await;
        match jobs {
            Ok(jobs) => {
                cron.jobs = jobs
                    .into_iter()
                    .map(|(name, schedule, command, active)| CronJob {
                        name,
                        schedule,
                        command,
                        active,
                    })
                    .collect();
            }
            Err(e) => tracing::debug!(error = %e, "cron.job is not readable by this role"),
        }
    }
    Ok(ServerFacts {
        server_version_num: row.0,
        enable_partition_pruning: row.1 == "on",
        constraint_exclusion: row.2,
        max_parallel_workers_per_gather: row.3,
        max_worker_processes: row.4,
        cron,
    })
}
