//! Bounds-checked copies between a host and a guest's linear memory.
//!
//! Offsets and lengths come as a host gives them, negative ones included,
//! and are checked against the memory's live size before any byte is
//! touched; a range that does not fit is a `MEMORY` error naming the offset,
//! the length and the size.

use std::ops::Range;

use crate::error::{ErrorKind, WasmError};

/// The range `[offset, offset + length)` if it lies inside `size` bytes:
/// neither is negative and their sum does not overflow.
pub fn range(offset: i64, length: i64, size: usize) -> Option<Range<usize>> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(length).ok()?)?;
    (end <= size).then_some(start..end)
}

/// [`range`], or the `MEMORY` error that names the access.
fn span(
    offset: i64,
    length: i64,
    size: usize,
    id: i64,
    verb: &str,
) -> Result<Range<usize>, WasmError> {
    match range(offset, length, size) {
        Some(range) => Ok(range),
        None => Err(WasmError::new(
            ErrorKind::Memory,
            format!(
                "cannot {verb} {length} bytes at offset {offset} of instance {id}: its memory holds {size} bytes"
            ),
        )
        .at_instance(id)),
    }
}

/// The `length` bytes at `offset` of `memory`, the memory of instance `id`.
pub fn read(memory: &[u8], offset: i64, length: i64, id: i64) -> Result<&[u8], WasmError> {
    let range = span(offset, length, memory.len(), id, "read")?;
    Ok(&memory[range])
}

/// The `length` bytes at `offset` of `memory`, for the host to write.
pub fn read_mut(
    memory: &mut [u8],
    offset: i64,
    length: i64,
    id: i64,
) -> Result<&mut [u8], WasmError> {
    let range = span(offset, length, memory.len(), id, "write")?;
    Ok(&mut memory[range])
}

/// Copies `data` into `memory` at `offset`.
pub fn write(memory: &mut [u8], offset: i64, data: &[u8], id: i64) -> Result<(), WasmError> {
    let length = i64::try_from(data.len()).unwrap_or(i64::MAX);
    read_mut(memory, offset, length, id)?.copy_from_slice(data);
    Ok(())
}

#[cfg(test)]
#[path = "memory_tests.rs"]
mod tests;
