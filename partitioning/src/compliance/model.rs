//! The report's parts: what each section holds, and the words used for statuses, finding kinds
//! and verdicts (the same words appear in the CSV, the PDF and the console).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ReportScope;
use crate::calendar::Period;
use crate::policy::{CleanupMode, Retention};
use crate::table::ManagedTable;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComplianceReport {
    pub scope: ReportScope,
    pub policies: Vec<PolicyBasis>,
    /// Per table (scope order), oldest first; the default partition last.
    pub inventory: Vec<InventoryRow>,
    /// Drops inside the period, oldest first.
    pub disposals: Vec<Disposal>,
    /// Findings and notes, by table, findings before notes, oldest first.
    pub findings: Vec<Finding>,
    pub verdicts: Vec<TableVerdict>,
    pub attestation: String,
}

impl ComplianceReport {
    /// Number of findings (not notes) over all tables.
    pub fn finding_count(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Finding)
            .count()
    }

    pub fn compliant(&self) -> bool {
        self.verdicts.iter().all(|v| v.compliant)
    }
}

/// Which limit decides how long a table is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Governs {
    /// The organisation's policy, longer than the legal floor (the audit log's 7 years).
    OrganisationalPolicy,
    /// HIPAA's 6-year floor (the configured retention equals it).
    HipaaFloor,
    /// No legal retention applies: an operational policy.
    OperationalPolicy,
}

impl Governs {
    pub fn as_str(self) -> &'static str {
        match self {
            Governs::OrganisationalPolicy => "organisational_policy",
            Governs::HipaaFloor => "hipaa_floor",
            Governs::OperationalPolicy => "operational_policy",
        }
    }
}

/// One table's retention policy and why it is what it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyBasis {
    pub table: ManagedTable,
    pub period: Period,
    pub retention: Retention,
    pub cleanup: CleanupMode,
    pub governs: Governs,
    /// Rows with partitions ending at or before this are past retention (as of generation).
    pub cutoff: DateTime<Utc>,
    /// The legal or operational basis, in sentences.
    pub basis: String,
}

/// What the inventory says about one period or partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InventoryStatus {
    /// A partition of the tool's naming covers the period.
    Present,
    /// Sealed closed audit month (immutable): present and protected.
    Sealed,
    /// No partition for a period inside the retention window.
    Missing,
    /// The period's partition was dropped while still inside retention.
    DroppedEarly,
    /// Inside the window but before the table's first partition, with no record that one existed.
    NoRecords,
    /// A partition whose period ended at or before the cutoff, still kept.
    PastRetention,
    /// Detached from the parent but not dropped: its rows are invisible to queries on the table.
    Detached,
    /// `DETACH ... CONCURRENTLY` interrupted: needs FINALIZE.
    DetachPending,
    /// A partition the tool did not name (or whose bound is not its name's period).
    Foreign,
    /// The default partition (rows with no range partition land here).
    Default,
}

impl InventoryStatus {
    pub const ALL: [InventoryStatus; 10] = [
        InventoryStatus::Present,
        InventoryStatus::Sealed,
        InventoryStatus::Missing,
        InventoryStatus::DroppedEarly,
        InventoryStatus::NoRecords,
        InventoryStatus::PastRetention,
        InventoryStatus::Detached,
        InventoryStatus::DetachPending,
        InventoryStatus::Foreign,
        InventoryStatus::Default,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InventoryStatus::Present => "present",
            InventoryStatus::Sealed => "sealed",
            InventoryStatus::Missing => "missing",
            InventoryStatus::DroppedEarly => "dropped_early",
            InventoryStatus::NoRecords => "no_records",
            InventoryStatus::PastRetention => "past_retention",
            InventoryStatus::Detached => "detached",
            InventoryStatus::DetachPending => "detach_pending",
            InventoryStatus::Foreign => "foreign",
            InventoryStatus::Default => "default",
        }
    }

    /// Whether the row is a gap or problem (drawn in the warning colour).
    pub fn is_gap(self) -> bool {
        !matches!(self, InventoryStatus::Present | InventoryStatus::Sealed)
            && self != InventoryStatus::Default
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryRow {
    pub table: ManagedTable,
    /// Empty for a missing period.
    pub partition: String,
    pub lower: Option<DateTime<Utc>>,
    pub upper: Option<DateTime<Utc>>,
    pub status: InventoryStatus,
    /// Estimated rows (`reltuples`); exact for the default partition.
    pub rows: i64,
    pub bytes: i64,
    /// A short remark (what a gap is, which drop removed it).
    pub note: String,
}

impl InventoryRow {
    /// Whether the row shows a problem (drawn in the warning colour): a gap, or a default
    /// partition holding rows (a finding, though the default partition itself is expected).
    pub fn is_problem(&self) -> bool {
        self.status.is_gap() || (self.status == InventoryStatus::Default && self.rows > 0)
    }
}

/// One dropped partition inside the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disposal {
    pub table: ManagedTable,
    pub partition: String,
    pub lower: Option<DateTime<Utc>>,
    pub upper: Option<DateTime<Utc>>,
    pub dropped_at: DateTime<Utc>,
    /// The row estimate the action log recorded for the partition when it was dropped.
    pub rows: Option<i64>,
    pub bytes: Option<i64>,
    /// Who ran the drop (console user, `cli:<user>`, `sql:<role>` for pg_cron).
    pub executed_by: String,
    pub request_id: Option<i64>,
    /// The request's author, or `policy (cleanup=auto)` for automatic drops.
    pub requested_by: String,
    /// `name (role)` of each approval, in the order given.
    pub approvers: Vec<String>,
    /// The approved plan's SHA-256 fingerprint, when the drop ran for a request.
    pub fingerprint: String,
    /// Past retention at the moment of the drop (the policy's cutoff on that day).
    pub within_policy: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Breaks the policy: the table's verdict is "findings".
    Finding,
    /// Worth knowing, explained, not a breach.
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Finding => "finding",
            Severity::Note => "note",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        [Severity::Finding, Severity::Note]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    MissingPeriod,
    DroppedEarly,
    DefaultRows,
    PastRetentionKept,
    Detached,
    DetachPending,
    UnapprovedDisposal,
    ForeignPartition,
    NoEarlierRecords,
}

impl FindingKind {
    pub const ALL: [FindingKind; 9] = [
        FindingKind::MissingPeriod,
        FindingKind::DroppedEarly,
        FindingKind::DefaultRows,
        FindingKind::PastRetentionKept,
        FindingKind::Detached,
        FindingKind::DetachPending,
        FindingKind::UnapprovedDisposal,
        FindingKind::ForeignPartition,
        FindingKind::NoEarlierRecords,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::MissingPeriod => "missing_period",
            FindingKind::DroppedEarly => "dropped_early",
            FindingKind::DefaultRows => "default_rows",
            FindingKind::PastRetentionKept => "past_retention_kept",
            FindingKind::Detached => "detached",
            FindingKind::DetachPending => "detach_pending",
            FindingKind::UnapprovedDisposal => "unapproved_disposal",
            FindingKind::ForeignPartition => "foreign_partition",
            FindingKind::NoEarlierRecords => "no_earlier_records",
        }
    }

    /// The heading the PDF and console use.
    pub fn title(self) -> &'static str {
        match self {
            FindingKind::MissingPeriod => "Missing period",
            FindingKind::DroppedEarly => "Dropped before retention ended",
            FindingKind::DefaultRows => "Rows stranded in the default partition",
            FindingKind::PastRetentionKept => "Kept past retention",
            FindingKind::Detached => "Detached, not dropped",
            FindingKind::DetachPending => "Detach interrupted",
            FindingKind::UnapprovedDisposal => "Disposal without the required approvals",
            FindingKind::ForeignPartition => "Partition not made by the tool",
            FindingKind::NoEarlierRecords => "No records before the first partition",
        }
    }

    pub fn parse(text: &str) -> Option<FindingKind> {
        FindingKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// A gap, a breach or a remark, with the explanation an auditor reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub table: ManagedTable,
    pub kind: FindingKind,
    pub severity: Severity,
    /// The partition concerned; empty for a missing period.
    pub partition: String,
    pub lower: Option<DateTime<Utc>>,
    pub upper: Option<DateTime<Utc>>,
    pub rows: Option<i64>,
    pub explanation: String,
}

/// A table's verdict: compliant when it has no finding (notes do not count).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableVerdict {
    pub table: ManagedTable,
    pub compliant: bool,
    pub findings: usize,
    pub notes: usize,
    /// One line: what was checked and what was found.
    pub summary: String,
}

impl TableVerdict {
    pub fn word(&self) -> &'static str {
        if self.compliant {
            "compliant"
        } else {
            "findings"
        }
    }

    pub(super) fn of(
        table: ManagedTable,
        inventory: &[InventoryRow],
        disposals: &[Disposal],
        findings: &[Finding],
    ) -> TableVerdict {
        let mine: Vec<&Finding> = findings.iter().filter(|f| f.table == table).collect();
        let count = |s: Severity| mine.iter().filter(|f| f.severity == s).count();
        let (n_findings, notes) = (count(Severity::Finding), count(Severity::Note));
        let present = inventory
            .iter()
            .filter(|r| {
                r.table == table
                    && matches!(r.status, InventoryStatus::Present | InventoryStatus::Sealed)
            })
            .count();
        let drops = disposals.iter().filter(|d| d.table == table).count();
        let mut kinds: Vec<String> = Vec::new();
        for kind in FindingKind::ALL {
            let n = mine
                .iter()
                .filter(|f| f.kind == kind && f.severity == Severity::Finding)
                .count();
            if n > 0 {
                kinds.push(format!("{n} {}", kind.as_str().replace('_', " ")));
            }
        }
        let (present_n, drops_n) = (
            counted(present, "partition", "partitions"),
            counted(drops, "disposal", "disposals"),
        );
        let summary = if n_findings == 0 {
            format!(
                "Compliant: {present_n} present in the retention window, {drops_n} in the period, no findings ({}).",
                counted(notes, "note", "notes")
            )
        } else {
            format!(
                "{}: {}. {present_n} present, {drops_n} in the period.",
                counted(n_findings, "finding", "findings"),
                kinds.join(", ")
            )
        };
        TableVerdict {
            table,
            compliant: n_findings == 0,
            findings: n_findings,
            notes,
            summary,
        }
    }
}

/// `1 partition`, `3 partitions`: a report an auditor reads says it properly.
fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
