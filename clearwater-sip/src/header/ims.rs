//! IMS headers: P-Charging-Vector, P-Charging-Function-Addresses,
//! P-Access-Network-Info, P-Visited-Network-ID (RFC 7315, 3GPP TS 24.229
//! §7.2A), Privacy (RFC 3323), Security-Client / -Server / -Verify (RFC 3329,
//! 3GPP TS 33.203) and P-Asserted-Service / P-Preferred-Service (RFC 6050).
//!
//! Also holds [`HeadParams`], the `head *(SEMI generic-param)` layout shared
//! with the headers of the `misc` module.

use std::borrow::Cow;
use std::fmt;

use super::name_addr::parse_qvalue;
use super::{R, Text, TypedHeader, quote};
use crate::error::Error;
use crate::name::HeaderName;
use crate::params::{self, Params, unquote_value};
use crate::scan::{self, Scanner};

// ---------------------------------------------------------------------------
// Shared layout: a head (token, quoted string, `*`, number...) followed by
// `;`-parameters.
// ---------------------------------------------------------------------------

/// Scans the head of a value; leaves the scanner just after it.
pub(super) type HeadScanner = fn(&mut Scanner<'_>) -> Result<(), Error>;

/// `head *(SEMI generic-param)`: the text, the head's range and the
/// parameters' range (which starts right after the head).
#[derive(Clone)]
pub(super) struct HeadParams<'a> {
    pub(super) text: Text<'a>,
    pub(super) head: R,
    pub(super) params: R,
}

impl<'a> HeadParams<'a> {
    /// Parses `[LWS] head *(SEMI generic-param) [LWS]`, the head being read by
    /// `head`.
    pub(super) fn parse(text: Text<'a>, head: HeadScanner) -> Result<HeadParams<'a>, Error> {
        let mut sc = Scanner::new(text.as_bytes());
        sc.skip_lws();
        let hs = sc.pos();
        head(&mut sc)?;
        let he = sc.pos();
        params::scan_header_params(&mut sc)?;
        let pe = sc.pos();
        sc.skip_lws();
        if !sc.at_end() {
            return Err(Error::syntax("unexpected text after value"));
        }
        Ok(HeadParams {
            head: R::new(hs, he),
            params: R::new(he, pe),
            text,
        })
    }

    /// The head as written.
    #[inline]
    pub(super) fn head(&self) -> &str {
        self.head.get(&self.text)
    }

    /// The parameters.
    #[inline]
    pub(super) fn params(&self) -> Params<'_> {
        Params::new(self.params.get(&self.text))
    }

    /// The value as written, outer white space removed.
    #[inline]
    pub(super) fn as_str(&self) -> &str {
        scan::trim_lws_str(&self.text)
    }

    /// The text of a copy with parameter `name` set (`Some(v)`) or removed
    /// (`None`).
    pub(super) fn edited(&self, name: &str, value: Option<Option<&str>>) -> Result<String, Error> {
        let p = params::edit_params(self.params.get(&self.text), name, value)?;
        let before = scan::trim_lws_str(self.text.get(..self.params.s as usize).unwrap_or(""));
        let mut s = String::with_capacity(before.len() + p.len());
        s.push_str(before);
        s.push_str(&p);
        Ok(s)
    }

    /// A copy that owns its text.
    pub(super) fn into_owned(self) -> HeadParams<'static> {
        HeadParams {
            text: Cow::Owned(self.text.into_owned()),
            head: self.head,
            params: self.params,
        }
    }
}

/// Head scanner: a token.
pub(super) fn head_token(sc: &mut Scanner<'_>) -> Result<(), Error> {
    sc.token("missing token").map(|_| ())
}

/// Head scanner: a token or a quoted-string.
pub(super) fn head_token_or_quoted(sc: &mut Scanner<'_>) -> Result<(), Error> {
    if sc.peek() == Some(b'"') {
        sc.quoted_string().map(|_| ())
    } else {
        head_token(sc)
    }
}

/// Fails with `what` unless every parameter named `name` has a value accepted
/// by `ok` (a flag without value is refused too).
pub(super) fn check_param(
    p: &Params<'_>,
    name: &str,
    ok: impl Fn(&str) -> bool,
    what: &'static str,
) -> Result<(), Error> {
    for (n, v) in p.iter() {
        if n.eq_ignore_ascii_case(name) && !v.is_some_and(&ok) {
            return Err(Error::syntax(what));
        }
    }
    Ok(())
}

/// `s` as a token when it is one, else as a quoted-string.
pub(super) fn token_or_quote(s: &str) -> Cow<'_, str> {
    if scan::is_token(s.as_bytes()) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(quote(s))
    }
}

/// Whether `v` is a number in `0..=max`.
pub(super) fn is_num(v: &str, max: u64) -> bool {
    scan::parse_decimal(v.as_bytes(), max).is_some()
}

/// Reads parameter `name` as a number (validated at parse time).
pub(super) fn num_param(p: &Params<'_>, name: &str, max: u64) -> Option<u64> {
    p.get(name)
        .flatten()
        .and_then(|v| scan::parse_decimal(v.as_bytes(), max))
}

/// Common methods of the [`HeadParams`] newtypes: `parse`, `as_str`,
/// `params`, `param`, `with_param`, `without_param`, `into_owned`, `Display`
/// and `Debug`. The type must define `fn from_text(Text<'a>) -> Result<Self>`.
macro_rules! head_params_methods {
    ($ty:ident, $label:literal) => {
        impl<'a> $ty<'a> {
            #[doc = concat!("Parses one ", $label, " value.")]
            pub fn parse(text: &'a str) -> Result<$ty<'a>, Error> {
                $ty::from_text(Cow::Borrowed(text))
            }

            /// The value as written (outer white space removed).
            #[inline]
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }

            /// The parameters, as written.
            #[inline]
            pub fn params(&self) -> Params<'_> {
                self.0.params()
            }

            /// The value of parameter `name` as written; `Some(None)` for a
            /// flag parameter.
            pub fn param(&self, name: &str) -> Option<Option<&str>> {
                self.0.params().get(name)
            }

            /// A copy with parameter `name` set (replacing an existing one);
            /// `value` must be a token, host or quoted string (with its
            /// quotes), and valid for this header.
            pub fn with_param(
                &self,
                name: &str,
                value: Option<&str>,
            ) -> Result<$ty<'static>, Error> {
                let s = self.0.edited(name, Some(value))?;
                $ty::from_text(Cow::Owned(s))
                    .map_err(|_| Error::Invalid(concat!("parameter not valid in ", $label)))
            }

            /// A copy without parameter `name`.
            pub fn without_param(&self, name: &str) -> $ty<'static> {
                self.0
                    .edited(name, None)
                    .and_then(|s| $ty::from_text(Cow::Owned(s)))
                    .unwrap_or_else(|_| self.clone().into_owned())
            }

            /// A copy that owns its text.
            pub fn into_owned(self) -> $ty<'static> {
                $ty(self.0.into_owned())
            }
        }

        impl fmt::Display for $ty<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0.as_str())
            }
        }

        impl fmt::Debug for $ty<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($ty), self.0.as_str())
            }
        }
    };
}
pub(super) use head_params_methods;

/// `TypedHeader` for a type with `from_text`.
macro_rules! typed_header {
    ($ty:ident, $name:expr, list = $list:expr) => {
        impl<'a> TypedHeader<'a> for $ty<'a> {
            const NAME: HeaderName = $name;
            const LIST: bool = $list;
            fn parse(value: &'a str) -> Result<Self, Error> {
                $ty::from_text(Cow::Borrowed(value))
            }
        }
    };
}
pub(super) use typed_header;

// ---------------------------------------------------------------------------
// P-Charging-Vector
// ---------------------------------------------------------------------------

/// Characters of a P-Charging-Vector parameter value outside quotes: token
/// characters plus `/`, `=` (base64 ICIDs), `:`, `[`, `]` (IPv6) and `@`.
fn is_pcv_char(c: u8) -> bool {
    scan::is(c, scan::TOKEN) || matches!(c, b'/' | b'=' | b':' | b'[' | b']' | b'@')
}

/// A P-Charging-Vector parameter value: a quoted-string or a run of
/// [`is_pcv_char`] characters (a superset of gen-value).
fn scan_pcv_value(sc: &mut Scanner<'_>) -> Result<(), Error> {
    if sc.peek() == Some(b'"') {
        return sc.quoted_string().map(|_| ());
    }
    let start = sc.pos();
    while let Some(c) = sc.peek() {
        if !is_pcv_char(c) {
            break;
        }
        sc.set_pos(sc.pos() + 1);
    }
    if sc.pos() == start {
        return Err(Error::syntax("empty parameter value"));
    }
    Ok(())
}

/// `P-Charging-Vector` (RFC 7315 §4.6, 3GPP TS 24.229 §7.2A.5):
/// `icid-value=...;icid-generated-at=...;orig-ioi=...;term-ioi=...`.
///
/// `icid-value` is mandatory and must come first, as the grammar
/// (`icid-value *(SEMI charge-params)`) has it. Parameter values are
/// gen-values (token / host / quoted-string), accepted leniently: deployed
/// P-CSCFs write base64 ICIDs unquoted (`AyretyU0dm+6O2IrT5tAFrbHLso=023551024`),
/// so `/`, `=` and `@` are accepted in unquoted values.
///
/// ```
/// # use clearwater_sip::header::PChargingVector;
/// let v = PChargingVector::parse(
///     "icid-value=AyretyU0dm+6O2IrT5tAFrbHLso=023551024;icid-generated-at=pcscf1.ims.example.net;orig-ioi=ims.example.net",
/// ).unwrap();
/// assert_eq!(v.icid_value(), "AyretyU0dm+6O2IrT5tAFrbHLso=023551024");
/// assert_eq!(v.orig_ioi().as_deref(), Some("ims.example.net"));
/// ```
#[derive(Clone)]
pub struct PChargingVector<'a> {
    text: Text<'a>,
    icid: R,
    params: R,
}

impl<'a> PChargingVector<'a> {
    /// Parses one P-Charging-Vector value.
    pub fn parse(text: &'a str) -> Result<PChargingVector<'a>, Error> {
        Self::from_text(Cow::Borrowed(text))
    }

    fn from_text(text: Text<'a>) -> Result<PChargingVector<'a>, Error> {
        let mut sc = Scanner::new(text.as_bytes());
        sc.skip_lws();
        let name = sc.token("missing icid-value")?;
        if !name.eq_ignore_ascii_case(b"icid-value") {
            return Err(Error::syntax(
                "P-Charging-Vector must start with icid-value",
            ));
        }
        if !sc.eat_sep(b'=') {
            return Err(Error::syntax("icid-value without a value"));
        }
        let is = sc.pos();
        scan_pcv_value(&mut sc)?;
        let icid = R::new(is, sc.pos());
        let ps = sc.pos();
        loop {
            let save = sc.pos();
            sc.skip_lws();
            if !sc.eat(b';') {
                sc.set_pos(save);
                break;
            }
            sc.skip_lws();
            sc.token("empty parameter")?;
            if sc.eat_sep(b'=') {
                scan_pcv_value(&mut sc)?;
            }
        }
        let params = R::new(ps, sc.pos());
        sc.skip_lws();
        if !sc.at_end() {
            return Err(Error::syntax("unexpected text in P-Charging-Vector"));
        }
        if icid.get(&text) == "\"\"" {
            return Err(Error::syntax("empty icid-value"));
        }
        Ok(PChargingVector { text, icid, params })
    }

    /// A vector with just `icid-value=<icid_value>`; the value is written as
    /// given (a token, a base64 ICID, or a quoted string with its quotes),
    /// and must be one value (`abc;orig-ioi=x` is refused, not two parameters).
    pub fn new(icid_value: &str) -> Result<PChargingVector<'static>, Error> {
        let s = format!("icid-value={icid_value}");
        match PChargingVector::from_text(Cow::Owned(s)) {
            Ok(v) if v.params().iter().count() == 0 => Ok(v),
            _ => Err(Error::Invalid("bad icid-value")),
        }
    }

    /// The value as written (outer white space removed).
    pub fn as_str(&self) -> &str {
        scan::trim_lws_str(&self.text)
    }

    /// The `icid-value`, unquoted.
    pub fn icid_value(&self) -> Cow<'_, str> {
        unquote_value(self.icid.get(&self.text))
    }

    /// The `icid-generated-at` parameter (a host), unquoted.
    pub fn icid_generated_at(&self) -> Option<Cow<'_, str>> {
        self.params().get_unquoted("icid-generated-at")
    }

    /// The `orig-ioi` parameter, unquoted.
    pub fn orig_ioi(&self) -> Option<Cow<'_, str>> {
        self.params().get_unquoted("orig-ioi")
    }

    /// The `term-ioi` parameter, unquoted.
    pub fn term_ioi(&self) -> Option<Cow<'_, str>> {
        self.params().get_unquoted("term-ioi")
    }

    /// The charge-params that follow `icid-value` (`icid-generated-at`,
    /// `orig-ioi`, `term-ioi`, `transit-ioi`, `related-icid`, access network
    /// charging info and generic parameters), as written.
    pub fn params(&self) -> Params<'_> {
        Params::new(self.params.get(&self.text))
    }

    /// A copy with parameter `name` set (replacing an existing one).
    /// `icid-value` replaces the ICID; other values must be a token, host or
    /// quoted string (with its quotes).
    pub fn with_param(
        &self,
        name: &str,
        value: Option<&str>,
    ) -> Result<PChargingVector<'static>, Error> {
        let rest = self.params.get(&self.text);
        let s = if name.eq_ignore_ascii_case("icid-value") {
            let v = value.ok_or(Error::Invalid("icid-value needs a value"))?;
            format!("icid-value={v}{rest}")
        } else {
            let p = params::edit_params(rest, name, Some(value))?;
            format!("icid-value={}{p}", self.icid.get(&self.text))
        };
        PChargingVector::from_text(Cow::Owned(s))
            .map_err(|_| Error::Invalid("parameter not valid in P-Charging-Vector"))
    }

    /// A copy without parameter `name` (`icid-value` cannot be removed: the
    /// copy is then unchanged).
    pub fn without_param(&self, name: &str) -> PChargingVector<'static> {
        if name.eq_ignore_ascii_case("icid-value") {
            return self.clone().into_owned();
        }
        params::edit_params(self.params.get(&self.text), name, None)
            .and_then(|p| {
                let s = format!("icid-value={}{p}", self.icid.get(&self.text));
                PChargingVector::from_text(Cow::Owned(s))
            })
            .unwrap_or_else(|_| self.clone().into_owned())
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> PChargingVector<'static> {
        PChargingVector {
            text: Cow::Owned(self.text.into_owned()),
            icid: self.icid,
            params: self.params,
        }
    }
}

impl fmt::Display for PChargingVector<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PChargingVector<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PChargingVector({})", self.as_str())
    }
}

typed_header!(PChargingVector, HeaderName::P_CHARGING_VECTOR, list = false);

// ---------------------------------------------------------------------------
// P-Charging-Function-Addresses
// ---------------------------------------------------------------------------

/// Splits one `name[=value]` parameter, trimming LWS.
fn split_param(item: &str) -> (&str, Option<&str>) {
    match item.split_once('=') {
        Some((n, v)) => (scan::trim_lws_str(n), Some(scan::trim_lws_str(v))),
        None => (scan::trim_lws_str(item), None),
    }
}

/// `P-Charging-Function-Addresses` (RFC 7315 §4.5):
/// `ccf=192.0.2.1; ccf=192.0.2.2; ecf="aaa://ecf.example.net"`.
///
/// At least one parameter; `ccf` and `ecf` values are gen-values (token, host
/// including IPv6 references, or quoted string).
#[derive(Clone)]
pub struct PChargingFunctionAddresses<'a> {
    text: Text<'a>,
    first: R,
    rest: R,
}

impl<'a> PChargingFunctionAddresses<'a> {
    /// Parses one P-Charging-Function-Addresses value.
    pub fn parse(text: &'a str) -> Result<PChargingFunctionAddresses<'a>, Error> {
        Self::from_text(Cow::Borrowed(text))
    }

    fn from_text(text: Text<'a>) -> Result<PChargingFunctionAddresses<'a>, Error> {
        let mut sc = Scanner::new(text.as_bytes());
        sc.skip_lws();
        let fs = sc.pos();
        sc.token("missing charging function address")?;
        if sc.eat_sep(b'=') {
            params::scan_gen_value(&mut sc)?;
        }
        let first = R::new(fs, sc.pos());
        let rs = sc.pos();
        params::scan_header_params(&mut sc)?;
        let rest = R::new(rs, sc.pos());
        sc.skip_lws();
        if !sc.at_end() {
            return Err(Error::syntax(
                "unexpected text in P-Charging-Function-Addresses",
            ));
        }
        Ok(PChargingFunctionAddresses { text, first, rest })
    }

    /// Addresses from lists of `ccf` and `ecf` values, each written as given
    /// (a token, host, or quoted string with its quotes). At least one address
    /// is needed.
    pub fn new(ccf: &[&str], ecf: &[&str]) -> Result<PChargingFunctionAddresses<'static>, Error> {
        let mut s = String::with_capacity(16 * (ccf.len() + ecf.len()));
        let all = ccf
            .iter()
            .map(|v| ("ccf", v))
            .chain(ecf.iter().map(|v| ("ecf", v)));
        for (n, v) in all {
            if !s.is_empty() {
                s.push(';');
            }
            s.push_str(n);
            s.push('=');
            s.push_str(v);
        }
        if s.is_empty() {
            return Err(Error::Invalid("no charging function address"));
        }
        // Each address one value: `a;ecf=b` given as one ccf is refused.
        match PChargingFunctionAddresses::from_text(Cow::Owned(s)) {
            Ok(v) if v.params().count() == ccf.len() + ecf.len() => Ok(v),
            _ => Err(Error::Invalid(
                "charging function address is not a token, host or quoted string",
            )),
        }
    }

    /// The value as written (outer white space removed).
    pub fn as_str(&self) -> &str {
        scan::trim_lws_str(&self.text)
    }

    /// Every parameter in order, as `(name, value as written)`.
    pub fn params(&self) -> impl Iterator<Item = (&str, Option<&str>)> + '_ {
        std::iter::once(split_param(self.first.get(&self.text)))
            .chain(Params::new(self.rest.get(&self.text)).iter())
    }

    fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = Cow<'s, str>> + 's {
        self.params()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .filter_map(|(_, v)| v.map(unquote_value))
    }

    /// The `ccf` (charging collection function) addresses, unquoted, in order.
    pub fn ccf(&self) -> impl Iterator<Item = Cow<'_, str>> + '_ {
        self.values("ccf")
    }

    /// The `ecf` (event charging function) addresses, unquoted, in order.
    pub fn ecf(&self) -> impl Iterator<Item = Cow<'_, str>> + '_ {
        self.values("ecf")
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> PChargingFunctionAddresses<'static> {
        PChargingFunctionAddresses {
            text: Cow::Owned(self.text.into_owned()),
            first: self.first,
            rest: self.rest,
        }
    }
}

impl fmt::Display for PChargingFunctionAddresses<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PChargingFunctionAddresses<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PChargingFunctionAddresses({})", self.as_str())
    }
}

typed_header!(
    PChargingFunctionAddresses,
    HeaderName::P_CHARGING_FUNCTION_ADDRESSES,
    list = false
);

// ---------------------------------------------------------------------------
// P-Access-Network-Info, P-Visited-Network-ID
// ---------------------------------------------------------------------------

/// One `P-Access-Network-Info` element (RFC 7315 §4.4, 3GPP TS 24.229
/// §7.2A.4): an access type or class (token or quoted string) followed by
/// access-info parameters, e.g.
/// `3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=001010001000019B`.
#[derive(Clone)]
pub struct PAccessNetworkInfo<'a>(HeadParams<'a>);

impl<'a> PAccessNetworkInfo<'a> {
    fn from_text(text: Text<'a>) -> Result<PAccessNetworkInfo<'a>, Error> {
        HeadParams::parse(text, head_token_or_quoted).map(PAccessNetworkInfo)
    }

    /// An element with access type `access_type` (quoted if not a token).
    pub fn new(access_type: &str) -> Result<PAccessNetworkInfo<'static>, Error> {
        let t = token_or_quote(access_type).into_owned();
        PAccessNetworkInfo::from_text(Cow::Owned(t)).map_err(|_| Error::Invalid("bad access type"))
    }

    /// The access type or class (`3GPP-E-UTRAN-FDD`, `IEEE-802.11`...),
    /// unquoted.
    pub fn access_type(&self) -> Cow<'_, str> {
        unquote_value(self.0.head())
    }

    /// The `utran-cell-id-3gpp` parameter (cell or tracking area identity),
    /// unquoted.
    pub fn cell_id(&self) -> Option<Cow<'_, str>> {
        self.params().get_unquoted("utran-cell-id-3gpp")
    }

    /// Whether the `network-provided` flag is present (the value was inserted
    /// by the network, not the UE; TS 24.229 §7.2A.4).
    pub fn is_network_provided(&self) -> bool {
        self.params().contains("network-provided")
    }
}

head_params_methods!(PAccessNetworkInfo, "P-Access-Network-Info");
typed_header!(
    PAccessNetworkInfo,
    HeaderName::P_ACCESS_NETWORK_INFO,
    list = true
);

/// One `P-Visited-Network-ID` element (RFC 7315 §4.3): a network identifier
/// (token or quoted string) with generic parameters, e.g.
/// `"Visited network number 1"` or `other.net`.
#[derive(Clone)]
pub struct PVisitedNetworkId<'a>(HeadParams<'a>);

impl<'a> PVisitedNetworkId<'a> {
    fn from_text(text: Text<'a>) -> Result<PVisitedNetworkId<'a>, Error> {
        HeadParams::parse(text, head_token_or_quoted).map(PVisitedNetworkId)
    }

    /// An element naming `network_id` (quoted if not a token).
    pub fn new(network_id: &str) -> Result<PVisitedNetworkId<'static>, Error> {
        let t = token_or_quote(network_id).into_owned();
        PVisitedNetworkId::from_text(Cow::Owned(t)).map_err(|_| Error::Invalid("bad network id"))
    }

    /// The network identifier, unquoted.
    pub fn network_id(&self) -> Cow<'_, str> {
        unquote_value(self.0.head())
    }
}

head_params_methods!(PVisitedNetworkId, "P-Visited-Network-ID");
typed_header!(
    PVisitedNetworkId,
    HeaderName::P_VISITED_NETWORK_ID,
    list = true
);

// ---------------------------------------------------------------------------
// Privacy
// ---------------------------------------------------------------------------

/// `Privacy` (RFC 3323 §4.2): `priv-value *(";" priv-value)`, e.g. `id;header`.
///
/// Values are `header`, `session`, `user`, `none`, `critical` (RFC 3323),
/// `id` (RFC 3325), `history` (RFC 7044) or any other token. The header is not
/// a comma list; LWS around `;` is tolerated.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Privacy<'a>(Text<'a>);

impl<'a> Privacy<'a> {
    /// Parses a Privacy value.
    pub fn parse(text: &'a str) -> Result<Privacy<'a>, Error> {
        Self::from_text(Cow::Borrowed(text))
    }

    fn from_text(text: Text<'a>) -> Result<Privacy<'a>, Error> {
        let mut sc = Scanner::new(text.as_bytes());
        loop {
            sc.skip_lws();
            sc.token("empty priv-value")?;
            sc.skip_lws();
            if sc.at_end() {
                break;
            }
            if !sc.eat(b';') {
                return Err(Error::syntax("priv-values must be separated by ';'"));
            }
        }
        Ok(Privacy(text))
    }

    /// A Privacy value from a non-empty list of priv-values (tokens).
    pub fn new(values: &[&str]) -> Result<Privacy<'static>, Error> {
        if values.is_empty() || !values.iter().all(|v| scan::is_token(v.as_bytes())) {
            return Err(Error::Invalid("priv-values must be one or more tokens"));
        }
        Ok(Privacy(Cow::Owned(values.join(";"))))
    }

    /// The value as written (outer white space removed).
    pub fn as_str(&self) -> &str {
        scan::trim_lws_str(&self.0)
    }

    /// The priv-values in order.
    pub fn values(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.split(';').map(scan::trim_lws_str)
    }

    /// Whether priv-value `value` is present (ASCII case-insensitive).
    pub fn contains(&self, value: &str) -> bool {
        self.values().any(|v| v.eq_ignore_ascii_case(value))
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> Privacy<'static> {
        Privacy(Cow::Owned(self.0.into_owned()))
    }
}

impl fmt::Display for Privacy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Privacy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Privacy({})", self.as_str())
    }
}

typed_header!(Privacy, HeaderName::PRIVACY, list = false);

// ---------------------------------------------------------------------------
// Security-Client / Security-Server / Security-Verify
// ---------------------------------------------------------------------------

/// Whether `v` is a quoted string of 32 hex digits (`d-ver`, RFC 3329 §2.2).
fn is_d_ver(v: &str) -> bool {
    v.len() == 34
        && v.starts_with('"')
        && v.ends_with('"')
        && v.as_bytes()[1..33].iter().all(u8::is_ascii_hexdigit)
}

/// One security mechanism (RFC 3329 §2.2, 3GPP TS 33.203 §7.2 and TS 24.229
/// §7.2A.7): `mechanism-name *(SEMI mech-parameters)`, e.g.
/// `ipsec-3gpp;alg=hmac-sha-1-96;ealg=aes-cbc;spi-c=3929102;spi-s=4429109;port-c=5062;port-s=5064`.
///
/// Parameters with a defined syntax are validated when present: `q` a qvalue,
/// `spi-c`/`spi-s` 32-bit numbers, `port-c`/`port-s` ports, `d-ver` a quoted
/// 32-hex-digit string, `alg`, `ealg`, `prot`, `mod`, `d-alg`, `d-qop` tokens.
#[derive(Clone)]
pub struct SecurityMechanism<'a>(HeadParams<'a>);

impl<'a> SecurityMechanism<'a> {
    fn from_text(text: Text<'a>) -> Result<SecurityMechanism<'a>, Error> {
        let hp = HeadParams::parse(text, head_token)?;
        let p = hp.params();
        let u32max = u64::from(u32::MAX);
        check_param(&p, "q", |v| parse_qvalue(v).is_some(), "bad q parameter")?;
        check_param(&p, "spi-c", |v| is_num(v, u32max), "bad spi-c parameter")?;
        check_param(&p, "spi-s", |v| is_num(v, u32max), "bad spi-s parameter")?;
        check_param(&p, "port-c", |v| is_num(v, 65535), "bad port-c parameter")?;
        check_param(&p, "port-s", |v| is_num(v, 65535), "bad port-s parameter")?;
        check_param(&p, "d-ver", is_d_ver, "bad d-ver parameter")?;
        for name in ["alg", "ealg", "prot", "mod", "d-alg", "d-qop"] {
            check_param(
                &p,
                name,
                |v| scan::is_token(v.as_bytes()),
                "security parameter is not a token",
            )?;
        }
        Ok(SecurityMechanism(hp))
    }

    /// A mechanism without parameters (`digest`, `tls`, `ipsec-3gpp`...).
    pub fn new(mechanism: &str) -> Result<SecurityMechanism<'static>, Error> {
        if !scan::is_token(mechanism.as_bytes()) {
            return Err(Error::Invalid("mechanism name is not a token"));
        }
        SecurityMechanism::from_text(Cow::Owned(mechanism.to_owned()))
    }

    /// An `ipsec-3gpp` mechanism (3GPP TS 33.203 §7.2) with its security
    /// association parameters; `ealg` is omitted when `None`.
    pub fn ipsec_3gpp(
        alg: &str,
        ealg: Option<&str>,
        spi_c: u32,
        spi_s: u32,
        port_c: u16,
        port_s: u16,
    ) -> Result<SecurityMechanism<'static>, Error> {
        // Checked on their own: `alg` cannot smuggle in an `spi-c`.
        if !scan::is_token(alg.as_bytes()) || ealg.is_some_and(|e| !scan::is_token(e.as_bytes())) {
            return Err(Error::Invalid("alg and ealg must be tokens"));
        }
        let mut s = format!("ipsec-3gpp;alg={alg}");
        if let Some(e) = ealg {
            s.push_str(";ealg=");
            s.push_str(e);
        }
        s.push_str(&format!(
            ";spi-c={spi_c};spi-s={spi_s};port-c={port_c};port-s={port_s}"
        ));
        SecurityMechanism::from_text(Cow::Owned(s))
            .map_err(|_| Error::Invalid("alg and ealg must be tokens"))
    }

    /// The mechanism name as written (`ipsec-3gpp`, `tls`, `digest`...).
    pub fn mechanism(&self) -> &str {
        self.0.head()
    }

    /// Whether the mechanism is `name` (ASCII case-insensitive).
    pub fn is_mechanism(&self, name: &str) -> bool {
        self.mechanism().eq_ignore_ascii_case(name)
    }

    /// The `q` preference in thousandths (`q=0.1` is 100).
    pub fn q(&self) -> Option<u16> {
        self.params().get("q").flatten().and_then(parse_qvalue)
    }

    /// The `spi-c` parameter: the client's SPI.
    pub fn spi_c(&self) -> Option<u32> {
        num_param(&self.params(), "spi-c", u64::from(u32::MAX)).map(|v| v as u32)
    }

    /// The `spi-s` parameter: the server's SPI.
    pub fn spi_s(&self) -> Option<u32> {
        num_param(&self.params(), "spi-s", u64::from(u32::MAX)).map(|v| v as u32)
    }

    /// The `port-c` parameter: the client's protected port.
    pub fn port_c(&self) -> Option<u16> {
        num_param(&self.params(), "port-c", 65535).map(|v| v as u16)
    }

    /// The `port-s` parameter: the server's protected port.
    pub fn port_s(&self) -> Option<u16> {
        num_param(&self.params(), "port-s", 65535).map(|v| v as u16)
    }

    /// The `alg` parameter (integrity algorithm: `hmac-sha-1-96`,
    /// `hmac-md5-96`).
    pub fn alg(&self) -> Option<&str> {
        self.params().get("alg").flatten()
    }

    /// The `ealg` parameter (encryption algorithm: `aes-cbc`, `des-ede3-cbc`,
    /// `null`).
    pub fn ealg(&self) -> Option<&str> {
        self.params().get("ealg").flatten()
    }

    /// The `prot` parameter (`esp` or `ah`).
    pub fn prot(&self) -> Option<&str> {
        self.params().get("prot").flatten()
    }

    /// The `mod` parameter (`trans`, `tun`, `UDP-enc-tun`).
    pub fn mode(&self) -> Option<&str> {
        self.params().get("mod").flatten()
    }

    /// The `d-alg` parameter (digest algorithm, RFC 3329 §2.2).
    pub fn d_alg(&self) -> Option<&str> {
        self.params().get("d-alg").flatten()
    }

    /// The `d-qop` parameter (digest qop, RFC 3329 §2.2).
    pub fn d_qop(&self) -> Option<&str> {
        self.params().get("d-qop").flatten()
    }

    /// The `d-ver` parameter (digest of the Security-Server list), unquoted.
    pub fn d_ver(&self) -> Option<Cow<'_, str>> {
        self.params().get_unquoted("d-ver")
    }
}

head_params_methods!(SecurityMechanism, "a security mechanism");

macro_rules! security_header {
    ($(#[$doc:meta])* $ty:ident, $name:expr) => {
        $(#[$doc])*
        ///
        /// Dereferences to [`SecurityMechanism`] for the mechanism and its
        /// parameters.
        #[derive(Clone, Debug)]
        pub struct $ty<'a>(pub SecurityMechanism<'a>);

        impl<'a> $ty<'a> {
            /// A copy that owns its text.
            pub fn into_owned(self) -> $ty<'static> {
                $ty(self.0.into_owned())
            }
        }

        impl<'a> std::ops::Deref for $ty<'a> {
            type Target = SecurityMechanism<'a>;
            fn deref(&self) -> &SecurityMechanism<'a> {
                &self.0
            }
        }

        impl<'a> std::convert::From<SecurityMechanism<'a>> for $ty<'a> {
            fn from(m: SecurityMechanism<'a>) -> Self {
                $ty(m)
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
            fn parse(value: &'a str) -> Result<Self, Error> {
                SecurityMechanism::from_text(Cow::Borrowed(value)).map($ty)
            }
        }
    };
}

security_header!(
    /// One mechanism of `Security-Client` (RFC 3329 §2.2): what the client
    /// (UE) supports.
    SecurityClient, HeaderName::SECURITY_CLIENT
);
security_header!(
    /// One mechanism of `Security-Server` (RFC 3329 §2.2): what the server
    /// (P-CSCF) supports.
    SecurityServer, HeaderName::SECURITY_SERVER
);
security_header!(
    /// One mechanism of `Security-Verify` (RFC 3329 §2.2): the client's copy of
    /// the Security-Server list.
    SecurityVerify, HeaderName::SECURITY_VERIFY
);

// ---------------------------------------------------------------------------
// P-Asserted-Service / P-Preferred-Service
// ---------------------------------------------------------------------------

/// The `urn:urn-7:` prefix of RFC 6050 service identifiers.
const URN_7: &str = "urn:urn-7:";

/// Validates a Service-ID (RFC 6050 §4.1): `"urn:urn-7:" urn-service-id`,
/// `urn-service-id = top-level *("." sub-service-id)`, labels of letters,
/// digits and inner hyphens, the top level at most 27 characters.
fn check_service_id(s: &str) -> Result<(), Error> {
    let b = s.as_bytes();
    let rest = match b.get(..URN_7.len()) {
        Some(p) if p.eq_ignore_ascii_case(URN_7.as_bytes()) => &b[URN_7.len()..],
        _ => {
            return Err(Error::syntax(
                "service identifier does not start with urn:urn-7:",
            ));
        }
    };
    for (i, label) in rest.split(|&c| c == b'.').enumerate() {
        let ok = match (label.first(), label.last()) {
            (Some(f), Some(l)) => {
                f.is_ascii_alphanumeric()
                    && l.is_ascii_alphanumeric()
                    && label
                        .iter()
                        .all(|&c| c.is_ascii_alphanumeric() || c == b'-')
                    && (i > 0 || label.len() <= 27)
            }
            _ => false,
        };
        if !ok {
            return Err(Error::syntax("bad label in service identifier"));
        }
    }
    Ok(())
}

macro_rules! service_header {
    ($(#[$doc:meta])* $ty:ident, $name:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $ty<'a>(Text<'a>);

        impl<'a> $ty<'a> {
            /// Parses one service identifier.
            pub fn parse(text: &'a str) -> Result<$ty<'a>, Error> {
                let t = scan::trim_lws_str(text);
                check_service_id(t)?;
                Ok($ty(Cow::Borrowed(t)))
            }

            /// A value from a service URN (`urn:urn-7:3gpp-service.ims.icsi.mmtel`).
            pub fn new(urn: &str) -> Result<$ty<'static>, Error> {
                check_service_id(urn).map_err(|_| Error::Invalid("not a urn:urn-7: service identifier"))?;
                Ok($ty(Cow::Owned(urn.to_owned())))
            }

            /// The service URN as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The service identifier after `urn:urn-7:`
            /// (`3gpp-service.ims.icsi.mmtel`).
            pub fn service_id(&self) -> &str {
                self.0.get(URN_7.len()..).unwrap_or("")
            }

            /// Whether this is service URN `urn` (ASCII case-insensitive).
            pub fn is(&self, urn: &str) -> bool {
                self.0.eq_ignore_ascii_case(urn)
            }

            /// A copy that owns its text.
            pub fn into_owned(self) -> $ty<'static> {
                $ty(Cow::Owned(self.0.into_owned()))
            }
        }

        impl fmt::Display for $ty<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $ty<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($ty), self.0)
            }
        }

        impl<'a> TypedHeader<'a> for $ty<'a> {
            const NAME: HeaderName = $name;
            const LIST: bool = true;
            fn parse(value: &'a str) -> Result<Self, Error> {
                $ty::parse(value)
            }
        }
    };
}

service_header!(
    /// One service of `P-Asserted-Service` (RFC 6050 §4.1): a service URN
    /// asserted by a trusted node, e.g. `urn:urn-7:3gpp-service.ims.icsi.mmtel`.
    PAssertedService, HeaderName::P_ASSERTED_SERVICE
);
service_header!(
    /// One service of `P-Preferred-Service` (RFC 6050 §4.2): the service a UA
    /// asks for, e.g. `urn:urn-7:3gpp-service.ims.icsi.mmtel`.
    PPreferredService, HeaderName::P_PREFERRED_SERVICE
);

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<'a, H: TypedHeader<'a>>(s: &'a str) -> H {
        let h = <H as TypedHeader<'a>>::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(h.to_string(), scan::trim_lws_str(s), "round trip of {s}");
        h
    }

    fn rejects<'a, H: TypedHeader<'a> + fmt::Debug>(s: &'a str) {
        assert!(
            <H as TypedHeader<'a>>::parse(s).is_err(),
            "should reject {s:?}"
        );
    }

    #[test]
    fn charging_vector_real_traffic() {
        let v: PChargingVector<'_> = round_trip(
            "icid-value=AyretyU0dm+6O2IrT5tAFrbHLso=023551024;icid-generated-at=pcscf1.ims.example.net;orig-ioi=ims.example.net",
        );
        assert_eq!(v.icid_value(), "AyretyU0dm+6O2IrT5tAFrbHLso=023551024");
        assert_eq!(v.icid_generated_at().unwrap(), "pcscf1.ims.example.net");
        assert_eq!(v.orig_ioi().unwrap(), "ims.example.net");
        assert_eq!(v.term_ioi(), None);
        assert_eq!(v.params().len(), 2);

        // RFC 7315 §4.6 example, spaces after ';'.
        let v: PChargingVector<'_> =
            round_trip("icid-value=1234bc9876e; icid-generated-at=192.0.6.8; orig-ioi=home1.net");
        assert_eq!(v.icid_value(), "1234bc9876e");
        assert_eq!(v.icid_generated_at().unwrap(), "192.0.6.8");

        // Quoted values, IPv6 generator, term-ioi, TS 24.229 extensions.
        let v: PChargingVector<'_> = round_trip(
            "icid-value=\"AyretyU0dm+6O2IrT5tAFrbHLso=023551024\";icid-generated-at=[2001:db8::1];orig-ioi=\"Type 3home1.net\";term-ioi=home2.net;ggsn=[2001:db8::2];auth-token=4A2B;pdp-info=\"pdp-item=1; pdp-sig=no; gcid=39B26CD7\"",
        );
        assert_eq!(v.icid_value(), "AyretyU0dm+6O2IrT5tAFrbHLso=023551024");
        assert_eq!(v.icid_generated_at().unwrap(), "[2001:db8::1]");
        assert_eq!(v.orig_ioi().unwrap(), "Type 3home1.net");
        assert_eq!(v.term_ioi().unwrap(), "home2.net");
        assert_eq!(v.params().get("auth-token"), Some(Some("4A2B")));

        // Folded LWS and case-insensitive parameter names.
        let v = PChargingVector::parse("ICID-Value = abc ;\r\n orig-ioi = x.net").unwrap();
        assert_eq!(v.icid_value(), "abc");
        assert_eq!(v.orig_ioi().unwrap(), "x.net");
    }

    #[test]
    fn charging_vector_rejects() {
        for bad in [
            "",
            "orig-ioi=home1.net",
            "orig-ioi=home1.net;icid-value=1",
            "icid-value",
            "icid-value=",
            "icid-value=\"\"",
            "icid-value=abc;",
            "icid-value=abc;;orig-ioi=x",
            "icid-value=abc def",
            "icid-value=abc,def",
            "icid-value=\"open",
            "icid-value=a<b>",
            "icid-value=abc;orig-ioi=",
        ] {
            rejects::<PChargingVector<'_>>(bad);
        }
    }

    #[test]
    fn charging_vector_builder() {
        let v = PChargingVector::new("AyretyU0dm+6O2IrT5tAFrbHLso=023551024").unwrap();
        let v = v
            .with_param("icid-generated-at", Some("192.0.2.7"))
            .unwrap();
        let v = v.with_param("orig-ioi", Some("ims.example.net")).unwrap();
        assert_eq!(
            v.to_string(),
            "icid-value=AyretyU0dm+6O2IrT5tAFrbHLso=023551024;icid-generated-at=192.0.2.7;orig-ioi=ims.example.net"
        );
        let v = v
            .with_param("orig-ioi", Some("\"Type 3home1.net\""))
            .unwrap();
        assert_eq!(v.orig_ioi().unwrap(), "Type 3home1.net");
        let v = v.with_param("icid-value", Some("newicid")).unwrap();
        assert_eq!(v.icid_value(), "newicid");
        assert_eq!(v.icid_generated_at().unwrap(), "192.0.2.7");
        let v = v.without_param("orig-ioi");
        assert_eq!(v.as_str(), "icid-value=newicid;icid-generated-at=192.0.2.7");
        assert_eq!(v.without_param("icid-value").as_str(), v.as_str());
        assert!(PChargingVector::new("a b").is_err());
        // One value, not a way to add parameters.
        assert!(PChargingVector::new("abc;orig-ioi=evil").is_err());
        assert!(PChargingVector::new("").is_err());
        assert!(v.with_param("term-ioi", Some("a b")).is_err());
        assert!(v.with_param("icid-value", None).is_err());
        let owned = PChargingVector::parse("icid-value=x").unwrap().into_owned();
        assert_eq!(owned.icid_value(), "x");
    }

    #[test]
    fn charging_function_addresses() {
        let a: PChargingFunctionAddresses<'_> =
            round_trip("ccf=192.1.1.1; ccf=192.1.1.2; ecf=192.1.1.3; ecf=192.1.1.4");
        assert_eq!(a.ccf().collect::<Vec<_>>(), ["192.1.1.1", "192.1.1.2"]);
        assert_eq!(a.ecf().collect::<Vec<_>>(), ["192.1.1.3", "192.1.1.4"]);

        let a: PChargingFunctionAddresses<'_> = round_trip(
            "ccf=[5555::b99:c88:d77:e66]; ccf=[5555::a55:b44:c33:d22];\r\n ecf=\"aaa://ecf.example.net\";x-vendor",
        );
        assert_eq!(
            a.ccf().collect::<Vec<_>>(),
            ["[5555::b99:c88:d77:e66]", "[5555::a55:b44:c33:d22]"]
        );
        assert_eq!(a.ecf().collect::<Vec<_>>(), ["aaa://ecf.example.net"]);
        assert_eq!(a.params().count(), 4);
        assert_eq!(a.params().last(), Some(("x-vendor", None)));

        let a: PChargingFunctionAddresses<'_> = round_trip("ecf=cdf.ims.example.net");
        assert_eq!(a.ccf().count(), 0);
        assert_eq!(a.ecf().next().unwrap(), "cdf.ims.example.net");

        for bad in [
            "",
            ";ccf=1.2.3.4",
            "ccf=",
            "ccf=1.2.3.4;",
            "ccf=1.2.3.4, ecf=1.2.3.5",
            "ccf=[::1",
            "ccf=aaa://x",
            "ccf=a b",
        ] {
            rejects::<PChargingFunctionAddresses<'_>>(bad);
        }

        let a = PChargingFunctionAddresses::new(&["192.0.2.1", "[2001:db8::1]"], &["\"aaa://e\""])
            .unwrap();
        assert_eq!(
            a.as_str(),
            "ccf=192.0.2.1;ccf=[2001:db8::1];ecf=\"aaa://e\""
        );
        assert_eq!(a.ecf().next().unwrap(), "aaa://e");
        assert!(PChargingFunctionAddresses::new(&[], &[]).is_err());
        assert!(PChargingFunctionAddresses::new(&["a b"], &[]).is_err());
        assert!(PChargingFunctionAddresses::new(&["a;ecf=b"], &[]).is_err());
        assert_eq!(a.clone().into_owned().as_str(), a.as_str());
    }

    #[test]
    fn access_network_info() {
        let p: PAccessNetworkInfo<'_> =
            round_trip("3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=001010001000019B");
        assert_eq!(p.access_type(), "3GPP-E-UTRAN-FDD");
        assert_eq!(p.cell_id().unwrap(), "001010001000019B");
        assert!(!p.is_network_provided());

        let p: PAccessNetworkInfo<'_> = round_trip(
            "3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=2620100000ABC0101; network-provided; local-time-zone=\"UTC+01:00\"; daylight-saving-time=\"00\"",
        );
        assert!(p.is_network_provided());
        assert_eq!(
            p.params().get_unquoted("local-time-zone").unwrap(),
            "UTC+01:00"
        );

        let p: PAccessNetworkInfo<'_> = round_trip("IEEE-802.11;i-wlan-node-id=ffeeddccbbaa");
        assert_eq!(p.params().get("i-wlan-node-id"), Some(Some("ffeeddccbbaa")));

        let p: PAccessNetworkInfo<'_> = round_trip("\"IEEE-802.11 (vendor)\";dsl-location=\"x y\"");
        assert_eq!(p.access_type(), "IEEE-802.11 (vendor)");
        assert_eq!(p.params().get_unquoted("dsl-location").unwrap(), "x y");

        for bad in [
            "",
            ";utran-cell-id-3gpp=1",
            "3GPP-E-UTRAN-FDD;",
            "3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=",
            "3GPP E-UTRAN",
            "3GPP-E-UTRAN-FDD;cell=a b",
            "\"open",
        ] {
            rejects::<PAccessNetworkInfo<'_>>(bad);
        }

        let p = PAccessNetworkInfo::new("3GPP-NR-FDD")
            .unwrap()
            .with_param("nrcgi", Some("001010000000001230"))
            .unwrap()
            .with_param("network-provided", None)
            .unwrap();
        assert_eq!(
            p.as_str(),
            "3GPP-NR-FDD;nrcgi=001010000000001230;network-provided"
        );
        assert!(p.is_network_provided());
        assert_eq!(
            p.without_param("network-provided").as_str(),
            "3GPP-NR-FDD;nrcgi=001010000000001230"
        );
        assert_eq!(PAccessNetworkInfo::new("a b").unwrap().as_str(), "\"a b\"");
        assert!(p.with_param("x", Some("a b")).is_err());
    }

    #[test]
    fn visited_network_id() {
        let v: PVisitedNetworkId<'_> = round_trip("\"Visited network number 1\"");
        assert_eq!(v.network_id(), "Visited network number 1");
        let v: PVisitedNetworkId<'_> = round_trip("other.net;x=1");
        assert_eq!(v.network_id(), "other.net");
        assert_eq!(v.param("x"), Some(Some("1")));
        let v: PVisitedNetworkId<'_> = round_trip("\"a \\\"b\\\"\"");
        assert_eq!(v.network_id(), "a \"b\"");
        for bad in ["", "a b", "\"x", "x;", "<x>"] {
            rejects::<PVisitedNetworkId<'_>>(bad);
        }
        assert_eq!(
            PVisitedNetworkId::new("ims.mnc001.mcc001.3gppnetwork.org")
                .unwrap()
                .as_str(),
            "ims.mnc001.mcc001.3gppnetwork.org"
        );
        assert_eq!(
            PVisitedNetworkId::new("Visited 1").unwrap().as_str(),
            "\"Visited 1\""
        );
        let o = PVisitedNetworkId::parse("x").unwrap().into_owned();
        assert_eq!(format!("{o:?}"), "PVisitedNetworkId(x)");
    }

    #[test]
    fn privacy() {
        let p: Privacy<'_> = round_trip("id");
        assert!(p.contains("id") && p.contains("ID") && !p.contains("header"));
        let p: Privacy<'_> = round_trip("id;header;user");
        assert_eq!(p.values().collect::<Vec<_>>(), ["id", "header", "user"]);
        let p: Privacy<'_> = round_trip("none");
        assert!(p.contains("none"));
        let p = Privacy::parse("header ; \r\n session;critical").unwrap();
        assert_eq!(
            p.values().collect::<Vec<_>>(),
            ["header", "session", "critical"]
        );
        let p: Privacy<'_> = round_trip("history;x-private");
        assert!(p.contains("x-private"));
        for bad in [
            "",
            ";",
            "id;",
            ";id",
            "id;;header",
            "id,header",
            "id header",
            "\"id\"",
        ] {
            rejects::<Privacy<'_>>(bad);
        }
        assert_eq!(
            Privacy::new(&["id", "header"]).unwrap().to_string(),
            "id;header"
        );
        assert!(Privacy::new(&[]).is_err());
        assert!(Privacy::new(&["id;header"]).is_err());
        assert_eq!(p.clone().into_owned(), p);
    }

    #[test]
    fn security_mechanisms() {
        let s: SecurityClient<'_> = round_trip(
            "ipsec-3gpp;alg=hmac-sha-1-96;ealg=aes-cbc;spi-c=3929102;spi-s=4429109;port-c=5062;port-s=5064",
        );
        assert_eq!(s.mechanism(), "ipsec-3gpp");
        assert!(s.is_mechanism("IPSEC-3GPP"));
        assert_eq!(s.alg(), Some("hmac-sha-1-96"));
        assert_eq!(s.ealg(), Some("aes-cbc"));
        assert_eq!(s.spi_c(), Some(3929102));
        assert_eq!(s.spi_s(), Some(4429109));
        assert_eq!(s.port_c(), Some(5062));
        assert_eq!(s.port_s(), Some(5064));
        assert_eq!(s.q(), None);

        let s: SecurityServer<'_> = round_trip(
            "ipsec-3gpp; q=0.1; alg=hmac-md5-96; ealg=des-ede3-cbc; spi-c=4294967295; spi-s=0; port-c=65535; port-s=1; prot=esp; mod=trans",
        );
        assert_eq!(s.q(), Some(100));
        assert_eq!(s.spi_c(), Some(u32::MAX));
        assert_eq!(s.spi_s(), Some(0));
        assert_eq!(s.port_c(), Some(65535));
        assert_eq!(s.prot(), Some("esp"));
        assert_eq!(s.mode(), Some("trans"));
        assert_eq!(s.param("mod"), Some(Some("trans")));

        // RFC 3329 §2.2 digest mechanism.
        let s: SecurityVerify<'_> = round_trip(
            "digest;d-alg=md5;d-qop=auth-int;d-ver=\"0123456789abcdef0123456789ABCDEF\";q=0.5",
        );
        assert_eq!(s.d_alg(), Some("md5"));
        assert_eq!(s.d_qop(), Some("auth-int"));
        assert_eq!(s.d_ver().unwrap(), "0123456789abcdef0123456789ABCDEF");
        assert_eq!(s.q(), Some(500));
        let s: SecurityClient<'_> = round_trip("tls;q=1");
        assert_eq!(s.q(), Some(1000));

        for bad in [
            "",
            ";alg=x",
            "ipsec-3gpp;",
            "ipsec-3gpp;spi-c=4294967296",
            "ipsec-3gpp;spi-c=-1",
            "ipsec-3gpp;spi-s=abc",
            "ipsec-3gpp;port-c=65536",
            "ipsec-3gpp;port-s",
            "ipsec-3gpp;q=2",
            "ipsec-3gpp;alg=\"hmac-sha-1-96\"",
            "ipsec-3gpp;ealg",
            "digest;d-ver=\"0123\"",
            "digest;d-ver=0123456789abcdef0123456789abcdef",
            "ipsec-3gpp alg=x",
            "ipsec 3gpp",
        ] {
            rejects::<SecurityClient<'_>>(bad);
        }

        let m =
            SecurityMechanism::ipsec_3gpp("hmac-sha-1-96", Some("null"), 1, 2, 5062, 5064).unwrap();
        assert_eq!(
            m.as_str(),
            "ipsec-3gpp;alg=hmac-sha-1-96;ealg=null;spi-c=1;spi-s=2;port-c=5062;port-s=5064"
        );
        let v = SecurityVerify::from(m.with_param("q", Some("0.1")).unwrap());
        assert_eq!(v.q(), Some(100));
        assert!(m.with_param("spi-c", Some("x")).is_err());
        assert!(SecurityMechanism::ipsec_3gpp("a b", None, 1, 2, 3, 4).is_err());
        assert!(SecurityMechanism::ipsec_3gpp("hmac-sha-1-96;spi-c=1", None, 7, 8, 1, 2).is_err());
        assert!(
            SecurityMechanism::ipsec_3gpp("hmac-sha-1-96", Some("null;x"), 7, 8, 1, 2).is_err()
        );
        assert_eq!(SecurityMechanism::new("tls").unwrap().as_str(), "tls");
        assert!(SecurityMechanism::new("a;b").is_err());
        assert_eq!(m.without_param("ealg").ealg(), None);
        let owned: SecurityClient<'static> = {
            let s = String::from("tls");
            <SecurityClient<'_> as TypedHeader<'_>>::parse(&s)
                .unwrap()
                .into_owned()
        };
        assert_eq!(owned.mechanism(), "tls");
    }

    #[test]
    fn services() {
        let s: PAssertedService<'_> = round_trip("urn:urn-7:3gpp-service.ims.icsi.mmtel");
        assert_eq!(s.service_id(), "3gpp-service.ims.icsi.mmtel");
        assert!(s.is("URN:urn-7:3gpp-service.ims.icsi.MMTEL"));
        let s: PPreferredService<'_> = round_trip("urn:urn-7:3gpp-application.ims.iari.rcse.im");
        assert_eq!(s.service_id(), "3gpp-application.ims.iari.rcse.im");
        let _: PPreferredService<'_> =
            round_trip("urn:urn-7:3gpp-service.exampletelephony.version1");
        for bad in [
            "",
            "urn:urn-7:",
            "urn:urn-7:.mmtel",
            "urn:urn-7:3gpp-service..mmtel",
            "urn:urn-7:3gpp-service.ims.",
            "urn:urn-7:3gpp-service.-ims",
            "urn:urn-7:3gpp-service.ims-",
            "urn:urn-7:3gpp_service.ims",
            "urn:urn-7:abcdefghijabcdefghijabcdefgh.x",
            "urn:service:sos",
            "urn:urn-7:3gpp-service.ims.icsi.mmtel;x",
            "<urn:urn-7:3gpp-service.ims.icsi.mmtel>",
        ] {
            rejects::<PAssertedService<'_>>(bad);
        }
        assert_eq!(
            PAssertedService::new("urn:urn-7:3gpp-service.ims.icsi.mcptt")
                .unwrap()
                .into_owned()
                .as_str(),
            "urn:urn-7:3gpp-service.ims.icsi.mcptt"
        );
        assert!(PPreferredService::new("urn:urn-7:a b").is_err());
    }

    #[test]
    fn in_messages() {
        let raw = b"REGISTER sip:ims.example.net SIP/2.0\r\n\
            Via: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKnashds7\r\n\
            Max-Forwards: 70\r\n\
            From: <sip:001010000012345@ims.example.net>;tag=4fa3\r\n\
            To: <sip:001010000012345@ims.example.net>\r\n\
            Call-ID: apb03a0s09dkjdfglkj49111\r\n\
            CSeq: 1 REGISTER\r\n\
            Security-Client: ipsec-3gpp;alg=hmac-sha-1-96;spi-c=3929102;spi-s=4429109;port-c=5062;port-s=5064,\r\n ipsec-3gpp;alg=hmac-md5-96;spi-c=3929102;spi-s=4429109;port-c=5062;port-s=5064\r\n\
            P-Access-Network-Info: 3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=001010001000019B\r\n\
            P-Visited-Network-ID: \"Visited, network\", other.net\r\n\
            P-Charging-Vector: icid-value=AyretyU0dm+6O2IrT5tAFrbHLso=023551024;orig-ioi=ims.example.net\r\n\
            Privacy: id;header\r\n\
            P-Preferred-Service: urn:urn-7:3gpp-service.ims.icsi.mmtel\r\n\
            Content-Length: 0\r\n\r\n";
        let m = crate::Message::parse_slice(raw).unwrap();
        let r = m.as_request().unwrap();
        let sc: Vec<SecurityClient<'_>> = r.typed_all().collect::<Result<_, _>>().unwrap();
        assert_eq!(sc.len(), 2);
        assert_eq!(sc[1].alg(), Some("hmac-md5-96"));
        let vn: Vec<PVisitedNetworkId<'_>> = r.typed_all().collect::<Result<_, _>>().unwrap();
        assert_eq!(vn.len(), 2);
        assert_eq!(vn[0].network_id(), "Visited, network");
        let pani = r.typed::<PAccessNetworkInfo<'_>>().unwrap().unwrap();
        assert_eq!(pani.cell_id().unwrap(), "001010001000019B");
        let pcv = r.typed::<PChargingVector<'_>>().unwrap().unwrap();
        assert_eq!(pcv.icid_value(), "AyretyU0dm+6O2IrT5tAFrbHLso=023551024");
        assert!(
            r.typed::<Privacy<'_>>()
                .unwrap()
                .unwrap()
                .contains("header")
        );
        let ps = r.typed::<PPreferredService<'_>>().unwrap().unwrap();
        assert_eq!(ps.service_id(), "3gpp-service.ims.icsi.mmtel");
    }
}
