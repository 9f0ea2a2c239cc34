//! Cleanup requests in PostgreSQL (`cleanup_requests`, `cleanup_approvals`, migration 009): filing
//! a request from the current plan's held drops, decisions under the two-person rule of
//! `crate::approval`, expiry, reading them back. Execution is `approvals::execute`. Every state
//! change is appended to the audit trail in the same transaction as the change.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{PgPool, Postgres, Row, Transaction};

use crate::access::Role;
pub use crate::approval::Request;
use crate::approval::{self, Approval, Decision, DecisionError, ExecuteError, RequestState};
use crate::config::Config;
use crate::planner::{self, PlanOptions};
use crate::table::ManagedTable;

use super::audit::{self, AuditEvent};

pub mod execute;
pub use execute::{execute, Executed};

#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("there is no cleanup request {0}")]
    NotFound(i64),
    #[error("nothing to request: no partition of an approval table is past retention right now")]
    NothingToRequest,
    #[error(transparent)]
    Decision(#[from] DecisionError),
    #[error(transparent)]
    Execute(#[from] ExecuteError),
    #[error("cleanup request {id} holds data this version cannot read ({why})")]
    BadRow { id: i64, why: String },
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("the executor stopped: {0}")]
    Exec(#[from] super::executor::ExecError),
}

/// What `file` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Filed {
    Created(i64),
    /// An open request for the same fingerprint already exists: nothing new was filed.
    AlreadyOpen(i64),
}

impl Filed {
    pub fn id(self) -> i64 {
        match self {
            Filed::Created(id) | Filed::AlreadyOpen(id) => id,
        }
    }
}

const REQUEST_COLUMNS: &str = "id, created_at, requested_by, tables, fingerprint, actions, \
    needs_compliance, expires_at, state, state_changed_at, executed_by, executed_at, outcome_detail";

/// Files a request for the drops the current plan holds for approval on `tables` (empty: all),
/// or finds the open one with the same fingerprint. The plan is made here, from a fresh snapshot,
/// so what is stored is what the database holds now.
pub async fn file(
    pool: &PgPool,
    config: &Config,
    tables: &[ManagedTable],
    actor: &str,
) -> Result<Filed, ApprovalError> {
    let snapshot = super::catalog::snapshot(pool, tables).await?;
    let opts = PlanOptions {
        tables: tables.to_vec(),
        ..PlanOptions::cleanup()
    };
    let plan = planner::plan(config, &snapshot, snapshot.taken_at, &opts);
    let actions = approval::request_actions(&plan, config);
    if actions.is_empty() {
        return Err(ApprovalError::NothingToRequest);
    }
    let fingerprint = plan.approval_fingerprint().0;
    let mut touched: Vec<ManagedTable> = plan.approval_actions().iter().map(|a| a.table).collect();
    touched.dedup();
    let table_names: Vec<String> = touched.iter().map(|t| t.name().to_string()).collect();
    let needs_compliance = approval::needs_compliance(&touched);
    let expires_at = approval::expires_at(snapshot.taken_at, config);
    let actions_json = serde_json::to_value(&actions).unwrap_or_default();

    let mut tx = pool.begin().await?;
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO cleanup_requests (requested_by, tables, fingerprint, actions, needs_compliance, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (fingerprint) WHERE state IN ('pending', 'approved', 'executing') DO NOTHING \
         RETURNING id",
    )
    .bind(actor)
    .bind(&table_names)
    .bind(&fingerprint)
    .bind(&actions_json)
    .bind(needs_compliance)
    .bind(expires_at)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = inserted else {
        tx.rollback().await?;
        let open: i64 = sqlx::query_scalar(
            "SELECT id FROM cleanup_requests WHERE fingerprint = $1 \
             AND state IN ('pending', 'approved', 'executing') ORDER BY id DESC LIMIT 1",
        )
        .bind(&fingerprint)
        .fetch_one(pool)
        .await?;
        return Ok(Filed::AlreadyOpen(open));
    };
    let partitions: Vec<&str> = actions.iter().map(|a| a.partition.as_str()).collect();
    let detail = json!({
        "tables": table_names, "fingerprint": fingerprint, "partitions": partitions,
        "est_rows": actions.iter().map(|a| a.est_rows).sum::<i64>(),
        "needs_compliance": needs_compliance, "expires_at": expires_at,
    });
    let event = AuditEvent::new(actor, "cleanup_requested", format!("request:{id}"), detail);
    audit::append(&mut *tx, &event).await?;
    tx.commit().await?;
    tracing::info!(
        request = id,
        actor,
        partitions = actions.len(),
        "cleanup request filed"
    );
    Ok(Filed::Created(id))
}

/// Marks every pending or approved request past its `expires_at` expired (audited), on the
/// server's clock. Called before requests are read or acted on; returns the ids expired.
pub async fn expire_due(pool: &PgPool) -> Result<Vec<i64>, ApprovalError> {
    let mut tx = pool.begin().await?;
    let ids: Vec<i64> = sqlx::query_scalar(
        "UPDATE cleanup_requests SET state = 'expired', state_changed_at = now() \
         WHERE state IN ('pending', 'approved') AND expires_at <= now() RETURNING id",
    )
    .fetch_all(&mut *tx)
    .await?;
    for id in &ids {
        let event = AuditEvent::new(
            "system",
            "cleanup_expired",
            format!("request:{id}"),
            json!({"reason": "not executed before expires_at"}),
        );
        audit::append(&mut *tx, &event).await?;
    }
    tx.commit().await?;
    Ok(ids)
}

/// Records `actor`'s decision, if the rules of `approval::decide` accept it; returns the new
/// state. The request row is locked for the check, so two people deciding at once are ordered.
pub async fn decide(
    pool: &PgPool,
    id: i64,
    actor: &str,
    role: Role,
    decision: Decision,
    comment: &str,
) -> Result<RequestState, ApprovalError> {
    expire_due(pool).await?;
    let mut tx = pool.begin().await?;
    let request = load(&mut tx, id, true).await?;
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut *tx)
        .await?;
    let accepted = approval::decide(&request.facts(), actor, role, decision, comment, now)?;
    sqlx::query(
        "INSERT INTO cleanup_approvals (request_id, actor, role, decision, comment) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(actor)
    .bind(accepted.role)
    .bind(decision.as_str())
    .bind(&accepted.comment)
    .execute(&mut *tx)
    .await?;
    if accepted.new_state != request.state {
        set_state(&mut tx, id, accepted.new_state).await?;
    }
    let action = match decision {
        Decision::Approve => "cleanup_approved",
        Decision::Reject => "cleanup_rejected",
    };
    let detail = json!({
        "role": accepted.role, "comment": accepted.comment, "state": accepted.new_state,
        "fingerprint": request.fingerprint,
    });
    let event = AuditEvent::new(actor, action, format!("request:{id}"), detail);
    audit::append(&mut *tx, &event).await?;
    tx.commit().await?;
    tracing::info!(request = id, actor, decision = decision.as_str(), state = %accepted.new_state,
        "cleanup request decision");
    Ok(accepted.new_state)
}

async fn set_state(
    tx: &mut Transaction<'_, Postgres>,
    id: i64,
    state: RequestState,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE cleanup_requests SET state = $2, state_changed_at = now() WHERE id = $1")
        .bind(id)
        .bind(state.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// One request with its decisions (`None`: no such id).
pub async fn get(pool: &PgPool, id: i64) -> Result<Option<Request>, ApprovalError> {
    let mut tx = pool.begin().await?;
    let r = match load(&mut tx, id, false).await {
        Ok(r) => Some(r),
        Err(ApprovalError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    tx.commit().await?;
    Ok(r)
}

/// Requests newest first, optionally only those in `state`, at most `limit`.
pub async fn list(
    pool: &PgPool,
    state: Option<RequestState>,
    limit: i64,
) -> Result<Vec<Request>, ApprovalError> {
    let sql = format!(
        "SELECT {REQUEST_COLUMNS} FROM cleanup_requests WHERE ($1::text IS NULL OR state = $1) \
         ORDER BY id DESC LIMIT $2"
    );
    let rows = sqlx::query(&sql)
        .bind(state.map(RequestState::as_str))
        .bind(limit)
        .fetch_all(pool)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut r = from_row(row)?;
        r.approvals = approvals_of(pool, r.id).await?;
        out.push(r);
    }
    Ok(out)
}

/// Request `id`'s history from the audit trail, oldest first: the rows with subject `request:<id>`
/// and a request action (read through the `(action, at)` index, so logins do not count).
pub async fn history(pool: &PgPool, id: i64) -> Result<Vec<approval::HistoryEntry>, ApprovalError> {
    let rows = sqlx::query(
        "SELECT id, at, actor, action, detail FROM audit_trail \
         WHERE action = ANY($1) AND subject = $2 ORDER BY id",
    )
    .bind(approval::history::REQUEST_ACTIONS.as_slice())
    .bind(format!("request:{id}"))
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let action: String = r.try_get("action")?;
        let detail: serde_json::Value = r.try_get("detail")?;
        out.extend(approval::history::entry(
            r.try_get("id")?,
            r.try_get("at")?,
            &r.try_get::<String, _>("actor")?,
            &action,
            &detail,
        ));
    }
    Ok(out)
}

async fn approvals_of<'e>(
    db: impl sqlx::PgExecutor<'e>,
    id: i64,
) -> Result<Vec<Approval>, ApprovalError> {
    let rows = sqlx::query(
        "SELECT at, actor, role, decision, comment FROM cleanup_approvals WHERE request_id = $1 \
         ORDER BY id",
    )
    .bind(id)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            let decision: String = r.try_get("decision")?;
            Ok(Approval {
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                role: r.try_get("role")?,
                decision: Decision::parse(&decision).ok_or_else(|| ApprovalError::BadRow {
                    id,
                    why: format!("decision {decision:?}"),
                })?,
                comment: r.try_get("comment")?,
            })
        })
        .collect()
}

/// Reads request `id` inside `tx`, locking it `FOR UPDATE` when `lock`.
pub(crate) async fn load(
    tx: &mut Transaction<'_, Postgres>,
    id: i64,
    lock: bool,
) -> Result<Request, ApprovalError> {
    let sql = format!(
        "SELECT {REQUEST_COLUMNS} FROM cleanup_requests WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(ApprovalError::NotFound(id))?;
    let mut r = from_row(&row)?;
    r.approvals = approvals_of(&mut **tx, id).await?;
    Ok(r)
}

fn from_row(row: &sqlx::postgres::PgRow) -> Result<Request, ApprovalError> {
    let id: i64 = row.try_get("id")?;
    let state: String = row.try_get("state")?;
    let actions: serde_json::Value = row.try_get("actions")?;
    let bad = |why: String| ApprovalError::BadRow { id, why };
    Ok(Request {
        id,
        created_at: row.try_get("created_at")?,
        requested_by: row.try_get("requested_by")?,
        tables: row.try_get("tables")?,
        fingerprint: row.try_get("fingerprint")?,
        actions: serde_json::from_value(actions).map_err(|e| bad(format!("actions: {e}")))?,
        needs_compliance: row.try_get("needs_compliance")?,
        expires_at: row.try_get("expires_at")?,
        state: RequestState::parse(&state).ok_or_else(|| bad(format!("state {state:?}")))?,
        state_changed_at: row.try_get("state_changed_at")?,
        executed_by: row.try_get("executed_by")?,
        executed_at: row.try_get("executed_at")?,
        outcome_detail: row.try_get("outcome_detail")?,
        approvals: Vec::new(),
    })
}
