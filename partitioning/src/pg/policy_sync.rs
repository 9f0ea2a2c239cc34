//! Writes the loaded `Config` into `partition_policy`, so the SQL functions pg_cron runs follow the
//! same policy as the CLI and the console. The table's CHECK (no audit retention under 6 years)
//! stays the last guard: a config that slipped past the parser still cannot weaken it.

use sqlx::PgPool;

use super::audit::{self, AuditEvent};
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

/// One field of a table's stored policy that a sync changed: what the audit event records.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldChange {
    pub table: String,
    /// `partition_column`, `period`, `retention`, `partitions_ahead`, `cleanup_mode`,
    /// `default_partition` (the column names of `partition_policy`).
    pub field: &'static str,
    /// `None`: the table had no row before.
    pub old: Option<serde_json::Value>,
    pub new: serde_json::Value,
}

/// A `partition_policy` row as text and numbers, in the form both sides of a diff share.
type StoredRow = (String, String, String, String, i32, String, bool);

const STORED_COLUMNS: &str = "table_name, partition_column, period, retention::text, \
    partitions_ahead, cleanup_mode, default_partition";

/// The fields of `new` that differ from `old` (every field when there was no row).
fn diff(old: Option<&StoredRow>, new: &StoredRow) -> Vec<FieldChange> {
    use serde_json::Value;
    let fields = |r: &StoredRow| -> [(&'static str, Value); 6] {
        [
            ("partition_column", Value::from(r.1.clone())),
            ("period", Value::from(r.2.clone())),
            ("retention", Value::from(r.3.clone())),
            ("partitions_ahead", Value::from(r.4)),
            ("cleanup_mode", Value::from(r.5.clone())),
            ("default_partition", Value::from(r.6)),
        ]
    };
    let before = old.map(fields);
    fields(new)
        .into_iter()
        .enumerate()
        .filter_map(|(i, (field, value))| {
            let old = before.as_ref().map(|b| b[i].1.clone());
            (old.as_ref() != Some(&value)).then(|| FieldChange {
                table: new.0.clone(),
                field,
                old,
                new: value,
            })
        })
        .collect()
}

/// `sync_as` with the actor `system`: for callers that act for no person (benchmarks, tests).
pub async fn sync(pool: &PgPool, config: &Config) -> Result<Vec<PolicyChange>, SyncError> {
    sync_as(pool, config, "system").await
}

/// Upserts every table's policy in one transaction; rows already equal are left untouched (their
/// `updated_at` keeps saying when the policy last really changed). Returns the tables changed.
/// When nothing differs (the usual run) only one read is made and nothing is written.
///
/// A real change is a setting change of the kind the audit trail records (turning the audit log's
/// cleanup to `auto` removes the two-person rule): one `policy_changed` event, by `actor` (as the
/// trail names actors: `cli:<user>`, a console username, `scheduler`), with the old and new value
/// of every changed field, is appended in the same transaction, so the change and its record
/// commit together. The rows are read `FOR UPDATE` first: two syncs at once record the change once.
pub async fn sync_as(
    pool: &PgPool,
    config: &Config,
    actor: &str,
) -> Result<Vec<PolicyChange>, SyncError> {
    if in_sync(pool, config).await? {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin().await?;
    let before: Vec<StoredRow> = sqlx::query_as(&format!(
        "SELECT {STORED_COLUMNS} FROM partition_policy ORDER BY table_name FOR UPDATE"
    ))
    .fetch_all(&mut *tx)
    .await?;
    let mut changed = Vec::new();
    let mut fields = Vec::new();
    for p in &config.policies {
        let (years, days) = retention_parts(&p.retention);
        let period = p.table.period().as_str();
        let cleanup = p.cleanup.as_str();
        // Intervals compare with 30-day months (`'360 days' = '1 year'`): the text form is compared.
        let row: Option<StoredRow> = sqlx::query_as(&format!(
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
             RETURNING {}",
            STORED_COLUMNS.replace("table_name", "pp.table_name")
        ))
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
        if let Some(new) = row {
            let old = before.iter().find(|b| b.0 == new.0);
            fields.extend(diff(old, &new));
            changed.push(PolicyChange { table: new.0 });
        }
    }
    if !fields.is_empty() {
        record(&mut tx, actor, &fields).await?;
    }
    tx.commit().await?;
    if !changed.is_empty() {
        tracing::info!(tables = ?changed.iter().map(|c| &c.table).collect::<Vec<_>>(), actor, "partition_policy updated from the config");
    }
    Ok(changed)
}

/// Appends the `policy_changed` event inside the sync's transaction. A database migrated only to
/// 006 (no audit trail yet, 009) gets the change without a record, and a warning says so.
async fn record(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    actor: &str,
    fields: &[FieldChange],
) -> Result<(), SyncError> {
    let has_trail: bool = sqlx::query_scalar("SELECT to_regclass('audit_trail') IS NOT NULL")
        .fetch_one(&mut **tx)
        .await?;
    if !has_trail {
        tracing::warn!(
            "partition_policy changed but audit_trail does not exist (migration 009 not applied): the change is not in the audit trail"
        );
        return Ok(());
    }
    let mut tables: Vec<&str> = fields.iter().map(|f| f.table.as_str()).collect();
    tables.dedup();
    let detail = serde_json::json!({
        "source": "the policy file (config/partitioning.conf or --config), applied by a policy sync",
        "tables": tables,
        "changes": fields,
    });
    let event = AuditEvent::new(actor, "policy_changed", "partition_policy", detail);
    audit::append(&mut **tx, &event).await?;
    Ok(())
}
