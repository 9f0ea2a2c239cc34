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
//!   time, and every page prints the snapshot's `taken_at`. The age counts from the moment the
//!   entry's signature was read, which is before its snapshot was.
//!
//! Those two rules alone make the first view after a change, or after `max_age` without a
//! request, pay for a whole snapshot. The **warmer** (`SnapshotCache::spawn_warmer` and
//! `refresh_due`, in `cache/warmer.rs`) takes that cost off the request: every few seconds it
//! reads the signature of the keys a page asked for recently (one cheap query; none at all when
//! nobody asked) and reads again, one key at a time, each key whose signature changed or whose
//! entry nears `max_age`. A request still checks signature and age itself, so the warmer never
//! makes a page see anything older than it would without it; it only turns misses into hits.
//! What it costs: one snapshot per key per change, and one per key every `max_age - margin`
//! while a page keeps asking for it; keys nobody asked for within `recent` (10 minutes) are left
//! to go cold and dropped. **Pinned** keys (`pin`: the console pins each table page's) are kept
//! warm from the start and for as long as the cache lives, whether or not a page asks, so the
//! first view after the console starts, or after an idle hour, is served warm too; each costs
//! its snapshot every `max_age - margin` (at 10,000 partitions about 1 % of a core). `stats()`
//! counts hits, misses and the warmer's reads.
//!
//! After a change the entry is **patched** rather than read whole, as long as it is younger than
//! `max_age` (`cache/patch.rs`): only the partitions whose `pg_inherits` row is new, changed or
//! gone are read, so the first view after a change costs a fraction of a snapshot; the patched
//! entry keeps its age, so sizes and statistics are read whole again on the same schedule.
//!
//! Anything that acts on the catalog (planning a run, executing, approvals, metrics) reads a fresh
//! snapshot; this cache is for what a person looks at.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use super::Detail;
use crate::catalog::CatalogSnapshot;
use crate::table::ManagedTable;
use patch::Members;

mod patch;
mod warmer;

/// Keys a page asked for within this long are kept warm (`SnapshotCache::keep_warm`).
const RECENT: Duration = Duration::from_secs(10 * 60);

/// Per table asked for: parent oid and relkind, then its partitions' count, oid sum and `xmin`
/// sum (DETACH CONCURRENTLY's pending step updates the row, so it shows as a new `xmin`). Sums
/// over a set of distinct oids and row versions: any change of the set changes one of them (a
/// swap of one row for another with equal oid and xmin sums in the same statement is not something
/// DDL does). Each row depends on its own table only, so one read for several keys can be split
/// per key (`warmer`).
macro_rules! signature_sql {
    ($members:literal) => {
        concat!(
            "SELECT m.name, coalesce(p.oid, 0)::bigint, coalesce(p.relkind::text, ''), \
               count(i.inhrelid), coalesce(sum(i.inhrelid::bigint), 0)::bigint, \
               coalesce(sum(i.xmin::text::bigint), 0)::bigint",
            $members,
            " FROM unnest($1::text[]) WITH ORDINALITY AS m(name, ord) \
             LEFT JOIN pg_class p ON p.oid = to_regclass(quote_ident(m.name)) \
             LEFT JOIN pg_inherits i ON i.inhparent = p.oid \
             GROUP BY m.ord, m.name, p.oid, p.relkind ORDER BY m.ord"
        )
    };
}
const SIGNATURE_SQL: &str = signature_sql!("");
/// `SIGNATURE_SQL` with the rows it sums, in the same pass: each table's child oids and their
/// rows' `xmin`s, as two arrays sorted by oid, for patching an entry later (`patch`).
const SIGNATURE_AND_MEMBERS_SQL: &str = signature_sql!(
    ", coalesce(array_agg(i.inhrelid::bigint ORDER BY i.inhrelid) \
                 FILTER (WHERE i.inhrelid IS NOT NULL), '{}'), \
       coalesce(array_agg(i.xmin::text::bigint ORDER BY i.inhrelid) \
                 FILTER (WHERE i.inhrelid IS NOT NULL), '{}')"
);

type SignatureRow = (String, i64, String, i64, i64, i64);
type Signature = Vec<SignatureRow>;
type Key = (Vec<ManagedTable>, Detail);

struct Entry {
    signature: Signature,
    /// When `signature` was read (before the snapshot): the entry's age counts from here, and of
    /// two entries for one key the one read later is kept.
    fetched: Instant,
    /// When a page last asked for this key: only recently asked-for keys are kept warm.
    requested: Instant,
    snapshot: Arc<CatalogSnapshot>,
    /// The `pg_inherits` rows `snapshot` was read with, for patching it after a change.
    members: Arc<Members>,
}

/// How the cache has answered since it was made: requests served from it, requests that read a
/// snapshot themselves, snapshots the warmer read ahead of requests, warmer reads that failed,
/// and how many of the reads (a request's or the warmer's) were patches of an entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub refreshed: u64,
    pub refresh_failures: u64,
    pub patched: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    refreshed: AtomicU64,
    refresh_failures: AtomicU64,
    patched: AtomicU64,
}

/// Snapshots by (tables, detail), each served while its signature holds and it is young enough.
pub struct SnapshotCache {
    max_age: Duration,
    /// The warmer refreshes keys asked for within this long ...
    recent: Duration,
    /// ... whose signature changed or which are older than `max_age - margin`.
    margin: Duration,
    entries: Mutex<HashMap<Key, Entry>>,
    /// Keys the warmer keeps warm whether or not a page asked for them (`pin`).
    pinned: Mutex<Vec<Key>>,
    counters: Counters,
}

impl SnapshotCache {
    /// A cache serving entries up to `max_age` old; the warmer keeps keys asked for within the
    /// last 10 minutes warm, reading them again once older than two thirds of `max_age`.
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            recent: RECENT,
            margin: max_age / 3,
            entries: Mutex::new(HashMap::new()),
            pinned: Mutex::new(Vec::new()),
            counters: Counters::default(),
        }
    }

    /// The warmer keeps keys asked for within `recent` warm, and reads an entry again once it is
    /// older than `max_age - margin`. The margin must cover the warmer's period plus a snapshot's
    /// time, or a request may find the entry just past its age.
    pub fn keep_warm(mut self, recent: Duration, margin: Duration) -> Self {
        self.recent = recent;
        self.margin = margin;
        self
    }

    /// Keeps the snapshot of `tables` (all four when empty) at `detail` warm for as long as the
    /// cache lives: the warmer's next pass reads it, and every pass after treats it as asked for
    /// just now. Pinning a key twice is pinning it once.
    pub fn pin(&self, tables: &[ManagedTable], detail: Detail) {
        let key = (key_tables(tables), detail);
        let mut pinned = lock(&self.pinned);
        if !pinned.contains(&key) {
            pinned.push(key);
        }
    }

    fn is_pinned(&self, key: &Key) -> bool {
        lock(&self.pinned).contains(key)
    }

    /// How long an entry whose partition set is unchanged may be served.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// The snapshot of `tables` (all four when empty) at `detail`: the cached one when it is
    /// still true (see the module doc), else a fresh one, which is then kept.
    pub async fn get(
        &self,
        pool: &PgPool,
        tables: &[ManagedTable],
        detail: Detail,
    ) -> Result<Arc<CatalogSnapshot>, sqlx::Error> {
        let started = Instant::now();
        let key = (key_tables(tables), detail);
        let signature = read_signature(pool, &key.0).await?;
        if let Some(hit) = self.lookup(&key, &signature) {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        let (read, fetched) = self.read(pool, &key, true, started).await?;
        let snapshot = Arc::new(read.snapshot);
        self.store(
            key,
            read.signature,
            fetched,
            Arc::clone(&snapshot),
            read.members,
            true,
        );
        Ok(snapshot)
    }

    /// A new entry for `key` and the moment its age counts from: the entry there patched
    /// (`patch`), when `may_patch` and it is younger than `max_age`, keeping its age; else a
    /// whole snapshot, aged from `started`. Either way with the signature and `pg_inherits` rows
    /// read in the snapshot's own transaction, so the signature says exactly what it holds.
    async fn read(
        &self,
        pool: &PgPool,
        key: &Key,
        may_patch: bool,
        started: Instant,
    ) -> Result<(patch::Read, Instant), sqlx::Error> {
        let base = may_patch
            .then(|| {
                self.lock()
                    .get(key)
                    .filter(|e| e.fetched.elapsed() < self.max_age)
                    .map(|e| (Arc::clone(&e.snapshot), Arc::clone(&e.members), e.fetched))
            })
            .flatten();
        if let Some((snapshot, members, fetched)) = base {
            if let Some(read) = patch::read_patch(pool, &key.0, key.1, &snapshot, &members).await? {
                self.counters.patched.fetch_add(1, Ordering::Relaxed);
                return Ok((read, fetched));
            }
        }
        Ok((patch::read_full(pool, &key.0, key.1).await?, started))
    }

    /// Counts since the cache was made (see `CacheStats`).
    pub fn stats(&self) -> CacheStats {
        let c = &self.counters;
        CacheStats {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            refreshed: c.refreshed.load(Ordering::Relaxed),
            refresh_failures: c.refresh_failures.load(Ordering::Relaxed),
            patched: c.patched.load(Ordering::Relaxed),
        }
    }

    /// The entry for `key` if `signature` is its own and it is young enough; marks the key as
    /// asked for either way.
    fn lookup(&self, key: &Key, signature: &Signature) -> Option<Arc<CatalogSnapshot>> {
        let mut entries = self.lock();
        let entry = entries.get_mut(key)?;
        entry.requested = Instant::now();
        (entry.signature == *signature && entry.fetched.elapsed() < self.max_age)
            .then(|| Arc::clone(&entry.snapshot))
    }

    /// Keeps `snapshot` for `key` unless the entry there was read later (a request and the
    /// warmer may read the same key at once). `requested`: a page asked for it now. The warmer
    /// passes `false`, and never brings back a key dropped meanwhile, unless it is pinned.
    fn store(
        &self,
        key: Key,
        signature: Signature,
        fetched: Instant,
        snapshot: Arc<CatalogSnapshot>,
        members: Members,
        requested: bool,
    ) {
        let members = Arc::new(members);
        let mut entries = self.lock();
        match entries.get_mut(&key) {
            Some(entry) => {
                if requested {
                    entry.requested = Instant::now();
                }
                if entry.fetched <= fetched {
                    entry.signature = signature;
                    entry.fetched = fetched;
                    entry.snapshot = snapshot;
                    entry.members = members;
                }
            }
            None if requested || self.is_pinned(&key) => {
                entries.insert(
                    key,
                    Entry {
                        signature,
                        fetched,
                        requested: Instant::now(),
                        snapshot,
                        members,
                    },
                );
            }
            None => {}
        }
    }

    /// The map, even if a panic elsewhere poisoned the lock (entries are replaced field by field
    /// without anything that can panic in between, so a poisoned map is never half-written).
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        lock(&self.entries)
    }
}

/// `mutex`'s guard, even if a panic elsewhere poisoned it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The tables a key names: all four for an empty list, as `get` reads them.
fn key_tables(tables: &[ManagedTable]) -> Vec<ManagedTable> {
    if tables.is_empty() {
        ManagedTable::ALL.to_vec()
    } else {
        tables.to_vec()
    }
}

/// The signature rows of `tables`, in that order.
async fn read_signature(pool: &PgPool, tables: &[ManagedTable]) -> Result<Signature, sqlx::Error> {
    let names: Vec<&str> = tables.iter().map(|t| t.name()).collect();
    sqlx::query_as(SIGNATURE_SQL)
        .bind(&names)
        .fetch_all(pool)
        .await
}
