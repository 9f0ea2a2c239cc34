-- no-transaction
-- 004 down: removes the refresh_tokens table (run 006 down first if it is partitioned).
BEGIN;
DROP TABLE IF EXISTS refresh_tokens;
COMMIT;
