//! The executor against a real PostgreSQL: a run killed between DETACH and DROP converges on the
//! next run, two runs never work on one table at once, locks are waited for only so long, the
//! retention guard is re-checked at drop time, and maintenance under continuous inserts loses no
//! row and fails no insert. Also the policy sync.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use partitioning::calendar::{partition_name, period_containing};
use partitioning::config::Config;
use partitioning::pg::executor::{execute, ActionResult, ExecOptions, Outcome, ProgressEvent};
use partitioning::pg::testdb::TestDb;
use partitioning::pg::{catalog, policy_sync};
use partitioning::planner::{plan, Action, ActionKind, Plan, PlanOptions};
use partitioning::table::ManagedTable;
use sqlx::PgPool;

fn quiet(_: ProgressEvent<'_>) {}

fn opts(actor: &str) -> ExecOptions {
    ExecOptions {
        actor: actor.into(),
        lock_timeout: Duration::from_millis(300),
        attempts: 3,
    }
}

async fn now(pool: &PgPool) -> DateTime<Utc> {
    sqlx::query_scalar("SELECT now()")
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

async fn attached(pool: &PgPool, name: &str) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass($1))")
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Plans and runs cleanup (or maintenance) of the given tables; returns the results.
async fn run(
    pool: &PgPool,
    base: PlanOptions,
    tables: &[ManagedTable],
) -> (Plan, Vec<ActionResult>) {
    let config = Config::default();
    let snapshot = catalog::snapshot(pool, tables).await.unwrap();
    let p = plan(
        &config,
        &snapshot,
        snapshot.taken_at,
        &PlanOptions {
            tables: tables.to_vec(),
            ..base
        },
    );
    let results = execute(pool, &config, &p, &opts("test"), &quiet)
        .await
        .unwrap();
    (p, results)
}

/// Creates the sessions partition `days_ago` days back and returns its name.
async fn old_session_partition(pool: &PgPool, days_ago: i64) -> String {
    let name: Option<String> = sqlx::query_scalar(
        "SELECT create_sessions_partition((now() AT TIME ZONE 'UTC')::date - $1::int)",
    )
    .bind(days_ago as i32)
    .fetch_one(pool)
    .await
    .unwrap();
    name.unwrap()
}

#[tokio::test]
async fn a_run_killed_between_detach_and_drop_converges_on_the_next_run() {
    let db = TestDb::migrated().await.unwrap();
    // Crash 1: detached by hand, never dropped (a run killed right after DETACH).
    let leftover = old_session_partition(&db.pool, 120).await;
    sqlx::raw_sql(&format!("ALTER TABLE sessions DETACH PARTITION {leftover}"))
        .execute(&db.pool)
        .await
        .unwrap();
    // Crash 2: a DETACH CONCURRENTLY interrupted in its second phase leaves "detach pending".
    let pending = old_session_partition(&db.pool, 121).await;
    let mut reader = db.pool.begin().await.unwrap();
    sqlx::query(&format!("SELECT count(*) FROM {pending}"))
        .execute(&mut *reader)
        .await
        .unwrap();
    let mut conn = db.pool.acquire().await.unwrap();
    sqlx::raw_sql("SET statement_timeout = '700ms'")
        .execute(&mut *conn)
        .await
        .unwrap();
    let err = sqlx::raw_sql(&format!(
        "ALTER TABLE sessions DETACH PARTITION {pending} CONCURRENTLY"
    ))
    .execute(&mut *conn)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("statement timeout"), "{err}");
    reader.rollback().await.unwrap();
    drop(conn);
    let snapshot = catalog::snapshot(&db.pool, &[ManagedTable::Sessions])
        .await
        .unwrap();
    let t = &snapshot.tables[0];
    assert!(
        t.partitions
            .iter()
            .any(|p| p.name == pending && p.detach_pending),
        "{t:?}"
    );
    assert!(t.detached.iter().any(|p| p.name == leftover), "{t:?}");

    let (p, results) = run(&db.pool, PlanOptions::cleanup(), &[ManagedTable::Sessions]).await;
    assert!(
        results.iter().all(|r| r.outcome == Outcome::Done),
        "{results:#?}"
    );
    let tags: Vec<&str> = p.actions.iter().map(|a| a.kind.tag()).collect();
    for tag in ["finalize_detach", "drop_detached", "drop"] {
        assert!(tags.contains(&tag), "{tag} missing from {tags:?}");
    }
    // One run converged: both gone, and the next run has nothing to do.
    assert!(!exists(&db.pool, &leftover).await && !exists(&db.pool, &pending).await);
    let (again, results) = run(&db.pool, PlanOptions::cleanup(), &[ManagedTable::Sessions]).await;
    assert!(
        again.actions.is_empty() && results.is_empty(),
        "converged: {:?}",
        again.actions
    );
    // Each table was dropped once, and logged once.
    for name in [&leftover, &pending] {
        let drops: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM partition_action_log WHERE partition_name = $1 AND action = 'drop' AND outcome = 'ok'",
        )
        .bind(name)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(drops, 1, "{name}");
    }
}

#[tokio::test]
async fn a_second_executor_on_the_same_table_skips_with_a_clear_message() {
    let db = TestDb::migrated().await.unwrap();
    // The first run holds the table's lock (the contract's key) for as long as it works.
    let mut first = db.pool.acquire().await.unwrap();
    let got: bool = sqlx::query_scalar(
        "SELECT pg_try_advisory_lock(hashtextextended('rustcare_partitions:sessions', 0))",
    )
    .fetch_one(&mut *first)
    .await
    .unwrap();
    assert!(got);
    let today = now(&db.pool).await.date_naive();
    let far = today + chrono::Duration::days(200);
    let bound = period_containing(ManagedTable::Sessions.period(), far);
    let name = partition_name(ManagedTable::Sessions, &bound);
    let p = Plan {
        now: now(&db.pool).await,
        actions: vec![Action {
            table: ManagedTable::Sessions,
            kind: ActionKind::Create {
                name: name.clone(),
                bound,
            },
            reason: "test".into(),
        }],
        held: Vec::new(),
        notes: Vec::new(),
        table_oids: Vec::new(),
    };
    let results = execute(&db.pool, &Config::default(), &p, &opts("second"), &quiet)
        .await
        .unwrap();
    assert_eq!(results.len(), 1);
    match &results[0].outcome {
        Outcome::Busy(why) => assert!(why.contains("another maintenance run"), "{why}"),
        other => panic!("expected a skip, got {other:?}"),
    }
    assert!(
        !exists(&db.pool, &name).await,
        "the second run must not have created anything"
    );
    let logged: String = sqlx::query_scalar(
        "SELECT outcome FROM partition_action_log WHERE partition_name = $1 AND actor = 'second'",
    )
    .bind(&name)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(logged, "skipped");
    // Once the first run is done, the same plan runs.
    sqlx::query("SELECT pg_advisory_unlock_all()")
        .execute(&mut *first)
        .await
        .unwrap();
    let results = execute(&db.pool, &Config::default(), &p, &opts("second"), &quiet)
        .await
        .unwrap();
    assert_eq!(results[0].outcome, Outcome::Done, "{results:?}");
    assert!(exists(&db.pool, &name).await);
}

#[tokio::test]
async fn a_detach_blocked_by_a_long_transaction_gives_up_in_bounded_time() {
    let db = TestDb::migrated().await.unwrap();
    let old = old_session_partition(&db.pool, 100).await;
    // A default partition forces the plain (ACCESS EXCLUSIVE) detach.
    sqlx::raw_sql("CREATE TABLE sessions_default PARTITION OF sessions DEFAULT")
        .execute(&db.pool)
        .await
        .unwrap();
    let mut reader = db.pool.begin().await.unwrap();
    sqlx::query("SELECT count(*) FROM sessions")
        .execute(&mut *reader)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let (_, results) = run(&db.pool, PlanOptions::cleanup(), &[ManagedTable::Sessions]).await;
    let took = started.elapsed();
    reader.rollback().await.unwrap();
    let detach = results
        .iter()
        .find(|r| r.partition == old && r.action == "detach")
        .expect("planned");
    assert!(matches!(detach.outcome, Outcome::Busy(_)), "{results:#?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(attached(&db.pool, &old).await, "nothing changed");
    // No lock left behind: a new run gets the table and finishes the job.
    let (_, results) = run(&db.pool, PlanOptions::cleanup(), &[ManagedTable::Sessions]).await;
    assert!(
        results.iter().all(|r| r.outcome == Outcome::Done),
        "{results:#?}"
    );
    assert!(!exists(&db.pool, &old).await);
}

#[tokio::test]
async fn a_drop_of_a_young_audit_partition_is_refused_at_execution_time() {
    let db = TestDb::migrated().await.unwrap();
    let month = (now(&db.pool).await - chrono::Duration::days(365 * 3)).date_naive();
    let bound = period_containing(ManagedTable::AuthAuditLog.period(), month);
    let name = partition_name(ManagedTable::AuthAuditLog, &bound);
    sqlx::query("SELECT create_audit_log_partition($1)")
        .bind(month)
        .execute(&db.pool)
        .await
        .unwrap();
    // A forged plan (a planner bug, a stale plan): detach and drop a 3-year-old audit month.
    let action = |kind| Action {
        table: ManagedTable::AuthAuditLog,
        kind,
        reason: "forged".into(),
    };
    let p = Plan {
        now: now(&db.pool).await,
        actions: vec![
            action(ActionKind::Detach {
                name: name.clone(),
                bound,
                est_rows: 0,
                bytes: 0,
            }),
            action(ActionKind::Drop {
                name: name.clone(),
                bound,
                est_rows: 0,
                bytes: 0,
            }),
        ],
        held: Vec::new(),
        notes: Vec::new(),
        table_oids: Vec::new(),
    };
    let results = execute(&db.pool, &Config::default(), &p, &opts("forger"), &quiet)
        .await
        .unwrap();
    assert!(
        matches!(results[1].outcome, Outcome::Skipped(_)),
        "{results:#?}"
    );
    assert!(
        exists(&db.pool, &name).await,
        "a young audit partition was dropped"
    );
}

#[tokio::test]
async fn maintenance_under_continuous_inserts_loses_no_row_and_fails_no_insert() {
    let db = TestDb::migrated().await.unwrap();
    for d in 91..=100 {
        old_session_partition(&db.pool, d).await;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let inserted = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for _ in 0..2 {
        let pool = db.pool.clone();
        let (stop, inserted) = (stop.clone(), inserted.clone());
        writers.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let r = sqlx::query(
                    "INSERT INTO sessions (user_id, expires_at, token_hash) \
                     VALUES (gen_random_uuid(), now() + interval '1 day', md5(random()::text || clock_timestamp()::text))",
                )
                .execute(&pool)
                .await;
                match r {
                    Ok(_) => {
                        inserted.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => failures.push(e.to_string()),
                }
            }
            failures
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let config = Config::default();
    let snapshot = catalog::snapshot(&db.pool, &[ManagedTable::Sessions])
        .await
        .unwrap();
    let p = plan(
        &config,
        &snapshot,
        snapshot.taken_at,
        &PlanOptions {
            tables: vec![ManagedTable::Sessions],
            ahead_days: Some(40),
            ..PlanOptions::maintenance()
        },
    );
    assert!(
        p.actions.iter().any(|a| a.kind.verb() == "drop"),
        "{:?}",
        p.actions
    );
    assert!(
        p.actions.iter().any(|a| a.kind.verb() == "create"),
        "{:?}",
        p.actions
    );
    let results = execute(&db.pool, &config, &p, &opts("maint"), &quiet)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for w in writers {
        failures.extend(w.await.unwrap());
    }
    assert!(failures.is_empty(), "inserts failed: {failures:?}");
    assert!(
        results.iter().all(|r| r.outcome == Outcome::Done),
        "{results:#?}"
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let n = inserted.load(Ordering::Relaxed);
    assert!(n > 20, "the writers ran: {n}");
    assert_eq!(rows as u64, n, "every inserted row is still there");
}

#[tokio::test]
async fn the_policy_table_follows_the_config() {
    let db = TestDb::migrated().await.unwrap();
    let mut config = Config::default();
    let first = policy_sync::sync(&db.pool, &config).await.unwrap();
    assert!(
        first.is_empty(),
        "the shipped config equals the migration's defaults: {first:?}"
    );
    let sessions = config
        .policies
        .iter_mut()
        .find(|p| p.table == ManagedTable::Sessions)
        .unwrap();
    sessions.retention = partitioning::policy::Retention::Days(30);
    sessions.ahead = 3;
    let changed = policy_sync::sync(&db.pool, &config).await.unwrap();
    assert_eq!(changed.len(), 1, "{changed:?}");
    let (retention, ahead): (String, i32) = sqlx::query_as(
        "SELECT retention::text, partitions_ahead FROM partition_policy WHERE table_name = 'sessions'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((retention.as_str(), ahead), ("30 days", 3));
    assert!(
        policy_sync::sync(&db.pool, &config)
            .await
            .unwrap()
            .is_empty(),
        "idempotent"
    );
}

/// A plan that pairs a young partition's name with an old, past-retention bound (a forged or
/// corrupted plan) must not drop it: the executor only trusts a bound its name agrees with.
#[tokio::test]
async fn a_drop_whose_bound_does_not_match_the_partition_name_is_refused() {
    let db = TestDb::migrated().await.unwrap();
    let young = old_session_partition(&db.pool, 3).await;
    let old_day = (now(&db.pool).await - chrono::Duration::days(400)).date_naive();
    let old_bound = period_containing(ManagedTable::Sessions.period(), old_day);
    let action = |kind| Action {
        table: ManagedTable::Sessions,
        kind,
        reason: "forged".into(),
    };
    let p = Plan {
        now: now(&db.pool).await,
        actions: vec![
            action(ActionKind::Detach {
                name: young.clone(),
                bound: old_bound,
                est_rows: 0,
                bytes: 0,
            }),
            action(ActionKind::Drop {
                name: young.clone(),
                bound: old_bound,
                est_rows: 0,
                bytes: 0,
            }),
        ],
        held: Vec::new(),
        notes: Vec::new(),
        table_oids: Vec::new(),
    };
    let results = execute(&db.pool, &Config::default(), &p, &opts("forger"), &quiet)
        .await
        .unwrap();
    let drop = results.iter().find(|r| r.action == "drop").expect("ran");
    assert!(
        matches!(&drop.outcome, Outcome::Skipped(why) if why.contains("not named for the period")),
        "{results:#?}"
    );
    assert!(
        exists(&db.pool, &young).await,
        "a young partition was dropped"
    );
}
