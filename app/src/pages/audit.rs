//! The audit trail (`/audit`): every login, failed login, request, decision, execution, report and
//! setting change, newest first, filtered by actor, action and date; a chain check; CSV export.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

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

/// The filter, as the page's URL holds it (`/audit?actor=…&action=…&from=…&to=…&before=…`), so a
/// view can be bookmarked, and paging is a link.
#[derive(Debug, Clone, Default, PartialEq)]
struct Filter {
    actor: String,
    action: String,
    from: String,
    to: String,
    before: Option<i64>,
}

impl Filter {
    fn from_query(get: impl Fn(&str) -> Option<String>) -> Self {
        Filter {
            actor: get("actor").unwrap_or_default(),
            action: get("action").unwrap_or_default(),
            from: get("from").unwrap_or_default(),
            to: get("to").unwrap_or_default(),
            before: get("before").and_then(|b| b.trim().parse().ok()),
        }
    }

    fn query(&self) -> String {
        format!(
            "actor={}&action={}&from={}&to={}",
            percent_encode(self.actor.trim()),
            percent_encode(self.action.trim()),
            percent_encode(self.from.trim()),
            percent_encode(self.to.trim())
        )
    }

    fn export_href(&self) -> String {
        format!("/audit/export.csv?{}", self.query())
    }

    /// This filter's page of rows older than `before` (`None`: the newest).
    fn page_href(&self, before: Option<i64>) -> String {
        match before {
            Some(b) => format!("/audit?{}&before={b}", self.query()),
            None => format!("/audit?{}", self.query()),
        }
    }
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let filter = query.with_untracked(|q| Filter::from_query(|k| q.get(k)));
    let shown = filter.clone();
    let page = Resource::new(
        move || shown.clone(),
        |f| list_audit(f.actor, f.action, f.from, f.to, f.before),
    );
    let field = |label: &'static str, name: &'static str, value: String, kind: &'static str| {
        let testid = format!("audit-{name}");
        view! {
            <label class="small">{label} " "
                <input type=kind name=name value=value data-testid=testid list=(name == "action").then_some("audit-actions")/>
            </label>
        }
    };
    let rows_filter = filter.clone();
    view! {
        <section class="panel">
            <div class="panel-head">
                <h1>"Audit trail"</h1>
                <a class="button small" rel="external" download="audit-trail.csv" data-testid="audit-export"
                    href=filter.export_href()>"Export CSV"</a>
            </div>
            <p class="muted small">"Append-only and hash-chained: each row stores the SHA-256 of the row before, so an edit or a removed row breaks the chain at that row. "
                <code>"rustcare-partitions audit verify"</code> " checks it from the shell."</p>
            <ChainCheckPanel/>
            <form class="filters" method="get" action="/audit">
                {field("Actor", "actor", filter.actor.clone(), "text")}
                {field("Action", "action", filter.action.clone(), "text")}
                <datalist id="audit-actions">{ACTIONS.iter().map(|a| view! { <option value=*a/> }).collect_view()}</datalist>
                {field("From", "from", filter.from.clone(), "date")}
                {field("To", "to", filter.to.clone(), "date")}
                <button class="button small" type="submit" data-testid="audit-apply">"Filter"</button>
            </form>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || page.get().map(|r| match r {
                    Ok(p) => view! { <Rows page=p filter=rows_filter.clone()/> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert" data-testid="audit-error">{error_text(&e)}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Rows(page: AuditPage, filter: Filter) -> impl IntoView {
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
            {filter.before.is_some().then(|| view! {
                <a class="button small" data-testid="audit-newest" href=filter.page_href(None)>"Newest"</a>
            })}
            {next.map(|before| view! {
                <a class="button small" data-testid="audit-older" href=filter.page_href(Some(before))>"Older"</a>
            })}
        </p>
    }
    .into_any()
}

/// "Verify the chain": asks the server to check every row's hash, and says what it found.
#[island]
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
