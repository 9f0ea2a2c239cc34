//! The two layouts an online migrate/rollback moves a table between: its keys and indexes as
//! migrations 002–005 make them (ordinary table) and as 006 makes them (partitioned: every unique
//! key holds the partition key), and the names the shadow and the kept table get.

use crate::table::ManagedTable;

/// A key or index of one layout: its final name and how to make it on table `{}`.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub name: &'static str,
    /// A constraint (`ALTER TABLE .. ADD CONSTRAINT name <def>`) or an index (`CREATE INDEX`).
    pub constraint: bool,
    /// `PRIMARY KEY (id, created_at)` or `(user_id, created_at)`.
    pub def: &'static str,
}

const fn c(name: &'static str, def: &'static str) -> Key {
    Key {
        name,
        constraint: true,
        def,
    }
}

const fn i(name: &'static str, def: &'static str) -> Key {
    Key {
        name,
        constraint: false,
        def,
    }
}

/// Keys and indexes of the partitioned layout (migration 006).
pub fn partitioned_keys(t: ManagedTable) -> Vec<Key> {
    match t {
        ManagedTable::AuthAuditLog => vec![
            c("auth_audit_log_pkey", "PRIMARY KEY (id, \"timestamp\")"),
            i("idx_audit_log_timestamp", "(\"timestamp\")"),
            i("idx_audit_log_user_id", "(user_id, \"timestamp\")"),
            i("idx_audit_log_event_type", "(event_type, \"timestamp\")"),
        ],
        ManagedTable::Sessions => vec![
            c("sessions_pkey", "PRIMARY KEY (id, created_at)"),
            i("idx_sessions_token_hash", "(token_hash)"),
            i("idx_sessions_user_id", "(user_id, created_at)"),
            i("idx_sessions_expires_at", "(expires_at)"),
        ],
        ManagedTable::RefreshTokens => vec![
            c("refresh_tokens_pkey", "PRIMARY KEY (id, created_at)"),
            i("idx_refresh_tokens_token_hash", "(token_hash)"),
            i("idx_refresh_tokens_user_id", "(user_id, created_at)"),
            i("idx_refresh_tokens_session_id", "(session_id)"),
        ],
        ManagedTable::RateLimits => vec![
            c("rate_limits_pkey", "PRIMARY KEY (id, window_start)"),
            c(
                "rate_limits_bucket_window_key",
                "UNIQUE (bucket_key, window_start)",
            ),
        ],
    }
}

/// Keys and indexes of the ordinary layout (migrations 002–005).
pub fn ordinary_keys(t: ManagedTable) -> Vec<Key> {
    match t {
        ManagedTable::AuthAuditLog => vec![
            c("auth_audit_log_pkey", "PRIMARY KEY (id)"),
            i("idx_audit_log_timestamp", "(\"timestamp\")"),
            i("idx_audit_log_user_id", "(user_id, \"timestamp\")"),
            i("idx_audit_log_event_type", "(event_type, \"timestamp\")"),
        ],
        ManagedTable::Sessions => vec![
            c("sessions_pkey", "PRIMARY KEY (id)"),
            c("sessions_token_hash_key", "UNIQUE (token_hash)"),
            i("idx_sessions_user_id", "(user_id, created_at)"),
            i("idx_sessions_expires_at", "(expires_at)"),
            i("idx_sessions_created_at", "(created_at)"),
        ],
        ManagedTable::RefreshTokens => vec![
            c("refresh_tokens_pkey", "PRIMARY KEY (id)"),
            c("refresh_tokens_token_hash_key", "UNIQUE (token_hash)"),
            i("idx_refresh_tokens_user_id", "(user_id, created_at)"),
            i("idx_refresh_tokens_session_id", "(session_id)"),
            i("idx_refresh_tokens_created_at", "(created_at)"),
        ],
        ManagedTable::RateLimits => vec![
            c("rate_limits_pkey", "PRIMARY KEY (id)"),
            c(
                "rate_limits_bucket_window_key",
                "UNIQUE (bucket_key, window_start)",
            ),
            i("idx_rate_limits_window_start", "(window_start)"),
        ],
    }
}

/// Suffix of the shadow's keys while it is built; they take the final names at the swap.
pub const NEW: &str = "__new";
/// Suffix the live table's keys get at the swap (the kept table's).
pub const OLD: &str = "__old";

/// The shadow table built beside the live one.
pub fn shadow_name(t: ManagedTable, migrate: bool) -> String {
    if migrate {
        format!("{}_partitioned_new", t.name())
    } else {
        format!("{}_unpartitioned_new", t.name())
    }
}

/// The name the live table keeps after the swap, until `--finish` drops it.
pub fn kept_name(t: ManagedTable, migrate: bool) -> String {
    if migrate {
        format!("{}_before_partitioning", t.name())
    } else {
        format!("{}_before_rollback", t.name())
    }
}

/// The capture trigger and its function on the live table.
pub fn capture_name(t: ManagedTable) -> String {
    format!("{}_online_capture", t.name())
}
