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
    CxRouting, MultimediaAuthRequest, ServerAssignmentRequest, ServerAssignmentType,
    cx_application, scheme,
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
    let mut msgs = vec![cer, cea, dwr, mar, maa, sar, saa];
    for (i, m) in msgs.iter_mut().enumerate() {
        m.hop_by_hop = 100 + (i as u32 / 2);
        m.end_to_end = 200 + (i as u32 / 2);
        m.validate().unwrap();
    }
    msgs
}

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
    // The AKA material and grouped AVPs were understood.
    for good in [
        "SIP-Auth-Data-Item",
        "SIP-Authentication-Scheme: Digest-AKAv1-MD5",
        "Confidentiality-Key",
        "Vendor-Specific-Application-Id",
        "Server-Assignment-Type: REGISTRATION",
        "Charging-Information",
    ] {
        assert!(
            verbose.contains(good),
            "tshark did not show {good:?}:\n{verbose}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
