-- no-transaction
-- 009 down: removes the approval workflow and the audit trail, and puts back 006's
-- drop_old_partitions(). Export the trail first if you need it (`rustcare-partitions audit export`):
-- it goes with the workflow it records. The request_id column of partition_action_log goes too.
BEGIN;

CREATE OR REPLACE FUNCTION drop_old_partitions() RETURNS integer
LANGUAGE plpgsql SET lock_timeout = '5s' AS $$
DECLARE
    pol     partition_policy%ROWTYPE;
    part    record;
    waiting integer;
    bytes   bigint;
    why     text;
    dropped integer := 0;
BEGIN
    FOR pol IN SELECT * FROM partition_policy ORDER BY table_name LOOP
        SELECT count(*) INTO waiting FROM rustcare_expired_partitions(pol.table_name);
        IF waiting = 0 THEN
            CONTINUE;
        ELSIF pol.cleanup_mode <> 'auto' THEN
            RAISE NOTICE '% partition(s) of % are past retention and waiting for approval (cleanup_mode = approval): nothing dropped',
                waiting, pol.table_name;
            CONTINUE;
        ELSIF NOT pg_try_advisory_xact_lock(rustcare_partition_lock_key(pol.table_name)) THEN
            RAISE NOTICE '%: another maintenance run holds its lock: skipped', pol.table_name;
            CONTINUE;
        END IF;
        why := format('past retention %s (cutoff %s)', pol.retention,
                      rustcare_bound_literal(rustcare_retention_cutoff(pol.table_name)));
        FOR part IN SELECT * FROM rustcare_expired_partitions(pol.table_name) LOOP
            -- Each partition in its own subtransaction: a lock timeout on one leaves the rest going.
            BEGIN
                bytes := pg_total_relation_size(to_regclass(quote_ident(part.partition_name)));
                -- Plain DETACH: CONCURRENTLY cannot run inside a function's transaction. The
                -- function's lock_timeout bounds the wait for the parent's ACCESS EXCLUSIVE lock.
                EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', pol.table_name, part.partition_name);
                PERFORM rustcare_log_partition_action(pol.table_name, part.partition_name, 'detach',
                    part.lower_bound, part.upper_bound, part.row_estimate, bytes, 'ok', why);
                EXECUTE format('DROP TABLE %I', part.partition_name);
                PERFORM rustcare_log_partition_action(pol.table_name, part.partition_name, 'drop',
                    part.lower_bound, part.upper_bound, part.row_estimate, bytes, 'ok', why);
                dropped := dropped + 1;
            EXCEPTION WHEN OTHERS THEN
                RAISE WARNING 'dropping % failed: %', part.partition_name, SQLERRM;
                PERFORM rustcare_log_partition_action(pol.table_name, part.partition_name, 'drop',
                    part.lower_bound, part.upper_bound, part.row_estimate, NULL, 'error', SQLERRM);
            END;
        END LOOP;
    END LOOP;
    RETURN dropped;
END;
$$;
COMMENT ON FUNCTION drop_old_partitions() IS
    'pg_cron entry point: detaches and drops partitions whose upper bound is at or before now() - retention, for tables with cleanup_mode = auto only (approval tables: a NOTICE says how many wait). Never an audit partition under 6 years. Logs every detach and drop; returns how many were dropped.';


ALTER TABLE partition_action_log DROP COLUMN IF EXISTS request_id;
DROP TABLE IF EXISTS cleanup_approvals;
DROP TABLE IF EXISTS cleanup_requests;
DROP TABLE IF EXISTS audit_trail;
DROP FUNCTION IF EXISTS rustcare_audit_append(text, text, text, jsonb);
DROP FUNCTION IF EXISTS rustcare_audit_canonical(bigint, timestamptz, text, text, text, jsonb, text);
DROP FUNCTION IF EXISTS rustcare_refuse_audit_change();

COMMIT;
