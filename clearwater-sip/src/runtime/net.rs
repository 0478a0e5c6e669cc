//! Socket tasks: UDP readers, TCP and WebSocket connections. Each task only
//! moves bytes; everything it learns goes to the driver as an [`Event`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode as HttpStatus};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};

use crate::framing::{Frame, FrameScan, Framer, PONG};
use crate::transaction::TxId;
use crate::transport::{FlowId, Remote, Transport};

/// What the socket tasks tell the driver.
pub(crate) enum Event {
    /// One message's bytes (a datagram, a framed stream message, a WebSocket
    /// message).
    Message { data: Bytes, from: Remote },
    /// A connection is up; `out` feeds its writer.
    Connected {
        flow: FlowId,
        peer: SocketAddr,
        transport: Transport,
        out: mpsc::Sender<Bytes>,
    },
    /// A TCP or WebSocket listener accepted a stream.
    Accepted {
        stream: TcpStream,
        peer: SocketAddr,
        transport: Transport,
    },
    /// An outbound TCP connection could not be made; `waiting` are the
    /// transactions whose message opened it.
    ConnectFailed {
        peer: SocketAddr,
        waiting: Vec<TxId>,
    },
    /// A connection ended.
    Closed { flow: FlowId },
}

/// Reads datagrams from a UDP socket forever.
pub(crate) async fn udp_reader(sock: Arc<UdpSocket>, flow: FlowId, events: mpsc::Sender<Event>) {
    let mut buf = vec![0u8; 65_535];
    loop {
        match sock.recv_from(&mut buf).await {
            Ok((n, addr)) => {
                let from = Remote::new(Transport::Udp, addr).with_flow(flow);
                let data = Bytes::copy_from_slice(&buf[..n]);
                if events.send(Event::Message { data, from }).await.is_err() {
                    return;
                }
            }
            // ICMP errors surface here on some systems; keep reading.
            Err(e) => tracing::debug!("udp recv: {e}"),
        }
    }
}

/// Accepts TCP (or WebSocket) connections forever and hands them to the driver.
pub(crate) async fn acceptor(
    listener: TcpListener,
    transport: Transport,
    events: mpsc::Sender<Event>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let ev = Event::Accepted {
                    stream,
                    peer,
                    transport,
                };
                if events.send(ev).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// What a connection task needs to know.
pub(crate) struct Link {
    pub(crate) flow: FlowId,
    pub(crate) peer: SocketAddr,
    pub(crate) framer: Framer,
    pub(crate) idle: Duration,
    /// Longest one write may take before the connection is closed.
    pub(crate) write_timeout: Duration,
    pub(crate) events: mpsc::Sender<Event>,
}

/// Writes `data` whole within `limit`; false when it failed or stalled.
async fn write_within<W: AsyncWrite + Unpin>(wr: &mut W, data: &[u8], limit: Duration) -> bool {
    matches!(
        tokio::time::timeout(limit, wr.write_all(data)).await,
        Ok(Ok(()))
    )
}

/// Connects to `link.peer` over TCP, then runs the connection. What the
/// driver queued on `out_tx` while connecting goes out first, in order; on
/// failure the transactions in `waiting` are reported.
pub(crate) async fn tcp_connect(
    link: Link,
    waiting: Vec<TxId>,
    out_rx: mpsc::Receiver<Bytes>,
    out_tx: mpsc::Sender<Bytes>,
) {
    let peer = link.peer;
    let stream = match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(peer)).await
    {
        Ok(Ok(s)) => s,
        _ => {
            let _ = link
                .events
                .send(Event::ConnectFailed { peer, waiting })
                .await;
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let _ = link
        .events
        .send(Event::Connected {
            flow: link.flow,
            peer,
            transport: Transport::Tcp,
            out: out_tx,
        })
        .await;
    tcp_conn(stream, link, out_rx).await;
}

/// Runs a TCP connection: frames inbound bytes (answering RFC 5626 pings),
/// writes what the driver queues, closes after `idle` without traffic.
pub(crate) async fn tcp_conn(stream: TcpStream, link: Link, mut out: mpsc::Receiver<Bytes>) {
    let Link {
        flow,
        peer,
        framer,
        idle,
        write_timeout,
        events,
    } = link;
    let (mut rd, mut wr) = stream.into_split();
    let mut buf = BytesMut::with_capacity(8192);
    // Resumed between reads: a message trickled in small pieces is scanned
    // once, not once per read.
    let mut scan = FrameScan::default();
    let from = Remote::new(Transport::Tcp, peer).with_flow(flow);
    // The last frame was a lone CRLF: with another one right behind it, the
    // two are a ping that arrived split across reads (RFC 5626 §4.4.1).
    let mut lone_crlf = false;
    'conn: loop {
        tokio::select! {
            r = tokio::time::timeout(idle, rd.read_buf(&mut buf)) => {
                match r {
                    Ok(Ok(n)) if n > 0 => {}
                    _ => break 'conn, // idle timeout, EOF or error
                }
                loop {
                    match framer.frame_resume(&buf, &mut scan) {
                        Ok(Frame::Complete(n)) => {
                            lone_crlf = false;
                            let data = buf.split_to(n).freeze();
                            if events.send(Event::Message { data, from }).await.is_err() {
                                break 'conn;
                            }
                        }
                        Ok(f @ Frame::Ping) => {
                            lone_crlf = false;
                            buf.advance(f.len());
                            if !write_within(&mut wr, PONG, write_timeout).await {
                                break 'conn;
                            }
                        }
                        Ok(f @ Frame::Pong) => {
                            buf.advance(f.len());
                            let second_half = lone_crlf;
                            lone_crlf = !second_half;
                            if second_half && !write_within(&mut wr, PONG, write_timeout).await
                            {
                                break 'conn;
                            }
                        }
                        Ok(_) => break, // partial
                        Err(e) => {
                            // The stream's framing is lost: answer the
                            // request if it can be (513, 400), then close.
                            tracing::debug!("framing error from {peer}: {e}");
                            if let Some(resp) = crate::triage::framing_error_response(&buf, &e) {
                                let _ = write_within(&mut wr, &resp, write_timeout).await;
                            }
                            break 'conn;
                        }
                    }
                }
            }
            data = out.recv() => {
                match data {
                    Some(d) => if !write_within(&mut wr, &d, write_timeout).await { break 'conn; },
                    None => break 'conn,
                }
            }
        }
    }
    let _ = events.send(Event::Closed { flow }).await;
}

/// Runs a WebSocket connection (RFC 7118): the handshake must offer the `sip`
/// subprotocol; every text or binary message is one SIP message.
pub(crate) async fn ws_conn(
    stream: TcpStream,
    link: Link,
    out_tx: mpsc::Sender<Bytes>,
    mut out: mpsc::Receiver<Bytes>,
) {
    let Link {
        flow,
        peer,
        idle,
        write_timeout,
        events,
        framer,
    } = link;
    // A WebSocket message is one SIP message: hold it to the same size limit
    // as the other transports, and refuse before buffering more.
    let max = framer.limits().max_message_size;
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    // The callback's signature is tungstenite's.
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        let offers_sip = req
            .headers()
            .get_all("Sec-WebSocket-Protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|p| p.trim().eq_ignore_ascii_case("sip"));
        if !offers_sip {
            let mut err = ErrorResponse::new(Some("the sip subprotocol is required".into()));
            *err.status_mut() = HttpStatus::BAD_REQUEST;
            return Err(err);
        }
        resp.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
        Ok(resp)
    };
    let ws = match tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(ws_config)),
    )
    .await
    {
        Ok(Ok(ws)) => ws,
        _ => {
            let _ = events.send(Event::Closed { flow }).await;
            return;
        }
    };
    let _ = events
        .send(Event::Connected {
            flow,
            peer,
            transport: Transport::Ws,
            out: out_tx,
        })
        .await;
    let from = Remote::new(Transport::Ws, peer).with_flow(flow);
    let (mut sink, mut source) = ws.split();
    loop {
        tokio::select! {
            m = tokio::time::timeout(idle, source.next()) => {
                let data = match m {
                    Ok(Some(Ok(WsMessage::Text(t)))) => Bytes::from(t),
                    Ok(Some(Ok(WsMessage::Binary(b)))) => b,
                    Ok(Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_)))) => continue,
                    _ => break, // close, error, idle timeout
                };
                if events.send(Event::Message { data, from }).await.is_err() {
                    break;
                }
            }
            data = out.recv() => {
                let Some(d) = data else { break };
                // Text when the message is UTF-8 (no copy: the bytes are shared).
                let msg = match Utf8Bytes::try_from(d.clone()) {
                    Ok(text) => WsMessage::Text(text),
                    Err(_) => WsMessage::Binary(d),
                };
                if !matches!(tokio::time::timeout(write_timeout, sink.send(msg)).await, Ok(Ok(()))) {
                    break;
                }
            }
        }
    }
    // The closing handshake (RFC 6455 §5.5.1): the reply to a client's Close
    // (queued by tungstenite), or our own Close; bounded like any write.
    let _ = tokio::time::timeout(write_timeout, sink.close()).await;
    let _ = events.send(Event::Closed { flow }).await;
}
