//! freenet-stdlib's types as they travel between host and guest: 0.6.0's
//! (ABI 0.2.48) with the variants 0.12.1 (ABI 0.2.154) appends, which
//! leave the earlier variants' tags and bytes as they were.
//!
//! Each type here has the field order and field types of its freenet-stdlib
//! counterpart, so serde's derived bincode produces exactly the same bytes
//! (bincode 1: little-endian, fixed-width integers, `u64` lengths, `u32`
//! enum tags, `[u8; 32]` as 32 raw bytes). The integration tests
//! `wire_tests.rs` (against 0.6.0) and `wire_0_12_tests.rs` (against
//! 0.12.1) encode values with freenet-stdlib itself and check that they
//! decode here to the same values and re-encode to the same bytes, and the
//! other way round. Keeping our own copy leaves
//! freenet-stdlib (LGPL-3.0) and its dependencies out of the addon.

use serde::{Deserialize, Serialize};

use wasm_engine_core::error::{ErrorKind, WasmError};

/// A contract instance id, a delegate key or a code hash: 32 bytes.
pub type Key = [u8; 32];

/// `ContractError`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContractError {
    Deser(String),
    InvalidUpdate,
    InvalidUpdateWithInfo { reason: String },
    InvalidState,
    InvalidDelta,
    Other(String),
}

/// `ValidateResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValidateResult {
    Valid,
    Invalid,
    RequestRelated(Vec<Key>),
}

/// `RelatedMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RelatedMode {
    StateOnce,
    StateThenSubscribe,
}

/// `RelatedContract`, one related contract `update_state` asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelatedContract {
    pub contract_instance_id: Key,
    pub mode: RelatedMode,
}

/// `UpdateModification`: the new state, if it changed, and the related
/// contracts the update needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateModification {
    pub new_state: Option<Vec<u8>>,
    pub related: Vec<RelatedContract>,
}

/// `UpdateData`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpdateData {
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

/// `RelatedContracts`, a map from id to state in freenet-stdlib; encoded
/// as a map is (a count, then the entries), here in the caller's order.
pub type RelatedContracts = Vec<(Key, Option<Vec<u8>>)>;

/// `DelegateKey`: the delegate's key (`blake3(code_hash ‖ parameters)`)
/// and its code hash (`blake3(code)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DelegateKey {
    pub key: Key,
    pub code_hash: Key,
}

/// `MessageOrigin`: who sent the messages a delegate processes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageOrigin {
    WebApp(Key),
    Delegate(DelegateKey),
}

/// `ApplicationMessage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationMessage {
    pub payload: Vec<u8>,
    pub context: Vec<u8>,
    pub processed: bool,
}

/// `UserInputResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInputResponse {
    pub request_id: u32,
    pub response: Vec<u8>,
    pub context: Vec<u8>,
}

/// `GetContractResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetContractResponse {
    pub contract_id: Key,
    pub state: Option<Vec<u8>>,
    pub context: Vec<u8>,
}

/// `PutContractResponse`, `UpdateContractResponse`,
/// `SubscribeContractResponse` and `UnsubscribeContractResponse`, which
/// share one shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractResponse {
    pub contract_id: Key,
    pub result: Result<(), String>,
    pub context: Vec<u8>,
}

/// `ContractNotification`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractNotification {
    pub contract_id: Key,
    pub new_state: Vec<u8>,
    pub context: Vec<u8>,
}

/// `DelegateMessage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegateMessage {
    pub target: DelegateKey,
    pub sender: DelegateKey,
    pub payload: Vec<u8>,
    pub context: Vec<u8>,
    pub processed: bool,
}

/// `InboundDelegateMsg`: what a delegate's `process` is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InboundDelegateMsg {
    ApplicationMessage(ApplicationMessage),
    UserResponse(UserInputResponse),
    GetContractResponse(GetContractResponse),
    PutContractResponse(ContractResponse),
    UpdateContractResponse(ContractResponse),
    SubscribeContractResponse(ContractResponse),
    ContractNotification(ContractNotification),
    DelegateMessage(DelegateMessage),
    /// ABI 0.2.154 (freenet-stdlib 0.12.1) and later.
    UnsubscribeContractResponse(ContractResponse),
    /// ABI 0.2.154: a wake-up the delegate asked for in its manifest fired.
    WakeupFired(WakeupFired),
    /// ABI 0.2.154: a lifecycle event the delegate's manifest lists.
    Lifecycle(LifecycleEvent),
}

impl InboundDelegateMsg {
    /// Whether freenet-stdlib 0.6.0 (ABI 0.2.48) has this variant.
    pub fn in_0_2_48(&self) -> bool {
        !matches!(
            self,
            Self::UnsubscribeContractResponse(_) | Self::WakeupFired(_) | Self::Lifecycle(_)
        )
    }

    /// The variant's name, as the TypeScript types spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ApplicationMessage(_) => "applicationMessage",
            Self::UserResponse(_) => "userResponse",
            Self::GetContractResponse(_) => "getContractResponse",
            Self::PutContractResponse(_) => "putContractResponse",
            Self::UpdateContractResponse(_) => "updateContractResponse",
            Self::SubscribeContractResponse(_) => "subscribeContractResponse",
            Self::ContractNotification(_) => "contractNotification",
            Self::DelegateMessage(_) => "delegateMessage",
            Self::UnsubscribeContractResponse(_) => "unsubscribeContractResponse",
            Self::WakeupFired(_) => "wakeupFired",
            Self::Lifecycle(_) => "lifecycle",
        }
    }
}

/// `WakeupFired`: the tag the delegate gave the wake-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WakeupFired {
    pub tag: Vec<u8>,
}

/// `LifecycleEvent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LifecycleEvent {
    /// The delegate was just registered with the node.
    Installed,
    /// The node started; `down_since_ms` is when it last stopped, if known.
    NodeStarted { down_since_ms: Option<u64> },
}

/// `UserInputRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInputRequest {
    pub request_id: u32,
    pub message: Vec<u8>,
    pub responses: Vec<Vec<u8>>,
}

/// `GetContractRequest`, `SubscribeContractRequest` and
/// `UnsubscribeContractRequest`, which share one shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractRequest {
    pub contract_id: Key,
    pub context: Vec<u8>,
    pub processed: bool,
}

/// `ContractKey`: the instance id and the code hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractKey {
    pub instance: Key,
    pub code_hash: Key,
}

/// `WrappedContract`: the code (with its hash), the parameters, the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedContract {
    pub code: Vec<u8>,
    pub code_hash: Key,
    pub parameters: Vec<u8>,
    pub key: ContractKey,
}

/// `ContractContainer::Wasm(ContractWasmAPIVersion::V1(..))`, the only
/// container freenet-stdlib 0.6.0 defines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContractContainer {
    Wasm(ContractWasmApi),
}

/// `ContractWasmAPIVersion`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContractWasmApi {
    V1(WrappedContract),
}

/// `PutContractRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutContractRequest {
    pub contract: ContractContainer,
    pub state: Vec<u8>,
    pub related_contracts: RelatedContracts,
    pub context: Vec<u8>,
    pub processed: bool,
}

/// `UpdateContractRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateContractRequest {
    pub contract_id: Key,
    pub update: UpdateData,
    pub context: Vec<u8>,
    pub processed: bool,
}

/// `OutboundDelegateMsg`: what a delegate's `process` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutboundDelegateMsg {
    ApplicationMessage(ApplicationMessage),
    RequestUserInput(UserInputRequest),
    ContextUpdated(Vec<u8>),
    GetContractRequest(ContractRequest),
    PutContractRequest(PutContractRequest),
    UpdateContractRequest(UpdateContractRequest),
    SubscribeContractRequest(ContractRequest),
    SendDelegateMessage(DelegateMessage),
    /// ABI 0.2.154 and later; the node refuses it (see the delegate runtime).
    UnsubscribeContractRequest(ContractRequest),
}

/// `DelegateError`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DelegateError {
    Deser(String),
    Other(String),
}

/// The bincode of `value`, as freenet encodes it.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, WasmError> {
    bincode::serialize(value)
        .map_err(|err| WasmError::new(ErrorKind::Other, format!("cannot encode an input: {err}")))
}

/// `value` decoded from freenet's bincode.
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, bincode::Error> {
    bincode::deserialize(bytes)
}

/// `blake3(code)`: a module's code hash.
pub fn code_hash(code: &[u8]) -> Key {
    *blake3::hash(code).as_bytes()
}

/// `blake3(code_hash ‖ parameters)`: the key of a delegate (and the
/// instance id of a contract) with these parameters.
pub fn instance_key(code_hash: &Key, parameters: &[u8]) -> Key {
    let mut hasher = blake3::Hasher::new();
    hasher.update(code_hash);
    hasher.update(parameters);
    *hasher.finalize().as_bytes()
}
