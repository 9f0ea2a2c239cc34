//! Server functions: thin wrappers that reach the database through the `partitioning` crate and map
//! errors to messages a person can act on. Each one names `client = crate::auth::CsrfClient` (so
//! the browser sends the CSRF token) and starts with `crate::auth::server::require(capability)`.

pub mod audit;
#[cfg(feature = "ssr")]
pub mod console;
pub mod dashboard;
#[cfg(feature = "ssr")]
pub mod metrics;
pub mod plan;
pub mod reports;
pub mod requests;
#[cfg(feature = "ssr")]
pub mod samples;
pub mod schedule;
pub mod wall;

use leptos::prelude::*;
use partitioning::overview::TableOverview;

/// The four managed tables with partition count, size and span, from the live catalog.
#[server(prefix = "/api", endpoint = "table_overview", client = crate::auth::CsrfClient)]
pub async fn list_table_overview() -> Result<Vec<TableOverview>, ServerFnError> {
    crate::auth::server::require(crate::auth::Capability::View).await?;
    let pool = ssr::pool()?;
    partitioning::pg::overview::fetch(&pool)
        .await
        .map_err(|e| ssr::db_error("reading the partition catalog", e))
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! What server functions share: the pool from context, and error mapping.
    use leptos::prelude::*;
    use sqlx::PgPool;

    /// The pool the server put in the Leptos context.
    pub fn pool() -> Result<PgPool, ServerFnError> {
        use_context::<PgPool>().ok_or_else(|| {
            ServerFnError::new("the server has no database connection configured; restart it")
        })
    }

    /// Logs the full error and tells the person what failed, without leaking internals.
    pub fn db_error(what: &str, err: sqlx::Error) -> ServerFnError {
        tracing::error!(error = %err, "{what} failed");
        let hint = match &err {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => {
                " The database is not reachable: check that PostgreSQL is running."
            }
            _ => " Details are in the server log.",
        };
        ServerFnError::new(format!("{what} failed.{hint}"))
    }
}
