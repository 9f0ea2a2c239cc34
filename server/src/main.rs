//! `rustcare-partitions`: `serve` runs the console; the other subcommands are the CLI the scripts wrap.

use std::process::ExitCode;

use clap::Parser;

mod bench_cmd;
mod cli;
mod compliance_cmd;
mod context;
mod cron_cmd;
mod manage;
mod monitor;
mod online_cmd;
mod progress;
mod report;
mod requests_cmd;
mod serve;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            // One clear line for the person; the log line carries the same for log collectors
            // only when asked for (debug), so a terminal does not show it twice.
            tracing::debug!("{e:?}");
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_tracing(verbose: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if verbose {
        "debug"
    } else {
        "info,sqlx=warn,tower_sessions=warn"
    };
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
