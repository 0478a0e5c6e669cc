//! # clearwater-hss
//!
//! The HSS side of the clearwater IMS SDK (Clearwater's Homestead):
//!
//! * [`milenage`]: the 3GPP Milenage algorithm set (TS 35.206) and AKA
//!   authentication vectors, with SQN management and re-synchronisation;
//! * [`subscription`]: the IMS subscription model and its XML (TS 29.228
//!   Annex E, the Cx User-Data);
//! * [`hss`]: the [`Hss`] trait, the Cx operations (MAR, SAR, UAR, LIR and
//!   inbound PPR/RTR) the CSCFs need, in plain Rust types;
//! * [`digest`]: SIP digest HA1.
//!
//! With the `runtime` feature (default), the backends and services:
//!
//! * [`local`]: [`Provisioning`] (the subscriber master on a durable
//!   `clearwater-store`) and [`LocalHss`], answering Cx from it;
//! * [`cx`]: [`cx::CxHss`], Diameter Cx to a real HSS through
//!   `clearwater_diameter::runtime::Node`;
//! * [`cached`]: [`CachedHss`], Clearwater's registration-data cache in
//!   front of any other backend, invalidated by PPR/RTR;
//! * [`HttpHss`]: a client of the Homestead API, so Sprout runs apart
//!   from Dime;
//! * [`homestead`] and [`prov`]: the Homestead (8888) and Homestead-prov
//!   (8889) compatible HTTP APIs, with [`http`] shared-secret API keys.

#[cfg(feature = "runtime")]
pub mod cached;
#[cfg(feature = "runtime")]
pub mod cx;
pub mod digest;
pub mod homestead;
pub mod hss;
#[cfg(feature = "runtime")]
pub mod http;
#[cfg(feature = "runtime")]
mod http_client;
#[cfg(feature = "runtime")]
pub mod local;
pub mod milenage;
#[cfg(feature = "runtime")]
pub mod prov;
pub mod subscription;

pub use hss::{
    AssignmentType, AuthRequest, AuthScheme, AuthVector, AuthorizationType, Capabilities,
    ChargingAddresses, DigestVector, Hss, HssEvent, HssListener, LocationQuery, RegData,
    RegistrationState, Resync, SelectionResult, ServerAssignment, ServerSelection,
    UserAuthorization,
};

#[cfg(feature = "runtime")]
pub use cached::{CacheConfig, CachedHss};
#[cfg(feature = "runtime")]
pub use http_client::HttpHss;
#[cfg(feature = "runtime")]
pub use local::{LocalHss, Provisioning};

/// The one error type of this crate.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HssError {
    /// A document (IMS subscription XML, a provisioning body) or request
    /// that cannot be accepted, with the reason.
    #[error("invalid document: {0}")]
    Invalid(String),
    /// Authentication material that does not verify (an AUTS whose MAC-S
    /// is wrong, a key of the wrong length).
    #[error("authentication failure: {0}")]
    Auth(String),
    /// The identity is unknown (DIAMETER_ERROR_USER_UNKNOWN 5001).
    #[error("user unknown: {0}")]
    UserUnknown(String),
    /// The private and public identities do not belong together
    /// (DIAMETER_ERROR_IDENTITIES_DONT_MATCH 5002).
    #[error("identities do not match: {0}")]
    IdentitiesDontMatch(String),
    /// The identity is not registered (DIAMETER_ERROR_IDENTITY_NOT_REGISTERED
    /// 5003).
    #[error("identity not registered: {0}")]
    NotRegistered(String),
    /// The HSS refused: roaming not allowed (5004), authorization rejected
    /// (5003 base), auth scheme not supported (5006), and other permanent
    /// Cx failures, with the result code.
    #[error("rejected ({code}): {reason}")]
    Rejected {
        /// The Result-Code or Experimental-Result-Code.
        code: u32,
        /// What the HSS or backend said.
        reason: String,
    },
    /// The backend (store, Diameter peer, Homestead) cannot be reached or
    /// is too busy; the request may be retried.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The backend did not answer in time.
    #[error("timeout: {0}")]
    Timeout(String),
    /// The backend answered with something unusable: an unreadable Diameter
    /// answer, a subscription (from the HSS or the store) that does not
    /// parse. Not the client's fault: Homestead answers 502, Cx 5012.
    #[error("bad data from the backend: {0}")]
    Upstream(String),
}

impl HssError {
    /// The Cx result for this error: `(vendor, code)`, vendor 10415 for an
    /// Experimental-Result, 0 for a base Result-Code.
    pub fn cx_result(&self) -> (u32, u32) {
        match self {
            HssError::Invalid(_) => (0, 5004),
            HssError::Auth(_) => (0, 4001),
            HssError::UserUnknown(_) => (10415, 5001),
            HssError::IdentitiesDontMatch(_) => (10415, 5002),
            HssError::NotRegistered(_) => (10415, 5003),
            HssError::Rejected { code, .. } => {
                if (5001..=5999).contains(code) && *code != 5003 {
                    (10415, *code)
                } else {
                    (0, *code)
                }
            }
            HssError::Unavailable(_) | HssError::Timeout(_) => (0, 3004),
            HssError::Upstream(_) => (0, 5012),
        }
    }

    /// Homestead's HTTP status for this error: 400 bad input, 403 refused,
    /// 404 unknown or mismatched identities, 502 bad data from the backend,
    /// 503 unavailable, 504 timeout.
    pub fn http_status(&self) -> u16 {
        match self {
            HssError::Upstream(_) => 502,
            HssError::Invalid(_) => 400,
            HssError::Auth(_) | HssError::Rejected { .. } => 403,
            HssError::UserUnknown(_)
            | HssError::IdentitiesDontMatch(_)
            | HssError::NotRegistered(_) => 404,
            HssError::Unavailable(_) => 503,
            HssError::Timeout(_) => 504,
        }
    }
}
