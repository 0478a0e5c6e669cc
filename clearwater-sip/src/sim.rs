//! Test-only network simulation shared by the transaction and proxy tests:
//! elements joined by an in-memory network with seeded loss, duplication and
//! delay (reordering comes from the jitter), on a virtual clock that jumps to
//! the next deadline.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::message::Message;
use crate::transport::{Remote, Transport, stamp_via};

/// xorshift64*: deterministic randomness.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// Network behaviour.
#[derive(Clone, Copy)]
pub(crate) struct NetConfig {
    pub(crate) loss: f64,
    pub(crate) dup: f64,
    pub(crate) min_delay: Duration,
    pub(crate) jitter: Duration,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            loss: 0.0,
            dup: 0.0,
            min_delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
        }
    }
}

/// Something on the simulated network.
pub(crate) trait Element {
    /// Its address.
    fn addr(&self) -> SocketAddr;
    /// A message arrived.
    fn receive(&mut self, msg: Message, from: Remote, now: Instant);
    /// Time passed: fire what is due.
    fn timeout(&mut self, now: Instant);
    /// The next instant it needs `timeout`.
    fn next_timeout(&mut self) -> Option<Instant>;
    /// Drains its outputs: datagrams to send, and a description of every
    /// other event (for the test log).
    fn drain(&mut self, now: Instant) -> (Vec<(Remote, Bytes)>, Vec<String>);
    /// Whether it holds no state.
    fn idle(&self) -> bool;
}

/// Scripted packet loss: drop a packet sent by element `usize` when true.
pub(crate) type Filter = Box<dyn FnMut(usize, &Bytes) -> bool>;

struct Packet {
    at: Instant,
    to: usize,
    from: Remote,
    data: Bytes,
}

/// The simulation.
pub(crate) struct Sim<E> {
    pub(crate) start: Instant,
    pub(crate) now: Instant,
    pub(crate) transport: Transport,
    pub(crate) net: NetConfig,
    rng: Rng,
    pub(crate) nodes: Vec<E>,
    /// Per element: its events and transmits (first line), with times.
    pub(crate) log: Vec<Vec<(Duration, String)>>,
    pub(crate) sent: Vec<Vec<(Duration, String)>>,
    wire: VecDeque<Packet>,
    pub(crate) filter: Filter,
}

/// Address of element `i`: 192.0.2.(i+1):5060.
pub(crate) fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, i as u8 + 1], 5060))
}

impl<E: Element> Sim<E> {
    pub(crate) fn new(transport: Transport, net: NetConfig, seed: u64) -> Sim<E> {
        let start = Instant::now();
        Sim {
            start,
            now: start,
            transport,
            net,
            rng: Rng(seed | 1),
            nodes: Vec::new(),
            log: Vec::new(),
            sent: Vec::new(),
            wire: VecDeque::new(),
            filter: Box::new(|_, _| false),
        }
    }

    pub(crate) fn add(&mut self, e: E) -> usize {
        self.nodes.push(e);
        self.log.push(Vec::new());
        self.sent.push(Vec::new());
        self.nodes.len() - 1
    }

    /// Virtual time since the start.
    pub(crate) fn t(&self) -> Duration {
        self.now - self.start
    }

    pub(crate) fn remote_of(&self, i: usize) -> Remote {
        Remote::new(self.transport, self.nodes[i].addr())
    }

    /// The events of element `i`, without times.
    pub(crate) fn events(&self, i: usize) -> Vec<String> {
        self.log[i].iter().map(|(_, e)| e.clone()).collect()
    }

    /// Drains every element until quiet.
    pub(crate) fn drain(&mut self) {
        loop {
            let mut any = false;
            for i in 0..self.nodes.len() {
                let now = self.now;
                let (tx, ev) = self.nodes[i].drain(now);
                any |= !tx.is_empty() || !ev.is_empty();
                let t = self.t();
                self.log[i].extend(ev.into_iter().map(|e| (t, e)));
                for (to, data) in tx {
                    self.sent[i].push((t, first_line(&data)));
                    if let Some(dest) = self.nodes.iter().position(|n| n.addr() == to.addr) {
                        self.send(i, dest, data);
                    }
                }
            }
            if !any {
                break;
            }
        }
    }

    fn send(&mut self, from: usize, to: usize, data: Bytes) {
        if (self.filter)(from, &data) {
            return;
        }
        let copies = if self.rng.chance(self.net.dup) { 2 } else { 1 };
        for _ in 0..copies {
            if self.rng.chance(self.net.loss) {
                continue;
            }
            let jitter = self.rng.below(self.net.jitter.as_millis() as u64);
            let at = self.now + self.net.min_delay + Duration::from_millis(jitter);
            let from = self.remote_of(from);
            self.wire.push_back(Packet {
                at,
                to,
                from,
                data: data.clone(),
            });
        }
    }

    /// Runs until nothing is scheduled anywhere or `limit` of virtual time.
    pub(crate) fn run(&mut self, limit: Duration) {
        self.drain();
        loop {
            let mut next: Option<Instant> = None;
            let mut consider = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
            for p in &self.wire {
                consider(p.at);
            }
            for n in &mut self.nodes {
                if let Some(t) = n.next_timeout() {
                    consider(t);
                }
            }
            let Some(at) = next else { break };
            if at - self.start > limit {
                break;
            }
            self.now = self.now.max(at);
            let now = self.now;
            let mut due: Vec<Packet> = Vec::new();
            let mut keep = VecDeque::new();
            while let Some(p) = self.wire.pop_front() {
                if p.at <= now {
                    due.push(p);
                } else {
                    keep.push_back(p);
                }
            }
            self.wire = keep;
            due.sort_by_key(|p| p.at);
            for p in due {
                let Ok(msg) = Message::parse(p.data) else {
                    continue;
                };
                let msg = match msg {
                    Message::Request(mut r) => {
                        stamp_via(&mut r, &p.from);
                        Message::Request(r)
                    }
                    other => other,
                };
                self.nodes[p.to].receive(msg, p.from, now);
            }
            for n in &mut self.nodes {
                n.timeout(now);
            }
            self.drain();
        }
    }

    /// Whether every element is idle and nothing is on the wire.
    pub(crate) fn idle(&self) -> bool {
        self.nodes.iter().all(|n| n.idle()) && self.wire.is_empty()
    }
}

fn first_line(b: &Bytes) -> String {
    let s = String::from_utf8_lossy(b);
    s.lines().next().unwrap_or("").to_owned()
}
