//! The page for a URL the console does not have.

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(axum_status_not_found());
        }
    }
    view! {
        <section class="panel">
            <h1>"Page not found"</h1>
            <p>"The console has no page at this address. " <a href="/">"Go to the overview"</a> "."</p>
        </section>
    }
}

#[cfg(feature = "ssr")]
fn axum_status_not_found() -> axum::http::StatusCode {
    axum::http::StatusCode::NOT_FOUND
}
