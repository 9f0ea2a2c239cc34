//! `rollback --finish` of auth_audit_log (migration 014): the partitioned copy a rollback keeps
//! holds audit months inside retention, which the drop guard protects. It goes only through
//! `rustcare_finish_audit_rollback()`, after every row is verified in the live table, each
//! partition's drop recorded; a missing row refuses it; the guard still refuses everything else.

use partitioning::config::Config;
use partitioning::pg::online::{self, OnlineError, OnlineOptions, Phase};
use partitioning::pg::testdb::TestDb;
use partitioning::table::ManagedTable;
use sqlx::PgPool;

const ROWS: i64 = 3_000;

/// A migrated database (006's partitioned audit log, the guard installed, 014) with `ROWS`
/// audit rows over the last three months, rolled back online to an ordinary table.
async fn rolled_back() -> TestDb {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    sqlx::query(
        "SELECT rustcare_create_partition('auth_audit_log', (now() - n * interval '1 month')::date) \
         FROM generate_series(1, 3) AS n",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO auth_audit_log (\"timestamp\", user_id, event_type, outcome, details) \
         SELECT now() - (n % 80) * interval '1 day', gen_random_uuid(), 'login', 'success', \
                jsonb_build_object('n', n) FROM generate_series(1, $1) AS n",
    )
    .bind(ROWS)
    .execute(pool)
    .await
    .unwrap();
    let r = online::run(
        pool,
        &Config::default(),
        ManagedTable::AuthAuditLog,
        false,
        &OnlineOptions {
            batch_rows: 500,
            ..OnlineOptions::default()
        },
        &|_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(r.phase, Phase::Swapped);
    assert_eq!(r.rows_verified, ROWS);
    db
}

async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

async fn kept_exists(pool: &PgPool) -> bool {
    scalar(
        pool,
        "SELECT count(*) FROM pg_class WHERE relname = 'auth_audit_log_before_rollback'",
    )
    .await
        == 1
}

#[tokio::test]
async fn the_kept_audit_copy_goes_only_once_every_row_is_verified_in_the_live_table() {
    let db = rolled_back().await;
    let pool = &db.pool;
    let months = scalar(
        pool,
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'auth_audit_log_before_rollback'::regclass",
    )
    .await;
    assert!(months >= 3, "{months} partitions kept");

    // A plain DROP is refused by the guard: the copy's months are inside retention.
    let e = sqlx::query("DROP TABLE auth_audit_log_before_rollback")
        .execute(pool)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("refusing to drop"), "{e}");
    assert!(kept_exists(pool).await);

    // A row of the copy missing from the live table: refused, nothing dropped, nothing logged.
    let gone: String = sqlx::query_scalar(
        "DELETE FROM auth_audit_log WHERE id = (SELECT id FROM auth_audit_log ORDER BY \"timestamp\" LIMIT 1) \
         RETURNING id::text",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let r = online::finish(pool, ManagedTable::AuthAuditLog, false).await;
    assert!(
        matches!(&r, Err(OnlineError::Refused(m)) if m.contains("1 of the") && m.contains("nothing dropped")),
        "{r:?}"
    );
    assert!(kept_exists(pool).await);
    let logged = "SELECT count(*) FROM partition_action_log WHERE table_name = 'auth_audit_log_before_rollback'";
    assert_eq!(scalar(pool, logged).await, 0);
    // A row changed in the live table is not "present" either.
    sqlx::query(
        "INSERT INTO auth_audit_log SELECT * FROM auth_audit_log_before_rollback WHERE id = $1::uuid",
    )
    .bind(&gone)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("UPDATE auth_audit_log SET outcome = 'failure' WHERE id = $1::uuid")
        .bind(&gone)
        .execute(pool)
        .await
        .unwrap();
    let r = online::finish(pool, ManagedTable::AuthAuditLog, false).await;
    assert!(matches!(&r, Err(OnlineError::Refused(_))), "{r:?}");
    assert!(kept_exists(pool).await);

    // Put back as it was: every row verified, each partition's drop recorded, the copy gone.
    sqlx::query("UPDATE auth_audit_log SET outcome = 'success' WHERE id = $1::uuid")
        .bind(&gone)
        .execute(pool)
        .await
        .unwrap();
    let f = online::finish(pool, ManagedTable::AuthAuditLog, false)
        .await
        .unwrap();
    assert_eq!(f.kept, "auth_audit_log_before_rollback");
    assert_eq!(f.rows_verified, Some(ROWS));
    assert!(!kept_exists(pool).await);
    assert_eq!(
        scalar(pool, "SELECT count(*) FROM auth_audit_log").await,
        ROWS
    );
    let (drops, rows): (i64, i64) = sqlx::query_as(
        "SELECT count(*), sum(row_estimate)::bigint FROM partition_action_log \
         WHERE table_name = 'auth_audit_log_before_rollback' AND action = 'drop' AND outcome = 'ok'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!((drops, rows), (months, ROWS));
    // Not a disposal of audit data: nothing logged under auth_audit_log itself.
    assert_eq!(
        scalar(
            pool,
            "SELECT count(*) FROM partition_action_log WHERE table_name = 'auth_audit_log' AND action = 'drop'"
        )
        .await,
        0
    );
    assert_eq!(
        scalar(pool, "SELECT count(*) FROM rustcare_audit_drop_clearance").await,
        0
    );
    let phase: String = sqlx::query_scalar(
        "SELECT phase FROM online_migration WHERE table_name = 'auth_audit_log'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(phase, "finished");
    let again = online::finish(pool, ManagedTable::AuthAuditLog, false).await;
    assert!(
        matches!(again, Err(OnlineError::AlreadyDone(_))),
        "{again:?}"
    );
}

#[tokio::test]
async fn the_guard_still_refuses_audit_months_without_a_clearance_of_the_same_transaction() {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    let month: String = sqlx::query_scalar(
        "SELECT 'auth_audit_log_' || to_char(now() AT TIME ZONE 'UTC' - interval '2 months', 'YYYY_MM')",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query(&format!("CREATE TABLE \"{month}\" (id int)"))
        .execute(pool)
        .await
        .unwrap();
    // A clearance written by another (committed) transaction does not count.
    sqlx::query(&format!(
        "INSERT INTO rustcare_audit_drop_clearance (relid, relname, rows_verified) \
         VALUES ('\"{month}\"'::regclass, '{month}', 0)"
    ))
    .execute(pool)
    .await
    .unwrap();
    let e = sqlx::query(&format!("DROP TABLE \"{month}\""))
        .execute(pool)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("refusing to drop"), "{e}");
    // Nor does calling the finisher without a rollback waiting.
    let e = sqlx::query("SELECT rustcare_finish_audit_rollback()")
        .execute(pool)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("no rollback of auth_audit_log"),
        "{e}"
    );
    // The clearance is what lets it pass: in the dropping transaction, it does.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(&format!(
        "INSERT INTO rustcare_audit_drop_clearance (relid, relname, rows_verified) \
         VALUES ('\"{month}\"'::regclass, '{month}', 0)"
    ))
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(&format!("DROP TABLE \"{month}\""))
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
}
