-- no-transaction
-- 011: what the built-in scheduler and the online migrate/rollback keep.
--   scheduler_runs: one row per run of a scheduled job (create daily, cleanup weekly) by a console;
--     UNIQUE (job, slot) is how several consoles agree that one of them runs a slot, once.
--   online_migration: the state of an online `migrate` / `rollback` of one table, so a run killed
--     at any step resumes where it stopped. `rustcare-partitions migrate` creates the same table
--     itself (IF NOT EXISTS) on a database that stops at 005, before this file can apply.
-- Runs through sqlx (the line above stops sqlx wrapping it) and as
-- `psql $DATABASE_URL -f migrations/011_online_migration_and_scheduler.up.sql`. Safe to run twice.
BEGIN;

CREATE TABLE IF NOT EXISTS scheduler_runs (
    id           bigint      GENERATED ALWAYS AS IDENTITY,
    job          text        NOT NULL,
    -- The scheduled time this run is for (UTC); a late start still names the slot it makes up.
    slot         timestamptz NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    -- running | ok | partial (some actions not done) | failed
    outcome      text        NOT NULL DEFAULT 'running',
    detail       text        NOT NULL DEFAULT '',
    actions      integer     NOT NULL DEFAULT 0,
    -- Which console ran it: host and process id.
    runner       text        NOT NULL DEFAULT '',
    CONSTRAINT scheduler_runs_pkey PRIMARY KEY (id),
    CONSTRAINT scheduler_runs_job_slot_key UNIQUE (job, slot),
    CONSTRAINT scheduler_runs_job_check CHECK (job IN ('create', 'cleanup')),
    CONSTRAINT scheduler_runs_outcome_check CHECK (outcome IN ('running', 'ok', 'partial', 'failed')),
    CONSTRAINT scheduler_runs_actions_check CHECK (actions >= 0),
    CONSTRAINT scheduler_runs_finished_check CHECK (finished_at IS NULL OR finished_at >= started_at)
);
CREATE INDEX IF NOT EXISTS idx_scheduler_runs_started_at ON scheduler_runs (started_at);
COMMENT ON TABLE scheduler_runs IS
    'History of the console''s scheduled jobs (create daily, cleanup weekly); one row per (job, slot), so two consoles never run one slot twice.';

CREATE TABLE IF NOT EXISTS online_migration (
    table_name   text        NOT NULL,
    -- migrate: ordinary -> partitioned; rollback: partitioned -> ordinary.
    direction    text        NOT NULL,
    -- prepared | backfilled | verified | swapped | finished
    phase        text        NOT NULL,
    -- The table being built beside the live one, and the name the old one keeps after the swap.
    shadow_name  text        NOT NULL,
    kept_name    text        NOT NULL,
    -- Backfill progress: the next heap block of the live table to copy, of how many.
    next_block   bigint      NOT NULL DEFAULT 0,
    total_blocks bigint      NOT NULL DEFAULT 0,
    rows_copied  bigint      NOT NULL DEFAULT 0,
    started_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    actor        text        NOT NULL DEFAULT '',
    detail       text        NOT NULL DEFAULT '',
    CONSTRAINT online_migration_pkey PRIMARY KEY (table_name),
    CONSTRAINT online_migration_direction_check CHECK (direction IN ('migrate', 'rollback')),
    CONSTRAINT online_migration_phase_check
        CHECK (phase IN ('prepared', 'backfilled', 'verified', 'swapped', 'finished'))
);
COMMENT ON TABLE online_migration IS
    'State of an online migrate/rollback per table: a run killed at any step resumes from here.';

COMMIT;
