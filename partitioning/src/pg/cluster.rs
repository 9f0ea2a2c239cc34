//! The embedded PostgreSQL cluster: a private cluster under the project's data dir, started (or reused)
//! with the Debian server binaries, listening on a Unix socket in that dir and on 127.0.0.1.
//!
//! Everything here is blocking (it runs `initdb` and `pg_ctl`); async callers use `spawn_blocking`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use rand::distributions::Alphanumeric;
use rand::Rng;

/// The superuser and application database of the embedded cluster.
pub const SUPERUSER: &str = "rustcare";
pub const DATABASE: &str = "rustcare";
/// Unix socket paths are limited to 107 bytes (`sun_path`).
const MAX_SOCKET_PATH: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "no PostgreSQL server binaries found (looked in {searched}). Install them with \
         `apt-get install -y postgresql`, point PG_BINDIR at the directory holding initdb and pg_ctl, \
         or set DATABASE_URL to use a server you already run"
    )]
    NoBinaries { searched: String },
    #[error(
        "the data dir {path} is unusable: {reason}. Fix its permissions, or set RUSTCARE_DATA_DIR to \
         a directory this user can write"
    )]
    DataDir { path: PathBuf, reason: String },
    #[error(
        "port {port} on 127.0.0.1 is already in use by another program. Unset RUSTCARE_PG_PORT to let \
         the embedded cluster pick a free port, or choose another one"
    )]
    PortTaken { port: u16 },
    #[error(
        "running as root, and there is no unprivileged `postgres` user to run the server as \
         (PostgreSQL refuses to run as root). Install Debian's postgresql package (it creates that \
         user) or run as an ordinary user"
    )]
    NoServiceUser,
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
}

/// Where and how to run the cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// The project's data dir; the cluster lives in `<data_dir>/pg`.
    pub data_dir: PathBuf,
    /// A fixed TCP port (`RUSTCARE_PG_PORT`); `None` picks a free one.
    pub port: Option<u16>,
    /// Trade durability for speed (fsync off): for throwaway test clusters only.
    pub ephemeral: bool,
    /// Where `initdb` and `pg_ctl` are (`PG_BINDIR`); `None` searches the usual places.
    pub bindir: Option<PathBuf>,
}

impl ClusterOptions {
    /// Options from the environment: `RUSTCARE_DATA_DIR` (default `<project>/.data`) and
    /// `RUSTCARE_PG_PORT`.
    pub fn from_env(project_root: &Path) -> Result<Self, ClusterError> {
        let data_dir = std::env::var_os("RUSTCARE_DATA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| project_root.join(".data"));
        let port = match std::env::var("RUSTCARE_PG_PORT") {
            Ok(text) => Some(text.parse::<u16>().map_err(|_| ClusterError::Command {
                command: "RUSTCARE_PG_PORT".into(),
                detail: format!("'{text}' is not a TCP port number (1-65535)"),
            })?),
            Err(_) => None,
        };
        Ok(Self {
            data_dir,
            port,
            ephemeral: false,
            bindir: std::env::var_os("PG_BINDIR").map(PathBuf::from),
        })
    }
}

/// A running embedded cluster.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub pgdata: PathBuf,
    pub socket_dir: Option<PathBuf>,
    pub log_file: PathBuf,
    pub port: u16,
    password: String,
}

impl Cluster {
    /// Starts the cluster under `opts.data_dir`, creating it on first use, or reuses the one already
    /// running there. Safe to call from several processes at once (a file lock serialises them).
    pub fn ensure_running(opts: &ClusterOptions) -> Result<Cluster, ClusterError> {
        let root = absolute(&opts.data_dir)?;
        let pg_root = root.join("pg");
        mkdir(&pg_root)?;
        let lock = File::create(root.join("cluster.lock")).map_err(|e| data_err(&root, e))?;
        lock.lock().map_err(|e| data_err(&root, e))?;

        let bin = find_bindir(opts.bindir.as_deref())?;
        let runner = Runner::new()?;
        let pgdata = pg_root.join("data");
        let log_dir = pg_root.join("log");
        let run_dir = pg_root.join("run");
        for dir in [&log_dir, &run_dir] {
            mkdir(dir)?;
        }
        runner.hand_over(&[&pg_root, &log_dir, &run_dir])?;
        let password = superuser_password(&root)?;
        if !pgdata.join("PG_VERSION").exists() {
            init_cluster(&bin, &runner, &pgdata, &pg_root, &password)?;
        }
        let socket_dir = (run_dir.join(".s.PGSQL.65535").as_os_str().len() <= MAX_SOCKET_PATH)
            .then_some(run_dir);
        if socket_dir.is_none() {
            tracing::warn!(path = %root.display(), "data dir path too long for a Unix socket; TCP only");
        }
        write_settings(
            &bin,
            &pgdata,
            socket_dir.as_deref(),
            opts.ephemeral,
            &runner,
        )?;
        let log_file = log_dir.join("postgresql.log");

        let port = match running_port(&bin, &runner, &pgdata) {
            Some(port) => {
                if opts.port.is_some_and(|wanted| wanted != port) {
                    tracing::warn!(
                        port,
                        "embedded cluster already running on another port; reusing it"
                    );
                }
                port
            }
            None => {
                let port = choose_port(opts.port, &root)?;
                start(&bin, &runner, &pgdata, &log_file, port)?;
                fs::write(root.join("pg.port"), port.to_string())
                    .map_err(|e| data_err(&root, e))?;
                port
            }
        };
        Ok(Cluster {
            pgdata,
            socket_dir,
            log_file,
            port,
            password,
        })
    }

    /// A connection URL for `database` over TCP on 127.0.0.1.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// The psql command a person types to reach `database`.
    pub fn psql_hint(&self, database: &str) -> String {
        match &self.socket_dir {
            Some(dir) => format!(
                "psql -h {} -p {} -U {SUPERUSER} {database}    (or: psql \"{}\")",
                dir.display(),
                self.port,
                self.url(database)
            ),
            None => format!("psql \"{}\"", self.url(database)),
        }
    }

    /// Stops the cluster (fast shutdown). Used by `db stop`.
    pub fn stop(opts: &ClusterOptions) -> Result<bool, ClusterError> {
        let root = absolute(&opts.data_dir)?;
        let pgdata = root.join("pg").join("data");
        if !pgdata.join("PG_VERSION").exists() {
            return Ok(false);
        }
        let bin = find_bindir(opts.bindir.as_deref())?;
        let runner = Runner::new()?;
        if running_port(&bin, &runner, &pgdata).is_none() {
            return Ok(false);
        }
        let mut cmd = runner.command(&bin.join("pg_ctl"));
        cmd.arg("stop")
            .arg("-D")
            .arg(&pgdata)
            .args(["-m", "fast", "-w"]);
        run(cmd, "pg_ctl stop")?;
        Ok(true)
    }
}

/// Runs server programs as the right OS user: ourselves, or `postgres` when we are root.
struct Runner {
    service_user: Option<(String, u32, u32)>,
}

impl Runner {
    fn new() -> Result<Self, ClusterError> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Ok(Self { service_user: None });
        }
        let out = Command::new("id")
            .args(["-u", "postgres"])
            .output()
            .map_err(|_| ClusterError::NoServiceUser)?;
        let gid_out = Command::new("id")
            .args(["-g", "postgres"])
            .output()
            .map_err(|_| ClusterError::NoServiceUser)?;
        let parse = |o: &std::process::Output| -> Option<u32> {
            o.status
                .success()
                .then(|| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
                .flatten()
        };
        match (parse(&out), parse(&gid_out)) {
            (Some(uid), Some(gid)) => Ok(Self {
                service_user: Some(("postgres".into(), uid, gid)),
            }),
            _ => Err(ClusterError::NoServiceUser),
        }
    }

    fn command(&self, program: &Path) -> Command {
        match &self.service_user {
            Some((user, _, _)) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", user, "--"]).arg(program);
                cmd
            }
            None => Command::new(program),
        }
    }

    /// Gives `paths` (not their contents) to the service user and checks it can write the first.
    fn hand_over(&self, paths: &[&Path]) -> Result<(), ClusterError> {
        let Some((user, uid, gid)) = &self.service_user else {
            return Ok(());
        };
        for path in paths {
            std::os::unix::fs::lchown(path, Some(*uid), Some(*gid))
                .map_err(|e| data_err(path, e))?;
        }
        let Some(pg_root) = paths.first() else {
            return Ok(());
        };
        let ok = Command::new("runuser")
            .args(["-u", user, "--", "test", "-w"])
            .arg(pg_root)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            Ok(())
        } else {
            Err(ClusterError::DataDir {
                path: pg_root.to_path_buf(),
                reason: format!(
                    "the `{user}` user the server runs as cannot reach it (a parent directory is not \
                     world-searchable)"
                ),
            })
        }
    }
}

/// The directory with `initdb` and `pg_ctl`: the one given (`PG_BINDIR`), else the newest Debian
/// `/usr/lib/postgresql/<version>/bin`, else `pg_config --bindir`.
fn find_bindir(given: Option<&Path>) -> Result<PathBuf, ClusterError> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = given {
        return if has_tools(dir) {
            Ok(dir.to_path_buf())
        } else {
            Err(ClusterError::NoBinaries {
                searched: format!("PG_BINDIR={}", dir.display()),
            })
        };
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            has_tools(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_tools(&dir) {
            return Ok(dir);
        }
    }
    Err(ClusterError::NoBinaries {
        searched: "PG_BINDIR, /usr/lib/postgresql/*/bin, pg_config --bindir".into(),
    })
}

fn init_cluster(
    bin: &Path,
    runner: &Runner,
    pgdata: &Path,
    pg_root: &Path,
    password: &str,
) -> Result<(), ClusterError> {
    if pgdata.exists() {
        // A half-made cluster from an interrupted initdb: start over.
        fs::remove_dir_all(pgdata).map_err(|e| data_err(pgdata, e))?;
    }
    let pwfile = pg_root.join("initdb.pw");
    write_private(&pwfile, password)?;
    runner.hand_over(&[&pwfile])?;
    let mut cmd = runner.command(&bin.join("initdb"));
    cmd.arg("-D")
        .arg(pgdata)
        .args(["-U", SUPERUSER, "-E", "UTF8", "--no-locale"])
        .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
        .arg(format!("--pwfile={}", pwfile.display()));
    let result = run(cmd, "initdb");
    let _ = fs::remove_file(&pwfile);
    result
        .map(|_| tracing::info!(pgdata = %pgdata.display(), "created embedded PostgreSQL cluster"))
}

/// Our settings live in their own file, included from postgresql.conf, rewritten on every start.
fn write_settings(
    bin: &Path,
    pgdata: &Path,
    socket_dir: Option<&Path>,
    ephemeral: bool,
    runner: &Runner,
) -> Result<(), ClusterError> {
    let mut conf =
        String::from("# Written by rustcare-partitions on every start; edits are lost.\n");
    conf.push_str("listen_addresses = '127.0.0.1'\n");
    let sockets = socket_dir
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    conf.push_str(&format!("unix_socket_directories = '{sockets}'\n"));
    conf.push_str("unix_socket_permissions = 0700\n");
    conf.push_str("timezone = 'UTC'\nlog_timezone = 'UTC'\nmax_connections = 200\n");
    conf.push_str("max_locks_per_transaction = 1024\n");
    if pg_cron_available(bin) {
        conf.push_str("shared_preload_libraries = 'pg_cron'\n");
        conf.push_str(&format!("cron.database_name = '{DATABASE}'\n"));
        // Jobs run in background workers, not over a libpq connection: no password, no socket
        // path to configure (TCP here needs scram-sha-256, which pg_cron's client cannot give).
        conf.push_str("cron.use_background_workers = on\nmax_worker_processes = 16\n");
    }
    if ephemeral {
        conf.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
    }
    let ours = pgdata.join("rustcare.conf");
    fs::write(&ours, conf).map_err(|e| data_err(pgdata, e))?;
    let main = pgdata.join("postgresql.conf");
    let text = fs::read_to_string(&main).map_err(|e| data_err(pgdata, e))?;
    if !text.contains("include_if_exists = 'rustcare.conf'") {
        let mut f = OpenOptions::new()
            .append(true)
            .open(&main)
            .map_err(|e| data_err(pgdata, e))?;
        writeln!(f, "\ninclude_if_exists = 'rustcare.conf'").map_err(|e| data_err(pgdata, e))?;
    }
    runner.hand_over(&[&ours])
}

/// pg_cron is preloaded when Debian's `postgresql-NN-cron` is installed for this server version.
pub fn pg_cron_available(bin: &Path) -> bool {
    bin.parent()
        .map(|v| v.join("lib").join("pg_cron.so").is_file())
        .unwrap_or(false)
}

/// The port of the server running in `pgdata`, if one is.
fn running_port(bin: &Path, runner: &Runner, pgdata: &Path) -> Option<u16> {
    let mut cmd = runner.command(&bin.join("pg_ctl"));
    cmd.arg("status").arg("-D").arg(pgdata);
    let status = cmd.output().ok()?;
    if !status.status.success() {
        return None;
    }
    // postmaster.pid: pid, data dir, start time, port, ...
    let pid = fs::read_to_string(pgdata.join("postmaster.pid")).ok()?;
    pid.lines().nth(3)?.trim().parse().ok()
}

fn choose_port(wanted: Option<u16>, root: &Path) -> Result<u16, ClusterError> {
    let free = |port: u16| TcpListener::bind(("127.0.0.1", port)).is_ok();
    if let Some(port) = wanted {
        return if free(port) {
            Ok(port)
        } else {
            Err(ClusterError::PortTaken { port })
        };
    }
    // Prefer the port used last time, so URLs people saved keep working.
    let previous = fs::read_to_string(root.join("pg.port"))
        .ok()
        .and_then(|t| t.trim().parse::<u16>().ok());
    if let Some(port) = previous.filter(|p| free(*p)) {
        return Ok(port);
    }
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(|e| ClusterError::Command {
        command: "bind 127.0.0.1:0".into(),
        detail: e.to_string(),
    })?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| ClusterError::Command {
            command: "bind 127.0.0.1:0".into(),
            detail: e.to_string(),
        })
}

fn start(
    bin: &Path,
    runner: &Runner,
    pgdata: &Path,
    log_file: &Path,
    port: u16,
) -> Result<(), ClusterError> {
    let mut cmd = runner.command(&bin.join("pg_ctl"));
    cmd.arg("start")
        .arg("-D")
        .arg(pgdata)
        .arg("-l")
        .arg(log_file)
        .args(["-w", "-t", "120", "-o"])
        .arg(format!("-p {port}"));
    run(cmd, "pg_ctl start").map_err(|err| {
        let tail = fs::read_to_string(log_file)
            .map(|t| {
                let lines: Vec<&str> = t.lines().collect();
                lines[lines.len().saturating_sub(8)..].join("\n")
            })
            .unwrap_or_default();
        if tail.contains("Address already in use") {
            ClusterError::PortTaken { port }
        } else {
            ClusterError::Command {
                command: "pg_ctl start".into(),
                detail: format!("{err}\nlast lines of {}:\n{tail}", log_file.display()),
            }
        }
    })?;
    tracing::info!(port, "embedded PostgreSQL started");
    Ok(())
}

fn superuser_password(root: &Path) -> Result<String, ClusterError> {
    let file = root.join("superuser.password");
    if let Ok(text) = fs::read_to_string(&file) {
        let text = text.trim().to_string();
        if !text.is_empty() {
            return Ok(text);
        }
    }
    let password: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    write_private(&file, &password)?;
    Ok(password)
}

fn write_private(path: &Path, text: &str) -> Result<(), ClusterError> {
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| data_err(path, e))?;
    f.write_all(text.as_bytes()).map_err(|e| data_err(path, e))
}

fn mkdir(path: &Path) -> Result<(), ClusterError> {
    fs::create_dir_all(path).map_err(|e| data_err(path, e))
}

fn absolute(path: &Path) -> Result<PathBuf, ClusterError> {
    fs::create_dir_all(path).map_err(|e| data_err(path, e))?;
    fs::canonicalize(path).map_err(|e| data_err(path, e))
}

fn data_err(path: &Path, e: std::io::Error) -> ClusterError {
    ClusterError::DataDir {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

fn run(mut cmd: Command, what: &str) -> Result<String, ClusterError> {
    let out = cmd.output().map_err(|e| ClusterError::Command {
        command: what.into(),
        detail: e.to_string(),
    })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(ClusterError::Command {
            command: what.into(),
            detail: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
            .trim()
            .to_string(),
        })
    }
}
