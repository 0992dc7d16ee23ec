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
