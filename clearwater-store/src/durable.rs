//! The durable embedded backend, on redb: one file, ACID transactions, data
//! kept across restarts. The all-in-one keeps its provisioned subscribers here.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::{Cas, Condition, Durability, Record, Store, StoreError, Table, Ttl, check_key, guard};

/// Records: `table NUL key` → `cas (u64 BE) | expires (unix ms, u64 BE, 0 =
/// never) | value`.
const RECORDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("records");
/// Store-wide counters (`next_cas`).
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const HEADER: usize = 16;

/// Largest value accepted by default (16 MiB).
const DEFAULT_MAX_VALUE: usize = 16 << 20;

/// A durable store in one redb file. See the [module docs](self).
///
/// Every write is its own transaction, committed to disk (fsync) before it is
/// acknowledged, so an acknowledged write survives a crash or power loss.
/// TTLs are wall-clock deadlines (they run while the process is down);
/// expired records are invisible at once and removed by later writes to the
/// same key, by [`DurableStore::purge_expired`] and when the file is opened.
/// CAS tokens come from one persisted counter and are never reused.
pub struct DurableStore {
    db: Arc<Database>,
    max_value: usize,
}

impl DurableStore {
    /// Opens (or creates) the store in the file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<DurableStore, StoreError> {
        let db = Database::create(path).map_err(backend)?;
        // Create the tables so readers never find them missing.
        let tx = db.begin_write().map_err(backend)?;
        {
            tx.open_table(RECORDS).map_err(backend)?;
            tx.open_table(META).map_err(backend)?;
        }
        tx.commit().map_err(backend)?;
        let store = DurableStore {
            db: Arc::new(db),
            max_value: DEFAULT_MAX_VALUE,
        };
        store.purge_blocking()?;
        Ok(store)
    }

    /// Sets the largest value accepted (default 16 MiB).
    pub fn with_max_value(mut self, n: usize) -> Self {
        self.max_value = n;
        self
    }

    /// Removes every expired record; returns how many.
    pub async fn purge_expired(&self) -> Result<usize, StoreError> {
        let this = DurableStore {
            db: self.db.clone(),
            max_value: self.max_value,
        };
        blocking(move || this.purge_blocking()).await
    }

    fn purge_blocking(&self) -> Result<usize, StoreError> {
        let now = now_ms();
        let tx = self.db.begin_write().map_err(backend)?;
        let mut n = 0;
        {
            let mut t = tx.open_table(RECORDS).map_err(backend)?;
            t.retain(|_, v| {
                let dead = expired(v, now);
                n += usize::from(dead);
                !dead
            })
            .map_err(backend)?;
        }
        tx.commit().map_err(backend)?;
        Ok(n)
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("redb: {e}"))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn record_key(table: &Table, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(table.name().len() + 1 + key.len());
    k.extend_from_slice(table.name().as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

fn field(v: &[u8], at: usize) -> u64 {
    v.get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_be_bytes)
}

fn expired(v: &[u8], now: u64) -> bool {
    let exp = field(v, 8);
    exp != 0 && exp <= now
}

/// The live record in a stored value, if not expired.
fn live(v: &[u8], now: u64) -> Option<(u64, &[u8])> {
    if v.len() < HEADER || expired(v, now) {
        return None;
    }
    Some((field(v, 0), &v[HEADER..]))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Backend(format!("redb task: {e}")))?
}

#[async_trait]
impl Store for DurableStore {
    async fn get(&self, table: &Table, key: &str) -> Result<Option<Record>, StoreError> {
        check_key(table, key)?;
        let db = self.db.clone();
        let k = record_key(table, key);
        blocking(move || {
            let tx = db.begin_read().map_err(backend)?;
            let t = tx.open_table(RECORDS).map_err(backend)?;
            let Some(v) = t.get(k.as_slice()).map_err(backend)? else {
                return Ok(None);
            };
            Ok(live(v.value(), now_ms()).map(|(cas, value)| Record {
                value: Bytes::copy_from_slice(value),
                cas: Cas(cas),
            }))
        })
        .await
    }

    async fn set(
        &self,
        table: &Table,
        key: &str,
        value: Bytes,
        condition: Condition,
        ttl: Ttl,
    ) -> Result<Cas, StoreError> {
        check_key(table, key)?;
        guard(self.durability(), table)?;
        if value.len() > self.max_value {
            return Err(StoreError::TooLarge {
                size: value.len(),
                max: self.max_value,
            });
        }
        let db = self.db.clone();
        let k = record_key(table, key);
        blocking(move || {
            let now = now_ms();
            let expires = match ttl {
                Ttl::Forever => 0,
                Ttl::After(d) => now.saturating_add(ms_ceil(d)).max(1),
            };
            let tx = db.begin_write().map_err(backend)?;
            let cas = {
                let mut t = tx.open_table(RECORDS).map_err(backend)?;
                let current = t
                    .get(k.as_slice())
                    .map_err(backend)?
                    .and_then(|v| live(v.value(), now).map(|(c, _)| c));
                match (condition, current) {
                    (Condition::Any, _) | (Condition::Absent, None) => {}
                    (Condition::Matches(c), Some(cur)) if cur == c.0 => {}
                    _ => return Err(StoreError::Conflict),
                }
                let mut meta = tx.open_table(META).map_err(backend)?;
                let cas = meta
                    .get("next_cas")
                    .map_err(backend)?
                    .map_or(1, |v| v.value());
                meta.insert("next_cas", cas + 1).map_err(backend)?;
                let mut v = Vec::with_capacity(HEADER + value.len());
                v.extend_from_slice(&cas.to_be_bytes());
                v.extend_from_slice(&expires.to_be_bytes());
                v.extend_from_slice(&value);
                t.insert(k.as_slice(), v.as_slice()).map_err(backend)?;
                cas
            };
            tx.commit().map_err(backend)?;
            Ok(Cas(cas))
        })
        .await
    }

    async fn delete(
        &self,
        table: &Table,
        key: &str,
        condition: Condition,
    ) -> Result<bool, StoreError> {
        check_key(table, key)?;
        let db = self.db.clone();
        let k = record_key(table, key);
        blocking(move || {
            let now = now_ms();
            let tx = db.begin_write().map_err(backend)?;
            let removed = {
                let t = tx.open_table(RECORDS).map_err(backend)?;
                let current = t
                    .get(k.as_slice())
                    .map_err(backend)?
                    .and_then(|v| live(v.value(), now).map(|(c, _)| c));
                match (condition, current) {
                    (Condition::Any | Condition::Absent, None) => false,
                    (Condition::Any, Some(_)) => true,
                    (Condition::Matches(c), Some(cur)) if cur == c.0 => true,
                    _ => return Err(StoreError::Conflict),
                }
            };
            if removed {
                let mut t = tx.open_table(RECORDS).map_err(backend)?;
                t.remove(k.as_slice()).map_err(backend)?;
            }
            tx.commit().map_err(backend)?;
            Ok(removed)
        })
        .await
    }

    async fn list(&self, table: &Table) -> Result<Vec<String>, StoreError> {
        table.validate()?;
        let db = self.db.clone();
        let mut lo = table.name().as_bytes().to_vec();
        lo.push(0);
        let mut hi = table.name().as_bytes().to_vec();
        hi.push(1);
        blocking(move || {
            let now = now_ms();
            let tx = db.begin_read().map_err(backend)?;
            let t = tx.open_table(RECORDS).map_err(backend)?;
            let mut out = Vec::new();
            for item in t.range(lo.as_slice()..hi.as_slice()).map_err(backend)? {
                let (k, v) = item.map_err(backend)?;
                if live(v.value(), now).is_some() {
                    let key = &k.value()[lo.len()..];
                    out.push(String::from_utf8_lossy(key).into_owned());
                }
            }
            Ok(out)
        })
        .await
    }

    fn durability(&self) -> Durability {
        Durability::Durable
    }
}

fn ms_ceil(d: Duration) -> u64 {
    let ms = d.as_millis() + u128::from(!d.subsec_nanos().is_multiple_of(1_000_000));
    u64::try_from(ms).unwrap_or(u64::MAX)
}
