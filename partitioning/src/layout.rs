//! How one table's partitions lie against its policy: which are ours, which are foreign, which
//! ranges are taken, what the ahead window wants, what is past retention. Read by the planner,
//! the health checks and the metrics, so the three agree.

use chrono::{DateTime, Days, Utc};

use crate::calendar::{
    is_whole_period, next_period, parse_partition_expr, parse_partition_name, period_containing,
    periods_intersecting, previous_period, BoundExpr, PartitionBound,
};
use crate::catalog::{PartitionInfo, TableCatalog};
use crate::policy::Policy;
use crate::table::ManagedTable;

/// Statistics of the partition being written are stale after this long (autovacuum's analyze
/// normally comes much sooner); the planner's ANALYZE and the health check agree on it.
pub const STALE_STATS_DAYS: i64 = 7;

/// The largest `--days` honoured.
pub const MAX_AHEAD_DAYS: u32 = 36_600;

/// One table's partitions, sorted out.
#[derive(Debug, Clone)]
pub struct TableLayout<'a> {
    pub table: ManagedTable,
    pub policy: &'a Policy,
    pub catalog: &'a TableCatalog,
    /// Attached partitions named and bounded as the tool makes them (detach-pending included).
    pub ours: Vec<&'a PartitionInfo>,
    /// Attached partitions with a readable bound that the tool did not make: other names, or our
    /// names over other bounds. Reported, never touched.
    pub foreign: Vec<&'a PartitionInfo>,
    /// Attached partitions whose bound is open-ended or unreadable. Never dropped.
    pub unbounded: Vec<&'a PartitionInfo>,
    /// Every range an attached partition takes (open ends stretched to the calendar's ends),
    /// sorted; a new partition overlapping one of these would be refused by PostgreSQL.
    pub taken: Vec<(PartitionBound, &'a PartitionInfo)>,
}

impl<'a> TableLayout<'a> {
    pub fn new(policy: &'a Policy, catalog: &'a TableCatalog) -> Self {
        let mut layout = TableLayout {
            table: catalog.table,
            policy,
            catalog,
            ours: Vec::new(),
            foreign: Vec::new(),
            unbounded: Vec::new(),
            taken: Vec::new(),
        };
        for p in &catalog.partitions {
            let range = p
                .bound
                .or_else(|| match parse_partition_expr(&p.raw_bound) {
                    Ok(BoundExpr::Unbounded { lower, upper }) => Some(PartitionBound::new(
                        lower.unwrap_or(DateTime::<Utc>::MIN_UTC),
                        upper.unwrap_or(DateTime::<Utc>::MAX_UTC),
                    )),
                    _ => None,
                });
            if let Some(r) = range {
                layout.taken.push((r, p));
            }
            if p.bound.is_none() {
                layout.unbounded.push(p);
            } else if catalog.is_ours(p) {
                layout.ours.push(p);
            } else {
                layout.foreign.push(p);
            }
        }
        layout.taken.sort_by_key(|(b, _)| *b);
        layout.ours.sort_by_key(|p| p.bound);
        layout
    }

    /// The period holding `now`.
    pub fn current(&self, now: DateTime<Utc>) -> PartitionBound {
        period_containing(self.table.period(), now.date_naive())
    }

    /// The periods that must exist: the current one through the ahead window, which is the
    /// policy's `ahead` periods, or with `ahead_days` every period meeting [today, today + N days].
    pub fn window(&self, now: DateTime<Utc>, ahead_days: Option<u32>) -> Vec<PartitionBound> {
        let period = self.table.period();
        let today = now.date_naive();
        match ahead_days {
            Some(n) => {
                // A century is more than any sane --days; the cap keeps a typo from planning millions.
                let n = n.min(MAX_AHEAD_DAYS);
                let last = today
                    .checked_add_days(Days::new(u64::from(n)))
                    .unwrap_or(today);
                periods_intersecting(period, today, last)
            }
            None => {
                let mut out = vec![self.current(now)];
                for _ in 0..self.policy.ahead.min(MAX_AHEAD_DAYS) {
                    let Some(last) = out.last() else { break };
                    let next = next_period(period, last);
                    if next.lower <= last.lower {
                        break; // the calendar's end
                    }
                    out.push(next);
                }
                out
            }
        }
    }

    /// Attached partitions whose range meets `bound`.
    pub fn overlapping(&self, bound: &PartitionBound) -> Vec<&'a PartitionInfo> {
        self.taken
            .iter()
            .filter(|(b, _)| b.overlaps(bound))
            .map(|(_, p)| *p)
            .collect()
    }

    /// True when attached partitions together hold every instant of `bound`.
    pub fn covers(&self, bound: &PartitionBound) -> bool {
        let mut reached = bound.lower;
        for (b, _) in &self.taken {
            if b.lower > reached {
                break;
            }
            reached = reached.max(b.upper);
            if reached >= bound.upper {
                return true;
            }
        }
        reached >= bound.upper
    }

    /// Holes between attached partitions that end after `after` and start before `before`:
    /// rows with those times are refused (or land in the default partition).
    pub fn gaps(&self, after: DateTime<Utc>, before: DateTime<Utc>) -> Vec<PartitionBound> {
        let mut out = Vec::new();
        let mut reached: Option<DateTime<Utc>> = None;
        for (b, _) in &self.taken {
            if let Some(r) = reached {
                if b.lower > r && b.lower > after && r < before {
                    out.push(PartitionBound::new(r.max(after), b.lower.min(before)));
                }
            }
            reached = Some(reached.map_or(b.upper, |r| r.max(b.upper)));
        }
        out
    }

    /// The policy's cutoff: a partition whose upper bound is at or before it is past retention.
    pub fn cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.policy.retention.cutoff(now)
    }

    /// Our attached partitions past retention (detach-pending ones included), oldest first.
    pub fn past_retention(&self, now: DateTime<Utc>) -> Vec<&'a PartitionInfo> {
        let cutoff = self.cutoff(now);
        self.ours
            .iter()
            .copied()
            .filter(|p| p.bound.is_some_and(|b| b.upper <= cutoff))
            .collect()
    }

    /// Whole periods after the current one that are covered without a break.
    pub fn future_periods(&self, now: DateTime<Utc>) -> u32 {
        let period = self.table.period();
        let mut n = 0;
        let mut b = next_period(period, &self.current(now));
        while self.covers(&b) && n < 100_000 {
            n += 1;
            b = next_period(period, &b);
        }
        n
    }

    /// The period before the current one.
    pub fn previous(&self, now: DateTime<Utc>) -> PartitionBound {
        previous_period(self.table.period(), &self.current(now))
    }

    /// The bound a leftover detached table stands for, read from its name (it has no bound).
    pub fn leftover_bound(&self, p: &PartitionInfo) -> Option<PartitionBound> {
        parse_partition_name(self.table, &p.name)
            .filter(|b| is_whole_period(self.table.period(), b))
    }
}
