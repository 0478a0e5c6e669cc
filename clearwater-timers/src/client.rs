//! HTTP clients: [`ChronosClient`] (a [`TimerService`] over the Chronos API)
//! and [`HttpPopSink`] (pops as `POST <callback URI>`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::{Pop, PopSink, TimerError, TimerId, TimerService, TimerSpec, api};

/// Largest answer body read (bytes).
const MAX_ANSWER: usize = 64 * 1024;

/// A pooled HTTP/1.1 client with a per-request timeout.
#[derive(Clone)]
pub(crate) struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

/// An answer: status, headers, body.
pub(crate) type Answer = (StatusCode, HeaderMap, Bytes);

impl Http {
    pub(crate) fn new(timeout: Duration) -> Http {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Http { client, timeout }
    }

    /// Sends one request; `Err` for a connection failure, a timeout or an
    /// unreadable answer.
    pub(crate) async fn send(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&'static str, String)],
        body: Bytes,
    ) -> Result<Answer, String> {
        let mut req = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            req = req.header(*name, value.as_str());
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| format!("bad request to {uri}: {e}"))?;
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| format!("{uri}: {e}"))?;
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| format!("{uri}: reading the answer: {e}"))?
                .to_bytes();
            Ok((parts.status, parts.headers, body))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(format!("{uri}: no answer within {:?}", self.timeout)),
        }
    }
}

/// Delivers pops as the Chronos service does: `POST <callback>` with the
/// opaque data as the body and the pop's sequence number in
/// `X-Sequence-Number`. Any 2xx answer is a delivery; anything else (or no
/// answer within the timeout, default 2 s) is a [`TimerError::Delivery`].
#[derive(Clone)]
pub struct HttpPopSink {
    http: Http,
}

impl HttpPopSink {
    /// A sink with the default 2 s timeout.
    pub fn new() -> HttpPopSink {
        HttpPopSink::with_timeout(Duration::from_secs(2))
    }

    /// A sink giving each callback `timeout` to answer.
    pub fn with_timeout(timeout: Duration) -> HttpPopSink {
        HttpPopSink {
            http: Http::new(timeout),
        }
    }
}

impl Default for HttpPopSink {
    fn default() -> HttpPopSink {
        HttpPopSink::new()
    }
}

#[async_trait]
impl PopSink for HttpPopSink {
    async fn pop(&self, pop: Pop) -> Result<(), TimerError> {
        let headers = [("x-sequence-number", pop.sequence.to_string())];
        match self
            .http
            .send(
                Method::POST,
                &pop.callback,
                &headers,
                Bytes::from(pop.opaque),
            )
            .await
        {
            Ok((status, _, _)) if status.is_success() => Ok(()),
            Ok((status, _, _)) => Err(TimerError::Delivery(format!(
                "{} answered {status}",
                pop.callback
            ))),
            Err(e) => Err(TimerError::Delivery(e)),
        }
    }
}

/// A [`TimerService`] using a Chronos-compatible HTTP service (a
/// [`ChronosNode`](crate::ChronosNode) cluster, or Clearwater's Chronos).
///
/// Requests go to the configured nodes in turn; a node that cannot be
/// reached, times out (default 2 s) or answers 5xx is skipped for that
/// request and the next one tried, so the client rides through the loss of
/// any node the cluster can lose. A 4xx answer is final: 400 becomes
/// [`TimerError::Invalid`] with the service's reason.
#[derive(Clone)]
pub struct ChronosClient {
    nodes: Arc<[String]>,
    next: Arc<AtomicUsize>,
    http: Http,
}

impl ChronosClient {
    /// A client of the service at `nodes` (base URIs such as
    /// `http://127.0.0.1:7253`).
    pub fn new<S: AsRef<str>>(
        nodes: impl IntoIterator<Item = S>,
    ) -> Result<ChronosClient, TimerError> {
        let nodes: Vec<String> = nodes
            .into_iter()
            .map(|n| n.as_ref().trim_end_matches('/').to_owned())
            .collect();
        if nodes.is_empty() {
            return Err(TimerError::Invalid("no timer service node given".into()));
        }
        for n in &nodes {
            let ok = n.starts_with("http://") && n.parse::<Uri>().is_ok_and(|u| u.host().is_some());
            if !ok {
                return Err(TimerError::Invalid(format!(
                    "{n} is not an http:// base URI"
                )));
            }
        }
        Ok(ChronosClient {
            nodes: nodes.into(),
            next: Arc::new(AtomicUsize::new(0)),
            http: Http::new(Duration::from_secs(2)),
        })
    }

    /// Sets the time each node has to answer.
    pub fn with_timeout(mut self, timeout: Duration) -> ChronosClient {
        self.http = Http::new(timeout);
        self
    }

    async fn call(&self, method: Method, path: &str, body: Bytes) -> Result<Answer, TimerError> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut last = String::new();
        let headers = [("content-type", "application/json".to_owned())];
        for i in 0..self.nodes.len() {
            let node = &self.nodes[(start + i) % self.nodes.len()];
            let uri = format!("{node}{path}");
            match self
                .http
                .send(method.clone(), &uri, &headers, body.clone())
                .await
            {
                Ok((status, _, body)) if status.is_server_error() => {
                    last = format!(
                        "{uri} answered {status}: {}",
                        String::from_utf8_lossy(&body)
                    );
                }
                Ok((status, _, body)) if status == StatusCode::BAD_REQUEST => {
                    return Err(TimerError::Invalid(reason(&body)));
                }
                Ok(answer) => return Ok(answer),
                Err(e) => last = e,
            }
        }
        Err(TimerError::Unavailable(last))
    }
}

/// The reason in a 400 body (`{"error": "..."}`), or the body itself.
fn reason(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}

fn check_id(id: &TimerId) -> Result<(), TimerError> {
    if id.0.is_empty() || !id.0.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(TimerError::Invalid(format!("{id} is not a timer id")));
    }
    Ok(())
}

fn unexpected(status: StatusCode, body: &[u8]) -> TimerError {
    TimerError::Unavailable(format!(
        "unexpected answer {status}: {}",
        String::from_utf8_lossy(body)
    ))
}

#[async_trait]
impl TimerService for ChronosClient {
    async fn set(&self, spec: TimerSpec) -> Result<TimerId, TimerError> {
        spec.validate()?;
        let body = Bytes::from(api::timer_body(&spec).to_string());
        let (status, headers, body) = self.call(Method::POST, "/timers", body).await?;
        if !status.is_success() {
            return Err(unexpected(status, &body));
        }
        let location = headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| TimerError::Unavailable("answer without a Location".into()))?;
        let id = location
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("");
        let id = TimerId(id.to_owned());
        check_id(&id).map_err(|_| TimerError::Unavailable(format!("bad Location {location}")))?;
        Ok(id)
    }

    async fn update(&self, id: &TimerId, spec: TimerSpec) -> Result<(), TimerError> {
        spec.validate()?;
        check_id(id)?;
        let body = Bytes::from(api::timer_body(&spec).to_string());
        let (status, _, body) = self
            .call(Method::PUT, &format!("/timers/{id}"), body)
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(unexpected(status, &body))
        }
    }

    async fn cancel(&self, id: &TimerId) -> Result<(), TimerError> {
        check_id(id)?;
        let (status, _, body) = self
            .call(Method::DELETE, &format!("/timers/{id}"), Bytes::new())
            .await?;
        if status.is_success() || status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(unexpected(status, &body))
        }
    }
}
