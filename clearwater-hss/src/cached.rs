//! [`CachedHss`]: registration data of another [`Hss`] cached in a
//! [`Store`], with Clearwater Homestead's rules, so that re-registrations
//! and calls do not each cost a Server-Assignment-Request.
//!
//! # What is cached, and when the HSS is asked
//!
//! Only Server-Assignment answers ([`Hss::assign_server`]) are cached.
//! MAR, UAR and LIR always go to the inner HSS: authentication vectors are
//! single-use, and UAR/LIR answers are what the I-CSCF routes on.
//!
//! | request ([`AssignmentType`]) | cache state | what happens |
//! |---|---|---|
//! | `Registration` (Homestead `reg`) | nothing cached, or cached but not `REGISTERED` | SAR `REGISTRATION`; the answer is cached as `REGISTERED` |
//! | `Registration` | `REGISTERED`, and the last SAR for the set is younger than [`CacheConfig::reregistration_interval`] (Clearwater's `hss_reregistration_time`, default 1800 s), and the IMPI (if given) already registered it | answered from the cache, no SAR; the record's time to live is refreshed |
//! | `Registration` | `REGISTERED`, last SAR as old as the interval or older | SAR `RE_REGISTRATION`, answer cached |
//! | `Registration` | `REGISTERED`, but the request's IMPI is not one that registered the set (a new binding) | SAR `REGISTRATION`, answer cached, the IMPI added |
//! | `ReRegistration` (`reg` with `Cache-Control: no-cache`) | any | SAR (`RE_REGISTRATION` if cached as registered, else `REGISTRATION`), answer cached |
//! | `UnregisteredUser` (`call`) | any state cached | answered from the cache |
//! | `UnregisteredUser` | nothing cached for this IMPU | SAR `UNREGISTERED_USER`; the answer is cached as `UNREGISTERED`, unless the HSS says `REGISTERED` or its set is already cached as registered (an IMPU under a wildcard, asked for the first time): a call never downgrades a registration |
//! | `UserDeregistration`, `TimeoutDeregistration`, `AdministrativeDeregistration` | any | SAR, then the set's cache entries are removed, whatever the HSS answered, unless it could not be reached ([`HssError::Unavailable`], [`HssError::Timeout`]: the request may be retried elsewhere) |
//! | `AuthenticationFailure`, `AuthenticationTimeout` | any | SAR; the cache is left alone (a registered user failing to add a binding stays registered, as in Clearwater) |
//! | `NoAssignment` (a `GET`) | anything cached | answered from the cache |
//! | `NoAssignment` | nothing cached | passed to the inner HSS, answer not cached |
//!
//! The state in a cached answer is the cache's: `REGISTERED` after `reg`,
//! `UNREGISTERED` after `call` (the HSS's Server-Assignment-Answer carries
//! no registration state in Cx; Clearwater sets it the same way).
//!
//! # Records
//!
//! One [`Table`] ([`CacheConfig::table`], default [`CACHE_TABLE`], an
//! ephemeral table), three kinds of versioned record
//! ([`clearwater_store::record`]):
//!
//! * `impu:<key>` — the **set record**: registration state, the
//!   subscription XML, charging addresses, the HSS's associated IMPIs, the
//!   IMPIs that registered through this cache, and when the last SAR was
//!   sent. A SAR answer's record holds every public identity of the
//!   subscription the HSS returned (as Clearwater caches it against every
//!   identity of the document). Its key is the set's default identity: the
//!   first unbarred, non-wildcarded public identity of the subscription
//!   (else the first non-wildcarded one, else the requested IMPU).
//! * `impu:<other identity>` — an **alias** naming the set key, written
//!   for every other literal identity of the subscription and for the
//!   requested IMPU. An IMPU matched by a wildcarded identity
//!   (`sip:conf-!.*!@example.net`) gets its alias the first time it is
//!   asked for (a miss, so a SAR), and every later request finds the set.
//! * `impi:<IMPI>` — the **IMPI index**: the set keys cached for a private
//!   identity (the request's and the subscription's `PrivateID`), for PPR
//!   and RTR that name only the IMPI.
//!
//! Every record lives [`CacheConfig::record_ttl`] (default 3600 s, at
//! least the re-registration interval) from its last write. A look-up for
//! an IMPU reads its record (and the set record an alias names) and
//! **checks that the set's subscription really serves the IMPU**
//! (exactly or by wildcard, [`ImsSubscription::find_identity`]); a stale
//! alias, a set record that no longer lists the IMPU, or a record that
//! cannot be decoded or whose XML does not parse is **a miss**: never
//! served, and overwritten by the SAR that follows. So aliases and the IMPI
//! index may go stale safely; removal deletes what it can and relies on
//! this check for the rest.
//!
//! Writes use compare-and-swap: the set record is written with a CAS loop
//! ([`clearwater_store::update`], merging the IMPIs that registered the set
//! when it stays registered), the refresh of a cached re-registration is
//! conditional on the version read (a conflict means someone else changed
//! the set: it is looked up again), PPR updates are CAS loops. Aliases are
//! written unconditionally: they only ever name the key derived from the
//! newest answer, and the serving check above makes a lost race harmless.
//!
//! A cache hit parses nothing it has parsed before: set records carry a
//! random tag of their subscription text, and a process-local memo
//! ([`CacheConfig::parsed_subscriptions`] entries, default 1024) keeps the
//! parsed subscription for each tag, used only if the record's text is
//! byte-for-byte the memo's.
//!
//! # Events
//!
//! [`CachedHss::new`] registers the cache as the inner HSS's listener
//! ([`Hss::set_listener`]). A PPR ([`HssEvent::ProfileUpdated`]) replaces
//! the subscription and/or charging addresses in every cached set of the
//! IMPI (found through the IMPI index and through the new subscription's
//! identities), keeping the registration state, and writes aliases for new
//! identities. An RTR ([`HssEvent::Deregistered`]) removes the sets of the
//! named IMPUs, or, when it names none, every set of the named IMPIs. The
//! event is then forwarded to the listener set on the `CachedHss` (the
//! S-CSCF's), whose answer becomes the PPA/RTA; if the cache could not be
//! updated, the answer is [`HssError::Unavailable`] so that the HSS
//! retries.
//!
//! # Store failures
//!
//! The cache never makes the HSS unavailable. A store error on a look-up
//! is logged (`warn`) and treated as a miss: the request goes to the inner
//! HSS. A store error writing a SAR answer, refreshing a record or removing
//! a set is logged and the inner HSS's answer is returned. The cost is
//! more SARs while the store is down, and, if a removal failed, a stale
//! set until its time to live runs out. An undecodable record is a miss
//! (logged at `debug`) and is overwritten.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use clearwater_store::record::{self, Versioned};
use clearwater_store::{Cas, Condition, Store, StoreError, Table, Ttl};
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};

use crate::subscription::ImsSubscription;
use crate::{
    AssignmentType, AuthRequest, AuthVector, ChargingAddresses, Hss, HssError, HssEvent,
    HssListener, LocationQuery, RegData, RegistrationState, ServerAssignment, ServerSelection,
    UserAuthorization,
};

/// The default table of a [`CachedHss`].
pub const CACHE_TABLE: Table = Table::ephemeral("hss_cache");

/// Most IMPIs remembered as having registered one set.
const MAX_BOUND_IMPIS: usize = 32;
/// Most sets remembered per IMPI.
const MAX_SETS_PER_IMPI: usize = 16;

/// Settings of a [`CachedHss`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CacheConfig {
    /// How long a registration is answered from the cache before a
    /// re-registration goes to the HSS again (Clearwater's
    /// `hss_reregistration_time`; default 1800 s).
    pub reregistration_interval: Duration,
    /// How long a cached record lives after its last write (default
    /// 3600 s; raised to the re-registration interval if below it).
    pub record_ttl: Duration,
    /// The table the records live in (default [`CACHE_TABLE`]).
    pub table: Table,
    /// Compare-and-swap attempts before giving up on a contended record
    /// (default 8).
    pub cas_attempts: usize,
    /// Most parsed subscriptions kept in this process's memo (default
    /// 1024; 0 turns the memo off). See the [module docs](self#records).
    pub parsed_subscriptions: usize,
}

impl Default for CacheConfig {
    fn default() -> CacheConfig {
        CacheConfig {
            reregistration_interval: Duration::from_secs(1800),
            record_ttl: Duration::from_secs(3600),
            table: CACHE_TABLE,
            cas_attempts: 8,
            parsed_subscriptions: 1024,
        }
    }
}

impl CacheConfig {
    /// Sets [`CacheConfig::reregistration_interval`].
    pub fn with_reregistration_interval(mut self, d: Duration) -> Self {
        self.reregistration_interval = d;
        self
    }

    /// Sets [`CacheConfig::record_ttl`].
    pub fn with_record_ttl(mut self, d: Duration) -> Self {
        self.record_ttl = d;
        self
    }

    /// Sets [`CacheConfig::parsed_subscriptions`].
    pub fn with_parsed_subscriptions(mut self, n: usize) -> Self {
        self.parsed_subscriptions = n;
        self
    }

    /// Sets [`CacheConfig::table`].
    pub fn with_table(mut self, table: Table) -> Self {
        self.table = table;
        self
    }
}

/// An [`Hss`] that caches another's registration data in a [`Store`]; see
/// the [module docs](self) for the rules.
pub struct CachedHss<H: Hss> {
    inner: H,
    cache: Arc<Cache>,
}

impl<H: Hss> std::fmt::Debug for CachedHss<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedHss")
            .field("config", &self.cache.config)
            .finish_non_exhaustive()
    }
}

impl<H: Hss> CachedHss<H> {
    /// Caches `inner`'s registration data in `store`, and registers itself
    /// as `inner`'s event listener (replacing any other).
    pub fn new(inner: H, store: Arc<dyn Store>, mut config: CacheConfig) -> CachedHss<H> {
        config.record_ttl = config.record_ttl.max(config.reregistration_interval);
        config.cas_attempts = config.cas_attempts.max(1);
        let cache = Arc::new(Cache {
            store,
            memo: Memo::new(config.parsed_subscriptions),
            config,
            listener: RwLock::new(None),
        });
        inner.set_listener(Arc::new(Invalidator(cache.clone())));
        CachedHss { inner, cache }
    }

    /// The cached HSS.
    pub fn inner(&self) -> &H {
        &self.inner
    }

    /// The settings in force.
    pub fn config(&self) -> &CacheConfig {
        &self.cache.config
    }

    async fn register(&self, req: &ServerAssignment) -> Result<RegData, HssError> {
        let cache = &self.cache;
        let forced = req.kind == AssignmentType::ReRegistration;
        // The SAR to send, once decided; `contended` holds the data of a
        // fresh registration whose refresh lost a CAS race.
        let mut sar = None;
        let mut contended = None;
        for _ in 0..cache.config.cas_attempts {
            contended = None;
            let Some(found) = cache.lookup_logged(&req.impu).await else {
                sar = Some(AssignmentType::Registration);
                break;
            };
            let new_binding = req
                .impi
                .as_ref()
                .is_some_and(|impi| !found.record.bound_impis.contains(impi));
            if found.data.state != RegistrationState::Registered || new_binding {
                sar = Some(AssignmentType::Registration);
                break;
            }
            let age = now_ms().saturating_sub(found.record.sar_ms);
            if forced || u128::from(age) >= cache.config.reregistration_interval.as_millis() {
                sar = Some(AssignmentType::ReRegistration);
                break;
            }
            // A re-registration within the interval: from the cache.
            match cache
                .store
                .set(
                    &cache.config.table,
                    &found.store_key,
                    found.bytes.clone(),
                    Condition::Matches(found.cas),
                    cache.ttl(),
                )
                .await
            {
                Ok(_) => return Ok(found.data),
                Err(StoreError::Conflict) => contended = Some(found.data),
                Err(e) => {
                    tracing::warn!(impu = %req.impu, "HSS cache: refreshing the record: {e}");
                    return Ok(found.data);
                }
            }
        }
        let kind = match (sar, contended) {
            (Some(kind), _) => kind,
            // Contended on every attempt; the set was registered and fresh
            // a moment ago.
            (None, Some(data)) => return Ok(data),
            (None, None) => AssignmentType::Registration,
        };
        let mut data = self.sar(req, kind).await?;
        data.state = RegistrationState::Registered;
        cache.put(req, &data).await;
        Ok(data)
    }

    async fn call(&self, req: &ServerAssignment) -> Result<RegData, HssError> {
        if let Some(found) = self.cache.lookup_logged(&req.impu).await {
            return Ok(found.data);
        }
        let mut data = self.sar(req, AssignmentType::UnregisteredUser).await?;
        if data.state != RegistrationState::Registered {
            data.state = RegistrationState::Unregistered;
        }
        data.state = self.cache.put(req, &data).await;
        Ok(data)
    }

    async fn deregister(&self, req: &ServerAssignment) -> Result<RegData, HssError> {
        let result = self.inner.assign_server(req).await;
        match &result {
            Err(HssError::Unavailable(_) | HssError::Timeout(_)) => {}
            _ => self.cache.remove_impu(&req.impu).await,
        }
        result
    }

    async fn sar(&self, req: &ServerAssignment, kind: AssignmentType) -> Result<RegData, HssError> {
        let req = ServerAssignment {
            kind,
            ..req.clone()
        };
        self.inner.assign_server(&req).await
    }
}

#[async_trait]
impl<H: Hss> Hss for CachedHss<H> {
    async fn authenticate(&self, req: &AuthRequest) -> Result<AuthVector, HssError> {
        self.inner.authenticate(req).await
    }

    async fn assign_server(&self, req: &ServerAssignment) -> Result<RegData, HssError> {
        match req.kind {
            AssignmentType::NoAssignment => {
                if let Some(found) = self.cache.lookup_logged(&req.impu).await {
                    return Ok(found.data);
                }
                self.inner.assign_server(req).await
            }
            AssignmentType::Registration | AssignmentType::ReRegistration => {
                self.register(req).await
            }
            AssignmentType::UnregisteredUser => self.call(req).await,
            AssignmentType::TimeoutDeregistration
            | AssignmentType::UserDeregistration
            | AssignmentType::AdministrativeDeregistration => self.deregister(req).await,
            AssignmentType::AuthenticationFailure | AssignmentType::AuthenticationTimeout => {
                self.inner.assign_server(req).await
            }
        }
    }

    async fn authorize_user(&self, req: &UserAuthorization) -> Result<ServerSelection, HssError> {
        self.inner.authorize_user(req).await
    }

    async fn locate(&self, req: &LocationQuery) -> Result<ServerSelection, HssError> {
        self.inner.locate(req).await
    }

    fn set_listener(&self, listener: Arc<dyn HssListener>) {
        let mut slot = self
            .cache
            .listener
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Some(listener);
    }
}

// ---------------------------------------------------------------------------
// Records

/// What an `impu:` key holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Entry {
    Set(SetRecord),
    Alias { key: String },
}

impl Versioned for Entry {
    const KIND: &'static str = "hss-cache-impu";
    const VERSION: u16 = 1;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SetRecord {
    state: String,
    #[serde(default)]
    subscription: Option<String>,
    #[serde(default)]
    ccfs: Vec<String>,
    #[serde(default)]
    ecfs: Vec<String>,
    #[serde(default)]
    associated_impis: Vec<String>,
    /// IMPIs that registered the set through this cache.
    #[serde(default)]
    bound_impis: Vec<String>,
    /// When the last SAR for the set was sent (unix ms).
    sar_ms: u64,
    /// A random tag of this subscription text (new whenever the text is
    /// written), naming it in the parsed-subscription memo; 0: none.
    #[serde(default)]
    rev: u64,
}

/// What an `impi:` key holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ImpiIndex {
    keys: Vec<String>,
}

impl Versioned for ImpiIndex {
    const KIND: &'static str = "hss-cache-impi";
    const VERSION: u16 = 1;
}

impl SetRecord {
    fn new(data: &RegData, bound: Option<&str>, sar_ms: u64) -> SetRecord {
        SetRecord {
            state: data.state.as_str().to_owned(),
            subscription: data.subscription.as_ref().map(ImsSubscription::to_xml),
            ccfs: data.charging.ccfs.clone(),
            ecfs: data.charging.ecfs.clone(),
            associated_impis: data.associated_impis.clone(),
            bound_impis: bound.into_iter().map(str::to_owned).collect(),
            sar_ms,
            rev: new_rev(),
        }
    }

    fn to_reg_data(&self, memo: &Memo) -> Result<RegData, String> {
        let state = RegistrationState::parse(&self.state)
            .ok_or_else(|| format!("unknown state {:?}", self.state))?;
        let subscription = match &self.subscription {
            Some(xml) => Some(memo.parse(self.rev, xml).map_err(|e| e.to_string())?),
            None => None,
        };
        Ok(RegData {
            state,
            subscription,
            charging: ChargingAddresses {
                ccfs: self.ccfs.clone(),
                ecfs: self.ecfs.clone(),
            },
            associated_impis: self.associated_impis.clone(),
        })
    }

    /// Whether the set belongs to `impi`.
    fn belongs_to(&self, impi: &str, data: &RegData) -> bool {
        self.bound_impis.iter().any(|i| i == impi)
            || self.associated_impis.iter().any(|i| i == impi)
            || data
                .subscription
                .as_ref()
                .is_some_and(|s| s.private_id == impi)
    }
}

/// A fresh, non-zero subscription tag.
fn new_rev() -> u64 {
    let r = getrandom::u64().unwrap_or_else(|_| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    r.max(1)
}

/// Parsed subscriptions by tag, so that a cache hit does not parse the
/// XML again. An entry is used only if its text equals the record's, so a
/// wrong or reused tag costs a parse, never wrong data.
struct Memo {
    capacity: usize,
    map: Mutex<HashMap<u64, Arc<(String, ImsSubscription)>>>,
}

impl Memo {
    fn new(capacity: usize) -> Memo {
        Memo {
            capacity,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn parse(&self, rev: u64, xml: &str) -> Result<ImsSubscription, HssError> {
        if self.capacity == 0 || rev == 0 {
            return ImsSubscription::parse(xml);
        }
        let hit = self.lock().get(&rev).cloned();
        if let Some(entry) = hit
            && entry.0 == xml
        {
            return Ok(entry.1.clone());
        }
        let parsed = ImsSubscription::parse(xml)?;
        let mut map = self.lock();
        if map.len() >= self.capacity
            && let Some(victim) = map.keys().next().copied()
        {
            map.remove(&victim);
        }
        map.insert(rev, Arc::new((xml.to_owned(), parsed.clone())));
        Ok(parsed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<(String, ImsSubscription)>>> {
        self.map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A set found for an IMPU.
struct Found {
    /// The set key (its default identity).
    key: String,
    /// `impu:<key>`.
    store_key: String,
    cas: Cas,
    bytes: Bytes,
    record: SetRecord,
    data: RegData,
}

fn impu_key(impu: &str) -> String {
    format!("impu:{impu}")
}

fn impi_key(impi: &str) -> String {
    format!("impi:{impi}")
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The set key of an answer: its default identity (see the module docs).
fn set_key(subscription: Option<&ImsSubscription>, impu: &str) -> String {
    let Some(s) = subscription else {
        return impu.to_owned();
    };
    let literal = || s.public_identities().filter(|id| id.wildcard().is_none());
    literal()
        .find(|id| !id.barring_indication)
        .or_else(|| literal().next())
        .map_or_else(|| impu.to_owned(), |id| id.identity.clone())
}

/// The literal identities of a subscription (aliases are written for
/// these), wildcards excluded.
fn identities(subscription: Option<&ImsSubscription>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some(s) = subscription {
        for id in s.public_identities().filter(|id| id.wildcard().is_none()) {
            if !out.contains(&id.identity) {
                out.push(id.identity.clone());
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The cache

struct Cache {
    store: Arc<dyn Store>,
    config: CacheConfig,
    listener: RwLock<Option<Arc<dyn HssListener>>>,
    memo: Memo,
}

impl Cache {
    fn ttl(&self) -> Ttl {
        Ttl::After(self.config.record_ttl)
    }

    /// Reads and decodes `impu:` entry `store_key`; an undecodable record
    /// is `Some((cas, bytes, None))`.
    async fn get_entry(
        &self,
        store_key: &str,
    ) -> Result<Option<(Cas, Bytes, Option<Entry>)>, StoreError> {
        let Some(r) = self.store.get(&self.config.table, store_key).await? else {
            return Ok(None);
        };
        let entry = match record::decode::<Entry>(&r.value) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::debug!(
                    key = store_key,
                    "HSS cache: unreadable record (a miss): {e}"
                );
                None
            }
        };
        Ok(Some((r.cas, r.value, entry)))
    }

    /// The set serving `impu`, if cached and readable (see the module
    /// docs: anything else is a miss).
    async fn lookup(&self, impu: &str) -> Result<Option<Found>, StoreError> {
        let first_key = impu_key(impu);
        let Some((cas, bytes, entry)) = self.get_entry(&first_key).await? else {
            return Ok(None);
        };
        let (key, store_key, cas, bytes, record) = match entry {
            Some(Entry::Set(record)) => (impu.to_owned(), first_key, cas, bytes, record),
            Some(Entry::Alias { key }) => {
                let store_key = impu_key(&key);
                match self.get_entry(&store_key).await? {
                    Some((cas, bytes, Some(Entry::Set(record)))) => {
                        (key, store_key, cas, bytes, record)
                    }
                    _ => return Ok(None),
                }
            }
            None => return Ok(None),
        };
        let data = match record.to_reg_data(&self.memo) {
            Ok(d) => d,
            Err(e) => {
                tracing::debug!(key = %store_key, "HSS cache: unreadable set (a miss): {e}");
                return Ok(None);
            }
        };
        let serves = match &data.subscription {
            Some(s) => s.find_identity(impu).is_some(),
            None => key == impu,
        };
        if !serves || data.state == RegistrationState::NotRegistered {
            return Ok(None);
        }
        Ok(Some(Found {
            key,
            store_key,
            cas,
            bytes,
            record,
            data,
        }))
    }

    /// [`Cache::lookup`], a store error logged and taken as a miss.
    async fn lookup_logged(&self, impu: &str) -> Option<Found> {
        match self.lookup(impu).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(impu, "HSS cache: look-up failed, asking the HSS: {e}");
                None
            }
        }
    }

    /// Caches a SAR answer for `req` (errors logged). Returns the state
    /// cached: a `call` answer for a set cached as registered keeps it
    /// registered (a terminating request must not downgrade a
    /// registration).
    async fn put(&self, req: &ServerAssignment, data: &RegData) -> RegistrationState {
        match self.try_put(req, data).await {
            Ok(state) => state,
            Err(e) => {
                tracing::warn!(impu = %req.impu, "HSS cache: caching the SAR answer: {e}");
                data.state
            }
        }
    }

    async fn try_put(
        &self,
        req: &ServerAssignment,
        data: &RegData,
    ) -> Result<RegistrationState, StoreError> {
        let subscription = data.subscription.as_ref();
        let key = set_key(subscription, &req.impu);
        let fresh = SetRecord::new(data, req.impi.as_deref(), now_ms());
        let registered = RegistrationState::Registered.as_str();
        let mut state = data.state;
        clearwater_store::update(
            &*self.store,
            &self.config.table,
            &impu_key(&key),
            self.ttl(),
            self.config.cas_attempts,
            |current| {
                let mut record = fresh.clone();
                state = data.state;
                if let Some(Ok(Entry::Set(old))) = current.map(|b| record::decode::<Entry>(b))
                    && old.state == registered
                {
                    if record.state != registered {
                        // A call for an IMPU of a registered set.
                        record.state = old.state;
                        record.sar_ms = old.sar_ms;
                        record.bound_impis.clear();
                        state = RegistrationState::Registered;
                    }
                    for impi in old.bound_impis {
                        if !record.bound_impis.contains(&impi)
                            && record.bound_impis.len() < MAX_BOUND_IMPIS
                        {
                            record.bound_impis.push(impi);
                        }
                    }
                }
                record::encode(&Entry::Set(record)).ok()
            },
        )
        .await?;
        let mut aliases = identities(subscription);
        if !aliases.contains(&req.impu) {
            aliases.push(req.impu.clone());
        }
        aliases.retain(|id| *id != key);
        self.write_aliases(&key, &aliases).await?;
        let mut impis: Vec<&str> = req.impi.iter().map(String::as_str).collect();
        if let Some(s) = subscription
            && !s.private_id.is_empty()
            && !impis.contains(&s.private_id.as_str())
        {
            impis.push(&s.private_id);
        }
        for impi in impis {
            self.index(impi, &key).await?;
        }
        Ok(state)
    }

    async fn write_aliases(&self, key: &str, aliases: &[String]) -> Result<(), StoreError> {
        let alias = record::encode(&Entry::Alias {
            key: key.to_owned(),
        })?;
        let writes = aliases.iter().map(|id| {
            let store_key = impu_key(id);
            let alias = alias.clone();
            async move {
                self.store
                    .set(
                        &self.config.table,
                        &store_key,
                        alias,
                        Condition::Any,
                        self.ttl(),
                    )
                    .await
            }
        });
        for result in join_all(writes).await {
            result?;
        }
        Ok(())
    }

    /// Adds `key` to `impi`'s index.
    async fn index(&self, impi: &str, key: &str) -> Result<(), StoreError> {
        clearwater_store::update(
            &*self.store,
            &self.config.table,
            &impi_key(impi),
            self.ttl(),
            self.config.cas_attempts,
            |current| {
                let mut index = current
                    .and_then(|b| record::decode::<ImpiIndex>(b).ok())
                    .unwrap_or_default();
                index.keys.retain(|k| k != key);
                index.keys.push(key.to_owned());
                if index.keys.len() > MAX_SETS_PER_IMPI {
                    let excess = index.keys.len() - MAX_SETS_PER_IMPI;
                    index.keys.drain(..excess);
                }
                record::encode(&index).ok()
            },
        )
        .await?;
        Ok(())
    }

    /// The set keys in `impi`'s index.
    async fn indexed(&self, impi: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .store
            .get(&self.config.table, &impi_key(impi))
            .await?
            .and_then(|r| record::decode::<ImpiIndex>(&r.value).ok())
            .map(|i| i.keys)
            .unwrap_or_default())
    }

    /// Removes the set serving `impu`, and `impu`'s own record (errors
    /// logged).
    async fn remove_impu(&self, impu: &str) {
        if let Err(e) = self.try_remove_impu(impu).await {
            tracing::error!(
                impu,
                "HSS cache: removing the set failed; it may be served until it expires: {e}"
            );
        }
    }

    async fn try_remove_impu(&self, impu: &str) -> Result<(), StoreError> {
        if let Some(found) = self.lookup(impu).await? {
            self.remove_set(&found.key, found.data.subscription.as_ref())
                .await?;
        }
        self.store
            .delete(&self.config.table, &impu_key(impu), Condition::Any)
            .await?;
        Ok(())
    }

    /// Deletes a set record and the aliases of its identities.
    async fn remove_set(
        &self,
        key: &str,
        subscription: Option<&ImsSubscription>,
    ) -> Result<(), StoreError> {
        self.store
            .delete(&self.config.table, &impu_key(key), Condition::Any)
            .await?;
        let aliases = identities(subscription);
        let deletes = aliases.iter().filter(|id| *id != key).map(|id| {
            let store_key = impu_key(id);
            async move {
                self.store
                    .delete(&self.config.table, &store_key, Condition::Any)
                    .await
            }
        });
        for result in join_all(deletes).await {
            result?;
        }
        Ok(())
    }

    /// PPR: new subscription and/or charging addresses for `impi`'s sets.
    async fn profile_updated(
        &self,
        impi: &str,
        subscription: Option<&ImsSubscription>,
        charging: Option<&ChargingAddresses>,
    ) -> Result<(), StoreError> {
        // (set key, whether it must be checked to belong to the IMPI)
        let mut keys: Vec<(String, bool)> = self
            .indexed(impi)
            .await?
            .into_iter()
            .map(|k| (k, true))
            .collect();
        for id in identities(subscription) {
            let key = match self.get_entry(&impu_key(&id)).await? {
                Some((_, _, Some(Entry::Set(_)))) => id,
                Some((_, _, Some(Entry::Alias { key }))) => key,
                _ => continue,
            };
            match keys.iter_mut().find(|(k, _)| *k == key) {
                Some(existing) => existing.1 = false,
                None => keys.push((key, false)),
            }
        }
        let xml = subscription.map(ImsSubscription::to_xml);
        for (key, check) in keys {
            let updated = self
                .modify(&key, |record, data| {
                    if check && !record.belongs_to(impi, data) {
                        return false;
                    }
                    if let Some(xml) = &xml {
                        record.subscription = Some(xml.clone());
                        record.rev = new_rev();
                    }
                    if let Some(c) = charging {
                        record.ccfs = c.ccfs.clone();
                        record.ecfs = c.ecfs.clone();
                    }
                    true
                })
                .await?;
            if updated && subscription.is_some() {
                let mut aliases = identities(subscription);
                aliases.retain(|id| *id != key);
                self.write_aliases(&key, &aliases).await?;
            }
        }
        Ok(())
    }

    /// CAS-updates the set record under `key` with `change` (which says
    /// whether it changed anything). Returns whether a record was written.
    async fn modify(
        &self,
        key: &str,
        mut change: impl FnMut(&mut SetRecord, &RegData) -> bool,
    ) -> Result<bool, StoreError> {
        let store_key = impu_key(key);
        for _ in 0..self.config.cas_attempts {
            let Some((cas, _, Some(Entry::Set(mut record)))) = self.get_entry(&store_key).await?
            else {
                return Ok(false);
            };
            let Ok(data) = record.to_reg_data(&self.memo) else {
                return Ok(false);
            };
            if !change(&mut record, &data) {
                return Ok(false);
            }
            let bytes = record::encode(&Entry::Set(record))?;
            match self
                .store
                .set(
                    &self.config.table,
                    &store_key,
                    bytes,
                    Condition::Matches(cas),
                    self.ttl(),
                )
                .await
            {
                Ok(_) => return Ok(true),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    /// RTR: removes the named IMPUs' sets, or every set of the IMPIs.
    async fn deregistered(&self, impis: &[String], impus: &[String]) -> Result<(), StoreError> {
        if !impus.is_empty() {
            for impu in impus {
                self.try_remove_impu(impu).await?;
            }
            return Ok(());
        }
        for impi in impis {
            for key in self.indexed(impi).await? {
                let Some((_, _, Some(Entry::Set(record)))) =
                    self.get_entry(&impu_key(&key)).await?
                else {
                    continue;
                };
                let data = record.to_reg_data(&self.memo).ok();
                let belongs = data.as_ref().is_none_or(|d| record.belongs_to(impi, d));
                if belongs {
                    let subscription = data.as_ref().and_then(|d| d.subscription.as_ref());
                    self.remove_set(&key, subscription).await?;
                }
            }
            self.store
                .delete(&self.config.table, &impi_key(impi), Condition::Any)
                .await?;
        }
        Ok(())
    }
}

/// The cache's listener on the inner HSS.
struct Invalidator(Arc<Cache>);

#[async_trait]
impl HssListener for Invalidator {
    async fn on_event(&self, event: HssEvent) -> Result<(), HssError> {
        let cache = &self.0;
        let invalidated = match &event {
            HssEvent::ProfileUpdated {
                impi,
                subscription,
                charging,
            } => {
                cache
                    .profile_updated(impi, subscription.as_ref(), charging.as_ref())
                    .await
            }
            HssEvent::Deregistered { impis, impus, .. } => cache.deregistered(impis, impus).await,
        };
        if let Err(e) = &invalidated {
            tracing::error!("HSS cache: applying {event:?} failed: {e}");
        }
        let listener = cache
            .listener
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let forwarded = match listener {
            Some(l) => l.on_event(event).await,
            None => Ok(()),
        };
        match (forwarded, invalidated) {
            (Err(e), _) => Err(e),
            (Ok(()), Err(e)) => Err(HssError::Unavailable(format!(
                "the HSS cache could not be updated: {e}"
            ))),
            (Ok(()), Ok(())) => Ok(()),
        }
    }
}
