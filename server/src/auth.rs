//! Console sessions: their settings (from the environment), the PostgreSQL session store and
//! cookie, and the task that deletes expired sessions.

use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

/// How the console protects sessions. `serve` reads it from the environment:
/// - `RUSTCARE_PUBLIC_ORIGIN`: the console's address as browsers see it (e.g.
///   `https://partitions.example.org`); the only Origin accepted on mutating requests. Unset:
///   the request's own `Host`, over http or https.
/// - `RUSTCARE_SECURE_COOKIES=1`: mark the session cookie `Secure` (implied by an https
///   public origin). Set it whenever the console is reached over https, e.g. behind a proxy.
/// - `RUSTCARE_SESSION_IDLE_MINUTES`: sign out after this much inactivity (default 30).
#[derive(Debug, Clone)]
pub struct SecuritySettings {
    pub public_origin: Option<String>,
    pub secure_cookies: bool,
    pub idle: Duration,
}

pub const DEFAULT_IDLE_MINUTES: u64 = 30;

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            public_origin: None,
            secure_cookies: false,
            idle: Duration::from_secs(DEFAULT_IDLE_MINUTES * 60),
        }
    }
}

impl SecuritySettings {
    pub fn from_env() -> anyhow::Result<Self> {
        let public_origin = match std::env::var("RUSTCARE_PUBLIC_ORIGIN") {
            Ok(o) if !o.trim().is_empty() => Some(parse_origin(&o)?),
            _ => None,
        };
        let secure_flag = match std::env::var("RUSTCARE_SECURE_COOKIES") {
            Ok(v) => parse_flag(&v).context("RUSTCARE_SECURE_COOKIES")?,
            Err(_) => false,
        };
        let idle = match std::env::var("RUSTCARE_SESSION_IDLE_MINUTES") {
            Ok(v) => {
                let minutes: u64 = v.trim().parse().ok().filter(|m| (1..=24 * 60).contains(m)).with_context(|| {
                    format!("RUSTCARE_SESSION_IDLE_MINUTES='{v}': give whole minutes from 1 to 1440")
                })?;
                Duration::from_secs(minutes * 60)
            }
            Err(_) => Duration::from_secs(DEFAULT_IDLE_MINUTES * 60),
        };
        let secure_cookies = secure_flag
            || public_origin
                .as_deref()
                .is_some_and(|o| o.starts_with("https://"));
        Ok(Self {
            public_origin,
            secure_cookies,
            idle,
        })
    }

    /// How often a busy session's expiry is pushed back (each push is a write).
    pub fn touch_interval(&self) -> Duration {
        (self.idle / 4).min(Duration::from_secs(60))
    }
}

/// `https://host[:port]` without a path or trailing slash.
fn parse_origin(text: &str) -> anyhow::Result<String> {
    let t = text.trim().trim_end_matches('/');
    let rest = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"))
        .with_context(|| format!("RUSTCARE_PUBLIC_ORIGIN='{text}': give scheme and host, e.g. https://partitions.example.org"))?;
    if rest.is_empty() || rest.contains('/') {
        anyhow::bail!("RUSTCARE_PUBLIC_ORIGIN='{text}': give scheme and host only, without a path");
    }
    Ok(t.to_ascii_lowercase())
}

fn parse_flag(text: &str) -> anyhow::Result<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        other => anyhow::bail!("'{other}' is not a yes/no value (use 1 or 0)"),
    }
}

/// The session store: the `console_sessions` table of migration 007.
pub fn store(pool: PgPool) -> anyhow::Result<PostgresStore> {
    PostgresStore::new(pool)
        .with_schema_name("public")
        .and_then(|s| s.with_table_name("console_sessions"))
        .map_err(anyhow::Error::msg)
}

/// Sessions in PostgreSQL; the cookie is HttpOnly, SameSite=Strict, Secure when configured, and
/// expires after `idle` without requests.
pub fn session_layer(
    pool: PgPool,
    settings: &SecuritySettings,
) -> anyhow::Result<SessionManagerLayer<PostgresStore>> {
    let idle = tower_sessions::cookie::time::Duration::try_from(settings.idle)
        .context("the session idle time is too long")?;
    Ok(SessionManagerLayer::new(store(pool)?)
        .with_name(app::auth::SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_secure(settings.secure_cookies)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle)))
}

/// Deletes expired sessions (and login attempts past their keeping time) every `every`.
pub fn spawn_cleanup(pool: PgPool, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match app::auth::store::delete_expired(&pool).await {
                Ok((0, 0)) => {}
                Ok((sessions, attempts)) => {
                    tracing::info!(
                        sessions,
                        attempts,
                        "deleted expired console sessions and old login attempts"
                    )
                }
                Err(e) => {
                    tracing::warn!(error = %e, "deleting expired console sessions failed; will retry")
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_flags() {
        assert_eq!(
            parse_origin("https://X.example.org/").unwrap(),
            "https://x.example.org"
        );
        assert_eq!(
            parse_origin("http://127.0.0.1:3000").unwrap(),
            "http://127.0.0.1:3000"
        );
        assert!(parse_origin("x.example.org").is_err());
        assert!(parse_origin("https://x.example.org/console").is_err());
        assert!(parse_flag("yes").unwrap());
        assert!(!parse_flag("0").unwrap());
        assert!(parse_flag("maybe").is_err());
    }

    #[test]
    fn touch_interval_is_bounded() {
        let s = |secs| SecuritySettings {
            idle: Duration::from_secs(secs),
            ..Default::default()
        };
        assert_eq!(s(1800).touch_interval(), Duration::from_secs(60));
        assert_eq!(s(4).touch_interval(), Duration::from_secs(1));
    }
}
