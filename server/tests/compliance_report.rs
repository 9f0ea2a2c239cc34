//! The compliance report end to end over HTTP, on a database with planted gaps: an audit month
//! dropped early, rows stranded in a default partition, a properly approved disposal (a real
//! cleanup request through `partitioning::pg::approvals`: filed, approved, co-signed, executed). The report
//! names each; its CSV parses back to the same findings; its PDF renders with pdftoppm; the stored
//! files download byte-identical with the hash shown; roles are enforced; everything is audited.

mod console;

use console::{Browser, Console};
use partitioning::access::Role;
use partitioning::approval::{Decision, RequestState};
use partitioning::compliance::{csv, FindingKind, InventoryStatus, Severity, StoredReport};
use partitioning::config::Config;
use partitioning::pg::approvals::{self, Executed};
use partitioning::pg::executor::ProgressEvent;
use partitioning::table::ManagedTable;
use reqwest::header::COOKIE;
use reqwest::StatusCode;
use sqlx::PgPool;

fn quiet(_: ProgressEvent<'_>) {}

/// Creates an audit-log month 8 years back and drops it through `partitioning::pg::approvals`:
/// filed by dba1, approved by dba2 as DBA and by `compliance` as compliance officer, executed by
/// dba2. Returns the partition and the request's plan fingerprint.
async fn dispose_through_approvals(pool: &PgPool) -> (String, String) {
    let part: String = sqlx::query_scalar(
        "SELECT create_audit_log_partition((date_trunc('month', now()) - interval '96 months')::date)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let config = Config::default();
    let audit = [ManagedTable::AuthAuditLog];
    let id = approvals::file(pool, &config, &audit, "dba1")
        .await
        .unwrap()
        .id();
    let request = approvals::get(pool, id).await.unwrap().unwrap();
    let names: Vec<&str> = request
        .actions
        .iter()
        .map(|a| a.partition.as_str())
        .collect();
    assert_eq!(
        names,
        vec![part.as_str()],
        "the request drops that month only"
    );
    let state = approvals::decide(
        pool,
        id,
        "dba2",
        Role::Dba,
        Decision::Approve,
        "checked the plan",
    )
    .await
    .unwrap();
    assert_eq!(
        state,
        RequestState::Pending,
        "the audit log needs compliance too"
    );
    let state = approvals::decide(
        pool,
        id,
        "compliance",
        Role::Compliance,
        Decision::Approve,
        "past 7 years",
    )
    .await
    .unwrap();
    assert_eq!(state, RequestState::Approved);
    let ran = approvals::execute(pool, &config, id, "dba2", &quiet)
        .await
        .unwrap();
    assert!(
        matches!(ran, Executed::Ran { complete: true, .. }),
        "{ran:?}"
    );
    (part, request.fingerprint)
}

/// Plants the three cases; returns (dropped-early partition, approved-disposal partition and its
/// request's fingerprint).
async fn plant(pool: &PgPool) -> (String, (String, String)) {
    // Every audit month of the 7-year window but one, 24 months back.
    sqlx::query(
        "SELECT create_audit_log_partition((date_trunc('month', now()) - make_interval(months => m))::date) \
           FROM generate_series(0, 84) AS m WHERE m <> 24",
    )
    .execute(pool)
    .await
    .unwrap();
    let early: String = sqlx::query_scalar(
        "SELECT 'auth_audit_log_' || to_char(date_trunc('month', now()) - interval '24 months', 'YYYY_MM')",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    // Its drop, recorded without any request (as a hand-run DROP would be, had the trigger let it).
    sqlx::query(
        "INSERT INTO partition_action_log (actor, table_name, partition_name, action, lower_bound, upper_bound, \
                                           row_estimate, bytes, outcome) \
         SELECT 'sql:postgres', 'auth_audit_log', $1, 'drop', b, b + interval '1 month', 5120, 65536, 'ok' \
           FROM (SELECT date_trunc('month', now()) - interval '24 months' AS b) AS x",
    )
    .bind(&early)
    .execute(pool)
    .await
    .unwrap();
    // A proper disposal, run the way a real one is: an 8-year-old month, a cleanup request filed
    // by dba1, approved by dba2 (DBA) and co-signed by a compliance officer, executed by dba2.
    let approved = dispose_through_approvals(pool).await;
    // Sessions: the whole window, a default partition, and two rows from a day with no partition.
    sqlx::query(
        "SELECT create_sessions_partition(current_date - d) FROM generate_series(0, 91) AS d",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("CREATE TABLE sessions_default PARTITION OF sessions DEFAULT")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO sessions (user_id, created_at, expires_at, token_hash) \
         SELECT gen_random_uuid(), now() - interval '200 days', now() - interval '199 days', md5(g::text) \
           FROM generate_series(1, 2) AS g",
    )
    .execute(pool)
    .await
    .unwrap();
    (early, approved)
}

async fn generate(c: &Console, who: &Browser) -> console::Reply {
    let from = (chrono::Utc::now() - chrono::Duration::days(30))
        .date_naive()
        .to_string();
    let to = chrono::Utc::now().date_naive().to_string();
    c.call(
        "/api/report_generate",
        &[
            ("from", from.as_str()),
            ("to", to.as_str()),
            ("auth_audit_log", "on"),
            ("sessions", "on"),
        ],
        Some(who),
    )
    .await
}

/// GETs a file as `who` (or anonymously): status, x-content-sha256, bytes.
async fn download(c: &Console, path: &str, who: Option<&Browser>) -> (StatusCode, String, Vec<u8>) {
    let mut req = c.get(path);
    if let Some(b) = who {
        req = req.header(COOKIE, &b.cookie);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let sha = res
        .headers()
        .get("x-content-sha256")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, sha, res.bytes().await.unwrap().to_vec())
}

/// SHA-256 hex, computed by PostgreSQL (an implementation independent of the one that stored it).
async fn sha256(pool: &PgPool, bytes: &[u8]) -> String {
    sqlx::query_scalar("SELECT encode(sha256($1), 'hex')")
        .bind(bytes)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn report_names_each_planted_gap_and_downloads_byte_identical() {
    let c = Console::start().await;
    let pool = c.db.pool.clone();
    let (early, (approved, fingerprint)) = plant(&pool).await;
    for (name, role) in [
        ("compliance", Role::Compliance),
        ("viewer", Role::Viewer),
        ("dba1", Role::Dba),
    ] {
        c.add_user(name, role).await;
    }
    let officer = c.sign_in("compliance").await;
    let viewer = c.sign_in("viewer").await;
    let dba = c.sign_in("dba1").await;

    // A viewer cannot generate; nothing is stored.
    let refused = generate(&c, &viewer).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(c.count("SELECT count(*) FROM compliance_reports").await, 0);

    let reply = generate(&c, &officer).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let stored: StoredReport = serde_json::from_str(&reply.body).unwrap();
    assert!(!stored.compliant);
    let (_, report) = partitioning::pg::compliance::get(&pool, stored.id)
        .await
        .unwrap()
        .unwrap();

    // The report names each planted case.
    let has = |kind: FindingKind, partition: &str| {
        report
            .findings
            .iter()
            .any(|f| f.kind == kind && f.partition == partition && f.severity == Severity::Finding)
    };
    assert!(
        has(FindingKind::DroppedEarly, &early),
        "{:#?}",
        report.findings
    );
    assert!(
        has(FindingKind::UnapprovedDisposal, &early),
        "{:#?}",
        report.findings
    );
    assert!(
        has(FindingKind::DefaultRows, "sessions_default"),
        "{:#?}",
        report.findings
    );
    let stranded = report
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::DefaultRows)
        .unwrap();
    assert_eq!(
        stranded.rows,
        Some(2),
        "exact count of the default partition"
    );
    assert!(report
        .inventory
        .iter()
        .any(|r| r.partition == early && r.status == InventoryStatus::DroppedEarly));
    let proper = report
        .disposals
        .iter()
        .find(|d| d.partition == approved)
        .expect("approved disposal listed");
    assert!(proper.within_policy);
    assert_eq!(proper.requested_by, "dba1");
    assert_eq!(proper.executed_by, "dba2");
    assert!(proper.request_id.is_some());
    assert_eq!(
        proper.approvers,
        vec!["dba2 (dba)", "compliance (compliance)"]
    );
    assert_eq!(proper.fingerprint.len(), 64);
    assert_eq!(
        proper.fingerprint, fingerprint,
        "the approved plan's fingerprint"
    );
    assert!(
        !report.findings.iter().any(|f| f.partition == approved),
        "the proper disposal is no finding"
    );
    let verdicts: Vec<(String, bool)> = stored
        .verdicts
        .iter()
        .map(|(t, ok, _)| (t.clone(), *ok))
        .collect();
    assert_eq!(
        verdicts,
        vec![
            ("auth_audit_log".to_string(), false),
            ("sessions".to_string(), false)
        ]
    );

    // CSV: byte-identical on re-download, hash as stored and as sent, parses back to the findings.
    let csv_path = format!("/reports/{}/report.csv", stored.id);
    let (status, header_sha, csv1) = download(&c, &csv_path, Some(&officer)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, csv2) = download(&c, &csv_path, Some(&officer)).await;
    assert_eq!(csv1, csv2);
    assert_eq!(sha256(&pool, &csv1).await, stored.csv_sha256);
    assert_eq!(header_sha, stored.csv_sha256);
    assert_eq!(csv::parse_findings(&csv1).unwrap(), report.findings);

    // PDF: the same, and it renders; the audit window makes it several pages.
    let pdf_path = format!("/reports/{}/report.pdf", stored.id);
    let (status, header_sha, pdf) = download(&c, &pdf_path, Some(&officer)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (sha256(&pool, &pdf).await, header_sha),
        (stored.pdf_sha256.clone(), stored.pdf_sha256.clone())
    );
    let dir = std::env::temp_dir().join(format!("rustcare-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("report.pdf");
    std::fs::write(&file, &pdf).unwrap();
    // To look at the pages: RUSTCARE_SAMPLE_PDF=/tmp/report.pdf, then pdftoppm -png.
    if let Some(keep) = std::env::var_os("RUSTCARE_SAMPLE_PDF") {
        std::fs::copy(&file, keep).unwrap();
    }
    let info = std::process::Command::new("pdfinfo")
        .arg(&file)
        .output()
        .expect("pdfinfo (poppler-utils) is installed");
    let info = String::from_utf8_lossy(&info.stdout).to_string();
    let pages: i32 = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(pages >= 2, "{info}");
    assert_eq!(pages, stored.pdf_pages);
    let rendered = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "30"])
        .arg(&file)
        .arg(dir.join("page"))
        .status()
        .expect("pdftoppm (poppler-utils) is installed");
    assert!(rendered.success());
    let pngs = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png")
        })
        .count();
    assert_eq!(pngs as i32, pages);
    let _ = std::fs::remove_dir_all(&dir);

    // Unsigned: dba and viewer cannot open it; no session goes to the login page.
    let (status, _, _) = download(&c, &pdf_path, Some(&viewer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let get = c
        .call(
            "/api/report_get",
            &[("id", &stored.id.to_string())],
            Some(&dba),
        )
        .await;
    assert_eq!(get.status, StatusCode::FORBIDDEN, "{}", get.body);
    let (status, _, _) = download(&c, &pdf_path, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // A DBA cannot sign; an officer must tick the attestation; then signs once.
    let id = stored.id.to_string();
    let sign = |who: &Browser, confirm: bool| {
        let mut form = vec![("id", id.clone()), ("name", "Casey Officer".to_string())];
        if confirm {
            form.push(("confirm", "yes".into()));
        }
        let who = who.clone();
        let c = &c;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            c.call("/api/report_sign", &form, Some(&who)).await
        }
    };
    assert_eq!(sign(&dba, true).await.status, StatusCode::FORBIDDEN);
    let unticked = sign(&officer, false).await;
    assert!(
        unticked.body.contains("Tick the attestation"),
        "{}",
        unticked.body
    );
    assert_eq!(
        c.count("SELECT count(*) FROM compliance_report_signatures")
            .await,
        0
    );
    let signed = sign(&officer, true).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
    let again = sign(&officer, true).await;
    assert!(again.body.contains("already signed"), "{}", again.body);
    assert_eq!(
        c.count("SELECT count(*) FROM compliance_report_signatures")
            .await,
        1
    );

    // Signed: the viewer downloads the very same bytes; the DBA reads the report.
    let (status, _, viewer_pdf) = download(&c, &pdf_path, Some(&viewer)).await;
    assert_eq!(
        (status, sha256(&pool, &viewer_pdf).await),
        (StatusCode::OK, stored.pdf_sha256.clone())
    );
    let get = c.call("/api/report_get", &[("id", &id)], Some(&dba)).await;
    assert_eq!(get.status, StatusCode::OK, "{}", get.body);

    // The audit trail has each event with the hashes, and its chain verifies.
    let events: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT actor, action, detail::text FROM audit_trail WHERE subject = $1 ORDER BY id",
    )
    .bind(format!("report:{}", stored.id))
    .fetch_all(&pool)
    .await
    .unwrap();
    let actions: Vec<&str> = events.iter().map(|(_, a, _)| a.as_str()).collect();
    assert_eq!(actions[0], "report_generated");
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "report_downloaded")
            .count(),
        4
    );
    assert_eq!(actions.last(), Some(&"report_downloaded"));
    assert!(actions.contains(&"report_signed"));
    assert!(events[0].2.contains(&stored.csv_sha256) && events[0].2.contains(&stored.pdf_sha256));
    let signed_event = events
        .iter()
        .find(|(_, a, _)| a == "report_signed")
        .unwrap();
    assert_eq!(signed_event.0, "compliance");
    assert!(
        signed_event.2.contains("Casey Officer") && signed_event.2.contains(&stored.pdf_sha256)
    );

    // Evidence is append-only.
    let err = sqlx::query("UPDATE compliance_reports SET findings = 0")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
}
