//! The command line: subcommands and their options, dispatched to the code that does the work.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use partitioning::pg::{self, demo, migrate, Cluster, ClusterOptions, Database, Origin};

use crate::context::{finish, Ctx, Format, GlobalOpts, EXIT_USAGE};
use crate::monitor::MonitorCommand;

#[derive(Debug, Parser)]
#[command(
    name = "rustcare-partitions",
    version,
    about = "PostgreSQL partitioning for the RustCare auth tables: console and CLI",
    long_about = "PostgreSQL partitioning for the RustCare auth tables.\n\n\
        With DATABASE_URL unset, a private PostgreSQL cluster is started (or reused) under \
        RUSTCARE_DATA_DIR (default ./.data). With DATABASE_URL set, that server is used and nothing \
        is started.\n\n\
        Exit codes of the partition commands: 0 done; 1 some actions not done (another run held \
        the table, a lock never came, a failure) or a health warning; 2 usage or config error \
        (nothing was run) or a critical health finding."
)]
pub struct Cli {
    /// Log more (debug level); RUST_LOG overrides.
    #[arg(long, short, global = true)]
    pub verbose: bool,
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web console (the default).
    Serve(ServeArgs),
    /// Fill an empty database with realistic demo rows.
    Demo,
    /// The database itself: schema migrations and the embedded cluster.
    #[command(subcommand)]
    Db(DbCommand),
    /// Console accounts: add, list, disable, enable, set-role, passwd.
    #[command(subcommand)]
    User(server::user_cmd::UserCommand),
    /// Partitions of each managed table: count, span, size, pending work.
    Status,
    /// Create the partitions the policy calls for.
    ///
    /// The current period and <TABLE>_PARTITIONS_AHEAD more (or every period up to --days N),
    /// without blocking the application (LIKE + CHECK + ATTACH under lock_timeout).
    Create {
        /// Create every period meeting today .. today + N days (instead of the policy's
        /// PARTITIONS_AHEAD window).
        #[arg(long, value_name = "N")]
        days: Option<u32>,
        /// Show what would be created, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Drop partitions past retention (detach, then drop).
    ///
    /// Asks for "yes" on a terminal; without a terminal it refuses (exit 2) unless --force or
    /// --dry-run. Tables with cleanup=approval (the audit log) are only reported: their drops need
    /// a two-person approval in the console.
    Cleanup {
        /// List exactly what would be dropped, change nothing.
        #[arg(long, conflicts_with = "force")]
        dry_run: bool,
        /// Drop without asking (cron).
        #[arg(long)]
        force: bool,
    },
    /// Create + analyze + finish interrupted cleanups; drops only with --force.
    ///
    /// Without --force, partitions past retention are listed, not dropped, so maintenance is safe
    /// to run unattended (the guide's crontab runs `cleanup --force` separately).
    Maintenance {
        /// Show what would be done, change nothing.
        #[arg(long, conflicts_with = "force")]
        dry_run: bool,
        /// Also drop partitions past retention (auto tables only).
        #[arg(long)]
        force: bool,
        /// Also seal closed audit-log partitions: a trigger refusing UPDATE, DELETE and TRUNCATE,
        /// plus REVOKE from PUBLIC (the guide's `readonly = true` does not exist in PostgreSQL).
        #[arg(long)]
        seal: bool,
    },
    /// Convert live ordinary tables to partitioned tables online, while the application writes.
    ///
    /// A partitioned copy is built beside each table, kept in sync by a trigger, backfilled in
    /// batches, verified (rows and checksum per period) and swapped in one short transaction under
    /// lock_timeout. The old table is kept as <table>_before_partitioning until `migrate --finish`.
    /// Resumable: run it again after an interruption. For a database at migration 005; once all
    /// four tables are partitioned, migration 006 is applied (functions, policy) and recorded.
    Migrate(crate::online_cmd::OnlineArgs),
    /// Convert partitioned tables back to ordinary tables online (the reverse of `migrate`).
    ///
    /// The partitioned table is kept as <table>_before_rollback until `rollback --finish`.
    Rollback(crate::online_cmd::OnlineArgs),
    /// Monitoring: status, health, performance, metrics, tips.
    Monitor {
        #[command(subcommand)]
        command: Option<MonitorCommand>,
    },
    /// HIPAA retention compliance report for a period: stored, written as CSV or PDF.
    ///
    /// `report --from 2026-01-01 --to 2026-06-30 [--table T ...] --format csv|pdf --out FILE`.
    /// The report is also stored in the database (the console lists it at /reports, where a
    /// compliance officer signs it); the SHA-256 of both files is printed.
    Report(crate::compliance_cmd::ReportArgs),
    /// Benchmarks in a throwaway database (created and dropped here): writes BENCHMARKS.md.
    Bench(crate::bench_cmd::BenchArgs),
    /// Cleanup requests (two-person approval): list, show ID, execute ID.
    #[command(subcommand)]
    Requests(crate::requests_cmd::RequestsCommand),
    /// The hash-chained audit trail: verify (exit 1 naming the first broken row), export CSV.
    #[command(subcommand)]
    Audit(crate::requests_cmd::AuditCommand),
    /// The guide's two pg_cron jobs: install, remove, status.
    #[command(subcommand)]
    Cron(crate::cron_cmd::CronCommand),
}

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LEPTOS_SITE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Directory with the built site (the `pkg/` of JS, WASM and CSS).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,
    /// Apply pending schema migrations on start even with DATABASE_URL set (always done for the
    /// embedded cluster).
    #[arg(long)]
    pub migrate: bool,
    /// Do not fill an empty embedded database with demo data.
    #[arg(long)]
    pub no_demo: bool,
}

impl Default for ServeArgs {
    fn default() -> Self {
        Self {
            addr: std::env::var("LEPTOS_SITE_ADDR")
                .ok()
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3000))),
            site_root: std::env::var_os("LEPTOS_SITE_ROOT")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("target/site")),
            migrate: false,
            no_demo: false,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply every pending migration (001–006).
    Migrate,
    /// Revert migrations down to VERSION (e.g. `db revert 5` undoes 006).
    Revert {
        /// The version to keep; every later migration is reverted.
        version: i64,
    },
    /// Print how to connect with psql (starts the embedded cluster if needed).
    Url,
    /// Stop the embedded cluster.
    Stop,
}

/// The project directory: `RUSTCARE_HOME`, else the current directory.
pub fn project_root() -> PathBuf {
    std::env::var_os("RUSTCARE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs::default()));
    if let Some(code) = partition_command(&cli.global, &command).await? {
        return Ok(code);
    }
    match command {
        Command::Serve(args) => crate::serve::run(args).await.map(|_| ExitCode::SUCCESS),
        Command::User(cmd) => server::user_cmd::run(cmd, open().await?)
            .await
            .map(|_| ExitCode::SUCCESS),
        Command::Demo => {
            let db = open().await?;
            migrate::up(&db.pool).await.context("applying migrations")?;
            match demo::fill(&db.pool).await.context("writing demo data")? {
                demo::DemoOutcome::Filled => println!("demo data written"),
                demo::DemoOutcome::AlreadyHasData => {
                    println!("the tables already hold rows: demo data is only added to an empty database")
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Db(DbCommand::Migrate) => {
            let db = open().await?;
            migrate::up(&db.pool).await.context("applying migrations")?;
            println!("schema is up to date ({})", db.display_url);
            Ok(ExitCode::SUCCESS)
        }
        Command::Db(DbCommand::Revert { version }) => {
            let db = open().await?;
            migrate::down_to(&db.pool, version)
                .await
                .with_context(|| format!("reverting migrations down to {version:03}"))?;
            println!("reverted every migration after {version:03}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Db(DbCommand::Url) => {
            let db = open().await?;
            match &db.origin {
                Origin::Embedded(cluster) => print_connection(cluster),
                Origin::External => println!("DATABASE_URL is set: {}", db.display_url),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Db(DbCommand::Stop) => {
            let opts = ClusterOptions::from_env(&project_root())?;
            let stopped = tokio::task::spawn_blocking(move || Cluster::stop(&opts)).await??;
            println!(
                "{}",
                if stopped {
                    "embedded cluster stopped"
                } else {
                    "embedded cluster was not running"
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        // Handled by `partition_command`.
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// Runs the guide's partition commands; None for the others (serve, demo, db).
async fn partition_command(
    global: &GlobalOpts,
    command: &Command,
) -> anyhow::Result<Option<ExitCode>> {
    if matches!(
        command,
        Command::Serve(_) | Command::Demo | Command::Db(_) | Command::User(_)
    ) {
        return Ok(None);
    }
    if matches!(global.format, Format::Csv | Format::Pdf) && !matches!(command, Command::Report(_))
    {
        eprintln!("error: --format csv and --format pdf are for the `report` command; this command prints text or json");
        return Ok(Some(ExitCode::from(EXIT_USAGE)));
    }
    let ctx = match Ctx::load(global) {
        Ok(ctx) => ctx,
        Err(exit) => return Ok(Some(ExitCode::from(exit.0))),
    };
    let result = match command {
        Command::Status => crate::manage::status(&ctx).await,
        Command::Create { days, dry_run } => crate::manage::create(&ctx, *days, *dry_run).await,
        Command::Cleanup { dry_run, force } => crate::manage::cleanup(&ctx, *dry_run, *force).await,
        Command::Maintenance {
            dry_run,
            force,
            seal,
        } => crate::manage::maintenance(&ctx, *dry_run, *force, *seal).await,
        Command::Monitor { command } => {
            crate::monitor::run(&ctx, command.clone().unwrap_or(MonitorCommand::Status)).await
        }
        Command::Bench(args) => crate::bench_cmd::run(&ctx, args).await,
        Command::Cron(cmd) => crate::cron_cmd::run(&ctx, *cmd).await,
        Command::Migrate(args) => crate::online_cmd::run(&ctx, args, true).await,
        Command::Rollback(args) => crate::online_cmd::run(&ctx, args, false).await,
        Command::Report(args) => crate::compliance_cmd::run(&ctx, args).await,
        Command::Requests(cmd) => crate::requests_cmd::requests(&ctx, cmd).await,
        Command::Audit(cmd) => crate::requests_cmd::audit(&ctx, cmd).await,
        _ => return Ok(None),
    };
    finish(result).map(Some)
}

/// Opens the database (embedded or `DATABASE_URL`).
pub async fn open() -> anyhow::Result<Database> {
    Database::open(&project_root())
        .await
        .context("opening the database")
}

pub fn print_connection(cluster: &Cluster) {
    println!("Embedded PostgreSQL on 127.0.0.1:{}", cluster.port);
    println!("  connect: {}", cluster.psql_hint(pg::cluster::DATABASE));
    println!("  DATABASE_URL={}", cluster.url(pg::cluster::DATABASE));
}
