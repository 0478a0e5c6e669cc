//! Event, session-timer, caller-preference and other headers: Event and
//! Allow-Events, Subscription-State (RFC 6665), Accept-Contact,
//! Reject-Contact and Request-Disposition (RFC 3841), Session-Expires and
//! Min-SE (RFC 4028), Retry-After, Warning and Timestamp (RFC 3261), Reason
//! (RFC 3326), RSeq and RAck (RFC 3262).

use std::borrow::Cow;
use std::fmt;

use super::ims::{
    HeadParams, check_param, head_params_methods, head_token, is_num, num_param, typed_header,
};
use super::{CSeq, R, Text, TypedHeader, quote_checked};
use crate::error::Error;
use crate::method::Method;
use crate::name::HeaderName;
use crate::params::{Params, unquote_value};
use crate::scan::{self, Scanner};

const U32_MAX: u64 = u32::MAX as u64;

/// Head scanner: delta-seconds (1*DIGIT, at most 2³²−1).
fn head_delta(sc: &mut Scanner<'_>) -> Result<(), Error> {
    let d = sc.take_class(scan::DIGIT);
    scan::parse_decimal(d, U32_MAX)
        .map(|_| ())
        .ok_or(Error::syntax("not a delta-seconds value"))
}

/// The value of the leading digits of `s` (validated at parse time).
fn leading_u32(s: &str) -> u32 {
    let end = s
        .bytes()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(s.len());
    scan::parse_decimal(&s.as_bytes()[..end], U32_MAX).map_or(0, |v| v as u32)
}

fn is_delta(v: &str) -> bool {
    is_num(v, U32_MAX)
}

fn is_token_str(v: &str) -> bool {
    scan::is_token(v.as_bytes())
}

/// A `HeadParams` with head `head` and no parameters, built without parsing
/// (for heads known to be valid).
fn bare(head: String) -> HeadParams<'static> {
    let n = head.len();
    HeadParams {
        text: Cow::Owned(head),
        head: R::new(0, n),
        params: R::new(n, n),
    }
}

// ---------------------------------------------------------------------------
// Event, Allow-Events
// ---------------------------------------------------------------------------

/// Validates an event-type (RFC 6665 §8.2.1): `event-package *("."
/// event-template)`, each part a non-empty token without dots.
fn check_event_type(t: &[u8]) -> Result<(), Error> {
    if !scan::is_token(t) || t.split(|&c| c == b'.').any(<[u8]>::is_empty) {
        return Err(Error::syntax("bad event type"));
    }
    Ok(())
}

fn head_event_type(sc: &mut Scanner<'_>) -> Result<(), Error> {
    let t = sc.token("missing event type")?;
    check_event_type(t)
}

/// `Event` (RFC 6665 §8.2.1): an event type (`reg`, `presence`,
/// `presence.winfo`, `conference`...) with parameters, notably `id`.
///
/// ```
/// # use clearwater_sip::header::Event;
/// let e = Event::parse("presence.winfo;id=1").unwrap();
/// assert_eq!(e.package(), "presence");
/// assert_eq!(e.id(), Some("1"));
/// ```
#[derive(Clone)]
pub struct Event<'a>(HeadParams<'a>);

impl<'a> Event<'a> {
    fn from_text(text: Text<'a>) -> Result<Event<'a>, Error> {
        let hp = HeadParams::parse(text, head_event_type)?;
        check_param(&hp.params(), "id", is_token_str, "bad id parameter")?;
        Ok(Event(hp))
    }

    /// An Event value for `event_type` (`reg`, `presence.winfo`...).
    pub fn new(event_type: &str) -> Result<Event<'static>, Error> {
        check_event_type(event_type.as_bytes()).map_err(|_| Error::Invalid("bad event type"))?;
        Ok(Event(bare(event_type.to_owned())))
    }

    /// The whole event type as written (`presence.winfo`).
    pub fn event_type(&self) -> &str {
        self.0.head()
    }

    /// The event package (the part before the first `.`: `presence`).
    pub fn package(&self) -> &str {
        let t = self.0.head();
        t.split('.').next().unwrap_or(t)
    }

    /// The event templates after the package (`winfo` in `presence.winfo`).
    pub fn templates(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.head().split('.').skip(1)
    }

    /// The `id` parameter.
    pub fn id(&self) -> Option<&str> {
        self.params().get("id").flatten()
    }

    /// Whether `other` names the same subscription (RFC 6665 §8.2.1): event
    /// types compared byte by byte, `id` parameters compared byte by byte (a
    /// value with `id` never matches one without); other parameters ignored.
    pub fn matches(&self, other: &Event<'_>) -> bool {
        self.event_type() == other.event_type() && self.id() == other.id()
    }
}

head_params_methods!(Event, "Event");
typed_header!(Event, HeaderName::EVENT, list = false);

/// One event type of `Allow-Events` (RFC 6665 §8.2.2), e.g. `presence`,
/// `dialog`, `presence.winfo`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AllowEvents<'a>(Text<'a>);

impl<'a> AllowEvents<'a> {
    /// Parses one event type.
    pub fn parse(text: &'a str) -> Result<AllowEvents<'a>, Error> {
        let t = scan::trim_lws_str(text);
        check_event_type(t.as_bytes())?;
        Ok(AllowEvents(Cow::Borrowed(t)))
    }

    /// An event type, validated.
    pub fn new(event_type: &str) -> Result<AllowEvents<'static>, Error> {
        check_event_type(event_type.as_bytes()).map_err(|_| Error::Invalid("bad event type"))?;
        Ok(AllowEvents(Cow::Owned(event_type.to_owned())))
    }

    /// The event type as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The event package (the part before the first `.`).
    pub fn package(&self) -> &str {
        self.0.split('.').next().unwrap_or(&self.0)
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> AllowEvents<'static> {
        AllowEvents(Cow::Owned(self.0.into_owned()))
    }
}

impl fmt::Display for AllowEvents<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AllowEvents<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AllowEvents({})", self.0)
    }
}

impl<'a> TypedHeader<'a> for AllowEvents<'a> {
    const NAME: HeaderName = HeaderName::ALLOW_EVENTS;
    const LIST: bool = true;
    fn parse(value: &'a str) -> Result<Self, Error> {
        AllowEvents::parse(value)
    }
}

// ---------------------------------------------------------------------------
// Subscription-State
// ---------------------------------------------------------------------------

/// A subscription state (RFC 6665 §8.2.3 `substate-value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubState<'a> {
    /// `active`: the subscription has been accepted.
    Active,
    /// `pending`: received, not yet authorized.
    Pending,
    /// `terminated`: the subscription is over.
    Terminated,
    /// An extension state, as written.
    Extension(&'a str),
}

/// `Subscription-State` (RFC 6665 §8.2.3):
/// `active|pending|terminated|extension *(;expires=..|;reason=..|;retry-after=..)`.
///
/// `expires` and `retry-after` are validated as delta-seconds (up to 2³²−1),
/// `reason` as a token.
#[derive(Clone)]
pub struct SubscriptionState<'a>(HeadParams<'a>);

impl<'a> SubscriptionState<'a> {
    fn from_text(text: Text<'a>) -> Result<SubscriptionState<'a>, Error> {
        let hp = HeadParams::parse(text, head_token)?;
        let p = hp.params();
        check_param(&p, "expires", is_delta, "bad expires parameter")?;
        check_param(&p, "retry-after", is_delta, "bad retry-after parameter")?;
        check_param(&p, "reason", is_token_str, "bad reason parameter")?;
        Ok(SubscriptionState(hp))
    }

    /// A value with state `state` (`active`, `pending`, `terminated` or an
    /// extension token) and no parameters.
    pub fn new(state: &str) -> Result<SubscriptionState<'static>, Error> {
        if !is_token_str(state) {
            return Err(Error::Invalid("subscription state is not a token"));
        }
        Ok(SubscriptionState(bare(state.to_owned())))
    }

    /// `active;expires=<expires>`.
    pub fn active(expires: u32) -> SubscriptionState<'static> {
        let s = format!("active;expires={expires}");
        let n = s.len();
        SubscriptionState(HeadParams {
            text: Cow::Owned(s),
            head: R::new(0, "active".len()),
            params: R::new("active".len(), n),
        })
    }

    /// The state (ASCII case-insensitive for the three defined ones).
    pub fn state(&self) -> SubState<'_> {
        let s = self.0.head();
        if s.eq_ignore_ascii_case("active") {
            SubState::Active
        } else if s.eq_ignore_ascii_case("pending") {
            SubState::Pending
        } else if s.eq_ignore_ascii_case("terminated") {
            SubState::Terminated
        } else {
            SubState::Extension(s)
        }
    }

    /// The `expires` parameter.
    pub fn expires(&self) -> Option<u32> {
        num_param(&self.params(), "expires", U32_MAX).map(|v| v as u32)
    }

    /// The `reason` parameter (`deactivated`, `probation`, `rejected`,
    /// `timeout`, `giveup`, `noresource`, `invariant` or an extension).
    pub fn reason(&self) -> Option<&str> {
        self.params().get("reason").flatten()
    }

    /// The `retry-after` parameter.
    pub fn retry_after(&self) -> Option<u32> {
        num_param(&self.params(), "retry-after", U32_MAX).map(|v| v as u32)
    }
}

head_params_methods!(SubscriptionState, "Subscription-State");
typed_header!(
    SubscriptionState,
    HeaderName::SUBSCRIPTION_STATE,
    list = false
);

// ---------------------------------------------------------------------------
// Accept-Contact, Reject-Contact, Request-Disposition
// ---------------------------------------------------------------------------

fn head_star(sc: &mut Scanner<'_>) -> Result<(), Error> {
    sc.expect(b'*', "expected '*'")
}

macro_rules! contact_pred {
    ($(#[$doc:meta])* $ty:ident, $name:expr, $label:literal) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $ty<'a>(HeadParams<'a>);

        impl<'a> $ty<'a> {
            fn from_text(text: Text<'a>) -> Result<$ty<'a>, Error> {
                HeadParams::parse(text, head_star).map($ty)
            }

            /// `*` without parameters; add feature parameters with
            /// `with_param`.
            pub fn new() -> $ty<'static> {
                $ty(bare("*".to_owned()))
            }

            /// Feature parameter `name` (`+g.3gpp.icsi-ref`, `video`...),
            /// unquoted; an empty string for a flag.
            pub fn feature(&self, name: &str) -> Option<Cow<'_, str>> {
                self.params().get_unquoted(name)
            }
        }

        impl Default for $ty<'static> {
            fn default() -> Self {
                $ty::new()
            }
        }

        head_params_methods!($ty, $label);
        typed_header!($ty, $name, list = true);
    };
}

contact_pred!(
    /// One `Accept-Contact` element (RFC 3841 §10): `*` followed by feature
    /// parameters and the `require` / `explicit` flags, e.g.
    /// `*;+g.3gpp.icsi-ref="urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel";require;explicit`.
    AcceptContact, HeaderName::ACCEPT_CONTACT, "Accept-Contact"
);
contact_pred!(
    /// One `Reject-Contact` element (RFC 3841 §10): `*` followed by feature
    /// parameters, e.g. `*;actor="msg-taker";video`.
    RejectContact, HeaderName::REJECT_CONTACT, "Reject-Contact"
);

impl AcceptContact<'_> {
    /// Whether the `require` flag is present (RFC 3841 §9.2).
    pub fn is_require(&self) -> bool {
        self.params().contains("require")
    }

    /// Whether the `explicit` flag is present (RFC 3841 §9.2).
    pub fn is_explicit(&self) -> bool {
        self.params().contains("explicit")
    }
}

/// One directive of `Request-Disposition` (RFC 3841 §10): `proxy`, `redirect`,
/// `cancel`, `no-cancel`, `fork`, `no-fork`, `recurse`, `no-recurse`,
/// `parallel`, `sequential`, `queue`, `no-queue`, or an extension token.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RequestDisposition<'a>(Text<'a>);

impl<'a> RequestDisposition<'a> {
    /// Parses one directive.
    pub fn parse(text: &'a str) -> Result<RequestDisposition<'a>, Error> {
        let t = scan::trim_lws_str(text);
        if !is_token_str(t) {
            return Err(Error::syntax("directive is not a token"));
        }
        Ok(RequestDisposition(Cow::Borrowed(t)))
    }

    /// A directive, validated as a token.
    pub fn new(directive: &str) -> Result<RequestDisposition<'static>, Error> {
        if !is_token_str(directive) {
            return Err(Error::Invalid("directive is not a token"));
        }
        Ok(RequestDisposition(Cow::Owned(directive.to_owned())))
    }

    /// The directive as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is `directive` (ASCII case-insensitive).
    pub fn is(&self, directive: &str) -> bool {
        self.0.eq_ignore_ascii_case(directive)
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> RequestDisposition<'static> {
        RequestDisposition(Cow::Owned(self.0.into_owned()))
    }
}

impl fmt::Display for RequestDisposition<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RequestDisposition<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestDisposition({})", self.0)
    }
}

impl<'a> TypedHeader<'a> for RequestDisposition<'a> {
    const NAME: HeaderName = HeaderName::REQUEST_DISPOSITION;
    const LIST: bool = true;
    fn parse(value: &'a str) -> Result<Self, Error> {
        RequestDisposition::parse(value)
    }
}

// ---------------------------------------------------------------------------
// Session-Expires, Min-SE
// ---------------------------------------------------------------------------

/// The `refresher` of a session timer (RFC 4028 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refresher {
    /// `uac`: the user agent client refreshes.
    Uac,
    /// `uas`: the user agent server refreshes.
    Uas,
}

impl Refresher {
    /// `"uac"` or `"uas"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Refresher::Uac => "uac",
            Refresher::Uas => "uas",
        }
    }

    fn from_str_ci(v: &str) -> Option<Refresher> {
        if v.eq_ignore_ascii_case("uac") {
            Some(Refresher::Uac)
        } else if v.eq_ignore_ascii_case("uas") {
            Some(Refresher::Uas)
        } else {
            None
        }
    }
}

impl fmt::Display for Refresher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `Session-Expires` (RFC 4028 §4): `delta-seconds [;refresher=uac|uas]` and
/// generic parameters, e.g. `1800;refresher=uac`.
#[derive(Clone)]
pub struct SessionExpires<'a>(HeadParams<'a>);

impl<'a> SessionExpires<'a> {
    fn from_text(text: Text<'a>) -> Result<SessionExpires<'a>, Error> {
        let hp = HeadParams::parse(text, head_delta)?;
        check_param(
            &hp.params(),
            "refresher",
            |v| Refresher::from_str_ci(v).is_some(),
            "refresher is not uac or uas",
        )?;
        Ok(SessionExpires(hp))
    }

    /// `<seconds>[;refresher=<refresher>]`.
    pub fn new(seconds: u32, refresher: Option<Refresher>) -> SessionExpires<'static> {
        let n = seconds.to_string();
        let head = n.len();
        let mut s = n;
        if let Some(r) = refresher {
            s.push_str(";refresher=");
            s.push_str(r.as_str());
        }
        let end = s.len();
        SessionExpires(HeadParams {
            text: Cow::Owned(s),
            head: R::new(0, head),
            params: R::new(head, end),
        })
    }

    /// The session interval in seconds.
    pub fn seconds(&self) -> u32 {
        leading_u32(self.0.head())
    }

    /// The `refresher` parameter.
    pub fn refresher(&self) -> Option<Refresher> {
        self.params()
            .get("refresher")
            .flatten()
            .and_then(Refresher::from_str_ci)
    }
}

head_params_methods!(SessionExpires, "Session-Expires");
typed_header!(SessionExpires, HeaderName::SESSION_EXPIRES, list = false);

/// `Min-SE` (RFC 4028 §5): `delta-seconds *(SEMI generic-param)`, e.g. `90`.
#[derive(Clone)]
pub struct MinSe<'a>(HeadParams<'a>);

impl<'a> MinSe<'a> {
    fn from_text(text: Text<'a>) -> Result<MinSe<'a>, Error> {
        HeadParams::parse(text, head_delta).map(MinSe)
    }

    /// `<seconds>`.
    pub fn new(seconds: u32) -> MinSe<'static> {
        MinSe(bare(seconds.to_string()))
    }

    /// The minimum session interval in seconds.
    pub fn seconds(&self) -> u32 {
        leading_u32(self.0.head())
    }
}

head_params_methods!(MinSe, "Min-SE");
typed_header!(MinSe, HeaderName::MIN_SE, list = false);

// ---------------------------------------------------------------------------
// Retry-After
// ---------------------------------------------------------------------------

/// delta-seconds, then an optional comment.
fn head_retry(sc: &mut Scanner<'_>) -> Result<(), Error> {
    head_delta(sc)?;
    let save = sc.pos();
    sc.skip_lws();
    if sc.peek() == Some(b'(') {
        sc.comment()?;
    } else {
        sc.set_pos(save);
    }
    Ok(())
}

/// `Retry-After` (RFC 3261 §20.33): `delta-seconds [comment] *(;duration=..
/// | ;generic-param)`, e.g. `18000;duration=3600` or `120 (I'm in a meeting)`.
#[derive(Clone)]
pub struct RetryAfter<'a>(HeadParams<'a>);

impl<'a> RetryAfter<'a> {
    fn from_text(text: Text<'a>) -> Result<RetryAfter<'a>, Error> {
        let hp = HeadParams::parse(text, head_retry)?;
        check_param(&hp.params(), "duration", is_delta, "bad duration parameter")?;
        Ok(RetryAfter(hp))
    }

    /// `<seconds>`.
    pub fn new(seconds: u32) -> RetryAfter<'static> {
        RetryAfter(bare(seconds.to_string()))
    }

    /// The number of seconds after which to retry.
    pub fn seconds(&self) -> u32 {
        leading_u32(self.0.head())
    }

    /// The comment's text, without the outer parentheses, as written.
    pub fn comment(&self) -> Option<&str> {
        let h = self.0.head();
        let i = h.find('(')?;
        h.get(i + 1..h.len().saturating_sub(1))
    }

    /// The `duration` parameter: how long the callee will be available.
    pub fn duration(&self) -> Option<u32> {
        num_param(&self.params(), "duration", U32_MAX).map(|v| v as u32)
    }
}

head_params_methods!(RetryAfter, "Retry-After");
typed_header!(RetryAfter, HeaderName::RETRY_AFTER, list = false);

// ---------------------------------------------------------------------------
// Reason
// ---------------------------------------------------------------------------

/// One `Reason` element (RFC 3326 §2): a protocol (`SIP`, `Q.850` or another
/// token) with `cause` and `text` parameters, e.g.
/// `Q.850;cause=16;text="Normal call clearing"`.
///
/// `cause` is validated as a number up to 65535. `text` should be a quoted
/// string; an unquoted token is tolerated.
#[derive(Clone)]
pub struct Reason<'a>(HeadParams<'a>);

impl<'a> Reason<'a> {
    fn from_text(text: Text<'a>) -> Result<Reason<'a>, Error> {
        let hp = HeadParams::parse(text, head_token)?;
        let p = hp.params();
        check_param(&p, "cause", |v| is_num(v, 65535), "bad cause parameter")?;
        check_param(
            &p,
            "text",
            |v| scan::is_token_or_quoted(v.as_bytes()),
            "text is not a quoted string",
        )?;
        Ok(Reason(hp))
    }

    /// A reason: `<protocol>[;cause=<cause>][;text="<text>"]`, the text quoted
    /// and escaped.
    pub fn new(
        protocol: &str,
        cause: Option<u16>,
        text: Option<&str>,
    ) -> Result<Reason<'static>, Error> {
        if !is_token_str(protocol) {
            return Err(Error::Invalid("protocol is not a token"));
        }
        let mut s = protocol.to_owned();
        if let Some(c) = cause {
            s.push_str(";cause=");
            s.push_str(&c.to_string());
        }
        if let Some(t) = text {
            s.push_str(";text=");
            s.push_str(&quote_checked(t)?);
        }
        Reason::from_text(Cow::Owned(s)).map_err(|_| Error::Invalid("reason text not encodable"))
    }

    /// The protocol as written (`SIP`, `Q.850`...).
    pub fn protocol(&self) -> &str {
        self.0.head()
    }

    /// Whether the protocol is `protocol` (ASCII case-insensitive).
    pub fn is_protocol(&self, protocol: &str) -> bool {
        self.protocol().eq_ignore_ascii_case(protocol)
    }

    /// The `cause` parameter (a SIP status code or a Q.850 cause value).
    pub fn cause(&self) -> Option<u16> {
        num_param(&self.params(), "cause", 65535).map(|v| v as u16)
    }

    /// The `text` parameter, unquoted.
    pub fn text(&self) -> Option<Cow<'_, str>> {
        self.params().get_unquoted("text")
    }
}

head_params_methods!(Reason, "Reason");
typed_header!(Reason, HeaderName::REASON, list = true);

// ---------------------------------------------------------------------------
// Warning
// ---------------------------------------------------------------------------

/// One `Warning` element (RFC 3261 §20.43): `warn-code SP warn-agent SP
/// warn-text`, e.g. `301 isi.edu "Incompatible network address type 'E.164'"`.
///
/// The code is exactly three digits, the agent a `host[:port]` or a pseudonym
/// token, the text a quoted string. Any LWS is accepted where SP is written.
#[derive(Clone)]
pub struct Warning<'a> {
    text: Text<'a>,
    code: u16,
    agent: R,
    warn_text: R,
}

impl<'a> Warning<'a> {
    /// Parses one Warning value.
    pub fn parse(text: &'a str) -> Result<Warning<'a>, Error> {
        Self::from_text(Cow::Borrowed(text))
    }

    fn from_text(text: Text<'a>) -> Result<Warning<'a>, Error> {
        let mut sc = Scanner::new(text.as_bytes());
        sc.skip_lws();
        let digits = sc.take_class(scan::DIGIT);
        if digits.len() != 3 {
            return Err(Error::syntax("warn-code is not three digits"));
        }
        let code = scan::parse_decimal(digits, 999).ok_or(Error::syntax("bad warn-code"))? as u16;
        if !sc.skip_lws() {
            return Err(Error::syntax("missing space after warn-code"));
        }
        let as_ = sc.pos();
        if sc.peek() == Some(b'[') {
            let close = memchr::memchr(b']', sc.rest())
                .ok_or(Error::syntax("unterminated IPv6 reference"))?;
            sc.set_pos(as_ + close + 1);
            crate::uri::Host::parse(R::new(as_, sc.pos()).get(&text))?;
        } else {
            sc.token("missing warn-agent")?;
        }
        if sc.eat(b':') {
            let port = sc.take_class(scan::DIGIT);
            scan::parse_decimal(port, 65535).ok_or(Error::syntax("bad port in warn-agent"))?;
        }
        let agent = R::new(as_, sc.pos());
        if !sc.skip_lws() {
            return Err(Error::syntax("missing space after warn-agent"));
        }
        let ts = sc.pos();
        if sc.peek() != Some(b'"') {
            return Err(Error::syntax("warn-text is not a quoted string"));
        }
        sc.quoted_string()?;
        let warn_text = R::new(ts, sc.pos());
        sc.skip_lws();
        if !sc.at_end() {
            return Err(Error::syntax("unexpected text after warn-text"));
        }
        Ok(Warning {
            text,
            code,
            agent,
            warn_text,
        })
    }

    /// A warning: `<code> <agent> "<text>"`, the text quoted and escaped.
    /// `code` must be at most 999.
    pub fn new(code: u16, agent: &str, text: &str) -> Result<Warning<'static>, Error> {
        if code > 999 {
            return Err(Error::Invalid("warn-code above 999"));
        }
        let s = format!("{code:03} {agent} {}", quote_checked(text)?);
        Warning::from_text(Cow::Owned(s)).map_err(|_| Error::Invalid("bad warn-agent or warn-text"))
    }

    /// The value as written (outer white space removed).
    pub fn as_str(&self) -> &str {
        scan::trim_lws_str(&self.text)
    }

    /// The warning code (`399` is miscellaneous).
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The warning agent (`host[:port]` or pseudonym) as written.
    pub fn agent(&self) -> &str {
        self.agent.get(&self.text)
    }

    /// The warning text, unquoted.
    pub fn text(&self) -> Cow<'_, str> {
        unquote_value(self.warn_text.get(&self.text))
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> Warning<'static> {
        Warning {
            text: Cow::Owned(self.text.into_owned()),
            code: self.code,
            agent: self.agent,
            warn_text: self.warn_text,
        }
    }
}

impl fmt::Display for Warning<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Warning<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Warning({})", self.as_str())
    }
}

typed_header!(Warning, HeaderName::WARNING, list = true);

// ---------------------------------------------------------------------------
// RSeq, RAck
// ---------------------------------------------------------------------------

/// `RSeq` (RFC 3262 §7.1): the sequence number of a reliable provisional
/// response, 1 to 2³²−1.
///
/// `Display` writes the number in canonical form (leading zeros dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RSeq(pub u32);

/// response-num: 1*DIGIT in 1..=2³²−1.
fn response_num(d: &[u8]) -> Option<u32> {
    scan::parse_decimal(d, U32_MAX)
        .filter(|&v| v >= 1)
        .map(|v| v as u32)
}

impl fmt::Display for RSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'a> TypedHeader<'a> for RSeq {
    const NAME: HeaderName = HeaderName::RSEQ;
    fn parse(value: &'a str) -> Result<Self, Error> {
        response_num(scan::trim_lws_str(value).as_bytes())
            .map(RSeq)
            .ok_or(Error::syntax("not a number in 1..2^32-1"))
    }
}

/// `RAck` (RFC 3262 §7.2): `response-num LWS CSeq-num LWS Method`, acknowledging
/// a reliable provisional response.
///
/// `Display` writes the canonical form (single spaces, no leading zeros).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RAck {
    /// The RSeq of the acknowledged response (1..=2³²−1).
    pub rseq: u32,
    /// The CSeq number of the acknowledged response (below 2³¹).
    pub cseq: u32,
    /// The CSeq method of the acknowledged response.
    pub method: Method,
}

impl RAck {
    /// An RAck; fails when `rseq` is 0 or `cseq` exceeds [`CSeq::MAX`].
    pub fn new(rseq: u32, cseq: u32, method: Method) -> Result<RAck, Error> {
        if rseq == 0 {
            return Err(Error::Invalid("RAck response number is 0"));
        }
        if cseq > CSeq::MAX {
            return Err(Error::Invalid("RAck CSeq number above 2^31-1"));
        }
        Ok(RAck { rseq, cseq, method })
    }

    /// Whether this acknowledges the response with `rseq` and `cseq`.
    pub fn acknowledges(&self, rseq: u32, cseq: &CSeq) -> bool {
        self.rseq == rseq && self.cseq == cseq.seq && self.method == cseq.method
    }
}

impl fmt::Display for RAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.rseq, self.cseq, self.method)
    }
}

impl<'a> TypedHeader<'a> for RAck {
    const NAME: HeaderName = HeaderName::RACK;
    fn parse(value: &'a str) -> Result<Self, Error> {
        let mut sc = Scanner::new(value.as_bytes());
        sc.skip_lws();
        let rseq = response_num(sc.take_class(scan::DIGIT))
            .ok_or(Error::syntax("response number missing or out of range"))?;
        if !sc.skip_lws() {
            return Err(Error::syntax("missing white space after response number"));
        }
        let cseq = scan::parse_decimal(sc.take_class(scan::DIGIT), u64::from(CSeq::MAX))
            .ok_or(Error::syntax("CSeq number missing or above 2^31-1"))? as u32;
        if !sc.skip_lws() {
            return Err(Error::syntax("missing white space after CSeq number"));
        }
        let m = sc.token("missing method")?;
        sc.skip_lws();
        if !sc.at_end() {
            return Err(Error::syntax("unexpected text after method"));
        }
        let method = Method::from_bytes(m).map_err(|_| Error::syntax("method is not a token"))?;
        Ok(RAck { rseq, cseq, method })
    }
}

// ---------------------------------------------------------------------------
// Timestamp
// ---------------------------------------------------------------------------

/// `1*DIGIT ["." *DIGIT]` (`min_int` = 1) or `*DIGIT ["." *DIGIT]` (0); true
/// if anything was consumed.
fn scan_decimal(sc: &mut Scanner<'_>, min_int: usize) -> Result<bool, Error> {
    let start = sc.pos();
    if sc.take_class(scan::DIGIT).len() < min_int {
        return Err(Error::syntax("timestamp is not a number"));
    }
    if sc.eat(b'.') {
        sc.take_class(scan::DIGIT);
    }
    Ok(sc.pos() > start)
}

/// A decimal `digits[.digits]` as seconds; missing parts count as 0.
fn decimal_secs(s: &str) -> f64 {
    let (i, f) = s.split_once('.').unwrap_or((s, ""));
    let int = if i.is_empty() {
        Ok(0.0)
    } else {
        i.parse::<f64>()
    };
    let frac = if f.is_empty() {
        Ok(0.0)
    } else {
        format!("0.{f}").parse::<f64>()
    };
    match (int, frac) {
        (Ok(a), Ok(b)) => a + b,
        _ => 0.0,
    }
}

/// `Timestamp` (RFC 3261 §20.38): `1*DIGIT ["." *DIGIT] [LWS delay]`, e.g.
/// `54` or `54.21 0.3`. Values are kept as written.
#[derive(Clone)]
pub struct Timestamp<'a> {
    text: Text<'a>,
    time: R,
    delay: Option<R>,
}

impl<'a> Timestamp<'a> {
    /// Parses a Timestamp value.
    pub fn parse(text: &'a str) -> Result<Timestamp<'a>, Error> {
        Self::from_text(Cow::Borrowed(text))
    }

    fn from_text(text: Text<'a>) -> Result<Timestamp<'a>, Error> {
        let mut sc = Scanner::new(text.as_bytes());
        sc.skip_lws();
        let ts = sc.pos();
        scan_decimal(&mut sc, 1)?;
        let time = R::new(ts, sc.pos());
        let mut delay = None;
        if sc.skip_lws() {
            let ds = sc.pos();
            if scan_decimal(&mut sc, 0)? {
                delay = Some(R::new(ds, sc.pos()));
            }
            sc.skip_lws();
        }
        if !sc.at_end() {
            return Err(Error::syntax("unexpected text in Timestamp"));
        }
        Ok(Timestamp { text, time, delay })
    }

    /// A Timestamp from its parts as decimal text (`54.21`, `0.3`).
    pub fn new(time: &str, delay: Option<&str>) -> Result<Timestamp<'static>, Error> {
        let mut s = time.to_owned();
        if let Some(d) = delay {
            s.push(' ');
            s.push_str(d);
        }
        let t = Timestamp::from_text(Cow::Owned(s)).map_err(|_| Error::Invalid("bad timestamp"))?;
        if t.delay.is_none() != delay.is_none() {
            return Err(Error::Invalid("bad timestamp delay"));
        }
        Ok(t)
    }

    /// The value as written (outer white space removed).
    pub fn as_str(&self) -> &str {
        scan::trim_lws_str(&self.text)
    }

    /// The time as written.
    pub fn time(&self) -> &str {
        self.time.get(&self.text)
    }

    /// The time as a number.
    pub fn time_secs(&self) -> f64 {
        decimal_secs(self.time())
    }

    /// The delay as written, if present.
    pub fn delay(&self) -> Option<&str> {
        self.delay.map(|r| r.get(&self.text))
    }

    /// The delay as a number of seconds, if present.
    pub fn delay_secs(&self) -> Option<f64> {
        self.delay().map(decimal_secs)
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> Timestamp<'static> {
        Timestamp {
            text: Cow::Owned(self.text.into_owned()),
            time: self.time,
            delay: self.delay,
        }
    }
}

impl fmt::Display for Timestamp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Timestamp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.as_str())
    }
}

typed_header!(Timestamp, HeaderName::TIMESTAMP, list = false);

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<'a, H: TypedHeader<'a>>(s: &'a str) -> H {
        let h = <H as TypedHeader<'a>>::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(h.to_string(), scan::trim_lws_str(s), "round trip of {s}");
        h
    }

    fn rejects<'a, H: TypedHeader<'a>>(s: &'a str) {
        assert!(
            <H as TypedHeader<'a>>::parse(s).is_err(),
            "should reject {s:?}"
        );
    }

    #[test]
    fn event() {
        let e: Event<'_> = round_trip("reg");
        assert_eq!(e.package(), "reg");
        assert_eq!(e.event_type(), "reg");
        assert_eq!(e.id(), None);
        assert_eq!(e.templates().count(), 0);
        let e: Event<'_> = round_trip("presence.winfo;id=1");
        assert_eq!(e.package(), "presence");
        assert_eq!(e.templates().collect::<Vec<_>>(), ["winfo"]);
        assert_eq!(e.id(), Some("1"));
        let e: Event<'_> = round_trip("refer;id=93809824");
        assert_eq!(e.id(), Some("93809824"));
        let e: Event<'_> = round_trip("conference ; x-vendor=\"a b\"");
        assert_eq!(e.package(), "conference");
        let e2 = Event::parse("conference").unwrap();
        assert!(e.matches(&e2));
        assert!(
            !Event::parse("refer;id=1")
                .unwrap()
                .matches(&Event::parse("refer;id=2").unwrap())
        );
        assert!(
            !Event::parse("refer;id=1")
                .unwrap()
                .matches(&Event::parse("refer").unwrap())
        );
        for bad in [
            "",
            ".reg",
            "reg.",
            "presence..winfo",
            "reg;",
            "reg;id=",
            "reg;id=\"1\"",
            "reg;id",
            "reg foo",
            "reg,dialog",
            "<reg>",
        ] {
            rejects::<Event<'_>>(bad);
        }
        let e = Event::new("dialog")
            .unwrap()
            .with_param("id", Some("7"))
            .unwrap();
        assert_eq!(e.as_str(), "dialog;id=7");
        assert!(e.with_param("id", Some("\"x\"")).is_err());
        assert!(Event::new("a..b").is_err());
        assert_eq!(e.without_param("id").as_str(), "dialog");
        assert_eq!(
            format!("{:?}", e.clone().into_owned()),
            "Event(dialog;id=7)"
        );
    }

    #[test]
    fn allow_events() {
        let a: AllowEvents<'_> = round_trip("presence.winfo");
        assert_eq!(a.package(), "presence");
        let _: AllowEvents<'_> = round_trip("reg");
        for bad in ["", "a;b", "a b", ".x", "x."] {
            rejects::<AllowEvents<'_>>(bad);
        }
        assert_eq!(
            AllowEvents::new("dialog").unwrap().into_owned().as_str(),
            "dialog"
        );
        assert!(AllowEvents::new("dia log").is_err());
    }

    #[test]
    fn subscription_state() {
        let s: SubscriptionState<'_> = round_trip("active;expires=600000");
        assert_eq!(s.state(), SubState::Active);
        assert_eq!(s.expires(), Some(600000));
        let s: SubscriptionState<'_> =
            round_trip("terminated;reason=timeout;retry-after=4294967295");
        assert_eq!(s.state(), SubState::Terminated);
        assert_eq!(s.reason(), Some("timeout"));
        assert_eq!(s.retry_after(), Some(u32::MAX));
        let s: SubscriptionState<'_> = round_trip("Pending ;\r\n expires = 30");
        assert_eq!(s.state(), SubState::Pending);
        assert_eq!(s.expires(), Some(30));
        let s: SubscriptionState<'_> = round_trip("waiting;x=y");
        assert_eq!(s.state(), SubState::Extension("waiting"));
        for bad in [
            "",
            ";expires=1",
            "active;expires=4294967296",
            "active;expires=-1",
            "active;expires",
            "active;expires=1.5",
            "terminated;reason=\"timeout\"",
            "terminated;retry-after=x",
            "active expires=1",
            "active;",
        ] {
            rejects::<SubscriptionState<'_>>(bad);
        }
        let s = SubscriptionState::active(3600);
        assert_eq!(s.as_str(), "active;expires=3600");
        assert_eq!(s.expires(), Some(3600));
        assert_eq!(s.params().len(), 1);
        let s = SubscriptionState::new("terminated")
            .unwrap()
            .with_param("reason", Some("noresource"))
            .unwrap();
        assert_eq!(s.to_string(), "terminated;reason=noresource");
        assert!(s.with_param("expires", Some("x")).is_err());
        assert!(SubscriptionState::new("a b").is_err());
    }

    #[test]
    fn accept_reject_contact() {
        let a: AcceptContact<'_> = round_trip(
            "*;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\";require;explicit",
        );
        assert!(a.is_require() && a.is_explicit());
        assert_eq!(
            a.feature("+g.3gpp.icsi-ref").unwrap(),
            "urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel"
        );
        let a: AcceptContact<'_> = round_trip("*;audio;video;methods=\"INVITE,BYE\"");
        assert!(!a.is_require() && !a.is_explicit());
        assert_eq!(a.feature("audio").unwrap(), "");
        assert_eq!(a.feature("methods").unwrap(), "INVITE,BYE");
        let _: AcceptContact<'_> = round_trip("*");
        let r: RejectContact<'_> = round_trip("*;actor=\"msg-taker\";video");
        assert_eq!(r.feature("actor").unwrap(), "msg-taker");
        assert_eq!(r.params().len(), 2);
        for bad in [
            "",
            "**",
            "* ;",
            "*;=x",
            "sip:a@b;audio",
            "*;audio=\"open",
            "* audio",
        ] {
            rejects::<AcceptContact<'_>>(bad);
            rejects::<RejectContact<'_>>(bad);
        }
        let a = AcceptContact::new()
            .with_param(
                "+g.3gpp.icsi-ref",
                Some("\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\""),
            )
            .unwrap()
            .with_param("require", None)
            .unwrap();
        assert_eq!(
            a.as_str(),
            "*;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\";require"
        );
        assert_eq!(RejectContact::default().as_str(), "*");
    }

    #[test]
    fn request_disposition() {
        let d: RequestDisposition<'_> = round_trip("no-fork");
        assert!(d.is("NO-FORK"));
        for bad in ["", "a b", "a;b", "\"x\""] {
            rejects::<RequestDisposition<'_>>(bad);
        }
        assert_eq!(
            RequestDisposition::new("proxy")
                .unwrap()
                .into_owned()
                .as_str(),
            "proxy"
        );
        assert!(RequestDisposition::new("").is_err());
    }

    #[test]
    fn session_timers() {
        let s: SessionExpires<'_> = round_trip("1800;refresher=uac");
        assert_eq!(s.seconds(), 1800);
        assert_eq!(s.refresher(), Some(Refresher::Uac));
        let s: SessionExpires<'_> = round_trip("90 ; refresher = UAS ; x");
        assert_eq!(s.refresher(), Some(Refresher::Uas));
        let s: SessionExpires<'_> = round_trip("4294967295");
        assert_eq!(s.seconds(), u32::MAX);
        assert_eq!(s.refresher(), None);
        for bad in [
            "",
            "abc",
            "-1",
            "4294967296",
            "1800;refresher=proxy",
            "1800;refresher",
            "1800;",
            "1800 refresher=uac",
            "1800.5",
        ] {
            rejects::<SessionExpires<'_>>(bad);
        }
        let s = SessionExpires::new(1800, Some(Refresher::Uas));
        assert_eq!(s.to_string(), "1800;refresher=uas");
        assert_eq!(s.refresher(), Some(Refresher::Uas));
        assert_eq!(SessionExpires::new(90, None).as_str(), "90");
        assert!(s.with_param("refresher", Some("both")).is_err());
        let s = s.with_param("refresher", Some("uac")).unwrap();
        assert_eq!(s.as_str(), "1800;refresher=uac");

        let m: MinSe<'_> = round_trip("90");
        assert_eq!(m.seconds(), 90);
        let m: MinSe<'_> = round_trip("120;x=y");
        assert_eq!(m.param("x"), Some(Some("y")));
        for bad in ["", "x", "90;", "4294967296", "90 x"] {
            rejects::<MinSe<'_>>(bad);
        }
        assert_eq!(MinSe::new(90).into_owned().to_string(), "90");
    }

    #[test]
    fn retry_after() {
        let r: RetryAfter<'_> = round_trip("18000;duration=3600");
        assert_eq!(r.seconds(), 18000);
        assert_eq!(r.duration(), Some(3600));
        assert_eq!(r.comment(), None);
        let r: RetryAfter<'_> = round_trip("120 (I'm in a meeting)");
        assert_eq!(r.seconds(), 120);
        assert_eq!(r.comment(), Some("I'm in a meeting"));
        let r: RetryAfter<'_> = round_trip("5(nested (comment))  ;duration=10;x");
        assert_eq!(r.comment(), Some("nested (comment)"));
        assert_eq!(r.duration(), Some(10));
        assert_eq!(r.params().len(), 2);
        for bad in [
            "",
            "soon",
            "4294967296",
            "120 (open",
            "120 I'm busy",
            "120;duration=x",
            "120;duration",
            "120;",
            "(c) 120",
        ] {
            rejects::<RetryAfter<'_>>(bad);
        }
        let r = RetryAfter::new(30)
            .with_param("duration", Some("60"))
            .unwrap();
        assert_eq!(r.as_str(), "30;duration=60");
        let r = RetryAfter::parse("120 (busy);duration=5").unwrap();
        assert_eq!(r.without_param("duration").as_str(), "120 (busy)");
    }

    #[test]
    fn reason() {
        let r: Reason<'_> = round_trip("Q.850;cause=16;text=\"Normal call clearing\"");
        assert_eq!(r.protocol(), "Q.850");
        assert_eq!(r.cause(), Some(16));
        assert_eq!(r.text().unwrap(), "Normal call clearing");
        let r: Reason<'_> = round_trip("SIP ;cause=200 ;text=\"Call completed elsewhere\"");
        assert!(r.is_protocol("sip"));
        assert_eq!(r.cause(), Some(200));
        let r: Reason<'_> = round_trip("SIP;cause=580;text=\"Precondition \\\"Failure\\\"\"");
        assert_eq!(r.text().unwrap(), "Precondition \"Failure\"");
        let r: Reason<'_> = round_trip("Q.850;cause=41;text=Temporary");
        assert_eq!(r.text().unwrap(), "Temporary");
        let r: Reason<'_> = round_trip("preemption;cause=1;text=\"UA Preemption\"");
        assert_eq!(r.protocol(), "preemption");
        for bad in [
            "",
            ";cause=16",
            "Q.850;cause=abc",
            "Q.850;cause=65536",
            "Q.850;cause",
            "Q.850;text=\"open",
            "Q.850;text=[::1]",
            "Q.850 cause=16",
            "Q.850;",
        ] {
            rejects::<Reason<'_>>(bad);
        }
        let r = Reason::new("SIP", Some(487), Some("Request \"Terminated\"")).unwrap();
        assert_eq!(
            r.as_str(),
            "SIP;cause=487;text=\"Request \\\"Terminated\\\"\""
        );
        assert_eq!(r.text().unwrap(), "Request \"Terminated\"");
        assert_eq!(Reason::new("Q.850", None, None).unwrap().as_str(), "Q.850");
        assert!(Reason::new("a b", None, None).is_err());
        assert!(Reason::new("SIP", None, Some("line\r\nbreak")).is_err());
    }

    #[test]
    fn warning() {
        let w: Warning<'_> =
            round_trip("301 isi.edu \"Incompatible network address type 'E.164'\"");
        assert_eq!(w.code(), 301);
        assert_eq!(w.agent(), "isi.edu");
        assert_eq!(w.text(), "Incompatible network address type 'E.164'");
        let w: Warning<'_> = round_trip("399 [2001:db8::10]:5060 \"Miscellaneous, with comma\"");
        assert_eq!(w.agent(), "[2001:db8::10]:5060");
        assert_eq!(w.text(), "Miscellaneous, with comma");
        let w: Warning<'_> = round_trip("370 192.0.2.1:5060\r\n \"Insufficient bandwidth\"");
        assert_eq!(w.agent(), "192.0.2.1:5060");
        let w: Warning<'_> = round_trip("399 scscf-pseudonym \"a \\\"b\\\"\"");
        assert_eq!(w.text(), "a \"b\"");
        for bad in [
            "",
            "30 isi.edu \"x\"",
            "3010 isi.edu \"x\"",
            "abc isi.edu \"x\"",
            "301isi.edu \"x\"",
            "301 isi.edu\"x\"",
            "301 isi.edu x",
            "301 isi.edu \"open",
            "301 \"x\"",
            "301 isi.edu:99999 \"x\"",
            "301 isi.edu: \"x\"",
            "301 [::1 \"x\"",
            "301 [zz::1] \"x\"",
            "301 isi.edu \"x\" trailing",
        ] {
            rejects::<Warning<'_>>(bad);
        }
        let w = Warning::new(399, "pcscf.ims.example.net", "Media \"denied\"").unwrap();
        assert_eq!(
            w.as_str(),
            "399 pcscf.ims.example.net \"Media \\\"denied\\\"\""
        );
        assert_eq!(Warning::new(99, "a", "b").unwrap().as_str(), "099 a \"b\"");
        assert!(Warning::new(1000, "a", "b").is_err());
        assert!(Warning::new(399, "a b", "c").is_err());
        assert_eq!(
            format!("{:?}", w.into_owned()),
            "Warning(399 pcscf.ims.example.net \"Media \\\"denied\\\"\")"
        );
    }

    #[test]
    fn rseq_rack() {
        let r: RSeq = round_trip("988789");
        assert_eq!(r, RSeq(988789));
        let r: RSeq = round_trip("4294967295");
        assert_eq!(r.0, u32::MAX);
        for bad in ["", "0", "4294967296", "-1", "1 2", "x", "+1"] {
            rejects::<RSeq>(bad);
        }
        let a: RAck = round_trip("776656 1 INVITE");
        assert_eq!(a, RAck::new(776656, 1, Method::INVITE).unwrap());
        assert!(a.acknowledges(776656, &CSeq::new(1, Method::INVITE).unwrap()));
        assert!(!a.acknowledges(776656, &CSeq::new(2, Method::INVITE).unwrap()));
        let a = <RAck as TypedHeader<'_>>::parse("1\r\n 2147483647\tNEWMETHOD").unwrap();
        assert_eq!(a.cseq, CSeq::MAX);
        assert_eq!(a.method.as_str(), "NEWMETHOD");
        assert_eq!(a.to_string(), "1 2147483647 NEWMETHOD");
        for bad in [
            "",
            "0 1 INVITE",
            "1 2147483648 INVITE",
            "4294967296 1 INVITE",
            "1 1",
            "1INVITE",
            "1 1INVITE",
            "1 1 INVITE x",
            "1 1 IN;VITE",
            "a 1 INVITE",
        ] {
            rejects::<RAck>(bad);
        }
        assert!(RAck::new(0, 1, Method::INVITE).is_err());
        assert!(RAck::new(1, CSeq::MAX + 1, Method::INVITE).is_err());
    }

    #[test]
    fn timestamp() {
        let t: Timestamp<'_> = round_trip("54");
        assert_eq!(t.time(), "54");
        assert_eq!(t.delay(), None);
        assert_eq!(t.time_secs(), 54.0);
        let t: Timestamp<'_> = round_trip("54.21 0.3");
        assert_eq!(t.time(), "54.21");
        assert_eq!(t.delay(), Some("0.3"));
        assert!((t.time_secs() - 54.21).abs() < 1e-9);
        assert!((t.delay_secs().unwrap() - 0.3).abs() < 1e-9);
        let t: Timestamp<'_> = round_trip("1. .5");
        assert_eq!(t.time_secs(), 1.0);
        assert_eq!(t.delay_secs(), Some(0.5));
        for bad in ["", ".5", "x", "54 x", "54.2.1", "54 0.3 1", "-1"] {
            rejects::<Timestamp<'_>>(bad);
        }
        let t = Timestamp::new("54.21", Some("1.5")).unwrap();
        assert_eq!(t.into_owned().as_str(), "54.21 1.5");
        assert!(Timestamp::new("54", Some("")).is_err());
        assert!(Timestamp::new("x", None).is_err());
    }

    #[test]
    fn in_messages() {
        let raw = b"NOTIFY sip:ue@[2001:db8::5]:5062 SIP/2.0\r\n\
            Via: SIP/2.0/TCP 192.0.2.9;branch=z9hG4bKnotify1\r\n\
            Max-Forwards: 70\r\n\
            From: <sip:user@ims.example.net>;tag=151170\r\n\
            To: <sip:user@ims.example.net>;tag=31415\r\n\
            Call-ID: dre36d2v32gnlgiiomm72445\r\n\
            CSeq: 42 NOTIFY\r\n\
            Event: reg\r\n\
            Subscription-State: active;expires=600000\r\n\
            Allow-Events: presence, reg,\r\n dialog\r\n\
            Accept-Contact: *;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel,x\";require;explicit, *;video\r\n\
            Reason: Q.850;cause=16;text=\"Normal, clearing\", SIP;cause=200\r\n\
            Warning: 399 a.example \"one, two\", 399 b.example \"three\"\r\n\
            Content-Length: 0\r\n\r\n";
        let m = crate::Message::parse_slice(raw).unwrap();
        let r = m.as_request().unwrap();
        assert_eq!(r.typed::<Event<'_>>().unwrap().unwrap().package(), "reg");
        let s = r.typed::<SubscriptionState<'_>>().unwrap().unwrap();
        assert_eq!((s.state(), s.expires()), (SubState::Active, Some(600000)));
        let ev: Vec<AllowEvents<'_>> = r.typed_all().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            ev.iter().map(|e| e.as_str()).collect::<Vec<_>>(),
            ["presence", "reg", "dialog"]
        );
        let ac: Vec<AcceptContact<'_>> = r.typed_all().collect::<Result<_, _>>().unwrap();
        assert_eq!(ac.len(), 2);
        assert!(ac[0].is_require());
        let rs: Vec<Reason<'_>> = r.typed_all().collect::<Result<_, _>>().unwrap();
        assert_eq!(rs.len(), 2);
        assert_eq!(rs[0].text().unwrap(), "Normal, clearing");
        assert_eq!(rs[1].cause(), Some(200));
        let ws: Vec<Warning<'_>> = r.typed_all().collect::<Result<_, _>>().unwrap();
        assert_eq!(ws.len(), 2);
        assert_eq!(ws[0].text(), "one, two");
    }
    /// Random strings over a grammar-heavy alphabet: parsers and accessors
    /// must never panic, and accepted values must round-trip.
    #[test]
    fn no_panics_on_noise() {
        use crate::header::*;
        const ALPHA: &[u8] = b"aZ09 \t\r\n;=,.:*\"\\()[]<>+-/%@!~_'`?{}";
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        fn check<'a, H: TypedHeader<'a>>(s: &'a str, use_it: impl Fn(&H)) {
            if let Ok(h) = <H as TypedHeader<'a>>::parse(s) {
                use_it(&h);
                // Leaked so the re-parse can borrow for `'a` (test only).
                let again: &'a str = Box::leak(h.to_string().into_boxed_str());
                assert!(<H as TypedHeader<'a>>::parse(again).is_ok(), "{s:?}");
            }
        }
        for _ in 0..20_000 {
            let len = (next() % 24) as usize;
            let mut s = String::new();
            let prefix = [
                "",
                "1 ",
                "ipsec-3gpp;",
                "icid-value=",
                "*;",
                "399 a ",
                "urn:urn-7:",
                "Q.850;cause=",
            ];
            s.push_str(prefix[(next() % prefix.len() as u64) as usize]);
            for _ in 0..len {
                s.push(ALPHA[(next() % ALPHA.len() as u64) as usize] as char);
            }
            let s = s.as_str();
            check::<PChargingVector<'_>>(s, |h| {
                let _ = (
                    h.icid_value(),
                    h.icid_generated_at(),
                    h.orig_ioi(),
                    h.term_ioi(),
                );
                let _ = h.with_param("x", Some("y"));
                let _ = h.without_param("orig-ioi");
            });
            check::<PChargingFunctionAddresses<'_>>(s, |h| {
                let _ = (h.ccf().count(), h.ecf().count(), h.params().count());
            });
            check::<PAccessNetworkInfo<'_>>(s, |h| {
                let _ = (h.access_type(), h.cell_id(), h.is_network_provided());
                let _ = h.with_param("a", None);
            });
            check::<PVisitedNetworkId<'_>>(s, |h| {
                let _ = h.network_id();
            });
            check::<Privacy<'_>>(s, |h| {
                let _ = (h.values().count(), h.contains("id"));
            });
            check::<SecurityClient<'_>>(s, |h| {
                let _ = (
                    h.mechanism(),
                    h.q(),
                    h.spi_c(),
                    h.spi_s(),
                    h.port_c(),
                    h.port_s(),
                );
                let _ = (h.alg(), h.ealg(), h.d_ver(), h.without_param("q"));
            });
            check::<PAssertedService<'_>>(s, |h| {
                let _ = h.service_id();
            });
            check::<Event<'_>>(s, |h| {
                let _ = (h.package(), h.templates().count(), h.id());
            });
            check::<AllowEvents<'_>>(s, |h| {
                let _ = h.package();
            });
            check::<SubscriptionState<'_>>(s, |h| {
                let _ = (h.state(), h.expires(), h.reason(), h.retry_after());
            });
            check::<AcceptContact<'_>>(s, |h| {
                let _ = (h.is_require(), h.is_explicit());
            });
            check::<RejectContact<'_>>(s, |h| {
                let _ = h.feature("video");
            });
            check::<RequestDisposition<'_>>(s, |h| {
                let _ = h.as_str();
            });
            check::<SessionExpires<'_>>(s, |h| {
                let _ = (h.seconds(), h.refresher());
            });
            check::<MinSe<'_>>(s, |h| {
                let _ = h.seconds();
            });
            check::<RetryAfter<'_>>(s, |h| {
                let _ = (h.seconds(), h.comment(), h.duration());
            });
            check::<Reason<'_>>(s, |h| {
                let _ = (h.protocol(), h.cause(), h.text());
            });
            check::<Warning<'_>>(s, |h| {
                let _ = (h.code(), h.agent(), h.text());
            });
            check::<RSeq>(s, |_| {});
            check::<RAck>(s, |_| {});
            check::<Timestamp<'_>>(s, |h| {
                let _ = (h.time_secs(), h.delay_secs());
            });
        }
    }
}
