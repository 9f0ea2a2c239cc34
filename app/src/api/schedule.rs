//! The schedule: the built-in scheduler `serve` runs (creation daily, cleanup weekly, from
//! `SCHEDULE_CREATE` / `SCHEDULE_CLEANUP` in the policy file), and the server function of the
//! /schedule page (last and next run per job, recent history, the pg_cron jobs).

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::auth::Capability;
use crate::auth::CsrfClient;

/// One run of a scheduled job (a row of `scheduler_runs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunView {
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

/// One job of the built-in scheduler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    pub job: String,
    /// `daily@01:00`, `sun@02:00` or `off`.
    pub schedule: String,
    /// The config key that sets it.
    pub key: String,
    pub next: Option<DateTime<Utc>>,
    pub last: Option<RunView>,
}

/// One of the guide's pg_cron jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronJobView {
    pub name: String,
    pub expected_schedule: String,
    pub expected_command: String,
    /// installed | differs | missing
    pub state: String,
    pub schedule: Option<String>,
    pub last_status: Option<String>,
    pub last_start: Option<DateTime<Utc>>,
    pub last_message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleView {
    pub now: DateTime<Utc>,
    /// False when this console runs no scheduler (`RUSTCARE_SCHEDULER=off`).
    pub scheduler_enabled: bool,
    pub jobs: Vec<JobView>,
    pub history: Vec<RunView>,
    /// None when pg_cron cannot be used; then `cron_problem` says why and how to enable it.
    pub cron_jobs: Option<Vec<CronJobView>>,
    pub cron_problem: Option<String>,
    pub cron_database: Option<String>,
}

/// Last and next run of each job, the latest 50 runs, and the pg_cron jobs. Viewer and up.
#[server(prefix = "/api", endpoint = "schedule_overview", client = CsrfClient)]
pub async fn schedule_overview() -> Result<ScheduleView, ServerFnError> {
    crate::auth::server::require(Capability::View).await?;
    let pool = super::ssr::pool()?;
    let config = super::console::load_config()?;
    ssr::overview(&pool, &config).await
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! The scheduler task and the page's reads.
    use std::time::Duration;

    use chrono::Utc;
    use leptos::prelude::ServerFnError;
    use partitioning::config::Config;
    use partitioning::pg::cron;
    use partitioning::pg::scheduler::{self, RunRecord};
    use partitioning::schedule::Job;
    use sqlx::PgPool;

    use super::{CronJobView, JobView, RunView, ScheduleView};
    use crate::api::ssr::db_error;

    /// `RUSTCARE_SCHEDULER=off` turns the scheduler of this console off (e.g. when pg_cron or the
    /// crontab runs the jobs); anything else, or unset, leaves it on.
    pub fn enabled() -> bool {
        !std::env::var("RUSTCARE_SCHEDULER")
            .is_ok_and(|v| matches!(v.trim(), "off" | "0" | "no" | "false"))
    }

    /// How often the task looks at the clock. A run starts within this of its time.
    const TICK: Duration = Duration::from_secs(20);

    /// Runs each job's due slot (see `Schedule::due`), re-reading the policy file every tick so an
    /// edited schedule applies without a restart. Several consoles agree through `scheduler_runs`:
    /// each slot runs once. Errors are logged and retried on the next tick.
    pub fn spawn_scheduler(pool: PgPool) -> Option<tokio::task::JoinHandle<()>> {
        if !enabled() {
            tracing::info!("RUSTCARE_SCHEDULER=off: this console runs no scheduled jobs");
            return None;
        }
        // The executor's future is not `Send` (sqlx's higher-ranked executor bounds), so the loop
        // runs on a blocking thread driven by this runtime instead of `tokio::spawn`.
        let handle = tokio::runtime::Handle::current();
        Some(tokio::task::spawn_blocking(move || {
            handle.block_on(async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let config = match crate::api::console::load_config() {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "scheduler: the policy file is bad; no job runs until it is fixed");
                        continue;
                    }
                };
                for job in Job::ALL {
                    let Some(slot) = config.schedule.of(job).due(Utc::now(), job.grace()) else {
                        continue;
                    };
                    if let Err(e) = scheduler::run_slot(&pool, &config, job, slot).await {
                        tracing::warn!(job = job.name(), error = %e, "scheduler: could not run; will retry");
                    }
                }
            }
        })
        }))
    }

    fn run_view(r: RunRecord) -> RunView {
        RunView {
            id: r.id,
            job: r.job,
            slot: r.slot,
            started_at: r.started_at,
            finished_at: r.finished_at,
            outcome: r.outcome,
            detail: r.detail,
            actions: r.actions,
            runner: r.runner,
        }
    }

    pub async fn overview(pool: &PgPool, config: &Config) -> Result<ScheduleView, ServerFnError> {
        let now = Utc::now();
        let mut jobs = Vec::new();
        for job in Job::ALL {
            let schedule = config.schedule.of(job);
            let last = scheduler::last_run(pool, job)
                .await
                .map_err(|e| db_error("reading the scheduler history", e))?;
            jobs.push(JobView {
                job: job.name().into(),
                schedule: schedule.to_string(),
                key: match job {
                    Job::Create => "SCHEDULE_CREATE".into(),
                    Job::Cleanup => "SCHEDULE_CLEANUP".into(),
                },
                next: schedule.next_after(now),
                last: last.map(run_view),
            });
        }
        let history = scheduler::history(pool, 50)
            .await
            .map_err(|e| db_error("reading the scheduler history", e))?
            .into_iter()
            .map(run_view)
            .collect();
        let (cron_jobs, cron_problem, cron_database) = match cron::status(pool).await {
            Ok((setup, list)) => {
                let views = list
                    .into_iter()
                    .map(|j| {
                        let state = match (&j.installed, j.matches(&setup.database)) {
                            (None, _) => "missing",
                            (Some(_), true) => "installed",
                            (Some(_), false) => "differs",
                        };
                        let last = j.installed.as_ref().and_then(|i| i.last_run.clone());
                        CronJobView {
                            state: state.into(),
                            schedule: j.installed.as_ref().map(|i| i.schedule.clone()),
                            last_status: last.as_ref().map(|r| r.status.clone()),
                            last_start: last.as_ref().and_then(|r| r.start_time),
                            last_message: last.map(|r| r.message),
                            name: j.name,
                            expected_schedule: j.expected_schedule,
                            expected_command: j.expected_command,
                        }
                    })
                    .collect();
                (Some(views), None, Some(setup.cron_database))
            }
            Err(cron::CronError::Sql(e)) => {
                tracing::warn!(error = %e, "reading the pg_cron jobs failed");
                let why = format!(
                    "reading pg_cron's jobs failed ({e}); may this role read the cron schema?"
                );
                (None, Some(why), None)
            }
            Err(e) => (None, Some(e.to_string()), None),
        };
        Ok(ScheduleView {
            now,
            scheduler_enabled: enabled(),
            jobs,
            history,
            cron_jobs,
            cron_problem,
            cron_database,
        })
    }
}
