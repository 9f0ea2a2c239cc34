//! Compliance reports stored in PostgreSQL, read back by the request handlers' functions: a stored
//! row whose columns no longer decode as this build expects (a schema from another version, a
//! hand-made change) is an error naming the column, never a panic inside a request.

use chrono::Utc;
use partitioning::config::Config;
use partitioning::pg::compliance::{self, ReportError, ReportRequest};
use partitioning::pg::testdb::TestDb;
use sqlx::PgPool;

/// A new pool after each schema change: a connection's cached statements would otherwise fail
/// with "cached plan must not change result type" before the code under test decodes anything.
async fn fresh(db: &TestDb) -> PgPool {
    PgPool::connect(&db.url).await.unwrap()
}

async fn run(pool: &PgPool, sql: &str) {
    sqlx::query(sql)
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A report of today, all four tables, by `compliance`.
fn today_for_compliance() -> ReportRequest<'static> {
    let today = Utc::now().date_naive();
    ReportRequest {
        from: today,
        to: today,
        tables: &[],
        generated_by: "compliance",
    }
}

#[tokio::test]
async fn a_stored_row_that_does_not_decode_is_an_error_not_a_panic() {
    let db = TestDb::migrated().await.unwrap();
    let pool = db.pool.clone();
    let config = Config::default();
    run(&pool, "SELECT create_partitions_if_needed()").await;
    run(
        &pool,
        "INSERT INTO partition_action_log (actor, table_name, partition_name, action, outcome, row_estimate) \
         VALUES ('test', 'sessions', 'sessions_2020_01_01', 'create', 'ok', 1)",
    )
    .await;
    let req = today_for_compliance();
    let stored = compliance::generate(&pool, &config.policies, &req, "compliance")
        .await
        .unwrap();
    compliance::sign(
        &pool,
        stored.id,
        "compliance",
        partitioning::access::Role::Compliance,
        "Casey Officer",
    )
    .await
    .unwrap();
    assert_eq!(compliance::list(&pool, 10).await.unwrap().len(), 1);

    // The action log's row estimate as numeric: the report's inputs no longer read.
    run(
        &pool,
        "ALTER TABLE partition_action_log ALTER COLUMN row_estimate TYPE numeric",
    )
    .await;
    let pool = fresh(&db).await;
    let err = compliance::load_inputs(&pool, &config.policies, &req)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ReportError::Db(_)) && err.to_string().contains("row_estimate"),
        "{err}"
    );

    // A signature's audit id as numeric: listing and reading report through signatures fail.
    run(
        &pool,
        "ALTER TABLE compliance_report_signatures ALTER COLUMN audit_id TYPE numeric",
    )
    .await;
    let pool = fresh(&db).await;
    let err = compliance::list(&pool, 10).await.unwrap_err();
    assert!(err.to_string().contains("audit_id"), "{err}");
    run(
        &pool,
        "ALTER TABLE compliance_report_signatures ALTER COLUMN audit_id TYPE bigint",
    )
    .await;
    let pool = fresh(&db).await;

    // The page count as bigint: the stored report's summary no longer reads.
    run(
        &pool,
        "ALTER TABLE compliance_reports ALTER COLUMN pdf_pages TYPE bigint",
    )
    .await;
    let pool = fresh(&db).await;
    let err = compliance::list(&pool, 10).await.unwrap_err();
    assert!(err.to_string().contains("pdf_pages"), "{err}");
    let err = compliance::get(&pool, stored.id).await.unwrap_err();
    assert!(err.to_string().contains("pdf_pages"), "{err}");

    // The files' hash column as bytea: a download is refused with an error, nothing audited.
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_trail")
        .fetch_one(&pool)
        .await
        .unwrap();
    run(
        &pool,
        "ALTER TABLE compliance_reports DROP CONSTRAINT compliance_reports_csv_sha256_check, \
         ALTER COLUMN csv_sha256 TYPE bytea USING convert_to(csv_sha256, 'UTF8')",
    )
    .await;
    let pool = fresh(&db).await;
    let err = compliance::download(
        &pool,
        stored.id,
        partitioning::compliance::ReportFormat::Csv,
        "viewer",
        partitioning::access::Role::Viewer,
    )
    .await
    .err()
    .expect("a download whose hash does not decode fails");
    assert!(err.to_string().contains("sha"), "{err}");
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_trail")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(before, after, "nothing audited for a failed download");
}

/// A drop logged earlier in the same second as the report's catalog snapshot is in the report:
/// the log is read in the catalog's own snapshot, not up to its whole second (CI once generated
/// a report 0.2 s after a disposal, in the same second, and the disposal was missing).
#[tokio::test]
async fn a_drop_logged_in_the_same_second_as_the_report_is_in_it() {
    let db = TestDb::migrated().await.unwrap();
    let pool = db.pool.clone();
    let config = Config::default();
    let req = today_for_compliance();
    // Retried until the drop and the snapshot fall in one second (nearly always the first time).
    for attempt in 0..20 {
        let name = format!("sessions_2020_01_{:02}", attempt + 1);
        let at: chrono::DateTime<Utc> = sqlx::query_scalar(
            "INSERT INTO partition_action_log (actor, table_name, partition_name, action, outcome, \
                                               row_estimate, at) \
             VALUES ('test', 'sessions', $1, 'drop', 'ok', 0, clock_timestamp()) RETURNING at",
        )
        .bind(&name)
        .fetch_one(&pool)
        .await
        .unwrap();
        let inputs = compliance::load_inputs(&pool, &config.policies, &req)
            .await
            .unwrap();
        let now = inputs.scope.generated_at;
        if now.timestamp() != at.timestamp() {
            continue;
        }
        assert!(
            inputs
                .actions
                .iter()
                .any(|a| a.partition == name && a.action == "drop"),
            "the drop at {at} is missing from a report generated at {now}"
        );
        return;
    }
    panic!("no attempt put the drop and the snapshot in the same second");
}
