//! What the Homestead server and its client ([`HttpHss`](crate::HttpHss))
//! share: the JSON bodies, percent-encoding and query strings.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::milenage::{AkaVector, encode_hex, parse_hex};
use crate::{AuthVector, Capabilities, DigestVector, HssError, SelectionResult, ServerSelection};

/// The Experimental-Result-Code Homestead reports, with a 200, when LIR
/// finds the identity not registered (DIAMETER_ERROR_IDENTITY_NOT_REGISTERED).
pub(crate) const IDENTITY_NOT_REGISTERED: u32 = 5003;

// ---------------------------------------------------------------------------
// Percent-encoding

/// Percent-encodes everything but the RFC 3986 unreserved characters, so
/// that an identity is one path segment or one query value whatever it
/// holds (`:`, `@`, `;`, `+`, `/`, `?`, `&`, `=`, `%`, spaces...).
pub(crate) fn encode_component(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() + s.len() / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

/// Decodes `%XX` escapes; `+` stays `+` (identities such as `tel:+1...`
/// are common, spaces never are). A `%` not followed by two hex digits, or
/// a result that is not UTF-8, is an error with the reason.
pub(crate) fn decode_component(s: &str) -> Result<String, String> {
    if !s.contains('%') {
        return Ok(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |j: usize| bytes.get(j).and_then(|b| char::from(*b).to_digit(16));
            match (hex(i + 1), hex(i + 2)) {
                (Some(hi), Some(lo)) => {
                    // Two hex digits: below 256.
                    out.push(u8::try_from(hi * 16 + lo).unwrap_or(0));
                    i += 3;
                }
                _ => return Err(format!("bad percent-escape at offset {i} in {s:?}")),
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{s:?} does not decode to UTF-8"))
}

// ---------------------------------------------------------------------------
// Query strings

/// A decoded query string. Parameters this API does not know are ignored
/// (as Clearwater does); the known ones are read with [`Query::get`], which
/// refuses one given twice.
#[derive(Debug, Default)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses `a=1&b=2` (`None`: no query). A parameter without `=` has an
    /// empty value.
    pub(crate) fn parse(raw: Option<&str>) -> Result<Query, String> {
        let mut pairs = Vec::new();
        for part in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            pairs.push((decode_component(name)?, decode_component(value)?));
        }
        Ok(Query { pairs })
    }

    /// The value of `name`, if given once; an error if given more than once.
    pub(crate) fn get(&self, name: &str) -> Result<Option<&str>, String> {
        let mut found = None;
        for (n, v) in &self.pairs {
            if n == name {
                if found.is_some() {
                    return Err(format!("parameter {name} is given more than once"));
                }
                found = Some(v.as_str());
            }
        }
        Ok(found)
    }

    /// The value of `name`, which must be present and not empty.
    pub(crate) fn required(&self, name: &str) -> Result<&str, String> {
        match self.get(name)? {
            Some(v) if !v.is_empty() => Ok(v),
            Some(_) => Err(format!("parameter {name} is empty")),
            None => Err(format!("missing parameter {name}")),
        }
    }
}

/// Builds `?a=1&b=2` from the pairs whose value is present, values
/// percent-encoded.
pub(crate) fn query_string(pairs: &[(&str, Option<&str>)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if let Some(value) = value {
            out.push(if out.is_empty() { '?' } else { '&' });
            out.push_str(name);
            out.push('=');
            out.push_str(&encode_component(value));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Authentication vectors

#[derive(Debug, Serialize, Deserialize)]
struct DigestBody {
    ha1: String,
    realm: String,
    #[serde(default)]
    qop: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct AkaBody {
    challenge: String,
    response: String,
    cryptkey: String,
    integritykey: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<u32>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct AvBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    digest: Option<DigestBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aka: Option<AkaBody>,
}

/// The answer body of `GET /impi/<impi>/av`: `{"digest": {"ha1", "realm",
/// "qop"}}` (an empty qop is sent as `auth`, as Clearwater does) or
/// `{"aka": {"challenge": base64(RAND ‖ AUTN), "response": hex(XRES),
/// "cryptkey": hex(CK), "integritykey": hex(IK), "version": 1}}`.
pub(crate) fn av_body(vector: &AuthVector) -> String {
    let body = match vector {
        AuthVector::Digest(d) => AvBody {
            digest: Some(DigestBody {
                ha1: d.ha1.clone(),
                realm: d.realm.clone(),
                qop: if d.qop.is_empty() {
                    "auth".to_owned()
                } else {
                    d.qop.clone()
                },
            }),
            aka: None,
        },
        AuthVector::Aka(v) => AvBody {
            digest: None,
            aka: Some(AkaBody {
                challenge: BASE64.encode(v.sip_authenticate()),
                response: encode_hex(&v.xres),
                cryptkey: encode_hex(&v.ck),
                integritykey: encode_hex(&v.ik),
                version: Some(1),
            }),
        },
    };
    serde_json::to_string(&body).unwrap_or_default()
}

/// The legacy `GET /impi/<impi>/digest` answer: `{"digest_ha1": "..."}`.
pub(crate) fn digest_ha1_body(ha1: &str) -> String {
    serde_json::json!({ "digest_ha1": ha1 }).to_string()
}

/// Reads an [`av_body`].
pub(crate) fn parse_av_body(body: &[u8]) -> Result<AuthVector, String> {
    let body: AvBody =
        serde_json::from_slice(body).map_err(|e| format!("malformed av answer: {e}"))?;
    match (body.digest, body.aka) {
        (Some(d), None) => Ok(AuthVector::Digest(DigestVector {
            ha1: d.ha1,
            realm: d.realm,
            qop: d.qop,
        })),
        (None, Some(a)) => {
            if a.version.is_some_and(|v| v != 1) {
                return Err(format!(
                    "AKA version {} is not supported",
                    a.version.unwrap_or_default()
                ));
            }
            let challenge = BASE64
                .decode(a.challenge.as_bytes())
                .map_err(|e| format!("aka challenge is not base64: {e}"))?;
            let challenge = <[u8; 32]>::try_from(challenge.as_slice()).map_err(|_| {
                format!(
                    "aka challenge is {} octets, expected 32 (RAND ‖ AUTN)",
                    challenge.len()
                )
            })?;
            Ok(AuthVector::Aka(AkaVector {
                rand: std::array::from_fn(|i| challenge[i]),
                autn: std::array::from_fn(|i| challenge[16 + i]),
                xres: hex_field("response", &a.response)?,
                ck: hex_field("cryptkey", &a.cryptkey)?,
                ik: hex_field("integritykey", &a.integritykey)?,
            }))
        }
        _ => Err("av answer holds neither or both of digest and aka".to_owned()),
    }
}

/// `N` octets from the hex field `name` of an AKA answer.
fn hex_field<const N: usize>(name: &str, value: &str) -> Result<[u8; N], String> {
    parse_hex(value).map_err(|e| match e {
        HssError::Invalid(reason) => format!("aka {name}: {reason}"),
        other => format!("aka {name}: {other}"),
    })
}

/// Decodes the `resync-auth` parameter: base64 of `RAND (16) ‖ AUTS (14)`.
pub(crate) fn parse_resync(value: &str) -> Result<crate::Resync, String> {
    let bytes = BASE64
        .decode(value.as_bytes())
        .map_err(|e| format!("resync-auth is not base64: {e}"))?;
    if bytes.len() != 30 {
        return Err(format!(
            "resync-auth must be base64 of RAND (16) ‖ AUTS (14), 30 octets; got {}",
            bytes.len()
        ));
    }
    Ok(crate::Resync {
        rand: std::array::from_fn(|i| bytes[i]),
        auts: std::array::from_fn(|i| bytes[16 + i]),
    })
}

/// Encodes a [`Resync`](crate::Resync) as the `resync-auth` parameter.
pub(crate) fn resync_param(resync: &crate::Resync) -> String {
    let mut bytes = [0u8; 30];
    bytes[..16].copy_from_slice(&resync.rand);
    bytes[16..].copy_from_slice(&resync.auts);
    BASE64.encode(bytes)
}

// ---------------------------------------------------------------------------
// Server selection (UAR / LIR)

#[derive(Debug, Serialize, Deserialize)]
struct SelectionBody {
    #[serde(rename = "result-code")]
    result_code: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scscf: Option<String>,
    #[serde(
        rename = "mandatory-capabilities",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    mandatory: Option<Vec<u32>>,
    #[serde(
        rename = "optional-capabilities",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    optional: Option<Vec<u32>>,
}

/// The answer body of `registration-status` and `location`:
/// `{"result-code": N, "scscf": "..."}` when a server is named, with
/// `"mandatory-capabilities"` and `"optional-capabilities"` when
/// capabilities are present or no server is named (empty lists then, as
/// Clearwater does). Without an assigned server, the first server name the
/// capabilities suggest is sent as `scscf` (Clearwater's Server-Name inside
/// Server-Capabilities).
pub(crate) fn selection_body(selection: &ServerSelection) -> String {
    let caps = selection.capabilities.as_ref();
    let scscf = selection
        .server_name
        .clone()
        .or_else(|| caps.and_then(|c| c.server_names.first().cloned()));
    let with_caps = caps.is_some() || selection.server_name.is_none();
    let body = SelectionBody {
        result_code: selection.result.code(),
        scscf,
        mandatory: with_caps.then(|| caps.map(|c| c.mandatory.clone()).unwrap_or_default()),
        optional: with_caps.then(|| caps.map(|c| c.optional.clone()).unwrap_or_default()),
    };
    serde_json::to_string(&body).unwrap_or_default()
}

/// The `location` answer for an identity that is not registered:
/// `{"result-code": 5003, "mandatory-capabilities": [], "optional-capabilities": []}`.
pub(crate) fn not_registered_body() -> String {
    let body = SelectionBody {
        result_code: IDENTITY_NOT_REGISTERED,
        scscf: None,
        mandatory: Some(Vec::new()),
        optional: Some(Vec::new()),
    };
    serde_json::to_string(&body).unwrap_or_default()
}

/// Reads a [`selection_body`]. `location` says which request it answers:
/// 2001 is then [`SelectionResult::Success`] (else
/// [`SelectionResult::FirstRegistration`]), and 5003 is
/// [`HssError::NotRegistered`] for `impu`.
pub(crate) fn parse_selection_body(
    body: &[u8],
    location: bool,
    impu: &str,
) -> Result<ServerSelection, HssError> {
    let body: SelectionBody = serde_json::from_slice(body)
        .map_err(|e| HssError::Unavailable(format!("malformed server selection answer: {e}")))?;
    let result = match body.result_code {
        2001 if location => SelectionResult::Success,
        2001 => SelectionResult::FirstRegistration,
        2002 => SelectionResult::SubsequentRegistration,
        2003 => SelectionResult::UnregisteredService,
        IDENTITY_NOT_REGISTERED if location => {
            return Err(HssError::NotRegistered(impu.to_owned()));
        }
        code => {
            return Err(HssError::Unavailable(format!(
                "server selection answer with unexpected result-code {code}"
            )));
        }
    };
    let capabilities =
        (body.mandatory.is_some() || body.optional.is_some()).then(|| Capabilities {
            mandatory: body.mandatory.unwrap_or_default(),
            optional: body.optional.unwrap_or_default(),
            server_names: Vec::new(),
        });
    Ok(ServerSelection {
        result,
        server_name: body.scscf,
        capabilities,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_round_trip() {
        for s in [
            "sip:alice@example.com",
            "tel:+15551234",
            "a b/c?d&e=f%g",
            "ünï",
        ] {
            let e = encode_component(s);
            assert!(
                e.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b))
            );
            assert_eq!(decode_component(&e).unwrap(), s);
        }
        assert_eq!(decode_component("tel:+1").unwrap(), "tel:+1");
        assert!(decode_component("%zz").is_err());
        assert!(decode_component("%4").is_err());
        assert!(decode_component("%ff").is_err());
    }

    #[test]
    fn queries_are_strict_about_known_parameters() {
        let q = Query::parse(Some("impu=sip%3Aa%40b&x&impu2=&impu2=1")).unwrap();
        assert_eq!(q.get("impu").unwrap(), Some("sip:a@b"));
        assert_eq!(q.get("x").unwrap(), Some(""));
        assert!(q.get("impu2").is_err());
        assert_eq!(
            q.required("missing").unwrap_err(),
            "missing parameter missing"
        );
        assert_eq!(q.required("x").unwrap_err(), "parameter x is empty");
        assert_eq!(
            query_string(&[("a", Some("tel:+1")), ("b", None), ("c", Some(""))]),
            "?a=tel%3A%2B1&c="
        );
    }
}
