//! Header names: well-known names (with compact forms) and extension names.

use std::fmt;
use std::hash::{Hash, Hasher};

use bytes::Bytes;

use crate::error::Error;
use crate::scan;

/// A header field name.
///
/// Well-known names are associated constants (`HeaderName::VIA`...) and are
/// recognised in their long and compact forms (`v` is `Via`) in any letter case.
/// Other names are extension names, compared ASCII-case-insensitively and kept as
/// written.
#[derive(Clone)]
pub struct HeaderName(pub(crate) Repr);

#[derive(Clone)]
pub(crate) enum Repr {
    Known(Known),
    Extension(Bytes),
}

/// Number of hot headers indexed during the parse (the first `Known` variants).
pub(crate) const HOT_COUNT: usize = 9;

macro_rules! known_headers {
    ($( $(#[$doc:meta])* $konst:ident = $variant:ident, $canon:literal, [$($alias:literal),*] ;)*) => {
        /// Well-known header names; the first [`HOT_COUNT`] are indexed at parse time.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        #[repr(u8)]
        pub(crate) enum Known { $($variant,)* }

        impl Known {
            /// The canonical spelling.
            pub(crate) fn as_str(self) -> &'static str {
                match self { $(Known::$variant => $canon,)* }
            }

        }

        /// Every spelling (lower case, long and compact) with its name.
        const ALIASES: &[(&[u8], Known)] = &[ $( $( ($alias, Known::$variant), )* )* ];

        impl HeaderName {
            $( $(#[$doc])* pub const $konst: HeaderName = HeaderName(Repr::Known(Known::$variant)); )*
        }
    };
}

known_headers! {
    /// `Via` / `v` (hot).
    VIA = Via, "Via", [b"via", b"v"];
    /// `From` / `f` (hot).
    FROM = From, "From", [b"from", b"f"];
    /// `To` / `t` (hot).
    TO = To, "To", [b"to", b"t"];
    /// `Call-ID` / `i` (hot).
    CALL_ID = CallId, "Call-ID", [b"call-id", b"i"];
    /// `CSeq` (hot).
    CSEQ = CSeq, "CSeq", [b"cseq"];
    /// `Max-Forwards` (hot).
    MAX_FORWARDS = MaxForwards, "Max-Forwards", [b"max-forwards"];
    /// `Content-Length` / `l` (hot).
    CONTENT_LENGTH = ContentLength, "Content-Length", [b"content-length", b"l"];
    /// `Route` (hot).
    ROUTE = Route, "Route", [b"route"];
    /// `Contact` / `m` (hot).
    CONTACT = Contact, "Contact", [b"contact", b"m"];
    /// `Accept`.
    ACCEPT = Accept, "Accept", [b"accept"];
    /// `Accept-Contact` / `a` (RFC 3841).
    ACCEPT_CONTACT = AcceptContact, "Accept-Contact", [b"accept-contact", b"a"];
    /// `Accept-Encoding`.
    ACCEPT_ENCODING = AcceptEncoding, "Accept-Encoding", [b"accept-encoding"];
    /// `Accept-Language`.
    ACCEPT_LANGUAGE = AcceptLanguage, "Accept-Language", [b"accept-language"];
    /// `Alert-Info`.
    ALERT_INFO = AlertInfo, "Alert-Info", [b"alert-info"];
    /// `Allow`.
    ALLOW = Allow, "Allow", [b"allow"];
    /// `Allow-Events` / `u` (RFC 6665).
    ALLOW_EVENTS = AllowEvents, "Allow-Events", [b"allow-events", b"u"];
    /// `Authentication-Info`.
    AUTHENTICATION_INFO = AuthenticationInfo, "Authentication-Info", [b"authentication-info"];
    /// `Authorization`.
    AUTHORIZATION = Authorization, "Authorization", [b"authorization"];
    /// `Call-Info`.
    CALL_INFO = CallInfo, "Call-Info", [b"call-info"];
    /// `Content-Disposition`.
    CONTENT_DISPOSITION = ContentDisposition, "Content-Disposition", [b"content-disposition"];
    /// `Content-Encoding` / `e`.
    CONTENT_ENCODING = ContentEncoding, "Content-Encoding", [b"content-encoding", b"e"];
    /// `Content-Language`.
    CONTENT_LANGUAGE = ContentLanguage, "Content-Language", [b"content-language"];
    /// `Content-Type` / `c`.
    CONTENT_TYPE = ContentType, "Content-Type", [b"content-type", b"c"];
    /// `Date`.
    DATE = Date, "Date", [b"date"];
    /// `Diversion` (RFC 5806).
    DIVERSION = Diversion, "Diversion", [b"diversion"];
    /// `Error-Info`.
    ERROR_INFO = ErrorInfo, "Error-Info", [b"error-info"];
    /// `Event` / `o` (RFC 6665).
    EVENT = Event, "Event", [b"event", b"o"];
    /// `Expires`.
    EXPIRES = Expires, "Expires", [b"expires"];
    /// `Flow-Timer` (RFC 5626).
    FLOW_TIMER = FlowTimer, "Flow-Timer", [b"flow-timer"];
    /// `History-Info` (RFC 7044).
    HISTORY_INFO = HistoryInfo, "History-Info", [b"history-info"];
    /// `Identity` / `y` (RFC 8224).
    IDENTITY = Identity, "Identity", [b"identity", b"y"];
    /// `In-Reply-To`.
    IN_REPLY_TO = InReplyTo, "In-Reply-To", [b"in-reply-to"];
    /// `Min-Expires`.
    MIN_EXPIRES = MinExpires, "Min-Expires", [b"min-expires"];
    /// `Min-SE` (RFC 4028).
    MIN_SE = MinSe, "Min-SE", [b"min-se"];
    /// `MIME-Version`.
    MIME_VERSION = MimeVersion, "MIME-Version", [b"mime-version"];
    /// `Organization`.
    ORGANIZATION = Organization, "Organization", [b"organization"];
    /// `P-Access-Network-Info` (RFC 7315).
    P_ACCESS_NETWORK_INFO = PAccessNetworkInfo, "P-Access-Network-Info", [b"p-access-network-info"];
    /// `P-Asserted-Identity` (RFC 3325).
    P_ASSERTED_IDENTITY = PAssertedIdentity, "P-Asserted-Identity", [b"p-asserted-identity"];
    /// `P-Asserted-Service` (RFC 6050).
    P_ASSERTED_SERVICE = PAssertedService, "P-Asserted-Service", [b"p-asserted-service"];
    /// `P-Associated-URI` (RFC 7315).
    P_ASSOCIATED_URI = PAssociatedUri, "P-Associated-URI", [b"p-associated-uri"];
    /// `P-Called-Party-ID` (RFC 7315).
    P_CALLED_PARTY_ID = PCalledPartyId, "P-Called-Party-ID", [b"p-called-party-id"];
    /// `P-Charging-Function-Addresses` (RFC 7315).
    P_CHARGING_FUNCTION_ADDRESSES = PChargingFunctionAddresses, "P-Charging-Function-Addresses", [b"p-charging-function-addresses"];
    /// `P-Charging-Vector` (RFC 7315).
    P_CHARGING_VECTOR = PChargingVector, "P-Charging-Vector", [b"p-charging-vector"];
    /// `P-Preferred-Identity` (RFC 3325).
    P_PREFERRED_IDENTITY = PPreferredIdentity, "P-Preferred-Identity", [b"p-preferred-identity"];
    /// `P-Preferred-Service` (RFC 6050).
    P_PREFERRED_SERVICE = PPreferredService, "P-Preferred-Service", [b"p-preferred-service"];
    /// `P-Served-User` (RFC 5502).
    P_SERVED_USER = PServedUser, "P-Served-User", [b"p-served-user"];
    /// `P-Visited-Network-ID` (RFC 7315).
    P_VISITED_NETWORK_ID = PVisitedNetworkId, "P-Visited-Network-ID", [b"p-visited-network-id"];
    /// `Path` (RFC 3327).
    PATH = Path, "Path", [b"path"];
    /// `Priority`.
    PRIORITY = Priority, "Priority", [b"priority"];
    /// `Privacy` (RFC 3323).
    PRIVACY = Privacy, "Privacy", [b"privacy"];
    /// `Proxy-Authenticate`.
    PROXY_AUTHENTICATE = ProxyAuthenticate, "Proxy-Authenticate", [b"proxy-authenticate"];
    /// `Proxy-Authorization`.
    PROXY_AUTHORIZATION = ProxyAuthorization, "Proxy-Authorization", [b"proxy-authorization"];
    /// `Proxy-Require`.
    PROXY_REQUIRE = ProxyRequire, "Proxy-Require", [b"proxy-require"];
    /// `RAck` (RFC 3262).
    RACK = RAck, "RAck", [b"rack"];
    /// `Reason` (RFC 3326).
    REASON = Reason, "Reason", [b"reason"];
    /// `Record-Route`.
    RECORD_ROUTE = RecordRoute, "Record-Route", [b"record-route"];
    /// `Refer-To` / `r` (RFC 3515).
    REFER_TO = ReferTo, "Refer-To", [b"refer-to", b"r"];
    /// `Referred-By` / `b` (RFC 3892).
    REFERRED_BY = ReferredBy, "Referred-By", [b"referred-by", b"b"];
    /// `Reject-Contact` / `j` (RFC 3841).
    REJECT_CONTACT = RejectContact, "Reject-Contact", [b"reject-contact", b"j"];
    /// `Reply-To`.
    REPLY_TO = ReplyTo, "Reply-To", [b"reply-to"];
    /// `Request-Disposition` / `d` (RFC 3841).
    REQUEST_DISPOSITION = RequestDisposition, "Request-Disposition", [b"request-disposition", b"d"];
    /// `Require`.
    REQUIRE = Require, "Require", [b"require"];
    /// `Retry-After`.
    RETRY_AFTER = RetryAfter, "Retry-After", [b"retry-after"];
    /// `RSeq` (RFC 3262).
    RSEQ = RSeq, "RSeq", [b"rseq"];
    /// `Security-Client` (RFC 3329).
    SECURITY_CLIENT = SecurityClient, "Security-Client", [b"security-client"];
    /// `Security-Server` (RFC 3329).
    SECURITY_SERVER = SecurityServer, "Security-Server", [b"security-server"];
    /// `Security-Verify` (RFC 3329).
    SECURITY_VERIFY = SecurityVerify, "Security-Verify", [b"security-verify"];
    /// `Server`.
    SERVER = Server, "Server", [b"server"];
    /// `Service-Route` (RFC 3608).
    SERVICE_ROUTE = ServiceRoute, "Service-Route", [b"service-route"];
    /// `Session-Expires` / `x` (RFC 4028).
    SESSION_EXPIRES = SessionExpires, "Session-Expires", [b"session-expires", b"x"];
    /// `SIP-ETag` (RFC 3903).
    SIP_ETAG = SipEtag, "SIP-ETag", [b"sip-etag"];
    /// `SIP-If-Match` (RFC 3903).
    SIP_IF_MATCH = SipIfMatch, "SIP-If-Match", [b"sip-if-match"];
    /// `Subject` / `s`.
    SUBJECT = Subject, "Subject", [b"subject", b"s"];
    /// `Subscription-State` (RFC 6665).
    SUBSCRIPTION_STATE = SubscriptionState, "Subscription-State", [b"subscription-state"];
    /// `Supported` / `k`.
    SUPPORTED = Supported, "Supported", [b"supported", b"k"];
    /// `Timestamp`.
    TIMESTAMP = Timestamp, "Timestamp", [b"timestamp"];
    /// `Unsupported`.
    UNSUPPORTED = Unsupported, "Unsupported", [b"unsupported"];
    /// `User-Agent`.
    USER_AGENT = UserAgent, "User-Agent", [b"user-agent"];
    /// `Warning`.
    WARNING = Warning, "Warning", [b"warning"];
    /// `WWW-Authenticate`.
    WWW_AUTHENTICATE = WwwAuthenticate, "WWW-Authenticate", [b"www-authenticate"];
}

impl Known {
    /// Index in the hot-header table, for the hot names.
    #[inline]
    pub(crate) fn hot_index(self) -> Option<usize> {
        let i = self as usize;
        (i < HOT_COUNT).then_some(i)
    }

    /// Looks a name up in any letter case; `None` for extension names.
    /// `name` must be a token.
    #[inline]
    pub(crate) fn lookup(name: &[u8]) -> Option<Known> {
        Self::lookup_keyed(name, key_of(name))
    }

    /// [`Known::lookup`] of `buf[start..end]`, reading the first eight bytes
    /// as one word when `buf` has them (the header parser's case: a name is
    /// always followed by at least its colon and line end).
    #[inline(always)]
    pub(crate) fn lookup_in(buf: &[u8], start: usize, end: usize) -> Option<Known> {
        let name = &buf[start..end];
        let key = match buf.get(start..start + 8) {
            Some(w) => key_of_word(load8(w, 0), name.len()),
            None => key_of(name),
        };
        Self::lookup_keyed(name, key)
    }

    /// The header parser's fast path for a field that starts at `buf[start]`
    /// with a well-known name followed directly by its colon (`Via:`,
    /// `Content-Length:`, names up to 23 bytes): the name's end (the colon's
    /// offset) and the name. `None` for anything else (extension names, white
    /// space before the colon, longer names, fewer than 24 bytes left), which
    /// the caller then scans byte by byte.
    ///
    /// Three words are read; the colon is found in them with a zero-byte test.
    /// Accepting a name on a folded comparison is exact here because the bytes
    /// before the colon are checked to be ≥ 0x20: the only other bytes that
    /// `| 0x20` turns into a character of a known name are control bytes
    /// (0x0D → `-`, 0x0E → `.`, 0x10–0x19 → digits); letters fold to letters
    /// and bytes ≥ 0x80 never match.
    #[inline(always)]
    pub(crate) fn lookup_field(buf: &[u8], start: usize) -> Option<(usize, Known)> {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        const COLONS: u64 = 0x3a3a_3a3a_3a3a_3a3a;
        let w = buf.get(start..start + 24)?;
        let mut offset = 0;
        for i in 0..3 {
            let x = load8(w, i * 8);
            // Lowest flagged byte of each test is exact (borrows only run
            // upwards), which is all that is used.
            let colon = (x ^ COLONS).wrapping_sub(ONES) & !(x ^ COLONS) & HIGH;
            let control = x.wrapping_sub(0x20 * ONES) & !x & HIGH;
            if colon == 0 {
                if control != 0 {
                    return None;
                }
                offset += 8;
                continue;
            }
            let at = (colon.trailing_zeros() / 8) as usize;
            let before = (1u64 << (8 * at)).wrapping_sub(1);
            if control & before != 0 {
                return None;
            }
            let n = offset + at;
            if n == 0 {
                return None;
            }
            return Self::lookup_keyed(&w[..n], key_of_word(load8(w, 0), n))
                .map(|k| (start + n, k));
        }
        None
    }

    #[inline(always)]
    fn lookup_keyed(name: &[u8], key: u64) -> Option<Known> {
        let n = name.len();
        let mut h = slot_of(key, n);
        loop {
            let slot = &NAME_TABLE[h];
            if slot.alias == 0 {
                return None;
            }
            if slot.key == key
                && usize::from(slot.len) == n
                && (n <= 8 || eq_folded(ALIASES[usize::from(slot.alias - 1)].0, name))
            {
                return slot.known;
            }
            h = (h + 1) & (NAME_TABLE_SIZE - 1);
        }
    }
}

const NAME_TABLE_SIZE: usize = 512;
const FOLD: u64 = 0x2020_2020_2020_2020;

/// Whether token `name` equals lower-case `alias` ignoring ASCII case.
///
/// `| 0x20` folds letters and is the identity on every other token character
/// (no two token characters differ only in bit 5), so this compares eight
/// bytes at a time. `name` must be a token.
#[inline]
fn eq_folded(alias: &[u8], name: &[u8]) -> bool {
    let n = name.len();
    if alias.len() != n {
        return false;
    }
    if n >= 8 {
        // 8-byte words from the front, then one (overlapping) at the end.
        let mut i = 0;
        while i + 8 < n {
            if load8(alias, i) != load8(name, i) | FOLD {
                return false;
            }
            i += 8;
        }
        load8(alias, n - 8) == load8(name, n - 8) | FOLD
    } else {
        alias.iter().zip(name).all(|(x, y)| *x == y | 0x20)
    }
}

#[inline(always)]
fn load8(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The first eight bytes of a name folded with `| 0x20` (zero-filled for
/// shorter names), as a little-endian word: the lookup key.
#[inline]
const fn key_of(b: &[u8]) -> u64 {
    let mut w = 0u64;
    let mut i = 0;
    while i < b.len() && i < 8 {
        w |= ((b[i] | 0x20) as u64) << (8 * i);
        i += 1;
    }
    w
}

/// [`key_of`] of a name of `len` bytes whose first eight bytes (and
/// whatever follows a shorter name) are `word`.
#[inline(always)]
fn key_of_word(word: u64, len: usize) -> u64 {
    let w = word | FOLD;
    if len < 8 {
        w & ((1u64 << (8 * len)) - 1)
    } else {
        w
    }
}

/// The home slot of a key: multiplicative hashing of the key and length.
#[inline(always)]
const fn slot_of(key: u64, len: usize) -> usize {
    ((key ^ (len as u64).rotate_right(8)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 55) as usize
        & (NAME_TABLE_SIZE - 1)
}

/// One slot of the name table: the alias's key and length, its index in
/// `ALIASES` + 1 (0: empty) and what it names.
#[derive(Clone, Copy)]
struct Slot {
    key: u64,
    len: u8,
    alias: u8,
    known: Option<Known>,
}

/// Open-addressing table of the aliases, built at compile time.
static NAME_TABLE: [Slot; NAME_TABLE_SIZE] = {
    let mut t = [Slot {
        key: 0,
        len: 0,
        alias: 0,
        known: None,
    }; NAME_TABLE_SIZE];
    let mut i = 0;
    while i < ALIASES.len() {
        let alias = ALIASES[i].0;
        let key = key_of(alias);
        let mut h = slot_of(key, alias.len());
        while t[h].alias != 0 {
            h = (h + 1) & (NAME_TABLE_SIZE - 1);
        }
        assert!(alias.len() < 256 && i + 1 < 256);
        t[h] = Slot {
            key,
            len: alias.len() as u8,
            alias: (i + 1) as u8,
            known: Some(ALIASES[i].1),
        };
        i += 1;
    }
    t
};

impl HeaderName {
    /// A header name from its text (any case, long or compact form); fails unless
    /// `name` is a token.
    pub fn from_bytes(name: &[u8]) -> Result<HeaderName, Error> {
        if !scan::is_token(name) {
            return Err(Error::Invalid("header name is not a token"));
        }
        if let Some(k) = Known::lookup(name) {
            return Ok(HeaderName(Repr::Known(k)));
        }
        Ok(HeaderName(Repr::Extension(Bytes::copy_from_slice(name))))
    }

    /// A name from a static string. A well-known name passed here is still
    /// recognised as the well-known one; a string that is not a token makes
    /// a name every editing method refuses (`Error::Invalid`).
    pub fn from_static(name: &'static str) -> HeaderName {
        let known = if scan::is_token(name.as_bytes()) {
            Known::lookup(name.as_bytes())
        } else {
            None
        };
        match known {
            Some(k) => HeaderName(Repr::Known(k)),
            None => HeaderName(Repr::Extension(Bytes::from_static(name.as_bytes()))),
        }
    }

    /// An extension name usable in `const` context, e.g. as the `NAME` of a
    /// user-defined [`TypedHeader`](crate::TypedHeader).
    ///
    /// `name` must be a token that is not a well-known name (well-known names
    /// have constants); not checked here, but the editing methods refuse a
    /// name that is no token.
    pub const fn extension(name: &'static str) -> HeaderName {
        HeaderName(Repr::Extension(Bytes::from_static(name.as_bytes())))
    }

    /// The name: canonical spelling for well-known names, as written otherwise.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Known(k) => k.as_str(),
            // Extension names are validated tokens, hence ASCII.
            Repr::Extension(b) => std::str::from_utf8(b).unwrap_or(""),
        }
    }

    /// Whether this is a well-known name.
    pub fn is_known(&self) -> bool {
        matches!(self.0, Repr::Known(_))
    }

    #[inline]
    pub(crate) fn known(&self) -> Option<Known> {
        match self.0 {
            Repr::Known(k) => Some(k),
            Repr::Extension(_) => None,
        }
    }

    /// Whether a header written as `written` (with lookup result `known`) has this name.
    #[inline]
    pub(crate) fn matches(&self, known: Option<Known>, written: &[u8]) -> bool {
        match &self.0 {
            Repr::Known(k) => known == Some(*k),
            Repr::Extension(b) => known.is_none() && b.eq_ignore_ascii_case(written),
        }
    }
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Repr::Known(a), Repr::Known(b)) => a == b,
            (Repr::Extension(a), Repr::Extension(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        }
    }
}

impl Eq for HeaderName {}

impl Hash for HeaderName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match &self.0 {
            Repr::Known(k) => {
                0u8.hash(state);
                k.hash(state);
            }
            Repr::Extension(b) => {
                1u8.hash(state);
                for c in b.iter() {
                    c.to_ascii_lowercase().hash(state);
                }
            }
        }
    }
}

impl fmt::Debug for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HeaderName({})", self.as_str())
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for HeaderName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        HeaderName::from_bytes(s.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alias_is_found_in_any_case() {
        for (alias, known) in ALIASES {
            assert_eq!(Known::lookup(alias), Some(*known));
            assert_eq!(Known::lookup(&alias.to_ascii_uppercase()), Some(*known));
        }
        for other in [
            &b"X-Via"[..],
            b"Vias",
            b"",
            b"C%6Fntact",
            b"contactx",
            b"p-charging",
        ] {
            assert_eq!(Known::lookup(other), None);
        }
    }

    #[test]
    fn lookup_in_a_buffer_agrees_with_lookup() {
        let mut names: Vec<Vec<u8>> = ALIASES.iter().map(|(a, _)| a.to_vec()).collect();
        names.extend(ALIASES.iter().map(|(a, _)| a.to_ascii_uppercase()));
        for extra in [
            "x-via",
            "vias",
            "contactx",
            "p-charging",
            "max-forward",
            "v1",
        ] {
            names.push(extra.as_bytes().to_vec());
        }
        for name in names {
            // With room for a whole word after the name, and at the very end.
            for tail in [&b": value\r\n"[..], b""] {
                let mut buf = b"Via: x\r\n".to_vec();
                let start = buf.len();
                buf.extend_from_slice(&name);
                let end = buf.len();
                buf.extend_from_slice(tail);
                assert_eq!(
                    Known::lookup_in(&buf, start, end),
                    Known::lookup(&name),
                    "{}",
                    String::from_utf8_lossy(&name)
                );
            }
        }
    }

    /// What the header parser does without the fast path: a token name, the
    /// colon right after it, then the lookup.
    fn field_by_bytes(buf: &[u8], start: usize) -> Option<(usize, Known)> {
        let n = buf[start..]
            .iter()
            .position(|&c| !scan::is(c, scan::TOKEN))?;
        if n == 0 || buf[start + n] != b':' {
            return None;
        }
        Known::lookup(&buf[start..start + n]).map(|k| (start + n, k))
    }

    #[test]
    fn field_fast_path_finds_known_names_and_refuses_look_alikes() {
        for (alias, known) in ALIASES {
            for name in [alias.to_vec(), alias.to_ascii_uppercase()] {
                let mut buf = b"x\r\n".to_vec();
                buf.extend_from_slice(&name);
                buf.extend_from_slice(b": some value of the field\r\n");
                let got = Known::lookup_field(&buf, 3);
                if name.len() <= 23 {
                    assert_eq!(got, Some((3 + name.len(), *known)), "{alias:?}");
                } else {
                    assert_eq!(got, None);
                }
            }
        }
        // Control bytes that fold onto '-', '.' or digits; space before the
        // colon; an extension name; a short buffer; an empty name.
        for (buf, why) in [
            (&b"Call\x0dID: x\r\n..............."[..], "CR folds to '-'"),
            (b"Max\x0dForwards: 70\r\n.........", "CR folds to '-'"),
            (b"Via : SIP/2.0/UDP h\r\n.........", "space before colon"),
            (b"X-Custom: 1\r\n.................", "extension"),
            (b"Via: x\r\n", "fewer than 24 bytes"),
            (b": x\r\n.........................", "empty name"),
            (b"\xc3\x96Via: x\r\n.................", "non-ASCII"),
        ] {
            assert_eq!(Known::lookup_field(buf, 0), None, "{why}");
        }
    }

    proptest::proptest! {
        /// The fast path never disagrees with the byte-by-byte rule: when it
        /// answers, the answer is the same; names it declines go the slow way.
        #[test]
        fn field_fast_path_agrees_with_bytes(
            pick in 0usize..ALIASES.len(),
            upper in proptest::collection::vec(proptest::bool::ANY, 24),
            damage in proptest::option::of((0usize..24, proptest::num::u8::ANY)),
            tail in proptest::collection::vec(proptest::num::u8::ANY, 0..30),
        ) {
            let mut name: Vec<u8> = ALIASES[pick].0.iter().zip(&upper)
                .map(|(&c, &u)| if u { c.to_ascii_uppercase() } else { c })
                .collect();
            name.push(b':');
            if let Some((at, byte)) = damage
                && let Some(c) = name.get_mut(at)
            {
                *c = byte;
            }
            name.extend_from_slice(&tail);
            match (Known::lookup_field(&name, 0), field_by_bytes(&name, 0)) {
                (Some(fast), slow) => proptest::prop_assert_eq!(Some(fast), slow),
                // Declined: only when there are fewer than 24 bytes to read or
                // the name is longer than 23.
                (None, Some((end, _))) => proptest::prop_assert!(name.len() < 24 || end > 23),
                (None, None) => {}
            }
        }
    }

    proptest::proptest! {
        /// Arbitrary bytes drawn from name letters, separators and the
        /// control bytes that fold onto name characters: the fast path only
        /// ever agrees with the byte-by-byte rule.
        #[test]
        fn field_fast_path_on_look_alikes(
            bytes in proptest::collection::vec(
                proptest::sample::select(b"viaVIAcontactCSEQ-lf:: \r\n\x0d\x0e\x10\x19\x80\xc3.".to_vec()),
                20..40,
            )
        ) {
            if let Some(fast) = Known::lookup_field(&bytes, 0) {
                proptest::prop_assert_eq!(Some(fast), field_by_bytes(&bytes, 0));
            }
        }
    }

    #[test]
    fn compact_forms_and_case() {
        for (c, long) in [
            ("i", HeaderName::CALL_ID),
            ("m", HeaderName::CONTACT),
            ("e", HeaderName::CONTENT_ENCODING),
            ("l", HeaderName::CONTENT_LENGTH),
            ("f", HeaderName::FROM),
            ("s", HeaderName::SUBJECT),
            ("k", HeaderName::SUPPORTED),
            ("t", HeaderName::TO),
            ("v", HeaderName::VIA),
            ("c", HeaderName::CONTENT_TYPE),
            ("o", HeaderName::EVENT),
            ("u", HeaderName::ALLOW_EVENTS),
            ("r", HeaderName::REFER_TO),
            ("b", HeaderName::REFERRED_BY),
            ("x", HeaderName::SESSION_EXPIRES),
            ("y", HeaderName::IDENTITY),
            ("a", HeaderName::ACCEPT_CONTACT),
            ("j", HeaderName::REJECT_CONTACT),
            ("d", HeaderName::REQUEST_DISPOSITION),
        ] {
            assert_eq!(HeaderName::from_bytes(c.as_bytes()).unwrap(), long, "{c}");
            assert_eq!(
                HeaderName::from_bytes(c.to_uppercase().as_bytes()).unwrap(),
                long
            );
        }
        assert_eq!(
            HeaderName::from_bytes(b"MaX-fOrWaRdS").unwrap(),
            HeaderName::MAX_FORWARDS
        );
        let ext = HeaderName::from_bytes(b"C%6Fntact").unwrap();
        assert!(!ext.is_known());
        assert_eq!(ext, HeaderName::from_bytes(b"c%6fNTACT").unwrap());
        assert_ne!(ext, HeaderName::CONTACT);
        assert!(HeaderName::from_bytes(b"Bad Name").is_err());
        assert_eq!(HeaderName::from_static("via"), HeaderName::VIA);
    }
}
