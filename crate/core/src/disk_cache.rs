//! The on-disk compile cache: compiled modules serialized by wasmtime, keyed
//! by the SHA-256 of the WebAssembly binary and by the compiling engine's
//! settings, so a second process skips Cranelift entirely.
//!
//! Trust: loading a cached artifact runs native code that was written to
//! disk, so the directory must be writable only by the user running the
//! engine (wasmtime's own cache has the same requirement). Files or
//! directories that others may write are ignored.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

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

/// Compiled modules of one engine configuration in one directory.
pub(crate) struct DiskCache {
    /// `<root>/<engine configuration tag>`.
    dir: PathBuf,
}

impl DiskCache {
    /// The cache of `engine`'s artifacts under `root`.
    pub(crate) fn new(root: &Path, engine: &wasmtime::Engine) -> DiskCache {
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let digest = hasher.0.finalize();
        let tag: String = digest[..8]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        DiskCache {
            dir: root.join(tag),
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
        self.dir.join(format!("{name}.cwasm"))
    }

    /// The cached compilation of the binary whose hash is `key`, if there is
    /// a trustworthy one.
    pub(crate) fn load(
        &self,
        engine: &wasmtime::Engine,
        key: &[u8; 32],
    ) -> Option<wasmtime::Module> {
        let path = self.path(key);
        if !private(&path) || !private(&self.dir) {
            return None;
        }
        // SAFETY: wasmtime requires the file to hold the output of
        // `Module::serialize`. Files in this directory are written only by
        // `store` below (complete files appear through an atomic rename) and
        // are named by the hash of their source; the directory and file are
        // checked above to be writable by their owner alone. wasmtime itself
        // verifies the artifact's format and engine compatibility and returns
        // an error, not undefined behaviour, for a mismatch.
        unsafe { wasmtime::Module::deserialize_file(engine, &path) }.ok()
    }

    /// Writes `module`, compiled from the binary whose hash is `key`. The
    /// cache is best effort: a failure to write only costs a later compile.
    pub(crate) fn store(&self, key: &[u8; 32], module: &wasmtime::Module) {
        let Ok(bytes) = module.serialize() else {
            return;
        };
        if create_private_dir(&self.dir).is_err() {
            return;
        }
        let path = self.path(key);
        let temporary = path.with_extension(format!("{}.tmp", std::process::id()));
        let written = create_private_file(&temporary).and_then(|mut file| {
            file.write_all(&bytes)?;
            file.sync_all()
        });
        if written.is_err() || fs::rename(&temporary, &path).is_err() {
            let _ = fs::remove_file(&temporary);
        }
    }
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
