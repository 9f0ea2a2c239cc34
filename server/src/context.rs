//! What every partition command shares: the global options, the loaded config (refusing to run on
//! a bad one), the database, the actor written to the action log, and the exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use partitioning::catalog::CatalogSnapshot;
use partitioning::config::Config;
use partitioning::pg::catalog;
use partitioning::pg::{migrate, Database, Origin};
use partitioning::table::ManagedTable;
use sqlx::PgPool;

use crate::cli::project_root;

/// Exit codes of the partition commands (health uses 0/1/2 for ok/warning/critical).
pub const EXIT_OK: u8 = 0;
/// Some actions were not done (failed, or another run held the table), or a warning.
pub const EXIT_PARTIAL: u8 = 1;
/// Usage or configuration error, nothing was run; or a critical health finding.
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    /// The `report` command only: the report's CSV file.
    Csv,
    /// The `report` command only: the report's PDF file.
    Pdf,
}

/// Options every partition command accepts, before or after the command name.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalOpts {
    /// Only this managed table (repeatable): auth_audit_log, sessions, refresh_tokens, rate_limits.
    #[arg(long = "table", value_name = "TABLE", global = true, value_parser = parse_table)]
    pub tables: Vec<ManagedTable>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text", global = true)]
    pub format: Format,
    /// Policy file [default: config/partitioning.conf under the project root].
    #[arg(long, value_name = "PATH", global = true)]
    pub config: Option<PathBuf>,
    /// Who runs this, recorded in the action log [default: cli:$USER].
    #[arg(long, value_name = "NAME", global = true, env = "RUSTCARE_ACTOR")]
    pub actor: Option<String>,
    /// Exact on-disk sizes (a stat of every file) instead of the catalog's estimates; slower on
    /// thousands of partitions.
    #[arg(long, global = true)]
    pub exact_sizes: bool,
}

fn parse_table(s: &str) -> Result<ManagedTable, String> {
    ManagedTable::parse(s).map_err(|e| e.to_string())
}

/// The resolved options of one partition command.
pub struct Ctx {
    pub config: Config,
    pub tables: Vec<ManagedTable>,
    pub format: Format,
    pub actor: String,
    pub exact_sizes: bool,
}

/// A command ending with a message already printed and this exit code.
#[derive(Debug)]
pub struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

impl std::error::Error for Exit {}

impl Ctx {
    /// Loads the config; on any error prints every bad line (file:line: key: why) to stderr and
    /// fails with exit 2 before anything touches the database.
    pub fn load(opts: &GlobalOpts) -> Result<Ctx, Exit> {
        let config = load_config(opts.config.as_ref())?;
        let actor = opts.actor.clone().unwrap_or_else(|| {
            format!(
                "cli:{}",
                std::env::var("USER").unwrap_or_else(|_| "unknown".into())
            )
        });
        Ok(Ctx {
            config,
            tables: opts.tables.clone(),
            format: opts.format,
            actor,
            exact_sizes: opts.exact_sizes,
        })
    }

    /// The tables this run covers, in the guide's order.
    pub fn tables(&self) -> Vec<ManagedTable> {
        ManagedTable::ALL
            .into_iter()
            .filter(|t| self.tables.is_empty() || self.tables.contains(t))
            .collect()
    }

    pub fn json(&self) -> bool {
        self.format == Format::Json
    }

    /// The catalog of this run's tables, every field (`catalog::Detail::Full`), with exact sizes
    /// when `--exact-sizes` asks for them.
    pub async fn snapshot(&self, pool: &PgPool) -> anyhow::Result<CatalogSnapshot> {
        self.snapshot_at(pool, catalog::Detail::Full).await
    }

    /// The catalog as planning needs it (`catalog::Detail::Plan`: heap-only size estimates, recent
    /// statistics), several times faster at thousands of partitions; exact sizes when asked.
    pub async fn snapshot_for_plan(&self, pool: &PgPool) -> anyhow::Result<CatalogSnapshot> {
        self.snapshot_at(pool, catalog::Detail::Plan).await
    }

    async fn snapshot_at(
        &self,
        pool: &PgPool,
        detail: catalog::Detail,
    ) -> anyhow::Result<CatalogSnapshot> {
        let mut snap = catalog::snapshot_with(pool, &self.tables(), detail)
            .await
            .context("reading the catalog")?;
        if self.exact_sizes {
            let mut oids = Vec::new();
            for t in &snap.tables {
                let all = t
                    .partitions
                    .iter()
                    .chain(&t.default_partition)
                    .chain(&t.detached);
                oids.extend(all.map(|p| p.oid));
            }
            let sizes = catalog::exact_sizes(pool, &oids)
                .await
                .context("reading exact sizes")?;
            let mut sizes = sizes.into_iter();
            for t in &mut snap.tables {
                let all = t
                    .partitions
                    .iter_mut()
                    .chain(t.default_partition.as_mut())
                    .chain(t.detached.iter_mut());
                for (p, bytes) in all.zip(sizes.by_ref()) {
                    p.bytes = bytes;
                }
            }
        }
        Ok(snap)
    }
}

fn load_config(explicit: Option<&PathBuf>) -> Result<Config, Exit> {
    let default = project_root().join("config").join("partitioning.conf");
    let path = explicit.cloned().unwrap_or(default);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if explicit.is_none() && e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(path = %path.display(), "no config file: using the built-in defaults (the shipped config)");
            return Ok(Config::default());
        }
        Err(e) => {
            eprintln!("error: cannot read the config file {}: {e}", path.display());
            return Err(Exit(EXIT_USAGE));
        }
    };
    Config::parse(&text, &path.display().to_string()).map_err(|err| {
        for line in &err.errors {
            eprintln!("error: {line}");
        }
        eprintln!(
            "error: {} problem(s) in {}; nothing was run",
            err.errors.len(),
            path.display()
        );
        Exit(EXIT_USAGE)
    })
}

/// Opens the database (DATABASE_URL, else the embedded cluster, whose schema is brought up to
/// date as `serve` does).
pub async fn open_db() -> anyhow::Result<Database> {
    let db = crate::cli::open().await?;
    if matches!(db.origin, Origin::Embedded(_)) {
        migrate::up(&db.pool).await.context("applying migrations")?;
    }
    Ok(db)
}

/// Turns a command's result into the process exit code.
pub fn finish(result: anyhow::Result<u8>) -> anyhow::Result<ExitCode> {
    match result {
        Ok(code) => Ok(ExitCode::from(code)),
        Err(e) => match e.downcast_ref::<Exit>() {
            Some(Exit(code)) => Ok(ExitCode::from(*code)),
            None => Err(e),
        },
    }
}

/// Prints a JSON document on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
