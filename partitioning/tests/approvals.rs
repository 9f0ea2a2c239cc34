//! Cleanup requests on real PostgreSQL: the two-person rule end to end, expiry, invalidation when
//! the plan moved after approval, one execution among concurrent ones, resuming a crashed run, and
//! the request id in the disposal log.

use partitioning::access::Role;
use partitioning::approval::{Decision, DecisionError, ExecuteError, RequestState};
use partitioning::config::Config;
use partitioning::pg::approvals::{self, ApprovalError, Executed, Filed};
use partitioning::pg::audit;
use partitioning::pg::executor::ProgressEvent;
use partitioning::pg::testdb::TestDb;
use sqlx::PgPool;

fn quiet(_: ProgressEvent<'_>) {}

/// Creates the audit-log partition of the month `months_ago` months back; returns its name.
async fn old_audit_partition(pool: &PgPool, months_ago: i32) -> String {
    sqlx::query_scalar(
        "SELECT create_audit_log_partition(((now() AT TIME ZONE 'UTC') - make_interval(months => $1))::date)",
    )
    .bind(months_ago)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn exists(pool: &PgPool, name: &str) -> bool {
    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn state(pool: &PgPool, id: i64) -> RequestState {
    approvals::get(pool, id).await.unwrap().unwrap().state
}

/// A request for one 8-year-old audit partition, approved by dba2 and compliance.
async fn approved_request(pool: &PgPool) -> (i64, String) {
    let part = old_audit_partition(pool, 8 * 12 + 2).await;
    let config = Config::default();
    let id = approvals::file(pool, &config, &[], "dba1")
        .await
        .unwrap()
        .id();
    approvals::decide(
        pool,
        id,
        "dba2",
        Role::Dba,
        Decision::Approve,
        "checked the list",
    )
    .await
    .unwrap();
    let s = approvals::decide(
        pool,
        id,
        "carol",
        Role::Compliance,
        Decision::Approve,
        "past 7 years",
    )
    .await
    .unwrap();
    assert_eq!(s, RequestState::Approved);
    (id, part)
}

#[tokio::test]
async fn two_people_approve_then_it_runs_once_and_is_recorded() {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    let config = Config::default();
    assert!(matches!(
        approvals::file(pool, &config, &[], "dba1").await,
        Err(ApprovalError::NothingToRequest)
    ));
    let part = old_audit_partition(pool, 8 * 12 + 2).await;
    let id = match approvals::file(pool, &config, &[], "dba1").await.unwrap() {
        Filed::Created(id) => id,
        other => panic!("expected a new request, got {other:?}"),
    };
    assert_eq!(
        approvals::file(pool, &config, &[], "dba2").await.unwrap(),
        Filed::AlreadyOpen(id),
        "the same cleanup is not filed twice"
    );
    let r = approvals::get(pool, id).await.unwrap().unwrap();
    assert_eq!(r.actions.len(), 1);
    assert_eq!(r.actions[0].partition, part);
    assert!(r.needs_compliance);
    assert!(
        r.actions[0].policy.contains("retention 7 years"),
        "{:?}",
        r.actions[0]
    );

    let own = approvals::decide(pool, id, "dba1", Role::Dba, Decision::Approve, "mine").await;
    assert!(matches!(
        own,
        Err(ApprovalError::Decision(DecisionError::OwnRequest))
    ));
    let s = approvals::decide(pool, id, "dba2", Role::Dba, Decision::Approve, "ok")
        .await
        .unwrap();
    assert_eq!(
        s,
        RequestState::Pending,
        "the audit log also needs compliance"
    );
    let early = approvals::execute(pool, &config, id, "dba2", &quiet).await;
    assert!(matches!(
        early,
        Err(ApprovalError::Execute(ExecuteError::NotApproved(
            RequestState::Pending
        )))
    ));
    assert!(exists(pool, &part).await);
    approvals::decide(pool, id, "carol", Role::Compliance, Decision::Approve, "ok")
        .await
        .unwrap();

    match approvals::execute(pool, &config, id, "dba2", &quiet)
        .await
        .unwrap()
    {
        Executed::Ran { complete: true, .. } => {}
        other => panic!("expected a complete run, got {other:?}"),
    }
    assert!(!exists(pool, &part).await);
    assert_eq!(state(pool, id).await, RequestState::Executed);
    let logged: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, outcome FROM partition_action_log WHERE request_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        logged,
        [("detach".into(), "ok".into()), ("drop".into(), "ok".into())]
    );
    assert!(matches!(
        approvals::execute(pool, &config, id, "dba2", &quiet)
            .await
            .unwrap(),
        Executed::AlreadyExecuted
    ));
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_trail WHERE subject = $1 ORDER BY id")
            .bind(format!("request:{id}"))
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(
        actions,
        [
            "cleanup_requested",
            "cleanup_approved",
            "cleanup_approved",
            "cleanup_executed",
            "cleanup_executed"
        ]
    );
    assert!(audit::verify(pool).await.unwrap().ok());
}

#[tokio::test]
async fn an_expired_request_cannot_run() {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    let (id, part) = approved_request(pool).await;
    sqlx::query(
        "UPDATE cleanup_requests SET created_at = now() - interval '2 days', \
         expires_at = now() - interval '1 second' WHERE id = $1",
    )
    .bind(id)
    .execute(pool)
    .await
    .unwrap();
    let r = approvals::execute(pool, &Config::default(), id, "dba2", &quiet).await;
    assert!(
        matches!(
            r,
            Err(ApprovalError::Execute(ExecuteError::NotApproved(
                RequestState::Expired
            )))
        ),
        "{r:?}"
    );
    assert_eq!(state(pool, id).await, RequestState::Expired);
    assert!(exists(pool, &part).await, "nothing dropped");
}

#[tokio::test]
async fn a_new_eligible_partition_after_approval_invalidates() {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    let (id, part) = approved_request(pool).await;
    let newer = old_audit_partition(pool, 8 * 12 + 1).await;
    match approvals::execute(pool, &Config::default(), id, "dba2", &quiet)
        .await
        .unwrap()
    {
        Executed::Invalidated { why } => assert!(why.contains(&newer), "{why}"),
        other => panic!("expected invalidation, got {other:?}"),
    }
    assert_eq!(state(pool, id).await, RequestState::Invalidated);
    assert!(exists(pool, &part).await && exists(pool, &newer).await);
}

#[tokio::test]
async fn rows_moved_in_after_approval_invalidate() {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    let (id, part) = approved_request(pool).await;
    let lower: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT lower_bound FROM rustcare_partition_range(to_regclass($1))")
            .bind(&part)
            .fetch_one(pool)
            .await
            .unwrap();
    sqlx::raw_sql(&format!(
        "INSERT INTO auth_audit_log (event_type, outcome, \"timestamp\") \
         SELECT 'login', 'success', '{}'::timestamptz + g * interval '1 minute' FROM generate_series(1, 500) g; \
         ANALYZE \"{part}\";",
        lower.format("%Y-%m-%d %H:%M:%S+00")
    ))
    .execute(pool)
    .await
    .unwrap();
    match approvals::execute(pool, &Config::default(), id, "dba2", &quiet)
        .await
        .unwrap()
    {
        Executed::Invalidated { why } => assert!(why.contains("rows"), "{why}"),
        other => panic!("expected invalidation, got {other:?}"),
    }
    let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM \"{part}\""))
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(rows, 500, "nothing dropped");
}

#[tokio::test]
async fn two_concurrent_executions_drop_once() {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    let config = Config::default();
    let (id, part) = approved_request(pool).await;
    let (a, b) = tokio::join!(
        approvals::execute(pool, &config, id, "dba2", &quiet),
        approvals::execute(pool, &config, id, "admin", &quiet)
    );
    let ran = [&a, &b]
        .iter()
        .filter(|r| matches!(r, Ok(Executed::Ran { .. })))
        .count();
    assert_eq!(ran, 1, "{a:?} / {b:?}");
    assert!([&a, &b].iter().all(|r| matches!(
        r,
        Ok(Executed::Ran { .. } | Executed::AlreadyRunning | Executed::AlreadyExecuted)
    )));
    let drops: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM partition_action_log WHERE partition_name = $1 AND action = 'drop'",
    )
    .bind(&part)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(drops, 1);
}

#[tokio::test]
async fn a_run_that_died_after_the_detach_is_finished_by_the_next() {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    let (id, part) = approved_request(pool).await;
    // What a crash between DETACH and DROP leaves: state executing, the partition detached.
    sqlx::raw_sql(&format!(
        "UPDATE cleanup_requests SET state = 'executing' WHERE id = {id}; \
         ALTER TABLE auth_audit_log DETACH PARTITION \"{part}\";"
    ))
    .execute(pool)
    .await
    .unwrap();
    match approvals::execute(pool, &Config::default(), id, "dba2", &quiet)
        .await
        .unwrap()
    {
        Executed::Ran { complete: true, .. } => {}
        other => panic!("expected the resumed run to finish, got {other:?}"),
    }
    assert!(!exists(pool, &part).await);
    assert_eq!(state(pool, id).await, RequestState::Executed);
}

/// pg_cron's path: `drop_old_partitions()` files the request for the audit log instead of dropping,
/// with the fingerprint the Rust planner computes, so the console finds it, two people approve it
/// and it runs like any other request.
#[tokio::test]
async fn drop_old_partitions_files_the_request_the_console_recognises() {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    let config = Config::default();
    let older = old_audit_partition(pool, 8 * 12 + 2).await;
    let old = old_audit_partition(pool, 8 * 12 + 1).await;
    // Rows and statistics, so the row estimates bound into the fingerprint are not all zero.
    sqlx::query(
        "INSERT INTO auth_audit_log (id, \"timestamp\", user_id, event_type, outcome, ip_address, details)
         SELECT gen_random_uuid(),
                (date_trunc('month', (now() AT TIME ZONE 'UTC') - make_interval(months => m)) AT TIME ZONE 'UTC')
                    + g * interval '1 hour',
                gen_random_uuid(), 'login', 'success', '10.0.0.1', '{}'
         FROM generate_series(97, 98) m, generate_series(0, 40 + m) g",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE auth_audit_log")
        .execute(pool)
        .await
        .unwrap();

    let dropped: i32 = sqlx::query_scalar("SELECT drop_old_partitions()")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(dropped, 0, "the audit log is an approval table");
    assert!(exists(pool, &older).await && exists(pool, &old).await);
    let (id, by, est_rows): (i64, String, i64) = sqlx::query_as(
        "SELECT id, requested_by, (SELECT sum((a->>'est_rows')::bigint)::bigint
                                   FROM jsonb_array_elements(actions) a)
         FROM cleanup_requests",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(by.starts_with("sql:"), "{by}");
    assert_eq!(est_rows, 41 + 97 + 41 + 98, "both months, with their rows");
    assert_eq!(
        approvals::file(pool, &config, &[], "dba1").await.unwrap(),
        Filed::AlreadyOpen(id),
        "the planner's fingerprint equals the one computed in SQL"
    );
    let _: i32 = sqlx::query_scalar("SELECT drop_old_partitions()")
        .fetch_one(pool)
        .await
        .unwrap();
    let requests: i64 = sqlx::query_scalar("SELECT count(*) FROM cleanup_requests")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(requests, 1, "a second run finds the open request");
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_trail WHERE action = 'cleanup_requested' AND subject = $1",
    )
    .bind(format!("request:{id}"))
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    for (who, role) in [("dba2", Role::Dba), ("carol", Role::Compliance)] {
        approvals::decide(pool, id, who, role, Decision::Approve, "past 7 years")
            .await
            .unwrap();
    }
    match approvals::execute(pool, &config, id, "dba2", &quiet)
        .await
        .unwrap()
    {
        Executed::Ran { complete: true, .. } => {}
        other => panic!("expected a complete run, got {other:?}"),
    }
    assert_eq!(state(pool, id).await, RequestState::Executed);
    assert!(!exists(pool, &older).await && !exists(pool, &old).await);
    assert!(
        audit::verify(pool).await.unwrap().ok(),
        "SQL appends keep the chain"
    );
}
