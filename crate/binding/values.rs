//! WebAssembly values as JavaScript sees them, as V8's own WebAssembly
//! does: i32, f32 and f64 are numbers, i64 is a bigint; NaN bits, `-0`,
//! infinities and subnormals cross unchanged both ways.

use napi::sys::{self, napi_env, napi_value};
use wasm_engine_core::{Kind, Val};

use crate::env::EnvData;
use crate::js::{self, Raw};

/// Largest integer a JavaScript number holds exactly.
pub(crate) const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

const I32_RANGE: std::ops::Range<f64> = -2_147_483_648.0..4_294_967_296.0;

/// The WebAssembly type with the JavaScript type that carries it.
pub(crate) fn hint(kind: Kind) -> &'static str {
    match kind {
        Kind::I32 => "i32 (a number)",
        Kind::I64 => "i64 (a bigint)",
        Kind::F32 => "f32 (a number)",
        Kind::F64 => "f64 (a number)",
    }
}

/// A JavaScript number or bigint, read once.
enum Numeric {
    Number(f64),
    /// The value if it fits an i64, and whether it does.
    BigInt(i64, bool),
    Other,
}

unsafe fn numeric(env: napi_env, value: napi_value) -> Raw<Numeric> {
    // SAFETY: callers are on `env`'s thread inside a callback.
    unsafe {
        match js::type_of(env, value)? {
            sys::ValueType::napi_number => Ok(Numeric::Number(js::number(env, value)?)),
            sys::ValueType::napi_bigint => {
                let (n, lossless) = js::bigint_i64(env, value)?;
                Ok(Numeric::BigInt(n, lossless))
            }
            _ => Ok(Numeric::Other),
        }
    }
}

fn whole_i32(n: f64) -> Option<Val> {
    (n.fract() == 0.0 && I32_RANGE.contains(&n)).then_some(Val::I32(n as i64 as i32))
}

/// An argument JavaScript passes to an export, as `kind`; `None` when it
/// has the wrong type or range. Integers may be given as a number or a
/// bigint whatever their width: an i64 as a safe-integer number (larger
/// numbers are refused, never rounded), an i32 as a bigint in
/// `[-2^31, 2^32)`.
pub(crate) unsafe fn argument(env: napi_env, value: napi_value, kind: Kind) -> Raw<Option<Val>> {
    // SAFETY: the caller's contract.
    let read = unsafe { numeric(env, value) }?;
    Ok(match (kind, read) {
        (Kind::I32, Numeric::Number(n)) => whole_i32(n),
        (Kind::I32, Numeric::BigInt(n, true)) => whole_i32(n as f64),
        (Kind::I64, Numeric::BigInt(n, true)) => Some(Val::I64(n)),
        (Kind::I64, Numeric::Number(n)) if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER => {
            Some(Val::I64(n as i64))
        }
        (Kind::F32, Numeric::Number(n)) => Some(Val::F32((n as f32).to_bits())),
        (Kind::F64, Numeric::Number(n)) => Some(Val::F64(n.to_bits())),
        _ => None,
    })
}

/// A value a host function returned, as `kind`; `None` when it has the
/// wrong type or range. Integers wrap as WebAssembly constants do: an i32
/// may be given signed or unsigned, an i64 bigint up to `2^64 - 1`.
pub(crate) unsafe fn result(env: napi_env, value: napi_value, kind: Kind) -> Raw<Option<Val>> {
    // SAFETY: the caller's contract.
    let read = unsafe { numeric(env, value) }?;
    Ok(match (kind, read) {
        (Kind::I32, Numeric::Number(n)) => whole_i32(n),
        (Kind::I64, Numeric::BigInt(n, true)) => Some(Val::I64(n)),
        (Kind::I64, Numeric::BigInt(_, false)) => {
            // SAFETY: the caller's contract; `value` is a bigint.
            let (n, lossless) = unsafe { js::bigint_u64(env, value) }?;
            lossless.then_some(Val::I64(n as i64))
        }
        (Kind::F32, Numeric::Number(n)) => Some(Val::F32((n as f32).to_bits())),
        (Kind::F64, Numeric::Number(n)) => Some(Val::F64(n.to_bits())),
        _ => None,
    })
}

/// The JavaScript value of `val`.
pub(crate) unsafe fn to_js(env: napi_env, data: &EnvData, val: &Val) -> Raw<napi_value> {
    // SAFETY: the caller's contract.
    unsafe {
        match *val {
            Val::I32(n) => js::double(env, f64::from(n)),
            Val::I64(n) => js::bigint(env, n),
            // Widened as V8 widens an f32 result (a NaN keeps its payload).
            Val::F32(bits) => data.number(env, f64::from(f32::from_bits(bits))),
            Val::F64(bits) => data.number(env, f64::from_bits(bits)),
            _ => js::undefined(env),
        }
    }
}

/// The results of a call as JavaScript returns them: `undefined`, the one
/// value, or an array of them.
pub(crate) unsafe fn results_to_js(env: napi_env, data: &EnvData, vals: &[Val]) -> Raw<napi_value> {
    // SAFETY: the caller's contract.
    unsafe {
        match vals {
            [] => js::undefined(env),
            [one] => to_js(env, data, one),
            many => js::array_of(
                env,
                many.len(),
                many.iter().map(|val| to_js(env, data, val)),
            ),
        }
    }
}

/// A short description of a JavaScript value for error messages.
pub(crate) unsafe fn describe(env: napi_env, value: napi_value) -> String {
    // SAFETY: the caller's contract.
    unsafe {
        let Ok(ty) = js::type_of(env, value) else {
            return "a value".into();
        };
        match ty {
            sys::ValueType::napi_number => match numeric(env, value) {
                Ok(Numeric::Number(n)) if n.is_nan() => "the number NaN".into(),
                Ok(Numeric::Number(n)) if n.is_infinite() => {
                    format!("the number {}Infinity", if n < 0.0 { "-" } else { "" })
                }
                Ok(Numeric::Number(n)) => format!("the number {n}"),
                _ => "a number".into(),
            },
            sys::ValueType::napi_bigint => match coerce(env, value) {
                Some(text) => format!("a bigint ({text}n)"),
                None => "a bigint".into(),
            },
            sys::ValueType::napi_string => match js::read_string(env, value) {
                Ok(text) if text.chars().count() > 40 => {
                    format!("\"{}…\"", text.chars().take(40).collect::<String>())
                }
                Ok(text) => format!("\"{text}\""),
                Err(_) => "a string".into(),
            },
            sys::ValueType::napi_undefined => "undefined".into(),
            sys::ValueType::napi_null => "null".into(),
            sys::ValueType::napi_boolean => "a boolean".into(),
            sys::ValueType::napi_symbol => "a symbol".into(),
            sys::ValueType::napi_function => "a function".into(),
            _ => {
                if js::is_error(env, value) {
                    return coerce(env, value).unwrap_or_else(|| "an error".into());
                }
                if js::is_array(env, value) {
                    let len = js::array_length(env, value).unwrap_or(0);
                    return format!("an array of {len}");
                }
                "an object".into()
            }
        }
    }
}

/// `String(value)`, or `None` when that throws (the exception is cleared).
unsafe fn coerce(env: napi_env, value: napi_value) -> Option<String> {
    // SAFETY: the caller's contract.
    unsafe { js::coerce_to_string(env, value) }.ok()
}

/// Whether `value` is a thenable: an object with a `then` method.
pub(crate) unsafe fn is_thenable(env: napi_env, value: napi_value) -> bool {
    // SAFETY: the caller's contract.
    unsafe {
        if js::type_of(env, value) != Ok(sys::ValueType::napi_object) {
            return false;
        }
        let then = js::property(env, value, "then");
        match then {
            Ok(then) => js::type_of(env, then) == Ok(sys::ValueType::napi_function),
            Err(_) => {
                js::clear_exception(env);
                false
            }
        }
    }
}
