//! The embedded cluster: created once, reused, surviving a restart with its data, and clear errors
//! for a taken port, missing binaries and an unusable data dir.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use partitioning::pg::cluster::{Cluster, ClusterError, ClusterOptions};
use partitioning::pg::{create_database, pool_for, workspace_root};

fn scratch(name: &str) -> PathBuf {
    let dir = workspace_root()
        .join(".data")
        .join("test-clusters")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn options(dir: &Path) -> ClusterOptions {
    ClusterOptions {
        data_dir: dir.to_path_buf(),
        port: None,
        ephemeral: true,
        bindir: None,
    }
}

#[tokio::test]
async fn cluster_is_reused_and_keeps_data_across_a_restart() {
    let dir = scratch("restart");
    let opts = options(&dir);
    let first = Cluster::ensure_running(&opts).unwrap();
    let again = Cluster::ensure_running(&opts).unwrap();
    assert_eq!(first.port, again.port, "a running cluster is reused");
    assert!(first
        .socket_dir
        .as_ref()
        .is_some_and(|d| d.join(format!(".s.PGSQL.{}", first.port)).exists()));

    create_database(&first, "keep").await.unwrap();
    let pool = pool_for(&first.url("keep")).await.unwrap();
    sqlx::raw_sql("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42);")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    assert!(Cluster::stop(&opts).unwrap());
    let restarted = Cluster::ensure_running(&opts).unwrap();
    let pool = pool_for(&restarted.url("keep")).await.unwrap();
    let v: i32 = sqlx::query_scalar("SELECT v FROM kept")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(v, 42);
    pool.close().await;
    assert!(restarted.psql_hint("keep").contains("psql"));
    Cluster::stop(&opts).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_taken_port_is_a_clear_error() {
    let dir = scratch("port");
    let taken = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut opts = options(&dir);
    opts.port = Some(port);
    let err = Cluster::ensure_running(&opts).unwrap_err();
    assert!(
        matches!(err, ClusterError::PortTaken { port: p } if p == port),
        "{err}"
    );
    assert!(err.to_string().contains("RUSTCARE_PG_PORT"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_binaries_are_a_clear_error() {
    let dir = scratch("nobin");
    let mut opts = options(&dir);
    opts.bindir = Some(dir.join("no-such-bin"));
    let err = Cluster::ensure_running(&opts).unwrap_err();
    assert!(matches!(err, ClusterError::NoBinaries { .. }), "{err}");
    assert!(err.to_string().contains("apt-get install"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_data_dir_that_is_a_file_is_a_clear_error() {
    let dir = scratch("file");
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    std::fs::write(&dir, "not a directory").unwrap();
    let err = Cluster::ensure_running(&options(&dir)).unwrap_err();
    assert!(matches!(err, ClusterError::DataDir { .. }), "{err}");
    assert!(err.to_string().contains("RUSTCARE_DATA_DIR"), "{err}");
    let _ = std::fs::remove_file(&dir);
}
