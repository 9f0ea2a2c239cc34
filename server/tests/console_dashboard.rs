//! The dashboard's server functions over real HTTP, at their role boundaries: running creation from
//! the plan (dba only, Origin-checked, logged as `console:<user>`), wall links (dba/admin only),
//! the public wall data (link token), the table page (bad table names) and `/metrics` (loopback or
//! bearer). Every refusal is checked against PostgreSQL: nothing changed.

mod console;

use std::net::SocketAddr;
use std::time::Duration;

use console::{Browser, Console};
use leptos::config::LeptosOptions;
use partitioning::access::Role;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, ORIGIN};
use reqwest::StatusCode;
use serde_json::Value;

/// Every partition of the managed tables, by name: equal before and after means none was made.
async fn partitions_state(c: &Console) -> String {
    sqlx::query_scalar(
        "SELECT coalesce(string_agg(c.relname, ',' ORDER BY c.relname), '') \
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent IN ('auth_audit_log'::regclass, 'sessions'::regclass, \
                               'refresh_tokens'::regclass, 'rate_limits'::regclass)",
    )
    .fetch_one(&c.db.pool)
    .await
    .unwrap()
}

/// The wall-link table as text.
async fn wall_links_state(c: &Console) -> String {
    sqlx::query_scalar(
        "SELECT coalesce(string_agg(w::text, E'\\n' ORDER BY id), '') FROM wall_tokens w",
    )
    .fetch_one(&c.db.pool)
    .await
    .unwrap()
}

/// Drops the sessions partitions after tomorrow (the migration made them), so the create plan
/// has work to do. Returns how many were dropped.
async fn make_sessions_partitions_missing(c: &Console) -> i64 {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'sessions'::regclass \
           AND CASE WHEN c.relname ~ '^sessions_[0-9]{4}_[0-9]{2}_[0-9]{2}$' \
                    THEN to_date(substr(c.relname, 10), 'YYYY_MM_DD') > current_date + 1 END",
    )
    .fetch_all(&c.db.pool)
    .await
    .unwrap();
    for n in &names {
        sqlx::query(&format!("DROP TABLE {n}"))
            .execute(&c.db.pool)
            .await
            .unwrap();
    }
    names.len() as i64
}

/// The fingerprint of the creation plan the browser would show.
async fn create_fingerprint(c: &Console, who: &Browser) -> (String, u64) {
    let reply = c.call("/api/plan_preview", &[], Some(who)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let v: Value = serde_json::from_str(&reply.body).unwrap();
    let fp = v["create_fingerprint"].as_str().unwrap().to_string();
    (fp, v["create_count"].as_u64().unwrap())
}

async fn signed_in(c: &Console, accounts: &[(&str, Role)]) -> Vec<Browser> {
    let mut out = Vec::new();
    for (name, role) in accounts {
        c.add_user(name, *role).await;
        out.push(c.sign_in(name).await);
    }
    out
}

#[tokio::test]
async fn only_a_dba_runs_creation_and_it_is_logged_as_the_console_user() {
    let c = Console::start().await;
    let b = signed_in(
        &c,
        &[
            ("vera", Role::Viewer),
            ("carl", Role::Compliance),
            ("dana", Role::Dba),
        ],
    )
    .await;
    let (viewer, compliance, dba) = (&b[0], &b[1], &b[2]);
    let dropped = make_sessions_partitions_missing(&c).await;
    assert!(
        dropped > 0,
        "the migration made no future sessions partitions"
    );
    let (fp, count) = create_fingerprint(&c, dba).await;
    assert!(count as i64 >= dropped, "{count} < {dropped}");
    // A viewer sees the same plan, told it cannot run it.
    let reply = c.call("/api/plan_preview", &[], Some(viewer)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.body.contains("\"can_run\":false"), "{}", reply.body);

    let before = partitions_state(&c).await;
    let log_before = c.count("SELECT count(*) FROM partition_action_log").await;
    for (name, who) in [("vera", viewer), ("carl", compliance)] {
        let reply = c
            .call("/api/start_create", &[("fingerprint", &fp)], Some(who))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{name}: {}",
            reply.body
        );
        assert!(
            reply.body.contains("run partition maintenance") && reply.body.contains(name),
            "{name}: {}",
            reply.body
        );
    }
    // Forged Origin, valid dba session and token: refused before anything runs.
    let reply = Console::send(
        reqwest::Client::new()
            .post(format!("{}/api/start_create", c.base))
            .form(&[("fingerprint", &fp)])
            .header(COOKIE, &dba.cookie)
            .header(app::auth::CSRF_HEADER, &dba.csrf)
            .header(ORIGIN, "http://evil.example"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert!(reply.body.contains("Nothing was changed"), "{}", reply.body);
    // A stale fingerprint is refused too.
    let reply = c
        .call("/api/start_create", &[("fingerprint", "0000")], Some(dba))
        .await;
    assert!(reply.body.contains("plan changed"), "{}", reply.body);
    assert_eq!(partitions_state(&c).await, before);
    assert_eq!(
        c.count("SELECT count(*) FROM partition_action_log").await,
        log_before
    );

    // The dba runs it; the job is polled to its end as the page does.
    let reply = c
        .call("/api/start_create", &[("fingerprint", &fp)], Some(dba))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let id: String = serde_json::from_str(&reply.body).unwrap();
    let mut job = Value::Null;
    for _ in 0..300 {
        let reply = c
            .call("/api/create_job", &[("id", &id)], Some(viewer))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        job = serde_json::from_str(&reply.body).unwrap();
        if job["finished"] == Value::Bool(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(job["finished"], Value::Bool(true), "{job}");
    assert_eq!(job["error"], Value::Null, "{job}");
    assert_eq!(job["started_by"], "dana");
    let steps = job["steps"].as_array().unwrap();
    assert_eq!(steps.len() as u64, count, "{job}");
    assert!(steps.iter().all(|s| s["outcome"] == "done"), "{job}");

    assert_ne!(partitions_state(&c).await, before);
    let created_sessions = c
        .count(
            "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'sessions'::regclass \
               AND CASE WHEN c.relname ~ '^sessions_[0-9]{4}_[0-9]{2}_[0-9]{2}$' \
                        THEN to_date(substr(c.relname, 10), 'YYYY_MM_DD') > current_date + 1 END",
        )
        .await;
    assert!(
        created_sessions >= dropped,
        "{created_sessions} < {dropped}"
    );
    assert_eq!(
        c.count(
            "SELECT count(*) FROM partition_action_log \
             WHERE action = 'create' AND outcome = 'ok' AND actor = 'console:dana'"
        )
        .await as u64,
        count
    );
    // Nothing left to create: the same fingerprint now says so, and creates nothing.
    let after = partitions_state(&c).await;
    let reply = c
        .call("/api/start_create", &[("fingerprint", &fp)], Some(dba))
        .await;
    assert_ne!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.body.contains("Nothing to create"), "{}", reply.body);
    assert_eq!(partitions_state(&c).await, after);
}

#[tokio::test]
async fn wall_links_are_made_and_revoked_by_dba_or_admin_only() {
    let c = Console::start().await;
    let b = signed_in(
        &c,
        &[
            ("vera", Role::Viewer),
            ("carl", Role::Compliance),
            ("dana", Role::Dba),
            ("root", Role::Admin),
        ],
    )
    .await;
    let (viewer, compliance, dba, admin) = (&b[0], &b[1], &b[2], &b[3]);
    let reply = c
        .call("/api/wall_link_create", &[("label", "NOC TV")], Some(dba))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let link: Value = serde_json::from_str(&reply.body).unwrap();
    let path = link["path"].as_str().unwrap();
    let token = path.strip_prefix("/wall?token=").unwrap().to_string();
    let id = c
        .count("SELECT id FROM wall_tokens WHERE label = 'NOC TV'")
        .await;
    let id_text = id.to_string();

    let before = wall_links_state(&c).await;
    for (name, who) in [("vera", viewer), ("carl", compliance)] {
        for (path, form) in [
            ("/api/wall_link_create", vec![("label", "sneaky")]),
            ("/api/wall_link_revoke", vec![("id", id_text.as_str())]),
            ("/api/wall_links", vec![]),
        ] {
            let reply = c.call(path, &form, Some(who)).await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{name} {path}: {}",
                reply.body
            );
            assert!(
                reply.body.contains("manage wall-display links"),
                "{name} {path}: {}",
                reply.body
            );
        }
    }
    assert_eq!(wall_links_state(&c).await, before);
    assert_eq!(
        c.count("SELECT count(*) FROM wall_tokens WHERE revoked_at IS NULL")
            .await,
        1
    );
    // Only the hash is stored.
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) FROM wall_tokens WHERE token_hash = '{token}'"
        ))
        .await,
        0
    );

    // The public wall data: the live token works without a session, anything else is 403.
    let reply = wall(&c, Some(&token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.body.contains("NOC TV"), "{}", reply.body);
    assert!(reply.body.contains("\"sessions\""), "{}", reply.body);
    for bad in [Some("not-a-token"), Some(""), None] {
        let reply = wall(&c, bad).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{bad:?}: {}",
            reply.body
        );
        assert!(
            reply.body.contains("revoked or is not valid"),
            "{}",
            reply.body
        );
    }

    // An admin revokes it; from then on the token is refused.
    let reply = c
        .call("/api/wall_link_revoke", &[("id", &id_text)], Some(admin))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        c.count("SELECT count(*) FROM wall_tokens WHERE revoked_at IS NOT NULL")
            .await,
        1
    );
    let reply = wall(&c, Some(&token)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert!(!reply.body.contains("NOC TV"), "{}", reply.body);
    // A signed-in viewer needs no token.
    let reply = Console::send(
        c.post("/api/public/wall_data")
            .form(&[("token", "")])
            .header(COOKIE, &viewer.cookie)
            .header(app::auth::CSRF_HEADER, &viewer.csrf),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.body.contains("vera"), "{}", reply.body);
}

/// The public wall data without a session, with this link token (if any).
async fn wall(c: &Console, token: Option<&str>) -> console::Reply {
    let form: Vec<(&str, &str)> = token.map(|t| vec![("token", t)]).unwrap_or_default();
    c.call("/api/public/wall_data", &form, None).await
}

/// The table page's query as the browser encodes it.
fn table_form(table: &str) -> Vec<(&'static str, String)> {
    vec![
        ("table", table.to_string()),
        ("query[sort]", "bounds".into()),
        ("query[desc]", "false".into()),
        ("query[name]", String::new()),
        ("query[page]", "1".into()),
        ("query[per_page]", "50".into()),
    ]
}

#[tokio::test]
async fn the_table_page_names_the_managed_tables_for_a_bad_table_name() {
    let c = Console::start().await;
    let b = signed_in(&c, &[("vera", Role::Viewer)]).await;
    let call = |table: &str| {
        let form = table_form(table);
        let req = c
            .post("/api/table_partitions")
            .form(&form)
            .header(COOKIE, &b[0].cookie)
            .header(app::auth::CSRF_HEADER, &b[0].csrf);
        Console::send(req)
    };
    let reply = call("sessions").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let page: Value = serde_json::from_str(&reply.body).unwrap();
    let in_sql = c
        .count("SELECT count(*) FROM pg_inherits WHERE inhparent = 'sessions'::regclass")
        .await;
    assert_eq!(page["total"].as_i64(), Some(in_sql), "{}", reply.body);

    for bad in ["pg_class", "sessions; DROP TABLE sessions", ""] {
        let reply = call(bad).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{bad:?}: {}",
            reply.body
        );
        for t in [
            "auth_audit_log",
            "sessions",
            "refresh_tokens",
            "rate_limits",
        ] {
            assert!(reply.body.contains(t), "{bad:?}: {}", reply.body);
        }
    }
    let reply = c
        .call("/api/table_charts", &[("table", "users")], Some(&b[0]))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    assert_eq!(
        c.count("SELECT count(*) FROM pg_inherits WHERE inhparent = 'sessions'::regclass")
            .await,
        in_sql
    );
}

/// Serves `server::router` plus `/metrics` the way `serve` mounts it, on the console's database.
async fn start_with_metrics(c: &Console) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = LeptosOptions::builder()
        .output_name("rustcare-partitions")
        .site_root("target/site")
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build();
    let pool = c.db.pool.clone();
    let router = server::router(pool.clone(), options, Default::default())
        .await
        .unwrap()
        .route(
            "/metrics",
            axum::routing::get(app::api::metrics::handler).with_state(pool),
        );
    let handle = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    (format!("http://{addr}"), handle)
}

#[tokio::test]
async fn metrics_answer_loopback_and_need_the_bearer_when_a_token_is_set() {
    const VAR: &str = "RUSTCARE_METRICS_TOKEN";
    let c = Console::start().await;
    let (base, server) = start_with_metrics(&c).await;
    let http = reqwest::Client::new();
    let get = |bearer: Option<&str>| {
        let mut req = http.get(format!("{base}/metrics"));
        if let Some(b) = bearer {
            req = req.header(AUTHORIZATION, format!("Bearer {b}"));
        }
        Console::send(req)
    };
    // The handler reads the variable per request; no other test in this binary serves /metrics.
    std::env::remove_var(VAR);
    let reply = get(None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(
        reply.headers[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{:?}",
        reply.headers
    );
    assert!(
        reply.body.contains("# HELP rustcare_partition_"),
        "{}",
        reply.body
    );
    assert!(
        reply.body.contains("# TYPE rustcare_partition_"),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("table=\"sessions\""), "{}", reply.body);

    std::env::set_var(VAR, "s3cret-metrics");
    let refused = [get(None).await, get(Some("wrong")).await];
    let allowed = get(Some("s3cret-metrics")).await;
    std::env::remove_var(VAR);
    for reply in refused {
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
        assert!(reply.body.contains("Bearer"), "{}", reply.body);
        assert!(!reply.body.contains("# TYPE"), "{}", reply.body);
    }
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.body);
    assert!(allowed.body.contains("# TYPE rustcare_partition_"));
    server.abort();
}
