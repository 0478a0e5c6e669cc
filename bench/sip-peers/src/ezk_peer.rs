//! Peer: [`ezk_sip_types`] 0.6.5 (crates.io name `ezk-sip-types`).
//!
//! `ezk-sip-types` has no one-call "parse a message" function: whole-message parsing lives in
//! `ezk-sip-core`'s transport layer (tokio, not wanted here). [`parse`] therefore does exactly
//! what `ezk-sip-core` does for a complete datagram: copy the input into a `Bytes`, split it
//! into lines with `msg::PullParser`, parse the first line with `msg::MessageLine` and every
//! other line with `msg::Line` into a `Headers` multimap (raw `BytesStr` values sharing the
//! buffer), then slice the body by `Content-Length`.
//!
//! * Read: typed headers are decoded lazily from the raw values:
//!   `headers.get_named::<Via>()` (first value only = top Via), `headers.get::<FromTo>(Name::TO)`,
//!   `headers.get_named::<CallID>()`, `headers.get_named::<CSeq>()`,
//!   `headers.get_named::<Vec<Contact>>()` (comma lists split; note that `Vec<H>` decoding
//!   silently stops at the first value that fails to parse).
//! * Print: the `Print` trait with a `PrintCtx` for the request line; `Headers: Display`.
//! * Edit: `Headers::insert_named_front` appends to an existing entry's value list (i.e. it
//!   would put a new Via at the *bottom* of the stack), so the new Via is inserted by removing
//!   the raw Via values, inserting the new one and re-inserting the old raw values. The Route
//!   entry is taken as `Vec<Routing>`, its first value dropped, and re-inserted (at the end of
//!   the header block: `Headers` has no insert-at-position).

use crate::{PROXY_BRANCH, Summary, display_len, opt_len};
use bytes::Bytes;
use ezk_sip_types::header::typed::{CSeq, CallID, Contact, ContentLength, FromTo, Routing, Via};
use ezk_sip_types::host::HostPort;
use ezk_sip_types::msg::{Line, MessageLine, PullParser};
use ezk_sip_types::parse::Parse;
use ezk_sip_types::print::{AppendCtx, PrintCtx, UriContext};
use ezk_sip_types::{Headers, Name};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};

/// A message as `ezk-sip-core` holds it after parsing.
#[derive(Debug, Clone)]
pub struct EzkMessage {
    /// Request line or status line.
    pub line: MessageLine,
    /// All header lines, raw values grouped by name in first-occurrence order.
    pub headers: Headers,
    /// The body (a slice of the input buffer).
    pub body: Bytes,
}

fn err(what: &str, e: impl std::fmt::Debug) -> String {
    format!("ezk: {what}: {e:?}")
}

/// Parse raw bytes into (message line, headers, body), the way `ezk-sip-core` does.
pub fn parse(msg: &[u8]) -> Result<EzkMessage, String> {
    let buffer = Bytes::copy_from_slice(msg);
    let mut parser = PullParser::new(&buffer, 0);
    let mut line = None;
    let mut headers = Headers::with_capacity(24);
    for item in &mut parser {
        let raw = item.map_err(|e| err("incomplete head", e))?;
        let text = std::str::from_utf8(raw).map_err(|e| err("header not UTF-8", e))?;
        if line.is_none() {
            let (_, l) = MessageLine::parse(&buffer)(text).map_err(|e| err("first line", e))?;
            line = Some(l);
        } else {
            let (_, l) = Line::parse(&buffer, text).map_err(|e| err("header line", e))?;
            headers.insert(l.name, l.value);
        }
    }
    let line = line.ok_or_else(|| "ezk: empty message".to_owned())?;
    let head_end = parser.head_end();
    let body = match headers.try_get_named::<ContentLength>() {
        Some(Ok(ContentLength(0))) | None => Bytes::new(),
        Some(Ok(ContentLength(len))) if buffer.len() >= head_end + len => {
            buffer.slice(head_end..head_end + len)
        }
        Some(Ok(_)) => return Err("ezk: body shorter than Content-Length".to_owned()),
        Some(Err(e)) => return Err(err("Content-Length", e)),
    };
    Ok(EzkMessage {
        line,
        headers,
        body,
    })
}

/// Parse only (no typed header decoding); returns the number of header values, so the parse
/// is not optimised away.
pub fn parse_only(msg: &[u8]) -> Result<usize, String> {
    Ok(parse(msg)?.headers.iter().count())
}

/// Parse and extract the [`Summary`] fields as owned strings.
pub fn summarize(msg: &[u8]) -> Result<Summary, String> {
    summarize_parsed(&parse(msg)?)
}

/// Extract the [`Summary`] fields from an already parsed message.
pub fn summarize_parsed(m: &EzkMessage) -> Result<Summary, String> {
    let mut s = Summary::default();
    match &m.line {
        MessageLine::Request(r) => {
            s.method = Some(r.method.to_string());
            s.request_uri = Some(r.uri.default_print_ctx().to_string());
        }
        MessageLine::Response(r) => s.status = Some(r.code.into_u16()),
    }
    let h = &m.headers;
    let via: Via = h.get_named().map_err(|e| err("Via", e))?;
    s.top_via_branch = via.params.get_val("branch").map(|b| b.to_string());
    let from: FromTo = h.get(Name::FROM).map_err(|e| err("From", e))?;
    s.from_tag = from.tag.map(|t| t.to_string());
    let to: FromTo = h.get(Name::TO).map_err(|e| err("To", e))?;
    s.to_uri = to.uri.uri.default_print_ctx().to_string();
    s.to_tag = to.tag.map(|t| t.to_string());
    let call_id: CallID = h.get_named().map_err(|e| err("Call-ID", e))?;
    s.call_id = call_id.0.to_string();
    let cseq: CSeq = h.get_named().map_err(|e| err("CSeq", e))?;
    s.cseq = cseq.cseq;
    s.cseq_method = cseq.method.to_string();
    if let Some(contacts) = h.try_get_named::<Vec<Contact>>() {
        for c in contacts.map_err(|e| err("Contact", e))? {
            s.contacts.push(c.uri.uri.default_print_ctx().to_string());
        }
    }
    Ok(s)
}

/// Parse and read the same fields as [`summarize`], returning [`Summary::checksum`] without
/// building the `Summary` (lengths of printed URIs are counted, not collected).
pub fn work(msg: &[u8]) -> Result<usize, String> {
    let m = parse(msg)?;
    let mut sum = 0;
    match &m.line {
        MessageLine::Request(r) => {
            sum += display_len(&r.method);
            sum += display_len(&r.uri.default_print_ctx());
        }
        MessageLine::Response(r) => sum += usize::from(r.code.into_u16()),
    }
    let h = &m.headers;
    let via: Via = h.get_named().map_err(|e| err("Via", e))?;
    sum += opt_len(via.params.get_val("branch"));
    let from: FromTo = h.get(Name::FROM).map_err(|e| err("From", e))?;
    sum += opt_len(from.tag.as_ref());
    let to: FromTo = h.get(Name::TO).map_err(|e| err("To", e))?;
    sum += display_len(&to.uri.uri.default_print_ctx());
    sum += opt_len(to.tag.as_ref());
    let call_id: CallID = h.get_named().map_err(|e| err("Call-ID", e))?;
    sum += call_id.0.len();
    let cseq: CSeq = h.get_named().map_err(|e| err("CSeq", e))?;
    sum += cseq.cseq as usize;
    sum += display_len(&cseq.method);
    if let Some(contacts) = h.try_get_named::<Vec<Contact>>() {
        for c in contacts.map_err(|e| err("Contact", e))? {
            sum += display_len(&c.uri.uri.default_print_ctx()) + 1;
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

/// Print an already parsed message back to bytes (line, headers, blank line, body).
pub fn serialize_parsed(m: &EzkMessage) -> Vec<u8> {
    let mut head = String::with_capacity(m.headers.printed_len() + 128);
    let ctx = PrintCtx {
        method: m.line.request_method(),
        uri: Some(UriContext::ReqUri),
    };
    // Writing to a `String` cannot fail.
    let _ = write!(head, "{}\r\n{}\r\n", m.line.print_ctx(ctx), m.headers);
    let mut out = head.into_bytes();
    out.extend_from_slice(&m.body);
    out
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
pub fn proxy_edit_parsed(m: &mut EzkMessage) -> Result<Vec<u8>, String> {
    let h = &mut m.headers;
    let via = Via::new(
        "UDP",
        HostPort::from(SocketAddr::from((Ipv4Addr::new(192, 0, 2, 1), 5060))),
        PROXY_BRANCH,
    );
    let old_vias = h.remove(&Name::VIA).unwrap_or_default();
    h.insert_named_front(&via);
    for v in old_vias {
        h.insert(Name::VIA, v);
    }
    if let Some(routes) = h.try_take::<Vec<Routing>>(Name::ROUTE) {
        let mut routes = routes.map_err(|e| err("Route", e))?;
        if routes.len() > 1 {
            routes.remove(0);
            h.insert_type(Name::ROUTE, &routes);
        }
    }
    Ok(serialize_parsed(m))
}
