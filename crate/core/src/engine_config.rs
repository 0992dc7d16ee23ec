//! The wasmtime settings every engine uses. Public so the native benchmark
//! (`bench/native.rs`) measures wasmtime under exactly these settings.

use wasmtime::{Config, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

use crate::config::{MAX_TABLE_ELEMENTS, MAX_WASM32_PAGES, WASM_PAGE_SIZE};

/// Memories, tables and instances one module may define in a pooled
/// engine. Each costs a few bytes of every instance's metadata, not address
/// space; modules over it fail to instantiate with a message that says so.
const POOLED_ITEMS_PER_MODULE: u32 = 16;

/// Metadata (`VMContext`) bytes one pooled instance may use: a check, not
/// a reservation, so it is set far above what real modules need.
const POOLED_INSTANCE_METADATA: usize = 16 << 20;

/// The configuration of a wasmtime engine. `metering` compiles fuel
/// accounting into every module, which only metered engines should pay
/// for; `pool_slots`, when set, makes instances come from a pool of that
/// many pre-reserved slots instead of fresh mappings (see
/// [`pool_reservation`] for what that reserves).
pub fn engine_config(metering: bool, pool_slots: Option<u32>) -> Config {
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
    if let Some(slots) = pool_slots {
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling(slots)));
    }
    config
}

/// A pool of `slots` instances, each with one memory slot and one table
/// slot. Slots keep the copy-on-write image of the module they last held,
/// so instantiating the same module again maps nothing: the pool is what
/// brings instantiation from tens of microseconds to a few.
fn pooling(slots: u32) -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_core_instances(slots)
        .total_memories(slots)
        .total_tables(slots)
        .total_gc_heaps(slots)
        // Guests never run on fibers (host calls park the worker), so the
        // pool reserves no stacks: each would split the address space into
        // two more maps.
        .total_stacks(0)
        .max_memories_per_module(POOLED_ITEMS_PER_MODULE)
        .max_tables_per_module(POOLED_ITEMS_PER_MODULE)
        .max_core_instance_size(POOLED_INSTANCE_METADATA)
        // Every engine's own cap is enforced by its store's limiter, so the
        // pool only needs to hold the largest memory any engine allows.
        .max_memory_size(MAX_WASM32_PAGES as usize * WASM_PAGE_SIZE as usize)
        .table_elements(MAX_TABLE_ELEMENTS);
    pool
}

/// Address space a pool of `slots` reserves up front: per slot, wasmtime's
/// default 4 GiB memory reservation plus its 32 MiB guard (which let
/// compiled code skip bounds checks) and a table of
/// [`MAX_TABLE_ELEMENTS`] pointers. Reserved, not committed: it costs
/// neither memory nor swap, only virtual address space (128 TiB on
/// x86-64 Linux).
pub fn pool_reservation(slots: u32) -> u64 {
    const MEMORY_SLOT: u64 = (4 << 30) + (32 << 20);
    const TABLE_SLOT: u64 = MAX_TABLE_ELEMENTS as u64 * 8;
    u64::from(slots) * (MEMORY_SLOT + TABLE_SLOT)
}
