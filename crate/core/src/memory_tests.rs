//! Unit tests of `memory`.

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

#[test]
fn a_range_is_offset_to_offset_plus_length_when_it_fits() {
    assert_eq!(range(3, 4, 7), Some(3..7));
    assert_eq!(range(0, 7, 7), Some(0..7));
    assert_eq!(range(0, 0, 0), Some(0..0));
    assert_eq!(range(7, 0, 7), Some(7..7));
    assert_eq!(range(3, 5, 7), None);
    assert_eq!(range(8, 0, 7), None);
    assert_eq!(range(-1, 0, 7), None);
    assert_eq!(range(0, -1, 7), None);
    assert_eq!(range(i64::MIN, i64::MAX, usize::MAX), None);
}

#[test]
fn a_read_may_end_exactly_at_the_end_of_memory() {
    let memory: Vec<u8> = (0..16).collect();
    assert_eq!(read(&memory, 0, 16, 1).unwrap(), memory.as_slice());
    assert_eq!(read(&memory, 12, 4, 1).unwrap(), &[12, 13, 14, 15]);
    assert_eq!(read_mut(&mut memory.clone(), 15, 1, 1).unwrap(), &mut [15]);
    let err = read(&memory, 13, 4, 1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Memory);
}

#[test]
fn empty_reads_succeed_anywhere_up_to_the_end_even_of_an_empty_memory() {
    let memory = vec![7u8; 4];
    for offset in 0..=4 {
        assert_eq!(read(&memory, offset, 0, 1).unwrap(), &[] as &[u8]);
    }
    assert_eq!(read(&[], 0, 0, 1).unwrap(), &[] as &[u8]);
    let mut empty: [u8; 0] = [];
    write(&mut empty, 0, &[], 1).unwrap();
}

#[test]
fn empty_accesses_past_the_end_or_at_a_negative_offset_are_refused() {
    let mut memory = vec![0u8; 4];
    assert_eq!(
        read(&memory, 5, 0, 1).unwrap_err().kind(),
        ErrorKind::Memory
    );
    assert_eq!(
        read(&memory, -1, 0, 1).unwrap_err().kind(),
        ErrorKind::Memory
    );
    assert_eq!(read(&[], 1, 0, 1).unwrap_err().kind(), ErrorKind::Memory);
    assert_eq!(
        write(&mut memory, 5, &[], 1).unwrap_err().kind(),
        ErrorKind::Memory
    );
}

#[test]
fn a_refused_read_names_the_access_the_instance_and_the_size() {
    let memory = vec![0u8; 16];
    let err = read(&memory, 14, 3, 5).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Memory);
    assert_eq!(err.instance(), Some(5));
    assert_eq!(
        err.message(),
        "cannot read 3 bytes at offset 14 of instance 5: its memory holds 16 bytes"
    );
    assert_eq!(
        err.to_string(),
        "MEMORY: cannot read 3 bytes at offset 14 of instance 5: its memory holds 16 bytes"
    );
}

#[test]
fn negative_offsets_and_lengths_are_named_as_given() {
    let memory = vec![0u8; 16];
    let err = read(&memory, -4, 2, 8).unwrap_err();
    assert_eq!(
        err.message(),
        "cannot read 2 bytes at offset -4 of instance 8: its memory holds 16 bytes"
    );
    let err = read(&memory, 2, -3, 8).unwrap_err();
    assert_eq!(
        err.message(),
        "cannot read -3 bytes at offset 2 of instance 8: its memory holds 16 bytes"
    );
}

#[test]
fn a_refused_write_names_the_access_as_a_write() {
    let mut memory = vec![0u8; 16];
    let err = read_mut(&mut memory, 10, 7, 4).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Memory);
    assert_eq!(err.instance(), Some(4));
    assert_eq!(
        err.message(),
        "cannot write 7 bytes at offset 10 of instance 4: its memory holds 16 bytes"
    );
    let err = write(&mut memory, 15, &[1, 2], 6).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Memory);
    assert_eq!(err.instance(), Some(6));
    assert_eq!(
        err.message(),
        "cannot write 2 bytes at offset 15 of instance 6: its memory holds 16 bytes"
    );
}

#[test]
fn offsets_whose_sum_with_the_length_overflows_are_refused_on_every_access() {
    let mut memory = vec![0u8; 16];
    for (offset, length) in [(i64::MAX, i64::MAX), (i64::MAX, 1), (1, i64::MAX)] {
        assert_eq!(
            read(&memory, offset, length, 2).unwrap_err().kind(),
            ErrorKind::Memory
        );
        assert_eq!(
            read_mut(&mut memory, offset, length, 2).unwrap_err().kind(),
            ErrorKind::Memory
        );
    }
    assert_eq!(
        write(&mut memory, i64::MAX, &[1], 2).unwrap_err().kind(),
        ErrorKind::Memory
    );
    assert_eq!(memory, vec![0u8; 16]);
}

#[test]
fn read_mut_lends_exactly_the_range_asked_for() {
    let mut memory = vec![0u8; 8];
    let window = read_mut(&mut memory, 2, 3, 1).unwrap();
    assert_eq!(window.len(), 3);
    window.copy_from_slice(&[1, 2, 3]);
    assert_eq!(memory, [0, 0, 1, 2, 3, 0, 0, 0]);
}

#[test]
fn a_write_ending_exactly_at_the_end_copies_every_byte() {
    let mut memory = vec![0u8; 8];
    write(&mut memory, 5, &[9, 8, 7], 1).unwrap();
    assert_eq!(memory, [0, 0, 0, 0, 0, 9, 8, 7]);
    write(&mut memory, 0, &[1; 8], 1).unwrap();
    assert_eq!(memory, [1; 8]);
}
