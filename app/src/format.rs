//! How numbers and instants read on screen: one place, so every page agrees.

use chrono::{DateTime, Utc};

pub use partitioning::overview::human_bytes;

/// A bound as a UTC date (`2025-10-01`); bounds are UTC midnights.
pub fn bound_date(bound: Option<DateTime<Utc>>) -> String {
    bound
        .map(|b| b.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "—".to_string())
}

/// A count with thousands separators: `12,345` (the same text the PDF report prints).
pub fn count(n: i64) -> String {
    partitioning::overview::thousands(n)
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn counts_have_separators() {
        for (n, want) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (1234567, "1,234,567"),
            (-4200, "-4,200"),
        ] {
            assert_eq!(count(n), want);
        }
    }
}
