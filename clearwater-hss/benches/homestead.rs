//! Homestead API requests/s through the real HTTP stack on loopback:
//! `GET /impi/<impi>/av` (AKA and digest) and `PUT /impu/<impu>/reg-data`
//! (a re-registration answered from the cache), Homestead over `CachedHss`
//! over a constant in-bench `Hss` on a `MemoryStore`, the server on one
//! core; against a bare axum handler on the same serve loop returning a
//! fixed body of the same size (the HTTP stack's ceiling on this machine).
//!
//! `cargo bench -p clearwater-hss --bench homestead`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Router;
use axum::http::header;
use axum::routing::{get, put};
use bytes::Bytes;
use clearwater_hss::homestead::{self, HomesteadConfig};
use clearwater_hss::http::ServeConfig;
use clearwater_hss::milenage::{Milenage, Sqn, parse_hex16};
use clearwater_hss::subscription::ImsSubscription;
use clearwater_hss::{
    AuthRequest, AuthScheme, AuthVector, CacheConfig, CachedHss, ChargingAddresses, DigestVector,
    Hss, HssError, LocationQuery, RegData, RegistrationState, SelectionResult, ServerAssignment,
    ServerSelection, UserAuthorization,
};
use clearwater_store::{MemoryConfig, MemoryStore};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const IMPI: &str = "001010000012345%40ims.example.net";
const IMPU: &str = "sip%3A%2B15551230001%40ims.example.net";
const REG_BODY: &str =
    r#"{"reqtype":"reg","server_name":"sip:scscf.ims.example.net:5054;transport=tcp"}"#;

/// An HSS answering every request with the same data.
struct ConstHss {
    aka: AuthVector,
    digest: AuthVector,
    reg: RegData,
}

impl ConstHss {
    fn new() -> ConstHss {
        let k = parse_hex16("465b5ce8b199b49faa5f0a2ee238a6bc").unwrap();
        let opc = parse_hex16("cd63cb71954a9f4e48a5994e37a02baf").unwrap();
        let rand = parse_hex16("23553cbe9637a89d218ae64dae47bf35").unwrap();
        let aka = Milenage::with_opc(&k, &opc).aka_vector(&rand, Sqn::new(42).unwrap(), &[0x80, 0]);
        let xml = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/corpus/ifc/alice-cnf.xml"
        ))
        .unwrap();
        ConstHss {
            aka: AuthVector::Aka(aka),
            digest: AuthVector::Digest(DigestVector {
                ha1: "0e9d9d7bf8c7a9ac3c3bd8e1f8a3a4b5".into(),
                realm: "ims.example.net".into(),
                qop: "auth".into(),
            }),
            reg: RegData {
                state: RegistrationState::Registered,
                subscription: Some(ImsSubscription::parse(&xml).unwrap()),
                charging: ChargingAddresses {
                    ccfs: vec!["aaa://ccf1.ims.example.net:3868;transport=tcp".into()],
                    ecfs: vec![],
                },
                associated_impis: vec!["001010000012345@ims.example.net".into()],
            },
        }
    }
}

#[async_trait]
impl Hss for ConstHss {
    async fn authenticate(&self, req: &AuthRequest) -> Result<AuthVector, HssError> {
        Ok(match req.scheme {
            AuthScheme::Aka => self.aka.clone(),
            _ => self.digest.clone(),
        })
    }
    async fn assign_server(&self, _: &ServerAssignment) -> Result<RegData, HssError> {
        Ok(self.reg.clone())
    }
    async fn authorize_user(&self, _: &UserAuthorization) -> Result<ServerSelection, HssError> {
        Ok(ServerSelection {
            result: SelectionResult::FirstRegistration,
            server_name: None,
            capabilities: None,
        })
    }
    async fn locate(&self, _: &LocationQuery) -> Result<ServerSelection, HssError> {
        Ok(ServerSelection {
            result: SelectionResult::Success,
            server_name: None,
            capabilities: None,
        })
    }
}

/// Starts `serve` on a one-thread runtime of its own (one server core).
fn one_core_server<F>(serve: impl FnOnce(TcpListener) -> F + Send + 'static) -> SocketAddr
where
    F: std::future::Future<Output = ()> + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            serve(l).await;
        });
    });
    rx.recv().unwrap()
}

/// One request, as raw HTTP/1.1 on a keep-alive connection.
struct Case {
    name: &'static str,
    homestead: Vec<u8>,
    peer: Vec<u8>,
}

fn request(method: &str, target: &str, body: &str) -> Vec<u8> {
    let mut r = format!("{method} {target} HTTP/1.1\r\nHost: bench\r\n");
    if !body.is_empty() {
        r.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    r.push_str("\r\n");
    r.push_str(body);
    r.into_bytes()
}

/// Reads one answer (headers, then Content-Length bytes) into `buf`,
/// keeping any bytes past it; returns the status and body.
async fn read_answer(s: &mut TcpStream, buf: &mut Vec<u8>) -> (u16, Vec<u8>) {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).unwrap();
            let status = head[9..12].parse().unwrap();
            let len: usize = head
                .split("\r\n")
                .find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    n.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().unwrap())
                })
                .unwrap();
            let total = end + 4 + len;
            while buf.len() < total {
                let n = s.read(&mut chunk).await.unwrap();
                assert!(n > 0, "server closed the connection");
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = buf[end + 4..total].to_vec();
            buf.drain(..total);
            return (status, body);
        }
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// One exchange on a fresh connection (set-up only).
async fn once(addr: SocketAddr, req: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(req).await.unwrap();
    read_answer(&mut s, &mut Vec::new()).await
}

/// Sends `total` copies of `req` over `conns` keep-alive connections, one
/// in flight per connection, checking each answer is a 200 of `len` bytes.
async fn load(addr: SocketAddr, req: Arc<Vec<u8>>, len: usize, total: u64, conns: u64) {
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..conns {
        let req = req.clone();
        let n = total / conns + u64::from(c < total % conns);
        tasks.spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut buf = Vec::with_capacity(16 * 1024);
            for _ in 0..n {
                s.write_all(&req).await.unwrap();
                let (status, body) = read_answer(&mut s, &mut buf).await;
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
                assert_eq!(body.len(), len);
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
}

fn homestead_requests(c: &mut Criterion) {
    let homestead = one_core_server(|l| async move {
        let store = Arc::new(MemoryStore::new(MemoryConfig::default()));
        let cached = CachedHss::new(
            ConstHss::new(),
            store,
            CacheConfig::default().with_reregistration_interval(Duration::from_secs(3600)),
        );
        homestead::serve(
            l,
            Arc::new(cached),
            HomesteadConfig::default(),
            ServeConfig::default(),
        )
        .await
        .unwrap();
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let aka = request(
        "GET",
        &format!("/impi/{IMPI}/av/aka?impu={IMPU}&server-name=sip%3Ascscf.ims.example.net"),
        "",
    );
    let digest = request("GET", &format!("/impi/{IMPI}/av?impu={IMPU}"), "");
    let reg = request(
        "PUT",
        &format!("/impu/{IMPU}/reg-data?private_id={IMPI}"),
        REG_BODY,
    );
    // The first registration goes to the (constant) HSS and is cached; every
    // PUT measured below is a re-registration answered from the cache.
    let bodies = rt.block_on(async {
        let mut bodies = Vec::new();
        for r in [&aka, &digest, &reg] {
            let (status, body) = once(homestead, r).await;
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
            bodies.push(Bytes::from(body));
        }
        bodies
    });
    let lens: Vec<usize> = bodies.iter().map(Bytes::len).collect();
    let [aka_body, digest_body, reg_body] = <[Bytes; 3]>::try_from(bodies).unwrap();

    // The peer: the same serve loop and axum, a fixed body of the same
    // size and content type, no work.
    let peer = one_core_server(move |l| async move {
        let json = |b: Bytes| {
            move || {
                let b = b.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], b) }
            }
        };
        let reg_body = reg_body.clone();
        let router = Router::new()
            .route("/aka", get(json(aka_body)))
            .route("/digest", get(json(digest_body)))
            .route(
                "/reg",
                put(move |_: Bytes| {
                    let b = reg_body.clone();
                    async move { ([(header::CONTENT_TYPE, "application/xml")], b) }
                }),
            );
        clearwater_hss::http::serve(l, router, ServeConfig::default())
            .await
            .unwrap();
    });

    let cases = [
        Case {
            name: "av_aka",
            homestead: aka,
            peer: request("GET", "/aka", ""),
        },
        Case {
            name: "av_digest",
            homestead: digest,
            peer: request("GET", "/digest", ""),
        },
        Case {
            name: "reg_data_rereg_cached",
            homestead: reg,
            peer: request("PUT", "/reg", REG_BODY),
        },
    ];
    const PER_ITER: u64 = 2_000;
    const CONNS: u64 = 32;
    let mut g = c.benchmark_group("homestead_one_core");
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(PER_ITER));
    for (case, len) in cases.into_iter().zip(lens) {
        for (who, addr, req) in [
            ("homestead", homestead, case.homestead),
            ("bare_axum_fixed_body", peer, case.peer),
        ] {
            let req = Arc::new(req);
            g.bench_function(format!("{}/{who}", case.name), |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    rt.block_on(load(addr, req.clone(), len, PER_ITER * iters, CONNS));
                    start.elapsed()
                });
            });
        }
    }
    g.finish();
}

criterion_group!(benches, homestead_requests);
criterion_main!(benches);
