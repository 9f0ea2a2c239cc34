//! `serve`: prepares the database, then serves the Leptos console on axum.

use anyhow::Context;
use app::{shell, App};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use partitioning::pg::{demo, migrate, Origin};

use crate::cli::{open, print_connection, ServeArgs};

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
    let routes = generate_route_list(App);
    let pool = db.pool.clone();
    let app = Router::new()
        .leptos_routes_with_context(&options, routes, move || provide_context(pool.clone()), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options);

    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}: is another program using it? Use --addr",
                args.addr
            )
        })?;
    println!("RustCare Partitions console: http://{}", args.addr);
    axum::serve(listener, app.into_make_service())
        .with_graceful_shutdown(shutdown())
        .await
        .context("serving")?;
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
