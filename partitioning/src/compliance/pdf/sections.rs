//! What the PDF says, section by section (scope, verdicts, policies, findings, disposal log,
//! inventory, attestation), laid out as pages; `pdf.rs` adds the running header and footer.

use chrono::{DateTime, Utc};

use super::layout::{col, num, Column, Layout, TableRow};
use super::layout::{BAD_FILL, BAD_TEXT, BLACK, GOOD_FILL, GOOD_TEXT, GREY, NOTE_FILL};
use crate::calendar::human_instant;
use crate::compliance::{ComplianceReport, Severity};
use crate::overview::{human_bytes, thousands};

pub(crate) const SIGNATURE_LINE: &str = "Name: ______________________________    Signature: ______________________________    Date: ________________";
pub(crate) const SIGNING_NOTE: &str = "Signing in the console records the signer, the time, this statement and the SHA-256 of both this PDF and the CSV in the append-only audit trail; the files themselves are never changed by a signature.";

fn period(lower: Option<DateTime<Utc>>, upper: Option<DateTime<Utc>>) -> (String, String) {
    (
        lower.map(human_instant).unwrap_or_default(),
        upper.map(human_instant).unwrap_or_default(),
    )
}

pub(crate) fn lay_out(report: &ComplianceReport, csv_sha256: &str) -> Layout {
    let s = &report.scope;
    let mut l = Layout::new();
    l.paragraph("HIPAA retention compliance report", 18.0, true, BLACK);
    let tables: Vec<&str> = s.tables.iter().map(|t| t.name()).collect();
    let overall = if report.compliant() {
        "COMPLIANT: no findings".to_string()
    } else {
        format!(
            "FINDINGS: {} finding(s) across {} table(s)",
            report.finding_count(),
            report.verdicts.iter().filter(|v| !v.compliant).count()
        )
    };
    l.pairs(&[
        ("Period (UTC)", format!("{} to {}, inclusive", s.from, s.to)),
        ("Tables", tables.join(", ")),
        (
            "Generated",
            format!(
                "{} by {}",
                s.generated_at.format("%Y-%m-%d %H:%M:%S UTC"),
                s.generated_by
            ),
        ),
        ("Overall", overall),
        ("CSV SHA-256", csv_sha256.to_string()),
        (
            "Scope",
            "The inventory covers each table's whole retention window as of the generation time (from the period holding the retention cutoff through the current period); the disposal log covers drops inside the period. Row counts are the catalog's estimates, exact for default partitions.".to_string(),
        ),
    ]);

    let rows: Vec<TableRow> = report
        .verdicts
        .iter()
        .map(|v| TableRow {
            cells: vec![
                v.table.name().into(),
                v.word().to_uppercase(),
                v.findings.to_string(),
                v.notes.to_string(),
                v.summary.clone(),
            ],
            fill: Some(if v.compliant { GOOD_FILL } else { BAD_FILL }),
            emphasis: Some((1, if v.compliant { GOOD_TEXT } else { BAD_TEXT })),
        })
        .collect();
    let cols = [
        col("Table", 0.13),
        col("Verdict", 0.1),
        num("Findings", 0.07),
        num("Notes", 0.06),
        col("Summary", 0.64),
    ];
    l.heading("Verdict per table", Layout::table_lead(&cols, &rows));
    l.table("Verdict per table", &cols, &rows);

    let rows: Vec<TableRow> = report
        .policies
        .iter()
        .map(|p| TableRow {
            cells: vec![
                p.table.name().into(),
                p.period.as_str().into(),
                p.retention.to_string(),
                p.governs.as_str().replace('_', " "),
                human_instant(p.cutoff),
                p.cleanup.as_str().into(),
                p.basis.clone(),
            ],
            fill: None,
            emphasis: None,
        })
        .collect();
    let cols = [
        col("Table", 0.11),
        col("Period", 0.05),
        col("Retention", 0.07),
        col("Governs", 0.1),
        col("Cutoff", 0.1),
        col("Cleanup", 0.06),
        col("Basis", 0.51),
    ];
    l.heading(
        "Retention policy and its basis",
        Layout::table_lead(&cols, &rows),
    );
    l.table("Retention policy and its basis", &cols, &rows);

    let rows: Vec<TableRow> = report
        .findings
        .iter()
        .map(|f| {
            let (from, to) = period(f.lower, f.upper);
            let bad = f.severity == Severity::Finding;
            TableRow {
                cells: vec![
                    f.table.name().into(),
                    f.severity.as_str().to_uppercase(),
                    f.kind.title().into(),
                    f.partition.clone(),
                    if from.is_empty() {
                        String::new()
                    } else {
                        format!("{from} to {to}")
                    },
                    f.rows.map(thousands).unwrap_or_default(),
                    f.explanation.clone(),
                ],
                fill: Some(if bad { BAD_FILL } else { NOTE_FILL }),
                emphasis: Some((1, if bad { BAD_TEXT } else { GREY })),
            }
        })
        .collect();
    let cols = [
        col("Table", 0.1),
        col("Severity", 0.07),
        col("Kind", 0.12),
        col("Partition", 0.13),
        col("Period", 0.11),
        num("Rows", 0.06),
        col("Explanation", 0.41),
    ];
    l.heading("Findings and exceptions", Layout::table_lead(&cols, &rows));
    l.table("Findings and exceptions", &cols, &rows);

    let rows: Vec<TableRow> = report
        .disposals
        .iter()
        .map(|d| {
            let (from, to) = period(d.lower, d.upper);
            TableRow {
                cells: vec![
                    d.table.name().into(),
                    d.partition.clone(),
                    format!("{from} to {to}"),
                    d.dropped_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                    d.rows.map(thousands).unwrap_or_default(),
                    d.executed_by.clone(),
                    match d.request_id {
                        Some(id) => format!("{} (request #{id})", d.requested_by),
                        None => d.requested_by.clone(),
                    },
                    d.approvers.join(", "),
                    d.fingerprint.clone(),
                    if d.within_policy {
                        "WITHIN POLICY".into()
                    } else {
                        "EARLY".into()
                    },
                ],
                fill: (!d.within_policy).then_some(BAD_FILL),
                emphasis: Some((9, if d.within_policy { GOOD_TEXT } else { BAD_TEXT })),
            }
        })
        .collect();
    let cols = [
        col("Table", 0.08),
        col("Partition", 0.14),
        col("Period", 0.09),
        col("Dropped at", 0.08),
        num("Rows", 0.05),
        col("Executed by", 0.08),
        col("Requested by", 0.09),
        col("Approvers", 0.11),
        // Wide enough for a SHA-256 in two lines.
        col("Plan fingerprint", 0.2),
        col("Policy", 0.08),
    ];
    l.heading(
        "Disposal log (drops inside the period)",
        Layout::table_lead(&cols, &rows),
    );
    l.table("Disposal log", &cols, &rows);

    let rows: Vec<TableRow> = report
        .inventory
        .iter()
        .map(|r| {
            let (from, to) = period(r.lower, r.upper);
            let gap = r.is_problem();
            TableRow {
                cells: vec![
                    r.table.name().into(),
                    r.partition.clone(),
                    from,
                    to,
                    r.status.as_str().replace('_', " ").to_uppercase(),
                    thousands(r.rows),
                    human_bytes(r.bytes),
                    r.note.clone(),
                ],
                fill: gap.then_some(BAD_FILL),
                emphasis: Some((4, if gap { BAD_TEXT } else { BLACK })),
            }
        })
        .collect();
    let cols: [Column; 8] = [
        col("Table", 0.12),
        col("Partition", 0.19),
        col("From", 0.09),
        col("To", 0.09),
        col("Status", 0.11),
        num("Rows (est.)", 0.08),
        num("Size", 0.07),
        col("Note", 0.25),
    ];
    l.heading(
        "Partition inventory over the retention window",
        Layout::table_lead(&cols, &rows),
    );
    l.table("Partition inventory", &cols, &rows);

    // One block: the statement, the lines to sign on and what signing records never part.
    l.keep_together(|l| {
        l.heading("Attestation", 0.0);
        l.paragraph(&report.attestation, 9.5, false, BLACK);
        l.gap(14.0);
        l.paragraph(SIGNATURE_LINE, 9.5, false, BLACK);
        l.gap(6.0);
        l.paragraph(SIGNING_NOTE, 8.0, false, GREY);
    });
    l
}
