//! The plan preview (`/plan`): what maintenance would do now, each action with its reason; the
//! drops held for approval; notes. A DBA can run the creation part here and watch it step by
//! step; held cleanups are filed as requests for the two-person approval workflow (`/requests`),
//! never run from this page.

use std::time::Duration;

use leptos::prelude::*;
use partitioning::planner::{Action, HeldAction, Hold, PlanNote};

use crate::api::plan::{create_job, get_plan_preview, start_create, JobView, PlanPreview};
use crate::api::requests::{file_request, FiledRequest};
use crate::auth::ui::{error_text, ReloadLink};
use crate::format::bound_date;

/// Waits `ms` in the browser (a timer, not a busy loop).
pub async fn sleep(ms: u64) {
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    set_timeout(
        move || {
            let _ = tx.send(());
        },
        Duration::from_millis(ms),
    );
    let _ = rx.await;
}

/// Starts a job (`start` answers its id) and polls its view with `poll` every 500 ms into `job`
/// until it finishes (then `busy` is cleared and `on_finished` runs) or a call fails (its error
/// into `error`, `busy` cleared). Shared by the plan's creation run and a request's execution.
pub(crate) async fn run_job<P, F>(
    start: impl std::future::Future<Output = Result<String, ServerFnError>>,
    poll: P,
    job: RwSignal<Option<JobView>>,
    error: RwSignal<Option<String>>,
    busy: RwSignal<bool>,
    on_finished: impl FnOnce(),
) where
    P: Fn(String) -> F,
    F: std::future::Future<Output = Result<JobView, ServerFnError>>,
{
    let fail = |e: ServerFnError| {
        error.set(Some(error_text(&e)));
        busy.set(false);
    };
    let id = match start.await {
        Ok(id) => id,
        Err(e) => return fail(e),
    };
    loop {
        match poll(id.clone()).await {
            Ok(view) => {
                let finished = view.finished;
                job.set(Some(view));
                if finished {
                    busy.set(false);
                    on_finished();
                    return;
                }
            }
            Err(e) => return fail(e),
        }
        sleep(500).await;
    }
}

#[component]
pub fn PlanPage() -> impl IntoView {
    let preview = Resource::new(|| (), |_| get_plan_preview());
    view! {
        <section class="panel">
            <div class="panel-head">
                <h1>"Maintenance plan"</h1>
                <ReloadLink href="/plan".to_string() label="Reload plan" testid="reload-plan"/>
            </div>
            <p class="muted small">"What " <code>"rustcare-partitions maintenance"</code>
                " would do now, computed from the live catalog and config/partitioning.conf. Nothing runs until you press a button."</p>
            <Suspense fallback=|| view! { <p class="muted">"Planning…"</p> }>
                {move || preview.get().map(|r| match r {
                    Ok(p) => view! { <Preview preview=p/> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Preview(preview: PlanPreview) -> impl IntoView {
    let plan = preview.plan;
    let (creates, others): (Vec<Action>, Vec<Action>) = plan
        .actions
        .into_iter()
        .partition(|a| a.kind.verb() == "create");
    let (cleanups, rest): (Vec<Action>, Vec<Action>) =
        others.into_iter().partition(|a| a.kind.is_destructive());
    let awaiting = plan
        .held
        .iter()
        .filter(|h| h.hold == Hold::ApprovalRequired)
        .count();
    view! {
        <h2>"Create " <span class="muted">{format!("({})", creates.len())}</span></h2>
        <CreateRunner count=preview.create_count fingerprint=preview.create_fingerprint can_run=preview.can_run/>
        <ActionTable actions=creates testid="plan-creates" empty="Every partition of the ahead window exists."/>
        <h2>"Cleanup " <span class="muted">{format!("({})", cleanups.len() + plan.held.len())}</span></h2>
        <p class="notice-info" data-testid="cleanup-note">
            "Cleanups drop data, so none runs from this page. Tables with automatic cleanup ("
            <code>"<TABLE>_CLEANUP=auto"</code> " in the policy file) are cleaned by the scheduled cleanup ("
            <a href="/schedule">"Schedule"</a> ") or " <code>"rustcare-partitions cleanup"</code>
            "; the partitions held for approval below go to the two-person approval workflow (a DBA "
            "requests, another DBA — and for the audit log a compliance officer — approves). "
            <code>"rustcare-partitions cleanup --dry-run"</code> " shows the same list."
        </p>
        <ActionTable actions=cleanups testid="plan-cleanups" empty="Nothing is past retention on tables with automatic cleanup."/>
        <HeldTable held=plan.held/>
        <RequestCleanup awaiting can=preview.can_run/>
        <h2>"Other maintenance " <span class="muted">{format!("({})", rest.len())}</span></h2>
        <ActionTable actions=rest testid="plan-other" empty="No statistics or sealing work."/>
        <Notes notes=plan.notes/>
    }
}

#[component]
fn ActionTable(actions: Vec<Action>, testid: &'static str, empty: &'static str) -> impl IntoView {
    if actions.is_empty() {
        return view! { <p class="muted" data-testid=testid>{empty}</p> }.into_any();
    }
    view! {
        <table class="data" data-testid=testid>
            <thead><tr>
                <th scope="col">"Action"</th><th scope="col">"Table"</th><th scope="col">"Partition"</th>
                <th scope="col">"From"</th><th scope="col">"To"</th><th scope="col">"Why"</th>
            </tr></thead>
            <tbody>
                {actions.into_iter().map(|a| {
                    let b = a.kind.bound().copied();
                    view! {
                        <tr data-testid="plan-action" data-partition=a.kind.partition_name().to_string()>
                            <td><span class="badge neutral">{a.kind.verb()}</span></td>
                            <td><code>{a.table.name()}</code></td>
                            <td><code>{a.kind.partition_name().to_string()}</code></td>
                            <td class="num">{bound_date(b.map(|b| b.lower))}</td>
                            <td class="num">{bound_date(b.map(|b| b.upper))}</td>
                            <td>{a.reason}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn HeldTable(held: Vec<HeldAction>) -> impl IntoView {
    if held.is_empty() {
        return ().into_any();
    }
    view! {
        <h3>"Held " <span class="muted">{format!("({})", held.len())}</span></h3>
        <table class="data" data-testid="plan-held">
            <thead><tr><th scope="col">"Held because"</th><th scope="col">"Table"</th><th scope="col">"Partition"</th><th scope="col">"Why"</th></tr></thead>
            <tbody>
                {held.into_iter().map(|h| view! {
                    <tr data-testid="held-action">
                        <td><span class="badge warn">{match h.hold { Hold::ApprovalRequired => "approval needed", Hold::RetentionGuard => "retention guard" }}</span></td>
                        <td><code>{h.table.name()}</code></td>
                        <td><code>{h.kind.partition_name().to_string()}</code></td>
                        <td>{h.reason}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// "Request cleanup": files a request for the drops held for approval (the server re-plans and
/// stores exactly those), then links to it.
#[island]
fn RequestCleanup(awaiting: usize, can: bool) -> impl IntoView {
    if awaiting == 0 {
        return ().into_any();
    }
    if !can {
        return view! { <p class="muted small">"A DBA files these as a cleanup request."</p> }
            .into_any();
    }
    let result = RwSignal::new(None::<Result<FiledRequest, String>>);
    let busy = RwSignal::new(false);
    let file = move |_| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            let r = file_request().await.map_err(|e| error_text(&e));
            busy.set(false);
            result.set(Some(r));
        });
    };
    view! {
        <p>
            <button class="button primary" data-testid="request-cleanup" disabled=move || busy.get() on:click=file>
                {format!("Request cleanup of {awaiting} held partition{}", if awaiting == 1 { "" } else { "s" })}
            </button>
            <span class="muted small">" Nothing is dropped now: another DBA (and for the audit log a compliance officer) must approve it first."</span>
        </p>
        {move || result.get().map(|r| match r {
            Ok(f) => {
                let href = format!("/requests/{}", f.id);
                let text = if f.existing {
                    format!("Request #{} for exactly these partitions is already open: ", f.id)
                } else {
                    format!("Filed request #{}: ", f.id)
                };
                view! { <p class="notice-info" data-testid="request-filed">{text} <a href=href>"open it"</a></p> }.into_any()
            }
            Err(e) => view! { <p class="error" role="alert" data-testid="request-file-error">{e}</p> }.into_any(),
        })}
    }
    .into_any()
}

#[component]
fn Notes(notes: Vec<PlanNote>) -> impl IntoView {
    if notes.is_empty() {
        return ().into_any();
    }
    view! {
        <h2>"Notes"</h2>
        <ul data-testid="plan-notes">{notes.into_iter().map(|n| view! { <li>{n.to_string()}</li> }).collect_view()}</ul>
    }
    .into_any()
}

/// The "Create N partitions" button and the progress of the run it starts (polled every 500 ms).
#[island]
fn CreateRunner(count: usize, fingerprint: String, can_run: bool) -> impl IntoView {
    let job = RwSignal::new(None::<JobView>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let start = move |_| {
        let fingerprint = fingerprint.clone();
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(run_job(
            start_create(fingerprint),
            create_job,
            job,
            error,
            busy,
            || {},
        ));
    };
    let button = if !can_run {
        view! { <p class="muted" data-testid="create-needs-dba">"Creating partitions needs the dba or admin role."</p> }.into_any()
    } else if count == 0 {
        ().into_any()
    } else {
        view! {
            <button class="button primary" data-testid="run-create" disabled=move || busy.get() || job.with(|j| j.as_ref().is_some_and(|j| j.finished))
                on:click=start>
                {format!("Create {count} partition{}", if count == 1 { "" } else { "s" })}
            </button>
            <span class="muted small">" Non-blocking (LIKE + CHECK + ATTACH), under lock_timeout, logged as console:<you>."</span>
        }
        .into_any()
    };
    view! {
        {button}
        {move || error.get().map(|e| view! { <p class="error" role="alert" data-testid="create-error">{e}</p> })}
        {move || job.get().map(|j| view! { <JobProgress job=j/> })}
    }
}

#[component]
fn JobProgress(job: JobView) -> impl IntoView {
    let done = job.finished_steps();
    let failed = job.steps.iter().filter(|s| !s.ok).count();
    let status = if !job.finished {
        format!("Running: {done} of {} done", job.total)
    } else if failed == 0 && job.error.is_none() {
        format!("Finished: {done} of {} done", job.total)
    } else {
        format!("Finished with problems: {failed} not done of {}", job.total)
    };
    view! {
        <div class="job" data-testid="job" data-finished=job.finished.to_string()>
            <progress max=job.total value=done></progress>
            <strong data-testid="job-status">{status}</strong>
            {job.error.map(|e| view! { <p class="error">{e}</p> })}
            <ol class="steps">
                {job.steps.into_iter().map(|s| view! {
                    <li data-testid="job-step" data-ok=s.ok.to_string()>
                        <code>{s.partition}</code> " — "
                        <span class={if s.ok { "" } else { "text-warn" }}>{s.outcome}</span>
                        {(s.elapsed_ms > 0).then(|| format!(" ({} ms)", s.elapsed_ms))}
                    </li>
                }).collect_view()}
            </ol>
            {job.finished.then(|| view! { <a class="button small" href="/plan" data-testid="job-reload">"Reload the plan"</a> })}
        </div>
    }
}
