//! What a WASI program may see, as the TypeScript layer hands it over
//! (checked there), and its translation into the core's options.

use std::path::PathBuf;

use napi::bindgen_prelude::{BigInt, Uint8Array};
use napi_derive::napi;
use wasm_engine_core::WasmError;
use wasm_engine_core::wasi::{Determinism, Preopen, Sink, WasiOptions};

/// A directory of the host the program sees, as the TypeScript layer
/// passes it.
#[napi(object)]
pub struct WasiPreopen {
    pub guest: String,
    pub host_path: String,
    pub read_only: bool,
}

/// What a WASI program may see, checked by the TypeScript layer.
#[napi(object)]
pub struct WasiSpec {
    pub args: Vec<String>,
    /// Names and values, alternating.
    pub env: Vec<String>,
    pub stdin: Uint8Array,
    pub preopens: Vec<WasiPreopen>,
    pub max_output_bytes: Option<f64>,
    /// Set for a deterministic run, with `seed`.
    pub start_ms: Option<f64>,
    pub seed: Option<BigInt>,
}

impl WasiSpec {
    pub(crate) fn options(&self, sink: Option<Sink>) -> Result<WasiOptions, WasmError> {
        let deterministic = match (self.start_ms, &self.seed) {
            (Some(start_ms), Some(seed)) => Some(Determinism {
                // Checked by the TypeScript layer: a whole number of
                // milliseconds from 0 to Number.MAX_SAFE_INTEGER.
                start_ms: start_ms as u64,
                seed: seed.get_u64().1,
            }),
            _ => None,
        };
        Ok(WasiOptions {
            args: self.args.clone(),
            env: self
                .env
                .chunks_exact(2)
                .map(|pair| (pair[0].clone(), pair[1].clone()))
                .collect(),
            stdin: self.stdin.to_vec(),
            preopens: self
                .preopens
                .iter()
                .map(|p| Preopen {
                    guest: p.guest.clone(),
                    host: PathBuf::from(&p.host_path),
                    read_only: p.read_only,
                })
                .collect(),
            max_output_bytes: self.max_output_bytes.map(|n| n as usize),
            deterministic,
            sink,
        })
    }
}
