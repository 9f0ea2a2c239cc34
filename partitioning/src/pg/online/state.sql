-- The online migrate/rollback state table, as migration 011 makes it, plus the backfill cursor.
-- Run by `rustcare-partitions migrate|rollback` itself, so it also works on a database that stops
-- at 005 (before 011 can apply). Idempotent.
CREATE TABLE IF NOT EXISTS online_migration (
    table_name   text        NOT NULL,
    direction    text        NOT NULL,
    phase        text        NOT NULL,
    shadow_name  text        NOT NULL,
    kept_name    text        NOT NULL,
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
-- The backfill walks rows in (partition key, id) order; the last copied pair is the cursor.
ALTER TABLE online_migration
    ADD COLUMN IF NOT EXISTS cursor_key timestamptz NOT NULL DEFAULT '-infinity',
    ADD COLUMN IF NOT EXISTS cursor_id  text        NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000';
-- What the cursor means: 'id' (migrate: the last id copied, in primary-key order), 'partition_id'
-- (rollback: cursor_key is the lower bound of the partition being copied, cursor_id the last id
-- copied from it). Rows from before this column ('key_id': the last (partition key, id) pair) are
-- never read with the new meaning: the backfill copies again from the first row.
ALTER TABLE online_migration
    ADD COLUMN IF NOT EXISTS cursor_kind text NOT NULL DEFAULT 'key_id';
