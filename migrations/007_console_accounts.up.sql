-- no-transaction
-- 007: accounts of the web console (not the RustCare auth service's `users`), their login
-- attempts (for throttling and as a security log) and their sessions.
-- Runs through sqlx (the line above stops sqlx wrapping it: the file carries its own BEGIN/COMMIT)
-- and as `psql $DATABASE_URL -f migrations/007_console_accounts.up.sql`. Safe to run twice.
BEGIN;

CREATE TABLE IF NOT EXISTS console_users (
    id              bigint      GENERATED ALWAYS AS IDENTITY,
    username        text        NOT NULL,
    display_name    text        NOT NULL DEFAULT '',
    role            text        NOT NULL,
    password_hash   text        NOT NULL,
    disabled        boolean     NOT NULL DEFAULT false,
    -- Bumped when the password changes or the account is disabled: sessions carry the epoch they
    -- were opened under, so every older session stops working at once.
    session_epoch   integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    last_login_at   timestamptz,
    -- Failures since the last success within the throttling window; locked_until set when they
    -- reach the limit (the console uses 5 failures in 15 minutes → locked 15 minutes).
    failed_attempts integer     NOT NULL DEFAULT 0,
    last_failed_at  timestamptz,
    locked_until    timestamptz,
    CONSTRAINT console_users_pkey PRIMARY KEY (id),
    CONSTRAINT console_users_username_key UNIQUE (username),
    CONSTRAINT console_users_username_check CHECK (username ~ '^[a-z0-9._-]{3,64}$'),
    CONSTRAINT console_users_role_check CHECK (role IN ('viewer', 'compliance', 'dba', 'admin')),
    -- Only argon2id PHC strings: a plain password or a weaker scheme cannot be stored.
    CONSTRAINT console_users_password_hash_check CHECK (password_hash LIKE '$argon2id$%'),
    CONSTRAINT console_users_display_name_check CHECK (char_length(display_name) <= 100),
    CONSTRAINT console_users_failed_attempts_check CHECK (failed_attempts >= 0),
    CONSTRAINT console_users_updated_at_check CHECK (updated_at >= created_at)
);

COMMENT ON TABLE console_users IS
    'Accounts of the rustcare-partitions web console; roles viewer, compliance, dba, admin.';
COMMENT ON COLUMN console_users.password_hash IS 'argon2id PHC string (never a password).';
COMMENT ON COLUMN console_users.session_epoch IS
    'Sessions opened under an older epoch are refused (password change, disable).';

DROP TRIGGER IF EXISTS console_users_touch_updated_at ON console_users;
CREATE TRIGGER console_users_touch_updated_at BEFORE UPDATE ON console_users
    FOR EACH ROW EXECUTE FUNCTION rustcare_touch_updated_at();

CREATE TABLE IF NOT EXISTS console_login_attempts (
    id       bigint      GENERATED ALWAYS AS IDENTITY,
    at       timestamptz NOT NULL DEFAULT now(),
    -- As typed (normalised), whether or not such an account exists.
    username text        NOT NULL,
    ip       inet,
    outcome  text        NOT NULL,
    CONSTRAINT console_login_attempts_pkey PRIMARY KEY (id),
    CONSTRAINT console_login_attempts_outcome_check
        CHECK (outcome IN ('ok', 'failed', 'disabled', 'throttled')),
    CONSTRAINT console_login_attempts_username_check CHECK (char_length(username) <= 200)
);
CREATE INDEX IF NOT EXISTS idx_console_login_attempts_username_at
    ON console_login_attempts (username, at);
CREATE INDEX IF NOT EXISTS idx_console_login_attempts_ip_at
    ON console_login_attempts (ip, at);

COMMENT ON TABLE console_login_attempts IS
    'Every console login attempt: per-username and per-IP throttling, and a security log (kept 90 days).';

-- The layout tower-sessions-sqlx-store expects (PostgresStore with table console_sessions).
-- Not the partitioned `sessions` table of the auth service.
CREATE TABLE IF NOT EXISTS console_sessions (
    id          text        NOT NULL,
    data        bytea       NOT NULL,
    expiry_date timestamptz NOT NULL,
    CONSTRAINT console_sessions_pkey PRIMARY KEY (id)
);
CREATE INDEX IF NOT EXISTS idx_console_sessions_expiry_date ON console_sessions (expiry_date);

COMMENT ON TABLE console_sessions IS
    'Web console sessions (tower-sessions records); expired rows are deleted by the console.';

COMMIT;
