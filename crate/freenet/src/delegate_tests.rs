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
    routed_as(Abi::V0_2_48, outbound, context).unwrap()
}

/// [`routed`] under `abi`, which may refuse the list.
fn routed_as(
    abi: Abi,
    outbound: Vec<Out>,
    context: &[u8],
) -> Result<(Vec<u8>, Vec<Out>), WasmError> {
    let mut context = context.to_vec();
    let mut results = Vec::new();
    route(outbound, &KEY, abi, &mut context, &mut results)?;
    Ok((context, results))
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

// ---------------------------------------------------------------------------
// freenet-core 0.2.154's outbound rules
// ---------------------------------------------------------------------------

fn unsubscribe(processed: bool) -> Out {
    Out::UnsubscribeContractRequest(ContractRequest {
        contract_id: [7; 32],
        context: b"u".to_vec(),
        processed,
    })
}

#[test]
fn every_drain_attests_unprocessed_delegate_messages_under_0_2_154_only() {
    for first in [
        app(b"a", b"x"),
        user_input(),
        get(b"g", false),
        subscribe(b"s", false),
    ] {
        let outbound = vec![
            first.clone(),
            send(FORGED, b"1", false),
            send(FORGED, b"2", true),
        ];
        let (_, today) = routed_as(Abi::V0_2_154, outbound.clone(), b"").unwrap();
        let (_, before) = routed(outbound, b"");
        let senders = |results: &[Out]| -> Vec<DelegateKey> {
            results
                .iter()
                .filter_map(|m| match m {
                    Out::SendDelegateMessage(m) => Some(m.sender),
                    _ => None,
                })
                .collect()
        };
        // The unprocessed one is attested; a processed one in the drain
        // passes as it is, under both.
        assert_eq!(senders(&today), vec![KEY, FORGED], "behind {first:?}");
        assert_eq!(senders(&before), vec![FORGED, FORGED], "behind {first:?}");
    }
}

#[test]
fn only_the_first_application_message_loses_its_context_under_both() {
    for abi in Abi::ALL {
        let (_, results) = routed_as(abi, vec![app(b"a", b"x"), app(b"b", b"y")], b"").unwrap();
        assert_eq!(results, vec![app(b"a", b""), app(b"b", b"y")], "{abi:?}");
    }
}

#[test]
fn an_unsubscribe_request_fails_the_call_under_0_2_154() {
    for processed in [false, true] {
        let err = routed_as(Abi::V0_2_154, vec![unsubscribe(processed)], b"").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Contract);
        let failure = err.contract_failure().unwrap();
        assert_eq!(failure.kind, "unexpectedMessage");
        assert!(
            err.message()
                .contains("Received an unexpected message from the client apps"),
            "{}",
            err.message()
        );
    }
    // Drained behind a first message, it reaches the results; `run` then
    // fails the call (without the prefix), as the node's executor does.
    let (_, results) =
        routed_as(Abi::V0_2_154, vec![app(b"a", b""), unsubscribe(false)], b"").unwrap();
    assert_eq!(results[1], unsubscribe(false));
}

// ---------------------------------------------------------------------------
// Listing secrets
// ---------------------------------------------------------------------------

fn secret_list(store: &MemoryStore, delegate: &DelegateKey, prefix: &[u8]) -> Vec<Vec<u8>> {
    match answer(
        store,
        Request::SecretList {
            delegate: *delegate,
            prefix: prefix.to_vec(),
        },
    ) {
        Answer::Keys(keys) => keys,
        other => panic!("a list answered {other:?}"),
    }
}

#[test]
fn secrets_list_by_prefix_in_first_set_order_per_delegate() {
    let store = MemoryStore::default();
    for key in [&b"b/2"[..], b"a/1", b"b/1", b"c"] {
        secret_set(&store, &KEY, key, b"v");
    }
    secret_set(&store, &OTHER, b"b/9", b"v");
    // Setting again keeps the first place; removing and setting moves it.
    secret_set(&store, &KEY, b"b/2", b"w");
    secret_remove(&store, &KEY, b"a/1");
    secret_set(&store, &KEY, b"a/1", b"v");
    assert_eq!(
        secret_list(&store, &KEY, b""),
        vec![
            b"b/2".to_vec(),
            b"b/1".to_vec(),
            b"c".to_vec(),
            b"a/1".to_vec()
        ]
    );
    assert_eq!(
        secret_list(&store, &KEY, b"b/"),
        vec![b"b/2".to_vec(), b"b/1".to_vec()]
    );
    assert_eq!(secret_list(&store, &OTHER, b""), vec![b"b/9".to_vec()]);
    assert!(secret_list(&store, &KEY, b"zz").is_empty());
}

// ---------------------------------------------------------------------------
// Contexts between calls
// ---------------------------------------------------------------------------

#[test]
fn contexts_keep_per_delegate_and_user_and_empty_or_huge_ones_delete() {
    use crate::contexts::Contexts;
    let contexts = Contexts::new(std::time::Duration::from_secs(600));
    assert!(contexts.begin(&KEY, None).is_empty());
    contexts.store(&KEY, None, b"one".to_vec()).unwrap();
    contexts
        .store(&KEY, Some(b"alice"), b"two".to_vec())
        .unwrap();
    contexts.store(&OTHER, None, b"three".to_vec()).unwrap();
    assert_eq!(contexts.begin(&KEY, None), b"one");
    assert_eq!(contexts.begin(&KEY, Some(b"alice")), b"two");
    assert!(contexts.begin(&KEY, Some(b"bob")).is_empty());
    contexts.store(&KEY, None, Vec::new()).unwrap();
    assert!(contexts.begin(&KEY, None).is_empty());
    assert_eq!(contexts.len(), 2);
    assert_eq!(
        contexts.store(&KEY, Some(b"alice"), vec![0; MAX_CONTEXT_BYTES]),
        Err(MAX_CONTEXT_BYTES)
    );
    assert!(contexts.begin(&KEY, Some(b"alice")).is_empty());
    contexts
        .store(&KEY, None, vec![0; MAX_CONTEXT_BYTES - 1])
        .unwrap();
    assert_eq!(contexts.clear(Some(&KEY)), 1);
    assert_eq!(contexts.clear(None), 1);
    assert!(contexts.is_empty());
}

#[test]
fn contexts_expire_after_their_time_to_live() {
    use crate::contexts::Contexts;
    let contexts = Contexts::new(std::time::Duration::from_millis(50));
    contexts.store(&KEY, None, b"soon gone".to_vec()).unwrap();
    assert_eq!(contexts.begin(&KEY, None), b"soon gone");
    std::thread::sleep(std::time::Duration::from_millis(80));
    assert!(contexts.begin(&KEY, None).is_empty());
    assert!(contexts.is_empty());
}

#[test]
fn contexts_over_the_budget_lose_the_oldest_writes() {
    use crate::contexts::{BUDGET_BYTES, Contexts, ENTRY_OVERHEAD_BYTES};
    let contexts = Contexts::new(std::time::Duration::from_secs(600));
    let size = MAX_CONTEXT_BYTES - 1;
    let fits = BUDGET_BYTES / (size + ENTRY_OVERHEAD_BYTES);
    let owner = |i: usize| DelegateKey {
        key: [(i % 256) as u8; 32],
        code_hash: [(i / 256) as u8; 32],
    };
    for i in 0..=fits {
        contexts.store(&owner(i), None, vec![1; size]).unwrap();
    }
    // One past the budget: down to seven eighths, oldest first.
    assert!(contexts.len() < fits);
    assert!(contexts.begin(&owner(0), None).is_empty());
    assert_eq!(contexts.begin(&owner(fits), None).len(), size);
}
