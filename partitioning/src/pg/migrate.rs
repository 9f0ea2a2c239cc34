//! The schema migrations in `migrations/`, embedded in the binary, applied and reverted through sqlx.

use sha2::{Digest, Sha256};
use sqlx::migrate::Migrator;
use sqlx::PgPool;

/// Every migration of `migrations/` (`NNN_name.up.sql` / `.down.sql`).
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Applies every pending migration.
pub async fn up(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// Applies pending migrations up to and including `version` (tests load data between steps).
pub async fn up_to(pool: &PgPool, version: i64) -> Result<(), sqlx::migrate::MigrateError> {
    let migrations: Vec<_> = MIGRATOR
        .iter()
        .filter(|m| m.version <= version)
        .cloned()
        .collect();
    let migrator = Migrator {
        migrations: migrations.into(),
        ..Migrator::DEFAULT
    };
    migrator.run(pool).await
}

/// Reverts migrations down to (not including) `target`: `down(pool, 5)` undoes 006 only.
pub async fn down_to(pool: &PgPool, target: i64) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.undo(pool, target).await
}

/// A short hash of every migration's checksum: names template databases built from them.
pub fn schema_hash() -> String {
    let mut hasher = Sha256::new();
    for m in MIGRATOR.iter() {
        hasher.update(m.version.to_le_bytes());
        hasher.update(&m.checksum);
    }
    hex::encode(&hasher.finalize()[..6])
}
