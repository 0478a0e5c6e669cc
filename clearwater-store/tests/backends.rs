//! The conformance suite against every backend, on real servers started by
//! the tests (memcached, redis-server, a 3-node Redis Cluster), plus each
//! backend's own promises: durable backends keep data across a restart, and
//! the replicated memcached store loses no acknowledged write when one of
//! three servers dies under load.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use clearwater_store::conformance::{Suite, run_all};
use clearwater_store::{
    Condition, Durability, DurableStore, MemcachedConfig, MemcachedStore, MemoryConfig,
    MemoryStore, RedisConfig, RedisStore, ReplicatedConfig, ReplicatedStore, Store, StoreError,
    Table, Ttl,
};
use support::{Memcached, Redis, RedisCluster};

const T: Table = Table::ephemeral("backend-test");
const SUBSCRIBERS: Table = Table::master("subscribers");

async fn conforms(store: Arc<dyn Store>, suite: Suite) {
    let failures = run_all(store, &suite).await;
    assert!(failures.is_empty(), "conformance failures: {failures:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_conforms() {
    let store = MemoryStore::new(MemoryConfig::default().with_max_value(1 << 20));
    conforms(Arc::new(store), Suite::default().too_large((1 << 20) + 1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = DurableStore::open(dir.path().join("store.redb"))
        .unwrap()
        .with_max_value(1 << 20);
    conforms(Arc::new(store), Suite::default().too_large((1 << 20) + 1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_keeps_data_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let cas = {
        let store = DurableStore::open(&path).unwrap();
        assert_eq!(store.durability(), Durability::Durable);
        store
            .set(
                &SUBSCRIBERS,
                "alice",
                Bytes::from_static(b"A"),
                Condition::Absent,
                Ttl::Forever,
            )
            .await
            .unwrap();
        store
            .set(
                &SUBSCRIBERS,
                "brief",
                Bytes::from_static(b"B"),
                Condition::Any,
                Ttl::secs(1),
            )
            .await
            .unwrap();
        store.get(&SUBSCRIBERS, "alice").await.unwrap().unwrap().cas
    };
    // The TTL is a wall-clock deadline: it runs while the store is closed.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let store = DurableStore::open(&path).unwrap();
    let r = store.get(&SUBSCRIBERS, "alice").await.unwrap().unwrap();
    assert_eq!((&r.value[..], r.cas), (&b"A"[..], cas));
    assert_eq!(store.get(&SUBSCRIBERS, "brief").await.unwrap(), None);
    assert_eq!(store.list(&SUBSCRIBERS).await.unwrap(), ["alice"]);
    // Tokens keep counting up across the restart: no reuse.
    let c2 = store
        .set(
            &SUBSCRIBERS,
            "carol",
            Bytes::from_static(b"C"),
            Condition::Absent,
            Ttl::Forever,
        )
        .await
        .unwrap();
    assert_ne!(c2, cas);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memcached_conforms() {
    let server = Memcached::start();
    let store = MemcachedStore::new(MemcachedConfig::new(server.addr()));
    conforms(
        Arc::new(store),
        Suite::default().lists(false).too_large(1 << 20),
    )
    .await;
}

/// Runs `op` and fails the test unless it ends within `limit`.
async fn within<T>(limit: Duration, op: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(limit, op)
        .await
        .unwrap_or_else(|_| panic!("still waiting after {limit:?}: a hang"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memcached_down_is_unavailable_not_a_hang() {
    let limit = Duration::from_secs(2);
    let mut server = Memcached::start();
    let store = MemcachedStore::new(
        MemcachedConfig::new(server.addr()).with_timeout(Duration::from_millis(500)),
    );
    store
        .set(
            &T,
            "k",
            Bytes::from_static(b"v"),
            Condition::Any,
            Ttl::Forever,
        )
        .await
        .unwrap();
    server.kill();
    // The pooled connection is dead, and so is the server behind it.
    for _ in 0..2 {
        let r = within(limit, store.get(&T, "k")).await;
        assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
    }
    // A server that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let store = MemcachedStore::new(
        MemcachedConfig::new(silent.local_addr().unwrap().to_string())
            .with_timeout(Duration::from_millis(500)),
    );
    let r = within(limit, store.get(&T, "k")).await;
    assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
}

/// Each server seen directly: the replicated store's envelopes, raw.
fn direct(servers: &[Memcached]) -> Vec<MemcachedStore> {
    servers
        .iter()
        .map(|s| MemcachedStore::new(MemcachedConfig::new(s.addr())))
        .collect()
}

/// The servers (indexes into `direct`) holding a copy of `key`.
async fn holders(direct: &[MemcachedStore], key: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, d) in direct.iter().enumerate() {
        if d.get(&T, key).await.unwrap().is_some() {
            out.push(i);
        }
    }
    out
}

fn replicated(servers: &[Memcached]) -> ReplicatedStore {
    let mut config = ReplicatedConfig::new(servers.iter().map(Memcached::addr))
        .with_timeout(Duration::from_millis(500));
    config.down_for = Duration::from_secs(2);
    ReplicatedStore::new(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicated_memcached_conforms() {
    let servers: Vec<Memcached> = (0..3).map(|_| Memcached::start()).collect();
    conforms(
        Arc::new(replicated(&servers)),
        Suite::default().lists(false).too_large(1 << 20),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicated_memcached_loses_no_acknowledged_write_when_a_server_dies() {
    let mut servers: Vec<Memcached> = (0..3).map(|_| Memcached::start()).collect();
    let store = Arc::new(replicated(&servers));
    let started = Arc::new(AtomicUsize::new(0));
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..4 {
        let store = store.clone();
        let started = started.clone();
        writers.spawn(async move {
            let mut acked = Vec::new();
            let mut failed = 0;
            for n in 0..300 {
                started.fetch_add(1, Ordering::SeqCst);
                let key = format!("w{w}-{n}");
                let value = Bytes::from(format!("value of {key}"));
                match store
                    .set(&T, &key, value, Condition::Absent, Ttl::Forever)
                    .await
                {
                    Ok(_) => acked.push(key),
                    Err(StoreError::Unavailable(_)) => failed += 1,
                    Err(e) => panic!("{key}: {e}"),
                }
            }
            (acked, failed)
        });
    }
    // Kill one server part-way through the load.
    while started.load(Ordering::SeqCst) < 400 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    servers[1].kill();
    let mut acked = Vec::new();
    let mut failed = 0;
    while let Some(r) = writers.join_next().await {
        let (a, f) = r.unwrap();
        acked.extend(a);
        failed += f;
    }
    assert!(
        acked.len() > 1000,
        "most writes succeed: {} acked, {failed} failed",
        acked.len()
    );
    let mut lost = Vec::new();
    for key in &acked {
        match store.get(&T, key).await {
            Ok(Some(r)) if r.value == format!("value of {key}") => {}
            other => lost.push((key.clone(), other)),
        }
    }
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    // And writes still work with two servers left.
    store
        .set(
            &T,
            "after",
            Bytes::from_static(b"x"),
            Condition::Absent,
            Ttl::Forever,
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicated_memcached_needs_two_copies_to_acknowledge() {
    let mut servers: Vec<Memcached> = (0..2).map(|_| Memcached::start()).collect();
    let store = replicated(&servers);
    store
        .set(
            &T,
            "k",
            Bytes::from_static(b"1"),
            Condition::Absent,
            Ttl::Forever,
        )
        .await
        .unwrap();
    servers[0].kill();
    // One server left: reads work, writes are refused (one copy is not enough).
    let r = store.get(&T, "k").await.unwrap().unwrap();
    assert_eq!(&r.value[..], b"1");
    let w = store
        .set(
            &T,
            "k",
            Bytes::from_static(b"2"),
            Condition::Matches(r.cas),
            Ttl::Forever,
        )
        .await;
    assert!(matches!(w, Err(StoreError::Unavailable(_))), "{w:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let server = Redis::ephemeral(dir.path());
    let store = RedisStore::connect(RedisConfig::single(server.url()))
        .await
        .unwrap();
    assert_eq!(
        store.durability(),
        Durability::Ephemeral,
        "no persistence configured"
    );
    // A TTL too long for Redis is capped, not a script error after the
    // write (which would leave the record without any expiry).
    store
        .set(
            &T,
            "endless",
            Bytes::from_static(b"v"),
            Condition::Any,
            Ttl::after(Duration::MAX),
        )
        .await
        .unwrap();
    let ttl = server.cli(&["pttl", "cw:backend-test:endless"]);
    assert!(ttl.trim().parse::<i64>().unwrap() > 1 << 52, "PTTL {ttl}");
    // A client that resends the set script after a lost reply (as the
    // cluster client does on I/O errors) must hear of the success, not a
    // conflict with the write it made itself.
    let cas = store
        .set(
            &T,
            "replayed",
            Bytes::from_static(b"v"),
            Condition::Absent,
            Ttl::Forever,
        )
        .await
        .unwrap();
    let replay = server.cli(&[
        "eval",
        clearwater_store::redis_store::SET_SCRIPT,
        "1",
        "cw:backend-test:replayed",
        "absent",
        "",
        "v",
        &cas.0.to_string(),
        "0",
    ]);
    assert_eq!(replay.trim(), "1", "the replay was refused");
    // A token not in canonical decimal form could never match the script's
    // string comparison again: corrupt, not a record stuck in conflicts.
    server.cli(&["hset", "cw:backend-test:padded", "v", "x", "c", "05"]);
    assert!(matches!(
        store.get(&T, "padded").await,
        Err(StoreError::Corrupt(_))
    ));
    conforms(Arc::new(store), Suite::default().too_large((16 << 20) + 1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_with_persistence_is_durable_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Redis::durable(dir.path());
    let store = RedisStore::connect(RedisConfig::single(server.url()))
        .await
        .unwrap();
    assert_eq!(store.durability(), Durability::Durable);
    let cas = store
        .set(
            &SUBSCRIBERS,
            "alice",
            Bytes::from_static(b"A"),
            Condition::Absent,
            Ttl::Forever,
        )
        .await
        .unwrap();
    server.restart();
    // The connection manager reconnects by itself.
    let mut got = None;
    for _ in 0..50 {
        match store.get(&SUBSCRIBERS, "alice").await {
            Ok(r) => {
                got = r;
                break;
            }
            Err(StoreError::Unavailable(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("{e}"),
        }
    }
    let r = got.expect("alice survives the restart");
    assert_eq!((&r.value[..], r.cas), (&b"A"[..], cas));
    assert_eq!(store.list(&SUBSCRIBERS).await.unwrap(), ["alice"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = RedisCluster::start(dir.path());
    let store = RedisStore::connect(RedisConfig::cluster(cluster.urls()))
        .await
        .unwrap();
    conforms(Arc::new(store), Suite::default().too_large((16 << 20) + 1)).await;
    // Keys really are spread over the three masters.
    let mut spread = Vec::new();
    for n in &cluster.nodes {
        let count: usize = n.cli(&["dbsize"]).trim().parse().unwrap_or(0);
        spread.push(count);
    }
    assert!(
        spread.iter().filter(|&&c| c > 0).count() >= 2,
        "keys per node: {spread:?}"
    );
}

/// memcached's `flush_all` on one server, as if it had restarted empty.
async fn flush(server: &Memcached) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    s.write_all(b"flush_all\r\n").await.unwrap();
    let mut ok = [0u8; 4];
    s.read_exact(&mut ok).await.unwrap();
    assert_eq!(&ok, b"OK\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicated_read_repair_restores_a_copy_with_its_remaining_ttl() {
    let servers: Vec<Memcached> = (0..3).map(|_| Memcached::start()).collect();
    let store = replicated(&servers);
    let direct = direct(&servers);
    store
        .set(
            &T,
            "reg",
            Bytes::from_static(b"binding"),
            Condition::Absent,
            Ttl::secs(2),
        )
        .await
        .unwrap();
    let holders = holders(&direct, "reg").await;
    assert_eq!(holders.len(), 2, "two replicas: {holders:?}");
    flush(&servers[holders[0]]).await;
    assert!(direct[holders[0]].get(&T, "reg").await.unwrap().is_none());
    // A read finds the other copy and repairs the flushed one...
    let r = store.get(&T, "reg").await.unwrap().unwrap();
    assert_eq!(&r.value[..], b"binding");
    assert!(
        direct[holders[0]].get(&T, "reg").await.unwrap().is_some(),
        "repaired"
    );
    // ...with the record's deadline, not a fresh or endless one.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert_eq!(store.get(&T, "reg").await.unwrap(), None);
    for d in &direct {
        assert!(
            d.get(&T, "reg").await.unwrap().is_none(),
            "expired everywhere"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicated_store_passes_over_a_copy_that_is_no_envelope() {
    // A plain value written over one replica's copy (another client, or
    // damage) must not make the key unusable: reads use the good copy,
    // writes overwrite the bad one.
    let servers: Vec<Memcached> = (0..3).map(|_| Memcached::start()).collect();
    let store = replicated(&servers);
    let direct = direct(&servers);
    store
        .set(
            &T,
            "k",
            Bytes::from_static(b"good"),
            Condition::Absent,
            Ttl::Forever,
        )
        .await
        .unwrap();
    let holders = holders(&direct, "k").await;
    assert_eq!(holders.len(), 2);
    direct[holders[0]]
        .set(
            &T,
            "k",
            Bytes::from_static(b"plain"),
            Condition::Any,
            Ttl::Forever,
        )
        .await
        .unwrap();
    let r = store.get(&T, "k").await.unwrap().unwrap();
    assert_eq!(&r.value[..], b"good");
    store
        .set(
            &T,
            "k",
            Bytes::from_static(b"newer"),
            Condition::Any,
            Ttl::Forever,
        )
        .await
        .unwrap();
    assert_eq!(
        &store.get(&T, "k").await.unwrap().unwrap().value[..],
        b"newer"
    );
    // Both copies garbage: the key reads as absent and can be written.
    for &h in &holders {
        direct[h]
            .set(
                &T,
                "k",
                Bytes::from_static(b"junk"),
                Condition::Any,
                Ttl::Forever,
            )
            .await
            .unwrap();
    }
    assert_eq!(store.get(&T, "k").await.unwrap(), None);
    store
        .set(
            &T,
            "k",
            Bytes::from_static(b"again"),
            Condition::Absent,
            Ttl::Forever,
        )
        .await
        .unwrap();
    assert_eq!(
        &store.get(&T, "k").await.unwrap().unwrap().value[..],
        b"again"
    );
}
