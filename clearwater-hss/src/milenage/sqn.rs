//! Sequence numbers and the HSS's per-subscriber SQN state
//! (TS 33.102 §6.3.2, §6.3.5 and Annex C).

use std::fmt;

use crate::HssError;

/// A 48-bit AKA sequence number, `SQN = SEQ (43 bits) ‖ IND (5 bits)`
/// (TS 33.102 Annex C.1.1).
///
/// Ordered by value, which orders by `SEQ` first. `Display` shows the 12
/// hex digits of the octets sent (concealed) in `AUTN`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sqn(u64);

impl Sqn {
    /// Width of a sequence number.
    pub const BITS: u32 = 48;
    /// Width of the `IND` part (the low bits).
    pub const IND_BITS: u32 = 5;
    /// Number of `IND` values, the size of the USIM's `SEQ_MS` array.
    pub const IND_COUNT: u8 = 1 << Self::IND_BITS;
    /// The largest `SEQ` value (43 bits).
    pub const MAX_SEQ: u64 = (1 << (Self::BITS - Self::IND_BITS)) - 1;
    /// The largest sequence number.
    pub const MAX: Sqn = Sqn((1 << Self::BITS) - 1);

    /// A sequence number from its 48-bit value; a larger value is
    /// [`HssError::Invalid`].
    pub fn new(value: u64) -> Result<Sqn, HssError> {
        if value > Self::MAX.0 {
            return Err(HssError::Invalid(format!(
                "SQN {value:#x} does not fit in 48 bits"
            )));
        }
        Ok(Sqn(value))
    }

    /// A sequence number from `SEQ` (at most [`Sqn::MAX_SEQ`]) and `IND`
    /// (below [`Sqn::IND_COUNT`]); out-of-range parts are
    /// [`HssError::Invalid`].
    pub fn from_seq_ind(seq: u64, ind: u8) -> Result<Sqn, HssError> {
        if seq > Self::MAX_SEQ {
            return Err(HssError::Invalid(format!(
                "SEQ {seq:#x} does not fit in 43 bits"
            )));
        }
        if ind >= Self::IND_COUNT {
            return Err(HssError::Invalid(format!(
                "IND {ind} is out of range 0..={}",
                Self::IND_COUNT - 1
            )));
        }
        Ok(Self::from_parts(seq, ind))
    }

    /// Joins `SEQ` and `IND`, masking each to its width.
    pub(super) const fn from_parts(seq: u64, ind: u8) -> Sqn {
        let ind_mask = (1u64 << Self::IND_BITS) - 1;
        Sqn(((seq & Self::MAX_SEQ) << Self::IND_BITS) | (ind as u64 & ind_mask))
    }

    /// The sequence number in its 6 octets, as carried in `AUTN`/`AUTS`.
    pub const fn from_bytes(bytes: [u8; 6]) -> Sqn {
        let [a, b, c, d, e, f] = bytes;
        Sqn(u64::from_be_bytes([0, 0, a, b, c, d, e, f]))
    }

    /// The 6 octets of the sequence number (most significant first).
    pub const fn to_bytes(self) -> [u8; 6] {
        let [_, _, a, b, c, d, e, f] = self.0.to_be_bytes();
        [a, b, c, d, e, f]
    }

    /// The 48-bit value.
    pub const fn value(self) -> u64 {
        self.0
    }

    /// The `SEQ` part (the 43 most significant bits).
    pub const fn seq(self) -> u64 {
        self.0 >> Self::IND_BITS
    }

    /// The `IND` part (the 5 least significant bits).
    pub const fn ind(self) -> u8 {
        (self.0 & ((1 << Self::IND_BITS) - 1)) as u8
    }
}

impl fmt::Display for Sqn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:012x}", self.0)
    }
}

impl From<Sqn> for u64 {
    fn from(sqn: Sqn) -> u64 {
        sqn.0
    }
}

impl TryFrom<u64> for Sqn {
    type Error = HssError;

    fn try_from(value: u64) -> Result<Sqn, HssError> {
        Sqn::new(value)
    }
}

/// How the HSS chooses `IND` for each new vector (TS 33.102 Annex C).
///
/// `SEQ` always increases by one per vector; see the [module
/// documentation](super) for why [`IndPolicy::Cyclic`] is the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum IndPolicy {
    /// `IND` advances by one, modulo 32, with every vector, so vectors used
    /// out of order (up to 32 apart) are still accepted by the USIM.
    #[default]
    Cyclic,
    /// Every vector carries this `IND` (which must be below 32): the USIM
    /// then treats this HSS as one strictly increasing counter.
    Fixed(u8),
}

/// The HSS/AuC's sequence number state for one subscriber: `SQN_HE`, the
/// last sequence number issued (TS 33.102 Annex C.1.2).
///
/// It is a plain value: store it as the `u64` of [`SqnState::to_u64`],
/// read it back with [`SqnState::from_u64`], and write the updated value
/// after [`SqnState::advance`] or [`SqnState::resync`] (with a
/// compare-and-swap, if several HSS front ends share the store).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SqnState {
    last: Sqn,
}

impl SqnState {
    /// The USIM's wrap-around limit Δ (TS 33.102 Annex C.2): a USIM that
    /// enforces it rejects a `SEQ` more than Δ above the highest it has
    /// accepted. [`SqnState::resync`] keeps an `SQN_HE` that is ahead of
    /// `SQN_MS` only while it is within this distance. 2^28, the usual
    /// USIM setting.
    pub const DELTA: u64 = 1 << 28;

    /// The state of a newly provisioned subscriber: `SQN_HE = 0`, so the
    /// first vector carries `SEQ = 1`.
    pub const fn new() -> Self {
        SqnState { last: Sqn(0) }
    }

    /// The state whose last issued sequence number is `last` (for
    /// provisioning a subscriber migrated from another HSS).
    pub const fn from_last(last: Sqn) -> Self {
        SqnState { last }
    }

    /// The state from its stored form; a value above 48 bits is
    /// [`HssError::Invalid`] (a corrupt store).
    pub fn from_u64(value: u64) -> Result<Self, HssError> {
        Ok(SqnState {
            last: Sqn::new(value)?,
        })
    }

    /// The stored form: the 48-bit value of `SQN_HE`.
    pub const fn to_u64(self) -> u64 {
        self.last.0
    }

    /// `SQN_HE`, the last sequence number issued.
    pub const fn last(self) -> Sqn {
        self.last
    }

    /// The sequence number the next vector would carry, without advancing.
    ///
    /// Errors: an [`IndPolicy::Fixed`] index of 32 or more is
    /// [`HssError::Invalid`]; exhausting the 43-bit `SEQ` space is
    /// [`HssError::Auth`] (a wrapped `SEQ` would never be accepted again).
    pub fn peek_next(self, policy: IndPolicy) -> Result<Sqn, HssError> {
        let seq = self.last.seq();
        if seq >= Sqn::MAX_SEQ {
            return Err(HssError::Auth(
                "SEQ space exhausted: no fresh sequence number is left".into(),
            ));
        }
        let ind = match policy {
            IndPolicy::Cyclic => (self.last.ind() + 1) % Sqn::IND_COUNT,
            IndPolicy::Fixed(ind) => ind,
        };
        Sqn::from_seq_ind(seq + 1, ind)
    }

    /// Issues the next sequence number (`SEQ_HE + 1`, `IND` by `policy`)
    /// and records it as `SQN_HE`. On error the state is unchanged.
    pub fn advance(&mut self, policy: IndPolicy) -> Result<Sqn, HssError> {
        let next = self.peek_next(policy)?;
        self.last = next;
        Ok(next)
    }

    /// Re-synchronises on the USIM's `SQN_MS` (already authenticated by its
    /// MAC-S, see [`Milenage::resync`](super::Milenage::resync)) so that
    /// the next vector is fresh (TS 33.102 §6.3.5):
    ///
    /// * if `SEQ_HE` is above `SEQ_MS` by less than [`SqnState::DELTA`],
    ///   it is kept: the next `SEQ_HE + 1` is acceptable, and the HSS
    ///   neither goes backwards nor re-issues a sequence number;
    /// * otherwise `SEQ_HE` becomes `SEQ_MS`, and the next vector carries
    ///   `SEQ_MS + 1`, one step above the highest `SEQ` the USIM accepted.
    ///
    /// The `IND` position of the cycle is kept either way.
    pub fn resync(&mut self, sqn_ms: Sqn) {
        let (seq_he, seq_ms) = (self.last.seq(), sqn_ms.seq());
        let in_range = seq_he > seq_ms && seq_he - seq_ms < Self::DELTA;
        if !in_range {
            self.last = Sqn::from_parts(seq_ms, self.last.ind());
        }
    }
}
