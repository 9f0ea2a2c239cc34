-- no-transaction
-- 014: `rollback --finish` of auth_audit_log. After an online rollback the partitioned copy is
-- kept as auth_audit_log_before_rollback, its partitions still named auth_audit_log_YYYY_MM; the
-- guard of 006 (rustcare_guard_audit_drop) refuses to drop them while inside retention, although
-- their rows now live in the ordinary auth_audit_log. Decision: the copy may go only through
-- rustcare_finish_audit_rollback(), which in ONE transaction
--   1. checks the state row: a rollback of auth_audit_log, swapped, naming this kept table;
--   2. re-verifies, partition by partition, that every row of the copy is in auth_audit_log with
--      identical values (to_jsonb of both rows equal), refusing with the first partition that
--      misses a row, so nothing under retention is lost;
--   3. files a clearance per verified partition (by oid, for this transaction only) in
--      rustcare_audit_drop_clearance, which only the owner can write, and records each drop in
--      partition_action_log under the kept table's name (not a disposal of audit data: the rows
--      remain in auth_audit_log, so the compliance report's disposal log does not list them);
--   4. drops the copy (the guard lets a partition pass only with a clearance of this transaction)
--      and marks the state finished.
-- A DROP of the copy any other way is refused as before, now with a hint naming the function.
-- Runs through sqlx (the line above stops sqlx wrapping it) and as
-- `psql $DATABASE_URL -f migrations/014_audit_rollback_finish.up.sql`. Safe to run twice.
BEGIN;

CREATE TABLE IF NOT EXISTS rustcare_audit_drop_clearance (
    -- The transaction that verified the partition; the guard honours only its own transaction's.
    txid          xid8        NOT NULL DEFAULT pg_current_xact_id(),
    relid         oid         NOT NULL,
    relname       text        NOT NULL,
    rows_verified bigint      NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT rustcare_audit_drop_clearance_pkey PRIMARY KEY (txid, relid)
);
REVOKE ALL ON rustcare_audit_drop_clearance FROM PUBLIC;
COMMENT ON TABLE rustcare_audit_drop_clearance IS
    'Written only by rustcare_finish_audit_rollback() inside its transaction (and emptied before it commits): the audit partitions of a rolled-back copy verified present row for row in auth_audit_log, which the drop guard lets pass.';

CREATE OR REPLACE FUNCTION rustcare_finish_audit_rollback() RETURNS bigint
LANGUAGE plpgsql SET lock_timeout = '5s' AS $$
DECLARE
    st       online_migration%ROWTYPE;
    kept     regclass;
    live     regclass := to_regclass('auth_audit_log');
    part     record;
    n_rows   bigint;
    n_gone   bigint;
    total    bigint := 0;
    parts    integer := 0;
BEGIN
    SELECT * INTO st FROM online_migration WHERE table_name = 'auth_audit_log' FOR UPDATE;
    IF NOT FOUND OR st.direction <> 'rollback' OR st.phase <> 'swapped' THEN
        RAISE EXCEPTION 'no rollback of auth_audit_log is waiting to be finished'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Run `rustcare-partitions rollback --table auth_audit_log` first.';
    END IF;
    kept := to_regclass(format('%I', st.kept_name));
    IF kept IS NULL OR (SELECT c.relkind FROM pg_class c WHERE c.oid = kept) <> 'p' THEN
        RAISE EXCEPTION '% is not the partitioned copy this rollback kept', st.kept_name
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF live IS NULL OR (SELECT c.relkind FROM pg_class c WHERE c.oid = live) <> 'r' THEN
        RAISE EXCEPTION 'auth_audit_log is not an ordinary table: the rollback is not in effect, its copy is kept'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- Nothing writes the copy (its capture trigger went at the swap); the lock makes it certain.
    EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', kept);
    FOR part IN SELECT c.oid AS relid, c.relname::text AS name, r.lower_bound, r.upper_bound
                FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                CROSS JOIN LATERAL rustcare_partition_range(c.oid::regclass) AS r
                WHERE i.inhparent = kept ORDER BY r.lower_bound NULLS LAST LOOP
        -- Every row of the copy, present in the live table with the same values (compared by
        -- column name, so column order does not matter; a NULL join means missing or changed).
        EXECUTE format('SELECT count(*), count(*) FILTER (WHERE l.id IS NULL) FROM %s AS k '
                       'LEFT JOIN %s AS l ON l.id = k.id AND to_jsonb(l) = to_jsonb(k)',
                       part.relid::regclass, live)
            INTO n_rows, n_gone;
        IF n_gone > 0 THEN
            RAISE EXCEPTION '% of the % rows of % (kept copy %) are not in auth_audit_log with the same values: nothing dropped',
                n_gone, n_rows, part.name, st.kept_name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Find them with: SELECT k.* FROM ' || part.relid::regclass::text
                          || ' k WHERE NOT EXISTS (SELECT 1 FROM auth_audit_log l WHERE l.id = k.id AND to_jsonb(l) = to_jsonb(k)); copy them back before finishing.';
        END IF;
        INSERT INTO rustcare_audit_drop_clearance (relid, relname, rows_verified)
        VALUES (part.relid, part.name, n_rows);
        PERFORM rustcare_log_partition_action(st.kept_name, part.name, 'drop', part.lower_bound,
            part.upper_bound, n_rows, pg_total_relation_size(part.relid), 'ok',
            format('kept copy of an online rollback of auth_audit_log: all %s rows verified present in auth_audit_log before the drop', n_rows));
        total := total + n_rows;
        parts := parts + 1;
    END LOOP;
    EXECUTE format('DROP TABLE %s', kept);
    DELETE FROM rustcare_audit_drop_clearance WHERE txid = pg_current_xact_id();
    UPDATE online_migration SET phase = 'finished', updated_at = now(),
           detail = format('finished: %s dropped after verifying %s rows in %s partitions', st.kept_name, total, parts)
     WHERE table_name = 'auth_audit_log';
    RETURN total;
END;
$$;
COMMENT ON FUNCTION rustcare_finish_audit_rollback() IS
    'Finishes an online rollback of auth_audit_log: verifies every row of the kept partitioned copy is in auth_audit_log with the same values, records each partition''s drop in partition_action_log (under the kept table''s name), drops the copy past the audit drop guard, marks the state finished. Returns the rows verified.';
REVOKE ALL ON FUNCTION rustcare_finish_audit_rollback() FROM PUBLIC;

CREATE OR REPLACE FUNCTION rustcare_guard_audit_drop() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    obj       record;
    cutoff    timestamptz;
    month_end timestamptz;
    cleared   boolean;
BEGIN
    FOR obj IN SELECT * FROM pg_event_trigger_dropped_objects()
               WHERE object_type = 'table' AND object_name ~ '^auth_audit_log_[0-9]{4}_(0[1-9]|1[0-2])$' LOOP
        IF cutoff IS NULL THEN
            BEGIN
                cutoff := rustcare_retention_cutoff('auth_audit_log');
            EXCEPTION WHEN undefined_table OR insufficient_privilege THEN
                -- The policy table is being dropped too, or is unreadable: assume 7 years.
                cutoff := (now() AT TIME ZONE 'UTC' - interval '7 years') AT TIME ZONE 'UTC';
            END;
        END IF;
        month_end := (to_date(substr(obj.object_name, 16), 'YYYY_MM') + interval '1 month') AT TIME ZONE 'UTC';
        IF month_end > cutoff THEN
            -- A partition of a rolled-back copy verified row for row by
            -- rustcare_finish_audit_rollback() in this very transaction: its rows are kept.
            BEGIN
                SELECT EXISTS (SELECT 1 FROM rustcare_audit_drop_clearance c
                               WHERE c.txid = pg_current_xact_id() AND c.relid = obj.objid)
                  INTO cleared;
            EXCEPTION WHEN undefined_table OR insufficient_privilege THEN
                cleared := false;
            END;
            IF cleared THEN
                CONTINUE;
            END IF;
            RAISE EXCEPTION 'refusing to drop %: it is inside the audit-log retention (its month ends %, the retention cutoff is %)',
                obj.object_identity, rustcare_bound_literal(month_end), rustcare_bound_literal(cutoff)
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Audit partitions go only after retention, through drop_old_partitions() or an approved cleanup. Dropping auth_audit_log itself is refused while it holds such partitions. The copy an online rollback keeps goes with `rustcare-partitions rollback --finish --table auth_audit_log` (SELECT rustcare_finish_audit_rollback()), which verifies every row is in auth_audit_log first.';
        END IF;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION rustcare_guard_audit_drop() IS
    'Event trigger (sql_drop): refuses any DROP removing an auth_audit_log_YYYY_MM table whose month ends after now() - audit retention, including DROP of auth_audit_log itself, unless rustcare_finish_audit_rollback() verified it in the same transaction.';

-- Fixed search_path, as 006 gives its functions (CREATE OR REPLACE dropped the guard's).
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             WHERE p.pronamespace = current_schema()::regnamespace
               AND p.proname IN ('rustcare_guard_audit_drop', 'rustcare_finish_audit_rollback') LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());
    END LOOP;
END $$;

COMMIT;
