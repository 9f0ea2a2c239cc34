//! `/login`: the only page open without a session. After signing in, goes to the page that was
//! asked for (`?next=`), with a full page load so everything comes from the new session.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::auth::api::Login;
use crate::auth::ui::{error_text, full_page_load};

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = query.with_untracked(|q| q.get("next").unwrap_or_else(|| "/".to_string()));
    view! {
        <section class="panel narrow">
            <h1>"Log in"</h1>
            <p class="muted">"Sign in with your console account. Ask a console admin if you have none."</p>
            <LoginForm next/>
        </section>
    }
}

/// The form: sent through the login server function (the server checks `next` is a local path).
#[island]
fn LoginForm(next: String) -> impl IntoView {
    let action = ServerAction::<Login>::new();
    Effect::new(move |_| {
        if let Some(Ok(path)) = action.value().get() {
            full_page_load(&path);
        }
    });
    let error = move || {
        action.value().get().and_then(Result::err).map(|e| {
            view! { <p class="error" role="alert" data-testid="login-error">{error_text(&e)}</p> }
        })
    };
    view! {
        <ActionForm action=action attr:class="stacked" attr:data-testid="login-form">
            <label>
                "Username"
                <input name="username" autocomplete="username" required autofocus data-testid="username"/>
            </label>
            <label>
                "Password"
                <input type="password" name="password" autocomplete="current-password" required data-testid="password"/>
            </label>
            <input type="hidden" name="next" value=next/>
            <button type="submit" class="button primary" data-testid="login" disabled=move || action.pending().get()>
                {move || if action.pending().get() { "Signing in…" } else { "Log in" }}
            </button>
        </ActionForm>
        {error}
    }
}
