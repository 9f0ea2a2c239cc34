//! Server functions for signing in and out and for managing console accounts (admins only).

use leptos::prelude::*;

use super::{AccountRow, CsrfClient, SessionView};

/// Signs in; returns the local path to go to next. Refused (429) while the account or the address
/// is throttled; wrong credentials get one message whether or not the account exists.
#[server(prefix = "/api/public", endpoint = "login", client = CsrfClient)]
pub async fn login(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<String, ServerFnError> {
    use ssr::*;
    let pool = crate::api::ssr::pool()?;
    let name = username.trim().to_ascii_lowercase();
    let ip = client_ip().await;
    let db = |e| crate::api::ssr::db_error("signing in", e);

    if let Some(t) = store::throttled(&pool, &name, ip).await.map_err(db)? {
        store::record_attempt(&pool, &name, ip, "throttled")
            .await
            .map_err(db)?;
        let why = match &t {
            store::Throttle::Account { .. } => "account locked after failed logins",
            store::Throttle::Address { .. } => "address locked after failed logins",
        };
        record(
            &pool,
            &name,
            "login_failed",
            user_subject(&name),
            json!({"reason": why, "ip": ip}),
        )
        .await;
        return Err(refuse(
            StatusCode::TOO_MANY_REQUESTS,
            throttle_message(&name, &t),
        ));
    }
    let candidate = store::login_candidate(&pool, &name).await.map_err(db)?;
    let ok = password::verify_async(
        password,
        candidate.as_ref().map(|c| c.password_hash.clone()),
    )
    .await;
    let account = match candidate {
        Some(account) if ok => account,
        other => {
            store::record_attempt(&pool, &name, ip, "failed")
                .await
                .map_err(db)?;
            if let Some(c) = other {
                store::record_failure(&pool, c.id).await.map_err(db)?;
            }
            tracing::info!(username = %name, ?ip, "login failed");
            record(
                &pool,
                &name,
                "login_failed",
                user_subject(&name),
                json!({"reason": "wrong username or password", "ip": ip}),
            )
            .await;
            return Err(refuse(
                StatusCode::UNAUTHORIZED,
                "Wrong username or password.",
            ));
        }
    };
    if account.disabled {
        store::record_attempt(&pool, &name, ip, "disabled")
            .await
            .map_err(db)?;
        record(
            &pool,
            &name,
            "login_failed",
            user_subject(&name),
            json!({"reason": "account disabled", "ip": ip}),
        )
        .await;
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "This account is disabled: ask a console admin to enable it.",
        ));
    }
    let session = leptos_axum::extract::<Session>().await.map_err(|e| {
        ServerFnError::new(format!("the server has no session support configured: {e}"))
    })?;
    open_session(&session, account.id, account.session_epoch)
        .await
        .map_err(|e| ServerFnError::new(format!("opening the session failed: {e}")))?;
    store::record_success(&pool, account.id).await.map_err(db)?;
    store::record_attempt(&pool, &name, ip, "ok")
        .await
        .map_err(db)?;
    tracing::info!(username = %name, ?ip, "login");
    record(
        &pool,
        &name,
        "login",
        user_subject(&name),
        json!({"ip": ip}),
    )
    .await;
    let next = super::safe_next(next.as_deref());
    if is_plain_form_post() {
        // Without WASM the browser posted the form itself: send it on like a normal form.
        leptos_axum::redirect(&next);
    }
    Ok(next)
}

/// Who is signed in on this browser, if anyone.
#[server(prefix = "/api/public", endpoint = "session", client = CsrfClient)]
pub async fn session_info() -> Result<Option<SessionView>, ServerFnError> {
    Ok(super::server::current_user().await.map(|u| u.view()))
}

/// Ends this browser's session (the row in PostgreSQL is deleted, the cookie removed).
#[server(prefix = "/api", endpoint = "logout", client = CsrfClient)]
pub async fn logout() -> Result<(), ServerFnError> {
    use ssr::*;
    let user = require(Capability::View).await?;
    let session = leptos_axum::extract::<Session>().await.map_err(|e| {
        ServerFnError::new(format!("the server has no session support configured: {e}"))
    })?;
    session
        .flush()
        .await
        .map_err(|e| ServerFnError::new(format!("ending the session failed: {e}")))?;
    tracing::info!(username = %user.username, "logout");
    if let Ok(pool) = crate::api::ssr::pool() {
        record(
            &pool,
            &user.username,
            "logout",
            user_subject(&user.username),
            json!({}),
        )
        .await;
    }
    Ok(())
}

/// Every console account.
#[server(prefix = "/api", endpoint = "accounts", client = CsrfClient)]
pub async fn list_accounts() -> Result<Vec<AccountRow>, ServerFnError> {
    use ssr::*;
    require(Capability::ManageUsers).await?;
    let pool = crate::api::ssr::pool()?;
    store::list(&pool).await.map_err(store_error)
}

/// Creates an account. Returns a sentence saying what was done.
#[server(prefix = "/api", endpoint = "account_add", client = CsrfClient)]
pub async fn add_account(
    username: String,
    display_name: String,
    role: String,
    password: String,
    confirm: String,
) -> Result<String, ServerFnError> {
    use ssr::*;
    let admin = require(Capability::ManageUsers).await?;
    let pool = crate::api::ssr::pool()?;
    let name = parse_username(&username)?;
    let role = parse_role(&role)?;
    same_passwords(&password, &confirm)?;
    store::create(&pool, &name, &display_name, role, &password)
        .await
        .map_err(store_error)?;
    tracing::info!(by = %admin.username, username = %name, %role, "account created");
    record(
        &pool,
        &admin.username,
        "user_added",
        user_subject(name.as_str()),
        json!({"role": role.name()}),
    )
    .await;
    Ok(format!("Account {name} created with the {role} role."))
}

#[server(prefix = "/api", endpoint = "account_set_role", client = CsrfClient)]
pub async fn set_account_role(username: String, role: String) -> Result<String, ServerFnError> {
    use ssr::*;
    let admin = require(Capability::ManageUsers).await?;
    let pool = crate::api::ssr::pool()?;
    let name = parse_username(&username)?;
    let role = parse_role(&role)?;
    if name.as_str() == admin.username && role != Role::Admin {
        return Err(refuse(
            StatusCode::CONFLICT,
            "You cannot take the admin role from your own account: ask another admin.",
        ));
    }
    store::set_role(&pool, &name, role)
        .await
        .map_err(store_error)?;
    tracing::info!(by = %admin.username, username = %name, %role, "role changed");
    record(
        &pool,
        &admin.username,
        "user_changed",
        user_subject(name.as_str()),
        json!({"change": "role", "role": role.name()}),
    )
    .await;
    Ok(format!("{name} now has the {role} role."))
}

#[server(prefix = "/api", endpoint = "account_set_disabled", client = CsrfClient)]
pub async fn set_account_disabled(
    username: String,
    disabled: bool,
) -> Result<String, ServerFnError> {
    use ssr::*;
    let admin = require(Capability::ManageUsers).await?;
    let pool = crate::api::ssr::pool()?;
    let name = parse_username(&username)?;
    if disabled && name.as_str() == admin.username {
        return Err(refuse(
            StatusCode::CONFLICT,
            "You cannot disable your own account.",
        ));
    }
    store::set_disabled(&pool, &name, disabled)
        .await
        .map_err(store_error)?;
    tracing::info!(by = %admin.username, username = %name, disabled, "account enabled/disabled");
    record(
        &pool,
        &admin.username,
        "user_changed",
        user_subject(name.as_str()),
        json!({"change": if disabled { "disabled" } else { "enabled" }}),
    )
    .await;
    Ok(if disabled {
        format!("{name} is disabled; their sessions have ended.")
    } else {
        format!("{name} is enabled again.")
    })
}

#[server(prefix = "/api", endpoint = "account_reset_password", client = CsrfClient)]
pub async fn reset_account_password(
    username: String,
    password: String,
    confirm: String,
) -> Result<String, ServerFnError> {
    use ssr::*;
    let admin = require(Capability::ManageUsers).await?;
    let pool = crate::api::ssr::pool()?;
    let name = parse_username(&username)?;
    same_passwords(&password, &confirm)?;
    store::set_password(&pool, &name, &password)
        .await
        .map_err(store_error)?;
    tracing::info!(by = %admin.username, username = %name, "password reset");
    record(
        &pool,
        &admin.username,
        "user_changed",
        user_subject(name.as_str()),
        json!({"change": "password reset"}),
    )
    .await;
    Ok(format!(
        "{name} has a new password; their sessions have ended and any lock is lifted."
    ))
}

#[cfg(feature = "ssr")]
mod ssr {
    //! What the account server functions share.
    pub use crate::api::audit::ssr::record;
    pub use crate::auth::server::{open_session, refuse, require};
    pub use crate::auth::{password, store};
    pub use axum::http::StatusCode;
    pub use partitioning::access::{Capability, Role, Username};
    pub use serde_json::json;
    pub use tower_sessions::Session;

    use std::net::{IpAddr, SocketAddr};

    use chrono::Utc;
    use leptos::prelude::*;

    /// The peer address (the server is served with connect info).
    pub async fn client_ip() -> Option<IpAddr> {
        leptos_axum::extract::<axum::extract::ConnectInfo<SocketAddr>>()
            .await
            .ok()
            .map(|axum::extract::ConnectInfo(addr)| addr.ip())
    }

    /// `user:<name>`, the audit subject of an account.
    pub fn user_subject(name: &str) -> String {
        format!("user:{}", name.chars().take(100).collect::<String>())
    }

    /// A browser posting the form without WASM asks for HTML; the WASM client asks for JSON.
    pub fn is_plain_form_post() -> bool {
        use_context::<axum::http::request::Parts>()
            .and_then(|p| p.headers.get(axum::http::header::ACCEPT).cloned())
            .and_then(|v| v.to_str().map(|s| s.contains("text/html")).ok())
            .unwrap_or(false)
    }

    pub fn throttle_message(name: &str, t: &store::Throttle) -> String {
        let (until, what) = match t {
            store::Throttle::Account { until } => (until, format!("for '{name}'")),
            store::Throttle::Address { until } => (until, "from your address".to_string()),
        };
        let minutes = ((*until - Utc::now()).num_seconds().max(0) + 59) / 60;
        format!(
            "Too many failed logins {what}: locked until {} UTC (about {minutes} min). \
             Try again then, or ask a console admin to reset the password.",
            until.format("%H:%M")
        )
    }

    pub fn parse_username(text: &str) -> Result<Username, ServerFnError> {
        Username::parse(text)
            .map_err(|e| refuse(StatusCode::UNPROCESSABLE_ENTITY, capitalise(&e.0)))
    }

    pub fn parse_role(text: &str) -> Result<Role, ServerFnError> {
        Role::parse(text)
            .map_err(|e| refuse(StatusCode::UNPROCESSABLE_ENTITY, capitalise(&e.to_string())))
    }

    pub fn same_passwords(password: &str, confirm: &str) -> Result<(), ServerFnError> {
        if password != confirm {
            return Err(refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "The two passwords differ: type the same password twice.",
            ));
        }
        Ok(())
    }

    pub fn store_error(e: store::StoreError) -> ServerFnError {
        use store::StoreError::*;
        let status = match &e {
            Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Exists(_) | LastAdmin(_) => StatusCode::CONFLICT,
            NotFound(_) => StatusCode::NOT_FOUND,
            Hash(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Db(_) => {
                if let Db(err) = e {
                    return crate::api::ssr::db_error("updating console accounts", err);
                }
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        refuse(status, capitalise(&e.to_string()))
    }

    fn capitalise(s: &str) -> String {
        let mut c = s.chars();
        match c.next() {
            Some(f) => {
                f.to_uppercase().chain(c).collect::<String>()
                    + if s.ends_with('.') { "" } else { "." }
            }
            None => String::new(),
        }
    }
}
