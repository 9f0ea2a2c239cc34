//! The summary of one managed table shown on the console's home page.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::TableCatalog;

/// Partition count, size and span of one managed table, as read from the live catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableOverview {
    pub table: String,
    /// False before the migrations created the table.
    pub present: bool,
    /// Range partitions, not counting a default partition.
    pub partitions: i64,
    /// `pg_total_relation_size` summed over every partition (data, indexes, TOAST).
    pub total_bytes: i64,
    /// Planner estimate (`reltuples`), refreshed by ANALYZE.
    pub est_rows: i64,
    /// Lower bound of the oldest partition.
    pub oldest_bound: Option<DateTime<Utc>>,
    /// Upper bound of the newest partition.
    pub newest_bound: Option<DateTime<Utc>>,
    pub has_default: bool,
}

impl TableOverview {
    /// The same summary computed from a catalog snapshot's table (the console's pages that already
    /// hold a snapshot need no second query).
    pub fn from_catalog(c: &TableCatalog) -> Self {
        let bounds = || c.partitions.iter().filter_map(|p| p.bound);
        TableOverview {
            table: c.table.name().to_string(),
            present: c.exists(),
            partitions: i64::try_from(c.partitions.len()).unwrap_or(i64::MAX),
            total_bytes: c.total_bytes(),
            est_rows: c.est_rows(),
            oldest_bound: bounds().map(|b| b.lower).min(),
            newest_bound: bounds().map(|b| b.upper).max(),
            has_default: c.default_partition.is_some(),
        }
    }
}

/// A count with thousands separators: `12,345`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// Bytes as a person reads them: `1.4 GB`, `812 kB`, `0 bytes` (powers of 1024, like pg_size_pretty).
pub fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes.abs() < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64;
    let mut unit = "bytes";
    for u in UNITS {
        if value.abs() < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    if value.abs() >= 100.0 {
        format!("{value:.0} {unit}")
    } else {
        format!("{value:.1} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{period_containing, Period};
    use crate::catalog::PartitionInfo;
    use crate::table::ManagedTable;

    #[test]
    fn from_catalog() {
        let day = |d: u32| {
            period_containing(
                Period::Day,
                chrono::NaiveDate::from_ymd_opt(2025, 10, d).unwrap(),
            )
        };
        let mut c = TableCatalog::empty(ManagedTable::Sessions, 5);
        for d in [2, 1, 3] {
            let p = PartitionInfo {
                bytes: 100,
                est_rows: 2,
                ..PartitionInfo::range(d, format!("sessions_2025_10_0{d}"), day(d))
            };
            c.partitions.push(p);
        }
        let o = TableOverview::from_catalog(&c);
        assert_eq!(
            (
                o.table.as_str(),
                o.present,
                o.partitions,
                o.total_bytes,
                o.est_rows
            ),
            ("sessions", true, 3, 300, 6)
        );
        assert_eq!(
            (o.oldest_bound, o.newest_bound, o.has_default),
            (Some(day(1).lower), Some(day(3).upper), false)
        );
    }

    #[test]
    fn bytes_read_like_pg_size_pretty() {
        let cases = [
            (0, "0 bytes"),
            (1023, "1023 bytes"),
            (1024, "1.0 kB"),
            (1536, "1.5 kB"),
            (10 * 1024 * 1024, "10.0 MB"),
            (300 * 1024 * 1024, "300 MB"),
            (5 * 1024 * 1024 * 1024, "5.0 GB"),
        ];
        for (bytes, want) in cases {
            assert_eq!(human_bytes(bytes), want, "{bytes}");
        }
    }
}
