-- no-transaction
-- 015 down: rustcare_file_cleanup_request goes back to 012's body (requests filed from SQL expire
-- after 24 hours) and partition_settings is dropped.
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

DROP TABLE IF EXISTS partition_settings;

COMMIT;
