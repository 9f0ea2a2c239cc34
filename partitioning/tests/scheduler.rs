//! The console's scheduler and the pg_cron jobs against a real PostgreSQL: one run per slot across
//! consoles, creation under the executor, cleanup that never drops an approval table, the history
//! and audit rows; `cron install|remove|status` idempotence and the guide's jobs running in the
//! embedded cluster.

use chrono::{DateTime, Duration, Utc};
use partitioning::config::Config;
use partitioning::pg::testdb::TestDb;
use partitioning::pg::{cron, pool_for, scheduler};
use partitioning::schedule::Job;
use sqlx::PgPool;

async fn exists(pool: &PgPool, name: &str) -> bool {
    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn server_now(pool: &PgPool) -> DateTime<Utc> {
    sqlx::query_scalar("SELECT now()")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The name of the sessions partition `days` from today (UTC).
fn sessions_partition(now: DateTime<Utc>, days: i64) -> String {
    format!(
        "sessions_{}",
        (now + Duration::days(days)).format("%Y_%m_%d")
    )
}

#[tokio::test]
async fn two_consoles_run_a_create_slot_once_and_it_is_recorded() {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    let now = server_now(pool).await;
    let victim = sessions_partition(now, 3);
    assert!(exists(pool, &victim).await, "006 made the window ahead");
    sqlx::raw_sql(&format!(
        "ALTER TABLE sessions DETACH PARTITION {victim}; DROP TABLE {victim}"
    ))
    .execute(pool)
    .await
    .unwrap();

    let config = Config::default();
    let slot = Utc::now() - Duration::minutes(5);
    let (a, b) = tokio::join!(
        scheduler::run_slot(pool, &config, Job::Create, slot),
        scheduler::run_slot(pool, &config, Job::Create, slot)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let ran: Vec<_> = [a, b].into_iter().flatten().collect();
    assert_eq!(ran.len(), 1, "exactly one console runs the slot: {ran:?}");
    let run = &ran[0];
    assert_eq!(run.outcome, "ok", "{run:?}");
    assert!(run.actions >= 1, "{run:?}");
    assert!(run.finished_at.is_some());
    assert!(
        exists(pool, &victim).await,
        "the scheduler re-created {victim}"
    );

    // Running the same slot again (a restart, a third console) does nothing.
    let again = scheduler::run_slot(pool, &config, Job::Create, slot)
        .await
        .unwrap();
    assert!(again.is_none());
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM scheduler_runs WHERE job = 'create'")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(runs, 1);

    let actor: String = sqlx::query_scalar(
        "SELECT actor FROM partition_action_log WHERE partition_name = $1 AND action = 'create' \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(&victim)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(actor, scheduler::ACTOR);
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_trail WHERE action = 'scheduler_run' AND actor = 'scheduler' \
         AND subject = 'job:create' AND (detail->>'run')::bigint = $1",
    )
    .bind(run.id)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    let last = scheduler::last_run(pool, Job::Create).await.unwrap();
    assert_eq!(last.as_ref().map(|r| r.id), Some(run.id));
    assert_eq!(scheduler::history(pool, 10).await.unwrap().len(), 1);

    // The next slot finds the window whole: the quick check says so without the full catalog.
    let next = scheduler::run_slot(pool, &config, Job::Create, slot + Duration::minutes(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (next.outcome.as_str(), next.detail.as_str(), next.actions),
        ("ok", "nothing due (quick check)", 0)
    );
}

#[tokio::test]
async fn scheduled_cleanup_drops_auto_tables_and_holds_the_audit_log() {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    // An audit month 8 years old (past the 7-year retention) and a sessions day 200 days old.
    sqlx::raw_sql(
        "SELECT create_audit_log_partition((now() - interval '8 years')::date); \
         SELECT create_sessions_partition((now() - interval '200 days')::date);",
    )
    .execute(pool)
    .await
    .unwrap();
    let now = server_now(pool).await;
    let old_sessions = sessions_partition(now, -200);
    assert!(exists(pool, &old_sessions).await);
    let audit_months: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'auth_audit_log'::regclass",
    )
    .fetch_one(pool)
    .await
    .unwrap();

    let run = scheduler::run_slot(pool, &Config::default(), Job::Cleanup, Utc::now())
        .await
        .unwrap()
        .expect("the slot was free");
    assert_eq!(run.outcome, "ok", "{run:?}");
    assert!(
        !exists(pool, &old_sessions).await,
        "sessions past retention dropped"
    );
    let after: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'auth_audit_log'::regclass",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(after, audit_months, "no audit partition dropped");
    assert!(
        run.detail.contains("held for a two-person approval")
            && run.detail.contains("auth_audit_log"),
        "the run says the audit log waits for approval: {}",
        run.detail
    );
    let requested: Vec<String> = sqlx::query_scalar(
        "SELECT requested_by FROM cleanup_requests WHERE state = 'pending' AND 'auth_audit_log' = ANY (tables)",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(requested, [scheduler::ACTOR], "{}", run.detail);
    assert!(run.detail.contains("cleanup request #"), "{}", run.detail);
}

/// pg_cron runs in the cluster's `rustcare` database (`cron.database_name`); the test cluster
/// needs it to exist for the launcher to start.
async fn cron_database(db: &TestDb) {
    let admin = pool_for(&db.admin_url()).await.unwrap();
    let has: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'rustcare')")
            .fetch_one(&admin)
            .await
            .unwrap();
    if !has {
        // Another test may create it at the same moment.
        let _ = sqlx::query("CREATE DATABASE rustcare")
            .execute(&admin)
            .await;
    }
    admin.close().await;
}

#[tokio::test]
async fn cron_install_is_idempotent_and_remove_takes_only_our_jobs() {
    let db = TestDb::migrated().await.unwrap();
    cron_database(&db).await;
    let pool = &db.pool;
    let (setup, before) = cron::status(pool).await.unwrap();
    assert_eq!(setup.cron_database, "rustcare");
    assert!(!setup.local());
    assert!(before.iter().all(|j| j.installed.is_none()));

    let (setup, first) = cron::install(pool).await.unwrap();
    let names: Vec<&str> = first.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(
        names,
        [
            format!("create-partitions@{}", db.name),
            format!("drop-old-partitions@{}", db.name)
        ]
    );
    assert!(
        first.iter().all(|j| j.matches(&setup.database)),
        "{first:?}"
    );
    let (_, second) = cron::install(pool).await.unwrap();
    let ids = |jobs: &[cron::CronJob]| -> Vec<i64> {
        jobs.iter()
            .map(|j| j.installed.as_ref().unwrap().jobid)
            .collect()
    };
    assert_eq!(
        ids(&first),
        ids(&second),
        "installing twice keeps the same jobs"
    );
    let guide: Vec<(String, String)> = second
        .iter()
        .map(|j| {
            let i = j.installed.as_ref().unwrap();
            (i.schedule.clone(), i.command.clone())
        })
        .collect();
    assert_eq!(
        guide,
        [
            (
                "0 1 * * *".into(),
                "SELECT create_partitions_if_needed();".into()
            ),
            ("0 2 * * 0".into(), "SELECT drop_old_partitions();".into())
        ]
    );

    let (_, removed) = cron::remove(pool).await.unwrap();
    assert_eq!(removed, 2);
    let (_, removed) = cron::remove(pool).await.unwrap();
    assert_eq!(removed, 0);
    let (_, after) = cron::status(pool).await.unwrap();
    assert!(after.iter().all(|j| j.installed.is_none()));
}

/// pg_cron (1.4 here: whole minutes only) really runs create_partitions_if_needed() in the
/// embedded cluster. It waits for pg_cron's next whole minute (up to ~70 s, mostly asleep, so
/// other tests run meanwhile). The test cluster must have been started with pg_cron's settings:
/// after upgrading from a build without them, `RUSTCARE_DATA_DIR=.data/test rustcare-partitions db stop`.
#[tokio::test]
async fn pg_cron_runs_the_creation_function_in_the_embedded_cluster() {
    let db = TestDb::migrated().await.unwrap();
    cron_database(&db).await;
    let pool = &db.pool;
    let now = server_now(pool).await;
    let victim = sessions_partition(now, 2);
    sqlx::raw_sql(&format!(
        "ALTER TABLE sessions DETACH PARTITION {victim}; DROP TABLE {victim}"
    ))
    .execute(pool)
    .await
    .unwrap();
    cron::install(pool).await.unwrap();
    let cron_pool = pool_for(&db.admin_url().replace("/postgres", "/rustcare"))
        .await
        .unwrap();
    let name = format!("every-minute@{}", db.name);
    let jobid: i64 = sqlx::query_scalar(
        "SELECT cron.schedule_in_database($1, '* * * * *', 'SELECT create_partitions_if_needed();', $2)",
    )
    .bind(&name)
    .bind(&db.name)
    .fetch_one(&cron_pool)
    .await
    .unwrap();
    let mut status: Option<String> = None;
    for _ in 0..90 {
        status = sqlx::query_scalar(
            "SELECT status FROM cron.job_run_details WHERE jobid = $1 AND status IN ('succeeded', 'failed') \
             ORDER BY runid DESC LIMIT 1",
        )
        .bind(jobid)
        .fetch_optional(&cron_pool)
        .await
        .unwrap();
        if status.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    sqlx::query("SELECT cron.unschedule($1::bigint)")
        .bind(jobid)
        .execute(&cron_pool)
        .await
        .unwrap();
    cron::remove(pool).await.unwrap();
    assert_eq!(status.as_deref(), Some("succeeded"));
    assert!(
        exists(pool, &victim).await,
        "pg_cron's run re-created {victim}"
    );
}
