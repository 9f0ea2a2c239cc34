//! Cleanup requests: the list (`/requests`, filter by state) and one request (`/requests/:id`):
//! exactly what it drops (partitions, bounds, rows, sizes, the policy making each eligible, the
//! plan fingerprint), its decisions, approve / reject with a comment, and execution with live
//! progress. Buttons only appear for people the server would let act; the server checks anyway.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use partitioning::approval::{Request, RequestAction, RequestState};

use crate::api::plan::JobView;
use crate::api::requests::{decide_request, get_request, list_requests, request_job, RequestPage};
use crate::auth::ui::{error_text, full_page_load};
use crate::format::{count, human_bytes};

mod execute;
mod history;

use execute::{ExecProgress, Executor};
use history::History;

/// Badge class and word for a state: colour and word together.
pub fn state_badge(s: RequestState) -> impl IntoView {
    let class = match s {
        RequestState::Pending | RequestState::Executing => "badge warn",
        RequestState::Approved | RequestState::Executed => "badge ok",
        RequestState::Rejected | RequestState::Invalidated => "badge crit",
        RequestState::Expired => "badge neutral",
    };
    view! { <span class=class data-testid="request-state" data-state=s.as_str()>{s.as_str()}</span> }
}

/// `'2018-10-01 00:00:00+00'` → `2018-10-01`.
fn literal_date(s: &str) -> String {
    s.trim_matches('\'')
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// "waiting for approvals" → "Waiting for approvals.".
fn sentence(text: &str) -> String {
    let mut c = text.chars();
    c.next()
        .map(|f| format!("{}{}.", f.to_uppercase(), c.as_str()))
        .unwrap_or_default()
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[component]
pub fn RequestsPage() -> impl IntoView {
    let query = use_query_map();
    let state = query.with_untracked(|q| q.get("state").unwrap_or_default());
    let selected = state.clone();
    let list = Resource::new(move || state.clone(), list_requests);
    view! {
        <section class="panel">
            <div class="panel-head">
                <h1>"Cleanup requests"</h1>
                // A GET form: the URL holds the filter (bookmarkable, works without WASM).
                <form class="inline-form" method="get" action="/requests">
                    <label class="small">"State "
                        <select name="state" data-testid="request-filter">
                            <option value="">"all"</option>
                            {RequestState::ALL.into_iter().map(|s| view! {
                                <option value=s.as_str() selected=selected == s.as_str()>{s.as_str()}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <button class="button small" type="submit" data-testid="request-filter-apply">"Show"</button>
                </form>
            </div>
            <p class="muted small">"Drops of tables whose cleanup is " <code>"approval"</code>
                " (the audit log by default) run only after another DBA approves — and for the audit log a compliance officer too. "
                "File a request from the " <a href="/plan">"plan"</a> " page or with " <code>"cleanup --force"</code> "."</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || list.get().map(|r| match r {
                    Ok(rows) => view! { <RequestTable rows/> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn RequestTable(rows: Vec<Request>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted" data-testid="requests-empty">"No requests."</p> }
            .into_any();
    }
    view! {
        <table class="data" data-testid="requests">
            <thead><tr>
                <th scope="col">"#"</th><th scope="col">"State"</th><th scope="col">"Requested"</th>
                <th scope="col">"By"</th><th scope="col">"Tables"</th><th scope="col">"Partitions"</th>
                <th scope="col">"Rows (est.)"</th><th scope="col">"Size"</th><th scope="col">"Needs"</th><th scope="col">"Expires"</th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|r| {
                    let href = format!("/requests/{}", r.id);
                    let needs = if r.needs_compliance { "dba + compliance" } else { "dba" };
                    view! {
                        <tr data-testid="request-row" data-id=r.id.to_string()>
                            <td><a href=href>{format!("#{}", r.id)}</a></td>
                            <td>{state_badge(r.state)}</td>
                            <td class="num">{when(r.created_at)}</td>
                            <td>{r.requested_by.clone()}</td>
                            <td><code>{r.tables.join(", ")}</code></td>
                            <td class="num">{r.actions.len()}</td>
                            <td class="num">{count(r.total_rows())}</td>
                            <td class="num">{human_bytes(r.total_bytes())}</td>
                            <td>{needs}</td>
                            <td class="num">{when(r.expires_at)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
pub fn RequestPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = params
        .with_untracked(|p| p.get("id").unwrap_or_default())
        .parse::<i64>()
        .unwrap_or(0);
    // Set by this page's own buttons when they load it again: `decided` after a decision,
    // `ran=<job>` after an execution (whose steps are then shown from the server's job table).
    let decided = query.with_untracked(|q| q.get("decided").is_some());
    let ran = query.with_untracked(|q| q.get("ran"));
    let page = Resource::new(
        move || (id, ran.clone()),
        |(id, ran)| async move {
            let page = get_request(id).await;
            let job = match ran {
                Some(job) => request_job(job).await.ok(),
                None => None,
            };
            (page, job)
        },
    );
    view! {
        <section class="panel">
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || page.get().map(|(r, job)| match r {
                    Ok(p) => view! { <Detail page=p decided job/> }.into_any(),
                    Err(e) => view! {
                        <h1>"Cleanup request"</h1>
                        <p class="error" role="alert" data-testid="request-error">{error_text(&e)}</p>
                    }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

/// "Recorded: you approved request #7 at 10:02 UTC. It is now pending: …", from the stored
/// decisions (so a hand-typed `?decided` shows nothing that did not happen).
fn decision_flash(page: &RequestPage) -> Option<String> {
    let r = &page.request;
    let mine = r.approvals.iter().rev().find(|a| a.actor == page.viewer)?;
    let verb = match mine.decision {
        partitioning::approval::Decision::Approve => "approved",
        partitioning::approval::Decision::Reject => "rejected",
    };
    Some(format!(
        "Recorded: you {verb} request #{} at {}. It is now {}: {}.",
        r.id,
        mine.at.format("%H:%M UTC"),
        r.state.as_str(),
        r.state.explain()
    ))
}

#[component]
fn Detail(page: RequestPage, decided: bool, job: Option<JobView>) -> impl IntoView {
    let flash = if decided { decision_flash(&page) } else { None };
    let r = page.request;
    let partitions = r.actions.len();
    let what = format!(
        "{partitions} partition{} of {} (~{} rows, {})",
        if partitions == 1 { "" } else { "s" },
        r.tables.join(", "),
        count(r.total_rows()),
        human_bytes(r.total_bytes())
    );
    let waiting = (!page.missing.is_empty())
        .then(|| format!("Still needed: {}.", page.missing.join(" and ")));
    // A run started elsewhere (another tab, the CLI): the page looks again every 2 s until it ends.
    let watch = (r.state == RequestState::Executing && job.is_none())
        .then(|| view! { <ReloadEvery seconds=2/> });
    view! {
        {flash.map(|text| view! { <p class="notice-info" data-testid="decision-result">{text}</p> })}
        <div class="panel-head">
            <h1>{format!("Cleanup request #{} ", r.id)} {state_badge(r.state)}</h1>
            <a href="/requests" class="button small">"All requests"</a>
        </div>
        <p data-testid="request-explain">{sentence(r.state.explain())} " " <span data-testid="still-needed">{waiting}</span></p>
        {watch}
        <dl class="facts">
            <dt>"Requested by"</dt><dd data-testid="requested-by">{r.requested_by.clone()} " at " {when(r.created_at)}</dd>
            <dt>"Expires"</dt><dd>{when(r.expires_at)}</dd>
            <dt>"Approvals needed"</dt><dd>{if r.needs_compliance { "a DBA (role dba or admin, not the requester) and a compliance officer (role compliance) — it drops audit-log partitions" } else { "a DBA (role dba or admin, not the requester)" }}</dd>
            <dt>"Plan fingerprint"</dt><dd><code data-testid="fingerprint">{r.fingerprint.clone()}</code>
                <span class="muted small">" SHA-256 of the partitions, bounds, row estimates and table oids; recomputed at execution, a difference invalidates the request."</span></dd>
            {r.executed_by.clone().map(|by| view! { <dt>"Executed by"</dt><dd>{by} {r.executed_at.map(|t| format!(" at {}", when(t)))}</dd> })}
            {r.outcome_detail.clone().map(|d| view! { <dt>"Outcome"</dt><dd data-testid="outcome">{d}</dd> })}
        </dl>
        <h2 data-testid="drops-heading">{drops_heading(r.state)} " " <span class="muted">{format!("({what})")}</span></h2>
        <DropTable actions=r.actions.clone()/>
        <h2>"Decisions"</h2>
        <Decisions request=r.clone()/>
        {match (r.state, page.decide_blocked) {
            (RequestState::Pending, Some(why)) => view! { <p class="muted" data-testid="decide-blocked">{why}</p> }.into_any(),
            (RequestState::Pending, None) => view! { <DecideForm id=r.id what=what.clone()/> }.into_any(),
            _ => ().into_any(),
        }}
        {page.can_execute.then(|| view! { <Executor id=r.id what/> })}
        {job.map(|job| view! { <ExecProgress job/> })}
        <h2>"History"</h2>
        <History entries=page.history/>
    }
}

/// Loads the page again every `seconds` (for a state another process is changing).
#[island]
fn ReloadEvery(seconds: u64) -> impl IntoView {
    Effect::new(move |_| {
        set_timeout(
            || {
                #[cfg(feature = "hydrate")]
                let _ = window().location().reload();
            },
            std::time::Duration::from_secs(seconds),
        );
    });
}

/// What the list of partitions is, given where the request is.
fn drops_heading(state: RequestState) -> &'static str {
    match state {
        RequestState::Pending | RequestState::Approved => "Will drop",
        RequestState::Executing => "Dropping",
        RequestState::Executed => "Dropped",
        RequestState::Rejected | RequestState::Expired | RequestState::Invalidated => {
            "Nothing dropped; the request covered"
        }
    }
}

#[component]
fn DropTable(actions: Vec<RequestAction>) -> impl IntoView {
    view! {
        <table class="data" data-testid="request-drops">
            <thead><tr>
                <th scope="col">"Table"</th><th scope="col">"Partition"</th><th scope="col">"From"</th><th scope="col">"To (excl.)"</th>
                <th scope="col">"Rows (est.)"</th><th scope="col">"Size"</th><th scope="col">"Policy"</th><th scope="col">"Why eligible"</th>
            </tr></thead>
            <tbody>
                {actions.into_iter().map(|a| {
                    let data_partition = a.partition.clone();
                    view! {
                    <tr data-testid="request-drop" data-partition=data_partition>
                        <td><code>{a.table}</code></td>
                        <td><code>{a.partition}</code></td>
                        <td class="num">{literal_date(&a.lower)}</td>
                        <td class="num">{literal_date(&a.upper)}</td>
                        <td class="num">{count(a.est_rows)}</td>
                        <td class="num">{human_bytes(a.bytes)}</td>
                        <td>{a.policy}</td>
                        <td class="small">{a.reason}</td>
                    </tr>
                }}).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn Decisions(request: Request) -> impl IntoView {
    if request.approvals.is_empty() {
        return view! { <p class="muted" data-testid="no-decisions">"No decisions yet."</p> }
            .into_any();
    }
    view! {
        <table class="data" data-testid="decisions">
            <thead><tr><th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"As"</th><th scope="col">"Decision"</th><th scope="col">"Comment"</th></tr></thead>
            <tbody>
                {request.approvals.into_iter().map(|a| {
                    let (class, word) = match a.decision {
                        partitioning::approval::Decision::Approve => ("badge ok", "approved"),
                        partitioning::approval::Decision::Reject => ("badge crit", "rejected"),
                    };
                    view! {
                        <tr data-testid="decision">
                            <td class="num">{when(a.at)}</td><td>{a.actor}</td><td>{a.role}</td>
                            <td><span class=class>{word}</span></td><td>{a.comment}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// Approve / reject with a comment; the answer reloads the page, which then shows the decision
/// recorded (`?decided`), the new state and who is still needed.
#[island]
fn DecideForm(id: i64, what: String) -> impl IntoView {
    let comment = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let send = move |decision: &'static str| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            let r = decide_request(id, decision.to_string(), comment.get_untracked()).await;
            match r {
                Ok(_) => full_page_load(&format!("/requests/{id}?decided")),
                Err(e) => {
                    busy.set(false);
                    error.set(Some(error_text(&e)));
                }
            }
        });
    };
    view! {
        <h2>"Your decision"</h2>
        <label class="block">"Comment (required: what you checked)"
            <textarea data-testid="decision-comment" rows="3" maxlength="2000"
                prop:value=move || comment.get() on:input=move |ev| comment.set(event_target_value(&ev))></textarea>
        </label>
        <p>
            <button class="button primary" data-testid="approve" disabled=move || busy.get() on:click=move |_| send("approve")>
                {format!("Approve dropping {what}")}
            </button>
            " "
            <button class="button" data-testid="reject" disabled=move || busy.get() on:click=move |_| send("reject")>"Reject"</button>
        </p>
        {move || error.get().map(|text| view! { <p class="error" role="alert" data-testid="decision-error">{text}</p> })}
    }
}
