//! `monitor-partitions.sh` commands through the built binary, against a fresh real database per
//! test: health exit codes, the metrics file, and status/performance/tips read from the database.

mod cli_common;

use chrono::NaiveDate;
use cli_common::*;
use partitioning::pg::testdb::TestDb;

#[tokio::test]
async fn health_exits_non_zero_when_future_partitions_are_missing() {
    let db = TestDb::migrated().await.unwrap();
    let out = cli(&db, &["create"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    sqlx::raw_sql("ANALYZE").execute(&db.pool).await.unwrap();
    let healthy = cli(&db, &["monitor", "health"]).await;
    assert_eq!(
        healthy.status.code(),
        Some(0),
        "a freshly maintained database is healthy\n{}",
        text(&healthy)
    );

    // Remove the future sessions partitions: a warning (the current day is still there)...
    let today: NaiveDate = server_now(&db.pool).await.date_naive();
    for (name, _) in partitions(&db.pool, "sessions").await {
        let day = NaiveDate::parse_from_str(&name[9..], "%Y_%m_%d").unwrap();
        if day > today {
            sqlx::raw_sql(&format!("DROP TABLE {name}"))
                .execute(&db.pool)
                .await
                .unwrap();
        }
    }
    let out = cli(&db, &["monitor", "health"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // ...and critical once today's partition is gone too (inserts would fail).
    sqlx::raw_sql(&format!("DROP TABLE sessions_{}", today.format("%Y_%m_%d")))
        .execute(&db.pool)
        .await
        .unwrap();
    let out = cli(&db, &["monitor", "health", "--format", "json"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report.to_string().contains("sessions"), "{}", text(&out));
}

#[tokio::test]
async fn metrics_file_is_written_atomically_in_prometheus_format() {
    let db = TestDb::migrated().await.unwrap();
    let dir = tempdir();
    let file = dir.join("metrics.prom");
    let out = cli(&db, &["monitor", "metrics", file.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let body = std::fs::read_to_string(&file).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "temp files left behind: {leftovers:?}");
    // Every sample's metric has HELP and TYPE lines, names are rustcare_partition_*.
    let mut helped = Vec::new();
    let mut typed = Vec::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.push(rest.split(' ').next().unwrap().to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            typed.push(rest.split(' ').next().unwrap().to_string());
        } else if !line.is_empty() {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(name.starts_with("rustcare_partition"), "{line}");
            assert!(
                helped.iter().any(|h| h == name) && typed.iter().any(|t| t == name),
                "no HELP/TYPE for {name}"
            );
        }
    }
    assert!(!typed.is_empty(), "{body}");
    if let Ok(check) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
    {
        assert!(
            check.status.success(),
            "promtool: {}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
    // The stdout form (`metrics > file`) prints the same families.
    let out = cli(&db, &["monitor", "metrics"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("# TYPE"),
        "{}",
        text(&out)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn status_performance_and_tips_read_the_database() {
    let db = TestDb::migrated().await.unwrap();
    for args in [
        vec!["status"],
        vec!["status", "--format", "json"],
        vec!["monitor", "status"],
        vec!["monitor", "performance", "--format", "json"],
        vec!["monitor", "tips"],
    ] {
        let out = cli(&db, &args).await;
        assert_eq!(out.status.code(), Some(0), "{args:?}\n{}", text(&out));
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
    // 30 days of past sessions partitions: the last-7-days query must skip the 23 older ones.
    sqlx::raw_sql(
        "SELECT create_sessions_partition((now() AT TIME ZONE 'UTC')::date - d) FROM generate_series(1, 30) d",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let out = cli(
        &db,
        &[
            "monitor",
            "performance",
            "--format",
            "json",
            "--table",
            "sessions",
        ],
    )
    .await;
    let perf: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let probe = &perf["probes"][0];
    let total = probe["partitions_total"].as_u64().unwrap();
    let scanned = probe["partitions_scanned"].as_u64().unwrap();
    assert!(total >= 45, "{probe}");
    // One day of slack for CURRENT_DATE in the session's TimeZone.
    assert!(
        (total - 24..=total - 22).contains(&scanned),
        "the last-7-days query prunes: {probe}"
    );
    // pg_cron is not installed in the test cluster: the tips say so, from the database's state.
    let out = cli(&db, &["monitor", "tips", "--format", "json"]).await;
    let tips: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(tips.to_string().contains("pg_cron"), "{tips}");
}

#[tokio::test]
async fn pruning_switched_off_is_critical_and_the_tips_show_its_cost() {
    let db = TestDb::migrated().await.unwrap();
    sqlx::raw_sql(&format!(
        "ALTER DATABASE {} SET enable_partition_pruning = off",
        partitioning::table::quote_ident(&db.name)
    ))
    .execute(&db.pool)
    .await
    .unwrap();
    let out = cli(&db, &["monitor", "health"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = cli(&db, &["monitor", "tips", "--format", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let tips: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let topics: Vec<&str> = tips
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["topic"].as_str())
        .collect();
    assert!(topics.contains(&"pruning_off"), "{topics:?}");
    // The guide's one-month audit query now reads every audit partition: measured, not assumed.
    assert!(topics.contains(&"probe_not_pruned"), "{topics:?}");
}

#[tokio::test]
async fn exact_sizes_are_read_on_demand() {
    let db = TestDb::migrated().await.unwrap();
    // Rows written since the last VACUUM/ANALYZE: relpages (the estimate) has not seen them yet.
    sqlx::raw_sql(
        "INSERT INTO sessions (user_id, expires_at, token_hash) \
         SELECT gen_random_uuid(), now() + interval '1 day', md5(g::text) FROM generate_series(1, 5000) g",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let bytes = |out: &std::process::Output| -> i64 {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["tables"][0]["bytes"].as_i64().unwrap()
    };
    let estimate = cli(&db, &["status", "--table", "sessions", "--format", "json"]).await;
    let exact = cli(
        &db,
        &[
            "status",
            "--table",
            "sessions",
            "--format",
            "json",
            "--exact-sizes",
        ],
    )
    .await;
    assert_eq!(exact.status.code(), Some(0), "{}", text(&exact));
    let real: i64 = sqlx::query_scalar(
        "SELECT sum(pg_total_relation_size(inhrelid))::bigint FROM pg_inherits WHERE inhparent = 'sessions'::regclass",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(bytes(&exact), real, "{}", text(&exact));
    assert!(
        bytes(&estimate) < real,
        "the estimate lags until ANALYZE: {}",
        text(&estimate)
    );
}
