//! The overview (`/`): a card per managed table — health word and colour, partitions, size, days
//! covered ahead, oldest partition against the retention line, rows in the default partition —
//! above the summary table.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::dashboard::overview_cards;
use crate::auth::ui::{error_text, ReloadLink};
use crate::dashboard::{severity_class, severity_word, Overview, OverviewCard};
use crate::format::{bound_date, count, human_bytes};

#[component]
pub fn OverviewPage() -> impl IntoView {
    let cards = Resource::new(|| (), |_| overview_cards());
    view! {
        <section class="panel">
            <div class="panel-head">
                <h1>"Overview"</h1>
                <ReloadLink href="/".to_string() label="Refresh" testid="refresh-cards"/>
            </div>
            <Suspense fallback=|| view! { <p class="muted">"Reading the catalog…"</p> }>
                {move || cards.get().map(|r| match r {
                    Ok(o) => view! { <Cards overview=o/> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                })}
            </Suspense>
        </section>
        <super::home::HomePage/>
    }
}

#[component]
fn Cards(overview: Overview) -> impl IntoView {
    view! {
        <p class="muted small">
            "As of " {overview.taken_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()}
            ". Overall: " <span class=format!("badge {}", severity_class(overview.worst)) data-testid="overall">
                {severity_word(overview.worst)}</span>
        </p>
        <div class="cards">
            {overview.cards.into_iter().map(|c| view! { <Card card=c/> }).collect_view()}
        </div>
    }
}

#[component]
pub fn Card(card: OverviewCard) -> impl IntoView {
    let name = card.table.name();
    let ahead_ok = card.ahead_days >= card.wanted_ahead_days;
    let oldest = card.oldest_lower;
    let behind_line = oldest.is_some_and(|o| o < card.cutoff);
    let retention_text = if card.past_retention > 0 {
        format!("{} past retention", count(card.past_retention as i64))
    } else if behind_line {
        "reaches the retention line".to_string()
    } else {
        "within retention".to_string()
    };
    let default_text = match card.default_rows {
        None => "no default partition".to_string(),
        Some(0) => "0 (empty)".to_string(),
        Some(n) => count(n),
    };
    let default_bad = card.default_rows.is_some_and(|n| n > 0);
    view! {
        <article class=format!("card {}", severity_class(card.status)) data-testid="card" data-table=name>
            <header>
                <h2><A href=format!("/tables/{name}")>{name}</A></h2>
                <span class=format!("badge {}", severity_class(card.status)) data-testid="card-status">
                    {severity_word(card.status)}
                </span>
            </header>
            <dl>
                <dt>"Partitions"</dt>
                <dd class="num" data-testid="card-partitions" data-value=card.partitions>{count(card.partitions as i64)}</dd>
                <dt title="Heap, index and TOAST pages as the catalog counted them at the last VACUUM or ANALYZE; the exact size on disk is in the table below">"Size (catalog est.)"</dt>
                <dd class="num" data-testid="card-size" data-value=card.total_bytes>{human_bytes(card.total_bytes)}</dd>
                <dt>"Covered ahead"</dt>
                <dd class="num" data-testid="card-ahead" data-value=card.ahead_days>
                    <span class={if ahead_ok { "" } else { "text-warn" }}>{format!("{} days", card.ahead_days)}</span>
                    <span class="muted">{format!(" of {} wanted", card.wanted_ahead_days)}</span>
                </dd>
                <dt>"Oldest partition"</dt>
                <dd class="num" data-testid="card-oldest">
                    {bound_date(oldest)}
                    <span class="muted">{format!(" · line {} ({})", card.cutoff.format("%Y-%m-%d"), card.retention)}</span>
                </dd>
                <dt>"Retention"</dt>
                <dd data-testid="card-retention" data-value=card.past_retention class={if card.past_retention > 0 { "text-warn" } else { "" }}>
                    {retention_text}
                </dd>
                <dt>"Rows in default"</dt>
                <dd class="num" data-testid="card-default" class:text-warn=default_bad>{default_text}</dd>
            </dl>
            <ul class="problems">
                {card.problems.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}
            </ul>
        </article>
    }
}
