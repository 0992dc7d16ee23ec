//! Unit tests of `config`.

use super::*;

#[test]
fn defaults_follow_freenet() {
    let limits = Limits::resolve(&RuntimeConfig::default()).unwrap();
    assert_eq!(limits.deadline, Duration::from_secs(5));
    assert_eq!(limits.fuel, None);
    assert_eq!(limits.max_memory_pages, DEFAULT_MAX_MEMORY_PAGES);
    assert_eq!(limits.max_memory_bytes(), 256 << 20);
    assert_eq!(limits.pool_slots, Some(DEFAULT_INSTANCE_POOL_SIZE));
}

#[test]
fn an_instance_pool_of_zero_means_on_demand_allocation() {
    let config = RuntimeConfig {
        instance_pool_size: Some(0.0),
        ..RuntimeConfig::default()
    };
    assert_eq!(Limits::resolve(&config).unwrap().pool_slots, None);
    let largest = RuntimeConfig {
        instance_pool_size: Some(f64::from(MAX_INSTANCE_POOL_SIZE)),
        ..RuntimeConfig::default()
    };
    assert_eq!(
        Limits::resolve(&largest).unwrap().pool_slots,
        Some(MAX_INSTANCE_POOL_SIZE)
    );
}

#[test]
fn fuel_is_seconds_times_cycles_times_margin() {
    let config = RuntimeConfig {
        enable_metering: Some(true),
        max_execution_seconds: Some(2.0),
        cpu_cycles_per_second: Some(1000.0),
        safety_margin: Some(0.5),
        ..RuntimeConfig::default()
    };
    assert_eq!(Limits::resolve(&config).unwrap().fuel, Some(3000));
    let odd_margin = RuntimeConfig {
        safety_margin: Some(7.0),
        ..config
    };
    assert_eq!(Limits::resolve(&odd_margin).unwrap().fuel, Some(2400));
}

#[test]
fn out_of_range_values_are_refused() {
    for config in [
        RuntimeConfig {
            max_execution_seconds: Some(0.0),
            ..Default::default()
        },
        RuntimeConfig {
            max_execution_seconds: Some(f64::NAN),
            ..Default::default()
        },
        RuntimeConfig {
            max_memory_pages: Some(65_537.0),
            ..Default::default()
        },
        RuntimeConfig {
            max_memory_pages: Some(1.5),
            ..Default::default()
        },
        RuntimeConfig {
            module_cache_capacity: Some(-1.0),
            ..Default::default()
        },
        RuntimeConfig {
            instance_pool_size: Some(f64::from(MAX_INSTANCE_POOL_SIZE) + 1.0),
            ..Default::default()
        },
    ] {
        let err = Limits::resolve(&config).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Other, "{config:?}");
    }
}
