//! The quick check's read (`planner::quick`): a partial snapshot of just the partitions that can
//! make a run do something, in one statement that reads through indexes only what it names.

use sqlx::PgPool;

use super::{assemble, SnapshotRow};
use crate::catalog::CatalogSnapshot;
use crate::config::Config;
use crate::planner::quick::{self, QuickScope};
use crate::planner::PlanOptions;
use chrono::{DateTime, Utc};

/// Per managed table (`$1` names, `$2` `retain_from`), and per (`$3` table, `$4` name) pair, the
/// same columns as `SNAPSHOT_SQL`, for:
/// - the named partitions (the window, the current and the previous periods), by exact name
///   through `pg_class`' name index, in any schema;
/// - every relation named `<table>_<digit>...` sorting before `retain_from` (a range of the same
///   index; normally empty, since what lay there was dropped);
/// - every detach-pending partition, through `pg_inherits`' parent index;
/// - the default partition, from `pg_partitioned_table`.
///
/// Of these, the rows kept are the parent's partitions, and tables attached to nothing, in the
/// parent's schema, named exactly like ours: the leftovers `SNAPSHOT_SQL` finds, by the same rule.
/// `{pending}` as in `SNAPSHOT_SQL`. Cheap enough for the planner's estimate never to reach JIT.
const QUICK_SQL: &str = r#"
WITH managed AS (
    SELECT m.name, m.retain_from, p.oid AS parent, coalesce(p.relkind = 'p', false) AS partitioned,
           coalesce(p.relnamespace, 'public'::regnamespace) AS nsp, now() AS taken_at,
           current_setting('server_version_num')::int AS version,
           current_setting('block_size')::bigint AS block_size
    FROM unnest($1::text[], $2::text[]) AS m(name, retain_from)
    LEFT JOIN pg_class p ON p.oid = to_regclass(quote_ident(m.name))
), wanted AS (
    SELECT m.name AS table_name, c.oid
    FROM unnest($3::text[], $4::text[]) AS w(table_name, relname)
    JOIN managed m ON m.name = w.table_name
    JOIN pg_class c ON c.relname = w.relname::name
    UNION
    SELECT m.name, c.oid
    FROM managed m
    JOIN pg_class c ON c.relname >= (m.name || '_0')::name AND c.relname < m.retain_from::name
    UNION
    SELECT m.name, i.inhrelid
    FROM managed m
    CROSS JOIN LATERAL (
        SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = m.parent AND {pending} OFFSET 0
    ) i
    UNION
    SELECT m.name, pt.partdefid
    FROM managed m
    JOIN pg_partitioned_table pt ON pt.partrelid = m.parent
    WHERE pt.partdefid <> 0
), rels AS (
    SELECT w.table_name, c.oid, c.relname, c.relnamespace, c.relpartbound, c.reltuples, c.relpages,
           c.reltablespace, i.inhrelid IS NOT NULL AS attached,
           coalesce({pending}, false) AS detach_pending
    FROM wanted w
    JOIN managed m ON m.name = w.table_name
    JOIN pg_class c ON c.oid = w.oid
    LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = m.parent
    WHERE c.relkind IN ('r', 'p', 'f')
      AND (i.inhrelid IS NOT NULL
           OR (c.relkind = 'r' AND NOT c.relispartition AND c.relnamespace = m.nsp
               AND c.relname::text ~ ('^' || m.name || '_[0-9]{4}_[0-9]{2}(_[0-9]{2})?$')
               AND NOT EXISTS (SELECT 1 FROM pg_inherits x WHERE x.inhrelid = c.oid)))
)
SELECT m.taken_at,
       m.version,
       m.name,
       coalesce(m.parent, 0)::bigint AS parent_oid,
       m.partitioned,
       r.oid::bigint AS oid,
       r.relname::text AS relname,
       CASE WHEN r.attached THEN r.relpartbound::text END AS node,
       r.detach_pending,
       r.attached,
       greatest(r.reltuples, 0)::bigint AS est_rows,
       (r.relpages * m.block_size)::bigint AS bytes,
       ts.spcname::text AS tablespace,
       greatest(pg_stat_get_last_analyze_time(r.oid), pg_stat_get_last_autoanalyze_time(r.oid))
           AS last_analyzed,
       EXISTS (SELECT 1 FROM pg_trigger tg WHERE tg.tgrelid = r.oid AND tg.tgname = 'rustcare_sealed')
           AS sealed,
       NULL::bigint AS named_count,
       r.relnamespace = m.nsp AS in_nsp
FROM managed m
LEFT JOIN rels r ON r.table_name = m.name
LEFT JOIN pg_tablespace ts ON ts.oid = r.reltablespace
"#;

fn quick_sql(pg14: bool) -> String {
    let pending = if pg14 {
        "i.inhdetachpending"
    } else {
        "(to_jsonb(i) ->> 'inhdetachpending')::boolean"
    };
    QUICK_SQL.replace("{pending}", pending)
}

/// The partial snapshot `scope` names (see `planner::quick`): only for `quick::nothing_due`, never
/// for showing or executing anything (most partitions are not in it).
pub async fn quick_snapshot(
    pool: &PgPool,
    scope: &QuickScope,
) -> Result<CatalogSnapshot, sqlx::Error> {
    let tables: Vec<_> = scope.tables.iter().map(|q| q.table).collect();
    let names: Vec<&str> = tables.iter().map(|t| t.name()).collect();
    let retain_from: Vec<&str> = scope
        .tables
        .iter()
        .map(|q| q.retain_from.as_str())
        .collect();
    let (mut of, mut wanted): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
    for q in &scope.tables {
        for n in &q.names {
            of.push(q.table.name());
            wanted.push(n);
        }
    }
    let mut conn = pool.acquire().await?;
    let pg14 = conn.server_version_num().is_none_or(|v| v >= 140_000);
    let rows: Vec<SnapshotRow> = sqlx::query_as(&quick_sql(pg14))
        .bind(&names)
        .bind(&retain_from)
        .bind(&of)
        .bind(&wanted)
        .fetch_all(&mut *conn)
        .await?;
    assemble(&mut conn, &tables, rows).await
}

/// `Some(the database's now())` when a quick check proves `opts` has nothing to do (see
/// `planner::quick`), `None` when it cannot: then read the full snapshot and plan as usual.
pub async fn nothing_due(
    pool: &PgPool,
    config: &Config,
    opts: &PlanOptions,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let Some(scope) = quick::quick_scope(config, opts, Utc::now()) else {
        return Ok(None);
    };
    let partial = quick_snapshot(pool, &scope).await?;
    Ok(quick::nothing_due(config, opts, &scope, &partial).then_some(partial.taken_at))
}
