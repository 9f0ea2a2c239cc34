use super::*;
use chrono::TimeZone;

fn t(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, h, 0, 0).unwrap()
}

fn ok(actor: &str, role: &str) -> Approval {
    Approval {
        at: t(1),
        actor: actor.into(),
        role: role.into(),
        decision: Decision::Approve,
        comment: "checked".into(),
    }
}

fn facts(needs_compliance: bool, approvals: Vec<Approval>) -> RequestFacts {
    RequestFacts {
        requested_by: "dba1".into(),
        state: RequestState::Pending,
        needs_compliance,
        expires_at: t(20),
        approvals,
    }
}

#[test]
fn transition_table() {
    use Event as E;
    use RequestState as S;
    let cases: &[(S, E, Option<S>)] = &[
        (S::Pending, E::FullyApproved, Some(S::Approved)),
        (S::Pending, E::Rejected, Some(S::Rejected)),
        (S::Pending, E::Expired, Some(S::Expired)),
        (S::Pending, E::ExecutionStarted, None),
        (S::Approved, E::ExecutionStarted, Some(S::Executing)),
        (S::Approved, E::Expired, Some(S::Expired)),
        (S::Approved, E::PlanChanged, Some(S::Invalidated)),
        (S::Approved, E::FullyApproved, None),
        (S::Executing, E::ExecutionFinished, Some(S::Executed)),
        (S::Executing, E::PlanChanged, Some(S::Invalidated)),
        (S::Executing, E::ExecutionStarted, None),
        (S::Executing, E::Expired, None),
        (S::Executed, E::ExecutionStarted, None),
        (S::Rejected, E::FullyApproved, None),
        (S::Expired, E::ExecutionStarted, None),
        (S::Invalidated, E::ExecutionStarted, None),
    ];
    for (from, ev, want) in cases {
        assert_eq!(transition(*from, *ev), *want, "{from} + {ev:?}");
    }
}

#[test]
fn states_round_trip_and_only_three_are_open() {
    for s in RequestState::ALL {
        assert_eq!(RequestState::parse(s.as_str()), Some(s));
    }
    let open: Vec<_> = RequestState::ALL
        .into_iter()
        .filter(|s| s.is_open())
        .collect();
    assert_eq!(
        open,
        [
            RequestState::Pending,
            RequestState::Approved,
            RequestState::Executing
        ]
    );
    assert_eq!(RequestState::parse("done"), None);
}

#[test]
fn decision_rules() {
    use Decision::*;
    use Role::*;
    type Want = Result<(&'static str, RequestState), DecisionError>;
    let pending = RequestState::Pending;
    let approved = RequestState::Approved;
    let cases: Vec<(&str, RequestFacts, &str, Role, Decision, Want)> = vec![
        (
            "another DBA approves a sessions cleanup",
            facts(false, vec![]),
            "dba2",
            Dba,
            Approve,
            Ok(("dba", approved)),
        ),
        (
            "the requester approves their own",
            facts(false, vec![]),
            "dba1",
            Dba,
            Approve,
            Err(DecisionError::OwnRequest),
        ),
        (
            "the requester rejects their own (also refused: it is a decision)",
            facts(false, vec![]),
            "dba1",
            Admin,
            Reject,
            Err(DecisionError::OwnRequest),
        ),
        (
            "a DBA approves an audit-log cleanup: still waits for compliance",
            facts(true, vec![]),
            "dba2",
            Dba,
            Approve,
            Ok(("dba", pending)),
        ),
        (
            "compliance co-signs after the DBA",
            facts(true, vec![ok("dba2", "dba")]),
            "compliance",
            Compliance,
            Approve,
            Ok(("compliance", approved)),
        ),
        (
            "compliance first, then waits for the DBA",
            facts(true, vec![]),
            "compliance",
            Compliance,
            Approve,
            Ok(("compliance", pending)),
        ),
        (
            "a second DBA cannot stand in for compliance",
            facts(true, vec![ok("dba2", "dba")]),
            "dba3",
            Dba,
            Approve,
            Err(DecisionError::ComplianceOfficerNeeded),
        ),
        (
            "a second DBA on a sessions request: the one slot is filled",
            facts(false, vec![ok("admin", "admin")]),
            "dba3",
            Dba,
            Approve,
            Err(DecisionError::SlotFilled("dba")),
        ),
        (
            "compliance is not a signer for sessions",
            facts(false, vec![]),
            "compliance",
            Compliance,
            Approve,
            Err(DecisionError::ComplianceNotNeeded),
        ),
        (
            "an admin fills the DBA slot first",
            facts(true, vec![]),
            "admin",
            Admin,
            Approve,
            Ok(("admin", pending)),
        ),
        (
            "an admin cannot fill the compliance slot when the DBA signed",
            facts(true, vec![ok("dba2", "dba")]),
            "admin",
            Admin,
            Approve,
            Err(DecisionError::ComplianceOfficerNeeded),
        ),
        (
            "an admin approves a sessions cleanup as its DBA",
            facts(false, vec![]),
            "admin",
            Admin,
            Approve,
            Ok(("admin", approved)),
        ),
        (
            "compliance co-signs after an admin approved as DBA",
            facts(true, vec![ok("admin", "admin")]),
            "compliance",
            Compliance,
            Approve,
            Ok(("compliance", approved)),
        ),
        (
            "an admin may still reject an audit-log request",
            facts(true, vec![ok("dba2", "dba")]),
            "admin",
            Admin,
            Reject,
            Ok(("admin", RequestState::Rejected)),
        ),
        (
            "one decision per person",
            facts(true, vec![ok("dba2", "dba")]),
            "dba2",
            Dba,
            Approve,
            Err(DecisionError::AlreadyDecided),
        ),
        (
            "a viewer cannot decide",
            facts(false, vec![]),
            "viewer",
            Viewer,
            Reject,
            Err(DecisionError::RoleCannotDecide("viewer")),
        ),
        (
            "compliance rejects after the DBA approved",
            facts(true, vec![ok("dba2", "dba")]),
            "compliance",
            Compliance,
            Reject,
            Ok(("compliance", RequestState::Rejected)),
        ),
        (
            "not pending any more",
            RequestFacts {
                state: RequestState::Approved,
                ..facts(false, vec![ok("dba2", "dba")])
            },
            "dba3",
            Dba,
            Reject,
            Err(DecisionError::NotPending(RequestState::Approved)),
        ),
    ];
    for (what, facts, actor, role, decision, want) in cases {
        let got = decide(&facts, actor, role, decision, "looked at it", t(2))
            .map(|a| (a.role, a.new_state));
        assert_eq!(got, want, "{what}");
    }
}

#[test]
fn comments_are_required_and_bounded() {
    let f = facts(false, vec![]);
    for bad in ["", "   ", &"x".repeat(MAX_COMMENT_CHARS + 1)] {
        assert_eq!(
            decide(&f, "dba2", Role::Dba, Decision::Approve, bad, t(2)),
            Err(DecisionError::BadComment)
        );
    }
    let a = decide(&f, "dba2", Role::Dba, Decision::Approve, "  ok \n", t(2)).unwrap();
    assert_eq!(a.comment, "ok");
}

#[test]
fn expiry_is_checked_at_decision_and_execution() {
    let f = facts(false, vec![]);
    assert!(matches!(
        decide(&f, "dba2", Role::Dba, Decision::Approve, "c", t(20)),
        Err(DecisionError::Expired(_))
    ));
    assert_eq!(may_start(RequestState::Approved, t(20), t(19)), Ok(()));
    assert!(matches!(
        may_start(RequestState::Approved, t(20), t(20)),
        Err(ExecuteError::Expired(_))
    ));
    assert_eq!(
        may_start(RequestState::Pending, t(20), t(1)),
        Err(ExecuteError::NotApproved(RequestState::Pending))
    );
    let config = Config {
        approval_expiry_hours: 48,
        ..Config::default()
    };
    assert_eq!(expires_at(t(0), &config), t(0) + Duration::hours(48));
    assert_eq!(
        expires_at(t(0), &Config::default()),
        t(0) + Duration::hours(24)
    );
}

#[test]
fn missing_signers_follow_the_approvals() {
    let f = facts(true, vec![]);
    assert_eq!(missing_signers(&f), [Signer::Dba, Signer::Compliance]);
    let f = facts(true, vec![ok("admin", "admin")]);
    assert_eq!(missing_signers(&f), [Signer::Compliance]);
    // An approval recorded by an admin after a DBA (allowed before admins stopped counting as
    // compliance) does not fill the compliance slot.
    let f = facts(true, vec![ok("dba2", "dba"), ok("admin", "admin")]);
    assert_eq!(missing_signers(&f), [Signer::Compliance]);
    let f = facts(true, vec![ok("admin", "admin"), ok("carol", "compliance")]);
    assert!(missing_signers(&f).is_empty());
    let f = facts(false, vec![ok("carol", "compliance")]);
    assert_eq!(missing_signers(&f), [Signer::Dba], "compliance is no DBA");
    assert!(needs_compliance(&[
        ManagedTable::Sessions,
        ManagedTable::AuthAuditLog
    ]));
    assert!(!needs_compliance(&[ManagedTable::Sessions]));
}
