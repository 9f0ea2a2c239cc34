//! Writes the loaded `Config` into `partition_policy` (and `APPROVAL_EXPIRY_HOURS` into
//! `partition_settings`, 015), so the SQL functions pg_cron runs follow the same policy as the CLI
//! and the console; a real change is audited (`policy_changed`). The table's CHECK (no audit retention under 6 years)
//! stays the last guard: a config that slipped past the parser still cannot weaken it.

use sqlx::PgPool;

use super::audit::{self, AuditEvent};
use crate::config::Config;
use crate::policy::Retention;

/// One table whose stored policy was changed by a sync (`partition_settings` when the change was
/// `APPROVAL_EXPIRY_HOURS`).
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
/// The comparison is the upsert's own `WHERE` below. `{SETTINGS}` adds the stored expiry's
/// difference (`SETTINGS_DIFFERENT`), or nothing on a database without 015.
const DIFFERENT_SQL: &str = "\
SELECT (SELECT count(*) FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], \
                            $6::int[], $7::text[], $8::bool[]) AS w(t, col, period, y, d, ahead, cleanup, def) \
WHERE NOT EXISTS (SELECT 1 FROM partition_policy pp WHERE pp.table_name = w.t \
    AND (pp.partition_column, pp.period, pp.retention::text, pp.partitions_ahead, pp.cleanup_mode, \
         pp.default_partition) \
        IS NOT DISTINCT FROM (w.col, w.period, make_interval(years => w.y, days => w.d)::text, \
         w.ahead, w.cleanup, w.def))){SETTINGS}";

const SETTINGS_DIFFERENT: &str =
    " + (SELECT count(*) FROM (SELECT $9::int AS h) c WHERE NOT EXISTS \
    (SELECT 1 FROM partition_settings s WHERE s.singleton AND s.approval_expiry_hours = c.h))";

/// `(years, days)` of a retention as `make_interval` takes them.
fn retention_parts(r: &Retention) -> (i32, i32) {
    match *r {
        Retention::Years(y) => (i32::try_from(y).unwrap_or(i32::MAX), 0),
        Retention::Days(d) => (0, i32::try_from(d).unwrap_or(i32::MAX)),
    }
}

/// `APPROVAL_EXPIRY_HOURS` as `partition_settings` stores it.
fn expiry_hours(config: &Config) -> i32 {
    i32::try_from(config.approval_expiry_hours).unwrap_or(i32::MAX)
}

/// True when every policy of `config` (and its approval expiry) is already stored as it is.
async fn in_sync(pool: &PgPool, config: &Config) -> Result<bool, SyncError> {
    let with_settings = DIFFERENT_SQL.replace("{SETTINGS}", SETTINGS_DIFFERENT);
    match count_different(pool, config, &with_settings).await {
        // 42P01 naming partition_settings: a database migrated before 015; compare the policies.
        Err(sqlx::Error::Database(e))
            if e.code().as_deref() == Some("42P01")
                && e.message().contains("partition_settings") =>
        {
            let policies_only = DIFFERENT_SQL.replace("{SETTINGS}", "");
            classify(count_different(pool, config, &policies_only).await)
        }
        other => classify(other),
    }
}

fn classify(differing: Result<i64, sqlx::Error>) -> Result<bool, SyncError> {
    match differing {
        Ok(n) => Ok(n == 0),
        // 42P01 undefined_table: the migration that makes partition_policy has not run.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => {
            Err(SyncError::NotMigrated)
        }
        Err(e) => Err(e.into()),
    }
}

async fn count_different(pool: &PgPool, config: &Config, sql: &str) -> Result<i64, sqlx::Error> {
    let ps = &config.policies;
    let col = |f: &dyn Fn(&crate::policy::Policy) -> String| ps.iter().map(f).collect::<Vec<_>>();
    let num = |f: &dyn Fn(&crate::policy::Policy) -> i32| ps.iter().map(f).collect::<Vec<_>>();
    let mut q = sqlx::query_scalar(sql)
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
        );
    if sql.contains("$9") {
        q = q.bind(expiry_hours(config));
    }
    q.fetch_one(pool).await
}

/// One field of a table's stored policy that a sync changed: what the audit event records.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldChange {
    /// The managed table; `None` for a setting of the whole file (`approval_expiry_hours`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
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
                table: Some(new.0.clone()),
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
    if let Some(change) = sync_expiry(&mut tx, config).await? {
        fields.push(change);
        changed.push(PolicyChange {
            table: "partition_settings".into(),
        });
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

/// Stores `APPROVAL_EXPIRY_HOURS` in `partition_settings` (read by `rustcare_file_cleanup_request`,
/// 015) when it differs; the change, or `None`. Skipped on a database migrated before 015.
async fn sync_expiry(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    config: &Config,
) -> Result<Option<FieldChange>, SyncError> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('partition_settings') IS NOT NULL")
        .fetch_one(&mut **tx)
        .await?;
    if !exists {
        return Ok(None);
    }
    let hours = expiry_hours(config);
    let old: Option<i32> = sqlx::query_scalar(
        "SELECT approval_expiry_hours FROM partition_settings WHERE singleton FOR UPDATE",
    )
    .fetch_optional(&mut **tx)
    .await?;
    if old == Some(hours) {
        return Ok(None);
    }
    sqlx::query(
        "INSERT INTO partition_settings (singleton, approval_expiry_hours, updated_at) \
         VALUES (true, $1, now()) ON CONFLICT (singleton) DO UPDATE \
         SET approval_expiry_hours = EXCLUDED.approval_expiry_hours, updated_at = now()",
    )
    .bind(hours)
    .execute(&mut **tx)
    .await?;
    Ok(Some(FieldChange {
        table: None,
        field: "approval_expiry_hours",
        old: old.map(serde_json::Value::from),
        new: serde_json::Value::from(hours),
    }))
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
    let mut tables: Vec<&str> = fields.iter().filter_map(|f| f.table.as_deref()).collect();
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
