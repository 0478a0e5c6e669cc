//! Scalar and token-list headers: Call-ID, CSeq, Max-Forwards, Expires,
//! Min-Expires, Content-Length, Content-Type, Supported, Require, Proxy-Require,
//! Unsupported, Allow, Date.

use std::borrow::Cow;
use std::fmt;

use super::{R, Text, TypedHeader};
use crate::error::Error;
use crate::method::Method;
use crate::name::HeaderName;
use crate::params::{self, Params};
use crate::scan::{self, Scanner};

/// `Call-ID` (RFC 3261 §20.8): `word [ "@" word ]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CallId<'a>(Text<'a>);

impl<'a> CallId<'a> {
    /// The Call-ID.
    #[inline]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A Call-ID from text, validated.
    pub fn new(s: impl Into<Cow<'a, str>>) -> Result<CallId<'a>, Error> {
        let s = s.into();
        check_call_id(s.as_bytes())?;
        Ok(CallId(s))
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> CallId<'static> {
        CallId(Cow::Owned(self.0.into_owned()))
    }
}

fn check_call_id(b: &[u8]) -> Result<(), Error> {
    // word [ "@" word ]
    let bad = || Error::syntax("Call-ID is not word[@word]");
    let n = b
        .iter()
        .position(|&c| !scan::is(c, scan::WORD))
        .unwrap_or(b.len());
    if n == 0 {
        return Err(bad());
    }
    if n == b.len() {
        return Ok(());
    }
    let rest = &b[n..];
    if rest[0] != b'@' || rest.len() == 1 || !rest[1..].iter().all(|&c| scan::is(c, scan::WORD)) {
        return Err(bad());
    }
    Ok(())
}

impl fmt::Display for CallId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'a> TypedHeader<'a> for CallId<'a> {
    const NAME: HeaderName = HeaderName::CALL_ID;
    fn parse(value: &'a str) -> Result<Self, Error> {
        check_call_id(value.as_bytes())?;
        Ok(CallId(Cow::Borrowed(value)))
    }
}

/// `CSeq` (RFC 3261 §20.16): a sequence number below 2³¹ and a method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CSeq {
    /// The sequence number.
    pub seq: u32,
    /// The method.
    pub method: Method,
}

impl CSeq {
    /// Largest valid sequence number (2³¹ − 1).
    pub const MAX: u32 = (1 << 31) - 1;

    /// A CSeq; fails when `seq` exceeds [`CSeq::MAX`].
    pub fn new(seq: u32, method: Method) -> Result<CSeq, Error> {
        if seq > Self::MAX {
            return Err(Error::Invalid("CSeq number above 2^31-1"));
        }
        Ok(CSeq { seq, method })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

impl<'a> TypedHeader<'a> for CSeq {
    const NAME: HeaderName = HeaderName::CSEQ;
    fn parse(value: &'a str) -> Result<Self, Error> {
        let mut sc = Scanner::new(value.as_bytes());
        let digits = sc.take_class(scan::DIGIT);
        let seq = scan::parse_decimal(digits, u64::from(CSeq::MAX))
            .ok_or(Error::syntax("sequence number missing or above 2^31-1"))?;
        if !sc.skip_lws() {
            return Err(Error::syntax("missing white space after sequence number"));
        }
        let m = sc.token("missing method")?;
        if !sc.at_end() {
            return Err(Error::syntax("unexpected text after method"));
        }
        Ok(CSeq {
            seq: seq as u32,
            method: Method::from_bytes(m)?,
        })
    }
}

macro_rules! number_header {
    ($(#[$doc:meta])* $ty:ident($int:ty), $name:expr, max = $max:expr, $what:literal) => {
        number_header!(@def $(#[$doc])* $ty($int), $name, $what, |v: &str| {
            scan::parse_decimal(v.as_bytes(), $max).map(|v| v as $int)
        });
    };
    ($(#[$doc:meta])* $ty:ident(u32), $name:expr, saturating, $what:literal) => {
        number_header!(@def $(#[$doc])* $ty(u32), $name, $what,
            crate::header::name_addr::parse_delta_seconds);
    };
    (@def $(#[$doc:meta])* $ty:ident($int:ty), $name:expr, $what:literal, $parse:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty(pub $int);

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl<'a> TypedHeader<'a> for $ty {
            const NAME: HeaderName = $name;
            fn parse(value: &'a str) -> Result<Self, Error> {
                ($parse)(value).map($ty).ok_or(Error::syntax($what))
            }
        }
    };
}

number_header!(
    /// `Max-Forwards` (RFC 3261 §20.22): 0–255.
    MaxForwards(u8), HeaderName::MAX_FORWARDS, max = 255, "not a number in 0-255"
);
number_header!(
    /// `Expires` (RFC 3261 §20.19): delta-seconds; larger values count as
    /// 2³²−1 (§10.2.1.1, RFC 4475 §3.1.2.4).
    Expires(u32), HeaderName::EXPIRES, saturating, "not a delta-seconds value"
);
number_header!(
    /// `Min-Expires` (RFC 3261 §20.23): delta-seconds; larger values count
    /// as 2³²−1.
    MinExpires(u32), HeaderName::MIN_EXPIRES, saturating, "not a delta-seconds value"
);
number_header!(
    /// `Content-Length` (RFC 3261 §20.14).
    ContentLength(u32), HeaderName::CONTENT_LENGTH, max = u64::from(u32::MAX), "not a length"
);

/// `Content-Type` (RFC 3261 §20.15): `type/subtype;param=value`.
#[derive(Clone)]
pub struct ContentType<'a> {
    text: Text<'a>,
    mtype: R,
    subtype: R,
    params: R,
}

impl<'a> ContentType<'a> {
    fn parse_cow(text: Text<'a>) -> Result<ContentType<'a>, Error> {
        let mut sc = Scanner::new(text.as_bytes());
        sc.skip_lws();
        let ts = sc.pos();
        sc.token("missing media type")?;
        let mtype = R::new(ts, sc.pos());
        if !sc.eat_sep(b'/') {
            return Err(Error::syntax("missing '/' in media type"));
        }
        let ss = sc.pos();
        sc.token("missing media subtype")?;
        let subtype = R::new(ss, sc.pos());
        let ps = sc.pos();
        params::scan_header_params(&mut sc)?;
        let params = R::new(ps, sc.pos());
        sc.skip_lws();
        if !sc.at_end() {
            return Err(Error::syntax("unexpected text in media type"));
        }
        Ok(ContentType {
            text,
            mtype,
            subtype,
            params,
        })
    }

    /// A media type from `type/subtype[;params]` text.
    pub fn new(s: impl Into<Cow<'a, str>>) -> Result<ContentType<'a>, Error> {
        Self::parse_cow(s.into())
    }

    /// The type (`application`).
    pub fn mime_type(&self) -> &str {
        self.mtype.get(&self.text)
    }

    /// The subtype (`sdp`).
    pub fn subtype(&self) -> &str {
        self.subtype.get(&self.text)
    }

    /// Whether this is `essence` (`"application/sdp"`), case-insensitively.
    pub fn is(&self, essence: &str) -> bool {
        match essence.split_once('/') {
            Some((t, s)) => {
                self.mime_type().eq_ignore_ascii_case(t) && self.subtype().eq_ignore_ascii_case(s)
            }
            None => false,
        }
    }

    /// The parameters.
    pub fn params(&self) -> Params<'_> {
        Params::new(self.params.get(&self.text))
    }

    /// The `boundary` parameter of a multipart type, unquoted.
    pub fn boundary(&self) -> Option<Cow<'_, str>> {
        self.params().get_unquoted("boundary")
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> ContentType<'static> {
        ContentType {
            text: Cow::Owned(self.text.into_owned()),
            mtype: self.mtype,
            subtype: self.subtype,
            params: self.params,
        }
    }
}

impl fmt::Display for ContentType<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(scan::trim_lws_str(&self.text))
    }
}

impl fmt::Debug for ContentType<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentType({})", self.text)
    }
}

impl<'a> TypedHeader<'a> for ContentType<'a> {
    const NAME: HeaderName = HeaderName::CONTENT_TYPE;
    fn parse(value: &'a str) -> Result<Self, Error> {
        ContentType::parse_cow(Cow::Borrowed(value))
    }
}

/// An option tag (RFC 3261 §19.2): `100rel`, `path`, `gruu`, `sec-agree`...
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OptionTag<'a>(Text<'a>);

impl<'a> OptionTag<'a> {
    /// An option tag, validated as a token.
    pub fn new(s: impl Into<Cow<'a, str>>) -> Result<OptionTag<'a>, Error> {
        let s = s.into();
        if !scan::is_token(s.as_bytes()) {
            return Err(Error::Invalid("option tag is not a token"));
        }
        Ok(OptionTag(s))
    }

    /// The tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> OptionTag<'static> {
        OptionTag(Cow::Owned(self.0.into_owned()))
    }
}

impl fmt::Display for OptionTag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! option_tag_header {
    ($(#[$doc:meta])* $ty:ident, $name:expr, empty = $empty:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $ty<'a>(pub OptionTag<'a>);

        impl<'a> std::ops::Deref for $ty<'a> {
            type Target = OptionTag<'a>;
            fn deref(&self) -> &OptionTag<'a> {
                &self.0
            }
        }

        impl fmt::Display for $ty<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl<'a> TypedHeader<'a> for $ty<'a> {
            const NAME: HeaderName = $name;
            const LIST: bool = true;
            const ALLOW_EMPTY: bool = $empty;
            fn parse(value: &'a str) -> Result<Self, Error> {
                if scan::is_token(value.as_bytes()) {
                    Ok($ty(OptionTag(Cow::Borrowed(value))))
                } else {
                    Err(Error::syntax("option tag is not a token"))
                }
            }
        }
    };
}

option_tag_header!(
    /// One option tag of `Supported` (RFC 3261 §20.37); may be empty.
    Supported, HeaderName::SUPPORTED, empty = true
);
option_tag_header!(
    /// One option tag of `Require` (RFC 3261 §20.32).
    Require, HeaderName::REQUIRE, empty = false
);
option_tag_header!(
    /// One option tag of `Proxy-Require` (RFC 3261 §20.29).
    ProxyRequire, HeaderName::PROXY_REQUIRE, empty = false
);
option_tag_header!(
    /// One option tag of `Unsupported` (RFC 3261 §20.40).
    Unsupported, HeaderName::UNSUPPORTED, empty = false
);

/// One method of `Allow` (RFC 3261 §20.5); the list may be empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allow(pub Method);

impl fmt::Display for Allow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'a> TypedHeader<'a> for Allow {
    const NAME: HeaderName = HeaderName::ALLOW;
    const LIST: bool = true;
    const ALLOW_EMPTY: bool = true;
    fn parse(value: &'a str) -> Result<Self, Error> {
        Method::from_bytes(value.as_bytes())
            .map(Allow)
            .map_err(|_| Error::syntax("method is not a token"))
    }
}

/// `Date` (RFC 3261 §20.17): an RFC 1123 date, which must be in GMT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Date<'a> {
    text: Text<'a>,
    unix: i64,
}

impl Date<'_> {
    /// Seconds since the Unix epoch.
    pub fn unix_time(&self) -> i64 {
        self.unix
    }

    /// The date as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> Date<'static> {
        Date {
            text: Cow::Owned(self.text.into_owned()),
            unix: self.unix,
        }
    }
}

impl fmt::Display for Date<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'a> TypedHeader<'a> for Date<'a> {
    const NAME: HeaderName = HeaderName::DATE;
    fn parse(value: &'a str) -> Result<Self, Error> {
        // wkday "," SP 2DIGIT SP month SP 4DIGIT SP 2DIGIT ":" 2DIGIT ":" 2DIGIT SP "GMT"
        let b = value.as_bytes();
        let bad = || Error::syntax("not an RFC 1123 date in GMT");
        if b.len() != 29 || b[3] != b',' || b[4] != b' ' || b[7] != b' ' || b[11] != b' ' {
            return Err(bad());
        }
        const WKDAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
        const MONTHS: [&[u8]; 12] = [
            b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
            b"Dec",
        ];
        if !WKDAYS.contains(&&b[0..3]) {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| {
            let s = &b[r];
            if s.iter().all(u8::is_ascii_digit) {
                scan::parse_decimal(s, 9999).map(|v| v as i64)
            } else {
                None
            }
        };
        let day = num(5..7).ok_or_else(bad)?;
        let month = MONTHS
            .iter()
            .position(|m| *m == &b[8..11])
            .ok_or_else(bad)? as i64
            + 1;
        let year = num(12..16).ok_or_else(bad)?;
        if b[16] != b' ' || b[19] != b':' || b[22] != b':' || b[25] != b' ' || &b[26..] != b"GMT" {
            return Err(bad());
        }
        let (h, m, s) = (
            num(17..19).ok_or_else(bad)?,
            num(20..22).ok_or_else(bad)?,
            num(23..25).ok_or_else(bad)?,
        );
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let dim = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        if day < 1 || day > dim[(month - 1) as usize] || h > 23 || m > 59 || s > 60 {
            return Err(bad());
        }
        let unix = days_from_civil(year, month, day) * 86400 + h * 3600 + m * 60 + s;
        Ok(Date {
            text: Cow::Borrowed(value),
            unix,
        })
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
