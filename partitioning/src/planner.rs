//! The planner: a pure function from (config, catalog snapshot, now, options) to a `Plan`, the
//! list of actions that would bring the database to its policy, each with the reason a person
//! reads. It never reads the clock or the database; executing a plan is `pg::executor`'s job.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::PartitionBound;
use crate::catalog::CatalogSnapshot;
use crate::config::Config;
use crate::fingerprint::{self, Fingerprint};
use crate::layout::TableLayout;
use crate::table::ManagedTable;

pub use crate::layout::{MAX_AHEAD_DAYS, STALE_STATS_DAYS};

mod cleanup;
pub mod quick;
mod rules;
#[cfg(test)]
mod tests;
mod upkeep;

/// What to plan for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOptions {
    /// Empty: all managed tables.
    pub tables: Vec<ManagedTable>,
    /// Create the current period through the ahead window (and move rows out of the default).
    pub create: bool,
    /// Detach and drop partitions past retention; finish interrupted detaches; drop leftovers.
    pub cleanup: bool,
    /// ANALYZE the current and previous partitions when their statistics are missing or stale.
    pub analyze: bool,
    /// Seal closed audit partitions (trigger + REVOKE).
    pub seal: bool,
    /// `--days N`: create every period meeting [today, today + N days] instead of the policy's
    /// `ahead` periods.
    pub ahead_days: Option<u32>,
}

impl PlanOptions {
    pub fn create() -> Self {
        PlanOptions {
            create: true,
            ..Default::default()
        }
    }

    pub fn cleanup() -> Self {
        PlanOptions {
            cleanup: true,
            ..Default::default()
        }
    }

    /// The guide's `maintenance`: create + cleanup + analyze.
    pub fn maintenance() -> Self {
        PlanOptions {
            create: true,
            cleanup: true,
            analyze: true,
            ..Default::default()
        }
    }

    fn selected(&self) -> Vec<ManagedTable> {
        if self.tables.is_empty() {
            ManagedTable::ALL.to_vec()
        } else {
            ManagedTable::ALL
                .into_iter()
                .filter(|t| self.tables.contains(t))
                .collect()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActionKind {
    /// Non-blocking create: LIKE + CHECK + ATTACH.
    Create {
        name: String,
        bound: PartitionBound,
    },
    /// Complete a `DETACH ... CONCURRENTLY` that was interrupted.
    FinalizeDetach {
        name: String,
        bound: Option<PartitionBound>,
    },
    Detach {
        name: String,
        bound: PartitionBound,
        est_rows: i64,
        bytes: i64,
    },
    /// Drop a partition detached by the `Detach` before it.
    Drop {
        name: String,
        bound: PartitionBound,
        est_rows: i64,
        bytes: i64,
    },
    /// Drop a table left detached by an interrupted run (named like ours, attached to nothing).
    DropDetached {
        name: String,
        bound: PartitionBound,
    },
    MoveDefaultRows {
        default_name: String,
        est_rows: i64,
    },
    Analyze {
        name: String,
    },
    Seal {
        name: String,
    },
}

impl ActionKind {
    /// The word `partition_action_log.action` stores.
    pub fn verb(&self) -> &'static str {
        match self {
            ActionKind::Create { .. } => "create",
            ActionKind::FinalizeDetach { .. } => "finalize_detach",
            ActionKind::Detach { .. } => "detach",
            ActionKind::Drop { .. } | ActionKind::DropDetached { .. } => "drop",
            ActionKind::MoveDefaultRows { .. } => "move_default_rows",
            ActionKind::Analyze { .. } => "analyze",
            ActionKind::Seal { .. } => "seal",
        }
    }

    /// Like `verb`, but tells a leftover's drop apart (`drop_detached`); used in fingerprints.
    pub fn tag(&self) -> &'static str {
        match self {
            ActionKind::DropDetached { .. } => "drop_detached",
            other => other.verb(),
        }
    }

    pub fn partition_name(&self) -> &str {
        match self {
            ActionKind::Create { name, .. }
            | ActionKind::FinalizeDetach { name, .. }
            | ActionKind::Detach { name, .. }
            | ActionKind::Drop { name, .. }
            | ActionKind::DropDetached { name, .. }
            | ActionKind::Analyze { name }
            | ActionKind::Seal { name } => name,
            ActionKind::MoveDefaultRows { default_name, .. } => default_name,
        }
    }

    pub fn bound(&self) -> Option<&PartitionBound> {
        match self {
            ActionKind::Create { bound, .. }
            | ActionKind::Detach { bound, .. }
            | ActionKind::Drop { bound, .. }
            | ActionKind::DropDetached { bound, .. } => Some(bound),
            ActionKind::FinalizeDetach { bound, .. } => bound.as_ref(),
            _ => None,
        }
    }

    /// (estimated rows, bytes) where the plan knows them, for the action log.
    pub fn size(&self) -> (Option<i64>, Option<i64>) {
        match self {
            ActionKind::Detach {
                est_rows, bytes, ..
            }
            | ActionKind::Drop {
                est_rows, bytes, ..
            } => (Some(*est_rows), Some(*bytes)),
            ActionKind::MoveDefaultRows { est_rows, .. } => (Some(*est_rows), None),
            _ => (None, None),
        }
    }

    /// Loses data if run (once detached and dropped, rows are gone).
    pub fn is_destructive(&self) -> bool {
        matches!(
            self,
            ActionKind::Detach { .. } | ActionKind::Drop { .. } | ActionKind::DropDetached { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub table: ManagedTable,
    pub kind: ActionKind,
    /// Why, in words: "past retention: upper bound 2018-11-01 is at or before the cutoff ...".
    pub reason: String,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}.{}: {}",
            self.kind.verb(),
            self.table,
            self.kind.partition_name(),
            self.reason
        )
    }
}

/// Why an eligible drop was not put in `actions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hold {
    /// The table's cleanup mode is `approval`: two people must approve it in the console.
    ApprovalRequired,
    /// The HIPAA retention guard refused it (the policy says past retention; the floor does not).
    RetentionGuard,
}

/// A drop the planner found eligible but did not plan: one per partition (`Drop` or
/// `DropDetached`; executing an approved `Drop` detaches first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldAction {
    pub table: ManagedTable,
    pub kind: ActionKind,
    /// Why it is eligible, and why it is held.
    pub reason: String,
    pub hold: Hold,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// The table is missing from the database or the snapshot.
    MissingTable,
    NotPartitioned,
    /// A partition the tool did not make (other name, or our name over other bounds): left alone.
    Foreign,
    /// A partition whose bound is open-ended or unreadable: never dropped.
    UnreadableBound,
    /// A period of the window cannot be created: another partition takes part of its range.
    Overlap,
    /// A hole between partitions, inside retention.
    Gap,
    DefaultRows,
    /// A detached table named like ours, still within retention (or named oddly): not dropped.
    Leftover,
    /// A detach-pending partition that is not past retention: finalized, not dropped.
    PendingWithinRetention,
    /// The table has a default partition against its policy, or lacks one the policy asks for.
    DefaultPartitionPolicy,
}

/// Something a person should know that is not an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanNote {
    pub table: ManagedTable,
    pub kind: NoteKind,
    pub partition: Option<String>,
    pub message: String,
}

impl fmt::Display for PlanNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.table, self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub now: DateTime<Utc>,
    /// Grouped by table (ALL order); within a table: finalize, move default rows, creates, detach
    /// and drop pairs, leftover drops, analyze, seal.
    pub actions: Vec<Action>,
    /// Eligible drops not run: approval needed, or refused by the HIPAA guard.
    pub held: Vec<HeldAction>,
    pub notes: Vec<PlanNote>,
    /// The oid of each planned table, bound into fingerprints (a recreated table is another table).
    pub table_oids: Vec<(ManagedTable, u32)>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Fingerprint of `actions` (and table oids).
    pub fn fingerprint(&self) -> Fingerprint {
        fingerprint::of_actions_with_oids(&self.actions, &self.table_oids)
    }

    /// The held drops that an approval would run, as actions.
    pub fn approval_actions(&self) -> Vec<Action> {
        self.held
            .iter()
            .filter(|h| h.hold == Hold::ApprovalRequired)
            .map(|h| Action {
                table: h.table,
                kind: h.kind.clone(),
                reason: h.reason.clone(),
            })
            .collect()
    }

    /// What an approval request binds to: the held-for-approval drops, with table oids.
    pub fn approval_fingerprint(&self) -> Fingerprint {
        fingerprint::of_actions_with_oids(&self.approval_actions(), &self.table_oids)
    }
}

/// Plans the work `opts` asks for on the tables it names. `now` is a parameter (the snapshot's
/// `taken_at` in production) so plans are reproducible and testable.
pub fn plan(
    config: &Config,
    snapshot: &CatalogSnapshot,
    now: DateTime<Utc>,
    opts: &PlanOptions,
) -> Plan {
    let mut out = Plan {
        now,
        actions: Vec::new(),
        held: Vec::new(),
        notes: Vec::new(),
        table_oids: Vec::new(),
    };
    for table in opts.selected() {
        let note = |kind, message: String| PlanNote {
            table,
            kind,
            partition: None,
            message,
        };
        let Some(catalog) = snapshot.table(table) else {
            out.notes.push(note(
                NoteKind::MissingTable,
                "not in the catalog snapshot; nothing planned".into(),
            ));
            continue;
        };
        if !catalog.exists() {
            let msg = "the table does not exist; run the migrations first".to_string();
            out.notes.push(note(NoteKind::MissingTable, msg));
            continue;
        }
        out.table_oids.push((table, catalog.oid));
        if !catalog.is_partitioned {
            let msg =
                "the table is not partitioned; apply migration 006 with `rustcare-partitions db migrate`".to_string();
            out.notes.push(note(NoteKind::NotPartitioned, msg));
            continue;
        }
        let layout = TableLayout::new(config.policy(table), catalog);
        rules::plan_table(&layout, now, opts, &mut out);
    }
    out
}
