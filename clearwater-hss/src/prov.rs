//! The Homestead-prov compatible provisioning API (Clearwater's port
//! 8889) over a [`Provisioning`], plus one-step and bulk subscriber
//! creation.
//!
//! ```no_run
//! # async fn demo(provisioning: clearwater_hss::Provisioning) -> std::io::Result<()> {
//! use clearwater_hss::http::{ApiKeys, ServeConfig};
//! use clearwater_hss::prov::ProvApi;
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8889").await?;
//! ProvApi::new(provisioning)
//!     .api_keys(ApiKeys::new(["secret"]))
//!     .serve(listener, ServeConfig::default())
//!     .await
//! # }
//! ```
//!
//! Every route except `GET /ping` checks the API key
//! ([`ApiKeys::protect`]). Path segments are percent-decoded
//! (`sip%3Aalice%40example.net`; `+` is a plus sign). A trailing `/` is
//! accepted on every path. Errors are JSON `{"reason": "..."}`
//! ([`crate::http::error`]). Bodies larger than
//! [`ProvLimits::max_body_bytes`] get `413`.
//!
//! # Routes
//!
//! | route | success | failures |
//! |---|---|---|
//! | `GET /ping` | `200 OK` | |
//! | `PUT /private/<impi>` | `200` (created or updated) | `400` |
//! | `GET /private/<impi>` | `200` `{"digest_ha1", "realm"}` or `{"aka": {"amf", "sqn"}}` | `404` |
//! | `DELETE /private/<impi>` | `200` | `204` unknown |
//! | `GET /private/<impi>/associated_implicit_registration_sets` | `200` `{"associated_implicit_registration_sets": [...]}` | `404` |
//! | `PUT /private/<impi>/associated_implicit_registration_sets/<irs>` | `200` | `404`, `409` limit |
//! | `DELETE /private/<impi>/associated_implicit_registration_sets/<irs>` | `200` | `204` unknown or not associated |
//! | `GET /private/<impi>/associated_public_ids` | `200` `{"associated_public_ids": [...]}` | `404` |
//! | `POST /irs` | `201`, `Location: /irs/<irs>` | |
//! | `DELETE /irs/<irs>` (with its profiles and public ids) | `200` | `204` unknown |
//! | `GET /irs/<irs>/public_ids` | `200` `{"public_ids": [...]}` | `404` |
//! | `GET /irs/<irs>/private_ids` | `200` `{"private_ids": [...]}` | `404` |
//! | `PUT /irs/<irs>/private_ids/<impi>` | `200` | `404`, `409` limit |
//! | `DELETE /irs/<irs>/private_ids/<impi>` | `200` | `204` |
//! | `POST /irs/<irs>/service_profiles` | `201`, `Location: /irs/<irs>/service_profiles/<sp>` | `404`, `409` limit |
//! | `DELETE /irs/<irs>/service_profiles/<sp>` (with its public ids) | `200` | `404` IRS, `204` profile unknown |
//! | `GET /irs/<irs>/service_profiles/<sp>/public_ids` | `200` `{"public_ids": [...]}` | `404` |
//! | `PUT /irs/<irs>/service_profiles/<sp>/public_ids/<impu>` (`<PublicIdentity>` XML) | `200` | `400`, `403` Identity ≠ URL, `404`, `409` in another profile or limit |
//! | `GET /irs/<irs>/service_profiles/<sp>/public_ids/<impu>` | `200` the XML | `404` |
//! | `DELETE /irs/<irs>/service_profiles/<sp>/public_ids/<impu>` | `200` | `403` in another profile, `404` |
//! | `GET /irs/<irs>/service_profiles/<sp>/filter_criteria` | `200` `<ServiceProfile>` XML | `404` (also: none set) |
//! | `PUT /irs/<irs>/service_profiles/<sp>/filter_criteria` (XML) | `200` | `400`, `404` |
//! | `GET /public/<impu>/service_profile` | `303`, `Location: /irs/<irs>/service_profiles/<sp>` | `404` |
//! | `GET /public/<impu>/irs` | `303`, `Location: /irs/<irs>` | `404` |
//! | `GET /public/<impu>/associated_private_ids` | `200` `{"private_ids": [...]}` | `404` |
//! | `POST /subscribers` (JSON, below) | `201` `{"irs", "service_profile"}`, `Location: /irs/<irs>` | `400`, `409` exists |
//! | `POST /subscribers/csv` (CSV, below) | `201` `{"created": n}` | `400`/`409` naming the line, `413` |
//!
//! `POST /irs`, `POST .../service_profiles` and the association `PUT`s and
//! `DELETE`s take no body (`400` otherwise), as in Clearwater.
//!
//! **`PUT /private/<impi>`** takes exactly one of
//! `{"digest_ha1": "<32 hex>", "realm": "..."}`,
//! `{"plaintext_password": "...", "realm": "..."}` (`realm` optional,
//! default [`ProvisioningConfig::default_realm`](crate::local::ProvisioningConfig::default_realm))
//! or, this API's extension, `{"aka": {"k": "<32 hex>", "opc": "<32 hex>",
//! "amf": "<4 hex>"}}` (`amf` optional, default `8000`). Unknown fields are
//! refused (`400`), so a misspelt field is not silently ignored.
//!
//! **`POST /subscribers`** creates a private identity, an IRS, a service
//! profile and a public identity in it, all or nothing:
//! `{"impu": "sip:alice@example.net", "impi": "alice@example.net",
//! "password": "..." | "digest_ha1": "..." | "aka": {...}, "realm": "...",
//! "ifc": "<ServiceProfile>...</ServiceProfile>"}` (`realm`, `ifc`
//! optional; `ifc` is a `<ServiceProfile>` element or a list of
//! `<InitialFilterCriteria>` elements).
//!
//! **`POST /subscribers/csv`** (`text/csv`): one `impu,impi,password` line
//! per subscriber (default realm, no iFCs). A first line
//! `impu,impi,password` is a header; empty lines and lines starting with
//! `#` are skipped; a field may be double-quoted (`""` for a quote) to
//! hold commas; quoted fields cannot span lines. Every line is validated
//! (fields, identities, duplicates within the body, identities that
//! already exist) before anything is written; the first bad line is
//! named in the `400`/`409` reason and nothing is created. If creation
//! fails part-way, what was created is removed. At most
//! [`ProvLimits::max_csv_lines`] subscribers per request.
//!
//! # Differences from Clearwater's Homestead-prov
//!
//! * `GET /private/<impi>` never returns `plaintext_password`: passwords
//!   are not stored (see [`crate::local`]).
//! * Conflicts are refused with `409` where Clearwater overwrote: a public
//!   identity `PUT` into a second profile, an identity created twice by
//!   `POST /subscribers`, a limit reached.
//! * A service profile or public identity named under an IRS or profile
//!   that does not hold it is `404` (Clearwater: `403` for a profile in
//!   another IRS; profiles live inside their IRS here). A public identity
//!   `DELETE`d from the wrong profile is `403`, as in Clearwater.
//! * Ids in paths need not look like UUIDs; ids that do not exist are
//!   `404`.
//! * `DELETE /irs/<irs>/private_ids/<impi>` exists (Clearwater only had the
//!   `PUT`).
//! * Filter criteria may also be a bare list of `<InitialFilterCriteria>`;
//!   `<PublicIdentity>` elements inside them are refused. Every XML body
//!   is validated with [`crate::subscription`]'s parser.
//! * `/public/<impu>/...` also finds identities through wildcards, as the
//!   HSS does.

// Handlers return early with the error `Response` itself.
#![allow(clippy::result_large_err)]

mod csv;

use std::io;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tokio::net::TcpListener;

use crate::http::{ApiKeys, ServeConfig, error};
use crate::local::{
    CredentialInfo, Credentials, DEFAULT_AMF, NewSubscriber, Provisioning, ProvisioningError,
};
use crate::milenage::{encode_hex, parse_hex, parse_hex16};

/// Limits of the provisioning API.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ProvLimits {
    /// Largest request body, in bytes (default 2 MiB); larger gets `413`.
    pub max_body_bytes: usize,
    /// Most subscribers in one `POST /subscribers/csv` (default 10 000).
    pub max_csv_lines: usize,
}

impl Default for ProvLimits {
    fn default() -> ProvLimits {
        ProvLimits {
            max_body_bytes: 2 * 1024 * 1024,
            max_csv_lines: 10_000,
        }
    }
}

impl ProvLimits {
    /// With this body size limit.
    pub fn with_max_body_bytes(mut self, n: usize) -> Self {
        self.max_body_bytes = n;
        self
    }

    /// With this CSV line limit.
    pub fn with_max_csv_lines(mut self, n: usize) -> Self {
        self.max_csv_lines = n;
        self
    }
}

/// The provisioning API: build it, then take its [`router`](ProvApi::router)
/// or [`serve`](ProvApi::serve) it.
#[derive(Debug, Clone)]
pub struct ProvApi {
    provisioning: Provisioning,
    keys: ApiKeys,
    limits: ProvLimits,
}

struct Ctx {
    provisioning: Provisioning,
    limits: ProvLimits,
}

type Shared = Arc<Ctx>;

impl ProvApi {
    /// The API over `provisioning`, open (no API key) and with the default
    /// limits.
    pub fn new(provisioning: Provisioning) -> ProvApi {
        ProvApi {
            provisioning,
            keys: ApiKeys::open(),
            limits: ProvLimits::default(),
        }
    }

    /// Requires one of `keys` on every route but `/ping`.
    pub fn api_keys(mut self, keys: ApiKeys) -> ProvApi {
        self.keys = keys;
        self
    }

    /// Sets the limits.
    pub fn limits(mut self, limits: ProvLimits) -> ProvApi {
        self.limits = limits;
        self
    }

    /// The routes (see the [module docs](self)).
    pub fn router(&self) -> Router {
        let ctx = Arc::new(Ctx {
            provisioning: self.provisioning.clone(),
            limits: self.limits,
        });
        let routes: Vec<(&str, MethodRouter<Shared>)> = vec![
            (
                "/private/{impi}",
                put(put_private).get(get_private).delete(delete_private),
            ),
            (
                "/private/{impi}/associated_implicit_registration_sets",
                get(private_irs),
            ),
            (
                "/private/{impi}/associated_implicit_registration_sets/{irs}",
                put(associate_private).delete(dissociate_private),
            ),
            (
                "/private/{impi}/associated_public_ids",
                get(private_public_ids),
            ),
            ("/irs", post(create_irs)),
            ("/irs/{irs}", axum::routing::delete(delete_irs)),
            ("/irs/{irs}/public_ids", get(irs_public_ids)),
            ("/irs/{irs}/private_ids", get(irs_private_ids)),
            (
                "/irs/{irs}/private_ids/{impi}",
                put(associate_irs).delete(dissociate_irs),
            ),
            ("/irs/{irs}/service_profiles", post(create_service_profile)),
            (
                "/irs/{irs}/service_profiles/{sp}",
                axum::routing::delete(delete_service_profile),
            ),
            (
                "/irs/{irs}/service_profiles/{sp}/public_ids",
                get(sp_public_ids),
            ),
            (
                "/irs/{irs}/service_profiles/{sp}/public_ids/{impu}",
                put(put_public_id)
                    .get(get_public_id)
                    .delete(delete_public_id),
            ),
            (
                "/irs/{irs}/service_profiles/{sp}/filter_criteria",
                get(get_filter_criteria).put(put_filter_criteria),
            ),
            (
                "/public/{impu}/service_profile",
                get(public_service_profile),
            ),
            ("/public/{impu}/irs", get(public_irs)),
            (
                "/public/{impu}/associated_private_ids",
                get(public_private_ids),
            ),
            ("/subscribers", post(create_subscriber)),
            ("/subscribers/csv", post(create_subscribers_csv)),
        ];
        let mut api = Router::new();
        for (path, method) in routes {
            api = api
                .route(path, method.clone())
                .route(&format!("{path}/"), method);
        }
        // Inside the key check: a wrong method on a protected path is 401
        // without the key, not a 405 that tells anyone which routes exist.
        let api = api
            .method_not_allowed_fallback(|| async {
                error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method not allowed on this resource",
                )
            })
            .layer(DefaultBodyLimit::max(self.limits.max_body_bytes))
            .with_state(ctx);
        Router::new()
            .route("/ping", get(ping))
            .route("/ping/", get(ping))
            .merge(self.keys.protect(api))
            .method_not_allowed_fallback(|| async {
                error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method not allowed on this resource",
                )
            })
            .fallback(|| async { error(StatusCode::NOT_FOUND, "no such resource") })
    }

    /// Serves the API on `listener` (see [`crate::http::serve`]).
    pub async fn serve(self, listener: TcpListener, config: ServeConfig) -> io::Result<()> {
        crate::http::serve(listener, self.router(), config).await
    }
}

// ---------------------------------------------------------------------------
// Extractors and responses

/// Path parameters, percent-decoded; a bad path is a JSON `400`.
struct Ids<T>(T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Ids<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| Ids(t))
            .map_err(|e| error(StatusCode::BAD_REQUEST, &e.body_text()))
    }
}

/// The request body; too large is a JSON `413`.
struct Body(Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        Bytes::from_request(req, state)
            .await
            .map(Body)
            .map_err(|e| error(e.status(), &e.body_text()))
    }
}

type Reply = Result<Response, Response>;

fn fail(e: ProvisioningError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    error(status, &e.to_string())
}

fn bad_request(reason: &str) -> Response {
    error(StatusCode::BAD_REQUEST, reason)
}

fn status(code: StatusCode) -> Response {
    code.into_response()
}

fn json_body(code: StatusCode, value: serde_json::Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn xml_body(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/xml")],
        body,
    )
        .into_response()
}

fn with_location(code: StatusCode, location: &str, body: Option<serde_json::Value>) -> Response {
    let mut response = match body {
        Some(v) => json_body(code, v),
        None => status(code),
    };
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

fn require_empty(body: &Bytes) -> Result<(), Response> {
    if body.is_empty() {
        Ok(())
    } else {
        Err(bad_request("this request takes no body"))
    }
}

fn text(body: &Bytes) -> Result<&str, Response> {
    if body.is_empty() {
        return Err(bad_request("empty body"));
    }
    std::str::from_utf8(body).map_err(|e| {
        bad_request(&format!(
            "the body is not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })
}

fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, Response> {
    if body.is_empty() {
        return Err(bad_request("empty body"));
    }
    serde_json::from_slice(body).map_err(|e| bad_request(&format!("invalid JSON body: {e}")))
}

// ---------------------------------------------------------------------------
// Bodies

/// AKA keys in hex.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AkaBody {
    k: String,
    opc: String,
    #[serde(default)]
    amf: Option<String>,
}

impl AkaBody {
    fn credentials(&self) -> Result<Credentials, String> {
        let k = parse_hex16(&self.k).map_err(|e| format!("aka.k: {}", reason(e)))?;
        let opc = parse_hex16(&self.opc).map_err(|e| format!("aka.opc: {}", reason(e)))?;
        let amf = match &self.amf {
            Some(a) => parse_hex::<2>(a).map_err(|e| format!("aka.amf: {}", reason(e)))?,
            None => DEFAULT_AMF,
        };
        Ok(Credentials::Aka { k, opc, amf })
    }
}

fn reason(e: crate::HssError) -> String {
    match e {
        crate::HssError::Invalid(r) => r,
        other => other.to_string(),
    }
}

/// The credential fields shared by `PUT /private` and `POST /subscribers`.
fn credentials(
    digest_ha1: Option<String>,
    password: Option<String>,
    password_field: &str,
    aka: Option<AkaBody>,
    realm: Option<String>,
) -> Result<Credentials, String> {
    match (digest_ha1, password, aka) {
        (Some(ha1), None, None) => Ok(Credentials::DigestHa1 { ha1, realm }),
        (None, Some(password), None) => Ok(Credentials::Password { password, realm }),
        (None, None, Some(aka)) => {
            if realm.is_some() {
                return Err("realm applies to digest credentials, not aka".into());
            }
            aka.credentials()
        }
        (None, None, None) => Err(format!(
            "one of digest_ha1, {password_field} or aka is required"
        )),
        _ => Err(format!(
            "only one of digest_ha1, {password_field} and aka may be given"
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivateBody {
    #[serde(default)]
    digest_ha1: Option<String>,
    #[serde(default)]
    plaintext_password: Option<String>,
    #[serde(default)]
    realm: Option<String>,
    #[serde(default)]
    aka: Option<AkaBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscriberBody {
    impu: String,
    impi: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    digest_ha1: Option<String>,
    #[serde(default)]
    aka: Option<AkaBody>,
    #[serde(default)]
    realm: Option<String>,
    #[serde(default)]
    ifc: Option<String>,
}

// ---------------------------------------------------------------------------
// Handlers

async fn ping() -> &'static str {
    "OK"
}

async fn put_private(State(ctx): State<Shared>, Ids(impi): Ids<String>, Body(body): Body) -> Reply {
    let b: PrivateBody = parse_json(&body)?;
    let creds = credentials(
        b.digest_ha1,
        b.plaintext_password,
        "plaintext_password",
        b.aka,
        b.realm,
    )
    .map_err(|r| bad_request(&r))?;
    ctx.provisioning
        .put_private(&impi, creds)
        .await
        .map_err(fail)?;
    Ok(status(StatusCode::OK))
}

async fn get_private(State(ctx): State<Shared>, Ids(impi): Ids<String>) -> Reply {
    let body = match ctx.provisioning.credentials(&impi).await.map_err(fail)? {
        CredentialInfo::Digest { ha1, realm } => json!({ "digest_ha1": ha1, "realm": realm }),
        CredentialInfo::Aka { amf, last_sqn } => {
            json!({ "aka": { "amf": encode_hex(&amf), "sqn": last_sqn.value() } })
        }
    };
    Ok(json_body(StatusCode::OK, body))
}

async fn delete_private(State(ctx): State<Shared>, Ids(impi): Ids<String>) -> Reply {
    Ok(deleted(
        ctx.provisioning.delete_private(&impi).await.map_err(fail)?,
    ))
}

fn deleted(existed: bool) -> Response {
    status(if existed {
        StatusCode::OK
    } else {
        StatusCode::NO_CONTENT
    })
}

async fn private_irs(State(ctx): State<Shared>, Ids(impi): Ids<String>) -> Reply {
    let list = ctx.provisioning.private_irs(&impi).await.map_err(fail)?;
    Ok(json_body(
        StatusCode::OK,
        json!({ "associated_implicit_registration_sets": list }),
    ))
}

async fn associate_private(
    State(ctx): State<Shared>,
    Ids((impi, irs)): Ids<(String, String)>,
    Body(body): Body,
) -> Reply {
    associate(&ctx, &impi, &irs, &body).await
}

async fn associate_irs(
    State(ctx): State<Shared>,
    Ids((irs, impi)): Ids<(String, String)>,
    Body(body): Body,
) -> Reply {
    associate(&ctx, &impi, &irs, &body).await
}

async fn associate(ctx: &Ctx, impi: &str, irs: &str, body: &Bytes) -> Reply {
    require_empty(body)?;
    ctx.provisioning.associate(impi, irs).await.map_err(fail)?;
    Ok(status(StatusCode::OK))
}

async fn dissociate_private(
    State(ctx): State<Shared>,
    Ids((impi, irs)): Ids<(String, String)>,
    Body(body): Body,
) -> Reply {
    dissociate(&ctx, &impi, &irs, &body).await
}

async fn dissociate_irs(
    State(ctx): State<Shared>,
    Ids((irs, impi)): Ids<(String, String)>,
    Body(body): Body,
) -> Reply {
    dissociate(&ctx, &impi, &irs, &body).await
}

async fn dissociate(ctx: &Ctx, impi: &str, irs: &str, body: &Bytes) -> Reply {
    require_empty(body)?;
    match ctx.provisioning.dissociate(impi, irs).await {
        Ok(removed) => Ok(deleted(removed)),
        Err(ProvisioningError::NotFound(_)) => Ok(status(StatusCode::NO_CONTENT)),
        Err(e) => Err(fail(e)),
    }
}

async fn private_public_ids(State(ctx): State<Shared>, Ids(impi): Ids<String>) -> Reply {
    let list = ctx
        .provisioning
        .private_public_ids(&impi)
        .await
        .map_err(fail)?;
    Ok(json_body(
        StatusCode::OK,
        json!({ "associated_public_ids": list }),
    ))
}

async fn create_irs(State(ctx): State<Shared>, Body(body): Body) -> Reply {
    require_empty(&body)?;
    let irs = ctx.provisioning.create_irs().await.map_err(fail)?;
    Ok(with_location(
        StatusCode::CREATED,
        &format!("/irs/{irs}"),
        None,
    ))
}

async fn delete_irs(State(ctx): State<Shared>, Ids(irs): Ids<String>) -> Reply {
    Ok(deleted(
        ctx.provisioning.delete_irs(&irs).await.map_err(fail)?,
    ))
}

async fn irs_public_ids(State(ctx): State<Shared>, Ids(irs): Ids<String>) -> Reply {
    let list = ctx.provisioning.irs_public_ids(&irs).await.map_err(fail)?;
    Ok(json_body(StatusCode::OK, json!({ "public_ids": list })))
}

async fn irs_private_ids(State(ctx): State<Shared>, Ids(irs): Ids<String>) -> Reply {
    let list = ctx.provisioning.irs_private_ids(&irs).await.map_err(fail)?;
    Ok(json_body(StatusCode::OK, json!({ "private_ids": list })))
}

async fn create_service_profile(
    State(ctx): State<Shared>,
    Ids(irs): Ids<String>,
    Body(body): Body,
) -> Reply {
    require_empty(&body)?;
    let sp = ctx
        .provisioning
        .create_service_profile(&irs)
        .await
        .map_err(fail)?;
    Ok(with_location(
        StatusCode::CREATED,
        &format!("/irs/{irs}/service_profiles/{sp}"),
        None,
    ))
}

async fn delete_service_profile(
    State(ctx): State<Shared>,
    Ids((irs, sp)): Ids<(String, String)>,
) -> Reply {
    Ok(deleted(
        ctx.provisioning
            .delete_service_profile(&irs, &sp)
            .await
            .map_err(fail)?,
    ))
}

async fn sp_public_ids(State(ctx): State<Shared>, Ids((irs, sp)): Ids<(String, String)>) -> Reply {
    let list = ctx
        .provisioning
        .sp_public_ids(&irs, &sp)
        .await
        .map_err(fail)?;
    Ok(json_body(StatusCode::OK, json!({ "public_ids": list })))
}

async fn put_public_id(
    State(ctx): State<Shared>,
    Ids((irs, sp, impu)): Ids<(String, String, String)>,
    Body(body): Body,
) -> Reply {
    let xml = text(&body)?;
    ctx.provisioning
        .put_public_id(&irs, &sp, &impu, xml)
        .await
        .map_err(fail)?;
    Ok(status(StatusCode::OK))
}

async fn get_public_id(
    State(ctx): State<Shared>,
    Ids((irs, sp, impu)): Ids<(String, String, String)>,
) -> Reply {
    let xml = ctx
        .provisioning
        .public_id(&irs, &sp, &impu)
        .await
        .map_err(fail)?;
    Ok(xml_body(xml))
}

async fn delete_public_id(
    State(ctx): State<Shared>,
    Ids((irs, sp, impu)): Ids<(String, String, String)>,
) -> Reply {
    if ctx
        .provisioning
        .delete_public_id(&irs, &sp, &impu)
        .await
        .map_err(fail)?
    {
        Ok(status(StatusCode::OK))
    } else {
        Err(fail(ProvisioningError::NotFound(format!(
            "public identity {impu:?}"
        ))))
    }
}

async fn get_filter_criteria(
    State(ctx): State<Shared>,
    Ids((irs, sp)): Ids<(String, String)>,
) -> Reply {
    match ctx
        .provisioning
        .filter_criteria(&irs, &sp)
        .await
        .map_err(fail)?
    {
        Some(xml) => Ok(xml_body(xml)),
        None => Err(fail(ProvisioningError::NotFound(format!(
            "no filter criteria in service profile {sp:?}"
        )))),
    }
}

async fn put_filter_criteria(
    State(ctx): State<Shared>,
    Ids((irs, sp)): Ids<(String, String)>,
    Body(body): Body,
) -> Reply {
    let xml = text(&body)?;
    ctx.provisioning
        .set_filter_criteria(&irs, &sp, xml)
        .await
        .map_err(fail)?;
    Ok(status(StatusCode::OK))
}

async fn public_service_profile(State(ctx): State<Shared>, Ids(impu): Ids<String>) -> Reply {
    let (irs, sp) = ctx
        .provisioning
        .public_location(&impu)
        .await
        .map_err(fail)?;
    Ok(with_location(
        StatusCode::SEE_OTHER,
        &format!("/irs/{irs}/service_profiles/{sp}"),
        None,
    ))
}

async fn public_irs(State(ctx): State<Shared>, Ids(impu): Ids<String>) -> Reply {
    let (irs, _) = ctx
        .provisioning
        .public_location(&impu)
        .await
        .map_err(fail)?;
    Ok(with_location(
        StatusCode::SEE_OTHER,
        &format!("/irs/{irs}"),
        None,
    ))
}

async fn public_private_ids(State(ctx): State<Shared>, Ids(impu): Ids<String>) -> Reply {
    let list = ctx
        .provisioning
        .public_private_ids(&impu)
        .await
        .map_err(fail)?;
    Ok(json_body(StatusCode::OK, json!({ "private_ids": list })))
}

async fn create_subscriber(State(ctx): State<Shared>, Body(body): Body) -> Reply {
    let b: SubscriberBody = parse_json(&body)?;
    let creds = credentials(b.digest_ha1, b.password, "password", b.aka, b.realm)
        .map_err(|r| bad_request(&r))?;
    let mut subscriber = NewSubscriber::new(b.impu, b.impi, creds);
    subscriber.ifc = b.ifc;
    let ids = ctx
        .provisioning
        .create_subscriber(&subscriber)
        .await
        .map_err(fail)?;
    Ok(with_location(
        StatusCode::CREATED,
        &format!("/irs/{}", ids.irs),
        Some(json!({ "irs": ids.irs, "service_profile": ids.service_profile })),
    ))
}

async fn create_subscribers_csv(State(ctx): State<Shared>, Body(body): Body) -> Reply {
    let lines = csv::parse(text(&body)?, ctx.limits.max_csv_lines).map_err(|r| bad_request(&r))?;
    let subscribers: Vec<NewSubscriber> = lines
        .iter()
        .map(|l| NewSubscriber::new(&l.impu, &l.impi, Credentials::password(&l.password)))
        .collect();
    match ctx.provisioning.create_subscribers(&subscribers).await {
        Ok(created) => Ok(json_body(
            StatusCode::CREATED,
            json!({ "created": created.len() }),
        )),
        Err(e) => {
            let line = lines.get(e.index).map_or(0, |l| l.number);
            let status =
                StatusCode::from_u16(e.error.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            Err(error(status, &format!("line {line}: {}", e.error)))
        }
    }
}
