//! The conformance suite every [`Store`] must pass (feature `conformance`).
//!
//! This crate runs it against each of its backends on real servers; the
//! implementor of another backend runs it the same way:
//!
//! ```no_run
//! # async fn demo(my_store: std::sync::Arc<dyn clearwater_store::Store>) {
//! use clearwater_store::conformance::{Suite, run_all};
//! let report = run_all(my_store, &Suite::default()).await;
//! assert!(report.is_empty(), "{report:#?}");
//! # }
//! ```
//!
//! Each case returns `Err(description)` instead of panicking, so one run
//! reports every failure. Keys are prefixed with a per-run token, so cases
//! can share a server with other data.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::{
    Change, Condition, Durability, Store, StoreError, Table, TokenSource, Ttl, modify, update,
};

/// What the backend under test can do.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Suite {
    /// Whether [`Store::list`] is supported (otherwise it must say
    /// [`StoreError::Unsupported`]).
    pub lists: bool,
    /// A value size that must round-trip (default 512 KiB).
    pub large_value: usize,
    /// A value size that must be refused with [`StoreError::TooLarge`], if
    /// the backend has a limit.
    pub too_large: Option<usize>,
    /// Concurrent writers in the CAS test (default 8), and increments each
    /// (default 25).
    pub writers: usize,
    /// Increments per writer.
    pub increments: usize,
    /// Whether to run the TTL case (it sleeps for about 2.5 s).
    pub ttl: bool,
}

impl Default for Suite {
    fn default() -> Suite {
        Suite {
            lists: true,
            large_value: 512 << 10,
            too_large: None,
            writers: 8,
            increments: 25,
            ttl: true,
        }
    }
}

impl Suite {
    /// Sets [`Suite::lists`].
    pub fn lists(mut self, yes: bool) -> Self {
        self.lists = yes;
        self
    }

    /// Sets [`Suite::too_large`].
    pub fn too_large(mut self, size: usize) -> Self {
        self.too_large = Some(size);
        self
    }
}

/// The first table the suite writes.
pub const TABLE_A: Table = Table::ephemeral("conformance-a");
/// The second table.
pub const TABLE_B: Table = Table::ephemeral("conformance-b");
/// A master-data table.
pub const MASTER: Table = Table::master("conformance-master");

type Outcome = Result<(), String>;

macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

fn run_prefix() -> String {
    format!("{:016x}", TokenSource::new().next())
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Runs every case; returns the failures as `(case, description)`.
pub async fn run_all(store: Arc<dyn Store>, suite: &Suite) -> Vec<(&'static str, String)> {
    let p = run_prefix();
    let s = store.as_ref();
    let mut failures = Vec::new();
    let mut record = |name: &'static str, r: Outcome| {
        if let Err(e) = r {
            failures.push((name, e));
        }
    };
    record("missing_keys", missing_keys(s, &p).await);
    record("conditions", conditions(s, &p).await);
    record("tables_are_separate", tables_are_separate(s, &p).await);
    record("odd_keys_and_values", odd_keys_and_values(s, &p).await);
    record("large_values", large_values(s, &p, suite).await);
    record("placement", placement(s, &p).await);
    record("update_loop", update_loop(s, &p).await);
    record("modify_steps", modify_steps(s, &p).await);
    record(
        "concurrent_cas_increments",
        concurrent_cas_increments(store.clone(), &p, suite.writers, suite.increments).await,
    );
    record("listing", listing(s, &p, suite.lists).await);
    if suite.ttl {
        record("ttl_expiry", ttl_expiry(s, &p, suite.lists).await);
    }
    failures
}

/// Reads, deletes and conditional writes of keys that do not exist.
pub async fn missing_keys(s: &dyn Store, p: &str) -> Outcome {
    let k = format!("{p}:missing");
    check!(
        s.get(&TABLE_A, &k).await == Ok(None),
        "get of a missing key"
    );
    check!(
        s.delete(&TABLE_A, &k, Condition::Any).await == Ok(false),
        "delete of a missing key is Ok(false)"
    );
    check!(
        s.delete(&TABLE_A, &k, Condition::Matches(crate::Cas(12345)))
            .await
            == Err(StoreError::Conflict),
        "CAS delete of a missing key is a conflict"
    );
    let r = s
        .set(
            &TABLE_A,
            &k,
            b("x"),
            Condition::Matches(crate::Cas(12345)),
            Ttl::Forever,
        )
        .await;
    check!(
        r == Err(StoreError::Conflict),
        "CAS write of a missing key: {r:?}"
    );
    check!(s.get(&TABLE_A, &k).await == Ok(None), "still missing");
    Ok(())
}

/// Add, compare-and-set, unconditional set and delete, with their conflicts.
pub async fn conditions(s: &dyn Store, p: &str) -> Outcome {
    let k = format!("{p}:cond");
    let c1 = s
        .set(&TABLE_A, &k, b("one"), Condition::Absent, Ttl::Forever)
        .await
        .map_err(|e| format!("add: {e}"))?;
    let again = s
        .set(&TABLE_A, &k, b("dup"), Condition::Absent, Ttl::Forever)
        .await;
    check!(again == Err(StoreError::Conflict), "second add: {again:?}");
    let r = s.get(&TABLE_A, &k).await.map_err(|e| e.to_string())?;
    check!(
        r.as_ref().map(|r| (&r.value[..], r.cas)) == Some((&b"one"[..], c1)),
        "read back the add: {r:?}"
    );
    let c2 = s
        .set(&TABLE_A, &k, b("two"), Condition::Matches(c1), Ttl::Forever)
        .await
        .map_err(|e| format!("cas write: {e}"))?;
    check!(c2 != c1, "a write changes the token");
    let stale = s
        .set(
            &TABLE_A,
            &k,
            b("lost"),
            Condition::Matches(c1),
            Ttl::Forever,
        )
        .await;
    check!(
        stale == Err(StoreError::Conflict),
        "stale CAS write: {stale:?}"
    );
    let c3 = s
        .set(&TABLE_A, &k, b("three"), Condition::Any, Ttl::Forever)
        .await
        .map_err(|e| format!("set: {e}"))?;
    check!(c3 != c2, "an unconditional write changes the token");
    let r = s.get(&TABLE_A, &k).await.map_err(|e| e.to_string())?;
    check!(
        r.as_ref().map(|r| &r.value[..]) == Some(&b"three"[..]),
        "last write wins: {r:?}"
    );
    check!(
        s.delete(&TABLE_A, &k, Condition::Matches(c2)).await == Err(StoreError::Conflict),
        "stale CAS delete"
    );
    check!(
        s.delete(&TABLE_A, &k, Condition::Absent).await == Err(StoreError::Conflict),
        "an Absent delete of a present record"
    );
    check!(
        s.delete(&TABLE_A, &k, Condition::Matches(c3)).await == Ok(true),
        "CAS delete"
    );
    check!(s.get(&TABLE_A, &k).await == Ok(None), "gone after delete");
    let c4 = s
        .set(&TABLE_A, &k, b("again"), Condition::Absent, Ttl::Forever)
        .await
        .map_err(|e| format!("re-add: {e}"))?;
    check!(
        c4 != c1 && c4 != c2 && c4 != c3,
        "a re-added record never reuses an old token"
    );
    Ok(())
}

/// The same key in two tables is two records.
pub async fn tables_are_separate(s: &dyn Store, p: &str) -> Outcome {
    let k = format!("{p}:shared");
    s.set(&TABLE_A, &k, b("a"), Condition::Any, Ttl::Forever)
        .await
        .map_err(|e| e.to_string())?;
    s.set(&TABLE_B, &k, b("b"), Condition::Any, Ttl::Forever)
        .await
        .map_err(|e| e.to_string())?;
    let a = s.get(&TABLE_A, &k).await.map_err(|e| e.to_string())?;
    let bb = s.get(&TABLE_B, &k).await.map_err(|e| e.to_string())?;
    check!(a.map(|r| r.value) == Some(b("a")), "table A");
    check!(bb.map(|r| r.value) == Some(b("b")), "table B");
    check!(
        s.delete(&TABLE_A, &k, Condition::Any).await == Ok(true),
        "delete in A"
    );
    check!(s.get(&TABLE_A, &k).await == Ok(None), "gone from A");
    check!(
        s.get(&TABLE_B, &k)
            .await
            .map_err(|e| e.to_string())?
            .map(|r| r.value)
            == Some(b("b")),
        "deleting in A leaves B"
    );
    Ok(())
}

/// Keys with spaces, colons, non-ASCII and control characters; binary and
/// empty values.
pub async fn odd_keys_and_values(s: &dyn Store, p: &str) -> Outcome {
    let all_bytes: Vec<u8> = (0..=255).collect();
    let keys = [
        format!("{p}:sip:+15551230001@ims.example.net;user=phone"),
        format!("{p}:with space"),
        format!("{p}:ünïcødé ☎"),
        format!("{p}:line\r\nbreak\ttab"),
        format!("{p}:{}", "k".repeat(150)),
        format!("{p}:*?[glob]\\"),
    ];
    for (i, k) in keys.iter().enumerate() {
        let v = if i % 2 == 0 {
            Bytes::from(all_bytes.clone())
        } else {
            Bytes::new()
        };
        s.set(&TABLE_A, k, v.clone(), Condition::Any, Ttl::Forever)
            .await
            .map_err(|e| format!("set {k:?}: {e}"))?;
        let got = s
            .get(&TABLE_A, k)
            .await
            .map_err(|e| format!("get {k:?}: {e}"))?;
        check!(got.map(|r| r.value) == Some(v), "round trip of {k:?}");
    }
    for k in &keys {
        check!(
            s.delete(&TABLE_A, k, Condition::Any).await == Ok(true),
            "delete {k:?}"
        );
    }
    let bad = s
        .set(&TABLE_A, "", b("x"), Condition::Any, Ttl::Forever)
        .await;
    check!(
        matches!(bad, Err(StoreError::InvalidKey(_))),
        "empty key: {bad:?}"
    );
    let bad = s.get(&TABLE_A, "a\0b").await;
    check!(
        matches!(bad, Err(StoreError::InvalidKey(_))),
        "NUL in key: {bad:?}"
    );
    Ok(())
}

/// A large value round-trips; one over the backend's limit is refused.
pub async fn large_values(s: &dyn Store, p: &str, suite: &Suite) -> Outcome {
    let k = format!("{p}:large");
    let v: Bytes = (0..suite.large_value).map(|i| (i % 251) as u8).collect();
    s.set(&TABLE_A, &k, v.clone(), Condition::Any, Ttl::Forever)
        .await
        .map_err(|e| format!("large set: {e}"))?;
    let got = s.get(&TABLE_A, &k).await.map_err(|e| e.to_string())?;
    check!(got.map(|r| r.value) == Some(v), "large value round trip");
    if let Some(n) = suite.too_large {
        let r = s
            .set(
                &TABLE_A,
                &k,
                Bytes::from(vec![0u8; n]),
                Condition::Any,
                Ttl::Forever,
            )
            .await;
        check!(
            matches!(r, Err(StoreError::TooLarge { .. })),
            "{n} bytes should be refused: {r:?}"
        );
        let still = s.get(&TABLE_A, &k).await.map_err(|e| e.to_string())?;
        check!(
            still.map(|r| r.value.len()) == Some(suite.large_value),
            "a refused write changes nothing"
        );
    }
    Ok(())
}

/// Master data only on durable backends.
pub async fn placement(s: &dyn Store, p: &str) -> Outcome {
    let r = s
        .set(
            &MASTER,
            &format!("{p}:sub"),
            b("x"),
            Condition::Any,
            Ttl::Forever,
        )
        .await;
    match s.durability() {
        Durability::Durable => check!(r.is_ok(), "master data on a durable backend: {r:?}"),
        Durability::Ephemeral => check!(
            r == Err(StoreError::Misplaced(MASTER.name())),
            "master data on an ephemeral backend must be refused: {r:?}"
        ),
    }
    Ok(())
}

/// The [`update`] helper: create, change, delete.
pub async fn update_loop(s: &dyn Store, p: &str) -> Outcome {
    let k = format!("{p}:update");
    let bump = |v: Option<&Bytes>| {
        let n: u64 = v
            .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
            .unwrap_or(0);
        Some(Bytes::from((n + 1).to_string()))
    };
    for want in 1..=3u64 {
        let got = update(s, &TABLE_A, &k, Ttl::Forever, 10, bump)
            .await
            .map_err(|e| e.to_string())?;
        check!(got == Some(Bytes::from(want.to_string())), "update {want}");
    }
    let gone = update(s, &TABLE_A, &k, Ttl::Forever, 10, |_| None)
        .await
        .map_err(|e| e.to_string())?;
    check!(gone.is_none(), "update to None");
    check!(s.get(&TABLE_A, &k).await == Ok(None), "deleted by update");
    Ok(())
}

/// The [`modify`] helper: keep and refuse write nothing, the result comes
/// back, delete of an absent record is a no-op. (Its retries after lost
/// races are exercised by [`concurrent_cas_increments`]; that it stops after
/// `attempts` with `Conflict` is the crate's unit test
/// `modify_retries_conflicts_up_to_its_attempts`.)
pub async fn modify_steps(s: &dyn Store, p: &str) -> Outcome {
    let k = format!("{p}:modify");
    let put =
        |v: &'static [u8], r: u32| Ok::<_, StoreError>((Change::Put(Bytes::from_static(v)), r));
    let got = modify(s, &TABLE_A, &k, Ttl::Forever, 3, |_| put(b"1", 7))
        .await
        .map_err(|e| e.to_string())?;
    check!(got == 7, "modify returns the step's result");
    let kept = modify(s, &TABLE_A, &k, Ttl::Forever, 3, |cur| {
        Ok::<_, StoreError>((Change::Keep, cur.map(|r| r.value.clone())))
    })
    .await
    .map_err(|e| e.to_string())?;
    check!(
        kept == Some(Bytes::from_static(b"1")),
        "modify sees the record: {kept:?}"
    );
    let refused = modify(s, &TABLE_A, &k, Ttl::Forever, 3, |_| {
        Err::<(Change<Bytes>, ()), _>(StoreError::Backend("refused".into()))
    })
    .await;
    check!(
        refused == Err(StoreError::Backend("refused".into())),
        "refusal: {refused:?}"
    );
    let now = s.get(&TABLE_A, &k).await.map_err(|e| e.to_string())?;
    check!(
        now.map(|r| r.value) == Some(Bytes::from_static(b"1")),
        "keep and refuse write nothing"
    );
    // What another writer put is what the next step sees.
    s.set(
        &TABLE_A,
        &k,
        Bytes::from_static(b"x"),
        Condition::Any,
        Ttl::Forever,
    )
    .await
    .map_err(|e| e.to_string())?;
    let seen = modify(s, &TABLE_A, &k, Ttl::Forever, 3, |cur| {
        Ok::<_, StoreError>((
            Change::Put(Bytes::from_static(b"3")),
            cur.map(|r| r.value.clone()),
        ))
    })
    .await
    .map_err(|e| e.to_string())?;
    check!(
        seen == Some(Bytes::from_static(b"x")),
        "modify reads the latest value: {seen:?}"
    );
    for _ in 0..2 {
        let gone = modify(s, &TABLE_A, &k, Ttl::Forever, 3, |_| {
            Ok::<_, StoreError>((Change::<Bytes>::Delete, ()))
        })
        .await;
        check!(gone.is_ok(), "delete (present, then absent): {gone:?}");
    }
    check!(s.get(&TABLE_A, &k).await == Ok(None), "deleted by modify");
    Ok(())
}

/// `writers` tasks each add `increments` to one counter through [`modify`]:
/// no increment may be lost.
pub async fn concurrent_cas_increments(
    s: Arc<dyn Store>,
    p: &str,
    writers: usize,
    increments: usize,
) -> Outcome {
    let k = format!("{p}:counter");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..writers {
        let s = s.clone();
        let k = k.clone();
        tasks.spawn(async move {
            // Steps taken beyond one per increment are conflicts retried.
            let mut steps = 0usize;
            for _ in 0..increments {
                modify(&*s, &TABLE_A, &k, Ttl::Forever, 100_000, |cur| {
                    steps += 1;
                    let n: u64 = cur
                        .and_then(|r| std::str::from_utf8(&r.value).ok()?.parse().ok())
                        .unwrap_or(0);
                    Ok::<_, StoreError>((Change::Put(Bytes::from((n + 1).to_string())), ()))
                })
                .await?;
            }
            Ok::<usize, StoreError>(steps - increments)
        });
    }
    let mut conflicts = 0;
    while let Some(r) = tasks.join_next().await {
        conflicts += r
            .map_err(|e| format!("writer task: {e}"))?
            .map_err(|e| format!("writer: {e}"))?;
    }
    let r = s.get(&TABLE_A, &k).await.map_err(|e| e.to_string())?;
    let n: Option<u64> = r.and_then(|r| std::str::from_utf8(&r.value).ok()?.parse().ok());
    let want = (writers * increments) as u64;
    check!(
        n == Some(want),
        "counter is {n:?} after {want} increments ({conflicts} conflicts retried)"
    );
    Ok(())
}

/// Listing a table returns exactly its keys (or says it is unsupported).
pub async fn listing(s: &dyn Store, p: &str, supported: bool) -> Outcome {
    const LIST: Table = Table::ephemeral("conformance-list");
    let r = s.list(&LIST).await;
    if !supported {
        check!(
            matches!(r, Err(StoreError::Unsupported(_))),
            "list should be unsupported: {r:?}"
        );
        return Ok(());
    }
    let keys: BTreeSet<String> = (0..5).map(|i| format!("{p}:l{i}")).collect();
    for k in &keys {
        s.set(&LIST, k, b("v"), Condition::Any, Ttl::Forever)
            .await
            .map_err(|e| e.to_string())?;
    }
    s.set(
        &TABLE_B,
        &format!("{p}:l-other"),
        b("v"),
        Condition::Any,
        Ttl::Forever,
    )
    .await
    .map_err(|e| e.to_string())?;
    let listed: BTreeSet<String> = s
        .list(&LIST)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|k| k.starts_with(p))
        .collect();
    check!(listed == keys, "listed {listed:?}, wrote {keys:?}");
    Ok(())
}

/// A record with a TTL disappears after it (and stops being listed); a
/// rewrite without TTL keeps the record.
pub async fn ttl_expiry(s: &dyn Store, p: &str, lists: bool) -> Outcome {
    let short = format!("{p}:ttl-short");
    let kept = format!("{p}:ttl-kept");
    s.set(&TABLE_A, &short, b("x"), Condition::Any, Ttl::secs(1))
        .await
        .map_err(|e| e.to_string())?;
    s.set(&TABLE_A, &kept, b("x"), Condition::Any, Ttl::secs(1))
        .await
        .map_err(|e| e.to_string())?;
    s.set(&TABLE_A, &kept, b("y"), Condition::Any, Ttl::Forever)
        .await
        .map_err(|e| e.to_string())?;
    check!(
        s.get(&TABLE_A, &short)
            .await
            .map_err(|e| e.to_string())?
            .is_some(),
        "present before its TTL"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    check!(
        s.get(&TABLE_A, &short).await == Ok(None),
        "gone after its TTL"
    );
    let r = s
        .set(&TABLE_A, &short, b("new"), Condition::Absent, Ttl::Forever)
        .await;
    check!(r.is_ok(), "an expired key counts as absent: {r:?}");
    check!(
        s.get(&TABLE_A, &kept)
            .await
            .map_err(|e| e.to_string())?
            .map(|r| r.value)
            == Some(b("y")),
        "rewriting without a TTL keeps the record"
    );
    if lists {
        const TTL_LIST: Table = Table::ephemeral("conformance-ttl");
        let k = format!("{p}:expiring");
        s.set(&TTL_LIST, &k, b("x"), Condition::Any, Ttl::secs(1))
            .await
            .map_err(|e| e.to_string())?;
        tokio::time::sleep(Duration::from_millis(2200)).await;
        let listed = s.list(&TTL_LIST).await.map_err(|e| e.to_string())?;
        check!(!listed.contains(&k), "an expired key is not listed");
    }
    Ok(())
}
