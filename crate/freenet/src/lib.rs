//! Freenet contracts and delegates with their host ABI built in.
//!
//! A [`Runtime`] is an engine whose instances get Freenet's host imports
//! from Rust ([`natives`]), and which runs each operation the way
//! freenet-core does, as of the release its [`Profile`] names (0.2.48 by
//! default, or 0.2.154; see [`profile::Abi`]): a fresh instance with a new id,
//! `__frnt_set_id`, memory grown to the inputs' size, one buffer per input
//! (streamed for modules that import `freenet_contract_io`), the export,
//! the result decoded, the instance dropped. All of that happens inside one
//! engine entry and one fuel budget, on whichever thread runs the
//! operation; under one deadline, except for delegates under 0.2.154,
//! whose every guest entry gets the whole deadline, as on today's node.
//!
//! Types and encodings are freenet-stdlib 0.6.0's and 0.12.1's ([`wire`],
//! checked against both by tests), so what a guest reads and what the host
//! decodes are byte-identical with freenet-core.

mod abi;
pub mod contexts;
pub mod contract;
pub mod delegate;
pub mod hooks;
mod manifest;
mod natives;
pub mod profile;
pub mod wire;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use parking_lot::Mutex;

use self::contexts::Contexts;
pub use self::contract::{ContractAnswer, ContractCall, Related};
pub use self::delegate::{DelegateCall, Stores};
pub use self::natives::REMOVED_CONTRACT_IMPORTS;
use self::natives::{FreenetNatives, Operation};
pub use self::profile::{Abi, ClockPolicy, Profile};
use self::wire::{DelegateKey, Key, OutboundDelegateMsg};
use wasm_engine_core::Engine;
use wasm_engine_core::Module;
use wasm_engine_core::Site;
use wasm_engine_core::Target;
use wasm_engine_core::error::{ErrorKind, Result, WasmError};
use wasm_engine_core::{EngineState, INITIATE_BUFFER_EXPORT};

/// The import namespace whose presence makes a contract stream its inputs.
pub const CONTRACT_IO_NAMESPACE: &str = "freenet_contract_io";

/// The namespace of `utc_now`.
const TIME_NAMESPACE: &str = "freenet_time";

/// Instance ids, process-wide as in freenet-core, so a stale id never
/// names a newer instance.
static NEXT_INSTANCE_ID: AtomicI64 = AtomicI64::new(0);

/// A compiled contract or delegate and what the runtime needs to know
/// about its imports.
#[derive(Clone)]
pub struct Loaded {
    module: Module,
    code_hash: Key,
    streaming: bool,
    uses_time: bool,
    /// The payloads of the module's `freenet-manifest` custom sections.
    manifests: Arc<[Vec<u8>]>,
}

impl Loaded {
    /// `blake3` of the module's bytes: Freenet's code hash.
    pub fn code_hash(&self) -> &Key {
        &self.code_hash
    }

    /// The key of this module with `parameters`: a contract's instance id,
    /// a delegate's key (both `blake3(code_hash ‖ parameters)`).
    pub fn key(&self, parameters: &[u8]) -> Key {
        wire::instance_key(&self.code_hash, parameters)
    }

    /// Whether the module imports `freenet_contract_io`, so its inputs are
    /// streamed (freenet-core's `module_has_streaming_io`).
    pub fn streaming(&self) -> bool {
        self.streaming
    }

    /// Whether the module imports `freenet_time`, so a caller-provided
    /// clock is worth reading before each operation.
    pub fn uses_time(&self) -> bool {
        self.uses_time
    }

    /// The payloads of the module's custom sections named
    /// `freenet-manifest` (freenet-stdlib 0.12's delegate manifest: JSON,
    /// one section at most in a valid module), in their order.
    pub fn manifests(&self) -> &[Vec<u8>] {
        &self.manifests
    }
}

/// How one operation runs, besides its inputs.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// Keep the lines the guest logs (they come back in [`Outcome::logs`]).
    pub keep_logs: bool,
    /// What `utc_now` reports, in milliseconds since the Unix epoch;
    /// `None` for the system clock.
    pub clock_ms: Option<i64>,
}

/// The result of one operation and the lines the guest logged meanwhile
/// (with the id of the instance that logged each), which are kept also
/// when it failed.
#[derive(Debug)]
pub struct Outcome<T> {
    pub result: Result<T>,
    pub logs: Vec<(i64, String)>,
}

impl<T> Outcome<T> {
    /// The same outcome with its value, if any, passed through `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        Outcome {
            result: self.result.map(f),
            logs: self.logs,
        }
    }
}

/// An engine that runs Freenet contracts and delegates.
pub struct Runtime {
    engine: Arc<Engine>,
    stores: Stores,
    profile: Profile,
    /// Defined once per module (the engine caches modules prepared with
    /// them); their operation record is renewed by each operation.
    natives: FreenetNatives,
    /// Delegate contexts between calls (0.2.154).
    contexts: Contexts,
    /// Code hashes of the contracts whose use of the host clock was
    /// reported (0.2.154 warns once per code hash).
    clock_warned: Mutex<HashSet<Key>>,
}

/// Numbers runtimes' natives; 0 stands for no natives.
static NEXT_NATIVES_ID: AtomicU64 = AtomicU64::new(1);

impl Runtime {
    /// A runtime on `engine` (its limits, compile caches and queue) whose
    /// delegates keep secrets and find contract states in `stores`.
    /// Freenet's imports come from the runtime; the engine's own imports,
    /// if any, serve the names Freenet does not define.
    pub fn new(engine: Arc<Engine>, stores: Stores) -> Runtime {
        Runtime::with_profile(engine, stores, Profile::default())
    }

    /// [`Runtime::new`], behaving as `profile` says.
    pub fn with_profile(engine: Arc<Engine>, stores: Stores, profile: Profile) -> Runtime {
        Runtime {
            engine,
            stores,
            profile,
            natives: FreenetNatives {
                op: Arc::new(Mutex::new(Operation::new(false, None))),
                id: NEXT_NATIVES_ID.fetch_add(1, Ordering::Relaxed),
                abi: profile.abi,
            },
            contexts: Contexts::new(profile.context_ttl),
            clock_warned: Mutex::new(HashSet::new()),
        }
    }

    /// How this runtime behaves.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The delegate contexts this runtime keeps between calls (always
    /// empty under 0.2.48).
    pub fn contexts(&self) -> &Contexts {
        &self.contexts
    }

    /// The stores its delegates use.
    pub fn stores(&self) -> &Stores {
        &self.stores
    }

    /// The engine underneath, for its stats, queue and `close()`.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Compiles `code` (cached by content hash) on this thread.
    pub fn load(&self, code: &[u8]) -> Result<Loaded> {
        self.prepare(self.engine.compile(code)?, code)
    }

    /// What the runtime needs to know about `module`, compiled by its
    /// engine's backend from `code`.
    /// Refused when the module imports what this runtime's profile does
    /// not define: under 0.2.154, the contract-writing delegate imports
    /// (today's node does not instantiate such a delegate).
    pub fn prepare(&self, module: Module, code: &[u8]) -> Result<Loaded> {
        self.engine.check_module(&module)?;
        if self.profile.abi.is_current() {
            let removed: Vec<String> = module
                .imports()
                .into_iter()
                .filter(|import| {
                    import
                        .strip_prefix("freenet_delegate_contracts.")
                        .is_some_and(|name| REMOVED_CONTRACT_IMPORTS.contains(&name))
                })
                .collect();
            if !removed.is_empty() {
                return Err(WasmError::new(
                    ErrorKind::Instantiation,
                    format!(
                        "the module imports {}, which freenet-core {} removed: \
                         the node does not instantiate it (this runtime's abi is '{}'; \
                         under '0.2.48' they exist)",
                        removed.join(", "),
                        self.profile.abi.name(),
                        self.profile.abi.name(),
                    ),
                ));
            }
        }
        Ok(Loaded {
            code_hash: wire::code_hash(code),
            streaming: module.imports_from(&[CONTRACT_IO_NAMESPACE]),
            uses_time: module.imports_from(&[TIME_NAMESPACE]),
            manifests: manifest::sections(code).into(),
            module,
        })
    }

    /// Runs one contract export on a fresh instance, on this thread, which
    /// is `site`.
    pub fn call_contract(
        &self,
        site: Site,
        contract: &Loaded,
        call: ContractCall,
        options: &CallOptions,
    ) -> Outcome<ContractAnswer> {
        let current = self.profile.abi.is_current();
        let mut outcome = self.operation(site, contract, options, true, |state, session| {
            session.op().lock().refuse_clock = current && self.profile.clock == ClockPolicy::Refuse;
            contract::run(state, session, contract, call)
        });
        if current
            && contract.uses_time
            && self.profile.clock == ClockPolicy::Warn
            && self.clock_warned.lock().insert(contract.code_hash)
        {
            outcome.logs.push((
                -1,
                format!(
                    "warning: this contract imports {TIME_NAMESPACE}.__frnt__time__utc_now; \
                     freenet-core 0.2.154 deprecates the host clock for contracts (peers \
                     reading different clocks stop converging) and a later release will \
                     make the call trap (set clock: 'refuse' to get that now)"
                ),
            ));
        }
        outcome
    }

    /// Runs a delegate's `process` over `call.messages` on one fresh
    /// instance, on this thread, which is `site`; returns what freenet-core
    /// returns to its caller.
    pub fn process_delegate(
        &self,
        site: Site,
        delegate: &Loaded,
        call: DelegateCall,
        options: &CallOptions,
    ) -> Outcome<Vec<OutboundDelegateMsg>> {
        let key = DelegateKey {
            key: delegate.key(&call.parameters),
            code_hash: delegate.code_hash,
        };
        // Today's node gives every guest entry of a delegate the whole
        // deadline; 0.2.48's bounds the whole call here.
        let one_deadline = !self.profile.abi.is_current();
        self.operation(site, delegate, options, one_deadline, |state, session| {
            delegate::run(state, session, delegate, key, self, call)
        })
    }

    /// Runs `body` as one operation inside one engine entry, with a fresh
    /// operation record for the natives; its guest entries share one
    /// deadline when `one_deadline`, otherwise each gets a whole one. The
    /// record is renewed and read under the engine's lock, which
    /// serializes this runtime's operations.
    fn operation<T>(
        &self,
        site: Site,
        loaded: &Loaded,
        options: &CallOptions,
        one_deadline: bool,
        body: impl FnOnce(&mut EngineState, &Session) -> Result<T>,
    ) -> Outcome<T> {
        let session = Session {
            natives: &self.natives,
        };
        let mut logs = Vec::new();
        let result = self.engine.check_module(&loaded.module).and_then(|()| {
            self.engine.enter(site, |state| {
                *session.op().lock() = Operation::new(options.keep_logs, options.clock_ms);
                if one_deadline {
                    state.begin_operation();
                }
                let result = body(state, &session);
                state.end_operation();
                logs = session.op().lock().finish();
                result
            })
        });
        self.engine.record(&result);
        Outcome { result, logs }
    }
}

/// One operation in progress: its engine and the natives of its runtime.
pub(crate) struct Session<'r> {
    natives: &'r FreenetNatives,
}

impl Session<'_> {
    /// The record the natives share during this operation.
    pub(crate) fn op(&self) -> &Arc<Mutex<Operation>> {
        &self.natives.op
    }
}

/// The fresh instance of one operation.
pub(crate) struct Guest<'s> {
    state: &'s mut EngineState,
    target: Target,
    streaming: bool,
    op: Arc<Mutex<Operation>>,
}

impl<'s> Guest<'s> {
    /// Instantiates `loaded` for `session` as a new instance id, with at
    /// least `req_bytes` of memory (freenet-core's `req_bytes`).
    pub(crate) fn create(
        state: &'s mut EngineState,
        session: &Session,
        loaded: &Loaded,
        streaming: bool,
        req_bytes: usize,
    ) -> Result<Guest<'s>> {
        let id = NEXT_INSTANCE_ID.fetch_add(1, Ordering::Relaxed);
        let target = state.instantiate(&loaded.module, id, req_bytes, session.natives)?;
        Ok(Guest {
            state,
            target,
            streaming,
            op: session.op().clone(),
        })
    }

    pub(crate) fn id(&self) -> i64 {
        self.target.id()
    }

    pub(crate) fn op(&self) -> &Arc<Mutex<Operation>> {
        &self.op
    }

    /// Names `export` of this instance in messages.
    pub(crate) fn what(&self, export: &str) -> String {
        format!("{export} of instance {}", self.target.id())
    }

    /// Writes one input into a buffer the guest allocates, the way
    /// freenet-core does for this module; returns the buffer's address.
    pub(crate) fn write_input(&mut self, data: &[u8]) -> Result<i64> {
        let (capacity, chunk) = abi::first_chunk(data, self.streaming)?;
        let at = self
            .state
            .call::<u32, i64>(&self.target, INITIATE_BUFFER_EXPORT, capacity)?;
        let what = self.what(INITIATE_BUFFER_EXPORT);
        let (id, memory) = self.memory()?;
        let buffer = abi::Buffer::read(memory, at, id, &what)?;
        if (buffer.capacity as usize) < chunk.len() {
            return Err(WasmError::new(
                ErrorKind::Memory,
                format!(
                    "{what} returned a buffer of {} bytes for an input of {} bytes",
                    buffer.capacity,
                    chunk.len()
                ),
            )
            .at_instance(id));
        }
        buffer.fill(memory, &chunk, id)?;
        let sent = chunk.len() - if self.streaming { 4 } else { 0 };
        if sent < data.len() {
            self.op.lock().stream(at, data[sent..].to_vec());
        }
        Ok(at)
    }

    /// Calls `export` with the buffer addresses `pointers` (two or three);
    /// returns the address of its result.
    pub(crate) fn call(&mut self, export: &str, pointers: &[i64]) -> Result<i64> {
        match *pointers {
            [a, b] => self
                .state
                .call::<(i64, i64), i64>(&self.target, export, (a, b)),
            [a, b, c] => self
                .state
                .call::<(i64, i64, i64), i64>(&self.target, export, (a, b, c)),
            _ => Err(WasmError::new(
                ErrorKind::Other,
                format!("{export} takes two or three buffers"),
            )),
        }
    }

    /// The instance's id and its memory, read live.
    pub(crate) fn memory(&mut self) -> Result<(i64, &mut [u8])> {
        let (memory, store) = self.state.memory(&self.target)?;
        Ok((self.target.id(), memory.data_mut(store)))
    }

    /// Drops the instance.
    pub(crate) fn finish(self) {
        // Only fails for an instance already gone, which is what we want.
        let _ = self.state.drop_instance(&self.target);
    }
}
