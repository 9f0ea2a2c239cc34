//! Compliance reports in PostgreSQL: reads what a report is built from (catalog, exact counts of
//! default partitions, the action log, cleanup requests and approvals), stores each generated
//! report with its CSV and PDF bytes (migration 010), serves those exact bytes again, and records
//! signatures. Generating, downloading and signing are written to the audit trail in the same
//! transaction as what they record.

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};

use super::audit::{self, AuditEvent};

mod sign;
use crate::access::Role;
use crate::compliance::{
    self, ActionRecord, ApprovalRecord, ComplianceReport, ReportFormat, ReportInputs, ReportScope,
    ReportSignature, RequestRecord, ScopeError, StoredReport,
};
use crate::policy::Policy;
use crate::table::{quote_ident, ManagedTable};
pub use sign::sign;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The period or tables asked for are not acceptable (nothing was stored).
    #[error("{0}")]
    Scope(#[from] ScopeError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Refused(String),
}

/// What a person asks for; the generation time is the database server's clock.
pub struct ReportRequest<'a> {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Empty: all four.
    pub tables: &'a [ManagedTable],
    pub generated_by: &'a str,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads every input of a report for `scope` (its `generated_at` is replaced by the snapshot's
/// server time, truncated to whole seconds, so the report's "now" is the catalog's), all in one
/// repeatable-read transaction.
pub async fn load_inputs(
    pool: &PgPool,
    policies: &[Policy],
    req: &ReportRequest<'_>,
) -> Result<ReportInputs, ReportError> {
    // One repeatable-read transaction: the catalog, the default partitions' counts and the logs
    // that explain them are read as of one moment, so a drop is in the report exactly when its
    // partition is gone from the catalog (a log read afterwards could hold a drop the catalog
    // does not show yet, and one bounded by the truncated "now" missed a drop logged earlier in
    // the same second).
    let mut tx = super::catalog::begin_snapshot(pool).await?;
    let mut snapshot =
        super::catalog::snapshot_in(&mut tx, req.tables, super::catalog::Detail::Full).await?;
    let now: DateTime<Utc> = snapshot.taken_at.trunc_subsecs(0);
    let scope = ReportScope::new(req.from, req.to, req.tables, now, req.generated_by)?;
    // Exact counts for default partitions: an estimate of 0 (never analyzed) must not hide rows.
    for t in &mut snapshot.tables {
        if let Some(d) = t.default_partition.as_mut() {
            let sql = format!("SELECT count(*) FROM {}", quote_ident(&d.name));
            d.est_rows = sqlx::query_scalar::<_, i64>(&sql)
                .fetch_one(&mut *tx)
                .await?;
        }
    }
    let names: Vec<&str> = scope.tables.iter().map(|t| t.name()).collect();
    let rows = sqlx::query(
        "SELECT id, at, actor, table_name, partition_name, action, lower_bound, upper_bound, \
                row_estimate, bytes, outcome, request_id \
           FROM partition_action_log \
          WHERE table_name = ANY($1) AND action IN ('create', 'drop') AND outcome = 'ok' \
          ORDER BY id",
    )
    .bind(&names)
    .fetch_all(&mut *tx)
    .await?;
    let actions = rows
        .iter()
        .map(|r| {
            Ok(ActionRecord {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                table: r.try_get("table_name")?,
                partition: r.try_get("partition_name")?,
                action: r.try_get("action")?,
                lower: r.try_get("lower_bound")?,
                upper: r.try_get("upper_bound")?,
                rows: r.try_get("row_estimate")?,
                bytes: r.try_get("bytes")?,
                outcome: r.try_get("outcome")?,
                request_id: r.try_get("request_id")?,
            })
        })
        .collect::<Result<Vec<ActionRecord>, sqlx::Error>>()
        .map_err(|e| decode_error("partition_action_log", e))?;
    let ids: Vec<i64> = actions.iter().filter_map(|a| a.request_id).collect();
    // The requests the drops name, and the open ones (they explain partitions kept past retention).
    let requests = sqlx::query(
        "SELECT id, requested_by, fingerprint, state, needs_compliance, \
                ARRAY(SELECT a->>'partition' FROM jsonb_array_elements(actions) AS a \
                       WHERE a->>'partition' IS NOT NULL) AS partitions \
           FROM cleanup_requests \
          WHERE id = ANY($1) OR state IN ('pending', 'approved', 'executing') ORDER BY id",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| {
        Ok(RequestRecord {
            id: r.try_get("id")?,
            requested_by: r.try_get("requested_by")?,
            fingerprint: r.try_get("fingerprint")?,
            state: r.try_get("state")?,
            needs_compliance: r.try_get("needs_compliance")?,
            partitions: r.try_get("partitions")?,
        })
    })
    .collect::<Result<Vec<RequestRecord>, sqlx::Error>>()
    .map_err(|e| decode_error("cleanup_requests", e))?;
    let approvals = sqlx::query(
        "SELECT request_id, actor, role, decision FROM cleanup_approvals WHERE request_id = ANY($1) ORDER BY at, id",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| {
        Ok(ApprovalRecord {
            request_id: r.try_get("request_id")?,
            actor: r.try_get("actor")?,
            role: r.try_get("role")?,
            decision: r.try_get("decision")?,
        })
    })
    .collect::<Result<Vec<ApprovalRecord>, sqlx::Error>>()
    .map_err(|e| decode_error("cleanup_approvals", e))?;
    tx.commit().await?;
    Ok(ReportInputs {
        scope,
        policies: policies.to_vec(),
        snapshot,
        actions,
        requests,
        approvals,
    })
}

/// Builds, renders and stores a report, and records `report_generated` in the audit trail (one
/// transaction). `actor` is who the audit trail names (`alice`, `cli:bob`).
pub async fn generate(
    pool: &PgPool,
    policies: &[Policy],
    req: &ReportRequest<'_>,
    actor: &str,
) -> Result<StoredReport, ReportError> {
    let inputs = load_inputs(pool, policies, req).await?;
    let report = compliance::build(&inputs);
    let csv = compliance::csv::render(&report);
    let csv_sha = sha256_hex(&csv);
    let pdf = compliance::pdf::render(&report, &csv_sha);
    let pdf_sha = sha256_hex(&pdf);
    let pages = compliance::pdf::page_count(&report) as i32;
    let verdicts = serde_json::to_value(&report.verdicts).unwrap_or_default();
    let model = serde_json::to_value(&report).unwrap_or_default();
    let tables: Vec<&str> = report.scope.tables.iter().map(|t| t.name()).collect();
    let mut tx = pool.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO compliance_reports (generated_at, generated_by, period_from, period_to, tables, \
             compliant, findings, verdicts, model, csv, csv_sha256, pdf, pdf_sha256, pdf_pages) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
    )
    .bind(report.scope.generated_at)
    .bind(&report.scope.generated_by)
    .bind(report.scope.from)
    .bind(report.scope.to)
    .bind(&tables)
    .bind(report.compliant())
    .bind(report.finding_count() as i32)
    .bind(&verdicts)
    .bind(&model)
    .bind(&csv)
    .bind(&csv_sha)
    .bind(&pdf)
    .bind(&pdf_sha)
    .bind(pages)
    .fetch_one(&mut *tx)
    .await?;
    let event = AuditEvent::new(
        actor,
        "report_generated",
        format!("report:{id}"),
        serde_json::json!({
            "period_from": report.scope.from, "period_to": report.scope.to, "tables": tables,
            "compliant": report.compliant(), "findings": report.finding_count(),
            "csv_sha256": csv_sha, "pdf_sha256": pdf_sha,
        }),
    );
    audit::append(&mut *tx, &event).await?;
    tx.commit().await?;
    tracing::info!(id, %actor, csv_sha256 = %csv_sha, pdf_sha256 = %pdf_sha, "compliance report generated");
    get(pool, id)
        .await?
        .map(|(stored, _)| stored)
        .ok_or_else(|| ReportError::Refused(format!("report {id} vanished after it was stored")))
}

const SUMMARY_COLUMNS: &str =
    "id, generated_at, generated_by, period_from, period_to, tables, compliant, \
     findings, verdicts, csv_sha256, pdf_sha256, octet_length(csv)::bigint AS csv_bytes, \
     octet_length(pdf)::bigint AS pdf_bytes, pdf_pages";

fn summary(
    r: &sqlx::postgres::PgRow,
    signatures: Vec<ReportSignature>,
) -> Result<StoredReport, sqlx::Error> {
    let verdicts: Vec<compliance::TableVerdict> =
        serde_json::from_value(r.try_get("verdicts")?).unwrap_or_default();
    Ok(StoredReport {
        id: r.try_get("id")?,
        generated_at: r.try_get("generated_at")?,
        generated_by: r.try_get("generated_by")?,
        period_from: r.try_get("period_from")?,
        period_to: r.try_get("period_to")?,
        tables: r.try_get("tables")?,
        compliant: r.try_get("compliant")?,
        findings: r.try_get("findings")?,
        verdicts: verdicts
            .into_iter()
            .map(|v| (v.table.name().to_string(), v.compliant, v.findings as i64))
            .collect(),
        csv_sha256: r.try_get("csv_sha256")?,
        pdf_sha256: r.try_get("pdf_sha256")?,
        csv_bytes: r.try_get("csv_bytes")?,
        pdf_bytes: r.try_get("pdf_bytes")?,
        pdf_pages: r.try_get("pdf_pages")?,
        signatures,
    })
    .map_err(|e| decode_error("compliance_reports", e))
}

/// A column that does not decode as the code expects (a schema this build does not know): logged
/// with the table it came from, returned as an error, never a panic inside a request.
fn decode_error(table: &str, e: sqlx::Error) -> sqlx::Error {
    tracing::error!(table, error = %e, "compliance report: a stored row does not decode");
    e
}

async fn signatures(
    pool: &PgPool,
    ids: &[i64],
) -> Result<Vec<(i64, ReportSignature)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT report_id, signed_at, signer, signer_name, role, attestation, csv_sha256, pdf_sha256, audit_id \
           FROM compliance_report_signatures WHERE report_id = ANY($1) ORDER BY signed_at, id",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("report_id")?,
                ReportSignature {
                    signed_at: r.try_get("signed_at")?,
                    signer: r.try_get("signer")?,
                    signer_name: r.try_get("signer_name")?,
                    role: r.try_get("role")?,
                    attestation: r.try_get("attestation")?,
                    csv_sha256: r.try_get("csv_sha256")?,
                    pdf_sha256: r.try_get("pdf_sha256")?,
                    audit_id: r.try_get("audit_id")?,
                },
            ))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|e| decode_error("compliance_report_signatures", e))
}

/// The latest `limit` reports, newest first, with their signatures.
pub async fn list(pool: &PgPool, limit: i64) -> Result<Vec<StoredReport>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM compliance_reports ORDER BY id DESC LIMIT $1"
    ))
    .bind(limit.clamp(1, 1000))
    .fetch_all(pool)
    .await?;
    let ids = rows
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<Vec<i64>, _>>()
        .map_err(|e| decode_error("compliance_reports", e))?;
    let sigs = signatures(pool, &ids).await?;
    rows.iter()
        .zip(&ids)
        .map(|(r, &id)| {
            let mine = sigs
                .iter()
                .filter(|(rid, _)| *rid == id)
                .map(|(_, s)| s.clone())
                .collect();
            summary(r, mine)
        })
        .collect()
}

/// One stored report and the model it was rendered from.
pub async fn get(
    pool: &PgPool,
    id: i64,
) -> Result<Option<(StoredReport, ComplianceReport)>, sqlx::Error> {
    let Some(r) = sqlx::query(&format!(
        "SELECT {SUMMARY_COLUMNS}, model FROM compliance_reports WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let model: serde_json::Value = r
        .try_get("model")
        .map_err(|e| decode_error("compliance_reports", e))?;
    let model: ComplianceReport = match serde_json::from_value(model) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(id, error = %e, "stored report model does not read back");
            return Err(sqlx::Error::Decode(Box::new(e)));
        }
    };
    let sigs = signatures(pool, &[id])
        .await?
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    Ok(Some((summary(&r, sigs)?, model)))
}

/// A stored file, exactly as generated.
pub struct ReportFile {
    pub bytes: Vec<u8>,
    pub sha256: String,
    pub file_name: String,
}

/// The stored bytes of one file of report `id`, if `role` may read it; records
/// `report_downloaded` (with the file's SHA-256) in the audit trail. `Ok(None)`: no such report.
pub async fn download(
    pool: &PgPool,
    id: i64,
    format: ReportFormat,
    actor: &str,
    role: Role,
) -> Result<Option<ReportFile>, ReportError> {
    let column = match format {
        ReportFormat::Csv => "csv, csv_sha256 AS sha",
        ReportFormat::Pdf => "pdf AS csv, pdf_sha256 AS sha",
    };
    let Some(row) = sqlx::query(&format!(
        "SELECT {column}, EXISTS (SELECT 1 FROM compliance_report_signatures s WHERE s.report_id = r.id) AS signed \
           FROM compliance_reports r WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let decoded: Result<(bool, Vec<u8>, String), sqlx::Error> = (|| {
        Ok((
            row.try_get("signed")?,
            row.try_get("csv")?,
            row.try_get("sha")?,
        ))
    })();
    let (signed, bytes, sha256) = decoded.map_err(|e| decode_error("compliance_reports", e))?;
    if !(role.can(crate::access::Capability::Compliance) || signed) {
        return Err(ReportError::Refused(format!(
            "Report {id} is not signed yet: until a compliance officer signs it, only the compliance and admin roles can open it."
        )));
    }
    let file = ReportFile {
        bytes,
        sha256,
        file_name: format.file_name(id),
    };
    let event = AuditEvent::new(
        actor,
        "report_downloaded",
        format!("report:{id}"),
        serde_json::json!({ "format": format.extension(), "sha256": file.sha256, "bytes": file.bytes.len() }),
    );
    audit::append(pool, &event).await?;
    Ok(Some(file))
}
