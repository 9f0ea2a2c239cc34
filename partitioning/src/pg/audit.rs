//! The hash-chained audit trail (`audit_trail`, migration 009): appending events, verifying the
//! chain in Rust against the hashes SQL stored, and reading pages of it for the console and CSV.
//!
//! Canonical text of a row (what `hash` covers, defined once in SQL by `rustcare_audit_canonical`
//! and again here): seven fields, each as `<octet length>:<bytes>\n`, in the order id, at, actor,
//! action, subject, detail, prev_hash; `at` is `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC, `detail` is
//! PostgreSQL's `jsonb::text`. Verification reads `at` and `detail` in those text forms from the
//! database, so a value edited in place changes the text and no longer matches its hash.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{PgExecutor, PgPool, Row};

/// `prev_hash` of the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The SQL text form of `at` both sides hash.
const AT_FORMAT_SQL: &str = r#"to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"#;

/// One thing that happened, before it is appended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Console username, `cli:<user>`, `scheduler`, `cron`.
    pub actor: String,
    /// One of the contract's action names (`login`, `cleanup_approved`, ...).
    pub action: String,
    /// `request:12`, `user:alice`, ... (may be empty).
    pub subject: String,
    pub detail: serde_json::Value,
}

impl AuditEvent {
    pub fn new(
        actor: impl Into<String>,
        action: impl Into<String>,
        subject: impl Into<String>,
        detail: serde_json::Value,
    ) -> Self {
        AuditEvent {
            actor: actor.into(),
            action: action.into(),
            subject: subject.into(),
            detail,
        }
    }
}

/// Appends `event` through `rustcare_audit_append` (serialised, hashed in SQL); returns its id.
/// Pass a transaction to make the event commit or roll back with the change it records.
pub async fn append<'e>(db: impl PgExecutor<'e>, event: &AuditEvent) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT rustcare_audit_append($1, $2, $3, $4)")
        .bind(&event.actor)
        .bind(&event.action)
        .bind(&event.subject)
        .bind(&event.detail)
        .fetch_one(db)
        .await
}

/// Like `append`, but a failure is logged instead of returned: for events recorded after the fact
/// (a login already happened) where refusing the user would not undo anything.
pub async fn append_logged<'e>(db: impl PgExecutor<'e>, event: &AuditEvent) {
    if let Err(e) = append(db, event).await {
        tracing::error!(action = %event.action, actor = %event.actor, error = %e,
            "could not append to the audit trail");
    }
}

/// The canonical text of one row (see the module doc).
pub fn canonical_text(
    id: i64,
    at: &str,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
    prev_hash: &str,
) -> String {
    let id = id.to_string();
    let mut out = String::new();
    for field in [id.as_str(), at, actor, action, subject, detail, prev_hash] {
        out.push_str(&field.len().to_string());
        out.push(':');
        out.push_str(field);
        out.push('\n');
    }
    out
}

/// Lower-case hex SHA-256 of `text`.
pub fn hash_text(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Why the chain is broken at a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Break {
    /// The row's fields no longer hash to its stored hash: the row was edited.
    HashMismatch {
        id: i64,
        stored: String,
        computed: String,
    },
    /// The row does not point at the row before it: a row was inserted, removed or re-hashed.
    PrevHashMismatch {
        id: i64,
        stored: String,
        expected: String,
    },
    /// Ids are not 1, 2, 3...: a row is missing.
    Gap { expected_id: i64, found_id: i64 },
}

impl Break {
    pub fn id(&self) -> i64 {
        match self {
            Break::HashMismatch { id, .. } | Break::PrevHashMismatch { id, .. } => *id,
            Break::Gap { found_id, .. } => *found_id,
        }
    }
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::HashMismatch { id, stored, computed } => write!(
                f,
                "row {id}: its fields hash to {computed} but the stored hash is {stored}: the row was changed after it was written"
            ),
            Break::PrevHashMismatch { id, stored, expected } => write!(
                f,
                "row {id}: prev_hash is {stored} but the row before it hashes to {expected}: the chain was cut or re-linked here"
            ),
            Break::Gap { expected_id, found_id } => write!(
                f,
                "row {found_id}: expected row {expected_id} next: rows {expected_id}..{} are missing",
                found_id - 1
            ),
        }
    }
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Rows checked (up to and including the first break).
    pub rows: i64,
    /// Id and hash of the last row checked: record it elsewhere to detect a cut tail later.
    pub head: Option<(i64, String)>,
    pub first_break: Option<Break>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.first_break.is_none()
    }
}

/// Walks the whole chain in id order (keyset pages of 5,000 rows), recomputing every hash, and
/// stops at the first broken link. Deleting the newest rows leaves a shorter valid chain: compare
/// `head` with one recorded earlier (the README says how).
pub async fn verify(pool: &PgPool) -> Result<VerifyReport, sqlx::Error> {
    const PAGE: i64 = 5_000;
    let sql = format!(
        "SELECT id, {AT_FORMAT_SQL} AS at_text, actor, action, subject, detail::text AS detail_text, \
         prev_hash, hash FROM audit_trail WHERE id > $1 ORDER BY id LIMIT $2"
    );
    let mut report = VerifyReport {
        rows: 0,
        head: None,
        first_break: None,
    };
    let mut expected_id = 1_i64;
    let mut expected_prev = GENESIS.to_string();
    loop {
        let rows = sqlx::query(&sql)
            .bind(expected_id - 1)
            .bind(PAGE)
            .fetch_all(pool)
            .await?;
        if rows.is_empty() {
            return Ok(report);
        }
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            let stored: String = row.try_get("hash")?;
            let prev: String = row.try_get("prev_hash")?;
            report.rows += 1;
            if id != expected_id {
                report.first_break = Some(Break::Gap {
                    expected_id,
                    found_id: id,
                });
                return Ok(report);
            }
            if prev != expected_prev {
                report.first_break = Some(Break::PrevHashMismatch {
                    id,
                    stored: prev,
                    expected: expected_prev,
                });
                return Ok(report);
            }
            let text = canonical_text(
                id,
                &row.try_get::<String, _>("at_text")?,
                &row.try_get::<String, _>("actor")?,
                &row.try_get::<String, _>("action")?,
                &row.try_get::<String, _>("subject")?,
                &row.try_get::<String, _>("detail_text")?,
                &prev,
            );
            let computed = hash_text(&text);
            if computed != stored {
                report.first_break = Some(Break::HashMismatch {
                    id,
                    stored,
                    computed,
                });
                return Ok(report);
            }
            report.head = Some((id, stored.clone()));
            expected_prev = stored;
            expected_id = id + 1;
        }
    }
}

/// One stored row, for pages and exports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    /// `detail::text`.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// What to read: every filter optional, newest first, at most `limit` rows before `before_id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
    /// Keyset paging: rows with a smaller id.
    pub before_id: Option<i64>,
}

/// Rows matching `filter`, newest first, at most `limit` (oldest first when `oldest_first`, for
/// exports).
pub async fn list(
    pool: &PgPool,
    filter: &AuditFilter,
    limit: i64,
    oldest_first: bool,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    fetch(pool, filter, None, limit, oldest_first).await
}

async fn fetch(
    pool: &PgPool,
    filter: &AuditFilter,
    after: Option<i64>,
    limit: i64,
    oldest_first: bool,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    let order = if oldest_first { "ASC" } else { "DESC" };
    let sql = format!(
        "SELECT id, at, actor, action, subject, detail::text AS detail, prev_hash, hash \
         FROM audit_trail \
         WHERE ($1::text IS NULL OR actor = $1) AND ($2::text IS NULL OR action = $2) \
           AND ($3::timestamptz IS NULL OR at >= $3) AND ($4::timestamptz IS NULL OR at < $4) \
           AND ($5::bigint IS NULL OR id < $5) AND ($7::bigint IS NULL OR id > $7) \
         ORDER BY id {order} LIMIT $6"
    );
    let rows = sqlx::query(&sql)
        .bind(&filter.actor)
        .bind(&filter.action)
        .bind(filter.from)
        .bind(filter.to)
        .bind(filter.before_id)
        .bind(limit)
        .bind(after)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditRow {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                action: r.try_get("action")?,
                subject: r.try_get("subject")?,
                detail: r.try_get("detail")?,
                prev_hash: r.try_get("prev_hash")?,
                hash: r.try_get("hash")?,
            })
        })
        .collect()
}

/// Rows matching `filter` with an id above `after`, oldest first, at most `limit`: keyset pages
/// for exports (`before_id` is ignored).
pub async fn list_after(
    pool: &PgPool,
    filter: &AuditFilter,
    after: i64,
    limit: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    let f = AuditFilter {
        before_id: None,
        ..filter.clone()
    };
    fetch(pool, &f, Some(after), limit, true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text_is_length_prefixed() {
        let t = canonical_text(
            7,
            "2026-01-02T03:04:05.000006Z",
            "dba1",
            "login",
            "",
            "{}",
            GENESIS,
        );
        assert_eq!(
            t,
            format!(
                "1:7\n27:2026-01-02T03:04:05.000006Z\n4:dba1\n5:login\n0:\n2:{{}}\n64:{GENESIS}\n"
            )
        );
    }

    #[test]
    fn fields_cannot_bleed_into_each_other() {
        let a = canonical_text(1, "t", "a\n5:login", "x", "", "{}", GENESIS);
        let b = canonical_text(1, "t", "a", "login\nx", "", "{}", GENESIS);
        assert_ne!(hash_text(&a), hash_text(&b));
    }

    #[test]
    fn lengths_are_bytes_not_chars() {
        let t = canonical_text(1, "t", "zoë", "a", "", "{}", GENESIS);
        assert!(t.contains("4:zoë\n"));
    }
}
