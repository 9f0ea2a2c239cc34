//! When the console's built-in scheduler runs partition creation and cleanup: the schedule form of
//! `config/partitioning.conf` (`SCHEDULE_CREATE=daily@01:00`, `SCHEDULE_CLEANUP=sun@02:00`, or
//! `off`), and the pure next/previous-run arithmetic, always in UTC (no DST, no session zone).

use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};

/// One scheduled job of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Job {
    /// Create the partitions the policy calls for (the guide's 01:00 daily).
    Create,
    /// Drop partitions past retention of `auto` tables (the guide's 02:00 Sunday); approval tables
    /// are held, never dropped.
    Cleanup,
}

impl Job {
    pub const ALL: [Job; 2] = [Job::Create, Job::Cleanup];

    /// The name in `scheduler_runs.job` and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Job::Create => "create",
            Job::Cleanup => "cleanup",
        }
    }

    /// How late a missed run (no console was up at its time) may still be made up at start.
    /// Creation is always safe, so a day; a cleanup only within the hour, so restarting a console
    /// on Tuesday never drops anything by surprise.
    pub fn grace(self) -> Duration {
        match self {
            Job::Create => Duration::hours(24),
            Job::Cleanup => Duration::hours(1),
        }
    }
}

/// When a job runs: never, daily at a UTC time, or weekly on a day at a UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    Off,
    Daily {
        hour: u32,
        minute: u32,
    },
    Weekly {
        day: Weekday,
        hour: u32,
        minute: u32,
    },
}

/// The accepted forms, for error messages.
pub const ACCEPTED: &str = "off, daily@HH:MM or <mon|tue|wed|thu|fri|sat|sun>@HH:MM (UTC, 24-hour)";

impl Schedule {
    /// The guide's creation time: every day at 01:00 UTC.
    pub const GUIDE_CREATE: Schedule = Schedule::Daily { hour: 1, minute: 0 };
    /// The guide's cleanup time: Sundays at 02:00 UTC.
    pub const GUIDE_CLEANUP: Schedule = Schedule::Weekly {
        day: Weekday::Sun,
        hour: 2,
        minute: 0,
    };

    /// Parses `off`, `daily@01:00`, `sun@02:00` (or `sunday@02:00`); the error says why.
    pub fn parse(value: &str) -> Result<Schedule, String> {
        let v = value.trim().to_ascii_lowercase();
        if v == "off" {
            return Ok(Schedule::Off);
        }
        let Some((when, time)) = v.split_once('@') else {
            return Err(format!("`{value}` has no `@HH:MM`"));
        };
        let (hour, minute) = parse_time(time)
            .ok_or_else(|| format!("`{time}` is not a time of day HH:MM (00:00 to 23:59)"))?;
        if when == "daily" {
            return Ok(Schedule::Daily { hour, minute });
        }
        let day = weekday(when)
            .ok_or_else(|| format!("`{when}` is neither `daily` nor a day of the week"))?;
        Ok(Schedule::Weekly { day, hour, minute })
    }

    /// The first run strictly after `now`; None when off.
    pub fn next_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let latest = self.latest_at_or_before(now)?;
        let step = match self {
            Schedule::Daily { .. } => Duration::days(1),
            _ => Duration::days(7),
        };
        Some(latest + step)
    }

    /// The last run time at or before `now`; None when off.
    pub fn latest_at_or_before(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let (hour, minute) = match *self {
            Schedule::Off => return None,
            Schedule::Daily { hour, minute } | Schedule::Weekly { hour, minute, .. } => {
                (hour, minute)
            }
        };
        let time = NaiveTime::from_hms_opt(hour, minute, 0)?;
        let today = Utc.from_utc_datetime(&now.date_naive().and_time(time));
        let mut at = if today <= now {
            today
        } else {
            today - Duration::days(1)
        };
        if let Schedule::Weekly { day, .. } = *self {
            let back = (at.weekday().num_days_from_monday() + 7 - day.num_days_from_monday()) % 7;
            at -= Duration::days(i64::from(back));
        }
        Some(at)
    }

    /// The run a process starting (or ticking) at `now` owes: the latest scheduled time, if it is
    /// no more than `grace` ago. Which process actually runs it is settled in the database.
    pub fn due(&self, now: DateTime<Utc>, grace: Duration) -> Option<DateTime<Utc>> {
        self.latest_at_or_before(now)
            .filter(|at| now - *at <= grace)
    }

    /// The same schedule as a cron line's five fields (`0 1 * * *`), for display next to pg_cron.
    pub fn cron_expr(&self) -> Option<String> {
        match *self {
            Schedule::Off => None,
            Schedule::Daily { hour, minute } => Some(format!("{minute} {hour} * * *")),
            Schedule::Weekly { day, hour, minute } => Some(format!(
                "{minute} {hour} * * {}",
                day.num_days_from_sunday()
            )),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Schedule::Off => write!(f, "off"),
            Schedule::Daily { hour, minute } => write!(f, "daily@{hour:02}:{minute:02}"),
            Schedule::Weekly { day, hour, minute } => {
                let d = day.to_string().to_ascii_lowercase();
                write!(f, "{d}@{hour:02}:{minute:02}")
            }
        }
    }
}

/// The two jobs' schedules (`SCHEDULE_CREATE`, `SCHEDULE_CLEANUP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Schedules {
    pub create: Schedule,
    pub cleanup: Schedule,
}

impl Default for Schedules {
    fn default() -> Self {
        Schedules {
            create: Schedule::GUIDE_CREATE,
            cleanup: Schedule::GUIDE_CLEANUP,
        }
    }
}

impl Schedules {
    pub fn of(&self, job: Job) -> Schedule {
        match job {
            Job::Create => self.create,
            Job::Cleanup => self.cleanup,
        }
    }
}

fn parse_time(s: &str) -> Option<(u32, u32)> {
    let (h, m) = s.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let hour: u32 = h.parse().ok()?;
    let minute: u32 = m.parse().ok()?;
    (hour < 24 && minute < 60).then_some((hour, minute))
}

fn weekday(s: &str) -> Option<Weekday> {
    let all = [
        ("mon", "monday", Weekday::Mon),
        ("tue", "tuesday", Weekday::Tue),
        ("wed", "wednesday", Weekday::Wed),
        ("thu", "thursday", Weekday::Thu),
        ("fri", "friday", Weekday::Fri),
        ("sat", "saturday", Weekday::Sat),
        ("sun", "sunday", Weekday::Sun),
    ];
    all.into_iter()
        .find(|(short, long, _)| s == *short || s == *long)
        .map(|(_, _, d)| d)
}

#[cfg(test)]
mod tests;
