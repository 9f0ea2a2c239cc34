//! The rules that turn one table's layout into actions, held drops and notes: the shared
//! machinery, notes on odd partitions, and creation (cleanup and upkeep rules live beside it).

use chrono::{DateTime, Days, Duration, Utc};

use super::{Action, ActionKind, HeldAction, Hold, NoteKind, Plan, PlanNote, PlanOptions};
use crate::calendar::{human_instant, parse_partition_name, partition_name, PartitionBound};
use crate::layout::TableLayout;
use crate::policy::{hipaa_guard_allows_drop, CleanupMode};
use crate::table::ManagedTable;

/// `now - d`, saturating at the calendar's start instead of panicking.
pub(crate) fn before(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    now.checked_sub_signed(d)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

pub(super) struct TablePlan<'a, 'l> {
    pub(super) l: &'l TableLayout<'a>,
    pub(super) table: ManagedTable,
    pub(super) now: DateTime<Utc>,
    pub(super) actions: Vec<Action>,
    pub(super) held: Vec<HeldAction>,
    pub(super) notes: Vec<PlanNote>,
}

pub(super) fn plan_table(
    l: &TableLayout<'_>,
    now: DateTime<Utc>,
    opts: &PlanOptions,
    out: &mut Plan,
) {
    let mut p = TablePlan {
        l,
        table: l.table,
        now,
        actions: Vec::new(),
        held: Vec::new(),
        notes: Vec::new(),
    };
    p.note_oddities();
    if opts.cleanup {
        p.finalize_pending();
    }
    if opts.create {
        p.move_default_rows();
        p.create(opts.ahead_days);
    }
    if opts.cleanup {
        p.drop_past_retention();
        p.drop_leftovers();
    }
    if opts.analyze {
        p.analyze();
    }
    if opts.seal {
        p.seal();
    }
    p.note_gaps_and_default();
    out.actions.append(&mut p.actions);
    out.held.append(&mut p.held);
    out.notes.append(&mut p.notes);
}

impl TablePlan<'_, '_> {
    pub(super) fn act(&mut self, kind: ActionKind, reason: String) {
        self.actions.push(Action {
            table: self.table,
            kind,
            reason,
        });
    }

    pub(super) fn note(&mut self, kind: NoteKind, partition: Option<&str>, message: String) {
        let partition = partition.map(str::to_string);
        self.notes.push(PlanNote {
            table: self.table,
            kind,
            partition,
            message,
        });
    }

    /// "past retention: upper bound 2018-11-01 is before the cutoff 2018-11-25 10:00:00 UTC (7 years)"
    pub(super) fn past_reason(&self, bound: &PartitionBound) -> String {
        let cutoff = self.l.cutoff(self.now);
        let relation = if bound.upper == cutoff {
            "equals"
        } else {
            "is before"
        };
        format!(
            "past retention: upper bound {} {relation} the cutoff {} ({})",
            human_instant(bound.upper),
            human_instant(cutoff),
            self.l.policy.retention
        )
    }

    /// `None`: drop it now. `Some`: hold it, and why.
    pub(super) fn hold_of(&self, bound: &PartitionBound) -> Option<(Hold, String)> {
        if let Err(why) =
            hipaa_guard_allows_drop(self.table, bound, &self.l.policy.retention, self.now)
        {
            return Some((
                Hold::RetentionGuard,
                format!("held by the retention guard: {why}"),
            ));
        }
        (self.l.policy.cleanup == CleanupMode::Approval).then(|| {
            let who = if self.table == ManagedTable::AuthAuditLog {
                "a DBA and a compliance officer"
            } else {
                "two people"
            };
            let msg = format!(
                "{} cleanup needs a two-person approval in the console ({who})",
                self.table
            );
            (Hold::ApprovalRequired, msg)
        })
    }

    pub(super) fn drop_or_hold(
        &mut self,
        kind: ActionKind,
        bound: &PartitionBound,
        reason: String,
    ) {
        match self.hold_of(bound) {
            None => self.act(kind, reason),
            Some((hold, why)) => {
                let reason = format!("{reason}; {why}");
                self.held.push(HeldAction {
                    table: self.table,
                    kind,
                    reason,
                    hold,
                });
            }
        }
    }

    fn note_oddities(&mut self) {
        let table = self.table;
        for p in self.l.foreign.clone() {
            let Some(b) = p.bound else { continue };
            let msg = match parse_partition_name(table, &p.name) {
                Some(named) => format!(
                    "{} is named like the tool's partitions but its bound {b} is not the period its name says \
                     ({named}); created under a session TimeZone other than UTC? Left alone",
                    p.name
                ),
                None => format!("{} {b} is not a partition the tool makes (other name): left alone", p.name),
            };
            self.note(NoteKind::Foreign, Some(&p.name), msg);
            if b.upper <= self.l.cutoff(self.now) {
                let msg = format!("{} is past retention but not the tool's to drop: drop it by hand if it should go", p.name);
                self.note(NoteKind::Foreign, Some(&p.name), msg);
            }
        }
        for p in self.l.unbounded.clone() {
            let msg = format!(
                "{} has a bound the tool cannot use (`{}`): never dropped, left alone",
                p.name, p.raw_bound
            );
            self.note(NoteKind::UnreadableBound, Some(&p.name), msg);
        }
    }

    fn move_default_rows(&mut self) {
        let Some(d) = &self.l.catalog.default_partition else {
            return;
        };
        if d.est_rows > 0 {
            let reason = format!(
                "the default partition {} holds about {} rows: moved into proper partitions, so ATTACH need not \
                 scan (and lock) it and the rows follow retention",
                d.name, d.est_rows
            );
            let kind = ActionKind::MoveDefaultRows {
                default_name: d.name.clone(),
                est_rows: d.est_rows,
            };
            self.act(kind, reason);
        }
    }

    fn create(&mut self, ahead_days: Option<u32>) {
        let window = self.l.window(self.now, ahead_days);
        let Some(last) = window.last().copied() else {
            return;
        };
        let period = self.table.period();
        let scope = match ahead_days {
            Some(n) => {
                let today = self.now.date_naive();
                let end = today
                    .checked_add_days(Days::new(u64::from(n)))
                    .unwrap_or(today);
                format!("--days {n} window: every {period} meeting {today} .. {end}")
            }
            None => format!(
                "policy window: the current {period} and {} ahead, through {}",
                self.l.policy.ahead,
                human_instant(last.upper)
            ),
        };
        let current = self.l.current(self.now);
        for b in window {
            let name = partition_name(self.table, &b);
            let over = self.l.overlapping(&b);
            if over.iter().any(|p| p.name == name && p.bound == Some(b)) {
                continue; // exists
            }
            if !over.is_empty() {
                if !self.l.covers(&b) {
                    let others: Vec<String> = over
                        .iter()
                        .map(|p| {
                            format!(
                                "{} ({})",
                                p.name,
                                p.bound.map_or(p.raw_bound.clone(), |x| x.to_string())
                            )
                        })
                        .collect();
                    let msg = format!(
                        "cannot create {name} {b}: it would overlap {}; left alone",
                        others.join(", ")
                    );
                    self.note(NoteKind::Overlap, Some(&name), msg);
                }
                continue;
            }
            if self.l.catalog.detached.iter().any(|p| p.name == name) {
                let msg = format!(
                    "cannot create {name} {b}: a detached table of that name exists (an interrupted run?); \
                     re-attach or drop it"
                );
                self.note(NoteKind::Leftover, Some(&name), msg);
                continue;
            }
            let what = if b == current {
                format!("the current {period}: rows written now need it")
            } else if self
                .l
                .ours
                .iter()
                .any(|p| p.bound.is_some_and(|x| x.lower > b.lower))
            {
                "fills a gap between existing partitions".to_string()
            } else {
                "missing".to_string()
            };
            self.act(
                ActionKind::Create { name, bound: b },
                format!("{what}; inside the {scope}"),
            );
        }
    }

    fn note_gaps_and_default(&mut self) {
        let has_default = self.l.catalog.default_partition.is_some();
        let fate = if has_default {
            "land in the default partition"
        } else {
            "are refused"
        };
        for g in self
            .l
            .gaps(self.l.cutoff(self.now), self.l.current(self.now).lower)
        {
            let msg = format!("gap: no partition covers {g}; rows with these times {fate}");
            self.note(NoteKind::Gap, None, msg);
        }
        match (
            self.l.policy.default_partition,
            &self.l.catalog.default_partition,
        ) {
            (true, None) => {
                let msg = "the policy asks for a default partition and there is none: rows outside every \
                           partition are refused"
                    .to_string();
                self.note(NoteKind::DefaultPartitionPolicy, None, msg);
            }
            (false, Some(d)) => {
                let msg = format!(
                    "has a default partition ({}) though the policy says no: while it exists DETACH cannot run \
                     CONCURRENTLY and each ATTACH scans it",
                    d.name
                );
                let name = d.name.clone();
                self.note(NoteKind::DefaultPartitionPolicy, Some(&name), msg);
            }
            _ => {}
        }
        if let Some(d) = self.l.catalog.default_partition.clone() {
            if d.est_rows > 0 {
                let msg = format!(
                    "the default partition {} holds about {} rows",
                    d.name, d.est_rows
                );
                self.note(NoteKind::DefaultRows, Some(&d.name), msg);
            }
        }
    }
}
