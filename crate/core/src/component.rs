//! WebAssembly components: compiled once per engine backend, instantiated
//! in a store of their own under the engine's limits (fuel, the page cap
//! on every memory of the component, a deadline per call), their imports
//! answered by the embedder through [`ComponentImports`], their exports
//! called with dynamically typed [`Val`]s.
//!
//! The embedding converts values; this module only checks what wasmtime's
//! typed lowering would otherwise reject with a less helpful message.

use std::sync::Arc;

use wasmtime::component::Linker;
use wasmtime::component::types::{ComponentExtern, ComponentFunc, ComponentItem};

use crate::error::{ErrorKind, WasmError};
use crate::state::LiveComponent;
use crate::store::HostState;

pub use wasmtime::component::Val;
pub use wasmtime::component::types;

/// A compiled component and the code hash it was cached under.
#[derive(Clone)]
pub struct Component {
    pub(crate) inner: wasmtime::component::Component,
    pub(crate) engine: wasmtime::Engine,
}

impl crate::module::Compiler {
    /// Compiles the binary component `wasm` on this thread (cached by
    /// content hash), as [`Engine::compile_component`](crate::Engine::compile_component) does.
    pub fn compile_component(&self, wasm: &[u8]) -> crate::error::Result<Component> {
        Ok(Component {
            inner: self.backend.compile_component(wasm)?,
            engine: self.backend.engine.clone(),
        })
    }
}

/// A function a component exports or imports: its interface (`None` for
/// the component's own, top-level functions), its name and its type.
#[derive(Clone)]
pub struct FunctionItem {
    pub interface: Option<String>,
    pub name: String,
    pub ty: ComponentFunc,
}

impl FunctionItem {
    /// `interface#name`, or `name` at the top level: the name messages use.
    pub fn path(&self) -> String {
        match &self.interface {
            Some(interface) => format!("{interface}#{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// What a world holds besides functions, which this engine does not link
/// or call yet; named so that the refusal can say what.
fn unsupported(item: &ComponentItem) -> Option<&'static str> {
    match item {
        ComponentItem::ComponentFunc(_) | ComponentItem::ComponentInstance(_) => None,
        // A resource type is a type: the functions that pass its handles
        // are refused at instantiation, by name.
        ComponentItem::Resource(_) => None,
        ComponentItem::CoreFunc(_) => Some("a core function"),
        ComponentItem::Module(_) => Some("a core module"),
        ComponentItem::Component(_) => Some("a component"),
        ComponentItem::Type(_) => None,
    }
}

/// The functions of `items` (a world's imports or exports), top-level and
/// per interface, in their order; `Err` names the first item of a kind
/// this engine does not support.
fn functions<'a>(
    engine: &wasmtime::Engine,
    items: impl Iterator<Item = (&'a str, ComponentExtern<'a>)>,
    side: &str,
) -> Result<Vec<FunctionItem>, WasmError> {
    let mut found = Vec::new();
    let refuse = |what: &str, name: &str| {
        WasmError::new(
            ErrorKind::Instantiation,
            format!("the component {side} {what} \"{name}\", which this engine cannot link yet"),
        )
    };
    for (name, item) in items {
        match item.ty {
            ComponentItem::ComponentFunc(ty) => found.push(FunctionItem {
                interface: None,
                name: name.to_owned(),
                ty,
            }),
            ComponentItem::ComponentInstance(instance) => {
                for (inner, item) in instance.exports(engine) {
                    match item.ty {
                        ComponentItem::ComponentFunc(ty) => found.push(FunctionItem {
                            interface: Some(name.to_owned()),
                            name: inner.to_owned(),
                            ty,
                        }),
                        ComponentItem::Type(_) | ComponentItem::Resource(_) => {}
                        other => {
                            let what = unsupported(&other).unwrap_or("an item");
                            return Err(refuse(what, &format!("{name}#{inner}")));
                        }
                    }
                }
            }
            other => {
                if let Some(what) = unsupported(&other) {
                    return Err(refuse(what, name));
                }
            }
        }
    }
    Ok(found)
}

impl Component {
    /// The functions the component exports, top-level ones and those of
    /// its exported interfaces.
    pub fn exports(&self) -> Result<Vec<FunctionItem>, WasmError> {
        let ty = self.inner.component_type();
        functions(&self.engine, ty.exports(&self.engine), "exports")
    }

    /// The functions the component imports.
    pub fn imports(&self) -> Result<Vec<FunctionItem>, WasmError> {
        let ty = self.inner.component_type();
        functions(&self.engine, ty.imports(&self.engine), "imports")
    }
}

/// Where a component's imports are answered: the embedder's functions.
pub trait ComponentImports: Send + Sync {
    /// Runs the import `function` with `params` for the guest whose store
    /// holds `guest` (on this thread, which runs a guest entered from
    /// `guest.site()`), and fills `results`. An error traps the guest: a
    /// [`HostFailure`](crate::error::HostFailure) with its message, an interrupt (deadline, abort,
    /// close met while waiting) as such.
    fn call(
        &self,
        guest: &HostState,
        function: &FunctionItem,
        params: &[Val],
        results: &mut [Val],
    ) -> wasmtime::Result<()>;

    /// Whether this host defines `function`; a component importing one it
    /// does not define fails to instantiate, naming it.
    fn defines(&self, function: &FunctionItem) -> bool;
}

/// A linker with every import of `component` defined through `host`.
pub(crate) fn linker(
    component: &Component,
    host: Arc<dyn ComponentImports>,
) -> Result<Linker<HostState>, WasmError> {
    let mut linker = Linker::new(&component.engine);
    let link_error = |err: wasmtime::Error, what: &str| {
        WasmError::new(
            ErrorKind::Instantiation,
            format!("cannot link the import {what}: {err}"),
        )
    };
    for function in component.imports()? {
        if !host.defines(&function) {
            return Err(WasmError::new(
                ErrorKind::Instantiation,
                format!(
                    "the component imports {}, which the imports given do not define",
                    function.path()
                ),
            ));
        }
        let path = function.path();
        let name = function.name.clone();
        let host = host.clone();
        let item = function.clone();
        let define = move |store: wasmtime::StoreContextMut<'_, HostState>,
                           _ty: ComponentFunc,
                           params: &[Val],
                           results: &mut [Val]| {
            host.call(store.data(), &item, params, results)
        };
        let defined = match &function.interface {
            None => linker.root().func_new(&name, define),
            Some(interface) => linker
                .instance(interface)
                .and_then(|mut instance| instance.func_new(&name, define)),
        };
        defined.map_err(|err| link_error(err, &path))?;
    }
    Ok(linker)
}

/// A component instance of an engine, by key; the id names it in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComponentTarget {
    pub key: u64,
    pub id: i64,
}

impl crate::state::EngineState {
    /// Instantiates `component` in a store of its own, its imports
    /// answered by `host`, under the engine's fuel (reset, as for every
    /// instance), page cap and deadline; `id` names it in messages.
    pub fn instantiate_component(
        &mut self,
        component: &Component,
        id: i64,
        host: Arc<dyn ComponentImports>,
    ) -> Result<ComponentTarget, WasmError> {
        let linker = linker(component, host).map_err(|err| err.at_instance(id))?;
        let (key, mut store) = self.component_store();
        let instance = self
            .enter_store(&mut store, id, None, |store| {
                linker.instantiate(store, &component.inner)
            })?
            .map_err(|err| {
                let refused = store.data_mut().take_refused_growth();
                crate::state::instantiation_error(err, id, refused, self.limits())
            })?;
        self.components.insert(
            key,
            LiveComponent {
                store,
                instance,
                id,
            },
        );
        Ok(ComponentTarget { key, id })
    }

    /// Calls the exported `function` of the component instance `target`
    /// with `params`; returns its results. Runs under a fresh deadline,
    /// stoppable through `abort`.
    pub fn call_component(
        &mut self,
        target: ComponentTarget,
        function: &FunctionItem,
        params: &[Val],
        abort: Option<&crate::deadline::Flag>,
    ) -> Result<Vec<Val>, WasmError> {
        let what = format!("{} of component instance {}", function.path(), target.id);
        let Some(mut live) = self.components.remove(&target.key) else {
            return Err(WasmError::new(
                ErrorKind::InvalidHandle,
                format!("component instance {} was dropped", target.id),
            )
            .at_instance(target.id));
        };
        let outcome = (|| {
            let func = lookup(&mut live, function).ok_or_else(|| {
                WasmError::new(
                    ErrorKind::Export,
                    format!(
                        "component instance {} exports no {}",
                        target.id,
                        function.path()
                    ),
                )
            })?;
            let mut results = vec![Val::Bool(false); function.ty.results().len()];
            let id = live.id;
            // A growth refused by an earlier call (its `memory.grow` answered
            // -1 and the guest went on) does not explain this call's failure.
            live.store.data_mut().take_refused_growth();
            self.enter_store(&mut live.store, id, abort, |store| {
                func.call(store, params, &mut results)
            })?
            .map_err(|err| {
                let refused = live.store.data_mut().take_refused_growth();
                let trap = err.downcast_ref::<wasmtime::Trap>();
                if matches!(trap, Some(wasmtime::Trap::CannotEnterComponent)) {
                    return WasmError::new(
                        ErrorKind::Runtime,
                        format!(
                            "{what} cannot run: the instance trapped or failed in an earlier call, \
                             and the component model forbids entering it again; instantiate the \
                             component anew"
                        ),
                    )
                    .at_instance(id);
                }
                // Stopped from outside or out of fuel: that, not the cap.
                let stopped = err.is::<crate::error::Interrupt>()
                    || matches!(trap, Some(wasmtime::Trap::OutOfFuel));
                match refused.filter(|_| !stopped) {
                    Some(bytes) => WasmError::new(
                        ErrorKind::Memory,
                        format!(
                            "{what} tried to grow a memory to {bytes} bytes, over the cap of {} \
                             bytes (maxMemoryPages)",
                            self.limits().max_memory_bytes()
                        ),
                    ),
                    None => WasmError::from_guest(err, &what),
                }
                .at_instance(id)
            })?;
            Ok(results)
        })();
        self.components.insert(target.key, live);
        outcome
    }

    /// Drops the component instance `target`; `false` when it was gone.
    pub fn drop_component(&mut self, target: ComponentTarget) -> bool {
        self.components.remove(&target.key).is_some()
    }
}

/// The exported function `function` of `live`, found through its
/// interface when it has one.
fn lookup(live: &mut LiveComponent, function: &FunctionItem) -> Option<wasmtime::component::Func> {
    let parent = match &function.interface {
        Some(interface) => Some(live.instance.get_export_index(
            &mut live.store,
            None,
            interface,
        )?),
        None => None,
    };
    let index = live
        .instance
        .get_export_index(&mut live.store, parent.as_ref(), &function.name)?;
    live.instance.get_func(&mut live.store, index)
}
