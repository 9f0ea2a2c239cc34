//! What the dashboard's server functions share on the server: the policy file (read the way the
//! CLI reads it), one catalog snapshot with its health report, and error sentences.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use leptos::prelude::*;
use partitioning::catalog::CatalogSnapshot;
use partitioning::config::Config;
use partitioning::health::{self, HealthReport};
use partitioning::pg::catalog;
use partitioning::table::ManagedTable;
use sqlx::PgPool;

use super::ssr::db_error;

/// The policy file the console reads: `RUSTCARE_CONFIG`, else `config/partitioning.conf` under
/// `RUSTCARE_HOME` (the project root; `.` when unset) — the CLI's default path.
pub fn config_path() -> PathBuf {
    match std::env::var_os("RUSTCARE_CONFIG") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => std::env::var_os("RUSTCARE_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
            .join("config")
            .join("partitioning.conf"),
    }
}

/// Reads the policy file on every call (it is small, and an edit then shows without a restart).
/// A missing default file means the shipped defaults, as in the CLI; a bad file is an error
/// naming each bad line.
pub fn load_config() -> Result<Config, ServerFnError> {
    let path = config_path();
    let explicit = std::env::var_os("RUSTCARE_CONFIG").is_some_and(|p| !p.is_empty());
    match std::fs::read_to_string(&path) {
        Ok(text) => Config::parse(&text, &path.display().to_string()).map_err(|e| {
            let lines: Vec<String> = e.errors.iter().map(|l| l.to_string()).collect();
            ServerFnError::new(format!(
                "The policy file has problems, so the console shows nothing it would compute from it. Fix: {}",
                lines.join("; ")
            ))
        }),
        Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
        Err(e) => Err(ServerFnError::new(format!(
            "The console cannot read its policy file {}: {e}. Check RUSTCARE_CONFIG / RUSTCARE_HOME.",
            path.display()
        ))),
    }
}

/// Everything a dashboard page computes from: config, snapshot (the server's `now()` is "now")
/// and the health report of that snapshot.
pub struct Readings {
    pub config: Config,
    pub snapshot: Arc<CatalogSnapshot>,
    pub health: HealthReport,
}

/// How long a page may show a cached snapshot whose partition set is unchanged (see
/// `catalog::SnapshotCache`): row estimates and sizes lag at most this much.
pub const CATALOG_CACHE_AGE: Duration = Duration::from_secs(15);

/// How often the snapshot cache's warmer looks for a changed or ageing entry among the keys pages
/// asked for in the last 10 minutes: the lag between a partition change and a warm page.
pub const CATALOG_WARM_PERIOD: Duration = Duration::from_secs(2);

/// The longest the console waits at start for the pinned snapshots (`new_catalog_cache`).
pub const CATALOG_PRIME_TIMEOUT: Duration = Duration::from_secs(10);

/// The snapshot cache the server provides to its pages (`server::router`), with its warmer
/// running on the current tokio runtime until the cache is dropped (see
/// `catalog::SnapshotCache::spawn_warmer`). Each table page's snapshots are pinned
/// (`Detail::Plan`, what the page reads, and `Detail::Full` for its sort by size), and read here, before the console listens (at
/// most `CATALOG_PRIME_TIMEOUT`; a failure or a timeout is logged and leaves the reading to the
/// warmer and the pages), so even the first view after start is served from the cache; the
/// warmer keeps them warm, so a view after an idle hour is as fast as the next one.
pub async fn new_catalog_cache(pool: &PgPool) -> Arc<catalog::SnapshotCache> {
    let cache = Arc::new(catalog::SnapshotCache::new(CATALOG_CACHE_AGE));
    for table in ManagedTable::ALL {
        cache.pin(&[table], catalog::Detail::Plan);
        cache.pin(&[table], catalog::Detail::Full);
    }
    let started = std::time::Instant::now();
    match tokio::time::timeout(CATALOG_PRIME_TIMEOUT, cache.refresh_due(pool)).await {
        Ok(Ok(read)) => tracing::debug!(
            snapshots = read,
            ms = started.elapsed().as_millis(),
            "table pages' snapshots read before serving"
        ),
        Ok(Err(e)) => tracing::warn!(
            error = %e,
            "could not read the table pages' snapshots at start; the warmer and the pages will"
        ),
        Err(_) => tracing::warn!(
            seconds = CATALOG_PRIME_TIMEOUT.as_secs(),
            "reading the table pages' snapshots at start took too long; serving without them"
        ),
    }
    catalog::SnapshotCache::spawn_warmer(&cache, pool.clone(), CATALOG_WARM_PERIOD);
    cache
}

/// A snapshot for a page people look at (overview, table page, charts, health): through the
/// server's snapshot cache when it provides one, else fresh. Planning a run, executing, approvals,
/// the wall and /metrics read fresh snapshots.
pub async fn display_snapshot(
    pool: &PgPool,
    tables: &[ManagedTable],
    detail: catalog::Detail,
) -> Result<Arc<CatalogSnapshot>, sqlx::Error> {
    match use_context::<Arc<catalog::SnapshotCache>>() {
        Some(cache) => cache.get(pool, tables, detail).await,
        None => catalog::snapshot_with(pool, tables, detail)
            .await
            .map(Arc::new),
    }
}

/// Readings from a fresh snapshot: for what acts on them (the plan preview, /metrics).
pub async fn read(pool: &PgPool) -> Result<Readings, ServerFnError> {
    let snapshot = catalog::snapshot(pool, &[])
        .await
        .map_err(|e| db_error("reading the partition catalog", e))?;
    readings(pool, Arc::new(snapshot)).await
}

/// Readings for display (`display_snapshot`: at most `CATALOG_CACHE_AGE` old, the partition set
/// checked on every call).
pub async fn read_cached(pool: &PgPool) -> Result<Readings, ServerFnError> {
    let snapshot = display_snapshot(pool, &[], catalog::Detail::Full)
        .await
        .map_err(|e| db_error("reading the partition catalog", e))?;
    readings(pool, snapshot).await
}

async fn readings(
    pool: &PgPool,
    snapshot: Arc<CatalogSnapshot>,
) -> Result<Readings, ServerFnError> {
    let config = load_config()?;
    let settings = catalog::server_settings(pool)
        .await
        .map_err(|e| db_error("reading the server settings", e))?;
    let health = health::check(&config, &snapshot, &settings, snapshot.taken_at);
    Ok(Readings {
        config,
        snapshot,
        health,
    })
}
