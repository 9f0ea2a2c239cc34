//! The CSV and PDF renderings of a report with planted gaps.

use super::*;
use sha2::{Digest, Sha256};

fn planted() -> ComplianceReport {
    let mut i = inputs(healthy());
    i.snapshot.tables[0]
        .partitions
        .retain(|p| p.name != "auth_audit_log_2024_03");
    let b = period_containing(crate::calendar::Period::Month, date("2024-03-01"));
    i.actions.push(drop_row(
        1,
        AuthAuditLog,
        b,
        Utc.with_ymd_and_hms(2026, 5, 2, 3, 0, 0).unwrap(),
        None,
    ));
    let mut d = PartitionInfo::range(9, "sessions_default", b);
    d.bound = None;
    d.est_rows = 42;
    i.snapshot.tables[1].default_partition = Some(d);
    i.snapshot.tables[0].partitions[0].name = "=HYPERLINK(\"x\")".into();
    build(&i)
}

#[test]
fn csv_parses_back_to_the_same_findings_and_is_stable() {
    let r = planted();
    let bytes = csv::render(&r);
    assert_eq!(bytes, csv::render(&r.clone()));
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(
        text.starts_with("section,table,kind,partition,"),
        "{}",
        &text[..80]
    );
    assert!(text.contains("\r\n"));
    assert!(text.contains("'=HYPERLINK"), "formula neutralised");
    let back = csv::parse_findings(&bytes).unwrap();
    assert_eq!(back, r.findings);
    assert!(back.len() >= 4, "{back:#?}");
    let err = csv::parse_findings(b"a,b\n1,2\n").unwrap_err();
    assert!(err.to_string().contains("header"), "{err}");
}

#[test]
fn pdf_is_deterministic_with_page_numbers_and_hash() {
    let r = planted();
    let sha = hex::encode(Sha256::digest(csv::render(&r)));
    let a = pdf::render(&r, &sha);
    assert_eq!(a, pdf::render(&r, &sha));
    // To look at it: RUSTCARE_SAMPLE_PDF=/tmp/sample.pdf, then pdftoppm -png.
    if let Some(path) = std::env::var_os("RUSTCARE_SAMPLE_PDF") {
        std::fs::write(path, &a).unwrap();
    }
    assert!(a.starts_with(b"%PDF-"));
    let pages = pdf::page_count(&r);
    assert!(pages >= 4, "{pages}");
    let text = String::from_utf8_lossy(&a);
    assert!(
        text.contains(&format!("(Page 1 of {pages})")),
        "page numbers"
    );
    assert_eq!(text.matches(&format!("CSV SHA-256: {sha}")).count(), pages);
    assert!(
        text.contains("(Partition inventory (continued))"),
        "repeated header"
    );
    assert!(text.contains("/CreationDate (D:20261125093000"));
}
