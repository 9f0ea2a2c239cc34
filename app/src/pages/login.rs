//! `/login`: the only page open without a session. After signing in, goes to the page that was
//! asked for (`?next=`), with a full page load so everything comes from the new session.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use leptos::server_fn::ServerFn;

use crate::auth::api::Login;
use crate::forms::{After, PostForm};

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

/// The form, posted to the login server function (which checks that `next` is a local path);
/// signed in, the browser goes there with a full page load.
#[component]
fn LoginForm(next: String) -> impl IntoView {
    view! {
        <PostForm endpoint=Login::PATH then=After::GoToAnswer class="stacked" testid="login-form">
            <label>
                "Username"
                <input name="username" autocomplete="username" required autofocus data-testid="username"/>
            </label>
            <label>
                "Password"
                <input type="password" name="password" autocomplete="current-password" required data-testid="password"/>
            </label>
            <input type="hidden" name="next" value=next.clone()/>
            <button type="submit" class="button primary" data-testid="login">"Log in"</button>
        </PostForm>
    }
}
