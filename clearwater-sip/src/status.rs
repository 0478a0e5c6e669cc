//! SIP status codes: an open newtype with named constants.

use std::fmt;

use crate::error::Error;

/// A SIP response status code (100–699).
///
/// Any three-digit code in range is representable, so codes this crate does not
/// name (say 499) round-trip unchanged; the named ones are associated constants.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StatusCode(u16);

/// The class of a status code (RFC 3261 §7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusClass {
    /// 1xx.
    Provisional,
    /// 2xx.
    Success,
    /// 3xx.
    Redirection,
    /// 4xx.
    ClientError,
    /// 5xx.
    ServerError,
    /// 6xx.
    GlobalFailure,
}

macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $code:literal, $phrase:literal;)*) => {
        impl StatusCode {
            $( $(#[$doc])* pub const $name: StatusCode = StatusCode($code); )*

            /// The RFC reason phrase of a named code, or a generic phrase of its class.
            pub fn canonical_reason(self) -> &'static str {
                match self.0 {
                    $( $code => $phrase, )*
                    _ => match self.class() {
                        StatusClass::Provisional => "Provisional",
                        StatusClass::Success => "Success",
                        StatusClass::Redirection => "Redirection",
                        StatusClass::ClientError => "Client Error",
                        StatusClass::ServerError => "Server Error",
                        StatusClass::GlobalFailure => "Global Failure",
                    },
                }
            }
        }
    };
}

codes! {
    /// 100 Trying.
    TRYING = 100, "Trying";
    /// 180 Ringing.
    RINGING = 180, "Ringing";
    /// 181 Call Is Being Forwarded.
    CALL_IS_BEING_FORWARDED = 181, "Call Is Being Forwarded";
    /// 182 Queued.
    QUEUED = 182, "Queued";
    /// 183 Session Progress.
    SESSION_PROGRESS = 183, "Session Progress";
    /// 199 Early Dialog Terminated.
    EARLY_DIALOG_TERMINATED = 199, "Early Dialog Terminated";
    /// 200 OK.
    OK = 200, "OK";
    /// 202 Accepted.
    ACCEPTED = 202, "Accepted";
    /// 204 No Notification.
    NO_NOTIFICATION = 204, "No Notification";
    /// 300 Multiple Choices.
    MULTIPLE_CHOICES = 300, "Multiple Choices";
    /// 301 Moved Permanently.
    MOVED_PERMANENTLY = 301, "Moved Permanently";
    /// 302 Moved Temporarily.
    MOVED_TEMPORARILY = 302, "Moved Temporarily";
    /// 305 Use Proxy.
    USE_PROXY = 305, "Use Proxy";
    /// 380 Alternative Service.
    ALTERNATIVE_SERVICE = 380, "Alternative Service";
    /// 400 Bad Request.
    BAD_REQUEST = 400, "Bad Request";
    /// 401 Unauthorized.
    UNAUTHORIZED = 401, "Unauthorized";
    /// 402 Payment Required.
    PAYMENT_REQUIRED = 402, "Payment Required";
    /// 403 Forbidden.
    FORBIDDEN = 403, "Forbidden";
    /// 404 Not Found.
    NOT_FOUND = 404, "Not Found";
    /// 405 Method Not Allowed.
    METHOD_NOT_ALLOWED = 405, "Method Not Allowed";
    /// 406 Not Acceptable.
    NOT_ACCEPTABLE = 406, "Not Acceptable";
    /// 407 Proxy Authentication Required.
    PROXY_AUTHENTICATION_REQUIRED = 407, "Proxy Authentication Required";
    /// 408 Request Timeout.
    REQUEST_TIMEOUT = 408, "Request Timeout";
    /// 410 Gone.
    GONE = 410, "Gone";
    /// 412 Conditional Request Failed (RFC 3903).
    CONDITIONAL_REQUEST_FAILED = 412, "Conditional Request Failed";
    /// 413 Request Entity Too Large.
    REQUEST_ENTITY_TOO_LARGE = 413, "Request Entity Too Large";
    /// 414 Request-URI Too Long.
    REQUEST_URI_TOO_LONG = 414, "Request-URI Too Long";
    /// 415 Unsupported Media Type.
    UNSUPPORTED_MEDIA_TYPE = 415, "Unsupported Media Type";
    /// 416 Unsupported URI Scheme.
    UNSUPPORTED_URI_SCHEME = 416, "Unsupported URI Scheme";
    /// 420 Bad Extension.
    BAD_EXTENSION = 420, "Bad Extension";
    /// 421 Extension Required.
    EXTENSION_REQUIRED = 421, "Extension Required";
    /// 422 Session Interval Too Small (RFC 4028).
    SESSION_INTERVAL_TOO_SMALL = 422, "Session Interval Too Small";
    /// 423 Interval Too Brief.
    INTERVAL_TOO_BRIEF = 423, "Interval Too Brief";
    /// 430 Flow Failed (RFC 5626).
    FLOW_FAILED = 430, "Flow Failed";
    /// 439 First Hop Lacks Outbound Support (RFC 5626).
    FIRST_HOP_LACKS_OUTBOUND_SUPPORT = 439, "First Hop Lacks Outbound Support";
    /// 440 Max-Breadth Exceeded (RFC 5393).
    MAX_BREADTH_EXCEEDED = 440, "Max-Breadth Exceeded";
    /// 480 Temporarily Unavailable.
    TEMPORARILY_UNAVAILABLE = 480, "Temporarily Unavailable";
    /// 481 Call/Transaction Does Not Exist.
    CALL_OR_TRANSACTION_DOES_NOT_EXIST = 481, "Call/Transaction Does Not Exist";
    /// 482 Loop Detected.
    LOOP_DETECTED = 482, "Loop Detected";
    /// 483 Too Many Hops.
    TOO_MANY_HOPS = 483, "Too Many Hops";
    /// 484 Address Incomplete.
    ADDRESS_INCOMPLETE = 484, "Address Incomplete";
    /// 485 Ambiguous.
    AMBIGUOUS = 485, "Ambiguous";
    /// 486 Busy Here.
    BUSY_HERE = 486, "Busy Here";
    /// 487 Request Terminated.
    REQUEST_TERMINATED = 487, "Request Terminated";
    /// 488 Not Acceptable Here.
    NOT_ACCEPTABLE_HERE = 488, "Not Acceptable Here";
    /// 489 Bad Event (RFC 6665).
    BAD_EVENT = 489, "Bad Event";
    /// 491 Request Pending.
    REQUEST_PENDING = 491, "Request Pending";
    /// 493 Undecipherable.
    UNDECIPHERABLE = 493, "Undecipherable";
    /// 494 Security Agreement Required (RFC 3329).
    SECURITY_AGREEMENT_REQUIRED = 494, "Security Agreement Required";
    /// 500 Server Internal Error.
    SERVER_INTERNAL_ERROR = 500, "Server Internal Error";
    /// 501 Not Implemented.
    NOT_IMPLEMENTED = 501, "Not Implemented";
    /// 502 Bad Gateway.
    BAD_GATEWAY = 502, "Bad Gateway";
    /// 503 Service Unavailable.
    SERVICE_UNAVAILABLE = 503, "Service Unavailable";
    /// 504 Server Time-out.
    SERVER_TIMEOUT = 504, "Server Time-out";
    /// 505 Version Not Supported.
    VERSION_NOT_SUPPORTED = 505, "Version Not Supported";
    /// 513 Message Too Large.
    MESSAGE_TOO_LARGE = 513, "Message Too Large";
    /// 580 Precondition Failure (RFC 3312).
    PRECONDITION_FAILURE = 580, "Precondition Failure";
    /// 600 Busy Everywhere.
    BUSY_EVERYWHERE = 600, "Busy Everywhere";
    /// 603 Decline.
    DECLINE = 603, "Decline";
    /// 604 Does Not Exist Anywhere.
    DOES_NOT_EXIST_ANYWHERE = 604, "Does Not Exist Anywhere";
    /// 606 Not Acceptable.
    NOT_ACCEPTABLE_GLOBAL = 606, "Not Acceptable";
}

impl StatusCode {
    /// A status code from its number; fails outside 100–699.
    pub fn from_u16(code: u16) -> Result<StatusCode, Error> {
        if (100..=699).contains(&code) {
            Ok(StatusCode(code))
        } else {
            Err(Error::Invalid("status code outside 100-699"))
        }
    }

    /// Parses exactly three ASCII digits in 100–699.
    pub fn from_bytes(b: &[u8]) -> Result<StatusCode, Error> {
        match b {
            [a, b, c] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
                let v = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
                StatusCode::from_u16(v)
            }
            _ => Err(Error::StartLine("status code is not three digits")),
        }
    }

    /// The numeric code.
    #[inline]
    pub fn as_u16(self) -> u16 {
        self.0
    }

    /// The class (1xx..6xx).
    pub fn class(self) -> StatusClass {
        match self.0 / 100 {
            1 => StatusClass::Provisional,
            2 => StatusClass::Success,
            3 => StatusClass::Redirection,
            4 => StatusClass::ClientError,
            5 => StatusClass::ServerError,
            _ => StatusClass::GlobalFailure,
        }
    }

    /// 1xx.
    #[inline]
    pub fn is_provisional(self) -> bool {
        self.0 < 200
    }

    /// 2xx.
    #[inline]
    pub fn is_success(self) -> bool {
        (200..300).contains(&self.0)
    }

    /// 200–699: ends a transaction.
    #[inline]
    pub fn is_final(self) -> bool {
        self.0 >= 200
    }
}

impl fmt::Debug for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatusCode({})", self.0)
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl TryFrom<u16> for StatusCode {
    type Error = Error;
    fn try_from(v: u16) -> Result<Self, Error> {
        StatusCode::from_u16(v)
    }
}

impl From<StatusCode> for u16 {
    fn from(s: StatusCode) -> u16 {
        s.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_codes() {
        assert_eq!(StatusCode::from_bytes(b"499").unwrap().as_u16(), 499);
        assert_eq!(
            StatusCode::from_u16(499).unwrap().canonical_reason(),
            "Client Error"
        );
        assert!(StatusCode::from_bytes(b"700").is_err());
        assert!(StatusCode::from_bytes(b"099").is_err());
        assert!(StatusCode::from_bytes(b"2000").is_err());
        assert_eq!(StatusCode::OK.canonical_reason(), "OK");
        assert!(StatusCode::RINGING.is_provisional() && StatusCode::OK.is_final());
        assert_eq!(StatusCode::DECLINE.class(), StatusClass::GlobalFailure);
    }
}
