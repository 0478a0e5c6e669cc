//! Open newtypes for the numbers of the protocol: command codes, application
//! ids, result codes, vendor ids. Unknown values are carried as they are.

use std::fmt;

macro_rules! open_u32 {
    ($(#[$doc:meta])* $name:ident { $($(#[$cdoc:meta])* $c:ident = $v:expr),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);

        impl $name {
            $($(#[$cdoc])* pub const $c: $name = $name($v);)*

            /// The constant's name, for a known value.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $($name::$c => Some(stringify!($c)),)*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{} ({})", self.0, n),
                    None => write!(f, "{}", self.0),
                }
            }
        }
    };
}

open_u32!(
    /// A command code (RFC 6733 §3; TS 29.229 §6.1 for Cx).
    CommandCode {
        /// CER / CEA.
        CAPABILITIES_EXCHANGE = 257,
        /// RAR / RAA.
        RE_AUTH = 258,
        /// ACR / ACA (Rf).
        ACCOUNTING = 271,
        /// ASR / ASA.
        ABORT_SESSION = 274,
        /// STR / STA.
        SESSION_TERMINATION = 275,
        /// DWR / DWA.
        DEVICE_WATCHDOG = 280,
        /// DPR / DPA.
        DISCONNECT_PEER = 282,
        /// UAR / UAA (Cx).
        USER_AUTHORIZATION = 300,
        /// SAR / SAA (Cx).
        SERVER_ASSIGNMENT = 301,
        /// LIR / LIA (Cx).
        LOCATION_INFO = 302,
        /// MAR / MAA (Cx).
        MULTIMEDIA_AUTH = 303,
        /// RTR / RTA (Cx, HSS → S-CSCF).
        REGISTRATION_TERMINATION = 304,
        /// PPR / PPA (Cx, HSS → S-CSCF).
        PUSH_PROFILE = 305,
    }
);

open_u32!(
    /// An application id (RFC 6733 §2.4).
    ApplicationId {
        /// The base protocol's common messages (CER, DWR, DPR).
        COMMON = 0,
        /// Base accounting (Rf).
        ACCOUNTING = 3,
        /// 3GPP Cx/Dx.
        CX = 16_777_216,
        /// 3GPP Sh/Dh.
        SH = 16_777_217,
        /// Relay agents.
        RELAY = 0xffff_ffff,
    }
);

open_u32!(
    /// A Result-Code (RFC 6733 §7.1) or, with a vendor, an
    /// Experimental-Result-Code (TS 29.229 §6.2 for Cx).
    ResultCode {
        /// 1001: more rounds needed.
        MULTI_ROUND_AUTH = 1001,
        /// 2001.
        SUCCESS = 2001,
        /// 2002.
        LIMITED_SUCCESS = 2002,
        /// 3001: the command code is not supported.
        COMMAND_UNSUPPORTED = 3001,
        /// 3002: no route to the destination.
        UNABLE_TO_DELIVER = 3002,
        /// 3003: the realm is not served.
        REALM_NOT_SERVED = 3003,
        /// 3004: the peer is too busy.
        TOO_BUSY = 3004,
        /// 3005: a routing loop.
        LOOP_DETECTED = 3005,
        /// 3006: redirect.
        REDIRECT_INDICATION = 3006,
        /// 3007: the application is not supported.
        APPLICATION_UNSUPPORTED = 3007,
        /// 3008: bad command flags.
        INVALID_HDR_BITS = 3008,
        /// 3009: bad AVP flags.
        INVALID_AVP_BITS = 3009,
        /// 3010: CER from an unknown peer.
        UNKNOWN_PEER = 3010,
        /// 4001.
        AUTHENTICATION_REJECTED = 4001,
        /// 4002.
        OUT_OF_SPACE = 4002,
        /// 4003: lost the connection election.
        ELECTION_LOST = 4003,
        /// 5001: an AVP with the M bit that is not understood.
        AVP_UNSUPPORTED = 5001,
        /// 5002.
        UNKNOWN_SESSION_ID = 5002,
        /// 5003.
        AUTHORIZATION_REJECTED = 5003,
        /// 5004: an AVP value out of range or malformed.
        INVALID_AVP_VALUE = 5004,
        /// 5005: a required AVP is missing.
        MISSING_AVP = 5005,
        /// 5006.
        RESOURCES_EXCEEDED = 5006,
        /// 5007.
        CONTRADICTING_AVPS = 5007,
        /// 5008: an AVP that must not be present.
        AVP_NOT_ALLOWED = 5008,
        /// 5009: an AVP present more often than allowed.
        AVP_OCCURS_TOO_MANY_TIMES = 5009,
        /// 5010: no common application in the capabilities exchange.
        NO_COMMON_APPLICATION = 5010,
        /// 5011: not Diameter version 1.
        UNSUPPORTED_VERSION = 5011,
        /// 5012.
        UNABLE_TO_COMPLY = 5012,
        /// 5013.
        INVALID_BIT_IN_HEADER = 5013,
        /// 5014: an AVP length that is impossible or wrong for its type.
        INVALID_AVP_LENGTH = 5014,
        /// 5015: a message length that is impossible.
        INVALID_MESSAGE_LENGTH = 5015,
        /// 5016.
        INVALID_AVP_BIT_COMBO = 5016,
        /// 5017.
        NO_COMMON_SECURITY = 5017,
    }
);

impl ResultCode {
    /// Cx Experimental-Result-Codes (vendor 10415, TS 29.229 §6.2). They
    /// share numbers with base codes, so they are not constants of the
    /// type: compare them together with the vendor.
    pub const CX_FIRST_REGISTRATION: ResultCode = ResultCode(2001);
    /// Cx 2002.
    pub const CX_SUBSEQUENT_REGISTRATION: ResultCode = ResultCode(2002);
    /// Cx 2003.
    pub const CX_UNREGISTERED_SERVICE: ResultCode = ResultCode(2003);
    /// Cx 2004.
    pub const CX_SUCCESS_SERVER_NAME_NOT_STORED: ResultCode = ResultCode(2004);
    /// Cx 5001.
    pub const CX_ERROR_USER_UNKNOWN: ResultCode = ResultCode(5001);
    /// Cx 5002.
    pub const CX_ERROR_IDENTITIES_DONT_MATCH: ResultCode = ResultCode(5002);
    /// Cx 5003.
    pub const CX_ERROR_IDENTITY_NOT_REGISTERED: ResultCode = ResultCode(5003);
    /// Cx 5004.
    pub const CX_ERROR_ROAMING_NOT_ALLOWED: ResultCode = ResultCode(5004);
    /// Cx 5005.
    pub const CX_ERROR_IDENTITY_ALREADY_REGISTERED: ResultCode = ResultCode(5005);
    /// Cx 5006.
    pub const CX_ERROR_AUTH_SCHEME_NOT_SUPPORTED: ResultCode = ResultCode(5006);
    /// Cx 5007.
    pub const CX_ERROR_IN_ASSIGNMENT_TYPE: ResultCode = ResultCode(5007);
    /// Cx 5008.
    pub const CX_ERROR_TOO_MUCH_DATA: ResultCode = ResultCode(5008);
    /// Cx 5009.
    pub const CX_ERROR_NOT_SUPPORTED_USER_DATA: ResultCode = ResultCode(5009);
    /// Cx 5011.
    pub const CX_ERROR_FEATURE_UNSUPPORTED: ResultCode = ResultCode(5011);

    /// 1xxx.
    pub fn is_informational(self) -> bool {
        (1000..2000).contains(&self.0)
    }
    /// 2xxx.
    pub fn is_success(self) -> bool {
        (2000..3000).contains(&self.0)
    }
    /// 3xxx: protocol errors, answered with the E bit set.
    pub fn is_protocol_error(self) -> bool {
        (3000..4000).contains(&self.0)
    }
    /// 4xxx.
    pub fn is_transient_failure(self) -> bool {
        (4000..5000).contains(&self.0)
    }
    /// 5xxx.
    pub fn is_permanent_failure(self) -> bool {
        (5000..6000).contains(&self.0)
    }
}

/// Vendor-Id values.
pub mod vendor {
    /// IETF (no Vendor-ID field).
    pub const IETF: u32 = 0;
    /// 3GPP.
    pub const TGPP: u32 = 10415;
    /// ETSI.
    pub const ETSI: u32 = 13019;
}

/// The command flags (RFC 6733 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct CommandFlags(pub u8);

impl CommandFlags {
    /// R: a request.
    pub const REQUEST: u8 = 0x80;
    /// P: proxiable.
    pub const PROXIABLE: u8 = 0x40;
    /// E: an answer carrying a protocol error.
    pub const ERROR: u8 = 0x20;
    /// T: potentially retransmitted.
    pub const RETRANSMIT: u8 = 0x10;
    /// The reserved bits (sent as 0).
    pub const RESERVED: u8 = 0x0f;

    /// R.
    pub fn is_request(self) -> bool {
        self.0 & Self::REQUEST != 0
    }
    /// P.
    pub fn is_proxiable(self) -> bool {
        self.0 & Self::PROXIABLE != 0
    }
    /// E.
    pub fn is_error(self) -> bool {
        self.0 & Self::ERROR != 0
    }
    /// T.
    pub fn is_retransmit(self) -> bool {
        self.0 & Self::RETRANSMIT != 0
    }
}
