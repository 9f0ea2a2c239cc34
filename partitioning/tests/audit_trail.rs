//! The hash-chained audit trail (009) on real PostgreSQL: SQL and Rust agree on every hash,
//! appends are serialised, the table refuses edits, and `verify` names the first row that was
//! changed behind the triggers' back.

use partitioning::pg::audit::{self, AuditEvent, Break, GENESIS};
use partitioning::pg::testdb::TestDb;
use serde_json::json;

fn event(n: usize) -> AuditEvent {
    AuditEvent::new(
        format!("user{n}"),
        "login",
        format!("user:user{n}"),
        json!({"n": n, "note": "line\nbreak, ünïcode", "nested": {"b": [1, 2], "a": null}}),
    )
}

#[tokio::test]
async fn appended_rows_chain_and_verify_in_rust() {
    let db = TestDb::migrated().await.unwrap();
    let empty = audit::verify(&db.pool).await.unwrap();
    assert!(empty.ok() && empty.rows == 0 && empty.head.is_none());
    for n in 1..=5 {
        let id = audit::append(&db.pool, &event(n)).await.unwrap();
        assert_eq!(id, n as i64, "ids are gap-free from 1");
    }
    let first: String = sqlx::query_scalar("SELECT prev_hash FROM audit_trail WHERE id = 1")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(first, GENESIS);
    let report = audit::verify(&db.pool).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.rows, 5);
    let head: String = sqlx::query_scalar("SELECT hash FROM audit_trail WHERE id = 5")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(report.head, Some((5, head)));
}

#[tokio::test]
async fn concurrent_appends_make_one_unbroken_chain() {
    let db = TestDb::migrated().await.unwrap();
    let mut tasks = Vec::new();
    for n in 0..24 {
        let pool = db.pool.clone();
        tasks.push(tokio::spawn(async move {
            audit::append(&pool, &event(n)).await.unwrap()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.sort();
    assert_eq!(ids, (1..=24).collect::<Vec<i64>>());
    let report = audit::verify(&db.pool).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.rows, 24);
}

#[tokio::test]
async fn update_delete_and_truncate_are_refused() {
    let db = TestDb::migrated().await.unwrap();
    audit::append(&db.pool, &event(1)).await.unwrap();
    for sql in [
        "UPDATE audit_trail SET actor = 'someone else'",
        "DELETE FROM audit_trail",
        "TRUNCATE audit_trail",
    ] {
        let err = sqlx::raw_sql(sql).execute(&db.pool).await.unwrap_err();
        assert!(
            err.to_string().contains("append-only"),
            "{sql} must be refused: {err}"
        );
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_trail")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn a_row_edited_with_triggers_disabled_fails_verify_at_that_row() {
    let db = TestDb::migrated().await.unwrap();
    for n in 1..=6 {
        audit::append(&db.pool, &event(n)).await.unwrap();
    }
    sqlx::raw_sql(
        "ALTER TABLE audit_trail DISABLE TRIGGER ALL; \
         UPDATE audit_trail SET detail = jsonb_set(detail, '{n}', '99') WHERE id = 4; \
         ALTER TABLE audit_trail ENABLE TRIGGER ALL;",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let report = audit::verify(&db.pool).await.unwrap();
    match &report.first_break {
        Some(b @ Break::HashMismatch { id: 4, .. }) => {
            assert!(b.to_string().starts_with("row 4:"), "{b}");
        }
        other => panic!("expected a hash mismatch at row 4, got {other:?}"),
    }
    assert_eq!(report.head.as_ref().map(|h| h.0), Some(3));
}

#[tokio::test]
async fn a_deleted_row_or_a_shifted_timestamp_is_named() {
    let db = TestDb::migrated().await.unwrap();
    for n in 1..=5 {
        audit::append(&db.pool, &event(n)).await.unwrap();
    }
    sqlx::raw_sql(
        "ALTER TABLE audit_trail DISABLE TRIGGER ALL; \
         UPDATE audit_trail SET at = at - interval '1 microsecond' WHERE id = 2; \
         ALTER TABLE audit_trail ENABLE TRIGGER ALL;",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let report = audit::verify(&db.pool).await.unwrap();
    assert!(
        matches!(report.first_break, Some(Break::HashMismatch { id: 2, .. })),
        "{report:?}"
    );

    let db = TestDb::migrated().await.unwrap();
    for n in 1..=5 {
        audit::append(&db.pool, &event(n)).await.unwrap();
    }
    sqlx::raw_sql(
        "ALTER TABLE audit_trail DISABLE TRIGGER ALL; DELETE FROM audit_trail WHERE id = 3; \
         ALTER TABLE audit_trail ENABLE TRIGGER ALL;",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let report = audit::verify(&db.pool).await.unwrap();
    assert_eq!(
        report.first_break,
        Some(Break::Gap {
            expected_id: 3,
            found_id: 4
        })
    );
}

#[tokio::test]
async fn sql_side_appends_verify_too() {
    let db = TestDb::migrated().await.unwrap();
    sqlx::raw_sql(
        "SELECT rustcare_audit_append('cron', 'scheduler_run', '', '{\"dropped\": 3}'); \
         SELECT rustcare_audit_append('sql:me', 'cleanup_requested', 'request:1', NULL);",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    audit::append(&db.pool, &event(3)).await.unwrap();
    let report = audit::verify(&db.pool).await.unwrap();
    assert!(report.ok() && report.rows == 3, "{report:?}");
}

/// A setting change is audited: a sync that changes the stored policy appends one
/// `policy_changed` event (actor, old and new value of each changed field); a sync with nothing to
/// change appends nothing.
#[tokio::test]
async fn a_policy_change_is_one_audited_event_and_a_no_op_sync_writes_none() {
    use partitioning::config::Config;
    use partitioning::pg::policy_sync;
    use partitioning::policy::{CleanupMode, Retention};
    use partitioning::table::ManagedTable;

    let db = TestDb::migrated().await.unwrap();
    let events = |pool: sqlx::PgPool| async move {
        let rows: Vec<(String, serde_json::Value)> = sqlx::query_as(
            "SELECT actor, detail FROM audit_trail WHERE action = 'policy_changed' ORDER BY id",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        rows
    };
    let mut config = Config::default();
    policy_sync::sync_as(&db.pool, &config, "cli:alice")
        .await
        .unwrap();
    assert!(
        events(db.pool.clone()).await.is_empty(),
        "defaults: no change"
    );

    for p in &mut config.policies {
        if p.table == ManagedTable::AuthAuditLog {
            p.cleanup = CleanupMode::Auto;
        }
        if p.table == ManagedTable::Sessions {
            p.retention = Retention::Days(30);
        }
    }
    let changed = policy_sync::sync_as(&db.pool, &config, "cli:alice")
        .await
        .unwrap();
    assert_eq!(changed.len(), 2, "{changed:?}");
    let got = events(db.pool.clone()).await;
    assert_eq!(got.len(), 1, "one event for the whole sync: {got:?}");
    let (actor, detail) = &got[0];
    assert_eq!(actor, "cli:alice");
    let changes = detail["changes"].as_array().unwrap();
    let find = |table: &str, field: &str| {
        changes
            .iter()
            .find(|c| c["table"] == table && c["field"] == field)
            .cloned()
    };
    let mode = find("auth_audit_log", "cleanup_mode").expect("cleanup_mode change recorded");
    assert_eq!(
        (mode["old"].as_str(), mode["new"].as_str()),
        (Some("approval"), Some("auto"))
    );
    let ret = find("sessions", "retention").expect("retention change recorded");
    assert_eq!(
        (ret["old"].as_str(), ret["new"].as_str()),
        (Some("90 days"), Some("30 days"))
    );
    assert_eq!(changes.len(), 2, "only the changed fields: {changes:?}");

    policy_sync::sync_as(&db.pool, &config, "scheduler")
        .await
        .unwrap();
    assert_eq!(
        events(db.pool.clone()).await.len(),
        1,
        "an unchanged sync writes nothing"
    );
    let report = audit::verify(&db.pool).await.unwrap();
    assert!(report.ok(), "{report:?}");
}
