//! `bench --quick` end to end: the report is written with every section and sane figures, and the
//! throwaway database is gone afterwards. Timings themselves are never asserted.

mod cli_common;

use cli_common::{cli, text};
use partitioning::pg::testdb::TestDb;
use sqlx::PgPool;

/// The measures the summary must list, by a phrase of their titles.
const MEASURES: [&str; 8] = [
    "Create ",
    "Maintenance with nothing to do",
    "`status` catalog snapshot",
    "The guide's query",
    "counted by type and outcome",
    "no partition key",
    "through the executor vs DELETE",
    "with plain DDL vs DELETE",
];

/// `12.3 ms`, `1.24 s`, `3 min 05 s`, `1.08×` → the leading number.
fn leading_number(cell: &str) -> f64 {
    let cell = cell.rsplit(": ").next().unwrap_or(cell).trim();
    let number: String = cell
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    number
        .parse()
        .unwrap_or_else(|_| panic!("no number in {cell:?}"))
}

async fn bench_databases(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname LIKE 'rustcare_bench_%'")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn quick_bench_writes_a_complete_report() {
    let db = TestDb::empty().await.unwrap();
    let before = bench_databases(&db.pool).await;
    let dir = std::env::temp_dir().join(format!("rustcare-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("BENCHMARKS.md");
    let out_arg = out.display().to_string();

    let run = cli(&db, &["bench", "--quick", "--out", &out_arg]).await;
    assert!(run.status.success(), "{}", text(&run));
    let md =
        std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("no report: {e}\n{}", text(&run)));
    std::fs::remove_dir_all(&dir).ok();

    for section in ["# Benchmarks", "## Machine", "## Summary", "## Details"] {
        assert!(md.contains(section), "missing {section}:\n{md}");
    }
    assert!(md.contains("| CPUs (nproc) | "), "{md}");
    assert!(md.contains("| PostgreSQL | 1"), "no server version:\n{md}");

    let summary = md
        .split("## Summary")
        .nth(1)
        .and_then(|s| s.split("## Details").next())
        .unwrap();
    let rows: Vec<Vec<&str>> = summary
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| Measure"))
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), MEASURES.len(), "summary rows:\n{summary}");
    for (row, phrase) in rows.iter().zip(MEASURES) {
        assert_eq!(row.len(), 6, "{row:?}");
        let (title, ours, baseline, ratio, target, result) =
            (row[0], row[1], row[2], row[3], row[4], row[5]);
        assert!(title.contains(phrase), "expected {phrase:?} in {title:?}");
        assert!(leading_number(ours) > 0.0, "ours not > 0 in {row:?}");
        assert!(!target.is_empty() && !result.is_empty(), "{row:?}");
        if baseline == "not measured" {
            // Only pg_partman may be missing on a server, and the report says why.
            assert!(title.starts_with("Maintenance"), "{row:?}");
            assert!(result.contains("not measured"), "{row:?}");
        } else {
            assert!(
                leading_number(baseline) > 0.0,
                "baseline not > 0 in {row:?}"
            );
            assert!(leading_number(ratio) > 0.0, "ratio not > 0 in {row:?}");
        }
        // Each measure has its details section with its method.
        let details = md.split(&format!("### {title}\n")).nth(1).unwrap_or("");
        assert!(
            details.contains("- Method: "),
            "no method for {title}:\n{md}"
        );
    }
    assert_eq!(
        bench_databases(&db.pool).await,
        before,
        "the bench left its database behind"
    );
}
