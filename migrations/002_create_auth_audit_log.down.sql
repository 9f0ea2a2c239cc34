-- no-transaction
-- 002 down: removes the audit trail table (run 006 down first if it is partitioned).
BEGIN;
DROP TABLE IF EXISTS auth_audit_log;
COMMIT;
