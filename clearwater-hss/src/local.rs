//! The local subscriber master: an HSS that owns its subscriber data
//! (Clearwater's Homestead with local provisioning, Homestead-prov), kept
//! in a durable [`Store`](clearwater_store::Store).
//!
//! * [`Provisioning`] is the provisioning model and its storage: private
//!   identities and their credentials, implicit registration sets (IRSs),
//!   service profiles with their iFCs, public identities, and the
//!   associations between them. [`crate::prov`] serves it over HTTP with
//!   Clearwater's Homestead-prov API.
//! * [`LocalHss`] answers the Cx operations of the [`Hss`](crate::Hss)
//!   trait (MAR, SAR, UAR, LIR) from that data, with the registration
//!   state in a second, ephemeral store.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use clearwater_hss::local::{Credentials, LocalHss, LocalHssConfig, NewSubscriber,
//!     Provisioning, ProvisioningConfig};
//! use clearwater_hss::{AuthRequest, AuthScheme, AuthVector, Hss};
//! use clearwater_store::{DurableStore, MemoryConfig, MemoryStore};
//!
//! let master = Arc::new(DurableStore::open("/var/lib/hss/subscribers.redb")?);
//! let prov = Provisioning::new(master, ProvisioningConfig::new("example.net"))?;
//! prov.create_subscriber(&NewSubscriber::new(
//!     "sip:alice@example.net",
//!     "alice@example.net",
//!     Credentials::password("secret"),
//! ))
//! .await?;
//!
//! let state = Arc::new(MemoryStore::new(MemoryConfig::default()));
//! let hss = LocalHss::new(prov, state, LocalHssConfig::default())?;
//! let vector = hss
//!     .authenticate(&AuthRequest {
//!         impi: "alice@example.net".into(),
//!         impu: "sip:alice@example.net".into(),
//!         scheme: AuthScheme::Unknown,
//!         server_name: "sip:scscf.example.net".into(),
//!         resync: None,
//!     })
//!     .await?;
//! assert!(matches!(vector, AuthVector::Digest(_)));
//! # Ok(())
//! # }
//! ```
//!
//! # The model
//!
//! ```text
//! private identity (IMPI) ──many-to-many── implicit registration set (IRS)
//!   credentials: digest HA1 + realm,          ├── charging addresses (or the defaults)
//!   or AKA K, OPc, AMF (+ SQN state)          └── service profile (1..n)
//!                                                 ├── filter criteria (iFC XML)
//!                                                 └── public identity (IMPU, 1..n): the
//!                                                     <PublicIdentity> XML (barring, type,
//!                                                     wildcard), in exactly one profile
//! ```
//!
//! IRS and service profile ids are random version-4 UUIDs (from
//! `getrandom`), as Clearwater's are, and are never reused.
//!
//! **Credentials.** A private identity has one credential: SIP digest
//! (`HA1 = MD5(impi:realm:password)` and its realm) or AKA (K, OPc, AMF).
//! A plaintext password is accepted and turned into HA1 at once; **the
//! password itself is never stored** (Clearwater kept it, for RCS; nothing
//! here needs it), so reads return only HA1 and realm, and changing the
//! realm needs the password again. K and OPc are write-only: reads return
//! the AMF and the last sequence number issued. AMF defaults to `8000`.
//!
//! **SQN.** The AKA sequence number state (`SQN_HE`, TS 33.102 Annex C) is
//! kept in the private identity's record, outside its credentials, so
//! that replacing K/OPc, or switching to digest and back, never restarts
//! it: a sequence number is never issued twice for one private identity.
//! Every MAR advances it with a compare-and-swap of that record (so two
//! HSS front ends sharing the store never issue the same SQN); IND is
//! cyclic by default ([`LocalHssConfig::ind_policy`]). A resynchronisation
//! goes through [`Milenage::resync`](crate::milenage::Milenage::resync):
//! MAC-S is verified first (a bad AUTS is [`HssError::Auth`] and changes
//! nothing), then the next vector carries `SEQ_MS + 1` (or more): `SQN_MS`
//! itself is never re-issued.
//!
//! # Storage and what concurrent readers see
//!
//! Records are JSON in [`clearwater_store::record`]'s versioned encoding,
//! in four master tables ([`MASTER_TABLES`]; [`Provisioning::new`] refuses
//! a store that is not durable) and one ephemeral table for registration
//! state ([`STATE_TABLES`]):
//!
//! | table | key | holds |
//! |---|---|---|
//! | `hss.local.impi` | IMPI | credentials, SQN, the IRSs it may register |
//! | `hss.local.irs` | IRS id | its service profiles (iFCs, public identity XML), an index of its IMPIs, charging addresses |
//! | `hss.local.impu` | IMPU (as provisioned) | the IRS and service profile holding it |
//! | `hss.local.wildcards` | `index` | the wildcarded identities and their IRSs |
//! | `hss.local.reg` (ephemeral) | IRS id | registration state, S-CSCF, registered IMPIs |
//!
//! A store has no multi-record transactions, so every change that spans
//! records follows one rule: **each fact has exactly one record that
//! decides it, and the other records that mention it are indexes that may
//! say more than the truth, never less.** Readers check an index entry
//! against the deciding record and ignore it when they disagree.
//!
//! * What is in an IRS (profiles, iFCs, public identities) is decided by
//!   the IRS record. The identity record (`hss.local.impu`) is a claim
//!   that makes an identity unique across IRSs and finds it by name: a
//!   look-up counts it only if the IRS it names holds the identity in that
//!   profile. The wildcard index is checked the same way.
//! * An IMPI↔IRS association is decided by the IMPI record (its IRS list,
//!   counting only IRSs that exist); the IRS's list of IMPIs is an index.
//!
//! Writes go index first, deciding record last (the *commit*), and removal
//! the other way round; every write is a compare-and-swap or a
//! create-if-absent. So, for every operation:
//!
//! * **everything is validated before the first write** (identities, XML,
//!   credentials, limits, and for [`Provisioning::create_subscriber`] that
//!   neither identity exists), so bad input writes nothing;
//! * **a failure after the first write is undone**: what the operation
//!   wrote is removed (by version, so nothing written since by others is
//!   touched) before the error is returned, and a failed bulk creation
//!   removes every subscriber it had created;
//! * **other readers never see a reference to something that is not
//!   there**: until the commit, the new index entries point at nothing
//!   (or disagree with the deciding record) and are ignored. Readers may
//!   see the effects of a multi-step operation one commit at a time:
//!   [`Provisioning::create_subscriber`] writes the identity claim, then
//!   the private identity (with an association that counts only once the
//!   IRS exists), then the IRS, the one commit after which the public
//!   identity, its profile and the association appear together; only the
//!   bare private identity is visible a moment earlier.
//! * A process killed between two writes leaves only index entries nothing
//!   decides (invisible, and replaced by the next write that needs the
//!   key; an identity claim whose profile does not hold it is taken over
//!   by the next provisioning of that identity) and, for
//!   `create_subscriber`, possibly the private identity without its IRS.
//!
//! Two writers provisioning the same public identity into different
//! profiles at the same moment are settled by the claim. A writer may
//! take over a claim only while no profile holds the identity, and only
//! by compare-and-swap on the version it read; after its commit it
//! *confirms* its claim by rewriting it under the version it wrote. If
//! the confirmation fails, another writer took the claim over before the
//! commit: it removes its entry again and gets
//! [`ProvisioningError::Conflict`]. Once confirmed, the claim cannot be
//! taken over by a writer that judged it unbacked earlier (that writer's
//! compare-and-swap fails, and on re-reading it finds the identity
//! held). So an identity is in at most one profile, and exactly one of
//! the racing writers wins (a test races eight of them).
//!
//! # Cx behaviour of [`LocalHss`]
//!
//! Registration state is per IRS (every identity of an IRS shares it, TS
//! 23.228 implicit registration): `NOT_REGISTERED`, `UNREGISTERED` (an
//! S-CSCF serves it for terminating requests) or `REGISTERED`, the serving
//! S-CSCF name, and the private identities registered. It lives in the
//! ephemeral store (any backend; it is rebuilt by re-registration).
//!
//! **Public identities** are looked up exactly as provisioned first, then
//! against the wildcarded identities (TS 23.003 `!…!` syntax, see
//! [`WildcardPattern`](crate::subscription::WildcardPattern)) in the order
//! they were provisioned; the first match serves the identity. No URI
//! normalisation is done. A wildcard outside the supported syntax is
//! refused at provisioning.
//!
//! **MAR** ([`Hss::authenticate`](crate::Hss::authenticate)): unknown IMPI
//! or IMPU → [`HssError::UserUnknown`]; an IMPU the IMPI may not register
//! → [`HssError::IdentitiesDontMatch`] (an empty IMPU skips the check, as
//! Homestead allows); a scheme other than the IMPI's credential →
//! `Rejected { code: 5006 }` (`DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED`);
//! [`AuthScheme::Unknown`](crate::AuthScheme::Unknown) takes the IMPI's.
//! Digest gives `{ha1, realm, qop: "auth"}`; AKA draws RAND from the
//! operating system's CSPRNG and advances the SQN as above. When the MAR
//! names its S-CSCF and the IRS is not registered, that S-CSCF is stored
//! as the one authenticating it (TS 29.228 §6.3), so the I-CSCF sends the
//! second REGISTER to the same S-CSCF (see UAR).
//!
//! **SAR** ([`Hss::assign_server`](crate::Hss::assign_server)): unknown
//! IMPU → `UserUnknown`; an IMPI given and not associated →
//! `IdentitiesDontMatch`. Then:
//!
//! | assignment | new state |
//! |---|---|
//! | `NoAssignment` | unchanged (a read) |
//! | `Registration`, `ReRegistration` | `REGISTERED` with this S-CSCF, the IMPI added |
//! | `UnregisteredUser` | `UNREGISTERED` with this S-CSCF, unless already `REGISTERED` (then unchanged) |
//! | `TimeoutDeregistration`, `UserDeregistration`, `AdministrativeDeregistration` | the IMPI (all, if none given) removed; with none left, `NOT_REGISTERED` and the S-CSCF forgotten |
//! | `AuthenticationFailure`, `AuthenticationTimeout` | if `NOT_REGISTERED`, the authenticating S-CSCF is forgotten; otherwise unchanged (TS 29.228 §6.1.2) |
//!
//! The answer carries the IMS subscription of the whole IRS (every
//! profile with a public identity; `PrivateID` is the IMPI given, else a
//! registered one, else an associated one, else the IMPU itself, as for a
//! PSI without private identity), except for a `NoAssignment` read of a
//! `NOT_REGISTERED` IRS, which has none; the IRS's charging addresses or
//! the configured defaults; and the registered IMPIs.
//!
//! **UAR** ([`Hss::authorize_user`](crate::Hss::authorize_user), TS 29.228
//! §6.1.1): unknown IMPI/IMPU → `UserUnknown`; not associated →
//! `IdentitiesDontMatch`; the IMPU barred and every identity of its IRS
//! barred → `Rejected { code: 5003 }` (`DIAMETER_AUTHORIZATION_REJECTED`,
//! a base Result-Code); roaming is always allowed (the visited network is
//! not checked). Then by authorization type:
//!
//! * `Registration`: an S-CSCF assigned (registered, unregistered, or
//!   authenticating after a MAR) → `SubsequentRegistration` with its name;
//!   none → `FirstRegistration` with the configured capabilities;
//! * `RegistrationAndCapabilities` (S-CSCF reselection) → `Success` with
//!   the capabilities and no name;
//! * `Deregistration`: registered or unregistered → `Success` with the
//!   S-CSCF; otherwise [`HssError::NotRegistered`].
//!
//! **LIR** ([`Hss::locate`](crate::Hss::locate), TS 29.228 §6.1.4):
//! unknown IMPU → `UserUnknown`; capabilities asked for → `Success` with
//! the capabilities; registered or unregistered → `Success` with the
//! S-CSCF; not registered → `UnregisteredService` with the capabilities
//! if the request is originating, the identity is a PSI, or its profile
//! has services for the unregistered state (an iFC without
//! `ProfilePartIndicator` or with UNREGISTERED, or a shared iFC set);
//! otherwise [`HssError::NotRegistered`].
//!
//! [`LocalHss`] pushes no events: [`Hss::set_listener`](crate::Hss::set_listener)
//! is ignored (provisioning changes reach an S-CSCF at its next SAR).

use crate::HssError;

mod hss;
mod provisioning;
mod records;
mod xml;

pub use hss::{LocalHss, LocalHssConfig};
pub use provisioning::{
    BulkError, CredentialInfo, Credentials, DEFAULT_AMF, NewSubscriber, Provisioning,
    ProvisioningConfig, SubscriberIds,
};

use clearwater_store::Table;

/// The master tables of the local subscriber master (they must be on a
/// durable store; see [`clearwater_store::check_placement`]).
pub const MASTER_TABLES: [Table; 4] = [
    records::IMPI,
    records::IRS,
    records::IMPU,
    records::WILDCARDS,
];

/// The ephemeral table of [`LocalHss`]'s registration state.
pub const STATE_TABLES: [Table; 1] = [records::REG];

/// Why a provisioning operation failed. Each maps to the HTTP status of
/// the provisioning API ([`ProvisioningError::http_status`]) and, for
/// callers that want one error type, converts into [`HssError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProvisioningError {
    /// The request is malformed: an identity, credential or XML body that
    /// cannot be accepted, or a limit exceeded. Nothing was written.
    #[error("invalid: {0}")]
    Invalid(String),
    /// What the request names does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request conflicts with what is stored: the identity already
    /// exists, is in another service profile, or a per-record limit is
    /// reached. Nothing was written.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request contradicts itself: the identity in the URL is not the
    /// one in the body, or the public identity is in another service
    /// profile than the one named.
    #[error("mismatch: {0}")]
    Mismatch(String),
    /// The store failed or stayed too busy; nothing was committed unless
    /// the reason says otherwise. The request may be retried.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl ProvisioningError {
    /// The Homestead-prov HTTP status: 400, 404, 409, 403 and 503.
    pub fn http_status(&self) -> u16 {
        match self {
            ProvisioningError::Invalid(_) => 400,
            ProvisioningError::NotFound(_) => 404,
            ProvisioningError::Conflict(_) => 409,
            ProvisioningError::Mismatch(_) => 403,
            ProvisioningError::Unavailable(_) => 503,
        }
    }
}

impl From<ProvisioningError> for HssError {
    fn from(e: ProvisioningError) -> HssError {
        match e {
            ProvisioningError::Invalid(r) => HssError::Invalid(r),
            // A write that kept losing its compare-and-swap: try again.
            ProvisioningError::Conflict(r) => HssError::Unavailable(r),
            ProvisioningError::NotFound(r) => HssError::UserUnknown(r),
            ProvisioningError::Mismatch(r) => HssError::IdentitiesDontMatch(r),
            ProvisioningError::Unavailable(r) => HssError::Unavailable(r),
        }
    }
}
