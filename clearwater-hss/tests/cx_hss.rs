//! `CxHss` against an in-process Diameter HSS node over loopback TCP: every
//! `Hss` call becomes the right Cx request and its answer the right value
//! or error; PPR and RTR from the HSS reach the listener and its verdict
//! becomes the PPA/RTA.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use clearwater_diameter::cx::{
    ChargingInformation, CxResult, CxRouting, LocationInfoAnswer, LocationInfoRequest,
    MultimediaAuthAnswer, MultimediaAuthRequest, Origin, PushProfileRequest,
    RegistrationTerminationRequest, ServerAssignmentAnswer, ServerAssignmentRequest,
    ServerCapabilities, SipAuthDataItem, SipDigestAuthenticate, UserAuthorizationAnswer,
    UserAuthorizationRequest, scheme,
};
use clearwater_diameter::cx::{DeregistrationReason, ReasonCode};
use clearwater_diameter::peer::{LocalIdentity, PeerInfo};
use clearwater_diameter::runtime::{Node, NodeConfig, PeerSpec};
use clearwater_diameter::{CommandCode, Message, ResultCode};
use clearwater_hss::cx::{CxConfig, CxHss};
use clearwater_hss::milenage::{Milenage, Sqn};
use clearwater_hss::{
    AssignmentType, AuthRequest, AuthScheme, AuthVector, AuthorizationType, Hss, HssError,
    HssEvent, HssListener, LocationQuery, RegistrationState, Resync, SelectionResult,
    ServerAssignment, UserAuthorization,
};
use tokio::net::TcpListener;

const SUBSCRIPTION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<IMSSubscription><PrivateID>alice@example.net</PrivateID><ServiceProfile>
<PublicIdentity><Identity>sip:alice@example.net</Identity></PublicIdentity>
<PublicIdentity><Identity>tel:+15551234</Identity></PublicIdentity>
</ServiceProfile></IMSSubscription>"#;

const K: [u8; 16] = [
    0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f, 0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6, 0xbc,
];
const OPC: [u8; 16] = [
    0xcd, 0x63, 0xcb, 0x71, 0x95, 0x4a, 0x9f, 0x4e, 0x48, 0xa5, 0x99, 0x4e, 0x37, 0xa0, 0x2b, 0xaf,
];
const RAND: [u8; 16] = [7; 16];

fn hss_origin() -> Origin {
    Origin::new("hss.example.net", "example.net")
}

/// What the HSS saw.
#[derive(Default)]
struct Seen {
    requests: Vec<Message>,
}

fn hss_handler(
    seen: Arc<Mutex<Seen>>,
) -> impl Fn(Message, PeerInfo) -> std::future::Ready<Message> {
    move |m: Message, _from: PeerInfo| {
        seen.lock().unwrap().requests.push(m.clone());
        let o = hss_origin();
        let a = match m.code {
            CommandCode::MULTIMEDIA_AUTH => {
                let mar = MultimediaAuthRequest::from_message(&m).unwrap();
                if mar.user_name.starts_with("unknown") {
                    MultimediaAuthAnswer::new(o, CxResult::cx(ResultCode::CX_ERROR_USER_UNKNOWN))
                        .to_message(&m)
                } else if mar.scheme == scheme::DIGEST {
                    let mut maa = MultimediaAuthAnswer::new(o, CxResult::SUCCESS);
                    maa.items
                        .push(SipAuthDataItem::digest(SipDigestAuthenticate {
                            realm: "example.net".to_owned(),
                            qop: "auth".to_owned(),
                            ha1: "0123456789ABCDEF0123456789abcdef".to_owned(),
                            algorithm: None,
                        }));
                    maa.to_message(&m)
                } else {
                    let v = Milenage::with_opc(&K, &OPC).aka_vector(
                        &RAND,
                        Sqn::new(0x20).unwrap(),
                        &[0x80, 0],
                    );
                    let mut maa = MultimediaAuthAnswer::new(o, CxResult::SUCCESS);
                    maa.items
                        .push(SipAuthDataItem::aka(v.rand, v.autn, &v.xres, v.ck, v.ik));
                    maa.to_message(&m)
                }
            }
            CommandCode::SERVER_ASSIGNMENT => {
                let sar = ServerAssignmentRequest::from_message(&m).unwrap();
                let mut saa = ServerAssignmentAnswer::new(o, CxResult::SUCCESS);
                saa.user_name = sar.user_name.clone();
                if sar
                    .user_name
                    .as_deref()
                    .is_some_and(|u| u.starts_with("broken"))
                {
                    saa.user_data = Some("<IMSSubscription><PrivateID>".to_owned());
                } else if sar.assignment_type.0 <= 3 {
                    saa.user_data = Some(SUBSCRIPTION.to_owned());
                    saa.charging_information = Some(ChargingInformation::from_lists(
                        &["aaa://ccf1.example.net".to_owned()],
                        &["aaa://ecf1.example.net".to_owned()],
                    ));
                }
                saa.to_message(&m)
            }
            CommandCode::USER_AUTHORIZATION => {
                let uar = UserAuthorizationRequest::from_message(&m).unwrap();
                if uar.user_name.starts_with("new") {
                    let mut uaa = UserAuthorizationAnswer::new(
                        o,
                        CxResult::cx(ResultCode::CX_FIRST_REGISTRATION),
                    );
                    uaa.server_capabilities = Some(ServerCapabilities {
                        mandatory: vec![1],
                        optional: vec![2, 3],
                        server_names: vec![],
                    });
                    uaa.to_message(&m)
                } else {
                    let mut uaa = UserAuthorizationAnswer::new(
                        o,
                        CxResult::cx(ResultCode::CX_SUBSEQUENT_REGISTRATION),
                    );
                    uaa.server_name = Some("sip:scscf.example.net:5054".to_owned());
                    uaa.to_message(&m)
                }
            }
            CommandCode::LOCATION_INFO => {
                let lir = LocationInfoRequest::from_message(&m).unwrap();
                if lir.public_identity.contains("nobody") {
                    LocationInfoAnswer::new(
                        o,
                        CxResult::cx(ResultCode::CX_ERROR_IDENTITY_NOT_REGISTERED),
                    )
                    .to_message(&m)
                } else {
                    let mut lia = LocationInfoAnswer::new(o, CxResult::SUCCESS);
                    lia.server_name = Some("sip:scscf.example.net:5054".to_owned());
                    lia.to_message(&m)
                }
            }
            _ => panic!("unexpected {}", m.code),
        };
        std::future::ready(a)
    }
}

struct Recorder {
    events: Mutex<Vec<HssEvent>>,
}

#[async_trait]
impl HssListener for Recorder {
    async fn on_event(&self, event: HssEvent) -> Result<(), HssError> {
        let refuse = matches!(&event, HssEvent::Deregistered { impis, .. } if impis.iter().any(|i| i.starts_with("unknown")));
        self.events.lock().unwrap().push(event);
        if refuse {
            Err(HssError::UserUnknown("unknown".to_owned()))
        } else {
            Ok(())
        }
    }
}

fn node_config(host: &str, realm: &str) -> NodeConfig {
    let mut c = NodeConfig::new(LocalIdentity::cx(host, realm));
    c.request_timeout = Duration::from_secs(2);
    c
}

async fn setup() -> (Node, CxHss, Arc<Mutex<Seen>>) {
    setup_for(None).await
}

/// [`setup`] with the HSS host the backend expects (`None`: any in the realm).
async fn setup_for(hss_host: Option<&str>) -> (Node, CxHss, Arc<Mutex<Seen>>) {
    let hss = Node::new(node_config("hss.example.net", "example.net"));
    let seen = Arc::new(Mutex::new(Seen::default()));
    hss.set_handler(hss_handler(seen.clone()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = hss.clone();
    tokio::spawn(async move { h.serve(listener).await });
    let client = Node::new(node_config("scscf.example.com", "example.com"));
    client.add_peer(PeerSpec {
        addr: ([127, 0, 0, 1], port).into(),
        realm: "example.net".to_owned(),
        host: Some("hss.example.net".to_owned()),
    });
    assert!(client.wait_open(1, Duration::from_secs(5)).await);
    assert!(hss.wait_open(1, Duration::from_secs(5)).await);
    let cx = CxHss::new(
        client,
        CxConfig {
            origin: Origin::new("scscf.example.com", "example.com"),
            destination_realm: "example.net".to_owned(),
            destination_host: hss_host.map(str::to_owned),
            default_server_name: "sip:scscf.example.com:5054".to_owned(),
        },
    );
    (hss, cx, seen)
}

fn auth(impi: &str, scheme: AuthScheme) -> AuthRequest {
    AuthRequest {
        impi: impi.to_owned(),
        impu: "sip:alice@example.net".to_owned(),
        scheme,
        server_name: String::new(),
        resync: None,
    }
}

#[tokio::test]
async fn mar_gives_digest_and_aka_vectors() {
    let (_hss, cx, seen) = setup().await;
    let AuthVector::Digest(d) = cx
        .authenticate(&auth("alice@example.net", AuthScheme::Digest))
        .await
        .unwrap()
    else {
        panic!("not digest")
    };
    assert_eq!(d.ha1, "0123456789abcdef0123456789abcdef");
    assert_eq!((d.realm.as_str(), d.qop.as_str()), ("example.net", "auth"));

    let mut req = auth("alice@example.net", AuthScheme::Aka);
    req.resync = Some(Resync {
        rand: [1; 16],
        auts: [2; 14],
    });
    let AuthVector::Aka(v) = cx.authenticate(&req).await.unwrap() else {
        panic!("not AKA")
    };
    let expect =
        Milenage::with_opc(&K, &OPC).aka_vector(&RAND, Sqn::new(0x20).unwrap(), &[0x80, 0]);
    assert_eq!(v, expect);

    // What the HSS received: the scheme, the default Server-Name, and the
    // resync as RAND ‖ AUTS.
    let reqs = seen.lock().unwrap().requests.clone();
    let mar = MultimediaAuthRequest::from_message(&reqs[1]).unwrap();
    assert_eq!(mar.scheme, scheme::AKA);
    assert_eq!(mar.server_name, "sip:scscf.example.com:5054");
    assert_eq!(mar.public_identity, "sip:alice@example.net");
    let mut rand_auts = vec![1u8; 16];
    rand_auts.extend([2u8; 14]);
    assert_eq!(mar.authorization.as_deref(), Some(&rand_auts[..]));
    assert!(mar.routing.session_id.starts_with("scscf.example.com;"));
    let first = MultimediaAuthRequest::from_message(&reqs[0]).unwrap();
    assert_ne!(first.routing.session_id, mar.routing.session_id);

    let e = cx
        .authenticate(&auth("unknown@example.net", AuthScheme::Digest))
        .await
        .unwrap_err();
    assert!(matches!(e, HssError::UserUnknown(_)), "{e:?}");
    assert_eq!(e.http_status(), 404);
}

#[tokio::test]
async fn sar_returns_the_subscription_and_charging_addresses() {
    let (_hss, cx, seen) = setup().await;
    let reg = cx
        .assign_server(&ServerAssignment {
            impu: "sip:alice@example.net".to_owned(),
            impi: Some("alice@example.net".to_owned()),
            server_name: "sip:scscf.example.com:5054".to_owned(),
            kind: AssignmentType::Registration,
        })
        .await
        .unwrap();
    assert_eq!(reg.state, RegistrationState::Registered);
    let sub = reg.subscription.unwrap();
    assert_eq!(sub.private_id, "alice@example.net");
    assert!(sub.find_identity("tel:+15551234").is_some());
    assert_eq!(reg.charging.ccfs, vec!["aaa://ccf1.example.net".to_owned()]);
    assert_eq!(reg.charging.ecfs, vec!["aaa://ecf1.example.net".to_owned()]);
    assert_eq!(reg.associated_impis, vec!["alice@example.net".to_owned()]);

    let dereg = cx
        .assign_server(&ServerAssignment {
            impu: "sip:alice@example.net".to_owned(),
            impi: Some("alice@example.net".to_owned()),
            server_name: String::new(),
            kind: AssignmentType::TimeoutDeregistration,
        })
        .await
        .unwrap();
    assert_eq!(dereg.state, RegistrationState::NotRegistered);
    assert!(dereg.subscription.is_none());
    let reqs = seen.lock().unwrap().requests.clone();
    let types: Vec<u32> = reqs
        .iter()
        .map(|m| {
            ServerAssignmentRequest::from_message(m)
                .unwrap()
                .assignment_type
                .0
        })
        .collect();
    assert_eq!(types, vec![1, 4]);

    // User-Data that does not parse is the HSS's fault, not the client's:
    // 502 from Homestead, 5012 on Cx (not 400).
    let err = cx
        .assign_server(&ServerAssignment {
            impu: "sip:broken@example.net".to_owned(),
            impi: Some("broken@example.net".to_owned()),
            server_name: "sip:scscf.example.com:5054".to_owned(),
            kind: AssignmentType::Registration,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, HssError::Upstream(_)), "{err:?}");
    assert_eq!(err.http_status(), 502);
    assert_eq!(err.cx_result(), (0, 5012));
}

#[tokio::test]
async fn uar_and_lir_select_servers() {
    let (_hss, cx, _seen) = setup().await;
    let known = cx
        .authorize_user(&UserAuthorization {
            impi: "alice@example.net".to_owned(),
            impu: "sip:alice@example.net".to_owned(),
            visited_network: None,
            kind: AuthorizationType::Registration,
        })
        .await
        .unwrap();
    assert_eq!(known.result, SelectionResult::SubsequentRegistration);
    assert_eq!(known.result.code(), 2002);
    assert_eq!(
        known.server_name.as_deref(),
        Some("sip:scscf.example.net:5054")
    );
    let new = cx
        .authorize_user(&UserAuthorization {
            impi: "new@example.net".to_owned(),
            impu: "sip:new@example.net".to_owned(),
            visited_network: Some("visited.example.org".to_owned()),
            kind: AuthorizationType::RegistrationAndCapabilities,
        })
        .await
        .unwrap();
    assert_eq!(new.result, SelectionResult::FirstRegistration);
    let caps = new.capabilities.unwrap();
    assert_eq!((caps.mandatory, caps.optional), (vec![1], vec![2, 3]));

    let loc = cx
        .locate(&LocationQuery {
            impu: "sip:alice@example.net".to_owned(),
            originating: false,
            with_capabilities: false,
        })
        .await
        .unwrap();
    assert_eq!(loc.result, SelectionResult::Success);
    assert_eq!(
        loc.server_name.as_deref(),
        Some("sip:scscf.example.net:5054")
    );
    let e = cx
        .locate(&LocationQuery {
            impu: "sip:nobody@example.net".to_owned(),
            originating: true,
            with_capabilities: true,
        })
        .await
        .unwrap_err();
    assert!(matches!(e, HssError::NotRegistered(_)), "{e:?}");
}

fn push_routing(n: u32) -> CxRouting {
    CxRouting {
        session_id: format!("hss.example.net;1;{n}"),
        origin_host: "hss.example.net".to_owned(),
        origin_realm: "example.net".to_owned(),
        destination_realm: "example.com".to_owned(),
        destination_host: Some("scscf.example.com".to_owned()),
    }
}

#[tokio::test]
async fn ppr_and_rtr_reach_the_listener() {
    let (hss, cx, _seen) = setup().await;
    // Without a listener the S-CSCF cannot comply.
    let rtr = RegistrationTerminationRequest {
        routing: push_routing(1),
        user_name: "alice@example.net".to_owned(),
        associated_identities: vec![],
        public_identities: vec!["sip:alice@example.net".to_owned()],
        reason: DeregistrationReason {
            code: ReasonCode(0),
            info: Some("bye".to_owned()),
        },
    };
    let a = hss.request(rtr.to_message()).await.unwrap();
    assert_eq!(a.result_code().unwrap(), Some(ResultCode::UNABLE_TO_COMPLY));

    let rec = Arc::new(Recorder {
        events: Mutex::new(Vec::new()),
    });
    cx.set_listener(rec.clone());
    let ppr = PushProfileRequest {
        routing: push_routing(2),
        user_name: "alice@example.net".to_owned(),
        user_data: Some(SUBSCRIPTION.to_owned()),
        charging_information: None,
        auth_data_item: None,
    };
    let a = hss.request(ppr.to_message()).await.unwrap();
    assert_eq!(a.result_code().unwrap(), Some(ResultCode::SUCCESS));
    let a = hss.request(rtr.to_message()).await.unwrap();
    assert_eq!(a.result_code().unwrap(), Some(ResultCode::SUCCESS));
    // The listener's refusal is the answer.
    let mut unknown = rtr.clone();
    unknown.user_name = "unknown@example.net".to_owned();
    unknown.routing = push_routing(3);
    let a = hss.request(unknown.to_message()).await.unwrap();
    assert_eq!(
        a.experimental_result().unwrap(),
        Some((10415, ResultCode::CX_ERROR_USER_UNKNOWN))
    );
    // User-Data that is not an IMS subscription: 5009, listener not called.
    let mut bad = ppr.clone();
    bad.user_data = Some("<nope/>".to_owned());
    bad.routing = push_routing(4);
    let a = hss.request(bad.to_message()).await.unwrap();
    assert_eq!(
        a.experimental_result().unwrap(),
        Some((10415, ResultCode::CX_ERROR_NOT_SUPPORTED_USER_DATA))
    );

    let events = rec.events.lock().unwrap();
    assert_eq!(events.len(), 3);
    match &events[0] {
        HssEvent::ProfileUpdated {
            impi, subscription, ..
        } => {
            assert_eq!(impi, "alice@example.net");
            assert!(
                subscription
                    .as_ref()
                    .unwrap()
                    .find_identity("sip:alice@example.net")
                    .is_some()
            );
        }
        e => panic!("{e:?}"),
    }
    match &events[1] {
        HssEvent::Deregistered {
            impis,
            impus,
            reason_code,
            reason_info,
        } => {
            assert_eq!(impis, &vec!["alice@example.net".to_owned()]);
            assert_eq!(impus, &vec!["sip:alice@example.net".to_owned()]);
            assert_eq!(*reason_code, 0);
            assert_eq!(reason_info.as_deref(), Some("bye"));
        }
        e => panic!("{e:?}"),
    }
}

#[tokio::test]
async fn no_hss_peer_is_unavailable() {
    let client = Node::new(node_config("scscf.example.com", "example.com"));
    let cx = CxHss::new(
        client,
        CxConfig {
            origin: Origin::new("scscf.example.com", "example.com"),
            destination_realm: "example.net".to_owned(),
            destination_host: None,
            default_server_name: "sip:scscf.example.com".to_owned(),
        },
    );
    let e = cx
        .authenticate(&auth("alice@example.net", AuthScheme::Digest))
        .await
        .unwrap_err();
    assert!(matches!(e, HssError::Unavailable(_)), "{e:?}");
    assert_eq!(e.http_status(), 503);
}

#[tokio::test]
async fn pushes_from_a_peer_that_is_not_the_hss_are_refused() {
    // The backend expects hss2: a connected peer that is another host
    // (here hss.example.net) cannot deregister users or rewrite profiles.
    let (hss, cx, _seen) = setup_for(Some("hss2.example.net")).await;
    let rec = Arc::new(Recorder {
        events: Mutex::new(Vec::new()),
    });
    cx.set_listener(rec.clone());
    let rtr = RegistrationTerminationRequest {
        routing: push_routing(9),
        user_name: "alice@example.net".to_owned(),
        associated_identities: vec![],
        public_identities: vec!["sip:alice@example.net".to_owned()],
        reason: DeregistrationReason {
            code: ReasonCode(0),
            info: None,
        },
    };
    let a = hss.request(rtr.to_message()).await.unwrap();
    assert_eq!(a.result_code().unwrap(), Some(ResultCode::UNABLE_TO_COMPLY));
    assert!(rec.events.lock().unwrap().is_empty());
}
