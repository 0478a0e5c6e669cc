//! # clearwater-hss
//!
//! The HSS side of the clearwater IMS SDK (Clearwater's Homestead):
//!
//! * [`milenage`]: the 3GPP Milenage algorithm set (TS 35.206) and AKA
//!   authentication vectors, with SQN management and re-synchronisation;
//! * [`subscription`]: the IMS subscription model and its XML (TS 29.228
//!   Annex E, the Cx User-Data).
//!
//! The `Hss` trait, its backends and the Homestead HTTP APIs come next.

pub mod milenage;
pub mod subscription;

/// The one error type of this crate.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HssError {
    /// A document (IMS subscription XML, a provisioning body) that cannot be
    /// accepted, with the reason.
    #[error("invalid document: {0}")]
    Invalid(String),
    /// Authentication material that does not verify (an AUTS whose MAC-S
    /// is wrong, a key of the wrong length).
    #[error("authentication failure: {0}")]
    Auth(String),
}
