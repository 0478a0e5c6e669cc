//! Typed header views, decoded on demand from a message's raw values.
//!
//! Each type borrows the text it was parsed from (`Cow::Borrowed`), so decoding
//! allocates nothing; `into_owned` detaches it. Parts are read by slicing, and
//! `Display` writes the value exactly as it was received (or built), so a typed
//! value can be put back into a message unchanged.
//!
//! List headers (RFC 3261 §7.3.1: Via, Contact, Route...) are decoded one element
//! at a time: [`Headers::typed_all`](crate::Headers::typed_all) yields every
//! element of every field in order.

mod auth;
mod ims;
mod misc;
mod name_addr;
mod simple;
mod via;

pub use auth::{
    AuthParams, Authorization, Challenge, Credentials, ProxyAuthenticate, ProxyAuthorization,
    WwwAuthenticate,
};
#[allow(unused_imports)]
pub use ims::*;
#[allow(unused_imports)]
pub use misc::*;
pub use name_addr::{
    Contact, Diversion, From, HistoryInfo, NameAddr, PAssertedIdentity, PAssociatedUri,
    PCalledPartyId, PPreferredIdentity, PServedUser, Path, RecordRoute, ReferTo, ReferredBy,
    ReplyTo, Route, ServiceRoute, To,
};
pub use simple::{
    Allow, CSeq, CallId, ContentLength, ContentType, Date, Expires, MaxForwards, MinExpires,
    OptionTag, ProxyRequire, Require, Supported, Unsupported,
};
pub use via::{MAGIC_COOKIE, Via};

use std::fmt;

use crate::error::Error;
use crate::name::HeaderName;

/// A header with a typed view.
///
/// `parse` receives one value: the whole field value for single-value headers,
/// one comma-separated element for list headers (`LIST = true`), with
/// surrounding white space removed. `Display` writes the value back.
///
/// Implement it for your own extension headers with
/// [`HeaderName::extension`] as the name.
pub trait TypedHeader<'a>: Sized + fmt::Display {
    /// The header's name.
    const NAME: HeaderName;
    /// Whether the header is a comma-separated list.
    const LIST: bool = false;
    /// Whether an empty value (or list) is valid.
    const ALLOW_EMPTY: bool = false;

    /// Parses one value.
    fn parse(value: &'a str) -> Result<Self, Error>;
}

/// A byte range inside a typed header's text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct R {
    pub(crate) s: u32,
    pub(crate) e: u32,
}

impl R {
    #[inline]
    pub(crate) fn new(s: usize, e: usize) -> R {
        R {
            s: s as u32,
            e: e as u32,
        }
    }
    #[inline]
    pub(crate) fn get<'t>(&self, t: &'t str) -> &'t str {
        t.get(self.s as usize..self.e as usize).unwrap_or("")
    }
}

/// Text of a typed header: borrowed from the message or owned.
pub(crate) type Text<'a> = std::borrow::Cow<'a, str>;

/// Quotes `s` as a quoted-string: `"`, `\\` and control characters become
/// quoted-pairs; CR and LF, which a quoted-pair cannot carry (RFC 3261
/// §25.1), become spaces.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\r' | '\n' => out.push(' '),
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_ascii_control() => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// [`quote`] for builders that can refuse: CR and LF are an error, not spaces.
pub(crate) fn quote_checked(s: &str) -> Result<String, Error> {
    if s.contains(['\r', '\n']) {
        return Err(Error::Invalid("line break in quoted text"));
    }
    Ok(quote(s))
}

#[cfg(test)]
mod tests;
