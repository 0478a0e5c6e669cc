//! The replication protocol of the clustered timer service, sans-IO.
//!
//! A [`ClusterCore`] is one member's state. The driver feeds it client
//! requests ([`ClusterCore::client_set`], [`ClusterCore::client_update`],
//! [`ClusterCore::client_delete`]), messages from peers
//! ([`ClusterCore::receive`]) and the time ([`ClusterCore::tick`]), and
//! carries out its [`Output`]s: messages to peers and pops. Time is wall-clock
//! milliseconds since the Unix epoch, passed in; nothing here reads a clock.
//!
//! ## Placement
//!
//! A timer id is 32 hex digits: a random 64-bit number, then a 64-bit Bloom
//! filter of its replicas' addresses. The replicas are the first
//! `replication` members ranked by rendezvous hashing of the number, so any
//! member can find them again from the id alone (the filter keeps the
//! original set when the member list changes later).
//!
//! ## Replication
//!
//! Every replica holds the whole [`TimerState`]. Replica `k` (rank 0 is the
//! primary) schedules pop `n` at `start + n × interval + k × skew`. The
//! replica that pops sends the pop and tells the others ([`PeerMessage::Popped`]),
//! which then move on to pop `n + 1`. So while the primary is alive the
//! others never pop; when it is dead, replica 1 pops `skew` late, and so on.
//! A replica that did not hear of a pop in time (a netsplit) pops too, with
//! the same sequence number.
//!
//! Every change (create, update, delete) carries a [`Version`]: the
//! originating member's wall-clock time (made to increase past any version
//! it has seen) and the member. A replica keeps the highest version and
//! refuses older ones ([`TimerError::Superseded`] with the version held: the
//! originator, whose clock lags, [`witness`](ClusterCore::witness)es it and
//! stamps the change again); for the same version it keeps the highest pop
//! count.
//! A delete is a tombstone version, kept for `tombstone_for`, so a late
//! create or update cannot bring the timer back. Finished timers are kept
//! for the same time, so a late copy does not pop again.
//!
//! ## Limits
//!
//! Peers are not authenticated (nor are Chronos's), so a copy from a peer is
//! checked ([`ClusterCore::receive`]) and what one can cost is bounded:
//! `max_timers` counts tombstones too (those of timers never held here at
//! most an eighth of it, so DELETEs of made-up ids, which need no key, cannot
//! crowd out new timers), `max_bytes` bounds callback and opaque
//! data, a repeating timer's interval is at least
//! [`MIN_REPEAT_INTERVAL`](crate::MIN_REPEAT_INTERVAL), a copy's timing may
//! not start after its version, and pops missed by more than a minute (plus
//! the replicas' skew) are skipped rather than made one by one, the latest
//! one due still made. Expose the service only where its members and
//! clients are trusted.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::wheel::{TimerKey, Wheel};
use crate::{Pop, TimerError, TimerId, TimerSpec};

/// One member's view of the cluster.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClusterConfig {
    /// This member's address (as it appears in `members`).
    pub me: String,
    /// Every member's address (`host:port`), including this one.
    pub members: Vec<String>,
    /// Delay between replica ranks (default 2 s).
    pub skew: Duration,
    /// How long deleted and finished timers are remembered (default 10 min).
    pub tombstone_for: Duration,
    /// Most timers held, tombstones included (default 1 000 000); beyond it
    /// new timers are refused. Tombstones of timers never held here take at
    /// most an eighth of it: beyond that, such a deletion is acknowledged
    /// without being remembered.
    pub max_timers: usize,
    /// Most bytes of callback URIs and opaque data held (default 1 GiB);
    /// beyond it new or larger timers are refused.
    pub max_bytes: usize,
}

impl ClusterConfig {
    /// A member `me` of `members`, with the default skew and limits.
    pub fn new<S: Into<String>>(
        me: impl Into<String>,
        members: impl IntoIterator<Item = S>,
    ) -> ClusterConfig {
        ClusterConfig {
            me: me.into(),
            members: members.into_iter().map(Into::into).collect(),
            skew: Duration::from_secs(2),
            tombstone_for: Duration::from_secs(600),
            max_timers: 1_000_000,
            max_bytes: 1 << 30,
        }
    }
}

/// Orders the changes to a timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version {
    /// Wall-clock milliseconds at the originating member (bumped past any
    /// version it has seen).
    pub ms: u64,
    /// The originating member (a hash of its address), to break ties.
    pub node: u64,
}

/// A replica's copy of a timer; also what [`PeerMessage::Replicate`] carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerState {
    /// The timer id (32 hex digits).
    pub id: String,
    /// The change this copy reflects.
    pub version: Version,
    /// Milliseconds between pops.
    pub interval_ms: u64,
    /// Milliseconds the timer repeats for.
    pub repeat_for_ms: u64,
    /// Where pops go.
    pub callback: String,
    /// Data carried by pops.
    pub opaque: String,
    /// When the timing started (wall-clock ms).
    pub start_ms: u64,
    /// Pops done so far (the last pop's sequence number).
    pub popped: u64,
    /// The replicas, in rank order.
    pub replicas: Vec<String>,
    /// A tombstone: the timer was deleted.
    pub deleted: bool,
}

impl TimerState {
    fn spec(&self) -> TimerSpec {
        TimerSpec {
            interval: Duration::from_millis(self.interval_ms),
            repeat_for: Duration::from_millis(self.repeat_for_ms),
            callback: self.callback.clone(),
            opaque: self.opaque.clone(),
            replication: u8::try_from(self.replicas.len()).unwrap_or(u8::MAX),
        }
    }

    /// How many times it pops (computed without building a spec: this is
    /// on the scheduling path).
    fn pops(&self) -> u64 {
        crate::pops(self.interval_ms, self.repeat_for_ms)
    }

    /// When pop `seq` is due.
    fn due(&self, seq: u64) -> u64 {
        self.start_ms
            .saturating_add(self.interval_ms.saturating_mul(seq))
    }

    /// When the last pop is due.
    fn end(&self) -> u64 {
        self.due(self.pops())
    }
}

/// What members tell each other.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PeerMessage {
    /// Hold (or replace) this copy of a timer.
    Replicate(TimerState),
    /// Pop `sequence` of the timer at `version` happened.
    Popped {
        /// The timer.
        id: String,
        /// The version popped.
        version: Version,
        /// The pop's sequence number.
        sequence: u64,
    },
}

/// What the core wants done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send `message` to member `to`.
    Send {
        /// The member's address.
        to: String,
        /// The message.
        message: PeerMessage,
    },
    /// Deliver a pop (HTTP `POST` to its callback).
    Pop(Pop),
}

/// How a client request was placed: the messages for the other replicas
/// (the driver sends them and acknowledges the client once one replica,
/// here or there, holds the timer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The timer.
    pub id: TimerId,
    /// Whether this member is a replica and applied the change.
    pub local: bool,
    /// The change, for each other replica.
    pub remote: Vec<(String, PeerMessage)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Due {
    Pop,
    Forget,
}

struct Slot {
    state: TimerState,
    rank: usize,
    key: Option<TimerKey>,
}

/// One member of the timer cluster. See the [module docs](self).
pub struct ClusterCore {
    config: ClusterConfig,
    me: u64,
    timers: HashMap<String, Slot>,
    wheel: Wheel<(String, Due)>,
    out: VecDeque<Output>,
    last_version: u64,
    rng: u64,
    /// Callback and opaque bytes of the timers held.
    bytes: usize,
    /// Tombstones held (deleted timers remembered for `tombstone_for`).
    tombstones: usize,
}

/// The share of `max_timers` that tombstones of timers never held here may
/// take: beyond it such a deletion is acknowledged but not remembered, so
/// DELETEs of made-up ids cannot crowd out new timers.
const BLIND_TOMBSTONE_SHARE: usize = 8;

/// 64-bit FNV-1a with a splitmix finaliser: stable across processes and
/// releases (placement depends on it).
pub fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

fn bloom_bits(member: &str) -> u64 {
    let h = stable_hash(&[member.as_bytes()]);
    (1 << (h & 63)) | (1 << ((h >> 6) & 63)) | (1 << ((h >> 12) & 63))
}

/// Splits a timer id into its number and replica filter.
pub fn parse_id(id: &str) -> Result<(u64, u64), TimerError> {
    let bad = || {
        TimerError::Invalid(format!(
            "bad timer id {id:?}: 32 lower-case hex digits expected"
        ))
    };
    // Lower case only: ids are keys as written, so `ABC…` would name another
    // timer than the `abc…` it parses to (a DELETE missing its timer).
    if id.len() != 32 || !id.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(bad());
    }
    let num = u64::from_str_radix(&id[..16], 16).map_err(|_| bad())?;
    let bloom = u64::from_str_radix(&id[16..], 16).map_err(|_| bad())?;
    Ok((num, bloom))
}

/// The members in rendezvous order for timer number `num`, best first.
pub fn ranking(num: u64, members: &[String]) -> Vec<&String> {
    let mut scored: Vec<(u64, &String)> = members
        .iter()
        .map(|m| (stable_hash(&[&num.to_be_bytes(), m.as_bytes()]), m))
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.into_iter().map(|(_, m)| m).collect()
}

/// The replicas of timer `id`, in rank order, among `members`: the first
/// [`MAX_REPLICATION`](crate::MAX_REPLICATION) whose Bloom bits the id
/// carries. The true replicas are the top-ranked members, so they come
/// first; the cap keeps a crafted id (every bit set) or a Bloom false
/// positive from naming more replicas than peers accept.
pub fn replicas_of(id: &str, members: &[String]) -> Result<Vec<String>, TimerError> {
    let (num, bloom) = parse_id(id)?;
    Ok(ranking(num, members)
        .into_iter()
        .filter(|m| bloom & bloom_bits(m) == bloom_bits(m))
        .take(usize::from(crate::MAX_REPLICATION))
        .cloned()
        .collect())
}

impl ClusterCore {
    /// A member whose timer ids are drawn from `seed`. The driver passes
    /// a random seed (the core reads no clock and no entropy; tests pass
    /// fixed seeds). Ids are also mixed with the member's identity, so two
    /// members never draw the same sequence.
    pub fn new(config: ClusterConfig, seed: u64) -> ClusterCore {
        let me = stable_hash(&[config.me.as_bytes()]);
        ClusterCore {
            config,
            me,
            timers: HashMap::new(),
            wheel: Wheel::new(0),
            out: VecDeque::new(),
            last_version: 0,
            rng: stable_hash(&[&seed.to_be_bytes()]) | 1,
            bytes: 0,
            tombstones: 0,
        }
    }

    /// This member's address.
    pub fn me(&self) -> &str {
        &self.config.me
    }

    /// Timers held (live, finished and deleted ones still remembered).
    pub fn len(&self) -> usize {
        self.timers.len()
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.timers.is_empty()
    }

    /// The copy held of `id`, if any.
    pub fn state(&self, id: &str) -> Option<&TimerState> {
        self.timers.get(id).map(|s| &s.state)
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn version(&mut self, now: u64) -> Version {
        self.last_version = now.max(self.last_version.saturating_add(1));
        Version {
            ms: self.last_version,
            node: self.me,
        }
    }

    /// Records that a version stamped `ms` exists elsewhere (a replica
    /// answered [`TimerError::Superseded`]): the next change this member
    /// stamps is newer than it. A version more than [`MAX_CLOCK_AHEAD`]
    /// past `now` is ignored, as a copy stamped so is refused: it would
    /// push every later stamp of this member where peers refuse it.
    pub fn witness(&mut self, ms: u64, now: u64) {
        let ahead = u64::try_from(MAX_CLOCK_AHEAD.as_millis()).unwrap_or(u64::MAX);
        if ms <= now.saturating_add(ahead) {
            self.last_version = self.last_version.max(ms);
        }
    }

    /// Creates a timer (a `POST /timers` received here).
    pub fn client_set(&mut self, spec: TimerSpec, now: u64) -> Result<Placement, TimerError> {
        spec.validate()?;
        // Mixed with this member's identity: two members never draw the
        // same sequence of ids, whatever their seeds.
        let num = self.next_random() ^ self.me;
        let replicas: Vec<String> = ranking(num, &self.config.members)
            .into_iter()
            .take(usize::from(spec.replication))
            .cloned()
            .collect();
        let bloom = replicas.iter().fold(0, |b, m| b | bloom_bits(m));
        let id = format!("{num:016x}{bloom:016x}");
        self.place(id, spec, replicas, false, now)
    }

    /// Replaces (or creates) timer `id` (a `PUT /timers/<id>` received here).
    pub fn client_update(
        &mut self,
        id: &str,
        spec: TimerSpec,
        now: u64,
    ) -> Result<Placement, TimerError> {
        spec.validate()?;
        let replicas = replicas_of(id, &self.config.members)?;
        if replicas.is_empty() {
            return Err(TimerError::Invalid(format!(
                "timer {id} has no replica among the members"
            )));
        }
        self.place(id.to_owned(), spec, replicas, false, now)
    }

    /// Deletes timer `id` (a `DELETE /timers/<id>` received here).
    pub fn client_delete(&mut self, id: &str, now: u64) -> Result<Placement, TimerError> {
        let replicas = replicas_of(id, &self.config.members)?;
        let spec = TimerSpec::once(Duration::ZERO, "deleted", "");
        self.place(id.to_owned(), spec, replicas, true, now)
    }

    fn place(
        &mut self,
        id: String,
        spec: TimerSpec,
        replicas: Vec<String>,
        deleted: bool,
        now: u64,
    ) -> Result<Placement, TimerError> {
        let local = replicas.contains(&self.config.me);
        // The replicas hold a copy to the rule they check peers' copies by.
        if !deleted && spec.pops() > 1 && spec.interval < crate::MIN_REPEAT_INTERVAL {
            return Err(TimerError::Invalid(format!(
                "a repeating timer's interval must be at least {} ms",
                crate::MIN_REPEAT_INTERVAL.as_millis()
            )));
        }
        let state = TimerState {
            id: id.clone(),
            version: self.version(now),
            interval_ms: u64::try_from(spec.interval.as_millis()).unwrap_or(u64::MAX),
            repeat_for_ms: u64::try_from(spec.repeat_for.as_millis()).unwrap_or(u64::MAX),
            callback: spec.callback,
            opaque: spec.opaque,
            start_ms: now,
            popped: 0,
            replicas: replicas.clone(),
            deleted,
        };
        if local {
            self.room_for(&state)?;
        }
        let remote = replicas
            .iter()
            .filter(|m| **m != self.config.me)
            .map(|m| (m.clone(), PeerMessage::Replicate(state.clone())))
            .collect();
        if local {
            self.apply(state, now);
        }
        Ok(Placement {
            id: TimerId(id),
            local,
            remote,
        })
    }

    /// A message from a peer. A message that is not well formed (an
    /// impossible timer, a version from over [`MAX_CLOCK_AHEAD`] ahead of
    /// this member's clock) is refused with [`TimerError::Invalid`] and
    /// changes nothing.
    pub fn receive(&mut self, message: PeerMessage, now: u64) -> Result<(), TimerError> {
        match message {
            PeerMessage::Replicate(state) => {
                check_state(&state, now)?;
                // Pops go to the replicas: only members of this cluster.
                if let Some(stranger) = state
                    .replicas
                    .iter()
                    .find(|r| !self.config.members.contains(r))
                {
                    return Err(TimerError::Invalid(format!(
                        "timer {}: replica {stranger} is not a member",
                        state.id
                    )));
                }
                if !state.replicas.contains(&self.config.me) {
                    return Ok(()); // routed here by a Bloom false positive
                }
                self.room_for(&state)?;
                let id = state.id.clone();
                if !self.apply(state, now) {
                    // An older version than the one held (a change stamped by
                    // a member whose clock lags): not applied, and not
                    // acknowledged, so its originator does not report it
                    // done; told the held version, it stamps the change again
                    // past it (`witness`).
                    let held = self.timers.get(&id).map_or(0, |s| s.state.version.ms);
                    return Err(TimerError::Superseded(held));
                }
            }
            PeerMessage::Popped {
                id,
                version,
                sequence,
            } => {
                let Some(slot) = self.timers.get_mut(&id) else {
                    return Ok(());
                };
                if slot.state.version != version || sequence <= slot.state.popped {
                    return Ok(());
                }
                if sequence > slot.state.pops() {
                    return Err(TimerError::Invalid(format!(
                        "timer {id} has no pop {sequence}"
                    )));
                }
                slot.state.popped = sequence;
                self.schedule(&id, now);
            }
        }
        Ok(())
    }

    /// Whether `state` fits the limits: a timer (or tombstone) not held
    /// needs room under `max_timers`, and the bytes held after it replaced
    /// the copy held must stay under `max_bytes`.
    fn room_for(&self, state: &TimerState) -> Result<(), TimerError> {
        let held = self.timers.get(&state.id);
        // (A deletion of a timer not held always "fits": `apply` decides
        // whether it is remembered.)
        if held.is_none() && !state.deleted && self.timers.len() >= self.config.max_timers {
            return Err(TimerError::Unavailable(format!(
                "this member holds its limit of {} timers",
                self.config.max_timers
            )));
        }
        // A copy no larger than the one it replaces always fits.
        let (old, new) = (held.map_or(0, |s| weight(&s.state)), weight(state));
        if new > old && (self.bytes - old).saturating_add(new) > self.config.max_bytes {
            return Err(TimerError::Unavailable(format!(
                "this member holds its limit of {} bytes of timer data",
                self.config.max_bytes
            )));
        }
        Ok(())
    }

    /// Keeps `state` if it is newer than the copy held (or the same version
    /// further along), and (re)schedules it. False when a newer version is
    /// held (the change is dropped).
    fn apply(&mut self, state: TimerState, now: u64) -> bool {
        self.last_version = self.last_version.max(state.version.ms);
        let id = state.id.clone();
        match self.timers.get_mut(&id) {
            Some(slot) if slot.state.version > state.version => return false,
            Some(slot) if slot.state.version == state.version => {
                if state.popped <= slot.state.popped {
                    return true;
                }
                slot.state.popped = state.popped;
            }
            Some(slot) => {
                slot.rank = rank_of(&state, &self.config.me);
                self.bytes = self.bytes - weight(&slot.state) + weight(&state);
                self.tombstones = (self.tombstones + usize::from(state.deleted))
                    .saturating_sub(usize::from(slot.state.deleted));
                slot.state = state;
            }
            None => {
                // The deletion of a timer never held here only guards against
                // its creation arriving late; under a flood of them (made-up
                // ids) it is acknowledged without being remembered.
                if state.deleted
                    && (self.tombstones >= self.config.max_timers / BLIND_TOMBSTONE_SHARE
                        || self.timers.len() >= self.config.max_timers)
                {
                    return true;
                }
                let rank = rank_of(&state, &self.config.me);
                self.bytes += weight(&state);
                self.tombstones += usize::from(state.deleted);
                self.timers.insert(
                    id.clone(),
                    Slot {
                        state,
                        rank,
                        key: None,
                    },
                );
            }
        }
        self.schedule(&id, now);
        true
    }

    /// Arms the next pop of `id`, or its forgetting once it is deleted or
    /// finished.
    fn schedule(&mut self, id: &str, now: u64) {
        let skew = u64::try_from(self.config.skew.as_millis()).unwrap_or(u64::MAX);
        let keep = u64::try_from(self.config.tombstone_for.as_millis()).unwrap_or(u64::MAX);
        let Some(slot) = self.timers.get_mut(id) else {
            return;
        };
        if let Some(k) = slot.key.take() {
            self.wheel.cancel(k);
        }
        self.wheel.skip_to(now);
        // Missed pops (this member was down, or learned of the timer late)
        // are made one by one only within the catch-up window; older ones
        // are skipped, except that the latest pop due is always made. So a
        // copy whose timing started long ago (a peer's clock, a forged
        // message) costs at most a window's worth of pops, not one per
        // interval since its start.
        let st = &mut slot.state;
        if !st.deleted && st.interval_ms > 0 {
            let due_by_now = (now.saturating_sub(st.start_ms) / st.interval_ms).min(st.pops());
            let window = skew
                .saturating_mul(st.replicas.len() as u64)
                .saturating_add(CATCH_UP_MS);
            let cutoff = now.saturating_sub(window);
            let first_kept = cutoff.saturating_sub(st.start_ms).div_ceil(st.interval_ms);
            let skip_to = first_kept.min(due_by_now).saturating_sub(1);
            if skip_to > st.popped {
                st.popped = skip_to;
            }
        }
        let next = slot.state.popped.saturating_add(1);
        let (at, what) = if slot.state.deleted || next > slot.state.pops() {
            let from = if slot.state.deleted {
                now
            } else {
                slot.state.end().max(now)
            };
            (from.saturating_add(keep), Due::Forget)
        } else {
            let rank = u64::try_from(slot.rank).unwrap_or(u64::MAX);
            (
                slot.state
                    .due(next)
                    .saturating_add(skew.saturating_mul(rank)),
                Due::Pop,
            )
        };
        slot.key = Some(self.wheel.insert(at, (id.to_owned(), what)));
    }

    /// Fires what is due at `now`.
    pub fn tick(&mut self, now: u64) {
        while let Some((key, (id, what))) = self.wheel.poll(now) {
            let Some(slot) = self.timers.get_mut(&id) else {
                continue;
            };
            if slot.key != Some(key) {
                continue;
            }
            slot.key = None;
            match what {
                Due::Forget => {
                    if let Some(gone) = self.timers.remove(&id) {
                        self.bytes -= weight(&gone.state);
                        self.tombstones = self
                            .tombstones
                            .saturating_sub(usize::from(gone.state.deleted));
                    }
                }
                Due::Pop => {
                    let sequence = slot.state.popped.saturating_add(1);
                    slot.state.popped = sequence;
                    self.out.push_back(Output::Pop(Pop {
                        id: TimerId(id.clone()),
                        callback: slot.state.callback.clone(),
                        opaque: slot.state.opaque.clone(),
                        sequence,
                    }));
                    for r in &slot.state.replicas {
                        if *r != self.config.me {
                            self.out.push_back(Output::Send {
                                to: r.clone(),
                                message: PeerMessage::Popped {
                                    id: id.clone(),
                                    version: slot.state.version,
                                    sequence,
                                },
                            });
                        }
                    }
                    self.schedule(&id, now);
                }
            }
        }
    }

    /// The next instant [`tick`](ClusterCore::tick) has work (wall-clock ms).
    pub fn next_deadline(&self) -> Option<u64> {
        self.wheel.next_deadline()
    }

    /// The next thing to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }
}

/// Missed pops due longer ago than this (plus the replicas' skew) are
/// skipped rather than made one by one (60 s).
const CATCH_UP_MS: u64 = 60_000;

/// How far ahead of this member's clock a peer's version may be (1 hour):
/// beyond it the peer's clock is broken, and accepting the version would
/// freeze the timer against every later change.
pub const MAX_CLOCK_AHEAD: Duration = Duration::from_secs(3600);

/// Checks a replicated copy before it is stored.
fn check_state(state: &TimerState, now: u64) -> Result<(), TimerError> {
    let invalid = |why: &str| Err(TimerError::Invalid(format!("timer {}: {why}", state.id)));
    parse_id(&state.id)?;
    let ahead = u64::try_from(MAX_CLOCK_AHEAD.as_millis()).unwrap_or(u64::MAX);
    if state.version.ms > now.saturating_add(ahead) {
        return invalid("version from the future");
    }
    if state.replicas.is_empty() || state.replicas.len() > usize::from(crate::MAX_REPLICATION) {
        return invalid("1 to 3 replicas");
    }
    // The originating member starts the timing when it makes the version.
    if state.start_ms > state.version.ms {
        return invalid("timing starts after its version");
    }
    if !state.deleted {
        state.spec().validate()?;
        // The same rules as a client's callback (no userinfo, http only).
        crate::api::check_callback_uri(&state.callback)?;
        if state.popped > state.pops() {
            return invalid("more pops done than the timer has");
        }
        if state.pops() > 1 && Duration::from_millis(state.interval_ms) < crate::MIN_REPEAT_INTERVAL
        {
            return invalid("a repeating timer's interval is under the minimum");
        }
    }
    Ok(())
}

/// The bytes a timer holds beyond its fixed size.
fn weight(state: &TimerState) -> usize {
    state.callback.len() + state.opaque.len()
}

fn rank_of(state: &TimerState, me: &str) -> usize {
    state
        .replicas
        .iter()
        .position(|r| r == me)
        .unwrap_or(state.replicas.len())
}

#[cfg(test)]
mod tests;
