//! MAR/MAA (TS 29.229 §6.1.7, §6.1.8): authentication vectors.

use bytes::Bytes;

use super::{
    CxResult, CxRouting, Origin, answer_end, answer_start, child, child_octets, child_text,
    opt_text, read_answer, required_child, scheme, text,
};
use crate::Result;
use crate::avp::{Avp, code};
use crate::codes::CommandCode;
use crate::message::Message;

/// MAR: the S-CSCF asks for authentication vectors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultimediaAuthRequest {
    /// Routing AVPs.
    pub routing: CxRouting,
    /// User-Name: the private identity.
    pub user_name: String,
    /// Public-Identity.
    pub public_identity: String,
    /// Server-Name: the S-CSCF's SIP URI.
    pub server_name: String,
    /// SIP-Number-Auth-Items.
    pub number_auth_items: u32,
    /// SIP-Authentication-Scheme in SIP-Auth-Data-Item (see [`scheme`]).
    pub scheme: String,
    /// SIP-Authorization (AKA resynchronisation: RAND ‖ AUTS).
    pub authorization: Option<Bytes>,
}

impl MultimediaAuthRequest {
    /// The message (identifiers zero: the peer layer allocates them).
    pub fn to_message(&self) -> Message {
        let mut item = vec![Avp::utf8(code::SIP_AUTHENTICATION_SCHEME, &self.scheme)];
        if let Some(a) = &self.authorization {
            item.push(Avp::new(code::SIP_AUTHORIZATION, a.clone()));
        }
        self.routing
            .start(CommandCode::MULTIMEDIA_AUTH)
            .with(Avp::utf8(code::USER_NAME, &self.user_name))
            .with(Avp::utf8(code::PUBLIC_IDENTITY, &self.public_identity))
            .with(Avp::grouped(code::SIP_AUTH_DATA_ITEM, item))
            .with(Avp::u32(
                code::SIP_NUMBER_AUTH_ITEMS,
                self.number_auth_items,
            ))
            .with(Avp::utf8(code::SERVER_NAME, &self.server_name))
    }

    /// Reads a MAR (validated first).
    pub fn from_message(m: &Message) -> Result<MultimediaAuthRequest> {
        let routing = CxRouting::read(m, CommandCode::MULTIMEDIA_AUTH)?;
        let item = m.required(code::SIP_AUTH_DATA_ITEM)?;
        let scheme = match item.child(code::SIP_AUTHENTICATION_SCHEME)? {
            Some(s) => s.as_str()?.to_owned(),
            None => scheme::UNKNOWN.to_owned(),
        };
        Ok(MultimediaAuthRequest {
            routing,
            user_name: m.required(code::USER_NAME)?.as_str()?.to_owned(),
            public_identity: m.required(code::PUBLIC_IDENTITY)?.as_str()?.to_owned(),
            server_name: m.required(code::SERVER_NAME)?.as_str()?.to_owned(),
            number_auth_items: m.required(code::SIP_NUMBER_AUTH_ITEMS)?.as_u32()?,
            scheme,
            authorization: item.child(code::SIP_AUTHORIZATION)?.map(|a| a.data),
        })
    }
}

/// SIP-Digest-Authenticate (TS 29.229 §6.3.36): a digest vector, with the
/// RFC 5090 AVPs Digest-Realm, Digest-Algorithm, Digest-QoP, Digest-HA1.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SipDigestAuthenticate {
    /// Digest-Realm.
    pub realm: String,
    /// Digest-QoP (`auth`, `auth-int`, or empty).
    pub qop: String,
    /// Digest-HA1: `MD5(username ":" realm ":" password)` in lowercase hex.
    pub ha1: String,
    /// Digest-Algorithm (absent: MD5).
    pub algorithm: Option<String>,
}

impl SipDigestAuthenticate {
    /// The Grouped AVP.
    pub fn to_avp(&self) -> Avp {
        let mut kids = vec![Avp::utf8(code::DIGEST_REALM, &self.realm)];
        if let Some(a) = &self.algorithm {
            kids.push(Avp::utf8(code::DIGEST_ALGORITHM, a));
        }
        kids.push(Avp::utf8(code::DIGEST_QOP, &self.qop));
        kids.push(Avp::utf8(code::DIGEST_HA1, &self.ha1));
        Avp::grouped(code::SIP_DIGEST_AUTHENTICATE, kids)
    }

    /// Reads the Grouped AVP (5005 for a missing realm, QoP or HA1).
    pub fn from_avp(a: &Avp) -> Result<SipDigestAuthenticate> {
        let kids = a.children()?;
        Ok(SipDigestAuthenticate {
            realm: text(&required_child(a, &kids, code::DIGEST_REALM)?)?,
            qop: text(&required_child(a, &kids, code::DIGEST_QOP)?)?,
            ha1: text(&required_child(a, &kids, code::DIGEST_HA1)?)?,
            algorithm: child_text(&kids, code::DIGEST_ALGORITHM)?,
        })
    }
}

/// SIP-Auth-Data-Item (TS 29.229 §6.3.13) as an HSS returns it in MAA (or
/// pushes it in PPR).
///
/// For AKA (TS 29.229 §6.3.9–6.3.10): SIP-Authenticate is RAND ‖ AUTN,
/// SIP-Authorization is XRES, Confidentiality-Key is CK and Integrity-Key
/// is IK. For SIP digest: SIP-Digest-Authenticate.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SipAuthDataItem {
    /// SIP-Item-Number: the item's order among several.
    pub item_number: Option<u32>,
    /// SIP-Authentication-Scheme (see [`scheme`]).
    pub scheme: Option<String>,
    /// SIP-Authenticate.
    pub authenticate: Option<Bytes>,
    /// SIP-Authorization.
    pub authorization: Option<Bytes>,
    /// Confidentiality-Key.
    pub confidentiality_key: Option<Bytes>,
    /// Integrity-Key.
    pub integrity_key: Option<Bytes>,
    /// SIP-Digest-Authenticate.
    pub digest: Option<SipDigestAuthenticate>,
}

impl SipAuthDataItem {
    /// A SIP digest item (scheme [`scheme::DIGEST`]).
    pub fn digest(digest: SipDigestAuthenticate) -> SipAuthDataItem {
        SipAuthDataItem {
            item_number: Some(1),
            scheme: Some(scheme::DIGEST.to_owned()),
            digest: Some(digest),
            ..SipAuthDataItem::default()
        }
    }

    /// An AKA item (scheme [`scheme::AKA`]): SIP-Authenticate RAND ‖ AUTN,
    /// SIP-Authorization XRES, CK, IK.
    pub fn aka(
        rand: [u8; 16],
        autn: [u8; 16],
        xres: &[u8],
        ck: [u8; 16],
        ik: [u8; 16],
    ) -> SipAuthDataItem {
        let mut ra = Vec::with_capacity(32);
        ra.extend_from_slice(&rand);
        ra.extend_from_slice(&autn);
        SipAuthDataItem {
            item_number: Some(1),
            scheme: Some(scheme::AKA.to_owned()),
            authenticate: Some(Bytes::from(ra)),
            authorization: Some(Bytes::copy_from_slice(xres)),
            confidentiality_key: Some(Bytes::copy_from_slice(&ck)),
            integrity_key: Some(Bytes::copy_from_slice(&ik)),
            digest: None,
        }
    }

    /// RAND and AUTN, when SIP-Authenticate holds exactly 32 octets.
    pub fn rand_autn(&self) -> Option<([u8; 16], [u8; 16])> {
        let a = self.authenticate.as_ref()?;
        if a.len() != 32 {
            return None;
        }
        let mut rand = [0; 16];
        let mut autn = [0; 16];
        rand.copy_from_slice(&a[..16]);
        autn.copy_from_slice(&a[16..]);
        Some((rand, autn))
    }

    /// The Grouped AVP.
    pub fn to_avp(&self) -> Avp {
        let mut kids = Vec::with_capacity(7);
        if let Some(n) = self.item_number {
            kids.push(Avp::u32(code::SIP_ITEM_NUMBER, n));
        }
        if let Some(s) = &self.scheme {
            kids.push(Avp::utf8(code::SIP_AUTHENTICATION_SCHEME, s));
        }
        for (c, v) in [
            (code::SIP_AUTHENTICATE, &self.authenticate),
            (code::SIP_AUTHORIZATION, &self.authorization),
            (code::CONFIDENTIALITY_KEY, &self.confidentiality_key),
            (code::INTEGRITY_KEY, &self.integrity_key),
        ] {
            if let Some(v) = v {
                kids.push(Avp::new(c, v.clone()));
            }
        }
        if let Some(d) = &self.digest {
            kids.push(d.to_avp());
        }
        Avp::grouped(code::SIP_AUTH_DATA_ITEM, kids)
    }

    /// Reads the Grouped AVP.
    pub fn from_avp(a: &Avp) -> Result<SipAuthDataItem> {
        let kids = a.children()?;
        Ok(SipAuthDataItem {
            item_number: child(&kids, code::SIP_ITEM_NUMBER)
                .map(Avp::as_u32)
                .transpose()?,
            scheme: child_text(&kids, code::SIP_AUTHENTICATION_SCHEME)?,
            authenticate: child_octets(&kids, code::SIP_AUTHENTICATE)?,
            authorization: child_octets(&kids, code::SIP_AUTHORIZATION)?,
            confidentiality_key: child_octets(&kids, code::CONFIDENTIALITY_KEY)?,
            integrity_key: child_octets(&kids, code::INTEGRITY_KEY)?,
            digest: child(&kids, code::SIP_DIGEST_AUTHENTICATE)
                .map(SipDigestAuthenticate::from_avp)
                .transpose()?,
        })
    }
}

/// MAA: the HSS's authentication vectors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultimediaAuthAnswer {
    /// The answering node.
    pub origin: Origin,
    /// Result-Code or Experimental-Result.
    pub result: CxResult,
    /// User-Name.
    pub user_name: Option<String>,
    /// Public-Identity.
    pub public_identity: Option<String>,
    /// SIP-Number-Auth-Items: how many items follow.
    pub number_auth_items: Option<u32>,
    /// SIP-Auth-Data-Item, 0..n.
    pub items: Vec<SipAuthDataItem>,
}

impl MultimediaAuthAnswer {
    /// An answer with only a result (a failure, typically).
    pub fn new(origin: Origin, result: CxResult) -> MultimediaAuthAnswer {
        MultimediaAuthAnswer {
            origin,
            result,
            user_name: None,
            public_identity: None,
            number_auth_items: None,
            items: Vec::new(),
        }
    }

    /// The answer to `request` (a MAR).
    pub fn to_message(&self, request: &Message) -> Message {
        let mut a = answer_start(request, &self.origin, self.result);
        if let Some(u) = &self.user_name {
            a.push(Avp::utf8(code::USER_NAME, u));
        }
        if let Some(p) = &self.public_identity {
            a.push(Avp::utf8(code::PUBLIC_IDENTITY, p));
        }
        if let Some(n) = self.number_auth_items {
            a.push(Avp::u32(code::SIP_NUMBER_AUTH_ITEMS, n));
        }
        for i in &self.items {
            a.push(i.to_avp());
        }
        answer_end(request, a)
    }

    /// Reads an MAA (validated first).
    pub fn from_message(m: &Message) -> Result<MultimediaAuthAnswer> {
        let (origin, result) = read_answer(m, CommandCode::MULTIMEDIA_AUTH)?;
        Ok(MultimediaAuthAnswer {
            origin,
            result,
            user_name: opt_text(m, code::USER_NAME)?,
            public_identity: opt_text(m, code::PUBLIC_IDENTITY)?,
            number_auth_items: m
                .avp(code::SIP_NUMBER_AUTH_ITEMS)
                .map(Avp::as_u32)
                .transpose()?,
            items: m
                .avps_with(code::SIP_AUTH_DATA_ITEM)
                .map(SipAuthDataItem::from_avp)
                .collect::<Result<_>>()?,
        })
    }
}
