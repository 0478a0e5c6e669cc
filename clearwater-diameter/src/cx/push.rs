//! RTR/RTA and PPR/PPA (TS 29.229 §6.1.9–6.1.12): what the HSS tells the
//! S-CSCF on its own initiative.

use super::{
    ChargingInformation, CxResult, CxRouting, Origin, SipAuthDataItem, all_text, answer_end,
    answer_start, associated_identities, child_text, opt_text, read_answer,
    read_associated_identities, required_child, text,
};
use crate::Result;
use crate::avp::{Avp, code};
use crate::codes::CommandCode;
use crate::message::Message;

/// Reason-Code values (TS 29.229 §6.3.17).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReasonCode(pub u32);

impl ReasonCode {
    /// 0: the subscription ended.
    pub const PERMANENT_TERMINATION: Self = Self(0);
    /// 1: another S-CSCF was assigned.
    pub const NEW_SERVER_ASSIGNED: Self = Self(1);
    /// 2: the S-CSCF should be changed (the UE re-registers).
    pub const SERVER_CHANGE: Self = Self(2);
    /// 3: the HSS removes the S-CSCF's name (REMOVE_S-CSCF).
    pub const REMOVE_SCSCF: Self = Self(3);
}

/// Deregistration-Reason (TS 29.229 §6.3.16).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeregistrationReason {
    /// Reason-Code.
    pub code: ReasonCode,
    /// Reason-Info: text for the user.
    pub info: Option<String>,
}

impl DeregistrationReason {
    /// The Grouped AVP.
    pub fn to_avp(&self) -> Avp {
        let mut kids = vec![Avp::u32(code::REASON_CODE, self.code.0)];
        if let Some(i) = &self.info {
            kids.push(Avp::utf8(code::REASON_INFO, i));
        }
        Avp::grouped(code::DEREGISTRATION_REASON, kids)
    }

    /// Reads the Grouped AVP (5005 without Reason-Code).
    pub fn from_avp(a: &Avp) -> Result<DeregistrationReason> {
        let kids = a.children()?;
        Ok(DeregistrationReason {
            code: ReasonCode(required_child(a, &kids, code::REASON_CODE)?.as_u32()?),
            info: child_text(&kids, code::REASON_INFO)?,
        })
    }
}

/// RTR: the HSS deregisters identities at the S-CSCF. The routing's
/// Destination-Host (the S-CSCF) is required.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationTerminationRequest {
    /// Routing AVPs (Destination-Host required).
    pub routing: CxRouting,
    /// User-Name: the private identity.
    pub user_name: String,
    /// Associated-Identities: further private identities deregistered.
    pub associated_identities: Vec<String>,
    /// Public-Identity AVPs: the identities deregistered (empty: all of
    /// the private identities').
    pub public_identities: Vec<String>,
    /// Deregistration-Reason.
    pub reason: DeregistrationReason,
}

impl RegistrationTerminationRequest {
    /// The message (identifiers zero: the peer layer allocates them).
    pub fn to_message(&self) -> Message {
        let mut m = self
            .routing
            .start(CommandCode::REGISTRATION_TERMINATION)
            .with(Avp::utf8(code::USER_NAME, &self.user_name));
        if !self.associated_identities.is_empty() {
            m.push(associated_identities(&self.associated_identities));
        }
        for p in &self.public_identities {
            m.push(Avp::utf8(code::PUBLIC_IDENTITY, p));
        }
        m.push(self.reason.to_avp());
        m
    }

    /// Reads an RTR (validated first).
    pub fn from_message(m: &Message) -> Result<RegistrationTerminationRequest> {
        let routing = CxRouting::read(m, CommandCode::REGISTRATION_TERMINATION)?;
        Ok(RegistrationTerminationRequest {
            routing,
            user_name: text(m.required(code::USER_NAME)?)?,
            associated_identities: read_associated_identities(m)?,
            public_identities: all_text(m, code::PUBLIC_IDENTITY)?,
            reason: DeregistrationReason::from_avp(m.required(code::DEREGISTRATION_REASON)?)?,
        })
    }

    /// Every private identity named: User-Name, then the
    /// Associated-Identities.
    pub fn private_identities(&self) -> Vec<String> {
        std::iter::once(self.user_name.clone())
            .chain(self.associated_identities.iter().cloned())
            .collect()
    }
}

/// RTA: the S-CSCF's answer to RTR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationTerminationAnswer {
    /// The answering node.
    pub origin: Origin,
    /// Result-Code or Experimental-Result.
    pub result: CxResult,
    /// Associated-Identities: the private identities deregistered.
    pub associated_identities: Vec<String>,
}

impl RegistrationTerminationAnswer {
    /// An answer with only a result.
    pub fn new(origin: Origin, result: CxResult) -> RegistrationTerminationAnswer {
        RegistrationTerminationAnswer {
            origin,
            result,
            associated_identities: Vec::new(),
        }
    }

    /// The answer to `request` (an RTR).
    pub fn to_message(&self, request: &Message) -> Message {
        let mut a = answer_start(request, &self.origin, self.result);
        if !self.associated_identities.is_empty() {
            a.push(associated_identities(&self.associated_identities));
        }
        answer_end(request, a)
    }

    /// Reads an RTA (validated first).
    pub fn from_message(m: &Message) -> Result<RegistrationTerminationAnswer> {
        let (origin, result) = read_answer(m, CommandCode::REGISTRATION_TERMINATION)?;
        Ok(RegistrationTerminationAnswer {
            origin,
            result,
            associated_identities: read_associated_identities(m)?,
        })
    }
}

/// PPR: the HSS pushes a changed profile to the S-CSCF. The routing's
/// Destination-Host (the S-CSCF) is required.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushProfileRequest {
    /// Routing AVPs (Destination-Host required).
    pub routing: CxRouting,
    /// User-Name: the private identity.
    pub user_name: String,
    /// User-Data: the new IMS subscription XML.
    pub user_data: Option<String>,
    /// Charging-Information: the new charging functions.
    pub charging_information: Option<ChargingInformation>,
    /// SIP-Auth-Data-Item (e.g. new line identifiers for NASS bundled
    /// authentication).
    pub auth_data_item: Option<SipAuthDataItem>,
}

impl PushProfileRequest {
    /// The message (identifiers zero: the peer layer allocates them).
    pub fn to_message(&self) -> Message {
        let mut m = self
            .routing
            .start(CommandCode::PUSH_PROFILE)
            .with(Avp::utf8(code::USER_NAME, &self.user_name));
        if let Some(d) = &self.user_data {
            m.push(Avp::utf8(code::USER_DATA, d));
        }
        if let Some(c) = &self.charging_information {
            m.push(c.to_avp());
        }
        if let Some(i) = &self.auth_data_item {
            m.push(i.to_avp());
        }
        m
    }

    /// Reads a PPR (validated first; User-Data must be UTF-8, 5004
    /// otherwise).
    pub fn from_message(m: &Message) -> Result<PushProfileRequest> {
        let routing = CxRouting::read(m, CommandCode::PUSH_PROFILE)?;
        Ok(PushProfileRequest {
            routing,
            user_name: text(m.required(code::USER_NAME)?)?,
            user_data: opt_text(m, code::USER_DATA)?,
            charging_information: ChargingInformation::read(m)?,
            auth_data_item: m
                .avp(code::SIP_AUTH_DATA_ITEM)
                .map(SipAuthDataItem::from_avp)
                .transpose()?,
        })
    }
}

/// PPA: the S-CSCF's answer to PPR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushProfileAnswer {
    /// The answering node.
    pub origin: Origin,
    /// Result-Code or Experimental-Result.
    pub result: CxResult,
}

impl PushProfileAnswer {
    /// An answer.
    pub fn new(origin: Origin, result: CxResult) -> PushProfileAnswer {
        PushProfileAnswer { origin, result }
    }

    /// The answer to `request` (a PPR).
    pub fn to_message(&self, request: &Message) -> Message {
        answer_end(request, answer_start(request, &self.origin, self.result))
    }

    /// Reads a PPA (validated first).
    pub fn from_message(m: &Message) -> Result<PushProfileAnswer> {
        let (origin, result) = read_answer(m, CommandCode::PUSH_PROFILE)?;
        Ok(PushProfileAnswer { origin, result })
    }
}
