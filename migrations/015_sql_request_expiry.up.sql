-- no-transaction
-- 015: requests filed from SQL (drop_old_partitions() -> rustcare_file_cleanup_request, pg_cron)
-- expire after the configured APPROVAL_EXPIRY_HOURS, as requests filed by the CLI and the console
-- do, instead of 012's fixed 24 hours. SQL cannot read config/partitioning.conf, so the policy sync
-- (partitioning::pg::policy_sync, run by every create/cleanup/maintenance, the scheduler and the
-- console) stores the value in partition_settings, one row, and audits a change (policy_changed).
-- Without the row (deleted by hand) the function falls back to 24 hours, the file's default.
-- Runs through sqlx (the line above stops sqlx wrapping it) and as
-- `psql $DATABASE_URL -f migrations/015_sql_request_expiry.up.sql`. Safe to run twice.
BEGIN;

CREATE TABLE IF NOT EXISTS partition_settings (
    singleton             boolean     NOT NULL DEFAULT true,
    approval_expiry_hours integer     NOT NULL DEFAULT 24,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT partition_settings_pkey PRIMARY KEY (singleton),
    CONSTRAINT partition_settings_singleton_check CHECK (singleton),
    -- The policy file's own bounds for APPROVAL_EXPIRY_HOURS.
    CONSTRAINT partition_settings_expiry_check CHECK (approval_expiry_hours BETWEEN 1 AND 720)
);
COMMENT ON TABLE partition_settings IS
    'Settings of config/partitioning.conf that the SQL functions need besides partition_policy (one row); the policy sync keeps it equal to the file.';
INSERT INTO partition_settings (singleton) VALUES (true) ON CONFLICT DO NOTHING;

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
    -- APPROVAL_EXPIRY_HOURS as the last policy sync stored it; 24 (the file's default) without a row.
    expiry  integer := coalesce((SELECT approval_expiry_hours FROM partition_settings WHERE singleton), 24);
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
    VALUES (who, ARRAY[p_table], fp, acts, p_table = 'auth_audit_log', now() + make_interval(hours => expiry))
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
    'Files (or finds the open) cleanup request for an approval table''s attached partitions past retention, with the fingerprint the Rust planner computes, expiring after partition_settings.approval_expiry_hours (APPROVAL_EXPIRY_HOURS, 24 without a row); returns its id, NULL when nothing is past retention or the table is not an approval table.';

COMMIT;
