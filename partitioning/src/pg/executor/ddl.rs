//! The DDL of each action, each step idempotent: it reads the catalog first and does nothing when
//! its work is already done, which is what lets a killed run be finished by the next one.

use sqlx::pool::PoolConnection;
use sqlx::Postgres;

use super::{parent, simple, write_log, Outcome};
use crate::calendar::PartitionBound;
use crate::planner::Action;
use crate::table::{quote_ident, ManagedTable};

/// Where a relation named like a partition stands right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Missing,
    /// A plain table attached to nothing (detached, or never attached).
    Standalone,
    /// A partition of `table`; `pending` when a `DETACH ... CONCURRENTLY` was interrupted.
    Attached {
        pending: bool,
    },
    /// A partition of some other table, or not a plain table: never ours to touch.
    Foreign,
}

async fn state(
    conn: &mut PoolConnection<Postgres>,
    table: ManagedTable,
    name: &str,
) -> Result<State, sqlx::Error> {
    // `inhdetachpending` is read through to_jsonb: PostgreSQL 13 lacks the column.
    let row: Option<(String, Option<bool>, Option<bool>)> = sqlx::query_as(
        "SELECT c.relkind::text, i.inhparent = to_regclass($2), \
                coalesce((to_jsonb(i) ->> 'inhdetachpending')::boolean, false) \
         FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid \
         WHERE c.oid = to_regclass($1)",
    )
    .bind(quote_ident(name))
    .bind(quote_ident(table.name()))
    .fetch_optional(&mut **conn)
    .await?;
    Ok(match row {
        None => State::Missing,
        Some((kind, _, _)) if kind != "r" => State::Foreign,
        Some((_, None, _)) => State::Standalone,
        Some((_, Some(true), pending)) => State::Attached {
            pending: pending.unwrap_or(false),
        },
        Some((_, Some(false), _)) => State::Foreign,
    })
}

/// Creates the partition holding `bound` through the SQL function (which logs it).
pub(super) async fn create(
    conn: &mut PoolConnection<Postgres>,
    table: ManagedTable,
    bound: &PartitionBound,
) -> Result<Outcome, sqlx::Error> {
    let created: Option<String> =
        sqlx::query_scalar("SELECT rustcare_create_partition($1, $2::date)")
            .bind(table.name())
            .bind(bound.lower.date_naive())
            .fetch_one(&mut **conn)
            .await?;
    Ok(if created.is_some() {
        Outcome::Done
    } else {
        Outcome::AlreadyDone
    })
}

/// Completes a `DETACH ... CONCURRENTLY` that was interrupted.
pub(super) async fn finalize_detach(
    conn: &mut PoolConnection<Postgres>,
    table: ManagedTable,
    name: &str,
) -> Result<Outcome, sqlx::Error> {
    match state(conn, table, name).await? {
        State::Attached { pending: true } => {
            let sql = format!(
                "ALTER TABLE {} DETACH PARTITION {} FINALIZE",
                parent(table),
                quote_ident(name)
            );
            simple(conn, &sql).await?;
            Ok(Outcome::Done)
        }
        State::Missing | State::Standalone => Ok(Outcome::AlreadyDone),
        State::Attached { pending: false } => Ok(Outcome::Skipped(format!(
            "{name} is attached and no detach is pending: nothing to finalize"
        ))),
        State::Foreign => Ok(foreign(name)),
    }
}

/// Detaches a partition: `CONCURRENTLY` (SHARE UPDATE EXCLUSIVE on the parent) where PostgreSQL
/// allows it, plain (ACCESS EXCLUSIVE, bounded by lock_timeout) where a default partition exists
/// or the server predates 14.
pub(super) async fn detach(
    conn: &mut PoolConnection<Postgres>,
    table: ManagedTable,
    name: &str,
) -> Result<Outcome, sqlx::Error> {
    match state(conn, table, name).await? {
        State::Attached { pending: true } => finalize_detach(conn, table, name).await,
        State::Attached { pending: false } => {
            let (has_default, version): (bool, i32) = sqlx::query_as(
                "SELECT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                                WHERE i.inhparent = to_regclass($1) \
                                  AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'), \
                        current_setting('server_version_num')::int",
            )
            .bind(parent(table))
            .fetch_one(&mut **conn)
            .await?;
            let concurrently = !has_default && version >= 140_000;
            let sql = format!(
                "ALTER TABLE {} DETACH PARTITION {}{}",
                parent(table),
                quote_ident(name),
                if concurrently { " CONCURRENTLY" } else { "" }
            );
            simple(conn, &sql).await?;
            Ok(Outcome::Done)
        }
        State::Missing | State::Standalone => Ok(Outcome::AlreadyDone),
        State::Foreign => Ok(foreign(name)),
    }
}

/// Drops a detached partition, measuring and logging it in the same transaction, so the log row
/// exists exactly when the table is gone. The caller has re-checked the retention guard.
pub(super) async fn drop_detached(
    conn: &mut PoolConnection<Postgres>,
    action: &Action,
    name: &str,
    bound: &PartitionBound,
) -> Result<Outcome, sqlx::Error> {
    match state(conn, action.table, name).await? {
        State::Missing => return Ok(Outcome::AlreadyDone),
        State::Attached { .. } => {
            return Ok(Outcome::Skipped(format!(
                "{name} is still attached to {}; it is dropped only once detached",
                action.table
            )))
        }
        State::Foreign => return Ok(foreign(name)),
        State::Standalone => {}
    }
    let mut tx = sqlx::Connection::begin(&mut **conn).await?;
    let (rows, bytes): (i64, i64) = sqlx::query_as(
        "SELECT greatest(reltuples, 0)::bigint, pg_total_relation_size(oid) FROM pg_class \
         WHERE oid = to_regclass($1)",
    )
    .bind(quote_ident(name))
    .fetch_one(&mut *tx)
    .await?;
    sqlx::raw_sql(&format!("DROP TABLE {}", quote_ident(name)))
        .execute(&mut *tx)
        .await?;
    let detail = format!("{}; bounds {bound}", action.reason);
    write_log(&mut tx, action, "ok", Some(rows), Some(bytes), &detail).await?;
    tx.commit().await?;
    Ok(Outcome::Done)
}

/// Moves rows out of the default partition into proper partitions, in one transaction (a crash
/// leaves everything as it was): detach the default so new partitions attach without scanning it,
/// create the partitions its rows need, move the rows, re-attach the now empty default. The parent
/// is ACCESS EXCLUSIVE locked for the move, within lock_timeout for the start: the default should
/// hold few rows, and health reports it as soon as it holds any.
pub(super) async fn move_default_rows(
    conn: &mut PoolConnection<Postgres>,
    action: &Action,
    default_name: &str,
) -> Result<Outcome, sqlx::Error> {
    let table = action.table;
    match state(conn, table, default_name).await? {
        State::Attached { pending: false } => {}
        State::Missing => return Ok(Outcome::AlreadyDone),
        _ => {
            return Ok(Outcome::Skipped(format!(
                "{default_name} is not the attached default partition of {table}"
            )))
        }
    }
    let parent = parent(table);
    let default = quote_ident(default_name);
    let key = quote_ident(table.partition_column());
    let mut tx = sqlx::Connection::begin(&mut **conn).await?;
    let columns: String = sqlx::query_scalar(
        "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute \
         WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped AND attgenerated = ''",
    )
    .bind(&parent)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::raw_sql(&format!("ALTER TABLE {parent} DETACH PARTITION {default}"))
        .execute(&mut *tx)
        .await?;
    let days: Vec<chrono::NaiveDate> = sqlx::query_scalar(&format!(
        "SELECT DISTINCT ({key} AT TIME ZONE 'UTC')::date FROM {default} ORDER BY 1"
    ))
    .fetch_all(&mut *tx)
    .await?;
    for day in &days {
        sqlx::query("SELECT rustcare_create_partition($1, $2)")
            .bind(table.name())
            .bind(day)
            .execute(&mut *tx)
            .await?;
    }
    let moved = sqlx::raw_sql(&format!(
        "WITH gone AS (DELETE FROM {default} RETURNING {columns}) \
         INSERT INTO {parent} ({columns}) SELECT {columns} FROM gone"
    ))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::raw_sql(&format!(
        "ALTER TABLE {parent} ATTACH PARTITION {default} DEFAULT"
    ))
    .execute(&mut *tx)
    .await?;
    let moved = i64::try_from(moved).unwrap_or(i64::MAX);
    let detail = format!("moved {moved} rows into {} partitions", days.len());
    write_log(&mut tx, action, "ok", Some(moved), None, &detail).await?;
    tx.commit().await?;
    tracing::info!(
        table = table.name(),
        moved,
        "moved rows out of the default partition"
    );
    Ok(Outcome::Done)
}

/// Refreshes a partition's statistics (SHARE UPDATE EXCLUSIVE: reads and writes go on).
pub(super) async fn analyze(
    conn: &mut PoolConnection<Postgres>,
    name: &str,
) -> Result<Outcome, sqlx::Error> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(quote_ident(name))
        .fetch_one(&mut **conn)
        .await?;
    if !exists {
        return Ok(Outcome::Skipped(format!("{name} no longer exists")));
    }
    simple(conn, &format!("ANALYZE {}", quote_ident(name))).await?;
    Ok(Outcome::Done)
}

/// Makes a closed audit partition immutable through the SQL function (trigger + REVOKE).
pub(super) async fn seal(
    conn: &mut PoolConnection<Postgres>,
    name: &str,
) -> Result<Outcome, sqlx::Error> {
    let sealed: Option<bool> = sqlx::query_scalar("SELECT rustcare_seal_partition($1)")
        .bind(name)
        .fetch_one(&mut **conn)
        .await?;
    Ok(if sealed.unwrap_or(false) {
        Outcome::Done
    } else {
        Outcome::AlreadyDone
    })
}

fn foreign(name: &str) -> Outcome {
    Outcome::Skipped(format!(
        "{name} is not a plain table of this managed table; left alone"
    ))
}
