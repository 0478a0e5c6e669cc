//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/*`) through the
//! fuzz target bodies, so `cargo test` re-checks every input the fuzzers found
//! interesting with exactly the code they ran.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

#[allow(dead_code, missing_docs, unreachable_pub)]
#[path = "../../fuzz/src/bodies.rs"]
mod bodies;

use std::path::Path;

fn replay(target: &str, body: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let data = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| body(&data));
        assert!(result.is_ok(), "{target}: {} fails", path.display());
        n += 1;
    }
    assert!(n > 0, "{target}: empty corpus");
}

#[test]
fn triage() {
    replay("triage", bodies::triage);
}

#[test]
fn proxy() {
    replay("proxy", bodies::proxy);
}

#[test]
fn uri() {
    replay("uri", bodies::uri);
}

#[test]
fn framer() {
    replay("framer", bodies::framer);
}

#[test]
fn header_via() {
    replay("header_via", bodies::header_via);
}

#[test]
fn header_name_addr() {
    replay("header_name_addr", bodies::header_name_addr);
}

#[test]
fn header_simple() {
    replay("header_simple", bodies::header_simple);
}

#[test]
fn header_auth() {
    replay("header_auth", bodies::header_auth);
}

#[test]
fn header_ims() {
    replay("header_ims", bodies::header_ims);
}

#[test]
fn header_misc() {
    replay("header_misc", bodies::header_misc);
}

#[test]
fn transaction() {
    replay("transaction", bodies::transaction);
}
