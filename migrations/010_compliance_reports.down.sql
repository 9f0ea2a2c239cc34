-- no-transaction
-- 010 down: removes stored compliance reports and their signatures (evidence: export them first).
BEGIN;
DROP TABLE IF EXISTS compliance_report_signatures;
DROP TABLE IF EXISTS compliance_reports;
DROP FUNCTION IF EXISTS rustcare_refuse_report_change();
COMMIT;
