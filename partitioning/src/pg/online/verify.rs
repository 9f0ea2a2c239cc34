//! Verify: rows and a checksum per period of the live table and the shadow, both read in one
//! REPEATABLE READ snapshot (the capture trigger keeps them equal in every snapshot).

use sqlx::{Connection, PgPool};

use super::{pause_point, shadow_name, sql, OnlineError, OnlineOptions, PausePoint};
use crate::table::ManagedTable;

/// (periods, rows) when both tables agree period by period.
pub(super) async fn verify(
    pool: &PgPool,
    t: ManagedTable,
    migrate: bool,
    opts: &OnlineOptions,
) -> Result<(usize, i64), OnlineError> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let live: Vec<(String, i64, String)> = sqlx::query_as(&sql::per_period(t, t.name()))
        .fetch_all(&mut *tx)
        .await?;
    if opts.pause_at == Some(PausePoint::Verify) {
        pause_point(PausePoint::Verify).await;
    }
    let shadow: Vec<(String, i64, String)> =
        sqlx::query_as(&sql::per_period(t, &shadow_name(t, migrate)))
            .fetch_all(&mut *tx)
            .await?;
    tx.commit().await?;
    if live != shadow {
        let diff = live
            .iter()
            .zip(shadow.iter())
            .find(|(a, b)| a != b)
            .map(|(a, b)| {
                format!(
                    "period {}: {} rows live, {} rows in the copy ({} vs {} period(s))",
                    a.0,
                    a.1,
                    b.1,
                    live.len(),
                    shadow.len()
                )
            })
            .unwrap_or_else(|| {
                format!(
                    "{} period(s) live, {} in the copy",
                    live.len(),
                    shadow.len()
                )
            });
        return Err(OnlineError::Verify(format!("{}: {diff}", t.name())));
    }
    Ok((live.len(), live.iter().map(|r| r.1).sum()))
}
