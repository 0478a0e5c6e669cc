//! Peer: [`rsip`] 0.4.0.
//!
//! * Parse: `rsip::SipMessage::try_from(&[u8])` (nom tokenizer; every header is kept as an
//!   untyped `String` newtype inside the `rsip::Header` enum).
//! * Read: the `rsip::message::HeadersExt` accessors (`via_header`, `from_header`, ...) return the
//!   untyped header; `.typed()` (trait `rsip::headers::ToTypedHeader`) clones that string and
//!   parses it into the typed form (`rsip::typed::Via` etc.).
//! * Print: `Display` (`to_string()`), which also re-prints the untyped header strings.
//! * Edit: `Headers` has `push`/`retain`/`iter_mut` but no insert-at-front, so the new Via is
//!   inserted by round-tripping the header list through `Vec<Header>`.

use crate::{PROXY_VIA, Summary, display_len, opt_len};
use rsip::headers::ToTypedHeader;
use rsip::headers::UntypedHeader;
use rsip::message::{HasHeaders, HeadersExt};
use rsip::{Header, SipMessage};

fn err(e: rsip::Error) -> String {
    format!("rsip: {e}")
}

/// Error mapper naming the header whose typed form failed.
fn err_in(what: &'static str) -> impl Fn(rsip::Error) -> String {
    move |e| format!("rsip: {what}: {e}")
}

/// Parse raw bytes into rsip's message type.
pub fn parse(msg: &[u8]) -> Result<SipMessage, String> {
    SipMessage::try_from(msg).map_err(err_in("message"))
}

/// Parse only (no field access); returns the number of header lines, so the parse is not
/// optimised away.
pub fn parse_only(msg: &[u8]) -> Result<usize, String> {
    Ok(parse(msg)?.headers().iter().count())
}

/// Parse and extract the [`Summary`] fields as owned strings.
pub fn summarize(msg: &[u8]) -> Result<Summary, String> {
    let parsed = parse(msg)?;
    summarize_parsed(&parsed)
}

/// Extract the [`Summary`] fields from an already parsed message.
pub fn summarize_parsed(m: &SipMessage) -> Result<Summary, String> {
    let mut s = Summary::default();
    match m {
        SipMessage::Request(r) => {
            s.method = Some(r.method().to_string());
            s.request_uri = Some(r.uri().to_string());
        }
        SipMessage::Response(r) => s.status = Some(r.status_code().code()),
    }
    let via = m
        .via_header()
        .map_err(err)?
        .typed()
        .map_err(err_in("Via"))?;
    s.top_via_branch = via.branch().map(|b| b.value().to_owned());
    let from = m
        .from_header()
        .map_err(err)?
        .typed()
        .map_err(err_in("From"))?;
    s.from_tag = from.tag().map(|t| t.value().to_owned());
    let to = m.to_header().map_err(err)?.typed().map_err(err_in("To"))?;
    s.to_uri = to.uri.to_string();
    s.to_tag = to.tag().map(|t| t.value().to_owned());
    s.call_id = m.call_id_header().map_err(err)?.value().to_owned();
    let cseq = m
        .cseq_header()
        .map_err(err)?
        .typed()
        .map_err(err_in("CSeq"))?;
    s.cseq = cseq.seq;
    s.cseq_method = cseq.method.to_string();
    for c in m.contact_headers() {
        s.contacts
            .push(c.typed().map_err(err_in("Contact"))?.uri.to_string());
    }
    Ok(s)
}

/// Parse and read the same fields as [`summarize`], returning [`Summary::checksum`] without
/// building the `Summary` (lengths of `Display` values are counted, not collected).
pub fn work(msg: &[u8]) -> Result<usize, String> {
    let m = parse(msg)?;
    let mut sum = 0;
    match &m {
        SipMessage::Request(r) => {
            sum += display_len(r.method());
            sum += display_len(r.uri());
        }
        SipMessage::Response(r) => sum += usize::from(r.status_code().code()),
    }
    let via = m
        .via_header()
        .map_err(err)?
        .typed()
        .map_err(err_in("Via"))?;
    sum += opt_len(via.branch().map(|b| b.value()));
    let from = m
        .from_header()
        .map_err(err)?
        .typed()
        .map_err(err_in("From"))?;
    sum += opt_len(from.tag().map(|t| t.value()));
    let to = m.to_header().map_err(err)?.typed().map_err(err_in("To"))?;
    sum += display_len(&to.uri);
    sum += opt_len(to.tag().map(|t| t.value()));
    sum += m.call_id_header().map_err(err)?.value().len();
    let cseq = m
        .cseq_header()
        .map_err(err)?
        .typed()
        .map_err(err_in("CSeq"))?;
    sum += cseq.seq as usize;
    sum += display_len(&cseq.method);
    for c in m.contact_headers() {
        sum += display_len(&c.typed().map_err(err_in("Contact"))?.uri) + 1;
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
pub fn serialize_parsed(m: &SipMessage) -> Vec<u8> {
    m.to_string().into_bytes()
}

/// Parse, push [`PROXY_VIA`] on top, remove the first Route value, print; returns the
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
pub fn proxy_edit_parsed(m: &mut SipMessage) -> Result<Vec<u8>, String> {
    let headers = m.headers_mut();
    let mut list: Vec<Header> = std::mem::take(headers).into();
    list.insert(0, rsip::headers::Via::new(PROXY_VIA).into());
    let popped = pop_first_route(&mut list);
    *headers = list.into();
    popped?;
    Ok(serialize_parsed(m))
}

/// Remove the first value of the first Route header (the whole header if it had one value).
fn pop_first_route(list: &mut Vec<Header>) -> Result<(), String> {
    let Some(pos) = list.iter().position(|h| matches!(h, Header::Route(_))) else {
        return Ok(());
    };
    let Header::Route(route) = &list[pos] else {
        return Ok(());
    };
    let mut typed = route.typed().map_err(err_in("Route"))?;
    if typed.0.0.len() <= 1 {
        list.remove(pos);
    } else {
        typed.0.0.remove(0);
        list[pos] = Header::Route(typed.into());
    }
    Ok(())
}
