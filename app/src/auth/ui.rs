//! What pages show about the signed-in account: the header's navigation and user bar, and the
//! gate that shows a page only to roles that can use it. Hiding is for the person's benefit; the
//! server functions refuse anyway.

use leptos::prelude::*;

use leptos::server_fn::ServerFn;

use super::api::{session_info, Logout};
use super::{Capability, SessionView};
use crate::forms::{After, PostForm};

type SessionResult = Result<Option<SessionView>, ServerFnError>;

/// The signed-in account, loaded once per page load and shared through context.
#[derive(Clone, Copy)]
pub struct CurrentSession(pub Resource<SessionResult>);

/// Loads the session and puts it in context; call once, in `App`.
pub fn provide_session() -> CurrentSession {
    let session = CurrentSession(Resource::new(|| (), |_| session_info()));
    provide_context(session);
    session
}

fn use_session() -> Option<CurrentSession> {
    use_context::<CurrentSession>()
}

/// The CSRF token the server renders into the page (`<meta name="csrf-token">`); empty when no
/// one is signed in or when not rendering on the server.
pub fn page_csrf_token() -> String {
    #[cfg(feature = "ssr")]
    {
        use_context::<axum::http::request::Parts>()
            .and_then(|p| p.extensions.get::<super::server::CurrentUser>().cloned())
            .map(|u| u.csrf_token)
            .unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    {
        String::new()
    }
}

/// A button-styled link to `href`: reloading a server-rendered page reads its data again.
#[component]
pub fn ReloadLink(href: String, label: &'static str, testid: &'static str) -> impl IntoView {
    view! { <a class="button" href=href data-testid=testid>{label}</a> }
}

/// Navigates with a full page load: after login or logout everything on the page (and the CSRF
/// token in it) must come from the new session.
pub fn full_page_load(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().set_href(path);
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = path;
    }
}

/// The header's navigation: (path, label, capability a role needs to see the link).
const NAV: &[(&str, &str, Capability)] = &[
    ("/", "Overview", Capability::View),
    ("/plan", "Plan", Capability::View),
    ("/health", "Health", Capability::View),
    ("/requests", "Requests", Capability::View),
    ("/audit", "Audit", Capability::View),
    ("/reports", "Reports", Capability::View),
    ("/schedule", "Schedule", Capability::View),
    ("/wall/links", "Wall links", Capability::ManageWallLinks),
    ("/users", "Users", Capability::ManageUsers),
];

/// The header's links and account, for a signed-in session; nothing otherwise.
#[component]
pub fn UserBar() -> impl IntoView {
    let session = use_session();
    view! {
        <Transition fallback=|| ()>
            {move || {
                session
                    .and_then(|s| s.0.get())
                    .and_then(Result::ok)
                    .flatten()
                    .map(|s| view! { <SignedIn session=s/> })
            }}
        </Transition>
    }
}

#[component]
fn SignedIn(session: SessionView) -> impl IntoView {
    let links = NAV
        .iter()
        .filter(|(_, _, needs)| session.can(*needs))
        .map(|&(href, label, _)| {
            let testid = format!("nav-{}", label.to_lowercase().replace(' ', "-"));
            view! { <a href=href data-testid=testid>{label}</a> }
        })
        .collect_view();
    view! {
        <nav class="nav">{links}</nav>
        <div class="account" data-testid="account">
            <span class="who" data-testid="who">{session.label().to_string()}</span>
            <span class="badge role" data-testid="role" title=session.role.summary()>{session.role.name()}</span>
            <LogoutButton/>
        </div>
    }
}

/// "Log out", then the login page (a full page load, so nothing of the old session stays).
#[component]
fn LogoutButton() -> impl IntoView {
    view! {
        <PostForm endpoint=Logout::PATH then=After::GoTo("/login".to_string()) class="logout" testid="logout-form">
            <button type="submit" class="button small" data-testid="logout">"Log out"</button>
        </PostForm>
    }
}

/// Shows `children` to roles with `cap`; to others, a sentence naming the role they need.
#[component]
pub fn Restricted(cap: Capability, children: ChildrenFn) -> impl IntoView {
    let session = use_session();
    let children = StoredValue::new(children);
    view! {
        <Transition fallback=|| view! { <p class="muted">"Checking your role…"</p> }>
            {move || match session.and_then(|s| s.0.get()) {
                None => ().into_any(),
                Some(Ok(Some(s))) if s.can(cap) => children.with_value(|c| c()).into_any(),
                Some(Ok(Some(s))) => view! {
                    <section class="panel" data-testid="forbidden">
                        <h1>"Not available to your role"</h1>
                        <p>{cap.requirement()} " You are signed in as " <strong>{s.username.clone()}</strong>
                           " with the " <strong>{s.role.name()}</strong> " role."</p>
                        <p><a href="/">"Back to the overview"</a></p>
                    </section>
                }.into_any(),
                Some(Ok(None)) => view! {
                    <section class="panel">
                        <h1>"Signed out"</h1>
                        <p>"Your session has ended. " <a href="/login">"Log in"</a> " to continue."</p>
                    </section>
                }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
            }}
        </Transition>
    }
}

/// The sentence of a server function error, without the error kind's prefix.
pub fn error_text(e: &ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(msg) => msg.clone(),
        other => other.to_string(),
    }
}
