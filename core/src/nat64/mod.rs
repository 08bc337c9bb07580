//! NAT64: IPv6-only nodes talking to IPv4 ones through a translator
//! (RFC 6144 framework).
//!
//! | layer | owns | standards |
//! |---|---|---|
//! | [`state`] | the stateful NAT64: binding and session tables, the IPv4 pool (paired, port-preserving), the TCP state machine, lifetimes, filtering, limits, log events; implements [`xlat::Mapping`] | RFC 6146, RFC 4787, RFC 6888 |
//! | [`Nat64`] | the engine: `handle_v6(now, packet, out)`, `handle_v4`, `handle_timeout(now)`, `poll_timeout()`, `poll_event()`; hairpinning | RFC 6146 §3.8 |
//! | [`xlat`] | stateless IP/ICMP translation of one packet: header fields, fragments, ICMP tables, checksums, MTU; addresses and ports come from a [`xlat::Mapping`] | RFC 7915, RFC 6052, RFC 4884, RFC 1191, RFC 8021 |
//!
mod engine;
pub mod state;
pub mod xlat;

pub use engine::{Emit, Nat64};

/// The splitmix64 finaliser, shared by the keyed hashes of this module.
fn xlat_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
