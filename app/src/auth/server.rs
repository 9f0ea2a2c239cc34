//! The server side of a request's identity: what a session stores, how a request's session becomes
//! a [`CurrentUser`], and [`require`], the one check every server function makes.

use std::time::Duration;

use axum::http::StatusCode;
use leptos::prelude::*;
use partitioning::access::{Capability, Role};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tower_sessions::Session;

use super::{password, store, SessionView};

/// The session key under which [`SessionAuth`] is stored.
pub const SESSION_KEY: &str = "rustcare.auth";

/// What a signed-in session holds. The account's name and role are read from the database on
/// every request, so a role change or a disabled account takes effect at once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionAuth {
    pub user_id: i64,
    /// `console_users.session_epoch` at login: a password change or disable moves it on.
    pub epoch: i32,
    pub csrf_token: String,
    /// Unix seconds of the last request that refreshed the idle expiry.
    pub seen_at: i64,
}

/// The signed-in account of this request, put into the request's extensions by the server's
/// session middleware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub csrf_token: String,
}

impl CurrentUser {
    pub fn view(&self) -> SessionView {
        SessionView {
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            role: self.role,
        }
    }
}

pub const NOT_SIGNED_IN: &str =
    "You are not signed in (or your session expired after inactivity): log in to continue.";

/// The signed-in account of the current request, if any.
pub async fn current_user() -> Option<CurrentUser> {
    leptos_axum::extract::<axum::Extension<CurrentUser>>()
        .await
        .ok()
        .map(|axum::Extension(user)| user)
}

/// The one authorisation check: the signed-in account, if its role grants `cap`. Otherwise the
/// response becomes 401 (no session) or 403 (role too low) with a body saying what is needed.
pub async fn require(cap: Capability) -> Result<CurrentUser, ServerFnError> {
    let Some(user) = current_user().await else {
        return Err(refuse(StatusCode::UNAUTHORIZED, NOT_SIGNED_IN));
    };
    if !user.role.can(cap) {
        tracing::warn!(user = %user.username, role = %user.role, ?cap, "refused: role lacks capability");
        return Err(refuse(
            StatusCode::FORBIDDEN,
            format!(
                "{} You are signed in as {} with the {} role.",
                cap.requirement(),
                user.username,
                user.role
            ),
        ));
    }
    Ok(user)
}

/// An error for the person, with the HTTP status it should travel with.
pub fn refuse(status: StatusCode, message: impl Into<String>) -> ServerFnError {
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(status);
    }
    ServerFnError::new(message.into())
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Signs `user_id` in on this session: a new session id (so an id planted before login is
/// worthless), a new CSRF token.
pub async fn open_session(
    session: &Session,
    user_id: i64,
    epoch: i32,
) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session
        .insert(
            SESSION_KEY,
            SessionAuth {
                user_id,
                epoch,
                csrf_token: password::random_token(43),
                seen_at: unix_now(),
            },
        )
        .await
}

/// The account signed in on `session`, or `None`. A session whose account is gone, disabled or
/// had its password changed is emptied. Refreshes the idle expiry at most every `touch` (each
/// refresh is a write).
pub async fn resolve(
    pool: &PgPool,
    session: &Session,
    touch: Duration,
) -> Result<Option<CurrentUser>, ResolveError> {
    let Some(mut auth) = session.get::<SessionAuth>(SESSION_KEY).await? else {
        return Ok(None);
    };
    let Some((username, display_name, role)) =
        store::session_account(pool, auth.user_id, auth.epoch).await?
    else {
        session.flush().await?;
        return Ok(None);
    };
    let now = unix_now();
    if now.saturating_sub(auth.seen_at) >= touch.as_secs() as i64 {
        auth.seen_at = now;
        // Modifying the session makes the session layer save it with a fresh expiry.
        session.insert(SESSION_KEY, &auth).await?;
    }
    Ok(Some(CurrentUser {
        id: auth.user_id,
        username,
        display_name,
        role,
        csrf_token: auth.csrf_token,
    }))
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("reading the session failed: {0}")]
    Session(#[from] tower_sessions::session::Error),
    #[error("reading the account failed: {0}")]
    Db(#[from] sqlx::Error),
}
