//! The two-person rule over real HTTP, as an attacker would try it: the requester approving their
//! own request (even naming someone else in the form), a viewer deciding, a decision from a foreign
//! Origin; then the legitimate path (DBA requests, another DBA approves, compliance co-signs, the
//! run drops the partition) and the audit rows every step leaves.

mod console;

use std::time::Duration;

use console::{Browser, Console};
use partitioning::access::Role;
use reqwest::header::{COOKIE, ORIGIN};
use reqwest::StatusCode;

async fn old_audit_partition(c: &Console) -> String {
    sqlx::query_scalar(
        "SELECT create_audit_log_partition(((now() AT TIME ZONE 'UTC') - interval '98 months')::date)",
    )
    .fetch_one(&c.db.pool)
    .await
    .unwrap()
}

async fn exists(c: &Console, name: &str) -> bool {
    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(name)
        .fetch_one(&c.db.pool)
        .await
        .unwrap()
}

async fn decisions(c: &Console) -> i64 {
    c.count("SELECT count(*) FROM cleanup_approvals").await
}

async fn file(c: &Console, who: &Browser) -> i64 {
    let reply = c.call("/api/request_file", &[], Some(who)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let v: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    v["id"].as_i64().expect("an id")
}

async fn decide(c: &Console, who: &Browser, id: i64, decision: &str) -> console::Reply {
    let id = id.to_string();
    c.call(
        "/api/request_decide",
        &[
            ("id", id.as_str()),
            ("decision", decision),
            ("comment", "checked"),
        ],
        Some(who),
    )
    .await
}

async fn setup() -> (Console, Browser, Browser, Browser, String) {
    let c = Console::start().await;
    c.add_user("dba1", Role::Dba).await;
    c.add_user("dba2", Role::Dba).await;
    c.add_user("carol", Role::Compliance).await;
    let part = old_audit_partition(&c).await;
    let dba1 = c.sign_in("dba1").await;
    let dba2 = c.sign_in("dba2").await;
    let carol = c.sign_in("carol").await;
    (c, dba1, dba2, carol, part)
}

#[tokio::test]
async fn the_requester_cannot_approve_over_http_whatever_the_form_says() {
    let (c, dba1, _dba2, _carol, part) = setup().await;
    let id = file(&c, &dba1).await;
    let reply = decide(&c, &dba1, id, "approve").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert!(reply.body.contains("two-person rule"), "{}", reply.body);
    // Naming another actor or role in the form changes nothing: the server uses the session.
    let forged = c
        .call(
            "/api/request_decide",
            &[
                ("id", id.to_string().as_str()),
                ("decision", "approve"),
                ("comment", "x"),
                ("actor", "dba2"),
                ("role", "compliance"),
            ],
            Some(&dba1),
        )
        .await;
    assert_ne!(forged.status, StatusCode::OK, "{}", forged.body);
    c.add_user("viewer", Role::Viewer).await;
    let viewer = c.sign_in("viewer").await;
    let reply = decide(&c, &viewer, id, "reject").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    let reply = c.call("/api/request_file", &[], Some(&viewer)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert_eq!(decisions(&c).await, 0);
    let state: String = sqlx::query_scalar("SELECT state FROM cleanup_requests WHERE id = $1")
        .bind(id)
        .fetch_one(&c.db.pool)
        .await
        .unwrap();
    assert_eq!(state, "pending");
    // Execution of a pending request is refused too, and nothing is dropped.
    let reply = c
        .call(
            "/api/request_execute",
            &[("id", id.to_string().as_str())],
            Some(&dba1),
        )
        .await;
    let job: String = serde_json::from_str(&reply.body).unwrap_or_default();
    if !job.is_empty() {
        let _ = wait_job(&c, &dba1, &job).await;
    }
    assert!(exists(&c, &part).await);
}

#[tokio::test]
async fn a_decision_from_a_foreign_origin_is_refused() {
    let (c, dba1, dba2, _carol, _part) = setup().await;
    let id = file(&c, &dba1).await;
    // A client of its own: `Console::post` already sends the console's Origin.
    let req = reqwest::Client::new()
        .post(format!("{}/api/request_decide", c.base))
        .form(&[
            ("id", id.to_string().as_str()),
            ("decision", "approve"),
            ("comment", "ok"),
        ])
        .header(COOKIE, &dba2.cookie)
        .header(app::auth::CSRF_HEADER, &dba2.csrf)
        .header(ORIGIN, "http://evil.example");
    let reply = Console::send(req).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert_eq!(decisions(&c).await, 0);
    // Without the CSRF token, same origin: refused as well.
    let req = c
        .post("/api/request_decide")
        .form(&[
            ("id", id.to_string().as_str()),
            ("decision", "approve"),
            ("comment", "ok"),
        ])
        .header(COOKIE, &dba2.cookie);
    assert_eq!(Console::send(req).await.status, StatusCode::FORBIDDEN);
    assert_eq!(decisions(&c).await, 0);
}

async fn wait_job(c: &Console, who: &Browser, job: &str) -> serde_json::Value {
    for _ in 0..100 {
        let reply = c.call("/api/request_job", &[("job", job)], Some(who)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let v: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        if v["finished"].as_bool() == Some(true) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the execution job did not finish");
}

#[tokio::test]
async fn request_approve_cosign_execute_over_http_and_every_step_is_audited() {
    let (c, dba1, dba2, carol, part) = setup().await;
    let id = file(&c, &dba1).await;
    let reply = decide(&c, &dba2, id, "approve").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.body.contains("pending"), "{}", reply.body);
    let reply = decide(&c, &carol, id, "approve").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.body.contains("approved"), "{}", reply.body);
    let reply = c
        .call(
            "/api/request_execute",
            &[("id", id.to_string().as_str())],
            Some(&dba2),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let job: String = serde_json::from_str(&reply.body).unwrap();
    let v = wait_job(&c, &dba2, &job).await;
    assert!(v["error"].is_null(), "{v}");
    assert!(!exists(&c, &part).await, "{part} must be dropped");
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_trail ORDER BY id")
        .fetch_all(&c.db.pool)
        .await
        .unwrap();
    for want in [
        "login",
        "cleanup_requested",
        "cleanup_approved",
        "cleanup_executed",
    ] {
        assert!(
            actions.iter().any(|a| a == want),
            "{want} missing: {actions:?}"
        );
    }
    let dropped_for: i64 = c
        .count(&format!(
            "SELECT count(*) FROM partition_action_log WHERE request_id = {id} AND action = 'drop' AND outcome = 'ok'"
        ))
        .await;
    assert_eq!(dropped_for, 1);
    // The request page's history: every state change, oldest first, from the audit trail.
    let page = c
        .call(
            "/api/request",
            &[("id", id.to_string().as_str())],
            Some(&carol),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let v: serde_json::Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(v["request"]["state"], "executed");
    let history = v["history"].as_array().expect("a history");
    let seen: Vec<(&str, &str)> = history
        .iter()
        .map(|e| (e["event"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("filed", "dba1"),
            ("approved", "dba2"),
            ("approved", "carol"),
            ("execution started", "dba2"),
            ("executed", "dba2"),
        ]
    );
    assert!(history[2]["detail"]
        .as_str()
        .is_some_and(|d| d.contains("as compliance") && d.contains("checked")));
    assert_eq!(history[4]["detail"], "1 partition dropped, 2 steps done");
    // The page itself, as the server renders it: the past tense, and the five history lines.
    let html = Console::send(
        c.get(&format!("/requests/{id}"))
            .header(COOKIE, &carol.cookie),
    )
    .await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(
        html.body.contains(">Dropped<") && !html.body.contains("Will drop"),
        "{}",
        html.body
    );
    assert_eq!(
        html.body.matches("data-testid=\"history-entry\"").count(),
        5
    );
    assert!(partitioning::pg::audit::verify(&c.db.pool)
        .await
        .unwrap()
        .ok());
}

#[tokio::test]
async fn failed_logins_and_logouts_are_in_the_trail() {
    let c = Console::start().await;
    c.add_user("dba1", Role::Dba).await;
    let bad = c.login("dba1", "not the password").await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    let who = c.sign_in("dba1").await;
    let out = c.call("/api/logout", &[], Some(&who)).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT action, actor FROM audit_trail ORDER BY id")
            .fetch_all(&c.db.pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        [
            ("login_failed".into(), "dba1".into()),
            ("login".into(), "dba1".into()),
            ("logout".into(), "dba1".into())
        ]
    );
}

/// An admin counts as a DBA, never as the compliance officer an audit-log drop needs: after a
/// DBA approved, an admin's approval is refused over HTTP, the request stays pending, and the
/// request page says which approval is still needed, in those words.
#[tokio::test]
async fn an_admin_cannot_fill_the_compliance_slot() {
    let (c, dba1, dba2, _carol, part) = setup().await;
    c.add_user("root", Role::Admin).await;
    let root = c.sign_in("root").await;
    let id = file(&c, &dba1).await;
    let reply = decide(&c, &dba2, id, "approve").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = decide(&c, &root, id, "approve").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert!(
        reply
            .body
            .contains("compliance officer's approval (role compliance)"),
        "{}",
        reply.body
    );
    assert_eq!(
        decisions(&c).await,
        1,
        "the admin's approval is not recorded"
    );
    let page = c
        .call(
            "/api/request",
            &[("id", id.to_string().as_str())],
            Some(&root),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let v: serde_json::Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(v["request"]["state"], "pending");
    assert_eq!(
        v["missing"],
        serde_json::json!(["a compliance officer's approval (role compliance)"])
    );
    assert!(
        v["decide_blocked"]
            .as_str()
            .is_some_and(|b| b.contains("which an admin cannot give")),
        "{v}"
    );
    assert!(exists(&c, &part).await);
}

/// A rejection with a comment ends the request: state `rejected`, a `cleanup_rejected` audit row
/// with the comment, execution refused in words (over HTTP and in the library), nothing dropped.
#[tokio::test]
async fn a_rejected_request_never_runs() {
    let (c, dba1, dba2, _carol, part) = setup().await;
    let id = file(&c, &dba1).await;
    let reply = c
        .call(
            "/api/request_decide",
            &[
                ("id", id.to_string().as_str()),
                ("decision", "reject"),
                ("comment", "auditors asked to keep 2018 until March"),
            ],
            Some(&dba2),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.body.contains("rejected"), "{}", reply.body);
    let (state, rows): (String, i64) = sqlx::query_as(
        "SELECT state, (SELECT count(*) FROM audit_trail WHERE action = 'cleanup_rejected' \
           AND subject = 'request:' || r.id AND actor = 'dba2' \
           AND detail->>'comment' = 'auditors asked to keep 2018 until March') \
         FROM cleanup_requests r WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&c.db.pool)
    .await
    .unwrap();
    assert_eq!((state.as_str(), rows), ("rejected", 1));

    let reply = c
        .call(
            "/api/request_execute",
            &[("id", id.to_string().as_str())],
            Some(&dba2),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    assert!(
        reply.body.contains("cannot be executed: it is rejected")
            && reply.body.contains("nothing was dropped"),
        "{}",
        reply.body
    );
    // The library refuses too, whoever calls it (the CLI's path).
    let config = partitioning::config::Config::default();
    let refused =
        partitioning::pg::approvals::execute(&c.db.pool, &config, id, "dba2", &|_| {}).await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("rejected, not approved")),
        "{refused:?}"
    );
    assert!(exists(&c, &part).await, "{part} must still exist");
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) FROM partition_action_log WHERE request_id = {id}"
        ))
        .await,
        0
    );
    let state: String = sqlx::query_scalar("SELECT state FROM cleanup_requests WHERE id = $1")
        .bind(id)
        .fetch_one(&c.db.pool)
        .await
        .unwrap();
    assert_eq!(state, "rejected");
}
