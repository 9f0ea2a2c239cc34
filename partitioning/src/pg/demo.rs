//! Demo data for an empty database: `rustcare-partitions demo`, run on first start of the embedded
//! cluster. The SQL lives in `demo.sql`, next to this file.

use sqlx::PgPool;

const DEMO_SQL: &str = include_str!("demo.sql");

/// What `fill` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemoOutcome {
    Filled,
    /// The tables already hold rows: demo data is only ever added to an empty database.
    AlreadyHasData,
}

/// True when none of the four managed tables holds a row.
pub async fn is_empty(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT NOT (EXISTS (SELECT 1 FROM auth_audit_log) OR EXISTS (SELECT 1 FROM sessions) \
         OR EXISTS (SELECT 1 FROM refresh_tokens) OR EXISTS (SELECT 1 FROM rate_limits))",
    )
    .fetch_one(pool)
    .await
}

/// Fills an empty, migrated database with demo rows in one transaction, then vacuums and analyzes
/// so sizes and row estimates are settled.
pub async fn fill(pool: &PgPool) -> Result<DemoOutcome, sqlx::Error> {
    if !is_empty(pool).await? {
        return Ok(DemoOutcome::AlreadyHasData);
    }
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT set_config('rustcare.actor', 'demo', true)")
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(DEMO_SQL).execute(&mut *tx).await?;
    tx.commit().await?;
    sqlx::raw_sql("VACUUM ANALYZE auth_audit_log, sessions, refresh_tokens, rate_limits, users")
        .execute(pool)
        .await?;
    Ok(DemoOutcome::Filled)
}
