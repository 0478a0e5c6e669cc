//! Client transactions: INVITE (§17.1.1 + RFC 6026) and non-INVITE (§17.1.2).

use std::time::{Duration, Instant};

use super::{
    ClientKey, ClientState, ClientTx, ClientTxId, Output, RawTx, Termination, TimerKind,
    TransactionLayer, TxId, build_ack, build_cancel, check_outgoing,
};
use crate::error::Error;
use crate::header::Via;
use crate::message::{Request, Response};
use crate::method::Method;
use crate::transport::Remote;

impl TransactionLayer {
    /// Starts a client transaction: sends `req` to `to` and retransmits it as
    /// the transport requires. `req` needs a top Via with an RFC 3261 branch
    /// (unique per transaction) and cannot be an ACK.
    pub fn send_request(
        &mut self,
        req: Request,
        to: Remote,
        now: Instant,
    ) -> Result<ClientTxId, Error> {
        self.start_client(req, to, now, false)
    }

    fn start_client(
        &mut self,
        req: Request,
        to: Remote,
        now: Instant,
        internal: bool,
    ) -> Result<ClientTxId, Error> {
        let via = check_outgoing(&req)?.into_owned();
        let key = ClientKey::of_request(&req, &via).ok_or(Error::Missing("Via branch"))?;
        if self.client_keys.contains_key(&key) {
            return Err(Error::Invalid(
                "a client transaction with this branch exists",
            ));
        }
        let invite = req.method() == &Method::INVITE;
        let wire = req.to_bytes();
        let id = self.new_id();
        let t1 = self.config.t1;
        self.clients.insert(
            id,
            ClientTx {
                key: key.clone(),
                via,
                invite,
                state: if invite {
                    ClientState::Calling
                } else {
                    ClientState::Trying
                },
                request: req,
                wire: wire.clone(),
                to,
                retransmit: t1,
                ack: None,
                pending_cancel: false,
                internal,
                timers: [None; 2],
            },
        );
        self.client_keys.insert(key, id);
        let raw = RawTx::Client(id);
        self.transmit(to, wire, Some(TxId::Client(ClientTxId(id))));
        let unreliable = !to.transport.is_reliable();
        if invite {
            if unreliable {
                self.arm(raw, TimerKind::A, t1, now);
            }
            self.arm(raw, TimerKind::B, t1 * 64, now);
        } else {
            if unreliable {
                self.arm(raw, TimerKind::E, t1, now);
            }
            self.arm(raw, TimerKind::F, t1 * 64, now);
        }
        Ok(ClientTxId(id))
    }

    /// Cancels a pending INVITE (§9.1): sends a CANCEL now if a provisional
    /// response has arrived, or as soon as one does. The CANCEL's own
    /// transaction is internal (its responses are absorbed); the INVITE's
    /// final response (normally 487) comes through as usual. Returns `false`
    /// when there is nothing left to cancel (a final response arrived).
    pub fn cancel(&mut self, tx: ClientTxId, now: Instant) -> Result<bool, Error> {
        let Some(c) = self.clients.get_mut(&tx.0) else {
            return Ok(false);
        };
        if !c.invite {
            return Err(Error::Invalid("only INVITE transactions can be cancelled"));
        }
        match c.state {
            ClientState::Calling => {
                c.pending_cancel = true;
                Ok(true)
            }
            ClientState::Proceeding => {
                self.send_cancel(tx.0, now)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Sends the CANCEL for INVITE client transaction `id` and bounds the wait
    /// for its final response (§9.1).
    fn send_cancel(&mut self, id: u64, now: Instant) -> Result<(), Error> {
        let Some(c) = self.clients.get(&id) else {
            return Ok(());
        };
        let (cancel, to) = (build_cancel(&c.request)?, c.to);
        match self.start_client(cancel, to, now, true) {
            // A CANCEL already in flight for this INVITE: nothing more to do.
            Err(Error::Invalid(_)) => return Ok(()),
            other => other?,
        };
        let wait = self.config.t1 * 64;
        self.arm(RawTx::Client(id), TimerKind::CancelWait, wait, now);
        Ok(())
    }

    /// A response arrived: match it (§17.1.3) and run the state machine.
    pub(super) fn client_response(&mut self, resp: Response, from: Remote, now: Instant) {
        // The top Via is parsed once: for the key, then for its sent-by.
        let matched = resp.via().ok().and_then(|via| {
            let id = ClientKey::of_response(&resp, &via)
                .and_then(|k| self.client_keys.get(&k).copied())?;
            let ours = self
                .clients
                .get(&id)
                .is_some_and(|c| same_sent_by(&c.via, &via));
            Some((id, ours))
        });
        let Some((id, ours)) = matched else {
            self.out.push_back(Output::StrayResponse {
                response: resp,
                from,
            });
            return;
        };
        let raw = RawTx::Client(id);
        let code = resp.status().as_u16();
        // §18.1.2: a response whose top Via sent-by is not the one this
        // transaction's request carried was not meant for us: discarded.
        if !ours {
            return;
        }
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        let internal = c.internal;
        let deliver = |layer: &mut TransactionLayer, resp: Response| {
            if !internal {
                layer.out.push_back(Output::Response {
                    tx: ClientTxId(id),
                    response: resp,
                });
            }
        };
        if c.invite {
            match (c.state, code) {
                (ClientState::Calling | ClientState::Proceeding, 100..=199) => {
                    c.state = ClientState::Proceeding;
                    let cancel = std::mem::take(&mut c.pending_cancel);
                    self.disarm(raw, 0); // Timer A
                    deliver(self, resp);
                    if cancel {
                        let _ = self.send_cancel(id, now);
                    }
                }
                (ClientState::Calling | ClientState::Proceeding, 200..=299) => {
                    c.state = ClientState::Accepted;
                    self.disarm(raw, 0);
                    deliver(self, resp);
                    let m = self.config.t1 * 64;
                    self.arm(raw, TimerKind::M, m, now);
                }
                (ClientState::Calling | ClientState::Proceeding, _) => {
                    c.state = ClientState::Completed;
                    let ack = build_ack(&c.request, &resp).map(|a| a.to_bytes()).ok();
                    c.ack = ack.clone();
                    let to = c.to;
                    self.disarm(raw, 0);
                    if let Some(a) = ack {
                        self.transmit(to, a, Some(TxId::Client(ClientTxId(id))));
                    }
                    deliver(self, resp);
                    let d = if to.transport.is_reliable() {
                        Duration::ZERO
                    } else {
                        Duration::from_secs(32).max(self.config.t1 * 64)
                    };
                    self.arm_or_end(raw, TimerKind::D, d, now);
                }
                (ClientState::Accepted, 200..=299) => deliver(self, resp),
                (ClientState::Completed, 300..) => {
                    // A retransmitted final response: ACK it again.
                    if let Some(a) = c.ack.clone() {
                        let to = c.to;
                        self.transmit(to, a, Some(TxId::Client(ClientTxId(id))));
                    }
                }
                _ => {} // absorbed
            }
        } else {
            match (c.state, code) {
                (ClientState::Trying | ClientState::Proceeding, 100..=199) => {
                    c.state = ClientState::Proceeding;
                    deliver(self, resp);
                }
                (ClientState::Trying | ClientState::Proceeding, _) => {
                    c.state = ClientState::Completed;
                    let reliable = c.to.transport.is_reliable();
                    self.disarm(raw, 0);
                    self.disarm(raw, 1);
                    deliver(self, resp);
                    let k = if reliable {
                        Duration::ZERO
                    } else {
                        self.config.t4
                    };
                    self.arm_or_end(raw, TimerKind::K, k, now);
                }
                _ => {} // Completed: retransmissions absorbed
            }
        }
    }

    /// Arms a lifetime timer, or ends the transaction at once when the timer
    /// is zero (reliable transports).
    pub(super) fn arm_or_end(
        &mut self,
        raw: RawTx,
        kind: TimerKind,
        after: Duration,
        now: Instant,
    ) {
        if after.is_zero() {
            match raw {
                RawTx::Client(id) => self.end_client(id, Termination::Normal),
                RawTx::Server(id) => self.end_server(id, Termination::Normal),
            }
        } else {
            self.arm(raw, kind, after, now);
        }
    }

    pub(super) fn client_timer(&mut self, id: u64, kind: TimerKind, now: Instant) {
        let raw = RawTx::Client(id);
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        match (kind, c.state) {
            (TimerKind::A, ClientState::Calling) => {
                let (to, wire) = (c.to, c.wire.clone());
                c.retransmit *= 2;
                let next = c.retransmit;
                self.transmit(to, wire, Some(TxId::Client(ClientTxId(id))));
                self.arm(raw, TimerKind::A, next, now);
            }
            (TimerKind::B, ClientState::Calling)
            | (TimerKind::CancelWait, ClientState::Proceeding)
            | (TimerKind::F, ClientState::Trying | ClientState::Proceeding) => {
                if !c.internal {
                    self.out.push_back(Output::Timeout { tx: ClientTxId(id) });
                }
                self.end_client(id, Termination::Timeout);
            }
            (TimerKind::E, ClientState::Trying | ClientState::Proceeding) => {
                let (to, wire) = (c.to, c.wire.clone());
                let next = if c.state == ClientState::Trying {
                    (c.retransmit * 2).min(self.config.t2)
                } else {
                    self.config.t2
                };
                c.retransmit = next;
                self.transmit(to, wire, Some(TxId::Client(ClientTxId(id))));
                self.arm(raw, TimerKind::E, next, now);
            }
            (TimerKind::D, ClientState::Completed)
            | (TimerKind::K, ClientState::Completed)
            | (TimerKind::M, ClientState::Accepted) => self.end_client(id, Termination::Normal),
            _ => {}
        }
    }
}

/// Whether two Vias have the same sent-by: hosts compared as §19.1.4
/// compares them, ports with the transport's default for an absent one.
fn same_sent_by(a: &Via<'_>, b: &Via<'_>) -> bool {
    let port = |v: &Via<'_>| {
        v.port()
            .unwrap_or(if v.transport().eq_ignore_ascii_case("TLS") {
                5061
            } else {
                5060
            })
    };
    a.host().matches(&b.host()) && port(a) == port(b)
}
