//! Timer throughput: the wheel against a binary-heap timer queue (the usual
//! alternative), LocalTimers set+pop end to end, and Chronos HTTP sets/s on
//! one server core against a bare hyper server doing no work (the HTTP
//! stack's ceiling on the same machine).
//!
//! `cargo bench -p clearwater-timers --bench timers`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use clearwater_timers::wheel::Wheel;
use clearwater_timers::{
    ChronosNode, LocalTimers, NodeConfig, Pop, PopSink, TimerError, TimerService, TimerSpec,
};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod support;
use support::one_core_server;

const N: u64 = 100_000;
/// Deadlines spread over a minute, as registrations and charging interims are.
const SPREAD_MS: u64 = 60_000;

fn deadlines() -> Vec<u64> {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    (0..N)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % SPREAD_MS
        })
        .collect()
}

/// Insert N, cancel every `cancel_every`-th (0: none), pop the rest in
/// deadline order, driving time as a driver does (to the next deadline).
fn wheel_run(ds: &[u64], cancel_every: usize) -> u64 {
    let mut w = Wheel::new(0);
    let keys: Vec<_> = ds
        .iter()
        .enumerate()
        .map(|(i, &d)| w.insert(d, i))
        .collect();
    if cancel_every > 0 {
        for k in keys.iter().step_by(cancel_every) {
            w.cancel(*k);
        }
    }
    let mut sum = 0u64;
    while let Some(t) = w.next_deadline() {
        while let Some((_, i)) = w.poll(t) {
            sum = sum.wrapping_add(i as u64);
        }
    }
    sum
}

/// The same work on a binary heap with lazy cancellation (a flag per timer).
fn heap_run(ds: &[u64], cancel_every: usize) -> u64 {
    let mut h = BinaryHeap::with_capacity(ds.len());
    let mut cancelled = vec![false; ds.len()];
    for (i, &d) in ds.iter().enumerate() {
        h.push(Reverse((d, i)));
    }
    if cancel_every > 0 {
        for i in (0..ds.len()).step_by(cancel_every) {
            cancelled[i] = true;
        }
    }
    let mut sum = 0u64;
    while let Some(Reverse((_, i))) = h.pop() {
        if !cancelled[i] {
            sum = sum.wrapping_add(i as u64);
        }
    }
    sum
}

fn wheel(c: &mut Criterion) {
    let ds = deadlines();
    let mut g = c.benchmark_group("wheel");
    g.throughput(Throughput::Elements(N));
    for (name, cancel) in [("set_pop", 0), ("set_cancel_half_pop", 2)] {
        g.bench_function(format!("clearwater_wheel/{name}"), |b| {
            b.iter(|| wheel_run(&ds, cancel))
        });
        g.bench_function(format!("std_binary_heap/{name}"), |b| {
            b.iter(|| heap_run(&ds, cancel))
        });
    }
    g.finish();
}

/// Counts pops.
struct Count(Arc<AtomicU64>);

#[async_trait]
impl PopSink for Count {
    async fn pop(&self, _: Pop) -> Result<(), TimerError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// LocalTimers end to end: set N timers due at once (interval 0), wait for
/// every pop through the driver and the sink.
fn local(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("local_timers");
    g.throughput(Throughput::Elements(10_000));
    g.sample_size(20);
    g.bench_function("set_and_pop_10k", |b| {
        b.iter_batched(
            || {
                let n = Arc::new(AtomicU64::new(0));
                let (timers, driver) = rt.block_on(async { LocalTimers::new(Count(n.clone())) });
                (n, timers, rt.spawn(driver))
            },
            |(n, timers, driver)| {
                rt.block_on(async {
                    for _ in 0..10_000 {
                        timers
                            .set(TimerSpec::once(Duration::ZERO, "cb", ""))
                            .await
                            .unwrap();
                    }
                    while n.load(Ordering::Relaxed) < 10_000 {
                        tokio::task::yield_now().await;
                    }
                });
                drop(timers);
                rt.block_on(driver).unwrap();
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

/// A bare hyper server answering every request 200 with a Location, doing
/// no work: the ceiling of the HTTP stack.
async fn bare_hyper(l: TcpListener) {
    use hyper::service::service_fn;
    loop {
        let (s, _) = l.accept().await.unwrap();
        s.set_nodelay(true).unwrap();
        tokio::task::spawn_local(async move {
            let svc = service_fn(|req: http::Request<hyper::body::Incoming>| async move {
                use http_body_util::BodyExt;
                let _ = req.into_body().collect().await;
                Ok::<_, std::convert::Infallible>(
                    http::Response::builder()
                        .header("location", "/timers/0123456789abcdef0123456789abcdef")
                        .body(http_body_util::Full::new(bytes::Bytes::new()))
                        .unwrap(),
                )
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                .await;
        });
    }
}

const BODY: &str = r#"{"timing":{"interval":3600},"callback":{"http":{"uri":"http://127.0.0.1:9/pop","opaque":"registration:sip:alice@example.com"}},"reliability":{"replication-factor":1}}"#;

/// Sends `total` `POST /timers` over `conns` keep-alive connections (raw
/// HTTP/1.1, one request in flight per connection) and checks each answer
/// is a 200.
async fn load(addr: SocketAddr, total: u64, conns: u64) {
    let req = format!(
        "POST /timers HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let req = Arc::new(req.into_bytes());
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..conns {
        let req = req.clone();
        let n = total / conns + u64::from(c < total % conns);
        tasks.spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut buf = vec![0u8; 4096];
            for _ in 0..n {
                s.write_all(&req).await.unwrap();
                let mut have = 0;
                loop {
                    let r = s.read(&mut buf[have..]).await.unwrap();
                    assert!(r > 0, "server closed the connection");
                    have += r;
                    // The answers have no body (content-length: 0).
                    if buf[..have].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                assert!(
                    buf.starts_with(b"HTTP/1.1 200"),
                    "{}",
                    String::from_utf8_lossy(&buf[..have])
                );
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
}

fn http_sets(c: &mut Criterion) {
    let chronos = one_core_server(|l| async move {
        let me = l.local_addr().unwrap().to_string();
        let node = ChronosNode::new(l, NodeConfig::new(me.clone(), [me]))
            .with_pop_sink(Count(Arc::new(AtomicU64::new(0))));
        node.run().await.unwrap();
    });
    let bare = one_core_server(|l| async move {
        tokio::task::LocalSet::new().run_until(bare_hyper(l)).await;
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("http_sets_one_core");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    const PER_ITER: u64 = 4_000;
    g.throughput(Throughput::Elements(PER_ITER));
    for (name, addr) in [("chronos_node", chronos), ("bare_hyper_no_work", bare)] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                rt.block_on(load(addr, PER_ITER * iters, 32));
                start.elapsed()
            });
        });
    }
    g.finish();
}

criterion_group!(benches, wheel, local, http_sets);
criterion_main!(benches);
