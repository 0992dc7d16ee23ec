//! Unit tests of `backend`: the in-memory module cache and its counters.

use std::sync::Barrier;

use super::*;
use crate::config::RuntimeConfig;

/// Limits with the on-disk cache off, so that every hit counted is a
/// memory hit, and `capacity` modules kept in memory (the default when
/// `None`).
fn limits(capacity: Option<f64>) -> Limits {
    Limits::resolve(&RuntimeConfig {
        compile_cache: Some(false),
        module_cache_capacity: capacity,
        ..Default::default()
    })
    .unwrap()
}

/// A small valid module whose export returns `n`: each `n` is other bytes.
fn small(n: i32) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module (func (export "n") (result i32) (i32.const {n})))"#
    ))
    .unwrap()
}

/// A module of `functions` functions, slow enough to compile that
/// compiles started together overlap.
fn large(functions: usize) -> Vec<u8> {
    let mut wat = String::from("(module\n");
    for i in 0..functions {
        wat.push_str(&format!(
            "(func (export \"f{i}\") (param i32 i32) (result i32)
               (local i32)
               (local.set 2 (i32.mul (local.get 0) (i32.const {i})))
               (if (i32.gt_s (local.get 2) (local.get 1))
                 (then (local.set 2 (i32.sub (local.get 2) (local.get 1))))
                 (else (local.set 2 (i32.add (local.get 2) (i32.const 7)))))
               (i32.xor (local.get 2) (i32.rotl (local.get 1) (i32.const 3))))\n"
        ));
    }
    wat.push(')');
    wat::parse_str(wat).unwrap()
}

fn counts(backend: &Backend) -> (u64, u64, u64) {
    let stats = backend.stats();
    (stats.compiles, stats.memory_hits, stats.disk_hits)
}

#[test]
fn a_new_backend_has_compiled_nothing() {
    let backend = Backend::new(&limits(None)).unwrap();
    assert_eq!(counts(&backend), (0, 0, 0));
    assert!(!backend.metering);
}

#[test]
fn compiling_the_same_bytes_again_is_a_memory_hit_returning_the_same_module() {
    let backend = Backend::new(&limits(None)).unwrap();
    let wasm = small(1);
    let first = backend.compile(&wasm).unwrap().1;
    assert_eq!(counts(&backend), (1, 0, 0));
    let second = backend.compile(&wasm).unwrap().1;
    let third = backend.compile(&wasm.clone()).unwrap().1;
    assert_eq!(counts(&backend), (1, 2, 0));
    assert!(wasmtime::Module::same(&first, &second));
    assert!(wasmtime::Module::same(&first, &third));
}

#[test]
fn other_bytes_are_compiled_on_their_own() {
    let backend = Backend::new(&limits(None)).unwrap();
    let one = backend.compile(&small(1)).unwrap().1;
    let two = backend.compile(&small(2)).unwrap().1;
    assert_eq!(counts(&backend), (2, 0, 0));
    assert!(!wasmtime::Module::same(&one, &two));
    backend.compile(&small(1)).unwrap();
    backend.compile(&small(2)).unwrap();
    assert_eq!(counts(&backend), (2, 2, 0));
}

#[test]
fn a_cache_of_capacity_zero_keeps_nothing() {
    let backend = Backend::new(&limits(Some(0.0))).unwrap();
    let wasm = small(3);
    let first = backend.compile(&wasm).unwrap().1;
    let second = backend.compile(&wasm).unwrap().1;
    assert_eq!(counts(&backend), (2, 0, 0));
    assert!(!wasmtime::Module::same(&first, &second));
}

#[test]
fn backends_keep_caches_and_counters_of_their_own() {
    let a = Backend::new(&limits(None)).unwrap();
    let b = Backend::new(&limits(None)).unwrap();
    let wasm = small(4);
    a.compile(&wasm).unwrap();
    b.compile(&wasm).unwrap();
    assert_eq!(counts(&a), (1, 0, 0));
    assert_eq!(counts(&b), (1, 0, 0));
}

#[test]
fn concurrent_compiles_of_the_same_bytes_compile_once() {
    const THREADS: usize = 4;
    let backend = Backend::new(&limits(None)).unwrap();
    let wasm = large(1000);
    let barrier = Barrier::new(THREADS);
    let modules: Vec<wasmtime::Module> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    backend.compile(&wasm).unwrap().1
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(counts(&backend), (1, THREADS as u64 - 1, 0));
    assert!(
        modules
            .iter()
            .all(|module| wasmtime::Module::same(module, &modules[0]))
    );
}

#[test]
fn an_invalid_module_is_a_compile_error_naming_its_size_and_is_not_cached() {
    let backend = Backend::new(&limits(None)).unwrap();
    let garbage = b"not wasm at all".to_vec();
    for attempt in 1..=2 {
        let err = backend.compile(&garbage).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Compile);
        assert!(
            err.message()
                .starts_with("module of 15 bytes is not valid WebAssembly: "),
            "{}",
            err.message()
        );
        assert_eq!(counts(&backend), (attempt, 0, 0), "the failure was cached");
    }
    // A valid module still compiles and caches after the failures.
    let wasm = small(5);
    backend.compile(&wasm).unwrap();
    backend.compile(&wasm).unwrap();
    assert_eq!(counts(&backend), (3, 1, 0));
}

#[test]
fn a_module_that_fails_validation_says_why() {
    let backend = Backend::new(&limits(None)).unwrap();
    // The header of a module, then a section id that does not exist.
    let wasm = b"\0asm\x01\0\0\0\x7f\x00".to_vec();
    let err = backend.compile(&wasm).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Compile);
    let prefix = "module of 10 bytes is not valid WebAssembly: ";
    assert!(err.message().starts_with(prefix), "{}", err.message());
    assert!(
        err.message().len() > prefix.len(),
        "the reason is missing: {}",
        err.message()
    );
}
