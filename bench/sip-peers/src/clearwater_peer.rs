//! Contender: `clearwater-sip` (this workspace).
//!
//! Same work as the peers: the input slice is copied into a `Bytes` (as ezk's
//! transport does), parsed, and the fields read through typed accessors.
//! `serialize` writes the message into a fresh `Vec` (a real copy, like the
//! peers' printers), although `Message::to_bytes` on an unedited message is a
//! zero-copy slice of the received buffer.

use crate::{PROXY_VIA, Summary};
use clearwater_sip::HeaderName;
use clearwater_sip::Message;

fn err(what: &str, e: impl std::fmt::Display) -> String {
    format!("clearwater: {what}: {e}")
}

/// Parse a copy of the input.
pub fn parse(msg: &[u8]) -> Result<Message, String> {
    Message::parse_slice(msg).map_err(|e| err("parse", e))
}

/// Parse only; returns the number of header fields.
pub fn parse_only(msg: &[u8]) -> Result<usize, String> {
    Ok(parse(msg)?.headers().len())
}

/// Parse and extract the [`Summary`] fields as owned strings.
pub fn summarize(msg: &[u8]) -> Result<Summary, String> {
    let m = parse(msg)?;
    let mut s = Summary::default();
    match &m {
        Message::Request(r) => {
            s.method = Some(r.method().to_string());
            s.request_uri = Some(r.uri().to_string());
        }
        Message::Response(r) => s.status = Some(r.status().as_u16()),
    }
    let via = m.via().map_err(|e| err("Via", e))?;
    s.top_via_branch = via.branch().map(str::to_owned);
    let from = m.from().map_err(|e| err("From", e))?;
    s.from_tag = from.tag().map(str::to_owned);
    let to = m.to().map_err(|e| err("To", e))?;
    s.to_uri = to.uri().to_string();
    s.to_tag = to.tag().map(str::to_owned);
    s.call_id = m.call_id().map_err(|e| err("Call-ID", e))?.to_string();
    let cseq = m.cseq().map_err(|e| err("CSeq", e))?;
    s.cseq = cseq.seq;
    s.cseq_method = cseq.method.to_string();
    for c in m.contacts() {
        let c = c.map_err(|e| err("Contact", e))?;
        if let Some(a) = c.addr() {
            s.contacts.push(a.uri().to_string());
        }
    }
    Ok(s)
}

/// Parse and read every [`Summary`] field without building Strings; returns
/// [`Summary::checksum`].
pub fn work(msg: &[u8]) -> Result<usize, String> {
    let m = parse(msg)?;
    let mut n = 0;
    match &m {
        Message::Request(r) => n += r.method().as_str().len() + r.uri().as_str().len(),
        Message::Response(r) => n += usize::from(r.status().as_u16()),
    }
    n += m
        .via()
        .map_err(|e| err("Via", e))?
        .branch()
        .map_or(0, str::len);
    n += m
        .from()
        .map_err(|e| err("From", e))?
        .tag()
        .map_or(0, str::len);
    let to = m.to().map_err(|e| err("To", e))?;
    n += to.uri().as_str().len() + to.tag().map_or(0, str::len);
    n += m.call_id().map_err(|e| err("Call-ID", e))?.as_str().len();
    let cseq = m.cseq().map_err(|e| err("CSeq", e))?;
    n += cseq.seq as usize + cseq.method.as_str().len();
    for c in m.contacts() {
        let c = c.map_err(|e| err("Contact", e))?;
        if let Some(a) = c.addr() {
            n += a.uri().as_str().len() + 1;
        }
    }
    Ok(n)
}

/// Print an already parsed message into a new buffer.
pub fn serialize_parsed(m: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    m.write_to(&mut out);
    out
}

/// Parse + print; returns the printed bytes.
pub fn serialize_bytes(msg: &[u8]) -> Result<Vec<u8>, String> {
    Ok(serialize_parsed(&parse(msg)?))
}

/// Parse + print; returns the printed length.
pub fn serialize(msg: &[u8]) -> Result<usize, String> {
    serialize_bytes(msg).map(|b| b.len())
}

/// The proxy edit on a parsed message. The proxy's own Via goes in as text
/// (`insert_header_top`, which checks it cannot break the framing), as rsip's
/// `Via::new(text)` does: a proxy writes its Via, it has no need to parse it
/// (ezk builds its Via from parts; `Via::new` here would allocate a `String`).
/// The popped Route value is parsed (`pop_route` returns it typed).
fn edit(m: &mut Message) -> Result<(), String> {
    m.insert_header_top(&HeaderName::VIA, PROXY_VIA)
        .map_err(|e| err("push Via", e))?;
    m.pop_route().map_err(|e| err("pop Route", e))?;
    Ok(())
}

/// Parse + push the proxy Via + drop the first Route value + print.
pub fn proxy_edit_bytes(msg: &[u8]) -> Result<Vec<u8>, String> {
    let mut m = parse(msg)?;
    edit(&mut m)?;
    Ok(m.to_bytes().to_vec())
}

/// Parse + push Via + drop first Route value + print; returns the printed length.
pub fn proxy_edit(msg: &[u8]) -> Result<usize, String> {
    let mut m = parse(msg)?;
    edit(&mut m)?;
    Ok(m.to_bytes().len())
}
