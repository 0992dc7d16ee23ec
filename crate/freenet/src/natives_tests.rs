use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::date_time_bytes;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn utc_now_writes_chronos_layout_for_known_dates() {
    let hex = |time: &str| {
        date_time_bytes(at(time))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert_eq!(
        hex("2024-01-02T03:04:05.123456789Z"),
        "2600fd00252b000015cd5b07"
    );
    assert_eq!(hex("1970-01-01T00:00:00Z"), "1a40f6000000000000000000");
    assert_eq!(&hex("2025-06-15T00:00:00Z")[..8], "692afd00");
    assert_eq!(&hex("2023-12-31T00:00:00Z")[..8], "ddf6fc00");
}

/// The packed date, compared with chrono's own in-memory value over four
/// centuries of days (every leap-year rule, every weekday of 31 December).
#[test]
fn utc_now_matches_chronos_memory_over_four_centuries() {
    let mut day = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();
    let end = NaiveDate::from_ymd_opt(2301, 1, 1).unwrap();
    while day < end {
        let time = day
            .and_hms_nano_opt(23, 59, 58, 999_999_999)
            .unwrap()
            .and_utc();
        // SAFETY: `DateTime<Utc>` is three 4-byte integers and a zero-sized
        // offset (the transmute refuses to compile otherwise): no padding,
        // every byte initialised. This is the copy freenet-core makes.
        let memory = unsafe { std::mem::transmute::<DateTime<Utc>, [u8; 12]>(time) };
        assert_eq!(date_time_bytes(time), memory, "{day}");
        day += Duration::days(1);
    }
}
