//! Console accounts from the command line (`rustcare-partitions user …`), and the demo accounts
//! of the embedded demo database. Passwords come from a prompt or standard input, never from the
//! command line (where `ps` and shell history would keep them).

use partitioning::pg::audit::{self, AuditEvent};
use serde_json::json;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use app::auth::password::random_token;
use app::auth::store;
use clap::Subcommand;
use partitioning::access::{check_password, Role, Username};
use partitioning::pg::{migrate, Database, Origin};
use sqlx::PgPool;

#[derive(Debug, Clone, Subcommand)]
pub enum UserCommand {
    /// Create a console account (the first one: `user add admin --role admin`).
    Add {
        username: String,
        /// viewer (read-only), compliance, dba or admin.
        #[arg(long)]
        role: String,
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List console accounts.
    List,
    /// Disable an account; its sessions end at once.
    Disable { username: String },
    /// Enable a disabled account.
    Enable { username: String },
    /// Change an account's role.
    SetRole {
        username: String,
        /// viewer, compliance, dba or admin.
        role: String,
    },
    /// Set a new password (ends the account's sessions, lifts a login lock).
    Passwd {
        username: String,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// Runs a `user` subcommand against `db` (the embedded cluster is migrated first).
pub async fn run(cmd: UserCommand, db: Database) -> anyhow::Result<()> {
    if matches!(db.origin, Origin::Embedded(_)) {
        migrate::up(&db.pool).await.context("applying migrations")?;
    }
    let pool = &db.pool;
    let result: anyhow::Result<()> = match cmd {
        UserCommand::Add {
            username,
            role,
            display_name,
            password_stdin,
        } => {
            let name = parse_username(&username)?;
            let role = parse_role(&role)?;
            let password = read_password(&name, password_stdin)?;
            store::create(
                pool,
                &name,
                display_name.as_deref().unwrap_or(""),
                role,
                &password,
            )
            .await?;
            println!("account {name} created with the {role} role");
            record(pool, "user_added", &name, json!({"role": role.name()})).await;
            Ok(())
        }
        UserCommand::List => list(pool).await,
        UserCommand::Disable { username } => {
            let name = parse_username(&username)?;
            store::set_disabled(pool, &name, true).await?;
            println!("{name} is disabled; their sessions have ended");
            record(pool, "user_changed", &name, json!({"change": "disabled"})).await;
            Ok(())
        }
        UserCommand::Enable { username } => {
            let name = parse_username(&username)?;
            store::set_disabled(pool, &name, false).await?;
            println!("{name} is enabled");
            record(pool, "user_changed", &name, json!({"change": "enabled"})).await;
            Ok(())
        }
        UserCommand::SetRole { username, role } => {
            let name = parse_username(&username)?;
            let role = parse_role(&role)?;
            store::set_role(pool, &name, role).await?;
            println!("{name} now has the {role} role");
            record(
                pool,
                "user_changed",
                &name,
                json!({"change": "role", "role": role.name()}),
            )
            .await;
            Ok(())
        }
        UserCommand::Passwd {
            username,
            password_stdin,
        } => {
            let name = parse_username(&username)?;
            let password = read_password(&name, password_stdin)?;
            store::set_password(pool, &name, &password).await?;
            println!("{name} has a new password; their sessions have ended");
            record(
                pool,
                "user_changed",
                &name,
                json!({"change": "password reset"}),
            )
            .await;
            Ok(())
        }
    };
    result
}

/// Appends an account change to the audit trail as `RUSTCARE_ACTOR`, else `cli:$USER` (the same
/// default as the partition commands' `--actor`).
async fn record(pool: &PgPool, action: &str, name: &Username, detail: serde_json::Value) {
    let actor = std::env::var("RUSTCARE_ACTOR")
        .ok()
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| {
            format!(
                "cli:{}",
                std::env::var("USER").unwrap_or_else(|_| "unknown".into())
            )
        });
    let event = AuditEvent::new(actor, action, format!("user:{}", name.as_str()), detail);
    audit::append_logged(pool, &event).await;
}

fn parse_username(text: &str) -> anyhow::Result<Username> {
    Username::parse(text).map_err(|e| anyhow::anyhow!("{e}"))
}

fn parse_role(text: &str) -> anyhow::Result<Role> {
    Role::parse(text).map_err(|e| anyhow::anyhow!("{e}"))
}

async fn list(pool: &PgPool) -> anyhow::Result<()> {
    let rows = store::list(pool).await?;
    if rows.is_empty() {
        println!("no console accounts yet: create one with `rustcare-partitions user add NAME --role admin`");
        return Ok(());
    }
    println!(
        "{:<24} {:<11} {:<26} {:<21} DISPLAY NAME",
        "USERNAME", "ROLE", "STATUS", "LAST LOGIN"
    );
    for r in rows {
        let status = match (r.disabled, r.locked_until) {
            (true, _) => "disabled".to_string(),
            (false, Some(t)) => format!("locked until {}", t.format("%H:%M UTC")),
            (false, None) => "active".to_string(),
        };
        let last = r
            .last_login_at
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "never".into());
        println!(
            "{:<24} {:<11} {:<26} {:<21} {}",
            r.username,
            r.role.name(),
            status,
            last,
            r.display_name
        );
    }
    Ok(())
}

/// A password from standard input (`--password-stdin`) or a terminal prompt, asked twice.
fn read_password(name: &Username, from_stdin: bool) -> anyhow::Result<String> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        line.trim_end_matches(['\n', '\r']).to_string()
    } else {
        if !std::io::stdin().is_terminal() {
            bail!("no terminal to ask for the password: pipe it in with --password-stdin");
        }
        let first = rpassword::prompt_password(format!("New password for {name}: "))
            .context("reading the password")?;
        check_password(&first).map_err(|e| anyhow::anyhow!("{e}"))?;
        let again = rpassword::prompt_password("Repeat it: ").context("reading the password")?;
        if first != again {
            bail!("the two passwords differ; nothing was changed");
        }
        first
    };
    check_password(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(password)
}

/// The demo accounts and their role.
pub const DEMO_ACCOUNTS: [(&str, &str, Role); 5] = [
    ("admin", "Demo Admin", Role::Admin),
    ("dba1", "Dana DBA", Role::Dba),
    ("dba2", "Dario DBA", Role::Dba),
    ("compliance", "Casey Compliance", Role::Compliance),
    ("viewer", "Vic Viewer", Role::Viewer),
];

/// Where the demo accounts are written: `<data dir>/demo-accounts.txt`.
pub fn demo_accounts_file(data_dir: &Path) -> PathBuf {
    data_dir.join("demo-accounts.txt")
}

/// Creates the demo accounts when the database has no console account, sharing one password:
/// `RUSTCARE_DEMO_PASSWORD` when set (for scripted browser tests), else a generated one. Writes
/// them to `file` (mode 0600) and returns the password; None when accounts already exist.
pub async fn ensure_demo_accounts(pool: &PgPool, file: &Path) -> anyhow::Result<Option<String>> {
    if store::count(pool).await? > 0 {
        return Ok(None);
    }
    let password = match std::env::var("RUSTCARE_DEMO_PASSWORD") {
        Ok(p) if !p.is_empty() => {
            check_password(&p).map_err(|e| anyhow::anyhow!("RUSTCARE_DEMO_PASSWORD: {e}"))?;
            p
        }
        _ => random_token(20),
    };
    for (name, display, role) in DEMO_ACCOUNTS {
        let name = parse_username(name)?;
        store::create(pool, &name, display, role, &password).await?;
    }
    write_private(file, &demo_file_text(&password))
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(Some(password))
}

fn demo_file_text(password: &str) -> String {
    let mut text = String::from(
        "# Console accounts of the embedded demo database (all share one password).\n\
         # Change one with `rustcare-partitions user passwd NAME`.\n\
         # username role password\n",
    );
    for (name, _, role) in DEMO_ACCOUNTS {
        text.push_str(&format!("{name} {role} {password}\n"));
    }
    text
}

/// Writes `text` readable by the owner only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    #[cfg(unix)]
    {
        // `mode` applies only to a new file: tighten an existing one too.
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(text.as_bytes())
}
