//! `requests list|show ID|execute ID` and `audit verify|export`: the approval workflow and the
//! audit trail from the shell. Approving stays in the console (two signed-in people); the CLI
//! lists, shows, and executes what is already approved, and files requests from `cleanup --force`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use partitioning::approval::{missing_signers, RequestState};
use partitioning::pg::approvals::{self, ApprovalError, Executed, Filed, Request};
use partitioning::pg::audit::{self, AuditEvent};
use partitioning::pg::executor::{self, Outcome};
use partitioning::planner::{Hold, Plan};
use serde_json::json;
use sqlx::PgPool;

use crate::context::{print_json, Ctx, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE};
use crate::progress::Reporter;

#[derive(Debug, Clone, Subcommand)]
pub enum RequestsCommand {
    /// Cleanup requests, newest first.
    List {
        /// Only requests in this state: pending, approved, executing, executed, rejected,
        /// expired, invalidated.
        #[arg(long)]
        state: Option<String>,
    },
    /// One request: exactly what it drops, its fingerprint, its decisions.
    Show { id: i64 },
    /// Execute an approved request (the plan is recomputed; a changed plan invalidates it).
    Execute { id: i64 },
}

#[derive(Debug, Clone, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain; exit 0 when intact, 1 naming the first broken row.
    Verify,
    /// Write the trail as CSV (oldest first) to --out, or to stdout.
    Export {
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

pub async fn requests(ctx: &Ctx, cmd: &RequestsCommand) -> anyhow::Result<u8> {
    let db = crate::context::open_db().await?;
    let pool = &db.pool;
    approvals::expire_due(pool).await?;
    match cmd {
        RequestsCommand::List { state } => {
            let state = match state.as_deref().map(|s| (s, RequestState::parse(s))) {
                None => None,
                Some((_, Some(s))) => Some(s),
                Some((s, None)) => {
                    eprintln!("error: --state {s:?} is not a request state; use one of pending, approved, executing, executed, rejected, expired, invalidated");
                    return Ok(EXIT_USAGE);
                }
            };
            let list = approvals::list(pool, state, 200).await?;
            if ctx.json() {
                print_json(&list)?;
            } else if list.is_empty() {
                println!("no cleanup requests");
            } else {
                for r in &list {
                    println!("{}", summary_line(r));
                }
            }
            Ok(EXIT_OK)
        }
        RequestsCommand::Show { id } => match approvals::get(pool, *id).await? {
            None => {
                eprintln!("error: there is no cleanup request {id} (see `requests list`)");
                Ok(EXIT_USAGE)
            }
            Some(r) if ctx.json() => print_json(&r).map(|_| EXIT_OK),
            Some(r) => {
                print!("{}", show_text(&r));
                Ok(EXIT_OK)
            }
        },
        RequestsCommand::Execute { id } => execute(ctx, pool, *id).await,
    }
}

fn summary_line(r: &Request) -> String {
    format!(
        "#{:<5} {:<11} {} by {:<12} {} partition(s), ~{} rows of {}; expires {}",
        r.id,
        r.state.as_str(),
        r.created_at.format("%Y-%m-%d %H:%M"),
        r.requested_by,
        r.actions.len(),
        r.total_rows(),
        r.tables.join(", "),
        r.expires_at.format("%Y-%m-%d %H:%M UTC"),
    )
}

fn show_text(r: &Request) -> String {
    let mut out = format!(
        "Cleanup request #{} — {} ({})\nrequested by {} at {}; expires {}\nfingerprint {}\n\n",
        r.id,
        r.state,
        r.state.explain(),
        r.requested_by,
        r.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        r.expires_at.format("%Y-%m-%d %H:%M:%S UTC"),
        r.fingerprint
    );
    out.push_str("Drops:\n");
    for a in &r.actions {
        out.push_str(&format!(
            "  {}.{}  [{} .. {})  ~{} rows, {} bytes\n    {} — {}\n",
            a.table, a.partition, a.lower, a.upper, a.est_rows, a.bytes, a.policy, a.reason
        ));
    }
    out.push_str("\nDecisions:\n");
    if r.approvals.is_empty() {
        out.push_str("  none yet\n");
    }
    for a in &r.approvals {
        out.push_str(&format!(
            "  {} {} as {} at {}: {}\n",
            a.actor,
            a.decision.as_str(),
            a.role,
            a.at.format("%Y-%m-%d %H:%M:%S UTC"),
            a.comment
        ));
    }
    if r.state == RequestState::Pending {
        let missing: Vec<&str> = missing_signers(&r.facts())
            .iter()
            .map(|s| s.needed())
            .collect();
        out.push_str(&format!("\nstill needed: {}\n", missing.join(" and ")));
    }
    if let Some(d) = &r.outcome_detail {
        out.push_str(&format!("\noutcome: {d}\n"));
    }
    out
}

async fn execute(ctx: &Ctx, pool: &PgPool, id: i64) -> anyhow::Result<u8> {
    let total = approvals::get(pool, id)
        .await?
        .map_or(0, |r| r.actions.len() * 2);
    let reporter = Reporter::new(total, ctx.json());
    let progress = |e: executor::ProgressEvent<'_>| reporter.event(e);
    let result = approvals::execute(pool, &ctx.config, id, &ctx.actor, &progress).await;
    reporter.finish();
    let code = match &result {
        Ok(Executed::Ran { complete: true, .. }) | Ok(Executed::AlreadyExecuted) => EXIT_OK,
        Ok(_) => EXIT_PARTIAL,
        Err(ApprovalError::NotFound(_) | ApprovalError::Execute(_)) => EXIT_USAGE,
        Err(_) => EXIT_PARTIAL,
    };
    if ctx.json() {
        let doc = match &result {
            Ok(e) => json!({"request": id, "result": e}),
            Err(e) => json!({"request": id, "error": e.to_string()}),
        };
        print_json(&doc)?;
        return Ok(code);
    }
    match result {
        Ok(Executed::Ran { results, complete }) => {
            let dropped = results
                .iter()
                .filter(|r| r.action == "drop" && r.outcome == Outcome::Done)
                .count();
            println!(
                "request #{id}: {dropped} partition(s) dropped{}",
                if complete {
                    "; done"
                } else {
                    "; some steps were not done, execute again to finish"
                }
            );
        }
        Ok(Executed::AlreadyRunning) => {
            println!(
                "request #{id} is being executed by another session right now: nothing done here"
            )
        }
        Ok(Executed::AlreadyExecuted) => println!("request #{id} was already executed"),
        Ok(Executed::Invalidated { why }) => println!("request #{id} invalidated: {why}"),
        Err(e) => eprintln!("error: request #{id}: {e}"),
    }
    Ok(code)
}

/// For `cleanup --force` / `maintenance --force`: files a request for drops held for approval
/// (or finds the open one) and says so. `None` when nothing is held for approval.
pub async fn file_held(ctx: &Ctx, pool: &PgPool, plan: &Plan) -> Option<String> {
    if !plan.held.iter().any(|h| h.hold == Hold::ApprovalRequired) {
        return None;
    }
    Some(
        match approvals::file(pool, &ctx.config, &ctx.tables(), &ctx.actor).await {
            Ok(Filed::Created(id)) => format!(
                "filed cleanup request #{id} for them: two people approve it in the console at /requests/{id}, \
                 then it runs from there or with `rustcare-partitions requests execute {id}`"
            ),
            Ok(Filed::AlreadyOpen(id)) => format!(
                "cleanup request #{id} for exactly these partitions is already open (see /requests/{id}); no new request filed"
            ),
            Err(ApprovalError::NothingToRequest) => return None,
            Err(e) => {
                tracing::error!(error = %e, "filing a cleanup request failed");
                format!("filing a cleanup request failed: {e}")
            }
        },
    )
}

pub async fn audit(ctx: &Ctx, cmd: &AuditCommand) -> anyhow::Result<u8> {
    let db = crate::context::open_db().await?;
    let pool = &db.pool;
    match cmd {
        AuditCommand::Verify => {
            let report = audit::verify(pool).await?;
            if ctx.json() {
                print_json(&report)?;
            } else if let Some(b) = &report.first_break {
                eprintln!(
                    "audit trail BROKEN at row {}: {b}\n{} row(s) read; rows before {} are intact.",
                    b.id(),
                    report.rows,
                    b.id()
                );
            } else {
                match &report.head {
                    Some((id, hash)) => println!(
                        "audit trail intact: {} row(s), hash chain verified; head is row {id} with hash {hash} \
                         (keep it elsewhere to detect a later cut of the newest rows)",
                        report.rows
                    ),
                    None => println!("audit trail is empty"),
                }
            }
            Ok(if report.ok() { EXIT_OK } else { EXIT_PARTIAL })
        }
        AuditCommand::Export { out } => {
            let filter = audit::AuditFilter::default();
            let rows = match out {
                Some(path) => {
                    let tmp = path.with_extension("csv.tmp");
                    let file = std::fs::File::create(&tmp)
                        .with_context(|| format!("creating {}", tmp.display()))?;
                    let n = server::audit_export::write_csv(
                        pool,
                        &filter,
                        std::io::BufWriter::new(file),
                    )
                    .await?;
                    std::fs::rename(&tmp, path)
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("{n} audit row(s) written to {}", path.display());
                    n
                }
                None => {
                    server::audit_export::write_csv(pool, &filter, std::io::stdout().lock()).await?
                }
            };
            let event = AuditEvent::new(
                ctx.actor.as_str(),
                "audit_exported",
                "audit_trail",
                json!({"rows": rows}),
            );
            audit::append_logged(pool, &event).await;
            Ok(EXIT_OK)
        }
    }
}
