//! Versioned record encoding, so stored state survives upgrades.
//!
//! Clearwater's stores outlived its releases: a node running a new version
//! reads records written by an old one (and, during a rolling upgrade, the
//! other way round). Every record type therefore carries a kind and a version
//! number, and a new version says how to read the old ones.
//!
//! Layout: `"cw"`, a format byte (`1`), the kind's length (one byte) and
//! bytes, the version (`u16`, big-endian), then the value as JSON. JSON keeps
//! records readable with `redis-cli` or a memcached `get`, and lets a version
//! add optional fields (`#[serde(default)]`) without a new version number.
//! Bytes without the `"cw"` marker are read as version 0, the unversioned
//! form of an earlier release, if the type's [`Versioned::upgrade`] accepts it.
//!
//! ```
//! use clearwater_store::record::{self, Versioned};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct Binding { uri: String, expires: u64, q: Option<f32> }
//!
//! /// What version 1 stored.
//! #[derive(Deserialize)]
//! struct BindingV1 { uri: String, expires: u64 }
//!
//! impl Versioned for Binding {
//!     const KIND: &'static str = "binding";
//!     const VERSION: u16 = 2;
//!     fn upgrade(version: u16, json: &[u8]) -> Result<Self, record::RecordError> {
//!         match version {
//!             1 => {
//!                 let old: BindingV1 = record::json(json)?;
//!                 Ok(Binding { uri: old.uri, expires: old.expires, q: None })
//!             }
//!             v => Err(record::RecordError::UnknownVersion(v)),
//!         }
//!     }
//! }
//!
//! let b = Binding { uri: "sip:a@b".into(), expires: 300, q: Some(0.5) };
//! let bytes = record::encode(&b).unwrap();
//! assert_eq!(record::decode::<Binding>(&bytes).unwrap(), b);
//! ```

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::StoreError;

const MAGIC: &[u8; 2] = b"cw";
const FORMAT: u8 = 1;

/// Why a record could not be read or written.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// The record is of another kind.
    #[error("record of kind {found:?}, expected {expected:?}")]
    WrongKind {
        /// The kind asked for.
        expected: &'static str,
        /// The kind found.
        found: String,
    },
    /// A version this build does not know (newer, or dropped).
    #[error("record version {0} is not readable by this build")]
    UnknownVersion(u16),
    /// The bytes are not a record.
    #[error("malformed record: {0}")]
    Malformed(String),
}

impl From<RecordError> for StoreError {
    fn from(e: RecordError) -> StoreError {
        StoreError::Corrupt(e.to_string())
    }
}

/// A type stored as a versioned record. See the [module docs](self).
pub trait Versioned: Serialize + DeserializeOwned {
    /// What the record is (`"aor"`, `"subscriber"`...): at most 255 bytes.
    const KIND: &'static str;
    /// The version this build writes.
    const VERSION: u16;

    /// Reads a record of an older `version` (0: bytes without the version
    /// header, from before versioning), given its JSON payload. The default
    /// knows no older version.
    fn upgrade(version: u16, json: &[u8]) -> Result<Self, RecordError> {
        let _ = json;
        Err(RecordError::UnknownVersion(version))
    }
}

/// Parses a JSON payload (for [`Versioned::upgrade`] implementations).
pub fn json<T: DeserializeOwned>(payload: &[u8]) -> Result<T, RecordError> {
    serde_json::from_slice(payload).map_err(|e| RecordError::Malformed(e.to_string()))
}

/// Encodes `value` at its current version.
pub fn encode<T: Versioned>(value: &T) -> Result<Bytes, RecordError> {
    let kind = T::KIND.as_bytes();
    let len = u8::try_from(kind.len())
        .map_err(|_| RecordError::Malformed("kind over 255 bytes".into()))?;
    let mut out = BytesMut::with_capacity(6 + kind.len() + 64);
    out.put_slice(MAGIC);
    out.put_u8(FORMAT);
    out.put_u8(len);
    out.put_slice(kind);
    out.put_u16(T::VERSION);
    let mut w = out.writer();
    serde_json::to_writer(&mut w, value).map_err(|e| RecordError::Malformed(e.to_string()))?;
    Ok(w.into_inner().freeze())
}

/// The kind, version and payload of an encoded record (version 0 and the
/// whole input for unversioned bytes).
pub fn header(bytes: &[u8]) -> Result<(Option<&str>, u16, &[u8]), RecordError> {
    let Some(rest) = bytes.strip_prefix(MAGIC) else {
        return Ok((None, 0, bytes));
    };
    let malformed = || RecordError::Malformed("truncated header".into());
    let (&format, rest) = rest.split_first().ok_or_else(malformed)?;
    if format != FORMAT {
        return Err(RecordError::Malformed(format!("unknown format {format}")));
    }
    let (&len, rest) = rest.split_first().ok_or_else(malformed)?;
    let len = usize::from(len);
    if rest.len() < len + 2 {
        return Err(malformed());
    }
    let kind = std::str::from_utf8(&rest[..len])
        .map_err(|_| RecordError::Malformed("kind is not UTF-8".into()))?;
    let version = u16::from_be_bytes([rest[len], rest[len + 1]]);
    Ok((Some(kind), version, &rest[len + 2..]))
}

/// Decodes a record of type `T`, upgrading older versions.
pub fn decode<T: Versioned>(bytes: &[u8]) -> Result<T, RecordError> {
    let (kind, version, payload) = header(bytes)?;
    if let Some(k) = kind
        && k != T::KIND
    {
        return Err(RecordError::WrongKind {
            expected: T::KIND,
            found: k.to_owned(),
        });
    }
    if kind.is_some() && version == T::VERSION {
        json(payload)
    } else if version > T::VERSION {
        Err(RecordError::UnknownVersion(version))
    } else {
        T::upgrade(version, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// Version 3 of a registration binding.
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Binding {
        uri: String,
        expires: u64,
        #[serde(default)]
        instance: Option<String>,
        paths: Vec<String>,
    }

    impl Versioned for Binding {
        const KIND: &'static str = "binding";
        const VERSION: u16 = 3;
        fn upgrade(version: u16, payload: &[u8]) -> Result<Self, RecordError> {
            #[derive(Deserialize)]
            struct V0 {
                contact: String,
                expiry: u64,
            }
            #[derive(Deserialize)]
            struct V2 {
                uri: String,
                expires: u64,
                path: Option<String>,
            }
            match version {
                0 => {
                    let v: V0 = json(payload)?;
                    Ok(Binding {
                        uri: v.contact,
                        expires: v.expiry,
                        instance: None,
                        paths: vec![],
                    })
                }
                2 => {
                    let v: V2 = json(payload)?;
                    Ok(Binding {
                        uri: v.uri,
                        expires: v.expires,
                        instance: None,
                        paths: v.path.into_iter().collect(),
                    })
                }
                v => Err(RecordError::UnknownVersion(v)),
            }
        }
    }

    #[test]
    fn round_trip_at_the_current_version() {
        let b = Binding {
            uri: "sip:alice@[2001:db8::1]:5060".into(),
            expires: 3600,
            instance: Some("<urn:uuid:1>".into()),
            paths: vec!["<sip:p1;lr>".into()],
        };
        let bytes = encode(&b).unwrap();
        assert!(bytes.starts_with(b"cw\x01\x07binding\x00\x03{"));
        assert_eq!(decode::<Binding>(&bytes).unwrap(), b);
    }

    #[test]
    fn old_records_still_decode() {
        // Bytes exactly as earlier releases wrote them.
        let v2 = b"cw\x01\x07binding\x00\x02{\"uri\":\"sip:a@b\",\"expires\":60,\"path\":\"<sip:p;lr>\"}";
        assert_eq!(
            decode::<Binding>(v2).unwrap(),
            Binding {
                uri: "sip:a@b".into(),
                expires: 60,
                instance: None,
                paths: vec!["<sip:p;lr>".into()]
            }
        );
        let unversioned = b"{\"contact\":\"sip:c@d\",\"expiry\":30}";
        assert_eq!(decode::<Binding>(unversioned).unwrap().uri, "sip:c@d");
        // A field added later with a default reads from a record without it.
        let v3_without_instance =
            b"cw\x01\x07binding\x00\x03{\"uri\":\"sip:e@f\",\"expires\":1,\"paths\":[]}";
        assert_eq!(
            decode::<Binding>(v3_without_instance).unwrap().instance,
            None
        );
    }

    #[test]
    fn bad_records_are_errors() {
        let newer = b"cw\x01\x07binding\x00\x09{}";
        assert_eq!(
            decode::<Binding>(newer),
            Err(RecordError::UnknownVersion(9))
        );
        let other = b"cw\x01\x03aor\x00\x01{}";
        assert!(matches!(
            decode::<Binding>(other),
            Err(RecordError::WrongKind { .. })
        ));
        for bad in [
            &b"cw"[..],
            b"cw\x01",
            b"cw\x01\x07bind",
            b"cw\x02\x00\x00\x00",
            b"cw\x01\x07binding\x00\x03{",
        ] {
            assert!(decode::<Binding>(bad).is_err(), "{bad:?}");
        }
        let e: StoreError = RecordError::UnknownVersion(9).into();
        assert!(matches!(e, StoreError::Corrupt(_)));
    }
}
