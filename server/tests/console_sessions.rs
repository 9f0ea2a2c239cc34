//! Logins and sessions over real HTTP: argon2id hashes, sessions stored in PostgreSQL with a
//! strict cookie, a new id at login, logout, idle expiry, disabled accounts, throttling, and the
//! redirect of every page to /login.

mod console;

use std::time::Duration;

use console::{Browser, Console, PASSWORD};
use partitioning::access::Role;
use reqwest::header::{COOKIE, LOCATION};
use reqwest::StatusCode;
use server::SecuritySettings;

#[tokio::test]
async fn passwords_are_stored_as_argon2id_only() {
    let c = Console::start().await;
    c.add_user("root", Role::Admin).await;
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM console_users WHERE username = 'root'")
            .fetch_one(&c.db.pool)
            .await
            .unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(PASSWORD));
    // The schema itself refuses anything else.
    let plain = sqlx::query("INSERT INTO console_users (username, role, password_hash) VALUES ('p', 'viewer', 'secret')")
        .execute(&c.db.pool)
        .await;
    assert!(plain.is_err());
}

#[tokio::test]
async fn a_session_lives_in_postgresql_and_logout_ends_it() {
    let c = Console::start().await;
    c.add_user("root", Role::Admin).await;
    let reply = c.login("root", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(
        reply.body.contains("\"/\""),
        "login answers where to go next: {}",
        reply.body
    );
    let line = reply.set_cookie_line().expect("a session cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=1800"] {
        assert!(line.contains(attr), "{attr} missing in {line}");
    }
    assert!(!line.contains("Secure"), "plain-http default: {line}");
    let cookie = reply.session_cookie().unwrap();
    let id = cookie.split_once('=').unwrap().1.to_string();
    let stored: i64 = c
        .count(&format!(
            "SELECT count(*) FROM console_sessions WHERE id = '{id}' AND expiry_date > now()"
        ))
        .await;
    assert_eq!(stored, 1, "the session row is in console_sessions");
    let b = Browser {
        cookie: cookie.clone(),
        csrf: console::meta_csrf(&Console::send(c.get("/").header(COOKIE, &cookie)).await.body)
            .unwrap(),
    };
    let who = c.call("/api/public/session", &[], Some(&b)).await;
    assert!(
        who.body.contains("\"root\"") && who.body.contains("\"admin\""),
        "{}",
        who.body
    );

    let reply = c.call("/api/logout", &[], Some(&b)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) FROM console_sessions WHERE id = '{id}'"
        ))
        .await,
        0
    );
    // The old cookie (a stolen copy, say) opens nothing any more.
    let reply = c.call("/api/table_overview", &[], Some(&b)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    let page = Console::send(c.get("/").header(COOKIE, &cookie)).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn login_issues_a_new_session_id() {
    let c = Console::start().await;
    c.add_user("root", Role::Admin).await;
    c.add_user("vera", Role::Viewer).await;
    let first = c.sign_in("vera").await;
    // Logging in again on the same browser (or with a planted cookie) yields a fresh id.
    let reply = Console::send(
        c.post("/api/public/login")
            .header(COOKIE, &first.cookie)
            .form(&[("username", "root"), ("password", PASSWORD)]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let second = reply.session_cookie().unwrap();
    assert_ne!(second, first.cookie);
    let reply = c.call("/api/accounts", &[], Some(&first)).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "the old id is gone: {}",
        reply.body
    );
}

#[tokio::test]
async fn sessions_expire_after_inactivity_and_with_a_disabled_account() {
    let c = Console::start_with(SecuritySettings {
        idle: Duration::from_secs(2),
        ..Default::default()
    })
    .await;
    c.add_user("root", Role::Admin).await;
    c.add_user("vera", Role::Viewer).await;
    let vera = c.sign_in("vera").await;
    // Activity keeps it alive past the idle time…
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(900)).await;
        let reply = c.call("/api/table_overview", &[], Some(&vera)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    // …inactivity ends it.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let reply = c.call("/api/table_overview", &[], Some(&vera)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);

    let vera = c.sign_in("vera").await;
    let root = c.sign_in("root").await;
    let reply = c
        .call(
            "/api/account_set_disabled",
            &[("username", "vera"), ("disabled", "true")],
            Some(&root),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = c.call("/api/table_overview", &[], Some(&vera)).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "a disabled account's session ends at once"
    );
    let reply = c.login("vera", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.contains("disabled"), "{}", reply.body);

    // Expired rows are cleaned up.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (sessions, _) = app::auth::store::delete_expired(&c.db.pool).await.unwrap();
    assert!(sessions >= 1, "expired sessions deleted: {sessions}");
    assert_eq!(
        c.count("SELECT count(*) FROM console_sessions WHERE expiry_date < now()")
            .await,
        0
    );
}

#[tokio::test]
async fn the_secure_flag_follows_the_setting() {
    let c = Console::start_with(SecuritySettings {
        secure_cookies: true,
        ..Default::default()
    })
    .await;
    c.add_user("root", Role::Admin).await;
    let line = c.login("root", PASSWORD).await.set_cookie_line().unwrap();
    assert!(line.contains("Secure"), "{line}");
}

#[tokio::test]
async fn failed_logins_are_throttled_per_account_and_per_address() {
    let c = Console::start().await;
    c.add_user("root", Role::Admin).await;
    c.add_user("vera", Role::Viewer).await;
    for i in 0..5 {
        let reply = c.login("vera", "wrong password!").await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "attempt {i}: {}",
            reply.body
        );
        assert!(
            reply.body.contains("Wrong username or password"),
            "{}",
            reply.body
        );
    }
    // Locked: even the right password is refused, with a message saying until when.
    let reply = c.login("vera", PASSWORD).await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.body
    );
    assert!(
        reply.body.contains("Too many failed logins for 'vera'"),
        "{}",
        reply.body
    );
    assert!(reply.session_cookie().is_none());
    assert_eq!(
        c.count("SELECT count(*) FROM console_users WHERE username = 'vera' AND locked_until > now() + interval '14 minutes'").await,
        1
    );
    // An unknown name is refused the same way (no hint which names exist).
    for _ in 0..5 {
        assert_eq!(
            c.login("nobody", "wrong password!").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let reply = c.login("nobody", "wrong password!").await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.body
    );
    // Other accounts are not locked by vera's lock…
    assert_eq!(c.login("root", PASSWORD).await.status, StatusCode::OK);
    // …until this address has failed 20 times within the window (10 so far).
    for i in 0..10 {
        let reply = c.login(&format!("guess{i}"), "wrong password!").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    }
    let reply = c.login("root", PASSWORD).await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.body
    );
    assert!(reply.body.contains("from your address"), "{}", reply.body);
    assert_eq!(
        c.count("SELECT count(*) FROM console_login_attempts WHERE outcome = 'failed' AND ip = '127.0.0.1'").await,
        20
    );

    // An admin's password reset lifts the account lock (the address lock is separate).
    sqlx::query("DELETE FROM console_login_attempts")
        .execute(&c.db.pool)
        .await
        .unwrap();
    let name = partitioning::access::Username::parse("vera").unwrap();
    app::auth::store::set_password(&c.db.pool, &name, "a brand new password")
        .await
        .unwrap();
    assert_eq!(
        c.login("vera", "a brand new password").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn pages_need_a_session_and_show_roles_what_they_need() {
    let c = Console::start().await;
    c.add_user("root", Role::Admin).await;
    c.add_user("vera", Role::Viewer).await;
    for (path, next) in [
        ("/", "/"),
        ("/users", "/users"),
        ("/users?x=1", "/users%3Fx%3D1"),
        ("/nope", "/nope"),
    ] {
        let reply = Console::send(c.get(path)).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(
            reply.headers[LOCATION],
            format!("/login?next={next}"),
            "{path}"
        );
    }
    let login = Console::send(c.get("/login?next=%2Fusers")).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("Log in"), "{}", login.body);
    // Built files are not behind the login, nor is the wall display (it has its link token);
    // the page managing wall links is.
    let asset = Console::send(c.get("/pkg/rustcare-partitions.js")).await;
    assert_ne!(asset.status, StatusCode::SEE_OTHER);
    assert_ne!(
        Console::send(c.get("/wall?token=x")).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        Console::send(c.get("/wall/links")).await.status,
        StatusCode::SEE_OTHER
    );

    let vera = c.sign_in("vera").await;
    let page = Console::send(c.get("/users").header(COOKIE, &vera.cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("You need the admin role to manage console accounts."),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("href=\"/users\""),
        "no admin link for a viewer"
    );
    assert!(!page.body.contains("href=\"/wall/links\""));
    assert!(
        page.body.contains("href=\"/health\""),
        "a viewer may read health"
    );
    let root = c.sign_in("root").await;
    let page = Console::send(c.get("/users").header(COOKIE, &root.cookie)).await;
    assert!(
        page.body.contains("Console accounts") && page.body.contains("data-username=\"vera\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("href=\"/users\""),
        "the admin sees the Users link"
    );
    // Signed in, /login leads on.
    let reply = Console::send(c.get("/login?next=%2Fusers").header(COOKIE, &root.cookie)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.headers[LOCATION], "/users");
}

#[tokio::test]
async fn the_login_form_works_without_javascript() {
    let c = Console::start().await;
    c.add_user("root", Role::Admin).await;
    // What a browser sends for the plain form before the WASM has loaded.
    let reply = Console::send(
        c.post("/api/public/login")
            .header(reqwest::header::ACCEPT, "text/html")
            .header(
                reqwest::header::REFERER,
                format!("{}/login?next=%2Fusers", c.base),
            )
            .form(&[
                ("username", "root"),
                ("password", PASSWORD),
                ("next", "/users"),
            ]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    assert_eq!(reply.headers[LOCATION], "/users");
    assert!(reply.session_cookie().is_some());
}
