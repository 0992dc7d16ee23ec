//! `freenet::Runtime` end to end, on this thread (`Site::Direct`), with the
//! C test guests of `__test__/freenet/guests` (their behaviour is described
//! in the header comment of each `.c` file): contracts with streamed and
//! one-shot inputs, logs, the clock, delegates with their context, secrets
//! and contract imports, and guests that lie about their results.

use std::sync::Arc;

use chrono::{Datelike, Timelike};
use wasm_engine_core::{Engine, ErrorKind, RuntimeConfig, Site, WasmError};
use wasm_engine_freenet::hooks::MemoryStore;
use wasm_engine_freenet::wire::{
    self, ApplicationMessage, DelegateKey, InboundDelegateMsg, MessageOrigin, OutboundDelegateMsg,
    RelatedContract, RelatedMode, UpdateData, UpdateModification, ValidateResult,
};
use wasm_engine_freenet::{
    CallOptions, ContractAnswer, ContractCall, DelegateCall, Loaded, Outcome, Related, Runtime,
    Stores,
};

macro_rules! guest {
    ($name:literal) => {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../__test__/freenet/guests/build/",
            $name
        ))
        .unwrap()
    };
}

fn runtime() -> Runtime {
    let engine = Arc::new(
        Engine::new(
            &RuntimeConfig {
                compile_cache: Some(false),
                ..Default::default()
            },
            None,
            vec![],
            None,
        )
        .unwrap(),
    );
    Runtime::new(
        engine,
        Stores {
            secrets: Arc::new(MemoryStore::default()),
            contracts: Arc::new(MemoryStore::default()),
        },
    )
}

fn streaming_contract(runtime: &Runtime) -> Loaded {
    runtime
        .load(&guest!("log_contract_streaming.wasm"))
        .unwrap()
}

fn one_shot_contract(runtime: &Runtime) -> Loaded {
    runtime.load(&guest!("log_contract.wasm")).unwrap()
}

/// log_contract's parameters: the longest state it accepts.
fn max_len(n: usize) -> Vec<u8> {
    (n as u32).to_le_bytes().to_vec()
}

const KIB: usize = 1024;

/// A state that matches none of log_contract's magic prefixes, each byte
/// depending on its position, so a dropped or repeated chunk shows.
fn big_state(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7 + seed) % 251) as u8).collect()
}

fn call(
    runtime: &Runtime,
    contract: &Loaded,
    call: ContractCall,
) -> Result<ContractAnswer, WasmError> {
    runtime
        .call_contract(Site::Direct, contract, call, &CallOptions::default())
        .result
}

fn validate(
    runtime: &Runtime,
    contract: &Loaded,
    params: Vec<u8>,
    state: Vec<u8>,
) -> ContractAnswer {
    call(
        runtime,
        contract,
        ContractCall::Validate {
            parameters: params,
            state,
            related: vec![],
        },
    )
    .unwrap()
}

fn summarize(
    runtime: &Runtime,
    contract: &Loaded,
    state: Vec<u8>,
    options: &CallOptions,
) -> Vec<u8> {
    let outcome = runtime.call_contract(
        Site::Direct,
        contract,
        ContractCall::Summarize {
            parameters: max_len(1 << 20),
            state,
        },
        options,
    );
    match outcome.result.unwrap() {
        ContractAnswer::Summary(summary) => summary,
        other => panic!("not a summary: {other:?}"),
    }
}

/// The contract's failure: its `ContractError` variant name and reason.
fn contract_failure(result: Result<ContractAnswer, WasmError>) -> (&'static str, Option<String>) {
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Contract, "{}", err.message());
    let failure = err.contract_failure().unwrap();
    (failure.kind, failure.reason.clone())
}

// ---------------------------------------------------------------------------
// Contracts
// ---------------------------------------------------------------------------

#[test]
fn the_streaming_build_streams_and_the_other_does_not() {
    let runtime = runtime();
    assert!(streaming_contract(&runtime).streaming());
    assert!(!one_shot_contract(&runtime).streaming());
    assert!(!runtime.load(&guest!("delegate.wasm")).unwrap().streaming());
    assert!(!runtime.load(&guest!("liar.wasm")).unwrap().streaming());
}

#[test]
fn a_300_kib_state_arrives_whole_streamed_and_one_shot() {
    let runtime = runtime();
    let len = 300 * KIB;
    let state = big_state(len, 3);
    for contract in [streaming_contract(&runtime), one_shot_contract(&runtime)] {
        let which = if contract.streaming() {
            "streaming"
        } else {
            "one-shot"
        };

        // validate_state sees every byte's worth of length.
        assert_eq!(
            validate(&runtime, &contract, max_len(len), state.clone()),
            ContractAnswer::Validity(ValidateResult::Valid),
            "{which}"
        );
        assert_eq!(
            validate(&runtime, &contract, max_len(len - 1), state.clone()),
            ContractAnswer::Validity(ValidateResult::Invalid),
            "{which}"
        );

        // summarize_state: the length it read.
        assert_eq!(
            summarize(&runtime, &contract, state.clone(), &CallOptions::default()),
            (len as u64).to_le_bytes(),
            "{which}"
        );

        // get_state_delta: the bytes after the summary's count, well past
        // the first 64 KiB chunk.
        for from in [0, 65_532, 100_000, len - 1, len] {
            let answer = call(
                &runtime,
                &contract,
                ContractCall::Delta {
                    parameters: max_len(len),
                    state: state.clone(),
                    summary: (from as u64).to_le_bytes().to_vec(),
                },
            )
            .unwrap();
            assert_eq!(
                answer,
                ContractAnswer::Delta(state[from..].to_vec()),
                "{which} from {from}"
            );
        }

        // update_state with a streamed 100 KiB delta appended.
        let delta = big_state(100 * KIB, 11);
        let answer = call(
            &runtime,
            &contract,
            ContractCall::Update {
                parameters: max_len(len + delta.len()),
                state: state.clone(),
                updates: vec![UpdateData::Delta(delta.clone())],
            },
        )
        .unwrap();
        let mut expected = state.clone();
        expected.extend(&delta);
        assert_eq!(
            answer,
            ContractAnswer::Modification(UpdateModification {
                new_state: Some(expected),
                related: vec![],
            }),
            "{which}"
        );
        // One byte over max_len is refused.
        assert_eq!(
            contract_failure(call(
                &runtime,
                &contract,
                ContractCall::Update {
                    parameters: max_len(len + delta.len() - 1),
                    state: state.clone(),
                    updates: vec![UpdateData::Delta(delta)],
                },
            )),
            ("invalidUpdate", None),
            "{which}"
        );
    }
}

#[test]
fn empty_inputs() {
    let runtime = runtime();
    for contract in [streaming_contract(&runtime), one_shot_contract(&runtime)] {
        assert_eq!(
            validate(&runtime, &contract, max_len(0), vec![]),
            ContractAnswer::Validity(ValidateResult::Valid)
        );
        assert_eq!(
            summarize(&runtime, &contract, vec![], &CallOptions::default()),
            0u64.to_le_bytes()
        );
        assert_eq!(
            call(
                &runtime,
                &contract,
                ContractCall::Delta {
                    parameters: max_len(0),
                    state: vec![],
                    summary: 0u64.to_le_bytes().to_vec(),
                }
            )
            .unwrap(),
            ContractAnswer::Delta(vec![])
        );
    }
}

#[test]
fn every_update_data_variant_reaches_the_contract() {
    let runtime = runtime();
    let contract = streaming_contract(&runtime);
    let update = |state: &[u8], updates: Vec<UpdateData>| {
        call(
            &runtime,
            &contract,
            ContractCall::Update {
                parameters: max_len(1000),
                state: state.to_vec(),
                updates,
            },
        )
        .unwrap()
    };
    let new_state = |state: &[u8]| {
        ContractAnswer::Modification(UpdateModification {
            new_state: Some(state.to_vec()),
            related: vec![],
        })
    };
    assert_eq!(
        update(b"old", vec![UpdateData::State(b"new".to_vec())]),
        new_state(b"new")
    );
    assert_eq!(
        update(b"old", vec![UpdateData::Delta(b"+d".to_vec())]),
        new_state(b"old+d")
    );
    assert_eq!(
        update(
            b"old",
            vec![UpdateData::StateAndDelta {
                state: b"s".to_vec(),
                delta: b"d".to_vec(),
            }]
        ),
        new_state(b"sd")
    );
    assert_eq!(
        update(
            b"o",
            vec![
                UpdateData::RelatedState {
                    related_to: [1; 32],
                    state: b"RS".to_vec(),
                },
                UpdateData::RelatedDelta {
                    related_to: [2; 32],
                    delta: b"RD".to_vec(),
                },
                UpdateData::RelatedStateAndDelta {
                    related_to: [3; 32],
                    state: b"s".to_vec(),
                    delta: b"d".to_vec(),
                },
            ]
        ),
        new_state(b"oRSRDsd")
    );
    // No change: no new state.
    assert_eq!(
        update(b"same", vec![UpdateData::State(b"same".to_vec())]),
        ContractAnswer::Modification(UpdateModification {
            new_state: None,
            related: vec![],
        })
    );
}

#[test]
fn update_asks_for_related_contracts_in_both_modes() {
    let runtime = runtime();
    let contract = one_shot_contract(&runtime);
    let rel = |id: u8, mode: u8| {
        let mut delta = b"rel:".to_vec();
        delta.extend([id; 32]);
        delta.push(mode);
        UpdateData::Delta(delta)
    };
    let answer = call(
        &runtime,
        &contract,
        ContractCall::Update {
            parameters: max_len(100),
            state: b"s".to_vec(),
            updates: vec![rel(7, 0), rel(8, 1)],
        },
    )
    .unwrap();
    assert_eq!(
        answer,
        ContractAnswer::Modification(UpdateModification {
            new_state: None,
            related: vec![
                RelatedContract {
                    contract_instance_id: [7; 32],
                    mode: RelatedMode::StateOnce,
                },
                RelatedContract {
                    contract_instance_id: [8; 32],
                    mode: RelatedMode::StateThenSubscribe,
                },
            ],
        })
    );
}

#[test]
fn validate_sees_the_related_contracts_it_is_given() {
    let runtime = runtime();
    for contract in [streaming_contract(&runtime), one_shot_contract(&runtime)] {
        let need = |ids: &[u8], related: Vec<Related>| {
            let mut state = b"need:".to_vec();
            for id in ids {
                state.extend([*id; 32]);
            }
            match call(
                &runtime,
                &contract,
                ContractCall::Validate {
                    parameters: max_len(1000),
                    state,
                    related,
                },
            )
            .unwrap()
            {
                ContractAnswer::Validity(v) => v,
                other => panic!("{other:?}"),
            }
        };
        let related = || {
            vec![
                Related {
                    key: [1; 32],
                    state: Some(b"one".to_vec()),
                },
                Related {
                    key: [2; 32],
                    state: None,
                },
            ]
        };
        assert_eq!(
            need(&[1, 3, 4], related()),
            ValidateResult::RequestRelated(vec![[3; 32], [4; 32]])
        );
        assert_eq!(need(&[1], related()), ValidateResult::Valid);
        assert_eq!(need(&[1, 2], related()), ValidateResult::Invalid);
        assert_eq!(
            need(&[1], vec![]),
            ValidateResult::RequestRelated(vec![[1; 32]])
        );
    }
}

#[test]
fn every_contract_error_comes_back_as_a_contract_failure() {
    let runtime = runtime();
    let contract = streaming_contract(&runtime);
    let validate_err = |params: Vec<u8>, state: &[u8]| {
        contract_failure(call(
            &runtime,
            &contract,
            ContractCall::Validate {
                parameters: params,
                state: state.to_vec(),
                related: vec![],
            },
        ))
    };
    assert_eq!(validate_err(max_len(99), b"bad"), ("invalidState", None));
    assert_eq!(
        validate_err(max_len(99), b"other:why not"),
        ("other", Some("why not".into()))
    );
    assert_eq!(
        validate_err(vec![1, 2, 3], b""),
        ("deser", Some("parameters must be 4 bytes".into()))
    );

    let update_err = |updates: Vec<UpdateData>| {
        contract_failure(call(
            &runtime,
            &contract,
            ContractCall::Update {
                parameters: max_len(99),
                state: vec![],
                updates,
            },
        ))
    };
    assert_eq!(update_err(vec![]), ("invalidUpdate", None));
    assert_eq!(
        update_err(vec![UpdateData::Delta(b"!no way".to_vec())]),
        ("invalidUpdateWithInfo", Some("no way".into()))
    );

    assert_eq!(
        contract_failure(call(
            &runtime,
            &contract,
            ContractCall::Delta {
                parameters: max_len(99),
                state: b"abc".to_vec(),
                summary: vec![1, 2, 3],
            },
        )),
        ("invalidDelta", None)
    );
}

// ---------------------------------------------------------------------------
// Logs and the clock
// ---------------------------------------------------------------------------

fn logged(
    runtime: &Runtime,
    contract: &Loaded,
    line: &[u8],
    keep_logs: bool,
) -> Outcome<ContractAnswer> {
    let mut state = b"log:".to_vec();
    state.extend(line);
    runtime.call_contract(
        Site::Direct,
        contract,
        ContractCall::Validate {
            parameters: max_len(1000),
            state,
            related: vec![],
        },
        &CallOptions {
            keep_logs,
            clock_ms: None,
        },
    )
}

#[test]
fn log_lines_come_back_with_the_instance_id() {
    let runtime = runtime();
    for contract in [streaming_contract(&runtime), one_shot_contract(&runtime)] {
        let first = logged(&runtime, &contract, b"hello, log", true);
        assert_eq!(
            first.result.unwrap(),
            ContractAnswer::Validity(ValidateResult::Valid)
        );
        assert_eq!(first.logs.len(), 1);
        let (id, line) = &first.logs[0];
        assert_eq!(line, "hello, log");
        assert!(*id > 0, "instance ids start at 1: {id}");

        // A fresh instance per operation, so a new id.
        let second = logged(&runtime, &contract, b"again", true);
        assert_eq!(second.logs.len(), 1);
        assert!(second.logs[0].0 > *id, "{:?} after {id}", second.logs);
        assert_eq!(second.logs[0].1, "again");

        // Invalid UTF-8 is replaced, not refused.
        let lossy = logged(&runtime, &contract, b"a\xffb", true);
        assert_eq!(lossy.logs[0].1, "a\u{fffd}b");

        // Nobody listening: nothing kept, the call still succeeds.
        let quiet = logged(&runtime, &contract, b"unheard", false);
        assert!(quiet.result.is_ok());
        assert!(quiet.logs.is_empty());
    }
}

#[test]
fn runtimes_sharing_an_engine_and_a_module_keep_their_own_logs() {
    let first = runtime();
    let second = Runtime::new(
        first.engine().clone(),
        Stores {
            secrets: Arc::new(MemoryStore::default()),
            contracts: Arc::new(MemoryStore::default()),
        },
    );
    // One compiled module, prepared once per runtime: each runtime's
    // natives write to its own operation record.
    let code = guest!("log_contract.wasm");
    let module = first.engine().compile(&code).unwrap();
    let contract = first.prepare(module.clone(), &code).unwrap();
    let shared = second.prepare(module, &code).unwrap();
    for round in 0..3 {
        let a = logged(&first, &contract, format!("first {round}").as_bytes(), true);
        let b = logged(&second, &shared, format!("second {round}").as_bytes(), true);
        let lines = |outcome: &Outcome<ContractAnswer>| -> Vec<String> {
            outcome.logs.iter().map(|(_, line)| line.clone()).collect()
        };
        assert_eq!(lines(&a), [format!("first {round}")]);
        assert_eq!(lines(&b), [format!("second {round}")]);
    }
}

/// chrono's in-memory `DateTime<Utc>` for `ms`, from its parts: `yof`
/// (`year << 13 | ordinal << 4 | flags`), seconds since midnight,
/// nanoseconds; flags = 8 for a common year, plus the weekday of Dec 31 of
/// the year before (Mon 7, Tue 1, … Sun 6).
fn chrono_bytes(ms: i64) -> [u8; 12] {
    let t = chrono::DateTime::from_timestamp_millis(ms).unwrap();
    let year = t.year();
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let dec31 = chrono::NaiveDate::from_ymd_opt(year - 1, 12, 31).unwrap();
    let weekday = (dec31.weekday().num_days_from_monday() + 6) % 7 + 1;
    let flags = if leap { 0 } else { 8 } | weekday as i32;
    let yof = (year << 13) | ((t.ordinal() as i32) << 4) | flags;
    let mut bytes = [0; 12];
    bytes[..4].copy_from_slice(&yof.to_le_bytes());
    bytes[4..8].copy_from_slice(&t.num_seconds_from_midnight().to_le_bytes());
    bytes[8..].copy_from_slice(&t.nanosecond().to_le_bytes());
    bytes
}

fn hex(text: &str) -> Vec<u8> {
    let text: String = text.split_whitespace().collect();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn the_formula_matches_the_notes() {
    // 2024-01-02T03:04:05.123Z
    let ms = chrono::DateTime::parse_from_rfc3339("2024-01-02T03:04:05.123Z")
        .unwrap()
        .timestamp_millis();
    assert_eq!(
        chrono_bytes(ms).to_vec(),
        hex("26 00 fd 00 25 2b 00 00 c0 d4 54 07")
    );
    assert_eq!(
        chrono_bytes(0).to_vec(),
        hex("1a 40 f6 00 00000000 00000000")
    );
}

#[test]
fn a_fixed_clock_gives_chronos_exact_bytes() {
    let runtime = runtime();
    let contract = streaming_contract(&runtime);
    let delegate = runtime.load(&guest!("delegate.wasm")).unwrap();
    let example = chrono::DateTime::parse_from_rfc3339("2024-01-02T03:04:05.123Z")
        .unwrap()
        .timestamp_millis();
    let cases = [
        example,
        0,
        // 2025-06-15T12:00:00.999Z, 2023-12-31T23:59:59.001Z, 2000-02-29 (leap, %400)
        1_749_988_800_999,
        1_704_067_199_001,
        951_782_400_000,
        // Before 1970.
        -86_400_000 * 365,
    ];
    for ms in cases {
        let options = CallOptions {
            keep_logs: false,
            clock_ms: Some(ms),
        };
        assert_eq!(
            summarize(&runtime, &contract, b"time".to_vec(), &options),
            chrono_bytes(ms),
            "contract at {ms}"
        );
        let outcome = runtime.process_delegate(
            Site::Direct,
            &delegate,
            DelegateCall {
                parameters: vec![],
                origin: None,
                messages: vec![app(b"time")],
                user: None,
            },
            &options,
        );
        assert_eq!(
            payloads(outcome.result.unwrap()),
            vec![chrono_bytes(ms).to_vec()],
            "delegate at {ms}"
        );
    }
    let options = CallOptions {
        keep_logs: false,
        clock_ms: Some(example),
    };
    assert_eq!(
        summarize(&runtime, &contract, b"time".to_vec(), &options),
        hex("26 00 fd 00 25 2b 00 00 c0 d4 54 07")[..]
    );
}

#[test]
fn without_a_clock_it_is_now() {
    let runtime = runtime();
    let contract = one_shot_contract(&runtime);
    let before = chrono::Utc::now().timestamp_millis();
    let bytes = summarize(
        &runtime,
        &contract,
        b"time".to_vec(),
        &CallOptions::default(),
    );
    let after = chrono::Utc::now().timestamp_millis();
    assert_eq!(bytes.len(), 12);
    // Between the two readings of the system clock (to the millisecond;
    // the tuples order as the times do).
    let low = chrono_bytes(before);
    let high = chrono_bytes(after);
    let as_key = |b: &[u8]| {
        (
            i32::from_le_bytes(b[..4].try_into().unwrap()) >> 4,
            u32::from_le_bytes(b[4..8].try_into().unwrap()),
            u32::from_le_bytes(b[8..].try_into().unwrap()) / 1_000_000,
        )
    };
    assert!(
        as_key(&low) <= as_key(&bytes) && as_key(&bytes) <= as_key(&high),
        "{bytes:02x?} is not between {low:02x?} and {high:02x?}"
    );
}

#[test]
fn rand_bytes_are_filled() {
    let runtime = runtime();
    let contract = streaming_contract(&runtime);
    let a = summarize(
        &runtime,
        &contract,
        b"rand".to_vec(),
        &CallOptions::default(),
    );
    let b = summarize(
        &runtime,
        &contract,
        b"rand".to_vec(),
        &CallOptions::default(),
    );
    assert_eq!(a.len(), 16);
    assert_ne!(a, vec![0; 16]);
    assert_ne!(a, b);
}

// ---------------------------------------------------------------------------
// Delegates
// ---------------------------------------------------------------------------

fn app(payload: &[u8]) -> InboundDelegateMsg {
    InboundDelegateMsg::ApplicationMessage(ApplicationMessage {
        payload: payload.to_vec(),
        context: vec![],
        processed: false,
    })
}

/// The payloads of `outbound`, all application messages with an empty
/// context (as the test delegates answer and the runtime routes them).
fn payloads(outbound: Vec<OutboundDelegateMsg>) -> Vec<Vec<u8>> {
    outbound
        .into_iter()
        .map(|message| match message {
            OutboundDelegateMsg::ApplicationMessage(app) => {
                assert!(app.context.is_empty(), "{app:?}");
                assert!(app.processed);
                app.payload
            }
            other => panic!("not an application message: {other:?}"),
        })
        .collect()
}

fn process_with(
    runtime: &Runtime,
    delegate: &Loaded,
    parameters: &[u8],
    origin: Option<MessageOrigin>,
    messages: Vec<InboundDelegateMsg>,
) -> Outcome<Vec<OutboundDelegateMsg>> {
    runtime.process_delegate(
        Site::Direct,
        delegate,
        DelegateCall {
            parameters: parameters.to_vec(),
            origin,
            messages,
            user: None,
        },
        &CallOptions {
            keep_logs: true,
            clock_ms: None,
        },
    )
}

/// The payloads `delegate` answers `commands` with, in one batch.
fn ask(
    runtime: &Runtime,
    delegate: &Loaded,
    parameters: &[u8],
    commands: &[&[u8]],
) -> Vec<Vec<u8>> {
    let messages = commands.iter().map(|c| app(c)).collect();
    payloads(
        process_with(runtime, delegate, parameters, None, messages)
            .result
            .unwrap(),
    )
}

fn b(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

#[test]
fn the_context_runs_across_the_messages_of_one_call_only() {
    let runtime = runtime();
    let delegate = runtime.load(&guest!("delegate.wasm")).unwrap();
    assert_eq!(
        ask(
            &runtime,
            &delegate,
            b"",
            &[
                b"ctx-get",
                b"ctx-set:abc",
                b"ctx-get",
                b"ctx-msg",
                b"ctx-set:de",
                b"ctx-get",
                b"ctx-set:",
                b"ctx-get",
                b"ctx-msg",
                b"ctx-set:xyz",
            ]
        ),
        vec![
            b(""),
            b("ok"),
            b("abc"),
            b("abc"),
            // A write replaces the context.
            b("ok"),
            b("de"),
            // An empty write clears it.
            b("ok"),
            b(""),
            b(""),
            b("ok"),
        ]
    );
    // A new call starts empty.
    assert_eq!(
        ask(&runtime, &delegate, b"", &[b"ctx-get", b"ctx-msg"]),
        vec![b(""), b("")]
    );

    // ContextUpdated moves the running context too.
    assert_eq!(
        ask(
            &runtime,
            &delegate,
            b"",
            &[b"ctx-updated:from outbound", b"ctx-get", b"ctx-msg"]
        ),
        vec![b("after"), b("from outbound"), b("from outbound")]
    );
}

#[test]
fn a_context_of_stdlibs_maximum_size_is_refused_before_the_next_application_message() {
    let runtime = runtime();
    let delegate = runtime.load(&guest!("delegate.wasm")).unwrap();
    let set = |len: usize| {
        let mut command = b"ctx-set:".to_vec();
        command.extend(big_state(len, 1));
        app(&command)
    };
    // One byte under freenet-stdlib's limit: fine.
    let below = 409_599;
    let outcome = process_with(
        &runtime,
        &delegate,
        b"",
        None,
        vec![set(below), app(b"ctx-get")],
    );
    let answers = payloads(outcome.result.unwrap());
    assert_eq!(answers[1], big_state(below, 1));

    // At the limit: freenet-core panics building the next message's
    // DelegateContext; this runtime refuses the batch.
    let outcome = process_with(
        &runtime,
        &delegate,
        b"",
        None,
        vec![set(409_600), app(b"echo:never")],
    );
    let err = outcome.result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Memory, "{}", err.message());
    assert!(err.instance().is_some());

    // Other messages carry their own context: no limit is checked for them.
    let notification = InboundDelegateMsg::ContractNotification(wire::ContractNotification {
        contract_id: [1; 32],
        new_state: vec![],
        context: vec![],
    });
    let outcome = process_with(
        &runtime,
        &delegate,
        b"",
        None,
        vec![set(409_600), notification],
    );
    assert_eq!(payloads(outcome.result.unwrap()), vec![b("ok"), b("got:6")]);
}

#[test]
fn the_callers_context_is_replaced_by_the_running_one() {
    let runtime = runtime();
    let delegate = runtime.load(&guest!("delegate.wasm")).unwrap();
    let with_context = |payload: &[u8], context: &[u8]| {
        InboundDelegateMsg::ApplicationMessage(ApplicationMessage {
            payload: payload.to_vec(),
            context: context.to_vec(),
            processed: false,
        })
    };
    let outcome = process_with(
        &runtime,
        &delegate,
        b"",
        None,
        vec![
            with_context(b"ctx-msg", b"from the client"),
            app(b"ctx-set:running"),
            with_context(b"ctx-msg", b"from the client"),
        ],
    );
    assert_eq!(
        payloads(outcome.result.unwrap()),
        vec![b(""), b("ok"), b("running")]
    );
}

#[test]
fn requests_carry_the_context_and_delegate_messages_the_real_sender() {
    let runtime = runtime();
    let code = guest!("delegate.wasm");
    let delegate = runtime.load(&code).unwrap();
    let params = b"p".to_vec();
    let real = DelegateKey {
        key: wire::instance_key(&wire::code_hash(&code), &params),
        code_hash: wire::code_hash(&code),
    };
    assert_eq!(delegate.key(&params), real.key);
    assert_eq!(*delegate.code_hash(), real.code_hash);

    let mut get = b"get:".to_vec();
    get.extend([5; 32]);
    let mut send = b"send:".to_vec();
    send.extend([6; 32]);
    send.extend([7; 32]);
    send.extend(b"hello");
    let outcome = process_with(
        &runtime,
        &delegate,
        &params,
        None,
        vec![app(b"ctx-set:mine"), app(&get), app(&send)],
    );
    assert_eq!(
        outcome.result.unwrap(),
        vec![
            OutboundDelegateMsg::ApplicationMessage(ApplicationMessage {
                payload: b("ok"),
                context: vec![],
                processed: true,
            }),
            OutboundDelegateMsg::GetContractRequest(wire::ContractRequest {
                contract_id: [5; 32],
                context: b("mine"),
                processed: false,
            }),
            OutboundDelegateMsg::SendDelegateMessage(wire::DelegateMessage {
                target: DelegateKey {
                    key: [6; 32],
                    code_hash: [7; 32],
                },
                sender: real,
                payload: b("hello"),
                context: vec![],
                processed: false,
            }),
        ]
    );
}

#[test]
fn secrets_set_get_has_remove_and_their_codes() {
    let runtime = runtime();
    let delegate = runtime.load(&guest!("delegate.wasm")).unwrap();
    assert_eq!(
        ask(
            &runtime,
            &delegate,
            b"",
            &[
                b"secret-has:k",
                b"secret-get:k",
                b"secret-set:k=value=with=equals",
                b"secret-has:k",
                b"secret-get:k",
                b"secret-get-small:k",
                b"secret-set:one=1",
                b"secret-get-small:one",
                b"secret-set:two=ab",
                b"secret-get-small:two",
                b"secret-set:empty=",
                b"secret-get:empty",
                b"secret-has:empty",
            ]
        ),
        vec![
            b("0"),
            b("err:-2"),
            b("0"),
            b("1"),
            b("value=with=equals"),
            b("err:-6"),
            b("0"),
            b("1"),
            // One byte too long for the buffer: nothing copied.
            b("0"),
            b("err:-6"),
            b("0"),
            b(""),
            b("1"),
        ]
    );
    // Kept across calls, by the runtime's store.
    assert_eq!(
        ask(
            &runtime,
            &delegate,
            b"",
            &[
                b"secret-get:k",
                b"secret-set:k=new",
                b"secret-get:k",
                b"secret-del:k",
                b"secret-has:k",
                b"secret-get:k",
                b"secret-get-small:k",
                b"secret-del:k",
                b"secret-del:never",
            ]
        ),
        vec![
            b("value=with=equals"),
            b("0"),
            b("new"),
            b("0"),
            b("0"),
            b("err:-2"),
            b("err:-2"),
            b("0"),
            b("0"),
        ]
    );
}

#[test]
fn secrets_belong_to_one_delegate_key() {
    let runtime = runtime();
    let delegate = runtime.load(&guest!("delegate.wasm")).unwrap();
    assert_eq!(
        ask(&runtime, &delegate, b"alice", &[b"secret-set:s=alice's"]),
        vec![b("0")]
    );
    // Same code, other parameters: another key, other secrets.
    assert_eq!(
        ask(
            &runtime,
            &delegate,
            b"bob",
            &[b"secret-has:s", b"secret-get:s", b"secret-set:s=bob's"]
        ),
        vec![b("0"), b("err:-2"), b("0")]
    );
    assert_eq!(
        ask(&runtime, &delegate, b"alice", &[b"secret-get:s"]),
        vec![b("alice's")]
    );
    assert_eq!(
        ask(&runtime, &delegate, b"bob", &[b"secret-get:s"]),
        vec![b("bob's")]
    );
    // Another runtime has its own store.
    let other = self::runtime();
    let delegate = other.load(&guest!("delegate.wasm")).unwrap();
    assert_eq!(
        ask(&other, &delegate, b"alice", &[b"secret-has:s"]),
        vec![b("0")]
    );
}

#[test]
fn params_and_origin_reach_process() {
    let runtime = runtime();
    let delegate = runtime.load(&guest!("delegate.wasm")).unwrap();
    let ask_origin = |origin: Option<MessageOrigin>| {
        payloads(
            process_with(
                &runtime,
                &delegate,
                b"the params",
                origin,
                vec![app(b"origin"), app(b"params")],
            )
            .result
            .unwrap(),
        )
    };
    // No origin is an empty buffer, not an encoded None.
    assert_eq!(ask_origin(None), vec![vec![], b("the params")]);
    let web = MessageOrigin::WebApp([9; 32]);
    assert_eq!(
        ask_origin(Some(web.clone())),
        vec![wire::encode(&web).unwrap(), b("the params")]
    );
    let from = MessageOrigin::Delegate(DelegateKey {
        key: [1; 32],
        code_hash: [2; 32],
    });
    let answer = ask_origin(Some(from.clone()));
    assert_eq!(answer[0].len(), 68);
    assert_eq!(answer[0], wire::encode(&from).unwrap());
}

#[test]
fn other_inbound_variants_and_batches() {
    let runtime = runtime();
    let delegate = runtime.load(&guest!("delegate.wasm")).unwrap();
    let notification = InboundDelegateMsg::ContractNotification(wire::ContractNotification {
        contract_id: [1; 32],
        new_state: vec![2],
        context: vec![],
    });
    let response = InboundDelegateMsg::PutContractResponse(wire::ContractResponse {
        contract_id: [1; 32],
        result: Err("no".into()),
        context: vec![3],
    });
    let outcome = process_with(
        &runtime,
        &delegate,
        b"",
        None,
        vec![notification, app(b"two"), response],
    );
    assert_eq!(
        payloads(outcome.result.unwrap()),
        vec![b("got:6"), b("a"), b("b"), b("got:3")]
    );
    // Nothing to process: no instance, nothing back.
    let outcome = process_with(&runtime, &delegate, b"", None, vec![]);
    assert_eq!(outcome.result.unwrap(), vec![]);
}

#[test]
fn one_instance_serves_the_whole_batch() {
    let runtime = runtime();
    let delegate = runtime.load(&guest!("delegate.wasm")).unwrap();
    let outcome = process_with(
        &runtime,
        &delegate,
        b"",
        None,
        vec![app(b"log:one"), app(b"log:two")],
    );
    assert_eq!(payloads(outcome.result.unwrap()), vec![b("ok"), b("ok")]);
    assert_eq!(outcome.logs.len(), 2);
    assert_eq!(outcome.logs[0].0, outcome.logs[1].0);
    assert_eq!(outcome.logs[0].1, "one");
    assert_eq!(outcome.logs[1].1, "two");
}

#[test]
fn a_delegate_error_fails_the_whole_batch() {
    let runtime = runtime();
    let delegate = runtime.load(&guest!("delegate.wasm")).unwrap();
    let outcome = process_with(
        &runtime,
        &delegate,
        b"",
        None,
        vec![
            app(b"log:before"),
            app(b"echo:dropped"),
            app(b"fail:it broke"),
            app(b"log:never"),
        ],
    );
    let err = outcome.result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Contract, "{}", err.message());
    let failure = err.contract_failure().unwrap();
    assert_eq!(failure.kind, "other");
    assert_eq!(failure.reason.as_deref(), Some("it broke"));
    // The lines logged before the failure are kept, under the failing instance.
    assert_eq!(
        outcome.logs,
        vec![(err.instance().unwrap(), "before".to_string())]
    );

    let err = process_with(&runtime, &delegate, b"", None, vec![app(b"deser")])
        .result
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Contract);
    assert_eq!(err.contract_failure().unwrap().kind, "deser");
    assert_eq!(
        err.contract_failure().unwrap().reason.as_deref(),
        Some("deser")
    );
}

#[test]
fn v2_contract_imports_answer_as_a_node_without_the_contract() {
    let runtime = runtime();
    let delegate = runtime.load(&guest!("delegate_v2.wasm")).unwrap();
    let with_id = |command: &str, tail: &[u8]| {
        let mut payload = command.as_bytes().to_vec();
        payload.extend([0x42; 32]);
        payload.extend(tail);
        payload
    };
    let commands = [
        b"echo:v2".to_vec(),
        with_id("cget:", b""),
        with_id("cput:", b"state"),
        with_id("cput:", b""),
        with_id("cupdate:", b"state"),
        with_id("csub:", b""),
    ];
    let commands: Vec<&[u8]> = commands.iter().map(Vec::as_slice).collect();
    assert_eq!(
        ask(&runtime, &delegate, b"", &commands),
        vec![b("v2"), b("err:-7"), b("-10"), b("-10"), b("-10"), b("-10")]
    );
}

// ---------------------------------------------------------------------------
// Guests that lie
// ---------------------------------------------------------------------------

fn lie(
    runtime: &Runtime,
    liar: &Loaded,
    letter: u8,
    summarize: bool,
) -> Result<ContractAnswer, WasmError> {
    let call_ = if summarize {
        ContractCall::Summarize {
            parameters: vec![letter],
            state: b"12345".to_vec(),
        }
    } else {
        ContractCall::Validate {
            parameters: vec![letter],
            state: b"12345".to_vec(),
            related: vec![],
        }
    };
    call(runtime, liar, call_)
}

#[test]
fn an_honest_liar() {
    let runtime = runtime();
    let liar = runtime.load(&guest!("liar.wasm")).unwrap();
    assert_eq!(
        lie(&runtime, &liar, b'v', false).unwrap(),
        ContractAnswer::Validity(ValidateResult::Valid)
    );
    assert_eq!(
        lie(&runtime, &liar, b'v', true).unwrap(),
        ContractAnswer::Summary(5u64.to_le_bytes().to_vec())
    );
}

#[test]
fn a_result_of_the_wrong_kind_is_a_deser_failure() {
    let runtime = runtime();
    let liar = runtime.load(&guest!("liar.wasm")).unwrap();
    for summarize in [true, false] {
        let err = lie(&runtime, &liar, b'k', summarize).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Contract, "{}", err.message());
        assert_eq!(err.contract_failure().unwrap().kind, "deser");
        assert!(err.instance().is_some());
    }
}

#[test]
fn a_result_outside_memory_is_a_memory_error() {
    let runtime = runtime();
    let liar = runtime.load(&guest!("liar.wasm")).unwrap();
    // 'p' bytes past the end, 'o' struct beyond memory, 'y' negative struct,
    // 'z' negative payload pointer, 'h' a 4 GiB payload.
    for letter in [b'p', b'o', b'y', b'z', b'h'] {
        for summarize in [true, false] {
            let err = lie(&runtime, &liar, letter, summarize).unwrap_err();
            assert_eq!(
                err.kind(),
                ErrorKind::Memory,
                "{}: {}",
                letter as char,
                err.message()
            );
            assert!(err.contract_failure().is_none());
            assert!(err.instance().is_some());
        }
    }
}

#[test]
fn an_undecodable_result_is_an_other_failure() {
    let runtime = runtime();
    let liar = runtime.load(&guest!("liar.wasm")).unwrap();
    for letter in [b't', b'u'] {
        let (kind, reason) = contract_failure(lie(&runtime, &liar, letter, false));
        assert_eq!(kind, "other", "{}", letter as char);
        assert!(reason.is_some());
    }
}

/// A delegate in WebAssembly text whose `process` answers by its first
/// parameter byte: 'u' a result that does not decode (a `Result` tag of 7),
/// 'o' a result structure beyond memory, 'p' a 4 GiB payload, 'n' a
/// negative payload pointer, anything else `Ok(vec![])`.
const LYING_DELEGATE: &str = r#"
(module
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 1024))
  (data (i32.const 64) "\07\00\00\00")
  (data (i32.const 80) "\00\00\00\00\00\00\00\00\00\00\00\00")
  ;; { start @0, capacity @8, last_read @16, last_write @24 }, the two
  ;; counters after it, then the data.
  (func (export "__frnt__initiate_buffer") (param $cap i32) (result i64)
    (local $at i32)
    (local.set $at (global.get $next))
    (i64.store (local.get $at) (i64.extend_i32_u (i32.add (local.get $at) (i32.const 48))))
    (i32.store offset=8 (local.get $at) (local.get $cap))
    (i64.store offset=16 (local.get $at) (i64.extend_i32_u (i32.add (local.get $at) (i32.const 32))))
    (i64.store offset=24 (local.get $at) (i64.extend_i32_u (i32.add (local.get $at) (i32.const 36))))
    (global.set $next
      (i32.and (i32.add (i32.add (local.get $at) (i32.const 55)) (local.get $cap)) (i32.const -8)))
    (i64.extend_i32_u (local.get $at)))
  (func $result (param $ptr i64) (param $size i32) (result i64)
    (i64.store (i32.const 16) (local.get $ptr))
    (i32.store (i32.const 24) (local.get $size))
    (i64.const 16))
  (func (export "process") (param $params i64) (param $origin i64) (param $msg i64) (result i64)
    (local $letter i32)
    (local.set $letter
      (i32.load8_u (i32.wrap_i64 (i64.load (i32.wrap_i64 (local.get $params))))))
    (if (i32.eq (local.get $letter) (i32.const 117))
      (then (return (call $result (i64.const 64) (i32.const 4)))))
    (if (i32.eq (local.get $letter) (i32.const 111))
      (then (return (i64.const 0x7fff0000))))
    (if (i32.eq (local.get $letter) (i32.const 112))
      (then (return (call $result (i64.const 64) (i32.const -1)))))
    (if (i32.eq (local.get $letter) (i32.const 110))
      (then (return (call $result (i64.const -8) (i32.const 8)))))
    (call $result (i64.const 80) (i32.const 12))))
"#;

#[test]
fn a_delegate_result_that_does_not_decode_or_lies_outside_memory() {
    let runtime = runtime();
    let delegate = runtime
        .load(&wasm_engine_core::parse_text(LYING_DELEGATE).unwrap())
        .unwrap();
    let answer =
        |letter: u8| process_with(&runtime, &delegate, &[letter], None, vec![app(b"x")]).result;
    assert_eq!(answer(b'v').unwrap(), vec![]);

    // freenet-core reports an undecodable result as the delegate's `Other`.
    let err = answer(b'u').unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Contract, "{}", err.message());
    assert_eq!(err.contract_failure().unwrap().kind, "other");
    assert!(err.instance().is_some());

    for letter in [b'o', b'p', b'n'] {
        let err = answer(letter).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::Memory,
            "{}: {}",
            letter as char,
            err.message()
        );
        assert!(err.instance().is_some());
    }
}
