//! Peer SIP parsers, wrapped behind one interface so that `benches/compare.rs` can measure
//! them against each other (and, later, against `clearwater-sip`) on the same corpus.
//!
//! Every peer module exposes the same functions:
//!
//! | function | work done | input |
//! | --- | --- | --- |
//! | `summarize(&[u8]) -> Result<Summary, String>` | parse + read the [`Summary`] fields into owned `String`s | raw bytes |
//! | `work(&[u8]) -> Result<usize, String>` | parse + read the same fields through the typed accessors, returning [`Summary::checksum`] without building `String`s for it | raw bytes |
//! | `serialize(&[u8]) -> Result<usize, String>` | parse, then print the whole message back to bytes; returns the printed length | raw bytes |
//! | `proxy_edit(&[u8]) -> Result<usize, String>` | parse, push a top Via ([`PROXY_VIA`]), drop the first Route value, print; returns the printed length | raw bytes |
//! | `parse_only(&[u8]) -> Result<usize, String>` | parse into the peer's message type, read nothing; returns the header count (extra, not in the brief) | raw bytes |
//! | `serialize_bytes` / `proxy_edit_bytes(&[u8]) -> Result<Vec<u8>, String>` | what `serialize` / `proxy_edit` print (for the fidelity tests) | raw bytes |
//!
//! `serialize` and `proxy_edit` include the parse in what they do (and so in the timing).
//! Each module also has `parse` (bytes to the peer's own message type), `summarize_parsed`,
//! `serialize_parsed` (prints a parsed message, no parse; timed by the `serialize_preparsed`
//! benchmark group) and `proxy_edit_parsed` (edits a parsed message in place and prints it,
//! no parse).
//!
//! A peer that cannot parse a message returns `Err`; the test suite records these rejections and
//! the benchmark skips those (peer, message) pairs and says so.

use std::fmt;
use std::path::PathBuf;

pub mod clearwater_peer;
pub mod ezk_peer;
pub mod rsip_peer;
pub mod rvoip_peer;

/// What every parser must extract from one message (the benchmark's unit of work).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// Request method (`None` for responses).
    pub method: Option<String>,
    /// Status code (`None` for requests).
    pub status: Option<u16>,
    /// Request-URI as printed by the peer (`None` for responses).
    pub request_uri: Option<String>,
    /// `branch` parameter of the topmost Via.
    pub top_via_branch: Option<String>,
    /// `tag` parameter of From.
    pub from_tag: Option<String>,
    /// The URI inside To, as printed by the peer.
    pub to_uri: String,
    /// `tag` parameter of To.
    pub to_tag: Option<String>,
    /// Call-ID value.
    pub call_id: String,
    /// CSeq sequence number.
    pub cseq: u32,
    /// CSeq method.
    pub cseq_method: String,
    /// The URI of every Contact value, in message order, as printed by the peer.
    pub contacts: Vec<String>,
}

impl Summary {
    /// The checksum that each peer's `work` function computes without building a `Summary`:
    /// the sum of the byte lengths of every string field, plus the status code, the CSeq
    /// number and the number of contacts.
    pub fn checksum(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        opt(&self.method)
            + self.status.map_or(0, usize::from)
            + opt(&self.request_uri)
            + opt(&self.top_via_branch)
            + opt(&self.from_tag)
            + self.to_uri.len()
            + opt(&self.to_tag)
            + self.call_id.len()
            + self.cseq as usize
            + self.cseq_method.len()
            + self.contacts.iter().map(String::len).sum::<usize>()
            + self.contacts.len()
    }
}

/// The Via that `proxy_edit` pushes on top of the Via stack.
pub const PROXY_VIA: &str = "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-bench-1";
/// The branch of [`PROXY_VIA`].
pub const PROXY_BRANCH: &str = "z9hG4bK-bench-1";

/// Parse + read, returning the owned [`Summary`].
pub type SummarizeFn = fn(&[u8]) -> Result<Summary, String>;
/// Parse + read (or parse + print), returning a number that depends on everything read.
pub type WorkFn = fn(&[u8]) -> Result<usize, String>;

/// Parse + print (or parse + edit + print), returning the printed bytes.
pub type BytesFn = fn(&[u8]) -> Result<Vec<u8>, String>;

/// One contender of the benchmark.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// Short name used in benchmark IDs and test output.
    pub name: &'static str,
    /// Crate and exact version, for reports.
    pub crate_version: &'static str,
    /// Parse + read into a [`Summary`].
    pub summarize: SummarizeFn,
    /// Parse + read through typed accessors, returning [`Summary::checksum`].
    pub work: WorkFn,
    /// Parse + print back; returns the printed length.
    pub serialize: WorkFn,
    /// Parse + push Via + drop first Route value + print; returns the printed length.
    pub proxy_edit: WorkFn,
    /// Parse only, no field access (optional: an extra group, not part of the brief's three).
    pub parse_only: Option<WorkFn>,
    /// What `serialize` prints (used by the fidelity tests; optional).
    pub serialize_bytes: Option<BytesFn>,
    /// What `proxy_edit` prints (used by the fidelity tests; optional).
    pub proxy_edit_bytes: Option<BytesFn>,
}

/// Every contender, in the order the benchmark runs them.
pub const PEERS: &[Peer] = &[
    Peer {
        name: "clearwater",
        crate_version: "clearwater-sip (workspace)",
        summarize: clearwater_peer::summarize,
        work: clearwater_peer::work,
        serialize: clearwater_peer::serialize,
        proxy_edit: clearwater_peer::proxy_edit,
        parse_only: Some(clearwater_peer::parse_only),
        serialize_bytes: Some(clearwater_peer::serialize_bytes),
        proxy_edit_bytes: Some(clearwater_peer::proxy_edit_bytes),
    },
    Peer {
        name: "rsip",
        crate_version: "rsip 0.4.0",
        summarize: rsip_peer::summarize,
        work: rsip_peer::work,
        serialize: rsip_peer::serialize,
        proxy_edit: rsip_peer::proxy_edit,
        parse_only: Some(rsip_peer::parse_only),
        serialize_bytes: Some(rsip_peer::serialize_bytes),
        proxy_edit_bytes: Some(rsip_peer::proxy_edit_bytes),
    },
    Peer {
        name: "ezk",
        crate_version: "ezk-sip-types 0.6.5",
        summarize: ezk_peer::summarize,
        work: ezk_peer::work,
        serialize: ezk_peer::serialize,
        proxy_edit: ezk_peer::proxy_edit,
        parse_only: Some(ezk_peer::parse_only),
        serialize_bytes: Some(ezk_peer::serialize_bytes),
        proxy_edit_bytes: Some(ezk_peer::proxy_edit_bytes),
    },
    Peer {
        name: "rvoip",
        crate_version: "rvoip-sip-core 0.4.0",
        summarize: rvoip_peer::summarize,
        work: rvoip_peer::work,
        serialize: rvoip_peer::serialize,
        proxy_edit: rvoip_peer::proxy_edit,
        parse_only: Some(rvoip_peer::parse_only),
        serialize_bytes: Some(rvoip_peer::serialize_bytes),
        proxy_edit_bytes: Some(rvoip_peer::proxy_edit_bytes),
    },
];

/// One message of the corpus.
#[derive(Debug, Clone)]
pub struct CorpusMessage {
    /// File name without the `.sip` extension, e.g. `01-register-initial`.
    pub name: String,
    /// Exact wire bytes.
    pub bytes: Vec<u8>,
}

/// Directory of the realistic IMS corpus (owned by `clearwater-sip`).
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../clearwater-sip/tests/corpus/realistic")
}

/// Load every `*.sip` file of [`corpus_dir`], sorted by name.
pub fn load_corpus() -> std::io::Result<Vec<CorpusMessage>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(corpus_dir())? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "sip") {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push(CorpusMessage {
                name,
                bytes: std::fs::read(&path)?,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// A [`fmt::Write`] sink that only counts bytes, so the length of a `Display` value can be
/// taken without allocating a `String` for it.
#[derive(Debug, Default, Clone, Copy)]
pub struct LenCounter(pub usize);

impl fmt::Write for LenCounter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

/// Length in bytes of `value`'s `Display` output, without allocating for it.
pub fn display_len(value: &dyn fmt::Display) -> usize {
    use fmt::Write as _;
    let mut counter = LenCounter(0);
    // Writing to a `LenCounter` cannot fail; a failing `Display` impl just yields a short count.
    let _ = write!(counter, "{value}");
    counter.0
}

/// Length of an optional string-like value.
pub fn opt_len<S: AsRef<str>>(s: Option<S>) -> usize {
    s.map_or(0, |s| s.as_ref().len())
}
