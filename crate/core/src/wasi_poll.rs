//! `poll_oneoff`, WASI preview 1's only way to wait (`sleep`, `nanosleep`,
//! `poll` with a timeout), replacing wasmtime-wasi's: that one waits in host
//! code, where no epoch check can reach it, so a guest sleeping for an hour
//! held its thread (the event loop, for `runWasiSync`) for an hour past its
//! deadline. This one waits in slices of at most one deadline tick and
//! stops the guest as soon as its deadline passes, it is aborted or its
//! engine closes.
//!
//! Every descriptor a program here can poll is always ready (stdin is an
//! in-memory pipe, stdout and stderr are captures, files are regular files),
//! so descriptor subscriptions complete at once; only clocks wait.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wasmtime::{Caller, Extern, Linker};

use crate::deadline::TICK;
use crate::memory;
use crate::scheduler;
use crate::store::HostState;
use crate::wasi::WASI_NAMESPACE;

/// Bytes of one subscription and of one event in guest memory.
const SUBSCRIPTION: usize = 48;
const EVENT: usize = 32;

/// Event and subscription tags.
const CLOCK: u8 = 0;
const FD_READ: u8 = 1;
const FD_WRITE: u8 = 2;

/// Clock ids.
const REALTIME: u32 = 0;

/// `subclockflags`: the timeout is a point in time, not a duration.
const ABSTIME: u16 = 1;

/// WASI errno values.
const SUCCESS: i32 = 0;
const FAULT: i32 = 21;
const INVAL: i32 = 28;

/// Defines `wasi_snapshot_preview1.poll_oneoff` in `linker`, over the one
/// wasmtime-wasi defined.
pub(crate) fn define(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.func_wrap(WASI_NAMESPACE, "poll_oneoff", poll_oneoff)?;
    linker.allow_shadowing(false);
    Ok(())
}

/// One subscription as the guest wrote it.
struct Subscription {
    userdata: u64,
    tag: u8,
    /// For a clock: how long from now it fires.
    wait: Duration,
}

fn poll_oneoff(
    mut caller: Caller<'_, HostState>,
    subscriptions: i32,
    events: i32,
    count: i32,
    written: i32,
) -> wasmtime::Result<i32> {
    if count <= 0 {
        return Ok(INVAL);
    }
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return Ok(FAULT);
    };
    let count = count as usize;
    let parsed = {
        let bytes = memory.data(&caller);
        let Some(at) = memory::range(
            i64::from(subscriptions),
            (count * SUBSCRIPTION) as i64,
            bytes.len(),
        ) else {
            return Ok(FAULT);
        };
        bytes[at]
            .chunks_exact(SUBSCRIPTION)
            .map(subscription)
            .collect::<Option<Vec<_>>>()
    };
    let Some(parsed) = parsed else {
        return Ok(INVAL);
    };
    let ready: Vec<&Subscription> = if parsed.iter().any(|s| s.tag != CLOCK) {
        // Descriptors are always ready, so nothing waits; clocks due now fire too.
        parsed
            .iter()
            .filter(|s| s.tag != CLOCK || s.wait.is_zero())
            .collect()
    } else {
        let soonest = parsed.iter().map(|s| s.wait).min().unwrap_or_default();
        sleep(&caller, soonest)?;
        parsed.iter().filter(|s| s.wait <= soonest).collect()
    };
    let bytes = memory.data_mut(&mut caller);
    let out = memory::range(i64::from(events), (ready.len() * EVENT) as i64, bytes.len());
    let count_at = memory::range(i64::from(written), 4, bytes.len());
    let (Some(out), Some(count_at)) = (out, count_at) else {
        return Ok(FAULT);
    };
    for (event, s) in bytes[out].chunks_exact_mut(EVENT).zip(&ready) {
        event.fill(0);
        event[..8].copy_from_slice(&s.userdata.to_le_bytes());
        event[10] = s.tag;
    }
    bytes[count_at].copy_from_slice(&(ready.len() as u32).to_le_bytes());
    Ok(SUCCESS)
}

/// Reads one subscription; `None` for an unknown tag.
fn subscription(bytes: &[u8]) -> Option<Subscription> {
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or_default());
    let tag = bytes[8];
    let wait = match tag {
        CLOCK => {
            let clock = u32::from_le_bytes(bytes[16..20].try_into().unwrap_or_default());
            let timeout = Duration::from_nanos(u64_at(24));
            let flags = u16::from_le_bytes(bytes[40..42].try_into().unwrap_or_default());
            if flags & ABSTIME == 0 {
                timeout
            } else if clock == REALTIME {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                timeout.saturating_sub(now)
            } else {
                // A point on the monotonic clock, which starts with the program.
                timeout
            }
        }
        FD_READ | FD_WRITE => Duration::ZERO,
        _ => return None,
    };
    Some(Subscription {
        userdata: u64_at(0),
        tag,
        wait,
    })
}

/// Waits `duration`, in slices of at most a tick, or fails with why the
/// guest must stop first.
fn sleep(caller: &Caller<'_, HostState>, duration: Duration) -> wasmtime::Result<()> {
    let until = Instant::now().checked_add(duration);
    scheduler::blocked(|| {
        loop {
            if let Some(interrupt) = caller.data().interrupted() {
                return Err(wasmtime::Error::new(interrupt));
            }
            let left = until.map_or(TICK, |until| {
                until.saturating_duration_since(Instant::now())
            });
            if left.is_zero() {
                return Ok(());
            }
            std::thread::sleep(left.min(TICK));
        }
    })
}
