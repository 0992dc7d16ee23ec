//! WebAssembly values as JavaScript sees them: i32, f32 and f64 are
//! numbers, i64 is a bigint. Shared by host functions and by `call`.

use napi::Either;
use napi::bindgen_prelude::BigInt;
use wasmtime::{Val, ValType};

use crate::error::WasmError;

/// The types JavaScript values map to and from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    I32,
    I64,
    F32,
    F64,
}

/// The kinds of `types`, or the error `unsupported` makes for the first
/// type JavaScript cannot represent.
pub(crate) fn kinds(
    types: impl Iterator<Item = ValType>,
    unsupported: impl Fn(&ValType) -> WasmError,
) -> Result<Vec<Kind>, WasmError> {
    types
        .map(|ty| Kind::of(&ty).ok_or_else(|| unsupported(&ty)))
        .collect()
}

impl Kind {
    pub(crate) fn of(ty: &ValType) -> Option<Kind> {
        match ty {
            ValType::I32 => Some(Kind::I32),
            ValType::I64 => Some(Kind::I64),
            ValType::F32 => Some(Kind::F32),
            ValType::F64 => Some(Kind::F64),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::I32 => "i32 (a number)",
            Kind::I64 => "i64 (a bigint)",
            Kind::F32 => "f32 (a number)",
            Kind::F64 => "f64 (a number)",
        }
    }
}

/// A number passed between JavaScript and WebAssembly.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value {
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
}

impl Value {
    pub(crate) fn from_val(val: &Val) -> std::result::Result<Value, String> {
        match val {
            Val::I32(v) => Ok(Value::I32(*v)),
            Val::I64(v) => Ok(Value::I64(*v)),
            Val::F32(bits) => Ok(Value::F32(f32::from_bits(*bits))),
            Val::F64(bits) => Ok(Value::F64(f64::from_bits(*bits))),
            other => Err(format!("cannot pass {other:?} to JavaScript")),
        }
    }

    pub(crate) fn into_val(self) -> Val {
        match self {
            Value::I32(v) => Val::I32(v),
            Value::I64(v) => Val::I64(v),
            Value::F32(v) => Val::F32(v.to_bits()),
            Value::F64(v) => Val::F64(v.to_bits()),
        }
    }

    pub(crate) fn into_js(self) -> Either<f64, BigInt> {
        match self {
            Value::I32(v) => Either::A(f64::from(v)),
            Value::I64(v) => Either::B(BigInt::from(v)),
            Value::F32(v) => Either::A(f64::from(v)),
            Value::F64(v) => Either::A(v),
        }
    }

    /// Converts an argument JavaScript passes to an export: like
    /// [`Value::from_js`], and integers may be given as a number or a bigint
    /// whatever their width.
    pub(crate) fn from_js_arg(value: &Either<f64, BigInt>, kind: Kind) -> Option<Value> {
        match (kind, value) {
            (Kind::I64, Either::A(n)) if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_991.0 => {
                Some(Value::I64(*n as i64))
            }
            (Kind::I32, Either::B(big)) => match big.get_i64() {
                (v, true) if (-2_147_483_648..4_294_967_296).contains(&v) => {
                    Some(Value::I32(v as i32))
                }
                _ => None,
            },
            _ => Value::from_js(value, kind),
        }
    }

    /// Converts a JavaScript result to `kind`, wrapping integers the way
    /// WebAssembly does (an i32 may be given signed or unsigned).
    pub(crate) fn from_js(value: &Either<f64, BigInt>, kind: Kind) -> Option<Value> {
        match (kind, value) {
            (Kind::I32, Either::A(n))
                if n.fract() == 0.0 && (-2_147_483_648.0..4_294_967_296.0).contains(n) =>
            {
                Some(Value::I32(*n as i64 as i32))
            }
            (Kind::I64, Either::B(big)) if big.words.is_empty() => Some(Value::I64(0)),
            (Kind::I64, Either::B(big)) => match big.get_i64() {
                (v, true) => Some(Value::I64(v)),
                // Unsigned values up to 2^64 - 1 wrap, as i64.const does.
                _ => match big.get_u64() {
                    (false, v, true) => Some(Value::I64(v as i64)),
                    _ => None,
                },
            },
            (Kind::F32, Either::A(n)) => Some(Value::F32(*n as f32)),
            (Kind::F64, Either::A(n)) => Some(Value::F64(*n)),
            _ => None,
        }
    }
}
