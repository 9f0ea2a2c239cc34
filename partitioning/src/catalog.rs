//! The catalog model: what exists in the database (partitions, bounds, sizes, statistics) as one
//! snapshot the planner, health checks and metrics read. Filled by `pg::catalog`; pure here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{for_values, parse_partition_name, PartitionBound};
use crate::table::ManagedTable;

/// Every managed table's partitions as of `taken_at` (the server's `now()`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogSnapshot {
    pub taken_at: DateTime<Utc>,
    /// `server_version_num` (e.g. 150004): DETACH CONCURRENTLY needs 140000+.
    pub server_version_num: i32,
    /// The tables read, in `ManagedTable::ALL` order; a table absent from the database is listed
    /// with `oid` 0 and `is_partitioned` false.
    pub tables: Vec<TableCatalog>,
}

impl CatalogSnapshot {
    pub fn table(&self, table: ManagedTable) -> Option<&TableCatalog> {
        self.tables.iter().find(|t| t.table == table)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableCatalog {
    pub table: ManagedTable,
    /// 0 when the table does not exist.
    pub oid: u32,
    pub is_partitioned: bool,
    /// Attached range partitions (detach-pending ones included, flagged), not the default.
    pub partitions: Vec<PartitionInfo>,
    pub default_partition: Option<PartitionInfo>,
    /// Tables named like our partitions, attached to nothing: leftovers of an interrupted run.
    pub detached: Vec<PartitionInfo>,
}

impl TableCatalog {
    /// A partitioned table with no partitions yet.
    pub fn empty(table: ManagedTable, oid: u32) -> Self {
        TableCatalog {
            table,
            oid,
            is_partitioned: true,
            partitions: Vec::new(),
            default_partition: None,
            detached: Vec::new(),
        }
    }

    /// The table does not exist (migrations not run).
    pub fn exists(&self) -> bool {
        self.oid != 0
    }

    pub fn total_bytes(&self) -> i64 {
        self.partitions
            .iter()
            .chain(&self.default_partition)
            .map(|p| p.bytes)
            .sum()
    }

    pub fn est_rows(&self) -> i64 {
        self.partitions
            .iter()
            .chain(&self.default_partition)
            .map(|p| p.est_rows)
            .sum()
    }

    /// True when `p` is a partition the tool would have made: its name is one we give, and its
    /// bound is exactly the period that name stands for.
    pub fn is_ours(&self, p: &PartitionInfo) -> bool {
        p.bound.is_some() && parse_partition_name(self.table, &p.name) == p.bound
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionInfo {
    pub oid: u32,
    pub name: String,
    /// The finite range read from `raw_bound`; `None` for DEFAULT, open-ended or unreadable bounds
    /// (such a partition is never dropped), and for detached tables (they have no bound).
    pub bound: Option<PartitionBound>,
    /// `pg_get_expr(relpartbound, oid)` as PostgreSQL printed it; empty for detached tables.
    pub raw_bound: String,
    /// `DETACH ... CONCURRENTLY` was interrupted: it needs `DETACH ... FINALIZE`.
    pub detach_pending: bool,
    /// Planner estimate (`reltuples`, 0 when never analyzed).
    pub est_rows: i64,
    /// Estimated on-disk size: heap, indexes and TOAST.
    pub bytes: i64,
    /// `None`: the database's default tablespace.
    pub tablespace: Option<String>,
    /// Latest of `last_analyze` and `last_autoanalyze`.
    pub last_analyzed: Option<DateTime<Utc>>,
    /// Carries the `rustcare_sealed` trigger (closed audit partitions made immutable).
    pub sealed: bool,
}

impl PartitionInfo {
    /// An empty, never analyzed partition over `bound`, printed the way PostgreSQL does with
    /// TimeZone UTC: handy for adapters' tests and the console's previews.
    pub fn range(oid: u32, name: impl Into<String>, bound: PartitionBound) -> Self {
        PartitionInfo {
            oid,
            name: name.into(),
            bound: Some(bound),
            raw_bound: for_values(&bound),
            detach_pending: false,
            est_rows: 0,
            bytes: 0,
            tablespace: None,
            last_analyzed: None,
            sealed: false,
        }
    }
}
