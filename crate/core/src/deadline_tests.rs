//! Unit tests of `deadline`: what stops a guest and in which order, and
//! the ticker that advances every watched engine's epoch.

use std::sync::atomic::AtomicBool;
use std::sync::mpsc;

use wasmtime::{Store, Trap};

use super::*;
use crate::engine_config::engine_config;

/// Generous bound for anything the ticker must do within a few ticks: it
/// only catches a ticker that does nothing.
const LOOSE: Duration = Duration::from_secs(10);

fn interrupt_of(result: wasmtime::Result<UpdateDeadline>) -> Option<Interrupt> {
    result
        .err()
        .and_then(|err| err.downcast_ref::<Interrupt>().copied())
}

fn flag(set: bool) -> Flag {
    Arc::new(AtomicBool::new(set))
}

#[test]
fn a_watch_with_budget_left_lets_the_guest_continue_for_one_tick() {
    let watch = Watch::new(Duration::from_secs(60), Some(flag(false)));
    let closing = AtomicBool::new(false);
    assert_eq!(watch.interrupted(&closing), None);
    assert!(matches!(
        watch.check(&closing),
        Ok(UpdateDeadline::Continue(1))
    ));
}

#[test]
fn a_zero_budget_has_already_passed() {
    let watch = Watch::new(Duration::ZERO, None);
    let closing = AtomicBool::new(false);
    assert_eq!(watch.interrupted(&closing), Some(Interrupt::Timeout));
    assert_eq!(
        interrupt_of(watch.check(&closing)),
        Some(Interrupt::Timeout)
    );
}

#[test]
fn a_watch_times_out_once_its_budget_has_passed_and_not_before() {
    let budget = Duration::from_millis(30);
    let start = Instant::now();
    let watch = Watch::new(budget, None);
    let closing = AtomicBool::new(false);
    loop {
        match watch.interrupted(&closing) {
            None => {
                assert!(start.elapsed() < LOOSE, "the deadline never passed");
                std::thread::sleep(Duration::from_millis(1));
            }
            Some(interrupt) => {
                assert_eq!(interrupt, Interrupt::Timeout);
                assert!(start.elapsed() >= budget, "timed out early");
                break;
            }
        }
    }
}

#[test]
fn a_budget_too_large_for_an_instant_neither_overflows_nor_expires() {
    let closing = AtomicBool::new(false);
    for budget in [
        Duration::MAX,
        Duration::from_secs(u64::MAX),
        Duration::from_secs(u64::MAX / 2),
    ] {
        let watch = Watch::new(budget, None);
        assert_eq!(watch.interrupted(&closing), None, "{budget:?}");
        assert!(matches!(
            watch.check(&closing),
            Ok(UpdateDeadline::Continue(1))
        ));
    }
}

#[test]
fn the_abort_flag_stops_the_guest_as_soon_as_it_is_set() {
    let abort = flag(false);
    let watch = Watch::new(Duration::from_secs(60), Some(abort.clone()));
    let closing = AtomicBool::new(false);
    assert_eq!(watch.interrupted(&closing), None);
    abort.store(true, Ordering::Release);
    assert_eq!(watch.interrupted(&closing), Some(Interrupt::Aborted));
    assert_eq!(
        interrupt_of(watch.check(&closing)),
        Some(Interrupt::Aborted)
    );
}

#[test]
fn the_closing_flag_stops_the_guest_as_soon_as_it_is_set() {
    let watch = Watch::new(Duration::from_secs(60), None);
    let closing = AtomicBool::new(false);
    assert_eq!(watch.interrupted(&closing), None);
    closing.store(true, Ordering::Release);
    assert_eq!(watch.interrupted(&closing), Some(Interrupt::Closed));
    assert_eq!(interrupt_of(watch.check(&closing)), Some(Interrupt::Closed));
}

#[test]
fn closing_takes_precedence_over_aborting_which_takes_precedence_over_the_deadline() {
    // (closing, aborted, deadline passed) -> what stops the guest.
    let cases = [
        (true, true, true, Some(Interrupt::Closed)),
        (true, true, false, Some(Interrupt::Closed)),
        (true, false, true, Some(Interrupt::Closed)),
        (true, false, false, Some(Interrupt::Closed)),
        (false, true, true, Some(Interrupt::Aborted)),
        (false, true, false, Some(Interrupt::Aborted)),
        (false, false, true, Some(Interrupt::Timeout)),
        (false, false, false, None),
    ];
    for (closed, aborted, passed, expected) in cases {
        let budget = if passed {
            Duration::ZERO
        } else {
            Duration::from_secs(60)
        };
        let watch = Watch::new(budget, Some(flag(aborted)));
        let closing = AtomicBool::new(closed);
        assert_eq!(
            watch.interrupted(&closing),
            expected,
            "closing {closed}, aborted {aborted}, passed {passed}"
        );
        match expected {
            Some(interrupt) => assert_eq!(interrupt_of(watch.check(&closing)), Some(interrupt)),
            None => assert!(matches!(
                watch.check(&closing),
                Ok(UpdateDeadline::Continue(1))
            )),
        }
    }
}

#[test]
fn a_clone_shares_the_abort_flag_and_the_deadline() {
    let abort = flag(false);
    let watch = Watch::new(Duration::from_secs(60), Some(abort.clone()));
    let copy = watch.clone();
    let closing = AtomicBool::new(false);
    abort.store(true, Ordering::Release);
    assert_eq!(copy.interrupted(&closing), Some(Interrupt::Aborted));
    let expired = Watch::new(Duration::ZERO, None).clone();
    assert_eq!(expired.interrupted(&closing), Some(Interrupt::Timeout));
}

/// A guest that loops forever, in a fresh store of a fresh engine with
/// this package's settings (epoch interruption on) that the ticker
/// watches.
fn spinning_guest() -> (wasmtime::Engine, Store<()>, wasmtime::TypedFunc<(), ()>) {
    let engine = wasmtime::Engine::new(&engine_config(false, None)).unwrap();
    watch(&engine);
    let module =
        wasmtime::Module::new(&engine, r#"(module (func (export "spin") (loop br 0)))"#).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
    let spin = instance.get_typed_func(&mut store, "spin").unwrap();
    (engine, store, spin)
}

/// Runs `spin` on a thread of its own and returns how it ended, or fails
/// the test if it is still spinning after [`LOOSE`].
fn run_to_interruption(mut store: Store<()>, spin: wasmtime::TypedFunc<(), ()>) -> wasmtime::Error {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(spin.call(&mut store, ()));
    });
    match rx.recv_timeout(LOOSE) {
        Ok(Err(err)) => err,
        Ok(Ok(())) => panic!("an endless loop returned"),
        Err(_) => panic!("the guest was still spinning after {LOOSE:?}: no epoch ticked"),
    }
}

#[test]
fn the_ticker_advances_a_watched_engines_epoch_until_a_spinning_guest_traps() {
    let (_engine, mut store, spin) = spinning_guest();
    store.set_epoch_deadline(3);
    let err = run_to_interruption(store, spin);
    assert_eq!(
        err.downcast_ref::<Trap>(),
        Some(&Trap::Interrupt),
        "{err:?}"
    );
}

#[test]
fn a_watch_in_the_epoch_callback_stops_a_spinning_guest_at_its_deadline() {
    let (_engine, mut store, spin) = spinning_guest();
    let budget = Duration::from_millis(50);
    let start = Instant::now();
    let watch = Watch::new(budget, None);
    let closing = AtomicBool::new(false);
    store.epoch_deadline_callback(move |_| watch.check(&closing));
    store.set_epoch_deadline(1);
    let err = run_to_interruption(store, spin);
    assert_eq!(err.downcast_ref::<Interrupt>(), Some(&Interrupt::Timeout));
    assert!(start.elapsed() >= budget, "stopped before its deadline");
}

#[test]
fn flags_set_while_a_guest_spins_stop_it_at_the_next_tick() {
    for (closing_set, expected) in [(false, Interrupt::Aborted), (true, Interrupt::Closed)] {
        let (_engine, mut store, spin) = spinning_guest();
        let abort = flag(false);
        let closing = flag(false);
        let watch = Watch::new(Duration::from_secs(3600), Some(abort.clone()));
        let seen = closing.clone();
        store.epoch_deadline_callback(move |_| watch.check(&seen));
        store.set_epoch_deadline(1);
        let setter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let which = if closing_set { closing } else { abort };
            which.store(true, Ordering::Release);
        });
        let err = run_to_interruption(store, spin);
        setter.join().unwrap();
        assert_eq!(err.downcast_ref::<Interrupt>(), Some(&expected));
    }
}

#[test]
fn a_dropped_engine_is_pruned_from_the_ticker() {
    let engine = wasmtime::Engine::new(&engine_config(false, None)).unwrap();
    watch(&engine);
    let watched = |engines: &[EngineWeak]| {
        engines
            .iter()
            .filter_map(EngineWeak::upgrade)
            .any(|live| wasmtime::Engine::same(&live, &engine))
    };
    assert!(
        watched(&registry().lock()),
        "watch did not register the engine"
    );
    drop(engine);
    // Other tests watch and drop engines too, so wait for a moment when the
    // registry holds no dropped engine at all: the ticker prunes every
    // dropped one at each tick, so that moment comes within a tick or two,
    // and never if pruning is broken.
    let start = Instant::now();
    while registry()
        .lock()
        .iter()
        .any(|weak| weak.upgrade().is_none())
    {
        assert!(start.elapsed() < LOOSE, "a dropped engine was never pruned");
        std::thread::sleep(Duration::from_millis(1));
    }
}
