//! Bounds-checked copies between JavaScript and a guest's linear memory.
//!
//! Offsets and lengths arrive as JavaScript numbers; they are checked here,
//! against the memory's live size, before any byte is touched.

use crate::error::WasmError;

/// Largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// `value` as a byte count if it is a non-negative safe integer.
pub(crate) fn byte_count(value: f64) -> Option<usize> {
    if value.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER).contains(&value) {
        usize::try_from(value as u64).ok()
    } else {
        None
    }
}

/// The range `[offset, offset + length)` if it lies inside `size` bytes.
fn span(
    offset: f64,
    length: f64,
    size: usize,
    id: i64,
    verb: &str,
) -> Result<std::ops::Range<usize>, WasmError> {
    let out_of_bounds = || {
        WasmError::Memory(format!(
            "cannot {verb} {length} bytes at offset {offset} of instance {id}: its memory holds {size} bytes"
        ))
    };
    let (Some(start), Some(len)) = (byte_count(offset), byte_count(length)) else {
        return Err(out_of_bounds());
    };
    match start.checked_add(len) {
        Some(end) if end <= size => Ok(start..end),
        _ => Err(out_of_bounds()),
    }
}

/// Copies `length` bytes at `offset` out of `memory`.
pub(crate) fn read(memory: &[u8], offset: f64, length: f64, id: i64) -> Result<Vec<u8>, WasmError> {
    let range = span(offset, length, memory.len(), id, "read")?;
    Ok(memory[range].to_vec())
}

/// Copies `data` into `memory` at `offset`.
pub(crate) fn write(memory: &mut [u8], offset: f64, data: &[u8], id: i64) -> Result<(), WasmError> {
    let range = span(offset, data.len() as f64, memory.len(), id, "write")?;
    memory[range].copy_from_slice(data);
    Ok(())
}
