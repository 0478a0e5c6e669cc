use super::*;

fn sip(s: &str) -> SipUri<'_> {
    SipUri::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn parts() {
    let u = sip("sips:alice:secret@[2001:db8::10]:5061;transport=tcp;lr?subject=x&priority=urgent");
    assert!(u.is_secure());
    assert_eq!(u.user(), Some("alice"));
    assert_eq!(u.password(), Some("secret"));
    assert_eq!(u.host().as_str(), "[2001:db8::10]");
    assert!(matches!(u.host().kind(), HostKind::Ipv6(_)));
    assert_eq!(u.port(), Some(5061));
    assert_eq!(u.transport(), Some("tcp"));
    assert!(u.is_loose_route());
    assert_eq!(u.headers(), Some("subject=x&priority=urgent"));
    assert_eq!(
        u.header_pairs().collect::<Vec<_>>(),
        vec![("subject", "x"), ("priority", "urgent")]
    );
}

#[test]
fn torture_uris() {
    // RFC 4475 §3.1.1.2
    let u = sip(
        "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
    );
    assert_eq!(
        u.user(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        u.password(),
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    assert_eq!(u.host().as_str(), "example.com");
    // §3.1.1.9: ';' belongs to the user part
    let u = sip("sip:user;par=u%40example.net@example.com");
    assert_eq!(u.user(), Some("user;par=u%40example.net"));
    assert!(u.params().is_empty());
    // §3.1.1.4
    assert_eq!(
        sip("sip:null-%00-null@example.com").user(),
        Some("null-%00-null")
    );
    // RFC 5118 §4.3: the port is inside the brackets, so there is none
    let u = sip("sip:user@[2001:db8::10:5070]");
    assert_eq!(u.port(), None);
    let u = sip("sip:user@[2001:db8::10]:5070");
    assert_eq!(u.port(), Some(5070));
    for bad in [
        "sip:user@2001:db8::10",
        "sip:user@[2001:db8:::192.0.2.1]",
        "sip:user@example.com:",
        "sip:user@example.com:70000",
        "sip:@example.com",
        "sip:user@",
        "sip:user@exa mple.com",
        "sip:user@example.com;;lr",
        "sip:user@example.com;a=",
        "sip:user@example.com?",
        "sip:user@example.com?a",
        "sip:us%zzer@example.com",
        "sip:user@example.com>",
        "<sip:user@example.com>",
        "sip:user@-bad.example.com",
    ] {
        assert!(SipUri::parse(bad).is_err(), "{bad} should fail");
    }
}

#[test]
fn equivalence_rfc3261_examples() {
    // §19.1.4 equivalent pairs
    for (a, b) in [
        (
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp",
        ),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
        (
            "sip:carol@chicago.com;newparam=5",
            "sip:carol@chicago.com;security=on",
        ),
        (
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
        ),
        (
            "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
        ),
    ] {
        assert_eq!(sip(a), sip(b), "{a} == {b}");
        assert_eq!(sip(b), sip(a), "{b} == {a}");
    }
    // §19.1.4 non-equivalent pairs
    for (a, b) in [
        (
            "SIP:ALICE@AtLanTa.CoM;Transport=udp",
            "sip:alice@AtLanTa.CoM;Transport=UDP",
        ),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
        (
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com:6000;transport=tcp",
        ),
        (
            "sip:carol@chicago.com",
            "sip:carol@chicago.com?Subject=next%20meeting",
        ),
        ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
        ("sip:alice@atlanta.com", "sips:alice@atlanta.com"),
        ("sip:a%40b@x.com", "sip:a@b@x.com"),
    ] {
        if let (Ok(x), Ok(y)) = (SipUri::parse(a), SipUri::parse(b)) {
            assert_ne!(x, y, "{a} != {b}");
            assert_ne!(y, x, "{b} != {a}");
        }
    }
    // Repeated parameter names (fuzzer finding): equality stays reflexive and
    // symmetric; values of a repeated name compare in order.
    let dup = "sip:scscf1.imtr;orig;odi=2f8a3.example.net:ample.net:6060;lr;orisip:[2001:db8::g;odi=26060;lr;orig;odi=2f8a371ce05b]";
    assert_eq!(sip(dup), sip(dup));
    assert_eq!(sip("sip:a@b.com;x=1;x=2"), sip("sip:a@b.com;x=1;x=2"));
    assert_ne!(sip("sip:a@b.com;x=1;x=2"), sip("sip:a@b.com;x=2;x=1"));
    assert_ne!(sip("sip:a@b.com;x=1;x=2"), sip("sip:a@b.com;x=1"));
    assert_ne!(sip("sip:a@b.com?h=1&h=1"), sip("sip:a@b.com?h=1&h=2"));
    assert_ne!(sip("sip:a@b.com?h=1&h=2"), sip("sip:a@b.com?h=1&h=1"));
    // Header components: repeats count; values are compared exactly (Call-ID
    // is case-sensitive, §20.8), names case-insensitively, in any order.
    assert_ne!(sip("sip:a@b.com?h=1&h=1"), sip("sip:a@b.com?h=1"));
    assert_ne!(sip("sip:a@b.com?h=1"), sip("sip:a@b.com?h=1&h=1"));
    assert_ne!(
        sip("sip:a@b.com?Call-ID=ABC"),
        sip("sip:a@b.com?Call-ID=abc")
    );
    assert_eq!(
        sip("sip:a@b.com?call-id=ABC&x=%41"),
        sip("sip:a@b.com?x=A&Call-ID=ABC")
    );
    // RFC 4475 §3.1.1.3: escaped forms compare equal to unescaped
    assert_eq!(sip("sip:%75se%72@example.com"), sip("sip:user@example.com"));
    assert_eq!(
        sip("sip:caller@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31"),
        sip("sip:caller@host5.example.net;lr;name=value%25%34%31")
    );
}

#[test]
fn tel() {
    let t = TelUri::parse("tel:+1-201-555-0123;ext=1234").unwrap();
    assert!(t.is_global());
    assert_eq!(t.digits(), "+12015550123");
    assert_eq!(t.params().get("ext"), Some(Some("1234")));
    let l = TelUri::parse("tel:7042;phone-context=example.com").unwrap();
    assert!(!l.is_global());
    assert_eq!(l.phone_context(), Some("example.com"));
    assert_eq!(
        TelUri::parse("tel:+1-201-555-0123").unwrap(),
        TelUri::parse("tel:+1(201)5550123").unwrap()
    );
    assert_ne!(
        TelUri::parse("tel:+12015550123;ext=1").unwrap(),
        TelUri::parse("tel:+12015550123").unwrap()
    );
    assert_eq!(
        TelUri::parse("tel:7042;phone-context=EXAMPLE.com;ext=1").unwrap(),
        TelUri::parse("tel:7042;ext=1;phone-context=example.com").unwrap()
    );
    // Repeated parameters count: equality stays symmetric (RFC 3966 §4).
    let (a, b) = (
        TelUri::parse("tel:+1;x=1;x=1").unwrap(),
        TelUri::parse("tel:+1;x=1;y=2").unwrap(),
    );
    assert_ne!(a, b);
    assert_ne!(b, a);
    // Escaped octets compare as octets, not as one replacement character.
    assert_ne!(
        TelUri::parse("tel:1;phone-context=a%FF").unwrap(),
        TelUri::parse("tel:1;phone-context=a%FE").unwrap()
    );
    assert_eq!(
        TelUri::parse("tel:1;phone-context=b%41").unwrap(),
        TelUri::parse("tel:1;phone-context=BA").unwrap()
    );
    for bad in [
        "tel:",
        "tel:+",
        "tel:+1 2",
        "tel:abc-xyz",
        "tel:+12;;a",
        "tel:+12;a=",
    ] {
        assert!(TelUri::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn absolute_and_dispatch() {
    for (s, scheme) in [
        ("isbn:2983792873", "isbn"),
        ("http://www.example.com", "http"),
        ("name:John_Smith", "name"),
        ("soap.beep://192.0.2.103:3002", "soap.beep"),
        ("urn:service:sos", "urn"),
        ("SIP:bob@example.com", "SIP"),
        ("tel:+15551230001", "tel"),
    ] {
        let u = Uri::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(u.scheme(), scheme);
        assert_eq!(u.to_string(), s);
    }
    assert!(Uri::parse("no-scheme").is_err());
    assert!(Uri::parse("1abc:x").is_err());
    assert!(Uri::parse("http:").is_err());
    assert!(Uri::parse("http:a b").is_err());
    assert!(Uri::parse_bytes("sip:é@x.com".as_bytes()).is_err());
}

#[test]
fn building_and_editing() {
    let u = SipUri::new(Some("alice"), "example.com", Some(5060)).unwrap();
    assert_eq!(u.as_str(), "sip:alice@example.com:5060");
    let u = u.with_param("transport", Some("tcp")).unwrap();
    let u = u.with_param("lr", None).unwrap();
    assert_eq!(u.as_str(), "sip:alice@example.com:5060;transport=tcp;lr");
    let u = u.with_param("transport", Some("udp")).unwrap();
    assert_eq!(u.as_str(), "sip:alice@example.com:5060;transport=udp;lr");
    assert_eq!(
        u.without_param("transport").as_str(),
        "sip:alice@example.com:5060;lr"
    );
    assert!(u.with_param("bad name", None).is_err());
    assert!(SipUri::new(None, "bad host!", None).is_err());
    // Each part is checked on its own, not only the URI they make together.
    assert!(SipUri::new(None, "example.com;maddr=evil.example", None).is_err());
    assert!(SipUri::new(None, "alice@evil.example", None).is_err());
    assert!(SipUri::new(Some("a@b"), "example.com", None).is_err());
    assert!(SipUri::new(Some(""), "example.com", None).is_err());
    assert_eq!(
        SipUri::new(Some("a%20b:pw"), "[::1]", Some(5062))
            .unwrap()
            .as_str(),
        "sip:a%20b:pw@[::1]:5062"
    );
    let h = sip("sip:a@b.com;lr?x=y").without_headers();
    assert_eq!(h.as_str(), "sip:a@b.com;lr");
    assert_eq!(escape_user("a b@c"), "a%20b%40c");
    assert_eq!(&*unescape("a%20b%4"), b"a b%4");
    let owned: Uri<'static> = "sip:x@y.com".parse().unwrap();
    assert_eq!(owned.user(), "x");
}
