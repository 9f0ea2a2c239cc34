//! A generated report as stored (migration 010) and listed: its scope, verdicts, the SHA-256 of
//! each file and who signed it. The files themselves never change; a signature is a separate
//! record naming the hashes it covers.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::access::Role;

/// Which file of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    Csv,
    Pdf,
}

impl ReportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ReportFormat::Csv => "csv",
            ReportFormat::Pdf => "pdf",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ReportFormat::Csv => "text/csv; charset=utf-8",
            ReportFormat::Pdf => "application/pdf",
        }
    }

    pub fn parse(text: &str) -> Option<ReportFormat> {
        match text.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(ReportFormat::Csv),
            "pdf" => Some(ReportFormat::Pdf),
            _ => None,
        }
    }

    /// The file name a download is saved under: `compliance-report-12.pdf`.
    pub fn file_name(self, id: i64) -> String {
        format!("compliance-report-{id}.{}", self.extension())
    }
}

/// One attestation of a stored report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSignature {
    pub signed_at: DateTime<Utc>,
    /// The console account.
    pub signer: String,
    /// The name typed when signing.
    pub signer_name: String,
    pub role: String,
    pub attestation: String,
    pub csv_sha256: String,
    pub pdf_sha256: String,
    /// The `audit_trail` row that records it.
    pub audit_id: i64,
}

/// A stored report without its files: what lists and the report page header show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredReport {
    pub id: i64,
    pub generated_at: DateTime<Utc>,
    pub generated_by: String,
    pub period_from: NaiveDate,
    pub period_to: NaiveDate,
    pub tables: Vec<String>,
    pub compliant: bool,
    pub findings: i32,
    /// `table: compliant` / `table: 3 findings`, in table order.
    pub verdicts: Vec<(String, bool, i64)>,
    pub csv_sha256: String,
    pub pdf_sha256: String,
    pub csv_bytes: i64,
    pub pdf_bytes: i64,
    pub pdf_pages: i32,
    pub signatures: Vec<ReportSignature>,
}

impl StoredReport {
    pub fn is_signed(&self) -> bool {
        !self.signatures.is_empty()
    }

    /// Whether `role` may open this report: compliance and admin always; dba and viewer once a
    /// compliance officer has signed it (an unsigned report is a draft under review).
    pub fn readable_by(&self, role: Role) -> bool {
        role.can(crate::access::Capability::Compliance) || self.is_signed()
    }
}

/// Whether `role` may sign reports (compliance officers and admins).
pub fn can_sign(role: Role) -> bool {
    role.can(crate::access::Capability::Compliance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_reads_what() {
        let mut r = StoredReport {
            id: 1,
            generated_at: DateTime::<Utc>::MIN_UTC,
            generated_by: "c".into(),
            period_from: NaiveDate::MIN,
            period_to: NaiveDate::MIN,
            tables: vec![],
            compliant: true,
            findings: 0,
            verdicts: vec![],
            csv_sha256: String::new(),
            pdf_sha256: String::new(),
            csv_bytes: 0,
            pdf_bytes: 0,
            pdf_pages: 1,
            signatures: vec![],
        };
        // (role, reads unsigned, reads signed, signs)
        for (role, unsigned, signed, signs) in [
            (Role::Viewer, false, true, false),
            (Role::Dba, false, true, false),
            (Role::Compliance, true, true, true),
            (Role::Admin, true, true, true),
        ] {
            r.signatures.clear();
            assert_eq!(r.readable_by(role), unsigned, "{role}");
            r.signatures.push(ReportSignature {
                signed_at: DateTime::<Utc>::MIN_UTC,
                signer: "c".into(),
                signer_name: "C".into(),
                role: "compliance".into(),
                attestation: String::new(),
                csv_sha256: String::new(),
                pdf_sha256: String::new(),
                audit_id: 1,
            });
            assert_eq!(r.readable_by(role), signed, "{role}");
            assert_eq!(can_sign(role), signs, "{role}");
        }
        assert_eq!(ReportFormat::parse(" PDF "), Some(ReportFormat::Pdf));
        assert_eq!(ReportFormat::Csv.file_name(7), "compliance-report-7.csv");
    }
}
