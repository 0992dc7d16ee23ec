//! The on-disk compile cache: compiled modules serialized by wasmtime, keyed
//! by the SHA-256 of the WebAssembly binary and by the compiling engine's
//! settings, so a second process skips Cranelift entirely.
//!
//! Trust: loading a cached artifact runs native code that was written to
//! disk, so on Unix the configuration directory and the file must both be
//! owned by the effective user, writable by nobody else, and no symbolic
//! link. The directory is opened and checked once, and the file opened
//! through that handle and checked on its descriptor, so swapping a path
//! between the check and the read cannot redirect it. Each file starts with
//! the BLAKE3 digest of the artifact after it, checked before wasmtime sees
//! a byte: a truncated, torn or flipped file is deleted and recompiled,
//! never loaded.
//!
//! Writes are atomic: an entry is written whole under a temporary name of
//! its own (process id and a counter, so concurrent writers never share
//! one), synced, then renamed into place.
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
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
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

/// What [`DiskCache::load`] found.
pub(crate) enum Lookup {
    /// A whole, trusted artifact that wasmtime accepted.
    Hit(wasmtime::Module),
    /// No entry for the key.
    Miss,
    /// An entry that was not loaded: untrusted, damaged, or refused by
    /// wasmtime (another version or configuration). Damaged and refused
    /// entries are deleted; untrusted ones are left to their owner.
    Rejected,
}

impl DiskCache {
    /// The cache of `engine`'s artifacts under `root`, whose files take at
    /// most `max_bytes` together.
    pub(crate) fn new(root: &Path, engine: &wasmtime::Engine, max_bytes: u64) -> DiskCache {
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let digest = hasher.0.finalize();
        DiskCache {
            root: root.to_owned(),
            dir: root.join(hex(&digest[..TAG_DIGITS / 2])),
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

    /// The file name of the entry for `key`.
    fn name(key: &[u8; 32]) -> String {
        format!("{}.{EXTENSION}", hex(key))
    }

    /// The cached compilation of the binary whose hash is `key`, if there
    /// is a trustworthy one. Costs a file read, a BLAKE3 pass over it and
    /// wasmtime's deserialization on a hit.
    pub(crate) fn load(&self, engine: &wasmtime::Engine, key: &[u8; 32]) -> Lookup {
        let name = Self::name(key);
        let dir = match TrustedDir::open(&self.dir) {
            Ok(dir) => dir,
            // A link in the directory's place fails as "not a directory" too.
            Err(err) if absent(&err) && fs::symlink_metadata(&self.dir).is_err() => {
                return Lookup::Miss;
            }
            Err(_) => return Lookup::Rejected,
        };
        let mut file = match dir.open_file(&name) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Lookup::Miss,
            Err(_) => return Lookup::Rejected,
        };
        let mut bytes = Vec::new();
        if file.read_to_end(&mut bytes).is_err() {
            return Lookup::Rejected;
        }
        let Some(artifact) = verified(&bytes) else {
            let _ = dir.remove(&name);
            return Lookup::Rejected;
        };
        // SAFETY: wasmtime requires the bytes to be the output of
        // `Module::serialize`. `store` writes that output after its BLAKE3
        // digest, and these bytes match the digest; they were read through
        // a descriptor checked to be a regular file that only this user may
        // write, opened without following links inside a directory that
        // only this user may write, also checked on its descriptor (on
        // Unix; elsewhere the cache trusts the per-user directory it is
        // given). So only this user's `store` (or this user) wrote them.
        // wasmtime itself checks the artifact's format and that this
        // engine's settings can run it, and returns an error for a mismatch.
        let Ok(module) = (unsafe { wasmtime::Module::deserialize(engine, artifact) }) else {
            let _ = dir.remove(&name);
            return Lookup::Rejected;
        };
        // The modification time orders eviction: a hit keeps a file young.
        let _ = file.set_modified(SystemTime::now());
        Lookup::Hit(module)
    }

    /// Writes `module`, compiled from the binary whose hash is `key`, then
    /// evicts the least recently used files past the byte limit. The cache
    /// is best effort: an error here only costs a later compile, and the
    /// caller counts it.
    pub(crate) fn store(&self, key: &[u8; 32], module: &wasmtime::Module) -> io::Result<()> {
        let artifact = module.serialize().map_err(io::Error::other)?;
        create_private_dir(&self.dir)?;
        let dir = TrustedDir::open(&self.dir)?;
        let name = Self::name(key);
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let temporary = format!(
            "{}.{}-{}.tmp",
            hex(key),
            std::process::id(),
            WRITES.fetch_add(1, Ordering::Relaxed)
        );
        let written = dir.create_file(&temporary).and_then(|mut file| {
            file.write_all(MAGIC)?;
            file.write_all(blake3::hash(&artifact).as_bytes())?;
            file.write_all(&artifact)?;
            file.sync_all()
        });
        let renamed = written.and_then(|()| dir.rename(&temporary, &name));
        if renamed.is_err() {
            let _ = dir.remove(&temporary);
        }
        self.evict(&self.dir.join(&name));
        renamed
    }

    /// Deletes files, least recently used first, until every cache file
    /// under the root fits in the byte limit; `newest` (the file just
    /// written) counts as the youngest whatever its time stamp says, so
    /// a coarse clock cannot make it go before older files. Deletes
    /// leftover temporary files of writes that never finished.
    fn evict(&self, newest: &Path) {
        let mut files = Vec::new();
        // Only what this cache writes, in real directories (no links) this
        // user owns: the root may be a directory other programs use too.
        let dirs = fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|dir| hex_named(&dir.file_name().to_string_lossy(), TAG_DIGITS))
            .filter(|dir| {
                dir.metadata()
                    .is_ok_and(|meta| meta.is_dir() && owned(&meta))
            });
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
            if !meta.is_file() {
                continue;
            }
            let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if rest == EXTENSION {
                files.push((path == newest, used, meta.len(), path));
            } else if rest.ends_with(".tmp")
                // Another process may still be writing a young one.
                && used.elapsed().is_ok_and(|age| age.as_secs() > 3600)
            {
                let _ = fs::remove_file(&path);
            }
        }
        let mut total: u64 = files.iter().map(|(_, _, len, _)| len).sum();
        files.sort();
        for (_, _, len, path) in files {
            if total <= self.max_bytes {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }
}

/// Whether `err` says there is nothing at a path (rather than something
/// untrusted): no such entry, or a file where a directory would be.
fn absent(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// Hex digits in a configuration directory's name.
const TAG_DIGITS: usize = 16;

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

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

/// A configuration directory opened once and checked on its descriptor;
/// files are opened, created, renamed and removed relative to it, so
/// replacing the path afterwards cannot redirect them.
#[cfg(unix)]
struct TrustedDir(std::os::fd::OwnedFd);

#[cfg(unix)]
impl TrustedDir {
    /// Opens `path`, refusing a symbolic link and a directory that another
    /// user owns or may write.
    fn open(path: &Path) -> io::Result<TrustedDir> {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::open(path, flags, Mode::empty())?;
        let dir = fs::File::from(fd);
        trusted(&dir)?;
        Ok(TrustedDir(dir.into()))
    }

    /// Opens `name` for reading (and for renewing its time stamp),
    /// refusing a link, anything but a regular file, and a file another
    /// user owns or may write.
    fn open_file(&self, name: &str) -> io::Result<fs::File> {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        let file = fs::File::from(rustix::fs::openat(&self.0, name, flags, Mode::empty())?);
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a regular file",
            ));
        }
        trusted(&file)?;
        Ok(file)
    }

    /// Creates `name`, readable and writable by this user only; fails if
    /// it exists (a link included).
    fn create_file(&self, name: &str) -> io::Result<fs::File> {
        use rustix::fs::{Mode, OFlags};
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.0, name, flags, Mode::RUSR | Mode::WUSR)?;
        Ok(fs::File::from(fd))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        Ok(rustix::fs::renameat(&self.0, from, &self.0, to)?)
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        Ok(rustix::fs::unlinkat(
            &self.0,
            name,
            rustix::fs::AtFlags::empty(),
        )?)
    }
}

/// Fails unless `file` (a descriptor, so no path is looked up again) is
/// owned by the effective user and writable by nobody else.
#[cfg(unix)]
fn trusted(file: &fs::File) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata()?;
    if owned(&meta) && meta.mode() & 0o022 == 0 {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "owned by another user or writable by others",
        ))
    }
}

/// Whether the effective user owns what `meta` describes.
#[cfg(unix)]
fn owned(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    meta.uid() == rustix::process::geteuid().as_raw()
}

#[cfg(not(unix))]
fn owned(_meta: &fs::Metadata) -> bool {
    true
}

/// Elsewhere than Unix the directory is the per-user one the caller
/// names, and access control is the platform's; files go by path.
#[cfg(not(unix))]
struct TrustedDir(PathBuf);

#[cfg(not(unix))]
impl TrustedDir {
    fn open(path: &Path) -> io::Result<TrustedDir> {
        if fs::symlink_metadata(path)?.is_dir() {
            Ok(TrustedDir(path.to_owned()))
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a directory",
            ))
        }
    }

    fn open_file(&self, name: &str) -> io::Result<fs::File> {
        let path = self.0.join(name);
        if !fs::symlink_metadata(&path)?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a regular file",
            ));
        }
        fs::OpenOptions::new().read(true).write(true).open(path)
    }

    fn create_file(&self, name: &str) -> io::Result<fs::File> {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.0.join(name))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        fs::rename(self.0.join(from), self.0.join(to))
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        fs::remove_file(self.0.join(name))
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(test)]
#[path = "disk_cache_tests.rs"]
mod tests;
