//! # clearwater-diameter
//!
//! Diameter (RFC 6733) for the clearwater IMS SDK: the Cx/Dx interface
//! between the CSCFs and the HSS (3GPP TS 29.228/29.229) and Rf offline
//! charging (TS 32.299).
//!
//! This part is sans-IO and has no runtime dependency:
//!
//! * [`Message`]: decode (zero-copy, AVP data are slices of the received
//!   [`Bytes`]), build, encode; [`frame`] delimits messages in a TCP
//!   stream;
//! * [`Avp`] with typed accessors and constructors for every data format;
//!   [`avp::code`] names the known AVPs (base, Cx/Dx, Rf and those they
//!   reuse), each with its type and M-bit rule in the dictionary;
//! * open newtypes for [`CommandCode`], [`ApplicationId`] and
//!   [`ResultCode`]: unknown values are carried as they are;
//! * error mapping: every refusal is a [`DiameterError`] carrying the
//!   Result-Code an answer should carry (5011 version, 5015 message
//!   length, 3008 header bits, 5014 AVP length, 5004 AVP value, 5001 an
//!   unknown AVP with the M bit, 5005 a missing AVP, 5009 a repeated one)
//!   and, where RFC 6733 §7.5 asks for it, the AVP for Failed-AVP;
//!   [`Message::error_answer`] turns it into the answer.
//!
//! ## Decisions
//!
//! * [`Message::decode`] checks structure only (header, lengths, nesting of
//!   the Grouped AVPs it knows), so a relay forwards unknown AVPs untouched;
//!   an endpoint calls [`Message::validate`] for the value and grammar
//!   checks. A decoded, unedited message encodes to the same bytes (padding
//!   is re-sent as zeros).
//! * Grouped AVPs are built from their children at construction
//!   ([`Avp::grouped`]) and decoded on demand ([`Avp::children`]).
//! * [`peer::Peer`] is the sans-IO peer state machine (CER/CEA, the RFC
//!   3539 watchdog, DPR/DPA, back-off, identifiers, timeouts);
//!   `runtime::Node` (feature `runtime`, default) drives peers over tokio
//!   TCP and routes by realm with failover. Fuzzers and embedders with
//!   their own I/O build with `default-features = false`.

use bytes::Bytes;

pub mod avp;
pub mod codes;
pub mod cx;
pub mod message;
pub mod peer;
mod validate;

#[cfg(feature = "runtime")]
pub mod runtime;

pub use avp::{Avp, AvpCode, AvpFlags, AvpIter, AvpType};
pub use codes::{ApplicationId, CommandCode, CommandFlags, ResultCode, vendor};
pub use message::{Framing, Message, frame};
pub use validate::check_avp;

/// A result with [`DiameterError`].
pub type Result<T, E = DiameterError> = std::result::Result<T, E>;

/// The one error type of this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiameterError {
    /// A message or AVP that cannot be accepted; the answer carries
    /// `result_code` (and `failed_avp` as Failed-AVP when there is one).
    #[error("{reason}")]
    Malformed {
        /// The Result-Code for the answer.
        result_code: ResultCode,
        /// What is wrong.
        reason: String,
        /// The offending AVP (for a missing AVP: its header with no data).
        failed_avp: Option<Box<Avp>>,
    },
}

impl DiameterError {
    /// A refusal with no particular AVP.
    pub fn new(result_code: ResultCode, reason: impl Into<String>) -> DiameterError {
        DiameterError::Malformed {
            result_code,
            reason: reason.into(),
            failed_avp: None,
        }
    }

    /// A refusal naming `avp` for Failed-AVP (its data is kept up to 64
    /// octets, enough to identify it without echoing a large value; a
    /// Grouped AVP whose children do not decode is named by its header
    /// alone, so the answer carrying it stays decodable).
    pub fn avp(result_code: ResultCode, reason: impl Into<String>, avp: &Avp) -> DiameterError {
        let mut failed = avp.clone();
        let broken_group = avp
            .code
            .definition()
            .is_some_and(|d| d.kind == avp::AvpType::Grouped)
            && avp.children().is_err();
        if failed.data.len() > 64 || broken_group {
            failed.data = Bytes::new();
        }
        DiameterError::Malformed {
            result_code,
            reason: reason.into(),
            failed_avp: Some(Box::new(failed)),
        }
    }

    /// The Result-Code an answer should carry.
    pub fn result_code(&self) -> ResultCode {
        match self {
            DiameterError::Malformed { result_code, .. } => *result_code,
        }
    }
}
