//! The tokio driver (feature `runtime`): a Diameter [`Node`] that keeps
//! TCP connections to its configured peers (and accepts connections from
//! others), each driven by a [`Peer`] state machine, and routes requests by
//! realm with failover.
//!
//! ## Routing
//!
//! [`Node::request`] picks the peers for a request:
//!
//! 1. a Destination-Host that names an open peer: that peer only;
//! 2. otherwise the peers routed for the Destination-Realm
//!    ([`PeerSpec::realm`], or the realm a peer announced in its CER/CEA),
//!    in the order they were added; peers with realm `*` serve every realm
//!    (a default route);
//!
//! and sends to the first open one. When that peer cannot answer — the
//! connection fails or the watchdog declares it down with the request in
//! flight, the request times out, or the answer is the protocol error 3002
//! DIAMETER_UNABLE_TO_DELIVER or 3004 DIAMETER_TOO_BUSY — the request is
//! sent to the next one with the T bit set and the same end-to-end
//! identifier (RFC 6733 §5.5.4). With no open peer the error is
//! [`NodeError::NoRoute`].
//!
//! ## Requests from peers
//!
//! Requests from a peer (Cx PPR and RTR from an HSS) go to the
//! [`RequestHandler`] set with [`Node::set_handler`]; its answer is sent
//! back on the same connection. Without a handler they are answered 3001
//! DIAMETER_COMMAND_UNSUPPORTED.
//!
//! ## Tasks
//!
//! Each connection is a tokio task owned by the node: when the last
//! [`Node`] handle is dropped the tasks close their connections and end.
//! [`Node::shutdown`] disconnects politely (DPR) first.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use crate::DiameterError;
use crate::avp::code;
use crate::codes::{CommandFlags, ResultCode};
use crate::message::Message;
use crate::peer::{
    EndToEndIds, Event, FailReason, LocalIdentity, Peer, PeerConfig, PeerInfo, Role, SendError,
    disconnect_cause,
};

/// A boxed future, as [`RequestHandler`] returns.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Answers requests that peers send this node.
pub trait RequestHandler: Send + Sync + 'static {
    /// Answers `request` (build the answer with [`Message::answer`]), which
    /// came from `from`.
    fn handle(&self, request: Message, from: PeerInfo) -> BoxFuture<Message>;
}

impl<F, Fut> RequestHandler for F
where
    F: Fn(Message, PeerInfo) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Message> + Send + 'static,
{
    fn handle(&self, request: Message, from: PeerInfo) -> BoxFuture<Message> {
        Box::pin(self(request, from))
    }
}

/// Why [`Node::request`] got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// No open peer serves the destination.
    #[error("no open peer for realm {0}")]
    NoRoute(String),
    /// Every peer tried timed out or failed.
    #[error("no answer: {0}")]
    NoAnswer(String),
    /// The request cannot be sent (not a request, no Destination-Realm).
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl NodeError {
    /// The Result-Code a relay would answer with.
    pub fn result_code(&self) -> ResultCode {
        match self {
            NodeError::NoRoute(_) | NodeError::NoAnswer(_) => ResultCode::UNABLE_TO_DELIVER,
            NodeError::Invalid(_) => ResultCode::UNABLE_TO_COMPLY,
        }
    }
}

/// A peer to connect to.
#[derive(Debug, Clone)]
pub struct PeerSpec {
    /// Its address.
    pub addr: SocketAddr,
    /// The realm it is routed for (`*` for every realm). Its announced
    /// realm is routed too.
    pub realm: String,
    /// Its expected Origin-Host, if known (other hosts are refused).
    pub host: Option<String>,
}

/// Node-wide settings.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// What this node announces.
    pub local: LocalIdentity,
    /// RFC 3539 Tw.
    pub watchdog: Duration,
    /// DWAs needed to reuse a reopened connection.
    pub reopen_watchdogs: u32,
    /// Per-attempt request timeout.
    pub request_timeout: Duration,
    /// Reconnect back-off, first and longest wait.
    pub backoff: (Duration, Duration),
    /// Time allowed for a TCP connect.
    pub connect_timeout: Duration,
    /// Largest message accepted.
    pub max_message: usize,
    /// Requests from one peer being handled at once (default 1024); more
    /// are answered 3004 DIAMETER_TOO_BUSY without calling the handler.
    pub max_inbound_in_flight: usize,
    /// Messages queued for one connection's socket (default 16 384, above
    /// the 10 000 requests a peer may have in flight). A peer that stops
    /// reading until its queue is full is disconnected.
    pub max_write_queue: usize,
    /// Longest one socket write may take (default 10 s) before the
    /// connection is dropped as dead.
    pub write_timeout: Duration,
    /// The Origin-Hosts [`Node::serve`] accepts connections from (`None`,
    /// the default: any host, for trusted networks). An accepted peer
    /// becomes a route for the realm it announces, so on an open network
    /// list the peers.
    pub allowed_peers: Option<Vec<String>>,
}

impl NodeConfig {
    /// Defaults (Tw 30 s, 3 reopen DWAs, 5 s requests, back-off 1–30 s).
    pub fn new(local: LocalIdentity) -> NodeConfig {
        NodeConfig {
            local,
            watchdog: Duration::from_secs(30),
            reopen_watchdogs: 3,
            request_timeout: Duration::from_secs(5),
            backoff: (Duration::from_secs(1), Duration::from_secs(30)),
            connect_timeout: Duration::from_secs(3),
            max_message: 1 << 20,
            max_inbound_in_flight: 1024,
            max_write_queue: 16_384,
            write_timeout: Duration::from_secs(10),
            allowed_peers: None,
        }
    }

    fn peer_config(&self, role: Role, host: Option<String>, seed: u64) -> PeerConfig {
        let mut c = PeerConfig::new(role);
        c.expected_host = host;
        c.watchdog = self.watchdog;
        c.reopen_watchdogs = self.reopen_watchdogs;
        c.request_timeout = self.request_timeout;
        c.backoff_initial = self.backoff.0;
        c.backoff_max = self.backoff.1;
        c.max_message = self.max_message;
        c.seed = seed;
        c
    }
}

/// What a peer's state looks like from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    /// The configured address (initiated) or the remote address (accepted).
    pub addr: SocketAddr,
    /// The realm routed to it.
    pub realm: String,
    /// What its capabilities exchange said, once done.
    pub info: Option<PeerInfo>,
    /// Whether it is open for requests.
    pub open: bool,
}

type Reply = oneshot::Sender<Result<Message, (Message, String)>>;

enum Command {
    Send(Message, Reply),
    Answer(Message),
    Disconnect(u32, oneshot::Sender<()>),
}

struct Entry {
    id: u64,
    status: PeerStatus,
    tx: mpsc::UnboundedSender<Command>,
}

struct Inner {
    config: NodeConfig,
    peers: Mutex<Vec<Entry>>,
    handler: Mutex<Option<Arc<dyn RequestHandler>>>,
    e2e: Mutex<EndToEndIds>,
    seq: Mutex<u64>,
    seed: u64,
}

impl Inner {
    fn peers(&self) -> MutexGuard<'_, Vec<Entry>> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn next_seed(&self) -> (u64, u64) {
        let mut s = self.seq.lock().unwrap_or_else(|p| p.into_inner());
        *s += 1;
        (*s, self.seed ^ s.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    fn update(&self, id: u64, f: impl FnOnce(&mut PeerStatus)) {
        if let Some(e) = self.peers().iter_mut().find(|e| e.id == id) {
            f(&mut e.status);
        }
    }
}

/// A Diameter node: see the [module docs](self). Cloning gives another
/// handle to the same node.
#[derive(Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("origin_host", &self.inner.config.local.origin_host)
            .finish()
    }
}

impl Node {
    /// A node with no peers yet. Its Origin-State-Id is set from the clock
    /// if left at 0.
    pub fn new(mut config: NodeConfig) -> Node {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        if config.local.origin_state_id == 0 {
            config.local.origin_state_id = now.as_secs() as u32;
        }
        let seed = std::collections::hash_map::RandomState::new();
        let seed = std::hash::BuildHasher::hash_one(&seed, now.as_nanos());
        Node {
            inner: Arc::new(Inner {
                peers: Mutex::new(Vec::new()),
                handler: Mutex::new(None),
                e2e: Mutex::new(EndToEndIds::new(now.as_secs(), seed as u32)),
                seq: Mutex::new(0),
                seed,
                config,
            }),
        }
    }

    /// The node's settings.
    pub fn config(&self) -> &NodeConfig {
        &self.inner.config
    }

    /// Sets the handler for requests from peers.
    pub fn set_handler(&self, handler: impl RequestHandler) {
        *self.inner.handler.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(handler));
    }

    /// Adds a peer to connect to (and reconnect to, with back-off). Must be
    /// called inside a tokio runtime.
    pub fn add_peer(&self, spec: PeerSpec) {
        let (id, seed) = self.inner.next_seed();
        let config = self
            .inner
            .config
            .peer_config(Role::Initiator, spec.host.clone(), seed);
        let (tx, rx) = mpsc::unbounded_channel();
        self.inner.peers().push(Entry {
            id,
            status: PeerStatus {
                addr: spec.addr,
                realm: spec.realm,
                info: None,
                open: false,
            },
            tx,
        });
        let peer = Peer::new(self.inner.config.local.clone(), config, Instant::now());
        tokio::spawn(drive(
            Arc::downgrade(&self.inner),
            id,
            peer,
            Transport::Dial(spec.addr),
            rx,
        ));
    }

    /// Accepts connections from peers on `listener` until the future is
    /// dropped. Accepted peers are routed by the realm they announce. A
    /// failed `accept` (out of file descriptors...) is logged and accepting
    /// goes on after a short pause; the `Result` is never an error.
    pub async fn serve(&self, listener: TcpListener) -> io::Result<()> {
        loop {
            let (stream, addr) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let (id, seed) = self.inner.next_seed();
            let mut config = self.inner.config.peer_config(Role::Responder, None, seed);
            config.allowed_hosts = self.inner.config.allowed_peers.clone();
            let (tx, rx) = mpsc::unbounded_channel();
            self.inner.peers().push(Entry {
                id,
                status: PeerStatus {
                    addr,
                    realm: String::new(),
                    info: None,
                    open: false,
                },
                tx,
            });
            let mut peer = Peer::new(self.inner.config.local.clone(), config, Instant::now());
            peer.connected(Instant::now());
            tokio::spawn(drive(
                Arc::downgrade(&self.inner),
                id,
                peer,
                Transport::Accepted(stream),
                rx,
            ));
        }
    }

    /// The peers and their state.
    pub fn peers(&self) -> Vec<PeerStatus> {
        self.inner
            .peers()
            .iter()
            .map(|e| e.status.clone())
            .collect()
    }

    /// Waits until at least `n` peers are open, up to `timeout`.
    pub async fn wait_open(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.inner.peers().iter().filter(|e| e.status.open).count() >= n {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A new end-to-end identifier (for requests built by hand).
    pub fn next_end_to_end(&self) -> u32 {
        self.inner
            .e2e
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .next_id()
    }

    /// Sends a request and waits for its answer, routing and failing over
    /// as the [module docs](self) say. Identifiers are allocated here.
    pub async fn request(&self, mut request: Message) -> Result<Message, NodeError> {
        if !request.is_request() {
            return Err(NodeError::Invalid("not a request".to_owned()));
        }
        let realm = match request.avp(code::DESTINATION_REALM) {
            Some(a) => a
                .as_identity()
                .map_err(|e| NodeError::Invalid(e.to_string()))?
                .to_owned(),
            None => return Err(NodeError::Invalid("no Destination-Realm".to_owned())),
        };
        let host = request
            .avp(code::DESTINATION_HOST)
            .and_then(|a| a.as_identity().ok())
            .map(str::to_owned);
        if request.end_to_end == 0 {
            request.end_to_end = self.next_end_to_end();
        }
        let candidates = self.candidates(&realm, host.as_deref());
        if candidates.is_empty() {
            return Err(NodeError::NoRoute(realm));
        }
        let mut last_error = String::new();
        let mut last_answer = None;
        let mut sent_once = false;
        for (i, tx) in candidates.iter().enumerate() {
            if sent_once {
                request.flags.0 |= CommandFlags::RETRANSMIT;
            }
            let (reply, rx) = oneshot::channel();
            if tx.send(Command::Send(request.clone(), reply)).is_err() {
                continue;
            }
            match rx.await {
                Ok(Ok(answer)) => {
                    sent_once = true;
                    let rc = answer.result_code().ok().flatten();
                    let retry = answer.flags.is_error()
                        && matches!(
                            rc,
                            Some(ResultCode::UNABLE_TO_DELIVER | ResultCode::TOO_BUSY)
                        )
                        && i + 1 < candidates.len();
                    if !retry {
                        return Ok(answer);
                    }
                    last_answer = Some(answer);
                }
                Ok(Err((back, why))) => {
                    // Sent only if the peer accepted it into flight.
                    sent_once |= back.hop_by_hop != 0;
                    request.hop_by_hop = 0;
                    last_error = why;
                }
                Err(_) => last_error = "peer task ended".to_owned(),
            }
        }
        match last_answer {
            Some(a) => Ok(a),
            None => Err(NodeError::NoAnswer(last_error)),
        }
    }

    /// Disconnects every peer with DPR (cause REBOOTING) and waits for them
    /// to close, up to the request timeout.
    pub async fn shutdown(&self) {
        let txs: Vec<_> = self.inner.peers().iter().map(|e| e.tx.clone()).collect();
        let mut waits = Vec::new();
        for tx in txs {
            let (done, rx) = oneshot::channel();
            if tx
                .send(Command::Disconnect(disconnect_cause::REBOOTING, done))
                .is_ok()
            {
                waits.push(rx);
            }
        }
        let limit = self.inner.config.request_timeout + Duration::from_secs(1);
        let _ = tokio::time::timeout(limit, async {
            for w in waits {
                let _ = w.await;
            }
        })
        .await;
    }

    fn candidates(&self, realm: &str, host: Option<&str>) -> Vec<mpsc::UnboundedSender<Command>> {
        let peers = self.inner.peers();
        let open = |e: &&Entry| e.status.open;
        if let Some(h) = host {
            let by_host: Vec<_> = peers
                .iter()
                .filter(open)
                .filter(|e| {
                    e.status
                        .info
                        .as_ref()
                        .is_some_and(|i| i.host.eq_ignore_ascii_case(h))
                })
                .map(|e| e.tx.clone())
                .collect();
            if !by_host.is_empty() {
                return by_host;
            }
        }
        let serves = |e: &&Entry| {
            e.status.realm.eq_ignore_ascii_case(realm)
                || e.status
                    .info
                    .as_ref()
                    .is_some_and(|i| i.realm.eq_ignore_ascii_case(realm))
        };
        let mut out: Vec<_> = peers
            .iter()
            .filter(open)
            .filter(serves)
            .map(|e| e.tx.clone())
            .collect();
        out.extend(
            peers
                .iter()
                .filter(open)
                .filter(|e| e.status.realm == "*" && !serves(e))
                .map(|e| e.tx.clone()),
        );
        out
    }
}

enum Transport {
    Dial(SocketAddr),
    Accepted(TcpStream),
}

type Connecting = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;

/// One peer's task: the state machine, its connection and its commands.
async fn drive(
    node: Weak<Inner>,
    id: u64,
    mut peer: Peer,
    transport: Transport,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let (addr, mut stream) = match transport {
        Transport::Dial(a) => (Some(a), None),
        Transport::Accepted(s) => (None, Some(s)),
    };
    // The node's settings, read once; with every node handle gone there is
    // nothing to drive.
    let Some(n) = node.upgrade() else {
        return;
    };
    let c = &n.config;
    let (connect_timeout, in_flight, queue, write_timeout) = (
        c.connect_timeout,
        c.max_inbound_in_flight,
        c.max_write_queue,
        c.write_timeout,
    );
    drop(n);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(in_flight));
    let mut reader: Option<tokio::net::tcp::OwnedReadHalf> = None;
    let mut writer: Option<mpsc::Sender<Bytes>> = None;
    if let Some(s) = stream.take() {
        let (r, w) = s.into_split();
        reader = Some(r);
        writer = Some(spawn_writer(w, queue, write_timeout));
    }
    let mut connecting: Option<Connecting> = None;
    let mut replies: std::collections::HashMap<u32, Reply> = std::collections::HashMap::new();
    let mut disconnect_waiters: Vec<oneshot::Sender<()>> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // Carry out what the state machine asked.
        while let Some(ev) = peer.poll_event() {
            match ev {
                Event::Connect => {
                    if let Some(a) = addr {
                        connecting = Some(Box::pin(async move {
                            match tokio::time::timeout(connect_timeout, TcpStream::connect(a)).await
                            {
                                Ok(r) => r,
                                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect")),
                            }
                        }));
                    }
                }
                Event::Disconnect => {
                    reader = None;
                    writer = None;
                }
                Event::Up(info) => {
                    tracing::info!("diameter peer {} ({}) is up", info.host, info.realm);
                    let Some(n) = node.upgrade() else { return };
                    n.update(id, |s| {
                        if s.realm.is_empty() {
                            s.realm = info.realm.clone();
                        }
                        s.info = Some(info);
                        s.open = true;
                    });
                }
                Event::Down(why) => {
                    tracing::info!("diameter peer down: {why}");
                    if let Some(n) = node.upgrade() {
                        n.update(id, |s| s.open = false);
                    }
                }
                Event::Request(m) => {
                    let Some(n) = node.upgrade() else { return };
                    let handler = n.handler.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    let info = peer.info().cloned();
                    let permit = in_flight.clone().try_acquire_owned();
                    match (handler, info, permit) {
                        (Some(_), Some(_), Err(_)) => {
                            let e = DiameterError::new(
                                ResultCode::TOO_BUSY,
                                "too many requests from this peer in progress",
                            );
                            let local = &n.config.local;
                            peer.send_answer(m.error_answer(
                                &e,
                                &local.origin_host,
                                &local.origin_realm,
                            ));
                        }
                        (Some(h), Some(info), Ok(permit)) => {
                            let tx = n.peers().iter().find(|e| e.id == id).map(|e| e.tx.clone());
                            // The whole handler runs in its own task, so a
                            // slow one never stalls this connection.
                            tokio::spawn(async move {
                                let answer = h.handle(m, info).await;
                                drop(permit);
                                if let Some(tx) = tx {
                                    let _ = tx.send(Command::Answer(answer));
                                }
                            });
                        }
                        _ => {
                            let e = DiameterError::new(
                                ResultCode::COMMAND_UNSUPPORTED,
                                format!("no handler for {}", m.code),
                            );
                            let local = &n.config.local;
                            peer.send_answer(m.error_answer(
                                &e,
                                &local.origin_host,
                                &local.origin_realm,
                            ));
                        }
                    }
                }
                Event::Answer { id, answer } => {
                    if let Some(r) = replies.remove(&id) {
                        let _ = r.send(Ok(answer));
                    }
                }
                Event::Failed {
                    id,
                    request,
                    reason,
                } => {
                    if let Some(r) = replies.remove(&id) {
                        let why = match reason {
                            FailReason::Timeout => "timeout",
                            FailReason::ConnectionLost => "connection lost",
                        };
                        let _ = r.send(Err((request, why.to_owned())));
                    }
                }
            }
        }
        while let Some(bytes) = peer.poll_transmit() {
            // A full queue is a peer that does not read: drop it, like a
            // failed write.
            if let Some(w) = &writer
                && w.try_send(bytes).is_err()
            {
                tracing::warn!("diameter peer not reading or connection failed: closing");
                writer = None;
                reader = None;
                peer.closed(Instant::now());
            }
        }
        if peer.is_finished() {
            for w in disconnect_waiters.drain(..) {
                let _ = w.send(());
            }
            if let Some(n) = node.upgrade() {
                n.peers().retain(|e| e.id != id || addr.is_some());
            }
            if addr.is_none() || node.upgrade().is_none() {
                return;
            }
        }
        let deadline = peer.poll_timeout();
        let sleep = async {
            match deadline {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            read = read_some(&mut reader, &mut buf), if reader.is_some() => match read {
                Ok(0) | Err(_) => {
                    reader = None;
                    writer = None;
                    peer.closed(Instant::now());
                }
                Ok(n) => peer.receive(Instant::now(), &buf[..n]),
            },
            result = finish_connect(&mut connecting), if connecting.is_some() => {
                connecting = None;
                match result {
                    Ok(s) => {
                        let _ = s.set_nodelay(true);
                        let (r, w) = s.into_split();
                        reader = Some(r);
                        writer = Some(spawn_writer(w, queue, write_timeout));
                        peer.connected(Instant::now());
                    }
                    Err(e) => {
                        tracing::debug!("diameter connect: {e}");
                        peer.connect_failed(Instant::now());
                    }
                }
            }
            cmd = commands.recv() => match cmd {
                None => {
                    // Every node handle is gone.
                    peer.disconnect(Instant::now(), disconnect_cause::REBOOTING);
                    while let Some(bytes) = peer.poll_transmit() {
                        if let Some(w) = &writer { let _ = w.try_send(bytes); }
                    }
                    return;
                }
                Some(Command::Send(m, reply)) => match peer.send_request(Instant::now(), m) {
                    Ok(hbh) => { replies.insert(hbh, reply); }
                    Err(e) => {
                        let why = match &e {
                            SendError::NotOpen(_) => "peer not open",
                            SendError::ApplicationUnsupported(_) => "application not supported by the peer",
                            SendError::Busy(_) => "too many requests in flight",
                            SendError::NotARequest(_) => "not a request",
                        };
                        let _ = reply.send(Err((e.into_message(), why.to_owned())));
                    }
                },
                Some(Command::Answer(m)) => peer.send_answer(m),
                Some(Command::Disconnect(cause, done)) => {
                    peer.disconnect(Instant::now(), cause);
                    disconnect_waiters.push(done);
                }
            },
            _ = sleep => peer.handle_timeout(Instant::now()),
            // The writer gave up (a write failed or passed `write_timeout`):
            // the connection is dead now, not at the next message queued.
            () = writer_gone(&writer), if writer.is_some() => {
                tracing::warn!("diameter write failed or timed out: closing");
                writer = None;
                reader = None;
                peer.closed(Instant::now());
            }
        }
    }
}

async fn writer_gone(writer: &Option<mpsc::Sender<Bytes>>) {
    match writer {
        Some(w) => w.closed().await,
        None => std::future::pending().await,
    }
}

async fn read_some(
    reader: &mut Option<tokio::net::tcp::OwnedReadHalf>,
    buf: &mut [u8],
) -> io::Result<usize> {
    match reader {
        Some(r) => r.read(buf).await,
        None => std::future::pending().await,
    }
}

async fn finish_connect(connecting: &mut Option<Connecting>) -> io::Result<TcpStream> {
    match connecting {
        Some(c) => c.await,
        None => std::future::pending().await,
    }
}

/// Writes what the peer task queues (at most `queue` messages), batching
/// what is ready; a write that takes longer than `limit` ends it (the
/// queue then refuses, and the peer task closes the connection).
fn spawn_writer(mut w: OwnedWriteHalf, queue: usize, limit: Duration) -> mpsc::Sender<Bytes> {
    let (tx, mut rx) = mpsc::channel::<Bytes>(queue.max(1));
    tokio::spawn(async move {
        let mut batch = BytesMut::new();
        while let Some(first) = rx.recv().await {
            batch.extend_from_slice(&first);
            while batch.len() < 256 * 1024 {
                match rx.try_recv() {
                    Ok(b) => batch.extend_from_slice(&b),
                    Err(_) => break,
                }
            }
            if !matches!(
                tokio::time::timeout(limit, w.write_all(&batch)).await,
                Ok(Ok(()))
            ) {
                return;
            }
            batch.clear();
        }
        let _ = w.shutdown().await;
    });
    tx
}

/// An answer refusing `request` with `rc` (for handlers).
pub fn refuse(request: &Message, rc: ResultCode, reason: &str, local: &LocalIdentity) -> Message {
    let e = DiameterError::new(rc, reason);
    request.error_answer(&e, &local.origin_host, &local.origin_realm)
}
