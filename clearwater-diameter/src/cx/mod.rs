//! Typed Cx/Dx commands (TS 29.229 §6.1, procedures in TS 29.228 §6) built
//! on [`Message`]. Each request converts to a [`Message`] and back; each
//! answer is built from the request it answers and read back. Reading
//! either checks the grammar ([`Message::validate`]) first, so a request
//! that fails is refused with the [`DiameterError`] whose Result-Code
//! [`Message::error_answer`] puts in the answer.
//!
//! | command | code | from → to | request | answer |
//! |---|---|---|---|---|
//! | User-Authorization | 300 | I-CSCF → HSS | [`UserAuthorizationRequest`] | [`UserAuthorizationAnswer`] |
//! | Server-Assignment | 301 | S-CSCF → HSS | [`ServerAssignmentRequest`] | [`ServerAssignmentAnswer`] |
//! | Location-Info | 302 | I-CSCF → HSS | [`LocationInfoRequest`] | [`LocationInfoAnswer`] |
//! | Multimedia-Auth | 303 | S-CSCF → HSS | [`MultimediaAuthRequest`] | [`MultimediaAuthAnswer`] |
//! | Registration-Termination | 304 | HSS → S-CSCF | [`RegistrationTerminationRequest`] | [`RegistrationTerminationAnswer`] |
//! | Push-Profile | 305 | HSS → S-CSCF | [`PushProfileRequest`] | [`PushProfileAnswer`] |
//!
//! Every answer carries a [`CxResult`] (Result-Code or a vendor's
//! Experimental-Result) and the answering node's [`Origin`]; `to_message`
//! takes the request and copies its identifiers, P bit, Session-Id and
//! Proxy-Info, and adds Vendor-Specific-Application-Id, Auth-Session-State
//! and the Origin AVPs. An answer with a protocol error (3xxx) gets the E
//! bit. Error answers (E bit, no application AVPs) read back with their
//! result and empty fields.
//!
//! All Cx AVPs are vendor 10415 with the V bit (and M per TS 29.229
//! table 6.3.1, from [`crate::avp::code`]'s dictionary); the digest AVPs
//! in SIP-Digest-Authenticate are the IETF ones of RFC 5090.

use bytes::Bytes;

use crate::avp::{Avp, AvpCode, code};
use crate::codes::{ApplicationId, CommandCode, vendor};
use crate::message::Message;
use crate::{DiameterError, Result, ResultCode};

mod assignment;
mod auth;
mod push;
mod result;
mod selection;

pub use assignment::{
    ChargingInformation, ServerAssignmentAnswer, ServerAssignmentRequest, ServerAssignmentType,
};
pub use auth::{
    MultimediaAuthAnswer, MultimediaAuthRequest, SipAuthDataItem, SipDigestAuthenticate,
};
pub use push::{
    DeregistrationReason, PushProfileAnswer, PushProfileRequest, ReasonCode,
    RegistrationTerminationAnswer, RegistrationTerminationRequest,
};
pub use result::CxResult;
pub use selection::{
    LocationInfoAnswer, LocationInfoRequest, ServerCapabilities, UserAuthorizationAnswer,
    UserAuthorizationRequest, UserAuthorizationType,
};

/// Auth-Session-State NO_STATE_MAINTAINED, as every Cx message carries.
pub const NO_STATE_MAINTAINED: u32 = 1;

/// Vendor-Specific-Application-Id for Cx: Vendor-Id 10415 and
/// Auth-Application-Id 16777216.
pub fn cx_application() -> Avp {
    Avp::grouped(
        code::VENDOR_SPECIFIC_APPLICATION_ID,
        [
            Avp::u32(code::VENDOR_ID, vendor::TGPP),
            Avp::u32(code::AUTH_APPLICATION_ID, ApplicationId::CX.0),
        ],
    )
}

/// SIP-Authentication-Scheme values.
pub mod scheme {
    /// IMS AKA.
    pub const AKA: &str = "Digest-AKAv1-MD5";
    /// SIP digest.
    pub const DIGEST: &str = "SIP Digest";
    /// Let the HSS choose.
    pub const UNKNOWN: &str = "Unknown";
}

/// The routing AVPs every Cx request carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CxRouting {
    /// Session-Id.
    pub session_id: String,
    /// Origin-Host (this node).
    pub origin_host: String,
    /// Origin-Realm.
    pub origin_realm: String,
    /// Destination-Realm (the HSS's).
    pub destination_realm: String,
    /// Destination-Host, when a particular HSS is wanted (required in RTR
    /// and PPR, where it names the S-CSCF).
    pub destination_host: Option<String>,
}

impl CxRouting {
    fn start(&self, cmd: CommandCode) -> Message {
        let mut m = Message::request(cmd, ApplicationId::CX)
            .proxiable()
            .with(Avp::utf8(code::SESSION_ID, &self.session_id))
            .with(cx_application())
            .with(Avp::u32(code::AUTH_SESSION_STATE, NO_STATE_MAINTAINED))
            .with(Avp::utf8(code::ORIGIN_HOST, &self.origin_host))
            .with(Avp::utf8(code::ORIGIN_REALM, &self.origin_realm));
        if let Some(h) = &self.destination_host {
            m.push(Avp::utf8(code::DESTINATION_HOST, h));
        }
        m.push(Avp::utf8(code::DESTINATION_REALM, &self.destination_realm));
        m
    }

    fn read(m: &Message, cmd: CommandCode) -> Result<CxRouting> {
        if m.code != cmd || !m.is_request() {
            return Err(DiameterError::new(
                ResultCode::COMMAND_UNSUPPORTED,
                format!("expected a {cmd} request, got {}", m.code),
            ));
        }
        m.validate()?;
        Ok(CxRouting {
            session_id: m.required(code::SESSION_ID)?.as_str()?.to_owned(),
            origin_host: m.origin_host()?.to_owned(),
            origin_realm: m.origin_realm()?.to_owned(),
            destination_realm: m
                .required(code::DESTINATION_REALM)?
                .as_identity()?
                .to_owned(),
            destination_host: m
                .avp(code::DESTINATION_HOST)
                .map(|a| a.as_identity().map(str::to_owned))
                .transpose()?,
        })
    }

    /// The routing for a request to the node that sent `request`, from
    /// `origin` (e.g. an HSS sending RTR/PPR to the S-CSCF of an earlier
    /// SAR): Destination-Host/-Realm are the request's Origin-Host/-Realm.
    pub fn reply_to(request: &Message, origin: &Origin, session_id: &str) -> Result<CxRouting> {
        Ok(CxRouting {
            session_id: session_id.to_owned(),
            origin_host: origin.host.clone(),
            origin_realm: origin.realm.clone(),
            destination_realm: request.origin_realm()?.to_owned(),
            destination_host: Some(request.origin_host()?.to_owned()),
        })
    }
}

/// The answering node: Origin-Host and Origin-Realm of an answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    /// Origin-Host.
    pub host: String,
    /// Origin-Realm.
    pub realm: String,
}

impl Origin {
    /// An origin.
    pub fn new(host: impl Into<String>, realm: impl Into<String>) -> Origin {
        Origin {
            host: host.into(),
            realm: realm.into(),
        }
    }
}

/// The start of an answer to `request`: identifiers, P bit (E for a
/// protocol error), Session-Id, Vendor-Specific-Application-Id, the result,
/// Auth-Session-State and Origin-Host/-Realm, in the order of TS 29.229
/// §6.1.
fn answer_start(request: &Message, origin: &Origin, result: CxResult) -> Message {
    let mut a = request.answer();
    if let Some(sid) = request.avp(code::SESSION_ID) {
        a.push(sid.clone());
    }
    a.push(cx_application());
    result.write(&mut a);
    a.push(Avp::u32(code::AUTH_SESSION_STATE, NO_STATE_MAINTAINED));
    a.push(Avp::utf8(code::ORIGIN_HOST, &origin.host));
    a.push(Avp::utf8(code::ORIGIN_REALM, &origin.realm));
    a
}

/// Ends an answer: the request's Proxy-Info AVPs, in order (RFC 6733
/// §6.2).
fn answer_end(request: &Message, mut a: Message) -> Message {
    a.avps.extend(request.avps_with(code::PROXY_INFO).cloned());
    a
}

/// Reads the common part of a `cmd` answer (validated first).
fn read_answer(m: &Message, cmd: CommandCode) -> Result<(Origin, CxResult)> {
    if m.code != cmd || m.is_request() {
        return Err(DiameterError::new(
            ResultCode::COMMAND_UNSUPPORTED,
            format!("expected a {cmd} answer, got {} ({})", m.code, kind(m)),
        ));
    }
    m.validate()?;
    let origin = Origin {
        host: m.origin_host()?.to_owned(),
        realm: m.origin_realm()?.to_owned(),
    };
    Ok((origin, CxResult::from_message(m)?))
}

fn kind(m: &Message) -> &'static str {
    if m.is_request() { "request" } else { "answer" }
}

/// A UTF8String AVP's value.
fn text(a: &Avp) -> Result<String> {
    a.as_str().map(str::to_owned)
}

/// The first child `c`'s DiameterURI ([`Avp::as_uri`]), if any.
fn child_uri(children: &[Avp], c: AvpCode) -> Result<Option<String>> {
    child(children, c)
        .map(|a| a.as_uri().map(str::to_owned))
        .transpose()
}

/// The first `c` AVP's text, if any.
fn opt_text(m: &Message, c: AvpCode) -> Result<Option<String>> {
    m.avp(c).map(text).transpose()
}

/// Every `c` AVP's text.
fn all_text(m: &Message, c: AvpCode) -> Result<Vec<String>> {
    m.avps_with(c).map(text).collect()
}

/// The first child `c` of a Grouped AVP's decoded children.
fn child(children: &[Avp], c: AvpCode) -> Option<&Avp> {
    children.iter().find(|a| a.code == c)
}

/// The first child's text.
fn child_text(children: &[Avp], c: AvpCode) -> Result<Option<String>> {
    child(children, c).map(text).transpose()
}

/// The first child's octets.
fn child_octets(children: &[Avp], c: AvpCode) -> Result<Option<Bytes>> {
    Ok(child(children, c).map(|a| a.data.clone()))
}

/// A required child (5005 naming it when absent).
fn required_child(parent: &Avp, children: &[Avp], c: AvpCode) -> Result<Avp> {
    child(children, c).cloned().ok_or_else(|| {
        DiameterError::avp(
            ResultCode::MISSING_AVP,
            format!("{c} is missing from {}", parent.code),
            &Avp::new(c, Bytes::new()),
        )
    })
}

/// Associated-Identities (TS 29.229 §6.3.33): `*[ User-Name ]`.
fn associated_identities(names: &[String]) -> Avp {
    Avp::grouped(
        code::ASSOCIATED_IDENTITIES,
        names.iter().map(|n| Avp::utf8(code::USER_NAME, n)),
    )
}

/// The User-Names in a message's Associated-Identities (empty if absent).
fn read_associated_identities(m: &Message) -> Result<Vec<String>> {
    let Some(a) = m.avp(code::ASSOCIATED_IDENTITIES) else {
        return Ok(Vec::new());
    };
    a.children()?
        .iter()
        .filter(|c| c.code == code::USER_NAME)
        .map(text)
        .collect()
}

/// An Enumerated value that must be 0 or 1 (5004 otherwise).
fn flag(a: &Avp) -> Result<bool> {
    match a.as_u32()? {
        0 => Ok(false),
        1 => Ok(true),
        v => Err(DiameterError::avp(
            ResultCode::INVALID_AVP_VALUE,
            format!("{} {v} (expected 0 or 1)", a.code),
            a,
        )),
    }
}
