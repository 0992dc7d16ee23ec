//! Native side of the benchmark: the same modules, run by wasmtime called
//! directly from Rust with the engine configuration of the core crate
//! (the floor this package's overhead is measured against). Prints one JSON
//! line per side, `native` (metering off) and `native-metered`.
//!
//! `cargo run --release --example native-bench -- [--smoke] [--large <file.wasm>]`

use std::time::Instant;

use wasmtime::{Engine, Instance, Module, Store};

type Results = Vec<(&'static str, f64)>;

fn main() -> wasmtime::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let smoke = args.iter().any(|arg| arg == "--smoke");
    let large = args
        .iter()
        .position(|arg| arg == "--large")
        .and_then(|i| args.get(i + 1))
        .map(std::fs::read)
        .transpose()?;
    let scale = |n: u64| if smoke { (n / 100).max(1) } else { n };
    for metering in [false, true] {
        let results = side(metering, scale, large.as_deref())?;
        let fields: Vec<String> = results
            .iter()
            .map(|(name, ns)| format!("\"{name}\": {ns}"))
            .collect();
        let name = if metering { "native-metered" } else { "native" };
        println!(
            "{{\"side\": \"{name}\", \"results\": {{{}}}}}",
            fields.join(", ")
        );
    }
    Ok(())
}

/// The package's own engine settings, from the core crate.
fn engine(metering: bool) -> wasmtime::Result<Engine> {
    Engine::new(&wasm_engine_core::engine_config::engine_config(
        metering,
        Some(wasm_engine_core::config::DEFAULT_INSTANCE_POOL_SIZE),
    ))
}

fn store(engine: &Engine, metering: bool) -> wasmtime::Result<Store<()>> {
    let mut store = Store::new(engine, ());
    store.set_epoch_deadline(u64::MAX / 2);
    if metering {
        store.set_fuel(u64::MAX / 2)?;
    }
    Ok(store)
}

fn guest(engine: &Engine, name: &str) -> wasmtime::Result<Module> {
    let path = format!("{}/bench/guests/{name}.wat", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path)?.replace("@MEBIBYTE@", &"\\2a".repeat(1 << 20));
    Module::new(engine, text)
}

/// Median nanoseconds per operation of `run`, which performs `ops` of them.
fn per_op(
    ops: u64,
    runs: usize,
    mut run: impl FnMut() -> wasmtime::Result<()>,
) -> wasmtime::Result<f64> {
    run()?;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        run()?;
        samples.push(started.elapsed().as_nanos() as f64 / ops as f64);
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples[samples.len() / 2])
}

fn side(
    metering: bool,
    scale: impl Fn(u64) -> u64,
    large: Option<&[u8]>,
) -> wasmtime::Result<Results> {
    let engine = engine(metering)?;
    let mut results = Results::new();
    let mut store = store(&engine, metering)?;

    let add3 = Instance::new(&mut store, &guest(&engine, "add3")?, &[])?
        .get_typed_func::<(i64, i64, i64), i64>(&mut store, "add3")?;
    let calls = scale(200_000);
    results.push((
        "call sync",
        per_op(calls, 7, || {
            for _ in 0..calls {
                add3.call(&mut store, (1, 2, 3))?;
            }
            Ok(())
        })?,
    ));

    let mix = Instance::new(&mut store, &guest(&engine, "mix")?, &[])?
        .get_typed_func::<(i64, i64, i64), i64>(&mut store, "mix")?;
    let rounds = scale(20) as i64;
    results.push((
        "compute: mix",
        per_op(1, 7, || {
            mix.call(&mut store, (1 << 20, rounds, 7)).map(drop)
        })?,
    ));

    let sieve = Instance::new(&mut store, &guest(&engine, "sieve")?, &[])?
        .get_typed_func::<(i64, i64, i64), i64>(&mut store, "sieve")?;
    let rounds = scale(5) as i64;
    results.push((
        "compute: sieve",
        per_op(1, 7, || {
            sieve.call(&mut store, (1_000_000, rounds, 0)).map(drop)
        })?,
    ));

    if !metering {
        let count = scale(10_000);
        for (row, name) in [
            ("instantiate + set_id + drop", "instantiate"),
            (
                "instantiate + set_id + drop, 1 MiB data",
                "instantiate_data",
            ),
        ] {
            let module = guest(&engine, name)?;
            results.push((
                row,
                per_op(count, 7, || {
                    for i in 0..count {
                        let mut store = self::store(&engine, metering)?;
                        let instance = Instance::new(&mut store, &module, &[])?;
                        instance
                            .get_typed_func::<i64, ()>(&mut store, "__frnt_set_id")?
                            .call(&mut store, i as i64)?;
                    }
                    Ok(())
                })?,
            ));
        }
        if let Some(bytes) = large {
            results.push((
                "compile cold (1 MiB+)",
                per_op(1, 3, || Module::new(&engine, bytes).map(drop))?,
            ));
        }
    }
    Ok(results)
}
