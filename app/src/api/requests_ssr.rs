//! Server side of the request functions: error wording and the background execution jobs.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

use axum::http::StatusCode;
use leptos::prelude::ServerFnError;
use partitioning::approval::RequestState;
use partitioning::config::Config;
use partitioning::pg::approvals::{self, ApprovalError, Executed};
use partitioning::pg::executor::{Outcome, ProgressEvent};
use sqlx::PgPool;

use crate::api::plan::{JobStep, JobView};
use crate::auth::server::refuse;

/// Execution jobs of this process (a restart forgets them; the request row and the action log
/// keep what was done).
static JOBS: LazyLock<Mutex<HashMap<String, JobView>>> = LazyLock::new(Default::default);

fn with_jobs<T>(f: impl FnOnce(&mut HashMap<String, JobView>) -> T) -> T {
    f(&mut JOBS.lock().unwrap_or_else(PoisonError::into_inner))
}

pub fn job(id: &str) -> Option<JobView> {
    with_jobs(|jobs| jobs.get(id).cloned())
}

/// "the request is pending: ..." → "The request is pending: ...".
pub fn sentence(text: &str) -> String {
    let mut c = text.chars();
    match c.next() {
        Some(first) => {
            let mut s: String = first.to_uppercase().collect();
            s.push_str(c.as_str());
            if !s.ends_with('.') {
                s.push('.');
            }
            s
        }
        None => String::new(),
    }
}

pub fn conflict(message: String) -> ServerFnError {
    refuse(StatusCode::CONFLICT, sentence(&message))
}

pub fn not_found(id: i64) -> ServerFnError {
    refuse(
        StatusCode::NOT_FOUND,
        format!("There is no cleanup request #{id}: see the list at /requests."),
    )
}

/// Logs the detail, tells the person what failed.
pub fn failed(what: &str, e: ApprovalError) -> ServerFnError {
    match e {
        ApprovalError::Sql(e) => crate::api::ssr::db_error(what, e),
        other => {
            tracing::error!(error = %other, "{what} failed");
            ServerFnError::new(format!("{} failed: {}", sentence(what), other))
        }
    }
}

fn outcome_text(o: &Outcome) -> (String, bool) {
    match o {
        Outcome::Done => ("done".into(), true),
        Outcome::AlreadyDone => ("already done".into(), true),
        Outcome::Skipped(why) => (format!("skipped: {why}"), false),
        Outcome::Busy(why) => (format!("busy: {why}"), false),
        Outcome::Failed(why) => (format!("failed: {why}"), false),
    }
}

/// Starts request `id` in the background as `username`; returns the job id. The checks that
/// matter (approved, not expired, fingerprint, run once) are made by `approvals::execute`; a
/// refusal is reported through the job's `error`.
pub async fn start(
    pool: PgPool,
    config: Config,
    id: i64,
    username: String,
) -> Result<String, ServerFnError> {
    let request = approvals::get(&pool, id)
        .await
        .map_err(|e| failed("reading the cleanup request", e))?
        .ok_or_else(|| not_found(id))?;
    // A request that can never run is refused here, in words, before a job starts; expiry, the
    // fingerprint and the run-once lock are still checked by `approvals::execute`.
    if !matches!(
        request.state,
        RequestState::Approved | RequestState::Executing
    ) {
        tracing::warn!(user = %username, request = id, state = %request.state, "execution refused");
        return Err(conflict(format!(
            "request #{id} cannot be executed: it is {} ({}). Only an approved request runs; nothing was dropped",
            request.state,
            request.state.explain()
        )));
    }
    let job_id = crate::auth::password::random_token(16);
    with_jobs(|jobs| {
        if jobs.len() > 20 {
            jobs.retain(|_, j| !j.finished);
        }
        jobs.insert(
            job_id.clone(),
            JobView {
                id: job_id.clone(),
                started_by: username.clone(),
                started_at: chrono::Utc::now(),
                total: request.actions.len() * 2,
                steps: Vec::new(),
                finished: false,
                error: None,
            },
        )
    });
    tracing::info!(user = %username, request = id, job = %job_id, "console: executing cleanup request");
    let key = job_id.clone();
    // The executor's future is not `Send` (sqlx's higher-ranked executor bounds): drive it on a
    // blocking thread with this runtime, as the plan page's creation run does.
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        handle.block_on(async move {
            let progress = |event: ProgressEvent<'_>| {
                with_jobs(|jobs| {
                    let Some(job) = jobs.get_mut(&key) else {
                        return;
                    };
                    match event {
                        ProgressEvent::Started { action, total, .. } => {
                            job.total = total;
                            job.steps.push(JobStep {
                                table: action.table.name().to_string(),
                                partition: format!(
                                    "{} {}",
                                    action.kind.verb(),
                                    action.kind.partition_name()
                                ),
                                outcome: "running".into(),
                                ok: true,
                                elapsed_ms: 0,
                            })
                        }
                        ProgressEvent::Finished { index, result, .. } => {
                            if let Some(step) = job.steps.get_mut(index) {
                                let (text, ok) = outcome_text(&result.outcome);
                                step.outcome = text;
                                step.ok = ok;
                                step.elapsed_ms = result.elapsed_ms;
                            }
                        }
                    }
                })
            };
            let result = approvals::execute(&pool, &config, id, &username, &progress).await;
            let error = match result {
                Ok(Executed::Ran { complete: true, .. }) => None,
                Ok(Executed::Ran { .. }) => Some(
                    "Some steps were not done (see below); the request stays executing: execute it again to finish."
                        .to_string(),
                ),
                Ok(Executed::AlreadyRunning) => Some(
                    "Another session is executing this request right now; nothing was done here."
                        .to_string(),
                ),
                Ok(Executed::AlreadyExecuted) => {
                    Some("This request was already executed.".to_string())
                }
                Ok(Executed::Invalidated { why }) => {
                    Some(format!("Invalidated, nothing dropped: {why}."))
                }
                Err(e) => {
                    tracing::warn!(error = %e, request = id, "execution refused or failed");
                    Some(sentence(&e.to_string()))
                }
            };
            with_jobs(|jobs| {
                if let Some(job) = jobs.get_mut(&key) {
                    job.finished = true;
                    job.error = error;
                    job.total = job.total.max(job.steps.len());
                }
            });
        })
    });
    Ok(job_id)
}
