//! Typed Cx/Dx requests (TS 29.229 §6.1) built on [`Message`]: what the
//! S-CSCF sends the HSS. Each converts to a [`Message`] and back; reading
//! one checks the grammar ([`Message::validate`]) first.

use bytes::Bytes;

use crate::avp::{Avp, code};
use crate::codes::{ApplicationId, CommandCode, vendor};
use crate::message::Message;
use crate::{DiameterError, Result, ResultCode};

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
    /// Destination-Host, when a particular HSS is wanted.
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

/// Server-Assignment-Type values (TS 29.229 §6.3.15).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServerAssignmentType(pub u32);

impl ServerAssignmentType {
    /// 0.
    pub const NO_ASSIGNMENT: Self = Self(0);
    /// 1.
    pub const REGISTRATION: Self = Self(1);
    /// 2.
    pub const RE_REGISTRATION: Self = Self(2);
    /// 3.
    pub const UNREGISTERED_USER: Self = Self(3);
    /// 4.
    pub const TIMEOUT_DEREGISTRATION: Self = Self(4);
    /// 5.
    pub const USER_DEREGISTRATION: Self = Self(5);
    /// 6.
    pub const TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME: Self = Self(6);
    /// 7.
    pub const USER_DEREGISTRATION_STORE_SERVER_NAME: Self = Self(7);
    /// 8.
    pub const ADMINISTRATIVE_DEREGISTRATION: Self = Self(8);
    /// 9.
    pub const AUTHENTICATION_FAILURE: Self = Self(9);
    /// 10.
    pub const AUTHENTICATION_TIMEOUT: Self = Self(10);
    /// 11.
    pub const DEREGISTRATION_TOO_MUCH_DATA: Self = Self(11);
    /// 12.
    pub const AAA_USER_DATA_REQUEST: Self = Self(12);
    /// 13.
    pub const PGW_UPDATE: Self = Self(13);
    /// 14.
    pub const RESTORATION: Self = Self(14);
}

/// SAR: the S-CSCF tells the HSS it serves (or stops serving) a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAssignmentRequest {
    /// Routing AVPs.
    pub routing: CxRouting,
    /// User-Name (absent for unregistered-user terminating requests).
    pub user_name: Option<String>,
    /// Public-Identity AVPs (0..n).
    pub public_identities: Vec<String>,
    /// Server-Name.
    pub server_name: String,
    /// Server-Assignment-Type.
    pub assignment_type: ServerAssignmentType,
    /// User-Data-Already-Available.
    pub user_data_already_available: bool,
}

impl ServerAssignmentRequest {
    /// The message (identifiers zero: the peer layer allocates them).
    pub fn to_message(&self) -> Message {
        let mut m = self.routing.start(CommandCode::SERVER_ASSIGNMENT);
        if let Some(u) = &self.user_name {
            m.push(Avp::utf8(code::USER_NAME, u));
        }
        for p in &self.public_identities {
            m.push(Avp::utf8(code::PUBLIC_IDENTITY, p));
        }
        m.push(Avp::utf8(code::SERVER_NAME, &self.server_name));
        m.push(Avp::u32(
            code::SERVER_ASSIGNMENT_TYPE,
            self.assignment_type.0,
        ));
        m.push(Avp::u32(
            code::USER_DATA_ALREADY_AVAILABLE,
            u32::from(self.user_data_already_available),
        ));
        m
    }

    /// Reads a SAR (validated first).
    pub fn from_message(m: &Message) -> Result<ServerAssignmentRequest> {
        let routing = CxRouting::read(m, CommandCode::SERVER_ASSIGNMENT)?;
        let udaa = m.required(code::USER_DATA_ALREADY_AVAILABLE)?;
        let user_data_already_available = match udaa.as_u32()? {
            0 => false,
            1 => true,
            v => {
                return Err(DiameterError::avp(
                    ResultCode::INVALID_AVP_VALUE,
                    format!("User-Data-Already-Available {v}"),
                    udaa,
                ));
            }
        };
        Ok(ServerAssignmentRequest {
            routing,
            user_name: m
                .avp(code::USER_NAME)
                .map(|a| a.as_str().map(str::to_owned))
                .transpose()?,
            public_identities: m
                .avps_with(code::PUBLIC_IDENTITY)
                .map(|a| a.as_str().map(str::to_owned))
                .collect::<Result<_>>()?,
            server_name: m.required(code::SERVER_NAME)?.as_str()?.to_owned(),
            assignment_type: ServerAssignmentType(
                m.required(code::SERVER_ASSIGNMENT_TYPE)?.as_u32()?,
            ),
            user_data_already_available,
        })
    }
}
