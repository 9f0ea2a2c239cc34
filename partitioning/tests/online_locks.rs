//! The online swap's locks against a real PostgreSQL: when something holds SHARE UPDATE EXCLUSIVE
//! on a partition (what autovacuum and ANALYZE hold, for seconds), the swap waits for it holding
//! nothing that stops the application's reads and writes, then swaps.
#![cfg(feature = "postgres")]

use std::time::Duration;

use partitioning::config::Config;
use partitioning::pg::migrate;
use partitioning::pg::online::{self, OnlineOptions, Phase};
use partitioning::pg::testdb::TestDb;
use partitioning::table::ManagedTable;
use sqlx::PgPool;

async fn run(pool: &PgPool, opts: OnlineOptions) -> Phase {
    online::run(
        pool,
        &Config::default(),
        ManagedTable::Sessions,
        true,
        &opts,
        &|_, _| {},
    )
    .await
    .unwrap()
    .phase
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_swap_waits_for_a_vacuum_of_the_copy_without_holding_up_writes() {
    let db = TestDb::empty().await.unwrap();
    migrate::up_to(&db.pool, 5).await.unwrap();
    let pool = &db.pool;
    sqlx::query(
        "INSERT INTO sessions (user_id, created_at, expires_at, token_hash) \
         SELECT gen_random_uuid(), now() - (n % 20) * interval '1 day', now() + interval '1 day', \
                md5(n::text) FROM generate_series(1, 2000) AS n",
    )
    .execute(pool)
    .await
    .unwrap();
    let verified = OnlineOptions {
        stop_after: Some(Phase::Verified),
        ..OnlineOptions::default()
    };
    assert_eq!(run(pool, verified).await, Phase::Verified);

    // What autovacuum holds on a partition of the copy while it works on it.
    let part: String = sqlx::query_scalar(
        "SELECT c.oid::regclass::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'sessions_partitioned_new'::regclass ORDER BY c.relname DESC LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let mut vacuum = pool.begin().await.unwrap();
    sqlx::query(&format!("LOCK TABLE {part} IN SHARE UPDATE EXCLUSIVE MODE"))
        .execute(&mut *vacuum)
        .await
        .unwrap();

    // The swap, with a lock_timeout long enough to be caught waiting.
    let swap = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let opts = OnlineOptions {
                lock_timeout: Duration::from_secs(3),
                ..OnlineOptions::default()
            };
            run(&pool, opts).await
        })
    };
    let mut waiting = false;
    for _ in 0..200 {
        waiting = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted AND relation = $1::regclass)",
        )
        .bind(&part)
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(waiting, "the swap never waited on the vacuumed partition");

    // While it waits, nothing it holds stops a write: no lock on the live table stronger than
    // SHARE UPDATE EXCLUSIVE, and an insert goes through (a blocked one would hit the timeout).
    let strong: Vec<String> = sqlx::query_scalar(
        "SELECT mode FROM pg_locks WHERE granted AND relation = 'sessions'::regclass \
         AND mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(
        strong.is_empty(),
        "the waiting swap holds {strong:?} on sessions"
    );
    let mut writer = pool.acquire().await.unwrap();
    sqlx::raw_sql("SET statement_timeout = '2s'")
        .execute(&mut *writer)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO sessions (user_id, created_at, expires_at, token_hash) \
         VALUES (gen_random_uuid(), now(), now() + interval '1 day', md5('during the wait'))",
    )
    .execute(&mut *writer)
    .await
    .expect("a write while the swap waits for the vacuum");
    drop(writer);

    // The vacuum ends; the swap goes through, and the write made meanwhile is in the table.
    vacuum.rollback().await.unwrap();
    assert_eq!(swap.await.unwrap(), Phase::Swapped);
    let (relkind, rows, written): (String, i64, bool) = sqlx::query_as(
        "SELECT (SELECT relkind::text FROM pg_class WHERE oid = 'sessions'::regclass), count(*), \
                bool_or(token_hash = md5('during the wait')) FROM sessions",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!((relkind.as_str(), rows, written), ("p", 2001, true));
}
