//! URIs: `sip:`/`sips:` (RFC 3261 §19.1), `tel:` (RFC 3966) and any other
//! absoluteURI (RFC 2396) kept opaque.
//!
//! Every URI type keeps its text as written (borrowed from the message, or owned
//! after [`Uri::into_owned`]) plus the positions of its parts, so reading a part
//! is slicing and `Display` reproduces the input exactly. Parts are returned raw
//! (percent-escapes intact); [`unescape`] decodes them.
//!
//! `PartialEq` implements the RFC equivalence rules (RFC 3261 §19.1.4 for SIP,
//! RFC 3966 §4 for tel), not byte equality: compare [`Uri::as_str`] for that.

pub(crate) mod host;

use std::borrow::Cow;
use std::fmt;

use host::HostTag;
pub use host::{Host, HostKind};

use crate::error::Error;
use crate::params::{self, Params};
use crate::scan::{self, Scanner};

/// A byte range inside a URI's text; `R::NONE` marks an absent part.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct R {
    s: u32,
    e: u32,
}

impl R {
    const NONE: R = R {
        s: u32::MAX,
        e: u32::MAX,
    };

    #[inline]
    fn new(s: usize, e: usize) -> R {
        // URIs are bounded by the message size limit, far below 4 GiB.
        R {
            s: s as u32,
            e: e as u32,
        }
    }
    #[inline]
    fn get<'t>(&self, t: &'t str) -> &'t str {
        t.get(self.s as usize..self.e as usize).unwrap_or("")
    }
    #[inline]
    fn get_opt<'t>(&self, t: &'t str) -> Option<&'t str> {
        if self.s == u32::MAX {
            None
        } else {
            Some(self.get(t))
        }
    }
}

const NO_PORT: u32 = u32::MAX;

/// Where the parts of a SIP URI are, without the text.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SipLayout {
    user: R,
    password: R,
    host: R,
    params: R,
    headers: R,
    port: u32,
    secure: bool,
    host_tag: HostTag,
}

/// Where the parts of a tel URI are, without the text.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TelLayout {
    number: R,
    params: R,
}

/// A parsed URI's layout without its text: lets an owner that keeps the text
/// elsewhere (a message, a header value) rebuild the URI without re-parsing.
#[derive(Clone, Copy, Debug)]
pub(crate) enum UriLayout {
    Sip(SipLayout),
    Tel(TelLayout),
    Absolute(u32),
}

impl UriLayout {
    /// The layout of a complete URI given as bytes (no surrounding white
    /// space or angle brackets), with the same refusals as [`Uri::parse`]
    /// and a refusal of any non-ASCII byte.
    pub(crate) fn parse(b: &[u8]) -> Result<UriLayout, Error> {
        if !b.is_ascii() {
            return Err(Error::syntax("non-ASCII character in URI"));
        }
        let (layout, end) = Uri::parse_prefix(b)?;
        if end != b.len() {
            return Err(Error::syntax(match layout {
                UriLayout::Sip(_) => "unexpected character in SIP URI",
                UriLayout::Tel(_) => "unexpected character in tel URI",
                UriLayout::Absolute(_) => "bad character in URI",
            }));
        }
        Ok(layout)
    }

    /// Rebuilds the URI from the exact text it was parsed from.
    #[inline]
    pub(crate) fn refill<'t>(&self, text: &'t str) -> Uri<'t> {
        let text = Cow::Borrowed(text);
        match *self {
            UriLayout::Sip(l) => Uri::Sip(SipUri { text, l }),
            UriLayout::Tel(l) => Uri::Tel(TelUri { text, l }),
            UriLayout::Absolute(colon) => Uri::Absolute(AbsoluteUri { text, colon }),
        }
    }
}

/// Any URI that may appear in a SIP message.
#[derive(Clone)]
#[non_exhaustive]
pub enum Uri<'a> {
    /// `sip:` or `sips:`.
    Sip(SipUri<'a>),
    /// `tel:`.
    Tel(TelUri<'a>),
    /// Any other scheme, kept opaque.
    Absolute(AbsoluteUri<'a>),
}

impl<'a> Uri<'a> {
    /// Parses a complete URI (no surrounding white space or angle brackets).
    pub fn parse(text: &'a str) -> Result<Uri<'a>, Error> {
        Self::parse_cow(Cow::Borrowed(text))
    }

    /// Parses a URI from bytes (URIs are ASCII).
    pub fn parse_bytes(text: &'a [u8]) -> Result<Uri<'a>, Error> {
        let layout = UriLayout::parse(text)?;
        // `UriLayout::parse` refused every non-ASCII byte.
        let s = simdutf8::basic::from_utf8(text).map_err(|_| Error::syntax("URI is not ASCII"))?;
        Ok(layout.refill(s))
    }

    fn parse_cow(text: Cow<'a, str>) -> Result<Uri<'a>, Error> {
        let b = text.as_bytes();
        let colon = scheme_len(b).map_err(|_| Error::syntax("URI without scheme"))?;
        let scheme = &b[..colon];
        if scheme.eq_ignore_ascii_case(b"sip") || scheme.eq_ignore_ascii_case(b"sips") {
            SipUri::parse_cow(text).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case(b"tel") {
            TelUri::parse_cow(text).map(Uri::Tel)
        } else {
            AbsoluteUri::parse_cow(text).map(Uri::Absolute)
        }
    }

    /// Parses the URI at the start of `b`, stopping where it can no longer
    /// continue (at `>` in a name-addr); returns its layout (offsets relative
    /// to `b`) and its length. The caller checks what follows.
    pub(crate) fn parse_prefix(b: &[u8]) -> Result<(UriLayout, usize), Error> {
        let colon = scheme_len(b).map_err(|_| Error::syntax("URI without scheme"))?;
        let scheme = &b[..colon];
        if scheme.eq_ignore_ascii_case(b"sip") || scheme.eq_ignore_ascii_case(b"sips") {
            sip_prefix(b).map(|(l, n)| (UriLayout::Sip(l), n))
        } else if scheme.eq_ignore_ascii_case(b"tel") {
            tel_prefix(b).map(|(l, n)| (UriLayout::Tel(l), n))
        } else {
            absolute_prefix(b).map(|(c, n)| (UriLayout::Absolute(c), n))
        }
    }

    /// The URI as written.
    pub fn as_str(&self) -> &str {
        match self {
            Uri::Sip(u) => u.as_str(),
            Uri::Tel(u) => u.as_str(),
            Uri::Absolute(u) => u.as_str(),
        }
    }

    /// The scheme as written (`sip`, `SIPS`, `tel`, `http`...).
    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) => u.scheme(),
            Uri::Tel(_) => &self.as_str()[..3],
            Uri::Absolute(u) => u.scheme(),
        }
    }

    /// The SIP URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUri<'a>> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// The tel URI, if this is one.
    pub fn as_tel(&self) -> Option<&TelUri<'a>> {
        match self {
            Uri::Tel(u) => Some(u),
            _ => None,
        }
    }

    /// The raw user part: the SIP user, or the tel number with its parameters
    /// (as the `user` of an equivalent `sip:...;user=phone` URI would be).
    /// Empty when the URI has none.
    pub fn user(&self) -> &str {
        match self {
            Uri::Sip(u) => u.user().unwrap_or(""),
            Uri::Tel(u) => &u.as_str()[4..],
            Uri::Absolute(_) => "",
        }
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> Uri<'static> {
        match self {
            Uri::Sip(u) => Uri::Sip(u.into_owned()),
            Uri::Tel(u) => Uri::Tel(u.into_owned()),
            Uri::Absolute(u) => Uri::Absolute(u.into_owned()),
        }
    }

    /// The layout without the text.
    pub(crate) fn layout(&self) -> UriLayout {
        match self {
            Uri::Sip(u) => UriLayout::Sip(u.l),
            Uri::Tel(u) => UriLayout::Tel(u.l),
            Uri::Absolute(u) => UriLayout::Absolute(u.colon),
        }
    }
}

impl PartialEq for Uri<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Uri::Sip(a), Uri::Sip(b)) => a == b,
            (Uri::Tel(a), Uri::Tel(b)) => a == b,
            (Uri::Absolute(a), Uri::Absolute(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uri({})", self.as_str())
    }
}

impl std::str::FromStr for Uri<'static> {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Uri::parse_cow(Cow::Owned(s.to_owned()))
    }
}

/// A `sip:` or `sips:` URI (RFC 3261 §19.1).
#[derive(Clone)]
pub struct SipUri<'a> {
    text: Cow<'a, str>,
    l: SipLayout,
}

impl<'a> SipUri<'a> {
    /// Parses a complete `sip:`/`sips:` URI.
    pub fn parse(text: &'a str) -> Result<SipUri<'a>, Error> {
        Self::parse_cow(Cow::Borrowed(text))
    }

    fn parse_cow(text: Cow<'a, str>) -> Result<SipUri<'a>, Error> {
        let (l, end) = sip_prefix(text.as_bytes())?;
        if end != text.len() {
            return Err(Error::syntax("unexpected character in SIP URI"));
        }
        Ok(SipUri { text, l })
    }

    /// A `sip:` URI for `host` (a domain, IPv4 address or `[IPv6]` reference),
    /// with an optional raw (already escaped) user part and port.
    pub fn new(
        user: Option<&str>,
        host: &str,
        port: Option<u16>,
    ) -> Result<SipUri<'static>, Error> {
        // Each part on its own: text that parses only as a whole URI (a
        // host carrying `;maddr=...` or `user@`) is refused.
        if host::classify(host.as_bytes()).is_err() {
            return Err(Error::Invalid("bad host for SIP URI"));
        }
        if let Some(u) = user {
            let (name, password) = match u.split_once(':') {
                Some((n, p)) => (n, Some(p)),
                None => (u, None),
            };
            let whole = |text: &str, class| {
                let mut sc = Scanner::new(text.as_bytes());
                sc.take_escaped(class).is_ok_and(|t| t.len() == text.len())
            };
            if name.is_empty()
                || !whole(name, scan::USER)
                || password.is_some_and(|p| !whole(p, scan::PASSWORD))
            {
                return Err(Error::Invalid("bad user part for SIP URI"));
            }
        }
        let mut s = String::with_capacity(8 + host.len() + user.map_or(0, str::len));
        s.push_str("sip:");
        if let Some(u) = user {
            s.push_str(u);
            s.push('@');
        }
        s.push_str(host);
        if let Some(p) = port {
            s.push(':');
            s.push_str(&p.to_string());
        }
        SipUri::parse_cow(Cow::Owned(s)).map_err(|_| Error::Invalid("bad user or host for SIP URI"))
    }

    /// The URI as written.
    #[inline]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The scheme as written.
    pub fn scheme(&self) -> &str {
        &self.text[..if self.l.secure { 4 } else { 3 }]
    }

    /// Whether this is a `sips:` URI.
    #[inline]
    pub fn is_secure(&self) -> bool {
        self.l.secure
    }

    /// The user part, raw (escapes intact; may contain `;` as in RFC 4475 §3.1.1.9).
    #[inline]
    pub fn user(&self) -> Option<&str> {
        self.l.user.get_opt(&self.text)
    }

    /// The password, raw.
    pub fn password(&self) -> Option<&str> {
        self.l.password.get_opt(&self.text)
    }

    /// The host as written.
    #[inline]
    pub fn host(&self) -> Host<'_> {
        Host::new(self.l.host.get(&self.text), self.l.host_tag)
    }

    /// The explicit port, if any.
    #[inline]
    pub fn port(&self) -> Option<u16> {
        (self.l.port != NO_PORT).then_some(self.l.port as u16)
    }

    /// The URI parameters.
    #[inline]
    pub fn params(&self) -> Params<'_> {
        Params::new(self.l.params.get(&self.text))
    }

    /// The value of URI parameter `name` (raw); `Some(None)` for a flag.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params().get(name)
    }

    /// The `transport` parameter.
    pub fn transport(&self) -> Option<&str> {
        self.param("transport").flatten()
    }

    /// Whether the `lr` (loose routing) parameter is present.
    pub fn is_loose_route(&self) -> bool {
        self.params().contains("lr")
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&str> {
        self.param("maddr").flatten()
    }

    /// The `user` parameter (e.g. `phone`).
    pub fn user_param(&self) -> Option<&str> {
        self.param("user").flatten()
    }

    /// The raw headers component (after `?`), if any.
    pub fn headers(&self) -> Option<&str> {
        self.l.headers.get_opt(&self.text)
    }

    /// The headers component as `(name, value)` pairs, raw.
    pub fn header_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers()
            .unwrap_or("")
            .split('&')
            .filter(|s| !s.is_empty())
            .map(|h| h.split_once('=').unwrap_or((h, "")))
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> SipUri<'static> {
        SipUri {
            text: Cow::Owned(self.text.into_owned()),
            l: self.l,
        }
    }

    fn rebuild(&self, params: &str, headers: Option<&str>) -> Result<SipUri<'static>, Error> {
        let end_hostport = self.l.params.s as usize;
        let mut s = String::with_capacity(self.text.len() + params.len() + 8);
        s.push_str(&self.text[..end_hostport]);
        s.push_str(params);
        if let Some(h) = headers {
            s.push('?');
            s.push_str(h);
        }
        SipUri::parse_cow(Cow::Owned(s))
    }

    /// A copy with URI parameter `name` set (`value` `None` for a flag), replacing
    /// an existing one.
    pub fn with_param(&self, name: &str, value: Option<&str>) -> Result<SipUri<'static>, Error> {
        let p = params::edit_params(self.l.params.get(&self.text), name, Some(value))?;
        self.rebuild(&p, self.headers())
            .map_err(|_| Error::Invalid("parameter not valid in a URI"))
    }

    /// A copy without URI parameter `name`.
    pub fn without_param(&self, name: &str) -> SipUri<'static> {
        let p = params::edit_params(self.l.params.get(&self.text), name, None).unwrap_or_default();
        // Removing a parameter from a valid URI leaves a valid URI.
        self.rebuild(&p, self.headers())
            .unwrap_or_else(|_| self.clone().into_owned())
    }

    /// A copy without the headers component (as RFC 3261 §8.1.1.1 requires of a
    /// Request-URI built from a URI).
    pub fn without_headers(&self) -> SipUri<'static> {
        self.rebuild(self.l.params.get(&self.text), None)
            .unwrap_or_else(|_| self.clone().into_owned())
    }
}

/// Parses a SIP URI at the start of `b`, stopping at the first byte that cannot
/// continue it (end of input, `>`, white space...). Returns its layout (offsets
/// relative to `b`) and where it ended.
fn sip_prefix(b: &[u8]) -> Result<(SipLayout, usize), Error> {
    let (secure, start) = if b.len() >= 4 && b[..4].eq_ignore_ascii_case(b"sip:") {
        (false, 4)
    } else if b.len() >= 5 && b[..5].eq_ignore_ascii_case(b"sips:") {
        (true, 5)
    } else {
        return Err(Error::syntax("not a sip or sips URI"));
    };
    let mut sc = Scanner::new(b);
    sc.set_pos(start);

    // userinfo: user characters (a superset of host characters) followed by
    // '@', possibly with ":password" before it; otherwise there is none and
    // the host starts right after the scheme. The scan stops at '>' or white
    // space, so an '@' further on (in header parameters) is never taken.
    let (mut user, mut password) = (R::NONE, R::NONE);
    let u = sc.take_escaped(scan::USER)?;
    let mut has_user = sc.peek() == Some(b'@');
    let mut pass_range = R::NONE;
    if !has_user && sc.peek() == Some(b':') {
        let save = sc.pos();
        sc.set_pos(save + 1);
        let ps = sc.pos();
        sc.take_escaped(scan::PASSWORD)?;
        if sc.peek() == Some(b'@') {
            has_user = true;
            pass_range = R::new(ps, sc.pos());
        } else {
            sc.set_pos(save);
        }
    }
    if has_user {
        if u.is_empty() {
            return Err(Error::syntax("empty user part"));
        }
        user = R::new(start, start + u.len());
        password = pass_range;
        sc.set_pos(sc.pos() + 1);
    } else {
        sc.set_pos(start);
    }

    // host
    let hs = sc.pos();
    let (he, host_tag) = host::scan_host(b, hs)?;
    let host = R::new(hs, he);
    sc.set_pos(he);

    // port
    let mut port = NO_PORT;
    if sc.eat(b':') {
        let digits = sc.take_class(scan::DIGIT);
        port = scan::parse_decimal(digits, 65535).ok_or(Error::syntax("bad port"))? as u32;
    }

    // uri-parameters
    let ps = sc.pos();
    while sc.eat(b';') {
        let name = sc.take_escaped(scan::PARAM)?;
        if name.is_empty() {
            return Err(Error::syntax("empty URI parameter"));
        }
        if sc.eat(b'=') {
            let v = sc.take_escaped(scan::PARAM)?;
            if v.is_empty() {
                return Err(Error::syntax("empty URI parameter value"));
            }
        }
    }
    let params = R::new(ps, sc.pos());

    // headers
    let mut headers = R::NONE;
    if sc.eat(b'?') {
        let hs = sc.pos();
        loop {
            let name = sc.take_escaped(scan::HNV)?;
            if name.is_empty() {
                return Err(Error::syntax("empty URI header name"));
            }
            sc.expect(b'=', "URI header without '='")?;
            sc.take_escaped(scan::HNV)?;
            if !sc.eat(b'&') {
                break;
            }
        }
        headers = R::new(hs, sc.pos());
    }
    Ok((
        SipLayout {
            user,
            password,
            host,
            params,
            headers,
            port,
            secure,
            host_tag,
        },
        sc.pos(),
    ))
}

impl PartialEq for SipUri<'_> {
    /// RFC 3261 §19.1.4 equivalence.
    fn eq(&self, other: &Self) -> bool {
        if self.l.secure != other.l.secure || self.l.port != other.l.port {
            return false;
        }
        if !opt_eq_escaped(self.user(), other.user(), false)
            || !opt_eq_escaped(self.password(), other.password(), false)
        {
            return false;
        }
        if !self.host().matches(&other.host()) {
            return false;
        }
        // Parameters: those in both must match; user/ttl/method/maddr/transport
        // must be in both or neither. A name repeated in a URI (legal, if odd)
        // compares its values in order, so equality stays an equivalence.
        let (pa, pb) = (self.params(), other.params());
        for (i, (n, _)) in pa.iter().enumerate() {
            if pa.iter().take(i).any(|(m, _)| eq_escaped(n, m, true)) {
                continue; // name already compared
            }
            let named = |p: Params<'_>| -> Vec<Option<String>> {
                p.iter()
                    .filter(|(m, _)| eq_escaped(n, m, true))
                    .map(|(_, v)| v.map(str::to_owned))
                    .collect()
            };
            let (va, vb) = (named(pa), named(pb));
            if vb.is_empty() {
                if is_strict_param(n) {
                    return false;
                }
                continue;
            }
            if va.len() != vb.len()
                || !va
                    .iter()
                    .zip(&vb)
                    .all(|(x, y)| opt_eq_escaped(x.as_deref(), y.as_deref(), true))
            {
                return false;
            }
        }
        for (n, _) in pb.iter() {
            if is_strict_param(n) && !pa.iter().any(|(m, _)| eq_escaped(n, m, true)) {
                return false;
            }
        }
        // Headers: the same headers, each as often, in any order; names
        // case-insensitively, values exactly (escapes resolved): most header
        // values, Call-ID among them (§20.8), are case-sensitive.
        let ha: Vec<_> = self.header_pairs().collect();
        let mut hb: Vec<_> = other.header_pairs().map(Some).collect();
        if ha.len() != hb.len() {
            return false;
        }
        ha.iter().all(|(n, v)| {
            hb.iter_mut()
                .find(|h| h.is_some_and(|(m, w)| eq_escaped(n, m, true) && eq_escaped(v, w, false)))
                .map(Option::take)
                .is_some()
        })
    }
}

fn is_strict_param(n: &str) -> bool {
    ["user", "ttl", "method", "maddr", "transport"]
        .iter()
        .any(|p| eq_escaped(n, p, true))
}

impl fmt::Display for SipUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for SipUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SipUri({})", self.text)
    }
}

/// A `tel:` URI (RFC 3966).
///
/// Local numbers without `phone-context` are accepted (deployed IMS networks send
/// them); [`TelUri::is_global`] and [`TelUri::phone_context`] tell them apart.
#[derive(Clone)]
pub struct TelUri<'a> {
    text: Cow<'a, str>,
    l: TelLayout,
}

impl<'a> TelUri<'a> {
    /// Parses a complete `tel:` URI.
    pub fn parse(text: &'a str) -> Result<TelUri<'a>, Error> {
        Self::parse_cow(Cow::Borrowed(text))
    }

    fn parse_cow(text: Cow<'a, str>) -> Result<TelUri<'a>, Error> {
        let (l, end) = tel_prefix(text.as_bytes())?;
        if end != text.len() {
            return Err(Error::syntax("unexpected character in tel URI"));
        }
        Ok(TelUri { text, l })
    }

    /// The URI as written.
    #[inline]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The number as written (with `+` and visual separators).
    #[inline]
    pub fn number(&self) -> &str {
        self.l.number.get(&self.text)
    }

    /// The number without visual separators (`-`, `.`, `(`, `)`).
    pub fn digits(&self) -> String {
        self.number()
            .chars()
            .filter(|c| !matches!(c, '-' | '.' | '(' | ')'))
            .collect()
    }

    /// Whether this is a global number (`+` prefix).
    #[inline]
    pub fn is_global(&self) -> bool {
        self.number().starts_with('+')
    }

    /// The parameters.
    #[inline]
    pub fn params(&self) -> Params<'_> {
        Params::new(self.l.params.get(&self.text))
    }

    /// The `phone-context` parameter.
    pub fn phone_context(&self) -> Option<&str> {
        self.params().get("phone-context").flatten()
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> TelUri<'static> {
        TelUri {
            text: Cow::Owned(self.text.into_owned()),
            l: self.l,
        }
    }
}

/// Parses a tel URI at the start of `b` (see [`sip_prefix`]).
fn tel_prefix(b: &[u8]) -> Result<(TelLayout, usize), Error> {
    if b.len() < 4 || !b[..4].eq_ignore_ascii_case(b"tel:") {
        return Err(Error::syntax("not a tel URI"));
    }
    let end = b[4..]
        .iter()
        .position(|&c| {
            !(c.is_ascii_hexdigit() || matches!(c, b'+' | b'*' | b'#' | b'-' | b'.' | b'(' | b')'))
        })
        .map_or(b.len(), |i| i + 4);
    let num = &b[4..end];
    let visual = |c: u8| matches!(c, b'-' | b'.' | b'(' | b')');
    let ok = if let Some(digits) = num.strip_prefix(b"+") {
        digits.iter().all(|&c| c.is_ascii_digit() || visual(c))
            && digits.iter().any(u8::is_ascii_digit)
    } else {
        num.iter()
            .all(|&c| c.is_ascii_hexdigit() || c == b'*' || c == b'#' || visual(c))
            && num
                .iter()
                .any(|&c| c.is_ascii_hexdigit() || c == b'*' || c == b'#')
    };
    if !ok {
        return Err(Error::syntax("bad telephone number"));
    }
    let mut sc = Scanner::new(b);
    sc.set_pos(end);
    while sc.eat(b';') {
        let name = sc.take_class(scan::TOKEN);
        if name.is_empty() || !name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-') {
            return Err(Error::syntax("bad tel URI parameter"));
        }
        if sc.eat(b'=') {
            // pvalue = 1*paramchar; phone-context may hold '+' digits.
            let v = sc.take_escaped(scan::PARAM)?;
            if v.is_empty() {
                return Err(Error::syntax("empty tel URI parameter value"));
            }
        }
    }
    Ok((
        TelLayout {
            number: R::new(4, end),
            params: R::new(end, sc.pos()),
        },
        sc.pos(),
    ))
}

impl PartialEq for TelUri<'_> {
    /// RFC 3966 §4 equivalence: same kind, same digits without visual
    /// separators, same parameter set (any order), case-insensitive.
    fn eq(&self, other: &Self) -> bool {
        if self.is_global() != other.is_global()
            || !self.digits().eq_ignore_ascii_case(&other.digits())
        {
            return false;
        }
        // Both parameter lists as sorted (name, value) octets: the same set,
        // repeats counted, escapes resolved, case ignored (§4 rules 4–6).
        let norm = |p: Params<'_>| -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
            let mut v: Vec<_> = p
                .iter()
                .map(|(n, v)| {
                    let value = v.map(|v| {
                        let mut v = unescape(v).to_ascii_lowercase();
                        if v.first() == Some(&b'+') {
                            v.retain(|c| !matches!(c, b'-' | b'.' | b'(' | b')'));
                        }
                        v
                    });
                    (n.to_ascii_lowercase().into_bytes(), value)
                })
                .collect();
            v.sort_unstable();
            v
        };
        let (pa, pb) = (self.params(), other.params());
        pa.len() == pb.len() && norm(pa) == norm(pb)
    }
}

impl fmt::Display for TelUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for TelUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TelUri({})", self.text)
    }
}

/// A URI of any other scheme (`http:`, `urn:`, `mailto:`...), kept opaque.
#[derive(Clone)]
pub struct AbsoluteUri<'a> {
    text: Cow<'a, str>,
    colon: u32,
}

impl<'a> AbsoluteUri<'a> {
    /// Parses `scheme ":" ( hier-part / opaque-part )` (RFC 2396 absoluteURI).
    pub fn parse(text: &'a str) -> Result<AbsoluteUri<'a>, Error> {
        Self::parse_cow(Cow::Borrowed(text))
    }

    fn parse_cow(text: Cow<'a, str>) -> Result<AbsoluteUri<'a>, Error> {
        let (colon, end) = absolute_prefix(text.as_bytes())?;
        if end != text.len() {
            return Err(Error::syntax("bad character in URI"));
        }
        Ok(AbsoluteUri { text, colon })
    }

    /// The URI as written.
    #[inline]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The scheme as written.
    pub fn scheme(&self) -> &str {
        &self.text[..self.colon as usize]
    }

    /// Everything after `scheme:`.
    pub fn rest(&self) -> &str {
        &self.text[self.colon as usize + 1..]
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> AbsoluteUri<'static> {
        AbsoluteUri {
            text: Cow::Owned(self.text.into_owned()),
            colon: self.colon,
        }
    }
}

/// Length of the scheme at the start of `b` (up to the ':'), validated:
/// ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
fn scheme_len(b: &[u8]) -> Result<usize, Error> {
    let n = b
        .iter()
        .position(|&c| !scan::is(c, scan::SCHEME))
        .unwrap_or(b.len());
    if n == 0 || !b[0].is_ascii_alphabetic() || b.get(n) != Some(&b':') {
        return Err(Error::syntax("bad URI scheme"));
    }
    Ok(n)
}

/// Parses an absoluteURI at the start of `b` (see [`sip_prefix`]); returns the
/// colon offset and the end.
fn absolute_prefix(b: &[u8]) -> Result<(u32, usize), Error> {
    let colon = scheme_len(b)?;
    let mut sc = Scanner::new(b);
    sc.set_pos(colon + 1);
    loop {
        sc.take_escaped(scan::URIC)?;
        // Tolerate IPv6 literals and fragments, as RFC 3986 URIs carry them.
        if !(sc.eat(b'[') || sc.eat(b']') || sc.eat(b'#')) {
            break;
        }
    }
    if sc.pos() == colon + 1 {
        return Err(Error::syntax("empty URI after the scheme"));
    }
    Ok((colon as u32, sc.pos()))
}

impl PartialEq for AbsoluteUri<'_> {
    /// Scheme case-insensitive; the rest compared with unreserved escapes decoded.
    fn eq(&self, other: &Self) -> bool {
        self.scheme().eq_ignore_ascii_case(other.scheme())
            && eq_escaped(self.rest(), other.rest(), false)
    }
}

impl fmt::Display for AbsoluteUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for AbsoluteUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AbsoluteUri({})", self.text)
    }
}

/// Decodes `%HEXHEX` escapes. Invalid escapes are left as written.
pub fn unescape(s: &str) -> Cow<'_, [u8]> {
    let b = s.as_bytes();
    if !b.contains(&b'%') {
        return Cow::Borrowed(b);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|&c| scan::hex_val(c)),
                b.get(i + 2).and_then(|&c| scan::hex_val(c)),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(out)
}

/// Percent-escapes every byte of `raw` outside `keep` (a `scan` class), for
/// building URI parts from arbitrary text.
pub(crate) fn escape(raw: &[u8], keep: u16) -> String {
    let mut s = String::with_capacity(raw.len());
    for &c in raw {
        if scan::is(c, keep) {
            s.push(c as char);
        } else {
            s.push('%');
            s.push(char::from(b"0123456789ABCDEF"[usize::from(c >> 4)]));
            s.push(char::from(b"0123456789ABCDEF"[usize::from(c & 15)]));
        }
    }
    s
}

/// Escapes a user part from unescaped text (RFC 3261 `user` characters kept).
pub fn escape_user(raw: &str) -> String {
    escape(raw.as_bytes(), scan::USER)
}

const RESERVED: &[u8] = b";/?:@&=+$,";

/// Comparison units: a byte and whether it was an escaped reserved character.
fn units(s: &str) -> impl Iterator<Item = (u8, bool)> + '_ {
    let b = s.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        let c = *b.get(i)?;
        if c == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|&x| scan::hex_val(x)),
                b.get(i + 2).and_then(|&x| scan::hex_val(x)),
            )
        {
            i += 3;
            let d = h << 4 | l;
            return Some((d, RESERVED.contains(&d)));
        }
        i += 1;
        Some((c, false))
    })
}

/// Compares two URI components with escapes of non-reserved characters decoded
/// (RFC 3261 §19.1.4), optionally ASCII-case-insensitively.
pub(crate) fn eq_escaped(a: &str, b: &str, ci: bool) -> bool {
    if a == b {
        return true;
    }
    let mut ua = units(a);
    let mut ub = units(b);
    loop {
        match (ua.next(), ub.next()) {
            (None, None) => return true,
            (Some((x, ex)), Some((y, ey))) => {
                let same = if ci {
                    x.eq_ignore_ascii_case(&y)
                } else {
                    x == y
                };
                if !same || ex != ey {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

fn opt_eq_escaped(a: Option<&str>, b: Option<&str>, ci: bool) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => eq_escaped(x, y, ci),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
