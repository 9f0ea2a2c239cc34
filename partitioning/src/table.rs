//! The four managed tables (the only names the tool ever builds SQL for) and SQL quoting.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::calendar::Period;

/// A table this tool partitions. Parsing a user's `--table` into this type is the only way in,
/// so no unchecked table name travels further.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManagedTable {
    AuthAuditLog,
    Sessions,
    RefreshTokens,
    RateLimits,
}

/// A name that is not one of the managed tables; the message lists the ones that are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("unknown table `{0}`: the managed tables are auth_audit_log, sessions, refresh_tokens, rate_limits")]
pub struct UnknownTable(pub String);

impl ManagedTable {
    /// In the guide's order; every list of tables the tool prints follows it.
    pub const ALL: [ManagedTable; 4] = [
        ManagedTable::AuthAuditLog,
        ManagedTable::Sessions,
        ManagedTable::RefreshTokens,
        ManagedTable::RateLimits,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ManagedTable::AuthAuditLog => "auth_audit_log",
            ManagedTable::Sessions => "sessions",
            ManagedTable::RefreshTokens => "refresh_tokens",
            ManagedTable::RateLimits => "rate_limits",
        }
    }

    /// The range partition key (`timestamptz`).
    pub fn partition_column(self) -> &'static str {
        match self {
            ManagedTable::AuthAuditLog => "timestamp",
            ManagedTable::Sessions | ManagedTable::RefreshTokens => "created_at",
            ManagedTable::RateLimits => "window_start",
        }
    }

    pub fn period(self) -> Period {
        match self {
            ManagedTable::AuthAuditLog => Period::Month,
            ManagedTable::Sessions | ManagedTable::RateLimits => Period::Day,
            ManagedTable::RefreshTokens => Period::Week,
        }
    }

    /// The prefix of this table's keys in `config/partitioning.conf` (the guide's `AUDIT_LOG_...`).
    pub fn config_prefix(self) -> &'static str {
        match self {
            ManagedTable::AuthAuditLog => "AUDIT_LOG",
            ManagedTable::Sessions => "SESSIONS",
            ManagedTable::RefreshTokens => "REFRESH_TOKENS",
            ManagedTable::RateLimits => "RATE_LIMITS",
        }
    }

    /// Position in [`ManagedTable::ALL`].
    pub fn index(self) -> usize {
        match self {
            ManagedTable::AuthAuditLog => 0,
            ManagedTable::Sessions => 1,
            ManagedTable::RefreshTokens => 2,
            ManagedTable::RateLimits => 3,
        }
    }

    /// Accepts the table name, ignoring surrounding blanks and ASCII case (`--table Sessions`).
    pub fn parse(s: &str) -> Result<ManagedTable, UnknownTable> {
        let wanted = s.trim();
        ManagedTable::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownTable(s.to_string()))
    }
}

impl FromStr for ManagedTable {
    type Err = UnknownTable;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ManagedTable::parse(s)
    }
}

impl fmt::Display for ManagedTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Quotes an SQL identifier: `a"b` → `"a""b"`. The one quoting helper for names.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes an SQL string literal the way PostgreSQL's `quote_literal` does: quotes doubled, and
/// the `E'...'` form with doubled backslashes when the text holds one, so the result means the
/// same whatever `standard_conforming_strings` says.
pub fn quote_literal(text: &str) -> String {
    let body = text.replace('\'', "''");
    if body.contains('\\') {
        format!("E'{}'", body.replace('\\', "\\\\"))
    } else {
        format!("'{body}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_managed_names_only() {
        let cases: [(&str, Option<ManagedTable>); 7] = [
            ("auth_audit_log", Some(ManagedTable::AuthAuditLog)),
            ("sessions", Some(ManagedTable::Sessions)),
            (" Refresh_Tokens ", Some(ManagedTable::RefreshTokens)),
            ("rate_limits", Some(ManagedTable::RateLimits)),
            ("users", None),
            ("sessions_2025_10_01", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(ManagedTable::parse(input).ok(), want, "{input:?}");
        }
        let err = ManagedTable::parse("users").unwrap_err().to_string();
        for t in ManagedTable::ALL {
            assert!(err.contains(t.name()), "{err}");
        }
        assert!(err.contains("`users`"), "{err}");
    }

    #[test]
    fn names_round_trip_through_display_fromstr_and_serde() {
        for t in ManagedTable::ALL {
            assert_eq!(t.to_string().parse::<ManagedTable>(), Ok(t));
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.name()));
            assert_eq!(serde_json::from_str::<ManagedTable>(&json).unwrap(), t);
            assert_eq!(ManagedTable::ALL[t.index()], t);
        }
    }

    #[test]
    fn quoting() {
        let cases = [
            (quote_ident("sessions"), "\"sessions\""),
            (quote_ident("a\"b"), "\"a\"\"b\""),
            (quote_ident("timestamp"), "\"timestamp\""),
            (quote_literal("x"), "'x'"),
            (quote_literal("it's"), "'it''s'"),
            (quote_literal("a\\b"), "E'a\\\\b'"),
            (quote_literal("a\\'b"), "E'a\\\\''b'"),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }
}
