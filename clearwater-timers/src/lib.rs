//! # clearwater-timers
//!
//! Timers that outlive the node that set them, as Clearwater's Chronos
//! provides: a registrar sets one for each binding's expiry, a charging
//! function one for each interim record, and the pop may arrive at any node.
//!
//! * [`wheel`]: a sans-IO hierarchical timer wheel (time is an input);
//! * [`TimerService`]: set / update / cancel timers, the trait the layers
//!   above use; pops go to a [`PopSink`] (an in-process callback) or, in the
//!   networked service, as `POST <callback URI>`;
//! * [`LocalTimers`] (feature `runtime`): the wheel driven by tokio in this
//!   process, the embedded default;
//! * [`cluster`]: the replication protocol of the clustered service, sans-IO,
//!   with its deterministic simulation in the tests;
//! * [`ChronosNode`] and [`ChronosClient`] (feature `runtime`): the
//!   Chronos-compatible HTTP service and a [`TimerService`] client of it.
//!
//! ## The guarantees of the clustered service
//!
//! A timer is stored on `replication` nodes (default 2) chosen by rendezvous
//! hashing of its id over the configured members, and the choice is encoded
//! in the id, so any node can route later updates and deletes. Replica `k`
//! (0 is the primary) pops at `due + k × skew` (default skew 2 s) unless a
//! lower replica has told it the pop happened.
//!
//! * **Never early**: no pop before its due time (by the popping node's
//!   wall clock; the members' clocks are assumed NTP-synchronised).
//! * **At most `skew × (replicas − 1)` late**, plus scheduling delay, while
//!   at least one replica is up.
//! * **Not lost** while one replica of the timer survives.
//! * **Duplicates only across a netsplit** (a replica that did not hear of
//!   the pop in time pops too), and then with the same `X-Sequence-Number`,
//!   so the receiver can drop them.
//! * Deletes leave tombstones on the replicas, so a late or lost update
//!   cannot bring a deleted timer back.

use std::time::Duration;

use async_trait::async_trait;

pub mod api;
pub mod cluster;
pub mod wheel;

#[cfg(feature = "runtime")]
mod client;
#[cfg(feature = "runtime")]
mod local;
#[cfg(feature = "runtime")]
mod node;

#[cfg(feature = "runtime")]
pub use client::{ChronosClient, HttpPopSink};
#[cfg(feature = "runtime")]
pub use local::LocalTimers;
#[cfg(feature = "runtime")]
pub use node::{ChronosNode, NodeConfig, NodeStatus, PEER_KEY_HEADER};

/// Longest interval or repeat period accepted (one year).
pub const MAX_PERIOD: Duration = Duration::from_secs(366 * 24 * 3600);
/// Most replicas a timer can ask for.
pub const MAX_REPLICATION: u8 = 3;

/// What a timer does: when it pops, how often, and what the pop carries.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimerSpec {
    /// Time to the first pop, and between pops.
    pub interval: Duration,
    /// How long the timer keeps popping: `repeat_for / interval` pops (at
    /// least one). Equal to `interval` for a one-shot timer.
    pub repeat_for: Duration,
    /// Where pops go: for the HTTP service an `http://` URI that receives
    /// `POST` with the opaque data as body; for [`LocalTimers`] whatever the
    /// embedder's [`PopSink`] understands.
    pub callback: String,
    /// Data handed back with each pop.
    pub opaque: String,
    /// Copies kept by the clustered service (1 to [`MAX_REPLICATION`],
    /// default 2); ignored by [`LocalTimers`].
    pub replication: u8,
}

impl TimerSpec {
    /// A one-shot timer popping after `after`.
    pub fn once(
        after: Duration,
        callback: impl Into<String>,
        opaque: impl Into<String>,
    ) -> TimerSpec {
        TimerSpec {
            interval: after,
            repeat_for: after,
            callback: callback.into(),
            opaque: opaque.into(),
            replication: 2,
        }
    }

    /// A timer popping every `interval` for `repeat_for`.
    pub fn repeating(
        interval: Duration,
        repeat_for: Duration,
        callback: impl Into<String>,
        opaque: impl Into<String>,
    ) -> TimerSpec {
        TimerSpec {
            repeat_for,
            ..TimerSpec::once(interval, callback, opaque)
        }
    }

    /// Sets [`TimerSpec::replication`].
    pub fn with_replication(mut self, n: u8) -> TimerSpec {
        self.replication = n;
        self
    }

    /// How many times it pops: `repeat_for / interval`, at least 1 (and
    /// exactly 1 for a zero interval).
    pub fn pops(&self) -> u64 {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        pops(ms(self.interval), ms(self.repeat_for))
    }

    /// Time from the start to pop number `seq` (1-based).
    pub fn offset(&self, seq: u64) -> Duration {
        let ms = u64::try_from(self.interval.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(ms.saturating_mul(seq))
    }

    /// Checks the limits: periods up to [`MAX_PERIOD`], `repeat_for` at
    /// least `interval`, replication 1 to [`MAX_REPLICATION`], a callback.
    pub fn validate(&self) -> Result<(), TimerError> {
        let invalid = |s: &str| Err(TimerError::Invalid(s.to_owned()));
        if self.interval > MAX_PERIOD || self.repeat_for > MAX_PERIOD {
            return invalid("interval and repeat-for are limited to one year");
        }
        if self.repeat_for < self.interval {
            return invalid("repeat-for must be at least the interval");
        }
        if self.replication == 0 || self.replication > MAX_REPLICATION {
            return invalid("replication-factor must be 1 to 3");
        }
        if self.callback.is_empty() {
            return invalid("a callback is required");
        }
        Ok(())
    }
}

/// Shortest interval of a repeating timer a timer service accepts over
/// HTTP or from a peer (100 ms; Chronos itself takes whole seconds). Each pop
/// is an HTTP request, so a shorter one would let one request start a flood.
/// [`LocalTimers`], in process, has no minimum.
pub const MIN_REPEAT_INTERVAL: Duration = Duration::from_millis(100);

/// How many times a timer with these periods (ms) pops: `repeat_for /
/// interval`, at least 1 (exactly 1 for a zero interval).
pub(crate) fn pops(interval_ms: u64, repeat_for_ms: u64) -> u64 {
    if interval_ms == 0 {
        return 1;
    }
    (repeat_for_ms / interval_ms).max(1)
}

/// A timer's identity, as returned by [`TimerService::set`]: opaque text
/// (the HTTP service's is 32 hex digits, its `Location` is `/timers/<id>`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerId(pub String);

impl std::fmt::Display for TimerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One pop of a timer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pop {
    /// The timer.
    pub id: TimerId,
    /// Its callback.
    pub callback: String,
    /// Its opaque data.
    pub opaque: String,
    /// Which pop this is (1 for the first), the same on every replica: the
    /// HTTP service sends it as `X-Sequence-Number`, and a receiver drops a
    /// pop it has seen.
    pub sequence: u64,
}

/// Receives pops.
#[async_trait]
pub trait PopSink: Send + Sync + 'static {
    /// A timer popped. An error is logged; the pop is not retried (as with
    /// Chronos, the callback's owner re-arms what it still needs).
    async fn pop(&self, pop: Pop) -> Result<(), TimerError>;
}

/// Sets, updates and cancels timers.
#[async_trait]
pub trait TimerService: Send + Sync + 'static {
    /// Creates a timer; its first pop is `spec.interval` from now.
    async fn set(&self, spec: TimerSpec) -> Result<TimerId, TimerError>;
    /// Replaces a timer's spec and restarts it from now (pops count from 1
    /// again); creates it if it does not exist.
    async fn update(&self, id: &TimerId, spec: TimerSpec) -> Result<(), TimerError>;
    /// Stops a timer. Cancelling an unknown or finished timer is not an error.
    async fn cancel(&self, id: &TimerId) -> Result<(), TimerError>;
}

/// The one error type of this crate.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimerError {
    /// A spec or request that cannot be accepted (HTTP 400).
    #[error("invalid timer: {0}")]
    Invalid(String),
    /// The service (or every replica) cannot be reached.
    #[error("timer service unavailable: {0}")]
    Unavailable(String),
    /// The timer service stopped.
    #[error("timer service stopped")]
    Stopped,
    /// A pop could not be delivered.
    #[error("pop not delivered: {0}")]
    Delivery(String),
    /// A replica holds a newer version of the timer than the change it was
    /// sent (stamped by a member whose clock lags): the change was not
    /// applied there. Carries the held version's wall-clock milliseconds, so
    /// the originator can stamp the change again past it (HTTP 409 between
    /// members).
    #[error("a newer version of the timer is held (version {0} ms)")]
    Superseded(u64),
}
