//! Pop lateness under load: how long after its due time each pop reaches
//! its receiver, as p50 / p99 / p99.9 / max.
//!
//! 1. `LocalTimers`: 20 000 sets/s for 5 s, intervals 0.1–3 s, pops to an
//!    in-process sink (the wheel and the tokio driver).
//! 2. `ChronosNode` on one core over loopback HTTP: 5 000 sets/s for 10 s
//!    from 16 keep-alive connections, intervals 0.2–2 s, each pop `POST`ed
//!    to an HTTP receiver on another thread. Lateness is measured from the
//!    client's clock before it sent the set, so it includes the set's own
//!    latency (it overstates the service's lateness).
//!
//! `cargo bench -p clearwater-timers --bench lateness`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use clearwater_timers::{
    ChronosNode, LocalTimers, NodeConfig, Pop, PopSink, TimerError, TimerService, TimerSpec,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod support;
use support::one_core_server;

fn report(name: &str, mut late_us: Vec<u64>, expected: usize) {
    late_us.sort_unstable();
    let q = |p: f64| late_us[((late_us.len() as f64 - 1.0) * p) as usize] as f64 / 1000.0;
    println!(
        "{name}: {} of {expected} pops; lateness ms p50 {:.2} p99 {:.2} p99.9 {:.2} max {:.2}",
        late_us.len(),
        q(0.5),
        q(0.99),
        q(0.999),
        q(1.0)
    );
    assert_eq!(late_us.len(), expected, "{name}: pops lost");
}

fn rand_from(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// Records lateness against the due instant carried in the opaque data (µs
/// since `base`).
struct Lateness {
    base: Instant,
    late: Arc<Mutex<Vec<u64>>>,
}

#[async_trait]
impl PopSink for Lateness {
    async fn pop(&self, pop: Pop) -> Result<(), TimerError> {
        let now = self.base.elapsed().as_micros() as u64;
        let due: u64 = pop.opaque.parse().unwrap();
        assert!(now >= due, "popped {} µs early", due - now);
        self.late.lock().unwrap().push(now - due);
        Ok(())
    }
}

fn local() {
    const RATE: u64 = 20_000;
    const SECS: u64 = 5;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let late = Arc::new(Mutex::new(Vec::new()));
    rt.block_on(async {
        let base = Instant::now();
        let (timers, driver) = LocalTimers::new(Lateness {
            base,
            late: late.clone(),
        });
        let driver = tokio::spawn(driver);
        let mut rand = rand_from(0x1234_5678_9abc_def1);
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        for _ in 0..SECS * 1000 {
            tick.tick().await;
            for _ in 0..RATE / 1000 {
                let interval = Duration::from_millis(100 + rand() % 2900);
                let due = (base.elapsed() + interval).as_micros() as u64;
                timers
                    .set(TimerSpec::once(interval, "cb", due.to_string()))
                    .await
                    .unwrap();
            }
        }
        tokio::time::sleep(Duration::from_millis(3100)).await;
        drop(timers);
        driver.await.unwrap();
    });
    let late = std::mem::take(&mut *late.lock().unwrap());
    report(
        "local_timers (20k sets/s, 1 core)",
        late,
        (RATE * SECS) as usize,
    );
}

fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// A raw HTTP/1.1 receiver of pops: records `now - due` (due in the body).
async fn receiver(l: TcpListener, late: Arc<Mutex<Vec<u64>>>) {
    loop {
        let (mut s, _) = l.accept().await.unwrap();
        let late = late.clone();
        tokio::spawn(async move {
            let mut buf = Vec::with_capacity(4096);
            let mut chunk = [0u8; 4096];
            loop {
                // Parse as many complete requests as are buffered.
                while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map(|v| v.trim().parse().unwrap())
                        .unwrap_or(0);
                    if buf.len() < end + 4 + len {
                        break;
                    }
                    let body = std::str::from_utf8(&buf[end + 4..end + 4 + len]).unwrap();
                    let due: u64 = body.parse().unwrap();
                    let now = wall_us();
                    assert!(head.contains("x-sequence-number: 1"));
                    late.lock().unwrap().push(now.saturating_sub(due));
                    buf.drain(..end + 4 + len);
                    if s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        });
    }
}

fn chronos() {
    const RATE: u64 = 5_000;
    const SECS: u64 = 10;
    const CONNS: u64 = 16;
    let late = Arc::new(Mutex::new(Vec::new()));
    let l2 = late.clone();
    let pop_addr = one_core_server(move |l| receiver(l, l2));
    let node_addr = one_core_server(|l| async move {
        let me = l.local_addr().unwrap().to_string();
        ChronosNode::new(l, NodeConfig::new(me.clone(), [me]))
            .run()
            .await
            .unwrap();
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut tasks = tokio::task::JoinSet::new();
        for c in 0..CONNS {
            tasks.spawn(async move {
                let mut rand = rand_from(0x9e37_79b9_7f4a_7c15 ^ (c + 1));
                let mut s = TcpStream::connect(node_addr).await.unwrap();
                s.set_nodelay(true).unwrap();
                let mut buf = vec![0u8; 4096];
                let period = Duration::from_micros(1_000_000 * CONNS / RATE);
                let mut tick = tokio::time::interval(period);
                for _ in 0..RATE * SECS / CONNS {
                    tick.tick().await;
                    let interval_ms = 200 + rand() % 1800;
                    let due = wall_us() + interval_ms * 1000;
                    let body = format!(
                        r#"{{"timing":{{"interval-ms":{interval_ms}}},"callback":{{"http":{{"uri":"http://{pop_addr}/pop","opaque":"{due}"}}}},"reliability":{{"replication-factor":1}}}}"#
                    );
                    let req = format!(
                        "POST /timers HTTP/1.1\r\nHost: bench\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    s.write_all(req.as_bytes()).await.unwrap();
                    let mut have = 0;
                    while !buf[..have].windows(4).any(|w| w == b"\r\n\r\n") {
                        let n = s.read(&mut buf[have..]).await.unwrap();
                        assert!(n > 0);
                        have += n;
                    }
                    assert!(buf.starts_with(b"HTTP/1.1 200"));
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(2500)).await;
    });
    let late = std::mem::take(&mut *late.lock().unwrap());
    report(
        "chronos_node over HTTP (5k sets/s + 5k pops/s, 1 server core)",
        late,
        (RATE * SECS) as usize,
    );
}

fn main() {
    // `cargo test --benches` runs bench targets with `--bench`-less args;
    // only run the measurement under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    local();
    chronos();
}
