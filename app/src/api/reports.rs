//! HIPAA retention compliance reports: list, generate, read and sign. Compliance officers and
//! admins generate and sign; DBAs and viewers read signed reports only (an unsigned report is a
//! draft under the compliance officer's review). The files are downloaded from the axum routes
//! `/reports/{id}/report.csv|pdf`, which serve the stored bytes.

use leptos::prelude::*;
use partitioning::compliance::{ComplianceReport, ReportSignature, StoredReport};
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::auth::Capability;
use crate::auth::CsrfClient;

/// The reports this account may open, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportList {
    pub reports: Vec<StoredReport>,
    /// The account may generate and sign (compliance, admin).
    pub can_generate: bool,
    /// Unsigned reports hidden from this account's role.
    pub hidden_unsigned: usize,
    /// Today (UTC) on the server: the generate form's default and latest last day (the browser's
    /// clock is not asked).
    pub today: chrono::NaiveDate,
}

/// One report: what is stored about it, the report itself, and what this account may do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportPage {
    pub stored: StoredReport,
    pub report: ComplianceReport,
    pub can_sign: bool,
    /// This account has signed it already.
    pub signed_by_me: bool,
}

/// The most reports a list shows.
pub const LIST_LIMIT: i64 = 200;

#[server(prefix = "/api", endpoint = "reports_list", client = CsrfClient)]
pub async fn list_reports() -> Result<ReportList, ServerFnError> {
    let user = crate::auth::server::require(Capability::View).await?;
    let pool = super::ssr::pool()?;
    let all = partitioning::pg::compliance::list(&pool, LIST_LIMIT)
        .await
        .map_err(|e| super::ssr::db_error("listing compliance reports", e))?;
    let total = all.len();
    let reports: Vec<StoredReport> = all
        .into_iter()
        .filter(|r| r.readable_by(user.role))
        .collect();
    Ok(ReportList {
        hidden_unsigned: total - reports.len(),
        reports,
        can_generate: user.role.can(Capability::Compliance),
        today: chrono::Utc::now().date_naive(),
    })
}

/// Generates and stores a report for `[from, to]` over the ticked tables (none ticked: all four).
/// Form fields: `from`, `to` (YYYY-MM-DD) and one checkbox per table.
#[server(prefix = "/api", endpoint = "report_generate", client = CsrfClient)]
pub async fn generate_report(
    from: String,
    to: String,
    auth_audit_log: Option<String>,
    sessions: Option<String>,
    refresh_tokens: Option<String>,
    rate_limits: Option<String>,
) -> Result<StoredReport, ServerFnError> {
    use partitioning::compliance::parse_date;
    use partitioning::pg::compliance::{generate, ReportError, ReportRequest};
    use partitioning::table::ManagedTable;

    let user = crate::auth::server::require(Capability::Compliance).await?;
    let from = parse_date("The first day", &from).map_err(|e| ServerFnError::new(e.0))?;
    let to = parse_date("The last day", &to).map_err(|e| ServerFnError::new(e.0))?;
    let ticked = [auth_audit_log, sessions, refresh_tokens, rate_limits];
    let tables: Vec<ManagedTable> = ManagedTable::ALL
        .into_iter()
        .zip(ticked)
        .filter(|(_, on)| on.is_some())
        .map(|(t, _)| t)
        .collect();
    let config = super::console::load_config()?;
    let pool = super::ssr::pool()?;
    let request = ReportRequest {
        from,
        to,
        tables: &tables,
        generated_by: &user.username,
    };
    match generate(&pool, &config.policies, &request, &user.username).await {
        Ok(stored) => Ok(stored),
        Err(ReportError::Scope(e)) => Err(ServerFnError::new(format!("{}.", e.0))),
        Err(ReportError::Refused(why)) => Err(ServerFnError::new(why)),
        Err(ReportError::Db(e)) => Err(super::ssr::db_error("generating the report", e)),
    }
}

#[server(prefix = "/api", endpoint = "report_get", client = CsrfClient)]
pub async fn get_report(id: i64) -> Result<ReportPage, ServerFnError> {
    use axum::http::StatusCode;
    let user = crate::auth::server::require(Capability::View).await?;
    let pool = super::ssr::pool()?;
    let found = partitioning::pg::compliance::get(&pool, id)
        .await
        .map_err(|e| super::ssr::db_error("reading the report", e))?;
    let Some((stored, report)) = found else {
        return Err(crate::auth::server::refuse(
            StatusCode::NOT_FOUND,
            format!("There is no report {id}. The list at /reports shows the stored ones."),
        ));
    };
    if !stored.readable_by(user.role) {
        return Err(crate::auth::server::refuse(
            StatusCode::FORBIDDEN,
            format!(
                "Report {id} is not signed yet: until a compliance officer signs it, only the compliance and admin roles can open it. You have the {} role.",
                user.role
            ),
        ));
    }
    let signed_by_me = stored.signatures.iter().any(|s| s.signer == user.username);
    Ok(ReportPage {
        can_sign: partitioning::compliance::can_sign(user.role),
        signed_by_me,
        stored,
        report,
    })
}

/// Signs report `id` as the signed-in compliance officer (or admin): `name` is the full name the
/// signature records, `confirm` the ticked attestation. The stored files are not changed.
#[server(prefix = "/api", endpoint = "report_sign", client = CsrfClient)]
pub async fn sign_report(
    id: i64,
    name: String,
    confirm: Option<String>,
) -> Result<ReportSignature, ServerFnError> {
    use partitioning::pg::compliance::{sign, ReportError};
    let user = crate::auth::server::require(Capability::Compliance).await?;
    if confirm.is_none() {
        return Err(ServerFnError::new(
            "Tick the attestation to sign: your signature states that you reviewed the report.",
        ));
    }
    let pool = super::ssr::pool()?;
    match sign(&pool, id, &user.username, user.role, &name).await {
        Ok(sig) => Ok(sig),
        Err(ReportError::Refused(why)) => Err(ServerFnError::new(why)),
        Err(ReportError::Scope(e)) => Err(ServerFnError::new(e.0)),
        Err(ReportError::Db(e)) => Err(super::ssr::db_error("signing the report", e)),
    }
}
