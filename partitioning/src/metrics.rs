//! Prometheus text exposition (format 0.0.4) of the partition state: every metric a gauge in base
//! units (`_bytes`, `_seconds`), labelled by `table`, with HELP and TYPE lines; names pass
//! `promtool check metrics` (so the partition count is `rustcare_partitions`, since a `_count`
//! suffix is reserved for histograms and summaries).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::catalog::{CatalogSnapshot, TableCatalog};
use crate::config::Config;
use crate::health::{HealthReport, Severity};
use crate::layout::TableLayout;
use crate::table::ManagedTable;

/// The content type a scrape endpoint serves this text with.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A label value escaped for the text format: backslash, double quote and newline.
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// HELP text escaped for the text format: backslash and newline.
pub fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// One metric family being written.
struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
}

impl Family<'_> {
    fn sample(&mut self, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let _ = write!(self.out, "{}", self.name);
        if !labels.is_empty() {
            let parts: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label_value(v)))
                .collect();
            let _ = write!(self.out, "{{{}}}", parts.join(","));
        }
        let _ = writeln!(self.out, " {value}");
    }
}

fn family<'a>(out: &'a mut String, name: &'static str, help: &str) -> Family<'a> {
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} gauge");
    Family { out, name }
}

fn seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// Per-table figures, computed once.
struct TableFigures {
    table: ManagedTable,
    partitions: usize,
    total_bytes: i64,
    largest_bytes: i64,
    est_rows: i64,
    future_periods: u32,
    past_retention: usize,
    default_rows: i64,
    detach_pending: usize,
    leftovers: usize,
    covered_until: Option<DateTime<Utc>>,
    health: Severity,
}

fn figures(
    config: &Config,
    c: &TableCatalog,
    health: &HealthReport,
    now: DateTime<Utc>,
) -> TableFigures {
    let layout = TableLayout::new(config.policy(c.table), c);
    let usable = c.exists() && c.is_partitioned;
    TableFigures {
        table: c.table,
        partitions: c.partitions.len(),
        total_bytes: c.total_bytes(),
        largest_bytes: c
            .partitions
            .iter()
            .chain(&c.default_partition)
            .map(|p| p.bytes)
            .max()
            .unwrap_or(0),
        est_rows: c.est_rows(),
        future_periods: if usable {
            layout.future_periods(now)
        } else {
            0
        },
        past_retention: layout.past_retention(now).len(),
        default_rows: c.default_partition.as_ref().map_or(0, |d| d.est_rows),
        detach_pending: c.partitions.iter().filter(|p| p.detach_pending).count(),
        leftovers: c.detached.len(),
        covered_until: c
            .partitions
            .iter()
            .filter_map(|p| p.bound)
            .map(|b| b.upper)
            .max(),
        health: health.table_status(c.table),
    }
}

/// Renders the metrics of every table in `snapshot`, as of the snapshot's time.
pub fn render(config: &Config, snapshot: &CatalogSnapshot, health: &HealthReport) -> String {
    let now = snapshot.taken_at;
    let rows: Vec<TableFigures> = snapshot
        .tables
        .iter()
        .map(|c| figures(config, c, health, now))
        .collect();
    let mut out = String::new();

    family(
        &mut out,
        "rustcare_partition_snapshot_timestamp_seconds",
        "When the catalog snapshot behind these figures was taken (Unix time).",
    )
    .sample(&[], seconds(now));

    type Get = fn(&TableFigures) -> String;
    let per_table: [(&'static str, &str, Get); 11] = [
        (
            "rustcare_partitions",
            "Attached range partitions of the table (the default partition not counted).",
            |r| r.partitions.to_string(),
        ),
        (
            "rustcare_partition_total_bytes",
            "Estimated on-disk size of all partitions (heap, indexes, TOAST).",
            |r| r.total_bytes.to_string(),
        ),
        (
            "rustcare_partition_largest_bytes",
            "Estimated on-disk size of the largest partition.",
            |r| r.largest_bytes.to_string(),
        ),
        (
            "rustcare_partition_estimated_rows",
            "Planner row estimate summed over partitions (reltuples).",
            |r| r.est_rows.to_string(),
        ),
        (
            "rustcare_partition_future_periods",
            "Whole periods after the current one covered by partitions without a break.",
            |r| r.future_periods.to_string(),
        ),
        (
            "rustcare_partition_past_retention",
            "Partitions whose upper bound is at or before now minus the retention.",
            |r| r.past_retention.to_string(),
        ),
        (
            "rustcare_partition_default_rows",
            "Estimated rows in the default partition (0 when there is none).",
            |r| r.default_rows.to_string(),
        ),
        (
            "rustcare_partition_detach_pending",
            "Partitions left pending by an interrupted DETACH CONCURRENTLY.",
            |r| r.detach_pending.to_string(),
        ),
        (
            "rustcare_partition_detached_leftovers",
            "Tables named like partitions but attached to nothing.",
            |r| r.leftovers.to_string(),
        ),
        (
            "rustcare_partition_covered_until_timestamp_seconds",
            "Upper bound of the newest partition (Unix time; 0 when there is none).",
            |r| {
                r.covered_until
                    .map_or("0".into(), |t| seconds(t).to_string())
            },
        ),
        (
            "rustcare_partition_health_status",
            "Worst health finding of the table: 0 ok, 1 warning, 2 critical.",
            |r| r.health.code().to_string(),
        ),
    ];
    for (name, help, get) in per_table {
        let mut f = family(&mut out, name, help);
        for r in &rows {
            f.sample(&[("table", r.table.name())], get(r));
        }
    }

    let mut f = family(
        &mut out,
        "rustcare_partition_count_threshold",
        "Partition count above which health warns or is critical: max(configured threshold, partitions the policy calls for).",
    );
    for r in &rows {
        let expected = config.policy(r.table).expected_partitions();
        let t = &config.thresholds;
        f.sample(
            &[("table", r.table.name()), ("level", "warning")],
            t.warn_count.max(expected),
        );
        f.sample(
            &[("table", r.table.name()), ("level", "critical")],
            t.critical_count.max(expected),
        );
    }

    let mut f = family(
        &mut out,
        "rustcare_partition_policy_info",
        "The table's partitioning policy, as labels.",
    );
    for r in &rows {
        let p = config.policy(r.table);
        let (period, retention, ahead) = (
            r.table.period().to_string(),
            p.retention.pg_interval(),
            p.ahead.to_string(),
        );
        let default = if p.default_partition { "yes" } else { "no" };
        f.sample(
            &[
                ("table", r.table.name()),
                ("period", &period),
                ("retention", &retention),
                ("ahead", &ahead),
                ("cleanup", p.cleanup.as_str()),
                ("default_partition", default),
            ],
            1,
        );
    }

    family(
        &mut out,
        "rustcare_partition_health_worst_status",
        "Worst health finding overall: 0 ok, 1 warning, 2 critical.",
    )
    .sample(&[], health.worst().code());
    let mut f = family(
        &mut out,
        "rustcare_partition_health_findings",
        "Health findings by severity.",
    );
    for s in [Severity::Ok, Severity::Warning, Severity::Critical] {
        f.sample(
            &[("severity", s.as_str())],
            health.findings.iter().filter(|x| x.severity == s).count(),
        );
    }
    out
}

#[cfg(test)]
mod tests;
