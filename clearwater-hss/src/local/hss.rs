//! [`LocalHss`]: the Cx operations answered from the local subscriber
//! master (see the [module docs](super) for the behaviour).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use clearwater_store::{Store, Ttl, check_placement};

use super::Provisioning;
use super::provisioning::Located;
use super::records::{
    Change, IMPI, PrivateRecord, REG, RegRecord, StoredCredentials, modify, read,
};
use crate::HssError;
use crate::hss::{
    AssignmentType, AuthRequest, AuthScheme, AuthVector, AuthorizationType, Capabilities,
    ChargingAddresses, DigestVector, Hss, LocationQuery, RegData, RegistrationState, Resync,
    SelectionResult, ServerAssignment, ServerSelection, UserAuthorization,
};
use crate::milenage::{AkaVector, IndPolicy, Milenage, SqnState, parse_hex, parse_hex16};

/// DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED.
const AUTH_SCHEME_NOT_SUPPORTED: u32 = 5006;
/// DIAMETER_AUTHORIZATION_REJECTED (a base Result-Code).
const AUTHORIZATION_REJECTED: u32 = 5003;

/// Configuration of [`LocalHss`]. Start from the default and change
/// fields.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LocalHssConfig {
    /// The S-CSCF capabilities (and suggested S-CSCF names) returned by UAR
    /// and LIR when no S-CSCF is assigned (default: none, any S-CSCF).
    pub capabilities: Capabilities,
    /// The charging addresses of IRSs that have none of their own.
    pub charging: ChargingAddresses,
    /// How AKA vectors choose IND (default [`IndPolicy::Cyclic`]).
    pub ind_policy: IndPolicy,
}

impl LocalHssConfig {
    /// With these capabilities.
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// With these default charging addresses.
    pub fn with_charging(mut self, charging: ChargingAddresses) -> Self {
        self.charging = charging;
        self
    }

    /// With this IND policy.
    pub fn with_ind_policy(mut self, policy: IndPolicy) -> Self {
        self.ind_policy = policy;
        self
    }
}

/// An [`Hss`] that masters its subscribers: the data of a [`Provisioning`]
/// (durable) plus registration state in an ephemeral store. See the
/// [module docs](super).
pub struct LocalHss {
    provisioning: Provisioning,
    state: Arc<dyn Store>,
    config: LocalHssConfig,
}

impl fmt::Debug for LocalHss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalHss")
            .field("provisioning", &self.provisioning)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Registration state of one IRS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Reg {
    state: RegistrationState,
    server_name: Option<String>,
    impis: Vec<String>,
}

impl Reg {
    fn from_record(r: RegRecord) -> Reg {
        Reg {
            state: RegistrationState::parse(&r.state).unwrap_or_default(),
            server_name: r.server_name.filter(|s| !s.is_empty()),
            impis: r.impis,
        }
    }

    fn to_record(&self) -> RegRecord {
        RegRecord {
            state: self.state.as_str().to_owned(),
            server_name: self.server_name.clone(),
            impis: self.impis.clone(),
        }
    }

    /// The state after `req` (see the table in the module docs).
    fn assign(self, req: &ServerAssignment) -> Reg {
        let server = (!req.server_name.is_empty()).then(|| req.server_name.clone());
        match req.kind {
            AssignmentType::NoAssignment => self,
            AssignmentType::Registration | AssignmentType::ReRegistration => {
                let mut impis = self.impis;
                if let Some(impi) = &req.impi
                    && !impis.contains(impi)
                {
                    impis.push(impi.clone());
                }
                Reg {
                    state: RegistrationState::Registered,
                    server_name: server.or(self.server_name),
                    impis,
                }
            }
            AssignmentType::UnregisteredUser => match self.state {
                RegistrationState::Registered => self,
                _ => Reg {
                    state: RegistrationState::Unregistered,
                    server_name: server.or(self.server_name),
                    impis: Vec::new(),
                },
            },
            AssignmentType::TimeoutDeregistration
            | AssignmentType::UserDeregistration
            | AssignmentType::AdministrativeDeregistration => {
                let mut next = self;
                match &req.impi {
                    Some(impi) => next.impis.retain(|i| i != impi),
                    None => next.impis.clear(),
                }
                if next.impis.is_empty() {
                    Reg::default()
                } else {
                    next
                }
            }
            AssignmentType::AuthenticationFailure | AssignmentType::AuthenticationTimeout => {
                match self.state {
                    RegistrationState::NotRegistered => Reg::default(),
                    _ => self,
                }
            }
        }
    }

    /// The S-CSCF of a registered or unregistered IRS.
    fn serving(&self) -> Option<&str> {
        match self.state {
            RegistrationState::Registered | RegistrationState::Unregistered => {
                self.server_name.as_deref()
            }
            RegistrationState::NotRegistered => None,
        }
    }
}

fn user_unknown(what: &str, id: &str) -> HssError {
    HssError::UserUnknown(format!("{what} {id:?}"))
}

impl LocalHss {
    /// An HSS answering from `provisioning`, keeping registration state in
    /// `state` (any backend). An [`IndPolicy::Fixed`] index of 32 or more
    /// is [`HssError::Invalid`].
    pub fn new(
        provisioning: Provisioning,
        state: Arc<dyn Store>,
        config: LocalHssConfig,
    ) -> Result<LocalHss, HssError> {
        check_placement(&*state, &super::STATE_TABLES)
            .map_err(|e| HssError::Invalid(e.to_string()))?;
        if let IndPolicy::Fixed(ind) = config.ind_policy
            && ind >= crate::milenage::Sqn::IND_COUNT
        {
            return Err(HssError::Invalid(format!(
                "IND {ind} is out of range 0..=31"
            )));
        }
        Ok(LocalHss {
            provisioning,
            state,
            config,
        })
    }

    /// The provisioning model this HSS answers from (for serving the
    /// provisioning API from the same process).
    pub fn provisioning(&self) -> &Provisioning {
        &self.provisioning
    }

    async fn private(&self, impi: &str) -> Result<PrivateRecord, HssError> {
        Ok(self
            .provisioning
            .private_record(impi)
            .await?
            .ok_or_else(|| user_unknown("private identity", impi))?
            .value)
    }

    async fn locate_public(&self, impu: &str) -> Result<Located, HssError> {
        self.provisioning
            .resolve(impu)
            .await?
            .ok_or_else(|| user_unknown("public identity", impu))
    }

    /// `IdentitiesDontMatch` unless `private` may register `located`.
    fn check_association(
        impi: &str,
        private: &PrivateRecord,
        impu: &str,
        located: &Located,
    ) -> Result<(), HssError> {
        if private.irs.contains(&located.irs_id) {
            Ok(())
        } else {
            Err(HssError::IdentitiesDontMatch(format!(
                "private identity {impi:?} may not register {impu:?}"
            )))
        }
    }

    async fn reg(&self, irs: &str) -> Result<Reg, HssError> {
        Ok(read::<RegRecord>(&*self.state, &REG, irs)
            .await?
            .map(|r| Reg::from_record(r.value))
            .unwrap_or_default())
    }

    /// Applies `f` to the registration state of `irs` (compare-and-swap);
    /// returns the new state.
    async fn update_reg(
        &self,
        irs: &str,
        f: impl Fn(Reg) -> Reg + Send + Sync,
    ) -> Result<Reg, HssError> {
        modify(
            &*self.state,
            &REG,
            irs,
            Ttl::Forever,
            |cur: Option<RegRecord>| {
                let before = cur.map(Reg::from_record).unwrap_or_default();
                let after = f(before.clone());
                let change = if after == before {
                    Change::Keep
                } else if after == Reg::default() {
                    Change::Delete
                } else {
                    Change::Put(after.to_record())
                };
                Ok::<_, HssError>((change, after))
            },
        )
        .await
    }

    /// Advances the SQN of `impi` (resynchronising first if asked) and
    /// computes the vector, in one compare-and-swap of its record.
    async fn aka_vector(&self, impi: &str, resync: Option<Resync>) -> Result<AkaVector, HssError> {
        let mut rand = [0u8; 16];
        getrandom::fill(&mut rand)
            .map_err(|e| HssError::Unavailable(format!("no randomness for RAND: {e}")))?;
        let policy = self.config.ind_policy;
        modify(
            self.provisioning.store(),
            &IMPI,
            impi,
            Ttl::Forever,
            |cur: Option<PrivateRecord>| {
                let mut record = cur.ok_or_else(|| user_unknown("private identity", impi))?;
                let StoredCredentials::Aka { k, opc, amf } = &record.credentials else {
                    return Err(HssError::Rejected {
                        code: AUTH_SCHEME_NOT_SUPPORTED,
                        reason: format!("private identity {impi:?} has no AKA credentials"),
                    });
                };
                let corrupt = |e: HssError| {
                    HssError::Unavailable(format!("the record of {impi:?} is corrupt: {e}"))
                };
                let k = parse_hex16(k).map_err(corrupt)?;
                let opc = parse_hex16(opc).map_err(corrupt)?;
                let amf: [u8; 2] = parse_hex(amf).map_err(corrupt)?;
                let milenage = Milenage::with_opc(&k, &opc);
                let mut sqn = SqnState::from_u64(record.sqn).map_err(corrupt)?;
                if let Some(r) = &resync {
                    milenage.resync(&mut sqn, &r.rand, &r.auts)?;
                }
                let vector = milenage.generate_vector(&mut sqn, policy, &rand, &amf)?;
                record.sqn = sqn.to_u64();
                Ok((Change::Put(record), vector))
            },
        )
        .await
    }

    fn capabilities(&self) -> Option<Capabilities> {
        Some(self.config.capabilities.clone())
    }
}

#[async_trait]
impl Hss for LocalHss {
    async fn authenticate(&self, req: &AuthRequest) -> Result<AuthVector, HssError> {
        let private = self.private(&req.impi).await?;
        let located = if req.impu.is_empty() {
            None
        } else {
            let located = self.locate_public(&req.impu).await?;
            Self::check_association(&req.impi, &private, &req.impu, &located)?;
            Some(located)
        };
        let vector = match (req.scheme, &private.credentials) {
            (
                AuthScheme::Digest | AuthScheme::Unknown,
                StoredCredentials::Digest { ha1, realm },
            ) => AuthVector::Digest(DigestVector {
                ha1: ha1.clone(),
                realm: realm.clone(),
                qop: "auth".into(),
            }),
            (AuthScheme::Aka | AuthScheme::Unknown, StoredCredentials::Aka { .. }) => {
                AuthVector::Aka(self.aka_vector(&req.impi, req.resync).await?)
            }
            (scheme, credentials) => {
                let has = match credentials {
                    StoredCredentials::Digest { .. } => "digest",
                    StoredCredentials::Aka { .. } => "AKA",
                };
                return Err(HssError::Rejected {
                    code: AUTH_SCHEME_NOT_SUPPORTED,
                    reason: format!(
                        "private identity {:?} has {has} credentials, not {scheme:?}",
                        req.impi
                    ),
                });
            }
        };
        // Remember the S-CSCF authenticating a user that is not registered,
        // so that the next UAR sends the answer to the challenge there.
        if let Some(located) = located
            && !req.server_name.is_empty()
        {
            let server = req.server_name.clone();
            self.update_reg(&located.irs_id, move |reg| match reg.state {
                RegistrationState::NotRegistered => Reg {
                    server_name: Some(server.clone()),
                    ..reg
                },
                _ => reg,
            })
            .await?;
        }
        Ok(vector)
    }

    async fn assign_server(&self, req: &ServerAssignment) -> Result<RegData, HssError> {
        let located = self.locate_public(&req.impu).await?;
        if let Some(impi) = &req.impi {
            let private = self.private(impi).await?;
            Self::check_association(impi, &private, &req.impu, &located)?;
        }
        let reg = if req.kind == AssignmentType::NoAssignment {
            self.reg(&located.irs_id).await?
        } else {
            let req = req.clone();
            self.update_reg(&located.irs_id, move |reg| reg.assign(&req))
                .await?
        };
        let subscription = if req.kind == AssignmentType::NoAssignment
            && reg.state == RegistrationState::NotRegistered
        {
            None
        } else {
            let private_id = match (&req.impi, reg.impis.first()) {
                (Some(impi), _) | (None, Some(impi)) => impi.clone(),
                (None, None) => self
                    .provisioning
                    .live_private_ids(&located.irs_id, &located.irs)
                    .await?
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| req.impu.clone()),
            };
            Some(
                Provisioning::subscription_of(&private_id, &located.irs).map_err(|e| {
                    HssError::Upstream(format!("the stored subscription does not assemble: {e}"))
                })?,
            )
        };
        let charging = located
            .irs
            .charging
            .as_ref()
            .map_or_else(|| self.config.charging.clone(), ChargingAddresses::from);
        Ok(RegData {
            state: reg.state,
            subscription,
            charging,
            associated_impis: reg.impis,
        })
    }

    async fn authorize_user(&self, req: &UserAuthorization) -> Result<ServerSelection, HssError> {
        let private = self.private(&req.impi).await?;
        let located = self.locate_public(&req.impu).await?;
        Self::check_association(&req.impi, &private, &req.impu, &located)?;
        let barred = located.entry().is_some_and(|e| e.barred);
        if barred && located.irs.identities().all(|p| p.barred) {
            return Err(HssError::Rejected {
                code: AUTHORIZATION_REJECTED,
                reason: format!(
                    "{:?} is barred and so is every identity of its implicit registration set",
                    req.impu
                ),
            });
        }
        let reg = self.reg(&located.irs_id).await?;
        match req.kind {
            AuthorizationType::Registration => Ok(match &reg.server_name {
                Some(name) => ServerSelection {
                    result: SelectionResult::SubsequentRegistration,
                    server_name: Some(name.clone()),
                    capabilities: None,
                },
                None => ServerSelection {
                    result: SelectionResult::FirstRegistration,
                    server_name: None,
                    capabilities: self.capabilities(),
                },
            }),
            AuthorizationType::RegistrationAndCapabilities => Ok(ServerSelection {
                result: SelectionResult::Success,
                server_name: None,
                capabilities: self.capabilities(),
            }),
            AuthorizationType::Deregistration => match reg.serving() {
                Some(name) => Ok(ServerSelection {
                    result: SelectionResult::Success,
                    server_name: Some(name.to_owned()),
                    capabilities: None,
                }),
                None => Err(HssError::NotRegistered(format!(
                    "{:?} is not registered",
                    req.impu
                ))),
            },
        }
    }

    async fn locate(&self, req: &LocationQuery) -> Result<ServerSelection, HssError> {
        let located = self.locate_public(&req.impu).await?;
        if req.with_capabilities {
            return Ok(ServerSelection {
                result: SelectionResult::Success,
                server_name: None,
                capabilities: self.capabilities(),
            });
        }
        let reg = self.reg(&located.irs_id).await?;
        if let Some(name) = reg.serving() {
            return Ok(ServerSelection {
                result: SelectionResult::Success,
                server_name: Some(name.to_owned()),
                capabilities: None,
            });
        }
        let unregistered_services = req.originating
            || located.entry().is_some_and(|e| e.psi)
            || located
                .sp_record()
                .is_some_and(|sp| sp.unregistered_services);
        if unregistered_services {
            Ok(ServerSelection {
                result: SelectionResult::UnregisteredService,
                server_name: None,
                capabilities: self.capabilities(),
            })
        } else {
            Err(HssError::NotRegistered(format!(
                "{:?} is not registered and has no services while unregistered",
                req.impu
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sar(kind: AssignmentType, impi: Option<&str>, server: &str) -> ServerAssignment {
        ServerAssignment {
            impu: "sip:a@example.net".into(),
            impi: impi.map(str::to_owned),
            server_name: server.into(),
            kind,
        }
    }

    #[test]
    fn assignment_transitions() {
        use AssignmentType::*;
        let none = Reg::default();
        let reg_a = none.clone().assign(&sar(Registration, Some("a"), "s1"));
        assert_eq!(reg_a.state, RegistrationState::Registered);
        assert_eq!(reg_a.server_name.as_deref(), Some("s1"));
        assert_eq!(reg_a.impis, ["a"]);
        let reg_ab = reg_a.clone().assign(&sar(ReRegistration, Some("b"), "s1"));
        assert_eq!(reg_ab.impis, ["a", "b"]);
        assert_eq!(
            reg_ab
                .clone()
                .assign(&sar(Registration, Some("a"), "s1"))
                .impis,
            ["a", "b"]
        );
        // A read changes nothing.
        assert_eq!(
            reg_ab.clone().assign(&sar(NoAssignment, None, "s2")),
            reg_ab
        );
        // Deregistering one private identity keeps the other registered.
        let reg_b = reg_ab
            .clone()
            .assign(&sar(UserDeregistration, Some("a"), "s1"));
        assert_eq!(reg_b.state, RegistrationState::Registered);
        assert_eq!(reg_b.impis, ["b"]);
        assert_eq!(
            reg_b.assign(&sar(TimeoutDeregistration, Some("b"), "s1")),
            none
        );
        assert_eq!(
            reg_ab
                .clone()
                .assign(&sar(AdministrativeDeregistration, None, "")),
            none
        );
        // Unregistered service; a registered user stays registered.
        let unreg = none.clone().assign(&sar(UnregisteredUser, None, "s2"));
        assert_eq!(unreg.state, RegistrationState::Unregistered);
        assert_eq!(unreg.serving(), Some("s2"));
        assert_eq!(
            reg_ab.clone().assign(&sar(UnregisteredUser, None, "s2")),
            reg_ab
        );
        // An unregistered user that registers moves to registered.
        let from_unreg = unreg.clone().assign(&sar(Registration, Some("a"), "s2"));
        assert_eq!(from_unreg.state, RegistrationState::Registered);
        // Authentication failure forgets only an authenticating S-CSCF.
        let pending = Reg {
            server_name: Some("s3".into()),
            ..Reg::default()
        };
        assert_eq!(pending.serving(), None);
        assert_eq!(
            pending.assign(&sar(AuthenticationFailure, Some("a"), "s3")),
            none
        );
        assert_eq!(
            reg_ab
                .clone()
                .assign(&sar(AuthenticationTimeout, Some("a"), "s1")),
            reg_ab
        );
        assert_eq!(
            unreg
                .clone()
                .assign(&sar(AuthenticationFailure, None, "s2")),
            unreg
        );
        // An empty server name keeps the one known.
        assert_eq!(
            reg_ab
                .clone()
                .assign(&sar(ReRegistration, Some("a"), ""))
                .server_name
                .as_deref(),
            Some("s1")
        );
    }

    #[test]
    fn records_round_trip() {
        let reg = Reg {
            state: RegistrationState::Unregistered,
            server_name: Some("sip:s".into()),
            impis: vec!["x".into()],
        };
        assert_eq!(Reg::from_record(reg.to_record()), reg);
        let garbage = RegRecord {
            state: "???".into(),
            server_name: Some(String::new()),
            impis: vec![],
        };
        assert_eq!(Reg::from_record(garbage), Reg::default());
    }
}
