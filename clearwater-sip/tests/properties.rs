//! Property tests: generated messages (typed parts → wire text → parse) come
//! back with the same parts; arbitrary and mutated bytes never panic any entry
//! point; random edit sequences keep messages well-formed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use bytes::Bytes;
use clearwater_sip::header::{
    Contact, Credentials, NameAddr, Route, TypedHeader, Via, WwwAuthenticate,
};
use clearwater_sip::{Framer, HeaderName, Message, Triage, TriageConfig, Uri, triage};
use proptest::prelude::*;

// The fuzz targets' bodies: `read_all` calls every accessor of a message.
#[allow(dead_code, missing_docs, unreachable_pub)]
#[path = "../../fuzz/src/bodies.rs"]
mod bodies;

#[derive(Debug, Clone)]
struct Parts {
    method: String,
    user: Option<String>,
    host: String,
    port: Option<u16>,
    vias: Vec<(String, String, Option<u16>, String)>,
    from_display: Option<String>,
    from_tag: String,
    to_tag: Option<String>,
    call_id: String,
    cseq: u32,
    contacts: Vec<String>,
    routes: Vec<String>,
    ext: Vec<(String, String)>,
    body: Vec<u8>,
    compact: bool,
    fold: bool,
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9.!%*_+`'~-]{1,12}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,8}[a-z0-9](\\.[a-z][a-z0-9]{0,6}){0,3}",
        (0u8..=255, 0u8..=255, 0u8..=255, 1u8..=254)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        any::<[u16; 8]>().prop_map(|s| format!("[{}]", std::net::Ipv6Addr::from(s))),
    ]
}

fn parts() -> impl Strategy<Value = Parts> {
    (
        prop_oneof![
            Just("INVITE".to_owned()),
            Just("REGISTER".to_owned()),
            Just("OPTIONS".to_owned()),
            "[A-Z]{3,10}",
        ],
        proptest::option::of("[a-zA-Z0-9_.!~*'()&=+$,;?/-]{1,16}"),
        host(),
        proptest::option::of(1u16..),
        proptest::collection::vec(
            (
                prop_oneof![
                    Just("UDP"),
                    Just("TCP"),
                    Just("TLS"),
                    Just("WS"),
                    Just("SCTP")
                ]
                .prop_map(str::to_owned),
                host(),
                proptest::option::of(1u16..),
                token(),
            ),
            1..5,
        ),
        proptest::option::of("[ -~]{0,20}"),
        token(),
        proptest::option::of(token()),
        (
            "[A-Za-z0-9.!%*_+`'~()<>:\\\\\"/\\[\\]?{}-]{1,20}",
            proptest::option::of(host()),
        ),
    )
        .prop_flat_map(
            |(method, user, rhost, port, vias, from_display, from_tag, to_tag, (cid, cid_host))| {
                (
                    Just((
                        method,
                        user,
                        rhost,
                        port,
                        vias,
                        from_display,
                        from_tag,
                        to_tag,
                    )),
                    Just(match cid_host {
                        Some(h) => format!("{cid}@{}", h.trim_matches(|c| c == '[' || c == ']')),
                        None => cid,
                    }),
                    0u32..(1 << 31),
                    proptest::collection::vec(host().prop_map(|h| format!("sip:u@{h}")), 0..3),
                    proptest::collection::vec(host().prop_map(|h| format!("sip:{h};lr")), 0..4),
                    proptest::collection::vec(
                        ("X-[A-Za-z]{1,8}", "[!-~]([ -~]{0,30}[!-~])?"),
                        0..3,
                    ),
                    proptest::collection::vec(any::<u8>(), 0..64),
                    any::<bool>(),
                    any::<bool>(),
                )
            },
        )
        .prop_map(
            |(
                (method, user, host, port, vias, from_display, from_tag, to_tag),
                call_id,
                cseq,
                contacts,
                routes,
                ext,
                body,
                compact,
                fold,
            )| Parts {
                method,
                user,
                host,
                port,
                vias,
                from_display,
                from_tag,
                to_tag,
                call_id,
                cseq,
                contacts,
                routes,
                ext,
                body,
                compact,
                fold,
            },
        )
}

fn quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

fn render(p: &Parts) -> Vec<u8> {
    let mut s = String::new();
    let uri = format!(
        "sip:{}{}{}",
        p.user.as_ref().map(|u| format!("{u}@")).unwrap_or_default(),
        p.host,
        p.port.map(|p| format!(":{p}")).unwrap_or_default()
    );
    s.push_str(&format!("{} {} SIP/2.0\r\n", p.method, uri));
    let (v, f, t, i, m, l) = if p.compact {
        ("v", "f", "t", "i", "m", "l")
    } else {
        ("Via", "From", "To", "Call-ID", "Contact", "Content-Length")
    };
    let sep = if p.fold { ",\r\n  " } else { ", " };
    let vias: Vec<String> = p
        .vias
        .iter()
        .map(|(tr, h, port, b)| {
            format!(
                "SIP/2.0/{tr} {h}{};branch={b}",
                port.map(|p| format!(":{p}")).unwrap_or_default()
            )
        })
        .collect();
    s.push_str(&format!("{v}: {}\r\n", vias.join(sep)));
    s.push_str("Max-Forwards: 70\r\n");
    s.push_str(&format!(
        "{f}: {}<sip:alice@example.com>;tag={}\r\n",
        p.from_display
            .as_deref()
            .map(|d| format!("{} ", quote(d)))
            .unwrap_or_default(),
        p.from_tag
    ));
    s.push_str(&format!(
        "{t}: <sip:bob@example.com>{}\r\n",
        p.to_tag
            .as_ref()
            .map(|t| format!(";tag={t}"))
            .unwrap_or_default()
    ));
    s.push_str(&format!("{i}: {}\r\n", p.call_id));
    s.push_str(&format!("CSeq: {} {}\r\n", p.cseq, p.method));
    for c in &p.contacts {
        s.push_str(&format!("{m}: <{c}>;expires=60\r\n"));
    }
    if !p.routes.is_empty() {
        let r: Vec<String> = p.routes.iter().map(|r| format!("<{r}>")).collect();
        s.push_str(&format!("Route: {}\r\n", r.join(sep)));
    }
    for (n, val) in &p.ext {
        s.push_str(&format!("{n}: {val}\r\n"));
    }
    s.push_str(&format!("{l}: {}\r\n\r\n", p.body.len()));
    let mut b = s.into_bytes();
    b.extend_from_slice(&p.body);
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn generated_messages_round_trip(p in parts()) {
        let wire = Bytes::from(render(&p));
        let Triage::Accept(msg) = triage(wire.clone(), &TriageConfig::default()) else {
            panic!("generated message not accepted: {}", String::from_utf8_lossy(&wire));
        };
        let Message::Request(req) = &msg else { panic!("not a request") };
        prop_assert_eq!(req.method().as_str(), p.method.as_str());
        let uri = req.uri();
        let sip = uri.as_sip().unwrap();
        prop_assert_eq!(sip.user(), p.user.as_deref());
        prop_assert_eq!(sip.host().as_str(), p.host.as_str());
        prop_assert_eq!(sip.port(), p.port);
        let vias: Vec<_> = msg.vias().map(|v| v.unwrap()).collect();
        prop_assert_eq!(vias.len(), p.vias.len());
        for (got, (tr, h, port, b)) in vias.iter().zip(&p.vias) {
            prop_assert_eq!(got.transport(), tr.as_str());
            prop_assert_eq!(got.host().as_str(), h.as_str());
            prop_assert_eq!(got.port(), *port);
            prop_assert_eq!(got.branch(), Some(b.as_str()));
        }
        let from = msg.from().unwrap();
        prop_assert_eq!(from.tag(), Some(p.from_tag.as_str()));
        prop_assert_eq!(from.display_name().map(|d| d.into_owned()), p.from_display.clone());
        let to = msg.to().unwrap();
        prop_assert_eq!(to.tag(), p.to_tag.as_deref());
        let call_id = msg.call_id().unwrap();
        prop_assert_eq!(call_id.as_str(), p.call_id.as_str());
        prop_assert_eq!(msg.cseq().unwrap().seq, p.cseq);
        let contacts: Vec<String> = msg
            .contacts()
            .map(|c| c.unwrap().addr().unwrap().uri().to_string())
            .collect();
        prop_assert_eq!(&contacts, &p.contacts);
        prop_assert!(msg.contacts().all(|c| c.unwrap().expires() == Some(60)));
        let routes: Vec<String> = msg.routes().map(|r| r.unwrap().uri().to_string()).collect();
        prop_assert_eq!(&routes, &p.routes);
        for (n, _) in &p.ext {
            // Repeated extension names keep their values in order.
            let name = HeaderName::from_bytes(n.as_bytes()).unwrap();
            let got: Vec<&[u8]> = msg.headers().get_all(&name).map(|h| h.value()).collect();
            let want: Vec<&[u8]> = p
                .ext
                .iter()
                .filter(|(m, _)| m.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.as_bytes())
                .collect();
            prop_assert_eq!(got, want);
        }
        prop_assert_eq!(msg.body(), &p.body[..]);
        prop_assert_eq!(msg.to_bytes(), wire.clone());
        prop_assert_eq!(msg.wire_len(), wire.len());
        // Edited, with the Content-Length line the writer then adds: the
        // length is still exact.
        let mut edited = msg.clone();
        edited.remove_header(&HeaderName::CONTENT_LENGTH);
        edited.push_header(&HeaderName::from_static("X-Edit"), "1").unwrap();
        prop_assert_eq!(edited.wire_len(), edited.to_bytes().len());
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        exercise(&data);
    }

    #[test]
    fn mutated_corpus_never_panics(
        idx in 0usize..14,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let mut data = realistic()[idx].clone();
        for (at, byte, op) in edits {
            if data.is_empty() { break; }
            let i = at.index(data.len());
            match op {
                0 => data[i] = byte,
                1 => { data.remove(i); }
                _ => data.insert(i, byte),
            }
        }
        exercise(&data);
    }

    /// Route values spread over one or two fields (any letter case),
    /// with white space and folds around the commas, pop in order; after
    /// each pop the message re-parses with exactly the values left.
    #[test]
    fn route_values_pop_in_order_whatever_the_separators(
        labels in proptest::collection::vec("[a-z][a-z0-9]{0,7}", 1..6),
        seps in proptest::collection::vec(
            prop_oneof![Just(","), Just(", "), Just(" ,\t"), Just("\t, "), Just(",\r\n ")],
            5,
        ),
        split in 0usize..6,
        upper in any::<bool>(),
    ) {
        let uris: Vec<String> = labels.iter().map(|l| format!("sip:{l}.example.net;lr")).collect();
        let split = split.min(uris.len());
        let field = |vals: &[String], first: usize| -> String {
            let mut f = String::from(if upper { "ROUTE : " } else { "Route: " });
            for (i, u) in vals.iter().enumerate() {
                if i > 0 {
                    f.push_str(seps[(first + i) % seps.len()]);
                }
                f.push_str(&format!("<{u}>"));
            }
            f.push_str("\r\n");
            f
        };
        let mut raw = String::from("OPTIONS sip:b@example.net SIP/2.0\r\nVia: SIP/2.0/UDP a.example.net;branch=z9hG4bK-a\r\n");
        if split > 0 {
            raw.push_str(&field(&uris[..split], 0));
        }
        raw.push_str("Max-Forwards: 70\r\n");
        if split < uris.len() {
            raw.push_str(&field(&uris[split..], split));
        }
        raw.push_str("From: <sip:a@example.net>;tag=1\r\nTo: <sip:b@example.net>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
        let mut m = Message::parse(Bytes::from(raw)).unwrap();
        for (i, want) in uris.iter().enumerate() {
            let popped = m.pop_route().unwrap().unwrap();
            prop_assert_eq!(popped.uri().to_string(), want.clone());
            let again = Message::parse(m.to_bytes()).unwrap();
            // Empty elements (",,") are not route-params: the typed view reports
            // them as errors, and a pop takes them with the value before them.
            let left: Vec<String> = again.routes().map(|r| r.unwrap().uri().to_string()).collect();
            prop_assert_eq!(&left[..], &uris[i + 1..]);
        }
        prop_assert!(m.pop_route().unwrap().is_none());
        prop_assert!(!m.headers().contains(&HeaderName::ROUTE));
    }

    #[test]
    fn random_edits_keep_messages_parseable(
        idx in 0usize..14,
        ops in proptest::collection::vec((0u8..7, token()), 0..12),
    ) {
        let Message::Request(mut req) = Message::parse(Bytes::from(realistic()[idx].clone())).unwrap() else {
            return Ok(());
        };
        for (op, t) in ops {
            match op {
                0 => { req.push_via(&Via::new("UDP", "proxy.example.com", Some(5060), &format!("z9hG4bK{t}")).unwrap()).unwrap(); }
                1 => { req.pop_via().unwrap(); }
                2 => { req.pop_route().unwrap(); }
                3 => { req.push_record_route(&NameAddr::new(&Uri::parse("sip:rr.example.com;lr").unwrap(), None)).unwrap(); }
                4 => { req.set_header(&HeaderName::from_bytes(format!("X-{t}").as_bytes()).unwrap(), &t).unwrap(); }
                5 => { req.set_body(Bytes::from(t.clone().into_bytes()), Some("text/plain")).unwrap(); }
                _ => { req.remove_header(&HeaderName::CONTACT); }
            }
        }
        let out = req.to_bytes();
        let again = Message::parse(out.clone()).unwrap();
        prop_assert_eq!(again.to_bytes(), out.clone());
        prop_assert_eq!(again.body(), req.body());
        prop_assert_eq!(again.headers().len(), req.headers().len());
        // What was written is exactly the edited message's own field list, in
        // order (serialisation copies runs of untouched fields at once).
        let fields = |h: &clearwater_sip::Headers| -> Vec<(String, Vec<u8>)> {
            h.iter().map(|f| (f.name_str().to_owned(), f.value().to_vec())).collect()
        };
        prop_assert_eq!(fields(again.headers()), fields(req.headers()));
        let mut written = Vec::new();
        req.write_to(&mut written);
        prop_assert_eq!(&written[..], &out[..]);
    }
}

fn realistic() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/realistic");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sip"))
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Every entry point and accessor on `data`; only panics are failures.
fn exercise(data: &[u8]) {
    let bytes = Bytes::copy_from_slice(data);
    let _ = Framer::default().frame(data);
    match triage(bytes.clone(), &TriageConfig::default()) {
        Triage::Accept(m) => {
            bodies::read_all(&m);
            let _ = m.to_bytes();
        }
        Triage::Reject(r) => {
            if let Some(resp) = r.response(Some("t")) {
                let _ = Message::parse(resp.to_bytes());
            }
        }
        Triage::Drop(_) => {}
    }
    if let Ok(m) = Message::parse(bytes) {
        bodies::read_all(&m);
        let _ = m.to_bytes();
        let mut m = m;
        let _ = m.pop_via();
        let _ = m.pop_route();
        let _ = m.to_bytes();
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = Uri::parse(s).map(|u| (u.to_string(), u.user().len()));
        let _ = <Via<'_> as TypedHeader<'_>>::parse(s);
        let _ = <Contact<'_> as TypedHeader<'_>>::parse(s)
            .map(|c| (c.expires(), c.q(), c.sip_instance().map(|s| s.len())));
        let _ = <Route<'_> as TypedHeader<'_>>::parse(s);
        let _ = <WwwAuthenticate<'_> as TypedHeader<'_>>::parse(s).map(|c| c.params().count());
        let _ = Credentials::parse(s).map(|c| c.param("nonce").map(|n| n.len()));
    }
}
