//! `monitor status|health|performance|metrics|tips`: the guide's `monitor-partitions.sh` commands.
//! Read-only: nothing here changes the database.

use std::path::Path;

use anyhow::Context as _;
use partitioning::health::{self, HealthReport, Severity};
use partitioning::metrics;
use partitioning::pg::monitor::{self, Performance};
use partitioning::pg::{catalog, tips};
use partitioning::planner::{self, PlanOptions};
use serde::Serialize;

use crate::context::{open_db, print_json, Ctx, EXIT_OK};
use crate::report::{self, text_table};

#[derive(Debug, Clone, clap::Subcommand)]
pub enum MonitorCommand {
    /// Overview of every managed table and its performance (the default).
    Status,
    /// Health checks; exit 0 healthy, 1 warning, 2 critical. Each finding says what to do.
    Health,
    /// Per table: scans, index use, dead rows, cache hits, and how many partitions a typical query touches.
    Performance,
    /// Prometheus metrics: to stdout, or written atomically to FILE.
    Metrics {
        /// Where to write them (a temp file in the same directory, fsync, rename).
        file: Option<std::path::PathBuf>,
    },
    /// Advice drawn from this database's state: settings, pg_cron, defaults, sizes, statistics.
    Tips,
}

pub async fn run(ctx: &Ctx, cmd: MonitorCommand) -> anyhow::Result<u8> {
    let db = open_db().await?;
    let pool = &db.pool;
    let tables = ctx.tables();
    let snapshot = ctx.snapshot(pool).await?;
    match cmd {
        MonitorCommand::Status => {
            let plan = planner::plan(&ctx.config, &snapshot, snapshot.taken_at, &plan_opts(ctx));
            let status = report::status(&ctx.config, &snapshot, &plan, &tables);
            let perf = monitor::performance(pool, &snapshot, &tables).await?;
            if ctx.json() {
                #[derive(Serialize)]
                struct Both<'a> {
                    status: &'a report::StatusReport,
                    performance: &'a Performance,
                }
                print_json(&Both {
                    status: &status,
                    performance: &perf,
                })?;
            } else {
                print!("{}", report::status_text(&status));
                println!();
                print!("{}", performance_text(&perf));
            }
            Ok(EXIT_OK)
        }
        MonitorCommand::Health => {
            let settings = catalog::server_settings(pool).await?;
            let report = health::check(&ctx.config, &snapshot, &settings, snapshot.taken_at);
            if ctx.json() {
                print_json(&report)?;
            } else {
                print!("{}", health_text(&report));
            }
            Ok(report.exit_code())
        }
        MonitorCommand::Performance => {
            let perf = monitor::performance(pool, &snapshot, &tables).await?;
            if ctx.json() {
                print_json(&perf)?;
            } else {
                print!("{}", performance_text(&perf));
            }
            Ok(EXIT_OK)
        }
        MonitorCommand::Metrics { file } => {
            let settings = catalog::server_settings(pool).await?;
            let report = health::check(&ctx.config, &snapshot, &settings, snapshot.taken_at);
            let text = metrics::render(&ctx.config, &snapshot, &report);
            match file {
                None => print!("{text}"),
                Some(path) => {
                    write_atomically(&path, text.as_bytes())
                        .with_context(|| format!("writing metrics to {}", path.display()))?;
                    eprintln!("metrics written to {}", path.display());
                }
            }
            Ok(EXIT_OK)
        }
        MonitorCommand::Tips => {
            let facts = monitor::server_facts(pool).await?;
            let perf = monitor::performance(pool, &snapshot, &tables).await?;
            let plan = planner::plan(&ctx.config, &snapshot, snapshot.taken_at, &plan_opts(ctx));
            let tips = tips::tips(&ctx.config, &snapshot, &facts, &perf, &plan);
            if ctx.json() {
                print_json(&tips)?;
            } else if tips.is_empty() {
                println!("No tips: settings, pg_cron, partitions and statistics all look right.");
            } else {
                for (i, t) in tips.iter().enumerate() {
                    let scope = t.table.map(|t| format!("{t}: ")).unwrap_or_default();
                    println!("{}. {scope}{}\n   → {}", i + 1, t.finding, t.advice);
                }
            }
            Ok(EXIT_OK)
        }
    }
}

fn plan_opts(ctx: &Ctx) -> PlanOptions {
    PlanOptions {
        tables: ctx.tables(),
        ..PlanOptions::maintenance()
    }
}

fn health_text(r: &HealthReport) -> String {
    let mut s = String::new();
    for f in &r.findings {
        let scope = f.table.map(|t| format!("{t}: ")).unwrap_or_default();
        s.push_str(&format!(
            "[{}] {scope}{}\n",
            severity_word(f.severity),
            f.message
        ));
        if f.severity != Severity::Ok {
            s.push_str(&format!("    what to do: {}\n", f.remedy));
        }
    }
    s.push_str(&format!("overall: {}\n", severity_word(r.worst())));
    s
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Ok => "OK",
        Severity::Warning => "WARNING",
        Severity::Critical => "CRITICAL",
    }
}

fn pct(r: Option<f64>) -> String {
    r.map(|r| format!("{:.1}%", r * 100.0))
        .unwrap_or_else(|| "-".into())
}

fn performance_text(p: &Performance) -> String {
    let rows = p
        .tables
        .iter()
        .map(|t| {
            vec![
                t.table.clone(),
                t.partitions.to_string(),
                t.seq_scan.to_string(),
                t.idx_scan.to_string(),
                pct(t.index_use_ratio()),
                t.live_rows.to_string(),
                t.dead_rows.to_string(),
                pct(t.cache_hit_ratio()),
                t.never_analyzed.to_string(),
            ]
        })
        .collect();
    let mut s =
        String::from("Access statistics (summed over partitions, since the last stats reset)\n\n");
    s.push_str(&text_table(
        &[
            "table",
            "partitions",
            "seq scans",
            "idx scans",
            "index use",
            "live rows",
            "dead rows",
            "cache hits",
            "never analyzed",
        ],
        rows,
        &[1, 2, 3, 4, 5, 6, 7, 8],
    ));
    s.push_str("\nTypical queries (EXPLAIN, not run): partitions touched\n\n");
    let rows = p
        .probes
        .iter()
        .map(|q| {
            vec![
                q.table.clone(),
                q.label.clone(),
                match &q.error {
                    None => match q.partitions_expected {
                        Some(e) => format!(
                            "{} of {} (range holds {e})",
                            q.partitions_scanned, q.partitions_total
                        ),
                        None => format!(
                            "{} of {} (no key filter)",
                            q.partitions_scanned, q.partitions_total
                        ),
                    },
                    Some(e) => format!("error: {e}"),
                },
            ]
        })
        .collect();
    s.push_str(&text_table(
        &["table", "query", "partitions scanned"],
        rows,
        &[2],
    ));
    s
}

/// Writes `bytes` to `path` so a reader (node_exporter's textfile collector) never sees a partial
/// file: a temp file in the same directory, fsync, rename over the target, fsync the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "metrics".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
