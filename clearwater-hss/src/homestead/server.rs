//! The Homestead HTTP service (see the [module docs](super)).

use std::io;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_body_util::{BodyExt, Limited};
use tokio::net::TcpListener;

use crate::http::{ApiKeys, ServeConfig, error};
use crate::{
    AssignmentType, AuthRequest, AuthScheme, AuthVector, AuthorizationType, Hss, HssError,
    LocationQuery, RegData, ServerAssignment, UserAuthorization,
};

use super::wire::{self, Query};

/// Limits and keys of the Homestead service.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HomesteadConfig {
    /// Shared-secret API keys (default: none, the service is open).
    pub api_keys: ApiKeys,
    /// Largest request body accepted, in bytes (default 16 KiB; the
    /// `reg-data` PUT body is a few dozen bytes).
    pub max_body_bytes: usize,
    /// Longest identity (IMPI, IMPU, server name) accepted after
    /// percent-decoding, in bytes (default 1024, the store's key limit).
    pub max_identity_bytes: usize,
}

impl Default for HomesteadConfig {
    fn default() -> HomesteadConfig {
        HomesteadConfig {
            api_keys: ApiKeys::open(),
            max_body_bytes: 16 * 1024,
            max_identity_bytes: 1024,
        }
    }
}

impl HomesteadConfig {
    /// Sets [`HomesteadConfig::api_keys`].
    pub fn with_api_keys(mut self, keys: ApiKeys) -> Self {
        self.api_keys = keys;
        self
    }

    /// Sets [`HomesteadConfig::max_body_bytes`].
    pub fn with_max_body_bytes(mut self, n: usize) -> Self {
        self.max_body_bytes = n;
        self
    }

    /// Sets [`HomesteadConfig::max_identity_bytes`].
    pub fn with_max_identity_bytes(mut self, n: usize) -> Self {
        self.max_identity_bytes = n;
        self
    }
}

struct App {
    hss: Arc<dyn Hss>,
    config: HomesteadConfig,
}

type AppState = State<Arc<App>>;

/// The Homestead API over `hss` (see the [module docs](super)).
pub fn router(hss: Arc<dyn Hss>, config: HomesteadConfig) -> Router {
    let keys = config.api_keys.clone();
    let app = Arc::new(App { hss, config });
    let api = Router::new()
        .route("/impi/{impi}/av", get(av))
        .route("/impi/{impi}/av/{scheme}", get(av_with_scheme))
        .route("/impi/{impi}/digest", get(legacy_digest))
        .route("/impi/{impi}/registration-status", get(registration_status))
        .route("/impu/{impu}/location", get(location))
        .route("/impu/{impu}/reg-data", get(reg_data_get).put(reg_data_put))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app);
    keys.protect(api)
        .merge(Router::new().route("/ping", get(|| async { "OK" })))
}

/// Serves the Homestead API over `hss` on `listener` until the future is
/// dropped (see [`crate::http::serve`]).
pub async fn serve(
    listener: TcpListener,
    hss: Arc<dyn Hss>,
    config: HomesteadConfig,
    serve_config: ServeConfig,
) -> io::Result<()> {
    crate::http::serve(listener, router(hss, config), serve_config).await
}

// ---------------------------------------------------------------------------
// Handlers

async fn av(
    State(app): AppState,
    impi: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    respond(authenticate(&app, impi, None, query.as_deref()).await)
}

async fn av_with_scheme(
    State(app): AppState,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let (impi, scheme) = match path {
        Ok(Path((impi, scheme))) => (Ok(Path(impi)), scheme),
        Err(e) => return respond(Err(bad_path(&e))),
    };
    respond(authenticate(&app, impi, Some(&scheme), query.as_deref()).await)
}

async fn authenticate(
    app: &App,
    impi: Result<Path<String>, PathRejection>,
    scheme: Option<&str>,
    query: Option<&str>,
) -> Result<Response, Reject> {
    let impi = identity(app, impi, "private identity")?;
    let scheme = match scheme {
        None => AuthScheme::Unknown,
        Some("digest") => AuthScheme::Digest,
        Some("aka") => AuthScheme::Aka,
        Some("aka2") => {
            return Err(reject(
                StatusCode::NOT_FOUND,
                "authentication scheme aka2 (Digest-AKAv2-SHA-256) is not supported",
            ));
        }
        Some(other) => {
            return Err(reject(
                StatusCode::NOT_FOUND,
                &format!("unknown authentication scheme {other:?} (expected digest or aka)"),
            ));
        }
    };
    let q = query_of(query)?;
    let impu = param_identity(app, &q, "impu")?;
    let server_name = optional_identity(app, &q, "server-name")?.unwrap_or_default();
    let resync = match q.get("resync-auth").map_err(bad_request)? {
        None => None,
        Some(_) if scheme == AuthScheme::Digest => {
            return Err(bad_request("resync-auth only applies to AKA"));
        }
        Some(v) => Some(wire::parse_resync(v).map_err(bad_request)?),
    };
    let req = AuthRequest {
        impi,
        impu,
        scheme,
        server_name,
        resync,
    };
    let vector = app.hss.authenticate(&req).await.map_err(hss_error)?;
    Ok(json(wire::av_body(&vector)))
}

async fn legacy_digest(
    State(app): AppState,
    impi: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    respond(
        async {
            let impi = identity(&app, impi, "private identity")?;
            let q = query_of(query.as_deref())?;
            let impu = param_identity(&app, &q, "public_id")?;
            let req = AuthRequest {
                impi,
                impu,
                scheme: AuthScheme::Digest,
                server_name: String::new(),
                resync: None,
            };
            match app.hss.authenticate(&req).await.map_err(hss_error)? {
                AuthVector::Digest(d) => Ok(json(wire::digest_ha1_body(&d.ha1))),
                AuthVector::Aka(_) => Err(reject(
                    StatusCode::NOT_FOUND,
                    "digest requested, but the HSS answered with an AKA vector",
                )),
            }
        }
        .await,
    )
}

async fn registration_status(
    State(app): AppState,
    impi: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    respond(
        async {
            let impi = identity(&app, impi, "private identity")?;
            let q = query_of(query.as_deref())?;
            let impu = param_identity(&app, &q, "impu")?;
            let visited_network = optional_identity(&app, &q, "visited-network")?;
            let kind = match q.get("auth-type").map_err(bad_request)? {
                None | Some("REG") => AuthorizationType::Registration,
                Some("DEREG") => AuthorizationType::Deregistration,
                Some("CAPAB") => AuthorizationType::RegistrationAndCapabilities,
                Some(other) => {
                    return Err(bad_request(format!(
                        "auth-type {other:?} is not REG, DEREG or CAPAB"
                    )));
                }
            };
            let req = UserAuthorization {
                impi,
                impu,
                visited_network,
                kind,
            };
            let selection = app.hss.authorize_user(&req).await.map_err(hss_error)?;
            Ok(json(wire::selection_body(&selection)))
        }
        .await,
    )
}

async fn location(
    State(app): AppState,
    impu: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    respond(
        async {
            let impu = identity(&app, impu, "public identity")?;
            let q = query_of(query.as_deref())?;
            let originating = match q.get("originating").map_err(bad_request)? {
                None | Some("false") => false,
                Some("true") => true,
                Some(other) => {
                    return Err(bad_request(format!(
                        "originating {other:?} is not true or false"
                    )));
                }
            };
            let with_capabilities = match q.get("auth-type").map_err(bad_request)? {
                None => false,
                Some("CAPAB") => true,
                Some(other) => {
                    return Err(bad_request(format!(
                        "auth-type {other:?} is not CAPAB (the only type location takes)"
                    )));
                }
            };
            let req = LocationQuery {
                impu,
                originating,
                with_capabilities,
            };
            match app.hss.locate(&req).await {
                Ok(selection) => Ok(json(wire::selection_body(&selection))),
                Err(HssError::NotRegistered(_)) => Ok(json(wire::not_registered_body())),
                Err(e) => Err(hss_error(e)),
            }
        }
        .await,
    )
}

async fn reg_data_get(
    State(app): AppState,
    impu: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    respond(
        async {
            let impu = identity(&app, impu, "public identity")?;
            let q = query_of(query.as_deref())?;
            let impi = optional_identity(&app, &q, "private_id")?;
            let req = ServerAssignment {
                impu,
                impi,
                server_name: String::new(),
                kind: AssignmentType::NoAssignment,
            };
            let data = app.hss.assign_server(&req).await.map_err(hss_error)?;
            Ok(xml(&data))
        }
        .await,
    )
}

async fn reg_data_put(
    State(app): AppState,
    impu: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(
        async {
            let impu = identity(&app, impu, "public identity")?;
            let q = query_of(query.as_deref())?;
            let impi = optional_identity(&app, &q, "private_id")?;
            let body = Limited::new(body, app.config.max_body_bytes)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        reject(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            &format!(
                                "the body is larger than {} bytes",
                                app.config.max_body_bytes
                            ),
                        )
                    } else {
                        bad_request(format!("reading the body: {e}"))
                    }
                })?
                .to_bytes();
            let (mut kind, server_name) = put_body(&app, &body)?;
            let no_cache = headers
                .get_all(header::CACHE_CONTROL)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .any(|d| d.trim().eq_ignore_ascii_case("no-cache"));
            if kind == AssignmentType::Registration && no_cache {
                kind = AssignmentType::ReRegistration;
            }
            let req = ServerAssignment {
                impu,
                impi,
                server_name,
                kind,
            };
            let data = app.hss.assign_server(&req).await.map_err(hss_error)?;
            Ok(xml(&data))
        }
        .await,
    )
}

/// Reads `{"reqtype": "...", "server_name": "..."}`.
fn put_body(app: &App, body: &[u8]) -> Result<(AssignmentType, String), Reject> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| bad_request(format!("the body is not JSON: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| bad_request("the body must be a JSON object"))?;
    let reqtype = match object.get("reqtype") {
        None => return Err(bad_request("the body has no reqtype")),
        Some(serde_json::Value::String(s)) => s,
        Some(_) => return Err(bad_request("reqtype must be a string")),
    };
    let kind = AssignmentType::from_homestead_reqtype(reqtype).ok_or_else(|| {
        bad_request(format!(
            "unknown reqtype {reqtype:?} (expected reg, call, dereg-user, dereg-admin, \
             dereg-timeout, dereg-auth-failed or dereg-auth-timeout)"
        ))
    })?;
    let server_name = match object.get("server_name") {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => {
            check_length(app, s, "server_name")?;
            s.clone()
        }
        Some(_) => return Err(bad_request("server_name must be a string")),
    };
    match object.get("wildcard_identity") {
        None | Some(serde_json::Value::Null | serde_json::Value::String(_)) => {}
        Some(_) => return Err(bad_request("wildcard_identity must be a string")),
    }
    Ok((kind, server_name))
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such resource in the Homestead API",
    )
}

async fn method_not_allowed() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this resource",
    )
}

// ---------------------------------------------------------------------------
// Helpers

/// An error answer not yet built: status and reason.
struct Reject {
    status: StatusCode,
    reason: String,
}

fn reject(status: StatusCode, reason: &str) -> Reject {
    Reject {
        status,
        reason: reason.to_owned(),
    }
}

fn respond(result: Result<Response, Reject>) -> Response {
    result.unwrap_or_else(|e| error(e.status, &e.reason))
}

fn json(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

fn xml(data: &RegData) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/xml")],
        data.to_xml(),
    )
        .into_response()
}

fn bad_request(reason: impl AsRef<str>) -> Reject {
    reject(StatusCode::BAD_REQUEST, reason.as_ref())
}

fn bad_path(e: &PathRejection) -> Reject {
    bad_request(format!("bad identity in the path: {}", e.body_text()))
}

fn hss_error(e: HssError) -> Reject {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::warn!("homestead: {e}");
    } else {
        tracing::debug!("homestead: {e}");
    }
    Reject {
        status,
        reason: e.to_string(),
    }
}

fn query_of(raw: Option<&str>) -> Result<Query, Reject> {
    Query::parse(raw).map_err(bad_request)
}

fn check_length(app: &App, value: &str, what: &str) -> Result<(), Reject> {
    if value.len() > app.config.max_identity_bytes {
        return Err(bad_request(format!(
            "{what} is longer than {} bytes",
            app.config.max_identity_bytes
        )));
    }
    Ok(())
}

/// The identity in the path, decoded and checked.
fn identity(
    app: &App,
    path: Result<Path<String>, PathRejection>,
    what: &str,
) -> Result<String, Reject> {
    let Path(value) = path.map_err(|e| bad_path(&e))?;
    if value.is_empty() {
        return Err(bad_request(format!("the {what} is empty")));
    }
    check_length(app, &value, what)?;
    Ok(value)
}

/// A required identity parameter.
fn param_identity(app: &App, q: &Query, name: &str) -> Result<String, Reject> {
    let value = q.required(name).map_err(bad_request)?;
    check_length(app, value, name)?;
    Ok(value.to_owned())
}

/// An optional identity parameter (empty = absent).
fn optional_identity(app: &App, q: &Query, name: &str) -> Result<Option<String>, Reject> {
    match q.get(name).map_err(bad_request)? {
        None | Some("") => Ok(None),
        Some(v) => {
            check_length(app, v, name)?;
            Ok(Some(v.to_owned()))
        }
    }
}
