//! Server transactions: INVITE (§17.2.1 + RFC 6026) and non-INVITE (§17.2.2),
//! and the dispatch of received messages.

use std::time::{Duration, Instant};

use super::{
    OVERLOAD_TAG_PREFIX, Output, RawTx, ServerKey, ServerState, ServerTx, ServerTxId, Termination,
    TimerKind, TransactionLayer, TxId, cancel_tag, overload_hash, overload_tag, reply_destination,
    to_tag, trying,
};
use crate::error::Error;
use crate::message::{Message, Request, Response};
use crate::method::Method;
use crate::name::HeaderName;
use crate::status::StatusCode;
use crate::transport::Remote;

impl TransactionLayer {
    /// Feeds a received message (after triage).
    pub fn handle_message(&mut self, msg: Message, from: Remote, now: Instant) {
        match msg {
            Message::Response(resp) => self.client_response(resp, from, now),
            Message::Request(req) => self.server_request_in(req, from, now),
        }
    }

    fn server_request_in(&mut self, req: Request, from: Remote, now: Instant) {
        let Some(key) = ServerKey::of_request(&req) else {
            // Triage guarantees the headers a key needs; without them no
            // response could reach the sender anyway.
            return;
        };
        let is_ack = req.method() == &Method::ACK;
        if let Some(&id) = self.server_keys.get(&key) {
            if is_ack {
                self.server_ack(id, req, from, now);
            } else {
                self.server_retransmission(id);
            }
            return;
        }
        if is_ack {
            // The ACK of an overload 503 (sent without a transaction) ends
            // here rather than being routed on.
            // (The hash is computed only for a tag that looks like one.)
            let to = req.to();
            if let Ok(to) = &to
                && let Some(tag) = to.tag().filter(|t| t.starts_with(OVERLOAD_TAG_PREFIX))
                && overload_tag(&req).as_deref() == Some(tag)
            {
                return;
            }
            drop(to);
            // The ACK of a 503 to an in-dialog INVITE carries the dialog's tag.
            if !self.overload_acks.set.is_empty()
                && overload_hash(&req).is_some_and(|h| self.overload_acks.contains(h))
            {
                return;
            }
            self.out.push_back(Output::Ack { request: req, from });
            return;
        }
        let is_cancel = req.method() == &Method::CANCEL;
        let cancels = if is_cancel {
            let mut invite_key = key.clone();
            invite_key.set_method(Method::INVITE);
            self.server_keys
                .get(&invite_key)
                .copied()
                .filter(|id| self.servers.get(id).is_some_and(|s| s.invite))
                .map(ServerTxId)
        } else {
            None
        };
        let invite = req.method() == &Method::INVITE;
        let reply_to = reply_destination(&req, &from);
        if is_cancel
            && cancels.is_none()
            && let Some(matched) = self.matches_non_invite(key.clone())
        {
            // §9.2: a CANCEL for a non-INVITE request matches it but has no
            // effect, and is answered 200 (so does a proxy, §16.10). It is
            // answered here, without a transaction: a retransmitted CANCEL
            // gets the same answer. Its To tag: the request's own, else the
            // one the TU answered the request with (§9.2 SHOULD), else a
            // hash of Call-ID, branch or CSeq (§8.2.6.2: a tag is a MUST).
            let tag = req
                .to()
                .ok()
                .and_then(|t| t.tag().map(str::to_owned))
                .or_else(|| self.answered_tag(matched))
                .or_else(|| overload_tag(&req))
                .or_else(|| cancel_tag(&req));
            if let Ok(resp) = req.make_response(StatusCode::OK, None, tag.as_deref()) {
                self.transmit(reply_to, resp.to_bytes(), None);
            }
            return;
        }
        // Overloaded: answer without a transaction (a retransmission gets
        // the same answer). A CANCEL for an INVITE in progress still gets its
        // transaction, so the call it cancels does not ring on.
        if self.servers.len() >= self.config.max_server_transactions && cancels.is_none() {
            let tag = overload_tag(&req);
            if invite
                && let Ok(to) = req.to()
                && to.tag().is_some()
                && let Some(h) = overload_hash(&req)
            {
                // The 503 keeps the dialog's tag: remember the INVITE instead.
                self.overload_acks.remember(h);
            }
            if let Ok(mut resp) =
                req.make_response(StatusCode::SERVICE_UNAVAILABLE, None, tag.as_deref())
            {
                let _ = resp.set_header(&HeaderName::RETRY_AFTER, "5");
                self.transmit(reply_to, resp.to_bytes(), None);
            }
            return;
        }
        let id = self.new_id();
        self.servers.insert(
            id,
            ServerTx {
                key: key.clone(),
                invite,
                state: if invite {
                    ServerState::Proceeding
                } else {
                    ServerState::Trying
                },
                request: req.clone(),
                reply_to,
                last_response: None,
                to_tag_sent: None,
                retransmit: self.config.t1,
                timers: [None; 2],
            },
        );
        self.server_keys.insert(key, id);
        if invite && self.config.auto_trying {
            let delay = self.config.trying_delay;
            self.arm(RawTx::Server(id), TimerKind::Trying, delay, now);
        }
        self.out.push_back(Output::Request {
            tx: ServerTxId(id),
            request: req,
            from,
            cancels,
        });
    }

    /// The To tag server transaction `id` answered its request with (read
    /// from the last response it sent, when a CANCEL needs it).
    fn answered_tag(&self, id: u64) -> Option<String> {
        let last = self.servers.get(&id)?.last_response.clone()?;
        to_tag(Message::parse(last).ok()?.headers())
    }

    /// The non-INVITE server transaction a CANCEL whose own key is `key`
    /// names, answered or
    /// not (§9.2 answers 200 to any CANCEL that matches). A CANCEL does
    /// not say what it cancels, so the methods of RFC 3261 and its
    /// extensions are tried in turn (an extension method's transaction is
    /// not found: that CANCEL gets 481).
    fn matches_non_invite(&self, mut key: ServerKey) -> Option<u64> {
        const METHODS: [Method; 11] = [
            Method::OPTIONS,
            Method::BYE,
            Method::REGISTER,
            Method::MESSAGE,
            Method::SUBSCRIBE,
            Method::NOTIFY,
            Method::PUBLISH,
            Method::INFO,
            Method::UPDATE,
            Method::PRACK,
            Method::REFER,
        ];
        METHODS.into_iter().find_map(|m| {
            key.set_method(m);
            self.server_keys
                .get(&key)
                .copied()
                .filter(|id| self.servers.contains_key(id))
        })
    }

    /// A retransmitted request: resend the last response, if any (§17.2.1,
    /// §17.2.2). In the Accepted state the INVITE is absorbed (RFC 6026).
    fn server_retransmission(&mut self, id: u64) {
        let Some(s) = self.servers.get(&id) else {
            return;
        };
        let resend = match s.state {
            ServerState::Proceeding | ServerState::NonInviteProceeding | ServerState::Completed => {
                s.last_response.clone()
            }
            _ => None,
        };
        if let Some(data) = resend {
            let to = s.reply_to;
            self.transmit(to, data, Some(TxId::Server(ServerTxId(id))));
        }
    }

    fn server_ack(&mut self, id: u64, ack: Request, from: Remote, now: Instant) {
        let raw = RawTx::Server(id);
        let Some(s) = self.servers.get_mut(&id) else {
            return;
        };
        // RFC 2543 matching also needs the To tag of the response we sent;
        // otherwise this is the ACK for a 2xx (a new transaction).
        if s.key.is_rfc2543() && s.to_tag_sent.is_some() && to_tag(ack.headers()) != s.to_tag_sent {
            self.out.push_back(Output::Ack { request: ack, from });
            return;
        }
        match s.state {
            ServerState::Completed => {
                s.state = ServerState::Confirmed;
                let reliable = s.reply_to.transport.is_reliable();
                self.disarm(raw, 0); // Timer G
                self.disarm(raw, 1); // Timer H
                let i = if reliable {
                    Duration::ZERO
                } else {
                    self.config.t4
                };
                self.arm_or_end(raw, TimerKind::I, i, now);
            }
            ServerState::Accepted => {
                self.out.push_back(Output::Ack { request: ack, from });
            }
            // Confirmed: a retransmitted ACK, absorbed. Proceeding: an ACK
            // before any final response is meaningless.
            _ => {}
        }
    }

    /// Sends a response on a server transaction.
    ///
    /// INVITE: 1xx any number of times, then one final response; after a 2xx
    /// (Accepted), further 2xx retransmissions from the TU are sent too.
    /// Non-INVITE: 1xx then one final response.
    pub fn send_response(
        &mut self,
        tx: ServerTxId,
        resp: Response,
        now: Instant,
    ) -> Result<(), Error> {
        let id = tx.0;
        let raw = RawTx::Server(id);
        let Some(s) = self.servers.get_mut(&id) else {
            return Err(Error::Invalid("no such server transaction"));
        };
        let code = resp.status().as_u16();
        let data = resp.to_bytes();
        let to = s.reply_to;
        let reliable = to.transport.is_reliable();
        let t1 = self.config.t1;
        match (s.invite, s.state, code) {
            (true, ServerState::Proceeding, 100..=199) => {
                s.last_response = Some(data.clone());
                self.disarm(raw, 0); // no automatic 100 any more
            }
            (true, ServerState::Proceeding, 200..=299) => {
                s.state = ServerState::Accepted;
                s.last_response = None;
                s.to_tag_sent = to_tag(resp.headers());
                self.disarm(raw, 0);
                self.arm(raw, TimerKind::L, t1 * 64, now);
            }
            (true, ServerState::Proceeding, _) => {
                s.state = ServerState::Completed;
                s.last_response = Some(data.clone());
                s.to_tag_sent = to_tag(resp.headers());
                s.retransmit = t1;
                self.disarm(raw, 0);
                if !reliable {
                    self.arm(raw, TimerKind::G, t1, now);
                }
                self.arm(raw, TimerKind::H, t1 * 64, now);
            }
            (true, ServerState::Accepted, 200..=299) => {}
            (false, ServerState::Trying | ServerState::NonInviteProceeding, 100..=199) => {
                s.state = ServerState::NonInviteProceeding;
                s.last_response = Some(data.clone());
            }
            (false, ServerState::Trying | ServerState::NonInviteProceeding, _) => {
                s.state = ServerState::Completed;
                s.last_response = Some(data.clone());
                let j = if reliable { Duration::ZERO } else { t1 * 64 };
                self.transmit(to, data, Some(TxId::Server(tx)));
                self.arm_or_end(raw, TimerKind::J, j, now);
                return Ok(());
            }
            _ => {
                return Err(Error::Invalid(
                    "the transaction cannot send this response now",
                ));
            }
        }
        self.transmit(to, data, Some(TxId::Server(tx)));
        Ok(())
    }

    /// Ends a non-INVITE server transaction without a final response (RFC
    /// 4320 §4.2: an element that cannot answer before the request's own
    /// transaction expires sends no 408, and so nothing at all). The
    /// transaction stays Completed for Timer J, absorbing retransmissions
    /// silently. INVITE transactions must be answered: `Err`.
    pub fn abandon(&mut self, tx: ServerTxId, now: Instant) -> Result<(), Error> {
        let id = tx.0;
        let Some(s) = self.servers.get_mut(&id) else {
            return Err(Error::Invalid("no such server transaction"));
        };
        if s.invite
            || !matches!(
                s.state,
                ServerState::Trying | ServerState::NonInviteProceeding
            )
        {
            return Err(Error::Invalid(
                "only a non-INVITE transaction without a final response",
            ));
        }
        s.state = ServerState::Completed;
        s.last_response = None;
        let j = if s.reply_to.transport.is_reliable() {
            Duration::ZERO
        } else {
            self.config.t1 * 64
        };
        self.arm_or_end(RawTx::Server(id), TimerKind::J, j, now);
        Ok(())
    }

    pub(super) fn server_timer(&mut self, id: u64, kind: TimerKind, now: Instant) {
        let raw = RawTx::Server(id);
        let Some(s) = self.servers.get_mut(&id) else {
            return;
        };
        match (kind, s.state) {
            (TimerKind::Trying, ServerState::Proceeding) if s.last_response.is_none() => {
                if let Some(t) = trying(&s.request) {
                    let data = t.to_bytes();
                    s.last_response = Some(data.clone());
                    let to = s.reply_to;
                    self.transmit(to, data, Some(TxId::Server(ServerTxId(id))));
                }
            }
            (TimerKind::G, ServerState::Completed) => {
                s.retransmit = (s.retransmit * 2).min(self.config.t2);
                let next = s.retransmit;
                let (to, data) = (s.reply_to, s.last_response.clone());
                if let Some(d) = data {
                    self.transmit(to, d, Some(TxId::Server(ServerTxId(id))));
                }
                self.arm(raw, TimerKind::G, next, now);
            }
            (TimerKind::H, ServerState::Completed) => {
                self.end_server(id, Termination::AckTimeout);
            }
            (TimerKind::I, ServerState::Confirmed)
            | (TimerKind::J, ServerState::Completed)
            | (TimerKind::L, ServerState::Accepted) => self.end_server(id, Termination::Normal),
            _ => {}
        }
    }
}
