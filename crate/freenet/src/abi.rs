//! Freenet's guest memory ABI, read and written with every pointer and
//! length checked against the instance's live memory.
//!
//! A guest hands the host two kinds of structures (layouts of freenet-stdlib
//! 0.6.0, little-endian):
//! - an input buffer, allocated by `__frnt__initiate_buffer(capacity)`:
//!   `{ start: i64 @0, capacity: u32 @8, last_read: i64 @16, last_write: i64 @24 }`,
//!   the last two being addresses of `u32` counters;
//! - the result of an export: `{ ptr: i64 @0, kind: i32 @8, size: u32 @12 }`
//!   for contracts, `{ ptr: i64 @0, size: u32 @8 }` for delegates, pointing
//!   at `size` bytes of bincode.
//!
//! Every address here comes from the guest and is treated as hostile.

use std::borrow::Cow;

use wasm_engine_core::error::{ErrorKind, WasmError};
use wasm_engine_core::memory;

/// Bytes of the buffer structure.
const BUFFER_STRUCT: i64 = 32;
/// Bytes of a contract's result structure.
const CONTRACT_RESULT_STRUCT: i64 = 16;
/// Bytes of a delegate's result structure that hold data: freenet-stdlib's
/// is 16 with its tail padding, which this reads no more of than it needs.
const DELEGATE_RESULT_STRUCT: i64 = 12;

/// Largest first chunk of a streamed input (freenet-core's cap), length
/// prefix included.
pub(crate) const STREAM_CHUNK: usize = 64 * 1024;

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn le_i64(bytes: &[u8], at: usize) -> i64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    i64::from_le_bytes(word)
}

/// `err` (a memory refusal) restated as the guest's fault in `what`.
fn guest_lied(what: &str, err: WasmError) -> WasmError {
    let id = err.instance();
    let error = WasmError::new(ErrorKind::Memory, format!("{what}: {}", err.message()));
    match id {
        Some(id) => error.at_instance(id),
        None => error,
    }
}

/// An input buffer as the guest described it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Buffer {
    /// Where the buffer structure itself sits.
    pub(crate) at: i64,
    pub(crate) start: i64,
    pub(crate) capacity: u32,
    pub(crate) last_read: i64,
    pub(crate) last_write: i64,
}

impl Buffer {
    /// Reads the buffer structure at `at`, checking that the structure, its
    /// data area and its two counters all lie inside `memory`.
    pub(crate) fn read(memory: &[u8], at: i64, id: i64, what: &str) -> Result<Buffer, WasmError> {
        let raw = memory::read(memory, at, BUFFER_STRUCT, id)
            .map_err(|err| guest_lied(&format!("{what}: the buffer structure"), err))?;
        let buffer = Buffer {
            at,
            start: le_i64(raw, 0),
            capacity: le_u32(raw, 8),
            last_read: le_i64(raw, 16),
            last_write: le_i64(raw, 24),
        };
        memory::read(memory, buffer.start, i64::from(buffer.capacity), id)
            .map_err(|err| guest_lied(&format!("{what}: the buffer's data"), err))?;
        memory::read(memory, buffer.last_read, 4, id)
            .map_err(|err| guest_lied(&format!("{what}: the buffer's read counter"), err))?;
        memory::read(memory, buffer.last_write, 4, id)
            .map_err(|err| guest_lied(&format!("{what}: the buffer's write counter"), err))?;
        Ok(buffer)
    }

    /// Replaces the buffer's contents with `chunk` (at most its capacity)
    /// and sets its counters: nothing read, `chunk.len()` written.
    pub(crate) fn fill(&self, memory: &mut [u8], chunk: &[u8], id: i64) -> Result<(), WasmError> {
        debug_assert!(chunk.len() <= self.capacity as usize);
        memory::write(memory, self.start, chunk, id)?;
        memory::write(memory, self.last_read, &0u32.to_le_bytes(), id)?;
        let written = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
        memory::write(memory, self.last_write, &written.to_le_bytes(), id)
    }
}

/// The capacity to ask the guest for, and the first chunk to write, for an
/// input of `data`: the whole input one-shot (borrowed, not copied), or
/// (streaming) a `u32` length prefix and as much as fits in
/// [`STREAM_CHUNK`].
pub(crate) fn first_chunk(data: &[u8], streaming: bool) -> Result<(u32, Cow<'_, [u8]>), WasmError> {
    let too_large = || {
        WasmError::new(
            ErrorKind::Memory,
            format!(
                "an input of {} bytes does not fit a 32-bit guest",
                data.len()
            ),
        )
    };
    let len = u32::try_from(data.len()).map_err(|_| too_large())?;
    if !streaming {
        return Ok((len, Cow::Borrowed(data)));
    }
    let capacity = (data.len() + 4).min(STREAM_CHUNK);
    let mut chunk = Vec::with_capacity(capacity);
    chunk.extend_from_slice(&len.to_le_bytes());
    chunk.extend_from_slice(&data[..capacity - 4]);
    Ok((capacity as u32, Cow::Owned(chunk)))
}

/// A contract's result structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ContractResult {
    pub(crate) ptr: i64,
    pub(crate) kind: i32,
    pub(crate) size: u32,
}

impl ContractResult {
    pub(crate) fn read(
        memory: &[u8],
        at: i64,
        id: i64,
        what: &str,
    ) -> Result<ContractResult, WasmError> {
        let raw = memory::read(memory, at, CONTRACT_RESULT_STRUCT, id)
            .map_err(|err| guest_lied(&format!("{what} returned a result structure that"), err))?;
        Ok(ContractResult {
            ptr: le_i64(raw, 0),
            kind: le_u32(raw, 8) as i32,
            size: le_u32(raw, 12),
        })
    }
}

/// A delegate's result structure: where its bincode lies.
pub(crate) fn delegate_result(
    memory: &[u8],
    at: i64,
    id: i64,
    what: &str,
) -> Result<(i64, u32), WasmError> {
    let raw = memory::read(memory, at, DELEGATE_RESULT_STRUCT, id)
        .map_err(|err| guest_lied(&format!("{what} returned a result structure that"), err))?;
    Ok((le_i64(raw, 0), le_u32(raw, 8)))
}

/// The `size` bytes at `ptr` a result structure points at.
pub(crate) fn payload<'m>(
    memory: &'m [u8],
    ptr: i64,
    size: u32,
    id: i64,
    what: &str,
) -> Result<&'m [u8], WasmError> {
    memory::read(memory, ptr, i64::from(size), id)
        .map_err(|err| guest_lied(&format!("{what} returned a result whose bytes"), err))
}

#[cfg(test)]
#[path = "abi_tests.rs"]
mod tests;
