//! Unit tests of `freenet::delegate`: freenet-core 0.2.48's outbound rules
//! (`process_outbound`) and the in-memory secrets delegates keep.

use super::*;
use crate::hooks::{Answer, MemoryStore, Request, Store};
use crate::wire::{
    ApplicationMessage, ContractContainer, ContractKey, ContractRequest, ContractWasmApi,
    DelegateMessage, PutContractRequest, UpdateContractRequest, UpdateData, UserInputRequest,
    WrappedContract,
};
use wasm_engine_core::Site;

use OutboundDelegateMsg as Out;

/// The running delegate's key.
const KEY: DelegateKey = DelegateKey {
    key: [0xAA; 32],
    code_hash: [0xBB; 32],
};

/// A key the guest may claim to be.
const FORGED: DelegateKey = DelegateKey {
    key: [0x01; 32],
    code_hash: [0x02; 32],
};

const OTHER: DelegateKey = DelegateKey {
    key: [0x03; 32],
    code_hash: [0x04; 32],
};

fn app(payload: &[u8], context: &[u8]) -> Out {
    Out::ApplicationMessage(ApplicationMessage {
        payload: payload.to_vec(),
        context: context.to_vec(),
        processed: true,
    })
}

fn get(context: &[u8], processed: bool) -> Out {
    Out::GetContractRequest(ContractRequest {
        contract_id: [1; 32],
        context: context.to_vec(),
        processed,
    })
}

fn subscribe(context: &[u8], processed: bool) -> Out {
    Out::SubscribeContractRequest(ContractRequest {
        contract_id: [2; 32],
        context: context.to_vec(),
        processed,
    })
}

fn put(context: &[u8], processed: bool) -> Out {
    Out::PutContractRequest(PutContractRequest {
        contract: ContractContainer::Wasm(ContractWasmApi::V1(WrappedContract {
            code: vec![1, 2, 3],
            code_hash: [3; 32],
            parameters: vec![],
            key: ContractKey {
                instance: [4; 32],
                code_hash: [3; 32],
            },
        })),
        state: vec![5],
        related_contracts: vec![],
        context: context.to_vec(),
        processed,
    })
}

fn update(context: &[u8], processed: bool) -> Out {
    Out::UpdateContractRequest(UpdateContractRequest {
        contract_id: [6; 32],
        update: UpdateData::Delta(vec![7]),
        context: context.to_vec(),
        processed,
    })
}

fn send(sender: DelegateKey, context: &[u8], processed: bool) -> Out {
    Out::SendDelegateMessage(DelegateMessage {
        target: OTHER,
        sender,
        payload: b"hi".to_vec(),
        context: context.to_vec(),
        processed,
    })
}

fn user_input() -> Out {
    Out::RequestUserInput(UserInputRequest {
        request_id: 9,
        message: b"sure?".to_vec(),
        responses: vec![b"yes".to_vec()],
    })
}

/// `route` over `outbound`, starting from the running context `context`:
/// the context after, and the messages for the caller.
fn routed(outbound: Vec<Out>, context: &[u8]) -> (Vec<u8>, Vec<Out>) {
    let mut context = context.to_vec();
    let mut results = Vec::new();
    route(outbound, &KEY, &mut context, &mut results);
    (context, results)
}

// ---------------------------------------------------------------------------
// The running context
// ---------------------------------------------------------------------------

#[test]
fn nothing_out_changes_nothing() {
    assert_eq!(routed(vec![], b"ctx"), (b"ctx".to_vec(), vec![]));
}

#[test]
fn context_updated_replaces_the_context_and_is_not_returned() {
    assert_eq!(
        routed(vec![Out::ContextUpdated(b"new".to_vec())], b"old"),
        (b"new".to_vec(), vec![])
    );
    // The last one wins; an empty one clears.
    assert_eq!(
        routed(
            vec![
                Out::ContextUpdated(b"one".to_vec()),
                Out::ContextUpdated(b"two".to_vec()),
            ],
            b""
        ),
        (b"two".to_vec(), vec![])
    );
    assert_eq!(
        routed(vec![Out::ContextUpdated(vec![])], b"old"),
        (vec![], vec![])
    );
}

#[test]
fn processed_requests_move_their_context_and_are_not_returned() {
    for request in [
        get(b"from get", true),
        subscribe(b"from subscribe", true),
        put(b"from put", true),
        update(b"from update", true),
        send(FORGED, b"from send", true),
    ] {
        let expected = match &request {
            Out::GetContractRequest(r) | Out::SubscribeContractRequest(r) => r.context.clone(),
            Out::PutContractRequest(r) => r.context.clone(),
            Out::UpdateContractRequest(r) => r.context.clone(),
            Out::SendDelegateMessage(m) => m.context.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            routed(vec![request.clone()], b"old"),
            (expected, vec![]),
            "{request:?}"
        );
    }
    // In sequence, each replaces the last.
    assert_eq!(
        routed(
            vec![
                get(b"1", true),
                Out::ContextUpdated(b"2".to_vec()),
                update(b"3", true),
            ],
            b"0"
        ),
        (b"3".to_vec(), vec![])
    );
}

// ---------------------------------------------------------------------------
// The first message for the outside world
// ---------------------------------------------------------------------------

#[test]
fn first_application_message_loses_its_context_and_stops_interpretation() {
    let (context, results) = routed(
        vec![
            Out::ContextUpdated(b"before".to_vec()),
            app(b"first", b"guest's context"),
            Out::ContextUpdated(b"after".to_vec()),
            app(b"second", b"kept"),
            get(b"processed get", true),
            send(FORGED, b"", false),
        ],
        b"old",
    );
    assert_eq!(context, b"before", "nothing after the first one is applied");
    assert_eq!(
        results,
        vec![
            app(b"first", b""),
            Out::ContextUpdated(b"after".to_vec()),
            app(b"second", b"kept"),
            get(b"processed get", true),
            // Not attested: an application message came first.
            send(FORGED, b"", false),
        ]
    );
}

#[test]
fn an_unprocessed_request_or_user_input_stops_interpretation() {
    for first in [
        get(b"g", false),
        subscribe(b"s", false),
        put(b"p", false),
        update(b"u", false),
        user_input(),
    ] {
        let (context, results) = routed(
            vec![
                first.clone(),
                Out::ContextUpdated(b"ignored".to_vec()),
                app(b"later", b"its own"),
                update(b"processed", true),
                send(FORGED, b"", false),
            ],
            b"old",
        );
        assert_eq!(context, b"old", "after {first:?}");
        assert_eq!(
            results,
            vec![
                // Pushed verbatim, context included.
                first.clone(),
                Out::ContextUpdated(b"ignored".to_vec()),
                // Not the first: keeps its context.
                app(b"later", b"its own"),
                update(b"processed", true),
                // Not attested: only a delegate message first attests the rest.
                send(FORGED, b"", false),
            ],
            "after {first:?}"
        );
    }
}

#[test]
fn the_context_before_the_first_outside_message_is_kept() {
    let (context, results) = routed(
        vec![
            Out::ContextUpdated(b"a".to_vec()),
            put(b"b", true),
            get(b"request's own", false),
        ],
        b"",
    );
    assert_eq!(context, b"b");
    assert_eq!(results, vec![get(b"request's own", false)]);
}

// ---------------------------------------------------------------------------
// Sender attestation
// ---------------------------------------------------------------------------

#[test]
fn a_first_unprocessed_delegate_message_is_attested_and_so_are_the_rest() {
    let (context, results) = routed(
        vec![
            Out::ContextUpdated(b"set".to_vec()),
            send(FORGED, b"first's", false),
            Out::ContextUpdated(b"ignored".to_vec()),
            send(FORGED, b"second's", false),
            send(FORGED, b"processed", true),
            app(b"app", b"kept"),
            send(OTHER, b"", false),
        ],
        b"old",
    );
    assert_eq!(
        context, b"set",
        "the first delegate message stops interpretation"
    );
    assert_eq!(
        results,
        vec![
            send(KEY, b"first's", false),
            Out::ContextUpdated(b"ignored".to_vec()),
            send(KEY, b"second's", false),
            // Processed ones in the remainder keep whatever they say.
            send(FORGED, b"processed", true),
            // An application message in the remainder is not emptied.
            app(b"app", b"kept"),
            send(KEY, b"", false),
        ]
    );
}

#[test]
fn context_limit_is_stdlibs() {
    assert_eq!(MAX_CONTEXT_BYTES, 409_600);
}

// ---------------------------------------------------------------------------
// MemoryStore's secrets
// ---------------------------------------------------------------------------

/// `store`'s answer to `request`, which memory gives in place wherever
/// the guest runs.
fn answer(store: &MemoryStore, request: Request) -> Answer {
    let here = store.answer_here(Site::Direct, &request);
    assert_eq!(
        store.answer_here(Site::Worker, &request).is_some(),
        here.is_some(),
        "memory answers in place on any thread"
    );
    here.expect("memory answers in place").unwrap()
}

fn secret_get(store: &MemoryStore, delegate: &DelegateKey, key: &[u8]) -> Option<Vec<u8>> {
    let request = Request::SecretGet {
        delegate: *delegate,
        key: key.to_vec(),
    };
    match answer(store, request) {
        Answer::Found(value) => value,
        other => panic!("a get answered {other:?}"),
    }
}

fn secret_has(store: &MemoryStore, delegate: &DelegateKey, key: &[u8]) -> bool {
    let request = Request::SecretHas {
        delegate: *delegate,
        key: key.to_vec(),
    };
    match answer(store, request) {
        Answer::Done => true,
        Answer::Refused => false,
        other => panic!("a has answered {other:?}"),
    }
}

fn secret_set(store: &MemoryStore, delegate: &DelegateKey, key: &[u8], value: &[u8]) {
    let request = Request::SecretSet {
        delegate: *delegate,
        key: key.to_vec(),
        value: value.to_vec(),
    };
    assert_eq!(answer(store, request), Answer::Done);
}

fn secret_remove(store: &MemoryStore, delegate: &DelegateKey, key: &[u8]) -> Answer {
    let request = Request::SecretRemove {
        delegate: *delegate,
        key: key.to_vec(),
    };
    answer(store, request)
}

#[test]
fn secrets_are_scoped_by_delegate_key() {
    let secrets = MemoryStore::default();
    secret_set(&secrets, &KEY, b"k", b"mine");
    secret_set(&secrets, &OTHER, b"k", b"theirs");
    assert_eq!(secret_get(&secrets, &KEY, b"k"), Some(b"mine".to_vec()));
    assert_eq!(secret_get(&secrets, &OTHER, b"k"), Some(b"theirs".to_vec()));
    // Same key, other code hash: another delegate.
    let same_key_other_code = DelegateKey {
        key: KEY.key,
        code_hash: [0; 32],
    };
    // Same code hash, other key (other parameters): another delegate.
    let same_code_other_key = DelegateKey {
        key: [0; 32],
        code_hash: KEY.code_hash,
    };
    for stranger in [same_key_other_code, same_code_other_key, FORGED] {
        assert_eq!(secret_get(&secrets, &stranger, b"k"), None, "{stranger:?}");
        assert!(!secret_has(&secrets, &stranger, b"k"), "{stranger:?}");
    }
    assert!(secret_has(&secrets, &KEY, b"k"));

    assert_eq!(secret_remove(&secrets, &KEY, b"k"), Answer::Done);
    assert_eq!(secret_get(&secrets, &KEY, b"k"), None);
    assert!(!secret_has(&secrets, &KEY, b"k"));
    assert_eq!(
        secret_get(&secrets, &OTHER, b"k"),
        Some(b"theirs".to_vec()),
        "removing one delegate's secret leaves another's"
    );
}

#[test]
fn secrets_overwrite_and_empty_values_and_keys() {
    let secrets = MemoryStore::default();
    assert_eq!(secret_get(&secrets, &KEY, b"k"), None);
    secret_set(&secrets, &KEY, b"k", b"one");
    secret_set(&secrets, &KEY, b"k", b"two");
    assert_eq!(secret_get(&secrets, &KEY, b"k"), Some(b"two".to_vec()));
    secret_set(&secrets, &KEY, b"", b"");
    assert_eq!(secret_get(&secrets, &KEY, b""), Some(vec![]));
    assert!(secret_has(&secrets, &KEY, b""), "an empty secret exists");
    assert_eq!(secret_get(&secrets, &KEY, b"k"), Some(b"two".to_vec()));
}

#[test]
fn removing_a_missing_secret_succeeds() {
    let secrets = MemoryStore::default();
    assert_eq!(secret_remove(&secrets, &KEY, b"never set"), Answer::Done);
    secret_set(&secrets, &KEY, b"k", b"v");
    assert_eq!(secret_remove(&secrets, &KEY, b"k"), Answer::Done);
    assert_eq!(secret_remove(&secrets, &KEY, b"k"), Answer::Done);
    assert_eq!(secret_get(&secrets, &KEY, b"k"), None);
}
