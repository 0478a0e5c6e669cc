//! Round-trip and grammar tests of the core typed headers.

use super::*;
use crate::method::Method;

fn parse<'a, H: TypedHeader<'a>>(s: &'a str) -> H {
    H::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn fails<'a, H: TypedHeader<'a>>(s: &'a str) {
    assert!(H::parse(s).is_err(), "{s:?} should be rejected");
}

#[test]
fn via_values() {
    let v: Via<'_> = parse("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw");
    assert_eq!(
        (v.protocol(), v.version(), v.transport()),
        ("SIP", "2.0", "UDP")
    );
    assert_eq!(v.host().as_str(), "192.0.2.2");
    assert_eq!(v.branch(), Some("390skdjuw"));
    assert!(!v.has_magic_cookie());
    // The common spelling (read without token scans) with white space or a
    // fold after its last slash reads like the others.
    for text in [
        "SIP/2.0/ UDP h;branch=b",
        "SIP/2.0/\r\n UDP h;branch=b",
        "SIP/2.0 /UDP h;branch=b",
    ] {
        let v: Via<'_> = parse(text);
        assert_eq!(
            (v.protocol(), v.version(), v.transport(), v.host().as_str()),
            ("SIP", "2.0", "UDP", "h"),
            "{text:?}"
        );
    }
    fails::<Via<'_>>("SIP/2.0/ h;branch=b");
    fails::<Via<'_>>("SIP/2.0/");
    let v: Via<'_> = parse("SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239");
    assert_eq!(v.branch(), Some("z9hG4bK30239"));
    assert!(v.has_magic_cookie());
    let v: Via<'_> =
        parse("SIP/2.0/TCP [2001:db8::9:1]:5070;received=[2001:db8::9:255];branch=z9hG4bK;rport");
    assert_eq!(v.port(), Some(5070));
    assert_eq!(v.received_ip(), Some("2001:db8::9:255".parse().unwrap()));
    assert_eq!(v.rport(), Some(None));
    for (text, ip) in [
        ("SIP/2.0/UDP h;received=2001:db8::1", "2001:db8::1"),
        ("SIP/2.0/UDP h;received=[2001:db8::1]", "2001:db8::1"),
        (
            "SIP/2.0/UDP h;received=::ffff:192.0.2.1",
            "::ffff:192.0.2.1",
        ),
        ("SIP/2.0/UDP h;received=192.0.2.1", "192.0.2.1"),
    ] {
        let v: Via<'_> = parse(text);
        assert_eq!(v.received_ip(), Some(ip.parse().unwrap()), "{text}");
    }
    let v: Via<'_> =
        parse("SIP/2.0/UDP h.example.com : 5060 ;ttl=16;maddr=224.2.0.1;branch=z9hG4bKa");
    assert_eq!(
        (v.port(), v.ttl(), v.maddr()),
        (Some(5060), Some(16), Some("224.2.0.1"))
    );
    assert_eq!(
        v.to_string(),
        "SIP/2.0/UDP h.example.com : 5060 ;ttl=16;maddr=224.2.0.1;branch=z9hG4bKa"
    );
    for bad in [
        "SIP/2.0/UDP 192.0.2.15;;",
        "SIP/2.0/UDP",
        "SIP/2.0 UDP host",
        "SIP/2.0/UDP host;branch",
        "SIP/2.0/UDP host;branch=",
        "SIP/2.0/UDP host;received=nothost",
        "SIP/2.0/UDP host;received=\"2001:db8::1\"",
        "SIP/2.0/UDP host;received=\"192.0.2.1\"",
        "SIP/2.0/UDP host;received=2001:db8::zz",
        "SIP/2.0/UDP host;received=2001:db8:::1",
        "SIP/2.0/UDP host;received=[192.0.2.1]",
        "SIP/2.0/UDP host;received=192.0.2",
        "SIP/2.0/UDP host;received",
        "SIP/2.0/UDP host;rport=x",
        "SIP/2.0/UDP host;ttl=256",
        "SIP/2.0/UDP host:99999",
        "SIP/2.0/UDP 2001:db8::1",
        "SIP/2.0/UDP host junk",
        "SIP/2.0/UDPhost",
        "SIP/2.0/UDP h;branch=z9hG4bKa;branch=z9hG4bKb",
        "SIP/2.0/UDP h;branch=z9hG4bKa;BRANCH=z9hG4bKa",
        "SIP/2.0/UDP h;branch",
    ] {
        fails::<Via<'_>>(bad);
    }
}

#[test]
fn name_addr_forms() {
    let f: From<'_> =
        parse("\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8");
    assert_eq!(f.display_name().as_deref(), Some("J Rosenberg \\\""));
    assert_eq!(f.tag(), Some("98asjd8"));
    let t: To<'_> = parse("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n");
    assert!(!t.has_angle_brackets());
    assert_eq!(t.uri().as_str(), "sip:vivekg@chair-dnrc.example.com");
    assert_eq!(t.tag(), Some("1918181833n"));
    let t: To<'_> = parse("isbn:2983792873");
    assert_eq!(t.uri().scheme(), "isbn");
    let f: From<'_> = parse("caller<sip:caller@example.com>;tag=323");
    assert_eq!(f.display_name().as_deref(), Some("caller"));
    let f: From<'_> = parse(
        "token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"\u{440}\u{430}\u{431}\u{43e}\u{442}\u{430}\u{44e}\u{449}\u{438}\u{439}\";tag=_token~1'+`*%!-.",
    );
    assert_eq!(
        f.display_name().as_deref(),
        Some("token1~` token2'+_ token3*%!.-")
    );
    assert_eq!(f.tag(), Some("_token~1'+`*%!-."));
    for bad in [
        "\"Mr. J. User <sip:j.user@example.com>",
        "\"Watson, Thomas\" < sip:t.watson@example.org >",
        "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
        "<sip:a@b.com",
        "<sip:a@b.com>;;",
        "<sip:a@b.com>;tag=",
        "<sip:a@b.com>;tag=1;tag=2",
        "<sip:a@b.com>;tag=1;TAG=1",
        "<sip:a@b.com>;tag",
        "sip:a@b.com extra",
        "",
    ] {
        fails::<From<'_>>(bad);
    }
    // Route insists on angle brackets.
    fails::<Route<'_>>("sip:p1.example.com;lr");
    // ...and prints with them when made from an addr-spec.
    let r = Route::from(NameAddr::parse("sip:p1.example.com;x=y").unwrap());
    assert_eq!(r.to_string(), "<sip:p1.example.com>;x=y");
    let printed = r.to_string();
    let again: Route<'_> = parse(&printed);
    assert_eq!(again.uri().as_str(), "sip:p1.example.com");
    let r: Route<'_> = parse("<sip:p1.example.com;lr>");
    assert!(r.uri().as_sip().unwrap().is_loose_route());
    // P-Asserted-Identity takes no parameters.
    fails::<PAssertedIdentity<'_>>("<sip:a@b.com>;x=y");
    let p: PAssertedIdentity<'_> = parse("\"Alice\" <tel:+15551230001>");
    assert_eq!(p.uri().as_tel().unwrap().number(), "+15551230001");
    let s: PServedUser<'_> = parse("<sip:+15551230001@ims.example.net>;sescase=orig;regstate=reg");
    assert_eq!((s.sescase(), s.regstate()), (Some("orig"), Some("reg")));
    let d: Diversion<'_> = parse("<sip:alice@example.com>;reason=\"user-busy\";counter=1");
    assert_eq!(d.reason().as_deref(), Some("user-busy"));
    assert_eq!(d.counter(), Some(1));
    let h: HistoryInfo<'_> = parse("<sip:bob@example.com?Reason=SIP%3Bcause%3D302>;index=1.1;mp=1");
    assert_eq!(h.index(), Some("1.1"));
}

#[test]
fn contact_values() {
    let c: Contact<'_> = parse("*");
    assert!(c.is_star());
    let c: Contact<'_> = parse(
        "<sip:alice@[2001:db8:1::10]:5064>;+sip.instance=\"<urn:gsma:imei:35209900-176148-0>\";reg-id=1;expires=600000;q=0.7",
    );
    assert_eq!(
        c.sip_instance().as_deref(),
        Some("urn:gsma:imei:35209900-176148-0")
    );
    assert_eq!(
        (c.reg_id(), c.expires(), c.q()),
        (Some(1), Some(600000), Some(700))
    );
    let c: Contact<'_> = parse(
        "<sip:a@b.com>;pub-gruu=\"sip:a@b.com;gr=urn:uuid:1\";temp-gruu=\"sip:tgruu.7hs==@b.com;gr\"",
    );
    assert_eq!(c.pub_gruu().as_deref(), Some("sip:a@b.com;gr=urn:uuid:1"));
    assert_eq!(c.temp_gruu().as_deref(), Some("sip:tgruu.7hs==@b.com;gr"));
    // Expiry values above 2³²−1 count as 2³²−1 (RFC 4475 §3.1.2.4: they
    // must not fail the request); malformed ones still fail.
    let c: Contact<'_> = parse("<sip:user@host129.example.com>\r\n  ;expires=280297596632815");
    assert_eq!(c.expires(), Some(u32::MAX));
    // Set through the Contact, a parameter keeps to the Contact's rules.
    let c: Contact<'_> = parse("<sip:a@b.com>");
    assert!(c.with_param("q", Some("1.5")).is_err());
    assert_eq!(
        c.with_param("expires", Some("soon")).unwrap().expires(),
        None
    );
    assert!(c.with_param("reg-id", Some("0")).is_err());
    let c2 = c.with_param("q", Some("0.5")).unwrap();
    let printed = c2.to_string();
    assert_eq!(parse::<Contact<'_>>(&printed).q(), Some(500));
    assert!(Contact::Star.with_param("q", Some("1")).is_err());
    // A malformed expires is read as absent (§10.2.1.1: the default applies).
    for odd in ["<sip:a@b.com>;expires=\"3600\"", "<sip:a@b.com>;expires=-1"] {
        assert_eq!(parse::<Contact<'_>>(odd).expires(), None, "{odd}");
    }
    for bad in [
        "<sip:a@b.com>;reg-id=0",
        "<sip:a@b.com>;reg-id=2147483648",
        "<sip:a@b.com>;tag=1;tag=2",
        "<sip:a@b.com>;q=1.5",
        "<sip:a@b.com>;q=0.1234",
        "<sip:a@b.com>;reg-id=x",
        "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
        "\"Joe\" <sip:joe@example.org>;;;;",
    ] {
        fails::<Contact<'_>>(bad);
    }
}

#[test]
fn scalars() {
    let c: CSeq = parse("0009\r\n  INVITE");
    assert_eq!((c.seq, &c.method), (9, &Method::INVITE));
    assert_eq!(c.to_string(), "9 INVITE");
    fails::<CSeq>("36893488147419103232 REGISTER");
    fails::<CSeq>("2147483648 INVITE");
    fails::<CSeq>("1INVITE");
    fails::<CSeq>("1 INVITE x");
    assert_eq!(parse::<MaxForwards>("0068").0, 68);
    fails::<MaxForwards>("300");
    fails::<MaxForwards>("-1");
    assert_eq!(parse::<Expires>("4294967295").0, u32::MAX);
    assert_eq!(parse::<Expires>("4294967296").0, u32::MAX);
    assert_eq!(
        parse::<Expires>("10000000000000000000000000000000000000000000000000000000000000000000").0,
        u32::MAX
    );
    assert_eq!(parse::<MinExpires>("99999999999").0, u32::MAX);
    fails::<Expires>("");
    fails::<Expires>("-1");
    fails::<Expires>("1 hour");
    let id: CallId<'_> = parse("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
    assert_eq!(id.as_str(), "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
    fails::<CallId<'_>>("a@b@c");
    fails::<CallId<'_>>("has space");
    fails::<CallId<'_>>("@x");
    let ct: ContentType<'_> = parse("multipart/mixed;boundary=7a9cbec02ceef655");
    assert!(ct.is("Multipart/Mixed"));
    assert_eq!(ct.boundary().as_deref(), Some("7a9cbec02ceef655"));
    fails::<ContentType<'_>>("application");
    fails::<ContentType<'_>>("application/sdp;");
    let d: Date<'_> = parse("Sat, 13 Nov 2010 23:29:00 GMT");
    assert_eq!(d.unix_time(), 1_289_690_940);
    fails::<Date<'_>>("Fri, 01 Jan 2010 16:00:00 EST");
    fails::<Date<'_>>("Fri, 31 Feb 2010 16:00:00 GMT");
    fails::<Date<'_>>("Xyz, 01 Jan 2010 16:00:00 GMT");
    let s: Supported<'_> = parse("100rel");
    assert_eq!(s.as_str(), "100rel");
    fails::<Require<'_>>("a b");
    let a: Allow = parse("INVITE");
    assert_eq!(a.0, Method::INVITE);
}

#[test]
fn quoting_round_trips_every_character() {
    for raw in [
        "plain",
        "a \"q\" b",
        "back\\slash",
        "nul\u{0}bel\u{7}del\u{7f}",
        "\u{e9}t\u{e9}",
    ] {
        let q = quote(raw);
        let mut sc = crate::scan::Scanner::new(q.as_bytes());
        let inner = sc.quoted_string().unwrap_or_else(|e| panic!("{q:?}: {e}"));
        assert!(sc.at_end());
        assert_eq!(&*crate::scan::unquote(inner), raw.as_bytes());
    }
    // CR/LF cannot be quoted: they become spaces rather than break the line
    assert_eq!(quote("a\r\nb"), "\"a  b\"");
    let a = NameAddr::new(
        &crate::uri::Uri::parse("sip:a@b.com").unwrap(),
        Some("x\r\nVia: evil"),
    );
    assert!(NameAddr::parse(a.as_str()).is_ok());
}

#[test]
fn owned_values_outlive_their_text() {
    let owned = {
        let s = String::from("<sip:alice@example.com>;tag=x");
        let f: From<'_> = parse(&s);
        f.into_owned()
    };
    assert_eq!(owned.tag(), Some("x"));
    let v = {
        let s = String::from("SIP/2.0/UDP h;branch=z9hG4bK1");
        Via::parse(&s).unwrap().into_owned()
    };
    assert_eq!(v.branch(), Some("z9hG4bK1"));
}

proptest::proptest! {
    /// `Via::new` builds exactly what parsing its text gives (it takes the
    /// spans directly for plain parts and parses anything else), and refuses
    /// exactly what the parser refuses.
    #[test]
    fn via_new_agrees_with_parsing_its_text(
        transport in "(UDP|TCP|TLS|WS|x y|)",
        host in "(example\\.com|192\\.0\\.2\\.1|\\[2001:db8::1\\]|h:5060|a b|-x\\.com|2001:db8::1|)",
        port in proptest::option::of(0u16..=65535),
        branch in "(z9hG4bK-1|z9hG4bK;rport|b=c|\"q\"|)",
    ) {
        let mut text = format!("SIP/2.0/{transport} {host}");
        if let Some(p) = port {
            text.push_str(&format!(":{p}"));
        }
        text.push_str(&format!(";branch={branch}"));
        match (Via::new(&transport, &host, port, &branch), Via::parse(&text)) {
            (Ok(a), Ok(b)) => {
                proptest::prop_assert_eq!(a.as_str(), b.as_str());
                proptest::prop_assert_eq!(a.protocol(), b.protocol());
                proptest::prop_assert_eq!(a.version(), b.version());
                proptest::prop_assert_eq!(a.transport(), b.transport());
                proptest::prop_assert_eq!(a.host().as_str(), b.host().as_str());
                proptest::prop_assert_eq!(a.host(), b.host());
                proptest::prop_assert_eq!(a.port(), b.port());
                proptest::prop_assert_eq!(a.params().as_str(), b.params().as_str());
                proptest::prop_assert_eq!(a.branch(), b.branch());
                proptest::prop_assert_eq!(a.rport(), b.rport());
            }
            (Err(_), Err(_)) => {}
            (a, b) => proptest::prop_assert!(false, "new {:?} parse {:?}", a.is_ok(), b.is_ok()),
        }
    }
}
