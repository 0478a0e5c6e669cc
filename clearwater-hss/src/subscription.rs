//! The IMS subscription: the Cx User-Data document of TS 29.228 Annex E
//! (`IMSSubscription`), as Clearwater's Homestead stores it and Sprout
//! consumes it, with its typed model, parser, writer and the look-ups an HSS
//! and an S-CSCF need.
//!
//! # The document
//!
//! ```text
//! IMSSubscription
//! ├── PrivateID                                  the IMPI
//! └── ServiceProfile (1..n)                      one implicit registration set each
//!     ├── PublicIdentity (1..n)
//!     │   ├── BarringIndication                  0/1, absent = 0
//!     │   ├── Identity                           SIP/tel URI, or a !…! wildcard
//!     │   └── Extension
//!     │       ├── IdentityType                   0..3 named, others kept
//!     │       ├── WildcardedPSI
//!     │       └── Extension
//!     │           ├── DisplayName
//!     │           ├── AliasIdentityGroupID
//!     │           └── Extension
//!     │               └── WildcardedIMPU
//!     ├── CoreNetworkServicesAuthorization
//!     │   ├── SubscribedMediaProfileId
//!     │   └── Extension/ListOfServiceIds/ServiceId (0..n)
//!     ├── InitialFilterCriteria (0..n)
//!     │   ├── Priority                           ≥ 0, lower evaluated first
//!     │   ├── TriggerPoint                       absent = always matches
//!     │   │   ├── ConditionTypeCNF               1 CNF, 0 DNF
//!     │   │   └── SPT (0..n)
//!     │   │       ├── ConditionNegated           absent = 0
//!     │   │       ├── Group (1..n)
//!     │   │       ├── one of RequestURI | Method | SIPHeader(Header, Content?)
//!     │   │       │          | SessionCase (0..4) | SessionDescription(Line, Content?)
//!     │   │       └── Extension/RegistrationType (0..n, 0..2)
//!     │   ├── ApplicationServer
//!     │   │   ├── ServerName
//!     │   │   ├── DefaultHandling                0 continue, 1 terminate; absent = 0
//!     │   │   ├── ServiceInfo
//!     │   │   └── Extension/IncludeRegisterRequest, IncludeRegisterResponse (empty)
//!     │   └── ProfilePartIndicator               0 registered, 1 unregistered
//!     └── Extension/SharedIFCSetID (0..n)
//! ```
//!
//! Each element maps to one field of [`ImsSubscription`] and the types under
//! it; the field documentation names its element. Shared iFC sets, which Cx
//! only references by number, have their own small document
//! ([`SharedIfcSets`]) and [`ServiceProfile::merged_ifcs`] merges them into
//! a profile's evaluation order. Evaluating iFCs against requests is not done
//! here (that is `clearwater-routing`), but the model carries everything the
//! evaluation needs: trigger contents verbatim (regular expressions are not
//! compiled here), CNF/DNF, negation, groups, registration types, session
//! cases, profile part, default handling and the REGISTER inclusion flags.
//!
//! ```
//! use clearwater_hss::subscription::{DefaultHandling, ImsSubscription, SptKind};
//!
//! let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
//! <IMSSubscription>
//!   <PrivateID>alice@example.net</PrivateID>
//!   <ServiceProfile>
//!     <PublicIdentity><Identity>sip:alice@example.net</Identity></PublicIdentity>
//!     <InitialFilterCriteria>
//!       <Priority>1</Priority>
//!       <TriggerPoint>
//!         <ConditionTypeCNF>1</ConditionTypeCNF>
//!         <SPT><Group>0</Group><Method>INVITE</Method></SPT>
//!       </TriggerPoint>
//!       <ApplicationServer><ServerName>sip:as.example.net</ServerName></ApplicationServer>
//!     </InitialFilterCriteria>
//!   </ServiceProfile>
//! </IMSSubscription>"#;
//!
//! let subscription = ImsSubscription::parse(xml)?;
//! let profile = subscription.service_profile_for("sip:alice@example.net").unwrap();
//! let ifc = &profile.initial_filter_criteria[0];
//! assert_eq!(ifc.application_server.default_handling, DefaultHandling::SessionContinued);
//! assert_eq!(ifc.trigger_point.as_ref().unwrap().spts[0].kind, SptKind::Method("INVITE".into()));
//! assert_eq!(ImsSubscription::parse(&subscription.to_xml())?, subscription);
//! # Ok::<(), clearwater_hss::HssError>(())
//! ```
//!
//! # Parsing decisions
//!
//! * **Mandatory elements** are enforced: `PrivateID`, at least one
//!   `ServiceProfile` each with at least one `PublicIdentity` with an
//!   `Identity`; an iFC's `Priority` and `ApplicationServer`; its
//!   `ServerName`; a `TriggerPoint`'s `ConditionTypeCNF`; an SPT's `Group`
//!   and exactly one condition; `SIPHeader/Header` and
//!   `SessionDescription/Line`; a shared set's `SetID`. Identities, the
//!   private id, server names, methods, header names and SDP line types
//!   must not be empty. Elements that may appear once and appear twice are
//!   refused rather than one of them picked.
//! * **Optional elements** take the schema's defaults when absent:
//!   `BarringIndication` and `ConditionNegated` false, `IdentityType`
//!   `PUBLIC_USER_IDENTITY`, `DefaultHandling` `SESSION_CONTINUED`. Real
//!   documents omit all of these, and Clearwater accepts that.
//! * **Numbers** are checked: `Priority` is a non-negative `i32`; `Group`,
//!   `SharedIFCSetID`, `SubscribedMediaProfileId` and `SetID` are `u32`;
//!   `SessionCase` 0..4, `DefaultHandling` and `ProfilePartIndicator` 0..1,
//!   `RegistrationType` 0..2, `IdentityType` any `u8`. Booleans are `0`,
//!   `1`, `false` or `true`. Anything else is refused with the element and
//!   the value in the reason.
//! * **Forward compatibility**: an element this crate does not know, inside
//!   a known parent, is skipped with everything in it, and nothing inside
//!   it is taken for a known element (a `Priority` inside an unknown
//!   element is not the iFC's priority). Unknown elements are not kept, so
//!   [`ImsSubscription::to_xml`] does not write them back. Known elements
//!   are accepted in any order and written in schema order. Elements are
//!   matched by local name (a namespace prefix is ignored); attributes are
//!   ignored. `WildcardedIMPU` is also accepted one or two `Extension`
//!   levels up from its schema place, where some HSSs write it.
//! * **Text** has its literal leading and trailing whitespace removed (so
//!   pretty-printed values work); whitespace written as a character
//!   reference or inside CDATA is kept, which is how [`ImsSubscription::to_xml`]
//!   writes values that start or end with whitespace. Line ends are
//!   normalised as XML requires (a carriage return survives as `&#13;`).
//!   Character references and the five predefined entities are resolved;
//!   CDATA sections are text. Characters XML 1.0 does not allow are refused.
//!   Non-whitespace text where elements are expected, and elements where
//!   text is expected, are refused.
//! * **Input** is UTF-8 text ([`ImsSubscription::parse_bytes`] checks
//!   bytes); a byte-order mark is skipped, the XML declaration is optional
//!   and must come first (whitespace before it is tolerated), and its
//!   `encoding` is not consulted.
//! * **Hostile input**: a `DOCTYPE` is refused outright, so no DTD is read
//!   and no entity is ever declared or expanded (quick-xml never expands
//!   entities itself; in the text this crate reads, any entity other than
//!   the five predefined ones is refused, and inside skipped elements
//!   nothing is resolved). Malformed XML (mismatched or missing end tags,
//!   unclosed markup) is refused with the byte offset. The reader never panics, allocates at
//!   most in proportion to the input, and walks unknown subtrees without
//!   recursion. Every error is [`HssError::Invalid`](crate::HssError::Invalid)
//!   with a reason naming the element, the open elements and the byte
//!   offset.
//!
//! # Limits
//!
//! [`ParseLimits`] bounds what a document may hold; each has a default and
//! a test:
//!
//! | limit | default |
//! |---|---|
//! | document size | 1 MiB |
//! | element nesting depth | 32 |
//! | `ServiceProfile`s per subscription | 64 |
//! | `PublicIdentity`s per profile | 1000 |
//! | `InitialFilterCriteria` per profile or shared set | 500 |
//! | `SPT`s per trigger point | 100 |
//! | list entries (`Group`, `RegistrationType`, `SharedIFCSetID`, `ServiceId`) | 64 |
//! | one text value | 8 KiB |
//! | `SharedIFCSet`s per document | 1000 |
//!
//! # Identities and wildcards
//!
//! [`ImsSubscription::find_identity`] finds the entry serving a concrete
//! identity: an exact `Identity` match anywhere in the document first, then
//! the first entry whose wildcard matches. An entry's wildcard is its
//! `WildcardedPSI`, else its `WildcardedIMPU`, else its `Identity` when the
//! `IdentityType` may be wildcarded (2 and up; see [`IdentityType`] for the
//! numbering of wildcarded IMPUs, which differs between sources). Wildcards
//! use the TS 23.003 `!…!` syntax, compiled by [`WildcardPattern`], which
//! documents the supported regular expression subset; a wildcard outside it
//! matches nothing. Identities are compared as strings, without URI
//! normalisation.
//!
//! # Writing
//!
//! [`ImsSubscription::to_xml`] writes the XML declaration and the document
//! indented by two spaces, always writing `BarringIndication`,
//! `IdentityType`, `ConditionNegated` and `DefaultHandling` (as the corpus
//! documents do) and the other optional elements only when present. For
//! every value that passes [`ImsSubscription::validate`] and stays within
//! the [`ParseLimits`], parsing the output gives back an equal value.

mod model;
pub(crate) use model::{first_non_xml_char, is_xml_char};
mod reader;
mod wildcard;
mod writer;

pub use model::{
    ApplicationServer, CoreNetworkServicesAuthorization, DefaultHandling, IdentityType,
    ImsSubscription, InitialFilterCriteria, ParseLimits, ProfilePartIndicator, PublicIdentity,
    RegistrationType, ServicePointTrigger, ServiceProfile, SessionCase, SharedIfcSet,
    SharedIfcSets, SptKind, TriggerPoint,
};
pub use wildcard::WildcardPattern;
