//! The audit trail in the console: pages of it (filter by actor, action, date), a chain check,
//! and `record`, which the console's own actions (logins, user and wall-link changes) call.
//! The CSV export is an axum route (`/audit/export.csv`, server crate) with the same filters.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::auth::Capability;
use crate::auth::CsrfClient;

/// Rows per page.
pub const PAGE: i64 = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub rows: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page; None on the last page.
    pub next_before: Option<i64>,
}

/// The result of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainCheck {
    pub rows: i64,
    /// The first broken link, in words; None when intact.
    pub broken: Option<String>,
    pub head_hash: Option<String>,
}

/// One page of the trail, newest first. Empty strings mean "any"; dates are YYYY-MM-DD (UTC),
/// `to` inclusive.
#[server(prefix = "/api", endpoint = "audit", client = CsrfClient)]
pub async fn list_audit(
    actor: String,
    action: String,
    from: String,
    to: String,
    before: Option<i64>,
) -> Result<AuditPage, ServerFnError> {
    crate::auth::server::require(Capability::View).await?;
    let pool = super::ssr::pool()?;
    let mut filter = ssr::filter(&actor, &action, &from, &to)?;
    filter.before_id = before;
    let rows = partitioning::pg::audit::list(&pool, &filter, PAGE + 1, false)
        .await
        .map_err(|e| super::ssr::db_error("reading the audit trail", e))?;
    let more = rows.len() as i64 > PAGE;
    let rows: Vec<AuditEntry> = rows
        .into_iter()
        .take(PAGE as usize)
        .map(|r| AuditEntry {
            id: r.id,
            at: r.at,
            actor: r.actor,
            action: r.action,
            subject: r.subject,
            detail: r.detail,
            hash: r.hash,
        })
        .collect();
    let next_before = if more {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok(AuditPage { rows, next_before })
}

/// Walks the whole hash chain (what `rustcare-partitions audit verify` does).
#[server(prefix = "/api", endpoint = "audit_verify", client = CsrfClient)]
pub async fn verify_audit() -> Result<ChainCheck, ServerFnError> {
    crate::auth::server::require(Capability::View).await?;
    let pool = super::ssr::pool()?;
    let report = partitioning::pg::audit::verify(&pool)
        .await
        .map_err(|e| super::ssr::db_error("verifying the audit trail", e))?;
    Ok(ChainCheck {
        rows: report.rows,
        broken: report.first_break.map(|b| b.to_string()),
        head_hash: report.head.map(|h| h.1),
    })
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use chrono::{NaiveDate, TimeZone, Utc};
    use leptos::prelude::ServerFnError;
    use partitioning::pg::audit::{self, AuditEvent, AuditFilter};
    use sqlx::PgPool;

    /// Appends one event of the console's own; a failure is logged (the action already happened).
    pub async fn record(
        pool: &PgPool,
        actor: &str,
        action: &str,
        subject: impl Into<String>,
        detail: serde_json::Value,
    ) {
        // Actors come from a login form too: keep them within the column's 1..200 characters.
        let actor: String = match actor.trim() {
            "" => "(no name)".to_string(),
            a => a.chars().take(200).collect(),
        };
        audit::append_logged(pool, &AuditEvent::new(actor, action, subject, detail)).await;
    }

    fn day(
        field: &str,
        text: &str,
        plus_days: u64,
    ) -> Result<Option<chrono::DateTime<Utc>>, ServerFnError> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(None);
        }
        NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.checked_add_days(chrono::Days::new(plus_days)))
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| Some(Utc.from_utc_datetime(&d)))
            .ok_or_else(|| {
                ServerFnError::new(format!(
                    "The {field} date {t:?} is not a date: use YYYY-MM-DD."
                ))
            })
    }

    pub fn filter(
        actor: &str,
        action: &str,
        from: &str,
        to: &str,
    ) -> Result<AuditFilter, ServerFnError> {
        let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        Ok(AuditFilter {
            actor: text(actor),
            action: text(action),
            from: day("from", from, 0)?,
            to: day("to", to, 1)?,
            before_id: None,
        })
    }
}
