//! Reading an entry again after its partition set changed, by patching it: the signature says
//! *that* a table's `pg_inherits` rows changed; their `xmin`s, row by row, say *which*. So the
//! entry keeps the rows it was read with (`Members`), and after a change (a partition created,
//! attached, detached — its pending step too —, finalized or dropped) only the partitions whose
//! row is new or changed are read, plus the ones that left, in case they stayed behind as
//! leftovers. At 10,000 partitions that is the parent's `pg_inherits` rows (no `pg_class` probes)
//! and a handful of partitions, instead of every partition again.
//!
//! A patch is exactly as true as a whole snapshot for the partition set (attached partitions,
//! bounds, default, detach-pending, leftovers of what just left); the partitions it did not
//! re-read keep the sizes and statistics of the entry, which is why a patched entry keeps the
//! entry's age: it is read whole again once that age comes, as any entry is. What `pg_inherits`
//! does not show (a leftover dropped, a rename, a seal) shows within that age, as before.

use std::collections::HashSet;

use sqlx::{PgConnection, PgPool};

use super::{Signature, SIGNATURE_AND_MEMBERS_SQL};
use crate::catalog::CatalogSnapshot;
use crate::pg::catalog::{begin_snapshot, read_snapshot, Detail};
use crate::table::ManagedTable;

/// The `pg_inherits` rows a snapshot was read with: (child oid, row `xmin`), sorted by oid.
pub(super) type Members = Vec<(i64, i64)>;

/// A snapshot with the signature and the rows of its partition set, all read in its transaction.
pub(super) struct Read {
    pub signature: Signature,
    pub members: Members,
    pub snapshot: CatalogSnapshot,
}

/// The most partitions a patch reads; a change touching more reads a whole snapshot.
const PATCH_LIMIT: usize = 500;

/// A whole snapshot of `tables` at `detail`, with its signature and rows.
pub(super) async fn read_full(
    pool: &PgPool,
    tables: &[ManagedTable],
    detail: Detail,
) -> Result<Read, sqlx::Error> {
    let mut conn = begin_snapshot(pool).await?;
    let (signature, members) = signature_and_members(&mut conn, tables).await?;
    let snapshot = read_snapshot(&mut conn, tables, detail, None).await?;
    conn.commit().await?;
    Ok(Read {
        signature,
        members,
        snapshot,
    })
}

/// `old` (read with `old_members`) brought up to date by reading only what changed since; `None`
/// when a patch cannot say it: a table's parent is another one now (dropped and made again, or
/// no longer partitioned), or more than `PATCH_LIMIT` partitions changed.
pub(super) async fn read_patch(
    pool: &PgPool,
    tables: &[ManagedTable],
    detail: Detail,
    old: &CatalogSnapshot,
    old_members: &Members,
) -> Result<Option<Read>, sqlx::Error> {
    let mut conn = begin_snapshot(pool).await?;
    let (signature, members) = signature_and_members(&mut conn, tables).await?;
    let same_parents = signature.iter().all(|(name, oid, relkind, ..)| {
        old.tables.iter().any(|t| {
            t.table.name() == name
                && i64::from(t.oid) == *oid
                && t.is_partitioned == (relkind == "p")
        })
    });
    if !same_parents || old.tables.len() != tables.len() {
        return Ok(None);
    }
    let diff = diff(old_members, &members);
    if diff.len() > PATCH_LIMIT {
        return Ok(None);
    }
    let oids = |present: bool| -> Vec<i64> {
        diff.iter()
            .filter(|(_, x)| x.is_some() == present)
            .map(|(o, _)| *o)
            .collect()
    };
    let (changed, gone) = (oids(true), oids(false));
    let part = read_snapshot(&mut conn, tables, detail, Some((&changed, &gone))).await?;
    conn.commit().await?;
    let touched: HashSet<u32> = diff
        .iter()
        .filter_map(|(o, _)| u32::try_from(*o).ok())
        .collect();
    Ok(Some(Read {
        signature,
        members,
        snapshot: merge(old, part, &touched),
    }))
}

/// How `now` differs from `before` (both sorted by oid): `(oid, Some(xmin))` for a row new or
/// changed (a partition created or attached, its detach begun), `(oid, None)` for one gone
/// (detached, dropped).
fn diff(before: &[(i64, i64)], now: &[(i64, i64)]) -> Vec<(i64, Option<i64>)> {
    let (mut b, mut n) = (before.iter().peekable(), now.iter().peekable());
    let mut out = Vec::new();
    loop {
        match (b.peek(), n.peek()) {
            (Some(&&(bo, bx)), Some(&&(no, nx))) if bo == no => {
                if bx != nx {
                    out.push((no, Some(nx)));
                }
                b.next();
                n.next();
            }
            (Some(&&(bo, _)), Some(&&(no, _))) if bo < no => {
                out.push((bo, None));
                b.next();
            }
            (_, Some(&&(no, nx))) => {
                out.push((no, Some(nx)));
                n.next();
            }
            (Some(&&(bo, _)), None) => {
                out.push((bo, None));
                b.next();
            }
            (None, None) => return out,
        }
    }
}

/// `old` without the partitions `touched` names, with those `part` read instead (attached,
/// default or leftover), in the order a whole snapshot has them (by name).
fn merge(old: &CatalogSnapshot, part: CatalogSnapshot, touched: &HashSet<u32>) -> CatalogSnapshot {
    let mut tables = old.tables.clone();
    for t in &mut tables {
        t.partitions.retain(|p| !touched.contains(&p.oid));
        t.detached.retain(|p| !touched.contains(&p.oid));
        if t.default_partition
            .as_ref()
            .is_some_and(|d| touched.contains(&d.oid))
        {
            t.default_partition = None;
        }
        let Some(new) = part.table(t.table) else {
            continue;
        };
        // Both lists are sorted by name; the few partitions read go in where they belong.
        for p in &new.partitions {
            let at = t.partitions.partition_point(|q| q.name < p.name);
            t.partitions.insert(at, p.clone());
        }
        for p in &new.detached {
            let at = t.detached.partition_point(|q| q.name < p.name);
            t.detached.insert(at, p.clone());
        }
        if new.default_partition.is_some() {
            t.default_partition.clone_from(&new.default_partition);
        }
    }
    CatalogSnapshot {
        taken_at: part.taken_at,
        server_version_num: part.server_version_num,
        tables,
    }
}

/// The signature of `tables` and the `pg_inherits` rows it sums, sorted by oid, in `conn`'s
/// transaction.
async fn signature_and_members(
    conn: &mut PgConnection,
    tables: &[ManagedTable],
) -> Result<(Signature, Members), sqlx::Error> {
    type Row = (String, i64, String, i64, i64, i64, Vec<i64>, Vec<i64>);
    let names: Vec<&str> = tables.iter().map(|t| t.name()).collect();
    let rows: Vec<Row> = sqlx::query_as(SIGNATURE_AND_MEMBERS_SQL)
        .bind(&names)
        .fetch_all(&mut *conn)
        .await?;
    let mut members = Members::new();
    let mut signature = Signature::with_capacity(rows.len());
    for (name, oid, relkind, count, oids, xmins, children, row_xmins) in rows {
        members.extend(children.into_iter().zip(row_xmins));
        signature.push((name, oid, relkind, count, oids, xmins));
    }
    // Each table's rows come sorted; several tables' are put in one order.
    members.sort_unstable();
    Ok((signature, members))
}

#[cfg(test)]
mod tests {
    use super::diff;

    #[test]
    fn the_diff_names_rows_new_changed_and_gone_and_nothing_else() {
        let before = [(10, 1), (20, 1), (30, 1), (40, 1)];
        let now = [(5, 2), (10, 1), (25, 7), (30, 9), (40, 1), (50, 3)];
        assert_eq!(
            diff(&before, &now),
            vec![
                (5, Some(2)),
                (20, None),
                (25, Some(7)),
                (30, Some(9)),
                (50, Some(3))
            ]
        );
        assert_eq!(diff(&now, &now), vec![]);
        assert_eq!(diff(&before, &[]).len(), before.len());
        assert_eq!(diff(&[], &now).len(), now.len());
    }
}
