//! Interop with sipp (Debian package `sip-tester`) as a real peer: its built-in
//! `uac` scenario places calls through a proxy built from clearwater-sip's
//! runtime to its built-in `uas` scenario, over UDP and TCP, with and without
//! sipp's packet loss. Every call must succeed.
//!
//! The test starts its own sipp processes on free loopback ports and fails
//! (does not skip) when sipp is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use clearwater_sip::runtime::{ProxyServer, ServerConfig, StaticRoute};
use clearwater_sip::transport::{Remote, Transport};
use tokio::process::Command;

fn free_port() -> u16 {
    // Both protocols free on the same port.
    loop {
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = u.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn sipp() -> Command {
    let probe = std::process::Command::new("sipp").arg("-v").output();
    assert!(
        probe.is_ok(),
        "sipp is required for this test: install the Debian package sip-tester"
    );
    let mut c = Command::new("sipp");
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

/// What sipp uac reported.
struct Outcome {
    exit: i32,
    successful: u64,
    failed: u64,
    stderr: String,
}

/// The cumulative count on sipp's final-screen line `label` (`Successful call`).
fn cumulative(screen: &str, label: &str) -> u64 {
    screen
        .lines()
        .rfind(|l| l.contains(label))
        .and_then(|l| l.split('|').nth(2))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Runs `calls` calls at `rate` calls/s through a proxy.
async fn run_calls(transport: Transport, calls: u32, rate: u32, lost_pct: u32) -> Outcome {
    let t = if transport == Transport::Tcp {
        "t1"
    } else {
        "u1"
    };
    let uas_port = free_port();
    let dir = tempdir();
    let mut uas = sipp();
    uas.current_dir(&dir).args([
        "-sn",
        "uas",
        "-i",
        "127.0.0.1",
        "-p",
        &uas_port.to_string(),
        "-t",
        t,
    ]);
    if lost_pct > 0 {
        uas.args(["-lost", &lost_pct.to_string()]);
    }
    let mut uas = uas.spawn().expect("start sipp uas");

    let uas_addr: SocketAddr = ([127, 0, 0, 1], uas_port).into();
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    let config = match transport {
        Transport::Tcp => ServerConfig::new(vec![], vec![any], vec![]),
        _ => ServerConfig::new(vec![any], vec![], vec![]),
    };
    let server = ProxyServer::bind(config, StaticRoute(Remote::new(transport, uas_addr)))
        .await
        .unwrap();
    let proxy_addr = server.local_addrs()[0].1;
    let proxy = tokio::spawn(server.run());
    tokio::time::sleep(Duration::from_millis(300)).await; // sipp uas listening

    let mut uac = sipp();
    uac.current_dir(&dir).args([
        "-sn",
        "uac",
        &proxy_addr.to_string(),
        "-i",
        "127.0.0.1",
        "-p",
        &free_port().to_string(),
        "-t",
        t,
        "-m",
        &calls.to_string(),
        "-r",
        &rate.to_string(),
        "-timeout",
        "120s",
        "-timeout_error",
    ]);
    if lost_pct > 0 {
        uac.args(["-lost", &lost_pct.to_string()]);
    }
    let out = uac.output().await.expect("run sipp uac");
    let _ = uas.kill().await;
    proxy.abort();
    let _ = std::fs::remove_dir_all(&dir);
    let screen = String::from_utf8_lossy(&out.stdout);
    Outcome {
        exit: out.status.code().unwrap_or(-1),
        successful: cumulative(&screen, "Successful call"),
        failed: cumulative(&screen, "Failed call"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn assert_all_succeeded(o: &Outcome, calls: u64) {
    assert_eq!(o.exit, 0, "sipp uac exit status; stderr: {}", o.stderr);
    assert_eq!(
        o.successful, calls,
        "successful calls; stderr: {}",
        o.stderr
    );
    assert_eq!(o.failed, 0, "failed calls; stderr: {}", o.stderr);
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "cw-sipp-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_uac_to_uas_over_udp() {
    assert_all_succeeded(&run_calls(Transport::Udp, 50, 25, 0).await, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_uac_to_uas_over_tcp() {
    assert_all_succeeded(&run_calls(Transport::Tcp, 50, 25, 0).await, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_uac_to_uas_over_udp_with_packet_loss() {
    // 5% of packets lost at each sipp: retransmissions (sipp's and the
    // proxy's transactions) must still complete every call.
    //
    // Random loss can, rarely, beat every retransmission: one CI run in many
    // saw a failed call, the run taking ≈ 35 s. Raising the loss to 20% shows
    // what happens then (sipp's `-trace_err`): the proxy's INVITE transaction
    // gets no answer through all its retransmissions and answers 408 after
    // Timer B, as RFC 3261 says, or sipp's own UDP retransmissions run out.
    // So a run with a failed call is repeated once, its sipp counts printed;
    // a second failure fails the test.
    let first = run_calls(Transport::Udp, 30, 10, 5).await;
    if first.exit == 0 && first.successful == 30 && first.failed == 0 {
        return;
    }
    eprintln!(
        "first run with loss: exit {}, {} successful, {} failed; stderr: {}; running again",
        first.exit, first.successful, first.failed, first.stderr
    );
    assert_all_succeeded(&run_calls(Transport::Udp, 30, 10, 5).await, 30);
}
