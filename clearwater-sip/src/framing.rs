//! Stream framing for TCP, TLS and WebSocket byte streams (RFC 3261 §18.3,
//! RFC 5626 §3.5.1 keep-alives).

use crate::error::Error;
use crate::limits::Limits;
use crate::scan;

/// What the front of a stream buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame {
    /// A complete message of this many octets (start line, headers, body):
    /// split it off and hand it to [`Message::parse`](crate::Message::parse) or
    /// [`triage`](crate::triage()).
    Complete(usize),
    /// An RFC 5626 keep-alive ping (`CRLF CRLF`, 4 octets): consume it and
    /// answer with a pong ([`PONG`]).
    Ping,
    /// An RFC 5626 pong, or a stray CRLF before a start line (RFC 3261 §7.5
    /// says to ignore those): consume 2 octets.
    Pong,
    /// More octets are needed.
    Partial,
}

impl Frame {
    /// How many octets to consume, for the complete frames.
    pub fn len(&self) -> usize {
        match self {
            Frame::Complete(n) => *n,
            Frame::Ping => 4,
            Frame::Pong => 2,
            Frame::Partial => 0,
        }
    }

    /// Whether nothing can be consumed yet.
    pub fn is_empty(&self) -> bool {
        matches!(self, Frame::Partial)
    }
}

/// `memchr` for line ends; under test, counts the octets it looked at.
fn find_nl(hay: &[u8]) -> Option<usize> {
    let r = memchr::memchr(b'\n', hay);
    #[cfg(test)]
    tests::SEARCHED.with(|c| c.set(c.get() + r.map_or(hay.len(), |i| i + 1)));
    r
}

/// How far [`Framer::frame_resume`] got in a stream's buffer (opaque;
/// start from `FrameScan::default()`).
#[derive(Clone, Debug, Default)]
pub struct FrameScan {
    /// Start of the next header line to examine (0: the start line is not
    /// complete yet).
    pos: usize,
    /// Where the search for the current line's end resumes.
    search: usize,
    headers: usize,
    content_length: Option<usize>,
    /// The message's whole length, once its header section is complete.
    total: Option<usize>,
}

/// The keep-alive answer to a [`Frame::Ping`].
pub const PONG: &[u8] = b"\r\n";

/// The keep-alive a client sends (RFC 5626 §3.5.1).
pub const PING: &[u8] = b"\r\n\r\n";

/// Splits a byte stream into SIP messages.
///
/// Stateless: call [`Framer::frame`] on the unconsumed front of the receive
/// buffer whenever bytes arrive; it never looks beyond the first frame.
/// Framing errors are fatal for the stream (the message boundary is lost): send
/// the error's status if the peer can take it, then close the connection.
///
/// A message without Content-Length is taken to have an empty body (the
/// header is mandatory on streams, RFC 3261 §18.3, so this is the only length
/// that keeps the stream in sync). A lone CRLF is reported as
/// [`Frame::Pong`] rather than waiting to see whether a second CRLF follows
/// (clients write their 4-octet pings in one go); a reader that sees two lone
/// CRLFs in a row takes them for a ping split across reads (the runtime's TCP
/// reader answers them with a pong).
#[derive(Clone, Debug, Default)]
pub struct Framer {
    limits: Limits,
}

impl Framer {
    /// A framer enforcing `limits` (message size, header count, field length).
    pub fn new(limits: Limits) -> Framer {
        Framer { limits }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Finds the first frame at the front of `buf`.
    pub fn frame(&self, buf: &[u8]) -> Result<Frame, Error> {
        self.frame_resume(buf, &mut FrameScan::default())
    }

    /// [`frame`](Framer::frame) for a buffer that grows between calls:
    /// `scan` remembers how far the previous calls got, so each call looks
    /// only at what they had not settled (a message trickled in one byte at
    /// a time costs linear, not quadratic, work). Keep one `scan` per stream;
    /// it resets itself whenever a frame is returned (the caller then
    /// consumes those octets from the front) and after an error. Give it
    /// the same buffer, only ever extended at the end.
    pub fn frame_resume(&self, buf: &[u8], scan: &mut FrameScan) -> Result<Frame, Error> {
        let r = self.frame_at(buf, scan);
        if !matches!(r, Ok(Frame::Partial)) {
            *scan = FrameScan::default();
        }
        r
    }

    fn frame_at(&self, buf: &[u8], st: &mut FrameScan) -> Result<Frame, Error> {
        // A scan from a longer buffer (the caller did not keep to the
        // contract) starts again rather than slicing past the end.
        if st.search > buf.len() || st.pos > buf.len() {
            *st = FrameScan::default();
        }
        if st.pos == 0 {
            match buf {
                [] | [b'\r'] | [b'\r', b'\n', b'\r'] => return Ok(Frame::Partial),
                [b'\r', b'\n', b'\r', b'\n', ..] => return Ok(Frame::Ping),
                [b'\r', b'\n', ..] => return Ok(Frame::Pong),
                _ => {}
            }
            // Start line.
            let from = st.search.min(buf.len());
            let Some(nl) = find_nl(&buf[from..]).map(|i| from + i) else {
                st.search = buf.len();
                return self.partial_or_limit(buf.len());
            };
            if nl > self.limits.max_line_length {
                return Err(Error::Limit("start line length"));
            }
            st.pos = nl + 1;
            st.search = st.pos;
        }
        if let Some(total) = st.total {
            return Ok(if buf.len() < total {
                Frame::Partial
            } else {
                Frame::Complete(total)
            });
        }
        loop {
            // At the start of a header line or the empty line.
            match buf.get(st.pos..) {
                None | Some([]) | Some([b'\r']) => return self.partial_or_limit(buf.len()),
                Some([b'\r', b'\n', ..]) => {
                    st.pos += 2;
                    break;
                }
                Some([b'\n', ..]) => {
                    st.pos += 1;
                    break;
                }
                Some(_) => {}
            }
            // One header field, with its continuation lines; the search for
            // its end resumes where the previous call stopped.
            let start = st.pos;
            let mut e = st.search.max(start);
            let end = loop {
                let Some(i) = find_nl(&buf[e..]) else {
                    st.search = buf.len();
                    return self.field_partial(buf.len(), start);
                };
                e += i + 1;
                match buf.get(e) {
                    Some(b' ' | b'\t') => continue,
                    // Cannot tell yet whether a continuation follows: look
                    // at this line end again next time.
                    None => {
                        st.search = e - 1;
                        return self.field_partial(buf.len(), start);
                    }
                    Some(_) => break e,
                }
            };
            if end - start > self.limits.max_line_length {
                return Err(Error::Limit("header field length"));
            }
            st.headers += 1;
            if st.headers > self.limits.max_headers {
                return Err(Error::Limit("header count"));
            }
            let line = &buf[start..end];
            let name_len = line
                .iter()
                .position(|&c| !scan::is(c, scan::TOKEN))
                .unwrap_or(line.len());
            let name = &line[..name_len];
            if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
                let rest = &line[name_len..];
                let colon = rest
                    .iter()
                    .position(|&c| !scan::is_wsp(c))
                    .filter(|&i| rest[i] == b':')
                    .ok_or(Error::Syntax("header field without ':'"))?;
                let v = scan::trim_lws(&rest[colon + 1..]);
                let n = scan::parse_decimal(v, u64::from(u32::MAX)).ok_or(Error::Header {
                    header: "Content-Length",
                    detail: "not a non-negative number",
                })? as usize;
                match st.content_length {
                    Some(prev) if prev != n => return Err(Error::Duplicate("Content-Length")),
                    _ => st.content_length = Some(n),
                }
            }
            st.pos = end;
            st.search = end;
        }
        let total = st
            .pos
            .checked_add(st.content_length.unwrap_or(0))
            .filter(|&t| t <= self.limits.max_message_size)
            .ok_or(Error::Limit("message size"))?;
        st.total = Some(total);
        Ok(if buf.len() < total {
            Frame::Partial
        } else {
            Frame::Complete(total)
        })
    }

    /// A header field not complete yet: over the field length limit already
    /// is an error now, not when its end arrives.
    fn field_partial(&self, have: usize, start: usize) -> Result<Frame, Error> {
        if have - start > self.limits.max_line_length.saturating_add(2) {
            return Err(Error::Limit("header field length"));
        }
        self.partial_or_limit(have)
    }

    fn partial_or_limit(&self, have: usize) -> Result<Frame, Error> {
        if have >= self.limits.max_message_size {
            Err(Error::Limit("message size"))
        } else {
            Ok(Frame::Partial)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        /// Octets the line-end searches looked at on this thread.
        pub(super) static SEARCHED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    const MSG: &[u8] = b"MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nl: 5\r\n\r\nhello";

    #[test]
    fn complete_partial_and_keepalives() {
        let f = Framer::default();
        assert_eq!(f.frame(MSG).unwrap(), Frame::Complete(MSG.len()));
        for cut in 0..MSG.len() {
            assert_eq!(f.frame(&MSG[..cut]).unwrap(), Frame::Partial, "cut {cut}");
        }
        let mut two = MSG.to_vec();
        two.extend_from_slice(MSG);
        assert_eq!(f.frame(&two).unwrap(), Frame::Complete(MSG.len()));
        assert_eq!(f.frame(b"\r\n\r\nINVITE").unwrap(), Frame::Ping);
        assert_eq!(f.frame(b"\r\n").unwrap(), Frame::Pong);
        assert_eq!(f.frame(b"\r\nINV").unwrap(), Frame::Pong);
        assert_eq!(f.frame(b"\r\n\r").unwrap(), Frame::Partial);
        assert_eq!(Frame::Ping.len(), 4);
    }

    /// Feeds `stream` in pieces of `step` octets to one resumed scan,
    /// consuming frames as a connection does; returns what it saw.
    fn resumed(f: &Framer, stream: &[u8], step: usize) -> Vec<Result<Frame, Error>> {
        let (mut buf, mut scan, mut out) = (Vec::new(), FrameScan::default(), Vec::new());
        for piece in stream.chunks(step) {
            buf.extend_from_slice(piece);
            loop {
                let r = f.frame_resume(&buf, &mut scan);
                // Every answer agrees with a fresh look at the same bytes.
                assert_eq!(
                    format!("{r:?}"),
                    format!("{:?}", f.frame(&buf)),
                    "step {step}, {} octets",
                    buf.len()
                );
                match r {
                    Ok(Frame::Partial) => break,
                    Ok(fr) => {
                        buf.drain(..fr.len());
                        out.push(Ok(fr));
                    }
                    Err(e) => {
                        out.push(Err(e));
                        return out;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn resumed_scans_agree_with_fresh_ones() {
        // (No ping: one split across reads is two pongs, by design.)
        let mut stream = Vec::new();
        stream.extend_from_slice(MSG);
        stream.extend_from_slice(
            b"\r\nOPTIONS sip:a@b SIP/2.0\r\nContent-Length :\r\n  3\r\nX: a\r\n b\r\n\r\nabc",
        );
        stream.extend_from_slice(b"OPTIONS sip:a@b SIP/2.0\nl: 1\n\nx");
        stream.extend_from_slice(MSG);
        let f = Framer::default();
        let whole = resumed(&f, &stream, stream.len());
        assert_eq!(whole.len(), 5, "{whole:?}");
        for step in [1, 2, 3, 5, 7, 16] {
            assert_eq!(
                format!("{:?}", resumed(&f, &stream, step)),
                format!("{whole:?}"),
                "step {step}"
            );
        }
        // Errors too, whatever the pieces.
        let small = Framer::new(Limits::default().with_max_line_length(20));
        let long = b"A sip:a SIP/2.0\r\nX: 0123456789012345678901234567890\r\n\r\n";
        for step in [1, 4, long.len()] {
            let r = resumed(&small, long, step);
            assert!(matches!(r.last(), Some(Err(Error::Limit(_)))), "{r:?}");
        }
        let dup = b"A sip:a SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\nxx";
        for step in [1, 3, dup.len()] {
            let r = resumed(&f, dup, step);
            assert!(matches!(r.last(), Some(Err(Error::Duplicate(_)))), "{r:?}");
        }
    }

    #[test]
    fn a_scan_given_a_shorter_buffer_starts_again() {
        // Misuse (a scan kept across a buffer that shrank) must not panic.
        let f = Framer::default();
        let mut scan = FrameScan::default();
        let long = b"OPTIONS sip:a@b SIP/2.0\r\nX: 0123456789\r\nY: 1";
        assert_eq!(f.frame_resume(long, &mut scan).unwrap(), Frame::Partial);
        // Shorter than where the scan had searched to (its old position
        // still fits): slicing from there would panic.
        assert_eq!(
            f.frame_resume(&long[..42], &mut scan).unwrap(),
            Frame::Partial
        );
        assert_eq!(
            f.frame_resume(MSG, &mut scan).unwrap(),
            Frame::Complete(MSG.len())
        );
    }

    #[test]
    fn trickled_messages_cost_linear_work() {
        // 60 000 one-octet reads of one message: each call resumes, so the
        // header lines are scanned once (a fresh scan per read would visit
        // about 1.8e9 octets). Counted, not timed: the scan position only
        // moves forward.
        let mut m = b"OPTIONS sip:a@b SIP/2.0\r\n".to_vec();
        while m.len() < 60_000 {
            m.extend_from_slice(b"X-Pad: 0123456789\r\n");
        }
        m.extend_from_slice(b"\r\n");
        let f = Framer::new(
            Limits::default()
                .with_max_headers(10_000)
                .with_max_message_size(1 << 20),
        );
        let mut scan = FrameScan::default();
        let mut furthest = 0;
        SEARCHED.with(|c| c.set(0));
        for n in 1..m.len() {
            assert_eq!(f.frame_resume(&m[..n], &mut scan).unwrap(), Frame::Partial);
            assert!(scan.pos >= furthest, "the scan went back");
            assert!(n < 100 || scan.pos + 32 >= n, "progress not kept at {n}");
            furthest = scan.pos;
            assert!(
                scan.search + 32 >= n || scan.pos == 0,
                "searched from far back at {n}"
            );
        }
        assert_eq!(
            f.frame_resume(&m, &mut scan).unwrap(),
            Frame::Complete(m.len())
        );
        let searched = SEARCHED.with(std::cell::Cell::get);
        assert!(
            searched <= 2 * m.len(),
            "looked at {searched} octets for {}",
            m.len()
        );
    }

    #[test]
    fn folded_content_length_and_missing() {
        let f = Framer::default();
        let m = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length :\r\n  3\r\n\r\nabcX";
        assert_eq!(f.frame(m).unwrap(), Frame::Complete(m.len() - 1));
        let m = b"OPTIONS sip:a@b SIP/2.0\r\nX: y\r\n\r\nNEXT";
        assert_eq!(f.frame(m).unwrap(), Frame::Complete(m.len() - 4));
        let m = b"OPTIONS sip:a@b SIP/2.0\nl: 1\n\nxy";
        assert_eq!(f.frame(m).unwrap(), Frame::Complete(m.len() - 1));
    }

    #[test]
    fn errors() {
        let f = Framer::default();
        assert!(f.frame(b"A sip:a SIP/2.0\r\nl: -1\r\n\r\n").is_err());
        assert!(matches!(
            f.frame(b"A sip:a SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\nxx"),
            Err(Error::Duplicate(_))
        ));
        let small = Framer::new(Limits::default().with_max_message_size(64));
        assert!(matches!(
            small.frame(b"A sip:a SIP/2.0\r\nl: 100\r\n\r\n"),
            Err(Error::Limit(_))
        ));
        assert!(matches!(small.frame(&[b'a'; 100]), Err(Error::Limit(_))));
        let few = Framer::new(Limits::default().with_max_headers(2));
        assert!(matches!(
            few.frame(b"A sip:a SIP/2.0\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n"),
            Err(Error::Limit(_))
        ));
    }
}
