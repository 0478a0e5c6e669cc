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
//! * TCP: the [`Framer`](crate::Framer) splits the stream; CRLF CRLF pings
//!   are answered with CRLF (RFC 5626 §3.5.1); connections are reused for the
//!   same peer and closed after `idle_timeout` without traffic; responses go
//!   back on the connection a request came in on.
//! * WebSocket (RFC 7118): the handshake must offer the `sip` subprotocol;
//!   one SIP message per WebSocket message; the server does not open
//!   WebSocket connections itself.
//!
//! Every connection has a [`FlowId`]; a [`Remote`] carrying one is sent on that
//! connection.

pub mod dns;
mod net;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
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
    /// Outbound TCP connections stop taking new requests after this long,
    /// ±20% at random, so load rebalances as DNS changes (default 600 s, as
    /// Clearwater does). A retired connection still carries responses and
    /// closes when idle. A failed connection is replaced at once.
    pub recycle_after: Duration,
    /// Most inbound TCP/WebSocket connections open at once (default 10 000);
    /// beyond it new connections are closed as soon as they are accepted, so
    /// a flood of idle connections cannot exhaust file descriptors.
    pub max_connections: usize,
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
            recycle_after: Duration::from_secs(600),
            max_connections: 10_000,
        }
    }
}

struct Conn {
    peer: SocketAddr,
    transport: Transport,
    out: mpsc::Sender<Bytes>,
    /// Outbound connections: when to stop putting new requests on it.
    retire_at: Option<Instant>,
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
        let mut conns: HashMap<FlowId, Conn> = HashMap::new();
        // Inbound connections still open (counted against max_connections).
        let mut inbound: HashSet<FlowId> = HashSet::new();
        let mut by_peer: HashMap<(Transport, SocketAddr), FlowId> = HashMap::new();
        // Outbound TCP connections being made: their writer channels.
        let mut connecting: HashMap<SocketAddr, (FlowId, mpsc::Sender<Bytes>)> = HashMap::new();

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
                                    send(&udp, &conns, &mut by_peer, from, resp.to_bytes());
                                }
                            }
                            Triage::Drop(why) => tracing::debug!("dropped from {}: {why}", from.addr),
                        },
                        Event::Accepted { stream, peer, transport } => {
                            if inbound.len() >= config.max_connections {
                                tracing::warn!("connection from {peer} refused: {} open", inbound.len());
                                drop(stream);
                                continue;
                            }
                            let flow = FlowId(next_flow);
                            inbound.insert(flow);
                            next_flow += 1;
                            let (out_tx, out_rx) = mpsc::channel(1024);
                            let link = net::Link {
                                flow,
                                peer,
                                framer: framer.clone(),
                                idle: config.idle_timeout,
                                events: events_tx.clone(),
                            };
                            if transport == Transport::Ws {
                                tasks.spawn(net::ws_conn(stream, link, out_tx, out_rx));
                            } else {
                                conns.insert(flow, Conn { peer, transport, out: out_tx, retire_at: None });
                                by_peer.insert((transport, peer), flow);
                                tasks.spawn(net::tcp_conn(stream, link, out_rx));
                            }
                        }
                        Event::Connected { flow, peer, transport, out } => {
                            // Only outbound TCP connections report Connected
                            // late; WebSocket ones are inbound.
                            let outbound = connecting.remove(&peer).is_some();
                            let retire_at = outbound.then(|| now + jittered(config.recycle_after, flow));
                            conns.insert(flow, Conn { peer, transport, out, retire_at });
                            by_peer.insert((transport, peer), flow);
                        }
                        Event::ConnectFailed { peer, pending } => {
                            connecting.remove(&peer);
                            if let Some(h) = &health {
                                h.failed(Remote::new(Transport::Tcp, peer));
                            }
                            for (_, tx) in pending {
                                if let Some(tx) = tx {
                                    proxy.transport_error(tx, now);
                                }
                            }
                        }
                        Event::Closed { flow } => {
                            inbound.remove(&flow);
                            if let Some(c) = conns.remove(&flow) {
                                by_peer.remove(&(c.transport, c.peer));
                            }
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
                        let ok = send_or_connect(
                            &udp,
                            &conns,
                            &mut by_peer,
                            &mut connecting,
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
                            let d = router
                                .route(RouteRequest {
                                    request,
                                    own_routes,
                                    from,
                                })
                                .await;
                            let _ = decide.send((ctx, d));
                        });
                    }
                    ProxyOutput::Stateless { request, .. } => {
                        let router = router.clone();
                        let acks = ack_tx.clone();
                        tasks.spawn(async move {
                            let hop = router.route_ack(&request).await;
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
    let permille = 800 + (seed % 401); // 0.8 ..= 1.2
    base * permille as u32 / 1000
}

fn host_text(a: &SocketAddr) -> String {
    match a {
        SocketAddr::V4(v) => v.ip().to_string(),
        SocketAddr::V6(v) => format!("[{}]", v.ip()),
    }
}

/// Sends on an existing socket or connection; `false` when there is none.
fn send(
    udp: &[(FlowId, Arc<UdpSocket>)],
    conns: &HashMap<FlowId, Conn>,
    by_peer: &mut HashMap<(Transport, SocketAddr), FlowId>,
    to: Remote,
    data: Bytes,
) -> bool {
    match to.transport {
        Transport::Udp => {
            let sock = to
                .flow
                .and_then(|f| udp.iter().find(|(id, _)| *id == f))
                .or_else(|| udp.first());
            match sock {
                // UDP never blocks for long; if the buffer is full the
                // transaction layer's retransmissions cover the loss.
                Some((_, s)) => s.try_send_to(&data, to.addr).is_ok(),
                None => false,
            }
        }
        _ => {
            // A connection past its recycling time takes no new requests
            // (responses still go back on their flow).
            if let Some(f) = by_peer.get(&(to.transport, to.addr)).copied()
                && conns
                    .get(&f)
                    .and_then(|c| c.retire_at)
                    .is_some_and(|t| Instant::now() >= t)
                && to.flow != Some(f)
            {
                by_peer.remove(&(to.transport, to.addr));
            }
            let flow = to
                .flow
                .filter(|f| conns.contains_key(f))
                .or_else(|| by_peer.get(&(to.transport, to.addr)).copied());
            match flow.and_then(|f| conns.get(&f)) {
                Some(c) => c.out.try_send(data).is_ok(),
                None => false,
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn send_or_connect(
    udp: &[(FlowId, Arc<UdpSocket>)],
    conns: &HashMap<FlowId, Conn>,
    by_peer: &mut HashMap<(Transport, SocketAddr), FlowId>,
    connecting: &mut HashMap<SocketAddr, (FlowId, mpsc::Sender<Bytes>)>,
    tasks: &mut JoinSet<()>,
    next_flow: &mut u64,
    framer: &Framer,
    config: &ServerConfig,
    events: &mpsc::Sender<Event>,
    to: Remote,
    data: Bytes,
    tx: Option<TxId>,
) -> bool {
    if send(udp, conns, by_peer, to, data.clone()) {
        return true;
    }
    if to.transport != Transport::Tcp {
        return false; // no WebSocket or TLS client connections
    }
    if let Some((_, queue)) = connecting.get(&to.addr) {
        return queue.try_send(data).is_ok();
    }
    let flow = FlowId(*next_flow);
    *next_flow += 1;
    let (out_tx, out_rx) = mpsc::channel(1024);
    connecting.insert(to.addr, (flow, out_tx.clone()));
    let link = net::Link {
        flow,
        peer: to.addr,
        framer: framer.clone(),
        idle: config.idle_timeout,
        events: events.clone(),
    };
    tasks.spawn(net::tcp_connect(link, vec![(data, tx)], out_rx, out_tx));
    true
}
