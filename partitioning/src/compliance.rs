//! The HIPAA retention compliance report as data: scope, each table's policy and its legal basis,
//! the partition inventory over the retention window with every gap, the disposal log, findings
//! with explanations, a verdict per table and the attestation text. Built by [`build`], a pure
//! function of its inputs (policies, catalog snapshot, action log, cleanup requests and approvals,
//! scope with its generation time), so the same inputs always give the same report, and the CSV and
//! PDF rendered from it (`csv`, `pdf`, feature `report`) are byte-identical.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::CatalogSnapshot;
use crate::policy::Policy;
use crate::table::ManagedTable;

mod basis;
mod disposal;
mod inventory;
mod model;
mod stored;
#[cfg(test)]
mod tests;

#[cfg(feature = "report")]
pub mod csv;
#[cfg(feature = "report")]
pub mod pdf;

pub use basis::{attestation_text, policy_basis};
pub use model::*;
pub use stored::{can_sign, ReportFormat, ReportSignature, StoredReport};

/// The longest period one report may cover: ten years of disposal history is far more than any
/// audit asks for and keeps a report's size bounded.
pub const MAX_PERIOD_DAYS: i64 = 3660;

/// What a report covers and who asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportScope {
    /// First day of the period (UTC), inclusive.
    pub from: NaiveDate,
    /// Last day of the period (UTC), inclusive.
    pub to: NaiveDate,
    /// In `ManagedTable::ALL` order, no duplicates, never empty.
    pub tables: Vec<ManagedTable>,
    /// The report's "now": the retention window is measured from it, and it is the PDF's
    /// creation date.
    pub generated_at: DateTime<Utc>,
    pub generated_by: String,
}

/// Why a scope was refused; the text says what to give instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScopeError(pub String);

/// `YYYY-MM-DD`, nothing else (no times, no other orders: a report's period must be unambiguous).
pub fn parse_date(what: &str, text: &str) -> Result<NaiveDate, ScopeError> {
    let t = text.trim();
    let shaped = t.len() == 10
        && t.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let date = shaped
        .then(|| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok())
        .flatten();
    date.ok_or_else(|| {
        ScopeError(format!(
            "{what} '{text}' is not a date: give it as YYYY-MM-DD, e.g. 2026-01-31"
        ))
    })
}

impl ReportScope {
    /// Checks the period (from ≤ to, not after the generation day, at most [`MAX_PERIOD_DAYS`])
    /// and orders the tables; an empty list means all four.
    pub fn new(
        from: NaiveDate,
        to: NaiveDate,
        tables: &[ManagedTable],
        generated_at: DateTime<Utc>,
        generated_by: &str,
    ) -> Result<ReportScope, ScopeError> {
        if to < from {
            return Err(ScopeError(format!(
                "the period ends ({to}) before it starts ({from}): give --from on or before --to"
            )));
        }
        let today = generated_at.date_naive();
        if to > today {
            return Err(ScopeError(format!(
                "the period ends in the future ({to}; today is {today} UTC): a report can only cover days that have happened"
            )));
        }
        let days = (to - from).num_days() + 1;
        if days > MAX_PERIOD_DAYS {
            return Err(ScopeError(format!(
                "the period has {days} days; a report covers at most {MAX_PERIOD_DAYS} (about ten years): split it"
            )));
        }
        let by = generated_by.trim();
        if by.is_empty() || by.chars().any(char::is_control) {
            return Err(ScopeError(
                "the report needs the name of who generates it (no control characters)".into(),
            ));
        }
        let tables = ManagedTable::ALL
            .into_iter()
            .filter(|t| tables.is_empty() || tables.contains(t))
            .collect();
        Ok(ReportScope {
            from,
            to,
            tables,
            generated_at,
            generated_by: by.to_string(),
        })
    }

    /// The period as instants: `[from 00:00, to+1 00:00)` UTC.
    pub fn period_bounds(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let end = self.to.succ_opt().unwrap_or(self.to);
        (
            crate::calendar::midnight(self.from),
            crate::calendar::midnight(end),
        )
    }
}

/// One row of `partition_action_log`, as the report reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub table: String,
    pub partition: String,
    /// create | attach | detach | finalize_detach | drop | ...
    pub action: String,
    pub lower: Option<DateTime<Utc>>,
    pub upper: Option<DateTime<Utc>>,
    pub rows: Option<i64>,
    pub bytes: Option<i64>,
    /// ok | skipped | error
    pub outcome: String,
    /// The cleanup request a drop was run for (migration 009), if any.
    pub request_id: Option<i64>,
}

/// One row of `cleanup_requests`, the parts the disposal log shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub id: i64,
    pub requested_by: String,
    pub fingerprint: String,
    pub state: String,
    pub needs_compliance: bool,
    /// The partitions the request drops (from its `actions`).
    #[serde(default)]
    pub partitions: Vec<String>,
}

/// One row of `cleanup_approvals`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    pub request_id: i64,
    pub actor: String,
    /// dba | compliance | admin: the role the approval counted as.
    pub role: String,
    /// approve | reject
    pub decision: String,
}

/// Everything [`build`] reads. `actions` should hold every create and drop of the scoped tables
/// (not only the period's): a drop before the period still explains a gap inside the window.
/// `requests` holds the requests those drops name and the open ones (pending, approved, executing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportInputs {
    pub scope: ReportScope,
    pub policies: Vec<Policy>,
    /// The default partitions' `est_rows` should be exact counts (the adapter counts them).
    pub snapshot: CatalogSnapshot,
    pub actions: Vec<ActionRecord>,
    pub requests: Vec<RequestRecord>,
    pub approvals: Vec<ApprovalRecord>,
}

/// Builds the report. Pure: no clock, no I/O; `scope.generated_at` is "now".
pub fn build(inputs: &ReportInputs) -> ComplianceReport {
    let scope = &inputs.scope;
    let now = scope.generated_at;
    let mut policies = Vec::new();
    let mut inventory = Vec::new();
    let mut disposals = Vec::new();
    let mut findings = Vec::new();
    let open: Vec<RequestRecord> = inputs
        .requests
        .iter()
        .filter(|r| matches!(r.state.as_str(), "pending" | "approved" | "executing"))
        .cloned()
        .collect();
    for &table in &scope.tables {
        let policy = inputs
            .policies
            .iter()
            .find(|p| p.table == table)
            .copied()
            .unwrap_or(Policy::default_for(table));
        policies.push(policy_basis(&policy, now));
        let catalog = inputs.snapshot.table(table);
        let drops: Vec<&ActionRecord> = inputs
            .actions
            .iter()
            .filter(|a| a.table == table.name() && a.action == "drop" && a.outcome == "ok")
            .collect();
        let creates: Vec<&ActionRecord> = inputs
            .actions
            .iter()
            .filter(|a| a.table == table.name() && a.action == "create" && a.outcome == "ok")
            .collect();
        let inv = inventory::table_inventory(
            &policy,
            catalog,
            &drops,
            &creates,
            &open,
            now,
            scope.period_bounds(),
        );
        inventory.extend(inv.rows);
        findings.extend(inv.findings);
        let log =
            disposal::disposal_log(&policy, &drops, &inputs.requests, &inputs.approvals, scope);
        disposals.extend(log.entries);
        findings.extend(log.findings);
    }
    findings.sort_by(|a, b| {
        (a.table, a.severity, a.lower, &a.partition, a.kind).cmp(&(
            b.table,
            b.severity,
            b.lower,
            &b.partition,
            b.kind,
        ))
    });
    let verdicts = scope
        .tables
        .iter()
        .map(|&t| TableVerdict::of(t, &inventory, &disposals, &findings))
        .collect();
    ComplianceReport {
        scope: scope.clone(),
        policies,
        inventory,
        disposals,
        findings,
        verdicts,
        attestation: attestation_text(scope),
    }
}
