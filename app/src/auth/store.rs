//! The SQL of console accounts (migration 007): create, list, change, and the login bookkeeping
//! (attempts, throttling, last login). Used by the server functions and by `rustcare-partitions user`.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use partitioning::access::{check_password, parse_display_name, InvalidAccount, Role, Username};
use sqlx::{PgPool, Row};

use super::password;
use super::AccountRow;

/// Failures for one account within [`WINDOW_MINUTES`] that lock it.
pub const MAX_FAILURES: i32 = 5;
/// Failures from one address within the window that refuse it (whatever the usernames).
pub const MAX_FAILURES_PER_IP: i64 = 20;
pub const WINDOW_MINUTES: i32 = 15;
pub const LOCK_MINUTES: i32 = 15;
/// Login attempts are a security log; kept this long.
pub const ATTEMPTS_KEPT_DAYS: i32 = 90;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Invalid(#[from] InvalidAccount),
    #[error("there is already an account named '{0}'")]
    Exists(String),
    #[error("there is no account named '{0}'")]
    NotFound(String),
    #[error("'{0}' is the only enabled admin: make another account admin first, or nobody could manage accounts")]
    LastAdmin(String),
    #[error("{0}")]
    Hash(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Creates an account; the password is checked and hashed here, never stored.
pub async fn create(
    pool: &PgPool,
    username: &Username,
    display_name: &str,
    role: Role,
    password_text: &str,
) -> Result<(), StoreError> {
    let display_name = parse_display_name(display_name)?;
    check_password(password_text)?;
    let phc = password::hash_async(password_text.to_string())
        .await
        .map_err(StoreError::Hash)?;
    let res = sqlx::query(
        "INSERT INTO console_users (username, display_name, role, password_hash) VALUES ($1, $2, $3, $4)",
    )
    .bind(username.as_str())
    .bind(display_name)
    .bind(role.name())
    .bind(phc)
    .execute(pool)
    .await;
    match res {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Exists(username.to_string())),
        Err(e) => Err(e.into()),
    }
}

pub async fn list(pool: &PgPool) -> Result<Vec<AccountRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT username, display_name, role, disabled, created_at, last_login_at, \
                CASE WHEN locked_until > now() THEN locked_until END AS locked_until \
         FROM console_users ORDER BY username",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            let role: String = r.try_get("role")?;
            Ok(AccountRow {
                username: r.try_get("username")?,
                display_name: r.try_get("display_name")?,
                role: Role::parse(&role).map_err(|e| InvalidAccount(e.to_string()))?,
                disabled: r.try_get("disabled")?,
                created_at: r.try_get("created_at")?,
                last_login_at: r.try_get("last_login_at")?,
                locked_until: r.try_get("locked_until")?,
            })
        })
        .collect()
}

pub async fn count(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM console_users")
        .fetch_one(pool)
        .await
}

pub async fn set_role(pool: &PgPool, username: &Username, role: Role) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    if role != Role::Admin {
        guard_last_admin(&mut tx, username).await?;
    }
    let n = sqlx::query("UPDATE console_users SET role = $2 WHERE username = $1")
        .bind(username.as_str())
        .bind(role.name())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    found(n, username)?;
    tx.commit().await?;
    Ok(())
}

/// Disabling also ends every session of the account (the epoch moves on).
pub async fn set_disabled(
    pool: &PgPool,
    username: &Username,
    disabled: bool,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    if disabled {
        guard_last_admin(&mut tx, username).await?;
    }
    let n = sqlx::query(
        "UPDATE console_users SET disabled = $2, \
                session_epoch = session_epoch + CASE WHEN $2 THEN 1 ELSE 0 END \
         WHERE username = $1",
    )
    .bind(username.as_str())
    .bind(disabled)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    found(n, username)?;
    tx.commit().await?;
    Ok(())
}

/// A new password ends every session of the account and lifts a lock.
pub async fn set_password(
    pool: &PgPool,
    username: &Username,
    password_text: &str,
) -> Result<(), StoreError> {
    check_password(password_text)?;
    let phc = password::hash_async(password_text.to_string())
        .await
        .map_err(StoreError::Hash)?;
    let n = sqlx::query(
        "UPDATE console_users SET password_hash = $2, session_epoch = session_epoch + 1, \
                failed_attempts = 0, locked_until = NULL \
         WHERE username = $1",
    )
    .bind(username.as_str())
    .bind(phc)
    .execute(pool)
    .await?
    .rows_affected();
    found(n, username)
}

/// Refuses to take the last enabled admin away. Locks the admin rows so two concurrent changes
/// cannot each see the other admin and remove both.
async fn guard_last_admin(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    username: &Username,
) -> Result<(), StoreError> {
    let admins: Vec<String> = sqlx::query_scalar(
        "SELECT username FROM console_users WHERE role = 'admin' AND NOT disabled ORDER BY id FOR UPDATE",
    )
    .fetch_all(&mut **tx)
    .await?;
    if admins.len() == 1 && admins[0] == username.as_str() {
        return Err(StoreError::LastAdmin(username.to_string()));
    }
    Ok(())
}

fn found(rows: u64, username: &Username) -> Result<(), StoreError> {
    if rows == 0 {
        Err(StoreError::NotFound(username.to_string()))
    } else {
        Ok(())
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "23505")
}

/// What login needs to know about an account.
#[derive(Debug, Clone)]
pub struct LoginCandidate {
    pub id: i64,
    pub password_hash: String,
    pub disabled: bool,
    pub session_epoch: i32,
}

pub async fn login_candidate(
    pool: &PgPool,
    username: &str,
) -> Result<Option<LoginCandidate>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, password_hash, disabled, session_epoch FROM console_users WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(LoginCandidate {
            id: r.try_get("id")?,
            password_hash: r.try_get("password_hash")?,
            disabled: r.try_get("disabled")?,
            session_epoch: r.try_get("session_epoch")?,
        })
    })
    .transpose()
}

/// Why a login is refused before its password is even checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Throttle {
    Account { until: DateTime<Utc> },
    Address { until: DateTime<Utc> },
}

/// Whether the username (existing or not, so refusals do not reveal which exist) or the address
/// has failed too often lately.
pub async fn throttled(
    pool: &PgPool,
    username: &str,
    ip: Option<IpAddr>,
) -> Result<Option<Throttle>, sqlx::Error> {
    let row = sqlx::query(
        "WITH w AS (SELECT now() - make_interval(mins => $3) AS since) \
         SELECT \
           (SELECT locked_until FROM console_users WHERE username = $1 AND locked_until > now()) AS account, \
           (SELECT max(at) + make_interval(mins => $4) FROM console_login_attempts, w \
             WHERE username = $1 AND outcome = 'failed' AND at > w.since \
               AND NOT EXISTS (SELECT 1 FROM console_users WHERE username = $1) \
             HAVING count(*) >= $5) AS unknown_name, \
           (SELECT max(at) + make_interval(mins => $3) FROM console_login_attempts, w \
             WHERE ip = $2::inet AND outcome = 'failed' AND at > w.since \
             HAVING count(*) >= $6) AS address",
    )
    .bind(username)
    .bind(ip.map(|i| i.to_string()))
    .bind(WINDOW_MINUTES)
    .bind(LOCK_MINUTES)
    .bind(i64::from(MAX_FAILURES))
    .bind(MAX_FAILURES_PER_IP)
    .fetch_one(pool)
    .await?;
    let account: Option<DateTime<Utc>> = row.try_get("account")?;
    let unknown: Option<DateTime<Utc>> = row.try_get("unknown_name")?;
    let address: Option<DateTime<Utc>> = row.try_get("address")?;
    Ok(match (account.or(unknown), address) {
        (Some(until), _) => Some(Throttle::Account { until }),
        (None, Some(until)) => Some(Throttle::Address { until }),
        (None, None) => None,
    })
}

pub async fn record_attempt(
    pool: &PgPool,
    username: &str,
    ip: Option<IpAddr>,
    outcome: &str,
) -> Result<(), sqlx::Error> {
    // Bound the stored text: the field is whatever a client typed.
    let username: String = username.chars().take(200).collect();
    sqlx::query(
        "INSERT INTO console_login_attempts (username, ip, outcome) VALUES ($1, $2::inet, $3)",
    )
    .bind(username)
    .bind(ip.map(|i| i.to_string()))
    .bind(outcome)
    .execute(pool)
    .await?;
    Ok(())
}

/// Counts a failure against an account; the failure that reaches the limit locks it.
pub async fn record_failure(pool: &PgPool, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH n AS ( \
           SELECT id, CASE WHEN last_failed_at > now() - make_interval(mins => $2) \
                           THEN failed_attempts + 1 ELSE 1 END AS failures \
           FROM console_users WHERE id = $1) \
         UPDATE console_users u SET failed_attempts = n.failures, last_failed_at = now(), \
                locked_until = CASE WHEN n.failures >= $3 THEN now() + make_interval(mins => $4) \
                                    ELSE u.locked_until END \
         FROM n WHERE u.id = n.id",
    )
    .bind(id)
    .bind(WINDOW_MINUTES)
    .bind(MAX_FAILURES)
    .bind(LOCK_MINUTES)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn record_success(pool: &PgPool, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE console_users SET last_login_at = now(), failed_attempts = 0, locked_until = NULL WHERE id = $1",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// The account behind a session, if it still may use it (exists, enabled, same epoch).
pub async fn session_account(
    pool: &PgPool,
    id: i64,
    epoch: i32,
) -> Result<Option<(String, String, Role)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT username, display_name, role FROM console_users \
         WHERE id = $1 AND session_epoch = $2 AND NOT disabled",
    )
    .bind(id)
    .bind(epoch)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let role: String = r.try_get("role")?;
    // The CHECK constraint allows only the four roles; anything else is refused like no session.
    let Ok(role) = Role::parse(&role) else {
        return Ok(None);
    };
    Ok(Some((
        r.try_get("username")?,
        r.try_get("display_name")?,
        role,
    )))
}

/// Deletes expired sessions and old login attempts; returns how many of each.
pub async fn delete_expired(pool: &PgPool) -> Result<(u64, u64), sqlx::Error> {
    // Compared as timestamptz (the store's own cleanup compares against a timestamp in UTC,
    // which the session TimeZone can shift).
    let sessions = sqlx::query("DELETE FROM console_sessions WHERE expiry_date < now()")
        .execute(pool)
        .await?
        .rows_affected();
    let attempts = sqlx::query(
        "DELETE FROM console_login_attempts WHERE at < now() - make_interval(days => $1)",
    )
    .bind(ATTEMPTS_KEPT_DAYS)
    .execute(pool)
    .await?
    .rows_affected();
    Ok((sessions, attempts))
}
