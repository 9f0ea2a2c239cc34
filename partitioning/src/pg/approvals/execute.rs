//! Running an approved cleanup request, exactly once, exactly as approved.
//!
//! 1. A session advisory lock on `rustcare_partitions:request:<id>` is taken for the whole run:
//!    a second executor (another tab, the CLI) gets `AlreadyRunning` and does nothing.
//! 2. The request row moves `approved → executing` by a conditional UPDATE (only if still approved
//!    and not expired, on the server clock), audited.
//! 3. The plan is computed again from a fresh snapshot. A fresh run whose
//!    `approval_fingerprint` differs from the stored one is `invalidated`: nothing is dropped.
//! 4. The held drops run through the executor (detach, then drop) on connections opened with
//!    `rustcare.request_id=<id>`, so `partition_action_log.request_id` names the request.
//! 5. All done → `executed` (audited); otherwise the request stays `executing` with what failed.
//!
//! Crash convergence: if the process dies in step 4, the row stays `executing` and the session
//! lock dies with the connection. The next `execute` takes the lock, sees `executing`, and resumes:
//! it recomputes the plan and runs only the held drops whose partition (table, name, bounds) is in
//! the approved list; already dropped partitions are simply absent, a detach left pending is
//! finished, a detached-but-not-dropped leftover is dropped. Nothing outside the list is touched.

use std::collections::HashSet;

use serde::Serialize;
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::approval::{self, RequestAction, RequestState};
use crate::config::Config;
use crate::planner::{self, Action, ActionKind, Plan, PlanOptions};
use crate::table::ManagedTable;

use super::super::audit::{self, AuditEvent};
use super::super::executor::{self, ActionResult, ExecOptions, Outcome, Progress};
use super::{load, ApprovalError};

/// What an `execute` call did.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Executed {
    /// Ran; `complete` when every step is done (state `executed`), else the request stays
    /// `executing` and can be executed again to finish.
    Ran {
        results: Vec<ActionResult>,
        complete: bool,
    },
    /// Another execution of this request holds its lock right now: nothing was done here.
    AlreadyRunning,
    /// The request was executed before: nothing to do.
    AlreadyExecuted,
    /// The plan no longer matches: the request is invalidated, nothing was dropped.
    Invalidated { why: String },
}

fn lock_key_sql() -> &'static str {
    "hashtextextended('rustcare_partitions:request:' || $1::text, 0)"
}

/// Executes approved request `id` as `actor` (see the module doc). `Err` when the request is not
/// approved, has expired (it is then marked expired) or does not exist.
pub async fn execute(
    pool: &PgPool,
    config: &Config,
    id: i64,
    actor: &str,
    progress: Progress<'_>,
) -> Result<Executed, ApprovalError> {
    super::expire_due(pool).await?;
    let mut guard = pool.acquire().await?;
    // The session lock must end with this run, never go back to the pool held.
    guard.close_on_drop();
    let locked: bool =
        sqlx::query_scalar(&format!("SELECT pg_try_advisory_lock({})", lock_key_sql()))
            .bind(id)
            .fetch_one(&mut *guard)
            .await?;
    if !locked {
        return Ok(Executed::AlreadyRunning);
    }

    let mut tx = pool.begin().await?;
    let request = load(&mut tx, id, true).await?;
    let resume = match request.state {
        RequestState::Executed => return Ok(Executed::AlreadyExecuted),
        RequestState::Executing => true,
        state => {
            let now: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()")
                .fetch_one(&mut *tx)
                .await?;
            approval::may_start(state, request.expires_at, now)?;
            let claimed = sqlx::query(
                "UPDATE cleanup_requests SET state = 'executing', state_changed_at = now(), \
                 executed_by = $2 WHERE id = $1 AND state = 'approved' AND expires_at > now()",
            )
            .bind(id)
            .bind(actor)
            .execute(&mut *tx)
            .await?;
            if claimed.rows_affected() != 1 {
                return Err(approval::ExecuteError::NotApproved(state).into());
            }
            false
        }
    };
    let event = AuditEvent::new(
        actor,
        "cleanup_executed",
        format!("request:{id}"),
        json!({"phase": if resume { "resumed" } else { "started" }, "fingerprint": request.fingerprint}),
    );
    audit::append(&mut *tx, &event).await?;
    tx.commit().await?;

    let tables: Vec<ManagedTable> = request
        .tables
        .iter()
        .filter_map(|t| ManagedTable::parse(t).ok())
        .collect();
    let snapshot = super::super::catalog::snapshot(pool, &tables).await?;
    let opts = PlanOptions {
        tables: tables.clone(),
        ..PlanOptions::cleanup()
    };
    let plan = planner::plan(config, &snapshot, snapshot.taken_at, &opts);
    let found = plan.approval_fingerprint().0;
    if !resume && found != request.fingerprint {
        let why = describe_change(&request.actions, &approval::request_actions(&plan, config));
        finish(pool, id, actor, RequestState::Invalidated, &why, "cleanup_invalidated", json!({
            "approved_fingerprint": request.fingerprint, "current_fingerprint": found, "why": why,
        }))
        .await?;
        return Ok(Executed::Invalidated { why });
    }
    let approved: HashSet<_> = request.actions.iter().map(RequestAction::key).collect();
    let run = Plan {
        actions: steps(&plan, config, &approved),
        held: Vec::new(),
        notes: Vec::new(),
        ..plan
    };

    // Connections carrying the request id: every partition_action_log row of the run gets it.
    let tagged_opts = pool
        .connect_options()
        .as_ref()
        .clone()
        .options([("rustcare.request_id", id.to_string())]);
    let tagged = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(tagged_opts)
        .await?;
    let exec_opts = ExecOptions {
        actor: actor.to_string(),
        ..ExecOptions::default()
    };
    let results = executor::execute(&tagged, config, &run, &exec_opts, progress).await;
    tagged.close().await;
    let results = results?;

    let done = |r: &ActionResult| matches!(r.outcome, Outcome::Done | Outcome::AlreadyDone);
    let complete = results.iter().all(done);
    let dropped = results
        .iter()
        .filter(|r| r.action == "drop" && r.outcome == Outcome::Done)
        .count();
    let summary = if complete {
        format!("{dropped} partition(s) dropped; every step done")
    } else {
        let failed: Vec<String> = results
            .iter()
            .filter(|r| !done(r))
            .map(|r| format!("{} {}: {:?}", r.action, r.partition, r.outcome))
            .collect();
        format!(
            "{dropped} partition(s) dropped; not done: {}. Execute the request again to finish it.",
            failed.join("; ")
        )
    };
    if complete {
        finish(
            pool,
            id,
            actor,
            RequestState::Executed,
            &summary,
            "cleanup_executed",
            json!({"phase": "finished", "dropped": dropped, "steps": results.len()}),
        )
        .await?;
    } else {
        note_partial(pool, id, actor, &summary).await?;
    }
    Ok(Executed::Ran { results, complete })
}

/// The executor's steps for the approved held drops: a `Drop` of a partition still attached (or
/// detach pending) becomes detach + drop; a detached leftover is dropped. Only partitions in
/// `approved` (by table, name and bounds).
fn steps(
    plan: &Plan,
    config: &Config,
    approved: &HashSet<(String, String, String, String)>,
) -> Vec<Action> {
    let keys = approval::request_actions(plan, config);
    let mut out = Vec::new();
    for (action, key) in plan.approval_actions().into_iter().zip(keys) {
        if !approved.contains(&key.key()) {
            continue;
        }
        if let ActionKind::Drop {
            name,
            bound,
            est_rows,
            bytes,
        } = &action.kind
        {
            out.push(Action {
                table: action.table,
                kind: ActionKind::Detach {
                    name: name.clone(),
                    bound: *bound,
                    est_rows: *est_rows,
                    bytes: *bytes,
                },
                reason: action.reason.clone(),
            });
        }
        out.push(action);
    }
    out
}

/// What differs between the approved list and the current one, in words.
fn describe_change(approved: &[RequestAction], now: &[RequestAction]) -> String {
    let mut parts = Vec::new();
    for a in now {
        match approved.iter().find(|b| b.key() == a.key()) {
            None => parts.push(format!("{} is newly eligible", a.partition)),
            Some(b) if b.est_rows != a.est_rows => parts.push(format!(
                "{} now holds about {} rows (approved: {})",
                a.partition, a.est_rows, b.est_rows
            )),
            Some(_) => {}
        }
    }
    for b in approved {
        if !now.iter().any(|a| a.key() == b.key()) {
            parts.push(format!(
                "{} is no longer eligible or no longer exists",
                b.partition
            ));
        }
    }
    if parts.is_empty() {
        parts.push("the table was recreated (another oid)".to_string());
    }
    format!(
        "the plan changed since approval: {}; nothing was dropped, make a new request",
        parts.join("; ")
    )
}

async fn finish(
    pool: &PgPool,
    id: i64,
    actor: &str,
    state: RequestState,
    summary: &str,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), ApprovalError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE cleanup_requests SET state = $2, state_changed_at = now(), outcome_detail = $3, \
         executed_at = CASE WHEN $2 = 'executed' THEN now() ELSE executed_at END \
         WHERE id = $1 AND state = 'executing'",
    )
    .bind(id)
    .bind(state.as_str())
    .bind(summary)
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut *tx,
        &AuditEvent::new(actor, action, format!("request:{id}"), detail),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn note_partial(
    pool: &PgPool,
    id: i64,
    actor: &str,
    summary: &str,
) -> Result<(), ApprovalError> {
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE cleanup_requests SET outcome_detail = $2 WHERE id = $1")
        .bind(id)
        .bind(summary)
        .execute(&mut *tx)
        .await?;
    let event = AuditEvent::new(
        actor,
        "cleanup_executed",
        format!("request:{id}"),
        json!({"phase": "incomplete", "summary": summary}),
    );
    audit::append(&mut *tx, &event).await?;
    tx.commit().await?;
    Ok(())
}
