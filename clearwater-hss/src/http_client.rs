//! [`HttpHss`]: an [`Hss`] that is a client of a Homestead API (this
//! crate's [`homestead`](crate::homestead) service, or Clearwater's
//! Homestead), so that an S-CSCF runs apart from the HSS cache.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::homestead::wire::{self, encode_component, query_string};
use crate::http::API_KEY_HEADER;
use crate::{
    AssignmentType, AuthRequest, AuthScheme, AuthVector, AuthorizationType, Hss, HssError,
    LocationQuery, RegData, ServerAssignment, ServerSelection, UserAuthorization,
};

/// Largest answer body read: a `ClearwaterRegData` holds a subscription of
/// up to 1 MiB.
const MAX_ANSWER: usize = 1024 * 1024 + 64 * 1024;

/// An [`Hss`] over HTTP: each operation is one request to a Homestead API
/// (see [`crate::homestead`] for the mapping).
///
/// * Identities are percent-encoded in paths and query values.
/// * Each request has a timeout (default 2 s, covering connect, request
///   and answer): running out is [`HssError::Timeout`]. A connection that
///   cannot be made (refused, unreachable) or breaks is
///   [`HssError::Unavailable`]. Connections are pooled and kept alive.
/// * Error answers map back to [`HssError`] (the inverse of
///   [`HssError::http_status`]), using the `{"reason": ...}` body: `400`
///   [`HssError::Invalid`]; `403` [`HssError::Auth`] or
///   [`HssError::Rejected`] (code from the reason, else 5003
///   DIAMETER_AUTHORIZATION_REJECTED); `404` [`HssError::UserUnknown`],
///   [`HssError::IdentitiesDontMatch`] or [`HssError::NotRegistered`] as the
///   reason says (Clearwater's empty 404 is `UserUnknown`); `504`
///   [`HssError::Timeout`]; `401` (wrong API key) and every other status
///   [`HssError::Unavailable`] with the status and the reason. A `200` that
///   cannot be read is [`HssError::Unavailable`].
/// * [`AssignmentType::ReRegistration`] is sent as `reg` with
///   `Cache-Control: no-cache` (the cache must pass it to the HSS);
///   [`AssignmentType::NoAssignment`] is a `GET`.
/// * A `ClearwaterRegData` answer has no associated IMPIs:
///   [`RegData::associated_impis`] comes back empty. Capabilities'
///   `server_names` are not carried either (Homestead sends one server
///   name, as `scscf`).
/// * PPR/RTR do not travel over this API: [`Hss::set_listener`] is the
///   default no-op.
#[derive(Clone)]
pub struct HttpHss {
    base: String,
    api_key: Option<String>,
    timeout: Duration,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl std::fmt::Debug for HttpHss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpHss")
            .field("base", &self.base)
            .field("api_key", &self.api_key.as_ref().map(|_| "…"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HttpHss {
    /// A client of the Homestead API at `base` (`http://host:port`, a path
    /// prefix allowed), with a 2 s timeout and no API key.
    ///
    /// # Errors
    ///
    /// [`HssError::Invalid`] for a base that is not an `http://` URI with a
    /// host.
    pub fn new(base: &str) -> Result<HttpHss, HssError> {
        let base = base.trim_end_matches('/').to_owned();
        let ok =
            base.starts_with("http://") && base.parse::<Uri>().is_ok_and(|u| u.host().is_some());
        if !ok {
            return Err(HssError::Invalid(format!(
                "{base} is not an http:// base URI"
            )));
        }
        let timeout = Duration::from_secs(2);
        Ok(HttpHss {
            base,
            api_key: None,
            timeout,
            client: client(timeout),
        })
    }

    /// Sends `key` in the `NGV-API-Key` header of every request.
    pub fn with_api_key(mut self, key: impl Into<String>) -> HttpHss {
        self.api_key = Some(key.into());
        self
    }

    /// Sets the time each request has, connection included.
    pub fn with_timeout(mut self, timeout: Duration) -> HttpHss {
        self.timeout = timeout;
        self.client = client(timeout);
        self
    }

    /// The base URI.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        extra: Option<(header::HeaderName, &'static str)>,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes), HssError> {
        let uri = format!("{}{path_and_query}", self.base);
        let mut req = Request::builder().method(method).uri(&uri);
        if let Some(key) = &self.api_key {
            req = req.header(API_KEY_HEADER, key.as_str());
        }
        if !body.is_empty() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        if let Some((name, value)) = extra {
            req = req.header(name, value);
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| HssError::Invalid(format!("cannot build a request to {uri}: {e}")))?;
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| {
                let what = if e.is_connect() {
                    "cannot connect"
                } else {
                    "request failed"
                };
                HssError::Unavailable(format!("{uri}: {what}: {}", chain(&e)))
            })?;
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| HssError::Unavailable(format!("{uri}: reading the answer: {e}")))?
                .to_bytes();
            Ok((parts.status, body))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(HssError::Timeout(format!(
                "{uri}: no answer within {:?}",
                self.timeout
            ))),
        }
    }

    /// Sends, and turns any status but 200 into its [`HssError`].
    async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        extra: Option<(header::HeaderName, &'static str)>,
        body: Bytes,
    ) -> Result<Bytes, HssError> {
        let (status, body) = self.send(method, path_and_query, extra, body).await?;
        if status == StatusCode::OK {
            Ok(body)
        } else {
            Err(error_from(status, &body))
        }
    }
}

fn client(timeout: Duration) -> Client<HttpConnector, Full<Bytes>> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(timeout));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector)
}

/// An error and its causes, `: `-separated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// The [`HssError`] for an error answer (see [`HttpHss`]).
fn error_from(status: StatusCode, body: &[u8]) -> HssError {
    let reason = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("reason").and_then(|r| r.as_str()).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_owned());
    let tail = |prefix: &str| reason.strip_prefix(prefix).map(str::to_owned);
    match status.as_u16() {
        400 => HssError::Invalid(tail("invalid document: ").unwrap_or(reason)),
        403 => {
            if let Some(r) = tail("authentication failure: ") {
                return HssError::Auth(r);
            }
            if let Some((code, r)) = reason
                .strip_prefix("rejected (")
                .and_then(|rest| rest.split_once("): "))
                .and_then(|(code, r)| Some((code.parse::<u32>().ok()?, r)))
            {
                return HssError::Rejected {
                    code,
                    reason: r.to_owned(),
                };
            }
            HssError::Rejected { code: 5003, reason }
        }
        404 => {
            if let Some(r) = tail("identities do not match: ") {
                HssError::IdentitiesDontMatch(r)
            } else if let Some(r) = tail("identity not registered: ") {
                HssError::NotRegistered(r)
            } else {
                HssError::UserUnknown(tail("user unknown: ").unwrap_or(reason))
            }
        }
        504 => HssError::Timeout(tail("timeout: ").unwrap_or(reason)),
        502 => HssError::Upstream(tail("bad data from the backend: ").unwrap_or(reason)),
        503 => HssError::Unavailable(tail("unavailable: ").unwrap_or(reason)),
        _ => HssError::Unavailable(format!("Homestead answered {status}: {reason}")),
    }
}

fn unreadable(what: &str, e: impl std::fmt::Display) -> HssError {
    HssError::Unavailable(format!("unreadable {what} answer: {e}"))
}

#[async_trait]
impl Hss for HttpHss {
    async fn authenticate(&self, req: &AuthRequest) -> Result<AuthVector, HssError> {
        let scheme = match req.scheme {
            AuthScheme::Unknown => "",
            AuthScheme::Digest => "/digest",
            AuthScheme::Aka => "/aka",
        };
        let resync = req.resync.as_ref().map(wire::resync_param);
        let path = format!(
            "/impi/{}/av{scheme}{}",
            encode_component(&req.impi),
            query_string(&[
                ("impu", Some(req.impu.as_str())),
                (
                    "server-name",
                    Some(req.server_name.as_str()).filter(|s| !s.is_empty())
                ),
                ("resync-auth", resync.as_deref()),
            ])
        );
        let body = self.call(Method::GET, &path, None, Bytes::new()).await?;
        wire::parse_av_body(&body).map_err(|e| unreadable("av", e))
    }

    async fn assign_server(&self, req: &ServerAssignment) -> Result<RegData, HssError> {
        let path = format!(
            "/impu/{}/reg-data{}",
            encode_component(&req.impu),
            query_string(&[("private_id", req.impi.as_deref())])
        );
        let body = match req.kind.homestead_reqtype() {
            None => self.call(Method::GET, &path, None, Bytes::new()).await?,
            Some(reqtype) => {
                let mut json = serde_json::Map::new();
                json.insert("reqtype".into(), reqtype.into());
                if !req.server_name.is_empty() {
                    json.insert("server_name".into(), req.server_name.clone().into());
                }
                let no_cache = (req.kind == AssignmentType::ReRegistration)
                    .then_some((header::CACHE_CONTROL, "no-cache"));
                let body = Bytes::from(serde_json::Value::Object(json).to_string());
                self.call(Method::PUT, &path, no_cache, body).await?
            }
        };
        let text = std::str::from_utf8(&body).map_err(|e| unreadable("reg-data", e))?;
        RegData::parse(text).map_err(|e| unreadable("reg-data", e))
    }

    async fn authorize_user(&self, req: &UserAuthorization) -> Result<ServerSelection, HssError> {
        let auth_type = match req.kind {
            AuthorizationType::Registration => "REG",
            AuthorizationType::Deregistration => "DEREG",
            AuthorizationType::RegistrationAndCapabilities => "CAPAB",
        };
        let path = format!(
            "/impi/{}/registration-status{}",
            encode_component(&req.impi),
            query_string(&[
                ("impu", Some(req.impu.as_str())),
                ("visited-network", req.visited_network.as_deref()),
                ("auth-type", Some(auth_type)),
            ])
        );
        let body = self.call(Method::GET, &path, None, Bytes::new()).await?;
        wire::parse_selection_body(&body, false, &req.impu)
    }

    async fn locate(&self, req: &LocationQuery) -> Result<ServerSelection, HssError> {
        let path = format!(
            "/impu/{}/location{}",
            encode_component(&req.impu),
            query_string(&[
                ("originating", req.originating.then_some("true")),
                ("auth-type", req.with_capabilities.then_some("CAPAB")),
            ])
        );
        let body = self.call(Method::GET, &path, None, Bytes::new()).await?;
        wire::parse_selection_body(&body, true, &req.impu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_back_to_their_variant() {
        let all = [
            HssError::Invalid("bad".into()),
            HssError::Auth("mac".into()),
            HssError::UserUnknown("sip:a@b".into()),
            HssError::IdentitiesDontMatch("a / b".into()),
            HssError::NotRegistered("sip:a@b".into()),
            HssError::Rejected {
                code: 5004,
                reason: "roaming: not allowed".into(),
            },
            HssError::Unavailable("down".into()),
            HssError::Timeout("slow".into()),
        ];
        for e in all {
            let status = StatusCode::from_u16(e.http_status()).unwrap();
            let body = serde_json::json!({ "reason": e.to_string() }).to_string();
            assert_eq!(error_from(status, body.as_bytes()), e);
        }
        assert_eq!(
            error_from(StatusCode::NOT_FOUND, b""),
            HssError::UserUnknown(String::new())
        );
        assert_eq!(
            error_from(StatusCode::FORBIDDEN, b"{\"reason\":\"no\"}"),
            HssError::Rejected {
                code: 5003,
                reason: "no".into()
            }
        );
        assert!(matches!(
            error_from(StatusCode::UNAUTHORIZED, b"{\"reason\":\"wrong API key\"}"),
            HssError::Unavailable(r) if r.contains("401") && r.contains("wrong API key")
        ));
        assert!(matches!(
            error_from(StatusCode::INTERNAL_SERVER_ERROR, b"oops"),
            HssError::Unavailable(r) if r.contains("500") && r.contains("oops")
        ));
    }

    #[test]
    fn base_uris_are_checked() {
        assert!(HttpHss::new("http://127.0.0.1:8888/").is_ok());
        assert_eq!(
            HttpHss::new("http://127.0.0.1:8888/").unwrap().base(),
            "http://127.0.0.1:8888"
        );
        assert!(HttpHss::new("https://hs").is_err());
        assert!(HttpHss::new("127.0.0.1:8888").is_err());
    }
}
