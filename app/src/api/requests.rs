//! Cleanup requests from the console: file one from the plan's held drops, list, show, decide
//! (approve / reject with a comment), execute with live progress. Thin: the two-person rule lives
//! in `partitioning::approval` and is applied by `partitioning::pg::approvals` whatever the browser
//! sends; these functions only check the role, call it, and word its refusals.

use leptos::prelude::*;
use partitioning::approval::{HistoryEntry, Request};
use serde::{Deserialize, Serialize};

use super::plan::JobView;
#[cfg(feature = "ssr")]
use crate::auth::Capability;
use crate::auth::CsrfClient;

/// One request page: the request, who is still needed, and what this viewer may do with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestPage {
    pub request: Request,
    /// The approvals still needed, in words (`a compliance officer's approval (role
    /// compliance)`), for pending requests.
    pub missing: Vec<String>,
    pub viewer: String,
    /// Why this viewer cannot decide (None: they can).
    pub decide_blocked: Option<String>,
    pub can_execute: bool,
    /// Every state change, oldest first, from the audit trail.
    pub history: Vec<HistoryEntry>,
}

/// What filing did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiledRequest {
    pub id: i64,
    /// An open request for the same plan already existed: nothing new was filed.
    pub existing: bool,
}

/// Files a request for the drops the current plan holds for approval (DBA).
#[server(prefix = "/api", endpoint = "request_file", client = CsrfClient)]
pub async fn file_request() -> Result<FiledRequest, ServerFnError> {
    use partitioning::pg::approvals::{self, ApprovalError, Filed};
    let user = crate::auth::server::require(Capability::RequestCleanup).await?;
    let pool = super::ssr::pool()?;
    let config = super::console::load_config()?;
    match approvals::file(&pool, &config, &[], &user.username).await {
        Ok(Filed::Created(id)) => Ok(FiledRequest {
            id,
            existing: false,
        }),
        Ok(Filed::AlreadyOpen(id)) => Ok(FiledRequest { id, existing: true }),
        Err(e @ ApprovalError::NothingToRequest) => Err(ssr::conflict(e.to_string())),
        Err(e) => Err(ssr::failed("filing the cleanup request", e)),
    }
}

/// Requests newest first; `state` filters (empty: all).
#[server(prefix = "/api", endpoint = "requests", client = CsrfClient)]
pub async fn list_requests(state: String) -> Result<Vec<Request>, ServerFnError> {
    use partitioning::approval::RequestState;
    use partitioning::pg::approvals;
    crate::auth::server::require(Capability::View).await?;
    let pool = super::ssr::pool()?;
    let state = match state.trim() {
        "" | "all" => None,
        s => Some(RequestState::parse(s).ok_or_else(|| {
            ServerFnError::new(format!("{s:?} is not a request state: pending, approved, executing, executed, rejected, expired or invalidated"))
        })?),
    };
    approvals::expire_due(&pool)
        .await
        .map_err(|e| ssr::failed("expiring old requests", e))?;
    approvals::list(&pool, state, 200)
        .await
        .map_err(|e| ssr::failed("listing cleanup requests", e))
}

/// One request, with what this viewer may do.
#[server(prefix = "/api", endpoint = "request", client = CsrfClient)]
pub async fn get_request(id: i64) -> Result<RequestPage, ServerFnError> {
    use partitioning::approval::{decide, missing_signers, Decision, RequestState};
    use partitioning::pg::approvals;
    let user = crate::auth::server::require(Capability::View).await?;
    let pool = super::ssr::pool()?;
    approvals::expire_due(&pool)
        .await
        .map_err(|e| ssr::failed("expiring old requests", e))?;
    let request = approvals::get(&pool, id)
        .await
        .map_err(|e| ssr::failed("reading the cleanup request", e))?
        .ok_or_else(|| ssr::not_found(id))?;
    // The same rule the server applies on a decision, asked in advance (the answer only hides
    // buttons; the decision itself is checked again).
    let decide_blocked =
        if !user.role.can(Capability::ApproveCleanup) && !user.role.can(Capability::Compliance) {
            Some("Your role cannot approve cleanups.".to_string())
        } else {
            decide(
                &request.facts(),
                &user.username,
                user.role,
                Decision::Approve,
                "probe",
                chrono::Utc::now(),
            )
            .err()
            .map(|e| ssr::sentence(&e.to_string()))
        };
    let missing = if request.state == RequestState::Pending {
        missing_signers(&request.facts())
            .iter()
            .map(|s| s.needed().to_string())
            .collect()
    } else {
        Vec::new()
    };
    let history = approvals::history(&pool, id)
        .await
        .map_err(|e| ssr::failed("reading the request's history", e))?;
    let can_execute = user.role.can(Capability::RequestCleanup)
        && matches!(
            request.state,
            RequestState::Approved | RequestState::Executing
        );
    Ok(RequestPage {
        request,
        missing,
        viewer: user.username,
        decide_blocked,
        can_execute,
        history,
    })
}

/// Approves or rejects request `id` with a comment. Who may is decided by
/// `partitioning::approval::decide` on the server: never the requester, one decision per person,
/// a DBA plus (audit log) a compliance officer.
#[server(prefix = "/api", endpoint = "request_decide", client = CsrfClient)]
pub async fn decide_request(
    id: i64,
    decision: String,
    comment: String,
) -> Result<String, ServerFnError> {
    use crate::auth::server::refuse;
    use axum::http::StatusCode;
    use partitioning::approval::Decision;
    use partitioning::pg::approvals::{self, ApprovalError};
    let user = crate::auth::server::require(Capability::View).await?;
    if !user.role.can(Capability::ApproveCleanup) && !user.role.can(Capability::Compliance) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "You need the dba, compliance or admin role to approve or reject cleanups.",
        ));
    }
    let decision = Decision::parse(decision.trim()).ok_or_else(|| {
        refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The decision must be approve or reject.",
        )
    })?;
    let pool = super::ssr::pool()?;
    match approvals::decide(&pool, id, &user.username, user.role, decision, &comment).await {
        Ok(state) => Ok(format!(
            "Recorded: you {} request #{id}. It is now {state}: {}.",
            match decision {
                Decision::Approve => "approved",
                Decision::Reject => "rejected",
            },
            state.explain()
        )),
        Err(ApprovalError::NotFound(_)) => Err(ssr::not_found(id)),
        Err(ApprovalError::Decision(e)) => {
            tracing::warn!(user = %user.username, request = id, refusal = %e, "decision refused");
            Err(refuse(StatusCode::FORBIDDEN, ssr::sentence(&e.to_string())))
        }
        Err(e) => Err(ssr::failed("recording the decision", e)),
    }
}

/// Starts executing approved request `id` in the background (DBA); returns the job id to poll
/// with [`request_job`].
#[server(prefix = "/api", endpoint = "request_execute", client = CsrfClient)]
pub async fn execute_request(id: i64) -> Result<String, ServerFnError> {
    let user = crate::auth::server::require(Capability::RequestCleanup).await?;
    let pool = super::ssr::pool()?;
    let config = super::console::load_config()?;
    ssr::start(pool, config, id, user.username).await
}

/// Progress of an execution job.
#[server(prefix = "/api", endpoint = "request_job", client = CsrfClient)]
pub async fn request_job(job: String) -> Result<JobView, ServerFnError> {
    crate::auth::server::require(Capability::View).await?;
    ssr::job(&job).ok_or_else(|| {
        ServerFnError::new(
            "No such execution job (the server may have restarted): reload the request.",
        )
    })
}

#[cfg(feature = "ssr")]
#[path = "requests_ssr.rs"]
mod ssr;
