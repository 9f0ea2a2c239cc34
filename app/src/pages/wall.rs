//! The wall display (`/wall`): dark, large type, fits 1920×1080, refreshes itself (every 30 s;
//! `?every=N` seconds, at least 5). Opened by a signed-in account or with `?token=…` (a
//! read-only link an admin made on `/wall/links`); a revoked or unknown token gets a 403 page.
//! Also the links page for admins and DBAs.

use std::time::Duration;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use leptos::server_fn::ServerFn;

use crate::api::wall::{
    get_wall_data, list_wall_links, CreateWallLink, RevokeWallLink, WallData, WallLink,
};
use crate::auth::ui::{error_text, Restricted};
use crate::auth::Capability;
use crate::dashboard::{severity_class, severity_word, OverviewCard};
use crate::format::{count, human_bytes};
use crate::forms::{After, Flash, PostForm};

#[component]
pub fn WallPage() -> impl IntoView {
    let query = use_query_map();
    let token = query.with_untracked(|q| q.get("token"));
    let every = query
        .with_untracked(|q| q.get("every"))
        .and_then(|e| e.parse::<u64>().ok())
        .unwrap_or(30)
        .max(5);
    let data = Resource::new(move || (), move |_| get_wall_data(token.clone()));
    view! {
        <div class="wall" data-testid="wall">
            <Transition fallback=|| view! { <p class="wall-wait">"Loading…"</p> }>
                {move || data.get().map(|r| match r {
                    Ok(d) => view! { <Wall data=d every/> <WallRefresh every/> }.into_any(),
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

/// Reads the wall again every `every` seconds: asks the server first (a HEAD of this page) and
/// loads the page only once it answers, so a restart or a network cut leaves the last reading on
/// the screen (marked stale) instead of a browser error page, and the display comes back by itself.
#[island]
fn WallRefresh(every: u64) -> impl IntoView {
    let stale = RwSignal::new(false);
    Effect::new(move |_| {
        let tick = move || {
            #[cfg(feature = "hydrate")]
            leptos::task::spawn_local(async move {
                let here = window().location().href().unwrap_or_default();
                match gloo_net::http::RequestBuilder::new(&here)
                    .method(gloo_net::http::Method::HEAD)
                    .send()
                    .await
                {
                    Ok(_) => {
                        let _ = window().location().reload();
                    }
                    Err(_) => stale.set(true),
                }
            });
        };
        if let Ok(handle) = set_interval_with_handle(tick, Duration::from_secs(every)) {
            on_cleanup(move || handle.clear());
        }
    });
    view! {
        {move || stale.get().then(|| view! {
            <p class="wall-stale" data-testid="wall-stale">"The server is not answering: this is the last reading. Trying again every " {every} " s."</p>
        })}
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

/// The links, rendered on the server; creating and revoking are [`PostForm`]s, after which the
/// page loads again with the answer on top (a new link's address shown this once).
#[component]
fn WallLinks() -> impl IntoView {
    let links = Resource::new(|| (), |_| list_wall_links());
    view! {
        <section class="panel">
            <h1>"Wall-display links"</h1>
            <p class="muted small">"A link opens " <a href="/wall">"/wall"</a>
                " read-only without a login (for a TV). Only a SHA-256 of each token is stored; the link is shown once. Revoke a link and the display gets “access refused”."</p>
            <Flash/>
            <PostForm endpoint=CreateWallLink::PATH then=After::ReloadAndShowLink class="inline-form" testid="wall-create-form">
                <label>"Label" <input name="label" required maxlength="100" placeholder="NOC TV, 3rd floor" data-testid="wall-label"/></label>
                <button class="button primary" type="submit" data-testid="wall-create">"Create link"</button>
            </PostForm>
            <Suspense fallback=|| view! { <p class="muted">"Loading links…"</p> }>
                {move || links.get().map(|r| match r {
                    Ok(list) => view! { <LinkTable links=list/> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn LinkTable(links: Vec<WallLink>) -> impl IntoView {
    if links.is_empty() {
        return view! { <p class="muted">"No links yet."</p> }.into_any();
    }
    view! {
        <table class="data" data-testid="wall-links">
            <thead><tr><th scope="col">"Label"</th><th scope="col">"Created by"</th><th scope="col">"Created (UTC)"</th><th scope="col">"State"</th><th scope="col"></th></tr></thead>
            <tbody>
                {links.into_iter().map(|l| {
                    let id = l.id.to_string();
                    let revoke_label = format!("Revoke “{}”", l.label);
                    view! {
                        <tr data-testid="wall-link" data-label=l.label.clone()>
                            <td>{l.label.clone()}</td>
                            <td>{l.created_by}</td>
                            <td class="num">{l.created_at.format("%Y-%m-%d %H:%M").to_string()}</td>
                            <td>{match l.revoked_at {
                                None => view! { <span class="badge ok">"active"</span> }.into_any(),
                                Some(t) => view! { <span class="badge crit">{format!("revoked {}", t.format("%Y-%m-%d %H:%M"))}</span> }.into_any(),
                            }}</td>
                            <td>{l.revoked_at.is_none().then(|| view! {
                                <PostForm endpoint=RevokeWallLink::PATH then=After::ReloadAndSay class="row-form" testid="wall-revoke-form">
                                    <input type="hidden" name="id" value=id.clone()/>
                                    <button class="button small" type="submit" data-testid="wall-revoke">{revoke_label.clone()}</button>
                                </PostForm>
                            })}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
