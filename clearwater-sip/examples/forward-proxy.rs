//! A transaction-stateful proxy that forwards every request to one next hop,
//! built from clearwater-sip's runtime. Used by the sipp load benchmark
//! (`bench/sipp-load.sh`).
//!
//! ```text
//! cargo run --release -p clearwater-sip --features runtime --example forward-proxy -- \
//!     --listen 127.0.0.1:5060 --to 127.0.0.1:5070 [--tcp]
//! ```

use std::net::SocketAddr;

use clearwater_sip::runtime::{ProxyServer, ServerConfig, StaticRoute};
use clearwater_sip::transport::{Remote, Transport};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> std::io::Result<()> {
    let listen: SocketAddr = arg("--listen")
        .unwrap_or_else(|| "127.0.0.1:5060".into())
        .parse()
        .map_err(std::io::Error::other)?;
    let to: SocketAddr = arg("--to")
        .ok_or_else(|| std::io::Error::other("--to ADDR is required"))?
        .parse()
        .map_err(std::io::Error::other)?;
    let tcp = std::env::args().any(|a| a == "--tcp");
    let transport = if tcp { Transport::Tcp } else { Transport::Udp };
    let config = if tcp {
        ServerConfig::new(vec![], vec![listen], vec![])
    } else {
        ServerConfig::new(vec![listen], vec![], vec![])
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let server = ProxyServer::bind(config, StaticRoute(Remote::new(transport, to))).await?;
        eprintln!("forwarding {:?} -> {to}", server.local_addrs());
        server.run().await
    })
}
