//! The tokio runtime (cargo feature `runtime`): UDP, TCP and WebSocket
//! transports and [`ProxyServer`], which drives the sans-IO [`Proxy`] core.
//!
//! ```text
//!  sockets ─► reader tasks ─► Event channel ─► driver (owns Proxy) ─► Router::route (spawned)
//!                 ▲                                 │                        │
//!                 └──── per-connection writers ◄────┘◄──── decisions ◄──────┘
//! ```
//!
//! One driver task owns all protocol state; socket tasks only move bytes and
//! the application is asked for decisions through the [`Router`] trait. Every
//! task lives in a `JoinSet` owned by the future [`ProxyServer::run`] returns:
//! dropping (or aborting) that future stops the server and all its tasks.
//! There are no hidden background tasks.
//!
//! Transports:
//! * UDP: one socket per configured address; RFC 3581 `rport`/`received`
//!   stamped on requests; responses routed per RFC 3261 §18.2.2.
//! * TCP: the [`Framer`] splits the stream; CRLF CRLF pings
//!   are answered with CRLF (RFC 5626 §3.5.1); requests to a next hop share
//!   a pool of `connections_per_peer` outbound connections (round-robin),
//!   each retired after `recycle_after` ±20% and replaced on failure;
//!   connections close after `idle_timeout` without traffic; responses go
//!   back on the connection a request came in on. Inbound connections
//!   beyond `max_connections` are closed on accept.
//! * WebSocket (RFC 7118): the handshake must offer the `sip` subprotocol;
//!   one SIP message per WebSocket message; the server does not open
//!   WebSocket connections itself.
//!
//! Every connection has a [`FlowId`]; a [`Remote`] carrying one is sent on that
//! connection.

pub mod dns;
mod net;
mod pool;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::framing::Framer;
use crate::message::{Message, Request};
use crate::name::HeaderName;
use crate::proxy::{ContextId, LocalAddr, Proxy, ProxyConfig, ProxyOutput, Target};
use crate::status::StatusCode;
use crate::transaction::TxId;
use crate::transport::{FlowId, Remote, Transport, stamp_via};
use crate::triage::{Triage, TriageConfig, triage};
use crate::uri::Uri;

use net::Event;
use pool::{Conn, Connections};

/// What a [`Router`] decides for a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum Decision {
    /// Answer with a status (and extra header fields).
    Respond {
        /// Status.
        status: StatusCode,
        /// Reason phrase (default: the canonical one).
        reason: Option<String>,
        /// Extra header fields.
        headers: Vec<(HeaderName, String)>,
    },
    /// Proxy to these targets: in parallel within a group, group after group.
    Forward(Vec<Vec<Target>>),
}

impl Decision {
    /// Answer with `status`.
    pub fn respond(status: StatusCode) -> Decision {
        Decision::Respond {
            status,
            reason: None,
            headers: Vec::new(),
        }
    }

    /// Proxy to `targets` in parallel.
    pub fn forward(targets: Vec<Target>) -> Decision {
        Decision::Forward(vec![targets])
    }
}

/// A request waiting for a routing decision.
#[derive(Debug)]
#[non_exhaustive]
pub struct RouteRequest {
    /// The request (our own Route values removed).
    pub request: Request,
    /// The Route values that named this proxy (top first).
    pub own_routes: Vec<Uri<'static>>,
    /// Where it came from.
    pub from: Remote,
}

/// The application side of a [`ProxyServer`]: decides where requests go.
///
/// Calls run concurrently in their own tasks; a decision can take as long as
/// it needs (an HSS lookup, say).
pub trait Router: Send + Sync + 'static {
    /// Decides what to do with a new request.
    fn route(&self, request: RouteRequest) -> impl Future<Output = Decision> + Send;

    /// Where to send an ACK for a 2xx (which has no transaction), or `None`
    /// to drop it. The default sends it to the first Route value or else the
    /// Request-URI, when that names an IP address.
    fn route_ack(&self, request: &Request) -> impl Future<Output = Option<Remote>> + Send {
        let hop = next_hop_of(request);
        async move { hop }
    }
}

/// A [`Router`] that forwards every request (and every ACK) to one next hop:
/// an edge proxy in front of a single core, or a test proxy.
#[derive(Clone, Copy, Debug)]
pub struct StaticRoute(pub Remote);

impl Router for StaticRoute {
    async fn route(&self, _request: RouteRequest) -> Decision {
        Decision::forward(vec![Target::new(self.0)])
    }

    async fn route_ack(&self, _request: &Request) -> Option<Remote> {
        Some(self.0)
    }
}

/// The IP next hop a request's first Route value (or Request-URI) names.
pub fn next_hop_of(req: &Request) -> Option<Remote> {
    let uri = req
        .routes()
        .next()
        .and_then(Result::ok)
        .map(|r| r.uri().into_owned())
        .unwrap_or_else(|| req.uri().into_owned());
    let sip = uri.as_sip()?;
    let transport = sip
        .transport()
        .and_then(Transport::from_token)
        .unwrap_or(if sip.is_secure() {
            Transport::Tls
        } else {
            Transport::Udp
        });
    let ip = sip.host().ip()?;
    let port = sip.port().unwrap_or(transport.default_port());
    Some(Remote::new(transport, SocketAddr::new(ip, port)))
}

/// Receives what the proxy learns about next hops (typically a
/// [`dns::SipResolver`], whose blacklist it feeds).
pub trait TargetHealth: Send + Sync + 'static {
    /// A next hop did not answer.
    fn failed(&self, to: Remote);
    /// A next hop answered.
    fn responded(&self, to: Remote);
}

/// Where and how a [`ProxyServer`] listens.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerConfig {
    /// UDP addresses to bind (port 0 picks a free one).
    pub udp: Vec<SocketAddr>,
    /// TCP addresses to bind.
    pub tcp: Vec<SocketAddr>,
    /// WebSocket addresses to bind.
    pub ws: Vec<SocketAddr>,
    /// Host written in Via and Record-Route (default: the bound IP address).
    pub advertised_host: Option<String>,
    /// Proxy behaviour (its `locals` are filled from the bound sockets).
    pub proxy: ProxyConfig,
    /// What inbound triage accepts.
    pub triage: TriageConfig,
    /// Close TCP/WebSocket connections idle this long (default 10 minutes).
    pub idle_timeout: Duration,
    /// Close a TCP/WebSocket connection when one write has not completed in
    /// this long (default 10 s): a peer that stops reading cannot hold the
    /// connection, its queue and its place under `max_connections`.
    pub write_timeout: Duration,
    /// Outbound TCP connections stop taking new requests after this long,
    /// ±20% at random, so load rebalances as DNS changes (default 600 s, as
    /// Clearwater does). A retired connection still carries responses and
    /// closes when idle. A failed connection is replaced at once.
    pub recycle_after: Duration,
    /// Most inbound TCP/WebSocket connections open at once (default 10 000);
    /// beyond it new connections are closed as soon as they are accepted, so
    /// a flood of idle connections cannot exhaust file descriptors.
    pub max_connections: usize,
    /// Outbound TCP connections kept to each next-hop address (default 1).
    /// New requests are spread over them round-robin; each is recycled on
    /// its own schedule and replaced on failure. Clearwater's Bono keeps 50
    /// to its Sprout cluster.
    pub connections_per_peer: usize,
    /// Most ACKs for 2xx being routed at once (default 10 000): each asks
    /// the router in a task of its own, and has no transaction to bound it;
    /// beyond this an ACK is dropped (the 2xx retransmission brings another).
    pub max_acks_routing: usize,
    /// Kernel send and receive buffer asked for each UDP socket (default
    /// 4 MiB; the kernel caps it at `net.core.rmem_max`/`wmem_max`). Large
    /// buffers absorb bursts that would otherwise be dropped and retransmitted.
    pub udp_buffer_size: Option<usize>,
}

impl ServerConfig {
    /// A configuration listening on `udp`, `tcp` and `ws` addresses.
    pub fn new(udp: Vec<SocketAddr>, tcp: Vec<SocketAddr>, ws: Vec<SocketAddr>) -> ServerConfig {
        ServerConfig {
            udp,
            tcp,
            ws,
            advertised_host: None,
            proxy: ProxyConfig::new(Vec::new()),
            triage: TriageConfig::default(),
            idle_timeout: Duration::from_secs(600),
            write_timeout: Duration::from_secs(10),
            recycle_after: Duration::from_secs(600),
            max_connections: 10_000,
            connections_per_peer: 1,
            max_acks_routing: 10_000,
            udp_buffer_size: Some(4 << 20),
        }
    }
}

/// A proxy on real sockets. See the [module docs](self).
pub struct ProxyServer<R: Router> {
    proxy: Proxy,
    router: Arc<R>,
    config: ServerConfig,
    udp: Vec<(FlowId, Arc<UdpSocket>)>,
    tcp: Vec<TcpListener>,
    ws: Vec<TcpListener>,
    locals: Vec<(Transport, SocketAddr)>,
    next_flow: u64,
    health: Option<Arc<dyn TargetHealth>>,
}

impl<R: Router> ProxyServer<R> {
    /// Reports next-hop failures and answers to `health` (a resolver's
    /// blacklist).
    pub fn with_target_health(mut self, health: Arc<dyn TargetHealth>) -> Self {
        self.health = Some(health);
        self
    }

    /// Binds every configured address.
    pub async fn bind(mut config: ServerConfig, router: R) -> io::Result<ProxyServer<R>> {
        let mut next_flow = 1;
        let mut udp = Vec::new();
        let mut locals = Vec::new();
        for a in &config.udp {
            let s = UdpSocket::bind(a).await?;
            if let Some(n) = config.udp_buffer_size {
                // Best effort: the kernel may cap or refuse the size.
                let sock = socket2::SockRef::from(&s);
                let _ = sock.set_recv_buffer_size(n);
                let _ = sock.set_send_buffer_size(n);
            }
            locals.push((Transport::Udp, s.local_addr()?));
            udp.push((FlowId(next_flow), Arc::new(s)));
            next_flow += 1;
        }
        let mut tcp = Vec::new();
        for a in &config.tcp {
            let l = TcpListener::bind(a).await?;
            locals.push((Transport::Tcp, l.local_addr()?));
            tcp.push(l);
        }
        let mut ws = Vec::new();
        for a in &config.ws {
            let l = TcpListener::bind(a).await?;
            locals.push((Transport::Ws, l.local_addr()?));
            ws.push(l);
        }
        if config.proxy.locals.is_empty() {
            config.proxy.locals = locals
                .iter()
                .map(|(t, a)| {
                    let host = config
                        .advertised_host
                        .clone()
                        .unwrap_or_else(|| host_text(a));
                    LocalAddr::new(*t, host, a.port())
                })
                .collect();
        }
        Ok(ProxyServer {
            proxy: Proxy::new(config.proxy.clone()),
            router: Arc::new(router),
            config,
            udp,
            tcp,
            ws,
            locals,
            next_flow,
            health: None,
        })
    }

    /// The bound addresses, per transport.
    pub fn local_addrs(&self) -> &[(Transport, SocketAddr)] {
        &self.locals
    }

    /// Runs the server until an unrecoverable error. Dropping the returned
    /// future stops every task of the server.
    pub async fn run(self) -> io::Result<()> {
        let ProxyServer {
            mut proxy,
            router,
            config,
            udp,
            tcp,
            ws,
            mut next_flow,
            health,
            ..
        } = self;
        let framer = Framer::new(config.triage.limits.clone());
        let (events_tx, mut events) = mpsc::channel::<Event>(4096);
        let (decide_tx, mut decisions) = mpsc::unbounded_channel::<(ContextId, Decision)>();
        let (ack_tx, mut acks) = mpsc::unbounded_channel::<(Request, Option<Remote>)>();
        let acks_routing = Arc::new(AtomicUsize::new(0));
        let mut tasks = JoinSet::new();
        for (flow, s) in &udp {
            tasks.spawn(net::udp_reader(s.clone(), *flow, events_tx.clone()));
        }
        for l in tcp {
            tasks.spawn(net::acceptor(l, Transport::Tcp, events_tx.clone()));
        }
        for l in ws {
            tasks.spawn(net::acceptor(l, Transport::Ws, events_tx.clone()));
        }
        let mut conns = Connections::new(config.connections_per_peer);

        loop {
            let deadline = proxy.poll_timeout();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                ev = events.recv() => {
                    let Some(ev) = ev else { return Ok(()) };
                    let now = Instant::now();
                    match ev {
                        Event::Message { data, from } => match triage(data, &config.triage) {
                            Triage::Accept(msg) => {
                                let msg = match msg {
                                    Message::Request(mut r) => {
                                        stamp_via(&mut r, &from);
                                        Message::Request(r)
                                    }
                                    other => other,
                                };
                                proxy.handle_message(msg, from, now);
                            }
                            Triage::Reject(r) => {
                                if let Some(resp) = r.response(Some("cwreject")) {
                                    send(&udp, &mut conns, from, resp.to_bytes());
                                }
                            }
                            Triage::Drop(why) => tracing::debug!("dropped from {}: {why}", from.addr),
                        },
                        Event::Accepted { stream, peer, transport } => {
                            if conns.inbound_count() >= config.max_connections {
                                tracing::warn!("connection from {peer} refused: {} open", conns.inbound_count());
                                drop(stream);
                                continue;
                            }
                            let flow = FlowId(next_flow);
                            conns.accepted(flow);
                            next_flow += 1;
                            let (out_tx, out_rx) = mpsc::channel(1024);
                            let link = net::Link {
                                flow,
                                peer,
                                framer: framer.clone(),
                                idle: config.idle_timeout,
                                write_timeout: config.write_timeout,
                                events: events_tx.clone(),
                            };
                            if transport == Transport::Ws {
                                tasks.spawn(net::ws_conn(stream, link, out_tx, out_rx));
                            } else {
                                conns.up(flow, Conn { peer, transport, out: out_tx, retire_at: None });
                                tasks.spawn(net::tcp_conn(stream, link, out_rx));
                            }
                        }
                        Event::Connected { flow, peer, transport, out } => {
                            // Only outbound TCP connections report Connected
                            // late; WebSocket ones are inbound.
                            let outbound = conns.opened(peer, flow);
                            // A lifetime too long to add to now: never recycled.
                            let retire_at = outbound
                                .then(|| now.checked_add(jittered(config.recycle_after, flow)))
                                .flatten();
                            conns.up(flow, Conn { peer, transport, out, retire_at });
                        }
                        Event::ConnectFailed { peer, waiting } => {
                            // Every transaction with a message queued for
                            // the connection hears of it, not only the first.
                            let queued = conns.open_failed(peer);
                            if let Some(h) = &health {
                                h.failed(Remote::new(Transport::Tcp, peer));
                            }
                            for tx in waiting.into_iter().chain(queued) {
                                proxy.transport_error(tx, now);
                            }
                        }
                        Event::Closed { flow } => {
                            conns.closed(flow);
                        }
                    }
                }
                Some((ctx, decision)) = decisions.recv() => {
                    let now = Instant::now();
                    let result = match decision {
                        Decision::Respond { status, reason, headers } => {
                            proxy.respond(ctx, status, reason.as_deref(), &headers, now)
                        }
                        Decision::Forward(groups) => proxy.forward_groups(ctx, groups, now),
                    };
                    if let Err(e) = result {
                        tracing::debug!("decision for {ctx}: {e}");
                        let _ = proxy.respond(ctx, StatusCode::SERVER_INTERNAL_ERROR, None, &[], now);
                    }
                }
                Some((request, hop)) = acks.recv() => {
                    if let Some(to) = hop {
                        let _ = proxy.forward_stateless(request, to);
                    }
                }
                () = sleep => proxy.handle_timeout(Instant::now()),
                Some(done) = tasks.join_next() => {
                    if let Err(e) = done
                        && e.is_panic()
                    {
                        return Err(io::Error::other("a transport task panicked"));
                    }
                }
            }
            // Drain the proxy.
            while let Some(o) = proxy.poll_output() {
                match o {
                    ProxyOutput::Transmit { to, data, tx } => {
                        let to = response_fallback(&conns, to, &data);
                        let ok = send_or_connect(
                            &udp,
                            &mut conns,
                            &mut tasks,
                            &mut next_flow,
                            &framer,
                            &config,
                            &events_tx,
                            to,
                            data,
                            tx,
                        );
                        if !ok && let Some(tx) = tx {
                            proxy.transport_error(tx, Instant::now());
                        }
                    }
                    ProxyOutput::Route {
                        ctx,
                        request,
                        own_routes,
                        from,
                    } => {
                        let router = router.clone();
                        let decide = decide_tx.clone();
                        tasks.spawn(async move {
                            // A panicking router fails its request (500),
                            // not the server.
                            let d = AssertUnwindSafe(async move {
                                router
                                    .route(RouteRequest {
                                        request,
                                        own_routes,
                                        from,
                                    })
                                    .await
                            })
                            .catch_unwind()
                            .await
                            .unwrap_or_else(|_| {
                                tracing::error!("the router panicked deciding for {ctx}");
                                Decision::respond(StatusCode::SERVER_INTERNAL_ERROR)
                            });
                            let _ = decide.send((ctx, d));
                        });
                    }
                    ProxyOutput::Stateless { request, .. } => {
                        // ACKs for 2xx have no transaction to bound them:
                        // beyond `max_acks_routing` being routed, drop (the
                        // UAS retransmits its 2xx, and the UAC its ACK).
                        if acks_routing.load(Ordering::Relaxed) >= config.max_acks_routing.max(1) {
                            tracing::warn!(
                                "ACK dropped: {} already being routed",
                                config.max_acks_routing
                            );
                            continue;
                        }
                        acks_routing.fetch_add(1, Ordering::Relaxed);
                        let in_flight = acks_routing.clone();
                        let router = router.clone();
                        let acks = ack_tx.clone();
                        tasks.spawn(async move {
                            let _done = DecrementOnDrop(in_flight);
                            // Bounded in time too, so a router that hangs
                            // cannot hold every slot for good.
                            let hop = tokio::time::timeout(
                                ACK_ROUTING_TIMEOUT,
                                AssertUnwindSafe(async { router.route_ack(&request).await })
                                    .catch_unwind(),
                            )
                            .await
                            .unwrap_or_else(|_| {
                                tracing::warn!("the router took too long routing an ACK");
                                Ok(None)
                            })
                            .unwrap_or_else(|_| {
                                tracing::error!("the router panicked routing an ACK");
                                None
                            });
                            let _ = acks.send((request, hop));
                        });
                    }
                    ProxyOutput::TargetFailed { to } => {
                        if let Some(h) = &health {
                            h.failed(to);
                        }
                    }
                    ProxyOutput::TargetResponded { to } => {
                        if let Some(h) = &health {
                            h.responded(to);
                        }
                    }
                    ProxyOutput::Finished { .. } => {}
                }
            }
        }
    }
}

/// `base` ±20%, spread by `flow` and the clock.
fn jittered(base: Duration, flow: FlowId) -> Duration {
    let seed = flow.0.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos().into()),
    );
    let permille = 800 + (seed % 401) as u32; // 0.8 ..= 1.2
    base.checked_mul(permille).map_or(base, |d| d / 1000)
}

fn host_text(a: &SocketAddr) -> String {
    match a {
        SocketAddr::V4(v) => v.ip().to_string(),
        SocketAddr::V6(v) => format!("[{}]", v.ip()),
    }
}

/// Sends on a UDP socket or an open connection; `false` when there is none
/// (or its queue is full).
fn send(
    udp: &[(FlowId, Arc<UdpSocket>)],
    conns: &mut Connections,
    to: Remote,
    data: Bytes,
) -> bool {
    match to.transport {
        Transport::Udp => {
            // The flow it came on, else a socket of the destination's
            // address family (a v4 socket cannot send to a v6 address).
            let sock = to
                .flow
                .and_then(|f| udp.iter().find(|(id, _)| *id == f))
                .or_else(|| {
                    udp.iter().find(|(_, s)| {
                        s.local_addr()
                            .is_ok_and(|a| a.is_ipv4() == to.addr.is_ipv4())
                    })
                })
                .or_else(|| udp.first());
            match sock {
                // A full socket buffer is a lost datagram, not a transport
                // error: the transaction layer's retransmissions cover it.
                Some((_, s)) => match s.try_send_to(&data, to.addr) {
                    Ok(_) => true,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        tracing::debug!("udp send buffer full: datagram to {} dropped", to.addr);
                        true
                    }
                    Err(e) => {
                        tracing::debug!("udp send to {}: {e}", to.addr);
                        false
                    }
                },
                None => false,
            }
        }
        _ => conns
            .route(to, Instant::now())
            .conn
            .is_some_and(|c| c.try_send(data).is_ok()),
    }
}

/// §18.2.2: a response for a stream flow that has closed goes to the
/// `received` address (else the sent-by host) at the sent-by port, over a
/// new connection, not to the client's ephemeral source port.
fn response_fallback(conns: &Connections, to: Remote, data: &Bytes) -> Remote {
    let gone = to.transport.is_stream() && to.flow.is_some_and(|f| !conns.has_flow(f));
    if !gone || !data.starts_with(b"SIP/") {
        return to;
    }
    let Ok(Message::Response(resp)) = Message::parse(data.clone()) else {
        return to;
    };
    let Ok(via) = resp.via() else {
        return to;
    };
    let Some(ip) = via.received_ip().or_else(|| via.host().ip()) else {
        return to;
    };
    let port = via.port().unwrap_or_else(|| to.transport.default_port());
    Remote::new(to.transport, SocketAddr::new(ip, port))
}

/// Longest an ACK may take to be routed (64 × T1 at the default T1: by then
/// the UAS has given up retransmitting its 2xx).
const ACK_ROUTING_TIMEOUT: Duration = Duration::from_secs(32);

/// Counts a task out when it ends, however it ends.
struct DecrementOnDrop(Arc<AtomicUsize>);

impl Drop for DecrementOnDrop {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Sends `data` to `to`, opening a TCP connection when the pool to that
/// address has none (or is below its size). `false` when it cannot be sent.
#[allow(clippy::too_many_arguments)]
fn send_or_connect(
    udp: &[(FlowId, Arc<UdpSocket>)],
    conns: &mut Connections,
    tasks: &mut JoinSet<()>,
    next_flow: &mut u64,
    framer: &Framer,
    config: &ServerConfig,
    events: &mpsc::Sender<Event>,
    to: Remote,
    data: Bytes,
    tx: Option<TxId>,
) -> bool {
    if to.transport == Transport::Udp {
        return send(udp, conns, to, data);
    }
    let route = conns.route(to, Instant::now());
    let grow = route.grow;
    // The message that makes the pool open a connection goes out first on it.
    let mut first = None;
    let mut queued = false;
    let sent = match (route.conn, route.connecting) {
        (Some(c), _) => c.try_send(data).is_ok(),
        (None, Some(queue)) => {
            queued = queue.try_send(data).is_ok();
            queued
        }
        (None, None) if grow => {
            first = Some(data);
            true
        }
        // No WebSocket or TLS client connections.
        (None, None) => false,
    };
    if queued && let Some(tx) = tx {
        conns.waiting(to.addr, tx);
    }
    if grow {
        let flow = FlowId(*next_flow);
        *next_flow += 1;
        let (out_tx, out_rx) = mpsc::channel(1024);
        let mut waiting = Vec::new();
        if let Some(data) = first {
            // The queue is new: it has room, and this is its head. Messages
            // for the peer queued while connecting follow it.
            let _ = out_tx.try_send(data);
            waiting.extend(tx);
        }
        conns.opening(to.addr, flow, out_tx.clone());
        let link = net::Link {
            flow,
            peer: to.addr,
            framer: framer.clone(),
            idle: config.idle_timeout,
            write_timeout: config.write_timeout,
            events: events.clone(),
        };
        tasks.spawn(net::tcp_connect(link, waiting, out_rx, out_tx));
    }
    sent
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// Messages for a peer sent while the connection to it is being opened
    /// go out after the one that opened it, in order.
    #[tokio::test]
    async fn messages_queued_while_connecting_keep_their_order() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let to = Remote::new(Transport::Tcp, listener.local_addr().unwrap());
        let config = ServerConfig::new(vec![], vec![], vec![]);
        let framer = Framer::default();
        let (events, _events_rx) = mpsc::channel(16);
        let mut conns = Connections::new(1);
        let mut tasks = JoinSet::new();
        let mut next_flow = 1;
        // No await in between: the connecting task cannot run before all three
        // are queued (current-thread runtime).
        for m in ["first ", "second ", "third"] {
            let data = Bytes::from_static(m.as_bytes());
            assert!(send_or_connect(
                &[],
                &mut conns,
                &mut tasks,
                &mut next_flow,
                &framer,
                &config,
                &events,
                to,
                data,
                None,
            ));
        }
        let (mut s, _) = listener.accept().await.unwrap();
        let mut got = [0u8; 18];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut got))
            .await
            .expect("the three messages in time")
            .unwrap();
        assert_eq!(&got, b"first second third");
    }
}
