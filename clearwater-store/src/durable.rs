//! The durable embedded backend, on redb: one file, ACID transactions, data
//! kept across restarts. The all-in-one keeps its provisioned subscribers here.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::{
    Cas, Condition, Durability, Record, Store, StoreError, Table, Ttl, check_key, check_write,
    unix_ms,
};

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
///
/// A stored record too short for its header is reported as
/// [`StoreError::Corrupt`] by reads and conditional writes; it is still
/// listed, and an unconditional set or delete replaces or removes it.
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
        purge(&db)?;
        Ok(DurableStore {
            db: Arc::new(db),
            max_value: DEFAULT_MAX_VALUE,
        })
    }

    /// Sets the largest value accepted (default 16 MiB).
    pub fn with_max_value(mut self, n: usize) -> Self {
        self.max_value = n;
        self
    }

    /// Removes every expired record; returns how many.
    pub async fn purge_expired(&self) -> Result<usize, StoreError> {
        let db = self.db.clone();
        blocking(move || purge(&db)).await
    }
}

/// Removes every expired record; returns how many.
fn purge(db: &Database) -> Result<usize, StoreError> {
    let now = unix_ms();
    let tx = db.begin_write().map_err(backend)?;
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

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("redb: {e}"))
}

fn record_key(table: &Table, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(table.name().len() + 1 + key.len());
    k.extend_from_slice(table.name().as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

/// A stored value's CAS, expiry and value; `None` when it is too short to
/// hold its header.
fn split(v: &[u8]) -> Option<(u64, u64, &[u8])> {
    let (cas, rest) = v.split_first_chunk::<8>()?;
    let (expires, value) = rest.split_first_chunk::<8>()?;
    Some((
        u64::from_be_bytes(*cas),
        u64::from_be_bytes(*expires),
        value,
    ))
}

/// Whether a stored value has expired (a corrupt one is kept, for a person
/// to look at).
fn expired(v: &[u8], now: u64) -> bool {
    split(v).is_some_and(|(_, exp, _)| exp != 0 && exp <= now)
}

/// The live record (CAS and value) in a stored value: `None` when expired,
/// `Corrupt` when it is too short to hold its header.
fn live(v: &[u8], now: u64) -> Result<Option<(u64, &[u8])>, StoreError> {
    let (cas, exp, value) = split(v).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "redb record of {} bytes is shorter than its {HEADER}-byte header",
            v.len()
        ))
    })?;
    Ok((exp == 0 || exp > now).then_some((cas, value)))
}

/// The CAS of the live record at `k`, if any.
fn current_cas(
    t: &impl ReadableTable<&'static [u8], &'static [u8]>,
    k: &[u8],
    now: u64,
) -> Result<Option<u64>, StoreError> {
    match t.get(k).map_err(backend)? {
        Some(v) => Ok(live(v.value(), now)?.map(|(cas, _)| cas)),
        None => Ok(None),
    }
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
            Ok(live(v.value(), unix_ms())?.map(|(cas, value)| Record {
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
        check_write(self.durability(), table, key, &value, self.max_value)?;
        let db = self.db.clone();
        let k = record_key(table, key);
        blocking(move || {
            let now = unix_ms();
            let expires = ttl.deadline_ms(now);
            let tx = db.begin_write().map_err(backend)?;
            let cas = {
                let mut t = tx.open_table(RECORDS).map_err(backend)?;
                let ok = match condition {
                    Condition::Any => true,
                    Condition::Absent => current_cas(&t, &k, now)?.is_none(),
                    Condition::Matches(c) => current_cas(&t, &k, now)? == Some(c.0),
                };
                if !ok {
                    return Err(StoreError::Conflict);
                }
                let mut meta = tx.open_table(META).map_err(backend)?;
                let cas = meta
                    .get("next_cas")
                    .map_err(backend)?
                    .map_or(1, |v| v.value());
                let next = cas
                    .checked_add(1)
                    .ok_or_else(|| StoreError::Corrupt("the CAS counter is exhausted".into()))?;
                meta.insert("next_cas", next).map_err(backend)?;
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
            let now = unix_ms();
            let tx = db.begin_write().map_err(backend)?;
            let removed = {
                let mut t = tx.open_table(RECORDS).map_err(backend)?;
                if condition == Condition::Any {
                    // Whatever is there goes (an expired record was already
                    // gone; a corrupt one is removed).
                    let old = t.remove(k.as_slice()).map_err(backend)?;
                    old.is_some_and(|v| live(v.value(), now).map_or(true, |r| r.is_some()))
                } else {
                    match (condition, current_cas(&t, &k, now)?) {
                        (Condition::Absent, None) => false,
                        (Condition::Matches(c), Some(cur)) if cur == c.0 => {
                            t.remove(k.as_slice()).map_err(backend)?;
                            true
                        }
                        _ => return Err(StoreError::Conflict),
                    }
                }
            };
            tx.commit().map_err(backend)?;
            Ok(removed)
        })
        .await
    }

    async fn list(&self, table: &Table) -> Result<Vec<String>, StoreError> {
        table.validate()?;
        let name = table.name();
        let db = self.db.clone();
        let mut lo = name.as_bytes().to_vec();
        lo.push(0);
        let mut hi = name.as_bytes().to_vec();
        hi.push(1);
        blocking(move || {
            let now = unix_ms();
            let tx = db.begin_read().map_err(backend)?;
            let t = tx.open_table(RECORDS).map_err(backend)?;
            let mut out = Vec::new();
            for item in t.range(lo.as_slice()..hi.as_slice()).map_err(backend)? {
                let (k, v) = item.map_err(backend)?;
                if !expired(v.value(), now) {
                    let key = k.value().get(lo.len()..).unwrap_or_default();
                    let key = std::str::from_utf8(key).map_err(|_| {
                        StoreError::Corrupt(format!("redb key in {name} is not UTF-8"))
                    })?;
                    out.push(key.to_owned());
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

#[cfg(test)]
mod tests {
    use super::*;

    const T: Table = Table::ephemeral("t");

    fn corrupt<T>(r: &Result<T, StoreError>) -> bool {
        matches!(r, Err(StoreError::Corrupt(_)))
    }

    /// Writes raw bytes as the stored form of `key`, bypassing the store.
    fn plant(store: &DurableStore, key: &str, raw: &[u8]) {
        let tx = store.db.begin_write().unwrap();
        {
            let mut t = tx.open_table(RECORDS).unwrap();
            t.insert(record_key(&T, key).as_slice(), raw).unwrap();
        }
        tx.commit().unwrap();
    }

    #[tokio::test]
    async fn a_corrupt_record_is_an_error_until_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = DurableStore::open(dir.path().join("s.redb")).unwrap();
        let v = Bytes::from_static(b"v");
        plant(&store, "bad", b"short");
        assert!(corrupt(&store.get(&T, "bad").await));
        let add = store
            .set(&T, "bad", v.clone(), Condition::Absent, Ttl::Forever)
            .await;
        assert!(corrupt(&add), "{add:?}");
        let cas = store
            .set(
                &T,
                "bad",
                v.clone(),
                Condition::Matches(Cas(1)),
                Ttl::Forever,
            )
            .await;
        assert!(corrupt(&cas), "{cas:?}");
        let del = store.delete(&T, "bad", Condition::Matches(Cas(1))).await;
        assert!(corrupt(&del), "{del:?}");
        assert!(corrupt(&store.get(&T, "bad").await), "left in place");
        // Listed (it exists), kept by a purge, removed by a plain delete.
        assert_eq!(store.list(&T).await.unwrap(), ["bad"]);
        assert_eq!(store.purge_expired().await.unwrap(), 0);
        assert_eq!(store.delete(&T, "bad", Condition::Any).await, Ok(true));
        assert_eq!(store.get(&T, "bad").await, Ok(None));
        // A plain set replaces one.
        plant(&store, "bad", b"");
        store
            .set(&T, "bad", v.clone(), Condition::Any, Ttl::Forever)
            .await
            .unwrap();
        assert_eq!(
            store.get(&T, "bad").await.unwrap().map(|r| r.value),
            Some(v)
        );
    }

    #[tokio::test]
    async fn a_plain_delete_of_an_expired_record_removes_it_and_says_false() {
        let dir = tempfile::tempdir().unwrap();
        let store = DurableStore::open(dir.path().join("s.redb")).unwrap();
        let mut raw = 7u64.to_be_bytes().to_vec();
        raw.extend_from_slice(&1u64.to_be_bytes()); // expired in 1970
        raw.extend_from_slice(b"old");
        plant(&store, "k", &raw);
        assert_eq!(store.get(&T, "k").await, Ok(None));
        assert_eq!(store.delete(&T, "k", Condition::Any).await, Ok(false));
        assert_eq!(store.purge_expired().await.unwrap(), 0, "already removed");
    }
}
