//! Server functions of the read-only pages: overview cards, one table's partitions, its charts,
//! and the health report. Viewer and up; each reads one catalog snapshot.

use leptos::prelude::*;
use partitioning::health::HealthReport;

#[cfg(feature = "ssr")]
use crate::auth::Capability;
use crate::auth::CsrfClient;
use crate::dashboard::series::TableCharts;
use crate::dashboard::{Overview, PartitionPage, PartitionQuery};

/// A card per managed table: health, partitions, size, days ahead, retention, default rows.
#[server(prefix = "/api", endpoint = "overview_cards", client = CsrfClient)]
pub async fn overview_cards() -> Result<Overview, ServerFnError> {
    crate::auth::server::require(Capability::View).await?;
    let pool = super::ssr::pool()?;
    let r = super::console::read_cached(&pool).await?;
    Ok(crate::dashboard::overview(
        &r.config,
        &r.snapshot.tables,
        &r.health,
        r.snapshot.taken_at,
    ))
}

/// One page of a table's partitions, filtered and sorted on the server (fast at 10,000
/// partitions: one catalog query, then work in memory). An unknown table is a 404 naming the
/// managed ones.
#[server(prefix = "/api", endpoint = "table_partitions", client = CsrfClient)]
pub async fn table_partitions(
    table: String,
    query: PartitionQuery,
) -> Result<PartitionPage, ServerFnError> {
    crate::auth::server::require(Capability::View).await?;
    let table = ssr::parse_table(&table)?;
    let pool = super::ssr::pool()?;
    let config = super::console::load_config()?;
    let cache = use_context::<std::sync::Arc<partitioning::pg::catalog::SnapshotCache>>();
    partition_page(&pool, &config, table, &query, cache.as_deref())
        .await
        .map_err(|e| super::ssr::db_error("reading the partition catalog", e))
}

/// What `table_partitions` does after its role check (also timed by
/// `server/tests/console_budget.rs`): the lean catalog snapshot of the one table (names, bounds,
/// statuses, row estimates, heap sizes), filter/sort/page in memory, then index and TOAST pages
/// and statistics for the page's rows only. Sorting by size needs every size complete, so that
/// sort reads the full snapshot (slower at thousands of partitions). With the server's snapshot
/// `cache`, paging, sorting and filtering an unchanged table reuse one snapshot.
#[cfg(feature = "ssr")]
pub async fn partition_page(
    pool: &sqlx::PgPool,
    config: &partitioning::config::Config,
    table: partitioning::table::ManagedTable,
    query: &PartitionQuery,
    cache: Option<&partitioning::pg::catalog::SnapshotCache>,
) -> Result<PartitionPage, sqlx::Error> {
    use partitioning::pg::catalog::{self, Detail};
    let detail = if query.sort == crate::dashboard::SortKey::Size {
        Detail::Full
    } else {
        Detail::Plan
    };
    let snapshot = match cache {
        Some(cache) => cache.get(pool, &[table], detail).await?,
        None => std::sync::Arc::new(catalog::snapshot_with(pool, &[table], detail).await?),
    };
    let now = snapshot.taken_at;
    let cutoff = config.policy(table).retention.cutoff(now);
    let rows = snapshot
        .table(table)
        .map(|c| crate::dashboard::partition_rows(c, now, cutoff))
        .unwrap_or_default();
    let mut page = crate::dashboard::page_of(table, rows, query, now, cutoff);
    if detail == Detail::Plan {
        let names: Vec<String> = page.rows.iter().map(|r| r.name.clone()).collect();
        let details = catalog::details(pool, table, &names).await?;
        for (row, d) in page.rows.iter_mut().zip(details) {
            if let Some(d) = d {
                row.bytes = d.bytes;
                row.last_analyzed = d.last_analyzed;
            }
        }
    }
    Ok(page)
}

/// The table page's chart series: newest partitions' sizes, size history, time line.
#[server(prefix = "/api", endpoint = "table_charts", client = CsrfClient)]
pub async fn get_table_charts(table: String) -> Result<TableCharts, ServerFnError> {
    use crate::dashboard::series;
    crate::auth::server::require(Capability::View).await?;
    let table = ssr::parse_table(&table)?;
    let pool = super::ssr::pool()?;
    let config = super::console::load_config()?;
    let snapshot =
        super::console::display_snapshot(&pool, &[table], partitioning::pg::catalog::Detail::Full)
            .await
            .map_err(|e| super::ssr::db_error("reading the partition catalog", e))?;
    let now = snapshot.taken_at;
    let Some(catalog) = snapshot.table(table) else {
        return Err(ServerFnError::new(format!(
            "{table} is not in the database: run the migrations."
        )));
    };
    let policy = config.policy(table);
    let cutoff = policy.retention.cutoff(now);
    let ahead_end = crate::dashboard::ahead_end(policy, now);
    let rows = crate::dashboard::partition_rows(catalog, now, cutoff);
    let (bars, bars_omitted) = series::bars(&rows);
    let growth = super::samples::growth(&pool, table)
        .await
        .map_err(|e| super::ssr::db_error("reading the size history", e))?;
    Ok(TableCharts {
        bars,
        bars_omitted,
        timeline: series::timeline(&rows, now, cutoff, ahead_end),
        growth,
        sample_minutes: super::samples::interval().as_secs() / 60,
    })
}

/// The checks of `monitor health`, with what to do about each.
#[server(prefix = "/api", endpoint = "health_report", client = CsrfClient)]
pub async fn get_health() -> Result<HealthReport, ServerFnError> {
    crate::auth::server::require(Capability::View).await?;
    let pool = super::ssr::pool()?;
    Ok(super::console::read_cached(&pool).await?.health)
}

#[cfg(feature = "ssr")]
mod ssr {
    use axum::http::StatusCode;
    use leptos::prelude::ServerFnError;
    use partitioning::table::ManagedTable;

    /// A managed table, or a 404 whose message lists the managed tables.
    pub fn parse_table(name: &str) -> Result<ManagedTable, ServerFnError> {
        ManagedTable::parse(name)
            .map_err(|e| crate::auth::server::refuse(StatusCode::NOT_FOUND, e.to_string()))
    }
}
