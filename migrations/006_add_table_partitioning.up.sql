-- no-transaction
-- 006: range-partitions auth_audit_log (monthly), sessions (daily), refresh_tokens (weekly, Monday)
-- and rate_limits (daily), keeping every row, and installs the policy table, the action log and the
-- SQL functions pg_cron runs.
--
-- Run by sqlx (the first line stops sqlx wrapping it) or as the guide shows:
--     psql $DATABASE_URL -f migrations/006_add_table_partitioning.up.sql
-- One transaction: either every table is converted and every row counted, or nothing changed.
-- Running it again on a partitioned database changes no table and refreshes the functions.
--
-- Bounds are UTC midnights written as '... 00:00:00+00' literals, so the session TimeZone never
-- shifts them. Each conversion builds the new partitioned table, creates a partition for every
-- period holding a row, copies the rows with INSERT ... SELECT, compares the counts (RAISE if they
-- differ), drops the old table, then builds keys and indexes once over the loaded partitions.
-- Partitions are attached the non-blocking way (LIKE + CHECK + ATTACH: SHARE UPDATE EXCLUSIVE on
-- the parent, not ACCESS EXCLUSIVE), under a per-table advisory lock shared with the CLI.
BEGIN;

-- Fail fast rather than queue every application query behind our ACCESS EXCLUSIVE request.
SET LOCAL lock_timeout = '10s';
-- Rows of partition_action_log written by this migration name it, unless the caller named itself.
DO $$
BEGIN
    IF coalesce(current_setting('rustcare.actor', true), '') = '' THEN
        PERFORM set_config('rustcare.actor', 'migration:006', true);
    END IF;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Policy: one row per managed table, synced from config/partitioning.conf by the CLI.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS partition_policy (
    table_name        text        NOT NULL,
    partition_column  text        NOT NULL,
    period            text        NOT NULL,
    retention         interval    NOT NULL,
    partitions_ahead  integer     NOT NULL,
    cleanup_mode      text        NOT NULL DEFAULT 'approval',
    default_partition boolean     NOT NULL DEFAULT false,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT partition_policy_pkey PRIMARY KEY (table_name),
    -- Key and period are fixed by the schema and the partition names; only the policy may vary.
    CONSTRAINT partition_policy_table_check CHECK ((table_name, partition_column, period) IN (
        ('auth_audit_log', 'timestamp', 'month'), ('sessions', 'created_at', 'day'),
        ('refresh_tokens', 'created_at', 'week'), ('rate_limits', 'window_start', 'day'))),
    CONSTRAINT partition_policy_period_check CHECK (period IN ('month', 'week', 'day')),
    CONSTRAINT partition_policy_cleanup_mode_check CHECK (cleanup_mode IN ('auto', 'approval')),
    CONSTRAINT partition_policy_retention_check CHECK (retention > interval '0'),
    CONSTRAINT partition_policy_partitions_ahead_check CHECK (partitions_ahead >= 0),
    -- HIPAA 45 CFR 164.316(b)(2)(i): 6 years at least. Compared in seconds (a year = 365.25 days),
    -- so '2160 days' (which interval comparison calls 6 years) is refused.
    CONSTRAINT partition_policy_audit_retention_hipaa_check CHECK (
        table_name <> 'auth_audit_log'
        OR extract(epoch FROM retention) >= extract(epoch FROM interval '6 years'))
);
COMMENT ON TABLE partition_policy IS
    'Partitioning policy per managed table; the CLI syncs it from config/partitioning.conf, the SQL functions (pg_cron) read it.';

INSERT INTO partition_policy (table_name, partition_column, period, retention, partitions_ahead, cleanup_mode)
VALUES ('auth_audit_log', 'timestamp', 'month', interval '7 years', 6, 'approval'),
       ('sessions', 'created_at', 'day', interval '90 days', 14, 'auto'),
       ('refresh_tokens', 'created_at', 'week', interval '60 days', 4, 'auto'),
       ('rate_limits', 'window_start', 'day', interval '7 days', 7, 'auto')
ON CONFLICT (table_name) DO NOTHING;

-- ---------------------------------------------------------------------------------------------
-- Action log: every create, detach, drop, seal... by the CLI, the console, pg_cron or a DBA.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS partition_action_log (
    id             bigserial   NOT NULL,
    at             timestamptz NOT NULL DEFAULT now(),
    actor          text        NOT NULL
        DEFAULT coalesce(nullif(current_setting('rustcare.actor', true), ''), 'sql:' || session_user),
    table_name     text        NOT NULL,
    partition_name text        NOT NULL,
    action         text        NOT NULL,
    lower_bound    timestamptz,
    upper_bound    timestamptz,
    row_estimate   bigint,
    bytes          bigint,
    outcome        text        NOT NULL,
    detail         text,
    CONSTRAINT partition_action_log_pkey PRIMARY KEY (id),
    CONSTRAINT partition_action_log_action_check CHECK (action IN ('create', 'attach', 'detach',
        'finalize_detach', 'drop', 'move_default_rows', 'analyze', 'seal')),
    CONSTRAINT partition_action_log_outcome_check CHECK (outcome IN ('ok', 'skipped', 'error'))
);
CREATE INDEX IF NOT EXISTS idx_partition_action_log_table_at ON partition_action_log (table_name, at);
COMMENT ON TABLE partition_action_log IS
    'Append-only record of partition maintenance (the disposal log of the compliance report).';

CREATE OR REPLACE FUNCTION rustcare_refuse_action_log_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'partition_action_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'The disposal log is evidence for the compliance report; it is never edited.';
END;
$$;
COMMENT ON FUNCTION rustcare_refuse_action_log_change() IS
    'Trigger: refuses UPDATE, DELETE and TRUNCATE of partition_action_log (append-only).';

DROP TRIGGER IF EXISTS partition_action_log_append_only ON partition_action_log;
CREATE TRIGGER partition_action_log_append_only BEFORE UPDATE OR DELETE ON partition_action_log
    FOR EACH ROW EXECUTE FUNCTION rustcare_refuse_action_log_change();
DROP TRIGGER IF EXISTS partition_action_log_no_truncate ON partition_action_log;
CREATE TRIGGER partition_action_log_no_truncate BEFORE TRUNCATE ON partition_action_log
    FOR EACH STATEMENT EXECUTE FUNCTION rustcare_refuse_action_log_change();

CREATE OR REPLACE FUNCTION rustcare_log_partition_action(
    table_name text, partition_name text, action text, lower_bound timestamptz,
    upper_bound timestamptz, row_estimate bigint, bytes bigint, outcome text, detail text)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO partition_action_log (table_name, partition_name, action, lower_bound, upper_bound,
                                      row_estimate, bytes, outcome, detail)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);
$$;
COMMENT ON FUNCTION rustcare_log_partition_action(text, text, text, timestamptz, timestamptz, bigint, bigint, text, text) IS
    'Appends one row to partition_action_log; the actor is rustcare.actor, else sql:<session user>.';

-- ---------------------------------------------------------------------------------------------
-- Calendar and locking helpers.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION rustcare_partition_lock_key(table_name text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT hashtextextended('rustcare_partitions:' || $1, 0);
$$;
COMMENT ON FUNCTION rustcare_partition_lock_key(text) IS
    'Advisory lock key serialising maintenance of one table: the CLI holds it per session, the SQL functions per transaction.';

-- The date is read as a UTC calendar day: no TimeZone is involved anywhere below.
CREATE OR REPLACE FUNCTION rustcare_partition_for(table_name text, d date)
RETURNS TABLE (partition_name text, lower_bound timestamptz, upper_bound timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT p.table_name || '_' || to_char(lo, CASE p.period WHEN 'month' THEN 'YYYY_MM' ELSE 'YYYY_MM_DD' END),
           lo AT TIME ZONE 'UTC',
           (lo + CASE p.period WHEN 'month' THEN interval '1 month'
                               WHEN 'week' THEN interval '7 days'
                               ELSE interval '1 day' END) AT TIME ZONE 'UTC'
    FROM partition_policy p,
         LATERAL (SELECT date_trunc(p.period, $2::timestamp) AS lo) AS l  -- 'week' = ISO, Monday
    WHERE p.table_name = $1;
$$;
COMMENT ON FUNCTION rustcare_partition_for(text, date) IS
    'The partition of table_name holding UTC day d: its name (table_YYYY_MM or table_YYYY_MM_DD, weeks named for their Monday) and UTC-midnight bounds.';

-- '2025-10-01 00:00:00+00': the one literal form bounds are written in.
CREATE OR REPLACE FUNCTION rustcare_bound_literal(ts timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char($1 AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00';
$$;
COMMENT ON FUNCTION rustcare_bound_literal(timestamptz) IS
    'A bound as the explicit UTC literal partitions are declared with: YYYY-MM-DD HH24:MI:SS+00.';

-- The range of an attached partition, read from its declared bound (NULL for DEFAULT/MINVALUE...).
-- pg_get_expr prints in the session TimeZone with an offset, so the cast back is exact.
CREATE OR REPLACE FUNCTION rustcare_partition_range(rel regclass,
    OUT lower_bound timestamptz, OUT upper_bound timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT substring(e FROM '^FOR VALUES FROM \(''([^'']+)''\) TO')::timestamptz,
           substring(e FROM ' TO \(''([^'']+)''\)$')::timestamptz
    FROM (SELECT pg_get_expr(c.relpartbound, c.oid) AS e FROM pg_class c WHERE c.oid = $1) AS x;
$$;
COMMENT ON FUNCTION rustcare_partition_range(regclass) IS
    'Lower and upper bound of a range partition, from pg_get_expr(relpartbound); NULLs for DEFAULT or unbounded.';

-- The oldest upper bound a partition of table_name may have and still be kept: now - retention,
-- in UTC calendar arithmetic; for the audit log never later than now - 6 years (HIPAA floor).
CREATE OR REPLACE FUNCTION rustcare_retention_cutoff(table_name text) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN $1 = 'auth_audit_log'
                THEN least(cut, (now() AT TIME ZONE 'UTC' - interval '6 years') AT TIME ZONE 'UTC')
                ELSE cut END
    FROM (SELECT (now() AT TIME ZONE 'UTC'
                  - coalesce((SELECT p.retention FROM partition_policy p WHERE p.table_name = $1),
                             CASE WHEN $1 = 'auth_audit_log' THEN interval '7 years' END))
                 AT TIME ZONE 'UTC' AS cut) AS c;
$$;
COMMENT ON FUNCTION rustcare_retention_cutoff(text) IS
    'now() - retention (UTC calendar math); a partition is past retention when its upper bound is at or before it. Audit: never after now() - 6 years.';

-- ---------------------------------------------------------------------------------------------
-- Creating partitions.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION rustcare_create_partition(table_name text, d date) RETURNS text
LANGUAGE plpgsql SET lock_timeout = '5s' AS $$
DECLARE
    pol    partition_policy%ROWTYPE;
    part   record;
    parent regclass;
    found_rel regclass;
    lo     text;
    hi     text;
    chk    text;
BEGIN
    SELECT * INTO pol FROM partition_policy p WHERE p.table_name = rustcare_create_partition.table_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no partition_policy row for table %', rustcare_create_partition.table_name
            USING HINT = 'Managed tables: auth_audit_log, sessions, refresh_tokens, rate_limits.';
    END IF;
    IF d IS NULL THEN
        RAISE EXCEPTION 'rustcare_create_partition(%): the date is NULL', pol.table_name;
    END IF;
    parent := to_regclass(format('%I', pol.table_name));
    IF parent IS NULL OR (SELECT c.relkind FROM pg_class c WHERE c.oid = parent) <> 'p' THEN
        RAISE EXCEPTION '% is not a partitioned table', pol.table_name
            USING HINT = 'Apply migrations/006_add_table_partitioning.up.sql first.';
    END IF;
    PERFORM pg_advisory_xact_lock(rustcare_partition_lock_key(pol.table_name));

    SELECT * INTO part FROM rustcare_partition_for(pol.table_name, d);
    found_rel := to_regclass(format('%I', part.partition_name));
    IF found_rel IS NOT NULL THEN
        IF EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = found_rel AND i.inhparent = parent) THEN
            RETURN NULL;  -- already there: creating is idempotent
        END IF;
        RAISE EXCEPTION 'a table named % exists but is not a partition of %', part.partition_name, pol.table_name
            USING HINT = 'Probably left by an interrupted detach: check its rows, then attach or drop it.';
    END IF;

    lo := rustcare_bound_literal(part.lower_bound);
    hi := rustcare_bound_literal(part.upper_bound);
    chk := part.partition_name || '_bounds';
    -- LIKE + CHECK + ATTACH: ATTACH takes only SHARE UPDATE EXCLUSIVE on the parent, and the CHECK
    -- proves the (empty) table fits, so no validation scan. CREATE ... PARTITION OF would take
    -- ACCESS EXCLUSIVE on the parent and stall every reader and writer.
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)',
                   part.partition_name, pol.table_name);
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (%I IS NOT NULL AND %I >= %L::timestamptz AND %I < %L::timestamptz)',
                   part.partition_name, chk, pol.partition_column, pol.partition_column, lo,
                   pol.partition_column, hi);
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   pol.table_name, part.partition_name, lo, hi);
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', part.partition_name, chk);

    PERFORM rustcare_log_partition_action(pol.table_name, part.partition_name, 'create',
        part.lower_bound, part.upper_bound, 0, NULL, 'ok', 'LIKE + CHECK + ATTACH');
    RETURN part.partition_name;
END;
$$;
COMMENT ON FUNCTION rustcare_create_partition(text, date) IS
    'Creates and attaches the partition of table_name holding UTC day d (LIKE + CHECK + ATTACH, no ACCESS EXCLUSIVE on the parent), under the table''s advisory lock; logs it. Returns its name, or NULL if it already existed.';

CREATE OR REPLACE FUNCTION create_audit_log_partition(d date) RETURNS text
LANGUAGE sql AS $$ SELECT rustcare_create_partition('auth_audit_log', $1); $$;
COMMENT ON FUNCTION create_audit_log_partition(date) IS
    'Creates auth_audit_log_YYYY_MM for the UTC month holding d; returns its name, or NULL if it existed.';

CREATE OR REPLACE FUNCTION create_sessions_partition(d date) RETURNS text
LANGUAGE sql AS $$ SELECT rustcare_create_partition('sessions', $1); $$;
COMMENT ON FUNCTION create_sessions_partition(date) IS
    'Creates sessions_YYYY_MM_DD for UTC day d; returns its name, or NULL if it existed.';

CREATE OR REPLACE FUNCTION create_refresh_tokens_partition(d date) RETURNS text
LANGUAGE sql AS $$ SELECT rustcare_create_partition('refresh_tokens', $1); $$;
COMMENT ON FUNCTION create_refresh_tokens_partition(date) IS
    'Creates refresh_tokens_YYYY_MM_DD (named for the Monday) for the week holding d; returns its name, or NULL if it existed.';

CREATE OR REPLACE FUNCTION create_rate_limits_partition(d date) RETURNS text
LANGUAGE sql AS $$ SELECT rustcare_create_partition('rate_limits', $1); $$;
COMMENT ON FUNCTION create_rate_limits_partition(date) IS
    'Creates rate_limits_YYYY_MM_DD for UTC day d; returns its name, or NULL if it existed.';

-- For pg_cron: SELECT cron.schedule('create-partitions', '0 1 * * *', 'SELECT create_partitions_if_needed();');
CREATE OR REPLACE FUNCTION create_partitions_if_needed() RETURNS integer
LANGUAGE plpgsql SET lock_timeout = '5s' AS $$
DECLARE
    pol     partition_policy%ROWTYPE;
    cur_lower timestamp;
    step      interval;
    day       date;
    created   integer := 0;
    made      text;
    parent    regclass;
BEGIN
    FOR pol IN SELECT * FROM partition_policy ORDER BY table_name LOOP
        parent := to_regclass(format('%I', pol.table_name));
        IF parent IS NULL OR (SELECT c.relkind FROM pg_class c WHERE c.oid = parent) <> 'p' THEN
            RAISE NOTICE '% is not partitioned: skipped', pol.table_name;
            CONTINUE;
        END IF;
        step := CASE pol.period WHEN 'month' THEN interval '1 month'
                                WHEN 'week' THEN interval '7 days' ELSE interval '1 day' END;
        SELECT p.lower_bound AT TIME ZONE 'UTC' INTO cur_lower
        FROM rustcare_partition_for(pol.table_name, (now() AT TIME ZONE 'UTC')::date) p;
        -- The current period and partitions_ahead more.
        FOR i IN 0..pol.partitions_ahead LOOP
            day := (cur_lower + step * i)::date;
            -- One failure (a lock timeout, a stray table in the way) must not stop the rest: it is
            -- logged as an error for the health page and the others are still created.
            BEGIN
                made := rustcare_create_partition(pol.table_name, day);
                IF made IS NOT NULL THEN
                    created := created + 1;
                END IF;
            EXCEPTION WHEN OTHERS THEN
                RAISE WARNING 'creating the % partition for % failed: %', pol.table_name, day, SQLERRM;
                PERFORM rustcare_log_partition_action(pol.table_name,
                    (SELECT p.partition_name FROM rustcare_partition_for(pol.table_name, day) p),
                    'create', NULL, NULL, NULL, NULL, 'error', SQLERRM);
            END;
        END LOOP;
        IF pol.default_partition AND NOT EXISTS (
            SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = parent AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT') THEN
            -- The policy asks for a safety net. Creating a DEFAULT partition scans nothing.
            PERFORM pg_advisory_xact_lock(rustcare_partition_lock_key(pol.table_name));
            EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', pol.table_name || '_default', pol.table_name);
            PERFORM rustcare_log_partition_action(pol.table_name, pol.table_name || '_default', 'create',
                NULL, NULL, 0, NULL, 'ok', 'default partition (policy default_partition = true)');
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END;
$$;
COMMENT ON FUNCTION create_partitions_if_needed() IS
    'pg_cron entry point: for each table in partition_policy, creates the current period''s partition and partitions_ahead more (and the default partition if the policy asks). Returns how many were created.';

-- ---------------------------------------------------------------------------------------------
-- Dropping partitions past retention.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION rustcare_expired_partitions(table_name text)
RETURNS TABLE (partition_name text, lower_bound timestamptz, upper_bound timestamptz, row_estimate bigint)
LANGUAGE sql STABLE AS $$
    SELECT c.relname::text, r.lower_bound, r.upper_bound, greatest(c.reltuples, 0)::bigint
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    CROSS JOIN LATERAL rustcare_partition_range(c.oid) r
    WHERE i.inhparent = to_regclass(quote_ident($1))
      AND r.upper_bound <= rustcare_retention_cutoff($1)
      -- Only partitions named as we name them: any other table is a person's and stays.
      AND c.relname = (SELECT f.partition_name
                       FROM rustcare_partition_for($1, (r.lower_bound AT TIME ZONE 'UTC')::date) f)
    ORDER BY r.lower_bound;
$$;
COMMENT ON FUNCTION rustcare_expired_partitions(text) IS
    'Attached partitions of table_name past retention (upper bound at or before rustcare_retention_cutoff), named as rustcare names them, oldest first.';

-- For pg_cron: SELECT cron.schedule('drop-old-partitions', '0 2 * * 0', 'SELECT drop_old_partitions();');
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

-- ---------------------------------------------------------------------------------------------
-- Sealing closed audit partitions: PostgreSQL has no "readonly" table option (the guide's
-- SET (readonly = true) is refused); a trigger plus revoked privileges does the job.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION rustcare_refuse_sealed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is sealed: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Closed audit partitions are immutable (HIPAA 45 CFR 164.312(b), NIST AU-9).';
END;
$$;
COMMENT ON FUNCTION rustcare_refuse_sealed() IS
    'Trigger on sealed audit partitions: refuses UPDATE, DELETE and TRUNCATE.';

CREATE OR REPLACE FUNCTION rustcare_seal_partition(partition_name text) RETURNS boolean
LANGUAGE plpgsql SET lock_timeout = '5s' AS $$
DECLARE
    rel   regclass := to_regclass(format('%I', partition_name));
    bounds record;
BEGIN
    IF rel IS NULL OR NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = rel
                                  AND i.inhparent = to_regclass('auth_audit_log')) THEN
        RAISE EXCEPTION '% is not a partition of auth_audit_log', partition_name
            USING HINT = 'Only audit-log partitions are sealed.';
    END IF;
    SELECT * INTO bounds FROM rustcare_partition_range(rel);
    IF bounds.upper_bound IS NULL OR bounds.upper_bound > now() THEN
        RAISE EXCEPTION '% is still open (upper bound %): only closed periods are sealed',
            partition_name, bounds.upper_bound;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = rel AND t.tgname = 'rustcare_sealed') THEN
        RETURN false;
    END IF;
    PERFORM pg_advisory_xact_lock(rustcare_partition_lock_key('auth_audit_log'));
    -- Row level: UPDATE and DELETE through the parent reach the partition's row triggers only.
    EXECUTE format('CREATE TRIGGER rustcare_sealed BEFORE UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION rustcare_refuse_sealed()', partition_name);
    EXECUTE format('CREATE TRIGGER rustcare_sealed_truncate BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION rustcare_refuse_sealed()', partition_name);
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON %I FROM PUBLIC', partition_name);
    PERFORM rustcare_log_partition_action('auth_audit_log', partition_name, 'seal', bounds.lower_bound,
        bounds.upper_bound, NULL, NULL, 'ok', 'trigger rustcare_sealed + REVOKE INSERT, UPDATE, DELETE, TRUNCATE FROM PUBLIC');
    RETURN true;
END;
$$;
COMMENT ON FUNCTION rustcare_seal_partition(text) IS
    'Makes a closed auth_audit_log partition immutable: triggers refusing UPDATE/DELETE/TRUNCATE (rustcare_sealed) and REVOKE from PUBLIC; logged. Returns true if sealed now, false if it already was.';

-- ---------------------------------------------------------------------------------------------
-- The guard: no DROP of an audit partition (or of the whole audit log) inside retention, whoever
-- runs it. Installed last; needs superuser.
-- ---------------------------------------------------------------------------------------------
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

-- Fixed search_path on every function above: a caller's search_path cannot redirect them.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             WHERE p.pronamespace = current_schema()::regnamespace
               AND p.proname IN ('rustcare_refuse_action_log_change', 'rustcare_log_partition_action',
                   'rustcare_partition_lock_key', 'rustcare_partition_for', 'rustcare_bound_literal',
                   'rustcare_partition_range', 'rustcare_retention_cutoff', 'rustcare_create_partition',
                   'rustcare_expired_partitions',
                   'create_audit_log_partition', 'create_sessions_partition', 'create_refresh_tokens_partition',
                   'create_rate_limits_partition', 'create_partitions_if_needed', 'drop_old_partitions',
                   'rustcare_refuse_sealed', 'rustcare_seal_partition', 'rustcare_guard_audit_drop') LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());
    END LOOP;
END $$;

-- ---------------------------------------------------------------------------------------------
-- The conversion. A temporary function, gone with the session; dropped at the end of the file.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION pg_temp.rustcare_006_partition(t text, keys_and_indexes text[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    kind   "char";
    old    text := t || '_pre_partitioning';
    pol    partition_policy%ROWTYPE;
    item   record;
    stmt   text;
    copied bigint;
    n_old  bigint;
    n_new  bigint;
BEGIN
    SELECT c.relkind INTO kind FROM pg_class c WHERE c.oid = to_regclass(format('%I', t));
    IF kind = 'p' THEN
        RAISE NOTICE '% is already partitioned: left as it is', t;
        RETURN;
    ELSIF kind IS DISTINCT FROM 'r' THEN
        RAISE EXCEPTION '% is missing or not a plain table', t USING HINT = 'Apply migrations 001 to 005 first.';
    END IF;
    SELECT * INTO pol FROM partition_policy p WHERE p.table_name = t;

    EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', t);
    EXECUTE format('ALTER TABLE %I RENAME TO %I', t, old);
    -- The new table takes over the index and key names; the old table's are not needed to copy.
    FOR item IN SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(format('%I', old))
                AND contype IN ('p', 'u', 'x') LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', old, item.conname);
    END LOOP;
    FOR item IN SELECT indexrelid::regclass::text AS idx FROM pg_index
                WHERE indrelid = to_regclass(format('%I', old)) LOOP
        EXECUTE format('DROP INDEX %s', item.idx);
    END LOOP;

    -- Same columns, in the same order, with the same defaults, NOT NULLs and named CHECKs.
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE (%I)',
                   t, old, pol.partition_column);
    EXECUTE format('COMMENT ON TABLE %I IS %L', t, obj_description(to_regclass(format('%I', old)), 'pg_class'));
    FOR item IN SELECT a.privilege_type, a.grantee FROM pg_class c, aclexplode(c.relacl) a
                WHERE c.oid = to_regclass(format('%I', old)) AND a.grantee <> c.relowner LOOP
        EXECUTE format('GRANT %s ON %I TO %s', item.privilege_type, t,
                       CASE WHEN item.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(item.grantee)) END);
    END LOOP;

    -- A partition for every period holding a row (the window ahead comes after all four tables).
    FOR item IN EXECUTE format('SELECT DISTINCT date_trunc(%L, %I AT TIME ZONE ''UTC'')::date AS d FROM %I',
                               pol.period, pol.partition_column, old) LOOP
        PERFORM rustcare_create_partition(t, item.d);
    END LOOP;

    EXECUTE format('INSERT INTO %I SELECT * FROM %I', t, old);
    GET DIAGNOSTICS copied = ROW_COUNT;
    EXECUTE format('SELECT count(*) FROM %I', old) INTO n_old;
    EXECUTE format('SELECT count(*) FROM %I', t) INTO n_new;
    IF copied <> n_old OR n_new <> n_old THEN
        RAISE EXCEPTION '%: % rows before, % copied, % after: rolling back', t, n_old, copied, n_new;
    END IF;
    EXECUTE format('DROP TABLE %I', old);

    -- Keys and indexes built once over the loaded partitions, faster than maintained row by row.
    FOREACH stmt IN ARRAY keys_and_indexes LOOP
        EXECUTE stmt;
    END LOOP;
    EXECUTE format('ANALYZE %I', t);
    RAISE NOTICE '% partitioned: % rows kept', t, n_new;
END;
$$;

DO $$
BEGIN
    PERFORM pg_temp.rustcare_006_partition('auth_audit_log', ARRAY[
        'ALTER TABLE auth_audit_log ADD CONSTRAINT auth_audit_log_pkey PRIMARY KEY (id, "timestamp")',
        'CREATE INDEX idx_audit_log_timestamp ON auth_audit_log ("timestamp")',
        'CREATE INDEX idx_audit_log_user_id ON auth_audit_log (user_id, "timestamp")',
        'CREATE INDEX idx_audit_log_event_type ON auth_audit_log (event_type, "timestamp")']);
    -- Uniqueness of a token hash cannot span partitions (a unique key must hold the partition
    -- key); a 256-bit random token does not collide, and lookups only need the index.
    PERFORM pg_temp.rustcare_006_partition('sessions', ARRAY[
        'ALTER TABLE sessions ADD CONSTRAINT sessions_pkey PRIMARY KEY (id, created_at)',
        'CREATE INDEX idx_sessions_token_hash ON sessions (token_hash)',
        'CREATE INDEX idx_sessions_user_id ON sessions (user_id, created_at)',
        'CREATE INDEX idx_sessions_expires_at ON sessions (expires_at)']);
    PERFORM pg_temp.rustcare_006_partition('refresh_tokens', ARRAY[
        'ALTER TABLE refresh_tokens ADD CONSTRAINT refresh_tokens_pkey PRIMARY KEY (id, created_at)',
        'CREATE INDEX idx_refresh_tokens_token_hash ON refresh_tokens (token_hash)',
        'CREATE INDEX idx_refresh_tokens_user_id ON refresh_tokens (user_id, created_at)',
        'CREATE INDEX idx_refresh_tokens_session_id ON refresh_tokens (session_id)']);
    PERFORM pg_temp.rustcare_006_partition('rate_limits', ARRAY[
        'ALTER TABLE rate_limits ADD CONSTRAINT rate_limits_pkey PRIMARY KEY (id, window_start)',
        'ALTER TABLE rate_limits ADD CONSTRAINT rate_limits_bucket_window_key UNIQUE (bucket_key, window_start)']);
    -- The configured window ahead.
    PERFORM create_partitions_if_needed();
END $$;

DROP FUNCTION pg_temp.rustcare_006_partition(text, text[]);

DO $$
BEGIN
    IF (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
        DROP EVENT TRIGGER IF EXISTS rustcare_guard_audit_drop;
        CREATE EVENT TRIGGER rustcare_guard_audit_drop ON sql_drop
            EXECUTE FUNCTION rustcare_guard_audit_drop();
        COMMENT ON EVENT TRIGGER rustcare_guard_audit_drop IS
            'Refuses DROP of auth_audit_log partitions (or of auth_audit_log) inside retention.';
    ELSE
        RAISE WARNING 'not a superuser: event trigger rustcare_guard_audit_drop not installed; have a superuser run: CREATE EVENT TRIGGER rustcare_guard_audit_drop ON sql_drop EXECUTE FUNCTION rustcare_guard_audit_drop();';
    END IF;
END $$;

COMMIT;
