//! [`CxHss`]: the [`Hss`] trait over Diameter Cx to a real HSS (TS 29.228,
//! TS 29.229), through a `clearwater_diameter::runtime::Node` (which keeps
//! the connections, watchdogs and failover between HSS peers).
//!
//! | trait call | Cx request | answer read |
//! |---|---|---|
//! | [`Hss::authenticate`] | MAR, one SIP-Auth-Data-Item; resync puts RAND ‖ AUTS in SIP-Authorization | the first item: SIP-Digest-Authenticate → [`DigestVector`]; SIP-Authenticate (RAND ‖ AUTN), SIP-Authorization (XRES), CK, IK → AKA |
//! | [`Hss::assign_server`] | SAR with the type's Server-Assignment-Type | User-Data parsed as an IMS subscription, Charging-Information, Associated-Identities |
//! | [`Hss::authorize_user`] | UAR | 2001/2002/2003 with Server-Name or Server-Capabilities |
//! | [`Hss::locate`] | LIR | Server-Name or Server-Capabilities |
//!
//! PPR and RTR from the HSS are read into [`HssEvent`]s and given to the
//! listener ([`Hss::set_listener`]); its result becomes the PPA/RTA
//! (DIAMETER_SUCCESS, or the error's [`HssError::cx_result`]). With no
//! listener they are answered 5012 DIAMETER_UNABLE_TO_COMPLY; a PPR whose
//! User-Data does not parse gets 5009 DIAMETER_ERROR_NOT_SUPPORTED_USER_DATA.
//!
//! Failures map to [`HssError`]: Experimental-Result 5001/5002/5003 to
//! `UserUnknown`/`IdentitiesDontMatch`/`NotRegistered`, other permanent
//! failures to `Rejected` with the code, 3002/3004 and "no peer" to
//! `Unavailable`, no answer in time (after failover) to `Timeout`, an
//! answer that cannot be read (or User-Data that does not parse) to
//! `Upstream`.
//!
//! Pushes are taken only from the peer that is the HSS: the configured HSS
//! host, else any peer of the HSS realm (so behind a relay in that realm,
//! leave `destination_host` unset); others get 5012. On a network where
//! other hosts can connect, list the peers the node accepts
//! (`NodeConfig::allowed_peers`): a peer's realm is what it announces.
//!
//! The SAA does not carry the registration state: [`RegData::state`] is
//! the one the assignment type implies (`NoAssignment` reads report
//! `Registered` when the HSS returned a subscription, since Sprout only
//! reads registered users this way; the [`CachedHss`](crate::cached) in
//! front of it keeps the real state).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use clearwater_diameter::cx::{
    ChargingInformation, CxResult, CxRouting, LocationInfoAnswer, LocationInfoRequest,
    MultimediaAuthAnswer, MultimediaAuthRequest, Origin, PushProfileAnswer, PushProfileRequest,
    RegistrationTerminationAnswer, RegistrationTerminationRequest, ServerAssignmentAnswer,
    ServerAssignmentRequest, ServerAssignmentType, ServerCapabilities, UserAuthorizationAnswer,
    UserAuthorizationRequest, UserAuthorizationType, scheme,
};
use clearwater_diameter::peer::PeerInfo;
use clearwater_diameter::runtime::{Node, NodeError};
use clearwater_diameter::{ApplicationId, CommandCode, Message, ResultCode};

use crate::HssError;
use crate::hss::{
    AssignmentType, AuthRequest, AuthScheme, AuthVector, AuthorizationType, Capabilities,
    ChargingAddresses, DigestVector, Hss, HssEvent, HssListener, LocationQuery, RegData,
    RegistrationState, SelectionResult, ServerAssignment, ServerSelection, UserAuthorization,
};
use crate::milenage::AkaVector;
use crate::subscription::ImsSubscription;

/// Where [`CxHss`] sends its requests.
#[derive(Debug, Clone)]
pub struct CxConfig {
    /// This node (Origin-Host/-Realm of requests and answers).
    pub origin: Origin,
    /// The HSS realm (Destination-Realm).
    pub destination_realm: String,
    /// A particular HSS, when wanted (Destination-Host).
    pub destination_host: Option<String>,
    /// The Server-Name used when a request gives none.
    pub default_server_name: String,
}

type SharedListener = Arc<Mutex<Option<Arc<dyn HssListener>>>>;

/// The Cx client backend. See the [module docs](self).
pub struct CxHss {
    node: Node,
    config: CxConfig,
    sessions: AtomicU64,
    listener: SharedListener,
}

impl std::fmt::Debug for CxHss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CxHss")
            .field("config", &self.config)
            .finish()
    }
}

impl CxHss {
    /// A backend sending through `node`, whose request handler it takes
    /// over (for PPR and RTR).
    pub fn new(node: Node, config: CxConfig) -> CxHss {
        let listener: SharedListener = Arc::new(Mutex::new(None));
        let l = listener.clone();
        let origin = config.origin.clone();
        let hss_realm = config.destination_realm.clone();
        let hss_host = config.destination_host.clone();
        node.set_handler(move |m: Message, from: PeerInfo| {
            let l = l.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let origin = origin.clone();
            // Pushes (PPR, RTR) are taken only from the peer that is the HSS
            // this backend talks to: its host when one is configured, else
            // any peer of its realm (a relay in that realm included). What
            // the message itself says of its origin is not trusted.
            let trusted = match &hss_host {
                Some(h) => from.host.eq_ignore_ascii_case(h),
                None => from.realm.eq_ignore_ascii_case(&hss_realm),
            };
            async move {
                if !trusted {
                    return m.error_answer(
                        &clearwater_diameter::DiameterError::new(
                            ResultCode::UNABLE_TO_COMPLY,
                            format!("{} is not this node's HSS", from.host),
                        ),
                        &origin.host,
                        &origin.realm,
                    );
                }
                handle_push(m, l, origin).await
            }
        });
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        CxHss {
            node,
            config,
            sessions: AtomicU64::new(start << 32),
            listener,
        }
    }

    fn routing(&self) -> CxRouting {
        // RFC 6733 §8.8: <DiameterIdentity>;<high 32 bits>;<low 32 bits>.
        let n = self.sessions.fetch_add(1, Ordering::Relaxed);
        CxRouting {
            session_id: format!(
                "{};{};{}",
                self.config.origin.host,
                n >> 32,
                n & 0xffff_ffff
            ),
            origin_host: self.config.origin.host.clone(),
            origin_realm: self.config.origin.realm.clone(),
            destination_realm: self.config.destination_realm.clone(),
            destination_host: self.config.destination_host.clone(),
        }
    }

    fn server_name<'a>(&'a self, given: &'a str) -> &'a str {
        if given.is_empty() {
            &self.config.default_server_name
        } else {
            given
        }
    }

    async fn send(&self, request: Message) -> Result<Message, HssError> {
        self.node.request(request).await.map_err(|e| match e {
            NodeError::NoAnswer(why) => HssError::Timeout(format!("HSS: {why}")),
            other => HssError::Unavailable(format!("HSS: {other}")),
        })
    }
}

fn unreadable(e: clearwater_diameter::DiameterError) -> HssError {
    HssError::Upstream(format!("unreadable answer from the HSS: {e}"))
}

/// The error for a non-success answer.
fn failure(result: CxResult) -> HssError {
    let code = result.code();
    match result {
        CxResult::Experimental { code: c, .. } if c == ResultCode::CX_ERROR_USER_UNKNOWN => {
            HssError::UserUnknown("HSS: user unknown".to_owned())
        }
        CxResult::Experimental { code: c, .. }
            if c == ResultCode::CX_ERROR_IDENTITIES_DONT_MATCH =>
        {
            HssError::IdentitiesDontMatch("HSS: identities do not match".to_owned())
        }
        CxResult::Experimental { code: c, .. }
            if c == ResultCode::CX_ERROR_IDENTITY_NOT_REGISTERED =>
        {
            HssError::NotRegistered("HSS: identity not registered".to_owned())
        }
        CxResult::Base(c) if c == ResultCode::UNABLE_TO_DELIVER || c == ResultCode::TOO_BUSY => {
            HssError::Unavailable(format!("HSS answered {c}"))
        }
        _ => HssError::Rejected {
            code: code.0,
            reason: format!("HSS answered {code}"),
        },
    }
}

fn array<const N: usize>(b: &Option<Bytes>, what: &str) -> Result<[u8; N], HssError> {
    b.as_deref()
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .ok_or_else(|| HssError::Invalid(format!("HSS sent no {N}-octet {what}")))
}

#[async_trait]
impl Hss for CxHss {
    async fn authenticate(&self, req: &AuthRequest) -> Result<AuthVector, HssError> {
        let mar = MultimediaAuthRequest {
            routing: self.routing(),
            user_name: req.impi.clone(),
            public_identity: req.impu.clone(),
            server_name: self.server_name(&req.server_name).to_owned(),
            number_auth_items: 1,
            scheme: match req.scheme {
                AuthScheme::Digest => scheme::DIGEST,
                AuthScheme::Aka => scheme::AKA,
                AuthScheme::Unknown => scheme::UNKNOWN,
            }
            .to_owned(),
            authorization: req.resync.map(|r| {
                let mut v = r.rand.to_vec();
                v.extend_from_slice(&r.auts);
                Bytes::from(v)
            }),
        };
        let answer = self.send(mar.to_message()).await?;
        let maa = MultimediaAuthAnswer::from_message(&answer).map_err(unreadable)?;
        if !maa.result.is_success() {
            return Err(failure(maa.result));
        }
        let Some(item) = maa.items.first() else {
            return Err(HssError::Invalid(
                "MAA without SIP-Auth-Data-Item".to_owned(),
            ));
        };
        if let Some(d) = &item.digest {
            return Ok(AuthVector::Digest(DigestVector {
                ha1: d.ha1.to_ascii_lowercase(),
                realm: d.realm.clone(),
                qop: d.qop.clone(),
            }));
        }
        let (rand, autn) = item.rand_autn().ok_or_else(|| {
            HssError::Invalid("HSS sent no 32-octet SIP-Authenticate (RAND ‖ AUTN)".to_owned())
        })?;
        Ok(AuthVector::Aka(AkaVector {
            rand,
            autn,
            xres: array(&item.authorization, "SIP-Authorization (XRES)")?,
            ck: array(&item.confidentiality_key, "Confidentiality-Key")?,
            ik: array(&item.integrity_key, "Integrity-Key")?,
        }))
    }

    async fn assign_server(&self, req: &ServerAssignment) -> Result<RegData, HssError> {
        let sar = ServerAssignmentRequest {
            routing: self.routing(),
            user_name: req.impi.clone(),
            public_identities: vec![req.impu.clone()],
            server_name: self.server_name(&req.server_name).to_owned(),
            assignment_type: ServerAssignmentType(req.kind.cx_value()),
            user_data_already_available: false,
        };
        let answer = self.send(sar.to_message()).await?;
        let saa = ServerAssignmentAnswer::from_message(&answer).map_err(unreadable)?;
        if !saa.result.is_success() {
            return Err(failure(saa.result));
        }
        let subscription = saa
            .user_data
            .as_deref()
            .map(ImsSubscription::parse)
            .transpose()
            .map_err(|e| {
                HssError::Upstream(format!("the HSS sent User-Data that does not parse: {e}"))
            })?;
        let state = match req.kind {
            AssignmentType::Registration | AssignmentType::ReRegistration => {
                RegistrationState::Registered
            }
            AssignmentType::UnregisteredUser => RegistrationState::Unregistered,
            AssignmentType::NoAssignment if subscription.is_some() => RegistrationState::Registered,
            _ => RegistrationState::NotRegistered,
        };
        let mut associated_impis = saa.associated_identities.clone();
        if let Some(u) = saa.user_name.clone().or_else(|| req.impi.clone())
            && !associated_impis.contains(&u)
        {
            associated_impis.insert(0, u);
        }
        Ok(RegData {
            state,
            subscription,
            charging: charging(saa.charging_information.as_ref()),
            associated_impis,
        })
    }

    async fn authorize_user(&self, req: &UserAuthorization) -> Result<ServerSelection, HssError> {
        let uar = UserAuthorizationRequest {
            routing: self.routing(),
            user_name: req.impi.clone(),
            public_identity: req.impu.clone(),
            visited_network: Bytes::from(
                req.visited_network
                    .clone()
                    .unwrap_or_else(|| self.config.origin.realm.clone()),
            ),
            authorization_type: Some(UserAuthorizationType(match req.kind {
                AuthorizationType::Registration => 0,
                AuthorizationType::Deregistration => 1,
                AuthorizationType::RegistrationAndCapabilities => 2,
            })),
            uar_flags: None,
        };
        let answer = self.send(uar.to_message()).await?;
        let uaa = UserAuthorizationAnswer::from_message(&answer).map_err(unreadable)?;
        selection(uaa.result, uaa.server_name, uaa.server_capabilities, false)
    }

    async fn locate(&self, req: &LocationQuery) -> Result<ServerSelection, HssError> {
        let lir = LocationInfoRequest {
            routing: self.routing(),
            public_identity: req.impu.clone(),
            originating: req.originating,
            authorization_type: req.with_capabilities.then_some(UserAuthorizationType(2)),
        };
        let answer = self.send(lir.to_message()).await?;
        let lia = LocationInfoAnswer::from_message(&answer).map_err(unreadable)?;
        selection(lia.result, lia.server_name, lia.server_capabilities, true)
    }

    fn set_listener(&self, listener: Arc<dyn HssListener>) {
        *self.listener.lock().unwrap_or_else(|p| p.into_inner()) = Some(listener);
    }
}

fn charging(c: Option<&ChargingInformation>) -> ChargingAddresses {
    c.map(|c| ChargingAddresses {
        ccfs: c.ccfs(),
        ecfs: c.ecfs(),
    })
    .unwrap_or_default()
}

fn selection(
    result: CxResult,
    server_name: Option<String>,
    caps: Option<ServerCapabilities>,
    location: bool,
) -> Result<ServerSelection, HssError> {
    if !result.is_success() {
        return Err(failure(result));
    }
    let r = match result {
        CxResult::Experimental { code, .. } if code == ResultCode::CX_FIRST_REGISTRATION => {
            SelectionResult::FirstRegistration
        }
        CxResult::Experimental { code, .. } if code == ResultCode::CX_SUBSEQUENT_REGISTRATION => {
            SelectionResult::SubsequentRegistration
        }
        CxResult::Experimental { code, .. } if code == ResultCode::CX_UNREGISTERED_SERVICE => {
            SelectionResult::UnregisteredService
        }
        _ if location => SelectionResult::Success,
        _ if server_name.is_some() => SelectionResult::SubsequentRegistration,
        _ => SelectionResult::FirstRegistration,
    };
    Ok(ServerSelection {
        result: r,
        server_name,
        capabilities: caps.map(|c| Capabilities {
            mandatory: c.mandatory,
            optional: c.optional,
            server_names: c.server_names,
        }),
    })
}

/// Answers a PPR or RTR from the HSS through the listener.
async fn handle_push(
    m: Message,
    listener: Option<Arc<dyn HssListener>>,
    origin: Origin,
) -> Message {
    let refuse = |rc: ResultCode, why: &str| {
        m.error_answer(
            &clearwater_diameter::DiameterError::new(rc, why),
            &origin.host,
            &origin.realm,
        )
    };
    if m.application != ApplicationId::CX {
        return refuse(ResultCode::APPLICATION_UNSUPPORTED, "only Cx is served");
    }
    let event = match m.code {
        CommandCode::PUSH_PROFILE => match PushProfileRequest::from_message(&m) {
            Ok(ppr) => {
                let subscription = match ppr.user_data.as_deref().map(ImsSubscription::parse) {
                    None => None,
                    Some(Ok(s)) => Some(s),
                    Some(Err(e)) => {
                        let mut a = PushProfileAnswer::new(
                            origin.clone(),
                            CxResult::cx(ResultCode::CX_ERROR_NOT_SUPPORTED_USER_DATA),
                        )
                        .to_message(&m);
                        a.push(clearwater_diameter::Avp::utf8(
                            clearwater_diameter::avp::code::ERROR_MESSAGE,
                            &e.to_string(),
                        ));
                        return a;
                    }
                };
                HssEvent::ProfileUpdated {
                    impi: ppr.user_name,
                    subscription,
                    charging: ppr.charging_information.as_ref().map(|c| charging(Some(c))),
                }
            }
            Err(e) => return m.error_answer(&e, &origin.host, &origin.realm),
        },
        CommandCode::REGISTRATION_TERMINATION => {
            match RegistrationTerminationRequest::from_message(&m) {
                Ok(rtr) => HssEvent::Deregistered {
                    impis: rtr.private_identities(),
                    impus: rtr.public_identities.clone(),
                    reason_code: rtr.reason.code.0,
                    reason_info: rtr.reason.info.clone(),
                },
                Err(e) => return m.error_answer(&e, &origin.host, &origin.realm),
            }
        }
        other => {
            return refuse(
                ResultCode::COMMAND_UNSUPPORTED,
                &format!("{other} is not served"),
            );
        }
    };
    let Some(listener) = listener else {
        return refuse(ResultCode::UNABLE_TO_COMPLY, "no listener for HSS pushes");
    };
    let result = match listener.on_event(event).await {
        Ok(()) => CxResult::SUCCESS,
        Err(e) => {
            let (vendor, code) = e.cx_result();
            CxResult::from_vendor_code(vendor, code)
        }
    };
    if m.code == CommandCode::PUSH_PROFILE {
        PushProfileAnswer::new(origin, result).to_message(&m)
    } else {
        RegistrationTerminationAnswer::new(origin, result).to_message(&m)
    }
}
