//! Delegates: `process` over a list of inbound messages on one instance,
//! with the running context and the outbound rules of freenet-core 0.2.48's
//! `inbound_app_message`.

use std::sync::Arc;

use super::hooks::Store;
use super::wire::{
    self, DelegateError, DelegateKey, InboundDelegateMsg, MessageOrigin, OutboundDelegateMsg,
};
use super::{Guest, Loaded, Session, abi};
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
/// and the messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegateCall {
    pub parameters: Vec<u8>,
    pub origin: Option<MessageOrigin>,
    pub messages: Vec<InboundDelegateMsg>,
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

/// Runs `call` on one fresh instance of `delegate`, whose key is `key`.
pub(crate) fn run(
    state: &mut EngineState,
    session: &Session,
    delegate: &Loaded,
    key: DelegateKey,
    stores: &Stores,
    call: DelegateCall,
) -> Result<Vec<OutboundDelegateMsg>, WasmError> {
    let DelegateCall {
        parameters,
        origin,
        messages,
    } = call;
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    // An absent origin is an empty buffer, not an encoded `None`.
    let origin = match origin {
        Some(origin) => wire::encode(&origin)?,
        None => Vec::new(),
    };
    let mut guest = Guest::create(state, session, delegate, false, DELEGATE_REQ_BYTES)?;
    let id = guest.id();
    let mut context = Vec::new();
    let mut results = Vec::new();
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
            let outbound = decode(&mut guest, answered?)?;
            route(outbound, &key, &mut context, &mut results);
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

/// The outbound messages behind the result structure at `at`.
fn decode(guest: &mut Guest<'_>, at: i64) -> Result<Vec<OutboundDelegateMsg>, WasmError> {
    let what = guest.what(PROCESS_EXPORT);
    let (id, memory) = guest.memory()?;
    let (ptr, size) = abi::delegate_result(memory, at, id, &what)?;
    let bytes = abi::payload(memory, ptr, size, id, &what)?;
    let (kind, reason) =
        match wire::decode::<Result<Vec<OutboundDelegateMsg>, DelegateError>>(bytes) {
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
/// carry the real sender.
fn route(
    outbound: Vec<OutboundDelegateMsg>,
    key: &DelegateKey,
    context: &mut Vec<u8>,
    results: &mut Vec<OutboundDelegateMsg>,
) {
    use OutboundDelegateMsg as Out;
    let mut queue = outbound.into_iter();
    while let Some(message) = queue.next() {
        match message {
            Out::ContextUpdated(new) => *context = new,
            Out::GetContractRequest(r) | Out::SubscribeContractRequest(r) if r.processed => {
                *context = r.context;
            }
            Out::PutContractRequest(r) if r.processed => *context = r.context,
            Out::UpdateContractRequest(r) if r.processed => *context = r.context,
            Out::SendDelegateMessage(m) if m.processed => *context = m.context,
            Out::ApplicationMessage(mut app) => {
                app.context = Vec::new();
                results.push(Out::ApplicationMessage(app));
                results.extend(queue);
                return;
            }
            Out::SendDelegateMessage(mut first) => {
                first.sender = *key;
                results.push(Out::SendDelegateMessage(first));
                results.extend(queue.map(|rest| match rest {
                    Out::SendDelegateMessage(mut m) if !m.processed => {
                        m.sender = *key;
                        Out::SendDelegateMessage(m)
                    }
                    other => other,
                }));
                return;
            }
            first => {
                results.push(first);
                results.extend(queue);
                return;
            }
        }
    }
}

#[cfg(test)]
#[path = "delegate_tests.rs"]
mod tests;
