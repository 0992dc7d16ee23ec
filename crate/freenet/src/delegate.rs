//! Delegates: `process` over a list of inbound messages on one instance,
//! with the running context and the outbound rules of freenet-core's
//! `inbound_app_message`, as of 0.2.48 or 0.2.154 (the context kept
//! between calls, every drain attested, unsubscribe refused).

use std::sync::Arc;

use super::hooks::Store;
use super::profile::Abi;
use super::wire::{
    self, DelegateError, DelegateKey, InboundDelegateMsg, MessageOrigin, OutboundDelegateMsg,
};
use super::{Guest, Loaded, Runtime, Session, abi};
use wasm_engine_core::EngineState;
use wasm_engine_core::error::{ContractFailure, ErrorKind, WasmError};

/// The export a delegate answers messages with.
const PROCESS_EXPORT: &str = "process";

/// Memory a delegate's instance starts with, as freenet-core asks for.
const DELEGATE_REQ_BYTES: usize = 4096;

/// The largest context freenet-stdlib accepts (`DelegateContext::MAX_SIZE`,
/// exclusive); freenet-core panics past it, this runtime refuses.
pub const MAX_CONTEXT_BYTES: usize = 4096 * 10 * 10;

/// A delegate's `process` call: its parameters, who sends the messages,
/// the messages, and (0.2.154) the user whose context it reads and writes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DelegateCall {
    pub parameters: Vec<u8>,
    pub origin: Option<MessageOrigin>,
    pub messages: Vec<InboundDelegateMsg>,
    /// The user the call runs for, as a node that hosts users keys
    /// contexts by it; `None` on a node that hosts none (one context per
    /// delegate). Ignored under 0.2.48.
    pub user: Option<Vec<u8>>,
}

/// The delegate being processed, as its host imports see it.
pub(crate) struct DelegateEnv {
    pub(crate) context: Vec<u8>,
    pub(crate) key: DelegateKey,
    pub(crate) secrets: Arc<dyn Store>,
    pub(crate) contracts: Arc<dyn Store>,
}

/// The stores a runtime's delegates use.
#[derive(Clone)]
pub struct Stores {
    /// Secrets, scoped by delegate key.
    pub secrets: Arc<dyn Store>,
    /// Contract states.
    pub contracts: Arc<dyn Store>,
}

/// The failure today's node gives a call whose delegate asks to
/// unsubscribe (`UnexpectedMessage`); `examined` when the request was the
/// message being routed rather than one drained behind another.
fn unsubscribe_refused(examined: bool) -> WasmError {
    let reason = "UnsubscribeContractRequest is not implemented by this node yet \
                  (freenet-core 0.2.154 fails the whole call)";
    let message = if examined {
        format!("Received an unexpected message from the client apps: {reason}")
    } else {
        reason.to_owned()
    };
    WasmError::contract(
        format!("process failed: {message}"),
        ContractFailure {
            kind: "unexpectedMessage",
            reason: Some(message),
        },
    )
}

/// Runs `call` on one fresh instance of `delegate`, whose key is `key`,
/// with the stores, profile and contexts of `runtime`.
pub(crate) fn run(
    state: &mut EngineState,
    session: &Session,
    delegate: &Loaded,
    key: DelegateKey,
    runtime: &Runtime,
    call: DelegateCall,
) -> Result<Vec<OutboundDelegateMsg>, WasmError> {
    let DelegateCall {
        parameters,
        origin,
        messages,
        user,
    } = call;
    let abi = runtime.profile().abi;
    if let Some(newer) = messages
        .iter()
        .find(|m| !abi.is_current() && !m.in_0_2_48())
    {
        return Err(WasmError::new(
            ErrorKind::Argument,
            format!(
                "{} messages exist from freenet-core 0.2.154 on; this runtime's abi is '{}'",
                newer.name(),
                abi.name()
            ),
        ));
    }
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    // An absent origin is an empty buffer, not an encoded `None`.
    let origin = match origin {
        Some(origin) => wire::encode(&origin)?,
        None => Vec::new(),
    };
    let user = user.filter(|_| abi.is_current());
    let mut context = if abi.is_current() {
        runtime.contexts().begin(&key, user.as_deref())
    } else {
        Vec::new()
    };
    let mut guest = Guest::create(state, session, delegate, false, DELEGATE_REQ_BYTES)?;
    let id = guest.id();
    let mut results = Vec::new();
    let stores = runtime.stores();
    let outcome = (|| {
        for message in messages {
            let message = match message {
                // The running context replaces the one the caller gave.
                InboundDelegateMsg::ApplicationMessage(mut app) => {
                    if context.len() >= MAX_CONTEXT_BYTES {
                        return Err(WasmError::new(
                            ErrorKind::Memory,
                            format!(
                                "the context of delegate instance {id} holds {} bytes; \
                                 freenet-stdlib accepts less than {MAX_CONTEXT_BYTES}",
                                context.len()
                            ),
                        )
                        .at_instance(id));
                    }
                    app.context = context.clone();
                    InboundDelegateMsg::ApplicationMessage(app)
                }
                other => other,
            };
            guest.op().lock().delegate = Some(DelegateEnv {
                context: std::mem::take(&mut context),
                key,
                secrets: stores.secrets.clone(),
                contracts: stores.contracts.clone(),
            });
            let answered = (|| {
                let inputs = [
                    guest.write_input(&parameters)?,
                    guest.write_input(&origin)?,
                    guest.write_input(&wire::encode(&message)?)?,
                ];
                guest.call(PROCESS_EXPORT, &inputs)
            })();
            if let Some(env) = guest.op().lock().delegate.take() {
                context = env.context;
            }
            let outbound = decode(&mut guest, answered?, abi)?;
            route(outbound, &key, abi, &mut context, &mut results)?;
        }
        if abi.is_current() {
            if results
                .iter()
                .any(|m| matches!(m, OutboundDelegateMsg::UnsubscribeContractRequest(_)))
            {
                return Err(unsubscribe_refused(false));
            }
            if let Err(bytes) = runtime.contexts().store(&key, user.as_deref(), context) {
                guest.op().lock().log(
                    id,
                    format!(
                        "warning: the delegate's context of {bytes} bytes is not kept \
                         between calls: freenet-stdlib accepts less than {MAX_CONTEXT_BYTES}"
                    ),
                );
            }
        }
        Ok(())
    })();
    guest.finish();
    outcome
        .map(|()| results)
        .map_err(|err| match err.instance() {
            Some(_) => err,
            None => err.at_instance(id),
        })
}

/// The outbound messages behind the result structure at `at`, as a
/// delegate of `abi` may send them.
fn decode(guest: &mut Guest<'_>, at: i64, abi: Abi) -> Result<Vec<OutboundDelegateMsg>, WasmError> {
    let what = guest.what(PROCESS_EXPORT);
    let (id, memory) = guest.memory()?;
    let (ptr, size) = abi::delegate_result(memory, at, id, &what)?;
    let bytes = abi::payload(memory, ptr, size, id, &what)?;
    let (kind, reason) =
        match wire::decode::<Result<Vec<OutboundDelegateMsg>, DelegateError>>(bytes) {
            // freenet-stdlib 0.6.0 has no variant 8: its bytes do not decode.
            Ok(Ok(outbound))
                if !abi.is_current()
                    && outbound.iter().any(|m| {
                        matches!(m, OutboundDelegateMsg::UnsubscribeContractRequest(_))
                    }) =>
            {
                (
                    "other",
                    format!(
                        "the result does not decode: outbound variant 8 \
                         (UnsubscribeContractRequest) exists from freenet-core 0.2.154 on; \
                         this runtime's abi is '{}'",
                        abi.name()
                    ),
                )
            }
            Ok(Ok(outbound)) => return Ok(outbound),
            Ok(Err(DelegateError::Deser(reason))) => ("deser", reason),
            Ok(Err(DelegateError::Other(reason))) => ("other", reason),
            // freenet-core reports an undecodable result as `Other`.
            Err(err) => ("other", format!("the result does not decode: {err}")),
        };
    Err(WasmError::contract(
        format!("{what} failed with the delegate's error {kind}: {reason}"),
        ContractFailure {
            kind,
            reason: Some(reason),
        },
    ))
}

/// Applies freenet-core's rules to one message's outbound list: context
/// updates and processed requests move the running context; the first
/// message for the outside world (an application message, a user-input
/// request, an unprocessed request or delegate message) and everything
/// after it go to `results` as they are, except that that first
/// application message loses its context and unprocessed delegate messages
/// carry the real sender: behind any first message under 0.2.154, only
/// behind a first delegate message under 0.2.48. Under 0.2.154 an
/// unsubscribe request met here fails the call, as the node does.
fn route(
    outbound: Vec<OutboundDelegateMsg>,
    key: &DelegateKey,
    abi: Abi,
    context: &mut Vec<u8>,
    results: &mut Vec<OutboundDelegateMsg>,
) -> Result<(), WasmError> {
    use OutboundDelegateMsg as Out;
    let mut queue = outbound.into_iter();
    while let Some(message) = queue.next() {
        let first = match message {
            Out::ContextUpdated(new) => {
                *context = new;
                continue;
            }
            Out::GetContractRequest(r) | Out::SubscribeContractRequest(r) if r.processed => {
                *context = r.context;
                continue;
            }
            Out::PutContractRequest(r) if r.processed => {
                *context = r.context;
                continue;
            }
            Out::UpdateContractRequest(r) if r.processed => {
                *context = r.context;
                continue;
            }
            Out::SendDelegateMessage(m) if m.processed => {
                *context = m.context;
                continue;
            }
            Out::UnsubscribeContractRequest(_) => return Err(unsubscribe_refused(true)),
            Out::ApplicationMessage(mut app) => {
                app.context = Vec::new();
                Out::ApplicationMessage(app)
            }
            Out::SendDelegateMessage(mut m) => {
                m.sender = *key;
                Out::SendDelegateMessage(m)
            }
            first => first,
        };
        let attest = abi.is_current() || matches!(first, Out::SendDelegateMessage(_));
        results.push(first);
        results.extend(queue.map(|rest| match rest {
            Out::SendDelegateMessage(mut m) if attest && !m.processed => {
                m.sender = *key;
                Out::SendDelegateMessage(m)
            }
            other => other,
        }));
        return Ok(());
    }
    Ok(())
}

#[cfg(test)]
#[path = "delegate_tests.rs"]
mod tests;
