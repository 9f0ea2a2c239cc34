//! Helpers shared by the CLI tests: run the built binary against a TestDb, read the catalog.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::Output;

use chrono::{DateTime, NaiveDate, Utc};
use partitioning::pg::testdb::TestDb;
use partitioning::pg::workspace_root;
use sqlx::PgPool;

pub const BIN: &str = env!("CARGO_BIN_EXE_rustcare-partitions");

/// Runs the binary with `args` against `db`, from a directory that is not the project root.
pub async fn cli(db: &TestDb, args: &[&str]) -> Output {
    tokio::process::Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("RUSTCARE_HOME", workspace_root())
        .env("RUST_LOG", "warn")
        .env("USER", "tester")
        .current_dir(std::env::temp_dir())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("the binary runs")
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every relation of the public schema with its kind and partition bound, plus the action log and
/// policy rows: equal before and after means nothing changed.
pub async fn catalog_state(pool: &PgPool) -> (Vec<(String, String, String)>, i64, String) {
    let rels = sqlx::query_as(
        "SELECT c.relname::text, c.relkind::text, coalesce(pg_get_expr(c.relpartbound, c.oid), '') \
         FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let log: i64 = sqlx::query_scalar("SELECT count(*) FROM partition_action_log")
        .fetch_one(pool)
        .await
        .unwrap();
    let policy: String = sqlx::query_scalar(
        "SELECT string_agg(p::text, '|' ORDER BY table_name) FROM partition_policy p",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    (rels, log, policy)
}

/// Partition name → bound text, for one parent.
pub async fn partitions(pool: &PgPool, table: &str) -> BTreeMap<String, String> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass($1)",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter().collect()
}

pub async fn server_now(pool: &PgPool) -> DateTime<Utc> {
    sqlx::query_scalar("SELECT now()")
        .fetch_one(pool)
        .await
        .unwrap()
}

pub fn bound_text(lower: NaiveDate, upper: NaiveDate) -> String {
    format!(
        "FOR VALUES FROM ('{} 00:00:00+00') TO ('{} 00:00:00+00')",
        lower.format("%Y-%m-%d"),
        upper.format("%Y-%m-%d")
    )
}

/// Old daily partitions of sessions (90 days) and rate_limits (7 days), some just inside and some
/// just past retention.
pub async fn seed_old_partitions(pool: &PgPool) {
    sqlx::raw_sql(
        "SELECT create_sessions_partition((now() AT TIME ZONE 'UTC')::date - d) FROM generate_series(85, 95) d; \
         SELECT create_rate_limits_partition((now() AT TIME ZONE 'UTC')::date - d) FROM generate_series(3, 12) d;",
    )
    .execute(pool)
    .await
    .unwrap();
}

pub fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "rustcare-cli-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(42);
    h.finish()
}

/// A fresh database at migration 005 (the four tables ordinary, as before partitioning) holding
/// `rows` sessions spread over the last 20 days: what `migrate` starts from.
pub async fn at_005(rows: i64) -> TestDb {
    let db = TestDb::empty().await.unwrap();
    partitioning::pg::migrate::up_to(&db.pool, 5).await.unwrap();
    sqlx::query(
        "INSERT INTO sessions (user_id, created_at, expires_at, token_hash) \
         SELECT gen_random_uuid(), now() - (n % 20) * interval '1 day', now() + interval '1 day', \
                md5(n::text || random()::text) FROM generate_series(1, $1) AS n",
    )
    .bind(rows)
    .execute(&db.pool)
    .await
    .unwrap();
    db
}
