-- no-transaction
-- 011 down: removes the scheduler history and the online-migration state.
BEGIN;
DROP TABLE IF EXISTS online_migration;
DROP TABLE IF EXISTS scheduler_runs;
COMMIT;
