//! Freenet's values between JavaScript and the core's wire types: tagged
//! objects (`{ type: 'delta', delta }`) and `Uint8Array`s in, the same out.
//! Every value is checked here, once; a wrong one is a `TypeError` that
//! names it by its path (`messages[2].payload`).

use napi::sys::{self, napi_env, napi_value};
use wasm_engine_core::WasmError;
use wasm_engine_freenet::wire::{
    ApplicationMessage, ContractContainer, ContractNotification, ContractRequest, ContractResponse,
    ContractWasmApi, DelegateKey, DelegateMessage, GetContractResponse, InboundDelegateMsg, Key,
    LifecycleEvent, MessageOrigin, OutboundDelegateMsg, RelatedMode, UpdateData,
    UpdateModification, UserInputResponse, ValidateResult, WakeupFired,
};
use wasm_engine_freenet::{ContractAnswer, ContractCall, Related};

use crate::convert::{self, argument, broken};
use crate::js::{self, Raw, uint8_array};

/// The operations of `callContract`, by the number TypeScript passes.
const VALIDATE: u32 = 0;
const UPDATE: u32 = 1;
const SUMMARIZE: u32 = 2;
const DELTA: u32 = 3;

/// The call `op` with its inputs, converted from JavaScript.
pub(crate) fn contract_call(
    env: napi_env,
    op: u32,
    parameters: napi_value,
    state: napi_value,
    extra: napi_value,
) -> Result<ContractCall, WasmError> {
    let parameters = convert::bytes(env, parameters, "parameters")?;
    let state = convert::bytes(env, state, "state")?;
    Ok(match op {
        VALIDATE => ContractCall::Validate {
            parameters,
            state,
            related: list(env, extra, "related", related)?,
        },
        UPDATE => ContractCall::Update {
            parameters,
            state,
            updates: list(env, extra, "updates", update)?,
        },
        SUMMARIZE => ContractCall::Summarize { parameters, state },
        DELTA => ContractCall::Delta {
            parameters,
            state,
            summary: convert::bytes(env, extra, "summary")?,
        },
        other => return Err(argument(format!("unknown contract operation {other}"))),
    })
}

/// The items of the array `value` (`undefined` is empty), each converted
/// by `item` with its name `name[i]`.
pub(crate) fn list<T>(
    env: napi_env,
    value: napi_value,
    name: &str,
    item: impl Fn(napi_env, napi_value, &str) -> Result<T, WasmError>,
) -> Result<Vec<T>, WasmError> {
    // SAFETY: on `env`'s thread inside a callback (every caller's contract).
    unsafe {
        if js::type_of(env, value).map_err(broken)? == sys::ValueType::napi_undefined {
            return Ok(Vec::new());
        }
        if !js::is_array(env, value) {
            return Err(argument(format!("{name} must be an array")));
        }
        let len = js::array_length(env, value).map_err(broken)?;
        // The length is the caller's to set: never trust it for an allocation.
        let mut items = Vec::with_capacity((len as usize).min(1024));
        for i in 0..len {
            let element = js::element(env, value, i).map_err(broken)?;
            items.push(item(env, element, &format!("{name}[{i}]"))?);
        }
        Ok(items)
    }
}

/// The property `key` of the object `value`, which must be an object.
fn field(env: napi_env, value: napi_value, name: &str, key: &str) -> Result<napi_value, WasmError> {
    // SAFETY: on `env`'s thread inside a callback (every caller's contract).
    unsafe {
        if js::type_of(env, value).map_err(broken)? != sys::ValueType::napi_object {
            return Err(argument(format!("{name} must be an object")));
        }
        js::property(env, value, key).map_err(broken)
    }
}

pub(crate) fn is_nullish(env: napi_env, value: napi_value) -> Result<bool, WasmError> {
    // SAFETY: on `env`'s thread inside a callback (every caller's contract).
    let ty = unsafe { js::type_of(env, value) }.map_err(broken)?;
    Ok(matches!(
        ty,
        sys::ValueType::napi_undefined | sys::ValueType::napi_null
    ))
}

/// A 32-byte contract key.
fn key(env: napi_env, value: napi_value, name: &str) -> Result<Key, WasmError> {
    let bytes = convert::bytes(env, value, name)?;
    Key::try_from(bytes.as_slice()).map_err(|_| {
        argument(format!(
            "{name} must be a 32-byte contract key, got {} bytes",
            bytes.len()
        ))
    })
}

fn bytes_field(
    env: napi_env,
    value: napi_value,
    name: &str,
    key: &str,
) -> Result<Vec<u8>, WasmError> {
    convert::bytes(env, field(env, value, name, key)?, &format!("{name}.{key}"))
}

fn related(env: napi_env, value: napi_value, name: &str) -> Result<Related, WasmError> {
    let state = field(env, value, name, "state")?;
    Ok(Related {
        key: key(env, field(env, value, name, "key")?, &format!("{name}.key"))?,
        state: if is_nullish(env, state)? {
            None
        } else {
            Some(convert::bytes(env, state, &format!("{name}.state"))?)
        },
    })
}

pub(crate) fn update(
    env: napi_env,
    value: napi_value,
    name: &str,
) -> Result<UpdateData, WasmError> {
    let tag = convert::string(
        env,
        field(env, value, name, "type")?,
        &format!("{name}.type"),
    )?;
    let bytes = |key: &str| bytes_field(env, value, name, key);
    let related_to = || {
        key(
            env,
            field(env, value, name, "relatedTo")?,
            &format!("{name}.relatedTo"),
        )
    };
    Ok(match tag.as_str() {
        "state" => UpdateData::State(bytes("state")?),
        "delta" => UpdateData::Delta(bytes("delta")?),
        "stateAndDelta" => UpdateData::StateAndDelta {
            state: bytes("state")?,
            delta: bytes("delta")?,
        },
        "relatedState" => UpdateData::RelatedState {
            related_to: related_to()?,
            state: bytes("state")?,
        },
        "relatedDelta" => UpdateData::RelatedDelta {
            related_to: related_to()?,
            delta: bytes("delta")?,
        },
        "relatedStateAndDelta" => UpdateData::RelatedStateAndDelta {
            related_to: related_to()?,
            state: bytes("state")?,
            delta: bytes("delta")?,
        },
        other => {
            return Err(argument(format!(
                "{name}.type must be one of state, delta, stateAndDelta, relatedState, \
                 relatedDelta, relatedStateAndDelta, got \"{other}\""
            )));
        }
    })
}

/// An object with the properties `fields`.
unsafe fn object(env: napi_env, fields: &[(&str, napi_value)]) -> Raw<napi_value> {
    // SAFETY: the caller's contract.
    unsafe {
        let object = js::object(env)?;
        for (name, value) in fields {
            js::set_property(env, object, name, *value)?;
        }
        Ok(object)
    }
}

unsafe fn array(
    env: napi_env,
    items: impl ExactSizeIterator<Item = Raw<napi_value>>,
) -> Raw<napi_value> {
    // SAFETY: the caller's contract.
    unsafe { js::array_of(env, items.len(), items) }
}

/// A contract's answer as JavaScript sees it.
///
/// # Safety
/// On `env`'s thread inside a callback or handle scope.
pub(crate) unsafe fn answer_to_js(env: napi_env, answer: &ContractAnswer) -> Raw<napi_value> {
    // SAFETY: the caller's contract.
    unsafe {
        match answer {
            ContractAnswer::Validity(ValidateResult::Valid) => {
                object(env, &[("type", js::string(env, "valid")?)])
            }
            ContractAnswer::Validity(ValidateResult::Invalid) => {
                object(env, &[("type", js::string(env, "invalid")?)])
            }
            ContractAnswer::Validity(ValidateResult::RequestRelated(keys)) => object(
                env,
                &[
                    ("type", js::string(env, "requestRelated")?),
                    (
                        "keys",
                        array(env, keys.iter().map(|k| uint8_array(env, k)))?,
                    ),
                ],
            ),
            ContractAnswer::Modification(UpdateModification { new_state, related }) => {
                let new_state = match new_state {
                    Some(state) => uint8_array(env, state)?,
                    None => js::null(env)?,
                };
                let related = array(
                    env,
                    related.iter().map(|r| {
                        let mode = match r.mode {
                            RelatedMode::StateOnce => "stateOnce",
                            RelatedMode::StateThenSubscribe => "stateThenSubscribe",
                        };
                        object(
                            env,
                            &[
                                ("key", uint8_array(env, &r.contract_instance_id)?),
                                ("mode", js::string(env, mode)?),
                            ],
                        )
                    }),
                )?;
                object(env, &[("newState", new_state), ("related", related)])
            }
            ContractAnswer::Summary(bytes) | ContractAnswer::Delta(bytes) => {
                uint8_array(env, bytes)
            }
        }
    }
}

/// The property `key` of `value`, or `None` when it is `undefined` or `null`.
fn optional(
    env: napi_env,
    value: napi_value,
    name: &str,
    key: &str,
) -> Result<Option<napi_value>, WasmError> {
    let found = field(env, value, name, key)?;
    Ok(if is_nullish(env, found)? {
        None
    } else {
        Some(found)
    })
}

/// A context: bytes, empty when absent.
fn context(env: napi_env, value: napi_value, name: &str) -> Result<Vec<u8>, WasmError> {
    match optional(env, value, name, "context")? {
        Some(context) => convert::bytes(env, context, &format!("{name}.context")),
        None => Ok(Vec::new()),
    }
}

/// `processed`: a boolean, false when absent.
fn processed(env: napi_env, value: napi_value, name: &str) -> Result<bool, WasmError> {
    let Some(flag) = optional(env, value, name, "processed")? else {
        return Ok(false);
    };
    // SAFETY: on `env`'s thread inside a callback (every caller's contract).
    unsafe { js::boolean(env, flag) }
        .map_err(|_| argument(format!("{name}.processed must be a boolean")))
}

fn key_field(
    env: napi_env,
    value: napi_value,
    name: &str,
    field_name: &str,
) -> Result<Key, WasmError> {
    key(
        env,
        field(env, value, name, field_name)?,
        &format!("{name}.{field_name}"),
    )
}

/// A `DelegateKey`: `{ key, codeHash }`, 32 bytes each.
pub(crate) fn delegate_key(
    env: napi_env,
    value: napi_value,
    name: &str,
) -> Result<DelegateKey, WasmError> {
    Ok(DelegateKey {
        key: key_field(env, value, name, "key")?,
        code_hash: key_field(env, value, name, "codeHash")?,
    })
}

/// A message's origin: `null`, a web app's 32-byte contract id, or a
/// tagged object (`{ type: 'webApp', contractId }`, `{ type: 'delegate', key }`).
pub(crate) fn origin(env: napi_env, value: napi_value) -> Result<Option<MessageOrigin>, WasmError> {
    if is_nullish(env, value)? {
        return Ok(None);
    }
    // SAFETY: on `env`'s thread inside a callback.
    let is_object =
        unsafe { js::type_of(env, value) }.map_err(broken)? == sys::ValueType::napi_object;
    // SAFETY: as above.
    let (typed, buffer) = unsafe {
        (
            js::typed_array(env, value).map_err(broken)?.is_some(),
            js::array_buffer(env, value).map_err(broken)?.is_some(),
        )
    };
    if typed || buffer || !is_object {
        return Ok(Some(MessageOrigin::WebApp(key(env, value, "origin")?)));
    }
    let tag = convert::string(env, field(env, value, "origin", "type")?, "origin.type")?;
    Ok(Some(match tag.as_str() {
        "webApp" => MessageOrigin::WebApp(key_field(env, value, "origin", "contractId")?),
        "delegate" => MessageOrigin::Delegate(delegate_key(
            env,
            field(env, value, "origin", "key")?,
            "origin.key",
        )?),
        other => {
            return Err(argument(format!(
                "origin.type must be webApp or delegate, got \"{other}\""
            )));
        }
    }))
}

/// A `Result<(), String>` as `{ error: string | null }`.
fn outcome(env: napi_env, value: napi_value, name: &str) -> Result<Result<(), String>, WasmError> {
    Ok(match optional(env, value, name, "error")? {
        None => Ok(()),
        Some(error) => Err(convert::string(env, error, &format!("{name}.error"))?),
    })
}

fn contract_response(
    env: napi_env,
    value: napi_value,
    name: &str,
) -> Result<ContractResponse, WasmError> {
    Ok(ContractResponse {
        contract_id: key_field(env, value, name, "contractId")?,
        result: outcome(env, value, name)?,
        context: context(env, value, name)?,
    })
}

/// One inbound message, a tagged object per `InboundDelegateMsg` variant.
pub(crate) fn inbound(
    env: napi_env,
    value: napi_value,
    name: &str,
) -> Result<InboundDelegateMsg, WasmError> {
    use InboundDelegateMsg as In;
    let tag = convert::string(
        env,
        field(env, value, name, "type")?,
        &format!("{name}.type"),
    )?;
    let bytes = |key: &str| bytes_field(env, value, name, key);
    Ok(match tag.as_str() {
        "applicationMessage" => In::ApplicationMessage(ApplicationMessage {
            payload: bytes("payload")?,
            context: context(env, value, name)?,
            processed: processed(env, value, name)?,
        }),
        "userResponse" => In::UserResponse(UserInputResponse {
            request_id: convert::u32(
                env,
                field(env, value, name, "requestId")?,
                &format!("{name}.requestId"),
            )?,
            response: bytes("response")?,
            context: context(env, value, name)?,
        }),
        "getContractResponse" => In::GetContractResponse(GetContractResponse {
            contract_id: key_field(env, value, name, "contractId")?,
            state: match optional(env, value, name, "state")? {
                Some(state) => Some(convert::bytes(env, state, &format!("{name}.state"))?),
                None => None,
            },
            context: context(env, value, name)?,
        }),
        "putContractResponse" => In::PutContractResponse(contract_response(env, value, name)?),
        "updateContractResponse" => {
            In::UpdateContractResponse(contract_response(env, value, name)?)
        }
        "subscribeContractResponse" => {
            In::SubscribeContractResponse(contract_response(env, value, name)?)
        }
        "unsubscribeContractResponse" => {
            In::UnsubscribeContractResponse(contract_response(env, value, name)?)
        }
        "wakeupFired" => In::WakeupFired(WakeupFired { tag: bytes("tag")? }),
        "lifecycle" => In::Lifecycle(lifecycle(
            env,
            field(env, value, name, "event")?,
            &format!("{name}.event"),
        )?),
        "contractNotification" => In::ContractNotification(ContractNotification {
            contract_id: key_field(env, value, name, "contractId")?,
            new_state: bytes("newState")?,
            context: context(env, value, name)?,
        }),
        "delegateMessage" => In::DelegateMessage(DelegateMessage {
            target: delegate_key(
                env,
                field(env, value, name, "target")?,
                &format!("{name}.target"),
            )?,
            sender: delegate_key(
                env,
                field(env, value, name, "sender")?,
                &format!("{name}.sender"),
            )?,
            payload: bytes("payload")?,
            context: context(env, value, name)?,
            processed: processed(env, value, name)?,
        }),
        other => {
            return Err(argument(format!(
                "{name}.type must be one of applicationMessage, userResponse, getContractResponse, \
                 putContractResponse, updateContractResponse, subscribeContractResponse, \
                 contractNotification, delegateMessage, unsubscribeContractResponse, \
                 wakeupFired, lifecycle, got \"{other}\""
            )));
        }
    })
}

/// A `LifecycleEvent`: `{ type: 'installed' }` or
/// `{ type: 'nodeStarted', downSinceMs }` (`downSinceMs` a non-negative
/// integer, or `null`/absent when unknown).
fn lifecycle(env: napi_env, value: napi_value, name: &str) -> Result<LifecycleEvent, WasmError> {
    let tag = convert::string(
        env,
        field(env, value, name, "type")?,
        &format!("{name}.type"),
    )?;
    Ok(match tag.as_str() {
        "installed" => LifecycleEvent::Installed,
        "nodeStarted" => LifecycleEvent::NodeStarted {
            down_since_ms: match optional(env, value, name, "downSinceMs")? {
                Some(ms) => Some(convert::u64(env, ms, &format!("{name}.downSinceMs"))?),
                None => None,
            },
        },
        other => {
            return Err(argument(format!(
                "{name}.type must be installed or nodeStarted, got \"{other}\""
            )));
        }
    })
}

/// The messages of a `process` call.
pub(crate) fn inbound_list(
    env: napi_env,
    value: napi_value,
) -> Result<Vec<InboundDelegateMsg>, WasmError> {
    if is_nullish(env, value)? {
        return Err(argument("messages must be an array".to_owned()));
    }
    list(env, value, "messages", inbound)
}

pub(crate) unsafe fn delegate_key_to_js(env: napi_env, key: &DelegateKey) -> Raw<napi_value> {
    // SAFETY: the caller's contract.
    unsafe {
        object(
            env,
            &[
                ("key", uint8_array(env, &key.key)?),
                ("codeHash", uint8_array(env, &key.code_hash)?),
            ],
        )
    }
}

unsafe fn update_to_js(env: napi_env, update: &UpdateData) -> Raw<napi_value> {
    // SAFETY: the caller's contract.
    unsafe {
        let tag = |t: &str| js::string(env, t);
        match update {
            UpdateData::State(state) => object(
                env,
                &[("type", tag("state")?), ("state", uint8_array(env, state)?)],
            ),
            UpdateData::Delta(delta) => object(
                env,
                &[("type", tag("delta")?), ("delta", uint8_array(env, delta)?)],
            ),
            UpdateData::StateAndDelta { state, delta } => object(
                env,
                &[
                    ("type", tag("stateAndDelta")?),
                    ("state", uint8_array(env, state)?),
                    ("delta", uint8_array(env, delta)?),
                ],
            ),
            UpdateData::RelatedState { related_to, state } => object(
                env,
                &[
                    ("type", tag("relatedState")?),
                    ("relatedTo", uint8_array(env, related_to)?),
                    ("state", uint8_array(env, state)?),
                ],
            ),
            UpdateData::RelatedDelta { related_to, delta } => object(
                env,
                &[
                    ("type", tag("relatedDelta")?),
                    ("relatedTo", uint8_array(env, related_to)?),
                    ("delta", uint8_array(env, delta)?),
                ],
            ),
            UpdateData::RelatedStateAndDelta {
                related_to,
                state,
                delta,
            } => object(
                env,
                &[
                    ("type", tag("relatedStateAndDelta")?),
                    ("relatedTo", uint8_array(env, related_to)?),
                    ("state", uint8_array(env, state)?),
                    ("delta", uint8_array(env, delta)?),
                ],
            ),
        }
    }
}

unsafe fn request_to_js(env: napi_env, tag: &str, request: &ContractRequest) -> Raw<napi_value> {
    // SAFETY: the caller's contract.
    unsafe {
        object(
            env,
            &[
                ("type", js::string(env, tag)?),
                ("contractId", uint8_array(env, &request.contract_id)?),
                ("context", uint8_array(env, &request.context)?),
                ("processed", js::boolean_value(env, request.processed)?),
            ],
        )
    }
}

/// One outbound message as a tagged object.
///
/// # Safety
/// On `env`'s thread inside a callback or handle scope.
unsafe fn outbound_to_js(env: napi_env, message: &OutboundDelegateMsg) -> Raw<napi_value> {
    use OutboundDelegateMsg as Out;
    // SAFETY: the caller's contract.
    unsafe {
        let tag = |t: &str| js::string(env, t);
        match message {
            Out::ApplicationMessage(app) => object(
                env,
                &[
                    ("type", tag("applicationMessage")?),
                    ("payload", uint8_array(env, &app.payload)?),
                    ("context", uint8_array(env, &app.context)?),
                    ("processed", js::boolean_value(env, app.processed)?),
                ],
            ),
            Out::RequestUserInput(request) => object(
                env,
                &[
                    ("type", tag("requestUserInput")?),
                    ("requestId", js::double(env, f64::from(request.request_id))?),
                    ("message", uint8_array(env, &request.message)?),
                    (
                        "responses",
                        array(env, request.responses.iter().map(|r| uint8_array(env, r)))?,
                    ),
                ],
            ),
            Out::ContextUpdated(context) => object(
                env,
                &[
                    ("type", tag("contextUpdated")?),
                    ("context", uint8_array(env, context)?),
                ],
            ),
            Out::GetContractRequest(request) => request_to_js(env, "getContractRequest", request),
            Out::SubscribeContractRequest(request) => {
                request_to_js(env, "subscribeContractRequest", request)
            }
            Out::UnsubscribeContractRequest(request) => {
                request_to_js(env, "unsubscribeContractRequest", request)
            }
            Out::PutContractRequest(request) => {
                let ContractContainer::Wasm(ContractWasmApi::V1(contract)) = &request.contract;
                let contract = object(
                    env,
                    &[
                        ("code", uint8_array(env, &contract.code)?),
                        ("codeHash", uint8_array(env, &contract.code_hash)?),
                        ("parameters", uint8_array(env, &contract.parameters)?),
                        (
                            "key",
                            object(
                                env,
                                &[
                                    ("instanceId", uint8_array(env, &contract.key.instance)?),
                                    ("codeHash", uint8_array(env, &contract.key.code_hash)?),
                                ],
                            )?,
                        ),
                    ],
                )?;
                let related = array(
                    env,
                    request.related_contracts.iter().map(|(key, state)| {
                        let state = match state {
                            Some(state) => uint8_array(env, state)?,
                            None => js::null(env)?,
                        };
                        object(env, &[("key", uint8_array(env, key)?), ("state", state)])
                    }),
                )?;
                object(
                    env,
                    &[
                        ("type", tag("putContractRequest")?),
                        ("contract", contract),
                        ("state", uint8_array(env, &request.state)?),
                        ("relatedContracts", related),
                        ("context", uint8_array(env, &request.context)?),
                        ("processed", js::boolean_value(env, request.processed)?),
                    ],
                )
            }
            Out::UpdateContractRequest(request) => object(
                env,
                &[
                    ("type", tag("updateContractRequest")?),
                    ("contractId", uint8_array(env, &request.contract_id)?),
                    ("update", update_to_js(env, &request.update)?),
                    ("context", uint8_array(env, &request.context)?),
                    ("processed", js::boolean_value(env, request.processed)?),
                ],
            ),
            Out::SendDelegateMessage(message) => object(
                env,
                &[
                    ("type", tag("sendDelegateMessage")?),
                    ("target", delegate_key_to_js(env, &message.target)?),
                    ("sender", delegate_key_to_js(env, &message.sender)?),
                    ("payload", uint8_array(env, &message.payload)?),
                    ("context", uint8_array(env, &message.context)?),
                    ("processed", js::boolean_value(env, message.processed)?),
                ],
            ),
        }
    }
}

/// A delegate's outbound messages as an array of tagged objects.
///
/// # Safety
/// On `env`'s thread inside a callback or handle scope.
pub(crate) unsafe fn outbound_list_to_js(
    env: napi_env,
    messages: &[OutboundDelegateMsg],
) -> Raw<napi_value> {
    // SAFETY: the caller's contract.
    unsafe { array(env, messages.iter().map(|m| outbound_to_js(env, m))) }
}
