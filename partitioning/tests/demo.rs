//! Demo data: every table gets rows, the audit log spans 8 years, and some partitions of every
//! table are past retention so cleanup pages have something to show.

use partitioning::pg::demo::{self, DemoOutcome};
use partitioning::pg::testdb::TestDb;

#[tokio::test]
async fn demo_fills_an_empty_database_once() {
    let db = TestDb::migrated().await.unwrap();
    assert_eq!(demo::fill(&db.pool).await.unwrap(), DemoOutcome::Filled);
    for table in [
        "users",
        "auth_audit_log",
        "sessions",
        "refresh_tokens",
        "rate_limits",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert!(n > 100, "{table} has only {n} rows");
    }
    let years: f64 = sqlx::query_scalar(
        r#"SELECT (extract(epoch FROM now() - min("timestamp")) / (365.25 * 86400))::float8 FROM auth_audit_log"#,
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(years > 7.5, "audit log spans {years:.1} years");
    // Expired periods exist for the short-lived tables.
    let expired_sessions: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sessions WHERE created_at < now() - interval '91 days'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(expired_sessions > 0);
    // A second call adds nothing.
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM auth_audit_log")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        demo::fill(&db.pool).await.unwrap(),
        DemoOutcome::AlreadyHasData
    );
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM auth_audit_log")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(before, after);
}

#[tokio::test]
async fn overview_matches_the_catalog() {
    let db = TestDb::migrated().await.unwrap();
    demo::fill(&db.pool).await.unwrap();
    let rows = partitioning::pg::overview::fetch(&db.pool).await.unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r.table.as_str()).collect();
    assert_eq!(
        names,
        [
            "auth_audit_log",
            "sessions",
            "refresh_tokens",
            "rate_limits"
        ]
    );
    for row in &rows {
        let (count, bytes): (i64, i64) = sqlx::query_as(
            "SELECT count(*), coalesce(sum(pg_total_relation_size(inhrelid)), 0)::bigint \
             FROM pg_inherits WHERE inhparent = to_regclass($1)",
        )
        .bind(&row.table)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(row.partitions, count, "{}", row.table);
        assert_eq!(row.total_bytes, bytes, "{}", row.table);
        assert!(row.oldest_bound < row.newest_bound);
    }
}
