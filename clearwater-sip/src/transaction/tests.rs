//! Deterministic tests of the transaction layer: two layers (a UAC and a UAS
//! with scripted TUs) joined by an in-memory network with seeded loss,
//! duplication and delay, on a virtual clock that jumps to the next deadline.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::sim::{self, Element, NetConfig, addr};
use crate::transport::Transport;

pub(crate) const UAC: usize = 0;
pub(crate) const UAS: usize = 1;

/// What a scripted TU does with an output of its layer.
pub(crate) type Tu = Box<dyn FnMut(&mut TransactionLayer, &Output, Instant, &mut Vec<Scheduled>)>;

/// What a scheduled TU action does when its time comes; it may schedule more.
pub(crate) type Action = Box<dyn FnOnce(&mut TransactionLayer, Instant, &mut Vec<Scheduled>)>;

/// An action a TU wants done later (a delayed response).
pub(crate) struct Scheduled {
    pub(crate) at: Instant,
    pub(crate) action: Action,
}

/// A transaction layer with a scripted TU.
pub(crate) struct Node {
    addr: SocketAddr,
    pub(crate) layer: TransactionLayer,
    tu: Tu,
    later: Vec<Scheduled>,
}

impl Node {
    pub(crate) fn new(i: usize, tu: Tu) -> Node {
        Node {
            addr: addr(i),
            layer: TransactionLayer::new(Config::default()),
            tu,
            later: Vec::new(),
        }
    }
}

impl Element for Node {
    fn addr(&self) -> SocketAddr {
        self.addr
    }
    fn receive(&mut self, msg: Message, from: Remote, now: Instant) {
        self.layer.handle_message(msg, from, now);
    }
    fn timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        let (ready, wait): (Vec<_>, Vec<_>) = self.later.drain(..).partition(|s| s.at <= now);
        self.later = wait;
        let mut more = Vec::new();
        for s in ready {
            (s.action)(&mut self.layer, now, &mut more);
        }
        self.later.extend(more);
    }
    fn next_timeout(&mut self) -> Option<Instant> {
        let l = self.later.iter().map(|s| s.at).min();
        match (self.layer.poll_timeout(), l) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
    fn drain(&mut self, now: Instant) -> (Vec<(Remote, Bytes)>, Vec<String>) {
        let (mut tx, mut ev) = (Vec::new(), Vec::new());
        while let Some(o) = self.layer.poll_output() {
            match &o {
                Output::Transmit { to, data, .. } => tx.push((*to, data.clone())),
                other => {
                    ev.push(describe(other));
                    let mut later = Vec::new();
                    (self.tu)(&mut self.layer, &o, now, &mut later);
                    self.later.extend(later);
                }
            }
        }
        (tx, ev)
    }
    fn idle(&self) -> bool {
        self.layer.is_idle()
    }
}

type Sim = sim::Sim<Node>;

/// A UAC and a UAS with the given TUs.
fn pair(transport: Transport, net: NetConfig, seed: u64, uac: Tu, uas: Tu) -> Sim {
    let mut sim = Sim::new(transport, net, seed);
    sim.add(Node::new(UAC, uac));
    sim.add(Node::new(UAS, uas));
    sim
}

pub(crate) fn describe(o: &Output) -> String {
    match o {
        Output::Request {
            request, cancels, ..
        } => format!(
            "request {}{}",
            request.method(),
            if cancels.is_some() { " (cancels)" } else { "" }
        ),
        Output::Ack { .. } => "ack".into(),
        Output::Response { response, .. } => format!("response {}", response.status()),
        Output::StrayResponse { response, .. } => format!("stray {}", response.status()),
        Output::Timeout { .. } => "timeout".into(),
        Output::TransportFailed { .. } => "transport failed".into(),
        Output::Terminated { reason, .. } => format!("terminated {reason:?}"),
        Output::Transmit { .. } => "transmit".into(),
    }
}

pub(crate) fn request(method: &str, branch: &str, from_host: &str) -> Request {
    let raw = format!(
        "{method} sip:bob@192.0.2.2 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {from_host}:5060;branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=a1\r\n\
         To: <sip:bob@example.com>\r\n\
         Call-ID: {branch}@example.com\r\n\
         CSeq: 1 {method}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    match Message::parse(Bytes::from(raw)).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

pub(crate) fn reply(layer: &mut TransactionLayer, tx: ServerTxId, code: u16, now: Instant) {
    let req = layer.server_request(tx).unwrap().clone();
    let tag = if code == 100 { None } else { Some("b2") };
    let resp = req
        .make_response(StatusCode::from_u16(code).unwrap(), None, tag)
        .unwrap();
    layer.send_response(tx, resp, now).unwrap();
}

type Acked = std::rc::Rc<std::cell::RefCell<std::collections::HashSet<String>>>;

/// The UAS core's 2xx retransmission (RFC 3261 §13.3.1.4): T1 doubling up to
/// T2 until the ACK arrives or the transaction is gone (Timer L).
fn retransmit_2xx(
    tx: ServerTxId,
    resp: Response,
    interval: Duration,
    acked: Acked,
    at: Instant,
) -> Scheduled {
    Scheduled {
        at,
        action: Box::new(move |l, now, more| {
            let call_id = resp.call_id().unwrap().as_str().to_owned();
            if acked.borrow().contains(&call_id) {
                return;
            }
            if l.send_response(tx, resp.clone(), now).is_ok() {
                let next = (interval * 2).min(l.config().t2);
                more.push(retransmit_2xx(tx, resp, next, acked, now + interval));
            }
        }),
    }
}

/// A UAS TU that answers every request with `codes` (provisional first),
/// `after` after it arrives (2xx to INVITE retransmitted until ACKed); CANCELs
/// get 200 and their INVITE 487.
pub(crate) fn uas(codes: &'static [u16], after: Duration) -> Tu {
    uas_with_contact(None, codes, after)
}

/// [`uas`] whose responses carry `Contact: <sip:uas@contact>`.
pub(crate) fn uas_with_contact(
    contact: Option<SocketAddr>,
    codes: &'static [u16],
    after: Duration,
) -> Tu {
    let acked: Acked = Default::default();
    Box::new(move |_layer, o, now, later| match o {
        Output::Ack { request, .. } => {
            acked
                .borrow_mut()
                .insert(request.call_id().unwrap().as_str().to_owned());
        }
        Output::Request {
            tx,
            request,
            cancels,
            ..
        } => {
            let tx = *tx;
            if request.method() == &Method::CANCEL {
                let inv = *cancels;
                later.push(Scheduled {
                    at: now,
                    action: Box::new(move |l, now, _| {
                        reply(l, tx, 200, now);
                        if let Some(r) = inv.and_then(|i| l.server_request(i).cloned()) {
                            let resp = r
                                .make_response(StatusCode::REQUEST_TERMINATED, None, Some("b2"))
                                .unwrap();
                            let _ = l.send_response(inv.unwrap(), resp, now);
                        }
                    }),
                });
                return;
            }
            let invite = request.method() == &Method::INVITE;
            for (i, &code) in codes.iter().enumerate() {
                let acked = acked.clone();
                later.push(Scheduled {
                    at: now + after * (i as u32 + 1),
                    action: Box::new(move |l, now, more| {
                        // The transaction may have ended (e.g. cancelled).
                        let Some(r) = l.server_request(tx).cloned() else {
                            return;
                        };
                        let tag = if code == 100 { None } else { Some("b2") };
                        let mut resp = r
                            .make_response(StatusCode::from_u16(code).unwrap(), None, tag)
                            .unwrap();
                        if let Some(c) = contact {
                            resp.push_header(&HeaderName::CONTACT, &format!("<sip:uas@{c}>"))
                                .unwrap();
                        }
                        if l.send_response(tx, resp.clone(), now).is_ok()
                            && invite
                            && (200..300).contains(&code)
                        {
                            let t1 = l.config().t1;
                            more.push(retransmit_2xx(tx, resp, t1, acked, now + t1));
                        }
                    }),
                });
            }
        }
        _ => {}
    })
}

/// A UAC TU that ACKs 2xx responses to INVITE (outside the transaction).
fn uac() -> Tu {
    uac_acking_via(UAS)
}

/// A UAC TU that ACKs 2xx responses to INVITE, sending the ACK to element
/// `first_hop` with the route set from the response's Record-Route.
pub(crate) fn uac_acking_via(first_hop: usize) -> Tu {
    Box::new(move |layer, o, _now, _later| {
        if let Output::Response { tx, response } = o
            && response.status().is_success()
            && response.cseq().is_ok_and(|c| c.method == Method::INVITE)
        {
            let invite = layer.client_request(*tx).unwrap();
            // The ACK goes to the remote target (the 2xx's Contact) if any.
            let target = response
                .contacts()
                .next()
                .and_then(|c| c.ok())
                .and_then(|c| c.addr().map(|a| a.uri().into_owned()))
                .unwrap_or_else(|| invite.uri().into_owned());
            let mut ack = Request::new(Method::ACK, &target);
            ack.push_header(
                &HeaderName::VIA,
                "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKack2xx",
            )
            .unwrap();
            ack.push_header(&HeaderName::MAX_FORWARDS, "70").unwrap();
            // UAC route set: the Record-Route values reversed (RFC 3261 §12.1.2).
            let rr: Vec<String> = response
                .record_routes()
                .map(|r| r.unwrap().to_string())
                .collect();
            for r in rr.iter().rev() {
                ack.push_header(&HeaderName::ROUTE, r).unwrap();
            }
            for n in [HeaderName::FROM, HeaderName::CALL_ID] {
                let v = invite
                    .headers()
                    .get(&n)
                    .unwrap()
                    .value_str()
                    .unwrap()
                    .to_owned();
                ack.push_header(&n, &v).unwrap();
            }
            let to = response
                .headers()
                .get(&HeaderName::TO)
                .unwrap()
                .value_str()
                .unwrap()
                .to_owned();
            ack.push_header(&HeaderName::TO, &to).unwrap();
            let cseq = invite.cseq().unwrap().seq;
            ack.push_header(&HeaderName::CSEQ, &format!("{cseq} ACK"))
                .unwrap();
            ack.push_header(&HeaderName::CONTENT_LENGTH, "0").unwrap();
            let dest = Remote::new(Transport::Udp, addr(first_hop));
            layer.send_stateless(&Message::Request(ack), dest);
        }
    })
}

fn start(sim: &mut Sim, method: &str, branch: &str) -> ClientTxId {
    let to = sim.remote_of(UAS);
    let now = sim.now;
    sim.nodes[UAC]
        .layer
        .send_request(request(method, branch, "192.0.2.1"), to, now)
        .unwrap()
}

pub(crate) fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

#[test]
fn non_invite_udp_happy_path_ends_with_timers_k_and_j() {
    let mut sim = pair(
        Transport::Udp,
        NetConfig::default(),
        1,
        uac(),
        uas(&[200], ms(0)),
    );
    start(&mut sim, "OPTIONS", "z9hG4bKo1");
    sim.run(Duration::from_secs(120));
    assert_eq!(sim.events(UAC), ["response 200", "terminated Normal"]);
    assert_eq!(sim.events(UAS), ["request OPTIONS", "terminated Normal"]);
    // Timer K = T4 after the response (at 20 ms): terminated at 5.02 s.
    assert_eq!(sim.log[UAC][1].0, ms(5020));
    // Timer J = 64*T1 after the response (sent at 10 ms): 32.01 s.
    assert_eq!(sim.log[UAS][1].0, ms(32_010));
    assert!(sim.idle());
}

#[test]
fn non_invite_retransmits_on_timer_e_and_times_out_on_f() {
    let mut sim = pair(
        Transport::Udp,
        NetConfig::default(),
        1,
        uac(),
        uas(&[], ms(0)),
    );
    sim.filter = Box::new(|from, _| from == UAC); // every request lost
    start(&mut sim, "OPTIONS", "z9hG4bKo2");
    sim.run(Duration::from_secs(120));
    let times: Vec<u64> = sim.sent[UAC]
        .iter()
        .map(|(t, _)| t.as_millis() as u64)
        .collect();
    // 0, then E doubling from T1 up to T2: 0.5, 1.5, 3.5, 7.5, then every 4 s.
    assert_eq!(
        times,
        [
            0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
    );
    assert_eq!(sim.events(UAC), ["timeout", "terminated Timeout"]);
    assert_eq!(sim.log[UAC][0].0, Duration::from_secs(32));
    assert!(sim.idle());
}

#[test]
fn non_invite_proceeding_retransmits_every_t2() {
    let mut sim = pair(
        Transport::Udp,
        NetConfig::default(),
        1,
        uac(),
        uas(&[100], ms(0)),
    );
    // the UAS answers 100 then nothing: the client keeps retransmitting at T2
    start(&mut sim, "OPTIONS", "z9hG4bKo3");
    sim.run(Duration::from_secs(120));
    let t: Vec<u64> = sim.sent[UAC]
        .iter()
        .map(|(t, _)| t.as_millis() as u64)
        .collect();
    assert_eq!(&t[..3], [0, 500, 4500]);
    assert!(t.windows(2).skip(1).all(|w| w[1] - w[0] == 4000));
    // §17.1.2.2: every provisional response in Proceeding goes up to the TU
    // (the UAS resends its 100 for each retransmission).
    let ev = sim.events(UAC);
    assert!(ev.len() > 3 && ev[..ev.len() - 2].iter().all(|e| e == "response 100"));
    assert_eq!(ev[ev.len() - 2..], ["timeout", "terminated Timeout"]);
    assert!(sim.sent[UAS].len() >= 8);
    // Its transaction is still waiting for the TU; nothing else is pending.
    assert_eq!(sim.nodes[UAS].layer.server_count(), 1);
}

#[test]
fn invite_retransmits_on_timer_a_and_times_out_on_b() {
    let mut sim = pair(
        Transport::Udp,
        NetConfig::default(),
        1,
        uac(),
        uas(&[], ms(0)),
    );
    sim.filter = Box::new(|from, _| from == UAC);
    start(&mut sim, "INVITE", "z9hG4bKi1");
    sim.run(Duration::from_secs(120));
    let times: Vec<u64> = sim.sent[UAC]
        .iter()
        .map(|(t, _)| t.as_millis() as u64)
        .collect();
    assert_eq!(times, [0, 500, 1500, 3500, 7500, 15_500, 31_500]);
    assert_eq!(sim.events(UAC), ["timeout", "terminated Timeout"]);
    assert_eq!(sim.log[UAC][0].0, Duration::from_secs(32));
    assert!(sim.idle());
}

#[test]
fn invite_non_2xx_is_acked_and_retransmitted_on_timer_g_until_ack() {
    let mut sim = pair(
        Transport::Udp,
        NetConfig::default(),
        1,
        uac(),
        uas(&[486], ms(0)),
    );
    // Lose the UAS's first three 486s: G retransmits at 0.5, 1, 2 s.
    // Also drop the client's INVITE retransmissions (Timer A), which would
    // make the server resend its 486 too: only Timer G is left.
    let (mut lost, mut invites) = (0, 0);
    sim.filter = Box::new(move |from, d| {
        if from == UAC && d.starts_with(b"INVITE") {
            invites += 1;
            return invites > 1;
        }
        if from == UAS && d.starts_with(b"SIP/2.0 486") && lost < 3 {
            lost += 1;
            true
        } else {
            false
        }
    });
    start(&mut sim, "INVITE", "z9hG4bKi2");
    sim.run(Duration::from_secs(120));
    let uas_sent: Vec<(u64, String)> = sim.sent[UAS]
        .iter()
        .map(|(t, l)| (t.as_millis() as u64, l.clone()))
        .collect();
    let finals: Vec<u64> = uas_sent
        .iter()
        .filter(|(_, l)| l.contains("486"))
        .map(|(t, _)| *t)
        .collect();
    // sent at 10 ms (INVITE arrival) then G = 0.5, 1, 2 s doubling
    assert_eq!(finals, [10, 510, 1510, 3510]);
    // the 486 reached the UAC once; it sent exactly one ACK (in the transaction)
    let acks = sim.sent[UAC]
        .iter()
        .filter(|(_, l)| l.starts_with("ACK"))
        .count();
    assert_eq!(acks, 1);
    assert_eq!(sim.events(UAC), ["response 486", "terminated Normal"]);
    // UAS: Confirmed on ACK then Timer I (T4)
    assert_eq!(sim.events(UAS), ["request INVITE", "terminated Normal"]);
    assert_eq!(sim.log[UAS][1].0, ms(3530 + 5000));
    // UAC: Timer D = 32 s after the 486 arrived at 3.52 s
    assert_eq!(sim.log[UAC][1].0, ms(3520 + 32_000));
    assert!(sim.idle());
}

#[test]
fn invite_server_without_ack_ends_on_timer_h() {
    let mut sim = pair(
        Transport::Udp,
        NetConfig::default(),
        1,
        uac(),
        uas(&[603], ms(0)),
    );
    sim.filter = Box::new(|from, d| from == UAC && d.starts_with(b"ACK"));
    start(&mut sim, "INVITE", "z9hG4bKi3");
    sim.run(Duration::from_secs(120));
    assert_eq!(sim.events(UAS), ["request INVITE", "terminated AckTimeout"]);
    assert_eq!(sim.log[UAS][1].0, ms(10 + 32_000));
    // each retransmitted 603 was ACKed again by the client (Completed state)
    let acks = sim.sent[UAC]
        .iter()
        .filter(|(_, l)| l.starts_with("ACK"))
        .count();
    let finals = sim.sent[UAS]
        .iter()
        .filter(|(_, l)| l.contains("603"))
        .count();
    assert_eq!(acks, finals);
    assert!(sim.idle());
}

#[test]
fn invite_2xx_accepted_state_passes_retransmissions_and_ack_up() {
    let mut sim = pair(
        Transport::Udp,
        NetConfig::default(),
        1,
        uac(),
        uas(&[180, 200], ms(100)),
    );
    start(&mut sim, "INVITE", "z9hG4bKi4");
    sim.run(Duration::from_secs(120));
    assert_eq!(
        sim.events(UAC),
        ["response 180", "response 200", "terminated Normal"]
    );
    // Timer M = 64*T1 after the 2xx (sent at 210 ms, arrives 220 ms)
    assert_eq!(sim.log[UAC][2].0, ms(220 + 32_000));
    // the 2xx ACK (new branch) reaches the UAS TU; Timer L ends the INVITE tx
    assert_eq!(
        sim.events(UAS),
        ["request INVITE", "ack", "terminated Normal"]
    );
    assert_eq!(sim.log[UAS][2].0, ms(210 + 32_000));
    // no retransmission of the INVITE: the 180 came before Timer A
    let invites = sim.sent[UAC]
        .iter()
        .filter(|(_, l)| l.starts_with("INVITE"))
        .count();
    assert_eq!(invites, 1);
    assert!(sim.idle());
}

#[test]
fn automatic_100_trying_stops_invite_retransmissions() {
    let mut sim = pair(
        Transport::Udp,
        NetConfig::default(),
        1,
        uac(),
        uas(&[200], ms(3000)),
    );
    start(&mut sim, "INVITE", "z9hG4bKi5");
    sim.run(Duration::from_secs(120));
    assert_eq!(sim.events(UAC)[..2], ["response 100", "response 200"]);
    // 100 sent 200 ms after the INVITE arrived (10 ms), received at 220 ms:
    // Timer A (500 ms) never fired.
    let invites = sim.sent[UAC]
        .iter()
        .filter(|(_, l)| l.starts_with("INVITE"))
        .count();
    assert_eq!(invites, 1);
    assert_eq!(sim.sent[UAS][0], (ms(210), "SIP/2.0 100 Trying".to_owned()));
    assert!(sim.idle());
}

#[test]
fn cancel_after_provisional_gets_487() {
    let mut sim = pair(
        Transport::Udp,
        NetConfig::default(),
        1,
        uac(),
        uas(&[180, 200], ms(5000)),
    );
    let tx = start(&mut sim, "INVITE", "z9hG4bKi6");
    sim.run(Duration::from_secs(6)); // 100 at 220 ms, 180 at ~5 s
    assert_eq!(sim.events(UAC), ["response 100", "response 180"]);
    let now = sim.now;
    assert!(sim.nodes[UAC].layer.cancel(tx, now).unwrap());
    sim.run(Duration::from_secs(200));
    assert_eq!(
        sim.events(UAC),
        [
            "response 100",
            "response 180",
            "response 487",
            "terminated Normal"
        ]
    );
    assert_eq!(
        sim.events(UAS),
        [
            "request INVITE",
            "request CANCEL (cancels)",
            "terminated Normal",
            "terminated Normal"
        ]
    );
    assert!(sim.sent[UAC].iter().any(|(_, l)| l.starts_with("CANCEL")));
    assert!(sim.idle());
}

#[test]
fn cancelled_invite_without_final_response_ends_after_64_t1() {
    // The UAS answers 180 and then never sends a final response, not even
    // after the CANCEL (which it acknowledges with 200).
    let tu: Tu = Box::new(|_l, o, now, later| {
        if let Output::Request { tx, request, .. } = o {
            let tx = *tx;
            let code = if request.method() == &Method::CANCEL {
                200
            } else {
                180
            };
            later.push(Scheduled {
                at: now,
                action: Box::new(move |l, now, _| reply(l, tx, code, now)),
            });
        }
    });
    let mut sim = pair(Transport::Udp, NetConfig::default(), 1, uac(), tu);
    let tx = start(&mut sim, "INVITE", "z9hG4bKc9");
    sim.run(ms(100));
    let now = sim.now;
    assert!(sim.nodes[UAC].layer.cancel(tx, now).unwrap());
    sim.run(Duration::from_secs(300));
    let ev = sim.events(UAC);
    assert_eq!(ev[ev.len() - 2..], ["timeout", "terminated Timeout"]);
    let timeout_at = sim.log[UAC][sim.log[UAC].len() - 2].0;
    assert_eq!(timeout_at, now - sim.start + Duration::from_secs(32));
    assert_eq!(sim.nodes[UAC].layer.client_count(), 0);
}

#[test]
fn cancel_before_provisional_waits_for_it() {
    let mut sim = pair(
        Transport::Udp,
        NetConfig::default(),
        1,
        uac(),
        uas(&[180, 200], ms(2000)),
    );
    sim.nodes[UAS].layer = TransactionLayer::new(Config::default().with_auto_trying(false));
    let tx = start(&mut sim, "INVITE", "z9hG4bKi7");
    sim.run(ms(100));
    let now = sim.now;
    assert!(sim.nodes[UAC].layer.cancel(tx, now).unwrap());
    sim.drain();
    assert!(!sim.sent[UAC].iter().any(|(_, l)| l.starts_with("CANCEL")));
    sim.run(Duration::from_secs(200));
    let cancel_at = sim.sent[UAC]
        .iter()
        .find(|(_, l)| l.starts_with("CANCEL"))
        .unwrap()
        .0;
    assert_eq!(cancel_at, ms(2010 + 10)); // right when the 180 arrived
    assert!(sim.events(UAC).contains(&"response 487".to_owned()));
    assert!(sim.idle());
}

#[test]
fn reliable_transport_never_retransmits_and_ends_at_once() {
    let mut sim = pair(
        Transport::Tcp,
        NetConfig::default(),
        1,
        uac(),
        uas(&[486], ms(0)),
    );
    start(&mut sim, "INVITE", "z9hG4bKt1");
    start(&mut sim, "OPTIONS", "z9hG4bKt2");
    sim.run(Duration::from_secs(120));
    let invites = sim.sent[UAC]
        .iter()
        .filter(|(_, l)| l.starts_with("INVITE"))
        .count();
    assert_eq!(invites, 1);
    // Timers D and K are zero: both client transactions end with their response.
    assert!(sim.log[UAC].iter().all(|(t, _)| *t <= ms(30)));
    // Timer I and J are zero; the INVITE server tx ends when the ACK arrives.
    assert!(sim.log[UAS].iter().all(|(t, _)| *t <= ms(40)));
    assert!(sim.idle());
}

#[test]
fn retransmissions_are_absorbed() {
    let net = NetConfig {
        dup: 1.0,
        ..NetConfig::default()
    };
    let mut sim = pair(Transport::Udp, net, 7, uac(), uas(&[180, 486], ms(100)));
    start(&mut sim, "INVITE", "z9hG4bKd1");
    start(&mut sim, "MESSAGE", "z9hG4bKd2");
    sim.run(Duration::from_secs(120));
    let uas_requests = sim
        .events(UAS)
        .iter()
        .filter(|e| e.starts_with("request"))
        .count();
    assert_eq!(uas_requests, 2, "each request reaches the TU once");
    let uac = sim.events(UAC);
    // One final response per transaction reaches the TU (duplicates absorbed);
    // provisional ones in Proceeding go up each time (§17.1.1.2, §17.1.2.2),
    // so each duplicated 180 is seen twice.
    assert_eq!(uac.iter().filter(|e| *e == "response 486").count(), 2);
    assert_eq!(uac.iter().filter(|e| *e == "response 180").count(), 4);
    assert!(sim.idle());
}

#[test]
fn rfc2543_requests_match_without_magic_cookie() {
    let (mut layer, now, from) = uac_layer(Config::default());
    let inv = request("INVITE", "old-style-1", "192.0.2.1");
    layer.handle_message(Message::Request(inv.clone()), from, now);
    let Some(Output::Request { tx, .. }) = layer.poll_output() else {
        panic!()
    };
    // retransmission: absorbed
    layer.handle_message(Message::Request(inv.clone()), from, now);
    assert!(layer.poll_output().is_none());
    reply(&mut layer, tx, 486, now);
    while layer.poll_output().is_some() {}
    // the ACK with the To tag of the 486 matches the transaction
    let mut ack = build_ack(
        &inv,
        &inv.make_response(StatusCode::BUSY_HERE, None, Some("b2"))
            .unwrap(),
    )
    .unwrap();
    ack.pop_via().unwrap();
    ack.push_via(
        &crate::header::Via::parse("SIP/2.0/UDP 192.0.2.1:5060;branch=old-style-1").unwrap(),
    )
    .unwrap();
    layer.handle_message(Message::Request(ack.clone()), from, now);
    assert!(
        layer.poll_output().is_none(),
        "ACK absorbed by the server transaction"
    );
    // an ACK with another To tag is an ACK for a 2xx: passed to the TU
    let mut other = build_ack(
        &inv,
        &inv.make_response(StatusCode::OK, None, Some("zz")).unwrap(),
    )
    .unwrap();
    other.pop_via().unwrap();
    other
        .push_via(
            &crate::header::Via::parse("SIP/2.0/UDP 192.0.2.1:5060;branch=old-style-1").unwrap(),
        )
        .unwrap();
    layer.handle_message(Message::Request(other), from, now);
    assert!(matches!(layer.poll_output(), Some(Output::Ack { .. })));
    layer.handle_timeout(now + Duration::from_secs(60));
    while layer.poll_output().is_some() {}
    assert!(layer.is_idle());
}

#[test]
fn a_response_with_another_sent_by_is_discarded() {
    // §18.1.2: the branch matches, but the top Via's sent-by is not ours.
    let mut layer = TransactionLayer::new(Config::default());
    let now = Instant::now();
    let to = Remote::new(Transport::Udp, addr(UAS));
    let req = request("OPTIONS", "z9hG4bKsentby", "192.0.2.1");
    layer.send_request(req.clone(), to, now).unwrap();
    while layer.poll_output().is_some() {}
    let answer_via = |via: &str| {
        let mut r = req.make_response(StatusCode::OK, None, Some("x")).unwrap();
        r.pop_via().unwrap();
        r.push_via(&crate::header::Via::parse(via).unwrap())
            .unwrap();
        Message::Response(r)
    };
    let forged = answer_via("SIP/2.0/UDP 203.0.113.9:5060;branch=z9hG4bKsentby");
    layer.handle_message(forged, to, now);
    assert!(layer.poll_output().is_none(), "a foreign sent-by was taken");
    // The same response with our sent-by is taken.
    layer.handle_message(
        answer_via("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKsentby"),
        to,
        now,
    );
    assert!(matches!(layer.poll_output(), Some(Output::Response { .. })));
}

#[test]
fn an_abandoned_non_invite_absorbs_retransmissions_then_ends() {
    let (mut layer, now, from) = uac_layer(Config::default());
    let req = request("MESSAGE", "z9hG4bKabandon", "192.0.2.1");
    layer.handle_message(Message::Request(req.clone()), from, now);
    let Some(Output::Request { tx, .. }) = layer.poll_output() else {
        panic!("no request")
    };
    layer.abandon(tx, now).unwrap();
    assert!(layer.poll_output().is_none(), "nothing sent");
    // A retransmission is absorbed: no response, nothing for the TU.
    layer.handle_message(Message::Request(req), from, now + Duration::from_secs(1));
    assert!(layer.poll_output().is_none());
    assert!(layer.abandon(tx, now).is_err(), "already completed");
    // Timer J (64·T1) ends it.
    layer.handle_timeout(now + Duration::from_secs(33));
    while layer.poll_output().is_some() {}
    assert!(layer.is_idle());
    // An INVITE must be answered.
    layer.handle_message(
        Message::Request(request("INVITE", "z9hG4bKabandon2", "192.0.2.1")),
        from,
        now,
    );
    let Some(Output::Request { tx, .. }) = layer.poll_output() else {
        panic!("no request")
    };
    assert!(layer.abandon(tx, now).is_err());
}

#[test]
fn stray_responses_and_bad_requests() {
    let mut layer = TransactionLayer::new(Config::default());
    let now = Instant::now();
    let from = Remote::new(Transport::Udp, addr(UAS));
    let req = request("OPTIONS", "z9hG4bKnobody", "192.0.2.1");
    let resp = req.make_response(StatusCode::OK, None, Some("x")).unwrap();
    layer.handle_message(Message::Response(resp), from, now);
    assert!(matches!(
        layer.poll_output(),
        Some(Output::StrayResponse { .. })
    ));
    // requests the layer refuses to send
    let to = Remote::new(Transport::Udp, addr(UAS));
    assert!(
        layer
            .send_request(request("ACK", "z9hG4bKa", "192.0.2.1"), to, now)
            .is_err()
    );
    assert!(
        layer
            .send_request(request("OPTIONS", "nocookie", "192.0.2.1"), to, now)
            .is_err()
    );
    let ok = layer
        .send_request(request("OPTIONS", "z9hG4bKsame", "192.0.2.1"), to, now)
        .unwrap();
    assert!(
        layer
            .send_request(request("OPTIONS", "z9hG4bKsame", "192.0.2.1"), to, now)
            .is_err()
    );
    // responses the server transaction refuses
    assert!(
        layer
            .send_response(ServerTxId(999), resp_for(&req, 200), now)
            .is_err()
    );
    layer.transport_error(TxId::Client(ok));
    let outs: Vec<String> = std::iter::from_fn(|| layer.poll_output())
        .map(|o| describe(&o))
        .collect();
    assert_eq!(
        outs,
        ["transmit", "transport failed", "terminated TransportError"]
    );
    // Only stale timers of the ended transaction are left: polling drops them.
    assert_eq!(layer.poll_timeout(), None);
    assert!(layer.is_idle());
}

fn resp_for(req: &Request, code: u16) -> Response {
    req.make_response(StatusCode::from_u16(code).unwrap(), None, Some("t"))
        .unwrap()
}

#[test]
fn server_rejects_responses_out_of_order() {
    let (mut layer, now, from) = uac_layer(Config::default());
    let req = request("OPTIONS", "z9hG4bKs1", "192.0.2.1");
    layer.handle_message(Message::Request(req.clone()), from, now);
    let Some(Output::Request { tx, .. }) = layer.poll_output() else {
        panic!()
    };
    layer.send_response(tx, resp_for(&req, 200), now).unwrap();
    assert!(layer.send_response(tx, resp_for(&req, 200), now).is_err());
    assert!(layer.send_response(tx, resp_for(&req, 180), now).is_err());
}

/// Many transactions over a network that loses, duplicates and reorders:
/// every client transaction ends with a final response or a timeout, no
/// response is stray, no request reaches the UAS TU twice, and both tables end
/// empty.
#[test]
fn lossy_network_property_no_leaks() {
    for seed in 1..=40u64 {
        let net = NetConfig {
            loss: 0.3,
            dup: 0.2,
            min_delay: ms(5),
            jitter: ms(400),
        };
        let codes: &'static [&'static [u16]] =
            &[&[200], &[180, 486], &[100, 200], &[180, 200], &[603]];
        let pick = codes[(seed % codes.len() as u64) as usize];
        // The UAS TU notes the Call-ID (one per transaction) of each request.
        let seen: std::rc::Rc<std::cell::RefCell<Vec<String>>> = Default::default();
        let mut inner = uas(pick, ms(150));
        let noted = seen.clone();
        let uas_tu: Tu = Box::new(move |l, o, now, later| {
            if let Output::Request { request, .. } = o {
                let id = request.call_id().unwrap().as_str().to_owned();
                noted.borrow_mut().push(id);
            }
            inner(l, o, now, later);
        });
        let mut sim = pair(Transport::Udp, net, seed, uac(), uas_tu);
        let n = 6;
        for i in 0..n {
            let method = if i % 2 == 0 { "INVITE" } else { "MESSAGE" };
            start(&mut sim, method, &format!("z9hG4bKp{seed}x{i}"));
        }
        sim.run(Duration::from_secs(600));
        let uac = sim.events(UAC);
        let ended = uac.iter().filter(|e| e.starts_with("terminated")).count();
        assert_eq!(ended, n, "seed {seed}: {uac:?}");
        assert!(
            !uac.iter().any(|e| e.starts_with("stray")),
            "seed {seed}: {uac:?}"
        );
        let mut ids = seen.borrow().clone();
        let total = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(
            ids.len(),
            total,
            "seed {seed}: duplicates reached the TU: {:?}",
            seen.borrow()
        );
        assert!(
            sim.nodes.iter().all(|n| n.layer.is_idle()),
            "seed {seed}: leaked {:?}",
            sim.nodes
                .iter()
                .map(|n| format!("{:?}", n.layer))
                .collect::<Vec<_>>()
        );
    }
}

/// A layer allowing `cap` server transactions, filled with `cap` OPTIONS
/// transactions (branches `z9hG4bKcap1`...).
/// A layer with `config`, the time now and the UAC as a UDP remote.
fn uac_layer(config: Config) -> (TransactionLayer, Instant, Remote) {
    let from = Remote::new(Transport::Udp, addr(UAC));
    (TransactionLayer::new(config), Instant::now(), from)
}

fn full_layer(cap: usize) -> (TransactionLayer, Instant, Remote) {
    let (mut layer, now, from) = uac_layer(Config {
        max_server_transactions: cap,
        ..Config::default()
    });
    for i in 1..=cap {
        let branch = format!("z9hG4bKcap{i}");
        layer.handle_message(
            Message::Request(request("OPTIONS", &branch, "192.0.2.1")),
            from,
            now,
        );
        assert!(matches!(layer.poll_output(), Some(Output::Request { .. })));
    }
    (layer, now, from)
}

#[test]
fn beyond_the_transaction_limit_requests_get_a_stateless_503() {
    let (mut layer, now, from) = full_layer(2);
    // The third: no transaction, no request for the TU, a 503 on the wire.
    let third = request("OPTIONS", "z9hG4bKcap3", "192.0.2.1");
    for _ in 0..2 {
        layer.handle_message(Message::Request(third.clone()), from, now);
        let outs: Vec<Output> = std::iter::from_fn(|| layer.poll_output()).collect();
        assert_eq!(
            outs.len(),
            1,
            "{:?}",
            outs.iter().map(describe).collect::<Vec<_>>()
        );
        let Output::Transmit { data, tx, .. } = &outs[0] else {
            panic!("{}", describe(&outs[0]))
        };
        assert!(tx.is_none());
        let Message::Response(r) = Message::parse(data.clone()).unwrap() else {
            panic!()
        };
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            r.headers()
                .get(&crate::name::HeaderName::RETRY_AFTER)
                .is_some()
        );
        // A To tag (§8.2.6.2), which its ACK will carry.
        let want = overload_tag(&third).unwrap();
        assert_eq!(r.to().unwrap().tag(), Some(want.as_str()));
    }
    // The ACK of that 503 ends here; other ACKs still pass up (they never
    // make a transaction).
    let mut ack = request("ACK", "z9hG4bKcap3", "192.0.2.1");
    let tag = overload_tag(&third).unwrap();
    ack.set_header(
        &crate::name::HeaderName::TO,
        &format!("<sip:bob@example.com>;tag={tag}"),
    )
    .unwrap();
    layer.handle_message(Message::Request(ack), from, now);
    assert!(layer.poll_output().is_none());
    layer.handle_message(
        Message::Request(request("ACK", "z9hG4bKcap4", "192.0.2.1")),
        from,
        now,
    );
    assert!(matches!(layer.poll_output(), Some(Output::Ack { .. })));
}

#[test]
fn under_overload_the_ack_of_a_503_to_a_re_invite_ends_here() {
    let (mut layer, now, from) = full_layer(1);
    // A re-INVITE: its To tag is the dialog's, so the 503 keeps it.
    let in_dialog = |method: &str, branch: &str| {
        let mut r = request(method, branch, "192.0.2.1");
        r.set_header(
            &crate::name::HeaderName::TO,
            "<sip:bob@example.com>;tag=dlg7",
        )
        .unwrap();
        r.set_header(&crate::name::HeaderName::CALL_ID, "dialog-7@example.com")
            .unwrap();
        r
    };
    layer.handle_message(
        Message::Request(in_dialog("INVITE", "z9hG4bKreinv")),
        from,
        now,
    );
    let Some(Output::Transmit { data, .. }) = layer.poll_output() else {
        panic!("no 503")
    };
    let Message::Response(r) = Message::parse(data).unwrap() else {
        panic!()
    };
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.to().unwrap().tag(), Some("dlg7"));
    assert!(layer.poll_output().is_none());
    // Its ACK (same branch, §17.1.1.3) ends here, retransmitted or not.
    for _ in 0..2 {
        layer.handle_message(
            Message::Request(in_dialog("ACK", "z9hG4bKreinv")),
            from,
            now,
        );
        assert!(layer.poll_output().is_none());
    }
    // The ACK of a 2xx in the same dialog (a new branch) still passes up.
    layer.handle_message(
        Message::Request(in_dialog("ACK", "z9hG4bKack2xx")),
        from,
        now,
    );
    assert!(matches!(layer.poll_output(), Some(Output::Ack { .. })));
}

/// A CANCEL from the UAC (as `request`) for the request with `branch`.
fn cancel_request(branch: &str) -> Request {
    let mut cancel = request("CANCEL", branch, "192.0.2.1");
    cancel
        .set_header(&crate::name::HeaderName::CSEQ, "1 CANCEL")
        .unwrap();
    cancel
}

/// Every output, each a transmitted message's first line and CSeq
/// (`describe` for the rest).
fn sent_lines(layer: &mut TransactionLayer) -> Vec<String> {
    std::iter::from_fn(|| layer.poll_output())
        .map(|o| match o {
            Output::Transmit { data, .. } => {
                let m = Message::parse(data).unwrap();
                let first = match &m {
                    Message::Request(r) => format!("{} {}", r.method(), r.uri()),
                    Message::Response(r) => format!("SIP/2.0 {}", r.status()),
                };
                let cseq = m.cseq().unwrap();
                format!("{first} / {} {}", cseq.seq, cseq.method)
            }
            o => describe(&o),
        })
        .collect()
}

#[test]
fn a_cancel_matching_a_non_invite_transaction_is_answered_200_by_the_layer() {
    // §9.2: the CANCEL matches (branch, sent-by; any method but INVITE) and
    // has no effect; it is answered 200, also when retransmitted, and never
    // reaches the TU, which still answers the MESSAGE.
    let (mut layer, now, from) = uac_layer(Config::default());
    let msg = request("MESSAGE", "z9hG4bKnic", "192.0.2.1");
    layer.handle_message(Message::Request(msg), from, now);
    let Some(Output::Request { tx, .. }) = layer.poll_output() else {
        panic!("no MESSAGE for the TU")
    };
    let cancel = cancel_request("z9hG4bKnic");
    for _ in 0..2 {
        layer.handle_message(Message::Request(cancel.clone()), from, now);
        let outs = sent_lines(&mut layer);
        assert_eq!(outs, ["SIP/2.0 200 / 1 CANCEL"]);
    }
    // The MESSAGE's transaction is untouched.
    reply(&mut layer, tx, 200, now);
    assert_eq!(sent_lines(&mut layer), ["SIP/2.0 200 / 1 MESSAGE"]);
    // Once the MESSAGE is answered, the CANCEL's 200 carries the same To
    // tag as that answer (§9.2).
    layer.handle_message(Message::Request(cancel.clone()), from, now);
    let Some(Output::Transmit { data, .. }) = layer.poll_output() else {
        panic!("no answer to the CANCEL")
    };
    let answer = Message::parse(data).unwrap();
    assert_eq!(answer.cseq().unwrap().method, Method::CANCEL);
    assert_eq!(answer.to().unwrap().tag(), Some("b2"));
    // A CANCEL with another branch matches nothing: the TU sees it.
    let other = cancel_request("z9hG4bKnic2");
    layer.handle_message(Message::Request(other), from, now);
    assert!(matches!(
        layer.poll_output(),
        Some(Output::Request { cancels: None, .. })
    ));
}

#[test]
fn an_rfc_2543_cancel_for_a_non_invite_request_gets_200_with_a_to_tag() {
    // No magic cookie (an old-style branch, or none at all): matched by
    // Request-URI, From tag, Call-ID, CSeq number and top Via; the 200
    // still needs a To tag (§8.2.6.2), the same for a retransmission.
    for via in [None, Some("SIP/2.0/UDP 192.0.2.1:5060")] {
        let (mut layer, now, from) = uac_layer(Config::default());
        let mut opts = request("OPTIONS", "old7", "192.0.2.1");
        let mut cancel = cancel_request("old7");
        if let Some(v) = via {
            opts.set_header(&crate::name::HeaderName::VIA, v).unwrap();
            cancel.set_header(&crate::name::HeaderName::VIA, v).unwrap();
        }
        layer.handle_message(Message::Request(opts), from, now);
        assert!(matches!(layer.poll_output(), Some(Output::Request { .. })));
        let mut tags = Vec::new();
        for _ in 0..2 {
            layer.handle_message(Message::Request(cancel.clone()), from, now);
            let Some(Output::Transmit { data, .. }) = layer.poll_output() else {
                panic!("no answer to the CANCEL ({via:?})")
            };
            let answer = Message::parse(data).unwrap();
            assert_eq!(answer.as_response().unwrap().status(), StatusCode::OK);
            tags.push(answer.to().unwrap().tag().map(str::to_owned));
            assert!(layer.poll_output().is_none());
        }
        assert!(tags[0].is_some(), "{via:?}");
        assert_eq!(tags[0], tags[1], "a retransmitted CANCEL gets the same tag");
    }
}

#[test]
fn under_overload_a_cancel_for_an_invite_in_progress_still_works() {
    let config = Config {
        max_server_transactions: 1,
        ..Config::default()
    };
    let (mut layer, now, from) = uac_layer(config);
    let inv = request("INVITE", "z9hG4bKovl", "192.0.2.1");
    layer.handle_message(Message::Request(inv), from, now);
    assert!(matches!(layer.poll_output(), Some(Output::Request { .. })));
    // Full: a CANCEL for that INVITE still reaches the TU, matched.
    let cancel = cancel_request("z9hG4bKovl");
    layer.handle_message(Message::Request(cancel), from, now);
    let outs: Vec<Output> = std::iter::from_fn(|| layer.poll_output()).collect();
    assert!(
        outs.iter().any(|o| matches!(
            o,
            Output::Request {
                cancels: Some(_),
                ..
            }
        )),
        "{:?}",
        outs.iter().map(describe).collect::<Vec<_>>()
    );
}
