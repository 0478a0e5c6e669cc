//! The sans-IO Diameter peer state machine: one transport connection to one
//! peer (RFC 6733 §5), with the RFC 3539 watchdog.
//!
//! A [`Peer`] owns no socket and reads no clock. Its driver (the tokio one
//! in `runtime`, a simulator in tests) feeds it what happened —
//! [`Peer::connected`], [`Peer::receive`], [`Peer::closed`],
//! [`Peer::handle_timeout`] with the current [`Instant`] — and carries out
//! what it asks: bytes from [`Peer::poll_transmit`], [`Event`]s from
//! [`Peer::poll_event`] (including [`Event::Connect`] and
//! [`Event::Disconnect`] for the transport), and a wake-up at
//! [`Peer::poll_timeout`].
//!
//! ## What it does
//!
//! * **Capabilities exchange** (§5.3): an initiator sends CER as soon as the
//!   transport is up and waits for CEA; a responder waits for CER, checks
//!   it (Origin-Host/-Realm, an expected host or a list of allowed hosts
//!   if configured: 3010
//!   DIAMETER_UNKNOWN_PEER; a common application or relay: 5010
//!   DIAMETER_NO_COMMON_APPLICATION) and answers. The peer is usable
//!   ([`Event::Up`]) once the exchange succeeds; the applications in
//!   common are in [`PeerInfo`].
//! * **Watchdog** (RFC 3539 §3.4): after `Tw` (jittered by up to ±2 s, or
//!   ±Tw/4 for short Tw) without traffic a DWR is sent; any message
//!   received answers it. A second `Tw` with the DWA outstanding declares
//!   the connection failed: requests in flight are handed back
//!   ([`Event::Failed`], for failover) and the transport is closed. After
//!   a failure the new connection is in REOPEN: it becomes usable only
//!   after [`PeerConfig::reopen_watchdogs`] (RFC 3539: 3) consecutive DWAs,
//!   which avoids flapping. DWRs from the peer are answered in every open
//!   state.
//! * **Disconnect** (§5.4): [`Peer::disconnect`] sends DPR and closes on
//!   DPA (or after the request timeout); a received DPR is answered with
//!   DPA and the peer goes down. An initiator does not reconnect after
//!   DO_NOT_WANT_TO_TALK_TO_YOU and waits the longest back-off after BUSY.
//! * **Reconnect with back-off**: an initiator asks for a new connection
//!   after a failure, waiting `backoff_initial` doubling to `backoff_max`
//!   (each wait jittered by up to a quarter).
//! * **Identifiers and correlation** (§3, §6.2): [`Peer::send_request`]
//!   allocates the hop-by-hop identifier (sequential from a seeded start);
//!   the caller owns the end-to-end identifier ([`EndToEndIds`]), which a
//!   failover keeps. Answers are matched on hop-by-hop *and* end-to-end;
//!   unmatched answers are dropped (counted in [`PeerStats`]).
//! * **Timeouts**: a request not answered within `request_timeout` is
//!   handed back as [`Event::Failed`] with [`FailReason::Timeout`].
//! * **Bad input**: a message that cannot be decoded is answered, when it
//!   is a request whose header is readable, with the Result-Code of the
//!   error (§7, with the E bit for protocol errors); a stream that is not
//!   Diameter closes the connection. Requests for an application not in
//!   common get 3007 DIAMETER_APPLICATION_UNSUPPORTED.
//!
//! ## Limits
//!
//! One connection per peer; the election of §5.6.4 (both sides connecting
//! at once) is left to the driver, which refuses the second connection.
//! No TLS/DTLS (Inband-Security-Id is not offered). Redirect agents'
//! answers are returned to the caller as they are.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::avp::{Avp, code};
use crate::codes::{ApplicationId, CommandCode, CommandFlags, ResultCode};
use crate::message::{Framing, MAX_LEN, Message, frame};
use crate::{DiameterError, Result};

/// Disconnect-Cause values (RFC 6733 §5.4.3).
pub mod disconnect_cause {
    /// REBOOTING: the peer will be back.
    pub const REBOOTING: u32 = 0;
    /// BUSY: try later.
    pub const BUSY: u32 = 1;
    /// DO_NOT_WANT_TO_TALK_TO_YOU: do not reconnect.
    pub const DO_NOT_WANT_TO_TALK_TO_YOU: u32 = 2;
}

/// What this node says about itself in CER/CEA and puts in every base
/// message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalIdentity {
    /// Origin-Host: this node's DiameterIdentity (its FQDN).
    pub origin_host: String,
    /// Origin-Realm.
    pub origin_realm: String,
    /// Host-IP-Address values (at least one is sent; the driver fills in
    /// the socket's address when empty).
    pub host_ip_addresses: Vec<IpAddr>,
    /// Vendor-Id (0 = IETF).
    pub vendor_id: u32,
    /// Product-Name.
    pub product_name: String,
    /// Firmware-Revision, if any.
    pub firmware_revision: Option<u32>,
    /// Origin-State-Id: changes each time the node restarts with its state
    /// lost (the driver uses the start time).
    pub origin_state_id: u32,
    /// Applications supported, each with its vendor (0 for an IETF
    /// application, advertised as Auth-Application-Id; otherwise in
    /// Vendor-Specific-Application-Id).
    pub auth_applications: Vec<(u32, ApplicationId)>,
    /// Accounting applications, each with its vendor.
    pub acct_applications: Vec<(u32, ApplicationId)>,
    /// Supported-Vendor-Id values.
    pub supported_vendors: Vec<u32>,
}

impl LocalIdentity {
    /// A node supporting 3GPP Cx (vendor 10415), the usual S-CSCF/HSS set.
    pub fn cx(origin_host: impl Into<String>, origin_realm: impl Into<String>) -> LocalIdentity {
        LocalIdentity {
            origin_host: origin_host.into(),
            origin_realm: origin_realm.into(),
            host_ip_addresses: Vec::new(),
            vendor_id: 0,
            product_name: "clearwater-rs".to_owned(),
            firmware_revision: None,
            origin_state_id: 0,
            auth_applications: vec![(crate::vendor::TGPP, ApplicationId::CX)],
            acct_applications: Vec::new(),
            supported_vendors: vec![crate::vendor::TGPP],
        }
    }

    fn supports(&self, app: ApplicationId) -> bool {
        app == ApplicationId::COMMON
            || self
                .auth_applications
                .iter()
                .chain(&self.acct_applications)
                .any(|(_, a)| *a == app || *a == ApplicationId::RELAY)
    }
}

/// Which side opened the transport connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// We connect, send CER, and reconnect after failures.
    Initiator,
    /// The peer connected; we wait for its CER and never reconnect.
    Responder,
}

/// Tuning of one peer connection.
#[derive(Clone, Debug)]
pub struct PeerConfig {
    /// Initiator or responder.
    pub role: Role,
    /// The peer's Origin-Host, when known in advance: a CER/CEA from any
    /// other host is refused (3010 DIAMETER_UNKNOWN_PEER).
    pub expected_host: Option<String>,
    /// The Origin-Hosts a responder accepts a CER from (`None`: any); a CER
    /// from another host is refused (3010 DIAMETER_UNKNOWN_PEER).
    pub allowed_hosts: Option<Vec<String>>,
    /// RFC 3539 `Tw` (default 30 s; the RFC asks for at least 6 s, shorter
    /// values are accepted for tests and lab use).
    pub watchdog: Duration,
    /// Consecutive DWAs needed before a reopened connection is used again
    /// (RFC 3539: 3).
    pub reopen_watchdogs: u32,
    /// How long a request (and CER, DPR) waits for its answer (default
    /// 5 s).
    pub request_timeout: Duration,
    /// First reconnect wait (default 1 s).
    pub backoff_initial: Duration,
    /// Longest reconnect wait (default 30 s).
    pub backoff_max: Duration,
    /// Most requests in flight; more are refused with
    /// [`SendError::Busy`] (default 10 000).
    pub max_in_flight: usize,
    /// Largest message accepted (default 1 MiB).
    pub max_message: usize,
    /// Seed for identifiers and jitter (the driver passes a random one).
    pub seed: u64,
}

impl PeerConfig {
    /// Defaults for `role`.
    pub fn new(role: Role) -> PeerConfig {
        PeerConfig {
            role,
            expected_host: None,
            allowed_hosts: None,
            watchdog: Duration::from_secs(30),
            reopen_watchdogs: 3,
            request_timeout: Duration::from_secs(5),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            max_in_flight: 10_000,
            max_message: 1 << 20,
            seed: 0x5eed,
        }
    }
}

/// What the capabilities exchange learnt about the peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// Its Origin-Host.
    pub host: String,
    /// Its Origin-Realm.
    pub realm: String,
    /// Its Product-Name.
    pub product_name: String,
    /// Its Origin-State-Id, if sent.
    pub origin_state_id: Option<u32>,
    /// Applications in common (the peer's list when it is a relay).
    pub applications: Vec<ApplicationId>,
}

/// Why a request came back unanswered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailReason {
    /// No answer within the request timeout.
    Timeout,
    /// The connection failed or closed with the request in flight.
    ConnectionLost,
}

/// Why [`Peer::send_request`] refused a request (it is given back).
#[derive(Debug)]
pub enum SendError {
    /// The peer is not open (not connected, exchanging capabilities,
    /// reopening or closing).
    NotOpen(Message),
    /// The peer did not advertise the request's application.
    ApplicationUnsupported(Message),
    /// Too many requests in flight.
    Busy(Message),
    /// Not a request.
    NotARequest(Message),
}

impl SendError {
    /// The request, back.
    pub fn into_message(self) -> Message {
        match self {
            SendError::NotOpen(m)
            | SendError::ApplicationUnsupported(m)
            | SendError::Busy(m)
            | SendError::NotARequest(m) => m,
        }
    }
}

/// What the peer reports to its driver and user.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Open a transport connection to the peer now (initiators).
    Connect,
    /// Close the transport connection now.
    Disconnect,
    /// The peer is usable.
    Up(PeerInfo),
    /// The peer is no longer usable, and why.
    Down(String),
    /// A request from the peer (not a base protocol one): answer it with
    /// [`Peer::send_answer`].
    Request(Message),
    /// The answer to the request sent with this hop-by-hop identifier.
    Answer {
        /// The identifier [`Peer::send_request`] returned.
        id: u32,
        /// The answer.
        answer: Message,
    },
    /// A request that got no answer here: retry it elsewhere (with the T
    /// bit) or fail it.
    Failed {
        /// The identifier [`Peer::send_request`] returned.
        id: u32,
        /// The request as sent.
        request: Message,
        /// Why.
        reason: FailReason,
    },
}

/// Counters, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// Answers matching no request in flight (dropped).
    pub unmatched_answers: u64,
    /// Messages refused as malformed.
    pub malformed: u64,
    /// Watchdog failures.
    pub watchdog_failures: u64,
}

/// Transport/exchange state (RFC 6733 §5.6, one connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// No connection; an initiator reconnects at the deadline.
    Closed { retry_at: Option<Instant> },
    /// The driver is connecting.
    Connecting,
    /// Initiator: CER sent.
    WaitCea { deadline: Instant },
    /// Responder: waiting for CER.
    WaitCer { deadline: Instant },
    /// Capabilities exchanged.
    Open,
    /// DPR sent, waiting for DPA.
    Closing { deadline: Instant },
}

/// RFC 3539 watchdog state while [`State::Open`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Watchdog {
    Okay,
    Suspect,
    /// Reopened after a failure: `good` DWAs so far.
    Reopen {
        good: u32,
    },
}

struct Pending {
    deadline: Instant,
    request: Message,
}

/// One peer connection's state machine. See the [module docs](self).
pub struct Peer {
    local: LocalIdentity,
    config: PeerConfig,
    state: State,
    watchdog: Watchdog,
    /// When the next watchdog action is due.
    watchdog_at: Option<Instant>,
    /// A DWR is outstanding.
    dwr_pending: bool,
    /// The connection failed before: the next one starts in REOPEN.
    failed_before: bool,
    /// Do not reconnect (DO_NOT_WANT_TO_TALK_TO_YOU, or a local disconnect).
    stay_down: bool,
    backoff: Duration,
    info: Option<PeerInfo>,
    next_hop_by_hop: u32,
    rng: u64,
    pending: HashMap<u32, Pending>,
    buffer: BytesMut,
    transmit: VecDeque<Bytes>,
    events: VecDeque<Event>,
    stats: PeerStats,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("state", &self.state)
            .field("watchdog", &self.watchdog)
            .field("peer", &self.info.as_ref().map(|i| &i.host))
            .field("in_flight", &self.pending.len())
            .finish()
    }
}

impl Peer {
    /// A peer. An initiator asks for a connection at once
    /// ([`Event::Connect`]); a responder expects [`Peer::connected`] for
    /// its already accepted connection.
    pub fn new(local: LocalIdentity, config: PeerConfig, now: Instant) -> Peer {
        let mut rng = config.seed ^ 0x9e37_79b9_7f4a_7c15;
        let first = splitmix(&mut rng) as u32;
        let backoff = config.backoff_initial;
        let mut p = Peer {
            local,
            state: State::Closed { retry_at: None },
            watchdog: Watchdog::Okay,
            watchdog_at: None,
            dwr_pending: false,
            failed_before: false,
            stay_down: false,
            backoff,
            info: None,
            next_hop_by_hop: first,
            rng,
            pending: HashMap::new(),
            buffer: BytesMut::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            stats: PeerStats::default(),
            config,
        };
        if p.config.role == Role::Initiator {
            p.state = State::Connecting;
            p.events.push_back(Event::Connect);
        } else {
            p.state = State::WaitCer {
                deadline: now + p.config.request_timeout,
            };
        }
        p
    }

    /// Whether requests can be sent (capabilities exchanged, watchdog not
    /// reopening, not closing).
    pub fn is_open(&self) -> bool {
        self.state == State::Open && !matches!(self.watchdog, Watchdog::Reopen { .. })
    }

    /// What the capabilities exchange learnt, once it succeeded.
    pub fn info(&self) -> Option<&PeerInfo> {
        self.info.as_ref()
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Counters.
    pub fn stats(&self) -> PeerStats {
        self.stats
    }

    /// Whether the peer is finished: closed and never reconnecting (a
    /// responder whose connection ended, or an initiator told not to).
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Closed { retry_at: None })
            && (self.stay_down || self.config.role == Role::Responder)
    }

    /// The transport connection is up.
    pub fn connected(&mut self, now: Instant) {
        self.buffer.clear();
        self.dwr_pending = false;
        match self.config.role {
            Role::Initiator => {
                let cer = self.capabilities(Message::request(
                    CommandCode::CAPABILITIES_EXCHANGE,
                    ApplicationId::COMMON,
                ));
                self.send_base(cer);
                self.state = State::WaitCea {
                    deadline: now + self.config.request_timeout,
                };
            }
            Role::Responder => {
                self.state = State::WaitCer {
                    deadline: now + self.config.request_timeout,
                };
            }
        }
    }

    /// The connection attempt failed.
    pub fn connect_failed(&mut self, now: Instant) {
        self.connection_lost(now, "connection refused or unreachable".to_owned());
    }

    /// The transport connection closed (by the peer or on an error).
    pub fn closed(&mut self, now: Instant) {
        if matches!(self.state, State::Closed { .. }) {
            return;
        }
        self.connection_lost(now, "connection closed".to_owned());
    }

    /// Sends DPR with `cause` (see [`disconnect_cause`]) and closes on DPA;
    /// an initiator does not reconnect afterwards.
    pub fn disconnect(&mut self, now: Instant, cause: u32) {
        self.stay_down = true;
        match self.state {
            State::Open => {
                let dpr = self
                    .origin(Message::request(
                        CommandCode::DISCONNECT_PEER,
                        ApplicationId::COMMON,
                    ))
                    .with(Avp::u32(code::DISCONNECT_CAUSE, cause));
                self.send_base(dpr);
                self.state = State::Closing {
                    deadline: now + self.config.request_timeout,
                };
            }
            State::Closed { .. } => self.state = State::Closed { retry_at: None },
            _ => self.close(now, "disconnected locally".to_owned()),
        }
    }

    /// Sends a request; returns its hop-by-hop identifier, which the
    /// [`Event::Answer`] or [`Event::Failed`] will carry. The request's
    /// end-to-end identifier is kept if set (a retransmission), else
    /// allocated here.
    pub fn send_request(
        &mut self,
        now: Instant,
        mut request: Message,
    ) -> std::result::Result<u32, SendError> {
        if !request.is_request() {
            return Err(SendError::NotARequest(request));
        }
        if !self.is_open() {
            return Err(SendError::NotOpen(request));
        }
        if !self.peer_supports(request.application) {
            return Err(SendError::ApplicationUnsupported(request));
        }
        if self.pending.len() >= self.config.max_in_flight {
            return Err(SendError::Busy(request));
        }
        let id = self.allocate_hop_by_hop();
        request.hop_by_hop = id;
        if request.end_to_end == 0 {
            request.end_to_end = splitmix(&mut self.rng) as u32 | 1;
        }
        self.transmit.push_back(request.encode());
        self.pending.insert(
            id,
            Pending {
                deadline: now + self.config.request_timeout,
                request,
            },
        );
        Ok(id)
    }

    /// Sends an answer to a request received as [`Event::Request`] (built
    /// with [`Message::answer`], so identifiers are the request's). Dropped
    /// when the connection is no longer open.
    pub fn send_answer(&mut self, answer: Message) {
        if self.state == State::Open && !answer.is_request() {
            self.transmit.push_back(answer.encode());
        }
    }

    /// Bytes received on the transport.
    pub fn receive(&mut self, now: Instant, data: &[u8]) {
        self.buffer.extend_from_slice(data);
        loop {
            if matches!(self.state, State::Closed { .. } | State::Connecting) {
                self.buffer.clear();
                return;
            }
            match frame(&self.buffer, self.config.max_message.min(MAX_LEN)) {
                Framing::Partial => return,
                Framing::Invalid(e) => {
                    self.stats.malformed += 1;
                    self.close(now, format!("not a Diameter stream: {e}"));
                    return;
                }
                Framing::Complete(len) => {
                    let bytes = self.buffer.split_to(len).freeze();
                    self.on_message(now, bytes);
                }
            }
        }
    }

    /// The next bytes to write to the transport.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmit.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Peer::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let state = match self.state {
            State::Closed { retry_at } => retry_at,
            State::Connecting => None,
            State::WaitCea { deadline }
            | State::WaitCer { deadline }
            | State::Closing { deadline } => Some(deadline),
            State::Open => self.watchdog_at,
        };
        let requests = self.pending.values().map(|p| p.deadline).min();
        match (state, requests) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Acts on every deadline up to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(p) = self.pending.remove(&id) {
                self.events.push_back(Event::Failed {
                    id,
                    request: p.request,
                    reason: FailReason::Timeout,
                });
            }
        }
        match self.state {
            State::Closed {
                retry_at: Some(t), ..
            } if t <= now => {
                self.state = State::Connecting;
                self.events.push_back(Event::Connect);
            }
            State::WaitCea { deadline } if deadline <= now => {
                self.connection_lost(now, "no CEA in time".to_owned())
            }
            State::WaitCer { deadline } if deadline <= now => {
                self.connection_lost(now, "no CER in time".to_owned())
            }
            State::Closing { deadline } if deadline <= now => {
                self.close(now, "no DPA in time".to_owned())
            }
            State::Open if self.watchdog_at.is_some_and(|t| t <= now) => {
                self.watchdog_expired(now);
            }
            _ => {}
        }
    }

    // ---- internals ----

    fn allocate_hop_by_hop(&mut self) -> u32 {
        loop {
            let id = self.next_hop_by_hop;
            self.next_hop_by_hop = self.next_hop_by_hop.wrapping_add(1);
            if !self.pending.contains_key(&id) {
                return id;
            }
        }
    }

    fn peer_supports(&self, app: ApplicationId) -> bool {
        app == ApplicationId::COMMON
            || self.info.as_ref().is_some_and(|i| {
                i.applications
                    .iter()
                    .any(|a| *a == app || *a == ApplicationId::RELAY)
            })
    }

    fn jitter(&mut self, d: Duration) -> Duration {
        // RFC 3539 §3.4.1: Tw ± up to 2 s; a quarter of short periods.
        let spread = (d / 4).min(Duration::from_secs(2));
        let spread_ms = spread.as_millis() as u64;
        if spread_ms == 0 {
            return d;
        }
        let r = splitmix(&mut self.rng) % (2 * spread_ms + 1);
        (d + Duration::from_millis(r)).saturating_sub(spread)
    }

    fn arm_watchdog(&mut self, now: Instant) {
        let tw = self.jitter(self.config.watchdog);
        self.watchdog_at = Some(now + tw);
    }

    fn origin(&self, m: Message) -> Message {
        m.with(Avp::utf8(code::ORIGIN_HOST, &self.local.origin_host))
            .with(Avp::utf8(code::ORIGIN_REALM, &self.local.origin_realm))
    }

    /// The CEA refusing `cer` with `e`: Result-Code (E bit for protocol
    /// errors), this node's capabilities, Error-Message and, when the error
    /// names one, Failed-AVP (§7.5).
    fn refusing_cea(&self, cer: &Message, e: &DiameterError) -> Message {
        let mut a = self.capabilities(
            cer.answer()
                .with(Avp::u32(code::RESULT_CODE, e.result_code().0)),
        );
        if e.result_code().is_protocol_error() {
            a.flags.0 |= CommandFlags::ERROR;
        }
        a.push(Avp::utf8(code::ERROR_MESSAGE, &e.to_string()));
        if let DiameterError::Malformed {
            failed_avp: Some(f),
            ..
        } = e
        {
            a.push(Avp::grouped(code::FAILED_AVP, [(**f).clone()]));
        }
        a
    }

    fn capabilities(&self, m: Message) -> Message {
        let mut m = self.origin(m);
        for ip in &self.local.host_ip_addresses {
            m.push(Avp::address(code::HOST_IP_ADDRESS, *ip));
        }
        if self.local.host_ip_addresses.is_empty() {
            m.push(Avp::address(
                code::HOST_IP_ADDRESS,
                IpAddr::from([127, 0, 0, 1]),
            ));
        }
        m.push(Avp::u32(code::VENDOR_ID, self.local.vendor_id));
        m.push(Avp::utf8(code::PRODUCT_NAME, &self.local.product_name));
        m.push(Avp::u32(code::ORIGIN_STATE_ID, self.local.origin_state_id));
        for v in &self.local.supported_vendors {
            m.push(Avp::u32(code::SUPPORTED_VENDOR_ID, *v));
        }
        for (vendor, app, acct) in self
            .local
            .auth_applications
            .iter()
            .map(|(v, a)| (*v, *a, false))
            .chain(
                self.local
                    .acct_applications
                    .iter()
                    .map(|(v, a)| (*v, *a, true)),
            )
        {
            let id = if acct {
                code::ACCT_APPLICATION_ID
            } else {
                code::AUTH_APPLICATION_ID
            };
            if vendor == 0 {
                m.push(Avp::u32(id, app.0));
            } else {
                m.push(Avp::grouped(
                    code::VENDOR_SPECIFIC_APPLICATION_ID,
                    [Avp::u32(code::VENDOR_ID, vendor), Avp::u32(id, app.0)],
                ));
            }
        }
        if let Some(fw) = self.local.firmware_revision {
            m.push(Avp::u32(code::FIRMWARE_REVISION, fw));
        }
        m
    }

    fn send_base(&mut self, mut m: Message) {
        if m.is_request() {
            m.hop_by_hop = self.allocate_hop_by_hop();
            m.end_to_end = splitmix(&mut self.rng) as u32 | 1;
        }
        self.transmit.push_back(m.encode());
    }

    fn answer_with(&self, request: &Message, rc: ResultCode) -> Message {
        let mut a = request.answer();
        a.push(Avp::u32(code::RESULT_CODE, rc.0));
        self.origin(a)
    }

    fn send_dwr(&mut self) {
        let dwr = self
            .origin(Message::request(
                CommandCode::DEVICE_WATCHDOG,
                ApplicationId::COMMON,
            ))
            .with(Avp::u32(code::ORIGIN_STATE_ID, self.local.origin_state_id));
        self.send_base(dwr);
        self.dwr_pending = true;
    }

    fn watchdog_expired(&mut self, now: Instant) {
        match self.watchdog {
            Watchdog::Okay => {
                self.send_dwr();
                self.watchdog = Watchdog::Suspect;
                self.arm_watchdog(now);
            }
            Watchdog::Suspect => {
                self.stats.watchdog_failures += 1;
                self.failed_before = true;
                self.close(now, "watchdog: no answer to DWR".to_owned());
            }
            Watchdog::Reopen { .. } => {
                if self.dwr_pending {
                    self.stats.watchdog_failures += 1;
                    self.close(now, "watchdog: no answer to DWR while reopening".to_owned());
                } else {
                    self.send_dwr();
                    self.arm_watchdog(now);
                }
            }
        }
    }

    /// Any message received counts as traffic for the watchdog.
    fn traffic(&mut self, now: Instant) {
        if self.state == State::Open {
            if self.watchdog == Watchdog::Suspect {
                self.watchdog = Watchdog::Okay;
            }
            if !matches!(self.watchdog, Watchdog::Reopen { .. }) {
                self.arm_watchdog(now);
            }
        }
    }

    fn on_message(&mut self, now: Instant, bytes: Bytes) {
        let msg = match Message::decode(bytes.clone()) {
            Ok(m) => m,
            Err(e) => {
                self.stats.malformed += 1;
                self.refuse_undecodable(now, &bytes, &e);
                return;
            }
        };
        match self.state {
            State::WaitCer { .. } => self.on_cer(now, msg),
            State::WaitCea { .. } => self.on_cea(now, msg),
            State::Open | State::Closing { .. } => {
                self.traffic(now);
                self.on_open_message(now, msg);
            }
            State::Closed { .. } | State::Connecting => {}
        }
    }

    /// A message `Message::decode` refused: answer it if its header shows a
    /// request we can answer, else close.
    fn refuse_undecodable(&mut self, now: Instant, bytes: &Bytes, e: &DiameterError) {
        match Message::header(bytes) {
            // A CER we cannot decode still gets a CEA saying why (§5.3),
            // then the connection closes.
            Some(r)
                if matches!(self.state, State::WaitCer { .. })
                    && r.is_request()
                    && r.code == CommandCode::CAPABILITIES_EXCHANGE =>
            {
                let cea = self.refusing_cea(&r, e);
                self.transmit.push_back(cea.encode());
                self.stay_down = true;
                self.close(now, format!("undecodable CER: {e}"));
            }
            Some(r) if self.state == State::Open && r.is_request() => {
                let a = r.error_answer(e, &self.local.origin_host, &self.local.origin_realm);
                self.transmit.push_back(a.encode());
                self.traffic(now);
            }
            _ if self.state != State::Open => {
                self.close(now, format!("malformed message during the exchange: {e}"))
            }
            // An undecodable answer while open is dropped; its request
            // times out.
            _ => {}
        }
    }

    fn read_info(&self, m: &Message) -> Result<PeerInfo> {
        m.validate()?;
        let mut applications = Vec::new();
        for a in &m.avps {
            if a.code == code::AUTH_APPLICATION_ID || a.code == code::ACCT_APPLICATION_ID {
                applications.push(ApplicationId(a.as_u32()?));
            } else if a.code == code::VENDOR_SPECIFIC_APPLICATION_ID {
                for c in a.children()? {
                    if c.code == code::AUTH_APPLICATION_ID || c.code == code::ACCT_APPLICATION_ID {
                        applications.push(ApplicationId(c.as_u32()?));
                    }
                }
            }
        }
        let relay = applications.contains(&ApplicationId::RELAY);
        if !relay {
            applications.retain(|a| self.local.supports(*a));
        }
        applications.dedup();
        Ok(PeerInfo {
            host: m.origin_host()?.to_owned(),
            realm: m.origin_realm()?.to_owned(),
            product_name: m
                .avp(code::PRODUCT_NAME)
                .map(|a| a.as_str().map(str::to_owned))
                .transpose()?
                .unwrap_or_default(),
            origin_state_id: m.avp(code::ORIGIN_STATE_ID).map(Avp::as_u32).transpose()?,
            applications,
        })
    }

    fn on_cer(&mut self, now: Instant, m: Message) {
        if m.code != CommandCode::CAPABILITIES_EXCHANGE || !m.is_request() {
            self.close(now, format!("expected CER, got {}", m.code));
            return;
        }
        let refusal = match self.read_info(&m) {
            Err(e) => Err(e),
            Ok(info) => {
                let unexpected = self
                    .config
                    .expected_host
                    .as_ref()
                    .is_some_and(|h| !h.eq_ignore_ascii_case(&info.host));
                let not_allowed = self
                    .config
                    .allowed_hosts
                    .as_ref()
                    .is_some_and(|l| !l.iter().any(|h| h.eq_ignore_ascii_case(&info.host)));
                if unexpected || not_allowed {
                    Err(DiameterError::new(
                        ResultCode::UNKNOWN_PEER,
                        format!("unexpected peer {}", info.host),
                    ))
                } else if info.applications.is_empty() {
                    Err(DiameterError::new(
                        ResultCode::NO_COMMON_APPLICATION,
                        "no application in common",
                    ))
                } else {
                    Ok(info)
                }
            }
        };
        match refusal {
            Ok(info) => {
                let cea = self.capabilities(
                    m.answer()
                        .with(Avp::u32(code::RESULT_CODE, ResultCode::SUCCESS.0)),
                );
                // Result-Code goes first in our CEA; harmless either way.
                self.transmit.push_back(cea.encode());
                self.opened(now, info);
            }
            Err(e) => {
                let a = self.refusing_cea(&m, &e);
                self.transmit.push_back(a.encode());
                self.stay_down = true;
                self.close(now, format!("CER refused: {e}"));
            }
        }
    }

    fn on_cea(&mut self, now: Instant, m: Message) {
        if m.code != CommandCode::CAPABILITIES_EXCHANGE || m.is_request() {
            self.close(now, format!("expected CEA, got {}", m.code));
            return;
        }
        let rc = m.result_code().ok().flatten();
        if rc != Some(ResultCode::SUCCESS) {
            let rc = rc.map_or("none".to_owned(), |r| r.to_string());
            // A peer refusing us for a permanent reason should not be
            // hammered: back off the longest.
            self.backoff = self.config.backoff_max;
            self.close(now, format!("CEA Result-Code {rc}"));
            return;
        }
        match self.read_info(&m) {
            Ok(info)
                if self
                    .config
                    .expected_host
                    .as_ref()
                    .is_some_and(|h| !h.eq_ignore_ascii_case(&info.host)) =>
            {
                self.close(now, format!("CEA from unexpected peer {}", info.host));
            }
            Ok(info) if info.applications.is_empty() => {
                self.close(now, "no application in common".to_owned());
            }
            Ok(info) => self.opened(now, info),
            Err(e) => self.close(now, format!("bad CEA: {e}")),
        }
    }

    fn opened(&mut self, now: Instant, info: PeerInfo) {
        self.state = State::Open;
        self.backoff = self.config.backoff_initial;
        self.dwr_pending = false;
        self.info = Some(info.clone());
        if self.failed_before && self.config.reopen_watchdogs > 0 {
            self.watchdog = Watchdog::Reopen { good: 0 };
            self.send_dwr();
            self.arm_watchdog(now);
        } else {
            self.watchdog = Watchdog::Okay;
            self.arm_watchdog(now);
            self.events.push_back(Event::Up(info));
        }
    }

    fn on_open_message(&mut self, now: Instant, m: Message) {
        match (m.code, m.is_request()) {
            (CommandCode::DEVICE_WATCHDOG, true) => {
                let mut a = self.answer_with(&m, ResultCode::SUCCESS);
                a.push(Avp::u32(code::ORIGIN_STATE_ID, self.local.origin_state_id));
                self.transmit.push_back(a.encode());
            }
            (CommandCode::DEVICE_WATCHDOG, false) => {
                self.dwr_pending = false;
                if let Watchdog::Reopen { good } = self.watchdog {
                    let good = good + 1;
                    if good >= self.config.reopen_watchdogs {
                        self.watchdog = Watchdog::Okay;
                        self.failed_before = false;
                        self.arm_watchdog(now);
                        if let Some(info) = self.info.clone() {
                            self.events.push_back(Event::Up(info));
                        }
                    } else {
                        self.watchdog = Watchdog::Reopen { good };
                    }
                }
            }
            (CommandCode::DISCONNECT_PEER, true) => {
                let cause = m
                    .avp(code::DISCONNECT_CAUSE)
                    .and_then(|a| a.as_u32().ok())
                    .unwrap_or(disconnect_cause::REBOOTING);
                let a = self.answer_with(&m, ResultCode::SUCCESS);
                self.transmit.push_back(a.encode());
                match cause {
                    disconnect_cause::DO_NOT_WANT_TO_TALK_TO_YOU => self.stay_down = true,
                    disconnect_cause::BUSY => self.backoff = self.config.backoff_max,
                    _ => {}
                }
                self.close(now, format!("DPR from the peer (cause {cause})"));
            }
            (CommandCode::DISCONNECT_PEER, false) => {
                if matches!(self.state, State::Closing { .. }) {
                    self.close(now, "disconnected".to_owned());
                }
            }
            (CommandCode::CAPABILITIES_EXCHANGE, true) => {
                // A CER on an open connection is answered with a CEA (the
                // §5.6 state table: Process-CER, Snd-CEA); the peer's
                // capabilities as first exchanged stay in force.
                let cea = self.capabilities(
                    m.answer()
                        .with(Avp::u32(code::RESULT_CODE, ResultCode::SUCCESS.0)),
                );
                self.transmit.push_back(cea.encode());
            }
            (_, true) => {
                if matches!(self.state, State::Closing { .. }) {
                    return;
                }
                if !self.local.supports(m.application) {
                    let e = DiameterError::new(
                        ResultCode::APPLICATION_UNSUPPORTED,
                        format!("application {} is not supported", m.application),
                    );
                    let a = m.error_answer(&e, &self.local.origin_host, &self.local.origin_realm);
                    self.transmit.push_back(a.encode());
                } else {
                    self.events.push_back(Event::Request(m));
                }
            }
            (_, false) => match self.pending.get(&m.hop_by_hop) {
                Some(p) if p.request.end_to_end == m.end_to_end && p.request.code == m.code => {
                    let id = m.hop_by_hop;
                    self.pending.remove(&id);
                    self.events.push_back(Event::Answer { id, answer: m });
                }
                _ => self.stats.unmatched_answers += 1,
            },
        }
    }

    /// The connection is gone for a reason that may call for a reconnect.
    fn connection_lost(&mut self, now: Instant, reason: String) {
        if self.state == State::Open {
            self.failed_before = true;
        }
        self.close(now, reason);
    }

    fn close(&mut self, now: Instant, reason: String) {
        let was_up = self.state == State::Open && !matches!(self.watchdog, Watchdog::Reopen { .. });
        let had_connection = !matches!(self.state, State::Closed { .. } | State::Connecting);
        let connecting = self.state == State::Connecting;
        for (id, p) in self.pending.drain() {
            self.events.push_back(Event::Failed {
                id,
                request: p.request,
                reason: FailReason::ConnectionLost,
            });
        }
        if had_connection || connecting {
            self.events.push_back(Event::Disconnect);
        }
        if was_up || had_connection || connecting {
            // Also when not up yet: it says why the attempt ended.
            self.events.push_back(Event::Down(reason));
        }
        self.buffer.clear();
        self.dwr_pending = false;
        self.watchdog_at = None;
        self.watchdog = Watchdog::Okay;
        let retry = self.config.role == Role::Initiator && !self.stay_down;
        self.state = State::Closed {
            retry_at: if retry {
                let wait = self.jitter(self.backoff);
                self.backoff = (self.backoff * 2).min(self.config.backoff_max);
                Some(now + wait)
            } else {
                None
            },
        };
    }
}

/// Allocates end-to-end identifiers as RFC 6733 §3 suggests: the high 12
/// bits from the start time, the low 20 a counter, so identifiers stay
/// unique across restarts for a while. One per node; a failover keeps the
/// identifier of the original request.
#[derive(Debug, Clone)]
pub struct EndToEndIds {
    high: u32,
    counter: u32,
}

impl EndToEndIds {
    /// From the node's start time in seconds and a random counter start.
    pub fn new(start_unix_secs: u64, seed: u32) -> EndToEndIds {
        EndToEndIds {
            high: ((start_unix_secs as u32) & 0xfff) << 20,
            counter: seed & 0xf_ffff,
        }
    }

    /// The next identifier (never zero).
    pub fn next_id(&mut self) -> u32 {
        loop {
            self.counter = (self.counter + 1) & 0xf_ffff;
            let id = self.high | self.counter;
            if id != 0 {
                return id;
            }
        }
    }
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
