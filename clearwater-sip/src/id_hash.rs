//! Hashing for the maps keyed by identifiers this crate allocates itself
//! (transaction and proxy-context counters).
//!
//! Such keys are never chosen by a peer, so the flooding resistance of the
//! standard library's SipHash buys nothing there, and it was a tenth of the
//! work of a proxied transaction. Two multiplications by an odd constant,
//! each followed by folding the high half onto the low one, spread counters
//! over the whole word: over the low bits the table takes its bucket index
//! from too, whatever their spacing (a single product would keep the low bits
//! of ids spaced by a power of two all zero, piling them into few buckets,
//! and a peer that sees the counters in branches could leave only such ids
//! alive). Maps keyed by what peers send (branches, Call-IDs) keep SipHash.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

/// 2⁶⁴ divided by the golden ratio, made odd.
const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// Builds [`IdHasher`]s.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IdHash;

impl BuildHasher for IdHash {
    type Hasher = IdHasher;

    #[inline]
    fn build_hasher(&self) -> IdHasher {
        IdHasher(0)
    }
}

/// See the [module docs](self).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        let h = (self.0 ^ (self.0 >> 29)).wrapping_mul(K);
        h ^ (h >> 32)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(K);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// A map keyed by crate-allocated identifiers.
pub(crate) type IdMap<K, V> = HashMap<K, V, IdHash>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hash;

    fn hash<T: Hash>(t: T) -> u64 {
        IdHash.hash_one(t)
    }

    #[test]
    fn counters_hash_apart_in_the_low_and_the_high_bits() {
        // Counters (what the maps hold), consecutive or spaced by a power of
        // two (ids a peer could leave alive by ending the others), spread
        // over the buckets of a 1024-bucket table and over the top 7 bits.
        for step in [1u64, 2, 3, 16, 1024, 1 << 20, 1 << 32] {
            let mut low = std::collections::HashSet::new();
            let mut top = std::collections::HashSet::new();
            for n in 0u64..1024 {
                low.insert(hash(n * step) & 1023);
                top.insert(hash(n * step) >> 57);
            }
            // About 647 for random hashes (1024 · (1 − 1/e)).
            assert!(low.len() > 580, "step {step}: {} buckets", low.len());
            assert!(top.len() > 100, "step {step}: {} control bytes", top.len());
        }
    }

    #[test]
    fn an_id_map_works_as_a_map() {
        let mut m: IdMap<u64, u64> = IdMap::default();
        for n in 0..10_000 {
            m.insert(n, n * 2);
        }
        assert!((0..10_000).all(|n| m.get(&n) == Some(&(n * 2))));
        assert_eq!(m.remove(&17), Some(34));
        assert_eq!(m.len(), 9_999);
    }
}
