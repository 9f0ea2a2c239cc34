//! Who may do what in the console: the four roles, the capabilities they grant, and the rules for
//! account names and passwords. Pure: the server enforces these, the browser only uses them to hide
//! what a person cannot use.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A console account's role. Roles are not a ladder: a compliance officer signs reports but runs no
/// maintenance, a DBA runs maintenance but signs no reports. `admin` can do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Compliance,
    Dba,
    Admin,
}

/// Something a request may want to do. Every server function names the one it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Read partitions, health, charts, plans: every role.
    View,
    /// Create partitions and run other non-destructive maintenance.
    RunMaintenance,
    /// Ask for a destructive cleanup (it then waits for approvals).
    RequestCleanup,
    /// Approve someone else's cleanup request as the DBA.
    ApproveCleanup,
    /// Approve the disposal of audit-log partitions as the compliance officer, generate and sign
    /// compliance reports.
    Compliance,
    /// Create and revoke read-only wall-display links.
    ManageWallLinks,
    /// Add accounts, change roles, disable accounts, reset passwords.
    ManageUsers,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Compliance, Role::Dba, Role::Admin];

    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Compliance => "compliance",
            Role::Dba => "dba",
            Role::Admin => "admin",
        }
    }

    /// What the role is for, in a few words (shown next to role pickers).
    pub fn summary(self) -> &'static str {
        match self {
            Role::Viewer => "read-only",
            Role::Compliance => "compliance reports and audit-disposal approvals",
            Role::Dba => "partition maintenance and cleanup requests",
            Role::Admin => "everything, including accounts",
        }
    }

    /// The capability table: the one place that decides.
    pub fn can(self, cap: Capability) -> bool {
        use Capability::*;
        match self {
            Role::Admin => true,
            Role::Dba => matches!(
                cap,
                View | RunMaintenance | RequestCleanup | ApproveCleanup | ManageWallLinks
            ),
            Role::Compliance => matches!(cap, View | Compliance),
            Role::Viewer => matches!(cap, View),
        }
    }

    pub fn parse(text: &str) -> Result<Role, UnknownRole> {
        let t = text.trim().to_ascii_lowercase();
        Role::ALL
            .into_iter()
            .find(|r| r.name() == t)
            .ok_or_else(|| UnknownRole(text.to_string()))
    }
}

impl Capability {
    pub const ALL: [Capability; 7] = [
        Capability::View,
        Capability::RunMaintenance,
        Capability::RequestCleanup,
        Capability::ApproveCleanup,
        Capability::Compliance,
        Capability::ManageWallLinks,
        Capability::ManageUsers,
    ];

    /// What the capability lets a person do, to finish "you need a role that can …".
    pub fn describe(self) -> &'static str {
        match self {
            Capability::View => "view the console",
            Capability::RunMaintenance => "run partition maintenance",
            Capability::RequestCleanup => "request partition cleanups",
            Capability::ApproveCleanup => "approve partition cleanups",
            Capability::Compliance => "handle compliance reports and audit-log disposal",
            Capability::ManageWallLinks => "manage wall-display links",
            Capability::ManageUsers => "manage console accounts",
        }
    }

    /// The roles granting it, in `Role::ALL` order.
    pub fn roles(self) -> Vec<Role> {
        Role::ALL.into_iter().filter(|r| r.can(self)).collect()
    }

    /// "You need the dba or admin role to run partition maintenance."
    pub fn requirement(self) -> String {
        let names: Vec<&str> = self.roles().into_iter().map(Role::name).collect();
        let roles = match names.as_slice() {
            [one] => format!("the {one} role"),
            [init @ .., last] => format!("the {} or {last} role", init.join(", ")),
            [] => "a role that does not exist".to_string(),
        };
        format!("You need {roles} to {}.", self.describe())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::parse(s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role '{0}': the roles are viewer, compliance, dba and admin")]
pub struct UnknownRole(pub String);

/// A console account name: 3–64 characters of `a-z 0-9 . _ -`. Parsed, so no unchecked name
/// reaches SQL or a log line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(text: &str) -> Result<Username, InvalidAccount> {
        let t = text.trim();
        let len = t.chars().count();
        if !(3..=64).contains(&len) {
            return Err(InvalidAccount(format!(
                "a username has 3 to 64 characters ('{t}' has {len})"
            )));
        }
        if let Some(bad) = t
            .chars()
            .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-'))
        {
            return Err(InvalidAccount(format!(
                "a username uses only lowercase letters, digits, '.', '_' and '-' ('{bad}' is not allowed)"
            )));
        }
        Ok(Username(t.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Username {
    type Error = InvalidAccount;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Username::parse(&s)
    }
}

impl From<Username> for String {
    fn from(u: Username) -> String {
        u.0
    }
}

/// Why an account field was refused; the text says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidAccount(pub String);

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 256;
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;

/// Length rules only (NIST SP 800-63B: length over composition rules).
pub fn check_password(password: &str) -> Result<(), InvalidAccount> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_CHARS {
        return Err(InvalidAccount(format!(
            "a password has at least {MIN_PASSWORD_CHARS} characters (this one has {len})"
        )));
    }
    if len > MAX_PASSWORD_CHARS {
        return Err(InvalidAccount(format!(
            "a password has at most {MAX_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

/// A display name: trimmed, at most 100 characters, no control characters.
pub fn parse_display_name(text: &str) -> Result<String, InvalidAccount> {
    let t = text.trim();
    if t.chars().count() > MAX_DISPLAY_NAME_CHARS {
        return Err(InvalidAccount(format!(
            "a display name has at most {MAX_DISPLAY_NAME_CHARS} characters"
        )));
    }
    if t.chars().any(char::is_control) {
        return Err(InvalidAccount(
            "a display name has no control characters".into(),
        ));
    }
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::Capability::*;
    use super::*;

    #[test]
    fn capability_table() {
        // (capability, [viewer, compliance, dba, admin])
        let table = [
            (View, [true, true, true, true]),
            (RunMaintenance, [false, false, true, true]),
            (RequestCleanup, [false, false, true, true]),
            (ApproveCleanup, [false, false, true, true]),
            (Compliance, [false, true, false, true]),
            (ManageWallLinks, [false, false, true, true]),
            (ManageUsers, [false, false, false, true]),
        ];
        assert_eq!(table.len(), Capability::ALL.len());
        for (cap, want) in table {
            for (role, allowed) in Role::ALL.into_iter().zip(want) {
                assert_eq!(role.can(cap), allowed, "{role} / {cap:?}");
            }
        }
    }

    #[test]
    fn requirement_names_the_roles() {
        assert_eq!(
            ManageUsers.requirement(),
            "You need the admin role to manage console accounts."
        );
        assert_eq!(
            RunMaintenance.requirement(),
            "You need the dba or admin role to run partition maintenance."
        );
        assert_eq!(
            View.requirement(),
            "You need the viewer, compliance, dba or admin role to view the console."
        );
    }

    #[test]
    fn roles_parse_and_print() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.name()), Ok(role));
            assert_eq!(role.to_string().parse::<Role>(), Ok(role));
        }
        assert_eq!(Role::parse(" DBA "), Ok(Role::Dba));
        let err = Role::parse("root").unwrap_err().to_string();
        assert!(err.contains("viewer, compliance, dba and admin"), "{err}");
        assert_eq!(serde_json::to_string(&Role::Dba).unwrap(), "\"dba\"");
    }

    #[test]
    fn usernames() {
        for ok in ["abc", "dba1", "jane.doe", "a_b-c", &"x".repeat(64)] {
            assert_eq!(Username::parse(ok).map(|u| u.0), Ok(ok.to_string()), "{ok}");
        }
        for (bad, why) in [
            ("ab", "3 to 64"),
            (&"x".repeat(65), "3 to 64"),
            ("Admin", "'A' is not allowed"),
            ("a b c", "' ' is not allowed"),
            ("jane@x", "'@' is not allowed"),
            ("élise", "'é' is not allowed"),
        ] {
            let err = Username::parse(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert!(serde_json::from_str::<Username>("\"NO\"").is_err());
    }

    #[test]
    fn passwords_and_display_names() {
        assert!(check_password("short").is_err());
        assert!(check_password(&"x".repeat(11)).is_err());
        assert!(check_password(&"x".repeat(12)).is_ok());
        assert!(check_password(&"x".repeat(257)).is_err());
        assert_eq!(
            parse_display_name("  Jane Doe "),
            Ok("Jane Doe".to_string())
        );
        assert!(parse_display_name(&"x".repeat(101)).is_err());
        assert!(parse_display_name("a\u{7}b").is_err());
    }
}
