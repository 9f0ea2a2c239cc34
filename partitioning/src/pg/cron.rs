//! pg_cron: installs, removes and reports the guide's two jobs
//! (`create-partitions` daily 01:00, `drop-old-partitions` Sundays 02:00), which call the SQL
//! functions of migration 006.
//!
//! pg_cron lives in one database per cluster (`cron.database_name`). Connected to that database,
//! the jobs are made exactly as the guide writes them (`cron.schedule('create-partitions', ...)`).
//! Connected to another database of the same server, they are made from the cron database with
//! `cron.schedule_in_database` (pg_cron 1.4+) and named `create-partitions@<db>`, so two databases
//! of one server keep separate jobs. Both calls update a job of the same name: installing twice
//! changes nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

/// The guide's two jobs: (name, schedule, command).
pub const GUIDE_JOBS: [(&str, &str, &str); 2] = [
    (
        "create-partitions",
        "0 1 * * *",
        "SELECT create_partitions_if_needed();",
    ),
    (
        "drop-old-partitions",
        "0 2 * * 0",
        "SELECT drop_old_partitions();",
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum CronError {
    #[error(
        "pg_cron is not available on this server ({why}). To enable it: install the pg_cron package \
         for your PostgreSQL (Debian: apt-get install postgresql-15-cron; scripts/setup.sh does this), \
         set shared_preload_libraries = 'pg_cron' and cron.database_name = '{database}' in \
         postgresql.conf, restart PostgreSQL, then run `rustcare-partitions cron install` again. \
         The embedded cluster does all of this by itself when the package is installed."
    )]
    NotAvailable { why: String, database: String },
    #[error(
        "pg_cron runs in database {cron_db} and this is {database}: scheduling into another database \
         needs pg_cron 1.4 or later (cron.schedule_in_database); this server has {version}. Connect to \
         {cron_db}, or set cron.database_name = '{database}' and restart"
    )]
    TooOld {
        cron_db: String,
        database: String,
        version: String,
    },
    #[error("cannot connect to the pg_cron database {cron_db}: {source}")]
    CronDatabase {
        cron_db: String,
        #[source]
        source: sqlx::Error,
    },
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// Where pg_cron runs relative to the database we manage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronSetup {
    /// The database we manage (`current_database()`).
    pub database: String,
    /// `cron.database_name`.
    pub cron_database: String,
    /// pg_cron's installed version in the cron database (None before `CREATE EXTENSION`).
    pub extension_version: Option<String>,
}

impl CronSetup {
    /// Same database: the guide's names and `cron.schedule`.
    pub fn local(&self) -> bool {
        self.database == self.cron_database
    }

    /// The job name used for one of the guide's jobs here.
    pub fn job_name(&self, guide_name: &str) -> String {
        if self.local() {
            guide_name.to_string()
        } else {
            format!("{guide_name}@{}", self.database)
        }
    }
}

/// One job as pg_cron has it, with its latest run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronJob {
    pub name: String,
    pub expected_schedule: String,
    pub expected_command: String,
    /// None when the job is not installed.
    pub installed: Option<InstalledJob>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledJob {
    pub jobid: i64,
    pub schedule: String,
    pub command: String,
    pub database: String,
    pub active: bool,
    pub last_run: Option<CronRun>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronRun {
    pub status: String,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub message: String,
}

impl CronJob {
    /// Installed with the guide's schedule and command, active, for this database.
    pub fn matches(&self, database: &str) -> bool {
        self.installed.as_ref().is_some_and(|j| {
            j.schedule == self.expected_schedule
                && j.command == self.expected_command
                && j.database == database
                && j.active
        })
    }
}

/// Finds where pg_cron runs, or says why it cannot be used.
pub async fn setup(pool: &PgPool) -> Result<CronSetup, CronError> {
    let (database, preload, cron_db): (String, String, Option<String>) = sqlx::query_as(
        "SELECT current_database(), current_setting('shared_preload_libraries'), \
         current_setting('cron.database_name', true)",
    )
    .fetch_one(pool)
    .await?;
    let loaded = preload
        .split(',')
        .any(|l| l.trim().trim_matches('"') == "pg_cron");
    if !loaded {
        return Err(CronError::NotAvailable {
            why: "shared_preload_libraries does not include pg_cron".into(),
            database,
        });
    }
    let cron_database = cron_db
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "postgres".into());
    let cron = cron_pool(pool, &database, &cron_database).await?;
    let version: Option<String> =
        sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'")
            .fetch_optional(&cron)
            .await?;
    close(cron, pool).await;
    Ok(CronSetup {
        database,
        cron_database,
        extension_version: version,
    })
}

/// Installs (or updates) the guide's two jobs; returns their status afterwards.
pub async fn install(pool: &PgPool) -> Result<(CronSetup, Vec<CronJob>), CronError> {
    let mut setup = setup(pool).await?;
    let cron = cron_pool(pool, &setup.database, &setup.cron_database).await?;
    let result = async {
        create_extension(&cron).await?;
        let version: String =
            sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'")
                .fetch_one(&cron)
                .await?;
        if !setup.local() && !at_least_1_4(&version) {
            return Err(CronError::TooOld {
                cron_db: setup.cron_database.clone(),
                database: setup.database.clone(),
                version,
            });
        }
        setup.extension_version = Some(version);
        for (name, schedule, command) in GUIDE_JOBS {
            if setup.local() {
                // Exactly the guide's line.
                sqlx::query("SELECT cron.schedule($1, $2, $3)")
                    .bind(name)
                    .bind(schedule)
                    .bind(command)
                    .execute(&cron)
                    .await?;
            } else {
                sqlx::query("SELECT cron.schedule_in_database($1, $2, $3, $4)")
                    .bind(setup.job_name(name))
                    .bind(schedule)
                    .bind(command)
                    .bind(&setup.database)
                    .execute(&cron)
                    .await?;
            }
        }
        jobs(&cron, &setup).await
    }
    .await;
    close(cron, pool).await;
    Ok((setup, result?))
}

/// Removes the two jobs (those that exist); returns how many were removed.
pub async fn remove(pool: &PgPool) -> Result<(CronSetup, usize), CronError> {
    let setup = setup(pool).await?;
    if setup.extension_version.is_none() {
        return Ok((setup, 0));
    }
    let cron = cron_pool(pool, &setup.database, &setup.cron_database).await?;
    let result = async {
        let mut removed = 0;
        for job in jobs(&cron, &setup).await? {
            if let Some(j) = job.installed {
                sqlx::query("SELECT cron.unschedule($1::bigint)")
                    .bind(j.jobid)
                    .execute(&cron)
                    .await?;
                removed += 1;
            }
        }
        Ok::<usize, CronError>(removed)
    }
    .await;
    close(cron, pool).await;
    Ok((setup, result?))
}

/// The two jobs as pg_cron has them (not installed: `installed` is None).
pub async fn status(pool: &PgPool) -> Result<(CronSetup, Vec<CronJob>), CronError> {
    let setup = setup(pool).await?;
    if setup.extension_version.is_none() {
        let empty = GUIDE_JOBS
            .iter()
            .map(|(n, s, c)| CronJob {
                name: setup.job_name(n),
                expected_schedule: s.to_string(),
                expected_command: c.to_string(),
                installed: None,
            })
            .collect();
        return Ok((setup, empty));
    }
    let cron = cron_pool(pool, &setup.database, &setup.cron_database).await?;
    let result = jobs(&cron, &setup).await;
    close(cron, pool).await;
    Ok((setup, result?))
}

type JobRow = (
    i64,
    String,
    String,
    String,
    bool,
    Option<String>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<String>,
);

async fn jobs(cron: &PgPool, setup: &CronSetup) -> Result<Vec<CronJob>, CronError> {
    let mut out = Vec::new();
    for (name, schedule, command) in GUIDE_JOBS {
        let job_name = setup.job_name(name);
        let row: Option<JobRow> = sqlx::query_as(
            "SELECT j.jobid, j.schedule, j.command, j.database, j.active, \
                    r.status, r.start_time, r.end_time, r.return_message \
             FROM cron.job j \
             LEFT JOIN LATERAL (SELECT d.status, d.start_time, d.end_time, d.return_message \
                                FROM cron.job_run_details d WHERE d.jobid = j.jobid \
                                ORDER BY d.runid DESC LIMIT 1) r ON true \
             WHERE j.jobname = $1 AND j.username = current_user ORDER BY j.jobid LIMIT 1",
        )
        .bind(&job_name)
        .fetch_optional(cron)
        .await?;
        out.push(CronJob {
            name: job_name,
            expected_schedule: schedule.into(),
            expected_command: command.into(),
            installed: row.map(|r| InstalledJob {
                jobid: r.0,
                schedule: r.1,
                command: r.2,
                database: r.3,
                active: r.4,
                last_run: r.5.map(|status| CronRun {
                    status,
                    start_time: r.6,
                    end_time: r.7,
                    message: r.8.unwrap_or_default(),
                }),
            }),
        });
    }
    Ok(out)
}

/// The pool to the cron database: `pool` itself when it is that database, else a one-connection
/// pool with the same server, user and password.
async fn cron_pool(pool: &PgPool, database: &str, cron_db: &str) -> Result<PgPool, CronError> {
    if database == cron_db {
        return Ok(pool.clone());
    }
    let opts = pool.connect_options().as_ref().clone().database(cron_db);
    PgPoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .map_err(|source| CronError::CronDatabase {
            cron_db: cron_db.into(),
            source,
        })
}

/// Closes a pool made by `cron_pool` (not the caller's own).
async fn close(cron: PgPool, pool: &PgPool) {
    if !std::ptr::eq(
        cron.connect_options().as_ref(),
        pool.connect_options().as_ref(),
    ) {
        cron.close().await;
    }
}

/// `CREATE EXTENSION IF NOT EXISTS pg_cron`; two installs at once race on the catalog's unique
/// index (IF NOT EXISTS does not cover that), so the loser tries once more and finds it.
async fn create_extension(cron: &PgPool) -> Result<(), sqlx::Error> {
    let sql = "CREATE EXTENSION IF NOT EXISTS pg_cron";
    match sqlx::query(sql).execute(cron).await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_database_error()
                .and_then(|d| d.code())
                .is_some_and(|c| c == "23505" || c == "42710") =>
        {
            sqlx::query(sql).execute(cron).await.map(|_| ())
        }
        Err(e) => Err(e),
    }
}

fn at_least_1_4(version: &str) -> bool {
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= (1, 4)
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions() {
        assert!(super::at_least_1_4("1.4-1"));
        assert!(super::at_least_1_4("1.6"));
        assert!(!super::at_least_1_4("1.3"));
        assert!(super::at_least_1_4("2.0"));
    }
}
