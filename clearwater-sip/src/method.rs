//! SIP methods: an open newtype with named constants.

use std::fmt;
use std::sync::Arc;

use crate::error::Error;
use crate::scan;

/// A SIP request method.
///
/// Methods are case-sensitive tokens (RFC 3261 §7.1). The methods of RFC 3261 and
/// its common extensions are associated constants; any other token is an
/// extension method and round-trips unchanged.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Method(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    Known(Known),
    Extension(Arc<str>),
}

// Builds the known-method table from (constant, variant, text) triples.
macro_rules! methods_b {
    ($($(#[$doc:meta])* $konst:ident = $variant:ident, $text:literal;)*) => {
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        enum Known { $($variant,)* }

        impl Known {
            #[inline]
            fn as_str(self) -> &'static str {
                match self { $(Known::$variant => $text,)* }
            }
            #[inline]
            fn from_bytes(b: &[u8]) -> Option<Known> {
                $( if b == $text.as_bytes() { return Some(Known::$variant); } )*
                None
            }
        }

        impl Method {
            $( $(#[$doc])* pub const $konst: Method = Method(Repr::Known(Known::$variant)); )*
        }
    };
}

methods_b! {
    /// INVITE (RFC 3261).
    INVITE = Invite, "INVITE";
    /// ACK (RFC 3261).
    ACK = Ack, "ACK";
    /// BYE (RFC 3261).
    BYE = Bye, "BYE";
    /// CANCEL (RFC 3261).
    CANCEL = Cancel, "CANCEL";
    /// REGISTER (RFC 3261).
    REGISTER = Register, "REGISTER";
    /// OPTIONS (RFC 3261).
    OPTIONS = Options, "OPTIONS";
    /// INFO (RFC 6086).
    INFO = Info, "INFO";
    /// PRACK (RFC 3262).
    PRACK = Prack, "PRACK";
    /// UPDATE (RFC 3311).
    UPDATE = Update, "UPDATE";
    /// SUBSCRIBE (RFC 6665).
    SUBSCRIBE = Subscribe, "SUBSCRIBE";
    /// NOTIFY (RFC 6665).
    NOTIFY = Notify, "NOTIFY";
    /// REFER (RFC 3515).
    REFER = Refer, "REFER";
    /// MESSAGE (RFC 3428).
    MESSAGE = Message, "MESSAGE";
    /// PUBLISH (RFC 3903).
    PUBLISH = Publish, "PUBLISH";
}

impl Method {
    /// Parses a method token. Known methods do not allocate.
    pub fn from_bytes(b: &[u8]) -> Result<Method, Error> {
        if let Some(k) = Known::from_bytes(b) {
            return Ok(Method(Repr::Known(k)));
        }
        if !scan::is_token(b) {
            return Err(Error::Invalid("method is not a token"));
        }
        // Tokens are ASCII, so this cannot fail.
        let s = std::str::from_utf8(b).map_err(|_| Error::Invalid("method is not a token"))?;
        Ok(Method(Repr::Extension(Arc::from(s))))
    }

    /// The method as written.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Known(k) => k.as_str(),
            Repr::Extension(s) => s,
        }
    }

    /// Whether this is one of the named methods (not an extension).
    #[inline]
    pub fn is_known(&self) -> bool {
        matches!(self.0, Repr::Known(_))
    }
}

impl std::str::FromStr for Method {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Method::from_bytes(s.as_bytes())
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Method({})", self.as_str())
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Method {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Method {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_extension() {
        assert_eq!(Method::from_bytes(b"INVITE").unwrap(), Method::INVITE);
        assert!(Method::INVITE.is_known());
        let m = Method::from_bytes(b"!interesting-Method0123456789_*+`.%indeed'~").unwrap();
        assert!(!m.is_known());
        assert_eq!(m.as_str(), "!interesting-Method0123456789_*+`.%indeed'~");
        // case-sensitive
        assert_ne!(Method::from_bytes(b"invite").unwrap(), Method::INVITE);
        assert!(Method::from_bytes(b"IN VITE").is_err());
        assert!(Method::from_bytes(b"").is_err());
    }
}
