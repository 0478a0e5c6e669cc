//! Replication over several memcached servers, as Clearwater's Rogers does.
//!
//! ## How records are placed
//!
//! A key hashes to one of 1024 buckets; each bucket ranks every server by
//! rendezvous hashing (stable across processes and releases), and the
//! bucket's replicas are the first `replicas` servers of that ranking that
//! are up. When a server fails it is skipped for `down_for`, so its buckets
//! move to the next servers in their ranking and keep `replicas` live copies.
//!
//! ## What is stored
//!
//! Each memcached value is an envelope: a record version (the [`Cas`] token
//! callers see), the wall-clock write time, a tombstone flag and the value.
//! Reads ask every replica and take the highest version (the write time
//! settles a tie between copies written on two sides of a netsplit), and
//! repair replicas found behind. Deletes write a tombstone (kept for
//! `tombstone_ttl`) so a lagging replica cannot bring a record back.
//!
//! ## Writes
//!
//! A conditional write reads the replicas, checks the condition against the
//! newest copy, then writes the first reachable replica with memcached's own
//! CAS: that server orders concurrent writers, and the loser gets
//! [`StoreError::Conflict`]. The record is then copied to the other replicas
//! ("set if newer", so copies racing each other converge on the highest
//! version). The write is acknowledged only when `min_copies` servers
//! (default 2) hold it, so **an acknowledged write survives the loss of any
//! one server**. With fewer servers reachable, writes fail with
//! [`StoreError::Unavailable`] (reads still work); an error after the first
//! replica accepted means the outcome is unknown, as with any timeout.
//!
//! ## Limits
//!
//! While servers flap, two writers can pick different first replicas and
//! both succeed (memcached has no consensus; neither had Rogers): the higher
//! version wins on read. A server partitioned for longer than
//! `tombstone_ttl` can bring a deleted record back. Listing keys is not
//! supported (memcached cannot enumerate them).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::future::join_all;

use crate::memcached::{MemcachedConfig, MemcachedStore, MetaKey, Mode, encode_key, meta_key};
use crate::{
    Cas, Condition, Durability, Record, Store, StoreError, Table, TokenSource, Ttl, check_write,
    unix_ms,
};

/// Buckets the key space is cut into.
const BUCKETS: u64 = 1024;
const MAGIC: [u8; 2] = [0xce, 0x01];
const ENVELOPE: usize = 2 + 8 + 8 + 8 + 1;
const TOMBSTONE: u8 = 1;
/// Attempts at a "set if newer" copy before giving up on that replica.
const COPY_ATTEMPTS: usize = 4;

/// A replicated store over several memcached servers.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ReplicatedConfig {
    /// Each server's settings (address, pool, timeouts).
    pub servers: Vec<MemcachedConfig>,
    /// Copies of each record (default 2).
    pub replicas: usize,
    /// Copies a write needs before it is acknowledged (default 2, or 1 with
    /// a single server).
    pub min_copies: usize,
    /// How long a server that failed is skipped (default 10 s).
    pub down_for: Duration,
    /// How long a delete's tombstone is kept (default 5 minutes).
    pub tombstone_ttl: Duration,
}

impl ReplicatedConfig {
    /// Two replicas over `servers` (`host:port` each), default settings.
    pub fn new<S: Into<String>>(servers: impl IntoIterator<Item = S>) -> ReplicatedConfig {
        let servers: Vec<MemcachedConfig> = servers.into_iter().map(MemcachedConfig::new).collect();
        let min_copies = servers.len().clamp(1, 2);
        ReplicatedConfig {
            servers,
            replicas: 2,
            min_copies,
            down_for: Duration::from_secs(10),
            tombstone_ttl: Duration::from_secs(300),
        }
    }

    /// Sets the timeouts of every server.
    pub fn with_timeout(mut self, t: Duration) -> Self {
        for s in &mut self.servers {
            s.connect_timeout = t;
            s.timeout = t;
        }
        self
    }
}

struct Server {
    mc: MemcachedStore,
    /// Stable identity for placement (its configured address).
    id: u64,
    down_until: Mutex<Option<Instant>>,
}

impl Server {
    fn is_up(&self, now: Instant) -> bool {
        self.down_until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none_or(|t| now >= t)
    }

    fn mark_down(&self, d: Duration) {
        tracing::warn!("memcached {} marked down for {d:?}", self.mc.server());
        *self.down_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + d);
    }
}

/// See the [module docs](self).
pub struct ReplicatedStore {
    servers: Vec<Server>,
    config: ReplicatedConfig,
    tokens: TokenSource,
}

/// One replica's copy as read: the envelope and memcached's CAS for it.
struct Copy {
    server: usize,
    found: Option<(Envelope, u64)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Envelope {
    version: u64,
    written_ms: u64,
    /// Wall-clock expiry (unix ms, 0 = never): copies made by read repair
    /// keep the original deadline.
    expires_ms: u64,
    tombstone: bool,
    value: Bytes,
}

impl Envelope {
    fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(ENVELOPE + self.value.len());
        b.put_slice(&MAGIC);
        b.put_u64(self.version);
        b.put_u64(self.written_ms);
        b.put_u64(self.expires_ms);
        b.put_u8(if self.tombstone { TOMBSTONE } else { 0 });
        b.put_slice(&self.value);
        b.freeze()
    }

    fn decode(mut data: Bytes) -> Result<Envelope, StoreError> {
        if data.len() < ENVELOPE || data[..2] != MAGIC {
            return Err(StoreError::Corrupt(
                "not a replicated-store envelope".into(),
            ));
        }
        let field = |at: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&data[at..at + 8]);
            u64::from_be_bytes(a)
        };
        let (version, written_ms, expires_ms, flags) = (field(2), field(10), field(18), data[26]);
        // Versions start below 2^62 and grow by one per write: one at or
        // past 2^63 was not written by this store (and would wrap).
        if version >= 1 << 63 {
            return Err(StoreError::Corrupt(format!(
                "replicated-store envelope with version {version}"
            )));
        }
        let value = data.split_off(ENVELOPE);
        Ok(Envelope {
            version,
            written_ms,
            expires_ms,
            tombstone: flags & TOMBSTONE != 0,
            value,
        })
    }

    fn expired(&self, now_ms: u64) -> bool {
        self.expires_ms != 0 && self.expires_ms <= now_ms
    }

    /// What is left of its lifetime, for a copy.
    fn remaining(&self, now_ms: u64) -> Ttl {
        if self.expires_ms == 0 {
            Ttl::Forever
        } else {
            Ttl::After(Duration::from_millis(
                self.expires_ms.saturating_sub(now_ms).max(1),
            ))
        }
    }

    /// Orders copies: higher version, then later write.
    fn rank(&self) -> (u64, u64) {
        (self.version, self.written_ms)
    }

    /// The CAS token of this copy: its version and write time mixed, so two
    /// copies that share a version after a netsplit (written apart) have
    /// different tokens, and a token read from the losing one never matches
    /// the winner.
    fn token(&self) -> u64 {
        stable_hash(&[&self.version.to_be_bytes(), &self.written_ms.to_be_bytes()])
    }

    /// A replica's bytes that are no envelope (a plain set by another
    /// client, damage): taken as the oldest possible tombstone, so any real
    /// copy outranks it, reads pass over it and writes overwrite it (with
    /// memcached's CAS) instead of the key staying unusable.
    fn from_replica(data: Bytes, server: &str) -> Envelope {
        Envelope::decode(data).unwrap_or_else(|e| {
            tracing::warn!("replicated store: {server}: {e}; treated as absent");
            Envelope {
                version: 0,
                written_ms: 0,
                expires_ms: 0,
                tombstone: true,
                value: Bytes::new(),
            }
        })
    }
}

/// 64-bit FNV-1a with a splitmix finaliser: stable everywhere, unlike the
/// standard library's hashers.
fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl ReplicatedStore {
    /// A store over `config.servers`; connections are made on first use.
    pub fn new(config: ReplicatedConfig) -> Result<ReplicatedStore, StoreError> {
        if config.servers.is_empty() {
            return Err(StoreError::Backend(
                "a replicated store needs servers".into(),
            ));
        }
        if config.min_copies == 0 || config.min_copies > config.replicas.max(1) {
            return Err(StoreError::Backend(
                "min_copies must be between 1 and replicas".into(),
            ));
        }
        let servers = config
            .servers
            .iter()
            .map(|c| Server {
                id: stable_hash(&[c.server.as_bytes()]),
                mc: MemcachedStore::new(c.clone()),
                down_until: Mutex::new(None),
            })
            .collect();
        Ok(ReplicatedStore {
            servers,
            config,
            tokens: TokenSource::new(),
        })
    }

    /// The largest value every server takes inside an envelope.
    fn max_value(&self) -> usize {
        self.servers
            .iter()
            .map(|s| s.mc.max_value())
            .min()
            .unwrap_or(0)
            .saturating_sub(ENVELOPE)
    }

    /// The bucket of `key`.
    fn bucket(key: &MetaKey) -> u64 {
        stable_hash(&[key.text().as_bytes()]) % BUCKETS
    }

    /// Every server, best first, for `key`'s bucket (rendezvous hashing).
    fn ranking(&self, key: &MetaKey) -> Vec<usize> {
        let bucket = Self::bucket(key).to_be_bytes();
        let mut order: Vec<(u64, usize)> = self
            .servers
            .iter()
            .enumerate()
            .map(|(i, s)| (stable_hash(&[&bucket, &s.id.to_be_bytes()]), i))
            .collect();
        order.sort_unstable_by(|a, b| b.cmp(a));
        order.into_iter().map(|(_, i)| i).collect()
    }

    /// Reads the first `replicas` servers that answer, in ranking order.
    async fn read_replicas(&self, key: &MetaKey) -> Result<Vec<Copy>, StoreError> {
        let now = Instant::now();
        let ranking = self.ranking(key);
        let want = self.config.replicas.max(1);
        let mut candidates = ranking.into_iter().filter(|&i| self.servers[i].is_up(now));
        let mut copies = Vec::new();
        let mut last_error = None;
        while copies.len() < want {
            let batch: Vec<usize> = candidates.by_ref().take(want - copies.len()).collect();
            if batch.is_empty() {
                break;
            }
            let reads = join_all(batch.iter().map(|&i| self.servers[i].mc.raw_get(key))).await;
            for (i, r) in batch.into_iter().zip(reads) {
                match r {
                    Ok(found) => {
                        let server = self.servers[i].mc.server();
                        let found =
                            found.map(|(data, cas)| (Envelope::from_replica(data, server), cas));
                        copies.push(Copy { server: i, found });
                    }
                    Err(StoreError::Unavailable(e)) => {
                        self.servers[i].mark_down(self.config.down_for);
                        last_error = Some(e);
                    }
                    // A server answering a read with an error (SERVER_ERROR
                    // ...) is passed over like one that is down; the other
                    // replicas still serve the key.
                    Err(e) => {
                        tracing::warn!("replicated store: {}: {e}", self.servers[i].mc.server());
                        self.servers[i].mark_down(self.config.down_for);
                        last_error = Some(e.to_string());
                    }
                }
            }
        }
        if copies.is_empty() {
            return Err(StoreError::Unavailable(
                last_error.unwrap_or_else(|| "every memcached server is down".into()),
            ));
        }
        Ok(copies)
    }

    /// Writes `envelope` (encoded as `bytes`) to `server` unless it already
    /// holds that version or a newer one. `Ok(true)` when the server holds it
    /// (or newer) after.
    async fn copy_to(
        &self,
        server: usize,
        key: &MetaKey,
        envelope: &Envelope,
        bytes: &[u8],
        mut seen: Option<(Envelope, u64)>,
        ttl: Ttl,
    ) -> Result<bool, StoreError> {
        let mc = &self.servers[server].mc;
        for _ in 0..COPY_ATTEMPTS {
            let write = match &seen {
                Some((e, _)) if e.rank() >= envelope.rank() => return Ok(true),
                Some((_, cas)) => mc.raw_set(key, bytes, ttl, Some(*cas), Mode::Set).await,
                None => mc.raw_set(key, bytes, ttl, None, Mode::Add).await,
            };
            match write {
                Ok(_) => return Ok(true),
                Err(StoreError::Conflict) => {
                    seen = mc
                        .raw_get(key)
                        .await?
                        .map(|(data, cas)| (Envelope::from_replica(data, mc.server()), cas));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    /// The conditional write shared by set and delete (the caller has
    /// checked the value against [`ReplicatedStore::max_value`]).
    async fn write(
        &self,
        key: &MetaKey,
        value: Bytes,
        tombstone: bool,
        condition: Condition,
        ttl: Ttl,
    ) -> Result<Option<Cas>, StoreError> {
        let copies = self.read_replicas(key).await?;
        let newest = copies
            .iter()
            .filter_map(|c| c.found.as_ref().map(|(e, _)| e))
            .max_by_key(|e| e.rank());
        let now = unix_ms();
        let live = newest.filter(|e| !e.tombstone && !e.expired(now));
        match (condition, live) {
            (Condition::Any, _) | (Condition::Absent, None) => {}
            (Condition::Matches(c), Some(e)) if e.token() == c.0 => {}
            _ => return Err(StoreError::Conflict),
        }
        if tombstone && live.is_none() {
            return Ok(None); // nothing to delete
        }
        let version = match newest {
            // (Below 2^63 by `Envelope::decode`: no overflow.)
            Some(e) => e.version + 1,
            // A fresh record starts at a random version so tokens from
            // before a restart of every server never match it.
            None => self.tokens.next() >> 2,
        };
        let ttl = if tombstone {
            Ttl::After(self.config.tombstone_ttl)
        } else {
            ttl
        };
        let envelope = Envelope {
            version,
            written_ms: now,
            expires_ms: ttl.deadline_ms(now),
            tombstone,
            value,
        };
        // The first replica orders concurrent writers.
        let first = &copies[0];
        let mc = &self.servers[first.server].mc;
        let bytes = envelope.encode();
        let stored = match &first.found {
            Some((_, cas)) => mc.raw_set(key, &bytes, ttl, Some(*cas), Mode::Set).await,
            None => mc.raw_set(key, &bytes, ttl, None, Mode::Add).await,
        };
        match stored {
            Ok(_) => {}
            Err(StoreError::Unavailable(e)) => {
                self.servers[first.server].mark_down(self.config.down_for);
                return Err(StoreError::Unavailable(e));
            }
            Err(e) => return Err(e),
        }
        let mut held = 1;
        let others = copies.into_iter().skip(1);
        let results = join_all(others.map(|c| {
            let (env, bytes) = (&envelope, &bytes);
            async move {
                (
                    c.server,
                    self.copy_to(c.server, key, env, bytes, c.found, ttl).await,
                )
            }
        }))
        .await;
        for (server, r) in results {
            match r {
                Ok(true) => held += 1,
                Ok(false) => {}
                Err(StoreError::Unavailable(_)) => {
                    self.servers[server].mark_down(self.config.down_for);
                }
                Err(e) => {
                    tracing::warn!("replica copy to {}: {e}", self.servers[server].mc.server())
                }
            }
        }
        let needed = self.config.min_copies.min(self.servers.len());
        if held < needed {
            return Err(StoreError::Unavailable(format!(
                "written to {held} of the {needed} servers needed"
            )));
        }
        Ok(Some(Cas(envelope.token())))
    }
}

#[async_trait]
impl Store for ReplicatedStore {
    async fn get(&self, table: &Table, key: &str) -> Result<Option<Record>, StoreError> {
        let k = meta_key(table, key)?;
        let copies = self.read_replicas(&k).await?;
        let Some(newest) = copies
            .iter()
            .filter_map(|c| c.found.as_ref().map(|(e, _)| e))
            .max_by_key(|e| e.rank())
            .cloned()
        else {
            return Ok(None);
        };
        let now = unix_ms();
        if newest.tombstone || newest.expired(now) {
            return Ok(None);
        }
        // Read repair: bring replicas that are behind up to date (best
        // effort), with what is left of the record's lifetime.
        let mut bytes = None;
        for c in &copies {
            let behind = c
                .found
                .as_ref()
                .is_none_or(|(e, _)| e.rank() < newest.rank());
            if behind {
                let bytes = bytes.get_or_insert_with(|| newest.encode());
                let _ = self
                    .copy_to(
                        c.server,
                        &k,
                        &newest,
                        bytes,
                        c.found.clone(),
                        newest.remaining(now),
                    )
                    .await;
            }
        }
        let cas = Cas(newest.token());
        Ok(Some(Record {
            value: newest.value,
            cas,
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
        check_write(self.durability(), table, key, &value, self.max_value())?;
        let k = encode_key(table, key)?;
        self.write(&k, value, false, condition, ttl)
            .await?
            .ok_or(StoreError::Backend("write produced no version".into()))
    }

    async fn delete(
        &self,
        table: &Table,
        key: &str,
        condition: Condition,
    ) -> Result<bool, StoreError> {
        let k = meta_key(table, key)?;
        Ok(self
            .write(&k, Bytes::new(), true, condition, Ttl::Forever)
            .await?
            .is_some())
    }

    fn durability(&self) -> Durability {
        Durability::Ephemeral
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_and_reject_garbage() {
        let e = Envelope {
            version: 7,
            written_ms: 1_700_000_000_000,
            expires_ms: 0,
            tombstone: false,
            value: Bytes::from_static(b"data"),
        };
        assert_eq!(Envelope::decode(e.encode()).unwrap(), e);
        let t = Envelope {
            version: (1 << 63) - 1,
            written_ms: 1,
            expires_ms: 1_700_000_300_000,
            tombstone: true,
            value: Bytes::new(),
        };
        assert_eq!(Envelope::decode(t.encode()).unwrap(), t);
        // A version this store cannot have written (and whose successor
        // would wrap) is corrupt, not a copy that outranks every other.
        let wild = Envelope {
            version: u64::MAX,
            ..t.clone()
        };
        assert!(matches!(
            Envelope::decode(wild.encode()),
            Err(StoreError::Corrupt(_))
        ));
        assert!(Envelope::decode(Bytes::from_static(b"plain value")).is_err());
        // Two copies written apart with the same version (a netsplit) have
        // different CAS tokens; the same copy always the same one.
        let other_side = Envelope {
            written_ms: e.written_ms + 1,
            ..e.clone()
        };
        assert_eq!(e.rank().0, other_side.rank().0);
        assert_ne!(e.token(), other_side.token());
        assert_eq!(e.token(), Envelope::decode(e.encode()).unwrap().token());
        assert!(Envelope::decode(Bytes::from_static(b"\xce\x01short")).is_err());
    }

    #[tokio::test]
    async fn too_large_is_refused_before_any_round_trip_by_the_smallest_limit() {
        // Nothing listens on these: a request would be `Unavailable`.
        let mut config = ReplicatedConfig::new(["127.0.0.1:1", "127.0.0.1:2"]);
        config.servers[1].max_value = 1000;
        let store = ReplicatedStore::new(config).unwrap();
        let t = Table::ephemeral("t");
        let r = store
            .set(
                &t,
                "k",
                Bytes::from(vec![0; 1000 - ENVELOPE + 1]),
                Condition::Any,
                Ttl::Forever,
            )
            .await;
        assert_eq!(
            r,
            Err(StoreError::TooLarge {
                size: 1000 - ENVELOPE + 1,
                max: 1000 - ENVELOPE
            })
        );
        let r = store
            .set(
                &t,
                "k",
                Bytes::from(vec![0; 1000 - ENVELOPE]),
                Condition::Any,
                Ttl::Forever,
            )
            .await;
        assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
    }

    #[test]
    fn placement_is_stable_and_spread() {
        let config = ReplicatedConfig::new(["10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"]);
        let store = ReplicatedStore::new(config).unwrap();
        let mut first = [0usize; 3];
        for i in 0..3000 {
            let k = MetaKey::new(format!("reg:sip:user{i}@example.com")).unwrap();
            let r = store.ranking(&k);
            assert_eq!(r, store.ranking(&k));
            first[r[0]] += 1;
        }
        // Each server is first for roughly a third of the keys.
        assert!(first.iter().all(|&n| n > 700), "{first:?}");
        // The hash is fixed: this value must never change between releases.
        assert_eq!(stable_hash(&[b"abc"]), 913_532_767_295_458_681);
        assert_ne!(stable_hash(&[b"ab", b"c"]), stable_hash(&[b"a", b"bc"]));
    }
}
