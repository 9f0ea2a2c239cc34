//! Settings that reach SQL through the policy sync: `APPROVAL_EXPIRY_HOURS` governs requests
//! filed by `drop_old_partitions()` (pg_cron) as it governs the CLI's and the console's (015), and
//! changing it is an audited setting change.

use partitioning::config::Config;
use partitioning::pg::policy_sync;
use partitioning::pg::testdb::TestDb;
use sqlx::PgPool;

/// Creates the audit-log partition of the month `months_ago` months back.
async fn old_audit_partition(pool: &PgPool, months_ago: i32) {
    let _: String = sqlx::query_scalar(
        "SELECT create_audit_log_partition(((now() AT TIME ZONE 'UTC') - make_interval(months => $1))::date)",
    )
    .bind(months_ago)
    .fetch_one(pool)
    .await
    .unwrap();
}

/// Hours between the newest request's filing and its expiry, on the server's clock.
async fn newest_request_hours(pool: &PgPool) -> f64 {
    sqlx::query_scalar(
        "SELECT (extract(epoch FROM expires_at - created_at) / 3600)::float8 \
         FROM cleanup_requests ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn sql_filed_requests_expire_after_the_configured_hours() {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    old_audit_partition(pool, 8 * 12 + 2).await;
    let config = Config {
        approval_expiry_hours: 2,
        ..Config::default()
    };
    let changed = policy_sync::sync_as(pool, &config, "cli:alice")
        .await
        .unwrap();
    assert_eq!(changed.len(), 1, "{changed:?}");
    let (actor, change): (String, serde_json::Value) = sqlx::query_as(
        "SELECT actor, detail->'changes'->0 FROM audit_trail WHERE action = 'policy_changed'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(actor, "cli:alice");
    assert_eq!(
        change,
        serde_json::json!({"field": "approval_expiry_hours", "old": 24, "new": 2})
    );

    let dropped: i32 = sqlx::query_scalar("SELECT drop_old_partitions()")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(dropped, 0, "the audit log is an approval table");
    let hours = newest_request_hours(pool).await;
    assert!((hours - 2.0).abs() < 0.01, "expires after {hours} h, not 2");
    let (expires_in, filed_by): (f64, String) = sqlx::query_as(
        "SELECT (extract(epoch FROM expires_at - now()) / 3600)::float8, requested_by \
         FROM cleanup_requests",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(expires_in > 1.9 && expires_in <= 2.0, "{expires_in}");
    assert!(filed_by.starts_with("sql:"), "{filed_by}");

    // Without the settings row (deleted by hand) SQL falls back to the file's default, 24 hours.
    sqlx::query("DELETE FROM partition_settings")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE cleanup_requests SET state = 'rejected'")
        .execute(pool)
        .await
        .unwrap();
    let _: i32 = sqlx::query_scalar("SELECT drop_old_partitions()")
        .fetch_one(pool)
        .await
        .unwrap();
    let hours = newest_request_hours(pool).await;
    assert!((hours - 24.0).abs() < 0.01, "{hours}");
    // The next sync puts the row back (an audited change from nothing to 2).
    policy_sync::sync_as(pool, &config, "scheduler")
        .await
        .unwrap();
    let stored: i32 =
        sqlx::query_scalar("SELECT approval_expiry_hours FROM partition_settings WHERE singleton")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(stored, 2);
}

fn psql(url: &str, file: &str) {
    let path = partitioning::pg::workspace_root()
        .join("migrations")
        .join(file);
    let out = std::process::Command::new("psql")
        .arg(url)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(&path)
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql -f {file} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// 015 by hand, as a DBA would: the down restores 012's function (24 hours) and drops the table;
/// the up runs twice and reads the setting again.
#[tokio::test]
async fn migration_015_runs_down_and_up_twice_through_psql() {
    let db = TestDb::migrated().await.unwrap();
    let body = |pool: PgPool| async move {
        let def: String = sqlx::query_scalar(
            "SELECT pg_get_functiondef('rustcare_file_cleanup_request(text)'::regprocedure)",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        let table: bool =
            sqlx::query_scalar("SELECT to_regclass('partition_settings') IS NOT NULL")
                .fetch_one(&pool)
                .await
                .unwrap();
        (
            def.contains("partition_settings"),
            def.contains("interval '24 hours'"),
            table,
        )
    };
    assert_eq!(body(db.pool.clone()).await, (true, false, true));
    psql(&db.url, "015_sql_request_expiry.down.sql");
    assert_eq!(
        body(db.pool.clone()).await,
        (false, true, false),
        "012's body"
    );
    // A sync on a database without 015 still works (and compares the policies only).
    let config = Config {
        approval_expiry_hours: 5,
        ..Config::default()
    };
    assert!(policy_sync::sync(&db.pool, &config)
        .await
        .unwrap()
        .is_empty());
    psql(&db.url, "015_sql_request_expiry.up.sql");
    psql(&db.url, "015_sql_request_expiry.up.sql");
    assert_eq!(body(db.pool.clone()).await, (true, false, true));
    assert_eq!(policy_sync::sync(&db.pool, &config).await.unwrap().len(), 1);
}
