//! The Node-free core of `wasm-engine`: Freenet's `WasmEngine` on wasmtime,
//! with fuel metering, memory caps, wall-clock deadlines, host imports and a
//! scheduler for blocking calls, over plain Rust and wasmtime types.
//!
//! Runtimes built on it (Freenet's contracts and delegates, in
//! `wasm-engine-freenet`) use its embedding API: [`Engine::enter`] for an
//! operation of several guest entries under the engine's lock, the
//! [`EngineState`] it gives, [`Natives`] for host functions written in
//! Rust, and [`request::ask`] for questions a guest on a worker puts to the
//! host's thread.
//!
//! The Node.js binding (`crate/binding`) is the only user; it converts
//! JavaScript values into the types here once, and turns [`WasmError`]s into
//! JavaScript errors once. Everything in this crate is tested with
//! `cargo test`, without Node.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod backend;
pub mod component;
pub mod config;
pub mod counters;
pub mod deadline;
mod disk_cache;
pub mod engine;
pub mod engine_config;
pub mod error;
pub mod function;
pub mod host;
pub mod instance;
pub mod memory;
pub mod module;
pub mod request;
pub mod scheduler;
mod site;
mod state;
mod store;
pub mod values;
pub mod wasi;
mod wasi_poll;

pub use config::RuntimeConfig;
pub use counters::CallCounts;
pub use engine::{Engine, Stats, parse_text};
pub use error::{ContractFailure, ErrorKind, HostFailure, TrapCode, WasmError};
pub use function::Function;
pub use host::{Host, HostCall, ImportSpec, Natives, PostedCall};
pub use instance::{Instance, Target};
pub use module::{Compiler, Module};
pub use site::Site;
pub use state::{EngineState, INITIATE_BUFFER_EXPORT, SET_ID_EXPORT};
pub use store::HostState;
pub use values::{Kind, Signature};
pub use wasmtime::Val;
