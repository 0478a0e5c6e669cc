//! The typed model of the Cx User-Data document and its helpers.

use crate::HssError;

use super::wildcard::WildcardPattern;
use super::{reader, writer};

/// Limits applied while parsing a subscription (or shared iFC set) document.
///
/// Every limit has a default (see [`ParseLimits::default`]); a document that
/// exceeds one is refused with [`HssError::Invalid`] naming the limit. The
/// struct is `#[non_exhaustive]`: start from the default and change fields.
///
/// ```
/// use clearwater_hss::subscription::ParseLimits;
///
/// let mut limits = ParseLimits::default();
/// limits.max_service_profiles = 4;
/// assert_eq!(limits.max_document_bytes, 1024 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseLimits {
    /// Largest document accepted, in bytes (default 1 MiB).
    pub max_document_bytes: usize,
    /// Deepest element nesting accepted, counting the root as 1 (default 32;
    /// the deepest element TS 29.228 defines sits at depth 8).
    pub max_depth: usize,
    /// Most `ServiceProfile`s in one `IMSSubscription` (default 64).
    pub max_service_profiles: usize,
    /// Most `PublicIdentity` elements in one `ServiceProfile` (default 1000).
    pub max_public_identities: usize,
    /// Most `InitialFilterCriteria` in one `ServiceProfile` or shared iFC set
    /// (default 500).
    pub max_ifcs: usize,
    /// Most `SPT`s in one `TriggerPoint` (default 100).
    pub max_spts: usize,
    /// Most entries in each small list: `Group`s and `RegistrationType`s of
    /// an SPT, `SharedIFCSetID`s of a profile, `ServiceId`s (default 64).
    pub max_list_items: usize,
    /// Longest text value of one element, in bytes after unescaping
    /// (default 8 KiB).
    pub max_value_bytes: usize,
    /// Most `SharedIFCSet`s in a shared iFC set document (default 1000).
    pub max_shared_ifc_sets: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self {
            max_document_bytes: 1024 * 1024,
            max_depth: 32,
            max_service_profiles: 64,
            max_public_identities: 1000,
            max_ifcs: 500,
            max_spts: 100,
            max_list_items: 64,
            max_value_bytes: 8 * 1024,
            max_shared_ifc_sets: 1000,
        }
    }
}

/// An `IMSSubscription` document (TS 29.228 Annex E): the IMS subscription of
/// one private identity, as the HSS returns it in the Cx User-Data AVP and
/// Homestead serves it to Sprout.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImsSubscription {
    /// `PrivateID`: the IMPI (an NAI such as `user@realm`).
    pub private_id: String,
    /// `ServiceProfile`s, in document order (at least one). Each profile is
    /// one implicit registration set: its public identities share its iFCs.
    pub service_profiles: Vec<ServiceProfile>,
}

/// A `ServiceProfile`: the public identities of one implicit registration
/// set and the services (iFCs) they share.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceProfile {
    /// `PublicIdentity` elements, in document order (at least one).
    pub public_identities: Vec<PublicIdentity>,
    /// `CoreNetworkServicesAuthorization`, if present.
    pub core_network_services_authorization: Option<CoreNetworkServicesAuthorization>,
    /// `InitialFilterCriteria`, in document order (see
    /// [`ServiceProfile::ifcs_by_priority`] for evaluation order).
    pub initial_filter_criteria: Vec<InitialFilterCriteria>,
    /// `Extension/SharedIFCSetID`: shared iFC sets (held in S-CSCF
    /// configuration, see [`SharedIfcSets`]) that this profile references.
    pub shared_ifc_set_ids: Vec<u32>,
}

/// A `PublicIdentity`: an IMPU or PSI with its barring state and type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublicIdentity {
    /// `Identity`: a SIP or tel URI, or for a wildcarded identity its
    /// `!…!` wildcard form (e.g. `sip:conf-!.*!@example.net`).
    pub identity: String,
    /// `BarringIndication` (absent = not barred). A barred identity may
    /// only be used in registrations, never in sessions (TS 23.228).
    pub barring_indication: bool,
    /// `Extension/IdentityType` (absent = [`IdentityType::PUBLIC_USER_IDENTITY`]).
    pub identity_type: IdentityType,
    /// `Extension/WildcardedPSI`: the wildcard a PSI belongs to.
    pub wildcarded_psi: Option<String>,
    /// `Extension/Extension/DisplayName`.
    pub display_name: Option<String>,
    /// `Extension/Extension/AliasIdentityGroupID`: identities of one
    /// implicit registration set with the same value are aliases of each
    /// other (TS 29.228).
    pub alias_identity_group_id: Option<String>,
    /// `Extension/Extension/Extension/WildcardedIMPU`: the wildcard an IMPU
    /// belongs to.
    pub wildcarded_impu: Option<String>,
}

/// `IdentityType` of a public identity: an open set of numbers, so values
/// this crate does not name are kept and written back unchanged.
///
/// The names follow the project's Cx reference (user data enumerations): 0
/// `PUBLIC_USER_IDENTITY`, 1 `DISTINCT_PSI`, 2 `WILDCARDED_PSI`, 3
/// `WILDCARDED_IMPU`. Some HSSs (and Clearwater) number TS 29.228 Rel-10+
/// values as 3 `NON_DISTINCT_IMPU` and 4 `WILDCARDED_IMPU`; wildcard
/// matching therefore treats every value from 2 up as possibly wildcarded
/// (see [`PublicIdentity::wildcard`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct IdentityType(pub u8);

impl IdentityType {
    /// 0: a distinct public user identity (IMPU).
    pub const PUBLIC_USER_IDENTITY: Self = Self(0);
    /// 1: a distinct public service identity.
    pub const DISTINCT_PSI: Self = Self(1);
    /// 2: a wildcarded PSI (`Identity` or `WildcardedPSI` holds the wildcard).
    pub const WILDCARDED_PSI: Self = Self(2);
    /// 3: a wildcarded IMPU (see the type documentation for numbering).
    pub const WILDCARDED_IMPU: Self = Self(3);

    /// The name of a known value, `None` for others.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Self::PUBLIC_USER_IDENTITY => Some("PUBLIC_USER_IDENTITY"),
            Self::DISTINCT_PSI => Some("DISTINCT_PSI"),
            Self::WILDCARDED_PSI => Some("WILDCARDED_PSI"),
            Self::WILDCARDED_IMPU => Some("WILDCARDED_IMPU"),
            _ => None,
        }
    }

    /// Whether the `Identity` of an identity of this type may be a wildcard:
    /// `WILDCARDED_PSI`, `WILDCARDED_IMPU` and any later value.
    pub fn may_be_wildcarded(self) -> bool {
        self.0 >= Self::WILDCARDED_PSI.0
    }

    /// Whether this is a PSI type (distinct or wildcarded).
    pub fn is_psi(self) -> bool {
        self == Self::DISTINCT_PSI || self == Self::WILDCARDED_PSI
    }
}

/// `CoreNetworkServicesAuthorization` of a service profile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CoreNetworkServicesAuthorization {
    /// `SubscribedMediaProfileId`.
    pub subscribed_media_profile_id: Option<u32>,
    /// `Extension/ListOfServiceIds/ServiceId` values.
    pub service_ids: Vec<String>,
}

/// An `InitialFilterCriteria`: when a request matches the trigger point,
/// the S-CSCF forwards it to the application server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InitialFilterCriteria {
    /// `Priority`: evaluation order, lower first; never negative.
    pub priority: i32,
    /// `TriggerPoint`; absent means the iFC matches every request.
    pub trigger_point: Option<TriggerPoint>,
    /// `ApplicationServer` to invoke.
    pub application_server: ApplicationServer,
    /// `ProfilePartIndicator`: absent = applies whatever the registration
    /// state.
    pub profile_part_indicator: Option<ProfilePartIndicator>,
}

/// A `TriggerPoint`: service point triggers combined in conjunctive or
/// disjunctive normal form over their groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TriggerPoint {
    /// `ConditionTypeCNF`: `true` = CNF (AND of groups, each an OR of its
    /// SPTs); `false` = DNF (OR of groups, each an AND of its SPTs).
    pub condition_type_cnf: bool,
    /// `SPT` elements, in document order.
    pub spts: Vec<ServicePointTrigger>,
}

/// An `SPT` (service point trigger): one condition on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePointTrigger {
    /// `ConditionNegated` (absent = not negated).
    pub condition_negated: bool,
    /// `Group` numbers this SPT belongs to (at least one).
    pub groups: Vec<u32>,
    /// The condition itself.
    pub kind: SptKind,
    /// `Extension/RegistrationType`: for a `REGISTER` method SPT, the kinds
    /// of registration it applies to (empty = all).
    pub registration_types: Vec<RegistrationType>,
}

/// The condition of a service point trigger: exactly one per SPT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SptKind {
    /// `RequestURI`: a regular expression searched in the Request-URI.
    RequestUri(String),
    /// `Method`: the SIP method, compared exactly.
    Method(String),
    /// `SIPHeader`: a header that must be present, and optionally a regular
    /// expression its value must match.
    SipHeader {
        /// `Header`: the header name.
        header: String,
        /// `Content`: the regular expression (absent = presence test).
        content: Option<String>,
    },
    /// `SessionCase`.
    SessionCase(SessionCase),
    /// `SessionDescription`: an SDP line type, and optionally a regular
    /// expression its value must match.
    SessionDescription {
        /// `Line`: the SDP line type (e.g. `m`).
        line: String,
        /// `Content`: the regular expression (absent = presence test).
        content: Option<String>,
    },
}

/// `SessionCase` values (TS 29.228 Annex E).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionCase {
    /// 0 `ORIGINATING_SESSION`.
    OriginatingSession,
    /// 1 `TERMINATING_REGISTERED`.
    TerminatingRegistered,
    /// 2 `TERMINATING_UNREGISTERED`.
    TerminatingUnregistered,
    /// 3 `ORIGINATING_UNREGISTERED`.
    OriginatingUnregistered,
    /// 4 `ORIGINATING_CDIV`.
    OriginatingCdiv,
}

/// `DefaultHandling` of an application server: what the S-CSCF does when
/// the AS cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DefaultHandling {
    /// 0 `SESSION_CONTINUED` (also the value when the element is absent).
    #[default]
    SessionContinued,
    /// 1 `SESSION_TERMINATED`.
    SessionTerminated,
}

/// `ProfilePartIndicator` of an iFC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProfilePartIndicator {
    /// 0 `REGISTERED`: the iFC applies only while the user is registered.
    Registered,
    /// 1 `UNREGISTERED`: the iFC applies only while the user is unregistered.
    Unregistered,
}

/// `RegistrationType` values of an SPT extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegistrationType {
    /// 0 `INITIAL_REGISTRATION`.
    InitialRegistration,
    /// 1 `RE-REGISTRATION`.
    ReRegistration,
    /// 2 `DE-REGISTRATION`.
    DeRegistration,
}

macro_rules! coded_enum {
    ($ty:ident { $($code:literal => $variant:ident / $name:literal),+ $(,)? }) => {
        impl $ty {
            /// The number used in the XML.
            pub fn code(self) -> u8 {
                match self { $(Self::$variant => $code),+ }
            }

            /// The value for a number used in the XML, `None` if out of range.
            pub fn from_code(code: u8) -> Option<Self> {
                match code { $($code => Some(Self::$variant),)+ _ => None }
            }

            /// The TS 29.228 name of the value.
            pub fn name(self) -> &'static str {
                match self { $(Self::$variant => $name),+ }
            }
        }
    };
}

coded_enum!(SessionCase {
    0 => OriginatingSession / "ORIGINATING_SESSION",
    1 => TerminatingRegistered / "TERMINATING_REGISTERED",
    2 => TerminatingUnregistered / "TERMINATING_UNREGISTERED",
    3 => OriginatingUnregistered / "ORIGINATING_UNREGISTERED",
    4 => OriginatingCdiv / "ORIGINATING_CDIV",
});
coded_enum!(DefaultHandling {
    0 => SessionContinued / "SESSION_CONTINUED",
    1 => SessionTerminated / "SESSION_TERMINATED",
});
coded_enum!(ProfilePartIndicator {
    0 => Registered / "REGISTERED",
    1 => Unregistered / "UNREGISTERED",
});
coded_enum!(RegistrationType {
    0 => InitialRegistration / "INITIAL_REGISTRATION",
    1 => ReRegistration / "RE-REGISTRATION",
    2 => DeRegistration / "DE-REGISTRATION",
});

/// An `ApplicationServer`: where a matching request goes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApplicationServer {
    /// `ServerName`: the AS SIP URI (mandatory).
    pub server_name: String,
    /// `DefaultHandling` (absent = [`DefaultHandling::SessionContinued`]).
    pub default_handling: DefaultHandling,
    /// `ServiceInfo`: opaque data for the AS, sent in the body of a
    /// third-party REGISTER.
    pub service_info: Option<String>,
    /// `Extension/IncludeRegisterRequest`: include the original REGISTER
    /// request in third-party registrations.
    pub include_register_request: bool,
    /// `Extension/IncludeRegisterResponse`: include the final response to
    /// the original REGISTER in third-party registrations.
    pub include_register_response: bool,
}

/// Shared iFC sets: iFCs held in S-CSCF configuration and referenced from
/// service profiles by `SharedIFCSetID` (TS 29.228; Cx carries only the
/// numbers).
///
/// The document format is this project's own wrapper, with each
/// `InitialFilterCriteria` in the TS 29.228 structure unchanged:
///
/// ```xml
/// <SharedIFCSets>
///   <SharedIFCSet>
///     <SetID>1</SetID>
///     <InitialFilterCriteria>…</InitialFilterCriteria>
///   </SharedIFCSet>
/// </SharedIFCSets>
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SharedIfcSets {
    /// The sets, in document order; set ids are unique.
    pub sets: Vec<SharedIfcSet>,
}

/// One shared iFC set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SharedIfcSet {
    /// `SetID`: the number service profiles reference.
    pub set_id: u32,
    /// The set's iFCs, in document order.
    pub initial_filter_criteria: Vec<InitialFilterCriteria>,
}

impl ImsSubscription {
    /// Parses an `IMSSubscription` document with the default
    /// [`ParseLimits`].
    ///
    /// # Errors
    ///
    /// [`HssError::Invalid`] with the reason (the element and what is wrong
    /// with it) for anything that is not a well-formed, valid document
    /// within the limits.
    pub fn parse(xml: &str) -> Result<Self, HssError> {
        Self::parse_with_limits(xml, &ParseLimits::default())
    }

    /// Parses an `IMSSubscription` document with the given limits.
    ///
    /// # Errors
    ///
    /// As [`ImsSubscription::parse`].
    pub fn parse_with_limits(xml: &str, limits: &ParseLimits) -> Result<Self, HssError> {
        let subscription = reader::parse_subscription(xml, limits)?;
        subscription.validate()?;
        Ok(subscription)
    }

    /// Parses a document given as bytes (the Cx User-Data AVP is an
    /// OctetString): it must be UTF-8 (a leading byte-order mark is
    /// skipped).
    ///
    /// # Errors
    ///
    /// As [`ImsSubscription::parse`], and for bytes that are not UTF-8.
    pub fn parse_bytes(xml: &[u8]) -> Result<Self, HssError> {
        Self::parse(reader::utf8(xml)?)
    }

    /// Writes the document: the XML declaration, then `IMSSubscription`
    /// with two-space indentation, elements in TS 29.228 schema order and
    /// text escaped so that [`ImsSubscription::parse`] gives back an equal
    /// value for every subscription that passes
    /// [`ImsSubscription::validate`] and stays within the default
    /// [`ParseLimits`]. Nothing is checked here: an invalid value is written
    /// as it is (and refused when read back).
    pub fn to_xml(&self) -> String {
        writer::subscription_to_xml(self)
    }

    /// Checks the rules [`ImsSubscription::parse`] enforces on a value built
    /// in code: a non-empty private id, at least one service profile, each
    /// with at least one public identity, non-empty identities, server
    /// names, methods, header names and SDP line types, non-negative
    /// priorities, at least one group per SPT, and only XML 1.0 characters
    /// in every text value.
    ///
    /// # Errors
    ///
    /// [`HssError::Invalid`] naming the first offending element.
    pub fn validate(&self) -> Result<(), HssError> {
        non_empty(&self.private_id, "PrivateID")?;
        if self.service_profiles.is_empty() {
            return Err(invalid("IMSSubscription has no ServiceProfile"));
        }
        for (i, profile) in self.service_profiles.iter().enumerate() {
            profile
                .validate()
                .map_err(|e| context(e, &format!("ServiceProfile {}", i + 1)))?;
        }
        Ok(())
    }

    /// Every public identity of the subscription, profile by profile, in
    /// document order.
    pub fn public_identities(&self) -> impl Iterator<Item = &PublicIdentity> + '_ {
        self.service_profiles
            .iter()
            .flat_map(|p| p.public_identities.iter())
    }

    /// Finds the public identity entry that serves `impu`, and its service
    /// profile (implicit registration set).
    ///
    /// An entry whose `Identity` equals `impu` exactly wins, wherever it is
    /// in the document; otherwise the first entry (in document order) whose
    /// wildcard matches `impu` (see [`PublicIdentity::wildcard`]).
    /// Identities are compared as strings: callers pass them in the form the
    /// HSS stores (no URI normalisation is done here).
    pub fn find_identity(&self, impu: &str) -> Option<(&ServiceProfile, &PublicIdentity)> {
        let entries = || {
            self.service_profiles
                .iter()
                .flat_map(|p| p.public_identities.iter().map(move |id| (p, id)))
        };
        entries()
            .find(|(_, id)| id.identity == impu)
            .or_else(|| entries().find(|(_, id)| id.matches_wildcard(impu)))
    }

    /// The service profile (implicit registration set) serving `impu`, as
    /// [`ImsSubscription::find_identity`] finds it.
    pub fn service_profile_for(&self, impu: &str) -> Option<&ServiceProfile> {
        self.find_identity(impu).map(|(profile, _)| profile)
    }

    /// Whether `impu` is barred: `Some(barring_indication)` of the entry
    /// [`ImsSubscription::find_identity`] finds, `None` if no entry serves
    /// it.
    pub fn is_barred(&self, impu: &str) -> Option<bool> {
        self.find_identity(impu)
            .map(|(_, id)| id.barring_indication)
    }
}

impl ServiceProfile {
    /// Whether one of this profile's public identities serves `impu`
    /// (exactly or by wildcard).
    pub fn contains(&self, impu: &str) -> bool {
        self.public_identities.iter().any(|id| id.matches(impu))
    }

    /// This profile's own iFCs in evaluation order: ascending priority,
    /// document order among equal priorities.
    pub fn ifcs_by_priority(&self) -> Vec<&InitialFilterCriteria> {
        let mut ifcs: Vec<_> = self.initial_filter_criteria.iter().collect();
        ifcs.sort_by_key(|ifc| ifc.priority);
        ifcs
    }

    /// This profile's iFCs merged with those of the shared iFC sets it
    /// references, in evaluation order: ascending priority; among equal
    /// priorities the profile's own iFCs first, then the shared sets' in
    /// the order the profile references them. Unknown set ids are skipped
    /// (see [`ServiceProfile::unknown_shared_ifc_set_ids`]); a set
    /// referenced twice counts once.
    pub fn merged_ifcs<'a>(&'a self, shared: &'a SharedIfcSets) -> Vec<&'a InitialFilterCriteria> {
        let mut ifcs: Vec<_> = self.initial_filter_criteria.iter().collect();
        let mut seen = Vec::new();
        for id in &self.shared_ifc_set_ids {
            if seen.contains(id) {
                continue;
            }
            seen.push(*id);
            if let Some(set) = shared.get(*id) {
                ifcs.extend(set.initial_filter_criteria.iter());
            }
        }
        ifcs.sort_by_key(|ifc| ifc.priority);
        ifcs
    }

    /// The shared iFC set ids this profile references that `shared` does
    /// not define (an S-CSCF logs these and carries on).
    pub fn unknown_shared_ifc_set_ids(&self, shared: &SharedIfcSets) -> Vec<u32> {
        self.shared_ifc_set_ids
            .iter()
            .copied()
            .filter(|id| shared.get(*id).is_none())
            .collect()
    }

    fn validate(&self) -> Result<(), HssError> {
        if self.public_identities.is_empty() {
            return Err(invalid("ServiceProfile has no PublicIdentity"));
        }
        for (i, id) in self.public_identities.iter().enumerate() {
            id.validate()
                .map_err(|e| context(e, &format!("PublicIdentity {}", i + 1)))?;
        }
        if let Some(cnsa) = &self.core_network_services_authorization {
            for service_id in &cnsa.service_ids {
                xml_chars(service_id, "ServiceId")?;
            }
        }
        validate_ifcs(&self.initial_filter_criteria)
    }
}

impl PublicIdentity {
    /// A distinct public user identity, not barred, with no extensions.
    pub fn new(identity: impl Into<String>) -> Self {
        Self {
            identity: identity.into(),
            ..Self::default()
        }
    }

    /// The wildcard (TS 23.003 `!…!` syntax) this entry stands for, if any:
    /// `WildcardedPSI` if present, else `WildcardedIMPU`, else `Identity`
    /// itself when the [`IdentityType`] may be wildcarded and it contains a
    /// `!`.
    pub fn wildcard(&self) -> Option<&str> {
        self.wildcarded_psi
            .as_deref()
            .or(self.wildcarded_impu.as_deref())
            .or_else(|| {
                (self.identity_type.may_be_wildcarded() && self.identity.contains('!'))
                    .then_some(self.identity.as_str())
            })
    }

    /// Whether this entry serves `impu`: its `Identity` equals it, or its
    /// [wildcard](PublicIdentity::wildcard) matches it. A wildcard using
    /// regular expression features outside the supported subset (see
    /// [`WildcardPattern`]) matches nothing.
    pub fn matches(&self, impu: &str) -> bool {
        self.identity == impu || self.matches_wildcard(impu)
    }

    fn matches_wildcard(&self, impu: &str) -> bool {
        self.wildcard()
            .and_then(|w| WildcardPattern::parse(w).ok())
            .is_some_and(|p| p.matches(impu))
    }

    fn validate(&self) -> Result<(), HssError> {
        non_empty(&self.identity, "Identity")?;
        for (value, name) in [
            (&self.wildcarded_psi, "WildcardedPSI"),
            (&self.display_name, "DisplayName"),
            (&self.alias_identity_group_id, "AliasIdentityGroupID"),
            (&self.wildcarded_impu, "WildcardedIMPU"),
        ] {
            if let Some(value) = value {
                xml_chars(value, name)?;
            }
        }
        Ok(())
    }
}

impl InitialFilterCriteria {
    /// Whether this iFC applies given the served user's registration state,
    /// according to its `ProfilePartIndicator` (absent = always).
    pub fn applies_when_registered(&self, registered: bool) -> bool {
        match self.profile_part_indicator {
            None => true,
            Some(ProfilePartIndicator::Registered) => registered,
            Some(ProfilePartIndicator::Unregistered) => !registered,
        }
    }

    fn validate(&self) -> Result<(), HssError> {
        if self.priority < 0 {
            return Err(invalid(format!("<Priority> {} is negative", self.priority)));
        }
        if let Some(tp) = &self.trigger_point {
            for (i, spt) in tp.spts.iter().enumerate() {
                spt.validate()
                    .map_err(|e| context(e, &format!("SPT {}", i + 1)))?;
            }
        }
        let app = &self.application_server;
        non_empty(&app.server_name, "ServerName")?;
        if let Some(info) = &app.service_info {
            xml_chars(info, "ServiceInfo")?;
        }
        Ok(())
    }
}

impl TriggerPoint {
    /// The distinct group numbers of the SPTs, ascending.
    pub fn groups(&self) -> Vec<u32> {
        let mut groups: Vec<u32> = self
            .spts
            .iter()
            .flat_map(|spt| spt.groups.iter().copied())
            .collect();
        groups.sort_unstable();
        groups.dedup();
        groups
    }
}

impl ServicePointTrigger {
    fn validate(&self) -> Result<(), HssError> {
        if self.groups.is_empty() {
            return Err(invalid("SPT has no <Group>"));
        }
        match &self.kind {
            SptKind::RequestUri(v) => non_empty(v, "RequestURI"),
            SptKind::Method(v) => non_empty(v, "Method"),
            SptKind::SipHeader { header, content } => {
                non_empty(header, "Header")?;
                content
                    .as_deref()
                    .map_or(Ok(()), |c| xml_chars(c, "Content"))
            }
            SptKind::SessionCase(_) => Ok(()),
            SptKind::SessionDescription { line, content } => {
                non_empty(line, "Line")?;
                content
                    .as_deref()
                    .map_or(Ok(()), |c| xml_chars(c, "Content"))
            }
        }
    }
}

impl ApplicationServer {
    /// An application server with the given `ServerName`,
    /// `SESSION_CONTINUED` and no extensions.
    pub fn new(server_name: impl Into<String>) -> Self {
        Self {
            server_name: server_name.into(),
            ..Self::default()
        }
    }
}

impl SharedIfcSets {
    /// Parses a shared iFC set document with the default [`ParseLimits`].
    ///
    /// # Errors
    ///
    /// [`HssError::Invalid`] with the reason, as for
    /// [`ImsSubscription::parse`]; also for a missing or repeated `SetID`.
    pub fn parse(xml: &str) -> Result<Self, HssError> {
        Self::parse_with_limits(xml, &ParseLimits::default())
    }

    /// Parses a shared iFC set document with the given limits.
    ///
    /// # Errors
    ///
    /// As [`SharedIfcSets::parse`].
    pub fn parse_with_limits(xml: &str, limits: &ParseLimits) -> Result<Self, HssError> {
        let sets = reader::parse_shared_ifc_sets(xml, limits)?;
        sets.validate()?;
        Ok(sets)
    }

    /// Writes the document (XML declaration, `SharedIFCSets` root).
    pub fn to_xml(&self) -> String {
        writer::shared_ifc_sets_to_xml(self)
    }

    /// The set with the given id.
    pub fn get(&self, set_id: u32) -> Option<&SharedIfcSet> {
        self.sets.iter().find(|set| set.set_id == set_id)
    }

    /// Checks the iFCs of every set as [`ImsSubscription::validate`] does,
    /// and that set ids are unique.
    ///
    /// # Errors
    ///
    /// [`HssError::Invalid`] naming the first offending element.
    pub fn validate(&self) -> Result<(), HssError> {
        for (i, set) in self.sets.iter().enumerate() {
            if self.sets[..i].iter().any(|s| s.set_id == set.set_id) {
                return Err(invalid(format!(
                    "<SetID> {} is used by more than one SharedIFCSet",
                    set.set_id
                )));
            }
            validate_ifcs(&set.initial_filter_criteria)
                .map_err(|e| context(e, &format!("SharedIFCSet {}", set.set_id)))?;
        }
        Ok(())
    }
}

fn validate_ifcs(ifcs: &[InitialFilterCriteria]) -> Result<(), HssError> {
    for (i, ifc) in ifcs.iter().enumerate() {
        ifc.validate()
            .map_err(|e| context(e, &format!("InitialFilterCriteria {}", i + 1)))?;
    }
    Ok(())
}

pub(super) fn invalid(reason: impl Into<String>) -> HssError {
    HssError::Invalid(reason.into())
}

/// Prefixes the reason of an `Invalid` error with where it happened.
fn context(error: HssError, at: &str) -> HssError {
    match error {
        HssError::Invalid(reason) => HssError::Invalid(format!("{at}: {reason}")),
        other => other,
    }
}

fn non_empty(value: &str, element: &str) -> Result<(), HssError> {
    if value.is_empty() {
        return Err(invalid(format!("<{element}> is empty")));
    }
    xml_chars(value, element)
}

/// Whether `c` is a character XML 1.0 allows in a document.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Whether `c` is XML whitespace (the `S` production of XML 1.0).
pub(super) fn is_xml_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// The first character of `value` that XML 1.0 does not allow, if any.
pub(crate) fn first_non_xml_char(value: &str) -> Option<char> {
    value.chars().find(|c| !is_xml_char(*c))
}

fn xml_chars(value: &str, element: &str) -> Result<(), HssError> {
    match first_non_xml_char(value) {
        Some(c) => Err(invalid(format!(
            "<{element}> contains {c:?}, which XML 1.0 does not allow"
        ))),
        None => Ok(()),
    }
}
