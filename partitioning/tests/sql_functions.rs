//! The SQL functions 006 installs for pg_cron, against a real PostgreSQL: idempotent creation, the
//! guide's snippets as written, cleanup that never drops an audit partition under retention, the
//! append-only action log, sealing, and the drop guard.

use partitioning::pg::testdb::TestDb;
use sqlx::PgPool;

async fn partitions(pool: &PgPool, table: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = to_regclass($1) ORDER BY 1",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The one value `sql` returns.
async fn one<T>(pool: &PgPool, sql: &str) -> T
where
    T: Send + Unpin,
    (T,): for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// Runs `sql` (one or more statements), which must succeed.
async fn run(pool: &PgPool, sql: &str) {
    sqlx::raw_sql(sql).execute(pool).await.unwrap();
}

/// Runs `sql`, which must fail; returns the error text.
async fn refused(pool: &PgPool, sql: &str) -> String {
    match sqlx::raw_sql(sql).execute(pool).await {
        Ok(_) => panic!("{sql} succeeded; it must be refused"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn create_partitions_if_needed_is_idempotent_and_covers_the_window() {
    let db = TestDb::migrated().await.unwrap();
    let _: i32 = one(&db.pool, "SELECT create_partitions_if_needed()").await;
    let second: i32 = one(&db.pool, "SELECT create_partitions_if_needed()").await;
    assert_eq!(second, 0, "a second run must create nothing");
    // Default window: 6 months ahead for the audit log, 14 days for sessions.
    let horizon: (bool, bool) = sqlx::query_as(
        "SELECT to_regclass(format('auth_audit_log_%s', to_char(now() AT TIME ZONE 'UTC' + interval '6 months', 'YYYY_MM'))) IS NOT NULL, \
                to_regclass(format('sessions_%s', to_char(now() AT TIME ZONE 'UTC' + interval '14 days', 'YYYY_MM_DD'))) IS NOT NULL",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(horizon, (true, true));
}

#[tokio::test]
async fn the_guide_s_snippets_work_as_written() {
    let db = TestDb::migrated().await.unwrap();
    run(
        &db.pool,
        "SELECT create_audit_log_partition('2025-12-01'::DATE);",
    )
    .await;
    run(
        &db.pool,
        "DO $$\nBEGIN\n    FOR i IN 0..30 LOOP\n        PERFORM create_sessions_partition(CURRENT_DATE + i);\n    END LOOP;\nEND $$;",
    )
    .await;
    let audit = partitions(&db.pool, "auth_audit_log").await;
    assert!(
        audit.contains(&"auth_audit_log_2025_12".into()),
        "{audit:?}"
    );
    let sessions = partitions(&db.pool, "sessions").await.len();
    assert!(sessions >= 31, "{sessions} session partitions");
    // Calling again changes nothing.
    run(
        &db.pool,
        "SELECT create_audit_log_partition('2025-12-15'::DATE);",
    )
    .await;
    assert_eq!(partitions(&db.pool, "auth_audit_log").await, audit);
}

#[tokio::test]
async fn weekly_partitions_start_on_monday_even_in_another_timezone() {
    let db = TestDb::migrated().await.unwrap();
    let mut conn = db.pool.acquire().await.unwrap();
    sqlx::query("SET TimeZone = 'Pacific/Auckland'")
        .execute(&mut *conn)
        .await
        .unwrap();
    // 2026-01-01 is a Thursday: its week starts Monday 2025-12-29.
    let name: Option<String> =
        sqlx::query_scalar("SELECT create_refresh_tokens_partition('2026-01-01'::date)")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert_eq!(name.as_deref(), Some("refresh_tokens_2025_12_29"));
    sqlx::query("SET TimeZone = 'UTC'")
        .execute(&mut *conn)
        .await
        .unwrap();
    let bound: String = sqlx::query_scalar(
        "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'refresh_tokens_2025_12_29'",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(
        bound,
        "FOR VALUES FROM ('2025-12-29 00:00:00+00') TO ('2026-01-05 00:00:00+00')"
    );
}

/// Audit partitions from 8 years ago to now; with cleanup made automatic, only those whose upper
/// bound is at or before now - 7 years may go, and the rest stay.
#[tokio::test]
async fn drop_old_partitions_never_drops_audit_partitions_under_seven_years() {
    let db = TestDb::migrated().await.unwrap();
    run(
        &db.pool,
        "SELECT create_audit_log_partition(((date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => m)))::date) \
         FROM generate_series(0, 96) m;",
    )
    .await;
    // Default policy: audit cleanup needs approval, so nothing of the audit log is dropped at all.
    let _: i32 = one(&db.pool, "SELECT drop_old_partitions()").await;
    assert!(partitions(&db.pool, "auth_audit_log").await.len() >= 97);

    run(
        &db.pool,
        "UPDATE partition_policy SET cleanup_mode = 'auto' WHERE table_name = 'auth_audit_log'",
    )
    .await;
    let dropped: i32 = one(&db.pool, "SELECT drop_old_partitions()").await;
    assert!(
        dropped >= 11,
        "8 years back, 7 kept: about a year of months goes, got {dropped}"
    );
    let young_gone: i64 = one(
        &db.pool,
        "SELECT count(*) FROM generate_series(0, 96) m \
         WHERE (date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => m - 1)) AT TIME ZONE 'UTC' > now() - interval '7 years' \
           AND to_regclass(format('auth_audit_log_%s', to_char(date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => m), 'YYYY_MM'))) IS NULL",
    )
    .await;
    assert_eq!(
        young_gone, 0,
        "an audit partition younger than 7 years was dropped"
    );
    let old_left: i64 = one(
        &db.pool,
        "SELECT count(*) FROM generate_series(0, 96) m \
         WHERE (date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => m - 1)) AT TIME ZONE 'UTC' <= now() - interval '7 years' \
           AND to_regclass(format('auth_audit_log_%s', to_char(date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => m), 'YYYY_MM'))) IS NOT NULL",
    )
    .await;
    assert_eq!(
        old_left, 0,
        "an audit partition past retention was kept under an auto policy"
    );
    let logged: i64 = one(
        &db.pool,
        "SELECT count(*) FROM partition_action_log WHERE table_name = 'auth_audit_log' AND action = 'drop'",
    )
    .await;
    assert_eq!(logged, i64::from(dropped), "every drop is recorded");
}

#[tokio::test]
async fn the_policy_table_refuses_an_audit_retention_under_six_years() {
    let db = TestDb::migrated().await.unwrap();
    let err = sqlx::query(
        "UPDATE partition_policy SET retention = interval '5 years' WHERE table_name = 'auth_audit_log'",
    )
    .execute(&db.pool)
    .await
    .unwrap_err();
    let code = err
        .as_database_error()
        .and_then(|e| e.code())
        .unwrap_or_default();
    assert_eq!(code, "23514", "check_violation expected, got {err}");
}

#[tokio::test]
async fn dropping_a_young_audit_partition_by_hand_is_refused() {
    let db = TestDb::migrated().await.unwrap();
    let name: String = one(
        &db.pool,
        "SELECT 'auth_audit_log_' || to_char(now() AT TIME ZONE 'UTC' - interval '2 years', 'YYYY_MM')",
    )
    .await;
    run(
        &db.pool,
        "SELECT create_audit_log_partition((now() AT TIME ZONE 'UTC' - interval '2 years')::date)",
    )
    .await;
    let err = refused(&db.pool, &format!("DROP TABLE {name}")).await;
    assert!(err.contains("retention"), "{err}");
    assert!(partitions(&db.pool, "auth_audit_log").await.contains(&name));
}

/// `table day → name lower upper`, computed in a zone where local and UTC days differ.
#[tokio::test]
async fn partition_for_names_and_bounds_are_utc_at_the_calendar_edges() {
    let db = TestDb::migrated().await.unwrap();
    let cases = [
        "auth_audit_log 2024-02-29 auth_audit_log_2024_02 2024-02-01 2024-03-01",
        "auth_audit_log 2025-12-31 auth_audit_log_2025_12 2025-12-01 2026-01-01",
        "sessions 2024-02-29 sessions_2024_02_29 2024-02-29 2024-03-01",
        "sessions 2025-12-31 sessions_2025_12_31 2025-12-31 2026-01-01",
        "refresh_tokens 2026-01-01 refresh_tokens_2025_12_29 2025-12-29 2026-01-05",
        "refresh_tokens 2021-01-03 refresh_tokens_2020_12_28 2020-12-28 2021-01-04",
        "refresh_tokens 2024-03-03 refresh_tokens_2024_02_26 2024-02-26 2024-03-04",
        "refresh_tokens 2024-03-04 refresh_tokens_2024_03_04 2024-03-04 2024-03-11",
        "rate_limits 2024-12-31 rate_limits_2024_12_31 2024-12-31 2025-01-01",
    ];
    let mut conn = db.pool.acquire().await.unwrap();
    sqlx::query("SET TimeZone = 'Pacific/Auckland'")
        .execute(&mut *conn)
        .await
        .unwrap();
    for case in cases {
        let [table, day, name, lower, upper]: [&str; 5] =
            case.split(' ').collect::<Vec<_>>().try_into().unwrap();
        let got: (String, bool, bool) = sqlx::query_as(
            "SELECT partition_name, lower_bound = ($3 || ' 00:00:00+00')::timestamptz, \
                    upper_bound = ($4 || ' 00:00:00+00')::timestamptz \
             FROM rustcare_partition_for($1, $2::date)",
        )
        .bind(table)
        .bind(day)
        .bind(lower)
        .bind(upper)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        assert_eq!(got, (name.to_string(), true, true), "{case}");
    }
}

/// In Auckland 23:30 UTC is already the next day: the row must still land in the UTC day's partition.
#[tokio::test]
async fn a_sessions_partition_made_in_auckland_holds_the_utc_day() {
    let db = TestDb::migrated().await.unwrap();
    let mut conn = db.pool.acquire().await.unwrap();
    let home: String = sqlx::raw_sql(
        "SET TimeZone = 'Pacific/Auckland'; \
         SELECT create_sessions_partition('2026-03-15'), create_sessions_partition('2026-03-16'); \
         INSERT INTO sessions (user_id, created_at, expires_at, token_hash) \
         VALUES (gen_random_uuid(), '2026-03-15 23:30:00+00', '2026-03-16 23:30:00+00', md5('x')) \
         RETURNING tableoid::regclass::text",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap()
    .last()
    .map(|row| sqlx::Row::get(row, 0))
    .unwrap();
    assert_eq!(home, "sessions_2026_03_15");
    drop(conn);
    let bound: String = one(
        &db.pool,
        "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'sessions_2026_03_15'",
    )
    .await;
    assert_eq!(
        bound,
        "FOR VALUES FROM ('2026-03-15 00:00:00+00') TO ('2026-03-16 00:00:00+00')"
    );
}

#[tokio::test]
async fn creating_is_logged_with_its_actor_and_the_log_is_append_only() {
    let db = TestDb::migrated().await.unwrap();
    run(
        &db.pool,
        "BEGIN; SELECT set_config('rustcare.actor', 'test:alice', true); \
         SELECT create_rate_limits_partition('2031-05-06'); COMMIT;",
    )
    .await;
    let row: (String, String, String, bool) = sqlx::query_as(
        "SELECT actor, action, outcome, \
                lower_bound = '2031-05-06 00:00:00+00' AND upper_bound = '2031-05-07 00:00:00+00' \
         FROM partition_action_log WHERE partition_name = 'rate_limits_2031_05_06'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        row,
        ("test:alice".into(), "create".into(), "ok".into(), true)
    );
    let count = "SELECT count(*) FROM partition_action_log";
    let before: i64 = one(&db.pool, count).await;
    for sql in [
        "UPDATE partition_action_log SET detail = 'edited'",
        "DELETE FROM partition_action_log",
        "TRUNCATE partition_action_log",
    ] {
        assert!(
            refused(&db.pool, sql).await.contains("append-only"),
            "{sql}"
        );
    }
    assert_eq!(one::<i64>(&db.pool, count).await, before);
}

#[tokio::test]
async fn a_sealed_audit_partition_refuses_update_delete_and_truncate() {
    let db = TestDb::migrated().await.unwrap();
    run(
        &db.pool,
        "SELECT create_audit_log_partition('2024-02-10'); \
         INSERT INTO auth_audit_log (\"timestamp\", event_type, outcome) \
         VALUES ('2024-02-10 12:00:00+00', 'login', 'success');",
    )
    .await;
    let seal = "SELECT rustcare_seal_partition('auth_audit_log_2024_02')";
    let (first, second): (bool, bool) = (one(&db.pool, seal).await, one(&db.pool, seal).await);
    assert_eq!((first, second), (true, false));
    for sql in [
        "UPDATE auth_audit_log SET outcome = 'failure' WHERE \"timestamp\" < '2024-03-01'",
        "DELETE FROM auth_audit_log WHERE \"timestamp\" < '2024-03-01'",
        "TRUNCATE auth_audit_log_2024_02",
        "TRUNCATE auth_audit_log",
    ] {
        assert!(refused(&db.pool, sql).await.contains("sealed"), "{sql}");
    }
    let kept: String = one(
        &db.pool,
        "SELECT string_agg(outcome, ',') FROM auth_audit_log",
    )
    .await;
    assert_eq!(kept, "success");
    let open = "SELECT rustcare_seal_partition('auth_audit_log_' || to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM'))";
    assert!(refused(&db.pool, open).await.contains("still open"));
    let logged: i64 = one(
        &db.pool,
        "SELECT count(*) FROM partition_action_log WHERE action = 'seal' AND partition_name = 'auth_audit_log_2024_02'",
    )
    .await;
    assert_eq!(logged, 1);
}

/// Sessions (auto, 90 days): partitions past retention are detached and dropped, each step logged;
/// younger ones stay; under cleanup_mode = approval nothing goes.
#[tokio::test]
async fn drop_old_partitions_cleans_auto_tables_only_and_logs_each_step() {
    let db = TestDb::migrated().await.unwrap();
    run(
        &db.pool,
        "SELECT create_sessions_partition((now() AT TIME ZONE 'UTC')::date - d) FROM generate_series(85, 95) d",
    )
    .await;
    let expired = "SELECT count(*) FROM rustcare_expired_partitions('sessions')";
    // Upper bound at or before now - 90 days: the days 91 to 95 back (day 90's ends after it).
    assert_eq!(one::<i64>(&db.pool, expired).await, 5);
    let policy = |mode: &str| {
        format!("UPDATE partition_policy SET cleanup_mode = '{mode}' WHERE table_name = 'sessions'")
    };
    run(&db.pool, &policy("approval")).await;
    let dropped: i32 = one(&db.pool, "SELECT drop_old_partitions()").await;
    assert_eq!(dropped, 0, "approval tables are never cleaned by SQL");

    run(&db.pool, &policy("auto")).await;
    let dropped: i32 = one(&db.pool, "SELECT drop_old_partitions()").await;
    assert_eq!(dropped, 5);
    assert_eq!(one::<i64>(&db.pool, expired).await, 0);
    let young_kept: i64 = one(
        &db.pool,
        "SELECT count(*) FROM generate_series(85, 90) d WHERE to_regclass('sessions_' \
         || to_char((now() AT TIME ZONE 'UTC')::date - d, 'YYYY_MM_DD')) IS NOT NULL",
    )
    .await;
    assert_eq!(young_kept, 6);
    let steps: (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE action = 'detach'), count(*) FILTER (WHERE action = 'drop') \
         FROM partition_action_log WHERE table_name = 'sessions' AND outcome = 'ok'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(steps, (5, 5));
}

#[tokio::test]
async fn dropping_the_whole_audit_log_is_refused_while_it_holds_young_partitions() {
    let db = TestDb::migrated().await.unwrap();
    let err = refused(&db.pool, "DROP TABLE auth_audit_log").await;
    assert!(err.contains("retention"), "{err}");
    assert!(one::<bool>(&db.pool, "SELECT to_regclass('auth_audit_log') IS NOT NULL").await);
}

#[tokio::test]
async fn unknown_tables_and_stray_tables_are_refused_not_guessed() {
    let db = TestDb::migrated().await.unwrap();
    let err = refused(
        &db.pool,
        "SELECT rustcare_create_partition('users', '2030-01-01')",
    )
    .await;
    assert!(err.contains("no partition_policy row"), "{err}");
    run(&db.pool, "CREATE TABLE sessions_2030_01_01 (x int)").await;
    let err = refused(&db.pool, "SELECT create_sessions_partition('2030-01-01')").await;
    assert!(err.contains("not a partition"), "{err}");
}

#[tokio::test]
async fn the_policy_check_counts_calendar_years_not_360_day_ones() {
    let db = TestDb::migrated().await.unwrap();
    let set = |r: &str| {
        format!("UPDATE partition_policy SET retention = '{r}' WHERE table_name = 'auth_audit_log'")
    };
    // '2170 days' compares above '6 years' as an interval (30-day months) but is under six years.
    let err = refused(&db.pool, &set("2170 days")).await;
    assert!(
        err.contains("partition_policy_audit_retention_hipaa_check"),
        "{err}"
    );
    run(&db.pool, &set("72 months")).await;
    run(&db.pool, &set("2200 days")).await;
}

#[tokio::test]
async fn a_default_partition_comes_when_the_policy_asks_and_the_lock_key_is_the_contract_s() {
    let db = TestDb::migrated().await.unwrap();
    run(
        &db.pool,
        "UPDATE partition_policy SET default_partition = true WHERE table_name = 'rate_limits'",
    )
    .await;
    let first: i32 = one(&db.pool, "SELECT create_partitions_if_needed()").await;
    let second: i32 = one(&db.pool, "SELECT create_partitions_if_needed()").await;
    assert!(first >= 1 && second == 0, "{first}, {second}");
    let bound: String = one(
        &db.pool,
        "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'rate_limits_default'",
    )
    .await;
    assert_eq!(bound, "DEFAULT");
    let key = "SELECT rustcare_partition_lock_key('sessions') = hashtextextended('rustcare_partitions:sessions', 0)";
    assert!(one::<bool>(&db.pool, key).await);
}
