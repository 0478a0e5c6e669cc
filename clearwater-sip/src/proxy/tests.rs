//! Proxy tests: a UAC, the proxy and one or two UASs on the simulated network.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::sim::{self, Element, NetConfig, addr};
use crate::transaction::tests::{self as tt, Tu, ms, uac_acking_via, uas_with_contact};

const UAC: usize = 0;
const PROXY: usize = 1;
const UAS1: usize = 2;
const UAS2: usize = 3;

/// How the test application routes: called for every `Route` output with
/// the request and the Route values that named the proxy.
type App = Box<dyn FnMut(&mut Proxy, ContextId, &Request, &[Uri<'static>], Instant)>;

struct ProxyNode {
    proxy: Proxy,
    app: App,
    transport: Transport,
}

/// A scripted UAS at element `i` (its responses carry its Contact).
fn uas_at(i: usize, codes: &'static [u16], after: Duration) -> Tu {
    uas_with_contact(Some(addr(i)), codes, after)
}

#[allow(clippy::large_enum_variant)] // a handful of test nodes
enum Node {
    Ua(tt::Node),
    Proxy(ProxyNode),
}

impl Element for Node {
    fn addr(&self) -> SocketAddr {
        match self {
            Node::Ua(n) => n.addr(),
            Node::Proxy(_) => addr(PROXY),
        }
    }
    fn receive(&mut self, msg: Message, from: Remote, now: Instant) {
        match self {
            Node::Ua(n) => n.receive(msg, from, now),
            Node::Proxy(p) => p.proxy.handle_message(msg, from, now),
        }
    }
    fn timeout(&mut self, now: Instant) {
        match self {
            Node::Ua(n) => n.timeout(now),
            Node::Proxy(p) => p.proxy.handle_timeout(now),
        }
    }
    fn next_timeout(&mut self) -> Option<Instant> {
        match self {
            Node::Ua(n) => n.next_timeout(),
            Node::Proxy(p) => p.proxy.poll_timeout(),
        }
    }
    fn drain(&mut self, now: Instant) -> (Vec<(Remote, Bytes)>, Vec<String>) {
        match self {
            Node::Ua(n) => n.drain(now),
            Node::Proxy(p) => {
                let (mut tx, mut ev) = (Vec::new(), Vec::new());
                while let Some(o) = p.proxy.poll_output() {
                    match o {
                        ProxyOutput::Transmit { to, data, .. } => tx.push((to, data)),
                        ProxyOutput::Route {
                            ctx,
                            request,
                            own_routes,
                            ..
                        } => {
                            ev.push(format!("route {}", request.method()));
                            (p.app)(&mut p.proxy, ctx, &request, &own_routes, now);
                        }
                        ProxyOutput::Stateless { request, .. } => {
                            // The ACK's Request-URI is the UAS's Contact.
                            ev.push(format!("stateless {}", request.method()));
                            let uri = request.uri();
                            let sip = uri.as_sip().unwrap();
                            let ip = sip.host().ip().unwrap();
                            let to = Remote::new(
                                p.transport,
                                SocketAddr::new(ip, sip.port().unwrap_or(5060)),
                            );
                            p.proxy.forward_stateless(request, to).unwrap();
                        }
                        ProxyOutput::Finished { status, .. } => {
                            ev.push(format!("finished {status}"))
                        }
                        ProxyOutput::TargetFailed { to } => ev.push(format!("failed {}", to.addr)),
                        ProxyOutput::TargetResponded { .. } => {}
                    }
                }
                (tx, ev)
            }
        }
    }
    fn idle(&self) -> bool {
        match self {
            Node::Ua(n) => n.idle(),
            Node::Proxy(p) => p.proxy.is_idle(),
        }
    }
}

type Sim = sim::Sim<Node>;

fn proxy_config(transport: Transport) -> ProxyConfig {
    ProxyConfig::new(vec![
        LocalAddr::new(transport, "192.0.2.2", 5060),
        LocalAddr::new(Transport::Tcp, "192.0.2.2", 5060),
    ])
}

/// UAC → proxy → UAS1 [, UAS2] with the given routing and UAS scripts.
fn topology(net: NetConfig, seed: u64, app: App, uas1: Tu, uas2: Option<Tu>) -> Sim {
    let mut sim = Sim::new(Transport::Udp, net, seed);
    sim.add(Node::Ua(tt::Node::new(UAC, uac_acking_via(PROXY))));
    sim.add(Node::Proxy(ProxyNode {
        proxy: Proxy::new(proxy_config(Transport::Udp)),
        app,
        transport: Transport::Udp,
    }));
    sim.add(Node::Ua(tt::Node::new(UAS1, uas1)));
    if let Some(u) = uas2 {
        sim.add(Node::Ua(tt::Node::new(UAS2, u)));
    }
    sim
}

/// A scripted UAS (for topologies where its Contact does not matter, or it
/// is UAS1).
fn uas_any(codes: &'static [u16], after: Duration) -> Tu {
    uas_at(UAS1, codes, after)
}

/// UAC → proxy → UAS1, every request routed to UAS1, which answers with
/// `codes` after `after`.
fn one_uas(codes: &'static [u16], after: Duration) -> Sim {
    topology(
        NetConfig::default(),
        1,
        route_to(&[&[UAS1]]),
        uas_any(codes, after),
        None,
    )
}

fn to(i: usize) -> Remote {
    Remote::new(Transport::Udp, addr(i))
}

/// Routes every request to the given groups of UASs.
fn route_to(groups: &'static [&'static [usize]]) -> App {
    Box::new(move |p, ctx, _req, _own, now| {
        let groups = groups
            .iter()
            .map(|g| g.iter().map(|&i| Target::new(to(i))).collect())
            .collect();
        p.forward_groups(ctx, groups, now).unwrap();
    })
}

fn send(sim: &mut Sim, method: &str, branch: &str) -> crate::transaction::ClientTxId {
    let now = sim.now;
    let Node::Ua(uac) = &mut sim.nodes[UAC] else {
        unreachable!()
    };
    uac.layer
        .send_request(request(method, branch), to(PROXY), now)
        .unwrap()
}

/// The UAC sends each request as a transaction of its own, now, in order.
fn uac_sends<const N: usize>(sim: &mut Sim, requests: [Request; N]) {
    let now = sim.now;
    let Node::Ua(uac) = &mut sim.nodes[UAC] else {
        unreachable!()
    };
    for r in requests {
        uac.layer.send_request(r, to(PROXY), now).unwrap();
    }
}

/// A UAS that answers `code` and keeps the last request it received.
fn capturing_uas(code: u16) -> (Tu, std::rc::Rc<std::cell::RefCell<Option<Request>>>) {
    let seen: std::rc::Rc<std::cell::RefCell<Option<Request>>> = Default::default();
    let s2 = seen.clone();
    let tu: Tu = Box::new(move |l, o, now, _| {
        if let crate::transaction::Output::Request { tx, request, .. } = o {
            *s2.borrow_mut() = Some(request.clone());
            tt::reply(l, *tx, code, now);
        }
    });
    (tu, seen)
}

/// `inner`, keeping every request (and 2xx ACK) it is handed.
fn recording(mut inner: Tu) -> (Tu, std::rc::Rc<std::cell::RefCell<Vec<Request>>>) {
    let seen: std::rc::Rc<std::cell::RefCell<Vec<Request>>> = Default::default();
    let s2 = seen.clone();
    let tu: Tu = Box::new(move |l, o, now, later| {
        if let crate::transaction::Output::Request { request, .. }
        | crate::transaction::Output::Ack { request, .. } = o
        {
            s2.borrow_mut().push(request.clone());
        }
        inner(l, o, now, later);
    });
    (tu, seen)
}

/// A request from the UAC for `sip:bob@example.com` (not the proxy itself).
fn request(method: &str, branch: &str) -> Request {
    let mut r = tt::request(method, branch, "192.0.2.1");
    r.set_uri(&Uri::parse("sip:bob@example.com").unwrap());
    r
}

/// The first lines of what element `i` sent, in order.
fn lines_sent(sim: &Sim, i: usize) -> Vec<&str> {
    sim.sent[i].iter().map(|(_, l)| l.as_str()).collect()
}

/// Whether a response with `code` is among the first lines `sent`.
fn answered(sent: &[&str], code: u16) -> bool {
    let prefix = format!("SIP/2.0 {code}");
    sent.iter().any(|l| l.starts_with(&prefix))
}

fn uas_saw(sim: &Sim, i: usize) -> Vec<String> {
    sim.events(i)
        .into_iter()
        .filter(|e| e.starts_with("request") || e == "ack")
        .collect()
}

#[test]
fn invite_through_the_proxy_with_record_route_and_stateless_ack() {
    let (uas_tu, seen) = recording(uas_at(UAS1, &[180, 200], ms(100)));
    let mut sim = topology(NetConfig::default(), 1, route_to(&[&[UAS1]]), uas_tu, None);
    send(&mut sim, "INVITE", "z9hG4bKp1");
    sim.run(Duration::from_secs(300));
    assert_eq!(
        sim.events(UAC),
        [
            "response 100",
            "response 180",
            "response 200",
            "terminated Normal"
        ]
    );
    assert_eq!(uas_saw(&sim, UAS1), ["request INVITE", "ack"]);
    assert_eq!(
        sim.events(PROXY),
        ["route INVITE", "finished 200", "stateless ACK"]
    );
    // what reached the UAS: our Via on top, Max-Forwards decremented, Record-Route
    let seen = seen.borrow();
    let [invite, ack] = &seen[..] else {
        panic!("the UAS saw {} requests", seen.len())
    };
    let top = invite.via().unwrap();
    assert_eq!(top.host().as_str(), "192.0.2.2");
    assert!(top.branch().unwrap().starts_with("z9hG4bKcw"));
    assert_eq!(invite.vias().count(), 2);
    assert_eq!(invite.max_forwards().unwrap(), Some(69));
    let rr: Vec<String> = invite
        .record_routes()
        .map(|r| r.unwrap().to_string())
        .collect();
    assert_eq!(rr, ["<sip:192.0.2.2:5060;lr>"]);
    // the ACK for the 2xx followed the route set through the proxy, which
    // forwarded it statelessly: its Route popped, its own Via on top
    assert_eq!(ack.method(), &Method::ACK);
    assert_eq!(ack.routes().count(), 0);
    assert_eq!(ack.vias().count(), 2);
    let top = ack.via().unwrap();
    assert_eq!(top.host().as_str(), "192.0.2.2");
    assert!(top.branch().unwrap().starts_with("z9hG4bKsl"));
    assert_eq!(ack.max_forwards().unwrap(), Some(69));
    let Node::Proxy(p) = &sim.nodes[PROXY] else {
        unreachable!()
    };
    assert!(p.proxy.is_idle());
    assert!(sim.idle());
}

#[test]
fn forwarded_request_is_rewritten_per_section_16_6() {
    // Inspect the request the UAS receives.
    let (uas_tu, seen) = capturing_uas(486);
    let app: App = Box::new(|p, ctx, _req, _own, now| {
        let target = Target::new(to(UAS1))
            .with_uri(Uri::parse("sip:bob@192.0.2.3").unwrap().into_owned())
            .with_route("<sip:as.example.com;lr>")
            .with_header(HeaderName::from_static("X-Proxied"), "yes");
        p.forward(ctx, vec![target], now).unwrap();
    });
    let mut sim = topology(NetConfig::default(), 1, app, uas_tu, None);
    send(&mut sim, "OPTIONS", "z9hG4bKp2");
    sim.run(Duration::from_secs(300));
    let req = seen.borrow().clone().unwrap();
    assert_eq!(req.uri().as_str(), "sip:bob@192.0.2.3");
    assert_eq!(req.max_forwards().unwrap(), Some(69));
    let vias: Vec<String> = req
        .vias()
        .map(|v| v.unwrap().host().as_str().to_owned())
        .collect();
    assert_eq!(vias, ["192.0.2.2", "192.0.2.1"]);
    let branch = req.via().unwrap().branch().unwrap().to_owned();
    assert!(branch.starts_with("z9hG4bKcw"));
    let rr: Vec<String> = req
        .record_routes()
        .map(|r| r.unwrap().to_string())
        .collect();
    assert_eq!(rr, ["<sip:192.0.2.2:5060;lr>"]);
    let routes: Vec<String> = req.routes().map(|r| r.unwrap().to_string()).collect();
    assert_eq!(routes, ["<sip:as.example.com;lr>"]);
    assert!(
        req.headers()
            .contains(&HeaderName::from_static("X-Proxied"))
    );
    // the 486 came back with the proxy's Via removed
    assert_eq!(sim.events(UAC)[0], "response 486");
    assert!(sim.idle());
}

#[test]
fn parallel_fork_forwards_the_2xx_and_cancels_the_other_branch() {
    let mut sim = topology(
        NetConfig::default(),
        1,
        route_to(&[&[UAS1, UAS2]]),
        uas_any(&[180, 200], ms(500)),
        Some(uas_at(UAS2, &[180], ms(100))), // rings until cancelled
    );
    send(&mut sim, "INVITE", "z9hG4bKp3");
    sim.run(Duration::from_secs(300));
    let uac = sim.events(UAC);
    assert_eq!(uac.iter().filter(|e| *e == "response 200").count(), 1);
    assert!(!uac.iter().any(|e| e == "response 487"));
    assert_eq!(
        uas_saw(&sim, UAS2),
        ["request INVITE", "request CANCEL (cancels)"]
    );
    assert!(sim.sent[UAS2].iter().any(|(_, l)| l.contains("487")));
    assert!(sim.idle());
}

#[test]
fn best_response_prefers_6xx_then_lowest_class_then_challenges() {
    fn outcome(a: &'static [u16], b: &'static [u16]) -> Vec<String> {
        let mut sim = topology(
            NetConfig::default(),
            1,
            route_to(&[&[UAS1, UAS2]]),
            uas_any(a, ms(50)),
            Some(uas_at(UAS2, b, ms(80))),
        );
        send(&mut sim, "MESSAGE", "z9hG4bKbest");
        sim.run(Duration::from_secs(300));
        assert!(sim.idle());
        sim.events(UAC)
    }
    let first_final = |ev: Vec<String>| {
        ev.into_iter()
            .find(|e| e.starts_with("response") && !e.contains(" 1"))
            .unwrap()
    };
    assert_eq!(first_final(outcome(&[404], &[486])), "response 404");
    assert_eq!(first_final(outcome(&[503], &[404])), "response 404");
    assert_eq!(first_final(outcome(&[404], &[603])), "response 603");
    assert_eq!(first_final(outcome(&[503], &[504])), "response 500"); // 503 → 500
    assert_eq!(first_final(outcome(&[404], &[415])), "response 415"); // preferred 4xx
}

#[test]
fn challenges_of_all_401s_are_merged() {
    let challenge = |realm: &'static str| -> Tu {
        Box::new(move |l, o, now, _| {
            if let crate::transaction::Output::Request { tx, request, .. } = o {
                let mut r = request
                    .make_response(StatusCode::UNAUTHORIZED, None, Some("x"))
                    .unwrap();
                r.push_header(
                    &HeaderName::WWW_AUTHENTICATE,
                    &format!("Digest realm=\"{realm}\", nonce=\"n\""),
                )
                .unwrap();
                l.send_response(*tx, r, now).unwrap();
            }
        })
    };
    let got: std::rc::Rc<std::cell::RefCell<Vec<String>>> = Default::default();
    let g2 = got.clone();
    let mut sim = Sim::new(Transport::Udp, NetConfig::default(), 1);
    sim.add(Node::Ua(tt::Node::new(
        UAC,
        Box::new(move |_l, o, _n, _| {
            if let crate::transaction::Output::Response { response, .. } = o {
                for h in response.headers().get_all(&HeaderName::WWW_AUTHENTICATE) {
                    g2.borrow_mut().push(h.value_str().unwrap().to_owned());
                }
            }
        }),
    )));
    sim.add(Node::Proxy(ProxyNode {
        proxy: Proxy::new(proxy_config(Transport::Udp)),
        app: route_to(&[&[UAS1, UAS2]]),
        transport: Transport::Udp,
    }));
    sim.add(Node::Ua(tt::Node::new(UAS1, challenge("one"))));
    sim.add(Node::Ua(tt::Node::new(UAS2, challenge("two"))));
    send(&mut sim, "MESSAGE", "z9hG4bKauth");
    sim.run(Duration::from_secs(300));
    let mut g = got.borrow().clone();
    g.sort();
    assert_eq!(
        g,
        [
            "Digest realm=\"one\", nonce=\"n\"",
            "Digest realm=\"two\", nonce=\"n\""
        ]
    );
}

#[test]
fn sequential_groups_try_the_next_after_failures() {
    let mut sim = topology(
        NetConfig::default(),
        1,
        route_to(&[&[UAS1], &[UAS2]]),
        uas_any(&[486], ms(50)),
        Some(uas_at(UAS2, &[200], ms(50))),
    );
    send(&mut sim, "INVITE", "z9hG4bKseq");
    sim.run(Duration::from_secs(300));
    let uac = sim.events(UAC);
    assert!(uac.contains(&"response 200".to_owned()));
    assert!(!uac.contains(&"response 486".to_owned()));
    assert_eq!(uas_saw(&sim, UAS1), ["request INVITE"]);
    // UAS2 was tried only after UAS1's 486
    let t1 = sim.sent[UAS1]
        .iter()
        .find(|(_, l)| l.contains("486"))
        .unwrap()
        .0;
    let t2 = sim.log[UAS2]
        .iter()
        .find(|(_, e)| e == "request INVITE")
        .unwrap()
        .0;
    assert!(t2 > t1);
    assert!(sim.idle());
}

#[test]
fn cancel_from_upstream_reaches_every_branch() {
    let mut sim = topology(
        NetConfig::default(),
        1,
        route_to(&[&[UAS1, UAS2]]),
        uas_any(&[180], ms(100)),
        Some(uas_at(UAS2, &[183], ms(100))),
    );
    let tx = send(&mut sim, "INVITE", "z9hG4bKcan");
    sim.run(ms(1000));
    let now = sim.now;
    let Node::Ua(uac) = &mut sim.nodes[UAC] else {
        unreachable!()
    };
    assert!(uac.layer.cancel(tx, now).unwrap());
    sim.run(Duration::from_secs(300));
    for uas in [UAS1, UAS2] {
        assert_eq!(
            uas_saw(&sim, uas),
            ["request INVITE", "request CANCEL (cancels)"]
        );
    }
    let uac = sim.events(UAC);
    assert_eq!(uac.iter().filter(|e| *e == "response 487").count(), 1);
    assert!(sim.idle());
}

#[test]
fn timer_c_cancels_a_branch_that_only_rings() {
    let mut sim = one_uas(&[180], ms(100));
    send(&mut sim, "INVITE", "z9hG4bKtc");
    sim.run(Duration::from_secs(600));
    // Timer C (185 s) after the 180 reached the proxy: CANCEL, then 487 upstream.
    let cancel_at = sim.sent[PROXY]
        .iter()
        .find(|(_, l)| l.starts_with("CANCEL"))
        .unwrap()
        .0;
    assert!(cancel_at >= Duration::from_secs(185) && cancel_at < Duration::from_secs(186));
    assert!(sim.events(UAC).contains(&"response 487".to_owned()));
    assert!(sim.idle());
}

#[test]
fn validation_483_420_and_482() {
    // Max-Forwards 0
    let mut sim = one_uas(&[200], ms(0));
    let now = sim.now;
    let mut req = request("OPTIONS", "z9hG4bKmf");
    req.set_header(&HeaderName::MAX_FORWARDS, "0").unwrap();
    req.push_header(&HeaderName::PROXY_REQUIRE, "x-unknown")
        .unwrap();
    let Node::Ua(uac) = &mut sim.nodes[UAC] else {
        unreachable!()
    };
    uac.layer.send_request(req, to(PROXY), now).unwrap();
    let mut req = request("OPTIONS", "z9hG4bKpr");
    req.push_header(&HeaderName::PROXY_REQUIRE, "x-unknown, x-other")
        .unwrap();
    uac.layer.send_request(req, to(PROXY), now).unwrap();
    sim.run(Duration::from_secs(300));
    let finals: Vec<String> = sim
        .events(UAC)
        .into_iter()
        .filter(|e| e.starts_with("response"))
        .collect();
    assert_eq!(finals, ["response 483", "response 420"]);
    assert!(uas_saw(&sim, UAS1).is_empty());

    // A request the proxy routes back to itself unchanged is a loop.
    let mut sim = topology(
        NetConfig::default(),
        1,
        route_to(&[&[PROXY]]),
        uas_any(&[200], ms(0)),
        None,
    );
    send(&mut sim, "OPTIONS", "z9hG4bKloop");
    sim.run(Duration::from_secs(300));
    assert!(sim.events(UAC).contains(&"response 482".to_owned()));
    assert!(sim.idle());
}

#[test]
fn spiral_with_a_new_route_is_not_a_loop() {
    // First pass: forwarded to the proxy itself with a Route naming an AS;
    // second pass (different Route set, hence different hash): to the UAS.
    let app: App = Box::new(|p, ctx, req, _own, now| {
        let first = req
            .headers()
            .get(&HeaderName::from_static("X-Pass"))
            .is_none();
        let target = if first {
            Target::new(to(PROXY)).with_header(HeaderName::from_static("X-Pass"), "2")
        } else {
            Target::new(to(UAS1))
        };
        p.forward(ctx, vec![target], now).unwrap();
    });
    let mut sim = topology(NetConfig::default(), 1, app, uas_any(&[200], ms(0)), None);
    send(&mut sim, "MESSAGE", "z9hG4bKspiral");
    sim.run(Duration::from_secs(300));
    // X-Pass is not in the loop hash, so this would loop; Route and RURI are.
    // The proxy must see the hash equal and answer 482: document the rule.
    assert!(sim.events(UAC).contains(&"response 482".to_owned()));

    let app: App = Box::new(|p, ctx, _req, own, now| {
        // The request comes back with the Route we pushed, which names us and
        // carries the original-dialog identifier: that is how we know.
        let returning = own.iter().any(|u| {
            u.as_sip()
                .is_some_and(|s| s.param("odi") == Some(Some("abc")))
        });
        let target = if returning {
            Target::new(to(UAS1))
        } else {
            // e.g. an IMS AS hop: the Route changes the hash
            Target::new(to(PROXY)).with_route("<sip:192.0.2.2:5060;lr;odi=abc>")
        };
        p.forward(ctx, vec![target], now).unwrap();
    });
    let mut sim = topology(NetConfig::default(), 1, app, uas_any(&[200], ms(0)), None);
    send(&mut sim, "MESSAGE", "z9hG4bKspiral2");
    sim.run(Duration::from_secs(300));
    assert!(sim.events(UAC).contains(&"response 200".to_owned()));
    assert!(sim.idle());
}

#[test]
fn route_preprocessing_pops_our_route_and_fixes_strict_routes() {
    let (uas_tu, seen) = capturing_uas(200);
    let app: App = Box::new(|p, ctx, req, _own, now| {
        // our Route value is gone; the next one is a strict router
        let routes: Vec<String> = req.routes().map(|r| r.unwrap().uri().to_string()).collect();
        assert_eq!(routes, ["sip:192.0.2.3:5060"]);
        p.forward(
            ctx,
            vec![Target::new(to(UAS1)).with_record_route(false)],
            now,
        )
        .unwrap();
    });
    let mut sim = topology(NetConfig::default(), 1, app, uas_tu, None);
    let now = sim.now;
    let mut req = request("MESSAGE", "z9hG4bKroute");
    req.push_header(
        &HeaderName::ROUTE,
        "<sip:192.0.2.2:5060;lr>, <sip:192.0.2.3:5060>",
    )
    .unwrap();
    let Node::Ua(uac) = &mut sim.nodes[UAC] else {
        unreachable!()
    };
    uac.layer.send_request(req, to(PROXY), now).unwrap();
    sim.run(Duration::from_secs(300));
    let req = seen.borrow().clone().unwrap();
    // §16.6 step 6: the strict router became the Request-URI, the old
    // Request-URI the last Route value.
    assert_eq!(req.uri().as_str(), "sip:192.0.2.3:5060");
    let routes: Vec<String> = req.routes().map(|r| r.unwrap().uri().to_string()).collect();
    assert_eq!(routes, ["sip:bob@example.com"]);
    assert_eq!(req.record_routes().count(), 0);
}

/// UAS1 sends no 100 Trying of its own (its TU answers when its script says).
fn silent_uas1(sim: &mut Sim) {
    let Node::Ua(uas) = &mut sim.nodes[UAS1] else {
        unreachable!()
    };
    uas.layer = TransactionLayer::new(crate::transaction::Config {
        auto_trying: false,
        ..crate::transaction::Config::default()
    });
}

/// What a router saw: the Request-URI and the Route values.
type Seen = std::rc::Rc<std::cell::RefCell<Option<(String, Vec<String>)>>>;

#[test]
fn a_request_uri_with_a_user_at_our_address_is_not_a_strict_route() {
    // §16.4: only a Request-URI this proxy put in a Record-Route (no user,
    // `lr`) is replaced by the last Route value. A UA whose domain is our
    // address sends `sip:bob@<us>` with an outbound Route to us.
    for (ruri, routes, want_ruri, want_routes) in [
        (
            "sip:bob@192.0.2.2:5060",
            "<sip:192.0.2.2:5060;lr>",
            "sip:bob@192.0.2.2:5060",
            Vec::<String>::new(),
        ),
        // From a strict router: our recorded URI, the real target last.
        (
            "sip:192.0.2.2:5060;lr",
            "<sip:bob@example.com>",
            "sip:bob@example.com",
            vec![],
        ),
    ] {
        let seen: Seen = std::rc::Rc::default();
        let s2 = seen.clone();
        let app: App = Box::new(move |p, ctx, req, _own, now| {
            let routes: Vec<String> = req.routes().map(|r| r.unwrap().uri().to_string()).collect();
            *s2.borrow_mut() = Some((req.uri().as_str().to_owned(), routes));
            p.respond(ctx, StatusCode::NOT_FOUND, None, &[], now)
                .unwrap();
        });
        let mut sim = topology(NetConfig::default(), 1, app, uas_any(&[200], ms(0)), None);
        let now = sim.now;
        let mut req = request("MESSAGE", "z9hG4bKuser");
        req.set_uri(&Uri::parse(ruri).unwrap());
        req.push_header(&HeaderName::ROUTE, routes).unwrap();
        let Node::Ua(uac) = &mut sim.nodes[UAC] else {
            unreachable!()
        };
        uac.layer.send_request(req, to(PROXY), now).unwrap();
        sim.run(Duration::from_secs(300));
        let got = seen.borrow().clone().expect("the router saw the request");
        assert_eq!(got.0, want_ruri, "{ruri}");
        assert_eq!(got.1, want_routes, "{ruri}");
    }
}

#[test]
fn double_record_route_when_the_transport_changes() {
    let (uas_tu, seen) = capturing_uas(486);
    let app: App = Box::new(|p, ctx, _req, _own, now| {
        let tcp = Remote::new(Transport::Tcp, addr(UAS1));
        p.forward(ctx, vec![Target::new(tcp)], now).unwrap();
    });
    let mut sim = topology(NetConfig::default(), 1, app, uas_tu, None);
    send(&mut sim, "INVITE", "z9hG4bKdrr");
    sim.run(Duration::from_secs(300));
    let req = seen.borrow().clone().unwrap();
    let rr: Vec<String> = req
        .record_routes()
        .map(|r| r.unwrap().to_string())
        .collect();
    assert_eq!(
        rr,
        [
            "<sip:192.0.2.2:5060;transport=tcp;lr>",
            "<sip:192.0.2.2:5060;lr>"
        ]
    );
    assert_eq!(req.via().unwrap().transport(), "TCP");
}

#[test]
fn respond_decision_and_cancel_before_decision() {
    let app: App = Box::new(|p, ctx, req, _own, now| {
        if req.method() == &Method::OPTIONS {
            p.respond(
                ctx,
                StatusCode::OK,
                None,
                &[(HeaderName::ALLOW, "INVITE, OPTIONS".into())],
                now,
            )
            .unwrap();
        }
        // INVITE: never decided; the CANCEL must still end it
    });
    let mut sim = topology(NetConfig::default(), 1, app, uas_any(&[], ms(0)), None);
    send(&mut sim, "OPTIONS", "z9hG4bKresp");
    let tx = send(&mut sim, "INVITE", "z9hG4bKundecided");
    sim.run(ms(500));
    let now = sim.now;
    let Node::Ua(uac) = &mut sim.nodes[UAC] else {
        unreachable!()
    };
    assert!(uac.layer.cancel(tx, now).unwrap());
    sim.run(Duration::from_secs(300));
    let uac = sim.events(UAC);
    assert!(uac.contains(&"response 200".to_owned()));
    assert!(uac.contains(&"response 487".to_owned()));
    assert!(sim.idle());
}

#[test]
fn unanswered_target_is_reported_failed_and_the_next_group_tried() {
    // UAS1 never answers (all its traffic lost): after Timer B the proxy
    // reports it failed and tries UAS2. (An INVITE: the proxy's 100 Trying
    // keeps the UAC waiting; a non-INVITE would hit the UAC's own Timer F.)
    let mut sim = topology(
        NetConfig::default(),
        1,
        route_to(&[&[UAS1], &[UAS2]]),
        uas_any(&[200], ms(0)),
        Some(uas_at(UAS2, &[200], ms(0))),
    );
    sim.filter = Box::new(|from, _| from == UAS1);
    send(&mut sim, "INVITE", "z9hG4bKfail");
    sim.run(Duration::from_secs(300));
    assert!(
        sim.events(PROXY)
            .contains(&format!("failed {}", addr(UAS1)))
    );
    assert!(sim.events(UAC).contains(&"response 200".to_owned()));
    assert!(sim.idle());
}

#[test]
fn lossy_network_leaves_nothing_behind() {
    for seed in 1..=25u64 {
        let net = NetConfig {
            loss: 0.25,
            dup: 0.2,
            min_delay: ms(5),
            jitter: ms(300),
        };
        let scripts: [&'static [u16]; 4] = [&[180, 200], &[486], &[100, 200], &[603]];
        let a = scripts[(seed % 4) as usize];
        let b = scripts[((seed / 4) % 4) as usize];
        let mut sim = topology(
            net,
            seed,
            route_to(&[&[UAS1, UAS2]]),
            uas_any(a, ms(120)),
            Some(uas_at(UAS2, b, ms(200))),
        );
        for i in 0..4 {
            let m = if i % 2 == 0 { "INVITE" } else { "MESSAGE" };
            send(&mut sim, m, &format!("z9hG4bKl{seed}x{i}"));
        }
        sim.run(Duration::from_secs(900));
        let ended = sim
            .events(UAC)
            .iter()
            .filter(|e| e.starts_with("terminated"))
            .count();
        assert_eq!(ended, 4, "seed {seed}: {:?}", sim.events(UAC));
        let Node::Proxy(p) = &sim.nodes[PROXY] else {
            unreachable!()
        };
        assert!(p.proxy.is_idle(), "seed {seed}: proxy leaked {:?}", p.proxy);
        assert!(sim.nodes.iter().all(|n| n.idle()), "seed {seed}");
    }
}

#[test]
fn transport_error_counts_as_503_and_tries_the_next_group() {
    // §16.9: a send failure is a 503 from that branch. With a second group
    // the proxy moves on to it; with none, the lone 503 goes upstream as 500
    // (§16.7 step 6).
    let uac = Remote::new(Transport::Udp, addr(UAC));
    let (dead, alive) = (to(UAS1), to(UAS2));
    for groups in [vec![vec![dead]], vec![vec![dead], vec![alive]]] {
        let mut p = Proxy::new(proxy_config(Transport::Udp));
        let now = Instant::now();
        let req = request("MESSAGE", "z9hG4bKtperr");
        p.handle_message(Message::Request(req), uac, now);
        let mut upstream = Vec::new();
        let mut failed = Vec::new();
        let mut sent_to = Vec::new();
        let mut steps = 0;
        while let Some(o) = p.poll_output() {
            steps += 1;
            assert!(steps < 100, "output loop");
            match o {
                ProxyOutput::Route { ctx, .. } => {
                    let gs = groups
                        .iter()
                        .map(|g| g.iter().map(|r| Target::new(*r)).collect())
                        .collect();
                    p.forward_groups(ctx, gs, now).unwrap();
                }
                ProxyOutput::Transmit { to, data, tx } if to == uac => {
                    assert!(tx.is_some() || data.starts_with(b"SIP/2.0"));
                    upstream.push(first_line(&data));
                }
                ProxyOutput::Transmit { to, tx, .. } => {
                    sent_to.push(to);
                    if to == dead {
                        p.transport_error(tx.expect("a client transaction's send"), now);
                    }
                }
                ProxyOutput::TargetFailed { to } => failed.push(to),
                _ => {}
            }
        }
        assert_eq!(failed, [dead]);
        if groups.len() == 1 {
            assert_eq!(upstream, ["SIP/2.0 500 Server Internal Error"]);
        } else {
            assert_eq!(sent_to, [dead, alive], "the next group is tried");
            assert!(upstream.is_empty(), "still waiting for the second group");
        }
    }
}

#[test]
fn context_is_dropped_when_its_server_transaction_failed_before_the_decision() {
    let uac = Remote::new(Transport::Udp, addr(UAC));
    let mut p = Proxy::new(proxy_config(Transport::Udp));
    let now = Instant::now();
    p.handle_message(Message::Request(request("INVITE", "z9hG4bKgone")), uac, now);
    let mut ctx = None;
    while let Some(o) = p.poll_output() {
        match o {
            ProxyOutput::Route { ctx: c, .. } => ctx = Some(c),
            // the 100 Trying cannot be sent: the server transaction ends
            ProxyOutput::Transmit { tx: Some(tx), .. } => p.transport_error(tx, now),
            _ => {}
        }
    }
    let ctx = ctx.expect("a routing decision is asked for");
    assert!(
        p.respond(ctx, StatusCode::BUSY_HERE, None, &[], now)
            .is_err()
    );
    assert_eq!(p.context_count(), 0, "nothing left to wait for");
    while p.poll_output().is_some() {}
    p.handle_timeout(now + Duration::from_secs(3600));
    assert!(p.is_idle());
}

fn first_line(data: &[u8]) -> String {
    let end = data.iter().position(|&c| c == b'\r').unwrap_or(data.len());
    String::from_utf8_lossy(&data[..end]).into_owned()
}

#[test]
fn responses_without_a_transaction_are_not_relayed() {
    // Top Via ours, the next one aimed at a third party: RFC 6026 drops it
    // (RFC 3261 would have forwarded it statelessly).
    let mut proxy = Proxy::new(proxy_config(Transport::Udp));
    let raw = "SIP/2.0 200 OK\r\n\
        Via: SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bKnotours1\r\n\
        Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKvictim\r\n\
        From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=2\r\n\
        Call-ID: stray\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    let msg = Message::parse(Bytes::from(raw)).unwrap();
    let now = Instant::now();
    proxy.handle_message(msg, Remote::new(Transport::Udp, addr(UAS1)), now);
    let mut outputs = Vec::new();
    while let Some(o) = proxy.poll_output() {
        outputs.push(o);
    }
    assert!(
        !outputs
            .iter()
            .any(|o| matches!(o, ProxyOutput::Transmit { .. })),
        "a stray response was sent on"
    );
}

#[test]
fn timer_c_resets_keep_one_heap_entry_per_branch() {
    // Fifty 180s a second apart: each resets Timer C, none adds a heap
    // entry, and the CANCEL comes 185 s after the last one.
    const RINGS: [u16; 50] = [180; 50];
    let mut sim = one_uas(&RINGS, ms(1000));
    send(&mut sim, "INVITE", "z9hG4bKtcr");
    sim.run(Duration::from_secs(30));
    let Node::Proxy(p) = &sim.nodes[PROXY] else {
        unreachable!()
    };
    assert_eq!(p.proxy.timer_c.len(), 1);
    sim.run(Duration::from_secs(600));
    let cancel_at = sim.sent[PROXY]
        .iter()
        .find(|(_, l)| l.starts_with("CANCEL"))
        .unwrap()
        .0;
    assert!(
        cancel_at >= Duration::from_secs(235) && cancel_at < Duration::from_secs(236),
        "{cancel_at:?}"
    );
    assert!(sim.events(UAC).contains(&"response 487".to_owned()));
}

#[test]
fn timer_c_after_only_a_100_cancels_and_waits_for_the_final_response() {
    // A 100 Trying is a provisional response: when Timer C (185 s) fires,
    // §16.8 asks for a CANCEL, and the branch's final response (here the
    // callee's 200, sent just before the CANCEL reached it) is what goes
    // upstream; no 408 first.
    let mut sim = one_uas(&[200], ms(184_995));
    send(&mut sim, "INVITE", "z9hG4bKlate");
    sim.run(Duration::from_secs(600));
    let sent = lines_sent(&sim, PROXY);
    assert!(sent.iter().any(|l| l.starts_with("CANCEL")), "{sent:?}");
    assert!(
        !sent.iter().any(|l| l.starts_with("SIP/2.0 408")),
        "{sent:?}"
    );
    assert!(sim.events(UAC).contains(&"response 200".to_owned()));
}

#[test]
fn a_2xx_after_timer_c_408_still_goes_upstream() {
    // No provisional at all (the callee sends no 100) and a Timer C shorter
    // than Timer B: the branch counts as a 408 at once, which goes
    // upstream; the callee's 200 that follows must still be forwarded
    // (§16.7 step 10), statelessly, as the server transaction is completed.
    let mut sim = one_uas(&[200], ms(9_995));
    let Node::Proxy(node) = &mut sim.nodes[PROXY] else {
        unreachable!()
    };
    let mut config = proxy_config(Transport::Udp);
    config.timer_c = Duration::from_secs(10);
    node.proxy = Proxy::new(config);
    silent_uas1(&mut sim);
    send(&mut sim, "INVITE", "z9hG4bKlate");
    sim.run(Duration::from_secs(600));
    let upstream: Vec<&str> = lines_sent(&sim, PROXY)
        .into_iter()
        .filter(|l| l.starts_with("SIP/2.0 408") || l.starts_with("SIP/2.0 200"))
        .collect();
    assert!(
        upstream
            .first()
            .is_some_and(|l| l.starts_with("SIP/2.0 408")),
        "{upstream:?}"
    );
    assert!(
        upstream.iter().any(|l| l.starts_with("SIP/2.0 200")),
        "the late 200 was dropped: {:?} / UAS saw {:?}",
        sim.sent[PROXY],
        sim.events(UAS1)
    );
}

#[test]
fn a_timed_out_branch_counts_as_a_408_against_a_503() {
    // Forked to UAS1, which never answers (no 100 either: Timer B), and
    // UAS2, which answers 503. The timeout is a stored 408 (§16.8), and a
    // 4xx beats a 5xx (§16.7 step 6): 408 upstream, not 500.
    let mut sim = topology(
        NetConfig::default(),
        1,
        route_to(&[&[UAS1, UAS2]]),
        uas_any(&[], ms(0)),
        Some(uas_at(UAS2, &[503], ms(0))),
    );
    silent_uas1(&mut sim);
    send(&mut sim, "INVITE", "z9hG4bKto503");
    sim.run(Duration::from_secs(600));
    let uac = sim.events(UAC);
    assert!(uac.contains(&"response 408".to_owned()), "{uac:?}");
    assert!(!uac.contains(&"response 500".to_owned()), "{uac:?}");
}

#[test]
fn no_408_for_a_non_invite_whose_target_never_answers() {
    // RFC 4320 §4.2: the proxy's Timer F fires, and it sends nothing
    // upstream (the UAC's own Timer F has fired as well); its server
    // transaction ends quietly.
    let mut sim = one_uas(&[200], ms(0));
    sim.filter = Box::new(|from, _| from == UAS1);
    send(&mut sim, "MESSAGE", "z9hG4bKno408");
    sim.run(Duration::from_secs(300));
    let sent = lines_sent(&sim, PROXY);
    assert!(
        !sent.iter().any(|l| l.starts_with("SIP/2.0 408")),
        "{sent:?}"
    );
    assert!(
        sim.events(PROXY)
            .contains(&format!("failed {}", addr(UAS1)))
    );
    assert!(sim.idle());
}

#[test]
fn a_cancel_for_no_context_is_answered_481_not_routed() {
    let mut sim = one_uas(&[200], ms(0));
    send(&mut sim, "CANCEL", "z9hG4bKorphan");
    sim.run(Duration::from_secs(60));
    assert!(sim.events(UAC).contains(&"response 481".to_owned()));
    assert!(uas_saw(&sim, UAS1).is_empty(), "the CANCEL was routed");
}

#[test]
fn a_cancel_for_a_message_in_progress_gets_200_and_changes_nothing() {
    // §16.10 / §9.2: the CANCEL matches the MESSAGE's transaction, so it is
    // answered 200 (not 481), is not sent on, and the MESSAGE still gets the
    // UAS's answer.
    let mut sim = one_uas(&[202], ms(2000));
    let msg = request("MESSAGE", "z9hG4bKmsgc");
    let mut cancel = request("CANCEL", "z9hG4bKmsgc");
    cancel.set_header(&HeaderName::CSEQ, "1 CANCEL").unwrap();
    uac_sends(&mut sim, [msg, cancel]);
    sim.run(Duration::from_secs(60));
    let sent = lines_sent(&sim, PROXY);
    assert!(answered(&sent, 200), "{sent:?}");
    assert!(!answered(&sent, 481), "{sent:?}");
    assert!(answered(&sent, 202), "{sent:?}");
    assert_eq!(uas_saw(&sim, UAS1), ["request MESSAGE"]);
    assert!(sim.idle());
}

#[test]
fn a_request_over_the_udp_size_limit_goes_over_tcp() {
    // RFC 3261 §18.1.1 with `udp_size_limit`: a 2 000-octet INVITE for a UDP
    // next hop leaves over TCP, Via and Record-Route saying so; a small one
    // stays on UDP. Without the limit (the default) both stay on UDP.
    for limit in [Some(1300), None] {
        let (uas_tu, seen) = recording(uas_at(UAS1, &[200], ms(10)));
        let mut sim = topology(NetConfig::default(), 1, route_to(&[&[UAS1]]), uas_tu, None);
        let Node::Proxy(p) = &mut sim.nodes[PROXY] else {
            unreachable!()
        };
        let mut config = proxy_config(Transport::Udp);
        config.udp_size_limit = limit;
        p.proxy = Proxy::new(config);
        let mut big = request("INVITE", "z9hG4bKbig");
        big.set_body(Bytes::from(vec![b'a'; 2000]), Some("text/plain"))
            .unwrap();
        let mut small = request("OPTIONS", "z9hG4bKsmall");
        small.set_header(&HeaderName::CALL_ID, "small").unwrap();
        uac_sends(&mut sim, [big, small]);
        sim.run(Duration::from_secs(60));
        let seen = seen.borrow();
        let transport_of = |method: &Method| {
            let r = seen.iter().find(|r| r.method() == method).unwrap();
            let via = r.via().unwrap().transport().to_owned();
            let rr = r.record_routes().next().unwrap().unwrap().to_string();
            (via, rr.contains("transport=tcp"))
        };
        let big_over_tcp = limit.is_some();
        assert_eq!(
            transport_of(&Method::INVITE),
            (
                if big_over_tcp { "TCP" } else { "UDP" }.to_owned(),
                big_over_tcp
            ),
            "{limit:?}"
        );
        assert_eq!(
            transport_of(&Method::OPTIONS),
            ("UDP".to_owned(), false),
            "{limit:?}"
        );
    }
}

/// The context of the request the proxy asks to route (driven directly).
fn routed_ctx(p: &mut Proxy) -> ContextId {
    std::iter::from_fn(|| p.poll_output())
        .find_map(|o| match o {
            ProxyOutput::Route { ctx, .. } => Some(ctx),
            _ => None,
        })
        .unwrap()
}

/// The first message the proxy sends to `addr` (driven directly).
fn sent_to(p: &mut Proxy, addr: SocketAddr) -> Bytes {
    std::iter::from_fn(|| p.poll_output())
        .find_map(|o| match o {
            ProxyOutput::Transmit { to, data, .. } if to.addr == addr => Some(data),
            _ => None,
        })
        .unwrap()
}

/// A proxy with UDP and (when `tcp_local`) TCP addresses and a 1300-octet
/// UDP size limit, holding the context of a 2 000-octet INVITE from the UAC.
fn size_limited_proxy(tcp_local: bool, branch: &str) -> (Proxy, ContextId, Instant) {
    let mut locals = vec![LocalAddr::new(Transport::Udp, "192.0.2.2", 5060)];
    if tcp_local {
        locals.push(LocalAddr::new(Transport::Tcp, "192.0.2.2", 5060));
    }
    let mut config = ProxyConfig::new(locals);
    config.udp_size_limit = Some(1300);
    let mut p = Proxy::new(config);
    let now = Instant::now();
    let mut big = request("INVITE", branch);
    big.set_body(Bytes::from(vec![b'a'; 2000]), Some("text/plain"))
        .unwrap();
    p.handle_message(Message::Request(big), to(UAC), now);
    let ctx = routed_ctx(&mut p);
    (p, ctx, now)
}

#[test]
fn the_udp_size_switch_sends_over_tcp_only_when_it_can() {
    // Driven directly, to see where the proxy sends: a large INVITE for a
    // UDP next hop goes to a TCP remote; not when the proxy has no TCP
    // address, nor when the next hop is a flow (RFC 5626). A failed TCP
    // connection sends it again over UDP, once; failures are reported for
    // the target as given.
    let uas: SocketAddr = "192.0.2.50:5060".parse().unwrap();
    let cases = [
        (true, None, Transport::Tcp),
        (false, None, Transport::Udp),
        (true, Some(crate::transport::FlowId(7)), Transport::Udp),
    ];
    for (tcp_local, flow, want) in cases {
        let (mut p, ctx, now) = size_limited_proxy(tcp_local, "z9hG4bKdirect");
        let target = Remote {
            flow,
            ..Remote::new(Transport::Udp, uas)
        };
        p.forward(ctx, vec![Target::new(target)], now).unwrap();
        let sent: Vec<Remote> = std::iter::from_fn(|| p.poll_output())
            .filter_map(|o| match o {
                ProxyOutput::Transmit { to, data, .. } if to.addr == uas => {
                    assert!(data.starts_with(b"INVITE "));
                    Some(to)
                }
                _ => None,
            })
            .collect();
        assert_eq!(sent.len(), 1, "{tcp_local} {flow:?}");
        assert_eq!(sent[0].transport, want, "{tcp_local} {flow:?}");
        let first_branch = p.by_client.keys().copied().next().unwrap();
        p.transport_error(TxId::Client(first_branch), now);
        let mut out: Vec<ProxyOutput> = std::iter::from_fn(|| p.poll_output()).collect();
        if want == Transport::Tcp {
            // The connection failed before any response: the request goes
            // again over UDP, once, with a new branch (§18.1.1), and the
            // target is not reported failed.
            let again: Vec<(Remote, Bytes)> = out
                .drain(..)
                .filter_map(|o| match o {
                    ProxyOutput::Transmit { to, data, .. } => Some((to, data)),
                    ProxyOutput::TargetFailed { .. } => panic!("reported failed"),
                    _ => None,
                })
                .collect();
            assert_eq!(again.len(), 1);
            assert_eq!(again[0].0, Remote::new(Transport::Udp, uas));
            let Message::Request(r) = Message::parse(again[0].1.clone()).unwrap() else {
                panic!("a request")
            };
            assert_eq!(r.method(), &Method::INVITE);
            let via = r.via().unwrap();
            assert_eq!(via.transport(), "UDP");
            let rr = r.record_routes().next().unwrap().unwrap().to_string();
            assert!(!rr.contains("transport=tcp"), "{rr}");
            let second_branch = p.by_client.keys().copied().next().unwrap();
            assert_ne!(second_branch, first_branch);
            assert_eq!(p.by_client.len(), 1);
            // That one failing too fails the branch.
            p.transport_error(TxId::Client(second_branch), now);
            out = std::iter::from_fn(|| p.poll_output()).collect();
        }
        // The branch fails: reported against the target as given.
        let failed: Vec<Remote> = out
            .into_iter()
            .filter_map(|o| match o {
                ProxyOutput::TargetFailed { to } => Some(to),
                _ => None,
            })
            .collect();
        assert_eq!(failed, [target], "{tcp_local} {flow:?}");
        assert!(p.by_client.is_empty());
    }
}

/// The connection of the proxy's only client transaction fails: nothing is
/// sent to `uas` again and the target is reported failed. Returns the
/// outputs.
fn fails_without_a_resend(p: &mut Proxy, uas: SocketAddr, now: Instant) -> Vec<ProxyOutput> {
    let client = p.by_client.keys().copied().next().unwrap();
    p.transport_error(TxId::Client(client), now);
    let out: Vec<ProxyOutput> = std::iter::from_fn(|| p.poll_output()).collect();
    assert!(
        !out.iter()
            .any(|o| matches!(o, ProxyOutput::Transmit { to, .. } if to.addr == uas)),
        "sent again"
    );
    assert!(out.iter().any(
        |o| matches!(o, ProxyOutput::TargetFailed { to } if *to == Remote::new(Transport::Udp, uas))
    ));
    out
}

#[test]
fn a_size_switched_branch_is_not_sent_again_over_udp_after_a_response() {
    // §18.1.1's retry over UDP is for a connection that could not be made:
    // once the next hop answered over TCP (here a 180), a failure of that
    // connection fails the branch like any other.
    let uas: SocketAddr = "192.0.2.50:5060".parse().unwrap();
    let (mut p, ctx, now) = size_limited_proxy(true, "z9hG4bKanswered");
    let target = Remote::new(Transport::Udp, uas);
    p.forward(ctx, vec![Target::new(target)], now).unwrap();
    let forwarded = sent_to(&mut p, uas);
    let Message::Request(fwd) = Message::parse(forwarded).unwrap() else {
        panic!("a request")
    };
    let ringing = fwd
        .make_response(StatusCode::RINGING, None, Some("u"))
        .unwrap();
    p.handle_message(
        Message::Response(ringing),
        Remote::new(Transport::Tcp, uas),
        now,
    );
    while p.poll_output().is_some() {}
    fails_without_a_resend(&mut p, uas, now);
}

#[test]
fn a_size_switched_branch_of_a_cancelled_request_is_not_sent_again_over_udp() {
    // The UAC cancels while the TCP connection is being made; its failure
    // then ends the branch, not a new send over UDP.
    let uas: SocketAddr = "192.0.2.50:5060".parse().unwrap();
    let (mut p, ctx, now) = size_limited_proxy(true, "z9hG4bKcancelled");
    p.forward(
        ctx,
        vec![Target::new(Remote::new(Transport::Udp, uas))],
        now,
    )
    .unwrap();
    while p.poll_output().is_some() {}
    let mut cancel = request("CANCEL", "z9hG4bKcancelled");
    cancel.set_header(&HeaderName::CSEQ, "1 CANCEL").unwrap();
    p.handle_message(Message::Request(cancel), to(UAC), now);
    let out: Vec<ProxyOutput> = std::iter::from_fn(|| p.poll_output()).collect();
    assert!(
        out.iter().any(
            |o| matches!(o, ProxyOutput::Transmit { data, .. } if data.starts_with(b"SIP/2.0 200"))
        ),
        "the CANCEL is answered"
    );
    // The branch ends (its failure reported) and the INVITE gets its final
    // response upstream.
    let out = fails_without_a_resend(&mut p, uas, now);
    assert!(
        out.iter()
            .any(|o| matches!(o, ProxyOutput::Transmit { to: t, data, .. }
        if *t == to(UAC) && data.starts_with(b"SIP/2.0 5")))
    );
}

#[test]
fn our_via_is_dropped_from_a_response_that_lists_vias_in_one_compact_field() {
    // §16.7 step 3 on `v: <ours>, <the client's>`: the response goes
    // upstream with the client's Via alone, whatever the field's spelling.
    let mut p = Proxy::new(proxy_config(Transport::Udp));
    let now = Instant::now();
    let req = request("MESSAGE", "z9hG4bKcompact");
    let client_via = req.via().unwrap().to_string();
    p.handle_message(Message::Request(req), to(UAC), now);
    let ctx = routed_ctx(&mut p);
    p.forward(ctx, vec![Target::new(to(UAS1))], now).unwrap();
    let forwarded = sent_to(&mut p, addr(UAS1));
    let Message::Request(fwd) = Message::parse(forwarded).unwrap() else {
        panic!("a request")
    };
    let ours = fwd.via().unwrap().to_string();
    let ok = fwd.make_response(StatusCode::OK, None, Some("u")).unwrap();
    let text = String::from_utf8(ok.to_bytes().to_vec()).unwrap();
    let two_lines = format!("Via: {ours}\r\nVia: {client_via}\r\n");
    assert!(text.contains(&two_lines), "{text}");
    let one_field = text.replace(&two_lines, &format!("v: {ours} ,\r\n {client_via}\r\n"));
    p.handle_message(
        Message::parse(Bytes::from(one_field)).unwrap(),
        to(UAS1),
        now,
    );
    let upstream = sent_to(&mut p, addr(UAC));
    let Message::Response(up) = Message::parse(upstream).unwrap() else {
        panic!("a response")
    };
    assert_eq!(up.status(), StatusCode::OK);
    let vias: Vec<String> = up.vias().map(|v| v.unwrap().to_string()).collect();
    assert_eq!(vias, [client_via]);
}

#[test]
fn a_request_without_max_forwards_is_forwarded_with_70() {
    // §16.6 step 3: the proxy adds the header, and its value SHOULD be 70
    // (not 70 decremented).
    let (uas_tu, seen) = capturing_uas(200);
    let mut sim = topology(NetConfig::default(), 1, route_to(&[&[UAS1]]), uas_tu, None);
    let mut req = request("OPTIONS", "z9hG4bKnomf");
    assert_eq!(req.remove_header(&HeaderName::MAX_FORWARDS), 1);
    uac_sends(&mut sim, [req]);
    sim.run(Duration::from_secs(60));
    let got = seen.borrow().clone().unwrap();
    assert_eq!(got.max_forwards().unwrap(), Some(70));
}

#[test]
fn a_second_2xx_to_a_forked_message_is_not_forwarded() {
    // §16.7 step 10 carries late 2xx for INVITE only: two 200s to a MESSAGE
    // forked in parallel give the UAC one.
    let mut sim = topology(
        NetConfig::default(),
        1,
        route_to(&[&[UAS1, UAS2]]),
        uas_any(&[200], ms(100)),
        Some(uas_at(UAS2, &[200], ms(300))),
    );
    send(&mut sim, "MESSAGE", "z9hG4bKm2");
    sim.run(Duration::from_secs(60));
    let oks = lines_sent(&sim, PROXY)
        .iter()
        .filter(|l| l.starts_with("SIP/2.0 200"))
        .count();
    assert_eq!(oks, 1, "{:?}", sim.sent[PROXY]);
}

#[test]
fn a_cancel_for_an_invite_answered_at_once_gets_200() {
    // Max-Forwards 0: 483 at once, without a context. A CANCEL for that
    // INVITE matches its transaction: 200, nothing else to do (§9.2).
    let mut sim = one_uas(&[200], ms(0));
    let mut inv = request("INVITE", "z9hG4bKmf0");
    inv.set_header(&HeaderName::MAX_FORWARDS, "0").unwrap();
    // The UAC's own cancel() would wait for a provisional that never comes;
    // send the CANCEL as its own transaction, right behind the INVITE.
    let cancel = crate::transaction::build_cancel(&inv).unwrap();
    uac_sends(&mut sim, [inv, cancel]);
    sim.run(Duration::from_secs(60));
    let sent = lines_sent(&sim, PROXY);
    assert!(answered(&sent, 483), "{sent:?}");
    assert!(!answered(&sent, 481), "{sent:?}");
    assert!(answered(&sent, 200), "{sent:?}");
    assert!(uas_saw(&sim, UAS1).is_empty());
}

#[test]
fn a_target_that_fails_at_once_does_not_end_its_group_early() {
    // The first target of the group cannot be built (its Route is not a
    // name-addr); the second must still go out and its 200 decide, not a
    // 408 sent before the second branch even started.
    let app: App = Box::new(|p, ctx, _req, _own, now| {
        let mut broken = Target::new(to(UAS2));
        broken.routes = vec!["not a name-addr".into()];
        p.forward_groups(ctx, vec![vec![broken, Target::new(to(UAS1))]], now)
            .unwrap();
    });
    let mut sim = topology(NetConfig::default(), 1, app, uas_any(&[200], ms(50)), None);
    send(&mut sim, "MESSAGE", "z9hG4bKbroken");
    sim.run(Duration::from_secs(60));
    let finals: Vec<String> = sim
        .events(UAC)
        .into_iter()
        .filter(|e| e.starts_with("response"))
        .collect();
    assert_eq!(finals, ["response 200"]);

    // Twenty thousand groups whose only target fails at once, then a good
    // one: passed over in a loop (no recursion per group), the 200 decides.
    let app: App = Box::new(|p, ctx, _req, _own, now| {
        let mut groups: Vec<Vec<Target>> = (0..20_000)
            .map(|_| {
                let mut broken = Target::new(to(UAS2));
                broken.routes = vec!["not a name-addr".into()];
                vec![broken]
            })
            .collect();
        groups.push(vec![Target::new(to(UAS1))]);
        p.forward_groups(ctx, groups, now).unwrap();
    });
    let mut sim = topology(NetConfig::default(), 1, app, uas_any(&[200], ms(50)), None);
    send(&mut sim, "MESSAGE", "z9hG4bKmany");
    sim.run(Duration::from_secs(60));
    assert!(sim.events(UAC).contains(&"response 200".to_owned()));
}

#[test]
fn to_tags_are_keyed_not_counters() {
    // §19.3: tags must be unpredictable. A context's tag is stable (every
    // response of the context carries the same), others cannot be derived
    // from it, and another proxy instance uses another key.
    use std::collections::hash_map::RandomState;
    let (k1, k2) = (RandomState::new(), RandomState::new());
    let a = super::to_tag(&k1, ContextId(1));
    assert_eq!(a, super::to_tag(&k1, ContextId(1)));
    assert_ne!(a, super::to_tag(&k1, ContextId(2)));
    assert_ne!(a, super::to_tag(&k2, ContextId(1)));
    assert!(a.starts_with("cwp") && a.len() == 19, "{a}");
    assert!(a[3..].bytes().all(|c| c.is_ascii_hexdigit()));
}

#[test]
fn a_stateless_ack_to_a_strict_router_is_rewritten_too() {
    // §16.11 forwards as §16.6 does: when the next Route has no `lr`, it
    // becomes the Request-URI and the Request-URI goes last in the Route set.
    let mut p = Proxy::new(proxy_config(Transport::Udp));
    let mut ack = request("ACK", "z9hG4bKackstrict");
    ack.push_header(&HeaderName::ROUTE, "<sip:192.0.2.9:5060>")
        .unwrap();
    p.forward_stateless(ack, to(UAS1)).unwrap();
    let sent = std::iter::from_fn(|| p.poll_output())
        .find_map(|o| match o {
            ProxyOutput::Transmit { data, .. } => Some(data),
            _ => None,
        })
        .expect("the ACK went out");
    let Message::Request(out) = Message::parse(sent).unwrap() else {
        panic!("not a request")
    };
    assert_eq!(out.uri().as_str(), "sip:192.0.2.9:5060");
    let routes: Vec<String> = out.routes().map(|r| r.unwrap().uri().to_string()).collect();
    assert_eq!(routes, ["sip:bob@example.com"]);
}
