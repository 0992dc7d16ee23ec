//! Thin wrappers over the raw Node-API calls the hot paths use.
//!
//! Every function here is `unsafe`: it must run on the JavaScript thread of
//! `env`, inside a Node-API callback or a handle scope, which is what each
//! caller guarantees.

use std::ffi::c_void;
use std::ptr;

use napi::sys::{self, napi_env, napi_value};

/// A failed Node-API call: the environment is shutting down or an exception
/// is pending. Callers give up on the operation.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Failed(pub(crate) sys::napi_status);

pub(crate) type Raw<T> = Result<T, Failed>;

pub(crate) fn ok(status: sys::napi_status) -> Raw<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Failed(status))
    }
}

pub(crate) unsafe fn undefined(env: napi_env) -> Raw<napi_value> {
    let mut value = ptr::null_mut();
    // SAFETY: see the module comment.
    ok(unsafe { sys::napi_get_undefined(env, &mut value) })?;
    Ok(value)
}

pub(crate) unsafe fn type_of(env: napi_env, value: napi_value) -> Raw<sys::napi_valuetype> {
    let mut ty = 0;
    // SAFETY: see the module comment.
    ok(unsafe { sys::napi_typeof(env, value, &mut ty) })?;
    Ok(ty)
}

/// Whether `value` is a string (false when that cannot be told).
pub(crate) fn type_of_is_string(env: napi_env, value: napi_value) -> bool {
    // SAFETY: every caller is a Node-API callback on `env`'s thread.
    unsafe { type_of(env, value) }.is_ok_and(|ty| ty == sys::ValueType::napi_string)
}

pub(crate) unsafe fn string(env: napi_env, text: &str) -> Raw<napi_value> {
    let mut value = ptr::null_mut();
    // SAFETY: see the module comment; the pointer and length describe `text`.
    ok(unsafe {
        sys::napi_create_string_utf8(env, text.as_ptr().cast(), text.len() as isize, &mut value)
    })?;
    Ok(value)
}

pub(crate) unsafe fn bigint(env: napi_env, n: i64) -> Raw<napi_value> {
    let mut value = ptr::null_mut();
    // SAFETY: see the module comment.
    ok(unsafe { sys::napi_create_bigint_int64(env, n, &mut value) })?;
    Ok(value)
}

pub(crate) unsafe fn double(env: napi_env, n: f64) -> Raw<napi_value> {
    let mut value = ptr::null_mut();
    // SAFETY: see the module comment.
    ok(unsafe { sys::napi_create_double(env, n, &mut value) })?;
    Ok(value)
}

pub(crate) unsafe fn property(env: napi_env, object: napi_value, name: &str) -> Raw<napi_value> {
    let key = unsafe { string(env, name) }?;
    let mut value = ptr::null_mut();
    // SAFETY: see the module comment.
    ok(unsafe { sys::napi_get_property(env, object, key, &mut value) })?;
    Ok(value)
}

pub(crate) unsafe fn set_property(
    env: napi_env,
    object: napi_value,
    name: &str,
    value: napi_value,
) -> Raw<()> {
    let key = unsafe { string(env, name) }?;
    // SAFETY: see the module comment.
    ok(unsafe { sys::napi_set_property(env, object, key, value) })
}

/// A JavaScript string's contents.
pub(crate) unsafe fn read_string(env: napi_env, value: napi_value) -> Raw<String> {
    let mut len = 0;
    // SAFETY: see the module comment; a null buffer asks for the length.
    ok(unsafe { sys::napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut len) })?;
    let mut bytes = vec![0u8; len + 1];
    let mut written = 0;
    // SAFETY: `bytes` holds `len + 1` bytes, room for the text and its NUL.
    ok(unsafe {
        sys::napi_get_value_string_utf8(
            env,
            value,
            bytes.as_mut_ptr().cast(),
            bytes.len(),
            &mut written,
        )
    })?;
    bytes.truncate(written);
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A JavaScript string's contents, `None` when it holds an unpaired
/// surrogate (which UTF-8 cannot carry, and `read_string` would replace).
pub(crate) unsafe fn read_string_strict(env: napi_env, value: napi_value) -> Raw<Option<String>> {
    let mut len = 0;
    // SAFETY: see the module comment; a null buffer asks for the length.
    ok(unsafe { sys::napi_get_value_string_utf16(env, value, ptr::null_mut(), 0, &mut len) })?;
    let mut units = vec![0u16; len + 1];
    let mut written = 0;
    // SAFETY: `units` holds `len + 1` code units, room for the text and its NUL.
    ok(unsafe {
        sys::napi_get_value_string_utf16(env, value, units.as_mut_ptr(), units.len(), &mut written)
    })?;
    units.truncate(written);
    Ok(String::from_utf16(&units).ok())
}

/// A bigint of the unsigned `n`.
pub(crate) unsafe fn bigint_unsigned(env: napi_env, n: u64) -> Raw<napi_value> {
    let mut value = ptr::null_mut();
    // SAFETY: see the module comment.
    ok(unsafe { sys::napi_create_bigint_uint64(env, n, &mut value) })?;
    Ok(value)
}

/// The `this`-less arguments of a callback, at most `N` of them read into
/// a buffer on the stack, plus the total count and the callback's data.
pub(crate) struct Args<const N: usize> {
    pub(crate) values: [napi_value; N],
    pub(crate) count: usize,
    pub(crate) data: *mut c_void,
}

impl<const N: usize> Args<N> {
    pub(crate) unsafe fn read(env: napi_env, info: sys::napi_callback_info) -> Raw<Args<N>> {
        let mut args = Args {
            values: [ptr::null_mut(); N],
            count: N,
            data: ptr::null_mut(),
        };
        // SAFETY: see the module comment; `values` holds `count` slots.
        ok(unsafe {
            sys::napi_get_cb_info(
                env,
                info,
                &mut args.count,
                args.values.as_mut_ptr(),
                ptr::null_mut(),
                &mut args.data,
            )
        })?;
        Ok(args)
    }
}

/// Every argument of a callback, however many.
pub(crate) unsafe fn all_args(
    env: napi_env,
    info: sys::napi_callback_info,
    count: usize,
) -> Raw<Vec<napi_value>> {
    let mut values = vec![ptr::null_mut(); count];
    let mut got = count;
    // SAFETY: see the module comment; `values` holds `count` slots.
    ok(unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut got,
            values.as_mut_ptr(),
            ptr::null_mut(),
            ptr::null_mut(),
        )
    })?;
    values.truncate(got.min(count));
    Ok(values)
}

/// Runs `body` inside a handle scope of its own, so a loop of calls does
/// not pile up handles in the caller's scope.
pub(crate) unsafe fn scoped<R>(env: napi_env, body: impl FnOnce() -> R) -> Raw<R> {
    let mut scope = ptr::null_mut();
    // SAFETY: see the module comment; the scope is closed below on every path.
    ok(unsafe { sys::napi_open_handle_scope(env, &mut scope) })?;
    let result = body();
    // SAFETY: `scope` was opened above on this thread and nothing opened
    // inside `body` outlives it.
    unsafe { sys::napi_close_handle_scope(env, scope) };
    Ok(result)
}

/// The instance of the napi-rs class `T` that `value` wraps, if it is one.
///
/// napi-rs's own conversion also registers the borrow with the callback's
/// borrow scope, which raw callbacks and `Unknown` arguments do not open;
/// `T`'s methods take `&self` only, so a shared reference needs no tracking.
///
/// # Safety
/// On `env`'s thread inside a callback; the reference must not outlive the
/// callback (the JavaScript object keeps the instance alive until then).
pub(crate) unsafe fn class<'a, T: napi::bindgen_prelude::TypeTag>(
    env: napi_env,
    value: napi_value,
) -> Option<&'a T> {
    let mut tagged = false;
    let mut wrapped: *mut c_void = ptr::null_mut();
    // SAFETY: the caller's contract. The type tag proves `value` was made by
    // `T`'s constructor, which wraps a `T`; napi-rs frees it only in the
    // object's finalizer, after this callback.
    unsafe {
        ok(sys::napi_check_object_type_tag(
            env,
            value,
            &T::type_tag(),
            &mut tagged,
        ))
        .ok()?;
        if !tagged {
            return None;
        }
        ok(sys::napi_unwrap(env, value, &mut wrapped)).ok()?;
        wrapped.cast::<T>().as_ref()
    }
}

/// A new `Uint8Array` holding a copy of `data`.
///
/// # Safety
/// On `env`'s thread inside a callback or handle scope.
pub(crate) unsafe fn uint8_array(env: napi_env, data: &[u8]) -> Raw<napi_value> {
    // SAFETY: the caller's contract.
    unsafe { typed_array_of(env, sys::TypedarrayType::uint8_array, 1, data) }
}

/// A typed array of `kind` (elements of `element_bytes` bytes each) over a
/// copy of `data`, the elements' bytes in this machine's order.
pub(crate) unsafe fn typed_array_of(
    env: napi_env,
    kind: sys::napi_typedarray_type,
    element_bytes: usize,
    data: &[u8],
) -> Raw<napi_value> {
    // SAFETY: the caller's contract; `data` is copied before the call returns.
    unsafe {
        let (mut buffer, mut bytes) = (ptr::null_mut(), ptr::null_mut());
        ok(sys::napi_create_arraybuffer(
            env,
            data.len(),
            &mut bytes,
            &mut buffer,
        ))?;
        if !data.is_empty() {
            ptr::copy_nonoverlapping(data.as_ptr(), bytes.cast::<u8>(), data.len());
        }
        let mut array = ptr::null_mut();
        ok(sys::napi_create_typedarray(
            env,
            kind,
            data.len() / element_bytes,
            buffer,
            0,
            &mut array,
        ))?;
        Ok(array)
    }
}

/// Calls `function(...argv)` with `this` undefined: `Ok(returned)`, or
/// `Err(exception)` when it threw, the exception cleared so that none is
/// left pending for the caller's next Node-API call.
///
/// # Safety
/// On `env`'s thread inside a callback or handle scope.
pub(crate) unsafe fn call(
    env: napi_env,
    function: napi_value,
    argv: &[napi_value],
) -> Raw<Result<napi_value, napi_value>> {
    // SAFETY: the caller's contract.
    unsafe {
        let mut returned = ptr::null_mut();
        let status = sys::napi_call_function(
            env,
            undefined(env)?,
            function,
            argv.len(),
            argv.as_ptr(),
            &mut returned,
        );
        if status == sys::Status::napi_pending_exception {
            let mut exception = ptr::null_mut();
            ok(sys::napi_get_and_clear_last_exception(env, &mut exception))?;
            return Ok(Err(exception));
        }
        ok(status)?;
        Ok(Ok(returned))
    }
}

/// Whether `value` is an array (false when that cannot be told).
pub(crate) unsafe fn is_array(env: napi_env, value: napi_value) -> bool {
    let mut array = false;
    // SAFETY: see the module comment.
    let status = unsafe { sys::napi_is_array(env, value, &mut array) };
    status == sys::Status::napi_ok && array
}

/// The length of the array `value`.
pub(crate) unsafe fn array_length(env: napi_env, value: napi_value) -> Raw<u32> {
    let mut len = 0;
    // SAFETY: see the module comment.
    ok(unsafe { sys::napi_get_array_length(env, value, &mut len) })?;
    Ok(len)
}

/// Element `index` of the array (or object) `value`.
pub(crate) unsafe fn element(env: napi_env, value: napi_value, index: u32) -> Raw<napi_value> {
    let mut item = ptr::null_mut();
    // SAFETY: see the module comment.
    ok(unsafe { sys::napi_get_element(env, value, index, &mut item) })?;
    Ok(item)
}

/// The boolean `value` is; an error when it is not a boolean.
pub(crate) unsafe fn boolean(env: napi_env, value: napi_value) -> Raw<bool> {
    let mut flag = false;
    // SAFETY: see the module comment.
    ok(unsafe { sys::napi_get_value_bool(env, value, &mut flag) })?;
    Ok(flag)
}

/// A new empty object.
pub(crate) unsafe fn object(env: napi_env) -> Raw<napi_value> {
    let mut object = ptr::null_mut();
    // SAFETY: see the module comment.
    ok(unsafe { sys::napi_create_object(env, &mut object) })?;
    Ok(object)
}

/// A native function named `name` that runs `callback` with `data`.
pub(crate) unsafe fn function(
    env: napi_env,
    name: &str,
    callback: sys::napi_callback,
    data: *mut c_void,
) -> Raw<napi_value> {
    let mut function = ptr::null_mut();
    // SAFETY: see the module comment; the pointer and length describe `name`.
    ok(unsafe {
        sys::napi_create_function(
            env,
            name.as_ptr().cast(),
            name.len() as isize,
            callback,
            data,
            &mut function,
        )
    })?;
    Ok(function)
}

/// Runs `finalize(data)` once `object` is collected.
pub(crate) unsafe fn add_finalizer(
    env: napi_env,
    object: napi_value,
    data: *mut c_void,
    finalize: sys::napi_finalize,
) -> Raw<()> {
    // SAFETY: see the module comment.
    ok(unsafe {
        sys::napi_add_finalizer(
            env,
            object,
            data,
            finalize,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    })
}

/// The number `value` is.
#[inline]
pub(crate) unsafe fn number(env: napi_env, value: napi_value) -> Raw<f64> {
    let mut n = 0.0;
    // SAFETY: see the module comment.
    ok(unsafe { sys::napi_get_value_double(env, value, &mut n) })?;
    Ok(n)
}

/// The bigint `value` as an `i64`, and whether that was lossless.
#[inline]
pub(crate) unsafe fn bigint_i64(env: napi_env, value: napi_value) -> Raw<(i64, bool)> {
    let (mut n, mut lossless) = (0, false);
    // SAFETY: see the module comment.
    ok(unsafe { sys::napi_get_value_bigint_int64(env, value, &mut n, &mut lossless) })?;
    Ok((n, lossless))
}

/// The bigint `value` as a `u64`, and whether that was lossless.
#[inline]
pub(crate) unsafe fn bigint_u64(env: napi_env, value: napi_value) -> Raw<(u64, bool)> {
    let (mut n, mut lossless) = (0, false);
    // SAFETY: see the module comment.
    ok(unsafe { sys::napi_get_value_bigint_uint64(env, value, &mut n, &mut lossless) })?;
    Ok((n, lossless))
}

/// An array of `values`.
pub(crate) unsafe fn array_of(
    env: napi_env,
    len: usize,
    values: impl IntoIterator<Item = Raw<napi_value>>,
) -> Raw<napi_value> {
    let mut array = ptr::null_mut();
    // SAFETY: see the module comment.
    unsafe {
        ok(sys::napi_create_array_with_length(env, len, &mut array))?;
        for (i, value) in values.into_iter().enumerate() {
            ok(sys::napi_set_element(env, array, i as u32, value?))?;
        }
    }
    Ok(array)
}

/// `null`.
pub(crate) unsafe fn null(env: napi_env) -> Raw<napi_value> {
    let mut value = ptr::null_mut();
    // SAFETY: see the module comment.
    ok(unsafe { sys::napi_get_null(env, &mut value) })?;
    Ok(value)
}

/// `true` or `false`.
pub(crate) unsafe fn boolean_value(env: napi_env, flag: bool) -> Raw<napi_value> {
    let mut value = ptr::null_mut();
    // SAFETY: see the module comment.
    ok(unsafe { sys::napi_get_boolean(env, flag, &mut value) })?;
    Ok(value)
}

/// Whether `value` is an `Error` (false when that cannot be told).
pub(crate) unsafe fn is_error(env: napi_env, value: napi_value) -> bool {
    let mut error = false;
    // SAFETY: see the module comment.
    let status = unsafe { sys::napi_is_error(env, value, &mut error) };
    status == sys::Status::napi_ok && error
}

/// `String(value)`; when that throws, the exception is cleared and the
/// result is an error.
pub(crate) unsafe fn coerce_to_string(env: napi_env, value: napi_value) -> Raw<String> {
    let mut text = ptr::null_mut();
    // SAFETY: see the module comment.
    unsafe {
        if let Err(failed) = ok(sys::napi_coerce_to_string(env, value, &mut text)) {
            clear_exception(env);
            return Err(failed);
        }
        read_string(env, text)
    }
}

/// Clears the pending exception, if any.
pub(crate) unsafe fn clear_exception(env: napi_env) {
    let mut ignored = ptr::null_mut();
    // SAFETY: see the module comment.
    unsafe { sys::napi_get_and_clear_last_exception(env, &mut ignored) };
}

/// The element type, bytes and length of the typed array `value`; `None`
/// when it is not a typed array.
pub(crate) unsafe fn typed_array(
    env: napi_env,
    value: napi_value,
) -> Raw<Option<(sys::napi_typedarray_type, *const u8, usize)>> {
    let mut is_typed = false;
    // SAFETY: see the module comment.
    ok(unsafe { sys::napi_is_typedarray(env, value, &mut is_typed) })?;
    if !is_typed {
        return Ok(None);
    }
    let (mut ty, mut len, mut data) = (0, 0, ptr::null_mut());
    let (mut buffer, mut offset) = (ptr::null_mut(), 0);
    // SAFETY: see the module comment; `value` is a typed array.
    ok(unsafe {
        sys::napi_get_typedarray_info(
            env,
            value,
            &mut ty,
            &mut len,
            &mut data,
            &mut buffer,
            &mut offset,
        )
    })?;
    Ok(Some((ty, data.cast_const().cast(), len)))
}

/// The bytes and length of the `ArrayBuffer` `value`; `None` when it is not one.
pub(crate) unsafe fn array_buffer(
    env: napi_env,
    value: napi_value,
) -> Raw<Option<(*const u8, usize)>> {
    let mut is_buffer = false;
    // SAFETY: see the module comment.
    ok(unsafe { sys::napi_is_arraybuffer(env, value, &mut is_buffer) })?;
    if !is_buffer {
        return Ok(None);
    }
    let (mut data, mut len) = (ptr::null_mut(), 0);
    // SAFETY: see the module comment; `value` is an `ArrayBuffer`.
    ok(unsafe { sys::napi_get_arraybuffer_info(env, value, &mut data, &mut len) })?;
    Ok(Some((data.cast_const().cast(), len)))
}

/// `new class(...args)`.
pub(crate) unsafe fn construct(
    env: napi_env,
    class: napi_value,
    args: &[napi_value],
) -> Raw<napi_value> {
    let mut object = ptr::null_mut();
    // SAFETY: see the module comment; `args` holds `args.len()` values.
    ok(unsafe { sys::napi_new_instance(env, class, args.len(), args.as_ptr(), &mut object) })?;
    Ok(object)
}

/// A `TypeError` with `message`.
pub(crate) unsafe fn type_error(env: napi_env, message: napi_value) -> Raw<napi_value> {
    let mut error = ptr::null_mut();
    // SAFETY: see the module comment.
    ok(unsafe { sys::napi_create_type_error(env, ptr::null_mut(), message, &mut error) })?;
    Ok(error)
}

/// An `Error` with `code` and `message`.
pub(crate) unsafe fn error(
    env: napi_env,
    code: napi_value,
    message: napi_value,
) -> Raw<napi_value> {
    let mut error = ptr::null_mut();
    // SAFETY: see the module comment.
    ok(unsafe { sys::napi_create_error(env, code, message, &mut error) })?;
    Ok(error)
}

/// Throws `value`.
pub(crate) unsafe fn throw(env: napi_env, value: napi_value) {
    // SAFETY: see the module comment.
    unsafe { sys::napi_throw(env, value) };
}

/// Throws an `Error` whose message is `text` (which must not hold a NUL),
/// for when no error object can be built.
pub(crate) unsafe fn throw_text(env: napi_env, text: &str) {
    let text = format!("{text}\0");
    // SAFETY: see the module comment; `text` is NUL-terminated.
    unsafe { sys::napi_throw_error(env, ptr::null(), text.as_ptr().cast()) };
}
