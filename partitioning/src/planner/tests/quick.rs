//! The quick check against the full planner: on random catalogs, whenever the partial snapshot
//! (cut the way `pg::catalog::quick_snapshot` reads it) says nothing is due, the full plan is
//! empty too. And on the usual healthy layout it does say so.

use chrono::{Duration, TimeZone};

use super::*;
use crate::calendar::next_period;
use crate::planner::quick::{nothing_due, quick_scope, QuickScope};

/// xorshift64*: reproducible cases without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

/// What `QUICK_SQL` returns for `full` (`QuickTable::reads`): the named partitions, everything named like ours before
/// `retain_from`, every detach-pending partition, the default, and leftovers named in either way.
fn cut(full: &CatalogSnapshot, scope: &QuickScope) -> CatalogSnapshot {
    let mut out = full.clone();
    for t in &mut out.tables {
        let Some(q) = scope.tables.iter().find(|q| q.table == t.table) else {
            continue;
        };
        t.partitions
            .retain(|p| p.detach_pending || q.reads(&p.name));
        t.detached.retain(|p| q.reads(&p.name));
    }
    out
}

fn config(rng: &mut Rng) -> Config {
    let mut cfg = Config::default();
    for p in &mut cfg.policies {
        p.ahead = rng.below(20) as u32;
        p.retention = if p.table == ManagedTable::AuthAuditLog {
            Retention::Years(6 + rng.below(4) as u32)
        } else {
            Retention::Days(1 + rng.below(400) as u32)
        };
        p.cleanup = if rng.chance(50) {
            CleanupMode::Auto
        } else {
            CleanupMode::Approval
        };
        p.default_partition = rng.chance(30);
    }
    cfg
}

/// Our partitions from a few periods before the cutoff (or after it) through the window's end
/// (at most 150 periods back from there), with statistics taken now; when `disturb`: holes,
/// foreign partitions in the holes, leftovers, a pending detach, statistics of every age.
fn catalog(
    rng: &mut Rng,
    cfg: &Config,
    table: ManagedTable,
    now: DateTime<Utc>,
    disturb: bool,
) -> TableCatalog {
    let policy = cfg.policy(table);
    let empty = TableCatalog::empty(table, 0);
    let l = TableLayout::new(policy, &empty);
    let period = table.period();
    let mut first = period_containing(period, l.cutoff(now).date_naive());
    for _ in 0..rng.below(4) {
        first = crate::calendar::previous_period(period, &first);
    }
    for _ in 0..rng.below(3) {
        first = next_period(period, &first);
    }
    let mut b = l
        .window(now, None)
        .last()
        .copied()
        .unwrap_or(l.current(now));
    if disturb {
        for _ in 0..rng.below(3) {
            b = crate::calendar::previous_period(period, &b);
        }
    }
    let mut parts: Vec<PartitionInfo> = Vec::new();
    let mut oid = 20_000 + 1_000 * table.index() as u32;
    while b.lower >= first.lower && parts.len() < 150 {
        oid += 1;
        let mut p = PartitionInfo::range(oid, partition_name(table, &b), b);
        p.est_rows = if rng.chance(70) {
            rng.range(1, 1_000)
        } else {
            0
        };
        p.last_analyzed = match (disturb, rng.below(4)) {
            (false, _) | (_, 3) => Some(now),
            (_, 0) => None,
            (_, 1) => Some(now - Duration::days(rng.range(0, 30))),
            _ => Some(b.upper + Duration::hours(rng.range(-30, 30))),
        };
        parts.push(p);
        b = crate::calendar::previous_period(period, &b);
    }
    if !disturb {
        return finish(rng, table, parts, Vec::new(), now, false);
    }
    let mut holes: Vec<PartitionBound> = Vec::new();
    let mut detached: Vec<PartitionInfo> = Vec::new();
    for _ in 0..rng.below(3) {
        if !parts.is_empty() && rng.chance(60) {
            let i = rng.below(parts.len() as u64) as usize;
            if let Some(b) = parts.remove(i).bound {
                holes.push(b);
            }
        }
    }
    for hole in &holes {
        if rng.chance(40) {
            oid += 1;
            // Half a period in: another name, or our name over a shifted (non-UTC) bound.
            let inner = PartitionBound::new(hole.lower + Duration::hours(1), hole.upper);
            let name = if rng.chance(50) {
                format!("{}_legacy_{oid}", table.name())
            } else {
                partition_name(table, hole)
            };
            parts.push(PartitionInfo::range(oid, name, inner));
        } else if rng.chance(40) {
            oid += 1;
            // A leftover: detached by a killed run, named for the hole.
            let mut p = PartitionInfo::range(oid, partition_name(table, hole), *hole);
            p.raw_bound = String::new();
            detached.push(p);
        }
    }
    if !parts.is_empty() && rng.chance(15) {
        let i = rng.below(parts.len() as u64) as usize;
        parts[i].detach_pending = true;
    }
    if rng.chance(10) {
        oid += 1;
        parts.push(raw(
            "odd_open",
            "FOR VALUES FROM (MINVALUE) TO ('1990-01-01 00:00:00+00')",
        ));
        parts.last_mut().unwrap().oid = oid;
    }
    finish(rng, table, parts, detached, now, true)
}

fn finish(
    rng: &mut Rng,
    table: ManagedTable,
    mut partitions: Vec<PartitionInfo>,
    detached: Vec<PartitionInfo>,
    now: DateTime<Utc>,
    disturb: bool,
) -> TableCatalog {
    partitions.sort_by(|a, b| a.name.cmp(&b.name));
    let default_partition = rng.chance(30).then(|| PartitionInfo {
        bound: None,
        raw_bound: "DEFAULT".into(),
        est_rows: if disturb && rng.chance(50) { 12 } else { 0 },
        last_analyzed: Some(now),
        ..PartitionInfo::range(
            19_000,
            format!("{}_default", table.name()),
            PartitionBound::new(now, now),
        )
    });
    TableCatalog {
        partitions,
        default_partition,
        detached,
        ..TableCatalog::empty(table, 16_000 + table.index() as u32)
    }
}

fn options(rng: &mut Rng) -> PlanOptions {
    let mut opts = match rng.below(3) {
        0 => PlanOptions::maintenance(),
        1 => PlanOptions::create(),
        _ => PlanOptions::cleanup(),
    };
    if rng.chance(15) {
        opts.ahead_days = Some(rng.below(60) as u32);
    }
    if rng.chance(30) {
        opts.tables = vec![ManagedTable::ALL[rng.below(4) as usize]];
    }
    opts
}

#[test]
fn a_quick_no_is_never_wrong_on_random_catalogs() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut quick_yes, mut full_empty, cases) = (0, 0, 1_000);
    for case in 0..cases {
        let cfg = config(&mut rng);
        let start = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
        let now = start + Duration::minutes(rng.range(0, 10 * 365 * 24 * 60));
        // Half the cases disturb one table, the other half none.
        let disturbed = rng
            .chance(50)
            .then(|| ManagedTable::ALL[rng.below(4) as usize]);
        let tables = ManagedTable::ALL
            .into_iter()
            .map(|t| catalog(&mut rng, &cfg, t, now, disturbed == Some(t)))
            .collect();
        let full = CatalogSnapshot {
            taken_at: now,
            server_version_num: 150_004,
            tables,
        };
        let opts = options(&mut rng);
        // This machine's clock, up to an hour off the database's (past the margin sometimes).
        let here = now + Duration::minutes(rng.range(-60, 60));
        let Some(scope) = quick_scope(&cfg, &opts, here) else {
            continue;
        };
        let partial = cut(&full, &scope);
        let planned = plan(&cfg, &full, now, &opts);
        let empty = planned.actions.is_empty() && planned.held.is_empty();
        full_empty += usize::from(empty);
        if nothing_due(&cfg, &opts, &scope, &partial) {
            quick_yes += 1;
            assert!(
                empty,
                "case {case}: the quick check saw nothing due at {now} (here {here}, {opts:?}) but the planner \
                 plans {:?} and holds {:?}",
                steps(&planned),
                held(&planned)
            );
        }
    }
    eprintln!("{quick_yes} quick of {full_empty} empty plans, {cases} cases");
    // Not vacuous: many cases have nothing to do, and the quick check recognises most of them.
    assert!(
        full_empty > cases / 4,
        "{full_empty} of {cases} empty plans"
    );
    assert!(
        quick_yes * 2 > full_empty,
        "{quick_yes} quick of {full_empty} empty plans"
    );
}

/// The usual state: every period from within retention through the window, analyzed after it
/// closed; the quick check sees nothing due, and misses a partition the window lacks.
#[test]
fn the_healthy_layout_is_quick_and_a_missing_window_partition_is_not() {
    let cfg = Config::default();
    let now = t("2026-11-25T03:00:00Z");
    let tables: Vec<TableCatalog> = ManagedTable::ALL
        .into_iter()
        .map(|table| {
            let empty = TableCatalog::empty(table, 0);
            let l = TableLayout::new(cfg.policy(table), &empty);
            let first = next_period(
                table.period(),
                &period_containing(table.period(), l.cutoff(now).date_naive()),
            );
            let last = l.window(now, None).last().copied().unwrap();
            let mut parts = Vec::new();
            let mut b = first;
            while b.lower <= last.lower {
                let mut p = PartitionInfo::range(1, partition_name(table, &b), b);
                p.last_analyzed = Some(now);
                parts.push(p);
                b = next_period(table.period(), &b);
            }
            super::table(table, parts)
        })
        .collect();
    let mut full = CatalogSnapshot {
        taken_at: now,
        server_version_num: 150_004,
        tables,
    };
    let opts = PlanOptions::maintenance();
    let scope = quick_scope(&cfg, &opts, now).unwrap();
    assert!(plan(&cfg, &full, now, &opts).actions.is_empty());
    assert!(nothing_due(&cfg, &opts, &scope, &cut(&full, &scope)));
    // The partial holds a handful of partitions, not the layout.
    let read: usize = cut(&full, &scope)
        .tables
        .iter()
        .map(|t| t.partitions.len())
        .sum();
    assert!(read < 60, "{read} partitions read");

    full.tables[1].partitions.pop(); // sessions' last day ahead
    assert!(!nothing_due(&cfg, &opts, &scope, &cut(&full, &scope)));
}

#[test]
fn sealing_and_long_windows_are_not_quick() {
    let cfg = Config::default();
    let now = t("2026-11-25");
    let seal = PlanOptions {
        seal: true,
        ..PlanOptions::maintenance()
    };
    assert!(quick_scope(&cfg, &seal, now).is_none());
    let long = PlanOptions {
        ahead_days: Some(3_650),
        ..PlanOptions::create()
    };
    assert!(quick_scope(&cfg, &long, now).is_none());
}
