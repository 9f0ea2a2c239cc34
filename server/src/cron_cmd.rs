//! `cron install|remove|status`: the guide's two pg_cron jobs (`create-partitions` daily at 01:00,
//! `drop-old-partitions` Sundays at 02:00), made exactly as the guide writes them. Idempotent; a
//! server without pg_cron gets an error saying how to enable it (exit 2, nothing changed).

use partitioning::pg::audit::{self, AuditEvent};
use partitioning::pg::cron::{self, CronError, CronJob, CronSetup};
use serde::Serialize;

use crate::context::{print_json, Ctx, Exit, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE};

#[derive(Debug, Clone, Copy, clap::Subcommand)]
pub enum CronCommand {
    /// Schedule the guide's two jobs in pg_cron (updates them if they exist).
    Install,
    /// Unschedule the two jobs (those that exist).
    Remove,
    /// Show the two jobs and their last run (exit 1 when one is missing or differs).
    Status,
}

#[derive(Debug, Serialize)]
struct CronReport<'a> {
    command: &'static str,
    database: &'a str,
    cron_database: &'a str,
    extension_version: Option<&'a str>,
    jobs: &'a [CronJob],
    removed: Option<usize>,
}

pub async fn run(ctx: &Ctx, command: CronCommand) -> anyhow::Result<u8> {
    let db = crate::context::open_db().await?;
    let pool = &db.pool;
    let outcome = match command {
        CronCommand::Install => cron::install(pool).await.map(|(s, j)| (s, j, None)),
        CronCommand::Status => cron::status(pool).await.map(|(s, j)| (s, j, None)),
        CronCommand::Remove => match cron::remove(pool).await {
            Ok((_, n)) => cron::status(pool).await.map(|(s, j)| (s, j, Some(n))),
            Err(e) => Err(e),
        },
    };
    let (setup, jobs, removed) = match outcome {
        Ok(x) => x,
        Err(e @ (CronError::NotAvailable { .. } | CronError::TooOld { .. })) => {
            eprintln!("error: {e}");
            return Err(Exit(EXIT_USAGE).into());
        }
        Err(e) => return Err(e.into()),
    };
    let name = match command {
        CronCommand::Install => "install",
        CronCommand::Remove => "remove",
        CronCommand::Status => "status",
    };
    if matches!(command, CronCommand::Install | CronCommand::Remove) {
        let action = if name == "install" {
            "cron_installed"
        } else {
            "cron_removed"
        };
        let detail = serde_json::json!({
            "database": setup.database, "cron_database": setup.cron_database,
            "jobs": jobs.iter().map(|j| j.name.clone()).collect::<Vec<_>>(), "removed": removed,
        });
        audit::append_logged(
            pool,
            &AuditEvent::new(ctx.actor.clone(), action, "pg_cron", detail),
        )
        .await;
    }
    if ctx.json() {
        print_json(&CronReport {
            command: name,
            database: &setup.database,
            cron_database: &setup.cron_database,
            extension_version: setup.extension_version.as_deref(),
            jobs: &jobs,
            removed,
        })?;
    } else {
        print_text(&setup, &jobs, command, removed);
    }
    let all_ok = jobs.iter().all(|j| j.matches(&setup.database));
    Ok(match command {
        CronCommand::Install | CronCommand::Status if !all_ok => EXIT_PARTIAL,
        _ => EXIT_OK,
    })
}

fn print_text(setup: &CronSetup, jobs: &[CronJob], command: CronCommand, removed: Option<usize>) {
    println!(
        "pg_cron {} in database {}; managing database {}{}",
        setup
            .extension_version
            .as_deref()
            .unwrap_or("(extension not created yet)"),
        setup.cron_database,
        setup.database,
        if setup.local() {
            ""
        } else {
            " (jobs scheduled with cron.schedule_in_database)"
        }
    );
    if let Some(n) = removed {
        println!("removed {n} job(s)");
    }
    for j in jobs {
        match &j.installed {
            None if matches!(command, CronCommand::Remove) => {
                println!("  {:<34} not scheduled", j.name)
            }
            None => println!(
                "  {:<34} MISSING (expected '{}' {}); run `rustcare-partitions cron install`",
                j.name, j.expected_schedule, j.expected_command
            ),
            Some(i) => {
                let state = if j.matches(&setup.database) {
                    "ok"
                } else {
                    "DIFFERS from the guide; `cron install` resets it"
                };
                println!(
                    "  {:<34} {state}: job {} '{}' {} in {}{}",
                    j.name,
                    i.jobid,
                    i.schedule,
                    i.command,
                    i.database,
                    if i.active { "" } else { " (inactive)" }
                );
                match &i.last_run {
                    Some(r) => println!(
                        "  {:<34} last run: {} at {} {}",
                        "",
                        r.status,
                        r.start_time
                            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                            .unwrap_or_else(|| "-".into()),
                        r.message
                    ),
                    None => println!("  {:<34} not run yet", ""),
                }
            }
        }
    }
}
