//! Unit tests of `scheduler`.

use super::*;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;

fn entry(what: &str, budget: Duration, abort: Option<Flag>, job: Job) -> Entry {
    Entry {
        what: what.into(),
        budget,
        abort,
        job,
    }
}

#[test]
fn calls_of_one_queue_run_in_order_one_at_a_time() {
    let queue = Arc::new(Queue::default());
    let (tx, rx) = mpsc::channel();
    let running = Arc::new(AtomicBool::new(false));
    for i in 0..200 {
        let (tx, running) = (tx.clone(), running.clone());
        queue.submit(entry(
            "call",
            Duration::from_secs(60),
            None,
            Box::new(move |verdict| {
                assert!(verdict.is_ok());
                assert!(
                    !running.swap(true, Ordering::SeqCst),
                    "two calls overlapped"
                );
                std::thread::sleep(Duration::from_micros(50));
                running.store(false, Ordering::SeqCst);
                tx.send(i).unwrap();
            }),
        ));
    }
    let order: Vec<i32> = (0..200)
        .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
        .collect();
    assert_eq!(order, (0..200).collect::<Vec<_>>());
}

#[test]
fn a_queue_emptied_by_a_full_batch_takes_new_calls() {
    for burst in [BATCH - 1, BATCH, BATCH + 1, 2 * BATCH] {
        let queue = Arc::new(Queue::default());
        let (tx, rx) = mpsc::channel();
        // Held so the whole burst is queued before the first call runs.
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock();
        for i in 0..burst {
            let (tx, gate) = (tx.clone(), gate.clone());
            queue.submit(entry(
                "burst",
                Duration::from_secs(60),
                None,
                Box::new(move |_| {
                    drop(gate.lock());
                    tx.send(i).unwrap();
                }),
            ));
        }
        drop(held);
        for _ in 0..burst {
            rx.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        let tx = tx.clone();
        queue.submit(entry(
            "next",
            Duration::from_secs(60),
            None,
            Box::new(move |_| tx.send(usize::MAX).unwrap()),
        ));
        let next = rx.recv_timeout(Duration::from_secs(10));
        assert_eq!(
            next,
            Ok(usize::MAX),
            "the call after a burst of {burst} never ran"
        );
    }
}

#[test]
fn an_aborted_call_never_runs_and_an_expired_one_is_refused() {
    let queue = Arc::new(Queue::default());
    let (tx, rx) = mpsc::channel();
    let gate = Arc::new(Mutex::new(()));
    let held = gate.lock();
    let blocker_gate = gate.clone();
    queue.submit(entry(
        "blocker",
        Duration::from_secs(60),
        None,
        Box::new(move |_| drop(blocker_gate.lock())),
    ));
    let abort: Flag = Arc::new(AtomicBool::new(true));
    for (what, budget, abort) in [
        ("aborted", Duration::from_secs(60), Some(abort)),
        ("expired", Duration::ZERO, None),
    ] {
        let tx = tx.clone();
        queue.submit(entry(
            what,
            budget,
            abort,
            Box::new(move |verdict| {
                tx.send(verdict.map_err(|e| (e.kind(), e.message().to_owned())))
                    .unwrap()
            }),
        ));
    }
    std::thread::sleep(Duration::from_millis(5));
    drop(held);
    let (kind, message) = rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap_err();
    assert_eq!(kind, ErrorKind::Aborted);
    assert!(message.starts_with("aborted was aborted before it started"));
    let (kind, _) = rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap_err();
    assert_eq!(kind, ErrorKind::Overloaded);
}

#[test]
fn a_long_call_does_not_hold_up_other_queues() {
    let long = Arc::new(Queue::default());
    let (tx, rx) = mpsc::channel();
    let release = Arc::new(AtomicBool::new(false));
    for _ in 0..4 {
        let release = release.clone();
        long.submit(entry(
            "long",
            Duration::from_secs(60),
            None,
            Box::new(move |_| {
                while !release.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }),
        ));
    }
    // More queues than cores, each with a call that runs until released.
    let others: Vec<_> = (0..4).map(|_| Arc::new(Queue::default())).collect();
    for queue in &others {
        let (tx, release) = (tx.clone(), release.clone());
        queue.submit(entry(
            "short",
            Duration::from_secs(60),
            None,
            Box::new(move |_| {
                tx.send(()).unwrap();
                while !release.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }),
        ));
    }
    // Every queue's first call starts although all run forever: the
    // epoch monitor adds workers.
    crate::deadline::watch(&wasmtime::Engine::default());
    for _ in &others {
        rx.recv_timeout(Duration::from_secs(5))
            .expect("a queue was starved by long calls");
    }
    release.store(true, Ordering::Release);
}
