//! A memcached backend: a tight client of the meta protocol (memcached
//! 1.6+), with pooled connections and timeouts. One server per
//! [`MemcachedStore`]; [`ReplicatedStore`](crate::ReplicatedStore) spreads
//! and replicates records over several.
//!
//! Keys are `table:key`; keys that are not printable ASCII (or are longer
//! than memcached's 250 bytes) are sent base64-encoded with the meta `b`
//! flag, so any key of up to 186 bytes (with its `table:` prefix) works. TTLs are rounded up to whole
//! seconds; longer than 30 days are sent as absolute times, as memcached
//! requires. memcached cannot enumerate keys: [`Store::list`] is
//! unsupported. The data is lost when the server restarts.

mod proto;

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::{
    Cas, Condition, Durability, Record, Store, StoreError, Table, Ttl, check_key, check_write,
    unix_ms,
};
pub(crate) use proto::{MetaKey, Mode, Response};

/// How to reach one memcached server.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MemcachedConfig {
    /// `host:port`.
    pub server: String,
    /// Most connections open to it at once (default 8).
    pub connections: usize,
    /// Limit for connecting (default 1 s).
    pub connect_timeout: Duration,
    /// Limit for one request and its response (default 1 s).
    pub timeout: Duration,
    /// Largest value sent (default 1 MiB less 512 bytes for the item header:
    /// memcached's default item size).
    pub max_value: usize,
}

impl MemcachedConfig {
    /// The defaults for `server` (`host:port`).
    pub fn new(server: impl Into<String>) -> MemcachedConfig {
        MemcachedConfig {
            server: server.into(),
            connections: 8,
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            max_value: (1 << 20) - 512,
        }
    }

    /// Sets both timeouts.
    pub fn with_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self.timeout = t;
        self
    }
}

struct Conn {
    stream: TcpStream,
    buf: BytesMut,
}

/// A memcached server as a [`Store`]. See the [module docs](self).
pub struct MemcachedStore {
    config: MemcachedConfig,
    idle: Mutex<Vec<Conn>>,
    permits: Semaphore,
}

impl MemcachedStore {
    /// A store on `config.server`; connections are made on first use.
    pub fn new(config: MemcachedConfig) -> MemcachedStore {
        let permits = Semaphore::new(config.connections.max(1));
        MemcachedStore {
            config,
            idle: Mutex::new(Vec::new()),
            permits,
        }
    }

    /// The server's address as configured.
    pub fn server(&self) -> &str {
        &self.config.server
    }

    /// The largest value this server takes.
    pub(crate) fn max_value(&self) -> usize {
        self.config.max_value
    }

    /// Sends one request (already encoded) and reads its response.
    pub(crate) async fn request(&self, req: &[u8]) -> Result<Response, StoreError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Unavailable("connection pool closed".into()))?;
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        // A pooled connection the server closed, or that has bytes waiting
        // (a reply nobody asked for), is out of step: use a new one.
        let pooled = pooled.filter(|c| {
            let mut probe = [0u8; 1];
            matches!(c.stream.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        });
        let mut conn = match pooled {
            Some(c) => c,
            None => self.connect().await?,
        };
        let max = self.config.max_value;
        let exchange = async {
            conn.stream.write_all(req).await?;
            loop {
                match proto::parse(&mut conn.buf, max) {
                    Ok(Some(r)) => return Ok(r),
                    Ok(None) => {}
                    Err(e) => return Err(std::io::Error::other(e.0)),
                }
                if conn.stream.read_buf(&mut conn.buf).await? == 0 {
                    return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
                }
            }
        };
        let result = tokio::time::timeout(self.config.timeout, exchange).await;
        match result {
            Ok(Ok(r)) => {
                // Only a connection in a known state goes back to the pool:
                // nothing left over, and not after an error (a server that
                // did not read a refused command's data block may answer
                // it later).
                if conn.buf.is_empty() && !matches!(r, Response::Error(_)) {
                    self.idle
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(conn);
                }
                Ok(r)
            }
            Ok(Err(e)) => Err(StoreError::Unavailable(format!(
                "memcached {}: {e}",
                self.config.server
            ))),
            Err(_) => Err(StoreError::Unavailable(format!(
                "memcached {}: timed out",
                self.config.server
            ))),
        }
    }

    async fn connect(&self) -> Result<Conn, StoreError> {
        let unavailable =
            |e: String| StoreError::Unavailable(format!("memcached {}: {e}", self.config.server));
        let stream = tokio::time::timeout(
            self.config.connect_timeout,
            TcpStream::connect(&self.config.server),
        )
        .await
        .map_err(|_| unavailable("connect timed out".into()))?
        .map_err(|e| unavailable(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        Ok(Conn {
            stream,
            buf: BytesMut::with_capacity(4096),
        })
    }

    /// `mg`: the value and memcached CAS of `key`.
    pub(crate) async fn raw_get(&self, key: &MetaKey) -> Result<Option<(Bytes, u64)>, StoreError> {
        let mut req = BytesMut::new();
        proto::get(&mut req, key);
        match self.request(&req).await? {
            Response::Value { data, cas } => Ok(Some((data, cas))),
            Response::Miss => Ok(None),
            other => Err(unexpected(other)),
        }
    }

    /// `ms`: stores `value` (add, set, or set-if-CAS); `Conflict` when the
    /// condition fails. The caller has checked the size against
    /// [`MemcachedStore::max_value`].
    pub(crate) async fn raw_set(
        &self,
        key: &MetaKey,
        value: &[u8],
        ttl: Ttl,
        cas: Option<u64>,
        mode: Mode,
    ) -> Result<u64, StoreError> {
        let mut req = BytesMut::with_capacity(64 + value.len());
        proto::set(&mut req, key, value, ttl_field(ttl), cas, mode);
        match self.request(&req).await? {
            Response::Done { cas: Some(c) } => Ok(c),
            Response::Done { cas: None } => Err(StoreError::Backend(
                "memcached stored without returning a CAS".into(),
            )),
            Response::NotStored | Response::Exists | Response::NotFound => {
                Err(StoreError::Conflict)
            }
            other => Err(unexpected(other)),
        }
    }

    /// `md`: deletes; `Ok(false)` when missing (without a CAS).
    pub(crate) async fn raw_delete(
        &self,
        key: &MetaKey,
        cas: Option<u64>,
    ) -> Result<bool, StoreError> {
        let mut req = BytesMut::new();
        proto::delete(&mut req, key, cas);
        match self.request(&req).await? {
            Response::Done { .. } => Ok(true),
            Response::NotFound if cas.is_none() => Ok(false),
            Response::NotFound | Response::Exists => Err(StoreError::Conflict),
            other => Err(unexpected(other)),
        }
    }
}

fn unexpected(r: Response) -> StoreError {
    match r {
        Response::Error(e) => StoreError::Backend(format!("memcached: {e}")),
        other => StoreError::Backend(format!("memcached: unexpected {other:?}")),
    }
}

/// The key memcached sees for `key` of `table`, after checking both.
pub(crate) fn meta_key(table: &Table, key: &str) -> Result<MetaKey, StoreError> {
    check_key(table, key)?;
    encode_key(table, key)
}

/// The key memcached sees for `key` of `table`, already checked (by
/// [`check_write`]).
pub(crate) fn encode_key(table: &Table, key: &str) -> Result<MetaKey, StoreError> {
    MetaKey::new(format!("{}:{key}", table.name())).ok_or(StoreError::InvalidKey(
        "too long for memcached (250 bytes with the table prefix, 186 if not printable ASCII)",
    ))
}

/// memcached's exptime: 0 = never; seconds up to 30 days; beyond that an
/// absolute unix time.
fn ttl_field(ttl: Ttl) -> u64 {
    const THIRTY_DAYS: u64 = 30 * 24 * 3600;
    match ttl {
        Ttl::Forever => 0,
        Ttl::After(d) => {
            let secs = d
                .as_secs()
                .saturating_add(u64::from(d.subsec_nanos() > 0))
                .max(1);
            if secs <= THIRTY_DAYS {
                secs
            } else {
                (unix_ms() / 1000).saturating_add(secs)
            }
        }
    }
}

#[async_trait]
impl Store for MemcachedStore {
    async fn get(&self, table: &Table, key: &str) -> Result<Option<Record>, StoreError> {
        let k = meta_key(table, key)?;
        Ok(self.raw_get(&k).await?.map(|(value, cas)| Record {
            value,
            cas: Cas(cas),
        }))
    }

    async fn set(
        &self,
        table: &Table,
        key: &str,
        value: Bytes,
        condition: Condition,
        ttl: Ttl,
    ) -> Result<Cas, StoreError> {
        check_write(self.durability(), table, key, &value, self.config.max_value)?;
        let k = encode_key(table, key)?;
        let (cas, mode) = match condition {
            Condition::Any => (None, Mode::Set),
            Condition::Absent => (None, Mode::Add),
            Condition::Matches(c) => (Some(c.0), Mode::Set),
        };
        self.raw_set(&k, &value, ttl, cas, mode).await.map(Cas)
    }

    async fn delete(
        &self,
        table: &Table,
        key: &str,
        condition: Condition,
    ) -> Result<bool, StoreError> {
        let k = meta_key(table, key)?;
        match condition {
            Condition::Any => self.raw_delete(&k, None).await,
            Condition::Matches(c) => self.raw_delete(&k, Some(c.0)).await,
            Condition::Absent => match self.raw_get(&k).await? {
                None => Ok(false),
                Some(_) => Err(StoreError::Conflict),
            },
        }
    }

    fn durability(&self) -> Durability {
        Durability::Ephemeral
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls() {
        assert_eq!(ttl_field(Ttl::Forever), 0);
        assert_eq!(ttl_field(Ttl::After(Duration::from_millis(1))), 1);
        assert_eq!(ttl_field(Ttl::After(Duration::from_millis(1500))), 2);
        assert_eq!(ttl_field(Ttl::secs(2_592_000)), 2_592_000);
        assert!(ttl_field(Ttl::secs(2_592_001)) > 1_700_000_000, "absolute");
        assert_eq!(ttl_field(Ttl::After(Duration::MAX)), u64::MAX, "saturates");
    }

    /// What the scripted server does for one request.
    enum Step {
        /// Writes these bytes.
        Reply(&'static [u8]),
        /// Writes these bytes, then closes the connection.
        ReplyAndClose(&'static [u8]),
        /// Writes the first bytes, then (once the client has read them) the
        /// second, unasked.
        ReplyThenLater(&'static [u8], &'static [u8]),
    }

    /// A misbehaving memcached on a free loopback port: each request line gets
    /// the next step of `script`, whatever connection it came on. Returns
    /// the address, the number of connections accepted so far, and a signal
    /// per step once its effects (close, late bytes) are done.
    async fn scripted(
        script: Vec<Step>,
    ) -> (
        String,
        std::sync::Arc<std::sync::atomic::AtomicUsize>,
        tokio::sync::mpsc::UnboundedReceiver<()>,
    ) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::AsyncBufReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let accepted = std::sync::Arc::new(AtomicUsize::new(0));
        let (done_tx, done_rx) = tokio::sync::mpsc::unbounded_channel();
        let script = std::sync::Arc::new(tokio::sync::Mutex::new(script.into_iter()));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let (script, done) = (script.clone(), done_tx.clone());
                tokio::spawn(async move {
                    let (rd, mut wr) = stream.into_split();
                    let mut lines = tokio::io::BufReader::new(rd).lines();
                    while let Ok(Some(_line)) = lines.next_line().await {
                        let step = script.lock().await.next().expect("script too short");
                        match step {
                            Step::Reply(b) => {
                                wr.write_all(b).await.unwrap();
                                done.send(()).unwrap();
                            }
                            Step::ReplyAndClose(b) => {
                                wr.write_all(b).await.unwrap();
                                drop(wr);
                                drop(lines);
                                done.send(()).unwrap();
                                return;
                            }
                            Step::ReplyThenLater(b, later) => {
                                wr.write_all(b).await.unwrap();
                                tokio::time::sleep(Duration::from_millis(20)).await;
                                wr.write_all(later).await.unwrap();
                                done.send(()).unwrap();
                            }
                        }
                    }
                });
            }
        });
        (addr, accepted, done_rx)
    }

    #[tokio::test]
    async fn a_connection_out_of_step_is_not_reused() {
        use std::sync::atomic::Ordering;
        let (addr, accepted, mut done) = scripted(vec![
            // 1, 2: a well-behaved exchange reuses its connection.
            Step::Reply(b"EN\r\n"),
            Step::Reply(b"EN\r\n"),
            // 3: an error reply; the server may still answer the command later.
            Step::Reply(b"SERVER_ERROR out of memory\r\n"),
            // 4: an answer with unasked bytes behind it.
            Step::Reply(b"EN\r\nVA 3 c9\r\nold\r\n"),
            // 5: an answer, then the server closes the idle connection.
            Step::ReplyAndClose(b"EN\r\n"),
            // 6: an answer, then a stale reply arrives while it is idle.
            Step::ReplyThenLater(b"EN\r\n", b"VA 5 c7\r\nstale\r\n"),
            // 7: the next request must not read that stale value.
            Step::Reply(b"EN\r\n"),
        ])
        .await;
        let store = MemcachedStore::new(MemcachedConfig::new(addr));
        let key = MetaKey::new("t:k".into()).unwrap();
        let conns = || accepted.load(Ordering::SeqCst);

        assert_eq!(store.raw_get(&key).await.unwrap(), None);
        done.recv().await.unwrap();
        assert_eq!(store.raw_get(&key).await.unwrap(), None);
        done.recv().await.unwrap();
        assert_eq!(conns(), 1, "a clean connection is pooled and reused");

        assert!(store.raw_get(&key).await.is_err());
        done.recv().await.unwrap();
        assert_eq!(store.raw_get(&key).await.unwrap(), None);
        done.recv().await.unwrap();
        assert_eq!(conns(), 2, "not reused after an error reply");

        // Step 5 comes on connection 3; it is clean, so it goes back to the
        // pool, and the server then closes it.
        assert_eq!(store.raw_get(&key).await.unwrap(), None);
        done.recv().await.unwrap();
        assert_eq!(conns(), 3, "not reused with unasked bytes buffered");

        assert_eq!(store.raw_get(&key).await.unwrap(), None);
        assert_eq!(conns(), 4, "a closed pooled connection is replaced");
        done.recv().await.unwrap();

        assert_eq!(
            store.raw_get(&key).await.unwrap(),
            None,
            "the stale value is not taken as this request's answer"
        );
        assert_eq!(conns(), 5, "bytes waiting on a pooled connection: replaced");
    }
}
