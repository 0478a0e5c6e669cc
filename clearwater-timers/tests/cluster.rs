//! The Chronos-compatible service: a 3-node cluster on loopback, driven over
//! HTTP by `ChronosClient` and raw requests, popping to an HTTP receiver.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use clearwater_timers::cluster::{PeerMessage, TimerState, Version, parse_id, ranking};
use clearwater_timers::{
    ChronosClient, ChronosNode, NodeConfig, NodeStatus, TimerId, TimerService, TimerSpec,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

fn wall_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// A pop as received over HTTP.
#[derive(Debug, Clone)]
struct Received {
    opaque: String,
    sequence: u64,
    at_ms: u64,
}

/// An HTTP server taking pops on `/pop`.
async fn pop_receiver() -> (String, mpsc::UnboundedReceiver<Received>) {
    async fn take(
        State(tx): State<mpsc::UnboundedSender<Received>>,
        headers: HeaderMap,
        body: Bytes,
    ) -> &'static str {
        let sequence = headers
            .get("x-sequence-number")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("X-Sequence-Number on every pop");
        let _ = tx.send(Received {
            opaque: String::from_utf8(body.to_vec()).unwrap(),
            sequence,
            at_ms: wall_ms(),
        });
        "ok"
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/pop", post(take)).with_state(tx);
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/pop"), rx)
}

struct Cluster {
    addrs: Vec<SocketAddr>,
    members: Vec<String>,
    tasks: Vec<Option<JoinHandle<std::io::Result<()>>>>,
    status: Vec<NodeStatus>,
}

impl Cluster {
    async fn start(n: usize, skew: Duration) -> Cluster {
        let mut listeners = Vec::new();
        for _ in 0..n {
            listeners.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
        }
        let addrs: Vec<SocketAddr> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
        let members: Vec<String> = addrs.iter().map(ToString::to_string).collect();
        let mut tasks = Vec::new();
        let mut status = Vec::new();
        for (l, me) in listeners.into_iter().zip(&members) {
            let node = ChronosNode::new(
                l,
                NodeConfig::new(me.clone(), members.clone()).with_skew(skew),
            );
            status.push(node.status());
            tasks.push(Some(tokio::spawn(node.run())));
        }
        Cluster {
            addrs,
            members,
            tasks,
            status,
        }
    }

    fn base(&self, i: usize) -> String {
        format!("http://{}", self.addrs[i])
    }

    fn client(&self) -> ChronosClient {
        ChronosClient::new((0..self.addrs.len()).map(|i| self.base(i))).unwrap()
    }

    /// Stops node `i` and everything it runs (listener, connections, pops).
    async fn kill(&mut self, i: usize) {
        let task = self.tasks[i].take().unwrap();
        task.abort();
        let _ = task.await;
    }

    /// Member index of the primary replica of `id`.
    fn primary(&self, id: &TimerId) -> usize {
        let (num, _) = parse_id(&id.0).unwrap();
        let first = ranking(num, &self.members)[0].clone();
        self.members.iter().position(|m| *m == first).unwrap()
    }
}

/// Kill the primary holder of 1000 timers: every timer still pops, none is
/// lost, none is early, lateness is bounded by the skew, and duplicates
/// (there should be none without a netsplit) carry the same sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_primary_loses_no_timer() {
    let skew = Duration::from_millis(1000);
    let mut cluster = Cluster::start(3, skew).await;
    let (callback, mut pops) = pop_receiver().await;
    let client = cluster.client();
    let victim = 0;
    let mut set_at: HashMap<String, u64> = HashMap::new();
    let mut on_victim = 0;
    let mut i = 0u64;
    while on_victim < 1000 {
        let opaque = format!("t{i}");
        i += 1;
        let interval = Duration::from_millis(3000 + (i % 7) * 100);
        let before = wall_ms();
        let id = client
            .set(TimerSpec::once(interval, callback.clone(), opaque.clone()))
            .await
            .unwrap();
        if cluster.primary(&id) == victim {
            on_victim += 1;
        }
        set_at.insert(
            opaque,
            before + u64::try_from(interval.as_millis()).unwrap(),
        );
        assert!(
            set_at.len() < 10_000,
            "rendezvous hashing never picks member 0"
        );
    }
    let total = set_at.len();
    // Each timer is on two members; between them they hold every copy.
    let held: usize = cluster.status.iter().map(NodeStatus::timers).sum();
    assert_eq!(held, 2 * total, "every acknowledged timer has two copies");
    cluster.kill(victim).await;

    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut duplicates = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen.len() < total {
        let pop = tokio::time::timeout_at(deadline, pops.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {total} timers popped", seen.len()))
            .unwrap();
        let due = set_at[&pop.opaque];
        assert!(
            pop.at_ms >= due,
            "{} popped {} ms early",
            pop.opaque,
            due - pop.at_ms
        );
        let late = pop.at_ms.saturating_sub(due);
        assert!(
            late <= 1000 + 2000,
            "{} popped {late} ms late (bound: skew 1000 ms + 2000 ms slack)",
            pop.opaque
        );
        if let Some(seq) = seen.insert(pop.opaque.clone(), pop.sequence) {
            duplicates += 1;
            assert_eq!(
                seq, pop.sequence,
                "a duplicate pop with another sequence number"
            );
        }
        assert_eq!(pop.sequence, 1);
    }
    // Let any straggler arrive: none may be a new timer.
    tokio::time::sleep(skew * 2).await;
    while let Ok(pop) = pops.try_recv() {
        assert_eq!(
            seen.get(&pop.opaque),
            Some(&pop.sequence),
            "unexpected pop {pop:?}"
        );
        duplicates += 1;
    }
    assert_eq!(duplicates, 0, "duplicates without a netsplit");
}

/// Update and delete reach every replica: a deleted timer pops nowhere, an
/// updated one pops once with the new data; a repeating timer pops with
/// increasing sequence numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_delete_and_repeat_over_http() {
    let cluster = Cluster::start(3, Duration::from_millis(300)).await;
    let (callback, mut pops) = pop_receiver().await;
    let client = cluster.client();
    let ms = Duration::from_millis;
    let mut deleted = Vec::new();
    for i in 0..20 {
        let id = client
            .set(TimerSpec::once(
                ms(400),
                callback.clone(),
                format!("del{i}"),
            ))
            .await
            .unwrap();
        deleted.push(id);
    }
    let updated = client
        .set(TimerSpec::once(ms(400), callback.clone(), "old"))
        .await
        .unwrap();
    client
        .set(TimerSpec::repeating(ms(200), ms(600), callback.clone(), "rep").with_replication(3))
        .await
        .unwrap();
    for id in &deleted {
        client.cancel(id).await.unwrap();
    }
    client
        .update(&updated, TimerSpec::once(ms(500), callback.clone(), "new"))
        .await
        .unwrap();

    let mut got: Vec<(String, u64)> = Vec::new();
    let end = tokio::time::Instant::now() + Duration::from_secs(3);
    while let Ok(Some(p)) = tokio::time::timeout_at(end, pops.recv()).await {
        got.push((p.opaque, p.sequence));
    }
    got.sort();
    assert_eq!(
        got,
        [
            ("new".to_owned(), 1),
            ("rep".to_owned(), 1),
            ("rep".to_owned(), 2),
            ("rep".to_owned(), 3)
        ],
        "deleted timers must not pop; the updated one pops once with its new data"
    );
}

/// Sends one raw HTTP/1.1 request and returns (status, body).
async fn raw(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let (status, _, body) = raw_full(addr, method, path, body).await;
    (status, body)
}

/// Sends one raw HTTP/1.1 request and returns (status, head, body).
async fn raw_full(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text[9..12].parse().unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_owned(), body.to_owned())
}

#[tokio::test]
async fn bad_requests_get_400_with_a_reason() {
    let cluster = Cluster::start(1, Duration::from_millis(100)).await;
    let a = cluster.addrs[0];
    let cb = r#""callback":{"http":{"uri":"http://127.0.0.1:9/pop","opaque":"x"}}"#;
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "not JSON"),
        ("[1,2]".into(), "JSON object"),
        (format!("{{{cb}}}"), "timing"),
        (
            format!(r#"{{"timing":{{"interval":-1}},{cb}}}"#),
            "interval",
        ),
        (
            format!(r#"{{"timing":{{"interval":"10"}},{cb}}}"#),
            "interval",
        ),
        (
            format!(r#"{{"timing":{{"interval":10,"repeat-for":5}},{cb}}}"#),
            "repeat-for",
        ),
        (
            format!(r#"{{"timing":{{"interval":1e12}},{cb}}}"#),
            "one year",
        ),
        (r#"{"timing":{"interval":10}}"#.into(), "callback"),
        (
            r#"{"timing":{"interval":10},"callback":{"http":{"uri":"ftp://x/y"}}}"#.into(),
            "http://",
        ),
        (
            format!(
                r#"{{"timing":{{"interval":10}},{cb},"reliability":{{"replication-factor":7}}}}"#
            ),
            "replication-factor",
        ),
    ];
    for (body, why) in cases {
        let (status, answer) = raw(a, "POST", "/timers", body.as_bytes()).await;
        assert_eq!(status, 400, "{body} → {answer}");
        let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
        let reason = v["error"].as_str().unwrap();
        assert!(
            reason.contains(why),
            "{body}: reason {reason:?} should mention {why:?}"
        );
    }
    let huge = vec![b' '; 70 * 1024];
    assert_eq!(raw(a, "POST", "/timers", &huge).await.0, 413);
    assert_eq!(raw(a, "PUT", "/timers/nothex", b"{}").await.0, 404);
    assert_eq!(raw(a, "DELETE", "/timers/123", b"").await.0, 404);
    assert_eq!(
        raw(a, "POST", "/internal/peer", b"{\"type\":\"nonsense\"}")
            .await
            .0,
        400
    );
    // Wrong methods and unknown paths get the JSON error body too.
    for (method, path, status) in [("GET", "/timers", 405), ("GET", "/nowhere", 404)] {
        let (got, answer) = raw(a, method, path, b"").await;
        assert_eq!(got, status, "{method} {path}");
        let v: serde_json::Value = serde_json::from_str(&answer)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}: {answer:?}"));
        assert!(v["error"].as_str().is_some(), "{answer}");
    }
    // Upper-case ids would be other keys for the same timer: refused.
    assert_eq!(
        raw(a, "DELETE", "/timers/0123456789ABCDEF0123456789abcdef", b"")
            .await
            .0,
        404
    );
    assert_eq!(raw(a, "GET", "/ping", b"").await, (200, "OK".to_owned()));
    // A good one: 200 and a Location naming a 32-hex-digit id.
    let good = format!(r#"{{"timing":{{"interval":100,"repeat-for":100}},{cb}}}"#);
    let mut s = TcpStream::connect(a).await.unwrap();
    let req = format!(
        "POST /timers HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{good}",
        good.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    let location = out
        .lines()
        .find_map(|l| l.strip_prefix("location: /timers/"))
        .unwrap_or_else(|| panic!("no Location in {out}"));
    parse_id(location.trim()).unwrap();
    // DELETE of an unknown but well-formed id: fine.
    assert_eq!(
        raw(a, "DELETE", "/timers/0123456789abcdef0123456789abcdef", b"")
            .await
            .0,
        200
    );
}

/// The client rides over a dead node, and reports Invalid for a 400.
#[tokio::test]
async fn client_fails_over_and_reports_reasons() {
    let mut cluster = Cluster::start(2, Duration::from_millis(100)).await;
    cluster.kill(0).await;
    let client = cluster.client();
    for _ in 0..4 {
        // With replication 2 on two members, both are replicas: whichever
        // node the client tries first, the live one takes the timer (the
        // dead one's connection is refused and the client moves on).
        client
            .set(TimerSpec::once(
                Duration::from_secs(60),
                "http://127.0.0.1:9/x",
                "o",
            ))
            .await
            .unwrap();
    }
    assert_eq!(cluster.status[1].timers(), 4);
    let err = ChronosClient::new(["ftp://x"]).err().unwrap();
    assert!(err.to_string().contains("http://"));
    let bad = TimerSpec::once(Duration::from_secs(1), "not-a-uri", "o");
    let err = client.set(bad).await.unwrap_err();
    assert!(
        matches!(err, clearwater_timers::TimerError::Invalid(ref r) if r.contains("http://")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickled_too_slowly_fails_and_frees_the_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let me = addr.to_string();
    let mut config = NodeConfig::new(me.clone(), [me]);
    config.body_timeout = Duration::from_millis(300);
    let task = tokio::spawn(ChronosNode::new(listener, config).run());
    // Headers promise 100 bytes; one arrives, then nothing.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /timers HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        .await
        .unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(3), async {
        let mut buf = [0u8; 1024];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            if got.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer: the slow body held the connection");
    let head = String::from_utf8_lossy(&got);
    assert!(head.starts_with("HTTP/1.1 4"), "{head}");
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_peer_key_only_members_replicate() {
    // Two members sharing a key: a timer set at one is held by both. A
    // client without the key cannot pose as a member.
    let la = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lb = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (a, b) = (la.local_addr().unwrap(), lb.local_addr().unwrap());
    let members = [a.to_string(), b.to_string()];
    let config = |me: SocketAddr| {
        let mut c = NodeConfig::new(me.to_string(), members.clone());
        c.peer_key = Some("s3cret-key".to_owned());
        c
    };
    let na = ChronosNode::new(la, config(a));
    let nb = ChronosNode::new(lb, config(b));
    let (sa, sb) = (na.status(), nb.status());
    let ta = tokio::spawn(na.run());
    let tb = tokio::spawn(nb.run());
    let body = r#"{"timing":{"interval":300},"callback":{"http":{"uri":"http://127.0.0.1:9/x"}},"reliability":{"replication-factor":2}}"#;
    let req = format!(
        "POST /timers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut s = TcpStream::connect(a).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    assert_eq!((sa.timers(), sb.timers()), (1, 1));
    // A message to /internal/peer without the key (or with another) is 403.
    for key in [None, Some("guess")] {
        let msg = r#"{"type":"popped","id":"00000000000000000000000000000000","version":{"ms":1,"node":1},"sequence":1}"#;
        let extra = key.map_or(String::new(), |k| {
            format!("{}: {k}\r\n", clearwater_timers::PEER_KEY_HEADER)
        });
        let req = format!(
            "POST /internal/peer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{extra}\
             Content-Length: {}\r\nConnection: close\r\n\r\n{msg}",
            msg.len()
        );
        let mut s = TcpStream::connect(b).await.unwrap();
        s.write_all(req.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).await.unwrap();
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 403"), "{text}");
    }
    ta.abort();
    tb.abort();
    // A key that could not work (empty: an empty header would match; with a
    // space: trimmed in transit) is refused when the node starts.
    for bad in ["", "short", "has space"] {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let me = l.local_addr().unwrap().to_string();
        let mut c = NodeConfig::new(me.clone(), [me]);
        c.peer_key = Some(bad.to_owned());
        let r = tokio::time::timeout(Duration::from_secs(2), ChronosNode::new(l, c).run()).await;
        assert!(matches!(r, Ok(Err(_))), "{bad:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_from_a_lagging_member_is_stamped_again_and_reaches_every_replica() {
    // Two timers on both nodes. Node 1 is then given a copy of the second
    // stamped a minute ahead of node 0's clock (as if the member that made
    // it ran ahead: node 0 lags). A DELETE of it through node 0 is stamped
    // older than that copy: node 1 refuses it with the version it holds,
    // and node 0 stamps the deletion again past it. Without that, node 1
    // kept the timer and popped it.
    let cluster = Cluster::start(2, Duration::from_millis(300)).await;
    let (callback, mut pops) = pop_receiver().await;
    let create = |opaque: &str| {
        format!(
            r#"{{"timing":{{"interval":2,"repeat-for":2}},"callback":{{"http":{{"uri":"{callback}","opaque":"{opaque}"}}}},"reliability":{{"replication-factor":2}}}}"#
        )
    };
    let (status, _, _) = raw_full(
        cluster.addrs[0],
        "POST",
        "/timers",
        create("kept").as_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    let (status, head, _) = raw_full(
        cluster.addrs[0],
        "POST",
        "/timers",
        create("deleted").as_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    let head = head.to_ascii_lowercase();
    let at = head.find("location: /timers/").expect("a Location") + 18;
    let id = head[at..at + 32].to_owned();

    let now = wall_ms();
    let ahead = TimerState {
        id: id.clone(),
        version: Version {
            ms: now + 60_000,
            node: 7,
        },
        interval_ms: 2000,
        repeat_for_ms: 2000,
        callback: callback.clone(),
        opaque: "deleted".into(),
        start_ms: now,
        popped: 0,
        replicas: cluster.members.clone(),
        deleted: false,
    };
    let message = serde_json::to_vec(&PeerMessage::Replicate(ahead)).unwrap();
    let (status, _) = raw(cluster.addrs[1], "POST", "/internal/peer", &message).await;
    assert_eq!(status, 200, "node 1 takes the copy from a minute ahead");

    let (status, body) = raw(cluster.addrs[0], "DELETE", &format!("/timers/{id}"), b"").await;
    assert_eq!(status, 200, "{body}");
    // The kept timer pops once, at about 2 s; the deleted one from no node.
    let mut got = Vec::new();
    let end = tokio::time::Instant::now() + Duration::from_millis(4000);
    while let Ok(Some(p)) = tokio::time::timeout_at(end, pops.recv()).await {
        got.push((p.opaque, p.sequence));
    }
    assert_eq!(
        got,
        [("kept".to_owned(), 1)],
        "the deleted timer popped: node 1 kept its newer copy"
    );
}
