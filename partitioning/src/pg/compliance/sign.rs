//! Signing a stored report: a separate, append-only record naming the files' SHA-256 (the files
//! themselves never change), written with its audit-trail entry in one transaction.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

use super::ReportError;
use crate::access::Role;
use crate::compliance::{self, ReportSignature};
use crate::pg::audit::{self, AuditEvent};

/// Records `signer`'s attestation of report `id`: the report's attestation text and the SHA-256
/// of both files, in the audit trail (`report_signed`) and `compliance_report_signatures`. The
/// stored files are not touched. Refused for roles that cannot sign and for a second signature
/// by the same account.
pub async fn sign(
    pool: &PgPool,
    id: i64,
    signer: &str,
    role: Role,
    signer_name: &str,
) -> Result<ReportSignature, ReportError> {
    if !compliance::can_sign(role) {
        return Err(ReportError::Refused(format!(
            "Only a compliance officer or an admin signs reports; {signer} has the {role} role."
        )));
    }
    let name = crate::access::parse_display_name(signer_name)
        .map_err(|e| ReportError::Refused(format!("The name to sign with: {e}.")))?;
    if name.is_empty() {
        return Err(ReportError::Refused(
            "Type your full name to sign: it is recorded with the signature.".into(),
        ));
    }
    let mut tx = pool.begin().await?;
    let Some(row) = sqlx::query(
        "SELECT csv_sha256, pdf_sha256, model->>'attestation' AS attestation FROM compliance_reports WHERE id = $1 FOR SHARE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Err(ReportError::Refused(format!("There is no report {id}.")));
    };
    let decoded: Result<(String, String, Option<String>), sqlx::Error> = (|| {
        Ok((
            row.try_get("csv_sha256")?,
            row.try_get("pdf_sha256")?,
            row.try_get("attestation")?,
        ))
    })();
    let (csv_sha, pdf_sha, attestation) = decoded.map_err(|e| {
        tracing::error!(id, error = %e, "compliance report: the stored report does not decode");
        e
    })?;
    let attestation = attestation.unwrap_or_default();
    let already: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM compliance_report_signatures WHERE report_id = $1 AND signer = $2)",
    )
    .bind(id)
    .bind(signer)
    .fetch_one(&mut *tx)
    .await?;
    if already {
        return Err(ReportError::Refused(format!(
            "You ({signer}) have already signed report {id}; a signature cannot be changed or repeated."
        )));
    }
    let event = AuditEvent::new(
        signer,
        "report_signed",
        format!("report:{id}"),
        serde_json::json!({
            "signer_name": name, "role": role.name(), "attestation": attestation,
            "csv_sha256": csv_sha, "pdf_sha256": pdf_sha,
        }),
    );
    let audit_id = audit::append(&mut *tx, &event).await?;
    let signed_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO compliance_report_signatures (report_id, signer, signer_name, role, attestation, \
             csv_sha256, pdf_sha256, audit_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING signed_at",
    )
    .bind(id)
    .bind(signer)
    .bind(&name)
    .bind(role.name())
    .bind(&attestation)
    .bind(&csv_sha)
    .bind(&pdf_sha)
    .bind(audit_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(id, %signer, "compliance report signed");
    Ok(ReportSignature {
        signed_at,
        signer: signer.to_string(),
        signer_name: name,
        role: role.name().to_string(),
        attestation,
        csv_sha256: csv_sha,
        pdf_sha256: pdf_sha,
        audit_id,
    })
}
