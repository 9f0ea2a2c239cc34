//! Writes the loaded `Config` into `partition_policy`, so the SQL functions pg_cron runs follow the
//! same policy as the CLI and the console. The table's CHECK (no audit retention under 6 years)
//! stays the last guard: a config that slipped past the parser still cannot weaken it.

use sqlx::PgPool;

use crate::config::Config;
use crate::policy::Retention;

/// One table whose stored policy was changed by a sync.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyChange {
    pub table: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(
        "the partition_policy table is missing: the partitioning migration (006) is not applied; \
         run `rustcare-partitions db migrate` first"
    )]
    NotMigrated,
    #[error("writing partition_policy failed: {0}")]
    Sql(#[from] sqlx::Error),
}

/// How many of the config's policies differ from (or are missing in) `partition_policy`: one
/// read, no lock, so the common case (nothing changed) costs a round trip and no commit to disk.
/// The comparison is the upsert's own `WHERE` below.
const DIFFERENT_SQL: &str = "\
SELECT count(*) FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::int[], \
                            $7::text[], $8::bool[]) AS w(t, col, period, y, d, ahead, cleanup, def) \
WHERE NOT EXISTS (SELECT 1 FROM partition_policy pp WHERE pp.table_name = w.t \
    AND (pp.partition_column, pp.period, pp.retention::text, pp.partitions_ahead, pp.cleanup_mode, \
         pp.default_partition) \
        IS NOT DISTINCT FROM (w.col, w.period, make_interval(years => w.y, days => w.d)::text, \
         w.ahead, w.cleanup, w.def))";

/// `(years, days)` of a retention as `make_interval` takes them.
fn retention_parts(r: &Retention) -> (i32, i32) {
    match *r {
        Retention::Years(y) => (i32::try_from(y).unwrap_or(i32::MAX), 0),
        Retention::Days(d) => (0, i32::try_from(d).unwrap_or(i32::MAX)),
    }
}

/// True when every policy of `config` is already stored as it is.
async fn in_sync(pool: &PgPool, config: &Config) -> Result<bool, SyncError> {
    let ps = &config.policies;
    let col = |f: &dyn Fn(&crate::policy::Policy) -> String| ps.iter().map(f).collect::<Vec<_>>();
    let num = |f: &dyn Fn(&crate::policy::Policy) -> i32| ps.iter().map(f).collect::<Vec<_>>();
    let differing: Result<i64, sqlx::Error> = sqlx::query_scalar(DIFFERENT_SQL)
        .bind(col(&|p| p.table.name().to_string()))
        .bind(col(&|p| p.table.partition_column().to_string()))
        .bind(col(&|p| p.table.period().as_str().to_string()))
        .bind(num(&|p| retention_parts(&p.retention).0))
        .bind(num(&|p| retention_parts(&p.retention).1))
        .bind(num(&|p| i32::try_from(p.ahead).unwrap_or(i32::MAX)))
        .bind(col(&|p| p.cleanup.as_str().to_string()))
        .bind(
            ps.iter()
                .map(|p| p.default_partition)
                .collect::<Vec<bool>>(),
        )
        .fetch_one(pool)
        .await;
    match differing {
        Ok(n) => Ok(n == 0),
        // 42P01 undefined_table: the migration that makes partition_policy has not run.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => {
            Err(SyncError::NotMigrated)
        }
        Err(e) => Err(e.into()),
    }
}

/// Upserts every table's policy in one transaction; rows already equal are left untouched (their
/// `updated_at` keeps saying when the policy last really changed). Returns the tables changed.
/// When nothing differs (the usual run) only one read is made.
pub async fn sync(pool: &PgPool, config: &Config) -> Result<Vec<PolicyChange>, SyncError> {
    if in_sync(pool, config).await? {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin().await?;
    let mut changed = Vec::new();
    for p in &config.policies {
        let (years, days) = retention_parts(&p.retention);
        let period = p.table.period().as_str();
        let cleanup = p.cleanup.as_str();
        // Intervals compare with 30-day months (`'360 days' = '1 year'`): the text form is compared.
        let row: Option<String> = sqlx::query_scalar(
            "INSERT INTO partition_policy AS pp (table_name, partition_column, period, retention, \
                 partitions_ahead, cleanup_mode, default_partition, updated_at) \
             VALUES ($1, $2, $3, make_interval(years => $4, days => $5), $6, $7, $8, now()) \
             ON CONFLICT (table_name) DO UPDATE SET partition_column = EXCLUDED.partition_column, \
                 period = EXCLUDED.period, retention = EXCLUDED.retention, \
                 partitions_ahead = EXCLUDED.partitions_ahead, cleanup_mode = EXCLUDED.cleanup_mode, \
                 default_partition = EXCLUDED.default_partition, updated_at = now() \
             WHERE (pp.partition_column, pp.period, pp.retention::text, pp.partitions_ahead, \
                    pp.cleanup_mode, pp.default_partition) \
                   IS DISTINCT FROM (EXCLUDED.partition_column, EXCLUDED.period, EXCLUDED.retention::text, \
                    EXCLUDED.partitions_ahead, EXCLUDED.cleanup_mode, EXCLUDED.default_partition) \
             RETURNING pp.table_name",
        )
        .bind(p.table.name())
        .bind(p.table.partition_column())
        .bind(period)
        .bind(years)
        .bind(days)
        .bind(i32::try_from(p.ahead).unwrap_or(i32::MAX))
        .bind(cleanup)
        .bind(p.default_partition)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(table) = row {
            changed.push(PolicyChange { table });
        }
    }
    tx.commit().await?;
    if !changed.is_empty() {
        tracing::info!(tables = ?changed.iter().map(|c| &c.table).collect::<Vec<_>>(), "partition_policy updated from the config");
    }
    Ok(changed)
}
