//! `cargo fuzz run nat64_engine`: see [`sixgate_fuzz::nat64_engine::check`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sixgate_fuzz::nat64_engine::check(data));
