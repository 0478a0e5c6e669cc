//! [`Provisioning`]: the provisioning operations on the stored model (see
//! the [module docs](super)).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use clearwater_store::record::Versioned;
use clearwater_store::{Cas, Condition, MAX_KEY, Store, Ttl, check_placement};

use super::records::{
    Change, IMPI, IMPU, IRS, ImpuRecord, IrsRecord, PrivateRecord, PublicIdRecord, RETRIES,
    SpRecord, StoreFailure, Stored, StoredCharging, StoredCredentials, WILDCARD_KEY, WILDCARDS,
    WildcardEntry, WildcardIndex, cleanup_failed, modify, read, remove, take, write,
};
use super::xml::{self, ProfileParts};
use super::{MASTER_TABLES, ProvisioningError};
use crate::digest;
use crate::hss::ChargingAddresses;
use crate::milenage::{Sqn, encode_hex};
use crate::subscription::{ImsSubscription, WildcardPattern};

/// The AMF used when an AKA credential does not give one: `8000`, the
/// separation bit set (TS 33.102 Annex H), as E-UTRAN access needs.
pub const DEFAULT_AMF: [u8; 2] = [0x80, 0x00];

/// Configuration of [`Provisioning`]: the default realm and the limits.
/// Start from [`ProvisioningConfig::new`] and change fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProvisioningConfig {
    /// The digest realm used when a credential does not name one
    /// (Clearwater's home domain).
    pub default_realm: String,
    /// Most service profiles in one IRS (default 64, the subscription
    /// parser's limit).
    pub max_service_profiles: usize,
    /// Most public identities in one IRS (default 1000).
    pub max_public_ids: usize,
    /// Most IRSs one private identity may register, and most private
    /// identities associated with one IRS (default 64).
    pub max_associations: usize,
    /// Largest filter criteria document, in bytes (default 64 KiB).
    pub max_ifc_bytes: usize,
    /// Largest `<PublicIdentity>` document, in bytes (default 4 KiB).
    pub max_public_id_bytes: usize,
}

impl ProvisioningConfig {
    /// The defaults, with `default_realm`.
    pub fn new(default_realm: impl Into<String>) -> ProvisioningConfig {
        ProvisioningConfig {
            default_realm: default_realm.into(),
            max_service_profiles: 64,
            max_public_ids: 1000,
            max_associations: 64,
            max_ifc_bytes: 64 * 1024,
            max_public_id_bytes: 4 * 1024,
        }
    }
}

/// The credentials of a private identity, as provisioned. `Debug` hides
/// passwords, HA1s and keys.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// A SIP digest password: stored as its HA1 only.
    Password {
        /// The password (not empty).
        password: String,
        /// The realm; `None` for [`ProvisioningConfig::default_realm`].
        realm: Option<String>,
    },
    /// A SIP digest HA1 computed elsewhere (Ellis does this).
    DigestHa1 {
        /// `MD5(impi ":" realm ":" password)`: 32 hex digits.
        ha1: String,
        /// The realm it was computed for; `None` for the default realm.
        realm: Option<String>,
    },
    /// IMS AKA (Milenage) keys.
    Aka {
        /// The subscriber key K.
        k: [u8; 16],
        /// The operator variant OPc.
        opc: [u8; 16],
        /// The Authentication Management Field.
        amf: [u8; 2],
    },
}

impl Credentials {
    /// A digest password in the default realm.
    pub fn password(password: impl Into<String>) -> Credentials {
        Credentials::Password {
            password: password.into(),
            realm: None,
        }
    }

    /// AKA keys with [`DEFAULT_AMF`].
    pub fn aka(k: [u8; 16], opc: [u8; 16]) -> Credentials {
        Credentials::Aka {
            k,
            opc,
            amf: DEFAULT_AMF,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Password { realm, .. } => f
                .debug_struct("Password")
                .field("realm", realm)
                .finish_non_exhaustive(),
            Credentials::DigestHa1 { realm, .. } => f
                .debug_struct("DigestHa1")
                .field("realm", realm)
                .finish_non_exhaustive(),
            Credentials::Aka { amf, .. } => f
                .debug_struct("Aka")
                .field("amf", &encode_hex(amf))
                .finish_non_exhaustive(),
        }
    }
}

/// What a read of a private identity's credentials gives: never the
/// password, K or OPc. `Debug` hides the HA1.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialInfo {
    /// SIP digest.
    Digest {
        /// The HA1, lower-case hex.
        ha1: String,
        /// Its realm.
        realm: String,
    },
    /// IMS AKA.
    Aka {
        /// The AMF.
        amf: [u8; 2],
        /// The last sequence number issued (0 before the first vector).
        last_sqn: Sqn,
    },
}

impl fmt::Debug for CredentialInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialInfo::Digest { realm, .. } => f
                .debug_struct("Digest")
                .field("realm", realm)
                .finish_non_exhaustive(),
            CredentialInfo::Aka { amf, last_sqn } => f
                .debug_struct("Aka")
                .field("amf", &encode_hex(amf))
                .field("last_sqn", last_sqn)
                .finish(),
        }
    }
}

/// A subscriber created in one step by [`Provisioning::create_subscriber`]:
/// a private identity, and a new IRS with one service profile holding one
/// public identity (not barred), which the private identity may register.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct NewSubscriber {
    /// The public identity (IMPU), e.g. `sip:alice@example.net`.
    pub impu: String,
    /// The private identity (IMPI), e.g. `alice@example.net`.
    pub impi: String,
    /// Its credentials.
    pub credentials: Credentials,
    /// Filter criteria for the service profile: a `<ServiceProfile>`
    /// element or a list of `<InitialFilterCriteria>` elements, as for
    /// [`Provisioning::set_filter_criteria`].
    pub ifc: Option<String>,
}

impl NewSubscriber {
    /// A subscriber without filter criteria.
    pub fn new(
        impu: impl Into<String>,
        impi: impl Into<String>,
        credentials: Credentials,
    ) -> NewSubscriber {
        NewSubscriber {
            impu: impu.into(),
            impi: impi.into(),
            credentials,
            ifc: None,
        }
    }

    /// With filter criteria.
    pub fn with_ifc(mut self, ifc: impl Into<String>) -> NewSubscriber {
        self.ifc = Some(ifc.into());
        self
    }
}

/// The ids of what [`Provisioning::create_subscriber`] created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriberIds {
    /// The new IRS.
    pub irs: String,
    /// Its service profile.
    pub service_profile: String,
}

/// A failed [`Provisioning::create_subscribers`]: which subscriber (index
/// into the slice) and why. Nothing of the batch is left.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("subscriber {index}: {error}")]
pub struct BulkError {
    /// The index of the failing subscriber.
    pub index: usize,
    /// Why it failed.
    pub error: ProvisioningError,
}

/// The provisioning model on a durable store. Cheap to clone (shared).
/// See the [module docs](super) for the model and its guarantees.
#[derive(Clone)]
pub struct Provisioning {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    config: ProvisioningConfig,
}

impl fmt::Debug for Provisioning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provisioning")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// A public identity found by [`Provisioning::resolve`]: its IRS (as read)
/// and the entry serving it.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    pub(crate) irs_id: String,
    pub(crate) irs: IrsRecord,
    pub(crate) sp: String,
    /// The identity as provisioned (a wildcard, for a wildcard match).
    pub(crate) identity: String,
}

impl Located {
    pub(crate) fn sp_record(&self) -> Option<&SpRecord> {
        self.irs.sp(&self.sp)
    }

    pub(crate) fn entry(&self) -> Option<&PublicIdRecord> {
        self.sp_record().and_then(|sp| sp.public_id(&self.identity))
    }
}

/// A validated [`NewSubscriber`].
struct Prepared {
    impu: String,
    impi: String,
    credentials: StoredCredentials,
    public_id: PublicIdRecord,
    ifc: Option<(String, bool)>,
}

/// What [`Provisioning::create_prepared`] wrote.
struct Created {
    impi: String,
    irs: String,
    sp: String,
}

fn not_found(what: &str, id: &str) -> ProvisioningError {
    ProvisioningError::NotFound(format!("{what} {id:?}"))
}

fn invalid(reason: impl Into<String>) -> ProvisioningError {
    ProvisioningError::Invalid(reason.into())
}

/// Whether `key` can be a store key at all (anything else names nothing).
fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY && !key.contains('\0')
}

/// Checks an identity: 1 to 1024 bytes, no whitespace or control
/// characters (and nothing XML cannot carry).
fn check_identity(what: &str, value: &str) -> Result<(), ProvisioningError> {
    if value.is_empty() {
        return Err(invalid(format!("the {what} is empty")));
    }
    if value.len() > MAX_KEY {
        return Err(invalid(format!(
            "the {what} is longer than {MAX_KEY} bytes"
        )));
    }
    if let Some(c) = value
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}'))
    {
        return Err(invalid(format!("the {what} {value:?} contains {c:?}")));
    }
    Ok(())
}

/// A new IRS or service profile id: a random version-4 UUID.
fn new_id() -> Result<String, ProvisioningError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)
        .map_err(|e| ProvisioningError::Unavailable(format!("no randomness: {e}")))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = encode_hex(&b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

impl From<&StoredCharging> for ChargingAddresses {
    fn from(c: &StoredCharging) -> ChargingAddresses {
        ChargingAddresses {
            ccfs: c.ccfs.clone(),
            ecfs: c.ecfs.clone(),
        }
    }
}

impl Provisioning {
    /// The provisioning model on `store`, which must be durable (a
    /// [`MemoryStore`](clearwater_store::MemoryStore) is refused with
    /// [`ProvisioningError::Invalid`]).
    pub fn new(
        store: Arc<dyn Store>,
        config: ProvisioningConfig,
    ) -> Result<Provisioning, ProvisioningError> {
        check_placement(&*store, &MASTER_TABLES).map_err(|e| invalid(e.to_string()))?;
        check_realm(&config.default_realm)?;
        Ok(Provisioning {
            inner: Arc::new(Inner { store, config }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ProvisioningConfig {
        &self.inner.config
    }

    pub(crate) fn store(&self) -> &dyn Store {
        &*self.inner.store
    }

    async fn exists(
        &self,
        table: &clearwater_store::Table,
        key: &str,
    ) -> Result<bool, StoreFailure> {
        if !valid_key(key) {
            return Ok(false);
        }
        Ok(self.store().get(table, key).await?.is_some())
    }

    async fn irs_record(&self, irs: &str) -> Result<Stored<IrsRecord>, ProvisioningError> {
        if !valid_key(irs) {
            return Err(not_found("IRS", irs));
        }
        read(self.store(), &IRS, irs)
            .await?
            .ok_or_else(|| not_found("IRS", irs))
    }

    // -- private identities ------------------------------------------------

    /// Creates the private identity `impi` with `credentials`, or replaces
    /// the credentials of an existing one (keeping its associations and
    /// its SQN state). Returns whether it was created.
    pub async fn put_private(
        &self,
        impi: &str,
        credentials: Credentials,
    ) -> Result<bool, ProvisioningError> {
        check_identity("private identity", impi)?;
        let stored = self.stored_credentials(impi, credentials)?;
        modify(
            self.store(),
            &IMPI,
            impi,
            Ttl::Forever,
            |current: Option<PrivateRecord>| {
                Ok::<_, ProvisioningError>(match current {
                    Some(mut r) => {
                        r.credentials = stored.clone();
                        (Change::Put(r), false)
                    }
                    None => (
                        Change::Put(PrivateRecord {
                            credentials: stored.clone(),
                            sqn: 0,
                            irs: Vec::new(),
                        }),
                        true,
                    ),
                })
            },
        )
        .await
    }

    /// The credentials of `impi` (without secrets beyond the HA1).
    pub async fn credentials(&self, impi: &str) -> Result<CredentialInfo, ProvisioningError> {
        let r = self
            .private_record(impi)
            .await?
            .ok_or_else(|| not_found("private identity", impi))?;
        Ok(match r.value.credentials {
            StoredCredentials::Digest { ha1, realm } => CredentialInfo::Digest { ha1, realm },
            StoredCredentials::Aka { amf, .. } => CredentialInfo::Aka {
                amf: crate::milenage::parse_hex(&amf).map_err(|e| corrupt(impi, e))?,
                last_sqn: Sqn::new(r.value.sqn).map_err(|e| corrupt(impi, e))?,
            },
        })
    }

    /// Deletes `impi` (its associations go with it). Returns whether it
    /// existed.
    pub async fn delete_private(&self, impi: &str) -> Result<bool, ProvisioningError> {
        if !valid_key(impi) {
            return Ok(false);
        }
        let Some(record) = take::<PrivateRecord>(self.store(), &IMPI, impi).await? else {
            return Ok(false);
        };
        for irs in &record.irs {
            self.unindex_private(irs, impi).await;
        }
        Ok(true)
    }

    /// The IRSs `impi` may register.
    pub async fn private_irs(&self, impi: &str) -> Result<Vec<String>, ProvisioningError> {
        let r = self
            .private_record(impi)
            .await?
            .ok_or_else(|| not_found("private identity", impi))?;
        let mut out = Vec::new();
        for irs in r.value.irs {
            if self.exists(&IRS, &irs).await? {
                out.push(irs);
            }
        }
        Ok(out)
    }

    /// The public identities `impi` may register: those of its IRSs.
    pub async fn private_public_ids(&self, impi: &str) -> Result<Vec<String>, ProvisioningError> {
        let r = self
            .private_record(impi)
            .await?
            .ok_or_else(|| not_found("private identity", impi))?;
        let mut out = Vec::new();
        for irs in &r.value.irs {
            if let Some(record) = read::<IrsRecord>(self.store(), &IRS, irs).await? {
                out.extend(record.value.identities().map(|p| p.identity.clone()));
            }
        }
        Ok(out)
    }

    /// Lets `impi` register the identities of `irs` (nothing to do if it
    /// already may).
    pub async fn associate(&self, impi: &str, irs: &str) -> Result<(), ProvisioningError> {
        let private = self
            .private_record(impi)
            .await?
            .ok_or_else(|| not_found("private identity", impi))?;
        let current = self.irs_record(irs).await?;
        let max = self.inner.config.max_associations;
        // Entries that no longer count are dropped on the way.
        let mut stale_impis = Vec::new();
        for other in &current.value.private_ids {
            if other != impi && !self.lists(other, irs).await? {
                stale_impis.push(other.clone());
            }
        }
        let mut dead_irs = Vec::new();
        for other in &private.value.irs {
            if other != irs && !self.exists(&IRS, other).await? {
                dead_irs.push(other.clone());
            }
        }
        // The index first...
        modify(
            self.store(),
            &IRS,
            irs,
            Ttl::Forever,
            |cur: Option<IrsRecord>| {
                let mut r = cur.ok_or_else(|| not_found("IRS", irs))?;
                if r.private_ids.iter().any(|p| p == impi) {
                    return Ok((Change::Keep, ()));
                }
                r.private_ids.retain(|p| !stale_impis.contains(p));
                if r.private_ids.len() >= max {
                    return Err(ProvisioningError::Conflict(format!(
                        "IRS {irs:?} already has {max} private identities"
                    )));
                }
                r.private_ids.push(impi.to_owned());
                Ok((Change::Put(r), ()))
            },
        )
        .await?;
        // ...then the association itself.
        let committed = modify(
            self.store(),
            &IMPI,
            impi,
            Ttl::Forever,
            |cur: Option<PrivateRecord>| {
                let mut r = cur.ok_or_else(|| not_found("private identity", impi))?;
                if r.irs.iter().any(|i| i == irs) {
                    return Ok((Change::Keep, ()));
                }
                r.irs.retain(|i| !dead_irs.contains(i));
                if r.irs.len() >= max {
                    return Err(ProvisioningError::Conflict(format!(
                        "private identity {impi:?} already has {max} IRSs"
                    )));
                }
                r.irs.push(irs.to_owned());
                Ok((Change::Put(r), ()))
            },
        )
        .await;
        if committed.is_err() {
            self.unindex_private(irs, impi).await;
        }
        committed
    }

    /// Stops `impi` registering the identities of `irs`. Returns whether
    /// it could; [`ProvisioningError::NotFound`] for an unknown `impi`.
    pub async fn dissociate(&self, impi: &str, irs: &str) -> Result<bool, ProvisioningError> {
        if !valid_key(impi) {
            return Err(not_found("private identity", impi));
        }
        let removed = modify(
            self.store(),
            &IMPI,
            impi,
            Ttl::Forever,
            |cur: Option<PrivateRecord>| {
                let mut r = cur.ok_or_else(|| not_found("private identity", impi))?;
                let before = r.irs.len();
                r.irs.retain(|i| i != irs);
                Ok::<_, ProvisioningError>(if r.irs.len() == before {
                    (Change::Keep, false)
                } else {
                    (Change::Put(r), true)
                })
            },
        )
        .await?;
        if removed {
            self.unindex_private(irs, impi).await;
        }
        Ok(removed)
    }

    // -- implicit registration sets ----------------------------------------

    /// Creates an empty IRS and returns its id.
    pub async fn create_irs(&self) -> Result<String, ProvisioningError> {
        for _ in 0..4 {
            let id = new_id()?;
            match write(
                self.store(),
                &IRS,
                &id,
                &IrsRecord::default(),
                Condition::Absent,
                Ttl::Forever,
            )
            .await
            {
                Ok(_) => return Ok(id),
                Err(StoreFailure::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ProvisioningError::Unavailable(
            "could not find a free IRS id".into(),
        ))
    }

    /// Deletes `irs` with its service profiles and public identities.
    /// Returns whether it existed.
    pub async fn delete_irs(&self, irs: &str) -> Result<bool, ProvisioningError> {
        if !valid_key(irs) {
            return Ok(false);
        }
        for _ in 0..RETRIES {
            let Some(current) = read::<IrsRecord>(self.store(), &IRS, irs).await? else {
                return Ok(false);
            };
            let claims = self.claims(irs, &current.value, None).await?;
            match remove(self.store(), &IRS, irs, Condition::Matches(current.cas)).await {
                Ok(_) => {}
                Err(StoreFailure::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
            self.release_claims(claims).await;
            self.unindex_wildcards(|e| e.irs == irs).await;
            for impi in &current.value.private_ids {
                self.forget_irs(impi, irs).await;
            }
            return Ok(true);
        }
        Err(StoreFailure::Contention(IRS.name()).into())
    }

    /// The public identities of `irs`, profile by profile.
    pub async fn irs_public_ids(&self, irs: &str) -> Result<Vec<String>, ProvisioningError> {
        let r = self.irs_record(irs).await?;
        Ok(r.value.identities().map(|p| p.identity.clone()).collect())
    }

    /// The private identities that may register `irs`.
    pub async fn irs_private_ids(&self, irs: &str) -> Result<Vec<String>, ProvisioningError> {
        let r = self.irs_record(irs).await?;
        self.live_private_ids(irs, &r.value).await
    }

    /// Sets the charging addresses of `irs` (`None`: the defaults of the
    /// HSS configuration).
    pub async fn set_charging(
        &self,
        irs: &str,
        charging: Option<ChargingAddresses>,
    ) -> Result<(), ProvisioningError> {
        if let Some(c) = &charging {
            for a in c.ccfs.iter().chain(&c.ecfs) {
                check_identity("charging address", a)?;
            }
        }
        let stored = charging.map(|c| StoredCharging {
            ccfs: c.ccfs,
            ecfs: c.ecfs,
        });
        if !valid_key(irs) {
            return Err(not_found("IRS", irs));
        }
        modify(
            self.store(),
            &IRS,
            irs,
            Ttl::Forever,
            |cur: Option<IrsRecord>| {
                let mut r = cur.ok_or_else(|| not_found("IRS", irs))?;
                r.charging = stored.clone();
                Ok::<_, ProvisioningError>((Change::Put(r), ()))
            },
        )
        .await
    }

    /// The charging addresses of `irs` (`None`: the defaults).
    pub async fn charging(
        &self,
        irs: &str,
    ) -> Result<Option<ChargingAddresses>, ProvisioningError> {
        let r = self.irs_record(irs).await?;
        Ok(r.value.charging.as_ref().map(ChargingAddresses::from))
    }

    // -- service profiles --------------------------------------------------

    /// Creates an empty service profile in `irs` and returns its id.
    pub async fn create_service_profile(&self, irs: &str) -> Result<String, ProvisioningError> {
        if !valid_key(irs) {
            return Err(not_found("IRS", irs));
        }
        let id = new_id()?;
        let max = self.inner.config.max_service_profiles;
        modify(
            self.store(),
            &IRS,
            irs,
            Ttl::Forever,
            |cur: Option<IrsRecord>| {
                let mut r = cur.ok_or_else(|| not_found("IRS", irs))?;
                if r.service_profiles.len() >= max {
                    return Err(ProvisioningError::Conflict(format!(
                        "IRS {irs:?} already has {max} service profiles"
                    )));
                }
                r.service_profiles.push(SpRecord {
                    id: id.clone(),
                    ifc: None,
                    unregistered_services: false,
                    public_ids: Vec::new(),
                });
                Ok((Change::Put(r), ()))
            },
        )
        .await?;
        Ok(id)
    }

    /// Deletes service profile `sp` of `irs` with its public identities.
    /// Returns whether it existed; [`ProvisioningError::NotFound`] for an
    /// unknown `irs`.
    pub async fn delete_service_profile(
        &self,
        irs: &str,
        sp: &str,
    ) -> Result<bool, ProvisioningError> {
        for _ in 0..RETRIES {
            let current = self.irs_record(irs).await?;
            let Some(profile) = current.value.sp(sp) else {
                return Ok(false);
            };
            let wildcards: Vec<String> = profile
                .public_ids
                .iter()
                .filter(|p| p.wildcard.is_some())
                .map(|p| p.identity.clone())
                .collect();
            let claims = self.claims(irs, &current.value, Some(sp)).await?;
            let mut next = current.value.clone();
            next.service_profiles.retain(|s| s.id != sp);
            match write(
                self.store(),
                &IRS,
                irs,
                &next,
                Condition::Matches(current.cas),
                Ttl::Forever,
            )
            .await
            {
                Ok(_) => {}
                Err(StoreFailure::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
            self.release_claims(claims).await;
            if !wildcards.is_empty() {
                self.unindex_wildcards(|e| e.irs == irs && wildcards.contains(&e.identity))
                    .await;
            }
            return Ok(true);
        }
        Err(StoreFailure::Contention(IRS.name()).into())
    }

    /// The filter criteria of service profile `sp` of `irs`: a
    /// `<ServiceProfile>` document with the iFCs, or `None` if none were
    /// set.
    pub async fn filter_criteria(
        &self,
        irs: &str,
        sp: &str,
    ) -> Result<Option<String>, ProvisioningError> {
        let r = self.irs_record(irs).await?;
        let profile = r
            .value
            .sp(sp)
            .ok_or_else(|| not_found("service profile", sp))?;
        Ok(profile.ifc.as_deref().map(xml::filter_criteria_document))
    }

    /// Sets the filter criteria of service profile `sp` of `irs`: a
    /// `<ServiceProfile>` element holding `<InitialFilterCriteria>` (and
    /// optionally `<CoreNetworkServicesAuthorization>` and
    /// `<Extension>/<SharedIFCSetID>`) elements, but no
    /// `<PublicIdentity>`; or just a list of `<InitialFilterCriteria>`
    /// elements. Validated with the subscription parser.
    pub async fn set_filter_criteria(
        &self,
        irs: &str,
        sp: &str,
        xml_body: &str,
    ) -> Result<(), ProvisioningError> {
        let (inner, unregistered) = self.parse_ifc(xml_body)?;
        if !valid_key(irs) {
            return Err(not_found("IRS", irs));
        }
        modify(
            self.store(),
            &IRS,
            irs,
            Ttl::Forever,
            |cur: Option<IrsRecord>| {
                let mut r = cur.ok_or_else(|| not_found("IRS", irs))?;
                let profile = r
                    .sp_mut(sp)
                    .ok_or_else(|| not_found("service profile", sp))?;
                profile.ifc = Some(inner.clone());
                profile.unregistered_services = unregistered;
                Ok::<_, ProvisioningError>((Change::Put(r), ()))
            },
        )
        .await
    }

    /// The public identities of service profile `sp` of `irs`.
    pub async fn sp_public_ids(
        &self,
        irs: &str,
        sp: &str,
    ) -> Result<Vec<String>, ProvisioningError> {
        let r = self.irs_record(irs).await?;
        let profile = r
            .value
            .sp(sp)
            .ok_or_else(|| not_found("service profile", sp))?;
        Ok(profile
            .public_ids
            .iter()
            .map(|p| p.identity.clone())
            .collect())
    }

    // -- public identities -------------------------------------------------

    /// The `<PublicIdentity>` element of `impu` in service profile `sp` of
    /// `irs`.
    pub async fn public_id(
        &self,
        irs: &str,
        sp: &str,
        impu: &str,
    ) -> Result<String, ProvisioningError> {
        let r = self.irs_record(irs).await?;
        let profile = r
            .value
            .sp(sp)
            .ok_or_else(|| not_found("service profile", sp))?;
        profile
            .public_id(impu)
            .map(|p| p.xml.clone())
            .ok_or_else(|| not_found("public identity", impu))
    }

    /// Creates public identity `impu` in service profile `sp` of `irs`, or
    /// replaces its `<PublicIdentity>` element (`xml_body`, whose
    /// `<Identity>` must be `impu`, else [`ProvisioningError::Mismatch`]).
    /// An identity in another profile is a [`ProvisioningError::Conflict`]:
    /// delete it there first. Returns whether it was created.
    pub async fn put_public_id(
        &self,
        irs: &str,
        sp: &str,
        impu: &str,
        xml_body: &str,
    ) -> Result<bool, ProvisioningError> {
        check_identity("public identity", impu)?;
        let entry = self.public_id_record(xml_body)?;
        if entry.identity != impu {
            return Err(ProvisioningError::Mismatch(format!(
                "the <Identity> {:?} is not the public identity {impu:?} of the URL",
                entry.identity
            )));
        }
        if !valid_key(irs) {
            return Err(not_found("IRS", irs));
        }
        for _ in 0..RETRIES {
            let target = self.irs_record(irs).await?;
            if target.value.sp(sp).is_none() {
                return Err(not_found("service profile", sp));
            }
            let claim = read::<ImpuRecord>(self.store(), &IMPU, impu).await?;
            let mut condition = Condition::Absent;
            if let Some(claim) = &claim {
                if self.holds(impu, &claim.value).await? {
                    if claim.value.irs == irs && claim.value.sp == sp {
                        self.replace_public_id(irs, sp, entry).await?;
                        return Ok(false);
                    }
                    return Err(ProvisioningError::Conflict(format!(
                        "{impu:?} is in service profile {:?} of IRS {:?}: delete it there first",
                        claim.value.sp, claim.value.irs
                    )));
                }
                condition = Condition::Matches(claim.cas);
            }
            self.check_room(irs, sp, impu).await?;
            let target = ImpuRecord {
                irs: irs.to_owned(),
                sp: sp.to_owned(),
            };
            let cas = match write(self.store(), &IMPU, impu, &target, condition, Ttl::Forever).await
            {
                Ok(cas) => cas,
                Err(StoreFailure::Conflict) => continue,
                Err(e) => return Err(e.into()),
            };
            self.commit_public_id(irs, sp, &entry, cas).await?;
            return Ok(true);
        }
        Err(StoreFailure::Contention(IMPU.name()).into())
    }

    /// Deletes public identity `impu` from service profile `sp` of `irs`.
    /// Returns whether it was there; an identity in another profile is a
    /// [`ProvisioningError::Mismatch`].
    pub async fn delete_public_id(
        &self,
        irs: &str,
        sp: &str,
        impu: &str,
    ) -> Result<bool, ProvisioningError> {
        for _ in 0..RETRIES {
            let claim = if valid_key(impu) {
                read::<ImpuRecord>(self.store(), &IMPU, impu).await?
            } else {
                None
            };
            let current = self.irs_record(irs).await?;
            let profile = current
                .value
                .sp(sp)
                .ok_or_else(|| not_found("service profile", sp))?;
            let Some(entry) = profile.public_id(impu).cloned() else {
                if let Some(c) = &claim
                    && self.holds(impu, &c.value).await?
                {
                    return Err(ProvisioningError::Mismatch(format!(
                        "{impu:?} is in service profile {:?} of IRS {:?}",
                        c.value.sp, c.value.irs
                    )));
                }
                return Ok(false);
            };
            let mut next = current.value.clone();
            if let Some(p) = next.sp_mut(sp) {
                p.public_ids.retain(|p| p.identity != impu);
            }
            match write(
                self.store(),
                &IRS,
                irs,
                &next,
                Condition::Matches(current.cas),
                Ttl::Forever,
            )
            .await
            {
                Ok(_) => {}
                Err(StoreFailure::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
            if let Some(c) = claim
                && c.value.irs == irs
                && c.value.sp == sp
            {
                self.release_claim(impu, c.cas).await;
            }
            if let Some(pattern) = entry.wildcard {
                self.unindex_wildcards(|e| {
                    e.irs == irs && e.identity == impu && e.pattern == pattern
                })
                .await;
            }
            return Ok(true);
        }
        Err(StoreFailure::Contention(IRS.name()).into())
    }

    /// Where `impu` is: `(irs, service profile)`. `impu` is looked up as
    /// the HSS does (exactly, then against wildcarded identities).
    pub async fn public_location(&self, impu: &str) -> Result<(String, String), ProvisioningError> {
        let l = self
            .resolve(impu)
            .await?
            .ok_or_else(|| not_found("public identity", impu))?;
        Ok((l.irs_id, l.sp))
    }

    /// The private identities that may register `impu`.
    pub async fn public_private_ids(&self, impu: &str) -> Result<Vec<String>, ProvisioningError> {
        let l = self
            .resolve(impu)
            .await?
            .ok_or_else(|| not_found("public identity", impu))?;
        self.live_private_ids(&l.irs_id, &l.irs).await
    }

    // -- subscribers in one step --------------------------------------------

    /// Creates a subscriber in one step (see [`NewSubscriber`]): all of it
    /// or, on any error, nothing. Either identity existing already is a
    /// [`ProvisioningError::Conflict`].
    pub async fn create_subscriber(
        &self,
        subscriber: &NewSubscriber,
    ) -> Result<SubscriberIds, ProvisioningError> {
        let prepared = self.prepare(subscriber)?;
        self.precheck(&prepared).await?;
        let created = self.create_prepared(&prepared).await?;
        Ok(SubscriberIds {
            irs: created.irs,
            service_profile: created.sp,
        })
    }

    /// Creates every subscriber of `subscribers`, or none: all are
    /// validated (and checked not to exist, nor to repeat an identity
    /// within the batch) before the first is written, and if one fails to
    /// be created those already created are deleted again.
    pub async fn create_subscribers(
        &self,
        subscribers: &[NewSubscriber],
    ) -> Result<Vec<SubscriberIds>, BulkError> {
        let at = |index: usize| move |error: ProvisioningError| BulkError { index, error };
        let mut prepared = Vec::with_capacity(subscribers.len());
        for (i, s) in subscribers.iter().enumerate() {
            prepared.push(self.prepare(s).map_err(at(i))?);
        }
        let mut impus = HashMap::new();
        let mut impis = HashMap::new();
        for (i, p) in prepared.iter().enumerate() {
            if let Some(j) = impus.insert(p.impu.as_str(), i) {
                return Err(at(i)(ProvisioningError::Conflict(format!(
                    "public identity {:?} is also subscriber {j}'s",
                    p.impu
                ))));
            }
            if let Some(j) = impis.insert(p.impi.as_str(), i) {
                return Err(at(i)(ProvisioningError::Conflict(format!(
                    "private identity {:?} is also subscriber {j}'s",
                    p.impi
                ))));
            }
        }
        for (i, p) in prepared.iter().enumerate() {
            self.precheck(p).await.map_err(at(i))?;
        }
        let mut created = Vec::with_capacity(prepared.len());
        for (i, p) in prepared.iter().enumerate() {
            match self.create_prepared(p).await {
                Ok(c) => created.push(c),
                Err(error) => {
                    for c in created.iter().rev() {
                        self.undo_subscriber(c).await;
                    }
                    return Err(BulkError { index: i, error });
                }
            }
        }
        Ok(created
            .into_iter()
            .map(|c| SubscriberIds {
                irs: c.irs,
                service_profile: c.sp,
            })
            .collect())
    }

    fn prepare(&self, s: &NewSubscriber) -> Result<Prepared, ProvisioningError> {
        check_identity("public identity", &s.impu)?;
        check_identity("private identity", &s.impi)?;
        let credentials = self.stored_credentials(&s.impi, s.credentials.clone())?;
        let public_id = self.public_id_record(&xml::plain_public_identity(&s.impu))?;
        let ifc = s.ifc.as_deref().map(|x| self.parse_ifc(x)).transpose()?;
        Ok(Prepared {
            impu: s.impu.clone(),
            impi: s.impi.clone(),
            credentials,
            public_id,
            ifc,
        })
    }

    /// Checks that neither identity of `p` exists.
    async fn precheck(&self, p: &Prepared) -> Result<(), ProvisioningError> {
        if self.exists(&IMPI, &p.impi).await? {
            return Err(ProvisioningError::Conflict(format!(
                "private identity {:?} already exists",
                p.impi
            )));
        }
        if let Some(claim) = read::<ImpuRecord>(self.store(), &IMPU, &p.impu).await?
            && self.holds(&p.impu, &claim.value).await?
        {
            return Err(ProvisioningError::Conflict(format!(
                "public identity {:?} already exists",
                p.impu
            )));
        }
        Ok(())
    }

    /// Writes a prepared subscriber: the identity claim, the private
    /// identity, then the IRS (the commit); undone on failure.
    async fn create_prepared(&self, p: &Prepared) -> Result<Created, ProvisioningError> {
        let irs = new_id()?;
        let sp = new_id()?;
        let exists = |what: &str, id: &str| {
            ProvisioningError::Conflict(format!("{what} {id:?} already exists"))
        };
        // 1. Claim the public identity.
        let condition = match read::<ImpuRecord>(self.store(), &IMPU, &p.impu).await? {
            Some(c) if self.holds(&p.impu, &c.value).await? => {
                return Err(exists("public identity", &p.impu));
            }
            Some(c) => Condition::Matches(c.cas),
            None => Condition::Absent,
        };
        let claim = ImpuRecord {
            irs: irs.clone(),
            sp: sp.clone(),
        };
        let claim_cas = match write(
            self.store(),
            &IMPU,
            &p.impu,
            &claim,
            condition,
            Ttl::Forever,
        )
        .await
        {
            Ok(cas) => cas,
            Err(StoreFailure::Conflict) => return Err(exists("public identity", &p.impu)),
            Err(e) => return Err(e.into()),
        };
        // 2. The private identity, associated with an IRS that does not
        //    exist yet (so the association does not count yet).
        let private = PrivateRecord {
            credentials: p.credentials.clone(),
            sqn: 0,
            irs: vec![irs.clone()],
        };
        let private_cas = match write(
            self.store(),
            &IMPI,
            &p.impi,
            &private,
            Condition::Absent,
            Ttl::Forever,
        )
        .await
        {
            Ok(cas) => cas,
            Err(e) => {
                self.release_claim(&p.impu, claim_cas).await;
                return Err(match e {
                    StoreFailure::Conflict => exists("private identity", &p.impi),
                    e => e.into(),
                });
            }
        };
        // 3. The IRS: the commit.
        let (ifc, unregistered_services) = match &p.ifc {
            Some((inner, unregistered)) => (Some(inner.clone()), *unregistered),
            None => (None, false),
        };
        let record = IrsRecord {
            service_profiles: vec![SpRecord {
                id: sp.clone(),
                ifc,
                unregistered_services,
                public_ids: vec![p.public_id.clone()],
            }],
            private_ids: vec![p.impi.clone()],
            charging: None,
        };
        if let Err(e) = write(
            self.store(),
            &IRS,
            &irs,
            &record,
            Condition::Absent,
            Ttl::Forever,
        )
        .await
        {
            self.undo_write(&IMPI, &p.impi, private_cas).await;
            self.release_claim(&p.impu, claim_cas).await;
            return Err(e.into());
        }
        let created = Created {
            impi: p.impi.clone(),
            irs,
            sp,
        };
        // 4. The claim must still be ours.
        match self.confirm_claim(&p.impu, &claim, claim_cas).await {
            Ok(true) => Ok(created),
            outcome => {
                self.undo_subscriber(&created).await;
                Err(match outcome {
                    Err(e) => e.into(),
                    _ => ProvisioningError::Conflict(format!(
                        "public identity {:?} was provisioned elsewhere at the same time",
                        p.impu
                    )),
                })
            }
        }
    }

    /// Removes a subscriber [`Provisioning::create_prepared`] created.
    async fn undo_subscriber(&self, c: &Created) {
        if let Err(e) = self.delete_irs(&c.irs).await {
            cleanup_failed("IRS", &c.irs, &e);
        }
        if let Err(e) = self.delete_private(&c.impi).await {
            cleanup_failed("private identity", &c.impi, &e);
        }
    }

    // -- for LocalHss ------------------------------------------------------

    /// The record of `impi`.
    pub(crate) async fn private_record(
        &self,
        impi: &str,
    ) -> Result<Option<Stored<PrivateRecord>>, StoreFailure> {
        if !valid_key(impi) {
            return Ok(None);
        }
        read(self.store(), &IMPI, impi).await
    }

    /// Finds the entry serving `impu`: the identity provisioned under that
    /// exact name, else the first wildcarded identity (in provisioning
    /// order) matching it.
    pub(crate) async fn resolve(&self, impu: &str) -> Result<Option<Located>, StoreFailure> {
        if !valid_key(impu) {
            return Ok(None);
        }
        if let Some(claim) = read::<ImpuRecord>(self.store(), &IMPU, impu).await?
            && let Some(irs) = read::<IrsRecord>(self.store(), &IRS, &claim.value.irs).await?
            && irs
                .value
                .sp(&claim.value.sp)
                .is_some_and(|sp| sp.public_id(impu).is_some())
        {
            return Ok(Some(Located {
                irs_id: claim.value.irs,
                irs: irs.value,
                sp: claim.value.sp,
                identity: impu.to_owned(),
            }));
        }
        let Some(index) = read::<WildcardIndex>(self.store(), &WILDCARDS, WILDCARD_KEY).await?
        else {
            return Ok(None);
        };
        for entry in index.value.entries {
            if !WildcardPattern::parse(&entry.pattern).is_ok_and(|p| p.matches(impu)) {
                continue;
            }
            let Some(irs) = read::<IrsRecord>(self.store(), &IRS, &entry.irs).await? else {
                continue;
            };
            let sp = irs.value.service_profiles.iter().find(|sp| {
                sp.public_id(&entry.identity)
                    .is_some_and(|p| p.wildcard.as_deref() == Some(entry.pattern.as_str()))
            });
            if let Some(sp) = sp {
                let sp = sp.id.clone();
                return Ok(Some(Located {
                    irs_id: entry.irs,
                    irs: irs.value,
                    sp,
                    identity: entry.identity,
                }));
            }
        }
        Ok(None)
    }

    /// The private identities that may register `irs` (whose record is
    /// `record`).
    pub(crate) async fn live_private_ids(
        &self,
        irs: &str,
        record: &IrsRecord,
    ) -> Result<Vec<String>, ProvisioningError> {
        let mut out = Vec::new();
        for impi in &record.private_ids {
            if self.lists(impi, irs).await? {
                out.push(impi.clone());
            }
        }
        Ok(out)
    }

    /// The IMS subscription of the IRS `record` for `private_id`.
    pub(crate) fn subscription_of(
        private_id: &str,
        record: &IrsRecord,
    ) -> Result<ImsSubscription, ProvisioningError> {
        let parts: Vec<ProfileParts<'_>> = record
            .service_profiles
            .iter()
            .map(|sp| ProfileParts {
                public_ids: sp.public_ids.iter().map(|p| p.xml.as_str()).collect(),
                ifc: sp.ifc.as_deref(),
            })
            .collect();
        xml::subscription(private_id, &parts)
    }

    // -- helpers -----------------------------------------------------------

    fn stored_credentials(
        &self,
        impi: &str,
        credentials: Credentials,
    ) -> Result<StoredCredentials, ProvisioningError> {
        let realm = |r: Option<String>| -> Result<String, ProvisioningError> {
            let r = r.unwrap_or_else(|| self.inner.config.default_realm.clone());
            check_realm(&r)?;
            Ok(r)
        };
        Ok(match credentials {
            Credentials::Password { password, realm: r } => {
                if password.is_empty() {
                    return Err(invalid("the password is empty"));
                }
                let realm = realm(r)?;
                StoredCredentials::Digest {
                    ha1: digest::ha1(impi, &realm, &password),
                    realm,
                }
            }
            Credentials::DigestHa1 { ha1, realm: r } => {
                if !digest::is_ha1(&ha1) {
                    return Err(invalid("digest_ha1 must be 32 hex digits"));
                }
                StoredCredentials::Digest {
                    ha1: ha1.to_ascii_lowercase(),
                    realm: realm(r)?,
                }
            }
            Credentials::Aka { k, opc, amf } => StoredCredentials::Aka {
                k: encode_hex(&k),
                opc: encode_hex(&opc),
                amf: encode_hex(&amf),
            },
        })
    }

    fn parse_ifc(&self, xml_body: &str) -> Result<(String, bool), ProvisioningError> {
        let max = self.inner.config.max_ifc_bytes;
        if xml_body.len() > max {
            return Err(invalid(format!(
                "the filter criteria are {} bytes, over the {max}-byte limit",
                xml_body.len()
            )));
        }
        xml::filter_criteria(xml_body)
    }

    /// Validates a `<PublicIdentity>` document and derives what look-ups
    /// need from it.
    fn public_id_record(&self, xml_body: &str) -> Result<PublicIdRecord, ProvisioningError> {
        let max = self.inner.config.max_public_id_bytes;
        if xml_body.len() > max {
            return Err(invalid(format!(
                "the <PublicIdentity> is {} bytes, over the {max}-byte limit",
                xml_body.len()
            )));
        }
        let (text, id) = xml::public_identity(xml_body)?;
        check_identity("public identity", &id.identity)?;
        let wildcard = id.wildcard().map(str::to_owned);
        if let Some(w) = &wildcard {
            WildcardPattern::parse(w)
                .map_err(|e| invalid(format!("unsupported wildcard {w:?}: {e}")))?;
        }
        Ok(PublicIdRecord {
            identity: id.identity.clone(),
            xml: text,
            barred: id.barring_indication,
            wildcard,
            psi: id.identity_type.is_psi(),
        })
    }

    /// Whether the claim `claim` on `impu` is backed by its profile.
    async fn holds(&self, impu: &str, claim: &ImpuRecord) -> Result<bool, StoreFailure> {
        Ok(read::<IrsRecord>(self.store(), &IRS, &claim.irs)
            .await?
            .is_some_and(|irs| {
                irs.value
                    .sp(&claim.sp)
                    .is_some_and(|sp| sp.public_id(impu).is_some())
            }))
    }

    /// Confirms the claim `claim` on `impu` after the commit: rewrites it
    /// if it is still the version `cas` this writer wrote. `false`: another
    /// writer took it over before the commit, and the caller must undo.
    /// Once confirmed, a writer that judged the claim unbacked before the
    /// commit can no longer take it over (its compare-and-swap fails and
    /// it re-reads a backed claim).
    async fn confirm_claim(
        &self,
        impu: &str,
        claim: &ImpuRecord,
        cas: Cas,
    ) -> Result<bool, StoreFailure> {
        match write(
            self.store(),
            &IMPU,
            impu,
            claim,
            Condition::Matches(cas),
            Ttl::Forever,
        )
        .await
        {
            Ok(_) => Ok(true),
            Err(StoreFailure::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether `impi` lists `irs`.
    async fn lists(&self, impi: &str, irs: &str) -> Result<bool, StoreFailure> {
        Ok(self
            .private_record(impi)
            .await?
            .is_some_and(|r| r.value.irs.iter().any(|i| i == irs)))
    }

    /// Checks that profile `sp` of `irs` exists and can take `impu`.
    async fn check_room(&self, irs: &str, sp: &str, impu: &str) -> Result<(), ProvisioningError> {
        let r = self.irs_record(irs).await?;
        if r.value.sp(sp).is_none() {
            return Err(not_found("service profile", sp));
        }
        let max = self.inner.config.max_public_ids;
        if r.value.public_id_count() >= max && r.value.sp_of(impu).is_none() {
            return Err(ProvisioningError::Conflict(format!(
                "IRS {irs:?} already has {max} public identities"
            )));
        }
        Ok(())
    }

    /// After claiming `entry`'s identity (claim version `cas`): indexes its
    /// wildcard, adds it to its profile (the commit) and confirms the
    /// claim; undoes all of it on failure.
    async fn commit_public_id(
        &self,
        irs: &str,
        sp: &str,
        entry: &PublicIdRecord,
        cas: Cas,
    ) -> Result<(), ProvisioningError> {
        let identity = entry.identity.as_str();
        let unindex = || async {
            if let Some(pattern) = &entry.wildcard {
                self.unindex_wildcards(|e| {
                    e.irs == irs && e.identity == identity && &e.pattern == pattern
                })
                .await;
            }
        };
        if let Some(pattern) = &entry.wildcard
            && let Err(e) = self.index_wildcard(identity, pattern, irs).await
        {
            self.release_claim(identity, cas).await;
            return Err(e);
        }
        let max = self.inner.config.max_public_ids;
        let added = modify(
            self.store(),
            &IRS,
            irs,
            Ttl::Forever,
            |cur: Option<IrsRecord>| {
                let mut r = cur.ok_or_else(|| not_found("IRS", irs))?;
                // A copy elsewhere in this IRS cannot count (the claim did
                // not back it): drop it.
                for profile in &mut r.service_profiles {
                    profile.public_ids.retain(|p| p.identity != identity);
                }
                if r.public_id_count() >= max {
                    return Err(ProvisioningError::Conflict(format!(
                        "IRS {irs:?} already has {max} public identities"
                    )));
                }
                let profile = r
                    .sp_mut(sp)
                    .ok_or_else(|| not_found("service profile", sp))?;
                profile.public_ids.push(entry.clone());
                Ok((Change::Put(r), ()))
            },
        )
        .await;
        if let Err(e) = added {
            self.release_claim(identity, cas).await;
            unindex().await;
            return Err(e);
        }
        let claim = ImpuRecord {
            irs: irs.to_owned(),
            sp: sp.to_owned(),
        };
        let confirmed = self.confirm_claim(identity, &claim, cas).await;
        if !matches!(confirmed, Ok(true)) {
            let removed = modify(
                self.store(),
                &IRS,
                irs,
                Ttl::Forever,
                |cur: Option<IrsRecord>| {
                    let Some(mut r) = cur else {
                        return Ok::<_, StoreFailure>((Change::Keep, ()));
                    };
                    if let Some(p) = r.sp_mut(sp) {
                        p.public_ids.retain(|p| p.identity != identity);
                    }
                    Ok((Change::Put(r), ()))
                },
            )
            .await;
            if let Err(e) = removed {
                cleanup_failed("public identity", identity, &e);
            }
            unindex().await;
            return Err(match confirmed {
                Err(e) => {
                    self.release_claim(identity, cas).await;
                    e.into()
                }
                _ => ProvisioningError::Conflict(format!(
                    "public identity {identity:?} was provisioned elsewhere at the same time"
                )),
            });
        }
        Ok(())
    }

    /// Replaces the element of an identity already in profile `sp`.
    async fn replace_public_id(
        &self,
        irs: &str,
        sp: &str,
        entry: PublicIdRecord,
    ) -> Result<(), ProvisioningError> {
        let identity = entry.identity.clone();
        if let Some(pattern) = &entry.wildcard {
            self.index_wildcard(&identity, pattern, irs).await?;
        }
        let new_pattern = entry.wildcard.clone();
        let old_pattern = modify(
            self.store(),
            &IRS,
            irs,
            Ttl::Forever,
            |cur: Option<IrsRecord>| {
                let mut r = cur.ok_or_else(|| not_found("IRS", irs))?;
                let profile = r
                    .sp_mut(sp)
                    .ok_or_else(|| not_found("service profile", sp))?;
                let slot = profile
                    .public_ids
                    .iter_mut()
                    .find(|p| p.identity == identity)
                    .ok_or_else(|| not_found("public identity", &identity))?;
                let old = std::mem::replace(slot, entry.clone());
                Ok::<_, ProvisioningError>((Change::Put(r), old.wildcard))
            },
        )
        .await?;
        if let Some(old) = old_pattern
            && Some(&old) != new_pattern.as_ref()
        {
            self.unindex_wildcards(|e| e.irs == irs && e.identity == identity && e.pattern == old)
                .await;
        }
        Ok(())
    }

    /// The claims on the identities of `record` (of profile `sp` only, if
    /// given) that point at it, with their versions.
    async fn claims(
        &self,
        irs: &str,
        record: &IrsRecord,
        sp: Option<&str>,
    ) -> Result<Vec<(String, Cas)>, StoreFailure> {
        let mut out = Vec::new();
        for profile in record
            .service_profiles
            .iter()
            .filter(|p| sp.is_none_or(|sp| p.id == sp))
        {
            for id in &profile.public_ids {
                if let Some(c) = read::<ImpuRecord>(self.store(), &IMPU, &id.identity).await?
                    && c.value.irs == irs
                    && c.value.sp == profile.id
                {
                    out.push((id.identity.clone(), c.cas));
                }
            }
        }
        Ok(out)
    }

    async fn release_claims(&self, claims: Vec<(String, Cas)>) {
        for (impu, cas) in claims {
            self.release_claim(&impu, cas).await;
        }
    }

    /// Deletes the claim on `impu` if it is still version `cas`.
    async fn release_claim(&self, impu: &str, cas: Cas) {
        self.undo_write(&IMPU, impu, cas).await;
    }

    /// Deletes `key` if it is still version `cas`.
    async fn undo_write(&self, table: &clearwater_store::Table, key: &str, cas: Cas) {
        match remove(self.store(), table, key, Condition::Matches(cas)).await {
            Ok(_) | Err(StoreFailure::Conflict) => {}
            Err(e) => cleanup_failed(table.name(), key, &e),
        }
    }

    async fn index_wildcard(
        &self,
        identity: &str,
        pattern: &str,
        irs: &str,
    ) -> Result<(), ProvisioningError> {
        let entry = WildcardEntry {
            identity: identity.to_owned(),
            pattern: pattern.to_owned(),
            irs: irs.to_owned(),
        };
        modify(
            self.store(),
            &WILDCARDS,
            WILDCARD_KEY,
            Ttl::Forever,
            |cur: Option<WildcardIndex>| {
                let mut index = cur.unwrap_or_default();
                if index.entries.contains(&entry) {
                    return Ok::<_, ProvisioningError>((Change::Keep, ()));
                }
                index.entries.push(entry.clone());
                Ok((Change::Put(index), ()))
            },
        )
        .await
    }

    async fn unindex_wildcards(&self, drop: impl Fn(&WildcardEntry) -> bool + Sync) {
        self.prune(
            &WILDCARDS,
            WILDCARD_KEY,
            "wildcard index",
            true,
            |x: &mut WildcardIndex| &mut x.entries,
            drop,
        )
        .await;
    }

    /// Drops `impi` from the index of `irs`, unless `impi` lists `irs`
    /// (again).
    async fn unindex_private(&self, irs: &str, impi: &str) {
        match self.lists(impi, irs).await {
            Ok(false) => {}
            Ok(true) => return,
            Err(e) => return cleanup_failed("IRS index", irs, &e),
        }
        self.prune(
            &IRS,
            irs,
            "IRS index",
            false,
            |r: &mut IrsRecord| &mut r.private_ids,
            |p| p == impi,
        )
        .await;
    }

    /// Drops the deleted `irs` from the IRS list of `impi`.
    async fn forget_irs(&self, impi: &str, irs: &str) {
        self.prune(
            &IMPI,
            impi,
            "private identity",
            false,
            |r: &mut PrivateRecord| &mut r.irs,
            |i| i == irs,
        )
        .await;
    }

    /// Best-effort clean-up: removes the items `drop` selects from one list
    /// of record `key` (a CAS loop; nothing written when none is selected;
    /// the record deleted when the list ends empty and `delete_when_empty`).
    /// A failure is logged (`what` names the record), not returned.
    async fn prune<T: Versioned, E>(
        &self,
        table: &clearwater_store::Table,
        key: &str,
        what: &str,
        delete_when_empty: bool,
        list: fn(&mut T) -> &mut Vec<E>,
        drop: impl Fn(&E) -> bool + Sync,
    ) {
        let r = modify(self.store(), table, key, Ttl::Forever, |cur: Option<T>| {
            let Some(mut record) = cur else {
                return Ok::<_, StoreFailure>((Change::Keep, ()));
            };
            let items = list(&mut record);
            let before = items.len();
            items.retain(|e| !drop(e));
            Ok(if items.len() == before {
                (Change::Keep, ())
            } else if items.is_empty() && delete_when_empty {
                (Change::Delete, ())
            } else {
                (Change::Put(record), ())
            })
        })
        .await;
        if let Err(e) = r {
            cleanup_failed(what, key, &e);
        }
    }
}

fn check_realm(realm: &str) -> Result<(), ProvisioningError> {
    if realm.is_empty() {
        return Err(invalid("the realm is empty"));
    }
    if realm.len() > 255 || realm.chars().any(|c| c.is_control() || c == '"') {
        return Err(invalid(format!("the realm {realm:?} is not a valid realm")));
    }
    Ok(())
}

fn corrupt(impi: &str, e: crate::HssError) -> ProvisioningError {
    ProvisioningError::Unavailable(format!("the record of {impi:?} is corrupt: {e}"))
}
