//! The executor: carries out a `Plan` against PostgreSQL without blocking the application.
//!
//! - Creation goes through the SQL function `rustcare_create_partition` (`LIKE` + a CHECK matching
//!   the bounds + `ATTACH`: SHARE UPDATE EXCLUSIVE on the parent, not the ACCESS EXCLUSIVE of
//!   `CREATE ... PARTITION OF`), the same function pg_cron calls, so both paths behave alike; runs
//!   of consecutive creates go through `rustcare_create_partitions` in batches (`batch`).
//! - Every DDL runs under `lock_timeout` and is retried with backoff; it never queues indefinitely.
//! - A per-table session advisory lock (the key the SQL functions use) keeps cron, CLI and browser
//!   from running maintenance on one table at once; a second run skips the table and says why.
//! - Detach is `CONCURRENTLY` when the table has no default partition and the server is 14+, plain
//!   otherwise; a detach left pending is finalized; a drop re-checks the retention guard against the
//!   server's clock, inside the transaction that drops and logs it.
//!
//! Crash safety comes from idempotence: every step first looks at the catalog and does nothing when
//! its work is already done, so a run killed anywhere is finished by the next (the planner turns a
//! pending detach into FinalizeDetach and a leftover detached table into DropDetached).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

use crate::calendar::PartitionBound;
use crate::config::Config;
use crate::planner::{Action, ActionKind, Plan};
use crate::policy::hipaa_guard_allows_drop;
use crate::table::{quote_ident, ManagedTable};

mod batch;
mod ddl;
mod log;

use log::log_result;
pub(crate) use log::write_log;

/// How the executor behaves; the defaults suit production.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// Who runs this (recorded in the action log): `cli:alice`, `cron`, `console:bob`.
    pub actor: String,
    /// How long one DDL statement may wait for a lock before giving up (and being retried).
    pub lock_timeout: Duration,
    /// Attempts per action when a lock cannot be had within `lock_timeout`.
    pub attempts: u32,
}

impl Default for ExecOptions {
    fn default() -> Self {
        Self {
            actor: "cli".into(),
            lock_timeout: Duration::from_secs(3),
            attempts: 5,
        }
    }
}

/// What happened to one action.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "snake_case")]
pub enum Outcome {
    Done,
    /// Nothing to do: the catalog was already in the wanted state (e.g. a run killed after the
    /// step finished, or another path did it).
    AlreadyDone,
    /// Not done on purpose, and why: a guard refused, or the catalog is not as planned.
    Skipped(String),
    /// Not done because another maintenance run holds the table, or its locks never came.
    Busy(String),
    Failed(String),
}

impl Outcome {
    /// The `partition_action_log.outcome` value.
    pub fn log_value(&self) -> &'static str {
        match self {
            Outcome::Done => "ok",
            Outcome::AlreadyDone | Outcome::Skipped(_) | Outcome::Busy(_) => "skipped",
            Outcome::Failed(_) => "error",
        }
    }
}

/// One action's result, in plan order.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ActionResult {
    pub table: ManagedTable,
    pub partition: String,
    pub action: &'static str,
    pub reason: String,
    pub outcome: Outcome,
    pub elapsed_ms: u64,
}

/// What the progress callback hears: each action as it starts and as it ends.
#[derive(Debug, Clone, Copy)]
pub enum ProgressEvent<'a> {
    Started {
        index: usize,
        total: usize,
        action: &'a Action,
    },
    Finished {
        index: usize,
        total: usize,
        result: &'a ActionResult,
    },
}

/// The progress callback.
pub type Progress<'a> = &'a (dyn Fn(ProgressEvent<'_>) + Send + Sync);

/// Errors that stop the whole run (an action's own failure is an `Outcome::Failed` instead).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
}

/// The advisory lock key of one table, as the SQL functions compute it.
const LOCK_KEY_SQL: &str = "hashtextextended('rustcare_partitions:' || $1, 0)";

/// Runs `plan` table by table, each under its advisory lock, in the plan's order. A failed action
/// skips the later actions on the same partition; a lock that cannot be had after every retry skips
/// the rest of that table (it is busy). Other tables go on.
pub async fn execute(
    pool: &PgPool,
    config: &Config,
    plan: &Plan,
    opts: &ExecOptions,
    progress: Progress<'_>,
) -> Result<Vec<ActionResult>, ExecError> {
    let total = plan.actions.len();
    let mut results: Vec<ActionResult> = Vec::with_capacity(total);
    let mut tables: Vec<ManagedTable> = Vec::new();
    for a in &plan.actions {
        if !tables.contains(&a.table) {
            tables.push(a.table);
        }
    }
    for table in tables {
        let actions: Vec<&Action> = plan.actions.iter().filter(|a| a.table == table).collect();
        let mut conn = pool.acquire().await?;
        // Session settings and the advisory lock must not outlive this run in the pool: the
        // connection is closed, not returned, whatever happens below.
        conn.close_on_drop();
        set_session(&mut conn, opts).await?;
        let locked: bool =
            sqlx::query_scalar(&format!("SELECT pg_try_advisory_lock({LOCK_KEY_SQL})"))
                .bind(table.name())
                .fetch_one(&mut *conn)
                .await?;
        if !locked {
            let why = format!(
                "another maintenance run (cron, CLI or console) is working on {table}; \
                 nothing was done to it, try again when that run finishes"
            );
            tracing::warn!(table = table.name(), "{why}");
            for action in actions {
                let r = result(action, Outcome::Busy(why.clone()), Instant::now());
                let index = results.len();
                progress(ProgressEvent::Started {
                    index,
                    total,
                    action,
                });
                log_result(&mut conn, action, &r).await?;
                progress(ProgressEvent::Finished {
                    index,
                    total,
                    result: &r,
                });
                results.push(r);
            }
            continue;
        }
        let mut failed: Vec<String> = Vec::new();
        let mut busy = false;
        // Outcomes (and a share of the batch's time) of creates already made by a batch.
        let mut batched: Vec<Option<(Outcome, Duration)>> = vec![None; actions.len()];
        for (i, action) in actions.iter().copied().enumerate() {
            let index = results.len();
            progress(ProgressEvent::Started {
                index,
                total,
                action,
            });
            let started = Instant::now();
            let name = action.kind.partition_name().to_string();
            if !busy && batched[i].is_none() {
                let mut run = batch::run_of_creates(&actions, i);
                if run
                    .iter()
                    .any(|a| failed.iter().any(|f| f == a.kind.partition_name()))
                {
                    run.clear();
                }
                if let Some((outcomes, took)) = batch::create_run(&mut conn, &run, opts).await {
                    let share = took / u32::try_from(outcomes.len()).unwrap_or(1).max(1);
                    for (slot, outcome) in batched.iter_mut().skip(i).zip(outcomes) {
                        *slot = Some((outcome, share));
                    }
                }
            }
            let (outcome, elapsed) = if busy {
                let why = format!("{table} stayed locked by other sessions; not attempted");
                (Outcome::Busy(why), None)
            } else if failed.contains(&name) {
                let why = format!("an earlier step on {name} failed");
                (Outcome::Skipped(why), None)
            } else if let Some((outcome, share)) = batched[i].take() {
                (outcome, Some(share))
            } else {
                let (outcome, timed_out) = run_with_retries(&mut conn, config, action, opts).await;
                busy |= timed_out;
                (outcome, None)
            };
            if matches!(outcome, Outcome::Failed(_) | Outcome::Busy(_)) {
                failed.push(name);
            }
            let mut r = result(action, outcome, started);
            if let Some(share) = elapsed {
                r.elapsed_ms = u64::try_from(share.as_millis()).unwrap_or(u64::MAX);
            }
            log_result(&mut conn, action, &r).await?;
            progress(ProgressEvent::Finished {
                index,
                total,
                result: &r,
            });
            results.push(r);
        }
        sqlx::query(&format!("SELECT pg_advisory_unlock({LOCK_KEY_SQL})"))
            .bind(table.name())
            .execute(&mut *conn)
            .await?;
    }
    Ok(results)
}

fn result(action: &Action, outcome: Outcome, started: Instant) -> ActionResult {
    ActionResult {
        table: action.table,
        partition: action.kind.partition_name().to_string(),
        action: action.kind.verb(),
        reason: action.reason.clone(),
        outcome,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

async fn set_session(
    conn: &mut PoolConnection<Postgres>,
    opts: &ExecOptions,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "SELECT set_config('lock_timeout', $1, false), set_config('rustcare.actor', $2, false)",
    )
    .bind(format!("{}ms", opts.lock_timeout.as_millis().max(1)))
    .bind(&opts.actor)
    .execute(&mut **conn)
    .await?;
    Ok(())
}

/// Runs one action, retrying lock timeouts and deadlocks with jittered exponential backoff.
/// Returns the outcome and whether it ended because the locks never came.
async fn run_with_retries(
    conn: &mut PoolConnection<Postgres>,
    config: &Config,
    action: &Action,
    opts: &ExecOptions,
) -> (Outcome, bool) {
    let attempts = opts.attempts.max(1);
    let mut backoff = LockBackoff::default();
    for attempt in 1..=attempts {
        match try_action(conn, config, action).await {
            Ok(outcome) => return (outcome, false),
            Err(e) if is_lock_timeout(&e) && attempt < attempts => {
                tracing::warn!(
                    table = action.table.name(),
                    partition = action.kind.partition_name(),
                    attempt,
                    "lock not granted within lock_timeout; retrying"
                );
                backoff.wait().await;
            }
            Err(e) => {
                let timed_out = is_lock_timeout(&e);
                tracing::error!(
                    table = action.table.name(),
                    partition = action.kind.partition_name(),
                    error = %e,
                    "{} failed",
                    action.kind.verb()
                );
                let why = describe(&e, attempts);
                return (
                    if timed_out {
                        Outcome::Busy(why)
                    } else {
                        Outcome::Failed(why)
                    },
                    timed_out,
                );
            }
        }
    }
    (Outcome::Busy("gave up waiting for locks".into()), true)
}

/// The wait before retrying a statement whose lock was not granted within `lock_timeout`:
/// 200 ms doubling to 5 s, plus up to half as much again at random so that cron, the CLI and the
/// console do not retry in step.
pub(crate) struct LockBackoff {
    delay: Duration,
}

impl Default for LockBackoff {
    fn default() -> Self {
        LockBackoff {
            delay: Duration::from_millis(200),
        }
    }
}

impl LockBackoff {
    pub(crate) async fn wait(&mut self) {
        let jitter = rand::thread_rng().gen_range(0..=self.delay.as_millis() as u64 / 2);
        tokio::time::sleep(self.delay + Duration::from_millis(jitter)).await;
        self.delay = (self.delay * 2).min(Duration::from_secs(5));
    }
}

fn is_lock_timeout(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "55P03" || c == "40P01")
}

fn describe(e: &sqlx::Error, attempts: u32) -> String {
    match e.as_database_error() {
        Some(d) if d.code().is_some_and(|c| c == "55P03" || c == "40P01") => format!(
            "could not get the table's lock within lock_timeout after {attempts} attempts \
             (a long transaction holds it); nothing was changed, retry later"
        ),
        Some(d) => d.message().to_string(),
        None => e.to_string(),
    }
}

async fn try_action(
    conn: &mut PoolConnection<Postgres>,
    config: &Config,
    action: &Action,
) -> Result<Outcome, sqlx::Error> {
    let table = action.table;
    match &action.kind {
        ActionKind::Create { bound, .. } => ddl::create(conn, table, bound).await,
        ActionKind::FinalizeDetach { name, .. } => ddl::finalize_detach(conn, table, name).await,
        ActionKind::Detach { name, bound, .. } => {
            // A detach is the first half of a drop: the same guard, so a young partition is never
            // taken away from the table (its rows would vanish from queries, its inserts fail).
            if let Some(refused) = refuse_removal(conn, config, table, name, bound).await? {
                return Ok(refused);
            }
            ddl::detach(conn, table, name).await
        }
        ActionKind::Drop { name, bound, .. } | ActionKind::DropDetached { name, bound } => {
            if let Some(refused) = refuse_removal(conn, config, table, name, bound).await? {
                return Ok(refused);
            }
            ddl::drop_detached(conn, action, name, bound).await
        }
        ActionKind::MoveDefaultRows { default_name, .. } => {
            ddl::move_default_rows(conn, action, default_name).await
        }
        ActionKind::Analyze { name } => ddl::analyze(conn, name).await,
        ActionKind::Seal { name } => ddl::seal(conn, name).await,
    }
}

/// Why `name` may not be detached or dropped now, if it may not: its name must say the same period
/// as the plan's bound (so a plan can never pair an old bound with a young partition), and that
/// bound must be past retention, and past the HIPAA floor for the audit log, on the server's clock.
async fn refuse_removal(
    conn: &mut PoolConnection<Postgres>,
    config: &Config,
    table: ManagedTable,
    name: &str,
    bound: &PartitionBound,
) -> Result<Option<Outcome>, sqlx::Error> {
    if crate::calendar::parse_partition_name(table, name).as_ref() != Some(bound) {
        return Ok(Some(Outcome::Skipped(format!(
            "{name} is not named for the period {bound}; only partitions named for their own \
             period are detached or dropped"
        ))));
    }
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut **conn)
        .await?;
    let retention = &config.policy(table).retention;
    Ok(hipaa_guard_allows_drop(table, bound, retention, now)
        .err()
        .map(Outcome::Skipped))
}

/// Runs a statement the simple-query way (no implicit transaction block, as `DETACH ...
/// CONCURRENTLY` requires). Names are quoted by the caller with `quote_ident`.
async fn simple(conn: &mut PoolConnection<Postgres>, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sql).execute(&mut **conn).await?;
    Ok(())
}

/// `"parent"` for a managed table.
fn parent(table: ManagedTable) -> String {
    quote_ident(table.name())
}
