//! The SQL functions 006 installs for pg_cron, against a real PostgreSQL: idempotent creation, the
//! guide's snippets as written, and cleanup that never drops an audit partition under retention.

use partitioning::pg::testdb::TestDb;
use sqlx::PgPool;

async fn partitions(pool: &PgPool, table: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = to_regclass($1) ORDER BY 1",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn create_partitions_if_needed_is_idempotent_and_covers_the_window() {
    let db = TestDb::migrated().await.unwrap();
    let _: i32 = sqlx::query_scalar("SELECT create_partitions_if_needed()")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let second: i32 = sqlx::query_scalar("SELECT create_partitions_if_needed()")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(second, 0, "a second run must create nothing");
    // Default window: 6 months ahead for the audit log, 14 days for sessions.
    let horizon: (bool, bool) = sqlx::query_as(
        "SELECT to_regclass(format('auth_audit_log_%s', to_char(now() AT TIME ZONE 'UTC' + interval '6 months', 'YYYY_MM'))) IS NOT NULL, \
                to_regclass(format('sessions_%s', to_char(now() AT TIME ZONE 'UTC' + interval '14 days', 'YYYY_MM_DD'))) IS NOT NULL",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(horizon, (true, true));
}

#[tokio::test]
async fn the_guide_s_snippets_work_as_written() {
    let db = TestDb::migrated().await.unwrap();
    sqlx::raw_sql("SELECT create_audit_log_partition('2025-12-01'::DATE);")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::raw_sql(
        "DO $$\nBEGIN\n    FOR i IN 0..30 LOOP\n        PERFORM create_sessions_partition(CURRENT_DATE + i);\n    END LOOP;\nEND $$;",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let audit = partitions(&db.pool, "auth_audit_log").await;
    assert!(
        audit.contains(&"auth_audit_log_2025_12".to_string()),
        "{audit:?}"
    );
    let sessions = partitions(&db.pool, "sessions").await;
    assert!(
        sessions.len() >= 31,
        "{} session partitions",
        sessions.len()
    );
    // Calling again changes nothing.
    sqlx::raw_sql("SELECT create_audit_log_partition('2025-12-15'::DATE);")
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(partitions(&db.pool, "auth_audit_log").await, audit);
}

#[tokio::test]
async fn weekly_partitions_start_on_monday_even_in_another_timezone() {
    let db = TestDb::migrated().await.unwrap();
    let mut conn = db.pool.acquire().await.unwrap();
    sqlx::query("SET TimeZone = 'Pacific/Auckland'")
        .execute(&mut *conn)
        .await
        .unwrap();
    // 2026-01-01 is a Thursday: its week starts Monday 2025-12-29.
    let name: Option<String> =
        sqlx::query_scalar("SELECT create_refresh_tokens_partition('2026-01-01'::date)")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    let name = match name {
        Some(n) => n,
        None => "refresh_tokens_2025_12_29".into(),
    };
    assert_eq!(name, "refresh_tokens_2025_12_29");
    sqlx::query("SET TimeZone = 'UTC'")
        .execute(&mut *conn)
        .await
        .unwrap();
    let bound: String = sqlx::query_scalar(
        "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'refresh_tokens_2025_12_29'",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(
        bound,
        "FOR VALUES FROM ('2025-12-29 00:00:00+00') TO ('2026-01-05 00:00:00+00')"
    );
}

/// Audit partitions from 8 years ago to now; with cleanup made automatic, only those whose upper
/// bound is at or before now - 7 years may go, and the rest stay.
#[tokio::test]
async fn drop_old_partitions_never_drops_audit_partitions_under_seven_years() {
    let db = TestDb::migrated().await.unwrap();
    sqlx::raw_sql(
        "SELECT create_audit_log_partition(((date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => m)))::date) \
         FROM generate_series(0, 96) m;",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    // Default policy: audit cleanup needs approval, so nothing of the audit log is dropped at all.
    let _: i32 = sqlx::query_scalar("SELECT drop_old_partitions()")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(partitions(&db.pool, "auth_audit_log").await.len() >= 97);

    sqlx::query(
        "UPDATE partition_policy SET cleanup_mode = 'auto' WHERE table_name = 'auth_audit_log'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let dropped: i32 = sqlx::query_scalar("SELECT drop_old_partitions()")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(
        dropped >= 11,
        "8 years back, 7 kept: about a year of months goes, got {dropped}"
    );
    let young_gone: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM generate_series(0, 96) m \
         WHERE (date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => m - 1)) AT TIME ZONE 'UTC' > now() - interval '7 years' \
           AND to_regclass(format('auth_audit_log_%s', to_char(date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => m), 'YYYY_MM'))) IS NULL",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        young_gone, 0,
        "an audit partition younger than 7 years was dropped"
    );
    let old_left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM generate_series(0, 96) m \
         WHERE (date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => m - 1)) AT TIME ZONE 'UTC' <= now() - interval '7 years' \
           AND to_regclass(format('auth_audit_log_%s', to_char(date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => m), 'YYYY_MM'))) IS NOT NULL",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        old_left, 0,
        "an audit partition past retention was kept under an auto policy"
    );

    let logged: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM partition_action_log WHERE table_name = 'auth_audit_log' AND action = 'drop'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(logged, i64::from(dropped), "every drop is recorded");
}

#[tokio::test]
async fn the_policy_table_refuses_an_audit_retention_under_six_years() {
    let db = TestDb::migrated().await.unwrap();
    let err = sqlx::query(
        "UPDATE partition_policy SET retention = interval '5 years' WHERE table_name = 'auth_audit_log'",
    )
    .execute(&db.pool)
    .await
    .unwrap_err();
    let code = err
        .as_database_error()
        .and_then(|e| e.code())
        .unwrap_or_default();
    assert_eq!(code, "23514", "check_violation expected, got {err}");
}

#[tokio::test]
async fn dropping_a_young_audit_partition_by_hand_is_refused() {
    let db = TestDb::migrated().await.unwrap();
    let name: String = sqlx::query_scalar(
        "SELECT 'auth_audit_log_' || to_char(now() AT TIME ZONE 'UTC' - interval '2 years', 'YYYY_MM')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "SELECT create_audit_log_partition((now() AT TIME ZONE 'UTC' - interval '2 years')::date)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let err = sqlx::query(&format!("DROP TABLE {name}"))
        .execute(&db.pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("retention"), "{err}");
    assert!(partitions(&db.pool, "auth_audit_log").await.contains(&name));
}
