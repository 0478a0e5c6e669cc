//! The Homestead API through real loopback HTTP, over a recording `Hss`
//! double: every route, the exact JSON/XML shapes, parameter checking,
//! API keys, error statuses; and `HttpHss` against it, round trip.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use clearwater_hss::homestead::{self, HomesteadConfig};
use clearwater_hss::http::{ApiKeys, ServeConfig};
use clearwater_hss::milenage::{AkaVector, Milenage, Sqn, encode_hex};
use clearwater_hss::subscription::{ImsSubscription, PublicIdentity, ServiceProfile};
use clearwater_hss::{
    AssignmentType, AuthRequest, AuthScheme, AuthVector, AuthorizationType, Capabilities,
    ChargingAddresses, DigestVector, Hss, HssError, HttpHss, LocationQuery, RegData,
    RegistrationState, Resync, SelectionResult, ServerAssignment, ServerSelection,
    UserAuthorization,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// ---------------------------------------------------------------------------
// The recording double

#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Auth(AuthRequest),
    Sar(ServerAssignment),
    Uar(UserAuthorization),
    Lir(LocationQuery),
}

/// Answers what it is told to and records what it received.
struct Recording {
    calls: Mutex<Vec<Call>>,
    auth: Mutex<Result<AuthVector, HssError>>,
    sar: Mutex<Result<RegData, HssError>>,
    uar: Mutex<Result<ServerSelection, HssError>>,
    lir: Mutex<Result<ServerSelection, HssError>>,
    delay: Mutex<Duration>,
}

impl Recording {
    fn new() -> Arc<Recording> {
        Arc::new(Recording {
            calls: Mutex::new(Vec::new()),
            auth: Mutex::new(Ok(AuthVector::Digest(digest()))),
            sar: Mutex::new(Ok(reg_data())),
            uar: Mutex::new(Ok(ServerSelection {
                result: SelectionResult::SubsequentRegistration,
                server_name: Some("sip:scscf1.example.net:5054;transport=tcp".into()),
                capabilities: None,
            })),
            lir: Mutex::new(Ok(ServerSelection {
                result: SelectionResult::Success,
                server_name: Some("sip:scscf1.example.net".into()),
                capabilities: None,
            })),
            delay: Mutex::new(Duration::ZERO),
        })
    }

    fn calls(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }

    fn set_error(&self, e: HssError) {
        *self.auth.lock().unwrap() = Err(e.clone());
        *self.sar.lock().unwrap() = Err(e.clone());
        *self.uar.lock().unwrap() = Err(e.clone());
        *self.lir.lock().unwrap() = Err(e);
    }

    async fn answer<T: Clone>(
        &self,
        call: Call,
        answer: &Mutex<Result<T, HssError>>,
    ) -> Result<T, HssError> {
        self.calls.lock().unwrap().push(call);
        let delay = *self.delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        answer.lock().unwrap().clone()
    }
}

#[async_trait]
impl Hss for Recording {
    async fn authenticate(&self, req: &AuthRequest) -> Result<AuthVector, HssError> {
        self.answer(Call::Auth(req.clone()), &self.auth).await
    }
    async fn assign_server(&self, req: &ServerAssignment) -> Result<RegData, HssError> {
        self.answer(Call::Sar(req.clone()), &self.sar).await
    }
    async fn authorize_user(&self, req: &UserAuthorization) -> Result<ServerSelection, HssError> {
        self.answer(Call::Uar(req.clone()), &self.uar).await
    }
    async fn locate(&self, req: &LocationQuery) -> Result<ServerSelection, HssError> {
        self.answer(Call::Lir(req.clone()), &self.lir).await
    }
}

// ---------------------------------------------------------------------------
// Fixtures

fn digest() -> DigestVector {
    DigestVector {
        ha1: "0e9d9d7bf8c7a9ac3c3bd8e1f8a3a4b5".into(),
        realm: "example.net".into(),
        qop: "auth".into(),
    }
}

/// A real vector: TS 35.208 test set 1 keys.
fn milenage() -> Milenage {
    let k = clearwater_hss::milenage::parse_hex16("465b5ce8b199b49faa5f0a2ee238a6bc").unwrap();
    let opc = clearwater_hss::milenage::parse_hex16("cd63cb71954a9f4e48a5994e37a02baf").unwrap();
    Milenage::with_opc(&k, &opc)
}

fn aka() -> AkaVector {
    let rand = clearwater_hss::milenage::parse_hex16("23553cbe9637a89d218ae64dae47bf35").unwrap();
    milenage().aka_vector(&rand, Sqn::new(0xff9b_b4d0_b607).unwrap(), &[0xb9, 0xb9])
}

fn subscription() -> ImsSubscription {
    let mut tel = PublicIdentity::new("tel:+15551234567");
    tel.barring_indication = true;
    ImsSubscription {
        private_id: "alice@example.net".into(),
        service_profiles: vec![ServiceProfile {
            public_identities: vec![PublicIdentity::new("sip:alice@example.net"), tel],
            ..ServiceProfile::default()
        }],
    }
}

fn reg_data() -> RegData {
    RegData {
        state: RegistrationState::Registered,
        subscription: Some(subscription()),
        charging: ChargingAddresses {
            ccfs: vec![
                "aaa://ccf1.example.net".into(),
                "aaa://ccf2.example.net".into(),
            ],
            ecfs: vec!["aaa://ecf1.example.net".into()],
        },
        associated_impis: vec!["alice@example.net".into()],
    }
}

/// Runs `f` with a deadline.
async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("test took longer than 20 s")
}

/// Starts Homestead over `hss`; the server lives as long as the runtime.
async fn start(hss: Arc<dyn Hss>, config: HomesteadConfig) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(homestead::serve(
        listener,
        hss,
        config,
        ServeConfig::default(),
    ));
    addr
}

#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The reason of an error answer, checking the status and JSON shape.
    fn reason(&self, status: u16) -> String {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.header("content-type"), Some("application/json"));
        let v = self.json();
        assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
        v["reason"].as_str().unwrap().to_owned()
    }
}

/// One raw HTTP/1.1 exchange (`Connection: close`, read to the end).
async fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut head =
        format!("{method} {target} HTTP/1.1\r\nHost: homestead\r\nConnection: close\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() || method == "PUT" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let exchange = async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(body.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.unwrap();
        raw
    };
    let raw = tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .expect("no answer in 5 s");
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

async fn get(addr: SocketAddr, target: &str) -> Answer {
    request(addr, "GET", target, &[], "").await
}

async fn put(addr: SocketAddr, target: &str, body: &str) -> Answer {
    request(addr, "PUT", target, &[], body).await
}

const ALICE_IMPI: &str = "alice%40example.net";
const ALICE_IMPU: &str = "sip%3Aalice%40example.net";

// ---------------------------------------------------------------------------
// /impi/<impi>/av

#[tokio::test]
async fn av_aka_answer_has_clearwaters_shape() {
    bounded(async {
        let hss = Recording::new();
        let v = aka();
        *hss.auth.lock().unwrap() = Ok(AuthVector::Aka(v.clone()));
        let addr = start(hss.clone(), HomesteadConfig::default()).await;
        let a = get(
            addr,
            &format!("/impi/{ALICE_IMPI}/av?impu={ALICE_IMPU}&server-name=sip%3Ascscf1.example.net%3A5054"),
        )
        .await;
        assert_eq!(a.status, 200, "{a:?}");
        assert_eq!(a.header("content-type"), Some("application/json"));
        use base64::Engine as _;
        let challenge = base64::engine::general_purpose::STANDARD.encode(v.sip_authenticate());
        assert_eq!(
            a.body,
            format!(
                "{{\"aka\":{{\"challenge\":\"{challenge}\",\"response\":\"{}\",\"cryptkey\":\"{}\",\"integritykey\":\"{}\",\"version\":1}}}}",
                encode_hex(&v.xres),
                encode_hex(&v.ck),
                encode_hex(&v.ik)
            )
        );
        // TS 35.208 set 1: RES a54211d5e3ba50bf, CK b40ba9a3..., IK f769bcd7...
        assert_eq!(a.json()["aka"]["response"], "a54211d5e3ba50bf");
        assert_eq!(a.json()["aka"]["cryptkey"], "b40ba9a3c58b2a05bbf0d987b21bf8cb");
        assert_eq!(a.json()["aka"]["integritykey"], "f769bcd751044604127672711c6d3441");
        assert_eq!(
            hss.calls(),
            [Call::Auth(AuthRequest {
                impi: "alice@example.net".into(),
                impu: "sip:alice@example.net".into(),
                scheme: AuthScheme::Unknown,
                server_name: "sip:scscf1.example.net:5054".into(),
                resync: None,
            })]
        );
    })
    .await;
}

#[tokio::test]
async fn av_digest_and_forced_schemes() {
    bounded(async {
        let hss = Recording::new();
        let addr = start(hss.clone(), HomesteadConfig::default()).await;
        let a = get(addr, &format!("/impi/{ALICE_IMPI}/av/digest?impu={ALICE_IMPU}")).await;
        assert_eq!(a.status, 200);
        assert_eq!(
            a.body,
            r#"{"digest":{"ha1":"0e9d9d7bf8c7a9ac3c3bd8e1f8a3a4b5","realm":"example.net","qop":"auth"}}"#
        );
        // An empty qop goes out as "auth", as Clearwater sends it.
        *hss.auth.lock().unwrap() = Ok(AuthVector::Digest(DigestVector { qop: String::new(), ..digest() }));
        let a = get(addr, &format!("/impi/{ALICE_IMPI}/av/aka?impu={ALICE_IMPU}")).await;
        assert_eq!(a.json()["digest"]["qop"], "auth");
        let schemes: Vec<AuthScheme> = hss
            .calls()
            .into_iter()
            .map(|c| match c {
                Call::Auth(r) => r.scheme,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(schemes, [AuthScheme::Digest, AuthScheme::Aka]);
    })
    .await;
}

#[tokio::test]
async fn av_resync_is_decoded() {
    bounded(async {
        let hss = Recording::new();
        let addr = start(hss.clone(), HomesteadConfig::default()).await;
        let rand = [0x5a; 16];
        let auts = milenage().auts(&rand, Sqn::new(0x1234).unwrap());
        let mut both = rand.to_vec();
        both.extend_from_slice(&auts);
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&both);
        // Unescaped: '+' and '/' of base64 survive in the query ('+' is not a space here).
        let a = get(
            addr,
            &format!("/impi/{ALICE_IMPI}/av/aka?impu={ALICE_IMPU}&resync-auth={b64}"),
        )
        .await;
        assert_eq!(a.status, 200, "{a:?}");
        let Call::Auth(req) = &hss.calls()[0] else {
            panic!()
        };
        assert_eq!(req.resync, Some(Resync { rand, auts }));
    })
    .await;
}

#[tokio::test]
async fn legacy_digest_route() {
    bounded(async {
        let hss = Recording::new();
        let addr = start(hss.clone(), HomesteadConfig::default()).await;
        let a = get(
            addr,
            &format!("/impi/{ALICE_IMPI}/digest?public_id={ALICE_IMPU}"),
        )
        .await;
        assert_eq!(a.status, 200);
        assert_eq!(
            a.body,
            r#"{"digest_ha1":"0e9d9d7bf8c7a9ac3c3bd8e1f8a3a4b5"}"#
        );
        let Call::Auth(req) = &hss.calls()[0] else {
            panic!()
        };
        assert_eq!(req.scheme, AuthScheme::Digest);
        assert_eq!(req.impu, "sip:alice@example.net");
        *hss.auth.lock().unwrap() = Ok(AuthVector::Aka(aka()));
        let a = get(
            addr,
            &format!("/impi/{ALICE_IMPI}/digest?public_id={ALICE_IMPU}"),
        )
        .await;
        assert!(a.reason(404).contains("AKA"));
        assert!(
            get(addr, &format!("/impi/{ALICE_IMPI}/digest"))
                .await
                .reason(400)
                .contains("public_id")
        );
    })
    .await;
}

// ---------------------------------------------------------------------------
// registration-status and location

#[tokio::test]
async fn registration_status_parameters_and_answers() {
    bounded(async {
        let hss = Recording::new();
        let addr = start(hss.clone(), HomesteadConfig::default()).await;
        let base = format!("/impi/{ALICE_IMPI}/registration-status?impu={ALICE_IMPU}");
        let a = get(addr, &base).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.header("content-type"), Some("application/json"));
        assert_eq!(
            a.body,
            r#"{"result-code":2002,"scscf":"sip:scscf1.example.net:5054;transport=tcp"}"#
        );
        *hss.uar.lock().unwrap() = Ok(ServerSelection {
            result: SelectionResult::FirstRegistration,
            server_name: None,
            capabilities: Some(Capabilities {
                mandatory: vec![1, 2],
                optional: vec![3],
                server_names: vec![],
            }),
        });
        let a = get(
            addr,
            &format!("{base}&auth-type=CAPAB&visited-network=visited.example.org"),
        )
        .await;
        assert_eq!(
            a.body,
            r#"{"result-code":2001,"mandatory-capabilities":[1,2],"optional-capabilities":[3]}"#
        );
        *hss.uar.lock().unwrap() = Ok(ServerSelection {
            result: SelectionResult::FirstRegistration,
            server_name: None,
            capabilities: None,
        });
        let a = get(addr, &format!("{base}&auth-type=DEREG")).await;
        assert_eq!(
            a.body,
            r#"{"result-code":2001,"mandatory-capabilities":[],"optional-capabilities":[]}"#
        );
        let a = get(addr, &format!("{base}&auth-type=REG")).await;
        assert_eq!(a.status, 200);
        let kinds: Vec<(AuthorizationType, Option<String>)> = hss
            .calls()
            .into_iter()
            .map(|c| match c {
                Call::Uar(r) => {
                    assert_eq!(r.impi, "alice@example.net");
                    assert_eq!(r.impu, "sip:alice@example.net");
                    (r.kind, r.visited_network)
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                (AuthorizationType::Registration, None),
                (
                    AuthorizationType::RegistrationAndCapabilities,
                    Some("visited.example.org".into())
                ),
                (AuthorizationType::Deregistration, None),
                (AuthorizationType::Registration, None),
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn location_parameters_and_answers() {
    bounded(async {
        let hss = Recording::new();
        let addr = start(hss.clone(), HomesteadConfig::default()).await;
        let a = get(addr, &format!("/impu/{ALICE_IMPU}/location")).await;
        assert_eq!(a.body, r#"{"result-code":2001,"scscf":"sip:scscf1.example.net"}"#);
        *hss.lir.lock().unwrap() = Ok(ServerSelection {
            result: SelectionResult::UnregisteredService,
            server_name: None,
            capabilities: Some(Capabilities {
                mandatory: vec![],
                optional: vec![7],
                server_names: vec!["sip:scscf2.example.net".into()],
            }),
        });
        let a = get(addr, &format!("/impu/{ALICE_IMPU}/location?originating=true&auth-type=CAPAB")).await;
        assert_eq!(
            a.body,
            r#"{"result-code":2003,"scscf":"sip:scscf2.example.net","mandatory-capabilities":[],"optional-capabilities":[7]}"#
        );
        // Not registered: Clearwater's 200 with 5003 and empty capabilities.
        *hss.lir.lock().unwrap() = Err(HssError::NotRegistered("sip:alice@example.net".into()));
        let a = get(addr, &format!("/impu/{ALICE_IMPU}/location?originating=false")).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.body, r#"{"result-code":5003,"mandatory-capabilities":[],"optional-capabilities":[]}"#);
        assert_eq!(
            hss.calls(),
            [
                Call::Lir(LocationQuery { impu: "sip:alice@example.net".into(), originating: false, with_capabilities: false }),
                Call::Lir(LocationQuery { impu: "sip:alice@example.net".into(), originating: true, with_capabilities: true }),
                Call::Lir(LocationQuery { impu: "sip:alice@example.net".into(), originating: false, with_capabilities: false }),
            ]
        );
    })
    .await;
}

// ---------------------------------------------------------------------------
// reg-data

#[tokio::test]
async fn reg_data_get_and_put() {
    bounded(async {
        let hss = Recording::new();
        let addr = start(hss.clone(), HomesteadConfig::default()).await;
        let a = get(addr, &format!("/impu/{ALICE_IMPU}/reg-data?private_id={ALICE_IMPI}")).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.header("content-type"), Some("application/xml"));
        assert_eq!(a.body, reg_data().to_xml());
        let subscription_xml = subscription().to_xml();
        let embedded = subscription_xml.split_once("?>\n").unwrap().1;
        assert_eq!(
            a.body,
            format!(
                "<ClearwaterRegData>\n  <RegistrationState>REGISTERED</RegistrationState>\n{embedded}  <ChargingAddresses>\n    <CCF priority=\"1\">aaa://ccf1.example.net</CCF>\n    <CCF priority=\"2\">aaa://ccf2.example.net</CCF>\n    <ECF priority=\"1\">aaa://ecf1.example.net</ECF>\n  </ChargingAddresses>\n</ClearwaterRegData>\n"
            )
        );
        assert_eq!(
            hss.calls(),
            [Call::Sar(ServerAssignment {
                impu: "sip:alice@example.net".into(),
                impi: Some("alice@example.net".into()),
                server_name: String::new(),
                kind: AssignmentType::NoAssignment,
            })]
        );
        for (reqtype, kind) in [
            ("reg", AssignmentType::Registration),
            ("call", AssignmentType::UnregisteredUser),
            ("dereg-user", AssignmentType::UserDeregistration),
            ("dereg-admin", AssignmentType::AdministrativeDeregistration),
            ("dereg-timeout", AssignmentType::TimeoutDeregistration),
            ("dereg-auth-failed", AssignmentType::AuthenticationFailure),
            ("dereg-auth-timeout", AssignmentType::AuthenticationTimeout),
        ] {
            let body = format!(r#"{{"reqtype": "{reqtype}", "server_name": "sip:scscf1.example.net"}}"#);
            let a = put(addr, &format!("/impu/{ALICE_IMPU}/reg-data"), &body).await;
            assert_eq!(a.status, 200, "{reqtype}: {a:?}");
            assert_eq!(RegData::parse(&a.body).unwrap().subscription, Some(subscription()));
            assert_eq!(
                hss.calls(),
                [Call::Sar(ServerAssignment {
                    impu: "sip:alice@example.net".into(),
                    impi: None,
                    server_name: "sip:scscf1.example.net".into(),
                    kind,
                })],
                "{reqtype}"
            );
        }
        // Cache-Control: no-cache makes a reg an explicit re-registration.
        let a = request(
            addr,
            "PUT",
            &format!("/impu/{ALICE_IMPU}/reg-data?private_id={ALICE_IMPI}"),
            &[("Cache-Control", "no-cache")],
            r#"{"reqtype":"reg"}"#,
        )
        .await;
        assert_eq!(a.status, 200);
        let Call::Sar(req) = &hss.calls()[0] else { panic!() };
        assert_eq!(req.kind, AssignmentType::ReRegistration);
        assert_eq!(req.server_name, "");
        assert_eq!(req.impi.as_deref(), Some("alice@example.net"));
        // Minimal answers: NOT_REGISTERED, nothing else.
        *hss.sar.lock().unwrap() = Ok(RegData::default());
        let a = get(addr, &format!("/impu/{ALICE_IMPU}/reg-data")).await;
        assert_eq!(
            a.body,
            "<ClearwaterRegData>\n  <RegistrationState>NOT_REGISTERED</RegistrationState>\n</ClearwaterRegData>\n"
        );
    })
    .await;
}

#[tokio::test]
async fn path_identities_are_percent_decoded() {
    bounded(async {
        let hss = Recording::new();
        let addr = start(hss.clone(), HomesteadConfig::default()).await;
        for (path, impu) in [
            ("sip%3Abob%40example.net", "sip:bob@example.net"),
            ("sip:bob@example.net", "sip:bob@example.net"),
            ("tel:+15551234", "tel:+15551234"),
            (
                "sip%3Aa%2Fb%3Bx%3Dy%20z%40example.net",
                "sip:a/b;x=y z@example.net",
            ),
            ("sip%3A%C3%BC%40example.net", "sip:ü@example.net"),
        ] {
            assert_eq!(
                get(addr, &format!("/impu/{path}/reg-data")).await.status,
                200
            );
            let Call::Sar(req) = &hss.calls()[0] else {
                panic!()
            };
            assert_eq!(req.impu, impu);
        }
        assert!(
            get(addr, "/impu/%FF/reg-data")
                .await
                .reason(400)
                .contains("path")
        );
    })
    .await;
}

// ---------------------------------------------------------------------------
// Refusals

#[tokio::test]
async fn bad_parameters_are_400_with_reasons() {
    bounded(async {
        let hss = Recording::new();
        let config = HomesteadConfig::default().with_max_identity_bytes(64);
        let addr = start(hss.clone(), config).await;
        let av = format!("/impi/{ALICE_IMPI}/av");
        let long = "x".repeat(65);
        for (target, want) in [
            (av.clone(), "missing parameter impu"),
            (format!("{av}?impu="), "parameter impu is empty"),
            (format!("{av}?impu=a&impu=b"), "more than once"),
            (format!("{av}?impu=a&resync-auth=***"), "not base64"),
            (format!("{av}?impu=a&resync-auth=AAAA"), "30 octets; got 3"),
            (
                format!("{av}/digest?impu=a&resync-auth=AAAA"),
                "only applies to AKA",
            ),
            (format!("{av}?impu=%zz"), "bad percent-escape"),
            (format!("{av}?impu={long}"), "longer than 64 bytes"),
            (format!("/impi/{long}/av?impu=a"), "longer than 64 bytes"),
            (
                format!("/impi/{ALICE_IMPI}/registration-status"),
                "missing parameter impu",
            ),
            (
                format!("/impi/{ALICE_IMPI}/registration-status?impu=a&auth-type=FOO"),
                "auth-type \"FOO\"",
            ),
            (
                format!("/impu/{ALICE_IMPU}/location?originating=yes"),
                "originating \"yes\"",
            ),
            (
                format!("/impu/{ALICE_IMPU}/location?auth-type=REG"),
                "CAPAB",
            ),
            (
                format!("/impu/{ALICE_IMPU}/reg-data?private_id=a&private_id=b"),
                "more than once",
            ),
        ] {
            let reason = get(addr, &target).await.reason(400);
            assert!(reason.contains(want), "{target}: {reason}");
        }
        let reg_data = format!("/impu/{ALICE_IMPU}/reg-data");
        for (body, want) in [
            ("", "not JSON"),
            ("reg", "not JSON"),
            ("[1]", "JSON object"),
            ("{}", "no reqtype"),
            (r#"{"reqtype": 1}"#, "reqtype must be a string"),
            (r#"{"reqtype": "register"}"#, "unknown reqtype \"register\""),
            (
                r#"{"reqtype": "reg", "server_name": 5}"#,
                "server_name must be a string",
            ),
            (
                r#"{"reqtype": "reg", "wildcard_identity": 5}"#,
                "wildcard_identity must be a string",
            ),
        ] {
            let reason = put(addr, &reg_data, body).await.reason(400);
            assert!(reason.contains(want), "{body}: {reason}");
        }
        assert_eq!(hss.calls(), [], "nothing bad reached the HSS");
    })
    .await;
}

#[tokio::test]
async fn unknown_routes_methods_and_big_bodies() {
    bounded(async {
        let hss = Recording::new();
        let addr = start(
            hss.clone(),
            HomesteadConfig::default().with_max_body_bytes(100),
        )
        .await;
        assert!(
            get(addr, "/nothing")
                .await
                .reason(404)
                .contains("no such resource")
        );
        assert!(
            get(addr, &format!("/impi/{ALICE_IMPI}/av/md5?impu=a"))
                .await
                .reason(404)
                .contains("md5")
        );
        assert!(
            get(addr, &format!("/impi/{ALICE_IMPI}/av/aka2?impu=a"))
                .await
                .reason(404)
                .contains("aka2")
        );
        let a = request(
            addr,
            "POST",
            &format!("/impu/{ALICE_IMPU}/reg-data"),
            &[],
            "{}",
        )
        .await;
        assert!(a.reason(405).contains("method"));
        let big = format!(r#"{{"reqtype":"reg","server_name":"{}"}}"#, "s".repeat(200));
        let a = put(addr, &format!("/impu/{ALICE_IMPU}/reg-data"), &big).await;
        assert!(a.reason(413).contains("larger than 100 bytes"));
        let ping = get(addr, "/ping").await;
        assert_eq!((ping.status, ping.body.as_str()), (200, "OK"));
        assert_eq!(hss.calls(), []);
    })
    .await;
}

#[tokio::test]
async fn api_keys_are_required_when_configured() {
    bounded(async {
        let hss = Recording::new();
        let config = HomesteadConfig::default().with_api_keys(ApiKeys::new(["s3cret"]));
        let addr = start(hss.clone(), config).await;
        let target = format!("/impu/{ALICE_IMPU}/reg-data");
        assert!(
            get(addr, &target)
                .await
                .reason(401)
                .contains("missing API key")
        );
        let a = request(addr, "GET", &target, &[("NGV-API-Key", "wrong")], "").await;
        assert_eq!(a.reason(401), "wrong API key");
        assert_eq!(hss.calls(), []);
        assert_eq!(
            request(addr, "GET", &target, &[("NGV-API-Key", "s3cret")], "")
                .await
                .status,
            200
        );
        assert_eq!(
            request(
                addr,
                "GET",
                &target,
                &[("Authorization", "Bearer s3cret")],
                ""
            )
            .await
            .status,
            200
        );
        assert_eq!(hss.calls().len(), 2);
        assert_eq!(get(addr, "/ping").await.status, 200, "ping needs no key");
        // HttpHss with and without the key.
        let base = format!("http://{addr}");
        let with = HttpHss::new(&base).unwrap().with_api_key("s3cret");
        let without = HttpHss::new(&base).unwrap();
        let req = LocationQuery {
            impu: "sip:alice@example.net".into(),
            originating: false,
            with_capabilities: false,
        };
        assert!(with.locate(&req).await.is_ok());
        match without.locate(&req).await {
            Err(HssError::Unavailable(r)) => {
                assert!(r.contains("401") && r.contains("missing API key"), "{r}")
            }
            other => panic!("{other:?}"),
        }
    })
    .await;
}

fn all_errors() -> Vec<HssError> {
    vec![
        HssError::Invalid("bad document".into()),
        HssError::Auth("AUTS rejected".into()),
        HssError::UserUnknown("sip:nobody@example.net".into()),
        HssError::IdentitiesDontMatch("alice@example.net / sip:bob@example.net".into()),
        HssError::NotRegistered("sip:alice@example.net".into()),
        HssError::Rejected {
            code: 5004,
            reason: "roaming not allowed".into(),
        },
        HssError::Unavailable("HSS overloaded".into()),
        HssError::Timeout("no answer from the HSS".into()),
        HssError::Upstream("the HSS sent User-Data that does not parse".into()),
    ]
}

#[tokio::test]
async fn hss_errors_become_statuses_with_reasons() {
    bounded(async {
        let hss = Recording::new();
        let addr = start(hss.clone(), HomesteadConfig::default()).await;
        for e in all_errors() {
            hss.set_error(e.clone());
            let want = (e.http_status(), e.to_string());
            for target in [
                format!("/impi/{ALICE_IMPI}/av?impu={ALICE_IMPU}"),
                format!("/impi/{ALICE_IMPI}/registration-status?impu={ALICE_IMPU}"),
                format!("/impu/{ALICE_IMPU}/reg-data"),
            ] {
                let a = get(addr, &target).await;
                assert_eq!((a.status, a.reason(want.0)), want.clone(), "{target}");
            }
            let a = put(
                addr,
                &format!("/impu/{ALICE_IMPU}/reg-data"),
                r#"{"reqtype":"call"}"#,
            )
            .await;
            assert_eq!((a.status, a.reason(want.0)), want.clone());
            let a = get(addr, &format!("/impu/{ALICE_IMPU}/location")).await;
            if matches!(e, HssError::NotRegistered(_)) {
                assert_eq!(a.status, 200);
            } else {
                assert_eq!((a.status, a.reason(want.0)), want.clone());
            }
        }
        // The statuses themselves: 400, 403, 404, 503, 504, 502.
        let statuses: Vec<u16> = all_errors().iter().map(HssError::http_status).collect();
        assert_eq!(statuses, [400, 403, 404, 404, 404, 403, 503, 504, 502]);
    })
    .await;
}

// ---------------------------------------------------------------------------
// HttpHss round trips

#[tokio::test]
async fn http_hss_round_trips_every_operation() {
    bounded(async {
        let hss = Recording::new();
        let addr = start(hss.clone(), HomesteadConfig::default()).await;
        let client = HttpHss::new(&format!("http://{addr}/")).unwrap();
        // Identities with everything that needs escaping.
        let impi = "alice+tag@example.net";
        let impu = "sip:alice;x=a&b?c=d%20e/f@example.net";

        // AKA, with resync.
        let v = aka();
        *hss.auth.lock().unwrap() = Ok(AuthVector::Aka(v.clone()));
        let rand = v.rand;
        let auts = milenage().auts(&rand, Sqn::new(0x2000).unwrap());
        let req = AuthRequest {
            impi: impi.into(),
            impu: impu.into(),
            scheme: AuthScheme::Aka,
            server_name: "sip:scscf1.example.net:5054;transport=tcp".into(),
            resync: Some(Resync { rand, auts }),
        };
        assert_eq!(
            client.authenticate(&req).await.unwrap(),
            AuthVector::Aka(v.clone())
        );
        assert_eq!(hss.calls(), [Call::Auth(req.clone())]);
        // The AKA vector still verifies at the UE side after the trip.
        let AuthVector::Aka(back) = client.authenticate(&req).await.unwrap() else {
            panic!()
        };
        assert!(milenage().verify_autn(&back.rand, &back.autn).is_ok());
        hss.calls();

        // Digest, scheme left to the HSS, no server name.
        *hss.auth.lock().unwrap() = Ok(AuthVector::Digest(digest()));
        let req = AuthRequest {
            scheme: AuthScheme::Unknown,
            server_name: String::new(),
            resync: None,
            ..req
        };
        assert_eq!(
            client.authenticate(&req).await.unwrap(),
            AuthVector::Digest(digest())
        );
        assert_eq!(hss.calls(), [Call::Auth(req.clone())]);
        // Digest forced.
        let req = AuthRequest {
            scheme: AuthScheme::Digest,
            ..req
        };
        assert_eq!(
            client.authenticate(&req).await.unwrap(),
            AuthVector::Digest(digest())
        );
        assert_eq!(hss.calls(), [Call::Auth(req.clone())]);

        // SAR: every kind.
        for kind in [
            AssignmentType::NoAssignment,
            AssignmentType::Registration,
            AssignmentType::ReRegistration,
            AssignmentType::UnregisteredUser,
            AssignmentType::TimeoutDeregistration,
            AssignmentType::UserDeregistration,
            AssignmentType::AdministrativeDeregistration,
            AssignmentType::AuthenticationFailure,
            AssignmentType::AuthenticationTimeout,
        ] {
            let req = ServerAssignment {
                impu: impu.into(),
                impi: Some(impi.into()),
                server_name: if kind == AssignmentType::NoAssignment {
                    String::new()
                } else {
                    "sip:scscf1.example.net".into()
                },
                kind,
            };
            let data = client.assign_server(&req).await.unwrap();
            assert_eq!(
                data,
                RegData {
                    associated_impis: vec![],
                    ..reg_data()
                },
                "{kind:?}"
            );
            assert_eq!(hss.calls(), [Call::Sar(req)], "{kind:?}");
        }

        // UAR, every type, with and without a visited network.
        let selections = [
            ServerSelection {
                result: SelectionResult::FirstRegistration,
                server_name: None,
                capabilities: Some(Capabilities {
                    mandatory: vec![1],
                    optional: vec![2, 3],
                    server_names: vec![],
                }),
            },
            ServerSelection {
                result: SelectionResult::SubsequentRegistration,
                server_name: Some("sip:scscf1.example.net".into()),
                capabilities: None,
            },
            ServerSelection {
                result: SelectionResult::UnregisteredService,
                server_name: Some("sip:scscf2.example.net".into()),
                capabilities: None,
            },
        ];
        for (kind, selection) in [
            AuthorizationType::Registration,
            AuthorizationType::Deregistration,
            AuthorizationType::RegistrationAndCapabilities,
        ]
        .into_iter()
        .zip(selections.clone())
        {
            *hss.uar.lock().unwrap() = Ok(selection.clone());
            for visited_network in [None, Some("visited.example.org".to_owned())] {
                let req = UserAuthorization {
                    impi: impi.into(),
                    impu: impu.into(),
                    visited_network,
                    kind,
                };
                assert_eq!(client.authorize_user(&req).await.unwrap(), selection);
                assert_eq!(hss.calls(), [Call::Uar(req)]);
            }
        }

        // LIR.
        for (originating, with_capabilities) in
            [(false, false), (true, false), (false, true), (true, true)]
        {
            let selection = ServerSelection {
                result: SelectionResult::Success,
                server_name: Some("sip:scscf1.example.net".into()),
                capabilities: None,
            };
            *hss.lir.lock().unwrap() = Ok(selection.clone());
            let req = LocationQuery {
                impu: impu.into(),
                originating,
                with_capabilities,
            };
            assert_eq!(client.locate(&req).await.unwrap(), selection);
            assert_eq!(hss.calls(), [Call::Lir(req)]);
        }
        *hss.lir.lock().unwrap() = Err(HssError::NotRegistered("x".into()));
        let req = LocationQuery {
            impu: impu.into(),
            originating: false,
            with_capabilities: false,
        };
        assert_eq!(
            client.locate(&req).await,
            Err(HssError::NotRegistered(impu.into()))
        );
    })
    .await;
}

#[tokio::test]
async fn http_hss_maps_errors_back() {
    bounded(async {
        let hss = Recording::new();
        let addr = start(hss.clone(), HomesteadConfig::default()).await;
        let client = HttpHss::new(&format!("http://{addr}")).unwrap();
        let auth = AuthRequest {
            impi: "a@b".into(),
            impu: "sip:a@b".into(),
            scheme: AuthScheme::Unknown,
            server_name: String::new(),
            resync: None,
        };
        let sar = ServerAssignment {
            impu: "sip:a@b".into(),
            impi: None,
            server_name: String::new(),
            kind: AssignmentType::Registration,
        };
        let uar = UserAuthorization {
            impi: "a@b".into(),
            impu: "sip:a@b".into(),
            visited_network: None,
            kind: AuthorizationType::Registration,
        };
        for e in all_errors() {
            hss.set_error(e.clone());
            assert_eq!(client.authenticate(&auth).await, Err(e.clone()));
            assert_eq!(client.assign_server(&sar).await, Err(e.clone()));
            assert_eq!(client.authorize_user(&uar).await, Err(e.clone()));
        }
        // A bad request the client itself lets through: empty IMPU.
        let bad = AuthRequest {
            impu: String::new(),
            ..auth
        };
        match client.authenticate(&bad).await {
            Err(HssError::Invalid(r)) => assert_eq!(r, "parameter impu is empty"),
            other => panic!("{other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn http_hss_timeout_and_refused_connection() {
    bounded(async {
        let hss = Recording::new();
        *hss.delay.lock().unwrap() = Duration::from_millis(500);
        let addr = start(hss.clone(), HomesteadConfig::default()).await;
        let client = HttpHss::new(&format!("http://{addr}"))
            .unwrap()
            .with_timeout(Duration::from_millis(100));
        let req = LocationQuery {
            impu: "sip:a@b".into(),
            originating: false,
            with_capabilities: false,
        };
        let started = tokio::time::Instant::now();
        match client.locate(&req).await {
            Err(HssError::Timeout(r)) => assert!(r.contains("no answer within"), "{r}"),
            other => panic!("{other:?}"),
        }
        assert!(started.elapsed() < Duration::from_millis(450));

        // A port nobody listens on.
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead = l.local_addr().unwrap();
        drop(l);
        let client = HttpHss::new(&format!("http://{dead}")).unwrap();
        match client.locate(&req).await {
            Err(HssError::Unavailable(r)) => assert!(r.contains("cannot connect"), "{r}"),
            other => panic!("{other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn a_body_trickled_too_slowly_fails_and_frees_the_connection() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serve = ServeConfig {
            body_timeout: Duration::from_millis(300),
            ..ServeConfig::default()
        };
        tokio::spawn(homestead::serve(
            listener,
            Recording::new(),
            HomesteadConfig::default(),
            serve,
        ));
        // Headers promise 100 bytes; one arrives, then nothing.
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!(
                "PUT /impu/{ALICE_IMPU}/reg-data HTTP/1.1\r\nHost: x\r\n\
                 Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        let mut got = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(3), async {
            let mut buf = [0u8; 1024];
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
                if got.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        })
        .await;
        assert!(read.is_ok(), "no answer: the slow body held the connection");
        let head = String::from_utf8_lossy(&got);
        assert!(head.starts_with("HTTP/1.1 4"), "{head}");
        // And the connection is let go (its body can never be completed).
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "the connection stayed open");
    })
    .await;
}
