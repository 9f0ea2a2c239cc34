//! Cleanup rules: interrupted detaches, partitions past retention, leftovers of killed runs.

use super::rules::TablePlan;
use super::{ActionKind, NoteKind};
use crate::calendar::parse_partition_name;

impl TablePlan<'_, '_> {
    pub(super) fn finalize_pending(&mut self) {
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

    pub(super) fn drop_past_retention(&mut self) {
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

    pub(super) fn drop_leftovers(&mut self) {
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
}
