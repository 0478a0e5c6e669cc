//! Fuzz target bodies for clearwater-sip. `bodies.rs` is also compiled by
//! `clearwater-sip/tests/fuzz_corpus.rs`, so `cargo test` replays the committed
//! corpus through exactly the code the fuzzers run.

pub mod bodies;
pub mod diameter;
pub mod subscription;
