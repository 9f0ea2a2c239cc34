-- no-transaction
-- 008: what the web console's dashboard keeps: a history of partition sizes (sampled in the
-- background by `serve`; feeds the growth charts and spares pages the slow per-file size calls)
-- and the read-only wall-display links (only a SHA-256 of each link token is stored).
-- Runs through sqlx (the line above stops sqlx wrapping it: the file carries its own BEGIN/COMMIT)
-- and as `psql $DATABASE_URL -f migrations/008_console_dashboard.up.sql`. Safe to run twice.
BEGIN;

CREATE TABLE IF NOT EXISTS partition_size_sample (
    taken_at       timestamptz NOT NULL,
    table_name     text        NOT NULL,
    partition_name text        NOT NULL,
    -- pg_total_relation_size: heap, indexes and TOAST.
    bytes          bigint      NOT NULL,
    -- reltuples at sampling time (a planner estimate; 0 before the first ANALYZE).
    est_rows       bigint      NOT NULL,
    CONSTRAINT partition_size_sample_pkey PRIMARY KEY (table_name, taken_at, partition_name),
    CONSTRAINT partition_size_sample_bytes_check CHECK (bytes >= 0),
    CONSTRAINT partition_size_sample_est_rows_check CHECK (est_rows >= 0)
);
-- The charts read "latest sample" and "totals per sample time" of one table; the PK serves both.
-- Pruning old samples reads by time across tables.
CREATE INDEX IF NOT EXISTS idx_partition_size_sample_taken_at ON partition_size_sample (taken_at);

COMMENT ON TABLE partition_size_sample IS
    'Exact partition sizes sampled every few minutes by the console (growth charts, size history).';

CREATE TABLE IF NOT EXISTS wall_tokens (
    id          bigint      GENERATED ALWAYS AS IDENTITY,
    -- Hex SHA-256 of the token: the token itself is shown once, when created, and never stored.
    token_hash  text        NOT NULL,
    label       text        NOT NULL,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CONSTRAINT wall_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT wall_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT wall_tokens_token_hash_check CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT wall_tokens_label_check CHECK (char_length(label) BETWEEN 1 AND 100),
    CONSTRAINT wall_tokens_revoked_at_check CHECK (revoked_at IS NULL OR revoked_at >= created_at)
);

COMMENT ON TABLE wall_tokens IS
    'Read-only wall-display links (/wall?token=...): a TV shows the dashboard without a login. Revoked links answer 403.';
COMMENT ON COLUMN wall_tokens.token_hash IS 'hex SHA-256 of the link token (never the token).';

COMMIT;
