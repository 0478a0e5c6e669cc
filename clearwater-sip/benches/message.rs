//! Message-layer benchmarks on the realistic IMS corpus (`tests/corpus/realistic`).
//!
//! `cargo bench -p clearwater-sip` — the peer comparison (rsip, ezk, rvoip) lives
//! in the `clearwater-sip-bench` package so `cargo test` never builds the peers.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use bytes::Bytes;
use clearwater_sip::header::{NameAddr, Via};
use clearwater_sip::{Framer, Message, TriageConfig, Uri, triage};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn corpus() -> Vec<Bytes> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/realistic");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sip"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| Bytes::from(std::fs::read(p).unwrap()))
        .collect()
}

/// Parse, then read what a proxy reads: method/Request-URI or status, top Via
/// branch, From tag, To URI and tag, Call-ID, CSeq, Contact URIs.
fn parse_and_read(raw: &Bytes) -> usize {
    let msg = Message::parse(raw.clone()).unwrap();
    let mut n = 0;
    match &msg {
        Message::Request(r) => {
            n += r.method().as_str().len();
            n += r.uri().as_str().len();
        }
        Message::Response(r) => n += usize::from(r.status().as_u16()),
    }
    n += msg.via().unwrap().branch().map_or(0, str::len);
    n += msg.from().unwrap().tag().map_or(0, str::len);
    let to = msg.to().unwrap();
    n += to.uri().as_str().len() + to.tag().map_or(0, str::len);
    n += msg.call_id().unwrap().as_str().len();
    let cseq = msg.cseq().unwrap();
    n += cseq.seq as usize + cseq.method.as_str().len();
    for c in msg.contacts() {
        if let Some(a) = c.unwrap().addr() {
            n += a.uri().as_str().len();
        }
    }
    n
}

fn benches(c: &mut Criterion) {
    let corpus = corpus();
    let total: u64 = corpus.iter().map(|m| m.len() as u64).sum();

    let mut g = c.benchmark_group("clearwater_sip");
    g.throughput(Throughput::Bytes(total));
    g.bench_function("parse_and_read", |b| {
        b.iter(|| {
            corpus
                .iter()
                .map(|m| parse_and_read(black_box(m)))
                .sum::<usize>()
        })
    });
    g.bench_function("parse_only", |b| {
        b.iter(|| {
            corpus
                .iter()
                .map(|m| {
                    Message::parse(black_box(m.clone()))
                        .unwrap()
                        .headers()
                        .len()
                })
                .sum::<usize>()
        })
    });
    let parsed: Vec<Message> = corpus
        .iter()
        .map(|m| Message::parse(m.clone()).unwrap())
        .collect();
    g.bench_function("serialize_copy", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            let mut n = 0;
            for m in &parsed {
                out.clear();
                m.write_to(&mut out);
                n += out.len();
            }
            n
        })
    });
    let via = Via::new("UDP", "192.0.2.1", Some(5060), "z9hG4bK-bench-1").unwrap();
    g.bench_function("proxy_edit_serialize", |b| {
        b.iter(|| {
            let mut n = 0;
            for m in &parsed {
                let mut m = m.clone();
                m.push_via(black_box(&via)).unwrap();
                let _ = m.pop_route().unwrap();
                n += m.to_bytes().len();
            }
            n
        })
    });
    let rr = NameAddr::new(
        &Uri::parse("sip:scscf1.ims.example.net:6060;lr").unwrap(),
        None,
    );
    g.bench_function("parse_edit_serialize", |b| {
        b.iter(|| {
            let mut n = 0;
            for raw in &corpus {
                let mut m = Message::parse(raw.clone()).unwrap();
                m.push_via(&via).unwrap();
                let _ = m.pop_route().unwrap();
                m.push_record_route(&rr).unwrap();
                n += m.to_bytes().len();
            }
            n
        })
    });
    let config = TriageConfig::default();
    g.bench_function("triage", |b| {
        b.iter(|| {
            corpus
                .iter()
                .filter(|m| {
                    matches!(
                        triage(black_box((*m).clone()), &config),
                        clearwater_sip::Triage::Accept(_)
                    )
                })
                .count()
        })
    });
    let stream: Vec<u8> = corpus.iter().flat_map(|m| m.iter().copied()).collect();
    let framer = Framer::default();
    g.bench_function("frame_stream", |b| {
        b.iter(|| {
            let mut at = 0;
            while at < stream.len() {
                at += framer.frame(black_box(&stream[at..])).unwrap().len();
            }
            at
        })
    });
    g.finish();
}

criterion_group!(message, benches);
criterion_main!(message);
