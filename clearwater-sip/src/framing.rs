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
/// [`Frame::Pong`] rather than waiting to see whether a second CRLF follows:
/// clients write their 4-octet pings in one go.
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
        match buf {
            [] | [b'\r'] | [b'\r', b'\n', b'\r'] => return Ok(Frame::Partial),
            [b'\r', b'\n', b'\r', b'\n', ..] => return Ok(Frame::Ping),
            [b'\r', b'\n', ..] => return Ok(Frame::Pong),
            _ => {}
        }
        let max = self.limits.max_message_size;
        let mut content_length: Option<usize> = None;
        let mut headers = 0usize;
        // Start line.
        let Some(nl) = memchr::memchr(b'\n', buf) else {
            return self.partial_or_limit(buf.len());
        };
        if nl > self.limits.max_line_length {
            return Err(Error::Limit("start line length"));
        }
        let mut pos = nl + 1;
        loop {
            // At the start of a header line or the empty line.
            match buf.get(pos..) {
                None | Some([]) | Some([b'\r']) => return self.partial_or_limit(buf.len()),
                Some([b'\r', b'\n', ..]) => {
                    pos += 2;
                    break;
                }
                Some([b'\n', ..]) => {
                    pos += 1;
                    break;
                }
                Some(_) => {}
            }
            // One header field, with its continuation lines.
            let start = pos;
            let mut e = pos;
            let end = loop {
                let Some(i) = memchr::memchr(b'\n', &buf[e..]) else {
                    return self.partial_or_limit(buf.len());
                };
                e += i + 1;
                match buf.get(e) {
                    Some(b' ' | b'\t') => continue,
                    // Cannot tell yet whether a continuation follows.
                    None => return self.partial_or_limit(buf.len()),
                    Some(_) => break e,
                }
            };
            if end - start > self.limits.max_line_length {
                return Err(Error::Limit("header field length"));
            }
            headers += 1;
            if headers > self.limits.max_headers {
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
                match content_length {
                    Some(prev) if prev != n => return Err(Error::Duplicate("Content-Length")),
                    _ => content_length = Some(n),
                }
            }
            pos = end;
        }
        let total = pos + content_length.unwrap_or(0);
        if total > max {
            return Err(Error::Limit("message size"));
        }
        if buf.len() < total {
            Ok(Frame::Partial)
        } else {
            Ok(Frame::Complete(total))
        }
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
