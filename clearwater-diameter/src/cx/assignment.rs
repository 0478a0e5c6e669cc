//! SAR/SAA (TS 29.229 §6.1.3, §6.1.4): the S-CSCF assigns itself and gets
//! the user's profile.

use super::{
    CxResult, CxRouting, Origin, all_text, answer_end, answer_start, associated_identities,
    child_uri, flag, opt_text, read_answer, read_associated_identities,
};
use crate::Result;
use crate::avp::{Avp, code};
use crate::codes::CommandCode;
use crate::message::Message;

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
        Ok(ServerAssignmentRequest {
            routing,
            user_name: opt_text(m, code::USER_NAME)?,
            public_identities: all_text(m, code::PUBLIC_IDENTITY)?,
            server_name: m.required(code::SERVER_NAME)?.as_str()?.to_owned(),
            assignment_type: ServerAssignmentType(
                m.required(code::SERVER_ASSIGNMENT_TYPE)?.as_u32()?,
            ),
            user_data_already_available: flag(m.required(code::USER_DATA_ALREADY_AVAILABLE)?)?,
        })
    }
}

/// Charging-Information (TS 29.229 §6.3.19): the charging functions'
/// DiameterURIs. Collection functions (CCF) are for Rf offline charging,
/// event functions (ECF) for online charging.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ChargingInformation {
    /// Primary-Event-Charging-Function-Name.
    pub primary_event: Option<String>,
    /// Secondary-Event-Charging-Function-Name.
    pub secondary_event: Option<String>,
    /// Primary-Charging-Collection-Function-Name.
    pub primary_collection: Option<String>,
    /// Secondary-Charging-Collection-Function-Name.
    pub secondary_collection: Option<String>,
}

impl ChargingInformation {
    /// From CCF and ECF lists, primary first (extra entries are dropped:
    /// Cx carries two of each).
    pub fn from_lists(ccfs: &[String], ecfs: &[String]) -> ChargingInformation {
        ChargingInformation {
            primary_event: ecfs.first().cloned(),
            secondary_event: ecfs.get(1).cloned(),
            primary_collection: ccfs.first().cloned(),
            secondary_collection: ccfs.get(1).cloned(),
        }
    }

    /// The CCFs, primary first.
    pub fn ccfs(&self) -> Vec<String> {
        [&self.primary_collection, &self.secondary_collection]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// The ECFs, primary first.
    pub fn ecfs(&self) -> Vec<String> {
        [&self.primary_event, &self.secondary_event]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// The Grouped AVP.
    pub fn to_avp(&self) -> Avp {
        Avp::grouped(
            code::CHARGING_INFORMATION,
            [
                (
                    code::PRIMARY_EVENT_CHARGING_FUNCTION_NAME,
                    &self.primary_event,
                ),
                (
                    code::SECONDARY_EVENT_CHARGING_FUNCTION_NAME,
                    &self.secondary_event,
                ),
                (
                    code::PRIMARY_CHARGING_COLLECTION_FUNCTION_NAME,
                    &self.primary_collection,
                ),
                (
                    code::SECONDARY_CHARGING_COLLECTION_FUNCTION_NAME,
                    &self.secondary_collection,
                ),
            ]
            .into_iter()
            .filter_map(|(c, v)| v.as_ref().map(|v| Avp::utf8(c, v))),
        )
    }

    /// Reads the Grouped AVP.
    pub fn from_avp(a: &Avp) -> Result<ChargingInformation> {
        let kids = a.children()?;
        Ok(ChargingInformation {
            primary_event: child_uri(&kids, code::PRIMARY_EVENT_CHARGING_FUNCTION_NAME)?,
            secondary_event: child_uri(&kids, code::SECONDARY_EVENT_CHARGING_FUNCTION_NAME)?,
            primary_collection: child_uri(&kids, code::PRIMARY_CHARGING_COLLECTION_FUNCTION_NAME)?,
            secondary_collection: child_uri(
                &kids,
                code::SECONDARY_CHARGING_COLLECTION_FUNCTION_NAME,
            )?,
        })
    }

    pub(super) fn read(m: &Message) -> Result<Option<ChargingInformation>> {
        m.avp(code::CHARGING_INFORMATION)
            .map(ChargingInformation::from_avp)
            .transpose()
    }
}

/// SAA: the HSS's answer, with the user's profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAssignmentAnswer {
    /// The answering node.
    pub origin: Origin,
    /// Result-Code or Experimental-Result.
    pub result: CxResult,
    /// User-Name: the private identity.
    pub user_name: Option<String>,
    /// User-Data: the IMS subscription XML (TS 29.228 Annex E).
    pub user_data: Option<String>,
    /// Charging-Information.
    pub charging_information: Option<ChargingInformation>,
    /// Associated-Identities: the private identities sharing the implicit
    /// registration set.
    pub associated_identities: Vec<String>,
}

impl ServerAssignmentAnswer {
    /// An answer with only a result.
    pub fn new(origin: Origin, result: CxResult) -> ServerAssignmentAnswer {
        ServerAssignmentAnswer {
            origin,
            result,
            user_name: None,
            user_data: None,
            charging_information: None,
            associated_identities: Vec::new(),
        }
    }

    /// The answer to `request` (a SAR).
    pub fn to_message(&self, request: &Message) -> Message {
        let mut a = answer_start(request, &self.origin, self.result);
        if let Some(u) = &self.user_name {
            a.push(Avp::utf8(code::USER_NAME, u));
        }
        if let Some(d) = &self.user_data {
            a.push(Avp::utf8(code::USER_DATA, d));
        }
        if let Some(c) = &self.charging_information {
            a.push(c.to_avp());
        }
        if !self.associated_identities.is_empty() {
            a.push(associated_identities(&self.associated_identities));
        }
        answer_end(request, a)
    }

    /// Reads an SAA (validated first; User-Data must be UTF-8, 5004
    /// otherwise).
    pub fn from_message(m: &Message) -> Result<ServerAssignmentAnswer> {
        let (origin, result) = read_answer(m, CommandCode::SERVER_ASSIGNMENT)?;
        Ok(ServerAssignmentAnswer {
            origin,
            result,
            user_name: opt_text(m, code::USER_NAME)?,
            user_data: opt_text(m, code::USER_DATA)?,
            charging_information: ChargingInformation::read(m)?,
            associated_identities: read_associated_identities(m)?,
        })
    }
}
