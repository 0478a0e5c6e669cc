//! Replays the committed fuzz corpus (`fuzz/corpus/diameter/*`) through the
//! fuzz target body, so `cargo test` re-checks every input the fuzzer found
//! interesting with exactly the code it ran.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code, missing_docs, unreachable_pub)]
#[path = "../../fuzz/src/diameter.rs"]
mod body;

#[test]
fn diameter() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/diameter");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    assert!(!entries.is_empty(), "empty corpus");
    for path in entries {
        let data = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| body::diameter(&data));
        assert!(result.is_ok(), "{} fails", path.display());
    }
}
