//! Components from JavaScript: `compileComponent`, `NativeComponent` (what
//! a compiled component exports and imports) and `NativeComponentInstance`
//! (its calls, on this thread, under the engine's limits).
//!
//! Values cross as `component_values` converts them. Imports are answered
//! by one JavaScript dispatcher per instance, `dispatch(index, args)`,
//! which the TypeScript layer builds from the user's import object; it is
//! called on this thread, inside the synchronous call that entered the
//! guest.

use std::cell::Cell;
use std::sync::Arc;

use napi::JsValue as _;
use napi::bindgen_prelude::ToNapiValue;
use napi::bindgen_prelude::{Env, Function, ObjectFinalize, Unknown};
use napi::sys::{napi_env, napi_value};
use napi_derive::napi;
use wasm_engine_core::component::types::Type;
use wasm_engine_core::component::{
    Component, ComponentImports, ComponentTarget, FunctionItem, Val,
};
use wasm_engine_core::request::{self, Reply};
use wasm_engine_core::{Compiler, Engine, HostFailure, HostState, Site, WasmError};

use crate::component_values::{self as values, camel, type_name};
use crate::convert::{self, argument};
use crate::deliver::Deliverer;
use crate::engine::NativeEngine;
use crate::env::EnvData;
use crate::errors::{self, or_throw};
use crate::js::{self, Raw};
use crate::reference::JsValue;
use crate::requests::{JsAnswer, Pending, Ran, Requests, Thrown};
use crate::signal;
use crate::submit::{self, Answer, Lane, Work};
use crate::values::describe;

/// A compiled component.
#[napi]
pub struct NativeComponent {
    component: Component,
    exports: Arc<[FunctionItem]>,
    imports: Arc<[FunctionItem]>,
}

/// Whether `ty` (and what it holds) can cross; `Err` names what cannot.
fn passable(ty: &Type) -> Result<(), String> {
    match ty {
        Type::List(list) => passable(&list.ty()),
        Type::Option(option) => passable(&option.ty()),
        Type::Record(record) => record.fields().try_for_each(|f| passable(&f.ty)),
        Type::Tuple(tuple) => tuple.types().try_for_each(|t| passable(&t)),
        Type::Variant(variant) => variant
            .cases()
            .filter_map(|c| c.ty)
            .try_for_each(|t| passable(&t)),
        Type::Result(result) => {
            result.ok().map_or(Ok(()), |t| passable(&t))?;
            result.err().map_or(Ok(()), |t| passable(&t))
        }
        Type::Own(_)
        | Type::Borrow(_)
        | Type::Map(_)
        | Type::Future(_)
        | Type::Stream(_)
        | Type::ErrorContext
        | Type::FixedLengthList(_) => Err(type_name(ty)),
        _ => Ok(()),
    }
}

/// Refuses a function whose parameters or results cannot cross yet.
fn check(function: &FunctionItem, side: &str) -> Result<(), WasmError> {
    let types = function
        .ty
        .params()
        .map(|(_, ty)| ty)
        .chain(function.ty.results());
    for ty in types {
        if let Err(what) = passable(&ty) {
            return Err(WasmError::new(
                wasm_engine_core::ErrorKind::Instantiation,
                format!(
                    "the component {side} {}, whose type uses {what}, which this engine cannot pass yet",
                    function.path()
                ),
            ));
        }
    }
    Ok(())
}

/// A type as the TypeScript layer describes it: `{ kind, ... }`.
unsafe fn type_to_js(env: napi_env, ty: &Type) -> Raw<napi_value> {
    // SAFETY: the caller's contract.
    unsafe {
        let object = js::object(env)?;
        let kind = |k: &str| js::string(env, k);
        let name = type_name(ty);
        let short = name.split([' ', '<']).next().unwrap_or("");
        js::set_property(env, object, "kind", kind(short)?)?;
        js::set_property(env, object, "wit", js::string(env, &name)?)?;
        match ty {
            Type::List(list) => {
                js::set_property(env, object, "element", type_to_js(env, &list.ty())?)?
            }
            Type::Option(option) => {
                js::set_property(env, object, "inner", type_to_js(env, &option.ty())?)?
            }
            Type::Result(result) => {
                let side = |t: Option<Type>| match t {
                    Some(t) => type_to_js(env, &t),
                    None => js::null(env),
                };
                js::set_property(env, object, "ok", side(result.ok())?)?;
                js::set_property(env, object, "err", side(result.err())?)?;
            }
            Type::Record(record) => {
                let fields: Vec<_> = record.fields().collect();
                let list = js::array_of(
                    env,
                    fields.len(),
                    fields.iter().map(|f| {
                        let field = js::object(env)?;
                        js::set_property(env, field, "name", js::string(env, &camel(f.name))?)?;
                        js::set_property(env, field, "type", type_to_js(env, &f.ty)?)?;
                        Ok(field)
                    }),
                )?;
                js::set_property(env, object, "fields", list)?;
            }
            Type::Tuple(tuple) => {
                let types: Vec<_> = tuple.types().collect();
                let list =
                    js::array_of(env, types.len(), types.iter().map(|t| type_to_js(env, t)))?;
                js::set_property(env, object, "types", list)?;
            }
            Type::Variant(variant) => {
                let cases: Vec<_> = variant.cases().collect();
                let list = js::array_of(
                    env,
                    cases.len(),
                    cases.iter().map(|c| {
                        let case = js::object(env)?;
                        js::set_property(env, case, "name", js::string(env, c.name)?)?;
                        let payload = match &c.ty {
                            Some(t) => type_to_js(env, t)?,
                            None => js::null(env)?,
                        };
                        js::set_property(env, case, "type", payload)?;
                        Ok(case)
                    }),
                )?;
                js::set_property(env, object, "cases", list)?;
            }
            Type::Enum(e) => {
                let names: Vec<_> = e.names().collect();
                let list =
                    js::array_of(env, names.len(), names.iter().map(|n| js::string(env, n)))?;
                js::set_property(env, object, "names", list)?;
            }
            Type::Flags(flags) => {
                let names: Vec<_> = flags.names().map(camel).collect();
                let list =
                    js::array_of(env, names.len(), names.iter().map(|n| js::string(env, n)))?;
                js::set_property(env, object, "names", list)?;
            }
            _ => {}
        }
        Ok(object)
    }
}

/// The functions `items` as `{ interface, name, params: [{ name, type }], results: [type] }`.
unsafe fn functions_to_js(env: napi_env, items: &[FunctionItem]) -> Raw<napi_value> {
    // SAFETY: the caller's contract.
    unsafe {
        js::array_of(
            env,
            items.len(),
            items.iter().map(|item| {
                let object = js::object(env)?;
                let interface = match &item.interface {
                    Some(name) => js::string(env, name)?,
                    None => js::null(env)?,
                };
                js::set_property(env, object, "interface", interface)?;
                js::set_property(env, object, "name", js::string(env, &item.name)?)?;
                let params: Vec<_> = item.ty.params().collect();
                let list = js::array_of(
                    env,
                    params.len(),
                    params.iter().map(|(name, ty)| {
                        let param = js::object(env)?;
                        js::set_property(env, param, "name", js::string(env, &camel(name))?)?;
                        js::set_property(env, param, "type", type_to_js(env, ty)?)?;
                        Ok(param)
                    }),
                )?;
                js::set_property(env, object, "params", list)?;
                let results: Vec<_> = item.ty.results().collect();
                let list = js::array_of(
                    env,
                    results.len(),
                    results.iter().map(|t| type_to_js(env, t)),
                )?;
                js::set_property(env, object, "results", list)?;
                Ok(object)
            }),
        )
    }
}

impl NativeComponent {
    /// Compiles `wasm` with `compiler` and reads its world.
    fn compile(compiler: &Compiler, wasm: &[u8]) -> Result<NativeComponent, WasmError> {
        let component = compiler.compile_component(wasm)?;
        Ok(NativeComponent {
            exports: component.exports()?.into(),
            imports: component.imports()?.into(),
            component,
        })
    }
}

/// The code of a component, copied on this thread: bytes, or WebAssembly
/// text (translated where it is compiled).
fn source(env: napi_env, code: napi_value) -> Result<Result<Vec<u8>, String>, WasmError> {
    if js::type_of_is_string(env, code) {
        convert::string(env, code, "code").map(Err)
    } else {
        convert::bytes(env, code, "code").map(Ok)
    }
}

fn binary(source: Result<Vec<u8>, String>) -> Result<Vec<u8>, WasmError> {
    source.or_else(|text| wasm_engine_core::parse_text(&text))
}

/// Compiles the component `code` (bytes, or WebAssembly text) on this
/// thread, cached by content hash.
#[napi(
    catch_unwind,
    ts_args_type = "engine: NativeEngine, code: Uint8Array | string"
)]
pub fn compile_component(
    env: Env,
    engine: &NativeEngine,
    code: Unknown<'_>,
) -> napi::Result<NativeComponent> {
    let raw = env.raw();
    let compiled = source(raw, code.raw())
        .and_then(binary)
        .and_then(|wasm| NativeComponent::compile(&engine.core().compiler()?, &wasm));
    or_throw(raw, compiled)
}

/// A compiled component, as `compileComponentAsync`'s promise resolves.
struct Compiled(NativeComponent);

impl Answer for Compiled {
    unsafe fn to_js(self: Box<Self>, env: napi_env) -> Raw<napi_value> {
        // SAFETY: the caller's contract.
        unsafe { NativeComponent::to_napi_value(env, self.0) }
            .map_err(|_| js::Failed(napi::sys::Status::napi_generic_failure))
    }
}

/// Compiles like `compileComponent`, on a worker (waiting for no engine).
#[napi(
    catch_unwind,
    ts_args_type = "engine: NativeEngine, code: Uint8Array | string",
    ts_return_type = "Promise<NativeComponent>"
)]
pub fn compile_component_async<'e>(
    env: &'e Env,
    engine: &NativeEngine,
    code: Unknown<'e>,
) -> napi::Result<Unknown<'e>> {
    let raw = env.raw();
    let input = or_throw(raw, source(raw, code.raw()))?;
    let compiler = or_throw(raw, engine.core().compiler())?;
    let work = Work {
        what: "a component compile".into(),
        abort: None,
        keep: Vec::new(),
        run: Box::new(move || {
            let compiled = NativeComponent::compile(&compiler, &binary(input)?)?;
            Ok(Box::new(Compiled(compiled)) as Box<dyn Answer>)
        }),
    };
    // SAFETY: a Node-API callback on `raw`'s thread.
    unsafe {
        let promise = submit::submit(raw, Lane::Alone, work).map_err(errors::failed)?;
        Ok(Unknown::from_raw_unchecked(raw, promise))
    }
}

#[napi]
impl NativeComponent {
    /// The functions the component exports.
    #[napi(getter, ts_return_type = "unknown[]")]
    pub fn exports(&self, env: Env) -> napi::Result<Unknown<'_>> {
        let raw = env.raw();
        // SAFETY: a Node-API callback on `raw`'s thread.
        unsafe {
            let value = functions_to_js(raw, &self.exports).map_err(errors::failed)?;
            Ok(Unknown::from_raw_unchecked(raw, value))
        }
    }

    /// The functions the component imports.
    #[napi(getter, ts_return_type = "unknown[]")]
    pub fn imports(&self, env: Env) -> napi::Result<Unknown<'_>> {
        let raw = env.raw();
        // SAFETY: a Node-API callback on `raw`'s thread.
        unsafe {
            let value = functions_to_js(raw, &self.imports).map_err(errors::failed)?;
            Ok(Unknown::from_raw_unchecked(raw, value))
        }
    }
}

/// The user's imports, through the instance's dispatcher.
struct JsImports {
    /// `dispatch(index, args, token)`: runs the import `imports[index]`;
    /// returns `[value]`, or `undefined` when a promise will answer
    /// through `resolveRequest(token, ...)` (token 0: a synchronous call,
    /// which cannot wait).
    dispatch: Arc<JsValue>,
    env: napi_env,
    deliverer: Arc<Deliverer>,
    requests: Arc<Requests>,
    imports: Arc<[FunctionItem]>,
    defined: Vec<bool>,
}

// SAFETY: `env` is used only on the JavaScript thread: `call` runs
// JavaScript directly only there (checked), and otherwise posts through
// the deliverer, whose deliveries run there.
unsafe impl Send for JsImports {}
// SAFETY: as above.
unsafe impl Sync for JsImports {}

impl JsImports {
    fn index(&self, function: &FunctionItem) -> Option<usize> {
        self.imports
            .iter()
            .position(|f| f.interface == function.interface && f.name == function.name)
    }
}

/// Calls `dispatch(index, args, token)` for the import `function` with
/// `params`: the value at hand, `Later`, or what it threw.
///
/// # Safety
/// On `env`'s thread inside a callback or handle scope.
unsafe fn dispatch(
    env: napi_env,
    dispatch: &JsValue,
    index: usize,
    function: &FunctionItem,
    params: &[Val],
    token: u64,
) -> Ran {
    let path = function.path();
    let broken = |_| HostFailure::new(format!("cannot call the import {path}: Node-API failed"));
    // SAFETY: the caller's contract.
    let ran = unsafe {
        (|| -> Result<Ran, HostFailure> {
            let Some(dispatch) = dispatch.get(env).map_err(broken)? else {
                return Err(HostFailure::new("the component's imports are gone"));
            };
            let types: Vec<Type> = function.ty.params().map(|(_, ty)| ty).collect();
            let args = js::array_of(
                env,
                params.len(),
                params
                    .iter()
                    .zip(&types)
                    .map(|(v, ty)| values::to_js(env, v, ty)),
            )
            .map_err(broken)?;
            let argv = [
                js::double(env, index as f64).map_err(broken)?,
                args,
                js::double(env, token as f64).map_err(broken)?,
            ];
            Ok(match js::call(env, dispatch, &argv).map_err(broken)? {
                Err(thrown) => Ran::Threw(thrown),
                Ok(returned) if js::is_array(env, returned) => {
                    Ran::Answered(js::element(env, returned, 0).map_err(broken)?)
                }
                Ok(_) => Ran::Later,
            })
        })()
    };
    ran.unwrap_or_else(Ran::Failed)
}

/// The import's result from what JavaScript gave: one value or none.
///
/// # Safety
/// On `env`'s thread inside a callback or handle scope.
unsafe fn answer(
    env: napi_env,
    function: &FunctionItem,
    outcome: JsAnswer,
) -> Result<Option<Val>, HostFailure> {
    let path = function.path();
    // SAFETY: the caller's contract.
    unsafe {
        match outcome {
            Err(thrown) => Err(HostFailure::new(format!(
                "the import {path} {}: {}",
                thrown.verb(),
                describe(env, thrown.value)
            ))),
            Ok(value) => match function.ty.results().next() {
                None => Ok(None),
                Some(ty) => values::from_js(env, value, &format!("the result of {path}"), &ty)
                    .map(Some)
                    .map_err(|err| HostFailure::new(err.message().to_owned())),
            },
        }
    }
}

/// An import call posted from a worker, waiting for JavaScript.
struct Waiting {
    reply: Reply<Option<Val>>,
    function: FunctionItem,
}

impl Pending for Waiting {
    unsafe fn settle(self: Box<Self>, env: napi_env, outcome: JsAnswer) {
        // SAFETY: the caller's contract.
        let answer = unsafe { answer(env, &self.function, outcome) };
        self.reply.send(answer);
    }

    fn fail(self: Box<Self>, failure: HostFailure) {
        self.reply.send(Err(failure));
    }
}

impl ComponentImports for JsImports {
    fn defines(&self, function: &FunctionItem) -> bool {
        self.index(function).is_some_and(|i| self.defined[i])
    }

    fn call(
        &self,
        guest: &HostState,
        function: &FunctionItem,
        params: &[Val],
        results: &mut [Val],
    ) -> wasmtime::Result<()> {
        let path = function.path();
        let index = self
            .index(function)
            .ok_or_else(|| HostFailure::new(format!("the import {path} is not defined")))?;
        let answered = if guest.site() == Site::Direct && self.deliverer.on_js_thread() {
            let env = self.env;
            // SAFETY: on the JavaScript thread (checked), inside the
            // callback of the synchronous call that entered the guest;
            // every value lives in the scope opened here.
            let outcome = unsafe {
                js::scoped(env, || {
                    match dispatch(env, &self.dispatch, index, function, params, 0) {
                        Ran::Answered(value) => answer(env, function, Ok(value)),
                        Ran::Threw(value) => answer(
                            env,
                            function,
                            Err(Thrown {
                                value,
                                rejected: false,
                            }),
                        ),
                        Ran::Later => Err(HostFailure::new(format!(
                            "the import {path} returned a promise, which a synchronous call cannot \
                         wait for: call through exportsAsync"
                        ))),
                        Ran::Failed(failure) => Err(failure),
                    }
                })
            };
            outcome
                .unwrap_or_else(|_| Err(HostFailure::new(format!("cannot call the import {path}"))))
        } else {
            let token = request::token();
            let js = self.dispatch.clone();
            let item = function.clone();
            let params = params.to_vec();
            request::ask(
                guest,
                &format!("the call of the import {path}"),
                |reply| {
                    self.requests.post(
                        &self.deliverer,
                        token,
                        Box::new(Waiting {
                            reply,
                            function: function.clone(),
                        }),
                        // SAFETY: deliveries run on `env`'s thread in a scope.
                        move |env, token| unsafe {
                            dispatch(env, &js, index, &item, &params, token)
                        },
                    );
                    Ok(())
                },
                || self.requests.abandon(token),
            )
            .map_err(wasmtime::Error::new)?
        };
        if let Some(value) = answered? {
            results[0] = value;
        }
        Ok(())
    }
}

/// A component instance; its calls run on the calling thread.
#[napi(custom_finalize)]
pub struct NativeComponentInstance {
    engine: Arc<Engine>,
    /// A cell, not `&mut self`: `drop()` from inside one of the instance's
    /// own calls (an import) then meets the busy engine, not a borrow error.
    target: Cell<Option<ComponentTarget>>,
    exports: Arc<[FunctionItem]>,
}

static NEXT_COMPONENT_ID: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);

/// Instantiates `component` on `engine`; `defined[i]` says whether the
/// import `component.imports[i]` is given, `dispatch(i, args)` runs it.
#[napi(
    catch_unwind,
    ts_args_type = "engine: NativeEngine, component: NativeComponent, defined: boolean[], dispatch: (index: number, args: unknown[], token: number) => unknown"
)]
pub fn instantiate_component(
    env: Env,
    engine: &NativeEngine,
    component: &NativeComponent,
    defined: Vec<bool>,
    dispatch: Function<'_>,
) -> napi::Result<NativeComponentInstance> {
    let raw = env.raw();
    let made = (|| {
        for function in component.exports.iter() {
            check(function, "exports")?;
        }
        for function in component.imports.iter() {
            check(function, "imports")?;
        }
        if defined.len() != component.imports.len() {
            return Err(argument("defined must have one entry per import"));
        }
        // SAFETY: a Node-API callback on `raw`'s thread.
        let dispatch = unsafe { JsValue::strong(raw, dispatch.raw()) }.map_err(convert::broken)?;
        // SAFETY: as above.
        let data = unsafe { EnvData::of(raw) }.map_err(convert::broken)?;
        let host = Arc::new(JsImports {
            dispatch: Arc::new(dispatch),
            env: raw,
            deliverer: data.deliverer.clone(),
            requests: data.requests.clone(),
            imports: component.imports.clone(),
            defined,
        });
        let engine = engine.core().clone();
        let id = NEXT_COMPONENT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let target = engine.enter(Site::Direct, |state| {
            state.instantiate_component(&component.component, id, host)
        })?;
        Ok(NativeComponentInstance {
            engine,
            target: Cell::new(Some(target)),
            exports: component.exports.clone(),
        })
    })();
    or_throw(raw, made)
}

/// What an export returned, with the function that says its type.
struct Returned {
    results: Vec<Val>,
    function: FunctionItem,
}

impl Returned {
    /// # Safety
    /// On `env`'s thread inside a callback or handle scope.
    unsafe fn js(&self, env: napi_env) -> Raw<napi_value> {
        // SAFETY: the caller's contract.
        unsafe {
            match (self.results.first(), self.function.ty.results().next()) {
                (Some(value), Some(ty)) => values::to_js(env, value, &ty),
                _ => js::undefined(env),
            }
        }
    }
}

impl Answer for Returned {
    unsafe fn to_js(self: Box<Self>, env: napi_env) -> Raw<napi_value> {
        // SAFETY: the caller's contract.
        unsafe { self.js(env) }
    }
}

impl NativeComponentInstance {
    /// The call of `exports[index]` with the array `args`: the instance,
    /// the function and the arguments converted (refused as `TypeError`s
    /// naming the argument and its type).
    fn arguments(
        &self,
        env: napi_env,
        index: u32,
        args: napi_value,
    ) -> Result<(ComponentTarget, FunctionItem, Vec<Val>), WasmError> {
        let target = self.target()?;
        let function = self
            .exports
            .get(index as usize)
            .ok_or_else(|| argument(format!("no export number {index}")))?;
        let params: Vec<(String, Type)> = function
            .ty
            .params()
            .map(|(name, ty)| (camel(name), ty))
            .collect();
        // SAFETY: a Node-API callback on `env`'s thread (every caller).
        let given = unsafe {
            if !js::is_array(env, args) {
                return Err(argument("args must be an array"));
            }
            js::array_length(env, args).map_err(convert::broken)? as usize
        };
        if given != params.len() {
            let noun = if params.len() == 1 {
                "argument"
            } else {
                "arguments"
            };
            return Err(argument(format!(
                "{} takes {} {noun}, got {given}",
                function.path(),
                params.len()
            )));
        }
        let mut values_in = Vec::with_capacity(params.len());
        for (i, (name, ty)) in params.iter().enumerate() {
            // SAFETY: as above; `i` is within the array.
            let arg = unsafe { js::element(env, args, i as u32) }.map_err(convert::broken)?;
            values_in.push(values::from_js(
                env,
                arg,
                &format!("argument {name} of {}", function.path()),
                ty,
            )?);
        }
        Ok((target, function.clone(), values_in))
    }

    fn target(&self) -> Result<ComponentTarget, WasmError> {
        self.target.get().ok_or_else(|| {
            WasmError::new(
                wasm_engine_core::ErrorKind::InvalidHandle,
                "the component instance was dropped",
            )
        })
    }
}

impl ObjectFinalize for NativeComponentInstance {
    /// Collected without `drop()`: the instance goes now, or, when its
    /// engine is busy, as soon as the operation in progress ends.
    fn finalize(self, _env: Env) -> napi::Result<()> {
        if let Some(target) = self.target.get() {
            self.engine.release_component(target);
        }
        Ok(())
    }
}

#[napi]
impl NativeComponentInstance {
    /// Calls the export `exports[index]` with `args` (one per parameter)
    /// on this thread; returns its result (`undefined` when it has none).
    #[napi(catch_unwind, ts_args_type = "index: number, args: unknown[]")]
    pub fn call<'e>(&self, env: Env, index: u32, args: Unknown<'e>) -> napi::Result<Unknown<'e>> {
        let raw = env.raw();
        let outcome =
            self.arguments(raw, index, args.raw())
                .and_then(|(target, function, params)| {
                    let results = self.engine.enter(Site::Direct, |state| {
                        state.call_component(target, &function, &params, None)
                    })?;
                    Ok(Returned { results, function })
                });
        let returned = or_throw(raw, outcome)?;
        // SAFETY: a Node-API callback on `raw`'s thread.
        unsafe {
            let value = returned.js(raw).map_err(errors::failed)?;
            Ok(Unknown::from_raw_unchecked(raw, value))
        }
    }

    /// Queues a call of the export `exports[index]` with `args` on the
    /// engine's workers, behind its earlier calls, stoppable through
    /// `signal`; returns a promise of its result. `instance` is this
    /// instance's own object, held until the call settles so that the
    /// instance outlives the call whatever the caller drops. Its imports
    /// run on the JavaScript thread and may answer with promises.
    #[napi(
        catch_unwind,
        ts_args_type = "instance: NativeComponentInstance, index: number, args: unknown[], signal: CallSignal | undefined",
        ts_return_type = "Promise<unknown>"
    )]
    pub fn call_async<'e>(
        &self,
        env: Env,
        instance: Unknown<'e>,
        index: u32,
        args: Unknown<'e>,
        signal: Unknown<'e>,
    ) -> napi::Result<Unknown<'e>> {
        let raw = env.raw();
        let prepared = (|| {
            let (target, function, params) = self.arguments(raw, index, args.raw())?;
            // SAFETY: a Node-API callback on `raw`'s thread.
            let abort = unsafe { signal::flag_of(raw, signal.raw()) }?;
            // SAFETY: as above; `instance` is an object.
            let kept = unsafe { JsValue::weak(raw, instance.raw()) }.map_err(convert::broken)?;
            Ok((target, function, params, abort, kept))
        })();
        let (target, function, params, abort, kept) = or_throw(raw, prepared)?;
        let engine = self.engine.clone();
        let job_abort = abort.clone();
        let work = Work {
            what: format!("{} of component instance {}", function.path(), target.id).into(),
            abort,
            keep: vec![Arc::new(kept)],
            run: Box::new(move || {
                let results = engine.enter(Site::Worker, |state| {
                    state.call_component(target, &function, &params, job_abort.as_ref())
                })?;
                Ok(Box::new(Returned { results, function }) as Box<dyn Answer>)
            }),
        };
        // SAFETY: a Node-API callback on `raw`'s thread.
        unsafe {
            let promise =
                submit::submit(raw, Lane::Engine(&self.engine), work).map_err(errors::failed)?;
            Ok(Unknown::from_raw_unchecked(raw, promise))
        }
    }

    /// Drops the instance; later calls fail with `InvalidHandleError`.
    /// Idempotent.
    #[napi(catch_unwind)]
    pub fn drop_instance(&self, env: Env) -> napi::Result<()> {
        let Some(target) = self.target.get() else {
            return Ok(());
        };
        let dropped = self
            .engine
            .enter(Site::Direct, |state| Ok(state.drop_component(target)));
        or_throw(env.raw(), dropped)?;
        self.target.set(None);
        Ok(())
    }
}
