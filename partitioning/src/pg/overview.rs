//! The home page's summary of the four managed tables, read from the live catalog in one query.

use sqlx::PgPool;

use crate::overview::TableOverview;

/// One row per managed table, in the guide's order; a table that does not exist yet shows zeros.
/// Bounds are read from `pg_get_expr(relpartbound)` and cast to timestamptz, so the session
/// TimeZone cannot shift them.
const OVERVIEW_SQL: &str = r#"
WITH managed(table_name, ord) AS (
    VALUES ('auth_audit_log', 1), ('sessions', 2), ('refresh_tokens', 3), ('rate_limits', 4)
), parts AS (
    SELECT m.table_name, c.oid, c.reltuples, pg_get_expr(c.relpartbound, c.oid) AS expr
    FROM managed m
    JOIN pg_inherits i ON i.inhparent = to_regclass(quote_ident(m.table_name))
    JOIN pg_class c ON c.oid = i.inhrelid
)
SELECT m.table_name,
       to_regclass(quote_ident(m.table_name)) IS NOT NULL AS present,
       count(p.oid) FILTER (WHERE p.expr <> 'DEFAULT') AS partitions,
       coalesce(sum(pg_total_relation_size(p.oid)), 0)::bigint AS total_bytes,
       coalesce(sum(greatest(p.reltuples, 0)), 0)::bigint AS est_rows,
       min(substring(p.expr FROM 'FROM \(''([^'']+)''\)')::timestamptz) AS oldest_bound,
       max(substring(p.expr FROM 'TO \(''([^'']+)''\)')::timestamptz) AS newest_bound,
       coalesce(bool_or(p.expr = 'DEFAULT'), false) AS has_default
FROM managed m
LEFT JOIN parts p USING (table_name)
GROUP BY m.table_name, m.ord
ORDER BY m.ord
"#;

/// Reads the overview of the four managed tables.
pub async fn fetch(pool: &PgPool) -> Result<Vec<TableOverview>, sqlx::Error> {
    type Row = (
        String,
        bool,
        i64,
        i64,
        i64,
        Option<chrono::DateTime<chrono::Utc>>,
        Option<chrono::DateTime<chrono::Utc>>,
        bool,
    );
    let rows: Vec<Row> = sqlx::query_as(OVERVIEW_SQL).fetch_all(pool).await?;
    Ok(rows
        .into_iter()
        .map(
            |(table, present, partitions, total_bytes, est_rows, oldest, newest, has_default)| {
                TableOverview {
                    table,
                    present,
                    partitions,
                    total_bytes,
                    est_rows,
                    oldest_bound: oldest,
                    newest_bound: newest,
                    has_default,
                }
            },
        )
        .collect())
}
