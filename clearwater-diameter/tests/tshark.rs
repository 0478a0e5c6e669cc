//! Wire-format proof by an independent dissector: messages encoded here are
//! written to a pcap (TCP port 3868) and dissected by Wireshark's tshark,
//! which must find every message, decode the AVPs we expect, and raise no
//! malformed-packet or error-level expert flag. Needs the Debian package
//! `tshark` (the test fails, not skips, without it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;

use bytes::Bytes;
use clearwater_diameter::avp::code;
use clearwater_diameter::cx::{
    ChargingInformation, CxResult, CxRouting, DeregistrationReason, LocationInfoAnswer,
    LocationInfoRequest, MultimediaAuthAnswer, MultimediaAuthRequest, Origin, PushProfileAnswer,
    PushProfileRequest, ReasonCode, RegistrationTerminationAnswer, RegistrationTerminationRequest,
    ServerAssignmentAnswer, ServerAssignmentRequest, ServerAssignmentType, ServerCapabilities,
    SipAuthDataItem, SipDigestAuthenticate, UserAuthorizationAnswer, UserAuthorizationRequest,
    UserAuthorizationType, cx_application, scheme,
};
use clearwater_diameter::{ApplicationId, Avp, CommandCode, DiameterError, Message, ResultCode};

/// Builds a pcap (LINKTYPE_RAW: IPv4 packets) carrying each message in one
/// TCP segment, requests from 127.0.0.1:40000 to 127.0.0.2:3868, answers
/// back, with consistent sequence numbers for reassembly.
fn pcap(messages: &[Message]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4_u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&101u32.to_le_bytes());
    let mut seq = [1000u32, 5000u32];
    for (i, m) in messages.iter().enumerate() {
        let payload = m.encode();
        let dir = usize::from(!m.is_request());
        let (src, dst, sport, dport) = if dir == 0 {
            ([127, 0, 0, 1], [127, 0, 0, 2], 40000u16, 3868u16)
        } else {
            ([127, 0, 0, 2], [127, 0, 0, 1], 3868, 40000)
        };
        let total = 20 + 20 + payload.len();
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&(total as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        let sum = checksum(&ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        let mut tcp = Vec::new();
        tcp.extend_from_slice(&sport.to_be_bytes());
        tcp.extend_from_slice(&dport.to_be_bytes());
        tcp.extend_from_slice(&seq[dir].to_be_bytes());
        tcp.extend_from_slice(&seq[1 - dir].to_be_bytes());
        tcp.extend_from_slice(&[0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
        seq[dir] = seq[dir].wrapping_add(payload.len() as u32);
        let mut pkt = ip;
        pkt.extend_from_slice(&tcp);
        pkt.extend_from_slice(&payload);
        out.extend_from_slice(&(1_795_000_000u32 + i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
        out.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
        out.extend_from_slice(&pkt);
    }
    out
}

fn checksum(h: &[u8]) -> u16 {
    let mut s: u32 = h
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

fn routing() -> CxRouting {
    CxRouting {
        session_id: "scscf.example.com;1;2".into(),
        origin_host: "scscf.example.com".into(),
        origin_realm: "example.com".into(),
        destination_realm: "example.com".into(),
        destination_host: None,
    }
}

fn messages() -> Vec<Message> {
    let cer = Message::request(CommandCode::CAPABILITIES_EXCHANGE, ApplicationId::COMMON)
        .with(Avp::utf8(code::ORIGIN_HOST, "scscf.example.com"))
        .with(Avp::utf8(code::ORIGIN_REALM, "example.com"))
        .with(Avp::address(
            code::HOST_IP_ADDRESS,
            IpAddr::V4(Ipv4Addr::LOCALHOST),
        ))
        .with(Avp::u32(code::VENDOR_ID, 0))
        .with(Avp::utf8(code::PRODUCT_NAME, "clearwater-rs"))
        .with(Avp::u32(code::SUPPORTED_VENDOR_ID, 10415))
        .with(cx_application())
        .with(Avp::u32(code::FIRMWARE_REVISION, 1));
    let mut cea = cer.answer();
    cea.push(Avp::u32(code::RESULT_CODE, ResultCode::SUCCESS.0));
    cea.avps.extend(cer.avps.iter().cloned());
    let dwr = Message::request(CommandCode::DEVICE_WATCHDOG, ApplicationId::COMMON)
        .with(Avp::utf8(code::ORIGIN_HOST, "scscf.example.com"))
        .with(Avp::utf8(code::ORIGIN_REALM, "example.com"));
    let dwa = dwr
        .answer()
        .with(Avp::u32(code::RESULT_CODE, ResultCode::SUCCESS.0))
        .with(Avp::utf8(code::ORIGIN_HOST, "hss.example.com"))
        .with(Avp::utf8(code::ORIGIN_REALM, "example.com"));
    let mar = MultimediaAuthRequest {
        routing: routing(),
        user_name: "alice@example.com".into(),
        public_identity: "sip:alice@example.com".into(),
        server_name: "sip:scscf.example.com".into(),
        number_auth_items: 1,
        scheme: scheme::AKA.into(),
        authorization: Some(Bytes::from_static(&[7; 30])),
    }
    .to_message();
    let mut maa = mar.answer();
    for c in [
        code::SESSION_ID,
        code::VENDOR_SPECIFIC_APPLICATION_ID,
        code::AUTH_SESSION_STATE,
    ] {
        maa.push(mar.avp(c).unwrap().clone());
    }
    maa.push(Avp::u32(code::RESULT_CODE, 2001));
    maa.push(Avp::utf8(code::ORIGIN_HOST, "hss.example.com"));
    maa.push(Avp::utf8(code::ORIGIN_REALM, "example.com"));
    maa.push(Avp::utf8(code::USER_NAME, "alice@example.com"));
    maa.push(Avp::u32(code::SIP_NUMBER_AUTH_ITEMS, 1));
    maa.push(Avp::grouped(
        code::SIP_AUTH_DATA_ITEM,
        [
            Avp::u32(code::SIP_ITEM_NUMBER, 1),
            Avp::utf8(code::SIP_AUTHENTICATION_SCHEME, scheme::AKA),
            Avp::octets(code::SIP_AUTHENTICATE, &[1; 32]),
            Avp::octets(code::SIP_AUTHORIZATION, &[2; 8]),
            Avp::octets(code::CONFIDENTIALITY_KEY, &[3; 16]),
            Avp::octets(code::INTEGRITY_KEY, &[4; 16]),
        ],
    ));
    let sar = ServerAssignmentRequest {
        routing: routing(),
        user_name: Some("alice@example.com".into()),
        public_identities: vec!["sip:alice@example.com".into()],
        server_name: "sip:scscf.example.com".into(),
        assignment_type: ServerAssignmentType::REGISTRATION,
        user_data_already_available: false,
    }
    .to_message();
    let mut saa = sar.error_answer(
        &DiameterError::new(ResultCode::UNABLE_TO_COMPLY, "no"),
        "hss.example.com",
        "example.com",
    );
    saa.push(Avp::grouped(
        code::CHARGING_INFORMATION,
        [Avp::utf8(
            code::PRIMARY_CHARGING_COLLECTION_FUNCTION_NAME,
            "aaa://cdf.example.com:3868",
        )],
    ));
    let mut msgs = vec![cer, cea, dwr, dwa, mar, maa, sar, saa];
    msgs.extend(typed_cx());
    for (i, m) in msgs.iter_mut().enumerate() {
        m.hop_by_hop = 100 + (i as u32 / 2);
        m.end_to_end = 200 + (i as u32 / 2);
        m.validate().unwrap();
    }
    msgs
}

/// Every typed Cx command and answer, each answer built from its request.
fn typed_cx() -> Vec<Message> {
    let hss = Origin::new("hss.example.com", "example.com");
    let scscf = Origin::new("scscf.example.com", "example.com");
    let to_scscf = CxRouting {
        session_id: "hss.example.com;3;4".into(),
        origin_host: "hss.example.com".into(),
        origin_realm: "example.com".into(),
        destination_realm: "example.com".into(),
        destination_host: Some("scscf.example.com".into()),
    };
    let charging = ChargingInformation {
        primary_event: Some("aaa://ecf.example.com".into()),
        secondary_event: None,
        primary_collection: Some("aaa://ccf1.example.com:3868".into()),
        secondary_collection: Some("aaa://ccf2.example.com".into()),
    };
    let uar = UserAuthorizationRequest {
        routing: routing(),
        user_name: "alice@example.com".into(),
        public_identity: "sip:alice@example.com".into(),
        visited_network: Bytes::from_static(b"visited.example.org"),
        authorization_type: Some(UserAuthorizationType::REGISTRATION_AND_CAPABILITIES),
        uar_flags: Some(0),
    }
    .to_message();
    let uaa = UserAuthorizationAnswer {
        server_capabilities: Some(ServerCapabilities {
            mandatory: vec![1],
            optional: vec![2, 3],
            server_names: vec!["sip:scscf.example.com".into()],
        }),
        ..UserAuthorizationAnswer::new(hss.clone(), CxResult::cx(ResultCode::CX_FIRST_REGISTRATION))
    }
    .to_message(&uar);
    let lir = LocationInfoRequest {
        routing: routing(),
        public_identity: "sip:bob@example.com".into(),
        originating: true,
        authorization_type: Some(UserAuthorizationType::REGISTRATION),
    }
    .to_message();
    let lia = LocationInfoAnswer {
        server_name: Some("sip:scscf.example.com".into()),
        wildcarded_impu: Some("sip:!.*!@example.com".into()),
        ..LocationInfoAnswer::new(hss.clone(), CxResult::SUCCESS)
    }
    .to_message(&lir);
    let mar = MultimediaAuthRequest {
        routing: routing(),
        user_name: "alice@example.com".into(),
        public_identity: "sip:alice@example.com".into(),
        server_name: "sip:scscf.example.com".into(),
        number_auth_items: 2,
        scheme: scheme::UNKNOWN.into(),
        authorization: None,
    }
    .to_message();
    let maa = MultimediaAuthAnswer {
        user_name: Some("alice@example.com".into()),
        public_identity: Some("sip:alice@example.com".into()),
        number_auth_items: Some(2),
        items: vec![
            SipAuthDataItem::digest(SipDigestAuthenticate {
                realm: "example.com".into(),
                qop: "auth".into(),
                ha1: "8e5a1f5e7bd9d0d16e2a4b5a7c1e5f3d".into(),
                algorithm: Some("MD5".into()),
            }),
            SipAuthDataItem {
                item_number: Some(2),
                ..SipAuthDataItem::aka([1; 16], [2; 16], &[3; 8], [4; 16], [5; 16])
            },
        ],
        ..MultimediaAuthAnswer::new(hss.clone(), CxResult::SUCCESS)
    }
    .to_message(&mar);
    let sar = ServerAssignmentRequest {
        routing: routing(),
        user_name: Some("alice@example.com".into()),
        public_identities: vec!["sip:alice@example.com".into()],
        server_name: "sip:scscf.example.com".into(),
        assignment_type: ServerAssignmentType::RE_REGISTRATION,
        user_data_already_available: true,
    }
    .to_message();
    let saa = ServerAssignmentAnswer {
        user_name: Some("alice@example.com".into()),
        user_data: Some(USER_DATA.into()),
        charging_information: Some(charging.clone()),
        associated_identities: vec!["alice@example.com".into()],
        ..ServerAssignmentAnswer::new(hss.clone(), CxResult::SUCCESS)
    }
    .to_message(&sar);
    let rtr = RegistrationTerminationRequest {
        routing: to_scscf.clone(),
        user_name: "alice@example.com".into(),
        associated_identities: vec!["alice2@example.com".into()],
        public_identities: vec!["sip:alice@example.com".into()],
        reason: DeregistrationReason {
            code: ReasonCode::PERMANENT_TERMINATION,
            info: Some("subscription ended".into()),
        },
    }
    .to_message();
    let rta = RegistrationTerminationAnswer {
        associated_identities: vec!["alice2@example.com".into()],
        ..RegistrationTerminationAnswer::new(scscf.clone(), CxResult::SUCCESS)
    }
    .to_message(&rtr);
    let ppr = PushProfileRequest {
        routing: to_scscf,
        user_name: "alice@example.com".into(),
        user_data: Some(USER_DATA.into()),
        charging_information: Some(charging),
        auth_data_item: None,
    }
    .to_message();
    let ppa = PushProfileAnswer::new(scscf, CxResult::SUCCESS).to_message(&ppr);
    vec![uar, uaa, lir, lia, mar, maa, sar, saa, rtr, rta, ppr, ppa]
}

const USER_DATA: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><IMSSubscription><PrivateID>alice@example.com</PrivateID><ServiceProfile><PublicIdentity><Identity>sip:alice@example.com</Identity></PublicIdentity></ServiceProfile></IMSSubscription>";

#[test]
fn tshark_dissects_our_messages_cleanly() {
    let msgs = messages();
    let dir = std::env::temp_dir().join(format!("cw-diameter-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cx.pcap");
    std::fs::write(&file, pcap(&msgs)).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new("tshark")
            .arg("-r")
            .arg(&file)
            .args(["-o", "tcp.check_checksum:FALSE"])
            .args(args)
            .output()
            .unwrap_or_else(|e| {
                panic!("tshark must be installed (apt-get install -y tshark): {e}")
            });
        assert!(
            out.status.success(),
            "tshark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let fields = run(&[
        "-Y",
        "diameter",
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-e",
        "diameter.cmd.code",
        "-e",
        "diameter.flags.request",
        "-e",
        "diameter.hopbyhopid",
        "-e",
        "diameter.Public-Identity",
        "-e",
        "diameter.Result-Code",
    ]);
    let rows: Vec<&str> = fields.lines().collect();
    assert_eq!(
        rows.len(),
        msgs.len(),
        "one dissected message per packet:\n{fields}"
    );
    for (row, m) in rows.iter().zip(&msgs) {
        let cols: Vec<&str> = row.split('|').collect();
        assert_eq!(cols[0], m.code.0.to_string(), "{row}");
        assert_eq!(cols[1] == "1" || cols[1] == "True", m.is_request(), "{row}");
        assert_eq!(cols[2], format!("0x{:08x}", m.hop_by_hop), "{row}");
        if let Some(p) = m.avp(code::PUBLIC_IDENTITY) {
            assert_eq!(cols[3], p.as_str().unwrap(), "{row}");
        }
        if let Some(r) = m.result_code().unwrap() {
            assert_eq!(cols[4], r.0.to_string(), "{row}");
        }
    }
    let verbose = run(&["-V"]);
    for bad in [
        "Malformed",
        "Expert Info (Error",
        "Expert Info (Warning",
        "Bogus",
        "[Unknown AVP",
    ] {
        assert!(!verbose.contains(bad), "tshark flagged {bad:?}:\n{verbose}");
    }
    // The AKA and digest material and grouped AVPs were understood.
    for good in [
        "SIP-Auth-Data-Item",
        "SIP-Authentication-Scheme: Digest-AKAv1-MD5",
        "SIP-Authentication-Scheme: SIP Digest",
        "Confidentiality-Key",
        "Integrity-Key",
        "SIP-Digest-Authenticate",
        "Digest-HA1: 8e5a1f5e7bd9d0d16e2a4b5a7c1e5f3d",
        "Digest-Realm: example.com",
        "Vendor-Specific-Application-Id",
        "Server-Assignment-Type: REGISTRATION",
        "Server-Assignment-Type: RE_REGISTRATION",
        "Charging-Information",
        "Primary-Charging-Collection-Function-Name: aaa://ccf1.example.com:3868",
        "Server-Capabilities",
        "Mandatory-Capability: 1",
        "User-Authorization-Type: REGISTRATION_AND_CAPABILITIES",
        "Visited-Network-Identifier",
        "Originating-Request: ORIGINATING",
        "Wildcarded-IMPU: sip:!.*!@example.com",
        "Deregistration-Reason",
        "Reason-Code: PERMANENT_TERMINATION",
        "Reason-Info: subscription ended",
        "Associated-Identities",
        "IMSSubscription",
        "Experimental-Result-Code: DIAMETER_FIRST_REGISTRATION",
    ] {
        assert!(
            verbose.contains(good),
            "tshark did not show {good:?}:\n{verbose}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
