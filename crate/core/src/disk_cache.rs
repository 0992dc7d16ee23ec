//! The on-disk compile cache: compiled modules serialized by wasmtime, keyed
//! by the SHA-256 of the WebAssembly binary and by the compiling engine's
//! settings, so a second process skips Cranelift entirely.
//!
//! Trust: loading a cached artifact runs native code that was written to
//! disk, so the directory must be writable only by the user running the
//! engine; files or directories that others may write are ignored. Each
//! file starts with the BLAKE3 digest of the artifact after it, checked
//! before wasmtime sees a byte: a truncated, torn or flipped file is
//! deleted and recompiled, never loaded.
//!
//! Size: after each write, the least recently used files (by modification
//! time, which a hit renews) are deleted until all the configurations'
//! files under the root fit in the byte limit. Only files this cache names
//! (a hex configuration directory, a hex file name) are ever deleted.
//!
//! wasmtime's own cache (its `cache` feature) would replace this file, but
//! it loads what it reads after zstd decompression (its frames carry no
//! checksum) without an integrity check, accepts directories others can
//! write, evicts on a background thread, and counts hits per wasmtime
//! engine where `stats()` counts them per backend.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

/// Environment variable that overrides the default cache directory;
/// `off` (or an empty value) disables the cache.
const DIRECTORY_VARIABLE: &str = "WASM_ENGINE_CACHE_DIR";

/// Feeds what a `Hash` implementation writes into SHA-256: the directory
/// name of a configuration must not change with the Rust release, as
/// `DefaultHasher`'s may.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Unused: the digest is read whole from the inner SHA-256.
    fn finish(&self) -> u64 {
        0
    }
}

/// What a cache file starts with; bumped when the layout changes.
const MAGIC: &[u8; 8] = b"wecache1";

/// Bytes before the artifact: [`MAGIC`] and the artifact's BLAKE3 digest.
const HEADER: usize = MAGIC.len() + blake3::OUT_LEN;

/// Extension of complete cache files.
const EXTENSION: &str = "cwasm";

/// Compiled modules of one engine configuration in one directory.
pub(crate) struct DiskCache {
    /// Holds one directory per engine configuration.
    root: PathBuf,
    /// `<root>/<engine configuration tag>`.
    dir: PathBuf,
    /// Bytes all cache files under `root` may take together.
    max_bytes: u64,
}

impl DiskCache {
    /// The cache of `engine`'s artifacts under `root`, whose files take at
    /// most `max_bytes` together.
    pub(crate) fn new(root: &Path, engine: &wasmtime::Engine, max_bytes: u64) -> DiskCache {
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let digest = hasher.0.finalize();
        let tag: String = digest[..8]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        DiskCache {
            root: root.to_owned(),
            dir: root.join(tag),
            max_bytes,
        }
    }

    /// The default root: `$WASM_ENGINE_CACHE_DIR`, else the platform's
    /// per-user cache directory; `None` when neither is available or the
    /// variable says `off`.
    pub(crate) fn default_root() -> Option<PathBuf> {
        if let Some(value) = std::env::var_os(DIRECTORY_VARIABLE) {
            return (!value.is_empty() && value != "off").then(|| PathBuf::from(value));
        }
        let base = if cfg!(windows) {
            std::env::var_os("LOCALAPPDATA").map(PathBuf::from)
        } else if cfg!(target_os = "macos") {
            std::env::var_os("HOME").map(|home| Path::new(&home).join("Library/Caches"))
        } else {
            std::env::var_os("XDG_CACHE_HOME")
                .filter(|dir| !dir.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))
        };
        base.map(|dir| dir.join("wasm-engine"))
    }

    fn path(&self, key: &[u8; 32]) -> PathBuf {
        let name: String = key.iter().map(|byte| format!("{byte:02x}")).collect();
        self.dir.join(format!("{name}.{EXTENSION}"))
    }

    /// The cached compilation of the binary whose hash is `key`, if there is
    /// a trustworthy one. A file that fails its digest is deleted.
    pub(crate) fn load(
        &self,
        engine: &wasmtime::Engine,
        key: &[u8; 32],
    ) -> Option<wasmtime::Module> {
        let path = self.path(key);
        if !private(&path) || !private(&self.dir) {
            return None;
        }
        let file = fs::read(&path).ok()?;
        let Some(artifact) = verified(&file) else {
            let _ = fs::remove_file(&path);
            return None;
        };
        // SAFETY: wasmtime requires the bytes to be the output of
        // `Module::serialize`. They were written by `store` below, through a
        // private file renamed into a directory only this user may write
        // (both checked above), and they match the digest `store` wrote
        // beside them, so they are that output byte for byte. wasmtime
        // itself checks the artifact's format and that this engine's
        // settings can run it, and returns an error for a mismatch.
        let module = unsafe { wasmtime::Module::deserialize(engine, artifact) }.ok()?;
        // The modification time orders eviction: a hit keeps a file young.
        if let Ok(file) = fs::File::options().append(true).open(&path) {
            let _ = file.set_modified(SystemTime::now());
        }
        Some(module)
    }

    /// Writes `module`, compiled from the binary whose hash is `key`, then
    /// evicts the least recently used files past the byte limit. The cache
    /// is best effort: a failure to write only costs a later compile.
    pub(crate) fn store(&self, key: &[u8; 32], module: &wasmtime::Module) {
        let Ok(artifact) = module.serialize() else {
            return;
        };
        if create_private_dir(&self.dir).is_err() {
            return;
        }
        let path = self.path(key);
        // Written whole under a name no reader looks for, then renamed: a
        // process killed midway leaves only a temporary file, which the
        // next eviction removes.
        let temporary = path.with_extension(format!("{}.tmp", std::process::id()));
        let written = create_private_file(&temporary).and_then(|mut file| {
            file.write_all(MAGIC)?;
            file.write_all(blake3::hash(&artifact).as_bytes())?;
            file.write_all(&artifact)?;
            file.sync_all()
        });
        if written.is_err() || fs::rename(&temporary, &path).is_err() {
            let _ = fs::remove_file(&temporary);
        }
        self.evict();
    }

    /// Deletes files, least recently used first, until every cache file
    /// under the root fits in the byte limit; deletes leftover temporary
    /// files of writes that never finished.
    fn evict(&self) {
        let mut files = Vec::new();
        // Only what this cache writes: the root may be a directory other
        // programs use too.
        let dirs = fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|dir| hex_named(&dir.file_name().to_string_lossy(), TAG_DIGITS));
        for entry in dirs.flat_map(|dir| fs::read_dir(dir.path()).into_iter().flatten().flatten()) {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some((stem, rest)) = name.split_once('.') else {
                continue;
            };
            if !hex_named(stem, 64) {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if rest == EXTENSION {
                files.push((used, meta.len(), path));
            } else if rest.ends_with(".tmp")
                // Another process may still be writing a young one.
                && used.elapsed().is_ok_and(|age| age.as_secs() > 3600)
            {
                let _ = fs::remove_file(&path);
            }
        }
        let mut total: u64 = files.iter().map(|(_, len, _)| len).sum();
        files.sort();
        for (_, len, path) in files {
            if total <= self.max_bytes {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }
}

/// Hex digits in a configuration directory's name.
const TAG_DIGITS: usize = 16;

/// Whether `name` is exactly `digits` lowercase hex digits.
fn hex_named(name: &str, digits: usize) -> bool {
    name.len() == digits && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The artifact in a cache file's bytes, if the file is whole and matches
/// its digest.
fn verified(file: &[u8]) -> Option<&[u8]> {
    let (header, artifact) = file.split_at_checked(HEADER)?;
    let (magic, digest) = header.split_at(MAGIC.len());
    (magic == MAGIC && blake3::hash(artifact).as_bytes() == digest).then_some(artifact)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(unix)]
fn create_private_file(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private_file(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

/// Whether `path` exists and only its owner may write it.
#[cfg(unix)]
fn private(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & 0o022 == 0)
}

#[cfg(not(unix))]
fn private(path: &Path) -> bool {
    path.exists()
}

#[cfg(test)]
#[path = "disk_cache_tests.rs"]
mod tests;
