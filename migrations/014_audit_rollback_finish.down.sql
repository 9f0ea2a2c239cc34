-- no-transaction
-- 014 down: the audit drop guard goes back to 006's (no clearance: the copy an online rollback
-- keeps cannot be dropped inside retention), rustcare_finish_audit_rollback() and the clearance
-- table are removed. online_migration stays (011 owns it).
BEGIN;

CREATE OR REPLACE FUNCTION rustcare_guard_audit_drop() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    obj       record;
    cutoff    timestamptz;
    month_end timestamptz;
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
            RAISE EXCEPTION 'refusing to drop %: it is inside the audit-log retention (its month ends %, the retention cutoff is %)',
                obj.object_identity, rustcare_bound_literal(month_end), rustcare_bound_literal(cutoff)
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Audit partitions go only after retention, through drop_old_partitions() or an approved cleanup. Dropping auth_audit_log itself is refused while it holds such partitions.';
        END IF;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION rustcare_guard_audit_drop() IS
    'Event trigger (sql_drop): refuses any DROP removing an auth_audit_log_YYYY_MM table whose month ends after now() - audit retention, including DROP of auth_audit_log itself.';

DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION rustcare_guard_audit_drop() SET search_path = %I, pg_temp', current_schema());
END $$;

DROP FUNCTION IF EXISTS rustcare_finish_audit_rollback();
DROP TABLE IF EXISTS rustcare_audit_drop_clearance;

COMMIT;
