//! Engine configuration: the JavaScript `RuntimeConfig` and the limits
//! derived from it once, at engine creation.

use std::path::PathBuf;
use std::time::Duration;

use crate::disk_cache::DiskCache;
use crate::error::{ErrorKind, WasmError};

/// Size of one WebAssembly page in bytes.
pub const WASM_PAGE_SIZE: u32 = 65_536;

/// Default cap on a memory's size, in pages (256 MiB).
pub const DEFAULT_MAX_MEMORY_PAGES: u32 = 4096;

/// Largest page count a 32-bit memory can reach (4 GiB).
pub const MAX_WASM32_PAGES: u32 = 65_536;

/// Bytes the on-disk compile cache may take unless configured otherwise.
pub const DEFAULT_COMPILE_CACHE_MAX_BYTES: u64 = 512 << 20;

/// Instances a pooled engine can hold at once unless configured otherwise.
pub const DEFAULT_INSTANCE_POOL_SIZE: u32 = 1000;

/// Largest instance pool: 10,000 slots reserve about 40 TiB of the
/// 128 TiB address space of an x86-64 process (see
/// [`crate::engine_config::pool_reservation`]).
pub const MAX_INSTANCE_POOL_SIZE: u32 = 10_000;

/// Largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Elements a table may grow to; Freenet uses the same cap.
pub const MAX_TABLE_ELEMENTS: usize = 10_000;

/// Tuning of an engine as a caller gives it. Every field is optional; `None`
/// takes the default documented on each field.
#[derive(Debug, Default, Clone)]
pub struct RuntimeConfig {
    /// Wall-clock budget of each guest entry in seconds (default 5).
    pub max_execution_seconds: Option<f64>,
    /// Fuel per second of budget when metering (default 3e9).
    pub cpu_cycles_per_second: Option<f64>,
    /// Extra fuel as a fraction of the budget (default 0.2; outside [0, 1] falls back to 0.2).
    pub safety_margin: Option<f64>,
    /// Count fuel (default false).
    pub enable_metering: Option<bool>,
    /// Cap on each linear memory in pages (default 4096).
    pub max_memory_pages: Option<f64>,
    /// Compiled modules kept in memory (default 1024; 0 turns the cache off).
    pub module_cache_capacity: Option<f64>,
    /// Keep compiled modules on disk (default true).
    pub compile_cache: Option<bool>,
    /// Directory of the on-disk compile cache (default: see `DiskCache::default_root`).
    pub compile_cache_dir: Option<String>,
    /// Bytes the on-disk compile cache may take (default 512 MiB).
    pub compile_cache_max_bytes: Option<f64>,
    /// Slots of the instance pool (default 1000, at most 10,000); 0 maps
    /// each instance's memory on demand instead.
    pub instance_pool_size: Option<f64>,
    /// Instances this engine may hold at once (default: nine tenths of its
    /// pool's slots while other engines use the pool too, all of them for
    /// pools under 10 slots; no limit when instances are mapped on demand).
    pub max_instances: Option<f64>,
}

/// The limits an engine enforces, resolved from a [`RuntimeConfig`].
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall-clock budget of one guest entry.
    pub deadline: Duration,
    /// Fuel given to a store at each instance creation, when metering is on.
    pub fuel: Option<u64>,
    /// Cap on each linear memory, in pages.
    pub max_memory_pages: u32,
    /// Compiled modules kept by content hash; 0 turns the cache off.
    pub module_cache_capacity: usize,
    /// Root of the on-disk compile cache; `None` when it is off.
    pub compile_cache_root: Option<PathBuf>,
    /// Bytes the on-disk compile cache may take.
    pub compile_cache_max_bytes: u64,
    /// Instances the pool holds at once; `None` when instances are
    /// allocated on demand.
    pub pool_slots: Option<u32>,
    /// Whether the caller chose the pool size: a default pool the process
    /// cannot reserve falls back to on-demand mapping, a chosen one fails.
    pub pool_size_chosen: bool,
    /// Instances one engine may hold at once, when the caller chose it.
    pub max_instances: Option<usize>,
}

impl Limits {
    /// Validates `config` and fills in the defaults.
    ///
    /// A safety margin outside `[0, 1]` falls back to 0.2, as Freenet does;
    /// every other out-of-range value is refused.
    pub fn resolve(config: &RuntimeConfig) -> Result<Limits, WasmError> {
        let seconds = positive(config.max_execution_seconds, 5.0, "maxExecutionSeconds")?;
        let cycles = positive(config.cpu_cycles_per_second, 3e9, "cpuCyclesPerSecond")?;
        let margin = match config.safety_margin {
            Some(m) if (0.0..=1.0).contains(&m) => m,
            _ => 0.2,
        };
        let deadline = Duration::try_from_secs_f64(seconds).map_err(|_| {
            WasmError::new(
                ErrorKind::Other,
                format!("maxExecutionSeconds {seconds} is not a representable duration"),
            )
        })?;
        // The product is finite and positive; `as` saturates at u64::MAX.
        let fuel = config
            .enable_metering
            .unwrap_or(false)
            .then_some((seconds * cycles * (1.0 + margin)) as u64);
        let max_memory_pages = whole(
            config.max_memory_pages,
            DEFAULT_MAX_MEMORY_PAGES,
            MAX_WASM32_PAGES,
            "maxMemoryPages",
        )?;
        let module_cache_capacity = whole(
            config.module_cache_capacity,
            1024,
            u32::MAX,
            "moduleCacheCapacity",
        )? as usize;
        let compile_cache_root = match (config.compile_cache, &config.compile_cache_dir) {
            (Some(false), _) => None,
            (_, Some(dir)) if !dir.is_empty() => Some(PathBuf::from(dir)),
            _ => DiskCache::default_root(),
        };
        let compile_cache_max_bytes = match config.compile_cache_max_bytes {
            None => DEFAULT_COMPILE_CACHE_MAX_BYTES,
            Some(v) if v.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER).contains(&v) => v as u64,
            Some(v) => {
                return Err(WasmError::new(
                    ErrorKind::Other,
                    format!("compileCacheMaxBytes must be a whole number of bytes, got {v}"),
                ));
            }
        };
        let pool_slots = whole(
            config.instance_pool_size,
            DEFAULT_INSTANCE_POOL_SIZE,
            MAX_INSTANCE_POOL_SIZE,
            "instancePoolSize",
        )?;
        Ok(Limits {
            deadline,
            fuel,
            max_memory_pages,
            module_cache_capacity,
            compile_cache_root,
            compile_cache_max_bytes,
            pool_slots: (pool_slots > 0).then_some(pool_slots),
            pool_size_chosen: config.instance_pool_size.is_some(),
            max_instances: match config.max_instances {
                None => None,
                Some(n) if n >= 1.0 => Some(whole(Some(n), 1, u32::MAX, "maxInstances")? as usize),
                Some(n) => {
                    return Err(WasmError::new(
                        ErrorKind::Other,
                        format!(
                            "maxInstances must be an integer in [1, {}], got {n}",
                            u32::MAX
                        ),
                    ));
                }
            },
        })
    }

    /// Instances one engine may hold at once when its pool has
    /// `pool_slots` slots: the caller's choice, else nine tenths of the
    /// pool (rounded up), so that one engine that never drops its
    /// instances leaves a tenth of a shared pool to the others; `None`
    /// (no limit but the pool's) on demand and for pools under 10 slots.
    pub fn instance_share(&self, pool_slots: Option<u32>) -> Option<usize> {
        // Under 10 slots a tenth rounds to nothing: the pool itself is the limit.
        self.max_instances.or_else(|| {
            pool_slots
                .filter(|slots| *slots >= 10)
                .map(|slots| slots as usize - slots as usize / 10)
        })
    }

    /// The memory cap in bytes.
    pub fn max_memory_bytes(&self) -> usize {
        self.max_memory_pages as usize * WASM_PAGE_SIZE as usize
    }
}

fn positive(value: Option<f64>, default: f64, name: &str) -> Result<f64, WasmError> {
    match value {
        None => Ok(default),
        Some(v) if v.is_finite() && v > 0.0 => Ok(v),
        Some(v) => Err(WasmError::new(
            ErrorKind::Other,
            format!("{name} must be a finite number above 0, got {v}"),
        )),
    }
}

fn whole(value: Option<f64>, default: u32, max: u32, name: &str) -> Result<u32, WasmError> {
    match value {
        None => Ok(default),
        Some(v) if v.fract() == 0.0 && (0.0..=f64::from(max)).contains(&v) => Ok(v as u32),
        Some(v) => Err(WasmError::new(
            ErrorKind::Other,
            format!("{name} must be an integer in [0, {max}], got {v}"),
        )),
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
