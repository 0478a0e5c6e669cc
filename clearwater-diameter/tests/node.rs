//! The tokio driver: nodes talking over loopback TCP, realm routing,
//! failover, reconnection and requests from the peer.
#![cfg(feature = "runtime")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use clearwater_diameter::avp::{Avp, code};
use clearwater_diameter::peer::{LocalIdentity, PeerInfo};
use clearwater_diameter::runtime::{Node, NodeConfig, NodeError, PeerSpec};
use clearwater_diameter::{ApplicationId, CommandCode, CommandFlags, Message, ResultCode};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

fn config(host: &str, realm: &str) -> NodeConfig {
    let mut c = NodeConfig::new(LocalIdentity::cx(host, realm));
    c.watchdog = Duration::from_millis(300);
    c.reopen_watchdogs = 1;
    c.request_timeout = Duration::from_millis(500);
    c.backoff = (Duration::from_millis(50), Duration::from_millis(200));
    c
}

fn mar(dest_realm: &str) -> Message {
    Message::request(CommandCode::MULTIMEDIA_AUTH, ApplicationId::CX)
        .proxiable()
        .with(Avp::utf8(code::SESSION_ID, "scscf.example.com;1;1"))
        .with(Avp::utf8(code::ORIGIN_HOST, "scscf.example.com"))
        .with(Avp::utf8(code::ORIGIN_REALM, "example.com"))
        .with(Avp::utf8(code::DESTINATION_REALM, dest_realm))
        .with(Avp::utf8(code::USER_NAME, "alice@example.com"))
}

fn answer(m: &Message, host: &str, rc: ResultCode) -> Message {
    let mut a = m
        .answer()
        .with(Avp::utf8(code::SESSION_ID, "scscf.example.com;1;1"))
        .with(Avp::u32(code::RESULT_CODE, rc.0))
        .with(Avp::utf8(code::ORIGIN_HOST, host))
        .with(Avp::utf8(code::ORIGIN_REALM, "example.net"));
    if rc.is_protocol_error() {
        a.flags.0 |= CommandFlags::ERROR;
    }
    a
}

/// An HSS node answering every request with `rc` (or never, if `None`),
/// counting requests and those with the T bit.
struct Hss {
    node: Node,
    port: u16,
    served: Arc<AtomicU32>,
    retransmits: Arc<AtomicU32>,
    task: JoinHandle<()>,
}

async fn hss(host: &'static str, rc: Option<ResultCode>, port: u16) -> Hss {
    let node = Node::new(config(host, "example.net"));
    let served = Arc::new(AtomicU32::new(0));
    let retransmits = Arc::new(AtomicU32::new(0));
    let (s, r) = (served.clone(), retransmits.clone());
    node.set_handler(move |m: Message, _from: PeerInfo| {
        s.fetch_add(1, Ordering::SeqCst);
        if m.flags.0 & CommandFlags::RETRANSMIT != 0 {
            r.fetch_add(1, Ordering::SeqCst);
        }
        async move {
            match rc {
                Some(rc) => answer(&m, host, rc),
                None => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    answer(&m, host, ResultCode::SUCCESS)
                }
            }
        }
    });
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let n = node.clone();
    let task = tokio::spawn(async move {
        let _ = n.serve(listener).await;
    });
    Hss {
        node,
        port,
        served,
        retransmits,
        task,
    }
}

fn spec(port: u16, realm: &str) -> PeerSpec {
    PeerSpec {
        addr: ([127, 0, 0, 1], port).into(),
        realm: realm.to_owned(),
        host: None,
    }
}

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn requests_are_answered_over_tcp() {
    let h = hss("hss1.example.net", Some(ResultCode::SUCCESS), 0).await;
    let client = Node::new(config("scscf.example.com", "example.com"));
    client.add_peer(spec(h.port, "example.net"));
    assert!(client.wait_open(1, WAIT).await);
    let peers = client.peers();
    assert_eq!(
        peers[0].info.as_ref().unwrap().host,
        "hss1.example.net".to_owned()
    );
    for _ in 0..50 {
        let req = mar("example.net");
        let a = tokio::time::timeout(WAIT, client.request(req))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(a.code, CommandCode::MULTIMEDIA_AUTH);
        assert!(!a.is_request());
        assert_eq!(a.result_code().unwrap(), Some(ResultCode::SUCCESS));
        assert_eq!(a.origin_host().unwrap(), "hss1.example.net");
    }
    assert_eq!(h.served.load(Ordering::SeqCst), 50);
    assert_eq!(h.retransmits.load(Ordering::SeqCst), 0);
    // The server side learnt who we are.
    assert!(h.node.wait_open(1, WAIT).await);
    let server_view = h.node.peers();
    assert_eq!(
        server_view[0].info.as_ref().unwrap().host,
        "scscf.example.com"
    );
    assert_eq!(server_view[0].realm, "example.com");
}

#[tokio::test]
async fn unknown_realms_have_no_route() {
    let h = hss("hss1.example.net", Some(ResultCode::SUCCESS), 0).await;
    let client = Node::new(config("scscf.example.com", "example.com"));
    client.add_peer(spec(h.port, "example.net"));
    assert!(client.wait_open(1, WAIT).await);
    let e = client.request(mar("elsewhere.org")).await.unwrap_err();
    assert_eq!(e, NodeError::NoRoute("elsewhere.org".to_owned()));
    assert_eq!(e.result_code(), ResultCode::UNABLE_TO_DELIVER);
    let no_realm = Message::request(CommandCode::MULTIMEDIA_AUTH, ApplicationId::CX);
    assert!(matches!(
        client.request(no_realm).await,
        Err(NodeError::Invalid(_))
    ));
}

#[tokio::test]
async fn a_silent_peer_fails_over_with_the_t_bit() {
    let silent = hss("hss1.example.net", None, 0).await;
    let good = hss("hss2.example.net", Some(ResultCode::SUCCESS), 0).await;
    let client = Node::new(config("scscf.example.com", "example.com"));
    client.add_peer(spec(silent.port, "example.net"));
    assert!(client.wait_open(1, WAIT).await);
    client.add_peer(spec(good.port, "example.net"));
    assert!(client.wait_open(2, WAIT).await);
    let a = tokio::time::timeout(WAIT, client.request(mar("example.net")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.origin_host().unwrap(), "hss2.example.net");
    assert_eq!(silent.served.load(Ordering::SeqCst), 1);
    assert_eq!(good.served.load(Ordering::SeqCst), 1);
    assert_eq!(good.retransmits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn too_busy_fails_over_and_the_last_answer_is_returned() {
    let busy = hss("hss1.example.net", Some(ResultCode::TOO_BUSY), 0).await;
    let good = hss("hss2.example.net", Some(ResultCode::SUCCESS), 0).await;
    let client = Node::new(config("scscf.example.com", "example.com"));
    client.add_peer(spec(busy.port, "example.net"));
    assert!(client.wait_open(1, WAIT).await);
    client.add_peer(spec(good.port, "*"));
    assert!(client.wait_open(2, WAIT).await);
    let a = client.request(mar("example.net")).await.unwrap();
    assert_eq!(a.result_code().unwrap(), Some(ResultCode::SUCCESS));
    assert_eq!(good.retransmits.load(Ordering::SeqCst), 1);
    // Destination-Host picks the named peer, whose 3004 is then the answer
    // (no other peer may serve that host).
    let to_busy = mar("example.net").with(Avp::utf8(code::DESTINATION_HOST, "hss1.example.net"));
    let a = client.request(to_busy).await.unwrap();
    assert_eq!(a.result_code().unwrap(), Some(ResultCode::TOO_BUSY));
    // The default route (`*`) serves other realms.
    let a = client.request(mar("other.org")).await.unwrap();
    assert_eq!(a.origin_host().unwrap(), "hss2.example.net");
}

#[tokio::test]
async fn the_client_reconnects_when_the_server_comes_back() {
    let h = hss("hss1.example.net", Some(ResultCode::SUCCESS), 0).await;
    let port = h.port;
    let client = Node::new(config("scscf.example.com", "example.com"));
    client.add_peer(spec(port, "example.net"));
    assert!(client.wait_open(1, WAIT).await);
    // The server goes away (its node says DPR on the way out).
    h.task.abort();
    h.node.shutdown().await;
    drop(h);
    let deadline = tokio::time::Instant::now() + WAIT;
    while client.peers()[0].open {
        assert!(tokio::time::Instant::now() < deadline, "still open");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(matches!(
        client.request(mar("example.net")).await,
        Err(NodeError::NoRoute(_))
    ));
    // Back on the same port: the client reconnects by itself.
    let h2 = hss("hss1b.example.net", Some(ResultCode::SUCCESS), port).await;
    assert!(client.wait_open(1, WAIT).await);
    let a = client.request(mar("example.net")).await.unwrap();
    assert_eq!(a.origin_host().unwrap(), "hss1b.example.net");
    assert_eq!(h2.served.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_server_side_can_send_requests_to_the_client() {
    // The HSS pushes (PPR/RTR) over the connection the S-CSCF opened.
    let h = hss("hss1.example.net", Some(ResultCode::SUCCESS), 0).await;
    let client = Node::new(config("scscf.example.com", "example.com"));
    let got = Arc::new(AtomicU32::new(0));
    let g = got.clone();
    client.set_handler(move |m: Message, from: PeerInfo| {
        assert_eq!(from.host, "hss1.example.net");
        g.fetch_add(1, Ordering::SeqCst);
        async move { answer(&m, "scscf.example.com", ResultCode::SUCCESS) }
    });
    client.add_peer(spec(h.port, "example.net"));
    assert!(client.wait_open(1, WAIT).await);
    assert!(h.node.wait_open(1, WAIT).await);
    let rtr = Message::request(CommandCode::REGISTRATION_TERMINATION, ApplicationId::CX)
        .proxiable()
        .with(Avp::utf8(code::SESSION_ID, "hss;1"))
        .with(Avp::utf8(code::ORIGIN_HOST, "hss1.example.net"))
        .with(Avp::utf8(code::ORIGIN_REALM, "example.net"))
        .with(Avp::utf8(code::DESTINATION_HOST, "scscf.example.com"))
        .with(Avp::utf8(code::DESTINATION_REALM, "example.com"));
    let a = h.node.request(rtr).await.unwrap();
    assert_eq!(a.code, CommandCode::REGISTRATION_TERMINATION);
    assert_eq!(a.result_code().unwrap(), Some(ResultCode::SUCCESS));
    assert_eq!(got.load(Ordering::SeqCst), 1);
    // A node without a handler answers 3001.
    let bare = Node::new(config("bare.example.com", "example.com"));
    bare.add_peer(spec(h.port, "example.net"));
    assert!(h.node.wait_open(2, WAIT).await);
    let to_bare = Message::request(CommandCode::PUSH_PROFILE, ApplicationId::CX)
        .proxiable()
        .with(Avp::utf8(code::SESSION_ID, "hss;2"))
        .with(Avp::utf8(code::ORIGIN_HOST, "hss1.example.net"))
        .with(Avp::utf8(code::ORIGIN_REALM, "example.net"))
        .with(Avp::utf8(code::DESTINATION_HOST, "bare.example.com"))
        .with(Avp::utf8(code::DESTINATION_REALM, "example.com"));
    let a = h.node.request(to_bare).await.unwrap();
    assert_eq!(
        a.result_code().unwrap(),
        Some(ResultCode::COMMAND_UNSUPPORTED)
    );
}

#[tokio::test]
async fn requests_beyond_the_in_flight_limit_are_answered_too_busy() {
    // An HSS whose handler never finishes, allowing two requests at once
    // per peer: the handler is called twice, everything else from that
    // peer is answered 3004 without it.
    let node = Node::new({
        let mut c = config("hss1.example.net", "example.net");
        c.max_inbound_in_flight = 2;
        c
    });
    let served = Arc::new(AtomicU32::new(0));
    let s = served.clone();
    node.set_handler(move |m: Message, _from: PeerInfo| {
        s.fetch_add(1, Ordering::SeqCst);
        async move {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            answer(&m, "hss1.example.net", ResultCode::SUCCESS)
        }
    });
    let (port, task) = serve(&node).await;
    let client = Node::new(config("scscf.example.com", "example.com"));
    client.add_peer(spec(port, "example.net"));
    assert!(client.wait_open(1, WAIT).await);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let c = client.clone();
        set.spawn(async move { c.request(mar("example.net")).await });
    }
    let results = set.join_all().await;
    let busy = results
        .iter()
        .filter(|r| {
            r.as_ref()
                .is_ok_and(|a| a.result_code().unwrap() == Some(ResultCode::TOO_BUSY))
        })
        .count();
    assert!(busy >= 3, "{results:?}");
    assert_eq!(served.load(Ordering::SeqCst), 2);
    task.abort();
}

#[tokio::test]
async fn a_serving_node_accepts_only_the_peers_it_lists() {
    let start = |allowed: &[&str]| {
        let allowed: Vec<String> = allowed.iter().map(|s| (*s).to_owned()).collect();
        serve_listing(allowed)
    };
    // Listed (in another letter case): the connection opens and serves.
    let (_n, port, task) = start(&["SCSCF.example.com"]).await;
    let client = Node::new(config("scscf.example.com", "example.com"));
    client.add_peer(spec(port, "example.net"));
    assert!(client.wait_open(1, WAIT).await);
    task.abort();
    // Not listed: the CER is refused (3010), the peer never opens.
    let (server, port, task) = start(&["other.example.com"]).await;
    let intruder = Node::new(config("scscf.example.com", "example.com"));
    intruder.add_peer(spec(port, "example.net"));
    assert!(!intruder.wait_open(1, Duration::from_millis(800)).await);
    assert!(!server.peers().iter().any(|p| p.open));
    task.abort();
}

#[tokio::test]
async fn a_peer_that_stops_reading_is_dropped_at_the_write_timeout() {
    // 32 requests of 512 KiB (16 MiB) are more than the socket buffers hold
    // (the client's send buffer is at most 4 MiB). They are all queued well
    // before the 1 s write timeout, so nothing more is sent: the writer's
    // end alone must close the connection and fail them.
    stalled_peer_fails_requests(|c| c.write_timeout = Duration::from_secs(1), 32).await;
}

#[tokio::test]
async fn a_peer_that_stops_reading_is_dropped_when_its_queue_is_full() {
    // A queue of 4 messages and a write timeout longer than the test: the
    // full queue alone closes the connection.
    stalled_peer_fails_requests(
        |c| {
            c.write_timeout = Duration::from_secs(3600);
            c.max_write_queue = 4;
        },
        32,
    )
    .await;
}

/// client → relay → HSS; once a request has passed, the relay stops reading
/// from the client, so the client's socket fills. `n` requests of 512 KiB
/// must then fail well before their own 30 s timeout, and the peer close.
async fn stalled_peer_fails_requests(tune: impl FnOnce(&mut NodeConfig), n: usize) {
    let (relay_port, stalled, relay_task, server_task) = stalling_relay().await;
    let client = Node::new({
        let mut c = config("scscf.example.com", "example.com");
        c.request_timeout = Duration::from_secs(30);
        c.watchdog = Duration::from_secs(30);
        tune(&mut c);
        c
    });
    client.add_peer(spec(relay_port, "example.net"));
    assert!(client.wait_open(1, WAIT).await);
    let a = client.request(mar("example.net")).await.unwrap();
    assert_eq!(a.result_code().unwrap(), Some(ResultCode::SUCCESS));
    stalled.store(true, Ordering::SeqCst);
    let big = vec![b'x'; 512 * 1024];
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let c = client.clone();
        let m = mar("example.net").with(Avp::octets(code::USER_NAME, &big));
        set.spawn(async move { c.request(m).await });
    }
    let results = tokio::time::timeout(Duration::from_secs(10), set.join_all())
        .await
        .expect("requests to a peer that does not read must fail, not hang");
    assert!(results.iter().all(Result::is_err), "{results:?}");
    assert!(!client.peers().iter().any(|p| p.open));
    relay_task.abort();
    server_task.abort();
}

/// An HSS (watchdog 30 s, so it never closes for want of DWAs) behind a TCP
/// relay on a free loopback port that stops reading from its clients once
/// the flag is set. The relay's receive buffer is small (accepted sockets
/// inherit it), so what it holds is bounded by the client's send buffer.
async fn stalling_relay() -> (
    u16,
    Arc<std::sync::atomic::AtomicBool>,
    JoinHandle<()>,
    JoinHandle<()>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Node::new({
        let mut c = config("hss1.example.net", "example.net");
        c.watchdog = Duration::from_secs(30);
        c
    });
    server.set_handler(|m: Message, _from: PeerInfo| async move {
        answer(&m, "hss1.example.net", ResultCode::SUCCESS)
    });
    let (hss_port, server_task) = serve(&server).await;
    let relay = {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        s.set_recv_buffer_size(4096).unwrap();
        s.bind(([127, 0, 0, 1], 0).into()).unwrap();
        s.listen(16).unwrap()
    };
    let relay_port = relay.local_addr().unwrap().port();
    let stalled = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let st = stalled.clone();
    let relay_task = tokio::spawn(async move {
        while let Ok((client, _)) = relay.accept().await {
            let st = st.clone();
            tokio::spawn(async move {
                let upstream = tokio::net::TcpStream::connect(("127.0.0.1", hss_port))
                    .await
                    .unwrap();
                let (mut cr, mut cw) = client.into_split();
                let (mut ur, mut uw) = upstream.into_split();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = ur.read(&mut buf).await {
                        if n == 0 || cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
                let mut buf = vec![0u8; 65536];
                loop {
                    if st.load(Ordering::SeqCst) {
                        // Stop reading, keep the connection open.
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    match cr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if uw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    (relay_port, stalled, relay_task, server_task)
}

/// An HSS node serving only `allowed` peers.
async fn serve_listing(allowed: Vec<String>) -> (Node, u16, JoinHandle<()>) {
    let node = Node::new({
        let mut c = config("hss1.example.net", "example.net");
        c.allowed_peers = Some(allowed);
        c
    });
    node.set_handler(|m: Message, _from: PeerInfo| async move {
        answer(&m, "hss1.example.net", ResultCode::SUCCESS)
    });
    let (port, task) = serve(&node).await;
    (node, port, task)
}

/// `node` serving on a free loopback port: the port and the serving task.
async fn serve(node: &Node) -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let n = node.clone();
    let task = tokio::spawn(async move {
        let _ = n.serve(listener).await;
    });
    (port, task)
}
