//! The Node-API binding of `wasm-engine`: every item JavaScript sees, over
//! the Node-free core (`wasm-engine-core`).
//!
//! Arguments are converted from JavaScript here, once (`convert`, `values`);
//! failures become JavaScript errors here, once (`errors`). The TypeScript
//! layer (`index.ts`, `lib/`) adds types, documentation, the host-function
//! dispatcher and `AbortSignal` wiring on top.
//!
//! Hot paths (calls, blocking submissions, host calls, settlements) use
//! Node-API directly (`function`, `host`, `deliver`); the rest goes through
//! napi-rs classes.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod blocking;
mod component;
mod component_values;
mod convert;
mod deliver;
mod engine;
mod env;
mod errors;
mod freenet;
mod freenet_store;
mod freenet_values;
mod function;
mod handles;
mod host;
mod instance;
mod js;
mod module;
mod reference;
mod replies;
mod requests;
mod signal;
mod submit;
mod values;
mod wasi;
mod wasi_spec;

use napi::JsValue as _;
use napi::bindgen_prelude::{Env, Uint8Array, Unknown};
use napi_derive::napi;
use wasm_engine_core::config;
use wasm_engine_core::{ErrorKind, TrapCode};

/// Default cap on a linear memory, in 64 KiB pages (256 MiB).
#[napi]
pub const DEFAULT_MAX_MEMORY_PAGES: u32 = config::DEFAULT_MAX_MEMORY_PAGES;

/// Size of one WebAssembly page in bytes.
#[napi]
pub const WASM_PAGE_SIZE: u32 = config::WASM_PAGE_SIZE;

/// Translates WebAssembly text to the binary format, for tools that need
/// the bytes (V8's `WebAssembly.Module`, hashing, storage).
#[napi(catch_unwind, ts_args_type = "text: string")]
pub fn wat_to_wasm(env: Env, text: Unknown<'_>) -> napi::Result<Uint8Array> {
    let text = errors::or_throw(env.raw(), convert::string(env.raw(), text.raw(), "text"))?;
    let wasm = errors::or_throw(env.raw(), wasm_engine_core::parse_text(&text))?;
    Ok(Uint8Array::from(wasm))
}

/// The stable error codes the native side produces, for the check that the
/// TypeScript unions list exactly these.
#[napi]
pub fn error_codes() -> Vec<&'static str> {
    let mut codes: Vec<_> = ErrorKind::ALL
        .iter()
        .filter(|kind| **kind != ErrorKind::Argument)
        .map(|kind| kind.code())
        .collect();
    codes.dedup();
    codes
}

/// The trap names the native side produces, for the same check.
#[napi]
pub fn trap_codes() -> Vec<&'static str> {
    TrapCode::ALL.iter().map(|trap| trap.name()).collect()
}
