//! What the dashboard pages show, computed from a catalog snapshot and the config: overview cards,
//! one table's partitions (status, filter, sort, page) and chart series. Pure, so it is tested
//! without a database; the server functions in `api::dashboard` feed it.

use chrono::{DateTime, Utc};
use partitioning::calendar::{next_period, period_containing};
use partitioning::catalog::{PartitionInfo, TableCatalog};
use partitioning::config::Config;
use partitioning::health::{HealthReport, Severity};
use partitioning::policy::Policy;
use partitioning::table::ManagedTable;
use serde::{Deserialize, Serialize};

pub mod series;

/// One managed table at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverviewCard {
    pub table: ManagedTable,
    pub status: Severity,
    pub partitions: usize,
    pub total_bytes: i64,
    pub est_rows: i64,
    /// Days from now to the end of the partitions covering now without a break (0: now is not
    /// covered); and what the policy asks for.
    pub ahead_days: i64,
    pub wanted_ahead_days: i64,
    pub oldest_lower: Option<DateTime<Utc>>,
    /// A partition whose upper bound is at or before this is past retention.
    pub cutoff: DateTime<Utc>,
    pub retention: String,
    pub past_retention: usize,
    /// `None`: the table has no default partition.
    pub default_rows: Option<i64>,
    /// The worst problems' messages, for the card's footer.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub taken_at: DateTime<Utc>,
    pub worst: Severity,
    pub cards: Vec<OverviewCard>,
}

/// The word shown with every status colour (colour is never the only signal).
pub fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Ok => "Healthy",
        Severity::Warning => "Warning",
        Severity::Critical => "Critical",
    }
}

/// The CSS class of a severity (`badge ok|warn|crit`).
pub fn severity_class(s: Severity) -> &'static str {
    match s {
        Severity::Ok => "ok",
        Severity::Warning => "warn",
        Severity::Critical => "crit",
    }
}

/// Where contiguous partitions starting at `now` end (`None`: nothing holds `now`).
pub fn covered_until(catalog: &TableCatalog, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut ranges: Vec<_> = catalog.partitions.iter().filter_map(|p| p.bound).collect();
    ranges.sort_by_key(|b| b.lower);
    let mut reached: Option<DateTime<Utc>> = None;
    for b in ranges {
        match reached {
            None if b.lower <= now && now < b.upper => reached = Some(b.upper),
            Some(r) if b.lower <= r => reached = Some(r.max(b.upper)),
            Some(_) => break,
            None => {}
        }
    }
    reached
}

/// The end of the ahead window the policy asks for: the current period plus `ahead` more.
pub fn ahead_end(policy: &Policy, now: DateTime<Utc>) -> DateTime<Utc> {
    let period = policy.table.period();
    let mut b = period_containing(period, now.date_naive());
    for _ in 0..policy.ahead.min(10_000) {
        b = next_period(period, &b);
    }
    b.upper
}

pub fn overview(
    config: &Config,
    tables: &[TableCatalog],
    health: &HealthReport,
    now: DateTime<Utc>,
) -> Overview {
    let cards: Vec<OverviewCard> = tables
        .iter()
        .map(|catalog| {
            let policy = config.policy(catalog.table);
            let cutoff = policy.retention.cutoff(now);
            let wanted_end = ahead_end(policy, now);
            let ahead_days = covered_until(catalog, now).map_or(0, |end| (end - now).num_days());
            let mut problems: Vec<(Severity, String)> = health
                .findings
                .iter()
                .filter(|f| f.table == Some(catalog.table) && f.severity != Severity::Ok)
                .map(|f| (f.severity, f.message.clone()))
                .collect();
            problems.sort_by_key(|p| std::cmp::Reverse(p.0));
            OverviewCard {
                table: catalog.table,
                status: health.table_status(catalog.table),
                partitions: catalog.partitions.len(),
                total_bytes: catalog.total_bytes(),
                est_rows: catalog.est_rows(),
                ahead_days,
                wanted_ahead_days: (wanted_end - now).num_days(),
                oldest_lower: catalog
                    .partitions
                    .iter()
                    .filter_map(|p| p.bound)
                    .map(|b| b.lower)
                    .min(),
                cutoff,
                retention: policy.retention.to_string(),
                past_retention: catalog
                    .partitions
                    .iter()
                    .filter(|p| catalog.is_ours(p) && p.bound.is_some_and(|b| b.upper <= cutoff))
                    .count(),
                default_rows: catalog.default_partition.as_ref().map(|d| d.est_rows),
                problems: problems.into_iter().take(3).map(|(_, m)| m).collect(),
            }
        })
        .collect();
    Overview {
        taken_at: now,
        worst: health.worst(),
        cards,
    }
}

/// What a partition is, as the table page and charts colour it (and name it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionStatus {
    Future,
    Current,
    /// Closed, kept: inside the retention window.
    Closed,
    Sealed,
    PastRetention,
    Default,
    DetachPending,
    /// Named like ours, attached to nothing (an interrupted run's leftover).
    Leftover,
}

impl PartitionStatus {
    pub const ALL: [PartitionStatus; 8] = [
        PartitionStatus::Future,
        PartitionStatus::Current,
        PartitionStatus::Closed,
        PartitionStatus::Sealed,
        PartitionStatus::PastRetention,
        PartitionStatus::Default,
        PartitionStatus::DetachPending,
        PartitionStatus::Leftover,
    ];

    pub fn word(self) -> &'static str {
        match self {
            PartitionStatus::Future => "future",
            PartitionStatus::Current => "current",
            PartitionStatus::Closed => "closed",
            PartitionStatus::Sealed => "sealed",
            PartitionStatus::PastRetention => "past retention",
            PartitionStatus::Default => "default",
            PartitionStatus::DetachPending => "detach pending",
            PartitionStatus::Leftover => "leftover",
        }
    }

    /// The value in URLs (`?status=past_retention`).
    pub fn key(self) -> &'static str {
        match self {
            PartitionStatus::Future => "future",
            PartitionStatus::Current => "current",
            PartitionStatus::Closed => "closed",
            PartitionStatus::Sealed => "sealed",
            PartitionStatus::PastRetention => "past_retention",
            PartitionStatus::Default => "default",
            PartitionStatus::DetachPending => "detach_pending",
            PartitionStatus::Leftover => "leftover",
        }
    }

    pub fn parse(key: &str) -> Option<PartitionStatus> {
        Self::ALL.into_iter().find(|s| s.key() == key)
    }
}

/// The status of one attached range partition (detach pending and sealed win over time).
pub fn status_of(p: &PartitionInfo, now: DateTime<Utc>, cutoff: DateTime<Utc>) -> PartitionStatus {
    if p.detach_pending {
        return PartitionStatus::DetachPending;
    }
    match p.bound {
        Some(b) if b.upper <= cutoff => PartitionStatus::PastRetention,
        _ if p.sealed => PartitionStatus::Sealed,
        Some(b) if b.lower > now => PartitionStatus::Future,
        Some(b) if b.contains(now) => PartitionStatus::Current,
        _ => PartitionStatus::Closed,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionRow {
    pub name: String,
    pub lower: Option<DateTime<Utc>>,
    pub upper: Option<DateTime<Utc>>,
    /// PostgreSQL's own text of the bound (`DEFAULT`, `FOR VALUES FROM ...`).
    pub raw_bound: String,
    pub est_rows: i64,
    pub bytes: i64,
    pub tablespace: Option<String>,
    pub last_analyzed: Option<DateTime<Utc>>,
    pub status: PartitionStatus,
}

/// Every partition of a table (default and leftovers included), oldest first.
pub fn partition_rows(
    catalog: &TableCatalog,
    now: DateTime<Utc>,
    cutoff: DateTime<Utc>,
) -> Vec<PartitionRow> {
    let row = |p: &PartitionInfo, status| PartitionRow {
        name: p.name.clone(),
        lower: p.bound.map(|b| b.lower),
        upper: p.bound.map(|b| b.upper),
        raw_bound: p.raw_bound.clone(),
        est_rows: p.est_rows,
        bytes: p.bytes,
        tablespace: p.tablespace.clone(),
        last_analyzed: p.last_analyzed,
        status,
    };
    let mut rows: Vec<PartitionRow> = catalog
        .partitions
        .iter()
        .map(|p| row(p, status_of(p, now, cutoff)))
        .collect();
    rows.sort_by(|a, b| a.lower.cmp(&b.lower).then_with(|| a.name.cmp(&b.name)));
    rows.extend(
        catalog
            .default_partition
            .iter()
            .map(|p| row(p, PartitionStatus::Default)),
    );
    rows.extend(
        catalog
            .detached
            .iter()
            .map(|p| row(p, PartitionStatus::Leftover)),
    );
    rows
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    #[default]
    Bounds,
    Name,
    Rows,
    Size,
    Status,
}

impl SortKey {
    pub const ALL: [SortKey; 5] = [
        SortKey::Bounds,
        SortKey::Name,
        SortKey::Rows,
        SortKey::Size,
        SortKey::Status,
    ];
    pub fn key(self) -> &'static str {
        match self {
            SortKey::Bounds => "bounds",
            SortKey::Name => "name",
            SortKey::Rows => "rows",
            SortKey::Size => "size",
            SortKey::Status => "status",
        }
    }
    pub fn parse(key: &str) -> SortKey {
        Self::ALL
            .into_iter()
            .find(|s| s.key() == key)
            .unwrap_or_default()
    }
}

/// What the table page asks for (from its URL).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PartitionQuery {
    pub sort: SortKey,
    pub desc: bool,
    pub status: Option<PartitionStatus>,
    /// Part of the partition name.
    pub name: String,
    /// 1-based.
    pub page: usize,
    pub per_page: usize,
}

pub const DEFAULT_PER_PAGE: usize = 50;
pub const MAX_PER_PAGE: usize = 500;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionPage {
    pub table: ManagedTable,
    pub taken_at: DateTime<Utc>,
    pub cutoff: DateTime<Utc>,
    /// All partitions of the table, and those matching the filter.
    pub total: usize,
    pub matching: usize,
    pub page: usize,
    pub pages: usize,
    pub per_page: usize,
    pub rows: Vec<PartitionRow>,
    /// How many partitions have each status (whole table, before filtering).
    pub counts: Vec<(PartitionStatus, usize)>,
}

/// Filters, sorts and cuts out one page. The page number is clamped into range.
pub fn page_of(
    table: ManagedTable,
    rows: Vec<PartitionRow>,
    q: &PartitionQuery,
    taken_at: DateTime<Utc>,
    cutoff: DateTime<Utc>,
) -> PartitionPage {
    let total = rows.len();
    let counts = PartitionStatus::ALL
        .into_iter()
        .map(|s| (s, rows.iter().filter(|r| r.status == s).count()))
        .filter(|(_, n)| *n > 0)
        .collect();
    let needle = q.name.trim().to_ascii_lowercase();
    let mut rows: Vec<PartitionRow> = rows
        .into_iter()
        .filter(|r| q.status.is_none_or(|s| r.status == s))
        .filter(|r| needle.is_empty() || r.name.to_ascii_lowercase().contains(&needle))
        .collect();
    match q.sort {
        // Stable sorts over the oldest-first order keep ties in bound order.
        SortKey::Bounds => {}
        SortKey::Name => rows.sort_by(|a, b| a.name.cmp(&b.name)),
        SortKey::Rows => rows.sort_by_key(|r| r.est_rows),
        SortKey::Size => rows.sort_by_key(|r| r.bytes),
        SortKey::Status => rows.sort_by_key(|r| r.status.key()),
    }
    if q.desc {
        rows.reverse();
    }
    let per_page = if q.per_page == 0 {
        DEFAULT_PER_PAGE
    } else {
        q.per_page.min(MAX_PER_PAGE)
    };
    let matching = rows.len();
    let pages = matching.div_ceil(per_page).max(1);
    let page = q.page.clamp(1, pages);
    let rows = rows
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    PartitionPage {
        table,
        taken_at,
        cutoff,
        total,
        matching,
        page,
        pages,
        per_page,
        rows,
        counts,
    }
}

#[cfg(test)]
mod tests;
