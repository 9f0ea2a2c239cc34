//! The executor's rows in `partition_action_log` (steps that log themselves inside their own
//! transaction are skipped here when they succeed).

use sqlx::pool::PoolConnection;
use sqlx::Postgres;

use super::ActionResult;
use super::Outcome;
use crate::calendar::PartitionBound;
use crate::planner::{Action, ActionKind};

/// Records one result in `partition_action_log`, unless the step already logged itself inside its
/// own transaction (drops, row moves) or through the SQL function (creates).
pub(super) async fn log_result(
    conn: &mut PoolConnection<Postgres>,
    action: &Action,
    r: &ActionResult,
) -> Result<(), sqlx::Error> {
    let self_logged = matches!(
        action.kind,
        ActionKind::Create { .. }
            | ActionKind::Drop { .. }
            | ActionKind::DropDetached { .. }
            | ActionKind::MoveDefaultRows { .. }
            | ActionKind::Seal { .. }
    );
    if self_logged && r.outcome == Outcome::Done {
        return Ok(());
    }
    let detail = match &r.outcome {
        Outcome::Done => action.reason.clone(),
        Outcome::AlreadyDone => format!("already done; {}", action.reason),
        Outcome::Skipped(why) | Outcome::Busy(why) | Outcome::Failed(why) => why.clone(),
    };
    let (rows, bytes) = action.kind.size();
    write_log(conn, action, r.outcome.log_value(), rows, bytes, &detail).await
}

/// Inserts one `partition_action_log` row on `conn` (a connection or an open transaction).
pub(crate) async fn write_log(
    conn: &mut sqlx::PgConnection,
    action: &Action,
    outcome: &str,
    rows: Option<i64>,
    bytes: Option<i64>,
    detail: &str,
) -> Result<(), sqlx::Error> {
    let bound: Option<&PartitionBound> = action.kind.bound();
    sqlx::query(
        "INSERT INTO partition_action_log (actor, table_name, partition_name, action, lower_bound, \
         upper_bound, row_estimate, bytes, outcome, detail) \
         VALUES (coalesce(current_setting('rustcare.actor', true), 'sql:' || session_user), \
                 $1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(action.table.name())
    .bind(action.kind.partition_name())
    .bind(action.kind.verb())
    .bind(bound.map(|b| b.lower))
    .bind(bound.map(|b| b.upper))
    .bind(rows)
    .bind(bytes)
    .bind(outcome)
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}
