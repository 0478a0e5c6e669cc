//! Requests and responses: parsing, field access, editing and serialisation.
//!
//! A parsed message keeps the received [`Bytes`] and records where its start
//! line, header fields and body are. Header values are read in place; typed
//! views are decoded on demand. Edits (push a Via, pop a Route, set a header)
//! write only the new text to a side buffer and rearrange the field list, so
//! [`Request::to_bytes`] copies unchanged fields verbatim from the received
//! bytes, and an unedited message serialises to exactly the bytes received
//! (zero-copy: it is a slice of the same buffer).

use std::fmt;

use bytes::Bytes;

use crate::error::Error;
use crate::header::{
    CSeq, CallId, Contact, ContentType, From, MaxForwards, RecordRoute, Route, To, TypedHeader, Via,
};
use crate::headers::{Entry, Headers, Span, Src, TypedIter};
use crate::limits::Limits;
use crate::method::Method;
use crate::name::{HeaderName, Known, Repr};
use crate::scan;
use crate::status::StatusCode;
use crate::uri::{Uri, UriLayout};

/// A SIP request or response.
#[derive(Clone, Debug)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

/// A SIP request.
#[derive(Clone)]
pub struct Request {
    method: Method,
    uri: UriLayout,
    uri_span: Span,
    parts: Parts,
}

/// A SIP response.
#[derive(Clone)]
pub struct Response {
    status: StatusCode,
    reason: Span,
    parts: Parts,
}

/// What requests and responses share.
#[derive(Clone)]
struct Parts {
    /// The start line including its line terminator (in `headers.buf` or, once
    /// edited, `headers.extra`).
    start: Span,
    start_src: Src,
    headers: Headers,
    body: Body,
    /// Offset of the start line in the received buffer (leading CRLFs skipped).
    head_start: u32,
    edited: bool,
}

/// Where a message's body is.
#[derive(Clone)]
enum Body {
    /// Octets of the received buffer (`headers.buf`); slicing the buffer into
    /// a `Bytes` at parse time would cost an allocation per message with a body.
    Received(Span),
    /// Given to `set_body`, or empty in a built message.
    Set(Bytes),
}

impl Message {
    /// Parses one message with the default [`Limits`].
    ///
    /// Datagram semantics (UDP, WebSocket frames, and complete frames from the
    /// [`Framer`](crate::Framer)): leading CRLFs are skipped; the body is
    /// `Content-Length` octets when the header is present (octets beyond are
    /// discarded, RFC 3261 §18.3) and the rest of `buf` otherwise. A datagram
    /// that ends right after a complete header field, without the empty line,
    /// is taken to have ended its header section there (no body).
    ///
    /// This checks the message's framing and grammar at the line level: start
    /// line, header field syntax, Content-Length. It does not validate every
    /// header value; [`triage`](crate::triage) does that for the headers an
    /// element relies on.
    pub fn parse(buf: Bytes) -> Result<Message, Error> {
        Self::parse_with(buf, &Limits::default())
    }

    /// Parses one message with the given limits.
    pub fn parse_with(buf: Bytes, limits: &Limits) -> Result<Message, Error> {
        parse(buf, limits)
    }

    /// Parses a copy of `buf`.
    pub fn parse_slice(buf: &[u8]) -> Result<Message, Error> {
        Self::parse(Bytes::copy_from_slice(buf))
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self, Message::Request(_))
    }

    /// The request, if this is one.
    pub fn as_request(&self) -> Option<&Request> {
        match self {
            Message::Request(r) => Some(r),
            Message::Response(_) => None,
        }
    }

    /// The response, if this is one.
    pub fn as_response(&self) -> Option<&Response> {
        match self {
            Message::Response(r) => Some(r),
            Message::Request(_) => None,
        }
    }

    fn parts(&self) -> &Parts {
        match self {
            Message::Request(r) => &r.parts,
            Message::Response(r) => &r.parts,
        }
    }

    fn parts_mut(&mut self) -> &mut Parts {
        match self {
            Message::Request(r) => &mut r.parts,
            Message::Response(r) => &mut r.parts,
        }
    }
}

/// Accessors and edits shared by [`Request`], [`Response`] and [`Message`].
macro_rules! common {
    ($ty:ty) => {
        impl $ty {
            /// The header fields.
            #[inline]
            pub fn headers(&self) -> &Headers {
                &self.parts().headers
            }

            /// The body's octets.
            #[inline]
            pub fn body(&self) -> &[u8] {
                self.parts().body()
            }

            /// The body as [`Bytes`]: a slice of the received buffer (no copy)
            /// or the buffer given to `set_body`.
            pub fn body_bytes(&self) -> Bytes {
                self.parts().body_bytes()
            }

            /// The first value of typed header `H`; `Ok(None)` when absent.
            #[inline]
            pub fn typed<'h, H: TypedHeader<'h>>(&'h self) -> Result<Option<H>, Error> {
                self.parts().headers.typed::<H>()
            }

            /// Every value of typed header `H`, in order.
            #[inline]
            pub fn typed_all<'h, H: TypedHeader<'h>>(&'h self) -> TypedIter<'h, H> {
                self.parts().headers.typed_all::<H>()
            }

            /// The top (first) Via value.
            #[inline]
            pub fn via(&self) -> Result<Via<'_>, Error> {
                required(self.typed::<Via<'_>>(), "Via")
            }

            /// All Via values, top first.
            pub fn vias(&self) -> TypedIter<'_, Via<'_>> {
                self.typed_all()
            }

            /// `From`.
            #[inline]
            pub fn from(&self) -> Result<From<'_>, Error> {
                required(self.typed::<From<'_>>(), "From")
            }

            /// `To`.
            #[inline]
            pub fn to(&self) -> Result<To<'_>, Error> {
                required(self.typed::<To<'_>>(), "To")
            }

            /// `Call-ID`.
            #[inline]
            pub fn call_id(&self) -> Result<CallId<'_>, Error> {
                required(self.typed::<CallId<'_>>(), "Call-ID")
            }

            /// `CSeq`.
            #[inline]
            pub fn cseq(&self) -> Result<CSeq, Error> {
                required(self.typed::<CSeq>(), "CSeq")
            }

            /// `Max-Forwards`, if present.
            pub fn max_forwards(&self) -> Result<Option<u8>, Error> {
                self.typed::<MaxForwards>().map(|m| m.map(|m| m.0))
            }

            /// All Contact values.
            pub fn contacts(&self) -> TypedIter<'_, Contact<'_>> {
                self.typed_all()
            }

            /// All Route values, top first.
            pub fn routes(&self) -> TypedIter<'_, Route<'_>> {
                self.typed_all()
            }

            /// All Record-Route values, top first.
            pub fn record_routes(&self) -> TypedIter<'_, RecordRoute<'_>> {
                self.typed_all()
            }

            /// `Content-Type`, if present.
            pub fn content_type(&self) -> Result<Option<ContentType<'_>>, Error> {
                self.typed()
            }

            /// Whether the message was edited since it was parsed.
            pub fn is_edited(&self) -> bool {
                self.parts().edited
            }

            /// The message's wire form. Unedited parsed messages return a slice of
            /// the received buffer (no copy); edited ones copy unchanged fields
            /// verbatim.
            pub fn to_bytes(&self) -> Bytes {
                self.parts().to_bytes()
            }

            /// The length of the wire form ([`Self::to_bytes`]), without
            /// writing it.
            pub fn wire_len(&self) -> usize {
                self.parts().encoded_len()
            }

            /// Appends the wire form to `out`.
            pub fn write_to(&self, out: &mut Vec<u8>) {
                self.parts().write_to(out)
            }

            /// Appends `name: value` after the last header field.
            pub fn push_header(&mut self, name: &HeaderName, value: &str) -> Result<(), Error> {
                self.parts_mut().push_header(name, value)
            }

            /// Appends a typed header after the last header field.
            pub fn push_typed<'h, H: TypedHeader<'h>>(&mut self, value: &H) -> Result<(), Error> {
                self.parts_mut().push_header(&H::NAME, &value.to_string())
            }

            /// Inserts `name: value` before the first field of the same name (or,
            /// when there is none, right after the Via fields): the top of a
            /// list header such as Via, Route or Record-Route.
            pub fn insert_header_top(
                &mut self,
                name: &HeaderName,
                value: &str,
            ) -> Result<(), Error> {
                self.parts_mut().insert_top(name, value)
            }

            /// Replaces every field named `name` with one `name: value` where the
            /// first one was (appended when absent).
            pub fn set_header(&mut self, name: &HeaderName, value: &str) -> Result<(), Error> {
                self.parts_mut().set_header(name, value)
            }

            /// Replaces typed header `H` with `value` (see [`Self::set_header`]).
            pub fn set_typed<'h, H: TypedHeader<'h>>(&mut self, value: &H) -> Result<(), Error> {
                self.parts_mut().set_header(&H::NAME, &value.to_string())
            }

            /// Removes every field named `name`; returns how many were removed.
            pub fn remove_header(&mut self, name: &HeaderName) -> usize {
                self.parts_mut().remove_header(name)
            }

            /// Pushes a new top Via (what a proxy does before forwarding).
            pub fn push_via(&mut self, via: &Via<'_>) -> Result<(), Error> {
                self.parts_mut()
                    .insert_top(&HeaderName::VIA, crate::scan::trim_lws_str(via.as_str()))
            }

            /// Removes the top Via value (what a proxy does to a response); returns it.
            pub fn pop_via(&mut self) -> Result<Option<Via<'static>>, Error> {
                match self.parts_mut().pop_element(&HeaderName::VIA) {
                    Some(s) => Via::parse_owned(s).map(Some),
                    None => Ok(None),
                }
            }

            /// Removes the top Route value (RFC 3261 §16.4); returns it.
            pub fn pop_route(&mut self) -> Result<Option<Route<'static>>, Error> {
                match self.parts_mut().pop_element(&HeaderName::ROUTE) {
                    Some(s) => Route::parse_owned(s)
                        .map(Some)
                        .map_err(|e| e.in_header("Route")),
                    None => Ok(None),
                }
            }

            /// Adds a Record-Route value on top (RFC 3261 §16.6 step 4).
            pub fn push_record_route(
                &mut self,
                rr: &crate::header::NameAddr<'_>,
            ) -> Result<(), Error> {
                self.parts_mut().insert_top(
                    &HeaderName::RECORD_ROUTE,
                    crate::scan::trim_lws_str(rr.as_str()),
                )
            }

            /// Replaces the body and sets Content-Length to match; sets or removes
            /// Content-Type (`None` removes it).
            pub fn set_body(
                &mut self,
                body: Bytes,
                content_type: Option<&str>,
            ) -> Result<(), Error> {
                self.parts_mut().set_body(body, content_type)
            }
        }
    };
}

common!(Message);

impl Request {
    fn parts(&self) -> &Parts {
        &self.parts
    }
    fn parts_mut(&mut self) -> &mut Parts {
        &mut self.parts
    }
}

impl Response {
    fn parts(&self) -> &Parts {
        &self.parts
    }
    fn parts_mut(&mut self) -> &mut Parts {
        &mut self.parts
    }
}

common!(Request);
common!(Response);

fn required<T>(v: Result<Option<T>, Error>, name: &'static str) -> Result<T, Error> {
    v?.ok_or(Error::Missing(name))
}

impl Request {
    /// A new request with an empty header list; add fields with the editing
    /// methods. The Request-URI's headers component, if any, is kept as given.
    pub fn new(method: Method, uri: &Uri<'_>) -> Request {
        let mut headers = Headers::new(Bytes::new(), 16);
        let line = format!("{} {} SIP/2.0\r\n", method, uri);
        let start = headers.store_extra(line.as_bytes());
        let us = start.start as usize + method.as_str().len() + 1;
        Request {
            method,
            uri: uri.layout(),
            uri_span: Span::new(us, us + uri.as_str().len()),
            parts: Parts {
                start,
                start_src: Src::Extra,
                headers,
                body: Body::Set(Bytes::new()),
                head_start: 0,
                edited: true,
            },
        }
    }

    /// Replaces the top Via value with `via` (the stamping of RFC 3261
    /// §18.2.1); false, and nothing changed, when there is no Via or `via`
    /// cannot be a header value.
    pub(crate) fn replace_top_via(&mut self, via: &str) -> bool {
        if check_value(via).is_err() {
            return false;
        }
        let parts = self.parts_mut();
        parts.drop_element(&HeaderName::VIA) && parts.insert_top(&HeaderName::VIA, via).is_ok()
    }

    /// The method.
    #[inline]
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The Request-URI.
    #[inline]
    pub fn uri(&self) -> Uri<'_> {
        let text = self.parts.headers.text(self.parts.start_src, self.uri_span);
        // The span holds the URI text that was parsed (ASCII), so this is exact.
        self.uri
            .refill(simdutf8::basic::from_utf8(text).unwrap_or(""))
    }

    /// Replaces the Request-URI.
    pub fn set_uri(&mut self, uri: &Uri<'_>) {
        let line = format!("{} {} SIP/2.0\r\n", self.method, uri);
        let start = self.parts.headers.store_extra(line.as_bytes());
        let us = start.start as usize + self.method.as_str().len() + 1;
        self.parts.start = start;
        self.parts.start_src = Src::Extra;
        self.uri = uri.layout();
        self.uri_span = Span::new(us, us + uri.as_str().len());
        self.parts.edited = true;
    }

    /// A response to this request (RFC 3261 §8.2.6): status line, the Via
    /// fields, From, To (with `to_tag` added when To has no tag), Call-ID,
    /// CSeq, Record-Route for 101–299 responses (§12.1.1), and
    /// `Content-Length: 0`. Unchanged fields are shared with the request's
    /// buffer, not copied.
    ///
    /// `reason` defaults to the status's canonical phrase.
    pub fn make_response(
        &self,
        status: StatusCode,
        reason: Option<&str>,
        to_tag: Option<&str>,
    ) -> Result<Response, Error> {
        let src = &self.parts.headers;
        let mut headers = Headers::new(src.buf.clone(), 12);
        let reason = reason.unwrap_or_else(|| status.canonical_reason());
        check_reason(reason)?;
        let line = status_line(status, reason);
        let start = headers.store_extra(line.as_bytes());
        let rs = start.start as usize + 12;
        let reason_span = Span::new(rs, rs + reason.len());
        let copy_rr = (101..300).contains(&status.as_u16());
        for e in &src.entries {
            let keep = match e.known {
                Some(Known::Via | Known::From | Known::CallId | Known::CSeq) => true,
                Some(Known::RecordRoute) => copy_rr,
                // §8.2.6.1: a 100 (Trying) echoes the request's Timestamp.
                Some(Known::Timestamp) => status.as_u16() == 100,
                Some(Known::To) => true,
                _ => false,
            };
            if !keep {
                continue;
            }
            if e.known == Some(Known::To)
                && let Some(tag) = to_tag
            {
                let to: To<'_> = src.typed::<To<'_>>()?.ok_or(Error::Missing("To"))?;
                if to.tag().is_none() {
                    let tagged = to.with_param("tag", Some(tag))?;
                    let entry = headers.make_entry(
                        &HeaderName::TO,
                        scan::trim_lws_str(tagged.as_str()).as_bytes(),
                    );
                    headers.entries.push(entry);
                    continue;
                }
            }
            let entry = match e.src {
                Src::Buf => *e,
                Src::Extra => {
                    let name = HeaderName::from_bytes(src.text(e.src, e.name))?;
                    headers.make_entry(&name, src.text(e.src, e.value))
                }
            };
            headers.entries.push(entry);
        }
        let cl = headers.make_entry(&HeaderName::CONTENT_LENGTH, b"0");
        headers.entries.push(cl);
        headers.reindex();
        Ok(Response {
            status,
            reason: reason_span,
            parts: Parts {
                start,
                start_src: Src::Extra,
                headers,
                body: Body::Set(Bytes::new()),
                head_start: 0,
                edited: true,
            },
        })
    }
}

impl Response {
    /// Removes the top Via value without parsing it (a proxy dropping its
    /// own, which the transaction layer already read to match the
    /// response); false when there is none.
    pub(crate) fn drop_top_via(&mut self) -> bool {
        self.parts.drop_element(&HeaderName::VIA)
    }

    /// A new response with an empty header list.
    pub fn new(status: StatusCode, reason: Option<&str>) -> Result<Response, Error> {
        let reason = reason.unwrap_or_else(|| status.canonical_reason());
        check_reason(reason)?;
        let mut headers = Headers::new(Bytes::new(), 12);
        let line = status_line(status, reason);
        let start = headers.store_extra(line.as_bytes());
        let rs = start.start as usize + 12;
        Ok(Response {
            status,
            reason: Span::new(rs, rs + reason.len()),
            parts: Parts {
                start,
                start_src: Src::Extra,
                headers,
                body: Body::Set(Bytes::new()),
                head_start: 0,
                edited: true,
            },
        })
    }

    /// The status code.
    #[inline]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The reason phrase as received (may be empty or contain UTF-8).
    pub fn reason(&self) -> &[u8] {
        self.parts.headers.text(self.parts.start_src, self.reason)
    }

    /// Replaces the status line.
    pub fn set_status(&mut self, status: StatusCode, reason: Option<&str>) -> Result<(), Error> {
        let reason = reason.unwrap_or_else(|| status.canonical_reason());
        check_reason(reason)?;
        let line = status_line(status, reason);
        let start = self.parts.headers.store_extra(line.as_bytes());
        let rs = start.start as usize + 12;
        self.status = status;
        self.reason = Span::new(rs, rs + reason.len());
        self.parts.start = start;
        self.parts.start_src = Src::Extra;
        self.parts.edited = true;
        Ok(())
    }
}

impl Parts {
    fn to_bytes(&self) -> Bytes {
        if !self.edited {
            return self.headers.buf.slice(self.head_start as usize..);
        }
        let mut out = Vec::with_capacity(self.encoded_len());
        self.write_to(&mut out);
        Bytes::from(out)
    }

    fn body(&self) -> &[u8] {
        match &self.body {
            Body::Received(span) => &self.headers.buf[span.range()],
            Body::Set(b) => b,
        }
    }

    fn body_bytes(&self) -> Bytes {
        match &self.body {
            Body::Received(span) => self.headers.buf.slice(span.range()),
            Body::Set(b) => b.clone(),
        }
    }

    /// The exact length of the wire form.
    fn encoded_len(&self) -> usize {
        if !self.edited {
            return self.headers.buf.len() - self.head_start as usize;
        }
        let body = self.body().len();
        (self.start.end - self.start.start) as usize
            + self.headers.lines_len()
            + if self.needs_content_length() {
                // "Content-Length: " + the digits + CRLF
                16 + body.checked_ilog10().map_or(1, |d| d as usize + 1) + 2
            } else {
                0
            }
            + 2
            + body
    }

    /// An edited message without Content-Length gets one when written: the
    /// edit may be for a stream transport, where a missing Content-Length
    /// means no body (§18.3, §20.14) and the body received in a datagram
    /// would be read as the next message.
    fn needs_content_length(&self) -> bool {
        self.edited && !self.headers.contains(&HeaderName::CONTENT_LENGTH)
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        if !self.edited {
            out.extend_from_slice(&self.headers.buf[self.head_start as usize..]);
            return;
        }
        out.reserve(self.encoded_len());
        out.extend_from_slice(self.headers.text(self.start_src, self.start));
        self.headers.write_lines(out);
        if self.needs_content_length() {
            out.extend_from_slice(b"Content-Length: ");
            out.extend_from_slice(self.body().len().to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(self.body());
    }

    fn push_header(&mut self, name: &HeaderName, value: &str) -> Result<(), Error> {
        check_name(name)?;
        check_value(value)?;
        let n = self.headers.len();
        self.headers.insert_raw(n, name, value.as_bytes());
        self.edited = true;
        Ok(())
    }

    fn insert_top(&mut self, name: &HeaderName, value: &str) -> Result<(), Error> {
        check_name(name)?;
        check_value(value)?;
        let at = match self.headers.position(name) {
            Some(i) => i,
            // None yet: below the Via block, so Via stays first.
            None => self
                .headers
                .iter()
                .rposition(|h| h.is(&HeaderName::VIA))
                .map_or(0, |i| i + 1),
        };
        self.headers.insert_raw(at, name, value.as_bytes());
        self.edited = true;
        Ok(())
    }

    fn set_header(&mut self, name: &HeaderName, value: &str) -> Result<(), Error> {
        check_name(name)?;
        check_value(value)?;
        match self.headers.position(name) {
            Some(at) => {
                self.headers.replace_raw(at, name, value.as_bytes());
                // remove later duplicates
                let mut i = at + 1;
                while i < self.headers.len() {
                    if self.headers.iter().nth(i).is_some_and(|h| h.is(name)) {
                        self.headers.remove_index(i);
                    } else {
                        i += 1;
                    }
                }
            }
            None => {
                let n = self.headers.len();
                self.headers.insert_raw(n, name, value.as_bytes());
            }
        }
        self.edited = true;
        Ok(())
    }

    fn remove_header(&mut self, name: &HeaderName) -> usize {
        let n = self.headers.remove_all(name);
        if n > 0 {
            self.edited = true;
        }
        n
    }

    /// Removes the first element of list header `name`; returns its text.
    fn pop_element(&mut self, name: &HeaderName) -> Option<String> {
        let text = self.headers.pop_first_element(name, true)?;
        self.edited = true;
        Some(
            String::from_utf8(text)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        )
    }

    /// Removes the first element of list header `name` without reading it;
    /// false when there is none.
    fn drop_element(&mut self, name: &HeaderName) -> bool {
        let dropped = self.headers.pop_first_element(name, false).is_some();
        self.edited |= dropped;
        dropped
    }

    fn set_body(&mut self, body: Bytes, content_type: Option<&str>) -> Result<(), Error> {
        match content_type {
            Some(ct) => {
                ContentType::new(ct)?;
                self.set_header(&HeaderName::CONTENT_TYPE, ct)?;
            }
            None => {
                self.remove_header(&HeaderName::CONTENT_TYPE);
            }
        }
        self.set_header(&HeaderName::CONTENT_LENGTH, &body.len().to_string())?;
        self.body = Body::Set(body);
        self.edited = true;
        Ok(())
    }
}

/// `SIP/2.0 <code> <reason>\r\n` (the reason starts at offset 12: codes
/// have three digits).
fn status_line(status: StatusCode, reason: &str) -> String {
    let mut line = String::with_capacity(14 + reason.len());
    line.push_str("SIP/2.0 ");
    scan::push_decimal(&mut line, u64::from(status.as_u16()));
    line.push(' ');
    line.push_str(reason);
    line.push_str("\r\n");
    line
}

/// A reason phrase given to an editor: what the parser takes back (no
/// control characters but HT, RFC 3261 §25.1 `Reason-Phrase`).
fn check_reason(reason: &str) -> Result<(), Error> {
    if reason
        .bytes()
        .any(|c| (c < 0x20 && c != b'\t') || c == 0x7f)
    {
        return Err(Error::Invalid("reason phrase contains a control character"));
    }
    Ok(())
}

/// A header name given to an editor: well-known, or an extension that is a
/// token ([`HeaderName::extension`] and `from_static` do not check).
fn check_name(name: &HeaderName) -> Result<(), Error> {
    match &name.0 {
        Repr::Known(_) => Ok(()),
        Repr::Extension(b) if scan::is_token(b) => Ok(()),
        Repr::Extension(_) => Err(Error::Invalid("header name is not a token")),
    }
}

/// A header value given to an editor must not break the framing: no NUL, and
/// line breaks only as CRLF folds (CRLF followed by SP/HT, §25.1 LWS).
fn check_value(value: &str) -> Result<(), Error> {
    let b = value.as_bytes();
    let mut i = 0;
    while let Some(off) = memchr::memchr3(b'\r', b'\n', 0, &b[i..]) {
        i += off;
        if b[i] == 0 {
            return Err(Error::Invalid("header value contains NUL"));
        }
        if b[i] != b'\r' || b.get(i + 1) != Some(&b'\n') {
            return Err(Error::Invalid("header value contains a lone CR or LF"));
        }
        if !matches!(b.get(i + 2), Some(b' ' | b'\t')) {
            return Err(Error::Invalid("header value contains a line break"));
        }
        i += 2;
    }
    Ok(())
}

// ----- parsing -----

/// Parses `buf`; on failure the error comes back with the buffer (which
/// [`triage`](crate::triage) needs to answer), without a second handle on
/// it (cloning a `Bytes` made from a `Vec` allocates).
pub(crate) fn parse_keeping(mut buf: Bytes, limits: &Limits) -> Result<Message, (Error, Bytes)> {
    match parse_in(&mut buf, limits) {
        Ok(m) => Ok(m),
        Err(e) => Err((e, buf)),
    }
}

fn parse(mut buf: Bytes, limits: &Limits) -> Result<Message, Error> {
    parse_in(&mut buf, limits)
}

/// Parses the message in `buf`, taking the buffer only when it succeeds.
#[inline(always)]
fn parse_in(buf: &mut Bytes, limits: &Limits) -> Result<Message, Error> {
    if buf.len() > limits.max_message_size {
        return Err(Error::Limit("message size"));
    }
    let b: &[u8] = buf;
    // Line breaks before the start line are ignored (§7.5), in any mix.
    let mut start = 0;
    while matches!(b.get(start), Some(b'\r' | b'\n')) {
        start += 1;
    }
    let nl =
        memchr::memchr(b'\n', &b[start..]).ok_or(Error::StartLine("no line terminator"))? + start;
    let content_end = if nl > start && b[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    if content_end - start > limits.max_line_length {
        return Err(Error::Limit("start line length"));
    }
    let line = &b[start..content_end];
    let start_line = StartLine::parse(line, start)?;

    // About one field per 48 bytes; at most 32 entries up front (bodies
    // inflate the length, and 32 entries stay within the allocator's small
    // size classes; longer header sections grow the list).
    let est = (b.len() / 48).clamp(8, 32);
    let mut headers = Headers::new(Bytes::new(), est);
    let mut pos = nl + 1;
    // One vectorised scan yields every line terminator of the header section
    // (a memchr call per line pays its set-up cost on short lines).
    let base = pos;
    let mut newlines = memchr::memchr_iter(b'\n', &b[base..]);
    // A datagram that ends right after a complete header field ends its
    // header section there (the datagram boundary is unambiguous; stream
    // framing never gets here without the empty line).
    while let Some(&c) = b.get(pos) {
        if c == b'\r' && b.get(pos + 1) == Some(&b'\n') {
            pos += 2;
            break;
        }
        if c == b'\n' {
            pos += 1;
            break;
        }
        let name_start = pos;
        // A well-known name right before its colon is recognised from three
        // words; anything else is scanned byte by byte.
        let (name_end, known) = match Known::lookup_field(b, pos) {
            Some((end, known)) => {
                pos = end;
                (end, Some(known))
            }
            None => {
                while pos < b.len() && scan::is(b[pos], scan::TOKEN) {
                    pos += 1;
                }
                if pos == name_start {
                    return Err(if scan::is_wsp(c) {
                        Error::Syntax("continuation line without a header field")
                    } else {
                        Error::Syntax("header field name is not a token")
                    });
                }
                let name_end = pos;
                while pos < b.len() && scan::is_wsp(b[pos]) {
                    pos += 1;
                }
                if b.get(pos) != Some(&b':') {
                    return Err(Error::Syntax("header field without ':'"));
                }
                (name_end, Known::lookup_in(b, name_start, name_end))
            }
        };
        pos += 1;
        let value_start = pos;
        // End of the field: a line terminator not followed by SP/HT.
        let line_end = loop {
            let e = match newlines.next() {
                Some(i) if base + i >= pos => base + i + 1,
                Some(_) => continue,
                None => return Err(Error::Syntax("header field not terminated")),
            };
            match b.get(e) {
                Some(b' ' | b'\t') => continue,
                _ => break e,
            }
        };
        if line_end - name_start > limits.max_line_length {
            return Err(Error::Limit("header field length"));
        }
        // trim the value: the terminator first, then any white space
        let mut vs = value_start;
        let mut ve = line_end - 1;
        if ve > vs && b[ve - 1] == b'\r' {
            ve -= 1;
        }
        // Usually one space after the colon.
        if vs < ve && b[vs] == b' ' {
            vs += 1;
        }
        while vs < ve && matches!(b[vs], b' ' | b'\t' | b'\r' | b'\n') {
            vs += 1;
        }
        while ve > vs && matches!(b[ve - 1], b' ' | b'\t' | b'\r' | b'\n') {
            ve -= 1;
        }
        if headers.len() >= limits.max_headers {
            return Err(Error::Limit("header count"));
        }
        headers.push_parsed(Entry {
            known,
            src: Src::Buf,
            name: Span::new(name_start, name_end),
            value: Span::new(vs, ve),
            line: Span::new(name_start, line_end),
        });
        pos = line_end;
    }
    let body_start = pos;

    // Content-Length: all values must agree.
    let mut content_length = None;
    if let Some(first) = headers.position(&HeaderName::CONTENT_LENGTH) {
        let repeated = headers.hot_repeated(Known::ContentLength);
        for e in &headers.entries[first..] {
            if e.known != Some(Known::ContentLength) {
                continue;
            }
            let v = scan::parse_decimal(&b[e.value.range()], u64::from(u32::MAX)).ok_or(
                Error::Header {
                    header: "Content-Length",
                    detail: "not a non-negative number",
                },
            )? as usize;
            match content_length {
                Some(prev) if prev != v => return Err(Error::Duplicate("Content-Length")),
                _ => content_length = Some(v),
            }
            if !repeated {
                break;
            }
        }
    }
    let end = match content_length {
        Some(n) => body_start
            .checked_add(n)
            .filter(|&e| e <= b.len())
            .ok_or(Error::Truncated)?,
        None => b.len(),
    };
    let buf = std::mem::take(buf);
    let buf = if end == buf.len() {
        buf
    } else {
        buf.slice(..end)
    };
    headers.buf = buf;
    let parts = Parts {
        start: Span::new(start, nl + 1),
        start_src: Src::Buf,
        headers,
        body: Body::Received(Span::new(body_start, end)),
        head_start: start as u32,
        edited: false,
    };
    Ok(match start_line {
        StartLine::Request {
            method,
            uri,
            uri_span,
        } => Message::Request(Request {
            method,
            uri,
            uri_span,
            parts,
        }),
        StartLine::Response { status, reason } => Message::Response(Response {
            status,
            reason,
            parts,
        }),
    })
}

enum StartLine {
    Request {
        method: Method,
        uri: UriLayout,
        uri_span: Span,
    },
    Response {
        status: StatusCode,
        reason: Span,
    },
}

impl StartLine {
    /// Parses a start line (without terminator) found at offset `at`.
    fn parse(line: &[u8], at: usize) -> Result<StartLine, Error> {
        if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
            // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
            let sp = memchr::memchr(b' ', line).ok_or(Error::StartLine("missing status code"))?;
            check_version(&line[..sp])?;
            let rest = &line[sp + 1..];
            let code_end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
            let status = StatusCode::from_bytes(&rest[..code_end])?;
            let reason_start = (sp + 1 + code_end + 1).min(line.len());
            let reason = &line[reason_start..];
            if reason
                .iter()
                .any(|&c| (c < 0x20 && c != b'\t') || c == 0x7f)
            {
                return Err(Error::StartLine("control character in reason phrase"));
            }
            return Ok(StartLine::Response {
                status,
                reason: Span::new(at + reason_start, at + line.len()),
            });
        }
        // Request-Line = Method SP Request-URI SP SIP-Version
        let sp1 = memchr::memchr(b' ', line).ok_or(Error::StartLine("missing Request-URI"))?;
        let method = Method::from_bytes(&line[..sp1])
            .map_err(|_| Error::StartLine("method is not a token"))?;
        let rest = &line[sp1 + 1..];
        let sp2 = memchr::memchr(b' ', rest).ok_or(Error::StartLine("missing SIP-Version"))?;
        let uri_text = &rest[..sp2];
        let version = &rest[sp2 + 1..];
        if uri_text.is_empty() {
            return Err(Error::StartLine("more than one SP between elements"));
        }
        check_version(version)?;
        let uri = UriLayout::parse(uri_text).map_err(|e| match e {
            Error::Syntax(d) => Error::RequestUri(d),
            other => other,
        })?;
        let us = at + sp1 + 1;
        Ok(StartLine::Request {
            method,
            uri,
            uri_span: Span::new(us, us + uri_text.len()),
        })
    }
}

/// `SIP/2.0` (any letter case) passes; another well-formed version is 505; junk
/// is 400.
fn check_version(v: &[u8]) -> Result<(), Error> {
    if v == b"SIP/2.0" || v.eq_ignore_ascii_case(b"SIP/2.0") {
        return Ok(());
    }
    let well_formed = v.len() > 4 && v[..4].eq_ignore_ascii_case(b"SIP/") && {
        let num = &v[4..];
        match memchr::memchr(b'.', num) {
            Some(d) => {
                d > 0
                    && d + 1 < num.len()
                    && num[..d].iter().all(u8::is_ascii_digit)
                    && num[d + 1..].iter().all(u8::is_ascii_digit)
            }
            None => false,
        }
    };
    if well_formed {
        Err(Error::Version)
    } else {
        Err(Error::StartLine("malformed SIP-Version"))
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("uri", &self.uri())
            .field("headers", &self.parts.headers)
            .field("body_len", &self.parts.body().len())
            .finish()
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("reason", &String::from_utf8_lossy(self.reason()))
            .field("headers", &self.parts.headers)
            .field("body_len", &self.parts.body().len())
            .finish()
    }
}
