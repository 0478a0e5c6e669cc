//! The in-process backend: the embedded default for ephemeral state, and the
//! store the tests of the crates above use.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{
    Cas, Condition, Durability, Record, Store, StoreError, Table, Ttl, check_key, check_write,
};

/// Where a [`MemoryStore`] reads the time (so tests can move it by hand).
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// Limits of a [`MemoryStore`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MemoryConfig {
    /// Independent locks the key space is spread over (default 16).
    pub shards: usize,
    /// Most bytes held (keys + values + a fixed overhead per record; default
    /// 256 MiB). A write that would go over first drops expired records,
    /// then fails with [`StoreError::Full`]: nothing live is evicted.
    pub max_bytes: usize,
    /// Largest value accepted (default 1 MiB, memcached's default item size).
    pub max_value: usize,
}

impl Default for MemoryConfig {
    fn default() -> MemoryConfig {
        MemoryConfig {
            shards: 16,
            max_bytes: 256 << 20,
            max_value: 1 << 20,
        }
    }
}

impl MemoryConfig {
    /// Sets [`MemoryConfig::max_bytes`].
    pub fn with_max_bytes(mut self, n: usize) -> Self {
        self.max_bytes = n;
        self
    }

    /// Sets [`MemoryConfig::max_value`].
    pub fn with_max_value(mut self, n: usize) -> Self {
        self.max_value = n;
        self
    }
}

/// Accounting overhead per record (map entry, expiry index, allocation).
const OVERHEAD: usize = 96;

struct Entry {
    value: Bytes,
    cas: u64,
    expires: Option<Instant>,
}

#[derive(Default)]
struct Shard {
    tables: HashMap<&'static str, HashMap<Box<str>, Entry>>,
    /// Expiry instant and CAS of every record with a TTL (the CAS makes the
    /// key unique), for sweeping in time order.
    expiries: BTreeMap<(Instant, u64), (&'static str, Box<str>)>,
}

impl Shard {
    fn remove(&mut self, table: &'static str, key: &str) -> Option<Entry> {
        let map = self.tables.get_mut(table)?;
        let e = map.remove(key)?;
        if map.is_empty() {
            self.tables.remove(table);
        }
        if let Some(t) = e.expires {
            self.expiries.remove(&(t, e.cas));
        }
        Some(e)
    }

    /// Drops every record expired at `now`; returns the bytes freed.
    fn sweep(&mut self, now: Instant) -> usize {
        let mut freed = 0;
        while let Some(entry) = self.expiries.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (table, key) = entry.remove();
            if let Some(map) = self.tables.get_mut(table)
                && let Some(e) = map.remove(&key)
            {
                freed += size(&key, &e.value);
                if map.is_empty() {
                    self.tables.remove(table);
                }
            }
        }
        freed
    }

    fn live(&self, table: &str, key: &str, now: Instant) -> Option<&Entry> {
        self.tables
            .get(table)?
            .get(key)
            .filter(|e| e.expires.is_none_or(|t| t > now))
    }
}

fn size(key: &str, value: &Bytes) -> usize {
    key.len() + value.len() + OVERHEAD
}

/// A sharded in-memory store with TTL expiry and bounded memory. See
/// [`MemoryConfig`] for the limits.
///
/// Expired records are invisible at once and their memory is reclaimed as
/// writes touch their shard (or by [`MemoryStore::purge_expired`]). CAS
/// tokens come from one counter, so a token is never reused, even after a
/// delete and re-add. The data is gone when the process ends: this backend
/// is [`Durability::Ephemeral`].
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    bytes: AtomicUsize,
    next_cas: AtomicU64,
    config: MemoryConfig,
    clock: Arc<dyn Clock>,
}

impl MemoryStore {
    /// An empty store on the system clock.
    pub fn new(config: MemoryConfig) -> MemoryStore {
        MemoryStore::with_clock(config, Arc::new(SystemClock))
    }

    /// An empty store reading time from `clock`.
    pub fn with_clock(config: MemoryConfig, clock: Arc<dyn Clock>) -> MemoryStore {
        let n = config.shards.max(1);
        MemoryStore {
            shards: (0..n).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: RandomState::new(),
            bytes: AtomicUsize::new(0),
            next_cas: AtomicU64::new(1),
            config,
            clock,
        }
    }

    /// Bytes held now (keys, values and per-record overhead).
    pub fn bytes_used(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Drops every expired record now; returns how many bytes that freed.
    pub fn purge_expired(&self) -> usize {
        let now = self.clock.now();
        let mut freed = 0;
        for s in self.shards.iter() {
            freed += lock(s).sweep(now);
        }
        self.bytes.fetch_sub(freed, Ordering::Relaxed);
        freed
    }

    fn shard(&self, table: &Table, key: &str) -> MutexGuard<'_, Shard> {
        let h = self.hasher.hash_one((table.name(), key));
        lock(&self.shards[(h % self.shards.len() as u64) as usize])
    }
}

/// A poisoned shard lock means a panic while holding it; the shard's data
/// is still consistent (every mutation completes before anything can panic),
/// so carry on.
fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[async_trait]
impl Store for MemoryStore {
    async fn get(&self, table: &Table, key: &str) -> Result<Option<Record>, StoreError> {
        check_key(table, key)?;
        let now = self.clock.now();
        let shard = self.shard(table, key);
        Ok(shard.live(table.name(), key, now).map(|e| Record {
            value: e.value.clone(),
            cas: Cas(e.cas),
        }))
    }

    async fn set(
        &self,
        table: &Table,
        key: &str,
        value: Bytes,
        condition: Condition,
        ttl: Ttl,
    ) -> Result<Cas, StoreError> {
        check_write(self.durability(), table, key, &value, self.config.max_value)?;
        let now = self.clock.now();
        let expires = match ttl {
            Ttl::Forever => None,
            // A deadline past what an `Instant` can hold is never reached.
            Ttl::After(d) => now.checked_add(d),
        };
        let new = size(key, &value);
        let mut purged = false;
        let mut shard = loop {
            let mut shard = self.shard(table, key);
            let freed = shard.sweep(now);
            self.bytes.fetch_sub(freed, Ordering::Relaxed);
            let current = shard.live(table.name(), key, now);
            match (condition, current) {
                (Condition::Any, _) | (Condition::Absent, None) => {}
                (Condition::Matches(c), Some(e)) if e.cas == c.0 => {}
                _ => return Err(StoreError::Conflict),
            }
            let old = current.map_or(0, |e| size(key, &e.value));
            let over = new > old
                && self.bytes.load(Ordering::Relaxed) + (new - old) > self.config.max_bytes;
            if !over {
                break shard;
            }
            if purged {
                return Err(StoreError::Full("memory limit reached"));
            }
            // Make room in every shard, then check the condition again:
            // the record may have changed while the lock was released.
            drop(shard);
            self.purge_expired();
            purged = true;
        };
        // The record being replaced, if any (expired ones were swept above).
        if let Some(e) = shard.remove(table.name(), key) {
            self.bytes.fetch_sub(size(key, &e.value), Ordering::Relaxed);
        }
        let cas = self.next_cas.fetch_add(1, Ordering::Relaxed);
        if let Some(t) = expires {
            shard.expiries.insert((t, cas), (table.name(), key.into()));
        }
        self.bytes.fetch_add(new, Ordering::Relaxed);
        shard.tables.entry(table.name()).or_default().insert(
            key.into(),
            Entry {
                value,
                cas,
                expires,
            },
        );
        Ok(Cas(cas))
    }

    async fn delete(
        &self,
        table: &Table,
        key: &str,
        condition: Condition,
    ) -> Result<bool, StoreError> {
        check_key(table, key)?;
        let now = self.clock.now();
        let mut shard = self.shard(table, key);
        let current = shard.live(table.name(), key, now);
        match (condition, current) {
            (Condition::Any, None) => return Ok(false),
            (Condition::Any, Some(_)) => {}
            (Condition::Matches(c), Some(e)) if e.cas == c.0 => {}
            (Condition::Absent, None) => return Ok(false),
            _ => return Err(StoreError::Conflict),
        }
        if let Some(e) = shard.remove(table.name(), key) {
            self.bytes.fetch_sub(size(key, &e.value), Ordering::Relaxed);
        }
        Ok(true)
    }

    async fn list(&self, table: &Table) -> Result<Vec<String>, StoreError> {
        table.validate()?;
        let now = self.clock.now();
        let mut out = Vec::new();
        for s in self.shards.iter() {
            let s = lock(s);
            if let Some(map) = s.tables.get(table.name()) {
                out.extend(
                    map.iter()
                        .filter(|(_, e)| e.expires.is_none_or(|t| t > now))
                        .map(|(k, _)| k.to_string()),
                );
            }
        }
        Ok(out)
    }

    fn durability(&self) -> Durability {
        Durability::Ephemeral
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A clock moved by hand.
    struct Manual(Mutex<Instant>);

    impl Clock for Manual {
        fn now(&self) -> Instant {
            *self.0.lock().unwrap_or_else(|p| p.into_inner())
        }
    }

    impl Manual {
        fn advance(&self, d: Duration) {
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) += d;
        }
    }

    const T: Table = Table::ephemeral("t");

    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .map(|rt| rt.block_on(f))
            .unwrap_or_else(|e| panic!("runtime: {e}"))
    }

    #[test]
    fn ttl_expiry_on_a_manual_clock_frees_memory() {
        let clock = Arc::new(Manual(Mutex::new(Instant::now())));
        let s = MemoryStore::with_clock(MemoryConfig::default(), clock.clone());
        block(async {
            s.set(
                &T,
                "a",
                Bytes::from_static(b"1"),
                Condition::Any,
                Ttl::secs(10),
            )
            .await
            .unwrap();
            s.set(
                &T,
                "b",
                Bytes::from_static(b"2"),
                Condition::Any,
                Ttl::Forever,
            )
            .await
            .unwrap();
            let used = s.bytes_used();
            clock.advance(Duration::from_secs(9));
            assert!(s.get(&T, "a").await.unwrap().is_some());
            clock.advance(Duration::from_secs(1));
            assert!(s.get(&T, "a").await.unwrap().is_none(), "expired at 10 s");
            assert_eq!(s.list(&T).await.unwrap(), ["b"]);
            // Reads do not reclaim; a purge does.
            assert_eq!(s.bytes_used(), used);
            assert_eq!(s.purge_expired(), size("a", &Bytes::from_static(b"1")));
            assert_eq!(s.bytes_used(), size("b", &Bytes::from_static(b"2")));
            // An expired record counts as absent for an add.
            s.set(
                &T,
                "a",
                Bytes::from_static(b"3"),
                Condition::Absent,
                Ttl::Forever,
            )
            .await
            .unwrap();
        });
    }

    #[test]
    fn bounded_memory_refuses_rather_than_evicts() {
        let clock = Arc::new(Manual(Mutex::new(Instant::now())));
        let config = MemoryConfig::default().with_max_bytes(10 * (OVERHEAD + 101));
        let s = MemoryStore::with_clock(config, clock.clone());
        block(async {
            let v = Bytes::from(vec![0u8; 100]);
            for i in 0..10 {
                s.set(&T, &format!("{i}"), v.clone(), Condition::Any, Ttl::secs(5))
                    .await
                    .unwrap();
            }
            let full = s
                .set(&T, "x", v.clone(), Condition::Any, Ttl::Forever)
                .await;
            assert_eq!(full, Err(StoreError::Full("memory limit reached")));
            for i in 0..10 {
                assert!(
                    s.get(&T, &format!("{i}")).await.unwrap().is_some(),
                    "nothing evicted"
                );
            }
            // Overwriting in place needs no extra room.
            s.set(&T, "3", v.clone(), Condition::Any, Ttl::secs(5))
                .await
                .unwrap();
            // Once they expire, their room is reused.
            clock.advance(Duration::from_secs(6));
            s.set(&T, "x", v, Condition::Any, Ttl::Forever)
                .await
                .unwrap();
            assert_eq!(s.list(&T).await.unwrap(), ["x"]);
        });
    }

    #[test]
    fn a_ttl_past_the_clock_range_never_expires() {
        let clock = Arc::new(Manual(Mutex::new(Instant::now())));
        let s = MemoryStore::with_clock(MemoryConfig::default(), clock.clone());
        block(async {
            s.set(
                &T,
                "k",
                Bytes::from_static(b"1"),
                Condition::Any,
                Ttl::after(Duration::MAX),
            )
            .await
            .unwrap();
            clock.advance(Duration::from_secs(100 * 365 * 24 * 3600));
            assert!(s.get(&T, "k").await.unwrap().is_some());
        });
    }

    #[test]
    fn cas_tokens_are_never_reused() {
        let s = MemoryStore::new(MemoryConfig::default());
        block(async {
            let a = s
                .set(
                    &T,
                    "k",
                    Bytes::from_static(b"1"),
                    Condition::Absent,
                    Ttl::Forever,
                )
                .await
                .unwrap();
            assert!(s.delete(&T, "k", Condition::Matches(a)).await.unwrap());
            let b = s
                .set(
                    &T,
                    "k",
                    Bytes::from_static(b"2"),
                    Condition::Absent,
                    Ttl::Forever,
                )
                .await
                .unwrap();
            assert_ne!(a, b);
            let stale = s
                .set(
                    &T,
                    "k",
                    Bytes::from_static(b"3"),
                    Condition::Matches(a),
                    Ttl::Forever,
                )
                .await;
            assert_eq!(stale, Err(StoreError::Conflict));
        });
    }
}
