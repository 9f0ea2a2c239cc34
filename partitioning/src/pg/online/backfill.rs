//! Backfill: copies the live table's rows into the shadow in short batches, each batch walking an
//! index so it reads only the rows it copies (no sort, whatever the table's size):
//!
//! - **migrate** (live table ordinary): by primary key, `id > cursor ORDER BY id`;
//! - **rollback** (live table partitioned, with no index on the partition key alone): partition by
//!   partition in bound order, within each by its primary-key index (`(id, key)`), the cursor being
//!   the partition's lower bound and the last id copied from it.
//!
//! A row a concurrent update moves behind the cursor (to an earlier id order or partition) is not
//! missed: the capture trigger mirrored that update into the shadow when it committed. A row moved
//! ahead is met again and skipped (`ON CONFLICT DO NOTHING`: the trigger already wrote its current
//! version). The verification then compares both tables period by period.
//!
//! Batch statements are sent unprepared (`persistent(false)`): PostgreSQL plans each with its
//! real cursor value, never a generic plan chosen after five executions.

use std::time::{Duration, Instant};

use sqlx::PgPool;

use super::{
    backoff, is_transient, pause_point, shadow_name, sql, CursorKind, OnlineError, OnlineOptions,
    PausePoint, Progress, State,
};
use crate::table::ManagedTable;

/// The id before every uuid: the start of a partition (or of the table).
pub(super) const FIRST_ID: &str = "00000000-0000-0000-0000-000000000000";

/// Consecutive conflicting attempts of one backfill batch before the run stops with the error.
const MAX_BATCH_CONFLICTS: u32 = 20;

/// The fewest rows a batch is cut down to.
const MIN_BATCH_ROWS: i64 = 100;

/// Batch size, adapted so a batch (the time its rows stay locked, which a writer touching one of
/// them waits) lasts about `target`: halved after a batch over it, grown by a quarter after one
/// under half of it, never above `--batch-rows`. A loaded server gets smaller batches.
struct Sizer {
    rows: i64,
    max: i64,
    target: Duration,
}

impl Sizer {
    fn new(opts: &OnlineOptions) -> Sizer {
        Sizer {
            rows: opts.batch_rows,
            max: opts.batch_rows,
            target: opts.batch_target,
        }
    }

    fn adjust(&mut self, took: Duration) {
        if self.target.is_zero() {
            return;
        }
        if took > self.target {
            self.rows = (self.rows / 2).max(MIN_BATCH_ROWS.min(self.max));
        } else if took < self.target / 2 {
            self.rows = (self.rows + self.rows / 4 + 1).min(self.max);
        }
    }
}

pub(super) async fn backfill(
    pool: &PgPool,
    t: ManagedTable,
    migrate: bool,
    opts: &OnlineOptions,
    state: &mut State,
    progress: Progress<'_>,
) -> Result<(), OnlineError> {
    let want = CursorKind::for_direction(migrate);
    if state.cursor_kind != want {
        // A state written by an older version (cursor on (partition key, id)), or by the other
        // direction: never read with the new meaning. Copying again from the start is safe (rows
        // already in the copy are skipped), only slower.
        tracing::warn!(
            table = t.name(),
            found = state.cursor_kind.as_str(),
            "backfill: the saved cursor is in another format; copying again from the first row \
             (rows already copied are skipped)"
        );
        sqlx::query(
            "UPDATE online_migration SET cursor_kind = $2, cursor_key = '-infinity', cursor_id = $3, \
             updated_at = now() WHERE table_name = $1",
        )
        .bind(t.name())
        .bind(want.as_str())
        .bind(FIRST_ID)
        .execute(pool)
        .await?;
        state.cursor_kind = want;
        state.cursor_key = "-infinity".to_string();
        state.cursor_id = FIRST_ID.to_string();
    }
    let estimate: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint FROM pg_partition_tree(to_regclass(quote_ident($1))) r \
         JOIN pg_class c ON c.oid = r.relid",
    )
    .bind(t.name())
    .fetch_one(pool)
    .await?;
    let columns: String = sqlx::query_scalar(
        "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute \
         WHERE attrelid = to_regclass(quote_ident($1)) AND attnum > 0 AND NOT attisdropped",
    )
    .bind(t.name())
    .fetch_one(pool)
    .await?;
    let shadow = shadow_name(t, migrate);
    let mut sizer = Sizer::new(opts);
    if migrate {
        let batch = sql::backfill_batch(&crate::table::quote_ident(t.name()), &shadow, &columns);
        let key = state.cursor_key.clone();
        return copy_source(
            pool, t, opts, &mut sizer, state, progress, estimate, &batch, &key,
        )
        .await;
    }
    // Partitions in bound order from the cursor's on (the default partition last); partitions
    // made after this list hold only rows the trigger mirrored.
    let parts: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT p.rel, p.lower::text, p.lower = $2::timestamptz FROM (
             SELECT c.oid::regclass::text AS rel,
                    CASE WHEN b.expr = 'DEFAULT' THEN 'infinity'::timestamptz
                         WHEN b.expr LIKE 'FOR VALUES FROM (MINVALUE)%' THEN '-infinity'::timestamptz
                         ELSE (regexp_match(b.expr, 'FROM \\(''([^'']*)''\\)'))[1]::timestamptz END AS lower
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid,
                  LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS expr) b
             WHERE i.inhparent = to_regclass(quote_ident($1))) p
         WHERE p.lower >= $2::timestamptz ORDER BY p.lower",
    )
    .bind(t.name())
    .bind(state.cursor_key.clone())
    .fetch_all(pool)
    .await?;
    for (rel, lower, current) in parts {
        if !current {
            state.cursor_key = lower.clone();
            state.cursor_id = FIRST_ID.to_string();
        }
        // `rel` is regclass output: already quoted (and schema-qualified where needed).
        let batch = sql::backfill_batch(&rel, &shadow, &columns);
        copy_source(
            pool, t, opts, &mut sizer, state, progress, estimate, &batch, &lower,
        )
        .await?;
    }
    Ok(())
}

/// Copies one source (the table, or one partition) batch by batch from `state.cursor_id` on;
/// each committed batch saves (`key`, last id) as the cursor.
#[allow(clippy::too_many_arguments)]
async fn copy_source(
    pool: &PgPool,
    t: ManagedTable,
    opts: &OnlineOptions,
    sizer: &mut Sizer,
    state: &mut State,
    progress: Progress<'_>,
    estimate: i64,
    batch: &str,
    key: &str,
) -> Result<(), OnlineError> {
    let mut conflicts = 0u32;
    loop {
        let pause = opts.pause_at == Some(PausePoint::Batch) && state.rows_copied > 0;
        let rows = sizer.rows;
        let started = Instant::now();
        let step = backfill_step(pool, t, batch, key, state, rows, pause).await;
        sizer.adjust(started.elapsed());
        let (read, inserted, last) = match step {
            Ok(r) => {
                conflicts = 0;
                r
            }
            // A concurrent write moved a row of this batch to another partition (or a deadlock):
            // PostgreSQL asks for the transaction to be retried. The batch rolled back whole, the
            // cursor did not move, and the capture trigger already mirrored the moved row.
            Err(e) if is_transient(&e) && conflicts < MAX_BATCH_CONFLICTS => {
                conflicts += 1;
                tracing::info!(table = t.name(), conflicts, error = %e, "backfill: batch conflicted with a concurrent write; retrying");
                backoff(conflicts).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let Some(last) = last else {
            return Ok(());
        };
        state.cursor_key = key.to_string();
        state.cursor_id = last;
        state.rows_copied += inserted;
        progress(state.rows_copied, estimate.max(state.rows_copied));
        if read < rows {
            return Ok(());
        }
        if !opts.pause.is_zero() {
            tokio::time::sleep(opts.pause).await;
        }
    }
}

/// One batch and the cursor's advance (`sql::backfill_batch`): (rows read, rows inserted, last
/// id). Sent as one autocommit statement; only the test pause point opens a transaction around
/// it, to hold a batch's locks uncommitted while the process is killed.
async fn backfill_step(
    pool: &PgPool,
    t: ManagedTable,
    batch: &str,
    key: &str,
    state: &State,
    batch_rows: i64,
    pause: bool,
) -> Result<(i64, i64, Option<String>), sqlx::Error> {
    let query = sqlx::query_as(batch)
        .persistent(false)
        .bind(state.cursor_id.clone())
        .bind(batch_rows)
        .bind(t.name())
        .bind(key.to_string());
    if !pause {
        return query.fetch_one(pool).await;
    }
    let mut tx = pool.begin().await?;
    let row = query.fetch_one(&mut *tx).await?;
    // Rows locked, nothing committed: a kill here must lose nothing.
    pause_point(PausePoint::Batch).await;
    tx.commit().await?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizer(max: i64, target_ms: u64) -> Sizer {
        Sizer::new(&OnlineOptions {
            batch_rows: max,
            batch_target: Duration::from_millis(target_ms),
            ..OnlineOptions::default()
        })
    }

    #[test]
    fn a_batch_over_its_target_halves_the_next_down_to_the_floor() {
        let mut s = sizer(1_000, 25);
        s.adjust(Duration::from_millis(60));
        assert_eq!(s.rows, 500);
        for _ in 0..10 {
            s.adjust(Duration::from_millis(60));
        }
        assert_eq!(s.rows, MIN_BATCH_ROWS);
        // Within [target/2, target]: kept.
        s.adjust(Duration::from_millis(20));
        assert_eq!(s.rows, MIN_BATCH_ROWS);
    }

    #[test]
    fn a_quick_batch_grows_the_next_up_to_batch_rows() {
        let mut s = sizer(1_000, 25);
        s.adjust(Duration::from_millis(60));
        s.adjust(Duration::from_millis(5));
        assert_eq!(s.rows, 626);
        for _ in 0..10 {
            s.adjust(Duration::from_millis(5));
        }
        assert_eq!(s.rows, 1_000);
        // A --batch-rows under the floor is kept as given.
        let mut small = sizer(10, 25);
        small.adjust(Duration::from_millis(60));
        assert_eq!(small.rows, 10);
    }

    #[test]
    fn a_zero_target_keeps_batch_rows_fixed() {
        let mut s = sizer(1_000, 0);
        s.adjust(Duration::from_secs(5));
        assert_eq!(s.rows, 1_000);
    }
}
