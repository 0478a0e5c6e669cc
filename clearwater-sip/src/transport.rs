//! Transport vocabulary shared by the sans-IO layers and the runtime: which
//! transport a message used, where it came from or goes, and the pure parts of
//! RFC 3261 §18 and RFC 3581 (stamping `received`/`rport`, choosing where a
//! response goes).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::header::Via;
use crate::message::Request;
use crate::uri::HostKind;

/// A SIP transport protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// UDP (unreliable).
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// WebSocket (RFC 7118).
    Ws,
    /// Secure WebSocket (RFC 7118).
    Wss,
    /// SCTP.
    Sctp,
}

impl Transport {
    /// Whether the transport retransmits for us (RFC 3261 §17: timers A, E, G
    /// are not used and timers D, I, J, K are zero on reliable transports).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// Whether the transport is connection-oriented (responses go back on the
    /// connection the request came in on, §18.2.2).
    pub fn is_stream(self) -> bool {
        !matches!(self, Transport::Udp | Transport::Sctp)
    }

    /// The Via transport token (`UDP`, `TCP`, `TLS`, `WS`, `WSS`, `SCTP`).
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
            Transport::Sctp => "SCTP",
        }
    }

    /// Parses a Via transport token or `transport` URI parameter value
    /// (case-insensitive).
    pub fn from_token(t: &str) -> Option<Transport> {
        [
            Transport::Udp,
            Transport::Tcp,
            Transport::Tls,
            Transport::Ws,
            Transport::Wss,
            Transport::Sctp,
        ]
        .into_iter()
        .find(|x| x.as_str().eq_ignore_ascii_case(t))
    }

    /// The default port (5061 for TLS and WSS... per RFC 3261 §19.1.2 and
    /// RFC 7118 §5).
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Tls => 5061,
            Transport::Ws => 80,
            Transport::Wss => 443,
            _ => 5060,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifies one connection (or, for UDP, one local socket) of the runtime.
///
/// Used to send responses back on the connection a request arrived on, and
/// later for RFC 5626 flow tokens. `FlowId(0)` is never assigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId(pub u64);

/// The far end of a message: transport, socket address, and the flow it used
/// (or should use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Remote {
    /// Transport protocol.
    pub transport: Transport,
    /// Address of the peer.
    pub addr: SocketAddr,
    /// The connection the message arrived on, or to send on; `None` lets the
    /// runtime pick or open one.
    pub flow: Option<FlowId>,
}

impl Remote {
    /// A remote without a flow.
    pub fn new(transport: Transport, addr: SocketAddr) -> Remote {
        Remote {
            transport,
            addr,
            flow: None,
        }
    }

    /// This remote over connection `flow`.
    pub fn with_flow(mut self, flow: FlowId) -> Remote {
        self.flow = Some(flow);
        self
    }
}

/// RFC 3261 §18.2.1 and RFC 3581 §4: adds `received` to the top Via of a
/// request when the sent-by host is not the source address, and fills in an
/// empty `rport` with the source port. Returns whether the request changed.
///
/// `received` and `rport` record what this element saw, so values the
/// sender wrote into its own Via are never trusted: a `received` it brought
/// is overwritten with the source address, an `rport` value with the source
/// port (otherwise responses could be reflected at any address).
pub fn stamp_via(req: &mut Request, source: &Remote) -> bool {
    let Ok(via) = req.via() else {
        return false;
    };
    let ip = source.addr.ip();
    let differs = match via.host().kind() {
        HostKind::Ipv4(a) => IpAddr::V4(a) != ip,
        HostKind::Ipv6(a) => IpAddr::V6(a) != ip,
        HostKind::Domain => true,
    };
    let rport = via.rport();
    let rport_ok = rport.is_none_or(|v| v == Some(source.addr.port()));
    let received = via
        .params()
        .get("received")
        .map(|v| v.is_some() && via.received_ip() == Some(ip));
    // Nothing to add and nothing wrong: no rport or the right one, and a
    // received that is right (needed with rport, RFC 3581 §4) or none.
    let ok = match (rport, received) {
        (None, None) => true,
        (_, Some(right)) => right,
        (Some(_), None) => false,
    };
    if !differs && rport_ok && ok {
        return false;
    }
    // RFC 3581 §4: with rport, received is added even when it matches.
    let rport = rport.map(|_| source.addr.port());
    let Some(stamped) = via.stamped_text(ip, rport) else {
        return false;
    };
    req.replace_top_via(&stamped)
}

/// Where a response goes, by RFC 3261 §18.2.2 and RFC 3581 §4, from the top
/// Via of the request and the remote the request came from:
///
/// * reliable transports: back on the request's flow (the runtime falls back
///   to `received`/sent-by when that connection is gone);
/// * `maddr` naming a multicast address: that address, at the sent-by port
///   (default 5060). A unicast `maddr` is ignored: §18.2.2 says to use it,
///   but the sender writes it, so honouring it would let anyone aim this
///   element's responses at any host (multicast is what it is for, §18.1.1);
/// * `rport` with a value: the `received` address at that port;
/// * otherwise `received` (or the sent-by host when it is an address) at the
///   sent-by port.
///
/// Returns `None` when the sent-by is a domain name without `received`: the
/// caller must resolve it (RFC 3263 §5).
pub fn response_destination(via: &Via<'_>, source: &Remote) -> Option<Remote> {
    let transport = Transport::from_token(via.transport()).unwrap_or(source.transport);
    let port = via.port().unwrap_or_else(|| transport.default_port());
    if source.transport.is_stream() {
        return Some(*source);
    }
    if let Some(maddr) = via.maddr()
        && let Ok(h) = crate::uri::Host::parse(maddr)
        && let Some(ip) = h.ip()
        && ip.is_multicast()
    {
        return Some(Remote::new(transport, SocketAddr::new(ip, port)));
    }
    let ip = via.received_ip().or_else(|| via.host().ip());
    match (via.rport(), ip) {
        (Some(Some(rport)), Some(ip)) => Some(Remote {
            transport,
            addr: SocketAddr::new(ip, rport),
            flow: source.flow,
        }),
        (_, Some(ip)) => Some(Remote {
            transport,
            addr: SocketAddr::new(ip, port),
            flow: source.flow,
        }),
        (_, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use bytes::Bytes;

    fn req(via: &str) -> Request {
        let raw = format!(
            "OPTIONS sip:b@example.com SIP/2.0\r\nVia: {via}\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        match Message::parse(Bytes::from(raw)).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => unreachable!(),
        }
    }

    fn udp(a: &str) -> Remote {
        Remote::new(Transport::Udp, a.parse().unwrap())
    }

    #[test]
    fn stamping() {
        // sent-by is the source: nothing to do
        let mut r = req("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1");
        assert!(!stamp_via(&mut r, &udp("192.0.2.1:5060")));
        // NAT: received added
        let mut r = req("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1");
        assert!(stamp_via(&mut r, &udp("192.0.2.1:40000")));
        assert_eq!(r.via().unwrap().received(), Some("192.0.2.1"));
        assert_eq!(r.via().unwrap().rport(), None);
        // RFC 3581: rport filled, received added even when equal
        let mut r = req("SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bK1");
        assert!(stamp_via(&mut r, &udp("192.0.2.1:40000")));
        let v = r.via().unwrap();
        assert_eq!(
            (v.received(), v.rport()),
            (Some("192.0.2.1"), Some(Some(40000)))
        );
        assert_eq!(v.branch(), Some("z9hG4bK1"));
        // domain sent-by
        let mut r = req("SIP/2.0/UDP ua.example.com;branch=z9hG4bK1");
        assert!(stamp_via(&mut r, &udp("[2001:db8::1]:5060")));
        assert_eq!(r.via().unwrap().received(), Some("2001:db8::1"));
        // Values the sender wrote itself are replaced by what was seen, so
        // the response cannot be aimed elsewhere.
        let src = udp("192.0.2.1:5060");
        for via in [
            "SIP/2.0/UDP 192.0.2.1:5060;received=198.51.100.7;branch=z9hG4bK1",
            "SIP/2.0/UDP 192.0.2.1:5060;rport=9;branch=z9hG4bK1",
            "SIP/2.0/UDP 192.0.2.1:5060;rport=9;received=198.51.100.7;branch=z9hG4bK1",
        ] {
            let mut r = req(via);
            assert!(stamp_via(&mut r, &src), "{via}");
            let v = r.via().unwrap();
            assert_eq!(v.received(), Some("192.0.2.1"), "{via}");
            assert!(matches!(v.rport(), None | Some(Some(5060))), "{via}");
            assert_eq!(
                response_destination(&v, &src).unwrap().addr,
                "192.0.2.1:5060".parse().unwrap(),
                "{via}"
            );
        }
        // Already right: left alone.
        let mut r = req("SIP/2.0/UDP 192.0.2.1:5060;received=192.0.2.1;branch=z9hG4bK1");
        assert!(!stamp_via(&mut r, &src));
        let mut r = req("SIP/2.0/UDP 192.0.2.1;rport=5060;received=192.0.2.1;branch=z9hG4bK1");
        assert!(!stamp_via(&mut r, &src));
    }

    #[test]
    fn response_routing() {
        let v = Via::parse("SIP/2.0/UDP 10.0.0.1:5070;received=192.0.2.1;rport=40000;branch=z")
            .unwrap();
        assert_eq!(
            response_destination(&v, &udp("192.0.2.1:40000"))
                .unwrap()
                .addr,
            "192.0.2.1:40000".parse().unwrap()
        );
        let v = Via::parse("SIP/2.0/UDP 10.0.0.1:5070;received=192.0.2.1;branch=z").unwrap();
        assert_eq!(
            response_destination(&v, &udp("192.0.2.1:40000"))
                .unwrap()
                .addr,
            "192.0.2.1:5070".parse().unwrap()
        );
        let v = Via::parse("SIP/2.0/UDP 10.0.0.1;branch=z").unwrap();
        assert_eq!(
            response_destination(&v, &udp("10.0.0.1:5060"))
                .unwrap()
                .addr,
            "10.0.0.1:5060".parse().unwrap()
        );
        let v = Via::parse("SIP/2.0/UDP h.example.com;maddr=224.0.1.75;branch=z").unwrap();
        assert_eq!(
            response_destination(&v, &udp("192.0.2.1:5060"))
                .unwrap()
                .addr,
            "224.0.1.75:5060".parse().unwrap()
        );
        // A unicast maddr is not followed (the sender chose it).
        let v = Via::parse("SIP/2.0/UDP 10.0.0.1;maddr=198.51.100.7;branch=z").unwrap();
        assert_eq!(
            response_destination(&v, &udp("10.0.0.1:5060"))
                .unwrap()
                .addr,
            "10.0.0.1:5060".parse().unwrap()
        );
        let v = Via::parse("SIP/2.0/UDP h.example.com;branch=z").unwrap();
        assert_eq!(response_destination(&v, &udp("192.0.2.1:5060")), None);
        let tcp =
            Remote::new(Transport::Tcp, "192.0.2.1:3456".parse().unwrap()).with_flow(FlowId(7));
        let v = Via::parse("SIP/2.0/TCP h.example.com;branch=z").unwrap();
        assert_eq!(response_destination(&v, &tcp), Some(tcp));
    }
}
