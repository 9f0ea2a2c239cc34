-- no-transaction
-- 008 down: removes the size history and the wall-display links.
BEGIN;
DROP TABLE IF EXISTS wall_tokens;
DROP TABLE IF EXISTS partition_size_sample;
COMMIT;
