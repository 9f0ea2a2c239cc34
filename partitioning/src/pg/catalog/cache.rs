//! A snapshot cache for the console's read-only pages (overview, table page, charts, health, wall).
//!
//! At 10,000 partitions a snapshot costs 100+ ms on the server and as much again to send and
//! decode, while a DBA paging through the table page or a wall display refreshing asks for the
//! same catalog over and over. A cached snapshot is served only while both hold:
//! - its **partition set is unchanged**: a signature read through `pg_inherits`' parent index
//!   (one narrow row per partition, a few milliseconds at 10,000) changes with every CREATE,
//!   ATTACH, DETACH (its first, pending step too), FINALIZE and DROP of a partition, since each
//!   writes a new `pg_inherits` row version (new `xmin`) or removes one;
//! - it is **younger than `max_age`**: what the signature cannot see (row estimates and sizes
//!   after VACUUM/ANALYZE, a rename, a seal trigger, a detached leftover dropped) shows within that
//!   time, and every page prints the snapshot's `taken_at`.
//!
//! Anything that acts on the catalog (planning a run, executing, approvals, metrics) reads a fresh
//! snapshot; this cache is for what a person looks at.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use super::{snapshot_with, Detail};
use crate::catalog::CatalogSnapshot;
use crate::table::ManagedTable;

/// Per table asked for: parent oid and relkind, then its partitions' count, oid sum and `xmin`
/// sum (DETACH CONCURRENTLY's pending step updates the row, so it shows as a new `xmin`). Sums over a set of distinct oids and row versions: any change
/// of the set changes one of them (a swap of one row for another with equal oid and xmin sums in
/// the same statement is not something DDL does).
const SIGNATURE_SQL: &str =
    "SELECT m.name, coalesce(p.oid, 0)::bigint, coalesce(p.relkind::text, ''), \
       count(i.inhrelid), coalesce(sum(i.inhrelid::bigint), 0)::bigint, \
       coalesce(sum(i.xmin::text::bigint), 0)::bigint \
     FROM unnest($1::text[]) WITH ORDINALITY AS m(name, ord) \
     LEFT JOIN pg_class p ON p.oid = to_regclass(quote_ident(m.name)) \
     LEFT JOIN pg_inherits i ON i.inhparent = p.oid \
     GROUP BY m.ord, m.name, p.oid, p.relkind ORDER BY m.ord";

type Signature = Vec<(String, i64, String, i64, i64, i64)>;

struct Entry {
    signature: Signature,
    fetched: Instant,
    snapshot: Arc<CatalogSnapshot>,
}

/// Snapshots by (tables, detail), each served while its signature holds and it is young enough.
pub struct SnapshotCache {
    max_age: Duration,
    entries: Mutex<HashMap<(Vec<ManagedTable>, Detail), Entry>>,
}

impl SnapshotCache {
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The snapshot of `tables` (all four when empty) at `detail`: the cached one when it is
    /// still true (see the module doc), else a fresh one, which is then kept.
    pub async fn get(
        &self,
        pool: &PgPool,
        tables: &[ManagedTable],
        detail: Detail,
    ) -> Result<Arc<CatalogSnapshot>, sqlx::Error> {
        let tables: Vec<ManagedTable> = if tables.is_empty() {
            ManagedTable::ALL.to_vec()
        } else {
            tables.to_vec()
        };
        let names: Vec<&str> = tables.iter().map(|t| t.name()).collect();
        let signature: Signature = sqlx::query_as(SIGNATURE_SQL)
            .bind(&names)
            .fetch_all(pool)
            .await?;
        let key = (tables, detail);
        if let Some(hit) = self.lookup(&key, &signature) {
            return Ok(hit);
        }
        let snapshot = Arc::new(snapshot_with(pool, &key.0, detail).await?);
        // The signature read before the snapshot: a change in between makes the next call miss
        // (its signature differs), never serves a snapshot older than its signature.
        self.lock().insert(
            key,
            Entry {
                signature,
                fetched: Instant::now(),
                snapshot: Arc::clone(&snapshot),
            },
        );
        Ok(snapshot)
    }

    fn lookup(
        &self,
        key: &(Vec<ManagedTable>, Detail),
        signature: &Signature,
    ) -> Option<Arc<CatalogSnapshot>> {
        let entries = self.lock();
        let entry = entries.get(key)?;
        (entry.signature == *signature && entry.fetched.elapsed() < self.max_age)
            .then(|| Arc::clone(&entry.snapshot))
    }

    /// The map, even if a panic elsewhere poisoned the lock (entries are replaced whole, so a
    /// poisoned map is never half-written).
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(Vec<ManagedTable>, Detail), Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
