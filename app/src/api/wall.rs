//! The wall display's data and its read-only link tokens. `/wall?token=…` lets a TV show the
//! dashboard without a login: only the token's SHA-256 is stored, a revoked or unknown token is
//! refused (403). Signed-in accounts need no token. Admins and DBAs create and revoke links.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use partitioning::health::Finding;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::auth::Capability;
use crate::auth::CsrfClient;
use crate::dashboard::Overview;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WallData {
    pub overview: Overview,
    /// Warnings and criticals, worst first.
    pub problems: Vec<Finding>,
    /// Who is looking: the account, or the link's label.
    pub viewer: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WallLink {
    pub id: i64,
    pub label: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A link just made: the only time its token is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWallLink {
    pub label: String,
    pub path: String,
}

pub const REFUSED: &str =
    "This wall-display link was revoked or is not valid. Ask a console admin for a new link (Wall links page).";

/// The wall's numbers. Public endpoint: it authenticates by session or by link token itself.
#[server(prefix = "/api/public", endpoint = "wall_data", client = CsrfClient)]
pub async fn get_wall_data(token: Option<String>) -> Result<WallData, ServerFnError> {
    use axum::http::StatusCode;
    use partitioning::health::Severity;
    let pool = super::ssr::pool()?;
    let viewer = match crate::auth::server::current_user().await {
        Some(user) if user.role.can(Capability::View) => user.view().label().to_string(),
        _ => {
            let token = token.unwrap_or_default();
            match ssr::token_label(&pool, &token)
                .await
                .map_err(|e| super::ssr::db_error("checking the wall link", e))?
            {
                Some(label) => format!("wall link “{label}”"),
                None => return Err(crate::auth::server::refuse(StatusCode::FORBIDDEN, REFUSED)),
            }
        }
    };
    let r = super::console::read(&pool).await?;
    let mut problems: Vec<Finding> = r
        .health
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Ok)
        .cloned()
        .collect();
    problems.sort_by_key(|f| std::cmp::Reverse(f.severity));
    Ok(WallData {
        overview: crate::dashboard::overview(
            &r.config,
            &r.snapshot.tables,
            &r.health,
            r.snapshot.taken_at,
        ),
        problems,
        viewer,
    })
}

#[server(prefix = "/api", endpoint = "wall_links", client = CsrfClient)]
pub async fn list_wall_links() -> Result<Vec<WallLink>, ServerFnError> {
    crate::auth::server::require(Capability::ManageWallLinks).await?;
    let pool = super::ssr::pool()?;
    ssr::list(&pool)
        .await
        .map_err(|e| super::ssr::db_error("listing wall links", e))
}

#[server(prefix = "/api", endpoint = "wall_link_create", client = CsrfClient)]
pub async fn create_wall_link(label: String) -> Result<NewWallLink, ServerFnError> {
    let user = crate::auth::server::require(Capability::ManageWallLinks).await?;
    let label = label.trim().to_string();
    if label.is_empty() || label.chars().count() > 100 {
        return Err(ServerFnError::new(
            "Give the link a label of 1 to 100 characters, e.g. “NOC TV, 3rd floor”.",
        ));
    }
    let pool = super::ssr::pool()?;
    let token = crate::auth::password::random_token(43);
    ssr::insert(&pool, &token, &label, &user.username)
        .await
        .map_err(|e| super::ssr::db_error("creating the wall link", e))?;
    tracing::info!(by = %user.username, %label, "wall link created");
    crate::api::audit::ssr::record(
        &pool,
        &user.username,
        "wall_link_created",
        format!("wall_link:{label}"),
        serde_json::json!({"label": label}),
    )
    .await;
    Ok(NewWallLink {
        label,
        path: format!("/wall?token={token}"),
    })
}

#[server(prefix = "/api", endpoint = "wall_link_revoke", client = CsrfClient)]
pub async fn revoke_wall_link(id: i64) -> Result<String, ServerFnError> {
    let user = crate::auth::server::require(Capability::ManageWallLinks).await?;
    let pool = super::ssr::pool()?;
    let label = ssr::revoke(&pool, id)
        .await
        .map_err(|e| super::ssr::db_error("revoking the wall link", e))?;
    match label {
        Some(label) => {
            tracing::info!(by = %user.username, %label, "wall link revoked");
            crate::api::audit::ssr::record(
                &pool,
                &user.username,
                "wall_link_revoked",
                format!("wall_link:{id}"),
                serde_json::json!({"id": id, "label": label}),
            )
            .await;
            Ok(format!(
                "The link “{label}” is revoked: a display using it now gets “access refused”."
            ))
        }
        None => Err(ServerFnError::new(
            "That link does not exist or was already revoked. Reload the list.",
        )),
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use chrono::{DateTime, Utc};
    use sha2::{Digest, Sha256};
    use sqlx::PgPool;

    use super::WallLink;

    pub fn hash(token: &str) -> String {
        hex::encode(Sha256::digest(token.as_bytes()))
    }

    /// The label of the live link with this token, if any.
    pub async fn token_label(pool: &PgPool, token: &str) -> Result<Option<String>, sqlx::Error> {
        if token.is_empty() || token.len() > 200 {
            return Ok(None);
        }
        sqlx::query_scalar(
            "SELECT label FROM wall_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash(token))
        .fetch_optional(pool)
        .await
    }

    pub async fn insert(
        pool: &PgPool,
        token: &str,
        label: &str,
        by: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO wall_tokens (token_hash, label, created_by) VALUES ($1, $2, $3)")
            .bind(hash(token))
            .bind(label)
            .bind(by)
            .execute(pool)
            .await
            .map(|_| ())
    }

    pub async fn revoke(pool: &PgPool, id: i64) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("UPDATE wall_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING label")
            .bind(id)
            .fetch_optional(pool)
            .await
    }

    type LinkRow = (i64, String, String, DateTime<Utc>, Option<DateTime<Utc>>);

    pub async fn list(pool: &PgPool) -> Result<Vec<WallLink>, sqlx::Error> {
        let rows: Vec<LinkRow> = sqlx::query_as(
            "SELECT id, label, created_by, created_at, revoked_at FROM wall_tokens \
                 ORDER BY revoked_at IS NOT NULL, created_at DESC",
        )
        .fetch_all(pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, label, created_by, created_at, revoked_at)| WallLink {
                id,
                label,
                created_by,
                created_at,
                revoked_at,
            })
            .collect())
    }
}
