//! `CxHss` over the crate's Diameter `Node` (tokio TCP driver, peer state
//! machine) against an independent implementation: the python-diameter HSS
//! peer of clearwater-diameter's tests (`tests/peers/hss_peer.py`), started
//! here on a free loopback port. Fails, not skips, when python3 or the
//! package is missing (see `INSTALL`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use clearwater_diameter::cx::Origin;
use clearwater_diameter::peer::LocalIdentity;
use clearwater_diameter::runtime::{Node, NodeConfig, PeerSpec};
use clearwater_hss::cx::{CxConfig, CxHss};
use clearwater_hss::milenage::{Milenage, Sqn};
use clearwater_hss::{
    AssignmentType, AuthRequest, AuthScheme, AuthVector, Hss, HssError, HssEvent, HssListener,
    RegistrationState, ServerAssignment,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::time::timeout;

const PEER_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../clearwater-diameter/tests/peers/hss_peer.py"
);
const INSTALL: &str = "needs python3 and python-diameter 0.9.0: `apt-get install -y \
    python3-pip && python3 -m pip install --break-system-packages python-diameter==0.9.0`, \
    or CLEARWATER_PYTHON pointing at an interpreter that has it (.ci/run does this)";
const WAIT: Duration = Duration::from_secs(15);
const HOST: &str = "scscf.example.net";
const ALICE: &str = "alice@example.net";

fn hex16(s: &str) -> [u8; 16] {
    clearwater_hss::milenage::parse_hex16(s).unwrap()
}

struct Events(Mutex<Vec<HssEvent>>);

#[async_trait]
impl HssListener for Events {
    async fn on_event(&self, e: HssEvent) -> Result<(), HssError> {
        self.0.lock().unwrap().push(e);
        Ok(())
    }
}

#[tokio::test]
async fn cx_hss_with_python_diameter_hss() {
    let python = std::env::var("CLEARWATER_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let mut child = Command::new(&python)
        .arg(PEER_SCRIPT)
        .args(["--port", "0", "--origin-host", "hss.example.net"])
        .args(["--realm", "example.net", "--peer", HOST, "--user", ALICE])
        .args(["--password", "secret"])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}: {INSTALL}"));
    let (tx, mut lines) = mpsc::unbounded_channel::<String>();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    tokio::spawn(async move {
        while let Ok(Some(l)) = out.next_line().await {
            let _ = tx.send(l);
        }
    });
    let mut seen: Vec<String> = Vec::new();
    let mut expect = async |prefix: &str| -> String {
        if let Some(i) = seen.iter().position(|l| l.starts_with(prefix)) {
            return seen.remove(i);
        }
        loop {
            let l = match timeout(WAIT, lines.recv()).await {
                Ok(Some(l)) => l,
                Ok(None) => panic!("peer exited before {prefix:?}: {INSTALL}"),
                Err(_) => panic!("no {prefix:?} from the peer; saw {seen:?}"),
            };
            assert!(!l.starts_with("ERROR"), "peer: {l}: {INSTALL}");
            if l.starts_with(prefix) {
                return l;
            }
            seen.push(l);
        }
    };
    let ready = expect("READY port=").await;
    let port: u16 = ready["READY port=".len()..].parse().unwrap();

    let mut config = NodeConfig::new(LocalIdentity::cx(HOST, "example.net"));
    config.watchdog = Duration::from_secs(1);
    config.request_timeout = Duration::from_secs(5);
    let node = Node::new(config);
    node.add_peer(PeerSpec {
        addr: ([127, 0, 0, 1], port).into(),
        realm: "example.net".to_owned(),
        host: Some("hss.example.net".to_owned()),
    });
    assert!(node.wait_open(1, WAIT).await, "no CEA from the python peer");
    expect(&format!("CER origin-host={HOST}")).await;
    let info = node.peers()[0].info.clone().unwrap();
    assert_eq!(info.host, "hss.example.net");
    let cx = CxHss::new(
        node.clone(),
        CxConfig {
            origin: Origin::new(HOST, "example.net"),
            destination_realm: "example.net".to_owned(),
            destination_host: None,
            default_server_name: "sip:scscf.example.net".to_owned(),
        },
    );
    let events = Arc::new(Events(Mutex::new(Vec::new())));
    cx.set_listener(events.clone());

    // MAR/MAA, digest: HA1 = MD5(user:realm:password).
    let mut req = AuthRequest {
        impi: ALICE.to_owned(),
        impu: "sip:alice@example.net".to_owned(),
        scheme: AuthScheme::Digest,
        server_name: String::new(),
        resync: None,
    };
    let AuthVector::Digest(d) = cx.authenticate(&req).await.unwrap() else {
        panic!("not digest")
    };
    assert_eq!(d.ha1, "92751d0dd515dd13c44dd21f19ed52b9");
    assert_eq!(d.realm, "example.net");
    expect("MAR user=alice@example.net scheme=\"SIP Digest\" result=2001").await;

    // MAR/MAA, AKA: TS 35.208 test set 1, as our Milenage computes it.
    req.scheme = AuthScheme::Aka;
    let AuthVector::Aka(v) = cx.authenticate(&req).await.unwrap() else {
        panic!("not AKA")
    };
    let ours = Milenage::with_opc(
        &hex16("465b5ce8b199b49faa5f0a2ee238a6bc"),
        &hex16("cd63cb71954a9f4e48a5994e37a02baf"),
    )
    .aka_vector(
        &hex16("23553cbe9637a89d218ae64dae47bf35"),
        Sqn::new(0xff9b_b4d0_b607).unwrap(),
        &[0xb9, 0xb9],
    );
    assert_eq!(v, ours);

    // Unknown user: Experimental-Result 5001.
    req.impi = "mallory@example.net".to_owned();
    let e = cx.authenticate(&req).await.unwrap_err();
    assert!(matches!(e, HssError::UserUnknown(_)), "{e:?}");

    // The watchdog runs (our Tw is 1 s).
    expect(&format!("DWR origin-host={HOST}")).await;

    // SAR/SAA REGISTRATION: the subscription; then the peer pushes a PPR
    // and an RTR, which reach the listener and are answered 2001.
    let reg = cx
        .assign_server(&ServerAssignment {
            impu: "sip:alice@example.net".to_owned(),
            impi: Some(ALICE.to_owned()),
            server_name: "sip:scscf.example.net".to_owned(),
            kind: AssignmentType::Registration,
        })
        .await
        .unwrap();
    assert_eq!(reg.state, RegistrationState::Registered);
    let sub = reg.subscription.expect("User-Data");
    assert!(
        sub.find_identity("sip:alice@example.net").is_some(),
        "{sub:?}"
    );
    expect("SAR user=alice@example.net type=1 result=2001").await;
    assert_eq!(expect("PPA result=").await, "PPA result=2001");
    assert_eq!(expect("RTA result=").await, "RTA result=2001");
    let events = events.0.lock().unwrap().clone();
    assert!(
        matches!(&events[0], HssEvent::ProfileUpdated { impi, subscription: Some(_), .. } if impi == ALICE),
        "{events:?}"
    );
    assert!(
        matches!(&events[1], HssEvent::Deregistered { impis, reason_code: 0, .. } if impis.contains(&ALICE.to_owned())),
        "{events:?}"
    );

    // A polite goodbye: DPR reaches the peer.
    node.shutdown().await;
    expect(&format!("DPR origin-host={HOST}")).await;
}
