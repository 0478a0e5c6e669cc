//! [`LocalTimers`]: the timer wheel driven by tokio, in this process.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::wheel::{TimerKey, Wheel};
use crate::{Pop, PopSink, TimerError, TimerId, TimerService, TimerSpec};

/// Most pop deliveries in flight at once; the driver waits for one to finish
/// before starting more, so a slow sink slows the pops instead of piling up
/// tasks.
const MAX_IN_FLIGHT: usize = 4096;

/// The embedded default [`TimerService`]: timers live in this process, on a
/// [hierarchical wheel](crate::wheel) driven by a tokio future, and pops go
/// to a [`PopSink`].
///
/// [`LocalTimers::new`] returns the handle and the driver future; the
/// embedder runs the driver (`tokio::spawn(driver)`, or inside its own
/// `select!`) and stops everything by dropping it. The driver also ends once
/// every handle is dropped. Nothing is spawned behind the embedder's back:
/// pop deliveries run concurrently inside the driver (dropping it cancels
/// them).
///
/// Timers are not replicated and do not survive the process (the
/// [`ChronosNode`](crate::ChronosNode) cluster does both); `replication` is
/// ignored. Pops are never early; with a 1 ms wheel and tokio's 1 ms timer
/// they are typically 1–2 ms late. Repeating timers keep to their schedule
/// (pop `n` is due at `start + n × interval`) however late each pop runs.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use clearwater_timers::{LocalTimers, Pop, TimerService, TimerSpec};
///
/// let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Pop>();
/// let (timers, driver) = LocalTimers::new(tx);
/// tokio::spawn(driver);
/// timers.set(TimerSpec::once(Duration::from_millis(5), "reg-expiry", "alice")).await.unwrap();
/// let pop = rx.recv().await.unwrap();
/// assert_eq!((pop.opaque.as_str(), pop.sequence), ("alice", 1));
/// # }
/// ```
#[derive(Clone)]
pub struct LocalTimers {
    handle: Arc<Handle>,
}

/// Shared by the clones of one [`LocalTimers`]; its drop (the last clone's)
/// stops the driver.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.wake.notify_one();
    }
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the driver when the earliest deadline may have moved.
    wake: Notify,
    closed: AtomicBool,
    epoch: Instant,
}

struct State {
    /// The deadline the driver sleeps until (`u64::MAX`: none); a timer due
    /// earlier must wake it.
    driver_next: u64,
    wheel: Wheel<Armed>,
    keys: HashMap<u64, TimerKey>,
    next_id: u64,
}

struct Armed {
    id: u64,
    spec: Arc<TimerSpec>,
    start: u64,
    sequence: u64,
}

impl LocalTimers {
    /// A timer service delivering pops to `sink`, and the driver future to
    /// run (see the type docs).
    pub fn new(sink: impl PopSink) -> (LocalTimers, impl Future<Output = ()> + Send + 'static) {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                driver_next: u64::MAX,
                wheel: Wheel::new(0),
                keys: HashMap::new(),
                next_id: 1,
            }),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
            epoch: Instant::now(),
        });
        let driver = drive(shared.clone(), Arc::new(sink));
        (
            LocalTimers {
                handle: Arc::new(Handle { shared }),
            },
            driver,
        )
    }

    /// Timers waiting to pop.
    pub fn len(&self) -> usize {
        self.lock().keys.len()
    }

    /// Whether no timer is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the wheel half-updated
        // in a way that matters more than losing the service: keep going.
        self.handle
            .shared
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn arm(&self, id: u64, spec: TimerSpec) {
        // Rounded up: the timer's start is never before the call.
        let since = Instant::now().saturating_duration_since(self.handle.shared.epoch);
        let now = u64::try_from(since.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX);
        let spec = Arc::new(spec);
        let deadline = now.saturating_add(millis(spec.interval));
        let wake = {
            let mut st = self.lock();
            if let Some(old) = st.keys.remove(&id) {
                st.wheel.cancel(old);
            }
            st.wheel.skip_to(now);
            let key = st.wheel.insert(
                deadline,
                Armed {
                    id,
                    spec,
                    start: now,
                    sequence: 1,
                },
            );
            st.keys.insert(id, key);
            let wake = deadline < st.driver_next;
            if wake {
                st.driver_next = deadline;
            }
            wake
        };
        if wake {
            self.handle.shared.wake.notify_one();
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn ms_since(epoch: Instant) -> u64 {
    millis(Instant::now().saturating_duration_since(epoch))
}

fn parse_local_id(id: &TimerId) -> Option<u64> {
    id.0.strip_prefix("local-").and_then(|n| n.parse().ok())
}

#[async_trait]
impl TimerService for LocalTimers {
    async fn set(&self, spec: TimerSpec) -> Result<TimerId, TimerError> {
        spec.validate()?;
        let id = {
            let mut st = self.lock();
            let id = st.next_id;
            st.next_id += 1;
            id
        };
        self.arm(id, spec);
        Ok(TimerId(format!("local-{id}")))
    }

    async fn update(&self, id: &TimerId, spec: TimerSpec) -> Result<(), TimerError> {
        spec.validate()?;
        let Some(n) = parse_local_id(id) else {
            return Err(TimerError::Invalid(format!("{id} is not a LocalTimers id")));
        };
        {
            // An update may create the timer (as the HTTP service's PUT
            // does); keep fresh ids clear of it.
            let mut st = self.lock();
            st.next_id = st.next_id.max(n.saturating_add(1));
        }
        self.arm(n, spec);
        Ok(())
    }

    async fn cancel(&self, id: &TimerId) -> Result<(), TimerError> {
        if let Some(n) = parse_local_id(id) {
            let mut st = self.lock();
            if let Some(key) = st.keys.remove(&n) {
                st.wheel.cancel(key);
            }
        }
        Ok(())
    }
}

/// Delivers one pop.
async fn deliver(sink: Arc<dyn PopSink>, pop: Pop) {
    let id = pop.id.clone();
    if let Err(e) = sink.pop(pop).await {
        tracing::warn!("timer {id}: {e}");
    }
}

/// The driver: pops what is due, sleeps until the next deadline or a change.
async fn drive(sh: Arc<Shared>, sink: Arc<dyn PopSink>) {
    // Deliveries run concurrently inside this future (not as tasks): a slow
    // sink does not hold up other pops, and dropping the driver stops them.
    let mut deliveries = FuturesUnordered::new();
    let mut due = Vec::new();
    while !sh.closed.load(Ordering::Acquire) {
        let notified = sh.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = ms_since(sh.epoch);
        let next = {
            let mut st = sh.state.lock().unwrap_or_else(|e| e.into_inner());
            while let Some((key, armed)) = st.wheel.poll(now) {
                if st.keys.get(&armed.id) != Some(&key) {
                    continue;
                }
                st.keys.remove(&armed.id);
                due.push(Pop {
                    id: TimerId(format!("local-{}", armed.id)),
                    callback: armed.spec.callback.clone(),
                    opaque: armed.spec.opaque.clone(),
                    sequence: armed.sequence,
                });
                if armed.sequence < armed.spec.pops() {
                    let sequence = armed.sequence + 1;
                    let at = armed
                        .start
                        .saturating_add(millis(armed.spec.offset(sequence)));
                    let id = armed.id;
                    let key = st.wheel.insert(at, Armed { sequence, ..armed });
                    st.keys.insert(id, key);
                }
            }
            let next = st.wheel.next_deadline();
            st.driver_next = next.unwrap_or(u64::MAX);
            next
        };
        for pop in due.drain(..) {
            while deliveries.len() >= MAX_IN_FLIGHT {
                deliveries.next().await;
            }
            deliveries.push(deliver(sink.clone(), pop));
        }
        let sleep = async {
            match next {
                Some(t) => tokio::time::sleep_until(sh.epoch + Duration::from_millis(t)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = notified => {}
            _ = sleep => {}
            Some(()) = deliveries.next(), if !deliveries.is_empty() => {
                while let Some(Some(())) = deliveries.next().now_or_never() {}
            }
        }
    }
    // Let deliveries already started finish.
    while deliveries.next().await.is_some() {}
}

#[async_trait]
impl PopSink for tokio::sync::mpsc::UnboundedSender<Pop> {
    async fn pop(&self, pop: Pop) -> Result<(), TimerError> {
        self.send(pop)
            .map_err(|_| TimerError::Delivery("receiver dropped".into()))
    }
}

#[async_trait]
impl PopSink for tokio::sync::mpsc::Sender<Pop> {
    async fn pop(&self, pop: Pop) -> Result<(), TimerError> {
        self.send(pop)
            .await
            .map_err(|_| TimerError::Delivery("receiver dropped".into()))
    }
}

#[async_trait]
impl PopSink for Arc<dyn PopSink> {
    async fn pop(&self, pop: Pop) -> Result<(), TimerError> {
        (**self).pop(pop).await
    }
}
