//! The Homestead API (Clearwater's Dime, port 8888): what Sprout asks the
//! HSS cache over HTTP, served over any [`Hss`].
//!
//! [`router`] builds the axum service; [`serve`] runs it on a listener with
//! [`crate::http::serve`] (feature `runtime`; the `ClearwaterRegData`
//! writer and reader, [`RegData::to_xml`] and [`RegData::parse`], are
//! always built). [`HttpHss`](crate::HttpHss) is the client, so an
//! S-CSCF can run apart from the HSS cache with the same [`Hss`] trait.
//!
//! # Routes
//!
//! | request | Cx | answer |
//! |---|---|---|
//! | `GET /impi/<impi>/av?impu=<impu>[&server-name=<uri>][&resync-auth=<base64>]` | MAR, scheme chosen by the HSS | 200 JSON vector |
//! | `GET /impi/<impi>/av/digest?impu=…[&server-name=…]` | MAR, SIP Digest | 200 `{"digest": …}` |
//! | `GET /impi/<impi>/av/aka?impu=…[&server-name=…][&resync-auth=…]` | MAR, Digest-AKAv1-MD5 | 200 `{"aka": …}` |
//! | `GET /impi/<impi>/digest?public_id=<impu>` | MAR, SIP Digest (Clearwater's older form) | 200 `{"digest_ha1": "<ha1>"}` |
//! | `GET /impi/<impi>/registration-status?impu=…[&visited-network=<domain>][&auth-type=REG\|DEREG\|CAPAB]` | UAR | 200 JSON selection |
//! | `GET /impu/<impu>/location[?originating=true][&auth-type=CAPAB]` | LIR | 200 JSON selection |
//! | `GET /impu/<impu>/reg-data[?private_id=<impi>]` | SAR NO_ASSIGNMENT (read only) | 200 XML `ClearwaterRegData` |
//! | `PUT /impu/<impu>/reg-data[?private_id=<impi>]`, body `{"reqtype": …, "server_name": …}` | SAR | 200 XML `ClearwaterRegData` |
//! | `GET /ping` | — | 200 `OK` (never needs an API key) |
//!
//! The bodies, as Clearwater's Homestead writes them:
//!
//! * digest: `{"digest": {"ha1": "<hex>", "realm": "<realm>", "qop": "auth"}}`
//!   (an empty qop is sent as `auth`, as Clearwater does);
//! * AKA: `{"aka": {"challenge": "<base64(RAND ‖ AUTN)>", "response":
//!   "<hex XRES>", "cryptkey": "<hex CK>", "integritykey": "<hex IK>",
//!   "version": 1}}`;
//! * selection: `{"result-code": 2001, "scscf": "sip:scscf.example.net"}`,
//!   or `{"result-code": 2001, "mandatory-capabilities": [1, 2],
//!   "optional-capabilities": [3]}` (lists sent, possibly empty, whenever
//!   no S-CSCF is named or the HSS gave capabilities); result codes 2001
//!   (first registration / success), 2002 (subsequent registration), 2003
//!   (unregistered service);
//! * reg-data: see [`RegData::to_xml`] (`RegistrationState`, the embedded
//!   `IMSSubscription` without XML declaration, `ChargingAddresses` with
//!   `CCF`/`ECF` priorities).
//!
//! `reqtype` is one of `reg`, `call`, `dereg-user`, `dereg-admin`,
//! `dereg-timeout`, `dereg-auth-failed`, `dereg-auth-timeout`
//! ([`AssignmentType::from_homestead_reqtype`]). A `reg` sent with
//! `Cache-Control: no-cache` becomes [`AssignmentType::ReRegistration`]:
//! Clearwater's "this re-registration must reach the HSS", which
//! [`CachedHss`](crate::CachedHss) honours.
//!
//! # Parameters and identities
//!
//! Identities in the path are percent-decoded (`sip%3Aalice%40example.net`
//! and `sip:alice@example.net` are the same); query values are
//! percent-decoded too, and `+` stays `+` (so `tel:+1555…` works unescaped;
//! a space must be sent as `%20`). Checking is strict for the parameters
//! this API knows, and unknown parameters are ignored (as Clearwater does):
//!
//! * a missing or empty `impu` (`public_id` on the legacy digest route) is
//!   `400` with the reason; so is a known parameter given twice, a bad
//!   percent-escape, an identity longer than
//!   [`HomesteadConfig::max_identity_bytes`];
//! * `resync-auth` must be base64 of exactly 30 octets (RAND ‖ AUTS), and
//!   is refused on `/av/digest`;
//! * `auth-type` must be `REG`, `DEREG` or `CAPAB` on registration-status,
//!   and `CAPAB` on location; `originating` must be `true` or `false`;
//! * a `reg-data` PUT body must be a JSON object with a known string
//!   `reqtype`; `server_name`, if present, must be a string
//!   (`wildcard_identity` is accepted and ignored); bodies over
//!   [`HomesteadConfig::max_body_bytes`] are `413`.
//!
//! Unknown paths are `404`, other methods `405`, each with a JSON reason.
//!
//! # Errors
//!
//! Every error answer is `{"reason": "..."}` ([`crate::http::error`]) with
//! the [`HssError`]'s status ([`HssError::http_status`]): `400` for bad
//! input, `403` refused (authorisation or roaming rejected, bad AUTS), `404`
//! user unknown or identities that do not match, `503` backend unavailable,
//! `504` backend timeout. The reason is the error's `Display`, which
//! [`HttpHss`](crate::HttpHss) reads back into the same variant. With API
//! keys configured, a request without a valid key is `401`.
//!
//! # Differences from Clearwater's Homestead
//!
//! * `impu` is required on `/av` (Clearwater looks up a cached IMPU for
//!   digest when it is missing; the [`Hss`] trait has no such query).
//! * `/av/aka2` (AKAv2) is not supported: `404` with the reason.
//! * Errors use [`HssError::http_status`]: Clearwater answers `500` for an
//!   unexpected HSS result and `400` for deregistering a user who is not
//!   registered; here the [`Hss`] decides and the status follows its error.
//! * On `location`, an identity the HSS reports as not registered
//!   ([`HssError::NotRegistered`]) is answered as Clearwater does: `200`
//!   with `{"result-code": 5003, "mandatory-capabilities": [],
//!   "optional-capabilities": []}`.
//! * `wildcard-identity` (LIA) and `wildcard_identity` (SAR body) are not
//!   carried: the [`Hss`] trait matches wildcards itself.
//! * `/ping` is outside the API-key check, for health checks.

#[cfg(doc)]
use crate::{AssignmentType, Hss, HssError, RegData};

mod reg_data;
#[cfg(feature = "runtime")]
mod server;
#[cfg(feature = "runtime")]
pub(crate) mod wire;

#[cfg(feature = "runtime")]
pub use server::{HomesteadConfig, router, serve};
