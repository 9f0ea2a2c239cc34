//! The schema migrations against a real PostgreSQL: 006 converts the four tables to partitioned
//! tables keeping every row, 006 down converts back losing nothing, and the round trip is exact,
//! through sqlx and through plain `psql -f` as the guide runs it, whatever the session TimeZone.

use std::process::Command;

use partitioning::pg::migrate;
use partitioning::pg::testdb::TestDb;
use sqlx::PgPool;

const TABLES: [&str; 4] = [
    "auth_audit_log",
    "sessions",
    "refresh_tokens",
    "rate_limits",
];

/// Rows spread over years, plus rows exactly on the edges the calendar math must get right:
/// a UTC midnight, Feb 29, Dec 31 → Jan 1, a Sunday/Monday pair for the weekly table.
const SEED: &str = r#"
INSERT INTO auth_audit_log (id, "timestamp", user_id, event_type, outcome, ip_address, details)
SELECT gen_random_uuid(), ts, gen_random_uuid(), 'login', 'success', '10.0.0.1', '{"seed": true}'
FROM (SELECT now() - (g * interval '29 days') AS ts FROM generate_series(0, 110) g
      UNION ALL VALUES ('2024-02-29 23:59:59.999999+00'::timestamptz), ('2024-03-01 00:00:00+00'),
                       ('2023-12-31 23:59:59+00'), ('2024-01-01 00:00:00+00')) AS t(ts);
INSERT INTO sessions (id, user_id, created_at, expires_at, token_hash)
SELECT gen_random_uuid(), gen_random_uuid(), ts, ts + interval '1 day', md5(ts::text)
FROM (SELECT now() - (g * interval '11 hours') AS ts FROM generate_series(0, 200) g
      UNION ALL VALUES ('2024-02-29 00:00:00+00'::timestamptz), ('2023-12-31 23:59:59+00')) AS t(ts);
INSERT INTO refresh_tokens (id, user_id, token_hash, created_at, expires_at)
SELECT gen_random_uuid(), gen_random_uuid(), md5(ts::text), ts, ts + interval '30 days'
FROM (SELECT now() - (g * interval '1 day') AS ts FROM generate_series(0, 70) g
      UNION ALL VALUES ('2024-03-03 23:59:59+00'::timestamptz), ('2024-03-04 00:00:00+00'),
                       ('2020-12-31 12:00:00+00')) AS t(ts);
INSERT INTO rate_limits (id, bucket_key, window_start, window_seconds, request_count, max_requests)
SELECT gen_random_uuid(), 'ip:' || g, now() - (g * interval '37 minutes'), 60, g % 100, 100
FROM generate_series(0, 400) g;
"#;

/// Row count and an md5 of every row's text, per table, in id order.
async fn contents(pool: &PgPool) -> Vec<(String, i64, String)> {
    let mut out = Vec::new();
    for table in TABLES {
        let sql = format!(
            "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM {table} t"
        );
        let (count, md5): (i64, String) = sqlx::query_as(&sql).fetch_one(pool).await.unwrap();
        out.push((table.to_string(), count, md5));
    }
    out
}

async fn is_partitioned(pool: &PgPool, table: &str) -> bool {
    sqlx::query_scalar("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass($1)")
        .bind(table)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Every row sits in the partition named after its key's UTC period.
async fn rows_in_named_partitions(pool: &PgPool) {
    let checks = [
        (
            "auth_audit_log",
            r#"'auth_audit_log_' || to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY_MM')"#,
        ),
        (
            "sessions",
            "'sessions_' || to_char(created_at AT TIME ZONE 'UTC', 'YYYY_MM_DD')",
        ),
        (
            "refresh_tokens",
            "'refresh_tokens_' || to_char(date_trunc('week', created_at AT TIME ZONE 'UTC'), 'YYYY_MM_DD')",
        ),
        (
            "rate_limits",
            "'rate_limits_' || to_char(window_start AT TIME ZONE 'UTC', 'YYYY_MM_DD')",
        ),
    ];
    for (table, expected) in checks {
        let sql =
            format!("SELECT count(*) FROM {table} WHERE tableoid::regclass::text <> {expected}");
        let misplaced: i64 = sqlx::query_scalar(&sql).fetch_one(pool).await.unwrap();
        assert_eq!(
            misplaced, 0,
            "{table}: rows outside the partition named for their period"
        );
    }
}

/// Every partition bound is a UTC midnight, read back with the session in UTC.
async fn bounds_are_utc_midnights(pool: &PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("SET TimeZone = 'UTC'")
        .execute(&mut *conn)
        .await
        .unwrap();
    let bad: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = ANY (ARRAY['auth_audit_log', 'sessions', 'refresh_tokens', 'rate_limits']::regclass[]) \
           AND pg_get_expr(c.relpartbound, c.oid) !~ '^FOR VALUES FROM \\(''\\d{4}-\\d{2}-\\d{2} 00:00:00\\+00''\\) TO \\(''\\d{4}-\\d{2}-\\d{2} 00:00:00\\+00''\\)$'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert!(bad.is_empty(), "bounds that are not UTC midnights: {bad:?}");
    sqlx::query("RESET TimeZone")
        .execute(&mut *conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn up_down_up_round_trips_every_row_through_sqlx() {
    let db = TestDb::empty().await.unwrap();
    migrate::up_to(&db.pool, 5).await.unwrap();
    sqlx::raw_sql(SEED).execute(&db.pool).await.unwrap();
    let before = contents(&db.pool).await;
    assert!(before.iter().all(|(_, n, _)| *n > 0));

    migrate::up(&db.pool).await.unwrap();
    for table in TABLES {
        assert!(
            is_partitioned(&db.pool, table).await,
            "{table} not partitioned"
        );
    }
    assert_eq!(contents(&db.pool).await, before, "006 up changed rows");
    rows_in_named_partitions(&db.pool).await;
    bounds_are_utc_midnights(&db.pool).await;

    migrate::down_to(&db.pool, 5).await.unwrap();
    for table in TABLES {
        assert!(
            !is_partitioned(&db.pool, table).await,
            "{table} still partitioned"
        );
    }
    assert_eq!(contents(&db.pool).await, before, "006 down changed rows");

    migrate::up(&db.pool).await.unwrap();
    assert_eq!(
        contents(&db.pool).await,
        before,
        "006 up again changed rows"
    );
    rows_in_named_partitions(&db.pool).await;
}

#[tokio::test]
async fn the_guide_s_guide_indexes_and_primary_keys_exist() {
    let db = TestDb::migrated().await.unwrap();
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'auth_audit_log'::regclass ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    for name in ["idx_audit_log_timestamp", "idx_audit_log_user_id"] {
        assert!(
            indexes.iter().any(|i| i == name),
            "missing {name}: {indexes:?}"
        );
    }
    for (table, key) in [
        ("auth_audit_log", "timestamp"),
        ("sessions", "created_at"),
        ("refresh_tokens", "created_at"),
        ("rate_limits", "window_start"),
    ] {
        let pk: Vec<String> = sqlx::query_scalar(
            "SELECT a.attname::text FROM pg_constraint c \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
             WHERE c.conrelid = to_regclass($1) AND c.contype = 'p' ORDER BY a.attname",
        )
        .bind(table)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        assert!(
            pk.contains(&"id".to_string()) && pk.contains(&key.to_string()),
            "{table}: {pk:?}"
        );
    }
}

fn psql(url: &str, file: &str, tz: &str) {
    let path = partitioning::pg::workspace_root()
        .join("migrations")
        .join(file);
    let out = Command::new("psql")
        .arg(url)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(&path)
        .env("PGOPTIONS", format!("-c TimeZone={tz}"))
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql -f {file} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The guide's route: `psql $DATABASE_URL -f migrations/006_add_table_partitioning.up.sql`, here with
/// the session in America/New_York, where a careless bound would land at 19:00 or 20:00 UTC.
#[tokio::test]
async fn psql_round_trip_in_new_york_keeps_rows_and_utc_bounds() {
    let db = TestDb::empty().await.unwrap();
    let tz = "America/New_York";
    for file in [
        "001_create_users.up.sql",
        "002_create_auth_audit_log.up.sql",
        "003_create_sessions.up.sql",
        "004_create_refresh_tokens.up.sql",
        "005_create_rate_limits.up.sql",
    ] {
        psql(&db.url, file, tz);
    }
    sqlx::raw_sql(SEED).execute(&db.pool).await.unwrap();
    let before = contents(&db.pool).await;

    psql(&db.url, "006_add_table_partitioning.up.sql", tz);
    assert_eq!(contents(&db.pool).await, before);
    bounds_are_utc_midnights(&db.pool).await;
    rows_in_named_partitions(&db.pool).await;

    // Running it again is safe: the tables are already partitioned.
    psql(&db.url, "006_add_table_partitioning.up.sql", tz);
    assert_eq!(contents(&db.pool).await, before);

    psql(&db.url, "006_add_table_partitioning.down.sql", tz);
    assert_eq!(contents(&db.pool).await, before);
    psql(&db.url, "006_add_table_partitioning.up.sql", tz);
    assert_eq!(contents(&db.pool).await, before);
    bounds_are_utc_midnights(&db.pool).await;
}

/// 006 through sqlx on a connection whose TimeZone is America/New_York.
#[tokio::test]
async fn sqlx_migration_under_new_york_timezone_writes_utc_bounds() {
    let db = TestDb::empty().await.unwrap();
    // sqlx sends TimeZone=UTC in its startup packet (it wins over `options=-c TimeZone=...`), so
    // the zone is set on every connection once it is open.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                sqlx::query("SET TimeZone = 'America/New_York'")
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        })
        .connect(&db.url)
        .await
        .unwrap();
    let tz: String = sqlx::query_scalar("SHOW TimeZone")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(tz, "America/New_York");
    migrate::up_to(&pool, 5).await.unwrap();
    sqlx::raw_sql(SEED).execute(&pool).await.unwrap();
    let before = contents(&pool).await;
    migrate::up(&pool).await.unwrap();
    assert_eq!(contents(&pool).await, before);
    bounds_are_utc_midnights(&db.pool).await;
    rows_in_named_partitions(&db.pool).await;
    pool.close().await;
}

/// What is left in the schema besides sqlx's bookkeeping: tables, functions, event triggers.
async fn leftovers(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT 'table ' || relname FROM pg_class WHERE relnamespace = 'public'::regnamespace \
           AND relkind IN ('r', 'p') AND relname <> '_sqlx_migrations' \
         UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace \
         UNION ALL SELECT 'event trigger ' || evtname FROM pg_event_trigger ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Files 001-006 through psql, as a DBA would: each up twice (safe to re-run), then every down in
/// reverse, which leaves nothing behind, then up again.
#[tokio::test]
async fn psql_runs_every_migration_file_up_twice_and_down_in_auckland() {
    let db = TestDb::empty().await.unwrap();
    let tz = "Pacific/Auckland";
    let names: Vec<String> = migrate::MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration() && m.version <= 6)
        .map(|m| format!("{:03}_{}", m.version, m.description.replace(' ', "_")))
        .collect();
    assert_eq!(names.len(), 6, "{names:?}");
    let mut seeded = Vec::new();
    for name in &names {
        if name.starts_with("006") {
            // Rows of every period go in while the tables are plain, as in production.
            sqlx::raw_sql(SEED).execute(&db.pool).await.unwrap();
            seeded = contents(&db.pool).await;
        }
        psql(&db.url, &format!("{name}.up.sql"), tz);
        psql(&db.url, &format!("{name}.up.sql"), tz);
    }
    assert_eq!(contents(&db.pool).await, seeded, "006 up lost rows");
    assert!(!leftovers(&db.pool).await.is_empty());
    for name in names.iter().rev() {
        psql(&db.url, &format!("{name}.down.sql"), tz);
        if name.starts_with("006") {
            assert_eq!(contents(&db.pool).await, seeded, "006 down lost rows");
        }
    }
    assert_eq!(leftovers(&db.pool).await, Vec::<String>::new());
    for name in &names {
        psql(&db.url, &format!("{name}.up.sql"), tz);
    }
    for table in TABLES {
        assert!(is_partitioned(&db.pool, table).await, "{table}");
    }
}

/// sqlx's own revert of all six leaves an empty schema, and applying them again works.
#[tokio::test]
async fn sqlx_reverts_everything_and_applies_again() {
    let db = TestDb::migrated().await.unwrap();
    migrate::down_to(&db.pool, 0).await.unwrap();
    assert_eq!(leftovers(&db.pool).await, Vec::<String>::new());
    migrate::up(&db.pool).await.unwrap();
    let functions: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_proc WHERE proname IN ('create_partitions_if_needed', \
         'drop_old_partitions', 'rustcare_create_partition', 'rustcare_seal_partition')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(functions, 4);
}
