//! Unit tests of `disk_cache`: integrity, eviction and trust.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use super::*;
use crate::engine_config::engine_config;

/// A fresh directory of its own for each test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "wasm-engine-disk-cache-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        create_private_dir(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn engine(metering: bool) -> wasmtime::Engine {
    wasmtime::Engine::new(&engine_config(metering, None)).unwrap()
}

/// A module whose export returns `n`, so that each `n` is another file.
fn module(engine: &wasmtime::Engine, n: i32) -> ([u8; 32], wasmtime::Module) {
    let wat = format!(r#"(module (func (export "n") (result i32) (i32.const {n})))"#);
    let mut key = [0; 32];
    key[..4].copy_from_slice(&n.to_le_bytes());
    (key, wasmtime::Module::new(engine, wat).unwrap())
}

fn set_used(path: &Path, seconds_ago: u64) {
    let file = fs::File::options().append(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(seconds_ago))
        .unwrap();
}

#[test]
fn a_stored_module_loads_back() {
    let scratch = Scratch::new();
    let engine = engine(false);
    let cache = DiskCache::new(&scratch.0, &engine, u64::MAX);
    let (key, compiled) = module(&engine, 7);
    assert!(cache.load(&engine, &key).is_none());
    cache.store(&key, &compiled);
    let loaded = cache.load(&engine, &key).expect("a hit");
    assert_eq!(loaded.serialize().unwrap(), compiled.serialize().unwrap());
}

#[test]
fn truncated_or_flipped_files_are_deleted_not_loaded() {
    let scratch = Scratch::new();
    let engine = engine(false);
    let cache = DiskCache::new(&scratch.0, &engine, u64::MAX);
    let (key, compiled) = module(&engine, 1);
    cache.store(&key, &compiled);
    let path = cache.path(&key);
    let whole = fs::read(&path).unwrap();
    let damaged = [
        whole[..whole.len() - 1].to_vec(),
        whole[..HEADER / 2].to_vec(),
        Vec::new(),
        flip(&whole, HEADER + (whole.len() - HEADER) / 2),
        flip(&whole, whole.len() - 1),
        flip(&whole, MAGIC.len() + 3),
        flip(&whole, 0),
    ];
    for (case, bytes) in damaged.into_iter().enumerate() {
        fs::write(&path, bytes).unwrap();
        assert!(
            cache.load(&engine, &key).is_none(),
            "case {case} was loaded"
        );
        assert!(!path.exists(), "case {case} was left on disk");
    }
    // The next compile writes it again, whole.
    cache.store(&key, &compiled);
    assert!(cache.load(&engine, &key).is_some());
}

fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut copy = bytes.to_vec();
    copy[at] ^= 0x10;
    copy
}

#[test]
fn least_recently_used_files_are_evicted_past_the_limit() {
    let scratch = Scratch::new();
    let engine = engine(false);
    let unbounded = DiskCache::new(&scratch.0, &engine, u64::MAX);
    let modules: Vec<_> = (0..4).map(|n| module(&engine, n)).collect();
    for (key, compiled) in &modules[..3] {
        unbounded.store(key, compiled);
    }
    let size = fs::metadata(unbounded.path(&modules[0].0)).unwrap().len();
    // Stored long ago, from oldest to youngest: 0, 1, 2; then 0 is used.
    for (age, (key, _)) in modules[..3].iter().enumerate() {
        set_used(&unbounded.path(key), 1000 - age as u64);
    }
    assert!(unbounded.load(&engine, &modules[0].0).is_some());
    // Room for three files: the fourth evicts the least recently used, 1.
    let bounded = DiskCache::new(&scratch.0, &engine, 3 * size + size / 2);
    bounded.store(&modules[3].0, &modules[3].1);
    let kept: Vec<bool> = modules
        .iter()
        .map(|(key, _)| bounded.path(key).exists())
        .collect();
    assert_eq!(kept, [true, false, true, true]);
    assert!(bounded.load(&engine, &modules[0].0).is_some());
}

#[test]
fn the_limit_covers_every_configuration_under_the_root_and_stale_temporaries() {
    let scratch = Scratch::new();
    let plain = engine(false);
    let metered = engine(true);
    let old = DiskCache::new(&scratch.0, &metered, u64::MAX);
    let (old_key, old_module) = module(&metered, 1);
    old.store(&old_key, &old_module);
    set_used(&old.path(&old_key), 5000);
    // Another configuration never loads it ...
    let cache = DiskCache::new(&scratch.0, &plain, 0);
    assert_ne!(cache.dir, old.dir);
    assert!(cache.load(&plain, &old_key).is_none());
    // ... and its eviction counts it; so is a write that never finished.
    let torn = cache.dir.join(format!("{}.1234.tmp", "ab".repeat(32)));
    create_private_dir(&cache.dir).unwrap();
    fs::write(&torn, b"partial").unwrap();
    set_used(&torn, 7200);
    let (key, compiled) = module(&plain, 2);
    cache.store(&key, &compiled);
    assert!(!old.path(&old_key).exists());
    assert!(!torn.exists());
    // A limit of 0 keeps nothing, not even what was just written.
    assert!(!cache.path(&key).exists());
}

#[cfg(unix)]
#[test]
fn a_directory_others_may_write_is_not_trusted() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Scratch::new();
    let engine = engine(false);
    let cache = DiskCache::new(&scratch.0, &engine, u64::MAX);
    let (key, compiled) = module(&engine, 3);
    cache.store(&key, &compiled);
    fs::set_permissions(&cache.dir, fs::Permissions::from_mode(0o777)).unwrap();
    assert!(cache.load(&engine, &key).is_none());
    fs::set_permissions(&cache.dir, fs::Permissions::from_mode(0o700)).unwrap();
    fs::set_permissions(cache.path(&key), fs::Permissions::from_mode(0o666)).unwrap();
    assert!(cache.load(&engine, &key).is_none());
    fs::set_permissions(cache.path(&key), fs::Permissions::from_mode(0o600)).unwrap();
    assert!(cache.load(&engine, &key).is_some());
}

#[test]
fn eviction_deletes_only_what_this_cache_wrote() {
    let scratch = Scratch::new();
    let engine = engine(false);
    // A root shared with other programs' files, in and beside tag-like directories.
    let foreign_dir = scratch.0.join("build");
    fs::create_dir_all(&foreign_dir).unwrap();
    let foreign = [
        foreign_dir.join("app.cwasm"),
        foreign_dir.join("old.tmp"),
        scratch.0.join("notes.tmp"),
    ];
    for path in &foreign {
        fs::write(path, b"not ours").unwrap();
        set_used(path, 7200);
    }
    let cache = DiskCache::new(&scratch.0, &engine, 0);
    let (key, compiled) = module(&engine, 4);
    cache.store(&key, &compiled);
    for path in &foreign {
        assert!(path.exists(), "{} was deleted", path.display());
    }
}
