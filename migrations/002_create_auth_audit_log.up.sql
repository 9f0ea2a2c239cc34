-- no-transaction
-- 002: the authentication audit trail (HIPAA 45 CFR 164.312(b): record and examine activity).
-- An ordinary table here; 006 turns it into monthly partitions. Safe to run twice.
BEGIN;

CREATE TABLE IF NOT EXISTS auth_audit_log (
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    "timestamp" timestamptz NOT NULL DEFAULT now(),
    -- NULL when no account is known (a failed login for an unknown email). Deliberately not a
    -- foreign key: the trail must outlive the account it describes (retention 7 years).
    user_id     uuid,
    event_type  text        NOT NULL,
    outcome     text        NOT NULL,
    ip_address  inet,
    user_agent  text,
    resource    text,
    details     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    request_id  uuid,
    CONSTRAINT auth_audit_log_pkey PRIMARY KEY (id),
    CONSTRAINT auth_audit_log_event_type_check CHECK (event_type ~ '^[a-z][a-z0-9_.]{0,63}$'),
    CONSTRAINT auth_audit_log_outcome_check CHECK (outcome IN ('success', 'failure', 'denied', 'error')),
    CONSTRAINT auth_audit_log_user_agent_check CHECK (user_agent IS NULL OR length(user_agent) <= 2048),
    CONSTRAINT auth_audit_log_resource_check CHECK (resource IS NULL OR length(resource) <= 2048),
    CONSTRAINT auth_audit_log_details_check CHECK (jsonb_typeof(details) = 'object')
);

-- The guide's two indexes, plus one for "all failed logins last week" style reviews.
CREATE INDEX IF NOT EXISTS idx_audit_log_timestamp ON auth_audit_log ("timestamp");
CREATE INDEX IF NOT EXISTS idx_audit_log_user_id ON auth_audit_log (user_id, "timestamp");
CREATE INDEX IF NOT EXISTS idx_audit_log_event_type ON auth_audit_log (event_type, "timestamp");

COMMENT ON TABLE auth_audit_log IS
    'Authentication audit trail: one row per security-relevant event. Retained 7 years (HIPAA floor: 6).';
COMMENT ON COLUMN auth_audit_log.request_id IS 'Correlates the row with the application request log.';

COMMIT;
