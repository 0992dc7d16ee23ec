//! Unit tests of `error`.

use super::*;

#[test]
fn trap_names_are_unique_and_snake_case() {
    let names: std::collections::HashSet<_> = TrapCode::ALL.iter().map(|t| t.name()).collect();
    assert_eq!(names.len(), TrapCode::ALL.len());
    assert!(
        names
            .iter()
            .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
    );
}

#[test]
fn interrupts_and_host_failures_are_classified() {
    let timeout = WasmError::from_guest(wasmtime::Error::new(Interrupt::Timeout), "export \"f\"");
    assert_eq!(timeout.kind(), ErrorKind::Timeout);
    assert!(
        timeout
            .message()
            .contains("export \"f\" ran past its deadline")
    );
    let cause: Cause = Arc::new(42u32);
    let failure = HostFailure {
        message: "env.f threw".into(),
        cause: Some(cause),
    };
    let host = WasmError::from_guest(wasmtime::Error::new(failure), "export \"g\"");
    assert_eq!(host.kind(), ErrorKind::Runtime);
    assert_eq!(host.trap(), None);
    assert_eq!(
        host.cause().and_then(|c| c.downcast_ref::<u32>()),
        Some(&42)
    );
}

#[test]
fn handle_and_lifecycle_errors_share_the_other_code() {
    for kind in [
        ErrorKind::Other,
        ErrorKind::InvalidHandle,
        ErrorKind::Closed,
    ] {
        assert_eq!(kind.code(), "OTHER");
    }
}
