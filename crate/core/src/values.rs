//! The value types that cross between a host and a guest: i32, i64, f32
//! and f64. References and vectors cannot cross.

use std::fmt;

use wasmtime::{FuncType, ValType};

use crate::error::{ErrorKind, WasmError};

/// A value type a host can pass to and receive from a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    I32,
    I64,
    F32,
    F64,
}

impl Kind {
    /// The kind of `ty`, if a host can represent it.
    pub fn of(ty: &ValType) -> Option<Kind> {
        match ty {
            ValType::I32 => Some(Kind::I32),
            ValType::I64 => Some(Kind::I64),
            ValType::F32 => Some(Kind::F32),
            ValType::F64 => Some(Kind::F64),
            _ => None,
        }
    }

    /// The WebAssembly name of the type.
    pub fn name(self) -> &'static str {
        match self {
            Kind::I32 => "i32",
            Kind::I64 => "i64",
            Kind::F32 => "f32",
            Kind::F64 => "f64",
        }
    }
}

/// Parameter and result kinds of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub params: Box<[Kind]>,
    pub results: Box<[Kind]>,
}

impl Signature {
    /// The signature of `ty`, or the error `unsupported` builds for the
    /// first type a host cannot represent.
    pub fn of(
        ty: &FuncType,
        unsupported: impl Fn(&ValType) -> WasmError,
    ) -> Result<Signature, WasmError> {
        let kinds = |types: &mut dyn Iterator<Item = ValType>| {
            types
                .map(|t| Kind::of(&t).ok_or_else(|| unsupported(&t)))
                .collect::<Result<Box<[Kind]>, WasmError>>()
        };
        Ok(Signature {
            params: kinds(&mut ty.params())?,
            results: kinds(&mut ty.results())?,
        })
    }

    /// Whether this is `params -> results`.
    pub fn is(&self, params: &[Kind], results: &[Kind]) -> bool {
        *self.params == *params && *self.results == *results
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |kinds: &[Kind]| {
            kinds
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(f, "({}) -> ({})", list(&self.params), list(&self.results))
    }
}

/// The error for a value type a host cannot pass, naming where it occurs.
pub(crate) fn unsupported_type(kind: ErrorKind, place: &str) -> impl Fn(&ValType) -> WasmError {
    move |ty| {
        WasmError::new(
            kind,
            format!("{place} uses the type {ty}, which JavaScript cannot pass"),
        )
    }
}

#[cfg(test)]
#[path = "values_tests.rs"]
mod tests;
