//! The swap (one short transaction under `lock_timeout`, retried with backoff) and `--finish`.

use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::PgPool;

use super::{
    backoff, is_lock_timeout, kept_name, load_state, pause_point, prelock, set_lock_timeout,
    shadow_name, sql, OnlineError, OnlineOptions, PausePoint, Phase, STATE_DDL,
};
use crate::table::{quote_ident, ManagedTable};

pub(super) async fn swap(
    pool: &PgPool,
    t: ManagedTable,
    migrate: bool,
    opts: &OnlineOptions,
) -> Result<(u32, u64), OnlineError> {
    let name = t.name();
    let block = sql::swap_block(t, migrate);
    let both = format!(
        "{}, {}",
        quote_ident(name),
        quote_ident(&shadow_name(t, migrate))
    );
    let mut attempt = 0;
    loop {
        attempt += 1;
        let started = Instant::now();
        let mut tx = pool.begin().await?;
        let res: Result<(), sqlx::Error> = async {
            // The state row first: its row lock costs the application nothing.
            sqlx::query("UPDATE online_migration SET phase = 'swapped', updated_at = now() WHERE table_name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            prelock(&mut tx, &both, opts.lock_timeout).await?;
            sqlx::query(&block).persistent(false).execute(&mut *tx).await?;
            if opts.pause_at == Some(PausePoint::Swap) {
                // Renamed under lock, not committed: a kill here must leave the tables as they were.
                pause_point(PausePoint::Swap).await;
            }
            Ok(())
        }
        .await;
        match res {
            Ok(()) => {
                tx.commit().await?;
                return Ok((attempt, started.elapsed().as_millis() as u64));
            }
            Err(e) if is_lock_timeout(&e) && attempt < opts.swap_attempts => {
                drop(tx);
                tracing::info!(table = name, attempt, "swap: lock not granted within lock_timeout; retrying");
                backoff(attempt).await;
            }
            Err(e) if is_lock_timeout(&e) => {
                return Err(OnlineError::Busy(format!(
                    "{name}: the swap's lock was not granted in {attempt} attempts of {} ms (a long transaction holds the table?); the copy stays in sync, run the command again",
                    opts.lock_timeout.as_millis()
                )))
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// What `finish` dropped.
#[derive(Debug, Clone, Serialize)]
pub struct Finished {
    pub kept: String,
    /// Rows of the kept copy verified present in the live table just before the drop (the
    /// audit log's rollback, through migration 014's `rustcare_finish_audit_rollback()`).
    pub rows_verified: Option<i64>,
}

/// After a swap: drops the kept table (and the partition helper), ending the run.
pub async fn finish(
    pool: &PgPool,
    t: ManagedTable,
    migrate: bool,
) -> Result<Finished, OnlineError> {
    sqlx::raw_sql(STATE_DDL).execute(pool).await?;
    let state = load_state(pool, t).await?;
    let kept = kept_name(t, migrate);
    match state {
        Some(s) if s.migrate == migrate && s.phase == Phase::Swapped => {}
        Some(s) if s.migrate == migrate && s.phase == Phase::Finished => {
            return Err(OnlineError::AlreadyDone(format!(
                "{}: already finished; {kept} was dropped",
                t.name()
            )))
        }
        _ => {
            let cmd = if migrate { "migrate" } else { "rollback" };
            return Err(OnlineError::Refused(format!(
                "{}: no {cmd} waiting to be finished; run `{cmd} --table {}` first",
                t.name(),
                t.name()
            )));
        }
    }
    if t == ManagedTable::AuthAuditLog && !migrate {
        return finish_audit_rollback(pool, kept).await;
    }
    let mut tx = pool.begin().await?;
    set_lock_timeout(&mut tx, Duration::from_secs(3)).await?;
    sqlx::query(&format!("DROP TABLE IF EXISTS {}", quote_ident(&kept)))
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!(
        "DROP FUNCTION IF EXISTS {}(timestamptz)",
        quote_ident(&format!("{}_online_partition", t.name()))
    ))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE online_migration SET phase = 'finished', updated_at = now() WHERE table_name = $1",
    )
    .bind(t.name())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Finished {
        kept,
        rows_verified: None,
    })
}

/// The audit log's kept copy holds partitions inside retention, which the drop guard protects:
/// migration 014's function verifies every row is in the live table, records each drop and drops
/// the copy past the guard, in one transaction. Without 014 the guard refuses, and we say why.
async fn finish_audit_rollback(pool: &PgPool, kept: String) -> Result<Finished, OnlineError> {
    let has_014: bool = sqlx::query_scalar(
        "SELECT to_regprocedure('rustcare_finish_audit_rollback()') IS NOT NULL",
    )
    .fetch_one(pool)
    .await?;
    let res: Result<i64, sqlx::Error> = if has_014 {
        sqlx::query_scalar("SELECT rustcare_finish_audit_rollback()")
            .fetch_one(pool)
            .await
    } else {
        sqlx::query(&format!("DROP TABLE {}", quote_ident(&kept)))
            .execute(pool)
            .await
            .map(|_| -1)
    };
    match res {
        Ok(-1) => {
            sqlx::query(
                "UPDATE online_migration SET phase = 'finished', updated_at = now() WHERE table_name = 'auth_audit_log'",
            )
            .execute(pool)
            .await?;
            Ok(Finished {
                kept,
                rows_verified: None,
            })
        }
        Ok(rows) => Ok(Finished {
            kept,
            rows_verified: Some(rows),
        }),
        Err(e) => {
            let Some(db) = e.as_database_error() else {
                return Err(e.into());
            };
            let hint = db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .and_then(|p| p.hint())
                .map(|h| format!(" ({h})"))
                .unwrap_or_default();
            match db.code().as_deref() {
                Some("42501") if !has_014 => Err(OnlineError::Refused(format!(
                    "auth_audit_log: {kept} holds audit partitions inside retention and the drop guard refused: {}; \
                     apply migration 014 (`rustcare-partitions db migrate`) so `rollback --finish` can verify every row \
                     is in auth_audit_log and drop the copy, or keep it",
                    db.message()
                ))),
                Some("42501") | Some("55000") => Err(OnlineError::Refused(format!(
                    "auth_audit_log: {kept} kept, nothing dropped: {}{hint}",
                    db.message()
                ))),
                _ => Err(e.into()),
            }
        }
    }
}
