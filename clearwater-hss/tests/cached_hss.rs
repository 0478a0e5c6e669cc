//! `CachedHss` on a `MemoryStore`, over a recording `Hss` double: SAR
//! counts under Clearwater's re-registration rule, call/dereg/GET, the
//! sets' IMPUs sharing one record, wildcards, PPR/RTR invalidation and
//! forwarding, unreadable records and store failures.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use clearwater_hss::cached::CACHE_TABLE;
use clearwater_hss::subscription::{IdentityType, ImsSubscription, PublicIdentity, ServiceProfile};
use clearwater_hss::{
    AssignmentType, AuthRequest, AuthScheme, AuthVector, AuthorizationType, CacheConfig, CachedHss,
    ChargingAddresses, DigestVector, Hss, HssError, HssEvent, HssListener, LocationQuery, RegData,
    RegistrationState, SelectionResult, ServerAssignment, ServerSelection, UserAuthorization,
};
use clearwater_store::{
    Cas, Condition, Durability, MemoryConfig, MemoryStore, Record, Store, StoreError, Table, Ttl,
};

// ---------------------------------------------------------------------------
// The recording double

const IMPI: &str = "alice@example.net";
const ALICE: &str = "sip:alice@example.net";
const ALICE_TEL: &str = "tel:+15551234567";

/// The inner HSS: answers SARs with its current subscription, records
/// everything, keeps the listener the cache registers.
#[derive(Default)]
struct Inner {
    sars: Mutex<Vec<ServerAssignment>>,
    others: Mutex<Vec<&'static str>>,
    subscription: Mutex<Option<ImsSubscription>>,
    error: Mutex<Option<HssError>>,
    listener: Mutex<Option<Arc<dyn HssListener>>>,
}

impl Inner {
    fn new(subscription: ImsSubscription) -> Arc<Inner> {
        let inner = Inner::default();
        *inner.subscription.lock().unwrap() = Some(subscription);
        Arc::new(inner)
    }

    /// The SAR kinds received since the last call.
    fn sars(&self) -> Vec<AssignmentType> {
        std::mem::take(&mut *self.sars.lock().unwrap())
            .into_iter()
            .map(|r| r.kind)
            .collect()
    }

    /// Delivers an event as the Cx layer would (to the registered listener).
    async fn push(&self, event: HssEvent) -> Result<(), HssError> {
        let listener = self
            .listener
            .lock()
            .unwrap()
            .clone()
            .expect("no listener registered");
        listener.on_event(event).await
    }
}

#[async_trait]
impl Hss for Inner {
    async fn authenticate(&self, _: &AuthRequest) -> Result<AuthVector, HssError> {
        self.others.lock().unwrap().push("MAR");
        Ok(AuthVector::Digest(DigestVector {
            ha1: "00".into(),
            realm: "example.net".into(),
            qop: "auth".into(),
        }))
    }

    async fn assign_server(&self, req: &ServerAssignment) -> Result<RegData, HssError> {
        self.sars.lock().unwrap().push(req.clone());
        if let Some(e) = self.error.lock().unwrap().clone() {
            return Err(e);
        }
        let state = match req.kind {
            AssignmentType::Registration | AssignmentType::ReRegistration => {
                RegistrationState::Registered
            }
            AssignmentType::UnregisteredUser => RegistrationState::Unregistered,
            _ => RegistrationState::NotRegistered,
        };
        let subscription = self.subscription.lock().unwrap().clone();
        Ok(RegData {
            state,
            associated_impis: subscription.iter().map(|s| s.private_id.clone()).collect(),
            subscription,
            charging: ChargingAddresses {
                ccfs: vec!["aaa://ccf1.example.net".into()],
                ecfs: vec![],
            },
        })
    }

    async fn authorize_user(&self, _: &UserAuthorization) -> Result<ServerSelection, HssError> {
        self.others.lock().unwrap().push("UAR");
        Ok(ServerSelection {
            result: SelectionResult::FirstRegistration,
            server_name: None,
            capabilities: None,
        })
    }

    async fn locate(&self, _: &LocationQuery) -> Result<ServerSelection, HssError> {
        self.others.lock().unwrap().push("LIR");
        Ok(ServerSelection {
            result: SelectionResult::Success,
            server_name: Some("sip:scscf".into()),
            capabilities: None,
        })
    }

    fn set_listener(&self, listener: Arc<dyn HssListener>) {
        *self.listener.lock().unwrap() = Some(listener);
    }
}

/// The S-CSCF's listener: records what reached it.
struct Downstream {
    events: Mutex<Vec<HssEvent>>,
    answer: Mutex<Result<(), HssError>>,
}

#[async_trait]
impl HssListener for Downstream {
    async fn on_event(&self, event: HssEvent) -> Result<(), HssError> {
        self.events.lock().unwrap().push(event);
        self.answer.lock().unwrap().clone()
    }
}

// ---------------------------------------------------------------------------
// Fixtures

/// Alice's set: a SIP URI and a barred tel URI, plus a wildcarded PSI.
fn subscription() -> ImsSubscription {
    let mut tel = PublicIdentity::new(ALICE_TEL);
    tel.barring_indication = true;
    let mut conf = PublicIdentity::new("sip:conf-!.*!@example.net");
    conf.identity_type = IdentityType::WILDCARDED_PSI;
    ImsSubscription {
        private_id: IMPI.into(),
        service_profiles: vec![ServiceProfile {
            public_identities: vec![PublicIdentity::new(ALICE), tel, conf],
            ..ServiceProfile::default()
        }],
    }
}

fn memory() -> Arc<MemoryStore> {
    Arc::new(MemoryStore::new(MemoryConfig::default()))
}

fn cached(inner: &Arc<Inner>, store: Arc<dyn Store>, interval: Duration) -> CachedHss<Arc<Inner>> {
    CachedHss::new(
        inner.clone(),
        store,
        CacheConfig::default().with_reregistration_interval(interval),
    )
}

fn sar(impu: &str, impi: Option<&str>, kind: AssignmentType) -> ServerAssignment {
    ServerAssignment {
        impu: impu.into(),
        impi: impi.map(str::to_owned),
        server_name: "sip:scscf1.example.net".into(),
        kind,
    }
}

fn reg(impu: &str) -> ServerAssignment {
    sar(impu, Some(IMPI), AssignmentType::Registration)
}

fn call(impu: &str) -> ServerAssignment {
    sar(impu, None, AssignmentType::UnregisteredUser)
}

fn read(impu: &str) -> ServerAssignment {
    sar(impu, None, AssignmentType::NoAssignment)
}

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("test took longer than 20 s")
}

const LONG: Duration = Duration::from_secs(3600);

use AssignmentType::{
    AuthenticationFailure, NoAssignment, ReRegistration, Registration, TimeoutDeregistration,
    UnregisteredUser, UserDeregistration,
};

// ---------------------------------------------------------------------------
// Registration

#[tokio::test]
async fn reregistration_is_answered_from_the_cache_within_the_interval() {
    bounded(async {
        let inner = Inner::new(subscription());
        let hss = cached(&inner, memory(), Duration::from_millis(300));
        let first = hss.assign_server(&reg(ALICE)).await.unwrap();
        assert_eq!(first.state, RegistrationState::Registered);
        assert_eq!(first.subscription, Some(subscription()));
        assert_eq!(inner.sars(), [Registration]);
        for _ in 0..5 {
            let again = hss.assign_server(&reg(ALICE)).await.unwrap();
            assert_eq!(again, first, "served from the cache, unchanged");
        }
        assert_eq!(inner.sars(), [], "no SAR within the interval");
        tokio::time::sleep(Duration::from_millis(350)).await;
        hss.assign_server(&reg(ALICE)).await.unwrap();
        assert_eq!(inner.sars(), [ReRegistration], "the interval passed");
        hss.assign_server(&reg(ALICE)).await.unwrap();
        assert_eq!(inner.sars(), [], "the SAR restarted the interval");
    })
    .await;
}

#[tokio::test]
async fn a_new_binding_goes_to_the_hss() {
    bounded(async {
        let inner = Inner::new(subscription());
        let hss = cached(&inner, memory(), LONG);
        hss.assign_server(&reg(ALICE)).await.unwrap();
        let other = sar(ALICE, Some("alice-phone2@example.net"), Registration);
        hss.assign_server(&other).await.unwrap();
        assert_eq!(inner.sars(), [Registration, Registration]);
        // Both IMPIs are now known to have registered the set.
        hss.assign_server(&other).await.unwrap();
        hss.assign_server(&reg(ALICE)).await.unwrap();
        hss.assign_server(&sar(ALICE, None, Registration))
            .await
            .unwrap();
        assert_eq!(inner.sars(), []);
    })
    .await;
}

#[tokio::test]
async fn a_forced_reregistration_always_reaches_the_hss() {
    bounded(async {
        let inner = Inner::new(subscription());
        let hss = cached(&inner, memory(), LONG);
        hss.assign_server(&sar(ALICE, Some(IMPI), ReRegistration))
            .await
            .unwrap();
        hss.assign_server(&sar(ALICE, Some(IMPI), ReRegistration))
            .await
            .unwrap();
        assert_eq!(inner.sars(), [Registration, ReRegistration]);
    })
    .await;
}

// ---------------------------------------------------------------------------
// Calls, deregistrations, reads

#[tokio::test]
async fn calls_use_any_cached_state() {
    bounded(async {
        let inner = Inner::new(subscription());
        let hss = cached(&inner, memory(), LONG);
        let first = hss.assign_server(&call(ALICE)).await.unwrap();
        assert_eq!(first.state, RegistrationState::Unregistered);
        assert_eq!(inner.sars(), [UnregisteredUser]);
        assert_eq!(hss.assign_server(&call(ALICE)).await.unwrap(), first);
        assert_eq!(inner.sars(), []);
        // Unregistered in the cache: a REGISTER is a first registration.
        let registered = hss.assign_server(&reg(ALICE)).await.unwrap();
        assert_eq!(inner.sars(), [Registration]);
        assert_eq!(hss.assign_server(&call(ALICE)).await.unwrap(), registered);
        assert_eq!(
            hss.assign_server(&call(ALICE)).await.unwrap().state,
            RegistrationState::Registered
        );
        assert_eq!(inner.sars(), []);
    })
    .await;
}

#[tokio::test]
async fn deregistration_reaches_the_hss_and_empties_the_cache() {
    bounded(async {
        let inner = Inner::new(subscription());
        let hss = cached(&inner, memory(), LONG);
        for kind in [
            UserDeregistration,
            TimeoutDeregistration,
            AssignmentType::AdministrativeDeregistration,
        ] {
            hss.assign_server(&reg(ALICE)).await.unwrap();
            let answer = hss
                .assign_server(&sar(ALICE, Some(IMPI), kind))
                .await
                .unwrap();
            assert_eq!(
                answer.state,
                RegistrationState::NotRegistered,
                "the HSS's answer"
            );
            assert_eq!(inner.sars(), [Registration, kind]);
            // Every identity of the set is gone from the cache.
            hss.assign_server(&call(ALICE_TEL)).await.unwrap();
            assert_eq!(inner.sars(), [UnregisteredUser]);
            hss.assign_server(&sar(ALICE_TEL, None, kind))
                .await
                .unwrap();
            assert_eq!(inner.sars(), [kind]);
        }
        // A dereg for what is not cached still reaches the HSS.
        hss.assign_server(&sar("sip:nobody@example.net", None, UserDeregistration))
            .await
            .unwrap();
        assert_eq!(inner.sars(), [UserDeregistration]);
    })
    .await;
}

#[tokio::test]
async fn deregistration_errors_and_auth_failures() {
    bounded(async {
        let inner = Inner::new(subscription());
        let hss = cached(&inner, memory(), LONG);
        hss.assign_server(&reg(ALICE)).await.unwrap();
        // The HSS cannot be reached: the cache is kept (the request may be
        // retried through another node).
        *inner.error.lock().unwrap() = Some(HssError::Unavailable("down".into()));
        let dereg = sar(ALICE, Some(IMPI), UserDeregistration);
        assert_eq!(
            hss.assign_server(&dereg).await,
            Err(HssError::Unavailable("down".into()))
        );
        *inner.error.lock().unwrap() = None;
        hss.assign_server(&call(ALICE)).await.unwrap();
        assert_eq!(inner.sars(), [Registration, UserDeregistration]);
        // Authentication failure: passed on, cache untouched.
        hss.assign_server(&sar(
            ALICE,
            Some("intruder@example.net"),
            AuthenticationFailure,
        ))
        .await
        .unwrap();
        hss.assign_server(&reg(ALICE)).await.unwrap();
        assert_eq!(inner.sars(), [AuthenticationFailure]);
        // The HSS refuses the deregistration: the cache is emptied anyway.
        *inner.error.lock().unwrap() = Some(HssError::UserUnknown(ALICE.into()));
        assert!(hss.assign_server(&dereg).await.is_err());
        *inner.error.lock().unwrap() = None;
        hss.assign_server(&call(ALICE)).await.unwrap();
        assert_eq!(inner.sars(), [UserDeregistration, UnregisteredUser]);
    })
    .await;
}

#[tokio::test]
async fn reads_come_from_the_cache_else_the_hss() {
    bounded(async {
        let inner = Inner::new(subscription());
        let hss = cached(&inner, memory(), LONG);
        assert_eq!(
            hss.assign_server(&read(ALICE)).await.unwrap().state,
            RegistrationState::NotRegistered
        );
        hss.assign_server(&read(ALICE)).await.unwrap();
        assert_eq!(
            inner.sars(),
            [NoAssignment, NoAssignment],
            "reads are not cached"
        );
        let registered = hss.assign_server(&reg(ALICE)).await.unwrap();
        assert_eq!(hss.assign_server(&read(ALICE)).await.unwrap(), registered);
        assert_eq!(
            hss.assign_server(&read(ALICE_TEL)).await.unwrap(),
            registered
        );
        assert_eq!(inner.sars(), [Registration]);
    })
    .await;
}

#[tokio::test]
async fn mar_uar_lir_always_pass_through() {
    bounded(async {
        let inner = Inner::new(subscription());
        let hss = cached(&inner, memory(), LONG);
        let mar = AuthRequest {
            impi: IMPI.into(),
            impu: ALICE.into(),
            scheme: AuthScheme::Unknown,
            server_name: String::new(),
            resync: None,
        };
        let uar = UserAuthorization {
            impi: IMPI.into(),
            impu: ALICE.into(),
            visited_network: None,
            kind: AuthorizationType::Registration,
        };
        let lir = LocationQuery {
            impu: ALICE.into(),
            originating: false,
            with_capabilities: false,
        };
        hss.assign_server(&reg(ALICE)).await.unwrap();
        for _ in 0..2 {
            hss.authenticate(&mar).await.unwrap();
            hss.authorize_user(&uar).await.unwrap();
            hss.locate(&lir).await.unwrap();
        }
        assert_eq!(
            *inner.others.lock().unwrap(),
            ["MAR", "UAR", "LIR", "MAR", "UAR", "LIR"]
        );
    })
    .await;
}

// ---------------------------------------------------------------------------
// One record per set

#[tokio::test]
async fn every_impu_of_a_set_shares_its_record() {
    bounded(async {
        let inner = Inner::new(subscription());
        let store = memory();
        let hss = cached(&inner, store.clone(), LONG);
        let data = hss.assign_server(&reg(ALICE_TEL)).await.unwrap();
        assert_eq!(inner.sars(), [Registration]);
        // Registered through the tel URI; the SIP URI finds the same set.
        assert_eq!(hss.assign_server(&reg(ALICE)).await.unwrap(), data);
        assert_eq!(hss.assign_server(&call(ALICE)).await.unwrap(), data);
        assert_eq!(hss.assign_server(&call(ALICE_TEL)).await.unwrap(), data);
        assert_eq!(inner.sars(), []);
        // One set record, keyed by the default (first unbarred) identity;
        // the others are aliases of it.
        let mut keys = store.list(&CACHE_TABLE).await.unwrap();
        keys.sort();
        assert_eq!(
            keys,
            [
                "impi:alice@example.net",
                "impu:sip:alice@example.net",
                "impu:tel:+15551234567"
            ]
        );
        let alias = store
            .get(&CACHE_TABLE, "impu:tel:+15551234567")
            .await
            .unwrap()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&alias.value)
                .contains(r#""type":"alias","key":"sip:alice@example.net""#)
        );
    })
    .await;
}

#[tokio::test]
async fn wildcard_identities_find_the_set_after_one_sar() {
    bounded(async {
        let inner = Inner::new(subscription());
        let hss = cached(&inner, memory(), LONG);
        hss.assign_server(&reg(ALICE)).await.unwrap();
        // A concrete identity under the wildcard: the first request cannot
        // know it belongs to the set.
        let room = "sip:conf-42@example.net";
        let data = hss.assign_server(&call(room)).await.unwrap();
        assert_eq!(inner.sars(), [Registration, UnregisteredUser]);
        assert_eq!(
            data.state,
            RegistrationState::Registered,
            "the set is registered"
        );
        assert_eq!(hss.assign_server(&call(room)).await.unwrap(), data);
        assert_eq!(hss.assign_server(&reg(ALICE)).await.unwrap(), data);
        assert_eq!(inner.sars(), []);
        // Not under the wildcard: never served from Alice's set.
        hss.assign_server(&call("sip:other-1@example.net"))
            .await
            .unwrap();
        assert_eq!(inner.sars(), [UnregisteredUser]);
    })
    .await;
}

// ---------------------------------------------------------------------------
// PPR and RTR

fn downstream(answer: Result<(), HssError>) -> Arc<Downstream> {
    Arc::new(Downstream {
        events: Mutex::new(Vec::new()),
        answer: Mutex::new(answer),
    })
}

#[tokio::test]
async fn ppr_updates_the_cached_sets_and_is_forwarded() {
    bounded(async {
        let inner = Inner::new(subscription());
        let hss = cached(&inner, memory(), LONG);
        let scscf = downstream(Ok(()));
        hss.set_listener(scscf.clone());
        hss.assign_server(&reg(ALICE)).await.unwrap();
        assert_eq!(inner.sars(), [Registration]);

        // New subscription: an extra identity; new charging addresses.
        let mut updated = subscription();
        updated.service_profiles[0]
            .public_identities
            .push(PublicIdentity::new("sip:alice2@example.net"));
        let charging = ChargingAddresses {
            ccfs: vec!["aaa://ccf9".into()],
            ecfs: vec!["aaa://ecf9".into()],
        };
        let event = HssEvent::ProfileUpdated {
            impi: IMPI.into(),
            subscription: Some(updated.clone()),
            charging: Some(charging.clone()),
        };
        inner.push(event.clone()).await.unwrap();
        assert_eq!(*scscf.events.lock().unwrap(), [event]);

        let data = hss.assign_server(&read(ALICE)).await.unwrap();
        assert_eq!(data.subscription, Some(updated.clone()));
        assert_eq!(data.charging, charging);
        assert_eq!(data.state, RegistrationState::Registered, "state kept");
        // The new identity finds the set; re-registration still cached.
        assert_eq!(
            hss.assign_server(&call("sip:alice2@example.net"))
                .await
                .unwrap(),
            data
        );
        assert_eq!(hss.assign_server(&reg(ALICE_TEL)).await.unwrap(), data);
        assert_eq!(inner.sars(), []);

        // Charging only: found through the IMPI index.
        let charging2 = ChargingAddresses {
            ccfs: vec!["aaa://ccf10".into()],
            ecfs: vec![],
        };
        inner
            .push(HssEvent::ProfileUpdated {
                impi: IMPI.into(),
                subscription: None,
                charging: Some(charging2.clone()),
            })
            .await
            .unwrap();
        let data = hss.assign_server(&read(ALICE_TEL)).await.unwrap();
        assert_eq!(data.charging, charging2);
        assert_eq!(data.subscription, Some(updated));
        // Another IMPI's PPR does not touch Alice's set.
        inner
            .push(HssEvent::ProfileUpdated {
                impi: "bob@example.net".into(),
                subscription: None,
                charging: Some(ChargingAddresses::default()),
            })
            .await
            .unwrap();
        assert_eq!(
            hss.assign_server(&read(ALICE)).await.unwrap().charging,
            charging2
        );
        assert_eq!(inner.sars(), []);
    })
    .await;
}

#[tokio::test]
async fn rtr_removes_the_sets_and_is_forwarded() {
    bounded(async {
        let inner = Inner::new(subscription());
        let hss = cached(&inner, memory(), LONG);
        let scscf = downstream(Ok(()));
        hss.set_listener(scscf.clone());

        // Naming the IMPI only: all its sets go.
        hss.assign_server(&reg(ALICE)).await.unwrap();
        let rtr = HssEvent::Deregistered {
            impis: vec![IMPI.into()],
            impus: vec![],
            reason_code: 0,
            reason_info: None,
        };
        inner.push(rtr.clone()).await.unwrap();
        assert_eq!(*scscf.events.lock().unwrap(), [rtr]);
        hss.assign_server(&read(ALICE_TEL)).await.unwrap();
        hss.assign_server(&reg(ALICE)).await.unwrap();
        assert_eq!(inner.sars(), [Registration, NoAssignment, Registration]);

        // Naming an IMPU: its set goes.
        let rtr = HssEvent::Deregistered {
            impis: vec![IMPI.into()],
            impus: vec![ALICE_TEL.into()],
            reason_code: 2,
            reason_info: Some("moved".into()),
        };
        inner.push(rtr).await.unwrap();
        hss.assign_server(&call(ALICE)).await.unwrap();
        assert_eq!(inner.sars(), [UnregisteredUser]);
        // Another IMPI's RTR leaves Alice's set alone.
        inner
            .push(HssEvent::Deregistered {
                impis: vec!["bob@example.net".into()],
                impus: vec![],
                reason_code: 0,
                reason_info: None,
            })
            .await
            .unwrap();
        hss.assign_server(&call(ALICE)).await.unwrap();
        assert_eq!(inner.sars(), []);
        assert_eq!(scscf.events.lock().unwrap().len(), 3);
    })
    .await;
}

#[tokio::test]
async fn the_downstream_answer_is_the_event_answer() {
    bounded(async {
        let inner = Inner::new(subscription());
        let hss = cached(&inner, memory(), LONG);
        let event = HssEvent::Deregistered {
            impis: vec![IMPI.into()],
            impus: vec![],
            reason_code: 0,
            reason_info: None,
        };
        // No listener on the cache: the event is applied and acknowledged.
        inner.push(event.clone()).await.unwrap();
        let refusing = downstream(Err(HssError::UserUnknown(IMPI.into())));
        hss.set_listener(refusing.clone());
        hss.assign_server(&reg(ALICE)).await.unwrap();
        assert_eq!(
            inner.push(event).await,
            Err(HssError::UserUnknown(IMPI.into()))
        );
        // The cache was still invalidated.
        hss.assign_server(&reg(ALICE)).await.unwrap();
        assert_eq!(inner.sars(), [Registration, Registration]);
    })
    .await;
}

// ---------------------------------------------------------------------------
// Bad records, store failures, concurrency

#[tokio::test]
async fn unreadable_records_are_misses_and_overwritten() {
    bounded(async {
        let inner = Inner::new(subscription());
        let store = memory();
        let hss = cached(&inner, store.clone(), LONG);
        let key = format!("impu:{ALICE}");
        for garbage in [
            &b"garbage"[..],
            br#"cw"#,
            &b"cw\x01\x0ehss-cache-impu\x00\x01{\"type\":\"set\",\"state\":\"REGISTERED\",\"subscription\":\"<IMSSubscription/>\",\"sar_ms\":99999999999999}"[..],
            &b"cw\x01\x0ehss-cache-impu\x00\x01{\"type\":\"set\",\"state\":\"SOMETHING\",\"sar_ms\":99999999999999}"[..],
            &b"cw\x01\x0ehss-cache-impu\x00\x01{\"type\":\"alias\",\"key\":\"sip:bob@example.net\"}"[..],
        ] {
            store.set(&CACHE_TABLE, &key, Bytes::copy_from_slice(garbage), Condition::Any, Ttl::Forever).await.unwrap();
            let data = hss.assign_server(&reg(ALICE)).await.unwrap();
            assert_eq!(data.subscription, Some(subscription()), "never served");
            assert_eq!(inner.sars(), [Registration]);
            hss.assign_server(&reg(ALICE)).await.unwrap();
            assert_eq!(inner.sars(), [], "overwritten with a good record");
        }
        // A set record that no longer serves the IMPU (the alias is stale).
        let mut other = subscription();
        other.service_profiles[0].public_identities.retain(|id| id.identity != ALICE_TEL);
        *inner.subscription.lock().unwrap() = Some(other);
        hss.assign_server(&sar(ALICE, Some(IMPI), ReRegistration)).await.unwrap();
        inner.sars();
        hss.assign_server(&call(ALICE_TEL)).await.unwrap();
        assert_eq!(inner.sars(), [UnregisteredUser], "the stale alias is a miss");
    })
    .await;
}

#[tokio::test]
async fn the_parse_memo_never_serves_other_text() {
    bounded(async {
        let inner = Inner::new(subscription());
        let store = memory();
        let hss = cached(&inner, store.clone(), LONG);
        hss.assign_server(&reg(ALICE)).await.unwrap();
        assert_eq!(
            hss.assign_server(&read(ALICE)).await.unwrap().subscription,
            Some(subscription())
        );
        // Someone rewrites the record's subscription text but not its tag.
        let key = format!("impu:{ALICE}");
        let record = store.get(&CACHE_TABLE, &key).await.unwrap().unwrap();
        let text = String::from_utf8(record.value.to_vec()).unwrap();
        assert!(text.contains(r#""rev":"#));
        let changed = text.replace(
            "alice@example.net</PrivateID>",
            "alice2@example.net</PrivateID>",
        );
        assert_ne!(changed, text);
        store
            .set(
                &CACHE_TABLE,
                &key,
                Bytes::from(changed),
                Condition::Any,
                Ttl::Forever,
            )
            .await
            .unwrap();
        let data = hss.assign_server(&read(ALICE)).await.unwrap();
        assert_eq!(data.subscription.unwrap().private_id, "alice2@example.net");
        assert_eq!(inner.sars(), [Registration]);
        // With the memo off, the same answers.
        let hss = CachedHss::new(
            inner.clone(),
            store.clone(),
            CacheConfig::default().with_parsed_subscriptions(0),
        );
        let data = hss.assign_server(&read(ALICE)).await.unwrap();
        assert_eq!(data.subscription.unwrap().private_id, "alice2@example.net");
    })
    .await;
}

/// A store that is down.
struct Down;

#[async_trait]
impl Store for Down {
    async fn get(&self, _: &Table, _: &str) -> Result<Option<Record>, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn set(
        &self,
        _: &Table,
        _: &str,
        _: Bytes,
        _: Condition,
        _: Ttl,
    ) -> Result<Cas, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn delete(&self, _: &Table, _: &str, _: Condition) -> Result<bool, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    fn durability(&self) -> Durability {
        Durability::Ephemeral
    }
}

#[tokio::test]
async fn a_failed_store_means_the_hss_answers() {
    bounded(async {
        let inner = Inner::new(subscription());
        let hss = cached(&inner, Arc::new(Down), LONG);
        let scscf = downstream(Ok(()));
        hss.set_listener(scscf.clone());
        for _ in 0..2 {
            assert_eq!(
                hss.assign_server(&reg(ALICE)).await.unwrap().state,
                RegistrationState::Registered
            );
            assert_eq!(
                hss.assign_server(&call(ALICE)).await.unwrap().state,
                RegistrationState::Unregistered
            );
            hss.assign_server(&read(ALICE)).await.unwrap();
            hss.assign_server(&sar(ALICE, Some(IMPI), UserDeregistration))
                .await
                .unwrap();
        }
        assert_eq!(inner.sars().len(), 8, "every request reached the HSS");
        // Events are forwarded, and the HSS is told the cache is stale.
        let event = HssEvent::Deregistered {
            impis: vec![IMPI.into()],
            impus: vec![],
            reason_code: 0,
            reason_info: None,
        };
        assert!(matches!(
            inner.push(event).await,
            Err(HssError::Unavailable(_))
        ));
        assert_eq!(scscf.events.lock().unwrap().len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_registrations_converge() {
    bounded(async {
        let inner = Inner::new(subscription());
        let hss = Arc::new(cached(&inner, memory(), LONG));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..32 {
            let hss = hss.clone();
            tasks.spawn(async move {
                let impi = format!("device{}@example.net", i % 4);
                let impu = if i % 2 == 0 { ALICE } else { ALICE_TEL };
                hss.assign_server(&sar(impu, Some(&impi), Registration))
                    .await
                    .unwrap()
            });
        }
        while let Some(r) = tasks.join_next().await {
            assert_eq!(r.unwrap().state, RegistrationState::Registered);
        }
        let sent = inner.sars().len();
        assert!((1..=32).contains(&sent), "{sent}");
        // Every device's binding was merged into the set under CAS.
        for i in 0..4 {
            let impi = format!("device{i}@example.net");
            hss.assign_server(&sar(ALICE, Some(&impi), Registration))
                .await
                .unwrap();
        }
        assert_eq!(inner.sars(), [], "all four bindings are remembered");
    })
    .await;
}
