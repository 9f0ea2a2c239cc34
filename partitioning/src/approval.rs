//! The two-person rule for destructive cleanups, as a pure state machine: request states and
//! their transitions, who may approve or reject (never the requester; a DBA, plus a compliance
//! officer when `auth_audit_log` is touched; an admin counts as a DBA, never as the compliance
//! officer: DOMAIN.md asks for a compliance officer's approval), expiry, and the exact
//! list of drops a request carries. `pg::approvals` stores it; the console and CLI show it.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::access::Role;
use crate::calendar::bound_literal;
use crate::config::Config;
use crate::table::ManagedTable;

pub mod history;
mod request;
#[cfg(test)]
mod tests;

pub use history::HistoryEntry;
pub use request::{request_actions, Request, RequestAction};

/// Longest comment kept with a decision (the database enforces the same).
pub const MAX_COMMENT_CHARS: usize = 2000;

/// Where a request is. `Pending → Approved → Executing → Executed`, or `Rejected`, `Expired`,
/// `Invalidated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Pending,
    Approved,
    Executing,
    Executed,
    Rejected,
    Expired,
    Invalidated,
}

impl RequestState {
    pub const ALL: [RequestState; 7] = [
        RequestState::Pending,
        RequestState::Approved,
        RequestState::Executing,
        RequestState::Executed,
        RequestState::Rejected,
        RequestState::Expired,
        RequestState::Invalidated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Executing => "executing",
            RequestState::Executed => "executed",
            RequestState::Rejected => "rejected",
            RequestState::Expired => "expired",
            RequestState::Invalidated => "invalidated",
        }
    }

    pub fn parse(text: &str) -> Option<RequestState> {
        RequestState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Still going somewhere (one open request per fingerprint).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            RequestState::Pending | RequestState::Approved | RequestState::Executing
        )
    }

    /// What the state means, for a person reading the request page.
    pub fn explain(self) -> &'static str {
        match self {
            RequestState::Pending => "waiting for approvals",
            RequestState::Approved => "approved: ready to execute before it expires",
            RequestState::Executing => {
                "execution started; if it was interrupted, execute again to finish it"
            }
            RequestState::Executed => "done: the partitions were dropped",
            RequestState::Rejected => "rejected: nothing will be dropped",
            RequestState::Expired => "expired before it ran: nothing was dropped",
            RequestState::Invalidated => {
                "the plan changed after the request was made: nothing was dropped"
            }
        }
    }
}

impl fmt::Display for RequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What moves a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The last approval it needed arrived.
    FullyApproved,
    Rejected,
    /// `expires_at` passed before execution started.
    Expired,
    /// An executor claimed it.
    ExecutionStarted,
    ExecutionFinished,
    /// The plan recomputed at execution no longer matches the fingerprint.
    PlanChanged,
}

/// The transition table; `None`: the event does not apply in that state.
pub fn transition(from: RequestState, event: Event) -> Option<RequestState> {
    use Event as E;
    use RequestState as S;
    match (from, event) {
        (S::Pending, E::FullyApproved) => Some(S::Approved),
        (S::Pending | S::Approved, E::Rejected) => Some(S::Rejected),
        (S::Pending | S::Approved, E::Expired) => Some(S::Expired),
        (S::Approved, E::ExecutionStarted) => Some(S::Executing),
        (S::Executing, E::ExecutionFinished) => Some(S::Executed),
        (S::Approved | S::Executing, E::PlanChanged) => Some(S::Invalidated),
        _ => None,
    }
}

/// approve | reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        }
    }

    pub fn parse(text: &str) -> Option<Decision> {
        [Decision::Approve, Decision::Reject]
            .into_iter()
            .find(|d| d.as_str() == text)
    }
}

/// The slot a decision fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signer {
    Dba,
    Compliance,
}

impl Signer {
    pub fn as_str(self) -> &'static str {
        match self {
            Signer::Dba => "dba",
            Signer::Compliance => "compliance",
        }
    }
}

/// A decision already recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub at: DateTime<Utc>,
    pub actor: String,
    /// The approver's role: `dba`, `compliance` or `admin` (an admin fills the DBA slot).
    pub role: String,
    pub decision: Decision,
    pub comment: String,
}

impl Signer {
    /// Who can fill the slot, in the words the request page and the CLI use.
    pub fn needed(self) -> &'static str {
        match self {
            Signer::Dba => "a DBA's approval (role dba or admin, not the requester)",
            Signer::Compliance => "a compliance officer's approval (role compliance)",
        }
    }
}

impl Approval {
    /// The slot an approval filled: an admin counts as a DBA, never as the compliance officer.
    fn slot(&self) -> Option<Signer> {
        match self.role.as_str() {
            "dba" | "admin" => Some(Signer::Dba),
            "compliance" => Some(Signer::Compliance),
            _ => None,
        }
    }
}

/// What a decision needs to know about the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestFacts {
    pub requested_by: String,
    pub state: RequestState,
    pub needs_compliance: bool,
    pub expires_at: DateTime<Utc>,
    /// In the order they were made.
    pub approvals: Vec<Approval>,
}

/// Why a decision was refused. Each says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    #[error("you made this request: someone else must approve or reject it (two-person rule)")]
    OwnRequest,
    #[error("you already recorded a decision on this request; each person decides once")]
    AlreadyDecided,
    #[error("the request is {0}: only pending requests take decisions")]
    NotPending(RequestState),
    #[error("the request expired at {0}: make a new request from the plan page")]
    Expired(String),
    #[error(
        "a comment is required (say what you checked), at most {MAX_COMMENT_CHARS} characters"
    )]
    BadComment,
    #[error("the {0} role cannot approve cleanups: a DBA, a compliance officer (audit log) or an admin must")]
    RoleCannotDecide(&'static str),
    #[error("this request does not touch auth_audit_log: it needs a DBA's approval, not a compliance officer's")]
    ComplianceNotNeeded,
    #[error("the {0} approval is already given; the request waits for another kind of signer")]
    SlotFilled(&'static str),
    #[error("the DBA approval is already given; this request drops audit-log partitions and now needs a compliance officer's approval (role compliance), which an admin cannot give")]
    ComplianceOfficerNeeded,
}

/// The slots filled by approvals so far (a compliance approval fills nothing on a request that
/// does not need one; `decide` refuses it anyway).
pub fn filled_slots(approvals: &[Approval], needs_compliance: bool) -> Vec<Signer> {
    approvals
        .iter()
        .filter(|a| a.decision == Decision::Approve)
        .filter_map(Approval::slot)
        .filter(|s| needs_compliance || *s == Signer::Dba)
        .collect()
}

/// The signers still missing, in order (empty: fully approved).
pub fn missing_signers(facts: &RequestFacts) -> Vec<Signer> {
    let filled = filled_slots(&facts.approvals, facts.needs_compliance);
    let mut needed = vec![Signer::Dba];
    if facts.needs_compliance {
        needed.push(Signer::Compliance);
    }
    needed.retain(|s| !filled.contains(s));
    needed
}

/// A decision accepted: record `role` with it and move the request to `new_state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// `dba`, `compliance` or `admin`.
    pub role: &'static str,
    pub comment: String,
    pub new_state: RequestState,
}

/// Checks one person's decision against the rules; pure, so the server and tests share it.
pub fn decide(
    facts: &RequestFacts,
    actor: &str,
    actor_role: Role,
    decision: Decision,
    comment: &str,
    now: DateTime<Utc>,
) -> Result<Accepted, DecisionError> {
    let comment = comment.trim();
    if comment.is_empty() || comment.chars().count() > MAX_COMMENT_CHARS {
        return Err(DecisionError::BadComment);
    }
    if facts.state != RequestState::Pending {
        return Err(DecisionError::NotPending(facts.state));
    }
    if now >= facts.expires_at {
        return Err(DecisionError::Expired(bound_literal(facts.expires_at)));
    }
    if actor == facts.requested_by {
        return Err(DecisionError::OwnRequest);
    }
    if facts.approvals.iter().any(|a| a.actor == actor) {
        return Err(DecisionError::AlreadyDecided);
    }
    let role = match actor_role {
        Role::Dba => "dba",
        Role::Compliance if !facts.needs_compliance => {
            return Err(DecisionError::ComplianceNotNeeded)
        }
        Role::Compliance => "compliance",
        Role::Admin => "admin",
        Role::Viewer => return Err(DecisionError::RoleCannotDecide("viewer")),
    };
    let new_state = match decision {
        Decision::Reject => RequestState::Rejected,
        Decision::Approve => {
            let filled = filled_slots(&facts.approvals, facts.needs_compliance);
            let slot = if role == "compliance" {
                Signer::Compliance
            } else {
                Signer::Dba
            };
            if filled.contains(&slot) {
                let compliance_missing =
                    facts.needs_compliance && !filled.contains(&Signer::Compliance);
                return Err(if slot == Signer::Dba && compliance_missing {
                    DecisionError::ComplianceOfficerNeeded
                } else {
                    DecisionError::SlotFilled(slot.as_str())
                });
            }
            let mut after = facts.clone();
            after.approvals.push(Approval {
                at: now,
                actor: actor.to_string(),
                role: role.to_string(),
                decision,
                comment: comment.to_string(),
            });
            if missing_signers(&after).is_empty() {
                RequestState::Approved
            } else {
                RequestState::Pending
            }
        }
    };
    Ok(Accepted {
        role,
        comment: comment.to_string(),
        new_state,
    })
}

/// When a request made at `created` expires.
pub fn expires_at(created: DateTime<Utc>, config: &Config) -> DateTime<Utc> {
    created + Duration::hours(i64::from(config.approval_expiry_hours.max(1)))
}

/// Why an approved request cannot start executing now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecuteError {
    #[error("the request is {}, not approved: {}", .0, .0.explain())]
    NotApproved(RequestState),
    #[error("the approval expired at {0}: nothing was dropped; make a new request")]
    Expired(String),
}

/// Whether a request in `state` may start executing at `now`.
pub fn may_start(
    state: RequestState,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), ExecuteError> {
    if state != RequestState::Approved {
        return Err(ExecuteError::NotApproved(state));
    }
    if now >= expires_at {
        return Err(ExecuteError::Expired(bound_literal(expires_at)));
    }
    Ok(())
}

/// Does a request over `tables` need a compliance officer's approval too?
pub fn needs_compliance(tables: &[ManagedTable]) -> bool {
    tables.contains(&ManagedTable::AuthAuditLog)
}
