//! sqlx adapters: the embedded cluster, migrations, catalog introspection, the executor, policy sync,
//! monitoring reads, demo data, test databases.

pub mod approvals;
pub mod audit;
pub mod bench;
pub mod catalog;
pub mod cluster;
pub mod compliance;
pub mod cron;
pub mod demo;
pub mod executor;
pub mod migrate;
pub mod monitor;
pub mod online;
pub mod overview;
pub mod policy_sync;
pub mod scheduler;
pub mod testdb;
pub mod tips;

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

pub use cluster::{Cluster, ClusterError, ClusterOptions};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("cannot connect to PostgreSQL at {target}: {source}")]
    Connect {
        target: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("DATABASE_URL is not a valid PostgreSQL URL: {0}")]
    BadUrl(String),
    #[error("applying migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error("the embedded cluster could not be started: {0}")]
    Join(String),
}

/// Where the database came from, to tell the person how to reach it.
#[derive(Debug, Clone)]
pub enum Origin {
    /// `DATABASE_URL` was set: we started nothing.
    External,
    /// The embedded cluster under the project's data dir.
    Embedded(Cluster),
}

/// A connected pool and where it points.
pub struct Database {
    pub pool: PgPool,
    pub origin: Origin,
    /// The URL with the password masked, for logs.
    pub display_url: String,
}

impl Database {
    /// Connects to `DATABASE_URL` when set; otherwise starts (or reuses) the embedded cluster under
    /// `opts` and makes sure its `rustcare` database exists.
    pub async fn open(project_root: &Path) -> Result<Database, DbError> {
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => {
                let pool = pool_for(&url).await?;
                Ok(Database {
                    pool,
                    origin: Origin::External,
                    display_url: mask(&url),
                })
            }
            _ => {
                let opts = ClusterOptions::from_env(project_root)?;
                let cluster = start_cluster(opts).await?;
                create_database(&cluster, cluster::DATABASE).await?;
                let url = cluster.url(cluster::DATABASE);
                let pool = pool_for(&url).await?;
                Ok(Database {
                    pool,
                    origin: Origin::Embedded(cluster),
                    display_url: mask(&url),
                })
            }
        }
    }
}

/// Starts the cluster on a blocking thread.
pub async fn start_cluster(opts: ClusterOptions) -> Result<Cluster, DbError> {
    tokio::task::spawn_blocking(move || Cluster::ensure_running(&opts))
        .await
        .map_err(|e| DbError::Join(e.to_string()))?
        .map_err(DbError::from)
}

/// Creates `name` in the cluster unless it exists. The name is quoted; callers pass our own names.
pub async fn create_database(cluster: &Cluster, name: &str) -> Result<(), DbError> {
    let admin = pool_for(&cluster.url("postgres")).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&admin)
            .await?;
    if !exists {
        let sql = format!("CREATE DATABASE {}", crate::table::quote_ident(name));
        if let Err(e) = sqlx::query(&sql).execute(&admin).await {
            // Another process may have created it between our check and our CREATE.
            let raced = e
                .as_database_error()
                .and_then(|d| d.code())
                .is_some_and(|c| c == "42P04");
            if !raced {
                return Err(e.into());
            }
        }
    }
    admin.close().await;
    Ok(())
}

/// A pool with sane timeouts; errors name the target without its password.
pub async fn pool_for(url: &str) -> Result<PgPool, DbError> {
    let options: PgConnectOptions = url
        .parse()
        .map_err(|e: sqlx::Error| DbError::BadUrl(format!("{}: {e}", mask(url))))?;
    let options = options
        .application_name("rustcare-partitions")
        .disable_statement_logging();
    PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(15))
        .connect_with(options)
        .await
        .map_err(|source| DbError::Connect {
            target: mask(url),
            source,
        })
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn mask(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The workspace root, for code running from a checkout (tests, `cargo run`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}
