//! `resolveRequest` and `rejectRequest`: how a promise that JavaScript
//! returned for a guest's question (an async import, a store request)
//! settles it. A question whose guest gave up meanwhile settles nothing.

use napi::Env;
use napi::JsValue as _;
use napi::bindgen_prelude::Unknown;
use napi_derive::napi;

use crate::env::EnvData;
use crate::errors;
use crate::requests::Thrown;

/// Answers question `token` with what its promise resolved to.
#[napi(ts_args_type = "token: number, value: unknown")]
pub fn resolve_request(env: Env, token: f64, value: Unknown<'_>) -> napi::Result<()> {
    let raw = env.raw();
    // SAFETY: a Node-API callback on `raw`'s thread.
    unsafe {
        let data = EnvData::of(raw).map_err(errors::failed)?;
        data.requests.settle(raw, token as u64, Ok(value.raw()));
    }
    Ok(())
}

/// Fails question `token`: its promise rejected with `reason`.
#[napi(ts_args_type = "token: number, reason: unknown")]
pub fn reject_request(env: Env, token: f64, reason: Unknown<'_>) -> napi::Result<()> {
    let raw = env.raw();
    // SAFETY: a Node-API callback on `raw`'s thread.
    unsafe {
        let data = EnvData::of(raw).map_err(errors::failed)?;
        let thrown = Thrown {
            value: reason.raw(),
            rejected: true,
        };
        data.requests.settle(raw, token as u64, Err(thrown));
    }
    Ok(())
}
