//! Interop with an independent Diameter implementation over real TCP on
//! loopback: `tests/peers/hss_peer.py`, a Cx HSS built on the PyPI package
//! python-diameter (its own Node does CER/CEA, DWR/DWA, DPR/DPA and the
//! framing), is started by the test. This side is plain tokio TCP and this
//! crate's codec and typed Cx commands: CER/CEA, DWR/DWA both ways, UAR/UAA
//! and LIR/LIA (before, during and after the registration), MAR/MAA for SIP
//! digest and AKA, MAR/SAR for an unknown user, SAR/SAA with the
//! subscription XML and charging functions, then a PPR and an RTR from the
//! peer answered with PPA/RTA, whose Result-Codes the peer reports on its
//! stdout, and DPR/DPA.
//!
//! Needs python3 with python-diameter 0.9.0 (`.ci/run` installs it; the
//! interpreter is `$CLEARWATER_PYTHON`, else `python3`). Fails, not skips,
//! without them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use clearwater_diameter::avp::code;
use clearwater_diameter::cx::{
    CxResult, CxRouting, LocationInfoAnswer, LocationInfoRequest, MultimediaAuthAnswer,
    MultimediaAuthRequest, Origin, PushProfileAnswer, PushProfileRequest, ReasonCode,
    RegistrationTerminationAnswer, RegistrationTerminationRequest, ServerAssignmentAnswer,
    ServerAssignmentRequest, ServerAssignmentType, ServerCapabilities, UserAuthorizationAnswer,
    UserAuthorizationRequest, cx_application, scheme,
};
use clearwater_diameter::{
    ApplicationId, Avp, CommandCode, Framing, Message, ResultCode, frame, vendor,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::timeout;

const PEER_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/hss_peer.py");
/// The bound on every wait for the peer.
const WAIT: Duration = Duration::from_secs(15);
const INSTALL: &str = "the Python interop peer needs python3 and the PyPI package \
    python-diameter 0.9.0: `apt-get install -y python3-pip && python3 -m pip install \
    python-diameter==0.9.0` (add --break-system-packages for Debian's own python3), or point \
    CLEARWATER_PYTHON at an interpreter that has it; .ci/run does this";

const HOST: &str = "scscf.example.net";
const REALM: &str = "example.net";
const HSS: &str = "hss.example.net";
const ALICE: &str = "alice@example.net";
const ALICE_IMPU: &str = "sip:alice@example.net";
/// MD5("alice@example.net:example.net:secret"), as the peer's --password.
const ALICE_HA1: &str = "92751d0dd515dd13c44dd21f19ed52b9";

/// TS 35.208 test set 1: RAND, AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A, XRES (f2),
/// CK (f3), IK (f4).
const RAND: [u8; 16] = hex16("23553cbe9637a89d218ae64dae47bf35");
const AUTN: [u8; 16] = hex16("55f328b43577b9b94a9ffac354dfafb3");
const XRES: [u8; 8] = [0xa5, 0x42, 0x11, 0xd5, 0xe3, 0xba, 0x50, 0xbf];
const CK: [u8; 16] = hex16("b40ba9a3c58b2a05bbf0d987b21bf8cb");
const IK: [u8; 16] = hex16("f769bcd751044604127672711c6d3441");

const fn hex16(s: &str) -> [u8; 16] {
    let b = s.as_bytes();
    let mut out = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        out[i] = nibble(b[2 * i]) << 4 | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("not hex"),
    }
}

fn python() -> String {
    std::env::var("CLEARWATER_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// Fails loudly, with the install step, when the interpreter or the package
/// is missing.
fn check_python() {
    let py = python();
    let out = std::process::Command::new(&py)
        .args([
            "-c",
            "import diameter.node, importlib.metadata as m; print(m.version('python-diameter'))",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {py:?} ({e}): {INSTALL}"));
    assert!(
        out.status.success(),
        "{py} cannot import python-diameter ({}): {INSTALL}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if version != "0.9.0" {
        eprintln!("note: python-diameter {version}; the peer was written against 0.9.0");
    }
}

/// The peer process and the lines it prints.
struct Peer {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
    /// Lines read but not yet matched by [`Peer::expect`].
    backlog: VecDeque<String>,
    stderr: Arc<Mutex<String>>,
}

impl Peer {
    async fn start(args: &[&str]) -> (Peer, u16) {
        check_python();
        let mut child = Command::new(python())
            .arg(PEER_SCRIPT)
            .args(["--port", "0", "--origin-host", HSS, "--realm", REALM])
            .args(["--peer", HOST, "--user", ALICE, "--password", "secret"])
            .args(args)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {PEER_SCRIPT}: {e}: {INSTALL}"));
        let (tx, lines) = mpsc::unbounded_channel();
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(l)) = out.next_line().await {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(l)) = err.next_line().await {
                let mut s = sink.lock().unwrap();
                s.push_str(&l);
                s.push('\n');
            }
        });
        let mut peer = Peer {
            child,
            lines,
            seen: Vec::new(),
            backlog: VecDeque::new(),
            stderr,
        };
        let ready = peer.expect("READY port=").await;
        let port = ready["READY port=".len()..].parse().unwrap();
        (peer, port)
    }

    /// The first line, unmatched so far, starting with `prefix` (lines
    /// are matched out of order: the peer's threads print concurrently);
    /// an ERROR line fails the test.
    async fn expect(&mut self, prefix: &str) -> String {
        if let Some(i) = self.backlog.iter().position(|l| l.starts_with(prefix)) {
            return self.backlog.remove(i).unwrap();
        }
        loop {
            let line = match timeout(WAIT, self.lines.recv()).await {
                Ok(Some(l)) => l,
                Ok(None) => self.fail(&format!("peer exited before {prefix:?}")),
                Err(_) => self.fail(&format!("no {prefix:?} from the peer within {WAIT:?}")),
            };
            self.seen.push(line.clone());
            if line.starts_with("ERROR") || line.starts_with("UNEXPECTED") {
                self.fail(&format!("peer reported {line:?}"));
            }
            if line.starts_with(prefix) {
                return line;
            }
            self.backlog.push_back(line);
        }
    }

    fn fail(&mut self, why: &str) -> ! {
        let _ = self.child.start_kill();
        panic!(
            "{why}\npeer stdout so far:\n{}\npeer stderr:\n{}",
            self.seen.join("\n"),
            self.stderr.lock().unwrap()
        );
    }
}

/// This side: a TCP connection carrying this crate's messages.
struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    next_id: u32,
    /// Requests from the peer that arrived while an answer was awaited.
    pending: VecDeque<Message>,
}

impl Conn {
    async fn send(&mut self, m: &Message) {
        timeout(WAIT, self.stream.write_all(&m.encode()))
            .await
            .expect("write timed out")
            .unwrap();
    }

    /// The next message that is not a DWR from the peer (those are
    /// answered here, as RFC 6733 §5.5 asks).
    async fn recv(&mut self) -> Message {
        loop {
            let m = self.recv_any().await;
            if m.code == CommandCode::DEVICE_WATCHDOG && m.is_request() {
                m.validate().unwrap();
                assert_eq!(m.origin_host().unwrap(), HSS);
                let dwa = m
                    .answer()
                    .with(Avp::u32(code::RESULT_CODE, ResultCode::SUCCESS.0))
                    .with(Avp::utf8(code::ORIGIN_HOST, HOST))
                    .with(Avp::utf8(code::ORIGIN_REALM, REALM));
                self.send(&dwa).await;
                continue;
            }
            return m;
        }
    }

    async fn recv_any(&mut self) -> Message {
        loop {
            match frame(&self.buf, 1 << 20) {
                Framing::Complete(n) => {
                    let bytes: Bytes = self.buf.split_to(n).freeze();
                    return Message::decode(bytes).expect("the peer sent a malformed message");
                }
                Framing::Invalid(e) => panic!("the peer's stream is not Diameter: {e}"),
                Framing::Partial => {}
            }
            let n = timeout(WAIT, self.stream.read_buf(&mut self.buf))
                .await
                .expect("no message from the peer in time")
                .unwrap();
            assert!(n > 0, "the peer closed the connection");
        }
    }

    /// The next request from the peer (DWRs aside).
    async fn next_request(&mut self) -> Message {
        match self.pending.pop_front() {
            Some(m) => m,
            None => self.recv().await,
        }
    }

    /// Sends a request with fresh identifiers and returns its answer
    /// (requests from the peer meanwhile wait in `pending`).
    async fn request(&mut self, mut m: Message) -> Message {
        self.next_id += 1;
        m.hop_by_hop = self.next_id;
        m.end_to_end = 0x00c0_0000 | self.next_id;
        self.send(&m).await;
        let a = self.recv().await;
        assert!(
            !a.is_request(),
            "expected the answer to {}, got {a:?}",
            m.code
        );
        assert_eq!(a.code, m.code);
        assert_eq!(
            (a.hop_by_hop, a.end_to_end),
            (m.hop_by_hop, m.end_to_end),
            "identifiers copied"
        );
        a
    }
}

fn routing(n: u32) -> CxRouting {
    CxRouting {
        session_id: format!("{HOST};1795000000;{n}"),
        origin_host: HOST.into(),
        origin_realm: REALM.into(),
        destination_realm: REALM.into(),
        destination_host: Some(HSS.into()),
    }
}

fn mar(n: u32, user: &str, scheme: &str) -> Message {
    MultimediaAuthRequest {
        routing: routing(n),
        user_name: user.into(),
        public_identity: format!("sip:{user}"),
        server_name: "sip:scscf.example.net:5054".into(),
        number_auth_items: 1,
        scheme: scheme.into(),
        authorization: None,
    }
    .to_message()
}

fn uar(n: u32, user: &str) -> Message {
    UserAuthorizationRequest {
        routing: routing(n),
        user_name: user.into(),
        public_identity: format!("sip:{user}"),
        visited_network: Bytes::from_static(b"example.net"),
        authorization_type: None,
        uar_flags: None,
    }
    .to_message()
}

fn lir(n: u32, impu: &str) -> Message {
    LocationInfoRequest {
        routing: routing(n),
        public_identity: impu.into(),
        originating: false,
        authorization_type: None,
    }
    .to_message()
}

fn sar(n: u32, user: &str) -> Message {
    ServerAssignmentRequest {
        routing: routing(n),
        user_name: Some(user.into()),
        public_identities: vec![format!("sip:{user}")],
        server_name: "sip:scscf.example.net:5054".into(),
        assignment_type: ServerAssignmentType::REGISTRATION,
        user_data_already_available: false,
    }
    .to_message()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cx_with_python_diameter_hss() {
    let (mut peer, port) = Peer::start(&["--watchdog", "2", "--log-level", "INFO"]).await;
    let stream = timeout(WAIT, TcpStream::connect(("127.0.0.1", port)))
        .await
        .expect("connect timed out")
        .expect("connect to the peer");
    let mut c = Conn {
        stream,
        buf: BytesMut::with_capacity(8192),
        next_id: 0x7000,
        pending: VecDeque::new(),
    };

    // Capabilities exchange.
    let cer = Message::request(CommandCode::CAPABILITIES_EXCHANGE, ApplicationId::COMMON)
        .with(Avp::utf8(code::ORIGIN_HOST, HOST))
        .with(Avp::utf8(code::ORIGIN_REALM, REALM))
        .with(Avp::address(
            code::HOST_IP_ADDRESS,
            IpAddr::V4(Ipv4Addr::LOCALHOST),
        ))
        .with(Avp::u32(code::VENDOR_ID, 0))
        .with(Avp::utf8(
            code::PRODUCT_NAME,
            "clearwater-diameter interop test",
        ))
        .with(Avp::u32(code::SUPPORTED_VENDOR_ID, vendor::TGPP))
        .with(cx_application());
    let cea = c.request(cer).await;
    cea.validate().unwrap();
    assert_eq!(cea.result_code().unwrap(), Some(ResultCode::SUCCESS));
    assert_eq!(cea.origin_host().unwrap(), HSS);
    assert_eq!(cea.origin_realm().unwrap(), REALM);
    let advertises_cx = cea
        .avps_with(code::AUTH_APPLICATION_ID)
        .any(|a| a.as_u32().unwrap() == ApplicationId::CX.0)
        || cea
            .avps_with(code::VENDOR_SPECIFIC_APPLICATION_ID)
            .any(|v| {
                v.child(code::AUTH_APPLICATION_ID)
                    .unwrap()
                    .is_some_and(|a| a.as_u32().unwrap() == ApplicationId::CX.0)
            });
    assert!(advertises_cx, "the CEA advertises Cx: {cea:?}");
    assert!(
        cea.avps_with(code::SUPPORTED_VENDOR_ID)
            .any(|a| a.as_u32().unwrap() == vendor::TGPP)
    );
    assert_eq!(peer.expect("CER").await, format!("CER origin-host={HOST}"));

    // Watchdog from this side.
    let dwr = Message::request(CommandCode::DEVICE_WATCHDOG, ApplicationId::COMMON)
        .with(Avp::utf8(code::ORIGIN_HOST, HOST))
        .with(Avp::utf8(code::ORIGIN_REALM, REALM));
    let dwa = c.request(dwr).await;
    dwa.validate().unwrap();
    assert_eq!(dwa.result_code().unwrap(), Some(ResultCode::SUCCESS));
    assert_eq!(dwa.origin_host().unwrap(), HSS);
    peer.expect("DWR origin-host=scscf.example.net").await;

    // UAR/UAA and LIR/LIA before registration: capabilities, not
    // registered.
    let uaa = UserAuthorizationAnswer::from_message(&c.request(uar(10, ALICE)).await).unwrap();
    assert_eq!(
        uaa.result,
        CxResult::cx(ResultCode::CX_FIRST_REGISTRATION),
        "{}",
        uaa.result
    );
    assert_eq!(uaa.server_name, None);
    assert_eq!(
        uaa.server_capabilities,
        Some(ServerCapabilities {
            mandatory: vec![1],
            optional: vec![2],
            server_names: vec!["sip:scscf.example.net".into()],
        })
    );
    assert_eq!(
        peer.expect("UAR").await,
        "UAR user=alice@example.net result=2001"
    );
    let lia = LocationInfoAnswer::from_message(&c.request(lir(11, ALICE_IMPU)).await).unwrap();
    assert!(
        lia.result
            .is_cx(ResultCode::CX_ERROR_IDENTITY_NOT_REGISTERED),
        "{}",
        lia.result
    );
    assert_eq!(lia.server_name, None);
    let lia = LocationInfoAnswer::from_message(&c.request(lir(12, "sip:nobody@example.net")).await)
        .unwrap();
    assert!(
        lia.result.is_cx(ResultCode::CX_ERROR_USER_UNKNOWN),
        "{}",
        lia.result
    );

    // MAR/MAA, SIP digest.
    let maa = c.request(mar(1, ALICE, scheme::DIGEST)).await;
    assert_eq!(maa.session_id().unwrap(), Some(&*routing(1).session_id));
    let maa = MultimediaAuthAnswer::from_message(&maa).unwrap();
    assert_eq!(maa.result, CxResult::SUCCESS);
    assert_eq!(maa.origin, Origin::new(HSS, REALM));
    assert_eq!(maa.user_name.as_deref(), Some(ALICE));
    assert_eq!(maa.public_identity.as_deref(), Some(ALICE_IMPU));
    assert_eq!(maa.number_auth_items, Some(1));
    assert_eq!(maa.items.len(), 1);
    let item = &maa.items[0];
    assert_eq!(item.item_number, Some(1));
    assert_eq!(item.scheme.as_deref(), Some(scheme::DIGEST));
    let digest = item.digest.as_ref().expect("SIP-Digest-Authenticate");
    assert_eq!(digest.ha1, ALICE_HA1);
    assert_eq!(digest.realm, REALM);
    assert_eq!(digest.qop, "auth");
    assert_eq!(digest.algorithm.as_deref(), Some("MD5"));
    peer.expect("MAR user=alice@example.net scheme=\"SIP Digest\" result=2001")
        .await;

    // MAR/MAA, AKA.
    let maa = c.request(mar(2, ALICE, scheme::AKA)).await;
    let maa = MultimediaAuthAnswer::from_message(&maa).unwrap();
    assert!(maa.result.is_success());
    let item = &maa.items[0];
    assert_eq!(item.scheme.as_deref(), Some(scheme::AKA));
    assert_eq!(item.rand_autn(), Some((RAND, AUTN)));
    assert_eq!(item.authorization.as_deref(), Some(&XRES[..]));
    assert_eq!(item.confidentiality_key.as_deref(), Some(&CK[..]));
    assert_eq!(item.integrity_key.as_deref(), Some(&IK[..]));
    assert!(item.digest.is_none());
    peer.expect("MAR user=alice@example.net scheme=\"Digest-AKAv1-MD5\" result=2001")
        .await;

    // An unknown user: Experimental-Result 5001, vendor 10415.
    let maa = c
        .request(mar(3, "mallory@example.net", scheme::DIGEST))
        .await;
    assert!(maa.avp(code::RESULT_CODE).is_none());
    let maa = MultimediaAuthAnswer::from_message(&maa).unwrap();
    assert!(
        maa.result.is_cx(ResultCode::CX_ERROR_USER_UNKNOWN),
        "{}",
        maa.result
    );
    assert!(maa.items.is_empty());
    peer.expect("MAR user=mallory@example.net").await;

    // SAR for an unknown user: 5001 too, and no push.
    let saa = c.request(sar(4, "mallory@example.net")).await;
    let saa = ServerAssignmentAnswer::from_message(&saa).unwrap();
    assert_eq!(saa.result.vendor_code(), (10415, 5001));
    assert_eq!(saa.user_data, None);
    peer.expect("SAR user=mallory@example.net type=1 result=5001")
        .await;

    // Watchdog from the peer: idle for its 2 s, it sends a DWR.
    let dwr = c.recv_any().await;
    assert!(
        dwr.code == CommandCode::DEVICE_WATCHDOG && dwr.is_request(),
        "{dwr:?}"
    );
    dwr.validate().unwrap();
    assert_eq!(dwr.origin_host().unwrap(), HSS);
    let dwa = dwr
        .answer()
        .with(Avp::u32(code::RESULT_CODE, ResultCode::SUCCESS.0))
        .with(Avp::utf8(code::ORIGIN_HOST, HOST))
        .with(Avp::utf8(code::ORIGIN_REALM, REALM));
    c.send(&dwa).await;
    assert_eq!(peer.expect("DWA").await, "DWA result=2001");

    // SAR/SAA REGISTRATION: the profile, then the peer pushes PPR and RTR.
    let saa = c.request(sar(5, ALICE)).await;
    let saa = ServerAssignmentAnswer::from_message(&saa).unwrap();
    assert_eq!(saa.result, CxResult::SUCCESS);
    assert_eq!(saa.user_name.as_deref(), Some(ALICE));
    let xml = saa.user_data.as_deref().expect("User-Data");
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("<IMSSubscription>"), "{xml}");
    assert!(
        xml.contains("<PrivateID>alice@example.net</PrivateID>"),
        "{xml}"
    );
    assert!(
        xml.contains("<Identity>sip:alice@example.net</Identity>"),
        "{xml}"
    );
    assert!(xml.contains("<Priority>1</Priority>"), "{xml}");
    let charging = saa.charging_information.expect("Charging-Information");
    assert_eq!(
        charging.ccfs(),
        vec![
            "aaa://ccf1.example.net:3868".to_owned(),
            "aaa://ccf2.example.net".to_owned()
        ]
    );
    assert_eq!(charging.ecfs(), vec!["aaa://ecf.example.net".to_owned()]);
    assert_eq!(saa.associated_identities, vec![ALICE.to_owned()]);
    peer.expect("SAR user=alice@example.net type=1 result=2001")
        .await;

    // Registered now: LIA and UAA name this S-CSCF (the PPR may arrive
    // meanwhile; it waits).
    let lia = LocationInfoAnswer::from_message(&c.request(lir(13, ALICE_IMPU)).await).unwrap();
    assert_eq!(lia.result, CxResult::SUCCESS);
    assert_eq!(
        lia.server_name.as_deref(),
        Some("sip:scscf.example.net:5054")
    );
    assert_eq!(lia.server_capabilities, None);
    let uaa = UserAuthorizationAnswer::from_message(&c.request(uar(14, ALICE)).await).unwrap();
    assert!(
        uaa.result.is_cx(ResultCode::CX_SUBSEQUENT_REGISTRATION),
        "{}",
        uaa.result
    );
    assert_eq!(
        uaa.server_name.as_deref(),
        Some("sip:scscf.example.net:5054")
    );
    peer.expect("LIR impu=sip:alice@example.net result=2001")
        .await;
    peer.expect("UAR user=alice@example.net result=2002").await;

    let scscf = Origin::new(HOST, REALM);
    let ppr = c.next_request().await;
    assert!(ppr.is_request() && ppr.flags.is_proxiable(), "{ppr:?}");
    assert_eq!(ppr.application, ApplicationId::CX);
    let push = PushProfileRequest::from_message(&ppr).unwrap();
    assert_eq!(push.routing.origin_host, HSS);
    assert_eq!(push.routing.destination_host.as_deref(), Some(HOST));
    assert_eq!(push.routing.destination_realm, REALM);
    assert_eq!(push.user_name, ALICE);
    let xml = push.user_data.as_deref().expect("PPR User-Data");
    assert!(xml.contains("<Priority>2</Priority>"), "{xml}");
    assert!(xml.contains("sip:as2.example.net"), "{xml}");
    assert!(push.charging_information.is_some());
    c.send(&PushProfileAnswer::new(scscf.clone(), CxResult::SUCCESS).to_message(&ppr))
        .await;
    assert_eq!(peer.expect("PPA").await, "PPA result=2001");

    let rtr = c.next_request().await;
    let term = RegistrationTerminationRequest::from_message(&rtr).unwrap();
    assert_eq!(term.routing.destination_host.as_deref(), Some(HOST));
    assert_eq!(term.user_name, ALICE);
    assert_eq!(term.public_identities, vec![ALICE_IMPU.to_owned()]);
    assert_eq!(term.reason.code, ReasonCode::PERMANENT_TERMINATION);
    assert_eq!(
        term.reason.info.as_deref(),
        Some("administrative deregistration")
    );
    assert_eq!(term.private_identities(), vec![ALICE.to_owned()]);
    let rta = RegistrationTerminationAnswer {
        associated_identities: vec![ALICE.to_owned()],
        ..RegistrationTerminationAnswer::new(scscf, CxResult::SUCCESS)
    };
    c.send(&rta.to_message(&rtr)).await;
    assert_eq!(peer.expect("RTA").await, "RTA result=2001");
    peer.expect("DONE").await;

    // The RTR ended the registration.
    let lia = LocationInfoAnswer::from_message(&c.request(lir(15, ALICE_IMPU)).await).unwrap();
    assert!(
        lia.result
            .is_cx(ResultCode::CX_ERROR_IDENTITY_NOT_REGISTERED),
        "{}",
        lia.result
    );

    // Disconnect-Peer.
    let dpr = Message::request(CommandCode::DISCONNECT_PEER, ApplicationId::COMMON)
        .with(Avp::utf8(code::ORIGIN_HOST, HOST))
        .with(Avp::utf8(code::ORIGIN_REALM, REALM))
        .with(Avp::u32(code::DISCONNECT_CAUSE, 2));
    let dpa = c.request(dpr).await;
    dpa.validate().unwrap();
    assert_eq!(dpa.result_code().unwrap(), Some(ResultCode::SUCCESS));
    peer.expect("DPR origin-host=scscf.example.net").await;
    let _ = peer.child.start_kill();
    eprintln!(
        "peer saw:\n{}\npeer log:\n{}",
        peer.seen.join("\n"),
        peer.stderr.lock().unwrap()
    );
}
