//! Freenet's host imports, in Rust: what a contract or delegate calls
//! while one operation runs.
//!
//! Each operation creates its natives with an [`Operation`] record shared by
//! every function of its instance: the streamed inputs still to hand out,
//! the log lines, the clock, and for delegates the context and secrets.
//! Every function re-reads the instance's memory from the live store
//! (`memory.grow` may have moved it) and checks every pointer and length;
//! a bad one traps the guest with a message that names the import.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use wasmtime::{Caller, Extern, Func, FuncType, Store};

use super::abi::Buffer;
use super::delegate::DelegateEnv;
use crate::error::{ErrorKind, HostFailure, WasmError};
use crate::host::Natives;
use crate::memory;
use crate::store::HostState;

/// Bytes of chrono's in-memory `DateTime<Utc>`, which `utc_now` writes.
const DATE_TIME_BYTES: usize = 12;

/// What the host imports of one operation share.
pub(crate) struct Operation {
    /// The rest of each streamed input, by buffer address, and how much of
    /// it was handed out.
    streams: HashMap<i64, (Vec<u8>, usize)>,
    /// Lines the guest logged, kept when someone listens.
    logs: Option<Vec<(i64, String)>>,
    /// The time `utc_now` reports: fixed by the caller, or the system's.
    clock: Option<chrono::DateTime<chrono::Utc>>,
    /// The delegate being processed, if this is a delegate operation.
    pub(crate) delegate: Option<DelegateEnv>,
}

impl Operation {
    pub(crate) fn new(keep_logs: bool, clock_ms: Option<i64>) -> Operation {
        Operation {
            streams: HashMap::new(),
            logs: keep_logs.then(Vec::new),
            clock: clock_ms.and_then(chrono::DateTime::from_timestamp_millis),
            delegate: None,
        }
    }

    /// Keeps `rest`, the part of a streamed input that did not fit the
    /// buffer at `buffer`, for `fill_buffer`.
    pub(crate) fn stream(&mut self, buffer: i64, rest: Vec<u8>) {
        self.streams.insert(buffer, (rest, 0));
    }

    /// The log lines kept so far.
    pub(crate) fn take_logs(&mut self) -> Vec<(i64, String)> {
        self.logs.as_mut().map(std::mem::take).unwrap_or_default()
    }
}

/// The natives of one operation.
pub(crate) struct FreenetNatives {
    pub(crate) op: Arc<Mutex<Operation>>,
}

/// A trap naming `import`, for a guest that passed it something wrong.
fn refuse(import: &str, why: impl std::fmt::Display) -> wasmtime::Error {
    wasmtime::Error::new(HostFailure::new(format!("{import}: {why}")))
}

/// The calling instance's memory, read live.
fn memory<'c>(
    caller: &'c mut Caller<'_, HostState>,
    import: &str,
) -> wasmtime::Result<&'c mut [u8]> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory.data_mut(caller)),
        _ => Err(refuse(import, "the instance exports no memory")),
    }
}

/// `len` as a byte count, refusing negative ones.
fn length(len: i32, import: &str) -> wasmtime::Result<i64> {
    if len < 0 {
        return Err(refuse(import, format!("negative length {len}")));
    }
    Ok(i64::from(len))
}

const FILL_BUFFER: &str = "freenet_contract_io.__frnt__fill_buffer";
const LOG: &str = "freenet_log.__frnt__logger__info";
const RAND: &str = "freenet_rand.__frnt__rand__rand_bytes";
const UTC_NOW: &str = "freenet_time.__frnt__time__utc_now";

impl FreenetNatives {
    /// `fill_buffer(id, buffer) -> i32`: refills a streamed input's buffer
    /// with its next chunk; returns the chunk's size, 0 at the end.
    fn fill_buffer(&self, store: &mut Store<HostState>) -> Func {
        let op = self.op.clone();
        Func::wrap(
            store,
            move |mut caller: Caller<'_, HostState>, id: i64, at: i64| -> wasmtime::Result<i32> {
                let instance = caller.data().instance_id();
                let mut op = op.lock();
                let Some((data, sent)) = op.streams.get_mut(&at).filter(|_| id == instance) else {
                    return Ok(0);
                };
                if *sent >= data.len() {
                    return Ok(0);
                }
                let memory = memory(&mut caller, FILL_BUFFER)?;
                let buffer = Buffer::read(memory, at, instance, FILL_BUFFER)
                    .map_err(|err| refuse(FILL_BUFFER, err.message()))?;
                let chunk = &data[*sent..];
                let chunk = &chunk[..chunk.len().min(buffer.capacity as usize)];
                buffer
                    .fill(memory, chunk, instance)
                    .map_err(|err| refuse(FILL_BUFFER, err.message()))?;
                *sent += chunk.len();
                Ok(chunk.len() as i32)
            },
        )
    }

    /// `logger_info(id, ptr, len)`: one log line, as UTF-8 (invalid bytes
    /// replaced).
    fn log(&self, store: &mut Store<HostState>) -> Func {
        let op = self.op.clone();
        Func::wrap(
            store,
            move |mut caller: Caller<'_, HostState>, _id: i64, ptr: i64, len: i32| {
                let len = length(len, LOG)?;
                let instance = caller.data().instance_id();
                let memory = memory(&mut caller, LOG)?;
                let bytes = memory::read(memory, ptr, len, instance)
                    .map_err(|err| refuse(LOG, err.message()))?;
                if let Some(logs) = op.lock().logs.as_mut() {
                    logs.push((instance, String::from_utf8_lossy(bytes).into_owned()));
                }
                Ok(())
            },
        )
    }

    /// `rand_bytes(id, ptr, len)`: `len` bytes from the system's
    /// cryptographic generator.
    fn rand(&self, store: &mut Store<HostState>) -> Func {
        Func::wrap(
            store,
            move |mut caller: Caller<'_, HostState>, _id: i64, ptr: i64, len: i32| {
                let len = length(len, RAND)?;
                let instance = caller.data().instance_id();
                let memory = memory(&mut caller, RAND)?;
                let range = memory::read(memory, ptr, len, instance)
                    .map_err(|err| refuse(RAND, err.message()))?
                    .len();
                let mut bytes = vec![0; range];
                getrandom::getrandom(&mut bytes)
                    .map_err(|err| refuse(RAND, format!("no randomness: {err}")))?;
                memory::write(memory, ptr, &bytes, instance)
                    .map_err(|err| refuse(RAND, err.message()))
            },
        )
    }

    /// `utc_now(id, ptr)`: the time, as chrono's 12-byte in-memory
    /// `DateTime<Utc>`, which freenet-stdlib reads back as such.
    fn utc_now(&self, store: &mut Store<HostState>) -> Func {
        let op = self.op.clone();
        Func::wrap(
            store,
            move |mut caller: Caller<'_, HostState>, _id: i64, ptr: i64| {
                let now = op.lock().clock.unwrap_or_else(chrono::Utc::now);
                let bytes = date_time_bytes(now);
                let instance = caller.data().instance_id();
                let memory = memory(&mut caller, UTC_NOW)?;
                memory::write(memory, ptr, &bytes, instance)
                    .map_err(|err| refuse(UTC_NOW, err.message()))
            },
        )
    }
}

/// chrono's in-memory representation of `time`, as freenet-core writes it.
pub(crate) fn date_time_bytes(time: chrono::DateTime<chrono::Utc>) -> [u8; DATE_TIME_BYTES] {
    // SAFETY: `DateTime<Utc>` is a date (one i32) and a time (two u32) plus
    // a zero-sized offset: 12 bytes of plain integers without padding
    // (`transmute` refuses to compile if the size differs), so every byte
    // is initialised and any byte pattern of the array is a valid value.
    // This is the representation freenet-core copies into the guest.
    unsafe { std::mem::transmute::<chrono::DateTime<chrono::Utc>, [u8; DATE_TIME_BYTES]>(time) }
}

impl Natives for FreenetNatives {
    fn resolve(
        &self,
        store: &mut Store<HostState>,
        module: &str,
        name: &str,
        ty: &FuncType,
    ) -> Option<Result<Func, WasmError>> {
        let func = match (module, name) {
            ("freenet_contract_io", "__frnt__fill_buffer") => self.fill_buffer(store),
            ("freenet_log", "__frnt__logger__info") => self.log(store),
            ("freenet_rand", "__frnt__rand__rand_bytes") => self.rand(store),
            ("freenet_time", "__frnt__time__utc_now") => self.utc_now(store),
            _ => return None,
        };
        let offered = func.ty(&*store);
        if offered.to_string() != ty.to_string() {
            return Some(Err(WasmError::new(
                ErrorKind::Instantiation,
                format!(
                    "{module}.{name} is imported as {ty}, but Freenet's host ABI defines it as {offered}"
                ),
            )));
        }
        Some(Ok(func))
    }
}
