//! `migrate` / `rollback` (online) and their `--finish`: converts each chosen table while the
//! application writes (see `partitioning::pg::online`), with a progress bar on a terminal.
//!
//! How this coexists with migration 006 (which converts all four tables offline, in one
//! transaction): `migrate` is the online path for a database that stops at 005. It never applies
//! 006 itself while a table is still ordinary; once all four tables are partitioned it applies
//! 006 through sqlx, which then finds every table partitioned, converts nothing, installs the
//! policy table, the action log and the SQL functions, and is recorded as applied, so `db migrate`
//! never redoes it. `rollback` leaves 006 recorded (its functions then refuse with "not a
//! partitioned table"); `migrate` brings the tables back.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use partitioning::pg::audit::{self, AuditEvent};
use partitioning::pg::migrate;
use partitioning::pg::online::{self, OnlineError, OnlineOptions, PausePoint, Phase};
use sqlx::PgPool;

use crate::context::{print_json, Ctx, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE};

#[derive(Debug, Clone, clap::Args)]
pub struct OnlineArgs {
    /// Drop the table kept under its old name by an earlier run (after you have checked the result).
    #[arg(long)]
    pub finish: bool,
    /// Rows copied per batch (one short transaction each).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
    pub batch_rows: i64,
    /// How long one batch should hold its rows locked, in milliseconds: the batch size adapts
    /// (halved when a batch takes longer, grown when much shorter, at most --batch-rows); 0 keeps
    /// --batch-rows fixed.
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub batch_target_ms: u64,
    /// Pause between batches, in milliseconds (throttling).
    #[arg(long, default_value_t = 10)]
    pub pause_ms: u64,
    /// How long the final swap may wait for its lock per attempt, in milliseconds; retried.
    /// Writes queue behind it meanwhile, so keep it under what the application can wait.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub lock_timeout_ms: u64,
}

pub async fn run(ctx: &Ctx, args: &OnlineArgs, migrate_dir: bool) -> anyhow::Result<u8> {
    // Not `open_db`: that applies every migration on the embedded cluster (006 offline).
    let db = crate::cli::open().await?;
    let pool = &db.pool;
    let word = if migrate_dir { "migrate" } else { "rollback" };
    let stop_after = std::env::var("RUSTCARE_ONLINE_STOP_AFTER")
        .ok()
        .and_then(|s| Phase::parse(s.trim()));
    // Test hook: wait at a point until killed (kill -9 tests); see `PausePoint`.
    let pause_at = std::env::var("RUSTCARE_ONLINE_PAUSE_AT")
        .ok()
        .and_then(|s| PausePoint::parse(s.trim()));
    let opts = OnlineOptions {
        batch_rows: args.batch_rows,
        batch_target: Duration::from_millis(args.batch_target_ms),
        pause: Duration::from_millis(args.pause_ms),
        lock_timeout: Duration::from_millis(args.lock_timeout_ms),
        stop_after,
        pause_at,
        ..OnlineOptions::default()
    };
    let mut code = EXIT_OK;
    let mut reports = Vec::new();
    for t in ctx.tables() {
        let outcome = if args.finish {
            match online::finish(pool, t, migrate_dir).await {
                Ok(f) => {
                    let verified = f
                        .rows_verified
                        .map(|n| format!(" after verifying its {n} rows are in {}", t.name()))
                        .unwrap_or_default();
                    println!(
                        "{}: dropped {}{verified}; the {word} of {} is finished",
                        t.name(),
                        f.kept,
                        t.name()
                    );
                    let detail = serde_json::to_value(&f).unwrap_or_default();
                    audit_event(
                        pool,
                        ctx,
                        &format!("{word}_kept_table_dropped"),
                        t.name(),
                        detail,
                    )
                    .await;
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        } else {
            audit_event(
                pool,
                ctx,
                &format!("{word}_started"),
                t.name(),
                serde_json::json!({}),
            )
            .await;
            let bar = bar(ctx.json(), t.name());
            let tick = |done: i64, total: i64| {
                if let Some(b) = &bar {
                    b.set_length(total.max(0) as u64);
                    b.set_position(done.max(0) as u64);
                }
            };
            let r = online::run(pool, &ctx.config, t, migrate_dir, &opts, &tick).await;
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            r.map(Some)
        };
        match outcome {
            Ok(Some(r)) => {
                if !ctx.json() {
                    println!(
                        "{}: {word} reached phase {}: {} rows copied, {} periods verified ({} rows), swap in {} attempt(s), {} ms under lock; \
                         the old table is kept as {} until `{word} --finish --table {}`",
                        t.name(), r.phase.as_str(), r.rows_copied, r.periods_verified, r.rows_verified,
                        r.swap_attempts, r.swap_ms, r.kept_name, t.name()
                    );
                }
                if r.phase == Phase::Swapped {
                    let detail = serde_json::to_value(&r).unwrap_or_default();
                    audit_event(pool, ctx, &format!("{word}_finished"), t.name(), detail).await;
                } else {
                    code = code.max(EXIT_PARTIAL);
                }
                reports.push(r);
            }
            Ok(None) => {}
            Err(OnlineError::AlreadyDone(m)) => println!("{m}"),
            Err(e @ OnlineError::Refused(_)) => {
                eprintln!("error: {e}");
                code = EXIT_USAGE;
            }
            Err(e @ (OnlineError::Busy(_) | OnlineError::Verify(_))) => {
                eprintln!("error: {e}");
                code = code.max(EXIT_PARTIAL);
            }
            Err(e) => {
                eprintln!(
                    "error: {}: {e}; run the same command again to resume",
                    t.name()
                );
                code = code.max(EXIT_PARTIAL);
            }
        }
    }
    if migrate_dir && !args.finish {
        record_006(pool).await?;
    }
    if ctx.json() {
        print_json(&reports)?;
    }
    Ok(code)
}

/// Applies 006 once all four tables are partitioned and it is not recorded yet (see module doc).
async fn record_006(pool: &PgPool) -> anyhow::Result<()> {
    let (ordinary, applied): (i64, bool) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM pg_class WHERE relkind = 'r' AND oid IN \
                   (to_regclass('auth_audit_log'), to_regclass('sessions'), to_regclass('refresh_tokens'), to_regclass('rate_limits'))), \
                EXISTS (SELECT 1 FROM pg_tables WHERE tablename = '_sqlx_migrations') \
                AND EXISTS (SELECT 1 FROM _sqlx_migrations WHERE version = 6 AND success)",
    )
    .fetch_one(pool)
    .await
    .or_else(|_| Ok::<_, sqlx::Error>((1, true)))?;
    if ordinary == 0 && !applied {
        migrate::up_to(pool, 6)
            .await
            .context("recording migration 006 (every table is partitioned)")?;
        println!("every table is partitioned: migration 006 applied (functions, policy, action log) and recorded");
    }
    Ok(())
}

async fn audit_event(
    pool: &PgPool,
    ctx: &Ctx,
    action: &str,
    table: &str,
    detail: serde_json::Value,
) {
    let has_trail: bool = sqlx::query_scalar("SELECT to_regclass('audit_trail') IS NOT NULL")
        .fetch_one(pool)
        .await
        .unwrap_or(false);
    if has_trail {
        let event = AuditEvent::new(ctx.actor.clone(), action, format!("table:{table}"), detail);
        audit::append_logged(pool, &event).await;
    }
}

fn bar(json: bool, table: &str) -> Option<ProgressBar> {
    if json || !std::io::stdout().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template(
        "{prefix} {bar:30.cyan/blue} {pos}/{len} rows ({per_sec}, eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(table.to_string());
    Some(bar)
}
