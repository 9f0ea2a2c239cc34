//! The rules that turn one table's layout into actions, held drops and notes.

use chrono::{DateTime, Days, Duration, Utc};

use super::{Action, ActionKind, HeldAction, Hold, NoteKind, Plan, PlanNote, PlanOptions};
use crate::calendar::{human_instant, parse_partition_name, partition_name, PartitionBound};
use crate::catalog::PartitionInfo;
use crate::layout::{TableLayout, STALE_STATS_DAYS};
use crate::policy::{hipaa_guard_allows_drop, CleanupMode};
use crate::table::ManagedTable;

/// Closed audit partitions are sealed only a day after they close, so rows stamped just before
/// midnight but committed after it still land.
const SEAL_GRACE_HOURS: i64 = 24;

/// `now - d`, saturating at the calendar's start instead of panicking.
pub(crate) fn before(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    now.checked_sub_signed(d)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

struct TablePlan<'a, 'l> {
    l: &'l TableLayout<'a>,
    table: ManagedTable,
    now: DateTime<Utc>,
    actions: Vec<Action>,
    held: Vec<HeldAction>,
    notes: Vec<PlanNote>,
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
    fn act(&mut self, kind: ActionKind, reason: String) {
        self.actions.push(Action {
            table: self.table,
            kind,
            reason,
        });
    }

    fn note(&mut self, kind: NoteKind, partition: Option<&str>, message: String) {
        let partition = partition.map(str::to_string);
        self.notes.push(PlanNote {
            table: self.table,
            kind,
            partition,
            message,
        });
    }

    /// "past retention: upper bound 2018-11-01 is before the cutoff 2018-11-25 10:00:00 UTC (7 years)"
    fn past_reason(&self, bound: &PartitionBound) -> String {
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
    fn hold_of(&self, bound: &PartitionBound) -> Option<(Hold, String)> {
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

    fn drop_or_hold(&mut self, kind: ActionKind, bound: &PartitionBound, reason: String) {
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

    fn finalize_pending(&mut self) {
        let cutoff = self.l.cutoff(self.now);
        for p in self
            .l
            .catalog
            .partitions
            .iter()
            .filter(|p| p.detach_pending)
        {
            let ours = self.l.catalog.is_ours(p)
                || (p.bound.is_none() && parse_partition_name(self.table, &p.name).is_some());
            if !ours {
                let msg = format!(
                    "{} is pending detach but is not the tool's partition: left alone",
                    p.name
                );
                self.note(NoteKind::Foreign, Some(&p.name), msg);
                continue;
            }
            let reason = format!(
                "a DETACH ... CONCURRENTLY of {} was interrupted; FINALIZE completes it",
                p.name
            );
            self.act(
                ActionKind::FinalizeDetach {
                    name: p.name.clone(),
                    bound: p.bound,
                },
                reason,
            );
            match p.bound {
                Some(b) if b.upper <= cutoff => {
                    let kind = ActionKind::Drop {
                        name: p.name.clone(),
                        bound: b,
                        est_rows: p.est_rows,
                        bytes: p.bytes,
                    };
                    let reason = self.past_reason(&b);
                    self.drop_or_hold(kind, &b, reason);
                }
                Some(b) => {
                    let msg = format!(
                        "{} {b} was being detached but is within retention: after FINALIZE it stays as a detached \
                         table, not dropped; re-attach it if its rows are still wanted",
                        p.name
                    );
                    self.note(NoteKind::PendingWithinRetention, Some(&p.name), msg);
                }
                None => {
                    let msg = format!(
                        "{} has an unreadable bound: finalized, never dropped",
                        p.name
                    );
                    self.note(NoteKind::UnreadableBound, Some(&p.name), msg);
                }
            }
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

    fn drop_past_retention(&mut self) {
        for p in self.l.past_retention(self.now) {
            let Some(b) = p.bound else { continue };
            if p.detach_pending {
                continue; // finalize_pending handled it
            }
            let reason = self.past_reason(&b);
            let (name, est_rows, bytes) = (p.name.clone(), p.est_rows, p.bytes);
            match self.hold_of(&b) {
                None => {
                    self.act(
                        ActionKind::Detach {
                            name: name.clone(),
                            bound: b,
                            est_rows,
                            bytes,
                        },
                        reason.clone(),
                    );
                    self.act(
                        ActionKind::Drop {
                            name,
                            bound: b,
                            est_rows,
                            bytes,
                        },
                        reason,
                    );
                }
                Some(_) => self.drop_or_hold(
                    ActionKind::Drop {
                        name,
                        bound: b,
                        est_rows,
                        bytes,
                    },
                    &b,
                    reason,
                ),
            }
        }
    }

    fn drop_leftovers(&mut self) {
        let cutoff = self.l.cutoff(self.now);
        for p in self.l.catalog.detached.clone() {
            match self.l.leftover_bound(&p) {
                Some(b) if b.upper <= cutoff => {
                    let reason = format!(
                        "leftover of an interrupted cleanup (detached, never dropped); {}",
                        self.past_reason(&b)
                    );
                    self.drop_or_hold(
                        ActionKind::DropDetached {
                            name: p.name.clone(),
                            bound: b,
                        },
                        &b,
                        reason,
                    );
                }
                Some(b) => {
                    let msg = format!(
                        "{} {b} is detached (attached to nothing) but within retention: its rows are not seen \
                         through {}; re-attach it or drop it by hand",
                        p.name, self.table
                    );
                    self.note(NoteKind::Leftover, Some(&p.name), msg);
                }
                None => {
                    let msg = format!(
                        "{} is a detached table not named as the tool names partitions: left alone",
                        p.name
                    );
                    self.note(NoteKind::Leftover, Some(&p.name), msg);
                }
            }
        }
    }

    fn analyze(&mut self) {
        let current = self.l.current(self.now);
        let previous = self.l.previous(self.now);
        let stale_before = before(self.now, Duration::days(STALE_STATS_DAYS));
        let mut wanted: Vec<(String, String)> = Vec::new();
        for p in self.l.ours.iter().filter(|p| !p.detach_pending) {
            let Some(b) = p.bound else { continue };
            let why = match (b == current, b == previous, p.last_analyzed) {
                (true, _, None) | (_, true, None) => Some("never analyzed".to_string()),
                (true, _, Some(t)) if t < stale_before && p.est_rows > 0 => Some(format!(
                    "last analyzed {}, over {STALE_STATS_DAYS} days ago, while being written",
                    human_instant(t)
                )),
                (_, true, Some(t)) if t < b.upper && p.est_rows > 0 => Some(format!(
                    "last analyzed {}, before its period closed at {}: statistics miss its last rows",
                    human_instant(t),
                    human_instant(b.upper)
                )),
                _ => None,
            };
            if let Some(why) = why {
                wanted.push((p.name.clone(), why));
            }
        }
        for (name, why) in wanted {
            self.act(ActionKind::Analyze { name }, why);
        }
    }

    fn seal(&mut self) {
        if self.table != ManagedTable::AuthAuditLog {
            return;
        }
        let closed_before = before(self.now, Duration::hours(SEAL_GRACE_HOURS));
        let to_seal: Vec<&PartitionInfo> = self
            .l
            .ours
            .iter()
            .copied()
            .filter(|p| {
                !p.detach_pending && !p.sealed && p.bound.is_some_and(|b| b.upper <= closed_before)
            })
            .collect();
        for p in to_seal {
            let upper = p.bound.map(|b| human_instant(b.upper)).unwrap_or_default();
            let reason = format!(
                "closed audit partition (ended {upper}): seal it so UPDATE, DELETE and TRUNCATE are refused (AU-9)"
            );
            self.act(
                ActionKind::Seal {
                    name: p.name.clone(),
                },
                reason,
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
