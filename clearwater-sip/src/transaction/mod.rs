//! The RFC 3261 §17 transaction layer, sans-IO.
//!
//! [`TransactionLayer`] holds every client and server transaction of an
//! element. It never touches a socket or a clock: the driver feeds it events
//! and drains what it wants done.
//!
//! ```text
//!  received message ──► handle_message(msg, from, now) ─┐
//!  TU: send_request / send_response / cancel ───────────┤
//!  deadline reached ──► handle_timeout(now) ────────────┤
//!                                                        ▼
//!                          poll_output() ─► Transmit { to, data }     (send these bytes)
//!                                        ─► Request / Ack / Response  (hand to the TU)
//!                                        ─► Timeout / Terminated ...  (TU bookkeeping)
//!                          poll_timeout() ─► next deadline to call handle_timeout at
//! ```
//!
//! **Drain rule:** after every `handle_*`/`send_*` call, call [`poll_output`](TransactionLayer::poll_output)
//! until it returns `None`, then re-arm the driver's timer from
//! [`poll_timeout`](TransactionLayer::poll_timeout).
//!
//! What it implements:
//! * the four state machines of §17.1.1, §17.1.2, §17.2.1 and §17.2.2 with
//!   RFC 6026's Accepted state for INVITE (2xx retransmissions and their ACKs
//!   pass through to the TU; Timers L and M);
//! * timers A–K, L, M with T1, T2, T4 from [`Config`]; on reliable transports
//!   A, E, G are not used and D, I, J, K are zero;
//! * matching per §17.1.3 (branch + CSeq method) and §17.2.3 (branch, sent-by,
//!   method; ACK matches its INVITE), with the RFC 2543 fallback for requests
//!   without a magic-cookie branch (Request-URI, From tag, Call-ID, CSeq number,
//!   top Via; an ACK must also carry the To tag of the response sent);
//! * CANCEL: a received CANCEL gets its own server transaction and names the
//!   INVITE transaction it cancels; one that matches a non-INVITE server
//!   transaction (any RFC 3261 or extension method this crate names) is
//!   answered 200 by the layer itself and goes no further (§9.2: it has no
//!   effect); [`TransactionLayer::cancel`] builds and
//!   sends a CANCEL for a client INVITE, waiting for a provisional response
//!   first (§9.1);
//! * the ACK for a non-2xx final response, built and retransmitted by the INVITE
//!   client transaction (§17.1.1.3);
//! * §9.1's bound on a cancelled INVITE: without a final response 64·T1 after
//!   the CANCEL went out, the INVITE transaction reports a timeout and ends.
//!   Otherwise an INVITE client transaction in Proceeding waits for its final
//!   response as long as it takes (§17.1.1.2); proxies bound that with
//!   Timer C and then call `cancel`;
//! * the 100 Trying an INVITE server transaction owes when the TU has not sent
//!   a provisional response within [`Config::trying_delay`] (§17.2.1).
//!
//! Messages handed to [`TransactionLayer::handle_message`] are expected to have
//! passed [`triage`](crate::triage()); requests should have had
//! [`stamp_via`](crate::transport::stamp_via) applied.

mod key;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};

use crate::id_hash::IdMap;
use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::error::Error;
use crate::header::Via;
use crate::message::{Message, Request, Response};
use crate::method::Method;
use crate::name::HeaderName;
use crate::status::StatusCode;
use crate::transport::{Remote, response_destination};

use key::{ClientKey, ServerKey, is_rfc3261_branch, to_tag};

/// Timer values (RFC 3261 §17.1.1.1, table 4 of appendix A).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// RTT estimate (default 500 ms).
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE
    /// responses (default 4 s).
    pub t2: Duration,
    /// Maximum time a message stays in the network (default 5 s).
    pub t4: Duration,
    /// Send 100 Trying for an INVITE when the TU has not sent a provisional
    /// response within `trying_delay` (default true).
    pub auto_trying: bool,
    /// See `auto_trying` (default 200 ms, §17.2.1).
    pub trying_delay: Duration,
    /// Most server transactions held at once (default 500 000). A new
    /// request beyond it gets `503 Service Unavailable` with `Retry-After`
    /// and a To tag, sent statelessly (§21.5.4), and no transaction, so a
    /// flood cannot grow memory without bound; that 503's ACK is absorbed,
    /// and a CANCEL for an INVITE in progress is still taken (so CANCELs can
    /// take the count past the limit, one per INVITE held). A completed
    /// non-INVITE transaction over UDP is held for Timer J (64 × T1 = 32 s),
    /// so the default sustains about 15 000 such requests a second.
    pub max_server_transactions: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            auto_trying: true,
            trying_delay: Duration::from_millis(200),
            max_server_transactions: 500_000,
        }
    }
}

impl Config {
    /// Sets T1.
    pub fn with_t1(mut self, t1: Duration) -> Self {
        self.t1 = t1;
        self
    }
    /// Sets T2.
    pub fn with_t2(mut self, t2: Duration) -> Self {
        self.t2 = t2;
        self
    }
    /// Sets T4.
    pub fn with_t4(mut self, t4: Duration) -> Self {
        self.t4 = t4;
        self
    }
    /// Turns the automatic 100 Trying on or off.
    pub fn with_auto_trying(mut self, on: bool) -> Self {
        self.auto_trying = on;
        self
    }
}

/// A client transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientTxId(u64);

/// A server transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerTxId(u64);

/// Either kind of transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TxId {
    /// A client transaction.
    Client(ClientTxId),
    /// A server transaction.
    Server(ServerTxId),
}

impl fmt::Display for ClientTxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client-{}", self.0)
    }
}

impl fmt::Display for ServerTxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server-{}", self.0)
    }
}

/// Why a transaction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Termination {
    /// It ran its course.
    Normal,
    /// Timer B or F: no final response (a [`Output::Timeout`] came first).
    Timeout,
    /// Timer H: the ACK for a non-2xx final response never came.
    AckTimeout,
    /// The runtime reported a transport failure.
    TransportError,
}

/// What the layer wants done.
#[derive(Debug)]
#[non_exhaustive]
pub enum Output {
    /// Send `data` to `to`. `tx` names the transaction it belongs to, so a
    /// send failure can be reported with [`TransactionLayer::transport_error`].
    Transmit {
        /// Destination.
        to: Remote,
        /// Wire bytes.
        data: Bytes,
        /// Owning transaction, if any.
        tx: Option<TxId>,
    },
    /// A new request for the TU, with its server transaction.
    Request {
        /// The server transaction to answer on.
        tx: ServerTxId,
        /// The request.
        request: Request,
        /// Where it came from.
        from: Remote,
        /// For a CANCEL: the INVITE server transaction it cancels, if any.
        cancels: Option<ServerTxId>,
    },
    /// An ACK that belongs to no server transaction (the ACK for a 2xx, or
    /// one received in the Accepted state), for the TU.
    Ack {
        /// The ACK.
        request: Request,
        /// Where it came from.
        from: Remote,
    },
    /// A response for a client transaction.
    Response {
        /// The client transaction.
        tx: ClientTxId,
        /// The response.
        response: Response,
    },
    /// A response that matches no client transaction (RFC 6026 §7.3: a
    /// proxy drops these; RFC 3261 §16.7 had it forward them statelessly).
    StrayResponse {
        /// The response.
        response: Response,
        /// Where it came from.
        from: Remote,
    },
    /// Timer B or F fired: the request got no final response. The TU acts as
    /// if it had received a 408.
    Timeout {
        /// The client transaction.
        tx: ClientTxId,
    },
    /// The runtime could not send the request (§8.1.3.1, §18.4): the TU acts
    /// as if it had received a 503 (a proxy: §16.9).
    TransportFailed {
        /// The client transaction.
        tx: ClientTxId,
    },
    /// A transaction ended and was removed.
    Terminated {
        /// Which one.
        tx: TxId,
        /// Why.
        reason: Termination,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    // client
    A,
    B,
    /// §9.1: no final response 64*T1 after a CANCEL was sent.
    CancelWait,
    D,
    E,
    F,
    K,
    M,
    // server
    Trying,
    G,
    H,
    I,
    J,
    L,
}

impl TimerKind {
    /// Retransmission timers use slot 0, lifetime timers slot 1.
    fn slot(self) -> usize {
        match self {
            TimerKind::A | TimerKind::E | TimerKind::G | TimerKind::Trying => 0,
            _ => 1,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct TimerEntry {
    at: Instant,
    token: u64,
    tx: RawTx,
    kind: TimerKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum RawTx {
    Client(u64),
    Server(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientState {
    /// INVITE: request sent, nothing heard.
    Calling,
    /// non-INVITE: request sent, nothing heard.
    Trying,
    Proceeding,
    Completed,
    /// INVITE, RFC 6026: a 2xx was received.
    Accepted,
}

struct ClientTx {
    key: ClientKey,
    /// The request's top Via, kept parsed: its sent-by is what a response
    /// must carry (§18.1.2).
    via: Via<'static>,
    invite: bool,
    state: ClientState,
    request: Request,
    wire: Bytes,
    to: Remote,
    retransmit: Duration,
    ack: Option<Bytes>,
    pending_cancel: bool,
    /// CANCELs sent by `cancel()`: their responses are not delivered.
    internal: bool,
    timers: [Option<u64>; 2],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ServerState {
    /// INVITE before a final response.
    Proceeding,
    /// non-INVITE before any response.
    Trying,
    /// non-INVITE after a provisional response.
    NonInviteProceeding,
    Completed,
    /// INVITE: the ACK for a non-2xx response arrived.
    Confirmed,
    /// INVITE, RFC 6026: a 2xx was sent.
    Accepted,
}

struct ServerTx {
    key: ServerKey,
    invite: bool,
    state: ServerState,
    request: Request,
    reply_to: Remote,
    last_response: Option<Bytes>,
    to_tag_sent: Option<String>,
    retransmit: Duration,
    timers: [Option<u64>; 2],
}

/// Every transaction of one element. See the [module docs](self).
pub struct TransactionLayer {
    config: Config,
    next_id: u64,
    next_token: u64,
    clients: IdMap<u64, ClientTx>,
    client_keys: HashMap<ClientKey, u64>,
    servers: IdMap<u64, ServerTx>,
    server_keys: HashMap<ServerKey, u64>,
    timers: BinaryHeap<Reverse<TimerEntry>>,
    out: VecDeque<Output>,
    /// In-dialog INVITEs answered with the overload 503 (their To tag is the
    /// dialog's, so their ACK cannot be recognised by tag): hashes of Call-ID
    /// and branch, oldest first, at most [`OVERLOAD_ACK_MEMORY`].
    overload_acks: OverloadAcks,
}

/// How many in-dialog INVITEs rejected under overload are remembered so that
/// their ACKs are absorbed (an ACK follows its 503 within a round trip, or
/// its retransmissions within 32 s; older ones are forgotten first).
const OVERLOAD_ACK_MEMORY: usize = 4096;

#[derive(Default)]
struct OverloadAcks {
    set: HashSet<u64>,
    order: VecDeque<u64>,
}

impl OverloadAcks {
    fn remember(&mut self, h: u64) {
        if !self.set.insert(h) {
            return;
        }
        if self.order.len() >= OVERLOAD_ACK_MEMORY
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        self.order.push_back(h);
    }

    fn contains(&self, h: u64) -> bool {
        self.set.contains(&h)
    }
}

impl fmt::Debug for TransactionLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransactionLayer")
            .field("clients", &self.clients.len())
            .field("servers", &self.servers.len())
            .field("timers", &self.timers.len())
            .finish()
    }
}

impl TransactionLayer {
    /// An empty layer.
    pub fn new(config: Config) -> TransactionLayer {
        TransactionLayer {
            config,
            next_id: 1,
            next_token: 1,
            clients: IdMap::default(),
            client_keys: HashMap::new(),
            servers: IdMap::default(),
            server_keys: HashMap::new(),
            timers: BinaryHeap::new(),
            out: VecDeque::new(),
            overload_acks: OverloadAcks::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of live client transactions.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Number of live server transactions.
    pub fn server_count(&self) -> usize {
        self.servers.len()
    }

    /// Whether no transaction is alive and no timer is pending.
    pub fn is_idle(&self) -> bool {
        self.clients.is_empty() && self.servers.is_empty() && self.timers.is_empty()
    }

    /// The request a server transaction was created for.
    pub fn server_request(&self, tx: ServerTxId) -> Option<&Request> {
        self.servers.get(&tx.0).map(|s| &s.request)
    }

    /// The request a client transaction sent.
    pub fn client_request(&self, tx: ClientTxId) -> Option<&Request> {
        self.clients.get(&tx.0).map(|c| &c.request)
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The earliest deadline at which [`TransactionLayer::handle_timeout`]
    /// must be called.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(Reverse(t)) = self.timers.peek() {
            if self.timer_live(t) {
                return Some(t.at);
            }
            self.timers.pop();
        }
        None
    }

    fn timer_live(&self, t: &TimerEntry) -> bool {
        let slot = t.kind.slot();
        match t.tx {
            RawTx::Client(id) => self
                .clients
                .get(&id)
                .is_some_and(|c| c.timers[slot] == Some(t.token)),
            RawTx::Server(id) => self
                .servers
                .get(&id)
                .is_some_and(|s| s.timers[slot] == Some(t.token)),
        }
    }

    fn new_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn transmit(&mut self, to: Remote, data: Bytes, tx: Option<TxId>) {
        self.out.push_back(Output::Transmit { to, data, tx });
    }

    // ----- timers -----

    fn arm(&mut self, tx: RawTx, kind: TimerKind, after: Duration, now: Instant) {
        let token = self.next_token;
        self.next_token += 1;
        let slot = kind.slot();
        match tx {
            RawTx::Client(id) => match self.clients.get_mut(&id) {
                Some(c) => c.timers[slot] = Some(token),
                None => return,
            },
            RawTx::Server(id) => match self.servers.get_mut(&id) {
                Some(s) => s.timers[slot] = Some(token),
                None => return,
            },
        }
        self.timers.push(Reverse(TimerEntry {
            at: now + after,
            token,
            tx,
            kind,
        }));
    }

    fn disarm(&mut self, tx: RawTx, slot: usize) {
        match tx {
            RawTx::Client(id) => {
                if let Some(c) = self.clients.get_mut(&id) {
                    c.timers[slot] = None;
                }
            }
            RawTx::Server(id) => {
                if let Some(s) = self.servers.get_mut(&id) {
                    s.timers[slot] = None;
                }
            }
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse(t)) = self.timers.peek().copied() {
            if t.at > now {
                break;
            }
            self.timers.pop();
            if !self.timer_live(&t) {
                continue;
            }
            self.disarm(t.tx, t.kind.slot());
            match t.tx {
                RawTx::Client(id) => self.client_timer(id, t.kind, now),
                RawTx::Server(id) => self.server_timer(id, t.kind, now),
            }
        }
    }

    // ----- removal -----

    fn end_client(&mut self, id: u64, reason: Termination) {
        if let Some(c) = self.clients.remove(&id) {
            self.client_keys.remove(&c.key);
            if !c.internal {
                self.out.push_back(Output::Terminated {
                    tx: TxId::Client(ClientTxId(id)),
                    reason,
                });
            }
        }
    }

    fn end_server(&mut self, id: u64, reason: Termination) {
        if let Some(s) = self.servers.remove(&id) {
            self.server_keys.remove(&s.key);
            self.out.push_back(Output::Terminated {
                tx: TxId::Server(ServerTxId(id)),
                reason,
            });
        }
    }

    /// Reports that sending for `tx` failed (§17.1.1.2, §17.2.4): the
    /// transaction ends and the TU is told.
    pub fn transport_error(&mut self, tx: TxId) {
        match tx {
            TxId::Client(ClientTxId(id)) => {
                if self.clients.get(&id).is_some_and(|c| !c.internal) {
                    self.out
                        .push_back(Output::TransportFailed { tx: ClientTxId(id) });
                }
                self.end_client(id, Termination::TransportError);
            }
            TxId::Server(ServerTxId(id)) => self.end_server(id, Termination::TransportError),
        }
    }

    /// Sends a message outside any transaction: the ACK for a 2xx, or a
    /// request or response a proxy forwards statelessly.
    pub fn send_stateless(&mut self, msg: &Message, to: Remote) {
        self.transmit(to, msg.to_bytes(), None);
    }
}

mod client;
mod server;

#[cfg(test)]
pub(crate) mod tests;

/// Checks a request can start a client transaction: a top Via with an
/// RFC 3261 branch, and not an ACK. Returns that Via.
fn check_outgoing(req: &Request) -> Result<Via<'_>, Error> {
    if req.method() == &Method::ACK {
        return Err(Error::Invalid(
            "ACK is not sent in a transaction: use send_stateless",
        ));
    }
    let via = req.via()?;
    if via.branch().is_some_and(is_rfc3261_branch) {
        Ok(via)
    } else {
        Err(Error::Invalid(
            "request needs a top Via with an RFC 3261 (z9hG4bK) branch",
        ))
    }
}

/// Copies the raw values of every `name` field of `from` into `to`.
fn copy_header(from: &Request, to: &mut Request, name: &HeaderName) -> Result<(), Error> {
    for h in from.headers().get_all(name) {
        let v = h
            .value_str()
            .ok_or(Error::Invalid("header value is not UTF-8"))?;
        to.push_header(name, v)?;
    }
    Ok(())
}

/// A request of `method` that belongs with `invite` (§9.1, §17.1.1.3): the
/// INVITE's Request-URI, top Via (same branch), Route set, From, Call-ID and
/// CSeq number, with To `to`.
fn request_like_invite(invite: &Request, method: Method, to: &str) -> Result<Request, Error> {
    let seq = invite.cseq()?.seq;
    let mut req = Request::new(method, &invite.uri());
    req.push_header(&HeaderName::VIA, &invite.via()?.to_string())?;
    req.push_header(&HeaderName::MAX_FORWARDS, "70")?;
    copy_header(invite, &mut req, &HeaderName::ROUTE)?;
    copy_header(invite, &mut req, &HeaderName::FROM)?;
    req.push_header(&HeaderName::TO, to)?;
    copy_header(invite, &mut req, &HeaderName::CALL_ID)?;
    req.push_header(&HeaderName::CSEQ, &format!("{seq} {}", req.method()))?;
    req.push_header(&HeaderName::CONTENT_LENGTH, "0")?;
    Ok(req)
}

/// The raw To value of a message.
fn to_value(headers: &crate::headers::Headers) -> Result<&str, Error> {
    headers
        .get(&HeaderName::TO)
        .and_then(|h| h.value_str())
        .ok_or(Error::Missing("To"))
}

/// The ACK for a non-2xx final response (§17.1.1.3): To as in the response.
fn build_ack(invite: &Request, resp: &Response) -> Result<Request, Error> {
    request_like_invite(invite, Method::ACK, to_value(resp.headers())?)
}

/// The CANCEL for an INVITE (§9.1): same Request-URI, Call-ID, To, From,
/// CSeq number, the INVITE's top Via (same branch) and Route set.
pub fn build_cancel(invite: &Request) -> Result<Request, Error> {
    request_like_invite(invite, Method::CANCEL, to_value(invite.headers())?)
}

/// How the To tags of [`overload_tag`] start.
const OVERLOAD_TAG_PREFIX: &str = "cwo";

/// The To tag of the `503` sent statelessly under overload for a request:
/// derived from its Call-ID and top Via branch, so it differs per
/// transaction (§19.3) and the ACK of that 503 (same Call-ID and branch,
/// §17.1.1.3) is recognised without keeping anything.
fn overload_tag(req: &Request) -> Option<String> {
    Some(format!("{OVERLOAD_TAG_PREFIX}{:016x}", overload_hash(req)?))
}

/// A To tag for a request without a Via branch (RFC 2543): a hash of its
/// Call-ID and CSeq number, the same for every retransmission.
fn cancel_tag(req: &Request) -> Option<String> {
    let call_id = req.call_id().ok()?;
    let seq = req.cseq().ok()?.seq.to_be_bytes();
    Some(format!(
        "cw{:016x}",
        fnv1a(call_id.as_str().as_bytes(), &seq)
    ))
}

/// FNV-1a of a request's Call-ID and top Via branch: what its ACK shares with
/// it when the final response was not a 2xx (§17.1.1.3).
fn overload_hash(req: &Request) -> Option<u64> {
    let call_id = req.call_id().ok()?;
    let via = req.via().ok()?;
    Some(fnv1a(call_id.as_str().as_bytes(), via.branch()?.as_bytes()))
}

/// 64-bit FNV-1a of `a`, a zero octet and `b`.
fn fnv1a(a: &[u8], b: &[u8]) -> u64 {
    a.iter()
        .chain(&[0])
        .chain(b)
        .fold(0xcbf2_9ce4_8422_2325, |h, &c| {
            (h ^ u64::from(c)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

/// Where responses of a server transaction go.
pub(crate) fn reply_destination(req: &Request, from: &Remote) -> Remote {
    req.via()
        .ok()
        .and_then(|v| response_destination(&v, from))
        .unwrap_or(*from)
}

/// 100 Trying for `req` (§8.2.6.1: no To tag).
fn trying(req: &Request) -> Option<Response> {
    req.make_response(StatusCode::TRYING, None, None).ok()
}
