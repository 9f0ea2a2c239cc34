//! Creating N daily partitions: the executor (LIKE + ATTACH through
//! `rustcare_create_partitions`, a transaction per batch of 16) against a plain loop of
//! `CREATE TABLE ... PARTITION OF` on an identical table, interleaved chunk by chunk so that the
//! other work of a shared machine weighs on both sides alike.

use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate, Utc};
use sqlx::PgPool;

use super::scratch::create_partitions_of;
use super::timing::{human, Samples};
use super::{BenchError, BenchEvent, BenchProgress, Figure, Measure, Target};
use crate::calendar::{partition_name, PartitionBound};
use crate::config::Config;
use crate::pg::executor::{self, ExecOptions, Outcome, ProgressEvent};
use crate::planner::{Action, ActionKind, Plan};
use crate::table::ManagedTable;

/// The baseline table: `sessions`' columns, constraints and indexes, partitioned the same way,
/// its partitions named the way pg_partman names them so that pg_partman can adopt the layout.
pub(super) const PLAIN_TABLE: &str = "sessions_plain";

/// The bench's daily layout: N days ending yesterday (created, timed) plus today and the
/// policy's days ahead (there from the start).
#[derive(Debug, Clone)]
pub(super) struct Layout {
    pub today: NaiveDate,
    pub n: u32,
    /// Days ahead of today the sessions policy keeps.
    pub ahead: u32,
}

impl Layout {
    /// Today by the server's clock, in UTC (the bounds' zone).
    pub async fn today(pool: &PgPool, config: &Config, n: u32) -> Result<Layout, BenchError> {
        let today: NaiveDate = sqlx::query_scalar("SELECT (now() AT TIME ZONE 'UTC')::date")
            .fetch_one(pool)
            .await?;
        Ok(Layout {
            today,
            n,
            ahead: config.policy(ManagedTable::Sessions).ahead,
        })
    }

    /// The first day of the layout.
    pub fn first(&self) -> NaiveDate {
        self.today
            .checked_sub_days(Days::new(u64::from(self.n)))
            .unwrap_or(self.today)
    }

    /// The N days the create measure makes, oldest first.
    pub fn past(&self) -> Vec<PartitionBound> {
        days(self.first(), self.n)
    }

    /// Today and the days ahead.
    pub fn future(&self) -> Vec<PartitionBound> {
        days(self.today, self.ahead + 1)
    }
}

fn days(from: NaiveDate, count: u32) -> Vec<PartitionBound> {
    from.iter_days()
        .take(count as usize)
        .map(|d| PartitionBound::from_dates(d, d.succ_opt().unwrap_or(d)))
        .collect()
}

/// `sessions_plain_p2025_10_01`: pg_partman's name for a daily child.
pub(super) fn plain_names(bounds: &[PartitionBound]) -> Vec<(String, PartitionBound)> {
    bounds
        .iter()
        .map(|b| {
            let name = format!("{PLAIN_TABLE}_p{}", b.lower.format("%Y_%m_%d"));
            (name, *b)
        })
        .collect()
}

pub(super) async fn run(
    pool: &PgPool,
    config: &Config,
    layout: &Layout,
    progress: BenchProgress<'_>,
) -> Result<Measure, BenchError> {
    progress(BenchEvent::Phase {
        name: "create: setting up the baseline table",
        steps: 0,
    });
    sqlx::raw_sql(&format!(
        "CREATE TABLE {PLAIN_TABLE} (LIKE sessions INCLUDING ALL) PARTITION BY RANGE (created_at)"
    ))
    .execute(pool)
    .await?;
    let quiet = |_: BenchEvent<'_>| {};
    create_partitions_of(pool, PLAIN_TABLE, &plain_names(&layout.future()), &quiet).await?;

    let past = layout.past();
    let name = format!(
        "create: {} partitions through the executor and {} through plain CREATE ... PARTITION OF",
        past.len(),
        past.len()
    );
    progress(BenchEvent::Phase {
        name: &name,
        steps: 2 * past.len() as u64,
    });
    // Ten rounds; each round one chunk per side, the side going first alternating.
    let chunk = past.len().div_ceil(10).max(1);
    let (mut ours, mut plain) = (Samples::default(), Samples::default());
    for (i, bounds) in past.chunks(chunk).enumerate() {
        if i % 2 == 0 {
            ours.push(executor_create(pool, config, bounds, progress).await?);
            plain.push(
                create_partitions_of(pool, PLAIN_TABLE, &plain_names(bounds), progress).await?,
            );
        } else {
            plain.push(
                create_partitions_of(pool, PLAIN_TABLE, &plain_names(bounds), progress).await?,
            );
            ours.push(executor_create(pool, config, bounds, progress).await?);
        }
    }
    let (ours_total, plain_total) = (ours.total(), plain.total());
    let per = |d: Duration| human(d / u32::try_from(past.len().max(1)).unwrap_or(u32::MAX));
    let counts: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM pg_inherits WHERE inhparent = 'sessions'::regclass), \
                (SELECT count(*) FROM pg_inherits WHERE inhparent = $1::regclass)",
    )
    .bind(PLAIN_TABLE)
    .fetch_one(pool)
    .await?;
    Ok(Measure {
        key: "create",
        title: format!("Create {} daily partitions", past.len()),
        ours: Figure::new(
            "executor (LIKE + ATTACH, batches of 16)",
            Samples::one(ours_total),
        ),
        baseline: Ok(Figure::new(
            "plain CREATE TABLE ... PARTITION OF loop",
            Samples::one(plain_total),
        )),
        target: Target::MaxRatio(1.1),
        method: vec![
            format!(
                "Both sides create the same {} days (oldest first) on tables with `sessions`' columns, \
                 checks and 4 indexes, each starting from the {} partitions of today and the days ahead.",
                past.len(),
                layout.ahead + 1
            ),
            "Ours: `executor::execute` with a plan of Create actions, as `create` runs it: runs of \
             consecutive creates go in batches of 16 through `rustcare_create_partitions` \
             (migration 013): one transaction a batch holding the table's advisory lock, each \
             partition `CREATE TABLE ... (LIKE parent)` then `ATTACH PARTITION` (SHARE UPDATE \
             EXCLUSIVE on the parent) and its action-log row; no CHECK, the tables being created \
             empty in that transaction (ATTACH's validation scan reads no page). A batch killed \
             before its commit leaves nothing; the next run makes it again."
                .into(),
            "Method change on 2026-11-25 (afternoon): until then each partition was one call of \
             `rustcare_create_partition` (advisory lock, LIKE, CHECK, ATTACH, DROP CHECK, \
             action-log row), committed on its own: 1.24x the baseline at 09:59."
                .into(),
            "Baseline: one `CREATE TABLE ... PARTITION OF ... FOR VALUES FROM ... TO ...` statement per \
             partition on one connection, each committed on its own (as psql runs a script). Not a \
             DO-block loop in one transaction: that holds ACCESS EXCLUSIVE on the parent for the \
             whole loop, and needs a lock per new table at once (5,000 tables overflow the lock \
             table of a server with default settings)."
                .into(),
            "What the difference buys: ATTACH takes SHARE UPDATE EXCLUSIVE on the parent, so \
             reads and writes go on while partitions are created; CREATE ... PARTITION OF takes \
             ACCESS EXCLUSIVE and stalls them."
                .into(),
            format!(
                "Interleaved in {} rounds of {chunk} partitions per side, the side going first \
                 alternating; the figure is the sum of the rounds.",
                ours.len()
            ),
        ],
        notes: vec![
            format!(
                "Per partition: ours {}, baseline {} (each grows with the number of partitions \
                 already attached: PostgreSQL rebuilds the parent's partition descriptor on every attach).",
                per(ours_total),
                per(plain_total)
            ),
            format!(
                "Partitions afterwards: sessions {}, {PLAIN_TABLE} {}.",
                counts.0, counts.1
            ),
        ],
    })
}

/// Creates `bounds` of `sessions` through the executor; every one must come out created.
async fn executor_create(
    pool: &PgPool,
    config: &Config,
    bounds: &[PartitionBound],
    progress: BenchProgress<'_>,
) -> Result<Duration, BenchError> {
    let table = ManagedTable::Sessions;
    let actions = bounds
        .iter()
        .map(|b| Action {
            table,
            kind: ActionKind::Create {
                name: partition_name(table, b),
                bound: *b,
            },
            reason: "bench: create".into(),
        })
        .collect();
    let plan = Plan {
        now: Utc::now(),
        actions,
        held: Vec::new(),
        notes: Vec::new(),
        table_oids: Vec::new(),
    };
    let on_event = |e: ProgressEvent<'_>| {
        if matches!(e, ProgressEvent::Finished { .. }) {
            progress(BenchEvent::Step);
        }
    };
    let opts = ExecOptions {
        actor: "bench".into(),
        ..ExecOptions::default()
    };
    let started = Instant::now();
    let results = executor::execute(pool, config, &plan, &opts, &on_event).await?;
    let took = started.elapsed();
    if let Some(bad) = results.iter().find(|r| r.outcome != Outcome::Done) {
        return Err(BenchError::Setup(format!(
            "the executor did not create {}: {:?}",
            bad.partition, bad.outcome
        )));
    }
    Ok(took)
}
