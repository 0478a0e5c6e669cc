//! AVPs: codes (with their vendor), the dictionary of known AVPs, the AVP
//! value itself and its typed accessors.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, Bytes, BytesMut};

use crate::codes::{ResultCode, vendor};
use crate::{DiameterError, Result};

/// An AVP's identity: its code and vendor (0 for IETF AVPs, sent without a
/// Vendor-ID field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AvpCode {
    /// The AVP code.
    pub code: u32,
    /// The Vendor-Id (0: none).
    pub vendor: u32,
}

impl AvpCode {
    /// An IETF AVP.
    pub const fn ietf(code: u32) -> AvpCode {
        AvpCode { code, vendor: 0 }
    }

    /// A 3GPP AVP (vendor 10415).
    pub const fn tgpp(code: u32) -> AvpCode {
        AvpCode {
            code,
            vendor: vendor::TGPP,
        }
    }

    /// The dictionary entry, for a known AVP.
    pub fn definition(self) -> Option<&'static AvpDef> {
        lookup(self)
    }

    /// Whether the dictionary knows this AVP as Grouped.
    pub fn is_grouped(self) -> bool {
        lookup(self).is_some_and(|d| d.kind == AvpType::Grouped)
    }

    /// The AVP's name, for a known AVP.
    pub fn name(self) -> Option<&'static str> {
        self.definition().map(|d| d.name)
    }
}

impl fmt::Display for AvpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.name(), self.vendor) {
            (Some(n), 0) => write!(f, "{n} ({})", self.code),
            (Some(n), v) => write!(f, "{n} ({}, vendor {v})", self.code),
            (None, 0) => write!(f, "AVP {}", self.code),
            (None, v) => write!(f, "AVP {} (vendor {v})", self.code),
        }
    }
}

/// An AVP's data format (RFC 6733 §4.2, §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AvpType {
    /// Arbitrary octets.
    OctetString,
    /// 32-bit signed.
    Integer32,
    /// 64-bit signed.
    Integer64,
    /// 32-bit unsigned.
    Unsigned32,
    /// 64-bit unsigned.
    Unsigned64,
    /// Other AVPs.
    Grouped,
    /// Address family + address.
    Address,
    /// NTP seconds (since 1900).
    Time,
    /// UTF-8 text.
    Utf8String,
    /// An FQDN (ASCII).
    DiameterIdentity,
    /// An `aaa://` / `aaas://` URI.
    DiameterUri,
    /// An Integer32 with named values.
    Enumerated,
}

/// A dictionary entry.
#[derive(Debug)]
pub struct AvpDef {
    /// Code and vendor.
    pub code: AvpCode,
    /// The name used in the specifications.
    pub name: &'static str,
    /// The data format.
    pub kind: AvpType,
    /// Whether the M bit is set when this crate sends it.
    pub mandatory: bool,
}

macro_rules! dictionary {
    ($($name:ident = $ctor:ident($code:expr), $text:literal, $kind:ident, $m:literal;)*) => {
        /// Constants for the known AVPs: base (RFC 6733), Cx/Dx (TS 29.229),
        /// Rf (TS 32.299) and those they reuse (RFC 4006, RFC 5090).
        pub mod code {
            use super::AvpCode;
            $(
                #[doc = concat!($text, " (", stringify!($code), ")")]
                pub const $name: AvpCode = AvpCode::$ctor($code);
            )*
        }

        /// One static definition per known AVP.
        #[allow(non_upper_case_globals)]
        mod defs {
            use super::{AvpDef, AvpType, code};
            $(
                pub(super) static $name: AvpDef =
                    AvpDef { code: code::$name, name: $text, kind: AvpType::$kind, mandatory: $m };
            )*
        }

        /// Every definition, in declaration order.
        static ALL: &[&AvpDef] = &[$(&defs::$name,)*];

        /// The definition of `c`: a `match` the compiler turns into a
        /// decision tree (no hashing, no lazy initialisation).
        fn lookup(c: AvpCode) -> Option<&'static AvpDef> {
            match c {
                $(code::$name => Some(&defs::$name),)*
                _ => None,
            }
        }
    };
}

dictionary! {
    // RFC 6733 base.
    USER_NAME = ietf(1), "User-Name", Utf8String, true;
    CLASS = ietf(25), "Class", OctetString, true;
    SESSION_TIMEOUT = ietf(27), "Session-Timeout", Unsigned32, true;
    PROXY_STATE = ietf(33), "Proxy-State", OctetString, true;
    ACCT_SESSION_ID = ietf(44), "Acct-Session-Id", OctetString, true;
    ACCT_MULTI_SESSION_ID = ietf(50), "Acct-Multi-Session-Id", Utf8String, true;
    EVENT_TIMESTAMP = ietf(55), "Event-Timestamp", Time, true;
    ACCT_INTERIM_INTERVAL = ietf(85), "Acct-Interim-Interval", Unsigned32, true;
    HOST_IP_ADDRESS = ietf(257), "Host-IP-Address", Address, true;
    AUTH_APPLICATION_ID = ietf(258), "Auth-Application-Id", Unsigned32, true;
    ACCT_APPLICATION_ID = ietf(259), "Acct-Application-Id", Unsigned32, true;
    VENDOR_SPECIFIC_APPLICATION_ID = ietf(260), "Vendor-Specific-Application-Id", Grouped, true;
    REDIRECT_HOST_USAGE = ietf(261), "Redirect-Host-Usage", Enumerated, true;
    REDIRECT_MAX_CACHE_TIME = ietf(262), "Redirect-Max-Cache-Time", Unsigned32, true;
    SESSION_ID = ietf(263), "Session-Id", Utf8String, true;
    ORIGIN_HOST = ietf(264), "Origin-Host", DiameterIdentity, true;
    SUPPORTED_VENDOR_ID = ietf(265), "Supported-Vendor-Id", Unsigned32, true;
    VENDOR_ID = ietf(266), "Vendor-Id", Unsigned32, true;
    FIRMWARE_REVISION = ietf(267), "Firmware-Revision", Unsigned32, false;
    RESULT_CODE = ietf(268), "Result-Code", Unsigned32, true;
    PRODUCT_NAME = ietf(269), "Product-Name", Utf8String, false;
    SESSION_BINDING = ietf(270), "Session-Binding", Unsigned32, true;
    SESSION_SERVER_FAILOVER = ietf(271), "Session-Server-Failover", Enumerated, true;
    MULTI_ROUND_TIME_OUT = ietf(272), "Multi-Round-Time-Out", Unsigned32, true;
    DISCONNECT_CAUSE = ietf(273), "Disconnect-Cause", Enumerated, true;
    AUTH_REQUEST_TYPE = ietf(274), "Auth-Request-Type", Enumerated, true;
    AUTH_GRACE_PERIOD = ietf(276), "Auth-Grace-Period", Unsigned32, true;
    AUTH_SESSION_STATE = ietf(277), "Auth-Session-State", Enumerated, true;
    ORIGIN_STATE_ID = ietf(278), "Origin-State-Id", Unsigned32, true;
    FAILED_AVP = ietf(279), "Failed-AVP", Grouped, true;
    PROXY_HOST = ietf(280), "Proxy-Host", DiameterIdentity, true;
    ERROR_MESSAGE = ietf(281), "Error-Message", Utf8String, false;
    ROUTE_RECORD = ietf(282), "Route-Record", DiameterIdentity, true;
    DESTINATION_REALM = ietf(283), "Destination-Realm", DiameterIdentity, true;
    PROXY_INFO = ietf(284), "Proxy-Info", Grouped, true;
    RE_AUTH_REQUEST_TYPE = ietf(285), "Re-Auth-Request-Type", Enumerated, true;
    ACCOUNTING_SUB_SESSION_ID = ietf(287), "Accounting-Sub-Session-Id", Unsigned64, true;
    AUTHORIZATION_LIFETIME = ietf(291), "Authorization-Lifetime", Unsigned32, true;
    REDIRECT_HOST = ietf(292), "Redirect-Host", DiameterUri, true;
    DESTINATION_HOST = ietf(293), "Destination-Host", DiameterIdentity, true;
    ERROR_REPORTING_HOST = ietf(294), "Error-Reporting-Host", DiameterIdentity, false;
    TERMINATION_CAUSE = ietf(295), "Termination-Cause", Enumerated, true;
    ORIGIN_REALM = ietf(296), "Origin-Realm", DiameterIdentity, true;
    EXPERIMENTAL_RESULT = ietf(297), "Experimental-Result", Grouped, true;
    EXPERIMENTAL_RESULT_CODE = ietf(298), "Experimental-Result-Code", Unsigned32, true;
    INBAND_SECURITY_ID = ietf(299), "Inband-Security-Id", Unsigned32, true;
    ACCOUNTING_RECORD_TYPE = ietf(480), "Accounting-Record-Type", Enumerated, true;
    ACCOUNTING_REALTIME_REQUIRED = ietf(483), "Accounting-Realtime-Required", Enumerated, true;
    ACCOUNTING_RECORD_NUMBER = ietf(485), "Accounting-Record-Number", Unsigned32, true;
    // Reused inside Cx SIP-Auth-Data-Item (RFC 4005 / RFC 5090 numbering).
    FRAMED_IP_ADDRESS = ietf(8), "Framed-IP-Address", OctetString, true;
    FRAMED_INTERFACE_ID = ietf(96), "Framed-Interface-Id", Unsigned64, true;
    FRAMED_IPV6_PREFIX = ietf(97), "Framed-IPv6-Prefix", OctetString, true;
    DIGEST_REALM = ietf(104), "Digest-Realm", Utf8String, true;
    DIGEST_QOP = ietf(110), "Digest-QoP", Utf8String, true;
    DIGEST_ALGORITHM = ietf(111), "Digest-Algorithm", Utf8String, true;
    DIGEST_HA1 = ietf(121), "Digest-HA1", Utf8String, true;
    // RFC 4006, reused by Rf.
    SUBSCRIPTION_ID = ietf(443), "Subscription-Id", Grouped, true;
    SUBSCRIPTION_ID_DATA = ietf(444), "Subscription-Id-Data", Utf8String, true;
    SUBSCRIPTION_ID_TYPE = ietf(450), "Subscription-Id-Type", Enumerated, true;
    SERVICE_CONTEXT_ID = ietf(461), "Service-Context-Id", Utf8String, true;
    // TS 29.229 Cx/Dx.
    VISITED_NETWORK_IDENTIFIER = tgpp(600), "Visited-Network-Identifier", OctetString, true;
    PUBLIC_IDENTITY = tgpp(601), "Public-Identity", Utf8String, true;
    SERVER_NAME = tgpp(602), "Server-Name", Utf8String, true;
    SERVER_CAPABILITIES = tgpp(603), "Server-Capabilities", Grouped, true;
    MANDATORY_CAPABILITY = tgpp(604), "Mandatory-Capability", Unsigned32, true;
    OPTIONAL_CAPABILITY = tgpp(605), "Optional-Capability", Unsigned32, true;
    USER_DATA = tgpp(606), "User-Data", OctetString, true;
    SIP_NUMBER_AUTH_ITEMS = tgpp(607), "SIP-Number-Auth-Items", Unsigned32, true;
    SIP_AUTHENTICATION_SCHEME = tgpp(608), "SIP-Authentication-Scheme", Utf8String, true;
    SIP_AUTHENTICATE = tgpp(609), "SIP-Authenticate", OctetString, true;
    SIP_AUTHORIZATION = tgpp(610), "SIP-Authorization", OctetString, true;
    SIP_AUTHENTICATION_CONTEXT = tgpp(611), "SIP-Authentication-Context", OctetString, true;
    SIP_AUTH_DATA_ITEM = tgpp(612), "SIP-Auth-Data-Item", Grouped, true;
    SIP_ITEM_NUMBER = tgpp(613), "SIP-Item-Number", Unsigned32, true;
    SERVER_ASSIGNMENT_TYPE = tgpp(614), "Server-Assignment-Type", Enumerated, true;
    DEREGISTRATION_REASON = tgpp(615), "Deregistration-Reason", Grouped, true;
    REASON_CODE = tgpp(616), "Reason-Code", Enumerated, true;
    REASON_INFO = tgpp(617), "Reason-Info", Utf8String, true;
    CHARGING_INFORMATION = tgpp(618), "Charging-Information", Grouped, true;
    PRIMARY_EVENT_CHARGING_FUNCTION_NAME = tgpp(619), "Primary-Event-Charging-Function-Name", DiameterUri, true;
    SECONDARY_EVENT_CHARGING_FUNCTION_NAME = tgpp(620), "Secondary-Event-Charging-Function-Name", DiameterUri, true;
    PRIMARY_CHARGING_COLLECTION_FUNCTION_NAME = tgpp(621), "Primary-Charging-Collection-Function-Name", DiameterUri, true;
    SECONDARY_CHARGING_COLLECTION_FUNCTION_NAME = tgpp(622), "Secondary-Charging-Collection-Function-Name", DiameterUri, true;
    USER_AUTHORIZATION_TYPE = tgpp(623), "User-Authorization-Type", Enumerated, true;
    USER_DATA_ALREADY_AVAILABLE = tgpp(624), "User-Data-Already-Available", Enumerated, true;
    CONFIDENTIALITY_KEY = tgpp(625), "Confidentiality-Key", OctetString, true;
    INTEGRITY_KEY = tgpp(626), "Integrity-Key", OctetString, true;
    SUPPORTED_FEATURES = tgpp(628), "Supported-Features", Grouped, false;
    FEATURE_LIST_ID = tgpp(629), "Feature-List-ID", Unsigned32, false;
    FEATURE_LIST = tgpp(630), "Feature-List", Unsigned32, false;
    SUPPORTED_APPLICATIONS = tgpp(631), "Supported-Applications", Grouped, false;
    ASSOCIATED_IDENTITIES = tgpp(632), "Associated-Identities", Grouped, false;
    ORIGINATING_REQUEST = tgpp(633), "Originating-Request", Enumerated, true;
    WILDCARDED_PSI = tgpp(634), "Wildcarded-PSI", Utf8String, false;
    SIP_DIGEST_AUTHENTICATE = tgpp(635), "SIP-Digest-Authenticate", Grouped, false;
    WILDCARDED_IMPU = tgpp(636), "Wildcarded-IMPU", Utf8String, false;
    UAR_FLAGS = tgpp(637), "UAR-Flags", Unsigned32, false;
    LOOSE_ROUTE_INDICATION = tgpp(638), "Loose-Route-Indication", Enumerated, false;
    SCSCF_RESTORATION_INFO = tgpp(639), "SCSCF-Restoration-Info", Grouped, false;
    PATH = tgpp(640), "Path", OctetString, true;
    CONTACT = tgpp(641), "Contact", OctetString, true;
    SUBSCRIPTION_INFO = tgpp(642), "Subscription-Info", Grouped, true;
    CALL_ID_SIP_HEADER = tgpp(643), "Call-ID-SIP-Header", OctetString, true;
    FROM_SIP_HEADER = tgpp(644), "From-SIP-Header", OctetString, true;
    TO_SIP_HEADER = tgpp(645), "To-SIP-Header", OctetString, true;
    RECORD_ROUTE = tgpp(646), "Record-Route", OctetString, true;
    ASSOCIATED_REGISTERED_IDENTITIES = tgpp(647), "Associated-Registered-Identities", Grouped, false;
    MULTIPLE_REGISTRATION_INDICATION = tgpp(648), "Multiple-Registration-Indication", Enumerated, false;
    RESTORATION_INFO = tgpp(649), "Restoration-Info", Grouped, false;
    SESSION_PRIORITY = tgpp(650), "Session-Priority", Enumerated, false;
    IDENTITY_WITH_EMERGENCY_REGISTRATION = tgpp(651), "Identity-with-Emergency-Registration", Grouped, false;
    PRIVILEDGED_SENDER_INDICATION = tgpp(652), "Priviledged-Sender-Indication", Enumerated, false;
    LIA_FLAGS = tgpp(653), "LIA-Flags", Unsigned32, false;
    INITIAL_CSEQ_SEQUENCE_NUMBER = tgpp(654), "Initial-CSeq-Sequence-Number", Unsigned32, false;
    SAR_FLAGS = tgpp(655), "SAR-Flags", Unsigned32, false;
    // TS 32.299 Rf.
    EVENT_TYPE = tgpp(823), "Event-Type", Grouped, true;
    SIP_METHOD = tgpp(824), "SIP-Method", Utf8String, true;
    EVENT = tgpp(825), "Event", Utf8String, true;
    ROLE_OF_NODE = tgpp(829), "Role-of-Node", Enumerated, true;
    USER_SESSION_ID = tgpp(830), "User-Session-Id", Utf8String, true;
    CALLING_PARTY_ADDRESS = tgpp(831), "Calling-Party-Address", Utf8String, true;
    CALLED_PARTY_ADDRESS = tgpp(832), "Called-Party-Address", Utf8String, true;
    TIME_STAMPS = tgpp(833), "Time-Stamps", Grouped, true;
    SIP_REQUEST_TIMESTAMP = tgpp(834), "SIP-Request-Timestamp", Time, true;
    SIP_RESPONSE_TIMESTAMP = tgpp(835), "SIP-Response-Timestamp", Time, true;
    APPLICATION_SERVER = tgpp(836), "Application-Server", Utf8String, true;
    APPLICATION_PROVIDED_CALLED_PARTY_ADDRESS = tgpp(837), "Application-Provided-Called-Party-Address", Utf8String, true;
    INTER_OPERATOR_IDENTIFIER = tgpp(838), "Inter-Operator-Identifier", Grouped, true;
    ORIGINATING_IOI = tgpp(839), "Originating-IOI", Utf8String, true;
    TERMINATING_IOI = tgpp(840), "Terminating-IOI", Utf8String, true;
    IMS_CHARGING_IDENTIFIER = tgpp(841), "IMS-Charging-Identifier", Utf8String, true;
    SDP_SESSION_DESCRIPTION = tgpp(842), "SDP-Session-Description", Utf8String, true;
    SDP_MEDIA_COMPONENT = tgpp(843), "SDP-Media-Component", Grouped, true;
    SDP_MEDIA_NAME = tgpp(844), "SDP-Media-Name", Utf8String, true;
    SDP_MEDIA_DESCRIPTION = tgpp(845), "SDP-Media-Description", Utf8String, true;
    SERVED_PARTY_IP_ADDRESS = tgpp(848), "Served-Party-IP-Address", Address, true;
    APPLICATION_SERVER_INFORMATION = tgpp(850), "Application-Server-Information", Grouped, true;
    CAUSE_CODE = tgpp(861), "Cause-Code", Integer32, true;
    NODE_FUNCTIONALITY = tgpp(862), "Node-Functionality", Enumerated, true;
    SERVICE_INFORMATION = tgpp(873), "Service-Information", Grouped, true;
    IMS_INFORMATION = tgpp(876), "IMS-Information", Grouped, true;
    MEDIA_INITIATOR_FLAG = tgpp(882), "Media-Initiator-Flag", Enumerated, true;
    EXPIRES = tgpp(888), "Expires", Unsigned32, true;
    CALLED_ASSERTED_IDENTITY = tgpp(1250), "Called-Asserted-Identity", Utf8String, true;
    REQUESTED_PARTY_ADDRESS = tgpp(1251), "Requested-Party-Address", Utf8String, true;
    ACCESS_NETWORK_INFORMATION = tgpp(1263), "Access-Network-Information", OctetString, true;
    IMS_COMMUNICATION_SERVICE_IDENTIFIER = tgpp(1281), "IMS-Communication-Service-Identifier", Utf8String, true;
}

/// Every known AVP.
pub fn dictionary() -> impl Iterator<Item = &'static AvpDef> {
    ALL.iter().copied()
}

/// The AVP flags (RFC 6733 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct AvpFlags(pub u8);

impl AvpFlags {
    /// V: a Vendor-ID field follows.
    pub const VENDOR: u8 = 0x80;
    /// M: the receiver must understand it.
    pub const MANDATORY: u8 = 0x40;
    /// P: end-to-end security (deprecated).
    pub const PROTECTED: u8 = 0x20;
    /// The reserved bits (sent as 0).
    pub const RESERVED: u8 = 0x1f;

    /// V.
    pub fn is_vendor(self) -> bool {
        self.0 & Self::VENDOR != 0
    }
    /// M.
    pub fn is_mandatory(self) -> bool {
        self.0 & Self::MANDATORY != 0
    }
}

/// One AVP: code, flags and data (a slice of the received message, or the
/// encoded value for one being built). Grouped AVPs hold their encoded
/// children; [`Avp::children`] decodes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Avp {
    /// Code and vendor.
    pub code: AvpCode,
    /// The flags as received (or as set by the constructor).
    pub flags: AvpFlags,
    /// The data, without padding.
    pub data: Bytes,
}

/// Seconds from 1900-01-01 (NTP, the Time format's epoch) to 1970-01-01.
pub const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

impl Avp {
    /// An AVP with the flags the dictionary gives it (V when the vendor is
    /// not 0; M when the definition says so, or for an unknown AVP).
    pub fn new(code: AvpCode, data: impl Into<Bytes>) -> Avp {
        let mut flags = 0;
        if code.vendor != 0 {
            flags |= AvpFlags::VENDOR;
        }
        if code.definition().is_none_or(|d| d.mandatory) {
            flags |= AvpFlags::MANDATORY;
        }
        Avp {
            code,
            flags: AvpFlags(flags),
            data: data.into(),
        }
    }

    /// Replaces the M bit.
    pub fn mandatory(mut self, m: bool) -> Avp {
        if m {
            self.flags.0 |= AvpFlags::MANDATORY;
        } else {
            self.flags.0 &= !AvpFlags::MANDATORY;
        }
        self
    }

    /// A UTF8String, DiameterIdentity or DiameterURI AVP.
    pub fn utf8(code: AvpCode, s: &str) -> Avp {
        Avp::new(code, Bytes::copy_from_slice(s.as_bytes()))
    }

    /// An OctetString AVP.
    pub fn octets(code: AvpCode, b: &[u8]) -> Avp {
        Avp::new(code, Bytes::copy_from_slice(b))
    }

    /// An Unsigned32 (or Enumerated, as its number) AVP.
    pub fn u32(code: AvpCode, v: u32) -> Avp {
        Avp::new(code, Bytes::copy_from_slice(&v.to_be_bytes()))
    }

    /// An Integer32 or Enumerated AVP.
    pub fn i32(code: AvpCode, v: i32) -> Avp {
        Avp::new(code, Bytes::copy_from_slice(&v.to_be_bytes()))
    }

    /// An Unsigned64 AVP.
    pub fn u64(code: AvpCode, v: u64) -> Avp {
        Avp::new(code, Bytes::copy_from_slice(&v.to_be_bytes()))
    }

    /// An Address AVP.
    pub fn address(code: AvpCode, ip: IpAddr) -> Avp {
        let mut b = BytesMut::with_capacity(18);
        match ip {
            IpAddr::V4(a) => {
                b.put_u16(1);
                b.put_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                b.put_u16(2);
                b.put_slice(&a.octets());
            }
        }
        Avp::new(code, b.freeze())
    }

    /// A Time AVP from Unix seconds (sent as NTP seconds, modulo 2^32 as
    /// RFC 6733 §4.3.1 allows past 2036).
    pub fn time(code: AvpCode, unix_seconds: u64) -> Avp {
        Avp::u32(
            code,
            (unix_seconds.wrapping_add(NTP_UNIX_OFFSET) & 0xffff_ffff) as u32,
        )
    }

    /// A Grouped AVP holding `children`, encoded now.
    pub fn grouped(code: AvpCode, children: impl IntoIterator<Item = Avp>) -> Avp {
        let mut b = BytesMut::new();
        for c in children {
            c.encode_into(&mut b);
        }
        Avp::new(code, b.freeze())
    }

    /// The header size: 12 with a Vendor-ID, else 8.
    pub fn header_len(&self) -> usize {
        if self.flags.is_vendor() { 12 } else { 8 }
    }

    /// The encoded length without padding (the AVP Length field).
    pub fn encoded_len(&self) -> usize {
        self.header_len() + self.data.len()
    }

    /// The encoded length with padding.
    pub fn padded_len(&self) -> usize {
        self.encoded_len().next_multiple_of(4)
    }

    /// Appends the encoded AVP (with padding) to `out`.
    pub fn encode_into(&self, out: &mut BytesMut) {
        let header_len = self.header_len();
        let len = header_len + self.data.len();
        let mut h = [0u8; 12];
        h[..4].copy_from_slice(&self.code.code.to_be_bytes());
        // The AVP Length field is 24 bits; values are built by this crate or
        // decoded from a message whose length fits 24 bits.
        h[4..8].copy_from_slice(
            &(u32::from(self.flags.0) << 24 | (len as u32 & 0x00ff_ffff)).to_be_bytes(),
        );
        h[8..].copy_from_slice(&self.code.vendor.to_be_bytes());
        // A no-op inside `Message::encode_into`, which reserves the whole.
        out.reserve(len.next_multiple_of(4));
        out.extend_from_slice(&h[..header_len]);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&[0; 3][..len.next_multiple_of(4) - len]);
    }

    fn invalid_length(&self, why: &str) -> DiameterError {
        DiameterError::avp(
            ResultCode::INVALID_AVP_LENGTH,
            format!("{}: {why}", self.code),
            self,
        )
    }

    fn invalid_value(&self, why: &str) -> DiameterError {
        DiameterError::avp(
            ResultCode::INVALID_AVP_VALUE,
            format!("{}: {why}", self.code),
            self,
        )
    }

    fn fixed<const N: usize>(&self) -> Result<[u8; N]> {
        <[u8; N]>::try_from(&self.data[..])
            .map_err(|_| self.invalid_length(&format!("{} octets, expected {N}", self.data.len())))
    }

    /// As Unsigned32 (5014 INVALID_AVP_LENGTH unless 4 octets).
    pub fn as_u32(&self) -> Result<u32> {
        self.fixed::<4>().map(u32::from_be_bytes)
    }

    /// As Integer32 or Enumerated.
    pub fn as_i32(&self) -> Result<i32> {
        self.fixed::<4>().map(i32::from_be_bytes)
    }

    /// As Unsigned64.
    pub fn as_u64(&self) -> Result<u64> {
        self.fixed::<8>().map(u64::from_be_bytes)
    }

    /// As Integer64.
    pub fn as_i64(&self) -> Result<i64> {
        self.fixed::<8>().map(i64::from_be_bytes)
    }

    /// As UTF8String (5004 INVALID_AVP_VALUE unless valid UTF-8).
    pub fn as_str(&self) -> Result<&str> {
        std::str::from_utf8(&self.data).map_err(|_| self.invalid_value("not UTF-8"))
    }

    /// As DiameterURI (RFC 6733 §4.3.1): non-empty printable ASCII without
    /// spaces. The `aaa://` / `aaas://` form is not required: HSS
    /// deployments fill charging function names with other text, and the
    /// value is passed on, not dialled.
    pub fn as_uri(&self) -> Result<&str> {
        if self.data.is_empty() || !self.data.iter().all(|b| b.is_ascii_graphic()) {
            return Err(self.invalid_value("not a DiameterURI"));
        }
        self.as_str()
    }

    /// As DiameterIdentity: non-empty printable ASCII without spaces.
    pub fn as_identity(&self) -> Result<&str> {
        if self.data.is_empty() || !self.data.iter().all(|b| b.is_ascii_graphic()) {
            return Err(self.invalid_value("not a DiameterIdentity (FQDN)"));
        }
        self.as_str()
    }

    /// As Address (IPv4 or IPv6; other families are 5004).
    pub fn as_address(&self) -> Result<IpAddr> {
        let d = &self.data[..];
        match d {
            [0, 1, a, b, c, e] => Ok(IpAddr::V4(Ipv4Addr::new(*a, *b, *c, *e))),
            [0, 2, rest @ ..] if rest.len() == 16 => {
                let mut o = [0u8; 16];
                o.copy_from_slice(rest);
                Ok(IpAddr::V6(Ipv6Addr::from(o)))
            }
            [0, 1, ..] | [0, 2, ..] => Err(self.invalid_length("address of the wrong length")),
            _ => Err(self.invalid_value("not an IPv4 or IPv6 address")),
        }
    }

    /// As Time, in Unix seconds (NTP era 0, or era 1 for values below
    /// 2^31 as RFC 6733 §4.3.1 describes).
    pub fn as_time(&self) -> Result<u64> {
        let ntp = u64::from(self.as_u32()?);
        let ntp = if ntp < 1 << 31 { ntp + (1 << 32) } else { ntp };
        Ok(ntp.saturating_sub(NTP_UNIX_OFFSET))
    }

    /// The children of a Grouped AVP, decoded (5014 for a child whose
    /// length does not fit).
    pub fn children(&self) -> Result<Vec<Avp>> {
        AvpIter::new(self.data.clone()).collect()
    }

    /// The first child with `code`.
    pub fn child(&self, code: AvpCode) -> Result<Option<Avp>> {
        for c in AvpIter::new(self.data.clone()) {
            let c = c?;
            if c.code == code {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }
}

/// Decodes a run of AVPs (a message body or a Grouped AVP's data).
pub struct AvpIter {
    buf: Bytes,
    pos: usize,
}

impl AvpIter {
    /// Iterates over the AVPs in `buf`.
    pub fn new(buf: Bytes) -> AvpIter {
        AvpIter { buf, pos: 0 }
    }
}

impl Iterator for AvpIter {
    type Item = Result<Avp>;

    fn next(&mut self) -> Option<Result<Avp>> {
        let rest = self.buf.len() - self.pos;
        if rest == 0 {
            return None;
        }
        match decode_avp(&self.buf, self.pos) {
            Ok((avp, next)) => {
                self.pos = next;
                Some(Ok(avp))
            }
            Err(e) => {
                self.pos = self.buf.len();
                Some(Err(e))
            }
        }
    }
}

/// An AVP header read in place: where the data lies and where the next AVP
/// starts.
pub(crate) struct AvpHeader {
    pub(crate) code: AvpCode,
    pub(crate) flags: AvpFlags,
    /// The data's range in the buffer read.
    pub(crate) data: std::ops::Range<usize>,
    /// The offset after the padding.
    pub(crate) next: usize,
}

/// Reads the header of the AVP at `pos` of `b`, checking that its length
/// fits (5014 otherwise, with the header as received for Failed-AVP: RFC
/// 6733 §7.5).
pub(crate) fn read_header(b: &[u8], pos: usize) -> Result<AvpHeader> {
    let rest = b.get(pos..).unwrap_or_default();
    let Some(h) = rest.first_chunk::<8>() else {
        return Err(DiameterError::new(
            ResultCode::INVALID_AVP_LENGTH,
            format!(
                "{} octets left at offset {pos}: too short for an AVP header",
                rest.len()
            ),
        ));
    };
    let code = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    let flags = AvpFlags(h[4]);
    let len = u32::from_be_bytes([0, h[5], h[6], h[7]]) as usize;
    let (vendor, header) = if flags.is_vendor() {
        let Some(v) = rest.get(8..12) else {
            return Err(DiameterError::new(
                ResultCode::INVALID_AVP_LENGTH,
                format!("AVP {code} at offset {pos}: no room for its Vendor-ID"),
            ));
        };
        (u32::from_be_bytes([v[0], v[1], v[2], v[3]]), 12)
    } else {
        (0, 8)
    };
    let code = AvpCode { code, vendor };
    if len < header || len > rest.len() {
        return Err(DiameterError::avp(
            ResultCode::INVALID_AVP_LENGTH,
            format!(
                "AVP {} at offset {pos}: length {len} does not fit ({} octets left)",
                code.code,
                rest.len()
            ),
            &Avp {
                code,
                flags,
                data: Bytes::new(),
            },
        ));
    }
    Ok(AvpHeader {
        code,
        flags,
        data: pos + header..pos + len,
        next: pos + len.next_multiple_of(4).min(rest.len()),
    })
}

/// Decodes the AVP at `pos` of `buf`; returns it and the offset after its
/// padding.
pub(crate) fn decode_avp(buf: &Bytes, pos: usize) -> Result<(Avp, usize)> {
    let h = read_header(buf, pos)?;
    let avp = Avp {
        code: h.code,
        flags: h.flags,
        data: buf.slice(h.data),
    };
    Ok((avp, h.next))
}
