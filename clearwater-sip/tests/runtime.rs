//! The runtime's connection handling: RFC 5626 keep-alives on TCP, outbound
//! connection reuse and recycling, next-hop health reports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use clearwater_sip::runtime::{
    Decision, ProxyServer, RouteRequest, Router, ServerConfig, StaticRoute, TargetHealth,
};
use clearwater_sip::transaction::Config;
use clearwater_sip::transport::{Remote, Transport};
use clearwater_sip::{Frame, Framer, Message, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// Requests served on each connection a [`tcp_uas`] accepted, in order.
type PerConnection = Arc<Mutex<Vec<usize>>>;

/// A TCP UAS answering every request with 200; counts its connections and
/// the requests each one carried.
async fn tcp_uas() -> (SocketAddr, PerConnection) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let served: PerConnection = Arc::default();
    let count = served.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            let index = {
                let mut c = count.lock().unwrap();
                c.push(0);
                c.len() - 1
            };
            let count = count.clone();
            tokio::spawn(async move {
                let framer = Framer::default();
                let mut buf = BytesMut::new();
                loop {
                    if s.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                        return;
                    }
                    while let Ok(Frame::Complete(n)) = framer.frame(&buf) {
                        let m = Message::parse(buf.split_to(n).freeze()).unwrap();
                        if let Message::Request(r) = m {
                            count.lock().unwrap()[index] += 1;
                            let resp = r.make_response(StatusCode::OK, None, Some("u")).unwrap();
                            s.write_all(&resp.to_bytes()).await.unwrap();
                        }
                    }
                }
            });
        }
    });
    (addr, served)
}

/// A proxy listening on TCP only (its route, to an address nothing listens
/// on, is never used by these tests): its address and the server task.
async fn tcp_proxy(
    configure: impl FnOnce(&mut ServerConfig),
) -> (SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>) {
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut config = ServerConfig::new(vec![], vec![any], vec![]);
    configure(&mut config);
    let server = ProxyServer::bind(config, StaticRoute(Remote::new(Transport::Udp, any)))
        .await
        .unwrap();
    let addr = server.local_addrs()[0].1;
    (addr, tokio::spawn(server.run()))
}

fn options(n: u32) -> String {
    format!(
        "OPTIONS sip:uas@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;rport;branch=z9hG4bKrt{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=f\r\nTo: <sip:uas@example.com>\r\n\
         Call-ID: rt{n}\r\nCSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

async fn ask(client: &UdpSocket, proxy: SocketAddr, n: u32) -> Message {
    client.send_to(options(n).as_bytes(), proxy).await.unwrap();
    let mut buf = vec![0u8; 4096];
    loop {
        let len = tokio::time::timeout(Duration::from_secs(5), client.recv(&mut buf))
            .await
            .expect("a response")
            .unwrap();
        let m = Message::parse(Bytes::copy_from_slice(&buf[..len])).unwrap();
        if m.as_response().is_some_and(|r| r.status().is_final()) {
            return m;
        }
    }
}

/// A proxy listening on UDP that forwards everything over TCP to a
/// [`tcp_uas`]: the UAS's per-connection counts, the proxy's UDP address and
/// the server task.
async fn udp_to_tcp_uas(
    configure: impl FnOnce(&mut ServerConfig),
) -> (
    PerConnection,
    SocketAddr,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let (uas, served) = tcp_uas().await;
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut config = ServerConfig::new(vec![any], vec![], vec![]);
    configure(&mut config);
    let server = ProxyServer::bind(config, StaticRoute(Remote::new(Transport::Tcp, uas)))
        .await
        .unwrap();
    let proxy_udp = server.local_addrs()[0].1;
    (served, proxy_udp, tokio::spawn(server.run()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_tcp_is_reused_then_recycled() {
    let (accepted, proxy_udp, task) =
        udp_to_tcp_uas(|c| c.recycle_after = Duration::from_millis(200)).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for n in 1..=3 {
        let r = ask(&client, proxy_udp, n).await;
        assert_eq!(r.as_response().unwrap().status(), StatusCode::OK);
        // rport: the response came back to our real port
    }
    assert_eq!(*accepted.lock().unwrap(), [3], "one connection reused");
    tokio::time::sleep(Duration::from_millis(300)).await; // past 200 ms ±20%
    let r = ask(&client, proxy_udp, 4).await;
    assert_eq!(r.as_response().unwrap().status(), StatusCode::OK);
    assert_eq!(
        *accepted.lock().unwrap(),
        [3, 1],
        "recycled after its lifetime"
    );
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_spread_over_a_pool_of_connections() {
    let (served, proxy_udp, task) = udp_to_tcp_uas(|c| c.connections_per_peer = 3).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for n in 1..=30 {
        let r = ask(&client, proxy_udp, n).await;
        assert_eq!(r.as_response().unwrap().status(), StatusCode::OK);
    }
    let per_conn = served.lock().unwrap().clone();
    assert_eq!(
        per_conn.len(),
        3,
        "the pool fills to its size: {per_conn:?}"
    );
    assert_eq!(per_conn.iter().sum::<usize>(), 30);
    assert!(
        per_conn.iter().all(|n| *n >= 5),
        "round robin over the pool: {per_conn:?}"
    );
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_keepalive_ping_gets_pong() {
    let (addr, task) = tcp_proxy(|_| {}).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    for _ in 0..3 {
        assert!(pongs(&mut s).await, "a pong within 2 s");
    }
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_split_across_reads_still_gets_its_pong() {
    // RFC 5626 §4.4.1: CRLF CRLF is the ping, however TCP delivers it. Two
    // halves with a pause between them (read separately) get one pong.
    let (addr, task) = tcp_proxy(|_| {}).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    for _ in 0..2 {
        s.write_all(b"\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        s.write_all(b"\r\n").await.unwrap();
        let mut pong = [0u8; 2];
        tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut pong))
            .await
            .expect("a pong within 2 s")
            .unwrap();
        assert_eq!(&pong, b"\r\n");
    }
    // Whole pings still get exactly one pong each.
    assert!(pongs(&mut s).await);
    task.abort();
}

/// Sends a keep-alive ping on `s`; true if the pong comes back.
async fn pongs(s: &mut TcpStream) -> bool {
    if s.write_all(b"\r\n\r\n").await.is_err() {
        return false;
    }
    let mut pong = [0u8; 2];
    matches!(
        tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut pong)).await,
        Ok(Ok(_)) if &pong == b"\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_connections_beyond_the_limit_are_closed() {
    let (addr, task) = tcp_proxy(|c| c.max_connections = 2).await;

    let mut a = TcpStream::connect(addr).await.unwrap();
    let mut b = TcpStream::connect(addr).await.unwrap();
    assert!(pongs(&mut a).await && pongs(&mut b).await);
    let mut c = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 8];
    let n = tokio::time::timeout(Duration::from_secs(2), c.read(&mut buf))
        .await
        .expect("the third connection is closed, not left hanging");
    assert!(
        matches!(n, Ok(0) | Err(_)),
        "third connection served: {n:?}"
    );
    assert!(pongs(&mut a).await, "existing connections keep working");

    // Closing one frees a slot.
    drop(b);
    let mut freed = false;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut d = TcpStream::connect(addr).await.unwrap();
        if pongs(&mut d).await {
            freed = true;
            break;
        }
    }
    assert!(freed, "a closed connection's slot is reused");
    task.abort();
}

#[derive(Default)]
struct Health {
    failed: Mutex<Vec<Remote>>,
    ok: Mutex<Vec<Remote>>,
}

impl TargetHealth for Health {
    fn failed(&self, to: Remote) {
        self.failed.lock().unwrap().push(to);
    }
    fn responded(&self, to: Remote) {
        self.ok.lock().unwrap().push(to);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_next_hop_is_reported_failed_and_the_request_not_answered_408() {
    // A UDP port that never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let dead = Remote::new(Transport::Udp, silent.local_addr().unwrap());
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut config = ServerConfig::new(vec![any], vec![], vec![]);
    config.proxy.transaction = Config::default().with_t1(Duration::from_millis(10)); // Timer F 640 ms
    let health = Arc::new(Health::default());
    let server = ProxyServer::bind(config, StaticRoute(dead))
        .await
        .unwrap()
        .with_target_health(health.clone());
    let proxy = server.local_addrs()[0].1;
    let task = tokio::spawn(server.run());
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.send_to(options(9).as_bytes(), proxy).await.unwrap();
    // RFC 4320 §4.2: no 408 to a non-INVITE request (its sender's own
    // Timer F has fired too): after the proxy's Timer F (640 ms) nothing
    // final comes back.
    let mut buf = vec![0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while let Ok(Ok(len)) = tokio::time::timeout_at(deadline, client.recv(&mut buf)).await {
        let m = Message::parse(Bytes::copy_from_slice(&buf[..len])).unwrap();
        let status = m.as_response().map(|r| r.status());
        assert!(
            status.is_some_and(|s| !s.is_final()),
            "a final response to a non-INVITE that timed out: {status:?}"
        );
    }
    assert_eq!(*health.failed.lock().unwrap(), vec![dead]);
    assert!(health.ok.lock().unwrap().is_empty());
    drop(silent);
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_reads_is_disconnected() {
    // The peer sends keep-alive pings and never reads the pongs: once the
    // proxy's writes stall for `write_timeout`, it closes the connection
    // instead of holding it, and its place under max_connections, forever.
    // With room for one connection, a second client is served only if the
    // stalled one was let go.
    let (addr, task) = tcp_proxy(|c| {
        c.write_timeout = Duration::from_millis(300);
        c.max_connections = 1;
    })
    .await;

    // A small receive window, so the proxy's send buffer fills quickly.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let stalled = sock.connect(addr).await.unwrap();
    let (_rd, mut wr) = stalled.into_split();
    let writer = tokio::spawn(async move {
        let pings = b"\r\n".repeat(128 * 1024);
        // Bounded: at most 64 rounds of 256 KiB. Once the proxy stalls it
        // stops reading and this blocks, then fails: expected.
        for _ in 0..64 {
            match tokio::time::timeout(Duration::from_secs(2), wr.write_all(&pings)).await {
                Ok(Ok(())) => {}
                _ => break,
            }
        }
        wr
    });
    let _wr = writer.await.unwrap(); // held open: no FIN from this side
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut b = TcpStream::connect(addr).await.unwrap();
    assert!(
        pongs(&mut b).await,
        "the stalled connection still holds the only place"
    );
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_breaks_the_stream_framing_is_answered_then_closed() {
    let (addr, task) = tcp_proxy(|_| {}).await;
    for (content_length, status) in [("999999999", "513"), ("1, 2", "400")] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "MESSAGE sip:bob@example.com SIP/2.0\r\n\
             Via: SIP/2.0/TCP 127.0.0.1:5099;branch=z9hG4bKbig\r\n\
             From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n\
             Call-ID: big@example.com\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n\
             Content-Length: {content_length}\r\n\r\nhello"
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut got = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut got)).await;
        assert!(closed.is_ok(), "the connection was not closed");
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with(&format!("SIP/2.0 {status} ")), "{text}");
        assert!(text.contains("Call-ID: big@example.com"), "{text}");
    }
    task.abort();
}

/// A router that panics on MESSAGE and answers 200 to anything else.
struct Panicky;

impl Router for Panicky {
    async fn route(&self, req: RouteRequest) -> Decision {
        if req.request.method().as_str() == "MESSAGE" {
            panic!("router bug");
        }
        Decision::respond(StatusCode::OK)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_router_fails_its_request_not_the_server() {
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    let server = ProxyServer::bind(ServerConfig::new(vec![any], vec![], vec![]), Panicky)
        .await
        .unwrap();
    let addr = server.local_addrs()[0].1;
    let task = tokio::spawn(server.run());
    let sock = tokio::net::UdpSocket::bind(any).await.unwrap();
    let me = sock.local_addr().unwrap();
    let mut buf = vec![0u8; 4096];
    for (method, status) in [("MESSAGE", "500"), ("OPTIONS", "200")] {
        let req = format!(
            "{method} sip:bob@example.com SIP/2.0\r\n\
             Via: SIP/2.0/UDP {me};branch=z9hG4bKpanic{method}\r\n\
             From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n\
             Call-ID: panic-{method}@example.com\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n"
        );
        sock.send_to(req.as_bytes(), addr).await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(3), sock.recv(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with(&format!("SIP/2.0 {status} ")), "{text}");
    }
    assert!(!task.is_finished(), "the server stopped");
    task.abort();
}

/// A router that answers 200 after a pause.
struct SlowOk;

impl Router for SlowOk {
    async fn route(&self, _req: RouteRequest) -> Decision {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Decision::respond(StatusCode::OK)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_whose_connection_closed_goes_to_the_sent_by_port() {
    // §18.2.2: the client closes its connection before the answer; the
    // proxy connects to the Via's sent-by port (where the client listens),
    // not to the closed connection's ephemeral port.
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    let server = ProxyServer::bind(ServerConfig::new(vec![], vec![any], vec![]), SlowOk)
        .await
        .unwrap();
    let addr = server.local_addrs()[0].1;
    let task = tokio::spawn(server.run());
    let listening = TcpListener::bind(any).await.unwrap();
    let port = listening.local_addr().unwrap().port();
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "OPTIONS sip:bob@example.com SIP/2.0\r\n\
         Via: SIP/2.0/TCP 127.0.0.1:{port};branch=z9hG4bKgone\r\n\
         From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n\
         Call-ID: gone@example.com\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(s);
    let (mut back, _) = tokio::time::timeout(Duration::from_secs(3), listening.accept())
        .await
        .expect("the proxy connected to the sent-by port")
        .unwrap();
    let mut buf = vec![0u8; 2048];
    let n = tokio::time::timeout(Duration::from_secs(3), back.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("SIP/2.0 200 "), "{text}");
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_queued_for_a_failed_connection_is_answered() {
    // A TCP next hop whose accept queue is full: connecting hangs, then
    // times out (5 s). Both requests, the one that started the connection
    // and the one queued behind it, are answered then (a transport error
    // is a 503, passed upstream as 500), not the second only at Timer F.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    sock.listen(0).unwrap();
    let hole: SocketAddr = sock.local_addr().unwrap().as_socket().unwrap();
    // Fill the accept queue (never accepted).
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(Ok(s)) =
            tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(hole)).await
        {
            fillers.push(s);
        }
    }
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    let server = ProxyServer::bind(
        ServerConfig::new(vec![any], vec![], vec![]),
        StaticRoute(Remote::new(Transport::Tcp, hole)),
    )
    .await
    .unwrap();
    let proxy = server.local_addrs()[0].1;
    let task = tokio::spawn(server.run());
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.send_to(options(1).as_bytes(), proxy).await.unwrap();
    client.send_to(options(2).as_bytes(), proxy).await.unwrap();
    let start = std::time::Instant::now();
    let mut finals = 0;
    let mut buf = vec![0u8; 4096];
    while finals < 2 {
        let len = tokio::time::timeout(Duration::from_secs(9), client.recv(&mut buf))
            .await
            .expect("both answered well before Timer F (32 s)")
            .unwrap();
        let m = Message::parse(Bytes::copy_from_slice(&buf[..len])).unwrap();
        if let Some(r) = m.as_response().filter(|r| r.status().is_final()) {
            assert!(r.status().as_u16() >= 500, "{}", r.status());
            finals += 1;
        }
    }
    assert!(start.elapsed() < Duration::from_secs(9));
    drop(fillers);
    task.abort();
}

/// A router whose ACK routing never finishes, counting the ACKs it is asked.
struct StuckAcks(Arc<std::sync::atomic::AtomicUsize>);

impl Router for StuckAcks {
    async fn route(&self, _req: RouteRequest) -> Decision {
        Decision::respond(StatusCode::OK)
    }

    async fn route_ack(&self, _request: &clearwater_sip::Request) -> Option<Remote> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::future::pending().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_being_routed_are_bounded() {
    let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut config = ServerConfig::new(vec![any], vec![], vec![]);
    config.max_acks_routing = 2;
    let server = ProxyServer::bind(config, StuckAcks(asked.clone()))
        .await
        .unwrap();
    let addr = server.local_addrs()[0].1;
    let task = tokio::spawn(server.run());
    let sock = UdpSocket::bind(any).await.unwrap();
    let me = sock.local_addr().unwrap();
    for i in 0..5 {
        let ack = format!(
            "ACK sip:bob@127.0.0.1:9 SIP/2.0\r\n\
             Via: SIP/2.0/UDP {me};branch=z9hG4bKack{i}\r\n\
             From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>;tag=2\r\n\
             Call-ID: ack{i}@example.com\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n"
        );
        sock.send_to(ack.as_bytes(), addr).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 2);
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dual_stack_proxy_sends_to_ipv6_from_its_ipv6_socket() {
    // UDP on 127.0.0.1 and [::1]; the router names a v6 next hop with no
    // flow: the datagram must leave from the v6 socket (a v4 socket cannot
    // send to a v6 address, which would fail the branch with a 503).
    let uas = UdpSocket::bind("[::1]:0").await.unwrap();
    let uas_addr = uas.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((len, from)) = uas.recv_from(&mut buf).await else {
                return;
            };
            if let Ok(Message::Request(r)) = Message::parse(Bytes::copy_from_slice(&buf[..len])) {
                let resp = r.make_response(StatusCode::OK, None, Some("u")).unwrap();
                let _ = uas.send_to(&resp.to_bytes(), from).await;
            }
        }
    });
    let v4: SocketAddr = ([127, 0, 0, 1], 0).into();
    let v6: SocketAddr = "[::1]:0".parse().unwrap();
    let config = ServerConfig::new(vec![v4, v6], vec![], vec![]);
    let server = ProxyServer::bind(config, StaticRoute(Remote::new(Transport::Udp, uas_addr)))
        .await
        .unwrap();
    let proxy_v4 = server
        .local_addrs()
        .iter()
        .find(|(_, a)| a.is_ipv4())
        .unwrap()
        .1;
    let task = tokio::spawn(server.run());
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let r = ask(&client, proxy_v4, 21).await;
    assert_eq!(r.as_response().unwrap().status(), StatusCode::OK);
    task.abort();
}
