//! The driver's table of connections: which flows are open, which ones serve
//! requests to a peer (the pool), which are being opened, and which were
//! accepted (and count against the inbound limit).
//!
//! No I/O happens here: the driver asks [`Connections::route`] where a
//! message goes and acts on the answer.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::transaction::TxId;
use crate::transport::{FlowId, Remote, Transport};

/// One open connection.
pub(crate) struct Conn {
    pub(crate) peer: SocketAddr,
    pub(crate) transport: Transport,
    pub(crate) out: mpsc::Sender<Bytes>,
    /// Outbound connections: when to stop putting new requests on it.
    pub(crate) retire_at: Option<Instant>,
}

/// The connections that carry new messages to one peer address.
#[derive(Default)]
struct Pool {
    flows: Vec<FlowId>,
    /// Round-robin position.
    next: usize,
}

/// Where a message to a [`Remote`] goes.
pub(crate) struct Route<'a> {
    /// An open connection to write it on, if there is one.
    pub(crate) conn: Option<&'a mpsc::Sender<Bytes>>,
    /// A connection to the peer is being opened: its queue.
    pub(crate) connecting: Option<&'a mpsc::Sender<Bytes>>,
    /// The pool to this peer is below its size and nothing is being opened:
    /// the caller should open another connection.
    pub(crate) grow: bool,
}

/// See the [module docs](self).
pub(crate) struct Connections {
    conns: HashMap<FlowId, Conn>,
    pools: HashMap<(Transport, SocketAddr), Pool>,
    /// Connections being opened: their flow, their queue, and the
    /// transactions with a message waiting in it.
    connecting: HashMap<SocketAddr, (FlowId, mpsc::Sender<Bytes>, Vec<TxId>)>,
    inbound: HashSet<FlowId>,
    pool_size: usize,
}

impl Connections {
    /// A table keeping up to `pool_size` (at least 1) outbound connections
    /// per peer address.
    pub(crate) fn new(pool_size: usize) -> Connections {
        Connections {
            conns: HashMap::new(),
            pools: HashMap::new(),
            connecting: HashMap::new(),
            inbound: HashSet::new(),
            pool_size: pool_size.max(1),
        }
    }

    /// Whether flow `f` is open.
    pub(crate) fn has_flow(&self, f: FlowId) -> bool {
        self.conns.contains_key(&f)
    }

    /// Inbound connections open (or being handshaken).
    pub(crate) fn inbound_count(&self) -> usize {
        self.inbound.len()
    }

    /// A listener accepted `flow` (before any handshake).
    pub(crate) fn accepted(&mut self, flow: FlowId) {
        self.inbound.insert(flow);
    }

    /// The outbound connection `flow` to `peer` is up: true if it was being
    /// opened here (false for inbound connections).
    pub(crate) fn opened(&mut self, peer: SocketAddr, flow: FlowId) -> bool {
        if self
            .connecting
            .get(&peer)
            .is_some_and(|(f, _, _)| *f == flow)
        {
            self.connecting.remove(&peer);
            true
        } else {
            false
        }
    }

    /// `flow` is up and can carry messages.
    pub(crate) fn up(&mut self, flow: FlowId, conn: Conn) {
        let pool = self.pools.entry((conn.transport, conn.peer)).or_default();
        pool.flows.push(flow);
        self.conns.insert(flow, conn);
    }

    /// An outbound connection to `peer` is being opened as `flow`; messages
    /// for it wait in `queue`.
    pub(crate) fn opening(&mut self, peer: SocketAddr, flow: FlowId, queue: mpsc::Sender<Bytes>) {
        self.connecting.insert(peer, (flow, queue, Vec::new()));
    }

    /// Transaction `tx` queued a message for the connection being opened to
    /// `peer`.
    pub(crate) fn waiting(&mut self, peer: SocketAddr, tx: TxId) {
        if let Some((_, _, w)) = self.connecting.get_mut(&peer) {
            w.push(tx);
        }
    }

    /// Opening a connection to `peer` failed: the transactions that had
    /// queued messages for it.
    pub(crate) fn open_failed(&mut self, peer: SocketAddr) -> Vec<TxId> {
        self.connecting
            .remove(&peer)
            .map(|(_, _, w)| w)
            .unwrap_or_default()
    }

    /// `flow` ended.
    pub(crate) fn closed(&mut self, flow: FlowId) {
        self.inbound.remove(&flow);
        if let Some(c) = self.conns.remove(&flow) {
            let key = (c.transport, c.peer);
            if let Some(pool) = self.pools.get_mut(&key) {
                pool.flows.retain(|f| *f != flow);
                if pool.flows.is_empty() {
                    self.pools.remove(&key);
                }
            }
        }
    }

    /// Where a message to `to` goes at `now`. A [`Remote`] naming an open
    /// flow is sent on it (responses, requests on a registered flow);
    /// otherwise the pool to the address takes it round-robin. Connections
    /// past their recycling time leave the pool (they still carry the
    /// responses of their flows until they close).
    pub(crate) fn route(&mut self, to: Remote, now: Instant) -> Route<'_> {
        if let Some(c) = to.flow.and_then(|f| self.conns.get(&f)) {
            return Route {
                conn: Some(&c.out),
                connecting: None,
                grow: false,
            };
        }
        let key = (to.transport, to.addr);
        let mut chosen = None;
        let mut live = 0;
        if let Some(pool) = self.pools.get_mut(&key) {
            let conns = &self.conns;
            pool.flows.retain(|f| {
                conns
                    .get(f)
                    .is_some_and(|c| c.retire_at.is_none_or(|t| now < t))
            });
            live = pool.flows.len();
            if live > 0 {
                chosen = Some(pool.flows[pool.next % live]);
                pool.next = pool.next.wrapping_add(1);
            } else {
                self.pools.remove(&key);
            }
        }
        let connecting = self.connecting.get(&to.addr).map(|(_, q, _)| q);
        Route {
            conn: chosen.and_then(|f| self.conns.get(&f)).map(|c| &c.out),
            grow: to.transport == Transport::Tcp && live < self.pool_size && connecting.is_none(),
            connecting,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn conn(peer: SocketAddr, retire_at: Option<Instant>) -> (Conn, mpsc::Receiver<Bytes>) {
        let (out, rx) = mpsc::channel(8);
        let c = Conn {
            peer,
            transport: Transport::Tcp,
            out,
            retire_at,
        };
        (c, rx)
    }

    fn sent_on(route: Route<'_>, rxs: &mut [mpsc::Receiver<Bytes>]) -> Option<usize> {
        route.conn?.try_send(Bytes::from_static(b"x")).ok()?;
        rxs.iter_mut().position(|rx| rx.try_recv().is_ok())
    }

    #[test]
    fn pool_grows_to_its_size_then_round_robins() {
        let now = Instant::now();
        let peer: SocketAddr = ([127, 0, 0, 1], 5060).into();
        let to = Remote::new(Transport::Tcp, peer);
        let mut t = Connections::new(2);
        let r = t.route(to, now);
        assert!(r.conn.is_none() && r.grow && r.connecting.is_none());

        let (q, _qrx) = mpsc::channel(8);
        t.opening(peer, FlowId(1), q);
        let r = t.route(to, now);
        assert!(
            r.connecting.is_some() && !r.grow,
            "one connection at a time"
        );
        assert!(!t.opened(peer, FlowId(9)), "not the flow being opened");
        assert!(t.opened(peer, FlowId(1)));

        let (c1, rx1) = conn(peer, Some(now + Duration::from_secs(60)));
        t.up(FlowId(1), c1);
        let r = t.route(to, now);
        assert!(r.conn.is_some() && r.grow, "below the pool size: grow");
        let (c2, rx2) = conn(peer, Some(now + Duration::from_secs(120)));
        t.opening(peer, FlowId(2), mpsc::channel(1).0);
        assert!(t.opened(peer, FlowId(2)));
        t.up(FlowId(2), c2);
        let mut rxs = [rx1, rx2];
        let picks: Vec<_> = (0..4)
            .map(|_| {
                let r = t.route(to, now);
                assert!(!r.grow, "full pool");
                sent_on(r, &mut rxs).unwrap()
            })
            .collect();
        assert!(
            picks[0] != picks[1] && picks[..2] == picks[2..],
            "round robin: {picks:?}"
        );

        // The first retires: everything goes to the second and the pool
        // asks for a replacement.
        let later = now + Duration::from_secs(90);
        for _ in 0..2 {
            let r = t.route(to, later);
            assert!(r.grow);
            assert_eq!(sent_on(r, &mut rxs), Some(1));
        }
        // A response on the retired flow still uses it.
        let r = t.route(to.with_flow(FlowId(1)), later);
        assert_eq!(sent_on(r, &mut rxs), Some(0));

        t.closed(FlowId(2));
        let r = t.route(to, later);
        assert!(r.conn.is_none() && r.grow);
    }

    #[test]
    fn inbound_connections_are_counted_until_closed() {
        let peer: SocketAddr = ([127, 0, 0, 1], 40000).into();
        let mut t = Connections::new(1);
        t.accepted(FlowId(7));
        t.accepted(FlowId(8));
        assert_eq!(t.inbound_count(), 2);
        let (c, mut rx) = conn(peer, None);
        t.up(FlowId(7), c);
        // Requests to the peer's address reuse its connection, and an
        // inbound connection never retires.
        let far = Instant::now() + Duration::from_secs(1_000_000);
        let r = t.route(Remote::new(Transport::Tcp, peer), far);
        assert!(r.conn.is_some());
        assert_eq!(sent_on(r, std::slice::from_mut(&mut rx)), Some(0));
        t.closed(FlowId(7));
        t.closed(FlowId(8)); // handshake never finished
        assert_eq!(t.inbound_count(), 0);
        assert!(
            t.route(Remote::new(Transport::Tcp, peer), far)
                .conn
                .is_none()
        );
    }
}
