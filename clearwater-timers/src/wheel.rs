//! A hierarchical timer wheel, sans-IO: time is a number of milliseconds the
//! caller passes in; nothing here reads a clock or sleeps.
//!
//! Six levels of 64 slots: level 0 slots are 1 ms wide, level 1 slots 64 ms,
//! and so on up to level 5 (slots of about 12.4 days, a whole turn about 2.2
//! years). An entry sits at the level where its deadline first differs from
//! the wheel's current time, and moves down a level each time its slot comes
//! round, so inserting, cancelling and expiring are all O(1) (amortised over
//! at most six moves). Entries live in a slab with intrusive doubly-linked
//! slot lists; [`TimerKey`]s carry a generation, so a stale key never
//! cancels someone else's timer.
//!
//! ```
//! use clearwater_timers::wheel::Wheel;
//! let mut w = Wheel::new(0);
//! let a = w.insert(30, "a");
//! w.insert(10, "b");
//! assert_eq!(w.next_deadline(), Some(10));
//! assert_eq!(w.cancel(a), Some("a"));
//! assert_eq!(w.poll(9), None);
//! assert_eq!(w.poll(15).map(|(_, v)| v), Some("b"));
//! ```

const LEVELS: usize = 6;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const NONE: u32 = u32::MAX;

/// The furthest ahead a deadline can be, in ms (one turn of the top level
/// less one of its slots, about 2.15 years, so a deadline never lands in the
/// top-level slot being processed); later deadlines are brought in to it.
pub const MAX_AHEAD: u64 =
    (1 << (SLOT_BITS * LEVELS as u32)) - (1 << (SLOT_BITS * (LEVELS as u32 - 1))) - 1;

/// Names an entry for [`Wheel::cancel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerKey {
    index: u32,
    generation: u32,
}

struct Entry<T> {
    deadline: u64,
    prev: u32,
    next: u32,
    /// `level * SLOTS + slot`, or `READY`.
    home: u32,
    generation: u32,
    item: Option<T>,
}

const READY: u32 = u32::MAX - 1;

#[derive(Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

const EMPTY: List = List {
    head: NONE,
    tail: NONE,
};

/// The wheel. See the [module docs](self).
pub struct Wheel<T> {
    entries: Vec<Entry<T>>,
    free: Vec<u32>,
    slots: Vec<List>,
    occupied: [u64; LEVELS],
    /// Entries due at or before `elapsed`, in deadline order of arrival.
    ready: List,
    elapsed: u64,
    len: usize,
}

impl<T> Wheel<T> {
    /// An empty wheel whose clock reads `now` (ms).
    pub fn new(now: u64) -> Wheel<T> {
        Wheel {
            entries: Vec::new(),
            free: Vec::new(),
            slots: vec![EMPTY; LEVELS * SLOTS],
            occupied: [0; LEVELS],
            ready: EMPTY,
            elapsed: now,
            len: 0,
        }
    }

    /// Timers waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is waiting.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The time the wheel has been advanced to.
    pub fn now(&self) -> u64 {
        self.elapsed
    }

    /// Moves an empty wheel's clock forward to `now` (a wheel holding
    /// timers only moves by [`poll`](Wheel::poll)). Call it before inserting
    /// into a wheel that may have sat empty for a long time, so deadlines far
    /// from its old time are not brought in.
    pub fn skip_to(&mut self, now: u64) {
        if self.len == 0 && self.ready.head == NONE {
            self.elapsed = self.elapsed.max(now);
        }
    }

    /// Adds `item`, due at `deadline` (ms). A deadline at or before the
    /// wheel's time is due at the next [`poll`](Wheel::poll).
    pub fn insert(&mut self, deadline: u64, item: T) -> TimerKey {
        let deadline = deadline.min(self.elapsed.saturating_add(MAX_AHEAD));
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.entries.push(Entry {
                    deadline: 0,
                    prev: NONE,
                    next: NONE,
                    home: NONE,
                    generation: 0,
                    item: None,
                });
                (self.entries.len() - 1) as u32
            }
        };
        let e = &mut self.entries[index as usize];
        e.deadline = deadline;
        e.item = Some(item);
        let generation = e.generation;
        self.place(index);
        self.len += 1;
        TimerKey { index, generation }
    }

    /// Removes a waiting timer; `None` if it already fired or was cancelled.
    pub fn cancel(&mut self, key: TimerKey) -> Option<T> {
        let e = self.entries.get(key.index as usize)?;
        if e.generation != key.generation || e.item.is_none() {
            return None;
        }
        self.unlink(key.index);
        Some(self.release(key.index))
    }

    /// The deadline of a waiting timer.
    pub fn deadline(&self, key: TimerKey) -> Option<u64> {
        let e = self.entries.get(key.index as usize)?;
        (e.generation == key.generation && e.item.is_some()).then_some(e.deadline)
    }

    /// The earliest deadline waiting (an exact deadline, or for entries on
    /// higher levels the start of their slot, which is never later).
    pub fn next_deadline(&self) -> Option<u64> {
        if self.ready.head != NONE {
            return Some(self.elapsed);
        }
        self.next_slot().map(|(_, _, t)| t)
    }

    /// Advances to `now` and returns one timer due by then, with its key;
    /// call again until `None`. Timers come out in deadline order (timers
    /// with the same deadline in insertion order).
    pub fn poll(&mut self, now: u64) -> Option<(TimerKey, T)> {
        loop {
            if self.ready.head != NONE {
                let index = self.ready.head;
                self.unlink(index);
                let generation = self.entries[index as usize].generation;
                let item = self.release(index);
                return Some((TimerKey { index, generation }, item));
            }
            let Some((level, slot, start)) = self.next_slot() else {
                self.elapsed = self.elapsed.max(now);
                return None;
            };
            if start > now {
                self.elapsed = self.elapsed.max(now);
                return None;
            }
            self.elapsed = self.elapsed.max(start);
            // Take the slot's list and re-place each entry: due ones go to
            // the ready list, the others a level (or more) down.
            let list = std::mem::replace(&mut self.slots[level * SLOTS + slot], EMPTY);
            self.occupied[level] &= !(1 << slot);
            let mut i = list.head;
            while i != NONE {
                let next = self.entries[i as usize].next;
                self.place(i);
                i = next;
            }
        }
    }

    /// The earliest occupied slot: (level, slot, its start time).
    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        let mut best: Option<(usize, usize, u64)> = None;
        for level in 0..LEVELS {
            let occ = self.occupied[level];
            if occ == 0 {
                continue;
            }
            let shift = SLOT_BITS * level as u32;
            let now_slot = ((self.elapsed >> shift) & (SLOTS as u64 - 1)) as u32;
            // Slots behind the current one hold nothing (entries are placed
            // within the current turn of their level), but rotate anyway so
            // a wrapped slot is found.
            let rotated = occ.rotate_right(now_slot);
            let offset = u64::from(rotated.trailing_zeros());
            let slot = (u64::from(now_slot) + offset) % SLOTS as u64;
            let turn = self.elapsed & !((1u64 << (shift + SLOT_BITS)) - 1);
            let mut start = turn + (slot << shift);
            if start < self.elapsed & !((1u64 << shift) - 1) {
                start += 1u64 << (shift + SLOT_BITS);
            }
            let start = start.max(self.elapsed);
            if best.is_none_or(|(_, _, t)| start < t) {
                best = Some((level, slot as usize, start));
            }
        }
        best
    }

    /// Puts entry `index` in the ready list or the slot for its deadline.
    fn place(&mut self, index: u32) {
        let deadline = self.entries[index as usize].deadline;
        if deadline <= self.elapsed {
            self.push(index, READY);
            return;
        }
        let masked = (self.elapsed ^ deadline) | (SLOTS as u64 - 1);
        let significant = 63 - masked.leading_zeros();
        let level = ((significant / SLOT_BITS) as usize).min(LEVELS - 1);
        let slot = ((deadline >> (SLOT_BITS * level as u32)) & (SLOTS as u64 - 1)) as usize;
        self.occupied[level] |= 1 << slot;
        self.push(index, (level * SLOTS + slot) as u32);
    }

    fn list_mut(&mut self, home: u32) -> &mut List {
        if home == READY {
            &mut self.ready
        } else {
            &mut self.slots[home as usize]
        }
    }

    fn push(&mut self, index: u32, home: u32) {
        let tail = self.list_mut(home).tail;
        {
            let e = &mut self.entries[index as usize];
            e.home = home;
            e.prev = tail;
            e.next = NONE;
        }
        if tail == NONE {
            self.list_mut(home).head = index;
        } else {
            self.entries[tail as usize].next = index;
        }
        self.list_mut(home).tail = index;
    }

    fn unlink(&mut self, index: u32) {
        let (prev, next, home) = {
            let e = &self.entries[index as usize];
            (e.prev, e.next, e.home)
        };
        if prev == NONE {
            self.list_mut(home).head = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        if next == NONE {
            self.list_mut(home).tail = prev;
        } else {
            self.entries[next as usize].prev = prev;
        }
        if home != READY && self.slots[home as usize].head == NONE {
            let level = home as usize / SLOTS;
            let slot = home as usize % SLOTS;
            self.occupied[level] &= !(1 << slot);
        }
    }

    fn release(&mut self, index: u32) -> T {
        let e = &mut self.entries[index as usize];
        e.generation = e.generation.wrapping_add(1);
        e.home = NONE;
        self.len -= 1;
        self.free.push(index);
        // Invariant: every linked entry holds an item.
        e.item
            .take()
            .unwrap_or_else(|| unreachable!("linked entry without item"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn drain(w: &mut Wheel<u32>, now: u64) -> Vec<u32> {
        let mut out = Vec::new();
        while let Some((_, v)) = w.poll(now) {
            out.push(v);
        }
        out
    }

    #[test]
    fn fires_in_order_and_never_early() {
        let mut w = Wheel::new(1_000);
        for (i, d) in [5u64, 1, 64, 63, 65, 4096, 4095, 262_144, 1_000_000_000]
            .iter()
            .enumerate()
        {
            w.insert(1_000 + d, i as u32);
        }
        assert_eq!(drain(&mut w, 1_000), Vec::<u32>::new());
        assert_eq!(drain(&mut w, 1_001), [1]);
        assert_eq!(drain(&mut w, 1_064), [0, 3, 2]);
        assert_eq!(drain(&mut w, 1_065), [4]);
        assert_eq!(drain(&mut w, 1_000 + 262_143), [6, 5]);
        assert_eq!(drain(&mut w, 1_000 + 262_144), [7]);
        assert_eq!(w.next_deadline().map(|t| t <= 1_000_001_000), Some(true));
        assert_eq!(drain(&mut w, 1_000_000_999), Vec::<u32>::new());
        assert_eq!(drain(&mut w, 1_000_001_000), [8]);
        assert!(w.is_empty());
    }

    #[test]
    fn past_deadlines_fire_at_once_and_cancel_is_exact() {
        let mut w = Wheel::new(500);
        let a = w.insert(10, 1);
        let b = w.insert(600, 2);
        assert_eq!(w.cancel(b), Some(2));
        assert_eq!(w.cancel(b), None, "twice");
        assert_eq!(drain(&mut w, 500), [1]);
        assert_eq!(w.cancel(a), None, "already fired");
        // A reused slab slot does not answer to the old key.
        let c = w.insert(700, 3);
        assert_eq!(w.cancel(a), None);
        assert_eq!(w.cancel(b), None);
        assert_eq!(w.deadline(c), Some(700));
        assert_eq!(drain(&mut w, 10_000), [3]);
    }

    #[test]
    fn far_deadlines_are_clamped() {
        let mut w = Wheel::new(0);
        w.insert(u64::MAX, 9);
        assert_eq!(drain(&mut w, MAX_AHEAD - 1), Vec::<u32>::new());
        assert_eq!(drain(&mut w, MAX_AHEAD), [9]);
    }

    proptest! {
        /// Against a sorted list: same timers, in deadline order, never early
        /// and never late (each poll sees everything due), with random
        /// cancels and clock jumps.
        #[test]
        fn matches_a_model(
            start in 0u64..1u64 << 40,
            ops in prop::collection::vec((0u8..6, 0u64..300_000, any::<u16>()), 1..400),
        ) {
            let mut w = Wheel::new(start);
            let mut model: Vec<(u64, u32, TimerKey)> = Vec::new();
            let mut now = start;
            let mut next_id = 0u32;
            for (op, amount, pick) in ops {
                match op {
                    0 | 1 => {
                        let d = now + amount % (1 << (amount % 30));
                        let k = w.insert(d, next_id);
                        model.push((d, next_id, k));
                        next_id += 1;
                    }
                    4 => {
                        // Far ahead, up to the limit (top-level slots, wraps).
                        let d = now + (amount << 20) % MAX_AHEAD;
                        let k = w.insert(d, next_id);
                        model.push((d, next_id, k));
                        next_id += 1;
                    }
                    2 if !model.is_empty() => {
                        let (_, id, k) = model.remove(pick as usize % model.len());
                        prop_assert_eq!(w.cancel(k), Some(id));
                    }
                    _ => {
                        now += if op == 5 { amount << 18 } else { amount % 5_000 };
                        let mut due: Vec<(u64, u32)> = model
                            .iter()
                            .filter(|(d, _, _)| *d <= now)
                            .map(|(d, id, _)| (*d, *id))
                            .collect();
                        due.sort();
                        model.retain(|(d, _, _)| *d > now);
                        let mut got = Vec::new();
                        while let Some((_, id)) = w.poll(now) {
                            got.push(id);
                        }
                        let want: Vec<u32> = due.iter().map(|(_, id)| *id).collect();
                        let mut got_sorted = got.clone();
                        got_sorted.sort();
                        let mut want_sorted = want.clone();
                        want_sorted.sort();
                        prop_assert_eq!(got_sorted, want_sorted);
                        // Deadline order (ties may come in either order).
                        let deadlines: Vec<u64> = got
                            .iter()
                            .map(|id| due.iter().find(|(_, i)| i == id).map(|(d, _)| *d).unwrap_or(0))
                            .collect();
                        prop_assert!(deadlines.windows(2).all(|p| p[0] <= p[1]), "{:?}", deadlines);
                    }
                }
                prop_assert_eq!(w.len(), model.len());
                if let (Some(n), Some(m)) = (w.next_deadline(), model.iter().map(|(d, _, _)| *d).min()) {
                    prop_assert!(n <= m.max(now), "next_deadline {} after the earliest {}", n, m);
                }
            }
        }
    }
}
