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
use wasm_engine_core::{Compiler, Engine, HostFailure, Site, WasmError};

use crate::component_values::{self as values, camel, type_name};
use crate::convert::{self, argument};
use crate::engine::NativeEngine;
use crate::env::EnvData;
use crate::errors::{self, or_throw};
use crate::js::{self, Raw};
use crate::reference::JsValue;
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
    /// `dispatch(index, args)`: runs the import `imports[index]`.
    dispatch: JsValue,
    env: napi_env,
    imports: Arc<[FunctionItem]>,
    defined: Vec<bool>,
}

// SAFETY: `env` and `dispatch` are used only on the JavaScript thread:
// `call` refuses any other site, and the deliverer checks the thread.
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

impl ComponentImports for JsImports {
    fn defines(&self, function: &FunctionItem) -> bool {
        self.index(function).is_some_and(|i| self.defined[i])
    }

    fn call(
        &self,
        site: Site,
        function: &FunctionItem,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<(), HostFailure> {
        let path = function.path();
        if site != Site::Direct {
            return Err(HostFailure::new(format!(
                "the import {path} is JavaScript, which a component calls only from a synchronous call"
            )));
        }
        let index = self
            .index(function)
            .ok_or_else(|| HostFailure::new(format!("the import {path} is not defined")))?;
        let env = self.env;
        let types: Vec<Type> = function.ty.params().map(|(_, ty)| ty).collect();
        let result_types: Vec<Type> = function.ty.results().collect();
        let broken =
            |_| HostFailure::new(format!("cannot call the import {path}: Node-API failed"));
        // SAFETY: on the JavaScript thread (Site::Direct is the synchronous
        // call's own thread), inside the callback that entered the guest;
        // every value lives in the scope opened here.
        let outcome = unsafe {
            js::scoped(env, || -> Result<(), HostFailure> {
                let dispatch = self
                    .dispatch
                    .get(env)
                    .map_err(broken)?
                    .ok_or_else(|| HostFailure::new("the component's imports are gone"))?;
                let args = js::array_of(
                    env,
                    params.len(),
                    params
                        .iter()
                        .zip(&types)
                        .map(|(v, ty)| values::to_js(env, v, ty)),
                )
                .map_err(broken)?;
                let argv = [js::double(env, index as f64).map_err(broken)?, args];
                let returned = match js::call(env, dispatch, &argv).map_err(broken)? {
                    Ok(returned) => returned,
                    Err(thrown) => {
                        return Err(HostFailure::new(format!(
                            "the import {path} threw: {}",
                            describe(env, thrown)
                        )));
                    }
                };
                if let [ty] = result_types.as_slice() {
                    results[0] =
                        values::from_js(env, returned, &format!("the result of {path}"), ty)
                            .map_err(|err| HostFailure::new(err.message().to_owned()))?;
                }
                Ok(())
            })
        };
        outcome.unwrap_or_else(|_| Err(HostFailure::new(format!("cannot call the import {path}"))))
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
    ts_args_type = "engine: NativeEngine, component: NativeComponent, defined: boolean[], dispatch: (index: number, args: unknown[]) => unknown"
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
        unsafe { EnvData::of(raw) }.map_err(convert::broken)?;
        let host = Arc::new(JsImports {
            dispatch,
            env: raw,
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

impl NativeComponentInstance {
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
    /// Collected without `drop()`: the instance goes now, unless its engine
    /// is busy, in which case it goes when the engine closes.
    fn finalize(self, _env: Env) -> napi::Result<()> {
        if let Some(target) = self.target.get() {
            let _ = self
                .engine
                .enter(Site::Direct, |state| Ok(state.drop_component(target)));
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
        let outcome = (|| {
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
            // SAFETY: a Node-API callback on `raw`'s thread.
            let given = unsafe {
                if !js::is_array(raw, args.raw()) {
                    return Err(argument("args must be an array"));
                }
                js::array_length(raw, args.raw()).map_err(convert::broken)? as usize
            };
            if given != params.len() {
                return Err(argument(format!(
                    "{} takes {} arguments, got {given}",
                    function.path(),
                    params.len()
                )));
            }
            let mut values_in = Vec::with_capacity(params.len());
            for (i, (name, ty)) in params.iter().enumerate() {
                // SAFETY: as above; `i` is within the array.
                let arg =
                    unsafe { js::element(raw, args.raw(), i as u32) }.map_err(convert::broken)?;
                values_in.push(values::from_js(
                    raw,
                    arg,
                    &format!("argument {name} of {}", function.path()),
                    ty,
                )?);
            }
            let results = self.engine.enter(Site::Direct, |state| {
                state.call_component(target, function, &values_in, None)
            })?;
            Ok((results, function.ty.results().collect::<Vec<Type>>()))
        })();
        let (results, types) = or_throw(raw, outcome)?;
        // SAFETY: a Node-API callback on `raw`'s thread.
        unsafe {
            let value = match (results.first(), types.first()) {
                (Some(value), Some(ty)) => values::to_js(raw, value, ty),
                _ => js::undefined(raw),
            }
            .map_err(errors::failed)?;
            Ok(Unknown::from_raw_unchecked(raw, value))
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
