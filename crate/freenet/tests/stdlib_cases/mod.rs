//! The checks `wire_tests.rs` (freenet-stdlib 0.6.0) and
//! `wire_0_12_tests.rs` (0.12.1) run alike: every value is built with
//! freenet-stdlib's own constructors and encoded with `bincode`, then decoded
//! into our type (every field checked), re-encoded by `wire::encode` to the
//! very same bytes, and, for most, read back by freenet-stdlib. A few byte
//! dumps from the ABI notes pin the layout independently of both.
//!
//! One source, compiled once per version: the including test crate names its
//! freenet-stdlib's prelude `fs` and, for what the versions do not share,
//! gives
//! - `INBOUND_VARIANTS` and `OUTBOUND_VARIANTS`: how many variants its
//!   `InboundDelegateMsg` and `OutboundDelegateMsg` have;
//! - `extra_inbound()` and `extra_outbound()`: stdlib's and our messages of
//!   the variants past the eight each way 0.6.0 has, which `inbound()` and
//!   `outbound()` here append to theirs.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::common::{
    CODE, CODE_HASH_HEX, KEY_HEX, PARAMS, about, both_refuse, both_take, every_variant, hex, key,
    our_key, same, same_pair, stdlib_reads,
};
use super::{INBOUND_VARIANTS, OUTBOUND_VARIANTS, extra_inbound, extra_outbound, fs};
use wasm_engine_freenet::wire;

pub fn id(byte: u8) -> fs::ContractInstanceId {
    fs::ContractInstanceId::new([byte; 32])
}

pub fn their_key(key: u8, code: u8) -> fs::DelegateKey {
    fs::DelegateKey::new([key; 32], fs::CodeHash::new([code; 32]))
}

pub fn ctx(bytes: &[u8]) -> fs::DelegateContext {
    fs::DelegateContext::new(bytes.to_vec())
}

/// stdlib's and our `InboundDelegateMsg::$variant`, an answer about the
/// contract `[$id; 32]` with `$result` and the context `$context`; stdlib's
/// type for it has the variant's name, as every `*ContractResponse` has.
macro_rules! response {
    ($variant:ident, $id:expr, $result:expr, $context:expr) => {
        (
            $crate::fs::InboundDelegateMsg::$variant($crate::fs::$variant {
                contract_id: $crate::stdlib_cases::id($id),
                result: $result,
                context: $crate::stdlib_cases::ctx($context),
            }),
            wasm_engine_freenet::wire::InboundDelegateMsg::$variant(
                wasm_engine_freenet::wire::ContractResponse {
                    contract_id: [$id; 32],
                    result: $result,
                    context: <[u8]>::to_vec($context),
                },
            ),
        )
    };
}

/// stdlib's and our `OutboundDelegateMsg::$variant`, a request about the
/// contract `[$id; 32]`: as stdlib's `new` makes it (no context, not
/// processed), or with the context `$context` and `$processed`. stdlib's
/// type for it has the variant's name, as the get, subscribe and unsubscribe
/// requests' have.
macro_rules! request {
    ($variant:ident, $id:expr) => {
        (
            $crate::fs::OutboundDelegateMsg::$variant($crate::fs::$variant::new(
                $crate::stdlib_cases::id($id),
            )),
            wasm_engine_freenet::wire::OutboundDelegateMsg::$variant(
                wasm_engine_freenet::wire::ContractRequest {
                    contract_id: [$id; 32],
                    context: vec![],
                    processed: false,
                },
            ),
        )
    };
    ($variant:ident, $id:expr, $context:expr, $processed:expr) => {
        (
            $crate::fs::OutboundDelegateMsg::$variant({
                let mut request = $crate::fs::$variant::new($crate::stdlib_cases::id($id));
                request.context = $crate::stdlib_cases::ctx($context);
                request.processed = $processed;
                request
            }),
            wasm_engine_freenet::wire::OutboundDelegateMsg::$variant(
                wasm_engine_freenet::wire::ContractRequest {
                    contract_id: [$id; 32],
                    context: <[u8]>::to_vec($context),
                    processed: $processed,
                },
            ),
        )
    };
}

// ---------------------------------------------------------------------------
// Keys and hashes
// ---------------------------------------------------------------------------

#[test]
fn code_hash_is_stdlibs_code_hash() {
    for code in [&CODE[..], &[], b"\0asm\x01\0\0\0", &[7u8; 100_000]] {
        assert_eq!(wire::code_hash(code), *fs::CodeHash::from_code(code));
        assert_eq!(
            wire::code_hash(code),
            **fs::ContractCode::from(code.to_vec()).hash()
        );
        assert_eq!(
            wire::code_hash(code),
            **fs::DelegateCode::from(code.to_vec()).hash()
        );
    }
    assert_eq!(wire::code_hash(&CODE), key(CODE_HASH_HEX));
}

#[test]
fn instance_key_is_stdlibs_delegate_key_and_contract_instance_id() {
    let hash = wire::code_hash(&CODE);
    let ours = wire::instance_key(&hash, &PARAMS);
    assert_eq!(ours, key(KEY_HEX));

    let params = fs::Parameters::from(PARAMS.to_vec());
    let from_params =
        fs::DelegateKey::from_params(fs::DelegateCode::encode_hash(&hash), &params).unwrap();
    assert_eq!(from_params.bytes(), ours);
    assert_eq!(**from_params.code_hash(), hash);

    let delegate = fs::Delegate::from((&fs::DelegateCode::from(CODE.to_vec()), &params));
    assert_eq!(delegate.key().bytes(), ours);

    let contract_id = fs::ContractInstanceId::from_params_and_code(
        fs::Parameters::from(PARAMS.to_vec()),
        fs::ContractCode::from(CODE.to_vec()),
    );
    assert_eq!(*contract_id, ours);
    let contract_key = fs::ContractKey::from_params_and_code(
        fs::Parameters::from(PARAMS.to_vec()),
        fs::ContractCode::from(CODE.to_vec()),
    );
    assert_eq!(**contract_key.id(), ours);
    assert_eq!(**contract_key.code_hash(), hash);

    // Other parameters (none at all included) give other keys, the same way.
    for params in [&[][..], &[9], &[8, 9], &[0u8; 64]] {
        let theirs = fs::DelegateKey::from_params(
            fs::DelegateCode::encode_hash(&hash),
            &fs::Parameters::from(params.to_vec()),
        )
        .unwrap();
        assert_eq!(wire::instance_key(&hash, params), theirs.bytes());
        assert_ne!(wire::instance_key(&hash, params), ours);
    }
}

#[test]
fn delegate_key_matches() {
    let theirs = their_key(0x11, 0x22);
    let bytes = same(&theirs, &our_key(0x11, 0x22));
    assert_eq!(bytes.len(), 64);
    assert_eq!(bytes[..32], [0x11; 32]);
    assert_eq!(bytes[32..], [0x22; 32]);

    // A real delegate's key.
    let delegate = fs::Delegate::from((
        &fs::DelegateCode::from(CODE.to_vec()),
        &fs::Parameters::from(PARAMS.to_vec()),
    ));
    let ours = wire::DelegateKey {
        key: key(KEY_HEX),
        code_hash: key(CODE_HASH_HEX),
    };
    let bytes = same(delegate.key(), &ours);
    let back: fs::DelegateKey = stdlib_reads(&bytes);
    assert_eq!(&back, delegate.key());
}

// ---------------------------------------------------------------------------
// Contract types
// ---------------------------------------------------------------------------

#[test]
fn contract_error_every_variant() {
    let cases: Vec<(fs::ContractError, wire::ContractError, u32)> = vec![
        (
            fs::ContractError::Deser("bad bytes".into()),
            wire::ContractError::Deser("bad bytes".into()),
            0,
        ),
        (
            fs::ContractError::InvalidUpdate,
            wire::ContractError::InvalidUpdate,
            1,
        ),
        (
            fs::ContractError::InvalidUpdateWithInfo {
                reason: "too long ✓".into(),
            },
            wire::ContractError::InvalidUpdateWithInfo {
                reason: "too long ✓".into(),
            },
            2,
        ),
        (
            fs::ContractError::InvalidState,
            wire::ContractError::InvalidState,
            3,
        ),
        (
            fs::ContractError::InvalidDelta,
            wire::ContractError::InvalidDelta,
            4,
        ),
        (
            fs::ContractError::Other(String::new()),
            wire::ContractError::Other(String::new()),
            5,
        ),
    ];
    for (theirs, ours, tag) in cases {
        let bytes = same(&theirs, &ours);
        assert_eq!(bytes[..4], tag.to_le_bytes(), "{ours:?}");
        let back: fs::ContractError = stdlib_reads(&bytes);
        assert_eq!(back.to_string(), theirs.to_string());
    }
}

#[test]
fn validate_result_every_variant_and_as_a_contract_answer() {
    let cases = vec![
        (fs::ValidateResult::Valid, wire::ValidateResult::Valid),
        (fs::ValidateResult::Invalid, wire::ValidateResult::Invalid),
        (
            fs::ValidateResult::RequestRelated(vec![]),
            wire::ValidateResult::RequestRelated(vec![]),
        ),
        (
            fs::ValidateResult::RequestRelated(vec![id(1), id(2), id(1)]),
            wire::ValidateResult::RequestRelated(vec![[1; 32], [2; 32], [1; 32]]),
        ),
    ];
    for (theirs, ours) in cases {
        let bytes = same(&theirs, &ours);
        let back: fs::ValidateResult = stdlib_reads(&bytes);
        assert_eq!(back, theirs);
        let answer: Result<fs::ValidateResult, fs::ContractError> = Ok(theirs);
        same(&answer, &Ok::<_, wire::ContractError>(ours));
    }
    let failed: Result<fs::ValidateResult, fs::ContractError> =
        Err(fs::ContractError::InvalidState);
    let bytes = same(
        &failed,
        &Err::<wire::ValidateResult, _>(wire::ContractError::InvalidState),
    );
    assert_eq!(bytes, hex("01000000 03000000"));
}

#[test]
fn update_modification_with_and_without_state_and_both_related_modes() {
    let related = || {
        vec![
            fs::RelatedContract {
                contract_instance_id: id(1),
                mode: fs::RelatedMode::StateOnce,
            },
            fs::RelatedContract {
                contract_instance_id: id(2),
                mode: fs::RelatedMode::StateThenSubscribe,
            },
        ]
    };
    let our_related = vec![
        wire::RelatedContract {
            contract_instance_id: [1; 32],
            mode: wire::RelatedMode::StateOnce,
        },
        wire::RelatedContract {
            contract_instance_id: [2; 32],
            mode: wire::RelatedMode::StateThenSubscribe,
        },
    ];

    // With a state, no related contracts.
    let valid = fs::UpdateModification::valid(fs::State::from(vec![5, 6, 7]));
    let bytes = same(
        &valid,
        &wire::UpdateModification {
            new_state: Some(vec![5, 6, 7]),
            related: vec![],
        },
    );
    assert_eq!(bytes, hex("01 0300000000000000 050607 0000000000000000"));

    // An empty new state is still a state.
    same(
        &fs::UpdateModification::valid(fs::State::from(vec![])),
        &wire::UpdateModification {
            new_state: Some(vec![]),
            related: vec![],
        },
    );

    // Without a state, related contracts of both modes.
    let requires = fs::UpdateModification::requires(related()).unwrap();
    let ours = wire::UpdateModification {
        new_state: None,
        related: our_related.clone(),
    };
    let bytes = same(&requires, &ours);
    let back: fs::UpdateModification = stdlib_reads(&bytes);
    assert!(back.new_state.is_none());
    assert_eq!(back.related.len(), 2);
    assert!(matches!(back.related[0].mode, fs::RelatedMode::StateOnce));
    assert!(matches!(
        back.related[1].mode,
        fs::RelatedMode::StateThenSubscribe
    ));
    assert_eq!(back.related[1].contract_instance_id, id(2));

    // Both a state and related contracts.
    let mut both = fs::UpdateModification::valid(fs::State::from(vec![1]));
    both.related = related();
    let ours = wire::UpdateModification {
        new_state: Some(vec![1]),
        related: our_related,
    };
    same(&both, &ours);

    // As the contract's answer.
    let answer: Result<fs::UpdateModification, fs::ContractError> = Ok(both);
    same(&answer, &Ok::<_, wire::ContractError>(ours));
    let failed: Result<fs::UpdateModification, fs::ContractError> =
        Err(fs::ContractError::InvalidUpdateWithInfo { reason: "r".into() });
    same(
        &failed,
        &Err::<wire::UpdateModification, _>(wire::ContractError::InvalidUpdateWithInfo {
            reason: "r".into(),
        }),
    );
}

#[test]
fn related_modes_and_related_contract() {
    same(&fs::RelatedMode::StateOnce, &wire::RelatedMode::StateOnce);
    let bytes = same(
        &fs::RelatedMode::StateThenSubscribe,
        &wire::RelatedMode::StateThenSubscribe,
    );
    assert_eq!(bytes, 1u32.to_le_bytes());
    let bytes = same(
        &fs::RelatedContract {
            contract_instance_id: id(0xAB),
            mode: fs::RelatedMode::StateThenSubscribe,
        },
        &wire::RelatedContract {
            contract_instance_id: [0xAB; 32],
            mode: wire::RelatedMode::StateThenSubscribe,
        },
    );
    assert_eq!(bytes.len(), 36);
}

#[test]
fn summaries_and_deltas_as_contract_answers() {
    let summary: Result<fs::StateSummary, fs::ContractError> =
        Ok(fs::StateSummary::from(vec![1, 2]));
    same(&summary, &Ok::<Vec<u8>, wire::ContractError>(vec![1, 2]));
    let delta: Result<fs::StateDelta, fs::ContractError> = Ok(fs::StateDelta::from(vec![]));
    same(&delta, &Ok::<Vec<u8>, wire::ContractError>(vec![]));
    let failed: Result<fs::StateDelta, fs::ContractError> = Err(fs::ContractError::InvalidDelta);
    same(
        &failed,
        &Err::<Vec<u8>, _>(wire::ContractError::InvalidDelta),
    );
}

/// Every `UpdateData` variant, stdlib's and ours, with distinct contents.
fn update_data() -> Vec<(fs::UpdateData<'static>, wire::UpdateData, u32)> {
    vec![
        (
            fs::UpdateData::State(fs::State::from(vec![1, 2])),
            wire::UpdateData::State(vec![1, 2]),
            0,
        ),
        (
            fs::UpdateData::Delta(fs::StateDelta::from(vec![3])),
            wire::UpdateData::Delta(vec![3]),
            1,
        ),
        (
            fs::UpdateData::StateAndDelta {
                state: fs::State::from(vec![4, 5]),
                delta: fs::StateDelta::from(vec![6]),
            },
            wire::UpdateData::StateAndDelta {
                state: vec![4, 5],
                delta: vec![6],
            },
            2,
        ),
        (
            fs::UpdateData::RelatedState {
                related_to: id(7),
                state: fs::State::from(vec![8]),
            },
            wire::UpdateData::RelatedState {
                related_to: [7; 32],
                state: vec![8],
            },
            3,
        ),
        (
            fs::UpdateData::RelatedDelta {
                related_to: id(9),
                delta: fs::StateDelta::from(vec![10, 11, 12]),
            },
            wire::UpdateData::RelatedDelta {
                related_to: [9; 32],
                delta: vec![10, 11, 12],
            },
            4,
        ),
        (
            fs::UpdateData::RelatedStateAndDelta {
                related_to: id(13),
                state: fs::State::from(vec![14]),
                delta: fs::StateDelta::from(vec![15, 16]),
            },
            wire::UpdateData::RelatedStateAndDelta {
                related_to: [13; 32],
                state: vec![14],
                delta: vec![15, 16],
            },
            5,
        ),
    ]
}

#[test]
fn update_data_every_variant() {
    for (theirs, ours, tag) in update_data() {
        let bytes = same(&theirs, &ours);
        assert_eq!(bytes[..4], tag.to_le_bytes(), "{ours:?}");
        let back: fs::UpdateData = stdlib_reads(&bytes);
        assert_eq!(back, theirs);
    }
    // The fields in order: id, state, delta.
    let (theirs, ours, _) = update_data().pop().unwrap();
    let bytes = same(&theirs, &ours);
    assert_eq!(
        bytes,
        about(5, 13, "0100000000000000 0e 0200000000000000 0f10")
    );

    // The list update_state is given.
    let (theirs, ours): (Vec<_>, Vec<_>) =
        update_data().into_iter().map(|(t, o, _)| (t, o)).unzip();
    let bytes = same(&theirs, &ours);
    let back: Vec<fs::UpdateData> = stdlib_reads(&bytes);
    assert_eq!(back, theirs);
}

#[test]
fn related_contracts_with_one_entry() {
    for state in [Some(vec![1, 2, 3]), Some(vec![]), None] {
        let map: HashMap<_, _> = [(id(0x42), state.clone().map(fs::State::from))].into();
        let theirs = fs::RelatedContracts::from(map);
        let ours: wire::RelatedContracts = vec![([0x42; 32], state.clone())];
        let bytes = same(&theirs, &ours);
        let back: fs::RelatedContracts = stdlib_reads(&bytes);
        assert_eq!(back, theirs);
        let mut expected = hex("0100000000000000");
        expected.extend([0x42; 32]);
        match &state {
            Some(s) => {
                expected.push(1);
                expected.extend((s.len() as u64).to_le_bytes());
                expected.extend(s);
            }
            None => expected.push(0),
        }
        assert_eq!(bytes, expected);
    }
    same(&fs::RelatedContracts::new(), &wire::RelatedContracts::new());
}

#[test]
fn related_contracts_with_several_entries_compare_as_sets() {
    // stdlib keeps them in a HashMap: the order on the wire is arbitrary.
    let entries: BTreeMap<[u8; 32], Option<Vec<u8>>> = (0u8..9)
        .map(|i| {
            let state = (i % 3 != 0).then(|| vec![i; usize::from(i)]);
            ([i.wrapping_mul(37); 32], state)
        })
        .collect();
    let theirs = fs::RelatedContracts::from(
        entries
            .iter()
            .map(|(k, v)| {
                (
                    fs::ContractInstanceId::new(*k),
                    v.clone().map(fs::State::from),
                )
            })
            .collect::<HashMap<_, _>>(),
    );
    let bytes = bincode::serialize(&theirs).unwrap();
    let ours: wire::RelatedContracts = wire::decode(&bytes).unwrap();
    assert_eq!(ours.len(), entries.len());
    let as_set: BTreeMap<_, _> = ours.iter().cloned().collect();
    assert_eq!(as_set, entries);
    // Decoded in stdlib's order, ours re-encodes to stdlib's very bytes.
    assert_eq!(wire::encode(&ours).unwrap(), bytes);

    // Ours in another order still means the same map to stdlib.
    let mut reversed = ours.clone();
    reversed.reverse();
    let ours_bytes = wire::encode(&reversed).unwrap();
    let back: fs::RelatedContracts = bincode::deserialize(&ours_bytes).unwrap();
    assert_eq!(back, theirs);
    let back: BTreeMap<[u8; 32], Option<Vec<u8>>> = back
        .into_owned()
        .states()
        .map(|(k, v)| (**k, v.clone().map(fs::State::into_bytes)))
        .collect();
    assert_eq!(back, entries);
}

/// stdlib's contract container for `CODE` with `PARAMS`, and ours.
fn container() -> (fs::ContractContainer, wire::ContractContainer) {
    let wrapped = fs::WrappedContract::new(
        Arc::new(fs::ContractCode::from(CODE.to_vec())),
        fs::Parameters::from(PARAMS.to_vec()),
    );
    let theirs = fs::ContractContainer::from(fs::ContractWasmAPIVersion::V1(wrapped));
    let ours = wire::ContractContainer::Wasm(wire::ContractWasmApi::V1(wire::WrappedContract {
        code: CODE.to_vec(),
        code_hash: key(CODE_HASH_HEX),
        parameters: PARAMS.to_vec(),
        key: wire::ContractKey {
            instance: key(KEY_HEX),
            code_hash: key(CODE_HASH_HEX),
        },
    }));
    (theirs, ours)
}

#[test]
fn contract_container_wrapped_contract_and_contract_key() {
    let (theirs, ours) = container();
    let bytes = same(&theirs, &ours);
    assert_eq!(bytes.len(), 125);
    let mut expected = hex("00000000 00000000 0300000000000000 010203");
    expected.extend(key(CODE_HASH_HEX));
    expected.extend(hex("0200000000000000 0908"));
    expected.extend(key(KEY_HEX));
    expected.extend(key(CODE_HASH_HEX));
    assert_eq!(bytes, expected);
    let back: fs::ContractContainer = stdlib_reads(&bytes);
    assert_eq!(back, theirs);
    assert_eq!(**back.key().id(), key(KEY_HEX));

    let fs::ContractContainer::Wasm(fs::ContractWasmAPIVersion::V1(wrapped)) = &theirs else {
        unreachable!()
    };
    let wire::ContractContainer::Wasm(wire::ContractWasmApi::V1(our_wrapped)) = &ours;
    same(wrapped, our_wrapped);
    same(wrapped.key(), &our_wrapped.key);
    let bytes = same(
        &fs::ContractKey::from_params_and_code(
            fs::Parameters::from(PARAMS.to_vec()),
            fs::ContractCode::from(CODE.to_vec()),
        ),
        &our_wrapped.key,
    );
    assert_eq!(bytes.len(), 64);
}

// ---------------------------------------------------------------------------
// Delegate types
// ---------------------------------------------------------------------------

#[test]
fn message_origin_both_variants() {
    let bytes = same(
        &fs::MessageOrigin::WebApp(id(0xAA)),
        &wire::MessageOrigin::WebApp([0xAA; 32]),
    );
    assert_eq!(bytes.len(), 36);
    assert_eq!(bytes[..4], [0, 0, 0, 0]);
    assert_eq!(
        stdlib_reads::<fs::MessageOrigin>(&bytes),
        fs::MessageOrigin::WebApp(id(0xAA))
    );

    let bytes = same(
        &fs::MessageOrigin::Delegate(their_key(1, 2)),
        &wire::MessageOrigin::Delegate(our_key(1, 2)),
    );
    assert_eq!(bytes.len(), 68);
    assert_eq!(bytes[..4], [1, 0, 0, 0]);
    assert_eq!(
        stdlib_reads::<fs::MessageOrigin>(&bytes),
        fs::MessageOrigin::Delegate(their_key(1, 2))
    );
}

#[test]
fn delegate_error_both_variants() {
    let bytes = same(
        &fs::DelegateError::Deser("d".into()),
        &wire::DelegateError::Deser("d".into()),
    );
    assert_eq!(bytes, hex("00000000 0100000000000000 64"));
    let bytes = same(
        &fs::DelegateError::Other("o".into()),
        &wire::DelegateError::Other("o".into()),
    );
    assert_eq!(bytes, hex("01000000 0100000000000000 6f"));
    let back: fs::DelegateError = stdlib_reads(&bytes);
    assert!(matches!(back, fs::DelegateError::Other(ref s) if s == "o"));
}

/// Every inbound variant, stdlib's and ours: 0.6.0's eight, then the
/// version's own.
fn inbound() -> Vec<(fs::InboundDelegateMsg<'static>, wire::InboundDelegateMsg)> {
    use fs::InboundDelegateMsg as T;
    use wire::InboundDelegateMsg as O;
    vec![
        (
            T::ApplicationMessage(
                fs::ApplicationMessage::new(vec![0xCC])
                    .with_context(ctx(&[0xDD]))
                    .processed(true),
            ),
            O::ApplicationMessage(wire::ApplicationMessage {
                payload: vec![0xCC],
                context: vec![0xDD],
                processed: true,
            }),
        ),
        (
            T::ApplicationMessage(fs::ApplicationMessage::new(b"hello".to_vec())),
            O::ApplicationMessage(wire::ApplicationMessage {
                payload: b"hello".to_vec(),
                context: vec![],
                processed: false,
            }),
        ),
        (
            T::UserResponse(fs::UserInputResponse {
                request_id: 0xDEAD_BEEF,
                response: fs::ClientResponse::new(b"yes".to_vec()),
                context: ctx(b"c1"),
            }),
            O::UserResponse(wire::UserInputResponse {
                request_id: 0xDEAD_BEEF,
                response: b"yes".to_vec(),
                context: b"c1".to_vec(),
            }),
        ),
        (
            T::GetContractResponse(fs::GetContractResponse {
                contract_id: id(3),
                state: Some(fs::WrappedState::new(vec![4, 5])),
                context: ctx(b"c2"),
            }),
            O::GetContractResponse(wire::GetContractResponse {
                contract_id: [3; 32],
                state: Some(vec![4, 5]),
                context: b"c2".to_vec(),
            }),
        ),
        (
            T::GetContractResponse(fs::GetContractResponse {
                contract_id: id(6),
                state: None,
                context: ctx(b""),
            }),
            O::GetContractResponse(wire::GetContractResponse {
                contract_id: [6; 32],
                state: None,
                context: vec![],
            }),
        ),
        response!(PutContractResponse, 7, Ok(()), b"c3"),
        response!(PutContractResponse, 8, Err("put failed".into()), b""),
        response!(
            UpdateContractResponse,
            9,
            Err("update failed".into()),
            b"c4"
        ),
        response!(SubscribeContractResponse, 10, Ok(()), b"c5"),
        (
            T::ContractNotification(fs::ContractNotification {
                contract_id: id(11),
                new_state: fs::WrappedState::new(vec![12, 13, 14]),
                context: ctx(b"c6"),
            }),
            O::ContractNotification(wire::ContractNotification {
                contract_id: [11; 32],
                new_state: vec![12, 13, 14],
                context: b"c6".to_vec(),
            }),
        ),
        (
            T::DelegateMessage({
                let mut m =
                    fs::DelegateMessage::new(their_key(15, 16), their_key(17, 18), b"hi".to_vec());
                m.context = ctx(b"c7");
                m.processed = true;
                m
            }),
            O::DelegateMessage(wire::DelegateMessage {
                target: our_key(15, 16),
                sender: our_key(17, 18),
                payload: b"hi".to_vec(),
                context: b"c7".to_vec(),
                processed: true,
            }),
        ),
    ]
    .into_iter()
    .chain(extra_inbound())
    .collect()
}

fn inbound_tag(message: &wire::InboundDelegateMsg) -> u32 {
    use wire::InboundDelegateMsg as O;
    match message {
        O::ApplicationMessage(_) => 0,
        O::UserResponse(_) => 1,
        O::GetContractResponse(_) => 2,
        O::PutContractResponse(_) => 3,
        O::UpdateContractResponse(_) => 4,
        O::SubscribeContractResponse(_) => 5,
        O::ContractNotification(_) => 6,
        O::DelegateMessage(_) => 7,
        O::UnsubscribeContractResponse(_) => 8,
        O::WakeupFired(_) => 9,
        O::Lifecycle(_) => 10,
    }
}

#[test]
fn inbound_delegate_msg_every_variant() {
    let check =
        |theirs: &fs::InboundDelegateMsg, ours: &wire::InboundDelegateMsg, tag, bytes: &[u8]| {
            // Tags 8 and up are the ones 0.6.0 (ABI 0.2.48) lacks.
            assert_eq!(ours.in_0_2_48(), tag < 8, "{ours:?}");
            // stdlib reads our bytes back as the same message.
            let back: fs::InboundDelegateMsg = stdlib_reads(bytes);
            assert_eq!(
                back.get_context().map(|c| c.as_ref().to_vec()),
                theirs.get_context().map(|c| c.as_ref().to_vec())
            );
        };
    every_variant("inbound", inbound(), INBOUND_VARIANTS, inbound_tag, check);
}

#[test]
fn inbound_layouts_from_the_notes() {
    let aa = fs::ContractInstanceId::new([0xAA; 32]);
    let bytes = same(
        &fs::InboundDelegateMsg::ApplicationMessage(
            fs::ApplicationMessage::new(vec![0xCC])
                .with_context(ctx(&[0xDD]))
                .processed(true),
        ),
        &wire::InboundDelegateMsg::ApplicationMessage(wire::ApplicationMessage {
            payload: vec![0xCC],
            context: vec![0xDD],
            processed: true,
        }),
    );
    assert_eq!(
        bytes,
        hex("00000000 0100000000000000 CC 0100000000000000 DD 01")
    );

    let bytes = same(
        &fs::InboundDelegateMsg::GetContractResponse(fs::GetContractResponse {
            contract_id: aa,
            state: Some(fs::WrappedState::new(vec![3])),
            context: ctx(&[]),
        }),
        &wire::InboundDelegateMsg::GetContractResponse(wire::GetContractResponse {
            contract_id: [0xAA; 32],
            state: Some(vec![3]),
            context: vec![],
        }),
    );
    assert_eq!(
        bytes,
        about(2, 0xAA, "01 0100000000000000 03 0000000000000000")
    );

    let bytes = same_pair(&response!(PutContractResponse, 0xAA, Err("e".into()), b""));
    assert_eq!(
        bytes,
        about(3, 0xAA, "01000000 0100000000000000 65 0000000000000000")
    );
}

/// Every outbound variant (all UpdateData variants in update requests),
/// stdlib's and ours: 0.6.0's eight and the version's own.
fn outbound() -> Vec<(fs::OutboundDelegateMsg, wire::OutboundDelegateMsg)> {
    use fs::OutboundDelegateMsg as T;
    use wire::OutboundDelegateMsg as O;
    let notification = fs::serde_json::json!({"title": "Sign?", "n": 1});
    let notification_bytes = fs::serde_json::to_vec(&notification).unwrap();
    let (their_container, our_container) = container();
    let mut messages = vec![
        (
            T::ApplicationMessage(
                fs::ApplicationMessage::new(b"out".to_vec())
                    .with_context(ctx(b"x"))
                    .processed(true),
            ),
            O::ApplicationMessage(wire::ApplicationMessage {
                payload: b"out".to_vec(),
                context: b"x".to_vec(),
                processed: true,
            }),
        ),
        (
            T::RequestUserInput(fs::UserInputRequest {
                request_id: 42,
                message: fs::NotificationMessage::try_from(&notification).unwrap(),
                responses: vec![
                    fs::ClientResponse::new(b"yes".to_vec()),
                    fs::ClientResponse::new(vec![]),
                    fs::ClientResponse::new(b"no".to_vec()),
                ],
            }),
            O::RequestUserInput(wire::UserInputRequest {
                request_id: 42,
                message: notification_bytes,
                responses: vec![b"yes".to_vec(), vec![], b"no".to_vec()],
            }),
        ),
        (
            T::RequestUserInput(fs::UserInputRequest {
                request_id: 0,
                message: fs::NotificationMessage::try_from(&fs::serde_json::Value::Null).unwrap(),
                responses: vec![],
            }),
            O::RequestUserInput(wire::UserInputRequest {
                request_id: 0,
                message: b"null".to_vec(),
                responses: vec![],
            }),
        ),
        (
            T::ContextUpdated(ctx(&[1, 2, 3])),
            O::ContextUpdated(vec![1, 2, 3]),
        ),
        (T::ContextUpdated(ctx(&[])), O::ContextUpdated(vec![])),
        request!(GetContractRequest, 0x21),
        request!(GetContractRequest, 0x22, b"get", true),
        (
            T::PutContractRequest(fs::PutContractRequest::new(
                their_container.clone(),
                fs::WrappedState::new(vec![0x55; 3]),
                fs::RelatedContracts::new(),
            )),
            O::PutContractRequest(wire::PutContractRequest {
                contract: our_container.clone(),
                state: vec![0x55; 3],
                related_contracts: vec![],
                context: vec![],
                processed: false,
            }),
        ),
        (
            T::PutContractRequest({
                let related: HashMap<_, _> =
                    [(id(0x31), Some(fs::State::from(vec![0x32, 0x33])))].into();
                let mut put = fs::PutContractRequest::new(
                    their_container,
                    fs::WrappedState::new(vec![]),
                    fs::RelatedContracts::from(related),
                );
                put.context = ctx(b"put");
                put.processed = true;
                put
            }),
            O::PutContractRequest(wire::PutContractRequest {
                contract: our_container,
                state: vec![],
                related_contracts: vec![([0x31; 32], Some(vec![0x32, 0x33]))],
                context: b"put".to_vec(),
                processed: true,
            }),
        ),
        request!(SubscribeContractRequest, 0x41),
        request!(SubscribeContractRequest, 0x42, b"sub", true),
        (
            T::SendDelegateMessage(fs::DelegateMessage::new(
                their_key(0x51, 0x52),
                their_key(0x53, 0x54),
                b"to you".to_vec(),
            )),
            O::SendDelegateMessage(wire::DelegateMessage {
                target: our_key(0x51, 0x52),
                sender: our_key(0x53, 0x54),
                payload: b"to you".to_vec(),
                context: vec![],
                processed: false,
            }),
        ),
    ];
    messages.extend(extra_outbound());
    for (i, (theirs, ours, _)) in update_data().into_iter().enumerate() {
        let mut request = fs::UpdateContractRequest::new(id(0x60 + i as u8), theirs);
        request.context = ctx(&vec![i as u8; i]);
        request.processed = i % 2 == 1;
        messages.push((
            T::UpdateContractRequest(request),
            O::UpdateContractRequest(wire::UpdateContractRequest {
                contract_id: [0x60 + i as u8; 32],
                update: ours,
                context: vec![i as u8; i],
                processed: i % 2 == 1,
            }),
        ));
    }
    messages
}

fn outbound_tag(message: &wire::OutboundDelegateMsg) -> u32 {
    use wire::OutboundDelegateMsg as O;
    match message {
        O::ApplicationMessage(_) => 0,
        O::RequestUserInput(_) => 1,
        O::ContextUpdated(_) => 2,
        O::GetContractRequest(_) => 3,
        O::PutContractRequest(_) => 4,
        O::UpdateContractRequest(_) => 5,
        O::SubscribeContractRequest(_) => 6,
        O::SendDelegateMessage(_) => 7,
        O::UnsubscribeContractRequest(_) => 8,
    }
}

#[test]
fn outbound_delegate_msg_every_variant() {
    let check =
        |theirs: &fs::OutboundDelegateMsg, ours: &wire::OutboundDelegateMsg, _, bytes: &[u8]| {
            let back: fs::OutboundDelegateMsg = stdlib_reads(bytes);
            assert_eq!(back.processed(), theirs.processed(), "{ours:?}");
            assert_eq!(
                back.get_context().map(|c| c.as_ref().to_vec()),
                theirs.get_context().map(|c| c.as_ref().to_vec())
            );
        };
    every_variant(
        "outbound",
        outbound(),
        OUTBOUND_VARIANTS,
        outbound_tag,
        check,
    );
}

#[test]
fn outbound_read_back_by_stdlib_field_by_field() {
    use wire::OutboundDelegateMsg as O;
    let ours = O::SendDelegateMessage(wire::DelegateMessage {
        target: our_key(1, 2),
        sender: our_key(3, 4),
        payload: vec![5],
        context: vec![6, 7],
        processed: true,
    });
    let bytes = wire::encode(&ours).unwrap();
    let fs::OutboundDelegateMsg::SendDelegateMessage(m) = stdlib_reads(&bytes) else {
        panic!("not a SendDelegateMessage")
    };
    assert_eq!(m.target, their_key(1, 2));
    assert_eq!(m.sender, their_key(3, 4));
    assert_eq!(m.payload, vec![5]);
    assert_eq!(m.context, ctx(&[6, 7]));
    assert!(m.processed);

    let ours = O::UpdateContractRequest(wire::UpdateContractRequest {
        contract_id: [9; 32],
        update: wire::UpdateData::RelatedStateAndDelta {
            related_to: [8; 32],
            state: vec![7],
            delta: vec![6],
        },
        context: vec![5],
        processed: false,
    });
    let bytes = wire::encode(&ours).unwrap();
    let fs::OutboundDelegateMsg::UpdateContractRequest(r) = stdlib_reads(&bytes) else {
        panic!("not an UpdateContractRequest")
    };
    assert_eq!(r.contract_id, id(9));
    assert_eq!(
        r.update,
        fs::UpdateData::RelatedStateAndDelta {
            related_to: id(8),
            state: fs::State::from(vec![7]),
            delta: fs::StateDelta::from(vec![6]),
        }
    );
    assert_eq!(r.context, ctx(&[5]));
    assert!(!r.processed);

    let (_, our_container) = container();
    let ours = O::PutContractRequest(wire::PutContractRequest {
        contract: our_container,
        state: vec![1, 2],
        related_contracts: vec![([3; 32], None), ([4; 32], Some(vec![5]))],
        context: vec![],
        processed: false,
    });
    let bytes = wire::encode(&ours).unwrap();
    // Two related contracts: stdlib's HashMap re-encodes them in its own
    // order, so only the values are compared.
    let fs::OutboundDelegateMsg::PutContractRequest(p) = bincode::deserialize(&bytes).unwrap()
    else {
        panic!("not a PutContractRequest")
    };
    assert_eq!(**p.contract.key().id(), key(KEY_HEX));
    assert_eq!(**p.contract.key().code_hash(), key(CODE_HASH_HEX));
    let fs::ContractContainer::Wasm(fs::ContractWasmAPIVersion::V1(wrapped)) = &p.contract else {
        unreachable!()
    };
    assert_eq!(wrapped.code().data(), CODE);
    assert_eq!(wrapped.params().as_ref(), PARAMS);
    assert_eq!(p.state.as_ref(), [1, 2]);
    let related: BTreeMap<_, _> = p
        .related_contracts
        .states()
        .map(|(k, v)| (**k, v.clone().map(fs::State::into_bytes)))
        .collect();
    assert_eq!(
        related,
        BTreeMap::from([([3; 32], None), ([4; 32], Some(vec![5]))])
    );

    let ours = O::RequestUserInput(wire::UserInputRequest {
        request_id: 3,
        message: b"{}".to_vec(),
        responses: vec![b"a".to_vec(), b"bc".to_vec()],
    });
    let bytes = wire::encode(&ours).unwrap();
    let fs::OutboundDelegateMsg::RequestUserInput(u) = stdlib_reads(&bytes) else {
        panic!("not a RequestUserInput")
    };
    assert_eq!(u.request_id, 3);
    assert_eq!(u.message.bytes(), b"{}");
    let responses: Vec<&[u8]> = u.responses.iter().map(|r| r.bytes()).collect();
    assert_eq!(responses, [&b"a"[..], b"bc"]);
}

#[test]
fn outbound_layouts_from_the_notes() {
    let bytes = same(
        &fs::OutboundDelegateMsg::ContextUpdated(ctx(&[1])),
        &wire::OutboundDelegateMsg::ContextUpdated(vec![1]),
    );
    assert_eq!(bytes, hex("02000000 0100000000000000 01"));

    let bytes = same_pair(&request!(GetContractRequest, 0xAA));
    assert_eq!(bytes, about(3, 0xAA, "0000000000000000 00"));

    let bytes = same(
        &fs::OutboundDelegateMsg::UpdateContractRequest(fs::UpdateContractRequest::new(
            id(0xAA),
            fs::UpdateData::Delta(fs::StateDelta::from(vec![4])),
        )),
        &wire::OutboundDelegateMsg::UpdateContractRequest(wire::UpdateContractRequest {
            contract_id: [0xAA; 32],
            update: wire::UpdateData::Delta(vec![4]),
            context: vec![],
            processed: false,
        }),
    );
    assert_eq!(
        bytes,
        about(5, 0xAA, "01000000 0100000000000000 04 0000000000000000 00")
    );
}

#[test]
fn user_input_request_notification_and_client_response() {
    let json = fs::serde_json::json!(["a", {"b": true}]);
    let theirs = fs::UserInputRequest {
        request_id: u32::MAX,
        message: fs::NotificationMessage::try_from(&json).unwrap(),
        responses: vec![fs::ClientResponse::new(vec![0, 255])],
    };
    let ours = wire::UserInputRequest {
        request_id: u32::MAX,
        message: fs::serde_json::to_vec(&json).unwrap(),
        responses: vec![vec![0, 255]],
    };
    let bytes = same(&theirs, &ours);
    assert_eq!(bytes[..4], [0xFF; 4]);
    let back: fs::UserInputRequest = stdlib_reads(&bytes);
    assert_eq!(back.message.bytes(), ours.message);

    // NotificationMessage and ClientResponse are plain byte strings.
    let bytes = bincode::serialize(&theirs.message).unwrap();
    assert_eq!(wire::decode::<Vec<u8>>(&bytes).unwrap(), ours.message);
    same(&fs::ClientResponse::new(vec![7, 8]), &vec![7u8, 8]);
    same(&ctx(b"context"), &b"context".to_vec());
    same(&fs::WrappedState::new(vec![1]), &vec![1u8]);
    same(&fs::Parameters::from(vec![2]), &vec![2u8]);

    let response = fs::UserInputResponse {
        request_id: 1,
        response: fs::ClientResponse::new(b"ok".to_vec()),
        context: ctx(b"z"),
    };
    same(
        &response,
        &wire::UserInputResponse {
            request_id: 1,
            response: b"ok".to_vec(),
            context: b"z".to_vec(),
        },
    );
}

#[test]
fn delegate_results_ok_and_err() {
    // Ok with every outbound message at once.
    let (theirs, ours): (Vec<_>, Vec<_>) = outbound().into_iter().unzip();
    let count = ours.len() as u64;
    let theirs: Result<Vec<fs::OutboundDelegateMsg>, fs::DelegateError> = Ok(theirs);
    let ours: Result<Vec<wire::OutboundDelegateMsg>, wire::DelegateError> = Ok(ours);
    let bytes = same(&theirs, &ours);
    assert_eq!(bytes[..4], [0; 4]);
    assert_eq!(bytes[4..12], count.to_le_bytes());
    let back: Result<Vec<fs::OutboundDelegateMsg>, fs::DelegateError> = stdlib_reads(&bytes);
    assert_eq!(back.unwrap().len() as u64, count);

    let empty: Result<Vec<fs::OutboundDelegateMsg>, fs::DelegateError> = Ok(vec![]);
    let bytes = same(
        &empty,
        &Ok::<Vec<wire::OutboundDelegateMsg>, wire::DelegateError>(vec![]),
    );
    assert_eq!(bytes, hex("00000000 0000000000000000"));

    for (theirs, ours) in [
        (
            fs::DelegateError::Other("x".into()),
            wire::DelegateError::Other("x".into()),
        ),
        (
            fs::DelegateError::Deser("inbound: invalid".into()),
            wire::DelegateError::Deser("inbound: invalid".into()),
        ),
    ] {
        let theirs: Result<Vec<fs::OutboundDelegateMsg>, fs::DelegateError> = Err(theirs);
        let ours: Result<Vec<wire::OutboundDelegateMsg>, wire::DelegateError> = Err(ours);
        let bytes = same(&theirs, &ours);
        assert_eq!(bytes[..4], [1, 0, 0, 0]);
        let back: Result<Vec<fs::OutboundDelegateMsg>, fs::DelegateError> = stdlib_reads(&bytes);
        assert!(back.is_err());
    }
    let bytes = same(
        &Err::<Vec<fs::OutboundDelegateMsg>, _>(fs::DelegateError::Other("x".into())),
        &Err::<Vec<wire::OutboundDelegateMsg>, _>(wire::DelegateError::Other("x".into())),
    );
    assert_eq!(bytes, hex("01000000 01000000 0100000000000000 78"));
}

#[test]
fn malformed_bytes_are_refused_like_stdlib_refuses_them() {
    // A bool other than 0/1, an Option tag other than 0/1, an unknown
    // variant, invalid UTF-8, a truncated message: stdlib refuses each, so
    // do we.
    let app = wire::encode(&wire::InboundDelegateMsg::ApplicationMessage(
        wire::ApplicationMessage {
            payload: vec![1],
            context: vec![],
            processed: true,
        },
    ))
    .unwrap();
    let mut bad_bool = app.clone();
    *bad_bool.last_mut().unwrap() = 2;
    let mut bad_tag = app.clone();
    // The first tag past this freenet-stdlib's last inbound variant.
    bad_tag[0] = INBOUND_VARIANTS as u8;
    let truncated = app[..app.len() - 1].to_vec();
    for bytes in [bad_bool, bad_tag, truncated] {
        both_refuse::<fs::InboundDelegateMsg, wire::InboundDelegateMsg>(&bytes);
    }

    let mut bad_option = wire::encode(&wire::UpdateModification {
        new_state: None,
        related: vec![],
    })
    .unwrap();
    bad_option[0] = 2;
    both_refuse::<fs::UpdateModification, wire::UpdateModification>(&bad_option);

    let bad_utf8 = hex("05000000 0100000000000000 ff");
    both_refuse::<fs::ContractError, wire::ContractError>(&bad_utf8);
    // A response's error text is a String too.
    let mut bad_response = about(3, 0xAA, "01000000 0100000000000000 ff 0000000000000000");
    both_refuse::<fs::InboundDelegateMsg, wire::InboundDelegateMsg>(&bad_response);
    bad_response[48] = b'e';
    both_take::<fs::InboundDelegateMsg, wire::InboundDelegateMsg>(&bad_response);

    let bad_result = hex("02000000 00000000");
    both_refuse::<
        Result<Vec<fs::OutboundDelegateMsg>, fs::DelegateError>,
        Result<Vec<wire::OutboundDelegateMsg>, wire::DelegateError>,
    >(&bad_result);
}
