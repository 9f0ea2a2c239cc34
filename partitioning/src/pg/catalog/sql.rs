//! The snapshot statement (`SNAPSHOT_SQL`) and its variants per detail and server version.

use super::Detail;

/// `{managed}` in `SNAPSHOT_SQL` and `LEFTOVERS_SQL`: each managed table `$1` names with its
/// `stats_from` (`$2`), its parent's oid, kind and schema, and the facts every row repeats.
const MANAGED_CTE: &str = r#"WITH managed AS (
    SELECT m.name, m.stats_from, p.oid AS parent, coalesce(p.relkind = 'p', false) AS partitioned,
           coalesce(p.relnamespace, 'public'::regnamespace) AS nsp, now() AS taken_at,
           current_setting('server_version_num')::int AS version,
           current_setting('block_size')::bigint AS block_size
    FROM unnest($1::text[], $2::text[]) AS m(name, stats_from)
    LEFT JOIN pg_class p ON p.oid = to_regclass(quote_ident(m.name))
)"#;

/// Every partition of every managed table (attached or detach-pending). `detach_pending` comes
/// from `pg_inherits.inhdetachpending` (PostgreSQL 14+; through `to_jsonb` on 13, which lacks the
/// column and is slower).
///
/// Shaped for 10,000 partitions in a database of 100,000 relations (each choice measured with
/// EXPLAIN ANALYZE on such a catalog): every read goes through an index, so the cost follows the
/// managed tables' partitions, not everything else in `pg_class` (a sequential pass over
/// `pg_class` cost twice as much for 5,000 partitions among 95,000 relations, and as much for
/// 10,000):
/// - `attached`: the parents' `pg_inherits` rows through their parent index, then each child's
///   `pg_class` row by oid (`OFFSET 0` keeps the planner from trading the probes for a sequential
///   pass, which it prefers from a few thousand children on);
/// - leftovers (tables named like our partitions, attached to nothing, left by a run killed
///   between DETACH and DROP) are *counted* here, not listed: `named_count` is the number of row
///   types in the parent's schema named `<table>_` plus 7 or 10 characters, read index-only from
///   `pg_type`'s name index. A table's row type always bears the table's name and schema (CREATE
///   refuses a taken type name; RENAME and SET SCHEMA move both), and indexes have none, so this
///   range holds one entry a table where `pg_class`'s holds one for every index too. When the
///   count exceeds the attached partitions of that shape in that schema (`in_nsp`), and only then,
///   `LEFTOVERS_SQL` lists them in the same transaction (Rust compares:
///   `catalog::may_have_leftovers`). `named` is MATERIALIZED so that the count runs once a table:
///   as a subquery of the outer SELECT it ran once a row (13 s at 10,000 partitions). Pairing
///   every name with the attached partitions in SQL cost a fifth of the statement;
/// - the bound is sent as the stored node text and read in Rust (`node`); `pg_get_expr` (3-4 µs a
///   row on the server) runs only for the few partitions whose node is not a plain `timestamptz`
///   range matching their name, in a second statement;
/// - statistics come from the `pg_stat_get_*` functions, only for the rows `$2` asks for;
/// - index and TOAST pages (five more catalog rows a partition) only in `Detail::Full`;
/// - no ORDER BY, and no CTE read twice: materialising the wide rows spilled to disk; Rust sorts
///   the partitions by name;
/// - run with `jit = off` (`NO_JIT_SQL`): the estimated cost crosses `jit_above_cost` from a few
///   thousand partitions, and compiling took 60+ ms, longer than executing.
///
/// `{managed}`, `{pending}`, `{only}`, `{named}`, `{sealed_only}` and `{full}` are filled by
/// `snapshot_sql`. The session TimeZone is UTC (sqlx sets
/// it), so deparsed bounds print with `+00`.
const SNAPSHOT_SQL: &str = r#"
{managed}, rels AS (
    SELECT m.name AS table_name, c.oid, c.relname, c.relnamespace, c.relpartbound, c.reltuples,
           c.relpages, c.reltoastrelid, c.reltablespace, {pending} AS detach_pending
    FROM managed m
    JOIN pg_inherits i ON i.inhparent = m.parent{only}
    CROSS JOIN LATERAL (SELECT * FROM pg_class c WHERE c.oid = i.inhrelid OFFSET 0) c
    WHERE c.relkind IN ('r', 'p', 'f')
), named AS MATERIALIZED (
    {named}
){index_cte}, sealed AS (
    SELECT DISTINCT tg.tgrelid AS oid FROM pg_trigger tg WHERE tg.tgname = 'rustcare_sealed'{sealed_only}
)
SELECT m.taken_at,
       m.version,
       m.name,
       coalesce(m.parent, 0)::bigint AS parent_oid,
       m.partitioned,
       r.oid::bigint AS oid,
       r.relname::text AS relname,
       r.relpartbound::text AS node,
       r.detach_pending,
       r.oid IS NOT NULL AS attached,
       greatest(r.reltuples, 0)::bigint AS est_rows,
       ((r.relpages{extra_pages}) * m.block_size)::bigint AS bytes,
       ts.spcname::text AS tablespace,
       CASE WHEN r.relname >= m.stats_from::name
            THEN greatest(pg_stat_get_last_analyze_time(r.oid), pg_stat_get_last_autoanalyze_time(r.oid))
       END AS last_analyzed,
       (s.oid IS NOT NULL) AS sealed,
       n.named_count,
       r.relnamespace = m.nsp AS in_nsp
FROM managed m
JOIN named n ON n.name = m.name
LEFT JOIN rels r ON r.table_name = m.name{index_join}
LEFT JOIN sealed s ON s.oid = r.oid
LEFT JOIN pg_tablespace ts ON ts.oid = r.reltablespace
"#;

/// The leftovers of the tables `$1` names (with `$2` `stats_from`, as in `SNAPSHOT_SQL`): tables
/// in the parent's schema, named exactly like our partitions, not partitions, attached to
/// nothing. Run only when `SNAPSHOT_SQL`'s count says there may be some, in its transaction
/// (repeatable read: the same catalog). Found by name through `pg_type`'s name index, read
/// index-only; the names of attached partitions are passed over with one `pg_class` probe each.
///
/// `{source}` and `{name}` choose how they are found: by name (above), or among given oids
/// (`$3`: partitions the console's cache saw leave `pg_inherits`, `cache::patch`).
const LEFTOVERS_SQL: &str = r#"
{managed}
SELECT m.taken_at,
       m.version,
       m.name,
       coalesce(m.parent, 0)::bigint AS parent_oid,
       m.partitioned,
       c.oid::bigint AS oid,
       c.relname::text AS relname,
       NULL::text AS node,
       false AS detach_pending,
       false AS attached,
       greatest(c.reltuples, 0)::bigint AS est_rows,
       (c.relpages * m.block_size)::bigint AS bytes,
       ts.spcname::text AS tablespace,
       CASE WHEN c.relname >= m.stats_from::name
            THEN greatest(pg_stat_get_last_analyze_time(c.oid), pg_stat_get_last_autoanalyze_time(c.oid))
       END AS last_analyzed,
       EXISTS (SELECT 1 FROM pg_trigger tg WHERE tg.tgrelid = c.oid AND tg.tgname = 'rustcare_sealed')
           AS sealed,
       NULL::bigint AS named_count,
       true AS in_nsp
FROM managed m
{source}
LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
WHERE octet_length({name}::text) IN (octet_length(m.name) + 8, octet_length(m.name) + 11)
  AND {name}::text ~ ('^' || m.name || '_[0-9]{4}_[0-9]{2}(_[0-9]{2})?$')
  AND NOT EXISTS (SELECT 1 FROM pg_inherits x WHERE x.inhrelid = c.oid)
"#;
const LEFTOVERS_BY_NAME: &str = r#"JOIN pg_type t
  ON t.typnamespace = m.nsp
     AND t.typname >= (m.name || '_')::name AND t.typname < (m.name || '`')::name
JOIN pg_class c
  ON c.relname = t.typname AND c.relnamespace = m.nsp
     AND c.relkind = 'r' AND NOT c.relispartition"#;
const LEFTOVERS_BY_OID: &str = r#"JOIN pg_class c
  ON c.oid = ANY($3::bigint[]::oid[]) AND c.relnamespace = m.nsp
     AND c.relkind = 'r' AND NOT c.relispartition"#;

/// `named`'s count of the row types shaped like partition names, for `catalog::may_have_leftovers`.
const NAMED_COUNT: &str = r#"SELECT m.name, (
        SELECT count(*) FROM pg_type t
        WHERE t.typnamespace = m.nsp
          AND t.typname >= (m.name || '_')::name AND t.typname < (m.name || '`')::name
          AND octet_length(t.typname::text) IN (octet_length(m.name) + 8, octet_length(m.name) + 11)
    ) AS named_count
    FROM managed m"#;
/// A patch (`only`) looks for leftovers among the partitions that left, by oid, not by count.
const NO_NAMED_COUNT: &str = "SELECT m.name, NULL::bigint AS named_count FROM managed m";
/// A patch reads the partitions `$3` lists, and their seals through `pg_trigger`'s relid index.
const ONLY_RELS: &str = " AND i.inhrelid = ANY($3::bigint[]::oid[])";
const ONLY_SEALED: &str = " AND tg.tgrelid = ANY($3::bigint[]::oid[])";

/// Index pages summed per partition in one grouped pass, and TOAST pages: `Detail::Full` only.
const INDEX_CTE: &str = r#", index_pages AS (
    SELECT x.indrelid AS oid, sum(ic.relpages)::bigint AS pages
    FROM rels r
    JOIN pg_index x ON x.indrelid = r.oid
    JOIN pg_class ic ON ic.oid = x.indexrelid
    GROUP BY x.indrelid
)"#;
const INDEX_JOIN: &str = r#"
LEFT JOIN pg_class t ON t.oid = r.reltoastrelid
LEFT JOIN index_pages ip ON ip.oid = r.oid"#;
const EXTRA_PAGES: &str = " + coalesce(ip.pages, 0) + coalesce(t.relpages, 0)";

/// The bounds PostgreSQL deparses itself: partitions whose stored node `node::read` did not match
/// their name. `NULL` when the partition was detached since the snapshot's statement.
pub(super) const DEPARSE_SQL: &str = "SELECT u.o, pg_get_expr(c.relpartbound, 0) \
     FROM unnest($1::bigint[]) AS u(o) LEFT JOIN pg_class c ON c.oid = u.o::oid";

/// Turns JIT off for the rest of the caller's transaction (see `SNAPSHOT_SQL`).
pub(super) const NO_JIT_SQL: &str = "SELECT set_config('jit', 'off', true)";

/// `SNAPSHOT_SQL` for `detail`; with `only`, restricted to the partitions whose oids `$3` lists.
pub(super) fn snapshot_sql(detail: Detail, pg14: bool, only: bool) -> String {
    let pending = if pg14 {
        "i.inhdetachpending"
    } else {
        "coalesce((to_jsonb(i) ->> 'inhdetachpending')::boolean, false)"
    };
    let full = detail == Detail::Full;
    SNAPSHOT_SQL
        .replace("{managed}", MANAGED_CTE)
        .replace("{pending}", pending)
        .replace("{only}", if only { ONLY_RELS } else { "" })
        .replace("{named}", if only { NO_NAMED_COUNT } else { NAMED_COUNT })
        .replace("{sealed_only}", if only { ONLY_SEALED } else { "" })
        .replace("{index_cte}", if full { INDEX_CTE } else { "" })
        .replace("{index_join}", if full { INDEX_JOIN } else { "" })
        .replace("{extra_pages}", if full { EXTRA_PAGES } else { "" })
}

/// `LEFTOVERS_SQL` with its `{managed}` filled: found by name, or (`by_oid`) among the oids `$3`
/// lists.
pub(super) fn leftovers_sql(by_oid: bool) -> String {
    let (source, name) = if by_oid {
        (LEFTOVERS_BY_OID, "c.relname")
    } else {
        (LEFTOVERS_BY_NAME, "t.typname")
    };
    LEFTOVERS_SQL
        .replace("{managed}", MANAGED_CTE)
        .replace("{source}", source)
        .replace("{name}", name)
}
