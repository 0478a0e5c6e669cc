//! Fuzz target body for clearwater-diameter. Also compiled by
//! `clearwater-diameter/tests/fuzz_corpus.rs`, so `cargo test` replays the
//! committed corpus through exactly this code.

use bytes::Bytes;
use clearwater_diameter::{Framing, Message, frame};

/// Frames, decodes and validates `data`; every refusal must produce an
/// answer that decodes again, and a decoded message must re-encode to the
/// bytes it came from.
pub fn diameter(data: &[u8]) {
    let whole = match frame(data, 1 << 20) {
        Framing::Complete(n) => &data[..n],
        Framing::Partial | Framing::Invalid(_) => data,
    };
    let Ok(m) = Message::decode(Bytes::copy_from_slice(whole)) else {
        return;
    };
    let again = m.encode();
    assert_eq!(
        Message::decode(again).as_ref(),
        Ok(&m),
        "re-encoding changed the message"
    );
    if let Err(e) = m.validate() {
        let answer = m.error_answer(&e, "fuzz.example", "example");
        assert!(Message::decode(answer.encode()).is_ok());
    }
    for a in &m.avps {
        let _ = a.children();
        let _ = a.as_address();
        let _ = a.as_time();
    }
}
