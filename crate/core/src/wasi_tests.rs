//! Unit tests of `wasi`: the output capture and the stepping clock.

use super::*;

#[test]
fn a_capture_keeps_what_fits_and_then_reports_a_broken_pipe() {
    let mut capture = Capture::new(5, Stream::Stdout, None);
    assert_eq!(capture.check_write().unwrap(), 5);
    capture.write(Bytes::from_static(b"abc")).unwrap();
    assert_eq!(capture.check_write().unwrap(), 2);
    assert!(capture.write(Bytes::from_static(b"defg")).is_err());
    assert_eq!(capture.contents(), b"abcde");
    assert!(capture.check_write().is_err());
    assert_eq!(capture.take(), b"abcde");
    assert_eq!(capture.contents(), b"");
}

#[test]
fn a_stepping_clock_starts_where_it_is_told_and_moves_a_step_per_reading() {
    let clock = SteppingClock::new(Duration::from_secs(10));
    assert_eq!(HostWallClock::now(&clock), Duration::from_secs(10));
    assert_eq!(
        HostWallClock::now(&clock),
        Duration::from_secs(10) + CLOCK_STEP
    );
    assert_eq!(HostMonotonicClock::now(&clock), 10_002_000_000);
    let far = SteppingClock::new(Duration::MAX);
    assert_eq!(HostWallClock::now(&far), Duration::MAX);
    assert_eq!(HostMonotonicClock::now(&far), u64::MAX);
}
