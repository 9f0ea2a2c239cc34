-- no-transaction
-- 012 down: drop_old_partitions() goes back to 009's (approval tables: a NOTICE only) and the
-- SQL request filer is removed. Requests it filed stay, like any other request.
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
            RAISE NOTICE '% partition(s) of % are past retention and need a two-person approval (cleanup_mode = approval): nothing dropped. File a request with `rustcare-partitions cleanup --force --table %` or "Request cleanup" on the console''s /plan page; approve it at /requests.',
                waiting, pol.table_name, pol.table_name;
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
    'pg_cron entry point: detaches and drops partitions whose upper bound is at or before now() - retention, for tables with cleanup_mode = auto only (approval tables: a NOTICE says how many wait and how to file a request). Never an audit partition under 6 years. Logs every detach and drop; returns how many were dropped.';

DROP FUNCTION IF EXISTS rustcare_file_cleanup_request(text);

COMMIT;
