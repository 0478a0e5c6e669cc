//! The codec: round trips, hand-written wire bytes, and the Result-Code
//! every kind of malformed input maps to (RFC 6733 §7).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use clearwater_diameter::avp::code;
use clearwater_diameter::cx::{
    CxRouting, MultimediaAuthRequest, ServerAssignmentRequest, ServerAssignmentType, scheme,
};
use clearwater_diameter::{
    ApplicationId, Avp, AvpCode, CommandCode, CommandFlags, DiameterError, Framing, Message,
    ResultCode, frame,
};

fn routing() -> CxRouting {
    CxRouting {
        session_id: "scscf.example.com;1234;5678".into(),
        origin_host: "scscf.example.com".into(),
        origin_realm: "example.com".into(),
        destination_realm: "example.com".into(),
        destination_host: Some("hss.example.com".into()),
    }
}

fn mar() -> MultimediaAuthRequest {
    MultimediaAuthRequest {
        routing: routing(),
        user_name: "alice@example.com".into(),
        public_identity: "sip:alice@example.com".into(),
        server_name: "sip:scscf.example.com:5054".into(),
        number_auth_items: 1,
        scheme: scheme::AKA.into(),
        authorization: Some(Bytes::from_static(&[0xab; 30])),
    }
}

fn err(r: clearwater_diameter::Result<impl std::fmt::Debug>) -> (ResultCode, Option<AvpCode>) {
    match r {
        Err(DiameterError::Malformed {
            result_code,
            failed_avp,
            ..
        }) => (result_code, failed_avp.map(|a| a.code)),
        Err(e) => panic!("unexpected {e:?}"),
        Ok(v) => panic!("accepted {v:?}"),
    }
}

#[test]
fn mar_round_trips_through_the_wire() {
    let mut m = mar().to_message();
    m.hop_by_hop = 0x1122_3344;
    m.end_to_end = 0x5566_7788;
    let wire = m.encode();
    assert_eq!(wire.len() % 4, 0);
    assert_eq!(wire.len(), m.encoded_len());
    assert_eq!(frame(&wire, 1 << 20), Framing::Complete(wire.len()));
    let back = Message::decode(wire.clone()).unwrap();
    assert_eq!(back, m);
    back.validate().unwrap();
    assert_eq!(MultimediaAuthRequest::from_message(&back).unwrap(), mar());
    // Unedited: the same bytes again.
    assert_eq!(back.encode(), wire);
    assert_eq!(back.code, CommandCode::MULTIMEDIA_AUTH);
    assert!(back.flags.is_request() && back.flags.is_proxiable());
    assert_eq!(back.application, ApplicationId::CX);
    assert_eq!(
        back.session_id().unwrap(),
        Some("scscf.example.com;1234;5678")
    );
}

#[test]
fn sar_round_trips() {
    let sar = ServerAssignmentRequest {
        routing: CxRouting {
            destination_host: None,
            ..routing()
        },
        user_name: None,
        public_identities: vec!["sip:alice@example.com".into(), "tel:+15551234".into()],
        server_name: "sip:scscf.example.com".into(),
        assignment_type: ServerAssignmentType::UNREGISTERED_USER,
        user_data_already_available: false,
    };
    let back = Message::decode(sar.to_message().encode()).unwrap();
    assert_eq!(ServerAssignmentRequest::from_message(&back).unwrap(), sar);
}

/// A DWR written out by hand from RFC 6733 §3 and §4.
#[test]
fn hand_written_dwr() {
    let mut wire = vec![
        1, 0, 0, 0, // version, length (patched below)
        0x80, 0, 1, 24, // R, command 280
        0, 0, 0, 0, // application 0
        0, 0, 0, 7, // hop-by-hop
        0, 0, 0, 9, // end-to-end
        0, 0, 1, 8, 0x40, 0, 0, 13, b'p', b'e', b'e', b'r', b'.', 0, 0,
        0, // Origin-Host "peer." + padding
        0, 0, 1, 40, 0x40, 0, 0, 9, b'x', 0, 0, 0, // Origin-Realm "x"
    ];
    wire[3] = wire.len() as u8;
    let m = Message::decode(Bytes::from(wire.clone())).unwrap();
    assert_eq!(m.code, CommandCode::DEVICE_WATCHDOG);
    assert_eq!((m.hop_by_hop, m.end_to_end), (7, 9));
    assert_eq!(m.origin_host().unwrap(), "peer.");
    assert_eq!(m.origin_realm().unwrap(), "x");
    m.validate().unwrap();
    assert_eq!(&m.encode()[..], &wire[..]);
}

#[test]
fn header_errors_map_to_their_result_codes() {
    let good = mar().to_message().encode().to_vec();
    let mut v2 = good.clone();
    v2[0] = 2;
    assert_eq!(
        err(Message::decode(v2.clone().into())).0,
        ResultCode::UNSUPPORTED_VERSION
    );
    assert!(
        matches!(frame(&v2, 1 << 20), Framing::Invalid(e) if e.result_code() == ResultCode::UNSUPPORTED_VERSION)
    );
    let mut short = good.clone();
    short.truncate(good.len() - 4);
    assert_eq!(
        err(Message::decode(short.into())).0,
        ResultCode::INVALID_MESSAGE_LENGTH
    );
    assert_eq!(
        err(Message::decode(Bytes::from_static(&[1, 0, 0]))).0,
        ResultCode::INVALID_MESSAGE_LENGTH
    );
    let mut odd = good.clone();
    odd[3] = odd[3].wrapping_add(1);
    assert!(matches!(frame(&odd, 1 << 20), Framing::Invalid(_)));
    let mut reserved = good.clone();
    reserved[4] |= 0x01;
    assert_eq!(
        err(Message::decode(reserved.into())).0,
        ResultCode::INVALID_HDR_BITS
    );
    let mut re = good.clone();
    re[4] |= CommandFlags::ERROR;
    assert_eq!(
        err(Message::decode(re.into())).0,
        ResultCode::INVALID_HDR_BITS
    );
    assert_eq!(frame(&good[..10], 1 << 20), Framing::Partial);
    assert!(
        matches!(frame(&good, 64), Framing::Invalid(e) if e.result_code() == ResultCode::INVALID_MESSAGE_LENGTH)
    );
}

/// A message with one raw AVP appended after a valid DWR body.
fn dwr_with(extra: &[u8]) -> Bytes {
    let mut m = Message::request(CommandCode::DEVICE_WATCHDOG, ApplicationId::COMMON)
        .with(Avp::utf8(code::ORIGIN_HOST, "a.example"))
        .with(Avp::utf8(code::ORIGIN_REALM, "example"))
        .encode()
        .to_vec();
    m.extend_from_slice(extra);
    let len = m.len() as u32;
    m[1..4].copy_from_slice(&len.to_be_bytes()[1..]);
    m.into()
}

#[test]
fn avp_errors_map_to_their_result_codes() {
    // AVP length below the header size, and beyond the message.
    let (rc, failed) = err(Message::decode(dwr_with(&[0, 0, 1, 7, 0x40, 0, 0, 4])));
    assert_eq!(
        (rc, failed),
        (ResultCode::INVALID_AVP_LENGTH, Some(AvpCode::ietf(263)))
    );
    let (rc, _) = err(Message::decode(dwr_with(&[0, 0, 1, 7, 0x40, 0, 0, 200])));
    assert_eq!(rc, ResultCode::INVALID_AVP_LENGTH);
    // Vendor bit with no room for the Vendor-ID.
    let (rc, _) = err(Message::decode(dwr_with(&[0, 0, 2, 0x5a, 0xc0, 0, 0, 8])));
    assert_eq!(rc, ResultCode::INVALID_AVP_LENGTH);
    // Unsigned32 with 3 octets: decodes (structure is fine), validate says 5014.
    let m = Message::decode(dwr_with(&[0, 0, 1, 22, 0x40, 0, 0, 11, 1, 2, 3, 0])).unwrap();
    assert_eq!(
        err(m.validate()),
        (ResultCode::INVALID_AVP_LENGTH, Some(code::ORIGIN_STATE_ID))
    );
    // Session-Id that is not UTF-8: 5004.
    let m = Message::decode(dwr_with(&[0, 0, 1, 7, 0x40, 0, 0, 10, 0xff, 0xfe, 0, 0])).unwrap();
    assert_eq!(
        err(m.validate()),
        (ResultCode::INVALID_AVP_VALUE, Some(code::SESSION_ID))
    );
    // An unknown AVP with the M bit: 5001 naming it; without M: ignored.
    let m = Message::decode(dwr_with(&[0, 0, 0x99, 0x99, 0x40, 0, 0, 12, 1, 2, 3, 4])).unwrap();
    assert_eq!(
        err(m.validate()),
        (ResultCode::AVP_UNSUPPORTED, Some(AvpCode::ietf(0x9999)))
    );
    let raw = dwr_with(&[
        0, 0, 0x99, 0x99, 0x80, 0, 0, 13, 0, 0, 0x28, 0xaf, 9, 0, 0, 0,
    ]);
    let m = Message::decode(raw.clone()).unwrap();
    m.validate().unwrap();
    assert_eq!(m.encode(), raw, "unknown AVPs are preserved on re-encoding");
    // Reserved AVP flag bits: 3009.
    let m = Message::decode(dwr_with(&[0, 0, 1, 22, 0x41, 0, 0, 12, 0, 0, 0, 1])).unwrap();
    assert_eq!(err(m.validate()).0, ResultCode::INVALID_AVP_BITS);
    // Address of an unknown family: 5004.
    let m = Message::decode(dwr_with(&[
        0, 0, 1, 1, 0x40, 0, 0, 14, 0, 9, 1, 2, 3, 4, 0, 0,
    ]))
    .unwrap();
    assert_eq!(err(m.validate()).0, ResultCode::INVALID_AVP_VALUE);
}

#[test]
fn grammar_errors_map_to_their_result_codes() {
    let mut m = mar().to_message();
    m.avps.retain(|a| a.code != code::USER_NAME);
    assert_eq!(
        err(m.validate()),
        (ResultCode::MISSING_AVP, Some(code::USER_NAME))
    );
    assert_eq!(
        err(MultimediaAuthRequest::from_message(&m)).0,
        ResultCode::MISSING_AVP
    );
    let mut m = mar().to_message();
    m.push(Avp::utf8(code::ORIGIN_HOST, "again.example"));
    assert_eq!(err(m.validate()).0, ResultCode::AVP_OCCURS_TOO_MANY_TIMES);
    // An answer without a result.
    let a = mar()
        .to_message()
        .answer()
        .with(Avp::utf8(code::SESSION_ID, "s"))
        .with(clearwater_diameter::cx::cx_application())
        .with(Avp::u32(code::AUTH_SESSION_STATE, 1))
        .with(Avp::utf8(code::ORIGIN_HOST, "hss.example.com"))
        .with(Avp::utf8(code::ORIGIN_REALM, "example.com"));
    assert_eq!(
        err(a.validate()),
        (ResultCode::MISSING_AVP, Some(code::RESULT_CODE))
    );
    let ok = a.with(Avp::grouped(
        code::EXPERIMENTAL_RESULT,
        [
            Avp::u32(code::VENDOR_ID, 10415),
            Avp::u32(
                code::EXPERIMENTAL_RESULT_CODE,
                ResultCode::CX_ERROR_USER_UNKNOWN.0,
            ),
        ],
    ));
    ok.validate().unwrap();
    assert_eq!(
        ok.experimental_result().unwrap(),
        Some((10415, ResultCode::CX_ERROR_USER_UNKNOWN))
    );
}

#[test]
fn grouped_errors_name_the_grouped_avp() {
    // SIP-Auth-Data-Item whose child claims 100 octets.
    let bad_child = Avp::new(
        code::SIP_AUTH_DATA_ITEM,
        Bytes::from_static(&[0, 0, 2, 0x60, 0xc0, 0, 0, 100]),
    );
    let wire = Message::request(CommandCode::DEVICE_WATCHDOG, ApplicationId::COMMON)
        .with(bad_child)
        .encode();
    assert_eq!(
        err(Message::decode(wire)),
        (
            ResultCode::INVALID_AVP_LENGTH,
            Some(code::SIP_AUTH_DATA_ITEM)
        )
    );
    // Nesting over 16 deep.
    let mut a = Avp::u32(code::RESULT_CODE, 2001);
    for _ in 0..20 {
        a = Avp::grouped(code::PROXY_INFO, [a]);
    }
    let wire = Message::request(CommandCode::DEVICE_WATCHDOG, ApplicationId::COMMON)
        .with(a)
        .encode();
    assert_eq!(err(Message::decode(wire)).0, ResultCode::INVALID_AVP_VALUE);
    // Exactly 16 deep is allowed.
    let mut a = Avp::u32(code::RESULT_CODE, 2001);
    for _ in 0..16 {
        a = Avp::grouped(code::PROXY_INFO, [a]);
    }
    let wire = Message::request(CommandCode::DEVICE_WATCHDOG, ApplicationId::COMMON)
        .with(a)
        .encode();
    assert!(Message::decode(wire).is_ok());
    // A bad length two levels down is reported on the top-level AVP.
    let inner = Avp::new(
        code::SIP_AUTH_DATA_ITEM,
        Bytes::from_static(&[0, 0, 2, 0x60, 0xc0, 0, 0, 100]),
    );
    let wire = Message::request(CommandCode::DEVICE_WATCHDOG, ApplicationId::COMMON)
        .with(Avp::grouped(code::PROXY_INFO, [inner]))
        .encode();
    assert_eq!(
        err(Message::decode(wire)),
        (ResultCode::INVALID_AVP_LENGTH, Some(code::PROXY_INFO))
    );
}

#[test]
fn error_answers_carry_the_code_and_failed_avp() {
    let mut req = mar().to_message();
    req.hop_by_hop = 42;
    req.push(Avp::new(AvpCode::ietf(0x9999), Bytes::from_static(b"??")));
    let e = req.validate().unwrap_err();
    let ans = req.error_answer(&e, "hss.example.com", "example.com");
    assert!(!ans.is_request());
    assert_eq!(ans.hop_by_hop, 42);
    assert!(!ans.flags.is_error(), "5xxx answers do not set E");
    assert_eq!(
        ans.result_code().unwrap(),
        Some(ResultCode::AVP_UNSUPPORTED)
    );
    let failed = ans.avp(code::FAILED_AVP).unwrap().children().unwrap();
    assert_eq!(failed[0].code, AvpCode::ietf(0x9999));
    let back = Message::decode(ans.encode()).unwrap();
    back.validate().unwrap();
    let proto = DiameterError::new(ResultCode::INVALID_HDR_BITS, "bits");
    assert!(
        req.error_answer(&proto, "h.example", "example")
            .flags
            .is_error()
    );
}

#[test]
fn typed_values() {
    use std::net::IpAddr;
    let v4: IpAddr = "192.0.2.1".parse().unwrap();
    let v6: IpAddr = "2001:db8::1".parse().unwrap();
    assert_eq!(
        Avp::address(code::HOST_IP_ADDRESS, v4)
            .as_address()
            .unwrap(),
        v4
    );
    assert_eq!(
        Avp::address(code::HOST_IP_ADDRESS, v6)
            .as_address()
            .unwrap(),
        v6
    );
    let t = Avp::time(code::EVENT_TIMESTAMP, 1_795_000_000);
    assert_eq!(t.as_time().unwrap(), 1_795_000_000);
    // After 2036 the NTP seconds wrap (era 1).
    let late = 2_200_000_000;
    assert_eq!(
        Avp::time(code::EVENT_TIMESTAMP, late).as_time().unwrap(),
        late
    );
    assert_eq!(
        Avp::u64(code::ACCOUNTING_SUB_SESSION_ID, u64::MAX)
            .as_u64()
            .unwrap(),
        u64::MAX
    );
    assert_eq!(Avp::i32(code::CAUSE_CODE, -3).as_i32().unwrap(), -3);
    // Flags from the dictionary: V+M for Cx AVPs, no M for Supported-Features.
    assert_eq!(Avp::u32(code::SIP_ITEM_NUMBER, 1).flags.0, 0xc0);
    assert_eq!(Avp::grouped(code::SUPPORTED_FEATURES, []).flags.0, 0x80);
    assert_eq!(Avp::u32(code::RESULT_CODE, 2001).flags.0, 0x40);
    assert_eq!(ResultCode(5001).to_string(), "5001 (AVP_UNSUPPORTED)");
    assert_eq!(CommandCode(303).name(), Some("MULTIMEDIA_AUTH"));
    assert_eq!(CommandCode(999).to_string(), "999");
    assert_eq!(
        code::PUBLIC_IDENTITY.to_string(),
        "Public-Identity (601, vendor 10415)"
    );
}
