//! Stores, one per instance, and the host state each carries.

use std::time::Duration;

use wasmtime::{ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p1::WasiP1Ctx;

use crate::config::MAX_TABLE_ELEMENTS;
use crate::deadline::{Flag, Watch};
use crate::error::Interrupt;
use crate::site::Site;

/// Data wasmtime keeps in each store for the host: what a host function
/// defined in Rust (see [`crate::host::Natives`]) can ask of its caller.
pub struct HostState {
    limiter: PageLimiter,
    watch: Watch,
    /// Set by the engine's `close()`; stops guests running in any store.
    closing: Flag,
    /// Where the guest entry in progress runs, for host functions.
    site: Site,
    /// The id of the instance the guest entry in progress belongs to.
    instance_id: i64,
    /// That instance's exported memory, when it is known at entry.
    memory: Option<wasmtime::Memory>,
    /// The instance's WASI context, when it was given one.
    wasi: Option<WasiP1Ctx>,
}

impl HostState {
    /// Where the guest entry in progress runs.
    pub fn site(&self) -> Site {
        self.site
    }

    /// The id of the instance running the guest entry in progress.
    pub fn instance_id(&self) -> i64 {
        self.instance_id
    }

    /// The exported memory of the instance running the guest entry in
    /// progress, when it was known at entry (not during instantiation).
    pub(crate) fn memory(&self) -> Option<wasmtime::Memory> {
        self.memory
    }

    /// The instance's WASI context. WASI imports are linked only into
    /// instances created with a context, so for them this is always set;
    /// the empty context is only what the signature wasmtime-wasi asks for
    /// must give the others, and it grants nothing.
    pub(crate) fn wasi(&mut self) -> &mut WasiP1Ctx {
        self.wasi
            .get_or_insert_with(|| wasmtime_wasi::WasiCtxBuilder::new().build_p1())
    }

    /// Why the guest entry in progress must stop now, if it must.
    pub(crate) fn interrupted(&self) -> Option<Interrupt> {
        self.watch.interrupted(&self.closing)
    }
}

/// The engine's caps on memories and tables (wasmtime's [`StoreLimits`]),
/// plus a record of the last growth they refused, which error messages
/// name.
struct PageLimiter {
    limits: StoreLimits,
    /// The size of the last memory growth this limiter refused, in bytes.
    refused: Option<usize>,
}

impl ResourceLimiter for PageLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        // Only the engine's cap is worth naming; past the module's own
        // maximum, the module refused itself.
        if !allowed && maximum.is_none_or(|max| desired <= max) {
            self.refused = Some(desired);
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }
}

impl HostState {
    /// The memory size, in bytes, of the last growth the cap refused since
    /// the previous call, if any.
    pub(crate) fn take_refused_growth(&mut self) -> Option<usize> {
        self.limiter.refused.take()
    }
}

/// A store of `engine` for one instance, its memories capped at
/// `max_memory_bytes`, stopped by `closing` and by the deadline each guest
/// entry arms with [`arm`], with the instance's WASI context if it has one.
///
/// One instance per store: wasmtime frees an instance's memory (or
/// returns its pool slot) only when its whole store drops, so a store
/// shared by short-lived instances would keep all their memory until the
/// store itself went (Freenet's lessons 4 and 5). Costs about a
/// microsecond.
pub(crate) fn new_store(
    engine: &wasmtime::Engine,
    max_memory_bytes: usize,
    closing: &Flag,
    wasi: Option<WasiP1Ctx>,
) -> Store<HostState> {
    let mut store = Store::new(
        engine,
        HostState {
            limiter: PageLimiter {
                limits: StoreLimitsBuilder::new()
                    .memory_size(max_memory_bytes)
                    .table_elements(MAX_TABLE_ELEMENTS)
                    .build(),
                refused: None,
            },
            watch: Watch::new(Duration::ZERO, None),
            closing: closing.clone(),
            site: Site::Worker,
            instance_id: 0,
            memory: None,
            wasi,
        },
    );
    store.limiter(|state| &mut state.limiter);
    store.epoch_deadline_callback(|ctx| ctx.data().watch.check(&ctx.data().closing));
    store
}

/// Prepares the next guest entry in `store`: it runs on `site` for the
/// instance `instance_id` (whose exported memory is `memory`, when known),
/// and is watched for a deadline `budget` from now and for the caller's
/// abort flag, if any.
pub(crate) fn arm(
    store: &mut Store<HostState>,
    site: Site,
    instance_id: i64,
    memory: Option<wasmtime::Memory>,
    budget: Duration,
    abort: Option<&Flag>,
) {
    let state = store.data_mut();
    state.watch = Watch::new(budget, abort.cloned());
    state.site = site;
    state.instance_id = instance_id;
    state.memory = memory;
    store.set_epoch_deadline(1);
}
