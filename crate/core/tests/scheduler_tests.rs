//! Blocking calls on the scheduler's workers: per-queue order across many
//! queues, a worker call holding its engine (direct calls are `Busy`), a
//! stuck engine not starving another, and submissions to closed engines.

#[path = "common/support_tests.rs"]
mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{PATIENCE, config, engine_with, expect_kind, module, on_worker};
use wasm_engine_core::scheduler::{Entry, Queue};
use wasm_engine_core::{Engine, ErrorKind, Instance, RuntimeConfig, Site};

const GUEST: &str = r#"
(module
  (memory (export "memory") 1)
  (func (export "spin")
    (loop $forever (br $forever)))
  (func (export "touch")
    (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1))))
)
"#;

/// An engine whose guests may run for a minute, one instance of [`GUEST`].
fn spinning_engine() -> (Arc<Engine>, Instance) {
    let engine = Arc::new(engine_with(RuntimeConfig {
        max_execution_seconds: Some(60.0),
        ..config()
    }));
    let module = module(&engine, GUEST);
    let instance = engine.create_instance(Site::Direct, &module, 1, 0).unwrap();
    (engine, instance)
}

/// Starts `instance`'s endless `spin` on a worker; the receiver gets how
/// it ended.
fn spin_on_worker(
    engine: &Arc<Engine>,
    instance: &Instance,
) -> mpsc::Receiver<Result<(), wasm_engine_core::WasmError>> {
    let spin = engine
        .function(Site::Direct, instance.target(), "spin")
        .unwrap();
    let worker_engine = engine.clone();
    on_worker(engine, None, move || {
        worker_engine.invoke(Site::Worker, &spin, &[], &mut [], None)
    })
}

/// Waits until a direct call on `engine` is refused as `Busy`: the worker
/// call holds the engine. (`stats` never is: it reads atomics.)
fn wait_until_busy(engine: &Engine, instance: &Instance) {
    let until = Instant::now() + PATIENCE;
    loop {
        assert!(
            engine.stats().is_ok(),
            "stats() must answer while a call holds the engine"
        );
        match engine.memory_size(Site::Direct, instance) {
            Err(err) if err.kind() == ErrorKind::Busy => return,
            Err(err) => panic!("unexpected error {err}"),
            Ok(_) => {
                assert!(Instant::now() < until, "the worker call never started");
                thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

#[test]
fn direct_calls_are_busy_while_a_worker_call_runs_and_close_ends_it() {
    let (engine, instance) = spinning_engine();
    let touch = engine
        .function(Site::Direct, instance.target(), "touch")
        .unwrap();
    let outcome = spin_on_worker(&engine, &instance);
    wait_until_busy(&engine, &instance);

    let asked = Instant::now();
    let err = expect_kind(
        engine.invoke(Site::Direct, &touch, &[], &mut [], None),
        ErrorKind::Busy,
    );
    assert!(
        err.message()
            .contains(&format!("engine {} is running another call", engine.id())),
        "{err}"
    );
    expect_kind(engine.memory_size(Site::Direct, &instance), ErrorKind::Busy);
    expect_kind(
        engine.function(Site::Direct, instance.target(), "touch"),
        ErrorKind::Busy,
    );
    expect_kind(
        engine.drop_instance(Site::Direct, &instance),
        ErrorKind::Busy,
    );
    assert!(
        asked.elapsed() < Duration::from_millis(500),
        "busy calls waited {:?}",
        asked.elapsed()
    );
    // The worker call is still running.
    assert!(outcome.recv_timeout(Duration::from_millis(50)).is_err());

    // Calls queued behind it run once it ends, and find the engine closed.
    let queued = on_worker(&engine, None, {
        let engine = engine.clone();
        let probe = instance.clone();
        move || engine.memory_size(Site::Worker, &probe)
    });
    let closed_at = Instant::now();
    engine.close();
    let err = expect_kind(outcome.recv_timeout(PATIENCE).unwrap(), ErrorKind::Closed);
    assert!(closed_at.elapsed() < Duration::from_secs(2));
    assert_eq!(err.export(), Some("spin"));
    expect_kind(queued.recv_timeout(PATIENCE).unwrap(), ErrorKind::Closed);
    // Once the worker let go, the closed engine refuses instead of Busy.
    expect_kind(engine.stats(), ErrorKind::Closed);
    expect_kind(
        engine.invoke(Site::Direct, &touch, &[], &mut [], None),
        ErrorKind::Closed,
    );
}

#[test]
fn worker_calls_wait_for_each_other_instead_of_being_busy() {
    let (engine, instance) = spinning_engine();
    let touch = engine
        .function(Site::Direct, instance.target(), "touch")
        .unwrap();
    // From plain threads, not the scheduler: workers wait for the lock.
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (engine, touch) = (engine.clone(), touch.clone());
            thread::spawn(move || {
                for _ in 0..50 {
                    engine
                        .invoke(Site::Worker, &touch, &[], &mut [], None)
                        .unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let count = engine.read_memory(Site::Direct, &instance, 0, 4).unwrap();
    assert_eq!(u32::from_le_bytes(count.try_into().unwrap()), 400);
}

#[test]
fn every_queue_runs_its_jobs_in_order_one_at_a_time() {
    const QUEUES: usize = 8;
    const JOBS: usize = 100;
    let queues: Vec<Arc<Queue>> = (0..QUEUES).map(|_| Arc::default()).collect();
    let order: Arc<Vec<Mutex<Vec<usize>>>> =
        Arc::new((0..QUEUES).map(|_| Mutex::default()).collect());
    let running: Arc<Vec<AtomicBool>> =
        Arc::new((0..QUEUES).map(|_| AtomicBool::default()).collect());
    let overlaps = Arc::new(AtomicUsize::new(0));
    let (done, finished) = mpsc::channel();
    // Each queue is fed by its own thread, all at once.
    let feeders: Vec<_> = queues
        .iter()
        .enumerate()
        .map(|(q, queue)| {
            let queue = queue.clone();
            let (order, running, overlaps, done) = (
                order.clone(),
                running.clone(),
                overlaps.clone(),
                done.clone(),
            );
            thread::spawn(move || {
                for seq in 0..JOBS {
                    let (order, running, overlaps, done) = (
                        order.clone(),
                        running.clone(),
                        overlaps.clone(),
                        done.clone(),
                    );
                    queue.submit(Entry {
                        what: format!("job {seq} of queue {q}").into(),
                        budget: Duration::from_secs(60),
                        abort: None,
                        job: Box::new(move |verdict| {
                            assert!(verdict.is_ok(), "job {seq} of queue {q} refused");
                            if running[q].swap(true, Ordering::SeqCst) {
                                overlaps.fetch_add(1, Ordering::SeqCst);
                            }
                            if seq % 10 == 0 {
                                thread::sleep(Duration::from_micros(200));
                            }
                            order[q].lock().unwrap().push(seq);
                            running[q].store(false, Ordering::SeqCst);
                            done.send(()).unwrap();
                        }),
                    });
                    if seq % 25 == 0 {
                        thread::yield_now();
                    }
                }
            })
        })
        .collect();
    for feeder in feeders {
        feeder.join().unwrap();
    }
    for _ in 0..QUEUES * JOBS {
        finished.recv_timeout(PATIENCE).expect("every job runs");
    }
    assert_eq!(
        overlaps.load(Ordering::SeqCst),
        0,
        "jobs of one queue overlapped"
    );
    for (q, seen) in order.iter().enumerate() {
        let seen = seen.lock().unwrap();
        assert_eq!(*seen, (0..JOBS).collect::<Vec<_>>(), "queue {q}");
    }
    assert!(queues.iter().all(|queue| queue.is_empty()));
}

#[test]
fn a_stuck_engine_does_not_hold_up_another() {
    let (stuck, instance) = spinning_engine();
    let outcome = spin_on_worker(&stuck, &instance);
    wait_until_busy(&stuck, &instance);

    let (other, other_instance) = spinning_engine();
    let touch = other
        .function(Site::Direct, other_instance.target(), "touch")
        .unwrap();
    let results: Vec<_> = (0..20)
        .map(|_| {
            let (engine, touch) = (other.clone(), touch.clone());
            on_worker(&other, None, move || {
                engine.invoke(Site::Worker, &touch, &[], &mut [], None)
            })
        })
        .collect();
    for result in results {
        result
            .recv_timeout(PATIENCE)
            .expect("the other engine's call ran")
            .unwrap();
    }
    let count = other
        .read_memory(Site::Direct, &other_instance, 0, 4)
        .unwrap();
    assert_eq!(u32::from_le_bytes(count.try_into().unwrap()), 20);

    stuck.close();
    expect_kind(outcome.recv_timeout(PATIENCE).unwrap(), ErrorKind::Closed);
}

#[test]
fn a_job_submitted_to_a_closed_engine_is_refused_at_once() {
    let (engine, instance) = spinning_engine();
    engine.close();
    let here = thread::current().id();
    let seen = Arc::new(Mutex::new(None));
    let job_seen = seen.clone();
    engine.submit(Entry {
        what: "late call".into(),
        budget: Duration::from_secs(60),
        abort: None,
        job: Box::new(move |verdict| {
            *job_seen.lock().unwrap() = Some((thread::current().id(), verdict));
        }),
    });
    // Refused before `submit` returned, on this thread.
    let (thread, verdict) = seen.lock().unwrap().take().expect("the job was told");
    assert_eq!(thread, here);
    let err = expect_kind(verdict, ErrorKind::Closed);
    assert!(
        err.message()
            .contains(&format!("engine {} is closed", engine.id())),
        "{err}"
    );
    expect_kind(engine.stats(), ErrorKind::Closed);
    expect_kind(
        engine.memory_size(Site::Worker, &instance),
        ErrorKind::Closed,
    );
}

#[test]
fn a_panicking_job_does_not_wedge_its_queue() {
    // Starts the epoch thread, whose monitor replaces stuck workers.
    let _engine = common::engine();
    let queue: Arc<Queue> = Arc::default();
    queue.submit(Entry {
        what: "panicking job".into(),
        budget: Duration::from_secs(60),
        abort: None,
        job: Box::new(|_| panic!("a job panicked on purpose")),
    });
    let (tx, rx) = mpsc::channel();
    queue.submit(Entry {
        what: "next job".into(),
        budget: Duration::from_secs(60),
        abort: None,
        job: Box::new(move |verdict| {
            let _ = tx.send(verdict.is_ok());
        }),
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(3))
            .expect("the job behind a panicking one never ran")
    );
}
