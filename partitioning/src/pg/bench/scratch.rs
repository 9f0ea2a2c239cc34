//! The bench's throwaway database (created, migrated, dropped by the bench itself), the
//! description of the machine it runs on, and the plain SQL loop the baselines and set-ups share.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

use super::{BenchError, BenchEvent, BenchProgress, Machine};
use crate::calendar::{bound_literal, PartitionBound};
use crate::pg::migrate;
use crate::table::quote_ident;

/// A database of its own on the target server; `drop_database` removes it, and so does dropping
/// the value when the bench stops early (an error, or Ctrl-C cancelling the run).
pub(super) struct Scratch {
    pub pool: PgPool,
    name: String,
    admin: PgConnectOptions,
    dropped: AtomicBool,
}

impl Scratch {
    /// Creates `rustcare_bench_<pid>_<random>` and applies every migration to it.
    pub async fn create(admin: &PgConnectOptions) -> Result<Scratch, BenchError> {
        // pg_partman's notices (e.g. "No child tables created" when it adopts a layout) are not
        // for the person watching the bench.
        let admin = admin
            .clone()
            .disable_statement_logging()
            .options([("client_min_messages", "error")]);
        let name = format!(
            "rustcare_bench_{}_{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        let mut conn = PgConnection::connect_with(&admin).await?;
        sqlx::raw_sql(&format!("CREATE DATABASE {}", quote_ident(&name)))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let ready = async {
            let pool = PgPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(admin.clone().database(&name))
                .await?;
            migrate::up(&pool).await?;
            Ok::<PgPool, BenchError>(pool)
        };
        match ready.await {
            Ok(pool) => Ok(Scratch {
                pool,
                name,
                admin,
                dropped: AtomicBool::new(false),
            }),
            Err(e) => {
                // Best effort: the error that matters is the one that stopped us.
                let _ = drop_named(&admin, &name).await;
                Err(e)
            }
        }
    }

    /// Closes the pool and drops the database, even with sessions still attached.
    pub async fn drop_database(&self) -> Result<(), BenchError> {
        self.pool.close().await;
        drop_named(&self.admin, &self.name).await?;
        self.dropped.store(true, Ordering::SeqCst);
        Ok(())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.dropped.load(Ordering::SeqCst) {
            return;
        }
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // No async context can be relied on here: a private runtime on its own thread.
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            let _ = rt.block_on(drop_named(&admin, &name));
        });
        let _ = handle.join();
    }
}

async fn drop_named(admin: &PgConnectOptions, name: &str) -> Result<(), BenchError> {
    let mut conn = PgConnection::connect_with(admin).await?;
    sqlx::raw_sql(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_ident(name)
    ))
    .execute(&mut conn)
    .await?;
    conn.close().await?;
    Ok(())
}

/// nproc, load, PostgreSQL version and the settings that move the figures.
pub(super) async fn machine(pool: &PgPool, server: &str) -> Result<Machine, BenchError> {
    let (version, settings): (String, Vec<String>) = sqlx::query_as(
        "SELECT current_setting('server_version'), \
                ARRAY[current_setting('fsync'), current_setting('synchronous_commit'), \
                      current_setting('shared_buffers'), current_setting('max_locks_per_transaction'), \
                      current_setting('jit')]",
    )
    .fetch_one(pool)
    .await?;
    let names = [
        "fsync",
        "synchronous_commit",
        "shared_buffers",
        "max_locks_per_transaction",
        "jit",
    ];
    Ok(Machine {
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        load_average: load_average(),
        load_average_end: None,
        pg_version: version,
        server: server.to_string(),
        settings: names.iter().map(|n| n.to_string()).zip(settings).collect(),
    })
}

/// The 1, 5 and 15 minute load averages (`/proc/loadavg`), where there is one.
pub(super) fn load_average() -> Option<String> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

/// The plain way: one `CREATE TABLE ... PARTITION OF` statement per partition, each sent alone
/// and committed alone (as psql runs a script), on one connection. Returns the time taken.
pub(super) async fn create_partitions_of(
    pool: &PgPool,
    parent: &str,
    partitions: &[(String, PartitionBound)],
    progress: BenchProgress<'_>,
) -> Result<Duration, BenchError> {
    let statements: Vec<String> = partitions
        .iter()
        .map(|(name, b)| {
            format!(
                "CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})",
                quote_ident(name),
                quote_ident(parent),
                bound_literal(b.lower),
                bound_literal(b.upper)
            )
        })
        .collect();
    let mut conn = pool.acquire().await?;
    let started = Instant::now();
    for sql in &statements {
        sqlx::raw_sql(sql).execute(&mut *conn).await?;
        progress(BenchEvent::Step);
    }
    Ok(started.elapsed())
}

/// A pool of one new connection to the same database: its backend has no cached catalog yet, as
/// for a CLI run or a cron job. Opening it is not part of any timing.
pub(super) async fn fresh_pool(pool: &PgPool) -> Result<PgPool, BenchError> {
    let opts = pool.connect_options();
    Ok(PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with((*opts).clone())
        .await?)
}
