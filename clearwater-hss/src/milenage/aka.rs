//! AKA authentication vectors (TS 33.102 §6.3.2) and re-synchronisation
//! from AUTS (§6.3.3, §6.3.5).

use std::fmt;

use super::algo::Received;
use super::{IndPolicy, Milenage, Sqn, SqnState, ct_eq};
use crate::HssError;

/// The dummy `AMF*` of MAC-S in AUTS (TS 33.102 §6.3.3): all zeros.
const AMF_STAR: [u8; 2] = [0, 0];

/// Length of the Cx resynchronisation SIP-Authorization, `RAND ‖ AUTS`.
const SIP_AUTHORIZATION_LEN: usize = 16 + 14;

/// A UMTS/IMS AKA authentication vector (the quintet of TS 33.102 §6.3.2).
///
/// On Cx, `RAND ‖ AUTN` is the SIP-Authenticate value, `xres` the
/// SIP-Authorization (and, for Digest-AKAv1 of RFC 3310, the password),
/// `ck` and `ik` the Confidentiality-Key and Integrity-Key.
///
/// `Debug` shows `rand` and `autn` (what goes to the UE anyway) and hides
/// `xres`, `ck` and `ik`.
#[derive(Clone, PartialEq, Eq)]
pub struct AkaVector {
    /// The challenge `RAND`, as supplied by the caller.
    pub rand: [u8; 16],
    /// `AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A`.
    pub autn: [u8; 16],
    /// The expected response `XRES = f2(RAND)`.
    pub xres: [u8; 8],
    /// The cipher key `CK = f3(RAND)`.
    pub ck: [u8; 16],
    /// The integrity key `IK = f4(RAND)`.
    pub ik: [u8; 16],
}

impl AkaVector {
    /// The Cx SIP-Authenticate value, `RAND ‖ AUTN` (TS 29.228/29.229;
    /// the start of the Digest-AKA nonce of RFC 3310).
    pub fn sip_authenticate(&self) -> [u8; 32] {
        std::array::from_fn(|i| {
            if i < 16 {
                self.rand[i]
            } else {
                self.autn[i - 16]
            }
        })
    }

    /// The concealed sequence number `SQN ⊕ AK`, the first 6 octets of
    /// `AUTN`.
    pub fn concealed_sqn(&self) -> [u8; 6] {
        split_autn(&self.autn).0
    }

    /// The `AMF`, octets 6..8 of `AUTN`.
    pub fn amf(&self) -> [u8; 2] {
        split_autn(&self.autn).1
    }

    /// `MAC-A`, the last 8 octets of `AUTN`.
    pub fn mac_a(&self) -> [u8; 8] {
        split_autn(&self.autn).2
    }
}

/// `AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A`, split into its three fields.
fn split_autn(autn: &[u8; 16]) -> ([u8; 6], [u8; 2], [u8; 8]) {
    (
        std::array::from_fn(|i| autn[i]),
        [autn[6], autn[7]],
        std::array::from_fn(|i| autn[8 + i]),
    )
}

impl fmt::Debug for AkaVector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AkaVector")
            .field("rand", &super::encode_hex(&self.rand))
            .field("autn", &super::encode_hex(&self.autn))
            .finish_non_exhaustive()
    }
}

impl Milenage {
    /// The authentication vector for `rand`, `sqn` and `amf`.
    ///
    /// `rand` must come from a cryptographically secure random generator;
    /// this module never draws randomness itself. `amf` is the
    /// subscriber's Authentication Management Field (TS 33.102 Annex H),
    /// an operator choice; vectors for E-UTRAN need its first bit, the
    /// separation bit, set (TS 33.401).
    pub fn aka_vector(&self, rand: &[u8; 16], sqn: Sqn, amf: &[u8; 2]) -> AkaVector {
        let sqn = sqn.to_bytes();
        let (mac_a, f) = self.vector_outputs(rand, &sqn, amf);
        let autn = std::array::from_fn(|i| match i {
            0..6 => sqn[i] ^ f.ak[i],
            6..8 => amf[i - 6],
            _ => mac_a[i - 8],
        });
        AkaVector {
            rand: *rand,
            autn,
            xres: f.res,
            ck: f.ck,
            ik: f.ik,
        }
    }

    /// Issues the next sequence number from `state` (per `policy`) and
    /// computes the vector for it: what a Cx Multimedia-Auth-Answer
    /// carries. `state` is advanced only on success; persist it
    /// afterwards. Errors are those of [`SqnState::advance`].
    pub fn generate_vector(
        &self,
        state: &mut SqnState,
        policy: IndPolicy,
        rand: &[u8; 16],
        amf: &[u8; 2],
    ) -> Result<AkaVector, HssError> {
        let sqn = state.advance(policy)?;
        Ok(self.aka_vector(rand, sqn, amf))
    }

    /// Builds `AUTS = (SQN_MS ⊕ AK*) ‖ MAC-S` for a USIM whose highest
    /// accepted sequence number is `sqn_ms` (TS 33.102 §6.3.3): the USIM
    /// side of re-synchronisation, for UE simulators and tests.
    pub fn auts(&self, rand: &[u8; 16], sqn_ms: Sqn) -> [u8; 14] {
        let sqn_ms = sqn_ms.to_bytes();
        let (ak_star, mac_s) = self.resync_outputs(rand, &sqn_ms, &AMF_STAR);
        std::array::from_fn(|i| {
            if i < 6 {
                sqn_ms[i] ^ ak_star[i]
            } else {
                mac_s[i - 6]
            }
        })
    }

    /// Verifies `auts` for the challenge `rand` it answers and returns the
    /// USIM's `SQN_MS`. MAC-S is compared in constant time; a mismatch is
    /// [`HssError::Auth`]. Does not touch any SQN state: see
    /// [`Milenage::resync`].
    pub fn verify_auts(&self, rand: &[u8; 16], auts: &[u8; 14]) -> Result<Sqn, HssError> {
        let concealed = std::array::from_fn(|i| auts[i]);
        let mac_s: [u8; 8] = std::array::from_fn(|i| auts[6 + i]);
        let (sqn_ms, expected) = self.unmask_and_mac(Received::Auts, rand, &concealed, &AMF_STAR);
        if !ct_eq(&mac_s, &expected) {
            return Err(HssError::Auth(
                "AUTS rejected: MAC-S does not verify (wrong RAND, K or OPc, or a forged AUTS)"
                    .into(),
            ));
        }
        Ok(Sqn::from_bytes(sqn_ms))
    }

    /// Re-synchronisation (TS 33.102 §6.3.5): verifies `auts` (answering
    /// the challenge `rand`), recovers `SQN_MS` and updates `state` with
    /// [`SqnState::resync`] so that the next vector generated from it is
    /// accepted by the USIM. Returns `SQN_MS`.
    ///
    /// A wrong MAC-S is [`HssError::Auth`] and leaves `state` unchanged.
    pub fn resync(
        &self,
        state: &mut SqnState,
        rand: &[u8; 16],
        auts: &[u8; 14],
    ) -> Result<Sqn, HssError> {
        let sqn_ms = self.verify_auts(rand, auts)?;
        state.resync(sqn_ms);
        Ok(sqn_ms)
    }

    /// [`Milenage::resync`] from the Cx form: the SIP-Authorization AVP of a
    /// re-synchronisation Multimedia-Auth-Request, `RAND (16) ‖ AUTS (14)`
    /// (TS 29.228/29.229). Any length other than 30 octets is
    /// [`HssError::Auth`], with `state` unchanged.
    pub fn resync_sip_authorization(
        &self,
        state: &mut SqnState,
        sip_authorization: &[u8],
    ) -> Result<Sqn, HssError> {
        let Ok(bytes) = <&[u8; SIP_AUTHORIZATION_LEN]>::try_from(sip_authorization) else {
            return Err(HssError::Auth(format!(
                "resynchronisation SIP-Authorization must be {SIP_AUTHORIZATION_LEN} octets \
                 (RAND 16 ‖ AUTS 14), got {}",
                sip_authorization.len()
            )));
        };
        let rand = std::array::from_fn(|i| bytes[i]);
        let auts = std::array::from_fn(|i| bytes[16 + i]);
        self.resync(state, &rand, &auts)
    }

    /// The USIM's check of `AUTN` (TS 33.102 §6.3.3): unmasks `SQN` with
    /// `AK = f5(RAND)` and verifies MAC-A in constant time. Returns
    /// `(SQN, AMF)`; a wrong MAC-A is [`HssError::Auth`]. The freshness
    /// check of `SQN` against the USIM's own state is the caller's (see
    /// the module documentation). For UE simulators and tests.
    pub fn verify_autn(
        &self,
        rand: &[u8; 16],
        autn: &[u8; 16],
    ) -> Result<(Sqn, [u8; 2]), HssError> {
        let (concealed, amf, mac_a) = split_autn(autn);
        let (sqn, expected) = self.unmask_and_mac(Received::Autn, rand, &concealed, &amf);
        if !ct_eq(&mac_a, &expected) {
            return Err(HssError::Auth(
                "AUTN rejected: MAC-A does not verify".into(),
            ));
        }
        Ok((Sqn::from_bytes(sqn), amf))
    }
}
