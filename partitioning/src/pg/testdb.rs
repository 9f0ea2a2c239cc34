//! Test databases: every test gets a fresh database in a private test cluster under
//! `<project>/.data/test` (or `RUSTCARE_TEST_DATA_DIR`), dropped when the test ends.
//!
//! Migrated databases are cloned from a template built once per schema version, so a test pays
//! milliseconds, not the cost of running every migration.

use std::fs::File;
use std::path::PathBuf;

use sqlx::PgPool;

use super::cluster::{Cluster, ClusterOptions};
use super::{create_database, migrate, pool_for, start_cluster, DbError};
use crate::table::quote_ident;

/// A fresh database for one test. Dropped (with any connections still open) on drop.
pub struct TestDb {
    pub pool: PgPool,
    pub url: String,
    pub name: String,
    cluster: Cluster,
}

impl TestDb {
    /// An empty database: no migrations applied.
    pub async fn empty() -> Result<TestDb, DbError> {
        let cluster = test_cluster().await?;
        let name = unique_name();
        create_database(&cluster, &name).await?;
        TestDb::connect(cluster, name).await
    }

    /// A database with every migration applied (001–006), no rows.
    pub async fn migrated() -> Result<TestDb, DbError> {
        let cluster = test_cluster().await?;
        let template = migrated_template(&cluster).await?;
        let name = unique_name();
        let admin = pool_for(&cluster.url("postgres")).await?;
        let sql = format!(
            "CREATE DATABASE {} TEMPLATE {}",
            quote_ident(&name),
            quote_ident(&template)
        );
        sqlx::query(&sql).execute(&admin).await?;
        admin.close().await;
        TestDb::connect(cluster, name).await
    }

    async fn connect(cluster: Cluster, name: String) -> Result<TestDb, DbError> {
        let url = cluster.url(&name);
        let pool = pool_for(&url).await?;
        Ok(TestDb {
            pool,
            url,
            name,
            cluster,
        })
    }

    /// A URL for the cluster's maintenance database (to create or drop other databases).
    pub fn admin_url(&self) -> String {
        self.cluster.url("postgres")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = self.cluster.url("postgres");
        let sql = format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&self.name)
        );
        // Drop runs outside any async context we can rely on: use a private runtime on a thread.
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(pool) = pool_for(&admin).await {
                    let _ = sqlx::query(&sql).execute(&pool).await;
                    pool.close().await;
                }
            });
        });
        let _ = handle.join();
    }
}

fn test_data_dir() -> PathBuf {
    std::env::var_os("RUSTCARE_TEST_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| super::workspace_root().join(".data").join("test"))
}

async fn test_cluster() -> Result<Cluster, DbError> {
    start_cluster(ClusterOptions {
        data_dir: test_data_dir(),
        port: None,
        ephemeral: true,
        bindir: std::env::var_os("PG_BINDIR").map(PathBuf::from),
    })
    .await
}

fn unique_name() -> String {
    format!("t_{}", uuid_like())
}

fn uuid_like() -> String {
    use rand::Rng;
    let n: u64 = rand::thread_rng().gen();
    format!("{:x}_{n:016x}", std::process::id())
}

/// Builds `tpl_<schema hash>` once (under a file lock shared by all test processes).
async fn migrated_template(cluster: &Cluster) -> Result<String, DbError> {
    let template = format!("tpl_{}", migrate::schema_hash());
    let dir = test_data_dir();
    let lock_path = dir.join("template.lock");
    let lock = tokio::task::spawn_blocking(move || -> std::io::Result<File> {
        let f = File::create(lock_path)?;
        f.lock()?;
        Ok(f)
    })
    .await
    .map_err(|e| DbError::Join(e.to_string()))?
    .map_err(|e| DbError::Join(format!("template lock: {e}")))?;

    let admin = pool_for(&cluster.url("postgres")).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&template)
            .fetch_one(&admin)
            .await?;
    if !exists {
        let building = format!("{template}_building");
        let drop = format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&building)
        );
        sqlx::query(&drop).execute(&admin).await?;
        create_database(cluster, &building).await?;
        let pool = pool_for(&cluster.url(&building)).await?;
        migrate::up(&pool).await?;
        pool.close().await;
        let rename = format!(
            "ALTER DATABASE {} RENAME TO {}",
            quote_ident(&building),
            quote_ident(&template)
        );
        sqlx::query(&rename).execute(&admin).await?;
    }
    admin.close().await;
    drop(lock);
    Ok(template)
}
