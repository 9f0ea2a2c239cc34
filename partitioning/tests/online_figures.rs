//! The figures of issue 7: 1M `sessions` rows migrated and rolled back online while two writers
//! insert and update continuously. Prints rows lost, failed writes, write latencies (a baseline
//! window first) and the lock waits of the writers as the server saw them. Minutes, so ignored:
//! `cargo nextest run -p partitioning --features postgres --test online_figures --run-ignored
//! ignored-only --no-capture` (`RUSTCARE_FIGURE_ONLY=migrate` or `rollback` for one direction).
//! docs/online-figures.md records the runs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use partitioning::config::Config;
use partitioning::pg::migrate;
use partitioning::pg::online::{self, OnlineOptions};
use partitioning::pg::testdb::TestDb;
use partitioning::table::ManagedTable;
use sqlx::PgPool;

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
#[ignore = "1M rows: minutes"]
async fn figures_one_million_rows_under_load() {
    let db = TestDb::empty().await.unwrap();
    migrate::up_to(&db.pool, 5).await.unwrap();
    let pool = &db.pool;
    sqlx::query(
        "INSERT INTO sessions (user_id, created_at, expires_at, token_hash) \
         SELECT gen_random_uuid(), now() - (n % 90) * interval '1 day' - (n % 1439) * interval '1 minute', \
                now() + interval '1 day', md5(n::text) FROM generate_series(1, 1000000) AS n",
    )
    .execute(pool)
    .await
    .unwrap();
    // RUSTCARE_FIGURE_ONLY=migrate|rollback measures one direction (rollback then starts from 006's
    // offline conversion of the same rows), so each fits in one sitting on a loaded machine.
    let only = std::env::var("RUSTCARE_FIGURE_ONLY").unwrap_or_default();
    let directions: &[bool] = match only.as_str() {
        "migrate" => &[true],
        "rollback" => {
            migrate::up_to(pool, 6).await.unwrap();
            &[false]
        }
        _ => &[true, false],
    };
    sqlx::query("ANALYZE sessions").execute(pool).await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // Writes are timed in two windows: a baseline before the run starts (what this machine does
    // to a write anyway) and during the run. Slow writes (> 50 ms) are kept with their time.
    let during = Arc::new(AtomicBool::new(false));
    for &migrate_dir in directions {
        stop.store(false, Ordering::Relaxed);
        during.store(false, Ordering::Relaxed);
        let before: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
            .fetch_one(pool)
            .await
            .unwrap();
        let t_all = Instant::now();
        let writers = [
            writer(pool.clone(), stop.clone(), during.clone(), t_all),
            writer(pool.clone(), stop.clone(), during.clone(), t_all),
        ];
        let sampler = LockWaits::spawn(pool.clone(), stop.clone(), during.clone());
        tokio::time::sleep(Duration::from_secs(15)).await;
        println!(
            "START {}: load average {}",
            if migrate_dir { "migrate" } else { "rollback" },
            loadavg()
        );
        during.store(true, Ordering::Relaxed);
        let t0 = Instant::now();
        let started_at = (t0 - t_all).as_secs_f64();
        let r = online::run(
            pool,
            &Config::default(),
            ManagedTable::Sessions,
            migrate_dir,
            &OnlineOptions::default(),
            &|_, _| {},
        )
        .await
        .unwrap();
        let took = t0.elapsed();
        stop.store(true, Ordering::Relaxed);
        let (mut base, mut w) = (Window::default(), Window::default());
        for h in writers {
            let (b, d) = h.await.unwrap();
            base.merge(b);
            w.merge(d);
        }
        let (lock_base, lock_run) = sampler.await.unwrap();
        let inserted = base.inserts + w.inserts;
        let failed = base.failed + w.failed;
        let after: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
            .fetch_one(pool)
            .await
            .unwrap();
        w.slow.sort_by(|a, b| b.1.total_cmp(&a.1));
        let worst5: Vec<String> = w
            .slow
            .iter()
            .take(5)
            .map(|(at, ms)| format!("{ms:.0} ms at {:.1} s", at - started_at))
            .collect();
        println!(
            "FIGURE {}: {before} rows before, {after} after, {inserted} inserted; {took:.1?} total; \
             during the run {} writes ok, {} failed, longest {:.1?}, {} over 50 ms, {} over 100 ms \
             (slowest: {}); baseline (15 s before) {} writes, longest {:.1?}, {} over 50 ms, {} over 100 ms; \
             swap {} ms in {} attempt(s); load average at the end {}",
            r.direction,
            w.ok,
            w.failed,
            w.worst,
            w.over50,
            w.over100,
            worst5.join(", "),
            base.ok,
            base.worst,
            base.over50,
            base.over100,
            r.swap_ms,
            r.swap_attempts,
            loadavg()
        );
        println!(
            "LOCK WAITS {}: during the run {}; baseline {}",
            r.direction,
            lock_run.describe(started_at),
            lock_base.describe(0.0)
        );
        assert_eq!(failed, 0);
        assert_eq!(after, before + inserted as i64, "no row lost");
        online::finish(pool, ManagedTable::Sessions, migrate_dir)
            .await
            .unwrap();
    }
}

fn loadavg() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// One writer: autocommit statements as fast as they go, every other one an INSERT of a new
/// session, the others an UPDATE of a pseudo-random seeded row (anywhere in the table, including
/// rows a batch holds). Returns the (baseline, during) windows.
fn writer(
    pool: PgPool,
    stop: Arc<AtomicBool>,
    during: Arc<AtomicBool>,
    t0: Instant,
) -> tokio::task::JoinHandle<(Window, Window)> {
    tokio::spawn(async move {
        let mut w = Window::default();
        let mut base = Window::default();
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let started = Instant::now();
            let r = if n.is_multiple_of(2) {
                sqlx::query(
                    "INSERT INTO sessions (user_id, created_at, expires_at, token_hash) \
                     VALUES (gen_random_uuid(), now(), now() + interval '1 day', md5(random()::text))",
                )
                .execute(&pool)
                .await
            } else {
                sqlx::query(
                    "UPDATE sessions SET last_seen_at = now() \
                     WHERE token_hash = md5(($1 % 1000000 + 1)::text)",
                )
                .bind(n as i64 * 7919)
                .execute(&pool)
                .await
            };
            let took = started.elapsed();
            let win = if during.load(Ordering::Relaxed) {
                &mut w
            } else {
                &mut base
            };
            win.add(
                took,
                r.is_ok(),
                n.is_multiple_of(2),
                (started - t0).as_secs_f64(),
            );
        }
        (base, w)
    })
}

/// Write latencies of one window of the figure's load.
#[derive(Default)]
struct Window {
    ok: u64,
    failed: u64,
    inserts: u64,
    worst: Duration,
    over50: u64,
    over100: u64,
    /// (seconds since the load started, ms) of writes over 50 ms, at most 500.
    slow: Vec<(f64, f64)>,
}

impl Window {
    fn add(&mut self, took: Duration, ok: bool, insert: bool, at: f64) {
        if ok {
            self.ok += 1;
            self.inserts += u64::from(insert);
        } else {
            self.failed += 1;
        }
        self.worst = self.worst.max(took);
        if took > Duration::from_millis(50) {
            self.over50 += 1;
            if self.slow.len() < 500 {
                self.slow.push((at, took.as_secs_f64() * 1000.0));
            }
        }
        self.over100 += u64::from(took > Duration::from_millis(100));
    }

    fn merge(&mut self, o: Window) {
        self.ok += o.ok;
        self.failed += o.failed;
        self.inserts += o.inserts;
        self.worst = self.worst.max(o.worst);
        self.over50 += o.over50;
        self.over100 += o.over100;
        self.slow.extend(o.slow);
    }
}

/// The writers' lock waits as the server records them: `pg_locks.waitstart` (PostgreSQL 14+) is
/// when a backend began waiting for a lock it has not been granted, so every sample gives each
/// waiting INSERT/UPDATE of the load its exact wait so far. A wait is identified by (pid,
/// waitstart); its length is the age seen in its last sample, short of the truth by at most one
/// sampling interval (~5 ms plus the query). The migration's own statements (`online::run`'s
/// connections, which wait under their own `lock_timeout`) are left out: the goal is about what
/// the application waits.
#[derive(Default)]
struct LockWaits {
    /// (pid, waitstart) → (longest age seen in ms, seconds since the sampler began when first seen).
    waits: HashMap<(i32, DateTime<Utc>), (f64, f64)>,
    /// What the longer waits (20 ms and up) waited for, by (pid, waitstart).
    what: HashMap<(i32, DateTime<Utc>), String>,
    samples: u64,
    /// Samples taken, and the longest gap between two (the resolution actually achieved).
    longest_gap: Duration,
}

/// Each waiting write: pid, when it began waiting, for how long so far (ms), and from 20 ms on what
/// it waits for (lock type and mode, relation) and behind whom (the blockers' statements).
const WAITS_SQL: &str = "SELECT l.pid, l.waitstart, \
       (extract(epoch FROM clock_timestamp() - l.waitstart) * 1000)::float8, \
       CASE WHEN clock_timestamp() - l.waitstart > interval '20 ms' THEN \
         l.locktype || ' ' || l.mode || coalesce(' on ' || l.relation::regclass::text, '') || ' behind: ' || \
         coalesce((SELECT string_agg(left(regexp_replace(b.query, '\\s+', ' ', 'g'), 90) || ' [' || b.state || ']', '; ') \
                   FROM pg_stat_activity b WHERE b.pid = ANY (pg_blocking_pids(l.pid))), '?') END \
     FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
     WHERE NOT l.granted AND l.waitstart IS NOT NULL AND a.datname = current_database() \
       AND (a.query LIKE 'INSERT INTO sessions %' OR a.query LIKE 'UPDATE sessions SET last_seen_at%')";

impl LockWaits {
    /// Samples every ~5 ms until `stop`; returns the (baseline, during-run) waits.
    fn spawn(
        pool: PgPool,
        stop: Arc<AtomicBool>,
        during: Arc<AtomicBool>,
    ) -> tokio::task::JoinHandle<(LockWaits, LockWaits)> {
        tokio::spawn(async move {
            let mut conn = pool.acquire().await.unwrap();
            let (mut base, mut run) = (LockWaits::default(), LockWaits::default());
            let t0 = Instant::now();
            let mut last = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let rows: Vec<(i32, DateTime<Utc>, f64, Option<String>)> =
                    sqlx::query_as(WAITS_SQL)
                        .fetch_all(&mut *conn)
                        .await
                        .unwrap();
                let win = if during.load(Ordering::Relaxed) {
                    &mut run
                } else {
                    &mut base
                };
                win.samples += 1;
                win.longest_gap = win.longest_gap.max(last.elapsed());
                last = Instant::now();
                let at = t0.elapsed().as_secs_f64();
                for (pid, start, ms, what) in rows {
                    let e = win.waits.entry((pid, start)).or_insert((0.0, at));
                    e.0 = e.0.max(ms);
                    if let Some(what) = what {
                        win.what.insert((pid, start), what);
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (base, run)
        })
    }

    fn describe(&self, offset: f64) -> String {
        let mut all: Vec<(f64, f64, &str)> = self
            .waits
            .iter()
            .map(|(k, v)| (v.0, v.1, self.what.get(k).map_or("", String::as_str)))
            .collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0));
        let longest = all.first().map_or(0.0, |w| w.0);
        let over = |ms: f64| all.iter().filter(|w| w.0 > ms).count();
        let top: Vec<String> = all
            .iter()
            .take(5)
            .map(|(ms, at, what)| format!("{ms:.1} ms at {:.1} s ({what})", at - offset))
            .collect();
        format!(
            "{} waits seen in {} samples (longest gap between samples {:.1?}), longest {longest:.1} ms, \
             {} over 50 ms, {} over 100 ms (longest: {})",
            all.len(),
            self.samples,
            self.longest_gap,
            over(50.0),
            over(100.0),
            top.join(", ")
        )
    }
}
