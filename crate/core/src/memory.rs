//! Bounds-checked copies between a host and a guest's linear memory.
//!
//! Offsets and lengths come as a host gives them, negative ones included,
//! and are checked against the memory's live size before any byte is
//! touched; a range that does not fit is a `MEMORY` error naming the offset,
//! the length and the size.

use std::ops::Range;

use crate::error::{ErrorKind, WasmError};

/// The range `[offset, offset + length)` if it lies inside `size` bytes.
fn span(
    offset: i64,
    length: i64,
    size: usize,
    id: i64,
    verb: &str,
) -> Result<Range<usize>, WasmError> {
    let (start, len) = (usize::try_from(offset), usize::try_from(length));
    match (start, len) {
        (Ok(start), Ok(len)) if start.checked_add(len).is_some_and(|end| end <= size) => {
            Ok(start..start + len)
        }
        _ => Err(WasmError::new(
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

/// Copies `data` into `memory` at `offset`.
pub fn write(memory: &mut [u8], offset: i64, data: &[u8], id: i64) -> Result<(), WasmError> {
    let length = i64::try_from(data.len()).unwrap_or(i64::MAX);
    let range = span(offset, length, memory.len(), id, "write")?;
    memory[range].copy_from_slice(data);
    Ok(())
}

#[cfg(test)]
#[path = "memory_tests.rs"]
mod tests;
