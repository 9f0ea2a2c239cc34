-- no-transaction
-- 005 down: removes the rate_limits table (run 006 down first if it is partitioned).
BEGIN;
DROP TABLE IF EXISTS rate_limits;
COMMIT;
