//! Who may do what with compliance reports, over HTTP: an admin generates and signs (the signature
//! records the admin role); a DBA and a viewer can neither generate nor sign (403, nothing stored),
//! and see, open and download only signed reports.

mod console;

use app::api::reports::ReportList;
use console::{Browser, Console, Reply};
use partitioning::access::Role;
use partitioning::compliance::{ReportSignature, StoredReport};
use reqwest::header::COOKIE;
use reqwest::StatusCode;

async fn generate(c: &Console, who: &Browser) -> Reply {
    let today = chrono::Utc::now().date_naive().to_string();
    c.call(
        "/api/report_generate",
        &[
            ("from", today.as_str()),
            ("to", today.as_str()),
            ("sessions", "on"),
        ],
        Some(who),
    )
    .await
}

async fn sign(c: &Console, who: &Browser, id: i64) -> Reply {
    let id = id.to_string();
    c.call(
        "/api/report_sign",
        &[("id", &id), ("name", "Avery Admin"), ("confirm", "yes")],
        Some(who),
    )
    .await
}

async fn list(c: &Console, who: &Browser) -> ReportList {
    let reply = c.call("/api/reports_list", &[], Some(who)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    serde_json::from_str(&reply.body).unwrap()
}

fn ids(l: &ReportList) -> Vec<i64> {
    l.reports.iter().map(|r| r.id).collect()
}

async fn open(c: &Console, who: &Browser, id: i64) -> Reply {
    let id = id.to_string();
    c.call("/api/report_get", &[("id", &id)], Some(who)).await
}

async fn pdf_status(c: &Console, who: &Browser, id: i64) -> StatusCode {
    c.get(&format!("/reports/{id}/report.pdf"))
        .header(COOKIE, &who.cookie)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn admin_generates_and_signs_dba_and_viewer_read_signed_reports_only() {
    let c = Console::start().await;
    sqlx::query("SELECT create_partitions_if_needed()")
        .execute(&c.db.pool)
        .await
        .unwrap();
    for (name, role) in [
        ("admin", Role::Admin),
        ("dba1", Role::Dba),
        ("viewer", Role::Viewer),
    ] {
        c.add_user(name, role).await;
    }
    let admin = c.sign_in("admin").await;
    let dba = c.sign_in("dba1").await;
    let viewer = c.sign_in("viewer").await;

    // DBA and viewer cannot generate: 403, nothing stored, nothing audited.
    for who in [&dba, &viewer] {
        let r = generate(&c, who).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    }
    assert_eq!(c.count("SELECT count(*) FROM compliance_reports").await, 0);
    assert_eq!(
        c.count("SELECT count(*) FROM audit_trail WHERE action LIKE 'report%'")
            .await,
        0
    );

    // The admin generates two; signs the first.
    let mut stored = Vec::new();
    for _ in 0..2 {
        let r = generate(&c, &admin).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let s: StoredReport = serde_json::from_str(&r.body).unwrap();
        assert_eq!(s.generated_by, "admin");
        stored.push(s.id);
    }
    let (signed, draft) = (stored[0], stored[1]);
    assert!(list(&c, &admin).await.can_generate);

    // Before any signature the DBA and the viewer see nothing and open nothing.
    for who in [&dba, &viewer] {
        let l = list(&c, who).await;
        assert!(ids(&l).is_empty() && !l.can_generate, "{l:?}");
        assert_eq!(l.hidden_unsigned, 2);
        assert_eq!(pdf_status(&c, who, signed).await, StatusCode::FORBIDDEN);
    }

    // DBA and viewer cannot sign: 403, no signature.
    for who in [&dba, &viewer] {
        let r = sign(&c, who, signed).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    }
    assert_eq!(
        c.count("SELECT count(*) FROM compliance_report_signatures")
            .await,
        0
    );

    let r = sign(&c, &admin, signed).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let sig: ReportSignature = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        (
            sig.signer.as_str(),
            sig.role.as_str(),
            sig.signer_name.as_str()
        ),
        ("admin", "admin", "Avery Admin")
    );
    assert_eq!(
        c.count(
            "SELECT count(*) FROM audit_trail WHERE action = 'report_signed' AND actor = 'admin'"
        )
        .await,
        1
    );

    // Now the DBA and the viewer see, open and download the signed one only.
    assert_eq!(ids(&list(&c, &admin).await), vec![draft, signed]);
    for who in [&dba, &viewer] {
        let l = list(&c, who).await;
        assert_eq!(ids(&l), vec![signed]);
        assert_eq!(l.hidden_unsigned, 1);
        let r = open(&c, who, signed).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = open(&c, who, draft).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        assert!(r.body.contains("not signed yet"), "{}", r.body);
        assert_eq!(pdf_status(&c, who, signed).await, StatusCode::OK);
        assert_eq!(pdf_status(&c, who, draft).await, StatusCode::FORBIDDEN);
    }
}
