//! `migrate` / `rollback` killed with SIGKILL at each point a crash can hit (the shadow built but
//! no trigger yet; inside a backfill batch; inside the verification; inside the swap, renamed but
//! not committed), each time resumed by a fresh run, while a writer inserts throughout: the state
//! after each kill is the one before the interrupted step, and no row is lost.
//! The points are reached with the CLI's test hook `RUSTCARE_ONLINE_PAUSE_AT`, which makes the run
//! wait there (logging "paused at <point>") until the test kills it.

mod cli_common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cli_common::{at_005, cli, text, BIN};
use partitioning::pg::testdb::TestDb;
use partitioning::pg::workspace_root;
use sqlx::PgPool;
use tokio::io::{AsyncBufReadExt, BufReader};

const SEEDED: i64 = 5_000;

/// Inserts sessions until `stop`, one transaction each; returns the ids written.
fn writer(pool: PgPool, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<HashSet<String>> {
    tokio::spawn(async move {
        let mut ids = HashSet::new();
        let mut n = 0u32;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let id: String = sqlx::query_scalar(
                "INSERT INTO sessions (user_id, created_at, expires_at, token_hash) \
                 VALUES (gen_random_uuid(), now() - ($1 % 20) * interval '1 day', now() + interval '1 day', \
                         md5(random()::text)) RETURNING id::text",
            )
            .bind(n as i32)
            .fetch_one(&pool)
            .await
            .expect("a write of the application never fails");
            ids.insert(id);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        ids
    })
}

/// Runs the CLI with `args`, waits until it logs that it paused at `point`, then SIGKILLs it.
async fn kill_at(db: &TestDb, args: &[&str], point: &str) {
    let mut child = tokio::process::Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("RUSTCARE_HOME", workspace_root())
        .env("RUST_LOG", "warn")
        .env("RUSTCARE_ONLINE_PAUSE_AT", point)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let wanted = format!("paused at {point}");
    let paused = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            let hit = line.contains(&wanted);
            seen.push(line);
            if hit {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    child.kill().await.unwrap(); // SIGKILL
    assert!(paused, "{args:?} never paused at {point}: {seen:?}");
}

async fn state(pool: &PgPool) -> Option<String> {
    sqlx::query_scalar("SELECT phase FROM online_migration WHERE table_name = 'sessions'")
        .fetch_optional(pool)
        .await
        .unwrap()
}

async fn relkind(pool: &PgPool, name: &str) -> Option<String> {
    sqlx::query_scalar("SELECT relkind::text FROM pg_class WHERE oid = to_regclass($1)")
        .bind(name)
        .fetch_optional(pool)
        .await
        .unwrap()
}

async fn has_capture_trigger(pool: &PgPool) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'sessions_online_capture')",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Every id the writer wrote is in `sessions`, and nothing else was added or lost.
async fn check_rows(pool: &PgPool, written: &HashSet<String>) {
    let ids: Vec<String> = sqlx::query_scalar("SELECT id::text FROM sessions")
        .fetch_all(pool)
        .await
        .unwrap();
    let have: HashSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), have.len(), "no duplicate ids");
    assert_eq!(ids.len() as i64, SEEDED + written.len() as i64);
    assert!(
        written.iter().all(|id| have.contains(id)),
        "every write kept"
    );
    assert!(written.len() > 20, "the writer wrote ({})", written.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_killed_at_every_step_resumes_and_keeps_every_row() {
    let db = at_005(SEEDED).await;
    let pool = &db.pool;
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(pool.clone(), stop.clone());
    let args = ["migrate", "--table", "sessions", "--batch-rows", "500"];

    // Prepare killed with the shadow built and no trigger: nothing recorded yet.
    kill_at(&db, &args, "shadow").await;
    assert_eq!(state(pool).await, None);
    assert_eq!(
        relkind(pool, "sessions_partitioned_new").await.as_deref(),
        Some("p")
    );
    assert!(!has_capture_trigger(pool).await);

    // The rerun rebuilds the shadow; killed inside a batch (rows locked, not committed).
    kill_at(&db, &args, "batch").await;
    assert_eq!(state(pool).await.as_deref(), Some("prepared"));
    assert!(has_capture_trigger(pool).await);

    // Killed inside the verification: the backfill is done and recorded.
    kill_at(&db, &args, "verify").await;
    assert_eq!(state(pool).await.as_deref(), Some("backfilled"));

    // Killed inside the swap: the renames were not committed, the capture still runs.
    kill_at(&db, &args, "swap").await;
    assert_eq!(state(pool).await.as_deref(), Some("verified"));
    assert_eq!(relkind(pool, "sessions").await.as_deref(), Some("r"));
    assert!(has_capture_trigger(pool).await);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let out = cli(&db, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(state(pool).await.as_deref(), Some("swapped"));
    assert_eq!(relkind(pool, "sessions").await.as_deref(), Some("p"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let written = w.await.unwrap();
    check_rows(pool, &written).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_killed_mid_batch_and_mid_swap_resumes_and_keeps_every_row() {
    let db = at_005(SEEDED).await;
    let pool = &db.pool;
    for args in [
        &["migrate", "--table", "sessions"][..],
        &["migrate", "--finish", "--table", "sessions"][..],
    ] {
        let out = cli(&db, args).await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(pool.clone(), stop.clone());
    // Batches of 100 rows: ~250 per daily partition, so a kill lands inside a partition's walk.
    let args = ["rollback", "--table", "sessions", "--batch-rows", "100"];
    kill_at(&db, &args, "batch").await;
    assert_eq!(state(pool).await.as_deref(), Some("prepared"));
    let (kind, key): (String, String) = sqlx::query_as(
        "SELECT cursor_kind, cursor_key::text FROM online_migration WHERE table_name = 'sessions'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(kind, "partition_id");
    assert_ne!(
        key, "-infinity",
        "the cursor names the partition being copied"
    );

    kill_at(&db, &args, "swap").await;
    assert_eq!(state(pool).await.as_deref(), Some("verified"));
    assert_eq!(relkind(pool, "sessions").await.as_deref(), Some("p"));
    tokio::time::sleep(Duration::from_millis(200)).await;

    let out = cli(&db, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(relkind(pool, "sessions").await.as_deref(), Some("r"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let written = w.await.unwrap();
    check_rows(pool, &written).await;
}
