//! The stores of one engine and the per-store host state.
//!
//! wasmtime frees an instance's memory only when its whole store drops, so a
//! store that outlives thousands of short-lived instances keeps all their
//! memory maps and pages (Freenet's lessons 4 and 5). An engine therefore
//! keeps a *current* store, where new instances go, and retires it once it
//! has retained enough dead instances or bytes; a retired store is dropped
//! as soon as its last live instance is.

use std::time::Duration;

use wasmtime::{ResourceLimiter, Store};

use crate::config::MAX_TABLE_ELEMENTS;
use crate::deadline::{Flag, Watch};
use crate::error::Interrupt;
use crate::host::Site;

/// Dead instances a store may retain before new instances go elsewhere.
const RETIRE_AFTER_DEAD_INSTANCES: usize = 256;

/// Bytes of dead instances' memories a store may retain before it retires.
const RETIRE_AFTER_DEAD_BYTES: usize = 64 << 20;

/// Data wasmtime keeps in each store for the host.
pub(crate) struct HostState {
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
}

impl HostState {
    /// Where the guest entry in progress runs.
    pub(crate) fn site(&self) -> Site {
        self.site
    }

    /// The id of the instance running the guest entry in progress.
    pub(crate) fn instance_id(&self) -> i64 {
        self.instance_id
    }

    /// The exported memory of the instance running the guest entry in
    /// progress, when it was known at entry (not during instantiation).
    pub(crate) fn memory(&self) -> Option<wasmtime::Memory> {
        self.memory
    }

    /// Why the guest entry in progress must stop now, if it must.
    pub(crate) fn interrupted(&self) -> Option<Interrupt> {
        self.watch.interrupted(&self.closing)
    }
}

/// Caps memories and tables, and lifts wasmtime's per-store count limits:
/// a store here lives through many instances.
struct PageLimiter {
    max_memory_bytes: usize,
    /// The size of the last memory growth this limiter refused, in bytes.
    refused: Option<usize>,
}

impl ResourceLimiter for PageLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.max_memory_bytes && maximum.is_none_or(|max| desired <= max);
        if !allowed {
            self.refused = Some(desired);
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS && maximum.is_none_or(|max| desired <= max))
    }

    fn instances(&self) -> usize {
        usize::MAX
    }

    fn tables(&self) -> usize {
        usize::MAX
    }

    fn memories(&self) -> usize {
        usize::MAX
    }
}

/// One store and the bookkeeping that decides when it is retired.
pub(crate) struct Slot {
    pub(crate) generation: u64,
    pub(crate) store: Store<HostState>,
    live: usize,
    dead: usize,
    dead_bytes: usize,
}

impl Slot {
    fn is_worn(&self) -> bool {
        self.dead >= RETIRE_AFTER_DEAD_INSTANCES || self.dead_bytes >= RETIRE_AFTER_DEAD_BYTES
    }

    /// Prepares the next guest entry: it runs on `site` for the instance
    /// `instance_id` (whose exported memory is `memory`, when known), and is
    /// watched for a deadline `budget` from now and for the caller's abort
    /// flag, if any.
    pub(crate) fn arm(
        &mut self,
        site: Site,
        instance_id: i64,
        memory: Option<wasmtime::Memory>,
        budget: Duration,
        abort: Option<&Flag>,
    ) {
        let state = self.store.data_mut();
        state.watch = Watch::new(budget, abort.cloned());
        state.site = site;
        state.instance_id = instance_id;
        state.memory = memory;
        self.store.set_epoch_deadline(1);
    }

    /// The memory size, in bytes, of the last growth the cap refused since
    /// the previous call, if any.
    pub(crate) fn take_refused_growth(&mut self) -> Option<usize> {
        self.store.data_mut().limiter.refused.take()
    }
}

/// All stores of one engine; the last is the current one.
pub(crate) struct Stores {
    engine: wasmtime::Engine,
    max_memory_bytes: usize,
    /// Set by the engine's `close()`; stops guests running in any store.
    closing: Flag,
    slots: Vec<Slot>,
    next_generation: u64,
}

impl Stores {
    pub(crate) fn new(engine: wasmtime::Engine, max_memory_bytes: usize, closing: Flag) -> Stores {
        let mut stores = Stores {
            engine,
            max_memory_bytes,
            closing,
            slots: Vec::new(),
            next_generation: 0,
        };
        stores.open_slot();
        stores
    }

    fn open_slot(&mut self) {
        let mut store = Store::new(
            &self.engine,
            HostState {
                limiter: PageLimiter {
                    max_memory_bytes: self.max_memory_bytes,
                    refused: None,
                },
                watch: Watch::new(Duration::ZERO, None),
                closing: self.closing.clone(),
                site: Site::Worker,
                instance_id: 0,
                memory: None,
            },
        );
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_callback(|ctx| ctx.data().watch.check(&ctx.data().closing));
        self.slots.push(Slot {
            generation: self.next_generation,
            store,
            live: 0,
            dead: 0,
            dead_bytes: 0,
        });
        self.next_generation += 1;
    }

    /// The store new instances go to, replaced first if it is worn out.
    pub(crate) fn current(&mut self) -> &mut Slot {
        if self.slots.last().is_none_or(Slot::is_worn) {
            if self.slots.last().is_some_and(|slot| slot.live == 0) {
                self.slots.pop();
            }
            self.open_slot();
        }
        let last = self.slots.len() - 1;
        &mut self.slots[last]
    }

    /// The store of `generation`, if it still exists.
    pub(crate) fn get(&mut self, generation: u64) -> Option<&mut Slot> {
        self.slots
            .iter_mut()
            .find(|slot| slot.generation == generation)
    }

    /// Records an instance that now lives in `generation`'s store.
    pub(crate) fn instance_created(&mut self, generation: u64) {
        if let Some(slot) = self.get(generation) {
            slot.live += 1;
        }
    }

    /// Records an instance that will never run again, whose store keeps
    /// `bytes` of memory for it until the store drops. Instances that failed
    /// half-way through creation were never counted live.
    pub(crate) fn instance_dead(&mut self, generation: u64, bytes: usize, was_live: bool) {
        let Some(index) = self.slots.iter().position(|s| s.generation == generation) else {
            return;
        };
        let is_current = index + 1 == self.slots.len();
        let slot = &mut self.slots[index];
        if was_live {
            slot.live = slot.live.saturating_sub(1);
        }
        slot.dead += 1;
        slot.dead_bytes = slot.dead_bytes.saturating_add(bytes);
        if !is_current && slot.live == 0 {
            self.slots.remove(index);
        }
    }

    /// Number of stores alive (current plus retired), for diagnostics.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }
}
