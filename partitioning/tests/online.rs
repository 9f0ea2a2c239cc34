//! Online migrate and rollback of a live table against a real PostgreSQL, with a writer inserting,
//! updating (including moving rows across periods) and deleting throughout: no row lost, no
//! write failed; resuming after a stop at every phase; refusals.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use partitioning::config::Config;
use partitioning::pg::migrate;
use partitioning::pg::online::{self, OnlineError, OnlineOptions, Phase};
use partitioning::pg::testdb::TestDb;
use partitioning::table::ManagedTable;
use sqlx::PgPool;

const SEEDED: i64 = 20_000;

/// A database at 005 (ordinary tables) with `SEEDED` sessions over the last 30 days.
async fn at_005() -> TestDb {
    let db = TestDb::empty().await.unwrap();
    migrate::up_to(&db.pool, 5).await.unwrap();
    sqlx::query(
        "INSERT INTO sessions (user_id, created_at, expires_at, token_hash) \
         SELECT gen_random_uuid(), now() - (n % 30) * interval '1 day' - (n % 997) * interval '1 minute', \
                now() + interval '1 day', md5(n::text || random()::text) \
         FROM generate_series(1, $1) AS n",
    )
    .bind(SEEDED)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE sessions")
        .execute(&db.pool)
        .await
        .unwrap();
    db
}

#[derive(Default)]
struct Tally {
    inserted: HashSet<String>,
    deleted: HashSet<String>,
    updates: u64,
    failures: Vec<String>,
}

/// Writes until `stop`: inserts (some into a period with no partition yet), updates (some moving
/// the row a day back, across partitions) and deletes, like an application would.
fn writer(pool: PgPool, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Tally> {
    tokio::spawn(async move {
        let mut t = Tally::default();
        let mut live: Vec<String> = Vec::new();
        let mut n: u64 = 0;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let age = if n.is_multiple_of(50) {
                "45 days"
            } else {
                "2 hours"
            };
            let r: Result<String, sqlx::Error> = sqlx::query_scalar(
                "INSERT INTO sessions (user_id, created_at, expires_at, token_hash) \
                 VALUES (gen_random_uuid(), now() - $1::interval, now() + interval '1 day', md5(random()::text)) \
                 RETURNING id::text",
            )
            .bind(age)
            .fetch_one(&pool)
            .await;
            match r {
                Ok(id) => {
                    t.inserted.insert(id.clone());
                    live.push(id);
                }
                Err(e) => t.failures.push(format!("insert: {e}")),
            }
            if n.is_multiple_of(3) && !live.is_empty() {
                let id = &live[(n as usize * 7) % live.len()];
                let sql = if n.is_multiple_of(6) {
                    "UPDATE sessions SET created_at = created_at - interval '1 day' WHERE id = $1::uuid"
                } else {
                    "UPDATE sessions SET last_seen_at = created_at + interval '1 minute' WHERE id = $1::uuid"
                };
                match sqlx::query(sql).bind(id).execute(&pool).await {
                    Ok(_) => t.updates += 1,
                    Err(e) => t.failures.push(format!("update: {e}")),
                }
            }
            if n.is_multiple_of(5) && live.len() > 10 {
                let id = live.swap_remove((n as usize * 13) % live.len());
                match sqlx::query("DELETE FROM sessions WHERE id = $1::uuid")
                    .bind(&id)
                    .execute(&pool)
                    .await
                {
                    Ok(_) => {
                        t.deleted.insert(id);
                    }
                    Err(e) => t.failures.push(format!("delete: {e}")),
                }
            }
        }
        t
    })
}

/// Fixed 2,000-row batches: the adaptive size (tested in `online::backfill`, and by the CLI
/// tests at its default) would stretch these tests on a loaded machine.
fn opts() -> OnlineOptions {
    OnlineOptions {
        batch_rows: 2_000,
        batch_target: Duration::ZERO,
        pause: Duration::from_millis(5),
        ..OnlineOptions::default()
    }
}

async fn relkind(pool: &PgPool, name: &str) -> Option<String> {
    sqlx::query_scalar("SELECT relkind::text FROM pg_class WHERE oid = to_regclass($1)")
        .bind(name)
        .fetch_optional(pool)
        .await
        .unwrap()
}

/// Every row the writer left is in `sessions`, none it deleted, and the count adds up.
async fn check_nothing_lost(pool: &PgPool, tally: &Tally) {
    assert!(
        tally.failures.is_empty(),
        "failed writes: {:?}",
        &tally.failures[..tally.failures.len().min(5)]
    );
    assert!(
        tally.inserted.len() > 50 && tally.updates > 10 && !tally.deleted.is_empty(),
        "the writer wrote"
    );
    let ids: Vec<String> = sqlx::query_scalar("SELECT id::text FROM sessions")
        .fetch_all(pool)
        .await
        .unwrap();
    let have: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), have.len(), "no duplicate ids");
    let expected = SEEDED + tally.inserted.len() as i64 - tally.deleted.len() as i64;
    assert_eq!(
        ids.len() as i64,
        expected,
        "rows: seeded + inserted - deleted"
    );
    for id in &tally.inserted {
        assert_eq!(have.contains(id), !tally.deleted.contains(id), "row {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_then_rollback_under_writes_loses_nothing() {
    let db = at_005().await;
    let pool = &db.pool;
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(pool.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(200)).await;

    let report = online::run(
        pool,
        &Config::default(),
        ManagedTable::Sessions,
        true,
        &opts(),
        &|_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(report.phase, Phase::Swapped);
    assert!(report.rows_copied >= SEEDED, "{report:?}");
    assert!(report.periods_verified >= 30, "{report:?}");
    assert_eq!(relkind(pool, "sessions").await.as_deref(), Some("p"));
    assert_eq!(
        relkind(pool, "sessions_before_partitioning")
            .await
            .as_deref(),
        Some("r")
    );
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Already partitioned: refused, nothing changed.
    let again = online::run(
        pool,
        &Config::default(),
        ManagedTable::Sessions,
        true,
        &opts(),
        &|_, _| {},
    )
    .await;
    assert!(
        matches!(again, Err(OnlineError::AlreadyDone(_))),
        "{again:?}"
    );

    let kept = online::finish(pool, ManagedTable::Sessions, true)
        .await
        .unwrap();
    assert_eq!(kept.kept, "sessions_before_partitioning");
    assert_eq!(kept.rows_verified, None);
    assert_eq!(relkind(pool, &kept.kept).await, None);

    let back = online::run(
        pool,
        &Config::default(),
        ManagedTable::Sessions,
        false,
        &opts(),
        &|_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(back.phase, Phase::Swapped);
    assert_eq!(relkind(pool, "sessions").await.as_deref(), Some("r"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let tally = w.await.unwrap();
    check_nothing_lost(pool, &tally).await;
    // The ordinary layout's keys are back under their names.
    let unique: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'sessions_token_hash_key' \
         AND conrelid = 'sessions'::regclass)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(unique);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_stopped_after_each_phase_resumes_and_loses_nothing() {
    let db = at_005().await;
    let pool = &db.pool;
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(pool.clone(), stop.clone());
    for phase in [Phase::Prepared, Phase::Backfilled, Phase::Verified] {
        let o = OnlineOptions {
            stop_after: Some(phase),
            ..opts()
        };
        let r = online::run(
            pool,
            &Config::default(),
            ManagedTable::Sessions,
            true,
            &o,
            &|_, _| {},
        )
        .await
        .unwrap();
        assert_eq!(r.phase, phase);
        assert_eq!(
            relkind(pool, "sessions").await.as_deref(),
            Some("r"),
            "not swapped yet"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // A rollback cannot start while the migration is in progress.
    let other = online::run(
        pool,
        &Config::default(),
        ManagedTable::Sessions,
        false,
        &opts(),
        &|_, _| {},
    )
    .await;
    assert!(
        matches!(
            other,
            Err(OnlineError::Refused(_)) | Err(OnlineError::AlreadyDone(_))
        ),
        "{other:?}"
    );

    let r = online::run(
        pool,
        &Config::default(),
        ManagedTable::Sessions,
        true,
        &opts(),
        &|_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(r.phase, Phase::Swapped);
    tokio::time::sleep(Duration::from_millis(150)).await;
    stop.store(true, Ordering::Relaxed);
    let tally = w.await.unwrap();
    check_nothing_lost(pool, &tally).await;
}

/// The failure CI met: rolling back (the live table partitioned), a backfill batch waits on a row
/// that a concurrent update then moves to another partition; PostgreSQL answers 40001 and the batch
/// must be run again, not the whole rollback abandoned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_meeting_a_row_moved_across_partitions_is_retried() {
    let db = at_005().await;
    let pool = &db.pool;
    let run = |migrate: bool, stop_after: Option<Phase>| {
        let pool = pool.clone();
        async move {
            online::run(
                &pool,
                &Config::default(),
                ManagedTable::Sessions,
                migrate,
                &OnlineOptions {
                    stop_after,
                    ..opts()
                },
                &|_, _| {},
            )
            .await
        }
    };
    run(true, None).await.unwrap();
    online::finish(pool, ManagedTable::Sessions, true)
        .await
        .unwrap();
    let r = run(false, Some(Phase::Prepared)).await.unwrap();
    assert_eq!(r.phase, Phase::Prepared);

    // Another session moves the first row of the first batch a day on, and holds its lock.
    let mut mover = pool.begin().await.unwrap();
    let moved: String = sqlx::query_scalar(
        "UPDATE sessions SET created_at = created_at + interval '1 day' \
         WHERE id = (SELECT id FROM sessions ORDER BY created_at, id LIMIT 1) RETURNING id::text",
    )
    .fetch_one(&mut *mover)
    .await
    .unwrap();
    let resumed = tokio::spawn(run(false, None));
    // The batch waits on that row's lock (FOR SHARE) ...
    let mut waited = false;
    for _ in 0..200 {
        waited = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
             AND query LIKE '%FOR SHARE%')",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if waited {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(waited, "the backfill batch never waited on the moved row");
    // ... and meets a row moved to another partition when the mover commits.
    mover.commit().await.unwrap();
    let r = resumed.await.unwrap().unwrap();
    assert_eq!(r.phase, Phase::Swapped);
    assert_eq!(relkind(pool, "sessions").await.as_deref(), Some("r"));
    let (rows, found): (i64, bool) =
        sqlx::query_as("SELECT count(*), bool_or(id::text = $1) FROM sessions")
            .bind(&moved)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(rows, SEEDED);
    assert!(found, "the moved row is in the ordinary table");
}

#[tokio::test]
async fn refusals_change_nothing() {
    let db = TestDb::migrated().await.unwrap();
    let r = online::run(
        &db.pool,
        &Config::default(),
        ManagedTable::Sessions,
        true,
        &opts(),
        &|_, _| {},
    )
    .await;
    assert!(
        matches!(&r, Err(OnlineError::AlreadyDone(m)) if m.contains("already partitioned")),
        "{r:?}"
    );

    let db = at_005().await;
    sqlx::query(
        "INSERT INTO sessions (user_id, created_at, expires_at, token_hash) \
         VALUES (gen_random_uuid(), '-infinity', now(), md5('x'))",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let r = online::run(
        &db.pool,
        &Config::default(),
        ManagedTable::Sessions,
        true,
        &opts(),
        &|_, _| {},
    )
    .await;
    assert!(
        matches!(&r, Err(OnlineError::Refused(m)) if m.contains("infinity")),
        "{r:?}"
    );
    assert_eq!(relkind(&db.pool, "sessions_partitioned_new").await, None);
    let finish = online::finish(&db.pool, ManagedTable::Sessions, true).await;
    assert!(matches!(finish, Err(OnlineError::Refused(_))), "{finish:?}");
}
