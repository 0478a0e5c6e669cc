//! In-process throughput of the proxy core (no sockets): each iteration is one
//! complete transaction through `Proxy` — the UAC's request parsed and handed
//! in, a routing decision, the forwarded request out, the UAS's 200 (built
//! from the forwarded bytes, as a UAS would) parsed and handed in, the 200
//! out — with a virtual clock that advances 1 ms per transaction so timers
//! J/K/L/M keep expiring and the tables stay at steady state.
//!
//! `cargo bench -p clearwater-sip --bench proxy`
#![allow(missing_docs, clippy::unwrap_used, clippy::panic)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clearwater_sip::proxy::{LocalAddr, Proxy, ProxyConfig, ProxyOutput, Target};
use clearwater_sip::transport::{Remote, Transport};
use clearwater_sip::{Message, StatusCode};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn uac() -> Remote {
    Remote::new(Transport::Udp, "192.0.2.1:5060".parse().unwrap())
}
fn uas() -> Remote {
    Remote::new(Transport::Udp, "192.0.2.3:5060".parse().unwrap())
}

fn request(method: &str, n: u64) -> Bytes {
    Bytes::from(format!(
        "{method} sip:bob@example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbench{n}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=a{n}\r\n\
         To: <sip:bob@example.com>\r\n\
         Call-ID: bench{n}@192.0.2.1\r\n\
         CSeq: 1 {method}\r\n\
         Contact: <sip:alice@192.0.2.1:5060>\r\n\
         Content-Length: 0\r\n\r\n"
    ))
}

/// One transaction through the proxy; returns the bytes sent upstream.
fn transaction(p: &mut Proxy, method: &str, n: u64, now: Instant) -> usize {
    let Message::Request(req) = Message::parse(request(method, n)).unwrap() else {
        unreachable!()
    };
    p.handle_message(Message::Request(req), uac(), now);
    let mut upstream = 0;
    let mut forwarded = None;
    while let Some(o) = p.poll_output() {
        match o {
            ProxyOutput::Route { ctx, .. } => {
                p.forward(ctx, vec![Target::new(uas())], now).unwrap()
            }
            ProxyOutput::Transmit { to, data, .. } if to == uas() => forwarded = Some(data),
            ProxyOutput::Transmit { data, .. } => upstream += data.len(),
            _ => {}
        }
    }
    // the UAS answers 200
    let Message::Request(fwd) = Message::parse(forwarded.unwrap()).unwrap() else {
        unreachable!()
    };
    let resp = fwd.make_response(StatusCode::OK, None, Some("u")).unwrap();
    p.handle_message(Message::parse(resp.to_bytes()).unwrap(), uas(), now);
    while let Some(o) = p.poll_output() {
        if let ProxyOutput::Transmit { data, .. } = o {
            upstream += data.len();
        }
    }
    p.handle_timeout(now);
    upstream
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("proxy_core");
    g.throughput(Throughput::Elements(1));
    for method in ["MESSAGE", "INVITE"] {
        let mut p = Proxy::new(ProxyConfig::new(vec![LocalAddr::new(
            Transport::Udp,
            "192.0.2.2",
            5060,
        )]));
        let start = Instant::now();
        let mut n = 0u64;
        g.bench_function(format!("{method}_transaction"), |b| {
            b.iter(|| {
                n += 1;
                let now = start + Duration::from_millis(n);
                black_box(transaction(&mut p, method, n, now))
            })
        });
        // steady state: what is alive is bounded by the timers, not leaked
        assert!(p.context_count() < 70_000, "{}", p.context_count());
    }
    g.finish();
}

criterion_group!(proxy, benches);
criterion_main!(proxy);
