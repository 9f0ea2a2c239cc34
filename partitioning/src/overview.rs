//! The summary of one managed table shown on the console's home page.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
    use super::human_bytes;

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
