//! `freenet::wire` against freenet-stdlib 0.12.1 (freenet-core 0.2.154's
//! ABI), the way `wire_tests.rs` checks it against 0.6.0: every value is
//! built with freenet-stdlib's own constructors and encoded with `bincode`,
//! then decoded into our type (every field checked), re-encoded by
//! `wire::encode` to the very same bytes, and read back by freenet-stdlib,
//! which re-encodes it to the same bytes. Besides every type and variant
//! 0.6.0 has (the checks of `stdlib_cases`, shared with `wire_tests.rs`),
//! this covers the variants 0.12.1 appends (inbound 8
//! `UnsubscribeContractResponse`, 9 `WakeupFired`, 10 `Lifecycle`; outbound
//! 8 `UnsubscribeContractRequest`), whose byte layouts are pinned from the
//! notes independently of both.

mod common;
#[macro_use]
mod stdlib_cases;

use common::{about, both_refuse, both_take, hex, same, same_pair, stdlib_reads};
use freenet_stdlib_0_12::prelude as fs;
use stdlib_cases::{ctx, id};
use wasm_engine_freenet::wire;

/// 0.12.1's `InboundDelegateMsg` appends three variants to 0.6.0's eight,
/// its `OutboundDelegateMsg` one.
const INBOUND_VARIANTS: usize = 11;
const OUTBOUND_VARIANTS: usize = 9;

/// 0.12.1's inbound messages past 0.6.0's, stdlib's and ours: the
/// `stdlib_cases` checks of every inbound variant take them in.
fn extra_inbound() -> Vec<(fs::InboundDelegateMsg<'static>, wire::InboundDelegateMsg)> {
    use fs::InboundDelegateMsg as T;
    use wire::InboundDelegateMsg as O;
    vec![
        response!(UnsubscribeContractResponse, 19, Ok(()), b"c8"),
        response!(
            UnsubscribeContractResponse,
            20,
            Err("not subscribed ✓".into()),
            b""
        ),
        (
            T::WakeupFired {
                tag: b"every hour".to_vec(),
            },
            O::WakeupFired(wire::WakeupFired {
                tag: b"every hour".to_vec(),
            }),
        ),
        (
            T::WakeupFired { tag: vec![] },
            O::WakeupFired(wire::WakeupFired { tag: vec![] }),
        ),
        (
            T::Lifecycle(fs::LifecycleEvent::Installed),
            O::Lifecycle(wire::LifecycleEvent::Installed),
        ),
        (
            T::Lifecycle(fs::LifecycleEvent::NodeStarted {
                down_since_ms: None,
            }),
            O::Lifecycle(wire::LifecycleEvent::NodeStarted {
                down_since_ms: None,
            }),
        ),
        (
            T::Lifecycle(fs::LifecycleEvent::NodeStarted {
                down_since_ms: Some(1_700_000_000_123),
            }),
            O::Lifecycle(wire::LifecycleEvent::NodeStarted {
                down_since_ms: Some(1_700_000_000_123),
            }),
        ),
    ]
}

/// 0.12.1's outbound messages past 0.6.0's, stdlib's and ours: the
/// `stdlib_cases` checks of every outbound variant take them in.
fn extra_outbound() -> Vec<(fs::OutboundDelegateMsg, wire::OutboundDelegateMsg)> {
    vec![
        request!(UnsubscribeContractRequest, 0x71),
        request!(UnsubscribeContractRequest, 0x72, b"unsub", true),
    ]
}

#[test]
fn inbound_0_12_variants_read_back_by_stdlib_field_by_field() {
    use wire::InboundDelegateMsg as O;
    for (contract, result, context) in [
        (1, Err("gone".to_string()), vec![2, 3]),
        (4, Ok(()), vec![]),
    ] {
        let ours = O::UnsubscribeContractResponse(wire::ContractResponse {
            contract_id: [contract; 32],
            result: result.clone(),
            context: context.clone(),
        });
        let bytes = wire::encode(&ours).unwrap();
        let fs::InboundDelegateMsg::UnsubscribeContractResponse(r) = stdlib_reads(&bytes) else {
            panic!("not an UnsubscribeContractResponse")
        };
        assert_eq!(r.contract_id, id(contract));
        assert_eq!(r.result, result);
        assert_eq!(r.context, ctx(&context));
    }

    let ours = O::WakeupFired(wire::WakeupFired {
        tag: vec![0, 0xFF, 7],
    });
    let bytes = wire::encode(&ours).unwrap();
    let fs::InboundDelegateMsg::WakeupFired { tag } = stdlib_reads(&bytes) else {
        panic!("not a WakeupFired")
    };
    assert_eq!(tag, [0, 0xFF, 7]);

    for (event, theirs) in [
        (
            wire::LifecycleEvent::Installed,
            fs::LifecycleEvent::Installed,
        ),
        (
            wire::LifecycleEvent::NodeStarted {
                down_since_ms: None,
            },
            fs::LifecycleEvent::NodeStarted {
                down_since_ms: None,
            },
        ),
        (
            wire::LifecycleEvent::NodeStarted {
                down_since_ms: Some(u64::MAX),
            },
            fs::LifecycleEvent::NodeStarted {
                down_since_ms: Some(u64::MAX),
            },
        ),
    ] {
        let bytes = wire::encode(&O::Lifecycle(event.clone())).unwrap();
        let fs::InboundDelegateMsg::Lifecycle(back) = stdlib_reads(&bytes) else {
            panic!("not a Lifecycle")
        };
        assert_eq!(back, theirs);
        // The event on its own, as stdlib encodes it.
        let bytes = same(&theirs, &event);
        assert_eq!(stdlib_reads::<fs::LifecycleEvent>(&bytes), theirs);
    }

    // `WakeupFired` is a struct variant in stdlib and a newtype around a
    // one-field struct here: the same bytes. On its own the struct is just
    // the tag's bytes.
    let bytes = wire::encode(&wire::WakeupFired { tag: vec![5, 6] }).unwrap();
    assert_eq!(bytes, hex("0200000000000000 0506"));
}

#[test]
fn inbound_0_12_layouts_from_the_notes() {
    // 8: UnsubscribeContractResponse, Ok then Err.
    let bytes = same_pair(&response!(UnsubscribeContractResponse, 0xAA, Ok(()), b""));
    assert_eq!(bytes, about(8, 0xAA, "00000000 0000000000000000"));

    let bytes = same_pair(&response!(
        UnsubscribeContractResponse,
        0xAA,
        Err("e".into()),
        &[0xDD]
    ));
    assert_eq!(
        bytes,
        about(8, 0xAA, "01000000 0100000000000000 65 0100000000000000 DD")
    );

    // 9: WakeupFired, no context.
    let bytes = same(
        &fs::InboundDelegateMsg::WakeupFired {
            tag: vec![0xAA, 0xBB],
        },
        &wire::InboundDelegateMsg::WakeupFired(wire::WakeupFired {
            tag: vec![0xAA, 0xBB],
        }),
    );
    assert_eq!(bytes, hex("09000000 0200000000000000 AABB"));
    let bytes = same(
        &fs::InboundDelegateMsg::WakeupFired { tag: vec![] },
        &wire::InboundDelegateMsg::WakeupFired(wire::WakeupFired { tag: vec![] }),
    );
    assert_eq!(bytes, hex("09000000 0000000000000000"));

    // 10: Lifecycle, no context.
    let bytes = same(
        &fs::InboundDelegateMsg::Lifecycle(fs::LifecycleEvent::Installed),
        &wire::InboundDelegateMsg::Lifecycle(wire::LifecycleEvent::Installed),
    );
    assert_eq!(bytes, hex("0a000000 00000000"));
    let bytes = same(
        &fs::InboundDelegateMsg::Lifecycle(fs::LifecycleEvent::NodeStarted {
            down_since_ms: None,
        }),
        &wire::InboundDelegateMsg::Lifecycle(wire::LifecycleEvent::NodeStarted {
            down_since_ms: None,
        }),
    );
    assert_eq!(bytes, hex("0a000000 01000000 00"));
    let bytes = same(
        &fs::InboundDelegateMsg::Lifecycle(fs::LifecycleEvent::NodeStarted {
            down_since_ms: Some(0x0102_0304_0506_0708),
        }),
        &wire::InboundDelegateMsg::Lifecycle(wire::LifecycleEvent::NodeStarted {
            down_since_ms: Some(0x0102_0304_0506_0708),
        }),
    );
    assert_eq!(bytes, hex("0a000000 01000000 01 0807060504030201"));
}

#[test]
fn outbound_0_12_read_back_by_stdlib_field_by_field() {
    use wire::OutboundDelegateMsg as O;
    let ours = O::UnsubscribeContractRequest(wire::ContractRequest {
        contract_id: [0x33; 32],
        context: vec![0x44],
        processed: true,
    });
    let bytes = wire::encode(&ours).unwrap();
    let fs::OutboundDelegateMsg::UnsubscribeContractRequest(r) = stdlib_reads(&bytes) else {
        panic!("not an UnsubscribeContractRequest")
    };
    assert_eq!(r.contract_id, id(0x33));
    assert_eq!(r.context, ctx(&[0x44]));
    assert!(r.processed);
}

#[test]
fn outbound_0_12_layouts_from_the_notes() {
    // 8: UnsubscribeContractRequest, as GetContractRequest and
    // SubscribeContractRequest are laid out.
    let bytes = same_pair(&request!(UnsubscribeContractRequest, 0xAA));
    assert_eq!(bytes, about(8, 0xAA, "0000000000000000 00"));

    let bytes = same_pair(&request!(UnsubscribeContractRequest, 0xAA, b"xy", true));
    assert_eq!(bytes, about(8, 0xAA, "0200000000000000 7879 01"));
}

#[test]
fn delegate_results_0_12_ok() {
    // A delegate answering 0.12.1's only new outbound message.
    let (theirs, ours) = request!(UnsubscribeContractRequest, 0xAA);
    let bytes = same(
        &Ok::<_, fs::DelegateError>(vec![theirs]),
        &Ok::<_, wire::DelegateError>(vec![ours]),
    );
    let mut expected = hex("00000000 0100000000000000");
    expected.extend(about(8, 0xAA, "0000000000000000 00"));
    assert_eq!(bytes, expected);
    let back: Result<Vec<fs::OutboundDelegateMsg>, fs::DelegateError> = stdlib_reads(&bytes);
    assert!(matches!(
        back.as_deref(),
        Ok([fs::OutboundDelegateMsg::UnsubscribeContractRequest(_)])
    ));
}

#[test]
fn malformed_0_12_bytes_are_refused_like_stdlib_refuses_them() {
    // The first tag past 0.12.1's last variant, on an otherwise well-formed
    // message, inbound and outbound.
    let mut unsubscribe = wire::encode(&wire::InboundDelegateMsg::UnsubscribeContractResponse(
        wire::ContractResponse {
            contract_id: [0xAA; 32],
            result: Ok(()),
            context: vec![],
        },
    ))
    .unwrap();
    assert!(bincode::deserialize::<fs::InboundDelegateMsg>(&unsubscribe).is_ok());
    unsubscribe[0] = 11;
    both_refuse::<fs::InboundDelegateMsg, wire::InboundDelegateMsg>(&unsubscribe);
    let mut unsubscribe = wire::encode(&wire::OutboundDelegateMsg::UnsubscribeContractRequest(
        wire::ContractRequest {
            contract_id: [0xAA; 32],
            context: vec![],
            processed: false,
        },
    ))
    .unwrap();
    assert!(bincode::deserialize::<fs::OutboundDelegateMsg>(&unsubscribe).is_ok());
    unsubscribe[0] = 9;
    both_refuse::<fs::OutboundDelegateMsg, wire::OutboundDelegateMsg>(&unsubscribe);
    // A bool other than 0/1 in it.
    unsubscribe[0] = 8;
    *unsubscribe.last_mut().unwrap() = 2;
    both_refuse::<fs::OutboundDelegateMsg, wire::OutboundDelegateMsg>(&unsubscribe);

    // An unknown lifecycle event, an Option tag other than 0/1 in
    // NodeStarted, a truncated timestamp, a truncated wake-up tag.
    for bytes in [
        hex("0a000000 02000000"),
        hex("0a000000 01000000 02 0807060504030201"),
        hex("0a000000 01000000 01 08070605040302"),
        hex("09000000 0300000000000000 AABB"),
    ] {
        both_refuse::<fs::InboundDelegateMsg, wire::InboundDelegateMsg>(&bytes);
    }
    both_refuse::<fs::LifecycleEvent, wire::LifecycleEvent>(&hex("02000000"));

    // An unsubscribe response's error text is a String too.
    let mut bad_response = about(8, 0xAA, "01000000 0100000000000000 ff 0000000000000000");
    both_refuse::<fs::InboundDelegateMsg, wire::InboundDelegateMsg>(&bad_response);
    bad_response[48] = b'e';
    both_take::<fs::InboundDelegateMsg, wire::InboundDelegateMsg>(&bad_response);
}
