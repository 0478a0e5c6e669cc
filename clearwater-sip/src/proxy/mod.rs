//! A transaction-stateful proxy core (RFC 3261 §16), sans-IO.
//!
//! [`Proxy`] wraps a [`TransactionLayer`] and keeps one response context per
//! proxied request. Routing is not its business: each new request comes out as
//! [`ProxyOutput::Route`], and the application (an S-CSCF, an edge proxy, a
//! test) answers with a decision:
//!
//! * [`Proxy::respond`]: answer with a status;
//! * [`Proxy::forward`]: proxy to targets, in parallel within a group and
//!   sequentially across groups (each [`Target`] carries its Request-URI,
//!   resolved next hop, Route values to push — e.g. an AS and the S-CSCF with
//!   an original-dialog identifier — and header edits).
//!
//! The core then does what §16 requires:
//!
//! * validation (§16.3): Max-Forwards 0 → 483, a request that looped through
//!   this element unchanged → 482, unsupported Proxy-Require → 420 with
//!   Unsupported;
//! * route preprocessing (§16.4): a Request-URI that is one of our
//!   Record-Route URIs (ours, no user part, `lr`: a strict router's doing) is
//!   replaced by the last Route value; Route values naming us are removed;
//! * forwarding (§16.6): Max-Forwards decremented (added as 70 when absent), Record-Route
//!   added (twice when the transport changes, RFC 5658), strict-route fix-up
//!   for a next hop without `lr`, a Via with a new branch that carries a loop
//!   hash, a client transaction per target, Timer C for INVITE;
//! * responses (§16.7): our Via removed, 100 absorbed, other provisional
//!   responses and every 2xx forwarded at once, a 6xx or 2xx cancels the other
//!   branches, and when every branch has finished the best final response goes
//!   back (6xx first, then the lowest class; among 4xx, 401/407/415/420/484
//!   first; 503 becomes 500; the challenges of every 401/407 are merged; a
//!   branch that timed out counts as a 408; 408 when no branch answered, except
//!   that a non-INVITE request then gets no response at all, RFC 4320 §4.2);
//! * CANCEL (§16.10): answered 200, propagated to every pending branch; the
//!   487 comes back from downstream as usual;
//! * Timer C (§16.8): when it fires a branch with a provisional response (a
//!   100 included) is cancelled and its final response awaited, one without
//!   is treated as a 408;
//! * ACKs for 2xx go out statelessly (§16.11) through
//!   [`ProxyOutput::Stateless`] (the application picks the next hop);
//!   responses that match no transaction are dropped (RFC 6026 §7.3), and a
//!   2xx to INVITE after a non-2xx final is forwarded statelessly upstream;
//! * a CANCEL matching no context: 200 if it matched an INVITE transaction
//!   already answered, or a non-INVITE request (answered by the transaction
//!   layer; §9.2: no effect, nothing is cancelled downstream), else 481;
//! * overload: see the transaction layer's `max_server_transactions`.
//!
//! Loop detection hashes the Request-URI, From and To tags, Call-ID, CSeq
//! number, Route, Proxy-Require and Proxy-Authorization of the request as
//! received (not its Via, which changes on every hop), so a request that comes
//! back unchanged is a loop while an IMS spiral (new Request-URI or Route) is
//! not.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};

use crate::error::Error;
use crate::header::{MAGIC_COOKIE, ProxyRequire, Route, TypedHeader, Via};
use crate::id_hash::IdMap;
use crate::message::{Message, Request, Response};
use crate::method::Method;
use crate::name::HeaderName;
use crate::scan;
use crate::status::StatusCode;
use crate::transaction::{
    self, ClientTxId, Output, ServerTxId, Termination, TransactionLayer, TxId,
};
use crate::transport::{Remote, Transport};
use crate::uri::Uri;

/// One address this proxy is reachable at (Via sent-by, Record-Route).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalAddr {
    /// Transport.
    pub transport: Transport,
    /// Host name or address as it should appear in Via and Record-Route.
    pub host: String,
    /// Port.
    pub port: u16,
}

impl LocalAddr {
    /// An address.
    pub fn new(transport: Transport, host: impl Into<String>, port: u16) -> LocalAddr {
        LocalAddr {
            transport,
            host: host.into(),
            port,
        }
    }
}

/// Proxy configuration.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProxyConfig {
    /// Transaction timers.
    pub transaction: transaction::Config,
    /// Our addresses, one per transport we listen on; the first one of a
    /// transport is used for Via and Record-Route on it.
    pub locals: Vec<LocalAddr>,
    /// Record-Route every forwarded request unless the target says otherwise.
    pub record_route: bool,
    /// Timer C (§16.6 step 11: more than three minutes).
    pub timer_c: Duration,
    /// Option tags this proxy supports in Proxy-Require.
    pub supported: Vec<String>,
    /// RFC 3261 §18.1.1: a request longer than this many octets bound for a
    /// UDP next hop goes over TCP to the same address and port instead (with
    /// its Via and Record-Route saying TCP), when this proxy has a TCP
    /// address. The RFC's figure without a known path MTU is 1300. `None`
    /// (the default) keeps UDP whatever the size, as Kamailio does by
    /// default: many UDP peers (sipp, small user agents) listen on no TCP
    /// port. When sending over TCP fails before any response (any
    /// [`Proxy::transport_error`] for the branch: the runtime reports a
    /// connection refused, reset or not made within its connect timeout, and
    /// a send it cannot queue), the request goes again over UDP, once, with
    /// a new branch (§18.1.1 asks this for a reset or an ICMP error; the
    /// sans-IO core is not told which failure it was); only a failure of
    /// that sends the branch's 503. Nothing remembers peers without TCP:
    /// each large request to one pays a failed connection first.
    pub udp_size_limit: Option<usize>,
}

impl ProxyConfig {
    /// A configuration for a proxy at `locals`.
    pub fn new(locals: Vec<LocalAddr>) -> ProxyConfig {
        ProxyConfig {
            transaction: transaction::Config::default(),
            locals,
            record_route: true,
            timer_c: Duration::from_secs(185),
            supported: Vec::new(),
            udp_size_limit: None,
        }
    }
}

/// A response context (one proxied request).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContextId(u64);

impl fmt::Display for ContextId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ctx-{}", self.0)
    }
}

/// Where and how to forward a request (one branch).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Target {
    /// The new Request-URI (`None` keeps the request's).
    pub uri: Option<Uri<'static>>,
    /// Where to send it (resolved by the caller, RFC 3263).
    pub next_hop: Remote,
    /// Route values (`<uri;lr>` text) to push on top of the request's Route set.
    pub routes: Vec<String>,
    /// Add Record-Route (`None`: the configured default).
    pub record_route: Option<bool>,
    /// Header fields to add.
    pub headers: Vec<(HeaderName, String)>,
}

impl Target {
    /// A target that keeps the Request-URI and sends to `next_hop`.
    pub fn new(next_hop: Remote) -> Target {
        Target {
            uri: None,
            next_hop,
            routes: Vec::new(),
            record_route: None,
            headers: Vec::new(),
        }
    }

    /// With a new Request-URI.
    pub fn with_uri(mut self, uri: Uri<'static>) -> Target {
        self.uri = Some(uri);
        self
    }

    /// With a Route value pushed on top (call in order: first call ends on top).
    pub fn with_route(mut self, route: impl Into<String>) -> Target {
        self.routes.push(route.into());
        self
    }

    /// With Record-Route forced on or off.
    pub fn with_record_route(mut self, on: bool) -> Target {
        self.record_route = Some(on);
        self
    }

    /// With a header field added.
    pub fn with_header(mut self, name: HeaderName, value: impl Into<String>) -> Target {
        self.headers.push((name, value.into()));
        self
    }
}

/// What the proxy wants done.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProxyOutput {
    /// Send bytes (see [`Output::Transmit`]).
    Transmit {
        /// Destination.
        to: Remote,
        /// Wire bytes.
        data: bytes::Bytes,
        /// Owning transaction.
        tx: Option<TxId>,
    },
    /// A request needs a routing decision: answer with [`Proxy::respond`] or
    /// [`Proxy::forward`]. The request is as received after §16.4 (our Route
    /// values removed).
    Route {
        /// The context to decide for.
        ctx: ContextId,
        /// The request.
        request: Request,
        /// The Route values that named this proxy, removed by §16.4 (top
        /// first): an S-CSCF reads `orig` and an original-dialog identifier
        /// from them when a request comes back from an application server.
        own_routes: Vec<Uri<'static>>,
        /// Where it came from.
        from: Remote,
    },
    /// A request to forward statelessly (the ACK for a 2xx): pick a next hop
    /// and call [`Proxy::forward_stateless`].
    Stateless {
        /// The request, our Route values removed.
        request: Request,
        /// Where it came from.
        from: Remote,
    },
    /// A next hop did not answer (timeout or transport failure): feed it to a
    /// blacklist ([`crate::runtime::dns::SipResolver::report_failure`]).
    TargetFailed {
        /// The next hop.
        to: Remote,
    },
    /// A next hop answered (any response).
    TargetResponded {
        /// The next hop.
        to: Remote,
    },
    /// A context sent its final response.
    Finished {
        /// The context.
        ctx: ContextId,
        /// The final status sent upstream (408 for a non-INVITE request
        /// whose branches all timed out, though RFC 4320 has nothing sent).
        status: StatusCode,
    },
}

struct Branch {
    client: Option<ClientTxId>,
    next_hop: Remote,
    /// The target of a branch sent over TCP because of its size (§18.1.1),
    /// kept to send it again over UDP if the connection cannot be made.
    udp_fallback: Option<Box<Target>>,
    provisional: bool,
    done: bool,
    /// Timer C's token in the heap, and its deadline (a reset moves the
    /// deadline; the heap entry is re-pushed only when it comes due early).
    timer_c: Option<u64>,
    timer_c_at: Option<Instant>,
}

struct Ctx {
    server: ServerTxId,
    request: Request,
    from: Remote,
    invite: bool,
    loop_hash: String,
    groups: VecDeque<Vec<Target>>,
    branches: Vec<Branch>,
    best: Option<Response>,
    challenges: Vec<(HeaderName, String)>,
    decided: bool,
    final_sent: bool,
    cancelled: bool,
    server_done: bool,
    /// A group's branches are being started (outcomes wait until all are).
    starting: bool,
}

/// The proxy core. See the [module docs](self).
pub struct Proxy {
    config: ProxyConfig,
    txl: TransactionLayer,
    contexts: IdMap<u64, Ctx>,
    by_server: IdMap<ServerTxId, u64>,
    by_client: IdMap<ClientTxId, (u64, usize)>,
    timer_c: BinaryHeap<Reverse<(Instant, u64, u64, usize)>>,
    next_ctx: u64,
    next_branch: u64,
    next_token: u64,
    out: VecDeque<ProxyOutput>,
    /// Keys the To tags this proxy makes (§19.3: unpredictable, not counters).
    tag_key: std::collections::hash_map::RandomState,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("contexts", &self.contexts.len())
            .field("transactions", &self.txl)
            .finish()
    }
}

impl Proxy {
    /// A proxy.
    pub fn new(config: ProxyConfig) -> Proxy {
        Proxy {
            txl: TransactionLayer::new(config.transaction.clone()),
            config,
            contexts: IdMap::default(),
            by_server: IdMap::default(),
            by_client: IdMap::default(),
            timer_c: BinaryHeap::new(),
            next_ctx: 1,
            next_branch: 1,
            next_token: 1,
            out: VecDeque::new(),
            tag_key: std::collections::hash_map::RandomState::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ProxyConfig {
        &self.config
    }

    /// Number of live response contexts.
    pub fn context_count(&self) -> usize {
        self.contexts.len()
    }

    /// Whether no context, transaction or timer is alive.
    pub fn is_idle(&self) -> bool {
        self.contexts.is_empty() && self.txl.is_idle()
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<ProxyOutput> {
        self.out.pop_front()
    }

    /// The earliest deadline for [`Proxy::handle_timeout`].
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, token, ctx, b))) = self.timer_c.peek().copied() {
            let live = self
                .contexts
                .get(&ctx)
                .and_then(|c| c.branches.get(b))
                .is_some_and(|br| br.timer_c == Some(token));
            if live {
                let t = self.txl.poll_timeout();
                return Some(t.map_or(at, |t| t.min(at)));
            }
            self.timer_c.pop();
        }
        self.txl.poll_timeout()
    }

    /// A message arrived (after triage and Via stamping).
    pub fn handle_message(&mut self, msg: Message, from: Remote, now: Instant) {
        self.txl.handle_message(msg, from, now);
        self.pump(now);
    }

    /// Time passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.txl.handle_timeout(now);
        while let Some(Reverse((at, token, ctx, b))) = self.timer_c.peek().copied() {
            if at > now {
                break;
            }
            self.timer_c.pop();
            let Some(br) = self
                .contexts
                .get_mut(&ctx)
                .and_then(|c| c.branches.get_mut(b))
                .filter(|br| br.timer_c == Some(token) && !br.done)
            else {
                continue;
            };
            // Reset since this entry was pushed: wait for the new deadline.
            if let Some(later) = br.timer_c_at.filter(|t| *t > now) {
                self.timer_c.push(Reverse((later, token, ctx, b)));
                continue;
            }
            br.timer_c = None;
            br.timer_c_at = None;
            let fire = Some((br.client, br.provisional));
            if let Some((Some(client), provisional)) = fire {
                // §16.8: cancel; without a provisional response the CANCEL
                // waits for one, and the branch counts as a 408 now.
                let _ = self.txl.cancel(client, now);
                if !provisional {
                    self.branch_final(ctx, b, None, now);
                }
            }
        }
        self.pump(now);
    }

    /// A send failed (see [`TransactionLayer::transport_error`]).
    pub fn transport_error(&mut self, tx: TxId, now: Instant) {
        self.txl.transport_error(tx);
        self.pump(now);
    }

    /// Sends a request statelessly (an ACK for a 2xx) to `to`, after
    /// decrementing Max-Forwards and adding our Via (§16.11).
    pub fn forward_stateless(&mut self, mut req: Request, to: Remote) -> Result<(), Error> {
        let mf = match req.max_forwards()? {
            Some(0) => return Err(Error::Invalid("Max-Forwards exhausted")),
            Some(m) => m - 1,
            // §16.6 step 3: added, with the value 70.
            None => 70,
        };
        req.set_header(&HeaderName::MAX_FORWARDS, &mf.to_string())?;
        // §16.11 forwards as §16.6 does, step 6 included.
        strict_route_fixup(&mut req)?;
        let branch = self.stateless_branch(&req);
        let via = self.via_for(to.transport, &branch)?;
        req.push_via(&via)?;
        self.txl.send_stateless(&Message::Request(req), to);
        self.pump_transmits();
        Ok(())
    }

    // ----- decisions -----

    /// Answers a context's request with `status` (and optional extra header
    /// fields). A To tag is added to non-100 responses.
    pub fn respond(
        &mut self,
        ctx: ContextId,
        status: StatusCode,
        reason: Option<&str>,
        headers: &[(HeaderName, String)],
        now: Instant,
    ) -> Result<(), Error> {
        let c = self
            .contexts
            .get_mut(&ctx.0)
            .ok_or(Error::Invalid("no such context"))?;
        if c.final_sent {
            return Err(Error::Invalid(
                "the context already sent its final response",
            ));
        }
        c.decided = true;
        let tag = to_tag(&self.tag_key, ctx);
        let mut resp = c.request.make_response(
            status,
            reason,
            (status != StatusCode::TRYING).then_some(tag.as_str()),
        )?;
        for (n, v) in headers {
            resp.push_header(n, v)?;
        }
        let server = c.server;
        if status.is_final() {
            c.final_sent = true;
            self.out.push_back(ProxyOutput::Finished { ctx, status });
        }
        let sent = self.txl.send_response(server, resp, now);
        self.pump(now);
        // A context whose server transaction already ended (a transport
        // error) has nothing left to wait for.
        self.cleanup(ctx.0);
        sent
    }

    /// Forwards a context's request to `targets` in parallel.
    pub fn forward(
        &mut self,
        ctx: ContextId,
        targets: Vec<Target>,
        now: Instant,
    ) -> Result<(), Error> {
        self.forward_groups(ctx, vec![targets], now)
    }

    /// Forwards to groups of targets: the targets of a group in parallel, the
    /// next group when every branch of the previous one failed (no 2xx, no 6xx).
    pub fn forward_groups(
        &mut self,
        ctx: ContextId,
        groups: Vec<Vec<Target>>,
        now: Instant,
    ) -> Result<(), Error> {
        let c = self
            .contexts
            .get_mut(&ctx.0)
            .ok_or(Error::Invalid("no such context"))?;
        if c.decided {
            return Err(Error::Invalid("the context was already decided"));
        }
        if groups.iter().all(Vec::is_empty) {
            return Err(Error::Invalid("no target"));
        }
        c.decided = true;
        if c.cancelled {
            // CANCELled while the application was deciding.
            self.finish(ctx.0, now);
            self.pump(now);
            return Ok(());
        }
        c.groups = groups.into_iter().filter(|g| !g.is_empty()).collect();
        self.next_group(ctx.0, now);
        self.pump(now);
        Ok(())
    }

    // ----- internals -----

    fn pump_transmits(&mut self) {
        while let Some(o) = self.txl.poll_output() {
            if let Output::Transmit { to, data, tx } = o {
                self.out.push_back(ProxyOutput::Transmit { to, data, tx });
            }
        }
    }

    /// Drains the transaction layer and reacts to its events.
    fn pump(&mut self, now: Instant) {
        while let Some(o) = self.txl.poll_output() {
            match o {
                Output::Transmit { to, data, tx } => {
                    self.out.push_back(ProxyOutput::Transmit { to, data, tx });
                }
                Output::Request {
                    tx,
                    request,
                    from,
                    cancels,
                } => self.new_request(tx, request, from, cancels, now),
                Output::Ack { request, from } => {
                    let mut request = request;
                    let _ = self.preprocess_routes(&mut request);
                    self.out.push_back(ProxyOutput::Stateless { request, from });
                }
                Output::Response { tx, response } => self.response(tx, response, now),
                // A response that matches no transaction is dropped: RFC 6026
                // §7.3 replaced §16.7's stateless forwarding of such
                // responses (it let anyone relay responses through the proxy
                // to the address in a Via they wrote). Late 2xx
                // retransmissions travel through the client transaction's
                // Accepted state instead.
                Output::StrayResponse { .. } => {}
                Output::Timeout { tx } => {
                    if let Some((ctx, b)) = self.target_failed(tx) {
                        // §16.8: as if a 408 had come.
                        self.branch_final(ctx, b, None, now);
                    }
                }
                Output::TransportFailed { tx } => {
                    if self.retry_over_udp(tx, now) {
                        continue;
                    }
                    if let Some((ctx, b)) = self.target_failed(tx) {
                        // §16.9: as if a 503 had come (§16.7 turns a lone
                        // 503 into a 500 upstream).
                        let tag = to_tag(&self.tag_key, ContextId(ctx));
                        let resp = self.contexts.get(&ctx).and_then(|c| {
                            c.request
                                .make_response(StatusCode::SERVICE_UNAVAILABLE, None, Some(&tag))
                                .ok()
                        });
                        self.branch_final(ctx, b, resp, now);
                    }
                }
                Output::Terminated { tx, reason } => self.terminated(tx, reason, now),
            }
        }
    }

    fn new_request(
        &mut self,
        tx: ServerTxId,
        mut request: Request,
        from: Remote,
        cancels: Option<ServerTxId>,
        now: Instant,
    ) {
        // §16.10: a CANCEL for a context we hold is ours to handle.
        if let Some(ctx) = cancels.and_then(|inv| self.by_server.get(&inv).copied()) {
            // The context's tag: the 487 this proxy may send for the INVITE
            // carries the same (§9.2 SHOULD).
            let tag = to_tag(&self.tag_key, ContextId(ctx));
            if let Ok(ok) = request.make_response(StatusCode::OK, None, Some(&tag)) {
                let _ = self.txl.send_response(tx, ok, now);
            }
            self.cancel_context(ctx, now);
            return;
        }
        // A CANCEL for nothing this proxy holds (§16.10 would forward it
        // statelessly for a request forwarded statelessly; this proxy
        // forwards nothing statelessly but ACKs, and a CANCEL routed as a new
        // request would get a branch downstream can never match, §9.1).
        if request.method() == &Method::CANCEL {
            // It matched an INVITE transaction that has no context (answered
            // at once: 483, 482, 420...): nothing to cancel, but the CANCEL
            // itself succeeds (§9.2). Else there is no such transaction.
            let status = if cancels.is_some() {
                StatusCode::OK
            } else {
                StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST
            };
            self.reply_simple(tx, &request, status, None, now);
            return;
        }
        // §16.3 validation.
        if let Err((status, extra)) = self.validate(&request) {
            self.reply_simple(tx, &request, status, extra, now);
            return;
        }
        let loop_hash = loop_hash(&request);
        if self.looped(&request, &loop_hash) {
            self.reply_simple(tx, &request, StatusCode::LOOP_DETECTED, None, now);
            return;
        }
        // §16.4
        let own_routes = self.preprocess_routes(&mut request);
        let id = self.next_ctx;
        self.next_ctx += 1;
        let invite = request.method() == &Method::INVITE;
        self.contexts.insert(
            id,
            Ctx {
                server: tx,
                request: request.clone(),
                from,
                invite,
                loop_hash,
                groups: VecDeque::new(),
                branches: Vec::new(),
                best: None,
                challenges: Vec::new(),
                decided: false,
                final_sent: false,
                cancelled: false,
                server_done: false,
                starting: false,
            },
        );
        self.by_server.insert(tx, id);
        if invite {
            // A stateful proxy answers an INVITE with 100 Trying at once,
            // which stops the upstream retransmissions (§16.2).
            self.reply_trying(tx, &request, now);
        }
        self.out.push_back(ProxyOutput::Route {
            ctx: ContextId(id),
            request,
            own_routes,
            from,
        });
    }

    /// §16.3 steps 3 and 6.
    fn validate(&self, req: &Request) -> Result<(), (StatusCode, Option<(HeaderName, String)>)> {
        if req.max_forwards().ok().flatten() == Some(0) {
            return Err((StatusCode::TOO_MANY_HOPS, None));
        }
        let unsupported: Vec<String> = req
            .typed_all::<ProxyRequire<'_>>()
            .filter_map(Result::ok)
            .map(|t| t.as_str().to_owned())
            .filter(|t| {
                !self
                    .config
                    .supported
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(t))
            })
            .collect();
        if !unsupported.is_empty() {
            return Err((
                StatusCode::BAD_EXTENSION,
                Some((HeaderName::UNSUPPORTED, unsupported.join(", "))),
            ));
        }
        Ok(())
    }

    /// §16.3 step 4: one of our Vias carries the loop hash this request has now.
    fn looped(&self, req: &Request, hash: &str) -> bool {
        // Only a Via whose text holds the hash can carry it in its branch:
        // the usual case, none, is settled without parsing any Via.
        let finder = memchr::memmem::Finder::new(hash.as_bytes());
        if !req
            .headers()
            .get_all(&HeaderName::VIA)
            .any(|h| finder.find(h.value()).is_some())
        {
            return false;
        }
        req.vias().filter_map(Result::ok).any(|v| {
            self.is_local_sent_by(&v)
                && v.branch()
                    .and_then(|b| b.strip_prefix(MAGIC_COOKIE))
                    .and_then(|b| b.strip_prefix("cw"))
                    .and_then(|b| b.split('.').next())
                    == Some(hash)
        })
    }

    /// Whether `host` and `port` (default for the transport when absent) name
    /// one of our addresses.
    fn is_local(&self, host: &str, port: Option<u16>) -> bool {
        self.config.locals.iter().any(|l| {
            host.eq_ignore_ascii_case(&l.host)
                && port.unwrap_or(l.transport.default_port()) == l.port
        })
    }

    fn is_local_sent_by(&self, v: &Via<'_>) -> bool {
        self.is_local(v.host().as_str(), v.port())
    }

    fn is_local_uri(&self, uri: &Uri<'_>) -> bool {
        uri.as_sip()
            .is_some_and(|sip| self.is_local(sip.host().as_str(), sip.port()))
    }

    /// §16.4: strict-router fix-up of a Request-URI that is ours, then remove
    /// the Route values naming us.
    fn preprocess_routes(&self, req: &mut Request) -> Vec<Uri<'static>> {
        let mut removed = Vec::new();
        // Only a Request-URI of the shape this proxy records (no user part,
        // `lr`) came from a strict router: `sip:bob@<us>` with an outbound
        // Route to us (a UA whose domain is our address) keeps its user.
        let recorded_by_us = req
            .uri()
            .as_sip()
            .is_some_and(|s| s.user().is_none() && s.is_loose_route());
        if recorded_by_us && self.is_local_uri(&req.uri()) {
            let last = req
                .routes()
                .filter_map(Result::ok)
                .last()
                .map(|r| r.uri().into_owned());
            if let Some(uri) = last {
                req.set_uri(&uri);
                remove_last_route(req);
            }
        }
        loop {
            let top_is_us = req
                .routes()
                .next()
                .and_then(Result::ok)
                .is_some_and(|r| self.is_local_uri(&r.uri()));
            if !top_is_us {
                break;
            }
            match req.pop_route() {
                Ok(Some(r)) => removed.push(r.uri().into_owned()),
                _ => break,
            }
        }
        removed
    }

    fn reply_simple(
        &mut self,
        tx: ServerTxId,
        req: &Request,
        status: StatusCode,
        extra: Option<(HeaderName, String)>,
        now: Instant,
    ) {
        let tag = make_tag(&self.tag_key, "cw", self.next_branch);
        self.next_branch += 1;
        if let Ok(mut resp) = req.make_response(status, None, Some(&tag)) {
            if let Some((n, v)) = extra {
                let _ = resp.push_header(&n, &v);
            }
            let _ = self.txl.send_response(tx, resp, now);
        }
    }

    fn reply_trying(&mut self, tx: ServerTxId, req: &Request, now: Instant) {
        if let Ok(t) = req.make_response(StatusCode::TRYING, None, None) {
            let _ = self.txl.send_response(tx, t, now);
        }
    }

    fn local_for(&self, transport: Transport) -> Option<&LocalAddr> {
        self.config
            .locals
            .iter()
            .find(|l| l.transport == transport)
            .or_else(|| self.config.locals.first())
    }

    fn via_for(&self, transport: Transport, branch: &str) -> Result<Via<'static>, Error> {
        let l = self
            .local_for(transport)
            .ok_or(Error::Invalid("the proxy has no local address"))?;
        Via::new(transport.as_str(), &l.host, Some(l.port), branch)
    }

    fn record_route_value(&self, transport: Transport) -> Option<String> {
        let l = self.local_for(transport)?;
        let host = &l.host;
        let mut v = String::with_capacity(host.len() + 32);
        v.push_str("<sip:");
        v.push_str(host);
        v.push(':');
        scan::push_decimal(&mut v, u64::from(l.port));
        if transport != Transport::Udp {
            v.push_str(";transport=");
            v.push_str(&transport.as_str().to_ascii_lowercase());
        }
        v.push_str(";lr>");
        Some(v)
    }

    fn stateless_branch(&self, req: &Request) -> String {
        // §16.11: the same branch for retransmissions of the same ACK.
        let mut h = Md5::new();
        for part in [
            req.via().map(|v| v.to_string()).unwrap_or_default(),
            req.uri().to_string(),
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        format!("{MAGIC_COOKIE}sl{}", hex16(&h.finalize()))
    }

    fn next_group(&mut self, ctx: u64, now: Instant) {
        // A loop, not recursion through `maybe_finish`: groups whose every
        // target fails at once are passed over one after the other.
        loop {
            let Some(c) = self.contexts.get_mut(&ctx) else {
                return;
            };
            let Some(group) = c.groups.pop_front() else {
                return;
            };
            // Every branch of the group starts before any outcome is judged:
            // a target that fails at once must not end the context (or start
            // the next group) while its siblings have not gone out yet.
            c.starting = true;
            for target in group {
                self.start_branch(ctx, target, now);
            }
            let Some(c) = self.contexts.get_mut(&ctx) else {
                return;
            };
            c.starting = false;
            if c.final_sent || c.branches.iter().any(|b| !b.done) {
                return;
            }
            if c.groups.is_empty() || c.cancelled {
                self.finish(ctx, now);
                return;
            }
        }
    }

    fn start_branch(&mut self, ctx: u64, target: Target, now: Instant) {
        let Some(c) = self.contexts.get(&ctx) else {
            return;
        };
        let b = c.branches.len();
        let branch_id = self.next_branch;
        self.next_branch += 1;
        let mut next_hop = target.next_hop;
        let mut built = self.build_forward(c, &target, next_hop.transport, branch_id);
        let mut udp_fallback = None;
        // §18.1.1: too large for UDP without a known path MTU. (Not for a
        // next hop reached through a flow, RFC 5626: that flow is the way.)
        if let (Some(limit), Ok(req)) = (self.config.udp_size_limit, &built)
            && next_hop.transport == Transport::Udp
            && next_hop.flow.is_none()
            && req.wire_len() > limit
            && self
                .config
                .locals
                .iter()
                .any(|l| l.transport == Transport::Tcp)
        {
            next_hop.transport = Transport::Tcp;
            built = self.build_forward(c, &target, Transport::Tcp, branch_id);
            udp_fallback = Some(Box::new(target.clone()));
        }
        let invite = c.invite;
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        c.branches.push(Branch {
            client: None,
            // Health is reported for the target as the application gave it
            // (its resolver keys its blacklist so), even when switched.
            next_hop: target.next_hop,
            udp_fallback,
            provisional: false,
            done: false,
            timer_c: None,
            timer_c_at: None,
        });
        let sent = built.and_then(|req| self.txl.send_request(req, next_hop, now));
        match sent {
            Ok(client) => {
                self.bind_client(client, ctx, b);
                if invite {
                    self.arm_timer_c(ctx, b, now);
                }
            }
            // A target we cannot build a request for counts as a failed branch.
            Err(_) => self.branch_final(ctx, b, None, now),
        }
    }

    /// §16.6 steps 1–9 for one target, sent over `out_transport`.
    fn build_forward(
        &self,
        c: &Ctx,
        target: &Target,
        out_transport: Transport,
        branch_id: u64,
    ) -> Result<Request, Error> {
        let mut req = c.request.clone();
        if let Some(uri) = &target.uri {
            req.set_uri(uri);
        }
        // §16.6 step 3: decremented, or added with the value 70.
        let mf = req.max_forwards()?.map_or(70, |m| m.saturating_sub(1));
        req.set_header(&HeaderName::MAX_FORWARDS, &mf.to_string())?;
        if target.record_route.unwrap_or(self.config.record_route) {
            let inbound = c.from.transport;
            if inbound != out_transport {
                // RFC 5658: the value for the inbound side below the outbound one.
                if let Some(v) = self.record_route_value(inbound) {
                    req.insert_header_top(&HeaderName::RECORD_ROUTE, &v)?;
                }
            }
            if let Some(v) = self.record_route_value(out_transport) {
                req.insert_header_top(&HeaderName::RECORD_ROUTE, &v)?;
            }
        }
        for route in target.routes.iter().rev() {
            <Route<'_> as TypedHeader<'_>>::parse(route)
                .map_err(|_| Error::Invalid("target route is not a name-addr"))?;
            req.insert_header_top(&HeaderName::ROUTE, route)?;
        }
        for (n, v) in &target.headers {
            req.push_header(n, v)?;
        }
        strict_route_fixup(&mut req)?;
        let mut branch = String::with_capacity(MAGIC_COOKIE.len() + c.loop_hash.len() + 24);
        branch.push_str(MAGIC_COOKIE);
        branch.push_str("cw");
        branch.push_str(&c.loop_hash);
        branch.push('.');
        scan::push_decimal(&mut branch, branch_id);
        let via = self.via_for(out_transport, &branch)?;
        req.push_via(&via)?;
        Ok(req)
    }

    /// Arms Timer C for a branch, or resets it (a provisional response):
    /// one heap entry per branch however many provisionals arrive.
    fn arm_timer_c(&mut self, ctx: u64, b: usize, now: Instant) {
        let at = now + self.config.timer_c;
        let Some(br) = self
            .contexts
            .get_mut(&ctx)
            .and_then(|c| c.branches.get_mut(b))
        else {
            return;
        };
        br.timer_c_at = Some(at);
        if br.timer_c.is_some() {
            return; // the entry in the heap will find the new deadline
        }
        let token = self.next_token;
        self.next_token += 1;
        br.timer_c = Some(token);
        self.timer_c.push(Reverse((at, token, ctx, b)));
    }

    fn next_hop(&self, ctx: u64, b: usize) -> Option<Remote> {
        self.contexts
            .get(&ctx)
            .and_then(|c| c.branches.get(b))
            .map(|br| br.next_hop)
    }

    /// Makes client transaction `client` branch `b` of context `ctx`.
    fn bind_client(&mut self, client: ClientTxId, ctx: u64, b: usize) {
        self.by_client.insert(client, (ctx, b));
        if let Some(br) = self
            .contexts
            .get_mut(&ctx)
            .and_then(|c| c.branches.get_mut(b))
        {
            br.client = Some(client);
        }
    }

    /// RFC 3261 §18.1.1: a request sent over TCP only because it was too
    /// large for UDP is sent again over UDP, once, when sending it fails
    /// before any response (see [`ProxyConfig::udp_size_limit`]); the target
    /// is not reported failed. Returns whether the branch went out again.
    fn retry_over_udp(&mut self, tx: ClientTxId, now: Instant) -> bool {
        let Some(&(ctx, b)) = self.by_client.get(&tx) else {
            return false;
        };
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return false;
        };
        if c.final_sent || c.cancelled {
            return false;
        }
        let Some(target) = c
            .branches
            .get_mut(b)
            .filter(|br| !br.done && !br.provisional)
            .and_then(|br| br.udp_fallback.take())
        else {
            return false;
        };
        let branch_id = self.next_branch;
        self.next_branch += 1;
        let Some(c) = self.contexts.get(&ctx) else {
            return false;
        };
        let sent = self
            .build_forward(c, &target, Transport::Udp, branch_id)
            .and_then(|req| self.txl.send_request(req, target.next_hop, now));
        let Ok(client) = sent else {
            return false;
        };
        self.by_client.remove(&tx);
        self.bind_client(client, ctx, b);
        true
    }

    /// The branch of client transaction `tx` got no answer: reports its next
    /// hop failed and returns the branch.
    fn target_failed(&mut self, tx: ClientTxId) -> Option<(u64, usize)> {
        let (ctx, b) = *self.by_client.get(&tx)?;
        if let Some(to) = self.next_hop(ctx, b) {
            self.out.push_back(ProxyOutput::TargetFailed { to });
        }
        Some((ctx, b))
    }

    fn response(&mut self, tx: ClientTxId, mut resp: Response, now: Instant) {
        let Some(&(ctx, b)) = self.by_client.get(&tx) else {
            return;
        };
        if let Some(to) = self.next_hop(ctx, b) {
            self.out.push_back(ProxyOutput::TargetResponded { to });
        }
        let code = resp.status().as_u16();
        if code == 100 {
            // §16.7 step 5: 100 is not forwarded (nor resets Timer C), but it
            // is a provisional response: when Timer C fires, §16.8 asks for
            // a CANCEL and the final response, not an immediate 408.
            if let Some(br) = self
                .contexts
                .get_mut(&ctx)
                .and_then(|c| c.branches.get_mut(b))
            {
                br.provisional = true;
            }
            return;
        }
        // §16.7 step 3: remove our Via (read when the response was matched
        // to its branch); one must be left to send the response on.
        if !resp.drop_top_via() || resp.vias().next().is_none() {
            return;
        }
        if code < 200 {
            let (invite, server, final_sent) = match self.contexts.get_mut(&ctx) {
                Some(c) => {
                    if let Some(br) = c.branches.get_mut(b) {
                        br.provisional = true;
                    }
                    (c.invite, c.server, c.final_sent)
                }
                None => return,
            };
            if invite {
                self.arm_timer_c(ctx, b, now); // reset
            }
            if !final_sent {
                let _ = self.txl.send_response(server, resp, now);
            }
            return;
        }
        self.branch_final(ctx, b, Some(resp), now);
    }

    /// A branch ended with `resp` (`None`: timeout, counts as 408).
    fn branch_final(&mut self, ctx: u64, b: usize, resp: Option<Response>, now: Instant) {
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        let Some(br) = c.branches.get_mut(b) else {
            return;
        };
        let was_done = br.done;
        br.done = true;
        br.timer_c = None;
        br.timer_c_at = None;
        let server = c.server;
        let code = resp.as_ref().map_or(408, |r| r.status().as_u16());
        if (200..300).contains(&code) {
            // §16.7 step 10: every 2xx goes upstream; the first ends the others.
            let first = !c.final_sent;
            c.final_sent = true;
            c.groups.clear();
            if let Some(r) = resp {
                // After a non-2xx final (a Timer C 408, say) the server
                // transaction takes no 2xx; the 2xx must still go upstream
                // (§16.7 step 10), so it goes statelessly where the
                // transaction's responses went.
                if first || !c.invite {
                    // (After a final response only a 2xx to INVITE goes on.)
                    let _ = self.txl.send_response(server, r, now);
                } else {
                    let upstream = crate::transaction::reply_destination(&c.request, &c.from);
                    let data = Message::Response(r.clone());
                    if self.txl.send_response(server, r, now).is_err() {
                        self.txl.send_stateless(&data, upstream);
                    }
                }
            }
            if first {
                self.out.push_back(ProxyOutput::Finished {
                    ctx: ContextId(ctx),
                    status: StatusCode::from_u16(code).unwrap_or(StatusCode::OK),
                });
                self.cancel_pending(ctx, now);
            }
            return;
        }
        if was_done {
            return;
        }
        // A timeout counts as a stored 408 in the choice of the best
        // response (§16.7 step 6, §16.8): a 408 outranks another branch's 5xx.
        let resp = resp.or_else(|| {
            let tag = to_tag(&self.tag_key, ContextId(ctx));
            c.request
                .make_response(StatusCode::REQUEST_TIMEOUT, None, Some(&tag))
                .ok()
        });
        if let Some(r) = resp {
            if matches!(code, 401 | 407) {
                let name = if code == 401 {
                    HeaderName::WWW_AUTHENTICATE
                } else {
                    HeaderName::PROXY_AUTHENTICATE
                };
                for h in r.headers().get_all(&name) {
                    if let Some(v) = h.value_str() {
                        c.challenges.push((name.clone(), v.to_owned()));
                    }
                }
            }
            if c.best.as_ref().is_none_or(|best| better(&r, best)) {
                c.best = Some(r);
            }
        }
        if code >= 600 {
            c.groups.clear();
            self.cancel_pending(ctx, now);
        }
        self.maybe_finish(ctx, now);
    }

    fn cancel_pending(&mut self, ctx: u64, now: Instant) {
        let pending: Vec<ClientTxId> = self
            .contexts
            .get(&ctx)
            .map(|c| {
                c.branches
                    .iter()
                    .filter(|b| !b.done)
                    .filter_map(|b| b.client)
                    .collect()
            })
            .unwrap_or_default();
        for tx in pending {
            let _ = self.txl.cancel(tx, now);
        }
    }

    /// §16.10: a CANCEL for this context.
    fn cancel_context(&mut self, ctx: u64, now: Instant) {
        if let Some(c) = self.contexts.get_mut(&ctx) {
            c.cancelled = true;
            c.groups.clear();
            if !c.decided {
                // The application has not decided yet: answer 487 now.
                c.decided = true;
                self.finish(ctx, now);
                return;
            }
        }
        self.cancel_pending(ctx, now);
    }

    /// When every branch is done, starts the next group or sends the best
    /// response.
    fn maybe_finish(&mut self, ctx: u64, now: Instant) {
        let Some(c) = self.contexts.get(&ctx) else {
            return;
        };
        if c.final_sent || c.starting || c.branches.iter().any(|b| !b.done) {
            return;
        }
        if !c.groups.is_empty() && !c.cancelled {
            self.next_group(ctx, now);
            return;
        }
        self.finish(ctx, now);
    }

    /// Sends the best final response (or 408, or 487 when cancelled before
    /// any branch started).
    fn finish(&mut self, ctx: u64, now: Instant) {
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        if c.final_sent {
            return;
        }
        c.final_sent = true;
        let fallback = if c.cancelled && c.branches.is_empty() {
            StatusCode::REQUEST_TERMINATED
        } else {
            StatusCode::REQUEST_TIMEOUT
        };
        let tag = to_tag(&self.tag_key, ContextId(ctx));
        let mut resp = match c.best.take() {
            Some(r) => r,
            None => match c.request.make_response(fallback, None, Some(&tag)) {
                Ok(r) => r,
                Err(_) => return,
            },
        };
        if resp.status() == StatusCode::SERVICE_UNAVAILABLE {
            // §16.7 step 6: 503 becomes 500.
            let _ = resp.set_status(StatusCode::SERVER_INTERNAL_ERROR, None);
        }
        if matches!(resp.status().as_u16(), 401 | 407) {
            // §16.7 step 7: every challenge collected.
            resp.remove_header(&HeaderName::WWW_AUTHENTICATE);
            resp.remove_header(&HeaderName::PROXY_AUTHENTICATE);
            for (n, v) in &c.challenges {
                let _ = resp.push_header(n, v);
            }
        }
        let status = resp.status();
        let server = c.server;
        if !c.invite && status == StatusCode::REQUEST_TIMEOUT {
            // RFC 4320 §4.2: no 408 to a non-INVITE request (its sender has
            // timed out too): nothing goes upstream.
            let _ = self.txl.abandon(server, now);
        } else {
            let _ = self.txl.send_response(server, resp, now);
        }
        self.out.push_back(ProxyOutput::Finished {
            ctx: ContextId(ctx),
            status,
        });
        self.cleanup(ctx);
    }

    fn terminated(&mut self, tx: TxId, _reason: Termination, now: Instant) {
        match tx {
            TxId::Client(client) => {
                if let Some((ctx, b)) = self.by_client.remove(&client) {
                    if let Some(br) = self
                        .contexts
                        .get_mut(&ctx)
                        .and_then(|c| c.branches.get_mut(b))
                    {
                        br.client = None;
                    }
                    // a branch whose transaction ended without a final response
                    self.branch_final(ctx, b, None, now);
                    self.cleanup(ctx);
                }
            }
            TxId::Server(server) => {
                if let Some(ctx) = self.by_server.remove(&server) {
                    if let Some(c) = self.contexts.get_mut(&ctx) {
                        c.server_done = true;
                    }
                    self.cleanup(ctx);
                }
            }
        }
    }

    /// Drops a context whose server transaction and branches are all over.
    fn cleanup(&mut self, ctx: u64) {
        let done = self.contexts.get(&ctx).is_some_and(|c| {
            c.server_done && c.final_sent && c.branches.iter().all(|b| b.client.is_none())
        });
        if done {
            self.contexts.remove(&ctx);
        }
    }
}

/// §16.6 step 6: when the next hop (the top Route) is a strict router, it
/// becomes the Request-URI and the Request-URI the last Route value.
fn strict_route_fixup(req: &mut Request) -> Result<(), Error> {
    let strict = req.routes().next().and_then(Result::ok).map(|r| {
        (
            r.uri().into_owned(),
            r.uri().as_sip().is_some_and(|s| s.is_loose_route()),
        )
    });
    if let Some((top, false)) = strict {
        let ruri = req.uri().into_owned();
        req.pop_route()?;
        req.push_header(&HeaderName::ROUTE, &format!("<{ruri}>"))?;
        req.set_uri(&top);
    }
    Ok(())
}

/// A To tag: `prefix` and 64 bits of a keyed hash of `n` in hex, so tags
/// differ per `n` and cannot be guessed from one another (§19.3).
fn make_tag(key: &std::collections::hash_map::RandomState, prefix: &str, n: u64) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = key.build_hasher();
    h.write_u64(n);
    let mut tag = String::with_capacity(prefix.len() + 16);
    tag.push_str(prefix);
    tag.push_str(&hex16(&h.finish().to_be_bytes()));
    tag
}

/// Our To tag for responses we generate in context `ctx` (the same for
/// every response of the context).
fn to_tag(key: &std::collections::hash_map::RandomState, ctx: ContextId) -> String {
    make_tag(key, "cwp", ctx.0)
}

/// The first eight bytes of a digest in lower-case hex.
fn hex16(d: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(16);
    for &b in d.iter().take(8) {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

/// The loop-detection hash of a request as received (see the module docs).
fn loop_hash(req: &Request) -> String {
    let mut h = Md5::new();
    let tag = |v: Option<&str>| v.unwrap_or("").to_owned();
    let parts = [
        req.uri().to_string(),
        tag(req.from().ok().as_ref().and_then(|f| f.tag())),
        tag(req.to().ok().as_ref().and_then(|t| t.tag())),
        req.call_id()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
        req.cseq().map(|c| c.seq.to_string()).unwrap_or_default(),
    ];
    for p in &parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    for name in [
        HeaderName::ROUTE,
        HeaderName::PROXY_REQUIRE,
        HeaderName::PROXY_AUTHORIZATION,
    ] {
        for v in req.headers().get_all(&name) {
            h.update(v.value());
            h.update([0]);
        }
    }
    hex16(&h.finalize())
}

fn remove_last_route(req: &mut Request) {
    let all: Vec<String> = req
        .routes()
        .filter_map(Result::ok)
        .map(|r| r.to_string())
        .collect();
    if all.is_empty() {
        return;
    }
    req.remove_header(&HeaderName::ROUTE);
    for v in &all[..all.len() - 1] {
        let _ = req.push_header(&HeaderName::ROUTE, v);
    }
}

/// §16.7 step 6: whether `a` is a better final response than `b`.
fn better(a: &Response, b: &Response) -> bool {
    let (x, y) = (a.status().as_u16(), b.status().as_u16());
    let class = |c: u16| c / 100;
    if class(x) == 6 || class(y) == 6 {
        return class(x) == 6 && class(y) != 6;
    }
    if class(x) != class(y) {
        return class(x) < class(y);
    }
    let preferred = |c: u16| matches!(c, 401 | 407 | 415 | 420 | 484);
    class(x) == 4 && preferred(x) && !preferred(y)
}

#[cfg(test)]
mod tests;
