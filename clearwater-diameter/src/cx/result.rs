//! [`CxResult`]: an answer's outcome.

use std::fmt;

use crate::avp::{Avp, code};
use crate::codes::{CommandFlags, ResultCode, vendor};
use crate::message::Message;
use crate::{DiameterError, Result};

/// An answer's outcome: a base Result-Code (RFC 6733 §7.1) or a vendor's
/// Experimental-Result (for Cx, vendor 10415 and the codes of TS 29.229
/// §6.2, such as [`ResultCode::CX_ERROR_USER_UNKNOWN`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CxResult {
    /// Result-Code.
    Base(ResultCode),
    /// Experimental-Result.
    Experimental {
        /// Vendor-Id (10415 for Cx).
        vendor: u32,
        /// Experimental-Result-Code.
        code: ResultCode,
    },
}

impl CxResult {
    /// Result-Code DIAMETER_SUCCESS (2001).
    pub const SUCCESS: CxResult = CxResult::Base(ResultCode::SUCCESS);

    /// A Cx Experimental-Result (vendor 10415).
    pub const fn cx(code: ResultCode) -> CxResult {
        CxResult::Experimental {
            vendor: vendor::TGPP,
            code,
        }
    }

    /// From a (vendor, code) pair, vendor 0 meaning a base Result-Code (the
    /// shape of `HssError::cx_result` in clearwater-hss).
    pub fn from_vendor_code(vendor: u32, code: u32) -> CxResult {
        if vendor == 0 {
            CxResult::Base(ResultCode(code))
        } else {
            CxResult::Experimental {
                vendor,
                code: ResultCode(code),
            }
        }
    }

    /// The (vendor, code) pair, vendor 0 for a base Result-Code.
    pub fn vendor_code(self) -> (u32, u32) {
        (self.vendor(), self.code().0)
    }

    /// The code, base or experimental.
    pub fn code(self) -> ResultCode {
        match self {
            CxResult::Base(c) | CxResult::Experimental { code: c, .. } => c,
        }
    }

    /// The vendor (0 for a base Result-Code).
    pub fn vendor(self) -> u32 {
        match self {
            CxResult::Base(_) => 0,
            CxResult::Experimental { vendor, .. } => vendor,
        }
    }

    /// 2xxx, base or experimental (DIAMETER_FIRST_REGISTRATION and the other
    /// Cx 2xxx codes are successes too).
    pub fn is_success(self) -> bool {
        self.code().is_success()
    }

    /// Whether this is the Cx Experimental-Result `code` (vendor 10415).
    pub fn is_cx(self, code: ResultCode) -> bool {
        self == CxResult::cx(code)
    }

    /// A base protocol error (3xxx): the answer has the E bit.
    pub fn is_protocol_error(self) -> bool {
        matches!(self, CxResult::Base(c) if c.is_protocol_error())
    }

    /// The Result-Code or Experimental-Result AVP.
    pub fn to_avp(self) -> Avp {
        match self {
            CxResult::Base(c) => Avp::u32(code::RESULT_CODE, c.0),
            CxResult::Experimental { vendor, code: c } => Avp::grouped(
                code::EXPERIMENTAL_RESULT,
                [
                    Avp::u32(code::VENDOR_ID, vendor),
                    Avp::u32(code::EXPERIMENTAL_RESULT_CODE, c.0),
                ],
            ),
        }
    }

    /// Adds the AVP to an answer, setting the E bit for a protocol error.
    pub fn write(self, answer: &mut Message) {
        if self.is_protocol_error() {
            answer.flags.0 |= CommandFlags::ERROR;
        }
        answer.push(self.to_avp());
    }

    /// Reads an answer's Result-Code, else its Experimental-Result (5005
    /// naming Result-Code when it has neither).
    pub fn from_message(m: &Message) -> Result<CxResult> {
        if let Some(rc) = m.result_code()? {
            return Ok(CxResult::Base(rc));
        }
        if let Some((vendor, code)) = m.experimental_result()? {
            return Ok(CxResult::Experimental { vendor, code });
        }
        Err(DiameterError::avp(
            crate::ResultCode::MISSING_AVP,
            "neither Result-Code nor Experimental-Result",
            &Avp::new(code::RESULT_CODE, bytes::Bytes::new()),
        ))
    }
}

impl From<ResultCode> for CxResult {
    fn from(c: ResultCode) -> CxResult {
        CxResult::Base(c)
    }
}

impl fmt::Display for CxResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CxResult::Base(c) => write!(f, "Result-Code {c}"),
            CxResult::Experimental { vendor, code } => {
                write!(f, "Experimental-Result {} (vendor {vendor})", code.0)
            }
        }
    }
}
