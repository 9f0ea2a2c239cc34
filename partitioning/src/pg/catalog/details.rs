//! Reads beside the snapshot: the details `Detail::Plan` leaves out, for a page of partitions,
//! and the snapshot statement's server-side time for the benchmark.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::sql::{snapshot_sql, NO_JIT_SQL};
use super::{stats_from, Detail};
use crate::table::ManagedTable;

/// What `EXPLAIN (ANALYZE, TIMING OFF)` says a statement cost the server (rows not sent).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerTime {
    pub planning_ms: f64,
    pub execution_ms: f64,
}

impl ServerTime {
    /// Planning and execution: the server's whole part of the statement but sending the rows.
    pub fn total_ms(&self) -> f64 {
        self.planning_ms + self.execution_ms
    }

    /// Reads the "Planning Time: x ms" and "Execution Time: y ms" lines of an EXPLAIN ANALYZE.
    pub fn from_explain(lines: &[String]) -> Option<ServerTime> {
        let find = |label: &str| {
            lines.iter().find_map(|l| {
                l.trim()
                    .strip_prefix(label)?
                    .strip_suffix(" ms")?
                    .parse::<f64>()
                    .ok()
            })
        };
        Some(ServerTime {
            planning_ms: find("Planning Time: ")?,
            execution_ms: find("Execution Time: ")?,
        })
    }
}

/// How long the server takes to plan and run the snapshot statement, rows not sent, as
/// `snapshot_with` runs it (in a transaction with JIT off): the benchmark's server-side figure.
/// `None` if the plan output had no timing lines.
pub async fn snapshot_server_time(
    pool: &PgPool,
    tables: &[ManagedTable],
    detail: Detail,
) -> Result<Option<ServerTime>, sqlx::Error> {
    let tables: Vec<ManagedTable> = if tables.is_empty() {
        ManagedTable::ALL.to_vec()
    } else {
        tables.to_vec()
    };
    let names: Vec<String> = tables.iter().map(|t| t.name().to_string()).collect();
    let now = Utc::now();
    let stats: Vec<String> = tables.iter().map(|t| stats_from(*t, detail, now)).collect();
    let mut conn = pool.begin().await?;
    let pg14 = conn.server_version_num().is_none_or(|v| v >= 140_000);
    sqlx::query(NO_JIT_SQL).execute(&mut *conn).await?;
    let sql = format!(
        "EXPLAIN (ANALYZE, TIMING OFF) {}",
        snapshot_sql(detail, pg14, false)
    );
    let lines: Vec<String> = sqlx::query_scalar(&sql)
        .bind(&names)
        .bind(&stats)
        .fetch_all(&mut *conn)
        .await?;
    conn.commit().await?;
    Ok(ServerTime::from_explain(&lines))
}

/// What `Detail::Plan` leaves out, for a few partitions (a page of the console's table): the
/// estimated size with indexes and TOAST, and the latest (auto)analyze.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Details {
    pub bytes: i64,
    pub last_analyzed: Option<DateTime<Utc>>,
}

/// `Details` of the named tables in `table`'s schema, in the given order; `None` for a name that
/// is no longer there. A few index probes a name: meant for a page, not for thousands.
pub async fn details(
    pool: &PgPool,
    table: ManagedTable,
    names: &[String],
) -> Result<Vec<Option<Details>>, sqlx::Error> {
    let rows: Vec<(Option<i64>, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT ((c.relpages + coalesce(t.relpages, 0) + coalesce((SELECT sum(ic.relpages) \
                  FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid \
                  WHERE x.indrelid = c.oid), 0)) * current_setting('block_size')::bigint)::bigint, \
                greatest(pg_stat_get_last_analyze_time(c.oid), pg_stat_get_last_autoanalyze_time(c.oid)) \
         FROM unnest($1::text[]) WITH ORDINALITY AS u(n, ord) \
         LEFT JOIN pg_class c ON c.relname = u.n::name AND c.relnamespace = \
             coalesce((SELECT relnamespace FROM pg_class WHERE oid = to_regclass(quote_ident($2))), \
                      'public'::regnamespace) \
         LEFT JOIN pg_class t ON t.oid = c.reltoastrelid \
         ORDER BY u.ord",
    )
    .bind(names)
    .bind(table.name())
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(bytes, last_analyzed)| {
            bytes.map(|bytes| Details {
                bytes,
                last_analyzed,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::ServerTime;

    #[test]
    fn server_time_reads_both_lines() {
        let lines: Vec<String> = [
            "Seq Scan on x  (cost=0.00..1.00 rows=1 width=4) (actual rows=1 loops=1)",
            "Planning Time: 1.250 ms",
            "Execution Time: 40.5 ms",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let t = ServerTime::from_explain(&lines).unwrap();
        assert_eq!((t.planning_ms, t.execution_ms), (1.25, 40.5));
        assert_eq!(t.total_ms(), 41.75);
        assert_eq!(ServerTime::from_explain(&lines[..2]), None);
    }
}
