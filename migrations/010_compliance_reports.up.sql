-- no-transaction
-- 010: stored HIPAA retention compliance reports and their signatures.
--   compliance_reports            each generated report: scope, verdicts, the report model (jsonb,
--                                 for the console's HTML view) and the exact CSV and PDF bytes
--                                 served on every download, with the SHA-256 of each
--   compliance_report_signatures  a compliance officer's attestation of one report: a separate
--                                 record naming the files' hashes, so signing never changes a file
-- Both are append-only (a report is evidence): UPDATE, DELETE and TRUNCATE are refused.
-- Runs through sqlx (the line above stops sqlx wrapping it: the file carries its own BEGIN/COMMIT)
-- and as `psql $DATABASE_URL -f migrations/010_compliance_reports.up.sql`. Safe to run twice.
BEGIN;

CREATE TABLE IF NOT EXISTS compliance_reports (
    id            bigint      GENERATED ALWAYS AS IDENTITY,
    generated_at  timestamptz NOT NULL,
    generated_by  text        NOT NULL,
    period_from   date        NOT NULL,
    period_to     date        NOT NULL,
    tables        text[]      NOT NULL,
    -- true when every table's verdict is "compliant"; findings = number of findings (not notes).
    compliant     boolean     NOT NULL,
    findings      integer     NOT NULL,
    -- [{"table": ..., "compliant": ..., "findings": ..., "notes": ..., "summary": ...}]
    verdicts      jsonb       NOT NULL,
    -- The whole partitioning::compliance::ComplianceReport the files were rendered from.
    model         jsonb       NOT NULL,
    csv           bytea       NOT NULL,
    csv_sha256    text        NOT NULL,
    pdf           bytea       NOT NULL,
    pdf_sha256    text        NOT NULL,
    pdf_pages     integer     NOT NULL,
    CONSTRAINT compliance_reports_pkey PRIMARY KEY (id),
    CONSTRAINT compliance_reports_period_check CHECK (period_to >= period_from),
    CONSTRAINT compliance_reports_tables_check CHECK (cardinality(tables) BETWEEN 1 AND 4 AND
        tables <@ ARRAY['auth_audit_log', 'sessions', 'refresh_tokens', 'rate_limits']::text[]),
    CONSTRAINT compliance_reports_findings_check CHECK (findings >= 0 AND compliant = (findings = 0)),
    CONSTRAINT compliance_reports_generated_by_check CHECK (char_length(generated_by) BETWEEN 1 AND 200),
    -- The stored hashes are the files' own: a mismatch cannot be written.
    CONSTRAINT compliance_reports_csv_sha256_check CHECK (csv_sha256 = encode(sha256(csv), 'hex')),
    CONSTRAINT compliance_reports_pdf_sha256_check CHECK (pdf_sha256 = encode(sha256(pdf), 'hex')),
    CONSTRAINT compliance_reports_pdf_pages_check CHECK (pdf_pages >= 1)
);
CREATE INDEX IF NOT EXISTS idx_compliance_reports_generated_at ON compliance_reports (generated_at);
COMMENT ON TABLE compliance_reports IS
    'HIPAA retention compliance reports as generated: downloads serve these exact bytes (append-only).';

CREATE TABLE IF NOT EXISTS compliance_report_signatures (
    id           bigint      GENERATED ALWAYS AS IDENTITY,
    report_id    bigint      NOT NULL,
    signed_at    timestamptz NOT NULL DEFAULT now(),
    -- The console account that signed, its display name typed at signing, and its role then.
    signer       text        NOT NULL,
    signer_name  text        NOT NULL,
    role         text        NOT NULL,
    -- The statement signed (the report's attestation text) and the files it covers.
    attestation  text        NOT NULL,
    csv_sha256   text        NOT NULL,
    pdf_sha256   text        NOT NULL,
    -- The audit_trail row recording the signature.
    audit_id     bigint      NOT NULL,
    CONSTRAINT compliance_report_signatures_pkey PRIMARY KEY (id),
    CONSTRAINT compliance_report_signatures_report_fkey FOREIGN KEY (report_id)
        REFERENCES compliance_reports (id),
    CONSTRAINT compliance_report_signatures_once UNIQUE (report_id, signer),
    CONSTRAINT compliance_report_signatures_role_check CHECK (role IN ('compliance', 'admin')),
    CONSTRAINT compliance_report_signatures_name_check CHECK (char_length(signer_name) BETWEEN 1 AND 100),
    CONSTRAINT compliance_report_signatures_hash_check CHECK (
        csv_sha256 ~ '^[0-9a-f]{64}$' AND pdf_sha256 ~ '^[0-9a-f]{64}$')
);
CREATE INDEX IF NOT EXISTS idx_compliance_report_signatures_report
    ON compliance_report_signatures (report_id);
COMMENT ON TABLE compliance_report_signatures IS
    'Attestations of stored compliance reports; each names the SHA-256 of the CSV and PDF it covers (append-only).';

CREATE OR REPLACE FUNCTION rustcare_refuse_report_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused (a stored compliance report is evidence)',
        TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

DROP TRIGGER IF EXISTS compliance_reports_append_only ON compliance_reports;
CREATE TRIGGER compliance_reports_append_only BEFORE UPDATE OR DELETE ON compliance_reports
    FOR EACH ROW EXECUTE FUNCTION rustcare_refuse_report_change();
DROP TRIGGER IF EXISTS compliance_reports_no_truncate ON compliance_reports;
CREATE TRIGGER compliance_reports_no_truncate BEFORE TRUNCATE ON compliance_reports
    FOR EACH STATEMENT EXECUTE FUNCTION rustcare_refuse_report_change();
DROP TRIGGER IF EXISTS compliance_report_signatures_append_only ON compliance_report_signatures;
CREATE TRIGGER compliance_report_signatures_append_only BEFORE UPDATE OR DELETE
    ON compliance_report_signatures
    FOR EACH ROW EXECUTE FUNCTION rustcare_refuse_report_change();
DROP TRIGGER IF EXISTS compliance_report_signatures_no_truncate ON compliance_report_signatures;
CREATE TRIGGER compliance_report_signatures_no_truncate BEFORE TRUNCATE ON compliance_report_signatures
    FOR EACH STATEMENT EXECUTE FUNCTION rustcare_refuse_report_change();

COMMIT;
