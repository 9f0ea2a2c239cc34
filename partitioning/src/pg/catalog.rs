//! Catalog introspection: one round trip reads every partition of the managed tables into a
//! `CatalogSnapshot` (estimated sizes from relpages; exact sizes on demand), and the server
//! settings the health checks judge.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::calendar::parse_partition_expr;
use crate::catalog::{CatalogSnapshot, PartitionInfo, TableCatalog};
use crate::health::ServerSettings;
use crate::table::ManagedTable;

/// Every partition of every managed table (attached or detach-pending), plus tables named like our
/// partitions that are attached to nothing (left behind by a run killed between DETACH and DROP).
/// `inhdetachpending` is read through `to_jsonb` so the query also runs on PostgreSQL 13, which
/// lacks the column. Sizes: relpages of the heap, its indexes and TOAST, times the block size.
///
/// Shaped for 10,000 partitions: bounds are deparsed with `pg_get_expr(relpartbound, 0)` (a bound
/// has no column references, and passing the relation would open and lock every partition: 10x
/// slower), index pages are summed in one grouped pass, statistics come from the
/// `pg_stat_get_*` functions rather than the `pg_stat_user_tables` view over every table, and
/// leftovers are found through the `pg_class` name index (a name range), not a regex over the
/// whole catalog. The session TimeZone is UTC (sqlx sets it), so bounds print with `+00`.
const SNAPSHOT_SQL: &str = r#"
WITH managed AS (
    SELECT m.name, m.ord, to_regclass(quote_ident(m.name)) AS parent
    FROM unnest($1::text[]) WITH ORDINALITY AS m(name, ord)
), attached AS (
    SELECT m.name AS table_name, i.inhrelid AS oid,
           coalesce((to_jsonb(i) ->> 'inhdetachpending')::boolean, false) AS detach_pending
    FROM managed m
    JOIN pg_inherits i ON i.inhparent = m.parent
), leftovers AS (
    SELECT m.name AS table_name, c.oid, false AS detach_pending
    FROM managed m
    JOIN pg_class c ON c.relname >= (m.name || '_')::name AND c.relname < (m.name || '`')::name
    WHERE c.relkind = 'r'
      AND c.relname ~ ('^' || m.name || '_[0-9]{4}_[0-9]{2}(_[0-9]{2})?$')
      AND c.relnamespace = coalesce((SELECT relnamespace FROM pg_class WHERE oid = m.parent),
                                    'public'::regnamespace)
      AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)
), rels AS (
    SELECT table_name, oid, detach_pending, true AS attached FROM attached
    UNION ALL
    SELECT table_name, oid, detach_pending, false FROM leftovers
), index_pages AS (
    SELECT x.indrelid AS oid, sum(ic.relpages)::bigint AS pages
    FROM rels r
    JOIN pg_index x ON x.indrelid = r.oid
    JOIN pg_class ic ON ic.oid = x.indexrelid
    GROUP BY x.indrelid
), sealed AS (
    SELECT DISTINCT tg.tgrelid AS oid FROM pg_trigger tg WHERE tg.tgname = 'rustcare_sealed'
)
SELECT now() AS taken_at,
       current_setting('server_version_num')::int AS server_version_num,
       m.name,
       coalesce(m.parent::oid, 0)::bigint AS parent_oid,
       coalesce((SELECT relkind = 'p' FROM pg_class WHERE oid = m.parent), false) AS partitioned,
       r.oid::bigint,
       c.relname::text,
       CASE WHEN r.attached THEN coalesce(pg_get_expr(c.relpartbound, 0), '') ELSE '' END AS bound,
       r.detach_pending,
       r.attached,
       greatest(c.reltuples, 0)::bigint AS est_rows,
       ((c.relpages + coalesce(ip.pages, 0) + coalesce(t.relpages, 0))
        * current_setting('block_size')::bigint)::bigint AS bytes,
       ts.spcname::text AS tablespace,
       greatest(pg_stat_get_last_analyze_time(c.oid), pg_stat_get_last_autoanalyze_time(c.oid)) AS last_analyzed,
       (s.oid IS NOT NULL) AS sealed
FROM managed m
LEFT JOIN rels r ON r.table_name = m.name
LEFT JOIN pg_class c ON c.oid = r.oid
LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
LEFT JOIN index_pages ip ON ip.oid = c.oid
LEFT JOIN sealed s ON s.oid = c.oid
LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
ORDER BY m.ord, c.relname
"#;

type SnapshotRow = (
    DateTime<Utc>,
    i32,
    String,
    i64,
    bool,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<bool>,
    Option<bool>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<DateTime<Utc>>,
    Option<bool>,
);

/// Reads the catalog of `tables` (all four when empty) as of `now()` on the server: one statement,
/// so one consistent snapshot and one round trip.
pub async fn snapshot(
    pool: &PgPool,
    tables: &[ManagedTable],
) -> Result<CatalogSnapshot, sqlx::Error> {
    let tables: Vec<ManagedTable> = if tables.is_empty() {
        ManagedTable::ALL.to_vec()
    } else {
        tables.to_vec()
    };
    let names: Vec<String> = tables.iter().map(|t| t.name().to_string()).collect();
    let rows: Vec<SnapshotRow> = sqlx::query_as(SNAPSHOT_SQL)
        .bind(&names)
        .fetch_all(pool)
        .await?;

    // Every managed table yields at least one row (LEFT JOIN), so an empty result means no tables
    // were asked for; the clock then comes from a second, trivial query.
    let (taken_at, server_version_num) = match rows.first() {
        Some(r) => (r.0, r.1),
        None => {
            sqlx::query_as("SELECT now(), current_setting('server_version_num')::int")
                .fetch_one(pool)
                .await?
        }
    };
    let mut out: Vec<TableCatalog> = Vec::new();
    for row in rows {
        let (name, parent_oid, partitioned, oid, relname, bound, pending, attached) =
            (row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9);
        let Some(table) = tables.iter().copied().find(|t| t.name() == name) else {
            continue;
        };
        if out.last().is_none_or(|t| t.table != table) {
            out.push(TableCatalog {
                table,
                oid: u32::try_from(parent_oid).unwrap_or(0),
                is_partitioned: partitioned,
                partitions: Vec::new(),
                default_partition: None,
                detached: Vec::new(),
            });
        }
        let (Some(oid), Some(relname)) = (oid, relname) else {
            continue;
        };
        let raw_bound = bound.unwrap_or_default();
        let is_attached = attached.unwrap_or(true);
        let parsed = if is_attached {
            parse_partition_expr(&raw_bound).ok()
        } else {
            None
        };
        let is_default = raw_bound.trim() == "DEFAULT";
        // A detached leftover has no bound in the catalog: its name is all that says what it held.
        let bound = match parsed {
            Some(b) => b.range(),
            None if !is_attached => crate::calendar::parse_partition_name(table, &relname),
            None => None,
        };
        let info = PartitionInfo {
            oid: u32::try_from(oid).unwrap_or(0),
            name: relname,
            bound,
            raw_bound,
            detach_pending: pending.unwrap_or(false),
            est_rows: row.10.unwrap_or(0),
            bytes: row.11.unwrap_or(0),
            tablespace: row.12,
            last_analyzed: row.13,
            sealed: row.14.unwrap_or(false),
        };
        let Some(entry) = out.last_mut() else {
            continue;
        };
        if !is_attached {
            entry.detached.push(info);
        } else if is_default {
            entry.default_partition = Some(info);
        } else {
            entry.partitions.push(info);
        }
    }
    Ok(CatalogSnapshot {
        taken_at,
        server_version_num,
        tables: out,
    })
}

/// The live settings the health checks judge (the CLI's session sees what the application sees,
/// unless a role or database overrides them: `ALTER ROLE ... SET` is reported as the server's).
pub async fn server_settings(pool: &PgPool) -> Result<ServerSettings, sqlx::Error> {
    let (pruning, exclusion): (String, String) = sqlx::query_as(
        "SELECT current_setting('enable_partition_pruning'), current_setting('constraint_exclusion')",
    )
    .fetch_one(pool)
    .await?;
    Ok(ServerSettings {
        enable_partition_pruning: pruning == "on",
        constraint_exclusion: exclusion,
    })
}

/// Exact on-disk size (`pg_total_relation_size`) of the named partitions, in the given order.
/// Slower than the snapshot's estimate: a stat of every file.
pub async fn exact_sizes(pool: &PgPool, oids: &[u32]) -> Result<Vec<i64>, sqlx::Error> {
    let oids: Vec<i64> = oids.iter().map(|o| i64::from(*o)).collect();
    sqlx::query_scalar(
        "SELECT coalesce(pg_total_relation_size(o::oid), 0)::bigint \
         FROM unnest($1::bigint[]) WITH ORDINALITY AS u(o, ord) ORDER BY ord",
    )
    .bind(&oids)
    .fetch_all(pool)
    .await
}
