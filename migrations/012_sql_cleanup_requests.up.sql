-- no-transaction
-- 012: drop_old_partitions() files the cleanup request for approval tables, as `cleanup --force`
-- and the console's scheduler do, instead of only saying that one is needed.
--
-- rustcare_file_cleanup_request(table) builds the same canonical lines as the Rust planner's
-- Plan::approval_fingerprint for the table's attached partitions past retention
-- (`table|oid|drop|partition|'lower'|'upper'|est_rows`, sorted bytewise, SHA-256 over
-- "rustcare-plan-v1\n" and each line with "\n"), so a request filed from SQL (pg_cron) is one the
-- console and the CLI recognise, approve and execute; at execution the plan is recomputed and a
-- different fingerprint invalidates the request (nothing is dropped), as for any other request.
-- A detached leftover past retention is not part of the SQL request: the Rust planner adds it, so
-- a table with one gets its request from `cleanup --force` or the console instead.
-- Expiry from SQL is 24 hours (APPROVAL_EXPIRY_HOURS lives in the policy file, which SQL cannot read).
-- Runs through sqlx and as `psql $DATABASE_URL -f migrations/012_sql_cleanup_requests.up.sql`.
BEGIN;

CREATE OR REPLACE FUNCTION rustcare_file_cleanup_request(p_table text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    parent  regclass := to_regclass(quote_ident(p_table));
    pol     partition_policy%ROWTYPE;
    lines   text;
    acts    jsonb;
    nrows   bigint;
    fp      text;
    req     bigint;
    expired bigint;
    who     text := coalesce(nullif(current_setting('rustcare.actor', true), ''), 'sql:' || session_user);
BEGIN
    SELECT * INTO pol FROM partition_policy WHERE table_name = p_table;
    IF NOT FOUND OR parent IS NULL OR pol.cleanup_mode <> 'approval' THEN
        RETURN NULL;
    END IF;
    WITH e AS (
        SELECT x.partition_name, x.row_estimate,
               '''' || rustcare_bound_literal(x.lower_bound) || '''' AS lower_lit,
               '''' || rustcare_bound_literal(x.upper_bound) || '''' AS upper_lit,
               coalesce(pg_total_relation_size(to_regclass(quote_ident(x.partition_name))), 0) AS bytes,
               x.lower_bound
        FROM rustcare_expired_partitions(p_table) x
    ), l AS (
        SELECT e.*, format('%s|%s|drop|%s|%s|%s|%s', p_table, parent::oid::bigint, e.partition_name,
                           e.lower_lit, e.upper_lit, e.row_estimate) AS line
        FROM e
    )
    SELECT string_agg(l.line || E'\n', '' ORDER BY l.line COLLATE "C"),
           jsonb_agg(jsonb_build_object(
               'table', p_table, 'partition', l.partition_name, 'lower', l.lower_lit,
               'upper', l.upper_lit, 'est_rows', l.row_estimate, 'bytes', l.bytes,
               'reason', format('past retention: upper bound %s is at or before the cutoff %s (%s); filed by drop_old_partitions()',
                                l.upper_lit, rustcare_bound_literal(rustcare_retention_cutoff(p_table)), pol.retention),
               'policy', format('retention %s, cleanup approval', pol.retention))
               ORDER BY l.lower_bound),
           sum(l.row_estimate)
    INTO lines, acts, nrows
    FROM l;
    IF lines IS NULL THEN
        RETURN NULL;
    END IF;
    fp := encode(sha256(convert_to(E'rustcare-plan-v1\n' || lines, 'UTF8')), 'hex');

    -- Requests past their expiry are expired first (as the console does), so a stale pending one
    -- does not stand in for a new request.
    FOR expired IN
        UPDATE cleanup_requests SET state = 'expired', state_changed_at = now()
        WHERE state IN ('pending', 'approved') AND expires_at <= now() RETURNING id
    LOOP
        PERFORM rustcare_audit_append('system', 'cleanup_expired', 'request:' || expired,
            jsonb_build_object('reason', 'not executed before expires_at'));
    END LOOP;

    INSERT INTO cleanup_requests (requested_by, tables, fingerprint, actions, needs_compliance, expires_at)
    VALUES (who, ARRAY[p_table], fp, acts, p_table = 'auth_audit_log', now() + interval '24 hours')
    ON CONFLICT (fingerprint) WHERE state IN ('pending', 'approved', 'executing') DO NOTHING
    RETURNING id INTO req;
    IF req IS NULL THEN
        SELECT id INTO req FROM cleanup_requests
        WHERE fingerprint = fp AND state IN ('pending', 'approved', 'executing')
        ORDER BY id DESC LIMIT 1;
        RETURN req;
    END IF;
    PERFORM rustcare_audit_append(who, 'cleanup_requested', 'request:' || req,
        jsonb_build_object('tables', ARRAY[p_table], 'fingerprint', fp,
                           'partitions', (SELECT jsonb_agg(a->'partition') FROM jsonb_array_elements(acts) a),
                           'est_rows', nrows, 'needs_compliance', p_table = 'auth_audit_log',
                           'filed_by', 'drop_old_partitions()'));
    RETURN req;
END;
$$;
COMMENT ON FUNCTION rustcare_file_cleanup_request(text) IS
    'Files (or finds the open) cleanup request for an approval table''s attached partitions past retention, with the fingerprint the Rust planner computes; returns its id, NULL when nothing is past retention or the table is not an approval table.';

CREATE OR REPLACE FUNCTION drop_old_partitions() RETURNS integer
LANGUAGE plpgsql SET lock_timeout = '5s' AS $$
DECLARE
    pol     partition_policy%ROWTYPE;
    part    record;
    waiting integer;
    bytes   bigint;
    why     text;
    dropped integer := 0;
    request bigint;
BEGIN
    FOR pol IN SELECT * FROM partition_policy ORDER BY table_name LOOP
        SELECT count(*) INTO waiting FROM rustcare_expired_partitions(pol.table_name);
        IF waiting = 0 THEN
            CONTINUE;
        ELSIF pol.cleanup_mode <> 'auto' THEN
            request := rustcare_file_cleanup_request(pol.table_name);
            RAISE NOTICE '% partition(s) of % are past retention and need a two-person approval (cleanup_mode = approval): nothing dropped. Cleanup request #% holds them: approve it at /requests in the console (a DBA other than the requester%), then run it there or with `rustcare-partitions requests execute %`.',
                waiting, pol.table_name, request,
                CASE WHEN pol.table_name = 'auth_audit_log' THEN ', and a compliance officer' ELSE '' END,
                request;
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
    'pg_cron entry point: detaches and drops partitions whose upper bound is at or before now() - retention, for tables with cleanup_mode = auto only (approval tables: files, or finds, the cleanup request holding them, and a NOTICE names it). Never an audit partition under 6 years. Logs every detach and drop; returns how many were dropped.';

COMMIT;
