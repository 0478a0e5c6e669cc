//! Dime: the Homestead HSS cache (port 8888) and Homestead-prov provisioning
//! (port 8889) in one process, as Clearwater's Dime node runs them.
//!
//! Two modes:
//!
//! * **local** (default): subscribers live in a durable embedded store (a
//!   redb file); Homestead answers from them ([`LocalHss`]) and
//!   Homestead-prov edits them. Registration state is kept in memory.
//! * **Cx** (`--hss HOST:PORT`): Homestead is a cache ([`CachedHss`], in
//!   memory) in front of a real HSS reached over Diameter Cx ([`CxHss`]);
//!   no provisioning API (the HSS owns the subscribers).
//!
//! A flag of the other mode (`--db` or `--prov` with `--hss`; `--hss-realm`,
//! `--hss-host`, `--origin-host`, `--origin-realm` or `--scscf` without it)
//! is refused at start.
//!
//! ```text
//! cargo run --release --features hss,store,diameter --example dime -- \
//!     [--realm example.net] [--db dime.redb] \
//!     [--homestead 127.0.0.1:8888] [--prov 127.0.0.1:8889] [--api-key KEY]... \
//!     [--hss 127.0.0.1:3868 --hss-realm example.net [--hss-host hss.example.net] \
//!      --origin-host dime.example.net --scscf sip:scscf.example.net]
//! ```
//!
//! Try it: `curl -X POST localhost:8889/subscribers -d
//! '{"impu":"sip:alice@example.net","impi":"alice@example.net","password":"secret"}'`
//! then `curl 'localhost:8888/impi/alice@example.net/av?impu=sip:alice@example.net'`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clearwater::diameter::cx::Origin;
use clearwater::diameter::peer::LocalIdentity;
use clearwater::diameter::runtime::{Node, NodeConfig, PeerSpec};
use clearwater::hss::cx::{CxConfig, CxHss};
use clearwater::hss::homestead::{self, HomesteadConfig};
use clearwater::hss::http::{ApiKeys, ServeConfig};
use clearwater::hss::local::{LocalHss, LocalHssConfig, ProvisioningConfig};
use clearwater::hss::prov::ProvApi;
use clearwater::hss::{CacheConfig, CachedHss, Hss, Provisioning};
use clearwater::store::{DurableStore, MemoryConfig, MemoryStore, Store};
use tokio::net::TcpListener;

const USAGE: &str = "usage: dime [--realm R] [--db FILE] [--homestead ADDR] [--prov ADDR] \
[--api-key KEY]... [--hss ADDR --hss-realm R [--hss-host H] --origin-host H [--origin-realm R] \
[--scscf URI]]";

struct Args {
    realm: String,
    db: String,
    homestead: SocketAddr,
    prov: SocketAddr,
    api_keys: Vec<String>,
    hss: Option<SocketAddr>,
    hss_realm: Option<String>,
    hss_host: Option<String>,
    origin_host: Option<String>,
    origin_realm: Option<String>,
    scscf: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        realm: "example.net".into(),
        db: "dime.redb".into(),
        homestead: ([127, 0, 0, 1], 8888).into(),
        prov: ([127, 0, 0, 1], 8889).into(),
        api_keys: Vec::new(),
        hss: None,
        hss_realm: None,
        hss_host: None,
        origin_host: None,
        origin_realm: None,
        scscf: None,
    };
    let mut given = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.into());
        }
        let value = it.next().ok_or(format!("{flag} needs a value\n{USAGE}"))?;
        let addr = |v: &str| {
            v.parse::<SocketAddr>()
                .map_err(|e| format!("{flag}: {v:?} is not an address: {e}"))
        };
        match flag.as_str() {
            "--realm" => a.realm = value,
            "--db" => a.db = value,
            "--homestead" => a.homestead = addr(&value)?,
            "--prov" => a.prov = addr(&value)?,
            "--api-key" => a.api_keys.push(value),
            "--hss" => a.hss = Some(addr(&value)?),
            "--hss-realm" => a.hss_realm = Some(value),
            "--hss-host" => a.hss_host = Some(value),
            "--origin-host" => a.origin_host = Some(value),
            "--origin-realm" => a.origin_realm = Some(value),
            "--scscf" => a.scscf = Some(value),
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
        given.push(flag);
    }
    // A flag of the other mode is a mistake worth saying, not ignoring.
    let (mode, other): (&str, &[&str]) = if a.hss.is_some() {
        ("Cx mode (--hss)", &["--db", "--prov"])
    } else {
        (
            "local mode (no --hss)",
            &[
                "--hss-realm",
                "--hss-host",
                "--origin-host",
                "--origin-realm",
                "--scscf",
            ],
        )
    };
    if let Some(flag) = given.iter().find(|f| other.contains(&f.as_str())) {
        return Err(format!("{flag} does not apply in {mode}\n{USAGE}"));
    }
    Ok(a)
}

fn keys(a: &Args) -> ApiKeys {
    if a.api_keys.is_empty() {
        ApiKeys::open()
    } else {
        ApiKeys::new(a.api_keys.iter().cloned())
    }
}

async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("{what}: cannot listen on {addr}: {e}"))
}

async fn run(a: Args) -> Result<(), String> {
    let state: Arc<dyn Store> = Arc::new(MemoryStore::new(MemoryConfig::default()));
    let homestead_config = HomesteadConfig::default().with_api_keys(keys(&a));
    let Some(hss_addr) = a.hss else {
        // Local mode: the subscriber master in a redb file.
        let master: Arc<dyn Store> =
            Arc::new(DurableStore::open(&a.db).map_err(|e| format!("cannot open {}: {e}", a.db))?);
        let prov = Provisioning::new(master, ProvisioningConfig::new(a.realm.clone()))
            .map_err(|e| format!("provisioning: {e}"))?;
        let hss = LocalHss::new(prov.clone(), state, LocalHssConfig::default())
            .map_err(|e| format!("local HSS: {e}"))?;
        let homestead_listener = bind(a.homestead, "homestead").await?;
        let prov_listener = bind(a.prov, "homestead-prov").await?;
        println!(
            "dime: homestead on {}, homestead-prov on {}, subscribers in {} (realm {})",
            a.homestead, a.prov, a.db, a.realm
        );
        let api = ProvApi::new(prov).api_keys(keys(&a));
        let hss: Arc<dyn Hss> = Arc::new(hss);
        return tokio::select! {
            r = homestead::serve(homestead_listener, hss, homestead_config, ServeConfig::default()) =>
                r.map_err(|e| format!("homestead: {e}")),
            r = api.serve(prov_listener, ServeConfig::default()) =>
                r.map_err(|e| format!("homestead-prov: {e}")),
            _ = tokio::signal::ctrl_c() => Ok(()),
        };
    };
    // Cx mode: a cache in front of a real HSS.
    let (Some(hss_realm), Some(origin_host)) = (a.hss_realm.clone(), a.origin_host.clone()) else {
        return Err(format!(
            "--hss needs --hss-realm and --origin-host\n{USAGE}"
        ));
    };
    let origin_realm = a.origin_realm.clone().unwrap_or_else(|| a.realm.clone());
    let node = Node::new(NodeConfig::new(LocalIdentity::cx(
        origin_host.as_str(),
        origin_realm.as_str(),
    )));
    node.add_peer(PeerSpec {
        addr: hss_addr,
        realm: hss_realm.clone(),
        host: a.hss_host.clone(),
    });
    let cx = CxHss::new(
        node.clone(),
        CxConfig {
            origin: Origin::new(origin_host.as_str(), origin_realm.as_str()),
            destination_realm: hss_realm,
            destination_host: a.hss_host.clone(),
            default_server_name: a
                .scscf
                .clone()
                .unwrap_or_else(|| format!("sip:scscf.{}", a.realm)),
        },
    );
    let hss: Arc<dyn Hss> = Arc::new(CachedHss::new(cx, state, CacheConfig::default()));
    let homestead_listener = bind(a.homestead, "homestead").await?;
    println!(
        "dime: homestead on {}, caching the HSS at {hss_addr} over Cx",
        a.homestead
    );
    if !node.wait_open(1, Duration::from_secs(5)).await {
        eprintln!("dime: no Cx connection to {hss_addr} yet (retrying in the background)");
    }
    let r = tokio::select! {
        r = homestead::serve(homestead_listener, hss, homestead_config, ServeConfig::default()) =>
            r.map_err(|e| format!("homestead: {e}")),
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    node.shutdown().await;
    r
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dime: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dime: {e}");
            ExitCode::FAILURE
        }
    }
}
