//! The wasmtime settings every engine uses. Public so the native benchmark
//! (`bench/native.rs`) measures wasmtime under exactly these settings.

use wasmtime::{Config, OptLevel};

/// The configuration of a wasmtime engine; `metering` compiles fuel
/// accounting into every module, which only metered engines should pay for.
pub fn engine_config(metering: bool) -> Config {
    let mut config = Config::new();
    config
        // Measured in BENCHMARKS.md: `Speed` runs guests at native wasmtime
        // speed; Freenet's `None` compiles faster and runs slower.
        .cranelift_opt_level(OptLevel::Speed)
        .consume_fuel(metering)
        // Deadlines, aborts and close() interrupt guests through epochs.
        .epoch_interruption(true)
        // Module churn spent its CPU time registering unwind tables with
        // the system unwinder (Freenet's lesson 8); Windows needs them.
        .native_unwind_info(cfg!(windows));
    config
}
