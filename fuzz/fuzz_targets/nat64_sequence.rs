//! `cargo fuzz run nat64_sequence`: see [`sixgate_fuzz::nat64_sequence::check`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sixgate_fuzz::nat64_sequence::check(data));
