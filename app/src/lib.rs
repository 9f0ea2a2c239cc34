//! The RustCare Partitions console: the Leptos app (rendered on the server, hydrated in the browser)
//! and the `#[server]` functions it calls.

pub mod api;
pub mod auth;
pub mod charts;
pub mod dashboard;
pub mod format;
pub mod forms;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{ParamSegment, SsrMode, StaticSegment};

/// The HTML document around the app (server side).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // The signed-in session's CSRF token, for `auth::CsrfClient` to send back with every call.
    let csrf = auth::ui::page_csrf_token();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name=auth::CSRF_META content=csrf/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    auth::ui::provide_session();
    view! {
        <Stylesheet id="leptos" href="/pkg/rustcare-partitions.css"/>
        <Title text="RustCare Partitions"/>
        <Router>
            <header class="topbar">
                <A href="/" attr:class="brand">"RustCare Partitions"</A>
                <span class="tagline">"PostgreSQL partitioning for the RustCare auth tables"</span>
                <auth::ui::UserBar/>
            </header>
            <main>
                <Routes fallback=pages::not_found::NotFound>
                    <Route path=StaticSegment("") view=pages::overview::OverviewPage/>
                    <Route path=(StaticSegment("tables"), ParamSegment("name")) view=pages::table::TablePage/>
                    <Route path=StaticSegment("plan") view=pages::plan::PlanPage/>
                    <Route path=StaticSegment("health") view=pages::health::HealthPage/>
                    <Route path=StaticSegment("requests") view=pages::requests::RequestsPage/>
                    <Route path=(StaticSegment("requests"), ParamSegment("id")) view=pages::requests::RequestPage/>
                    <Route path=StaticSegment("audit") view=pages::audit::AuditPage/>
                    <Route path=StaticSegment("reports") view=pages::reports::ReportsPage/>
                    <Route path=(StaticSegment("reports"), ParamSegment("id")) view=pages::report_view::ReportViewPage/>
                    <Route path=StaticSegment("schedule") view=pages::schedule::SchedulePage/>
                    // Async: the whole page waits for the link check, so a refused token answers 403.
                    <Route path=StaticSegment("wall") view=pages::wall::WallPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("wall"), StaticSegment("links")) view=pages::wall::WallLinksPage/>
                    <Route path=StaticSegment("login") view=pages::login::LoginPage/>
                    <Route path=StaticSegment("users") view=pages::users::UsersPage/>
                </Routes>
            </main>
        </Router>
    }
}

/// The browser entry point: attaches the app to the server-rendered HTML.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Islands mode: the page is server-rendered HTML; the script Leptos puts in the head calls
    // this, then hydrates each `<leptos-island>` in the same turn of the event loop.
    leptos::mount::hydrate_islands();
    // A marker for browser tests: set on the next turn, after every island has hydrated, so from
    // then on the buttons and forms go through the WASM client (with the CSRF token).
    set_timeout(
        || {
            if let Some(body) = document().body() {
                let _ = body.set_attribute("data-hydrated", "true");
            }
        },
        std::time::Duration::ZERO,
    );
}
