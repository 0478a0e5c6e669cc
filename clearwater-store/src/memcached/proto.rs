//! The memcached meta protocol (`mg`, `ms`, `md`, `mn`), sans-IO: requests
//! are written into a buffer, responses parsed from one. Only what the store
//! needs: value and CAS on get; add / set / compare-and-set with TTL and the
//! new CAS returned; delete with an optional CAS.

use std::fmt::Write as _;

use bytes::{Buf, Bytes, BytesMut};

/// A key as sent: printable ASCII as is, anything else base64 with the `b`
/// flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MetaKey {
    text: String,
    base64: bool,
}

/// memcached's key limit.
pub(crate) const MAX_KEY: usize = 250;

impl MetaKey {
    /// The key for `raw` (already namespaced), or `None` when it cannot be
    /// expressed in 250 bytes.
    pub(crate) fn new(raw: String) -> Option<MetaKey> {
        let plain = raw.bytes().all(|c| (0x21..=0x7e).contains(&c));
        if plain && raw.len() <= MAX_KEY {
            return Some(MetaKey {
                text: raw,
                base64: false,
            });
        }
        let text = base64(raw.as_bytes());
        (text.len() <= MAX_KEY).then_some(MetaKey { text, base64: true })
    }

    /// The key as sent (base64 text when encoded).
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    fn write(&self, out: &mut BytesMut) {
        out.extend_from_slice(self.text.as_bytes());
    }

    /// The ` b` flag, when the key is base64 (flags follow the key in `mg`
    /// and `md`, the data length in `ms`).
    fn flag(&self, out: &mut BytesMut) {
        if self.base64 {
            out.extend_from_slice(b" b");
        }
    }
}

fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &c)| n | u32::from(c) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// How `ms` stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Unconditionally (or under a CAS).
    Set,
    /// Only if absent.
    Add,
}

/// `mg <key> v c`: value and CAS.
pub(crate) fn get(out: &mut BytesMut, key: &MetaKey) {
    out.extend_from_slice(b"mg ");
    key.write(out);
    key.flag(out);
    out.extend_from_slice(b" v c\r\n");
}

/// `ms <key> <len> c T<ttl> [C<cas>] [ME]` and the data.
pub(crate) fn set(
    out: &mut BytesMut,
    key: &MetaKey,
    value: &[u8],
    ttl: u64,
    cas: Option<u64>,
    mode: Mode,
) {
    out.extend_from_slice(b"ms ");
    key.write(out);
    number(out, " ", value.len());
    key.flag(out);
    number(out, " c T", ttl);
    if let Some(c) = cas {
        number(out, " C", c);
    }
    if mode == Mode::Add {
        out.extend_from_slice(b" ME");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// `md <key> [C<cas>]`.
pub(crate) fn delete(out: &mut BytesMut, key: &MetaKey, cas: Option<u64>) {
    out.extend_from_slice(b"md ");
    key.write(out);
    key.flag(out);
    if let Some(c) = cas {
        number(out, " C", c);
    }
    out.extend_from_slice(b"\r\n");
}

/// `prefix` and `n` in decimal, written in place.
fn number(out: &mut BytesMut, prefix: &str, n: impl std::fmt::Display) {
    out.extend_from_slice(prefix.as_bytes());
    // Writing to a `BytesMut` cannot fail.
    let _ = write!(out, "{n}");
}

/// A response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Response {
    /// `VA`: a value and its CAS.
    Value { data: Bytes, cas: u64 },
    /// `HD`: done (stored / deleted / exists), with the CAS if returned.
    Done { cas: Option<u64> },
    /// `EN`: miss.
    Miss,
    /// `NS`: not stored (an add found the key).
    NotStored,
    /// `EX`: the CAS did not match.
    Exists,
    /// `NF`: not found (CAS or delete on a missing key).
    NotFound,
    /// `ERROR`, `CLIENT_ERROR ...`, `SERVER_ERROR ...`.
    Error(String),
}

/// The stream cannot be understood any more: close the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProtocolError(pub(crate) String);

/// Longest response line accepted before the stream is declared broken.
const MAX_LINE: usize = 8192;

/// Parses one response from the front of `buf`, consuming it; `Ok(None)`
/// until a whole one is there. `max_value` bounds a `VA` payload.
pub(crate) fn parse(
    buf: &mut BytesMut,
    max_value: usize,
) -> Result<Option<Response>, ProtocolError> {
    let Some(nl) = buf.windows(2).position(|w| w == b"\r\n") else {
        if buf.len() > MAX_LINE {
            return Err(ProtocolError("response line too long".into()));
        }
        return Ok(None);
    };
    let line = std::str::from_utf8(&buf[..nl])
        .map_err(|_| ProtocolError("response line is not UTF-8".into()))?;
    let mut words = line.split(' ');
    let code = words.next().unwrap_or("");
    let cas = |words: std::str::Split<'_, char>| -> Result<Option<u64>, ProtocolError> {
        for w in words {
            if let Some(c) = w.strip_prefix('c') {
                return c
                    .parse()
                    .map(Some)
                    .map_err(|_| ProtocolError(format!("bad CAS flag {w:?}")));
            }
        }
        Ok(None)
    };
    let response = match code {
        "VA" => {
            let size: usize = words
                .next()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| ProtocolError("VA without a size".into()))?;
            if size > max_value {
                return Err(ProtocolError(format!(
                    "value of {size} bytes is over the limit"
                )));
            }
            let cas = cas(words)?.ok_or_else(|| ProtocolError("VA without a CAS".into()))?;
            let total = nl + 2 + size + 2;
            if buf.len() < total {
                return Ok(None);
            }
            if &buf[nl + 2 + size..total] != b"\r\n" {
                return Err(ProtocolError("value not followed by CRLF".into()));
            }
            buf.advance(nl + 2);
            let data = buf.split_to(size).freeze();
            buf.advance(2);
            return Ok(Some(Response::Value { data, cas }));
        }
        "HD" => Response::Done { cas: cas(words)? },
        "EN" => Response::Miss,
        "NS" => Response::NotStored,
        "EX" => Response::Exists,
        "NF" => Response::NotFound,
        "ERROR" => Response::Error("ERROR".into()),
        _ if code == "CLIENT_ERROR" || code == "SERVER_ERROR" => Response::Error(line.to_owned()),
        _ => return Err(ProtocolError(format!("unexpected response {line:?}"))),
    };
    buf.advance(nl + 2);
    Ok(Some(response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let k = MetaKey::new("reg:sip:alice@example.com".into()).unwrap();
        assert!(!k.base64);
        let k = MetaKey::new("reg:with space".into()).unwrap();
        assert!(k.base64);
        assert_eq!(k.text, "cmVnOndpdGggc3BhY2U=");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert!(MetaKey::new("x".repeat(250)).is_some());
        assert!(MetaKey::new("x".repeat(251)).is_none());
        assert!(
            MetaKey::new(" ".repeat(186)).is_some(),
            "186 bytes: 248 in base64"
        );
        assert!(MetaKey::new(" ".repeat(187)).is_none());
    }

    #[test]
    fn requests() {
        let k = MetaKey::new("t:k".into()).unwrap();
        let mut b = BytesMut::new();
        get(&mut b, &k);
        set(&mut b, &k, b"val", 30, Some(7), Mode::Set);
        set(&mut b, &k, b"", 0, None, Mode::Add);
        delete(&mut b, &k, None);
        delete(&mut b, &MetaKey::new("t:a b".into()).unwrap(), Some(9));
        set(
            &mut b,
            &MetaKey::new("t:a b".into()).unwrap(),
            b"v",
            1,
            None,
            Mode::Set,
        );
        assert_eq!(
            &b[..],
            b"mg t:k v c\r\nms t:k 3 c T30 C7\r\nval\r\nms t:k 0 c T0 ME\r\n\r\nmd t:k\r\nmd dDphIGI= b C9\r\nms dDphIGI= 1 b c T1\r\nv\r\n"
        );
    }

    #[test]
    fn responses_in_pieces() {
        let wire = b"VA 5 c42\r\nhello\r\nHD c43\r\nEN\r\nNS\r\nEX\r\nNF\r\nHD\r\nSERVER_ERROR out of memory\r\n";
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for &c in wire.iter() {
            buf.extend_from_slice(&[c]);
            while let Some(r) = parse(&mut buf, 1 << 20).unwrap() {
                got.push(r);
            }
        }
        assert_eq!(
            got,
            [
                Response::Value {
                    data: Bytes::from_static(b"hello"),
                    cas: 42
                },
                Response::Done { cas: Some(43) },
                Response::Miss,
                Response::NotStored,
                Response::Exists,
                Response::NotFound,
                Response::Done { cas: None },
                Response::Error("SERVER_ERROR out of memory".into()),
            ]
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn broken_streams_are_errors_not_panics() {
        for bad in [
            &b"VA x c1\r\n"[..],
            b"VA 3\r\nabc\r\n",
            b"VA 3 c1\r\nabcXY",
            b"HD cX\r\n",
            b"WHAT\r\n",
            b"VA 99999999999 c1\r\n",
            b"\xff\xfe\r\n",
        ] {
            let mut buf = BytesMut::from(bad);
            assert!(parse(&mut buf, 1 << 20).is_err(), "{bad:?}");
        }
        let mut long = BytesMut::from(&vec![b'a'; MAX_LINE + 1][..]);
        assert!(parse(&mut long, 1 << 20).is_err());
    }
}
