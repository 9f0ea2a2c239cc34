//! A request's history as the request page shows it: each state change the audit trail recorded
//! for `request:<id>` (filed, each decision with its comment, expired, invalidated, execution
//! started or resumed, executed or left incomplete), in words, oldest first. Pure: `pg::approvals`
//! reads the rows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The audit actions that move or describe a request (all with subject `request:<id>`).
pub const REQUEST_ACTIONS: [&str; 6] = [
    "cleanup_requested",
    "cleanup_approved",
    "cleanup_rejected",
    "cleanup_expired",
    "cleanup_invalidated",
    "cleanup_executed",
];

/// One line of a request's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The audit-trail row it comes from.
    pub audit_id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// `filed`, `approved`, `rejected`, `expired`, `invalidated`, `execution started`,
    /// `execution resumed`, `execution incomplete`, `executed`.
    pub event: String,
    /// Badge tone: `ok`, `warn`, `crit` or `neutral` (shown with the word, never alone).
    pub tone: String,
    /// The comment, reason or outcome, in words (may be empty).
    pub detail: String,
}

fn text<'a>(detail: &'a Value, key: &str) -> &'a str {
    detail.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn plural(n: u64, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// The history line for one audit row, or `None` for an action that is not a request event.
pub fn entry(
    audit_id: i64,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    detail: &Value,
) -> Option<HistoryEntry> {
    let partitions = detail
        .get("partitions")
        .and_then(Value::as_array)
        .map_or(0, |p| p.len() as u64);
    let (event, tone, words) = match action {
        "cleanup_requested" => {
            let by = match text(detail, "filed_by") {
                "" => String::new(),
                f => format!(" by {f}"),
            };
            (
                "filed",
                "neutral",
                format!("filed{by} for {}", plural(partitions, "partition")),
            )
        }
        "cleanup_approved" | "cleanup_rejected" => {
            let word = if action == "cleanup_approved" {
                "approved"
            } else {
                "rejected"
            };
            let tone = if word == "approved" { "ok" } else { "crit" };
            let state = match text(detail, "state") {
                "" => String::new(),
                "pending" => "; the request still waits for another signer".to_string(),
                s => format!("; the request is now {s}"),
            };
            (
                word,
                tone,
                format!(
                    "as {}: \u{201c}{}\u{201d}{state}",
                    text(detail, "role"),
                    text(detail, "comment")
                ),
            )
        }
        "cleanup_expired" => ("expired", "neutral", text(detail, "reason").to_string()),
        "cleanup_invalidated" => ("invalidated", "crit", text(detail, "why").to_string()),
        "cleanup_executed" => match text(detail, "phase") {
            "started" => ("execution started", "warn", String::new()),
            "resumed" => (
                "execution resumed",
                "warn",
                "an interrupted run was taken up again".to_string(),
            ),
            "incomplete" => (
                "execution incomplete",
                "crit",
                text(detail, "summary").to_string(),
            ),
            _ => {
                let dropped = detail.get("dropped").and_then(Value::as_u64).unwrap_or(0);
                let steps = detail.get("steps").and_then(Value::as_u64).unwrap_or(0);
                (
                    "executed",
                    "ok",
                    format!(
                        "{} dropped, {} done",
                        plural(dropped, "partition"),
                        plural(steps, "step")
                    ),
                )
            }
        },
        _ => return None,
    };
    Some(HistoryEntry {
        audit_id,
        at,
        actor: actor.to_string(),
        event: event.to_string(),
        tone: tone.to_string(),
        detail: words,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(action: &str, detail: Value) -> (String, String, String) {
        let e = entry(1, Utc::now(), "dba2", action, &detail).expect("a request event");
        (e.event, e.tone, e.detail)
    }

    #[test]
    fn each_request_event_reads_as_words() {
        let w = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        assert_eq!(
            one("cleanup_requested", json!({"partitions": ["a", "b"]})),
            w("filed", "neutral", "filed for 2 partitions")
        );
        assert_eq!(
            one(
                "cleanup_requested",
                json!({"partitions": ["a"], "filed_by": "drop_old_partitions()"})
            ),
            w(
                "filed",
                "neutral",
                "filed by drop_old_partitions() for 1 partition"
            )
        );
        assert_eq!(
            one(
                "cleanup_rejected",
                json!({"role": "dba", "comment": "too early", "state": "rejected"})
            ),
            w(
                "rejected",
                "crit",
                "as dba: \u{201c}too early\u{201d}; the request is now rejected"
            )
        );
        assert_eq!(
            one(
                "cleanup_approved",
                json!({"role": "dba", "comment": "ok", "state": "pending"})
            ),
            w(
                "approved",
                "ok",
                "as dba: \u{201c}ok\u{201d}; the request still waits for another signer"
            )
        );
        assert_eq!(
            one("cleanup_executed", json!({"phase": "started"})).0,
            "execution started"
        );
        assert_eq!(
            one(
                "cleanup_executed",
                json!({"phase": "finished", "dropped": 1, "steps": 2})
            ),
            w("executed", "ok", "1 partition dropped, 2 steps done")
        );
        assert_eq!(
            one("cleanup_invalidated", json!({"why": "the plan changed"})),
            w("invalidated", "crit", "the plan changed")
        );
        assert!(entry(1, Utc::now(), "x", "login", &json!({})).is_none());
    }
}
