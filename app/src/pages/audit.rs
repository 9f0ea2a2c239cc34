//! The audit trail (`/audit`): every login, failed login, request, decision, execution, report and
//! setting change, newest first, filtered by actor, action and date; a chain check; CSV export.

use leptos::prelude::*;

use crate::api::audit::{list_audit, verify_audit, AuditPage, ChainCheck};
use crate::auth::percent_encode;
use crate::auth::ui::error_text;

/// The action names the console and CLI write (the datalist of the filter).
const ACTIONS: &[&str] = &[
    "login",
    "login_failed",
    "logout",
    "user_added",
    "user_changed",
    "wall_link_created",
    "wall_link_revoked",
    "cleanup_requested",
    "cleanup_approved",
    "cleanup_rejected",
    "cleanup_executed",
    "cleanup_invalidated",
    "cleanup_expired",
    "report_generated",
    "report_downloaded",
    "report_signed",
    "policy_changed",
    "scheduler_run",
    "cron_installed",
    "cron_removed",
    "migrate_started",
    "migrate_finished",
    "rollback_started",
    "rollback_finished",
    "audit_exported",
];

#[derive(Debug, Clone, Default, PartialEq)]
struct Filter {
    actor: String,
    action: String,
    from: String,
    to: String,
    before: Option<i64>,
}

impl Filter {
    fn export_href(&self) -> String {
        format!(
            "/audit/export.csv?actor={}&action={}&from={}&to={}",
            percent_encode(self.actor.trim()),
            percent_encode(self.action.trim()),
            percent_encode(self.from.trim()),
            percent_encode(self.to.trim())
        )
    }
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let actor = RwSignal::new(String::new());
    let action = RwSignal::new(String::new());
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let applied = RwSignal::new(Filter::default());
    let page = Resource::new(
        move || applied.get(),
        |f| list_audit(f.actor, f.action, f.from, f.to, f.before),
    );
    let apply = move || {
        applied.set(Filter {
            actor: actor.get_untracked(),
            action: action.get_untracked(),
            from: from.get_untracked(),
            to: to.get_untracked(),
            before: None,
        })
    };
    let field = |label: &'static str,
                 sig: RwSignal<String>,
                 kind: &'static str,
                 testid: &'static str| {
        view! {
            <label class="small">{label} " "
                <input type=kind data-testid=testid list=(testid == "audit-action").then_some("audit-actions")
                    prop:value=move || sig.get() on:input=move |ev| sig.set(event_target_value(&ev))/>
            </label>
        }
    };
    view! {
        <section class="panel">
            <div class="panel-head">
                <h1>"Audit trail"</h1>
                <a class="button small" rel="external" download="audit-trail.csv" data-testid="audit-export"
                    href=move || applied.get().export_href()>"Export CSV"</a>
            </div>
            <p class="muted small">"Append-only and hash-chained: each row stores the SHA-256 of the row before, so an edit or a removed row breaks the chain at that row. "
                <code>"rustcare-partitions audit verify"</code> " checks it from the shell."</p>
            <ChainCheckPanel/>
            <form class="filters" on:submit=move |ev| { ev.prevent_default(); apply(); }>
                {field("Actor", actor, "text", "audit-actor")}
                {field("Action", action, "text", "audit-action")}
                <datalist id="audit-actions">{ACTIONS.iter().map(|a| view! { <option value=*a/> }).collect_view()}</datalist>
                {field("From", from, "date", "audit-from")}
                {field("To", to, "date", "audit-to")}
                <button class="button small" type="submit" data-testid="audit-apply">"Filter"</button>
            </form>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || page.get().map(|r| match r {
                    Ok(p) => view! { <Rows page=p applied/> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert" data-testid="audit-error">{error_text(&e)}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Rows(page: AuditPage, applied: RwSignal<Filter>) -> impl IntoView {
    if page.rows.is_empty() {
        return view! { <p class="muted" data-testid="audit-empty">"No audit rows match."</p> }
            .into_any();
    }
    let next = page.next_before;
    view! {
        <table class="data" data-testid="audit-rows">
            <thead><tr>
                <th scope="col">"#"</th><th scope="col">"When (UTC)"</th><th scope="col">"Actor"</th>
                <th scope="col">"Action"</th><th scope="col">"Subject"</th><th scope="col">"Detail"</th><th scope="col">"Hash"</th>
            </tr></thead>
            <tbody>
                {page.rows.into_iter().map(|r| {
                    let subject_link = r.subject.strip_prefix("request:").map(|id| format!("/requests/{id}"));
                    let data_action = r.action.clone();
                    view! {
                        <tr data-testid="audit-row" data-action=data_action>
                            <td class="num">{r.id}</td>
                            <td class="num">{r.at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
                            <td>{r.actor}</td>
                            <td><code>{r.action}</code></td>
                            <td>{match subject_link {
                                Some(href) => view! { <a href=href>{r.subject}</a> }.into_any(),
                                None => view! { <span>{r.subject}</span> }.into_any(),
                            }}</td>
                            <td class="small"><code class="wrap">{r.detail}</code></td>
                            <td><code title=r.hash.clone()>{r.hash.chars().take(12).collect::<String>()} "…"</code></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <p class="pager">
            {(applied.get_untracked().before.is_some()).then(|| view! {
                <button class="button small" data-testid="audit-newest" on:click=move |_| applied.update(|f| f.before = None)>"Newest"</button>
            })}
            {next.map(|before| view! {
                <button class="button small" data-testid="audit-older" on:click=move |_| applied.update(|f| f.before = Some(before))>"Older"</button>
            })}
        </p>
    }
    .into_any()
}

#[component]
fn ChainCheckPanel() -> impl IntoView {
    let result = RwSignal::new(None::<Result<ChainCheck, String>>);
    let busy = RwSignal::new(false);
    let check = move |_| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            let r = verify_audit().await.map_err(|e| error_text(&e));
            busy.set(false);
            result.set(Some(r));
        });
    };
    view! {
        <p>
            <button class="button small" data-testid="audit-verify" disabled=move || busy.get() on:click=check>"Verify the chain"</button>
            " "
            {move || result.get().map(|r| match r {
                Ok(c) => match c.broken {
                    None => view! { <span class="badge ok" data-testid="chain-ok">{format!("intact: {} rows", c.rows)}</span> }.into_any(),
                    Some(why) => view! { <span class="badge crit" data-testid="chain-broken">"BROKEN"</span> " " <span class="error">{why}</span> }.into_any(),
                },
                Err(e) => view! { <span class="error">{e}</span> }.into_any(),
            })}
        </p>
    }
}
