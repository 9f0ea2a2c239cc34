//! What the dashboard's server functions share on the server: the policy file (read the way the
//! CLI reads it), one catalog snapshot with its health report, and error sentences.

use std::path::PathBuf;

use leptos::prelude::*;
use partitioning::catalog::CatalogSnapshot;
use partitioning::config::Config;
use partitioning::health::{self, HealthReport};
use partitioning::pg::catalog;
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
    pub snapshot: CatalogSnapshot,
    pub health: HealthReport,
}

pub async fn read(pool: &PgPool) -> Result<Readings, ServerFnError> {
    let config = load_config()?;
    let snapshot = catalog::snapshot(pool, &[])
        .await
        .map_err(|e| db_error("reading the partition catalog", e))?;
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
