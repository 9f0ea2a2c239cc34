//! `migrate` / `rollback` through the binary: killed with SIGKILL mid-backfill and run again, it
//! resumes and keeps every row; `--finish`; once all four tables are partitioned, 006 is recorded
//! so `db migrate` has nothing left to convert.

mod cli_common;

use std::time::Duration;

use cli_common::{at_005, cli, text, BIN};
use partitioning::pg::testdb::TestDb;
use partitioning::pg::workspace_root;

async fn count(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&db.pool).await.unwrap()
}

#[tokio::test]
async fn migrate_killed_mid_backfill_resumes_and_keeps_every_row() {
    let db = at_005(30_000).await;
    let mut child = tokio::process::Command::new(BIN)
        .args([
            "migrate",
            "--table",
            "sessions",
            "--batch-rows",
            "500",
            "--pause-ms",
            "30",
        ])
        .env("DATABASE_URL", &db.url)
        .env("RUSTCARE_HOME", workspace_root())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the backfill is under way, then SIGKILL.
    let mut copied = 0;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let state: Option<(String, i64)> = sqlx::query_as(
            "SELECT phase, rows_copied FROM online_migration WHERE table_name = 'sessions'",
        )
        .fetch_optional(&db.pool)
        .await
        .unwrap_or(None);
        if let Some((_, n)) = state.filter(|(p, n)| p == "prepared" && *n >= 2_000) {
            copied = n;
            break;
        }
    }
    child.kill().await.unwrap();
    assert!(copied >= 2_000, "the backfill had started before the kill");
    let phase: String =
        sqlx::query_scalar("SELECT phase FROM online_migration WHERE table_name = 'sessions'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(phase, "prepared", "killed mid-backfill");

    let out = cli(
        &db,
        &["migrate", "--table", "sessions", "--batch-rows", "5000"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        count(&db, "SELECT count(*) FROM sessions").await,
        30_000,
        "{}",
        text(&out)
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM sessions_before_partitioning").await,
        30_000
    );
    let kind: String =
        sqlx::query_scalar("SELECT relkind::text FROM pg_class WHERE oid = 'sessions'::regclass")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(kind, "p");
    // Only sessions is partitioned: 006 is not applied behind the other tables' back.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM _sqlx_migrations WHERE version = 6"
        )
        .await,
        0
    );

    let out = cli(&db, &["migrate", "--finish", "--table", "sessions"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pg_class WHERE relname = 'sessions_before_partitioning'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn migrating_all_four_tables_records_006() {
    let db = at_005(1_000).await;
    let out = cli(&db, &["migrate"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pg_class WHERE relkind = 'p' AND relname IN \
                    ('auth_audit_log', 'sessions', 'refresh_tokens', 'rate_limits')"
        )
        .await,
        4,
        "{}",
        text(&out)
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM _sqlx_migrations WHERE version = 6 AND success"
        )
        .await,
        1,
        "{}",
        text(&out)
    );
    assert_eq!(count(&db, "SELECT count(*) FROM sessions").await, 1_000);
    // 006's functions work on the online-converted tables.
    assert!(count(&db, "SELECT create_partitions_if_needed()::bigint").await >= 0);
    // A rollback waits for the migrate to be finished (its kept table dropped).
    let out = cli(&db, &["rollback", "--table", "rate_limits"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("migrate --finish --table rate_limits"),
        "{}",
        text(&out)
    );
    let out = cli(&db, &["migrate", "--finish", "--table", "rate_limits"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Stopping after a phase (the failpoint) leaves a resumable state.
    let out = tokio::process::Command::new(BIN)
        .args(["rollback", "--table", "rate_limits"])
        .env("DATABASE_URL", &db.url)
        .env("RUSTCARE_HOME", workspace_root())
        .env("RUSTCARE_ONLINE_STOP_AFTER", "backfilled")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = cli(&db, &["rollback", "--table", "rate_limits"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let kind: String = sqlx::query_scalar(
        "SELECT relkind::text FROM pg_class WHERE oid = 'rate_limits'::regclass",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(kind, "r");
}
