//! Every server function over real HTTP: without a session 401, with too low a role 403, with a
//! forged Origin or without the CSRF token 403, and in each case nothing changed in PostgreSQL.

mod console;

use console::{Browser, Console, PASSWORD};
use partitioning::access::Role;
use reqwest::header::{COOKIE, ORIGIN, REFERER};
use reqwest::StatusCode;

/// The account-changing server functions with a valid body each (as an admin would send it).
fn account_mutations() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    vec![
        (
            "/api/account_add",
            vec![
                ("username", "mallory"),
                ("display_name", "M"),
                ("role", "admin"),
                ("password", "mallory-password-1"),
                ("confirm", "mallory-password-1"),
            ],
        ),
        (
            "/api/account_set_role",
            vec![("username", "root"), ("role", "viewer")],
        ),
        (
            "/api/account_set_disabled",
            vec![("username", "root"), ("disabled", "true")],
        ),
        (
            "/api/account_reset_password",
            vec![
                ("username", "root"),
                ("password", "new-password-123"),
                ("confirm", "new-password-123"),
            ],
        ),
    ]
}

#[tokio::test]
async fn every_server_function_refuses_a_caller_without_a_session() {
    let c = Console::start().await;
    c.add_user("root", Role::Admin).await;
    let before = c.accounts_state().await;

    // Every registered server function (other helpers' too), with an empty body: the gate answers
    // before the arguments are even read.
    let mut checked = 0;
    for (path, _method) in leptos::server_fn::axum::server_fn_paths() {
        if path.starts_with(app::auth::PUBLIC_API_PREFIX) {
            continue;
        }
        let reply = c.call(path, &[], None).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{path}: {}",
            reply.body
        );
        assert!(
            reply.body.contains("not signed in"),
            "{path}: {}",
            reply.body
        );
        checked += 1;
    }
    assert!(
        checked >= 7,
        "only {checked} server functions are registered"
    );

    // With complete, valid arguments: still 401, still nothing changed.
    for (path, form) in account_mutations() {
        let reply = c.call(path, &form, None).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{path}: {}",
            reply.body
        );
    }
    let reply = c.call("/api/table_overview", &[], None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(c.accounts_state().await, before);

    // A made-up cookie is no session either.
    let fake = Browser {
        cookie: format!("{}=AAAAAAAAAAAAAAAAAAAAAA", app::auth::SESSION_COOKIE),
        csrf: "x".into(),
    };
    let reply = c.call("/api/accounts", &[], Some(&fake)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
}

#[tokio::test]
async fn roles_without_the_capability_get_403_saying_what_is_needed() {
    let c = Console::start().await;
    c.add_user("root", Role::Admin).await;
    for (name, role) in [
        ("vera", Role::Viewer),
        ("dana", Role::Dba),
        ("carl", Role::Compliance),
    ] {
        c.add_user(name, role).await;
    }
    for name in ["vera", "dana", "carl"] {
        let b = c.sign_in(name).await;
        let before_login = c.accounts_state().await;
        let mut calls = account_mutations();
        calls.push(("/api/accounts", vec![]));
        for (path, form) in calls {
            let reply = c.call(path, &form, Some(&b)).await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{name} {path}: {}",
                reply.body
            );
            assert!(
                reply
                    .body
                    .contains("You need the admin role to manage console accounts"),
                "{name} {path}: {}",
                reply.body
            );
            assert!(
                reply.body.contains(&format!("signed in as {name}")),
                "{}",
                reply.body
            );
        }
        assert_eq!(
            c.accounts_state().await,
            before_login,
            "{name} changed accounts"
        );
        // What every role may do still works.
        let reply = c.call("/api/table_overview", &[], Some(&b)).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.body);
    }
    assert_eq!(
        c.count("SELECT count(*) FROM console_users WHERE username = 'mallory'")
            .await,
        0
    );
}

#[tokio::test]
async fn admin_functions_work_for_an_admin_with_origin_and_token() {
    let c = Console::start().await;
    c.add_user("root", Role::Admin).await;
    let b = c.sign_in("root").await;
    let (path, form) = account_mutations().remove(0);
    let reply = c.call(path, &form, Some(&b)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(
        reply
            .body
            .contains("Account mallory created with the admin role"),
        "{}",
        reply.body
    );
    let reply = c
        .call(
            "/api/account_set_role",
            &[("username", "mallory"), ("role", "viewer")],
            Some(&b),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        c.count(
            "SELECT count(*) FROM console_users WHERE username = 'mallory' AND role = 'viewer'"
        )
        .await,
        1
    );
    let reply = c.call("/api/accounts", &[], Some(&b)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.body.contains("\"mallory\"") && reply.body.contains("\"viewer\""),
        "{}",
        reply.body
    );

    // Validation: each refusal says what is accepted, and nothing is stored.
    for (form, status, says) in [
        (
            vec![
                ("username", "Bad Name"),
                ("display_name", ""),
                ("role", "viewer"),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
            StatusCode::UNPROCESSABLE_ENTITY,
            "lowercase letters",
        ),
        (
            vec![
                ("username", "newbie"),
                ("display_name", ""),
                ("role", "root"),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
            StatusCode::UNPROCESSABLE_ENTITY,
            "viewer, compliance, dba and admin",
        ),
        (
            vec![
                ("username", "newbie"),
                ("display_name", ""),
                ("role", "viewer"),
                ("password", "short"),
                ("confirm", "short"),
            ],
            StatusCode::UNPROCESSABLE_ENTITY,
            "at least 12 characters",
        ),
        (
            vec![
                ("username", "newbie"),
                ("display_name", ""),
                ("role", "viewer"),
                ("password", PASSWORD),
                ("confirm", "other password!"),
            ],
            StatusCode::UNPROCESSABLE_ENTITY,
            "differ",
        ),
        (
            vec![
                ("username", "mallory"),
                ("display_name", ""),
                ("role", "viewer"),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
            StatusCode::CONFLICT,
            "already an account named 'mallory'",
        ),
    ] {
        let reply = c.call("/api/account_add", &form, Some(&b)).await;
        assert_eq!(reply.status, status, "{form:?}: {}", reply.body);
        assert!(reply.body.contains(says), "{form:?}: {}", reply.body);
    }
    assert_eq!(
        c.count("SELECT count(*) FROM console_users WHERE username = 'newbie'")
            .await,
        0
    );

    // The last enabled admin cannot be demoted or disabled, not even by themselves.
    let reply = c
        .call(
            "/api/account_set_disabled",
            &[("username", "root"), ("disabled", "true")],
            Some(&b),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    let reply = c
        .call(
            "/api/account_set_role",
            &[("username", "root"), ("role", "dba")],
            Some(&b),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    assert_eq!(c.count("SELECT count(*) FROM console_users WHERE username = 'root' AND role = 'admin' AND NOT disabled").await, 1);
}

#[tokio::test]
async fn forged_origins_are_refused_and_change_nothing() {
    let c = Console::start().await;
    c.add_user("root", Role::Admin).await;
    let b = c.sign_in("root").await;
    let before = c.accounts_state().await;
    let (path, form) = account_mutations().remove(0);
    let url = format!("{}{path}", c.base);
    let http = reqwest::Client::new();
    let with_session = |req: reqwest::RequestBuilder| {
        req.form(&form)
            .header(COOKIE, &b.cookie)
            .header(app::auth::CSRF_HEADER, &b.csrf)
    };
    for (label, req) in [
        (
            "foreign Origin",
            with_session(http.post(&url)).header(ORIGIN, "http://evil.example"),
        ),
        (
            "foreign Referer",
            with_session(http.post(&url)).header(REFERER, "http://evil.example/page"),
        ),
        (
            "null Origin",
            with_session(http.post(&url)).header(ORIGIN, "null"),
        ),
        ("no Origin or Referer", with_session(http.post(&url))),
        (
            "look-alike host",
            with_session(http.post(&url)).header(ORIGIN, format!("{}.evil.example", c.base)),
        ),
    ] {
        let reply = Console::send(req).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{label}: {}",
            reply.body
        );
        assert!(
            reply.body.contains("Nothing was changed"),
            "{label}: {}",
            reply.body
        );
    }
    assert_eq!(c.accounts_state().await, before);

    // Login too: no attempt recorded, no session opened.
    let sessions = c.count("SELECT count(*) FROM console_sessions").await;
    let reply = Console::send(
        http.post(format!("{}/api/public/login", c.base))
            .header(ORIGIN, "http://evil.example")
            .form(&[("username", "root"), ("password", PASSWORD)]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert!(reply.session_cookie().is_none());
    assert_eq!(
        c.count("SELECT count(*) FROM console_sessions").await,
        sessions
    );

    // A same-origin Referer without Origin is accepted (some browsers omit Origin).
    let reply =
        Console::send(with_session(http.post(&url)).header(REFERER, format!("{}/users", c.base)))
            .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[tokio::test]
async fn a_missing_or_wrong_csrf_token_is_refused() {
    let c = Console::start().await;
    c.add_user("root", Role::Admin).await;
    c.add_user("dana", Role::Dba).await;
    let admin = c.sign_in("root").await;
    let dba = c.sign_in("dana").await;
    assert_ne!(admin.csrf, dba.csrf);
    let before = c.accounts_state().await;
    let (path, form) = account_mutations().remove(0);
    for (label, token) in [
        ("no token", None),
        ("wrong token", Some("not-the-token".to_string())),
        ("another session's token", Some(dba.csrf.clone())),
        ("empty token", Some(String::new())),
    ] {
        let mut req = c.post(path).form(&form).header(COOKIE, &admin.cookie);
        if let Some(t) = token {
            req = req.header(app::auth::CSRF_HEADER, t);
        }
        let reply = Console::send(req).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{label}: {}",
            reply.body
        );
        assert!(reply.body.contains("CSRF token"), "{label}: {}", reply.body);
    }
    assert_eq!(c.accounts_state().await, before);
    let reply = c.call(path, &form, Some(&admin)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}
