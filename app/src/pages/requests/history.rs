//! The request's history: every state change from the audit trail, oldest first, each with who,
//! when, and the comment, reason or outcome.

use leptos::prelude::*;
use partitioning::approval::HistoryEntry;

#[component]
pub(super) fn History(entries: Vec<HistoryEntry>) -> impl IntoView {
    if entries.is_empty() {
        return view! { <p class="muted" data-testid="no-history">"No recorded events."</p> }
            .into_any();
    }
    view! {
        <ol class="timeline" data-testid="history">
            {entries.into_iter().map(|e| {
                let class = format!("badge {}", e.tone);
                let data_event = e.event.clone();
                view! {
                    <li data-testid="history-entry" data-event=data_event data-audit-id=e.audit_id.to_string()>
                        <span class="num">{e.at.format("%Y-%m-%d %H:%M:%S UTC").to_string()}</span>
                        " "<span class=class>{e.event}</span>
                        " by "<strong>{e.actor}</strong>
                        {(!e.detail.is_empty()).then(|| view! { <span class="small">{format!(" — {}", e.detail)}</span> })}
                    </li>
                }
            }).collect_view()}
        </ol>
    }
    .into_any()
}
