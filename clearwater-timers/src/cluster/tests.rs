//! The replication protocol: unit cases, then a deterministic simulation of
//! three members on virtual time with message loss, delay and crashes.

use std::collections::{BTreeMap, HashSet};

use super::*;

const SKEW: u64 = 2_000;
const T0: u64 = 1_800_000_000_000; // wall-clock ms

fn members() -> Vec<String> {
    (0..3).map(|i| format!("n{i}:7253")).collect()
}

fn core(i: usize, seed: u64) -> ClusterCore {
    ClusterCore::new(ClusterConfig::new(format!("n{i}:7253"), members()), seed)
}

fn spec(interval_ms: u64, pops: u64) -> TimerSpec {
    TimerSpec::repeating(
        Duration::from_millis(interval_ms),
        Duration::from_millis(interval_ms * pops),
        "http://cb/",
        "opaque",
    )
}

fn drain(c: &mut ClusterCore) -> Vec<Output> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

fn pops(outs: &[Output]) -> Vec<u64> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Pop(p) => Some(p.sequence),
            Output::Send { .. } => None,
        })
        .collect()
}

#[test]
fn ids_name_their_replicas() {
    let mut c = core(0, 7);
    let ms = members();
    for _ in 0..200 {
        let p = c.client_set(spec(1000, 1).with_replication(2), T0).unwrap();
        assert_eq!(p.id.0.len(), 32);
        let replicas = replicas_of(&p.id.0, &ms).unwrap();
        // The filter can let a third member through (a false positive);
        // the two chosen are always there, first, in rank order.
        assert!(replicas.len() >= 2);
        for (_, m) in &p.remote {
            if let PeerMessage::Replicate(s) = m {
                assert_eq!(s.replicas[..], replicas[..2]);
            }
        }
        assert_eq!(p.local, replicas[..2].contains(&"n0:7253".to_owned()));
    }
    for bad in [
        "",
        "xyz",
        &"g".repeat(32),
        &"0".repeat(31),
        // Upper case would be another key for the same numbers.
        "0123456789ABCDEF0123456789abcdef",
    ] {
        assert!(parse_id(bad).is_err(), "{bad:?}");
    }
    assert!(parse_id("0123456789abcdef0123456789abcdef").is_ok());
}

/// Places a timer on all three members at `T0`, returns its id.
fn replicated_everywhere(cores: &mut [ClusterCore], s: TimerSpec) -> String {
    let p = cores[0].client_set(s.with_replication(3), T0).unwrap();
    for (to, m) in p.remote {
        let i: usize = to[1..2].parse().unwrap();
        cores[i].receive(m, T0).unwrap();
    }
    p.id.0
}

fn rank_order(cores: &[ClusterCore], id: &str) -> Vec<usize> {
    let state = cores.iter().find_map(|c| c.state(id)).unwrap();
    state
        .replicas
        .iter()
        .map(|r| r[1..2].parse().unwrap())
        .collect()
}

#[test]
fn primary_pops_on_time_and_the_others_stand_down() {
    let mut cores: Vec<ClusterCore> = (0..3).map(|i| core(i, 11 + i as u64)).collect();
    let id = replicated_everywhere(&mut cores, spec(5_000, 2));
    let order = rank_order(&cores, &id);
    for c in &mut cores {
        c.tick(T0 + 4_999);
        assert!(pops(&drain(c)).is_empty(), "never early");
    }
    let primary = order[0];
    cores[primary].tick(T0 + 5_000);
    let outs = drain(&mut cores[primary]);
    assert_eq!(pops(&outs), [1]);
    // The others hear of it and move on to pop 2.
    for o in outs {
        if let Output::Send { to, message } = o {
            let i: usize = to[1..2].parse().unwrap();
            cores[i].receive(message, T0 + 5_010).unwrap();
        }
    }
    for &r in &order[1..] {
        cores[r].tick(T0 + 9_999);
        assert!(
            pops(&drain(&mut cores[r])).is_empty(),
            "replica {r} stood down"
        );
        assert_eq!(cores[r].state(&id).unwrap().popped, 1);
    }
}

#[test]
fn replicas_take_over_in_rank_order() {
    let mut cores: Vec<ClusterCore> = (0..3).map(|i| core(i, 21 + i as u64)).collect();
    let id = replicated_everywhere(&mut cores, spec(5_000, 1));
    let order = rank_order(&cores, &id);
    // The primary is dead: rank 1 pops skew late, rank 2 (told) never.
    let (r1, r2) = (order[1], order[2]);
    cores[r1].tick(T0 + 5_000 + SKEW - 1);
    assert!(pops(&drain(&mut cores[r1])).is_empty());
    cores[r1].tick(T0 + 5_000 + SKEW);
    let outs = drain(&mut cores[r1]);
    assert_eq!(pops(&outs), [1]);
    for o in outs {
        if let Output::Send { to, message } = o
            && to[1..2].parse::<usize>().unwrap() == r2
        {
            cores[r2].receive(message, T0 + 5_000 + SKEW + 5).unwrap();
        }
    }
    cores[r2].tick(T0 + 60_000);
    assert!(pops(&drain(&mut cores[r2])).is_empty());
}

#[test]
fn versions_tombstones_and_finished_timers() {
    let mut c = core(0, 5);
    let p = c
        .client_set(spec(1_000, 1).with_replication(3), T0)
        .unwrap();
    let id = p.id.0.clone();
    let PeerMessage::Replicate(created) = p.remote[0].1.clone() else {
        unreachable!()
    };
    // Updated: the old copy arriving late changes nothing (and is refused,
    // so its sender does not count it held).
    c.client_update(&id, spec(3_000, 1).with_replication(3), T0 + 100)
        .unwrap();
    assert!(
        c.receive(PeerMessage::Replicate(created.clone()), T0 + 200)
            .is_err()
    );
    assert_eq!(c.state(&id).unwrap().interval_ms, 3_000);
    c.tick(T0 + 1_000);
    assert!(pops(&drain(&mut c)).is_empty(), "the update restarted it");
    // Deleted: nothing pops, and the creation arriving again cannot revive it.
    c.client_delete(&id, T0 + 500).unwrap();
    assert!(
        c.receive(PeerMessage::Replicate(created), T0 + 600)
            .is_err()
    );
    c.tick(T0 + 100_000);
    assert!(pops(&drain(&mut c)).is_empty());
    assert!(c.state(&id).unwrap().deleted);
    // The tombstone goes after tombstone_for.
    c.tick(T0 + 500 + 600_000);
    assert!(c.is_empty());

    // A finished timer is remembered, so a stale copy does not pop again.
    let p = c
        .client_set(spec(1_000, 1).with_replication(3), T0)
        .unwrap();
    let PeerMessage::Replicate(copy) = p.remote[0].1.clone() else {
        unreachable!()
    };
    c.tick(T0 + 1_000 + 2 * SKEW);
    assert_eq!(pops(&drain(&mut c)), [1]);
    c.receive(PeerMessage::Replicate(copy), T0 + 10_000)
        .unwrap();
    c.tick(T0 + 20_000);
    assert!(pops(&drain(&mut c)).is_empty());
}

#[test]
fn the_timer_limit_refuses_new_timers() {
    let mut config = ClusterConfig::new("n0:7253", ["n0:7253"]);
    config.max_timers = 2;
    let mut c = ClusterCore::new(config, 3);
    let one = spec(1_000, 1).with_replication(1);
    c.client_set(one.clone(), T0).unwrap();
    let b = c.client_set(one.clone(), T0).unwrap();
    assert!(matches!(
        c.client_set(one.clone(), T0),
        Err(TimerError::Unavailable(_))
    ));
    // Updating one held is still fine.
    c.client_update(&b.id.0, one, T0).unwrap();
    assert_eq!(c.len(), 2);
}

#[test]
fn tombstones_and_bytes_count_against_the_limits() {
    let mut config = ClusterConfig::new("n0:7253", ["n0:7253"]);
    config.max_timers = 2;
    config.max_bytes = 100;
    let mut c = ClusterCore::new(config, 3);
    let one = TimerSpec::once(Duration::from_secs(1), "http://cb/", "x".repeat(40));
    let a = c.client_set(one.clone().with_replication(1), T0).unwrap();
    // Bytes: 50 held; 60 more would pass 100.
    let big = TimerSpec::once(Duration::from_secs(1), "http://cb/", "x".repeat(50));
    assert!(matches!(
        c.client_set(big.clone().with_replication(1), T0),
        Err(TimerError::Unavailable(_))
    ));
    // Replacing the one held by a smaller copy is always fine.
    c.client_update(&a.id.0, one.clone().with_replication(1), T0)
        .unwrap();
    // Deleting a timer not held: acknowledged; with room for two timers no
    // tombstone of a timer never held is kept (an eighth of the room).
    let unknown = format!("{:016x}{:016x}", 7, bloom_bits("n0:7253"));
    c.client_delete(&unknown, T0).unwrap();
    assert_eq!(c.len(), 1);
    // Deleting the timer held leaves its tombstone in its place.
    c.client_delete(&a.id.0, T0).unwrap();
    assert_eq!(c.len(), 1);
    assert!(c.state(&a.id.0).unwrap().deleted);
}

#[test]
fn deletions_of_made_up_ids_cannot_crowd_out_timers() {
    // Room for 16: tombstones of timers never held take at most 2 places,
    // however many DELETEs (from clients or peers) name made-up ids.
    let mut config = ClusterConfig::new("n0:7253", ["n0:7253"]);
    config.max_timers = 16;
    let mut c = ClusterCore::new(config, 3);
    for n in 0..50u64 {
        let id = format!("{:016x}{:016x}", 1000 + n, bloom_bits("n0:7253"));
        c.client_delete(&id, T0).unwrap();
    }
    assert_eq!(c.len(), 2);
    let once = TimerSpec::once(Duration::from_secs(60), "http://cb/", "o");
    for _ in 0..14 {
        c.client_set(once.clone().with_replication(1), T0).unwrap();
    }
    assert_eq!(c.len(), 16);
    // Full: new timers are refused; a deletion is still acknowledged.
    assert!(matches!(
        c.client_set(once.clone().with_replication(1), T0),
        Err(TimerError::Unavailable(_))
    ));
    let id = format!("{:016x}{:016x}", 99, bloom_bits("n0:7253"));
    c.client_delete(&id, T0).unwrap();
    assert_eq!(c.len(), 16);
}

#[test]
fn forged_copies_cannot_flood_or_overflow() {
    let mut c = ClusterCore::new(ClusterConfig::new("n0:7253", ["n0:7253"]), 5);
    let id = format!("{:016x}{:016x}", 9, bloom_bits("n0:7253"));
    let year = 365 * 24 * 3_600_000;
    let state = TimerState {
        id: id.clone(),
        version: Version {
            ms: T0 - year,
            node: 1,
        },
        interval_ms: 100,
        repeat_for_ms: year,
        callback: "http://cb/".into(),
        opaque: "o".into(),
        start_ms: T0 - year,
        popped: 0,
        replicas: vec!["n0:7253".into()],
        deleted: false,
    };
    // A peer's copy keeps to the client rules: its callback (no userinfo)
    // and its replicas (members only, where the pops would be announced).
    let mut userinfo = state.clone();
    userinfo.callback = "http://u@10.0.0.1/".into();
    assert!(c.receive(PeerMessage::Replicate(userinfo), T0).is_err());
    let mut stranger = state.clone();
    stranger.replicas.push("10.0.0.99:80".into());
    assert!(c.receive(PeerMessage::Replicate(stranger), T0).is_err());
    // Timing that starts after its own version is refused.
    let mut late = state.clone();
    late.start_ms = late.version.ms + 1;
    assert!(c.receive(PeerMessage::Replicate(late), T0).is_err());
    // A repeating interval under the minimum is refused, from a client of
    // this member as from a peer.
    assert!(matches!(
        c.client_set(spec(50, 3).with_replication(1), T0),
        Err(TimerError::Invalid(_))
    ));
    let mut fast = state.clone();
    fast.interval_ms = 1;
    assert!(c.receive(PeerMessage::Replicate(fast), T0).is_err());
    // Started a year ago, every 100 ms: only the pops of the catch-up
    // window are made (not 315 million), the last of them the latest due.
    c.receive(PeerMessage::Replicate(state), T0).unwrap();
    c.tick(T0);
    let made = pops(&drain(&mut c));
    let window = (SKEW + CATCH_UP_MS) / 100;
    assert!(
        !made.is_empty() && made.len() as u64 <= window + 1,
        "{}",
        made.len()
    );
    assert_eq!(*made.last().unwrap(), (year) / 100);
    assert!(made.windows(2).all(|w| w[1] == w[0] + 1));
    // A tombstone claiming every pop done neither panics nor schedules.
    let tomb = TimerState {
        id: format!("{:016x}{:016x}", 10, bloom_bits("n0:7253")),
        version: Version { ms: T0, node: 1 },
        interval_ms: 0,
        repeat_for_ms: 0,
        callback: String::new(),
        opaque: String::new(),
        start_ms: T0,
        popped: u64::MAX,
        replicas: vec!["n0:7253".into()],
        deleted: true,
    };
    c.receive(PeerMessage::Replicate(tomb), T0).unwrap();
    c.tick(T0 + 1_000);
    assert!(pops(&drain(&mut c)).is_empty());
}

// ---------------------------------------------------------------------------
// Simulation
// ---------------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() % 1_000_000) as f64 / 1_000_000.0 < p
    }
}

struct Created {
    at: u64,
    interval: u64,
    pops: u64,
    replication: u64,
    deleted_at: Option<u64>,
}

#[derive(Default)]
struct Outcome {
    /// (id, seq) → pop times.
    pops: BTreeMap<(String, u64), Vec<u64>>,
    created: BTreeMap<String, Created>,
    /// Members that applied each timer.
    holders: BTreeMap<String, HashSet<usize>>,
    crashed: HashSet<usize>,
}

/// Runs three members for 300 virtual seconds: clients set (and sometimes
/// delete) timers at random live members during the first minute, messages
/// take 1–50 ms and are lost with probability `loss`, and `crashes` members
/// die (losing everything) at random times.
fn simulate(seed: u64, loss: f64, crashes: usize) -> Outcome {
    let mut rng = Rng(seed | 1);
    let mut cores: Vec<ClusterCore> = (0..3)
        .map(|i| core(i, seed.wrapping_mul(31) + i as u64))
        .collect();
    let mut alive = [true; 3];
    let mut crash_at: Vec<(u64, usize)> = (0..crashes)
        .map(|_| (T0 + 5_000 + rng.below(60_000), rng.below(3) as usize))
        .collect();
    crash_at.sort();
    let mut wire: BTreeMap<(u64, u64), (usize, PeerMessage)> = BTreeMap::new();
    let mut seq = 0u64;
    let mut out = Outcome::default();
    let mut client_ops: Vec<u64> = (0..150).map(|_| T0 + rng.below(60_000)).collect();
    client_ops.sort();
    let mut ops = client_ops.into_iter().peekable();
    let mut now = T0;
    let end = T0 + 300_000;
    let idx = |m: &str| -> usize { m[1..2].parse().unwrap_or(0) };
    loop {
        // The next event: a client op, a crash, a message, a member's timer.
        let mut next = end;
        if let Some(&t) = ops.peek() {
            next = next.min(t);
        }
        if let Some(&(t, _)) = crash_at.first() {
            next = next.min(t);
        }
        if let Some((&(t, _), _)) = wire.iter().next() {
            next = next.min(t);
        }
        for (i, c) in cores.iter().enumerate() {
            if alive[i]
                && let Some(t) = c.next_deadline()
            {
                next = next.min(t.max(now));
            }
        }
        if next >= end {
            break;
        }
        now = next;
        if crash_at.first().is_some_and(|&(t, _)| t <= now) {
            let (_, victim) = crash_at.remove(0);
            if alive.iter().filter(|a| **a).count() > 1 && alive[victim] {
                alive[victim] = false;
                out.crashed.insert(victim);
                cores[victim] = core(victim, 999);
            }
        }
        while ops.peek().is_some_and(|&t| t <= now) {
            ops.next();
            let at: Vec<usize> = (0..3).filter(|&i| alive[i]).collect();
            let node = at[rng.below(at.len() as u64) as usize];
            let existing: Vec<String> = out
                .created
                .iter()
                .filter(|(_, c)| c.deleted_at.is_none())
                .map(|(id, _)| id.clone())
                .collect();
            let placement = if !existing.is_empty() && rng.chance(0.1) {
                let id = existing[rng.below(existing.len() as u64) as usize].clone();
                if let Some(c) = out.created.get_mut(&id) {
                    c.deleted_at = Some(now);
                }
                cores[node].client_delete(&id, now).unwrap()
            } else {
                let interval = 1_000 + rng.below(20_000);
                let pops = 1 + rng.below(3);
                let replication = 2 + rng.below(2);
                let s = spec(interval, pops).with_replication(replication as u8);
                let p = cores[node].client_set(s, now).unwrap();
                out.created.insert(
                    p.id.0.clone(),
                    Created {
                        at: now,
                        interval,
                        pops,
                        replication,
                        deleted_at: None,
                    },
                );
                p
            };
            if placement.local {
                out.holders
                    .entry(placement.id.0.clone())
                    .or_default()
                    .insert(node);
            }
            for (to, m) in placement.remote {
                if !rng.chance(loss) {
                    seq += 1;
                    wire.insert((now + 1 + rng.below(50), seq), (idx(&to), m));
                }
            }
        }
        // Deliver what has arrived.
        while let Some(entry) = wire.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (to, m) = entry.remove();
            if !alive[to] {
                continue;
            }
            if let PeerMessage::Replicate(s) = &m
                && !s.deleted
            {
                out.holders.entry(s.id.clone()).or_default().insert(to);
            }
            cores[to].receive(m, now).unwrap();
        }
        for i in 0..3 {
            if !alive[i] {
                continue;
            }
            cores[i].tick(now);
            while let Some(o) = cores[i].poll_output() {
                match o {
                    Output::Pop(p) => out.pops.entry((p.id.0, p.sequence)).or_default().push(now),
                    Output::Send { to, message } => {
                        if !rng.chance(loss) {
                            seq += 1;
                            wire.insert((now + 1 + rng.below(50), seq), (idx(&to), message));
                        }
                    }
                }
            }
        }
    }
    // Let every tombstone and finished timer be forgotten.
    for (i, c) in cores.iter_mut().enumerate() {
        if alive[i] {
            c.tick(end + 700_000);
            assert!(c.is_empty(), "member {i} leaks {} timers", c.len());
            assert!(c.wheel.is_empty(), "member {i} leaks wheel entries");
        }
    }
    out
}

fn check(out: &Outcome, loss: f64, label: &str) -> usize {
    let mut duplicates = 0;
    for ((id, seq), times) in &out.pops {
        let c = &out.created[id];
        let due = c.at + c.interval * seq;
        for &t in times {
            assert!(t >= due, "{label}: {id} pop {seq} early: {t} < {due}");
        }
        assert!(*seq <= c.pops, "{label}: {id} popped {seq} of {}", c.pops);
        duplicates += times.len() - 1;
        if let Some(d) = c.deleted_at
            && loss == 0.0
        {
            for &t in times {
                assert!(
                    t <= d + 50,
                    "{label}: {id} popped at {t} after its delete at {d}"
                );
            }
        }
    }
    for (id, c) in &out.created {
        let holders = out.holders.get(id).cloned().unwrap_or_default();
        let survivor = holders.iter().any(|h| !out.crashed.contains(h));
        if !survivor || c.deleted_at.is_some() {
            continue;
        }
        for seq in 1..=c.pops {
            let due = c.at + c.interval * seq;
            let times = out
                .pops
                .get(&(id.clone(), seq))
                .unwrap_or_else(|| panic!("{label}: timer {id} pop {seq} (due {due}) lost; holders {holders:?}, crashed {:?}", out.crashed));
            let first = times.iter().min().copied().unwrap_or(0);
            let bound = due + SKEW * (c.replication - 1) + 60;
            assert!(
                first <= bound,
                "{label}: {id} pop {seq} at {first}, bound {bound}"
            );
        }
    }
    if loss == 0.0 {
        assert_eq!(duplicates, 0, "{label}: duplicates without loss");
    }
    duplicates
}

#[test]
fn simulation_without_failures_pops_everything_once() {
    for seed in 1..=10 {
        let out = simulate(seed, 0.0, 0);
        assert!(out.pops.len() > 100, "seed {seed}: {} pops", out.pops.len());
        check(&out, 0.0, &format!("seed {seed}"));
    }
}

#[test]
fn simulation_with_crashes_loses_nothing_held_by_a_survivor() {
    let mut took_over = 0;
    for seed in 1..=20 {
        let out = simulate(seed, 0.0, 1 + (seed % 2) as usize);
        check(&out, 0.0, &format!("seed {seed}"));
        took_over += out.crashed.len();
    }
    assert!(took_over >= 20, "crashes happened");
}

#[test]
fn simulation_with_message_loss_and_crashes() {
    let mut dups = 0;
    for seed in 1..=20 {
        let out = simulate(seed + 100, 0.05, (seed % 2) as usize);
        dups += check(&out, 0.05, &format!("lossy seed {seed}"));
    }
    // Lost notifications make replicas pop too: duplicates happen, always
    // with the pop's own sequence number (checked by construction above).
    assert!(dups > 0, "loss should cause some duplicate pops");
}

#[test]
fn a_crafted_id_names_no_more_replicas_than_peers_accept() {
    // Five members; an id whose Bloom filter has every bit set matches all.
    let five: Vec<String> = (0..5).map(|i| format!("n{i}:7253")).collect();
    let id = format!("{:016x}{:016x}", 42, u64::MAX);
    let replicas = replicas_of(&id, &five).unwrap();
    assert_eq!(replicas.len(), usize::from(crate::MAX_REPLICATION));
    // Those are the top-ranked members, so an honest id's replicas still lead.
    let ranked: Vec<String> = ranking(42, &five).into_iter().cloned().collect();
    assert_eq!(replicas[..], ranked[..3]);
    // A PUT of that id is placed on at most three members, and each copy
    // passes the peers' own check.
    let mut c = ClusterCore::new(ClusterConfig::new("n0:7253", five.clone()), 1);
    let p = c
        .client_update(&id, spec(1000, 1).with_replication(1), T0)
        .unwrap();
    let mut peers: Vec<ClusterCore> = (1..5)
        .map(|i| ClusterCore::new(ClusterConfig::new(format!("n{i}:7253"), five.clone()), 1))
        .collect();
    for (to, m) in &p.remote {
        if let PeerMessage::Replicate(s) = m {
            assert!(s.replicas.len() <= 3);
        }
        let i = five.iter().position(|m| m == to).unwrap();
        if i > 0 {
            assert!(peers[i - 1].receive(m.clone(), T0).is_ok(), "{to}");
        }
    }
}

#[test]
fn an_older_version_from_a_peer_is_refused_not_acknowledged() {
    // A member whose clock lags stamps a change older than the copy held:
    // the replica drops it, and says so (the originator must not report the
    // change done); the same version again is still acknowledged.
    let mut c = ClusterCore::new(ClusterConfig::new("n0:7253", ["n0:7253", "n1:7253"]), 5);
    let id = format!("{:016x}{:016x}", 11, bloom_bits("n0:7253"));
    let held = TimerState {
        id: id.clone(),
        version: Version { ms: T0, node: 1 },
        interval_ms: 1000,
        repeat_for_ms: 1000,
        callback: "http://cb/".into(),
        opaque: "o".into(),
        start_ms: T0,
        popped: 0,
        replicas: vec!["n0:7253".into()],
        deleted: false,
    };
    c.receive(PeerMessage::Replicate(held.clone()), T0).unwrap();
    c.receive(PeerMessage::Replicate(held.clone()), T0).unwrap();
    let mut late_delete = held.clone();
    late_delete.version = Version {
        ms: T0 - 5,
        node: 2,
    };
    late_delete.start_ms = T0 - 5;
    late_delete.deleted = true;
    assert_eq!(
        c.receive(PeerMessage::Replicate(late_delete), T0),
        Err(TimerError::Superseded(T0))
    );
    assert!(!c.state(&id).unwrap().deleted);
}

#[test]
fn a_lagging_member_told_of_a_newer_version_stamps_its_change_past_it() {
    // n1's clock is 5 s behind n0's. n0 placed the timer on both; n1 missed
    // that copy and now deletes the timer: its stamp is older than n0's
    // copy, n0 refuses it with the version it holds, and n1's second stamp,
    // after `witness`, is newer, so both end with the deletion.
    let two = ["n0:7253", "n1:7253"];
    let mut n0 = ClusterCore::new(ClusterConfig::new("n0:7253", two), 5);
    let mut n1 = ClusterCore::new(ClusterConfig::new("n1:7253", two), 6);
    let placed = n0
        .client_set(spec(60_000, 1).with_replication(2), T0)
        .unwrap();
    let id = placed.id.0.clone();
    let lagging = T0 - 5_000;
    let first = n1.client_delete(&id, lagging).unwrap();
    assert!(first.local);
    let (_, message) = &first.remote[0];
    let Err(TimerError::Superseded(held)) = n0.receive(message.clone(), T0) else {
        panic!("the older deletion was not refused as superseded")
    };
    assert!(!n0.state(&id).unwrap().deleted);
    // A version beyond the clock-ahead bound is not taken in.
    n1.witness(lagging + 2 * 3_600_000, lagging);
    n1.witness(held, lagging);
    let second = n1.client_delete(&id, lagging).unwrap();
    let (_, message) = &second.remote[0];
    n0.receive(message.clone(), T0).unwrap();
    assert!(n0.state(&id).unwrap().deleted);
    assert!(n1.state(&id).unwrap().deleted);
    assert_eq!(
        n0.state(&id).unwrap().version,
        n1.state(&id).unwrap().version
    );
    assert!(n1.state(&id).unwrap().version.ms < T0 + 1_000);
}
