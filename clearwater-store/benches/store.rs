//! Store operations per second, per backend, on loopback servers started by
//! the benchmark (memcached, redis-server), with the plain `redis` crate
//! doing GET/SET on the same Redis server as the same-run peer.
//!
//! * `get`: read one existing record;
//! * `cas_set`: read it, then write it back under the token read (the
//!   registrar's update cycle: two round trips);
//! * `get_x16`: 16 reads in flight at once (throughput rather than latency).
//!
//! `cargo bench -p clearwater-store --bench store`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;

use bytes::Bytes;
use clearwater_store::{
    Condition, DurableStore, MemcachedConfig, MemcachedStore, MemoryConfig, MemoryStore,
    RedisConfig, RedisStore, ReplicatedConfig, ReplicatedStore, Store, Table, Ttl,
};
use criterion::{
    BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main, measurement::WallTime,
};
use tokio::runtime::Runtime;

const T: Table = Table::ephemeral("bench");

fn value() -> Bytes {
    // About the size of a registration record with two bindings.
    Bytes::from(vec![b'x'; 600])
}

fn store_ops(
    g: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    name: &str,
    store: Arc<dyn Store>,
) {
    rt.block_on(store.set(&T, "k", value(), Condition::Any, Ttl::Forever))
        .unwrap();
    g.throughput(Throughput::Elements(1));
    g.bench_function(format!("{name}/get"), |b| {
        b.to_async(rt)
            .iter(|| async { store.get(&T, "k").await.unwrap().unwrap() });
    });
    g.bench_function(format!("{name}/cas_set"), |b| {
        b.to_async(rt).iter(|| async {
            let r = store.get(&T, "k").await.unwrap().unwrap();
            store
                .set(&T, "k", r.value, Condition::Matches(r.cas), Ttl::Forever)
                .await
                .unwrap()
        });
    });
    g.throughput(Throughput::Elements(16));
    g.bench_function(format!("{name}/get_x16"), |b| {
        b.to_async(rt).iter(|| async {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..16 {
                let s = store.clone();
                set.spawn(async move { s.get(&T, "k").await.unwrap().unwrap() });
            }
            while let Some(r) = set.join_next().await {
                r.unwrap();
            }
        });
    });
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("store");

    store_ops(
        &mut g,
        &rt,
        "memory",
        Arc::new(MemoryStore::new(MemoryConfig::default())),
    );

    let dir = tempfile::tempdir().unwrap();
    let durable = DurableStore::open(dir.path().join("bench.redb")).unwrap();
    store_ops(&mut g, &rt, "redb", Arc::new(durable));

    let mc = support::Memcached::start();
    store_ops(
        &mut g,
        &rt,
        "memcached",
        Arc::new(MemcachedStore::new(MemcachedConfig::new(mc.addr()))),
    );

    let mcs: Vec<support::Memcached> = (0..3).map(|_| support::Memcached::start()).collect();
    let replicated = ReplicatedStore::new(ReplicatedConfig::new(
        mcs.iter().map(support::Memcached::addr),
    ))
    .unwrap();
    store_ops(&mut g, &rt, "replicated_memcached_x3", Arc::new(replicated));

    let rdir = tempfile::tempdir().unwrap();
    let redis_server = support::Redis::ephemeral(rdir.path());
    let redis = rt
        .block_on(RedisStore::connect(RedisConfig::single(redis_server.url())))
        .unwrap();
    store_ops(&mut g, &rt, "redis", Arc::new(redis));

    // The peer: the plain redis crate, GET and SET of a string, same server.
    let client = redis::Client::open(redis_server.url()).unwrap();
    let conn = rt.block_on(client.get_connection_manager()).unwrap();
    let v = value();
    rt.block_on(async {
        let mut c = conn.clone();
        redis::cmd("SET")
            .arg("plain")
            .arg(v.as_ref())
            .query_async::<()>(&mut c)
            .await
    })
    .unwrap();
    g.throughput(Throughput::Elements(1));
    g.bench_function("redis_crate_plain/get", |b| {
        b.to_async(&rt).iter(|| async {
            let mut c = conn.clone();
            redis::cmd("GET")
                .arg("plain")
                .query_async::<Vec<u8>>(&mut c)
                .await
                .unwrap()
        });
    });
    g.bench_function("redis_crate_plain/get_then_set", |b| {
        b.to_async(&rt).iter(|| async {
            let mut c = conn.clone();
            let got: Vec<u8> = redis::cmd("GET")
                .arg("plain")
                .query_async(&mut c)
                .await
                .unwrap();
            redis::cmd("SET")
                .arg("plain")
                .arg(got)
                .query_async::<()>(&mut c)
                .await
                .unwrap()
        });
    });
    g.finish();
}

criterion_group!(store, benches);
criterion_main!(store);
