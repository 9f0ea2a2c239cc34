-- no-transaction
-- 005: fixed-window request counters per bucket (an IP, an account, an API key). An ordinary table
-- here; 006 turns it into daily partitions. Safe to run twice.
BEGIN;

CREATE TABLE IF NOT EXISTS rate_limits (
    id             uuid        NOT NULL DEFAULT gen_random_uuid(),
    bucket_key     text        NOT NULL,
    window_start   timestamptz NOT NULL,
    window_seconds integer     NOT NULL DEFAULT 60,
    request_count  integer     NOT NULL DEFAULT 0,
    max_requests   integer     NOT NULL,
    blocked        boolean     NOT NULL DEFAULT false,
    CONSTRAINT rate_limits_pkey PRIMARY KEY (id),
    -- One counter per bucket and window: the service upserts on this key. It holds the partition
    -- key, so it stays a real unique constraint after 006.
    CONSTRAINT rate_limits_bucket_window_key UNIQUE (bucket_key, window_start),
    CONSTRAINT rate_limits_bucket_key_check CHECK (length(bucket_key) BETWEEN 1 AND 256),
    CONSTRAINT rate_limits_window_seconds_check CHECK (window_seconds BETWEEN 1 AND 86400),
    CONSTRAINT rate_limits_request_count_check CHECK (request_count >= 0),
    CONSTRAINT rate_limits_max_requests_check CHECK (max_requests > 0)
);

CREATE INDEX IF NOT EXISTS idx_rate_limits_window_start ON rate_limits (window_start);

COMMENT ON TABLE rate_limits IS 'Fixed-window request counters per bucket key. Retained 7 days.';

COMMIT;
