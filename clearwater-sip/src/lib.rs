//! # clearwater-sip
//!
//! The SIP message layer of the clearwater IMS SDK: a zero-copy parser, typed
//! headers decoded on demand, URIs, an editing serialiser that reuses received
//! bytes, stream framing for TCP/WebSocket, inbound triage, and digest
//! authentication maths. No I/O and no async runtime: everything here takes
//! bytes (and, where time matters, `now`) and returns values.
//!
//! ```
//! use bytes::Bytes;
//! use clearwater_sip::{Message, Method};
//!
//! let raw = Bytes::from_static(
//!     b"OPTIONS sip:bob@example.com SIP/2.0\r\n\
//!       Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n\
//!       Max-Forwards: 70\r\n\
//!       From: <sip:alice@example.com>;tag=1928301774\r\n\
//!       To: <sip:bob@example.com>\r\n\
//!       Call-ID: a84b4c76e66710@pc33.example.com\r\n\
//!       CSeq: 63104 OPTIONS\r\n\
//!       Content-Length: 0\r\n\r\n",
//! );
//! let Message::Request(req) = Message::parse(raw.clone())? else { unreachable!() };
//! assert_eq!(req.method(), &Method::OPTIONS);
//! assert_eq!(req.via()?.branch(), Some("z9hG4bK776asdhds"));
//! assert_eq!(req.from()?.tag(), Some("1928301774"));
//! assert_eq!(req.cseq()?.seq, 63104);
//! assert_eq!(req.to_bytes(), raw); // unedited: the same bytes, not a copy
//! # Ok::<(), clearwater_sip::Error>(())
//! ```
//!
//! ## Layers
//!
//! * [`Message`], [`Request`], [`Response`]: the message model. Parsing records
//!   positions; [`Headers`] keeps fields in order with the hot ones (Via, From,
//!   To, Call-ID, CSeq, Max-Forwards, Content-Length, Route, Contact) indexed.
//! * [`header`]: typed views (`Via`, `From`, `Contact`, `CSeq`, P-headers...),
//!   parsed when asked for, via [`TypedHeader`].
//! * [`uri`]: `sip:`, `sips:`, `tel:` and opaque URIs with RFC 3261 §19.1.4
//!   equality.
//! * [`Framer`]: splits a TCP/WebSocket byte stream into messages and RFC 5626
//!   keep-alives.
//! * [`triage()`]: what an element does with received bytes: accept, reject
//!   with a status, or drop.
//! * [`digest`]: RFC 2617/7616/8760 digest challenges and responses.
//!
//! ## Decisions where the RFCs leave room
//!
//! * Bare LF line endings are accepted (byte-exact re-serialisation keeps them).
//! * Host names may contain `_` (deployed DNS names do).
//! * Local `tel:` numbers without `phone-context` are accepted.
//! * A message without Content-Length takes the rest of the datagram as body;
//!   on streams the framer treats a missing Content-Length as 0.
//! * Limits ([`Limits`]) are answered with 513, malformed input with 400 and a
//!   reason phrase naming the defect, an unsupported version with 505.

mod error;
mod framing;
mod headers;
mod id_hash;
mod limits;
mod message;
mod method;
mod name;
mod params;
mod scan;
#[cfg(test)]
mod sim;
mod status;
mod triage;

pub mod digest;
pub mod header;
pub mod proxy;
#[cfg(feature = "runtime")]
pub mod runtime;
pub mod transaction;
pub mod transport;
pub mod uri;

pub use error::Error;
pub use framing::{Frame, FrameScan, Framer, PING, PONG};
pub use header::TypedHeader;
pub use headers::{Header, Headers, TypedIter};
pub use limits::Limits;
pub use message::{Message, Request, Response};
pub use method::Method;
pub use name::HeaderName;
pub use params::{ParamIter, Params};
pub use status::{StatusClass, StatusCode};
pub use triage::{Rejection, Triage, TriageConfig, triage};
pub use uri::Uri;
