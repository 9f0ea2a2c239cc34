//! A backfill cursor whose meaning the running version does not know (written by an older
//! version, cursor on (partition key, id); or by the other direction) is never read with another
//! meaning: the copy starts again from the first row and everything arrives.

use partitioning::config::Config;
use partitioning::pg::migrate;
use partitioning::pg::online::{self, OnlineOptions, Phase};
use partitioning::pg::testdb::TestDb;
use partitioning::table::ManagedTable;
use sqlx::PgPool;

const ROWS: i64 = 4_000;

async fn run(pool: &PgPool, migrate: bool, stop_after: Option<Phase>) -> online::OnlineReport {
    online::run(
        pool,
        &Config::default(),
        ManagedTable::Sessions,
        migrate,
        &OnlineOptions {
            batch_rows: 700,
            stop_after,
            ..OnlineOptions::default()
        },
        &|_, _| {},
    )
    .await
    .unwrap()
}

/// A cursor that, read as the new format, would skip every row.
async fn plant_cursor(pool: &PgPool, kind: &str, key: &str) {
    sqlx::query(
        "UPDATE online_migration SET cursor_kind = $1, cursor_key = $2::timestamptz, \
         cursor_id = 'ffffffff-ffff-ffff-ffff-ffffffffffff', rows_copied = 1234 \
         WHERE table_name = 'sessions'",
    )
    .bind(kind)
    .bind(key)
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_cursor_in_another_format_restarts_the_copy_and_loses_nothing() {
    let db = TestDb::empty().await.unwrap();
    migrate::up_to(&db.pool, 5).await.unwrap();
    let pool = &db.pool;
    sqlx::query(
        "INSERT INTO sessions (user_id, created_at, expires_at, token_hash) \
         SELECT gen_random_uuid(), now() - (n % 15) * interval '1 day', now() + interval '1 day', \
                md5(n::text) FROM generate_series(1, $1) AS n",
    )
    .bind(ROWS)
    .execute(pool)
    .await
    .unwrap();

    // Migrate: an old-format state ('key_id', the last (created_at, id) pair) mid-backfill.
    assert_eq!(
        run(pool, true, Some(Phase::Prepared)).await.phase,
        Phase::Prepared
    );
    plant_cursor(pool, "key_id", "now").await;
    let r = run(pool, true, None).await;
    assert_eq!(r.phase, Phase::Swapped);
    assert_eq!(r.rows_verified, ROWS);
    online::finish(pool, ManagedTable::Sessions, true)
        .await
        .unwrap();

    // Rollback: a migrate-format cursor ('id') past the last partition.
    assert_eq!(
        run(pool, false, Some(Phase::Prepared)).await.phase,
        Phase::Prepared
    );
    plant_cursor(pool, "id", "infinity").await;
    let r = run(pool, false, None).await;
    assert_eq!(r.phase, Phase::Swapped);
    assert_eq!(r.rows_verified, ROWS);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(n, ROWS);
}
