//! The quick check against a real PostgreSQL: `quick_snapshot` holds exactly the partitions of
//! the full snapshot that its scope names (`QuickTable::reads`, pending detaches, defaults), odd
//! relations included or left out by the same rules, and `nothing_due` answers "nothing" on a
//! maintained database and not once something is due.
#![cfg(feature = "postgres")]

use chrono::Utc;
use partitioning::catalog::{CatalogSnapshot, PartitionInfo};
use partitioning::config::Config;
use partitioning::pg::catalog::{self, nothing_due, quick_snapshot, Detail};
use partitioning::pg::executor::{self, ExecOptions};
use partitioning::pg::testdb::TestDb;
use partitioning::planner::quick::{quick_scope, QuickScope};
use partitioning::planner::{self, PlanOptions};
use sqlx::PgPool;

async fn sql(pool: &PgPool, text: &str) {
    sqlx::raw_sql(text).execute(pool).await.unwrap();
}

/// Runs maintenance as the CLI does, from a full snapshot.
async fn maintain(pool: &PgPool, config: &Config) {
    let snap = catalog::snapshot(pool, &[]).await.unwrap();
    let plan = planner::plan(config, &snap, snap.taken_at, &PlanOptions::maintenance());
    executor::execute(pool, config, &plan, &ExecOptions::default(), &|_| {})
        .await
        .unwrap();
}

type Row = (String, u32, String, bool, i64);

/// What the planner reads of each partition the quick check holds, per table; with `scope`, the
/// full snapshot cut to it as `QUICK_SQL` reads.
fn rows(s: &CatalogSnapshot, scope: Option<&QuickScope>) -> Vec<(String, Vec<Row>, Vec<String>)> {
    let row = |p: &PartitionInfo| {
        let bound = p.bound.map_or(p.raw_bound.clone(), |b| b.to_string());
        (p.name.clone(), p.oid, bound, p.detach_pending, p.est_rows)
    };
    s.tables
        .iter()
        .map(|t| {
            let q = scope.map(|s| s.tables.iter().find(|q| q.table == t.table).unwrap());
            let kept = |p: &&PartitionInfo| q.is_none_or(|q| p.detach_pending || q.reads(&p.name));
            let mut parts: Vec<Row> = t.partitions.iter().filter(kept).map(row).collect();
            parts.extend(t.default_partition.iter().map(row));
            let left = t.detached.iter().filter(kept).map(|p| p.name.clone());
            (t.table.name().to_string(), parts, left.collect())
        })
        .collect()
}

#[tokio::test]
async fn the_quick_read_is_the_full_snapshot_cut_to_its_scope() {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    let config = Config::default();
    let opts = PlanOptions::maintenance();
    maintain(pool, &config).await;
    assert!(
        nothing_due(pool, &config, &opts).await.unwrap().is_some(),
        "a maintained database has nothing due"
    );

    sql(
        pool,
        r#"
        -- Ours, past the 90 days of sessions; and one far ahead, to be left detach-pending.
        CREATE TABLE sessions_2019_01_01 PARTITION OF sessions
            FOR VALUES FROM ('2019-01-01 00:00:00+00') TO ('2019-01-02 00:00:00+00');
        CREATE TABLE sessions_2099_04_01 PARTITION OF sessions
            FOR VALUES FROM ('2099-04-01 00:00:00+00') TO ('2099-04-02 00:00:00+00');
        -- Foreign: another name; our name over a shifted bound.
        CREATE TABLE sessions_legacy PARTITION OF sessions
            FOR VALUES FROM ('2018-01-01 00:00:00+00') TO ('2018-02-01 00:00:00+00');
        CREATE TABLE sessions_2018_06_01 PARTITION OF sessions
            FOR VALUES FROM ('2018-06-01 05:00:00+00') TO ('2018-06-02 05:00:00+00');
        -- Leftovers: past retention, within it, and one in another schema (not ours).
        CREATE TABLE sessions_2019_02_01 (LIKE sessions);
        CREATE TABLE sessions_2099_01_01 (LIKE sessions);
        CREATE SCHEMA other;
        CREATE TABLE other.sessions_2019_03_01 (LIKE sessions);
        -- A default partition holding a row no partition takes.
        CREATE TABLE rate_limits_default PARTITION OF rate_limits DEFAULT;
        "#,
    )
    .await;
    // The DETACH CONCURRENTLY a killed run leaves half done: a reader holds the partition, a
    // statement timeout interrupts the detach in its second step.
    let mut reader = pool.begin().await.unwrap();
    sqlx::query("SELECT count(*) FROM sessions_2099_04_01")
        .execute(&mut *reader)
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    sql_on(&mut conn, "SET statement_timeout = '700ms'").await;
    let err =
        sqlx::raw_sql("ALTER TABLE sessions DETACH PARTITION sessions_2099_04_01 CONCURRENTLY")
            .execute(&mut *conn)
            .await
            .unwrap_err();
    assert!(err.to_string().contains("statement timeout"), "{err}");
    reader.rollback().await.unwrap();
    drop(conn);

    let scope = quick_scope(&config, &opts, Utc::now()).unwrap();
    let full = catalog::snapshot_with(pool, &[], Detail::Plan)
        .await
        .unwrap();
    let quick = quick_snapshot(pool, &scope).await.unwrap();
    assert_eq!(rows(&quick, None), rows(&full, Some(&scope)));
    let sessions = &rows(&quick, None)[1];
    let names: Vec<&str> = sessions.1.iter().map(|r| r.0.as_str()).collect();
    for name in [
        "sessions_2019_01_01",
        "sessions_2099_04_01",
        "sessions_2018_06_01",
    ] {
        assert!(names.contains(&name), "{name} read: {names:?}");
    }
    assert!(!names.contains(&"sessions_legacy"), "{names:?}");
    assert_eq!(sessions.2, vec!["sessions_2019_02_01".to_string()]);
    assert_eq!(
        rows(&quick, None)[3].1.last().map(|r| r.0.as_str()),
        Some("rate_limits_default")
    );
    assert!(nothing_due(pool, &config, &opts).await.unwrap().is_none());
}

async fn sql_on(conn: &mut sqlx::PgConnection, text: &str) {
    sqlx::raw_sql(text).execute(conn).await.unwrap();
}

#[tokio::test]
async fn something_due_is_never_missed() {
    let db = TestDb::migrated().await.unwrap();
    let pool = &db.pool;
    let config = Config::default();
    let opts = PlanOptions::maintenance();
    maintain(pool, &config).await;
    assert!(nothing_due(pool, &config, &opts).await.unwrap().is_some());

    // Each of these makes maintenance due; the quick check must say so, and the full plan agrees.
    let cases = [
        // The last day of the window gone.
        "DROP TABLE sessions_{last}",
        // A leftover of a killed cleanup, past retention.
        "CREATE TABLE sessions_2019_02_01 (LIKE sessions)",
        // Rows in a default partition.
        "CREATE TABLE refresh_tokens_default PARTITION OF refresh_tokens DEFAULT",
    ];
    let last: String = sqlx::query_scalar(
        "SELECT max(c.relname)::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'sessions'::regclass",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let last = last.trim_start_matches("sessions_").to_string();
    for (i, case) in cases.iter().enumerate() {
        sql(pool, &case.replace("{last}", &last)).await;
        if i == 2 {
            sql(
                pool,
                "INSERT INTO refresh_tokens (user_id, token_hash, created_at, expires_at) \
                 VALUES (gen_random_uuid(), repeat('ab', 16), '2001-01-01', '2001-02-01'); \
                 ANALYZE refresh_tokens_default",
            )
            .await;
        }
        let snap = catalog::snapshot(pool, &[]).await.unwrap();
        let plan = planner::plan(&config, &snap, snap.taken_at, &opts);
        assert!(
            !plan.actions.is_empty(),
            "case {case}: the planner has work"
        );
        assert!(
            nothing_due(pool, &config, &opts).await.unwrap().is_none(),
            "case {case}: the quick check must not say nothing is due"
        );
        maintain(pool, &config).await;
    }
}
