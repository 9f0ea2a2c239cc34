//! Downloads of stored compliance reports: `/reports/{id}/report.csv` and `/reports/{id}/report.pdf`
//! serve the bytes stored when the report was generated (byte-identical every time), with their
//! SHA-256 in the `x-content-sha256` header, and record each download in the audit trail.
//!
//! The request gate lets paths ending in a file name through without a session (they look like
//! the site's assets), so these handlers resolve the session themselves: no session → the login
//! page; compliance and admin read every report; dba and viewer read signed reports only.

use std::time::Duration;

use app::auth::server::resolve;
use app::auth::{percent_encode, Capability};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use partitioning::compliance::ReportFormat;
use partitioning::pg::compliance::{self, ReportError};
use sqlx::PgPool;
use tower_sessions::Session;

#[derive(Clone)]
pub struct Files {
    pub pool: PgPool,
    /// How often a session's idle expiry is pushed back (the gate's setting).
    pub touch: Duration,
}

pub async fn csv(state: State<Files>, session: Session, id: Path<String>) -> Response {
    serve(state, session, id, ReportFormat::Csv).await
}

pub async fn pdf(state: State<Files>, session: Session, id: Path<String>) -> Response {
    serve(state, session, id, ReportFormat::Pdf).await
}

fn text(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.to_string(),
    )
        .into_response()
}

async fn serve(
    State(files): State<Files>,
    session: Session,
    Path(id): Path<String>,
    format: ReportFormat,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return text(
            StatusCode::NOT_FOUND,
            "No such report: report numbers are whole numbers (see /reports).",
        );
    };
    let user = match resolve(&files.pool, &session, files.touch).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            let next = format!("/reports/{id}/report.{}", format.extension());
            let location = format!("/login?next={}", percent_encode(&next));
            return match HeaderValue::from_str(&location) {
                Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
                Err(_) => text(StatusCode::UNAUTHORIZED, "Log in to download reports."),
            };
        }
        Err(e) => {
            tracing::error!(error = %e, "reading the session failed");
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "The console could not read your session: the database may be unreachable. Try again shortly.",
            );
        }
    };
    if !user.role.can(Capability::View) {
        return text(StatusCode::FORBIDDEN, &Capability::View.requirement());
    }
    match compliance::download(&files.pool, id, format, &user.username, user.role).await {
        Ok(Some(file)) => {
            let disposition = format!("attachment; filename=\"{}\"", file.file_name);
            let mut res = (StatusCode::OK, file.bytes).into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            if let Ok(v) = HeaderValue::from_str(&file.sha256) {
                h.insert("x-content-sha256", v);
            }
            res
        }
        Ok(None) => text(StatusCode::NOT_FOUND, &format!("There is no report {id}.")),
        Err(ReportError::Refused(why)) => {
            tracing::warn!(user = %user.username, role = %user.role, id, "report download refused");
            text(StatusCode::FORBIDDEN, &why)
        }
        Err(e) => {
            tracing::error!(error = %e, id, "report download failed");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Reading the report failed. Details are in the server log.",
            )
        }
    }
}
