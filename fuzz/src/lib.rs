//! Fuzz checks for sixgate's parsers, one module per fuzz target.
//!
//! Each `check(data)` runs a parser over `data` and asserts what its
//! documentation promises — not only that it does not panic, but that a
//! prefix never contradicts the whole input, that the reported length is
//! honest, and that encoders round-trip. The fuzz targets in `fuzz_targets/`
//! call these functions; `tests/replay.rs` calls them on every file of the
//! checked-in corpus, so `cargo test` (on stable, without libFuzzer) catches
//! a regression on a known input.
//!
//! Every check is deterministic: the "random" cut point is a hash of the
//! input, so a crash found by the fuzzer replays exactly.

pub mod client_hello;
pub mod dns64_response;
pub mod http_head;
pub mod nat64_sequence;
pub mod proxy_header;
pub mod xlat;
pub mod xlat_4to6;
pub mod xlat_6to4;

/// A cut point in `0..=data.len()` derived from the bytes themselves
/// (FNV-1a), so a check can compare a prefix with the whole input and still
/// replay exactly.
pub fn cut_point(data: &[u8]) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let bound = u64::try_from(data.len())
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    usize::try_from(hash % bound).unwrap_or(data.len())
}
