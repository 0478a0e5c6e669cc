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

/// Which kind of host text is (the address itself is re-read on demand).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum HostTag {
    Domain,
    V4,
    V6,
}

/// A host as written, with its kind.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Host<'a> {
    text: &'a str,
    tag: HostTag,
}

impl<'a> Host<'a> {
    pub(crate) fn new(text: &'a str, tag: HostTag) -> Self {
        Host { text, tag }
    }

    /// Parses a host: `hostname / IPv4address / IPv6reference` (RFC 3261 §25.1).
    pub fn parse(text: &'a str) -> Result<Host<'a>, Error> {
        let tag = classify(text.as_bytes())?;
        Ok(Host { text, tag })
    }

    /// The host as written (IPv6 with its brackets).
    #[inline]
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The kind (domain or IP address).
    pub fn kind(&self) -> HostKind {
        let b = self.text.as_bytes();
        // The text was validated when the host was created.
        match self.tag {
            HostTag::Domain => HostKind::Domain,
            HostTag::V4 => parse_ipv4(b).map_or(HostKind::Domain, HostKind::Ipv4),
            HostTag::V6 => b
                .get(1..b.len().saturating_sub(1))
                .and_then(parse_ipv6)
                .map_or(HostKind::Domain, HostKind::Ipv6),
        }
    }

    /// Whether the host is an IP address (no DNS needed).
    pub fn is_ip(&self) -> bool {
        self.tag != HostTag::Domain
    }

    /// The IP address, if the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self.kind() {
            HostKind::Domain => None,
            HostKind::Ipv4(a) => Some(IpAddr::V4(a)),
            HostKind::Ipv6(a) => Some(IpAddr::V6(a)),
        }
    }

    /// Host comparison per RFC 3261 §19.1.4: domain names case-insensitively
    /// (ignoring one trailing dot), addresses by value.
    pub fn matches(&self, other: &Host<'_>) -> bool {
        match (self.tag, other.tag) {
            (HostTag::Domain, HostTag::Domain) => {
                let a = self.text.strip_suffix('.').unwrap_or(self.text);
                let b = other.text.strip_suffix('.').unwrap_or(other.text);
                a.eq_ignore_ascii_case(b)
            }
            // Addresses by value; one that cannot be read matches nothing.
            (HostTag::V4, HostTag::V4) | (HostTag::V6, HostTag::V6) => {
                self.ip().is_some() && self.ip() == other.ip()
            }
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
pub(crate) fn classify(b: &[u8]) -> Result<HostTag, Error> {
    match scan_host(b, 0)? {
        (end, tag) if end == b.len() => Ok(tag),
        _ => Err(Error::syntax("bad host name")),
    }
}

/// Scans the host starting at `start` (up to the first byte that cannot be
/// part of one), validating and classifying it in the same pass. Returns the
/// end offset and the kind.
pub(crate) fn scan_host(b: &[u8], start: usize) -> Result<(usize, HostTag), Error> {
    match b.get(start) {
        None => Err(Error::syntax("empty host")),
        Some(b'[') => {
            let close = memchr::memchr(b']', &b[start..])
                .ok_or(Error::syntax("unterminated IPv6 reference"))?
                + start;
            if !is_ipv6(&b[start + 1..close]) {
                return Err(Error::syntax("bad IPv6 address"));
            }
            Ok((close + 1, HostTag::V6))
        }
        Some(_) => {
            // The span of host characters (table lookup per byte), then the
            // structure label by label.
            let rest = &b[start..];
            let len = rest
                .iter()
                .position(|&c| !scan::is(c, scan::HOST_CHAR))
                .unwrap_or(rest.len());
            let text = &rest[..len];
            if text.is_empty() {
                return Err(Error::syntax("empty host"));
            }
            let end = start + len;
            if text.iter().all(|&c| c.is_ascii_digit() || c == b'.') {
                return parse_ipv4(text)
                    .map(|_| (end, HostTag::V4))
                    .ok_or(Error::syntax("bad IPv4 address"));
            }
            if text.len() <= 255 && hostname_labels_ok(text) {
                Ok((end, HostTag::Domain))
            } else {
                Err(Error::syntax("bad host name"))
            }
        }
    }
}

/// Label structure of a span of host characters (alphanum, `-`, `_`, `.`):
/// labels of 1–63 characters that start and end with alphanum, the top label
/// starting with a letter, and one optional trailing dot.
fn hostname_labels_ok(text: &[u8]) -> bool {
    let body = text.strip_suffix(b".").unwrap_or(text);
    let n = body.len();
    let (mut start, mut i) = (0, 0);
    loop {
        while i < n && body[i] != b'.' {
            i += 1;
        }
        // body[start..i] is one label.
        match (body.get(start), i.checked_sub(1).and_then(|l| body.get(l))) {
            (Some(f), Some(l))
                if i > start
                    && i - start <= 63
                    && f.is_ascii_alphanumeric()
                    && l.is_ascii_alphanumeric() =>
            {
                if i == n {
                    return f.is_ascii_alphabetic();
                }
            }
            _ => return false,
        }
        i += 1;
        start = i;
    }
}

/// Strict dotted-quad IPv4 (no leading `+`, 1–3 digits per octet, ≤ 255).
pub(crate) fn parse_ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let (mut idx, mut value, mut digits) = (0usize, 0u32, 0u32);
    for &c in b {
        if c == b'.' {
            if digits == 0 || idx == 3 {
                return None;
            }
            octets[idx] = value as u8;
            (idx, value, digits) = (idx + 1, 0, 0);
        } else {
            let d = c.wrapping_sub(b'0');
            if d > 9 || digits == 3 {
                return None;
            }
            value = value * 10 + u32::from(d);
            if value > 255 {
                return None;
            }
            digits += 1;
        }
    }
    if idx != 3 || digits == 0 {
        return None;
    }
    octets[3] = value as u8;
    Some(Ipv4Addr::from(octets))
}

/// RFC 4291 §2.2 text form: eight groups of 1–4 hex digits, one `::` for a run
/// of zero groups, optionally ending in a dotted-quad IPv4 address (the
/// standard library's parser; hot paths validate with [`is_ipv6`]).
pub(crate) fn parse_ipv6(b: &[u8]) -> Option<Ipv6Addr> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Whether `b` is an IPv6 address in RFC 4291 §2.2 text form, without
/// building it: exactly what the standard library's parser accepts
/// (property and table tests hold them together).
pub(crate) fn is_ipv6(b: &[u8]) -> bool {
    let n = b.len();
    // "::" is the shortest form; eight groups of four with seven colons, or
    // six groups and a dotted quad, the longest (45).
    if !(2..=45).contains(&n) {
        return false;
    }
    let mut i = 0;
    let mut groups = 0usize;
    let mut double = false;
    if b[0] == b':' {
        if b[1] != b':' {
            return false;
        }
        if n == 2 {
            return true;
        }
        double = true;
        i = 2;
    }
    loop {
        let start = i;
        // Over-long groups are scanned to their end and refused below (the
        // input is at most 45 bytes).
        while i < n && scan::is(b[i], scan::HEX) {
            i += 1;
        }
        let len = i - start;
        if i == n {
            // The last group.
            if len == 0 || len > 4 {
                return false;
            }
            groups += 1;
            break;
        }
        match b[i] {
            b':' if len > 0 && len <= 4 => {
                groups += 1;
                i += 1;
                if b.get(i) == Some(&b':') {
                    if double {
                        return false;
                    }
                    double = true;
                    i += 1;
                    if i == n {
                        break;
                    }
                } else if i == n {
                    return false;
                }
            }
            b'.' => {
                // A trailing IPv4 address: two groups, and it ends the address.
                // Its octets are RFC 3986 dec-octets (RFC 5954 §4.1): no
                // leading zeros, unlike RFC 3261's own IPv4address.
                let quad = &b[start..];
                let leading_zero = quad
                    .split(|&c| c == b'.')
                    .any(|o| o.len() > 1 && o[0] == b'0');
                if groups > 6 || leading_zero || parse_ipv4(quad).is_none() {
                    return false;
                }
                groups += 2;
                break;
            }
            _ => return false,
        }
    }
    if double { groups <= 7 } else { groups == 8 }
}

/// Reference definition of hostname (tests check `scan_host` against it):
/// hostname = *( domainlabel "." ) toplabel [ "." ]; labels are alphanum with
/// inner hyphens, the top label starts with a letter. Underscores are accepted
/// inside labels, as deployed DNS names (SRV owners) carry them.
#[cfg(test)]
pub(crate) fn is_hostname(b: &[u8]) -> bool {
    if b.is_empty() || b.len() > 255 {
        return false;
    }
    let body = b.strip_suffix(b".").unwrap_or(b);
    let mut label_len = 0usize;
    let mut label_first = 0u8;
    let mut prev = b'.';
    for &c in body {
        if c == b'.' {
            if label_len == 0 || !prev.is_ascii_alphanumeric() {
                return false;
            }
            label_len = 0;
        } else if c.is_ascii_alphanumeric() {
            if label_len == 0 {
                label_first = c;
            }
            label_len += 1;
        } else if (c == b'-' || c == b'_') && label_len > 0 {
            label_len += 1;
        } else {
            return false;
        }
        if label_len > 63 {
            return false;
        }
        prev = c;
    }
    label_len > 0 && prev.is_ascii_alphanumeric() && label_first.is_ascii_alphabetic()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The dotted-quad rule written the plain way: four dot-separated runs
    /// of 1–3 digits, each at most 255.
    fn ipv4_by_parts(b: &[u8]) -> Option<Ipv4Addr> {
        let parts: Vec<&[u8]> = b.split(|&c| c == b'.').collect();
        if parts.len() != 4 {
            return None;
        }
        let mut o = [0u8; 4];
        for (o, p) in o.iter_mut().zip(parts) {
            if p.is_empty() || p.len() > 3 || !p.iter().all(u8::is_ascii_digit) {
                return None;
            }
            *o = std::str::from_utf8(p).ok()?.parse().ok()?;
        }
        Some(Ipv4Addr::from(o))
    }

    proptest! {
        #[test]
        fn ipv4_parser_agrees_with_the_plain_rule(s in "[0-9.+a]{0,17}") {
            prop_assert_eq!(parse_ipv4(s.as_bytes()), ipv4_by_parts(s.as_bytes()));
        }

        #[test]
        fn ipv4_parser_reads_every_address(a in any::<[u8; 4]>(), zeros in 0usize..3) {
            let text = a.map(|o| format!("{:0w$}", o, w = zeros + 1)).join(".");
            let want = (text.split('.').all(|p| p.len() <= 3)).then(|| Ipv4Addr::from(a));
            prop_assert_eq!(parse_ipv4(text.as_bytes()), want);
        }

        #[test]
        fn host_scan_agrees_with_the_reference(
            labels in proptest::collection::vec("[a-b0-2_-]{0,4}", 1..5),
            dot in any::<bool>(),
            long in proptest::option::of(60usize..70),
            stop in proptest::option::of("[:;>@ ]"),
        ) {
            // The reference: the span of host characters, then a dotted quad
            // when it is digits and dots only, else the hostname rule.
            let s = labels.join(".") + if dot { "." } else { "" };
            let host = match long {
                Some(n) => format!("{}{s}", "a".repeat(n)),
                None => s,
            };
            let text = match stop {
                Some(stop) => format!("{host}{stop}x"),
                None => host.clone(),
            };
            let b = host.as_bytes();
            let want = if b.is_empty() {
                None
            } else if b.iter().all(|&c| c.is_ascii_digit() || c == b'.') {
                parse_ipv4(b).map(|_| (b.len(), HostTag::V4))
            } else {
                is_hostname(b).then_some((b.len(), HostTag::Domain))
            };
            prop_assert_eq!(scan_host(text.as_bytes(), 0).ok(), want);
        }

        #[test]
        fn ipv6_validator_agrees_with_std(s in "[0-9a-fA-F:.g]{0,48}") {
            prop_assert_eq!(is_ipv6(s.as_bytes()), s.parse::<Ipv6Addr>().is_ok());
        }

        #[test]
        fn ipv6_validator_agrees_with_std_on_dotted_quads(
            g in any::<[u16; 2]>(),
            o in any::<[u8; 4]>(),
            zeros in any::<[bool; 4]>(),
        ) {
            // Leading zeros in the IPv4 part (std and RFC 5954 refuse them).
            let quad: Vec<String> = o
                .iter()
                .zip(zeros)
                .map(|(o, z)| if z { format!("0{o}") } else { o.to_string() })
                .collect();
            let text = format!("{:x}:{:x}::{}", g[0], g[1], quad.join("."));
            prop_assert_eq!(is_ipv6(text.as_bytes()), text.parse::<Ipv6Addr>().is_ok());
        }

        #[test]
        fn ipv6_validator_accepts_every_address(g in any::<[u16; 8]>(), v4 in any::<bool>()) {
            let a = Ipv6Addr::from(g);
            let text = if v4 {
                let o = a.octets();
                format!("{:x}:{:x}::{}.{}.{}.{}", g[0], g[1], o[12], o[13], o[14], o[15])
            } else {
                a.to_string()
            };
            prop_assert_eq!(is_ipv6(text.as_bytes()), text.parse::<Ipv6Addr>().is_ok());
            prop_assert!(is_ipv6(a.to_string().as_bytes()));
        }

        #[test]
        fn ipv6_validator_accepts_every_full_form(g in any::<[u16; 8]>()) {
            let full = g.iter().map(|x| format!("{x:x}")).collect::<Vec<_>>().join(":");
            prop_assert!(is_ipv6(full.as_bytes()));
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(classify(b"example.com").unwrap(), HostTag::Domain);
        assert_eq!(classify(b"example.com.").unwrap(), HostTag::Domain);
        assert_eq!(classify(b"192.0.2.1").unwrap(), HostTag::V4);
        assert_eq!(
            Host::parse("192.0.2.1").unwrap().kind(),
            HostKind::Ipv4(Ipv4Addr::new(192, 0, 2, 1))
        );
        assert_eq!(classify(b"[2001:db8::192.0.2.1]").unwrap(), HostTag::V6);
        assert!(matches!(
            Host::parse("[2001:db8::192.0.2.1]").unwrap().kind(),
            HostKind::Ipv6(_)
        ));
        assert_eq!(
            scan_host(b"h.example.com:5060", 0).unwrap(),
            (13, HostTag::Domain)
        );
        assert_eq!(scan_host(b"x;a", 0).unwrap(), (1, HostTag::Domain));
        assert!(classify(b"example..com").is_err());
        assert!(classify(b"example.com..").is_err());
        assert!(classify(b"1example.2com").is_err());
        assert!(classify(b"[2001:db8:::192.0.2.1]").is_err());
        assert!(classify(b"2001:db8::1").is_err());
        assert!(classify(b"192.0.2.256").is_err());
        assert!(classify(b"1.2.3").is_err());
        assert!(classify(b"-a.com").is_err());
        assert!(classify(b"a..com").is_err());
        assert!(classify(b"").is_err());
        assert!(classify(b"[]").is_err());
        assert!(classify(b"a-.com").is_err());
        assert!(classify(b"a.-b.com").is_err());
        assert!(classify(b"_sip._udp.example.com").is_err());
        assert!(classify(b"sip_1.example.com").is_ok());
        assert!(classify(b".").is_err());
        assert!(classify(b"a.b.c.d.e.f.example.com").is_ok());
        // single pass agrees with the reference definition
        for h in [
            "a", "a.", "a-b.c", "a.b-", "-a", "a_b.c", "a._b", "1.a", "a.1", "a..b", "ab.", "a.b.",
            ".", "", "a.-.b",
        ] {
            assert_eq!(
                classify(h.as_bytes()).is_ok(),
                is_hostname(h.as_bytes()),
                "{h}"
            );
        }
        assert!(classify(format!("{}.com", "a".repeat(63)).as_bytes()).is_ok());
        assert!(classify(format!("{}.com", "a".repeat(64)).as_bytes()).is_err());
    }

    #[test]
    fn ipv6_agrees_with_std() {
        for s in [
            "::",
            "::1",
            "1::",
            "2001:db8::10",
            "2001:db8::10:5070",
            "::ffff:192.0.2.1",
            "2001:db8::192.0.2.1",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:1.2.3.4",
            "1::8",
            "2001:db8:::192.0.2.1",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7",
            "12345::",
            ":1::",
            "1::2::3",
            "1:2:3:4:5:6:7::",
            "::1.2.3.4",
            "1.2.3.4",
            "",
            ":",
            ":::",
            "g::",
            "1:2:3:4:5:6:7:1.2.3.4",
            "::1.2.3",
            "::1.2.3.4.5",
            "fe80::1%eth0",
            "0000:0::00",
        ] {
            assert_eq!(
                is_ipv6(s.as_bytes()),
                s.parse::<Ipv6Addr>().is_ok(),
                "{s:?}"
            );
        }
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
        // Embedded IPv4 octets with leading zeros are refused (RFC 5954), so
        // two different such hosts can never both be read as "some domain".
        assert!(Host::parse("[::1.2.3.04]").is_err());
        assert!(Host::parse("[::9.9.9.09]").is_err());
        let e = Host::parse("[::1.2.3.4]").unwrap();
        let f = Host::parse("[::102:304]").unwrap();
        assert!(e.matches(&f));
        assert!(!e.matches(&Host::parse("[::9.9.9.9]").unwrap()));
        // RFC 3261's own IPv4address allows leading zeros; compared by value.
        assert!(
            Host::parse("192.0.2.01")
                .unwrap()
                .matches(&Host::parse("192.0.2.1").unwrap())
        );
    }
}
