//! UAR/UAA and LIR/LIA (TS 29.229 §6.1.1, §6.1.2, §6.1.5, §6.1.6): the
//! I-CSCF asks which S-CSCF serves a user.

use bytes::Bytes;

use super::{CxResult, CxRouting, Origin, answer_end, answer_start, opt_text, read_answer, text};
use crate::avp::{Avp, code};
use crate::codes::CommandCode;
use crate::message::Message;
use crate::{DiameterError, Result, ResultCode};

/// User-Authorization-Type values (TS 29.229 §6.3.24).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserAuthorizationType(pub u32);

impl UserAuthorizationType {
    /// 0: registration or re-registration.
    pub const REGISTRATION: Self = Self(0);
    /// 1: de-registration.
    pub const DE_REGISTRATION: Self = Self(1);
    /// 2: registration, and the I-CSCF wants the capabilities to choose an
    /// S-CSCF.
    pub const REGISTRATION_AND_CAPABILITIES: Self = Self(2);
}

/// Server-Capabilities (TS 29.229 §6.3.4): what an S-CSCF must and
/// should offer, and S-CSCF names the HSS suggests.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ServerCapabilities {
    /// Mandatory-Capability values.
    pub mandatory: Vec<u32>,
    /// Optional-Capability values.
    pub optional: Vec<u32>,
    /// Server-Name values.
    pub server_names: Vec<String>,
}

impl ServerCapabilities {
    /// The Grouped AVP.
    pub fn to_avp(&self) -> Avp {
        let m = self
            .mandatory
            .iter()
            .map(|v| Avp::u32(code::MANDATORY_CAPABILITY, *v));
        let o = self
            .optional
            .iter()
            .map(|v| Avp::u32(code::OPTIONAL_CAPABILITY, *v));
        let s = self
            .server_names
            .iter()
            .map(|n| Avp::utf8(code::SERVER_NAME, n));
        Avp::grouped(code::SERVER_CAPABILITIES, m.chain(o).chain(s))
    }

    /// Reads the Grouped AVP.
    pub fn from_avp(a: &Avp) -> Result<ServerCapabilities> {
        let mut caps = ServerCapabilities::default();
        for c in a.children()? {
            if c.code == code::MANDATORY_CAPABILITY {
                caps.mandatory.push(c.as_u32()?);
            } else if c.code == code::OPTIONAL_CAPABILITY {
                caps.optional.push(c.as_u32()?);
            } else if c.code == code::SERVER_NAME {
                caps.server_names.push(text(&c)?);
            }
        }
        Ok(caps)
    }

    fn read(m: &Message) -> Result<Option<ServerCapabilities>> {
        m.avp(code::SERVER_CAPABILITIES)
            .map(ServerCapabilities::from_avp)
            .transpose()
    }
}

fn authorization_type(m: &Message) -> Result<Option<UserAuthorizationType>> {
    m.avp(code::USER_AUTHORIZATION_TYPE)
        .map(|a| a.as_u32().map(UserAuthorizationType))
        .transpose()
}

/// UAR: the I-CSCF asks whether a user may register, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserAuthorizationRequest {
    /// Routing AVPs.
    pub routing: CxRouting,
    /// User-Name: the private identity.
    pub user_name: String,
    /// Public-Identity.
    pub public_identity: String,
    /// Visited-Network-Identifier (an OctetString, usually the visited
    /// domain's name; the P-Visited-Network-ID value).
    pub visited_network: Bytes,
    /// User-Authorization-Type (absent: REGISTRATION).
    pub authorization_type: Option<UserAuthorizationType>,
    /// UAR-Flags (bit 0: IMS emergency registration).
    pub uar_flags: Option<u32>,
}

impl UserAuthorizationRequest {
    /// The message (identifiers zero: the peer layer allocates them).
    pub fn to_message(&self) -> Message {
        let mut m = self
            .routing
            .start(CommandCode::USER_AUTHORIZATION)
            .with(Avp::utf8(code::USER_NAME, &self.user_name))
            .with(Avp::utf8(code::PUBLIC_IDENTITY, &self.public_identity))
            .with(Avp::new(
                code::VISITED_NETWORK_IDENTIFIER,
                self.visited_network.clone(),
            ));
        if let Some(t) = self.authorization_type {
            m.push(Avp::u32(code::USER_AUTHORIZATION_TYPE, t.0));
        }
        if let Some(f) = self.uar_flags {
            m.push(Avp::u32(code::UAR_FLAGS, f));
        }
        m
    }

    /// Reads a UAR (validated first).
    pub fn from_message(m: &Message) -> Result<UserAuthorizationRequest> {
        let routing = CxRouting::read(m, CommandCode::USER_AUTHORIZATION)?;
        Ok(UserAuthorizationRequest {
            routing,
            user_name: text(m.required(code::USER_NAME)?)?,
            public_identity: text(m.required(code::PUBLIC_IDENTITY)?)?,
            visited_network: m.required(code::VISITED_NETWORK_IDENTIFIER)?.data.clone(),
            authorization_type: authorization_type(m)?,
            uar_flags: m.avp(code::UAR_FLAGS).map(Avp::as_u32).transpose()?,
        })
    }
}

/// UAA: the S-CSCF serving the user, or the capabilities to choose one.
/// The Cx outcomes are Experimental-Results: DIAMETER_FIRST_REGISTRATION,
/// DIAMETER_SUBSEQUENT_REGISTRATION, DIAMETER_UNREGISTERED_SERVICE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserAuthorizationAnswer {
    /// The answering node.
    pub origin: Origin,
    /// Result-Code or Experimental-Result.
    pub result: CxResult,
    /// Server-Name: the assigned S-CSCF.
    pub server_name: Option<String>,
    /// Server-Capabilities.
    pub server_capabilities: Option<ServerCapabilities>,
}

impl UserAuthorizationAnswer {
    /// An answer with only a result.
    pub fn new(origin: Origin, result: CxResult) -> UserAuthorizationAnswer {
        UserAuthorizationAnswer {
            origin,
            result,
            server_name: None,
            server_capabilities: None,
        }
    }

    /// The answer to `request` (a UAR).
    pub fn to_message(&self, request: &Message) -> Message {
        let mut a = answer_start(request, &self.origin, self.result);
        if let Some(s) = &self.server_name {
            a.push(Avp::utf8(code::SERVER_NAME, s));
        }
        if let Some(c) = &self.server_capabilities {
            a.push(c.to_avp());
        }
        answer_end(request, a)
    }

    /// Reads a UAA (validated first).
    pub fn from_message(m: &Message) -> Result<UserAuthorizationAnswer> {
        let (origin, result) = read_answer(m, CommandCode::USER_AUTHORIZATION)?;
        Ok(UserAuthorizationAnswer {
            origin,
            result,
            server_name: opt_text(m, code::SERVER_NAME)?,
            server_capabilities: ServerCapabilities::read(m)?,
        })
    }
}

/// LIR: the I-CSCF asks which S-CSCF serves a public identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocationInfoRequest {
    /// Routing AVPs.
    pub routing: CxRouting,
    /// Public-Identity.
    pub public_identity: String,
    /// Originating-Request (ORIGINATING, 0): the I-CSCF routes an
    /// originating request (unregistered user, TS 29.228 §6.3.1).
    pub originating: bool,
    /// User-Authorization-Type (REGISTRATION_AND_CAPABILITIES asks for
    /// the capabilities).
    pub authorization_type: Option<UserAuthorizationType>,
}

impl LocationInfoRequest {
    /// The message (identifiers zero: the peer layer allocates them).
    pub fn to_message(&self) -> Message {
        let mut m = self.routing.start(CommandCode::LOCATION_INFO);
        if self.originating {
            m.push(Avp::u32(code::ORIGINATING_REQUEST, 0));
        }
        m.push(Avp::utf8(code::PUBLIC_IDENTITY, &self.public_identity));
        if let Some(t) = self.authorization_type {
            m.push(Avp::u32(code::USER_AUTHORIZATION_TYPE, t.0));
        }
        m
    }

    /// Reads an LIR (validated first; Originating-Request other than
    /// ORIGINATING is 5004).
    pub fn from_message(m: &Message) -> Result<LocationInfoRequest> {
        let routing = CxRouting::read(m, CommandCode::LOCATION_INFO)?;
        let originating = match m.avp(code::ORIGINATING_REQUEST) {
            None => false,
            Some(a) if a.as_u32()? == 0 => true,
            Some(a) => {
                return Err(DiameterError::avp(
                    ResultCode::INVALID_AVP_VALUE,
                    format!("{} {} (only 0 ORIGINATING)", a.code, a.as_u32()?),
                    a,
                ));
            }
        };
        Ok(LocationInfoRequest {
            routing,
            public_identity: text(m.required(code::PUBLIC_IDENTITY)?)?,
            originating,
            authorization_type: authorization_type(m)?,
        })
    }
}

/// LIA: where a public identity is served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocationInfoAnswer {
    /// The answering node.
    pub origin: Origin,
    /// Result-Code or Experimental-Result.
    pub result: CxResult,
    /// Server-Name: the S-CSCF serving the identity.
    pub server_name: Option<String>,
    /// Server-Capabilities, when no S-CSCF is assigned.
    pub server_capabilities: Option<ServerCapabilities>,
    /// Wildcarded-PSI the identity matched.
    pub wildcarded_psi: Option<String>,
    /// Wildcarded-IMPU the identity matched.
    pub wildcarded_impu: Option<String>,
}

impl LocationInfoAnswer {
    /// An answer with only a result.
    pub fn new(origin: Origin, result: CxResult) -> LocationInfoAnswer {
        LocationInfoAnswer {
            origin,
            result,
            server_name: None,
            server_capabilities: None,
            wildcarded_psi: None,
            wildcarded_impu: None,
        }
    }

    /// The answer to `request` (an LIR).
    pub fn to_message(&self, request: &Message) -> Message {
        let mut a = answer_start(request, &self.origin, self.result);
        if let Some(s) = &self.server_name {
            a.push(Avp::utf8(code::SERVER_NAME, s));
        }
        if let Some(c) = &self.server_capabilities {
            a.push(c.to_avp());
        }
        if let Some(w) = &self.wildcarded_psi {
            a.push(Avp::utf8(code::WILDCARDED_PSI, w));
        }
        if let Some(w) = &self.wildcarded_impu {
            a.push(Avp::utf8(code::WILDCARDED_IMPU, w));
        }
        answer_end(request, a)
    }

    /// Reads an LIA (validated first).
    pub fn from_message(m: &Message) -> Result<LocationInfoAnswer> {
        let (origin, result) = read_answer(m, CommandCode::LOCATION_INFO)?;
        Ok(LocationInfoAnswer {
            origin,
            result,
            server_name: opt_text(m, code::SERVER_NAME)?,
            server_capabilities: ServerCapabilities::read(m)?,
            wildcarded_psi: opt_text(m, code::WILDCARDED_PSI)?,
            wildcarded_impu: opt_text(m, code::WILDCARDED_IMPU)?,
        })
    }
}
