//! Command-line checker: triages each file's raw bytes as one received datagram
//! and prints one JSON object per file per line.
//!
//! ```text
//! cargo run --release -q -p clearwater-sip --example sip-parse -- FILE...
//! ```
//!
//! Fields: `file`, `verdict` (`accept` | `reject` | `drop`); `status` and
//! `reason` when not accepted; when accepted: `kind`, `method`, `request_uri`,
//! `ruri_user`, `ruri_host`, `ruri_port`, `status_code`, `from_display_name`,
//! `call_id`, `cseq_number`, `cseq_method`, `via_count`, `top_via_branch`,
//! `from_tag`, `to_tag`, `contact_count`, `route_count`, `content_length`.
//! Exits 0 unless a file cannot be read (1), or stdout is closed (at once,
//! quietly, e.g. into `head`). File names that are not UTF-8 print lossily.

use std::io::Write;

use bytes::Bytes;
use clearwater_sip::{Message, Triage, TriageConfig, Uri, triage};
use serde_json::{Map, Value, json};

fn main() {
    let config = TriageConfig::default();
    let mut failed = false;
    let mut stdout = std::io::stdout().lock();
    for os_path in std::env::args_os().skip(1) {
        let path = os_path.to_string_lossy();
        let raw = match std::fs::read(&os_path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{path}: {e}");
                failed = true;
                continue;
            }
        };
        let mut out = Map::new();
        out.insert("file".into(), json!(path));
        match triage(Bytes::from(raw), &config) {
            Triage::Accept(msg) => {
                out.insert("verdict".into(), json!("accept"));
                describe(&msg, &mut out);
            }
            Triage::Reject(r) => {
                out.insert("verdict".into(), json!("reject"));
                out.insert("status".into(), json!(r.status().as_u16()));
                out.insert("reason".into(), json!(r.reason()));
            }
            Triage::Drop(why) => {
                out.insert("verdict".into(), json!("drop"));
                out.insert("status".into(), Value::Null);
                out.insert("reason".into(), json!(why.as_ref()));
            }
        }
        if writeln!(stdout, "{}", Value::Object(out)).is_err() {
            // The reader went away: nothing more to say.
            std::process::exit(i32::from(failed));
        }
    }
    std::process::exit(i32::from(failed));
}

/// Fills the accepted-message fields. Triage validated the headers read here
/// (Route only in requests); counts are of values, well-formed or not.
fn describe(msg: &Message, out: &mut Map<String, Value>) {
    let mut put = |k: &str, v: Value| {
        out.insert(k.to_owned(), v);
    };
    match msg {
        Message::Request(req) => {
            let uri = req.uri();
            put("kind", json!("request"));
            put("method", json!(req.method().as_str()));
            put("request_uri", json!(uri.as_str()));
            put("ruri_user", json!(uri.user()));
            match &uri {
                Uri::Sip(s) => {
                    put("ruri_host", json!(s.host().as_str()));
                    put("ruri_port", json!(s.port()));
                }
                _ => {
                    put("ruri_host", Value::Null);
                    put("ruri_port", Value::Null);
                }
            }
            put("status_code", Value::Null);
        }
        Message::Response(resp) => {
            put("kind", json!("response"));
            put("method", Value::Null);
            put("request_uri", Value::Null);
            put("ruri_user", Value::Null);
            put("ruri_host", Value::Null);
            put("ruri_port", Value::Null);
            put("status_code", json!(resp.status().as_u16()));
        }
    }
    let from = msg.from().ok();
    put(
        "from_display_name",
        json!(
            from.as_ref()
                .and_then(|f| f.display_name())
                .map(|d| d.into_owned())
        ),
    );
    put(
        "call_id",
        json!(msg.call_id().ok().map(|c| c.as_str().to_owned())),
    );
    let cseq = msg.cseq().ok();
    put("cseq_number", json!(cseq.as_ref().map(|c| c.seq)));
    put(
        "cseq_method",
        json!(cseq.as_ref().map(|c| c.method.as_str().to_owned())),
    );
    put("via_count", json!(msg.vias().count()));
    put(
        "top_via_branch",
        json!(msg.via().ok().and_then(|v| v.branch().map(str::to_owned))),
    );
    put("from_tag", json!(from.as_ref().and_then(|f| f.tag())));
    put(
        "to_tag",
        json!(msg.to().ok().and_then(|t| t.tag().map(str::to_owned))),
    );
    put("contact_count", json!(msg.contacts().count()));
    put("route_count", json!(msg.routes().count()));
    put("content_length", json!(msg.body().len()));
}
