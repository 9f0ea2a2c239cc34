//! The wall display (`/wall`): dark, large type, fits 1920×1080, refreshes itself (every 30 s;
//! `?every=N` seconds, at least 5). Opened by a signed-in account or with `?token=…` (a
//! read-only link an admin made on `/wall/links`); a revoked or unknown token gets a 403 page.
//! Also the links page for admins and DBAs.

use std::time::Duration;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::wall::{get_wall_data, list_wall_links, WallData, WallLink};
use crate::auth::ui::{error_text, Restricted};
use crate::auth::Capability;
use crate::dashboard::{severity_class, severity_word, OverviewCard};
use crate::format::{count, human_bytes};

#[component]
pub fn WallPage() -> impl IntoView {
    let query = use_query_map();
    let token = query.with_untracked(|q| q.get("token"));
    let every = query
        .with_untracked(|q| q.get("every"))
        .and_then(|e| e.parse::<u64>().ok())
        .unwrap_or(30)
        .max(5);
    view! { <WallLive token every/> }
}

/// The display and its refresh: an island, so a new reading replaces the old one in place (no
/// page load, no blank screen on the TV).
#[island]
fn WallLive(token: Option<String>, every: u64) -> impl IntoView {
    let data = Resource::new(move || (), move |_| get_wall_data(token.clone()));
    Effect::new(move |_| {
        if let Ok(handle) =
            set_interval_with_handle(move || data.refetch(), Duration::from_secs(every))
        {
            on_cleanup(move || handle.clear());
        }
    });
    view! {
        <div class="wall" data-testid="wall">
            <Transition fallback=|| view! { <p class="wall-wait">"Loading…"</p> }>
                {move || data.get().map(|r| match r {
                    Ok(d) => view! { <Wall data=d every/> }.into_any(),
                    Err(e) => view! {
                        <div class="wall-refused" data-testid="wall-refused">
                            <h1>"Access refused"</h1>
                            <p>{error_text(&e)}</p>
                        </div>
                    }.into_any(),
                })}
            </Transition>
        </div>
    }
}

#[component]
fn Wall(data: WallData, every: u64) -> impl IntoView {
    let o = data.overview;
    view! {
        <header class="wall-head">
            <h1>"RustCare partitions"</h1>
            <span class=format!("wall-badge {}", severity_class(o.worst)) data-testid="wall-overall">{severity_word(o.worst)}</span>
            <span class="wall-updated" data-testid="wall-updated" data-at=o.taken_at.to_rfc3339()>
                "Updated " {o.taken_at.format("%H:%M:%S UTC").to_string()} " · every " {every} " s"
            </span>
        </header>
        <div class="wall-grid">
            {o.cards.into_iter().map(|c| view! { <WallTile card=c/> }).collect_view()}
        </div>
        <section class="wall-problems" data-testid="wall-problems">
            {if data.problems.is_empty() {
                view! { <p class="wall-allgood">"No problems: every table is covered ahead and within policy."</p> }.into_any()
            } else {
                let more = data.problems.len().saturating_sub(4);
                view! {
                    <ul>
                        {data.problems.into_iter().take(4).map(|f| view! {
                            <li><span class=format!("wall-badge small {}", severity_class(f.severity))>{severity_word(f.severity)}</span>
                                " " {f.message}</li>
                        }).collect_view()}
                    </ul>
                    {(more > 0).then(|| view! { <p class="wall-more">{format!("and {more} more on the Health page")}</p> })}
                }.into_any()
            }}
        </section>
        <footer class="wall-foot">"Read-only view for " {data.viewer}</footer>
    }
}

#[component]
fn WallTile(card: OverviewCard) -> impl IntoView {
    let ahead_short = card.ahead_days < card.wanted_ahead_days;
    view! {
        <article class=format!("wall-tile {}", severity_class(card.status)) data-testid="wall-tile" data-table=card.table.name()>
            <h2>{card.table.name()}</h2>
            <p class=format!("wall-status {}", severity_class(card.status))>{severity_word(card.status)}</p>
            <dl>
                <dt>"partitions"</dt><dd data-testid="wall-partitions">{count(card.partitions as i64)}</dd>
                <dt>"size"</dt><dd>{human_bytes(card.total_bytes)}</dd>
                <dt>"days ahead"</dt><dd class:wall-warn=ahead_short>{format!("{} / {}", card.ahead_days, card.wanted_ahead_days)}</dd>
                <dt>"past retention"</dt><dd class:wall-warn={card.past_retention > 0}>{count(card.past_retention as i64)}</dd>
            </dl>
        </article>
    }
}

/// `/wall/links`: create and revoke read-only wall links.
#[component]
pub fn WallLinksPage() -> impl IntoView {
    view! {
        <Restricted cap=Capability::ManageWallLinks>
            <WallLinks/>
        </Restricted>
    }
}

/// Creating and revoking answer in place: one island.
#[island]
fn WallLinks() -> impl IntoView {
    let create = ServerAction::<crate::api::wall::CreateWallLink>::new();
    let revoke = ServerAction::<crate::api::wall::RevokeWallLink>::new();
    let links = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_wall_links(),
    );
    let origin = move || {
        #[cfg(feature = "hydrate")]
        {
            window().location().origin().unwrap_or_default()
        }
        #[cfg(not(feature = "hydrate"))]
        {
            String::new()
        }
    };
    view! {
        <section class="panel">
            <h1>"Wall-display links"</h1>
            <p class="muted small">"A link opens " <a href="/wall">"/wall"</a>
                " read-only without a login (for a TV). Only a SHA-256 of each token is stored; the link is shown once. Revoke a link and the display gets “access refused”."</p>
            <ActionForm action=create attr:class="inline-form">
                <label>"Label" <input name="label" required maxlength="100" placeholder="NOC TV, 3rd floor" data-testid="wall-label"/></label>
                <button class="button primary" type="submit" data-testid="wall-create">"Create link"</button>
            </ActionForm>
            {move || create.value().get().map(|r| match r {
                Ok(l) => view! {
                    <p class="notice" data-testid="wall-new">"Link for “" {l.label} "” (copy it now, it is not shown again): "
                        <code data-testid="wall-new-path" data-path=l.path.clone()>{format!("{}{}", origin(), l.path)}</code></p>
                }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
            })}
            {move || revoke.value().get().map(|r| match r {
                Ok(msg) => view! { <p class="notice" data-testid="wall-revoked">{msg}</p> }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
            })}
            <Suspense fallback=|| view! { <p class="muted">"Loading links…"</p> }>
                {move || links.get().map(|r| match r {
                    Ok(list) => view! { <LinkTable links=list revoke/> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn LinkTable(
    links: Vec<WallLink>,
    revoke: ServerAction<crate::api::wall::RevokeWallLink>,
) -> impl IntoView {
    if links.is_empty() {
        return view! { <p class="muted">"No links yet."</p> }.into_any();
    }
    view! {
        <table class="data" data-testid="wall-links">
            <thead><tr><th scope="col">"Label"</th><th scope="col">"Created by"</th><th scope="col">"Created (UTC)"</th><th scope="col">"State"</th><th scope="col"></th></tr></thead>
            <tbody>
                {links.into_iter().map(|l| {
                    let id = l.id;
                    let live = l.revoked_at.is_none();
                    view! {
                        <tr data-testid="wall-link" data-label=l.label.clone()>
                            <td>{l.label.clone()}</td>
                            <td>{l.created_by}</td>
                            <td class="num">{l.created_at.format("%Y-%m-%d %H:%M").to_string()}</td>
                            <td>{match l.revoked_at {
                                None => view! { <span class="badge ok">"active"</span> }.into_any(),
                                Some(t) => view! { <span class="badge crit">{format!("revoked {}", t.format("%Y-%m-%d %H:%M"))}</span> }.into_any(),
                            }}</td>
                            <td>{live.then(|| view! {
                                <button class="button small" data-testid="wall-revoke"
                                    on:click=move |_| { revoke.dispatch(crate::api::wall::RevokeWallLink { id }); }>
                                    {format!("Revoke “{}”", l.label)}
                                </button>
                            })}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
