//! WASI preview 1 (`wasi_snapshot_preview1`) for guests, on wasmtime's own
//! implementation, deny-by-default: a program sees the arguments,
//! environment, standard input and directories it is given, and nothing
//! else of the host. No network (WASI preview 1 cannot open sockets; the
//! context refuses every address as well).
//!
//! Standard output and error are captured in memory, each up to a byte
//! limit: past it, a write fails the way a closed pipe does (`EPIPE`) and
//! what fit is kept. An [`OutputSink`] also sees each write as it happens,
//! within the same limit.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use rand::SeedableRng;
use rand::rngs::StdRng;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};
use wasmtime_wasi::{FsPerms, HostMonotonicClock, HostWallClock, WasiCtxBuilder};

use crate::error::{ErrorKind, WasmError};

/// The import namespace of WASI preview 1.
pub const WASI_NAMESPACE: &str = "wasi_snapshot_preview1";

/// Bytes kept of each output stream unless configured otherwise.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 16 << 20;

/// What a WASI program may see. Every field defaults to nothing.
#[derive(Debug, Clone, Default)]
pub struct WasiOptions {
    /// `argv`, the program name first.
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Everything standard input will read; then end of file.
    pub stdin: Vec<u8>,
    pub preopens: Vec<Preopen>,
    /// Bytes kept of standard output and of standard error, each
    /// ([`DEFAULT_MAX_OUTPUT_BYTES`] when `None`).
    pub max_output_bytes: Option<usize>,
    /// Fixed clocks and seeded randomness instead of the host's.
    pub deterministic: Option<Determinism>,
    /// Sees the output as the program writes it.
    pub sink: Option<Sink>,
}

/// Which output stream a write went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Sees a program's output as it is written, on the thread running the
/// program, after the bytes are kept. Called once per write, with the part
/// that fit under the output limit (never an empty chunk).
pub trait OutputSink: Send + Sync {
    /// Takes `bytes` written to `stream`. `false` stops the program: the
    /// write traps, and the run ends with that trap.
    fn write(&self, stream: Stream, bytes: &[u8]) -> bool;
}

/// An [`OutputSink`] in [`WasiOptions`].
#[derive(Clone)]
pub struct Sink(pub Arc<dyn OutputSink>);

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sink")
    }
}

/// A host directory the program sees at `guest`.
#[derive(Debug, Clone)]
pub struct Preopen {
    pub guest: String,
    pub host: PathBuf,
    pub read_only: bool,
}

/// Replaces the host's clocks and randomness, so that a run can be
/// replayed: together with fuel, the same inputs give the same run.
#[derive(Debug, Clone, Copy)]
pub struct Determinism {
    /// Wall-clock time at the first reading, in milliseconds since the Unix
    /// epoch; each reading of either clock advances it by [`CLOCK_STEP`].
    pub start_ms: u64,
    /// Seed of every random source the program can read.
    pub seed: u64,
}

/// How far a deterministic clock moves at each reading, so that a program
/// that waits for time to pass still sees it pass.
pub const CLOCK_STEP: Duration = Duration::from_millis(1);

/// Standard output and error of one program, as far as they were kept.
#[derive(Clone, Default)]
pub struct Output {
    pub stdout: Capture,
    pub stderr: Capture,
}

/// One captured stream: the bytes written, up to its limit.
#[derive(Clone, Default)]
pub struct Capture {
    bytes: Arc<Mutex<Vec<u8>>>,
    limit: usize,
    /// Where each write goes as well, and as which stream.
    sink: Option<(Sink, Stream)>,
}

impl Capture {
    fn new(limit: usize, stream: Stream, sink: Option<&Sink>) -> Capture {
        Capture {
            bytes: Arc::default(),
            limit,
            sink: sink.map(|sink| (sink.clone(), stream)),
        }
    }

    /// A copy of what was written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.bytes.lock().clone()
    }

    /// What was written so far, leaving the capture empty.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.bytes.lock())
    }

    fn room(&self) -> usize {
        self.limit.saturating_sub(self.bytes.lock().len())
    }
}

/// The error a write past the cap fails with: the platform's broken-pipe
/// code, which wasmtime-wasi reports to the program as `EPIPE`.
fn broken_pipe() -> StreamError {
    #[cfg(windows)]
    const BROKEN_PIPE: i32 = 109; // ERROR_BROKEN_PIPE
    #[cfg(not(windows))]
    const BROKEN_PIPE: i32 = 32; // EPIPE on Linux and macOS
    StreamError::LastOperationFailed(wasmtime::Error::new(std::io::Error::from_raw_os_error(
        BROKEN_PIPE,
    )))
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        // WASI preview 1 writes through `p2_stream`; this is the adapter for
        // preview 2 hosts, which this package does not run.
        Box::new(tokio::io::sink())
    }
}

impl OutputStream for Capture {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let fits = {
            let mut kept = self.bytes.lock();
            let room = self.limit.saturating_sub(kept.len());
            let fits = &bytes[..bytes.len().min(room)];
            kept.extend_from_slice(fits);
            fits
        };
        // Outside the lock: the sink may run JavaScript, which may read
        // the output so far.
        if let Some((sink, stream)) = &self.sink
            && !fits.is_empty()
            && !sink.0.write(*stream, fits)
        {
            return Err(StreamError::Trap(wasmtime::Error::msg(format!(
                "the program's {} was refused by its output callback",
                match stream {
                    Stream::Stdout => "standard output",
                    Stream::Stderr => "standard error",
                }
            ))));
        }
        if fits.len() < bytes.len() {
            return Err(broken_pipe());
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        match self.room() {
            0 => Err(broken_pipe()),
            room => Ok(room),
        }
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

/// A clock that starts at a fixed time and moves [`CLOCK_STEP`] at each
/// reading.
struct SteppingClock {
    start: Duration,
    readings: AtomicU64,
}

impl SteppingClock {
    fn new(start: Duration) -> SteppingClock {
        SteppingClock {
            start,
            readings: AtomicU64::new(0),
        }
    }

    fn read(&self) -> Duration {
        let n = self.readings.fetch_add(1, Ordering::Relaxed);
        let step = u32::try_from(n).map_or(Duration::MAX, |n| CLOCK_STEP.saturating_mul(n));
        self.start.saturating_add(step)
    }
}

impl HostWallClock for SteppingClock {
    fn resolution(&self) -> Duration {
        CLOCK_STEP
    }

    fn now(&self) -> Duration {
        self.read()
    }
}

impl HostMonotonicClock for SteppingClock {
    fn resolution(&self) -> u64 {
        CLOCK_STEP.as_nanos() as u64
    }

    fn now(&self) -> u64 {
        u64::try_from(self.read().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// The WASI context of one instance for `options`, and where its output
/// goes. Fails, naming the directory, when a preopened directory cannot be
/// opened.
pub(crate) fn context(options: &WasiOptions) -> Result<(WasiP1Ctx, Output), WasmError> {
    let limit = options.max_output_bytes.unwrap_or(DEFAULT_MAX_OUTPUT_BYTES);
    let output = Output {
        stdout: Capture::new(limit, Stream::Stdout, options.sink.as_ref()),
        stderr: Capture::new(limit, Stream::Stderr, options.sink.as_ref()),
    };
    let mut builder = WasiCtxBuilder::new();
    builder
        .args(&options.args)
        .envs(&options.env)
        .stdin(MemoryInputPipe::new(options.stdin.clone()))
        .stdout(output.stdout.clone())
        .stderr(output.stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_, _| Box::pin(async { false }));
    for preopen in &options.preopens {
        let perms = if preopen.read_only {
            FsPerms::ReadOnly
        } else {
            FsPerms::ReadWrite
        };
        builder
            .preopened_dir(&preopen.host, &preopen.guest, perms)
            .map_err(|err| {
                WasmError::new(
                    ErrorKind::Argument,
                    format!(
                        "cannot open {} for the guest's {}: {err}",
                        preopen.host.display(),
                        preopen.guest
                    ),
                )
            })?;
    }
    if let Some(determinism) = options.deterministic {
        let start = Duration::from_millis(determinism.start_ms);
        builder
            .wall_clock(SteppingClock::new(start))
            .monotonic_clock(SteppingClock::new(Duration::ZERO))
            .secure_random(StdRng::seed_from_u64(determinism.seed))
            .insecure_random(StdRng::seed_from_u64(!determinism.seed))
            .insecure_random_seed(u128::from(determinism.seed));
    }
    Ok((builder.build_p1(), output))
}

#[cfg(test)]
#[path = "wasi_tests.rs"]
mod tests;
