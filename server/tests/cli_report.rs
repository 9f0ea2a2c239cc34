//! `rustcare-partitions report`: bad input is refused with exit 2 and nothing stored; a good run
//! writes the file, stores the report and prints the SHA-256 the stored files have.

mod cli_common;

use cli_common::{cli, text};
use partitioning::pg::testdb::TestDb;

async fn reports(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM compliance_reports")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn report_refuses_bad_input_and_writes_stored_files() {
    let db = TestDb::migrated().await.unwrap();
    sqlx::query("SELECT create_partitions_if_needed()")
        .execute(&db.pool)
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("rustcare-cli-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("r.pdf");
    let out_s = out.to_str().unwrap();
    let missing_dir = dir.join("no-such-dir").join("r.pdf");
    let a_file = dir.join("plain-file");
    std::fs::write(&a_file, b"x").unwrap();
    let under_file = a_file.join("r.pdf");
    let trailing_slash = format!("{}/", dir.join("not-yet").display());
    let today = chrono::Utc::now().date_naive().to_string();
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .date_naive()
        .to_string();

    // (arguments, what stderr must say)
    let bad: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "--from",
                "2026-13-01",
                "--to",
                &today,
                "--format",
                "pdf",
                "--out",
                out_s,
            ],
            "--from '2026-13-01' is not a date: give it as YYYY-MM-DD",
        ),
        (
            vec![
                "--from",
                "yesterday",
                "--to",
                &today,
                "--format",
                "csv",
                "--out",
                out_s,
            ],
            "YYYY-MM-DD",
        ),
        (
            vec![
                "--from",
                &today,
                "--to",
                "2020-01-01",
                "--format",
                "pdf",
                "--out",
                out_s,
            ],
            "before it starts",
        ),
        (
            vec![
                "--from", &today, "--to", &tomorrow, "--format", "pdf", "--out", out_s,
            ],
            "in the future",
        ),
        (
            vec![
                "--from", &today, "--to", &today, "--table", "users", "--format", "pdf", "--out",
                out_s,
            ],
            "unknown table `users`",
        ),
        (
            vec!["--from", &today, "--to", &today, "--out", out_s],
            "give --format csv or --format pdf",
        ),
        (
            vec![
                "--from",
                &today,
                "--to",
                &today,
                "--format",
                "pdf",
                "--out",
                dir.to_str().unwrap(),
            ],
            "is a directory",
        ),
        (
            vec![
                "--from",
                &today,
                "--to",
                &today,
                "--format",
                "pdf",
                "--out",
                missing_dir.to_str().unwrap(),
            ],
            "no-such-dir does not exist: create it first (mkdir -p",
        ),
        (
            vec![
                "--from",
                &today,
                "--to",
                &today,
                "--format",
                "csv",
                "--out",
                under_file.to_str().unwrap(),
            ],
            "plain-file is not a directory",
        ),
        (
            vec![
                "--from",
                &today,
                "--to",
                &today,
                "--format",
                "csv",
                "--out",
                &trailing_slash,
            ],
            "is a directory: give a file name",
        ),
    ];
    for (args, why) in bad {
        let mut all = vec!["report"];
        all.extend(&args);
        let o = cli(&db, &all).await;
        assert_eq!(o.status.code(), Some(2), "{args:?}\n{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(why),
            "{args:?}: want '{why}'\n{}",
            text(&o)
        );
    }
    let o = cli(&db, &["status", "--format", "pdf"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!out.exists());
    assert_eq!(reports(&db).await, 0, "nothing stored by a refused run");
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_trail WHERE action LIKE 'report%'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(audited, 0, "nothing audited by a refused run");
    assert!(!missing_dir.parent().unwrap().exists(), "no directory made");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "plain-file")
        .collect();
    assert!(
        leftovers.is_empty(),
        "no probe or temporary file left: {leftovers:?}"
    );

    let o = cli(
        &db,
        &[
            "report", "--from", &today, "--to", &today, "--table", "sessions", "--format", "pdf",
            "--out", out_s,
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let (pdf_sha, generated_by): (String, String) =
        sqlx::query_as("SELECT pdf_sha256, generated_by FROM compliance_reports")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(
        stdout.contains(&format!("pdf sha256 {pdf_sha}")),
        "{stdout}"
    );
    assert_eq!(generated_by, "cli:tester");
    let written = std::fs::read(&out).unwrap();
    let sha: String = sqlx::query_scalar("SELECT encode(sha256($1), 'hex')")
        .bind(&written)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(sha, pdf_sha, "the file written is the stored one");
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_trail WHERE actor = 'cli:tester' AND action IN ('report_generated', 'report_downloaded')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(audited, 2);
    let _ = std::fs::remove_dir_all(&dir);
}
