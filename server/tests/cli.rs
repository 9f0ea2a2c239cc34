//! The `rustcare-partitions` binary as the guide's scripts run it, against a fresh real database
//! per test (DATABASE_URL): exact creations, dry runs that change nothing, the HIPAA guard, clear
//! refusals (bad config, unknown table, no terminal), health exit codes and the metrics file.

use std::collections::BTreeMap;
use std::process::Output;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use partitioning::pg::testdb::TestDb;
use partitioning::pg::workspace_root;
use sqlx::PgPool;

/// Runs the binary with `args` against `db`, from a directory that is not the project root.
async fn cli(db: &TestDb, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_rustcare-partitions"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("RUSTCARE_HOME", workspace_root())
        .env("RUST_LOG", "warn")
        .env("USER", "tester")
        .current_dir(std::env::temp_dir())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("the binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every relation of the public schema with its kind and partition bound, plus the action log and
/// policy rows: equal before and after means nothing changed.
async fn catalog_state(pool: &PgPool) -> (Vec<(String, String, String)>, i64, String) {
    let rels = sqlx::query_as(
        "SELECT c.relname::text, c.relkind::text, coalesce(pg_get_expr(c.relpartbound, c.oid), '') \
         FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let log: i64 = sqlx::query_scalar("SELECT count(*) FROM partition_action_log")
        .fetch_one(pool)
        .await
        .unwrap();
    let policy: String = sqlx::query_scalar(
        "SELECT string_agg(p::text, '|' ORDER BY table_name) FROM partition_policy p",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    (rels, log, policy)
}

/// Partition name → bound text, for one parent.
async fn partitions(pool: &PgPool, table: &str) -> BTreeMap<String, String> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass($1)",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter().collect()
}

async fn server_now(pool: &PgPool) -> DateTime<Utc> {
    sqlx::query_scalar("SELECT now()")
        .fetch_one(pool)
        .await
        .unwrap()
}

fn bound_text(lower: NaiveDate, upper: NaiveDate) -> String {
    format!(
        "FOR VALUES FROM ('{} 00:00:00+00') TO ('{} 00:00:00+00')",
        lower.format("%Y-%m-%d"),
        upper.format("%Y-%m-%d")
    )
}

#[tokio::test]
async fn create_days_60_creates_exactly_the_expected_daily_partitions() {
    let db = TestDb::migrated().await.unwrap();
    let before = partitions(&db.pool, "sessions").await;
    let out = cli(&db, &["create", "--days", "60", "--table", "sessions"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let today = server_now(&db.pool).await.date_naive();
    let after = partitions(&db.pool, "sessions").await;
    // Today through today + 60: 61 daily partitions, each bounded by UTC midnights.
    for d in 0..=60 {
        let day = today + Duration::days(d);
        let name = format!("sessions_{}", day.format("%Y_%m_%d"));
        assert_eq!(
            after.get(&name),
            Some(&bound_text(day, day + Duration::days(1))),
            "{name} missing or wrongly bounded\n{}",
            text(&out)
        );
    }
    let added: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    let beyond = format!(
        "sessions_{}",
        (today + Duration::days(61)).format("%Y_%m_%d")
    );
    assert!(
        added.iter().all(|n| **n < beyond),
        "created past the window: {added:?}"
    );
    // Nothing for the other tables (--table) and a second run has nothing to do.
    let again = cli(&db, &["create", "--days", "60", "--table", "sessions"]).await;
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(partitions(&db.pool, "sessions").await, after);
}

#[tokio::test]
async fn create_days_60_covers_the_weekly_and_monthly_tables_too() {
    let db = TestDb::migrated().await.unwrap();
    let out = cli(&db, &["create", "--days", "60"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let now = server_now(&db.pool).await;
    let horizon = (now + Duration::days(60)).date_naive();
    // Weekly: every Monday-start week from this week to the one holding today + 60.
    let tokens = partitions(&db.pool, "refresh_tokens").await;
    let mut monday =
        now.date_naive() - Duration::days(i64::from(now.weekday().num_days_from_monday()));
    while monday <= horizon {
        let name = format!("refresh_tokens_{}", monday.format("%Y_%m_%d"));
        assert_eq!(
            tokens.get(&name),
            Some(&bound_text(monday, monday + Duration::days(7))),
            "{name}"
        );
        monday += Duration::days(7);
    }
    // Monthly: every month from this one to the one holding today + 60.
    let audit = partitions(&db.pool, "auth_audit_log").await;
    let mut month = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap();
    while month <= horizon {
        let next = month.checked_add_months(chrono::Months::new(1)).unwrap();
        let name = format!("auth_audit_log_{}", month.format("%Y_%m"));
        assert_eq!(audit.get(&name), Some(&bound_text(month, next)), "{name}");
        month = next;
    }
}

/// Old daily partitions of sessions (90 days) and rate_limits (7 days), some just inside and some
/// just past retention.
async fn seed_old_partitions(pool: &PgPool) {
    sqlx::raw_sql(
        "SELECT create_sessions_partition((now() AT TIME ZONE 'UTC')::date - d) FROM generate_series(85, 95) d; \
         SELECT create_rate_limits_partition((now() AT TIME ZONE 'UTC')::date - d) FROM generate_series(3, 12) d;",
    )
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn cleanup_dry_run_lists_exactly_the_partitions_past_retention_and_changes_nothing() {
    let db = TestDb::migrated().await.unwrap();
    seed_old_partitions(&db.pool).await;
    let before = catalog_state(&db.pool).await;
    let out = cli(&db, &["cleanup", "--dry-run", "--format", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let mut listed: Vec<String> = report["planned"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "drop")
        .map(|a| a["partition"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    // Expected: upper bound at or before now - retention (sessions 90 days, rate_limits 7 days).
    let now = server_now(&db.pool).await;
    let mut expected = Vec::new();
    for (table, days) in [("sessions", 90), ("rate_limits", 7)] {
        for (name, _) in partitions(&db.pool, table).await {
            let day = NaiveDate::parse_from_str(&name[name.len() - 10..], "%Y_%m_%d").unwrap();
            let upper = (day + Duration::days(1))
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc();
            if upper <= now - Duration::days(days) {
                expected.push(name);
            }
        }
    }
    expected.sort();
    assert!(!expected.is_empty());
    assert_eq!(listed, expected, "{}", text(&out));
    assert_eq!(
        catalog_state(&db.pool).await,
        before,
        "a dry run changed the database"
    );

    // The text form names them too.
    let out = cli(&db, &["cleanup", "--dry-run"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        expected.iter().all(|n| stdout.contains(n.as_str())),
        "{}",
        text(&out)
    );
    assert_eq!(catalog_state(&db.pool).await, before);
}

#[tokio::test]
async fn cleanup_force_drops_what_is_past_retention_and_logs_it() {
    let db = TestDb::migrated().await.unwrap();
    seed_old_partitions(&db.pool).await;
    let out = cli(&db, &["cleanup", "--force", "--actor", "cron-test"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let now = server_now(&db.pool).await;
    let oldest_kept = (now - Duration::days(90)).date_naive();
    for (name, _) in partitions(&db.pool, "sessions").await {
        let day = NaiveDate::parse_from_str(&name[9..], "%Y_%m_%d").unwrap();
        assert!(
            day >= oldest_kept - Duration::days(1),
            "{name} should have been dropped"
        );
    }
    let drops: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM partition_action_log WHERE action = 'drop' AND outcome = 'ok' AND actor = 'cron-test'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(
        drops >= 5,
        "drops logged with the actor: {drops}\n{}",
        text(&out)
    );
    // Converged: a second run has nothing left to drop.
    let again = cli(&db, &["cleanup", "--dry-run", "--format", "json"]).await;
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        report["planned"].as_array().map(Vec::len),
        Some(0),
        "{}",
        text(&again)
    );
}

#[tokio::test]
async fn cleanup_force_never_drops_an_audit_partition_under_seven_years() {
    let db = TestDb::migrated().await.unwrap();
    sqlx::raw_sql(
        "SELECT create_audit_log_partition((date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => m))::date) \
         FROM generate_series(0, 90) m;",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let before = partitions(&db.pool, "auth_audit_log").await;

    // Shipped config: approval mode. Nothing dropped; the output says a two-person approval is needed.
    let out = cli(&db, &["cleanup", "--force", "--table", "auth_audit_log"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(partitions(&db.pool, "auth_audit_log").await, before);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("two-person approval"),
        "{}",
        text(&out)
    );

    // Even with cleanup made automatic, only months whose upper bound is 7+ years old go.
    let dir = tempdir();
    let conf = dir.join("auto.conf");
    let shipped =
        std::fs::read_to_string(workspace_root().join("config/partitioning.conf")).unwrap();
    std::fs::write(
        &conf,
        shipped.replace("AUDIT_LOG_CLEANUP=approval", "AUDIT_LOG_CLEANUP=auto"),
    )
    .unwrap();
    let out = cli(
        &db,
        &["cleanup", "--force", "--config", conf.to_str().unwrap()],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let now = server_now(&db.pool).await;
    let cutoff = now.checked_sub_months(chrono::Months::new(84)).unwrap();
    let after = partitions(&db.pool, "auth_audit_log").await;
    for name in before.keys() {
        let month = NaiveDate::parse_from_str(&format!("{}_01", &name[15..]), "%Y_%m_%d").unwrap();
        let upper = month
            .checked_add_months(chrono::Months::new(1))
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        let young = upper > cutoff;
        assert_eq!(
            after.contains_key(name),
            young,
            "{name} (upper {upper}, cutoff {cutoff})\n{}",
            text(&out)
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "rustcare-cli-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(42);
    h.finish()
}

#[tokio::test]
async fn bad_config_and_unknown_table_are_refused_with_exit_2_and_change_nothing() {
    let db = TestDb::migrated().await.unwrap();
    seed_old_partitions(&db.pool).await;
    let before = catalog_state(&db.pool).await;
    let dir = tempdir();
    let conf = dir.join("bad.conf");
    std::fs::write(
        &conf,
        "AUDIT_LOG_RETENTION_YEARS=3\nSESSIONS_RETENTION_DAYS=ninety\nNO_SUCH_KEY=1\nSESSIONS_CLEANUP=sometimes\n",
    )
    .unwrap();
    let path = conf.to_str().unwrap();
    for args in [
        vec!["create", "--config", path],
        vec!["cleanup", "--force", "--config", path],
        vec!["maintenance", "--force", "--config", path],
    ] {
        let out = cli(&db, &args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}\n{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        for (line, key) in [
            (1, "AUDIT_LOG_RETENTION_YEARS"),
            (2, "SESSIONS_RETENTION_DAYS"),
            (3, "NO_SUCH_KEY"),
            (4, "SESSIONS_CLEANUP"),
        ] {
            assert!(
                err.contains(&format!("{path}:{line}")),
                "line {line} not named\n{}",
                text(&out)
            );
            assert!(err.contains(key), "{key} not named\n{}", text(&out));
        }
    }
    for args in [
        vec!["create", "--table", "users"],
        vec!["cleanup", "--force", "--table", "sesions"],
    ] {
        let out = cli(&db, &args).await;
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        for t in [
            "auth_audit_log",
            "sessions",
            "refresh_tokens",
            "rate_limits",
        ] {
            assert!(err.contains(t), "the error must list {t}\n{}", text(&out));
        }
    }
    // Cleanup without a terminal and without --force/--dry-run refuses.
    let out = cli(&db, &["cleanup"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--force"),
        "{}",
        text(&out)
    );
    assert_eq!(
        catalog_state(&db.pool).await,
        before,
        "a refused command changed the database"
    );
    for cmd in ["migrate", "rollback"] {
        let out = cli(&db, &[cmd]).await;
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    }
    let _ = std::fs::remove_dir_all(dir);
}

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
