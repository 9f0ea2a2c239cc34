//! Plan fingerprints: the SHA-256 of a canonical text of a set of actions, so an approval binds
//! to exactly what was shown, and a plan that changed since (new partition, other bounds, other
//! row estimate, recreated table) is recognised as another plan.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::calendar::bound_literal;
use crate::planner::{Action, ActionKind};
use crate::table::ManagedTable;

/// Lower-case hex SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(pub String);

impl Fingerprint {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The fingerprint of `actions`, whatever their order. Reasons are left out (they quote `now`).
pub fn of_actions(actions: &[Action]) -> Fingerprint {
    of_actions_with_oids(actions, &[])
}

/// Same, binding each action to its table's oid where `table_oids` knows it.
pub fn of_actions_with_oids(actions: &[Action], table_oids: &[(ManagedTable, u32)]) -> Fingerprint {
    let mut lines: Vec<String> = actions
        .iter()
        .map(|a| canonical_line(a, table_oids))
        .collect();
    lines.sort();
    let mut hasher = Sha256::new();
    // A version tag: changing the canonical form must not make old fingerprints collide with new.
    hasher.update(b"rustcare-plan-v1\n");
    for line in &lines {
        hasher.update(line.as_bytes());
        hasher.update(b"\n");
    }
    Fingerprint(hex::encode(hasher.finalize()))
}

/// `table|oid|tag|partition|lower|upper|est_rows`, with `-` for what an action lacks. Fields
/// are our identifiers, numbers and bound literals, none of which holds `|`.
pub fn canonical_line(action: &Action, table_oids: &[(ManagedTable, u32)]) -> String {
    let oid = table_oids
        .iter()
        .find(|(t, _)| *t == action.table)
        .map_or("-".to_string(), |(_, o)| o.to_string());
    let (lower, upper) = match action.kind.bound() {
        Some(b) => (bound_literal(b.lower), bound_literal(b.upper)),
        None => ("-".to_string(), "-".to_string()),
    };
    let rows = match &action.kind {
        ActionKind::Detach { est_rows, .. }
        | ActionKind::Drop { est_rows, .. }
        | ActionKind::MoveDefaultRows { est_rows, .. } => est_rows.to_string(),
        _ => "-".to_string(),
    };
    format!(
        "{}|{oid}|{}|{}|{lower}|{upper}|{rows}",
        action.table,
        action.kind.tag(),
        action.kind.partition_name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{period_containing, Period};
    use chrono::NaiveDate;
    use ManagedTable::*;

    fn drop(table: ManagedTable, day: u32, rows: i64) -> Action {
        let bound = period_containing(Period::Day, NaiveDate::from_ymd_opt(2025, 7, day).unwrap());
        let name = crate::calendar::partition_name(table, &bound);
        Action {
            table,
            kind: ActionKind::Drop {
                name,
                bound,
                est_rows: rows,
                bytes: 8192,
            },
            reason: "r".into(),
        }
    }

    #[test]
    fn stable_under_reordering_and_reasons() {
        let a = [
            drop(Sessions, 1, 10),
            drop(Sessions, 2, 20),
            drop(RateLimits, 1, 5),
        ];
        let mut b = [a[2].clone(), a[0].clone(), a[1].clone()];
        b[0].reason = "another wording, another now".into();
        assert_eq!(of_actions(&a), of_actions(&b));
        assert_eq!(of_actions(&a).as_str().len(), 64);
        assert!(of_actions(&a)
            .0
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[test]
    fn changes_with_what_is_dropped() {
        let base = [drop(Sessions, 1, 10), drop(Sessions, 2, 20)];
        let fp = of_actions(&base);
        let mut later_bound = base.clone();
        if let ActionKind::Drop { bound, .. } = &mut later_bound[1].kind {
            bound.upper += chrono::Duration::seconds(1);
        }
        let mut more_rows = base.clone();
        if let ActionKind::Drop { est_rows, .. } = &mut more_rows[0].kind {
            *est_rows = 11;
        }
        let oids = [(Sessions, 16_384)];
        // (variant, why it must differ)
        let cases: [(Fingerprint, &str); 6] = [
            (of_actions(&later_bound), "a bound moved"),
            (of_actions(&more_rows), "a row estimate changed"),
            (of_actions(&base[..1]), "a partition fewer"),
            (
                of_actions(&[base[0].clone(), base[1].clone(), base[1].clone()]),
                "a duplicate",
            ),
            (
                of_actions_with_oids(&base, &oids),
                "the table's oid is bound",
            ),
            (
                of_actions(&[drop(RateLimits, 1, 10), drop(Sessions, 2, 20)]),
                "another table",
            ),
        ];
        for (other, why) in cases {
            assert_ne!(fp, other, "{why}");
        }
        assert_ne!(
            of_actions_with_oids(&base, &oids),
            of_actions_with_oids(&base, &[(Sessions, 16_385)])
        );
        assert_eq!(
            canonical_line(&base[0], &oids),
            "sessions|16384|drop|sessions_2025_07_01|'2025-07-01 00:00:00+00'|'2025-07-02 00:00:00+00'|10"
        );
    }
}
