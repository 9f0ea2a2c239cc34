//! The snapshot cache's warmer: reads again, ahead of the next request, the entries a page asked
//! for recently whose partition set changed or which near their max age (see the parent module
//! for why and what it costs).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;

use super::{read_signature, Key, Signature, SnapshotCache};
use crate::table::ManagedTable;

/// Below this a period would spin (and `tokio::time::interval` refuses zero).
const MIN_PERIOD: Duration = Duration::from_millis(10);

impl SnapshotCache {
    /// One pass of the warmer. Reads the signature of every table of the keys a page asked for
    /// within `recent` and of the pinned keys (one query; none when there are no such keys),
    /// then, one key at a time, a fresh snapshot for each key whose signature changed or whose
    /// entry is older than `max_age - margin`. Entries neither asked for within `recent`, nor
    /// pinned, nor young enough to be served are dropped.
    ///
    /// Returns how many entries it read again. An error reading the signature ends the pass
    /// (`Err`); a snapshot that fails is logged, counted in `refresh_failures` and left to the
    /// next request, and the pass goes on with the other keys.
    pub async fn refresh_due(&self, pool: &PgPool) -> Result<usize, sqlx::Error> {
        let candidates = self.recent_keys();
        if candidates.is_empty() {
            return Ok(0);
        }
        let mut tables: Vec<ManagedTable> = Vec::new();
        for t in candidates.iter().flat_map(|(key, ..)| key.0.iter()) {
            if !tables.contains(t) {
                tables.push(*t);
            }
        }
        let started = Instant::now();
        let rows = match read_signature(pool, &tables).await {
            Ok(rows) => rows,
            Err(e) => {
                self.counters
                    .refresh_failures
                    .fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        let refresh_after = self.max_age.saturating_sub(self.margin);
        let mut refreshed = 0;
        for (key, old, fetched) in candidates {
            // Each signature row depends on its own table only: this is what `get` would read
            // for the key alone.
            let signature: Signature = key
                .0
                .iter()
                .filter_map(|t| rows.iter().find(|r| r.0 == t.name()).cloned())
                .collect();
            if signature == old && fetched.elapsed() < refresh_after {
                continue;
            }
            // A changed partition set on a young entry is patched; an entry come of age is read
            // whole, so its sizes and statistics are read again.
            let may_patch = fetched.elapsed() < refresh_after;
            match self.read(pool, &key, may_patch, started).await {
                Ok((read, fetched)) => {
                    let snapshot = Arc::new(read.snapshot);
                    self.store(key, read.signature, fetched, snapshot, read.members, false);
                    self.counters.refreshed.fetch_add(1, Ordering::Relaxed);
                    refreshed += 1;
                }
                Err(e) => {
                    self.counters
                        .refresh_failures
                        .fetch_add(1, Ordering::Relaxed);
                    let names: Vec<&str> = key.0.iter().map(|t| t.name()).collect();
                    tracing::warn!(
                        tables = ?names,
                        detail = ?key.1,
                        error = %e,
                        "the console's snapshot warmer could not read a snapshot; the next page \
                         that asks for it reads its own"
                    );
                }
            }
        }
        Ok(refreshed)
    }

    /// Starts the warmer: `refresh_due` every `period` on the current tokio runtime. The task
    /// holds the cache weakly and ends at the first tick after its last owner dropped it (the
    /// server's router, or a test), or once `pool` is closed. Errors are logged (a warning when a
    /// run of failures starts, then debug until a pass succeeds again) and never end it. Outside a
    /// tokio runtime it starts nothing, says so, and returns `None`: the cache then works as
    /// without a warmer.
    pub fn spawn_warmer(
        cache: &Arc<Self>,
        pool: PgPool,
        period: Duration,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                "no tokio runtime: the console's snapshot warmer does not run (pages read cold \
                 snapshots after a change)"
            );
            return None;
        };
        let cache = Arc::downgrade(cache);
        let period = period.max(MIN_PERIOD);
        Some(runtime.spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                tick.tick().await;
                if pool.is_closed() {
                    tracing::debug!("database pool closed: the snapshot warmer stops");
                    return;
                }
                let Some(cache) = cache.upgrade() else {
                    tracing::debug!("snapshot cache dropped: the snapshot warmer stops");
                    return;
                };
                match cache.refresh_due(&pool).await {
                    Ok(n) => {
                        if failing {
                            tracing::info!("the console's snapshot warmer reads the catalog again");
                            failing = false;
                        }
                        if n > 0 {
                            tracing::debug!(refreshed = n, "snapshot warmer pass");
                        }
                    }
                    Err(e) if !failing => {
                        failing = true;
                        tracing::warn!(
                            error = %e,
                            "the console's snapshot warmer cannot read the catalog; it retries \
                             every {period:?} (pages read their own snapshots meanwhile)"
                        );
                    }
                    Err(e) => tracing::debug!(error = %e, "snapshot warmer pass failed again"),
                }
            }
        }))
    }

    /// Drops entries neither asked for within `recent`, nor pinned, nor young enough to be
    /// served, and returns the keys asked for within `recent` and the pinned ones with their
    /// signature and read time. A pinned key not read yet comes with an empty signature, which no
    /// table's matches (a signature has a row a table), so the pass reads it.
    fn recent_keys(&self) -> Vec<(Key, Signature, Instant)> {
        let (recent, max_age) = (self.recent, self.max_age);
        let pinned = super::lock(&self.pinned).clone();
        let mut entries = self.lock();
        entries.retain(|key, e| {
            e.requested.elapsed() <= recent || pinned.contains(key) || e.fetched.elapsed() < max_age
        });
        let mut keys: Vec<(Key, Signature, Instant)> = entries
            .iter()
            .filter(|(key, e)| e.requested.elapsed() <= recent || pinned.contains(key))
            .map(|(key, e)| (key.clone(), e.signature.clone(), e.fetched))
            .collect();
        for key in pinned {
            if !entries.contains_key(&key) {
                keys.push((key, Signature::new(), Instant::now()));
            }
        }
        keys
    }
}
