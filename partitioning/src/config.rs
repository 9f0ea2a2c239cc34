//! `config/partitioning.conf`: shell `KEY=VALUE` lines (bash may `source` the file) parsed into
//! every table's policy and the health thresholds. A bad file yields every error at once, each
//! naming file, line, key and the accepted values; nothing runs on a bad config.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::policy::{CleanupMode, Policy, Retention, HIPAA_MIN_RETENTION_YEARS};
use crate::schedule::{Schedule, Schedules};
use crate::table::ManagedTable;

mod shell;
use shell::split_line;

/// Health alert thresholds (the guide's: size 10/50 GB, count 100/500 partitions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Thresholds {
    /// GiB (1024³ bytes), per partition.
    pub warn_size_gb: u32,
    pub critical_size_gb: u32,
    /// Partitions per table; see `health` for how a policy's own needs raise these.
    pub warn_count: u32,
    pub critical_count: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            warn_size_gb: 10,
            critical_size_gb: 50,
            warn_count: 100,
            critical_count: 500,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// One per managed table, in `ManagedTable::ALL` order.
    pub policies: Vec<Policy>,
    pub thresholds: Thresholds,
    /// How long a cleanup approval request stays open.
    pub approval_expiry_hours: u32,
    /// When `serve` runs creation and cleanup (`SCHEDULE_CREATE`, `SCHEDULE_CLEANUP`).
    #[serde(default)]
    pub schedule: Schedules,
}

impl Default for Config {
    /// The guide's policy; equal to what the shipped `config/partitioning.conf` says.
    fn default() -> Self {
        Config {
            policies: ManagedTable::ALL.map(Policy::default_for).to_vec(),
            thresholds: Thresholds::default(),
            approval_expiry_hours: 24,
            schedule: Schedules::default(),
        }
    }
}

const DEFAULT_POLICIES: [Policy; 4] = [
    Policy::default_for(ManagedTable::AuthAuditLog),
    Policy::default_for(ManagedTable::Sessions),
    Policy::default_for(ManagedTable::RefreshTokens),
    Policy::default_for(ManagedTable::RateLimits),
];

/// What is wrong with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigErrorKind {
    /// Not a `KEY=VALUE` line bash would read the same way.
    Syntax,
    UnknownKey,
    BadNumber,
    /// A number outside its range (zero or negative where not allowed, too large).
    OutOfRange,
    /// A word that is not one of the accepted ones (`auto|approval`, `yes|no`).
    BadValue,
    Duplicate,
    /// Two keys that cannot both be given, or do not agree (YEARS and DAYS; warn above critical).
    Conflict,
    /// `AUDIT_LOG_RETENTION_*` under the HIPAA floor of 6 years.
    AuditRetentionTooShort,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{file}:{line}: {key}: {message} (accepted: {accepted})")]
pub struct ConfigLineError {
    pub file: String,
    /// 1-based.
    pub line: usize,
    pub key: String,
    pub kind: ConfigErrorKind,
    pub message: String,
    pub accepted: String,
}

/// Every error of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct ConfigError {
    pub errors: Vec<ConfigLineError>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        write!(
            f,
            "{n} error{} in the partitioning config; nothing was run",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.errors {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

/// What a key sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    RetentionYears(ManagedTable),
    RetentionDays(ManagedTable),
    Ahead(ManagedTable),
    Cleanup(ManagedTable),
    DefaultPartition(ManagedTable),
    WarnSize,
    CriticalSize,
    WarnCount,
    CriticalCount,
    ApprovalExpiry,
    ScheduleCreate,
    ScheduleCleanup,
}

const GLOBAL_KEYS: [(&str, Field); 7] = [
    ("WARN_PARTITION_SIZE_GB", Field::WarnSize),
    ("CRITICAL_PARTITION_SIZE_GB", Field::CriticalSize),
    ("WARN_PARTITION_COUNT", Field::WarnCount),
    ("CRITICAL_PARTITION_COUNT", Field::CriticalCount),
    ("APPROVAL_EXPIRY_HOURS", Field::ApprovalExpiry),
    ("SCHEDULE_CREATE", Field::ScheduleCreate),
    ("SCHEDULE_CLEANUP", Field::ScheduleCleanup),
];

fn table_keys(t: ManagedTable) -> [(String, Field); 5] {
    let p = t.config_prefix();
    [
        (format!("{p}_RETENTION_YEARS"), Field::RetentionYears(t)),
        (format!("{p}_RETENTION_DAYS"), Field::RetentionDays(t)),
        (format!("{p}_PARTITIONS_AHEAD"), Field::Ahead(t)),
        (format!("{p}_CLEANUP"), Field::Cleanup(t)),
        (format!("{p}_DEFAULT_PARTITION"), Field::DefaultPartition(t)),
    ]
}

/// Every key the file may hold, in the order the shipped file lists them.
pub fn known_keys() -> Vec<String> {
    let mut keys: Vec<String> = ManagedTable::ALL
        .into_iter()
        .flat_map(|t| table_keys(t).map(|(k, _)| k))
        .collect();
    keys.extend(GLOBAL_KEYS.iter().map(|(k, _)| k.to_string()));
    keys
}

fn field_of(key: &str) -> Option<Field> {
    if let Some((_, f)) = GLOBAL_KEYS.iter().find(|(k, _)| *k == key) {
        return Some(*f);
    }
    ManagedTable::ALL
        .into_iter()
        .flat_map(table_keys)
        .find(|(k, _)| k == key)
        .map(|(_, f)| f)
}

/// Inclusive range of a numeric field; bounds keep calendar math in chrono's range.
fn range_of(field: Field) -> (i64, i64) {
    match field {
        Field::RetentionYears(ManagedTable::AuthAuditLog) => {
            (i64::from(HIPAA_MIN_RETENTION_YEARS), 100)
        }
        Field::RetentionYears(_) => (1, 100),
        Field::RetentionDays(_) => (1, 36_500),
        Field::Ahead(_) => (1, 1_000),
        Field::ApprovalExpiry => (1, 720),
        _ => (1, 1_000_000),
    }
}

impl Config {
    /// The policy of `table`. Falls back to the guide's default if `policies` lacks it (only a
    /// hand-built `Config` can).
    pub fn policy(&self, table: ManagedTable) -> &Policy {
        self.policies
            .iter()
            .find(|p| p.table == table)
            .unwrap_or(&DEFAULT_POLICIES[table.index()])
    }

    /// Parses the text of a config file; `file` names it in errors. Keys not in the file keep
    /// their default (the guide's values).
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let mut cfg = Config::default();
        let mut errors = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut retention_line: HashMap<ManagedTable, (usize, String)> = HashMap::new();
        let mut err = |line: usize, key: &str, kind, message: String, accepted: String| {
            errors.push(ConfigLineError {
                file: file.to_string(),
                line,
                key: key.to_string(),
                kind,
                message,
                accepted,
            })
        };
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let (key, value) = match split_line(raw) {
                Ok(Some(kv)) => kv,
                Ok(None) => continue,
                Err((key, why)) => {
                    err(
                        line,
                        &key,
                        ConfigErrorKind::Syntax,
                        why,
                        "KEY=VALUE lines, `#` comments, blank lines".into(),
                    );
                    continue;
                }
            };
            let Some(field) = field_of(&key) else {
                err(
                    line,
                    &key,
                    ConfigErrorKind::UnknownKey,
                    "unknown key".into(),
                    known_keys().join(", "),
                );
                continue;
            };
            if let Some(first) = seen.get(&key) {
                err(
                    line,
                    &key,
                    ConfigErrorKind::Duplicate,
                    format!("given again (first on line {first})"),
                    "each key once".into(),
                );
                continue;
            }
            seen.insert(key.clone(), line);
            if let Field::RetentionYears(t) | Field::RetentionDays(t) = field {
                if let Some((first, other)) = retention_line.get(&t) {
                    let msg =
                        format!("{other} is already given on line {first}; give one of the two");
                    let accepted = format!(
                        "{p}_RETENTION_YEARS or {p}_RETENTION_DAYS, not both",
                        p = t.config_prefix()
                    );
                    err(line, &key, ConfigErrorKind::Conflict, msg, accepted);
                    continue;
                }
                retention_line.insert(t, (line, key.clone()));
            }
            if let Err((kind, message, accepted)) = cfg.set(field, &value) {
                err(line, &key, kind, message, accepted);
            }
        }
        let t = cfg.thresholds;
        for (warn, crit, w, c) in [
            (
                "WARN_PARTITION_SIZE_GB",
                "CRITICAL_PARTITION_SIZE_GB",
                t.warn_size_gb,
                t.critical_size_gb,
            ),
            (
                "WARN_PARTITION_COUNT",
                "CRITICAL_PARTITION_COUNT",
                t.warn_count,
                t.critical_count,
            ),
        ] {
            if w > c {
                let line = seen.get(warn).or(seen.get(crit)).copied().unwrap_or(0);
                let msg = format!("the warning threshold {w} is above the critical one {c}");
                err(
                    line,
                    warn,
                    ConfigErrorKind::Conflict,
                    msg,
                    format!("{warn} <= {crit}"),
                );
            }
        }
        if errors.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigError { errors })
        }
    }

    /// Applies one value; the error is (kind, message, accepted values).
    fn set(&mut self, field: Field, value: &str) -> Result<(), (ConfigErrorKind, String, String)> {
        let table_policy = |cfg: &mut Config, t: ManagedTable| -> usize {
            match cfg.policies.iter().position(|p| p.table == t) {
                Some(i) => i,
                None => {
                    cfg.policies.push(Policy::default_for(t));
                    cfg.policies.len() - 1
                }
            }
        };
        match field {
            Field::Cleanup(t) => {
                let mode = match value {
                    "auto" => CleanupMode::Auto,
                    "approval" => CleanupMode::Approval,
                    _ => return Err(bad_word(value, "auto, approval")),
                };
                let i = table_policy(self, t);
                self.policies[i].cleanup = mode;
            }
            Field::ScheduleCreate | Field::ScheduleCleanup => {
                let schedule = Schedule::parse(value).map_err(|why| {
                    (
                        ConfigErrorKind::BadValue,
                        why,
                        crate::schedule::ACCEPTED.to_string(),
                    )
                })?;
                if field == Field::ScheduleCreate {
                    self.schedule.create = schedule;
                } else {
                    self.schedule.cleanup = schedule;
                }
            }
            Field::DefaultPartition(t) => {
                let yes = match value {
                    "yes" => true,
                    "no" => false,
                    _ => return Err(bad_word(value, "yes, no")),
                };
                let i = table_policy(self, t);
                self.policies[i].default_partition = yes;
            }
            _ => {
                let n = number(field, value)?;
                match field {
                    Field::RetentionYears(t) => {
                        let i = table_policy(self, t);
                        self.policies[i].retention = Retention::Years(n);
                    }
                    Field::RetentionDays(t) => {
                        let r = Retention::Days(n);
                        if t == ManagedTable::AuthAuditLog
                            && !r.is_at_least_years(HIPAA_MIN_RETENTION_YEARS)
                        {
                            return Err(audit_too_short(&r.to_string()));
                        }
                        let i = table_policy(self, t);
                        self.policies[i].retention = r;
                    }
                    Field::Ahead(t) => {
                        let i = table_policy(self, t);
                        self.policies[i].ahead = n;
                    }
                    Field::WarnSize => self.thresholds.warn_size_gb = n,
                    Field::CriticalSize => self.thresholds.critical_size_gb = n,
                    Field::WarnCount => self.thresholds.warn_count = n,
                    Field::CriticalCount => self.thresholds.critical_count = n,
                    Field::ApprovalExpiry => self.approval_expiry_hours = n,
                    Field::Cleanup(_)
                    | Field::DefaultPartition(_)
                    | Field::ScheduleCreate
                    | Field::ScheduleCleanup => {}
                }
            }
        }
        Ok(())
    }
}

fn bad_word(value: &str, accepted: &str) -> (ConfigErrorKind, String, String) {
    (
        ConfigErrorKind::BadValue,
        format!("`{value}` is not an accepted value"),
        accepted.into(),
    )
}

fn audit_too_short(given: &str) -> (ConfigErrorKind, String, String) {
    (
        ConfigErrorKind::AuditRetentionTooShort,
        format!(
            "audit log retention of {given} is under the HIPAA floor of {HIPAA_MIN_RETENTION_YEARS} years \
             (45 CFR 164.316(b)(2)(i)); refused"
        ),
        format!("{HIPAA_MIN_RETENTION_YEARS} to 100 years (the guide's policy is 7), or 2192 days or more"),
    )
}

fn number(field: Field, value: &str) -> Result<u32, (ConfigErrorKind, String, String)> {
    let (lo, hi) = range_of(field);
    let accepted = format!("a whole number from {lo} to {hi}");
    let n: i64 = value.parse().map_err(|_| {
        (
            ConfigErrorKind::BadNumber,
            format!("`{value}` is not a whole number"),
            accepted.clone(),
        )
    })?;
    if let Field::RetentionYears(ManagedTable::AuthAuditLog) = field {
        if n < lo {
            return Err(audit_too_short(&format!("{n} years")));
        }
    }
    if n < lo || n > hi {
        let why = if n <= 0 {
            "zero or negative is not allowed"
        } else {
            "out of range"
        };
        return Err((ConfigErrorKind::OutOfRange, format!("{n}: {why}"), accepted));
    }
    u32::try_from(n).map_err(|_| {
        (
            ConfigErrorKind::OutOfRange,
            format!("{n}: out of range"),
            accepted,
        )
    })
}

#[cfg(test)]
mod tests;
