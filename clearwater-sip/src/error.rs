//! The crate's one error type.

use std::borrow::Cow;

use crate::status::StatusCode;

/// Everything that can go wrong in the SIP message layer.
///
/// Errors carry what a caller needs to answer the peer: [`Error::status`] gives the
/// SIP status a request with this defect deserves and [`Error::reason_phrase`] a
/// short reason phrase naming the defect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A grammar violation found by a low-level parser (URI, parameter list...).
    #[error("syntax error: {0}")]
    Syntax(&'static str),
    /// A header field value does not match its grammar.
    #[error("malformed {header} header: {detail}")]
    Header {
        /// Canonical name of the header.
        header: &'static str,
        /// What is wrong.
        detail: &'static str,
    },
    /// The start line (Request-Line or Status-Line) is malformed.
    #[error("malformed start line: {0}")]
    StartLine(&'static str),
    /// The Request-URI does not parse.
    #[error("malformed Request-URI: {0}")]
    RequestUri(&'static str),
    /// The SIP-Version is not SIP/2.0.
    #[error("unsupported SIP version")]
    Version,
    /// A header the message needs is absent.
    #[error("missing {0} header")]
    Missing(&'static str),
    /// A header that must appear once appears several times with different values.
    #[error("more than one {0} header")]
    Duplicate(&'static str),
    /// The CSeq method differs from the Request-Line method.
    #[error("CSeq method does not match the request method")]
    CSeqMismatch,
    /// Fewer body octets arrived than Content-Length announces.
    #[error("body shorter than Content-Length")]
    Truncated,
    /// A configured limit (size, header count, line length, Via count) was exceeded.
    #[error("limit exceeded: {0}")]
    Limit(&'static str),
    /// A digest challenge or credential is unusable.
    #[error("digest authentication: {0}")]
    Digest(&'static str),
    /// A value given to a builder or editor is not valid in that place.
    #[error("invalid value: {0}")]
    Invalid(&'static str),
}

impl Error {
    #[inline]
    pub(crate) fn syntax(what: &'static str) -> Self {
        Error::Syntax(what)
    }

    /// Re-labels a low-level syntax error as a defect of header `header`.
    pub(crate) fn in_header(self, header: &'static str) -> Self {
        match self {
            Error::Syntax(detail) | Error::Invalid(detail) => Error::Header { header, detail },
            other => other,
        }
    }

    /// The SIP status code a request with this defect should be answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Version => StatusCode::VERSION_NOT_SUPPORTED,
            Error::Limit(_) => StatusCode::MESSAGE_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// A reason phrase naming the defect, suitable for the status line of the
    /// response (only RFC 3261 `reason-phrase` characters).
    pub fn reason_phrase(&self) -> Cow<'static, str> {
        match self {
            Error::Syntax(_) | Error::Invalid(_) | Error::Digest(_) => "Bad Request".into(),
            Error::Header { header, .. } => format!("Bad {header} Header").into(),
            Error::StartLine(_) => "Bad Request-Line".into(),
            Error::RequestUri(_) => "Bad Request-URI".into(),
            Error::Version => "Version Not Supported".into(),
            Error::Missing(h) => format!("Missing {h} Header").into(),
            Error::Duplicate(h) => format!("Multiple {h} Headers").into(),
            Error::CSeqMismatch => "CSeq Method Mismatch".into(),
            Error::Truncated => "Bad Content-Length".into(),
            Error::Limit(what) => format!("Message Too Large ({what})").into(),
        }
    }
}
