//! Hex strings, the usual provisioning form of K, OP and OPc.

use crate::HssError;

/// Parses exactly `N` octets from `2 * N` hex digits (either case),
/// ignoring surrounding whitespace.
///
/// Anything else is [`HssError::Invalid`] naming the problem: a character
/// that is not a hex digit (with its position), or the wrong number of
/// digits.
pub fn parse_hex<const N: usize>(s: &str) -> Result<[u8; N], HssError> {
    let s = s.trim();
    let mut out = [0u8; N];
    let mut count = 0usize;
    for (position, c) in s.chars().enumerate() {
        let Some(nibble) = c.to_digit(16) else {
            return Err(HssError::Invalid(format!(
                "invalid hex digit {c:?} at position {position}"
            )));
        };
        if let Some(byte) = out.get_mut(count / 2) {
            // to_digit(16) is below 16, so this never truncates.
            let nibble = nibble as u8;
            *byte = if count.is_multiple_of(2) {
                nibble << 4
            } else {
                *byte | nibble
            };
        }
        count += 1;
    }
    if count != 2 * N {
        return Err(HssError::Invalid(format!(
            "expected {} hex digits ({N} octets), found {count}",
            2 * N
        )));
    }
    Ok(out)
}

/// Parses a 128-bit value (K, OP, OPc, RAND) from 32 hex digits; see
/// [`parse_hex`].
pub fn parse_hex16(s: &str) -> Result<[u8; 16], HssError> {
    parse_hex(s)
}

/// Formats octets as lower-case hex digits.
pub fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}
