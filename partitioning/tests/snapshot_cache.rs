//! The console's snapshot cache against a real PostgreSQL: an unchanged catalog is served from
//! the cache, and every change to a table's partition set (create, attach, the pending step of a
//! concurrent detach, finalize, drop) is seen on the very next call; what the signature cannot see
//! (row estimates after ANALYZE) shows once the entry is older than its age.
#![cfg(feature = "postgres")]

use std::sync::Arc;
use std::time::Duration;

use partitioning::catalog::CatalogSnapshot;
use partitioning::pg::catalog::{Detail, SnapshotCache};
use partitioning::pg::testdb::TestDb;
use partitioning::table::ManagedTable;
use sqlx::PgPool;

async fn sql(pool: &PgPool, text: &str) {
    sqlx::raw_sql(text).execute(pool).await.unwrap();
}

async fn sessions(cache: &SnapshotCache, pool: &PgPool) -> Arc<CatalogSnapshot> {
    cache
        .get(pool, &[ManagedTable::Sessions], Detail::Plan)
        .await
        .unwrap()
}

fn names(s: &CatalogSnapshot) -> Vec<String> {
    let t = s.table(ManagedTable::Sessions).unwrap();
    t.partitions.iter().map(|p| p.name.clone()).collect()
}

fn pending(s: &CatalogSnapshot, name: &str) -> bool {
    let t = s.table(ManagedTable::Sessions).unwrap();
    t.partitions
        .iter()
        .find(|p| p.name == name)
        .is_some_and(|p| p.detach_pending)
}

#[tokio::test]
async fn every_change_of_the_partition_set_is_seen_on_the_next_call() {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    let cache = SnapshotCache::new(Duration::from_secs(3600));
    let first = sessions(&cache, pool).await;
    let again = sessions(&cache, pool).await;
    assert!(
        Arc::ptr_eq(&first, &again),
        "an unchanged catalog is served from the cache"
    );
    // Another key (all tables, full detail) is its own entry, and holds the same partitions.
    let all = cache.get(pool, &[], Detail::Full).await.unwrap();
    assert!(!Arc::ptr_eq(&first, &all));
    assert_eq!(names(&all), names(&first));

    // CREATE ... PARTITION OF.
    sql(
        pool,
        "CREATE TABLE sessions_2019_01_01 PARTITION OF sessions \
         FOR VALUES FROM ('2019-01-01 00:00:00+00') TO ('2019-01-02 00:00:00+00')",
    )
    .await;
    let created = sessions(&cache, pool).await;
    assert!(names(&created).contains(&"sessions_2019_01_01".to_string()));

    // LIKE + ATTACH, as the executor creates.
    sql(
        pool,
        "CREATE TABLE sessions_2019_01_02 (LIKE sessions INCLUDING ALL); \
         ALTER TABLE sessions ATTACH PARTITION sessions_2019_01_02 \
         FOR VALUES FROM ('2019-01-02 00:00:00+00') TO ('2019-01-03 00:00:00+00')",
    )
    .await;
    let attached = sessions(&cache, pool).await;
    assert!(names(&attached).contains(&"sessions_2019_01_02".to_string()));
    assert!(!pending(&attached, "sessions_2019_01_01"));

    // DETACH CONCURRENTLY's first step, then FINALIZE, then DROP: each seen at once. A reader
    // holding the partition makes the detach wait in its second step, where a statement timeout
    // interrupts it: exactly the pending state a killed run leaves.
    let mut reader = pool.begin().await.unwrap();
    sqlx::query("SELECT count(*) FROM sessions_2019_01_01")
        .execute(&mut *reader)
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    sqlx::raw_sql("SET statement_timeout = '700ms'")
        .execute(&mut *conn)
        .await
        .unwrap();
    let err =
        sqlx::raw_sql("ALTER TABLE sessions DETACH PARTITION sessions_2019_01_01 CONCURRENTLY")
            .execute(&mut *conn)
            .await
            .unwrap_err();
    assert!(err.to_string().contains("statement timeout"), "{err}");
    reader.rollback().await.unwrap();
    drop(conn);
    let half = sessions(&cache, pool).await;
    assert!(pending(&half, "sessions_2019_01_01"), "pending detach seen");

    sql(
        pool,
        "ALTER TABLE sessions DETACH PARTITION sessions_2019_01_01 FINALIZE",
    )
    .await;
    let finalized = sessions(&cache, pool).await;
    assert!(!names(&finalized).contains(&"sessions_2019_01_01".to_string()));

    sql(pool, "DROP TABLE sessions_2019_01_02").await;
    let dropped = sessions(&cache, pool).await;
    assert!(!names(&dropped).contains(&"sessions_2019_01_02".to_string()));
    assert_eq!(names(&dropped), names(&first), "back where it started");
}

#[tokio::test]
async fn what_the_signature_cannot_see_shows_once_the_entry_is_old_enough() {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    let today: String =
        sqlx::query_scalar("SELECT 'sessions_' || to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM_DD')")
            .fetch_one(pool)
            .await
            .unwrap();
    let estimate = |s: &CatalogSnapshot| {
        let t = s.table(ManagedTable::Sessions).unwrap();
        t.partitions
            .iter()
            .find(|p| p.name == today)
            .map(|p| p.est_rows)
            .unwrap()
    };
    let long = SnapshotCache::new(Duration::from_secs(3600));
    let short = SnapshotCache::new(Duration::from_millis(200));
    let (before_long, before_short) = (sessions(&long, pool).await, sessions(&short, pool).await);
    assert_eq!(estimate(&before_long), 0);
    sql(
        pool,
        "INSERT INTO sessions (user_id, created_at, expires_at, token_hash) \
         SELECT gen_random_uuid(), now(), now() + interval '1 day', md5(n::text) \
         FROM generate_series(1, 500) AS n; ANALYZE sessions",
    )
    .await;
    // Same partition set: the long-lived entry still answers, with its old estimate ...
    assert_eq!(estimate(&*sessions(&long, pool).await), 0);
    // ... while an entry past its age is read again.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let after_short = sessions(&short, pool).await;
    assert!(!Arc::ptr_eq(&before_short, &after_short));
    assert_eq!(estimate(&after_short), 500);
}
