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

impl DiskCache {
    fn path(&self, key: &[u8; 32]) -> PathBuf {
        self.dir.join(Self::name(key))
    }
}

impl Lookup {
    fn hit(self) -> Option<wasmtime::Module> {
        match self {
            Lookup::Hit(module) => Some(module),
            _ => None,
        }
    }

    fn is_miss(&self) -> bool {
        matches!(self, Lookup::Miss)
    }

    fn is_rejected(&self) -> bool {
        matches!(self, Lookup::Rejected)
    }
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
    assert!(cache.load(&engine, &key).is_miss());
    cache.store(&key, &compiled).unwrap();
    let loaded = cache.load(&engine, &key).hit().expect("a hit");
    assert_eq!(loaded.serialize().unwrap(), compiled.serialize().unwrap());
}

#[test]
fn truncated_or_flipped_files_are_deleted_not_loaded() {
    let scratch = Scratch::new();
    let engine = engine(false);
    let cache = DiskCache::new(&scratch.0, &engine, u64::MAX);
    let (key, compiled) = module(&engine, 1);
    cache.store(&key, &compiled).unwrap();
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
            cache.load(&engine, &key).is_rejected(),
            "case {case} was not rejected"
        );
        assert!(!path.exists(), "case {case} was left on disk");
    }
    // The next compile writes it again, whole.
    cache.store(&key, &compiled).unwrap();
    assert!(cache.load(&engine, &key).hit().is_some());
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
        unbounded.store(key, compiled).unwrap();
    }
    let size = fs::metadata(unbounded.path(&modules[0].0)).unwrap().len();
    // Stored long ago, from oldest to youngest: 0, 1, 2; then 0 is used.
    for (age, (key, _)) in modules[..3].iter().enumerate() {
        set_used(&unbounded.path(key), 1000 - age as u64);
    }
    assert!(unbounded.load(&engine, &modules[0].0).hit().is_some());
    // Room for three files: the fourth evicts the least recently used, 1.
    let bounded = DiskCache::new(&scratch.0, &engine, 3 * size + size / 2);
    bounded.store(&modules[3].0, &modules[3].1).unwrap();
    let kept: Vec<bool> = modules
        .iter()
        .map(|(key, _)| bounded.path(key).exists())
        .collect();
    assert_eq!(kept, [true, false, true, true]);
    assert!(bounded.load(&engine, &modules[0].0).hit().is_some());
}

#[test]
fn the_limit_covers_every_configuration_under_the_root_and_stale_temporaries() {
    let scratch = Scratch::new();
    let plain = engine(false);
    let metered = engine(true);
    let old = DiskCache::new(&scratch.0, &metered, u64::MAX);
    let (old_key, old_module) = module(&metered, 1);
    old.store(&old_key, &old_module).unwrap();
    set_used(&old.path(&old_key), 5000);
    // Another configuration never loads it ...
    let cache = DiskCache::new(&scratch.0, &plain, 0);
    assert_ne!(cache.dir, old.dir);
    assert!(cache.load(&plain, &old_key).is_miss());
    // ... and its eviction counts it; so is a write that never finished.
    let torn = cache.dir.join(format!("{}.1234.tmp", "ab".repeat(32)));
    create_private_dir(&cache.dir).unwrap();
    fs::write(&torn, b"partial").unwrap();
    set_used(&torn, 7200);
    let (key, compiled) = module(&plain, 2);
    cache.store(&key, &compiled).unwrap();
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
    cache.store(&key, &compiled).unwrap();
    fs::set_permissions(&cache.dir, fs::Permissions::from_mode(0o777)).unwrap();
    assert!(cache.load(&engine, &key).is_rejected());
    fs::set_permissions(&cache.dir, fs::Permissions::from_mode(0o700)).unwrap();
    fs::set_permissions(cache.path(&key), fs::Permissions::from_mode(0o666)).unwrap();
    assert!(cache.load(&engine, &key).is_rejected());
    fs::set_permissions(cache.path(&key), fs::Permissions::from_mode(0o600)).unwrap();
    assert!(cache.load(&engine, &key).hit().is_some());
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
    cache.store(&key, &compiled).unwrap();
    for path in &foreign {
        assert!(path.exists(), "{} was deleted", path.display());
    }
}

#[cfg(unix)]
#[test]
fn links_and_files_of_other_users_are_not_trusted() {
    use std::os::unix::fs::symlink;
    let scratch = Scratch::new();
    let engine = engine(false);
    let elsewhere = Scratch::new();
    let cache = DiskCache::new(&scratch.0, &engine, u64::MAX);
    let (key, compiled) = module(&engine, 5);
    cache.store(&key, &compiled).unwrap();
    // A private directory reached through a link is not the cache's own.
    let moved = elsewhere.0.join("moved");
    fs::rename(&cache.dir, &moved).unwrap();
    symlink(&moved, &cache.dir).unwrap();
    assert!(cache.load(&engine, &key).is_rejected());
    assert!(cache.store(&key, &compiled).is_err());
    fs::remove_file(&cache.dir).unwrap();
    fs::rename(&moved, &cache.dir).unwrap();
    // Nor is an entry that links to a good artifact elsewhere.
    let target = elsewhere.0.join("artifact");
    fs::rename(cache.path(&key), &target).unwrap();
    symlink(&target, cache.path(&key)).unwrap();
    assert!(cache.load(&engine, &key).is_rejected());
    fs::remove_file(cache.path(&key)).unwrap();
    fs::rename(&target, cache.path(&key)).unwrap();
    assert!(cache.load(&engine, &key).hit().is_some());
    // Another user's file, however private, is not loaded (only a
    // privileged test run can hand a file to another user).
    if rustix::process::geteuid().is_root() {
        std::os::unix::fs::chown(cache.path(&key), Some(4242), None).unwrap();
        assert!(cache.load(&engine, &key).is_rejected());
        std::os::unix::fs::chown(&cache.dir, Some(4242), None).unwrap();
        std::os::unix::fs::chown(cache.path(&key), Some(0), None).unwrap();
        assert!(cache.load(&engine, &key).is_rejected());
    }
}

#[test]
fn an_artifact_wasmtime_refuses_is_deleted_and_recompiled() {
    let scratch = Scratch::new();
    let engine = engine(false);
    let cache = DiskCache::new(&scratch.0, &engine, u64::MAX);
    let (key, compiled) = module(&engine, 6);
    cache.store(&key, &compiled).unwrap();
    // What another wasmtime build would have written under a matching
    // digest: the header is whole, the artifact is not one wasmtime takes.
    let artifact = b"\x7fELF from another wasmtime".to_vec();
    let mut file = MAGIC.to_vec();
    file.extend_from_slice(blake3::hash(&artifact).as_bytes());
    file.extend_from_slice(&artifact);
    fs::write(cache.path(&key), file).unwrap();
    assert!(cache.load(&engine, &key).is_rejected());
    assert!(!cache.path(&key).exists());
}

#[test]
fn concurrent_writers_of_one_entry_never_share_a_temporary_file() {
    let scratch = Scratch::new();
    let engine = engine(false);
    let cache = DiskCache::new(&scratch.0, &engine, u64::MAX);
    let (key, compiled) = module(&engine, 8);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..10 {
                    cache.store(&key, &compiled).unwrap();
                }
            });
        }
    });
    assert!(cache.load(&engine, &key).hit().is_some());
    let left: Vec<_> = fs::read_dir(&cache.dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
}

#[test]
fn the_file_just_written_is_evicted_last_even_when_time_stamps_tie() {
    let scratch = Scratch::new();
    let engine = engine(false);
    let cache = DiskCache::new(&scratch.0, &engine, u64::MAX);
    let modules: Vec<_> = (10..13).map(|n| module(&engine, n)).collect();
    // Three files with one time stamp, as a coarse clock would give them.
    let stamp = SystemTime::now() - Duration::from_secs(60);
    for (key, compiled) in &modules {
        cache.store(key, compiled).unwrap();
        fs::File::options()
            .append(true)
            .open(cache.path(key))
            .unwrap()
            .set_modified(stamp)
            .unwrap();
    }
    let mut paths: Vec<PathBuf> = modules.iter().map(|(key, _)| cache.path(key)).collect();
    paths.sort();
    let size = fs::metadata(&paths[0]).unwrap().len();
    // The one that ties would sort first is the one just written.
    let bounded = DiskCache::new(&scratch.0, &engine, 2 * size);
    bounded.evict(&paths[0]);
    assert!(paths[0].exists());
    assert_eq!(paths.iter().filter(|path| path.exists()).count(), 2);
}
