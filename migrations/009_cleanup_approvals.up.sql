-- no-transaction
-- 009: the two-person rule for destructive cleanups and the tamper-evident audit trail.
--   audit_trail        hash-chained, append-only record of console and CLI actions
--   cleanup_requests   a held cleanup turned into a request, bound to its plan fingerprint
--   cleanup_approvals  one decision per person per request
-- Runs through sqlx (the line above stops sqlx wrapping it: the file carries its own BEGIN/COMMIT)
-- and as `psql $DATABASE_URL -f migrations/009_cleanup_approvals.up.sql`. Safe to run twice.
BEGIN;

-- ---------------------------------------------------------------------------------------------
-- The audit trail.
--
-- Each row's hash is the lower-case hex SHA-256 of its canonical text, which chains it to the row
-- before (prev_hash; 64 zeros for row 1). The canonical text is seven fields, each written as
--     <octet length in decimal> ':' <UTF-8 bytes> '\n'
-- in this order: id, at, actor, action, subject, detail, prev_hash, where
--     id      decimal, no sign or padding              (e.g. 12)
--     at      to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
--                                                      (e.g. 2026-11-25T09:30:00.123456Z)
--     detail  detail::text (PostgreSQL's own jsonb text form, stable for a stored value)
-- Length prefixes make the text unambiguous whatever the fields hold (newlines, colons).
-- `rustcare-partitions audit verify` reads the same text forms and recomputes every hash in Rust.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS audit_trail (
    id        bigint      NOT NULL,
    at        timestamptz NOT NULL,
    actor     text        NOT NULL,
    action    text        NOT NULL,
    subject   text        NOT NULL DEFAULT '',
    detail    jsonb       NOT NULL DEFAULT '{}',
    prev_hash text        NOT NULL,
    hash      text        NOT NULL,
    CONSTRAINT audit_trail_pkey PRIMARY KEY (id),
    CONSTRAINT audit_trail_hash_key UNIQUE (hash),
    -- One successor per row: two appenders racing past the lock (a REPEATABLE READ caller) fail
    -- instead of forking the chain.
    CONSTRAINT audit_trail_prev_hash_key UNIQUE (prev_hash),
    CONSTRAINT audit_trail_id_check CHECK (id >= 1),
    CONSTRAINT audit_trail_hash_check CHECK (hash ~ '^[0-9a-f]{64}$' AND prev_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT audit_trail_actor_check CHECK (char_length(actor) BETWEEN 1 AND 200),
    CONSTRAINT audit_trail_action_check CHECK (action ~ '^[a-z][a-z_]{0,63}$')
);
CREATE INDEX IF NOT EXISTS idx_audit_trail_at ON audit_trail (at);
CREATE INDEX IF NOT EXISTS idx_audit_trail_actor_at ON audit_trail (actor, at);
CREATE INDEX IF NOT EXISTS idx_audit_trail_action_at ON audit_trail (action, at);

COMMENT ON TABLE audit_trail IS
    'Hash-chained, append-only audit trail of console and CLI actions (HIPAA 164.312(b), NIST AU-9). Append only through rustcare_audit_append; verify with `rustcare-partitions audit verify`.';
COMMENT ON COLUMN audit_trail.hash IS
    'hex SHA-256 of rustcare_audit_canonical(id, at, actor, action, subject, detail, prev_hash).';
COMMENT ON COLUMN audit_trail.prev_hash IS 'hash of row id - 1; 64 zeros for row 1.';

CREATE OR REPLACE FUNCTION rustcare_audit_canonical(p_id bigint, p_at timestamptz, p_actor text,
    p_action text, p_subject text, p_detail jsonb, p_prev_hash text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT string_agg(octet_length(f)::text || ':' || f || E'\n', '' ORDER BY n)
    FROM unnest(ARRAY[
        p_id::text,
        to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        p_actor, p_action, p_subject, p_detail::text, p_prev_hash
    ]) WITH ORDINALITY AS t(f, n);
$$;
COMMENT ON FUNCTION rustcare_audit_canonical(bigint, timestamptz, text, text, text, jsonb, text) IS
    'The canonical text an audit_trail row hash covers: each field as <octet length>:<bytes>\n.';

CREATE OR REPLACE FUNCTION rustcare_audit_append(p_actor text, p_action text, p_subject text,
    p_detail jsonb)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    last_id   bigint;
    last_hash text;
    new_id    bigint;
    new_at    timestamptz;
    prev      text;
BEGIN
    -- Serialise appenders until commit: the next one reads the chain head only after this row is
    -- committed (or rolled back). Same key for every caller, SQL or Rust.
    PERFORM pg_advisory_xact_lock(hashtextextended('rustcare_partitions:audit_trail', 0));
    SELECT a.id, a.hash INTO last_id, last_hash FROM audit_trail a ORDER BY a.id DESC LIMIT 1;
    new_id := coalesce(last_id, 0) + 1;
    prev := coalesce(last_hash, repeat('0', 64));
    -- The wall clock after the lock, so `at` never goes backwards along the chain.
    new_at := clock_timestamp();
    INSERT INTO audit_trail (id, at, actor, action, subject, detail, prev_hash, hash)
    VALUES (new_id, new_at, p_actor, p_action, coalesce(p_subject, ''), coalesce(p_detail, '{}'),
            prev,
            encode(sha256(convert_to(rustcare_audit_canonical(new_id, new_at, p_actor, p_action,
                coalesce(p_subject, ''), coalesce(p_detail, '{}'), prev), 'UTF8')), 'hex'));
    RETURN new_id;
END;
$$;
COMMENT ON FUNCTION rustcare_audit_append(text, text, text, jsonb) IS
    'Appends one audit_trail row (serialised by an advisory transaction lock), computing prev_hash and hash; returns its id. The only way rows should enter the trail.';

CREATE OR REPLACE FUNCTION rustcare_refuse_audit_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_trail is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'The audit trail is evidence (NIST AU-9); append with rustcare_audit_append, never edit.';
END;
$$;
COMMENT ON FUNCTION rustcare_refuse_audit_change() IS
    'Trigger: refuses UPDATE, DELETE and TRUNCATE of audit_trail.';

DROP TRIGGER IF EXISTS audit_trail_append_only ON audit_trail;
CREATE TRIGGER audit_trail_append_only BEFORE UPDATE OR DELETE ON audit_trail
    FOR EACH ROW EXECUTE FUNCTION rustcare_refuse_audit_change();
DROP TRIGGER IF EXISTS audit_trail_no_truncate ON audit_trail;
CREATE TRIGGER audit_trail_no_truncate BEFORE TRUNCATE ON audit_trail
    FOR EACH STATEMENT EXECUTE FUNCTION rustcare_refuse_audit_change();

-- ---------------------------------------------------------------------------------------------
-- Cleanup requests and their approvals.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS cleanup_requests (
    id               bigserial   NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    requested_by     text        NOT NULL,
    tables           text[]      NOT NULL,
    -- Plan::approval_fingerprint of the plan the request was made from (64 hex).
    fingerprint      text        NOT NULL,
    -- [{table, partition, lower, upper, est_rows, bytes, reason, policy}], what will be dropped.
    actions          jsonb       NOT NULL,
    needs_compliance boolean     NOT NULL,
    expires_at       timestamptz NOT NULL,
    state            text        NOT NULL DEFAULT 'pending',
    state_changed_at timestamptz NOT NULL DEFAULT now(),
    executed_by      text,
    executed_at      timestamptz,
    outcome_detail   text,
    CONSTRAINT cleanup_requests_pkey PRIMARY KEY (id),
    CONSTRAINT cleanup_requests_fingerprint_check CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
    CONSTRAINT cleanup_requests_actions_check CHECK (jsonb_typeof(actions) = 'array'
                                                     AND jsonb_array_length(actions) > 0),
    CONSTRAINT cleanup_requests_state_check CHECK (state IN ('pending', 'approved', 'executing',
        'executed', 'rejected', 'expired', 'invalidated')),
    CONSTRAINT cleanup_requests_expires_check CHECK (expires_at > created_at)
);
-- At most one open request per plan fingerprint: filing the same cleanup twice finds the first.
CREATE UNIQUE INDEX IF NOT EXISTS cleanup_requests_open_fingerprint
    ON cleanup_requests (fingerprint) WHERE state IN ('pending', 'approved', 'executing');
CREATE INDEX IF NOT EXISTS idx_cleanup_requests_state ON cleanup_requests (state, created_at);

COMMENT ON TABLE cleanup_requests IS
    'Cleanups of approval tables waiting for (or done by) the two-person rule. States: pending -> approved -> executing -> executed, or rejected / expired / invalidated.';
COMMENT ON COLUMN cleanup_requests.fingerprint IS
    'Plan::approval_fingerprint at request time; recomputed at execution, a difference invalidates the request.';

CREATE TABLE IF NOT EXISTS cleanup_approvals (
    id          bigserial   NOT NULL,
    request_id  bigint      NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,
    role        text        NOT NULL,
    decision    text        NOT NULL,
    comment     text        NOT NULL,
    CONSTRAINT cleanup_approvals_pkey PRIMARY KEY (id),
    CONSTRAINT cleanup_approvals_request_id_fkey FOREIGN KEY (request_id)
        REFERENCES cleanup_requests (id),
    CONSTRAINT cleanup_approvals_request_id_actor_key UNIQUE (request_id, actor),
    CONSTRAINT cleanup_approvals_role_check CHECK (role IN ('dba', 'compliance', 'admin')),
    CONSTRAINT cleanup_approvals_decision_check CHECK (decision IN ('approve', 'reject')),
    CONSTRAINT cleanup_approvals_comment_check CHECK (char_length(comment) BETWEEN 1 AND 2000)
);
COMMENT ON TABLE cleanup_approvals IS
    'One approve/reject decision per person per cleanup request; role = the role it counted as.';

-- Decisions are evidence too: never edited (the request row changes state; this does not).
DROP TRIGGER IF EXISTS cleanup_approvals_append_only ON cleanup_approvals;
CREATE TRIGGER cleanup_approvals_append_only BEFORE UPDATE OR DELETE ON cleanup_approvals
    FOR EACH ROW EXECUTE FUNCTION rustcare_refuse_audit_change();

ALTER TABLE partition_action_log ADD COLUMN IF NOT EXISTS request_id bigint;
-- The executor runs an approved request on connections opened with the startup option
-- rustcare.request_id=<id>, so every row it (or a SQL function it calls) writes carries the request.
ALTER TABLE partition_action_log ALTER COLUMN request_id
    SET DEFAULT nullif(current_setting('rustcare.request_id', true), '')::bigint;
COMMENT ON COLUMN partition_action_log.request_id IS
    'The cleanup request a detach or drop was run for (NULL: automatic cleanup or other action); defaults to the session setting rustcare.request_id.';

-- ---------------------------------------------------------------------------------------------
-- drop_old_partitions(): unchanged for auto tables. For approval tables it still drops nothing:
-- a request binds to Plan::approval_fingerprint, which is computed by the Rust planner from the
-- catalog snapshot; SQL cannot file one that would match. The NOTICE now names the way forward.
-- ---------------------------------------------------------------------------------------------
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

COMMIT;
