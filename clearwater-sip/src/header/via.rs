//! `Via` (RFC 3261 §20.42, RFC 3581 rport, RFC 5118 §4.5 received).

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use super::{R, Text, TypedHeader};
use crate::error::Error;
use crate::name::HeaderName;
use crate::params::{self, GenValue, Params};
use crate::scan::{self, Scanner};
use crate::uri::Host;
use crate::uri::host::{self, HostTag};

/// The RFC 3261 branch magic cookie.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// One `Via` value: `SIP/2.0/UDP host:port;branch=...;received=...;rport=...`.
///
/// Parameters with a defined syntax are validated at parse time: `branch` is a
/// token, `received` an IPv4 or IPv6 address (brackets tolerated, RFC 5118
/// §4.5), `rport` empty or a port, `ttl` 0–255, `maddr` a host.
#[derive(Clone)]
pub struct Via<'a> {
    text: Text<'a>,
    protocol: R,
    version: R,
    transport: R,
    host: R,
    host_tag: HostTag,
    port: Option<u16>,
    params: R,
    branch: Option<R>,
}

impl<'a> Via<'a> {
    /// Parses one Via value.
    pub fn parse(text: &'a str) -> Result<Via<'a>, Error> {
        Self::parse_cow(Cow::Borrowed(text))
    }

    fn parse_cow(text: Text<'a>) -> Result<Via<'a>, Error> {
        let b = text.as_bytes();
        let mut sc = Scanner::new(b);
        sc.skip_lws();
        let ps = sc.pos();
        let (protocol, version);
        if b.get(ps..ps + 8) == Some(b"SIP/2.0/") {
            // What nearly every Via says, read without the token scans.
            (protocol, version) = (R::new(ps, ps + 3), R::new(ps + 4, ps + 7));
            sc.set_pos(ps + 8);
            sc.skip_lws();
        } else {
            sc.token("missing protocol name")?;
            protocol = R::new(ps, sc.pos());
            if !sc.eat_sep(b'/') {
                return Err(Error::syntax("missing '/' in sent-protocol"));
            }
            let vs = sc.pos();
            sc.token("missing protocol version")?;
            version = R::new(vs, sc.pos());
            if !sc.eat_sep(b'/') {
                return Err(Error::syntax("missing '/' in sent-protocol"));
            }
        }
        let ts = sc.pos();
        sc.token("missing transport")?;
        let transport = R::new(ts, sc.pos());
        if !sc.skip_lws() {
            return Err(Error::syntax("missing white space before sent-by"));
        }
        let hs = sc.pos();
        let (he, host_tag) = host::scan_host(b, hs)?;
        sc.set_pos(he);
        let host = R::new(hs, he);
        let mut port = None;
        if sc.eat_sep(b':') {
            let digits = sc.take_class(scan::DIGIT);
            port = Some(
                scan::parse_decimal(digits, 65535).ok_or(Error::syntax("bad port in sent-by"))?
                    as u16,
            );
        }
        let pstart = sc.pos();
        let mut branch = None;
        params::scan_header_params_visit(&mut sc, |name, value| {
            let v = value.map(|p| &b[p.start..p.end]);
            if name.eq_ignore_ascii_case(b"branch") {
                match value {
                    Some(_) if branch.is_some() => {
                        // Transactions match on the one branch (§17.2.3).
                        return Err(Error::syntax("more than one branch"));
                    }
                    Some(p) if p.kind == GenValue::Token => branch = Some(R::new(p.start, p.end)),
                    _ => return Err(Error::syntax("bad branch parameter")),
                }
            } else if name.eq_ignore_ascii_case(b"received") {
                // An IPv6 address `scan_gen_value` has already validated, or
                // an IPv4 address.
                let ok = value.is_some_and(|p| match p.kind {
                    GenValue::Ipv6 => true,
                    GenValue::Token => host::parse_ipv4(&b[p.start..p.end]).is_some(),
                    GenValue::Quoted => false,
                });
                if !ok {
                    return Err(Error::syntax("bad received parameter"));
                }
            } else if name.eq_ignore_ascii_case(b"rport") {
                if let Some(v) = v
                    && scan::parse_decimal(v, 65535).is_none()
                {
                    return Err(Error::syntax("bad rport parameter"));
                }
            } else if name.eq_ignore_ascii_case(b"ttl") {
                if v.and_then(|v| scan::parse_decimal(v, 255)).is_none() {
                    return Err(Error::syntax("bad ttl parameter"));
                }
            } else if name.eq_ignore_ascii_case(b"maddr")
                && v.and_then(|v| host::classify(v).ok()).is_none()
            {
                return Err(Error::syntax("bad maddr parameter"));
            }
            Ok(())
        })?;
        let params = R::new(pstart, sc.pos());
        sc.skip_lws();
        if !sc.at_end() {
            return Err(Error::syntax("unexpected text in Via"));
        }
        Ok(Via {
            text,
            protocol,
            version,
            transport,
            host,
            host_tag,
            port,
            params,
            branch,
        })
    }

    /// A `SIP/2.0/<transport> <host>[:port];branch=<branch>` value.
    ///
    /// `host` is a domain, an IPv4 address or an `[IPv6]` reference.
    pub fn new(
        transport: &str,
        host: &str,
        port: Option<u16>,
        branch: &str,
    ) -> Result<Via<'static>, Error> {
        let mut s = String::with_capacity(24 + host.len() + branch.len());
        s.push_str("SIP/2.0/");
        let ts = s.len();
        s.push_str(transport);
        let te = s.len();
        s.push(' ');
        let hs = s.len();
        s.push_str(host);
        let he = s.len();
        if let Some(p) = port {
            s.push(':');
            scan::push_decimal(&mut s, u64::from(p));
        }
        let ps = s.len();
        s.push_str(";branch=");
        let bs = s.len();
        s.push_str(branch);
        let end = s.len();
        // The usual parts (a token transport and branch, a bare host) give
        // their spans directly; anything else is left to the parser, which
        // decides what the text means.
        let bare_host = host::scan_host(host.as_bytes(), 0)
            .ok()
            .filter(|&(e, _)| e == host.len());
        if let Some((_, host_tag)) = bare_host
            && scan::is_token(transport.as_bytes())
            && scan::is_token(branch.as_bytes())
        {
            return Ok(Via {
                text: Cow::Owned(s),
                protocol: R::new(0, 3),
                version: R::new(4, 7),
                transport: R::new(ts, te),
                host: R::new(hs, he),
                host_tag,
                port,
                params: R::new(ps, end),
                branch: Some(R::new(bs, end)),
            });
        }
        Via::parse_cow(Cow::Owned(s)).map_err(|_| Error::Invalid("bad transport, host or branch"))
    }

    /// The value as written.
    #[inline]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The protocol name (`SIP`).
    pub fn protocol(&self) -> &str {
        self.protocol.get(&self.text)
    }

    /// The protocol version (`2.0`).
    pub fn version(&self) -> &str {
        self.version.get(&self.text)
    }

    /// The transport as written (`UDP`, `TCP`, `TLS`, `WS`, `WSS`, `SCTP` or any
    /// other token).
    #[inline]
    pub fn transport(&self) -> &str {
        self.transport.get(&self.text)
    }

    /// The sent-by host.
    #[inline]
    pub fn host(&self) -> Host<'_> {
        Host::new(self.host.get(&self.text), self.host_tag)
    }

    /// The sent-by port, if explicit.
    #[inline]
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The parameters.
    #[inline]
    pub fn params(&self) -> Params<'_> {
        Params::new(self.params.get(&self.text))
    }

    /// The `branch` parameter.
    #[inline]
    pub fn branch(&self) -> Option<&str> {
        self.branch.map(|r| r.get(&self.text))
    }

    /// Whether the branch starts with the RFC 3261 magic cookie `z9hG4bK`.
    pub fn has_magic_cookie(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }

    /// The `received` parameter as written.
    pub fn received(&self) -> Option<&str> {
        self.params().get("received").flatten()
    }

    /// The `received` parameter as an address.
    pub fn received_ip(&self) -> Option<IpAddr> {
        self.received().and_then(parse_ip)
    }

    /// The `rport` parameter: `Some(None)` when present without a value (a
    /// request asking for it), `Some(Some(port))` when filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params()
            .get("rport")
            .map(|v| v.and_then(|v| v.parse().ok()))
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&str> {
        self.params().get("maddr").flatten()
    }

    /// The `ttl` parameter.
    pub fn ttl(&self) -> Option<u8> {
        self.params()
            .get("ttl")
            .flatten()
            .and_then(|v| v.parse().ok())
    }

    /// A copy with parameter `name` set (replacing an existing one).
    pub fn with_param(&self, name: &str, value: Option<&str>) -> Result<Via<'static>, Error> {
        let p = params::edit_params(self.params.get(&self.text), name, Some(value))?;
        let mut s = String::with_capacity(self.text.len() + p.len());
        s.push_str(&self.text[..self.params.s as usize]);
        s.push_str(&p);
        Via::parse_cow(Cow::Owned(s)).map_err(|_| Error::Invalid("parameter not valid in Via"))
    }

    /// The text of this Via with `received` set to `ip` and, when `rport` is
    /// given, `rport` filled in (RFC 3261 §18.2.1, RFC 3581 §4): both edits in
    /// one copy, checked by one parse. `None` if the result is not a valid Via.
    pub(crate) fn stamped_text(&self, ip: IpAddr, rport: Option<u16>) -> Option<String> {
        let raw = self.params.get(&self.text);
        let mut p = params::edit_params(raw, "received", Some(Some(&ip.to_string()))).ok()?;
        if let Some(port) = rport {
            p = params::edit_params(&p, "rport", Some(Some(&port.to_string()))).ok()?;
        }
        let mut s = String::with_capacity(self.text.len() + p.len());
        s.push_str(&self.text[..self.params.s as usize]);
        s.push_str(&p);
        Via::parse(&s).is_ok().then_some(s)
    }

    /// A copy with `received` set to `ip` (RFC 3261 §18.2.1).
    pub fn with_received(&self, ip: IpAddr) -> Via<'static> {
        let v = ip.to_string();
        // An IP address is always a valid received value.
        self.with_param("received", Some(&v))
            .unwrap_or_else(|_| self.clone().into_owned())
    }

    /// A copy with `rport` filled in with `port` (RFC 3581 §4).
    pub fn with_rport(&self, port: u16) -> Via<'static> {
        let v = port.to_string();
        self.with_param("rport", Some(&v))
            .unwrap_or_else(|_| self.clone().into_owned())
    }

    /// Parses a value held in a `String`, keeping the string (no copy).
    pub fn parse_owned(value: String) -> Result<Via<'static>, Error> {
        Via::parse_cow(Cow::Owned(value))
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> Via<'static> {
        Via {
            text: Cow::Owned(self.text.into_owned()),
            protocol: self.protocol,
            version: self.version,
            transport: self.transport,
            host: self.host,
            host_tag: self.host_tag,
            port: self.port,
            params: self.params,
            branch: self.branch,
        }
    }
}

/// An IPv4 or IPv6 address, IPv6 with or without brackets.
fn parse_ip(v: &str) -> Option<IpAddr> {
    let v = v
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(v);
    if v.contains(':') {
        host::parse_ipv6(v.as_bytes()).map(IpAddr::V6)
    } else {
        host::parse_ipv4(v.as_bytes()).map(IpAddr::V4)
    }
}

impl fmt::Display for Via<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(scan::trim_lws_str(&self.text))
    }
}

impl fmt::Debug for Via<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Via({})", self.text)
    }
}

impl<'a> TypedHeader<'a> for Via<'a> {
    const NAME: HeaderName = HeaderName::VIA;
    const LIST: bool = true;
    fn parse(value: &'a str) -> Result<Self, Error> {
        Via::parse(value)
    }
}
