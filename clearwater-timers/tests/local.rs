//! LocalTimers: the wheel driven by tokio, with real time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use clearwater_timers::{LocalTimers, Pop, TimerError, TimerId, TimerService, TimerSpec};
use tokio::sync::mpsc;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn recv(rx: &mut mpsc::UnboundedReceiver<Pop>) -> Pop {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a pop within 10 s")
        .expect("driver alive")
}

#[tokio::test]
async fn one_shot_pops_once_and_not_early() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (timers, driver) = LocalTimers::new(tx);
    tokio::spawn(driver);
    let start = Instant::now();
    let id = timers
        .set(TimerSpec::once(ms(80), "cb", "alice"))
        .await
        .unwrap();
    let pop = recv(&mut rx).await;
    assert!(
        start.elapsed() >= ms(80),
        "popped early: {:?}",
        start.elapsed()
    );
    assert_eq!(pop.id, id);
    assert_eq!(
        (pop.callback.as_str(), pop.opaque.as_str(), pop.sequence),
        ("cb", "alice", 1)
    );
    tokio::time::sleep(ms(150)).await;
    assert!(rx.try_recv().is_err(), "a one-shot timer popped twice");
    assert!(timers.is_empty());
}

#[tokio::test]
async fn repeating_timer_keeps_its_schedule() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (timers, driver) = LocalTimers::new(tx);
    tokio::spawn(driver);
    let start = Instant::now();
    timers
        .set(TimerSpec::repeating(ms(40), ms(160), "cb", "r"))
        .await
        .unwrap();
    for seq in 1..=4 {
        let pop = recv(&mut rx).await;
        assert_eq!(pop.sequence, seq);
        assert!(
            start.elapsed() >= ms(40 * seq),
            "pop {seq} early at {:?}",
            start.elapsed()
        );
    }
    tokio::time::sleep(ms(120)).await;
    assert!(
        rx.try_recv().is_err(),
        "popped more than repeat-for / interval times"
    );
}

#[tokio::test]
async fn cancel_and_update() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (timers, driver) = LocalTimers::new(tx);
    tokio::spawn(driver);
    let gone = timers
        .set(TimerSpec::once(ms(50), "cb", "cancelled"))
        .await
        .unwrap();
    let moved = timers
        .set(TimerSpec::once(ms(50), "cb", "old"))
        .await
        .unwrap();
    timers.cancel(&gone).await.unwrap();
    timers.cancel(&gone).await.unwrap(); // twice: not an error
    timers
        .cancel(&TimerId("local-999999".into()))
        .await
        .unwrap();
    let start = Instant::now();
    timers
        .update(&moved, TimerSpec::once(ms(200), "cb", "new"))
        .await
        .unwrap();
    let pop = recv(&mut rx).await;
    assert!(
        start.elapsed() >= ms(200),
        "the update did not restart the timer"
    );
    assert_eq!(
        (pop.id, pop.opaque.as_str(), pop.sequence),
        (moved, "new", 1)
    );
    tokio::time::sleep(ms(100)).await;
    assert!(rx.try_recv().is_err(), "cancelled or replaced timer popped");
    // An update of an unknown (well-formed) id creates it; fresh ids then
    // stay clear of it.
    let made = TimerId("local-500".into());
    timers
        .update(&made, TimerSpec::once(ms(10), "cb", "made"))
        .await
        .unwrap();
    let next = timers
        .set(TimerSpec::once(ms(10), "cb", "next"))
        .await
        .unwrap();
    assert_ne!(next, made);
    let mut got = vec![recv(&mut rx).await.opaque, recv(&mut rx).await.opaque];
    got.sort();
    assert_eq!(got, ["made", "next"]);
}

#[tokio::test]
async fn bad_specs_are_refused() {
    let (tx, _rx) = mpsc::unbounded_channel();
    let (timers, driver) = LocalTimers::new(tx);
    tokio::spawn(driver);
    let bad = TimerSpec::repeating(ms(100), ms(50), "cb", "");
    assert!(matches!(timers.set(bad).await, Err(TimerError::Invalid(_))));
    let bad = TimerSpec::once(Duration::from_secs(400 * 24 * 3600), "cb", "");
    assert!(matches!(timers.set(bad).await, Err(TimerError::Invalid(_))));
    let bad = TimerSpec::once(ms(1), "", "");
    assert!(matches!(timers.set(bad).await, Err(TimerError::Invalid(_))));
    let ok = TimerSpec::once(ms(1), "cb", "");
    let foreign = TimerId("0123456789abcdef0123456789abcdef".into());
    assert!(matches!(
        timers.update(&foreign, ok).await,
        Err(TimerError::Invalid(_))
    ));
    assert!(timers.is_empty());
}

/// 20 000 timers with random intervals, some cancelled: each survivor pops
/// exactly once, none early.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_timers_each_pop_once() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (timers, driver) = LocalTimers::new(tx);
    tokio::spawn(driver);
    let mut seed = 0x1234_5678_9abc_def1_u64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut due: HashMap<TimerId, Instant> = HashMap::new();
    let mut cancelled = 0;
    for i in 0..20_000u64 {
        // Cancelled ones are due late enough that the cancel comes first.
        let cancel = rand() % 10 == 0;
        let after = ms(rand() % 300 + if cancel { 300 } else { 0 });
        let before = Instant::now();
        let id = timers
            .set(TimerSpec::once(after, "cb", i.to_string()))
            .await
            .unwrap();
        if cancel {
            timers.cancel(&id).await.unwrap();
            cancelled += 1;
        } else {
            due.insert(id, before + after);
        }
    }
    let expected = due.len();
    assert_eq!(expected + cancelled, 20_000);
    for _ in 0..expected {
        let pop = recv(&mut rx).await;
        let at = Instant::now();
        let Some(deadline) = due.remove(&pop.id) else {
            panic!("unexpected or duplicate pop {pop:?}");
        };
        assert!(at >= deadline, "popped early by {:?}", deadline - at);
    }
    tokio::time::sleep(ms(700)).await;
    assert!(rx.try_recv().is_err(), "a cancelled timer popped");
    assert!(timers.is_empty());
}

#[tokio::test]
async fn driver_ends_when_the_handles_go() {
    let (tx, _rx) = mpsc::unbounded_channel();
    let (timers, driver) = LocalTimers::new(tx);
    let task = tokio::spawn(driver);
    let clone = timers.clone();
    timers
        .set(TimerSpec::once(Duration::from_secs(60), "cb", ""))
        .await
        .unwrap();
    drop(timers);
    tokio::time::sleep(ms(20)).await;
    assert!(
        !task.is_finished(),
        "driver stopped while a handle was alive"
    );
    drop(clone);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("driver ends once the last handle is dropped")
        .unwrap();
}

/// A sink that is slow does not hold back other pops (deliveries run
/// concurrently).
#[tokio::test]
async fn slow_sink_does_not_serialise_pops() {
    struct Slow(mpsc::UnboundedSender<(String, Instant)>);
    #[async_trait::async_trait]
    impl clearwater_timers::PopSink for Slow {
        async fn pop(&self, pop: Pop) -> Result<(), TimerError> {
            tokio::time::sleep(ms(300)).await;
            self.0
                .send((pop.opaque, Instant::now()))
                .map_err(|_| TimerError::Stopped)
        }
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (timers, driver) = LocalTimers::new(Slow(tx));
    tokio::spawn(driver);
    let start = Instant::now();
    for i in 0..10 {
        timers
            .set(TimerSpec::once(ms(10), "cb", i.to_string()))
            .await
            .unwrap();
    }
    for _ in 0..10 {
        let (_, at) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(at - start < ms(1500), "deliveries were serialised");
    }
}
