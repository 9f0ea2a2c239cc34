//! `serve`: prepares the database (migrations, demo data and demo accounts on the embedded
//! cluster), then serves the console (`server::router`) on axum.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use leptos::config::LeptosOptions;
use partitioning::pg::{demo, migrate, ClusterOptions, Origin};
use server::user_cmd::{demo_accounts_file, ensure_demo_accounts, DEMO_ACCOUNTS};
use server::SecuritySettings;

use crate::cli::{open, print_connection, project_root, ServeArgs};

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let db = open().await?;
    let embedded = matches!(db.origin, Origin::Embedded(_));
    if embedded || args.migrate {
        migrate::up(&db.pool).await.context("applying migrations")?;
    }
    if embedded && !args.no_demo && demo::is_empty(&db.pool).await.unwrap_or(false) {
        tracing::info!("empty embedded database: writing demo data (once)");
        demo::fill(&db.pool).await.context("writing demo data")?;
    }
    if let Origin::Embedded(cluster) = &db.origin {
        print_connection(cluster);
    }
    accounts_notice(&db.pool, embedded && !args.no_demo).await?;
    let security = SecuritySettings::from_env()?;

    let options = LeptosOptions::builder()
        .output_name("rustcare-partitions")
        .site_root(args.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(args.addr)
        .build();
    if !args.site_root.join("pkg").exists() {
        tracing::warn!(
            site_root = %args.site_root.display(),
            "no built site (pkg/) found: pages render but will not hydrate; build with `cargo leptos build --release`"
        );
    }
    let app = server::router(db.pool.clone(), options, security)
        .await?
        // Outside the session gate (a scraper has no session): its own access rule, see
        // `app::api::metrics` (RUSTCARE_METRICS_TOKEN bearer, else loopback only).
        .route(
            "/metrics",
            axum::routing::get(app::api::metrics::handler).with_state(db.pool.clone()),
        );
    // Exact partition sizes for the growth charts: one sample now, then every
    // RUSTCARE_SIZE_SAMPLE_MINUTES (default 15).
    app::api::samples::spawn_sampler(db.pool.clone());
    // Creation daily, cleanup weekly (SCHEDULE_* in the policy file); RUSTCARE_SCHEDULER=off stops it.
    app::api::schedule::ssr::spawn_scheduler(db.pool.clone());
    server::auth::spawn_cleanup(db.pool.clone(), Duration::from_secs(15 * 60));
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}: is another program using it? Use --addr",
                args.addr
            )
        })?;
    println!("RustCare Partitions console: http://{}", args.addr);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await
    .context("serving")?;
    Ok(())
}

/// Says how to sign in: makes the demo accounts on a fresh embedded demo database (printing their
/// password once), or tells how to create the first admin.
async fn accounts_notice(pool: &sqlx::PgPool, demo_accounts: bool) -> anyhow::Result<()> {
    if demo_accounts {
        let file = demo_accounts_file(&ClusterOptions::from_env(&project_root())?.data_dir);
        match ensure_demo_accounts(pool, &file)
            .await
            .context("creating the demo accounts")?
        {
            Some(password) => {
                let names: Vec<String> = DEMO_ACCOUNTS
                    .iter()
                    .map(|(n, _, r)| format!("{n} ({r})"))
                    .collect();
                println!("Demo console accounts created: {}", names.join(", "));
                println!("  password (all of them, shown once): {password}");
                println!("  also written to {} (mode 0600)", file.display());
            }
            None if file.exists() => println!("Demo console accounts: see {}", file.display()),
            None => {}
        }
    } else if app::auth::store::count(pool).await.unwrap_or(0) == 0 {
        println!(
            "No console accounts yet: create the first admin with\n  rustcare-partitions user add admin --role admin"
        );
    }
    Ok(())
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
