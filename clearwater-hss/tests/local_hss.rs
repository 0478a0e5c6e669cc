//! The local subscriber master: provisioning on a real durable store
//! (redb in a temporary directory), and the Cx answers of `LocalHss` with
//! registration state in a memory store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use clearwater_hss::digest;
use clearwater_hss::local::{
    CredentialInfo, Credentials, LocalHss, LocalHssConfig, MASTER_TABLES, NewSubscriber,
    Provisioning, ProvisioningConfig, ProvisioningError,
};
use clearwater_hss::milenage::{Milenage, Sqn};
use clearwater_hss::{
    AssignmentType, AuthRequest, AuthScheme, AuthVector, AuthorizationType, Capabilities,
    ChargingAddresses, Hss, HssError, LocationQuery, RegistrationState, Resync, SelectionResult,
    ServerAssignment, UserAuthorization,
};
use clearwater_store::{
    Cas, Condition, Durability, DurableStore, MemoryConfig, MemoryStore, Record, Store, StoreError,
    Table, Ttl,
};

// ---------------------------------------------------------------------------
// Harness

const REALM: &str = "example.net";
/// TS 35.208 test set 1.
const K: [u8; 16] = [
    0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f, 0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6, 0xbc,
];
const OPC: [u8; 16] = [
    0xcd, 0x63, 0xcb, 0x71, 0x95, 0x4a, 0x9f, 0x4e, 0x48, 0xa5, 0x99, 0x4e, 0x37, 0xa0, 0x2b, 0xaf,
];

/// Every test body runs under this bound.
async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(120), f)
        .await
        .expect("the test took more than 120 s")
}

/// A temporary directory (removed on drop) for the master store.
struct TempDir(tempfile::TempDir);

impl TempDir {
    fn new() -> TempDir {
        TempDir(tempfile::tempdir().unwrap())
    }

    fn db(&self) -> PathBuf {
        self.0.path().join("master.redb")
    }
}

struct Env {
    master: Arc<dyn Store>,
    prov: Provisioning,
    hss: LocalHss,
    _dir: TempDir,
}

fn capabilities() -> Capabilities {
    Capabilities {
        mandatory: vec![1],
        optional: vec![2, 3],
        server_names: vec!["sip:scscf-suggested.example.net".into()],
    }
}

fn default_charging() -> ChargingAddresses {
    ChargingAddresses {
        ccfs: vec!["aaa://ccf1.example.net".into()],
        ecfs: vec![],
    }
}

fn env_with(
    config: ProvisioningConfig,
    wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
) -> Env {
    let dir = TempDir::new();
    let durable: Arc<dyn Store> = Arc::new(DurableStore::open(dir.db()).unwrap());
    let master = wrap(durable);
    let prov = Provisioning::new(master.clone(), config).unwrap();
    let state = Arc::new(MemoryStore::new(MemoryConfig::default()));
    let hss = LocalHss::new(
        prov.clone(),
        state,
        LocalHssConfig::default()
            .with_capabilities(capabilities())
            .with_charging(default_charging()),
    )
    .unwrap();
    Env {
        master,
        prov,
        hss,
        _dir: dir,
    }
}

fn env() -> Env {
    env_with(ProvisioningConfig::new(REALM), |s| s)
}

async fn count(store: &dyn Store, table: &Table) -> usize {
    store.list(table).await.unwrap().len()
}

/// The number of records in each master table.
async fn counts(store: &dyn Store) -> [usize; 4] {
    let mut out = [0; 4];
    for (i, t) in MASTER_TABLES.iter().enumerate() {
        out[i] = count(store, t).await;
    }
    out
}

async fn digest_subscriber(prov: &Provisioning, user: &str) -> (String, String) {
    let impu = format!("sip:{user}@{REALM}");
    let impi = format!("{user}@{REALM}");
    prov.create_subscriber(&NewSubscriber::new(
        &impu,
        &impi,
        Credentials::password(format!("{user}-password")),
    ))
    .await
    .unwrap();
    (impu, impi)
}

async fn aka_subscriber(prov: &Provisioning, user: &str) -> (String, String) {
    let impu = format!("sip:{user}@{REALM}");
    let impi = format!("{user}@{REALM}");
    prov.create_subscriber(&NewSubscriber::new(&impu, &impi, Credentials::aka(K, OPC)))
        .await
        .unwrap();
    (impu, impi)
}

fn mar(impi: &str, impu: &str, scheme: AuthScheme) -> AuthRequest {
    AuthRequest {
        impi: impi.into(),
        impu: impu.into(),
        scheme,
        server_name: String::new(),
        resync: None,
    }
}

fn sar(impu: &str, impi: Option<&str>, server: &str, kind: AssignmentType) -> ServerAssignment {
    ServerAssignment {
        impu: impu.into(),
        impi: impi.map(str::to_owned),
        server_name: server.into(),
        kind,
    }
}

fn uar(impi: &str, impu: &str, kind: AuthorizationType) -> UserAuthorization {
    UserAuthorization {
        impi: impi.into(),
        impu: impu.into(),
        visited_network: None,
        kind,
    }
}

fn lir(impu: &str) -> LocationQuery {
    LocationQuery {
        impu: impu.into(),
        originating: false,
        with_capabilities: false,
    }
}

/// The SQN an AKA vector carries (as the USIM reads it).
fn sqn_of(vector: &AuthVector) -> Sqn {
    let AuthVector::Aka(v) = vector else {
        panic!("expected an AKA vector, got {vector:?}")
    };
    let (sqn, amf) = Milenage::with_opc(&K, &OPC)
        .verify_autn(&v.rand, &v.autn)
        .unwrap();
    assert_eq!(amf, [0x80, 0x00]);
    sqn
}

async fn last_sqn(prov: &Provisioning, impi: &str) -> Sqn {
    match prov.credentials(impi).await.unwrap() {
        CredentialInfo::Aka { last_sqn, .. } => last_sqn,
        other => panic!("expected AKA credentials, got {other:?}"),
    }
}

fn public_identity(identity: &str) -> String {
    format!("<PublicIdentity><Identity>{identity}</Identity></PublicIdentity>")
}

fn barred_identity(identity: &str) -> String {
    format!(
        "<PublicIdentity><BarringIndication>1</BarringIndication>\
         <Identity>{identity}</Identity></PublicIdentity>"
    )
}

const IFC_ALWAYS: &str = "<ServiceProfile><InitialFilterCriteria><Priority>0</Priority>\
    <TriggerPoint><ConditionTypeCNF>0</ConditionTypeCNF>\
    <SPT><ConditionNegated>0</ConditionNegated><Group>0</Group><Method>INVITE</Method></SPT>\
    </TriggerPoint><ApplicationServer><ServerName>sip:mmtel.example.net</ServerName>\
    <DefaultHandling>0</DefaultHandling></ApplicationServer></InitialFilterCriteria>\
    </ServiceProfile>";

const IFC_REGISTERED_ONLY: &str = "<InitialFilterCriteria><Priority>0</Priority>\
    <ApplicationServer><ServerName>sip:as.example.net</ServerName></ApplicationServer>\
    <ProfilePartIndicator>0</ProfilePartIndicator></InitialFilterCriteria>";

// ---------------------------------------------------------------------------
// Placement and digest

#[tokio::test]
async fn master_data_needs_a_durable_store() {
    let memory = Arc::new(MemoryStore::new(MemoryConfig::default()));
    let err = Provisioning::new(memory, ProvisioningConfig::new(REALM)).unwrap_err();
    assert!(
        matches!(err, ProvisioningError::Invalid(ref r) if r.contains("master data")),
        "{err}"
    );
    // An empty default realm is refused too.
    let dir = TempDir::new();
    let durable = Arc::new(DurableStore::open(dir.db()).unwrap());
    assert!(Provisioning::new(durable, ProvisioningConfig::new("")).is_err());
}

#[tokio::test]
async fn digest_authentication() {
    bounded(async {
        let e = env();
        let (impu, impi) = digest_subscriber(&e.prov, "alice").await;
        let (bob_impu, _) = digest_subscriber(&e.prov, "bob").await;

        for scheme in [AuthScheme::Unknown, AuthScheme::Digest] {
            let AuthVector::Digest(v) = e
                .hss
                .authenticate(&mar(&impi, &impu, scheme))
                .await
                .unwrap()
            else {
                panic!("expected digest")
            };
            assert_eq!(v.ha1, digest::ha1(&impi, REALM, "alice-password"));
            assert_eq!(v.realm, REALM);
            assert_eq!(v.qop, "auth");
        }
        // No public identity: no association check.
        assert!(
            e.hss
                .authenticate(&mar(&impi, "", AuthScheme::Digest))
                .await
                .is_ok()
        );

        let err = e
            .hss
            .authenticate(&mar(&impi, &impu, AuthScheme::Aka))
            .await
            .unwrap_err();
        assert!(
            matches!(err, HssError::Rejected { code: 5006, .. }),
            "{err:?}"
        );
        assert_eq!(err.cx_result(), (10415, 5006));
        let err = e
            .hss
            .authenticate(&mar("nobody@example.net", &impu, AuthScheme::Digest))
            .await
            .unwrap_err();
        assert!(matches!(err, HssError::UserUnknown(_)), "{err:?}");
        let err = e
            .hss
            .authenticate(&mar(&impi, "sip:nobody@example.net", AuthScheme::Digest))
            .await
            .unwrap_err();
        assert!(matches!(err, HssError::UserUnknown(_)), "{err:?}");
        let err = e
            .hss
            .authenticate(&mar(&impi, &bob_impu, AuthScheme::Digest))
            .await
            .unwrap_err();
        assert!(matches!(err, HssError::IdentitiesDontMatch(_)), "{err:?}");

        // A precomputed HA1 in another realm; reads never give a password.
        assert!(
            !e.prov
                .put_private(
                    &impi,
                    Credentials::DigestHa1 {
                        ha1: "939E7578ED9E3C518A452ACEE763BCE9".into(),
                        realm: Some("testrealm@host.com".into()),
                    },
                )
                .await
                .unwrap()
        );
        assert_eq!(
            e.prov.credentials(&impi).await.unwrap(),
            CredentialInfo::Digest {
                ha1: "939e7578ed9e3c518a452acee763bce9".into(),
                realm: "testrealm@host.com".into()
            }
        );
        let AuthVector::Digest(v) = e
            .hss
            .authenticate(&mar(&impi, &impu, AuthScheme::Unknown))
            .await
            .unwrap()
        else {
            panic!("expected digest")
        };
        assert_eq!(v.realm, "testrealm@host.com");
        // The association survived the credential change.
        assert_eq!(
            e.prov.private_public_ids(&impi).await.unwrap(),
            [impu.as_str()]
        );

        for bad in [
            Credentials::DigestHa1 {
                ha1: "abc".into(),
                realm: None,
            },
            Credentials::Password {
                password: String::new(),
                realm: None,
            },
            Credentials::Password {
                password: "x".into(),
                realm: Some(String::new()),
            },
        ] {
            let err = e.prov.put_private(&impi, bad).await.unwrap_err();
            assert!(matches!(err, ProvisioningError::Invalid(_)), "{err:?}");
        }
        for bad in ["", "has space@x", "tab\t@x", "nul\0@x"] {
            let err = e
                .prov
                .put_private(bad, Credentials::password("x"))
                .await
                .unwrap_err();
            assert!(
                matches!(err, ProvisioningError::Invalid(_)),
                "{bad:?}: {err:?}"
            );
        }
    })
    .await;
}

// ---------------------------------------------------------------------------
// AKA

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aka_sqn_advances_and_never_repeats() {
    bounded(async {
        let e = Arc::new(env());
        let (impu, impi) = aka_subscriber(&e.prov, "carol").await;
        assert_eq!(last_sqn(&e.prov, &impi).await, Sqn::new(0).unwrap());

        let milenage = Milenage::with_opc(&K, &OPC);
        let mut seen = HashSet::new();
        let mut rands = HashSet::new();
        let mut previous = Sqn::new(0).unwrap();
        for i in 0..40u64 {
            let scheme = if i % 2 == 0 {
                AuthScheme::Aka
            } else {
                AuthScheme::Unknown
            };
            let vector = e
                .hss
                .authenticate(&mar(&impi, &impu, scheme))
                .await
                .unwrap();
            let sqn = sqn_of(&vector);
            assert_eq!(sqn.seq(), previous.seq() + 1, "SEQ steps by one");
            assert_eq!(sqn.ind(), (previous.ind() + 1) % 32, "IND is cyclic");
            assert!(seen.insert(sqn));
            let AuthVector::Aka(v) = &vector else {
                unreachable!()
            };
            assert!(rands.insert(v.rand), "RAND repeated");
            // The vector is Milenage's for that RAND and SQN.
            assert_eq!(*v, milenage.aka_vector(&v.rand, sqn, &[0x80, 0x00]));
            previous = sqn;
        }
        assert_eq!(last_sqn(&e.prov, &impi).await, previous);

        // Concurrent MARs (as from several S-CSCFs) never share an SQN.
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let e = e.clone();
            let (impi, impu) = (impi.clone(), impu.clone());
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                for _ in 0..15 {
                    let v = e
                        .hss
                        .authenticate(&mar(&impi, &impu, AuthScheme::Aka))
                        .await
                        .unwrap();
                    out.push(sqn_of(&v));
                }
                out
            }));
        }
        let mut concurrent = Vec::new();
        for t in tasks {
            concurrent.extend(t.await.unwrap());
        }
        assert_eq!(concurrent.len(), 120);
        for sqn in &concurrent {
            assert!(sqn.seq() > previous.seq());
            assert!(seen.insert(*sqn), "SQN {sqn} issued twice");
        }
        let max = concurrent.iter().max().unwrap();
        assert_eq!(
            max.seq(),
            previous.seq() + 120,
            "no SQN skipped or repeated"
        );
        assert_eq!(last_sqn(&e.prov, &impi).await, *max);

        // A digest request for an AKA subscriber is refused.
        let err = e
            .hss
            .authenticate(&mar(&impi, &impu, AuthScheme::Digest))
            .await
            .unwrap_err();
        assert!(matches!(err, HssError::Rejected { code: 5006, .. }));
    })
    .await;
}

#[tokio::test]
async fn aka_resynchronisation() {
    bounded(async {
        let e = env();
        let (impu, impi) = aka_subscriber(&e.prov, "dave").await;
        let milenage = Milenage::with_opc(&K, &OPC);
        for _ in 0..3 {
            e.hss
                .authenticate(&mar(&impi, &impu, AuthScheme::Aka))
                .await
                .unwrap();
        }
        let he = last_sqn(&e.prov, &impi).await;
        assert_eq!(he.seq(), 3);

        // The USIM is far ahead (e.g. it was used with another HSS).
        let rand = [0x42; 16];
        let sqn_ms = Sqn::from_seq_ind(10_000, 7).unwrap();
        let auts = milenage.auts(&rand, sqn_ms);
        let mut req = mar(&impi, &impu, AuthScheme::Aka);
        req.resync = Some(Resync { rand, auts });

        // A forged AUTS changes nothing.
        let mut forged = req.clone();
        let mut bad = auts;
        bad[13] ^= 1;
        forged.resync = Some(Resync { rand, auts: bad });
        let err = e.hss.authenticate(&forged).await.unwrap_err();
        assert!(matches!(err, HssError::Auth(_)), "{err:?}");
        assert_eq!(last_sqn(&e.prov, &impi).await, he);

        let after = sqn_of(&e.hss.authenticate(&req).await.unwrap());
        assert_eq!(
            after.seq(),
            sqn_ms.seq() + 1,
            "SQN_MS itself is never re-issued"
        );
        let next = sqn_of(
            &e.hss
                .authenticate(&mar(&impi, &impu, AuthScheme::Aka))
                .await
                .unwrap(),
        );
        assert_eq!(next.seq(), sqn_ms.seq() + 2);

        // A USIM behind the HSS (within Δ): the HSS keeps its own counter
        // and never goes back.
        let behind = Sqn::from_seq_ind(5_000, 1).unwrap();
        let mut req = mar(&impi, &impu, AuthScheme::Aka);
        req.resync = Some(Resync {
            rand,
            auts: milenage.auts(&rand, behind),
        });
        let kept = sqn_of(&e.hss.authenticate(&req).await.unwrap());
        assert_eq!(kept.seq(), next.seq() + 1);

        // Re-provisioning the keys, or switching to digest and back, never
        // restarts the counter.
        e.prov
            .put_private(&impi, Credentials::aka(K, OPC))
            .await
            .unwrap();
        assert_eq!(last_sqn(&e.prov, &impi).await, kept);
        e.prov
            .put_private(&impi, Credentials::password("pw"))
            .await
            .unwrap();
        e.prov
            .put_private(&impi, Credentials::aka(K, OPC))
            .await
            .unwrap();
        let again = sqn_of(
            &e.hss
                .authenticate(&mar(&impi, &impu, AuthScheme::Aka))
                .await
                .unwrap(),
        );
        assert_eq!(again.seq(), kept.seq() + 1);
    })
    .await;
}

#[tokio::test]
async fn state_survives_reopening_the_store() {
    bounded(async {
        let dir = TempDir::new();
        let (impu, impi, before) = {
            let store: Arc<dyn Store> = Arc::new(DurableStore::open(dir.db()).unwrap());
            let prov = Provisioning::new(store, ProvisioningConfig::new(REALM)).unwrap();
            let (impu, impi) = aka_subscriber(&prov, "erin").await;
            let hss = LocalHss::new(
                prov.clone(),
                Arc::new(MemoryStore::new(MemoryConfig::default())),
                LocalHssConfig::default(),
            )
            .unwrap();
            for _ in 0..5 {
                hss.authenticate(&mar(&impi, &impu, AuthScheme::Aka))
                    .await
                    .unwrap();
            }
            let before = last_sqn(&prov, &impi).await;
            (impu, impi, before)
        };
        let store: Arc<dyn Store> = Arc::new(DurableStore::open(dir.db()).unwrap());
        let prov = Provisioning::new(store, ProvisioningConfig::new(REALM)).unwrap();
        let hss = LocalHss::new(
            prov.clone(),
            Arc::new(MemoryStore::new(MemoryConfig::default())),
            LocalHssConfig::default(),
        )
        .unwrap();
        assert_eq!(
            prov.private_public_ids(&impi).await.unwrap(),
            [impu.as_str()]
        );
        let next = sqn_of(
            &hss.authenticate(&mar(&impi, &impu, AuthScheme::Aka))
                .await
                .unwrap(),
        );
        assert_eq!(next.seq(), before.seq() + 1);
    })
    .await;
}

// ---------------------------------------------------------------------------
// UAR, LIR, SAR

#[tokio::test]
async fn registration_state_transitions() {
    bounded(async {
        let e = env();
        let (impu, impi) = digest_subscriber(&e.prov, "frank").await;
        let (other_impu, other_impi) = digest_subscriber(&e.prov, "grace").await;
        const S1: &str = "sip:scscf1.example.net";
        const S2: &str = "sip:scscf2.example.net";
        use AuthorizationType::*;

        // Never registered.
        let a = e
            .hss
            .authorize_user(&uar(&impi, &impu, Registration))
            .await
            .unwrap();
        assert_eq!(a.result, SelectionResult::FirstRegistration);
        assert_eq!(a.server_name, None);
        assert_eq!(a.capabilities, Some(capabilities()));
        let err = e
            .hss
            .authorize_user(&uar(&impi, &impu, Deregistration))
            .await
            .unwrap_err();
        assert!(matches!(err, HssError::NotRegistered(_)), "{err:?}");
        assert_eq!(err.cx_result(), (10415, 5003));
        let err = e.hss.locate(&lir(&impu)).await.unwrap_err();
        assert!(
            matches!(err, HssError::NotRegistered(_)),
            "no unregistered services: {err:?}"
        );
        let orig = e
            .hss
            .locate(&LocationQuery {
                originating: true,
                ..lir(&impu)
            })
            .await
            .unwrap();
        assert_eq!(orig.result, SelectionResult::UnregisteredService);
        assert_eq!(orig.capabilities, Some(capabilities()));
        let caps = e
            .hss
            .locate(&LocationQuery {
                with_capabilities: true,
                ..lir(&impu)
            })
            .await
            .unwrap();
        assert_eq!(
            (caps.result, caps.server_name, caps.capabilities),
            (SelectionResult::Success, None, Some(capabilities()))
        );
        let read = e
            .hss
            .assign_server(&sar(&impu, Some(&impi), S1, AssignmentType::NoAssignment))
            .await
            .unwrap();
        assert_eq!(read.state, RegistrationState::NotRegistered);
        assert!(read.subscription.is_none());

        // MAR from S1: S1 is authenticating the user, and the I-CSCF sends
        // the next REGISTER there.
        let mut m = mar(&impi, &impu, AuthScheme::Digest);
        m.server_name = S1.into();
        e.hss.authenticate(&m).await.unwrap();
        let a = e
            .hss
            .authorize_user(&uar(&impi, &impu, Registration))
            .await
            .unwrap();
        assert_eq!(
            (a.result, a.server_name.as_deref()),
            (SelectionResult::SubsequentRegistration, Some(S1))
        );
        assert!(
            e.hss.locate(&lir(&impu)).await.is_err(),
            "authenticating is not registered"
        );
        // The authentication fails: S1 is forgotten.
        let r = e
            .hss
            .assign_server(&sar(
                &impu,
                Some(&impi),
                S1,
                AssignmentType::AuthenticationFailure,
            ))
            .await
            .unwrap();
        assert_eq!(r.state, RegistrationState::NotRegistered);
        let a = e
            .hss
            .authorize_user(&uar(&impi, &impu, Registration))
            .await
            .unwrap();
        assert_eq!(a.result, SelectionResult::FirstRegistration);

        // Registration.
        e.hss.authenticate(&m).await.unwrap();
        let r = e
            .hss
            .assign_server(&sar(&impu, Some(&impi), S1, AssignmentType::Registration))
            .await
            .unwrap();
        assert_eq!(r.state, RegistrationState::Registered);
        assert_eq!(r.associated_impis, [impi.as_str()]);
        assert_eq!(r.charging, default_charging());
        let sub = r.subscription.unwrap();
        assert_eq!(sub.private_id, impi);
        assert_eq!(sub.service_profiles.len(), 1);
        assert!(sub.service_profile_for(&impu).is_some());
        assert!(
            sub.service_profile_for(&other_impu).is_none(),
            "only this IRS"
        );

        let a = e
            .hss
            .authorize_user(&uar(&impi, &impu, Registration))
            .await
            .unwrap();
        assert_eq!(
            (a.result, a.server_name.as_deref(), a.capabilities),
            (SelectionResult::SubsequentRegistration, Some(S1), None)
        );
        let a = e
            .hss
            .authorize_user(&uar(&impi, &impu, RegistrationAndCapabilities))
            .await
            .unwrap();
        assert_eq!(
            (a.result, a.server_name, a.capabilities),
            (SelectionResult::Success, None, Some(capabilities()))
        );
        let a = e
            .hss
            .authorize_user(&uar(&impi, &impu, Deregistration))
            .await
            .unwrap();
        assert_eq!(
            (a.result, a.server_name.as_deref()),
            (SelectionResult::Success, Some(S1))
        );
        let l = e.hss.locate(&lir(&impu)).await.unwrap();
        assert_eq!(
            (l.result, l.server_name.as_deref()),
            (SelectionResult::Success, Some(S1))
        );
        // A MAR while registered does not move the S-CSCF.
        let mut m2 = m.clone();
        m2.server_name = S2.into();
        e.hss.authenticate(&m2).await.unwrap();
        assert_eq!(
            e.hss
                .locate(&lir(&impu))
                .await
                .unwrap()
                .server_name
                .as_deref(),
            Some(S1)
        );
        let r = e
            .hss
            .assign_server(&sar(&impu, None, "", AssignmentType::NoAssignment))
            .await
            .unwrap();
        assert_eq!(r.state, RegistrationState::Registered);
        assert_eq!(
            r.subscription.unwrap().private_id,
            impi,
            "a registered IMPI"
        );

        // De-registration.
        let r = e
            .hss
            .assign_server(&sar(
                &impu,
                Some(&impi),
                S1,
                AssignmentType::UserDeregistration,
            ))
            .await
            .unwrap();
        assert_eq!(r.state, RegistrationState::NotRegistered);
        assert!(r.subscription.is_some(), "for third-party de-registrations");
        assert!(r.associated_impis.is_empty());
        assert!(e.hss.locate(&lir(&impu)).await.is_err());

        // Unregistered service for a terminating call.
        let r = e
            .hss
            .assign_server(&sar(&impu, None, S2, AssignmentType::UnregisteredUser))
            .await
            .unwrap();
        assert_eq!(r.state, RegistrationState::Unregistered);
        assert_eq!(
            r.subscription.unwrap().private_id,
            impi,
            "the associated IMPI"
        );
        let l = e.hss.locate(&lir(&impu)).await.unwrap();
        assert_eq!(
            (l.result, l.server_name.as_deref()),
            (SelectionResult::Success, Some(S2))
        );
        let a = e
            .hss
            .authorize_user(&uar(&impi, &impu, Registration))
            .await
            .unwrap();
        assert_eq!(
            (a.result, a.server_name.as_deref()),
            (SelectionResult::SubsequentRegistration, Some(S2))
        );
        let r = e
            .hss
            .assign_server(&sar(&impu, Some(&impi), S2, AssignmentType::Registration))
            .await
            .unwrap();
        assert_eq!(r.state, RegistrationState::Registered);
        let r = e
            .hss
            .assign_server(&sar(
                &impu,
                Some(&impi),
                S2,
                AssignmentType::TimeoutDeregistration,
            ))
            .await
            .unwrap();
        assert_eq!(r.state, RegistrationState::NotRegistered);

        // The other subscriber was never touched.
        let a = e
            .hss
            .authorize_user(&uar(&other_impi, &other_impu, Registration))
            .await
            .unwrap();
        assert_eq!(a.result, SelectionResult::FirstRegistration);

        // Errors.
        for err in [
            e.hss
                .assign_server(&sar(
                    "sip:nobody@example.net",
                    None,
                    S1,
                    AssignmentType::Registration,
                ))
                .await
                .unwrap_err(),
            e.hss
                .locate(&lir("sip:nobody@example.net"))
                .await
                .unwrap_err(),
            e.hss
                .authorize_user(&uar("nobody@example.net", &impu, Registration))
                .await
                .unwrap_err(),
            e.hss
                .authorize_user(&uar(&impi, "sip:nobody@example.net", Registration))
                .await
                .unwrap_err(),
        ] {
            assert!(matches!(err, HssError::UserUnknown(_)), "{err:?}");
        }
        for err in [
            e.hss
                .assign_server(&sar(
                    &impu,
                    Some(&other_impi),
                    S1,
                    AssignmentType::Registration,
                ))
                .await
                .unwrap_err(),
            e.hss
                .authorize_user(&uar(&other_impi, &impu, Registration))
                .await
                .unwrap_err(),
        ] {
            assert!(matches!(err, HssError::IdentitiesDontMatch(_)), "{err:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn two_private_identities_share_an_irs() {
    bounded(async {
        let e = env();
        let (impu, impi) = digest_subscriber(&e.prov, "heidi").await;
        let (irs, _) = e.prov.public_location(&impu).await.unwrap();
        let phone2 = "heidi-phone2@example.net";
        e.prov
            .put_private(phone2, Credentials::password("pw2"))
            .await
            .unwrap();
        e.prov.associate(phone2, &irs).await.unwrap();
        let ids = e.prov.irs_private_ids(&irs).await.unwrap();
        assert_eq!(
            ids,
            [impi.clone(), phone2.to_owned()],
            "in association order"
        );

        let r1 = e
            .hss
            .assign_server(&sar(
                &impu,
                Some(&impi),
                "sip:s",
                AssignmentType::Registration,
            ))
            .await
            .unwrap();
        assert_eq!(r1.associated_impis, [impi.as_str()]);
        let r2 = e
            .hss
            .assign_server(&sar(
                &impu,
                Some(phone2),
                "sip:s",
                AssignmentType::Registration,
            ))
            .await
            .unwrap();
        assert_eq!(r2.associated_impis, [impi.clone(), phone2.to_owned()]);
        assert_eq!(r2.subscription.unwrap().private_id, phone2);
        // One phone de-registers: the set stays registered for the other.
        let r = e
            .hss
            .assign_server(&sar(
                &impu,
                Some(&impi),
                "sip:s",
                AssignmentType::UserDeregistration,
            ))
            .await
            .unwrap();
        assert_eq!(r.state, RegistrationState::Registered);
        assert_eq!(r.associated_impis, [phone2.to_owned()]);
        let r = e
            .hss
            .assign_server(&sar(
                &impu,
                Some(phone2),
                "sip:s",
                AssignmentType::UserDeregistration,
            ))
            .await
            .unwrap();
        assert_eq!(r.state, RegistrationState::NotRegistered);
    })
    .await;
}

#[tokio::test]
async fn barred_identities() {
    bounded(async {
        let e = env();
        let irs = e.prov.create_irs().await.unwrap();
        let sp = e.prov.create_service_profile(&irs).await.unwrap();
        let barred = "sip:temp-ivan@example.net";
        let open = "sip:ivan@example.net";
        let impi = "ivan@example.net";
        e.prov
            .put_public_id(&irs, &sp, barred, &barred_identity(barred))
            .await
            .unwrap();
        e.prov
            .put_public_id(&irs, &sp, open, &public_identity(open))
            .await
            .unwrap();
        e.prov
            .put_private(impi, Credentials::password("pw"))
            .await
            .unwrap();
        e.prov.associate(impi, &irs).await.unwrap();

        // Barred, but not every identity of the set is: registration allowed.
        let a = e
            .hss
            .authorize_user(&uar(impi, barred, AuthorizationType::Registration))
            .await
            .unwrap();
        assert_eq!(a.result, SelectionResult::FirstRegistration);
        // Bar the other one too.
        assert!(
            !e.prov
                .put_public_id(&irs, &sp, open, &barred_identity(open))
                .await
                .unwrap()
        );
        let err = e
            .hss
            .authorize_user(&uar(impi, barred, AuthorizationType::Registration))
            .await
            .unwrap_err();
        assert!(
            matches!(err, HssError::Rejected { code: 5003, .. }),
            "{err:?}"
        );
        assert_eq!(err.cx_result(), (0, 5003), "a base Result-Code");
        // The barring reaches the subscription.
        let r = e
            .hss
            .assign_server(&sar(
                open,
                Some(impi),
                "sip:s",
                AssignmentType::Registration,
            ))
            .await
            .unwrap();
        assert_eq!(r.subscription.unwrap().is_barred(open), Some(true));
    })
    .await;
}

#[tokio::test]
async fn wildcarded_identities() {
    bounded(async {
        let e = env();
        let irs = e.prov.create_irs().await.unwrap();
        let sp = e.prov.create_service_profile(&irs).await.unwrap();
        let wildcard = "sip:!.*!@wild.example.net";
        let xml = format!(
            "<PublicIdentity><Identity>{wildcard}</Identity>\
             <Extension><IdentityType>3</IdentityType></Extension></PublicIdentity>"
        );
        e.prov
            .put_public_id(&irs, &sp, wildcard, &xml)
            .await
            .unwrap();
        e.prov
            .set_filter_criteria(&irs, &sp, IFC_ALWAYS)
            .await
            .unwrap();
        let impi = "pbx@wild.example.net";
        e.prov
            .put_private(impi, Credentials::password("pw"))
            .await
            .unwrap();
        e.prov.associate(impi, &irs).await.unwrap();
        // An exact identity elsewhere wins over the wildcard.
        let (exact, _) = {
            let impu = "sip:reception@wild.example.net".to_owned();
            e.prov
                .create_subscriber(&NewSubscriber::new(
                    &impu,
                    "reception@wild.example.net",
                    Credentials::password("x"),
                ))
                .await
                .unwrap();
            (impu, ())
        };

        let concrete = "sip:extension-42@wild.example.net";
        assert!(
            e.hss
                .authenticate(&mar(impi, concrete, AuthScheme::Digest))
                .await
                .is_ok()
        );
        assert_eq!(
            e.prov.public_location(concrete).await.unwrap(),
            (irs.clone(), sp.clone())
        );
        assert_ne!(e.prov.public_location(&exact).await.unwrap().0, irs);
        let err = e
            .hss
            .authenticate(&mar(impi, &exact, AuthScheme::Digest))
            .await
            .unwrap_err();
        assert!(matches!(err, HssError::IdentitiesDontMatch(_)), "{err:?}");
        let r = e
            .hss
            .assign_server(&sar(
                concrete,
                Some(impi),
                "sip:s",
                AssignmentType::Registration,
            ))
            .await
            .unwrap();
        let sub = r.subscription.unwrap();
        let (profile, entry) = sub.find_identity(concrete).unwrap();
        assert_eq!(entry.identity, wildcard);
        assert_eq!(profile.initial_filter_criteria.len(), 1);
        // The registration state is the set's: another concrete identity
        // of the wildcard is registered too.
        let l = e
            .hss
            .locate(&lir("sip:other@wild.example.net"))
            .await
            .unwrap();
        assert_eq!(l.server_name.as_deref(), Some("sip:s"));
        assert!(matches!(
            e.hss
                .locate(&lir("sip:x@tame.example.net"))
                .await
                .unwrap_err(),
            HssError::UserUnknown(_)
        ));

        // Unsupported wildcard syntax is refused at provisioning.
        let bad = "sip:!(a|b)!@wild.example.net";
        let err = e
            .prov
            .put_public_id(&irs, &sp, bad, &xml.replace(wildcard, bad))
            .await
            .unwrap_err();
        assert!(matches!(err, ProvisioningError::Invalid(_)), "{err:?}");

        // Deleting the wildcard stops the matches, and empties the index.
        assert!(e.prov.delete_public_id(&irs, &sp, wildcard).await.unwrap());
        assert!(matches!(
            e.hss.locate(&lir(concrete)).await.unwrap_err(),
            HssError::UserUnknown(_)
        ));
        assert_eq!(count(&*e.master, &MASTER_TABLES[3]).await, 0);
    })
    .await;
}

#[tokio::test]
async fn unregistered_services_psis_and_charging() {
    bounded(async {
        let e = env();
        let impu = "sip:judy@example.net";
        let ids = e
            .prov
            .create_subscriber(
                &NewSubscriber::new(impu, "judy@example.net", Credentials::password("pw"))
                    .with_ifc(IFC_ALWAYS),
            )
            .await
            .unwrap();
        // An iFC for every state: unregistered service.
        let l = e.hss.locate(&lir(impu)).await.unwrap();
        assert_eq!(l.result, SelectionResult::UnregisteredService);
        let fc = e
            .prov
            .filter_criteria(&ids.irs, &ids.service_profile)
            .await
            .unwrap()
            .unwrap();
        assert!(fc.contains("sip:mmtel.example.net"), "{fc}");
        // Registered-only iFCs: no unregistered service.
        e.prov
            .set_filter_criteria(&ids.irs, &ids.service_profile, IFC_REGISTERED_ONLY)
            .await
            .unwrap();
        assert!(matches!(
            e.hss.locate(&lir(impu)).await.unwrap_err(),
            HssError::NotRegistered(_)
        ));

        // Charging: the defaults, then the IRS's own.
        let own = ChargingAddresses {
            ccfs: vec!["aaa://ccf-a".into(), "aaa://ccf-b".into()],
            ecfs: vec!["aaa://ecf".into()],
        };
        e.prov
            .set_charging(&ids.irs, Some(own.clone()))
            .await
            .unwrap();
        assert_eq!(e.prov.charging(&ids.irs).await.unwrap(), Some(own.clone()));
        let r = e
            .hss
            .assign_server(&sar(impu, None, "sip:s", AssignmentType::UnregisteredUser))
            .await
            .unwrap();
        assert_eq!(r.charging, own);
        let sub = r.subscription.unwrap();
        assert_eq!(
            sub.service_profiles[0].initial_filter_criteria[0]
                .application_server
                .server_name,
            "sip:as.example.net"
        );

        // A PSI with no private identity.
        let irs = e.prov.create_irs().await.unwrap();
        let sp = e.prov.create_service_profile(&irs).await.unwrap();
        let psi = "sip:conference@example.net";
        e.prov
            .put_public_id(
                &irs,
                &sp,
                psi,
                &format!(
                    "<PublicIdentity><Identity>{psi}</Identity>\
                     <Extension><IdentityType>1</IdentityType></Extension></PublicIdentity>"
                ),
            )
            .await
            .unwrap();
        assert_eq!(
            e.hss.locate(&lir(psi)).await.unwrap().result,
            SelectionResult::UnregisteredService
        );
        let r = e
            .hss
            .assign_server(&sar(psi, None, "sip:s", AssignmentType::UnregisteredUser))
            .await
            .unwrap();
        assert_eq!(r.subscription.unwrap().private_id, psi);
        assert_eq!(r.charging, default_charging());
    })
    .await;
}

// ---------------------------------------------------------------------------
// The provisioning model

#[tokio::test]
async fn provisioning_model() {
    bounded(async {
        let mut config = ProvisioningConfig::new(REALM);
        config.max_service_profiles = 2;
        config.max_ifc_bytes = 2048;
        let e = env_with(config, |s| s);
        let p = &e.prov;
        let irs1 = p.create_irs().await.unwrap();
        let irs2 = p.create_irs().await.unwrap();
        assert_ne!(irs1, irs2);
        assert_eq!(irs1.len(), 36);
        assert_eq!(&irs1[14..15], "4", "a version-4 UUID");
        let sp1 = p.create_service_profile(&irs1).await.unwrap();
        let sp2 = p.create_service_profile(&irs1).await.unwrap();
        let err = p.create_service_profile(&irs1).await.unwrap_err();
        assert!(matches!(err, ProvisioningError::Conflict(_)), "{err:?}");
        let sp3 = p.create_service_profile(&irs2).await.unwrap();

        let a = "sip:a@example.net";
        assert!(
            p.put_public_id(&irs1, &sp1, a, &public_identity(a))
                .await
                .unwrap()
        );
        assert!(
            !p.put_public_id(&irs1, &sp1, a, &barred_identity(a))
                .await
                .unwrap(),
            "an update"
        );
        assert!(
            p.public_id(&irs1, &sp1, a)
                .await
                .unwrap()
                .contains("<BarringIndication>1")
        );
        // In exactly one profile.
        for (irs, sp) in [(&irs1, &sp2), (&irs2, &sp3)] {
            let err = p
                .put_public_id(irs, sp, a, &public_identity(a))
                .await
                .unwrap_err();
            assert!(matches!(err, ProvisioningError::Conflict(_)), "{err:?}");
        }
        let err = p
            .put_public_id(&irs1, &sp1, a, &public_identity("sip:b@example.net"))
            .await
            .unwrap_err();
        assert!(matches!(err, ProvisioningError::Mismatch(_)), "{err:?}");
        let err = p
            .put_public_id(&irs1, &sp1, a, "<PublicIdentity>")
            .await
            .unwrap_err();
        assert!(matches!(err, ProvisioningError::Invalid(_)), "{err:?}");
        let err = p
            .put_public_id(
                &irs2,
                &sp1,
                "sip:c@example.net",
                &public_identity("sip:c@example.net"),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, ProvisioningError::NotFound(_)),
            "a profile of another IRS: {err:?}"
        );
        let err = p.delete_public_id(&irs1, &sp2, a).await.unwrap_err();
        assert!(matches!(err, ProvisioningError::Mismatch(_)), "{err:?}");
        let b = "sip:b@example.net";
        p.put_public_id(&irs1, &sp2, b, &public_identity(b))
            .await
            .unwrap();
        let d = "tel:+15550100";
        p.put_public_id(&irs2, &sp3, d, &public_identity(d))
            .await
            .unwrap();
        assert_eq!(p.irs_public_ids(&irs1).await.unwrap(), [a, b]);
        assert_eq!(p.sp_public_ids(&irs1, &sp2).await.unwrap(), [b]);

        // Filter criteria.
        assert_eq!(p.filter_criteria(&irs1, &sp1).await.unwrap(), None);
        p.set_filter_criteria(&irs1, &sp1, IFC_ALWAYS)
            .await
            .unwrap();
        let err = p
            .set_filter_criteria(&irs1, &sp1, &IFC_ALWAYS.repeat(10))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ProvisioningError::Invalid(ref r) if r.contains("limit")),
            "{err:?}"
        );
        let err = p
            .set_filter_criteria(
                &irs1,
                &sp1,
                "<ServiceProfile><InitialFilterCriteria/></ServiceProfile>",
            )
            .await
            .unwrap_err();
        assert!(matches!(err, ProvisioningError::Invalid(_)), "{err:?}");

        // Many-to-many associations.
        let x = "x@example.net";
        let y = "y@example.net";
        p.put_private(x, Credentials::password("x")).await.unwrap();
        p.put_private(y, Credentials::aka(K, OPC)).await.unwrap();
        p.associate(x, &irs1).await.unwrap();
        p.associate(x, &irs1).await.unwrap();
        p.associate(x, &irs2).await.unwrap();
        p.associate(y, &irs1).await.unwrap();
        assert_eq!(
            p.private_irs(x).await.unwrap(),
            [irs1.clone(), irs2.clone()]
        );
        assert_eq!(p.private_public_ids(x).await.unwrap(), [a, b, d]);
        assert_eq!(p.irs_private_ids(&irs1).await.unwrap(), [x, y]);
        assert_eq!(p.public_private_ids(b).await.unwrap(), [x, y]);
        assert!(matches!(
            p.associate("nobody", &irs1).await.unwrap_err(),
            ProvisioningError::NotFound(_)
        ));
        assert!(matches!(
            p.associate(x, "no-such-irs").await.unwrap_err(),
            ProvisioningError::NotFound(_)
        ));

        assert!(p.dissociate(x, &irs1).await.unwrap());
        assert!(!p.dissociate(x, &irs1).await.unwrap());
        assert_eq!(p.irs_private_ids(&irs1).await.unwrap(), [y]);
        assert!(p.delete_private(y).await.unwrap());
        assert!(!p.delete_private(y).await.unwrap());
        assert!(p.irs_private_ids(&irs1).await.unwrap().is_empty());

        // Deleting a profile takes its identities; deleting an IRS takes
        // everything in it and its associations.
        assert!(p.delete_service_profile(&irs1, &sp2).await.unwrap());
        assert!(!p.delete_service_profile(&irs1, &sp2).await.unwrap());
        assert!(matches!(
            p.public_location(b).await.unwrap_err(),
            ProvisioningError::NotFound(_)
        ));
        // The identity can be provisioned again elsewhere.
        p.put_public_id(&irs2, &sp3, b, &public_identity(b))
            .await
            .unwrap();
        assert!(p.delete_irs(&irs2).await.unwrap());
        assert!(!p.delete_irs(&irs2).await.unwrap());
        assert_eq!(p.private_irs(x).await.unwrap(), Vec::<String>::new());
        assert!(matches!(
            p.public_location(d).await.unwrap_err(),
            ProvisioningError::NotFound(_)
        ));
        assert!(p.delete_irs(&irs1).await.unwrap());
        assert!(p.delete_private(x).await.unwrap());
        assert_eq!(counts(&*e.master).await, [0; 4], "nothing left behind");
    })
    .await;
}

// ---------------------------------------------------------------------------
// All or nothing

/// A store that fails writes to one table after a number of them.
struct Failing {
    inner: Arc<dyn Store>,
    table: &'static str,
    remaining: AtomicUsize,
}

#[async_trait]
impl Store for Failing {
    async fn get(&self, table: &Table, key: &str) -> Result<Option<Record>, StoreError> {
        self.inner.get(table, key).await
    }
    async fn set(
        &self,
        table: &Table,
        key: &str,
        value: Bytes,
        condition: Condition,
        ttl: Ttl,
    ) -> Result<Cas, StoreError> {
        if table.name() == self.table
            && self
                .remaining
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_err()
        {
            return Err(StoreError::Unavailable("injected failure".into()));
        }
        self.inner.set(table, key, value, condition, ttl).await
    }
    async fn delete(
        &self,
        table: &Table,
        key: &str,
        condition: Condition,
    ) -> Result<bool, StoreError> {
        self.inner.delete(table, key, condition).await
    }
    async fn list(&self, table: &Table) -> Result<Vec<String>, StoreError> {
        self.inner.list(table).await
    }
    fn durability(&self) -> Durability {
        Durability::Durable
    }
}

fn sub(user: &str) -> NewSubscriber {
    NewSubscriber::new(
        format!("sip:{user}@{REALM}"),
        format!("{user}@{REALM}"),
        Credentials::password("pw"),
    )
}

#[tokio::test]
async fn bulk_creation_is_all_or_nothing() {
    bounded(async {
        let e = env();
        e.prov.create_subscriber(&sub("kim")).await.unwrap();
        let before = counts(&*e.master).await;
        assert_eq!(before, [1, 1, 1, 0]);

        // Validation, duplicates and existing identities: nothing written.
        let mut bad_ha1 = sub("lee");
        bad_ha1.credentials = Credentials::DigestHa1 {
            ha1: "zz".into(),
            realm: None,
        };
        let mut dup_impi = sub("mia");
        dup_impi.impi = format!("lee@{REALM}");
        let mut bad_ifc = sub("ned");
        bad_ifc.ifc = Some("<ServiceProfile><Oops>".into());
        for (batch, index, conflict) in [
            (vec![sub("lee"), bad_ha1], 1, false),
            (vec![sub("lee"), sub("kim")], 1, true),
            (vec![sub("lee"), dup_impi], 1, true),
            (vec![sub("lee"), sub("mia"), bad_ifc], 2, false),
            (vec![sub("lee"), sub("lee")], 1, true),
        ] {
            let err = e.prov.create_subscribers(&batch).await.unwrap_err();
            assert_eq!(err.index, index, "{err}");
            assert_eq!(
                matches!(err.error, ProvisioningError::Conflict(_)),
                conflict,
                "{err}"
            );
            assert_eq!(counts(&*e.master).await, before);
        }
        let err = e.prov.create_subscriber(&sub("kim")).await.unwrap_err();
        assert!(matches!(err, ProvisioningError::Conflict(_)));
        assert_eq!(counts(&*e.master).await, before);

        let ok = e
            .prov
            .create_subscribers(&[sub("lee"), sub("mia")])
            .await
            .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(counts(&*e.master).await, [3, 3, 3, 0]);
    })
    .await;
}

#[tokio::test]
async fn a_failed_write_is_undone() {
    bounded(async {
        // The third IRS write fails: the first two subscribers of the batch
        // were created, and are removed again.
        let e = env_with(ProvisioningConfig::new(REALM), |inner| {
            Arc::new(Failing {
                inner,
                table: "hss.local.irs",
                remaining: AtomicUsize::new(2),
            })
        });
        let err = e
            .prov
            .create_subscribers(&[sub("olga"), sub("pat"), sub("quinn"), sub("rob")])
            .await
            .unwrap_err();
        assert_eq!(err.index, 2);
        assert!(
            matches!(err.error, ProvisioningError::Unavailable(_)),
            "{err}"
        );
        assert_eq!(counts(&*e.master).await, [0; 4]);
        // A single subscriber, the same way.
        let err = e.prov.create_subscriber(&sub("sam")).await.unwrap_err();
        assert!(matches!(err, ProvisioningError::Unavailable(_)), "{err}");
        assert_eq!(counts(&*e.master).await, [0; 4]);

        // A failure to write the private identity of a public identity
        // claim: the claim is released.
        let e = env_with(ProvisioningConfig::new(REALM), |inner| {
            Arc::new(Failing {
                inner,
                table: "hss.local.impi",
                remaining: AtomicUsize::new(0),
            })
        });
        assert!(e.prov.create_subscriber(&sub("tom")).await.is_err());
        assert_eq!(counts(&*e.master).await, [0; 4]);
    })
    .await;
}

// ---------------------------------------------------------------------------
// Concurrent writers

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_identity_one_profile_under_concurrency() {
    bounded(async {
        let e = Arc::new(env());
        for round in 0..5 {
            let impu = format!("sip:contested-{round}@{REALM}");
            // Eight writers put the same identity into eight profiles of
            // eight IRSs at once.
            let mut targets = Vec::new();
            for _ in 0..8 {
                let irs = e.prov.create_irs().await.unwrap();
                let sp = e.prov.create_service_profile(&irs).await.unwrap();
                targets.push((irs, sp));
            }
            let mut tasks = Vec::new();
            for (irs, sp) in targets.clone() {
                let (e, impu) = (e.clone(), impu.clone());
                tasks.push(tokio::spawn(async move {
                    e.prov
                        .put_public_id(&irs, &sp, &impu, &public_identity(&impu))
                        .await
                }));
            }
            let mut winners = 0;
            for t in tasks {
                match t.await.unwrap() {
                    Ok(created) => {
                        assert!(created);
                        winners += 1;
                    }
                    Err(ProvisioningError::Conflict(_)) => {}
                    Err(other) => panic!("{other:?}"),
                }
            }
            assert_eq!(winners, 1, "round {round}");
            let holders: Vec<_> = {
                let mut h = Vec::new();
                for (irs, _) in &targets {
                    if e.prov.irs_public_ids(irs).await.unwrap().contains(&impu) {
                        h.push(irs.clone());
                    }
                }
                h
            };
            assert_eq!(holders.len(), 1, "in exactly one profile");
            assert_eq!(e.prov.public_location(&impu).await.unwrap().0, holders[0]);
        }

        // The same for whole subscribers with the same public identity.
        let mut tasks = Vec::new();
        for i in 0..8 {
            let e = e.clone();
            tasks.push(tokio::spawn(async move {
                let s = NewSubscriber::new(
                    format!("sip:shared@{REALM}"),
                    format!("racer-{i}@{REALM}"),
                    Credentials::password("pw"),
                );
                e.prov.create_subscriber(&s).await
            }));
        }
        let mut winners = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => winners += 1,
                Err(ProvisioningError::Conflict(_)) => {}
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(winners, 1);
        let impis = e
            .prov
            .public_private_ids(&format!("sip:shared@{REALM}"))
            .await
            .unwrap();
        assert_eq!(impis.len(), 1);
        // The losers left no private identity behind.
        let mut racers = 0;
        for key in e.master.list(&MASTER_TABLES[0]).await.unwrap() {
            racers += usize::from(key.starts_with("racer-"));
        }
        assert_eq!(racers, 1);
    })
    .await;
}
