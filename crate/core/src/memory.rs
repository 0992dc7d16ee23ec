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
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_inside_the_memory() {
        let mut memory = vec![0u8; 16];
        write(&mut memory, 14, &[1, 2], 3).unwrap();
        assert_eq!(read(&memory, 13, 3, 3).unwrap(), &[0, 1, 2]);
        assert_eq!(read(&memory, 16, 0, 3).unwrap(), &[] as &[u8]);
    }

    #[test]
    fn refuses_ranges_past_the_end_or_overflowing() {
        let mut memory = vec![0u8; 16];
        for (offset, length) in [
            (16, 1),
            (0, 17),
            (-1, 1),
            (0, -1),
            (i64::MAX, 2),
            (1, i64::MAX),
        ] {
            let err = read(&memory, offset, length, 9).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Memory);
            assert_eq!(err.instance(), Some(9));
            assert!(
                err.message().contains("its memory holds 16 bytes"),
                "{}",
                err.message()
            );
        }
        assert!(write(&mut memory, 15, &[1, 2], 9).is_err());
        assert_eq!(memory, vec![0u8; 16], "a refused write touches nothing");
    }
}
