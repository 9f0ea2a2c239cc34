//! The legal and operational basis of each table's retention, and the attestation a compliance
//! officer signs. The citations are DOMAIN.md's: 45 CFR 164.316(b)(2)(i) (documentation kept six
//! years), 164.312(b) (audit controls), 164.310(d)(2)(i) (disposal), NIST SP 800-53 AU-9(5) and
//! AU-11.

use chrono::{DateTime, Utc};

use super::{Governs, PolicyBasis, ReportScope};
use crate::policy::{CleanupMode, Policy, Retention, HIPAA_MIN_RETENTION_YEARS};
use crate::table::ManagedTable;

/// The policy row of the report for `policy`, as of `now`.
pub fn policy_basis(policy: &Policy, now: DateTime<Utc>) -> PolicyBasis {
    let table = policy.table;
    let retention = policy.retention;
    let cleanup_text = match policy.cleanup {
        CleanupMode::Approval => {
            "Disposal needs a two-person approval in the console (a DBA and, for the audit log, a compliance officer; NIST SP 800-53 AU-9(5)), recorded in the hash-chained audit trail."
        }
        CleanupMode::Auto => {
            "Partitions past retention are dropped automatically by the scheduled cleanup; every drop is written to the append-only action log."
        }
    };
    let (governs, basis) = if table == ManagedTable::AuthAuditLog {
        // Longer than six years whatever the day: six calendar years span at most 2,192 days.
        let above_floor = match retention {
            Retention::Years(y) => y > HIPAA_MIN_RETENTION_YEARS,
            Retention::Days(d) => u64::from(d) > u64::from(HIPAA_MIN_RETENTION_YEARS) * 365 + 2,
        };
        let governs = if above_floor {
            Governs::OrganisationalPolicy
        } else {
            Governs::HipaaFloor
        };
        let which = match governs {
            Governs::OrganisationalPolicy => format!(
                "The organisational policy of {retention} governs: it is longer than the HIPAA floor of {HIPAA_MIN_RETENTION_YEARS} years, so keeping to it also meets the floor."
            ),
            _ => format!(
                "The HIPAA floor of {HIPAA_MIN_RETENTION_YEARS} years governs: the configured retention ({retention}) does not exceed it."
            ),
        };
        (
            governs,
            format!(
                "Audit controls record activity on systems holding ePHI (45 CFR 164.312(b)); this log is documentation HIPAA requires to be kept {HIPAA_MIN_RETENTION_YEARS} years from creation (45 CFR 164.316(b)(2)(i); NIST SP 800-53 AU-11). {which} No code path drops an audit partition younger than {HIPAA_MIN_RETENTION_YEARS} years (config parser, planner, executor, SQL function, table CHECK and event trigger each refuse it). Final disposition follows the disposal policy (45 CFR 164.310(d)(2)(i)). {cleanup_text}"
            ),
        )
    } else {
        let what = match table {
            ManagedTable::Sessions => "login sessions",
            ManagedTable::RefreshTokens => "refresh tokens",
            ManagedTable::RateLimits => "rate-limit counters",
            ManagedTable::AuthAuditLog => "audit events",
        };
        (
            Governs::OperationalPolicy,
            format!(
                "Operational policy (config/partitioning.conf): {what} are not documentation HIPAA requires to be retained; they are kept {retention} for operations and security review, then disposed of so no credential material outlives its use. {cleanup_text}"
            ),
        )
    };
    PolicyBasis {
        table,
        period: table.period(),
        retention,
        cleanup: policy.cleanup,
        governs,
        cutoff: policy.retention.cutoff(now),
        basis,
    }
}

/// The statement a compliance officer signs. It names the period and the tables; the signature
/// itself (name, time, the files' SHA-256) is recorded separately, so the files never change.
pub fn attestation_text(scope: &ReportScope) -> String {
    let tables: Vec<&str> = scope.tables.iter().map(|t| t.name()).collect();
    format!(
        "I have reviewed this retention compliance report for {} covering {} to {} (UTC), generated {} by {}. \
         To the best of my knowledge it accurately describes the retention and disposal of these tables, \
         each finding is listed with its explanation, and the disposals shown were carried out under the stated policies.",
        tables.join(", "),
        scope.from,
        scope.to,
        scope.generated_at.format("%Y-%m-%d %H:%M:%S UTC"),
        scope.generated_by
    )
}
