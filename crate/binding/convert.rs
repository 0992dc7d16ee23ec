//! Arguments JavaScript passes to the engine's methods, checked and
//! converted once. A value of the wrong type or range is an `ARGUMENT`
//! error (a `TypeError` in JavaScript) naming the argument; range checks
//! against memory sizes happen in the core and are `MEMORY` errors.

use napi::sys::{self, napi_env, napi_value};
use wasm_engine_core::{ErrorKind, RuntimeConfig, WasmError};

use crate::instance::InstanceHandle;
use crate::js;
use crate::module::Module;
use crate::values::{MAX_SAFE_INTEGER, describe};

fn wrong(env: napi_env, value: napi_value, name: &str, expected: &str) -> WasmError {
    // SAFETY: every caller runs on `env`'s thread inside a callback.
    let got = unsafe { describe(env, value) };
    WasmError::new(
        ErrorKind::Argument,
        format!("{name} must be {expected}, got {got}"),
    )
}

/// A failed Node-API call, as the error a conversion reports.
pub(crate) fn broken(err: js::Failed) -> WasmError {
    WasmError::new(
        ErrorKind::Other,
        format!("a Node-API call failed ({:?})", err.0),
    )
}

/// An argument error (a `TypeError` in JavaScript) saying `message`.
pub(crate) fn argument(message: impl Into<String>) -> WasmError {
    WasmError::new(ErrorKind::Argument, message)
}

/// A bigint in the signed 64-bit range, or a safe-integer number.
pub(crate) fn i64(env: napi_env, value: napi_value, name: &str) -> Result<i64, WasmError> {
    safe_or_bigint(env, value).ok_or_else(|| {
        wrong(
            env,
            value,
            name,
            "a bigint in the i64 range or a safe integer",
        )
    })
}

/// An integer given as a safe-integer number or a bigint in that range
/// (an offset or a length); negative values pass, for the memory check to
/// name them.
pub(crate) fn integer(env: napi_env, value: napi_value, name: &str) -> Result<i64, WasmError> {
    safe_or_bigint(env, value)
        .filter(|n| n.unsigned_abs() <= MAX_SAFE_INTEGER as u64)
        .ok_or_else(|| wrong(env, value, name, "a safe integer or bigint"))
}

/// A non-negative safe integer, as a byte count.
pub(crate) fn byte_count(env: napi_env, value: napi_value, name: &str) -> Result<usize, WasmError> {
    integer(env, value, name)
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| wrong(env, value, name, "a non-negative safe integer"))
}

/// A non-negative integer given as a safe-integer number or a bigint
/// (up to `2^63 - 1`).
pub(crate) fn u64(env: napi_env, value: napi_value, name: &str) -> Result<u64, WasmError> {
    safe_or_bigint(env, value)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| wrong(env, value, name, "a non-negative safe integer or bigint"))
}

/// An integer in `[0, 2^32)`.
pub(crate) fn u32(env: napi_env, value: napi_value, name: &str) -> Result<u32, WasmError> {
    integer(env, value, name)
        .ok()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            wrong(
                env,
                value,
                name,
                &format!("an integer in [0, {}]", u32::MAX),
            )
        })
}

/// A string.
pub(crate) fn string(env: napi_env, value: napi_value, name: &str) -> Result<String, WasmError> {
    // SAFETY: on `env`'s thread inside a callback (every caller).
    unsafe {
        if js::type_of(env, value).map_err(broken)? != sys::ValueType::napi_string {
            return Err(wrong(env, value, name, "a string"));
        }
        js::read_string(env, value).map_err(broken)
    }
}

/// The bytes of a `Uint8Array` (a `Buffer` is one) or an `ArrayBuffer`,
/// copied: JavaScript memory is never read after the call returns.
pub(crate) fn bytes(env: napi_env, value: napi_value, name: &str) -> Result<Vec<u8>, WasmError> {
    // SAFETY: on `env`'s thread inside a callback; each pointer and length
    // below comes from Node-API for the live `value` and is read at once.
    unsafe {
        if let Some((ty, data, len)) = js::typed_array(env, value).map_err(broken)? {
            if ty != sys::TypedarrayType::uint8_array {
                return Err(wrong(env, value, name, "a Uint8Array"));
            }
            return Ok(slice(data, len).to_vec());
        }
        if let Some((data, len)) = js::array_buffer(env, value).map_err(broken)? {
            return Ok(slice(data, len).to_vec());
        }
        Err(wrong(env, value, name, "a Uint8Array"))
    }
}

/// The bytes at `data`, tolerating the null pointer Node-API gives for
/// empty buffers.
unsafe fn slice<'a>(data: *const u8, len: usize) -> &'a [u8] {
    if data.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: the caller got `data` and `len` from Node-API for a live buffer.
    unsafe { std::slice::from_raw_parts(data, len) }
}

fn safe_or_bigint(env: napi_env, value: napi_value) -> Option<i64> {
    // SAFETY: on `env`'s thread inside a callback (every caller).
    unsafe {
        match js::type_of(env, value).ok()? {
            sys::ValueType::napi_number => {
                let n = js::number(env, value).ok()?;
                (n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER).then_some(n as i64)
            }
            sys::ValueType::napi_bigint => {
                let (n, lossless) = js::bigint_i64(env, value).ok()?;
                lossless.then_some(n)
            }
            _ => None,
        }
    }
}

/// The engine's `RuntimeConfig` from a JavaScript object (or `undefined`
/// for every default); each field must have its documented type.
pub(crate) fn runtime_config(env: napi_env, value: napi_value) -> Result<RuntimeConfig, WasmError> {
    // SAFETY: on `env`'s thread inside a callback (every caller).
    unsafe {
        match js::type_of(env, value).map_err(broken)? {
            sys::ValueType::napi_undefined => return Ok(RuntimeConfig::default()),
            sys::ValueType::napi_object => {}
            _ => return Err(wrong(env, value, "config", "an object")),
        }
        let field = |name: &str,
                     ty: sys::napi_valuetype,
                     expected: &str|
         -> Result<Option<napi_value>, WasmError> {
            let found = js::property(env, value, name).map_err(broken)?;
            match js::type_of(env, found).map_err(broken)? {
                sys::ValueType::napi_undefined => Ok(None),
                actual if actual == ty => Ok(Some(found)),
                _ => Err(wrong(env, found, &format!("config.{name}"), expected)),
            }
        };
        let number = |name: &str| -> Result<Option<f64>, WasmError> {
            let Some(found) = field(name, sys::ValueType::napi_number, "a number")? else {
                return Ok(None);
            };
            js::number(env, found).map(Some).map_err(broken)
        };
        let boolean = |name: &str| -> Result<Option<bool>, WasmError> {
            let Some(found) = field(name, sys::ValueType::napi_boolean, "a boolean")? else {
                return Ok(None);
            };
            js::boolean(env, found).map(Some).map_err(broken)
        };
        let text = |name: &str| -> Result<Option<String>, WasmError> {
            match field(name, sys::ValueType::napi_string, "a string")? {
                Some(found) => js::read_string(env, found).map(Some).map_err(broken),
                None => Ok(None),
            }
        };
        Ok(RuntimeConfig {
            max_execution_seconds: number("maxExecutionSeconds")?,
            cpu_cycles_per_second: number("cpuCyclesPerSecond")?,
            safety_margin: number("safetyMargin")?,
            enable_metering: boolean("enableMetering")?,
            max_memory_pages: number("maxMemoryPages")?,
            module_cache_capacity: number("moduleCacheCapacity")?,
            compile_cache: boolean("compileCache")?,
            compile_cache_dir: text("compileCacheDir")?,
            compile_cache_max_bytes: number("compileCacheMaxBytes")?,
            instance_pool_size: number("instancePoolSize")?,
            max_instances: number("maxInstances")?,
        })
    }
}

/// The `Module` `value` is.
pub(crate) fn module<'a>(env: napi_env, value: napi_value) -> Result<&'a Module, WasmError> {
    // SAFETY: on `env`'s thread inside a callback (every caller), which
    // uses the module only during the callback.
    unsafe { js::class::<Module>(env, value) }.ok_or_else(|| {
        wrong(
            env,
            value,
            "module",
            "a Module returned by WasmEngine.compile",
        )
    })
}

/// The `InstanceHandle` `value` is.
pub(crate) fn handle<'a>(
    env: napi_env,
    value: napi_value,
) -> Result<&'a InstanceHandle, WasmError> {
    // SAFETY: as in `module`.
    unsafe { js::class::<InstanceHandle>(env, value) }.ok_or_else(|| {
        wrong(
            env,
            value,
            "handle",
            "an InstanceHandle returned by WasmEngine.createInstance",
        )
    })
}
