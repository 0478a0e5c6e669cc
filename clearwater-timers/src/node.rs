//! [`ChronosNode`]: one member of the Chronos-compatible clustered timer
//! service, over HTTP.

use std::hash::{BuildHasher, RandomState};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::client::Http;
use crate::cluster::{ClusterConfig, ClusterCore, Output, PeerMessage, Placement};
use crate::{HttpPopSink, PopSink, TimerError, api};

/// Largest peer message accepted (bytes): a timer state with the largest
/// opaque data and some room.
const MAX_PEER_BODY: usize = 2 * api::MAX_BODY + 4096;
/// Most pops and peer messages in flight at once.
const MAX_IN_FLIGHT: usize = 8192;

/// A [`ChronosNode`]'s configuration.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct NodeConfig {
    /// The cluster: `cluster.me` is the `host:port` the other members reach
    /// this node at, `cluster.members` every member's.
    pub cluster: ClusterConfig,
    /// Time a peer has to answer a replication message (default 1 s).
    pub peer_timeout: Duration,
    /// Most HTTP connections served at once (default 10 000); further
    /// connections are closed at once.
    pub max_connections: usize,
    /// Time a client has to send a request's headers (default 30 s).
    pub header_timeout: Duration,
    /// Time a client has to send a request's body once its headers are in
    /// (default 10 s); a body still incomplete then fails the request, so a
    /// client trickling its body cannot hold a connection.
    pub body_timeout: Duration,
    /// A secret every member shares (default none). When set, this node
    /// sends it in [`PEER_KEY_HEADER`] with its replication messages and
    /// refuses `/internal/peer` messages without it (`403`), so a client of
    /// the timer API cannot pose as a member. It must be visible ASCII
    /// (no space), at least 8 characters: [`ChronosNode::run`] refuses
    /// another. It travels in clear, like the rest of the HTTP traffic.
    pub peer_key: Option<String>,
}

/// The header carrying [`NodeConfig::peer_key`].
pub const PEER_KEY_HEADER: &str = "x-chronos-peer-key";

impl NodeConfig {
    /// A member reached at `me` of the cluster `members`, with defaults.
    pub fn new<S: Into<String>>(
        me: impl Into<String>,
        members: impl IntoIterator<Item = S>,
    ) -> NodeConfig {
        NodeConfig {
            cluster: ClusterConfig::new(me, members),
            peer_timeout: Duration::from_secs(1),
            max_connections: 10_000,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(10),
            peer_key: None,
        }
    }

    /// Sets the delay between replica ranks (default 2 s).
    pub fn with_skew(mut self, skew: Duration) -> NodeConfig {
        self.cluster.skew = skew;
        self
    }
}

/// A request body that fails once its deadline passes while it is still
/// incomplete (the same as the Homestead services').
struct DeadlineBody {
    inner: axum::body::Body,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl hyper::body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, axum::Error>>> {
        use std::future::Future;
        use std::task::Poll;
        let this = &mut *self;
        if let Poll::Ready(frame) = std::pin::Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match this.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(io::Error::new(
                io::ErrorKind::TimedOut,
                "request body not received in time",
            ))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// One member of the clustered timer service: the Chronos HTTP API on a
/// listener, the [replication protocol](crate::cluster) with the other
/// members, and pops sent to a [`PopSink`] (by default an [`HttpPopSink`]:
/// `POST <callback URI>`).
///
/// ## The API
///
/// | request | answer |
/// |---|---|
/// | `POST /timers` with a [timer body](crate::api) | `200`, `Location: /timers/<id>` |
/// | `PUT /timers/<id>` with a timer body | `200`, `Location: /timers/<id>` (creates the timer if it is unknown) |
/// | `DELETE /timers/<id>` | `200` (also for an unknown timer) |
/// | `GET /ping` | `200 OK` |
/// | `POST /internal/peer` | replication between members (JSON [`PeerMessage`]) |
///
/// A body that cannot be accepted gets `400` with `{"error": "<reason>"}`;
/// a malformed id `404`; a body over 64 KiB `413`. `200` means at least
/// one replica holds the change: the node waits (up to `peer_timeout`) for
/// every other replica to acknowledge, so with two replicas up an
/// acknowledged timer survives the loss of either. When no replica can be
/// reached the answer is `503`. A replica that holds a newer version of the
/// timer than the change (this node's clock lags the one that stamped it)
/// answers the peer message `409` with the version it holds; the change is
/// then stamped again past it and sent again (twice at most), so the
/// replicas do not keep different versions and a client's later change is
/// not lost to a copy stamped by a clock that runs ahead. Two changes made
/// at the same moment through different members race, as in any
/// last-writer-wins store (a DELETE answered 200 may be undone by a PUT
/// made at the same time through a member whose clock lags); a peer
/// message that arrives late is never stamped again.
///
/// `/internal/peer` is for the members only: give them a shared
/// [`NodeConfig::peer_key`] (others then get `403`), or deploy the service
/// on a network where every client is trusted, as Chronos is.
///
/// ## Running
///
/// [`ChronosNode::run`] serves the listener, drives the timers and sends
/// the pops, all inside the one future: dropping it stops the node and
/// every connection and delivery it started (nothing is left running).
/// Timers are held in memory: a node that stops loses its copies, and the
/// other replicas pop for it.
pub struct ChronosNode {
    listener: TcpListener,
    core: Arc<Mutex<ClusterCore>>,
    sink: Arc<dyn PopSink>,
    config: NodeConfig,
}

struct Node {
    core: Arc<Mutex<ClusterCore>>,
    wake: Notify,
    peers: Http,
    sink: Arc<dyn PopSink>,
    /// The members' shared key, and its digest for comparisons.
    peer_key: Option<(String, [u8; 32])>,
}

fn key_digest(key: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(key).into()
}

fn lock(core: &Mutex<ClusterCore>) -> MutexGuard<'_, ClusterCore> {
    // The core's methods do not panic midway; if one did, its state is
    // still the best there is.
    core.lock().unwrap_or_else(|e| e.into_inner())
}

impl Node {
    fn core(&self) -> MutexGuard<'_, ClusterCore> {
        lock(&self.core)
    }
}

/// Wall-clock milliseconds since the Unix epoch: the cluster's time base.
pub(crate) fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// [`wall_ms`] rounded up: the start of a timer set now, so that its pops
/// are never early.
fn wall_ms_ceil() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A live view of a running node, for monitoring and tests.
#[derive(Clone)]
pub struct NodeStatus {
    core: Arc<Mutex<ClusterCore>>,
}

impl NodeStatus {
    /// Timers this node holds a copy of (including tombstones and finished
    /// timers it still remembers).
    pub fn timers(&self) -> usize {
        lock(&self.core).len()
    }
}

impl ChronosNode {
    /// Binds `listen` and makes the node (not yet running).
    pub async fn bind(listen: SocketAddr, config: NodeConfig) -> io::Result<ChronosNode> {
        Ok(ChronosNode::new(TcpListener::bind(listen).await?, config))
    }

    /// A node serving `listener`.
    pub fn new(listener: TcpListener, config: NodeConfig) -> ChronosNode {
        ChronosNode {
            listener,
            core: Arc::new(Mutex::new(ClusterCore::new(
                config.cluster.clone(),
                RandomState::new().hash_one(wall_ms()),
            ))),
            sink: Arc::new(HttpPopSink::new()),
            config,
        }
    }

    /// Sends pops to `sink` instead of `POST`ing them to their callbacks.
    pub fn with_pop_sink(mut self, sink: impl PopSink) -> ChronosNode {
        self.sink = Arc::new(sink);
        self
    }

    /// The address served.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A live view of the node.
    pub fn status(&self) -> NodeStatus {
        NodeStatus {
            core: self.core.clone(),
        }
    }

    /// Serves and drives the node until the future is dropped (see the type
    /// docs). Returns only on a listener error.
    pub async fn run(self) -> io::Result<()> {
        if let Some(k) = &self.config.peer_key
            && (k.len() < 8 || !k.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "peer_key must be at least 8 visible ASCII characters",
            ));
        }
        let ChronosNode {
            listener,
            core,
            sink,
            config,
        } = self;
        let node = Arc::new(Node {
            core,
            wake: Notify::new(),
            peers: Http::new(config.peer_timeout),
            sink,
            peer_key: config
                .peer_key
                .as_ref()
                .map(|k| (k.clone(), key_digest(k.as_bytes()))),
        });
        let app = Router::new()
            .route("/timers", post(create))
            .route("/timers/{id}", put(update).delete(delete))
            .layer(DefaultBodyLimit::max(api::MAX_BODY))
            .route(
                "/internal/peer",
                post(peer).layer(DefaultBodyLimit::max(MAX_PEER_BODY)),
            )
            .route("/ping", get(|| async { "OK" }))
            .fallback(|| async { error(StatusCode::NOT_FOUND, "no such resource") })
            .method_not_allowed_fallback(|| async {
                error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here")
            })
            .with_state(node.clone());
        let body_timeout = config.body_timeout;
        let app = app.layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| async move {
                // A request without a body (GETs) needs no deadline.
                if hyper::body::Body::is_end_stream(req.body()) {
                    return next.run(req).await;
                }
                next.run(req.map(|inner| {
                    axum::body::Body::new(DeadlineBody {
                        inner,
                        deadline: Box::pin(tokio::time::sleep(body_timeout)),
                    })
                }))
                .await
            },
        ));
        // Outermost: each request runs in a task of its own, so a client
        // that hangs up cannot cancel a change half-way through its
        // replication, and a handler that panics answers 500.
        let app = app.layer(axum::middleware::from_fn(
            |req: axum::extract::Request, next: axum::middleware::Next| async move {
                match tokio::spawn(next.run(req)).await {
                    Ok(response) => response,
                    Err(e) => {
                        tracing::error!("timer request failed: {e}");
                        error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
                    }
                }
            },
        ));
        let service = TowerToHyperService::new(app);
        let mut connections = JoinSet::new();
        let mut work = JoinSet::new();
        loop {
            let notified = node.wake.notified();
            let now = wall_ms();
            let next = {
                let mut core = node.core();
                core.tick(now);
                while let Some(out) = core.poll_output() {
                    if work.len() >= MAX_IN_FLIGHT {
                        // Shed rather than block the tick with the lock
                        // held: the other replicas pop a lost pop late.
                        // The id only: opaque data may be private.
                        let what = match &out {
                            Output::Pop(p) => format!("pop of {}", p.id),
                            Output::Send { to, .. } => format!("message to {to}"),
                        };
                        tracing::warn!("timer service overloaded: dropping a {what}");
                        continue;
                    }
                    work.spawn(carry_out(node.clone(), out));
                }
                core.next_deadline()
            };
            let sleep = async {
                match next {
                    Some(t) => {
                        tokio::time::sleep(Duration::from_millis(t.saturating_sub(wall_ms()))).await
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                accepted = listener.accept() => {
                    let stream = match accepted {
                        Ok((stream, _)) => stream,
                        Err(e) => {
                            // Out of descriptors or buffers, or one failed
                            // connection: keep serving the others.
                            tracing::warn!("accept: {e}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    if connections.len() >= config.max_connections {
                        tracing::warn!("connection limit {} reached", config.max_connections);
                        drop(stream);
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let conn = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(config.header_timeout)
                        .serve_connection(TokioIo::new(stream), service.clone());
                    connections.spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!("HTTP connection: {e}");
                        }
                    });
                }
                _ = notified => {}
                _ = sleep => {}
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                Some(_) = work.join_next(), if !work.is_empty() => {}
            }
        }
    }
}

/// Sends a pop or a peer message.
async fn carry_out(node: Arc<Node>, out: Output) {
    match out {
        Output::Pop(pop) => {
            let id = pop.id.clone();
            if let Err(e) = node.sink.pop(pop).await {
                tracing::warn!("timer {id}: {e}");
            }
        }
        Output::Send { to, message } => {
            if let Err(e) = send_peer(&node, &to, &message).await {
                tracing::debug!("to {to}: {e}");
            }
        }
    }
}

/// Why a peer did not take a message.
enum PeerRefusal {
    /// It holds a newer version (its wall-clock ms): stamp again past it.
    Superseded(u64),
    /// Anything else (unreachable, refused, overloaded).
    Other(String),
}

impl std::fmt::Display for PeerRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerRefusal::Superseded(ms) => write!(f, "holds a newer version ({ms} ms)"),
            PeerRefusal::Other(e) => f.write_str(e),
        }
    }
}

/// The key of the held version in a `409` from a peer.
const HELD_VERSION_KEY: &str = "held_version_ms";

async fn send_peer(node: &Node, to: &str, message: &PeerMessage) -> Result<(), PeerRefusal> {
    let body = serde_json::to_vec(message).map_err(|e| PeerRefusal::Other(e.to_string()))?;
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some((key, _)) = &node.peer_key {
        headers.push((PEER_KEY_HEADER, key.clone()));
    }
    let (status, _, body) = node
        .peers
        .send(
            http::Method::POST,
            &format!("http://{to}/internal/peer"),
            &headers,
            body.into(),
        )
        .await
        .map_err(PeerRefusal::Other)?;
    if status.is_success() {
        return Ok(());
    }
    if status == StatusCode::CONFLICT
        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
        && let Some(ms) = v.get(HELD_VERSION_KEY).and_then(serde_json::Value::as_u64)
    {
        return Err(PeerRefusal::Superseded(ms));
    }
    Err(PeerRefusal::Other(format!(
        "answered {status}: {}",
        String::from_utf8_lossy(&body)
    )))
}

fn error(status: StatusCode, reason: &str) -> Response {
    (status, axum::Json(api::error_body(reason))).into_response()
}

fn refusal(e: TimerError) -> Response {
    match e {
        TimerError::Invalid(reason) => error(StatusCode::BAD_REQUEST, &reason),
        TimerError::Superseded(ms) => {
            let mut body = api::error_body(&e.to_string());
            body[HELD_VERSION_KEY] = ms.into();
            (StatusCode::CONFLICT, axum::Json(body)).into_response()
        }
        other => error(StatusCode::SERVICE_UNAVAILABLE, &other.to_string()),
    }
}

/// How many times an update or delete is stamped again because a replica
/// held a newer version (each time past the newest version reported); the
/// worst case answers after three rounds of `peer_timeout`.
const RESTAMPS: usize = 2;

/// Makes a change (`make` stamps it) and sends it to the other replicas;
/// 200 with the Location once one replica holds it. A replica that holds a
/// newer version (this member's clock lags) makes the change be stamped
/// again past that version and sent again, so the replicas do not keep
/// different versions.
///
/// So client changes to one timer are ordered by when the members that
/// took them handled them, whatever their clocks say. Two changes made at
/// the same moment through different members race, as in any
/// last-writer-wins store: either may win (a DELETE answered 200 may be
/// undone by a PUT made at the same time through a member whose clock
/// lags). A copy that arrives late (a retried or delayed peer message) is
/// never stamped again: only a change being answered to its client is.
async fn place(
    node: &Node,
    restamps: usize,
    mut make: impl FnMut(&mut ClusterCore) -> Result<Placement, TimerError>,
) -> Response {
    let mut attempt = 0;
    loop {
        let placement = make(&mut node.core());
        let (response, newer) = place_once(node, placement).await;
        match newer {
            Some(ms) if attempt < restamps => {
                node.core().witness(ms, wall_ms());
                attempt += 1;
            }
            _ => return response,
        }
    }
}

/// One attempt of [`place`]: the answer, and the newest version a replica
/// reported holding, if one refused the change for that.
async fn place_once(
    node: &Node,
    placement: Result<Placement, TimerError>,
) -> (Response, Option<u64>) {
    let placement = match placement {
        Ok(p) => p,
        Err(e) => return (refusal(e), None),
    };
    if placement.local {
        node.wake.notify_one();
    }
    let mut held = usize::from(placement.local);
    let mut last = String::new();
    let mut newer = None;
    let sends = placement.remote.iter().map(|(to, message)| async move {
        send_peer(node, to, message).await.map_err(|e| match e {
            PeerRefusal::Other(e) => PeerRefusal::Other(format!("{to}: {e}")),
            superseded => superseded,
        })
    });
    for result in futures_util::future::join_all(sends).await {
        match result {
            Ok(()) => held += 1,
            Err(e @ PeerRefusal::Superseded(ms)) => {
                newer = newer.max(Some(ms));
                last = format!("a replica {e}");
            }
            Err(PeerRefusal::Other(e)) => last = e,
        }
    }
    (placed(&placement, held, &last), newer)
}

/// The answer to a change `held` replicas took (`last`: the last refusal).
fn placed(placement: &Placement, held: usize, last: &str) -> Response {
    if held == 0 {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "no replica of timer {} could be reached: {last}",
                placement.id
            ),
        );
    }
    if !last.is_empty() {
        tracing::warn!(
            "timer {} is held by fewer replicas than asked: {last}",
            placement.id
        );
    }
    let mut resp = StatusCode::OK.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/timers/{}", placement.id)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

async fn create(State(node): State<Arc<Node>>, body: Bytes) -> Response {
    let spec = match api::parse_timer(&body) {
        Ok(s) => s,
        Err(e) => return refusal(e),
    };
    // A new random id: no member holds a version of it to be superseded by.
    place(&node, 0, |core| {
        core.client_set(spec.clone(), wall_ms_ceil())
    })
    .await
}

async fn update(State(node): State<Arc<Node>>, Path(id): Path<String>, body: Bytes) -> Response {
    if let Err(e) = crate::cluster::parse_id(&id) {
        return error(StatusCode::NOT_FOUND, &e.to_string());
    }
    let spec = match api::parse_timer(&body) {
        Ok(s) => s,
        Err(e) => return refusal(e),
    };
    place(&node, RESTAMPS, |core| {
        core.client_update(&id, spec.clone(), wall_ms_ceil())
    })
    .await
}

async fn delete(State(node): State<Arc<Node>>, Path(id): Path<String>) -> Response {
    if let Err(e) = crate::cluster::parse_id(&id) {
        return error(StatusCode::NOT_FOUND, &e.to_string());
    }
    let placement = node.core().client_delete(&id, wall_ms());
    if let Ok(p) = &placement
        && !p.local
        && p.remote.is_empty()
    {
        // No member can hold it: there is nothing to delete.
        return StatusCode::OK.into_response();
    }
    let mut first = Some(placement);
    place(&node, RESTAMPS, |core| {
        first
            .take()
            .unwrap_or_else(|| core.client_delete(&id, wall_ms()))
    })
    .await
}

async fn peer(
    State(node): State<Arc<Node>>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    if let Some((_, want)) = &node.peer_key {
        // Digests compared in constant time: nothing about the key leaks.
        let member = headers.get(PEER_KEY_HEADER).is_some_and(|v| {
            let offered = key_digest(v.as_bytes());
            offered.iter().zip(want).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0
        });
        if !member {
            return error(StatusCode::FORBIDDEN, "not a member of this cluster");
        }
    }
    let message: PeerMessage = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("not a peer message: {e}")),
    };
    let result = node.core().receive(message, wall_ms());
    match result {
        Ok(()) => {
            node.wake.notify_one();
            StatusCode::OK.into_response()
        }
        Err(e) => refusal(e),
    }
}
