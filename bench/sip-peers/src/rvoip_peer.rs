//! Peer: [`rvoip_sip_core`] 0.4.0 (crates.io name `rvoip-sip-core`; its default `sdp` feature
//! is required: with `default-features = false` 0.4.0 does not compile).
//!
//! * Parse: `rvoip_sip_core::parse_message(&[u8])` (lenient mode). Every header is parsed
//!   eagerly into the `TypedHeader` enum (`TypedHeader::Other` for unknown names).
//! * Read: `Message::method()`, `Message::status()`, `Message::typed_header::<T>()` (first header
//!   of that type), `Message::from()`, `Message::to()`, `Message::call_id()`;
//!   `Via::branch()` reads the first entry of the first Via header; `Contact::addresses()`.
//! * Print: `Message::to_bytes()`.
//! * Edit: `Request::headers` / `Response::headers` are public `Vec<TypedHeader>`s; `Route` is a
//!   `Vec` of entries.

use crate::{PROXY_BRANCH, Summary, display_len, opt_len};
use rvoip_sip_core::types::route::Route;
use rvoip_sip_core::{CSeq, Message, TypedHeader, Via};

fn err(e: rvoip_sip_core::Error) -> String {
    format!("rvoip: {e}")
}

fn missing(what: &str) -> String {
    format!("rvoip: missing {what}")
}

/// Parse raw bytes into rvoip's message type.
pub fn parse(msg: &[u8]) -> Result<Message, String> {
    rvoip_sip_core::parse_message(msg).map_err(err)
}

/// Parse only (rvoip parses every header eagerly, so this already includes the typed
/// parse); returns the number of headers, so the parse is not optimised away.
pub fn parse_only(msg: &[u8]) -> Result<usize, String> {
    Ok(parse(msg)?.all_headers().len())
}

/// Parse and extract the [`Summary`] fields as owned strings.
pub fn summarize(msg: &[u8]) -> Result<Summary, String> {
    summarize_parsed(&parse(msg)?)
}

/// Extract the [`Summary`] fields from an already parsed message.
pub fn summarize_parsed(m: &Message) -> Result<Summary, String> {
    let mut s = Summary::default();
    match m {
        Message::Request(r) => {
            s.method = Some(r.method().to_string());
            s.request_uri = Some(r.uri().to_string());
        }
        Message::Response(r) => s.status = Some(r.status().as_u16()),
    }
    let via = m.typed_header::<Via>().ok_or_else(|| missing("Via"))?;
    s.top_via_branch = via.branch().map(str::to_owned);
    let from = m.from().ok_or_else(|| missing("From"))?;
    s.from_tag = from.tag().map(str::to_owned);
    let to = m.to().ok_or_else(|| missing("To"))?;
    s.to_uri = to.address().uri().to_string();
    s.to_tag = to.tag().map(str::to_owned);
    s.call_id = m
        .call_id()
        .ok_or_else(|| missing("Call-ID"))?
        .as_str()
        .to_owned();
    let cseq = m.typed_header::<CSeq>().ok_or_else(|| missing("CSeq"))?;
    s.cseq = cseq.sequence();
    s.cseq_method = cseq.method().to_string();
    for h in m.all_headers() {
        if let TypedHeader::Contact(c) = h {
            s.contacts
                .extend(c.addresses().map(|a| a.uri().to_string()));
        }
    }
    Ok(s)
}

/// Parse and read the same fields as [`summarize`], returning [`Summary::checksum`] without
/// building the `Summary` (lengths of printed URIs are counted, not collected).
pub fn work(msg: &[u8]) -> Result<usize, String> {
    let m = parse(msg)?;
    let mut sum = 0;
    match &m {
        Message::Request(r) => {
            sum += display_len(&r.method());
            sum += display_len(r.uri());
        }
        Message::Response(r) => sum += usize::from(r.status().as_u16()),
    }
    let via = m.typed_header::<Via>().ok_or_else(|| missing("Via"))?;
    sum += opt_len(via.branch());
    let from = m.from().ok_or_else(|| missing("From"))?;
    sum += opt_len(from.tag());
    let to = m.to().ok_or_else(|| missing("To"))?;
    sum += display_len(to.address().uri());
    sum += opt_len(to.tag());
    sum += m
        .call_id()
        .ok_or_else(|| missing("Call-ID"))?
        .as_str()
        .len();
    let cseq = m.typed_header::<CSeq>().ok_or_else(|| missing("CSeq"))?;
    sum += cseq.sequence() as usize;
    sum += display_len(cseq.method());
    for h in m.all_headers() {
        if let TypedHeader::Contact(c) = h {
            sum += c
                .addresses()
                .map(|a| display_len(a.uri()) + 1)
                .sum::<usize>();
        }
    }
    Ok(sum)
}

/// Parse, then print the whole message back; returns the printed length.
pub fn serialize(msg: &[u8]) -> Result<usize, String> {
    serialize_bytes(msg).map(|v| v.len())
}

/// Parse, then print the whole message back; returns the printed bytes.
pub fn serialize_bytes(msg: &[u8]) -> Result<Vec<u8>, String> {
    Ok(serialize_parsed(&parse(msg)?))
}

/// Print an already parsed message back to bytes.
pub fn serialize_parsed(m: &Message) -> Vec<u8> {
    m.to_bytes()
}

/// Parse, push [`crate::PROXY_VIA`] on top, remove the first Route value, print; returns the
/// printed length.
pub fn proxy_edit(msg: &[u8]) -> Result<usize, String> {
    proxy_edit_bytes(msg).map(|v| v.len())
}

/// Parse, apply the proxy edit and print; returns the printed bytes.
pub fn proxy_edit_bytes(msg: &[u8]) -> Result<Vec<u8>, String> {
    let mut m = parse(msg)?;
    proxy_edit_parsed(&mut m)
}

/// Apply the proxy edit to an already parsed message (mutating it) and print it.
pub fn proxy_edit_parsed(m: &mut Message) -> Result<Vec<u8>, String> {
    let headers = match m {
        Message::Request(r) => &mut r.headers,
        Message::Response(r) => &mut r.headers,
    };
    // An empty `Via` list plus `push_proxy_branch` builds the entry the way rvoip's own proxy
    // helpers do (SIP/2.0/<transport> <host>:<port>;branch=<branch>).
    let mut via = Via(Vec::with_capacity(1));
    via.push_proxy_branch("UDP", "192.0.2.1", Some(5060), PROXY_BRANCH)
        .map_err(err)?;
    headers.insert(0, TypedHeader::Via(via));
    let route_pos = headers
        .iter()
        .position(|h| matches!(h, TypedHeader::Route(_)));
    if let Some(pos) = route_pos
        && let TypedHeader::Route(Route(entries)) = &mut headers[pos]
    {
        if entries.len() <= 1 {
            headers.remove(pos);
        } else {
            entries.remove(0);
        }
    }
    Ok(serialize_parsed(m))
}
