//! The disposal log: every partition dropped inside the report's period, with who asked, who
//! approved and the approved plan's fingerprint; a drop made before retention ended, or a drop of
//! an approval-mode table without a properly approved request, is a finding.

use super::inventory::{early_drop, record_bound};
use super::{
    ActionRecord, ApprovalRecord, Disposal, Finding, FindingKind, ReportScope, RequestRecord,
    Severity,
};
use crate::calendar::human_instant;
use crate::policy::{CleanupMode, Policy};
use crate::table::ManagedTable;

pub(super) struct DisposalLog {
    pub entries: Vec<Disposal>,
    pub findings: Vec<Finding>,
}

/// Why the request's approvals do not meet the two-person rule, or None when they do: someone
/// other than the requester approved as DBA (or admin), and, for the audit log or a request
/// marked `needs_compliance`, a different person approved as compliance officer (role
/// `compliance` only: an admin counts as a DBA, as `approval::decide` rules).
fn approval_gap(
    table: ManagedTable,
    req: &RequestRecord,
    approvals: &[&ApprovalRecord],
) -> Option<String> {
    let approving: Vec<&&ApprovalRecord> = approvals
        .iter()
        .filter(|a| a.decision == "approve" && a.actor != req.requested_by)
        .collect();
    let dba = approving
        .iter()
        .find(|a| a.role == "dba" || a.role == "admin");
    let needs_compliance = req.needs_compliance || table == ManagedTable::AuthAuditLog;
    let compliance = approving
        .iter()
        .find(|a| a.role == "compliance" && dba.is_none_or(|d| d.actor != a.actor));
    match (dba, needs_compliance, compliance) {
        (None, _, _) => Some(format!(
            "request #{} has no approval by a DBA other than its requester {}",
            req.id, req.requested_by
        )),
        (Some(_), true, None) => Some(format!(
            "request #{} has no approval by a compliance officer (a second person): audit-log disposal needs both",
            req.id
        )),
        _ => None,
    }
}

pub(super) fn disposal_log(
    policy: &Policy,
    drops: &[&ActionRecord],
    requests: &[RequestRecord],
    approvals: &[ApprovalRecord],
    scope: &ReportScope,
) -> DisposalLog {
    let table = policy.table;
    let (start, end) = scope.period_bounds();
    let mut out = DisposalLog {
        entries: Vec::new(),
        findings: Vec::new(),
    };
    let mut in_period: Vec<&&ActionRecord> = drops
        .iter()
        .filter(|d| start <= d.at && d.at < end)
        .collect();
    in_period.sort_by_key(|d| (d.at, d.id));
    for d in in_period {
        let bound = record_bound(policy, d);
        let request = d
            .request_id
            .and_then(|id| requests.iter().find(|r| r.id == id));
        let mine: Vec<&ApprovalRecord> = match request {
            Some(r) => approvals.iter().filter(|a| a.request_id == r.id).collect(),
            None => Vec::new(),
        };
        let early = early_drop(policy, bound, d.at);
        let requested_by = match (request, d.request_id, policy.cleanup) {
            (Some(r), _, _) => r.requested_by.clone(),
            (None, Some(id), _) => format!("request #{id} (not found)"),
            (None, None, CleanupMode::Auto) => "policy (cleanup=auto)".to_string(),
            (None, None, CleanupMode::Approval) => "none recorded".to_string(),
        };
        out.entries.push(Disposal {
            table,
            partition: d.partition.clone(),
            lower: bound.map(|b| b.lower),
            upper: bound.map(|b| b.upper),
            dropped_at: d.at,
            rows: d.rows,
            bytes: d.bytes,
            executed_by: d.actor.clone(),
            request_id: d.request_id,
            requested_by,
            approvers: mine
                .iter()
                .filter(|a| a.decision == "approve")
                .map(|a| format!("{} ({})", a.actor, a.role))
                .collect(),
            fingerprint: request.map(|r| r.fingerprint.clone()).unwrap_or_default(),
            within_policy: early.is_none(),
        });
        let finding = |kind, text: String| Finding {
            table,
            kind,
            severity: Severity::Finding,
            partition: d.partition.clone(),
            lower: bound.map(|b| b.lower),
            upper: bound.map(|b| b.upper),
            rows: d.rows,
            explanation: text,
        };
        if let Some(why) = early {
            out.findings.push(finding(
                FindingKind::DroppedEarly,
                format!(
                    "{} was dropped {} by {}: {why}",
                    d.partition,
                    human_instant(d.at),
                    d.actor
                ),
            ));
        }
        if policy.cleanup == CleanupMode::Approval || table == ManagedTable::AuthAuditLog {
            let gap = match request {
                None => Some(match d.request_id {
                    Some(id) => format!("it names request #{id}, which does not exist"),
                    None => "it was not run for a cleanup request".to_string(),
                }),
                Some(r) => approval_gap(table, r, &mine),
            };
            if let Some(gap) = gap {
                out.findings.push(finding(
                    FindingKind::UnapprovedDisposal,
                    format!(
                        "{} was dropped {} by {} without the two-person approval {table} requires (NIST SP 800-53 AU-9(5)): {gap}.",
                        d.partition,
                        human_instant(d.at),
                        d.actor
                    ),
                ));
            }
        }
    }
    out
}
