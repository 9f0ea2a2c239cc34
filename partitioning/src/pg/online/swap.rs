//! The swap (one short transaction under `lock_timeout`, retried with backoff) and `--finish`.

use std::time::{Duration, Instant};

use sqlx::PgPool;

use super::{
    backoff, is_lock_timeout, kept_name, layout, load_state, set_lock_timeout, shadow_name,
    OnlineError, OnlineOptions, Phase, STATE_DDL,
};
use crate::table::{quote_ident, ManagedTable};

pub(super) async fn swap(
    pool: &PgPool,
    t: ManagedTable,
    migrate: bool,
    opts: &OnlineOptions,
) -> Result<(u32, u64), OnlineError> {
    let name = t.name();
    let shadow = shadow_name(t, migrate);
    let kept = kept_name(t, migrate);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let started = Instant::now();
        let mut tx = pool.begin().await?;
        set_lock_timeout(&mut tx, opts.lock_timeout).await?;
        let res: Result<(), sqlx::Error> = async {
            sqlx::query(&format!("LOCK TABLE {}, {} IN ACCESS EXCLUSIVE MODE", quote_ident(name), quote_ident(&shadow)))
                .execute(&mut *tx)
                .await?;
            let capture = quote_ident(&layout::capture_name(t));
            sqlx::query(&format!("DROP TRIGGER IF EXISTS {capture} ON {}", quote_ident(name)))
                .execute(&mut *tx)
                .await?;
            for (rel, from_suffix, to_suffix) in [(name, "", layout::OLD), (shadow.as_str(), layout::NEW, "")] {
                let indexes: Vec<String> = sqlx::query_scalar(
                    "SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                     WHERE i.indrelid = to_regclass(quote_ident($1))",
                )
                .bind(rel)
                .fetch_all(&mut *tx)
                .await?;
                for idx in indexes {
                    let Some(base) = idx.strip_suffix(from_suffix) else { continue };
                    if from_suffix.is_empty() && idx.ends_with(layout::OLD) {
                        continue;
                    }
                    let new_name: String = format!("{base}{to_suffix}").chars().take(63).collect();
                    sqlx::query(&format!("ALTER INDEX {} RENAME TO {}", quote_ident(&idx), quote_ident(&new_name)))
                        .execute(&mut *tx)
                        .await?;
                }
                if from_suffix.is_empty() {
                    sqlx::query(&format!("ALTER TABLE {} RENAME TO {}", quote_ident(name), quote_ident(&kept)))
                        .execute(&mut *tx)
                        .await?;
                }
            }
            sqlx::query(&format!("ALTER TABLE {} RENAME TO {}", quote_ident(&shadow), quote_ident(name)))
                .execute(&mut *tx)
                .await?;
            sqlx::query(&format!("DROP FUNCTION IF EXISTS {capture}()")).execute(&mut *tx).await?;
            sqlx::query("UPDATE online_migration SET phase = 'swapped', updated_at = now() WHERE table_name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
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

/// After a swap: drops the kept table (and the partition helper), ending the run.
pub async fn finish(pool: &PgPool, t: ManagedTable, migrate: bool) -> Result<String, OnlineError> {
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
    Ok(kept)
}
