//! Delegate contexts kept between `process` calls, as freenet-core 0.2.154
//! keeps them: per runtime, keyed by the delegate's key and the user the
//! call runs for (none unless the embedder names one, as on a node that
//! hosts no users), for a time-to-live counted from the last write.
//!
//! A call reads its delegate's entry once, before its first message, and
//! writes it once, after its last message succeeded; a failed call leaves
//! the entry as it was. An empty context deletes the entry; one of
//! [`MAX_CONTEXT_BYTES`](crate::delegate::MAX_CONTEXT_BYTES) or more is
//! dropped (and the entry deleted), with a log line saying so. Expired
//! entries are pruned at the start of each call. The entries together are
//! held under a byte budget ([`BUDGET_BYTES`], each charged its length
//! plus [`ENTRY_OVERHEAD_BYTES`]); past it the oldest writes go first,
//! down to seven eighths of the budget, as the node evicts.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::wire::DelegateKey;

/// The most bytes the contexts of one runtime hold: the node's upper
/// bound for its own cache (32 MiB).
pub const BUDGET_BYTES: usize = 32 << 20;

/// What each entry costs on top of its bytes, for the budget (the node's
/// figure).
pub const ENTRY_OVERHEAD_BYTES: usize = 512;

/// Who a context belongs to: a delegate, and the user it runs for.
type Owner = (DelegateKey, Option<Vec<u8>>);

struct Entry {
    bytes: Vec<u8>,
    written: Instant,
    /// Write order, for eviction.
    sequence: u64,
}

/// The contexts of one runtime's delegates.
pub struct Contexts {
    ttl: Duration,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Owner, Entry>,
    charged: usize,
    next_sequence: u64,
}

fn cost(bytes: &[u8]) -> usize {
    bytes.len() + ENTRY_OVERHEAD_BYTES
}

impl Inner {
    fn remove(&mut self, owner: &Owner) {
        if let Some(entry) = self.entries.remove(owner) {
            self.charged -= cost(&entry.bytes);
        }
    }
}

impl Contexts {
    /// No contexts; each lives `ttl` after its last write.
    pub fn new(ttl: Duration) -> Contexts {
        Contexts {
            ttl,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Drops the entries whose time is up, then returns the context of
    /// `delegate` for `user` (empty when there is none). Costs a scan of
    /// the entries.
    pub(crate) fn begin(&self, delegate: &DelegateKey, user: Option<&[u8]>) -> Vec<u8> {
        let now = Instant::now();
        let mut inner = self.inner.lock();
        let expired: Vec<Owner> = inner
            .entries
            .iter()
            .filter(|(_, entry)| now.duration_since(entry.written) >= self.ttl)
            .map(|(owner, _)| owner.clone())
            .collect();
        for owner in &expired {
            inner.remove(owner);
        }
        inner
            .entries
            .get(&(*delegate, user.map(<[u8]>::to_vec)))
            .map(|entry| entry.bytes.clone())
            .unwrap_or_default()
    }

    /// Keeps `context` as the context of `delegate` for `user`: an empty
    /// one deletes the entry; `Err` with its size when it is too large to
    /// keep (the entry is deleted then too).
    pub(crate) fn store(
        &self,
        delegate: &DelegateKey,
        user: Option<&[u8]>,
        context: Vec<u8>,
    ) -> Result<(), usize> {
        let owner = (*delegate, user.map(<[u8]>::to_vec));
        let mut inner = self.inner.lock();
        inner.remove(&owner);
        if context.is_empty() {
            return Ok(());
        }
        if context.len() >= crate::delegate::MAX_CONTEXT_BYTES {
            return Err(context.len());
        }
        inner.charged += cost(&context);
        let sequence = inner.next_sequence;
        inner.next_sequence += 1;
        inner.entries.insert(
            owner,
            Entry {
                bytes: context,
                written: Instant::now(),
                sequence,
            },
        );
        if inner.charged > BUDGET_BYTES {
            let target = BUDGET_BYTES - BUDGET_BYTES / 8;
            let mut by_age: Vec<(u64, Owner)> = inner
                .entries
                .iter()
                .map(|(owner, entry)| (entry.sequence, owner.clone()))
                .collect();
            by_age.sort_unstable_by_key(|(sequence, _)| *sequence);
            for (_, owner) in by_age {
                if inner.charged <= target {
                    break;
                }
                inner.remove(&owner);
            }
        }
        Ok(())
    }

    /// Forgets the contexts of `delegate` (every user's), or all of them
    /// when `None`; returns how many entries went.
    pub fn clear(&self, delegate: Option<&DelegateKey>) -> usize {
        let mut inner = self.inner.lock();
        let doomed: Vec<Owner> = inner
            .entries
            .keys()
            .filter(|(key, _)| delegate.is_none_or(|d| d == key))
            .cloned()
            .collect();
        for owner in &doomed {
            inner.remove(owner);
        }
        doomed.len()
    }

    /// How many contexts are kept.
    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    /// Whether no context is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
