-- no-transaction
-- 013: rustcare_create_partitions(table, days[]) creates many partitions in one transaction: one
-- advisory lock, one commit, one round trip, each partition still LIKE + ATTACH (SHARE UPDATE
-- EXCLUSIVE on the parent: reads and writes go on) and each logged in partition_action_log.
--
-- Why batch: at 5,000 partitions, ATTACH PARTITION costs PostgreSQL more than CREATE TABLE ...
-- PARTITION OF (measured: BENCHMARKS.md), so one transaction per partition, each waiting for its
-- own WAL flush, was 1.24x a plain loop. The executor sends consecutive creates of a table in
-- batches (EXECUTOR_BATCH in partitioning/src/pg/executor/batch.rs).
--
-- Why no CHECK here, unlike rustcare_create_partition: the CHECK matching the bounds spares ATTACH
-- the validation scan of a table that already holds rows. These tables are created empty in this
-- same transaction, under ACCESS EXCLUSIVE, so that scan reads no page; the CHECK would only add
-- two catalog changes (ADD, then DROP) per partition.
--
-- Crash safety: the whole batch is one transaction. Killed anywhere, nothing of it remains (no
-- table, no log row) and the next run plans and creates the same partitions again. A failure on
-- one partition (a stray table in the way, a lock timeout) aborts the batch; the executor then
-- creates that batch one partition at a time through rustcare_create_partition, so the others are
-- still made and the failure is reported for the one partition concerned.
-- Runs through sqlx and as `psql $DATABASE_URL -f migrations/013_batched_partition_create.up.sql`.
BEGIN;

CREATE OR REPLACE FUNCTION rustcare_create_partitions(table_name text, days date[]) RETURNS text[]
LANGUAGE plpgsql SET lock_timeout = '5s' AS $$
DECLARE
    pol     partition_policy%ROWTYPE;
    part    record;
    parent  regclass;
    found_rel regclass;
    lo      text;
    hi      text;
    d       date;
    made    text[] := '{}';
BEGIN
    SELECT * INTO pol FROM partition_policy p WHERE p.table_name = rustcare_create_partitions.table_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no partition_policy row for table %', rustcare_create_partitions.table_name
            USING HINT = 'Managed tables: auth_audit_log, sessions, refresh_tokens, rate_limits.';
    END IF;
    IF days IS NULL OR array_position(days, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'rustcare_create_partitions(%): the list of dates is NULL or holds a NULL', pol.table_name;
    END IF;
    parent := to_regclass(format('%I', pol.table_name));
    IF parent IS NULL OR (SELECT c.relkind FROM pg_class c WHERE c.oid = parent) <> 'p' THEN
        RAISE EXCEPTION '% is not a partitioned table', pol.table_name
            USING HINT = 'Apply migrations/006_add_table_partitioning.up.sql first.';
    END IF;
    PERFORM pg_advisory_xact_lock(rustcare_partition_lock_key(pol.table_name));

    FOREACH d IN ARRAY days LOOP
        SELECT * INTO part FROM rustcare_partition_for(pol.table_name, d);
        found_rel := to_regclass(format('%I', part.partition_name));
        IF found_rel IS NOT NULL THEN
            IF EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = found_rel AND i.inhparent = parent) THEN
                made := made || NULL::text;  -- already there: creating is idempotent
                CONTINUE;
            END IF;
            RAISE EXCEPTION 'a table named % exists but is not a partition of %', part.partition_name, pol.table_name
                USING HINT = 'Probably left by an interrupted detach: check its rows, then attach or drop it.';
        END IF;
        lo := rustcare_bound_literal(part.lower_bound);
        hi := rustcare_bound_literal(part.upper_bound);
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)',
                       part.partition_name, pol.table_name);
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       pol.table_name, part.partition_name, lo, hi);
        PERFORM rustcare_log_partition_action(pol.table_name, part.partition_name, 'create',
            part.lower_bound, part.upper_bound, 0, NULL, 'ok', 'LIKE + ATTACH (batched, created empty)');
        made := made || part.partition_name;
    END LOOP;
    RETURN made;
END;
$$;
COMMENT ON FUNCTION rustcare_create_partitions(text, date[]) IS
    'Creates and attaches the partitions of table_name holding each UTC day of days, in one transaction under the table''s advisory lock (LIKE + ATTACH: no ACCESS EXCLUSIVE on the parent); logs each. Returns, per day in order, the name created or NULL if it already existed. Any failure aborts the whole batch.';

COMMIT;
