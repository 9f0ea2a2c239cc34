//! `rustcare-partitions user …` as an operator runs it (the binary, against a fresh database), and
//! the demo accounts of the embedded demo database.

use std::process::{Output, Stdio};

use partitioning::pg::testdb::TestDb;
use tokio::io::AsyncWriteExt;

/// Runs the binary with `args`, feeding `stdin` (None: no standard input at all).
async fn user_cmd(db: &TestDb, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_rustcare-partitions"))
        .arg("user")
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .current_dir(std::env::temp_dir())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).await.unwrap();
    }
    child.wait_with_output().await.unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\n{}{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn role_of(db: &TestDb, name: &str) -> Option<(String, bool)> {
    sqlx::query_as("SELECT role, disabled FROM console_users WHERE username = $1")
        .bind(name)
        .fetch_optional(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn operators_manage_accounts_from_the_command_line() {
    let db = TestDb::migrated().await.unwrap();
    let ok = |o: &Output| assert!(o.status.success(), "{}", text(o));
    let fails_with = |o: &Output, says: &str| {
        assert!(!o.status.success(), "should fail: {}", text(o));
        assert!(text(o).contains(says), "expected '{says}' in: {}", text(o));
    };

    let o = user_cmd(
        &db,
        &[
            "add",
            "alice",
            "--role",
            "admin",
            "--display-name",
            "Alice A",
            "--password-stdin",
        ],
        Some("alice-password-123\n"),
    )
    .await;
    ok(&o);
    assert!(
        text(&o).contains("account alice created with the admin role"),
        "{}",
        text(&o)
    );
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM console_users WHERE username = 'alice'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(
        hash.starts_with("$argon2id$") && app::auth::password::verify("alice-password-123", &hash)
    );

    // Refusals say why, and store nothing.
    fails_with(
        &user_cmd(
            &db,
            &["add", "alice", "--role", "dba", "--password-stdin"],
            Some("another-password-1\n"),
        )
        .await,
        "already an account named 'alice'",
    );
    fails_with(
        &user_cmd(
            &db,
            &["add", "bob", "--role", "root", "--password-stdin"],
            Some("bob-password-1234\n"),
        )
        .await,
        "viewer, compliance, dba and admin",
    );
    fails_with(
        &user_cmd(
            &db,
            &["add", "Bob", "--role", "dba", "--password-stdin"],
            Some("bob-password-1234\n"),
        )
        .await,
        "lowercase letters",
    );
    fails_with(
        &user_cmd(
            &db,
            &["add", "bob", "--role", "dba", "--password-stdin"],
            Some("short\n"),
        )
        .await,
        "at least 12 characters",
    );
    fails_with(
        &user_cmd(&db, &["add", "bob", "--role", "dba"], None).await,
        "--password-stdin",
    );
    // A password is never taken from the command line.
    fails_with(
        &user_cmd(
            &db,
            &[
                "add",
                "bob",
                "--role",
                "dba",
                "--password",
                "bob-password-1234",
            ],
            None,
        )
        .await,
        "unexpected argument",
    );
    assert_eq!(role_of(&db, "bob").await, None);

    ok(&user_cmd(
        &db,
        &["add", "bob", "--role", "viewer", "--password-stdin"],
        Some("bob-password-1234\n"),
    )
    .await);
    ok(&user_cmd(&db, &["set-role", "bob", "dba"], None).await);
    assert_eq!(role_of(&db, "bob").await, Some(("dba".into(), false)));
    // alice is the only admin: she can be neither disabled nor demoted.
    fails_with(
        &user_cmd(&db, &["disable", "alice"], None).await,
        "only enabled admin",
    );
    fails_with(
        &user_cmd(&db, &["set-role", "alice", "viewer"], None).await,
        "only enabled admin",
    );
    ok(&user_cmd(&db, &["disable", "bob"], None).await);
    assert_eq!(role_of(&db, "bob").await, Some(("dba".into(), true)));
    let list = user_cmd(&db, &["list"], None).await;
    ok(&list);
    let out = text(&list);
    assert!(
        out.contains("alice") && out.contains("admin") && out.contains("Alice A"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("bob ") && l.contains("dba") && l.contains("disabled")),
        "{out}"
    );
    ok(&user_cmd(&db, &["enable", "bob"], None).await);
    let epoch_before: i32 =
        sqlx::query_scalar("SELECT session_epoch FROM console_users WHERE username = 'bob'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    ok(&user_cmd(
        &db,
        &["passwd", "bob", "--password-stdin"],
        Some("bob-new-password-1\n"),
    )
    .await);
    let (hash, epoch): (String, i32) = sqlx::query_as(
        "SELECT password_hash, session_epoch FROM console_users WHERE username = 'bob'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(app::auth::password::verify("bob-new-password-1", &hash));
    assert_eq!(
        epoch,
        epoch_before + 1,
        "a new password ends the account's sessions"
    );
    fails_with(
        &user_cmd(
            &db,
            &["passwd", "nobody", "--password-stdin"],
            Some("some-password-123\n"),
        )
        .await,
        "no account named 'nobody'",
    );
}

#[tokio::test]
async fn the_demo_database_gets_demo_accounts_once_with_a_private_file() {
    let db = TestDb::migrated().await.unwrap();
    let dir = std::env::temp_dir().join(format!("rustcare-demo-accounts-{}", std::process::id()));
    let file = server::user_cmd::demo_accounts_file(&dir);
    let password = server::user_cmd::ensure_demo_accounts(&db.pool, &file)
        .await
        .unwrap()
        .expect("accounts created on an empty database");
    let names: Vec<(String, String)> =
        sqlx::query_as("SELECT username, role FROM console_users ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let want: Vec<(String, String)> = [
        ("admin", "admin"),
        ("dba1", "dba"),
        ("dba2", "dba"),
        ("compliance", "compliance"),
        ("viewer", "viewer"),
    ]
    .iter()
    .map(|(n, r)| (n.to_string(), r.to_string()))
    .collect();
    assert_eq!(names, want);
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(
        written.contains(&format!("admin admin {password}")),
        "{written}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Once only: a database with accounts is left alone.
    assert_eq!(
        server::user_cmd::ensure_demo_accounts(&db.pool, &file)
            .await
            .unwrap(),
        None
    );
    let _ = std::fs::remove_dir_all(&dir);
}
