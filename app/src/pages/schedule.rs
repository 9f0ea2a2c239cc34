//! The schedule page (`/schedule`): when the console's scheduler last ran and next runs each job,
//! the recent runs with their outcome, and the guide's two pg_cron jobs. Read-only: the schedule
//! is set in config/partitioning.conf, the pg_cron jobs with `rustcare-partitions cron install`.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::api::schedule::{schedule_overview, CronJobView, JobView, RunView, ScheduleView};
use crate::auth::ui::{error_text, ReloadLink};

fn when(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "—".into())
}

/// Badge class for an outcome: colour and word together.
fn outcome_class(outcome: &str) -> &'static str {
    match outcome {
        "ok" | "installed" | "succeeded" => "badge ok",
        "partial" | "running" | "differs" | "starting" => "badge warn",
        "failed" | "missing" => "badge crit",
        _ => "badge neutral",
    }
}

#[component]
pub fn SchedulePage() -> impl IntoView {
    let data = Resource::new(|| (), |_| schedule_overview());
    view! {
        <section class="panel">
            <div class="panel-head">
                <h1>"Schedule"</h1>
                <ReloadLink href="/schedule".to_string() label="Reload" testid="reload-schedule"/>
            </div>
            <p class="muted small">"The console runs partition creation and cleanup itself ("
                <code>"SCHEDULE_CREATE"</code> ", " <code>"SCHEDULE_CLEANUP"</code>
                " in config/partitioning.conf, UTC). Cleanup never drops tables whose cleanup needs approval. "
                "Several consoles run each scheduled time once."</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || data.get().map(|r| match r {
                    Ok(v) => view! { <Overview view=v/> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Overview(view: ScheduleView) -> impl IntoView {
    let off = (!view.scheduler_enabled).then(|| {
        view! {
            <p class="notice-info" data-testid="scheduler-off">
                "This console runs no scheduled jobs (RUSTCARE_SCHEDULER=off); another console, pg_cron or cron must."
            </p>
        }
    });
    view! {
        {off}
        <h2>"Built-in scheduler"</h2>
        <table class="data" data-testid="schedule-jobs">
            <thead><tr>
                <th scope="col">"Job"</th><th scope="col">"Schedule"</th><th scope="col">"Last run"</th>
                <th scope="col">"Outcome"</th><th scope="col">"Next run"</th>
            </tr></thead>
            <tbody>{view.jobs.into_iter().map(|j| view! { <JobRow job=j/> }).collect_view()}</tbody>
        </table>
        <h2>"pg_cron"</h2>
        <CronSection jobs=view.cron_jobs problem=view.cron_problem database=view.cron_database/>
        <h2>"Recent runs"</h2>
        <History runs=view.history/>
    }
}

#[component]
fn JobRow(job: JobView) -> impl IntoView {
    let (outcome, detail) = job
        .last
        .as_ref()
        .map(|r| (r.outcome.clone(), r.detail.clone()))
        .unwrap_or_else(|| ("never".into(), String::new()));
    let next = if job.schedule == "off" {
        "off".to_string()
    } else {
        when(job.next)
    };
    let class = outcome_class(&outcome);
    view! {
        <tr data-testid="schedule-job" data-job=job.job.clone()>
            <td><code>{job.job.clone()}</code></td>
            <td><code>{job.schedule}</code> <span class="muted small">{format!(" ({})", job.key)}</span></td>
            <td>{when(job.last.as_ref().map(|r| r.started_at))}</td>
            <td><span class=class>{outcome}</span> <span class="small">{detail}</span></td>
            <td data-testid="next-run">{next}</td>
        </tr>
    }
}

#[component]
fn CronSection(
    jobs: Option<Vec<CronJobView>>,
    problem: Option<String>,
    database: Option<String>,
) -> impl IntoView {
    let Some(jobs) = jobs else {
        return view! {
            <p class="notice-info" data-testid="cron-unavailable">
                {problem.unwrap_or_else(|| "pg_cron is not available.".into())}
            </p>
        }
        .into_any();
    };
    view! {
        <p class="muted small">"The guide's two jobs, run by pg_cron in database "
            <code>{database.unwrap_or_default()}</code> ". Install or remove them with "
            <code>"rustcare-partitions cron install"</code> " / " <code>"cron remove"</code> "."</p>
        <table class="data" data-testid="cron-jobs">
            <thead><tr>
                <th scope="col">"Job"</th><th scope="col">"State"</th><th scope="col">"Schedule"</th>
                <th scope="col">"Command"</th><th scope="col">"Last run"</th>
            </tr></thead>
            <tbody>
                {jobs.into_iter().map(|j| {
                    let last = match (&j.last_status, j.last_start) {
                        (Some(s), t) => format!("{s}, {} {}", when(t), j.last_message.clone().unwrap_or_default()),
                        (None, _) => "—".into(),
                    };
                    view! {
                        <tr data-testid="cron-job" data-state=j.state.clone()>
                            <td><code>{j.name}</code></td>
                            <td><span class=outcome_class(&j.state)>{j.state.clone()}</span></td>
                            <td><code>{j.schedule.unwrap_or(j.expected_schedule)}</code></td>
                            <td><code>{j.expected_command}</code></td>
                            <td class="small">{last}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn History(runs: Vec<RunView>) -> impl IntoView {
    if runs.is_empty() {
        return view! { <p class="muted" data-testid="schedule-history">"No scheduled run yet."</p> }
            .into_any();
    }
    view! {
        <table class="data" data-testid="schedule-history">
            <thead><tr>
                <th scope="col">"Started"</th><th scope="col">"Job"</th><th scope="col">"For"</th>
                <th scope="col">"Outcome"</th><th scope="col">"Actions"</th><th scope="col">"Took"</th>
                <th scope="col">"Detail"</th><th scope="col">"Console"</th>
            </tr></thead>
            <tbody>
                {runs.into_iter().map(|r| {
                    let took = r.finished_at
                        .map(|f| format!("{:.1} s", (f - r.started_at).num_milliseconds() as f64 / 1000.0))
                        .unwrap_or_else(|| "running".into());
                    view! {
                        <tr data-testid="schedule-run" data-outcome=r.outcome.clone()>
                            <td>{when(Some(r.started_at))}</td>
                            <td><code>{r.job}</code></td>
                            <td>{when(Some(r.slot))}</td>
                            <td><span class=outcome_class(&r.outcome)>{r.outcome.clone()}</span></td>
                            <td class="num">{r.actions}</td>
                            <td class="num">{took}</td>
                            <td class="small">{r.detail}</td>
                            <td class="small muted">{r.runner}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
