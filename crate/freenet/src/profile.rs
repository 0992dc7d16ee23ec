//! The two freenet-core releases a runtime can behave as, and the choices
//! that go with them.
//!
//! Contracts run the same way under both: their interface, buffers and
//! encodings did not change between freenet-stdlib 0.6.0 and 0.12.1.
//! Delegates differ (see [`Abi`]).

use std::time::Duration;

/// Whose delegate ABI a runtime follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Abi {
    /// freenet-core 0.2.48 with freenet-stdlib 0.6.0: 15 delegate imports
    /// (the contract-writing ones included), eight inbound and eight
    /// outbound message variants, a fresh context for every `process`,
    /// one deadline for a whole `process` call.
    #[default]
    V0_2_48,
    /// freenet-core 0.2.154 with freenet-stdlib 0.12.1, the node the
    /// network runs: `list_secrets`, no contract-writing imports, the
    /// unsubscribe, wake-up and lifecycle variants, contexts kept between
    /// calls, every drain attested, the deadline re-armed per guest entry.
    V0_2_154,
}

impl Abi {
    /// Every profile, oldest first.
    pub const ALL: [Abi; 2] = [Abi::V0_2_48, Abi::V0_2_154];

    /// The profile named by `name` (`"0.2.48"` or `"0.2.154"`).
    pub fn parse(name: &str) -> Option<Abi> {
        Abi::ALL.into_iter().find(|abi| abi.name() == name)
    }

    /// The freenet-core release this profile follows, as `parse` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Abi::V0_2_48 => "0.2.48",
            Abi::V0_2_154 => "0.2.154",
        }
    }

    /// Whether this profile has the delegate behaviour freenet-core
    /// introduced after 0.2.48.
    pub(crate) fn is_current(self) -> bool {
        self == Abi::V0_2_154
    }
}

/// What `freenet_time.__frnt__time__utc_now` does for a contract under
/// [`Abi::V0_2_154`], which deprecates the host clock for contracts (it
/// breaks convergence between peers; a later node release traps it).
/// Delegates keep the clock in both profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClockPolicy {
    /// Answer, and log the node's deprecation warning once per code hash.
    #[default]
    Warn,
    /// Trap the contract that calls it (importing it without calling it
    /// still works), as the node's coming release will.
    Refuse,
}

impl ClockPolicy {
    /// The policy named `"warn"` or `"refuse"`.
    pub fn parse(name: &str) -> Option<ClockPolicy> {
        match name {
            "warn" => Some(ClockPolicy::Warn),
            "refuse" => Some(ClockPolicy::Refuse),
            _ => None,
        }
    }
}

/// How long freenet-core 0.2.154 keeps a delegate's context after its
/// last write (10 minutes).
pub const DEFAULT_CONTEXT_TTL: Duration = Duration::from_secs(10 * 60);

/// How a runtime behaves, besides its engine's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub abi: Abi,
    pub clock: ClockPolicy,
    /// How long a delegate context lives after its last write
    /// ([`Abi::V0_2_154`] only; the node's is [`DEFAULT_CONTEXT_TTL`]).
    pub context_ttl: Duration,
}

impl Default for Profile {
    fn default() -> Profile {
        Profile {
            abi: Abi::default(),
            clock: ClockPolicy::default(),
            context_ttl: DEFAULT_CONTEXT_TTL,
        }
    }
}
