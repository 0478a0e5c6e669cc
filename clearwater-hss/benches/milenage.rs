//! Milenage benchmarks: AKA vector generation (f1..f5 for one RAND), with
//! and without the per-subscriber AES key schedule, OPc derivation and
//! AUTS re-synchronisation.
//!
//! `cargo bench -p clearwater-hss --bench milenage`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;

use clearwater_hss::milenage::{IndPolicy, Milenage, Sqn, SqnState, derive_opc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

// TS 35.208 test set 1.
const K: [u8; 16] = [
    0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f, 0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6, 0xbc,
];
const OP: [u8; 16] = [
    0xcd, 0xc2, 0x02, 0xd5, 0x12, 0x3e, 0x20, 0xf6, 0x2b, 0x6d, 0x67, 0x6a, 0xc7, 0x2c, 0xb3, 0x18,
];
const OPC: [u8; 16] = [
    0xcd, 0x63, 0xcb, 0x71, 0x95, 0x4a, 0x9f, 0x4e, 0x48, 0xa5, 0x99, 0x4e, 0x37, 0xa0, 0x2b, 0xaf,
];
const RAND: [u8; 16] = [
    0x23, 0x55, 0x3c, 0xbe, 0x96, 0x37, 0xa8, 0x9d, 0x21, 0x8a, 0xe6, 0x4d, 0xae, 0x47, 0xbf, 0x35,
];
const AMF: [u8; 2] = [0x80, 0x00];

fn vectors(c: &mut Criterion) {
    let mut group = c.benchmark_group("milenage");
    group.throughput(Throughput::Elements(1));

    // The cipher already expanded for K: f1..f5 for one RAND (5 AES blocks).
    let m = Milenage::with_opc(&K, &OPC);
    let mut state = SqnState::new();
    group.bench_function("aka_vector", |b| {
        b.iter(|| {
            m.generate_vector(
                black_box(&mut state),
                IndPolicy::Cyclic,
                black_box(&RAND),
                &AMF,
            )
            .unwrap()
        })
    });

    // What a stateless HSS front end does per request: K and OPc from the
    // store, key schedule, then the vector.
    let sqn = Sqn::from_seq_ind(1000, 7).unwrap();
    group.bench_function("aka_vector_with_key_setup", |b| {
        b.iter(|| Milenage::with_opc(black_box(&K), black_box(&OPC)).aka_vector(&RAND, sqn, &AMF))
    });

    group.bench_function("derive_opc", |b| {
        b.iter(|| derive_opc(black_box(&K), black_box(&OP)))
    });

    let auts = m.auts(&RAND, Sqn::from_seq_ind(5000, 3).unwrap());
    group.bench_function("resync_from_auts", |b| {
        b.iter(|| {
            let mut state = SqnState::new();
            m.resync(&mut state, black_box(&RAND), black_box(&auts))
                .unwrap()
        })
    });

    group.finish();
}

criterion_group!(benches, vectors);
criterion_main!(benches);
