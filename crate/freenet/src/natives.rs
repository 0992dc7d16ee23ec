//! Freenet's host imports, in Rust: what a contract or delegate calls
//! while one operation runs.
//!
//! A runtime defines its natives once (modules are prepared with them and
//! cached); they share one [`Operation`] record, which the runtime renews at
//! the start of each operation under the engine's lock: the streamed inputs
//! still to hand out, the log lines, the clock, and for delegates the
//! context and secrets.
//! Every function re-reads the instance's memory from the live store
//! (`memory.grow` may have moved it) and checks every pointer and length;
//! a bad one traps the guest with a message that names the import.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use wasmtime::{Caller, Extern, IntoFunc, Linker};

use super::abi::Buffer;
use super::delegate::DelegateEnv;
use super::hooks::{self, Answer, Request};
use super::profile::Abi;
use super::wire::{DelegateKey, Key};
use wasm_engine_core::HostState;
use wasm_engine_core::Natives;
use wasm_engine_core::error::HostFailure;
use wasm_engine_core::memory;

/// Bytes of chrono's in-memory `DateTime<Utc>`, which `utc_now` writes.
const DATE_TIME_BYTES: usize = 12;

/// The most log text one operation keeps (1 MiB); past it lines are
/// counted, not kept, so a guest cannot grow the host's memory by logging.
pub(crate) const MAX_LOG_BYTES: usize = 1 << 20;

/// What the host imports of one operation share.
pub(crate) struct Operation {
    /// The rest of each streamed input, by buffer address, and how much of
    /// it was handed out.
    streams: HashMap<i64, (Vec<u8>, usize)>,
    /// Lines the guest logged, kept when someone listens.
    logs: Option<Vec<(i64, String)>>,
    /// Bytes of the lines kept, and lines dropped past [`MAX_LOG_BYTES`].
    logged: usize,
    dropped: usize,
    /// The time `utc_now` reports: fixed by the caller, or the system's.
    clock: Option<chrono::DateTime<chrono::Utc>>,
    /// `utc_now` traps instead (a contract under the `refuse` clock policy).
    pub(crate) refuse_clock: bool,
    /// The delegate being processed, if this is a delegate operation.
    pub(crate) delegate: Option<DelegateEnv>,
}

impl Operation {
    pub(crate) fn new(keep_logs: bool, clock_ms: Option<i64>) -> Operation {
        Operation {
            streams: HashMap::new(),
            logs: keep_logs.then(Vec::new),
            logged: 0,
            dropped: 0,
            clock: clock_ms.and_then(chrono::DateTime::from_timestamp_millis),
            refuse_clock: false,
            delegate: None,
        }
    }

    /// Keeps `rest`, the part of a streamed input that did not fit the
    /// buffer at `buffer`, for `fill_buffer`.
    pub(crate) fn stream(&mut self, buffer: i64, rest: Vec<u8>) {
        self.streams.insert(buffer, (rest, 0));
    }

    /// Keeps one log line of `instance`, within [`MAX_LOG_BYTES`].
    pub(crate) fn log(&mut self, instance: i64, line: String) {
        let Some(logs) = self.logs.as_mut() else {
            return;
        };
        if self.logged + line.len() > MAX_LOG_BYTES {
            self.dropped += 1;
            return;
        }
        self.logged += line.len();
        logs.push((instance, line));
    }

    /// Ends the operation: forgets what its inputs left (whoever still
    /// holds this record, such as a caller's clone, keeps nothing big) and returns
    /// the log lines, with a last one counting those dropped.
    pub(crate) fn finish(&mut self) -> Vec<(i64, String)> {
        self.streams = HashMap::new();
        self.delegate = None;
        let mut logs = self.logs.as_mut().map(std::mem::take).unwrap_or_default();
        if self.dropped > 0 {
            let instance = logs.last().map_or(-1, |(id, _)| *id);
            logs.push((
                instance,
                format!(
                    "({} more lines dropped: an operation keeps at most {MAX_LOG_BYTES} bytes of log)",
                    self.dropped
                ),
            ));
        }
        logs
    }
}

/// The natives of one runtime. Modules are prepared with them once; the
/// record they share, `op`, is renewed at the start of each operation.
pub(crate) struct FreenetNatives {
    pub(crate) op: Arc<Mutex<Operation>>,
    /// Process-unique: prepared modules are cached under it.
    pub(crate) id: u64,
    /// Which imports exist: `list_secrets` from 0.2.154 on, the
    /// contract-writing imports up to 0.2.48.
    pub(crate) abi: Abi,
}

/// The `freenet_delegate_contracts` imports freenet-core removed after
/// 0.2.48: a delegate that imports one does not instantiate on today's node.
pub const REMOVED_CONTRACT_IMPORTS: [&str; 3] = [
    "__frnt__delegate__put_contract_state",
    "__frnt__delegate__update_contract_state",
    "__frnt__delegate__subscribe_contract",
];

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
    fn fill_buffer(&self, def: Definition<'_>) -> wasmtime::Result<()> {
        let op = self.op.clone();
        def.wrap(
            // The guest's id argument is not trusted: the refill goes to the
            // calling instance's own inputs.
            move |mut caller: Caller<'_, HostState>, _id: i64, at: i64| -> wasmtime::Result<i32> {
                let instance = caller.data().instance_id();
                let mut op = op.lock();
                let Some((data, sent)) = op.streams.get_mut(&at) else {
                    return Ok(0);
                };
                if *sent >= data.len() {
                    return Ok(0);
                }
                let memory = memory(&mut caller, FILL_BUFFER)?;
                let buffer = Buffer::read(memory, at, instance, FILL_BUFFER)
                    .map_err(|err| refuse(FILL_BUFFER, err.message()))?;
                let chunk = &data[*sent..];
                let room = (buffer.capacity as usize).min(i32::MAX as usize);
                let chunk = &chunk[..chunk.len().min(room)];
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
    fn log(&self, def: Definition<'_>) -> wasmtime::Result<()> {
        let op = self.op.clone();
        def.wrap(
            move |mut caller: Caller<'_, HostState>, _id: i64, ptr: i64, len: i32| {
                let len = length(len, LOG)?;
                let instance = caller.data().instance_id();
                let memory = memory(&mut caller, LOG)?;
                let bytes = memory::read(memory, ptr, len, instance)
                    .map_err(|err| refuse(LOG, err.message()))?;
                op.lock()
                    .log(instance, String::from_utf8_lossy(bytes).into_owned());
                Ok(())
            },
        )
    }

    /// `rand_bytes(id, ptr, len)`: `len` bytes from the system's
    /// cryptographic generator.
    fn rand(&self, def: Definition<'_>) -> wasmtime::Result<()> {
        def.wrap(
            move |mut caller: Caller<'_, HostState>, _id: i64, ptr: i64, len: i32| {
                let len = length(len, RAND)?;
                let instance = caller.data().instance_id();
                let memory = memory(&mut caller, RAND)?;
                let target = memory::read_mut(memory, ptr, len, instance)
                    .map_err(|err| refuse(RAND, err.message()))?;
                getrandom::getrandom(target)
                    .map_err(|err| refuse(RAND, format!("no randomness: {err}")))
            },
        )
    }

    /// `utc_now(id, ptr)`: the time, as chrono's 12-byte in-memory
    /// `DateTime<Utc>`, which freenet-stdlib reads back as such.
    fn utc_now(&self, def: Definition<'_>) -> wasmtime::Result<()> {
        let op = self.op.clone();
        def.wrap(
            move |mut caller: Caller<'_, HostState>, _id: i64, ptr: i64| {
                let (refused, clock) = {
                    let op = op.lock();
                    (op.refuse_clock, op.clock)
                };
                if refused {
                    return Err(refuse(
                        UTC_NOW,
                        "freenet-core 0.2.154 deprecates the host clock for contracts, \
                         and this runtime refuses it (clock: 'refuse')",
                    ));
                }
                let now = clock.unwrap_or_else(chrono::Utc::now);
                let bytes = date_time_bytes(now);
                let instance = caller.data().instance_id();
                let memory = memory(&mut caller, UTC_NOW)?;
                memory::write(memory, ptr, &bytes, instance)
                    .map_err(|err| refuse(UTC_NOW, err.message()))
            },
        )
    }
}

/// Freenet's return codes for the delegate imports (freenet-core 0.2.48).
mod code {
    pub(super) const NOT_IN_PROCESS: i32 = -1;
    pub(super) const SECRET_NOT_FOUND: i32 = -2;
    pub(super) const STORAGE_FAILED: i32 = -3;
    pub(super) const INVALID_PARAM: i32 = -4;
    pub(super) const CONTEXT_TOO_LARGE: i32 = -5;
    pub(super) const BUFFER_TOO_SMALL: i32 = -6;
    /// Out of bounds, for the context and secret imports.
    pub(super) const MEMORY_BOUNDS: i32 = -7;
    /// The contract-state imports' own table.
    pub(super) const CONTRACT_NOT_FOUND: i64 = -7;
    pub(super) const STORE_ERROR: i64 = -8;
    pub(super) const CONTRACT_MEMORY_BOUNDS: i64 = -9;
    pub(super) const CONTRACT_CODE_NOT_REGISTERED: i64 = -10;
    /// `create_delegate`: code over the size limit.
    pub(super) const INVALID_WASM: i32 = -23;
    /// `create_delegate`: the delegate could not be stored.
    pub(super) const STORE_FAILED: i32 = -24;
}

/// The largest code `create_delegate` takes (freenet-core's 10 MiB).
const MAX_DELEGATE_CODE: i64 = 10 * 1024 * 1024;

/// A guest range as Freenet checks it: `len` bytes at `ptr`, inside memory.
fn range(memory: &[u8], ptr: i64, len: i64) -> Option<std::ops::Range<usize>> {
    memory::range(ptr, len, memory.len())
}

impl FreenetNatives {
    /// The delegate imports: the context from the operation's delegate
    /// record; secrets and contract states from the runtime's stores;
    /// delegate creation, which needs a node's delegate store, answers as a
    /// node that cannot store the child does.
    /// Called outside a delegate's `process` they return `NOT_IN_PROCESS`.
    fn delegate_import(
        &self,
        def: Definition<'_>,
        module: &str,
        name: &str,
    ) -> Option<wasmtime::Result<()>> {
        let op = self.op.clone();
        let func = match (module, name) {
            ("freenet_delegate_ctx", "__frnt__delegate__ctx_len") => def.wrap(move || -> i32 {
                match op.lock().delegate.as_ref() {
                    None => code::NOT_IN_PROCESS,
                    Some(env) => {
                        i32::try_from(env.context.len()).unwrap_or(code::CONTEXT_TOO_LARGE)
                    }
                }
            }),
            ("freenet_delegate_ctx", "__frnt__delegate__ctx_read") => def.wrap(
                move |mut caller: Caller<'_, HostState>,
                      ptr: i64,
                      len: i32|
                      -> wasmtime::Result<i32> {
                    let op = op.lock();
                    let Some(env) = op.delegate.as_ref() else {
                        return Ok(code::NOT_IN_PROCESS);
                    };
                    if len < 0 {
                        return Ok(code::INVALID_PARAM);
                    }
                    let n = env.context.len().min(len as usize);
                    if n == 0 {
                        return Ok(0);
                    }
                    let memory = memory(
                        &mut caller,
                        "freenet_delegate_ctx.__frnt__delegate__ctx_read",
                    )?;
                    let Some(target) = range(memory, ptr, n as i64) else {
                        return Ok(code::MEMORY_BOUNDS);
                    };
                    memory[target].copy_from_slice(&env.context[..n]);
                    Ok(n as i32)
                },
            ),
            ("freenet_delegate_ctx", "__frnt__delegate__ctx_write") => def.wrap(
                move |mut caller: Caller<'_, HostState>,
                      ptr: i64,
                      len: i32|
                      -> wasmtime::Result<i32> {
                    let mut op = op.lock();
                    let Some(env) = op.delegate.as_mut() else {
                        return Ok(code::NOT_IN_PROCESS);
                    };
                    if len < 0 {
                        return Ok(code::INVALID_PARAM);
                    }
                    if len == 0 {
                        env.context.clear();
                        return Ok(0);
                    }
                    let memory = memory(
                        &mut caller,
                        "freenet_delegate_ctx.__frnt__delegate__ctx_write",
                    )?;
                    let Some(source) = range(memory, ptr, i64::from(len)) else {
                        return Ok(code::MEMORY_BOUNDS);
                    };
                    env.context = memory[source].to_vec();
                    Ok(0)
                },
            ),
            ("freenet_delegate_secrets", _) => self.secrets_import(def, name)?,
            ("freenet_delegate_contracts", _) => {
                if self.abi.is_current() && REMOVED_CONTRACT_IMPORTS.contains(&name) {
                    return None;
                }
                contracts_import(def, op, name)?
            }
            ("freenet_delegate_management", "__frnt__delegate__create_delegate") => def.wrap(
                move |mut caller: Caller<'_, HostState>,
                      wasm: i64,
                      wasm_len: i64,
                      params: i64,
                      params_len: i64,
                      cipher: i64,
                      nonce: i64,
                      out_key: i64,
                      out_hash: i64|
                      -> wasmtime::Result<i32> {
                    if op.lock().delegate.is_none() {
                        return Ok(code::NOT_IN_PROCESS);
                    }
                    if wasm_len < 0 || params_len < 0 {
                        return Ok(code::INVALID_PARAM);
                    }
                    let memory = memory(
                        &mut caller,
                        "freenet_delegate_management.__frnt__delegate__create_delegate",
                    )?;
                    let spans = [
                        (wasm, wasm_len),
                        (params, params_len),
                        (cipher, 32),
                        (nonce, 24),
                        (out_key, 32),
                        (out_hash, 32),
                    ];
                    // As freenet-core: the parameters are checked only when
                    // there are some.
                    let outside = |(i, &(ptr, len)): (usize, &(i64, i64))| {
                        !(i == 1 && len == 0) && range(memory, ptr, len).is_none()
                    };
                    if spans.iter().enumerate().any(outside) {
                        return Ok(code::CONTRACT_MEMORY_BOUNDS as i32);
                    }
                    if wasm_len > MAX_DELEGATE_CODE {
                        return Ok(code::INVALID_WASM);
                    }
                    // This runtime has no delegate store to register a child in.
                    Ok(code::STORE_FAILED)
                },
            ),
            _ => return None,
        };
        Some(func)
    }

    /// `freenet_delegate_secrets`: the running delegate's secrets, in its
    /// runtime's secret store.
    fn secrets_import(&self, def: Definition<'_>, name: &str) -> Option<wasmtime::Result<()>> {
        const GET_LEN: &str = "freenet_delegate_secrets.__frnt__delegate__get_secret_len";
        const GET: &str = "freenet_delegate_secrets.__frnt__delegate__get_secret";
        const SET: &str = "freenet_delegate_secrets.__frnt__delegate__set_secret";
        const HAS: &str = "freenet_delegate_secrets.__frnt__delegate__has_secret";
        const REMOVE: &str = "freenet_delegate_secrets.__frnt__delegate__remove_secret";
        let op = self.op.clone();
        Some(match name {
            "__frnt__delegate__get_secret_len" => {
                by_key(def, op, GET_LEN, secret_get, |answer| match answer {
                    Some(Answer::Found(Some(value))) => {
                        i32::try_from(value.len()).unwrap_or(i32::MAX)
                    }
                    _ => code::SECRET_NOT_FOUND,
                })
            }
            "__frnt__delegate__get_secret" => def.wrap(
                move |mut caller: Caller<'_, HostState>,
                      ptr: i64,
                      len: i32,
                      out: i64,
                      out_len: i32|
                      -> wasmtime::Result<i32> {
                    let found = match secret(&op, &mut caller, (ptr, len), out_len, GET)? {
                        Err(code) => return Ok(code),
                        Ok(found) => found,
                    };
                    let Some(value) = found.get(&op, &caller, GET)? else {
                        return Ok(code::SECRET_NOT_FOUND);
                    };
                    Ok(
                        match copy_out(&mut caller, GET, &value, (out, i64::from(out_len)))? {
                            Copied::Bytes(n) => i32::try_from(n).unwrap_or(i32::MAX),
                            Copied::TooSmall => code::BUFFER_TOO_SMALL,
                            Copied::Outside => code::MEMORY_BOUNDS,
                        },
                    )
                },
            ),
            "__frnt__delegate__set_secret" => def.wrap(
                move |mut caller: Caller<'_, HostState>,
                      ptr: i64,
                      len: i32,
                      value: i64,
                      value_len: i32|
                      -> wasmtime::Result<i32> {
                    let found = match secret(&op, &mut caller, (ptr, len), value_len, SET)? {
                        Err(code) => return Ok(code),
                        Ok(found) => found,
                    };
                    let memory = memory(&mut caller, SET)?;
                    let Some(span) = range(memory, value, i64::from(value_len)) else {
                        return Ok(code::MEMORY_BOUNDS);
                    };
                    let value = memory[span].to_vec();
                    let answer =
                        found.ask(&op, &caller, SET, |delegate, key| Request::SecretSet {
                            delegate,
                            key,
                            value,
                        })?;
                    Ok(if answer.is_some() {
                        0
                    } else {
                        code::STORAGE_FAILED
                    })
                },
            ),
            "__frnt__delegate__has_secret" => by_key(
                def,
                op,
                HAS,
                |delegate, key| Request::SecretHas { delegate, key },
                |answer| i32::from(matches!(answer, Some(Answer::Done))),
            ),
            "__frnt__delegate__remove_secret" => by_key(
                def,
                op,
                REMOVE,
                |delegate, key| Request::SecretRemove { delegate, key },
                // freenet-core: removing a missing secret succeeds.
                |answer| {
                    if answer.is_some() {
                        0
                    } else {
                        code::SECRET_NOT_FOUND
                    }
                },
            ),
            "__frnt__delegate__list_secrets_len" if self.abi.is_current() => def.wrap(
                move |mut caller: Caller<'_, HostState>,
                      prefix: i64,
                      prefix_len: i32|
                      -> wasmtime::Result<i32> {
                    Ok(
                        match listing(&op, &mut caller, (prefix, prefix_len), LIST_LEN)? {
                            Ok(records) => i32::try_from(records.len()).unwrap_or(i32::MAX),
                            Err(code) => code,
                        },
                    )
                },
            ),
            "__frnt__delegate__list_secrets" if self.abi.is_current() => def.wrap(
                move |mut caller: Caller<'_, HostState>,
                      prefix: i64,
                      prefix_len: i32,
                      out: i64,
                      out_len: i32|
                      -> wasmtime::Result<i32> {
                    // The node refuses a negative output length first of all.
                    if out_len < 0 {
                        return Ok(code::INVALID_PARAM);
                    }
                    let records = match listing(&op, &mut caller, (prefix, prefix_len), LIST)? {
                        Ok(records) => records,
                        Err(code) => return Ok(code),
                    };
                    if records.is_empty() {
                        return Ok(0);
                    }
                    if records.len() > out_len as usize {
                        return Ok(code::BUFFER_TOO_SMALL);
                    }
                    let memory = memory(&mut caller, LIST)?;
                    let Some(span) = range(memory, out, records.len() as i64) else {
                        return Ok(code::MEMORY_BOUNDS);
                    };
                    memory[span].copy_from_slice(&records);
                    Ok(records.len() as i32)
                },
            ),
            _ => return None,
        })
    }
}

const LIST_LEN: &str = "freenet_delegate_secrets.__frnt__delegate__list_secrets_len";
const LIST: &str = "freenet_delegate_secrets.__frnt__delegate__list_secrets";

/// Keys starting with these bytes are the node's own (secret migration
/// markers) and never listed.
pub(crate) const HIDDEN_SECRET_PREFIX: &[u8] = b"\0freenet-migrate/";

/// The most keys `list_secrets` reports for one delegate (the node's
/// registry holds 4,096 per scope; keys past it are kept but not listed).
pub(crate) const MAX_LISTED_SECRETS: usize = 4096;

/// The running delegate's secret keys that start with the `prefix_len`
/// bytes at `prefix`, as `list_secrets` writes them (each a `u32`
/// little-endian length and the key's bytes), or the code to return: not
/// in a process, a negative prefix length, the prefix out of bounds (not
/// checked for an empty prefix). A store that fails lists nothing (the
/// node's answer for an unreadable registry); the log says why.
fn listing(
    op: &Mutex<Operation>,
    caller: &mut Caller<'_, HostState>,
    (prefix, prefix_len): (i64, i32),
    import: &str,
) -> wasmtime::Result<Result<Vec<u8>, i32>> {
    let (delegate, store) = match op.lock().delegate.as_ref() {
        None => return Ok(Err(code::NOT_IN_PROCESS)),
        Some(env) => (env.key, env.secrets.clone()),
    };
    if prefix_len < 0 {
        return Ok(Err(code::INVALID_PARAM));
    }
    let prefix = if prefix_len == 0 {
        Vec::new()
    } else {
        let memory = memory(caller, import)?;
        let Some(span) = range(memory, prefix, i64::from(prefix_len)) else {
            return Ok(Err(code::MEMORY_BOUNDS));
        };
        memory[span].to_vec()
    };
    let answer = hooks::ask(caller, &*store, Request::SecretList { delegate, prefix })?;
    let keys = match outcome(op, caller.data().instance_id(), answer, import) {
        Some(Answer::Keys(keys)) => keys,
        _ => Vec::new(),
    };
    let mut records = Vec::new();
    for key in keys
        .iter()
        .filter(|key| !key.starts_with(HIDDEN_SECRET_PREFIX))
        .take(MAX_LISTED_SECRETS)
    {
        // A key longer than 4 GiB cannot come from a guest (its lengths
        // are i32) and is skipped rather than encoded wrong.
        let Ok(len) = u32::try_from(key.len()) else {
            continue;
        };
        records.extend_from_slice(&len.to_le_bytes());
        records.extend_from_slice(key);
    }
    Ok(Ok(records))
}

/// What [`copy_out`] did.
enum Copied {
    /// Copied this many bytes.
    Bytes(usize),
    /// The guest's buffer is shorter than the value: nothing written.
    TooSmall,
    /// The value's bytes at the guest's pointer fall outside memory.
    Outside,
}

/// Copies `value` into the guest's buffer `(out, out_len)` as freenet-core
/// does for secrets and contract states: nothing when the buffer is too
/// short, no pointer check for an empty value, and the bounds checked for
/// the value's length (not the buffer's).
fn copy_out(
    caller: &mut Caller<'_, HostState>,
    import: &str,
    value: &[u8],
    (out, out_len): (i64, i64),
) -> wasmtime::Result<Copied> {
    if u64::try_from(value.len()).unwrap_or(u64::MAX) > out_len.unsigned_abs() {
        return Ok(Copied::TooSmall);
    }
    if value.is_empty() {
        return Ok(Copied::Bytes(0));
    }
    let memory = memory(caller, import)?;
    let Some(span) = range(memory, out, value.len() as i64) else {
        return Ok(Copied::Outside);
    };
    memory[span].copy_from_slice(value);
    Ok(Copied::Bytes(value.len()))
}

/// A secrets import that takes only a key, `(ptr, len) -> i32`: it asks
/// the store the request `make` builds and returns what `code` makes of
/// the answer (`None` when the store failed), or Freenet's code for a call
/// outside a process, a negative length or a key out of bounds.
fn by_key(
    def: Definition<'_>,
    op: Arc<Mutex<Operation>>,
    import: &'static str,
    make: fn(DelegateKey, Vec<u8>) -> Request,
    code: fn(Option<Answer>) -> i32,
) -> wasmtime::Result<()> {
    def.wrap(
        move |mut caller: Caller<'_, HostState>, ptr: i64, len: i32| -> wasmtime::Result<i32> {
            let found = match secret(&op, &mut caller, (ptr, len), 0, import)? {
                Err(refused) => return Ok(refused),
                Ok(found) => found,
            };
            Ok(code(found.ask(&op, &caller, import, make)?))
        },
    )
}

fn secret_get(delegate: DelegateKey, key: Vec<u8>) -> Request {
    Request::SecretGet { delegate, key }
}

/// A secret a guest names: the running delegate, its store and the key.
struct Secret {
    delegate: DelegateKey,
    store: Arc<dyn hooks::Store>,
    key: Vec<u8>,
}

impl Secret {
    /// Asks the secret's store the request `make` builds from the
    /// delegate and the key; `None` when the store failed (logged).
    fn ask(
        self,
        op: &Mutex<Operation>,
        caller: &Caller<'_, HostState>,
        import: &str,
        make: impl FnOnce(DelegateKey, Vec<u8>) -> Request,
    ) -> wasmtime::Result<Option<Answer>> {
        let answer = hooks::ask(caller, &*self.store, make(self.delegate, self.key))?;
        Ok(outcome(op, caller.data().instance_id(), answer, import))
    }

    /// The secret's value; `None` when absent or when the store failed.
    fn get(
        self,
        op: &Mutex<Operation>,
        caller: &Caller<'_, HostState>,
        import: &str,
    ) -> wasmtime::Result<Option<Vec<u8>>> {
        let answer = self.ask(op, caller, import, secret_get)?;
        Ok(match answer {
            Some(Answer::Found(value)) => value,
            _ => None,
        })
    }
}

/// The secret whose key is the `len` bytes at `ptr`, or the code the
/// import returns: not in a process, a negative length (the key's or the
/// `other` buffer's), the key out of bounds.
fn secret(
    op: &Mutex<Operation>,
    caller: &mut Caller<'_, HostState>,
    (ptr, len): (i64, i32),
    other: i32,
    import: &str,
) -> wasmtime::Result<Result<Secret, i32>> {
    let (delegate, store) = match op.lock().delegate.as_ref() {
        None => return Ok(Err(code::NOT_IN_PROCESS)),
        Some(env) => (env.key, env.secrets.clone()),
    };
    if len < 0 || other < 0 {
        return Ok(Err(code::INVALID_PARAM));
    }
    let memory = memory(caller, import)?;
    Ok(match range(memory, ptr, i64::from(len)) {
        Some(span) => Ok(Secret {
            delegate,
            store,
            key: memory[span].to_vec(),
        }),
        None => Err(code::MEMORY_BOUNDS),
    })
}

/// A store's answer, or `None` when it failed; the failure is logged, so
/// the guest sees Freenet's code and the embedder sees why.
fn outcome(
    op: &Mutex<Operation>,
    instance: i64,
    answer: Result<Answer, HostFailure>,
    import: &str,
) -> Option<Answer> {
    match answer {
        Ok(answer) => Some(answer),
        Err(failure) => {
            op.lock()
                .log(instance, format!("{import}: the store failed: {failure}"));
            None
        }
    }
}

/// `freenet_delegate_contracts`: contract states in the runtime's contract
/// store (the embedder's, or none), after Freenet's own checks, in its
/// order.
fn contracts_import(
    def: Definition<'_>,
    op: Arc<Mutex<Operation>>,
    name: &str,
) -> Option<wasmtime::Result<()>> {
    const IMPORT: &str = "freenet_delegate_contracts";
    /// The contract store and the 32-byte id at `id`, or the code to return.
    type Found = (Arc<dyn hooks::Store>, Key);
    /// `other` is the import's other length (0 when it has none): a
    /// negative one is refused before the id's bounds, as freenet-core does.
    fn contract(
        op: &Mutex<Operation>,
        caller: &mut Caller<'_, HostState>,
        (id, id_len): (i64, i32),
        other: i64,
    ) -> wasmtime::Result<Result<Found, i64>> {
        let Some(contracts) = op.lock().delegate.as_ref().map(|env| env.contracts.clone()) else {
            return Ok(Err(i64::from(code::NOT_IN_PROCESS)));
        };
        if id_len != 32 || other < 0 {
            return Ok(Err(i64::from(code::INVALID_PARAM)));
        }
        let memory = memory(caller, IMPORT)?;
        let Some(span) = range(memory, id, 32) else {
            return Ok(Err(code::CONTRACT_MEMORY_BOUNDS));
        };
        let mut key = [0; 32];
        key.copy_from_slice(&memory[span]);
        Ok(Ok((contracts, key)))
    }
    /// The state of contract `id`, or the code to return.
    fn state(
        op: &Mutex<Operation>,
        caller: &Caller<'_, HostState>,
        contracts: &dyn hooks::Store,
        id: Key,
    ) -> wasmtime::Result<Result<Vec<u8>, i64>> {
        let answer = hooks::ask(caller, contracts, Request::ContractGet { id })?;
        Ok(
            match outcome(op, caller.data().instance_id(), answer, IMPORT) {
                Some(Answer::Found(Some(state))) => Ok(state),
                Some(_) => Err(code::CONTRACT_NOT_FOUND),
                None => Err(code::STORE_ERROR),
            },
        )
    }
    let func = match name {
        "__frnt__delegate__get_contract_state_len" => def.wrap(
            move |mut caller: Caller<'_, HostState>,
                  id: i64,
                  id_len: i32|
                  -> wasmtime::Result<i64> {
                let (contracts, id) = match contract(&op, &mut caller, (id, id_len), 0)? {
                    Err(code) => return Ok(code),
                    Ok(found) => found,
                };
                Ok(match state(&op, &caller, &*contracts, id)? {
                    Ok(state) => state.len() as i64,
                    Err(code) => code,
                })
            },
        ),
        "__frnt__delegate__get_contract_state" => def.wrap(
            move |mut caller: Caller<'_, HostState>,
                  id: i64,
                  id_len: i32,
                  out: i64,
                  out_len: i64|
                  -> wasmtime::Result<i64> {
                let (contracts, id) = match contract(&op, &mut caller, (id, id_len), out_len)? {
                    Err(code) => return Ok(code),
                    Ok(found) => found,
                };
                let state = match state(&op, &caller, &*contracts, id)? {
                    Ok(state) => state,
                    Err(code) => return Ok(code),
                };
                Ok(
                    match copy_out(&mut caller, IMPORT, &state, (out, out_len))? {
                        Copied::Bytes(n) => n as i64,
                        Copied::TooSmall => i64::from(code::BUFFER_TOO_SMALL),
                        Copied::Outside => code::CONTRACT_MEMORY_BOUNDS,
                    },
                )
            },
        ),
        "__frnt__delegate__put_contract_state" | "__frnt__delegate__update_contract_state" => {
            let update = name == "__frnt__delegate__update_contract_state";
            def.wrap(
                move |mut caller: Caller<'_, HostState>,
                      id: i64,
                      id_len: i32,
                      state: i64,
                      state_len: i64|
                      -> wasmtime::Result<i64> {
                    let (contracts, id) = match contract(&op, &mut caller, (id, id_len), state_len)?
                    {
                        Err(code) => return Ok(code),
                        Ok(found) => found,
                    };
                    // As freenet-core: an empty state's pointer is not checked.
                    let state = if state_len == 0 {
                        Vec::new()
                    } else {
                        let memory = memory(&mut caller, IMPORT)?;
                        let Some(span) = range(memory, state, state_len) else {
                            return Ok(code::CONTRACT_MEMORY_BOUNDS);
                        };
                        memory[span].to_vec()
                    };
                    let request = if update {
                        Request::ContractUpdate { id, state }
                    } else {
                        Request::ContractPut { id, state }
                    };
                    let answer = hooks::ask(&caller, &*contracts, request)?;
                    Ok(
                        match outcome(&op, caller.data().instance_id(), answer, IMPORT) {
                            Some(Answer::Refused) if update => code::CONTRACT_NOT_FOUND,
                            Some(Answer::Refused | Answer::Unregistered) => {
                                code::CONTRACT_CODE_NOT_REGISTERED
                            }
                            Some(_) => 0,
                            None => code::STORE_ERROR,
                        },
                    )
                },
            )
        }
        "__frnt__delegate__subscribe_contract" => def.wrap(
            move |mut caller: Caller<'_, HostState>,
                  id: i64,
                  id_len: i32|
                  -> wasmtime::Result<i64> {
                let (contracts, id) = match contract(&op, &mut caller, (id, id_len), 0)? {
                    Err(code) => return Ok(code),
                    Ok(found) => found,
                };
                let answer = hooks::ask(&caller, &*contracts, Request::ContractSubscribe { id })?;
                Ok(
                    match outcome(&op, caller.data().instance_id(), answer, IMPORT) {
                        Some(Answer::Refused | Answer::Unregistered) => {
                            code::CONTRACT_CODE_NOT_REGISTERED
                        }
                        Some(_) => 0,
                        None => code::STORE_ERROR,
                    },
                )
            },
        ),
        _ => return None,
    };
    Some(func)
}

/// chrono's in-memory `DateTime<Utc>` for `time`, as freenet-core copies it
/// into the guest and freenet-stdlib reads it back: the date packed as
/// `year << 13 | ordinal << 4 | flags` (`flags`: 8 for a common year, plus
/// the weekday of the previous 31 December, Tuesday 1 to Monday 7), then the
/// seconds of the day and the nanoseconds, each little-endian.
pub(crate) fn date_time_bytes(time: chrono::DateTime<chrono::Utc>) -> [u8; DATE_TIME_BYTES] {
    use chrono::{Datelike, Timelike};
    let date = time.date_naive();
    let year = date.year();
    let leap = chrono::NaiveDate::from_ymd_opt(year, 2, 29).is_some();
    let previous_day = date
        .with_ordinal(1)
        .and_then(|first| first.pred_opt())
        .map_or(0, |day| day.weekday().num_days_from_monday());
    let weekday = if previous_day == 0 {
        7
    } else {
        previous_day as i32
    };
    let flags = if leap { 0 } else { 8 } | weekday;
    let packed = (year << 13) | ((date.ordinal() as i32) << 4) | flags;
    let mut bytes = [0; DATE_TIME_BYTES];
    bytes[..4].copy_from_slice(&packed.to_le_bytes());
    bytes[4..8].copy_from_slice(&time.num_seconds_from_midnight().to_le_bytes());
    bytes[8..].copy_from_slice(&time.nanosecond().to_le_bytes());
    bytes
}

impl Natives for FreenetNatives {
    fn id(&self) -> u64 {
        self.id
    }

    fn define(
        &self,
        linker: &mut Linker<HostState>,
        module: &str,
        name: &str,
    ) -> Option<wasmtime::Result<()>> {
        let def = Definition {
            linker,
            module,
            name,
        };
        Some(match (module, name) {
            ("freenet_contract_io", "__frnt__fill_buffer") => self.fill_buffer(def),
            ("freenet_log", "__frnt__logger__info") => self.log(def),
            ("freenet_rand", "__frnt__rand__rand_bytes") => self.rand(def),
            ("freenet_time", "__frnt__time__utc_now") => self.utc_now(def),
            _ => self.delegate_import(def, module, name)?,
        })
    }
}

/// Where one native goes: the import `module.name` in a linker.
struct Definition<'l> {
    linker: &'l mut Linker<HostState>,
    module: &'l str,
    name: &'l str,
}

impl Definition<'_> {
    /// Defines the import as `func`.
    fn wrap<Params, Results>(
        self,
        func: impl IntoFunc<HostState, Params, Results>,
    ) -> wasmtime::Result<()> {
        self.linker.func_wrap(self.module, self.name, func)?;
        Ok(())
    }
}

#[cfg(test)]
#[path = "natives_tests.rs"]
mod tests;
