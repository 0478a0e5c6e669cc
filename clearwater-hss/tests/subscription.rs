//! The IMS subscription model and XML: the corpus documents, round trips,
//! hostile input, limits, wildcard identities and property tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use clearwater_hss::HssError;
use clearwater_hss::subscription::{
    ApplicationServer, CoreNetworkServicesAuthorization, DefaultHandling, IdentityType,
    ImsSubscription, InitialFilterCriteria, ParseLimits, ProfilePartIndicator, PublicIdentity,
    RegistrationType, ServicePointTrigger, ServiceProfile, SessionCase, SharedIfcSet,
    SharedIfcSets, SptKind, TriggerPoint, WildcardPattern,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Helpers

const SUBSCRIPTIONS: [&str; 4] = [
    "alice-cnf.xml",
    "bob-dnf.xml",
    "carol-two-profiles.xml",
    "conference-psi.xml",
];

fn corpus(name: &str) -> String {
    let path = format!("{}/tests/corpus/ifc/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn subscription(name: &str) -> ImsSubscription {
    ImsSubscription::parse(&corpus(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn shared_sets() -> SharedIfcSets {
    SharedIfcSets::parse(&corpus("shared-ifc-sets.xml")).unwrap()
}

/// The reason of the `Invalid` error parsing `xml` must give.
fn reason(xml: &str) -> String {
    match ImsSubscription::parse(xml) {
        Err(HssError::Invalid(reason)) => reason,
        other => panic!("expected Invalid, got {other:?} for\n{xml}"),
    }
}

fn assert_invalid(xml: &str, needle: &str) {
    let reason = reason(xml);
    assert!(
        reason.contains(needle),
        "reason {reason:?} does not mention {needle:?}"
    );
}

/// A minimal valid document with `ifc` (an `InitialFilterCriteria` body)
/// in its one profile.
fn with_ifc(ifc: &str) -> String {
    format!(
        "<IMSSubscription><PrivateID>u@example.net</PrivateID><ServiceProfile>\
         <PublicIdentity><Identity>sip:u@example.net</Identity></PublicIdentity>\
         <InitialFilterCriteria>{ifc}</InitialFilterCriteria>\
         </ServiceProfile></IMSSubscription>"
    )
}

/// An iFC body with one SPT whose body is `spt`.
fn with_spt(spt: &str) -> String {
    with_ifc(&format!(
        "<Priority>0</Priority><TriggerPoint><ConditionTypeCNF>1</ConditionTypeCNF>\
         <SPT>{spt}</SPT></TriggerPoint>\
         <ApplicationServer><ServerName>sip:as@example.net</ServerName></ApplicationServer>"
    ))
}

fn spts(ifc: &InitialFilterCriteria) -> &[ServicePointTrigger] {
    &ifc.trigger_point.as_ref().unwrap().spts
}

fn spt(groups: &[u32], kind: SptKind) -> ServicePointTrigger {
    ServicePointTrigger {
        condition_negated: false,
        groups: groups.to_vec(),
        kind,
        registration_types: Vec::new(),
    }
}

fn method(m: &str) -> SptKind {
    SptKind::Method(m.to_owned())
}

fn priorities(ifcs: &[&InitialFilterCriteria]) -> Vec<i32> {
    ifcs.iter().map(|ifc| ifc.priority).collect()
}

// ---------------------------------------------------------------------------
// The corpus documents, field by field

#[test]
fn alice_cnf_fields() {
    let alice = subscription("alice-cnf.xml");
    assert_eq!(alice.private_id, "001010000012345@ims.example.net");
    assert_eq!(alice.service_profiles.len(), 1);
    let profile = &alice.service_profiles[0];

    let ids: Vec<_> = profile
        .public_identities
        .iter()
        .map(|id| id.identity.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "sip:+15551230001@ims.example.net",
            "tel:+15551230001",
            "sip:alice@ims.example.net"
        ]
    );
    let first = &profile.public_identities[0];
    assert_eq!(first.display_name.as_deref(), Some("Alice"));
    assert!(
        profile
            .public_identities
            .iter()
            .all(|id| !id.barring_indication
                && id.identity_type == IdentityType::PUBLIC_USER_IDENTITY
                && id.wildcard().is_none())
    );
    assert_eq!(profile.public_identities[1].display_name, None);
    assert_eq!(profile.shared_ifc_set_ids, [1]);
    assert_eq!(profile.core_network_services_authorization, None);

    let ifcs = &profile.initial_filter_criteria;
    assert_eq!(
        ifcs.iter().map(|i| i.priority).collect::<Vec<_>>(),
        [0, 5, 10, 20, 30, 40]
    );

    // P0: CNF (INVITE or MESSAGE) and ORIGINATING_SESSION.
    let p0 = &ifcs[0];
    assert!(p0.trigger_point.as_ref().unwrap().condition_type_cnf);
    assert_eq!(
        spts(p0),
        [
            spt(&[0], method("INVITE")),
            spt(&[0], method("MESSAGE")),
            spt(&[1], SptKind::SessionCase(SessionCase::OriginatingSession)),
        ]
    );
    assert_eq!(
        p0.application_server,
        ApplicationServer {
            server_name: "sip:mmtel-as.ims.example.net".into(),
            default_handling: DefaultHandling::SessionContinued,
            service_info: Some("mmtel-orig".into()),
            include_register_request: false,
            include_register_response: false,
        }
    );
    assert_eq!(p0.profile_part_indicator, None);

    // P5: REGISTER restricted to initial and re-registrations, with the
    // REGISTER request and response included.
    let p5 = &ifcs[1];
    assert_eq!(spts(p5)[0].kind, method("REGISTER"));
    assert_eq!(
        spts(p5)[0].registration_types,
        [
            RegistrationType::InitialRegistration,
            RegistrationType::ReRegistration
        ]
    );
    assert!(p5.application_server.include_register_request);
    assert!(p5.application_server.include_register_response);
    assert_eq!(p5.application_server.service_info, None);

    // P10: SDP m=video, SESSION_TERMINATED.
    let p10 = &ifcs[2];
    assert_eq!(
        spts(p10)[2],
        spt(
            &[2],
            SptKind::SessionDescription {
                line: "m".into(),
                content: Some("^video".into())
            }
        )
    );
    assert_eq!(
        spts(p10)[1].kind,
        SptKind::SessionCase(SessionCase::TerminatingRegistered)
    );
    assert_eq!(
        p10.application_server.default_handling,
        DefaultHandling::SessionTerminated
    );

    // P20: SIP header regex (with regex escapes kept verbatim).
    assert_eq!(
        spts(&ifcs[3])[1].kind,
        SptKind::SipHeader {
            header: "Content-Type".into(),
            content: Some(r"application/vnd\.3gpp\.sms".into())
        }
    );
    assert_eq!(
        ifcs[3].application_server.server_name,
        "sip:ipsmgw.ims.example.net"
    );

    // P30: negated Request-URI.
    let negated = &spts(&ifcs[4])[2];
    assert!(negated.condition_negated);
    assert_eq!(negated.kind, SptKind::RequestUri("^urn:service:sos".into()));
    assert!(spts(&ifcs[4])[..2].iter().all(|s| !s.condition_negated));

    // P40: unregistered part only.
    assert_eq!(
        ifcs[5].profile_part_indicator,
        Some(ProfilePartIndicator::Unregistered)
    );
    assert_eq!(
        spts(&ifcs[5])[1].kind,
        SptKind::SessionCase(SessionCase::TerminatingUnregistered)
    );
    assert!(ifcs[5].applies_when_registered(false));
    assert!(!ifcs[5].applies_when_registered(true));
    assert!(ifcs[0].applies_when_registered(true) && ifcs[0].applies_when_registered(false));
}

#[test]
fn bob_dnf_fields() {
    let bob = subscription("bob-dnf.xml");
    assert_eq!(bob.private_id, "001010000067890@ims.example.net");
    let profile = &bob.service_profiles[0];
    assert_eq!(profile.public_identities.len(), 3);
    assert_eq!(
        profile.public_identities[0].display_name.as_deref(),
        Some("Bob")
    );
    let barred: Vec<_> = profile
        .public_identities
        .iter()
        .map(|id| id.barring_indication)
        .collect();
    assert_eq!(barred, [false, false, true]);
    assert_eq!(bob.is_barred("sip:bob.old@ims.example.net"), Some(true));
    assert_eq!(bob.is_barred("tel:+15551230002"), Some(false));
    assert_eq!(bob.is_barred("sip:nobody@ims.example.net"), None);
    assert!(profile.shared_ifc_set_ids.is_empty());

    let ifcs = &profile.initial_filter_criteria;
    assert_eq!(ifcs.len(), 4);
    for ifc in ifcs {
        assert!(
            !ifc.trigger_point.as_ref().unwrap().condition_type_cnf,
            "DNF"
        );
    }
    // P0: (INVITE and TERMINATING_REGISTERED) or (INVITE and TERMINATING_UNREGISTERED).
    assert_eq!(
        spts(&ifcs[0]),
        [
            spt(&[0], method("INVITE")),
            spt(
                &[0],
                SptKind::SessionCase(SessionCase::TerminatingRegistered)
            ),
            spt(&[1], method("INVITE")),
            spt(
                &[1],
                SptKind::SessionCase(SessionCase::TerminatingUnregistered)
            ),
        ]
    );
    assert_eq!(ifcs[0].trigger_point.as_ref().unwrap().groups(), [0, 1]);
    assert_eq!(
        ifcs[0].application_server.service_info.as_deref(),
        Some("mmtel-term")
    );
    // P1: negated Accept-Contact regex.
    let accept = &spts(&ifcs[1])[2];
    assert!(accept.condition_negated);
    assert_eq!(
        accept.kind,
        SptKind::SipHeader {
            header: "Accept-Contact".into(),
            content: Some(r"3gpp-service\.ims\.icsi\.mmtel".into())
        }
    );
    // P2: SUBSCRIBE with Event ^presence, or PUBLISH.
    assert_eq!(spts(&ifcs[2])[2], spt(&[1], method("PUBLISH")));
    // P3: negated header presence (no Content), SESSION_TERMINATED.
    let privacy = &spts(&ifcs[3])[2];
    assert!(privacy.condition_negated);
    assert_eq!(
        privacy.kind,
        SptKind::SipHeader {
            header: "Privacy".into(),
            content: None
        }
    );
    assert_eq!(
        ifcs[3].application_server.default_handling,
        DefaultHandling::SessionTerminated
    );
    assert_eq!(
        ifcs[3].application_server.server_name,
        "sip:cnip-as.ims.example.net"
    );
}

#[test]
fn carol_two_profiles_fields() {
    let carol = subscription("carol-two-profiles.xml");
    assert_eq!(carol.private_id, "001010000011111@ims.example.net");
    assert_eq!(carol.service_profiles.len(), 2);
    let (personal, business) = (&carol.service_profiles[0], &carol.service_profiles[1]);
    assert!(personal.shared_ifc_set_ids.is_empty());
    assert_eq!(business.shared_ifc_set_ids, [2]);

    let all: Vec<_> = carol
        .public_identities()
        .map(|id| id.identity.as_str())
        .collect();
    assert_eq!(
        all,
        [
            "sip:carol@ims.example.net",
            "tel:+15551230003",
            "sip:carol.work@ims.example.net",
            "tel:+15559870003"
        ]
    );
    assert_eq!(
        carol.service_profile_for("tel:+15551230003"),
        Some(personal)
    );
    assert_eq!(
        carol.service_profile_for("tel:+15559870003"),
        Some(business)
    );
    assert!(business.contains("sip:carol.work@ims.example.net"));
    assert!(!business.contains("sip:carol@ims.example.net"));

    // Personal P0: INVITE and (ORIGINATING_SESSION or ORIGINATING_CDIV).
    assert_eq!(
        spts(&personal.initial_filter_criteria[0])[2].kind,
        SptKind::SessionCase(SessionCase::OriginatingCdiv)
    );
    // Business P0: +1900 in tel or sip form, both group 2.
    let premium = &business.initial_filter_criteria[0];
    assert_eq!(
        spts(premium)[2..],
        [
            spt(&[2], SptKind::RequestUri(r"^tel:\+1900".into())),
            spt(&[2], SptKind::RequestUri(r"^sip:\+1900".into())),
        ]
    );
    assert_eq!(
        premium.application_server.server_name,
        "sip:premium-block-as.ims.example.net"
    );
    assert_eq!(
        premium.application_server.default_handling,
        DefaultHandling::SessionTerminated
    );
    assert_eq!(spts(&business.initial_filter_criteria[1]).len(), 4);
}

#[test]
fn conference_psi_fields_and_wildcard_lookup() {
    let conf = subscription("conference-psi.xml");
    assert_eq!(conf.private_id, "conference-factory@ims.example.net");
    let profile = &conf.service_profiles[0];
    let psi = &profile.public_identities[0];
    assert_eq!(psi.identity, "sip:conf-!.*!@ims.example.net");
    assert_eq!(psi.identity_type, IdentityType::WILDCARDED_PSI);
    assert_eq!(psi.identity_type.name(), Some("WILDCARDED_PSI"));
    assert!(psi.identity_type.is_psi());
    assert_eq!(
        psi.wildcarded_psi.as_deref(),
        Some("sip:conf-!.*!@ims.example.net")
    );
    assert_eq!(psi.wildcard(), Some("sip:conf-!.*!@ims.example.net"));

    for room in [
        "sip:conf-4711@ims.example.net",
        "sip:conf-lobby@ims.example.net",
        "sip:conf-@ims.example.net",
    ] {
        let (found_profile, found) = conf.find_identity(room).unwrap();
        assert_eq!(found_profile, profile);
        assert_eq!(found, psi);
        assert_eq!(conf.is_barred(room), Some(false));
    }
    for stranger in [
        "sip:conference@ims.example.net",
        "sip:conf-1@ims.example.org",
        "sip:xconf-1@ims.example.net",
    ] {
        assert_eq!(conf.find_identity(stranger), None, "{stranger}");
    }
    // The wildcard form itself is also found (exactly).
    assert!(
        conf.service_profile_for("sip:conf-!.*!@ims.example.net")
            .is_some()
    );

    let ifcs = &profile.initial_filter_criteria;
    assert_eq!(ifcs.len(), 2);
    assert!(
        ifcs.iter()
            .all(|i| i.profile_part_indicator == Some(ProfilePartIndicator::Unregistered))
    );
    assert_eq!(
        spts(&ifcs[0])[2].kind,
        SptKind::RequestUri("^sip:conf-[0-9]+@".into())
    );
    assert_eq!(spts(&ifcs[1]).len(), 4);
}

#[test]
fn shared_ifc_sets_fields_and_merge() {
    let shared = shared_sets();
    assert_eq!(shared.sets.len(), 2);
    let one = shared.get(1).unwrap();
    assert_eq!(
        one.initial_filter_criteria
            .iter()
            .map(|i| (i.priority, i.application_server.server_name.as_str()))
            .collect::<Vec<_>>(),
        [
            (15, "sip:recording-as.ims.example.net"),
            (100, "sip:analytics-as.ims.example.net")
        ]
    );
    assert_eq!(
        spts(&one.initial_filter_criteria[0])[2].kind,
        SptKind::SipHeader {
            header: "P-Asserted-Service".into(),
            content: Some(r"3gpp-service\.ims\.icsi\.mmtel".into())
        }
    );
    let two = shared.get(2).unwrap();
    assert!(
        !two.initial_filter_criteria[0]
            .trigger_point
            .as_ref()
            .unwrap()
            .condition_type_cnf
    );
    assert_eq!(spts(&two.initial_filter_criteria[0]).len(), 5);
    assert!(shared.get(3).is_none());

    let alice = subscription("alice-cnf.xml");
    let profile = &alice.service_profiles[0];
    assert_eq!(
        priorities(&profile.merged_ifcs(&shared)),
        [0, 5, 10, 15, 20, 30, 40, 100]
    );
    assert_eq!(
        profile.unknown_shared_ifc_set_ids(&shared),
        Vec::<u32>::new()
    );
    assert_eq!(
        profile.unknown_shared_ifc_set_ids(&SharedIfcSets::default()),
        [1]
    );
    assert_eq!(
        priorities(&profile.merged_ifcs(&SharedIfcSets::default())),
        [0, 5, 10, 20, 30, 40]
    );

    let carol = subscription("carol-two-profiles.xml");
    let business = &carol.service_profiles[1];
    let merged = business.merged_ifcs(&shared);
    assert_eq!(
        merged
            .iter()
            .map(|i| i.application_server.server_name.as_str())
            .collect::<Vec<_>>(),
        [
            "sip:premium-block-as.ims.example.net",
            "sip:compliance-as.ims.example.net",
            "sip:business-pbx-as.ims.example.net"
        ]
    );
}

#[test]
fn ifcs_by_priority_is_stable_and_merge_puts_own_ifcs_first() {
    let ifc = |priority, name: &str| InitialFilterCriteria {
        priority,
        application_server: ApplicationServer::new(name),
        ..InitialFilterCriteria::default()
    };
    let profile = ServiceProfile {
        public_identities: vec![PublicIdentity::new("sip:a@x")],
        initial_filter_criteria: vec![ifc(7, "a"), ifc(3, "b"), ifc(7, "c"), ifc(0, "d")],
        shared_ifc_set_ids: vec![9, 9, 4],
        ..ServiceProfile::default()
    };
    let names = |ifcs: Vec<&InitialFilterCriteria>| {
        ifcs.iter()
            .map(|i| i.application_server.server_name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(profile.ifcs_by_priority()), ["d", "b", "a", "c"]);
    let shared = SharedIfcSets {
        sets: vec![SharedIfcSet {
            set_id: 9,
            initial_filter_criteria: vec![ifc(3, "s3"), ifc(8, "s8")],
        }],
    };
    assert_eq!(
        names(profile.merged_ifcs(&shared)),
        ["d", "b", "s3", "a", "c", "s8"],
        "set 9 referenced twice counts once; own iFCs first among equals"
    );
    assert_eq!(profile.unknown_shared_ifc_set_ids(&shared), [4]);
}

// ---------------------------------------------------------------------------
// Round trips

#[test]
fn every_corpus_document_round_trips() {
    for name in SUBSCRIPTIONS {
        let parsed = subscription(name);
        let xml = parsed.to_xml();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<IMSSubscription"));
        let again = ImsSubscription::parse(&xml).unwrap_or_else(|e| panic!("{name}: {e}\n{xml}"));
        assert_eq!(again, parsed, "{name}");
        assert_eq!(again.to_xml(), xml, "{name}: writing is deterministic");
    }
    let shared = shared_sets();
    let xml = shared.to_xml();
    assert!(xml.contains("<SharedIFCSets>"));
    assert_eq!(SharedIfcSets::parse(&xml).unwrap(), shared);
}

#[test]
fn written_document_shape() {
    let xml = subscription("alice-cnf.xml").to_xml();
    for expected in [
        "  <PrivateID>001010000012345@ims.example.net</PrivateID>\n",
        "<BarringIndication>0</BarringIndication>",
        "<IdentityType>0</IdentityType>",
        "<DisplayName>Alice</DisplayName>",
        "<IncludeRegisterRequest/>",
        "<SharedIFCSetID>1</SharedIFCSetID>",
        "<ProfilePartIndicator>1</ProfilePartIndicator>",
        "<ConditionTypeCNF>1</ConditionTypeCNF>",
        "<Content>application/vnd\\.3gpp\\.sms</Content>",
    ] {
        assert!(xml.contains(expected), "{expected:?} missing from\n{xml}");
    }
}

#[test]
fn text_needing_escaping_round_trips() {
    let nasty = [
        "a&b<c>d]]>e\"f'g",
        "  leading and trailing  ",
        "\r\nline\rends\n",
        "\ttab\tinside\t",
        "&amp; is not an entity here",
        "<![CDATA[not cdata]]>",
        "ünïcødé ☎ 𝄞",
        " ",
    ];
    let mut sub = ImsSubscription {
        private_id: "impi&<>@example.net".into(),
        service_profiles: vec![ServiceProfile {
            public_identities: vec![PublicIdentity {
                display_name: Some("\"Al\" <al&ice>".into()),
                ..PublicIdentity::new("sip:a&b@example.net")
            }],
            ..ServiceProfile::default()
        }],
    };
    for (i, text) in nasty.iter().enumerate() {
        sub.service_profiles[0]
            .initial_filter_criteria
            .push(InitialFilterCriteria {
                priority: i as i32,
                trigger_point: Some(TriggerPoint {
                    condition_type_cnf: true,
                    spts: vec![spt(
                        &[0],
                        SptKind::SipHeader {
                            header: "X-Test".into(),
                            content: Some((*text).to_owned()),
                        },
                    )],
                }),
                application_server: ApplicationServer {
                    service_info: Some((*text).to_owned()),
                    ..ApplicationServer::new("sip:as@example.net")
                },
                profile_part_indicator: None,
            });
    }
    sub.validate().unwrap();
    let xml = sub.to_xml();
    assert!(xml.contains("<PrivateID>impi&amp;&lt;&gt;@example.net</PrivateID>"));
    assert!(xml.contains("a&amp;b&lt;c&gt;d]]&gt;e\"f'g"));
    assert!(!xml.contains("<![CDATA[not"), "markup in text is escaped");
    assert_eq!(ImsSubscription::parse(&xml).unwrap(), sub);
}

// ---------------------------------------------------------------------------
// Lenient and forward-compatible parsing

#[test]
fn optional_elements_take_their_defaults() {
    let xml = with_spt("<Group>0</Group><Method>INVITE</Method>");
    let sub = ImsSubscription::parse(&xml).unwrap();
    let id = &sub.service_profiles[0].public_identities[0];
    assert_eq!(id, &PublicIdentity::new("sip:u@example.net"));
    let ifc = &sub.service_profiles[0].initial_filter_criteria[0];
    assert_eq!(
        ifc.application_server,
        ApplicationServer::new("sip:as@example.net")
    );
    assert!(!spts(ifc)[0].condition_negated);
    assert_eq!(ifc.profile_part_indicator, None);

    // An iFC without a TriggerPoint, an empty TriggerPoint.
    let xml = with_ifc(
        "<Priority>1</Priority><ApplicationServer><ServerName>sip:as</ServerName></ApplicationServer>",
    );
    let sub = ImsSubscription::parse(&xml).unwrap();
    assert_eq!(
        sub.service_profiles[0].initial_filter_criteria[0].trigger_point,
        None
    );
    let xml = with_ifc(
        "<Priority>1</Priority><TriggerPoint><ConditionTypeCNF>0</ConditionTypeCNF></TriggerPoint>\
         <ApplicationServer><ServerName>sip:as</ServerName></ApplicationServer>",
    );
    let sub = ImsSubscription::parse(&xml).unwrap();
    let tp = sub.service_profiles[0].initial_filter_criteria[0]
        .trigger_point
        .as_ref()
        .unwrap();
    assert!(tp.spts.is_empty() && !tp.condition_type_cnf);
}

#[test]
fn lenient_forms_are_accepted() {
    let xml = "\u{FEFF}<?xml version='1.0' encoding='UTF-8'?>\n\
        <!-- a comment --><?processing instruction?>\n\
        <cx:IMSSubscription xmlns:cx=\"urn:example\" version=\"1\">\n\
          <cx:PrivateID>\n    user@example.net\n  </cx:PrivateID>\n\
          <cx:ServiceProfile>\n\
            <cx:PublicIdentity>\n\
              <cx:BarringIndication> true </cx:BarringIndication>\n\
              <cx:Identity><![CDATA[sip:user@example.net]]></cx:Identity>\n\
              <cx:Extension>\n\
                <cx:IdentityType>4</cx:IdentityType>\n\
                <cx:WildcardedIMPU>sip:user-!.*!@example.net</cx:WildcardedIMPU>\n\
              </cx:Extension>\n\
            </cx:PublicIdentity>\n\
            <cx:InitialFilterCriteria>\n\
              <cx:ApplicationServer>\n\
                <cx:Extension><cx:IncludeRegisterResponse></cx:IncludeRegisterResponse></cx:Extension>\n\
                <cx:ServerName>sip:as@example.net</cx:ServerName>\n\
              </cx:ApplicationServer>\n\
              <cx:Priority>+7</cx:Priority>\n\
            </cx:InitialFilterCriteria>\n\
          </cx:ServiceProfile>\n\
        </cx:IMSSubscription>\n<!-- trailing comment -->\n";
    let sub = ImsSubscription::parse(xml).unwrap();
    assert_eq!(sub.private_id, "user@example.net");
    let id = &sub.service_profiles[0].public_identities[0];
    assert!(id.barring_indication);
    assert_eq!(id.identity, "sip:user@example.net");
    assert_eq!(id.identity_type, IdentityType(4));
    assert_eq!(id.identity_type.name(), None);
    assert_eq!(
        id.wildcarded_impu.as_deref(),
        Some("sip:user-!.*!@example.net")
    );
    assert_eq!(sub.is_barred("sip:user-42@example.net"), Some(true));
    let ifc = &sub.service_profiles[0].initial_filter_criteria[0];
    assert_eq!(ifc.priority, 7);
    assert!(ifc.application_server.include_register_response);
    assert!(!ifc.application_server.include_register_request);
    // Unknown identity types survive a round trip.
    assert_eq!(ImsSubscription::parse(&sub.to_xml()).unwrap(), sub);
    // So does the same document given as bytes.
    assert_eq!(ImsSubscription::parse_bytes(xml.as_bytes()).unwrap(), sub);
}

#[test]
fn unknown_elements_are_skipped_not_misread() {
    let xml = r#"<IMSSubscription>
      <PrivateID>u@example.net</PrivateID>
      <FutureElement><PrivateID>wrong@example.net</PrivateID></FutureElement>
      <ServiceProfile>
        <PublicIdentity>
          <Identity>sip:u@example.net</Identity>
          <Unknown><Identity>sip:wrong@example.net</Identity><BarringIndication>1</BarringIndication></Unknown>
          <Extension>
            <IdentityType>0</IdentityType>
            <Extension>
              <DisplayName>U</DisplayName>
              <Extension>
                <ServiceLevelTraceInfo>x</ServiceLevelTraceInfo>
                <ServicePriorityLevel>2</ServicePriorityLevel>
                <Extension><MaxNumOfAllowedSimultRegistrations>3</MaxNumOfAllowedSimultRegistrations></Extension>
              </Extension>
            </Extension>
          </Extension>
        </PublicIdentity>
        <CoreNetworkServicesAuthorization>
          <SubscribedMediaProfileId>5</SubscribedMediaProfileId>
          <Extension><ListOfServiceIds><ServiceId>svc-1</ServiceId><Other/><ServiceId>svc&amp;2</ServiceId></ListOfServiceIds></Extension>
        </CoreNetworkServicesAuthorization>
        <InitialFilterCriteria>
          <Priority>3</Priority>
          <Later><Priority>99</Priority></Later>
          <TriggerPoint>
            <ConditionTypeCNF>1</ConditionTypeCNF>
            <SPT>
              <Group>0</Group>
              <Method>INVITE</Method>
              <NewCondition><Method>BYE</Method></NewCondition>
              <Extension><RegistrationType>0</RegistrationType><Extension><Future/></Extension></Extension>
            </SPT>
            <Extension/>
          </TriggerPoint>
          <ApplicationServer>
            <ServerName>sip:as@example.net</ServerName>
            <Extension><IncludeRegisterRequest/><Extension><NewFlag/></Extension></Extension>
          </ApplicationServer>
          <Extension><Priority>98</Priority></Extension>
        </InitialFilterCriteria>
        <Extension>
          <SharedIFCSetID>4</SharedIFCSetID>
          <Extension><SharedIFCSetID>77</SharedIFCSetID></Extension>
        </Extension>
      </ServiceProfile>
      <Extension><Anything/></Extension>
    </IMSSubscription>"#;
    let sub = ImsSubscription::parse(xml).unwrap();
    assert_eq!(sub.private_id, "u@example.net");
    let profile = &sub.service_profiles[0];
    let id = &profile.public_identities[0];
    assert_eq!(id.identity, "sip:u@example.net");
    assert!(!id.barring_indication);
    assert_eq!(id.display_name.as_deref(), Some("U"));
    assert_eq!(
        profile.core_network_services_authorization,
        Some(CoreNetworkServicesAuthorization {
            subscribed_media_profile_id: Some(5),
            service_ids: vec!["svc-1".into(), "svc&2".into()],
        })
    );
    let ifc = &profile.initial_filter_criteria[0];
    assert_eq!(ifc.priority, 3);
    assert_eq!(spts(ifc).len(), 1);
    assert_eq!(spts(ifc)[0].kind, method("INVITE"));
    assert_eq!(
        spts(ifc)[0].registration_types,
        [RegistrationType::InitialRegistration]
    );
    assert!(ifc.application_server.include_register_request);
    assert_eq!(profile.shared_ifc_set_ids, [4]);
    assert_eq!(ImsSubscription::parse(&sub.to_xml()).unwrap(), sub);
}

// ---------------------------------------------------------------------------
// Hostile and invalid input

#[test]
fn not_xml_and_wrong_roots() {
    assert_invalid("", "empty");
    assert_invalid("   \n  ", "empty");
    assert_invalid("not xml at all", "before the root element");
    assert_invalid("{\"json\": true}", "before the root element");
    assert_invalid(
        "<Foo/>",
        "root element is <Foo>, expected <IMSSubscription>",
    );
    assert_invalid("<SharedIFCSets/>", "root element is <SharedIFCSets>");
    assert_invalid("<IMSSubscription/>", "<IMSSubscription> has no <PrivateID>");
    assert!(matches!(
        SharedIfcSets::parse("<IMSSubscription/>"),
        Err(HssError::Invalid(r)) if r.contains("expected <SharedIFCSets>")
    ));
    let doc = corpus("bob-dnf.xml");
    assert_invalid(
        &format!("{doc}<IMSSubscription/>"),
        "after the root element",
    );
    assert_invalid(&format!("{doc} trailing text"), "after the root element");
    assert_invalid(
        &format!("<!-- c -->{}", doc),
        "XML declaration is only allowed at the start",
    );
    assert_invalid(
        &format!("<?xml version=\"1.0\"?>{doc}"),
        "XML declaration is only allowed at the start",
    );
    // Whitespace before the declaration is tolerated.
    assert!(ImsSubscription::parse(&format!("\n  {doc}")).is_ok());
}

#[test]
fn every_truncation_of_a_corpus_document_is_refused() {
    let doc = corpus("alice-cnf.xml");
    let end = doc.rfind("</IMSSubscription>").unwrap() + "</IMSSubscription>".len();
    for cut in (0..end).filter(|i| doc.is_char_boundary(*i)) {
        match ImsSubscription::parse(&doc[..cut]) {
            Err(HssError::Invalid(_)) => {}
            other => panic!("prefix of {cut} bytes: {other:?}"),
        }
    }
    assert!(ImsSubscription::parse(&doc[..end]).is_ok());
}

#[test]
fn malformed_xml_is_refused_with_the_position() {
    let bad = with_spt("<Group>0</Group><Method>INVITE</Methd>");
    let why = reason(&bad);
    assert!(why.contains("malformed XML at byte"), "{why}");
    assert_invalid(
        "<IMSSubscription><PrivateID>x</PrivateID>",
        "the document ends inside <IMSSubscription>",
    );
    for bad in [
        "<IMSSubscription></Other>",
        "<IMSSubscription><PrivateID>a&b</PrivateID>",
        "<IMSSubscription><!-- unclosed comment",
        "<IMSSubscription><![CDATA[x",
        "<IMSSubscription><PrivateID>a</PrivateID></IMSSubscription",
        "</IMSSubscription>",
    ] {
        assert_invalid(bad, "malformed XML at byte");
    }
    assert_invalid("<IMSSubscription><<>", "the document ends inside");
}

#[test]
fn mandatory_elements_are_enforced() {
    let profile = "<ServiceProfile><PublicIdentity><Identity>sip:a@x</Identity></PublicIdentity></ServiceProfile>";
    assert_invalid(
        &format!("<IMSSubscription>{profile}</IMSSubscription>"),
        "<IMSSubscription> has no <PrivateID>",
    );
    assert_invalid(
        &format!("<IMSSubscription><PrivateID></PrivateID>{profile}</IMSSubscription>"),
        "<PrivateID> is empty",
    );
    assert_invalid(
        &format!("<IMSSubscription><PrivateID> \n </PrivateID>{profile}</IMSSubscription>"),
        "<PrivateID> is empty",
    );
    assert_invalid(
        "<IMSSubscription><PrivateID>a</PrivateID></IMSSubscription>",
        "<IMSSubscription> has no <ServiceProfile>",
    );
    assert_invalid(
        "<IMSSubscription><PrivateID>a</PrivateID><ServiceProfile/></IMSSubscription>",
        "<ServiceProfile> has no <PublicIdentity>",
    );
    assert_invalid(
        "<IMSSubscription><PrivateID>a</PrivateID><ServiceProfile><PublicIdentity>\
         <BarringIndication>0</BarringIndication></PublicIdentity></ServiceProfile></IMSSubscription>",
        "<PublicIdentity> has no <Identity>",
    );
    assert_invalid(
        "<IMSSubscription><PrivateID>a</PrivateID><ServiceProfile><PublicIdentity>\
         <Identity/></PublicIdentity></ServiceProfile></IMSSubscription>",
        "PublicIdentity 1: <Identity> is empty",
    );
    assert_invalid(
        &with_ifc("<ApplicationServer><ServerName>sip:as</ServerName></ApplicationServer>"),
        "<InitialFilterCriteria> has no <Priority>",
    );
    assert_invalid(
        &with_ifc("<Priority>1</Priority>"),
        "<InitialFilterCriteria> has no <ApplicationServer>",
    );
    assert_invalid(
        &with_ifc(
            "<Priority>1</Priority><ApplicationServer><DefaultHandling>0</DefaultHandling></ApplicationServer>",
        ),
        "<ApplicationServer> has no <ServerName>",
    );
    assert_invalid(
        &with_ifc("<Priority>1</Priority><ApplicationServer><ServerName/></ApplicationServer>"),
        "<ServerName> is empty",
    );
    assert_invalid(
        &with_ifc(
            "<Priority>1</Priority><TriggerPoint><SPT><Group>0</Group><Method>A</Method></SPT></TriggerPoint>\
             <ApplicationServer><ServerName>sip:as</ServerName></ApplicationServer>",
        ),
        "<TriggerPoint> has no <ConditionTypeCNF>",
    );
    assert_invalid(&with_spt("<Method>INVITE</Method>"), "<SPT> has no <Group>");
    assert_invalid(&with_spt("<Group>0</Group>"), "<SPT> has none of");
    assert_invalid(
        &with_spt("<Group>0</Group><Method>INVITE</Method><RequestURI>x</RequestURI>"),
        "holds both <Method> and <RequestURI>",
    );
    assert_invalid(
        &with_spt("<Group>0</Group><SIPHeader><Content>x</Content></SIPHeader>"),
        "<SIPHeader> has no <Header>",
    );
    assert_invalid(
        &with_spt("<Group>0</Group><SessionDescription><Content>x</Content></SessionDescription>"),
        "<SessionDescription> has no <Line>",
    );
    assert_invalid(&with_spt("<Group>0</Group><Method/>"), "<Method> is empty");
    assert_invalid(
        &with_spt(
            "<Group>0</Group><Method>A</Method><Group>1</Group><ConditionNegated>0</ConditionNegated><ConditionNegated>1</ConditionNegated>",
        ),
        "<ConditionNegated> appears more than once",
    );
    assert_invalid(
        &with_ifc(
            "<Priority>1</Priority><Priority>2</Priority><ApplicationServer><ServerName>s</ServerName></ApplicationServer>",
        ),
        "<Priority> appears more than once",
    );
    assert!(matches!(
        SharedIfcSets::parse("<SharedIFCSets><SharedIFCSet/></SharedIFCSets>"),
        Err(HssError::Invalid(r)) if r.contains("<SharedIFCSet> has no <SetID>")
    ));
    assert!(matches!(
        SharedIfcSets::parse("<SharedIFCSets><SharedIFCSet><SetID>1</SetID></SharedIFCSet><SharedIFCSet><SetID>1</SetID></SharedIFCSet></SharedIFCSets>"),
        Err(HssError::Invalid(r)) if r.contains("<SetID> 1 is used by more than one")
    ));
}

#[test]
fn numbers_and_enumerations_are_validated() {
    let priority = |p: &str| {
        with_ifc(&format!(
            "<Priority>{p}</Priority><ApplicationServer><ServerName>s</ServerName></ApplicationServer>"
        ))
    };
    assert_invalid(&priority("-1"), "<Priority> \"-1\" is negative");
    assert_invalid(&priority("abc"), "<Priority> \"abc\" is not an integer");
    assert_invalid(&priority(""), "<Priority> \"\" is not an integer");
    assert_invalid(&priority("1.5"), "is not an integer");
    assert_invalid(&priority("2147483648"), "is too large");
    assert_invalid(&priority("99999999999999999999999"), "is not an integer");
    assert_eq!(
        ImsSubscription::parse(&priority("2147483647"))
            .unwrap()
            .service_profiles[0]
            .initial_filter_criteria[0]
            .priority,
        i32::MAX
    );

    assert_invalid(
        &with_spt("<Group>x</Group><Method>A</Method>"),
        "<Group> \"x\" is not a non-negative integer",
    );
    assert_invalid(
        &with_spt("<Group>-3</Group><Method>A</Method>"),
        "<Group> \"-3\" is negative",
    );
    assert_invalid(
        &with_spt("<Group>4294967296</Group><Method>A</Method>"),
        "<Group> \"4294967296\" is too large",
    );
    assert_invalid(
        &with_spt("<Group>0</Group><SessionCase>5</SessionCase>"),
        "<SessionCase> \"5\" is not one of the values 0 to 4",
    );
    assert_invalid(
        &with_spt("<Group>0</Group><SessionCase>-1</SessionCase>"),
        "<SessionCase>",
    );
    assert_invalid(
        &with_spt("<Group>0</Group><SessionCase>ORIGINATING</SessionCase>"),
        "<SessionCase>",
    );
    assert_invalid(
        &with_spt(
            "<Group>0</Group><Method>REGISTER</Method><Extension><RegistrationType>3</RegistrationType></Extension>",
        ),
        "<RegistrationType> \"3\" is not one of the values 0 to 2",
    );
    assert_invalid(
        &with_spt("<ConditionNegated>yes</ConditionNegated><Group>0</Group><Method>A</Method>"),
        "<ConditionNegated> \"yes\" is not a boolean",
    );
    assert_invalid(
        &with_ifc(
            "<Priority>1</Priority><ApplicationServer><ServerName>s</ServerName><DefaultHandling>2</DefaultHandling></ApplicationServer>",
        ),
        "<DefaultHandling> \"2\" is not one of the values 0 to 1",
    );
    assert_invalid(
        &with_ifc(
            "<Priority>1</Priority><ApplicationServer><ServerName>s</ServerName></ApplicationServer><ProfilePartIndicator>2</ProfilePartIndicator>",
        ),
        "<ProfilePartIndicator> \"2\" is not one of the values 0 to 1",
    );
    assert_invalid(
        &with_ifc(
            "<Priority>1</Priority><TriggerPoint><ConditionTypeCNF>2</ConditionTypeCNF></TriggerPoint><ApplicationServer><ServerName>s</ServerName></ApplicationServer>",
        ),
        "<ConditionTypeCNF> \"2\" is not a boolean",
    );
    assert_invalid(
        &with_ifc(
            "<Priority>1</Priority><ApplicationServer><ServerName>s</ServerName><Extension><IncludeRegisterRequest>0</IncludeRegisterRequest></Extension></ApplicationServer>",
        ),
        "<IncludeRegisterRequest> \"0\" must be empty",
    );
    let identity = |ext: &str| {
        format!(
            "<IMSSubscription><PrivateID>a</PrivateID><ServiceProfile><PublicIdentity>\
             <Identity>sip:a@x</Identity>{ext}</PublicIdentity></ServiceProfile></IMSSubscription>"
        )
    };
    assert_invalid(
        &identity("<Extension><IdentityType>256</IdentityType></Extension>"),
        "<IdentityType> \"256\" is too large",
    );
    assert_invalid(
        &identity("<BarringIndication>2</BarringIndication>"),
        "<BarringIndication> \"2\" is not a boolean",
    );
    assert_invalid(
        &identity(
            "<Extension><WildcardedIMPU>a</WildcardedIMPU><Extension><Extension><WildcardedIMPU>b</WildcardedIMPU></Extension></Extension></Extension>",
        ),
        "<WildcardedIMPU> appears more than once",
    );
    assert_invalid(
        "<IMSSubscription><PrivateID>a</PrivateID><ServiceProfile><PublicIdentity><Identity>sip:a@x</Identity></PublicIdentity>\
         <Extension><SharedIFCSetID>one</SharedIFCSetID></Extension></ServiceProfile></IMSSubscription>",
        "<SharedIFCSetID> \"one\"",
    );
}

#[test]
fn structure_violations_are_refused() {
    assert_invalid(
        &with_ifc(
            "stray<Priority>1</Priority><ApplicationServer><ServerName>s</ServerName></ApplicationServer>",
        ),
        "unexpected text \"stray\" in <InitialFilterCriteria>, which holds elements only",
    );
    assert_invalid(
        &with_ifc("&amp;<Priority>1</Priority>"),
        "unexpected reference &amp;",
    );
    assert_invalid(
        &with_ifc("<Priority>1<b/></Priority>"),
        "<Priority> holds text only, but contains element <b>",
    );
    // The error names where it happened.
    let reason = reason(&with_spt("<Group>0</Group><SessionCase>9</SessionCase>"));
    assert!(
        reason.contains("in IMSSubscription/ServiceProfile/InitialFilterCriteria/TriggerPoint/SPT"),
        "{reason}"
    );
    assert!(reason.contains("at byte"), "{reason}");
}

#[test]
fn dtds_and_entities_are_refused() {
    let billion_laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<IMSSubscription><PrivateID>&lol9;</PrivateID></IMSSubscription>"#;
    assert_invalid(billion_laughs, "DOCTYPE is not allowed");
    let xxe = r#"<?xml version="1.0"?>
<!DOCTYPE IMSSubscription [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<IMSSubscription><PrivateID>&xxe;</PrivateID></IMSSubscription>"#;
    assert_invalid(xxe, "DOCTYPE is not allowed");
    assert_invalid(
        "<!DOCTYPE IMSSubscription SYSTEM \"http://example.invalid/cx.dtd\"><IMSSubscription/>",
        "DOCTYPE",
    );
    // An entity that was never declared is not expanded either.
    assert_invalid(
        "<IMSSubscription><PrivateID>&xxe;</PrivateID></IMSSubscription>",
        "undefined entity &xxe;",
    );
    // Character references must be to XML characters.
    assert_invalid(
        "<IMSSubscription><PrivateID>a&#0;</PrivateID></IMSSubscription>",
        "bad character reference",
    );
    assert_invalid(
        "<IMSSubscription><PrivateID>a&#x1;b</PrivateID></IMSSubscription>",
        "XML 1.0 does not allow",
    );
    assert_invalid(
        "<IMSSubscription><PrivateID>a&#xZZ;</PrivateID></IMSSubscription>",
        "character reference",
    );
    // The predefined entities and character references do resolve.
    let sub = ImsSubscription::parse(
        "<IMSSubscription><PrivateID>&lt;&gt;&amp;&apos;&quot;&#65;&#x42;</PrivateID>\
         <ServiceProfile><PublicIdentity><Identity>x</Identity></PublicIdentity></ServiceProfile></IMSSubscription>",
    )
    .unwrap();
    assert_eq!(sub.private_id, "<>&'\"AB");
}

#[test]
fn bytes_must_be_utf8() {
    let mut bytes = corpus("bob-dnf.xml").into_bytes();
    let parsed = ImsSubscription::parse_bytes(&bytes).unwrap();
    // One byte-order mark is skipped; the offset of a bad byte counts it.
    let mut with_bom = b"\xEF\xBB\xBF".to_vec();
    with_bom.extend_from_slice(&bytes);
    assert_eq!(ImsSubscription::parse_bytes(&with_bom).unwrap(), parsed);
    let at = bytes.len() / 2;
    bytes[at] = 0xFF;
    assert!(matches!(
        ImsSubscription::parse_bytes(&bytes),
        Err(HssError::Invalid(r)) if r.contains(&format!("not UTF-8 (invalid byte at offset {at})"))
    ));
    with_bom[at + 3] = 0xFF;
    assert!(matches!(
        ImsSubscription::parse_bytes(&with_bom),
        Err(HssError::Invalid(r)) if r.contains(&format!("invalid byte at offset {}", at + 3))
    ));
}

#[test]
fn validate_catches_what_parse_would_refuse() {
    let good = subscription("alice-cnf.xml");
    good.validate().unwrap();
    type Breaker = Box<dyn Fn(&mut ImsSubscription)>;
    let cases: Vec<(Breaker, &str)> = vec![
        (Box::new(|s| s.private_id.clear()), "<PrivateID> is empty"),
        (
            Box::new(|s| s.service_profiles.clear()),
            "has no ServiceProfile",
        ),
        (
            Box::new(|s| s.service_profiles[0].public_identities.clear()),
            "ServiceProfile 1: ServiceProfile has no PublicIdentity",
        ),
        (
            Box::new(|s| s.service_profiles[0].initial_filter_criteria[2].priority = -5),
            "InitialFilterCriteria 3: <Priority> -5 is negative",
        ),
        (
            Box::new(|s| {
                s.service_profiles[0].initial_filter_criteria[0]
                    .application_server
                    .server_name
                    .clear()
            }),
            "<ServerName> is empty",
        ),
        (
            Box::new(|s| {
                s.service_profiles[0].initial_filter_criteria[0]
                    .trigger_point
                    .as_mut()
                    .unwrap()
                    .spts[1]
                    .groups
                    .clear()
            }),
            "SPT 2: SPT has no <Group>",
        ),
        (
            Box::new(|s| {
                s.service_profiles[0].public_identities[0].display_name = Some("\u{0}".into())
            }),
            "<DisplayName> contains",
        ),
    ];
    for (break_it, needle) in cases {
        let mut bad = good.clone();
        break_it(&mut bad);
        match bad.validate() {
            Err(HssError::Invalid(reason)) => {
                assert!(reason.contains(needle), "{reason:?} vs {needle:?}")
            }
            other => panic!("{needle}: {other:?}"),
        }
        // What validate refuses, parse refuses after writing.
        assert!(ImsSubscription::parse(&bad.to_xml()).is_err(), "{needle}");
    }
}

// ---------------------------------------------------------------------------
// Limits: each default, and a custom value

/// A subscription of `private_id` holding the `profiles` elements.
fn doc(private_id: &str, profiles: &str) -> String {
    format!("<IMSSubscription><PrivateID>{private_id}</PrivateID>{profiles}</IMSSubscription>")
}

/// A `ServiceProfile` with the public identity `x`, then `rest`.
fn profile(rest: &str) -> String {
    format!(
        "<ServiceProfile><PublicIdentity><Identity>x</Identity></PublicIdentity>{rest}</ServiceProfile>"
    )
}

fn doc_with_profiles(n: usize) -> String {
    doc("a", &profile("").repeat(n))
}

fn doc_with_identities(n: usize) -> String {
    let ids: String = (0..n)
        .map(|i| format!("<PublicIdentity><Identity>sip:{i}@x</Identity></PublicIdentity>"))
        .collect();
    doc("a", &format!("<ServiceProfile>{ids}</ServiceProfile>"))
}

fn doc_with_ifcs(n: usize) -> String {
    let ifc = "<InitialFilterCriteria><Priority>1</Priority><ApplicationServer><ServerName>s</ServerName></ApplicationServer></InitialFilterCriteria>";
    doc("a", &profile(&ifc.repeat(n)))
}

fn doc_with_spts(n: usize) -> String {
    let spt = "<SPT><Group>0</Group><Method>INVITE</Method></SPT>";
    with_ifc(&format!(
        "<Priority>0</Priority><TriggerPoint><ConditionTypeCNF>1</ConditionTypeCNF>{}</TriggerPoint>\
         <ApplicationServer><ServerName>s</ServerName></ApplicationServer>",
        spt.repeat(n)
    ))
}

fn doc_with_groups(n: usize) -> String {
    let groups: String = (0..n).map(|i| format!("<Group>{i}</Group>")).collect();
    with_spt(&format!("{groups}<Method>INVITE</Method>"))
}

/// Elements nested to `depth` in all (the root is depth 1).
fn doc_with_depth(depth: usize) -> String {
    // IMSSubscription/ServiceProfile/Extension are depths 1 to 3.
    let extra = depth - 3;
    let nested = format!("{}{}", "<a>".repeat(extra), "</a>".repeat(extra));
    doc("a", &profile(&format!("<Extension>{nested}</Extension>")))
}

fn doc_with_value(bytes: usize) -> String {
    doc(&"v".repeat(bytes), &profile(""))
}

fn shared_doc_with_sets(n: usize) -> String {
    let sets: String = (0..n)
        .map(|i| format!("<SharedIFCSet><SetID>{i}</SetID></SharedIFCSet>"))
        .collect();
    format!("<SharedIFCSets>{sets}</SharedIFCSets>")
}

/// `make(limit)` parses, `make(limit + 1)` is refused naming the limit.
fn check_limit(limit: usize, name: &str, make: impl Fn(usize) -> String) {
    let at = make(limit);
    ImsSubscription::parse(&at).unwrap_or_else(|e| panic!("{name} at the limit: {e}"));
    let reason = reason(&make(limit + 1));
    assert!(reason.contains(name), "{reason}");
}

#[test]
fn default_limits_are_the_documented_ones() {
    let limits = ParseLimits::default();
    assert_eq!(limits.max_document_bytes, 1 << 20);
    assert_eq!(limits.max_depth, 32);
    assert_eq!(limits.max_service_profiles, 64);
    assert_eq!(limits.max_public_identities, 1000);
    assert_eq!(limits.max_ifcs, 500);
    assert_eq!(limits.max_spts, 100);
    assert_eq!(limits.max_list_items, 64);
    assert_eq!(limits.max_value_bytes, 8192);
    assert_eq!(limits.max_shared_ifc_sets, 1000);
}

#[test]
fn limit_document_bytes() {
    let limit = ParseLimits::default().max_document_bytes;
    let doc = corpus("bob-dnf.xml");
    let padded = |total: usize| {
        let pad = total - doc.len() - "<!---->".len();
        format!("{doc}<!--{}-->", " ".repeat(pad))
    };
    assert!(ImsSubscription::parse(&padded(limit)).is_ok());
    let why = reason(&padded(limit + 1));
    assert!(why.contains("max_document_bytes"), "{why}");
    // A huge document is refused before any parsing.
    let huge = format!("<IMSSubscription>{}", "<a>".repeat(2 << 20));
    assert!(reason(&huge).contains("max_document_bytes"));
}

#[test]
fn limit_depth() {
    check_limit(
        ParseLimits::default().max_depth,
        "max_depth",
        doc_with_depth,
    );
    // Far deeper nesting, inside an unknown element, fails fast.
    let deep = format!(
        "<IMSSubscription><Unknown>{}{}</Unknown></IMSSubscription>",
        "<a>".repeat(100_000),
        "</a>".repeat(100_000)
    );
    assert!(reason(&deep).contains("max_depth"));
}

#[test]
fn limit_service_profiles() {
    check_limit(
        ParseLimits::default().max_service_profiles,
        "max_service_profiles",
        doc_with_profiles,
    );
}

#[test]
fn limit_public_identities() {
    check_limit(
        ParseLimits::default().max_public_identities,
        "max_public_identities",
        doc_with_identities,
    );
}

#[test]
fn limit_ifcs() {
    check_limit(ParseLimits::default().max_ifcs, "max_ifcs", doc_with_ifcs);
}

#[test]
fn limit_spts() {
    check_limit(ParseLimits::default().max_spts, "max_spts", doc_with_spts);
}

#[test]
fn limit_list_items() {
    check_limit(
        ParseLimits::default().max_list_items,
        "max_list_items",
        doc_with_groups,
    );
}

#[test]
fn limit_value_bytes() {
    check_limit(
        ParseLimits::default().max_value_bytes,
        "max_value_bytes",
        doc_with_value,
    );
}

#[test]
fn limit_shared_ifc_sets() {
    let limit = ParseLimits::default().max_shared_ifc_sets;
    assert_eq!(
        SharedIfcSets::parse(&shared_doc_with_sets(limit))
            .unwrap()
            .sets
            .len(),
        limit
    );
    assert!(matches!(
        SharedIfcSets::parse(&shared_doc_with_sets(limit + 1)),
        Err(HssError::Invalid(r)) if r.contains("max_shared_ifc_sets")
    ));
}

#[test]
fn custom_limits_apply() {
    let mut limits = ParseLimits::default();
    limits.max_service_profiles = 2;
    limits.max_depth = 5;
    limits.max_value_bytes = 8;
    limits.max_document_bytes = 1000;
    assert!(ImsSubscription::parse_with_limits(&doc_with_profiles(2), &limits).is_ok());
    let refused = |xml: &str, needle: &str| match ImsSubscription::parse_with_limits(xml, &limits) {
        Err(HssError::Invalid(r)) => assert!(r.contains(needle), "{r}"),
        other => panic!("{other:?}"),
    };
    refused(&doc_with_profiles(3), "more than 2 <ServiceProfile>");
    refused(&doc_with_depth(6), "deeper than the limit of 5");
    refused(&doc_with_value(9), "longer than the limit of 8 bytes");
    refused(&corpus("bob-dnf.xml"), "more than the limit of 1000");
}

// ---------------------------------------------------------------------------
// Wildcards

#[test]
fn wildcard_matching() {
    let yes = |pattern: &str, identity: &str| {
        assert!(
            WildcardPattern::parse(pattern).unwrap().matches(identity),
            "{pattern} should match {identity}"
        )
    };
    let no = |pattern: &str, identity: &str| {
        assert!(
            !WildcardPattern::parse(pattern).unwrap().matches(identity),
            "{pattern} should not match {identity}"
        )
    };
    // TS 23.003 examples.
    yes(
        "sip:chatroom-!.*!@example.com",
        "sip:chatroom-123@example.com",
    );
    yes("sip:chatroom-!.*!@example.com", "sip:chatroom-@example.com");
    yes(
        "sip:chatroom-!.*!@example.com",
        "sip:chatroom-a@b@example.com",
    );
    no("sip:chatroom-!.*!@example.com", "sip:chatroom@example.com");
    no(
        "sip:chatroom-!.*!@example.com",
        "sip:chatroom-1@example.com.evil",
    );
    no(
        "sip:chatroom-!.*!@example.com",
        "xsip:chatroom-1@example.com",
    );
    // Literal text outside !…! is literal, even regex metacharacters.
    yes("tel:+1555!.*!", "tel:+15551234");
    no("tel:+1555!.*!", "tel:1555");
    yes("sip:a.b!.*!@x", "sip:a.b@x");
    no("sip:a.b!.*!@x", "sip:aXb@x");
    // No wildcard: exact.
    yes("sip:alice@example.net", "sip:alice@example.net");
    no("sip:alice@example.net", "sip:alice@example.ne");
    // Classes, escapes, quantifiers.
    yes("sip:conf-![0-9]+!@x", "sip:conf-4711@x");
    no("sip:conf-![0-9]+!@x", "sip:conf-@x");
    no("sip:conf-![0-9]+!@x", "sip:conf-lobby@x");
    yes("tel:+1555123!\\d{4}!", "tel:+15551230001");
    no("tel:+1555123!\\d{4}!", "tel:+155512300012");
    yes("sip:!\\w{2,3}!@x", "sip:ab_@x");
    no("sip:!\\w{2,3}!@x", "sip:a@x");
    no("sip:!\\w{2,3}!@x", "sip:abcd@x");
    yes("sip:!x{2,}!@h", "sip:xxxxx@h");
    no("sip:!x{2,}!@h", "sip:x@h");
    yes("sip:!colou?r!@h", "sip:color@h");
    yes("sip:!colou?r!@h", "sip:colour@h");
    yes("sip:![^@]*!@h", "sip:anything.but-at@h");
    no("sip:![^@]*!@h", "sip:a@b@h");
    yes("sip:![a\\-z]!@h", "sip:-@h");
    yes("sip:![-a]!![]a]!@h", "sip:-]@h");
    yes("sip:!\\.!@h", "sip:.@h");
    no("sip:!\\.!@h", "sip:x@h");
    yes("sip:!\\D\\S\\W!@h", "sip:ab-@h");
    // Two wildcard parts.
    yes("sip:!.*!-room-!\\d+!@h", "sip:big-room-12@h");
    no("sip:!.*!-room-!\\d+!@h", "sip:big-room-@h");
    yes("sip:a!}!b@h", "sip:a}b@h");
}

#[test]
fn unsupported_wildcards_are_refused_and_match_nothing() {
    for bad in [
        "sip:!.*@example.com",
        "sip:!!@x",
        "sip:!(a|b)!@x",
        "sip:!a|b!@x",
        "sip:!^a!@x",
        "sip:!a$!@x",
        "sip:!*a!@x",
        "sip:!a**!@x",
        "sip:!a{2!@x",
        "sip:!a{3,2}!@x",
        "sip:!a{101}!@x",
        "sip:![a-!@x",
        "sip:![z-a]!@x",
        "sip:!\\k!@x",
        "sip:!a\\!@x",
        "sip:!a{1000000000000}!@x",
    ] {
        assert!(
            matches!(WildcardPattern::parse(bad), Err(HssError::Invalid(r)) if r.contains("wildcard")),
            "{bad}"
        );
        let entry = PublicIdentity {
            identity_type: IdentityType::WILDCARDED_PSI,
            ..PublicIdentity::new(bad)
        };
        assert!(entry.matches(bad), "exact match still works for {bad}");
        assert!(!entry.matches("sip:a@x"), "{bad}");
    }
    // Expansion is bounded.
    assert!(WildcardPattern::parse(&format!("!{}!", "a{100}".repeat(11))).is_err());
}

#[test]
fn wildcard_matching_is_linear_on_pathological_patterns() {
    let pattern = WildcardPattern::parse(&format!("!{}!b", ".*".repeat(200))).unwrap();
    let identity = "a".repeat(5000);
    let start = std::time::Instant::now();
    assert!(!pattern.matches(&identity));
    assert!(pattern.matches(&format!("{identity}b")));
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn identity_lookup_precedence_and_barring() {
    let entry = |identity: &str, t: IdentityType, barred: bool| PublicIdentity {
        identity_type: t,
        barring_indication: barred,
        ..PublicIdentity::new(identity)
    };
    let sub = ImsSubscription {
        private_id: "p".into(),
        service_profiles: vec![
            ServiceProfile {
                public_identities: vec![entry("sip:!.*!@x", IdentityType::WILDCARDED_IMPU, true)],
                ..ServiceProfile::default()
            },
            ServiceProfile {
                public_identities: vec![
                    entry("sip:bob@x", IdentityType::PUBLIC_USER_IDENTITY, false),
                    // A PUBLIC_USER_IDENTITY containing `!` is not a wildcard.
                    entry("sip:b!.*!@y", IdentityType::PUBLIC_USER_IDENTITY, false),
                ],
                ..ServiceProfile::default()
            },
        ],
    };
    // The distinct identity wins although the wildcard comes first.
    assert_eq!(
        sub.service_profile_for("sip:bob@x"),
        Some(&sub.service_profiles[1])
    );
    assert_eq!(sub.is_barred("sip:bob@x"), Some(false));
    // Others fall to the wildcard, barred.
    assert_eq!(
        sub.service_profile_for("sip:carol@x"),
        Some(&sub.service_profiles[0])
    );
    assert_eq!(sub.is_barred("sip:carol@x"), Some(true));
    assert_eq!(sub.is_barred("sip:bob@y"), None);
    assert_eq!(sub.is_barred("sip:b!.*!@y"), Some(false));
    assert_eq!(sub.public_identities().count(), 3);
    assert_eq!(IdentityType(3), IdentityType::WILDCARDED_IMPU);
    assert!(IdentityType(4).may_be_wildcarded() && !IdentityType::DISTINCT_PSI.may_be_wildcarded());
    assert_eq!(
        SessionCase::from_code(4),
        Some(SessionCase::OriginatingCdiv)
    );
    assert_eq!(SessionCase::OriginatingCdiv.name(), "ORIGINATING_CDIV");
    assert_eq!(DefaultHandling::from_code(2), None);
    assert_eq!(RegistrationType::ReRegistration.code(), 1);
}

// ---------------------------------------------------------------------------
// The expected AS invocations of the corpus, evaluated in this test with the
// parsed model: proof that the model carries what iFC evaluation needs. (The
// real evaluator belongs to clearwater-routing.)

#[derive(Debug, Clone)]
enum Value {
    Str(String),
    Strs(Vec<String>),
    Bool(bool),
    Int(i64),
}

/// A quoted TOML basic string at the start of `s`: the string and the rest.
fn toml_string(s: &str) -> (String, &str) {
    let mut out = String::new();
    let mut chars = s.strip_prefix('"').expect("a string").char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (out, &s[i + 2..]),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(c) => out.push(c),
                None => panic!("bad escape"),
            },
            c => out.push(c),
        }
    }
    panic!("unterminated string in {s}")
}

fn toml_value(s: &str) -> Value {
    let s = s.trim();
    if s.starts_with('"') {
        Value::Str(toml_string(s).0)
    } else if let Some(mut rest) = s.strip_prefix('[') {
        let mut items = Vec::new();
        loop {
            rest = rest.trim_start().trim_start_matches(',').trim_start();
            if rest.starts_with(']') {
                return Value::Strs(items);
            }
            let (item, after) = toml_string(rest);
            items.push(item);
            rest = after;
        }
    } else if s == "true" || s == "false" {
        Value::Bool(s == "true")
    } else {
        Value::Int(s.parse().unwrap())
    }
}

fn toml_cases(toml: &str) -> Vec<std::collections::HashMap<String, Value>> {
    let mut cases = Vec::new();
    for line in toml.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "[[case]]" {
            cases.push(std::collections::HashMap::new());
            continue;
        }
        let (key, value) = line.split_once(" = ").unwrap();
        cases
            .last_mut()
            .unwrap()
            .insert(key.to_owned(), toml_value(value));
    }
    cases
}

struct Request {
    registered: bool,
    session_case: Option<u8>,
    method: String,
    registration_type: Option<u8>,
    request_uri: String,
    headers: Vec<(String, String)>,
    sdp: Vec<String>,
}

/// A trigger regular expression (searched, anchored only by `^`/`$`) as a
/// wildcard: enough for the corpus' expressions.
fn regex_search(regex: &str, text: &str) -> bool {
    let (start, body) = match regex.strip_prefix('^') {
        Some(body) => ("", body),
        None => (".*", regex),
    };
    let (body, end) = match body.strip_suffix('$') {
        Some(body) => (body, ""),
        None => (body, ".*"),
    };
    WildcardPattern::parse(&format!("!{start}{body}{end}!"))
        .unwrap()
        .matches(text)
}

fn full_header_name(name: &str) -> String {
    let full = match name.to_ascii_lowercase().as_str() {
        "c" => "content-type",
        "f" => "from",
        "t" => "to",
        "m" => "contact",
        "i" => "call-id",
        "v" => "via",
        "e" => "content-encoding",
        "l" => "content-length",
        "k" => "supported",
        "s" => "subject",
        "o" => "event",
        "u" => "allow-events",
        "a" => "accept-contact",
        "j" => "reject-contact",
        "d" => "request-disposition",
        "x" => "session-expires",
        "r" => "refer-to",
        "b" => "referred-by",
        other => return other.to_owned(),
    };
    full.to_owned()
}

fn spt_holds(spt: &ServicePointTrigger, req: &Request) -> bool {
    let holds = match &spt.kind {
        SptKind::Method(m) => {
            *m == req.method
                && (spt.registration_types.is_empty()
                    || req.method != "REGISTER"
                    || spt
                        .registration_types
                        .iter()
                        .any(|t| Some(t.code()) == req.registration_type))
        }
        SptKind::RequestUri(re) => regex_search(re, &req.request_uri),
        SptKind::SipHeader { header, content } => req
            .headers
            .iter()
            .filter(|(name, _)| full_header_name(name) == full_header_name(header))
            .any(|(_, value)| content.as_ref().is_none_or(|re| regex_search(re, value))),
        SptKind::SessionCase(case) => Some(case.code()) == req.session_case,
        SptKind::SessionDescription { line, content } => req
            .sdp
            .iter()
            .filter_map(|l| l.strip_prefix(&format!("{line}=")))
            .any(|value| content.as_ref().is_none_or(|re| regex_search(re, value))),
    };
    holds != spt.condition_negated
}

fn trigger_holds(tp: &TriggerPoint, req: &Request) -> bool {
    let group = |g: u32| tp.spts.iter().filter(move |s| s.groups.contains(&g));
    if tp.condition_type_cnf {
        tp.groups()
            .into_iter()
            .all(|g| group(g).any(|s| spt_holds(s, req)))
    } else {
        tp.groups()
            .into_iter()
            .any(|g| group(g).all(|s| spt_holds(s, req)))
    }
}

#[test]
fn expected_as_invocations_follow_from_the_model() {
    let shared = shared_sets();
    let cases = toml_cases(&corpus("expected.toml"));
    assert_eq!(cases.len(), 24);
    const KEYS: [&str; 13] = [
        "id",
        "subscription",
        "served_identity",
        "registered",
        "session_case",
        "method",
        "registration_type",
        "request_uri",
        "headers",
        "sdp",
        "expected_as",
        "expected_reject",
        "why",
    ];
    for case in cases {
        // A misspelt key would otherwise be ignored and its condition lost.
        for key in case.keys() {
            assert!(KEYS.contains(&key.as_str()), "unknown key {key:?}");
        }
        let text = |key: &str| match case.get(key) {
            Some(Value::Str(s)) => s.clone(),
            other => panic!("{key}: {other:?}"),
        };
        let list = |key: &str| match case.get(key) {
            Some(Value::Strs(items)) => items.clone(),
            None => Vec::new(),
            other => panic!("{key}: {other:?}"),
        };
        let number = |key: &str| match case.get(key) {
            Some(Value::Int(n)) => Some(u8::try_from(*n).unwrap_or(u8::MAX)),
            None => None,
            other => panic!("{key}: {other:?}"),
        };
        let id = text("id");
        let sub = subscription(&text("subscription"));
        let served = text("served_identity");
        let (profile, identity) = sub
            .find_identity(&served)
            .unwrap_or_else(|| panic!("{id}: {served} not found"));
        let req = Request {
            registered: matches!(case.get("registered"), Some(Value::Bool(true)))
                && !identity.identity_type.is_psi(),
            session_case: number("session_case"),
            method: text("method"),
            registration_type: number("registration_type"),
            request_uri: text("request_uri"),
            headers: list("headers")
                .iter()
                .map(|h| {
                    let (name, value) = h.split_once(':').unwrap();
                    (name.trim().to_owned(), value.trim().to_owned())
                })
                .collect(),
            sdp: list("sdp"),
        };
        let originating = matches!(req.session_case, Some(0) | Some(3) | Some(4));
        let reject = if identity.barring_indication && originating {
            Some(403)
        } else {
            None
        };
        assert_eq!(
            reject.map(i64::from),
            match case.get("expected_reject") {
                Some(Value::Int(code)) => Some(*code),
                _ => None,
            },
            "{id}"
        );
        let invoked: Vec<String> = if reject.is_some() {
            Vec::new()
        } else {
            profile
                .merged_ifcs(&shared)
                .into_iter()
                .filter(|ifc| ifc.applies_when_registered(req.registered))
                .filter(|ifc| {
                    ifc.trigger_point
                        .as_ref()
                        .is_none_or(|tp| trigger_holds(tp, &req))
                })
                .map(|ifc| ifc.application_server.server_name.clone())
                .collect()
        };
        assert_eq!(invoked, list("expected_as"), "{id}");
    }
}

// ---------------------------------------------------------------------------
// Property tests

/// Text of XML characters, heavy in what needs escaping.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9:@.+_-]{1,12}",
        "[ \t\r\n&<>\"'\\]\\[!;#x]{1,8}",
        "[\\PC \t\r\n]{1,12}",
    ]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![Just(None), text().prop_map(Some), Just(Some(String::new()))]
}

fn spt_strategy() -> impl Strategy<Value = ServicePointTrigger> {
    let session_case = (0u8..=4).prop_map(|c| SessionCase::from_code(c).unwrap());
    let kind = prop_oneof![
        text().prop_map(SptKind::RequestUri),
        text().prop_map(SptKind::Method),
        (text(), opt_text()).prop_map(|(header, content)| SptKind::SipHeader { header, content }),
        session_case.prop_map(SptKind::SessionCase),
        (text(), opt_text())
            .prop_map(|(line, content)| SptKind::SessionDescription { line, content }),
    ];
    let registration_types = proptest::collection::vec(
        (0u8..=2).prop_map(|c| RegistrationType::from_code(c).unwrap()),
        0..3,
    );
    (
        any::<bool>(),
        proptest::collection::vec(any::<u32>(), 1..4),
        kind,
        registration_types,
    )
        .prop_map(|(condition_negated, groups, kind, registration_types)| {
            ServicePointTrigger {
                condition_negated,
                groups,
                kind,
                registration_types,
            }
        })
}

fn ifc_strategy() -> impl Strategy<Value = InitialFilterCriteria> {
    let trigger = proptest::option::of(
        (
            any::<bool>(),
            proptest::collection::vec(spt_strategy(), 0..4),
        )
            .prop_map(|(condition_type_cnf, spts)| TriggerPoint {
                condition_type_cnf,
                spts,
            }),
    );
    let app = (
        text(),
        any::<bool>(),
        opt_text(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(server_name, terminate, service_info, req, resp)| ApplicationServer {
                server_name,
                default_handling: if terminate {
                    DefaultHandling::SessionTerminated
                } else {
                    DefaultHandling::SessionContinued
                },
                service_info,
                include_register_request: req,
                include_register_response: resp,
            },
        );
    let part =
        proptest::option::of((0u8..=1).prop_map(|c| ProfilePartIndicator::from_code(c).unwrap()));
    (0..=i32::MAX, trigger, app, part).prop_map(
        |(priority, trigger_point, application_server, profile_part_indicator)| {
            InitialFilterCriteria {
                priority,
                trigger_point,
                application_server,
                profile_part_indicator,
            }
        },
    )
}

fn identity_strategy() -> impl Strategy<Value = PublicIdentity> {
    (
        text(),
        any::<bool>(),
        any::<u8>(),
        opt_text(),
        opt_text(),
        opt_text(),
        opt_text(),
    )
        .prop_map(
            |(identity, barring, t, wildcarded_psi, display_name, alias, wildcarded_impu)| {
                PublicIdentity {
                    identity,
                    barring_indication: barring,
                    identity_type: IdentityType(t),
                    wildcarded_psi,
                    display_name,
                    alias_identity_group_id: alias,
                    wildcarded_impu,
                }
            },
        )
}

fn profile_strategy() -> impl Strategy<Value = ServiceProfile> {
    let cnsa = proptest::option::of(
        (
            proptest::option::of(any::<u32>()),
            proptest::collection::vec(text(), 0..3),
        )
            .prop_map(|(id, service_ids)| CoreNetworkServicesAuthorization {
                subscribed_media_profile_id: id,
                service_ids,
            }),
    );
    (
        proptest::collection::vec(identity_strategy(), 1..4),
        cnsa,
        proptest::collection::vec(ifc_strategy(), 0..4),
        proptest::collection::vec(any::<u32>(), 0..3),
    )
        .prop_map(|(public_identities, cnsa, ifcs, shared)| ServiceProfile {
            public_identities,
            core_network_services_authorization: cnsa,
            initial_filter_criteria: ifcs,
            shared_ifc_set_ids: shared,
        })
}

fn subscription_strategy() -> impl Strategy<Value = ImsSubscription> {
    (text(), proptest::collection::vec(profile_strategy(), 1..3)).prop_map(
        |(private_id, service_profiles)| ImsSubscription {
            private_id,
            service_profiles,
        },
    )
}

/// Random edits of a corpus document: cut, duplicate or insert text.
fn mutated_corpus() -> impl Strategy<Value = String> {
    let doc = corpus("alice-cnf.xml");
    let len = doc.len();
    (proptest::collection::vec(
        (0..len, 0..len, "[<>/&;!\\[\\]a-zA-Z0-9 \"'=?-]{0,12}"),
        1..6,
    ),)
        .prop_map(move |(edits,)| {
            let mut s = doc.clone();
            for (at, span, insert) in edits {
                let at = at.min(s.len());
                let end = (at + span % 64).min(s.len());
                if s.is_char_boundary(at) && s.is_char_boundary(end) {
                    s.replace_range(at..end, &insert);
                }
            }
            s
        })
}

proptest! {
    #[test]
    fn random_subscriptions_round_trip(sub in subscription_strategy()) {
        prop_assert!(sub.validate().is_ok(), "{:?}", sub.validate());
        let xml = sub.to_xml();
        let parsed = ImsSubscription::parse(&xml);
        prop_assert_eq!(parsed.as_ref(), Ok(&sub), "{}", xml);
    }

    #[test]
    fn random_shared_sets_round_trip(
        ifcs in proptest::collection::vec(proptest::collection::vec(ifc_strategy(), 0..3), 0..3)
    ) {
        let sets = SharedIfcSets {
            sets: ifcs
                .into_iter()
                .enumerate()
                .map(|(i, initial_filter_criteria)| SharedIfcSet { set_id: i as u32 * 7, initial_filter_criteria })
                .collect(),
        };
        prop_assert_eq!(SharedIfcSets::parse(&sets.to_xml()), Ok(sets));
    }

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        let _ = ImsSubscription::parse(&s);
        let _ = SharedIfcSets::parse(&s);
        let _ = WildcardPattern::parse(&s).map(|p| p.matches(&s));
    }

    #[test]
    fn xmlish_strings_never_panic(s in "(<[/!?]?[A-Za-z]{0,12}[ =\"'a-z]{0,6}/?>|&[#a-z0-9x]{0,5};?|[^<&]{0,8}|<!\\[CDATA\\[|\\]\\]>|<!--|-->){0,40}") {
        for doc in [s.clone(), format!("<IMSSubscription>{s}</IMSSubscription>")] {
            match ImsSubscription::parse(&doc) {
                Ok(sub) => prop_assert_eq!(ImsSubscription::parse(&sub.to_xml()), Ok(sub)),
                Err(HssError::Invalid(reason)) => prop_assert!(!reason.is_empty()),
                Err(other) => prop_assert!(false, "unexpected error kind {:?}", other),
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = ImsSubscription::parse_bytes(&bytes);
    }

    #[test]
    fn mutated_corpus_never_panics(doc in mutated_corpus()) {
        if let Ok(sub) = ImsSubscription::parse(&doc) {
            prop_assert_eq!(ImsSubscription::parse(&sub.to_xml()), Ok(sub));
        }
    }

    #[test]
    fn literal_wildcards_match_exactly(a in "[^!]{0,20}", b in "[^!]{0,20}") {
        let pattern = WildcardPattern::parse(&a).unwrap();
        prop_assert!(pattern.matches(&a));
        prop_assert_eq!(pattern.matches(&b), a == b);
    }

    #[test]
    fn star_wildcards_match_any_middle(prefix in "[^!]{0,10}", middle in "\\PC{0,10}", suffix in "[^!]{0,10}") {
        let pattern = WildcardPattern::parse(&format!("{prefix}!.*!{suffix}")).unwrap();
        let identity = format!("{prefix}{middle}{suffix}");
        prop_assert!(pattern.matches(&identity));
    }
}
