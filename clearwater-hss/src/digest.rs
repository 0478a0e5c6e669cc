//! SIP digest credentials as an HSS stores them (RFC 2617 §3.2.2.2).
//!
//! An HSS never needs the password itself: the S-CSCF checks a digest
//! response from `HA1 = MD5(username ":" realm ":" password)` (for the MD5
//! and qop `auth` variants TS 29.229 uses), so the HSS stores and hands out
//! only HA1 and its realm. [`ha1`] computes it from a password, for
//! provisioning.

use md5::{Digest, Md5};

use crate::milenage::encode_hex;

/// `HA1 = MD5(username ":" realm ":" password)` as 32 lower-case hex
/// digits (RFC 2617 §3.2.2.2, algorithm `MD5`). For an IMS subscriber the
/// username is the private identity.
///
/// ```
/// // The example of RFC 2617 §3.5.
/// assert_eq!(
///     clearwater_hss::digest::ha1("Mufasa", "testrealm@host.com", "Circle Of Life"),
///     "939e7578ed9e3c518a452acee763bce9"
/// );
/// ```
pub fn ha1(username: &str, realm: &str, password: &str) -> String {
    let mut md5 = Md5::new();
    md5.update(username.as_bytes());
    md5.update(b":");
    md5.update(realm.as_bytes());
    md5.update(b":");
    md5.update(password.as_bytes());
    encode_hex(&md5.finalize())
}

/// Whether `s` has the form of an HA1: exactly 32 hex digits (either case).
#[cfg_attr(not(feature = "runtime"), allow(dead_code))]
pub(crate) fn is_ha1(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_2617_example() {
        // RFC 2617 §3.5: username "Mufasa", realm "testrealm@host.com",
        // password "Circle Of Life".
        let ha1 = ha1("Mufasa", "testrealm@host.com", "Circle Of Life");
        assert_eq!(ha1, "939e7578ed9e3c518a452acee763bce9");
        // The RFC gives the response, not HA1: check that this HA1 yields it.
        let md5 = |s: String| encode_hex(&Md5::digest(s.as_bytes()));
        let ha2 = md5("GET:/dir/index.html".to_owned());
        let response = md5(format!(
            "{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:00000001:0a4f113b:auth:{ha2}"
        ));
        assert_eq!(response, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn every_part_counts() {
        let base = ha1("alice@example.net", "example.net", "secret");
        assert_ne!(base, ha1("bob@example.net", "example.net", "secret"));
        assert_ne!(base, ha1("alice@example.net", "example.org", "secret"));
        assert_ne!(base, ha1("alice@example.net", "example.net", "Secret"));
        // The parts are joined with colons, so a colon inside one is
        // ambiguous: RFC 2617 leaves that to the realm and username syntax.
        assert_eq!(ha1("a:b", "c", "d"), ha1("a", "b:c", "d"));
        assert!(is_ha1(&base));
    }

    #[test]
    fn ha1_shape() {
        assert!(is_ha1("939E7578ED9E3C518A452ACEE763BCE9"));
        assert!(!is_ha1("939e7578ed9e3c518a452acee763bce"));
        assert!(!is_ha1("939e7578ed9e3c518a452acee763bce9a"));
        assert!(!is_ha1("939e7578ed9e3c518a452acee763bcez"));
        assert!(!is_ha1(""));
    }
}
