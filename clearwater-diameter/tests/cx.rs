//! Typed Cx/Dx commands (TS 29.229 §6.1): every request and answer round
//! trips through the wire, MAA and RTR match byte layouts written out by
//! hand, missing and invalid AVPs map to their Result-Codes, and generated
//! values round trip (proptest).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use clearwater_diameter::avp::code;
use clearwater_diameter::cx::{
    ChargingInformation, CxResult, CxRouting, DeregistrationReason, LocationInfoAnswer,
    LocationInfoRequest, MultimediaAuthAnswer, MultimediaAuthRequest, Origin, PushProfileAnswer,
    PushProfileRequest, ReasonCode, RegistrationTerminationAnswer, RegistrationTerminationRequest,
    ServerAssignmentAnswer, ServerAssignmentRequest, ServerAssignmentType, ServerCapabilities,
    SipAuthDataItem, SipDigestAuthenticate, UserAuthorizationAnswer, UserAuthorizationRequest,
    UserAuthorizationType, scheme,
};
use clearwater_diameter::{
    ApplicationId, Avp, AvpCode, CommandCode, DiameterError, Message, ResultCode,
};
use proptest::prelude::*;

fn scscf() -> CxRouting {
    CxRouting {
        session_id: "scscf.example.net;1795000000;7".into(),
        origin_host: "scscf.example.net".into(),
        origin_realm: "example.net".into(),
        destination_realm: "example.net".into(),
        destination_host: None,
    }
}

fn hss_to_scscf() -> CxRouting {
    CxRouting {
        session_id: "hss.example.net;1795000000;9".into(),
        origin_host: "hss.example.net".into(),
        origin_realm: "example.net".into(),
        destination_realm: "example.net".into(),
        destination_host: Some("scscf.example.net".into()),
    }
}

fn hss() -> Origin {
    Origin::new("hss.example.net", "example.net")
}

fn scscf_origin() -> Origin {
    Origin::new("scscf.example.net", "example.net")
}

/// Encodes, decodes and checks the bytes are stable.
fn wire(m: &Message) -> Message {
    let bytes = m.encode();
    assert_eq!(bytes.len(), m.encoded_len());
    let back = Message::decode(bytes.clone()).unwrap();
    assert_eq!(&back, m);
    assert_eq!(back.encode(), bytes);
    back.validate().unwrap();
    back
}

/// A request as a peer would send it: identifiers set, through the wire.
fn sent(mut m: Message, hop: u32) -> Message {
    m.hop_by_hop = hop;
    m.end_to_end = hop ^ 0x5a5a_0000;
    assert!(m.is_request() && m.flags.is_proxiable());
    assert_eq!(m.application, ApplicationId::CX);
    wire(&m)
}

/// Checks what every Cx answer shares with its request.
fn check_answer(req: &Message, ans: &Message) {
    assert!(!ans.is_request());
    assert_eq!(ans.code, req.code);
    assert_eq!(ans.application, ApplicationId::CX);
    assert_eq!(
        (ans.hop_by_hop, ans.end_to_end),
        (req.hop_by_hop, req.end_to_end)
    );
    assert!(ans.flags.is_proxiable());
    assert_eq!(ans.session_id().unwrap(), req.session_id().unwrap());
    assert_eq!(ans.avps[0].code, code::SESSION_ID, "Session-Id first");
    assert_eq!(
        ans.avp(code::VENDOR_SPECIFIC_APPLICATION_ID),
        req.avp(code::VENDOR_SPECIFIC_APPLICATION_ID)
    );
    assert_eq!(
        ans.avp(code::AUTH_SESSION_STATE).unwrap().as_u32().unwrap(),
        1
    );
}

fn err<T: std::fmt::Debug>(r: clearwater_diameter::Result<T>) -> (ResultCode, Option<Avp>) {
    match r {
        Err(DiameterError::Malformed {
            result_code,
            failed_avp,
            ..
        }) => (result_code, failed_avp.map(|a| *a)),
        Err(e) => panic!("unexpected {e:?}"),
        Ok(v) => panic!("accepted {v:?}"),
    }
}

fn err_code<T: std::fmt::Debug>(
    r: clearwater_diameter::Result<T>,
) -> (ResultCode, Option<AvpCode>) {
    let (rc, f) = err(r);
    (rc, f.map(|a| a.code))
}

fn digest_item() -> SipAuthDataItem {
    SipAuthDataItem::digest(SipDigestAuthenticate {
        realm: "example.net".into(),
        qop: "auth".into(),
        ha1: "0123456789abcdef0123456789abcdef".into(),
        algorithm: Some("MD5".into()),
    })
}

fn aka_item() -> SipAuthDataItem {
    SipAuthDataItem {
        item_number: Some(2),
        ..SipAuthDataItem::aka([0x23; 16], [0x55; 16], &[0xa5; 8], [0xb4; 16], [0xf7; 16])
    }
}

fn charging() -> ChargingInformation {
    ChargingInformation {
        primary_event: Some("aaa://ecf1.example.net:3868".into()),
        secondary_event: None,
        primary_collection: Some("aaa://ccf1.example.net".into()),
        secondary_collection: Some("aaa://ccf2.example.net;transport=tcp".into()),
    }
}

const XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><IMSSubscription><PrivateID>alice@example.net</PrivateID><ServiceProfile><PublicIdentity><Identity>sip:alice@example.net</Identity></PublicIdentity></ServiceProfile></IMSSubscription>";

#[test]
fn uar_uaa_round_trip() {
    let uar = UserAuthorizationRequest {
        routing: CxRouting {
            session_id: "icscf.example.net;1;2".into(),
            origin_host: "icscf.example.net".into(),
            ..scscf()
        },
        user_name: "alice@example.net".into(),
        public_identity: "sip:alice@example.net".into(),
        visited_network: Bytes::from_static(b"visited.example.org"),
        authorization_type: Some(UserAuthorizationType::REGISTRATION_AND_CAPABILITIES),
        uar_flags: Some(1),
    };
    let req = sent(uar.to_message(), 11);
    assert_eq!(req.code, CommandCode::USER_AUTHORIZATION);
    assert_eq!(UserAuthorizationRequest::from_message(&req).unwrap(), uar);

    let uaa = UserAuthorizationAnswer {
        server_name: None,
        server_capabilities: Some(ServerCapabilities {
            mandatory: vec![1, 7],
            optional: vec![3],
            server_names: vec![
                "sip:scscf1.example.net".into(),
                "sip:scscf2.example.net".into(),
            ],
        }),
        ..UserAuthorizationAnswer::new(hss(), CxResult::cx(ResultCode::CX_FIRST_REGISTRATION))
    };
    let ans = wire(&uaa.to_message(&req));
    check_answer(&req, &ans);
    assert!(ans.avp(code::RESULT_CODE).is_none());
    let back = UserAuthorizationAnswer::from_message(&ans).unwrap();
    assert_eq!(back, uaa);
    assert!(back.result.is_success());
    assert!(back.result.is_cx(ResultCode::CX_FIRST_REGISTRATION));

    let uaa = UserAuthorizationAnswer {
        server_name: Some("sip:scscf1.example.net:5054".into()),
        ..UserAuthorizationAnswer::new(hss(), CxResult::cx(ResultCode::CX_SUBSEQUENT_REGISTRATION))
    };
    let ans = wire(&uaa.to_message(&req));
    assert_eq!(UserAuthorizationAnswer::from_message(&ans).unwrap(), uaa);
    // Minimal UAR: no optional AVPs.
    let min = UserAuthorizationRequest {
        authorization_type: None,
        uar_flags: None,
        ..uar
    };
    let req = sent(min.to_message(), 12);
    assert_eq!(UserAuthorizationRequest::from_message(&req).unwrap(), min);
}

#[test]
fn sar_saa_round_trip() {
    let sar = ServerAssignmentRequest {
        routing: scscf(),
        user_name: Some("alice@example.net".into()),
        public_identities: vec!["sip:alice@example.net".into()],
        server_name: "sip:scscf.example.net:5054".into(),
        assignment_type: ServerAssignmentType::REGISTRATION,
        user_data_already_available: false,
    };
    let req = sent(sar.to_message(), 21);
    assert_eq!(ServerAssignmentRequest::from_message(&req).unwrap(), sar);
    let saa = ServerAssignmentAnswer {
        user_name: Some("alice@example.net".into()),
        user_data: Some(XML.into()),
        charging_information: Some(charging()),
        associated_identities: vec!["alice@example.net".into(), "alice2@example.net".into()],
        ..ServerAssignmentAnswer::new(hss(), CxResult::SUCCESS)
    };
    let ans = wire(&saa.to_message(&req));
    check_answer(&req, &ans);
    assert_eq!(ans.result_code().unwrap(), Some(ResultCode::SUCCESS));
    let back = ServerAssignmentAnswer::from_message(&ans).unwrap();
    assert_eq!(back, saa);
    assert_eq!(
        back.charging_information.as_ref().unwrap().ccfs(),
        vec![
            "aaa://ccf1.example.net".to_owned(),
            "aaa://ccf2.example.net;transport=tcp".to_owned()
        ]
    );
    assert_eq!(
        back.charging_information.as_ref().unwrap().ecfs(),
        vec!["aaa://ecf1.example.net:3868".to_owned()]
    );
    let c = back.charging_information.unwrap();
    assert_eq!(ChargingInformation::from_lists(&c.ccfs(), &c.ecfs()), c);
    // The HSS's later RTR/PPR go back to the SAR's sender.
    let back_to = CxRouting::reply_to(&req, &hss(), "hss.example.net;2;3").unwrap();
    assert_eq!(
        back_to.destination_host.as_deref(),
        Some("scscf.example.net")
    );
    assert_eq!(back_to.destination_realm, "example.net");
    assert_eq!(back_to.origin_host, "hss.example.net");
    // An unknown user: Experimental-Result 5001, nothing else.
    let unknown =
        ServerAssignmentAnswer::new(hss(), CxResult::cx(ResultCode::CX_ERROR_USER_UNKNOWN));
    let ans = wire(&unknown.to_message(&req));
    let back = ServerAssignmentAnswer::from_message(&ans).unwrap();
    assert_eq!(back, unknown);
    assert!(!back.result.is_success());
    assert_eq!(back.result.vendor_code(), (10415, 5001));
}

#[test]
fn lir_lia_round_trip() {
    let lir = LocationInfoRequest {
        routing: scscf(),
        public_identity: "sip:bob@example.net".into(),
        originating: true,
        authorization_type: Some(UserAuthorizationType::REGISTRATION_AND_CAPABILITIES),
    };
    let req = sent(lir.to_message(), 31);
    assert_eq!(
        req.avp(code::ORIGINATING_REQUEST)
            .unwrap()
            .as_u32()
            .unwrap(),
        0
    );
    assert_eq!(LocationInfoRequest::from_message(&req).unwrap(), lir);
    let plain = LocationInfoRequest {
        originating: false,
        authorization_type: None,
        ..lir
    };
    let req2 = sent(plain.to_message(), 32);
    assert!(req2.avp(code::ORIGINATING_REQUEST).is_none());
    assert_eq!(LocationInfoRequest::from_message(&req2).unwrap(), plain);

    let lia = LocationInfoAnswer {
        server_name: Some("sip:scscf.example.net".into()),
        wildcarded_impu: Some("sip:!.*!@example.net".into()),
        wildcarded_psi: Some("sip:chatroom-!.*!@example.net".into()),
        ..LocationInfoAnswer::new(hss(), CxResult::SUCCESS)
    };
    let ans = wire(&lia.to_message(&req));
    check_answer(&req, &ans);
    assert_eq!(LocationInfoAnswer::from_message(&ans).unwrap(), lia);
    let lia = LocationInfoAnswer {
        server_capabilities: Some(ServerCapabilities::default()),
        ..LocationInfoAnswer::new(hss(), CxResult::cx(ResultCode::CX_UNREGISTERED_SERVICE))
    };
    let ans = wire(&lia.to_message(&req));
    assert_eq!(LocationInfoAnswer::from_message(&ans).unwrap(), lia);
}

#[test]
fn mar_maa_round_trip() {
    let mar = MultimediaAuthRequest {
        routing: scscf(),
        user_name: "alice@example.net".into(),
        public_identity: "sip:alice@example.net".into(),
        server_name: "sip:scscf.example.net".into(),
        number_auth_items: 1,
        scheme: scheme::DIGEST.into(),
        authorization: None,
    };
    let req = sent(mar.to_message(), 41);
    assert_eq!(MultimediaAuthRequest::from_message(&req).unwrap(), mar);
    let maa = MultimediaAuthAnswer {
        user_name: Some("alice@example.net".into()),
        public_identity: Some("sip:alice@example.net".into()),
        number_auth_items: Some(2),
        items: vec![digest_item(), aka_item()],
        ..MultimediaAuthAnswer::new(hss(), CxResult::SUCCESS)
    };
    let ans = wire(&maa.to_message(&req));
    check_answer(&req, &ans);
    let back = MultimediaAuthAnswer::from_message(&ans).unwrap();
    assert_eq!(back, maa);
    assert_eq!(back.items[1].rand_autn(), Some(([0x23; 16], [0x55; 16])));
    assert_eq!(back.items[0].rand_autn(), None);
    assert_eq!(back.items[0].digest.as_ref().unwrap().qop, "auth");
}

#[test]
fn rtr_rta_round_trip() {
    let rtr = RegistrationTerminationRequest {
        routing: hss_to_scscf(),
        user_name: "alice@example.net".into(),
        associated_identities: vec!["alice-tablet@example.net".into()],
        public_identities: vec!["sip:alice@example.net".into(), "tel:+15551234".into()],
        reason: DeregistrationReason {
            code: ReasonCode::PERMANENT_TERMINATION,
            info: Some("subscription ended".into()),
        },
    };
    let req = sent(rtr.to_message(), 51);
    let back = RegistrationTerminationRequest::from_message(&req).unwrap();
    assert_eq!(back, rtr);
    assert_eq!(
        back.private_identities(),
        vec![
            "alice@example.net".to_owned(),
            "alice-tablet@example.net".to_owned()
        ]
    );
    let rta = RegistrationTerminationAnswer {
        associated_identities: vec!["alice-tablet@example.net".into()],
        ..RegistrationTerminationAnswer::new(scscf_origin(), CxResult::SUCCESS)
    };
    let ans = wire(&rta.to_message(&req));
    check_answer(&req, &ans);
    assert_eq!(
        RegistrationTerminationAnswer::from_message(&ans).unwrap(),
        rta
    );
    // No optional AVPs.
    let min = RegistrationTerminationRequest {
        associated_identities: vec![],
        public_identities: vec![],
        reason: DeregistrationReason {
            code: ReasonCode::SERVER_CHANGE,
            info: None,
        },
        ..rtr
    };
    let req = sent(min.to_message(), 52);
    assert_eq!(
        RegistrationTerminationRequest::from_message(&req).unwrap(),
        min
    );
}

#[test]
fn ppr_ppa_round_trip() {
    let ppr = PushProfileRequest {
        routing: hss_to_scscf(),
        user_name: "alice@example.net".into(),
        user_data: Some(XML.into()),
        charging_information: Some(charging()),
        auth_data_item: Some(digest_item()),
    };
    let req = sent(ppr.to_message(), 61);
    assert_eq!(PushProfileRequest::from_message(&req).unwrap(), ppr);
    let ppa = PushProfileAnswer::new(scscf_origin(), CxResult::SUCCESS);
    let ans = wire(&ppa.to_message(&req));
    check_answer(&req, &ans);
    assert_eq!(PushProfileAnswer::from_message(&ans).unwrap(), ppa);
    // The S-CSCF does not know the user.
    let ppa = PushProfileAnswer::new(
        scscf_origin(),
        CxResult::cx(ResultCode::CX_ERROR_USER_UNKNOWN),
    );
    let ans = wire(&ppa.to_message(&req));
    assert_eq!(PushProfileAnswer::from_message(&ans).unwrap(), ppa);
}

#[test]
fn answers_copy_proxy_info_and_set_e_for_protocol_errors() {
    let mut req = ServerAssignmentRequest {
        routing: scscf(),
        user_name: None,
        public_identities: vec!["sip:bob@example.net".into()],
        server_name: "sip:scscf.example.net".into(),
        assignment_type: ServerAssignmentType::UNREGISTERED_USER,
        user_data_already_available: false,
    }
    .to_message();
    let pi = |h: &str, s: &[u8]| {
        Avp::grouped(
            code::PROXY_INFO,
            [
                Avp::utf8(code::PROXY_HOST, h),
                Avp::octets(code::PROXY_STATE, s),
            ],
        )
    };
    req.push(pi("dra1.example.net", b"one"));
    req.push(pi("dra2.example.net", b"two"));
    let req = sent(req, 71);
    let ans = wire(&ServerAssignmentAnswer::new(hss(), CxResult::SUCCESS).to_message(&req));
    let copied: Vec<&Avp> = ans.avps_with(code::PROXY_INFO).collect();
    let orig: Vec<&Avp> = req.avps_with(code::PROXY_INFO).collect();
    assert_eq!(copied, orig);
    assert!(!ans.flags.is_error());
    let busy = ServerAssignmentAnswer::new(hss(), CxResult::Base(ResultCode::TOO_BUSY));
    let ans = wire(&busy.to_message(&req));
    assert!(ans.flags.is_error(), "3xxx answers set E");
    assert_eq!(ServerAssignmentAnswer::from_message(&ans).unwrap(), busy);
}

#[test]
fn cx_result_mapping() {
    assert_eq!(CxResult::from_vendor_code(0, 2001), CxResult::SUCCESS);
    assert_eq!(
        CxResult::from_vendor_code(10415, 5001),
        CxResult::cx(ResultCode::CX_ERROR_USER_UNKNOWN)
    );
    assert_eq!(CxResult::cx(ResultCode(5003)).vendor_code(), (10415, 5003));
    assert!(CxResult::cx(ResultCode::CX_FIRST_REGISTRATION).is_success());
    assert!(!CxResult::cx(ResultCode::CX_FIRST_REGISTRATION).is_cx(ResultCode(2002)));
    assert!(!CxResult::Base(ResultCode::UNABLE_TO_COMPLY).is_success());
    assert!(CxResult::Base(ResultCode::UNABLE_TO_DELIVER).is_protocol_error());
    assert!(!CxResult::cx(ResultCode(3001)).is_protocol_error());
    assert_eq!(CxResult::from(ResultCode::SUCCESS), CxResult::SUCCESS);
    assert_eq!(
        CxResult::cx(ResultCode(5001)).to_string(),
        "Experimental-Result 5001 (vendor 10415)"
    );
    // Read and written through a message.
    let mut m = Message::request(CommandCode::DEVICE_WATCHDOG, ApplicationId::COMMON).answer();
    assert_eq!(
        err_code(CxResult::from_message(&m)),
        (ResultCode::MISSING_AVP, Some(code::RESULT_CODE))
    );
    CxResult::cx(ResultCode(5002)).write(&mut m);
    assert_eq!(
        CxResult::from_message(&m).unwrap(),
        CxResult::cx(ResultCode(5002))
    );
}

/// Builds an AVP's bytes field by field, as RFC 6733 §4.1 lays them out.
fn raw(code: u32, flags: u8, vendor: Option<u32>, data: &[u8]) -> Vec<u8> {
    let header = if vendor.is_some() { 12 } else { 8 };
    let len = header + data.len();
    let mut v = code.to_be_bytes().to_vec();
    v.push(flags);
    v.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
    if let Some(id) = vendor {
        v.extend_from_slice(&id.to_be_bytes());
    }
    v.extend_from_slice(data);
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
    v
}

const VM: u8 = 0xc0;
const V: u8 = 0x80;
const M: u8 = 0x40;
const TGPP: Option<u32> = Some(10415);

fn header(flags: u8, cmd: u32, body_len: usize, hop: u32, e2e: u32) -> Vec<u8> {
    let mut v = vec![1];
    v.extend_from_slice(&((20 + body_len) as u32).to_be_bytes()[1..]);
    v.push(flags);
    v.extend_from_slice(&cmd.to_be_bytes()[1..]);
    v.extend_from_slice(&16_777_216u32.to_be_bytes());
    v.extend_from_slice(&hop.to_be_bytes());
    v.extend_from_slice(&e2e.to_be_bytes());
    v
}

fn vsai() -> Vec<u8> {
    let mut kids = raw(266, M, None, &10415u32.to_be_bytes());
    kids.extend(raw(258, M, None, &16_777_216u32.to_be_bytes()));
    raw(260, M, None, &kids)
}

#[test]
fn maa_bytes_match_a_hand_built_layout() {
    let mut req = MultimediaAuthRequest {
        routing: CxRouting {
            session_id: "s;1".into(),
            ..scscf()
        },
        user_name: "alice@example.net".into(),
        public_identity: "sip:alice@example.net".into(),
        server_name: "sip:scscf.example.net".into(),
        number_auth_items: 1,
        scheme: scheme::UNKNOWN.into(),
        authorization: None,
    }
    .to_message();
    req.hop_by_hop = 0x0102_0304;
    req.end_to_end = 0x0a0b_0c0d;
    let maa = MultimediaAuthAnswer {
        user_name: Some("alice@example.net".into()),
        public_identity: None,
        number_auth_items: Some(1),
        items: vec![
            SipAuthDataItem {
                item_number: Some(1),
                ..digest_item()
            },
            SipAuthDataItem::aka([1; 16], [2; 16], &[3; 8], [4; 16], [5; 16]),
        ],
        ..MultimediaAuthAnswer::new(hss(), CxResult::SUCCESS)
    };
    let got = maa.to_message(&req).encode();

    let mut body = raw(263, M, None, b"s;1");
    body.extend(vsai());
    body.extend(raw(268, M, None, &2001u32.to_be_bytes()));
    body.extend(raw(277, M, None, &1u32.to_be_bytes()));
    body.extend(raw(264, M, None, b"hss.example.net"));
    body.extend(raw(296, M, None, b"example.net"));
    body.extend(raw(1, M, None, b"alice@example.net"));
    body.extend(raw(607, VM, TGPP, &1u32.to_be_bytes()));
    // The digest item: SIP-Digest-Authenticate has V and no M (TS 29.229
    // table 6.3.1); the RFC 5090 digest AVPs inside are IETF, M set.
    let mut digest = raw(104, M, None, b"example.net");
    digest.extend(raw(111, M, None, b"MD5"));
    digest.extend(raw(110, M, None, b"auth"));
    digest.extend(raw(121, M, None, b"0123456789abcdef0123456789abcdef"));
    let mut item = raw(613, VM, TGPP, &1u32.to_be_bytes());
    item.extend(raw(608, VM, TGPP, b"SIP Digest"));
    item.extend(raw(635, V, TGPP, &digest));
    body.extend(raw(612, VM, TGPP, &item));
    // The AKA item: RAND ‖ AUTN, XRES, CK, IK.
    let mut item = raw(613, VM, TGPP, &1u32.to_be_bytes());
    item.extend(raw(608, VM, TGPP, b"Digest-AKAv1-MD5"));
    let mut ra = vec![1; 16];
    ra.extend([2; 16]);
    item.extend(raw(609, VM, TGPP, &ra));
    item.extend(raw(610, VM, TGPP, &[3; 8]));
    item.extend(raw(625, VM, TGPP, &[4; 16]));
    item.extend(raw(626, VM, TGPP, &[5; 16]));
    body.extend(raw(612, VM, TGPP, &item));
    let mut want = header(0x40, 303, body.len(), 0x0102_0304, 0x0a0b_0c0d);
    want.extend(&body);
    assert_eq!(&got[..], &want[..]);

    // Spot checks written out in full: "SIP Digest" (10 octets) is padded
    // with 2 zeros; vendor 10415 is 0x000028af.
    let scheme_avp = [
        0, 0, 0x02, 0x60, 0xc0, 0, 0, 22, 0, 0, 0x28, 0xaf, b'S', b'I', b'P', b' ', b'D', b'i',
        b'g', b'e', b's', b't', 0, 0,
    ];
    assert!(got.windows(scheme_avp.len()).any(|w| w == scheme_avp));
    assert_eq!(
        &raw(635, V, TGPP, b"")[..12],
        &[0, 0, 0x02, 0x7b, 0x80, 0, 0, 12, 0, 0, 0x28, 0xaf]
    );
    // And it reads back.
    let back = MultimediaAuthAnswer::from_message(&Message::decode(got).unwrap()).unwrap();
    assert_eq!(
        back.items[0].digest.as_ref().unwrap().algorithm.as_deref(),
        Some("MD5")
    );
    assert_eq!(back, maa);
}

#[test]
fn rtr_bytes_match_a_hand_built_layout() {
    let rtr = RegistrationTerminationRequest {
        routing: CxRouting {
            session_id: "hss;5".into(),
            ..hss_to_scscf()
        },
        user_name: "alice@example.net".into(),
        associated_identities: vec!["bob@example.net".into()],
        public_identities: vec!["sip:alice@example.net".into()],
        reason: DeregistrationReason {
            code: ReasonCode::NEW_SERVER_ASSIGNED,
            info: Some("moved".into()),
        },
    };
    let mut m = rtr.to_message();
    m.hop_by_hop = 7;
    m.end_to_end = 8;
    let got = m.encode();
    let mut body = raw(263, M, None, b"hss;5");
    body.extend(vsai());
    body.extend(raw(277, M, None, &1u32.to_be_bytes()));
    body.extend(raw(264, M, None, b"hss.example.net"));
    body.extend(raw(296, M, None, b"example.net"));
    body.extend(raw(293, M, None, b"scscf.example.net"));
    body.extend(raw(283, M, None, b"example.net"));
    body.extend(raw(1, M, None, b"alice@example.net"));
    // Associated-Identities: V, no M.
    body.extend(raw(632, V, TGPP, &raw(1, M, None, b"bob@example.net")));
    body.extend(raw(601, VM, TGPP, b"sip:alice@example.net"));
    let mut reason = raw(616, VM, TGPP, &1u32.to_be_bytes());
    reason.extend(raw(617, VM, TGPP, b"moved"));
    body.extend(raw(615, VM, TGPP, &reason));
    let mut want = header(0xc0, 304, body.len(), 7, 8);
    want.extend(&body);
    assert_eq!(&got[..], &want[..]);
    // Deregistration-Reason's header in full: code 615, V+M, vendor
    // 10415, length 12 + 16 (Reason-Code) + 20 (Reason-Info, padded inside
    // the group).
    let dr: [u8; 12] = [0, 0, 0x02, 0x67, 0xc0, 0, 0, 48, 0, 0, 0x28, 0xaf];
    assert!(got.windows(12).any(|w| w == dr));
    // Reason-Info "moved": 17 octets, 3 of padding.
    let ri = [
        0, 0, 0x02, 0x69, 0xc0, 0, 0, 17, 0, 0, 0x28, 0xaf, b'm', b'o', b'v', b'e', b'd', 0, 0, 0,
    ];
    assert!(got.windows(ri.len()).any(|w| w == ri));
    assert_eq!(
        RegistrationTerminationRequest::from_message(&Message::decode(got).unwrap()).unwrap(),
        rtr
    );
}

fn rtr_message() -> Message {
    RegistrationTerminationRequest {
        routing: hss_to_scscf(),
        user_name: "alice@example.net".into(),
        associated_identities: vec![],
        public_identities: vec![],
        reason: DeregistrationReason {
            code: ReasonCode::PERMANENT_TERMINATION,
            info: None,
        },
    }
    .to_message()
}

#[test]
fn missing_and_invalid_avps_map_to_result_codes() {
    // RTR and PPR need Destination-Host.
    let mut m = rtr_message();
    m.avps.retain(|a| a.code != code::DESTINATION_HOST);
    assert_eq!(
        err_code(RegistrationTerminationRequest::from_message(&m)),
        (ResultCode::MISSING_AVP, Some(code::DESTINATION_HOST))
    );
    let mut m = PushProfileRequest {
        routing: hss_to_scscf(),
        user_name: "alice@example.net".into(),
        user_data: None,
        charging_information: None,
        auth_data_item: None,
    }
    .to_message();
    m.avps.retain(|a| a.code != code::DESTINATION_HOST);
    assert_eq!(
        err_code(PushProfileRequest::from_message(&m)),
        (ResultCode::MISSING_AVP, Some(code::DESTINATION_HOST))
    );
    // RTR without Deregistration-Reason; one without its Reason-Code: the
    // Failed-AVP is the Grouped AVP holding the missing child.
    let mut m = rtr_message();
    m.avps.retain(|a| a.code != code::DEREGISTRATION_REASON);
    assert_eq!(
        err_code(RegistrationTerminationRequest::from_message(&m)),
        (ResultCode::MISSING_AVP, Some(code::DEREGISTRATION_REASON))
    );
    let mut m = rtr_message();
    for a in &mut m.avps {
        if a.code == code::DEREGISTRATION_REASON {
            *a = Avp::grouped(
                code::DEREGISTRATION_REASON,
                [Avp::utf8(code::REASON_INFO, "why")],
            );
        }
    }
    let (rc, failed) = err(RegistrationTerminationRequest::from_message(&m));
    assert_eq!(rc, ResultCode::MISSING_AVP);
    let failed = failed.unwrap();
    assert_eq!(failed.code, code::DEREGISTRATION_REASON);
    assert_eq!(failed.children().unwrap()[0].code, code::REASON_CODE);
    // The error answer carries it and is itself a readable RTA.
    let e = m.validate().unwrap_err();
    let ans = m.error_answer(&e, "scscf.example.net", "example.net");
    let back = Message::decode(ans.encode()).unwrap();
    let rta = RegistrationTerminationAnswer::from_message(&back).unwrap();
    assert_eq!(rta.result, CxResult::Base(ResultCode::MISSING_AVP));
    let f = back.avp(code::FAILED_AVP).unwrap().children().unwrap();
    assert_eq!(f[0].code, code::DEREGISTRATION_REASON);

    // Repeated single AVPs: 5009, naming the second.
    let mut m = MultimediaAuthRequest {
        routing: scscf(),
        user_name: "alice@example.net".into(),
        public_identity: "sip:alice@example.net".into(),
        server_name: "sip:scscf.example.net".into(),
        number_auth_items: 1,
        scheme: scheme::AKA.into(),
        authorization: None,
    }
    .to_message();
    m.push(Avp::utf8(code::PUBLIC_IDENTITY, "sip:other@example.net"));
    let (rc, failed) = err(MultimediaAuthRequest::from_message(&m));
    assert_eq!(rc, ResultCode::AVP_OCCURS_TOO_MANY_TIMES);
    assert_eq!(failed.unwrap().as_str().unwrap(), "sip:other@example.net");
    let mut m = rtr_message();
    m.push(
        DeregistrationReason {
            code: ReasonCode::SERVER_CHANGE,
            info: None,
        }
        .to_avp(),
    );
    assert_eq!(
        err_code(RegistrationTerminationRequest::from_message(&m)),
        (
            ResultCode::AVP_OCCURS_TOO_MANY_TIMES,
            Some(code::DEREGISTRATION_REASON)
        )
    );
    // ... but several Public-Identity AVPs are fine in an RTR and a SAR.
    let mut m = rtr_message();
    m.push(Avp::utf8(code::PUBLIC_IDENTITY, "sip:a@example.net"));
    m.push(Avp::utf8(code::PUBLIC_IDENTITY, "sip:b@example.net"));
    assert_eq!(
        RegistrationTerminationRequest::from_message(&m)
            .unwrap()
            .public_identities
            .len(),
        2
    );

    // UAR without Visited-Network-Identifier; LIR without Public-Identity.
    let uar = UserAuthorizationRequest {
        routing: scscf(),
        user_name: "alice@example.net".into(),
        public_identity: "sip:alice@example.net".into(),
        visited_network: Bytes::from_static(b"example.net"),
        authorization_type: None,
        uar_flags: None,
    };
    let mut m = uar.to_message();
    m.avps
        .retain(|a| a.code != code::VISITED_NETWORK_IDENTIFIER);
    assert_eq!(
        err_code(UserAuthorizationRequest::from_message(&m)),
        (
            ResultCode::MISSING_AVP,
            Some(code::VISITED_NETWORK_IDENTIFIER)
        )
    );
    let mut m = uar.to_message();
    m.push(Avp::u32(code::UAR_FLAGS, 0));
    m.push(Avp::u32(code::UAR_FLAGS, 1));
    assert_eq!(
        err_code(UserAuthorizationRequest::from_message(&m)),
        (ResultCode::AVP_OCCURS_TOO_MANY_TIMES, Some(code::UAR_FLAGS))
    );
    let lir = LocationInfoRequest {
        routing: scscf(),
        public_identity: "sip:bob@example.net".into(),
        originating: false,
        authorization_type: None,
    };
    let mut m = lir.to_message();
    m.avps.retain(|a| a.code != code::PUBLIC_IDENTITY);
    assert_eq!(
        err_code(LocationInfoRequest::from_message(&m)),
        (ResultCode::MISSING_AVP, Some(code::PUBLIC_IDENTITY))
    );
    // Invalid values: 5004 / 5014.
    let mut m = lir.to_message();
    m.push(Avp::u32(code::ORIGINATING_REQUEST, 3));
    assert_eq!(
        err_code(LocationInfoRequest::from_message(&m)),
        (
            ResultCode::INVALID_AVP_VALUE,
            Some(code::ORIGINATING_REQUEST)
        )
    );
    let mut m = lir.to_message();
    m.push(Avp::octets(code::USER_AUTHORIZATION_TYPE, &[0, 1]));
    assert_eq!(
        err_code(LocationInfoRequest::from_message(&m)),
        (
            ResultCode::INVALID_AVP_LENGTH,
            Some(code::USER_AUTHORIZATION_TYPE)
        )
    );
    let mut m = ServerAssignmentRequest {
        routing: scscf(),
        user_name: None,
        public_identities: vec![],
        server_name: "sip:scscf.example.net".into(),
        assignment_type: ServerAssignmentType::NO_ASSIGNMENT,
        user_data_already_available: true,
    }
    .to_message();
    for a in &mut m.avps {
        if a.code == code::USER_DATA_ALREADY_AVAILABLE {
            *a = Avp::u32(code::USER_DATA_ALREADY_AVAILABLE, 2);
        }
    }
    assert_eq!(
        err_code(ServerAssignmentRequest::from_message(&m)),
        (
            ResultCode::INVALID_AVP_VALUE,
            Some(code::USER_DATA_ALREADY_AVAILABLE)
        )
    );
}

#[test]
fn answers_with_bad_content_are_refused() {
    let req = MultimediaAuthRequest {
        routing: scscf(),
        user_name: "alice@example.net".into(),
        public_identity: "sip:alice@example.net".into(),
        server_name: "sip:scscf.example.net".into(),
        number_auth_items: 1,
        scheme: scheme::DIGEST.into(),
        authorization: None,
    }
    .to_message();
    let good = MultimediaAuthAnswer {
        items: vec![digest_item()],
        ..MultimediaAuthAnswer::new(hss(), CxResult::SUCCESS)
    }
    .to_message(&req);
    // SIP-Digest-Authenticate without Digest-HA1.
    let mut m = good.clone();
    for a in &mut m.avps {
        if a.code == code::SIP_AUTH_DATA_ITEM {
            *a = Avp::grouped(
                code::SIP_AUTH_DATA_ITEM,
                [Avp::grouped(
                    code::SIP_DIGEST_AUTHENTICATE,
                    [
                        Avp::utf8(code::DIGEST_REALM, "example.net"),
                        Avp::utf8(code::DIGEST_QOP, "auth"),
                    ],
                )],
            );
        }
    }
    let (rc, failed) = err(MultimediaAuthAnswer::from_message(&m));
    assert_eq!(rc, ResultCode::MISSING_AVP);
    let failed = failed.unwrap();
    assert_eq!(failed.code, code::SIP_DIGEST_AUTHENTICATE);
    assert_eq!(failed.children().unwrap()[0].code, code::DIGEST_HA1);
    // No result at all.
    let mut m = good.clone();
    m.avps.retain(|a| a.code != code::RESULT_CODE);
    assert_eq!(
        err_code(MultimediaAuthAnswer::from_message(&m)),
        (ResultCode::MISSING_AVP, Some(code::RESULT_CODE))
    );
    // Experimental-Result without Vendor-Id.
    let mut m = good.clone();
    m.avps.retain(|a| a.code != code::RESULT_CODE);
    m.push(Avp::grouped(
        code::EXPERIMENTAL_RESULT,
        [Avp::u32(code::EXPERIMENTAL_RESULT_CODE, 5001)],
    ));
    let (rc, failed) = err(MultimediaAuthAnswer::from_message(&m));
    assert_eq!(rc, ResultCode::MISSING_AVP);
    assert_eq!(failed.unwrap().children().unwrap()[0].code, code::VENDOR_ID);
    // Missing Origin-Host; Session-Id.
    for c in [
        code::ORIGIN_HOST,
        code::SESSION_ID,
        code::AUTH_SESSION_STATE,
    ] {
        let mut m = good.clone();
        m.avps.retain(|a| a.code != c);
        assert_eq!(
            err_code(MultimediaAuthAnswer::from_message(&m)),
            (ResultCode::MISSING_AVP, Some(c))
        );
    }
    // Two Charging-Information in an SAA; User-Data not UTF-8.
    let sar = ServerAssignmentRequest {
        routing: scscf(),
        user_name: None,
        public_identities: vec![],
        server_name: "sip:scscf.example.net".into(),
        assignment_type: ServerAssignmentType::REGISTRATION,
        user_data_already_available: false,
    }
    .to_message();
    let saa = ServerAssignmentAnswer {
        charging_information: Some(charging()),
        ..ServerAssignmentAnswer::new(hss(), CxResult::SUCCESS)
    };
    let mut m = saa.to_message(&sar);
    m.push(charging().to_avp());
    assert_eq!(
        err_code(ServerAssignmentAnswer::from_message(&m)),
        (
            ResultCode::AVP_OCCURS_TOO_MANY_TIMES,
            Some(code::CHARGING_INFORMATION)
        )
    );
    // A charging function name that is no DiameterURI (a NUL, a space):
    // 5004 naming the Grouped AVP, from the typed reader and from the
    // generic checks alike.
    for bad in ["aaa://ccf\0.example.net", "aaa://ccf .example.net", ""] {
        let mut m = saa.to_message(&sar);
        m.avps.retain(|a| a.code != code::CHARGING_INFORMATION);
        m.push(Avp::grouped(
            code::CHARGING_INFORMATION,
            [Avp::utf8(
                code::PRIMARY_CHARGING_COLLECTION_FUNCTION_NAME,
                bad,
            )],
        ));
        let (rc, failed) = err(ServerAssignmentAnswer::from_message(&m));
        assert_eq!(rc, ResultCode::INVALID_AVP_VALUE, "{bad:?}");
        let failed = failed.unwrap();
        assert_eq!(failed.code, code::PRIMARY_CHARGING_COLLECTION_FUNCTION_NAME);
        let (rc, failed) = err(m.validate());
        assert_eq!(rc, ResultCode::INVALID_AVP_VALUE, "{bad:?}");
        assert_eq!(
            failed.unwrap().code,
            code::PRIMARY_CHARGING_COLLECTION_FUNCTION_NAME
        );
    }
    let mut m = saa.to_message(&sar);
    m.push(Avp::octets(code::USER_DATA, &[0x3c, 0xff, 0x3e]));
    assert_eq!(
        err_code(ServerAssignmentAnswer::from_message(&m)),
        (ResultCode::INVALID_AVP_VALUE, Some(code::USER_DATA))
    );
    // A request where an answer is expected, and the wrong command.
    assert_eq!(
        err_code(MultimediaAuthAnswer::from_message(&req)).0,
        ResultCode::COMMAND_UNSUPPORTED
    );
    assert_eq!(
        err_code(ServerAssignmentAnswer::from_message(&good)).0,
        ResultCode::COMMAND_UNSUPPORTED
    );
    assert_eq!(
        err_code(PushProfileRequest::from_message(&req)).0,
        ResultCode::COMMAND_UNSUPPORTED
    );
}

#[test]
fn requests_that_fail_get_error_answers() {
    // A UAR missing User-Name: the HSS answers 5005 with Failed-AVP, and
    // the I-CSCF reads the UAA's result.
    let mut m = UserAuthorizationRequest {
        routing: scscf(),
        user_name: "alice@example.net".into(),
        public_identity: "sip:alice@example.net".into(),
        visited_network: Bytes::from_static(b"example.net"),
        authorization_type: None,
        uar_flags: None,
    }
    .to_message();
    m.avps.retain(|a| a.code != code::USER_NAME);
    m.hop_by_hop = 99;
    let e = UserAuthorizationRequest::from_message(&m).unwrap_err();
    let ans = m.error_answer(&e, "hss.example.net", "example.net");
    let ans = wire(&ans);
    assert_eq!(ans.hop_by_hop, 99);
    let uaa = UserAuthorizationAnswer::from_message(&ans).unwrap();
    assert_eq!(uaa.result, CxResult::Base(ResultCode::MISSING_AVP));
    assert_eq!(uaa.origin, hss());
    assert_eq!(
        ans.avp(code::FAILED_AVP).unwrap().children().unwrap()[0].code,
        code::USER_NAME
    );
    // A protocol error answer (E bit) reads back too.
    let e = DiameterError::new(ResultCode::UNABLE_TO_DELIVER, "no route");
    let ans = wire(&m.error_answer(&e, "dra.example.net", "example.net"));
    assert!(ans.flags.is_error());
    let uaa = UserAuthorizationAnswer::from_message(&ans).unwrap();
    assert!(uaa.result.is_protocol_error());
    assert_eq!(uaa.server_name, None);
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9:@.;=_+-]{1,40}"
}

fn item() -> impl Strategy<Value = SipAuthDataItem> {
    let bytes = || {
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from))
    };
    let digest = proptest::option::of(
        (
            text(),
            "(auth|auth-int|)",
            "[0-9a-f]{32}",
            proptest::option::of(text()),
        )
            .prop_map(|(realm, qop, ha1, algorithm)| SipDigestAuthenticate {
                realm,
                qop,
                ha1,
                algorithm,
            }),
    );
    (
        proptest::option::of(any::<u32>()),
        proptest::option::of(prop_oneof![
            Just(scheme::AKA.to_owned()),
            Just(scheme::DIGEST.to_owned()),
            text()
        ]),
        bytes(),
        bytes(),
        bytes(),
        bytes(),
        digest,
    )
        .prop_map(
            |(item_number, scheme, authenticate, authorization, ck, ik, digest)| SipAuthDataItem {
                item_number,
                scheme,
                authenticate,
                authorization,
                confidentiality_key: ck,
                integrity_key: ik,
                digest,
            },
        )
}

fn result() -> impl Strategy<Value = CxResult> {
    prop_oneof![
        (1000u32..6000).prop_map(|c| CxResult::Base(ResultCode(c))),
        (any::<u32>(), 1000u32..6000).prop_map(|(v, c)| CxResult::from_vendor_code(v, c)),
    ]
}

fn names() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(text(), 0..4)
}

/// One valid message of every typed command and answer.
fn corpus() -> Vec<Message> {
    let mar = MultimediaAuthRequest {
        routing: scscf(),
        user_name: "alice@example.net".into(),
        public_identity: "sip:alice@example.net".into(),
        server_name: "sip:scscf.example.net".into(),
        number_auth_items: 1,
        scheme: scheme::AKA.into(),
        authorization: Some(Bytes::from_static(&[9; 30])),
    }
    .to_message();
    let maa = MultimediaAuthAnswer {
        items: vec![digest_item(), aka_item()],
        ..MultimediaAuthAnswer::new(hss(), CxResult::SUCCESS)
    }
    .to_message(&mar);
    let sar = ServerAssignmentRequest {
        routing: scscf(),
        user_name: Some("alice@example.net".into()),
        public_identities: vec!["sip:alice@example.net".into()],
        server_name: "sip:scscf.example.net".into(),
        assignment_type: ServerAssignmentType::REGISTRATION,
        user_data_already_available: false,
    }
    .to_message();
    let saa = ServerAssignmentAnswer {
        user_data: Some(XML.into()),
        charging_information: Some(charging()),
        associated_identities: vec!["a@example.net".into()],
        ..ServerAssignmentAnswer::new(hss(), CxResult::SUCCESS)
    }
    .to_message(&sar);
    let uar = UserAuthorizationRequest {
        routing: scscf(),
        user_name: "alice@example.net".into(),
        public_identity: "sip:alice@example.net".into(),
        visited_network: Bytes::from_static(b"example.net"),
        authorization_type: Some(UserAuthorizationType::REGISTRATION),
        uar_flags: Some(1),
    }
    .to_message();
    let uaa = UserAuthorizationAnswer {
        server_capabilities: Some(ServerCapabilities {
            mandatory: vec![1],
            optional: vec![2],
            server_names: vec!["sip:s.example.net".into()],
        }),
        ..UserAuthorizationAnswer::new(hss(), CxResult::cx(ResultCode::CX_FIRST_REGISTRATION))
    }
    .to_message(&uar);
    let lir = LocationInfoRequest {
        routing: scscf(),
        public_identity: "sip:bob@example.net".into(),
        originating: true,
        authorization_type: None,
    }
    .to_message();
    let lia = LocationInfoAnswer {
        server_name: Some("sip:scscf.example.net".into()),
        wildcarded_impu: Some("sip:!.*!@example.net".into()),
        ..LocationInfoAnswer::new(hss(), CxResult::SUCCESS)
    }
    .to_message(&lir);
    let rtr = RegistrationTerminationRequest {
        routing: hss_to_scscf(),
        user_name: "alice@example.net".into(),
        associated_identities: vec!["b@example.net".into()],
        public_identities: vec!["sip:alice@example.net".into()],
        reason: DeregistrationReason {
            code: ReasonCode::SERVER_CHANGE,
            info: Some("x".into()),
        },
    }
    .to_message();
    let rta =
        RegistrationTerminationAnswer::new(scscf_origin(), CxResult::SUCCESS).to_message(&rtr);
    let ppr = PushProfileRequest {
        routing: hss_to_scscf(),
        user_name: "alice@example.net".into(),
        user_data: Some(XML.into()),
        charging_information: Some(charging()),
        auth_data_item: Some(aka_item()),
    }
    .to_message();
    let ppa = PushProfileAnswer::new(scscf_origin(), CxResult::SUCCESS).to_message(&ppr);
    vec![mar, maa, sar, saa, uar, uaa, lir, lia, rtr, rta, ppr, ppa]
}

/// Runs every typed reader; a refused request still gets an error answer
/// that decodes.
fn read_all(m: &Message) {
    macro_rules! try_request {
        ($($t:ty),*) => {$(
            if let Err(e) = <$t>::from_message(m) {
                let a = m.error_answer(&e, "h.example.net", "example.net");
                assert!(Message::decode(a.encode()).is_ok());
            }
        )*};
    }
    try_request!(
        MultimediaAuthRequest,
        ServerAssignmentRequest,
        UserAuthorizationRequest,
        LocationInfoRequest,
        RegistrationTerminationRequest,
        PushProfileRequest
    );
    let _ = MultimediaAuthAnswer::from_message(m);
    let _ = ServerAssignmentAnswer::from_message(m);
    let _ = UserAuthorizationAnswer::from_message(m);
    let _ = LocationInfoAnswer::from_message(m);
    let _ = RegistrationTerminationAnswer::from_message(m);
    let _ = PushProfileAnswer::from_message(m);
    let _ = CxResult::from_message(m);
}

#[test]
fn every_reader_accepts_its_own_type_only() {
    let msgs = corpus();
    for m in &msgs {
        let m = wire(m);
        read_all(&m);
    }
    // Exactly one typed reader accepts each message.
    let accepted = |m: &Message| {
        [
            MultimediaAuthRequest::from_message(m).is_ok(),
            MultimediaAuthAnswer::from_message(m).is_ok(),
            ServerAssignmentRequest::from_message(m).is_ok(),
            ServerAssignmentAnswer::from_message(m).is_ok(),
            UserAuthorizationRequest::from_message(m).is_ok(),
            UserAuthorizationAnswer::from_message(m).is_ok(),
            LocationInfoRequest::from_message(m).is_ok(),
            LocationInfoAnswer::from_message(m).is_ok(),
            RegistrationTerminationRequest::from_message(m).is_ok(),
            RegistrationTerminationAnswer::from_message(m).is_ok(),
            PushProfileRequest::from_message(m).is_ok(),
            PushProfileAnswer::from_message(m).is_ok(),
        ]
    };
    for (i, m) in msgs.iter().enumerate() {
        let ok = accepted(m);
        assert!(ok[i], "message {i} refused by its reader");
        assert_eq!(ok.iter().filter(|x| **x).count(), 1, "message {i}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn mutated_cx_messages_never_panic_the_readers(
        which in 0usize..12,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = corpus()[which].encode().to_vec();
        for (i, x) in flips {
            let n = bytes.len();
            bytes[i % n] ^= x;
        }
        if let Ok(m) = Message::decode(Bytes::from(bytes)) {
            read_all(&m);
        }
    }

    #[test]
    fn maa_round_trips(
        result in result(),
        user_name in proptest::option::of(text()),
        public_identity in proptest::option::of(text()),
        number_auth_items in proptest::option::of(any::<u32>()),
        items in proptest::collection::vec(item(), 0..4),
        hop in any::<u32>(),
    ) {
        let mut req = MultimediaAuthRequest {
            routing: scscf(),
            user_name: "u@example.net".into(),
            public_identity: "sip:u@example.net".into(),
            server_name: "sip:scscf.example.net".into(),
            number_auth_items: 1,
            scheme: scheme::UNKNOWN.into(),
            authorization: None,
        }.to_message();
        req.hop_by_hop = hop;
        let maa = MultimediaAuthAnswer {
            origin: hss(),
            result,
            user_name,
            public_identity,
            number_auth_items,
            items,
        };
        let ans = Message::decode(maa.to_message(&req).encode()).unwrap();
        prop_assert_eq!(ans.hop_by_hop, hop);
        prop_assert_eq!(ans.flags.is_error(), result.is_protocol_error());
        prop_assert_eq!(MultimediaAuthAnswer::from_message(&ans).unwrap(), maa);
    }

    #[test]
    fn rtr_and_ppr_round_trip(
        user_name in text(),
        associated in names(),
        publics in names(),
        reason in any::<u32>(),
        info in proptest::option::of(text()),
        user_data in proptest::option::of(".{0,200}"),
        ccfs in names(),
        ecfs in names(),
        item in proptest::option::of(item()),
    ) {
        let rtr = RegistrationTerminationRequest {
            routing: hss_to_scscf(),
            user_name: user_name.clone(),
            associated_identities: associated,
            public_identities: publics,
            reason: DeregistrationReason { code: ReasonCode(reason), info },
        };
        let m = Message::decode(rtr.to_message().encode()).unwrap();
        prop_assert_eq!(RegistrationTerminationRequest::from_message(&m).unwrap(), rtr);
        let ppr = PushProfileRequest {
            routing: hss_to_scscf(),
            user_name,
            user_data,
            charging_information: Some(ChargingInformation::from_lists(&ccfs, &ecfs)),
            auth_data_item: item,
        };
        let m = Message::decode(ppr.to_message().encode()).unwrap();
        prop_assert_eq!(PushProfileRequest::from_message(&m).unwrap(), ppr);
    }

    #[test]
    fn saa_round_trips(
        result in result(),
        user_name in proptest::option::of(text()),
        user_data in proptest::option::of(".{0,300}"),
        ccfs in names(),
        ecfs in names(),
        associated in names(),
    ) {
        let req = ServerAssignmentRequest {
            routing: scscf(),
            user_name: None,
            public_identities: vec!["sip:u@example.net".into()],
            server_name: "sip:scscf.example.net".into(),
            assignment_type: ServerAssignmentType::REGISTRATION,
            user_data_already_available: false,
        }.to_message();
        let saa = ServerAssignmentAnswer {
            origin: hss(),
            result,
            user_name,
            user_data,
            charging_information: Some(ChargingInformation::from_lists(&ccfs, &ecfs)),
            associated_identities: associated,
        };
        let ans = Message::decode(saa.to_message(&req).encode()).unwrap();
        prop_assert_eq!(ServerAssignmentAnswer::from_message(&ans).unwrap(), saa);
    }
}
