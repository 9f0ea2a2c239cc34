//! Upkeep rules: ANALYZE where statistics are missing or stale, sealing closed audit partitions.

use chrono::Duration;

use super::rules::{before, TablePlan};
use super::ActionKind;
use crate::calendar::human_instant;
use crate::catalog::PartitionInfo;
use crate::layout::STALE_STATS_DAYS;
use crate::table::ManagedTable;

/// Closed audit partitions are sealed only a day after they close, so rows stamped just before
/// midnight but committed after it still land.
const SEAL_GRACE_HOURS: i64 = 24;

impl TablePlan<'_, '_> {
    pub(super) fn analyze(&mut self) {
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

    pub(super) fn seal(&mut self) {
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
}
