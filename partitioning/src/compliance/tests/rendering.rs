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

#[test]
fn a_default_partition_holding_rows_is_drawn_as_a_problem() {
    use crate::compliance::pdf::layout::{Op, BAD_TEXT};
    let r = planted();
    let row = r
        .inventory
        .iter()
        .find(|i| i.partition == "sessions_default")
        .unwrap();
    assert_eq!(row.status, InventoryStatus::Default);
    assert!(row.is_problem(), "42 stranded rows are a finding");
    let pages = crate::compliance::pdf::sections::lay_out(&r, &"0".repeat(64)).pages;
    let warned = pages.iter().flatten().any(
        |op| matches!(op, Op::Text { text, color, .. } if text == "DEFAULT" && *color == BAD_TEXT),
    );
    assert!(
        warned,
        "the inventory's DEFAULT status is drawn in the warning colour"
    );
}

mod page_breaks {
    //! Where the PDF's pages break, checked on the layout model: the attestation is one block,
    //! no page ends with a section title or a table header without a row under it, nothing is
    //! drawn over the footer.

    use super::*;
    use crate::compliance::pdf::layout::{wrap, Op, BOTTOM, HEAD_FILL, RULE, WIDTH};
    use crate::compliance::pdf::sections::{lay_out, SIGNATURE_LINE, SIGNING_NOTE};

    fn texts(page: &[Op]) -> impl Iterator<Item = (&str, f32, f32)> {
        page.iter().filter_map(|op| match op {
            Op::Text { text, size, y, .. } => Some((text.as_str(), *size, *y)),
            _ => None,
        })
    }

    /// The pages holding a text for which `want` is true.
    fn pages_with(pages: &[Vec<Op>], want: impl Fn(&str) -> bool) -> Vec<usize> {
        (0..pages.len())
            .filter(|&i| texts(&pages[i]).any(|(t, _, _)| want(t)))
            .collect()
    }

    /// Checks one layout; true when the attestation was pushed to the top of a page of its own.
    fn check(r: &ComplianceReport, case: &str) -> bool {
        let pages = lay_out(r, &"0".repeat(64)).pages;
        let statement = wrap(&r.attestation, 9.5, false, WIDTH);
        let note_first = wrap(SIGNING_NOTE, 8.0, false, WIDTH).remove(0);
        let parts = [
            pages_with(&pages, |t| t == "Attestation"),
            pages_with(&pages, |t| t == statement[0]),
            pages_with(&pages, |t| Some(t) == statement.last().map(String::as_str)),
            pages_with(&pages, |t| t == SIGNATURE_LINE),
            pages_with(&pages, |t| t == note_first),
        ];
        let last = pages.len() - 1;
        for (i, p) in parts.iter().enumerate() {
            assert_eq!(
                p,
                &vec![last],
                "{case}: attestation part {i} on pages {p:?}"
            );
        }
        for (n, page) in pages.iter().enumerate() {
            for (t, _, y) in texts(page) {
                assert!(
                    y >= BOTTOM,
                    "{case}: '{t}' drawn into the footer on page {n}"
                );
            }
            // The last thing on a page is never a title (13 pt) or a "(continued)" line.
            if let Some((t, size, _)) = texts(page).last() {
                assert!(
                    size != 13.0 && !t.ends_with("(continued)"),
                    "{case}: page {} of {} ends with the title '{t}'",
                    n + 1,
                    pages.len()
                );
            }
            // Every header row has a row (its rule) or "(none)" under it on the same page.
            let heads: Vec<usize> = (0..page.len())
                .filter(|&i| matches!(page[i], Op::Fill { color, .. } if color == HEAD_FILL))
                .collect();
            for h in heads {
                let followed = page[h..].iter().any(|op| match op {
                    Op::Line { color, .. } => *color == RULE,
                    Op::Text { text, .. } => text == "(none)",
                    _ => false,
                });
                assert!(
                    followed,
                    "{case}: a table header ends page {} of {}",
                    n + 1,
                    pages.len()
                );
            }
        }
        matches!(pages[last].first(), Some(Op::Text { text, .. }) if text == "Attestation")
            && last > 0
    }

    #[test]
    fn the_attestation_is_never_split_across_pages() {
        let full = planted();
        let mut moved = 0;
        // Every length of the inventory (the table before the attestation) puts its block at a
        // different height; some of them leave too little room for it at a page's foot.
        for keep in 0..=full.inventory.len() {
            let mut r = full.clone();
            r.inventory.truncate(keep);
            if check(&r, &format!("inventory of {keep} rows")) {
                moved += 1;
            }
        }
        assert!(
            moved > 0,
            "no size reached a page boundary: the test checks nothing"
        );
    }

    #[test]
    fn no_page_ends_with_a_title_or_a_bare_table_header() {
        let full = planted();
        // Extra one-line verdict rows move everything after them (the policy table's rows are
        // six lines tall); extra two-line disposal rows move the inventory's title.
        for extra in 0..40 {
            let mut r = full.clone();
            let v = r.verdicts[0].clone();
            r.verdicts.extend(std::iter::repeat_n(v, extra));
            check(&r, &format!("{extra} extra verdicts"));
            let mut r = full.clone();
            let d = r.disposals[0].clone();
            r.disposals.extend(std::iter::repeat_n(d, extra));
            check(&r, &format!("{extra} extra disposals"));
        }
    }
}
