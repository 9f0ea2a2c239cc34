//! Online `migrate` (ordinary → partitioned) and `rollback` (partitioned → ordinary) of one live
//! table, while the application keeps writing:
//!
//! 1. **prepare**: a shadow table beside the live one in the target layout (for migrate, with a
//!    partition for every period holding a row and the window ahead), then, in one short
//!    transaction under `lock_timeout`, a trigger mirroring every write of the live table into the
//!    shadow inside the writing transaction, and the state row (`online_migration`).
//! 2. **backfill** in batches read along a primary-key index (migrate: the table's, by id;
//!    rollback: partition by partition in bound order, each by its own), each row locked
//!    `FOR SHARE` while it is copied (so a concurrent update or delete waits for the batch and is
//!    then mirrored), the cursor committed with each batch; throttled by a pause between batches.
//! 3. **verify**: rows and a checksum per period, both tables read in one REPEATABLE READ snapshot
//!    (the trigger keeps them equal in every snapshot).
//! 4. **swap** in one short transaction under `lock_timeout` (one statement while the locks are
//!    held), retried with backoff: the trigger is dropped, the live table and its keys are renamed to the kept name, the shadow takes the
//!    table's name and key names. The kept table stays until `--finish` drops it.
//!
//! Every phase commits with its state, so a run killed anywhere (kill -9) resumes from the state
//! row; a shadow left by a prepare killed before its state was written is empty and is rebuilt.

mod backfill;
mod layout;
mod prepare;
mod sql;
mod swap;
mod verify;

use std::time::Duration;

use serde::Serialize;
use sqlx::PgPool;

use crate::config::Config;
use crate::table::ManagedTable;

pub use layout::{kept_name, shadow_name};
pub use swap::{finish, Finished};

use backfill::backfill;
use prepare::prepare;
use swap::swap;
use verify::verify;

/// What `run` may be told; the defaults suit production.
#[derive(Debug, Clone)]
pub struct OnlineOptions {
    /// Rows per backfill batch (one transaction each), at most.
    pub batch_rows: i64,
    /// How long a batch (its rows locked) should last: the batch size adapts to it; zero keeps
    /// `batch_rows` fixed.
    pub batch_target: Duration,
    /// Pause between batches, to leave the server to the application.
    pub pause: Duration,
    /// How long the swap may wait for its lock before giving up the attempt.
    pub lock_timeout: Duration,
    pub swap_attempts: u32,
    /// Stop after this phase (tests of resuming; the CLI's `RUSTCARE_ONLINE_STOP_AFTER`).
    pub stop_after: Option<Phase>,
    /// Wait at this point until killed (tests of `kill -9`; the CLI's `RUSTCARE_ONLINE_PAUSE_AT`).
    pub pause_at: Option<PausePoint>,
}

impl Default for OnlineOptions {
    fn default() -> Self {
        OnlineOptions {
            batch_rows: 1_000,
            batch_target: Duration::from_millis(25),
            pause: Duration::from_millis(10),
            // Writers queue behind a waiting lock request: the wait they see is this plus the
            // (one round trip) swap, so it stays under the 100 ms the application can bear.
            lock_timeout: Duration::from_millis(50),
            swap_attempts: 60,
            stop_after: None,
            pause_at: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Prepared,
    Backfilled,
    Verified,
    Swapped,
    Finished,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Prepared => "prepared",
            Phase::Backfilled => "backfilled",
            Phase::Verified => "verified",
            Phase::Swapped => "swapped",
            Phase::Finished => "finished",
        }
    }

    pub fn parse(s: &str) -> Option<Phase> {
        [
            Phase::Prepared,
            Phase::Backfilled,
            Phase::Verified,
            Phase::Swapped,
            Phase::Finished,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// Where a run can be told to wait until it is killed: a test hook for `kill -9` at a point that
/// is otherwise too brief to hit (never set in production).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PausePoint {
    /// Prepare: the shadow committed, no capture trigger nor state row yet.
    Shadow,
    /// Inside a backfill batch (not the first), its rows locked and copied, not committed.
    Batch,
    /// Inside the verification snapshot, after reading the live table.
    Verify,
    /// Inside the swap transaction, the tables renamed under lock, not committed.
    Swap,
}

impl PausePoint {
    pub fn as_str(self) -> &'static str {
        match self {
            PausePoint::Shadow => "shadow",
            PausePoint::Batch => "batch",
            PausePoint::Verify => "verify",
            PausePoint::Swap => "swap",
        }
    }

    pub fn parse(s: &str) -> Option<PausePoint> {
        [
            PausePoint::Shadow,
            PausePoint::Batch,
            PausePoint::Verify,
            PausePoint::Swap,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// Logs that the run waits at `p`, then waits (ten minutes) for the kill the test sends.
async fn pause_point(p: PausePoint) {
    tracing::warn!(
        point = p.as_str(),
        "online: paused at {} (RUSTCARE_ONLINE_PAUSE_AT); waiting to be killed",
        p.as_str()
    );
    tokio::time::sleep(Duration::from_secs(600)).await;
}

#[derive(Debug, thiserror::Error)]
pub enum OnlineError {
    /// Nothing to do: the table is already in the target layout.
    #[error("{0}")]
    AlreadyDone(String),
    /// Refused before anything changed (or at a safe point), with what to do.
    #[error("{0}")]
    Refused(String),
    /// Another run holds the table, or the swap's lock never came.
    #[error("{0}")]
    Busy(String),
    #[error("verification failed, nothing was swapped: {0}")]
    Verify(String),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct OnlineReport {
    pub table: ManagedTable,
    pub direction: &'static str,
    pub phase: Phase,
    pub rows_copied: i64,
    pub periods_verified: usize,
    pub rows_verified: i64,
    pub swap_attempts: u32,
    /// How long the successful swap transaction held (and waited for) its locks, in ms.
    pub swap_ms: u64,
    pub kept_name: String,
}

/// Progress of the backfill: (rows done, rows estimated).
pub type Progress<'a> = &'a (dyn Fn(i64, i64) + Send + Sync);

const STATE_DDL: &str = include_str!("online/state.sql");

type StateRow = (String, String, String, String, String, i64);

/// What the saved backfill cursor means (`online_migration.cursor_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CursorKind {
    /// Migrate: `cursor_id` is the last id copied, in primary-key order.
    Id,
    /// Rollback: `cursor_key` is the lower bound of the partition being copied, `cursor_id` the
    /// last id copied from it.
    PartitionId,
    /// Written by an older version (the last (partition key, id) pair), or unknown: not resumed
    /// from, the backfill starts again.
    Other,
}

impl CursorKind {
    fn for_direction(migrate: bool) -> CursorKind {
        if migrate {
            CursorKind::Id
        } else {
            CursorKind::PartitionId
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            CursorKind::Id => "id",
            CursorKind::PartitionId => "partition_id",
            CursorKind::Other => "other",
        }
    }

    fn parse(s: &str) -> CursorKind {
        match s {
            "id" => CursorKind::Id,
            "partition_id" => CursorKind::PartitionId,
            _ => CursorKind::Other,
        }
    }
}

struct State {
    migrate: bool,
    phase: Phase,
    cursor_kind: CursorKind,
    /// A timestamptz as PostgreSQL prints it ('-infinity' at the start); sent back as text.
    cursor_key: String,
    cursor_id: String,
    rows_copied: i64,
}

/// Runs (or resumes) the conversion of `t` up to the swap, or to `opts.stop_after`.
pub async fn run(
    pool: &PgPool,
    config: &Config,
    t: ManagedTable,
    migrate: bool,
    opts: &OnlineOptions,
    progress: Progress<'_>,
) -> Result<OnlineReport, OnlineError> {
    sqlx::raw_sql(STATE_DDL).execute(pool).await?;
    // The table's maintenance lock, for the whole run: cron, the scheduler and the CLI skip it.
    let mut lock = pool.acquire().await?;
    let locked: bool = sqlx::query_scalar(
        "SELECT pg_try_advisory_lock(hashtextextended('rustcare_partitions:' || $1, 0))",
    )
    .bind(t.name())
    .fetch_one(&mut *lock)
    .await?;
    if !locked {
        return Err(OnlineError::Busy(format!(
            "{t}: another maintenance run holds the table; try again when it is done",
            t = t.name()
        )));
    }
    let result = drive(pool, config, t, migrate, opts, progress).await;
    let _ =
        sqlx::query("SELECT pg_advisory_unlock(hashtextextended('rustcare_partitions:' || $1, 0))")
            .bind(t.name())
            .execute(&mut *lock)
            .await;
    result
}

async fn drive(
    pool: &PgPool,
    config: &Config,
    t: ManagedTable,
    migrate: bool,
    opts: &OnlineOptions,
    progress: Progress<'_>,
) -> Result<OnlineReport, OnlineError> {
    let mut report = OnlineReport {
        table: t,
        direction: if migrate { "migrate" } else { "rollback" },
        phase: Phase::Prepared,
        rows_copied: 0,
        periods_verified: 0,
        rows_verified: 0,
        swap_attempts: 0,
        swap_ms: 0,
        kept_name: kept_name(t, migrate),
    };
    let mut state = match load_state(pool, t).await? {
        Some(s) if s.phase != Phase::Finished => {
            if s.migrate != migrate {
                let (other, cmd) = if s.migrate {
                    ("migrate", "migrate")
                } else {
                    ("rollback", "rollback")
                };
                let how = if s.phase == Phase::Swapped {
                    format!(
                        "`{cmd} --finish --table {t}` (drops {})",
                        kept_name(t, s.migrate),
                        t = t.name()
                    )
                } else {
                    format!("`{cmd} --table {t}`", t = t.name())
                };
                return Err(OnlineError::Refused(format!(
                    "{t}: a {other} is in progress (phase {}); finish it first with {how}",
                    s.phase.as_str(),
                    t = t.name()
                )));
            }
            if s.phase == Phase::Swapped {
                let (layout, cmd) = if migrate {
                    ("partitioned", "migrate")
                } else {
                    ("an ordinary table", "rollback")
                };
                return Err(OnlineError::AlreadyDone(format!(
                    "{t} is already {layout}: nothing to do ({kept} is kept until `{cmd} --finish --table {t}`)",
                    t = t.name(),
                    kept = kept_name(t, migrate)
                )));
            }
            s
        }
        _ => {
            prepare(pool, config, t, migrate, opts).await?;
            load_state(pool, t).await?.ok_or_else(|| {
                OnlineError::Refused(format!(
                    "{}: the state row vanished after prepare",
                    t.name()
                ))
            })?
        }
    };
    let stop = |p: Phase| opts.stop_after == Some(p);
    if state.phase == Phase::Prepared {
        if stop(Phase::Prepared) {
            return Ok(done(report, &state));
        }
        if migrate {
            // Rows written between the partitions and the trigger (or a period a row was moved
            // into then) have their partition made now; from the trigger on, it makes them.
            sqlx::query(&sql::create_partitions(t, config.policy(t).ahead))
                .execute(pool)
                .await?;
        }
        backfill(pool, t, migrate, opts, &mut state, progress).await?;
        set_phase(pool, t, Phase::Backfilled).await?;
        state.phase = Phase::Backfilled;
    }
    report.rows_copied = state.rows_copied;
    if state.phase == Phase::Backfilled {
        if stop(Phase::Backfilled) {
            return Ok(done(report, &state));
        }
        let (periods, rows) = verify(pool, t, migrate, opts).await?;
        report.periods_verified = periods;
        report.rows_verified = rows;
        set_phase(pool, t, Phase::Verified).await?;
        state.phase = Phase::Verified;
    }
    if state.phase == Phase::Verified {
        if stop(Phase::Verified) {
            return Ok(done(report, &state));
        }
        let (attempts, ms) = swap(pool, t, migrate, opts).await?;
        report.swap_attempts = attempts;
        report.swap_ms = ms;
        state.phase = Phase::Swapped;
    }
    Ok(done(report, &state))
}

fn done(mut report: OnlineReport, state: &State) -> OnlineReport {
    report.phase = state.phase;
    report.rows_copied = state.rows_copied;
    report
}

async fn load_state(pool: &PgPool, t: ManagedTable) -> Result<Option<State>, OnlineError> {
    let row: Option<StateRow> = sqlx::query_as(
        "SELECT direction, phase, cursor_kind, cursor_key::text, cursor_id, rows_copied \
         FROM online_migration WHERE table_name = $1",
    )
    .bind(t.name())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(
        |(dir, phase, kind, cursor_key, cursor_id, rows_copied)| State {
            migrate: dir == "migrate",
            phase: Phase::parse(&phase).unwrap_or(Phase::Prepared),
            cursor_kind: CursorKind::parse(&kind),
            cursor_key,
            cursor_id,
            rows_copied,
        },
    ))
}

async fn set_phase(pool: &PgPool, t: ManagedTable, phase: Phase) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE online_migration SET phase = $2, updated_at = now() WHERE table_name = $1")
        .bind(t.name())
        .bind(phase.as_str())
        .execute(pool)
        .await
        .map(|_| ())
}

/// `relkind` of a relation by name: 'r', 'p', or None.
async fn relkind(pool: &PgPool, name: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT c.relkind::text FROM pg_class c WHERE c.oid = to_regclass(quote_ident($1))",
    )
    .bind(name)
    .fetch_optional(pool)
    .await
    .map(Option::flatten)
}

/// How long the SHARE UPDATE EXCLUSIVE pre-lock (`prelock`) may wait: it blocks no read or write,
/// and PostgreSQL cancels an autovacuum that blocks it after `deadlock_timeout` (1 s by default).
const PRELOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// Takes SHARE UPDATE EXCLUSIVE on `tables` (quoted, comma-separated; partitions included) in
/// `tx`, then sets `lock_timeout` to `then` for the step that needs the stronger lock.
///
/// Autovacuum and ANALYZE hold SHARE UPDATE EXCLUSIVE on a table or partition for seconds. A step
/// that asks for a stronger lock while one runs waits out its whole `lock_timeout`, and when the
/// step recurses into partitions it may already hold the strong lock on the parent while it
/// waits, stalling every write (a 780 ms write at the swap of a 1M-row migrate came from that).
/// This lock conflicts with neither reads nor writes, so taking it first makes the strong step
/// wait only for statements in flight.
async fn prelock(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    tables: &str,
    then: Duration,
) -> Result<(), sqlx::Error> {
    set_lock_timeout(tx, PRELOCK_TIMEOUT).await?;
    sqlx::query(&format!(
        "LOCK TABLE {tables} IN SHARE UPDATE EXCLUSIVE MODE"
    ))
    .execute(&mut **tx)
    .await?;
    set_lock_timeout(tx, then).await
}

async fn set_lock_timeout(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    d: Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "SET LOCAL lock_timeout = '{}ms'",
        d.as_millis().max(1)
    ))
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

fn is_lock_timeout(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "55P03")
}

/// A serialization failure (e.g. a row locked by the batch was moved to another partition by a
/// concurrent update) or a deadlock: the transaction rolled back and may simply be run again.
fn is_transient(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "40001" || c == "40P01")
}

async fn backoff(attempt: u32) {
    let ms = (20u64 << attempt.min(5)).min(1_000);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}
