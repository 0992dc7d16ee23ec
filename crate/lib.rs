//! Native core of the `wasm-engine` Node.js package: Freenet's `WasmEngine`
//! on wasmtime, with fuel metering, memory caps and wall-clock deadlines.
//!
//! The TypeScript layer (`index.ts`, `lib/`) is the public API; this crate
//! exposes the small native surface it stands on.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod backend;
mod blocking;
mod config;
mod deadline;
mod disk_cache;
mod engine;
mod engine_config;
mod error;
mod host;
mod instance;
mod memory;
mod module;
mod state;
mod store;
mod values;

use napi::bindgen_prelude::Uint8Array;
use napi_derive::napi;

/// Default cap on a linear memory, in 64 KiB pages (256 MiB).
#[napi]
pub const DEFAULT_MAX_MEMORY_PAGES: u32 = config::DEFAULT_MAX_MEMORY_PAGES;

/// Size of one WebAssembly page in bytes.
#[napi]
pub const WASM_PAGE_SIZE: u32 = config::WASM_PAGE_SIZE;

/// Translates WebAssembly text to the binary format, for tools that need
/// the bytes (V8's `WebAssembly.Module`, hashing, storage).
#[napi(catch_unwind)]
pub fn wat_to_wasm(text: String) -> error::Result<Uint8Array> {
    Ok(Uint8Array::from(engine::parse_text(&text)?))
}
