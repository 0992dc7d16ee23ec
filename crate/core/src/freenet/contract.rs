//! Contract operations: one fresh instance per call, as freenet-core runs
//! them, with inputs written and results decoded here in Rust.

use freenet_stdlib::prelude::{
    ContractError, ContractInstanceId, RelatedContracts, RelatedMode, State, StateDelta,
    StateSummary, UpdateData, UpdateModification, ValidateResult,
};
use serde::Deserialize;

use super::abi::ContractResult;
use super::{Guest, Loaded, Session};
use crate::error::{ContractFailure, ErrorKind, WasmError};
use crate::state::EngineState;

/// A contract instance id or key: freenet's 32 bytes.
pub type Key = [u8; 32];

/// One related contract given to `validate_state`, with its state if known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    pub key: Key,
    pub state: Option<Vec<u8>>,
}

/// One update given to `update_state`: freenet-stdlib's `UpdateData`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    State(Vec<u8>),
    Delta(Vec<u8>),
    StateAndDelta {
        state: Vec<u8>,
        delta: Vec<u8>,
    },
    RelatedState {
        related_to: Key,
        state: Vec<u8>,
    },
    RelatedDelta {
        related_to: Key,
        delta: Vec<u8>,
    },
    RelatedStateAndDelta {
        related_to: Key,
        state: Vec<u8>,
        delta: Vec<u8>,
    },
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
        updates: Vec<Update>,
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

/// What `validate_state` decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validity {
    Valid,
    Invalid,
    /// The contract needs these related contracts' states first.
    RequestRelated(Vec<Key>),
}

/// A related contract `update_state` asks for, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedRequest {
    pub key: Key,
    /// True for `StateThenSubscribe`, false for `StateOnce`.
    pub subscribe: bool,
}

/// What `update_state` produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modification {
    pub new_state: Option<Vec<u8>>,
    pub related: Vec<RelatedRequest>,
}

/// A contract's answer, by export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContractAnswer {
    Validity(Validity),
    Modification(Modification),
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
                vec![parameters, state, encode(&related_contracts(related))?]
            }
            ContractCall::Update {
                parameters,
                state,
                updates,
            } => {
                let updates: Vec<UpdateData<'static>> =
                    updates.into_iter().map(update_data).collect();
                vec![parameters, state, encode(&updates)?]
            }
            ContractCall::Summarize { parameters, state } => vec![parameters, state],
            ContractCall::Delta {
                parameters,
                state,
                summary,
            } => vec![parameters, state, summary],
        })
    }
}

pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, WasmError> {
    bincode::serialize(value)
        .map_err(|err| WasmError::new(ErrorKind::Other, format!("cannot encode an input: {err}")))
}

fn related_contracts(related: Vec<Related>) -> RelatedContracts<'static> {
    let mut contracts = RelatedContracts::new();
    contracts.missing(
        related
            .iter()
            .map(|r| ContractInstanceId::new(r.key))
            .collect(),
    );
    let mut states: std::collections::HashMap<Key, Option<Vec<u8>>> =
        related.into_iter().map(|r| (r.key, r.state)).collect();
    for (id, slot) in contracts.update() {
        let mut key = [0; 32];
        key.copy_from_slice(id.as_bytes());
        *slot = states.remove(&key).flatten().map(State::from);
    }
    contracts
}

fn instance_id(key: Key) -> ContractInstanceId {
    ContractInstanceId::new(key)
}

fn update_data(update: Update) -> UpdateData<'static> {
    match update {
        Update::State(state) => UpdateData::State(State::from(state)),
        Update::Delta(delta) => UpdateData::Delta(StateDelta::from(delta)),
        Update::StateAndDelta { state, delta } => UpdateData::StateAndDelta {
            state: State::from(state),
            delta: StateDelta::from(delta),
        },
        Update::RelatedState { related_to, state } => UpdateData::RelatedState {
            related_to: instance_id(related_to),
            state: State::from(state),
        },
        Update::RelatedDelta { related_to, delta } => UpdateData::RelatedDelta {
            related_to: instance_id(related_to),
            delta: StateDelta::from(delta),
        },
        Update::RelatedStateAndDelta {
            related_to,
            state,
            delta,
        } => UpdateData::RelatedStateAndDelta {
            related_to: instance_id(related_to),
            state: State::from(state),
            delta: StateDelta::from(delta),
        },
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
        other => ("other", Some(other.to_string())),
    };
    ContractFailure { kind, reason }
}

fn key_of(id: &ContractInstanceId) -> Key {
    let mut key = [0; 32];
    key.copy_from_slice(id.as_bytes());
    key
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
    let mut guest = Guest::create(state, session, contract, req_bytes)?;
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
            bincode::deserialize::<Result<ValidateResult, ContractError>>(bytes)
                .ok()
                .and_then(Result::err)
                .map(|err| err.to_string())
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

fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T, WasmError> {
    match bincode::deserialize::<Result<T, ContractError>>(bytes) {
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
        VALIDATE_STATE => ContractAnswer::Validity(match decode::<ValidateResult>(bytes, what)? {
            ValidateResult::Valid => Validity::Valid,
            ValidateResult::Invalid => Validity::Invalid,
            ValidateResult::RequestRelated(ids) => {
                Validity::RequestRelated(ids.iter().map(key_of).collect())
            }
        }),
        UPDATE_STATE => {
            let modification = decode::<UpdateModification<'_>>(bytes, what)?;
            ContractAnswer::Modification(Modification {
                new_state: modification.new_state.map(State::into_bytes),
                related: modification
                    .related
                    .iter()
                    .map(|r| RelatedRequest {
                        key: key_of(&r.contract_instance_id),
                        subscribe: matches!(r.mode, RelatedMode::StateThenSubscribe),
                    })
                    .collect(),
            })
        }
        SUMMARIZE_STATE => {
            ContractAnswer::Summary(decode::<StateSummary<'_>>(bytes, what)?.into_bytes())
        }
        _ => ContractAnswer::Delta(decode::<StateDelta<'_>>(bytes, what)?.into_bytes()),
    })
}
