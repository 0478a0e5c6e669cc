//! Building and editing messages: proxy-style Via/Route/Record-Route edits,
//! header replacement, bodies, responses; edited messages re-parse to what the
//! edits say and keep unchanged fields byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use bytes::Bytes;
use clearwater_sip::header::{NameAddr, Via};
use clearwater_sip::uri::SipUri;
use clearwater_sip::{Error, HeaderName, Message, Method, Request, Response, StatusCode, Uri};

const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8, SIP/2.0/UDP ua.example.com;branch=z9hG4bK0\r\n\
Max-Forwards: 70\r\n\
Route: <sip:p1.example.com;lr>,<sip:p2.example.com;lr>\r\n\
Route: <sip:p3.example.com;lr>\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

fn invite() -> Request {
    match Message::parse(Bytes::from_static(INVITE)).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

fn reparse(b: Bytes) -> Message {
    Message::parse(b).unwrap()
}

#[test]
fn unedited_serialisation_is_zero_copy() {
    let raw = Bytes::from_static(INVITE);
    let msg = Message::parse(raw.clone()).unwrap();
    let out = msg.to_bytes();
    assert_eq!(out, raw);
    assert_eq!(
        out.as_ptr(),
        raw.as_ptr(),
        "unedited output shares the buffer"
    );
    assert!(!msg.is_edited());
}

#[test]
fn proxy_forwarding_edits() {
    let mut req = invite();
    let via = Via::new("UDP", "proxy.example.com", Some(5060), "z9hG4bK-proxy-1").unwrap();
    req.push_via(&via).unwrap();
    let top_route = req.pop_route().unwrap().unwrap();
    assert_eq!(top_route.uri().as_str(), "sip:p1.example.com;lr");
    let rr = NameAddr::new(&Uri::parse("sip:proxy.example.com;lr").unwrap(), None);
    req.push_record_route(&rr).unwrap();
    req.set_header(&HeaderName::MAX_FORWARDS, "69").unwrap();
    assert!(req.is_edited());

    let out = req.to_bytes();
    let m = reparse(out.clone());
    let branches: Vec<String> = m
        .vias()
        .map(|v| v.unwrap().branch().unwrap().to_owned())
        .collect();
    assert_eq!(branches, ["z9hG4bK-proxy-1", "z9hG4bKnashds8", "z9hG4bK0"]);
    let routes: Vec<String> = m.routes().map(|r| r.unwrap().uri().to_string()).collect();
    assert_eq!(routes, ["sip:p2.example.com;lr", "sip:p3.example.com;lr"]);
    assert_eq!(m.record_routes().count(), 1);
    assert_eq!(m.max_forwards().unwrap(), Some(69));
    assert_eq!(m.body(), b"v=0\n");
    // Untouched fields are copied verbatim from the received bytes.
    for line in [
        &b"To: Bob <sip:bob@biloxi.example.com>\r\n"[..],
        b"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n",
        b"Route: <sip:p3.example.com;lr>\r\n",
        b"Contact: <sip:alice@pc33.atlanta.example.com>\r\n",
    ] {
        assert!(out.windows(line.len()).any(|w| w == line));
    }
    // The top Via is first among the header fields.
    let s = String::from_utf8(out.to_vec()).unwrap();
    assert!(s.starts_with(
        "INVITE sip:bob@biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/UDP proxy.example.com:5060;branch=z9hG4bK-proxy-1\r\n"
    ));
}

#[test]
fn response_path_pops_top_via() {
    let mut req = invite();
    let mut resp = req
        .make_response(StatusCode::RINGING, None, Some("bobtag"))
        .unwrap();
    let popped = resp.pop_via().unwrap().unwrap();
    assert_eq!(popped.branch(), Some("z9hG4bKnashds8"));
    let m = reparse(resp.to_bytes());
    assert_eq!(m.vias().count(), 1);
    assert_eq!(m.via().unwrap().host().as_str(), "ua.example.com");
    // Popping everything leaves no Via line.
    resp.pop_via().unwrap();
    assert!(resp.pop_via().unwrap().is_none());
    assert!(!resp.headers().contains(&HeaderName::VIA));
    // Route pops across fields.
    for _ in 0..3 {
        assert!(req.pop_route().unwrap().is_some());
    }
    assert!(req.pop_route().unwrap().is_none());
    assert_eq!(req.headers().count(&HeaderName::ROUTE), 0);
}

#[test]
fn make_response_copies_transaction_headers() {
    let req = invite();
    let resp = req
        .make_response(StatusCode::OK, None, Some("a6c85cf"))
        .unwrap();
    let m = reparse(resp.to_bytes());
    let Message::Response(r) = &m else { panic!() };
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.reason(), b"OK");
    assert_eq!(m.vias().count(), 2);
    assert_eq!(m.to().unwrap().tag(), Some("a6c85cf"));
    assert_eq!(m.to().unwrap().display_name().as_deref(), Some("Bob"));
    assert_eq!(m.from().unwrap().tag(), Some("1928301774"));
    assert_eq!(m.call_id().unwrap().as_str(), "a84b4c76e66710");
    assert_eq!(m.cseq().unwrap().method, Method::INVITE);
    assert!(m.body().is_empty());
    assert_eq!(
        m.headers()
            .get(&HeaderName::CONTENT_LENGTH)
            .unwrap()
            .value(),
        b"0"
    );
    // No Contact or Route is copied.
    assert_eq!(m.contacts().count(), 0);
    assert_eq!(m.routes().count(), 0);
    // A 100 Trying keeps the To as received.
    let trying = req.make_response(StatusCode::TRYING, None, None).unwrap();
    assert_eq!(reparse(trying.to_bytes()).to().unwrap().tag(), None);
    // Reason phrases cannot break the framing.
    assert!(
        req.make_response(StatusCode::OK, Some("a\r\nb"), None)
            .is_err()
    );
}

#[test]
fn bodies_and_headers() {
    let mut req = invite();
    req.set_body(Bytes::from_static(b"hello world"), Some("text/plain"))
        .unwrap();
    let wire = req.to_bytes();
    let m = reparse(wire.clone());
    assert_eq!(m.body(), b"hello world");
    // The received body is a slice of the received buffer, not a copy.
    let body = m.body_bytes();
    assert_eq!(body, &b"hello world"[..]);
    assert_eq!(body.as_ptr(), wire[wire.len() - 11..].as_ptr());
    assert_eq!(req.body_bytes(), &b"hello world"[..]);
    assert!(m.content_type().unwrap().unwrap().is("text/plain"));
    assert_eq!(m.headers().count(&HeaderName::CONTENT_LENGTH), 1);

    req.set_body(Bytes::new(), None).unwrap();
    let m = reparse(req.to_bytes());
    assert!(m.body().is_empty());
    assert!(m.content_type().unwrap().is_none());

    assert_eq!(req.remove_header(&HeaderName::CONTACT), 1);
    assert_eq!(req.remove_header(&HeaderName::CONTACT), 0);
    let x = HeaderName::from_static("X-Extension");
    req.push_header(&x, "one").unwrap();
    req.push_header(&x, "two").unwrap();
    assert_eq!(req.headers().count(&x), 2);
    req.set_header(&x, "three").unwrap();
    let vals: Vec<_> = req
        .headers()
        .get_all(&x)
        .map(|h| h.value().to_vec())
        .collect();
    assert_eq!(vals, vec![b"three".to_vec()]);
    // Values that would inject header lines are refused; folding is allowed.
    assert!(matches!(
        req.push_header(&x, "a\r\nVia: evil"),
        Err(Error::Invalid(_))
    ));
    assert!(req.push_header(&x, "a\r\n b").is_ok());
    assert!(req.set_body(Bytes::new(), Some("not a type")).is_err());
    reparse(req.to_bytes());
}

#[test]
fn build_request_from_scratch() {
    let uri = Uri::parse("sip:bob@example.com").unwrap();
    let mut req = Request::new(Method::REGISTER, &uri);
    req.push_via(&Via::new("TCP", "192.0.2.1", Some(5060), "z9hG4bKabc").unwrap())
        .unwrap();
    req.push_header(&HeaderName::MAX_FORWARDS, "70").unwrap();
    req.push_header(&HeaderName::FROM, "<sip:bob@example.com>;tag=x1")
        .unwrap();
    req.push_header(&HeaderName::TO, "<sip:bob@example.com>")
        .unwrap();
    req.push_header(&HeaderName::CALL_ID, "reg-1@192.0.2.1")
        .unwrap();
    req.push_header(&HeaderName::CSEQ, "1 REGISTER").unwrap();
    req.set_body(Bytes::new(), None).unwrap();
    let bytes = req.to_bytes();
    assert!(bytes.starts_with(b"REGISTER sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKabc\r\n"));
    let Message::Request(r) = reparse(bytes) else {
        panic!()
    };
    assert_eq!(r.uri(), uri);
    assert_eq!(r.cseq().unwrap().seq, 1);

    let mut r2 = r.clone();
    let new_uri = Uri::parse("sip:bob@[2001:db8::1]:5070;transport=tcp").unwrap();
    r2.set_uri(&new_uri);
    assert_eq!(r2.uri().as_str(), new_uri.as_str());
    let Message::Request(r3) = reparse(r2.to_bytes()) else {
        panic!()
    };
    assert_eq!(r3.uri().as_sip().unwrap().port(), Some(5070));

    let mut resp = Response::new(StatusCode::from_u16(499).unwrap(), Some("Custom")).unwrap();
    resp.push_header(&HeaderName::CALL_ID, "x").unwrap();
    resp.set_status(StatusCode::BUSY_HERE, None).unwrap();
    let Message::Response(p) = reparse(resp.to_bytes()) else {
        panic!()
    };
    assert_eq!(p.status(), StatusCode::BUSY_HERE);
    assert_eq!(p.reason(), b"Busy Here");
}

#[test]
fn edited_typed_values() {
    let req = invite();
    let via = req.via().unwrap();
    let with = via
        .with_received("192.0.2.7".parse().unwrap())
        .with_rport(5071);
    assert_eq!(
        with.as_str(),
        "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8;received=192.0.2.7;rport=5071"
    );
    let from = req.from().unwrap();
    let f2 = from.with_param("tag", Some("new")).unwrap();
    assert_eq!(f2.tag(), Some("new"));
    assert_eq!(f2.display_name().as_deref(), Some("Alice"));
    let u = SipUri::parse("sip:alice@atlanta.example.com").unwrap();
    assert_eq!(from.uri().as_sip().unwrap(), &u);
}

/// Every value of a list header is found whether it sits in one field or in
/// several fields with others in between, before and after edits (the hot
/// index ends the search early only when the header occurs once).
#[test]
fn list_values_across_fields_and_edits() {
    let raw = "REGISTER sip:ims.example.net SIP/2.0\r\n\
        Via: SIP/2.0/UDP a.example.net;branch=z9hG4bK-1, SIP/2.0/UDP b.example.net;branch=z9hG4bK-2\r\n\
        Contact: <sip:u@192.0.2.1>;expires=60\r\n\
        Max-Forwards: 70\r\n\
        From: <sip:u@ims.example.net>;tag=1\r\n\
        Via: SIP/2.0/UDP c.example.net;branch=z9hG4bK-3\r\n\
        To: <sip:u@ims.example.net>\r\n\
        m: <sip:u@192.0.2.2>, <sip:u@192.0.2.3>\r\n\
        Call-ID: c1\r\n\
        CSeq: 1 REGISTER\r\n\
        Content-Length: 0\r\n\r\n";
    let mut m = Message::parse(Bytes::from(raw)).unwrap();
    let branches = |m: &Message| -> Vec<String> {
        m.vias()
            .map(|v| v.unwrap().branch().unwrap_or("").to_owned())
            .collect()
    };
    let hosts = |m: &Message| -> Vec<String> {
        m.contacts()
            .map(|c| c.unwrap().addr().unwrap().uri().as_str().to_owned())
            .collect()
    };
    assert_eq!(branches(&m), ["z9hG4bK-1", "z9hG4bK-2", "z9hG4bK-3"]);
    assert_eq!(
        hosts(&m),
        ["sip:u@192.0.2.1", "sip:u@192.0.2.2", "sip:u@192.0.2.3"]
    );
    // One Contact field left: the search stops at it, and still finds it.
    assert_eq!(m.remove_header(&HeaderName::CONTACT), 2);
    m.push_header(&HeaderName::CONTACT, "<sip:u@192.0.2.9>")
        .unwrap();
    assert_eq!(hosts(&m), ["sip:u@192.0.2.9"]);
    m.push_via(&Via::new("TCP", "p.example.net", None, "z9hG4bK-0").unwrap())
        .unwrap();
    assert_eq!(
        branches(&m),
        ["z9hG4bK-0", "z9hG4bK-1", "z9hG4bK-2", "z9hG4bK-3"]
    );
    let reparsed = reparse(m.to_bytes());
    assert_eq!(hosts(&reparsed), ["sip:u@192.0.2.9"]);
    assert_eq!(branches(&reparsed).len(), 4);
}

/// The exact wire form after edits that cut the received fields into runs:
/// untouched fields keep their bytes and order, rewritten ones take their
/// place, and a list field rewritten by one edit can be popped again.
#[test]
fn edited_serialisation_is_exact() {
    let raw = "MESSAGE sip:b@example.net SIP/2.0\r\n\
        Via: SIP/2.0/UDP a.example.net;branch=z9hG4bK-a\r\n\
        Route: <sip:r1.example.net;lr>, <sip:r2.example.net;lr>,<sip:r3.example.net;lr>\r\n\
        Max-Forwards: 70\r\n\
        From: <sip:a@example.net>;tag=1\r\n\
        X-Drop: me\r\n\
        To:   <sip:b@example.net>\r\n\
        Call-ID: c1\r\n\
        CSeq: 1 MESSAGE\r\n\
        Content-Length: 2\r\n\r\nhi";
    let mut m = Message::parse(Bytes::from(raw)).unwrap();
    m.push_via(&Via::new("TCP", "p.example.net", None, "z9hG4bK-p").unwrap())
        .unwrap();
    let r1 = m.pop_route().unwrap().unwrap();
    assert_eq!(r1.uri().as_str(), "sip:r1.example.net;lr");
    // Popped again from the field the first pop rewrote.
    let r2 = m.pop_route().unwrap().unwrap();
    assert_eq!(r2.uri().as_str(), "sip:r2.example.net;lr");
    assert_eq!(
        m.remove_header(&HeaderName::from_bytes(b"x-drop").unwrap()),
        1
    );
    m.set_header(&HeaderName::MAX_FORWARDS, "69").unwrap();
    m.push_header(&HeaderName::from_bytes(b"X-Added").unwrap(), "yes")
        .unwrap();
    let want = "MESSAGE sip:b@example.net SIP/2.0\r\n\
        Via: SIP/2.0/TCP p.example.net;branch=z9hG4bK-p\r\n\
        Via: SIP/2.0/UDP a.example.net;branch=z9hG4bK-a\r\n\
        Route: <sip:r3.example.net;lr>\r\n\
        Max-Forwards: 69\r\n\
        From: <sip:a@example.net>;tag=1\r\n\
        To:   <sip:b@example.net>\r\n\
        Call-ID: c1\r\n\
        CSeq: 1 MESSAGE\r\n\
        Content-Length: 2\r\n\
        X-Added: yes\r\n\r\nhi";
    assert_eq!(String::from_utf8(m.to_bytes().to_vec()).unwrap(), want);
    let mut out = Vec::new();
    m.write_to(&mut out);
    assert_eq!(out, want.as_bytes());
    // The last Route value removes the field.
    assert!(m.pop_route().unwrap().is_some());
    assert!(m.pop_route().unwrap().is_none());
    assert!(
        !String::from_utf8(m.to_bytes().to_vec())
            .unwrap()
            .contains("Route")
    );
}

/// Values given to the editors cannot break the framing: line breaks only as
/// CRLF folds (followed by SP/HT, §25.1 LWS), no NUL, no lone CR or LF;
/// names must be tokens; reason phrases carry no control characters.
#[test]
fn edited_values_cannot_break_the_framing() {
    let mut req = invite();
    let x = HeaderName::from_bytes(b"X-Test").unwrap();
    for bad in [
        "a\r\nb",
        "a\nb",
        "a\rb",
        "a\r\n",
        "a\0b",
        "\r\nVia: x",
        "a\r b",
        "a\n\tb",
    ] {
        assert!(req.set_header(&x, bad).is_err(), "{bad:?}");
        assert!(req.push_header(&x, bad).is_err(), "{bad:?}");
        assert!(req.insert_header_top(&x, bad).is_err(), "{bad:?}");
    }
    // Names that are no tokens, however they were made.
    for name in [
        HeaderName::from_static("X\r\nVia: evil\r\nY"),
        HeaderName::extension("X Y"),
    ] {
        assert!(req.push_header(&name, "v").is_err());
        assert!(req.set_header(&name, "v").is_err());
        assert!(req.insert_header_top(&name, "v").is_err());
    }
    for reason in ["O\x01K", "O\rK", "O\nK", "O\x7fK"] {
        assert!(
            Response::new(StatusCode::OK, Some(reason)).is_err(),
            "{reason:?}"
        );
        assert!(
            req.make_response(StatusCode::OK, Some(reason), None)
                .is_err()
        );
    }
    assert!(Response::new(StatusCode::OK, Some("O\tK é")).is_ok());
    for folded in ["a\r\n b", "a\r\n\tb", "plain"] {
        req.set_header(&x, folded).unwrap();
        let again = reparse(req.to_bytes());
        assert_eq!(again.headers().get(&x).unwrap().value(), folded.as_bytes());
    }
}

/// A datagram without Content-Length has the rest of the datagram as its
/// body; once edited (to be forwarded, perhaps over TCP, where a missing
/// Content-Length means no body, §18.3) it is written with one, so the body
/// cannot be read as a second message.
#[test]
fn an_edited_message_without_content_length_gets_one() {
    let smuggled = "OPTIONS sip:victim@x SIP/2.0\r\nVia: SIP/2.0/UDP e;branch=z9hG4bKe\r\n\
                    From: <sip:e@x>;tag=e\r\nTo: <sip:victim@x>\r\nCall-ID: e\r\nCSeq: 1 OPTIONS\r\n\r\n";
    let raw = format!(
        "INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n\
         From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n{smuggled}"
    );
    let mut m = reparse(Bytes::from(raw.clone()));
    assert_eq!(m.body(), smuggled.as_bytes());
    // Unedited: byte for byte.
    assert_eq!(m.to_bytes(), raw.as_bytes());
    assert_eq!(m.wire_len(), raw.len());
    m.push_via(&Via::parse("SIP/2.0/TCP p.example.com;branch=z9hG4bKp").unwrap())
        .unwrap();
    let out = m.to_bytes();
    // The Content-Length line written counts: `wire_len` is exact.
    assert_eq!(m.wire_len(), out.len());
    let framer = clearwater_sip::Framer::new(clearwater_sip::Limits::default());
    assert_eq!(
        framer.frame(&out).unwrap(),
        clearwater_sip::Frame::Complete(out.len()),
        "one message, the body inside it"
    );
    let again = reparse(out.clone());
    assert_eq!(again.body(), smuggled.as_bytes());
    let mut written = Vec::new();
    m.write_to(&mut written);
    assert_eq!(written, out);
}

/// Popping the first value of a field whose other values are empty removes
/// the field, rather than leaving an empty `Via:` line.
#[test]
fn popping_before_empty_elements_leaves_no_empty_field() {
    let raw = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP p;branch=z9hG4bKp,\r\n\
               Via: SIP/2.0/UDP u;branch=z9hG4bKu\r\nRoute: <sip:r1;lr>, ,<sip:r2;lr>\r\n\
               From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\
               Content-Length: 0\r\n\r\n";
    let mut m = reparse(Bytes::from(raw));
    assert_eq!(m.pop_via().unwrap().unwrap().branch(), Some("z9hG4bKp"));
    let out = String::from_utf8(m.to_bytes().to_vec()).unwrap();
    assert!(!out.contains("Via: \r\n"), "{out}");
    assert_eq!(m.vias().count(), 1);
    let Message::Response(mut r) = m else {
        panic!()
    };
    assert!(r.pop_route().unwrap().is_some());
    let out = String::from_utf8(r.to_bytes().to_vec()).unwrap();
    assert!(out.contains("Route: <sip:r2;lr>\r\n"), "{out}");
}

/// §8.2.6.1: a 100 (Trying) echoes the request's Timestamp; others do not.
#[test]
fn trying_copies_the_timestamp() {
    let raw = "INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nTimestamp: 54.2 0.5\r\n\
               From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\
               Content-Length: 0\r\n\r\n";
    let Message::Request(req) = reparse(Bytes::from(raw)) else {
        panic!()
    };
    let ts = HeaderName::from_static("Timestamp");
    let trying = req.make_response(StatusCode::TRYING, None, None).unwrap();
    assert_eq!(trying.headers().get(&ts).unwrap().value(), b"54.2 0.5");
    let ringing = req
        .make_response(StatusCode::RINGING, None, Some("t"))
        .unwrap();
    assert!(ringing.headers().get(&ts).is_none());
}
