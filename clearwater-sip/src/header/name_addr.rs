//! `name-addr / addr-spec` with parameters, and the headers built on it: From,
//! To, Contact, Route, Record-Route, Path, Service-Route, P-Asserted-Identity,
//! P-Preferred-Identity, P-Associated-URI, P-Called-Party-ID, P-Served-User,
//! History-Info, Diversion, Refer-To, Referred-By, Reply-To.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use super::{R, Text, TypedHeader, quote};
use crate::error::Error;
use crate::name::HeaderName;
use crate::params::{self, Params};
use crate::scan::{self, Scanner};
use crate::uri::{Uri, UriLayout};

/// Whether a header accepts a bare `addr-spec` or insists on `<...>`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// name-addr / addr-spec, with parameters.
    Either,
    /// name-addr only (Route, Record-Route, Path, Service-Route, History-Info,
    /// Diversion), with parameters.
    Angle,
    /// name-addr / addr-spec, no parameters (P-Asserted-Identity,
    /// P-Preferred-Identity).
    NoParams,
}

/// An address: `[display-name] <URI>` or a bare URI, with header parameters.
///
/// ```
/// # use clearwater_sip::header::NameAddr;
/// let a = NameAddr::parse("\"Alice \\\"A\\\"\" <sip:alice@example.com>;tag=9fxced76sl").unwrap();
/// assert_eq!(a.display_name().as_deref(), Some("Alice \"A\""));
/// assert_eq!(a.uri().as_str(), "sip:alice@example.com");
/// assert_eq!(a.tag(), Some("9fxced76sl"));
/// ```
#[derive(Clone)]
pub struct NameAddr<'a> {
    text: Text<'a>,
    display: Option<R>,
    uri: R,
    layout: UriLayout,
    angle: bool,
    params: R,
    tag: Option<R>,
}

fn no_check(_: &[u8], _: Option<&[u8]>) -> Result<(), Error> {
    Ok(())
}

impl<'a> NameAddr<'a> {
    /// Parses `name-addr / addr-spec` followed by `;`-parameters.
    pub fn parse(text: &'a str) -> Result<NameAddr<'a>, Error> {
        Self::parse_form(Cow::Borrowed(text), Form::Either, no_check)
    }

    /// `check` validates each header parameter (name, raw value) of the
    /// header being parsed (a generic, so the no-op check costs nothing).
    fn parse_form(
        text: Text<'a>,
        form: Form,
        check: impl Fn(&[u8], Option<&[u8]>) -> Result<(), Error>,
    ) -> Result<NameAddr<'a>, Error> {
        let b = text.as_bytes();
        let mut sc = Scanner::new(b);
        sc.skip_lws();
        let mut display = None;
        let start = sc.pos();
        // display-name: quoted-string, or tokens separated by LWS, before '<'.
        match sc.peek() {
            Some(b'"') => {
                sc.quoted_string()?;
                display = Some(R::new(start, sc.pos()));
                sc.skip_lws();
                if sc.peek() != Some(b'<') {
                    return Err(Error::syntax("display name not followed by <URI>"));
                }
            }
            Some(b'<') => {}
            _ => {
                let mut end = start;
                loop {
                    if sc.take_class(scan::TOKEN).is_empty() {
                        break;
                    }
                    end = sc.pos();
                    sc.skip_lws();
                }
                if sc.peek() == Some(b'<') && end > start {
                    display = Some(R::new(start, end));
                } else {
                    sc.set_pos(start);
                }
            }
        }
        let (uri, angle, layout) = if sc.eat(b'<') {
            // The URI grammar cannot contain '>', so the URI parser stops there.
            let us = sc.pos();
            let (layout, n) = Uri::parse_prefix(sc.rest())?;
            if b.get(us + n) != Some(&b'>') {
                return Err(Error::syntax("bad character in URI or missing '>'"));
            }
            sc.set_pos(us + n + 1);
            (R::new(us, us + n), true, layout)
        } else {
            if form == Form::Angle {
                return Err(Error::syntax("URI must be enclosed in <>"));
            }
            // addr-spec: the URI cannot contain ';', ',', '?' or white space here
            // (RFC 3261 §20.10), so it ends at the first of them.
            let us = sc.pos();
            while let Some(c) = sc.peek() {
                if matches!(c, b';' | b',' | b'?' | b' ' | b'\t' | b'\r' | b'\n') {
                    break;
                }
                sc.set_pos(sc.pos() + 1);
            }
            let uri = R::new(us, sc.pos());
            (uri, false, Uri::parse(uri.get(&text))?.layout())
        };
        let ps = sc.pos();
        let mut tag = None;
        if form != Form::NoParams {
            params::scan_header_params_visit(&mut sc, |name, value| {
                if name.eq_ignore_ascii_case(b"tag") {
                    // One tag with a value: accessors that read the first or
                    // the last must not disagree on the dialog (§19.3).
                    match value {
                        Some(p) if tag.is_none() => tag = Some(R::new(p.start, p.end)),
                        Some(_) => return Err(Error::syntax("more than one tag")),
                        None => return Err(Error::syntax("tag without a value")),
                    }
                }
                check(name, value.map(|p| &b[p.start..p.end]))
            })?;
        }
        let params = R::new(ps, sc.pos());
        sc.skip_lws();
        if !sc.at_end() {
            return Err(Error::syntax("unexpected text after address"));
        }
        Ok(NameAddr {
            display,
            uri,
            layout,
            angle,
            params,
            tag,
            text,
        })
    }

    /// A `<uri>` address with an optional display name (quoted as needed).
    pub fn new(uri: &Uri<'_>, display_name: Option<&str>) -> NameAddr<'static> {
        let mut s = String::with_capacity(uri.as_str().len() + 4);
        let mut display = None;
        if let Some(d) = display_name {
            let q = quote(d);
            display = Some(R::new(0, q.len()));
            s.push_str(&q);
            s.push(' ');
        }
        s.push('<');
        let us = s.len();
        s.push_str(uri.as_str());
        let ue = s.len();
        s.push('>');
        let end = s.len();
        NameAddr {
            text: Cow::Owned(s),
            display,
            uri: R::new(us, ue),
            layout: uri.layout(),
            angle: true,
            params: R::new(end, end),
            tag: None,
        }
    }

    /// The value as written.
    #[inline]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The URI.
    #[inline]
    pub fn uri(&self) -> Uri<'_> {
        self.layout.refill(self.uri.get(&self.text))
    }

    /// Whether the URI was enclosed in `<>`.
    #[inline]
    pub fn has_angle_brackets(&self) -> bool {
        self.angle
    }

    /// The display name as written (quotes included), if any.
    pub fn display_name_raw(&self) -> Option<&str> {
        self.display.map(|r| r.get(&self.text))
    }

    /// The display name with quotes removed and quoted-pairs resolved, or, for
    /// an unquoted name, its tokens separated by single spaces.
    pub fn display_name(&self) -> Option<Cow<'_, str>> {
        let raw = self.display_name_raw()?;
        if raw.starts_with('"') {
            let inner = &raw[1..raw.len().saturating_sub(1).max(1)];
            Some(match scan::unquote(inner.as_bytes()) {
                Cow::Borrowed(_) => Cow::Borrowed(inner),
                Cow::Owned(v) => Cow::Owned(String::from_utf8_lossy(&v).into_owned()),
            })
        } else if raw
            .bytes()
            .any(|c| matches!(c, b'\t' | b'\r' | b'\n' | b' '))
        {
            let mut out = String::with_capacity(raw.len());
            for w in raw.split([' ', '\t', '\r', '\n']).filter(|w| !w.is_empty()) {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(w);
            }
            Some(Cow::Owned(out))
        } else {
            Some(Cow::Borrowed(raw))
        }
    }

    /// The header parameters (after the address).
    #[inline]
    pub fn params(&self) -> Params<'_> {
        Params::new(self.params.get(&self.text))
    }

    /// The value of header parameter `name`; `Some(None)` for a flag.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params().get(name)
    }

    /// The `tag` parameter.
    #[inline]
    pub fn tag(&self) -> Option<&str> {
        self.tag.map(|r| r.get(&self.text))
    }

    /// A copy with header parameter `name` set (replacing an existing one).
    pub fn with_param(&self, name: &str, value: Option<&str>) -> Result<NameAddr<'static>, Error> {
        let p = params::edit_params(self.params.get(&self.text), name, Some(value))?;
        Ok(self.with_params_text(&p))
    }

    /// A copy without header parameter `name`.
    pub fn without_param(&self, name: &str) -> NameAddr<'static> {
        let p = params::edit_params(self.params.get(&self.text), name, None).unwrap_or_default();
        self.with_params_text(&p)
    }

    fn with_params_text(&self, p: &str) -> NameAddr<'static> {
        // An addr-spec with parameters gains brackets so its parameters stay
        // header parameters.
        let mut s = String::with_capacity(self.text.len() + p.len() + 2);
        let mut display = None;
        if let Some(d) = self.display_name_raw() {
            display = Some(R::new(0, d.len()));
            s.push_str(d);
            s.push(' ');
        }
        s.push('<');
        let us = s.len();
        s.push_str(self.uri.get(&self.text));
        let ue = s.len();
        s.push('>');
        let ps = s.len();
        s.push_str(p);
        let pe = s.len();
        let tag = param_range(&s, ps, "tag");
        NameAddr {
            text: Cow::Owned(s),
            display,
            uri: R::new(us, ue),
            layout: self.layout,
            angle: true,
            params: R::new(ps, pe),
            tag,
        }
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> NameAddr<'static> {
        NameAddr {
            text: Cow::Owned(self.text.into_owned()),
            display: self.display,
            uri: self.uri,
            layout: self.layout,
            angle: self.angle,
            params: self.params,
            tag: self.tag,
        }
    }
}

impl fmt::Display for NameAddr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(scan::trim_lws_str(&self.text))
    }
}

impl fmt::Debug for NameAddr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NameAddr({})", self.text)
    }
}

macro_rules! name_addr_header {
    ($(#[$doc:meta])* $ty:ident, $name:expr, list = $list:expr, form = $form:expr) => {
        $(#[$doc])*
        ///
        /// Dereferences to [`NameAddr`] for the URI, display name and parameters.
        #[derive(Clone, Debug)]
        pub struct $ty<'a>(pub NameAddr<'a>);

        impl<'a> $ty<'a> {
            /// A copy that owns its text.
            pub fn into_owned(self) -> $ty<'static> {
                $ty(self.0.into_owned())
            }

            /// Parses a value held in a `String`, keeping the string (no copy).
            pub fn parse_owned(value: String) -> Result<$ty<'static>, Error> {
                NameAddr::parse_form(Cow::Owned(value), $form, no_check).map($ty)
            }
        }

        impl<'a> Deref for $ty<'a> {
            type Target = NameAddr<'a>;
            fn deref(&self) -> &NameAddr<'a> {
                &self.0
            }
        }

        impl<'a> std::convert::From<NameAddr<'a>> for $ty<'a> {
            fn from(a: NameAddr<'a>) -> Self {
                $ty(a)
            }
        }

        impl fmt::Display for $ty<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // A header that insists on <> (Route, Record-Route, Path...)
                // made from an addr-spec NameAddr still prints in its form.
                if $form == Form::Angle && !self.0.angle {
                    let t = &self.0.text;
                    return write!(f, "<{}>{}", self.0.uri.get(t), self.0.params.get(t));
                }
                self.0.fmt(f)
            }
        }

        impl<'a> TypedHeader<'a> for $ty<'a> {
            const NAME: HeaderName = $name;
            const LIST: bool = $list;
            fn parse(value: &'a str) -> Result<Self, Error> {
                NameAddr::parse_form(Cow::Borrowed(value), $form, no_check).map($ty)
            }
        }
    };
}

name_addr_header!(
    /// `From` (RFC 3261 §20.20).
    From, HeaderName::FROM, list = false, form = Form::Either
);
name_addr_header!(
    /// `To` (RFC 3261 §20.39).
    To, HeaderName::TO, list = false, form = Form::Either
);
name_addr_header!(
    /// `Route` (RFC 3261 §20.34).
    Route, HeaderName::ROUTE, list = true, form = Form::Angle
);
name_addr_header!(
    /// `Record-Route` (RFC 3261 §20.30).
    RecordRoute, HeaderName::RECORD_ROUTE, list = true, form = Form::Angle
);
name_addr_header!(
    /// `Path` (RFC 3327).
    Path, HeaderName::PATH, list = true, form = Form::Angle
);
name_addr_header!(
    /// `Service-Route` (RFC 3608).
    ServiceRoute, HeaderName::SERVICE_ROUTE, list = true, form = Form::Angle
);
name_addr_header!(
    /// `P-Asserted-Identity` (RFC 3325).
    PAssertedIdentity, HeaderName::P_ASSERTED_IDENTITY, list = true, form = Form::NoParams
);
name_addr_header!(
    /// `P-Preferred-Identity` (RFC 3325).
    PPreferredIdentity, HeaderName::P_PREFERRED_IDENTITY, list = true, form = Form::NoParams
);
name_addr_header!(
    /// `P-Associated-URI` (RFC 7315 §4.1).
    PAssociatedUri, HeaderName::P_ASSOCIATED_URI, list = true, form = Form::Either
);
name_addr_header!(
    /// `P-Called-Party-ID` (RFC 7315 §4.2).
    PCalledPartyId, HeaderName::P_CALLED_PARTY_ID, list = false, form = Form::Either
);
name_addr_header!(
    /// `P-Served-User` (RFC 5502): parameters `sescase` (orig/term) and
    /// `regstate` (reg/unreg).
    PServedUser, HeaderName::P_SERVED_USER, list = false, form = Form::Either
);
name_addr_header!(
    /// `History-Info` (RFC 7044): parameters `index`, `rc`, `mp`, `np`.
    HistoryInfo, HeaderName::HISTORY_INFO, list = true, form = Form::Angle
);
name_addr_header!(
    /// `Diversion` (RFC 5806): parameters `reason`, `counter`, `limit`,
    /// `privacy`, `screen`.
    Diversion, HeaderName::DIVERSION, list = true, form = Form::Angle
);
name_addr_header!(
    /// `Refer-To` (RFC 3515).
    ReferTo, HeaderName::REFER_TO, list = false, form = Form::Either
);
name_addr_header!(
    /// `Referred-By` (RFC 3892).
    ReferredBy, HeaderName::REFERRED_BY, list = false, form = Form::Either
);
name_addr_header!(
    /// `Reply-To` (RFC 3261 §20.31).
    ReplyTo, HeaderName::REPLY_TO, list = false, form = Form::Either
);

impl PServedUser<'_> {
    /// The `sescase` parameter (`orig` or `term`).
    pub fn sescase(&self) -> Option<&str> {
        self.param("sescase").flatten()
    }
    /// The `regstate` parameter (`reg` or `unreg`).
    pub fn regstate(&self) -> Option<&str> {
        self.param("regstate").flatten()
    }
}

impl HistoryInfo<'_> {
    /// The `index` parameter (e.g. `1.1.2`).
    pub fn index(&self) -> Option<&str> {
        self.param("index").flatten()
    }
}

impl Diversion<'_> {
    /// The `reason` parameter.
    pub fn reason(&self) -> Option<Cow<'_, str>> {
        self.params().get_unquoted("reason")
    }
    /// The `counter` parameter.
    pub fn counter(&self) -> Option<u32> {
        self.param("counter")
            .flatten()
            .and_then(|c| scan::parse_decimal(c.as_bytes(), u64::from(u32::MAX)))
            .map(|v| v as u32)
    }
}

/// `Contact` (RFC 3261 §20.10): an address with contact parameters, or `*`.
///
/// Registration parameters are validated when present: `expires` is a
/// delta-seconds (0..=2³²−1), `q` a qvalue (0..=1, three decimals), `reg-id` a
/// number.
#[derive(Clone, Debug)]
pub enum Contact<'a> {
    /// `Contact: *` (remove all bindings).
    Star,
    /// An address.
    Addr(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    /// The address, unless this is `*`.
    pub fn addr(&self) -> Option<&NameAddr<'a>> {
        match self {
            Contact::Star => None,
            Contact::Addr(a) => Some(a),
        }
    }

    /// Whether this is `*`.
    pub fn is_star(&self) -> bool {
        matches!(self, Contact::Star)
    }

    /// A copy with header parameter `name` set (replacing an existing one),
    /// held to the Contact's own rules (`q`, `reg-id`), so that it parses
    /// back; `*` takes no parameters.
    pub fn with_param(&self, name: &str, value: Option<&str>) -> Result<Contact<'static>, Error> {
        match self {
            Contact::Star => Err(Error::Invalid("'*' takes no parameters")),
            Contact::Addr(a) => {
                check_contact_param(name.as_bytes(), value.map(str::as_bytes))
                    .map_err(|_| Error::Invalid("bad q or reg-id value"))?;
                a.with_param(name, value).map(Contact::Addr)
            }
        }
    }

    /// The `expires` parameter; `None` when absent or malformed (RFC 3261
    /// §10.2.1.1: treat it as the default). Values above 2³²−1 are 2³²−1.
    pub fn expires(&self) -> Option<u32> {
        self.addr()?
            .param("expires")
            .flatten()
            .and_then(parse_delta_seconds)
    }

    /// The `q` parameter in thousandths (`q=0.5` is 500).
    pub fn q(&self) -> Option<u16> {
        self.addr()?.param("q").flatten().and_then(parse_qvalue)
    }

    /// The `+sip.instance` parameter, quotes and angle brackets removed
    /// (`"<urn:uuid:...>"` gives `urn:uuid:...`).
    pub fn sip_instance(&self) -> Option<Cow<'_, str>> {
        let v = self.addr()?.params().get_unquoted("+sip.instance")?;
        Some(match v {
            Cow::Borrowed(s) => Cow::Borrowed(
                s.strip_prefix('<')
                    .and_then(|s| s.strip_suffix('>'))
                    .unwrap_or(s),
            ),
            Cow::Owned(s) => Cow::Owned(
                s.strip_prefix('<')
                    .and_then(|t| t.strip_suffix('>'))
                    .map(str::to_owned)
                    .unwrap_or(s),
            ),
        })
    }

    /// The `reg-id` parameter (RFC 5626).
    pub fn reg_id(&self) -> Option<u32> {
        self.addr()?
            .param("reg-id")
            .flatten()
            .and_then(|v| scan::parse_decimal(v.as_bytes(), u64::from(u32::MAX)))
            .map(|v| v as u32)
    }

    /// The `pub-gruu` parameter, unquoted (RFC 5627).
    pub fn pub_gruu(&self) -> Option<Cow<'_, str>> {
        self.addr()?.params().get_unquoted("pub-gruu")
    }

    /// The `temp-gruu` parameter, unquoted (RFC 5627).
    pub fn temp_gruu(&self) -> Option<Cow<'_, str>> {
        self.addr()?.params().get_unquoted("temp-gruu")
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> Contact<'static> {
        match self {
            Contact::Star => Contact::Star,
            Contact::Addr(a) => Contact::Addr(a.into_owned()),
        }
    }
}

impl fmt::Display for Contact<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contact::Star => f.write_str("*"),
            Contact::Addr(a) => a.fmt(f),
        }
    }
}

impl<'a> TypedHeader<'a> for Contact<'a> {
    const NAME: HeaderName = HeaderName::CONTACT;
    const LIST: bool = true;
    fn parse(value: &'a str) -> Result<Self, Error> {
        if scan::trim_lws_str(value) == "*" {
            return Ok(Contact::Star);
        }
        NameAddr::parse_form(Cow::Borrowed(value), Form::Either, check_contact_param)
            .map(Contact::Addr)
    }
}

/// The value range of header parameter `name` in the (valid) parameter list
/// starting at `start` of `text`.
fn param_range(text: &str, start: usize, name: &str) -> Option<R> {
    let mut sc = Scanner::new(text.as_bytes());
    sc.set_pos(start);
    let mut found = None;
    let _ = params::scan_header_params_visit(&mut sc, |n, v| {
        if found.is_none() && n.eq_ignore_ascii_case(name.as_bytes()) {
            found = v.map(|p| R::new(p.start, p.end));
        }
        Ok(())
    });
    found
}

/// Largest `reg-id` (RFC 5626 §13).
const REG_ID_MAX: u64 = (1 << 31) - 1;

/// Registration parameters of a Contact must be well-formed when present.
fn check_contact_param(name: &[u8], value: Option<&[u8]>) -> Result<(), Error> {
    // The value becomes text only for the parameters checked here (feature
    // tags such as `+sip.instance` are long quoted strings).
    let text = || value.and_then(|v| std::str::from_utf8(v).ok());
    // A malformed `expires` is no reason to refuse the Contact: RFC 3261
    // §10.2.1.1 asks that it be treated as the default (3600), which is
    // what a registrar does when `Contact::expires` is `None`.
    if name.eq_ignore_ascii_case(b"q") {
        if text().and_then(parse_qvalue).is_none() {
            return Err(Error::syntax("bad q parameter"));
        }
    } else if name.eq_ignore_ascii_case(b"reg-id")
        && value
            .and_then(|v| scan::parse_decimal(v, REG_ID_MAX))
            .is_none_or(|n| n == 0)
    {
        // RFC 5626 §13: 1 to 2³¹−1.
        return Err(Error::syntax("bad reg-id parameter"));
    }
    Ok(())
}

/// delta-seconds: 1*DIGIT (RFC 3261 §25.1); values above 2³²−1 count as
/// 2³²−1 (§10.2.1.1 allows it, RFC 4475 §3.1.2.4 expects expiry values out
/// of range not to fail a request).
pub(crate) fn parse_delta_seconds(v: &str) -> Option<u32> {
    let b = v.as_bytes();
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(scan::parse_decimal(b, u64::from(u32::MAX)).map_or(u32::MAX, |v| v as u32))
}

/// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths.
pub(crate) fn parse_qvalue(v: &str) -> Option<u16> {
    let b = v.as_bytes();
    let (int, frac) = match memchr::memchr(b'.', b) {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &b""[..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths = 0u16;
    for (i, &d) in frac.iter().enumerate() {
        thousandths += u16::from(d - b'0') * [100, 10, 1][i];
    }
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}
