//! The Redis backend: one server or a Redis Cluster, through the `redis`
//! crate (a reconnecting connection manager, or the cluster client).
//!
//! A record is a hash at `cw:<table>:<key>` with the value in field `v` and
//! the CAS token in `c`. Conditional writes and deletes run as Lua scripts
//! (one key each, so they work unchanged on a cluster); each script's text
//! starts with its name and version (`-- clearwater-store set v1`), so a new
//! version is a new script (a new SHA) and old and new nodes can run side by
//! side during an upgrade. CAS tokens are minted by the client (random
//! 64-bit start, see `TokenSource`) and compared as strings, so Lua's
//! doubles never round them. TTLs are Redis key expiries (milliseconds, rounded
//! up).
//!
//! Durability is read from the server at connect time: `appendonly yes` or
//! a non-empty `save` schedule means durable. Managed services that disable
//! `CONFIG` can state it in [`RedisConfig::durability`]. Listing a table
//! scans `cw:<table>:*` (on a cluster, on every master).

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{RedisError, Script, Value};

use crate::{
    Cas, Condition, Durability, Record, Store, StoreError, Table, TokenSource, Ttl, check_key,
    check_write,
};

/// How to reach Redis.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RedisConfig {
    /// `redis://host:port` URLs: one for a single server; any number of
    /// seed nodes for a cluster.
    pub urls: Vec<String>,
    /// Whether the URLs are Redis Cluster nodes.
    pub cluster: bool,
    /// Limit for connecting and for each command (default 1 s).
    pub timeout: Duration,
    /// Durability to assume instead of asking the server.
    pub durability: Option<Durability>,
    /// Largest value accepted (default 16 MiB).
    pub max_value: usize,
}

impl RedisConfig {
    /// One server at `url` (`redis://127.0.0.1:6379`).
    pub fn single(url: impl Into<String>) -> RedisConfig {
        RedisConfig {
            urls: vec![url.into()],
            cluster: false,
            timeout: Duration::from_secs(1),
            durability: None,
            max_value: 16 << 20,
        }
    }

    /// A Redis Cluster reached through `seeds`.
    pub fn cluster<S: Into<String>>(seeds: impl IntoIterator<Item = S>) -> RedisConfig {
        RedisConfig {
            urls: seeds.into_iter().map(Into::into).collect(),
            cluster: true,
            ..RedisConfig::single("")
        }
    }
}

#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// Redis as a [`Store`]. See the [module docs](self).
pub struct RedisStore {
    conn: Conn,
    durability: Durability,
    tokens: TokenSource,
    max_value: usize,
    set_script: Script,
    delete_script: Script,
}

/// The Lua script behind `set` (public for the tests that replay it).
#[doc(hidden)]
pub const SET_SCRIPT: &str = r"-- clearwater-store set v2
-- KEYS[1] record; ARGV: mode (any|absent|cas), expected cas, value, new cas, ttl ms (0 = none)
local cur = redis.call('HGET', KEYS[1], 'c')
-- The new cas is minted once per write: finding it means this very write
-- already ran (a client resent the script after a lost reply).
if cur == ARGV[4] then return 1 end
if ARGV[1] == 'absent' then
  if cur then return 0 end
elseif ARGV[1] == 'cas' then
  if cur ~= ARGV[2] then return 0 end
end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'c', ARGV[4])
local ttl = tonumber(ARGV[5])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
else
  redis.call('PERSIST', KEYS[1])
end
return 1
";

const DELETE_SCRIPT: &str = r"-- clearwater-store delete v1
-- KEYS[1] record; ARGV: mode (any|absent|cas), expected cas. 1 deleted, 0 absent, -1 conflict
local cur = redis.call('HGET', KEYS[1], 'c')
if not cur then
  if ARGV[1] == 'cas' then return -1 end
  return 0
end
if ARGV[1] == 'absent' then return -1 end
if ARGV[1] == 'cas' and cur ~= ARGV[2] then return -1 end
redis.call('DEL', KEYS[1])
return 1
";

/// Longest TTL sent, in ms (about 285,000 years): exact as a Lua number and
/// far from `PEXPIRE`'s overflow, which would fail the script after its
/// `HSET` had already run.
const MAX_TTL_MS: u64 = 1 << 53;

fn map_err(e: RedisError) -> StoreError {
    if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal() {
        StoreError::Unavailable(format!("redis: {e}"))
    } else {
        StoreError::Backend(format!("redis: {e}"))
    }
}

fn redis_key(table: &Table, key: &str) -> String {
    format!("cw:{}:{key}", table.name())
}

fn script_reply(script: &str, n: i64) -> StoreError {
    StoreError::Backend(format!("redis: the {script} script returned {n}"))
}

fn condition_args(c: Condition) -> (&'static str, String) {
    match c {
        Condition::Any => ("any", String::new()),
        Condition::Absent => ("absent", String::new()),
        Condition::Matches(c) => ("cas", c.0.to_string()),
    }
}

impl RedisStore {
    /// Connects (and learns the server's durability).
    pub async fn connect(config: RedisConfig) -> Result<RedisStore, StoreError> {
        let conn = if config.cluster {
            let client = ClusterClient::builder(config.urls.clone())
                .connection_timeout(config.timeout)
                .response_timeout(config.timeout)
                .build()
                .map_err(map_err)?;
            Conn::Cluster(client.get_async_connection().await.map_err(map_err)?)
        } else {
            let url = config
                .urls
                .first()
                .ok_or(StoreError::Backend("no Redis URL".into()))?;
            let client = redis::Client::open(url.as_str()).map_err(map_err)?;
            let mc = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(config.timeout))
                .set_response_timeout(Some(config.timeout))
                .set_number_of_retries(2);
            Conn::Single(
                client
                    .get_connection_manager_with_config(mc)
                    .await
                    .map_err(map_err)?,
            )
        };
        let mut store = RedisStore {
            conn,
            durability: Durability::Ephemeral,
            tokens: TokenSource::new(),
            max_value: config.max_value,
            set_script: Script::new(SET_SCRIPT),
            delete_script: Script::new(DELETE_SCRIPT),
        };
        store.durability = match config.durability {
            Some(d) => d,
            None => store.server_durability().await?,
        };
        Ok(store)
    }

    async fn query(&self, cmd: &redis::Cmd) -> Result<Value, StoreError> {
        match self.conn.clone() {
            Conn::Single(mut c) => cmd.query_async(&mut c).await.map_err(map_err),
            Conn::Cluster(mut c) => cmd.query_async(&mut c).await.map_err(map_err),
        }
    }

    async fn invoke(&self, inv: &redis::ScriptInvocation<'_>) -> Result<i64, StoreError> {
        match self.conn.clone() {
            Conn::Single(mut c) => inv.invoke_async(&mut c).await.map_err(map_err),
            Conn::Cluster(mut c) => inv.invoke_async(&mut c).await.map_err(map_err),
        }
    }

    /// Durable when the server persists (AOF, or RDB snapshots).
    async fn server_durability(&self) -> Result<Durability, StoreError> {
        let config = |name: &str| {
            let mut c = redis::cmd("CONFIG");
            c.arg("GET").arg(name);
            c
        };
        let value = |v: Value| -> String {
            match v {
                Value::Array(items) => match items.get(1) {
                    Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
                    Some(Value::SimpleString(s)) => s.clone(),
                    _ => String::new(),
                },
                Value::Map(pairs) => match pairs.first() {
                    Some((_, Value::BulkString(b))) => String::from_utf8_lossy(b).into_owned(),
                    Some((_, Value::SimpleString(s))) => s.clone(),
                    _ => String::new(),
                },
                _ => String::new(),
            }
        };
        let aof = value(self.query(&config("appendonly")).await?);
        let save = value(self.query(&config("save")).await?);
        Ok(
            if aof.eq_ignore_ascii_case("yes") || !save.trim().is_empty() {
                Durability::Durable
            } else {
                Durability::Ephemeral
            },
        )
    }

    /// The masters of the cluster, from `CLUSTER NODES`.
    async fn masters(&self) -> Result<Vec<(String, u16)>, StoreError> {
        let v = self
            .query(&redis::cmd("CLUSTER").arg("NODES").clone())
            .await?;
        let text = match v {
            Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
            Value::VerbatimString { text, .. } => text,
            Value::SimpleString(s) => s,
            other => return Err(StoreError::Backend(format!("CLUSTER NODES: {other:?}"))),
        };
        let mut out = Vec::new();
        for line in text.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            let (Some(addr), Some(flags)) = (f.get(1), f.get(2)) else {
                continue;
            };
            if !flags.split(',').any(|x| x == "master") || flags.contains("fail") {
                continue;
            }
            let hostport = addr.split('@').next().unwrap_or("");
            if let Some((h, p)) = hostport.rsplit_once(':')
                && let Ok(port) = p.parse()
            {
                out.push((h.to_owned(), port));
            }
        }
        Ok(out)
    }

    /// SCANs one node (or the single server) for `pattern`.
    async fn scan(
        &self,
        pattern: &str,
        node: Option<&(String, u16)>,
    ) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut cursor: u64 = 0;
        // Bounded, whatever the server's cursors do.
        for _ in 0..MAX_SCAN_ROUNDS {
            if keys.len() > MAX_LISTED_KEYS {
                return Err(StoreError::Backend(format!(
                    "SCAN: over {MAX_LISTED_KEYS} keys"
                )));
            }
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000);
            let v = match (&self.conn, node) {
                (Conn::Cluster(c), Some((host, port))) => {
                    let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                        host: host.clone(),
                        port: *port,
                    });
                    c.clone()
                        .route_command(cmd, routing)
                        .await
                        .map_err(map_err)?
                }
                _ => self.query(&cmd).await?,
            };
            let Value::Array(parts) = v else {
                return Err(StoreError::Backend("SCAN: unexpected reply".into()));
            };
            let next = match parts.first() {
                Some(Value::BulkString(b)) => String::from_utf8_lossy(b).parse().ok(),
                _ => None,
            }
            .ok_or(StoreError::Backend("SCAN: bad cursor".into()))?;
            if let Some(Value::Array(found)) = parts.get(1) {
                for k in found {
                    if let Value::BulkString(b) = k {
                        keys.push(String::from_utf8_lossy(b).into_owned());
                    }
                }
            }
            cursor = next;
            if cursor == 0 {
                return Ok(keys);
            }
        }
        Err(StoreError::Backend(
            "SCAN: the cursor never came back to 0".into(),
        ))
    }
}

/// Most SCAN rounds one listing makes (each asks for 1000 keys).
const MAX_SCAN_ROUNDS: usize = 100_000;
/// Most keys one listing returns.
const MAX_LISTED_KEYS: usize = 10_000_000;

#[async_trait]
impl Store for RedisStore {
    async fn get(&self, table: &Table, key: &str) -> Result<Option<Record>, StoreError> {
        check_key(table, key)?;
        let k = redis_key(table, key);
        let v = self
            .query(redis::cmd("HMGET").arg(&k).arg("v").arg("c"))
            .await?;
        let Value::Array(fields) = v else {
            return Err(StoreError::Backend("HMGET: unexpected reply".into()));
        };
        let mut fields = fields.into_iter();
        match (fields.next(), fields.next(), fields.next()) {
            (Some(Value::BulkString(v)), Some(Value::BulkString(c)), None) => {
                // The script compares tokens as strings: only the canonical
                // decimal form (as written) can ever match again.
                let cas = std::str::from_utf8(&c)
                    .ok()
                    .and_then(|c| c.parse::<u64>().ok().filter(|n| n.to_string() == c))
                    .ok_or_else(|| StoreError::Corrupt(format!("bad CAS on {k}")))?;
                Ok(Some(Record {
                    value: Bytes::from(v),
                    cas: Cas(cas),
                }))
            }
            (Some(Value::Nil), Some(Value::Nil), None) => Ok(None),
            _ => Err(StoreError::Corrupt(format!(
                "{k} is not a clearwater record"
            ))),
        }
    }

    async fn set(
        &self,
        table: &Table,
        key: &str,
        value: Bytes,
        condition: Condition,
        ttl: Ttl,
    ) -> Result<Cas, StoreError> {
        check_write(self.durability, table, key, &value, self.max_value)?;
        let (mode, expected) = condition_args(condition);
        let cas = self.tokens.next();
        let ttl_ms = ttl.ceil_ms().map_or(0, |ms| ms.min(MAX_TTL_MS));
        let mut inv = self.set_script.key(redis_key(table, key));
        inv.arg(mode)
            .arg(expected)
            .arg(value.as_ref())
            .arg(cas.to_string())
            .arg(ttl_ms);
        match self.invoke(&inv).await? {
            1 => Ok(Cas(cas)),
            0 => Err(StoreError::Conflict),
            n => Err(script_reply("set", n)),
        }
    }

    async fn delete(
        &self,
        table: &Table,
        key: &str,
        condition: Condition,
    ) -> Result<bool, StoreError> {
        check_key(table, key)?;
        let (mode, expected) = condition_args(condition);
        let mut inv = self.delete_script.key(redis_key(table, key));
        inv.arg(mode).arg(expected);
        match self.invoke(&inv).await? {
            1 => Ok(true),
            0 => Ok(false),
            -1 => Err(StoreError::Conflict),
            n => Err(script_reply("delete", n)),
        }
    }

    async fn list(&self, table: &Table) -> Result<Vec<String>, StoreError> {
        table.validate()?;
        let prefix = format!("cw:{}:", table.name());
        let pattern = format!("{prefix}*");
        let mut keys = match &self.conn {
            Conn::Single(_) => self.scan(&pattern, None).await?,
            Conn::Cluster(_) => {
                let mut keys = Vec::new();
                for node in self.masters().await? {
                    keys.extend(self.scan(&pattern, Some(&node)).await?);
                }
                keys
            }
        };
        keys.sort_unstable();
        keys.dedup();
        Ok(keys
            .into_iter()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_owned))
            .collect())
    }

    fn durability(&self) -> Durability {
        self.durability
    }
}
