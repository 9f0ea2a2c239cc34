//! `bench`: measures the engine side by side with a baseline taken in the same run, in a throwaway
//! database it creates and drops itself, and says for each figure whether it meets its target.
//!
//! The measures (each a `Measure`, baseline in the same run, ratio = ours ÷ baseline):
//! - maintenance with nothing to do over N daily partitions, vs pg_partman's `run_maintenance()`;
//! - creating N partitions through the executor, vs a plain loop of `CREATE TABLE ... PARTITION OF`;
//! - the catalog snapshot behind `status` over 2N partitions, vs a listing with exact sizes;
//! - the guide's claims on the audit log: a month's query with pruning vs one indexed ordinary
//!   table ("10x"), and dropping a month vs `DELETE` ("100x").
//!
//! Timings are never asserted by tests: a shared two-core machine makes them vary. The report says
//! what was measured and how, and the tests only check that it is complete.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::postgres::PgConnectOptions;

use crate::config::Config;

mod claims;
mod create;
mod maintenance;
pub mod report;
mod scratch;
mod status;
pub mod timing;

pub use timing::Samples;

/// What to run, and how big.
#[derive(Debug, Clone, Serialize)]
pub struct BenchOptions {
    /// Daily partitions created (per table) for the create, maintenance and status measures.
    pub partitions: u32,
    /// Months of audit-log rows for the guide's claims.
    pub months: u32,
    /// Audit-log rows per month.
    pub rows_per_month: u32,
    /// Timed runs of each quick measure (the median is reported).
    pub runs: usize,
    /// The smoke-test size: the report is complete, the figures mean little.
    pub quick: bool,
}

impl BenchOptions {
    /// The full run: 5,000 daily partitions, 24 months of 50,000 audit rows.
    pub fn full(partitions: u32) -> Self {
        BenchOptions {
            partitions,
            months: 24,
            rows_per_month: 50_000,
            runs: 9,
            quick: false,
        }
    }

    /// A few seconds: small tables, three runs.
    pub fn quick() -> Self {
        BenchOptions {
            partitions: 40,
            months: 3,
            rows_per_month: 2_000,
            runs: 3,
            quick: true,
        }
    }
}

/// What the progress display hears.
#[derive(Debug, Clone, Copy)]
pub enum BenchEvent<'a> {
    /// A phase starts; `steps` is how many `Step`s follow (0: no count, show a spinner).
    Phase {
        name: &'a str,
        steps: u64,
    },
    Step,
    /// A measure is complete.
    Measured(&'a Measure),
}

/// The progress callback.
pub type BenchProgress<'a> = &'a (dyn Fn(BenchEvent<'_>) + Send + Sync);

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("applying migrations to the bench database failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Exec(#[from] super::executor::ExecError),
    #[error(transparent)]
    Sync(#[from] super::policy_sync::SyncError),
    #[error("{0}")]
    Setup(String),
}

/// The goal a figure is judged against.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Target {
    /// Our median at most this many milliseconds.
    MaxMillis(f64),
    /// Ours ÷ baseline at most this.
    MaxRatio(f64),
    /// A claim of the guide: baseline ÷ ours at least this ("10x faster").
    ClaimSpeedup(f64),
    /// Shown for context, judged against nothing.
    Informational,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// A claim of the guide that the figures bear out.
    Holds,
    DoesNotHold,
    Informational,
    /// The baseline could not be measured here (why).
    NotMeasured(String),
}

/// One timed thing: the median of its samples is the figure.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub label: String,
    pub samples: Samples,
}

impl Figure {
    pub fn new(label: impl Into<String>, samples: Samples) -> Self {
        Figure {
            label: label.into(),
            samples,
        }
    }

    pub fn value(&self) -> Duration {
        self.samples.median()
    }
}

/// One line of the summary, with how it was measured.
#[derive(Debug, Clone, Serialize)]
pub struct Measure {
    /// Stable id (the smoke test looks for it).
    pub key: &'static str,
    pub title: String,
    pub ours: Figure,
    /// The baseline, or why it could not be measured here.
    pub baseline: Result<Figure, String>,
    pub target: Target,
    /// How it was measured, for the report.
    pub method: Vec<String>,
    /// What else was seen (breakdowns, sanity checks, caveats).
    pub notes: Vec<String>,
}

impl Measure {
    /// Ours ÷ baseline.
    pub fn ratio(&self) -> Option<f64> {
        let base = self.baseline.as_ref().ok()?.value().as_secs_f64();
        (base > 0.0).then(|| self.ours.value().as_secs_f64() / base)
    }

    /// Baseline ÷ ours: how many times faster we are ("10x").
    pub fn speedup(&self) -> Option<f64> {
        self.ratio().filter(|r| *r > 0.0).map(|r| 1.0 / r)
    }

    pub fn verdict(&self) -> Verdict {
        let ours_ms = timing::millis(self.ours.value());
        let missing = || match &self.baseline {
            Err(why) => Verdict::NotMeasured(why.clone()),
            Ok(_) => Verdict::NotMeasured("the baseline took no measurable time".into()),
        };
        match self.target {
            Target::MaxMillis(max) if ours_ms <= max => Verdict::Pass,
            Target::MaxMillis(_) => Verdict::Fail,
            Target::MaxRatio(max) => match self.ratio() {
                Some(r) if r <= max => Verdict::Pass,
                Some(_) => Verdict::Fail,
                None => missing(),
            },
            Target::ClaimSpeedup(claim) => match self.speedup() {
                Some(s) if s >= claim => Verdict::Holds,
                Some(_) => Verdict::DoesNotHold,
                None => missing(),
            },
            Target::Informational => Verdict::Informational,
        }
    }
}

/// Where the bench ran.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Logical CPUs available to this process (what `nproc` prints).
    pub cpus: usize,
    /// `/proc/loadavg` at the start: how busy the machine already was.
    pub load_average: Option<String>,
    /// `/proc/loadavg` when the measures were done (others may have started work meanwhile).
    pub load_average_end: Option<String>,
    pub pg_version: String,
    /// "embedded cluster" or "DATABASE_URL server", as the caller says.
    pub server: String,
    /// Server settings that move the figures (fsync, shared_buffers, ...).
    pub settings: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub started_at: DateTime<Utc>,
    pub elapsed: Duration,
    pub options: BenchOptions,
    pub machine: Machine,
    pub measures: Vec<Measure>,
}

/// Runs every measure in a new database on the server `admin` points at (any database there the
/// role may `CREATE DATABASE` from), then drops that database, whatever happened.
pub async fn run(
    admin: &PgConnectOptions,
    server: &str,
    config: &Config,
    opts: &BenchOptions,
    progress: BenchProgress<'_>,
) -> Result<BenchReport, BenchError> {
    let started_at = Utc::now();
    let clock = Instant::now();
    progress(BenchEvent::Phase {
        name: "creating the throwaway database",
        steps: 0,
    });
    let db = scratch::Scratch::create(admin).await?;
    let outcome = measure_all(&db, server, config, opts, progress).await;
    progress(BenchEvent::Phase {
        name: "dropping the throwaway database",
        steps: 0,
    });
    let dropped = db.drop_database().await;
    let (machine, measures) = outcome?;
    dropped?;
    Ok(BenchReport {
        started_at,
        elapsed: clock.elapsed(),
        options: opts.clone(),
        machine,
        measures,
    })
}

async fn measure_all(
    db: &scratch::Scratch,
    server: &str,
    config: &Config,
    opts: &BenchOptions,
    progress: BenchProgress<'_>,
) -> Result<(Machine, Vec<Measure>), BenchError> {
    let pool = &db.pool;
    let mut machine = scratch::machine(pool, server).await?;
    let config = bench_config(config, opts);
    let layout = create::Layout::today(pool, &config, opts.partitions).await?;
    let mut measures = Vec::new();
    let mut done = |m: Measure| {
        progress(BenchEvent::Measured(&m));
        measures.push(m);
    };
    done(create::run(pool, &config, &layout, progress).await?);
    done(maintenance::run(pool, &config, &layout, opts, progress).await?);
    done(status::run(pool, &config, &layout, opts, progress).await?);
    // The baseline's thousands of empty partitions are not needed any more: give their disk back
    // before the row loads.
    sqlx::raw_sql(&format!("DROP TABLE {} CASCADE", create::PLAIN_TABLE))
        .execute(pool)
        .await?;
    for m in claims::run(pool, &config, opts, progress).await? {
        done(m);
    }
    machine.load_average_end = scratch::load_average();
    Ok((machine, measures))
}

/// The policy the bench runs under: the given one, with retention long enough that none of the
/// bench's old daily partitions is past it (maintenance must have nothing to do).
fn bench_config(config: &Config, opts: &BenchOptions) -> Config {
    let mut config = config.clone();
    for p in &mut config.policies {
        if p.table.period() == crate::calendar::Period::Day {
            p.retention = crate::policy::Retention::Days(opts.partitions.saturating_add(400));
        }
    }
    config
}
