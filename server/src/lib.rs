//! The console as a library: the axum router (pages, server functions, sessions, the request
//! gate) that `serve` runs and the integration tests start, plus the `user` subcommand.

pub mod audit_export;
pub mod auth;
pub mod report_files;
pub mod security;
pub mod user_cmd;

use app::{shell, App};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use sqlx::PgPool;

pub use auth::SecuritySettings;

/// The whole console: Leptos pages and server functions (with the pool in context) behind the
/// request gate, behind the PostgreSQL session layer. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so login throttling sees client addresses.
pub async fn router(
    pool: PgPool,
    options: LeptosOptions,
    security: SecuritySettings,
) -> anyhow::Result<Router> {
    let routes = generate_route_list(App);
    let sessions = auth::session_layer(pool.clone(), &security)?;
    // Stored compliance report files (they check the session and role themselves).
    let files = report_files::Files {
        pool: pool.clone(),
        touch: security.touch_interval(),
    };
    let export = audit_export::Export {
        pool: pool.clone(),
        touch: security.touch_interval(),
    };
    let gate = security::Gate::new(pool.clone(), security);
    let context_pool = pool;
    // The pages' snapshot cache, its table pages read before this returns, and its warmer (ends
    // when the router is dropped).
    let catalog_cache = app::api::console::new_catalog_cache(&context_pool).await;
    Ok(Router::new()
        .leptos_routes_with_context(
            &options,
            routes,
            move || {
                provide_context(context_pool.clone());
                provide_context(catalog_cache.clone());
            },
            {
                let options = options.clone();
                move || shell(options.clone())
            },
        )
        .route(
            "/reports/{id}/report.csv",
            axum::routing::get(report_files::csv).with_state(files.clone()),
        )
        .route(
            "/reports/{id}/report.pdf",
            axum::routing::get(report_files::pdf).with_state(files),
        )
        .route(
            "/audit/export.csv",
            axum::routing::get(audit_export::csv_handler).with_state(export),
        )
        .fallback(leptos_axum::file_and_error_handler(shell))
        .layer(axum::middleware::from_fn_with_state(gate, security::gate))
        .layer(sessions)
        .with_state(options))
}
