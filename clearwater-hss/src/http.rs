//! What the Homestead (8888) and Homestead-prov (8889) services share: the
//! shared-secret API keys, error bodies and the connection loop.
//!
//! ## API keys
//!
//! Clearwater protects its HTTP APIs with shared secrets. A service built
//! with a non-empty [`ApiKeys`] refuses every request that does not carry
//! one of the keys in the `NGV-API-Key` header (Clearwater's name) or as
//! `Authorization: Bearer <key>`, with `401` and a reason. Keys are compared
//! in constant time. An empty set means the service is open (for loopback
//! deployments and tests).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// The header Clearwater uses for its shared-secret API keys.
pub const API_KEY_HEADER: &str = "NGV-API-Key";

/// A set of accepted shared-secret API keys (see the [module docs](self)).
#[derive(Clone, Default)]
pub struct ApiKeys {
    /// SHA-256 of each key: offered keys are compared by digest, so the
    /// time taken says nothing of a key's length or bytes.
    keys: Arc<Vec<[u8; 32]>>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} keys)", self.keys.len())
    }
}

impl ApiKeys {
    /// No keys: every request is accepted.
    pub fn open() -> ApiKeys {
        ApiKeys::default()
    }

    /// Accepts requests carrying any of `keys` (empty keys are ignored).
    pub fn new<I, S>(keys: I) -> ApiKeys
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        ApiKeys {
            keys: Arc::new(
                keys.into_iter()
                    .filter(|k| !k.as_ref().is_empty())
                    .map(|k| digest(k.as_ref().as_bytes()))
                    .collect(),
            ),
        }
    }

    /// Whether no key is required.
    pub fn is_open(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks a request's headers.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        if self.is_open() {
            return Ok(());
        }
        let offered = headers
            .get(API_KEY_HEADER)
            .map(|v| v.as_bytes())
            .or_else(|| {
                headers.get(header::AUTHORIZATION).and_then(|v| {
                    let v = v.as_bytes();
                    // The scheme name is case-insensitive (RFC 9110 §11.1).
                    (v.len() > 7 && v[..7].eq_ignore_ascii_case(b"bearer ")).then(|| &v[7..])
                })
            });
        let Some(offered) = offered else {
            return Err("missing API key (NGV-API-Key header)");
        };
        // Check every key, so the time taken does not say which matched.
        let offered = digest(offered);
        let mut ok = false;
        for k in self.keys.iter() {
            ok |= ct_eq(k, &offered);
        }
        if ok { Ok(()) } else { Err("wrong API key") }
    }

    /// Wraps `router` so that every route checks the key.
    pub fn protect<S: Clone + Send + Sync + 'static>(&self, router: Router<S>) -> Router<S> {
        if self.is_open() {
            return router;
        }
        let keys = self.clone();
        router.layer(axum::middleware::from_fn(
            move |req: Request, next: Next| {
                let keys = keys.clone();
                async move {
                    match keys.check(req.headers()) {
                        Ok(()) => next.run(req).await,
                        Err(reason) => error(StatusCode::UNAUTHORIZED, reason),
                    }
                }
            },
        ))
    }
}

fn digest(key: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(key).into()
}

/// Equality of two digests in time independent of their bytes.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A request body that fails once its deadline passes while it is still
/// incomplete.
struct DeadlineBody {
    inner: axum::body::Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl hyper::body::Body for DeadlineBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match this.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(io::Error::new(
                io::ErrorKind::TimedOut,
                "request body not received in time",
            ))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// An error response: `status` with a JSON body `{"reason": ...}`.
pub fn error(status: StatusCode, reason: &str) -> Response {
    let body = serde_json::json!({ "reason": reason }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Connection limits for [`serve`].
#[derive(Debug, Clone, Copy)]
pub struct ServeConfig {
    /// Most connections served at once; more are closed on accept.
    pub max_connections: usize,
    /// Time allowed to read a request's headers.
    pub header_timeout: Duration,
    /// Time allowed to receive a request's body, from the end of its
    /// headers (default 10 s). A body still incomplete then is an error for
    /// the handler (the request fails, the connection is freed): a client
    /// trickling its body cannot hold a connection.
    pub body_timeout: Duration,
}

impl Default for ServeConfig {
    fn default() -> ServeConfig {
        ServeConfig {
            max_connections: 10_000,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
        }
    }
}

/// Pause after a failed `accept` (descriptors exhausted...) before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `router` on `listener` (HTTP/1.1) until the future is dropped;
/// the connections are owned by the future and end with it. A failed
/// `accept` (out of file descriptors, a connection reset before it was
/// taken) is logged and accepting goes on after a short pause; the `Result`
/// is kept for compatibility and is never an error.
pub async fn serve(listener: TcpListener, router: Router, config: ServeConfig) -> io::Result<()> {
    let body_timeout = config.body_timeout;
    let router = router.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| async move {
            // A request without a body (GETs) needs no deadline.
            if hyper::body::Body::is_end_stream(req.body()) {
                return next.run(req).await;
            }
            next.run(req.map(|inner| {
                axum::body::Body::new(DeadlineBody {
                    inner,
                    deadline: Box::pin(tokio::time::sleep(body_timeout)),
                })
            }))
            .await
        },
    ));
    // Outermost: each request runs in a task of its own, so a client that
    // goes away cannot cancel a handler half-way through its writes (hyper
    // drops the connection's futures on EOF), and a handler that panics
    // answers 500 instead of ending the connection.
    let router = router.layer(axum::middleware::from_fn(
        |req: Request, next: Next| async move {
            match tokio::spawn(next.run(req)).await {
                Ok(response) => response,
                Err(e) => {
                    tracing::error!("HTTP handler failed: {e}");
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            }
        },
    ));
    let service = TowerToHyperService::new(router);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of descriptors or buffers, or one connection
                        // that failed: keep serving the others.
                        tracing::warn!("accept: {e}");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                if connections.len() >= config.max_connections {
                    tracing::warn!("connection limit {} reached", config.max_connections);
                    drop(stream);
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(config.header_timeout)
                    .serve_connection(TokioIo::new(stream), service.clone());
                connections.spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("HTTP connection: {e}");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// A client that sends its request and goes away at once does not
    /// cancel the handler: a provisioning write finishes (or is undone) as
    /// a whole, whatever the client does.
    #[tokio::test]
    async fn a_client_that_hangs_up_does_not_cancel_its_handler() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use tokio::io::AsyncWriteExt;
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let router = Router::new().route(
            "/work",
            axum::routing::post(move |_body: axum::body::Bytes| {
                let d = d.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    d.store(true, Ordering::SeqCst);
                    "done"
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve(listener, router, ServeConfig::default()));
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        client
            .write_all(b"POST /work HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(client);
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(done.load(Ordering::SeqCst), "the handler was cancelled");
        server.abort();
    }

    #[test]
    fn keys_are_checked() {
        let keys = ApiKeys::new(["secret", ""]);
        let mut h = HeaderMap::new();
        assert!(keys.check(&h).is_err());
        h.insert(API_KEY_HEADER, HeaderValue::from_static("secreT"));
        assert_eq!(keys.check(&h), Err("wrong API key"));
        h.insert(API_KEY_HEADER, HeaderValue::from_static("secret"));
        assert_eq!(keys.check(&h), Ok(()));
        let mut b = HeaderMap::new();
        b.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer secret"),
        );
        assert_eq!(keys.check(&b), Ok(()));
        // The scheme name in any case; a key that only starts right is wrong.
        b.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bEARER secret"),
        );
        assert_eq!(keys.check(&b), Ok(()));
        for wrong in ["Bearer secre", "Bearer secrets", "Bearer", "Basic secret"] {
            b.insert(header::AUTHORIZATION, HeaderValue::from_static(wrong));
            assert!(keys.check(&b).is_err(), "{wrong}");
        }
        assert!(ApiKeys::open().check(&HeaderMap::new()).is_ok());
        assert!(ApiKeys::new([""]).is_open());
    }
}
