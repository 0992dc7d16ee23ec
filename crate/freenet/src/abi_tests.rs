//! Unit tests of `freenet::abi`: every structure a guest hands over is
//! read only when it, and everything it points at, lies inside memory.

use super::*;

/// The instance id errors must carry.
const ID: i64 = 7;

/// Bytes of the memories below.
const SIZE: usize = 1024;

/// `memory` with a buffer structure at `at`.
fn put_buffer(
    memory: &mut [u8],
    at: usize,
    start: i64,
    capacity: u32,
    last_read: i64,
    last_write: i64,
) {
    memory[at..at + 8].copy_from_slice(&start.to_le_bytes());
    memory[at + 8..at + 12].copy_from_slice(&capacity.to_le_bytes());
    memory[at + 12..at + 16].copy_from_slice(&[0xEE; 4]); // padding, ignored
    memory[at + 16..at + 24].copy_from_slice(&last_read.to_le_bytes());
    memory[at + 24..at + 32].copy_from_slice(&last_write.to_le_bytes());
}

fn memory_with_buffer(
    at: usize,
    start: i64,
    capacity: u32,
    last_read: i64,
    last_write: i64,
) -> Vec<u8> {
    let mut memory = vec![0u8; SIZE];
    put_buffer(&mut memory, at, start, capacity, last_read, last_write);
    memory
}

fn u32_at(memory: &[u8], at: i64) -> u32 {
    let at = at as usize;
    u32::from_le_bytes(memory[at..at + 4].try_into().unwrap())
}

/// A refusal: a `MEMORY` error of instance `ID` whose message has `part`.
fn assert_refused<T: std::fmt::Debug>(result: Result<T, WasmError>, part: &str) {
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Memory, "{}", err.message());
    assert_eq!(err.instance(), Some(ID), "{}", err.message());
    assert!(
        err.message().contains(part),
        "{:?} does not mention {part:?}",
        err.message()
    );
}

// ---------------------------------------------------------------------------
// Buffer::read
// ---------------------------------------------------------------------------

#[test]
fn reads_a_valid_buffer_structure() {
    let memory = memory_with_buffer(64, 256, 100, 512, 516);
    let buffer = Buffer::read(&memory, 64, ID, "test").unwrap();
    assert_eq!(
        buffer,
        Buffer {
            at: 64,
            start: 256,
            capacity: 100,
            last_read: 512,
            last_write: 516,
        }
    );
}

#[test]
fn reads_a_buffer_that_ends_exactly_at_the_end_of_memory() {
    let end = SIZE as i64;
    // The structure in the last 32 bytes, the data and counters flush with the end.
    let memory = memory_with_buffer(SIZE - 32, end - 132, 100, end - 36, end - 36);
    let buffer = Buffer::read(&memory, end - 32, ID, "test").unwrap();
    assert_eq!(buffer.start, end - 132);
    // A zero-capacity buffer may start at the very end.
    let memory = memory_with_buffer(0, end, 0, 40, 44);
    assert_eq!(Buffer::read(&memory, 0, ID, "test").unwrap().capacity, 0);
}

#[test]
fn refuses_a_structure_out_of_bounds() {
    let memory = vec![0u8; SIZE];
    for at in [SIZE as i64 - 31, SIZE as i64, SIZE as i64 + 100, i64::MAX] {
        assert_refused(
            Buffer::read(&memory, at, ID, "the params"),
            "the params: the buffer structure",
        );
    }
}

#[test]
fn refuses_a_data_area_out_of_bounds() {
    let end = SIZE as i64;
    for (start, capacity) in [
        (end - 99, 100),      // one byte past the end
        (end, 1),             // starts at the end
        (end + 1, 0),         // empty, but past the end
        (0, SIZE as u32 + 1), // one byte too long
        (0, u32::MAX),        // huge capacity
        (i64::MAX - 10, 100), // start + capacity overflows
    ] {
        let memory = memory_with_buffer(0, start, capacity, 40, 44);
        assert_refused(
            Buffer::read(&memory, 0, ID, "the state"),
            "the state: the buffer's data",
        );
    }
}

#[test]
fn refuses_counters_out_of_bounds() {
    let end = SIZE as i64;
    for last_read in [end - 3, end, end + 8, i64::MAX] {
        let memory = memory_with_buffer(0, 64, 16, last_read, 44);
        assert_refused(
            Buffer::read(&memory, 0, ID, "x"),
            "x: the buffer's read counter",
        );
    }
    for last_write in [end - 1, end, i64::MAX - 2] {
        let memory = memory_with_buffer(0, 64, 16, 40, last_write);
        assert_refused(
            Buffer::read(&memory, 0, ID, "x"),
            "x: the buffer's write counter",
        );
    }
    // Counters in the last four bytes are fine.
    let memory = memory_with_buffer(0, 64, 16, end - 4, end - 4);
    Buffer::read(&memory, 0, ID, "x").unwrap();
}

#[test]
fn refuses_negative_pointers() {
    let memory = memory_with_buffer(0, 64, 16, 40, 44);
    assert_refused(Buffer::read(&memory, -1, ID, "x"), "the buffer structure");
    assert_refused(
        Buffer::read(&memory, i64::MIN, ID, "x"),
        "the buffer structure",
    );
    let memory = memory_with_buffer(0, -8, 16, 40, 44);
    assert_refused(Buffer::read(&memory, 0, ID, "x"), "the buffer's data");
    let memory = memory_with_buffer(0, -1, 0, 40, 44);
    assert_refused(Buffer::read(&memory, 0, ID, "x"), "the buffer's data");
    let memory = memory_with_buffer(0, 64, 16, -4, 44);
    assert_refused(Buffer::read(&memory, 0, ID, "x"), "read counter");
    let memory = memory_with_buffer(0, 64, 16, 40, i64::MIN);
    assert_refused(Buffer::read(&memory, 0, ID, "x"), "write counter");
}

// ---------------------------------------------------------------------------
// Buffer::fill
// ---------------------------------------------------------------------------

#[test]
fn fill_writes_the_chunk_and_sets_the_counters() {
    let mut memory = memory_with_buffer(0, 64, 16, 40, 44);
    // Stale counters and data from an earlier chunk.
    memory[40..44].copy_from_slice(&9u32.to_le_bytes());
    memory[44..48].copy_from_slice(&16u32.to_le_bytes());
    memory[64..80].copy_from_slice(&[0xAB; 16]);
    let buffer = Buffer::read(&memory, 0, ID, "x").unwrap();

    buffer.fill(&mut memory, &[1, 2, 3, 4, 5], ID).unwrap();
    assert_eq!(memory[64..69], [1, 2, 3, 4, 5]);
    assert_eq!(u32_at(&memory, 40), 0, "nothing read yet");
    assert_eq!(u32_at(&memory, 44), 5, "five bytes written");
    assert_eq!(memory[69..80], [0xAB; 11], "bytes past the chunk untouched");
    assert_eq!(memory[80..], vec![0; SIZE - 80][..]);

    // A full chunk, then an empty one.
    buffer.fill(&mut memory, &[7; 16], ID).unwrap();
    assert_eq!(memory[64..80], [7; 16]);
    assert_eq!(u32_at(&memory, 44), 16);
    memory[40..44].copy_from_slice(&16u32.to_le_bytes());
    buffer.fill(&mut memory, &[], ID).unwrap();
    assert_eq!(u32_at(&memory, 40), 0);
    assert_eq!(u32_at(&memory, 44), 0);
}

#[test]
fn fill_refuses_a_memory_that_shrank_under_it() {
    let memory = memory_with_buffer(0, 64, 16, 40, 44);
    let buffer = Buffer::read(&memory, 0, ID, "x").unwrap();
    let mut small = vec![0u8; 70];
    assert_eq!(
        buffer.fill(&mut small, &[1; 16], ID).unwrap_err().kind(),
        ErrorKind::Memory
    );
}

// ---------------------------------------------------------------------------
// first_chunk
// ---------------------------------------------------------------------------

#[test]
fn one_shot_sends_everything_at_once() {
    for len in [0, 1, 100, STREAM_CHUNK, 300 * 1024] {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let (capacity, chunk) = first_chunk(&data, false).unwrap();
        assert_eq!(capacity as usize, len);
        assert_eq!(chunk, data, "no length prefix, nothing held back");
    }
}

#[test]
fn streaming_prefixes_the_length_and_caps_the_first_chunk() {
    // Small: all of it, after its length; capacity len + 4.
    let (capacity, chunk) = first_chunk(b"hello", true).unwrap();
    assert_eq!(capacity, 9);
    assert_eq!(*chunk, *b"\x05\0\0\0hello");

    // Exactly fits 64 KiB with its prefix.
    let data = vec![3u8; STREAM_CHUNK - 4];
    let (capacity, chunk) = first_chunk(&data, true).unwrap();
    assert_eq!(capacity as usize, STREAM_CHUNK);
    assert_eq!(chunk.len(), STREAM_CHUNK);
    assert_eq!(chunk[..4], ((STREAM_CHUNK - 4) as u32).to_le_bytes());

    // One byte more: capped, the rest is left for fill_buffer.
    let data: Vec<u8> = (0..STREAM_CHUNK - 3).map(|i| (i % 251) as u8).collect();
    let (capacity, chunk) = first_chunk(&data, true).unwrap();
    assert_eq!(capacity as usize, STREAM_CHUNK);
    assert_eq!(chunk.len(), STREAM_CHUNK);
    assert_eq!(chunk[4..], data[..STREAM_CHUNK - 4]);

    // 300 KiB: the prefix is the whole length, the chunk 64 KiB.
    let data: Vec<u8> = (0..300 * 1024).map(|i| (i % 251) as u8).collect();
    let (capacity, chunk) = first_chunk(&data, true).unwrap();
    assert_eq!(STREAM_CHUNK, 65_536);
    assert_eq!(capacity, 65_536);
    assert_eq!(chunk[..4], (300u32 * 1024).to_le_bytes());
    assert_eq!(chunk[4..], data[..65_532]);
}

#[test]
fn empty_input() {
    assert_eq!(first_chunk(&[], false).unwrap(), (0, Cow::from(vec![])));
    assert_eq!(
        first_chunk(&[], true).unwrap(),
        (4, Cow::from(vec![0, 0, 0, 0]))
    );
}

// ---------------------------------------------------------------------------
// Result structures and their payloads
// ---------------------------------------------------------------------------

fn put_contract_result(memory: &mut [u8], at: usize, ptr: i64, kind: i32, size: u32) {
    memory[at..at + 8].copy_from_slice(&ptr.to_le_bytes());
    memory[at + 8..at + 12].copy_from_slice(&kind.to_le_bytes());
    memory[at + 12..at + 16].copy_from_slice(&size.to_le_bytes());
}

#[test]
fn reads_a_contract_result() {
    let mut memory = vec![0u8; SIZE];
    put_contract_result(&mut memory, 100, 0x0102_0304, 3, 0xAABB_CCDD);
    assert_eq!(
        ContractResult::read(&memory, 100, ID, "x").unwrap(),
        ContractResult {
            ptr: 0x0102_0304,
            kind: 3,
            size: 0xAABB_CCDD,
        }
    );
    // Negative fields are read as the guest wrote them (checked later).
    put_contract_result(&mut memory, SIZE - 16, -8, -1, u32::MAX);
    assert_eq!(
        ContractResult::read(&memory, SIZE as i64 - 16, ID, "x").unwrap(),
        ContractResult {
            ptr: -8,
            kind: -1,
            size: u32::MAX,
        }
    );
}

#[test]
fn refuses_a_contract_result_out_of_bounds() {
    let memory = vec![0u8; SIZE];
    for at in [SIZE as i64 - 15, SIZE as i64, 0x7fff_0000, -8, -1, i64::MIN] {
        assert_refused(
            ContractResult::read(&memory, at, ID, "summarize_state of instance 7"),
            "summarize_state of instance 7 returned a result structure that",
        );
    }
}

#[test]
fn reads_a_delegate_result() {
    let mut memory = vec![0u8; SIZE];
    memory[200..208].copy_from_slice(&300i64.to_le_bytes());
    memory[208..212].copy_from_slice(&12u32.to_le_bytes());
    memory[212..216].copy_from_slice(&[0xFF; 4]); // tail padding, ignored
    assert_eq!(delegate_result(&memory, 200, ID, "x").unwrap(), (300, 12));
    memory[SIZE - 16..SIZE - 8].copy_from_slice(&(-5i64).to_le_bytes());
    memory[SIZE - 8..SIZE - 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        delegate_result(&memory, SIZE as i64 - 16, ID, "x").unwrap(),
        (-5, u32::MAX)
    );
}

#[test]
fn refuses_a_delegate_result_out_of_bounds() {
    let memory = vec![0u8; SIZE];
    for at in [SIZE as i64 - 8, SIZE as i64, 0x7fff_0000, -1, i64::MIN] {
        assert_refused(
            delegate_result(&memory, at, ID, "process of instance 7"),
            "process of instance 7 returned a result structure that",
        );
    }
}

#[test]
fn payload_inside_memory() {
    let memory: Vec<u8> = (0..SIZE).map(|i| i as u8).collect();
    assert_eq!(payload(&memory, 10, 3, ID, "x").unwrap(), &[10, 11, 12]);
    assert_eq!(
        payload(&memory, SIZE as i64 - 2, 2, ID, "x").unwrap(),
        &[254, 255]
    );
    assert_eq!(
        payload(&memory, SIZE as i64, 0, ID, "x").unwrap(),
        &[] as &[u8]
    );
    assert_eq!(
        payload(&memory, 0, SIZE as u32, ID, "x").unwrap().len(),
        SIZE
    );
}

#[test]
fn refuses_a_payload_out_of_bounds() {
    let memory = vec![0u8; SIZE];
    for (ptr, size) in [
        (SIZE as i64 - 2, 3),
        (SIZE as i64 + 1, 0),
        (0, SIZE as u32 + 1),
        (0, u32::MAX),
        (16, u32::MAX),
        (i64::MAX, u32::MAX),
        (i64::MAX - 1, 8),
        (-8, 8),
        (-1, 0),
        (i64::MIN, 1),
    ] {
        assert_refused(
            payload(&memory, ptr, size, ID, "validate_state of instance 7"),
            "validate_state of instance 7 returned a result whose bytes",
        );
    }
}
