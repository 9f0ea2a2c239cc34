-- no-transaction
-- 004: refresh tokens (rotated on use). An ordinary table here; 006 turns it into weekly partitions
-- starting on Monday. Safe to run twice.
BEGIN;

CREATE TABLE IF NOT EXISTS refresh_tokens (
    id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    -- Neither column is a foreign key: once sessions is partitioned its key is (id, created_at),
    -- and token rows go by partition drop after 60 days, independently of their session.
    user_id    uuid        NOT NULL,
    session_id uuid,
    token_hash text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    CONSTRAINT refresh_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT refresh_tokens_token_hash_check CHECK (token_hash ~ '^[0-9a-f]{32,128}$'),
    CONSTRAINT refresh_tokens_expires_at_check CHECK (expires_at > created_at),
    CONSTRAINT refresh_tokens_revoked_at_check CHECK (revoked_at IS NULL OR revoked_at >= created_at)
);

CREATE INDEX IF NOT EXISTS idx_refresh_tokens_user_id ON refresh_tokens (user_id, created_at);
CREATE INDEX IF NOT EXISTS idx_refresh_tokens_session_id ON refresh_tokens (session_id);
CREATE INDEX IF NOT EXISTS idx_refresh_tokens_created_at ON refresh_tokens (created_at);

COMMENT ON TABLE refresh_tokens IS 'Refresh tokens, stored as hashes; revoked on rotation. Retained 60 days.';

COMMIT;
