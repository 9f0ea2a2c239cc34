-- no-transaction
-- 013 down: the batched creator is removed; the executor falls back to rustcare_create_partition
-- (one partition a transaction), as before 013. Partitions it created stay.
BEGIN;

DROP FUNCTION IF EXISTS rustcare_create_partitions(text, date[]);

COMMIT;
