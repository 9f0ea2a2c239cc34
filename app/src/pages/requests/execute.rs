//! Executing a request from its page: the button that names what it drops, and the live
//! progress of the run. When the run ends the page loads again with `?ran=<job>`, and shows the
//! outcome (state badge, heading, history) with the run's steps under it.

use leptos::prelude::*;

use crate::api::plan::JobView;
use crate::api::requests::{execute_request, request_job};
use crate::auth::ui::full_page_load;
use crate::pages::plan::run_job;

/// The execute button (shown to those who may run it), its errors and the run's progress.
#[island]
pub(super) fn Executor(id: i64, what: String) -> impl IntoView {
    let job = RwSignal::new(None::<JobView>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let start = move |_| {
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(run_job(
            execute_request(id),
            request_job,
            job,
            error,
            busy,
            move || {
                let ran = job.with_untracked(|j| j.as_ref().map(|j| j.id.clone()));
                full_page_load(&format!("/requests/{id}?ran={}", ran.unwrap_or_default()));
            },
        ));
    };
    view! {
        <h2>"Execute"</h2>
        <p class="muted small">"The plan is computed again first: if anything changed since the request (a partition, its rows, the table), the request is invalidated and nothing is dropped."</p>
        <button class="button primary danger" data-testid="execute" on:click=start
            disabled=move || busy.get() || job.with(|j| j.as_ref().is_some_and(|j| j.finished))>
            {format!("Execute: detach and drop {what}")}
        </button>
        {move || error.get().map(|e| view! { <p class="error" role="alert" data-testid="execute-error">{e}</p> })}
        {move || job.get().map(|j| view! { <ExecProgress job=j/> })}
    }
}

/// The run's steps as they finish.
#[component]
pub(super) fn ExecProgress(job: JobView) -> impl IntoView {
    let done = job.finished_steps();
    let status = if !job.finished {
        format!("Running: {done} of {} steps", job.total)
    } else if job.error.is_none() {
        format!("Finished: {done} of {} steps done", job.total)
    } else {
        "Finished: see below".to_string()
    };
    view! {
        <div class="job" data-testid="job" data-finished=job.finished.to_string()>
            <progress max=job.total value=done></progress>
            <strong data-testid="job-status">{status}</strong>
            {job.error.map(|e| view! { <p class="error" data-testid="job-error">{e}</p> })}
            <ol class="steps">
                {job.steps.into_iter().map(|s| view! {
                    <li data-testid="job-step" data-ok=s.ok.to_string()>
                        <code>{s.partition}</code> " — "
                        <span class={if s.ok { "" } else { "text-warn" }}>{s.outcome}</span>
                        {(s.elapsed_ms > 0).then(|| format!(" ({} ms)", s.elapsed_ms))}
                    </li>
                }).collect_view()}
            </ol>
        </div>
    }
}
