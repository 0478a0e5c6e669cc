//! Conformance: every message of the RFC 4475 and RFC 5118 torture suites
//! (copied with their manifests into `tests/corpus/`) gets the verdict this layer
//! owns, accepted messages have their fields right, and the realistic IMS corpus
//! parses and re-serialises byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use clearwater_sip::header::{Contact, PAssertedIdentity, ServiceRoute};
use clearwater_sip::{Message, Method, Triage, TriageConfig, Uri, triage};

fn corpus(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(sub)
}

/// The `[[message]]` tables of a manifest: `key = "value"` lines only.
fn manifest(sub: &str) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(corpus(sub).join("manifest.toml")).unwrap();
    let mut out = Vec::new();
    let mut cur: Option<HashMap<String, String>> = None;
    for line in text.lines() {
        let line = line.trim();
        if line == "[[message]]" {
            out.extend(cur.take());
            cur = Some(HashMap::new());
        } else if line.starts_with('[') {
            out.extend(cur.take());
        } else if let (Some(m), Some((k, v))) = (cur.as_mut(), line.split_once(" = ")) {
            m.insert(k.trim().to_owned(), v.trim().trim_matches('"').to_owned());
        }
    }
    out.extend(cur);
    out
}

fn run(sub: &str, file: &str) -> Triage {
    let raw = std::fs::read(corpus(sub).join(file)).unwrap();
    triage(Bytes::from(raw), &TriageConfig::default())
}

/// What this layer does with each semantically-bad message, and which layer
/// owns the manifest's final verdict when it is not this one.
fn layer_verdict(name: &str, expected: &str) -> String {
    match name {
        // RFC 2543 transaction matching applies (clearwater-sip transaction layer).
        "badbranch" => "accept".into(),
        // Registrar: To/From must be SIP/SIPS AORs (clearwater-registrar).
        "unksm2" => "accept".into(),
        // 420 Bad Extension: proxy core / UAS option-tag checks (RFC 3261 §8.2.2.3, §16.3).
        "bext01" => "accept".into(),
        // 415 Unsupported Media Type: the UAS that reads the body.
        "invut" => "accept".into(),
        // 401: the authenticating registrar re-challenges.
        "regaut01" => "accept".into(),
        // 406 Not Acceptable: the UAS that answers with a body.
        "sdp01" => "accept".into(),
        _ => expected.to_owned(),
    }
}

fn verdict(t: &Triage) -> String {
    match t {
        Triage::Accept(_) => "accept".into(),
        Triage::Reject(r) => format!("reject:{}", r.status().as_u16()),
        Triage::Drop(_) => "drop".into(),
    }
}

#[test]
fn torture_verdicts_rfc4475_and_rfc5118() {
    let mut checked = 0;
    for sub in ["torture", "torture-ipv6"] {
        let messages = manifest(sub);
        assert!(!messages.is_empty());
        for m in messages {
            let name = &m["name"];
            let expected = &m["expected"];
            let got = verdict(&run(sub, &m["file"]));
            let want = layer_verdict(name, expected);
            let ok = match want.as_str() {
                w if w.starts_with("accept-or-reject:") => {
                    got == "accept" || got == w.replace("accept-or-", "")
                }
                w => got == w,
            };
            assert!(
                ok,
                "{sub}/{name}: got {got}, want {want} (manifest: {expected})"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 62, "every manifest message is checked");
}

#[derive(Debug, Default)]
struct Fields {
    method: &'static str,
    ruri: &'static str,
    ruri_user: &'static str,
    ruri_host: &'static str,
    ruri_port: Option<u16>,
    status: u16,
    call_id: &'static str,
    cseq: u32,
    via_count: usize,
    branch: Option<&'static str>,
    from_tag: Option<&'static str>,
    to_tag: Option<&'static str>,
    from_display: Option<&'static str>,
    contacts: usize,
    routes: usize,
    body: usize,
}

fn check_fields(sub: &str, file: &str, f: Fields) {
    let Triage::Accept(msg) = run(sub, file) else {
        panic!("{file}: not accepted")
    };
    match &msg {
        Message::Request(r) => {
            assert_eq!(r.method().as_str(), f.method, "{file} method");
            let uri = r.uri();
            assert_eq!(uri.as_str(), f.ruri, "{file} ruri");
            assert_eq!(uri.user(), f.ruri_user, "{file} user");
            if let Uri::Sip(s) = &uri {
                assert_eq!(s.host().as_str(), f.ruri_host, "{file} host");
                assert_eq!(s.port(), f.ruri_port, "{file} port");
            }
            assert_eq!(r.cseq().unwrap().method, *r.method());
        }
        Message::Response(r) => assert_eq!(r.status().as_u16(), f.status, "{file} status"),
    }
    assert_eq!(msg.call_id().unwrap().as_str(), f.call_id, "{file} call-id");
    assert_eq!(msg.cseq().unwrap().seq, f.cseq, "{file} cseq");
    assert_eq!(msg.vias().count(), f.via_count, "{file} vias");
    assert!(msg.vias().all(|v| v.is_ok()), "{file} vias parse");
    assert_eq!(msg.via().unwrap().branch(), f.branch, "{file} branch");
    let from = msg.from().unwrap();
    assert_eq!(from.tag(), f.from_tag, "{file} from tag");
    assert_eq!(
        from.display_name().as_deref(),
        f.from_display,
        "{file} display"
    );
    assert_eq!(msg.to().unwrap().tag(), f.to_tag, "{file} to tag");
    assert_eq!(msg.contacts().count(), f.contacts, "{file} contacts");
    assert_eq!(msg.routes().count(), f.routes, "{file} routes");
    assert_eq!(msg.body().len(), f.body, "{file} body");
}

#[test]
fn torture_fields_of_accepted_messages() {
    let t = "torture";
    check_fields(
        t,
        "wsinv.sip",
        Fields {
            method: "INVITE",
            ruri: "sip:vivekg@chair-dnrc.example.com;unknownparam",
            ruri_user: "vivekg",
            ruri_host: "chair-dnrc.example.com",
            call_id: "wsinv.ndaksdj@192.0.2.1",
            cseq: 9,
            via_count: 3,
            branch: Some("390skdjuw"),
            from_tag: Some("98asjd8"),
            to_tag: Some("1918181833n"),
            from_display: Some("J Rosenberg \\\""),
            contacts: 1,
            routes: 1,
            body: 150,
            ..Default::default()
        },
    );
    check_fields(
        t,
        "intmeth.sip",
        Fields {
            method: "!interesting-Method0123456789_*+`.%indeed'~",
            ruri: "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
            ruri_user: "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*",
            ruri_host: "example.com",
            call_id: "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{",
            cseq: 139122385,
            via_count: 1,
            branch: Some("z9hG4bK-.!%66*_+`'~"),
            from_tag: Some("_token~1'+`*%!-."),
            from_display: Some("token1~` token2'+_ token3*%!.-"),
            ..Default::default()
        },
    );
    check_fields(
        t,
        "esc01.sip",
        Fields {
            method: "INVITE",
            ruri: "sip:sips%3Auser%40example.com@example.net",
            ruri_user: "sips%3Auser%40example.com",
            ruri_host: "example.net",
            call_id: "esc01.239409asdfakjkn23onasd0-3234",
            cseq: 234234,
            via_count: 1,
            branch: Some("z9hG4bKkdjuw"),
            from_tag: Some("938"),
            contacts: 1,
            body: 150,
            ..Default::default()
        },
    );
    check_fields(
        t,
        "escnull.sip",
        Fields {
            method: "REGISTER",
            ruri: "sip:example.com",
            ruri_host: "example.com",
            call_id: "escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd",
            cseq: 14398234,
            via_count: 1,
            branch: Some("z9hG4bKkdjuw"),
            from_tag: Some("839923423"),
            contacts: 2,
            ..Default::default()
        },
    );
    check_fields(
        t,
        "esc02.sip",
        Fields {
            method: "RE%47IST%45R",
            ruri: "sip:registrar.example.com",
            ruri_host: "registrar.example.com",
            call_id: "esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf",
            cseq: 29344,
            via_count: 1,
            branch: Some("z9hG4bK209%fzsnel234"),
            from_tag: Some("f232jadfj23"),
            from_display: Some("%Z%45"),
            // `C%6Fntact` is an extension header, not Contact.
            contacts: 2,
            ..Default::default()
        },
    );
    check_fields(
        t,
        "lwsdisp.sip",
        Fields {
            method: "OPTIONS",
            ruri: "sip:user@example.com",
            ruri_user: "user",
            ruri_host: "example.com",
            call_id: "lwsdisp.1234abcd@funky.example.com",
            cseq: 60,
            via_count: 1,
            branch: Some("z9hG4bKkdjuw"),
            from_tag: Some("323"),
            from_display: Some("caller"),
            ..Default::default()
        },
    );
    check_fields(
        t,
        "longreq.sip",
        Fields {
            method: "INVITE",
            ruri: "sip:user@example.com",
            ruri_user: "user",
            ruri_host: "example.com",
            call_id: "longreq.onereallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallylongcallid",
            cseq: 3882340,
            via_count: 34,
            from_tag: Some(
                "12982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982424",
            ),
            contacts: 1,
            body: 150,
            ..Default::default()
        },
    );
    check_fields(
        t,
        "dblreq.sip",
        Fields {
            method: "REGISTER",
            ruri: "sip:example.com",
            ruri_host: "example.com",
            call_id: "dblreq.0ha0isndaksdj99sdfafnl3lk233412",
            cseq: 8,
            via_count: 1,
            branch: Some("z9hG4bKkdjuw23492"),
            from_tag: Some("43251j3j324"),
            contacts: 1,
            ..Default::default()
        },
    );
    check_fields(
        t,
        "semiuri.sip",
        Fields {
            method: "OPTIONS",
            ruri: "sip:user;par=u%40example.net@example.com",
            ruri_user: "user;par=u%40example.net",
            ruri_host: "example.com",
            call_id: "semiuri.0ha0isndaksdj",
            cseq: 8,
            via_count: 1,
            branch: Some("z9hG4bKkdjuw"),
            from_tag: Some("33242"),
            ..Default::default()
        },
    );
    check_fields(
        t,
        "transports.sip",
        Fields {
            method: "OPTIONS",
            ruri: "sip:user@example.com",
            ruri_user: "user",
            ruri_host: "example.com",
            call_id: "transports.kijh4akdnaqjkwendsasfdj",
            cseq: 60,
            via_count: 5,
            branch: Some("z9hG4bKkdjuw"),
            from_tag: Some("323"),
            ..Default::default()
        },
    );
    check_fields(
        t,
        "mpart01.sip",
        Fields {
            method: "MESSAGE",
            ruri: "sip:kumiko@example.org",
            ruri_user: "kumiko",
            ruri_host: "example.org",
            call_id: "3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..",
            cseq: 1,
            via_count: 1,
            branch: Some("z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-"),
            from_tag: Some("2fb0dcc9"),
            contacts: 1,
            routes: 1,
            body: 553,
            ..Default::default()
        },
    );
    check_fields(
        t,
        "unreason.sip",
        Fields {
            status: 200,
            call_id: "unreason.1234ksdfak3j2erwedfsASdf",
            cseq: 35,
            via_count: 1,
            branch: Some("z9hG4bK1324923"),
            from_tag: Some("11141343"),
            to_tag: Some("2229"),
            contacts: 1,
            body: 154,
            ..Default::default()
        },
    );
    check_fields(
        t,
        "noreason.sip",
        Fields {
            status: 100,
            call_id: "noreason.asndj203insdf99223ndf",
            cseq: 35,
            via_count: 1,
            branch: Some("z9hG4bK2398ndaoe"),
            from_tag: Some("39ansfi3"),
            to_tag: Some("902jndnke3"),
            contacts: 1,
            ..Default::default()
        },
    );
    check_fields(
        t,
        "zeromf.sip",
        Fields {
            method: "OPTIONS",
            ruri: "sip:user@example.com",
            ruri_user: "user",
            ruri_host: "example.com",
            call_id: "zeromf.jfasdlfnm2o2l43r5u0asdfas",
            cseq: 39234321,
            via_count: 1,
            branch: Some("z9hG4bKkdjuw2349i"),
            from_tag: Some("3ghsd41"),
            ..Default::default()
        },
    );
    check_fields(
        t,
        "inv2543.sip",
        Fields {
            method: "INVITE",
            ruri: "sip:UserB@example.com",
            ruri_user: "UserB",
            ruri_host: "example.com",
            call_id: "inv2543.1717@ift.client.example.com",
            cseq: 56,
            via_count: 1,
            body: 105,
            ..Default::default()
        },
    );
    check_fields(
        t,
        "badbranch.sip",
        Fields {
            method: "OPTIONS",
            ruri: "sip:user@example.com",
            ruri_user: "user",
            ruri_host: "example.com",
            call_id: "badbranch.sadonfo23i420jv0as0derf3j3n",
            cseq: 8,
            via_count: 1,
            branch: Some("z9hG4bK"),
            from_tag: Some("33242"),
            ..Default::default()
        },
    );
    let v6 = "torture-ipv6";
    check_fields(
        v6,
        "port-ambiguous.sip",
        Fields {
            method: "REGISTER",
            ruri: "sip:[2001:db8::10:5070]",
            ruri_host: "[2001:db8::10:5070]",
            call_id: "SSG9559905523997077@hlau_4100",
            cseq: 98176,
            via_count: 1,
            branch: Some("z9hG4bKas3-111"),
            from_tag: Some("81x2"),
            contacts: 1,
            ..Default::default()
        },
    );
    check_fields(
        v6,
        "port-unambiguous.sip",
        Fields {
            method: "REGISTER",
            ruri: "sip:[2001:db8::10]:5070",
            ruri_host: "[2001:db8::10]",
            ruri_port: Some(5070),
            call_id: "SSG9559905523997077@hlau_4100",
            cseq: 98176,
            via_count: 1,
            branch: Some("z9hG4bKas3-111"),
            from_tag: Some("81x2"),
            contacts: 1,
            ..Default::default()
        },
    );
    check_fields(
        v6,
        "ipv6-correct-abnf-2-colons.sip",
        Fields {
            method: "OPTIONS",
            ruri: "sip:user@[2001:db8::192.0.2.1]",
            ruri_user: "user",
            ruri_host: "[2001:db8::192.0.2.1]",
            call_id: "G9559905523997077@hlau_4100",
            cseq: 689,
            via_count: 1,
            branch: Some("z9hG4bKas3-111"),
            from_tag: Some("810x2"),
            ..Default::default()
        },
    );
    check_fields(
        v6,
        "mult-ip-in-header.sip",
        Fields {
            method: "BYE",
            ruri: "sip:user@host.example.net",
            ruri_user: "user",
            ruri_host: "host.example.net",
            call_id: "997077@lau_4100",
            cseq: 89187,
            via_count: 3,
            branch: Some("z9hG4bKas3-111"),
            from_tag: Some("81x2"),
            to_tag: Some("9817--94"),
            ..Default::default()
        },
    );
}

#[test]
fn torture_details() {
    // RFC 5118 §4.5: received with and without brackets both decode.
    for f in [
        "via-received-param-with-delim.sip",
        "via-received-param-no-delim.sip",
    ] {
        let Triage::Accept(m) = run("torture-ipv6", f) else {
            panic!("{f}")
        };
        let via = m.via().unwrap();
        assert!(via.received_ip().is_some_and(|ip| ip.is_ipv6()), "{f}");
    }
    // RFC 4475 §3.3.12/13: contact-param vs url-parameter.
    let Triage::Accept(m) = run("torture", "cparam01.sip") else {
        panic!()
    };
    let c = m.contacts().next().unwrap().unwrap();
    let a = c.addr().unwrap();
    assert!(a.params().contains("unknownparam"));
    assert!(a.uri().as_sip().unwrap().params().is_empty());
    let Triage::Accept(m) = run("torture", "cparam02.sip") else {
        panic!()
    };
    let c = m.contacts().next().unwrap().unwrap();
    let a = c.addr().unwrap();
    assert!(a.params().is_empty());
    assert!(a.uri().as_sip().unwrap().params().contains("unknownparam"));
    // RFC 4475 §3.3.14: the escaped Route stays in the Contact URI.
    let Triage::Accept(m) = run("torture", "regescrt.sip") else {
        panic!()
    };
    let c = m.contacts().next().unwrap().unwrap();
    assert_eq!(
        c.addr().unwrap().uri().as_sip().unwrap().headers(),
        Some("Route=%3Csip:sip.example.com%3E")
    );
    // RFC 4475 §3.1.1.3: escaped and unescaped URIs compare equal.
    let Triage::Accept(m) = run("torture", "esc01.sip") else {
        panic!()
    };
    let to = m.to().unwrap();
    assert_eq!(to.uri(), Uri::parse("sip:user@example.com").unwrap());
    // RFC 4475 §3.1.1.8: trailing octets of the datagram are not part of the message.
    let Triage::Accept(m) = run("torture", "dblreq.sip") else {
        panic!()
    };
    assert!(!m.to_bytes().windows(6).any(|w| w == b"INVITE"));
    // RFC 4475 §3.1.1.2: unusual method round-trips.
    let Triage::Accept(Message::Request(r)) = run("torture", "intmeth.sip") else {
        panic!()
    };
    assert!(!r.method().is_known());
    assert_ne!(r.method(), &Method::INVITE);
}

#[test]
fn torture_round_trips_byte_for_byte() {
    for sub in ["torture", "torture-ipv6"] {
        for m in manifest(sub) {
            let raw = Bytes::from(std::fs::read(corpus(sub).join(&m["file"])).unwrap());
            if let Ok(msg) = Message::parse(raw.clone()) {
                let out = msg.to_bytes();
                assert!(
                    raw.starts_with(&out),
                    "{}: serialised form is not the received prefix",
                    m["name"]
                );
                // Only discarded trailing datagram octets may be missing.
                let body_end = out.len();
                assert!(
                    m["name"] == "dblreq" || body_end == raw.len(),
                    "{}",
                    m["name"]
                );
            }
        }
    }
}

fn realistic() -> Vec<(String, Bytes)> {
    let mut files: Vec<_> = std::fs::read_dir(corpus("realistic"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sip"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                Bytes::from(std::fs::read(&p).unwrap()),
            )
        })
        .collect()
}

#[test]
fn realistic_corpus_accepted_and_byte_exact() {
    let files = realistic();
    assert_eq!(files.len(), 14);
    for (name, raw) in files {
        let Triage::Accept(msg) = triage(raw.clone(), &TriageConfig::default()) else {
            panic!("{name} not accepted")
        };
        assert_eq!(msg.to_bytes(), raw, "{name}");
        let mut out = Vec::new();
        msg.write_to(&mut out);
        assert_eq!(out, raw, "{name}");
        // Every header of every message decodes where we have a typed view.
        assert!(msg.vias().all(|v| v.is_ok()), "{name}");
        assert!(msg.contacts().all(|v| v.is_ok()), "{name}");
        assert!(msg.routes().all(|v| v.is_ok()), "{name}");
        assert!(msg.record_routes().all(|v| v.is_ok()), "{name}");
        // An edit that changes nothing semantically still reproduces the
        // untouched fields verbatim.
        let mut edited = msg.clone();
        edited
            .push_header(&clearwater_sip::HeaderName::from_static("X-Test"), "1")
            .unwrap();
        let e = edited.to_bytes();
        let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 2;
        assert_eq!(&e[..head_end], &raw[..head_end], "{name}");
        assert_eq!(&e[head_end..head_end + 8], b"X-Test: ", "{name}");
    }
}

#[test]
fn realistic_fields() {
    let files: HashMap<_, _> = realistic().into_iter().collect();
    let parse = |n: &str| Message::parse(files[n].clone()).unwrap();
    let m = parse("01-register-initial.sip");
    let c = m.contacts().next().unwrap().unwrap();
    assert!(c.sip_instance().is_some());
    assert_eq!(c.reg_id(), Some(1));
    let m = parse("04-register-200.sip");
    let c: Contact<'_> = m.contacts().next().unwrap().unwrap();
    assert!(c.pub_gruu().is_some() && c.temp_gruu().is_some());
    let sr: Vec<_> = m.typed_all::<ServiceRoute<'_>>().collect();
    assert!(!sr.is_empty() && sr.iter().all(|r| r.is_ok()));
    let m = parse("08-invite-scscf-to-as.sip");
    assert_eq!(m.vias().count(), 3);
    assert_eq!(m.max_forwards().unwrap(), Some(68));
    let routes: Vec<_> = m.routes().map(|r| r.unwrap().uri().to_string()).collect();
    assert_eq!(
        routes,
        vec![
            "sip:mmtel-as.ims.example.net;lr",
            "sip:scscf1.ims.example.net:6060;lr;orig;odi=2f8a3c7e5b"
        ]
    );
    let pai: Vec<_> = m
        .typed_all::<PAssertedIdentity<'_>>()
        .map(|p| p.unwrap().uri().to_string())
        .collect();
    assert_eq!(
        pai,
        vec!["sip:+15551230001@ims.example.net", "tel:+15551230001"]
    );
    let v3 = m.vias().nth(2).unwrap().unwrap();
    assert_eq!(v3.rport(), Some(Some(5064)));
    assert_eq!(v3.host().as_str(), "[2001:db8:1::10]");
    let m = parse("14-message.sip");
    assert_eq!(m.body().len(), 46);
}
