//! Peer SIP parsers on the realistic IMS corpus.
//!
//! Groups (one bench function per peer; one iteration = every message of the corpus the peer
//! accepts, once):
//!
//! * `parse_and_read` — parse + read the `Summary` fields through typed accessors (`work`);
//! * `serialize` — parse + print back (`serialize`);
//! * `proxy_edit` — parse + push a Via + drop the first Route value + print (`proxy_edit`);
//! * `parse_only` — parse only, no field access (extra group, for peers that provide it);
//! * `serialize_preparsed` — print only, from messages parsed before the timing starts.
//!
//! Throughput is set to the bytes one iteration processes, i.e. the total corpus size when the
//! peer accepts every message; criterion then prints MB/s (MiB/s). Messages a peer rejects are
//! skipped for that peer and listed on stderr before the group runs, together with the message
//! count per iteration (msgs/s = that count / the time per iteration).
//!
//! Run quickly: `cargo bench -p clearwater-sip-bench -- --warm-up-time 1 --measurement-time 3`.

// `criterion_group!` generates an undocumented `pub fn benches`; a benchmark without its
// corpus has nothing to measure and aborts.
#![allow(missing_docs, clippy::panic)]

use clearwater_sip_bench::{CorpusMessage, PEERS, Peer, WorkFn, load_corpus};
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use criterion::{black_box, measurement::WallTime};

fn corpus() -> Vec<CorpusMessage> {
    match load_corpus() {
        Ok(c) if !c.is_empty() => c,
        Ok(_) => panic!("corpus is empty"),
        Err(e) => panic!("cannot read the corpus: {e}"),
    }
}

/// The messages `f` accepts, after reporting the ones it rejects.
fn accepted<'c>(
    group: &str,
    peer: &str,
    corpus: &'c [CorpusMessage],
    ok: impl Fn(&[u8]) -> bool,
) -> Vec<&'c [u8]> {
    let mut keep = Vec::new();
    let mut skipped = Vec::new();
    for m in corpus {
        if ok(&m.bytes) {
            keep.push(m.bytes.as_slice());
        } else {
            skipped.push(m.name.as_str());
        }
    }
    let bytes: usize = keep.iter().map(|m| m.len()).sum();
    eprintln!(
        "{group}/{peer}: {} of {} messages, {bytes} bytes per iteration",
        keep.len(),
        corpus.len()
    );
    if !skipped.is_empty() {
        eprintln!("{group}/{peer}: SKIPPED (peer rejects them): {skipped:?}");
    }
    keep
}

fn bench_peer_fn(
    group: &mut BenchmarkGroup<'_, WallTime>,
    group_name: &str,
    corpus: &[CorpusMessage],
    peer: &Peer,
    f: WorkFn,
) {
    let msgs = accepted(group_name, peer.name, corpus, |m| f(m).is_ok());
    if msgs.is_empty() {
        eprintln!(
            "{group_name}/{}: no message accepted, not benchmarked",
            peer.name
        );
        return;
    }
    let bytes: usize = msgs.iter().map(|m| m.len()).sum();
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function(peer.name, |b| {
        b.iter(|| {
            let mut acc = 0usize;
            for m in &msgs {
                acc = acc.wrapping_add(f(black_box(m)).unwrap_or(0));
            }
            black_box(acc)
        });
    });
}

fn run_group(c: &mut Criterion, name: &str, pick: fn(&Peer) -> Option<WorkFn>) {
    let corpus = corpus();
    let mut group = c.benchmark_group(name);
    for peer in PEERS {
        match pick(peer) {
            Some(f) => bench_peer_fn(&mut group, name, &corpus, peer, f),
            None => eprintln!("{name}/{}: not provided by this peer", peer.name),
        }
    }
    group.finish();
}

fn parse_and_read(c: &mut Criterion) {
    run_group(c, "parse_and_read", |p| Some(p.work));
}

fn serialize(c: &mut Criterion) {
    run_group(c, "serialize", |p| Some(p.serialize));
}

fn proxy_edit(c: &mut Criterion) {
    run_group(c, "proxy_edit", |p| Some(p.proxy_edit));
}

fn parse_only(c: &mut Criterion) {
    run_group(c, "parse_only", |p| p.parse_only);
}

/// Print only: every accepted message is parsed once, outside the timing.
fn serialize_preparsed(c: &mut Criterion) {
    use clearwater_sip_bench::{clearwater_peer, ezk_peer, rsip_peer, rvoip_peer};

    let corpus = corpus();
    let name = "serialize_preparsed";
    let mut group = c.benchmark_group(name);

    /// Parse what the peer accepts, set the throughput, time `print` over the parsed list.
    fn one<M>(
        group: &mut BenchmarkGroup<'_, WallTime>,
        name: &str,
        peer: &str,
        corpus: &[CorpusMessage],
        parse: fn(&[u8]) -> Result<M, String>,
        print: fn(&M) -> Vec<u8>,
    ) {
        let msgs = accepted(name, peer, corpus, |m| parse(m).is_ok());
        let parsed: Vec<M> = msgs.iter().filter_map(|m| parse(m).ok()).collect();
        if parsed.is_empty() {
            eprintln!("{name}/{peer}: no message accepted, not benchmarked");
            return;
        }
        let bytes: usize = msgs.iter().map(|m| m.len()).sum();
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(peer, |b| {
            b.iter(|| {
                let mut acc = 0usize;
                for m in &parsed {
                    acc = acc.wrapping_add(print(black_box(m)).len());
                }
                black_box(acc)
            });
        });
    }

    one(
        &mut group,
        name,
        "clearwater",
        &corpus,
        clearwater_peer::parse,
        clearwater_peer::serialize_parsed,
    );
    one(
        &mut group,
        name,
        "rsip",
        &corpus,
        rsip_peer::parse,
        rsip_peer::serialize_parsed,
    );
    one(
        &mut group,
        name,
        "ezk",
        &corpus,
        ezk_peer::parse,
        ezk_peer::serialize_parsed,
    );
    one(
        &mut group,
        name,
        "rvoip",
        &corpus,
        rvoip_peer::parse,
        rvoip_peer::serialize_parsed,
    );
    group.finish();
}

criterion_group!(
    benches,
    parse_and_read,
    serialize,
    proxy_edit,
    parse_only,
    serialize_preparsed
);
criterion_main!(benches);
