//! Checks an endpoint makes before acting on a message: every AVP's value
//! fits its type, no AVP with the M bit is unknown, and the command's
//! required AVPs are there, once (RFC 6733 §6.2, §7; TS 29.229 §6.1).

use crate::avp::{Avp, AvpCode, AvpType, code};
use crate::codes::{CommandCode, ResultCode};
use crate::message::Message;
use crate::{DiameterError, Result};

/// AVPs every Cx/Dx request carries (TS 29.229 §6.1).
const CX_REQUEST: &[AvpCode] = &[
    code::SESSION_ID,
    code::VENDOR_SPECIFIC_APPLICATION_ID,
    code::AUTH_SESSION_STATE,
    code::ORIGIN_HOST,
    code::ORIGIN_REALM,
    code::DESTINATION_REALM,
];

/// AVPs every Cx/Dx answer carries (besides a result).
const CX_ANSWER: &[AvpCode] = &[
    code::SESSION_ID,
    code::VENDOR_SPECIFIC_APPLICATION_ID,
    code::AUTH_SESSION_STATE,
    code::ORIGIN_HOST,
    code::ORIGIN_REALM,
];

/// AVPs no message carries twice.
const SINGLETONS: &[AvpCode] = &[
    code::SESSION_ID,
    code::ORIGIN_HOST,
    code::ORIGIN_REALM,
    code::DESTINATION_HOST,
    code::DESTINATION_REALM,
    code::RESULT_CODE,
    code::EXPERIMENTAL_RESULT,
    code::AUTH_SESSION_STATE,
    code::USER_NAME,
    code::SERVER_ASSIGNMENT_TYPE,
    code::USER_DATA_ALREADY_AVAILABLE,
    code::SIP_NUMBER_AUTH_ITEMS,
    code::USER_AUTHORIZATION_TYPE,
    code::VISITED_NETWORK_IDENTIFIER,
    code::USER_DATA,
    code::DEREGISTRATION_REASON,
    code::ACCOUNTING_RECORD_TYPE,
    code::ACCOUNTING_RECORD_NUMBER,
    code::DISCONNECT_CAUSE,
];

/// The AVPs a command requires: (common part, specific part, needs a
/// result) for requests and answers.
fn grammar(cmd: CommandCode, request: bool) -> (&'static [AvpCode], &'static [AvpCode], bool) {
    const OH_OR: &[AvpCode] = &[code::ORIGIN_HOST, code::ORIGIN_REALM];
    const CE: &[AvpCode] = &[code::HOST_IP_ADDRESS, code::VENDOR_ID, code::PRODUCT_NAME];
    match (cmd, request) {
        (CommandCode::CAPABILITIES_EXCHANGE, r) => (OH_OR, CE, !r),
        (CommandCode::DEVICE_WATCHDOG, r) => (OH_OR, &[], !r),
        (CommandCode::DISCONNECT_PEER, true) => (OH_OR, &[code::DISCONNECT_CAUSE], false),
        (CommandCode::DISCONNECT_PEER, false) => (OH_OR, &[], true),
        (CommandCode::USER_AUTHORIZATION, true) => (
            CX_REQUEST,
            &[
                code::USER_NAME,
                code::PUBLIC_IDENTITY,
                code::VISITED_NETWORK_IDENTIFIER,
            ],
            false,
        ),
        (CommandCode::SERVER_ASSIGNMENT, true) => (
            CX_REQUEST,
            &[
                code::SERVER_NAME,
                code::SERVER_ASSIGNMENT_TYPE,
                code::USER_DATA_ALREADY_AVAILABLE,
            ],
            false,
        ),
        (CommandCode::LOCATION_INFO, true) => (CX_REQUEST, &[code::PUBLIC_IDENTITY], false),
        (CommandCode::MULTIMEDIA_AUTH, true) => (
            CX_REQUEST,
            &[
                code::USER_NAME,
                code::PUBLIC_IDENTITY,
                code::SIP_AUTH_DATA_ITEM,
                code::SIP_NUMBER_AUTH_ITEMS,
                code::SERVER_NAME,
            ],
            false,
        ),
        (CommandCode::REGISTRATION_TERMINATION, true) => (
            CX_REQUEST,
            &[
                code::DESTINATION_HOST,
                code::USER_NAME,
                code::DEREGISTRATION_REASON,
            ],
            false,
        ),
        (CommandCode::PUSH_PROFILE, true) => (
            CX_REQUEST,
            &[code::DESTINATION_HOST, code::USER_NAME],
            false,
        ),
        (
            CommandCode::USER_AUTHORIZATION
            | CommandCode::SERVER_ASSIGNMENT
            | CommandCode::LOCATION_INFO
            | CommandCode::MULTIMEDIA_AUTH
            | CommandCode::REGISTRATION_TERMINATION
            | CommandCode::PUSH_PROFILE,
            false,
        ) => (CX_ANSWER, &[], true),
        (CommandCode::ACCOUNTING, true) => (
            &[
                code::SESSION_ID,
                code::ORIGIN_HOST,
                code::ORIGIN_REALM,
                code::DESTINATION_REALM,
            ],
            &[code::ACCOUNTING_RECORD_TYPE, code::ACCOUNTING_RECORD_NUMBER],
            false,
        ),
        (CommandCode::ACCOUNTING, false) => (
            &[code::SESSION_ID, code::ORIGIN_HOST, code::ORIGIN_REALM],
            &[code::ACCOUNTING_RECORD_TYPE, code::ACCOUNTING_RECORD_NUMBER],
            true,
        ),
        _ => (OH_OR, &[], !request),
    }
}

/// Checks one AVP's value against its dictionary type, recursing into
/// Grouped AVPs; unknown AVPs with the M bit are 5001.
pub fn check_avp(avp: &Avp) -> Result<()> {
    if avp.flags.0 & crate::avp::AvpFlags::RESERVED != 0 {
        return Err(DiameterError::avp(
            ResultCode::INVALID_AVP_BITS,
            format!("{}: reserved flag bits set", avp.code),
            avp,
        ));
    }
    let Some(def) = avp.code.definition() else {
        if avp.flags.is_mandatory() {
            return Err(DiameterError::avp(
                ResultCode::AVP_UNSUPPORTED,
                format!("{} has the M bit and is not understood", avp.code),
                avp,
            ));
        }
        return Ok(());
    };
    match def.kind {
        AvpType::Unsigned32 | AvpType::Integer32 | AvpType::Enumerated | AvpType::Time => {
            avp.as_u32()?;
        }
        AvpType::Unsigned64 | AvpType::Integer64 => {
            avp.as_u64()?;
        }
        AvpType::Utf8String | AvpType::DiameterUri => {
            avp.as_str()?;
        }
        AvpType::DiameterIdentity => {
            avp.as_identity()?;
        }
        AvpType::Address => {
            avp.as_address()?;
        }
        // Failed-AVP echoes someone else's bad AVP: only its structure counts.
        AvpType::Grouped if avp.code == code::FAILED_AVP => {
            avp.children()?;
        }
        AvpType::Grouped => {
            for c in avp.children()? {
                check_avp(&c)?;
            }
        }
        AvpType::OctetString => {}
    }
    Ok(())
}

impl Message {
    /// The checks an endpoint makes before acting on a decoded message:
    /// every AVP's value ([`check_avp`]: 5014, 5004, 5001, 3009), then the
    /// command's grammar: required AVPs present (5005), singletons not
    /// repeated (5009), answers carrying Result-Code or
    /// Experimental-Result. Error answers (E bit) need only Origin-Host,
    /// Origin-Realm and Result-Code.
    pub fn validate(&self) -> Result<()> {
        for a in &self.avps {
            check_avp(a)?;
        }
        for s in SINGLETONS {
            let mut it = self.avps_with(*s);
            if let (Some(_), Some(second)) = (it.next(), it.next()) {
                return Err(DiameterError::avp(
                    ResultCode::AVP_OCCURS_TOO_MANY_TIMES,
                    format!("{s} occurs more than once"),
                    second,
                ));
            }
        }
        if self.flags.is_error() {
            for c in [code::ORIGIN_HOST, code::ORIGIN_REALM, code::RESULT_CODE] {
                self.required(c)?;
            }
            return Ok(());
        }
        let (common, specific, result) = grammar(self.code, self.is_request());
        for c in common.iter().chain(specific) {
            self.required(*c)?;
        }
        if result
            && self.avp(code::RESULT_CODE).is_none()
            && self.avp(code::EXPERIMENTAL_RESULT).is_none()
        {
            self.required(code::RESULT_CODE)?;
        }
        Ok(())
    }
}
