//! `manage-partitions.sh` commands through the built binary, against a fresh real database per
//! test (DATABASE_URL): exact creations, dry runs that change nothing, the HIPAA guard, clear
//! refusals (bad config, unknown table, no terminal), the typed "yes", and the wrapper scripts.

mod cli_common;

use chrono::{Datelike, Duration, NaiveDate};
use cli_common::*;
use partitioning::pg::testdb::TestDb;
use partitioning::pg::workspace_root;

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
    // The online migrate on an already partitioned database: nothing to do, nothing changed.
    let out = cli(&db, &["migrate"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("already partitioned"),
        "{}",
        text(&out)
    );
    assert_eq!(
        catalog_state(&db.pool).await,
        before,
        "migrate changed a partitioned database"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs `rustcare-partitions <args>` on a pseudo-terminal (util-linux `script`), typing `answer`.
async fn on_terminal(db: &TestDb, args: &str, answer: &str) -> std::process::Output {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("script")
        .args(["-qec", &format!("{BIN} {args}"), "/dev/null"])
        .env("DATABASE_URL", &db.url)
        .env("RUSTCARE_HOME", workspace_root())
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux script runs");
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{answer}\n").as_bytes())
        .await
        .unwrap();
    let out = child.wait_with_output().await.unwrap();
    drop(stdin);
    out
}

#[tokio::test]
async fn cleanup_on_a_terminal_drops_only_after_a_typed_yes() {
    let db = TestDb::migrated().await.unwrap();
    seed_old_partitions(&db.pool).await;
    let before = catalog_state(&db.pool).await;
    let out = on_terminal(&db, "cleanup --table sessions", "no").await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Type yes"),
        "{}",
        text(&out)
    );
    assert_eq!(
        catalog_state(&db.pool).await,
        before,
        "answering no changed the database\n{}",
        text(&out)
    );

    let out = on_terminal(&db, "cleanup --table sessions", "yes").await;
    assert!(out.status.success(), "{}", text(&out));
    let left = partitions(&db.pool, "sessions").await;
    let now = server_now(&db.pool).await;
    assert!(
        left.keys().all(|n| {
            let day = NaiveDate::parse_from_str(&n[9..], "%Y_%m_%d").unwrap();
            day + Duration::days(1) > (now - Duration::days(90)).date_naive()
        }),
        "past-retention partitions left after yes: {left:?}\n{}",
        text(&out)
    );
    // --table sessions: rate_limits' old partitions are untouched.
    assert!(partitions(&db.pool, "rate_limits").await.len() >= 10);
}

#[tokio::test]
async fn the_wrapper_scripts_pass_arguments_through_from_any_directory() {
    let db = TestDb::migrated().await.unwrap();
    let dir = tempdir();
    let script = |name: &str| workspace_root().join("scripts").join(name);
    // As cron runs it: a bare environment, another cwd, output thrown away; RUSTCARE_BIN points at
    // the binary under test (cron itself lets rustcare-bin.sh build the release binary).
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{} create --days 3 >/dev/null 2>&1",
            script("manage-partitions.sh").display()
        ))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", std::env::temp_dir())
        .env("DATABASE_URL", &db.url)
        .env("RUSTCARE_BIN", BIN)
        .current_dir(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    let today = server_now(&db.pool).await.date_naive();
    let name = format!(
        "rate_limits_{}",
        (today + Duration::days(3)).format("%Y_%m_%d")
    );
    assert!(
        partitions(&db.pool, "rate_limits")
            .await
            .contains_key(&name),
        "{name}"
    );
    // A relative FILE means the caller's directory, not the project's.
    let out = std::process::Command::new(script("monitor-partitions.sh"))
        .args(["metrics", "m.prom"])
        .env("DATABASE_URL", &db.url)
        .env("RUSTCARE_BIN", BIN)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read_to_string(dir.join("m.prom"))
        .unwrap()
        .contains("# TYPE"));
    let out = std::process::Command::new(script("manage-partitions.sh"))
        .args(["cleanup", "--table", "nope"])
        .env("DATABASE_URL", &db.url)
        .env("RUSTCARE_BIN", BIN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "exit codes pass through");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn maintenance_seal_makes_closed_audit_months_immutable() {
    let db = TestDb::migrated().await.unwrap();
    sqlx::raw_sql(
        "SELECT create_audit_log_partition((date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => m))::date) \
         FROM generate_series(1, 3) m; \
         INSERT INTO auth_audit_log (\"timestamp\", event_type, outcome) \
         VALUES (date_trunc('month', now()) - interval '40 days', 'login', 'success');",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let out = cli(&db, &["maintenance", "--seal", "--table", "auth_audit_log"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let sealed: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
         WHERE t.tgname = 'rustcare_sealed' ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(
        sealed.len() >= 2,
        "closed months sealed: {sealed:?}\n{}",
        text(&out)
    );
    let now = server_now(&db.pool).await;
    let current = format!("auth_audit_log_{}", now.format("%Y_%m"));
    assert!(!sealed.contains(&current), "the open month stays writable");
    let err = sqlx::raw_sql("UPDATE auth_audit_log SET outcome = 'failure' WHERE \"timestamp\" < date_trunc('month', now()) - interval '35 days'")
        .execute(&db.pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("seal"), "{err}");
}
