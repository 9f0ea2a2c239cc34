//! The quick check: proving that a run has nothing to do without reading every partition.
//!
//! At thousands of partitions the catalog snapshot costs far more than everything else a run
//! does, and the usual answer of a scheduled `maintenance` is "nothing to do". Each rule of the
//! planner looks at few partitions when nothing is due:
//! - **create** and **analyze**: the partitions of the window, the current period and the previous
//!   one, found by their names;
//! - **drops past retention** and **leftovers**: only partitions named like ours for a period
//!   wholly before the cutoff, and names sort by date, so they all lie before one name;
//! - **finalize**: detach-pending partitions, wherever they are;
//! - **moving default rows**: the default partition.
//!
//! So a *partial* snapshot holding just those (`QuickScope` says which; `pg::catalog::quick_snapshot`
//! reads them) plans an action whenever the full snapshot does: every partition a rule acts on is
//! in it, and a partition missing from it can only make the create rule see a hole where there is
//! none (one more action, never one less). When the partial plan is empty, nothing is due; when it
//! is not, the caller reads the full snapshot and plans as always. Notes (gaps, foreign partitions)
//! need every partition and are not made here. The proof is tested against the full planner on
//! random catalogs (`tests::quick`).

use chrono::{DateTime, Datelike, Duration, Utc};

use super::{plan, PlanOptions};
use crate::calendar::{partition_name, period_containing, PartitionBound};
use crate::catalog::{CatalogSnapshot, TableCatalog};
use crate::config::Config;
use crate::layout::TableLayout;
use crate::table::ManagedTable;

/// The most periods a quick check names per table (a `--days` window of years is planned the
/// usual way).
const MAX_NAMES: usize = 400;

/// How far the database's clock may differ from this machine's for the names read to still cover
/// the periods the planner asks about at the database's `now()`; beyond it the check gives up.
const CLOCK_MARGIN_MINUTES: i64 = 30;

/// What a quick check reads for one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickTable {
    pub table: ManagedTable,
    /// Partitions read by exact name: the window, the current and the previous periods, for
    /// `now` give or take the clock margin.
    pub names: Vec<String>,
    /// Every table named `<table>_<digits>...` sorting before this is read: it is the name of the
    /// period holding the cutoff (margin included), so each of our partitions past retention, and
    /// each leftover past retention, sorts before it.
    pub retain_from: String,
}

impl QuickTable {
    /// True when the quick check reads a relation of this name (attached to the table, or a
    /// leftover in its schema): `QUICK_SQL` implements exactly this rule, pending detaches and
    /// the default partition aside (those are read wherever they are).
    pub fn reads(&self, name: &str) -> bool {
        let first = format!("{}_0", self.table.name());
        self.names.iter().any(|n| n == name)
            || (name >= first.as_str() && name < self.retain_from.as_str())
    }
}

/// What a quick check reads, table by table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickScope {
    pub tables: Vec<QuickTable>,
}

/// The scope of a quick check of `opts` around `now` (this machine's clock), or `None` when the
/// run is not one it can vouch for: sealing (it looks at every closed audit partition) or a window
/// of more than `MAX_NAMES` periods.
pub fn quick_scope(config: &Config, opts: &PlanOptions, now: DateTime<Utc>) -> Option<QuickScope> {
    if opts.seal {
        return None;
    }
    let margin = Duration::minutes(CLOCK_MARGIN_MINUTES);
    let (early, late) = (
        now.checked_sub_signed(margin)?,
        now.checked_add_signed(margin)?,
    );
    let mut tables = Vec::new();
    for table in opts.selected() {
        let empty = TableCatalog::empty(table, 0);
        let l = TableLayout::new(config.policy(table), &empty);
        let mut names: Vec<String> = Vec::new();
        for at in [early, late] {
            let bounds = [l.previous(at), l.current(at)]
                .into_iter()
                .chain(l.window(at, opts.ahead_days));
            for b in bounds {
                let name = partition_name(table, &b);
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            if names.len() > MAX_NAMES {
                return None;
            }
        }
        let retain_from = name_holding(table, l.cutoff(late));
        tables.push(QuickTable {
            table,
            names,
            retain_from,
        });
    }
    Some(QuickScope { tables })
}

/// The name of the period holding `at`; before the year 1 (a cutoff the calendar could not
/// reach), a name no partition of ours sorts before.
fn name_holding(table: ManagedTable, at: DateTime<Utc>) -> String {
    if at.year() < 1 {
        return format!("{}_0000", table.name());
    }
    partition_name(table, &period_containing(table.period(), at.date_naive()))
}

/// True when `partial`, read for `scope`, proves that `opts` has nothing to do at the database's
/// clock (`partial.taken_at`): the scope covers every name the planner asks about then, and the
/// planner, given just those partitions, plans nothing and holds nothing.
pub fn nothing_due(
    config: &Config,
    opts: &PlanOptions,
    scope: &QuickScope,
    partial: &CatalogSnapshot,
) -> bool {
    let now = partial.taken_at;
    for q in &scope.tables {
        let empty = TableCatalog::empty(q.table, 0);
        let l = TableLayout::new(config.policy(q.table), &empty);
        let needed = [l.previous(now), l.current(now)]
            .into_iter()
            .chain(l.window(now, opts.ahead_days));
        let covered = |b: PartitionBound| q.names.contains(&partition_name(q.table, &b));
        if !needed.into_iter().all(covered) {
            return false;
        }
        // Every period wholly before the cutoff must sort before `retain_from`.
        if name_holding(q.table, l.cutoff(now)) > q.retain_from {
            return false;
        }
    }
    let planned = plan(config, partial, now, opts);
    planned.actions.is_empty() && planned.held.is_empty()
}
