//! Contract operations: one fresh instance per call, as freenet-core runs
//! them, with inputs written and results decoded here in Rust.

use serde::Deserialize;

use super::abi::ContractResult;
use super::wire::{self, ContractError, Key, UpdateData, UpdateModification, ValidateResult};
use super::{Guest, Loaded, Session};
use wasm_engine_core::EngineState;
use wasm_engine_core::error::{ContractFailure, WasmError};

/// One related contract given to `validate_state`, with its state if known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    pub key: Key,
    pub state: Option<Vec<u8>>,
}

/// A contract export and its inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContractCall {
    Validate {
        parameters: Vec<u8>,
        state: Vec<u8>,
        related: Vec<Related>,
    },
    Update {
        parameters: Vec<u8>,
        state: Vec<u8>,
        updates: Vec<UpdateData>,
    },
    Summarize {
        parameters: Vec<u8>,
        state: Vec<u8>,
    },
    Delta {
        parameters: Vec<u8>,
        state: Vec<u8>,
        summary: Vec<u8>,
    },
}

/// A contract's answer, by export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContractAnswer {
    Validity(ValidateResult),
    Modification(UpdateModification),
    Summary(Vec<u8>),
    Delta(Vec<u8>),
}

/// The result kinds of freenet-stdlib's `ContractInterfaceResult`.
const VALIDATE_STATE: i32 = 0;
const VALIDATE_DELTA: i32 = 1;
const UPDATE_STATE: i32 = 2;
const SUMMARIZE_STATE: i32 = 3;
const STATE_DELTA: i32 = 4;

fn kind_name(kind: i32) -> String {
    match kind {
        VALIDATE_STATE => "ValidateState (0)".into(),
        VALIDATE_DELTA => "ValidateDelta (1)".into(),
        UPDATE_STATE => "UpdateState (2)".into(),
        SUMMARIZE_STATE => "SummarizeState (3)".into(),
        STATE_DELTA => "StateDelta (4)".into(),
        other => format!("{other}, which is no result kind"),
    }
}

impl ContractCall {
    /// The export this call enters.
    pub fn export(&self) -> &'static str {
        match self {
            ContractCall::Validate { .. } => "validate_state",
            ContractCall::Update { .. } => "update_state",
            ContractCall::Summarize { .. } => "summarize_state",
            ContractCall::Delta { .. } => "get_state_delta",
        }
    }

    fn result_kind(&self) -> i32 {
        match self {
            ContractCall::Validate { .. } => VALIDATE_STATE,
            ContractCall::Update { .. } => UPDATE_STATE,
            ContractCall::Summarize { .. } => SUMMARIZE_STATE,
            ContractCall::Delta { .. } => STATE_DELTA,
        }
    }

    /// The buffers the export takes, in order, encoded as freenet-core
    /// encodes them.
    fn inputs(self) -> Result<Vec<Vec<u8>>, WasmError> {
        Ok(match self {
            ContractCall::Validate {
                parameters,
                state,
                related,
            } => {
                let related: wire::RelatedContracts =
                    related.into_iter().map(|r| (r.key, r.state)).collect();
                vec![parameters, state, wire::encode(&related)?]
            }
            ContractCall::Update {
                parameters,
                state,
                updates,
            } => vec![parameters, state, wire::encode(&updates)?],
            ContractCall::Summarize { parameters, state } => vec![parameters, state],
            ContractCall::Delta {
                parameters,
                state,
                summary,
            } => vec![parameters, state, summary],
        })
    }
}

/// freenet-stdlib's `ContractError` as the engine reports it.
pub(crate) fn failure(err: ContractError) -> ContractFailure {
    let (kind, reason) = match err {
        ContractError::Deser(reason) => ("deser", Some(reason)),
        ContractError::InvalidUpdate => ("invalidUpdate", None),
        ContractError::InvalidUpdateWithInfo { reason } => ("invalidUpdateWithInfo", Some(reason)),
        ContractError::InvalidState => ("invalidState", None),
        ContractError::InvalidDelta => ("invalidDelta", None),
        ContractError::Other(reason) => ("other", Some(reason)),
    };
    ContractFailure { kind, reason }
}

/// Runs `call` on a fresh instance of `contract` inside one engine entry.
pub(crate) fn run(
    state: &mut EngineState,
    session: &Session,
    contract: &Loaded,
    call: ContractCall,
) -> Result<ContractAnswer, WasmError> {
    let export = call.export();
    let expected = call.result_kind();
    let inputs = call.inputs()?;
    let req_bytes = inputs.iter().map(Vec::len).sum();
    let mut guest = Guest::create(state, session, contract, contract.streaming(), req_bytes)?;
    let id = guest.id();
    let outcome = (|| {
        let mut pointers = Vec::with_capacity(inputs.len());
        for input in &inputs {
            pointers.push(guest.write_input(input)?);
        }
        let at = guest.call(export, &pointers)?;
        let what = guest.what(export);
        let (id, memory) = guest.memory()?;
        let result = ContractResult::read(memory, at, id, &what)?;
        let bytes = super::abi::payload(memory, result.ptr, result.size, id, &what)?;
        if result.kind != expected {
            return Err(wrong_kind(&what, result.kind, expected, bytes));
        }
        decode_answer(expected, bytes, &what)
    })();
    guest.finish();
    outcome.map_err(|err| match err.instance() {
        Some(_) => err,
        None => err.at_instance(id),
    })
}

/// The error for a result of another kind than the export's: what
/// freenet-stdlib answers when it cannot decode its own inputs, whatever
/// the export (freenet-core panics on it).
fn wrong_kind(what: &str, kind: i32, expected: i32, bytes: &[u8]) -> WasmError {
    let reason = match kind {
        VALIDATE_STATE | VALIDATE_DELTA => {
            wire::decode::<Result<ValidateResult, ContractError>>(bytes)
                .ok()
                .and_then(Result::err)
                .and_then(|err| failure(err).reason)
        }
        _ => None,
    };
    let detail = reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    WasmError::contract(
        format!(
            "{what} answered with a result of kind {} instead of {}, as freenet-stdlib does when \
             it cannot decode its inputs{detail}",
            kind_name(kind),
            kind_name(expected)
        ),
        ContractFailure {
            kind: "deser",
            reason,
        },
    )
}

/// The contract's answer `T`, or its error as a `CONTRACT` failure.
pub(crate) fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T, WasmError> {
    match wire::decode::<Result<T, ContractError>>(bytes) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => {
            let failure = failure(err);
            Err(WasmError::contract(
                format!(
                    "{what} failed with the contract's error {}{}",
                    failure.kind,
                    failure
                        .reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ),
                failure,
            ))
        }
        // freenet-core reports an undecodable result as the contract's
        // `Other` error, with bincode's message.
        Err(err) => Err(WasmError::contract(
            format!("{what} returned a result that does not decode: {err}"),
            ContractFailure {
                kind: "other",
                reason: Some(err.to_string()),
            },
        )),
    }
}

fn decode_answer(kind: i32, bytes: &[u8], what: &str) -> Result<ContractAnswer, WasmError> {
    Ok(match kind {
        VALIDATE_STATE => ContractAnswer::Validity(decode(bytes, what)?),
        UPDATE_STATE => ContractAnswer::Modification(decode(bytes, what)?),
        SUMMARIZE_STATE => ContractAnswer::Summary(decode(bytes, what)?),
        _ => ContractAnswer::Delta(decode(bytes, what)?),
    })
}
