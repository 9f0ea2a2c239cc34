-- no-transaction
-- 003: login sessions. An ordinary table here; 006 turns it into daily partitions. Safe to run twice.
BEGIN;

CREATE TABLE IF NOT EXISTS sessions (
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    -- Not a foreign key: sessions are high-volume and short-lived (dropped by partition after
    -- 90 days); an FK would lock the users row on every login and block account deletion.
    user_id      uuid        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    last_seen_at timestamptz,
    revoked_at   timestamptz,
    -- SHA-256 (or at least MD5-length) hex of the session token: the token itself is never stored.
    token_hash   text        NOT NULL,
    ip_address   inet,
    user_agent   text,
    CONSTRAINT sessions_pkey PRIMARY KEY (id),
    CONSTRAINT sessions_token_hash_key UNIQUE (token_hash),
    CONSTRAINT sessions_token_hash_check CHECK (token_hash ~ '^[0-9a-f]{32,128}$'),
    CONSTRAINT sessions_expires_at_check CHECK (expires_at > created_at),
    CONSTRAINT sessions_last_seen_at_check CHECK (last_seen_at IS NULL OR last_seen_at >= created_at),
    CONSTRAINT sessions_revoked_at_check CHECK (revoked_at IS NULL OR revoked_at >= created_at),
    CONSTRAINT sessions_user_agent_check CHECK (user_agent IS NULL OR length(user_agent) <= 2048)
);

CREATE INDEX IF NOT EXISTS idx_sessions_user_id ON sessions (user_id, created_at);
CREATE INDEX IF NOT EXISTS idx_sessions_expires_at ON sessions (expires_at);
CREATE INDEX IF NOT EXISTS idx_sessions_created_at ON sessions (created_at);

COMMENT ON TABLE sessions IS 'Login sessions, looked up by token hash. Retained 90 days.';

COMMIT;
