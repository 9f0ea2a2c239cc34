use chrono::{DateTime, NaiveDate, Utc};

use super::*;
use crate::calendar::{midnight, partition_name, periods_intersecting};
use crate::catalog::PartitionInfo;
use crate::health::{check, ServerSettings};

fn t(s: &str) -> DateTime<Utc> {
    midnight(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
}

fn sample() -> (Config, CatalogSnapshot, HealthReport) {
    let now = t("2025-10-01") + chrono::Duration::milliseconds(10 * 3600 * 1000 + 250);
    let parts: Vec<PartitionInfo> = periods_intersecting(
        ManagedTable::Sessions.period(),
        t("2025-07-01").date_naive(),
        t("2025-10-15").date_naive(),
    )
    .into_iter()
    .enumerate()
    .map(|(i, b)| PartitionInfo {
        bytes: 8192 * (i as i64 + 1),
        est_rows: 10,
        last_analyzed: Some(now),
        ..PartitionInfo::range(1, partition_name(ManagedTable::Sessions, &b), b)
    })
    .collect();
    let mut sessions = TableCatalog {
        partitions: parts,
        ..TableCatalog::empty(ManagedTable::Sessions, 42)
    };
    sessions.default_partition = Some(PartitionInfo {
        est_rows: 7,
        bytes: 16384,
        ..PartitionInfo::range(
            2,
            "sessions_default",
            crate::calendar::PartitionBound::new(t("2000-01-01"), t("2000-01-02")),
        )
    });
    let absent = TableCatalog {
        oid: 0,
        is_partitioned: false,
        ..TableCatalog::empty(ManagedTable::RateLimits, 0)
    };
    let snap = CatalogSnapshot {
        taken_at: now,
        server_version_num: 150_000,
        tables: vec![sessions, absent],
    };
    let settings = ServerSettings {
        enable_partition_pruning: true,
        constraint_exclusion: "partition".into(),
    };
    let cfg = Config::default();
    let health = check(&cfg, &snap, &settings, now);
    (cfg, snap, health)
}

#[test]
fn values_and_format() {
    let (cfg, snap, health) = sample();
    let text = render(&cfg, &snap, &health);
    // (line expected verbatim)
    let lines = [
        "# HELP rustcare_partitions Attached range partitions of the table (the default partition not counted).",
        "# TYPE rustcare_partitions gauge",
        "rustcare_partitions{table=\"sessions\"} 107",
        "rustcare_partitions{table=\"rate_limits\"} 0",
        "rustcare_partition_snapshot_timestamp_seconds 1759312800.25",
        "rustcare_partition_largest_bytes{table=\"sessions\"} 876544",
        "rustcare_partition_total_bytes{table=\"sessions\"} 47349760",
        "rustcare_partition_future_periods{table=\"sessions\"} 14",
        "rustcare_partition_past_retention{table=\"sessions\"} 2",
        "rustcare_partition_default_rows{table=\"sessions\"} 7",
        "rustcare_partition_estimated_rows{table=\"sessions\"} 1077",
        "rustcare_partition_covered_until_timestamp_seconds{table=\"sessions\"} 1760572800",
        "rustcare_partition_covered_until_timestamp_seconds{table=\"rate_limits\"} 0",
        "rustcare_partition_health_status{table=\"sessions\"} 1",
        "rustcare_partition_health_status{table=\"rate_limits\"} 2",
        "rustcare_partition_count_threshold{table=\"sessions\",level=\"warning\"} 105",
        "rustcare_partition_count_threshold{table=\"sessions\",level=\"critical\"} 500",
        "rustcare_partition_policy_info{table=\"sessions\",period=\"day\",retention=\"90 days\",ahead=\"14\",cleanup=\"auto\",default_partition=\"no\"} 1",
        "rustcare_partition_health_worst_status 2",
        "rustcare_partition_health_findings{severity=\"critical\"} 1",
    ];
    for line in lines {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in\n{text}"
        );
    }
    // Every family: HELP, then TYPE gauge, then its samples only; names snake_case, no _total/_count.
    let mut current: Option<String> = None;
    let mut families = 0;
    let all: Vec<&str> = text.lines().collect();
    for (i, l) in all.iter().enumerate() {
        if let Some(rest) = l.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap().to_string();
            assert_eq!(all[i + 1], format!("# TYPE {name} gauge"));
            assert!(
                name.starts_with("rustcare_partition")
                    && !name.ends_with("_total")
                    && !name.ends_with("_count"),
                "{name}"
            );
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
            current = Some(name);
            families += 1;
        } else if !l.starts_with('#') {
            let name = l.split(['{', ' ']).next().unwrap();
            assert_eq!(
                Some(name),
                current.as_deref(),
                "sample outside its family: {l}"
            );
            let value = l.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{l}");
        }
    }
    assert_eq!(families, 16);
    assert!(text.ends_with('\n'));
}

#[test]
fn escaping() {
    // (raw, label value, help text)
    let cases = [
        ("plain", "plain", "plain"),
        ("a\"b", "a\\\"b", "a\"b"),
        ("back\\slash", "back\\\\slash", "back\\\\slash"),
        ("two\nlines", "two\\nlines", "two\\nlines"),
    ];
    for (raw, label, help) in cases {
        assert_eq!(escape_label_value(raw), label);
        assert_eq!(escape_help(raw), help);
    }
}

/// The real linter, where it is installed (Debian's `prometheus` package ships it).
#[test]
fn promtool_accepts_the_output() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let (cfg, snap, health) = sample();
    let text = render(&cfg, &snap, &health);
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!("promtool not installed: lint skipped");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
