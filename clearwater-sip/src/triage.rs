//! Inbound triage: what an element does with received bytes before any
//! application logic sees them.
//!
//! [`triage`] parses the message and validates the header fields every element
//! relies on, then answers one of:
//!
//! * [`Triage::Accept`]: a well-formed message;
//! * [`Triage::Reject`]: a request to answer statelessly with the given status
//!   and reason phrase ([`Rejection::response`] builds the response);
//! * [`Triage::Drop`]: something not worth an answer: malformed responses
//!   (RFC 3261 §16.7 / §18.1.2 say to discard them), malformed ACKs (ACK is
//!   never answered), keep-alives, and bytes that are not SIP at all.
//!
//! | defect | verdict |
//! |---|---|
//! | start line, header field syntax, Content-Length | 400 |
//! | Via, From, To, Call-ID, CSeq absent | 400 `Missing X Header` |
//! | From, To, Call-ID, CSeq, Max-Forwards, Content-Length, Content-Type, Expires, Min-Expires, Date repeated | 400 `Multiple X Headers` |
//! | `Contact: *` together with other Contact values | 400 (RFC 3261 §20.10, §10.3 step 6) |
//! | malformed value of a validated header (list below) | 400 `Bad X Header` |
//! | CSeq method differs from the Request-Line method | 400 (501 when the method is unknown, RFC 4475 §3.1.2.18) |
//! | Request-URI carries a headers component | 400 (RFC 3261 §19.1.5) |
//! | SIP version other than 2.0 | 505 |
//! | a configured [`Limits`] exceeded | 513 |
//! | Request-URI scheme not in [`TriageConfig::uri_schemes`] | 416 |
//!
//! Validated headers: Via (every value), From, To, Call-ID, CSeq, Max-Forwards,
//! Contact, Route, Record-Route, Path, Expires, Min-Expires, Content-Type,
//! Date, Require, Proxy-Require, Supported. Other headers are decoded (and
//! their errors reported) only when an application reads them, so a proxy
//! forwards unknown or unread headers untouched.
//!
//! Responses with any of these defects are dropped; their Contact and
//! Record-Route values are validated too (a UA builds its dialog from them).
//!
//! A rejected request gets its answer whenever it has a Via to send it along
//! (RFC 4475 §3.1.2.14 asks for a 400 to a request missing Call-ID, From and
//! To): [`Rejection::response`] copies whichever of From, To, Call-ID and
//! CSeq it has.
//!
//! Missing Max-Forwards and a missing From tag are accepted for RFC 2543
//! compatibility (RFC 4475 §3.4.1); semantic checks that depend on what an
//! element supports (Require → 420, Content-Type → 415, authentication →
//! 401) belong to the layers above.

use std::borrow::Cow;

use bytes::Bytes;

use crate::error::Error;
use crate::header::{
    CSeq, CallId, Contact, ContentType, Date, Expires, From, MaxForwards, MinExpires, Path,
    ProxyRequire, RecordRoute, Require, Route, Supported, To, TypedHeader, Via,
};
use crate::headers::Headers;
use crate::limits::Limits;
use crate::message::{Message, Request, Response};
use crate::method::Method;
use crate::name::{HeaderName, Known};
use crate::scan;
use crate::status::StatusCode;
use crate::uri::{HostKind, Uri};

/// What [`triage`] checks against.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TriageConfig {
    /// Parser and framing limits.
    pub limits: Limits,
    /// Request-URI schemes the element handles (lower case); others get 416.
    /// Defaults to `sip`, `sips`, `tel` and `urn` (emergency `urn:service:sos`).
    pub uri_schemes: Vec<Cow<'static, str>>,
}

impl Default for TriageConfig {
    fn default() -> Self {
        TriageConfig {
            limits: Limits::default(),
            uri_schemes: vec!["sip".into(), "sips".into(), "tel".into(), "urn".into()],
        }
    }
}

/// The verdict on received bytes.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Triage {
    /// A well-formed message for the application.
    Accept(Message),
    /// A request to answer with an error status.
    Reject(Rejection),
    /// Nothing to deliver and nothing to answer; the reason is for logs.
    Drop(Cow<'static, str>),
}

/// A request that gets an error response instead of being processed.
#[derive(Debug)]
pub struct Rejection {
    status: StatusCode,
    reason: Cow<'static, str>,
    error: Error,
    request: Option<Request>,
    /// The received bytes when `request` is `None` (empty otherwise).
    raw: Bytes,
}

impl Rejection {
    /// The status to answer with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The reason phrase, naming the defect.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The underlying error.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The parsed request, when its framing and start line were sound.
    pub fn request(&self) -> Option<&Request> {
        self.request.as_ref()
    }

    /// The stateless response (RFC 3261 §8.2.6): Via, From, To (with `to_tag`
    /// added when absent), Call-ID and CSeq copied from the request, as many
    /// of the last four as it has (a request missing some is answered too,
    /// RFC 4475 §3.1.2.14). `None` when the request has no Via, so no
    /// response could be sent back.
    pub fn response(&self, to_tag: Option<&str>) -> Option<Response> {
        match &self.request {
            Some(req) => {
                if !req.headers().contains(&HeaderName::VIA) {
                    return None;
                }
                // A To we cannot parse is copied as received, without a tag.
                let tag = if req.to().is_ok() { to_tag } else { None };
                req.make_response(self.status, Some(&self.reason), tag).ok()
            }
            None => salvage_response(&self.raw, self.status, &self.reason),
        }
    }
}

/// Decides what to do with one received message (a datagram, a WebSocket
/// message, or a [`Frame::Complete`](crate::Frame::Complete) stream frame).
pub fn triage(buf: Bytes, config: &TriageConfig) -> Triage {
    if buf
        .iter()
        .all(|&c| matches!(c, b'\r' | b'\n' | b' ' | b'\t'))
    {
        return Triage::Drop("keep-alive or empty datagram".into());
    }
    match crate::message::parse_keeping(buf, &config.limits) {
        Ok(Message::Response(resp)) => match check_response(&resp, config) {
            Ok(()) => Triage::Accept(Message::Response(resp)),
            Err(e) => Triage::Drop(format!("malformed response: {e}").into()),
        },
        Ok(Message::Request(req)) => match check_request(&req, config) {
            Ok(()) => Triage::Accept(Message::Request(req)),
            Err((status, error)) => {
                if req.method() == &Method::ACK {
                    return Triage::Drop("malformed ACK".into());
                }
                let reason = match (&error, status.as_u16()) {
                    (_, 416) => Cow::Borrowed("Unsupported URI Scheme"),
                    (_, 501) => Cow::Borrowed("Not Implemented"),
                    (e, _) => e.reason_phrase(),
                };
                Triage::Reject(Rejection {
                    status,
                    reason,
                    error,
                    request: Some(req),
                    // Only a request that could not be parsed is answered
                    // from its raw lines.
                    raw: Bytes::new(),
                })
            }
        },
        Err((error, raw)) => {
            let first = first_line(&raw);
            if first.len() >= 4 && first[..4].eq_ignore_ascii_case(b"SIP/") {
                return Triage::Drop(format!("malformed response: {error}").into());
            }
            if !looks_like_request_line(first) {
                return Triage::Drop("not a SIP message".into());
            }
            if first.starts_with(b"ACK ") {
                return Triage::Drop("malformed ACK".into());
            }
            Triage::Reject(Rejection {
                status: error.status(),
                reason: error.reason_phrase(),
                error,
                request: None,
                raw,
            })
        }
    }
}

/// The answer to a request whose stream framing failed with `error` (513
/// too large, 400 malformed...), when the start of the stream is a request
/// (not an ACK) whose transaction headers can be read; `None` otherwise.
/// The caller sends it, then closes the connection.
#[cfg(feature = "runtime")]
pub(crate) fn framing_error_response(raw: &[u8], error: &Error) -> Option<Bytes> {
    let first = first_line(raw);
    // (A status line is no request line: `SIP/2.0` is not a token.)
    if !looks_like_request_line(first) || first.starts_with(b"ACK ") {
        return None;
    }
    salvage_response(raw, error.status(), &error.reason_phrase()).map(|r| r.to_bytes())
}

fn first_line(b: &[u8]) -> &[u8] {
    let mut s = b;
    while let [b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    let end = memchr::memchr(b'\n', s).unwrap_or(s.len());
    let line = &s[..end];
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A token followed by white space: enough to believe a SIP request was
/// meant (a tab instead of the space is a malformed request, not garbage).
fn looks_like_request_line(line: &[u8]) -> bool {
    let n = line
        .iter()
        .position(|&c| !scan::is(c, scan::TOKEN))
        .unwrap_or(line.len());
    n > 0 && matches!(line.get(n), Some(b' ' | b'\t'))
}

type Check = Result<(), (StatusCode, Error)>;

fn bad(e: Error) -> (StatusCode, Error) {
    (e.status(), e)
}

/// Validates every value of `H` (list headers: every element); returns how many.
fn each<'h, H: TypedHeader<'h>>(h: &'h Headers) -> Result<usize, Error> {
    let mut n = 0;
    for v in h.typed_all::<H>() {
        v?;
        n += 1;
    }
    Ok(n)
}

/// The checks requests and responses share: presence, uniqueness and syntax of
/// the transaction headers.
fn check_common(h: &Headers, limits: &Limits) -> Result<CSeq, Error> {
    for (k, name) in [
        (Known::Via, "Via"),
        (Known::From, "From"),
        (Known::To, "To"),
        (Known::CallId, "Call-ID"),
        (Known::CSeq, "CSeq"),
    ] {
        if !h.contains(&HeaderName(crate::name::Repr::Known(k))) {
            return Err(Error::Missing(name));
        }
    }
    for (k, name) in [
        (Known::From, "From"),
        (Known::To, "To"),
        (Known::CallId, "Call-ID"),
        (Known::CSeq, "CSeq"),
        (Known::MaxForwards, "Max-Forwards"),
        (Known::ContentLength, "Content-Length"),
    ] {
        if h.hot_repeated(k) {
            return Err(Error::Duplicate(name));
        }
    }
    // Single-valued headers that are not indexed: one pass counts them.
    let mut seen = [false; 4];
    for e in &h.entries {
        let (i, name) = match e.known {
            Some(Known::ContentType) => (0, "Content-Type"),
            Some(Known::Expires) => (1, "Expires"),
            Some(Known::MinExpires) => (2, "Min-Expires"),
            Some(Known::Date) => (3, "Date"),
            _ => continue,
        };
        if seen[i] {
            return Err(Error::Duplicate(name));
        }
        seen[i] = true;
    }
    let vias = each::<Via<'_>>(h)?;
    if vias > limits.max_vias {
        return Err(Error::Limit("Via count"));
    }
    each::<From<'_>>(h)?;
    each::<To<'_>>(h)?;
    each::<CallId<'_>>(h)?;
    let cseq = h.typed::<CSeq>()?.ok_or(Error::Missing("CSeq"))?;
    Ok(cseq)
}

fn check_request(req: &Request, config: &TriageConfig) -> Check {
    let h = req.headers();
    let cseq = check_common(h, &config.limits).map_err(bad)?;
    (|| -> Result<(), Error> {
        each::<MaxForwards>(h)?;
        check_contacts(h)?;
        each::<Route<'_>>(h)?;
        each::<RecordRoute<'_>>(h)?;
        each::<Path<'_>>(h)?;
        each::<Expires>(h)?;
        each::<MinExpires>(h)?;
        each::<ContentType<'_>>(h)?;
        each::<Date<'_>>(h)?;
        each::<Require<'_>>(h)?;
        each::<ProxyRequire<'_>>(h)?;
        each::<Supported<'_>>(h)?;
        Ok(())
    })()
    .map_err(bad)?;
    if &cseq.method != req.method() {
        let status = if req.method().is_known() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::NOT_IMPLEMENTED
        };
        return Err((status, Error::CSeqMismatch));
    }
    let uri = req.uri();
    if let Uri::Sip(sip) = &uri
        && sip.headers().is_some()
    {
        return Err(bad(Error::RequestUri(
            "headers are not allowed in a Request-URI",
        )));
    }
    let scheme = uri.scheme();
    if !config
        .uri_schemes
        .iter()
        .any(|s| s.eq_ignore_ascii_case(scheme))
    {
        return Err((
            StatusCode::UNSUPPORTED_URI_SCHEME,
            Error::RequestUri("unsupported URI scheme"),
        ));
    }
    Ok(())
}

/// Every Contact value well-formed, and `*` only as the whole Contact
/// (RFC 3261 §20.10 grammar: `STAR / (contact-param *(COMMA contact-param))`).
fn check_contacts(h: &Headers) -> Result<(), Error> {
    let (mut n, mut star) = (0usize, false);
    for c in h.typed_all::<Contact<'_>>() {
        star |= c?.is_star();
        n += 1;
    }
    if star && n > 1 {
        return Err(Error::Header {
            header: "Contact",
            detail: "'*' together with other values",
        });
    }
    Ok(())
}

fn check_response(resp: &Response, config: &TriageConfig) -> Result<(), Error> {
    let h = resp.headers();
    check_common(h, &config.limits)?;
    // The dialog a UA builds from a response rests on these (§12.1.2).
    check_contacts(h)?;
    each::<RecordRoute<'_>>(h)?;
    // A Via sent-by that is the IPv4 broadcast address can only be an attack
    // or a mistake (RFC 4475 §3.3.10): neither a UA nor a proxy may act on it.
    for via in resp.vias() {
        if let HostKind::Ipv4(a) = via?.host().kind()
            && a.is_broadcast()
        {
            return Err(Error::Syntax("broadcast address in Via"));
        }
    }
    Ok(())
}

/// Builds a stateless response from the raw lines of a request that did not
/// parse: copies its Via, From, To, Call-ID and CSeq lines as they are.
fn salvage_response(raw: &[u8], status: StatusCode, reason: &str) -> Option<Response> {
    let mut resp = Response::new(status, Some(reason)).ok()?;
    let mut found = [false; 5];
    let mut lines = raw
        .split(|&c| c == b'\n')
        .skip_while(|l| l.is_empty() || *l == b"\r");
    lines.next()?; // start line
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let Ok(name) = HeaderName::from_bytes(scan::trim_lws(&line[..colon])) else {
            continue;
        };
        let idx = match name.known() {
            Some(Known::Via) => 0,
            Some(Known::From) => 1,
            Some(Known::To) => 2,
            Some(Known::CallId) => 3,
            Some(Known::CSeq) => 4,
            _ => continue,
        };
        let Ok(value) = std::str::from_utf8(scan::trim_lws(&line[colon + 1..])) else {
            continue;
        };
        if idx != 0 && found[idx] {
            continue;
        }
        resp.push_header(&name, value).ok()?;
        found[idx] = true;
    }
    // Whatever else is missing, a Via lets the answer go back (RFC 4475
    // §3.1.2.14 expects a 400 to a request without Call-ID, From and To).
    if !found[0] {
        return None;
    }
    resp.push_header(&HeaderName::CONTENT_LENGTH, "0").ok()?;
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Triage {
        triage(
            Bytes::copy_from_slice(s.as_bytes()),
            &TriageConfig::default(),
        )
    }

    const GOOD: &str = "OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

    fn reject_status(s: &str) -> u16 {
        match t(s) {
            Triage::Reject(r) => r.status().as_u16(),
            other => panic!("expected reject, got {other:?}"),
        }
    }

    #[test]
    fn accept_good() {
        assert!(matches!(t(GOOD), Triage::Accept(_)));
    }

    #[test]
    fn rejects_with_statuses() {
        assert_eq!(
            reject_status(&GOOD.replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE")),
            400
        );
        assert_eq!(
            reject_status(&GOOD.replace("SIP/2.0\r\nVia", "SIP/3.0\r\nVia")),
            505
        );
        assert_eq!(
            reject_status(&GOOD.replace("sip:bob@example.com SIP", "foo:bar SIP")),
            416
        );
        assert_eq!(reject_status(&GOOD.replace("Call-ID: c1\r\n", "")), 400);
        assert_eq!(
            reject_status(&GOOD.replace("Max-Forwards: 70", "Max-Forwards: 256")),
            400
        );
        let big = GOOD.replace("Max-Forwards: 70", &format!("X: {}", "a".repeat(70_000)));
        assert_eq!(reject_status(&big), 513);
        let via = "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n";
        let many_vias = GOOD.replace(via, &via.repeat(71));
        assert_eq!(reject_status(&many_vias), 513);
    }

    #[test]
    fn rejection_response_echoes_transaction_headers() {
        let Triage::Reject(r) = t(&GOOD.replace("Max-Forwards: 70", "Max-Forwards: x")) else {
            panic!()
        };
        let resp = r.response(Some("srv1")).unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(resp.reason(), b"Bad Max-Forwards Header");
        assert_eq!(resp.via().unwrap().branch(), Some("z9hG4bK1"));
        assert_eq!(resp.to().unwrap().tag(), Some("srv1"));
        assert_eq!(resp.cseq().unwrap().seq, 1);
        // salvage path: the request line is broken
        let Triage::Reject(r) = t(&GOOD.replace(
            "OPTIONS sip:bob@example.com SIP/2.0",
            "OPTIONS  sip:bob@example.com SIP/2.0",
        )) else {
            panic!()
        };
        assert!(r.request().is_none());
        let resp = r.response(None).unwrap();
        let again = Message::parse(resp.to_bytes()).unwrap();
        assert_eq!(again.call_id().unwrap().as_str(), "c1");
    }

    fn reject_reason(s: &str) -> String {
        match t(s) {
            Triage::Reject(r) => format!("{} {}", r.status().as_u16(), r.reason()),
            other => panic!("expected reject, got {other:?}"),
        }
    }

    const OK: &str = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <sip:bob@192.0.2.4>\r\nRecord-Route: <sip:p.example.com;lr>\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn single_valued_headers_may_not_repeat() {
        let cl = "Content-Length: 0\r\n";
        assert_eq!(
            reject_reason(&GOOD.replace(cl, &cl.repeat(2))),
            "400 Multiple Content-Length Headers"
        );
        for (line, name) in [
            ("Expires: 10\r\nExpires: 20\r\n", "Expires"),
            ("Min-Expires: 10\r\nMin-Expires: 10\r\n", "Min-Expires"),
            (
                "Content-Type: application/sdp\r\nc: text/plain\r\n",
                "Content-Type",
            ),
            (
                "Date: Sat, 13 Nov 2010 23:29:00 GMT\r\nDate: Sat, 13 Nov 2010 23:29:00 GMT\r\n",
                "Date",
            ),
        ] {
            let msg = GOOD.replace(cl, &format!("{line}{cl}"));
            assert_eq!(
                reject_reason(&msg),
                format!("400 Multiple {name} Headers"),
                "{line}"
            );
            // Once is fine.
            let first = &line[..line.find('\n').unwrap() + 1];
            let once = GOOD.replace(cl, &format!("{first}{cl}"));
            assert!(matches!(t(&once), Triage::Accept(_)), "{first}");
        }
    }

    #[test]
    fn a_star_contact_stands_alone() {
        let cl = "Content-Length: 0\r\n";
        for contacts in [
            "Contact: *, <sip:bob@192.0.2.4>\r\n",
            "Contact: <sip:bob@192.0.2.4>, *\r\n",
            "Contact: *\r\nContact: <sip:bob@192.0.2.4>\r\n",
            "Contact: *\r\nContact: *\r\n",
        ] {
            let msg = GOOD.replace(cl, &format!("{contacts}{cl}"));
            assert_eq!(reject_status(&msg), 400, "{contacts}");
        }
        let alone = GOOD.replace(cl, &format!("Contact: *\r\n{cl}"));
        assert!(matches!(t(&alone), Triage::Accept(_)));
    }

    #[test]
    fn responses_with_a_broken_contact_or_record_route_are_dropped() {
        assert!(matches!(t(OK), Triage::Accept(_)));
        for (from, to) in [
            (
                "Contact: <sip:bob@192.0.2.4>",
                "Contact: <sip:bob@192.0.2.4",
            ),
            (
                "Contact: <sip:bob@192.0.2.4>",
                "Contact: *, <sip:b@h.example>",
            ),
            (
                "Record-Route: <sip:p.example.com;lr>",
                "Record-Route: sip:p.example.com",
            ),
            (
                "Content-Length: 0",
                "Content-Length: 0\r\nContent-Length: 0",
            ),
        ] {
            assert!(matches!(t(&OK.replace(from, to)), Triage::Drop(_)), "{to}");
        }
    }

    #[test]
    fn a_tab_in_the_request_line_is_a_bad_request_not_garbage() {
        let msg = GOOD.replace("OPTIONS sip:", "OPTIONS\tsip:");
        assert_eq!(reject_status(&msg), 400);
    }

    #[test]
    fn any_mix_of_line_breaks_before_the_start_line_is_ignored() {
        for lead in ["\n\r\n", "\r\n\n\r\n", "\r\r\n", "\n\n"] {
            assert!(
                matches!(t(&format!("{lead}{GOOD}")), Triage::Accept(_)),
                "{lead:?}"
            );
            assert!(
                matches!(t(&format!("{lead}{OK}")), Triage::Accept(_)),
                "{lead:?}"
            );
        }
    }

    #[test]
    fn a_request_missing_from_to_call_id_is_still_answered() {
        // RFC 4475 §3.1.2.14 (insuf): the 400 goes back along the Via.
        let msg = GOOD
            .replace("From: <sip:a@example.com>;tag=1\r\n", "")
            .replace("To: <sip:bob@example.com>\r\n", "")
            .replace("Call-ID: c1\r\n", "");
        let Triage::Reject(r) = t(&msg) else { panic!() };
        let resp = r.response(Some("x")).unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(resp.via().unwrap().branch(), Some("z9hG4bK1"));
        assert_eq!(resp.cseq().unwrap().seq, 1);
        assert!(resp.call_id().is_err());
        // The same through the salvage path (a broken request line).
        let broken = msg.replace("OPTIONS sip:", "OPTIONS  sip:");
        let Triage::Reject(r) = t(&broken) else {
            panic!()
        };
        assert!(r.request().is_none());
        let resp = r.response(None).unwrap();
        assert_eq!(resp.via().unwrap().branch(), Some("z9hG4bK1"));
        // Without a Via there is nowhere to send it.
        let no_via = GOOD.replace("Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n", "");
        let Triage::Reject(r) = t(&no_via) else {
            panic!()
        };
        assert!(r.response(None).is_none());
    }

    #[test]
    fn drops() {
        assert!(matches!(t("\r\n\r\n"), Triage::Drop(_)));
        assert!(matches!(t("\u{1}\u{2}garbage"), Triage::Drop(_)));
        assert!(matches!(
            t("SIP/2.0 200 OK\r\nVia: bad\r\n\r\n"),
            Triage::Drop(_)
        ));
        let ack = GOOD
            .replace("OPTIONS", "ACK")
            .replace("Max-Forwards: 70", "Max-Forwards: x");
        assert!(matches!(t(&ack), Triage::Drop(_)));
    }
}
