//! Locating SIP servers (RFC 3263 §4): NAPTR → SRV → A/AAAA, with static
//! overrides and a blacklist of failed targets.
//!
//! [`SipResolver::resolve`] turns a SIP or SIPS URI into an ordered list of
//! [`Remote`]s:
//!
//! 1. a host in the static overrides gives its configured targets;
//! 2. a numeric host, or an explicit port, skips NAPTR and SRV;
//! 3. a `transport` parameter skips NAPTR and queries the matching SRV name;
//! 4. otherwise NAPTR records for `SIP+D2U`, `SIP+D2T`, `SIPS+D2T`,
//!    `SIP+D2W`/`SIPS+D2W` (RFC 7118) are followed in order/preference; without
//!    NAPTR records, `_sip._udp`, `_sip._tcp` (or `_sips._tcp`) SRV records; without
//!    those, A/AAAA with UDP (TLS for SIPS) on the default port.
//!
//! SRV targets are ordered by priority, weighted at random within a priority
//! (RFC 2782). Targets that failed recently ([`SipResolver::report_failure`])
//! are blacklisted for `blacklist_for` (30 s by default, as Clearwater does)
//! and moved to the end of the list; once that time has passed, a single
//! request is allowed to probe the target, and its outcome decides whether
//! the target is usable again or blacklisted once more.
//!
//! DNS is reached through [`DnsBackend`]: [`HickoryBackend`]
//! (hickory-resolver) in production, any table in tests.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hickory_proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;

use crate::error::Error;
use crate::transport::{Remote, Transport};
use crate::uri::Uri;

/// A NAPTR record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Naptr {
    /// Order.
    pub order: u16,
    /// Preference.
    pub preference: u16,
    /// Flags (`s` for SRV).
    pub flags: String,
    /// Service (`SIP+D2U`...).
    pub service: String,
    /// Replacement domain (the SRV name).
    pub replacement: String,
}

/// An SRV record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Srv {
    /// Priority (lower first).
    pub priority: u16,
    /// Weight within a priority.
    pub weight: u16,
    /// Port.
    pub port: u16,
    /// Target host.
    pub target: String,
}

/// Where DNS answers come from. Errors and empty answers both yield an empty
/// list (RFC 3263 moves on to the next step either way).
pub trait DnsBackend: Send + Sync + 'static {
    /// NAPTR records of `name`.
    fn naptr(&self, name: &str) -> impl Future<Output = Vec<Naptr>> + Send;
    /// SRV records of `name`.
    fn srv(&self, name: &str) -> impl Future<Output = Vec<Srv>> + Send;
    /// A and AAAA records of `name`.
    fn ip(&self, name: &str) -> impl Future<Output = Vec<IpAddr>> + Send;
}

/// DNS through hickory-resolver.
pub struct HickoryBackend(TokioResolver);

impl HickoryBackend {
    /// The system's resolver configuration (`/etc/resolv.conf`).
    pub fn system() -> Result<HickoryBackend, Error> {
        let r = TokioResolver::builder_tokio()
            .map_err(|_| Error::Invalid("cannot read the system resolver configuration"))?
            .build()
            .map_err(|_| Error::Invalid("cannot build the resolver"))?;
        Ok(HickoryBackend(r))
    }

    /// A resolver asking the name server at `server` (UDP, then TCP).
    pub fn with_name_server(server: SocketAddr) -> Result<HickoryBackend, Error> {
        let mut udp = ConnectionConfig::udp();
        udp.port = server.port();
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = server.port();
        let mut config = ResolverConfig::default();
        config.add_name_server(NameServerConfig::new(server.ip(), true, vec![udp, tcp]));
        let r = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .build()
            .map_err(|_| Error::Invalid("cannot build the resolver"))?;
        Ok(HickoryBackend(r))
    }
}

/// Fully qualified form, so the resolver does not try search domains.
fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    }
}

impl HickoryBackend {
    /// The `rtype` answers for `name` that `pick` converts (none on error).
    async fn answers<T>(
        &self,
        name: &str,
        rtype: RecordType,
        pick: impl Fn(&RData) -> Option<T>,
    ) -> Vec<T> {
        match self.0.lookup(fqdn(name), rtype).await {
            Ok(l) => l.answers().iter().filter_map(|r| pick(&r.data)).collect(),
            Err(_) => Vec::new(),
        }
    }
}

impl DnsBackend for HickoryBackend {
    async fn naptr(&self, name: &str) -> Vec<Naptr> {
        self.answers(name, RecordType::NAPTR, |d| match d {
            RData::NAPTR(n) => Some(Naptr {
                order: n.order,
                preference: n.preference,
                flags: String::from_utf8_lossy(&n.flags).into_owned(),
                service: String::from_utf8_lossy(&n.services).into_owned(),
                replacement: n.replacement.to_ascii(),
            }),
            _ => None,
        })
        .await
    }

    async fn srv(&self, name: &str) -> Vec<Srv> {
        self.answers(name, RecordType::SRV, |d| match d {
            RData::SRV(s) => Some(Srv {
                priority: s.priority,
                weight: s.weight,
                port: s.port,
                target: s.target.to_ascii(),
            }),
            _ => None,
        })
        .await
    }

    async fn ip(&self, name: &str) -> Vec<IpAddr> {
        match self.0.lookup_ip(fqdn(name)).await {
            Ok(l) => l.iter().collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// Failed targets and their probes (sans-IO: time is a parameter).
#[derive(Debug, Default)]
pub struct Blacklist {
    entries: HashMap<Remote, Entry>,
    duration: Duration,
    /// Size at which expired entries are next pruned.
    prune_at: usize,
    /// When they last were.
    last_prune: Option<Instant>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    /// Not to be used until then.
    Until(Instant),
    /// One request is probing it since then.
    Probing(Instant),
}

impl Blacklist {
    /// A blacklist holding failed targets for `duration`.
    pub fn new(duration: Duration) -> Blacklist {
        Blacklist {
            entries: HashMap::new(),
            duration,
            prune_at: Self::PRUNE_AT,
            last_prune: None,
        }
    }

    /// Marks `r` failed at `now`. Entries whose time is over are pruned as
    /// the list grows, and at most [`Blacklist::MAX_ENTRIES`] are held (a
    /// failure beyond them is not recorded): targets can come from the
    /// messages themselves, so the list must not grow without bound.
    pub fn failed(&mut self, r: Remote, now: Instant) {
        if !self.entries.contains_key(&r) {
            // Prune when the list has doubled since the last time (amortised
            // O(1)); when it is full, at most every quarter of `duration`.
            let full = self.entries.len() >= Self::MAX_ENTRIES;
            let due = if full {
                self.last_prune.is_none_or(|t| now >= t + self.duration / 4)
            } else {
                self.entries.len() >= self.prune_at
            };
            if due {
                let d = self.duration;
                self.entries.retain(|_, e| match *e {
                    Entry::Until(t) => now < t,
                    Entry::Probing(since) => now < since + d,
                });
                self.prune_at = (2 * self.entries.len()).clamp(Self::PRUNE_AT, Self::MAX_ENTRIES);
                self.last_prune = Some(now);
            }
            if self.entries.len() >= Self::MAX_ENTRIES {
                return;
            }
        }
        self.entries.insert(r, Entry::Until(now + self.duration));
    }

    /// Most targets held blacklisted at once.
    pub const MAX_ENTRIES: usize = 65_536;
    const PRUNE_AT: usize = 1024;

    /// Targets held (blacklisted or being probed).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Marks `r` working.
    pub fn succeeded(&mut self, r: &Remote) {
        self.entries.remove(r);
    }

    /// Whether `r` may be used at `now`. A target whose blacklisting has
    /// expired is handed to exactly one caller (the probe) until its outcome
    /// is reported; a probe that never reports expires after `duration`.
    pub fn usable(&mut self, r: &Remote, now: Instant) -> bool {
        match self.entries.get(r).copied() {
            None => true,
            Some(Entry::Until(t)) if now < t => false,
            Some(Entry::Until(_)) => {
                self.entries.insert(*r, Entry::Probing(now));
                true
            }
            Some(Entry::Probing(since)) if now < since + self.duration => false,
            Some(Entry::Probing(_)) => {
                self.entries.insert(*r, Entry::Probing(now));
                true
            }
        }
    }

    /// Orders `targets`: usable ones first (keeping their order), then the
    /// blacklisted ones (so a request still has somewhere to go when all are).
    pub fn order(&mut self, targets: Vec<Remote>, now: Instant) -> Vec<Remote> {
        let (mut ok, bad): (Vec<_>, Vec<_>) =
            targets.into_iter().partition(|r| self.usable(r, now));
        ok.extend(bad);
        ok
    }
}

/// Resolver configuration.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DnsConfig {
    /// Static targets by host name (lower case), checked before DNS.
    pub overrides: HashMap<String, Vec<Remote>>,
    /// How long a failed target stays blacklisted (default 30 s).
    pub blacklist_for: Duration,
    /// Transports this element can use, in preference order (default UDP,
    /// TCP).
    pub transports: Vec<Transport>,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            overrides: HashMap::new(),
            blacklist_for: Duration::from_secs(30),
            transports: vec![Transport::Udp, Transport::Tcp],
        }
    }
}

/// RFC 3263 server location. See the [module docs](self).
pub struct SipResolver<B> {
    backend: B,
    config: DnsConfig,
    blacklist: Mutex<Blacklist>,
    seed: Mutex<u64>,
}

impl<B: DnsBackend> SipResolver<B> {
    /// A resolver over `backend`.
    pub fn new(backend: B, config: DnsConfig) -> SipResolver<B> {
        let blacklist = Mutex::new(Blacklist::new(config.blacklist_for));
        // Per-process random seed (std's hasher keys), so the elements of a
        // cluster do not all pick SRV targets in the same sequence.
        let seed = RandomState::new().hash_one(());
        SipResolver {
            backend,
            config,
            blacklist,
            seed: Mutex::new(seed | 1),
        }
    }

    /// Reports that sending to `r` failed (timeout, connection refused...).
    pub fn report_failure(&self, r: Remote) {
        if let Ok(mut b) = self.blacklist.lock() {
            b.failed(strip_flow(r), Instant::now());
        }
    }

    /// Reports that `r` answered.
    pub fn report_success(&self, r: Remote) {
        if let Ok(mut b) = self.blacklist.lock() {
            b.succeeded(&strip_flow(r));
        }
    }

    /// The ordered targets for `uri` (a `sip:` or `sips:` URI).
    pub async fn resolve(&self, uri: &Uri<'_>) -> Result<Vec<Remote>, Error> {
        let targets = self.lookup(uri).await?;
        if targets.is_empty() {
            return Err(Error::Invalid("no server found for the URI"));
        }
        let now = Instant::now();
        Ok(match self.blacklist.lock() {
            Ok(mut b) => b.order(targets, now),
            Err(_) => targets,
        })
    }

    async fn lookup(&self, uri: &Uri<'_>) -> Result<Vec<Remote>, Error> {
        let sip = uri
            .as_sip()
            .ok_or(Error::Invalid("only sip and sips URIs can be resolved"))?;
        let secure = sip.is_secure();
        let forced = sip
            .transport()
            .map(|t| Transport::from_token(t).ok_or(Error::Invalid("unknown transport parameter")))
            .transpose()?;
        let host = sip.host();
        let name = host.as_str().to_ascii_lowercase();
        // 1. static overrides
        if let Some(list) = self.config.overrides.get(name.trim_end_matches('.')) {
            return Ok(list
                .iter()
                .copied()
                .filter(|r| forced.is_none_or(|t| r.transport == t))
                .collect());
        }
        let default_transport = forced.unwrap_or(if secure {
            Transport::Tls
        } else {
            Transport::Udp
        });
        // 2. numeric host, or explicit port: no NAPTR, no SRV
        if let Some(ip) = host.ip() {
            let port = sip.port().unwrap_or(default_transport.default_port());
            return Ok(vec![Remote::new(
                default_transport,
                SocketAddr::new(ip, port),
            )]);
        }
        if let Some(port) = sip.port() {
            return Ok(self.addresses(&name, port, default_transport).await);
        }
        // 3. transport parameter: SRV for it
        if let Some(t) = forced {
            let srv_name = format!("{}.{name}", srv_prefix(t, secure));
            let via_srv = self.via_srv(&srv_name, t).await;
            if !via_srv.is_empty() {
                return Ok(via_srv);
            }
            return Ok(self.addresses(&name, t.default_port(), t).await);
        }
        // 4. NAPTR
        let mut naptrs: Vec<(Naptr, Transport)> = self
            .backend
            .naptr(&name)
            .await
            .into_iter()
            .filter(|n| n.flags.eq_ignore_ascii_case("s"))
            .filter_map(|n| naptr_transport(&n.service, secure).map(|t| (n, t)))
            .filter(|(_, t)| self.config.transports.contains(t))
            .collect();
        naptrs.sort_by_key(|(n, _)| (n.order, n.preference));
        if !naptrs.is_empty() {
            let mut out = Vec::new();
            for (n, t) in naptrs {
                out.extend(self.via_srv(&n.replacement, t).await);
            }
            return Ok(out);
        }
        // no NAPTR: SRV for each supported transport
        let mut out = Vec::new();
        for &t in &self.config.transports {
            if secure && t != Transport::Tls {
                continue;
            }
            let srv_name = format!("{}.{name}", srv_prefix(t, secure));
            out.extend(self.via_srv(&srv_name, t).await);
        }
        if !out.is_empty() {
            return Ok(out);
        }
        Ok(self
            .addresses(&name, default_transport.default_port(), default_transport)
            .await)
    }

    async fn addresses(&self, name: &str, port: u16, t: Transport) -> Vec<Remote> {
        self.backend
            .ip(name)
            .await
            .into_iter()
            .map(|ip| Remote::new(t, SocketAddr::new(ip, port)))
            .collect()
    }

    async fn via_srv(&self, srv_name: &str, t: Transport) -> Vec<Remote> {
        let records = self.backend.srv(srv_name).await;
        let ordered = self.order_srv(records);
        let mut out = Vec::new();
        for s in ordered {
            let target = s.target.trim_end_matches('.');
            if target.is_empty() {
                continue; // "." : service not available
            }
            out.extend(self.addresses(target, s.port, t).await);
        }
        out
    }

    /// RFC 2782: by priority, then weighted random order within a priority.
    fn order_srv(&self, mut records: Vec<Srv>) -> Vec<Srv> {
        records.sort_by_key(|s| s.priority);
        let mut out = Vec::with_capacity(records.len());
        let mut i = 0;
        while i < records.len() {
            let p = records[i].priority;
            let mut group: Vec<Srv> = records[i..]
                .iter()
                .take_while(|s| s.priority == p)
                .cloned()
                .collect();
            i += group.len();
            while !group.is_empty() {
                let total: u64 = group.iter().map(|s| u64::from(s.weight)).sum();
                let pick = if total == 0 {
                    0
                } else {
                    let r = self.random() % (total + 1);
                    let mut acc = 0u64;
                    group
                        .iter()
                        .position(|s| {
                            acc += u64::from(s.weight);
                            acc >= r
                        })
                        .unwrap_or(0)
                };
                out.push(group.remove(pick));
            }
        }
        out
    }

    fn random(&self) -> u64 {
        let Ok(mut s) = self.seed.lock() else {
            return 0;
        };
        let mut x = *s;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *s = x;
        x
    }
}

impl<B: DnsBackend> super::TargetHealth for SipResolver<B> {
    fn failed(&self, to: Remote) {
        self.report_failure(to);
    }
    fn responded(&self, to: Remote) {
        self.report_success(to);
    }
}

fn strip_flow(r: Remote) -> Remote {
    Remote { flow: None, ..r }
}

fn srv_prefix(t: Transport, secure: bool) -> &'static str {
    match (t, secure) {
        (Transport::Udp, _) => "_sip._udp",
        (Transport::Tls, _) | (_, true) => "_sips._tcp",
        (Transport::Sctp, _) => "_sip._sctp",
        (Transport::Ws, _) => "_sip._ws",
        (Transport::Wss, _) => "_sips._ws",
        (Transport::Tcp, _) => "_sip._tcp",
    }
}

/// The transport a NAPTR service field names (RFC 3263 §4.1, RFC 7118 §6).
fn naptr_transport(service: &str, secure: bool) -> Option<Transport> {
    let s = service.to_ascii_uppercase();
    let t = match s.as_str() {
        "SIP+D2U" => Transport::Udp,
        "SIP+D2T" => Transport::Tcp,
        "SIPS+D2T" => Transport::Tls,
        "SIP+D2S" => Transport::Sctp,
        "SIP+D2W" => Transport::Ws,
        "SIPS+D2W" => Transport::Wss,
        _ => return None,
    };
    // A SIPS URI may only use secure transports.
    (!secure || matches!(t, Transport::Tls | Transport::Wss)).then_some(t)
}

#[cfg(test)]
mod tests;
