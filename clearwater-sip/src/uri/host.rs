//! Hosts: domain names, IPv4 addresses and IPv6 references.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::Error;
use crate::scan;

/// What kind of host a URI or Via names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostKind {
    /// A domain name (`example.com`).
    Domain,
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 reference (`[2001:db8::1]`).
    Ipv6(Ipv6Addr),
}

/// A host as written, with its kind.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Host<'a> {
    text: &'a str,
    kind: HostKind,
}

impl<'a> Host<'a> {
    pub(crate) fn new(text: &'a str, kind: HostKind) -> Self {
        Host { text, kind }
    }

    /// Parses a host: `hostname / IPv4address / IPv6reference` (RFC 3261 §25.1).
    pub fn parse(text: &'a str) -> Result<Host<'a>, Error> {
        let kind = classify(text.as_bytes())?;
        Ok(Host { text, kind })
    }

    /// The host as written (IPv6 with its brackets).
    #[inline]
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The kind (domain or IP address).
    #[inline]
    pub fn kind(&self) -> HostKind {
        self.kind
    }

    /// The IP address, if the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self.kind {
            HostKind::Domain => None,
            HostKind::Ipv4(a) => Some(IpAddr::V4(a)),
            HostKind::Ipv6(a) => Some(IpAddr::V6(a)),
        }
    }

    /// Host comparison per RFC 3261 §19.1.4: domain names case-insensitively
    /// (ignoring one trailing dot), addresses by value.
    pub fn matches(&self, other: &Host<'_>) -> bool {
        match (self.kind, other.kind) {
            (HostKind::Domain, HostKind::Domain) => {
                let a = self.text.strip_suffix('.').unwrap_or(self.text);
                let b = other.text.strip_suffix('.').unwrap_or(other.text);
                a.eq_ignore_ascii_case(b)
            }
            (HostKind::Ipv4(a), HostKind::Ipv4(b)) => a == b,
            (HostKind::Ipv6(a), HostKind::Ipv6(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Debug for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Host({})", self.text)
    }
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}

/// Classifies and validates host text.
pub(crate) fn classify(b: &[u8]) -> Result<HostKind, Error> {
    match b.first() {
        None => Err(Error::syntax("empty host")),
        Some(b'[') => {
            if b.len() < 4 || b[b.len() - 1] != b']' {
                return Err(Error::syntax("bad IPv6 reference"));
            }
            let inner = std::str::from_utf8(&b[1..b.len() - 1])
                .map_err(|_| Error::syntax("bad IPv6 reference"))?;
            inner
                .parse::<Ipv6Addr>()
                .map(HostKind::Ipv6)
                .map_err(|_| Error::syntax("bad IPv6 address"))
        }
        Some(_) => {
            if b.iter().all(|&c| c.is_ascii_digit() || c == b'.') {
                return parse_ipv4(b)
                    .map(HostKind::Ipv4)
                    .ok_or(Error::syntax("bad IPv4 address"));
            }
            if is_hostname(b) {
                Ok(HostKind::Domain)
            } else {
                Err(Error::syntax("bad host name"))
            }
        }
    }
}

/// Strict dotted-quad IPv4 (no leading `+`, 1–3 digits per octet, ≤ 255).
pub(crate) fn parse_ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = b.split(|&c| c == b'.');
    for o in &mut octets {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 {
            return None;
        }
        *o = u8::try_from(scan::parse_decimal(p, 255)?).ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

/// hostname = *( domainlabel "." ) toplabel [ "." ]; labels are alphanum with
/// inner hyphens, the top label starts with a letter. Underscores are accepted
/// inside labels, as deployed DNS names (SRV owners) carry them.
pub(crate) fn is_hostname(b: &[u8]) -> bool {
    if b.is_empty() || b.len() > 255 {
        return false;
    }
    let body = b.strip_suffix(b".").unwrap_or(b);
    if body.is_empty() {
        return false;
    }
    let mut last_label: &[u8] = &[];
    for label in body.split(|&c| c == b'.') {
        if label.is_empty() || label.len() > 63 {
            return false;
        }
        let first = label[0];
        let end = label[label.len() - 1];
        if !first.is_ascii_alphanumeric() || !(end.is_ascii_alphanumeric()) {
            return false;
        }
        if !label
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        {
            return false;
        }
        last_label = label;
    }
    last_label.first().is_some_and(|c| c.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(classify(b"example.com").unwrap(), HostKind::Domain);
        assert_eq!(classify(b"example.com.").unwrap(), HostKind::Domain);
        assert_eq!(
            classify(b"192.0.2.1").unwrap(),
            HostKind::Ipv4(Ipv4Addr::new(192, 0, 2, 1))
        );
        assert!(matches!(
            classify(b"[2001:db8::192.0.2.1]").unwrap(),
            HostKind::Ipv6(_)
        ));
        assert!(classify(b"[2001:db8:::192.0.2.1]").is_err());
        assert!(classify(b"2001:db8::1").is_err());
        assert!(classify(b"192.0.2.256").is_err());
        assert!(classify(b"1.2.3").is_err());
        assert!(classify(b"-a.com").is_err());
        assert!(classify(b"a..com").is_err());
        assert!(classify(b"").is_err());
        assert!(classify(b"[]").is_err());
    }

    #[test]
    fn matching() {
        let a = Host::parse("Example.COM").unwrap();
        let b = Host::parse("example.com.").unwrap();
        assert!(a.matches(&b));
        let c = Host::parse("[2001:db8::1]").unwrap();
        let d = Host::parse("[2001:0db8:0:0::1]").unwrap();
        assert!(c.matches(&d));
        assert!(!a.matches(&c));
    }
}
