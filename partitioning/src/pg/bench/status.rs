//! `status` over 2N partitions: the catalog snapshot (one round trip, sizes from relpages) against
//! the naive listing of the same partitions with exact `pg_total_relation_size`.

use std::time::Instant;

use sqlx::PgPool;

use super::create::Layout;
use super::scratch::{create_partitions_of, fresh_pool};
use super::timing::{human, Samples};
use super::{BenchError, BenchEvent, BenchOptions, BenchProgress, Figure, Measure, Target};
use crate::calendar::partition_name;
use crate::config::Config;
use crate::pg::catalog::{self, Detail};
use crate::planner::{self, PlanOptions};
use crate::table::ManagedTable;

/// What a status page without a snapshot would run: every partition, its bound, its exact size.
const EXACT_LISTING_SQL: &str = "\
SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid), pg_total_relation_size(c.oid) \
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
WHERE i.inhparent = ANY (ARRAY['auth_audit_log', 'sessions', 'refresh_tokens', 'rate_limits']::regclass[]) \
ORDER BY 1";

pub(super) async fn run(
    pool: &PgPool,
    config: &Config,
    layout: &Layout,
    opts: &BenchOptions,
    progress: BenchProgress<'_>,
) -> Result<Measure, BenchError> {
    // rate_limits gets the same N past days as sessions: ours in name and bounds, made the fast
    // way (this is set-up, not measured).
    let table = ManagedTable::RateLimits;
    let past: Vec<_> = layout
        .past()
        .into_iter()
        .map(|b| (partition_name(table, &b), b))
        .collect();
    let name = format!("status: adding {} partitions to rate_limits", past.len());
    progress(BenchEvent::Phase {
        name: &name,
        steps: past.len() as u64,
    });
    create_partitions_of(pool, table.name(), &past, progress).await?;
    sqlx::raw_sql("ANALYZE pg_class, pg_inherits")
        .execute(pool)
        .await?;

    let runs = opts.runs.max(1);
    progress(BenchEvent::Phase {
        name: "status: catalog snapshot vs exact-size listing",
        steps: 3 * runs as u64 + 2,
    });
    // One untimed run of each warms the caches both will find warm in real use.
    let snapshot = catalog::snapshot_with(pool, &[], Detail::Plan).await?;
    catalog::snapshot(pool, &[]).await?;
    let listed = sqlx::query(EXACT_LISTING_SQL).fetch_all(pool).await?.len();
    progress(BenchEvent::Step);
    progress(BenchEvent::Step);
    let partitions: usize = snapshot.tables.iter().map(|t| t.partitions.len()).sum();
    // Each timed run on a new connection, as `status` starts; the warm figures (a connection that
    // already read this catalog) are kept for the notes.
    let (mut ours, mut exact) = (Samples::default(), Samples::default());
    let (mut ours_warm, mut exact_warm) = (Samples::default(), Samples::default());
    let mut full = Samples::default();
    for _ in 0..runs {
        let fresh = fresh_pool(pool).await?;
        let started = Instant::now();
        let done = catalog::snapshot_with(&fresh, &[], Detail::Plan).await;
        ours.push(started.elapsed());
        fresh.close().await;
        done?;
        let fresh = fresh_pool(pool).await?;
        let started = Instant::now();
        let done = catalog::snapshot(&fresh, &[]).await;
        full.push(started.elapsed());
        fresh.close().await;
        done?;
        let fresh = fresh_pool(pool).await?;
        let started = Instant::now();
        let done = sqlx::query(EXACT_LISTING_SQL).fetch_all(&fresh).await;
        exact.push(started.elapsed());
        fresh.close().await;
        done?;
        let started = Instant::now();
        catalog::snapshot_with(pool, &[], Detail::Plan).await?;
        ours_warm.push(started.elapsed());
        let started = Instant::now();
        sqlx::query(EXACT_LISTING_SQL).fetch_all(pool).await?;
        exact_warm.push(started.elapsed());
        progress(BenchEvent::Step);
        progress(BenchEvent::Step);
        progress(BenchEvent::Step);
    }
    // The server's own time for the statement (no row transfer, no client decoding), each on a
    // new connection like the timed runs.
    let mut server_ms = Vec::new();
    for _ in 0..runs {
        let fresh = fresh_pool(pool).await?;
        let done = catalog::snapshot_execution_ms(&fresh, &[], Detail::Plan).await;
        fresh.close().await;
        server_ms.extend(done?);
    }
    server_ms.sort_by(f64::total_cmp);
    let server_median = server_ms.get(server_ms.len() / 2).copied();
    let started = Instant::now();
    let plan = planner::plan(
        config,
        &snapshot,
        snapshot.taken_at,
        &PlanOptions::maintenance(),
    );
    let plan_time = started.elapsed();

    let medians = format!(
        "On a new connection, medians: snapshot {} (min {}, max {}), exact listing {} (min {}, \
         max {}), full snapshot ({}: index and TOAST pages and every partition's statistics) {} \
         (min {}). On a connection that already read this catalog: snapshot {}, exact listing {}.",
        human(ours.median()),
        human(ours.min()),
        human(ours.max()),
        human(exact.median()),
        human(exact.min()),
        human(exact.max()),
        "`catalog::snapshot`, what health, metrics and the console read",
        human(full.median()),
        human(full.min()),
        human(ours_warm.median()),
        human(exact_warm.median())
    );
    Ok(Measure {
        key: "status_snapshot",
        title: format!("`status` catalog snapshot ({partitions} partitions)"),
        ours: Figure::new("catalog::snapshot_with(Detail::Plan) round trip", ours),
        baseline: Ok(Figure::new("listing with exact pg_total_relation_size", exact)),
        target: Target::MaxMillis(60.0),
        method: vec![
            "Ours: `catalog::snapshot_with(.., Detail::Plan)` of the four managed tables, what \
             `status` and `maintenance` read, on a new connection (as `status` starts; opening it \
             is not timed), timed by the client around the whole call: the query's execution on the \
             server, the transfer of every row and their decoding into a `CatalogSnapshot`. The \
             server-side time is therefore at most this figure. `Detail::Plan` reads every \
             partition's name, verified bound, default and detach-pending state, row estimate, heap \
             size, tablespace and seal, and the statistics of the recent periods; index and TOAST \
             pages and older partitions' statistics are left to `Detail::Full` (timed in the notes)."
                .into(),
            format!(
                "Baseline: the same partitions listed with bound and exact `pg_total_relation_size` \
                 (a stat of every file), timed the same way, also on a new connection each time; median \
                 of {runs} runs each, interleaved, after one untimed run of each."
            ),
        ],
        notes: vec![
            format!(
                "The snapshot holds {partitions} partitions; the listing returned {listed} rows."
            ),
            format!(
                "Planning maintenance over this snapshot (pure, no I/O) took {} and planned {} actions.",
                human(plan_time),
                plan.actions.len()
            ),
            medians,
            match server_median {
                Some(ms) => format!(
                    "Server-side execution of the same statement (EXPLAIN (ANALYZE, TIMING OFF), rows \
                     not sent, on a new connection), median of {}: {ms:.1} ms (min {:.1} ms). The \
                     round trip above adds sending ~{partitions} rows and decoding them in this \
                     build of the client.",
                    server_ms.len(),
                    server_ms.first().copied().unwrap_or(ms)
                ),
                None => "Server-side execution time: not reported by EXPLAIN.".to_string(),
            },
        ],
    })
}
