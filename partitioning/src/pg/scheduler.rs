//! The console's built-in scheduler, database side: claiming a run of a job (so several consoles
//! run each scheduled slot once), running it through the planner and the executor (the same
//! per-table advisory locks as the CLI and pg_cron), and the run history in `scheduler_runs`.
//!
//! Cleanup plans with the ordinary planner, which *holds* every drop of an `approval` table (the
//! audit log): the scheduler never drops one; it files (or finds) the cleanup request for them,
//! which two people then approve in the console.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::config::Config;
use crate::pg::approvals::{self, ApprovalError, Filed};
use crate::pg::audit::{self, AuditEvent};
use crate::pg::executor::{self, ExecOptions, Outcome};
use crate::pg::{catalog, policy_sync};
use crate::planner::{self, PlanOptions};
use crate::schedule::Job;

/// The actor the scheduler's actions are logged under.
pub const ACTOR: &str = "scheduler";

/// One row of `scheduler_runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: i64,
    pub job: String,
    pub slot: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// running | ok | partial | failed
    pub outcome: String,
    pub detail: String,
    pub actions: i32,
    pub runner: String,
}

type RunRow = (
    i64,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    String,
    String,
    i32,
    String,
);

fn record(r: RunRow) -> RunRecord {
    RunRecord {
        id: r.0,
        job: r.1,
        slot: r.2,
        started_at: r.3,
        finished_at: r.4,
        outcome: r.5,
        detail: r.6,
        actions: r.7,
        runner: r.8,
    }
}

const COLUMNS: &str = "id, job, slot, started_at, finished_at, outcome, detail, actions, runner";

/// This process, as written in `scheduler_runs.runner`.
pub fn runner_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// Claims `slot` of `job` for this process: Some(run id) if nobody had, None if another console
/// (or an earlier start of this one) already ran or is running it. The unique (job, slot) decides;
/// the job's advisory lock makes the check-and-insert one step even for a job being run by hand.
pub async fn claim(
    pool: &PgPool,
    job: Job,
    slot: DateTime<Utc>,
    runner: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let locked: bool = sqlx::query_scalar(
        "SELECT pg_try_advisory_xact_lock(hashtextextended('rustcare_scheduler:' || $1, 0))",
    )
    .bind(job.name())
    .fetch_one(&mut *tx)
    .await?;
    if !locked {
        return Ok(None);
    }
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO scheduler_runs (job, slot, runner) VALUES ($1, $2, $3) \
         ON CONFLICT (job, slot) DO NOTHING RETURNING id",
    )
    .bind(job.name())
    .bind(slot)
    .bind(runner)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Runs `slot` of `job` unless another process has claimed it; returns the finished record, or
/// None when it was not ours to run. A failure is recorded (outcome `failed`) and returned.
pub async fn run_slot(
    pool: &PgPool,
    config: &Config,
    job: Job,
    slot: DateTime<Utc>,
) -> Result<Option<RunRecord>, sqlx::Error> {
    let Some(id) = claim(pool, job, slot, &runner_name()).await? else {
        return Ok(None);
    };
    tracing::info!(job = job.name(), %slot, run = id, "scheduled run started");
    let (outcome, detail, actions) = match work(pool, config, job).await {
        Ok(done) => done,
        Err(e) => {
            tracing::error!(job = job.name(), error = %e, "scheduled run failed");
            ("failed", e, 0)
        }
    };
    let row: RunRow = sqlx::query_as(&format!(
        "UPDATE scheduler_runs SET finished_at = greatest(now(), started_at), outcome = $2, \
         detail = $3, actions = $4 WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(outcome)
    .bind(&detail)
    .bind(actions)
    .fetch_one(pool)
    .await?;
    let rec = record(row);
    let event = AuditEvent::new(
        ACTOR,
        "scheduler_run",
        format!("job:{}", job.name()),
        serde_json::json!({
            "run": rec.id, "slot": rec.slot, "outcome": rec.outcome,
            "actions": rec.actions, "detail": rec.detail,
        }),
    );
    audit::append_logged(pool, &event).await;
    tracing::info!(job = job.name(), outcome = %rec.outcome, detail = %rec.detail, "scheduled run finished");
    Ok(Some(rec))
}

/// Plans and executes one job; (outcome, detail, actions run) or a sentence saying what failed.
async fn work(
    pool: &PgPool,
    config: &Config,
    job: Job,
) -> Result<(&'static str, String, i32), String> {
    policy_sync::sync_as(pool, config, ACTOR)
        .await
        .map_err(|e| format!("syncing the policy table: {e}"))?;
    let opts = match job {
        Job::Create => PlanOptions::create(),
        Job::Cleanup => PlanOptions::cleanup(),
    };
    // As the CLI does: when the few partitions that could need work show none does, the whole
    // catalog is not read (planner::quick).
    let quick = catalog::nothing_due(pool, config, &opts)
        .await
        .map_err(|e| format!("reading the catalog: {e}"))?;
    if quick.is_some() {
        return Ok(("ok", "nothing due (quick check)".to_string(), 0));
    }
    let snapshot = catalog::snapshot(pool, &[])
        .await
        .map_err(|e| format!("reading the catalog: {e}"))?;
    let plan = planner::plan(config, &snapshot, snapshot.taken_at, &opts);
    let exec = ExecOptions {
        actor: ACTOR.into(),
        ..ExecOptions::default()
    };
    let results = executor::execute(pool, config, &plan, &exec, &|_| {})
        .await
        .map_err(|e| format!("executing the plan: {e}"))?;
    let count = |f: fn(&Outcome) -> bool| results.iter().filter(|r| f(&r.outcome)).count();
    let done = count(|o| matches!(o, Outcome::Done));
    let already = count(|o| matches!(o, Outcome::AlreadyDone | Outcome::Skipped(_)));
    let not_done = count(|o| matches!(o, Outcome::Busy(_) | Outcome::Failed(_)));
    let mut detail = format!(
        "{done} of {} action(s) done ({} planned)",
        results.len(),
        plan.actions.len()
    );
    if already > 0 {
        detail.push_str(&format!(", {already} already done or skipped"));
    }
    if not_done > 0 {
        let first = results
            .iter()
            .find_map(|r| match &r.outcome {
                Outcome::Busy(w) | Outcome::Failed(w) => Some(format!("{}: {w}", r.partition)),
                _ => None,
            })
            .unwrap_or_default();
        detail.push_str(&format!(", {not_done} not done (first: {first})"));
    }
    if !plan.held.is_empty() {
        let mut tables: Vec<&str> = plan.held.iter().map(|h| h.table.name()).collect();
        tables.dedup();
        detail.push_str(&format!(
            "; {} partition(s) past retention held for a two-person approval ({}), not dropped",
            plan.held.len(),
            tables.join(", ")
        ));
        if job == Job::Cleanup {
            detail.push_str(&file_request(pool, config).await);
        }
    }
    let outcome = if not_done > 0 { "partial" } else { "ok" };
    Ok((outcome, detail, i32::try_from(done).unwrap_or(i32::MAX)))
}

/// Files (or finds) the cleanup request for the held drops, so they wait in the console's
/// approval queue rather than only in a log line; returns what to add to the run's detail.
async fn file_request(pool: &PgPool, config: &Config) -> String {
    match approvals::file(pool, config, &[], ACTOR).await {
        Ok(Filed::Created(id)) => format!(" (cleanup request #{id} filed)"),
        Ok(Filed::AlreadyOpen(id)) => format!(" (cleanup request #{id} already open)"),
        Err(ApprovalError::NothingToRequest) => String::new(),
        Err(e) => {
            tracing::warn!(error = %e, "scheduler: filing the cleanup request failed");
            format!(" (filing the cleanup request failed: {e})")
        }
    }
}

/// The latest `limit` runs, newest first.
pub async fn history(pool: &PgPool, limit: i64) -> Result<Vec<RunRecord>, sqlx::Error> {
    let rows: Vec<RunRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM scheduler_runs ORDER BY started_at DESC, id DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(record).collect())
}

/// The latest run of `job`, if any.
pub async fn last_run(pool: &PgPool, job: Job) -> Result<Option<RunRecord>, sqlx::Error> {
    let row: Option<RunRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM scheduler_runs WHERE job = $1 ORDER BY slot DESC, id DESC LIMIT 1"
    ))
    .bind(job.name())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(record))
}
