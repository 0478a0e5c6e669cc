//! The Milenage kernel functions f1, f1*, f2, f3, f4, f5, f5* (TS 35.206 §4)
//! on AES-128.

use std::fmt;

use aes::Aes128Enc;
use aes::cipher::consts::U16;
use aes::cipher::{
    Array, BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, KeyInit,
};
use zeroize::Zeroize;

/// The operator-selectable Milenage constants `c1..c5` and `r1..r5`
/// (TS 35.206 §4.1).
///
/// The `c` values are 128-bit XOR constants, written as integers: bit 127 of
/// TS 35.206 (its least significant bit) is bit 0 of the `u128`. The `r`
/// values are left-rotation amounts in bits, towards the most significant
/// bit, taken modulo 128.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Constants {
    /// `c1..c5`.
    pub c: [u128; 5],
    /// `r1..r5`.
    pub r: [u32; 5],
}

impl Constants {
    /// The default constants of TS 35.206 §4.1: `c1 = 0`, `c2 = 1`,
    /// `c3 = 2`, `c4 = 4`, `c5 = 8`; `r1 = 64`, `r2 = 0`, `r3 = 32`,
    /// `r4 = 64`, `r5 = 96`.
    pub const STANDARD: Constants = Constants {
        c: [0, 1, 2, 4, 8],
        r: [64, 0, 32, 64, 96],
    };
}

impl Default for Constants {
    fn default() -> Self {
        Constants::STANDARD
    }
}

/// The outputs of f2, f3, f4 and f5 for one `RAND`, computed together.
#[derive(Clone, PartialEq, Eq)]
pub struct F2345 {
    /// f2: the response `RES` (the HSS's `XRES`), 64 bits.
    pub res: [u8; 8],
    /// f3: the cipher key `CK`.
    pub ck: [u8; 16],
    /// f4: the integrity key `IK`.
    pub ik: [u8; 16],
    /// f5: the anonymity key `AK`.
    pub ak: [u8; 6],
}

impl F2345 {
    /// f2..f5 from `OUT2`, `OUT3` and `OUT4` (TS 35.206 §4.1).
    fn from_outputs(out2: u128, out3: u128, out4: u128) -> Self {
        F2345 {
            res: low64(out2),
            ck: out3.to_be_bytes(),
            ik: out4.to_be_bytes(),
            ak: high48(out2),
        }
    }
}

impl fmt::Debug for F2345 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Key material stays out of logs.
        f.debug_struct("F2345").finish_non_exhaustive()
    }
}

/// Milenage for one subscriber: the AES-128 key schedule of `K`, `OPc`
/// and the constants.
///
/// Build it once per operation and call as many functions as needed; each
/// call costs one AES encryption for `TEMP` plus one per output block.
/// The `Debug` output shows no key material, and dropping it overwrites
/// the key schedule and `OPc` with zeros (`zeroize`).
#[derive(Clone)]
pub struct Milenage {
    cipher: Aes128Enc,
    opc: u128,
    constants: Constants,
}

impl Drop for Milenage {
    fn drop(&mut self) {
        // The AES key schedule zeroises itself (aes's `zeroize` feature).
        self.opc.zeroize();
    }
}

impl fmt::Debug for Milenage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Milenage").finish_non_exhaustive()
    }
}

/// Derives `OPc = OP ⊕ E_K(OP)` (TS 35.206 §4.1).
pub fn derive_opc(k: &[u8; 16], op: &[u8; 16]) -> [u8; 16] {
    let cipher = Aes128Enc::new(&Array::from(*k));
    opc_with(&cipher, op)
}

fn opc_with(cipher: &Aes128Enc, op: &[u8; 16]) -> [u8; 16] {
    let op = u128::from_be_bytes(*op);
    (encrypt(cipher, op) ^ op).to_be_bytes()
}

fn encrypt(cipher: &Aes128Enc, block: u128) -> u128 {
    let mut block = Array::from(block.to_be_bytes());
    cipher.encrypt_block(&mut block);
    u128::from_be_bytes(block.into())
}

impl Milenage {
    /// Milenage for subscriber key `k` and the derived operator variant
    /// `opc` (what an HSS normally stores), with the standard constants.
    pub fn with_opc(k: &[u8; 16], opc: &[u8; 16]) -> Self {
        Milenage {
            cipher: Aes128Enc::new(&Array::from(*k)),
            opc: u128::from_be_bytes(*opc),
            constants: Constants::STANDARD,
        }
    }

    /// Milenage for subscriber key `k` and the operator variant `op`,
    /// deriving `OPc` with the same key schedule.
    pub fn with_op(k: &[u8; 16], op: &[u8; 16]) -> Self {
        let cipher = Aes128Enc::new(&Array::from(*k));
        let opc = u128::from_be_bytes(opc_with(&cipher, op));
        Milenage {
            cipher,
            opc,
            constants: Constants::STANDARD,
        }
    }

    /// Replaces the standard constants with operator-specific ones.
    #[must_use]
    pub fn with_constants(mut self, constants: Constants) -> Self {
        self.constants = constants;
        self
    }

    /// The `OPc` in use (derived, when built [`with_op`](Self::with_op)).
    pub fn opc(&self) -> [u8; 16] {
        self.opc.to_be_bytes()
    }

    /// The constants in use.
    pub fn constants(&self) -> &Constants {
        &self.constants
    }

    /// Runs one Milenage computation against the AES backend (AES-NI,
    /// VAES or the constant-time software one), selected once for the
    /// whole job rather than once per block. `job` gets `E`, the raw
    /// AES-128 encryption under `K`.
    fn run<R: Default>(&self, job: impl FnOnce(&mut dyn FnMut(u128) -> u128) -> R) -> R {
        let mut result = R::default();
        self.cipher.encrypt_with_backend(Job {
            job,
            result: &mut result,
        });
        result
    }

    /// `TEMP = E_K(RAND ⊕ OPc)`.
    fn temp(&self, e: &mut dyn FnMut(u128) -> u128, rand: &[u8; 16]) -> u128 {
        e(u128::from_be_bytes(*rand) ^ self.opc)
    }

    /// `OUT1 = E_K(TEMP ⊕ rot(IN1 ⊕ OPc, r1) ⊕ c1) ⊕ OPc` with
    /// `IN1 = SQN ‖ AMF ‖ SQN ‖ AMF`.
    fn out1(
        &self,
        e: &mut dyn FnMut(u128) -> u128,
        temp: u128,
        sqn: &[u8; 6],
        amf: &[u8; 2],
    ) -> u128 {
        let half = u64::from_be_bytes([
            sqn[0], sqn[1], sqn[2], sqn[3], sqn[4], sqn[5], amf[0], amf[1],
        ]);
        let in1 = (u128::from(half) << 64) | u128::from(half);
        let Constants {
            c: [c1, ..],
            r: [r1, ..],
        } = self.constants;
        e(temp ^ (in1 ^ self.opc).rotate_left(r1) ^ c1) ^ self.opc
    }

    /// `OUTi = E_K(rot(TEMP ⊕ OPc, ri) ⊕ ci) ⊕ OPc` for `i` in 2..=5
    /// (`index` = i - 1).
    fn out_n(&self, e: &mut dyn FnMut(u128) -> u128, temp: u128, index: usize) -> u128 {
        let (r, c) = (self.constants.r[index], self.constants.c[index]);
        e((temp ^ self.opc).rotate_left(r) ^ c) ^ self.opc
    }

    /// `OUT1` alone (for f1, f1*).
    fn only_out1(&self, rand: &[u8; 16], sqn: &[u8; 6], amf: &[u8; 2]) -> u128 {
        self.run(|e| {
            let temp = self.temp(e, rand);
            self.out1(e, temp, sqn, amf)
        })
    }

    /// `OUTi` alone (for f2..f5*), `index` = i - 1.
    fn only_out_n(&self, rand: &[u8; 16], index: usize) -> u128 {
        self.run(|e| {
            let temp = self.temp(e, rand);
            self.out_n(e, temp, index)
        })
    }

    /// f1: the network authentication code `MAC-A`.
    pub fn f1(&self, rand: &[u8; 16], sqn: &[u8; 6], amf: &[u8; 2]) -> [u8; 8] {
        high64(self.only_out1(rand, sqn, amf))
    }

    /// f1*: the re-synchronisation authentication code `MAC-S`.
    pub fn f1_star(&self, rand: &[u8; 16], sqn: &[u8; 6], amf: &[u8; 2]) -> [u8; 8] {
        low64(self.only_out1(rand, sqn, amf))
    }

    /// f2: the response `RES` (`XRES` on the network side).
    pub fn f2(&self, rand: &[u8; 16]) -> [u8; 8] {
        low64(self.only_out_n(rand, OUT2))
    }

    /// f3: the cipher key `CK`.
    pub fn f3(&self, rand: &[u8; 16]) -> [u8; 16] {
        self.only_out_n(rand, OUT3).to_be_bytes()
    }

    /// f4: the integrity key `IK`.
    pub fn f4(&self, rand: &[u8; 16]) -> [u8; 16] {
        self.only_out_n(rand, OUT4).to_be_bytes()
    }

    /// f5: the anonymity key `AK`, concealing `SQN` in `AUTN`.
    pub fn f5(&self, rand: &[u8; 16]) -> [u8; 6] {
        high48(self.only_out_n(rand, OUT2))
    }

    /// f5*: the re-synchronisation anonymity key `AK*`, concealing `SQN_MS`
    /// in `AUTS`.
    pub fn f5_star(&self, rand: &[u8; 16]) -> [u8; 6] {
        high48(self.only_out_n(rand, OUT5))
    }

    /// f2, f3, f4 and f5 together (four AES blocks).
    pub fn f2345(&self, rand: &[u8; 16]) -> F2345 {
        let [out2, out3, out4] = self.run(|e| {
            let temp = self.temp(e, rand);
            [OUT2, OUT3, OUT4].map(|index| self.out_n(e, temp, index))
        });
        F2345::from_outputs(out2, out3, out4)
    }

    /// Everything an authentication vector needs in one pass: `(MAC-A,
    /// f2345)` for (RAND, SQN, AMF). Five AES blocks: `TEMP`, then the
    /// four independent `OUT1..OUT4`, which the CPU overlaps.
    pub(super) fn vector_outputs(
        &self,
        rand: &[u8; 16],
        sqn: &[u8; 6],
        amf: &[u8; 2],
    ) -> ([u8; 8], F2345) {
        let [out1, out2, out3, out4] = self.run(|e| {
            let temp = self.temp(e, rand);
            [
                self.out1(e, temp, sqn, amf),
                self.out_n(e, temp, OUT2),
                self.out_n(e, temp, OUT3),
                self.out_n(e, temp, OUT4),
            ]
        });
        (high64(out1), F2345::from_outputs(out2, out3, out4))
    }

    /// What building an AUTS needs: `(AK*, MAC-S)` for (RAND, SQN_MS,
    /// AMF*). Three AES blocks.
    pub(super) fn resync_outputs(
        &self,
        rand: &[u8; 16],
        sqn_ms: &[u8; 6],
        amf_star: &[u8; 2],
    ) -> ([u8; 6], [u8; 8]) {
        let [out1, out5] = self.run(|e| {
            let temp = self.temp(e, rand);
            [
                self.out1(e, temp, sqn_ms, amf_star),
                self.out_n(e, temp, OUT5),
            ]
        });
        (high48(out5), low64(out1))
    }

    /// Reads a received `AUTN` or `AUTS`: unmasks the concealed sequence
    /// number with `AK = f5` (AUTN) or `AK* = f5*` (AUTS), then computes
    /// the MAC the sender must have sent over it (`f1`, or `f1*`). Returns
    /// `(SQN, expected MAC)`. Three AES blocks: `TEMP`, the mask, `OUT1`.
    pub(super) fn unmask_and_mac(
        &self,
        which: Received,
        rand: &[u8; 16],
        concealed: &[u8; 6],
        amf: &[u8; 2],
    ) -> ([u8; 6], [u8; 8]) {
        let (mask_index, mac_of): (usize, fn(u128) -> [u8; 8]) = match which {
            Received::Autn => (OUT2, high64),
            Received::Auts => (OUT5, low64),
        };
        let (sqn, out1) = self.run(|e| {
            let temp = self.temp(e, rand);
            let ak = high48(self.out_n(e, temp, mask_index));
            let sqn: [u8; 6] = std::array::from_fn(|i| concealed[i] ^ ak[i]);
            (sqn, self.out1(e, temp, &sqn, amf))
        });
        (sqn, mac_of(out1))
    }
}

/// Indices of `OUT2..OUT5` in [`Constants`] (i - 1).
const OUT2: usize = 1;
const OUT3: usize = 2;
const OUT4: usize = 3;
const OUT5: usize = 4;

/// A [`Milenage::run`] job handed to the AES backend: `cipher`'s closure
/// protocol, through which the backend is chosen once per call.
struct Job<'r, F, R> {
    job: F,
    result: &'r mut R,
}

impl<F, R> BlockSizeUser for Job<'_, F, R> {
    type BlockSize = U16;
}

impl<F, R> BlockCipherEncClosure for Job<'_, F, R>
where
    F: FnOnce(&mut dyn FnMut(u128) -> u128) -> R,
{
    #[inline(always)]
    fn call<B: BlockCipherEncBackend<BlockSize = U16>>(self, backend: &B) {
        let mut encrypt = |x: u128| {
            let mut block = Array::from(x.to_be_bytes());
            backend.encrypt_block_inplace(&mut block);
            u128::from_be_bytes(block.into())
        };
        *self.result = (self.job)(&mut encrypt);
    }
}

/// Which received token [`Milenage::unmask_and_mac`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Received {
    /// `AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A` (what a USIM checks).
    Autn,
    /// `AUTS = (SQN_MS ⊕ AK*) ‖ MAC-S` (what the HSS checks).
    Auts,
}

/// Bits 0..63 (the most significant half) as bytes.
fn high64(x: u128) -> [u8; 8] {
    ((x >> 64) as u64).to_be_bytes()
}

/// Bits 64..127 (the least significant half) as bytes.
fn low64(x: u128) -> [u8; 8] {
    (x as u64).to_be_bytes()
}

/// Bits 0..47 (the 48 most significant bits) as bytes.
fn high48(x: u128) -> [u8; 6] {
    let b = ((x >> 80) as u64).to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_extraction_follows_ts_35_206_numbering() {
        let x = u128::from_be_bytes([
            0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
            0x0e, 0x0f,
        ]);
        assert_eq!(high64(x), [0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(low64(x), [8, 9, 10, 11, 12, 13, 14, 15]);
        assert_eq!(high48(x), [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn rotation_is_towards_the_most_significant_bit() {
        // rot(x, 8) moves byte 1 into byte 0 and byte 0 round to byte 15.
        let m = Milenage::with_opc(&[0; 16], &[0; 16]).with_constants(Constants {
            c: [0; 5],
            r: [0, 8, 0, 0, 0],
        });
        let temp = u128::from_be_bytes([0xaa, 0xbb, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        // With OPc = 0, c2 = 0 and the identity for E, OUT2 = rot(TEMP, r2).
        let rotated = m.out_n(&mut |x| x, temp, OUT2).to_be_bytes();
        assert_eq!(rotated[0], 0xbb);
        assert_eq!(rotated[15], 0xaa);
    }

    #[test]
    fn batched_and_single_outputs_agree() {
        let m = Milenage::with_op(&[0x11; 16], &[0x22; 16]);
        let rand = [0x33; 16];
        let (sqn, amf) = ([1, 2, 3, 4, 5, 6], [0x80, 0x00]);
        let (mac_a, f2345) = m.vector_outputs(&rand, &sqn, &amf);
        assert_eq!(mac_a, m.f1(&rand, &sqn, &amf));
        assert_eq!(f2345, m.f2345(&rand));
        assert_eq!(f2345.res, m.f2(&rand));
        assert_eq!(f2345.ck, m.f3(&rand));
        assert_eq!(f2345.ik, m.f4(&rand));
        assert_eq!(f2345.ak, m.f5(&rand));
        let (ak_star, mac_s) = m.resync_outputs(&rand, &sqn, &amf);
        assert_eq!(ak_star, m.f5_star(&rand));
        assert_eq!(mac_s, m.f1_star(&rand, &sqn, &amf));
    }

    #[test]
    fn debug_output_hides_keys() {
        let m = Milenage::with_opc(&[0xab; 16], &[0xcd; 16]);
        let shown = format!("{m:?} {:?}", m.f2345(&[0; 16]));
        assert!(!shown.contains("ab") && !shown.contains("171"), "{shown}");
    }
}
