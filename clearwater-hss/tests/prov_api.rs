//! The Homestead-prov compatible provisioning API over real loopback HTTP,
//! on a durable store in a temporary directory: every route, bodies and
//! statuses, API keys, percent-decoding, limits, and that a failed
//! one-step or bulk creation leaves nothing behind.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clearwater_hss::digest;
use clearwater_hss::http::{ApiKeys, ServeConfig};
use clearwater_hss::local::{
    LocalHss, LocalHssConfig, MASTER_TABLES, Provisioning, ProvisioningConfig,
};
use clearwater_hss::prov::{ProvApi, ProvLimits};
use clearwater_hss::{AuthRequest, AuthScheme, AuthVector, Hss};
use clearwater_store::{DurableStore, MemoryConfig, MemoryStore, Store};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

const REALM: &str = "example.net";
const KEY: &str = "prov-secret";

// ---------------------------------------------------------------------------
// Harness

struct Server {
    addr: SocketAddr,
    master: Arc<dyn Store>,
    prov: Provisioning,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start_with(limits: ProvLimits) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let master: Arc<dyn Store> =
        Arc::new(DurableStore::open(dir.path().join("master.redb")).unwrap());
    let prov = Provisioning::new(master.clone(), ProvisioningConfig::new(REALM)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let api = ProvApi::new(prov.clone())
        .api_keys(ApiKeys::new([KEY]))
        .limits(limits);
    let task = tokio::spawn(async move {
        let _ = api.serve(listener, ServeConfig::default()).await;
    });
    Server {
        addr,
        master,
        prov,
        task,
        _dir: dir,
    }
}

async fn start() -> Server {
    start_with(ProvLimits::default()).await
}

#[derive(Debug)]
struct Reply {
    status: u16,
    location: Option<String>,
    content_type: Option<String>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }

    /// The `reason` of a JSON error body.
    fn reason(&self) -> String {
        self.json()["reason"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    #[track_caller]
    fn expect(self, status: u16) -> Reply {
        assert_eq!(self.status, status, "{self:?}");
        self
    }
}

/// One request on a fresh connection, bounded in time.
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: impl Into<Bytes>,
) -> Reply {
    let exchange = async {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "127.0.0.1");
        if let Some(key) = key {
            req = req.header("NGV-API-Key", key);
        }
        let resp = sender
            .send_request(req.body(Full::new(body.into())).unwrap())
            .await
            .unwrap();
        let header = |name| {
            resp.headers()
                .get(name)
                .map(|v: &hyper::header::HeaderValue| v.to_str().unwrap().to_owned())
        };
        let location = header("location");
        let content_type = header("content-type");
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            location,
            content_type,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    };
    tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .expect("no answer within 20 s")
}

impl Server {
    async fn call(&self, method: &str, path: &str, body: impl Into<Bytes>) -> Reply {
        send(self.addr, method, path, Some(KEY), body).await
    }

    async fn get(&self, path: &str) -> Reply {
        self.call("GET", path, "").await
    }

    /// Records in each master table.
    async fn counts(&self) -> [usize; 4] {
        let mut out = [0; 4];
        for (i, t) in MASTER_TABLES.iter().enumerate() {
            out[i] = self.master.list(t).await.unwrap().len();
        }
        out
    }
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const IFC: &str = "<ServiceProfile><InitialFilterCriteria><Priority>1</Priority>\
    <TriggerPoint><ConditionTypeCNF>1</ConditionTypeCNF><SPT><Group>0</Group>\
    <Method>INVITE</Method></SPT></TriggerPoint><ApplicationServer>\
    <ServerName>sip:mmtel.example.net</ServerName></ApplicationServer>\
    </InitialFilterCriteria></ServiceProfile>";

// ---------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn ping_api_keys_and_unknown_routes() {
    let s = start().await;
    let r = send(s.addr, "GET", "/ping", None, "").await.expect(200);
    assert_eq!(r.body, "OK");
    for key in [None, Some("wrong")] {
        let r = send(s.addr, "GET", "/irs/x/public_ids", key, "")
            .await
            .expect(401);
        assert!(!r.reason().is_empty());
        send(s.addr, "POST", "/irs", key, "").await.expect(401);
        // A wrong method on a protected path tells nothing without the key.
        send(s.addr, "PATCH", "/private/a", key, "")
            .await
            .expect(401);
    }
    assert_eq!(s.counts().await, [0; 4], "nothing created without the key");
    s.get("/irs/x/public_ids").await.expect(404);
    let r = s.get("/no/such/route").await.expect(404);
    assert!(!r.reason().is_empty());
    let r = s.call("PATCH", "/private/a", "").await.expect(405);
    assert!(!r.reason().is_empty());
}

#[tokio::test]
async fn private_identities() {
    let s = start().await;
    let impi = "alice@example.net";
    let path = format!("/private/{}", enc(impi));

    s.call(
        "PUT",
        &path,
        json!({"plaintext_password": "pw"}).to_string(),
    )
    .await
    .expect(200);
    let r = s.get(&path).await.expect(200);
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({"digest_ha1": digest::ha1(impi, REALM, "pw"), "realm": REALM}),
        "the password itself is not kept"
    );
    s.call(
        "PUT",
        &format!("{path}/"),
        json!({"digest_ha1": "939e7578ed9e3c518a452acee763bce9", "realm": "r.example"}).to_string(),
    )
    .await
    .expect(200);
    assert_eq!(s.get(&path).await.json()["realm"], "r.example");

    for (body, needle) in [
        (json!({"digest_ha1": "939e7578ed9e3c518a452acee763bce9", "plaintext_password": "x"}).to_string(), "only one"),
        (json!({"realm": "x"}).to_string(), "required"),
        (json!({"plaintext_password": "x", "colour": "red"}).to_string(), "unknown field"),
        ("{not json".to_owned(), "invalid JSON"),
        (String::new(), "empty body"),
        (json!({"digest_ha1": "short"}).to_string(), "32 hex"),
        (json!({"plaintext_password": ""}).to_string(), "empty"),
        (json!({"aka": {"k": "00", "opc": "00"}}).to_string(), "aka.k"),
        (json!({"aka": {"k": "465b5ce8b199b49faa5f0a2ee238a6bc", "opc": "cd63cb71954a9f4e48a5994e37a02baf"}, "realm": "x"}).to_string(), "realm"),
    ] {
        let r = s.call("PUT", &path, body.clone()).await.expect(400);
        assert!(r.reason().contains(needle), "{body}: {}", r.reason());
    }

    s.call(
        "PUT",
        &path,
        json!({"aka": {"k": "465b5ce8b199b49faa5f0a2ee238a6bc", "opc": "cd63cb71954a9f4e48a5994e37a02baf", "amf": "b9b9"}}).to_string(),
    )
    .await
    .expect(200);
    assert_eq!(
        s.get(&path).await.json(),
        json!({"aka": {"amf": "b9b9", "sqn": 0}}),
        "K and OPc are never returned"
    );

    s.call("DELETE", &path, "").await.expect(200);
    s.call("DELETE", &path, "").await.expect(204);
    s.get(&path).await.expect(404);
    s.get(&format!("{path}/associated_implicit_registration_sets"))
        .await
        .expect(404);
    s.get(&format!("{path}/associated_public_ids"))
        .await
        .expect(404);
    assert_eq!(s.counts().await, [0; 4]);
}

/// Ellis's provisioning sequence, then every read and delete route.
#[tokio::test]
async fn irs_service_profiles_and_public_identities() {
    let s = start().await;
    let impi = "bob@example.net";
    let impu = "sip:bob@example.net";
    let tel = "tel:+15550199";
    let private = format!("/private/{}", enc(impi));

    s.call(
        "PUT",
        &private,
        json!({"digest_ha1": digest::ha1(impi, REALM, "pw")}).to_string(),
    )
    .await
    .expect(200);
    s.call("POST", "/irs", "unexpected").await.expect(400);
    let irs_path = s
        .call("POST", "/irs/", "")
        .await
        .expect(201)
        .location
        .unwrap();
    assert!(irs_path.starts_with("/irs/"), "{irs_path}");
    let irs = irs_path.trim_start_matches("/irs/").to_owned();
    s.call(
        "PUT",
        &format!("{private}/associated_implicit_registration_sets/{irs}"),
        "",
    )
    .await
    .expect(200);
    s.call(
        "PUT",
        &format!("{private}/associated_implicit_registration_sets/{irs}"),
        "x",
    )
    .await
    .expect(400);
    s.call(
        "PUT",
        &format!("{private}/associated_implicit_registration_sets/nope"),
        "",
    )
    .await
    .expect(404);
    s.call(
        "PUT",
        "/private/nobody/associated_implicit_registration_sets/nope",
        "",
    )
    .await
    .expect(404);
    let sp_path = s
        .call("POST", &format!("{irs_path}/service_profiles"), "")
        .await
        .expect(201)
        .location
        .unwrap();
    assert!(
        sp_path.starts_with(&format!("{irs_path}/service_profiles/")),
        "{sp_path}"
    );
    s.call("POST", "/irs/nope/service_profiles", "")
        .await
        .expect(404);

    let public = format!("{sp_path}/public_ids/{}", enc(impu));
    let xml = format!("<PublicIdentity><Identity>{impu}</Identity></PublicIdentity>");
    s.call("PUT", &public, xml.clone()).await.expect(200);
    let r = s.get(&public).await.expect(200);
    assert_eq!(r.body, xml);
    assert_eq!(r.content_type.as_deref(), Some("application/xml"));
    let r = s
        .call(
            "PUT",
            &public,
            "<PublicIdentity><Identity>sip:eve@example.net</Identity></PublicIdentity>",
        )
        .await
        .expect(403);
    assert!(r.reason().contains("sip:eve@example.net"), "{}", r.reason());
    s.call("PUT", &public, "<PublicIdentity><Identity>")
        .await
        .expect(400);
    s.call("PUT", &public, "").await.expect(400);
    s.call(
        "PUT",
        &format!("{irs_path}/service_profiles/nope/public_ids/{}", enc(impu)),
        xml.clone(),
    )
    .await
    .expect(404);
    // A `+` in a path is a plus sign; %2B too.
    s.call(
        "PUT",
        &format!("{sp_path}/public_ids/tel:+15550199"),
        format!("<PublicIdentity><Identity>{tel}</Identity></PublicIdentity>"),
    )
    .await
    .expect(200);
    s.get(&format!("{sp_path}/public_ids/{}", enc(tel)))
        .await
        .expect(200);

    // Reads.
    assert_eq!(
        s.get(&format!("{private}/associated_implicit_registration_sets/"))
            .await
            .expect(200)
            .json(),
        json!({"associated_implicit_registration_sets": [irs]})
    );
    assert_eq!(
        s.get(&format!("{private}/associated_public_ids"))
            .await
            .expect(200)
            .json(),
        json!({"associated_public_ids": [impu, tel]})
    );
    assert_eq!(
        s.get(&format!("{irs_path}/public_ids"))
            .await
            .expect(200)
            .json(),
        json!({"public_ids": [impu, tel]})
    );
    assert_eq!(
        s.get(&format!("{irs_path}/private_ids"))
            .await
            .expect(200)
            .json(),
        json!({"private_ids": [impi]})
    );
    assert_eq!(
        s.get(&format!("{sp_path}/public_ids/"))
            .await
            .expect(200)
            .json(),
        json!({"public_ids": [impu, tel]})
    );
    let r = s
        .get(&format!("/public/{}/service_profile", enc(impu)))
        .await
        .expect(303);
    assert_eq!(r.location.as_deref(), Some(sp_path.as_str()));
    let r = s
        .get(&format!("/public/{}/irs/", enc(impu)))
        .await
        .expect(303);
    assert_eq!(r.location.as_deref(), Some(irs_path.as_str()));
    assert_eq!(
        s.get(&format!("/public/{}/associated_private_ids", enc(tel)))
            .await
            .expect(200)
            .json(),
        json!({"private_ids": [impi]})
    );
    s.get("/public/sip%3Anobody%40example.net/irs")
        .await
        .expect(404);
    s.get("/irs/nope/private_ids").await.expect(404);
    s.get(&format!("{irs_path}/service_profiles/nope/public_ids"))
        .await
        .expect(404);

    // Filter criteria.
    let fc = format!("{sp_path}/filter_criteria");
    s.get(&fc).await.expect(404);
    s.call("PUT", &fc, IFC).await.expect(200);
    let r = s.get(&fc).await.expect(200);
    assert!(
        r.body
            .contains("<ServerName>sip:mmtel.example.net</ServerName>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("<ServiceProfile>"));
    s.call("PUT", &fc, "").await.expect(400);
    let r = s
        .call(
            "PUT",
            &fc,
            "<ServiceProfile><InitialFilterCriteria></ServiceProfile>",
        )
        .await
        .expect(400);
    assert!(!r.reason().is_empty());
    s.call(
        "PUT",
        &format!("{irs_path}/service_profiles/nope/filter_criteria"),
        IFC,
    )
    .await
    .expect(404);

    // The subscriber authenticates through an HSS on the same data.
    let hss = LocalHss::new(
        s.prov.clone(),
        Arc::new(MemoryStore::new(MemoryConfig::default())),
        LocalHssConfig::default(),
    )
    .unwrap();
    let v = hss
        .authenticate(&AuthRequest {
            impi: impi.into(),
            impu: tel.into(),
            scheme: AuthScheme::Unknown,
            server_name: String::new(),
            resync: None,
        })
        .await
        .unwrap();
    assert!(matches!(v, AuthVector::Digest(d) if d.ha1 == digest::ha1(impi, REALM, "pw")));

    // The IRS side of associations.
    let other = "bob-tablet@example.net";
    s.call(
        "PUT",
        &format!("/private/{}", enc(other)),
        json!({"plaintext_password": "t"}).to_string(),
    )
    .await
    .expect(200);
    s.call("PUT", &format!("{irs_path}/private_ids/{}", enc(other)), "")
        .await
        .expect(200);
    assert_eq!(
        s.get(&format!("{irs_path}/private_ids")).await.json(),
        json!({"private_ids": [impi, other]})
    );
    s.call(
        "DELETE",
        &format!("{irs_path}/private_ids/{}", enc(other)),
        "",
    )
    .await
    .expect(200);
    s.call(
        "DELETE",
        &format!("{irs_path}/private_ids/{}", enc(other)),
        "",
    )
    .await
    .expect(204);
    s.call(
        "DELETE",
        &format!("{private}/associated_implicit_registration_sets/{irs}"),
        "",
    )
    .await
    .expect(200);
    s.call(
        "DELETE",
        &format!("{private}/associated_implicit_registration_sets/{irs}"),
        "",
    )
    .await
    .expect(204);
    s.call(
        "DELETE",
        "/private/nobody/associated_implicit_registration_sets/x",
        "",
    )
    .await
    .expect(204);
    assert_eq!(
        s.get(&format!("{irs_path}/private_ids")).await.json(),
        json!({"private_ids": []})
    );

    // Deletes.
    s.call("DELETE", &public, "").await.expect(200);
    s.call("DELETE", &public, "").await.expect(404);
    s.get(&format!("/public/{}/irs", enc(impu)))
        .await
        .expect(404);
    let sp2 = s
        .call("POST", &format!("{irs_path}/service_profiles"), "")
        .await
        .expect(201)
        .location
        .unwrap();
    s.call("DELETE", &format!("{sp2}/public_ids/{}", enc(tel)), "")
        .await
        .expect(403);
    s.call("DELETE", &sp_path, "").await.expect(200);
    s.call("DELETE", &sp_path, "").await.expect(204);
    s.get(&format!("/public/{}/irs", enc(tel)))
        .await
        .expect(404);
    s.call("DELETE", &irs_path, "").await.expect(200);
    s.call("DELETE", &irs_path, "").await.expect(204);
    s.call("DELETE", &sp2, "").await.expect(404);
    s.call("DELETE", &private, "").await.expect(200);
    s.call("DELETE", &format!("/private/{}", enc(other)), "")
        .await
        .expect(200);
    assert_eq!(s.counts().await, [0; 4], "nothing left behind");
}

#[tokio::test]
async fn one_step_subscribers() {
    let s = start().await;
    let body = json!({
        "impu": "sip:carol@example.net",
        "impi": "carol@example.net",
        "password": "pw",
        "ifc": IFC,
    });
    let r = s
        .call("POST", "/subscribers", body.to_string())
        .await
        .expect(201);
    let ids = r.json();
    assert_eq!(
        r.location,
        Some(format!("/irs/{}", ids["irs"].as_str().unwrap()))
    );
    let sp = ids["service_profile"].as_str().unwrap();
    let fc = s
        .get(&format!(
            "/irs/{}/service_profiles/{sp}/filter_criteria",
            ids["irs"].as_str().unwrap()
        ))
        .await
        .expect(200);
    assert!(fc.body.contains("sip:mmtel.example.net"));
    assert_eq!(
        s.get("/private/carol%40example.net/associated_public_ids")
            .await
            .json(),
        json!({"associated_public_ids": ["sip:carol@example.net"]})
    );
    let before = s.counts().await;
    assert_eq!(before, [1, 1, 1, 0]);

    // Failures leave nothing.
    let mut with_new_impi = body.clone();
    with_new_impi["impi"] = json!("carol2@example.net");
    let mut with_new_impu = body.clone();
    with_new_impu["impu"] = json!("sip:carol2@example.net");
    let mut bad_ifc =
        json!({"impu": "sip:dan@example.net", "impi": "dan@example.net", "password": "pw"});
    bad_ifc["ifc"] = json!(
        "<ServiceProfile><InitialFilterCriteria><Priority>x</Priority></InitialFilterCriteria></ServiceProfile>"
    );
    for (body, status) in [
        (body.to_string(), 409),
        (with_new_impi.to_string(), 409),
        (with_new_impu.to_string(), 409),
        (bad_ifc.to_string(), 400),
        (json!({"impu": "sip:dan@example.net", "impi": "dan@example.net"}).to_string(), 400),
        (json!({"impu": "sip:dan@example.net", "impi": "dan@example.net", "password": "pw", "x": 1}).to_string(), 400),
        (json!({"impu": "sip:dan @example.net", "impi": "dan@example.net", "password": "pw"}).to_string(), 400),
        (json!({"impu": "sip:dan@example.net", "password": "pw"}).to_string(), 400),
        ("[]".to_owned(), 400),
    ] {
        let r = s.call("POST", "/subscribers", body.clone()).await;
        assert_eq!(r.status, status, "{body}: {r:?}");
        assert!(!r.reason().is_empty());
        assert_eq!(s.counts().await, before, "{body}");
    }

    let aka = json!({
        "impu": "sip:dan@example.net",
        "impi": "dan@example.net",
        "aka": {"k": "465b5ce8b199b49faa5f0a2ee238a6bc", "opc": "cd63cb71954a9f4e48a5994e37a02baf"},
    });
    s.call("POST", "/subscribers/", aka.to_string())
        .await
        .expect(201);
    assert_eq!(
        s.get("/private/dan%40example.net").await.json(),
        json!({"aka": {"amf": "8000", "sqn": 0}})
    );
}

#[tokio::test]
async fn bulk_csv() {
    let s = start_with(
        ProvLimits::default()
            .with_max_csv_lines(5)
            .with_max_body_bytes(4096),
    )
    .await;
    let r = s
        .call(
            "POST",
            "/subscribers/csv",
            "impu,impi,password\r\nsip:u1@example.net,u1@example.net,p1\r\n\r\n\
             # a comment\nsip:u2@example.net,u2@example.net,\"p,2\"\n",
        )
        .await
        .expect(201);
    assert_eq!(r.json(), json!({"created": 2}));
    assert_eq!(s.counts().await, [2, 2, 2, 0]);
    let ha1 = s.get("/private/u2%40example.net").await.json()["digest_ha1"].clone();
    assert_eq!(ha1, json!(digest::ha1("u2@example.net", REALM, "p,2")));

    let before = s.counts().await;
    for (csv, status, needle) in [
        // A malformed line after good ones: nothing is created.
        (
            "sip:u3@example.net,u3@example.net,p\nsip:u4@example.net,u4@example.net\n",
            400,
            "line 2",
        ),
        // An identity that exists.
        (
            "sip:u3@example.net,u3@example.net,p\n\nsip:u1@example.net,u9@example.net,p\n",
            409,
            "line 3",
        ),
        // Repeated in the body.
        (
            "sip:u3@example.net,u3@example.net,p\nsip:u4@example.net,u3@example.net,p\n",
            409,
            "line 2",
        ),
        // An invalid identity.
        (
            "sip:u3@example.net,u3@example.net,p\nsip:u 4@example.net,u4@example.net,p\n",
            400,
            "line 2",
        ),
        ("sip:u3@example.net,u3@example.net,\n", 400, "line 1"),
        ("a,b,\"c\n", 400, "line 1"),
        ("", 400, "empty"),
        ("\n\n", 400, "no subscriber"),
        (
            "a1,a1,p\na2,a2,p\na3,a3,p\na4,a4,p\na5,a5,p\na6,a6,p\n",
            400,
            "more than 5",
        ),
    ] {
        let r = s.call("POST", "/subscribers/csv", csv).await;
        assert_eq!(r.status, status, "{csv:?}: {r:?}");
        assert!(r.reason().contains(needle), "{csv:?}: {}", r.reason());
        assert_eq!(s.counts().await, before, "{csv:?}");
    }
    let r = s
        .call(
            "POST",
            "/subscribers/csv",
            Bytes::from_static(b"\xff\xfe,a,b"),
        )
        .await
        .expect(400);
    assert!(r.reason().contains("UTF-8"));
    let big = "sip:x@example.net,x@example.net,p\n".repeat(200);
    s.call("POST", "/subscribers/csv", big).await.expect(413);
    assert_eq!(s.counts().await, before);
}
