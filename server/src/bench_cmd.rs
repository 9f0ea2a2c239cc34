//! `bench`: runs `partitioning::pg::bench` in a throwaway database of the embedded cluster (or of
//! `DATABASE_URL`'s server), shows its progress, and writes the report (BENCHMARKS.md).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use partitioning::pg::bench::{self, report, BenchEvent, BenchOptions};
use partitioning::pg::{self as pg, ClusterOptions};
use sqlx::postgres::PgConnectOptions;

use crate::context::{print_json, Ctx, EXIT_OK};

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Daily partitions per table for the create, maintenance and status measures
    /// [default: 5000; 40 with --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..))]
    pub partitions: Option<u32>,
    /// Smoke test: small sizes, seconds; the report is complete, its figures mean little.
    #[arg(long)]
    pub quick: bool,
    /// Audit-log rows per month for the guide's claims [default: 50000; 2000 with --quick].
    #[arg(long, value_name = "ROWS", value_parser = clap::value_parser!(u32).range(1..))]
    pub rows_per_month: Option<u32>,
    /// Where to write the report (written atomically).
    #[arg(long, value_name = "PATH", default_value = "BENCHMARKS.md")]
    pub out: PathBuf,
}

impl BenchArgs {
    fn options(&self) -> BenchOptions {
        let mut opts = if self.quick {
            BenchOptions::quick()
        } else {
            BenchOptions::full(5000)
        };
        if let Some(n) = self.partitions {
            opts.partitions = n;
        }
        if let Some(rows) = self.rows_per_month {
            opts.rows_per_month = rows;
        }
        opts
    }
}

pub async fn run(ctx: &Ctx, args: &BenchArgs) -> anyhow::Result<u8> {
    let opts = args.options();
    let (admin, server) = target().await?;
    let display = Display::new(ctx.json());
    let on_event = |e: BenchEvent<'_>| display.event(e);
    // Ctrl-C cancels the run; dropping it drops the throwaway database.
    let result = tokio::select! {
        r = bench::run(&admin, &server, &ctx.config, &opts, &on_event) => {
            r.context("the benchmark failed (its database was dropped)")
        }
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!(
            "interrupted: the benchmark's database was dropped, no report was written"
        )),
    };
    display.finish();
    let report = result?;
    let md = report::markdown(&report);
    crate::monitor::write_atomically(&args.out, md.as_bytes())
        .with_context(|| format!("writing {}", args.out.display()))?;
    if ctx.json() {
        print_json(&report)?;
    } else {
        println!("report written to {}", args.out.display());
    }
    Ok(EXIT_OK)
}

/// A connection to the server the bench creates its database on, and how to name that server.
async fn target() -> anyhow::Result<(PgConnectOptions, String)> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => {
            let opts: PgConnectOptions = url.parse().with_context(|| {
                format!("DATABASE_URL is not a PostgreSQL URL: {}", pg::mask(&url))
            })?;
            let server = format!(
                "DATABASE_URL's server ({}:{})",
                opts.get_host(),
                opts.get_port()
            );
            Ok((opts, server))
        }
        _ => {
            let cluster_opts = ClusterOptions::from_env(&crate::cli::project_root())?;
            let data_dir = cluster_opts.data_dir.display().to_string();
            let cluster = pg::start_cluster(cluster_opts)
                .await
                .context("starting the embedded cluster")?;
            let opts: PgConnectOptions = cluster.url("postgres").parse()?;
            Ok((opts, format!("embedded cluster under {data_dir}")))
        }
    }
}

/// Progress: a bar (or spinner) per phase on a terminal, a line per phase and result otherwise,
/// nothing in JSON mode.
enum Display {
    Terminal(Mutex<Option<ProgressBar>>),
    Lines,
    Quiet,
}

impl Display {
    fn new(json: bool) -> Display {
        if json {
            Display::Quiet
        } else if std::io::stderr().is_terminal() {
            Display::Terminal(Mutex::new(None))
        } else {
            Display::Lines
        }
    }

    fn event(&self, e: BenchEvent<'_>) {
        match (self, e) {
            (Display::Terminal(slot), BenchEvent::Phase { name, steps }) => {
                let Ok(mut slot) = slot.lock() else { return };
                if let Some(old) = slot.take() {
                    old.finish_and_clear();
                }
                let bar = if steps == 0 {
                    let bar = ProgressBar::new_spinner();
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bar
                } else {
                    let bar = ProgressBar::new(steps);
                    let style = ProgressStyle::with_template(
                        "{bar:30.cyan/blue} {pos}/{len} {elapsed_precise} {wide_msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
                    bar.set_style(style);
                    bar
                };
                bar.set_message(name.to_string());
                *slot = Some(bar);
            }
            (Display::Terminal(slot), BenchEvent::Step) => {
                if let Ok(slot) = slot.lock() {
                    if let Some(bar) = slot.as_ref() {
                        bar.inc(1);
                    }
                }
            }
            (Display::Terminal(slot), BenchEvent::Measured(m)) => {
                if let Ok(slot) = slot.lock() {
                    let line = report::summary_line(m);
                    match slot.as_ref() {
                        Some(bar) => bar.println(line),
                        None => println!("{line}"),
                    }
                }
            }
            (Display::Lines, BenchEvent::Phase { name, .. }) => eprintln!("bench: {name}"),
            (Display::Lines, BenchEvent::Measured(m)) => println!("{}", report::summary_line(m)),
            _ => {}
        }
    }

    fn finish(&self) {
        if let Display::Terminal(slot) = self {
            if let Ok(mut slot) = slot.lock() {
                if let Some(bar) = slot.take() {
                    bar.finish_and_clear();
                }
            }
        }
    }
}
