//! Creating a run of partitions of one table in one transaction: `rustcare_create_partitions`
//! (migration 013), one advisory lock, one commit and one round trip for up to `BATCH` partitions,
//! each still LIKE + ATTACH (SHARE UPDATE EXCLUSIVE on the parent) and logged by the function.
//!
//! A batch is all or nothing: if it fails for any reason other than a lock timeout (a stray table
//! in the way, a server without migration 013), the executor creates that run one partition at a
//! time instead, so each failure is reported on its own partition and the others are still made.
//! Killed mid-batch, nothing of the batch remains and the next run plans it again.

use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::Postgres;

use super::{is_lock_timeout, ExecOptions, LockBackoff, Outcome};
use crate::planner::{Action, ActionKind};

/// Partitions a batch creates at most. Bounds how long the parent's SHARE UPDATE EXCLUSIVE lock is
/// held in one transaction (about a second at 5,000 partitions on a small machine: it blocks other
/// DDL and ANALYZE of the parent, never reads or writes) and the locks the transaction takes
/// (some eight a partition, well under a default server's lock table).
pub(super) const BATCH: usize = 16;

/// The consecutive `Create` actions starting at `actions[start]`, at most `BATCH`; empty when
/// there are fewer than two (a single create goes the ordinary way).
pub(super) fn run_of_creates<'a>(actions: &[&'a Action], start: usize) -> Vec<&'a Action> {
    let run: Vec<&Action> = actions
        .iter()
        .skip(start)
        .take_while(|a| matches!(a.kind, ActionKind::Create { .. }))
        .take(BATCH)
        .copied()
        .collect();
    if run.len() < 2 {
        Vec::new()
    } else {
        run
    }
}

/// Creates `run` (creates of one table) in one transaction, retrying lock timeouts like a single
/// action. Returns each action's outcome and the batch's time, or `None` when the batch did not
/// commit and the actions must be created one at a time.
pub(super) async fn create_run(
    conn: &mut PoolConnection<Postgres>,
    run: &[&Action],
    opts: &ExecOptions,
) -> Option<(Vec<Outcome>, Duration)> {
    if run.len() < 2 {
        return None;
    }
    let table = run.first()?.table;
    let days: Vec<chrono::NaiveDate> = run
        .iter()
        .filter_map(|a| match &a.kind {
            ActionKind::Create { bound, .. } => Some(bound.lower.date_naive()),
            _ => None,
        })
        .collect();
    if days.len() != run.len() || run.iter().any(|a| a.table != table) {
        return None;
    }
    let started = Instant::now();
    let attempts = opts.attempts.max(1);
    let mut backoff = LockBackoff::default();
    for attempt in 1..=attempts {
        let made: Result<Vec<Option<String>>, sqlx::Error> =
            sqlx::query_scalar("SELECT rustcare_create_partitions($1, $2::date[])")
                .bind(table.name())
                .bind(&days)
                .fetch_one(&mut **conn)
                .await;
        match made {
            Ok(made) if made.len() == run.len() => {
                let outcomes = made
                    .iter()
                    .map(|m| match m {
                        Some(_) => Outcome::Done,
                        None => Outcome::AlreadyDone,
                    })
                    .collect();
                return Some((outcomes, started.elapsed()));
            }
            Ok(made) => {
                // Cannot happen with 013's function; the partitions it made are logged by it, and
                // the one-at-a-time path finds them there (AlreadyDone).
                tracing::error!(
                    table = table.name(),
                    asked = run.len(),
                    answered = made.len(),
                    "rustcare_create_partitions answered for a different number of days"
                );
                return None;
            }
            Err(e) if is_lock_timeout(&e) && attempt < attempts => {
                tracing::warn!(
                    table = table.name(),
                    attempt,
                    "batched create: lock not granted within lock_timeout; retrying"
                );
                backoff.wait().await;
            }
            Err(e) => {
                // 42883: a database without migration 013. Anything else: one partition of the
                // run is in the way; the single path reports it on that partition.
                let missing = e
                    .as_database_error()
                    .and_then(|d| d.code())
                    .is_some_and(|c| c == "42883");
                if missing {
                    tracing::debug!(
                        table = table.name(),
                        "no rustcare_create_partitions: one at a time"
                    );
                } else {
                    tracing::warn!(
                        table = table.name(),
                        error = %e,
                        "batched create failed and was rolled back; creating one partition at a time"
                    );
                }
                return None;
            }
        }
    }
    None
}
