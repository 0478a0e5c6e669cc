//! MAR and SAR encode / decode per message.
//!
//! `cargo bench -p clearwater-diameter --bench codec`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use clearwater_diameter::Message;
use clearwater_diameter::cx::{
    CxRouting, MultimediaAuthRequest, ServerAssignmentRequest, ServerAssignmentType, scheme,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn routing() -> CxRouting {
    CxRouting {
        session_id: "scscf.example.com;1795000000;4711".into(),
        origin_host: "scscf.example.com".into(),
        origin_realm: "example.com".into(),
        destination_realm: "example.com".into(),
        destination_host: Some("hss.example.com".into()),
    }
}

fn mar() -> MultimediaAuthRequest {
    MultimediaAuthRequest {
        routing: routing(),
        user_name: "alice@example.com".into(),
        public_identity: "sip:alice@example.com".into(),
        server_name: "sip:scscf.example.com:5054;transport=tcp".into(),
        number_auth_items: 1,
        scheme: scheme::DIGEST.into(),
        authorization: None,
    }
}

fn sar() -> ServerAssignmentRequest {
    ServerAssignmentRequest {
        routing: routing(),
        user_name: Some("alice@example.com".into()),
        public_identities: vec!["sip:alice@example.com".into()],
        server_name: "sip:scscf.example.com:5054;transport=tcp".into(),
        assignment_type: ServerAssignmentType::REGISTRATION,
        user_data_already_available: false,
    }
}

fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("diameter");
    g.throughput(Throughput::Elements(1));
    let mar_typed = mar();
    let mar_msg = mar_typed.to_message();
    let mar_wire: Bytes = mar_msg.encode();
    let sar_typed = sar();
    let sar_msg = sar_typed.to_message();
    let sar_wire: Bytes = sar_msg.encode();
    let mut buf = BytesMut::with_capacity(4096);

    g.bench_function("mar/encode_built_message", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&mar_msg).encode_into(&mut buf);
            black_box(buf.len())
        })
    });
    g.bench_function("mar/build_and_encode_from_typed", |b| {
        b.iter(|| black_box(black_box(&mar_typed).to_message().encode()))
    });
    g.bench_function("mar/decode", |b| {
        b.iter(|| black_box(Message::decode(black_box(mar_wire.clone())).unwrap()))
    });
    g.bench_function("mar/decode_validate_to_typed", |b| {
        b.iter(|| {
            let m = Message::decode(black_box(mar_wire.clone())).unwrap();
            black_box(MultimediaAuthRequest::from_message(&m).unwrap())
        })
    });
    g.bench_function("sar/build_and_encode_from_typed", |b| {
        b.iter(|| black_box(black_box(&sar_typed).to_message().encode()))
    });
    g.bench_function("sar/decode", |b| {
        b.iter(|| black_box(Message::decode(black_box(sar_wire.clone())).unwrap()))
    });
    g.bench_function("sar/decode_validate_to_typed", |b| {
        b.iter(|| {
            let m = Message::decode(black_box(sar_wire.clone())).unwrap();
            black_box(ServerAssignmentRequest::from_message(&m).unwrap())
        })
    });
    let _ = sar_msg;
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
