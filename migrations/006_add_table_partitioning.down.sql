-- no-transaction
-- 006 down: turns the four partitioned tables back into the ordinary tables of 002-005, keeping
-- every row (counts compared before commit), and removes everything 006 installed: the guard
-- event trigger, the functions, partition_policy and partition_action_log (export the action log
-- first if you need it: it goes with the partitioning it describes).
--
--     psql $DATABASE_URL -f migrations/006_add_table_partitioning.down.sql
-- One transaction. Running it on ordinary tables leaves them as they are.
BEGIN;

SET LOCAL lock_timeout = '10s';

-- A revert is deliberate: the guard would refuse dropping the young audit partitions below, after
-- their rows have been copied out.
DROP EVENT TRIGGER IF EXISTS rustcare_guard_audit_drop;

CREATE OR REPLACE FUNCTION pg_temp.rustcare_006_unpartition(t text, keys_and_indexes text[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    kind   "char";
    old    text := t || '_partitioned';
    item   record;
    stmt   text;
    copied bigint;
    n_old  bigint;
    n_new  bigint;
    pending boolean := false;
BEGIN
    SELECT c.relkind INTO kind FROM pg_class c WHERE c.oid = to_regclass(format('%I', t));
    IF kind = 'r' THEN
        RAISE NOTICE '% is already an ordinary table: left as it is', t;
        RETURN;
    ELSIF kind IS DISTINCT FROM 'p' THEN
        RAISE EXCEPTION '% is missing or not a partitioned table', t;
    END IF;
    -- A partition left "detach pending" (PostgreSQL 14+) is invisible through the parent: its rows
    -- would be lost with it. Finish the detach first.
    IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'pg_inherits'::regclass AND attname = 'inhdetached') THEN
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = $1 AND inhdetached)'
            INTO pending USING to_regclass(format('%I', t));
    END IF;
    IF pending THEN
        RAISE EXCEPTION '% has a partition in the detach-pending state', t
            USING HINT = 'Run ALTER TABLE ... DETACH PARTITION ... FINALIZE (or rustcare-partitions maintenance) first.';
    END IF;

    EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', t);
    EXECUTE format('ALTER TABLE %I RENAME TO %I', t, old);
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)',
                   t, old);
    EXECUTE format('COMMENT ON TABLE %I IS %L', t, obj_description(to_regclass(format('%I', old)), 'pg_class'));
    FOR item IN SELECT a.privilege_type, a.grantee FROM pg_class c, aclexplode(c.relacl) a
                WHERE c.oid = to_regclass(format('%I', old)) AND a.grantee <> c.relowner LOOP
        EXECUTE format('GRANT %s ON %I TO %s', item.privilege_type, t,
                       CASE WHEN item.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(item.grantee)) END);
    END LOOP;

    EXECUTE format('INSERT INTO %I SELECT * FROM %I', t, old);
    GET DIAGNOSTICS copied = ROW_COUNT;
    EXECUTE format('SELECT count(*) FROM %I', old) INTO n_old;
    EXECUTE format('SELECT count(*) FROM %I', t) INTO n_new;
    IF copied <> n_old OR n_new <> n_old THEN
        RAISE EXCEPTION '%: % rows before, % copied, % after: rolling back', t, n_old, copied, n_new;
    END IF;
    -- Takes every partition with it (sealed ones too: their triggers refuse changes, not DROP).
    EXECUTE format('DROP TABLE %I', old);

    -- The keys and indexes of 002-005, built once over the loaded rows. A UNIQUE token hash fails
    -- here (and everything rolls back) only if duplicates crept in while it could not be enforced.
    FOREACH stmt IN ARRAY keys_and_indexes LOOP
        EXECUTE stmt;
    END LOOP;
    EXECUTE format('ANALYZE %I', t);
    RAISE NOTICE '% is an ordinary table again: % rows kept', t, n_new;
END;
$$;

DO $$
BEGIN
    PERFORM pg_temp.rustcare_006_unpartition('auth_audit_log', ARRAY[
        'ALTER TABLE auth_audit_log ADD CONSTRAINT auth_audit_log_pkey PRIMARY KEY (id)',
        'CREATE INDEX idx_audit_log_timestamp ON auth_audit_log ("timestamp")',
        'CREATE INDEX idx_audit_log_user_id ON auth_audit_log (user_id, "timestamp")',
        'CREATE INDEX idx_audit_log_event_type ON auth_audit_log (event_type, "timestamp")']);
    PERFORM pg_temp.rustcare_006_unpartition('sessions', ARRAY[
        'ALTER TABLE sessions ADD CONSTRAINT sessions_pkey PRIMARY KEY (id)',
        'ALTER TABLE sessions ADD CONSTRAINT sessions_token_hash_key UNIQUE (token_hash)',
        'CREATE INDEX idx_sessions_user_id ON sessions (user_id, created_at)',
        'CREATE INDEX idx_sessions_expires_at ON sessions (expires_at)',
        'CREATE INDEX idx_sessions_created_at ON sessions (created_at)']);
    PERFORM pg_temp.rustcare_006_unpartition('refresh_tokens', ARRAY[
        'ALTER TABLE refresh_tokens ADD CONSTRAINT refresh_tokens_pkey PRIMARY KEY (id)',
        'ALTER TABLE refresh_tokens ADD CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash)',
        'CREATE INDEX idx_refresh_tokens_user_id ON refresh_tokens (user_id, created_at)',
        'CREATE INDEX idx_refresh_tokens_session_id ON refresh_tokens (session_id)',
        'CREATE INDEX idx_refresh_tokens_created_at ON refresh_tokens (created_at)']);
    PERFORM pg_temp.rustcare_006_unpartition('rate_limits', ARRAY[
        'ALTER TABLE rate_limits ADD CONSTRAINT rate_limits_pkey PRIMARY KEY (id)',
        'ALTER TABLE rate_limits ADD CONSTRAINT rate_limits_bucket_window_key UNIQUE (bucket_key, window_start)',
        'CREATE INDEX idx_rate_limits_window_start ON rate_limits (window_start)']);
END $$;

DROP FUNCTION pg_temp.rustcare_006_unpartition(text, text[]);

DROP FUNCTION IF EXISTS rustcare_guard_audit_drop();
DROP FUNCTION IF EXISTS rustcare_seal_partition(text);
-- Plain DROP: if a detached, still sealed audit table exists, this stops the revert rather than
-- silently remove its protection.
DROP FUNCTION IF EXISTS rustcare_refuse_sealed();
DROP FUNCTION IF EXISTS drop_old_partitions();
DROP FUNCTION IF EXISTS rustcare_expired_partitions(text);
DROP FUNCTION IF EXISTS create_partitions_if_needed();
DROP FUNCTION IF EXISTS create_audit_log_partition(date);
DROP FUNCTION IF EXISTS create_sessions_partition(date);
DROP FUNCTION IF EXISTS create_refresh_tokens_partition(date);
DROP FUNCTION IF EXISTS create_rate_limits_partition(date);
DROP FUNCTION IF EXISTS rustcare_create_partition(text, date);
DROP FUNCTION IF EXISTS rustcare_retention_cutoff(text);
DROP FUNCTION IF EXISTS rustcare_partition_range(regclass);
DROP FUNCTION IF EXISTS rustcare_bound_literal(timestamptz);
DROP FUNCTION IF EXISTS rustcare_partition_for(text, date);
DROP FUNCTION IF EXISTS rustcare_partition_lock_key(text);
DROP TABLE IF EXISTS partition_action_log;
DROP FUNCTION IF EXISTS rustcare_log_partition_action(text, text, text, timestamptz, timestamptz, bigint, bigint, text, text);
DROP FUNCTION IF EXISTS rustcare_refuse_action_log_change();
DROP TABLE IF EXISTS partition_policy;

COMMIT;
