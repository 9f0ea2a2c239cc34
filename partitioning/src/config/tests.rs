use super::*;
use crate::policy::{CleanupMode, Retention};
use ManagedTable::*;

const SHIPPED: &str = include_str!("../../../config/partitioning.conf");

#[test]
fn shipped_file_is_the_default() {
    assert_eq!(
        Config::parse(SHIPPED, "config/partitioning.conf"),
        Ok(Config::default())
    );
}

#[test]
fn guide_snippet_and_shell_forms_parse() {
    // (text, check)
    let guide = "# Retention periods\nAUDIT_LOG_RETENTION_YEARS=7\nSESSIONS_RETENTION_DAYS=90\n\n\
                 # Partition creation\nAUDIT_LOG_PARTITIONS_AHEAD=6\nSESSIONS_PARTITIONS_AHEAD=14\n\n\
                 # Performance settings\nWARN_PARTITION_SIZE_GB=10\nCRITICAL_PARTITION_SIZE_GB=50\n";
    assert_eq!(Config::parse(guide, "g"), Ok(Config::default()));
    type Check = fn(&Config) -> bool;
    let cases: [(&str, Check); 8] = [
        ("export SESSIONS_RETENTION_DAYS=30", |c| {
            c.policy(Sessions).retention == Retention::Days(30)
        }),
        ("SESSIONS_RETENTION_DAYS=\"30\"", |c| {
            c.policy(Sessions).retention == Retention::Days(30)
        }),
        ("SESSIONS_RETENTION_DAYS='30'   # a month", |c| {
            c.policy(Sessions).retention == Retention::Days(30)
        }),
        ("  RATE_LIMITS_CLEANUP=approval\r", |c| {
            c.policy(RateLimits).cleanup == CleanupMode::Approval
        }),
        ("SESSIONS_RETENTION_YEARS=1", |c| {
            c.policy(Sessions).retention == Retention::Years(1)
        }),
        ("AUDIT_LOG_RETENTION_DAYS=2192", |c| {
            c.policy(AuthAuditLog).retention == Retention::Days(2192)
        }),
        ("SESSIONS_DEFAULT_PARTITION=yes", |c| {
            c.policy(Sessions).default_partition
        }),
        ("APPROVAL_EXPIRY_HOURS=48\nWARN_PARTITION_COUNT=500", |c| {
            c.approval_expiry_hours == 48
        }),
    ];
    for (text, check) in cases {
        let cfg = Config::parse(text, "t").unwrap_or_else(|e| panic!("{text}: {e}"));
        assert!(check(&cfg), "{text}");
    }
}

#[test]
fn each_error_kind_names_file_line_key_and_accepted_values() {
    use ConfigErrorKind::*;
    // (text, line, key, kind, words in the message or accepted values)
    let cases = [
        (
            "SESSION_RETENTION_DAYS=90",
            1,
            "SESSION_RETENTION_DAYS",
            UnknownKey,
            "SESSIONS_RETENTION_DAYS",
        ),
        (
            "\nSESSIONS_RETENTION_DAYS=ninety",
            2,
            "SESSIONS_RETENTION_DAYS",
            BadNumber,
            "whole number from 1 to 36500",
        ),
        (
            "SESSIONS_PARTITIONS_AHEAD=1.5",
            1,
            "SESSIONS_PARTITIONS_AHEAD",
            BadNumber,
            "1 to 1000",
        ),
        (
            "SESSIONS_RETENTION_DAYS=",
            1,
            "SESSIONS_RETENTION_DAYS",
            BadNumber,
            "whole number",
        ),
        (
            "SESSIONS_RETENTION_DAYS=0",
            1,
            "SESSIONS_RETENTION_DAYS",
            OutOfRange,
            "zero or negative",
        ),
        (
            "SESSIONS_PARTITIONS_AHEAD=-3",
            1,
            "SESSIONS_PARTITIONS_AHEAD",
            OutOfRange,
            "zero or negative",
        ),
        (
            "WARN_PARTITION_SIZE_GB=0",
            1,
            "WARN_PARTITION_SIZE_GB",
            OutOfRange,
            "1 to 1000000",
        ),
        (
            "SESSIONS_RETENTION_YEARS=101",
            1,
            "SESSIONS_RETENTION_YEARS",
            OutOfRange,
            "1 to 100",
        ),
        (
            "AUDIT_LOG_CLEANUP=manual",
            1,
            "AUDIT_LOG_CLEANUP",
            BadValue,
            "auto, approval",
        ),
        (
            "SESSIONS_DEFAULT_PARTITION=true",
            1,
            "SESSIONS_DEFAULT_PARTITION",
            BadValue,
            "yes, no",
        ),
        (
            "SESSIONS_CLEANUP=auto\nSESSIONS_CLEANUP=auto",
            2,
            "SESSIONS_CLEANUP",
            Duplicate,
            "first on line 1",
        ),
        (
            "SESSIONS_RETENTION_DAYS=90\nSESSIONS_RETENTION_YEARS=1",
            2,
            "SESSIONS_RETENTION_YEARS",
            Conflict,
            "not both",
        ),
        (
            "WARN_PARTITION_COUNT=600",
            1,
            "WARN_PARTITION_COUNT",
            Conflict,
            "above the critical one 500",
        ),
        (
            "AUDIT_LOG_RETENTION_YEARS=5",
            1,
            "AUDIT_LOG_RETENTION_YEARS",
            AuditRetentionTooShort,
            "HIPAA floor of 6 years",
        ),
        (
            "AUDIT_LOG_RETENTION_YEARS=0",
            1,
            "AUDIT_LOG_RETENTION_YEARS",
            AuditRetentionTooShort,
            "6 to 100 years",
        ),
        (
            "AUDIT_LOG_RETENTION_DAYS=2191",
            1,
            "AUDIT_LOG_RETENTION_DAYS",
            AuditRetentionTooShort,
            "2192 days",
        ),
        (
            "SESSIONS_RETENTION_DAYS = 90",
            1,
            "SESSIONS_RETENTION_DAYS",
            Syntax,
            "no spaces around",
        ),
        (
            "SESSIONS_RETENTION_DAYS= 90",
            1,
            "SESSIONS_RETENTION_DAYS",
            Syntax,
            "space after",
        ),
        (
            "SESSIONS_RETENTION_DAYS",
            1,
            "SESSIONS_RETENTION_DAYS",
            Syntax,
            "expected KEY=VALUE",
        ),
        (
            "SESSIONS_CLEANUP=auto approval",
            1,
            "SESSIONS_CLEANUP",
            Syntax,
            "unexpected text",
        ),
        (
            "SESSIONS_CLEANUP=\"auto",
            1,
            "SESSIONS_CLEANUP",
            Syntax,
            "unterminated",
        ),
        (
            "SESSIONS_CLEANUP=\"auto\"#x",
            1,
            "SESSIONS_CLEANUP",
            Syntax,
            "unexpected text",
        ),
        (
            "SESSIONS_CLEANUP=$MODE",
            1,
            "SESSIONS_CLEANUP",
            Syntax,
            "special character",
        ),
    ];
    for (text, line, key, kind, words) in cases {
        let err = Config::parse(text, "conf/p.conf").expect_err(text);
        assert_eq!(err.errors.len(), 1, "{text}: {err}");
        let e = &err.errors[0];
        assert_eq!(
            (e.line, e.key.as_str(), e.kind),
            (line, key, kind),
            "{text}: {e}"
        );
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!("conf/p.conf:{line}: {key}: ")),
            "{shown}"
        );
        assert!(shown.contains(words), "{text}: {shown}");
        assert!(shown.contains("(accepted: "), "{shown}");
    }
}

#[test]
fn all_errors_are_collected() {
    let text = "FOO=1\nSESSIONS_RETENTION_DAYS=x\n# fine\nAUDIT_LOG_RETENTION_YEARS=3\nRATE_LIMITS_CLEANUP=never\n";
    let err = Config::parse(text, "p.conf").unwrap_err();
    let lines: Vec<usize> = err.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [1, 2, 4, 5]);
    let shown = err.to_string();
    assert!(
        shown.starts_with("4 errors in the partitioning config; nothing was run"),
        "{shown}"
    );
    assert_eq!(shown.lines().count(), 5);
}

#[test]
fn policy_falls_back_to_the_default_for_a_hand_built_config() {
    let cfg = Config {
        policies: vec![],
        ..Config::default()
    };
    for t in ManagedTable::ALL {
        assert_eq!(*cfg.policy(t), crate::policy::Policy::default_for(t));
    }
    assert_eq!(known_keys().len(), 27);
}

/// bash must read every line we accept the same way (scripts `source` the file). Skipped where
/// bash is missing.
#[test]
fn bash_reads_what_we_read() {
    use std::process::Command;
    let lines = [
        "SESSIONS_CLEANUP=auto",
        "export SESSIONS_CLEANUP=auto",
        "SESSIONS_CLEANUP=\"auto\"",
        "SESSIONS_CLEANUP='auto'   # comment",
        "SESSIONS_CLEANUP=auto#x",
        "  SESSIONS_CLEANUP=auto\t# tabbed comment",
        "SESSIONS_CLEANUP=",
    ];
    for line in lines {
        let ours = super::split_line(line).unwrap().unwrap();
        let script = format!("set -eu\n{line}\nprintf '%s' \"$SESSIONS_CLEANUP\"");
        let Ok(out) = Command::new("bash").args(["-c", &script]).output() else {
            eprintln!("bash not installed: skipped");
            return;
        };
        assert!(
            out.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), ours.1, "{line}");
    }
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/partitioning.conf");
    let keys = known_keys();
    let script = format!(
        "set -eu\nsource {file}\nfor k in {}; do printf '%s=%s\\n' \"$k\" \"${{!k-}}\"; done",
        keys.join(" ")
    );
    let out = Command::new("bash").args(["-c", &script]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // Each table sets one of YEARS/DAYS; bash prints the other as empty, which we must skip.
    let set: String = text
        .lines()
        .filter(|l| !l.ends_with('='))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(Config::parse(&set, "bash"), Ok(Config::default()));
}
