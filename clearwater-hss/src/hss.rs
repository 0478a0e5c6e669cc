//! The [`Hss`] trait: the Cx semantics the CSCFs need (TS 29.228 §6.1–6.3),
//! expressed in plain Rust types so that the same S-CSCF code runs against a
//! local subscriber master, a real HSS over Diameter, a cache of either, or
//! a remote Homestead over HTTP.
//!
//! | Cx command | method | Homestead path |
//! |---|---|---|
//! | MAR/MAA | [`Hss::authenticate`] | `GET /impi/<impi>/av[/digest\|/aka]` |
//! | SAR/SAA | [`Hss::assign_server`] | `GET\|PUT /impu/<impu>/reg-data` |
//! | UAR/UAA | [`Hss::authorize_user`] | `GET /impi/<impi>/registration-status` |
//! | LIR/LIA | [`Hss::locate`] | `GET /impu/<impu>/location` |
//! | PPR/PPA, RTR/RTA (from the HSS) | [`HssListener::on_event`] | — |
//!
//! Failures are [`HssError`]s; each maps to the Cx Experimental-Result
//! ([`HssError::cx_result`]) and to Homestead's HTTP status
//! ([`HssError::http_status`]).

use std::sync::Arc;

use async_trait::async_trait;

use crate::HssError;
use crate::milenage::AkaVector;
use crate::subscription::ImsSubscription;

/// The authentication scheme asked for (SIP-Authentication-Scheme).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuthScheme {
    /// Let the HSS choose from the subscriber's credentials.
    #[default]
    Unknown,
    /// SIP digest (RFC 2617 via TS 29.229 SIP-Digest-Authenticate).
    Digest,
    /// IMS AKA (Digest-AKAv1-MD5, RFC 3310).
    Aka,
}

/// An AKA re-synchronisation request: the RAND the UE rejected and its
/// AUTS (TS 33.102 §6.3.5; Cx SIP-Authorization = RAND ‖ AUTS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resync {
    /// The RAND of the challenge the UE answered with AUTS.
    pub rand: [u8; 16],
    /// The AUTS.
    pub auts: [u8; 14],
}

/// MAR: a request for one authentication vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    /// The private identity (User-Name).
    pub impi: String,
    /// The public identity being registered (Public-Identity).
    pub impu: String,
    /// The scheme wanted.
    pub scheme: AuthScheme,
    /// The S-CSCF asking (Server-Name); empty when the caller does not say.
    pub server_name: String,
    /// Present when the UE answered the previous challenge with AUTS.
    pub resync: Option<Resync>,
}

/// A digest authentication vector (TS 29.229 SIP-Digest-Authenticate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestVector {
    /// `HA1 = MD5(username ":" realm ":" password)`, lowercase hex.
    pub ha1: String,
    /// The realm the HA1 was computed for.
    pub realm: String,
    /// The qop to offer (`auth`, or empty for RFC 2069 compatibility).
    pub qop: String,
}

/// The answer to an [`AuthRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthVector {
    /// A digest vector.
    Digest(DigestVector),
    /// An AKA vector.
    Aka(AkaVector),
}

/// What an S-CSCF tells the HSS (Server-Assignment-Type, TS 29.229
/// §6.3.15), as Homestead's `reqtype`s and Sprout use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssignmentType {
    /// Just read the data (NO_ASSIGNMENT; Homestead `GET reg-data`).
    NoAssignment,
    /// REGISTRATION (first) or RE_REGISTRATION: Homestead `reg`.
    Registration,
    /// Explicit RE_REGISTRATION.
    ReRegistration,
    /// UNREGISTERED_USER: a terminating request to an unregistered user
    /// (Homestead `call`).
    UnregisteredUser,
    /// TIMEOUT_DEREGISTRATION (`dereg-timeout`).
    TimeoutDeregistration,
    /// USER_DEREGISTRATION (`dereg-user`).
    UserDeregistration,
    /// ADMINISTRATIVE_DEREGISTRATION (`dereg-admin`).
    AdministrativeDeregistration,
    /// AUTHENTICATION_FAILURE (`dereg-auth-failed`).
    AuthenticationFailure,
    /// AUTHENTICATION_TIMEOUT (`dereg-auth-timeout`).
    AuthenticationTimeout,
}

impl AssignmentType {
    /// The Server-Assignment-Type value (TS 29.229 §6.3.15).
    pub fn cx_value(self) -> u32 {
        match self {
            AssignmentType::NoAssignment => 0,
            AssignmentType::Registration => 1,
            AssignmentType::ReRegistration => 2,
            AssignmentType::UnregisteredUser => 3,
            AssignmentType::TimeoutDeregistration => 4,
            AssignmentType::UserDeregistration => 5,
            AssignmentType::AdministrativeDeregistration => 8,
            AssignmentType::AuthenticationFailure => 9,
            AssignmentType::AuthenticationTimeout => 10,
        }
    }

    /// The type for a Server-Assignment-Type value, if this crate models it.
    pub fn from_cx_value(v: u32) -> Option<AssignmentType> {
        Some(match v {
            0 => AssignmentType::NoAssignment,
            1 => AssignmentType::Registration,
            2 => AssignmentType::ReRegistration,
            3 => AssignmentType::UnregisteredUser,
            4 | 6 => AssignmentType::TimeoutDeregistration,
            5 | 7 => AssignmentType::UserDeregistration,
            8 => AssignmentType::AdministrativeDeregistration,
            9 => AssignmentType::AuthenticationFailure,
            10 => AssignmentType::AuthenticationTimeout,
            _ => return None,
        })
    }

    /// Homestead's `reqtype` for this type (`None` for the read-only
    /// [`AssignmentType::NoAssignment`], a `GET`).
    pub fn homestead_reqtype(self) -> Option<&'static str> {
        Some(match self {
            AssignmentType::NoAssignment => return None,
            AssignmentType::Registration | AssignmentType::ReRegistration => "reg",
            AssignmentType::UnregisteredUser => "call",
            AssignmentType::TimeoutDeregistration => "dereg-timeout",
            AssignmentType::UserDeregistration => "dereg-user",
            AssignmentType::AdministrativeDeregistration => "dereg-admin",
            AssignmentType::AuthenticationFailure => "dereg-auth-failed",
            AssignmentType::AuthenticationTimeout => "dereg-auth-timeout",
        })
    }

    /// The type for a Homestead `reqtype`.
    pub fn from_homestead_reqtype(s: &str) -> Option<AssignmentType> {
        Some(match s {
            "reg" => AssignmentType::Registration,
            "call" => AssignmentType::UnregisteredUser,
            "dereg-timeout" => AssignmentType::TimeoutDeregistration,
            "dereg-user" => AssignmentType::UserDeregistration,
            "dereg-admin" => AssignmentType::AdministrativeDeregistration,
            "dereg-auth-failed" => AssignmentType::AuthenticationFailure,
            "dereg-auth-timeout" => AssignmentType::AuthenticationTimeout,
            _ => return None,
        })
    }

    /// Whether this type ends the registration (the HSS forgets the
    /// S-CSCF).
    pub fn is_deregistration(self) -> bool {
        matches!(
            self,
            AssignmentType::TimeoutDeregistration
                | AssignmentType::UserDeregistration
                | AssignmentType::AdministrativeDeregistration
                | AssignmentType::AuthenticationFailure
                | AssignmentType::AuthenticationTimeout
        )
    }
}

/// SAR: an S-CSCF assigns itself to (or releases) a public identity's
/// implicit registration set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAssignment {
    /// The public identity.
    pub impu: String,
    /// The private identity (absent for unregistered-user requests).
    pub impi: Option<String>,
    /// The S-CSCF (Server-Name).
    pub server_name: String,
    /// What happens.
    pub kind: AssignmentType,
}

/// The registration state of an implicit registration set (Homestead's
/// `RegistrationState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RegistrationState {
    /// Registered with an S-CSCF.
    Registered,
    /// Not registered, but an S-CSCF serves it for terminating requests.
    Unregistered,
    /// Not registered and not served.
    #[default]
    NotRegistered,
}

impl RegistrationState {
    /// Homestead's spelling: `REGISTERED`, `UNREGISTERED`, `NOT_REGISTERED`.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationState::Registered => "REGISTERED",
            RegistrationState::Unregistered => "UNREGISTERED",
            RegistrationState::NotRegistered => "NOT_REGISTERED",
        }
    }

    /// Parses Homestead's spelling.
    pub fn parse(s: &str) -> Option<RegistrationState> {
        Some(match s {
            "REGISTERED" => RegistrationState::Registered,
            "UNREGISTERED" => RegistrationState::Unregistered,
            "NOT_REGISTERED" => RegistrationState::NotRegistered,
            _ => return None,
        })
    }
}

/// Charging function addresses (TS 29.229 Charging-Information): CCFs for
/// Rf offline charging, ECFs for online charging, primary first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChargingAddresses {
    /// Primary then secondary Charging Collection Function.
    pub ccfs: Vec<String>,
    /// Primary then secondary Event Charging Function.
    pub ecfs: Vec<String>,
}

impl ChargingAddresses {
    /// Whether no address is set.
    pub fn is_empty(&self) -> bool {
        self.ccfs.is_empty() && self.ecfs.is_empty()
    }
}

/// The data an S-CSCF gets back from SAR (Homestead's `ClearwaterRegData`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegData {
    /// Registration state after the assignment.
    pub state: RegistrationState,
    /// The IMS subscription of the implicit registration set (absent when
    /// the identity is not registered and was only read).
    pub subscription: Option<ImsSubscription>,
    /// Charging addresses.
    pub charging: ChargingAddresses,
    /// The private identities that registered this set.
    pub associated_impis: Vec<String>,
}

/// User-Authorization-Type (TS 29.229 §6.3.24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuthorizationType {
    /// REGISTRATION (0).
    #[default]
    Registration,
    /// DE_REGISTRATION (1).
    Deregistration,
    /// REGISTRATION_AND_CAPABILITIES (2): the I-CSCF wants capabilities to
    /// choose a new S-CSCF.
    RegistrationAndCapabilities,
}

/// UAR: an I-CSCF asks whether a user may register and which S-CSCF serves
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAuthorization {
    /// The private identity.
    pub impi: String,
    /// The public identity.
    pub impu: String,
    /// Visited-Network-Identifier, when given.
    pub visited_network: Option<String>,
    /// What is being authorised.
    pub kind: AuthorizationType,
}

/// LIR: an I-CSCF asks which S-CSCF serves a public identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationQuery {
    /// The public identity.
    pub impu: String,
    /// Originating-Request: the I-CSCF routes an originating request.
    pub originating: bool,
    /// The I-CSCF wants capabilities (Homestead `auth-type=CAPAB`).
    pub with_capabilities: bool,
}

/// S-CSCF capabilities (TS 29.229 Server-Capabilities).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Mandatory-Capability values.
    pub mandatory: Vec<u32>,
    /// Optional-Capability values.
    pub optional: Vec<u32>,
    /// Server-Name values the HSS suggests.
    pub server_names: Vec<String>,
}

/// The outcome of UAR/LIR (TS 29.229 Experimental-Result codes 2001–2003).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SelectionResult {
    /// DIAMETER_FIRST_REGISTRATION (2001): no S-CSCF yet.
    FirstRegistration,
    /// DIAMETER_SUBSEQUENT_REGISTRATION (2002): an S-CSCF is assigned.
    SubsequentRegistration,
    /// DIAMETER_UNREGISTERED_SERVICE (2003): unregistered, but served.
    UnregisteredService,
    /// DIAMETER_SUCCESS (2001 as a base Result-Code): LIA for a registered
    /// identity.
    Success,
}

impl SelectionResult {
    /// The result code value (Homestead's `result-code`).
    pub fn code(self) -> u32 {
        match self {
            SelectionResult::FirstRegistration | SelectionResult::Success => 2001,
            SelectionResult::SubsequentRegistration => 2002,
            SelectionResult::UnregisteredService => 2003,
        }
    }
}

/// The answer to UAR or LIR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSelection {
    /// The outcome.
    pub result: SelectionResult,
    /// The S-CSCF serving the identity, if any.
    pub server_name: Option<String>,
    /// Capabilities, when no S-CSCF is assigned and they were asked for
    /// (or the HSS sent them).
    pub capabilities: Option<Capabilities>,
}

/// What the HSS pushes to the S-CSCF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HssEvent {
    /// PPR: the subscription and/or charging addresses of a private
    /// identity's registration sets changed.
    ProfileUpdated {
        /// The private identity (User-Name).
        impi: String,
        /// The new subscription, if it changed.
        subscription: Option<ImsSubscription>,
        /// The new charging addresses, if they changed.
        charging: Option<ChargingAddresses>,
    },
    /// RTR: the HSS deregistered identities.
    Deregistered {
        /// The private identities (User-Name and Associated-Identities).
        impis: Vec<String>,
        /// The public identities named (empty = every identity of the
        /// private identities).
        impus: Vec<String>,
        /// Deregistration-Reason Reason-Code (0 PERMANENT_TERMINATION,
        /// 1 NEW_SERVER_ASSIGNED, 2 SERVER_CHANGE, 3 REMOVE_S-CSCF).
        reason_code: u32,
        /// Reason-Info, if any.
        reason_info: Option<String>,
    },
}

/// Receives [`HssEvent`]s. The result becomes the PPA/RTA: `Ok` is
/// DIAMETER_SUCCESS, an error its [`HssError::cx_result`].
#[async_trait]
pub trait HssListener: Send + Sync + 'static {
    /// Handles one event.
    async fn on_event(&self, event: HssEvent) -> Result<(), HssError>;
}

/// The Cx operations the CSCFs use. See the [module docs](self).
#[async_trait]
pub trait Hss: Send + Sync + 'static {
    /// MAR: one authentication vector for `req.impi`.
    async fn authenticate(&self, req: &AuthRequest) -> Result<AuthVector, HssError>;

    /// SAR: assign, re-assign, release or just read.
    async fn assign_server(&self, req: &ServerAssignment) -> Result<RegData, HssError>;

    /// UAR: may the user register, and where.
    async fn authorize_user(&self, req: &UserAuthorization) -> Result<ServerSelection, HssError>;

    /// LIR: which S-CSCF serves `req.impu`.
    async fn locate(&self, req: &LocationQuery) -> Result<ServerSelection, HssError>;

    /// Registers the listener for PPR/RTR-style events, replacing any
    /// earlier one. Backends that never produce events ignore it (the
    /// default).
    fn set_listener(&self, listener: Arc<dyn HssListener>) {
        let _ = listener;
    }
}

#[async_trait]
impl<H: Hss + ?Sized> Hss for Arc<H> {
    async fn authenticate(&self, req: &AuthRequest) -> Result<AuthVector, HssError> {
        (**self).authenticate(req).await
    }
    async fn assign_server(&self, req: &ServerAssignment) -> Result<RegData, HssError> {
        (**self).assign_server(req).await
    }
    async fn authorize_user(&self, req: &UserAuthorization) -> Result<ServerSelection, HssError> {
        (**self).authorize_user(req).await
    }
    async fn locate(&self, req: &LocationQuery) -> Result<ServerSelection, HssError> {
        (**self).locate(req).await
    }
    fn set_listener(&self, listener: Arc<dyn HssListener>) {
        (**self).set_listener(listener)
    }
}
