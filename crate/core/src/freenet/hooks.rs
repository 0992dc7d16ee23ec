//! The stores a Freenet runtime asks on behalf of its delegates: secrets
//! (`freenet_delegate_secrets`) and contract states
//! (`freenet_delegate_contracts`), in memory or in the embedder's hands.
//!
//! A store answers on the guest's own thread when it can ([`Store::answer_here`]:
//! memory always, an embedder on its own thread); otherwise the request is
//! posted to it and the guest's worker waits, stoppable by its deadline,
//! abort and close like any host call.

use std::collections::HashMap;
use std::sync::mpsc;

use parking_lot::Mutex;
use wasmtime::Caller;

use super::wire::{DelegateKey, Key};
use crate::error::HostFailure;
use crate::host::{self, Site};
use crate::store::HostState;

/// A question for a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// The secret `key` of `delegate`, if there is one.
    SecretGet {
        delegate: DelegateKey,
        key: Vec<u8>,
    },
    /// Whether the secret exists: `Done` yes, `Refused` no.
    SecretHas {
        delegate: DelegateKey,
        key: Vec<u8>,
    },
    SecretSet {
        delegate: DelegateKey,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    /// Removes a secret; removing a missing one succeeds.
    SecretRemove {
        delegate: DelegateKey,
        key: Vec<u8>,
    },
    /// The state of contract `id`, if the store has it.
    ContractGet {
        id: Key,
    },
    /// Stores a contract's state, replacing any.
    ContractPut {
        id: Key,
        state: Vec<u8>,
    },
    /// Replaces a contract's existing state.
    ContractUpdate {
        id: Key,
        state: Vec<u8>,
    },
    ContractSubscribe {
        id: Key,
    },
}

/// A store's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// For the gets: the bytes, or `None` when absent.
    Found(Option<Vec<u8>>),
    /// The request was carried out.
    Done,
    /// The store refused: a secret that does not exist (`SecretHas`); a
    /// contract update without a state to replace (Freenet's "not found");
    /// a put or subscribe the store will not take ("code not registered").
    Refused,
    /// The store knows no such contract ("code not registered").
    Unregistered,
}

/// Where an answer to a posted request goes.
pub struct Reply(mpsc::Sender<Result<Answer, HostFailure>>);

impl Reply {
    /// Answers the request; false when nobody waits any more.
    pub fn send(self, answer: Result<Answer, HostFailure>) -> bool {
        self.0.send(answer).is_ok()
    }
}

/// A store of secrets or contract states.
pub trait Store: Send + Sync {
    /// The answer to `request`, given on this thread, which runs a guest
    /// entered from `site`; `None` when the request must be posted.
    fn answer_here(&self, site: Site, request: &Request) -> Option<Result<Answer, HostFailure>>;

    /// Hands `request` to the store's own thread; the answer comes through
    /// `reply`.
    fn post(&self, request: Request, reply: Reply) -> Result<(), HostFailure>;
}

/// A secret's place: its delegate and its key.
type SecretId = (DelegateKey, Vec<u8>);

/// Secrets in this process's memory, lost with it; no contract states.
#[derive(Default)]
pub struct MemoryStore {
    secrets: Mutex<HashMap<SecretId, Vec<u8>>>,
}

impl Store for MemoryStore {
    fn answer_here(&self, _site: Site, request: &Request) -> Option<Result<Answer, HostFailure>> {
        let mut secrets = self.secrets.lock();
        Some(Ok(match request {
            Request::SecretGet { delegate, key } => {
                Answer::Found(secrets.get(&(*delegate, key.clone())).cloned())
            }
            Request::SecretHas { delegate, key } => {
                if secrets.contains_key(&(*delegate, key.clone())) {
                    Answer::Done
                } else {
                    Answer::Refused
                }
            }
            Request::SecretSet {
                delegate,
                key,
                value,
            } => {
                secrets.insert((*delegate, key.clone()), value.clone());
                Answer::Done
            }
            Request::SecretRemove { delegate, key } => {
                secrets.remove(&(*delegate, key.clone()));
                Answer::Done
            }
            // No contract lives here: a read finds nothing, a write finds
            // no registered code, as on a node without the contract.
            Request::ContractGet { .. } => Answer::Found(None),
            Request::ContractPut { .. }
            | Request::ContractUpdate { .. }
            | Request::ContractSubscribe { .. } => Answer::Unregistered,
        }))
    }

    fn post(&self, request: Request, reply: Reply) -> Result<(), HostFailure> {
        let answer = self.answer_here(Site::Worker, &request);
        reply.send(answer.unwrap_or_else(|| Err(HostFailure::new("no answer"))));
        Ok(())
    }
}

/// Asks `store` on behalf of the guest calling through `caller`: here when
/// it can answer here, otherwise posted and awaited. `Err` stops the guest
/// (interrupted, or the store could not be reached).
pub(crate) fn ask(
    caller: &Caller<'_, HostState>,
    store: &dyn Store,
    request: Request,
) -> wasmtime::Result<Result<Answer, HostFailure>> {
    if let Some(answer) = store.answer_here(caller.data().site(), &request) {
        return Ok(answer);
    }
    let (sender, answer) = mpsc::channel();
    store
        .post(request, Reply(sender))
        .map_err(wasmtime::Error::new)?;
    match host::wait(caller, &answer) {
        Ok(Some(answer)) => Ok(answer),
        Ok(None) => Ok(Err(HostFailure::new(
            "the store dropped the request unanswered",
        ))),
        Err(interrupt) => Err(wasmtime::Error::new(interrupt)),
    }
}
