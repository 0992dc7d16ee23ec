//! The stores a Freenet runtime asks on behalf of its delegates: secrets
//! (`freenet_delegate_secrets`) and contract states
//! (`freenet_delegate_contracts`), in memory or in the embedder's hands.
//!
//! A store answers on the guest's own thread when it can ([`Store::answer_here`]:
//! memory always, an embedder on its own thread); otherwise the request is
//! posted to it and the guest's worker waits, stoppable by its deadline,
//! abort and close like any host call.

use std::collections::HashMap;

use parking_lot::Mutex;
use wasmtime::Caller;

use super::wire::{DelegateKey, Key};
use wasm_engine_core::HostState;
use wasm_engine_core::Site;
use wasm_engine_core::error::HostFailure;
use wasm_engine_core::request;

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
    /// The keys of `delegate`'s secrets that start with `prefix` (all of
    /// them for an empty prefix), answered as [`Answer::Keys`]
    /// (ABI 0.2.154's `list_secrets`).
    SecretList {
        delegate: DelegateKey,
        prefix: Vec<u8>,
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
    /// For `SecretList`: the keys, in the store's order (the node lists
    /// them in the order they were first set).
    Keys(Vec<Vec<u8>>),
}

/// Where an answer to a posted request goes.
pub type Reply = wasm_engine_core::request::Reply<Answer>;

/// A store of secrets or contract states.
pub trait Store: Send + Sync {
    /// The answer to `request`, given on this thread, which runs a guest
    /// entered from `site`; `None` when the request must be posted.
    fn answer_here(&self, site: Site, request: &Request) -> Option<Result<Answer, HostFailure>>;

    /// Hands `request` to the store's own thread; the answer comes through
    /// `reply`. `token` names the request for [`Store::abandon`].
    fn post(&self, token: u64, request: Request, reply: Reply) -> Result<(), HostFailure>;

    /// The guest that posted request `token` stopped waiting (deadline,
    /// abort, close): the store must not run the request if it has not
    /// started it.
    fn abandon(&self, token: u64);
}

/// The most bytes of secrets a [`MemoryStore`] holds (64 MiB); past it a
/// `set` fails, so a guest cannot grow the host's memory through secrets.
pub const MAX_MEMORY_SECRET_BYTES: usize = 64 << 20;

/// A secret's place: its delegate and its key.
type SecretId = (DelegateKey, Vec<u8>);

/// Secrets in this process's memory (at most [`MAX_MEMORY_SECRET_BYTES`]),
/// lost with it; no contract states.
#[derive(Default)]
pub struct MemoryStore {
    secrets: Mutex<Secrets>,
}

#[derive(Default)]
struct Secrets {
    /// Each secret's value and when its key was first set, for listing in
    /// that order.
    map: HashMap<SecretId, (u64, Vec<u8>)>,
    next: u64,
    /// Bytes of keys and values held.
    bytes: usize,
}

impl Store for MemoryStore {
    fn answer_here(&self, _site: Site, request: &Request) -> Option<Result<Answer, HostFailure>> {
        let mut secrets = self.secrets.lock();
        let Secrets { map, next, bytes } = &mut *secrets;
        Some(Ok(match request {
            Request::SecretGet { delegate, key } => {
                Answer::Found(map.get(&(*delegate, key.clone())).map(|(_, v)| v.clone()))
            }
            Request::SecretHas { delegate, key } => {
                if map.contains_key(&(*delegate, key.clone())) {
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
                let old = map.get(&(*delegate, key.clone()));
                let order = old.map_or(*next, |(order, _)| *order);
                let old = old.map_or(0, |(_, v)| key.len() + v.len());
                let total = *bytes - old + key.len() + value.len();
                if total > MAX_MEMORY_SECRET_BYTES {
                    return Some(Err(HostFailure::new(format!(
                        "the in-memory secret store is full: it holds at most \
                         {MAX_MEMORY_SECRET_BYTES} bytes (give the runtime a secret store)"
                    ))));
                }
                *bytes = total;
                if order == *next {
                    *next += 1;
                }
                map.insert((*delegate, key.clone()), (order, value.clone()));
                Answer::Done
            }
            Request::SecretRemove { delegate, key } => {
                if let Some((_, value)) = map.remove(&(*delegate, key.clone())) {
                    *bytes -= key.len() + value.len();
                }
                Answer::Done
            }
            Request::SecretList { delegate, prefix } => {
                let mut keys: Vec<(u64, Vec<u8>)> = map
                    .iter()
                    .filter(|((owner, key), _)| owner == delegate && key.starts_with(prefix))
                    .map(|((_, key), (order, _))| (*order, key.clone()))
                    .collect();
                keys.sort_unstable_by_key(|(order, _)| *order);
                Answer::Keys(keys.into_iter().map(|(_, key)| key).collect())
            }
            // No contract lives here: a read finds nothing, a write finds
            // no registered code, as on a node without the contract.
            Request::ContractGet { .. } => Answer::Found(None),
            Request::ContractPut { .. }
            | Request::ContractUpdate { .. }
            | Request::ContractSubscribe { .. } => Answer::Unregistered,
        }))
    }

    fn post(&self, _token: u64, request: Request, reply: Reply) -> Result<(), HostFailure> {
        if let Some(answer) = self.answer_here(Site::Worker, &request) {
            reply.send(answer);
        }
        Ok(())
    }

    fn abandon(&self, _token: u64) {}
}

/// Asks `store` on behalf of the guest calling through `caller`: here when
/// it can answer here, otherwise posted and awaited. A store that cannot
/// be reached is a failed answer; `Err` stops the guest (it was
/// interrupted while it waited).
pub(crate) fn ask(
    caller: &Caller<'_, HostState>,
    store: &dyn Store,
    request: Request,
) -> wasmtime::Result<Result<Answer, HostFailure>> {
    if let Some(answer) = store.answer_here(caller.data().site(), &request) {
        return Ok(answer);
    }
    let token = request::token();
    request::ask(
        caller.data(),
        "the store request",
        |reply| store.post(token, request, reply),
        || store.abandon(token),
    )
    .map_err(wasmtime::Error::new)
}
