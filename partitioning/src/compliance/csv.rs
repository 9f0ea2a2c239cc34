//! The report as one CSV file (RFC 4180, CRLF line ends, UTF-8): a header row, then one row per
//! item, the `section` column saying what the row is. Columns that do not apply to a section are
//! empty. Byte-for-byte the same for the same report, so its SHA-256 identifies the findings (the
//! PDF prints it on every page).
//!
//! | section | columns used |
//! |---|---|
//! | `scope` | `kind` = period_from, period_to, tables, generated_at, generated_by; `detail` = value |
//! | `policy` | table, `kind` = governs, `status` = cleanup mode, `lower` = cutoff, `detail` = retention, then the basis after " | " |
//! | `inventory` | table, partition, lower, upper, status, rows, bytes, `detail` = note |
//! | `disposal` | table, partition, lower, upper, `at` = dropped at, rows, bytes, `actor` = executed by, requester, request_id, approvers (`;`-separated `name (role)`), fingerprint, `status` = within_policy or early |
//! | `finding` | table, kind, `status` = finding or note, partition, lower, upper, rows, `detail` = explanation |
//! | `verdict` | table, `status` = compliant or findings, `rows` = number of findings, `detail` = summary |
//! | `attestation` | `detail` = the statement a compliance officer signs |
//!
//! Times are RFC 3339 in UTC (`2026-01-01T00:00:00Z`). A text cell starting with `=`, `+`, `-`
//! or `@` gets a leading `'` so a spreadsheet never runs it as a formula; [`parse_findings`]
//! removes it again.

use chrono::{DateTime, SecondsFormat, Utc};

use super::{ComplianceReport, Finding, FindingKind, Severity};
use crate::table::ManagedTable;

pub const COLUMNS: [&str; 16] = [
    "section",
    "table",
    "kind",
    "partition",
    "lower",
    "upper",
    "status",
    "rows",
    "bytes",
    "at",
    "actor",
    "requester",
    "request_id",
    "approvers",
    "fingerprint",
    "detail",
];

#[derive(Default)]
struct Row {
    cells: [String; 16],
}

impl Row {
    fn new(section: &str) -> Row {
        let mut r = Row::default();
        r.cells[0] = section.to_string();
        r
    }
    fn set(mut self, column: &str, value: impl Into<String>) -> Row {
        if let Some(i) = COLUMNS.iter().position(|c| *c == column) {
            self.cells[i] = value.into();
        }
        self
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn opt_time(t: Option<DateTime<Utc>>) -> String {
    t.map(time).unwrap_or_default()
}

fn opt_num(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

/// Neutralises spreadsheet formulas (OWASP "CSV injection").
fn text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

fn untext(s: &str) -> String {
    match s.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest.to_string(),
        _ => s.to_string(),
    }
}

/// The CSV bytes of `report`.
pub fn render(report: &ComplianceReport) -> Vec<u8> {
    let s = &report.scope;
    let mut rows = vec![
        Row::new("scope")
            .set("kind", "period_from")
            .set("detail", s.from.to_string()),
        Row::new("scope")
            .set("kind", "period_to")
            .set("detail", s.to.to_string()),
        Row::new("scope").set("kind", "tables").set(
            "detail",
            s.tables
                .iter()
                .map(|t| t.name())
                .collect::<Vec<_>>()
                .join(";"),
        ),
        Row::new("scope")
            .set("kind", "generated_at")
            .set("detail", time(s.generated_at)),
        Row::new("scope")
            .set("kind", "generated_by")
            .set("detail", text(&s.generated_by)),
    ];
    for p in &report.policies {
        rows.push(
            Row::new("policy")
                .set("table", p.table.name())
                .set("kind", p.governs.as_str())
                .set("status", p.cleanup.as_str())
                .set("lower", time(p.cutoff))
                .set("detail", format!("{} | {}", p.retention, p.basis)),
        );
    }
    for r in &report.inventory {
        rows.push(
            Row::new("inventory")
                .set("table", r.table.name())
                .set("partition", text(&r.partition))
                .set("lower", opt_time(r.lower))
                .set("upper", opt_time(r.upper))
                .set("status", r.status.as_str())
                .set("rows", r.rows.to_string())
                .set("bytes", r.bytes.to_string())
                .set("detail", text(&r.note)),
        );
    }
    for d in &report.disposals {
        rows.push(
            Row::new("disposal")
                .set("table", d.table.name())
                .set("partition", text(&d.partition))
                .set("lower", opt_time(d.lower))
                .set("upper", opt_time(d.upper))
                .set("at", time(d.dropped_at))
                .set("rows", opt_num(d.rows))
                .set("bytes", opt_num(d.bytes))
                .set("actor", text(&d.executed_by))
                .set("requester", text(&d.requested_by))
                .set("request_id", opt_num(d.request_id))
                .set("approvers", text(&d.approvers.join(";")))
                .set("fingerprint", d.fingerprint.clone())
                .set(
                    "status",
                    if d.within_policy {
                        "within_policy"
                    } else {
                        "early"
                    },
                ),
        );
    }
    for f in &report.findings {
        rows.push(finding_row(f));
    }
    for v in &report.verdicts {
        rows.push(
            Row::new("verdict")
                .set("table", v.table.name())
                .set("status", v.word())
                .set("rows", v.findings.to_string())
                .set("detail", text(&v.summary)),
        );
    }
    rows.push(Row::new("attestation").set("detail", text(&report.attestation)));

    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail; a failure would leave a shorter file, never a panic.
    let _ = w.write_record(COLUMNS);
    for r in &rows {
        let _ = w.write_record(&r.cells);
    }
    w.into_inner().unwrap_or_default()
}

fn finding_row(f: &Finding) -> Row {
    Row::new("finding")
        .set("table", f.table.name())
        .set("kind", f.kind.as_str())
        .set("status", f.severity.as_str())
        .set("partition", text(&f.partition))
        .set("lower", opt_time(f.lower))
        .set("upper", opt_time(f.upper))
        .set("rows", opt_num(f.rows))
        .set("detail", text(&f.explanation))
}

/// A CSV that is not a report of this layout; the text names the line and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("report CSV line {line}: {message}")]
pub struct ParseError {
    pub line: u64,
    pub message: String,
}

/// Reads the `finding` rows of a report CSV back (auditors' tooling, and the round-trip test).
pub fn parse_findings(bytes: &[u8]) -> Result<Vec<Finding>, ParseError> {
    let mut r = ::csv::ReaderBuilder::new().from_reader(bytes);
    let err = |line: u64, message: String| ParseError { line, message };
    let header = r
        .headers()
        .map_err(|e| err(1, e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
    if header != COLUMNS {
        return Err(err(1, format!("the header is not {}", COLUMNS.join(","))));
    }
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| err(e.position().map_or(0, |p| p.line()), e.to_string()))?;
        let line = rec.position().map_or(0, |p| p.line());
        let cell = |name: &str| {
            COLUMNS
                .iter()
                .position(|c| *c == name)
                .and_then(|i| rec.get(i))
                .unwrap_or("")
        };
        if cell("section") != "finding" {
            continue;
        }
        let when = |name: &str| -> Result<Option<DateTime<Utc>>, ParseError> {
            match cell(name) {
                "" => Ok(None),
                t => DateTime::parse_from_rfc3339(t)
                    .map(|t| Some(t.with_timezone(&Utc)))
                    .map_err(|e| err(line, format!("{name} '{t}': {e}"))),
            }
        };
        let rows = match cell("rows") {
            "" => None,
            t => Some(
                t.parse::<i64>()
                    .map_err(|e| err(line, format!("rows '{t}': {e}")))?,
            ),
        };
        out.push(Finding {
            table: ManagedTable::parse(cell("table")).map_err(|e| err(line, e.to_string()))?,
            kind: FindingKind::parse(cell("kind"))
                .ok_or_else(|| err(line, format!("unknown finding kind '{}'", cell("kind"))))?,
            severity: Severity::parse(cell("status"))
                .ok_or_else(|| err(line, format!("unknown severity '{}'", cell("status"))))?,
            partition: untext(cell("partition")),
            lower: when("lower")?,
            upper: when("upper")?,
            rows,
            explanation: untext(cell("detail")),
        });
    }
    Ok(out)
}
