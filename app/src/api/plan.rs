//! The plan preview and the one part of it a DBA may run from the browser: creating partitions.
//! Creation runs in a background task keyed by a job id; the page polls [`create_job`] for its
//! progress. Cleanups are never run here: held ones go to the two-person approval workflow,
//! automatic ones run on the schedule or from the CLI.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use partitioning::planner::Plan;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::auth::Capability;
use crate::auth::CsrfClient;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanPreview {
    /// Everything maintenance would do now (create, cleanup, analyze), with held drops and notes.
    pub plan: Plan,
    /// How many partitions the creation part would create, and its fingerprint (the run is
    /// refused if the plan changed in between).
    pub create_count: usize,
    pub create_fingerprint: String,
    pub can_run: bool,
}

/// One step of a creation job as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStep {
    pub table: String,
    pub partition: String,
    /// `running`, `done`, `already done`, `skipped: …`, `busy: …`, `failed: …`.
    pub outcome: String,
    pub ok: bool,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    pub id: String,
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    pub total: usize,
    pub steps: Vec<JobStep>,
    pub finished: bool,
    /// Set when the whole run stopped (e.g. the database went away).
    pub error: Option<String>,
}

impl JobView {
    pub fn finished_steps(&self) -> usize {
        self.steps.iter().filter(|s| s.outcome != "running").count()
    }
}

/// What maintenance would do now.
#[server(prefix = "/api", endpoint = "plan_preview", client = CsrfClient)]
pub async fn get_plan_preview() -> Result<PlanPreview, ServerFnError> {
    use partitioning::planner::{self, PlanOptions};
    let user = crate::auth::server::require(Capability::View).await?;
    let pool = super::ssr::pool()?;
    let r = super::console::read(&pool).await?;
    let now = r.snapshot.taken_at;
    let plan = planner::plan(&r.config, &r.snapshot, now, &PlanOptions::maintenance());
    let create = planner::plan(&r.config, &r.snapshot, now, &PlanOptions::create());
    Ok(PlanPreview {
        plan,
        create_count: create.actions.len(),
        create_fingerprint: create.fingerprint().0,
        can_run: user.role.can(Capability::RunMaintenance),
    })
}

/// Starts creating the missing partitions (DBA). `fingerprint` is the one the person reviewed:
/// a plan that changed since is refused, not run. Returns the job id to poll.
#[server(prefix = "/api", endpoint = "start_create", client = CsrfClient)]
pub async fn start_create(fingerprint: String) -> Result<String, ServerFnError> {
    let user = crate::auth::server::require(Capability::RunMaintenance).await?;
    let pool = super::ssr::pool()?;
    ssr::start(pool, user.username, fingerprint).await
}

/// Progress of a creation job.
#[server(prefix = "/api", endpoint = "create_job", client = CsrfClient)]
pub async fn create_job(id: String) -> Result<JobView, ServerFnError> {
    crate::auth::server::require(Capability::View).await?;
    ssr::job(&id).ok_or_else(|| {
        ServerFnError::new("No such creation job: it finished before the server restarted, or the link is wrong. Reload the plan.")
    })
}

#[cfg(feature = "ssr")]
mod ssr {
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex, PoisonError};

    use leptos::prelude::ServerFnError;
    use partitioning::pg::executor::{self, ExecOptions, Outcome, ProgressEvent};
    use partitioning::pg::{catalog, policy_sync};
    use partitioning::planner::{self, PlanOptions};
    use sqlx::PgPool;

    use super::{JobStep, JobView};

    /// Jobs of this server process (a restart forgets them; the action log keeps what was done).
    static JOBS: LazyLock<Mutex<HashMap<String, JobView>>> = LazyLock::new(Default::default);

    fn with_jobs<T>(f: impl FnOnce(&mut HashMap<String, JobView>) -> T) -> T {
        f(&mut JOBS.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn job(id: &str) -> Option<JobView> {
        with_jobs(|jobs| jobs.get(id).cloned())
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

    pub async fn start(
        pool: PgPool,
        username: String,
        fingerprint: String,
    ) -> Result<String, ServerFnError> {
        let db = |what: &'static str| move |e| crate::api::ssr::db_error(what, e);
        if let Some(running) = with_jobs(|jobs| jobs.values().find(|j| !j.finished).cloned()) {
            return Err(ServerFnError::new(format!(
                "A creation run started by {} at {} is still going: watch it finish, then reload the plan.",
                running.started_by,
                running.started_at.format("%H:%M:%S UTC")
            )));
        }
        let config = crate::api::console::load_config()?;
        let snapshot = catalog::snapshot(&pool, &[])
            .await
            .map_err(db("reading the partition catalog"))?;
        let plan = planner::plan(
            &config,
            &snapshot,
            snapshot.taken_at,
            &PlanOptions::create(),
        );
        if plan.actions.is_empty() {
            return Err(ServerFnError::new(
                "Nothing to create: every partition of the ahead window exists. Reload the plan.",
            ));
        }
        if plan.fingerprint().0 != fingerprint {
            return Err(ServerFnError::new(
                "The plan changed since you loaded it (cron, the CLI or someone else made partitions). \
                 Nothing was run: reload the plan, review it and run again.",
            ));
        }
        // The SQL functions (pg_cron) read their policy from the table: keep it equal to the file.
        policy_sync::sync_as(&pool, &config, &username)
            .await
            .map_err(|e| {
                ServerFnError::new(format!(
                    "Syncing partition_policy from the policy file failed: {e}. Nothing was run."
                ))
            })?;
        let id = crate::auth::password::random_token(16);
        let view = JobView {
            id: id.clone(),
            started_by: username.clone(),
            started_at: chrono::Utc::now(),
            total: plan.actions.len(),
            steps: Vec::new(),
            finished: false,
            error: None,
        };
        with_jobs(|jobs| {
            // Keep the last few finished jobs only.
            if jobs.len() > 20 {
                jobs.retain(|_, j| !j.finished);
            }
            jobs.insert(id.clone(), view)
        });
        tracing::info!(user = %username, job = %id, actions = plan.actions.len(), "console: creating partitions");
        let job_id = id.clone();
        // The executor's future is not `Send` (sqlx's higher-ranked executor bounds), so it runs
        // on a blocking thread driven by this runtime instead of `tokio::spawn`.
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            handle.block_on(async move {
            let opts = ExecOptions {
                actor: format!("console:{username}"),
                ..Default::default()
            };
            let progress = |event: ProgressEvent<'_>| {
                with_jobs(|jobs| {
                    let Some(job) = jobs.get_mut(&job_id) else { return };
                    match event {
                        ProgressEvent::Started { action, .. } => job.steps.push(JobStep {
                            table: action.table.name().to_string(),
                            partition: action.kind.partition_name().to_string(),
                            outcome: "running".into(),
                            ok: true,
                            elapsed_ms: 0,
                        }),
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
            let result = executor::execute(&pool, &config, &plan, &opts, &progress).await;
            with_jobs(|jobs| {
                if let Some(job) = jobs.get_mut(&job_id) {
                    job.finished = true;
                    if let Err(e) = result {
                        tracing::error!(error = %e, "console creation run stopped");
                        job.error = Some(format!("The run stopped: {e}. What finished is in partition_action_log; reload the plan."));
                    }
                }
            });
        })
        });
        Ok(id)
    }
}
