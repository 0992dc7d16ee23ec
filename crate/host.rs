//! Host functions written in JavaScript, imported by guests.
//!
//! The TypeScript layer registers one *dispatcher* per engine and a list of
//! `(namespace, name, asynchronous)` descriptors; the descriptor's position
//! is the function's index. When a guest calls such an import, a
//! [`HostCall`] carrying the index, the arguments and a window on the
//! guest's memory reaches the dispatcher, which runs the user's function
//! and answers through `HostCall.resolve` or `HostCall.reject`.
//!
//! JavaScript only ever runs on the JavaScript thread, on its own stack:
//! - a guest entered synchronously from JavaScript calls the dispatcher
//!   directly (it is already on that thread); asynchronous imports are
//!   refused there, since awaiting a promise would need the event loop the
//!   call is blocking;
//! - a guest running on a tokio thread posts the call through a
//!   threadsafe function and parks its thread until the answer arrives, the
//!   deadline passes or the call is aborted. No fiber is involved, so V8
//!   never runs on a stack it does not know.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::ThreadId;

use napi::bindgen_prelude::{BigInt, Either3, FromNapiValue, Function, FunctionRef, Uint8Array};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Either, Env, JsValue, Status, sys};
use napi_derive::napi;
use wasmtime::{Caller, Extern, Func, Store, Val, ValType};

use crate::deadline::TICK;
use crate::error::{Result, WasmError};
use crate::memory;
use crate::store::HostState;
use crate::values::{Kind, Value, kinds};

/// A registered JavaScript import, as the TypeScript layer describes it.
#[napi(object)]
pub struct ImportDescriptor {
    pub module: String,
    pub name: String,
    /// True for functions that return a promise.
    pub asynchronous: bool,
}

/// The threadsafe function that carries host calls to the dispatcher.
/// Weak: a pending host call never keeps Node alive by itself (the call
/// that made it does).
type Dispatcher = ThreadsafeFunction<HostCall, (), HostCall, Status, false, true, 0>;

/// The JavaScript functions an engine offers as imports.
pub(crate) struct Imports {
    functions: HashMap<(String, String), Import>,
    dispatcher: Option<Dispatcher>,
    /// Numbers host calls, so a failure can be matched with its JavaScript
    /// cause.
    next_seq: AtomicU64,
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
    /// Imports served by `dispatcher`, one per descriptor.
    pub(crate) fn new(
        descriptors: Vec<ImportDescriptor>,
        dispatcher: Option<&Function<'_, HostCall, ()>>,
    ) -> Result<Imports> {
        let mut functions = HashMap::new();
        for (index, descriptor) in descriptors.into_iter().enumerate() {
            let index =
                u32::try_from(index).map_err(|_| WasmError::Argument("too many imports".into()))?;
            functions.insert(
                (descriptor.module, descriptor.name),
                Import {
                    index,
                    asynchronous: descriptor.asynchronous,
                },
            );
        }
        let dispatcher = match dispatcher {
            Some(function) if !functions.is_empty() => Some(
                function
                    .build_threadsafe_function::<HostCall>()
                    .weak::<true>()
                    .callee_handled::<false>()
                    .build_callback(|ctx| Ok(ctx.value))
                    .map_err(WasmError::from)?,
            ),
            _ => None,
        };
        Ok(Imports {
            functions,
            dispatcher,
            next_seq: AtomicU64::new(1),
        })
    }

    /// Whether `module` imports an asynchronous JavaScript function.
    pub(crate) fn any_async(&self, module: &wasmtime::Module) -> bool {
        module.imports().any(|import| {
            self.functions
                .get(&(import.module().to_owned(), import.name().to_owned()))
                .is_some_and(|f| f.asynchronous)
        })
    }

    /// The externs that satisfy `module`'s imports, created in `store` for
    /// the instance `id`, in the module's import order.
    pub(crate) fn resolve(
        self: &Arc<Self>,
        store: &mut Store<HostState>,
        module: &wasmtime::Module,
        id: i64,
    ) -> std::result::Result<Vec<Extern>, WasmError> {
        let mut externs = Vec::new();
        for import in module.imports() {
            let qualified: Arc<str> = format!("{}.{}", import.module(), import.name()).into();
            let Some(&found) = self
                .functions
                .get(&(import.module().to_owned(), import.name().to_owned()))
            else {
                return Err(WasmError::Instantiation(format!(
                    "instance {id} imports {qualified}, which this engine does not provide \
                     (register it in EngineOptions.imports or asyncImports)"
                )));
            };
            let wasmtime::ExternType::Func(ty) = import.ty() else {
                return Err(WasmError::Instantiation(format!(
                    "instance {id} imports {qualified} as a {}, but JavaScript imports are functions",
                    describe_extern(&import.ty())
                )));
            };
            let unsupported = |t: &ValType| {
                WasmError::Instantiation(format!(
                    "import {qualified} of instance {id} uses the type {t}, which JavaScript host functions do not support"
                ))
            };
            kinds(ty.params(), unsupported)?;
            let binding = Arc::new(Binding {
                import: found,
                qualified: qualified.clone(),
                results: kinds(ty.results(), unsupported)?.into(),
            });
            let imports = self.clone();
            let func = Func::new(&mut *store, ty, move |mut caller, params, results| {
                imports.invoke(&mut caller, &binding, params, results)
            });
            externs.push(Extern::Func(func));
        }
        Ok(externs)
    }

    /// Runs one host call for a guest and writes its results.
    fn invoke(
        &self,
        caller: &mut Caller<'_, HostState>,
        binding: &Binding,
        params: &[Val],
        results: &mut [Val],
    ) -> wasmtime::Result<()> {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let failure = |message: String| wasmtime::Error::new(HostFailure { seq, message });
        let args = params
            .iter()
            .map(Value::from_val)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(failure)?;
        let window = Arc::new(Window::of(caller));
        let (reply, answer) = mpsc::channel();
        let call = HostCall {
            index: binding.import.index,
            seq,
            instance_id: caller.data().instance_id(),
            args,
            results: binding.results.clone(),
            import: binding.qualified.clone(),
            window: window.clone(),
            reply: Mutex::new(Some(reply)),
        };
        let outcome = match caller.data().site() {
            Site::JsThread(js) => {
                if binding.import.asynchronous {
                    return Err(failure(format!(
                        "import {} is asynchronous and cannot be awaited on the JavaScript thread: \
                         call the export with call3i64AsyncImports",
                        binding.qualified
                    )));
                }
                js.dispatch(call).map_err(|err| failure(err.to_string()))?;
                answer.try_recv().unwrap_or_else(|_| {
                    Err(HostFailure {
                        seq,
                        message: format!("host function {} did not answer", binding.qualified),
                    })
                })
            }
            Site::Worker => {
                let Some(dispatcher) = &self.dispatcher else {
                    return Err(failure("this engine has no JavaScript imports".into()));
                };
                let status = dispatcher.call(call, ThreadsafeFunctionCallMode::NonBlocking);
                if status != Status::Ok {
                    return Err(failure(format!(
                        "cannot reach JavaScript to call {} ({status})",
                        binding.qualified
                    )));
                }
                loop {
                    match answer.recv_timeout(TICK) {
                        Ok(outcome) => break outcome,
                        Err(RecvTimeoutError::Timeout) => {
                            if let Some(interrupt) = caller.data().interrupted() {
                                window.close();
                                return Err(wasmtime::Error::new(interrupt));
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => {
                            break Err(HostFailure {
                                seq,
                                message: format!(
                                    "the call of {} was dropped unanswered",
                                    binding.qualified
                                ),
                            });
                        }
                    }
                }
            }
        };
        window.close();
        let values = outcome.map_err(wasmtime::Error::new)?;
        for (slot, value) in results.iter_mut().zip(values) {
            *slot = value.into_val();
        }
        Ok(())
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

/// A JavaScript host function failed, or answered with the wrong values.
#[derive(Debug)]
pub(crate) struct HostFailure {
    /// The host call's number; the TypeScript layer keeps the thrown value
    /// under it, to become the `RuntimeError`'s `cause`.
    pub(crate) seq: u64,
    pub(crate) message: String,
}

impl std::fmt::Display for HostFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HostFailure {}

/// Where the guest entry in progress runs.
#[derive(Default, Clone, Copy)]
pub(crate) enum Site {
    /// A tokio thread: JavaScript is reached through the threadsafe function.
    #[default]
    Worker,
    /// The JavaScript thread, inside a synchronous call from JavaScript.
    JsThread(JsThread),
}

/// The JavaScript thread's environment and dispatcher during one
/// synchronous call.
#[derive(Clone, Copy)]
pub(crate) struct JsThread {
    env: sys::napi_env,
    dispatcher: sys::napi_value,
    thread: ThreadId,
}

// SAFETY: a `JsThread` is created on the JavaScript thread for the length of
// one synchronous call from JavaScript, stored in that call's store and
// cleared before the call returns. `dispatch` checks that it runs on the
// thread that created it before touching either pointer, so they are never
// used from another thread even though the store may later move to one.
unsafe impl Send for JsThread {}

impl JsThread {
    /// The site of a synchronous call from JavaScript that may reach
    /// `dispatcher`.
    pub(crate) fn new(env: &Env, dispatcher: &FunctionRef<HostCall, ()>) -> Result<JsThread> {
        let function = dispatcher.borrow_back(env).map_err(WasmError::from)?;
        Ok(JsThread {
            env: env.raw(),
            dispatcher: function.raw(),
            thread: std::thread::current().id(),
        })
    }

    /// Calls the dispatcher with `call`, in a handle scope of its own so a
    /// guest that calls its imports a million times does not pile up a
    /// million handles.
    fn dispatch(&self, call: HostCall) -> std::result::Result<(), WasmError> {
        if std::thread::current().id() != self.thread {
            return Err(WasmError::Other(
                "a JavaScript host call left the JavaScript thread".into(),
            ));
        }
        let mut scope = std::ptr::null_mut();
        // SAFETY: on the thread that owns `env` (checked above), inside the
        // Node-API callback of the synchronous call that created `self`, so
        // `env` is live and `dispatcher` is a valid handle of that callback's
        // scope. The scope opened here is closed below on every path.
        unsafe {
            if sys::napi_open_handle_scope(self.env, &mut scope) != sys::Status::napi_ok {
                return Err(WasmError::Other(
                    "cannot open a handle scope for a host call".into(),
                ));
            }
            let outcome = Function::<HostCall, ()>::from_napi_value(self.env, self.dispatcher)
                .and_then(|function| function.call(call));
            sys::napi_close_handle_scope(self.env, scope);
            outcome.map_err(|err| {
                WasmError::Other(format!(
                    "the host function dispatcher failed: {}",
                    err.reason
                ))
            })
        }
    }
}

/// What a host function gave back: nothing, one number or bigint, or an
/// array of them for several results.
type Returned = Option<Either3<f64, BigInt, Vec<Either<f64, BigInt>>>>;

/// The answer to a host call: the results, or why there are none.
type Answer = std::result::Result<Vec<Value>, HostFailure>;

/// The guest memory a host call may use: the instance's exported `memory`
/// as it is while the guest waits for the call. Closed when the call
/// returns, after which every access is refused.
struct Window {
    view: Mutex<Option<View>>,
}

/// Base and length of a guest memory.
struct View {
    base: *mut u8,
    len: usize,
}

// SAFETY: `View` is only reached through `Window`'s mutex. The memory it
// points to belongs to a guest that is parked in `Imports::invoke` until the
// window is closed (under the same mutex), so no other thread touches the
// memory meanwhile, and the memory cannot move or shrink: only the guest
// (parked) or the host through the store (held by the parked call) could
// grow it.
unsafe impl Send for View {}

impl Window {
    fn of(caller: &mut Caller<'_, HostState>) -> Window {
        let view = match caller.get_export("memory") {
            Some(Extern::Memory(memory)) => Some(View {
                base: memory.data_ptr(&*caller),
                len: memory.data_size(&*caller),
            }),
            _ => None,
        };
        Window {
            view: Mutex::new(view),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<View>> {
        self.view
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn close(&self) {
        self.lock().take();
    }
}

/// One call of a JavaScript import by a guest, as the dispatcher sees it.
/// Valid until its host function returns or its promise settles; after
/// that, memory access is refused.
#[napi]
pub struct HostCall {
    index: u32,
    seq: u64,
    instance_id: i64,
    args: Vec<Value>,
    results: Arc<[Kind]>,
    import: Arc<str>,
    window: Arc<Window>,
    reply: Mutex<Option<mpsc::Sender<Answer>>>,
}

#[napi]
impl HostCall {
    /// Position of the called function among the engine's imports.
    #[napi(getter)]
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The call's number, which a failure's error code carries.
    #[napi(getter)]
    pub fn seq(&self) -> f64 {
        self.seq as f64
    }

    /// `namespace.name` of the import.
    #[napi(getter)]
    pub fn import(&self) -> String {
        self.import.to_string()
    }

    /// The id of the calling instance.
    #[napi(getter)]
    pub fn instance_id(&self) -> BigInt {
        BigInt::from(self.instance_id)
    }

    /// The arguments: numbers for i32, f32 and f64, bigints for i64.
    #[napi(getter)]
    pub fn args(&self) -> Vec<Either<f64, BigInt>> {
        self.args.iter().map(|value| value.into_js()).collect()
    }

    /// Bytes of the caller's exported memory, 0 once the call is over or
    /// when there is none.
    #[napi(getter)]
    pub fn memory_size(&self) -> f64 {
        self.window
            .lock()
            .as_ref()
            .map_or(0.0, |view| view.len as f64)
    }

    /// Copies `length` bytes at `offset` out of the caller's memory.
    #[napi(catch_unwind)]
    pub fn read(&self, offset: f64, length: f64) -> Result<Uint8Array> {
        let window = self.window.lock();
        let view = self.open(&window)?;
        // SAFETY: `view` describes the live memory of the parked guest (see
        // `View`); the window's lock is held for the whole copy.
        let bytes = unsafe { std::slice::from_raw_parts(view.base, view.len) };
        Ok(Uint8Array::from(memory::read(
            bytes,
            offset,
            length,
            self.instance_id,
        )?))
    }

    /// Copies `data` into the caller's memory at `offset`.
    #[napi(catch_unwind)]
    pub fn write(&self, offset: f64, data: Uint8Array) -> Result<()> {
        let window = self.window.lock();
        let view = self.open(&window)?;
        // SAFETY: as in `read`; the guest is parked, so this is the only
        // access to the memory while the lock is held.
        let bytes = unsafe { std::slice::from_raw_parts_mut(view.base, view.len) };
        Ok(memory::write(bytes, offset, &data, self.instance_id)?)
    }

    /// Answers the call with the host function's return value. A value that
    /// does not match the import's result types fails the guest's call
    /// with a message saying what was expected. Returns false when the call
    /// was already answered or abandoned (its deadline passed).
    #[napi(
        catch_unwind,
        ts_args_type = "value?: number | bigint | Array<number | bigint>"
    )]
    pub fn resolve(&self, value: Returned) -> bool {
        let outcome = self.convert(value).map_err(|message| HostFailure {
            seq: self.seq,
            message: format!("host function {} returned {message}", self.import),
        });
        self.answer(outcome)
    }

    /// Fails the call: the host function threw, or its promise rejected.
    /// Returns false when the call was already answered or abandoned.
    #[napi(catch_unwind)]
    pub fn reject(&self, message: String) -> bool {
        self.answer(Err(HostFailure {
            seq: self.seq,
            message,
        }))
    }
}

impl HostCall {
    fn open<'a>(&self, window: &'a Option<View>) -> std::result::Result<&'a View, WasmError> {
        window.as_ref().ok_or_else(|| {
            WasmError::Memory(format!(
                "the memory of instance {} is not available to this call of {}: the instance exports no \
                 memory, or the call is over (a Caller is valid until its host function returns or its \
                 promise settles)",
                self.instance_id, self.import
            ))
        })
    }

    fn answer(&self, outcome: Answer) -> bool {
        let sender = self
            .reply
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        sender.is_some_and(|sender| sender.send(outcome).is_ok())
    }

    fn convert(&self, value: Returned) -> std::result::Result<Vec<Value>, String> {
        let expected = || match self.results.as_ref() {
            [] => "nothing".to_owned(),
            [one] => one.name().to_owned(),
            many => format!(
                "an array of {}",
                many.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")
            ),
        };
        let values: Vec<Either<f64, BigInt>> = match value {
            None => Vec::new(),
            Some(Either3::A(n)) => vec![Either::A(n)],
            Some(Either3::B(big)) => vec![Either::B(big)],
            Some(Either3::C(list)) if self.results.len() > 1 => list,
            Some(Either3::C(list)) => {
                return Err(format!(
                    "an array of {} values, expected {}",
                    list.len(),
                    expected()
                ));
            }
        };
        if values.len() != self.results.len() {
            return Err(format!("{} values, expected {}", values.len(), expected()));
        }
        values
            .iter()
            .zip(self.results.iter())
            .map(|(value, kind)| {
                Value::from_js(value, *kind).ok_or_else(|| {
                    let got = match value {
                        Either::A(n) => format!("the number {n}"),
                        Either::B(big) => format!("a bigint ({} words)", big.words.len()),
                    };
                    format!("{got} where {} was expected", kind.name())
                })
            })
            .collect()
    }
}
