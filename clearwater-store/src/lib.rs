//! # clearwater-store
//!
//! The state substrate of the clearwater IMS SDK. Clearwater keeps no
//! long-lived state on its processing nodes: registrations, challenges and
//! charging sessions live in a replicated key/value store, subscriber master
//! data in a durable one. This crate is that store, behind one small trait.
//!
//! ## The model
//!
//! A [`Store`] holds records in named [`Table`]s. A record is opaque bytes
//! with a [`Cas`] token and an optional time to live:
//!
//! * [`Store::get`] returns the value and its token;
//! * [`Store::set`] writes under a [`Condition`]: only if the key is absent
//!   (memcached `add`), only if the token still matches (memcached `cas`), or
//!   unconditionally; a failed condition is [`StoreError::Conflict`] and the
//!   caller re-reads and retries ([`update`] is that loop);
//! * [`Store::delete`] removes a record, optionally under a token.
//!
//! Records are bytes; each crate owns its tables and their encoding, and
//! [`record`] gives a versioned encoding so stored state survives upgrades.
//!
//! ## Durability classes
//!
//! Every table is declared with a [`DataClass`]: **master** data
//! (subscribers, service settings) must be on a [durable](Durability) backend;
//! **ephemeral** data (registrations, challenges, charging sessions, caches)
//! may live anywhere, because clients rebuild it. [`check_placement`] refuses a
//! configuration that puts master data on an ephemeral backend, and every
//! backend refuses such a write at run time ([`StoreError::Misplaced`]).
//!
//! ## Backends
//!
//! | backend | feature | durability | list | notes |
//! |---|---|---|---|---|
//! | [`MemoryStore`] | always | ephemeral | yes | sharded, TTL expiry, bounded memory; the embedded default |
//! | `DurableStore` | `redb` (default) | durable | yes | embedded, one file, survives restarts |
//! | `MemcachedStore` | `memcached` | ephemeral | no | meta protocol, pooled connections, timeouts |
//! | `ReplicatedStore` | `memcached` | ephemeral | no | Rogers-style replication over several memcached servers |
//! | `RedisStore` | `redis` | durable if the server persists | yes | standalone or Redis Cluster; CAS by Lua scripts |
//!
//! The `conformance` suite (feature `conformance`) is run against every one
//! of them, on real servers, by this crate's tests.

#![cfg_attr(docsrs, feature(doc_auto_cfg))]

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

pub mod memory;
pub mod record;

#[cfg(feature = "redb")]
pub mod durable;
#[cfg(feature = "memcached")]
pub mod memcached;
#[cfg(feature = "redis")]
pub mod redis_store;
#[cfg(feature = "memcached")]
pub mod replicated;

#[cfg(feature = "conformance")]
pub mod conformance;

#[cfg(feature = "redb")]
pub use durable::DurableStore;
#[cfg(feature = "memcached")]
pub use memcached::{MemcachedConfig, MemcachedStore};
pub use memory::{Clock, MemoryConfig, MemoryStore, SystemClock};
#[cfg(feature = "redis")]
pub use redis_store::{RedisConfig, RedisStore};
#[cfg(feature = "memcached")]
pub use replicated::{ReplicatedConfig, ReplicatedStore};

/// Longest table name, in bytes.
pub const MAX_TABLE_NAME: usize = 64;
/// Longest key, in bytes.
pub const MAX_KEY: usize = 1024;

/// What a table holds, which decides where it may live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataClass {
    /// Master data (subscribers, credentials, service settings): must be on a
    /// durable backend.
    Master,
    /// State that clients rebuild (registrations, challenges, charging
    /// sessions, caches): may be on any backend.
    Ephemeral,
}

/// Whether a backend keeps its data across a restart of its server(s).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Durability {
    /// Data survives a restart.
    Durable,
    /// Data is lost on restart (memory, memcached, Redis without persistence).
    Ephemeral,
}

/// A named table and the class of data in it. Tables are usually constants
/// owned by the crate that stores records in them.
///
/// ```
/// use clearwater_store::Table;
/// const REGISTRATIONS: Table = Table::ephemeral("reg");
/// const SUBSCRIBERS: Table = Table::master("subscriber");
/// assert!(REGISTRATIONS.validate().is_ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Table {
    name: &'static str,
    class: DataClass,
}

impl Table {
    /// A table of master data.
    pub const fn master(name: &'static str) -> Table {
        Table {
            name,
            class: DataClass::Master,
        }
    }

    /// A table of ephemeral data.
    pub const fn ephemeral(name: &'static str) -> Table {
        Table {
            name,
            class: DataClass::Ephemeral,
        }
    }

    /// Its name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Its data class.
    pub const fn class(&self) -> DataClass {
        self.class
    }

    /// Checks the name: 1 to [`MAX_TABLE_NAME`] bytes of ASCII letters,
    /// digits, `-`, `_` and `.` (backends build keys from it).
    pub fn validate(&self) -> Result<(), StoreError> {
        let ok = !self.name.is_empty()
            && self.name.len() <= MAX_TABLE_NAME
            && self
                .name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
        if ok {
            Ok(())
        } else {
            Err(StoreError::InvalidKey(
                "table names are 1-64 of [A-Za-z0-9._-]",
            ))
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// A compare-and-swap token: which version of a record a reader saw. Opaque;
/// only equality means anything, and only for the same key of the same store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cas(pub u64);

/// A record as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The stored bytes.
    pub value: Bytes,
    /// Its version, for a conditional write.
    pub cas: Cas,
}

/// When a [`Store::set`] or [`Store::delete`] may go ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Always (memcached `set`).
    Any,
    /// Only if there is no record (memcached `add`).
    Absent,
    /// Only if the record is still the version read (memcached `cas`).
    Matches(Cas),
}

/// How long a record lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Ttl {
    /// Until deleted.
    #[default]
    Forever,
    /// Gone this long after the write (backends round up to their
    /// granularity: memcached counts whole seconds).
    After(Duration),
}

impl Ttl {
    /// `Ttl::After(d)`.
    pub fn after(d: Duration) -> Ttl {
        Ttl::After(d)
    }

    /// `Ttl::After` this many seconds.
    pub fn secs(s: u64) -> Ttl {
        Ttl::After(Duration::from_secs(s))
    }

    /// Whole milliseconds to live, rounded up (at least 1, saturating);
    /// `None` for `Forever`.
    #[cfg_attr(
        not(any(feature = "redb", feature = "memcached", feature = "redis")),
        allow(dead_code)
    )]
    pub(crate) fn ceil_ms(self) -> Option<u64> {
        match self {
            Ttl::Forever => None,
            Ttl::After(d) => {
                let ms = d.as_millis() + u128::from(!d.subsec_nanos().is_multiple_of(1_000_000));
                Some(u64::try_from(ms).unwrap_or(u64::MAX).max(1))
            }
        }
    }

    /// The wall-clock deadline (unix ms, 0 = never) of a record written at
    /// `now_ms`.
    #[cfg_attr(not(any(feature = "redb", feature = "memcached")), allow(dead_code))]
    pub(crate) fn deadline_ms(self, now_ms: u64) -> u64 {
        self.ceil_ms()
            .map_or(0, |ms| now_ms.saturating_add(ms).max(1))
    }
}

/// The wall-clock time in unix milliseconds (0 before 1970).
#[cfg_attr(not(any(feature = "redb", feature = "memcached")), allow(dead_code))]
pub(crate) fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The one error type of this crate.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// The write's [`Condition`] did not hold: the record exists (for
    /// `Absent`), or changed or vanished (for `Matches`). Re-read and retry.
    #[error("the record changed (CAS conflict)")]
    Conflict,
    /// The backend cannot be reached (connection refused, timeout, too few
    /// replicas reachable). Nothing was acknowledged.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The backend answered with an error.
    #[error("store backend error: {0}")]
    Backend(String),
    /// A key or table name the store cannot hold.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// The value is larger than the backend accepts.
    #[error("value of {size} bytes is over the {max}-byte limit")]
    TooLarge {
        /// The value's size.
        size: usize,
        /// The backend's limit.
        max: usize,
    },
    /// A bounded backend is full.
    #[error("store is full ({0})")]
    Full(&'static str),
    /// The backend cannot do this (e.g. list keys on memcached).
    #[error("not supported by this backend: {0}")]
    Unsupported(&'static str),
    /// Master data aimed at an ephemeral backend.
    #[error("table {0} holds master data and this backend is not durable")]
    Misplaced(&'static str),
    /// A stored record could not be decoded.
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
}

/// Replicated key/value state with memcached semantics. See the
/// [crate docs](crate).
///
/// Implementations are cheap to share (`Arc<dyn Store>`), safe to call from
/// many tasks at once, and never leave a record half-written.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Reads `key` of `table`: its value and CAS token, or `None`.
    async fn get(&self, table: &Table, key: &str) -> Result<Option<Record>, StoreError>;

    /// Writes `value` under `key` if `condition` holds, to live for `ttl`.
    /// Returns the new version's token; [`StoreError::Conflict`] if the
    /// condition failed.
    async fn set(
        &self,
        table: &Table,
        key: &str,
        value: Bytes,
        condition: Condition,
        ttl: Ttl,
    ) -> Result<Cas, StoreError>;

    /// Removes `key` if `condition` holds (`Absent` is meaningless here and
    /// is a conflict when the record exists). `Ok(false)`: there was nothing
    /// to delete (with `Any`); a `Matches` on a missing record is a conflict.
    async fn delete(
        &self,
        table: &Table,
        key: &str,
        condition: Condition,
    ) -> Result<bool, StoreError>;

    /// Every key in `table` (for provisioning tools), in no particular order.
    /// Backends that cannot enumerate keys return
    /// [`StoreError::Unsupported`].
    async fn list(&self, table: &Table) -> Result<Vec<String>, StoreError> {
        let _ = table;
        Err(StoreError::Unsupported("listing keys"))
    }

    /// Whether the data survives a restart.
    fn durability(&self) -> Durability;
}

#[async_trait]
impl<S: Store + ?Sized> Store for Arc<S> {
    async fn get(&self, table: &Table, key: &str) -> Result<Option<Record>, StoreError> {
        (**self).get(table, key).await
    }
    async fn set(
        &self,
        table: &Table,
        key: &str,
        value: Bytes,
        condition: Condition,
        ttl: Ttl,
    ) -> Result<Cas, StoreError> {
        (**self).set(table, key, value, condition, ttl).await
    }
    async fn delete(
        &self,
        table: &Table,
        key: &str,
        condition: Condition,
    ) -> Result<bool, StoreError> {
        (**self).delete(table, key, condition).await
    }
    async fn list(&self, table: &Table) -> Result<Vec<String>, StoreError> {
        (**self).list(table).await
    }
    fn durability(&self) -> Durability {
        (**self).durability()
    }
}

/// Checks a deployment: every table is valid and no master table is on an
/// ephemeral backend. Run it at start-up, before serving.
pub fn check_placement(store: &dyn Store, tables: &[Table]) -> Result<(), StoreError> {
    for t in tables {
        t.validate()?;
        guard(store.durability(), t)?;
    }
    Ok(())
}

/// Refuses master data on an ephemeral backend.
fn guard(durability: Durability, table: &Table) -> Result<(), StoreError> {
    if table.class == DataClass::Master && durability == Durability::Ephemeral {
        return Err(StoreError::Misplaced(table.name));
    }
    Ok(())
}

/// The checks every backend makes before a write: a valid table and key, no
/// master data on an ephemeral backend, and a value of at most `max_value`
/// bytes.
pub(crate) fn check_write(
    durability: Durability,
    table: &Table,
    key: &str,
    value: &[u8],
    max_value: usize,
) -> Result<(), StoreError> {
    check_key(table, key)?;
    guard(durability, table)?;
    if value.len() > max_value {
        return Err(StoreError::TooLarge {
            size: value.len(),
            max: max_value,
        });
    }
    Ok(())
}

/// Checks a table name and key (1 to [`MAX_KEY`] bytes, no NUL: backends
/// use NUL as a separator).
pub(crate) fn check_key(table: &Table, key: &str) -> Result<(), StoreError> {
    table.validate()?;
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(StoreError::InvalidKey("keys are 1-1024 bytes"));
    }
    if key.contains('\0') {
        return Err(StoreError::InvalidKey("keys cannot contain NUL"));
    }
    Ok(())
}

/// What a [`modify`] step does with the record it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<T> {
    /// Write this value (under the version read).
    Put(T),
    /// Delete the record (nothing to do if it was absent).
    Delete,
    /// Leave the record as it is.
    Keep,
}

/// Read-modify-write with a CAS loop, in its general form: reads `key`,
/// calls `change` with the current record (or `None`), which decides what
/// to do and what to return, or refuses with an error (nothing is written
/// then). A write is made under the version read; a conflicting writer
/// makes it start again, up to `attempts` times, after which it fails with
/// [`StoreError::Conflict`] (converted to `E`).
pub async fn modify<R, E, F>(
    store: &dyn Store,
    table: &Table,
    key: &str,
    ttl: Ttl,
    attempts: usize,
    mut change: F,
) -> Result<R, E>
where
    E: From<StoreError>,
    R: Send,
    F: FnMut(Option<&Record>) -> Result<(Change<Bytes>, R), E> + Send,
{
    for _ in 0..attempts.max(1) {
        let current = store.get(table, key).await?;
        let (next, result) = change(current.as_ref())?;
        let condition = match &current {
            Some(r) => Condition::Matches(r.cas),
            None => Condition::Absent,
        };
        let outcome = match next {
            Change::Keep => return Ok(result),
            Change::Put(value) => store
                .set(table, key, value, condition, ttl)
                .await
                .map(|_| ()),
            Change::Delete if current.is_none() => return Ok(result),
            Change::Delete => store.delete(table, key, condition).await.map(|_| ()),
        };
        match outcome {
            Ok(()) => return Ok(result),
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Conflict.into())
}

/// Read-modify-write with a CAS loop ([`modify`] for a change that always
/// writes): `change` gets the current value (or `None`) and returns the
/// new one; `None` deletes the record (or leaves it absent). Up to
/// `attempts` tries.
///
/// Returns the value written (`None` for a delete).
pub async fn update<F>(
    store: &dyn Store,
    table: &Table,
    key: &str,
    ttl: Ttl,
    attempts: usize,
    mut change: F,
) -> Result<Option<Bytes>, StoreError>
where
    F: FnMut(Option<&Bytes>) -> Option<Bytes> + Send,
{
    modify(store, table, key, ttl, attempts, |current| {
        let next = change(current.map(|r| &r.value));
        let step = match &next {
            Some(v) => Change::Put(v.clone()),
            None => Change::Delete,
        };
        Ok((step, next))
    })
    .await
}

/// A process-unique source of CAS tokens for backends that mint their own:
/// a random 64-bit start (from the standard library's randomly keyed hasher)
/// stepped by an odd constant, so tokens from different processes collide
/// only with negligible probability.
#[cfg_attr(not(any(feature = "redis", feature = "memcached")), allow(dead_code))]
pub(crate) struct TokenSource {
    next: std::sync::atomic::AtomicU64,
}

#[cfg_attr(not(any(feature = "redis", feature = "memcached")), allow(dead_code))]
impl TokenSource {
    pub(crate) fn new() -> TokenSource {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.write_u32(std::process::id());
        TokenSource {
            next: std::sync::atomic::AtomicU64::new(h.finish()),
        }
    }

    /// A fresh token, never 0.
    pub(crate) fn next(&self) -> u64 {
        loop {
            let t = self
                .next
                .fetch_add(0x9e37_79b9_7f4a_7c15, std::sync::atomic::Ordering::Relaxed);
            if t != 0 {
                return t;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A store where another writer slips in before each of the first
    /// `races` conditional writes, so that their CAS fails.
    struct Racing {
        inner: MemoryStore,
        races: usize,
        sets: AtomicUsize,
        gets: AtomicUsize,
    }

    #[async_trait]
    impl Store for Racing {
        async fn get(&self, table: &Table, key: &str) -> Result<Option<Record>, StoreError> {
            self.gets.fetch_add(1, Ordering::SeqCst);
            self.inner.get(table, key).await
        }
        async fn set(
            &self,
            table: &Table,
            key: &str,
            value: Bytes,
            condition: Condition,
            ttl: Ttl,
        ) -> Result<Cas, StoreError> {
            if self.sets.fetch_add(1, Ordering::SeqCst) < self.races {
                let other = Bytes::from_static(b"other writer");
                self.inner
                    .set(table, key, other, Condition::Any, Ttl::Forever)
                    .await?;
            }
            self.inner.set(table, key, value, condition, ttl).await
        }
        async fn delete(
            &self,
            table: &Table,
            key: &str,
            condition: Condition,
        ) -> Result<bool, StoreError> {
            self.inner.delete(table, key, condition).await
        }
        fn durability(&self) -> Durability {
            self.inner.durability()
        }
    }

    fn racing(races: usize) -> Racing {
        Racing {
            inner: MemoryStore::new(MemoryConfig::default()),
            races,
            sets: AtomicUsize::new(0),
            gets: AtomicUsize::new(0),
        }
    }

    /// `modify` starts again after each conflict, up to `attempts` times,
    /// then fails with `Conflict` having written nothing of its own.
    #[tokio::test]
    async fn modify_retries_conflicts_up_to_its_attempts() {
        let t = Table::ephemeral("t");
        let put = |_: Option<&Record>| -> Result<(Change<Bytes>, u8), StoreError> {
            Ok((Change::Put(Bytes::from_static(b"mine")), 7))
        };
        let store = racing(3);
        let got = modify(&store, &t, "k", Ttl::Forever, 3, put).await;
        assert_eq!(got, Err(StoreError::Conflict));
        assert_eq!(store.gets.load(Ordering::SeqCst), 3);
        let left = store.inner.get(&t, "k").await.unwrap().unwrap();
        assert_eq!(left.value, Bytes::from_static(b"other writer"));

        let store = racing(3);
        let got = modify(&store, &t, "k", Ttl::Forever, 4, put).await;
        assert_eq!(got, Ok(7));
        assert_eq!(store.gets.load(Ordering::SeqCst), 4);
        let left = store.inner.get(&t, "k").await.unwrap().unwrap();
        assert_eq!(left.value, Bytes::from_static(b"mine"));
    }

    #[test]
    fn table_names_are_checked() {
        assert!(Table::ephemeral("reg").validate().is_ok());
        assert!(Table::ephemeral("").validate().is_err());
        assert!(Table::ephemeral("a b").validate().is_err());
        assert!(Table::ephemeral("a:b").validate().is_err());
        let long: &'static str = Box::leak("x".repeat(65).into_boxed_str());
        assert!(Table::ephemeral(long).validate().is_err());
    }

    #[test]
    fn keys_are_checked() {
        let t = Table::ephemeral("t");
        assert!(check_key(&t, "sip:alice@example.com").is_ok());
        assert!(check_key(&t, "with space and ünïcode").is_ok());
        assert!(check_key(&t, "").is_err());
        assert!(check_key(&t, "a\0b").is_err());
        assert!(check_key(&t, &"k".repeat(MAX_KEY + 1)).is_err());
    }

    #[test]
    fn master_data_needs_a_durable_backend() {
        let store = MemoryStore::new(MemoryConfig::default());
        let master = Table::master("subscriber");
        let eph = Table::ephemeral("reg");
        assert_eq!(
            check_placement(&store, &[eph, master]),
            Err(StoreError::Misplaced("subscriber"))
        );
        assert!(check_placement(&store, &[eph]).is_ok());
    }

    #[test]
    fn ttls_round_up_to_milliseconds() {
        assert_eq!(Ttl::Forever.ceil_ms(), None);
        assert_eq!(Ttl::after(Duration::from_nanos(1)).ceil_ms(), Some(1));
        assert_eq!(Ttl::after(Duration::ZERO).ceil_ms(), Some(1));
        assert_eq!(Ttl::after(Duration::from_micros(1500)).ceil_ms(), Some(2));
        assert_eq!(Ttl::secs(2).ceil_ms(), Some(2000));
        assert_eq!(Ttl::after(Duration::MAX).ceil_ms(), Some(u64::MAX));
        assert_eq!(Ttl::Forever.deadline_ms(1000), 0);
        assert_eq!(Ttl::secs(1).deadline_ms(1000), 2000);
        assert_eq!(Ttl::after(Duration::MAX).deadline_ms(1000), u64::MAX);
    }

    #[test]
    fn writes_are_checked() {
        let t = Table::ephemeral("t");
        let m = Table::master("m");
        assert!(check_write(Durability::Ephemeral, &t, "k", b"1234", 4).is_ok());
        assert_eq!(
            check_write(Durability::Ephemeral, &t, "k", b"12345", 4),
            Err(StoreError::TooLarge { size: 5, max: 4 })
        );
        assert_eq!(
            check_write(Durability::Ephemeral, &m, "k", b"", 4),
            Err(StoreError::Misplaced("m"))
        );
        assert!(check_write(Durability::Durable, &m, "k", b"", 4).is_ok());
        assert!(matches!(
            check_write(Durability::Durable, &m, "", b"", 4),
            Err(StoreError::InvalidKey(_))
        ));
    }

    #[test]
    fn tokens_are_distinct() {
        let s = TokenSource::new();
        let a: std::collections::HashSet<u64> = (0..10_000).map(|_| s.next()).collect();
        assert_eq!(a.len(), 10_000);
    }
}
