-- no-transaction
-- 001: accounts of the RustCare auth service.
-- Runs through sqlx (the line above stops sqlx wrapping it: the file carries its own BEGIN/COMMIT)
-- and as `psql $DATABASE_URL -f migrations/001_create_users.up.sql`. Safe to run twice.
BEGIN;

CREATE TABLE IF NOT EXISTS users (
    id                 uuid        NOT NULL DEFAULT gen_random_uuid(),
    email              text        NOT NULL,
    password_hash      text        NOT NULL,
    display_name       text,
    status             text        NOT NULL DEFAULT 'pending',
    mfa_enabled        boolean     NOT NULL DEFAULT false,
    failed_login_count integer     NOT NULL DEFAULT 0,
    last_login_at      timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_email_key UNIQUE (email),
    -- Stored lower-case so the unique constraint is case-insensitive in effect.
    CONSTRAINT users_email_check CHECK (email = lower(email) AND position('@' IN email) > 1
                                        AND length(email) <= 320),
    -- A hash (argon2id, bcrypt...), never a password: refuse anything too short to be one.
    CONSTRAINT users_password_hash_check CHECK (length(password_hash) >= 20),
    CONSTRAINT users_display_name_check CHECK (display_name IS NULL OR length(display_name) <= 200),
    CONSTRAINT users_status_check CHECK (status IN ('pending', 'active', 'locked', 'disabled')),
    CONSTRAINT users_failed_login_count_check CHECK (failed_login_count >= 0),
    CONSTRAINT users_updated_at_check CHECK (updated_at >= created_at)
);

CREATE INDEX IF NOT EXISTS idx_users_status ON users (status) WHERE status <> 'active';

COMMENT ON TABLE users IS 'Accounts of the RustCare auth service (email + password hash, MFA flag, lockout counter).';
COMMENT ON COLUMN users.failed_login_count IS 'Consecutive failed logins; reset on success, drives status = locked.';

-- Keeps updated_at honest whatever the client sends.
CREATE OR REPLACE FUNCTION rustcare_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := greatest(now(), NEW.created_at);
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION rustcare_touch_updated_at() IS
    'BEFORE UPDATE trigger: sets updated_at to now() (never before created_at).';

DROP TRIGGER IF EXISTS users_touch_updated_at ON users;
CREATE TRIGGER users_touch_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION rustcare_touch_updated_at();

COMMIT;
