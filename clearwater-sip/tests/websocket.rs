//! RFC 7118 WebSocket transport: a tokio-tungstenite client sends REGISTER and
//! OPTIONS over the `sip` subprotocol and gets the answers on the same
//! connection; a handshake without the subprotocol is refused; CRLF framing
//! is not needed (one SIP message per WebSocket message).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::net::SocketAddr;

use bytes::Bytes;
use clearwater_sip::runtime::{Decision, ProxyServer, RouteRequest, Router, ServerConfig};
use clearwater_sip::{HeaderName, Message, Method, StatusCode};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// Answers REGISTER with 200 (echoing Contact) and OPTIONS with 200 + Allow.
struct Registrar;

impl Router for Registrar {
    async fn route(&self, req: RouteRequest) -> Decision {
        let r = &req.request;
        if r.method() == &Method::REGISTER {
            let contact = r
                .headers()
                .get(&HeaderName::CONTACT)
                .and_then(|h| h.value_str())
                .unwrap_or("*")
                .to_owned();
            Decision::Respond {
                status: StatusCode::OK,
                reason: None,
                headers: vec![(HeaderName::CONTACT, format!("{contact};expires=3600"))],
            }
        } else {
            Decision::Respond {
                status: StatusCode::OK,
                reason: None,
                headers: vec![(HeaderName::ALLOW, "REGISTER, OPTIONS".into())],
            }
        }
    }
}

async fn server() -> SocketAddr {
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    let server = ProxyServer::bind(ServerConfig::new(vec![], vec![], vec![any]), Registrar)
        .await
        .unwrap();
    let addr = server.local_addrs()[0].1;
    tokio::spawn(server.run());
    addr
}

/// The next SIP message on the WebSocket (control frames skipped).
/// A handshake request for `addr` offering the `sip` subprotocol.
fn sip_request(addr: SocketAddr) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut req = format!("ws://{addr}/").into_client_request().unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
    req
}

/// A WebSocket connection to `addr` speaking the `sip` subprotocol.
async fn connect(
    addr: SocketAddr,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    tokio_tungstenite::connect_async(sip_request(addr))
        .await
        .unwrap()
        .0
}

async fn next_sip<S>(ws: &mut S) -> Bytes
where
    S: futures_util::Stream<Item = Result<Ws, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match ws.next().await.unwrap().unwrap() {
            Ws::Text(t) => return Bytes::from(t),
            Ws::Binary(b) => return b,
            _ => continue,
        }
    }
}

fn request(method: &str, branch: &str, cseq: u32) -> String {
    format!(
        "{method} sip:example.com SIP/2.0\r\n\
         Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=ws1\r\n\
         To: <sip:alice@example.com>\r\n\
         Call-ID: ws-call-1\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: <sip:alice@df7jal23ls0d.invalid;transport=ws>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\"\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_and_options_over_websocket() {
    let addr = server().await;
    let (mut ws, resp) = tokio_tungstenite::connect_async(sip_request(addr))
        .await
        .unwrap();
    assert_eq!(
        resp.headers().get("Sec-WebSocket-Protocol").unwrap(),
        "sip",
        "RFC 7118 §4: the server selects the sip subprotocol"
    );

    for (method, branch, cseq) in [
        ("REGISTER", "z9hG4bKws-reg-1", 1),
        ("OPTIONS", "z9hG4bKws-opt-1", 2),
    ] {
        ws.send(Ws::text(request(method, branch, cseq)))
            .await
            .unwrap();
        let reply = next_sip(&mut ws).await;
        let Message::Response(r) = Message::parse(reply).unwrap() else {
            panic!("not a response")
        };
        assert_eq!(r.status(), StatusCode::OK, "{method}");
        let via = r.via().unwrap();
        assert_eq!(via.branch(), Some(branch));
        // RFC 7118 §5 / RFC 3261 §18.2.1: the server notes where it came from.
        assert_eq!(via.received(), Some("127.0.0.1"));
        assert_eq!(r.cseq().unwrap().seq, cseq);
        assert!(r.to().unwrap().tag().is_some());
        if method == "REGISTER" {
            let c = r.contacts().next().unwrap().unwrap();
            assert_eq!(c.expires(), Some(3600));
        }
    }
    ws.close(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_without_sip_subprotocol_is_refused() {
    let addr = server().await;
    let err = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .expect_err("no subprotocol: refused");
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => {
            assert_eq!(resp.status(), 400, "{resp:?}");
        }
        other => panic!("not an HTTP refusal: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_request_over_websocket_gets_400() {
    let addr = server().await;
    let mut ws = connect(addr).await;
    let bad =
        request("OPTIONS", "z9hG4bKws-bad", 3).replace("Max-Forwards: 70", "Max-Forwards: lots");
    ws.send(Ws::text(bad)).await.unwrap();
    let reply = next_sip(&mut ws).await;
    let Message::Response(r) = Message::parse(reply).unwrap() else {
        panic!()
    };
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.reason(), b"Bad Max-Forwards Header");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_websocket_message_closes_the_connection() {
    let addr = server().await;
    let mut ws = connect(addr).await;
    // Over the default 65 535-octet message limit: the server refuses to
    // buffer it and drops the connection instead of answering.
    let padding = "x".repeat(70_000);
    let big = request("OPTIONS", "z9hG4bKws-big", 4)
        .replace("Content-Length: 0", "X-Padding: PAD\r\nContent-Length: 0")
        .replace("PAD", &padding);
    let _ = ws.send(Ws::text(big)).await;
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Ws::Close(_))) => return,
                Some(Ok(Ws::Text(t))) => panic!("answered an oversized message: {t}"),
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "connection still open after 5 s");

    // The server is still serving others.
    let mut ws = connect(addr).await;
    ws.send(Ws::text(request("OPTIONS", "z9hG4bKws-after", 5)))
        .await
        .unwrap();
    let Message::Response(r) = Message::parse(next_sip(&mut ws).await).unwrap() else {
        panic!("not a response")
    };
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_close_gets_a_close_reply() {
    // RFC 6455 §5.5.1: the server answers a Close frame with one, so the
    // browser sees a clean close (1000), not an abnormal one (1006).
    let addr = server().await;
    let mut ws = connect(addr).await;
    ws.close(None).await.unwrap();
    let reply = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(Ws::Close(_))) => return true,
                Some(Ok(_)) => continue,
                None | Some(Err(_)) => return false,
            }
        }
    })
    .await
    .expect("the connection ended");
    assert!(reply, "the server closed without a Close frame");
}
