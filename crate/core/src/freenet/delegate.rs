//! Delegates: `process` over a list of inbound messages on one instance.

/// The state of the delegate being processed, which its host imports use.
pub(crate) struct DelegateEnv {}
