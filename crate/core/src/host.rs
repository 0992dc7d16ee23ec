//! Host functions: imports a guest calls and the embedder answers.
//!
//! An engine is given a list of [`ImportSpec`]s and one [`Host`] that runs
//! them. When a guest calls such an import, the call reaches the host in one
//! of two ways, chosen by the [`Site`] of the guest entry in progress:
//! - [`Site::Direct`]: the guest was entered on the host's own thread (a
//!   synchronous call), so the host runs the function right there, on the
//!   guest's stack, through [`Host::call_here`]. Asynchronous imports are
//!   refused there: awaiting them would need the event loop the call blocks.
//! - [`Site::Worker`]: the guest runs on a worker thread; the call is handed
//!   to the host with [`Host::post`] and the worker parks until the answer
//!   comes back, the deadline passes, the call is aborted or the engine
//!   closes. No fiber is involved, so the host never runs on a stack it does
//!   not know.
//!
//! While a host call is in progress, the calling instance's exported memory
//! is reachable through the engine's [`Windows`] with the call's token; the
//! window closes when the call returns, after which access is refused.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use wasmtime::{Caller, Extern, InstancePre, Linker, Val};

use crate::error::{ErrorKind, HostFailure, WasmError};
use crate::memory;
use crate::request;
use crate::site::Site;
use crate::store::HostState;
use crate::values::{Kind, Signature, unsupported_type};
use crate::wasi::WASI_NAMESPACE;

/// A host function offered to guests as `module.name`.
#[derive(Debug, Clone)]
pub struct ImportSpec {
    pub module: String,
    pub name: String,
    /// True for functions whose answer comes later (a promise): only guests
    /// on a worker can wait for them.
    pub asynchronous: bool,
}

/// One call of a host import by a guest.
pub struct HostCall<'a> {
    /// Position of the import in the engine's [`ImportSpec`] list.
    pub index: u32,
    /// Identifies this call for memory access through [`Windows`].
    pub token: u64,
    /// The id of the calling instance.
    pub instance_id: i64,
    /// `module.name` of the import.
    pub import: &'a str,
    /// The arguments, typed as the import declares them.
    pub args: &'a [Val],
    /// The result kinds the import declares.
    pub results: &'a [Kind],
}

/// A host call handed to the host's thread by a worker.
pub struct PostedCall {
    pub index: u32,
    pub token: u64,
    pub instance_id: i64,
    pub import: Arc<str>,
    pub asynchronous: bool,
    pub args: Vec<Val>,
    pub results: Arc<[Kind]>,
    /// Where the answer goes.
    pub reply: Reply,
}

/// The way back to the worker that posted a host call: its results.
pub type Reply = crate::request::Reply<Vec<Val>>;

/// What runs host calls for an engine. Implemented by the binding.
pub trait Host: Send + Sync {
    /// Runs `call` on this thread, the thread that entered the guest with
    /// [`Site::Direct`], writing its results into `results`.
    fn call_here(&self, call: &HostCall<'_>, results: &mut [Val]) -> Result<(), HostFailure>;

    /// Hands `call` to the host's thread; the answer comes through its
    /// [`Reply`]. An error means the call could not be handed over.
    fn post(&self, call: PostedCall) -> Result<(), HostFailure>;

    /// The worker waiting for call `token` gave up: the host must not run
    /// the call if it has not started it (its caller was told it failed).
    fn abandon(&self, token: u64);
}

/// Host functions implemented in Rust, such as Freenet's host ABI. They
/// take precedence over the embedder's imports of the same name and run on
/// whatever thread runs the guest, without a crossing.
pub trait Natives: Send + Sync {
    /// Identifies this set of functions, process-wide and for good: modules
    /// prepared with it are cached under it.
    fn id(&self) -> u64;

    /// Defines in `linker` the function that satisfies the import
    /// `module.name`; `None` when these natives do not provide it. An
    /// import declared with another type fails in [`Imports::prepare`].
    fn define(
        &self,
        linker: &mut Linker<HostState>,
        module: &str,
        name: &str,
    ) -> Option<wasmtime::Result<()>>;
}

/// The host functions of one engine.
pub(crate) struct Imports {
    functions: HashMap<(String, String), Import>,
    host: Option<Arc<dyn Host>>,
    windows: Arc<Windows>,
}

#[derive(Debug, Clone, Copy)]
struct Import {
    index: u32,
    asynchronous: bool,
}

/// One import of one instance: what a call needs besides its arguments.
struct Binding {
    import: Import,
    qualified: Arc<str>,
    results: Arc<[Kind]>,
}

impl Imports {
    /// The imports `specs`, run by `host`.
    pub(crate) fn new(
        specs: Vec<ImportSpec>,
        host: Option<Arc<dyn Host>>,
    ) -> Result<Imports, WasmError> {
        let mut functions = HashMap::new();
        for (index, spec) in specs.into_iter().enumerate() {
            let index = u32::try_from(index)
                .map_err(|_| WasmError::new(ErrorKind::Argument, "too many imports"))?;
            let key = (spec.module, spec.name);
            if functions.contains_key(&key) {
                return Err(WasmError::new(
                    ErrorKind::Argument,
                    format!("{}.{} is registered twice", key.0, key.1),
                ));
            }
            functions.insert(
                key,
                Import {
                    index,
                    asynchronous: spec.asynchronous,
                },
            );
        }
        if !functions.is_empty() && host.is_none() {
            return Err(WasmError::new(
                ErrorKind::Argument,
                "imports were registered without a host to run them",
            ));
        }
        Ok(Imports {
            functions,
            host,
            windows: Arc::default(),
        })
    }

    pub(crate) fn windows(&self) -> &Arc<Windows> {
        &self.windows
    }

    /// Whether `module` imports one of these functions that is asynchronous.
    pub(crate) fn any_async(&self, module: &wasmtime::Module) -> bool {
        module.imports().any(|import| {
            self.functions
                .get(&(import.module().to_owned(), import.name().to_owned()))
                .is_some_and(|f| f.asynchronous)
        })
    }

    /// `module` with its imports resolved, once, for any number of
    /// instances: WASI preview 1 from each instance's own context when
    /// `wasi`, then from `natives`, then from the embedder's functions.
    /// Costs a definition per import, which each instantiation from the
    /// result no longer pays.
    pub(crate) fn resolve(
        self: &Arc<Self>,
        engine: &wasmtime::Engine,
        module: &wasmtime::Module,
        natives: Option<&dyn Natives>,
        wasi: bool,
    ) -> Result<InstancePre<HostState>, WasmError> {
        let mut linker = Linker::new(engine);
        if wasi {
            wasmtime_wasi::p1::add_to_linker_sync(&mut linker, HostState::wasi)
                .and_then(|_| crate::wasi_poll::define(&mut linker))
                .map_err(|err| {
                    WasmError::new(
                        ErrorKind::Instantiation,
                        format!("cannot define WASI: {err}"),
                    )
                })?;
        }
        // A module may import one name more than once; the linker takes one
        // definition of it.
        let mut defined = std::collections::HashSet::new();
        for import in module.imports() {
            if (wasi && import.module() == WASI_NAMESPACE)
                || !defined.insert((import.module(), import.name()))
            {
                continue;
            }
            let qualified: Arc<str> = format!("{}.{}", import.module(), import.name()).into();
            let refuse = |message: String| Err(WasmError::new(ErrorKind::Instantiation, message));
            if let Some(defined) =
                natives.and_then(|n| n.define(&mut linker, import.module(), import.name()))
            {
                defined.map_err(|err| {
                    WasmError::new(
                        ErrorKind::Instantiation,
                        format!("cannot define {qualified}: {err}"),
                    )
                })?;
                continue;
            }
            let Some(&found) = self
                .functions
                .get(&(import.module().to_owned(), import.name().to_owned()))
            else {
                let remedy = if import.module() == WASI_NAMESPACE {
                    "it is a WASI program or library: run it with runWasi, or give \
                     createInstance a wasi option"
                } else {
                    "register it in EngineOptions.imports or asyncImports"
                };
                return refuse(format!(
                    "the module imports {qualified}, which this engine does not provide ({remedy})"
                ));
            };
            let wasmtime::ExternType::Func(ty) = import.ty() else {
                return refuse(format!(
                    "the module imports {qualified} as a {}, but host imports are functions",
                    describe_extern(&import.ty())
                ));
            };
            let signature = Signature::of(
                &ty,
                unsupported_type(ErrorKind::Instantiation, &format!("import {qualified}")),
            )?;
            let binding = Binding {
                import: found,
                qualified: qualified.clone(),
                results: signature.results.into(),
            };
            let imports = self.clone();
            linker
                .func_new(
                    import.module(),
                    import.name(),
                    ty,
                    move |mut caller, params, results| {
                        imports.invoke(&mut caller, &binding, params, results)
                    },
                )
                .map_err(|err| {
                    WasmError::new(
                        ErrorKind::Instantiation,
                        format!("cannot define {qualified}: {err}"),
                    )
                })?;
        }
        linker.instantiate_pre(module).map_err(|err| {
            WasmError::new(
                ErrorKind::Instantiation,
                format!(
                    "cannot resolve the module's imports: {}",
                    crate::error::describe(&err)
                ),
            )
        })
    }

    /// Runs one host call for a guest and writes its results.
    fn invoke(
        &self,
        caller: &mut Caller<'_, HostState>,
        binding: &Binding,
        params: &[Val],
        results: &mut [Val],
    ) -> wasmtime::Result<()> {
        let Some(host) = &self.host else {
            return Err(wasmtime::Error::new(HostFailure::new(
                "this engine has no host for its imports",
            )));
        };
        let token = request::token();
        let instance_id = caller.data().instance_id();
        let _window = self.windows.open(token, instance_id, caller);
        match caller.data().site() {
            Site::Direct => {
                if binding.import.asynchronous {
                    return Err(wasmtime::Error::new(HostFailure::new(format!(
                        "import {} is asynchronous and cannot be awaited on the JavaScript thread: \
                         call the export with call3i64AsyncImports",
                        binding.qualified
                    ))));
                }
                let call = HostCall {
                    index: binding.import.index,
                    token,
                    instance_id,
                    import: &binding.qualified,
                    args: params,
                    results: &binding.results,
                };
                host.call_here(&call, results).map_err(wasmtime::Error::new)
            }
            Site::Worker => {
                let what = format!("the call of {}", binding.qualified);
                let asked = request::ask(
                    caller.data(),
                    &what,
                    |reply| {
                        host.post(PostedCall {
                            index: binding.import.index,
                            token,
                            instance_id,
                            import: binding.qualified.clone(),
                            asynchronous: binding.import.asynchronous,
                            args: params.to_vec(),
                            results: binding.results.clone(),
                            reply,
                        })
                    },
                    || host.abandon(token),
                );
                let values = asked
                    .map_err(wasmtime::Error::new)?
                    .map_err(wasmtime::Error::new)?;
                for (slot, value) in results.iter_mut().zip(values) {
                    *slot = value;
                }
                Ok(())
            }
        }
    }
}

fn describe_extern(ty: &wasmtime::ExternType) -> &'static str {
    match ty {
        wasmtime::ExternType::Func(_) => "function",
        wasmtime::ExternType::Global(_) => "global",
        wasmtime::ExternType::Table(_) => "table",
        wasmtime::ExternType::Memory(_) => "memory",
        wasmtime::ExternType::Tag(_) => "tag",
    }
}

/// The host call in progress on one engine, if any, and the memory it may
/// use: one per engine, since an engine runs one guest entry at a time and
/// a guest waits for its host call.
#[derive(Default)]
pub struct Windows {
    current: Mutex<Option<Window>>,
}

/// One host call in progress: its token, the calling instance and that
/// instance's exported memory (base and length), if it exports one.
struct Window {
    token: u64,
    instance_id: i64,
    memory: Option<(*mut u8, usize)>,
}

// SAFETY: a `Window` is only reached through `Windows`' mutex. The memory it
// points to belongs to a guest that is parked in `Imports::invoke` until the
// window is closed (under the same mutex, by `Open`'s drop), so no other code
// touches the memory meanwhile, and the memory cannot move or shrink: only
// the guest (parked) or the host through the store (held by the parked
// call) could grow it.
unsafe impl Send for Window {}

/// Keeps a window open for the length of one host call.
struct Open<'a> {
    windows: &'a Windows,
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.windows.lock().take();
    }
}

impl Windows {
    fn lock(&self) -> MutexGuard<'_, Option<Window>> {
        self.current.lock()
    }

    /// Opens the window of host call `token` on the caller's memory.
    fn open<'a>(
        &'a self,
        token: u64,
        instance_id: i64,
        caller: &mut Caller<'_, HostState>,
    ) -> Open<'a> {
        let memory = caller
            .data()
            .memory()
            .or_else(|| match caller.get_export("memory") {
                Some(Extern::Memory(memory)) => Some(memory),
                _ => None,
            });
        *self.lock() = Some(Window {
            token,
            instance_id,
            memory: memory.map(|m| (m.data_ptr(&*caller), m.data_size(&*caller))),
        });
        Open { windows: self }
    }

    /// Bytes of the memory host call `token` may use; 0 once the call is
    /// over or when the instance exports no memory.
    pub fn size(&self, token: u64) -> usize {
        match &*self.lock() {
            Some(Window {
                token: current,
                memory: Some((_, len)),
                ..
            }) if *current == token => *len,
            _ => 0,
        }
    }

    /// Runs `access` on the memory of host call `token`, with the calling
    /// instance's id.
    pub fn with<R>(
        &self,
        token: u64,
        access: impl FnOnce(&mut [u8], i64) -> Result<R, WasmError>,
    ) -> Result<R, WasmError> {
        let guard = self.lock();
        let Some((window, (base, len))) = guard
            .as_ref()
            .filter(|w| w.token == token)
            .and_then(|w| Some((w, w.memory?)))
        else {
            return Err(WasmError::new(
                ErrorKind::Memory,
                "the memory is not available to this host call: the instance exports no memory, \
                 or the call is over (a Caller is valid until its host function returns or its \
                 promise settles)",
            ));
        };
        // SAFETY: `base` and `len` describe the live memory of the parked
        // guest (see `Window`); the lock is held for the whole access, and
        // the window is closed under it before the guest runs again.
        let bytes = unsafe { std::slice::from_raw_parts_mut(base, len) };
        access(bytes, window.instance_id)
    }

    /// Copies `length` bytes at `offset` out of the memory of call `token`.
    pub fn read(&self, token: u64, offset: i64, length: i64) -> Result<Vec<u8>, WasmError> {
        self.with(token, |bytes, id| {
            memory::read(bytes, offset, length, id).map(<[u8]>::to_vec)
        })
    }

    /// Copies `data` into the memory of call `token` at `offset`.
    pub fn write(&self, token: u64, offset: i64, data: &[u8]) -> Result<(), WasmError> {
        self.with(token, |bytes, id| memory::write(bytes, offset, data, id))
    }
}
