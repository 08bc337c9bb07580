//! NAT64: IPv6-only nodes talking to IPv4 ones through a translator
//! (RFC 6144 framework).
//!
//! | layer | owns | standards |
//! |---|---|---|
//! | [`state`] | the stateful NAT64 over packet tuples: BIB and sessions, pool4 cut into per-customer (/64) port blocks with RFC 6056 keyed port choice, the TCP state machine with the probe and stored SYNs, timers, filtering, limits, log events | RFC 6146, RFC 6056, RFC 6888, RFC 5382, RFC 4787 |
//! | [`StateMapping`] | [`state::Nat64State`] as the translator's [`xlat::Mapping`]: forwarded packets through the state machine, quoted packets through read-only lookups | RFC 6146 §3.5, §3.5.3 |
//! | [`Nat64`] | the engine: `handle_v6(now, packet, out)`, `handle_v4`, `handle_timeout(now)`, `poll_timeout()`, `poll_transmit(out)` (probes, stored-SYN outcomes), `poll_event()`; hairpinning | RFC 6146 §3.8, §3.5.2.2 |
//! | [`frag`] | fragment reassembly before the stateful lookup, bounded in datagrams, bytes and time | RFC 6146 §3.4, RFC 791, RFC 8200 §4.5, RFC 5722 |
//! | [`shard`] | which shard of a sharded state (one engine per worker) owns a packet: IPv6 by the source /64, IPv4 by the pool4 port block | RFC 6146 §3.5 |
//! | [`xlat`] | stateless IP/ICMP translation of one packet: header fields, fragments, ICMP tables, checksums, MTU; addresses and ports come from a [`xlat::Mapping`] | RFC 7915, RFC 6052, RFC 4884, RFC 1191, RFC 8021 |
//!
mod engine;
pub mod frag;
mod mapping;
pub mod shard;
pub mod state;
pub mod xlat;

pub use engine::{Emit, Nat64, MAX_PENDING};
pub use mapping::StateMapping;

use std::hash::{BuildHasher, Hasher};

/// The splitmix64 finaliser, shared by the keyed hashes of this module.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The hash of the tables' keys: keyed by the caller's seed, so bucket
/// placement cannot be predicted from outside (the keys hold addresses and
/// ports any IPv4 node chooses), and no OS randomness is read (std's
/// `RandomState` would).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Keyed(u64);

impl Keyed {
    /// A hasher keyed by `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self(mix(seed))
    }
}

impl BuildHasher for Keyed {
    type Hasher = KeyedHasher;
    fn build_hasher(&self) -> KeyedHasher {
        KeyedHasher(self.0)
    }
}

/// A multiply-rotate hash over 8-byte words, finished by splitmix64.
pub(crate) struct KeyedHasher(u64);

impl Hasher for KeyedHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut a = [0u8; 8];
            a.copy_from_slice(w);
            self.mix(u64::from_le_bytes(a));
        }
        let mut a = [0u8; 8];
        let rest = words.remainder();
        if let Some(dst) = a.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
            self.mix(u64::from_le_bytes(a) ^ ((rest.len() as u64) << 59));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n) | 0x100);
    }
    fn write_u16(&mut self, n: u16) {
        self.mix(u64::from(n) | 0x1_0000);
    }
    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }
    fn finish(&self) -> u64 {
        mix(self.0)
    }
}

impl KeyedHasher {
    fn mix(&mut self, w: u64) {
        self.0 = (self.0 ^ w)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }
}
