//! Catalog introspection: one round trip reads every partition of the managed tables into a
//! `CatalogSnapshot` (estimated sizes from relpages; exact sizes on demand), and the server
//! settings the health checks judge.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Timelike, Utc};
use sqlx::{PgConnection, PgPool};

use crate::calendar::{
    for_values, parse_partition_expr, parse_partition_name, partition_name, period_containing,
    previous_period, PartitionBound,
};
use crate::catalog::{CatalogSnapshot, PartitionInfo, TableCatalog};
use crate::health::ServerSettings;
use crate::table::ManagedTable;
use node::NodeBound;
use sql::{leftovers_sql, snapshot_sql, DEPARSE_SQL, NO_JIT_SQL};

mod cache;
mod details;
mod node;
mod quick;
mod sql;

pub use cache::SnapshotCache;
pub use details::{details, snapshot_server_time, Details, ServerTime};
pub use quick::{nothing_due, quick_snapshot};

/// How much of each partition a snapshot reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Detail {
    /// Every field of every partition: `bytes` counts heap, indexes and TOAST, `last_analyzed` is
    /// read for all. For health, metrics, tips and the console's sizes.
    #[default]
    Full,
    /// What planning and `status` need, read in a fraction of the time at 10,000 partitions:
    /// `bytes` is the heap alone (`relpages`; no index or TOAST pages), and `last_analyzed` is read
    /// only for partitions named for the current and the two previous periods (the planner's
    /// ANALYZE rule looks at the current and the previous one). Every other field as in `Full`.
    Plan,
}

/// One row of `SNAPSHOT_SQL`, `LEFTOVERS_SQL` or `QUICK_SQL` (they share their columns): a managed
/// table's facts, and one of its partitions or leftovers when it has any (`oid` NULL otherwise).
#[derive(Debug, sqlx::FromRow)]
struct SnapshotRow {
    taken_at: DateTime<Utc>,
    version: i32,
    name: String,
    parent_oid: i64,
    partitioned: bool,
    oid: Option<i64>,
    relname: Option<String>,
    node: Option<String>,
    detach_pending: Option<bool>,
    attached: Option<bool>,
    est_rows: Option<i64>,
    bytes: Option<i64>,
    tablespace: Option<String>,
    last_analyzed: Option<DateTime<Utc>>,
    sealed: Option<bool>,
    /// `SNAPSHOT_SQL` only: row types in the parent's schema shaped like our partitions' names.
    named_count: Option<i64>,
    /// The partition is in its parent's schema.
    in_nsp: Option<bool>,
}

/// The tables whose schema holds more row types shaped like partition names (`named_count`) than
/// attached partitions of that shape: something there (a leftover, usually) is not attached, and
/// `LEFTOVERS_SQL` must look. Mirrors the count's filter: `<table>_` then 7 or 10 more bytes.
fn may_have_leftovers(tables: &[ManagedTable], rows: &[SnapshotRow]) -> Vec<ManagedTable> {
    tables
        .iter()
        .copied()
        .filter(|t| {
            let prefix = format!("{}_", t.name());
            let shaped =
                |n: &str| n.starts_with(&prefix) && [7, 10].contains(&(n.len() - prefix.len()));
            let mut named = 0;
            let mut attached = 0;
            for r in rows.iter().filter(|r| r.name == t.name()) {
                named = named.max(r.named_count.unwrap_or(0));
                let in_nsp = r.in_nsp.unwrap_or(false);
                if in_nsp && r.relname.as_deref().is_some_and(shaped) {
                    attached += 1;
                }
            }
            named > attached
        })
        .collect()
}

/// The name from which `last_analyzed` is read for `table`: everything in `Full`, else the
/// partition of two periods before the current one and later (names sort by date).
fn stats_from(table: ManagedTable, detail: Detail, now: DateTime<Utc>) -> String {
    match detail {
        Detail::Full => String::new(),
        Detail::Plan => {
            let period = table.period();
            let current = period_containing(period, now.date_naive());
            let two_back = previous_period(period, &previous_period(period, &current));
            partition_name(table, &two_back)
        }
    }
}

/// Reads the catalog of `tables` (all four when empty) as of `now()` on the server, every field
/// of every partition (`Detail::Full`).
pub async fn snapshot(
    pool: &PgPool,
    tables: &[ManagedTable],
) -> Result<CatalogSnapshot, sqlx::Error> {
    snapshot_with(pool, tables, Detail::Full).await
}

/// Reads the catalog of `tables` (all four when empty) at the given detail: one statement, so one
/// consistent snapshot and one round trip (a second one only to deparse bounds of partitions the
/// tool did not make: see `SNAPSHOT_SQL`).
pub async fn snapshot_with(
    pool: &PgPool,
    tables: &[ManagedTable],
    detail: Detail,
) -> Result<CatalogSnapshot, sqlx::Error> {
    let mut conn = begin_snapshot(pool).await?;
    let snapshot = snapshot_in(&mut conn, tables, detail).await?;
    conn.commit().await?;
    Ok(snapshot)
}

/// The snapshot of `tables` (all four when empty) at `detail`, read in the caller's transaction
/// begun by `begin_snapshot`, for a caller that reads more in the same snapshot (the compliance
/// report: the catalog and the logs that explain it, as of one moment).
pub(crate) async fn snapshot_in(
    conn: &mut PgConnection,
    tables: &[ManagedTable],
    detail: Detail,
) -> Result<CatalogSnapshot, sqlx::Error> {
    let tables: Vec<ManagedTable> = if tables.is_empty() {
        ManagedTable::ALL.to_vec()
    } else {
        tables.to_vec()
    };
    read_snapshot(conn, &tables, detail, None).await
}

/// A transaction for a snapshot's statements: repeatable read, so that every statement sees the
/// same catalog, with `jit = off` (see `sql::SNAPSHOT_SQL`); read only, and rolled back if
/// anything fails.
pub(crate) async fn begin_snapshot(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut conn = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await?;
    sqlx::query(NO_JIT_SQL).execute(&mut *conn).await?;
    Ok(conn)
}

/// Which partitions a snapshot reads (`read_snapshot`): with `Some((changed, gone))`, only the
/// attached partitions whose oids `changed` lists, and, as leftovers, those of `gone` (oids
/// that left `pg_inherits`) that are still tables named like our partitions.
type Only<'a> = Option<(&'a [i64], &'a [i64])>;

/// The snapshot of `tables` (not empty) at `detail`, read in `conn`'s transaction (see
/// `begin_snapshot`); `only` restricts it (`Only`). Without it, the leftovers' statement runs
/// when the count says there may be some.
async fn read_snapshot(
    conn: &mut PgConnection,
    tables: &[ManagedTable],
    detail: Detail,
    only: Only<'_>,
) -> Result<CatalogSnapshot, sqlx::Error> {
    let names: Vec<String> = tables.iter().map(|t| t.name().to_string()).collect();
    // The client's clock only chooses which rows get statistics; a day of skew is covered by
    // reading one period more than the planner looks at.
    let now = Utc::now();
    let stats: Vec<String> = tables.iter().map(|t| stats_from(*t, detail, now)).collect();
    let pg14 = conn.server_version_num().is_none_or(|v| v >= 140_000);
    let sql = snapshot_sql(detail, pg14, only.is_some());
    let mut query = sqlx::query_as(&sql).bind(&names).bind(&stats);
    if let Some((changed, _)) = only {
        query = query.bind(changed);
    }
    let mut rows: Vec<SnapshotRow> = query.fetch_all(&mut *conn).await?;
    // Leftovers: by name when the count says there may be some; in a patch, among the oids
    // that left `pg_inherits`.
    let (look, gone): (Vec<ManagedTable>, Option<&[i64]>) = match only {
        None => (may_have_leftovers(tables, &rows), None),
        Some((_, gone)) if !gone.is_empty() => (tables.to_vec(), Some(gone)),
        Some(_) => (Vec::new(), None),
    };
    if !look.is_empty() {
        let names: Vec<&str> = look.iter().map(|t| t.name()).collect();
        let stats: Vec<String> = look.iter().map(|t| stats_from(*t, detail, now)).collect();
        let sql = leftovers_sql(gone.is_some());
        let mut query = sqlx::query_as(&sql).bind(&names).bind(&stats);
        if let Some(gone) = gone {
            query = query.bind(gone);
        }
        let leftovers: Vec<SnapshotRow> = query.fetch_all(&mut *conn).await?;
        rows.extend(leftovers);
    }
    assemble(conn, tables, rows).await
}

/// Builds the snapshot of `tables` from the statements' rows (`SnapshotRow`), asking PostgreSQL
/// to deparse the bounds the node reader could not vouch for.
async fn assemble(
    conn: &mut PgConnection,
    tables: &[ManagedTable],
    rows: Vec<SnapshotRow>,
) -> Result<CatalogSnapshot, sqlx::Error> {
    // Every managed table yields at least one row (LEFT JOIN), so an empty result means no tables
    // were asked for; the clock then comes from a second, trivial query.
    let (taken_at, server_version_num) = match rows.first() {
        Some(r) => (r.taken_at, r.version),
        None => {
            sqlx::query_as("SELECT now(), current_setting('server_version_num')::int")
                .fetch_one(&mut *conn)
                .await?
        }
    };
    // One entry per table asked for, in that order; rows arrive in no particular order.
    let mut out: Vec<TableCatalog> = tables
        .iter()
        .map(|t| TableCatalog {
            is_partitioned: false,
            ..TableCatalog::empty(*t, 0)
        })
        .collect();
    // Attached partitions whose bound PostgreSQL must deparse, by oid.
    let mut deparse: Vec<u32> = Vec::new();
    for row in rows {
        let Some(entry) = out.iter_mut().find(|t| t.table.name() == row.name) else {
            continue;
        };
        let table = entry.table;
        entry.oid = u32::try_from(row.parent_oid).unwrap_or(0);
        entry.is_partitioned = row.partitioned;
        let (Some(oid), Some(relname)) = (row.oid, row.relname) else {
            continue;
        };
        let is_attached = row.attached.unwrap_or(true);
        let named = parse_partition_name(table, &relname);
        // A node is believed only when it says exactly what the name says; a detached leftover
        // has no bound in the catalog, and its name is all that says what it held.
        let (bound, raw_bound, is_default, verified) = match row.node.as_deref().map(node::read) {
            _ if !is_attached => (named, String::new(), false, true),
            Some(NodeBound::Default) => (None, "DEFAULT".to_string(), true, true),
            Some(NodeBound::Range(b)) if named == Some(b) => (Some(b), printed(&b), false, true),
            _ => (None, String::new(), false, false),
        };
        let info = PartitionInfo {
            oid: u32::try_from(oid).unwrap_or(0),
            name: relname,
            bound,
            raw_bound,
            detach_pending: row.detach_pending.unwrap_or(false),
            est_rows: row.est_rows.unwrap_or(0),
            bytes: row.bytes.unwrap_or(0),
            tablespace: row.tablespace,
            last_analyzed: row.last_analyzed,
            sealed: row.sealed.unwrap_or(false),
        };
        if !is_attached {
            entry.detached.push(info);
        } else if is_default {
            entry.default_partition = Some(info);
        } else {
            if !verified {
                deparse.push(info.oid);
            }
            entry.partitions.push(info);
        }
    }
    if !deparse.is_empty() {
        deparse_bounds(conn, &mut out, &deparse).await?;
    }
    for t in &mut out {
        t.partitions.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        t.detached.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(CatalogSnapshot {
        taken_at,
        server_version_num,
        tables: out,
    })
}

/// `calendar::for_values(b)` (what PostgreSQL prints with TimeZone UTC), written without chrono's
/// format-string interpretation: it runs for every partition. Whole seconds in years 1000-9999
/// (every bound the tool makes); anything else goes through `for_values`.
fn printed(b: &PartitionBound) -> String {
    fn literal(t: DateTime<Utc>) -> Option<String> {
        let (d, time) = (t.date_naive(), t.time());
        ((1000..=9999).contains(&d.year()) && time.nanosecond() == 0).then(|| {
            format!(
                "'{:04}-{:02}-{:02} {:02}:{:02}:{:02}+00'",
                d.year(),
                d.month(),
                d.day(),
                time.hour(),
                time.minute(),
                time.second()
            )
        })
    }
    match (literal(b.lower), literal(b.upper)) {
        (Some(lower), Some(upper)) => format!("FOR VALUES FROM ({lower}) TO ({upper})"),
        _ => for_values(b),
    }
}

/// Asks PostgreSQL for the bounds the node reader could not vouch for, and parses them as before
/// (`parse_partition_expr`). A partition detached in between keeps no bound: it is then treated as
/// unreadable, which the planner never drops.
async fn deparse_bounds(
    conn: &mut PgConnection,
    out: &mut [TableCatalog],
    deparse: &[u32],
) -> Result<(), sqlx::Error> {
    let oids: Vec<i64> = deparse.iter().map(|o| i64::from(*o)).collect();
    let wanted: HashSet<u32> = deparse.iter().copied().collect();
    let rows: Vec<(i64, Option<String>)> = sqlx::query_as(DEPARSE_SQL)
        .bind(&oids)
        .fetch_all(&mut *conn)
        .await?;
    let by_oid: HashMap<u32, String> = rows
        .into_iter()
        .filter_map(|(o, expr)| Some((u32::try_from(o).ok()?, expr?)))
        .collect();
    for t in out.iter_mut() {
        for info in t.partitions.iter_mut().filter(|p| wanted.contains(&p.oid)) {
            let raw = by_oid.get(&info.oid).cloned().unwrap_or_default();
            info.bound = parse_partition_expr(&raw).ok().and_then(|b| b.range());
            info.raw_bound = raw;
        }
        // A default whose node the reader did not recognise (another server version's format).
        if let Some(i) = t
            .partitions
            .iter()
            .position(|p| p.raw_bound.trim() == "DEFAULT")
        {
            t.default_partition = Some(t.partitions.remove(i));
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn printed_matches_for_values() {
        let t = |y, mo, d, h, mi, s| Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap();
        for b in [
            PartitionBound::new(t(2026, 11, 25, 0, 0, 0), t(2026, 11, 26, 0, 0, 0)),
            PartitionBound::new(t(1999, 12, 1, 0, 0, 0), t(2000, 1, 1, 0, 0, 0)),
            PartitionBound::new(t(2019, 1, 1, 0, 0, 0), t(2019, 1, 1, 12, 30, 5)),
            PartitionBound::new(
                t(2019, 1, 1, 0, 0, 0) + chrono::Duration::milliseconds(250),
                t(2019, 1, 2, 0, 0, 0),
            ),
            PartitionBound::new(t(999, 1, 1, 0, 0, 0), t(999, 1, 2, 0, 0, 0)),
        ] {
            assert_eq!(printed(&b), for_values(&b));
        }
    }
}
