//! Fuzz target body for clearwater-hss's XML documents: the IMS subscription
//! (TS 29.228 Annex E `IMSSubscription`), shared iFC sets and Homestead's
//! `ClearwaterRegData`, all available without the crate's `runtime` feature.
//! Also compiled by `clearwater-hss/tests/fuzz_corpus.rs`, so `cargo test`
//! replays the committed corpus through exactly this code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ptr;

use clearwater_hss::subscription::{
    DefaultHandling, IdentityType, ImsSubscription, InitialFilterCriteria, ParseLimits,
    ProfilePartIndicator, PublicIdentity, RegistrationType, ServiceProfile, SessionCase,
    SharedIfcSet, SharedIfcSets, SptKind, WildcardPattern,
};
use clearwater_hss::{ChargingAddresses, RegData, RegistrationState};

/// Parses `data` as an `IMSSubscription`, a `SharedIFCSets` document and a
/// `ClearwaterRegData` document. Whatever parses must write back to XML that
/// parses to an equal value; tighter [`ParseLimits`] may only refuse, and
/// refuse a written document exactly when its value exceeds them; the
/// identity look-ups, iFC orderings and merges the S-CSCF uses must agree
/// with their documented definitions.
pub fn subscription(data: &[u8]) {
    let parsed = ImsSubscription::parse_bytes(data);
    let limits = tight_limits(data);
    let text = std::str::from_utf8(data);
    if let Ok(text) = text {
        // Limits only refuse: what parses within tighter ones parses the
        // same within the defaults.
        if let Ok(tight) = ImsSubscription::parse_with_limits(text, &limits) {
            assert_eq!(
                parsed.as_ref(),
                Ok(&tight),
                "tighter limits changed the value"
            );
        }
    } else {
        assert!(parsed.is_err(), "bytes that are not UTF-8 were accepted");
    }
    if let Ok(sub) = &parsed {
        check_subscription(sub, &limits);
        // The writer on values the parser does not produce from this input:
        // every text field replaced by a piece of the input (markup,
        // surrounding whitespace, line ends, empty strings).
        let respelled = respell(sub, &String::from_utf8_lossy(data));
        let xml = respelled.to_xml();
        match respelled.validate() {
            Ok(()) => assert_eq!(
                ImsSubscription::parse(&xml).as_ref(),
                Ok(&respelled),
                "the written document reads back differently:\n{xml}"
            ),
            Err(e) => assert!(
                ImsSubscription::parse(&xml).is_err(),
                "a value that does not validate ({e}) was read back:\n{xml}"
            ),
        }
        let shared = shared_from(sub);
        for profile in &sub.service_profiles {
            check_merge(profile, &shared);
        }
        // The subscription embedded in Homestead's reg-data document.
        let reg = RegData {
            state: RegistrationState::Registered,
            subscription: Some(sub.clone()),
            charging: ChargingAddresses {
                ccfs: vec!["aaa://ccf.example.net".to_owned()],
                ecfs: Vec::new(),
            },
            associated_impis: Vec::new(),
        };
        check_reg_data(&reg);
    }
    let Ok(text) = text else { return };
    let shared = SharedIfcSets::parse(text);
    if let Ok(tight) = SharedIfcSets::parse_with_limits(text, &limits) {
        assert_eq!(
            shared.as_ref(),
            Ok(&tight),
            "tighter limits changed the value"
        );
    }
    if let Ok(sets) = &shared {
        check_shared(sets);
        check_merge(&referencing(sets), sets);
    }
    if let Ok(reg) = RegData::parse(text) {
        assert!(reg.associated_impis.is_empty());
        for address in reg.charging.ccfs.iter().chain(&reg.charging.ecfs) {
            assert!(!address.is_empty(), "empty charging address accepted");
        }
        if let Some(sub) = &reg.subscription {
            check_subscription(sub, &limits);
        }
        check_reg_data(&reg);
    }
}

/// `sub` with every text field replaced by a piece of `text` (pieces of 0
/// to 22 characters taken at spread-out offsets).
fn respell(sub: &ImsSubscription, text: &str) -> ImsSubscription {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0usize;
    let mut piece = || -> String {
        i += 1;
        if chars.is_empty() {
            return String::new();
        }
        let start = i.wrapping_mul(131) % chars.len();
        chars[start..].iter().take(i * 7 % 23).collect()
    };
    let mut sub = sub.clone();
    sub.private_id = piece();
    for profile in &mut sub.service_profiles {
        for id in &mut profile.public_identities {
            id.identity = piece();
            for value in [
                &mut id.wildcarded_psi,
                &mut id.display_name,
                &mut id.alias_identity_group_id,
                &mut id.wildcarded_impu,
            ]
            .into_iter()
            .flatten()
            {
                *value = piece();
            }
        }
        if let Some(cnsa) = &mut profile.core_network_services_authorization {
            for service_id in &mut cnsa.service_ids {
                *service_id = piece();
            }
        }
        for ifc in &mut profile.initial_filter_criteria {
            let app = &mut ifc.application_server;
            app.server_name = piece();
            if let Some(info) = &mut app.service_info {
                *info = piece();
            }
            for spt in ifc.trigger_point.iter_mut().flat_map(|tp| &mut tp.spts) {
                match &mut spt.kind {
                    SptKind::RequestUri(value) | SptKind::Method(value) => *value = piece(),
                    SptKind::SipHeader { header: a, content }
                    | SptKind::SessionDescription { line: a, content } => {
                        *a = piece();
                        if let Some(c) = content {
                            *c = piece();
                        }
                    }
                    SptKind::SessionCase(_) => {}
                }
            }
        }
    }
    sub
}

/// Limits no larger than the defaults, chosen from a hash of the input so
/// the fuzzer explores each boundary.
fn tight_limits(data: &[u8]) -> ParseLimits {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut pick = |n: u64| -> usize {
        let v = h % n;
        h /= n;
        usize::try_from(v).unwrap()
    };
    let mut limits = ParseLimits::default();
    limits.max_depth = 4 + pick(5);
    limits.max_service_profiles = 1 + pick(3);
    limits.max_public_identities = 1 + pick(4);
    limits.max_ifcs = pick(4);
    limits.max_spts = pick(4);
    limits.max_list_items = pick(4);
    limits.max_value_bytes = [0, 1, 8, 24, 64][pick(5)];
    limits.max_shared_ifc_sets = pick(3);
    limits
}

/// The depth of the deepest element [`ImsSubscription::to_xml`] writes for
/// `sub`, counting the root as 1.
fn written_depth(sub: &ImsSubscription) -> usize {
    let mut depth = 5; // IMSSubscription/ServiceProfile/PublicIdentity/Extension/IdentityType
    for profile in &sub.service_profiles {
        for id in &profile.public_identities {
            if id.wildcarded_impu.is_some() {
                depth = depth.max(7);
            } else if id.display_name.is_some() || id.alias_identity_group_id.is_some() {
                depth = depth.max(6);
            }
        }
        if profile
            .core_network_services_authorization
            .as_ref()
            .is_some_and(|c| !c.service_ids.is_empty())
        {
            depth = depth.max(6);
        }
        for ifc in &profile.initial_filter_criteria {
            depth = depth.max(ifc_depth(ifc) + 2);
        }
    }
    depth
}

/// The depth of an iFC's deepest written element, the iFC itself at 1.
fn ifc_depth(ifc: &InitialFilterCriteria) -> usize {
    let mut depth = 3; // InitialFilterCriteria/ApplicationServer/ServerName
    if let Some(tp) = &ifc.trigger_point {
        for spt in &tp.spts {
            let nested = matches!(
                spt.kind,
                SptKind::SipHeader { .. } | SptKind::SessionDescription { .. }
            );
            depth = depth.max(if nested || !spt.registration_types.is_empty() {
                5
            } else {
                4
            });
        }
    }
    if ifc.application_server.include_register_request
        || ifc.application_server.include_register_response
    {
        depth = depth.max(4);
    }
    depth
}

/// Whether `sub`, as written, stays within `limits`.
fn fits(sub: &ImsSubscription, limits: &ParseLimits) -> bool {
    let value = |s: &str| s.len() <= limits.max_value_bytes;
    let opt = |s: &Option<String>| s.as_deref().is_none_or(value);
    // Numbers are text values too.
    let number = |n: &dyn std::fmt::Display| n.to_string().len() <= limits.max_value_bytes;
    let ifcs_fit = |ifcs: &[InitialFilterCriteria]| {
        ifcs.len() <= limits.max_ifcs
            && ifcs.iter().all(|ifc| {
                let app = &ifc.application_server;
                number(&ifc.priority)
                    && value(&app.server_name)
                    && opt(&app.service_info)
                    && number(&app.default_handling.code())
                    && ifc.profile_part_indicator.is_none_or(|p| number(&p.code()))
                    && ifc.trigger_point.as_ref().is_none_or(|tp| {
                        number(&u8::from(tp.condition_type_cnf))
                            && tp.spts.len() <= limits.max_spts
                            && tp.spts.iter().all(|spt| {
                                number(&u8::from(spt.condition_negated))
                                    && spt.groups.len() <= limits.max_list_items
                                    && spt.groups.iter().all(|g| number(g))
                                    && spt.registration_types.len() <= limits.max_list_items
                                    && spt.registration_types.iter().all(|r| number(&r.code()))
                                    && match &spt.kind {
                                        SptKind::RequestUri(s) | SptKind::Method(s) => value(s),
                                        SptKind::SipHeader { header: a, content }
                                        | SptKind::SessionDescription { line: a, content } => {
                                            value(a) && opt(content)
                                        }
                                        SptKind::SessionCase(c) => number(&c.code()),
                                    }
                            })
                    })
            })
    };
    written_depth(sub) <= limits.max_depth
        && value(&sub.private_id)
        && sub.service_profiles.len() <= limits.max_service_profiles
        && sub.service_profiles.iter().all(|p| {
            p.public_identities.len() <= limits.max_public_identities
                && p.public_identities.iter().all(|id| {
                    value(&id.identity)
                        && number(&u8::from(id.barring_indication))
                        && number(&id.identity_type.0)
                        && opt(&id.wildcarded_psi)
                        && opt(&id.display_name)
                        && opt(&id.alias_identity_group_id)
                        && opt(&id.wildcarded_impu)
                })
                && p.core_network_services_authorization
                    .as_ref()
                    .is_none_or(|c| {
                        c.subscribed_media_profile_id.is_none_or(|m| number(&m))
                            && c.service_ids.len() <= limits.max_list_items
                            && c.service_ids.iter().all(|s| value(s))
                    })
                && ifcs_fit(&p.initial_filter_criteria)
                && p.shared_ifc_set_ids.len() <= limits.max_list_items
                && p.shared_ifc_set_ids.iter().all(|id| number(id))
        })
}

/// Every check on an accepted subscription.
fn check_subscription(sub: &ImsSubscription, limits: &ParseLimits) {
    assert_eq!(
        sub.validate(),
        Ok(()),
        "an accepted document does not validate"
    );
    // Written back, it parses to an equal value, from text or bytes.
    let xml = sub.to_xml();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    let again = ImsSubscription::parse(&xml);
    assert_eq!(
        again.as_ref(),
        Ok(sub),
        "the written document reads back differently:\n{xml}"
    );
    assert_eq!(
        ImsSubscription::parse_bytes(xml.as_bytes()).as_ref(),
        Ok(sub)
    );
    // Within tighter limits, the written document is refused exactly when
    // the value exceeds one (the written form has no unknown elements and
    // no literal whitespace around values, so nothing else counts).
    let tight = ImsSubscription::parse_with_limits(&xml, limits);
    assert_eq!(
        tight.is_ok(),
        fits(sub, limits),
        "limits {limits:?} gave {tight:?} for\n{xml}"
    );
    if let Ok(tight) = tight {
        assert_eq!(&tight, sub);
    }

    let all: Vec<&PublicIdentity> = sub.public_identities().collect();
    assert_eq!(
        all.len(),
        sub.service_profiles
            .iter()
            .map(|p| p.public_identities.len())
            .sum::<usize>()
    );
    for profile in &sub.service_profiles {
        assert!(!profile.public_identities.is_empty());
        for id in &profile.public_identities {
            check_identity(sub, profile, id);
        }
        check_ifcs(&profile.initial_filter_criteria);
        let by_priority = profile.ifcs_by_priority();
        assert_ordered(&by_priority, &[&profile.initial_filter_criteria]);
    }
    // Look-ups of identities that are not in the document: a wildcard's
    // text without its delimiters, variations of the identities.
    let mut probes: Vec<String> = vec![sub.private_id.clone(), String::new()];
    for id in &all {
        probes.push(format!("{}x", id.identity));
        probes.push(id.identity.chars().skip(1).collect());
        if let Some(w) = id.wildcard() {
            probes.push(w.replace('!', ""));
        }
    }
    for probe in &probes {
        check_lookup(sub, probe);
    }
}

/// Checks the look-ups for an identity that is in the document.
fn check_identity(sub: &ImsSubscription, profile: &ServiceProfile, id: &PublicIdentity) {
    assert!(!id.identity.is_empty());
    assert!(id.matches(&id.identity));
    assert!(profile.contains(&id.identity));
    let first_exact = sub
        .public_identities()
        .find(|other| other.identity == id.identity)
        .unwrap();
    let (found_profile, found) = sub.find_identity(&id.identity).expect("identity not found");
    assert!(
        ptr::eq(found, first_exact),
        "find_identity({:?}) is not the first exact match",
        id.identity
    );
    assert!(
        found_profile
            .public_identities
            .iter()
            .any(|x| ptr::eq(x, found))
    );
    assert!(ptr::eq(
        sub.service_profile_for(&id.identity).unwrap(),
        found_profile
    ));
    assert_eq!(sub.is_barred(&id.identity), Some(found.barring_indication));

    let t = id.identity_type;
    assert_eq!(t.name().is_some(), t.0 <= 3);
    assert_eq!(
        t.is_psi(),
        t == IdentityType::DISTINCT_PSI || t == IdentityType::WILDCARDED_PSI
    );
    assert_eq!(t.may_be_wildcarded(), t.0 >= 2);
    if let Some(w) = id.wildcard() {
        let from_fields = id
            .wildcarded_psi
            .as_deref()
            .or(id.wildcarded_impu.as_deref());
        match from_fields {
            Some(f) => assert_eq!(w, f),
            None => {
                assert_eq!(w, id.identity);
                assert!(t.may_be_wildcarded() && w.contains('!'));
            }
        }
        if let Ok(pattern) = WildcardPattern::parse(w) {
            if !w.contains('!') {
                // No regular expression part: the text matches only itself.
                assert!(pattern.matches(w), "{w:?} does not match itself");
                assert!(!pattern.matches(&format!("{w}x")));
            }
            for other in sub.public_identities() {
                let _ = pattern.matches(&other.identity);
            }
        }
    } else {
        assert!(id.wildcarded_psi.is_none() && id.wildcarded_impu.is_none());
    }
}

/// `find_identity` on any string agrees with its definition: the first
/// exact `Identity` match, else the first entry whose wildcard matches.
fn check_lookup(sub: &ImsSubscription, impu: &str) {
    let wildcard_matches = |id: &PublicIdentity| {
        id.wildcard()
            .and_then(|w| WildcardPattern::parse(w).ok())
            .is_some_and(|p| p.matches(impu))
    };
    let expected = sub
        .public_identities()
        .find(|id| id.identity == impu)
        .or_else(|| sub.public_identities().find(|id| wildcard_matches(id)));
    let found = sub.find_identity(impu);
    match (expected, found) {
        (None, None) => assert_eq!(sub.is_barred(impu), None),
        (Some(e), Some((profile, f))) => {
            assert!(
                ptr::eq(e, f),
                "find_identity({impu:?}) found the wrong entry"
            );
            assert!(f.matches(impu));
            assert!(profile.contains(impu));
            assert_eq!(sub.is_barred(impu), Some(f.barring_indication));
        }
        (e, f) => panic!("find_identity({impu:?}) is {f:?}, expected {e:?}"),
    }
    for profile in &sub.service_profiles {
        assert_eq!(
            profile.contains(impu),
            profile.public_identities.iter().any(|id| id.matches(impu))
        );
    }
}

/// Checks the accessors of iFCs the evaluation uses.
fn check_ifcs(ifcs: &[InitialFilterCriteria]) {
    for ifc in ifcs {
        assert!(ifc.priority >= 0);
        assert!(!ifc.application_server.server_name.is_empty());
        let (reg, unreg) = (
            ifc.applies_when_registered(true),
            ifc.applies_when_registered(false),
        );
        match ifc.profile_part_indicator {
            None => assert!(reg && unreg),
            Some(ProfilePartIndicator::Registered) => assert!(reg && !unreg),
            Some(ProfilePartIndicator::Unregistered) => assert!(!reg && unreg),
        }
        if let Some(p) = ifc.profile_part_indicator {
            assert_eq!(ProfilePartIndicator::from_code(p.code()), Some(p));
            assert!(!p.name().is_empty());
        }
        let dh = ifc.application_server.default_handling;
        assert_eq!(DefaultHandling::from_code(dh.code()), Some(dh));
        let Some(tp) = &ifc.trigger_point else {
            continue;
        };
        let groups = tp.groups();
        assert!(groups.windows(2).all(|w| w[0] < w[1]), "groups not sorted");
        for spt in &tp.spts {
            assert!(!spt.groups.is_empty());
            assert!(spt.groups.iter().all(|g| groups.contains(g)));
            for r in &spt.registration_types {
                assert_eq!(RegistrationType::from_code(r.code()), Some(*r));
            }
            match &spt.kind {
                SptKind::SessionCase(c) => {
                    assert_eq!(SessionCase::from_code(c.code()), Some(*c));
                    assert!(!c.name().is_empty());
                }
                SptKind::RequestUri(s) | SptKind::Method(s) => assert!(!s.is_empty()),
                SptKind::SipHeader { header: s, .. }
                | SptKind::SessionDescription { line: s, .. } => assert!(!s.is_empty()),
            }
        }
        assert!(
            groups
                .iter()
                .all(|g| tp.spts.iter().any(|spt| spt.groups.contains(g)))
        );
    }
}

/// `ordered` holds every iFC of `sources` exactly once, by ascending
/// priority, and among equal priorities by source, then document order.
fn assert_ordered(ordered: &[&InitialFilterCriteria], sources: &[&[InitialFilterCriteria]]) {
    assert_eq!(
        ordered.len(),
        sources.iter().map(|s| s.len()).sum::<usize>(),
        "iFCs lost or duplicated"
    );
    let key = |ifc: &InitialFilterCriteria| {
        sources
            .iter()
            .enumerate()
            .find_map(|(s, list)| {
                list.iter()
                    .position(|x| ptr::eq(x, ifc))
                    .map(|i| (ifc.priority, s, i))
            })
            .expect("an iFC from nowhere")
    };
    let keys: Vec<_> = ordered.iter().map(|ifc| key(ifc)).collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "iFCs out of order: {keys:?}"
    );
}

/// Shared iFC sets for `sub`'s references: every other referenced id is
/// defined (with the iFCs of the profile that references it), so some are
/// unknown.
fn shared_from(sub: &ImsSubscription) -> SharedIfcSets {
    let mut sets = SharedIfcSets::default();
    for profile in &sub.service_profiles {
        for (i, id) in profile.shared_ifc_set_ids.iter().enumerate() {
            if i % 2 == 0 && sets.get(*id).is_none() {
                sets.sets.push(SharedIfcSet {
                    set_id: *id,
                    initial_filter_criteria: profile.initial_filter_criteria.clone(),
                });
            }
        }
    }
    sets
}

/// A profile referencing `sets` in reverse order, each set twice, and one
/// set id they do not define; with the first set's iFCs as its own.
fn referencing(sets: &SharedIfcSets) -> ServiceProfile {
    let mut ids: Vec<u32> = sets.sets.iter().rev().map(|s| s.set_id).collect();
    ids.extend(sets.sets.iter().map(|s| s.set_id));
    if let Some(unknown) = (0..=u32::MAX).find(|id| sets.get(*id).is_none()) {
        ids.insert(ids.len() / 2, unknown);
    }
    ServiceProfile {
        public_identities: vec![PublicIdentity::new("sip:fuzz@example.net")],
        initial_filter_criteria: sets
            .sets
            .first()
            .map(|s| s.initial_filter_criteria.clone())
            .unwrap_or_default(),
        shared_ifc_set_ids: ids,
        ..ServiceProfile::default()
    }
}

/// `merged_ifcs` and `unknown_shared_ifc_set_ids` against their definitions.
fn check_merge(profile: &ServiceProfile, shared: &SharedIfcSets) {
    let mut sources: Vec<&[InitialFilterCriteria]> = vec![&profile.initial_filter_criteria];
    let mut seen = Vec::new();
    for id in &profile.shared_ifc_set_ids {
        if !seen.contains(id) {
            seen.push(*id);
            if let Some(set) = shared.get(*id) {
                sources.push(&set.initial_filter_criteria);
            }
        }
    }
    assert_ordered(&profile.merged_ifcs(shared), &sources);
    let unknown = profile.unknown_shared_ifc_set_ids(shared);
    let expected: Vec<u32> = profile
        .shared_ifc_set_ids
        .iter()
        .copied()
        .filter(|id| !shared.sets.iter().any(|s| s.set_id == *id))
        .collect();
    assert_eq!(unknown, expected);
}

/// Every check on an accepted shared iFC set document.
fn check_shared(sets: &SharedIfcSets) {
    assert_eq!(sets.validate(), Ok(()));
    let xml = sets.to_xml();
    assert_eq!(
        SharedIfcSets::parse(&xml).as_ref(),
        Ok(sets),
        "the written document reads back differently:\n{xml}"
    );
    for set in &sets.sets {
        assert!(
            ptr::eq(sets.get(set.set_id).unwrap(), set),
            "set ids not unique"
        );
        check_ifcs(&set.initial_filter_criteria);
    }
}

/// A reg-data document written back parses to an equal value.
fn check_reg_data(reg: &RegData) {
    let state = reg.state;
    assert_eq!(RegistrationState::parse(state.as_str()), Some(state));
    let xml = reg.to_xml();
    let again = RegData::parse(&xml);
    assert_eq!(
        again.as_ref(),
        Ok(reg),
        "the written reg-data reads back differently:\n{xml}"
    );
}
