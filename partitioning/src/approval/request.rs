//! What a request carries and shows: the exact drops (`RequestAction`, stored as the `actions`
//! jsonb of `cleanup_requests`) and the request with its decisions (`Request`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Approval, RequestFacts, RequestState};
use crate::calendar::bound_literal;
use crate::config::Config;
use crate::planner::{ActionKind, Plan};

/// One partition a request will drop: what the request page shows and `actions` stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestAction {
    pub table: String,
    pub partition: String,
    /// Bound literals, `'2018-10-01 00:00:00+00'`.
    pub lower: String,
    pub upper: String,
    pub est_rows: i64,
    pub bytes: i64,
    /// Why it is eligible (the planner's words).
    pub reason: String,
    /// The policy that makes it eligible: `retention 7 years, cleanup approval`.
    pub policy: String,
}

impl RequestAction {
    /// The identity of the partition, to match a recomputed plan against what was approved.
    pub fn key(&self) -> (String, String, String, String) {
        (
            self.table.clone(),
            self.partition.clone(),
            self.lower.clone(),
            self.upper.clone(),
        )
    }
}

/// The held-for-approval drops of `plan`, as a request carries them.
pub fn request_actions(plan: &Plan, config: &Config) -> Vec<RequestAction> {
    plan.approval_actions()
        .iter()
        .map(|a| {
            let (lower, upper) = a
                .kind
                .bound()
                .map(|b| (bound_literal(b.lower), bound_literal(b.upper)))
                .unwrap_or_default();
            let (est_rows, bytes) = match &a.kind {
                ActionKind::Drop {
                    est_rows, bytes, ..
                } => (*est_rows, *bytes),
                _ => (0, 0),
            };
            let policy = config
                .policies
                .iter()
                .find(|p| p.table == a.table)
                .map(|p| format!("retention {}, cleanup {}", p.retention, p.cleanup))
                .unwrap_or_default();
            RequestAction {
                table: a.table.name().to_string(),
                partition: a.kind.partition_name().to_string(),
                lower,
                upper,
                est_rows,
                bytes,
                reason: a.reason.clone(),
                policy,
            }
        })
        .collect()
}

/// A request with its decisions, as the pages and the CLI show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub requested_by: String,
    pub tables: Vec<String>,
    pub fingerprint: String,
    pub actions: Vec<RequestAction>,
    pub needs_compliance: bool,
    pub expires_at: DateTime<Utc>,
    pub state: RequestState,
    pub state_changed_at: DateTime<Utc>,
    pub executed_by: Option<String>,
    pub executed_at: Option<DateTime<Utc>>,
    pub outcome_detail: Option<String>,
    pub approvals: Vec<Approval>,
}

impl Request {
    pub fn facts(&self) -> RequestFacts {
        RequestFacts {
            requested_by: self.requested_by.clone(),
            state: self.state,
            needs_compliance: self.needs_compliance,
            expires_at: self.expires_at,
            approvals: self.approvals.clone(),
        }
    }

    pub fn total_rows(&self) -> i64 {
        self.actions.iter().map(|a| a.est_rows).sum()
    }

    pub fn total_bytes(&self) -> i64 {
        self.actions.iter().map(|a| a.bytes).sum()
    }
}
