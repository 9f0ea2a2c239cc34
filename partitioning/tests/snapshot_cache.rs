//! The console's snapshot cache against a real PostgreSQL: an unchanged catalog is served from
//! the cache, and every change to a table's partition set (create, attach, the pending step of a
//! concurrent detach, finalize, drop) is seen on the very next call; what the signature cannot see
//! (row estimates after ANALYZE) shows once the entry is older than its age. The warmer reads a
//! change, or an entry nearing its age, before the next request asks, for keys asked for recently.
#![cfg(feature = "postgres")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use partitioning::catalog::CatalogSnapshot;
use partitioning::catalog::PartitionInfo;
use partitioning::pg::catalog::{snapshot_with, Detail, SnapshotCache};
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

/// What a snapshot says of the partition set, without the sizes and statistics a patched entry
/// keeps from before (an autovacuum in between may change those).
fn shape(s: &CatalogSnapshot) -> Vec<String> {
    let line = |kind: &str, p: &PartitionInfo| {
        format!(
            "{kind} {} {} {:?} {} pending={} ts={:?} sealed={}",
            p.name, p.oid, p.bound, p.raw_bound, p.detach_pending, p.tablespace, p.sealed
        )
    };
    let mut out = Vec::new();
    for t in &s.tables {
        out.push(format!("{} {} {}", t.table.name(), t.oid, t.is_partitioned));
        out.extend(t.partitions.iter().map(|p| line("part", p)));
        out.extend(t.default_partition.iter().map(|p| line("default", p)));
        out.extend(t.detached.iter().map(|p| line("detached", p)));
    }
    out
}

/// The cache's answer after a change says what a fresh snapshot says, and came from a patch.
async fn patched_as_fresh(
    cache: &SnapshotCache,
    pool: &PgPool,
    step: &str,
) -> Arc<CatalogSnapshot> {
    let before = cache.stats().patched;
    let cached = sessions(cache, pool).await;
    let fresh = snapshot_with(pool, &[ManagedTable::Sessions], Detail::Plan)
        .await
        .unwrap();
    assert_eq!(shape(&cached), shape(&fresh), "after {step}");
    assert_eq!(
        cache.stats().patched,
        before + 1,
        "{step}: patched, not read whole"
    );
    cached
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
    let created = patched_as_fresh(&cache, pool, "CREATE ... PARTITION OF").await;
    assert!(names(&created).contains(&"sessions_2019_01_01".to_string()));

    // LIKE + ATTACH, as the executor creates.
    sql(
        pool,
        "CREATE TABLE sessions_2019_01_02 (LIKE sessions INCLUDING ALL); \
         ALTER TABLE sessions ATTACH PARTITION sessions_2019_01_02 \
         FOR VALUES FROM ('2019-01-02 00:00:00+00') TO ('2019-01-03 00:00:00+00')",
    )
    .await;
    let attached = patched_as_fresh(&cache, pool, "LIKE + ATTACH").await;
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
    let half = patched_as_fresh(&cache, pool, "DETACH CONCURRENTLY, interrupted").await;
    assert!(pending(&half, "sessions_2019_01_01"), "pending detach seen");

    sql(
        pool,
        "ALTER TABLE sessions DETACH PARTITION sessions_2019_01_01 FINALIZE",
    )
    .await;
    let finalized = patched_as_fresh(&cache, pool, "DETACH ... FINALIZE").await;
    assert!(!names(&finalized).contains(&"sessions_2019_01_01".to_string()));
    // The detached table stays behind: a leftover, as a whole snapshot lists it.
    let leftovers = &finalized.table(ManagedTable::Sessions).unwrap().detached;
    assert!(leftovers.iter().any(|p| p.name == "sessions_2019_01_01"));

    // A default partition, and the leftover attached again.
    sql(
        pool,
        "CREATE TABLE sessions_default PARTITION OF sessions DEFAULT",
    )
    .await;
    let with_default = patched_as_fresh(&cache, pool, "CREATE ... DEFAULT").await;
    assert!(with_default
        .table(ManagedTable::Sessions)
        .unwrap()
        .default_partition
        .is_some());
    sql(
        pool,
        "ALTER TABLE sessions ATTACH PARTITION sessions_2019_01_01 \
         FOR VALUES FROM ('2019-01-01 00:00:00+00') TO ('2019-01-02 00:00:00+00')",
    )
    .await;
    let reattached = patched_as_fresh(&cache, pool, "ATTACH of the leftover").await;
    assert!(names(&reattached).contains(&"sessions_2019_01_01".to_string()));
    assert!(reattached
        .table(ManagedTable::Sessions)
        .unwrap()
        .detached
        .is_empty());

    sql(
        pool,
        "DROP TABLE sessions_2019_01_01; DROP TABLE sessions_2019_01_02; DROP TABLE sessions_default",
    )
    .await;
    let dropped = patched_as_fresh(&cache, pool, "DROP").await;
    assert!(!names(&dropped).contains(&"sessions_2019_01_02".to_string()));
    assert_eq!(names(&dropped), names(&first), "back where it started");
    assert_eq!(shape(&dropped), shape(&first), "back where it started");

    // The table made again: a patch cannot say that, so the entry is read whole.
    let patched = cache.stats().patched;
    sql(
        pool,
        "ALTER TABLE sessions RENAME TO sessions_old; \
         CREATE TABLE sessions (LIKE sessions_old INCLUDING ALL) PARTITION BY RANGE (created_at)",
    )
    .await;
    let remade = sessions(&cache, pool).await;
    assert_eq!(cache.stats().patched, patched, "a new parent is read whole");
    assert!(names(&remade).is_empty());
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

/// Polls `done` every 20 ms for up to 5 s.
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const CREATE_2019_01_01: &str = "CREATE TABLE sessions_2019_01_01 PARTITION OF sessions \
     FOR VALUES FROM ('2019-01-01 00:00:00+00') TO ('2019-01-02 00:00:00+00')";

#[tokio::test]
async fn the_warmer_reads_a_change_before_the_next_request_asks() {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    let cache = Arc::new(SnapshotCache::new(Duration::from_secs(3600)));
    // The same requests on a cache without a warmer: what a request pays otherwise.
    let plain = SnapshotCache::new(Duration::from_secs(3600));
    let first = sessions(&cache, pool).await;
    sessions(&plain, pool).await;
    let warmer = SnapshotCache::spawn_warmer(&cache, pool.clone(), Duration::from_millis(50))
        .expect("a tokio runtime");
    // Nothing changed and the entry is young: passes go by without reading anything.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(cache.stats().refreshed, 0, "{:?}", cache.stats());

    sql(pool, CREATE_2019_01_01).await;
    wait_until("the warmer read the change", || {
        cache.stats().refreshed >= 1
    })
    .await;
    let before = cache.stats();
    let after = sessions(&cache, pool).await;
    let stats = cache.stats();
    assert_eq!(
        stats.misses, before.misses,
        "no snapshot read by the request"
    );
    assert_eq!(stats.hits, before.hits + 1, "{stats:?}");
    assert!(!Arc::ptr_eq(&first, &after));
    assert!(names(&after).contains(&"sessions_2019_01_01".to_string()));

    let before = plain.stats();
    let cold = sessions(&plain, pool).await;
    assert_eq!(
        plain.stats().misses,
        before.misses + 1,
        "without a warmer: a miss"
    );
    assert_eq!(names(&cold), names(&after));

    // The task holds the cache weakly: it ends once the cache is dropped.
    drop(cache);
    tokio::time::timeout(Duration::from_secs(2), warmer)
        .await
        .expect("the warmer ends with its cache")
        .unwrap();
}

#[tokio::test]
async fn an_entry_asked_for_is_read_again_before_it_is_too_old_to_serve() {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    // Served up to 1.2 s old; read again once 0.5 s old.
    let cache = Arc::new(
        SnapshotCache::new(Duration::from_millis(1200))
            .keep_warm(Duration::from_secs(600), Duration::from_millis(700)),
    );
    let first = sessions(&cache, pool).await;
    let _warmer = SnapshotCache::spawn_warmer(&cache, pool.clone(), Duration::from_millis(50));
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let later = sessions(&cache, pool).await;
    let stats = cache.stats();
    assert_eq!((stats.misses, stats.hits), (1, 1), "{stats:?}");
    assert!(stats.refreshed >= 2, "{stats:?}");
    assert!(
        later.taken_at > first.taken_at,
        "a newer snapshot, not the first one"
    );
}

#[tokio::test]
async fn keys_no_page_asked_for_recently_are_left_alone() {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    let cache = SnapshotCache::new(Duration::from_secs(3600))
        .keep_warm(Duration::from_secs(1), Duration::ZERO);
    // An idle cache reads nothing: not even the signature (a closed pool would fail it).
    let closed = sqlx::PgPool::connect(&db.url).await.unwrap();
    closed.close().await;
    assert_eq!(cache.refresh_due(&closed).await.unwrap(), 0);

    let old = sessions(&cache, pool).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let all = cache.get(pool, &[], Detail::Plan).await.unwrap();
    sql(pool, CREATE_2019_01_01).await;
    // Both keys see the change; only the one asked for within the last second is read again.
    assert_eq!(cache.refresh_due(pool).await.unwrap(), 1);
    let before = cache.stats();
    let all_after = cache.get(pool, &[], Detail::Plan).await.unwrap();
    assert!(!Arc::ptr_eq(&all, &all_after));
    assert!(names(&all_after).contains(&"sessions_2019_01_01".to_string()));
    let old_after = sessions(&cache, pool).await;
    assert!(!Arc::ptr_eq(&old, &old_after));
    assert!(names(&old_after).contains(&"sessions_2019_01_01".to_string()));
    let stats = cache.stats();
    assert_eq!(stats.hits, before.hits + 1, "the warm key: {stats:?}");
    assert_eq!(stats.misses, before.misses + 1, "the cold key: {stats:?}");
}

#[tokio::test]
async fn a_failing_refresh_is_counted_and_the_warmer_goes_on() {
    let db = TestDb::migrated().await.unwrap();
    // One connection, given up on after 300 ms: holding it makes every warmer pass fail.
    let small = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_millis(300))
        .connect(&db.url)
        .await
        .unwrap();
    let cache = Arc::new(SnapshotCache::new(Duration::from_secs(3600)));
    sessions(&cache, &small).await;
    let warmer = SnapshotCache::spawn_warmer(&cache, small.clone(), Duration::from_millis(50))
        .expect("a tokio runtime");
    let held = small.acquire().await.unwrap();
    sql(&db.pool, CREATE_2019_01_01).await;
    wait_until("a pass failed", || cache.stats().refresh_failures >= 2).await;
    assert!(!warmer.is_finished(), "a failure does not end the warmer");
    assert_eq!(cache.stats().refreshed, 0);
    drop(held);
    wait_until("the warmer read the change", || {
        cache.stats().refreshed >= 1
    })
    .await;
    let before = cache.stats();
    let after = sessions(&cache, &small).await;
    assert_eq!(
        cache.stats().misses,
        before.misses,
        "served from the warmer's read"
    );
    assert!(names(&after).contains(&"sessions_2019_01_01".to_string()));

    // A closed pool: the pass fails (no panic), and the task ends.
    small.close().await;
    assert!(cache.refresh_due(&small).await.is_err());
    tokio::time::timeout(Duration::from_secs(2), warmer)
        .await
        .expect("the warmer ends once its pool is closed")
        .unwrap();
}

#[tokio::test]
async fn a_pinned_key_is_warm_before_any_page_asks_and_stays_warm_while_nobody_does() {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    let cache = SnapshotCache::new(Duration::from_secs(3600))
        .keep_warm(Duration::from_millis(200), Duration::ZERO);
    cache.pin(&[ManagedTable::Sessions], Detail::Plan);
    cache.pin(&[ManagedTable::Sessions], Detail::Plan);
    // The first pass reads the pinned key (once, though pinned twice), nobody having asked.
    assert_eq!(cache.refresh_due(pool).await.unwrap(), 1);
    let first = sessions(&cache, pool).await;
    assert_eq!(cache.stats().hits, 1, "{:?}", cache.stats());
    assert_eq!(cache.stats().misses, 0, "{:?}", cache.stats());

    // Long past `recent` with no request, a change is still read ahead of the next request.
    tokio::time::sleep(Duration::from_millis(400)).await;
    sql(pool, CREATE_2019_01_01).await;
    assert_eq!(cache.refresh_due(pool).await.unwrap(), 1);
    let after = sessions(&cache, pool).await;
    assert!(!Arc::ptr_eq(&first, &after));
    assert!(names(&after).contains(&"sessions_2019_01_01".to_string()));
    assert_eq!(cache.stats().misses, 0, "{:?}", cache.stats());
    // A key not pinned and not asked for recently is left to go cold, as before.
    cache.get(pool, &[], Detail::Plan).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    sql(pool, "DROP TABLE sessions_2019_01_01").await;
    assert_eq!(
        cache.refresh_due(pool).await.unwrap(),
        1,
        "only the pinned key"
    );
}
