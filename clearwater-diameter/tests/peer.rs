//! The sans-IO peer state machine (RFC 6733 §5, RFC 3539), driven by a
//! simulated network and clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use clearwater_diameter::avp::{Avp, code};
use clearwater_diameter::peer::{
    Event, FailReason, LocalIdentity, Peer, PeerConfig, Role, SendError, disconnect_cause,
};
use clearwater_diameter::{ApplicationId, CommandCode, CommandFlags, Message, ResultCode};

const TW: Duration = Duration::from_secs(6);

fn config(role: Role) -> PeerConfig {
    let mut c = PeerConfig::new(role);
    c.watchdog = TW;
    c.request_timeout = Duration::from_secs(2);
    c.backoff_initial = Duration::from_secs(1);
    c.backoff_max = Duration::from_secs(8);
    c
}

/// Two peers joined by a simulated connection.
struct Pair {
    now: Instant,
    a: Peer,
    b: Peer,
    a_events: Vec<Event>,
    b_events: Vec<Event>,
    /// Whether each direction delivers (a→b, b→a).
    up: (bool, bool),
    /// Raw bytes a sent (for layout checks).
    a_sent: Vec<Bytes>,
}

impl Pair {
    fn new() -> Pair {
        Pair::with(config(Role::Initiator), config(Role::Responder))
    }

    fn with(ca: PeerConfig, cb: PeerConfig) -> Pair {
        let now = Instant::now();
        let a = Peer::new(
            LocalIdentity::cx("scscf.example.com", "example.com"),
            ca,
            now,
        );
        let b = Peer::new(LocalIdentity::cx("hss.example.net", "example.net"), cb, now);
        let mut p = Pair {
            now,
            a,
            b,
            a_events: Vec::new(),
            b_events: Vec::new(),
            up: (true, true),
            a_sent: Vec::new(),
        };
        p.pump();
        p
    }

    /// Moves bytes and events until quiet; answers a's connect requests by
    /// connecting both ends.
    fn pump(&mut self) {
        for _ in 0..100 {
            let mut moved = false;
            while let Some(ev) = self.a.poll_event() {
                moved = true;
                if ev == Event::Connect {
                    self.a.connected(self.now);
                    self.b = Peer::new(
                        LocalIdentity::cx("hss.example.net", "example.net"),
                        config(Role::Responder),
                        self.now,
                    );
                    self.b.connected(self.now);
                }
                self.a_events.push(ev);
            }
            while let Some(ev) = self.b.poll_event() {
                moved = true;
                self.b_events.push(ev);
            }
            while let Some(bytes) = self.a.poll_transmit() {
                moved = true;
                self.a_sent.push(bytes.clone());
                if self.up.0 {
                    self.b.receive(self.now, &bytes);
                }
            }
            while let Some(bytes) = self.b.poll_transmit() {
                moved = true;
                if self.up.1 {
                    self.a.receive(self.now, &bytes);
                }
            }
            if !moved {
                return;
            }
        }
        panic!("no quiescence");
    }

    /// Advances the clock to `t`, firing timeouts in order.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        for _ in 0..10_000 {
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .filter(|t| *t <= end)
                .min();
            match next {
                Some(t) => {
                    self.now = self.now.max(t);
                    self.a.handle_timeout(self.now);
                    self.b.handle_timeout(self.now);
                    self.pump();
                }
                None => {
                    self.now = end;
                    return;
                }
            }
        }
        panic!("timeouts never settle");
    }

    fn take_a(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.a_events)
    }

    fn take_b(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.b_events)
    }
}

fn mar() -> Message {
    Message::request(CommandCode::MULTIMEDIA_AUTH, ApplicationId::CX)
        .proxiable()
        .with(Avp::utf8(code::SESSION_ID, "scscf;1;2"))
        .with(Avp::utf8(code::ORIGIN_HOST, "scscf.example.com"))
        .with(Avp::utf8(code::ORIGIN_REALM, "example.com"))
        .with(Avp::utf8(code::DESTINATION_REALM, "example.net"))
}

fn count(events: &[Event], f: impl Fn(&Event) -> bool) -> usize {
    events.iter().filter(|e| f(e)).count()
}

#[test]
fn capabilities_exchange_opens_both_sides() {
    let mut p = Pair::new();
    assert!(p.a.is_open() && p.b.is_open());
    let a = p.take_a();
    assert_eq!(a[0], Event::Connect);
    let Some(Event::Up(info)) = a.iter().find(|e| matches!(e, Event::Up(_))) else {
        panic!("{a:?}")
    };
    assert_eq!(info.host, "hss.example.net");
    assert_eq!(info.realm, "example.net");
    assert_eq!(info.applications, vec![ApplicationId::CX]);
    let b = p.take_b();
    let Some(Event::Up(info)) = b.first() else {
        panic!("{b:?}")
    };
    assert_eq!(info.host, "scscf.example.com");
    // The CER as sent: common application, not proxiable, our identity,
    // Cx in a Vendor-Specific-Application-Id.
    let cer = Message::decode(p.a_sent[0].clone()).unwrap();
    assert_eq!(cer.code, CommandCode::CAPABILITIES_EXCHANGE);
    assert_eq!(cer.application, ApplicationId::COMMON);
    assert!(cer.is_request() && !cer.flags.is_proxiable());
    cer.validate().unwrap();
    let vsai = cer.required(code::VENDOR_SPECIFIC_APPLICATION_ID).unwrap();
    assert_eq!(
        vsai.child(code::AUTH_APPLICATION_ID)
            .unwrap()
            .unwrap()
            .as_u32()
            .unwrap(),
        ApplicationId::CX.0
    );
    assert_eq!(
        vsai.child(code::VENDOR_ID)
            .unwrap()
            .unwrap()
            .as_u32()
            .unwrap(),
        10415
    );
}

#[test]
fn answers_are_correlated_by_both_identifiers() {
    let mut p = Pair::new();
    p.take_a();
    p.take_b();
    let id1 = p.a.send_request(p.now, mar()).unwrap();
    let id2 = p.a.send_request(p.now, mar()).unwrap();
    assert_ne!(id1, id2);
    p.pump();
    let reqs: Vec<Message> = p
        .take_b()
        .into_iter()
        .filter_map(|e| match e {
            Event::Request(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(reqs.len(), 2);
    assert_ne!(reqs[0].end_to_end, reqs[1].end_to_end);
    // An answer whose end-to-end identifier does not match is dropped.
    let mut forged = reqs[0].answer();
    forged.end_to_end ^= 1;
    p.b.send_answer(forged.with(Avp::u32(code::RESULT_CODE, 2001)));
    // Answer the second first: order does not matter.
    for r in [&reqs[1], &reqs[0]] {
        p.b.send_answer(
            r.answer()
                .with(Avp::utf8(code::SESSION_ID, "scscf;1;2"))
                .with(Avp::u32(code::RESULT_CODE, 2001)),
        );
    }
    p.pump();
    let answers: Vec<u32> = p
        .take_a()
        .into_iter()
        .filter_map(|e| match e {
            Event::Answer { id, answer } => {
                assert_eq!(answer.hop_by_hop, id);
                Some(id)
            }
            _ => None,
        })
        .collect();
    assert_eq!(answers, vec![id2, id1]);
    assert_eq!(p.a.stats().unmatched_answers, 1);
    assert_eq!(p.a.in_flight(), 0);
}

#[test]
fn unanswered_requests_time_out() {
    let mut p = Pair::new();
    p.take_a();
    let id = p.a.send_request(p.now, mar()).unwrap();
    p.pump();
    p.advance(Duration::from_millis(1999));
    assert!(!p.take_a().iter().any(|e| matches!(e, Event::Failed { .. })));
    p.advance(Duration::from_millis(2));
    let a = p.take_a();
    assert!(
        a.iter().any(
            |e| matches!(e, Event::Failed { id: i, reason: FailReason::Timeout, request }
            if *i == id && request.code == CommandCode::MULTIMEDIA_AUTH)
        ),
        "{a:?}"
    );
    // The connection itself is fine.
    assert!(p.a.is_open());
}

#[test]
fn watchdog_keeps_an_idle_connection_and_detects_a_dead_one() {
    let mut p = Pair::new();
    p.take_a();
    // Idle for many Tw: DWRs are exchanged and nothing goes down.
    let before = p.a_sent.len();
    p.advance(TW * 10);
    assert!(p.a.is_open() && p.b.is_open());
    let dwrs = p.a_sent[before..]
        .iter()
        .filter(|b| {
            let m = Message::decode((*b).clone()).unwrap();
            m.code == CommandCode::DEVICE_WATCHDOG && m.is_request()
        })
        .count();
    assert!((5..=12).contains(&dwrs), "{dwrs} DWRs in 10 Tw");
    assert!(!p.take_a().iter().any(|e| matches!(e, Event::Down(_))));

    // The peer stops answering: within 2 Tw (+ jitter) the connection is
    // declared failed, the request in flight is handed back.
    let id = p.a.send_request(p.now, mar()).unwrap();
    p.up = (true, false);
    p.pump();
    p.take_a();
    p.advance(TW * 2 + Duration::from_secs(5));
    let a = p.take_a();
    assert!(
        a.iter()
            .any(|e| matches!(e, Event::Failed { id: i, .. } if *i == id)),
        "{a:?}"
    );
    assert!(a.iter().any(|e| matches!(e, Event::Down(_))), "{a:?}");
    assert!(a.contains(&Event::Disconnect), "{a:?}");
    assert_eq!(p.a.stats().watchdog_failures, 1);
}

#[test]
fn a_reopened_connection_needs_three_watchdog_answers() {
    let mut p = Pair::new();
    p.take_a();
    p.up = (true, false);
    let mut waited = Duration::ZERO;
    while !p.a_events.iter().any(|e| matches!(e, Event::Down(_))) {
        assert!(waited < TW * 3, "never went down");
        p.advance(Duration::from_millis(100));
        waited += Duration::from_millis(100);
    }
    assert!(waited >= TW, "down after {waited:?}");
    p.take_a();
    p.up = (true, true);
    // Reconnect after the back-off; the exchange succeeds but the peer is
    // not usable yet.
    p.advance(Duration::from_millis(1500));
    let a = p.take_a();
    assert!(a.contains(&Event::Connect), "{a:?}");
    assert!(!a.iter().any(|e| matches!(e, Event::Up(_))), "{a:?}");
    assert!(!p.a.is_open());
    assert!(matches!(
        p.a.send_request(p.now, mar()),
        Err(SendError::NotOpen(_))
    ));
    // One DWA is not enough (the next DWR waits a jittered Tw)...
    p.advance(TW / 2);
    assert!(!p.a.is_open());
    // ... three are.
    p.advance(TW * 3);
    let a = p.take_a();
    assert_eq!(count(&a, |e| matches!(e, Event::Up(_))), 1, "{a:?}");
    assert!(p.a.is_open());
}

#[test]
fn reconnects_back_off_exponentially() {
    let now = Instant::now();
    let mut a = Peer::new(
        LocalIdentity::cx("scscf.example.com", "example.com"),
        config(Role::Initiator),
        now,
    );
    assert_eq!(a.poll_event(), Some(Event::Connect));
    let mut t = now;
    let mut waits = Vec::new();
    for _ in 0..6 {
        a.connect_failed(t);
        while a.poll_event().is_some() {}
        let next = a.poll_timeout().unwrap();
        waits.push(next - t);
        t = next;
        a.handle_timeout(t);
        assert_eq!(a.poll_event(), Some(Event::Connect));
    }
    // 1, 2, 4, 8, 8, 8 s, each within a quarter.
    let expect = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0];
    for (w, e) in waits.iter().zip(expect) {
        let w = w.as_secs_f64();
        assert!(w >= e * 0.75 - 0.01 && w <= e * 1.25 + 0.01, "{waits:?}");
    }
}

#[test]
fn peer_dpr_is_answered_and_respected() {
    let mut p = Pair::new();
    p.take_a();
    let dpr = Message::request(CommandCode::DISCONNECT_PEER, ApplicationId::COMMON)
        .with(Avp::utf8(code::ORIGIN_HOST, "hss.example.net"))
        .with(Avp::utf8(code::ORIGIN_REALM, "example.net"))
        .with(Avp::u32(
            code::DISCONNECT_CAUSE,
            disconnect_cause::DO_NOT_WANT_TO_TALK_TO_YOU,
        ));
    let mut dpr = dpr;
    dpr.hop_by_hop = 7;
    dpr.end_to_end = 9;
    p.a.receive(p.now, &dpr.encode());
    let dpa = Message::decode(p.a.poll_transmit().unwrap()).unwrap();
    assert_eq!(dpa.code, CommandCode::DISCONNECT_PEER);
    assert!(!dpa.is_request());
    assert_eq!(dpa.hop_by_hop, 7);
    assert_eq!(dpa.result_code().unwrap(), Some(ResultCode::SUCCESS));
    p.pump();
    let a = p.take_a();
    assert!(a.iter().any(|e| matches!(e, Event::Down(_))));
    // DO_NOT_WANT_TO_TALK_TO_YOU: no reconnect.
    assert!(p.a.is_finished());
    p.advance(Duration::from_secs(120));
    assert!(!p.take_a().contains(&Event::Connect));
}

#[test]
fn local_disconnect_sends_dpr_and_closes_on_dpa() {
    let mut p = Pair::new();
    p.take_a();
    p.a.disconnect(p.now, disconnect_cause::REBOOTING);
    p.pump();
    let a = p.take_a();
    assert!(a.contains(&Event::Disconnect), "{a:?}");
    assert!(p.a.is_finished());
    let b = p.take_b();
    assert!(b.iter().any(|e| matches!(e, Event::Down(_))), "{b:?}");
}

#[test]
fn cer_without_a_common_application_is_refused() {
    let now = Instant::now();
    let mut local = LocalIdentity::cx("hss.example.net", "example.net");
    local.auth_applications = vec![(10415, ApplicationId::SH)];
    let mut b = Peer::new(local, config(Role::Responder), now);
    b.connected(now);
    let mut a = Peer::new(
        LocalIdentity::cx("scscf.example.com", "example.com"),
        config(Role::Initiator),
        now,
    );
    a.connected(now);
    b.receive(now, &a.poll_transmit().unwrap());
    let cea = Message::decode(b.poll_transmit().unwrap()).unwrap();
    assert_eq!(
        cea.result_code().unwrap(),
        Some(ResultCode::NO_COMMON_APPLICATION)
    );
    assert!(cea.avp(code::ERROR_MESSAGE).is_some());
    assert!(!b.is_open());
    // The initiator reads the refusal and backs off.
    a.receive(now, &cea.encode());
    assert!(!a.is_open());
    assert!(a.poll_timeout().unwrap() >= now + Duration::from_secs(6));
}

#[test]
fn cer_from_an_unexpected_host_is_refused() {
    let now = Instant::now();
    let mut c = config(Role::Responder);
    c.expected_host = Some("scscf1.example.com".to_owned());
    let mut b = Peer::new(LocalIdentity::cx("hss.example.net", "example.net"), c, now);
    b.connected(now);
    let mut a = Peer::new(
        LocalIdentity::cx("rogue.example.com", "example.com"),
        config(Role::Initiator),
        now,
    );
    a.connected(now);
    b.receive(now, &a.poll_transmit().unwrap());
    let cea = Message::decode(b.poll_transmit().unwrap()).unwrap();
    assert_eq!(cea.result_code().unwrap(), Some(ResultCode::UNKNOWN_PEER));
    assert!(b.is_finished());
}

#[test]
fn requests_for_other_applications_get_3007() {
    let mut p = Pair::new();
    let mut ccr = Message::request(CommandCode(272), ApplicationId(4))
        .proxiable()
        .with(Avp::utf8(code::SESSION_ID, "x"))
        .with(Avp::utf8(code::ORIGIN_HOST, "hss.example.net"))
        .with(Avp::utf8(code::ORIGIN_REALM, "example.net"));
    ccr.hop_by_hop = 3;
    ccr.end_to_end = 4;
    p.a.receive(p.now, &ccr.encode());
    let ans = Message::decode(p.a.poll_transmit().unwrap()).unwrap();
    assert_eq!(
        ans.result_code().unwrap(),
        Some(ResultCode::APPLICATION_UNSUPPORTED)
    );
    assert!(ans.flags.is_error());
    assert_eq!((ans.hop_by_hop, ans.end_to_end), (3, 4));
    // And we do not send requests for applications the peer lacks.
    let sh = Message::request(CommandCode(306), ApplicationId::SH);
    assert!(matches!(
        p.a.send_request(p.now, sh),
        Err(SendError::ApplicationUnsupported(_))
    ));
}

#[test]
fn malformed_requests_get_an_error_answer_and_garbage_closes() {
    let mut p = Pair::new();
    p.take_a();
    // A request with an AVP whose length runs past the message: 5014.
    let mut m = mar();
    m.hop_by_hop = 11;
    m.end_to_end = 12;
    let mut bytes = m.encode().to_vec();
    bytes[20 + 5..20 + 8].copy_from_slice(&[0, 0xff, 0xff]);
    p.a.receive(p.now, &bytes);
    let ans = Message::decode(p.a.poll_transmit().unwrap()).unwrap();
    assert_eq!(ans.hop_by_hop, 11);
    assert_eq!(
        ans.result_code().unwrap(),
        Some(ResultCode::INVALID_AVP_LENGTH)
    );
    assert!(p.a.is_open());
    assert_eq!(p.a.stats().malformed, 1);
    // A stream that is not Diameter: the connection is closed.
    p.a.receive(p.now, b"GET / HTTP/1.1\r\n\r\n");
    assert!(!p.a.is_open());
    let mut evs = Vec::new();
    while let Some(e) = p.a.poll_event() {
        evs.push(e);
    }
    assert!(evs.contains(&Event::Disconnect), "{evs:?}");
}

#[test]
fn messages_split_across_reads_are_reassembled() {
    let mut p = Pair::new();
    p.take_b();
    p.a.send_request(p.now, mar()).unwrap();
    p.a.send_request(p.now, mar()).unwrap();
    let one = p.a.poll_transmit().unwrap();
    let two = p.a.poll_transmit().unwrap();
    let all = [one.as_ref(), two.as_ref()].concat();
    for chunk in all.chunks(7) {
        p.b.receive(p.now, chunk);
    }
    let reqs = count(
        &std::iter::from_fn(|| p.b.poll_event()).collect::<Vec<_>>(),
        |e| matches!(e, Event::Request(_)),
    );
    assert_eq!(reqs, 2);
}

#[test]
fn hop_by_hop_identifiers_are_unique_in_flight() {
    let mut p = Pair::new();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..1000 {
        let id = p.a.send_request(p.now, mar()).unwrap();
        assert!(seen.insert(id));
    }
    assert_eq!(p.a.in_flight(), 1000);
    // A retransmission keeps its end-to-end identifier.
    let mut r = mar();
    r.end_to_end = 0xabcd;
    r.flags.0 |= CommandFlags::RETRANSMIT;
    p.a.send_request(p.now, r).unwrap();
    let last = std::iter::from_fn(|| p.a.poll_transmit()).last().unwrap();
    assert_eq!(Message::decode(last).unwrap().end_to_end, 0xabcd);
}

#[test]
fn requests_beyond_the_in_flight_limit_are_refused() {
    let mut ca = config(Role::Initiator);
    ca.max_in_flight = 3;
    let mut p = Pair::with(ca, config(Role::Responder));
    for _ in 0..3 {
        p.a.send_request(p.now, mar()).unwrap();
    }
    let back = match p.a.send_request(p.now, mar()) {
        Err(SendError::Busy(m)) => m,
        other => panic!("{other:?}"),
    };
    assert_eq!(back.code, CommandCode::MULTIMEDIA_AUTH);
    assert_eq!(p.a.in_flight(), 3);
}

#[test]
fn cer_refusals_and_repeats_are_answered_with_ceas() {
    let now = Instant::now();
    let responder = || {
        let mut b = Peer::new(
            LocalIdentity::cx("hss.example.net", "example.net"),
            config(Role::Responder),
            now,
        );
        b.connected(now);
        b
    };
    let cer = || {
        let mut a = Peer::new(
            LocalIdentity::cx("scscf.example.com", "example.com"),
            config(Role::Initiator),
            now,
        );
        a.connected(now);
        Message::decode(a.poll_transmit().unwrap()).unwrap()
    };
    // A CER whose Origin-Host is not a DiameterIdentity: the CEA names it
    // in Failed-AVP (§7.5).
    let mut bad = cer();
    for a in &mut bad.avps {
        if a.code == code::ORIGIN_HOST {
            *a = Avp::utf8(code::ORIGIN_HOST, "bad host");
        }
    }
    let mut b = responder();
    b.receive(now, &bad.encode());
    let cea = Message::decode(b.poll_transmit().unwrap()).unwrap();
    assert_eq!(cea.code, CommandCode::CAPABILITIES_EXCHANGE);
    assert_eq!(
        cea.result_code().unwrap(),
        Some(ResultCode::INVALID_AVP_VALUE)
    );
    let failed = cea.avp(code::FAILED_AVP).expect("Failed-AVP");
    assert_eq!(failed.children().unwrap()[0].code, code::ORIGIN_HOST);
    assert!(b.is_finished());
    // A CER that cannot be decoded (an AVP running past the end) still
    // gets a CEA with the decoding error, then the connection closes.
    let mut raw = BytesMut::from(&cer().encode()[..]);
    let n = raw.len();
    raw[n - 5] = 0xff; // the last AVP's length, low byte: past the end
    let mut b = responder();
    b.receive(now, &raw);
    let cea = Message::decode(b.poll_transmit().expect("a CEA")).unwrap();
    assert_eq!(cea.code, CommandCode::CAPABILITIES_EXCHANGE);
    assert!(!cea.is_request());
    assert_ne!(cea.result_code().unwrap(), Some(ResultCode::SUCCESS));
    assert!(b.is_finished());
    // A second CER on an open connection: a CEA (success), still open.
    let mut b = responder();
    b.receive(now, &cer().encode());
    let first = Message::decode(b.poll_transmit().unwrap()).unwrap();
    assert_eq!(first.result_code().unwrap(), Some(ResultCode::SUCCESS));
    assert!(b.is_open());
    b.receive(now, &cer().encode());
    let again = Message::decode(b.poll_transmit().unwrap()).unwrap();
    assert_eq!(again.code, CommandCode::CAPABILITIES_EXCHANGE);
    assert_eq!(again.result_code().unwrap(), Some(ResultCode::SUCCESS));
    assert!(b.is_open());
}
