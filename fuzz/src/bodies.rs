//! Fuzz target bodies: each takes arbitrary bytes, drives one entry point of
//! clearwater-sip and checks invariants beyond "does not panic". Shared by the
//! cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`) and the corpus replay test
//! (`clearwater-sip/tests/fuzz_corpus.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use clearwater_sip::digest::{DigestChallenge, DigestCredentials};
use clearwater_sip::header::*;
use clearwater_sip::{
    Frame, FrameScan, Framer, HeaderName, Limits, Message, Triage, TriageConfig, TypedHeader, Uri,
};

/// Inbound triage of a datagram, then every accessor and a round of edits.
pub fn triage(data: &[u8]) {
    let raw = Bytes::copy_from_slice(data);
    match triage_with(raw.clone()) {
        Triage::Accept(msg) => {
            let out = msg.to_bytes();
            // An unedited message serialises to the received octets (after any
            // leading CRLFs, before any discarded trailing octets).
            assert!(
                data.windows(out.len()).any(|w| w == &out[..]),
                "serialised message is not the received bytes"
            );
            let again = Message::parse(out).expect("accepted message re-parses");
            assert_eq!(again.headers().len(), msg.headers().len());
            read_all(&msg);
            edit(msg);
        }
        Triage::Reject(r) => {
            assert!(r.status().as_u16() >= 400);
            assert!(!r.reason().contains('\r') && !r.reason().contains('\n'));
            if let Some(resp) = r.response(Some("fuzz")) {
                let parsed = Message::parse(resp.to_bytes()).expect("stateless response parses");
                let status = parsed.as_response().expect("is a response").status();
                assert_eq!(status, r.status());
            }
        }
        Triage::Drop(_) => {}
    }
}

fn triage_with(raw: Bytes) -> Triage {
    clearwater_sip::triage(raw, &TriageConfig::default())
}

/// Every accessor of `m`, typed headers included; only panics are failures.
pub fn read_all(m: &Message) {
    for h in m.headers().iter() {
        let _ = h.value_str();
        let _ = h.name();
    }
    let _ = m.via().map(|v| {
        (
            v.branch().map(str::len),
            v.received_ip(),
            v.rport(),
            v.host().kind(),
        )
    });
    for v in m.vias() {
        let _ = v.map(|v| v.to_string());
    }
    let _ = m.from().map(|f| {
        (
            f.tag().map(str::len),
            f.display_name().map(|d| d.len()),
            f.uri().to_string(),
        )
    });
    let _ = m.to().map(|t| t.uri().user().len());
    let _ = m.call_id();
    let _ = m.cseq();
    let _ = m.max_forwards();
    for c in m.contacts() {
        let _ = c.map(|c| {
            (
                c.expires(),
                c.q(),
                c.reg_id(),
                c.sip_instance().map(|s| s.len()),
            )
        });
    }
    for r in m.routes() {
        let _ = r.map(|r| r.uri().as_sip().map(|s| s.is_loose_route()));
    }
    let _ = m.record_routes().count();
    let _ = m.content_type();
    let _ = m.typed::<WwwAuthenticate<'_>>();
    let _ = m
        .typed::<Authorization<'_>>()
        .map(|a| a.map(|a| DigestCredentials::from_credentials(&a)));
    let _ = m.typed_all::<PAssertedIdentity<'_>>().count();
    let _ = m.typed::<PChargingVector<'_>>();
    let _ = m.typed_all::<SecurityClient<'_>>().count();
    let _ = m.typed::<Event<'_>>();
    let _ = m.typed::<SessionExpires<'_>>();
    if let Message::Request(r) = m {
        let _ = r.uri().to_string();
    }
}

fn edit(mut m: Message) {
    let via = Via::new("UDP", "192.0.2.1", Some(5060), "z9hG4bK-fuzz").unwrap();
    m.push_via(&via).unwrap();
    let _ = m.pop_route();
    m.set_body(Bytes::from_static(b"x"), Some("text/plain"))
        .unwrap();
    m.set_header(&HeaderName::MAX_FORWARDS, "69").unwrap();
    let out = m.to_bytes();
    let again = Message::parse(out).expect("edited message re-parses");
    assert_eq!(again.body(), b"x");
    assert_eq!(again.via().unwrap().branch(), Some("z9hG4bK-fuzz"));
}

/// URI parsing: Display reproduces the input; parsing is reflexive under the
/// RFC equality; owned copies are equal.
pub fn uri(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(u) = Uri::parse(s) {
        assert_eq!(u.to_string(), s);
        assert!(u == u.clone(), "URI equality is reflexive");
        let owned = u.clone().into_owned();
        assert!(owned == u);
        let _ = u.user();
        if let Some(sip) = u.as_sip() {
            let _ = (
                sip.host().kind(),
                sip.port(),
                sip.params().len(),
                sip.header_pairs().count(),
            );
            if let Ok(p) = sip.with_param("fz", None) {
                assert!(p.params().contains("fz"));
                assert!(Uri::parse(p.as_str()).is_ok());
            }
            let _ = sip.without_headers();
        }
        if let Some(tel) = u.as_tel() {
            let _ = (tel.digits(), tel.phone_context());
        }
    }
}

/// Stream framing: a complete frame never extends past the data, and no
/// prefix of it is reported complete.
pub fn framer(data: &[u8]) {
    let small = Framer::new(Limits::default().with_max_message_size(4096));
    for framer in [Framer::default(), small] {
        let mut at = 0;
        let mut frames = 0;
        while at < data.len() && frames < 64 {
            match framer.frame(&data[at..]) {
                Ok(Frame::Partial) | Err(_) => break,
                Ok(f) => {
                    let n = f.len();
                    assert!(n > 0 && at + n <= data.len());
                    if let Frame::Complete(_) = f {
                        for cut in [n / 2, n.saturating_sub(1)] {
                            if cut > 0 {
                                let r = framer.frame(&data[at..at + cut]);
                                assert!(
                                    !matches!(r, Ok(Frame::Complete(m)) if m > cut),
                                    "frame beyond the data"
                                );
                            }
                        }
                        let _ = Message::parse(Bytes::copy_from_slice(&data[at..at + n]));
                    }
                    at += n;
                    frames += 1;
                }
            }
        }
        // Fed in pieces (sizes from the data itself) to a resumed scan,
        // every answer equals a fresh scan of the same bytes.
        let step = usize::from(data.first().copied().unwrap_or(1) % 7) + 1;
        let (mut buf, mut scan) = (Vec::new(), FrameScan::default());
        // (The first KiB only: the fresh scans it is checked against cost
        // quadratic work.)
        'feed: for piece in data[..data.len().min(1024)].chunks(step) {
            buf.extend_from_slice(piece);
            loop {
                let r = framer.frame_resume(&buf, &mut scan);
                assert_eq!(format!("{r:?}"), format!("{:?}", framer.frame(&buf)));
                match r {
                    Ok(Frame::Partial) => break,
                    Ok(f) => {
                        buf.drain(..f.len());
                    }
                    Err(_) => break 'feed,
                }
            }
        }
    }
}

/// `$h` parses; its Display form parses again to the same Display form.
macro_rules! round_trip {
    ($h:ty, $s:expr) => {
        if let Ok(h) = <$h as TypedHeader<'_>>::parse($s) {
            let shown = h.to_string();
            let again = <$h as TypedHeader<'_>>::parse(&shown)
                .unwrap_or_else(|e| panic!("{shown:?} does not re-parse: {e}"));
            assert_eq!(again.to_string(), shown);
        }
    };
}

fn as_str(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Via.
pub fn header_via(data: &[u8]) {
    let Some(s) = as_str(data) else { return };
    round_trip!(Via<'_>, s);
    if let Ok(v) = Via::parse(s) {
        let _ = (
            v.branch(),
            v.received_ip(),
            v.rport(),
            v.ttl(),
            v.maddr(),
            v.host().kind(),
        );
        let r = v.with_received("192.0.2.9".parse().unwrap()).with_rport(1);
        assert_eq!(r.rport(), Some(Some(1)));
        assert_eq!(r.branch(), v.branch());
    }
}

/// name-addr headers (From/To/Contact/Route/P-Asserted-Identity...).
pub fn header_name_addr(data: &[u8]) {
    let Some(s) = as_str(data) else { return };
    round_trip!(From<'_>, s);
    round_trip!(Contact<'_>, s);
    round_trip!(Route<'_>, s);
    round_trip!(PAssertedIdentity<'_>, s);
    round_trip!(PServedUser<'_>, s);
    round_trip!(HistoryInfo<'_>, s);
    if let Ok(a) = NameAddr::parse(s) {
        let _ = (a.display_name(), a.uri().to_string(), a.tag());
        if let Ok(b) = a.with_param("tag", Some("fz")) {
            assert_eq!(b.tag(), Some("fz"));
            assert!(NameAddr::parse(b.as_str()).is_ok());
        }
    }
    if let Ok(c) = <Contact<'_> as TypedHeader<'_>>::parse(s) {
        let _ = (
            c.expires(),
            c.q(),
            c.reg_id(),
            c.sip_instance(),
            c.pub_gruu(),
            c.temp_gruu(),
        );
    }
}

/// Scalar and token headers.
pub fn header_simple(data: &[u8]) {
    let Some(s) = as_str(data) else { return };
    round_trip!(CallId<'_>, s);
    round_trip!(CSeq, s);
    round_trip!(MaxForwards, s);
    round_trip!(Expires, s);
    round_trip!(ContentType<'_>, s);
    round_trip!(Date<'_>, s);
    round_trip!(Supported<'_>, s);
    round_trip!(Allow, s);
}

/// Authentication headers and the digest views over them.
pub fn header_auth(data: &[u8]) {
    let Some(s) = as_str(data) else { return };
    round_trip!(WwwAuthenticate<'_>, s);
    round_trip!(Authorization<'_>, s);
    if let Ok(c) = Challenge::parse(s)
        && let Ok(d) = DigestChallenge::from_challenge(&c)
    {
        let shown = d.to_string();
        let back = Challenge::parse(&shown).expect("digest challenge Display parses");
        let again = DigestChallenge::from_challenge(&back).expect("and is a digest challenge");
        assert_eq!(again.realm, d.realm);
        assert_eq!(again.nonce, d.nonce);
    }
    if let Ok(c) = Credentials::parse(s)
        && let Ok(d) = DigestCredentials::from_credentials(&c)
    {
        let _ = d.verify("REGISTER", b"secret", b"");
        let shown = d.to_string();
        let back = Credentials::parse(&shown).expect("digest credentials Display parses");
        let again = DigestCredentials::from_credentials(&back).expect("and are digest credentials");
        assert_eq!(again.username, d.username);
        assert_eq!(again.response, d.response);
    }
}

/// IMS P-headers and security agreement.
pub fn header_ims(data: &[u8]) {
    let Some(s) = as_str(data) else { return };
    round_trip!(PChargingVector<'_>, s);
    round_trip!(PChargingFunctionAddresses<'_>, s);
    round_trip!(PAccessNetworkInfo<'_>, s);
    round_trip!(PVisitedNetworkId<'_>, s);
    round_trip!(Privacy<'_>, s);
    round_trip!(SecurityClient<'_>, s);
    round_trip!(PAssertedService<'_>, s);
}

/// Event, session timer, caller preferences and the rest.
pub fn header_misc(data: &[u8]) {
    let Some(s) = as_str(data) else { return };
    round_trip!(Event<'_>, s);
    round_trip!(SubscriptionState<'_>, s);
    round_trip!(AcceptContact<'_>, s);
    round_trip!(SessionExpires<'_>, s);
    round_trip!(MinSe<'_>, s);
    round_trip!(RetryAfter<'_>, s);
    round_trip!(Reason<'_>, s);
    round_trip!(Warning<'_>, s);
    round_trip!(RAck, s);
    round_trip!(Timestamp<'_>, s);
}

/// The transaction layer driven by an arbitrary sequence of operations:
/// requests and responses in both directions (including retransmissions and
/// junk), TU responses, cancels, transport errors and jumps of the clock.
/// Checks: no panic, every transmitted datagram parses, deadlines are never in
/// the past after `handle_timeout`, and once every transaction has been given
/// a final response and an hour passes, nothing is left.
pub fn transaction(data: &[u8]) {
    use clearwater_sip::transaction::{
        ClientTxId, Config, Output, ServerTxId, TransactionLayer, TxId,
    };
    use clearwater_sip::transport::{Remote, Transport};
    use clearwater_sip::{Request, StatusCode};
    use std::time::{Duration, Instant};

    let start = Instant::now();
    let mut now = start;
    let transport = if data.first().is_some_and(|b| b & 1 == 1) {
        Transport::Tcp
    } else {
        Transport::Udp
    };
    let peer = Remote::new(transport, "192.0.2.9:5060".parse().unwrap());
    let mut layer = TransactionLayer::new(Config::default());
    let mut clients: Vec<(ClientTxId, Request)> = Vec::new();
    let mut servers: Vec<ServerTxId> = Vec::new();
    let methods = ["INVITE", "OPTIONS", "BYE", "CANCEL", "ACK", "MESSAGE"];
    let codes = [
        100u16, 180, 183, 200, 202, 302, 404, 408, 486, 487, 500, 603,
    ];
    let mk = |method: &str, branch: &str, seq: u8| -> Option<Request> {
        let raw = format!(
            "{method} sip:b@192.0.2.9 SIP/2.0\r\nVia: SIP/2.0/{transport} 192.0.2.1:5060;branch={branch}\r\n\
             From: <sip:a@x.example>;tag=f\r\nTo: <sip:b@x.example>\r\nCall-ID: c{seq}\r\nCSeq: {seq} {method}\r\n\
             Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        match Message::parse(Bytes::from(raw)).ok()? {
            Message::Request(r) => Some(r),
            Message::Response(_) => None,
        }
    };
    let drain = |layer: &mut TransactionLayer, servers: &mut Vec<ServerTxId>| {
        while let Some(o) = layer.poll_output() {
            match o {
                Output::Transmit { data, .. } => {
                    Message::parse(data).expect("transmitted bytes parse");
                }
                Output::Request { tx, .. } => servers.push(tx),
                Output::Terminated {
                    tx: TxId::Server(s),
                    ..
                } => servers.retain(|x| *x != s),
                _ => {}
            }
        }
    };
    for chunk in data.chunks(3) {
        let [op, a, b] = match chunk {
            [op, a, b] => [*op, *a, *b],
            _ => break,
        };
        let method = methods[a as usize % methods.len()];
        let branch = if b & 0x80 != 0 {
            format!("old{}", b & 7)
        } else {
            format!("z9hG4bK{}", b & 15)
        };
        match op % 8 {
            0 => {
                if let Some(r) = mk(method, &branch, b & 3)
                    && let Ok(id) = layer.send_request(r.clone(), peer, now)
                {
                    clients.push((id, r));
                }
            }
            1 => {
                // a response to one of our requests (or a stray one)
                if let Some((_, r)) = clients.get(a as usize % clients.len().max(1)) {
                    let code = StatusCode::from_u16(codes[b as usize % codes.len()]).unwrap();
                    if let Ok(resp) = r.make_response(code, None, Some("t")) {
                        layer.handle_message(Message::Response(resp), peer, now);
                    }
                }
            }
            2 => {
                if let Some(r) = mk(method, &branch, b & 3) {
                    layer.handle_message(Message::Request(r), peer, now);
                }
            }
            3 => {
                if let Some(&tx) = servers.get(a as usize % servers.len().max(1))
                    && let Some(req) = layer.server_request(tx).cloned()
                {
                    let code = StatusCode::from_u16(codes[b as usize % codes.len()]).unwrap();
                    if let Ok(resp) = req.make_response(code, None, Some("s")) {
                        let _ = layer.send_response(tx, resp, now);
                    }
                }
            }
            4 => {
                now += Duration::from_millis(u64::from(a) * 37 + u64::from(b));
                layer.handle_timeout(now);
                if let Some(t) = layer.poll_timeout() {
                    assert!(
                        t > now,
                        "a deadline at or before now survived handle_timeout"
                    );
                }
            }
            5 => {
                if let Some((id, _)) = clients.get(a as usize % clients.len().max(1)) {
                    let _ = layer.cancel(*id, now);
                }
            }
            6 => {
                if let Some((id, _)) = clients.get(a as usize % clients.len().max(1)) {
                    layer.transport_error(TxId::Client(*id));
                }
            }
            _ => {
                let raw = Bytes::copy_from_slice(chunk);
                if let Ok(m) = Message::parse(raw) {
                    layer.handle_message(m, peer, now);
                }
            }
        }
        drain(&mut layer, &mut servers);
    }
    // Wind down: answer every server transaction, give every client one a
    // final response (and ACK-free 2xx retransmission is the TU's job), then
    // let an hour pass.
    for &tx in servers.clone().iter() {
        if let Some(req) = layer.server_request(tx).cloned()
            && let Ok(resp) = req.make_response(StatusCode::OK, None, Some("s"))
        {
            let _ = layer.send_response(tx, resp, now);
        }
    }
    for (_, r) in &clients {
        if let Ok(resp) = r.make_response(StatusCode::BUSY_HERE, None, Some("t")) {
            layer.handle_message(Message::Response(resp), peer, now);
        }
    }
    drain(&mut layer, &mut servers);
    for _ in 0..4 {
        now += Duration::from_secs(900);
        layer.handle_timeout(now);
        drain(&mut layer, &mut servers);
    }
    // Server transactions whose ACK never comes end on Timer H; client ones
    // end on D/K/M; nothing may be left.
    assert!(layer.is_idle(), "leaked transactions: {layer:?}");
}

/// The stateful proxy core (RFC 3261 §16) driven by arbitrary operation
/// sequences: upstream requests (with Route, Max-Forwards and Proxy-Require
/// variants), retransmissions, CANCELs and ACKs; routing decisions (answers,
/// parallel and sequential forks with pushed Routes, new Request-URIs,
/// Record-Route on or off); downstream responses of every class to whatever the
/// proxy sent; transport errors and clock jumps.
///
/// Invariants: every datagram the proxy sends parses; requests go downstream
/// with our Via on top and Max-Forwards below what was received; responses go
/// upstream without our Via; a context finishes at most once; no deadline at or
/// before `now` survives `handle_timeout`; once every request is answered and
/// an hour passes, no context, transaction or timer is left.
pub fn proxy(data: &[u8]) {
    use clearwater_sip::proxy::{ContextId, LocalAddr, Proxy, ProxyConfig, ProxyOutput, Target};
    use clearwater_sip::transaction::{TxId, build_cancel};
    use clearwater_sip::transport::{Remote, Transport, stamp_via};
    use clearwater_sip::{Method, Request, Response, StatusCode};
    use std::collections::HashSet;
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    const ME: &str = "192.0.2.1";
    let mut config = ProxyConfig::new(vec![
        LocalAddr::new(Transport::Udp, ME, 5060),
        LocalAddr::new(Transport::Tcp, ME, 5060),
    ]);
    if data.first().is_some_and(|b| b & 1 == 1) {
        config.supported.push("sec-agree".into());
    }
    if data.first().is_some_and(|b| b & 2 == 2) {
        config.record_route = false;
    }
    if data.first().is_some_and(|b| b & 4 == 4) {
        // Low enough that most forwarded INVITEs (about 420 octets and
        // up) leave over TCP (§18.1.1), and some other requests too.
        config.udp_size_limit = Some(350);
    }
    let udp_limit = config.udp_size_limit;
    let mut p = Proxy::new(config);
    let remote = |t: Transport, a: &str| Remote::new(t, a.parse::<SocketAddr>().unwrap());
    let up = [
        remote(Transport::Udp, "192.0.2.10:5060"),
        remote(Transport::Tcp, "192.0.2.11:5070"),
    ];
    let down = [
        remote(Transport::Udp, "192.0.2.20:5060"),
        remote(Transport::Tcp, "192.0.2.21:5060"),
        remote(Transport::Udp, "192.0.2.22:5062"),
    ];
    let start = Instant::now();
    let mut now = start;

    #[derive(Default)]
    struct State {
        pending: Vec<ContextId>,
        /// Requests the upstream clients sent, with where from.
        sent_up: Vec<(Remote, Request)>,
        /// Responses that reached upstream.
        got_up: Vec<Response>,
        /// Requests the proxy sent downstream (not ACKs), with where to.
        sent_down: Vec<(Remote, Request)>,
        clients: Vec<TxId>,
        finished: HashSet<ContextId>,
        /// Contexts the application answered provisionally.
        answering: HashSet<ContextId>,
        stateless: Vec<Request>,
        /// Max-Forwards of each upstream request, by its branch.
        max_forwards: std::collections::HashMap<String, Option<u8>>,
        /// Each client transaction's request: transport and [`Sent`] key.
        client_requests: std::collections::HashMap<TxId, (Transport, Sent)>,
        /// Sends over TCP that failed (not CANCELs): each allows one client
        /// transaction sending the same request to the same address over UDP
        /// whatever its size (§18.1.1), used up by it.
        udp_retries: std::collections::HashMap<Sent, usize>,
        /// The client transactions that used one (their retransmissions go
        /// out over UDP too).
        udp_retried: HashSet<TxId>,
    }
    /// A request as sent: method, Call-ID, CSeq number, destination.
    type Sent = (String, String, u32, SocketAddr);
    let mut st = State::default();

    fn drain(
        p: &mut Proxy,
        st: &mut State,
        up: &[Remote],
        down: &[Remote],
        udp_limit: Option<usize>,
    ) {
        while let Some(o) = p.poll_output() {
            match o {
                ProxyOutput::Transmit { to, data, tx } => {
                    let len = data.len();
                    let msg = Message::parse(data).expect("transmitted bytes parse");
                    if let Some(t @ TxId::Client(_)) = tx {
                        st.clients.push(t);
                    }
                    let key = |r: &Request| -> Sent {
                        let call_id = r.call_id().map(|c| c.as_str().to_owned());
                        let seq = r.cseq().map(|c| c.seq);
                        (
                            r.method().as_str().to_owned(),
                            call_id.unwrap_or_default(),
                            seq.unwrap_or_default(),
                            to.addr,
                        )
                    };
                    match msg {
                        Message::Request(r) => {
                            if let Some(t @ TxId::Client(_)) = tx {
                                st.client_requests.insert(t, (to.transport, key(&r)));
                            }
                            // (Over TCP when too large for UDP.)
                            assert!(
                                down.iter().any(|d| d.addr == to.addr),
                                "request sent to {to:?}"
                            );
                            let via = r.via().expect("forwarded request has a Via");
                            assert_eq!(via.host().as_str(), ME, "top Via is not ours");
                            assert_eq!(via.transport(), to.transport.as_str(), "Via transport");
                            if let Some(limit) = udp_limit
                                && to.transport == Transport::Udp
                                && r.method() != &Method::ACK
                                && len > limit
                                && !tx.is_some_and(|t| st.udp_retried.contains(&t))
                            {
                                let left = st.udp_retries.get_mut(&key(&r));
                                assert!(
                                    left.as_ref().is_some_and(|n| **n > 0),
                                    "{len} octets over UDP"
                                );
                                if let Some(n) = left {
                                    *n -= 1;
                                }
                                st.udp_retried.extend(tx);
                            }
                            // One less than received; 70 added when absent
                            // (§16.6 step 3). The request's own Via is next.
                            let mf = r.max_forwards().expect("Max-Forwards parses");
                            assert!(mf.is_some_and(|m| m <= 70), "Max-Forwards {mf:?}");
                            let upstream = r.vias().nth(1).and_then(Result::ok);
                            if r.method() != &Method::ACK
                                && r.method() != &Method::CANCEL
                                && let Some(got) = upstream
                                    .as_ref()
                                    .and_then(|v| v.branch())
                                    .and_then(|b| st.max_forwards.get(b))
                            {
                                let want = got.map_or(70, |m| m - 1);
                                assert_eq!(mf, Some(want), "Max-Forwards not decremented");
                            }
                            if r.method() != &Method::ACK {
                                st.sent_down.push((to, r));
                            }
                        }
                        Message::Response(r) => {
                            assert!(
                                up.iter().any(|u| u.addr.ip() == to.addr.ip()),
                                "response sent to {to:?}"
                            );
                            let via = r.via().expect("response keeps the client's Via");
                            assert_ne!(via.host().as_str(), ME, "our Via went upstream");
                            st.got_up.push(r);
                        }
                    }
                }
                ProxyOutput::Route { ctx, request, .. } => {
                    assert!(
                        request
                            .max_forwards()
                            .expect("parses")
                            .is_none_or(|m| m > 0)
                    );
                    st.pending.push(ctx);
                }
                ProxyOutput::Stateless { request, .. } => st.stateless.push(request),
                ProxyOutput::Finished { ctx, .. } => {
                    assert!(st.finished.insert(ctx), "{ctx} finished twice");
                }
                _ => {}
            }
        }
        for r in std::mem::take(&mut st.stateless) {
            // Refused only when Max-Forwards ran out.
            let _ = p.forward_stateless(r, down[0]);
        }
    }

    let methods = [
        "INVITE",
        "INVITE",
        "OPTIONS",
        "BYE",
        "MESSAGE",
        "REGISTER",
        "SUBSCRIBE",
    ];
    let codes = [
        100u16, 180, 183, 200, 302, 401, 407, 408, 480, 486, 487, 500, 503, 603,
    ];
    let mut seq = 0u32;
    for chunk in data.get(1..).unwrap_or_default().chunks(3) {
        let [op, a, b] = match chunk {
            [op, a, b] => [*op, *a, *b],
            _ => break,
        };
        match op % 8 {
            0 => {
                // A new request from upstream.
                seq += 1;
                let from = up[usize::from(a & 1)];
                let method = methods[usize::from(a >> 1) % methods.len()];
                let mf = match b & 7 {
                    0 => "Max-Forwards: 0\r\n",
                    1 => "",
                    _ => "Max-Forwards: 70\r\n",
                };
                let (ruri, route) = match (b >> 3) & 3 {
                    0 => ("sip:bob@example.net".to_string(), String::new()),
                    1 => (
                        "sip:bob@example.net".to_string(),
                        format!("Route: <sip:{ME};lr>, <sip:as.example.net;lr>\r\n"),
                    ),
                    // A strict router before us: our Record-Route URI as the
                    // Request-URI, the destination last in Route.
                    2 => (
                        format!("sip:{ME};lr"),
                        "Route: <sip:bob@example.net>\r\n".to_string(),
                    ),
                    _ => (
                        "sip:bob@example.net".to_string(),
                        format!("Route: <sip:{ME}:5060;lr;transport=tcp>\r\n"),
                    ),
                };
                let require = match (b >> 5) & 3 {
                    1 => "Proxy-Require: foo\r\n",
                    2 => "Proxy-Require: sec-agree\r\n",
                    _ => "",
                };
                let tag = if b & 0x80 != 0 { ";tag=dlg" } else { "" };
                let port = from.addr.port();
                let t = from.transport;
                let raw = format!(
                    "{method} {ruri} SIP/2.0\r\n\
                     Via: SIP/2.0/{t} ua.example.net:{port};branch=z9hG4bKu{seq};rport\r\n\
                     {mf}{route}{require}From: <sip:alice@example.net>;tag=a{seq}\r\n\
                     To: <sip:bob@example.net>{tag}\r\nCall-ID: c{}\r\nCSeq: {seq} {method}\r\n\
                     Contact: <sip:alice@192.0.2.10:{port}>\r\nContent-Length: 0\r\n\r\n",
                    a & 7
                );
                if let Ok(Message::Request(mut r)) = Message::parse(Bytes::from(raw)) {
                    stamp_via(&mut r, &from);
                    st.max_forwards.insert(
                        format!("z9hG4bKu{seq}"),
                        r.max_forwards().expect("Max-Forwards parses"),
                    );
                    st.sent_up.push((from, r.clone()));
                    p.handle_message(Message::Request(r), from, now);
                }
            }
            1 => {
                // A retransmission from upstream.
                if let Some((from, r)) = st.sent_up.get(usize::from(a) % st.sent_up.len().max(1)) {
                    p.handle_message(Message::Request(r.clone()), *from, now);
                }
            }
            2 => {
                // The application decides a pending context.
                if st.pending.is_empty() {
                    continue;
                }
                let ctx = st.pending.remove(usize::from(a) % st.pending.len());
                if b % 4 == 0 || st.answering.contains(&ctx) {
                    let code = StatusCode::from_u16(codes[usize::from(a) % codes.len()]).unwrap();
                    let answered = p.respond(ctx, code, None, &[], now);
                    // Refused only for a context a CANCEL already finished.
                    assert!(answered.is_ok() || st.finished.contains(&ctx));
                    if answered.is_ok() && !code.is_final() {
                        // Answered provisionally: a final answer is still owed.
                        st.answering.insert(ctx);
                        st.pending.push(ctx);
                    }
                } else {
                    let n = usize::from(b % 3) + 1;
                    let mut targets: Vec<Target> = (0..n)
                        .map(|i| {
                            let mut t = Target::new(down[(usize::from(a) + i) % down.len()]);
                            if b & 0x10 != 0 {
                                t = t.with_route("<sip:as.example.net;lr>");
                            }
                            if b & 0x20 != 0 {
                                t = t.with_record_route(b & 0x40 != 0);
                            }
                            if b & 0x80 != 0 {
                                let uri = Uri::parse(&format!("sip:bob{i}@192.0.2.2{i}"))
                                    .unwrap()
                                    .into_owned();
                                t = t.with_uri(uri);
                            }
                            if a & 0x80 != 0 {
                                t = t.with_header(HeaderName::from_static("X-Fork"), i.to_string());
                            }
                            t
                        })
                        .collect();
                    let result = if a & 0x40 != 0 && targets.len() > 1 {
                        // Sequential: the first target, then the rest.
                        let rest = targets.split_off(1);
                        p.forward_groups(ctx, vec![targets, rest], now)
                    } else {
                        p.forward(ctx, targets, now)
                    };
                    assert!(result.is_ok() || st.finished.contains(&ctx));
                }
            }
            3 => {
                // A downstream response to something the proxy sent.
                let Some((to, r)) = st.sent_down.get(usize::from(a) % st.sent_down.len().max(1))
                else {
                    continue;
                };
                let code = StatusCode::from_u16(codes[usize::from(b) % codes.len()]).unwrap();
                let tag = format!("d{}", a % 3);
                if let Ok(mut resp) = r.make_response(code, None, Some(&tag)) {
                    if code.as_u16() == 401 {
                        let _ = resp.push_header(
                            &HeaderName::WWW_AUTHENTICATE,
                            &format!("Digest realm=\"r{}\", nonce=\"n\"", a % 2),
                        );
                    }
                    if code.is_success() {
                        let _ = resp.push_header(&HeaderName::CONTACT, "<sip:bob@192.0.2.20>");
                    }
                    p.handle_message(Message::Response(resp), *to, now);
                }
            }
            4 => {
                now += Duration::from_millis(u64::from(a) * 600 + u64::from(b) * 3);
                p.handle_timeout(now);
                if let Some(t) = p.poll_timeout() {
                    assert!(
                        t > now,
                        "a deadline at or before now survived handle_timeout"
                    );
                }
            }
            5 => {
                // CANCEL from upstream.
                if let Some((from, r)) = st.sent_up.get(usize::from(a) % st.sent_up.len().max(1))
                    && let Ok(c) = build_cancel(r)
                {
                    p.handle_message(Message::Request(c), *from, now);
                }
            }
            6 => {
                // The ACK for a response that reached upstream (2xx: a new
                // transaction to the Contact; else hop by hop, same branch).
                let Some(resp) = st.got_up.get(usize::from(a) % st.got_up.len().max(1)) else {
                    continue;
                };
                if !resp.status().is_final() {
                    continue;
                }
                let Ok(cseq) = resp.cseq() else { continue };
                if cseq.method != Method::INVITE {
                    continue;
                }
                let Some((from, inv)) = st.sent_up.iter().find(|(_, r)| {
                    r.cseq().is_ok_and(|c| c.seq == cseq.seq) && r.method() == &Method::INVITE
                }) else {
                    continue;
                };
                let to = resp
                    .headers()
                    .get(&HeaderName::TO)
                    .map(|h| h.value().to_vec());
                let to = String::from_utf8(to.unwrap_or_default()).unwrap_or_default();
                let branch = if resp.status().is_success() {
                    format!("z9hG4bKack{}", cseq.seq)
                } else {
                    format!("z9hG4bKu{}", cseq.seq)
                };
                let route = if resp.status().is_success() {
                    format!("Route: <sip:{ME};lr>\r\n")
                } else {
                    String::new()
                };
                let t = from.transport;
                let port = from.addr.port();
                let call_id = inv
                    .call_id()
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_default();
                let raw = format!(
                    "ACK sip:bob@example.net SIP/2.0\r\n\
                     Via: SIP/2.0/{t} ua.example.net:{port};branch={branch};rport\r\n\
                     Max-Forwards: 70\r\n{route}From: <sip:alice@example.net>;tag=a{}\r\n\
                     To: {to}\r\nCall-ID: {call_id}\r\nCSeq: {} ACK\r\nContent-Length: 0\r\n\r\n",
                    cseq.seq, cseq.seq
                );
                if let Ok(Message::Request(mut r)) = Message::parse(Bytes::from(raw)) {
                    stamp_via(&mut r, from);
                    p.handle_message(Message::Request(r), *from, now);
                }
            }
            _ => {
                if let Some(&tx) = st.clients.get(usize::from(a) % st.clients.len().max(1)) {
                    if let Some((Transport::Tcp, sent)) = st.client_requests.get(&tx)
                        && sent.0 != "CANCEL"
                    {
                        *st.udp_retries.entry(sent.clone()).or_default() += 1;
                    }
                    p.transport_error(tx, now);
                }
            }
        }
        drain(&mut p, &mut st, &up, &down, udp_limit);
    }

    // Wind down: decide every pending context, answer everything sent
    // downstream (new branches of later groups included), let time pass.
    for _ in 0..6 {
        for ctx in std::mem::take(&mut st.pending) {
            let answered = p.respond(ctx, StatusCode::SERVICE_UNAVAILABLE, None, &[], now);
            assert!(answered.is_ok() || st.finished.contains(&ctx));
        }
        for (to, r) in std::mem::take(&mut st.sent_down) {
            if let Ok(resp) = r.make_response(StatusCode::BUSY_HERE, None, Some("end")) {
                p.handle_message(Message::Response(resp), to, now);
            }
        }
        drain(&mut p, &mut st, &up, &down, udp_limit);
        now += Duration::from_secs(900);
        p.handle_timeout(now);
        drain(&mut p, &mut st, &up, &down, udp_limit);
    }
    assert!(p.is_idle(), "leaked state: {p:?}");
}
