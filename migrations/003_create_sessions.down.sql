-- no-transaction
-- 003 down: removes the sessions table (run 006 down first if it is partitioned).
BEGIN;
DROP TABLE IF EXISTS sessions;
COMMIT;
