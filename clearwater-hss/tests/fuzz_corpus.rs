//! Replays the committed fuzz corpus (`fuzz/corpus/subscription/*`) through
//! the fuzz target body, so `cargo test` re-checks every input the fuzzer
//! found interesting with exactly the code it ran (IMS subscription, shared
//! iFC set and reg-data XML: parse, write back, limits and look-ups).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code, missing_docs, unreachable_pub)]
#[path = "../../fuzz/src/subscription.rs"]
mod body;

use clearwater_hss::RegData;
use clearwater_hss::subscription::{ImsSubscription, SharedIfcSets};

#[test]
fn subscription() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/subscription");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    assert!(!entries.is_empty(), "{}: empty corpus", dir.display());
    for path in entries {
        let data = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| body::subscription(&data));
        assert!(result.is_ok(), "{} fails", path.display());
        // The hand-made seeds are valid documents, so the checks above ran
        // on a parsed value rather than on an error.
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("seed-")
        {
            let text = std::str::from_utf8(&data).unwrap();
            assert!(
                ImsSubscription::parse(text).is_ok()
                    || SharedIfcSets::parse(text).is_ok()
                    || RegData::parse(text).is_ok(),
                "{} is not a valid document",
                path.display()
            );
        }
    }
}
