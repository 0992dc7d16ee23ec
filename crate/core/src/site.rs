//! Where a guest entry runs, which decides how its host calls are answered.

/// Where the guest entry in progress runs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    /// A worker thread: host calls are posted to the host and awaited.
    #[default]
    Worker,
    /// The host's own thread: host calls run directly.
    Direct,
}
