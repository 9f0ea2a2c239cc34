//! The series the table page's charts draw: size per partition, total size over time (from the
//! size samples), and the partitions on a time line against the retention and ahead windows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{PartitionRow, PartitionStatus};

/// At most this many bars: the newest partitions (a bar chart of 10,000 bars says nothing).
pub const MAX_BARS: usize = 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    pub label: String,
    pub bytes: i64,
    pub status: PartitionStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub name: String,
    pub lower: DateTime<Utc>,
    pub upper: DateTime<Utc>,
    pub status: PartitionStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    pub now: DateTime<Utc>,
    /// Start of the retention window (partitions ending at or before it are past retention).
    pub cutoff: DateTime<Utc>,
    /// End of the ahead window the policy asks for.
    pub ahead_end: DateTime<Utc>,
    pub segments: Vec<Segment>,
}

impl Timeline {
    /// The span the axis shows: every segment and both windows, with a little margin.
    pub fn span(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let lo = self
            .segments
            .iter()
            .map(|s| s.lower)
            .chain([self.cutoff])
            .min()
            .unwrap_or(self.cutoff);
        let hi = self
            .segments
            .iter()
            .map(|s| s.upper)
            .chain([self.ahead_end])
            .max()
            .unwrap_or(self.ahead_end);
        let margin = (hi - lo) / 40;
        (lo - margin, hi + margin)
    }
}

/// Total bytes of a table at one sample time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GrowthPoint {
    pub at: DateTime<Utc>,
    pub bytes: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableCharts {
    pub bars: Vec<Bar>,
    /// How many partitions the bar chart leaves out (older ones).
    pub bars_omitted: usize,
    pub timeline: Timeline,
    pub growth: Vec<GrowthPoint>,
    /// Minutes between size samples (to say when the next point comes).
    pub sample_minutes: u64,
}

/// Bars for the newest range partitions (oldest first, left to right), plus the default.
pub fn bars(rows: &[PartitionRow]) -> (Vec<Bar>, usize) {
    let ranged: Vec<&PartitionRow> = rows
        .iter()
        .filter(|r| r.lower.is_some() && r.status != PartitionStatus::Leftover)
        .collect();
    let omitted = ranged.len().saturating_sub(MAX_BARS);
    let mut out: Vec<Bar> = ranged
        .into_iter()
        .skip(omitted)
        .map(|r| Bar {
            label: r.name.clone(),
            bytes: r.bytes,
            status: r.status,
        })
        .collect();
    out.extend(
        rows.iter()
            .filter(|r| r.status == PartitionStatus::Default)
            .map(|r| Bar {
                label: r.name.clone(),
                bytes: r.bytes,
                status: r.status,
            }),
    );
    (out, omitted)
}

pub fn timeline(
    rows: &[PartitionRow],
    now: DateTime<Utc>,
    cutoff: DateTime<Utc>,
    ahead_end: DateTime<Utc>,
) -> Timeline {
    Timeline {
        now,
        cutoff,
        ahead_end,
        segments: rows
            .iter()
            .filter(|r| r.status != PartitionStatus::Leftover)
            .filter_map(|r| {
                Some(Segment {
                    name: r.name.clone(),
                    lower: r.lower?,
                    upper: r.upper?,
                    status: r.status,
                })
            })
            .collect(),
    }
}
