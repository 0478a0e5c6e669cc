use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::*;

#[derive(Default)]
struct Table {
    naptr: HashMap<String, Vec<Naptr>>,
    srv: HashMap<String, Vec<Srv>>,
    ip: HashMap<String, Vec<IpAddr>>,
}

impl DnsBackend for Table {
    async fn naptr(&self, name: &str) -> Vec<Naptr> {
        self.naptr.get(name).cloned().unwrap_or_default()
    }
    async fn srv(&self, name: &str) -> Vec<Srv> {
        self.srv.get(name).cloned().unwrap_or_default()
    }
    async fn ip(&self, name: &str) -> Vec<IpAddr> {
        self.ip.get(name).cloned().unwrap_or_default()
    }
}

fn naptr(order: u16, pref: u16, service: &str, replacement: &str) -> Naptr {
    Naptr {
        order,
        preference: pref,
        flags: "s".into(),
        service: service.into(),
        replacement: replacement.into(),
    }
}

fn srv(priority: u16, weight: u16, port: u16, target: &str) -> Srv {
    Srv {
        priority,
        weight,
        port,
        target: target.into(),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn table() -> Table {
    let mut t = Table::default();
    t.naptr.insert(
        "ims.example.net".into(),
        vec![
            naptr(10, 20, "SIP+D2U", "_sip._udp.ims.example.net"),
            naptr(10, 10, "SIP+D2T", "_sip._tcp.ims.example.net"),
            naptr(20, 10, "SIP+D2S", "_sip._sctp.ims.example.net"),
            naptr(5, 10, "E2U+sip", "ignored.example.net"),
        ],
    );
    t.srv.insert(
        "_sip._tcp.ims.example.net".into(),
        vec![
            srv(20, 0, 5060, "b.ims.example.net"),
            srv(10, 0, 5062, "a.ims.example.net"),
        ],
    );
    t.srv.insert(
        "_sip._udp.ims.example.net".into(),
        vec![srv(10, 1, 5060, "a.ims.example.net")],
    );
    t.srv.insert(
        "_sip._udp.nonaptr.example.net".into(),
        vec![srv(0, 0, 5070, "u.nonaptr.example.net")],
    );
    t.srv.insert(
        "_sip._tcp.nonaptr.example.net".into(),
        vec![srv(0, 0, 5071, "t.nonaptr.example.net")],
    );
    t.ip.insert(
        "a.ims.example.net".into(),
        vec![ip("192.0.2.10"), ip("2001:db8::10")],
    );
    t.ip.insert("b.ims.example.net".into(), vec![ip("192.0.2.11")]);
    t.ip.insert("u.nonaptr.example.net".into(), vec![ip("192.0.2.20")]);
    t.ip.insert("t.nonaptr.example.net".into(), vec![ip("192.0.2.21")]);
    t.ip.insert("plain.example.net".into(), vec![ip("192.0.2.30")]);
    t
}

fn r(t: Transport, a: &str) -> Remote {
    Remote::new(t, a.parse::<SocketAddr>().unwrap())
}

async fn resolve(res: &SipResolver<Table>, uri: &str) -> Vec<Remote> {
    res.resolve(&Uri::parse(uri).unwrap()).await.unwrap()
}

#[tokio::test]
async fn rfc3263_selection() {
    let res = SipResolver::new(table(), DnsConfig::default());
    // numeric hosts: no DNS
    assert_eq!(
        resolve(&res, "sip:192.0.2.1").await,
        [r(Transport::Udp, "192.0.2.1:5060")]
    );
    assert_eq!(
        resolve(&res, "sip:192.0.2.1:5070;transport=tcp").await,
        [r(Transport::Tcp, "192.0.2.1:5070")]
    );
    assert_eq!(
        resolve(&res, "sips:[2001:db8::1]").await,
        [r(Transport::Tls, "[2001:db8::1]:5061")]
    );
    // explicit port: A/AAAA only
    assert_eq!(
        resolve(&res, "sip:a.ims.example.net:5080").await,
        [
            r(Transport::Udp, "192.0.2.10:5080"),
            r(Transport::Udp, "[2001:db8::10]:5080")
        ]
    );
    // NAPTR order/preference: TCP (10/10) before UDP (10/20); SCTP and
    // non-SIP services ignored; SRV priority 10 before 20.
    assert_eq!(
        resolve(&res, "sip:ims.example.net").await,
        [
            r(Transport::Tcp, "192.0.2.10:5062"),
            r(Transport::Tcp, "[2001:db8::10]:5062"),
            r(Transport::Tcp, "192.0.2.11:5060"),
            r(Transport::Udp, "192.0.2.10:5060"),
            r(Transport::Udp, "[2001:db8::10]:5060"),
        ]
    );
    // transport parameter: straight to that SRV name
    assert_eq!(
        resolve(&res, "sip:ims.example.net;transport=udp").await,
        [
            r(Transport::Udp, "192.0.2.10:5060"),
            r(Transport::Udp, "[2001:db8::10]:5060")
        ]
    );
    // no NAPTR: SRV for each supported transport, UDP first
    assert_eq!(
        resolve(&res, "sip:nonaptr.example.net").await,
        [
            r(Transport::Udp, "192.0.2.20:5070"),
            r(Transport::Tcp, "192.0.2.21:5071")
        ]
    );
    // no NAPTR, no SRV: A with the default transport and port
    assert_eq!(
        resolve(&res, "sip:plain.example.net").await,
        [r(Transport::Udp, "192.0.2.30:5060")]
    );
    // nothing at all
    assert!(
        res.resolve(&Uri::parse("sip:nowhere.example.net").unwrap())
            .await
            .is_err()
    );
    assert!(
        res.resolve(&Uri::parse("tel:+1555").unwrap())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn static_overrides_come_first() {
    let mut config = DnsConfig::default();
    config.overrides.insert(
        "ims.example.net".into(),
        vec![
            r(Transport::Tcp, "127.0.0.1:5058"),
            r(Transport::Udp, "127.0.0.1:5058"),
        ],
    );
    let res = SipResolver::new(table(), config);
    assert_eq!(
        resolve(&res, "sip:ims.example.net").await,
        [
            r(Transport::Tcp, "127.0.0.1:5058"),
            r(Transport::Udp, "127.0.0.1:5058")
        ]
    );
    assert_eq!(
        resolve(&res, "sip:IMS.example.net;transport=udp").await,
        [r(Transport::Udp, "127.0.0.1:5058")]
    );
}

#[test]
fn srv_weights_order_within_a_priority() {
    let res = SipResolver::new(Table::default(), DnsConfig::default());
    let records = vec![
        srv(1, 0, 1, "z"),
        srv(0, 90, 1, "heavy"),
        srv(0, 10, 1, "light"),
        srv(0, 0, 1, "zero"),
    ];
    let mut heavy_first = 0;
    for _ in 0..400 {
        let o = res.order_srv(records.clone());
        let names: Vec<&str> = o.iter().map(|s| s.target.as_str()).collect();
        assert_eq!(names.len(), 4);
        assert_eq!(names[3], "z", "priority 1 after all of priority 0");
        if names[0] == "heavy" {
            heavy_first += 1;
        }
    }
    // weight 90 of 100: first most of the time, not always
    assert!(heavy_first > 250 && heavy_first < 400, "{heavy_first}");
}

#[test]
fn blacklist_with_single_probe() {
    let mut b = Blacklist::new(Duration::from_secs(30));
    let t0 = Instant::now();
    let a = r(Transport::Udp, "192.0.2.1:5060");
    let c = r(Transport::Udp, "192.0.2.2:5060");
    assert_eq!(b.order(vec![a, c], t0), [a, c]);
    b.failed(a, t0);
    // blacklisted: moved to the end
    assert_eq!(b.order(vec![a, c], t0 + Duration::from_secs(10)), [c, a]);
    // expired: exactly one caller probes it
    let t1 = t0 + Duration::from_secs(31);
    assert_eq!(b.order(vec![a, c], t1), [a, c]);
    assert_eq!(b.order(vec![a, c], t1), [c, a]);
    // the probe succeeded: usable again
    b.succeeded(&a);
    assert_eq!(b.order(vec![a, c], t1), [a, c]);
    // a probe that fails blacklists again
    b.failed(a, t1);
    let t2 = t1 + Duration::from_secs(31);
    assert!(b.usable(&a, t2));
    b.failed(a, t2);
    assert!(!b.usable(&a, t2 + Duration::from_secs(1)));
    // a probe that never reports expires too
    let t3 = t2 + Duration::from_secs(31);
    assert!(b.usable(&a, t3));
    assert!(!b.usable(&a, t3 + Duration::from_secs(5)));
    assert!(b.usable(&a, t3 + Duration::from_secs(31)));
}

#[tokio::test]
async fn resolver_reports_feed_the_blacklist() {
    let res = SipResolver::new(table(), DnsConfig::default());
    let first = resolve(&res, "sip:ims.example.net").await[0];
    res.report_failure(first.with_flow(crate::transport::FlowId(3)));
    let again = resolve(&res, "sip:ims.example.net").await;
    assert_eq!(*again.last().unwrap(), first);
    res.report_success(first);
    assert_eq!(resolve(&res, "sip:ims.example.net").await[0], first);
}

/// The hickory backend against a DNS server on loopback (a table answered
/// with hickory-proto), to prove the real NAPTR/SRV/A path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hickory_backend_against_a_loopback_dns_server() {
    use hickory_proto::op::{Message, MessageType, OpCode};
    use hickory_proto::rr::rdata::{A, NAPTR, SRV};
    use hickory_proto::rr::{Name, Record};

    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let server = sock.local_addr().unwrap();
    let name = |s: &str| Name::from_ascii(s).unwrap();
    let answers = move |q: &hickory_proto::op::Query| -> Vec<Record> {
        let n = q.name.to_ascii().to_ascii_lowercase();
        match (n.as_str(), q.query_type) {
            ("dns.example.net.", RecordType::NAPTR) => vec![Record::from_rdata(
                name("dns.example.net."),
                60,
                RData::NAPTR(NAPTR::new(
                    10,
                    10,
                    b"s".to_vec().into(),
                    b"SIP+D2T".to_vec().into(),
                    Vec::new().into(),
                    name("_sip._tcp.dns.example.net."),
                )),
            )],
            ("_sip._tcp.dns.example.net.", RecordType::SRV) => vec![Record::from_rdata(
                name("_sip._tcp.dns.example.net."),
                60,
                RData::SRV(SRV::new(0, 0, 5099, name("node1.dns.example.net."))),
            )],
            ("node1.dns.example.net.", RecordType::A) => vec![Record::from_rdata(
                name("node1.dns.example.net."),
                60,
                RData::A(A("127.0.0.9".parse().unwrap())),
            )],
            _ => Vec::new(),
        }
    };
    let dns = tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
                return;
            };
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut resp = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
            resp.metadata.authoritative = true;
            resp.metadata.recursion_available = true;
            for q in &query.queries {
                resp.add_query(q.clone());
                resp.add_answers(answers(q));
            }
            if let Ok(bytes) = resp.to_vec() {
                let _ = sock.send_to(&bytes, peer).await;
            }
        }
    });
    let res = SipResolver::new(
        HickoryBackend::with_name_server(server).unwrap(),
        DnsConfig::default(),
    );
    let targets = res
        .resolve(&Uri::parse("sip:dns.example.net").unwrap())
        .await
        .unwrap();
    assert_eq!(targets, [r(Transport::Tcp, "127.0.0.9:5099")]);
    dns.abort();
}

#[test]
fn the_blacklist_forgets_expired_entries_and_is_bounded() {
    let mut b = Blacklist::new(Duration::from_secs(30));
    let t0 = Instant::now();
    let target = |i: u32| {
        Remote::new(
            Transport::Udp,
            SocketAddr::new(std::net::Ipv4Addr::from(0x0a00_0000 + i).into(), 5060),
        )
    };
    // Failures long ago, then as many new ones: the old ones are pruned
    // as the list grows (pruning runs each time its size doubles).
    for i in 0..5_000 {
        b.failed(target(i), t0);
    }
    let later = t0 + Duration::from_secs(31);
    for i in 10_000..15_000 {
        b.failed(target(i), later);
    }
    assert_eq!(b.len(), 5_000);
    assert!(!b.usable(&target(10_000), later));
    // Live entries are kept up to the bound; beyond it failures are not
    // recorded (the target stays usable) rather than growing the list.
    let now = t0 + Duration::from_secs(40);
    for i in 0..(Blacklist::MAX_ENTRIES as u32 + 10) {
        b.failed(target(i), now);
    }
    assert_eq!(b.len(), Blacklist::MAX_ENTRIES);
    assert!(b.usable(&target(Blacklist::MAX_ENTRIES as u32 + 5), now));
    // Once those have expired, a new failure prunes them and is recorded:
    // a full list does not stay full.
    let much_later = now + Duration::from_secs(31);
    b.failed(target(1_000_000), much_later);
    assert_eq!(b.len(), 1);
    assert!(!b.usable(&target(1_000_000), much_later));
}
