//! Exports looked up once and called many times.
//!
//! A [`Function`] holds an export's `Func` and its signature, checked when
//! it is looked up; calling it then costs no name lookup and no type check.
//! The three signatures Freenet's host calls (`() -> ()`, `(i64, i64) -> i64`
//! and `(i64, i64, i64) -> i64`) are called through wasmtime's typed entry,
//! every other one through the dynamic entry.

use std::sync::Arc;

use wasmtime::{Func, TypedFunc, Val};

use crate::error::{ErrorKind, WasmError};
use crate::instance::Target;
use crate::values::{Kind, Signature};

const I64: Kind = Kind::I64;

/// How a function is entered.
#[derive(Clone)]
pub(crate) enum Shape {
    Void(TypedFunc<(), ()>),
    I64x2(TypedFunc<(i64, i64), i64>),
    I64x3(TypedFunc<(i64, i64, i64), i64>),
    Dynamic(Func),
}

/// An export of one instance, bound to it.
///
/// Valid while its instance lives: after `drop_instance` or the engine's
/// close, calling it fails with an `InvalidHandle` or `Closed` error.
#[derive(Clone)]
pub struct Function {
    pub(crate) target: Target,
    pub(crate) memory: Option<wasmtime::Memory>,
    name: Arc<str>,
    signature: Arc<Signature>,
    pub(crate) shape: Shape,
}

impl Function {
    pub(crate) fn new(
        target: Target,
        memory: Option<wasmtime::Memory>,
        name: &str,
        func: Func,
        signature: Signature,
        store: &impl wasmtime::AsContext,
    ) -> Function {
        let shape = if signature.is(&[], &[]) {
            func.typed(store).ok().map(Shape::Void)
        } else if signature.is(&[I64, I64], &[I64]) {
            func.typed(store).ok().map(Shape::I64x2)
        } else if signature.is(&[I64, I64, I64], &[I64]) {
            func.typed(store).ok().map(Shape::I64x3)
        } else {
            None
        };
        Function {
            target,
            memory,
            name: name.into(),
            signature: Arc::new(signature),
            shape: shape.unwrap_or(Shape::Dynamic(func)),
        }
    }

    /// The export's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The id of the instance the export belongs to.
    pub fn instance_id(&self) -> i64 {
        self.target.id
    }

    /// Parameter and result kinds.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Names the function in error messages.
    pub(crate) fn what(&self) -> String {
        format!("export \"{}\" of instance {}", self.name, self.target.id)
    }

    /// Fails unless the function is `params -> results`.
    pub fn ensure_signature(&self, params: &[Kind], results: &[Kind]) -> Result<(), WasmError> {
        if self.signature.is(params, results) {
            return Ok(());
        }
        let wanted = Signature {
            params: params.into(),
            results: results.into(),
        };
        Err(WasmError::new(
            ErrorKind::Export,
            format!("{} has type {}, not {wanted}", self.what(), self.signature),
        )
        .at_instance(self.target.id)
        .at_export(&self.name))
    }

    /// Fails unless `args` match the parameter kinds and `results` has one
    /// slot per result.
    pub(crate) fn check(&self, args: &[Val], results: &[Val]) -> Result<(), WasmError> {
        let kind = |val: &Val| match val {
            Val::I32(_) => Some(Kind::I32),
            Val::I64(_) => Some(Kind::I64),
            Val::F32(_) => Some(Kind::F32),
            Val::F64(_) => Some(Kind::F64),
            _ => None,
        };
        let params = &self.signature.params;
        if args.len() != params.len()
            || args
                .iter()
                .zip(params.iter())
                .any(|(a, k)| kind(a) != Some(*k))
        {
            return Err(WasmError::new(
                ErrorKind::Argument,
                format!(
                    "{} takes ({}), got other arguments",
                    self.what(),
                    self.signature
                        .params
                        .iter()
                        .map(|k| k.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        if results.len() != self.signature.results.len() {
            return Err(WasmError::new(
                ErrorKind::Argument,
                format!(
                    "{} has {} results, got {} slots for them",
                    self.what(),
                    self.signature.results.len(),
                    results.len()
                ),
            ));
        }
        Ok(())
    }

    /// Enters the guest with `args` and writes the results into `results`,
    /// both checked by [`Function::check`].
    pub(crate) fn enter(
        &self,
        store: &mut wasmtime::Store<crate::store::HostState>,
        args: &[Val],
        results: &mut [Val],
    ) -> wasmtime::Result<()> {
        let i64_at = |i: usize| args.get(i).and_then(Val::i64).unwrap_or(0);
        match &self.shape {
            Shape::Void(f) => f.call(store, ()),
            Shape::I64x2(f) => {
                let value = f.call(store, (i64_at(0), i64_at(1)))?;
                if let Some(slot) = results.first_mut() {
                    *slot = Val::I64(value);
                }
                Ok(())
            }
            Shape::I64x3(f) => {
                let value = f.call(store, (i64_at(0), i64_at(1), i64_at(2)))?;
                if let Some(slot) = results.first_mut() {
                    *slot = Val::I64(value);
                }
                Ok(())
            }
            Shape::Dynamic(f) => f.call(store, args, results),
        }
    }
}
