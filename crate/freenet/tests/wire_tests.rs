//! `freenet::wire` against freenet-stdlib 0.6.0 itself: every value is built
//! with freenet-stdlib's own constructors and encoded with `bincode`, then
//! decoded into our type (every field checked), re-encoded by `wire::encode`
//! to the very same bytes, and, for most, read back by freenet-stdlib.
//! A few byte dumps from the ABI notes pin the layout independently of both.
//!
//! The checks are `stdlib_cases`, which `wire_0_12_tests.rs` runs against
//! 0.12.1 as well; 0.6.0 has nothing of its own to add.

mod common;
mod stdlib_cases;

use freenet_stdlib::prelude as fs;
use wasm_engine_freenet::wire;

/// 0.6.0's `InboundDelegateMsg` and `OutboundDelegateMsg` have the eight
/// variants each `stdlib_cases` builds, and no more.
const INBOUND_VARIANTS: usize = 8;
const OUTBOUND_VARIANTS: usize = 8;

fn extra_inbound() -> Vec<(fs::InboundDelegateMsg<'static>, wire::InboundDelegateMsg)> {
    Vec::new()
}

fn extra_outbound() -> Vec<(fs::OutboundDelegateMsg, wire::OutboundDelegateMsg)> {
    Vec::new()
}
