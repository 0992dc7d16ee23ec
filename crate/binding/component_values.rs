//! Component values between JavaScript and wasmtime's [`Val`], guided by
//! the WIT type, with jco's mapping: `bool` boolean; 8-32-bit integers and
//! floats number; `s64`/`u64` bigint; `char` and `string` string;
//! numeric lists typed arrays (`list<u8>` Uint8Array, `list<u32>`
//! Uint32Array, `list<s64>` BigInt64Array, ...; plain arrays are taken
//! too), other lists arrays; records objects with
//! camelCase fields; tuples arrays; variants `{ tag, val }`; enums their
//! case name; `option<T>` `T | undefined`, unless `T` is itself such an
//! option (`option<option<u32>>`), which `undefined` could not tell from
//! `none`: then `{ tag: 'some', val } | { tag: 'none' }`, `val` the inner
//! option as `T | undefined` (jco's `as_nullable`); flags objects of
//! booleans;
//! `result<T, E>` `{ tag: 'ok' | 'err', val }` (the TypeScript layer turns
//! an export's `err` into a thrown `ComponentError`).
//!
//! A value that does not fit its type is an argument error (a
//! `TypeError`) naming where it sits and the type it should have.

use napi::sys::{self, napi_env, napi_value};
use wasm_engine_core::WasmError;
use wasm_engine_core::component::Val;
use wasm_engine_core::component::types::Type;

use crate::convert::{argument, broken};
use crate::js::{self, Raw};
use crate::values::describe;

/// `kebab-case` as jco spells it in JavaScript: `camelCase`.
pub(crate) fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `items` separated by commas.
fn joined(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// The WIT spelling of `ty`, for messages.
pub(crate) fn type_name(ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::S8 => "s8".into(),
        Type::U8 => "u8".into(),
        Type::S16 => "s16".into(),
        Type::U16 => "u16".into(),
        Type::S32 => "s32".into(),
        Type::U32 => "u32".into(),
        Type::S64 => "s64".into(),
        Type::U64 => "u64".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::List(list) => format!("list<{}>", type_name(&list.ty())),
        Type::Record(record) => format!(
            "record {{ {} }}",
            joined(
                record
                    .fields()
                    .map(|f| format!("{}: {}", f.name, type_name(&f.ty)))
            )
        ),
        Type::Tuple(tuple) => format!("tuple<{}>", joined(tuple.types().map(|t| type_name(&t)))),
        Type::Variant(variant) => format!(
            "variant {{ {} }}",
            joined(variant.cases().map(|c| match c.ty {
                Some(ty) => format!("{}({})", c.name, type_name(&ty)),
                None => c.name.to_owned(),
            }))
        ),
        Type::Enum(e) => format!("enum {{ {} }}", joined(e.names().map(str::to_owned))),
        Type::Option(option) => format!("option<{}>", type_name(&option.ty())),
        Type::Result(result) => format!(
            "result<{}, {}>",
            result.ok().map_or("_".into(), |t| type_name(&t)),
            result.err().map_or("_".into(), |t| type_name(&t))
        ),
        Type::Flags(flags) => format!("flags {{ {} }}", joined(flags.names().map(str::to_owned))),
        Type::Own(_) => "own<resource>".into(),
        Type::Borrow(_) => "borrow<resource>".into(),
        Type::Map(_) => "map".into(),
        Type::Future(_) => "future".into(),
        Type::Stream(_) => "stream".into(),
        Type::ErrorContext => "error-context".into(),
        Type::FixedLengthList(_) => "fixed-length list".into(),
    }
}

/// The refusal of `value` at `at` for `ty`.
fn refuse(env: napi_env, value: napi_value, at: &str, ty: &Type, expected: &str) -> WasmError {
    // SAFETY: every caller runs on `env`'s thread inside a callback.
    let got = unsafe { describe(env, value) };
    argument(format!(
        "{at} must be {expected} (WIT {}), got {got}",
        type_name(ty)
    ))
}

/// Whether the option `ty` is `T | undefined` in JavaScript: unless its
/// `T` is such an option itself (jco's `as_nullable`). So `option<u32>`
/// is, `option<option<u32>>` is tagged, `option<option<option<u32>>>` is
/// again.
fn nullable(ty: &Type) -> bool {
    match ty {
        Type::Option(option) => !nullable(&option.ty()),
        _ => false,
    }
}

/// Whether `value` is `undefined` or `null`.
fn nullish(env: napi_env, value: napi_value) -> Result<bool, WasmError> {
    // SAFETY: on `env`'s thread inside a callback.
    let ty = unsafe { js::type_of(env, value) }.map_err(broken)?;
    Ok(matches!(
        ty,
        sys::ValueType::napi_undefined | sys::ValueType::napi_null
    ))
}

fn kind(env: napi_env, value: napi_value) -> Result<sys::napi_valuetype, WasmError> {
    // SAFETY: on `env`'s thread inside a callback.
    unsafe { js::type_of(env, value) }.map_err(broken)
}

fn field(env: napi_env, object: napi_value, name: &str) -> Result<napi_value, WasmError> {
    // SAFETY: on `env`'s thread inside a callback; `object` is an object.
    unsafe { js::property(env, object, name) }.map_err(broken)
}

/// An integer `number` in `[min, max]`.
fn integer(
    env: napi_env,
    value: napi_value,
    at: &str,
    ty: &Type,
    (min, max): (f64, f64),
) -> Result<f64, WasmError> {
    let expected = format!("an integer from {min} to {max}");
    if kind(env, value)? != sys::ValueType::napi_number {
        return Err(refuse(env, value, at, ty, &expected));
    }
    // SAFETY: on `env`'s thread; `value` is a number.
    let n = unsafe { js::number(env, value) }.map_err(broken)?;
    if n.fract() != 0.0 || !(min..=max).contains(&n) {
        return Err(refuse(env, value, at, ty, &expected));
    }
    Ok(n)
}

/// A `{ tag, val }` object's tag and value.
fn tagged(
    env: napi_env,
    value: napi_value,
    at: &str,
    ty: &Type,
) -> Result<(String, napi_value), WasmError> {
    if kind(env, value)? != sys::ValueType::napi_object {
        return Err(refuse(env, value, at, ty, "an object { tag, val }"));
    }
    let tag = field(env, value, "tag")?;
    if kind(env, tag)? != sys::ValueType::napi_string {
        return Err(refuse(env, tag, &format!("{at}.tag"), ty, "a string"));
    }
    // SAFETY: on `env`'s thread; `tag` is a string.
    let tag = unsafe { js::read_string(env, tag) }.map_err(broken)?;
    Ok((tag, field(env, value, "val")?))
}

/// The JavaScript `value` at `at` as a value of `ty`.
pub(crate) fn from_js(
    env: napi_env,
    value: napi_value,
    at: &str,
    ty: &Type,
) -> Result<Val, WasmError> {
    Ok(match ty {
        Type::Bool => {
            if kind(env, value)? != sys::ValueType::napi_boolean {
                return Err(refuse(env, value, at, ty, "a boolean"));
            }
            // SAFETY: on `env`'s thread; `value` is a boolean.
            Val::Bool(unsafe { js::boolean(env, value) }.map_err(broken)?)
        }
        Type::S8 => Val::S8(integer(env, value, at, ty, (-128.0, 127.0))? as i8),
        Type::U8 => Val::U8(integer(env, value, at, ty, (0.0, 255.0))? as u8),
        Type::S16 => Val::S16(integer(env, value, at, ty, (-32768.0, 32767.0))? as i16),
        Type::U16 => Val::U16(integer(env, value, at, ty, (0.0, 65535.0))? as u16),
        Type::S32 => Val::S32(integer(env, value, at, ty, (-2147483648.0, 2147483647.0))? as i32),
        Type::U32 => Val::U32(integer(env, value, at, ty, (0.0, 4294967295.0))? as u32),
        Type::S64 | Type::U64 => {
            if kind(env, value)? != sys::ValueType::napi_bigint {
                return Err(refuse(env, value, at, ty, "a bigint"));
            }
            // SAFETY: on `env`'s thread; `value` is a bigint.
            unsafe {
                if matches!(ty, Type::S64) {
                    let (n, lossless) = js::bigint_i64(env, value).map_err(broken)?;
                    if !lossless {
                        return Err(refuse(
                            env,
                            value,
                            at,
                            ty,
                            "a bigint from -2^63 to 2^63 - 1",
                        ));
                    }
                    Val::S64(n)
                } else {
                    let (n, lossless) = js::bigint_u64(env, value).map_err(broken)?;
                    if !lossless {
                        return Err(refuse(env, value, at, ty, "a bigint from 0 to 2^64 - 1"));
                    }
                    Val::U64(n)
                }
            }
        }
        Type::Float32 | Type::Float64 => {
            if kind(env, value)? != sys::ValueType::napi_number {
                return Err(refuse(env, value, at, ty, "a number"));
            }
            // SAFETY: on `env`'s thread; `value` is a number.
            let n = unsafe { js::number(env, value) }.map_err(broken)?;
            if matches!(ty, Type::Float32) {
                Val::Float32(n as f32)
            } else {
                Val::Float64(n)
            }
        }
        Type::Char | Type::String => {
            if kind(env, value)? != sys::ValueType::napi_string {
                return Err(refuse(env, value, at, ty, "a string"));
            }
            // SAFETY: on `env`'s thread; `value` is a string.
            let Some(text) = unsafe { js::read_string_strict(env, value) }.map_err(broken)? else {
                return Err(refuse(
                    env,
                    value,
                    at,
                    ty,
                    "a string without unpaired surrogates",
                ));
            };
            if matches!(ty, Type::String) {
                Val::String(text)
            } else {
                let mut chars = text.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Val::Char(c),
                    _ => return Err(refuse(env, value, at, ty, "a string of one character")),
                }
            }
        }
        Type::List(list) => {
            let element = list.ty();
            // SAFETY: on `env`'s thread inside a callback.
            if let Some((array, size)) = numeric(&element)
                && let Some((kind, data, len)) =
                    unsafe { js::typed_array(env, value) }.map_err(broken)?
                && kind == array
            {
                // SAFETY: Node-API describes the array's elements, alive
                // while `value` is.
                let bytes = unsafe { std::slice::from_raw_parts(data, len * size) };
                return Ok(Val::List(
                    bytes
                        .chunks_exact(size)
                        .map(|b| number(&element, b))
                        .collect(),
                ));
            }
            let items = elements(env, value, at, ty, "an array or a typed array")?;
            Val::List(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| from_js(env, item, &format!("{at}[{i}]"), &element))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Tuple(tuple) => {
            let types: Vec<Type> = tuple.types().collect();
            let items = elements(env, value, at, ty, &format!("an array of {}", types.len()))?;
            if items.len() != types.len() {
                return Err(refuse(
                    env,
                    value,
                    at,
                    ty,
                    &format!("an array of {}", types.len()),
                ));
            }
            Val::Tuple(
                items
                    .into_iter()
                    .zip(&types)
                    .enumerate()
                    .map(|(i, (item, ty))| from_js(env, item, &format!("{at}[{i}]"), ty))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Record(record) => {
            if kind(env, value)? != sys::ValueType::napi_object {
                return Err(refuse(env, value, at, ty, "an object"));
            }
            let mut fields = Vec::new();
            for f in record.fields() {
                let name = camel(f.name);
                let item = field(env, value, &name)?;
                fields.push((
                    f.name.to_owned(),
                    from_js(env, item, &format!("{at}.{name}"), &f.ty)?,
                ));
            }
            Val::Record(fields)
        }
        Type::Variant(variant) => {
            let (tag, val) = tagged(env, value, at, ty)?;
            let Some(case) = variant.cases().find(|c| c.name == tag) else {
                return Err(refuse(env, value, at, ty, "one of its cases"));
            };
            let payload = match case.ty {
                Some(inner) => Some(Box::new(from_js(env, val, &format!("{at}.val"), &inner)?)),
                None => None,
            };
            Val::Variant(tag, payload)
        }
        Type::Enum(e) => {
            if kind(env, value)? != sys::ValueType::napi_string {
                return Err(refuse(env, value, at, ty, "a string"));
            }
            // SAFETY: on `env`'s thread; `value` is a string.
            let name = unsafe { js::read_string(env, value) }.map_err(broken)?;
            if !e.names().any(|n| n == name) {
                return Err(refuse(env, value, at, ty, "one of its names"));
            }
            Val::Enum(name)
        }
        Type::Option(option) => {
            let inner = option.ty();
            if !nullable(ty) {
                // `undefined` would be the inner option's `none` too: jco
                // tags the outer one.
                if kind(env, value)? != sys::ValueType::napi_object {
                    return Err(refuse(
                        env,
                        value,
                        at,
                        ty,
                        "{ tag: 'some', val } or { tag: 'none' }",
                    ));
                }
                let (tag, val) = tagged(env, value, at, ty)?;
                return Ok(Val::Option(match tag.as_str() {
                    "none" => None,
                    "some" => Some(Box::new(from_js(env, val, &format!("{at}.val"), &inner)?)),
                    _ => {
                        return Err(refuse(
                            env,
                            value,
                            at,
                            ty,
                            "{ tag: 'some', val } or { tag: 'none' }",
                        ));
                    }
                }));
            }
            if nullish(env, value)? {
                Val::Option(None)
            } else {
                Val::Option(Some(Box::new(from_js(env, value, at, &inner)?)))
            }
        }
        Type::Result(result) => {
            let (tag, val) = tagged(env, value, at, ty)?;
            let side = match tag.as_str() {
                "ok" => result.ok(),
                "err" => result.err(),
                _ => return Err(refuse(env, value, at, ty, "{ tag: 'ok' | 'err', val }")),
            };
            let payload = match side {
                Some(inner) => Some(Box::new(from_js(env, val, &format!("{at}.val"), &inner)?)),
                None => None,
            };
            Val::Result(if tag == "ok" {
                Ok(payload)
            } else {
                Err(payload)
            })
        }
        Type::Flags(flags) => {
            if kind(env, value)? != sys::ValueType::napi_object {
                return Err(refuse(env, value, at, ty, "an object of booleans"));
            }
            let mut set = Vec::new();
            for name in flags.names() {
                let flag = field(env, value, &camel(name))?;
                // A flag left out is clear; one that is there is a boolean.
                let on = match kind(env, flag)? {
                    sys::ValueType::napi_undefined => false,
                    // SAFETY: on `env`'s thread; `flag` is a boolean.
                    sys::ValueType::napi_boolean => {
                        unsafe { js::boolean(env, flag) }.map_err(broken)?
                    }
                    _ => {
                        return Err(refuse(
                            env,
                            flag,
                            &format!("{at}.{}", camel(name)),
                            ty,
                            "a boolean or undefined",
                        ));
                    }
                };
                if on {
                    set.push(name.to_owned());
                }
            }
            Val::Flags(set)
        }
        other => {
            return Err(argument(format!(
                "{at} is of WIT type {}, which this engine cannot pass yet",
                type_name(other)
            )));
        }
    })
}

/// The typed array a list of `element` is in JavaScript, as jco maps
/// numeric lists, and the bytes of one element; `None` for other lists.
fn numeric(element: &Type) -> Option<(sys::napi_typedarray_type, usize)> {
    use sys::TypedarrayType as T;
    Some(match element {
        Type::U8 => (T::uint8_array, 1),
        Type::S8 => (T::int8_array, 1),
        Type::U16 => (T::uint16_array, 2),
        Type::S16 => (T::int16_array, 2),
        Type::U32 => (T::uint32_array, 4),
        Type::S32 => (T::int32_array, 4),
        Type::U64 => (T::biguint64_array, 8),
        Type::S64 => (T::bigint64_array, 8),
        Type::Float32 => (T::float32_array, 4),
        Type::Float64 => (T::float64_array, 8),
        _ => return None,
    })
}

/// One element of a numeric list of `element` from its bytes (this
/// machine's order, as typed arrays hold them; `b` holds exactly the
/// element's size, which `numeric` gave).
fn number(element: &Type, b: &[u8]) -> Val {
    fn take<const N: usize>(b: &[u8]) -> [u8; N] {
        <[u8; N]>::try_from(b).unwrap_or([0; N])
    }
    match element {
        Type::U8 => Val::U8(take::<1>(b)[0]),
        Type::S8 => Val::S8(i8::from_ne_bytes(take(b))),
        Type::U16 => Val::U16(u16::from_ne_bytes(take(b))),
        Type::S16 => Val::S16(i16::from_ne_bytes(take(b))),
        Type::U32 => Val::U32(u32::from_ne_bytes(take(b))),
        Type::S32 => Val::S32(i32::from_ne_bytes(take(b))),
        Type::U64 => Val::U64(u64::from_ne_bytes(take(b))),
        Type::S64 => Val::S64(i64::from_ne_bytes(take(b))),
        Type::Float32 => Val::Float32(f32::from_ne_bytes(take(b))),
        _ => Val::Float64(f64::from_ne_bytes(take(b))),
    }
}

/// Appends the bytes of the numeric `value` (this machine's order).
fn bytes_of(value: &Val, out: &mut Vec<u8>) {
    match value {
        Val::U8(n) => out.push(*n),
        Val::S8(n) => out.extend_from_slice(&n.to_ne_bytes()),
        Val::U16(n) => out.extend_from_slice(&n.to_ne_bytes()),
        Val::S16(n) => out.extend_from_slice(&n.to_ne_bytes()),
        Val::U32(n) => out.extend_from_slice(&n.to_ne_bytes()),
        Val::S32(n) => out.extend_from_slice(&n.to_ne_bytes()),
        Val::U64(n) => out.extend_from_slice(&n.to_ne_bytes()),
        Val::S64(n) => out.extend_from_slice(&n.to_ne_bytes()),
        Val::Float32(n) => out.extend_from_slice(&n.to_ne_bytes()),
        Val::Float64(n) => out.extend_from_slice(&n.to_ne_bytes()),
        _ => {}
    }
}

/// The items of the array `value`.
fn elements(
    env: napi_env,
    value: napi_value,
    at: &str,
    ty: &Type,
    expected: &str,
) -> Result<Vec<napi_value>, WasmError> {
    // SAFETY: on `env`'s thread inside a callback.
    unsafe {
        if !js::is_array(env, value) {
            return Err(refuse(env, value, at, ty, expected));
        }
        let len = js::array_length(env, value).map_err(broken)?;
        (0..len)
            .map(|i| js::element(env, value, i).map_err(broken))
            .collect()
    }
}

/// A `{ tag, val }` object (`val` left out when `None`).
unsafe fn tagged_to_js(env: napi_env, tag: &str, val: Option<napi_value>) -> Raw<napi_value> {
    // SAFETY: the caller's contract.
    unsafe {
        let object = js::object(env)?;
        js::set_property(env, object, "tag", js::string(env, tag)?)?;
        if let Some(val) = val {
            js::set_property(env, object, "val", val)?;
        }
        Ok(object)
    }
}

/// `value`, of type `ty`, as JavaScript.
///
/// # Safety
/// On `env`'s thread inside a callback or handle scope.
pub(crate) unsafe fn to_js(env: napi_env, value: &Val, ty: &Type) -> Raw<napi_value> {
    // SAFETY: the caller's contract.
    unsafe {
        Ok(match (value, ty) {
            (Val::Bool(b), _) => js::boolean_value(env, *b)?,
            (Val::S8(n), _) => js::double(env, f64::from(*n))?,
            (Val::U8(n), _) => js::double(env, f64::from(*n))?,
            (Val::S16(n), _) => js::double(env, f64::from(*n))?,
            (Val::U16(n), _) => js::double(env, f64::from(*n))?,
            (Val::S32(n), _) => js::double(env, f64::from(*n))?,
            (Val::U32(n), _) => js::double(env, f64::from(*n))?,
            (Val::S64(n), _) => js::bigint(env, *n)?,
            (Val::U64(n), _) => js::bigint_unsigned(env, *n)?,
            (Val::Float32(n), _) => js::double(env, f64::from(*n))?,
            (Val::Float64(n), _) => js::double(env, *n)?,
            (Val::Char(c), _) => js::string(env, c.encode_utf8(&mut [0; 4]))?,
            (Val::String(s), _) => js::string(env, s)?,
            (Val::List(items), Type::List(list)) => {
                let element = list.ty();
                match numeric(&element) {
                    Some((array, size)) => {
                        let mut bytes = Vec::with_capacity(items.len() * size);
                        items.iter().for_each(|v| bytes_of(v, &mut bytes));
                        js::typed_array_of(env, array, size, &bytes)?
                    }
                    None => js::array_of(
                        env,
                        items.len(),
                        items.iter().map(|v| to_js(env, v, &element)),
                    )?,
                }
            }
            (Val::Tuple(items), Type::Tuple(tuple)) => {
                let types: Vec<Type> = tuple.types().collect();
                js::array_of(
                    env,
                    items.len(),
                    items.iter().zip(&types).map(|(v, ty)| to_js(env, v, ty)),
                )?
            }
            (Val::Record(fields), Type::Record(record)) => {
                let object = js::object(env)?;
                for ((name, v), f) in fields.iter().zip(record.fields()) {
                    js::set_property(env, object, &camel(name), to_js(env, v, &f.ty)?)?;
                }
                object
            }
            (Val::Variant(tag, payload), Type::Variant(variant)) => {
                let inner = variant.cases().find(|c| c.name == tag).and_then(|c| c.ty);
                let val = match (payload, inner) {
                    (Some(v), Some(ty)) => Some(to_js(env, v, &ty)?),
                    _ => None,
                };
                tagged_to_js(env, tag, val)?
            }
            (Val::Enum(name), _) => js::string(env, name)?,
            (Val::Option(inner), Type::Option(option)) => {
                let inner_ty = option.ty();
                match (inner, nullable(ty)) {
                    (None, true) => js::undefined(env)?,
                    (Some(v), true) => to_js(env, v, &inner_ty)?,
                    (None, false) => tagged_to_js(env, "none", None)?,
                    (Some(v), false) => tagged_to_js(env, "some", Some(to_js(env, v, &inner_ty)?))?,
                }
            }
            (Val::Result(outcome), Type::Result(result)) => {
                let (tag, payload, side) = match outcome {
                    Ok(v) => ("ok", v, result.ok()),
                    Err(v) => ("err", v, result.err()),
                };
                let val = match (payload, side) {
                    (Some(v), Some(ty)) => to_js(env, v, &ty)?,
                    _ => js::undefined(env)?,
                };
                tagged_to_js(env, tag, Some(val))?
            }
            (Val::Flags(set), Type::Flags(flags)) => {
                let object = js::object(env)?;
                for name in flags.names() {
                    let on = set.iter().any(|s| s == name);
                    js::set_property(env, object, &camel(name), js::boolean_value(env, on)?)?;
                }
                object
            }
            _ => js::undefined(env)?,
        })
    }
}
