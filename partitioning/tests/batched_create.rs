//! Batched creation (`rustcare_create_partitions`, migration 013, used by the executor for runs of
//! creates): every partition made is attached with its own bounds and logged once; a batch killed
//! before its commit leaves nothing behind and the next run creates it all; a stray table in the
//! middle of a run fails that one partition only (the executor falls back to one at a time).

use std::time::Duration;

use chrono::{Days, NaiveDate, Utc};
use partitioning::calendar::{for_values, partition_name, PartitionBound};
use partitioning::config::Config;
use partitioning::pg::executor::{execute, ActionResult, ExecOptions, Outcome};
use partitioning::pg::testdb::TestDb;
use partitioning::planner::{Action, ActionKind, Plan};
use partitioning::table::ManagedTable;
use sqlx::{Connection, PgPool};

const TABLE: ManagedTable = ManagedTable::Sessions;

async fn today(pool: &PgPool) -> NaiveDate {
    sqlx::query_scalar("SELECT (now() AT TIME ZONE 'UTC')::date")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// `n` daily bounds, oldest first, ending `from_days_ago` days before today.
fn days_back(today: NaiveDate, from_days_ago: u64, n: u64) -> Vec<PartitionBound> {
    (0..n)
        .rev()
        .map(|k| {
            let d = today - Days::new(from_days_ago + k);
            PartitionBound::from_dates(d, d + Days::new(1))
        })
        .collect()
}

fn create_plan(bounds: &[PartitionBound]) -> Plan {
    Plan {
        now: Utc::now(),
        actions: bounds
            .iter()
            .map(|b| Action {
                table: TABLE,
                kind: ActionKind::Create {
                    name: partition_name(TABLE, b),
                    bound: *b,
                },
                reason: "test: create".into(),
            })
            .collect(),
        held: Vec::new(),
        notes: Vec::new(),
        table_oids: Vec::new(),
    }
}

async fn run(pool: &PgPool, bounds: &[PartitionBound]) -> Vec<ActionResult> {
    let opts = ExecOptions {
        actor: "test:batch".into(),
        lock_timeout: Duration::from_millis(500),
        attempts: 2,
    };
    execute(
        pool,
        &Config::default(),
        &create_plan(bounds),
        &opts,
        &|_| {},
    )
    .await
    .unwrap()
}

/// The bound PostgreSQL reports for `name` if it is attached to sessions, else `None`.
async fn attached_bound(pool: &PgPool, name: &str) -> Option<String> {
    sqlx::query_scalar(
        "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c \
         ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass AND c.relname = $1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await
    .unwrap()
}

/// (outcome, actor) of every `create` row logged for `name`, oldest first.
async fn create_log(pool: &PgPool, name: &str) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT outcome, actor FROM partition_action_log \
         WHERE action = 'create' AND partition_name = $1 ORDER BY id",
    )
    .bind(name)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_run_of_creates_is_made_in_batches_each_partition_attached_and_logged_once() {
    let db = TestDb::migrated().await.unwrap();
    let today = today(&db.pool).await;
    // More than one batch (16) and a remainder.
    let bounds = days_back(today, 400, 37);
    let results = run(&db.pool, &bounds).await;
    assert_eq!(results.len(), bounds.len());
    for (b, r) in bounds.iter().zip(&results) {
        let name = partition_name(TABLE, b);
        assert_eq!(r.partition, name);
        assert_eq!(r.outcome, Outcome::Done, "{name}: {:?}", r.outcome);
        assert_eq!(attached_bound(&db.pool, &name).await, Some(for_values(b)));
        assert_eq!(
            create_log(&db.pool, &name).await,
            vec![("ok".to_string(), "test:batch".to_string())],
            "{name} must be logged once, as created by this run's actor"
        );
    }
    // The batched path really ran (the single path's detail says CHECK).
    let batched: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM partition_action_log WHERE action = 'create' AND detail LIKE '%batched%'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(batched, bounds.len() as i64);

    // Again: nothing to make; each is reported already done and logged as skipped, not created.
    let again = run(&db.pool, &bounds).await;
    assert!(again.iter().all(|r| r.outcome == Outcome::AlreadyDone));
    let name = partition_name(TABLE, &bounds[5]);
    let log = create_log(&db.pool, &name).await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].0, "skipped");
}

#[tokio::test]
async fn a_batch_killed_before_its_commit_leaves_nothing_and_the_next_run_creates_it() {
    let db = TestDb::migrated().await.unwrap();
    let today = today(&db.pool).await;
    let bounds = days_back(today, 300, 6);
    let days: Vec<NaiveDate> = bounds.iter().map(|b| b.lower.date_naive()).collect();

    // A session runs the batch and dies before it commits (as under kill -9 of the client: the
    // server ends the backend and rolls back).
    let mut victim = sqlx::PgConnection::connect_with(&db.pool.connect_options())
        .await
        .unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut victim)
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN").execute(&mut victim).await.unwrap();
    let made: Vec<Option<String>> =
        sqlx::query_scalar("SELECT rustcare_create_partitions('sessions', $1::date[])")
            .bind(&days)
            .fetch_one(&mut victim)
            .await
            .unwrap();
    assert!(made.iter().all(Option::is_some));
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1, 5000)")
        .bind(pid)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(killed);
    drop(victim);

    for b in &bounds {
        let name = partition_name(TABLE, b);
        assert_eq!(
            attached_bound(&db.pool, &name).await,
            None,
            "{name} survived"
        );
        let stray: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(&name)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert!(!stray, "{name} left behind as a table");
        assert!(create_log(&db.pool, &name).await.is_empty());
    }

    let results = run(&db.pool, &bounds).await;
    for (b, r) in bounds.iter().zip(&results) {
        let name = partition_name(TABLE, b);
        assert_eq!(r.outcome, Outcome::Done);
        assert_eq!(attached_bound(&db.pool, &name).await, Some(for_values(b)));
        assert_eq!(create_log(&db.pool, &name).await.len(), 1);
    }
}

#[tokio::test]
async fn a_stray_table_in_a_run_fails_its_own_partition_and_the_others_are_made() {
    let db = TestDb::migrated().await.unwrap();
    let today = today(&db.pool).await;
    let bounds = days_back(today, 200, 5);
    let stray = partition_name(TABLE, &bounds[2]);
    sqlx::raw_sql(&format!("CREATE TABLE {stray} (id int)"))
        .execute(&db.pool)
        .await
        .unwrap();

    let results = run(&db.pool, &bounds).await;
    for (i, (b, r)) in bounds.iter().zip(&results).enumerate() {
        let name = partition_name(TABLE, b);
        if i == 2 {
            match &r.outcome {
                Outcome::Failed(why) => assert!(why.contains("is not a partition"), "{why}"),
                other => panic!("{name}: expected a failure, got {other:?}"),
            }
            assert_eq!(attached_bound(&db.pool, &name).await, None);
            let log = create_log(&db.pool, &name).await;
            assert_eq!(log.len(), 1);
            assert_eq!(log[0].0, "error");
        } else {
            assert_eq!(r.outcome, Outcome::Done, "{name}");
            assert_eq!(attached_bound(&db.pool, &name).await, Some(for_values(b)));
            assert_eq!(create_log(&db.pool, &name).await.len(), 1, "{name}");
        }
    }
}
