//! The stored records of the local subscriber master, their tables and the
//! small read / write / compare-and-swap helpers every operation uses.

use std::fmt;

use clearwater_store::record::{self, Versioned};
use clearwater_store::{Cas, Condition, Store, StoreError, Table, Ttl};
use serde::{Deserialize, Serialize};

use crate::HssError;

use super::ProvisioningError;

/// Private identities: credentials, SQN state and the IRSs each may
/// register (the truth of the IMPI↔IRS association).
pub(crate) const IMPI: Table = Table::master("hss.local.impi");
/// Implicit registration sets with their service profiles, iFCs and public
/// identities (the truth of everything inside an IRS).
pub(crate) const IRS: Table = Table::master("hss.local.irs");
/// Public identity → (IRS, service profile): the claim that makes an
/// identity unique, and the index for look-ups by identity.
pub(crate) const IMPU: Table = Table::master("hss.local.impu");
/// One record listing the wildcarded identities, for look-ups of concrete
/// identities that have no record of their own.
pub(crate) const WILDCARDS: Table = Table::master("hss.local.wildcards");
/// The one key of [`WILDCARDS`].
pub(crate) const WILDCARD_KEY: &str = "index";
/// Registration state per IRS (ephemeral).
pub(crate) const REG: Table = Table::ephemeral("hss.local.reg");

/// How many times a compare-and-swap is retried before giving up.
pub(crate) const RETRIES: usize = 64;

// ---------------------------------------------------------------------------
// Records

/// A private identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PrivateRecord {
    pub(crate) credentials: StoredCredentials,
    /// `SQN_HE` (48 bits), kept across credential changes so that a
    /// sequence number is never issued twice for this identity.
    #[serde(default)]
    pub(crate) sqn: u64,
    /// The IRSs this identity may register. An entry counts only while
    /// the IRS exists.
    #[serde(default)]
    pub(crate) irs: Vec<String>,
}

/// Credentials as stored. K and OPc are secrets: `Debug` hides them.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "scheme", rename_all = "lowercase")]
pub(crate) enum StoredCredentials {
    Digest {
        /// Lower-case hex.
        ha1: String,
        realm: String,
    },
    Aka {
        /// Hex, 16 octets each; AMF 2 octets.
        k: String,
        opc: String,
        amf: String,
    },
}

impl fmt::Debug for StoredCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoredCredentials::Digest { realm, .. } => f
                .debug_struct("Digest")
                .field("realm", realm)
                .finish_non_exhaustive(),
            StoredCredentials::Aka { amf, .. } => f
                .debug_struct("Aka")
                .field("amf", amf)
                .finish_non_exhaustive(),
        }
    }
}

/// An implicit registration set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct IrsRecord {
    #[serde(default)]
    pub(crate) service_profiles: Vec<SpRecord>,
    /// The private identities that may be associated: a superset (an
    /// association counts only while the private identity lists this IRS).
    #[serde(default)]
    pub(crate) private_ids: Vec<String>,
    /// Charging addresses of this IRS, if not the configured defaults.
    #[serde(default)]
    pub(crate) charging: Option<StoredCharging>,
}

/// A service profile inside its IRS.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SpRecord {
    pub(crate) id: String,
    /// The content of the `<ServiceProfile>` element as provisioned
    /// (iFCs, CoreNetworkServicesAuthorization, shared iFC set ids), or
    /// `None` before any filter criteria were set.
    #[serde(default)]
    pub(crate) ifc: Option<String>,
    /// Whether the profile has services for the unregistered state (an iFC
    /// without `ProfilePartIndicator` or with UNREGISTERED, or a shared iFC
    /// set, whose content is unknown here).
    #[serde(default)]
    pub(crate) unregistered_services: bool,
    #[serde(default)]
    pub(crate) public_ids: Vec<PublicIdRecord>,
}

/// A public identity inside its service profile.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct PublicIdRecord {
    /// `<Identity>`.
    pub(crate) identity: String,
    /// The `<PublicIdentity>` element as provisioned.
    pub(crate) xml: String,
    /// `<BarringIndication>`.
    #[serde(default)]
    pub(crate) barred: bool,
    /// The wildcard this entry stands for (see
    /// [`PublicIdentity::wildcard`](crate::subscription::PublicIdentity::wildcard)).
    #[serde(default)]
    pub(crate) wildcard: Option<String>,
    /// A public service identity (distinct or wildcarded PSI).
    #[serde(default)]
    pub(crate) psi: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct StoredCharging {
    #[serde(default)]
    pub(crate) ccfs: Vec<String>,
    #[serde(default)]
    pub(crate) ecfs: Vec<String>,
}

/// Public identity → where it lives. Counts only while that service
/// profile holds the identity.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct ImpuRecord {
    pub(crate) irs: String,
    pub(crate) sp: String,
}

/// The wildcarded identities: a superset (an entry counts only while its
/// IRS holds the identity with that wildcard).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct WildcardIndex {
    #[serde(default)]
    pub(crate) entries: Vec<WildcardEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct WildcardEntry {
    pub(crate) identity: String,
    pub(crate) pattern: String,
    pub(crate) irs: String,
}

/// The registration state of an IRS (ephemeral).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct RegRecord {
    /// `REGISTERED`, `UNREGISTERED` or `NOT_REGISTERED`.
    pub(crate) state: String,
    /// The S-CSCF; with `NOT_REGISTERED`, the one authenticating the user
    /// (stored by MAR, TS 29.228 §6.3).
    #[serde(default)]
    pub(crate) server_name: Option<String>,
    /// The private identities registered.
    #[serde(default)]
    pub(crate) impis: Vec<String>,
}

macro_rules! versioned {
    ($($ty:ty => $kind:literal),+ $(,)?) => {
        $(impl Versioned for $ty {
            const KIND: &'static str = $kind;
            const VERSION: u16 = 1;
        })+
    };
}

versioned! {
    PrivateRecord => "hss.local.impi",
    IrsRecord => "hss.local.irs",
    ImpuRecord => "hss.local.impu",
    WildcardIndex => "hss.local.wildcards",
    RegRecord => "hss.local.reg",
}

impl IrsRecord {
    pub(crate) fn sp(&self, id: &str) -> Option<&SpRecord> {
        self.service_profiles.iter().find(|sp| sp.id == id)
    }

    pub(crate) fn sp_mut(&mut self, id: &str) -> Option<&mut SpRecord> {
        self.service_profiles.iter_mut().find(|sp| sp.id == id)
    }

    /// Every public identity of the IRS, profile by profile.
    pub(crate) fn identities(&self) -> impl Iterator<Item = &PublicIdRecord> + '_ {
        self.service_profiles
            .iter()
            .flat_map(|sp| sp.public_ids.iter())
    }

    pub(crate) fn public_id_count(&self) -> usize {
        self.service_profiles
            .iter()
            .map(|sp| sp.public_ids.len())
            .sum()
    }

    /// The service profile holding `identity` (as provisioned).
    pub(crate) fn sp_of(&self, identity: &str) -> Option<&SpRecord> {
        self.service_profiles
            .iter()
            .find(|sp| sp.public_ids.iter().any(|p| p.identity == identity))
    }
}

impl SpRecord {
    pub(crate) fn public_id(&self, identity: &str) -> Option<&PublicIdRecord> {
        self.public_ids.iter().find(|p| p.identity == identity)
    }
}

// ---------------------------------------------------------------------------
// Store access

/// Why a store operation failed, before it becomes a caller's error.
#[derive(Debug)]
pub(crate) enum StoreFailure {
    /// A conditional write's condition did not hold.
    Conflict,
    /// A compare-and-swap kept losing to other writers.
    Contention(&'static str),
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for StoreFailure {
    fn from(e: StoreError) -> StoreFailure {
        match e {
            StoreError::Conflict => StoreFailure::Conflict,
            e => StoreFailure::Store(e),
        }
    }
}

impl From<StoreFailure> for ProvisioningError {
    fn from(f: StoreFailure) -> ProvisioningError {
        match f {
            StoreFailure::Conflict => {
                ProvisioningError::Conflict("the record changed while it was written".into())
            }
            StoreFailure::Contention(table) => ProvisioningError::Unavailable(format!(
                "too many concurrent changes to {table}; retry"
            )),
            StoreFailure::Store(StoreError::TooLarge { size, max }) => ProvisioningError::Invalid(
                format!("the record would be {size} bytes, over the store's {max}-byte limit"),
            ),
            StoreFailure::Store(StoreError::Misplaced(table)) => ProvisioningError::Invalid(
                format!("table {table} holds master data and the store is not durable"),
            ),
            StoreFailure::Store(e) => ProvisioningError::Unavailable(e.to_string()),
        }
    }
}

impl From<StoreFailure> for HssError {
    fn from(f: StoreFailure) -> HssError {
        match f {
            StoreFailure::Conflict => HssError::Unavailable("store conflict".into()),
            StoreFailure::Contention(table) => {
                HssError::Unavailable(format!("too many concurrent changes to {table}"))
            }
            StoreFailure::Store(e) => HssError::Unavailable(e.to_string()),
        }
    }
}

/// A decoded record and its version.
#[derive(Debug, Clone)]
pub(crate) struct Stored<T> {
    pub(crate) value: T,
    pub(crate) cas: Cas,
}

/// Reads and decodes `key`.
pub(crate) async fn read<T: Versioned>(
    store: &dyn Store,
    table: &Table,
    key: &str,
) -> Result<Option<Stored<T>>, StoreFailure> {
    let Some(r) = store.get(table, key).await? else {
        return Ok(None);
    };
    let value = record::decode(&r.value).map_err(StoreError::from)?;
    Ok(Some(Stored { value, cas: r.cas }))
}

/// Encodes and writes `value` under `condition`.
pub(crate) async fn write<T: Versioned>(
    store: &dyn Store,
    table: &Table,
    key: &str,
    value: &T,
    condition: Condition,
    ttl: Ttl,
) -> Result<Cas, StoreFailure> {
    let bytes = record::encode(value).map_err(StoreError::from)?;
    Ok(store.set(table, key, bytes, condition, ttl).await?)
}

/// Deletes `key` under `condition`; `Ok(false)` if there was nothing.
pub(crate) async fn remove(
    store: &dyn Store,
    table: &Table,
    key: &str,
    condition: Condition,
) -> Result<bool, StoreFailure> {
    Ok(store.delete(table, key, condition).await?)
}

pub(crate) use clearwater_store::Change;

/// Read-modify-write under compare-and-swap ([`clearwater_store::modify`]
/// on decoded records): `f` sees the current value (or `None`) and decides
/// the change and the result; a conflicting writer makes it start again, up
/// to [`RETRIES`] times ([`StoreFailure::Contention`] then). An error from
/// `f`, or a record that does not decode, ends it with nothing written.
pub(crate) async fn modify<T, R, E, F>(
    store: &dyn Store,
    table: &Table,
    key: &str,
    ttl: Ttl,
    mut f: F,
) -> Result<R, E>
where
    T: Versioned,
    R: Send,
    E: From<StoreFailure>,
    F: FnMut(Option<T>) -> Result<(Change<T>, R), E> + Send,
{
    /// Why a step ended: the store, or `f`.
    enum Step<E> {
        Store(StoreFailure),
        Refused(E),
    }
    impl<E> From<StoreError> for Step<E> {
        fn from(e: StoreError) -> Step<E> {
            Step::Store(e.into())
        }
    }
    let outcome = clearwater_store::modify(store, table, key, ttl, RETRIES, |current| {
        let current = current
            .map(|r| record::decode::<T>(&r.value))
            .transpose()
            .map_err(StoreError::from)?;
        let (change, result) = f(current).map_err(Step::Refused)?;
        let change = match change {
            Change::Put(value) => Change::Put(record::encode(&value).map_err(StoreError::from)?),
            Change::Delete => Change::Delete,
            Change::Keep => Change::Keep,
        };
        Ok((change, result))
    })
    .await;
    outcome.map_err(|step| match step {
        Step::Refused(e) => e,
        // Conflicts are retried inside; one coming out means the retries ran out.
        Step::Store(StoreFailure::Conflict) => StoreFailure::Contention(table.name()).into(),
        Step::Store(failure) => failure.into(),
    })
}

/// Deletes `key` whatever its version, returning what was deleted.
pub(crate) async fn take<T: Versioned>(
    store: &dyn Store,
    table: &Table,
    key: &str,
) -> Result<Option<T>, StoreFailure> {
    for _ in 0..RETRIES {
        let Some(current) = read::<T>(store, table, key).await? else {
            return Ok(None);
        };
        match remove(store, table, key, Condition::Matches(current.cas)).await {
            Ok(_) => return Ok(Some(current.value)),
            Err(StoreFailure::Conflict) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreFailure::Contention(table.name()))
}

/// Logs a failed clean-up step: the data it would have removed is already
/// invisible, so the operation still succeeded.
pub(crate) fn cleanup_failed(what: &str, key: &str, error: &dyn fmt::Display) {
    tracing::warn!("local HSS clean-up of {what} {key:?} failed (left invisible): {error}");
}

impl fmt::Display for StoreFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreFailure::Conflict => f.write_str("conflict"),
            StoreFailure::Contention(t) => write!(f, "contention on {t}"),
            StoreFailure::Store(e) => e.fmt(f),
        }
    }
}
