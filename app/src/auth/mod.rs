//! Console accounts and sessions: who is signed in, what their role lets them do, and the server
//! functions to log in, log out and manage accounts. The rules themselves (roles, capabilities,
//! account names) live in `partitioning::access`; this module applies them to requests.
//!
//! How a request is checked (all on the server):
//! 1. the server's middleware (`server/src/security.rs`) refuses a foreign `Origin`, loads the
//!    session's account into a [`server::CurrentUser`] request extension, answers 401 to any
//!    `/api/*` call without one (except under [`PUBLIC_API_PREFIX`]) and 403 to a call without the
//!    session's CSRF token in [`CSRF_HEADER`];
//! 2. every server function then calls [`server::require`] with the capability it needs.

pub mod api;
pub mod client;
#[cfg(feature = "ssr")]
pub mod password;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod store;
pub mod ui;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use client::CsrfClient;
pub use partitioning::access::{Capability, Role};

/// The header carrying the session's CSRF token on every server-function call.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The `<meta name=…>` the page carries the token in, for [`CsrfClient`] to read.
pub const CSRF_META: &str = "csrf-token";
/// Server functions under this prefix answer without a session (login, "who am I"); they still
/// get the Origin check, and must authenticate by other means if they reveal anything.
pub const PUBLIC_API_PREFIX: &str = "/api/public/";
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "rustcare_console";

/// Who is signed in, as the page needs to know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub username: String,
    pub display_name: String,
    pub role: Role,
}

impl SessionView {
    pub fn can(&self, cap: Capability) -> bool {
        self.role.can(cap)
    }

    /// The display name, or the username when there is none.
    pub fn label(&self) -> &str {
        if self.display_name.is_empty() {
            &self.username
        } else {
            &self.display_name
        }
    }
}

/// One console account, as the users page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRow {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    /// Set while too many failed logins keep the account locked.
    pub locked_until: Option<DateTime<Utc>>,
}

/// Where to go after logging in: only a path on this site, never another origin (an open
/// redirect would let a link send a fresh session to a look-alike site).
pub fn safe_next(next: Option<&str>) -> String {
    match next.map(str::trim) {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => {
            if p.starts_with("/login") {
                "/".to_string()
            } else {
                p.to_string()
            }
        }
        _ => "/".to_string(),
    }
}

/// Keeps `A-Z a-z 0-9 - . _ ~ /` and escapes the rest, so a path travels as one query value
/// (`/login?next=…`).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{percent_encode, safe_next};

    #[test]
    fn paths_are_percent_encoded() {
        assert_eq!(
            percent_encode("/tables/x?sort=size&a=b c"),
            "/tables/x%3Fsort%3Dsize%26a%3Db%20c"
        );
        assert_eq!(percent_encode("/é"), "/%C3%A9");
    }

    #[test]
    fn next_is_a_local_path() {
        for (given, want) in [
            (None, "/"),
            (Some(""), "/"),
            (Some("/users"), "/users"),
            (
                Some("/tables/sessions?sort=size"),
                "/tables/sessions?sort=size",
            ),
            (Some("//evil.example/x"), "/"),
            (Some("https://evil.example/"), "/"),
            (Some("/\\evil.example"), "/"),
            (Some("/login?next=/users"), "/"),
            (Some("javascript:alert(1)"), "/"),
        ] {
            assert_eq!(safe_next(given), want, "{given:?}");
        }
    }
}
