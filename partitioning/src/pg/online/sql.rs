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

/// One batch: the next `$3` rows after the cursor ($1 key, NULL at the start; $2 id), row-locked FOR SHARE so no
/// write can change them until this batch commits, copied into the shadow. Returns (rows read,
/// rows inserted, last key, last id); no row when nothing is left.
pub fn backfill_batch(t: ManagedTable, migrate: bool) -> String {
    let key = key_col(t);
    format!(
        "WITH src AS (
            SELECT * FROM {live}
            WHERE {key} >= coalesce($1, '-infinity') AND ({key}, id) > (coalesce($1, '-infinity'), $2::uuid)
            ORDER BY {key}, id LIMIT $3 FOR SHARE),
         ins AS (INSERT INTO {shadow} SELECT * FROM src ON CONFLICT DO NOTHING RETURNING 1)
         SELECT (SELECT count(*) FROM src), (SELECT count(*) FROM ins), l.{key}, l.id::text
         FROM (SELECT {key}, id FROM src ORDER BY {key} DESC, id DESC LIMIT 1) AS l",
        live = quote_ident(t.name()),
        shadow = quote_ident(&layout::shadow_name(t, migrate)),
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
