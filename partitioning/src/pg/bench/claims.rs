//! The guide's claims, measured on the audit log: a month's query with pruning vs the same rows in
//! one ordinary table with the same indexes ("10x faster queries"), and dropping a month vs
//! `DELETE` of the same rows ("100x faster deletion"). The months lie past the audit retention, so
//! the drop guard lets them go.

use std::time::{Duration, Instant};

use chrono::{Datelike, Months, NaiveDate, Utc};
use sqlx::PgPool;

use super::timing::{human, Samples};
use super::{BenchError, BenchEvent, BenchOptions, BenchProgress, Figure, Measure, Target};
use crate::calendar::{partition_name, period_containing, Period};
use crate::config::Config;
use crate::pg::executor::{self, ExecOptions, Outcome};
use crate::planner::{Action, ActionKind, Plan};
use crate::table::ManagedTable;

/// The ordinary table holding the same rows, with the same columns, checks and indexes.
const FLAT: &str = "audit_flat";

/// One month's rows: deterministic (no random()), spread evenly over the month; a tenth of the
/// rows are `login` events of some user, the mix a busy auth service logs.
const FILL_MONTH_SQL: &str = "\
INSERT INTO auth_audit_log (\"timestamp\", user_id, event_type, outcome, ip_address, user_agent, resource, details, request_id)
SELECT $1::timestamptz + ($2::timestamptz - $1::timestamptz) * (g::float8 / $3),
       ('00000000-0000-4000-8000-' || lpad(to_hex(g % 20000), 12, '0'))::uuid,
       (ARRAY['login', 'token_refresh', 'token_refresh', 'token_refresh', 'session_check', 'session_check',
              'session_check', 'logout', 'mfa_challenge', 'password_change'])[1 + (g * 7) % 10],
       (ARRAY['success', 'success', 'success', 'failure', 'denied'])[1 + (g * 3) % 5],
       ('10.' || (g % 256) || '.' || ((g / 256) % 256) || '.' || (g % 199 + 1))::inet,
       (ARRAY['Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0', 'Mozilla/5.0 (Macintosh) Safari/17.4',
              'rustcare-mobile/2.3 (Android 14)'])[1 + g % 3],
       '/api/v1/patients/' || (g % 5000),
       jsonb_build_object('attempt', g % 5, 'mfa', g % 2 = 0),
       gen_random_uuid()
FROM generate_series(0, $3 - 1) AS g";

pub(super) async fn run(
    pool: &PgPool,
    config: &Config,
    opts: &BenchOptions,
    progress: BenchProgress<'_>,
) -> Result<Vec<Measure>, BenchError> {
    let months = load(pool, config, opts, progress).await?;
    let mut measures = queries(pool, &months, opts, progress).await?;
    measures.extend(drops(pool, config, &months, progress).await?);
    Ok(measures)
}

/// The months of data, oldest first: they end at the first of the month at or before the audit
/// retention cutoff, so every one may be dropped.
async fn load(
    pool: &PgPool,
    config: &Config,
    opts: &BenchOptions,
    progress: BenchProgress<'_>,
) -> Result<Vec<NaiveDate>, BenchError> {
    let now = sqlx::query_scalar::<_, chrono::DateTime<Utc>>("SELECT now()")
        .fetch_one(pool)
        .await?;
    let cutoff = config
        .policy(ManagedTable::AuthAuditLog)
        .retention
        .cutoff(now)
        .date_naive();
    let end = cutoff.with_day(1).unwrap_or(cutoff);
    let months: Vec<NaiveDate> = (1..=opts.months.max(2))
        .rev()
        .filter_map(|k| end.checked_sub_months(Months::new(k)))
        .collect();
    let name = format!(
        "claims: loading {} months × {} audit rows, and the same rows into an ordinary table",
        months.len(),
        opts.rows_per_month
    );
    progress(BenchEvent::Phase {
        name: &name,
        steps: months.len() as u64 + 2,
    });
    for m in &months {
        let bound = period_containing(Period::Month, *m);
        sqlx::query("SELECT rustcare_create_partition('auth_audit_log', $1)")
            .bind(m)
            .execute(pool)
            .await?;
        sqlx::query(FILL_MONTH_SQL)
            .bind(bound.lower)
            .bind(bound.upper)
            .bind(i64::from(opts.rows_per_month))
            .execute(pool)
            .await?;
        progress(BenchEvent::Step);
    }
    sqlx::raw_sql(&format!(
        "CREATE TABLE {FLAT} (LIKE auth_audit_log INCLUDING ALL); \
         INSERT INTO {FLAT} SELECT * FROM auth_audit_log"
    ))
    .execute(pool)
    .await?;
    progress(BenchEvent::Step);
    // VACUUM refuses a transaction block, which several statements in one message would make.
    for table in [FLAT, "auth_audit_log"] {
        sqlx::raw_sql(&format!("VACUUM (ANALYZE) {table}"))
            .execute(pool)
            .await?;
    }
    progress(BenchEvent::Step);
    Ok(months)
}

/// Runs `sql` (simple protocol: parsed and planned every time, as psql or a one-off report
/// would) and fetches every row.
async fn timed(pool: &PgPool, sql: &str) -> Result<(Duration, usize), BenchError> {
    let started = Instant::now();
    let rows = sqlx::raw_sql(sql).fetch_all(pool).await?.len();
    Ok((started.elapsed(), rows))
}

async fn queries(
    pool: &PgPool,
    months: &[NaiveDate],
    opts: &BenchOptions,
    progress: BenchProgress<'_>,
) -> Result<Vec<Measure>, BenchError> {
    let month = months[months.len() / 2];
    let b = period_containing(Period::Month, month);
    let range = format!(
        "\"timestamp\" >= '{}' AND \"timestamp\" < '{}'",
        b.lower.format("%Y-%m-%d"),
        b.upper.format("%Y-%m-%d")
    );
    let user = "00000000-0000-4000-8000-00000000002a";
    let cases: [(&'static str, String, String, Target); 3] = [
        (
            "query_month",
            "The guide's query: one month's `login` events".to_string(),
            format!("SELECT * FROM {{t}} WHERE {range} AND event_type = 'login'"),
            Target::ClaimSpeedup(10.0),
        ),
        (
            "query_month_aggregate",
            "One month's events counted by type and outcome".to_string(),
            format!("SELECT event_type, outcome, count(*) FROM {{t}} WHERE {range} GROUP BY 1, 2"),
            Target::ClaimSpeedup(10.0),
        ),
        (
            "query_without_key",
            "One user's events, no partition key (the guide's \"poor query\")".to_string(),
            format!("SELECT * FROM {{t}} WHERE user_id = '{user}'"),
            Target::Informational,
        ),
    ];
    let runs = opts.runs.max(1);
    progress(BenchEvent::Phase {
        name: "claims: month queries, partitioned vs ordinary table",
        steps: (cases.len() * runs) as u64,
    });
    let total_rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {FLAT}"))
        .fetch_one(pool)
        .await?;
    let mut out = Vec::new();
    for (key, title, template, target) in cases {
        let part_sql = template.replace("{t}", "auth_audit_log");
        let flat_sql = template.replace("{t}", FLAT);
        // Warm: both read from shared buffers, as a query run often would.
        let (_, part_rows) = timed(pool, &part_sql).await?;
        let (_, flat_rows) = timed(pool, &flat_sql).await?;
        let (mut part, mut flat) = (Samples::default(), Samples::default());
        for i in 0..runs {
            if i % 2 == 0 {
                part.push(timed(pool, &part_sql).await?.0);
                flat.push(timed(pool, &flat_sql).await?.0);
            } else {
                flat.push(timed(pool, &flat_sql).await?.0);
                part.push(timed(pool, &part_sql).await?.0);
            }
            progress(BenchEvent::Step);
        }
        let mut notes = vec![format!(
            "Rows returned: partitioned {part_rows}, ordinary {flat_rows}{}.",
            if part_rows == flat_rows {
                ""
            } else {
                " — MISMATCH"
            }
        )];
        notes.push(format!(
            "Medians of {runs} interleaved runs after one warm-up: partitioned {} (min {}), ordinary {} (min {}).",
            human(part.median()),
            human(part.min()),
            human(flat.median()),
            human(flat.min())
        ));
        out.push(Measure {
            key,
            title,
            ours: Figure::new("auth_audit_log, partitioned by month", part),
            baseline: Ok(Figure::new(format!("{FLAT}, one ordinary table"), flat)),
            target,
            method: vec![
                format!("`{}`", template.replace("{t}", "<table>")),
                format!(
                    "{} months × {} rows ({total_rows} rows) in each table, same columns, checks and \
                     4 indexes (PK (id, timestamp), (event_type, timestamp), (timestamp), (user_id, \
                     timestamp)); both vacuumed and analyzed; queried month {}.",
                    months.len(),
                    opts.rows_per_month,
                    month.format("%Y-%m")
                ),
                "Timed by the client: parse, plan (pruning included), execute, fetch every row.".into(),
            ],
            notes,
        });
    }
    Ok(out)
}

async fn drops(
    pool: &PgPool,
    config: &Config,
    months: &[NaiveDate],
    progress: BenchProgress<'_>,
) -> Result<Vec<Measure>, BenchError> {
    progress(BenchEvent::Phase {
        name: "claims: dropping a month vs DELETE",
        steps: 5,
    });
    let table = ManagedTable::AuthAuditLog;
    let delete = |m: NaiveDate| {
        let b = period_containing(Period::Month, m);
        format!(
            "DELETE FROM {FLAT} WHERE \"timestamp\" >= '{}' AND \"timestamp\" < '{}'",
            b.lower.format("%Y-%m-%d"),
            b.upper.format("%Y-%m-%d")
        )
    };
    let row_count = |name: String| async move {
        sqlx::query_scalar::<_, f32>("SELECT reltuples FROM pg_class WHERE oid = to_regclass($1)")
            .bind(name)
            .fetch_one(pool)
            .await
    };

    // Month 0 through the executor: DETACH ... CONCURRENTLY, guard re-check, DROP, action log.
    let bound0 = period_containing(Period::Month, months[0]);
    let name0 = partition_name(table, &bound0);
    let rows0 = row_count(name0.clone()).await? as i64;
    let kind = |detach: bool| {
        let (name, bound, est_rows, bytes) = (name0.clone(), bound0, rows0, 0);
        if detach {
            ActionKind::Detach {
                name,
                bound,
                est_rows,
                bytes,
            }
        } else {
            ActionKind::Drop {
                name,
                bound,
                est_rows,
                bytes,
            }
        }
    };
    let plan = Plan {
        now: Utc::now(),
        actions: [true, false]
            .into_iter()
            .map(|d| Action {
                table,
                kind: kind(d),
                reason: "bench: drop a month".into(),
            })
            .collect(),
        held: Vec::new(),
        notes: Vec::new(),
        table_oids: Vec::new(),
    };
    let opts = ExecOptions {
        actor: "bench".into(),
        ..ExecOptions::default()
    };
    let started = Instant::now();
    let results = executor::execute(pool, config, &plan, &opts, &|_| {}).await?;
    let executor_drop = started.elapsed();
    if let Some(bad) = results.iter().find(|r| r.outcome != Outcome::Done) {
        return Err(BenchError::Setup(format!(
            "the executor did not {} {}: {:?}",
            bad.action, bad.partition, bad.outcome
        )));
    }
    progress(BenchEvent::Step);
    let (delete0, deleted0) = timed_execute(pool, &delete(months[0])).await?;
    progress(BenchEvent::Step);

    // Month 1 the plain way: DETACH + DROP in one transaction.
    let name1 = partition_name(table, &period_containing(Period::Month, months[1]));
    let quoted1 = crate::table::quote_ident(&name1);
    let (plain_drop, _) = timed_execute(
        pool,
        &format!("ALTER TABLE auth_audit_log DETACH PARTITION {quoted1}; DROP TABLE {quoted1}"),
    )
    .await?;
    progress(BenchEvent::Step);
    let (delete1, deleted1) = timed_execute(pool, &delete(months[1])).await?;
    progress(BenchEvent::Step);
    let (vacuum, _) = timed_execute(pool, &format!("VACUUM {FLAT}")).await?;
    progress(BenchEvent::Step);

    let method = |how: &str| {
        vec![
            format!("Ours: {how}."),
            format!(
                "Baseline: `DELETE FROM {FLAT} WHERE timestamp >= <month> AND timestamp < <next month>` \
                 on the ordinary table (same rows, same indexes), committed."
            ),
            "One sample each (a month can be dropped once); the oldest two months are used.".into(),
        ]
    };
    let vacuum_note = format!(
        "DELETE leaves dead rows and index entries behind: the `VACUUM {FLAT}` that reclaims both \
         months took {} more; DROP leaves nothing to vacuum.",
        human(vacuum)
    );
    Ok(vec![
        Measure {
            key: "drop_month",
            title: format!("Drop a month ({rows0} rows) through the executor vs DELETE"),
            ours: Figure::new("executor: DETACH CONCURRENTLY + DROP", Samples::one(executor_drop)),
            baseline: Ok(Figure::new("DELETE of the same rows", Samples::one(delete0))),
            target: Target::ClaimSpeedup(100.0),
            method: method(&format!(
                "`executor::execute` of a Detach + Drop plan for {name0}: advisory lock, `DETACH \
                 PARTITION ... CONCURRENTLY` (two transactions, non-blocking), the retention guard \
                 re-checked on the server's clock, `DROP TABLE` and its action-log row in one transaction"
            )),
            notes: vec![
                format!("DELETE removed {deleted0} rows."),
                vacuum_note.clone(),
                break_even(executor_drop, delete0, deleted0, vacuum, deleted0 + deleted1),
            ],
        },
        Measure {
            key: "drop_month_plain",
            title: format!("Drop a month ({deleted1} rows) with plain DDL vs DELETE"),
            ours: Figure::new("DETACH + DROP TABLE", Samples::one(plain_drop)),
            baseline: Ok(Figure::new("DELETE of the same rows", Samples::one(delete1))),
            target: Target::ClaimSpeedup(100.0),
            method: method(&format!(
                "`ALTER TABLE auth_audit_log DETACH PARTITION {name1}; DROP TABLE {name1}` in one \
                 transaction (ACCESS EXCLUSIVE on the parent for its duration)"
            )),
            notes: vec![
                format!("DELETE removed {deleted1} rows."),
                vacuum_note,
                break_even(plain_drop, delete1, deleted1, vacuum, deleted0 + deleted1),
            ],
        },
    ])
}

/// Where "100x" would start: DROP costs the same whatever the rows, DELETE (and the VACUUM after
/// it) grows with them. A linear extrapolation from this run, labelled as one.
fn break_even(
    drop: Duration,
    delete: Duration,
    rows: u64,
    vacuum: Duration,
    vacuumed: u64,
) -> String {
    let per_row = |d: Duration, n: u64| d.as_secs_f64() / n.max(1) as f64;
    let (delete_row, vacuum_row) = (per_row(delete, rows), per_row(vacuum, vacuumed));
    let rows_for = |cost: f64| (100.0 * drop.as_secs_f64() / cost.max(f64::MIN_POSITIVE)).round();
    format!(
        "Extrapolated, assuming DELETE and VACUUM grow linearly with rows and DROP does not: DELETE \
         cost {:.2} µs a row here and VACUUM {:.2} µs; DELETE would be 100× this drop from about \
         {:.0} rows a month, DELETE + VACUUM from about {:.0}.",
        delete_row * 1e6,
        vacuum_row * 1e6,
        rows_for(delete_row),
        rows_for(delete_row + vacuum_row)
    )
}

/// Runs `sql` (one or more statements) and returns the time and the rows it affected.
async fn timed_execute(pool: &PgPool, sql: &str) -> Result<(Duration, u64), BenchError> {
    let started = Instant::now();
    let done = sqlx::raw_sql(sql).execute(pool).await?;
    Ok((started.elapsed(), done.rows_affected()))
}
