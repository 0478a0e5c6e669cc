//! Milenage (3GPP TS 35.205/35.206) and the AKA authentication vectors an
//! HSS/AuC generates from it (TS 33.102), with SQN management and
//! re-synchronisation.
//!
//! # The algorithm set
//!
//! Milenage is the example (and de facto standard) instantiation of the
//! 3GPP authentication and key generation functions, built on a 128-bit
//! block cipher (the *kernel*, AES-128 here). For a subscriber key `K`, an
//! operator variant `OPc` and a challenge `RAND`:
//!
//! ```text
//! TEMP = E_K(RAND ⊕ OPc)
//! OUT1 = E_K(TEMP ⊕ rot(IN1 ⊕ OPc, r1) ⊕ c1) ⊕ OPc   IN1 = SQN ‖ AMF ‖ SQN ‖ AMF
//! OUTi = E_K(rot(TEMP ⊕ OPc, ri) ⊕ ci) ⊕ OPc         i = 2..5
//!
//! f1  = MAC-A = OUT1[0..63]     f1* = MAC-S = OUT1[64..127]
//! f5  = AK    = OUT2[0..47]     f2  = RES   = OUT2[64..127]
//! f3  = CK    = OUT3            f4  = IK    = OUT4
//! f5* = AK*   = OUT5[0..47]
//! ```
//!
//! `OPc = OP ⊕ E_K(OP)` is derived from the operator's `OP` once per
//! subscriber ([`derive_opc`], [`Milenage::with_op`]); HSSs usually store
//! `OPc` directly ([`Milenage::with_opc`]). The constants `c1..c5` and
//! `r1..r5` default to the values of TS 35.206 §4.1 ([`Constants::STANDARD`]);
//! an operator may choose others ([`Milenage::with_constants`]).
//!
//! [`Milenage`] expands the AES key schedule for `K` once; build it once per
//! subscriber operation and derive everything from it. A full vector costs
//! five AES block encryptions (`TEMP`, then the four independent
//! `OUT1..OUT4`, which the CPU overlaps), all in a single call into the
//! `aes` crate's backend (AES-NI/VAES when available, detected at run
//! time), since selecting the backend costs more than an AES-NI block.
//!
//! # Authentication vectors
//!
//! [`Milenage::aka_vector`] computes the quintet of TS 33.102 §6.3.2:
//! `XRES = f2`, `CK = f3`, `IK = f4`, and `AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A`.
//! The module is deterministic and sans-IO: **the caller supplies `RAND`**,
//! which must come from a cryptographically secure random generator (a
//! repeated or predictable `RAND` lets an attacker replay or pre-compute
//! challenges). [`Milenage::generate_vector`] combines the SQN step and the
//! vector computation.
//!
//! # SQN management (TS 33.102 Annex C)
//!
//! A sequence number is 48 bits, `SQN = SEQ (43 bits) ‖ IND (5 bits)`
//! (Annex C.1.1). The USIM keeps, for each of the 32 `IND` values, the
//! highest `SEQ` it has accepted, and accepts a new `SQN` only if its `SEQ`
//! is greater than the one stored for its `IND` (Annex C.2). The HSS keeps
//! `SQN_HE`, the last `SQN` it issued, as a [`SqnState`] (a plain `u64`
//! for storage) and, per Annex C.1.2, increments `SEQ_HE` by one for every
//! new vector.
//!
//! **Chosen IND scheme: cyclic** ([`IndPolicy::Cyclic`], the default): each
//! new vector takes the next `IND` modulo 32 as well as the next `SEQ`. So
//! every vector has a `SEQ` strictly greater than any issued before it (in
//! order use always works), and vectors that are consumed *out of order*
//! (several vectors fetched in one Cx MAR, two S-CSCFs, a vector cached and
//! used after a newer one) are still accepted, since each lands in its own
//! `IND` slot of the USIM's array. With the simpler "increment SEQ, keep
//! IND" variant the USIM degenerates to a single counter and any
//! out-of-order use costs a synchronisation failure and a round trip. That
//! variant remains available as [`IndPolicy::Fixed`], for deployments where
//! `IND` identifies the issuing domain (e.g. the IMS and the PS domain
//! sharing the USIM's array with distinct `IND` values).
//!
//! # Re-synchronisation (TS 33.102 §6.3.5)
//!
//! When the USIM rejects `SQN` as not fresh it answers with
//! `AUTS = (SQN_MS ⊕ AK*) ‖ MAC-S`, where `AK* = f5*(RAND)` and
//! `MAC-S = f1*(SQN_MS ‖ RAND ‖ AMF*)` with the dummy `AMF* = 0x0000`
//! (§6.3.3). On Cx the S-CSCF sends it in SIP-Authorization as
//! `RAND ‖ AUTS` (30 octets, [`Milenage::resync_sip_authorization`]).
//!
//! [`Milenage::resync`] always verifies MAC-S (in constant time) before
//! anything else: a wrong MAC-S is an [`HssError::Auth`] and leaves the
//! state untouched, so a forged AUTS cannot move a subscriber's counter.
//! It then recovers `SQN_MS` and applies [`SqnState::resync`]:
//!
//! * normally `SEQ_HE` becomes `SEQ_MS`, so the **next** vector carries
//!   `SEQ_MS + 1`, strictly greater than anything the USIM has accepted.
//!   Re-issuing `SQN_MS` itself (as Clearwater's sprout did, issue #1299)
//!   would be rejected again, forever;
//! * if `SEQ_HE` is already ahead of `SEQ_MS` (within the USIM's
//!   wrap-around limit Δ, [`SqnState::DELTA`]) it is kept: the next
//!   vector is fresh anyway, and the HSS never goes backwards and never
//!   re-issues a sequence number it has already handed out. This is the
//!   "is `SQN_HE` in the correct range" check of §6.3.5.
//!
//! # Example
//!
//! ```
//! use clearwater_hss::milenage::{IndPolicy, Milenage, SqnState, parse_hex16};
//!
//! # fn main() -> Result<(), clearwater_hss::HssError> {
//! // Provisioned per subscriber: K, OPc (hex) and the stored SQN state.
//! let k = parse_hex16("465b5ce8b199b49faa5f0a2ee238a6bc")?;
//! let opc = parse_hex16("cd63cb71954a9f4e48a5994e37a02baf")?;
//! let mut state = SqnState::from_u64(0)?;
//!
//! let milenage = Milenage::with_opc(&k, &opc);
//! let rand = [0x5a; 16]; // from a CSPRNG in real use
//! let vector = milenage.generate_vector(&mut state, IndPolicy::Cyclic, &rand, &[0x80, 0x00])?;
//! // Store state.to_u64(); send vector.sip_authenticate(), XRES, CK, IK.
//!
//! // Later, the S-CSCF reports a synchronisation failure: RAND ‖ AUTS.
//! # let auts = milenage.auts(&rand, clearwater_hss::milenage::Sqn::from_seq_ind(900, 4)?);
//! # let mut sip_authorization = rand.to_vec();
//! # sip_authorization.extend_from_slice(&auts);
//! let sqn_ms = milenage.resync_sip_authorization(&mut state, &sip_authorization)?;
//! let next = milenage.generate_vector(&mut state, IndPolicy::Cyclic, &[0xa5; 16], &[0x80, 0x00])?;
//! let (next_sqn, _amf) = milenage.verify_autn(&next.rand, &next.autn)?;
//! assert!(next_sqn.seq() > sqn_ms.seq());
//! # let _ = vector;
//! # Ok(())
//! # }
//! ```
//!
//! # Inputs and errors
//!
//! Keys and other fixed-size values are arrays (`[u8; 16]` for K, OP, OPc,
//! RAND), so the cryptographic functions cannot fail. Variable input is
//! checked: [`parse_hex16`] for provisioning strings ([`HssError::Invalid`]
//! with the reason), [`Sqn::new`] for 48-bit values, and the SIP-Authorization
//! length. Nothing in this module panics.
//!
//! [`HssError::Auth`]: crate::HssError::Auth
//! [`HssError::Invalid`]: crate::HssError::Invalid

mod aka;
mod algo;
mod hex;
mod sqn;

pub use aka::AkaVector;
pub use algo::{Constants, F2345, Milenage, derive_opc};
pub use hex::{encode_hex, parse_hex, parse_hex16};
pub use sqn::{IndPolicy, Sqn, SqnState};

/// Compares two equal-length byte arrays without an early exit, so the time
/// taken does not reveal where they first differ (for MAC verification).
fn ct_eq<const N: usize>(a: &[u8; N], b: &[u8; N]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::ct_eq;

    #[test]
    fn ct_eq_compares_every_byte() {
        assert!(ct_eq(&[1, 2, 3], &[1, 2, 3]));
        assert!(!ct_eq(&[1, 2, 3], &[0, 2, 3]));
        assert!(!ct_eq(&[1, 2, 3], &[1, 2, 4]));
        assert!(ct_eq::<0>(&[], &[]));
    }
}
