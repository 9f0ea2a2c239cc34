//! The catalog snapshot against a real PostgreSQL: bounds read from the stored node are believed
//! only when they match the partition's name (a partition named like ours with another bound is
//! reported with its real bound, and is not ours), other names and the default are deparsed by
//! PostgreSQL, leftovers are found, and the lean `Detail::Plan` snapshot agrees with `Detail::Full`
//! on everything but the fields it documents as lean.
#![cfg(feature = "postgres")]

use std::collections::HashMap;

use partitioning::calendar::{parse_partition_name, PartitionBound};
use partitioning::catalog::{PartitionInfo, TableCatalog};
use partitioning::pg::catalog::{self, Detail};
use partitioning::pg::testdb::TestDb;
use partitioning::table::ManagedTable;
use sqlx::PgPool;

async fn sql(pool: &PgPool, text: &str) {
    sqlx::raw_sql(text).execute(pool).await.unwrap();
}

/// `pg_get_expr(relpartbound, oid)` of every attached partition of `sessions`, by name.
async fn deparsed(pool: &PgPool) -> HashMap<String, String> {
    sqlx::query_as(
        "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

fn find<'a>(t: &'a TableCatalog, name: &str) -> &'a PartitionInfo {
    t.partitions
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("{name} missing from the snapshot"))
}

fn utc(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().into()
}

#[tokio::test]
async fn bounds_names_defaults_and_leftovers_are_read_as_postgresql_has_them() {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    sql(
        pool,
        "CREATE TABLE sessions_2019_01_01 PARTITION OF sessions \
             FOR VALUES FROM ('2019-01-01 00:00:00+00') TO ('2019-01-01 12:00:00+00'); \
         CREATE TABLE sessions_archive PARTITION OF sessions \
             FOR VALUES FROM ('2018-01-01 00:00:00+00') TO ('2018-02-01 00:00:00+00'); \
         CREATE TABLE sessions_2018_03_02 PARTITION OF sessions \
             FOR VALUES FROM ('2018-03-01 00:00:00+00') TO ('2018-03-02 00:00:00+00'); \
         CREATE TABLE sessions_2017_06_01 PARTITION OF sessions \
             FOR VALUES FROM ('2017-06-01 00:00:00+00') TO ('2017-06-02 00:00:00+00'); \
         CREATE TABLE sessions_default PARTITION OF sessions DEFAULT; \
         CREATE TABLE sessions_2017_05_05 (LIKE sessions INCLUDING ALL);",
    )
    .await;

    for detail in [Detail::Plan, Detail::Full] {
        let snap = catalog::snapshot_with(pool, &[ManagedTable::Sessions], detail)
            .await
            .unwrap();
        let t = snap.table(ManagedTable::Sessions).unwrap();
        let pg = deparsed(pool).await;
        // Every attached partition's raw bound is what PostgreSQL prints, whichever path read it.
        for p in &t.partitions {
            assert_eq!(Some(&p.raw_bound), pg.get(&p.name), "{detail:?} {}", p.name);
        }
        assert_eq!(
            t.partitions.len() + 1,
            pg.len(),
            "{detail:?}: all but the default"
        );
        let names: Vec<&str> = t.partitions.iter().map(|p| p.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted, "{detail:?}: partitions sorted by name");

        // Named like ours, bound of half a day: its real bound, and not ours.
        let odd = find(t, "sessions_2019_01_01");
        assert_eq!(
            odd.bound,
            Some(PartitionBound::new(
                utc("2019-01-01T00:00:00Z"),
                utc("2019-01-01T12:00:00Z")
            ))
        );
        assert!(!t.is_ours(odd), "{detail:?}");
        // Named for 2 March, holding 1 March: the real bound, not the name's.
        let shifted = find(t, "sessions_2018_03_02");
        assert_eq!(
            shifted.bound.map(|b| b.lower),
            Some(utc("2018-03-01T00:00:00Z"))
        );
        assert!(!t.is_ours(shifted), "{detail:?}");
        // Another name: read through pg_get_expr.
        let archive = find(t, "sessions_archive");
        assert_eq!(
            archive.bound.map(|b| (b.lower, b.upper)),
            Some((utc("2018-01-01T00:00:00Z"), utc("2018-02-01T00:00:00Z")))
        );
        assert!(!t.is_ours(archive));
        // Ours: the name's bound.
        let ours = find(t, "sessions_2017_06_01");
        assert_eq!(
            ours.bound,
            parse_partition_name(ManagedTable::Sessions, "sessions_2017_06_01")
        );
        assert!(t.is_ours(ours));

        let default = t.default_partition.as_ref().expect("default partition");
        assert_eq!(
            (default.name.as_str(), default.raw_bound.as_str()),
            ("sessions_default", "DEFAULT")
        );
        assert_eq!(
            t.detached
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>(),
            ["sessions_2017_05_05"]
        );
        assert!(t.exists() && t.is_partitioned);
    }
}

#[tokio::test]
async fn the_plan_snapshot_agrees_with_the_full_one_except_where_documented() {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    // Rows in today's partition, analyzed; an old partition analyzed too (Plan leaves its
    // statistics out); an index page count the heap-only size leaves out.
    sql(
        pool,
        "INSERT INTO sessions (user_id, token_hash, created_at, expires_at) \
             SELECT gen_random_uuid(), md5(g::text), now(), now() + interval '1 day' \
             FROM generate_series(1, 50) g; \
         CREATE TABLE sessions_2016_01_01 PARTITION OF sessions \
             FOR VALUES FROM ('2016-01-01 00:00:00+00') TO ('2016-01-02 00:00:00+00'); \
         ANALYZE sessions;",
    )
    .await;
    let full = catalog::snapshot(pool, &[]).await.unwrap();
    let plan = catalog::snapshot_with(pool, &[], Detail::Plan)
        .await
        .unwrap();
    assert_eq!(full.tables.len(), 4);
    for (f, p) in full.tables.iter().zip(&plan.tables) {
        assert_eq!(
            (f.table, f.oid, f.is_partitioned),
            (p.table, p.oid, p.is_partitioned)
        );
        assert_eq!(f.partitions.len(), p.partitions.len(), "{}", f.table);
        assert_eq!(f.detached, p.detached);
        for (a, b) in f.partitions.iter().zip(&p.partitions) {
            let key = |x: &PartitionInfo| {
                (
                    x.oid,
                    x.name.clone(),
                    x.bound,
                    x.raw_bound.clone(),
                    x.detach_pending,
                    x.est_rows,
                    x.tablespace.clone(),
                    x.sealed,
                )
            };
            assert_eq!(key(a), key(b));
            assert!(
                b.bytes <= a.bytes,
                "{}: heap only is at most the total",
                a.name
            );
        }
    }
    let sessions_full = full.table(ManagedTable::Sessions).unwrap();
    let sessions_plan = plan.table(ManagedTable::Sessions).unwrap();
    // Every partition has index pages: Full counts them, Plan does not.
    let today = |t: &TableCatalog| -> PartitionInfo {
        t.partitions
            .iter()
            .find(|p| p.bound.is_some_and(|b| b.contains(full.taken_at)))
            .cloned()
            .expect("today's partition")
    };
    let (tf, tp) = (today(sessions_full), today(sessions_plan));
    assert!(tf.bytes > tp.bytes, "{} vs {}", tf.bytes, tp.bytes);
    assert!(tf.est_rows > 0);
    // Today's statistics in both; the 2016 partition's only in Full.
    assert!(tf.last_analyzed.is_some());
    assert_eq!(tf.last_analyzed, tp.last_analyzed);
    let old = |t: &TableCatalog| find(t, "sessions_2016_01_01").last_analyzed;
    assert!(old(sessions_full).is_some());
    assert_eq!(old(sessions_plan), None);
}

#[tokio::test]
async fn leftovers_are_the_unattached_tables_named_like_ours_in_the_table_s_schema() {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    sql(
        pool,
        "CREATE TABLE sessions_2017_05_05 (LIKE sessions INCLUDING ALL); \
         CREATE TABLE other_parent (created_at timestamptz) PARTITION BY RANGE (created_at); \
         CREATE TABLE sessions_2017_05_06 PARTITION OF other_parent \
             FOR VALUES FROM ('2017-05-06 00:00:00+00') TO ('2017-05-07 00:00:00+00'); \
         CREATE TYPE sessions_2017_05_07 AS (a int); \
         CREATE VIEW sessions_2017_05_08 AS SELECT 1 AS a; \
         CREATE TABLE sessions_2017_05_09x (a int); \
         CREATE SCHEMA elsewhere; \
         CREATE TABLE elsewhere.sessions_2017_05_10 (a int); \
         CREATE TABLE plain_parent (a int); \
         CREATE TABLE sessions_2017_05_11 () INHERITS (plain_parent); \
         CREATE TABLE renamed_later (a int); \
         ALTER TABLE renamed_later RENAME TO sessions_2017_05_12; \
         CREATE TABLE elsewhere.sessions_2017_05_13 (a int); \
         ALTER TABLE elsewhere.sessions_2017_05_13 SET SCHEMA public; \
         CREATE TABLE sessions_2017_05 (a int);",
    )
    .await;
    for detail in [Detail::Plan, Detail::Full] {
        let snap = catalog::snapshot_with(pool, &[ManagedTable::Sessions], detail)
            .await
            .unwrap();
        let t = snap.table(ManagedTable::Sessions).unwrap();
        let names: Vec<&str> = t.detached.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "sessions_2017_05",
                "sessions_2017_05_05",
                "sessions_2017_05_12",
                "sessions_2017_05_13"
            ],
            "{detail:?}"
        );
        assert!(t
            .detached
            .iter()
            .all(|p| p.oid != 0 && p.bound.is_some() == (p.name.len() > 16)));
        // Nothing of the above is taken for an attached partition either.
        assert!(t
            .partitions
            .iter()
            .all(|p| !p.name.starts_with("sessions_2017")));
    }
}
