//! The size history: a background task samples every partition's exact size
//! (`pg_total_relation_size`, a stat of each file) into `partition_size_sample`, and the growth
//! chart reads totals per sample. Sampling in the background keeps the slow exact sizes off the
//! page requests.

use std::time::Duration;

use chrono::{DateTime, Utc};
use partitioning::pg::catalog;
use partitioning::table::ManagedTable;
use sqlx::PgPool;

use crate::dashboard::series::GrowthPoint;

/// Minutes between samples: `RUSTCARE_SIZE_SAMPLE_MINUTES` (1–1440), default 15.
pub fn interval() -> Duration {
    let minutes = std::env::var("RUSTCARE_SIZE_SAMPLE_MINUTES")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|m| (1..=1440).contains(m))
        .unwrap_or(15);
    Duration::from_secs(minutes * 60)
}

/// Samples kept this long; older ones are deleted by the sampler.
const KEEP_DAYS: i32 = 400;

/// Takes one sample now, then one every [`interval`]. Errors are logged and retried next time.
pub fn spawn_sampler(pool: PgPool) -> tokio::task::JoinHandle<()> {
    let every = interval();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match sample(&pool).await {
                Ok(n) => tracing::debug!(partitions = n, "size sample taken"),
                Err(e) => tracing::warn!(error = %e, "sampling partition sizes failed; will retry"),
            }
        }
    })
}

/// Writes one sample of every partition (default and leftovers included); returns how many.
pub async fn sample(pool: &PgPool) -> Result<usize, sqlx::Error> {
    let snapshot = catalog::snapshot(pool, &[]).await?;
    let mut tables = Vec::new();
    let mut names = Vec::new();
    let mut oids = Vec::new();
    let mut rows = Vec::new();
    for t in &snapshot.tables {
        for p in t
            .partitions
            .iter()
            .chain(&t.default_partition)
            .chain(&t.detached)
        {
            tables.push(t.table.name().to_string());
            names.push(p.name.clone());
            oids.push(p.oid);
            rows.push(p.est_rows.max(0));
        }
    }
    let bytes = catalog::exact_sizes(pool, &oids).await?;
    sqlx::query(
        "INSERT INTO partition_size_sample (taken_at, table_name, partition_name, bytes, est_rows) \
         SELECT $1, t, p, greatest(b, 0), r FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[]) AS u(t, p, b, r) \
         ON CONFLICT DO NOTHING",
    )
    .bind(snapshot.taken_at)
    .bind(&tables)
    .bind(&names)
    .bind(&bytes)
    .bind(&rows)
    .execute(pool)
    .await?;
    sqlx::query(
        "DELETE FROM partition_size_sample WHERE taken_at < now() - make_interval(days => $1)",
    )
    .bind(KEEP_DAYS)
    .execute(pool)
    .await?;
    Ok(names.len())
}

/// Total size of `table` at each sample time, oldest first (the last 90 days).
pub async fn growth(pool: &PgPool, table: ManagedTable) -> Result<Vec<GrowthPoint>, sqlx::Error> {
    let rows: Vec<(DateTime<Utc>, i64)> = sqlx::query_as(
        "SELECT taken_at, sum(bytes)::bigint FROM partition_size_sample \
         WHERE table_name = $1 AND taken_at > now() - interval '90 days' \
         GROUP BY taken_at ORDER BY taken_at",
    )
    .bind(table.name())
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(at, bytes)| GrowthPoint { at, bytes })
        .collect())
}
