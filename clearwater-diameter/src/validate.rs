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

/// A command's grammar (RFC 6733 §3.2 CCF, TS 29.229 §6.1): the AVPs it
/// requires, those it carries at most once besides [`SINGLETONS`], and
/// whether it is an answer that needs a result.
struct Grammar {
    common: &'static [AvpCode],
    required: &'static [AvpCode],
    single: &'static [AvpCode],
    result: bool,
}

const fn g(
    common: &'static [AvpCode],
    required: &'static [AvpCode],
    single: &'static [AvpCode],
    result: bool,
) -> Grammar {
    Grammar {
        common,
        required,
        single,
        result,
    }
}

/// Whether `cmd` is a Cx/Dx command.
fn is_cx(cmd: CommandCode) -> bool {
    matches!(
        cmd,
        CommandCode::USER_AUTHORIZATION
            | CommandCode::SERVER_ASSIGNMENT
            | CommandCode::LOCATION_INFO
            | CommandCode::MULTIMEDIA_AUTH
            | CommandCode::REGISTRATION_TERMINATION
            | CommandCode::PUSH_PROFILE
    )
}

/// The grammar of `cmd` (request or answer). Cx/Dx commands follow TS 29.229
/// §6.1.1–6.1.12; unknown commands need only Origin-Host and Origin-Realm
/// (and a result, for an answer).
fn grammar(cmd: CommandCode, request: bool) -> Grammar {
    const OH_OR: &[AvpCode] = &[code::ORIGIN_HOST, code::ORIGIN_REALM];
    const CE: &[AvpCode] = &[code::HOST_IP_ADDRESS, code::VENDOR_ID, code::PRODUCT_NAME];
    const SERVER_SELECTION: &[AvpCode] = &[code::SERVER_NAME, code::SERVER_CAPABILITIES];
    match (cmd, request) {
        (CommandCode::CAPABILITIES_EXCHANGE, r) => g(OH_OR, CE, &[], !r),
        (CommandCode::DEVICE_WATCHDOG, r) => g(OH_OR, &[], &[], !r),
        (CommandCode::DISCONNECT_PEER, true) => g(OH_OR, &[code::DISCONNECT_CAUSE], &[], false),
        (CommandCode::DISCONNECT_PEER, false) => g(OH_OR, &[], &[], true),
        // §6.1.1 UAR, §6.1.2 UAA.
        (CommandCode::USER_AUTHORIZATION, true) => g(
            CX_REQUEST,
            &[
                code::USER_NAME,
                code::PUBLIC_IDENTITY,
                code::VISITED_NETWORK_IDENTIFIER,
            ],
            &[code::PUBLIC_IDENTITY, code::UAR_FLAGS],
            false,
        ),
        (CommandCode::USER_AUTHORIZATION, false) => g(CX_ANSWER, &[], SERVER_SELECTION, true),
        // §6.1.3 SAR, §6.1.4 SAA.
        (CommandCode::SERVER_ASSIGNMENT, true) => g(
            CX_REQUEST,
            &[
                code::SERVER_NAME,
                code::SERVER_ASSIGNMENT_TYPE,
                code::USER_DATA_ALREADY_AVAILABLE,
            ],
            &[
                code::SERVER_NAME,
                code::WILDCARDED_PSI,
                code::WILDCARDED_IMPU,
                code::MULTIPLE_REGISTRATION_INDICATION,
                code::SESSION_PRIORITY,
                code::SAR_FLAGS,
            ],
            false,
        ),
        (CommandCode::SERVER_ASSIGNMENT, false) => g(
            CX_ANSWER,
            &[],
            &[
                code::CHARGING_INFORMATION,
                code::ASSOCIATED_IDENTITIES,
                code::LOOSE_ROUTE_INDICATION,
                code::ASSOCIATED_REGISTERED_IDENTITIES,
                code::SERVER_NAME,
                code::WILDCARDED_PSI,
                code::WILDCARDED_IMPU,
                code::PRIVILEDGED_SENDER_INDICATION,
            ],
            true,
        ),
        // §6.1.5 LIR, §6.1.6 LIA.
        (CommandCode::LOCATION_INFO, true) => g(
            CX_REQUEST,
            &[code::PUBLIC_IDENTITY],
            &[
                code::PUBLIC_IDENTITY,
                code::ORIGINATING_REQUEST,
                code::SESSION_PRIORITY,
            ],
            false,
        ),
        (CommandCode::LOCATION_INFO, false) => g(
            CX_ANSWER,
            &[],
            &[
                code::SERVER_NAME,
                code::SERVER_CAPABILITIES,
                code::WILDCARDED_PSI,
                code::WILDCARDED_IMPU,
                code::LIA_FLAGS,
            ],
            true,
        ),
        // §6.1.7 MAR, §6.1.8 MAA.
        (CommandCode::MULTIMEDIA_AUTH, true) => g(
            CX_REQUEST,
            &[
                code::USER_NAME,
                code::PUBLIC_IDENTITY,
                code::SIP_AUTH_DATA_ITEM,
                code::SIP_NUMBER_AUTH_ITEMS,
                code::SERVER_NAME,
            ],
            &[
                code::PUBLIC_IDENTITY,
                code::SIP_AUTH_DATA_ITEM,
                code::SERVER_NAME,
            ],
            false,
        ),
        (CommandCode::MULTIMEDIA_AUTH, false) => g(CX_ANSWER, &[], &[code::PUBLIC_IDENTITY], true),
        // §6.1.9 RTR, §6.1.10 RTA.
        (CommandCode::REGISTRATION_TERMINATION, true) => g(
            CX_REQUEST,
            &[
                code::DESTINATION_HOST,
                code::USER_NAME,
                code::DEREGISTRATION_REASON,
            ],
            &[code::ASSOCIATED_IDENTITIES],
            false,
        ),
        (CommandCode::REGISTRATION_TERMINATION, false) => g(
            CX_ANSWER,
            &[],
            &[
                code::ASSOCIATED_IDENTITIES,
                code::IDENTITY_WITH_EMERGENCY_REGISTRATION,
            ],
            true,
        ),
        // §6.1.11 PPR, §6.1.12 PPA.
        (CommandCode::PUSH_PROFILE, true) => g(
            CX_REQUEST,
            &[code::DESTINATION_HOST, code::USER_NAME],
            &[code::CHARGING_INFORMATION, code::SIP_AUTH_DATA_ITEM],
            false,
        ),
        (CommandCode::PUSH_PROFILE, false) => g(CX_ANSWER, &[], &[], true),
        (CommandCode::ACCOUNTING, true) => g(
            &[
                code::SESSION_ID,
                code::ORIGIN_HOST,
                code::ORIGIN_REALM,
                code::DESTINATION_REALM,
            ],
            &[code::ACCOUNTING_RECORD_TYPE, code::ACCOUNTING_RECORD_NUMBER],
            &[],
            false,
        ),
        (CommandCode::ACCOUNTING, false) => g(
            &[code::SESSION_ID, code::ORIGIN_HOST, code::ORIGIN_REALM],
            &[code::ACCOUNTING_RECORD_TYPE, code::ACCOUNTING_RECORD_NUMBER],
            &[],
            true,
        ),
        _ => g(OH_OR, &[], &[], !request),
    }
}

/// The grammars of the Grouped AVPs whose content an endpoint relies on:
/// (the AVP, the children it requires, the children it carries at most
/// once). TS 29.229 §6.3 and RFC 6733 §6.11, §7.6.
const GROUPS: &[(AvpCode, &[AvpCode], &[AvpCode])] = &[
    (
        code::VENDOR_SPECIFIC_APPLICATION_ID,
        &[code::VENDOR_ID],
        &[
            code::VENDOR_ID,
            code::AUTH_APPLICATION_ID,
            code::ACCT_APPLICATION_ID,
        ],
    ),
    (
        code::EXPERIMENTAL_RESULT,
        &[code::VENDOR_ID, code::EXPERIMENTAL_RESULT_CODE],
        &[code::VENDOR_ID, code::EXPERIMENTAL_RESULT_CODE],
    ),
    (
        code::DEREGISTRATION_REASON,
        &[code::REASON_CODE],
        &[code::REASON_CODE, code::REASON_INFO],
    ),
    (
        code::SIP_DIGEST_AUTHENTICATE,
        &[code::DIGEST_REALM, code::DIGEST_QOP, code::DIGEST_HA1],
        &[
            code::DIGEST_REALM,
            code::DIGEST_ALGORITHM,
            code::DIGEST_QOP,
            code::DIGEST_HA1,
        ],
    ),
    (
        code::SIP_AUTH_DATA_ITEM,
        &[],
        &[
            code::SIP_ITEM_NUMBER,
            code::SIP_AUTHENTICATION_SCHEME,
            code::SIP_AUTHENTICATE,
            code::SIP_AUTHORIZATION,
            code::SIP_AUTHENTICATION_CONTEXT,
            code::CONFIDENTIALITY_KEY,
            code::INTEGRITY_KEY,
            code::SIP_DIGEST_AUTHENTICATE,
            code::FRAMED_IP_ADDRESS,
            code::FRAMED_IPV6_PREFIX,
            code::FRAMED_INTERFACE_ID,
        ],
    ),
    (
        code::CHARGING_INFORMATION,
        &[],
        &[
            code::PRIMARY_EVENT_CHARGING_FUNCTION_NAME,
            code::SECONDARY_EVENT_CHARGING_FUNCTION_NAME,
            code::PRIMARY_CHARGING_COLLECTION_FUNCTION_NAME,
            code::SECONDARY_CHARGING_COLLECTION_FUNCTION_NAME,
        ],
    ),
];

/// Checks a known Grouped AVP's children against [`GROUPS`]: a missing
/// child is 5005, a repeated one 5009; Failed-AVP is the Grouped AVP
/// holding just the offending child (RFC 6733 §7.5).
fn check_group(avp: &Avp, children: &[Avp]) -> Result<()> {
    let Some((_, required, single)) = GROUPS.iter().find(|(c, _, _)| *c == avp.code) else {
        return Ok(());
    };
    let wrap = |child: Avp| Avp {
        code: avp.code,
        flags: avp.flags,
        data: Avp::grouped(avp.code, [child]).data,
    };
    for r in *required {
        if !children.iter().any(|c| c.code == *r) {
            return Err(DiameterError::avp(
                ResultCode::MISSING_AVP,
                format!("{r} is missing from {}", avp.code),
                &wrap(Avp::new(*r, bytes::Bytes::new())),
            ));
        }
    }
    for s in *single {
        let mut it = children.iter().filter(|c| c.code == *s);
        if let (Some(_), Some(second)) = (it.next(), it.next()) {
            return Err(DiameterError::avp(
                ResultCode::AVP_OCCURS_TOO_MANY_TIMES,
                format!("{s} occurs more than once in {}", avp.code),
                &wrap(second.clone()),
            ));
        }
    }
    Ok(())
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
        AvpType::Utf8String => {
            avp.as_str()?;
        }
        AvpType::DiameterUri => {
            avp.as_uri()?;
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
            let children = avp.children()?;
            for c in &children {
                check_avp(c)?;
            }
            check_group(avp, &children)?;
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
        let grammar = grammar(self.code, self.is_request());
        let cx_single: &[AvpCode] = if is_cx(self.code) {
            &[code::VENDOR_SPECIFIC_APPLICATION_ID]
        } else {
            &[]
        };
        for s in grammar.single.iter().chain(cx_single) {
            let mut it = self.avps_with(*s);
            if let (Some(_), Some(second)) = (it.next(), it.next()) {
                return Err(DiameterError::avp(
                    ResultCode::AVP_OCCURS_TOO_MANY_TIMES,
                    format!("{s} occurs more than once in a {}", self.code),
                    second,
                ));
            }
        }
        for c in grammar.common.iter().chain(grammar.required) {
            self.required(*c)?;
        }
        if grammar.result
            && self.avp(code::RESULT_CODE).is_none()
            && self.avp(code::EXPERIMENTAL_RESULT).is_none()
        {
            self.required(code::RESULT_CODE)?;
        }
        Ok(())
    }
}
