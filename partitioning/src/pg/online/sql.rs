//! SQL text of the online conversion: the shadow table, its partitions, the capture trigger,
//! one backfill batch and the per-period verification query. Every identifier is quoted.

use crate::calendar::Period;
use crate::table::{quote_ident, ManagedTable};

use super::layout::{self, Key, NEW};

/// `date_trunc` unit, the upper-bound step and the `to_char` name format of a period, as 006.
fn period_sql(p: Period) -> (&'static str, &'static str, &'static str) {
    match p {
        Period::Month => ("month", "1 month", "YYYY_MM"),
        Period::Week => ("week", "7 days", "YYYY_MM_DD"),
        Period::Day => ("day", "1 day", "YYYY_MM_DD"),
    }
}

fn key_col(t: ManagedTable) -> String {
    quote_ident(t.partition_column())
}

/// Creates the shadow table and its keys (with `__new` names).
pub fn create_shadow(t: ManagedTable, migrate: bool) -> Vec<String> {
    let shadow = quote_ident(&layout::shadow_name(t, migrate));
    let live = quote_ident(t.name());
    let partition = if migrate {
        format!(" PARTITION BY RANGE ({})", key_col(t))
    } else {
        String::new()
    };
    let mut out = vec![format!(
        "CREATE TABLE {shadow} (LIKE {live} INCLUDING DEFAULTS INCLUDING CONSTRAINTS \
         INCLUDING STORAGE INCLUDING COMMENTS){partition}"
    )];
    let keys = if migrate {
        layout::partitioned_keys(t)
    } else {
        layout::ordinary_keys(t)
    };
    out.extend(keys.iter().map(|k| key_sql(k, &shadow)));
    out
}

fn key_sql(k: &Key, shadow: &str) -> String {
    let name = quote_ident(&format!("{}{NEW}", k.name));
    if k.constraint {
        format!("ALTER TABLE {shadow} ADD CONSTRAINT {name} {}", k.def)
    } else {
        format!("CREATE INDEX {name} ON {shadow} {}", k.def)
    }
}

/// The function creating the shadow's partition holding a timestamp (migrate only).
pub fn partition_function(t: ManagedTable) -> String {
    let (unit, step, fmt) = period_sql(t.period());
    let shadow = layout::shadow_name(t, true);
    let func = quote_ident(&format!("{}_online_partition", t.name()));
    format!(
        "CREATE OR REPLACE FUNCTION {func}(ts timestamptz) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
    lo timestamp := date_trunc('{unit}', ts AT TIME ZONE 'UTC');
    hi timestamp := lo + interval '{step}';
BEGIN
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                   '{name}_' || to_char(lo, '{fmt}'), '{shadow}',
                   to_char(lo, 'YYYY-MM-DD HH24:MI:SS') || '+00', to_char(hi, 'YYYY-MM-DD HH24:MI:SS') || '+00');
END $f$",
        name = t.name()
    )
}

/// Creates a partition for every period holding a row, and the current period through `ahead`.
pub fn create_partitions(t: ManagedTable, ahead: u32) -> String {
    let (unit, step, _) = period_sql(t.period());
    let func = quote_ident(&format!("{}_online_partition", t.name()));
    format!(
        "SELECT {func}(d) FROM (
            SELECT DISTINCT date_trunc('{unit}', {key} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS d FROM {live}
            UNION
            SELECT (date_trunc('{unit}', now() AT TIME ZONE 'UTC') + n * interval '{step}') AT TIME ZONE 'UTC'
            FROM generate_series(0, {ahead}) AS n) AS periods",
        key = key_col(t),
        live = quote_ident(t.name())
    )
}

/// The capture function: mirrors every write of the live table into the shadow, in the writing
/// transaction (so any snapshot sees both tables alike).
pub fn capture_function(t: ManagedTable, migrate: bool) -> String {
    let shadow = quote_ident(&layout::shadow_name(t, migrate));
    let func = quote_ident(&layout::capture_name(t));
    let key = key_col(t);
    let matching = if migrate {
        format!("id = OLD.id AND {key} = OLD.{key}")
    } else {
        "id = OLD.id".to_string()
    };
    let insert = format!("INSERT INTO {shadow} SELECT (NEW).* ON CONFLICT DO NOTHING;");
    let insert = if migrate {
        let part = quote_ident(&format!("{}_online_partition", t.name()));
        // A row for a period with no partition yet (e.g. past the window): make it, then retry.
        format!(
            "BEGIN
            {insert}
        EXCEPTION WHEN check_violation THEN
            PERFORM {part}(NEW.{key});
            {insert}
        END;"
        )
    } else {
        insert
    };
    format!(
        "CREATE OR REPLACE FUNCTION {func}() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM {shadow} WHERE {matching};
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        {insert}
    END IF;
    RETURN NULL;
END $f$"
    )
}

pub fn capture_trigger(t: ManagedTable) -> String {
    let name = quote_ident(&layout::capture_name(t));
    format!(
        "CREATE TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE ON {} \
         FOR EACH ROW EXECUTE FUNCTION {name}()",
        quote_ident(t.name())
    )
}

/// One batch from `source` (the live table, or one of its partitions; already quoted): the next
/// `$2` rows with an id after `$1`, read along the primary-key index and row-locked FOR SHARE so
/// no write can change them until the batch commits, copied into the shadow, and the cursor of
/// `online_migration` (`$3` the table, `$4` the cursor key) moved past them. One statement, so it
/// runs as one autocommit transaction: the rows are locked only while the server executes it,
/// never across a round trip to a client that may be slow to answer. Returns (rows read, rows
/// inserted, last id), the last id NULL (and the cursor untouched) when nothing is left.
pub fn backfill_batch(source: &str, shadow: &str, columns: &str) -> String {
    format!(
        "WITH src AS (
            SELECT {columns} FROM {source} WHERE id > $1::uuid ORDER BY id LIMIT $2 FOR SHARE),
         ins AS (INSERT INTO {shadow} ({columns}) SELECT {columns} FROM src ON CONFLICT DO NOTHING RETURNING 1),
         done AS (SELECT (SELECT count(*) FROM src) AS read, (SELECT count(*) FROM ins) AS inserted,
                         (SELECT s.id FROM src AS s ORDER BY s.id DESC LIMIT 1)::text AS last),
         cursor AS (UPDATE online_migration m
                    SET cursor_key = $4::timestamptz, cursor_id = d.last,
                        rows_copied = m.rows_copied + d.inserted, updated_at = now()
                    FROM done d WHERE m.table_name = $3 AND d.last IS NOT NULL RETURNING 1)
         SELECT d.read, d.inserted, d.last FROM done d",
        shadow = quote_ident(shadow),
    )
}

/// A string literal (the names here are ours, but quoted all the same).
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The swap as one statement, so the locks are held for one round trip, not one per rename:
/// the capture trigger dropped, the live table and its indexes (and so its keys) renamed to the
/// kept name and `__old` names, the shadow and its `__new` indexes to the final names.
pub fn swap_block(t: ManagedTable, migrate: bool) -> String {
    let live = quote_ident(t.name());
    let shadow = quote_ident(&layout::shadow_name(t, migrate));
    let kept = quote_ident(&layout::kept_name(t, migrate));
    let capture = quote_ident(&layout::capture_name(t));
    let (old, new) = (layout::OLD, NEW);
    format!(
        "DO $swap$
DECLARE
    ix record;
BEGIN
    LOCK TABLE {live}, {shadow} IN ACCESS EXCLUSIVE MODE;
    DROP TRIGGER IF EXISTS {capture} ON {live};
    FOR ix IN SELECT c.relname::text AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
              WHERE i.indrelid = {live_lit}::regclass AND right(c.relname, {old_len}) <> {old_lit} LOOP
        EXECUTE format('ALTER INDEX %I RENAME TO %I', ix.name, left(ix.name || {old_lit}, 63));
    END LOOP;
    ALTER TABLE {live} RENAME TO {kept};
    FOR ix IN SELECT c.relname::text AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
              WHERE i.indrelid = {shadow_lit}::regclass AND right(c.relname, {new_len}) = {new_lit} LOOP
        EXECUTE format('ALTER INDEX %I RENAME TO %I', ix.name, left(ix.name, length(ix.name) - {new_len}));
    END LOOP;
    ALTER TABLE {shadow} RENAME TO {live};
    DROP FUNCTION IF EXISTS {capture}();
END $swap$",
        live_lit = lit(&live),
        shadow_lit = lit(&shadow),
        old_lit = lit(old),
        new_lit = lit(new),
        old_len = old.len(),
        new_len = new.len(),
    )
}

/// Rows and checksum per period of `rel`: (period start, rows, sum of row hashes).
pub fn per_period(t: ManagedTable, rel: &str) -> String {
    let (unit, _, _) = period_sql(t.period());
    format!(
        "SELECT to_char(date_trunc('{unit}', {key} AT TIME ZONE 'UTC'), 'YYYY-MM-DD'), count(*), \
         coalesce(sum(hashtextextended(x::text, 0)::numeric), 0)::text \
         FROM {rel} AS x GROUP BY 1 ORDER BY 1",
        key = key_col(t),
        rel = quote_ident(rel)
    )
}
