//! The audit trail as CSV: one writer shared by `audit export` and the console's
//! `/audit/export.csv` (session-checked here, like the report downloads: the request gate lets
//! file-like paths through without a session). Columns are the stored fields, hashes included.
//!
//! The file is for reading, in a spreadsheet too, so it is safe to open: a cell beginning with
//! `=`, `+`, `-`, `@`, a tab or a carriage return (a failed login's actor is whatever an anonymous
//! visitor typed, e.g. `=HYPERLINK(...)`) is written with a leading `'` (OWASP, CSV injection), so
//! no spreadsheet runs it as a formula. Such a cell no longer equals the stored field: the chain is
//! verified on the table (`audit verify`), not from the file.

use std::collections::HashMap;
use std::time::Duration;

use app::auth::server::resolve;
use app::auth::{percent_encode, Capability};
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use partitioning::pg::audit::{self, AuditEvent, AuditFilter, AuditRow};
use serde_json::json;
use sqlx::PgPool;
use tower_sessions::Session;

/// The header line of every export.
pub const HEADER: [&str; 8] = [
    "id",
    "at_utc",
    "actor",
    "action",
    "subject",
    "detail",
    "prev_hash",
    "hash",
];

/// Rows read per query while exporting (keyset pages, oldest first).
const PAGE: i64 = 5_000;

/// Writes every row matching `filter`, oldest first, as CSV to `out`; returns the row count.
pub async fn write_csv<W: std::io::Write>(
    pool: &PgPool,
    filter: &AuditFilter,
    out: W,
) -> anyhow::Result<u64> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER)?;
    let mut n = 0u64;
    let mut after = 0i64;
    loop {
        let page = audit::list_after(pool, filter, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for r in &page {
            write_row(&mut w, r)?;
            n += 1;
        }
    }
    w.flush()?;
    Ok(n)
}

/// `cell` as a spreadsheet may safely open it: prefixed with `'` when it begins with a character
/// that makes Excel, LibreOffice or Sheets read a formula (see the module doc).
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

fn write_row<W: std::io::Write>(w: &mut csv::Writer<W>, r: &AuditRow) -> csv::Result<()> {
    let at = r.at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let id = r.id.to_string();
    let cells = [
        id.as_str(),
        &at,
        &r.actor,
        &r.action,
        &r.subject,
        &r.detail,
        &r.prev_hash,
        &r.hash,
    ];
    w.write_record(cells.map(neutralise).iter().map(|c| c.as_ref()))
}

/// Parses the console's filter fields (`actor`, `action`, `from`, `to` as YYYY-MM-DD; `to`
/// inclusive). A bad date is an error naming the field.
pub fn filter_from_query(q: &HashMap<String, String>) -> Result<AuditFilter, String> {
    let text = |k: &str| {
        q.get(k)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let day = |k: &str, plus: i64| -> Result<Option<DateTime<Utc>>, String> {
        match text(k) {
            None => Ok(None),
            Some(s) => NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.checked_add_days(chrono::Days::new(plus as u64)))
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| Some(t.and_utc()))
                .ok_or_else(|| format!("{k}={s:?} is not a date: use YYYY-MM-DD")),
        }
    };
    Ok(AuditFilter {
        actor: text("actor"),
        action: text("action"),
        from: day("from", 0)?,
        to: day("to", 1)?,
        before_id: None,
    })
}

#[derive(Clone)]
pub struct Export {
    pub pool: PgPool,
    pub touch: Duration,
}

fn plain(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.to_string(),
    )
        .into_response()
}

/// `GET /audit/export.csv?actor=&action=&from=&to=`: any signed-in role (View).
pub async fn csv_handler(
    State(export): State<Export>,
    session: Session,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let user = match resolve(&export.pool, &session, export.touch).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            let location = format!("/login?next={}", percent_encode("/audit"));
            return match HeaderValue::from_str(&location) {
                Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
                Err(_) => plain(
                    StatusCode::UNAUTHORIZED,
                    "Log in to export the audit trail.",
                ),
            };
        }
        Err(e) => {
            tracing::error!(error = %e, "reading the session failed");
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "The console could not read your session: the database may be unreachable.",
            );
        }
    };
    if !user.role.can(Capability::View) {
        return plain(StatusCode::FORBIDDEN, &Capability::View.requirement());
    }
    let filter = match filter_from_query(&q) {
        Ok(f) => f,
        Err(why) => return plain(StatusCode::BAD_REQUEST, &why),
    };
    let mut bytes = Vec::new();
    match write_csv(&export.pool, &filter, &mut bytes).await {
        Ok(rows) => {
            let event = AuditEvent::new(
                user.username.as_str(),
                "audit_exported",
                "audit_trail",
                json!({"rows": rows, "actor": filter.actor, "action": filter.action,
                       "from": filter.from, "to": filter.to}),
            );
            audit::append_logged(&export.pool, &event).await;
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"audit-trail.csv\"",
                    ),
                ],
                bytes,
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "audit export failed");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The export failed; the server log has the detail.",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn formula_cells_are_quoted_and_others_kept() {
        for bad in [
            "=HYPERLINK(\"http://evil.example\",\"x\")",
            "+1",
            "-2+3",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
        ] {
            assert_eq!(neutralise(bad), format!("'{bad}"), "{bad:?}");
        }
        for good in [
            "dba1",
            "cli:alice",
            "{\"a\": 1}",
            "",
            "login_failed",
            "a=b",
            "'quoted",
        ] {
            assert_eq!(neutralise(good), good, "{good:?}");
        }
    }
}
