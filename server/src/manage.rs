//! `status`, `create`, `cleanup`, `maintenance`: the guide's `manage-partitions.sh` commands. Each
//! plans from one catalog snapshot (the server's clock is "now"), shows or runs the plan through
//! the executor, and says what it did; destructive steps need `--force` or a typed "yes".

use std::io::{BufRead, IsTerminal, Write};

use partitioning::catalog::CatalogSnapshot;
use partitioning::pg::executor::{self, ActionResult, ExecOptions, Outcome};
use partitioning::pg::{catalog, policy_sync};
use partitioning::planner::{self, Action, Plan, PlanOptions};
use serde::Serialize;
use sqlx::PgPool;

use crate::context::{print_json, Ctx, Exit, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE};
use crate::progress::{self, Reporter};
use crate::report::{self, PlannedAction};

/// How a command treats the destructive steps of its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Show the plan, change nothing.
    DryRun,
    /// Run everything.
    Force,
    /// Ask on the terminal (cleanup without flags).
    Confirm,
    /// Run the safe steps, report the destructive ones (maintenance without --force).
    SafeOnly,
}

#[derive(Debug, Serialize)]
struct RunReport {
    command: &'static str,
    dry_run: bool,
    planned: Vec<PlannedAction>,
    results: Vec<ActionResult>,
    /// Destructive steps not run: maintenance without --force.
    deferred: Vec<PlannedAction>,
    /// Eligible drops held for a two-person approval in the console.
    held: Vec<HeldLine>,
    /// What happened to the held drops under --force: the cleanup request filed (or found open).
    #[serde(skip_serializing_if = "Option::is_none")]
    request: Option<String>,
    notes: Vec<String>,
}

impl RunReport {
    fn empty(command: &'static str, dry_run: bool) -> Self {
        RunReport {
            command,
            dry_run,
            planned: Vec::new(),
            results: Vec::new(),
            deferred: Vec::new(),
            held: Vec::new(),
            request: None,
            notes: Vec::new(),
        }
    }
}

#[derive(Debug, Serialize)]
struct HeldLine {
    table: String,
    partition: String,
    reason: String,
}

pub async fn status(ctx: &Ctx) -> anyhow::Result<u8> {
    let db = crate::context::open_db().await?;
    let snapshot = ctx.snapshot_for_plan(&db.pool).await?;
    let plan = make_plan(ctx, &snapshot, PlanOptions::maintenance(), None);
    let mut report = report::status(&ctx.config, &snapshot, &plan, &ctx.tables());
    if !ctx.exact_sizes {
        report.notes.push(
            "size: heap pages only, estimated from the catalog (quick at thousands of partitions); \
             --exact-sizes or `monitor status` include indexes and TOAST"
                .to_string(),
        );
    }
    if ctx.json() {
        print_json(&report)?;
    } else {
        print!("{}", report::status_text(&report));
    }
    Ok(EXIT_OK)
}

pub async fn create(ctx: &Ctx, days: Option<u32>, dry_run: bool) -> anyhow::Result<u8> {
    let mode = if dry_run { Mode::DryRun } else { Mode::Force };
    run(ctx, "create", PlanOptions::create(), days, mode).await
}

pub async fn cleanup(ctx: &Ctx, dry_run: bool, force: bool) -> anyhow::Result<u8> {
    let mode = match (dry_run, force) {
        (true, _) => Mode::DryRun,
        (false, true) => Mode::Force,
        (false, false) => {
            if !std::io::stdin().is_terminal() {
                eprintln!(
                    "error: cleanup drops partitions and needs a confirmation, but there is no terminal to ask on.\n\
                     Use `cleanup --dry-run` to see what would be dropped, or `cleanup --force` to drop it (cron)."
                );
                return Err(Exit(EXIT_USAGE).into());
            }
            Mode::Confirm
        }
    };
    run(ctx, "cleanup", PlanOptions::cleanup(), None, mode).await
}

pub async fn maintenance(ctx: &Ctx, dry_run: bool, force: bool, seal: bool) -> anyhow::Result<u8> {
    let mode = match (dry_run, force) {
        (true, _) => Mode::DryRun,
        (false, true) => Mode::Force,
        (false, false) => Mode::SafeOnly,
    };
    let base = PlanOptions {
        seal,
        ..PlanOptions::maintenance()
    };
    run(ctx, "maintenance", base, None, mode).await
}

fn plan_options(ctx: &Ctx, base: PlanOptions, days: Option<u32>) -> PlanOptions {
    PlanOptions {
        tables: ctx.tables(),
        ahead_days: days.or(base.ahead_days),
        ..base
    }
}

fn make_plan(ctx: &Ctx, snapshot: &CatalogSnapshot, base: PlanOptions, days: Option<u32>) -> Plan {
    let opts = plan_options(ctx, base, days);
    planner::plan(&ctx.config, snapshot, snapshot.taken_at, &opts)
}

/// Steps that destroy data: the detach of a past-retention partition and every drop. Finishing
/// an interrupted detach is not one (the data stays in the detached table).
fn destructive(a: &Action) -> bool {
    a.kind.is_destructive()
}

async fn run(
    ctx: &Ctx,
    command: &'static str,
    base: PlanOptions,
    days: Option<u32>,
    mode: Mode,
) -> anyhow::Result<u8> {
    let db = crate::context::open_db().await?;
    let pool = &db.pool;
    if mode != Mode::DryRun {
        // The SQL functions (pg_cron) read their policy from the table: keep it equal to the file.
        policy_sync::sync_as(pool, &ctx.config, &ctx.actor).await?;
    }
    // A quick check reads only the partitions that could make this run do something; when it
    // proves there is nothing to do, the full catalog (thousands of partitions) is not read.
    let quick = plan_options(ctx, base.clone(), days);
    if !ctx.exact_sizes
        && catalog::nothing_due(pool, &ctx.config, &quick)
            .await?
            .is_some()
    {
        let mut report = RunReport::empty(command, mode == Mode::DryRun);
        report.notes.push(
            "quick check: nothing is due (only the partitions that could need work were read: the \
             window, anything past retention, pending detaches, the default); `status` shows the whole layout"
                .to_string(),
        );
        return print_report(ctx, &report).map(|_| EXIT_OK);
    }
    // The lean snapshot decides whether there is work; a plan that detaches, drops or holds
    // anything is made again from every field (its sizes go into the log and the report).
    let mut snapshot = ctx.snapshot_for_plan(pool).await?;
    let mut plan = make_plan(ctx, &snapshot, base.clone(), days);
    if plan.actions.iter().any(destructive) || !plan.held.is_empty() {
        snapshot = ctx.snapshot(pool).await?;
        plan = make_plan(ctx, &snapshot, base, days);
    }
    let mut report = RunReport {
        command,
        dry_run: mode == Mode::DryRun,
        planned: plan.actions.iter().map(report::planned).collect(),
        results: Vec::new(),
        deferred: Vec::new(),
        held: plan
            .held
            .iter()
            .map(|h| HeldLine {
                table: h.table.name().to_string(),
                partition: h.kind.partition_name().to_string(),
                reason: h.reason.clone(),
            })
            .collect(),
        request: None,
        notes: plan.notes.iter().map(|n| n.to_string()).collect(),
    };
    if mode == Mode::SafeOnly {
        let (deferred, kept): (Vec<Action>, Vec<Action>) =
            plan.actions.into_iter().partition(destructive);
        report.deferred = deferred.iter().map(report::planned).collect();
        plan.actions = kept;
    }
    if mode == Mode::DryRun {
        return print_report(ctx, &report).map(|_| EXIT_OK);
    }
    if mode == Mode::Confirm && plan.actions.iter().any(destructive) && !confirm(&report)? {
        println!("Nothing was changed.");
        return Ok(EXIT_PARTIAL);
    }
    report.results = execute(ctx, pool, &plan).await?;
    if mode == Mode::Force {
        // Approval tables are never dropped here: their held drops become a request instead.
        report.request = crate::requests_cmd::file_held(ctx, pool, &plan).await;
    }
    print_report(ctx, &report)?;
    let not_done = report
        .results
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Failed(_) | Outcome::Busy(_)));
    Ok(if not_done { EXIT_PARTIAL } else { EXIT_OK })
}

async fn execute(ctx: &Ctx, pool: &PgPool, plan: &Plan) -> anyhow::Result<Vec<ActionResult>> {
    let reporter = Reporter::new(plan.actions.len(), ctx.json());
    let opts = ExecOptions {
        actor: ctx.actor.clone(),
        ..ExecOptions::default()
    };
    let progress = |e: executor::ProgressEvent<'_>| reporter.event(e);
    let results = executor::execute(pool, &ctx.config, plan, &opts, &progress).await;
    reporter.finish();
    Ok(results?)
}

fn confirm(report: &RunReport) -> anyhow::Result<bool> {
    let drops: Vec<&PlannedAction> = report
        .planned
        .iter()
        .filter(|a| a.action == "drop")
        .collect();
    println!("{}", report::actions_text(&report.planned));
    print!(
        "This drops {} partition(s) and every row in them. Type yes to go on: ",
        drops.len()
    );
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

fn print_report(ctx: &Ctx, r: &RunReport) -> anyhow::Result<()> {
    if ctx.json() {
        return print_json(r);
    }
    if r.dry_run {
        if r.planned.is_empty() {
            println!("{}: nothing to do.", r.command);
        } else {
            println!(
                "{} (dry run, nothing changed): {} action(s) would run\n",
                r.command,
                r.planned.len()
            );
            print!("{}", report::actions_text(&r.planned));
        }
    } else if r.results.is_empty() {
        println!("{}: nothing to do.", r.command);
    } else {
        let done = r
            .results
            .iter()
            .filter(|x| x.outcome == Outcome::Done)
            .count();
        println!(
            "{}: {done} of {} action(s) done",
            r.command,
            r.results.len()
        );
        if !std::io::stdout().is_terminal() {
            // The lines were printed as the actions ran.
        } else {
            for x in &r.results {
                println!("{}", progress::line(x));
            }
        }
    }
    if !r.deferred.is_empty() {
        println!(
            "\n{} partition step(s) past retention were not run (maintenance drops only with --force; \
             or run `cleanup --force`):",
            r.deferred.len()
        );
        print!("{}", report::actions_text(&r.deferred));
    }
    if !r.held.is_empty() {
        let mut tables: Vec<&str> = r.held.iter().map(|h| h.table.as_str()).collect();
        tables.dedup();
        for t in tables {
            let n = r.held.iter().filter(|h| h.table == t).count();
            println!(
                "\n{t}: {n} partition(s) are past retention and eligible for cleanup; dropping them needs a \
                 two-person approval in the console (a DBA and a compliance officer). Nothing of {t} was dropped."
            );
        }
    }
    if let Some(request) = &r.request {
        println!("{request}");
    }
    for n in &r.notes {
        println!("note: {n}");
    }
    Ok(())
}
